//! Traffic on offloaded connections: the target buffers what it receives and advances the
//! receive and send sequences of the connection's delegated state (docs/DESIGN.md §8,
//! "Traffic").
//!
//! A connection's delegated state is stored copy-on-write. While offloaded, the host's copy
//! is frozen at the values it handed over (only terminate changes it), so the target's live
//! state equals that snapshot until traffic changes it. The target stores its own copy only
//! from that first change on (`TargetTcp::diverged`); offloading a million connections then
//! copies no state, and memory holds each value once. Cached variables are the host's to
//! change and the target only reads them, so it keeps no copy of them either.

use super::contexts::NOT_DIVERGED;
use super::sends::Acknowledged;
use super::statistics::IpFamily;
use super::{ReceiveRequests, Target};
use crate::model::{ConnectionState, TcpDelegated};

impl Target {
    /// The live delegated state of connection `context`; `snapshot` is the host's copy.
    #[cfg(test)]
    pub(crate) fn delegated<'a>(
        &'a self,
        context: u32,
        snapshot: &'a TcpDelegated,
    ) -> &'a TcpDelegated {
        self.live_delegated(context).unwrap_or(snapshot)
    }

    /// The target's own copy of the delegated state, once traffic changed it; None while
    /// the live state is the host's snapshot.
    pub(crate) fn live_delegated(&self, context: u32) -> Option<&TcpDelegated> {
        match self.tcp(context).diverged {
            NOT_DIVERGED => None,
            slot => Some(self.diverged.get_slot(slot).expect("live diverged state")),
        }
    }

    /// The live delegated state for writing: copied from `snapshot` on the first change.
    pub(crate) fn delegated_mut(
        &mut self,
        context: u32,
        snapshot: &TcpDelegated,
    ) -> &mut TcpDelegated {
        let slot = match self.tcp(context).diverged {
            NOT_DIVERGED => {
                let slot = self.diverged.insert(*snapshot).0;
                self.tcp_mut(context).diverged = slot;
                slot
            }
            slot => slot,
        };
        self.diverged
            .get_slot_mut(slot)
            .expect("live diverged state")
    }

    /// A segment arrived on connection `context`: forward progress, so its neighbor's
    /// NicReachabilityDelta restarts at zero (NDIS "Making a NeighborReachabilityQuery
    /// Indication").
    fn forward_progress(&mut self, context: u32) {
        let path = self.tcp(context).path;
        let neighbor = self.path(path).neighbor;
        self.neighbor_mut(neighbor).nic_reachability_delta = 0;
    }

    /// A connection is held back when it, its path or its neighbor is invalid.
    pub(crate) fn tcp_held_back(&self, context: u32) -> bool {
        let tcp = self.tcp(context);
        let path = self.path(tcp.path);
        tcp.invalid || path.invalid || self.neighbor(path.neighbor).invalid
    }

    /// Buffers received bytes and advances the receive sequence (mod 2^32); `snapshot` is the
    /// host's copy of the delegated state. A received segment (even an empty one: an ACK) is
    /// forward progress: the connection's neighbor's NicReachabilityDelta restarts at zero
    /// (NDIS "Making a NeighborReachabilityQuery Indication"). The segments count in the
    /// statistics of `family`, cut at the path's `mss`. `take_indicated`: the host takes
    /// what the target indicates (an application is reading), so nothing is buffered.
    pub(crate) fn receive(
        &mut self,
        context: u32,
        data: &[u8],
        snapshot: &TcpDelegated,
        (family, mss): (IpFamily, u32),
        (psh, take_indicated, max_window): (bool, bool, u32),
    ) -> Vec<u8> {
        self.forward_progress(context);
        let n = data.len();
        // Posted requests take the data first (NDIS "Delivery Algorithm"); the rest is
        // indicated, which the host does not take (no application reads it), so the target
        // buffers it.
        let mut completed = Vec::new();
        let (mut placed, mut before, mut after) = (0, 0, 0);
        // No hashing while no connection has a request posted (the common case).
        let posted = match self.posted.is_empty() {
            true => None,
            false => self.posted.get_mut(&context),
        };
        if let Some(requests) = posted {
            before = requests.placed();
            placed = requests.fill(data, &mut completed);
            requests.settle_push(psh, placed > 0, self.clock.push_timer(), &mut completed);
            after = requests.placed();
            if requests.is_empty() {
                self.posted.remove(&context);
            }
        }
        let mut rest = &data[placed..];
        if take_indicated {
            // The target indicates what it holds before anything new, and the host takes
            // both: the buffer empties and the window it held reopens.
            if let Some(held) = self.received.remove(&context) {
                completed.extend_from_slice(&held);
                self.counters.bytes_buffered -= held.len() as u64;
                // Reopened by what the host took, up to InitialRcvWnd as a post does.
                let d = self.delegated_mut(context, snapshot);
                let opened = u32::try_from(held.len()).unwrap_or(u32::MAX);
                d.rcv_wnd = d
                    .rcv_wnd
                    .saturating_add(opened)
                    .min(max_window.max(d.rcv_wnd));
            }
            completed.extend_from_slice(rest);
            rest = &[];
        }
        if !rest.is_empty() {
            self.received
                .entry(context)
                .or_default()
                .extend_from_slice(rest);
        }
        let d = self.delegated_mut(context, snapshot);
        // Sequence space is 32 bits: truncation is the wrap the protocol defines.
        d.rcv_nxt = d.rcv_nxt.wrapping_add(n as u32);
        // Only what the target keeps narrows the window: posted buffers are the host's.
        d.rcv_wnd -= d.rcv_wnd.min(rest.len().min(u32::MAX as usize) as u32);
        self.counters.bytes_received += n as u64;
        self.counters.bytes_buffered += rest.len() as u64;
        self.counters.bytes_placed += after as u64;
        self.counters.bytes_placed -= before as u64;
        self.offload_stats[family.index()].count_received(family, n, mss);
        completed
    }

    /// A segment arrived on connection `context` while its I/O is stopped (its upload under
    /// way): the target does not process it but indicates it on the non-offload path
    /// (NDIS "Handling Segments Received During a Terminate Offload Operation").
    pub(crate) fn indicate_non_offload(&mut self, context: u32, data: &[u8]) {
        self.counters.bytes_received += data.len() as u64;
        self.counters.bytes_non_offload += data.len() as u64;
        if !data.is_empty() {
            self.non_offload
                .entry(context)
                .or_default()
                .extend_from_slice(data);
        }
    }

    /// The bytes held for the host on connection `context`, taken back (received again:
    /// the caller processes them).
    pub(crate) fn take_non_offload(&mut self, context: u32) -> Vec<u8> {
        let bytes = self.non_offload.remove(&context).unwrap_or_default();
        self.counters.bytes_non_offload -= bytes.len() as u64;
        self.counters.bytes_received -= bytes.len() as u64;
        bytes
    }

    /// Whether a segment of `data` on connection `context` fits what the target takes: what
    /// the posted requests cannot hold must fit the receive window (RcvWnd), unless the host
    /// takes indicated data. A segment that does not fit is dropped whole, unacknowledged
    /// (the peer sends it again), and counted.
    pub(crate) fn fits_window(
        &mut self,
        context: u32,
        len: usize,
        snapshot: &TcpDelegated,
        take_indicated: bool,
    ) -> bool {
        if take_indicated {
            return true;
        }
        let room = match self.posted.is_empty() {
            true => 0,
            false => self.posted.get(&context).map_or(0, ReceiveRequests::room),
        };
        let window = self.live(context, snapshot).rcv_wnd as usize;
        if len.saturating_sub(room) <= window {
            return true;
        }
        self.counters.bytes_beyond_window += len as u64;
        false
    }

    /// Nothing was received on connection `context`, and no receive request posted, since
    /// its offload: the host may still hand it its BufferedData.
    pub(crate) fn fresh_receive_side(&self, context: u32) -> bool {
        !self.received.contains_key(&context) && !self.posted.contains_key(&context)
    }

    /// The host's BufferedData for connection `context` (which `fresh_receive_side`): kept
    /// as buffered data, to go into the first receive requests posted.
    pub(crate) fn hand_over(&mut self, context: u32, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.received.insert(context, data.to_vec());
        self.counters.bytes_buffered += data.len() as u64;
        self.counters.bytes_handed_over += data.len() as u64;
    }

    /// The push timers that expired by now: the oldest request of each such connection
    /// completes with what it holds. The connections with those bytes, in no given order.
    /// A connection whose I/O is stopped (its upload under way) waits, as its other timers.
    pub(crate) fn expire_push_timers(&mut self) -> Vec<(u32, Vec<u8>)> {
        let now = self.clock.now;
        let due: Vec<u32> = self
            .posted
            .iter()
            .filter(|(_, r)| r.push_deadline().is_some_and(|d| d <= now))
            .map(|(&context, _)| context)
            .filter(|&context| !self.io_stopped(context))
            .collect();
        let mut done = Vec::new();
        for context in due {
            let requests = self.posted.get_mut(&context).expect("listed above");
            let mut completed = Vec::new();
            if requests.expire_push(now, &mut completed) {
                if requests.is_empty() {
                    self.posted.remove(&context);
                }
                self.counters.bytes_placed -= completed.len() as u64;
                done.push((context, completed));
            }
        }
        done
    }

    /// Posts a receive request of `size` bytes on connection `context`. Buffered data goes
    /// into it first: the bytes it moves reopen the receive window (up to `max_window`, the
    /// connection's InitialRcvWnd). Returns the bytes of the requests this completed.
    pub(crate) fn post_receive(
        &mut self,
        context: u32,
        (size, push): (u32, bool),
        snapshot: &TcpDelegated,
        max_window: u32,
    ) -> Vec<u8> {
        let push_timer = self.clock.push_timer();
        let requests = self.posted.entry(context).or_default();
        requests.post(size, push);
        let mut completed = Vec::new();
        let Some(buffered) = self.received.remove(&context) else {
            return completed;
        };
        let before = requests.placed();
        let taken = requests.fill(&buffered, &mut completed);
        requests.settle_push(false, taken > 0, push_timer, &mut completed);
        let placed_now = requests.placed();
        if requests.is_empty() {
            self.posted.remove(&context);
        }
        if taken < buffered.len() {
            self.received.insert(context, buffered[taken..].to_vec());
        }
        self.counters.bytes_buffered -= taken as u64;
        self.counters.bytes_placed += placed_now as u64;
        self.counters.bytes_placed -= before as u64;
        let d = self.delegated_mut(context, snapshot);
        let opened = u32::try_from(taken).unwrap_or(u32::MAX);
        d.rcv_wnd = d
            .rcv_wnd
            .saturating_add(opened)
            .min(max_window.max(d.rcv_wnd));
        completed
    }

    /// The peer's FIN on connection `context` (NDIS "Responding to the Reception of a FIN or
    /// RST Segment"): it takes one sequence number, closes the receive half (ESTABLISHED to
    /// CLOSE-WAIT, FIN-WAIT-1 to CLOSING, FIN-WAIT-2 to TIME-WAIT), and counts as a received
    /// segment. Returns whether TcpIndicateDisconnect may go now: only once the host has
    /// taken every byte received before the FIN; else it waits (`fin_pending`). The caller
    /// checked the state (`fin_next_state`).
    pub(crate) fn peer_fin(
        &mut self,
        context: u32,
        next: u8,
        snapshot: &TcpDelegated,
        (family, mss): (IpFamily, u32),
    ) -> bool {
        self.forward_progress(context);
        self.offload_stats[family.index()].count_received(family, 0, mss);
        let d = self.delegated_mut(context, snapshot);
        d.rcv_nxt = d.rcv_nxt.wrapping_add(1);
        d.state = next;
        let now = !self.received.contains_key(&context);
        self.tcp_mut(context).fin_pending = !now;
        now
    }

    /// Whether a FIN that waited for buffered data may be indicated now (and no longer
    /// waits): the buffer is empty.
    pub(crate) fn take_ready_fin(&mut self, context: u32) -> bool {
        if self.tcp(context).fin_pending && !self.received.contains_key(&context) {
            self.tcp_mut(context).fin_pending = false;
            return true;
        }
        false
    }

    /// The peer's acceptable RST on connection `context`: the connection is CLOSED, its
    /// outstanding sends complete with NDIS_STATUS_REQUEST_ABORTED (the host does not
    /// process their data, so it is dropped and counted), its receive requests complete with
    /// what was placed in them (returned for the host), and it counts as a received segment
    /// (and in ResetEstablished from ESTABLISHED or CLOSE-WAIT). Returns the bytes of the
    /// completed receive requests.
    pub(crate) fn peer_rst(
        &mut self,
        context: u32,
        snapshot: &TcpDelegated,
        (family, mss): (IpFamily, u32),
    ) -> Vec<u8> {
        self.forward_progress(context);
        self.offload_stats[family.index()].count_received(family, 0, mss);
        self.close_on_reset(context, snapshot, family)
    }

    /// What a reset, sent or received, does to connection `context`: CLOSED (counted in
    /// ResetEstablished from ESTABLISHED or CLOSE-WAIT), sends aborted, receive requests
    /// completed; returns their bytes.
    fn close_on_reset(
        &mut self,
        context: u32,
        snapshot: &TcpDelegated,
        family: IpFamily,
    ) -> Vec<u8> {
        let d = self.delegated_mut(context, snapshot);
        let was = d.state;
        d.state = ConnectionState::Closed as u8;
        if was == ConnectionState::Established as u8 || was == ConnectionState::CloseWait as u8 {
            let tcp = &mut self.offload_stats[family.index()].tcp;
            tcp.reset_established = tcp.reset_established.wrapping_add(1);
        }
        if let Some(queue) = self.sends.remove(&context) {
            let dropped = queue.into_bytes().len() as u64;
            self.counters.bytes_send_queued -= dropped;
            self.counters.bytes_send_aborted += dropped;
        }
        self.tcp_mut(context).fin_pending = false;
        let placed = match self.posted.remove(&context) {
            Some(requests) => requests.into_placed(),
            None => Vec::new(),
        };
        self.counters.bytes_placed -= placed.len() as u64;
        placed
    }

    /// Advances the send sequence by `nbytes` and returns it; or sends nothing and returns 0:
    /// on an invalid connection (the bytes are held back), or once the target has asked for the
    /// connection's upload for a mandatory reason (the send completes with
    /// NDIS_STATUS_UPLOAD_IN_PROGRESS). `snapshot` is the host's copy of the delegated state;
    /// what is sent counts in the statistics of `family`, in segments of at most `mss` bytes.
    pub(crate) fn send(
        &mut self,
        context: u32,
        nbytes: u32,
        snapshot: &TcpDelegated,
        (family, mss): (IpFamily, u32),
    ) -> u32 {
        if self.tcp_held_back(context) {
            self.counters.bytes_held_back += u64::from(nbytes);
            return 0;
        }
        if self.io_stopped(context) {
            self.counters.bytes_upload_in_progress += u64::from(nbytes);
            return 0;
        }
        if let Some(queue) = self.sends.get_mut(&context) {
            queue.transmit_opaque(nbytes);
        }
        self.transmit_bytes(context, nbytes, snapshot, (family, mss));
        nbytes
    }

    /// `n` bytes go out: SndNxt (and SndMax when passed) advance, and they count as sent.
    fn transmit_bytes(
        &mut self,
        context: u32,
        n: u32,
        snapshot: &TcpDelegated,
        (family, mss): (IpFamily, u32),
    ) {
        advance_snd_nxt(self.delegated_mut(context, snapshot), n);
        self.counters.bytes_sent += u64::from(n);
        self.offload_stats[family.index()].count_sent(family, n, mss);
    }

    /// The live delegated state of connection `context` (`snapshot` until traffic changed it).
    fn live<'a>(&'a self, context: u32, snapshot: &'a TcpDelegated) -> &'a TcpDelegated {
        self.live_delegated(context).unwrap_or(snapshot)
    }

    /// Bytes in flight on connection `context`: SndNxt - SndUna (mod 2^32).
    pub(crate) fn in_flight(&self, context: u32, snapshot: &TcpDelegated) -> u32 {
        let d = self.live(context, snapshot);
        d.snd_nxt.wrapping_sub(d.snd_una)
    }

    /// Queues a send request of `data` and transmits what the send window allows; returns
    /// the bytes transmitted now. Every byte stays queued until acknowledged or uploaded.
    pub(crate) fn post(
        &mut self,
        context: u32,
        data: &[u8],
        snapshot: &TcpDelegated,
        wire: (IpFamily, u32),
    ) -> u32 {
        if data.is_empty() {
            return 0;
        }
        self.sends.entry(context).or_default().post(data);
        self.counters.bytes_send_queued += data.len() as u64;
        self.transmit(context, snapshot, wire)
    }

    /// Transmits queued bytes of connection `context` within its send window (SndWnd less
    /// the bytes in flight), unless the target holds the connection's I/O back: it is
    /// invalid, or its upload was asked for a mandatory reason. Returns the bytes sent.
    /// A FIN the host asked for goes after the last posted byte (it takes no window).
    pub(crate) fn transmit_waiting(
        &mut self,
        context: u32,
        snapshot: &TcpDelegated,
        wire: (IpFamily, u32),
    ) -> u32 {
        self.transmit(context, snapshot, wire)
    }

    fn transmit(&mut self, context: u32, snapshot: &TcpDelegated, wire: (IpFamily, u32)) -> u32 {
        let Some(queue) = self.sends.get(&context) else {
            return 0;
        };
        let idle = queue.unsent() == 0 && !queue.fin_outstanding();
        if idle || self.tcp_held_back(context) || self.io_stopped(context) {
            return 0;
        }
        let d = self.live(context, snapshot);
        let window = d.snd_wnd.saturating_sub(d.snd_nxt.wrapping_sub(d.snd_una));
        let queue = self.sends.get_mut(&context).expect("checked above");
        let n = queue.transmit(window);
        if n > 0 {
            self.transmit_bytes(context, n, snapshot, wire);
        }
        let queue = self.sends.get_mut(&context).expect("checked above");
        if queue.transmit_fin() {
            let (family, _) = wire;
            advance_snd_nxt(self.delegated_mut(context, snapshot), 1);
            self.offload_stats[family.index()].count_sent_bare(family, false);
        }
        n
    }

    /// The host's graceful disconnect (NDIS "Responding to a Disconnect Request"): the
    /// connection moves to `next` (FIN-WAIT-1 or LAST-ACK) and a FIN follows every posted
    /// byte, sent as soon as they have all gone.
    pub(crate) fn disconnect(
        &mut self,
        context: u32,
        next: u8,
        snapshot: &TcpDelegated,
        wire: (IpFamily, u32),
    ) {
        self.delegated_mut(context, snapshot).state = next;
        self.sends.entry(context).or_default().queue_fin();
        self.transmit(context, snapshot, wire);
    }

    /// The host's abortive disconnect: an RST goes out, the connection is CLOSED, its
    /// outstanding sends complete with REQUEST_ABORTED (their data dropped and counted), and
    /// its receive requests complete with what was placed in them (returned for the host).
    pub(crate) fn reset(
        &mut self,
        context: u32,
        snapshot: &TcpDelegated,
        (family, _): (IpFamily, u32),
    ) -> Vec<u8> {
        self.offload_stats[family.index()].count_sent_bare(family, true);
        self.close_on_reset(context, snapshot, family)
    }

    /// The peer acknowledges `n` more bytes of connection `context` (at most the bytes in
    /// flight, as the caller checked): SndUna advances, the posted bytes it covers leave the
    /// queue, and the window it opens lets waiting bytes out. An ACK is a received segment,
    /// so forward progress for the neighbor, and counts in the statistics (`wire_in`).
    /// Returns what it acknowledged: requests completed, and whether it covered the FIN.
    pub(crate) fn acknowledge(
        &mut self,
        context: u32,
        n: u32,
        snapshot: &TcpDelegated,
        window: Option<u32>,
        wire_in: (IpFamily, u32),
        wire_out: (IpFamily, u32),
    ) -> (Acknowledged, Option<u32>) {
        let in_flight = self.in_flight(context, snapshot);
        debug_assert!(n <= in_flight, "checked by the engine");
        self.forward_progress(context);
        let (family, mss) = wire_in;
        self.offload_stats[family.index()].count_received(family, 0, mss);
        let d = self.delegated_mut(context, snapshot);
        d.snd_una = d.snd_una.wrapping_add(n);
        let mut done = Acknowledged::default();
        if let Some(queue) = self.sends.get_mut(&context) {
            done = queue.acknowledge(n, in_flight);
            self.counters.bytes_acknowledged += done.bytes;
            self.counters.bytes_send_queued -= done.bytes;
            if queue.is_empty() {
                self.sends.remove(&context);
            }
        }
        if done.fin {
            // The host's FIN is acknowledged: its disconnect completes
            // (NdisTcpOffloadDisconnectComplete), and the state moves on (RFC 793).
            let d = self.delegated_mut(context, snapshot);
            let after = match ConnectionState::from_u8(d.state) {
                Some(ConnectionState::FinWait1) => ConnectionState::FinWait2 as u8,
                Some(ConnectionState::Closing) => ConnectionState::TimeWait as u8,
                Some(ConnectionState::LastAck) => ConnectionState::Closed as u8,
                _ => d.state,
            };
            d.state = after;
        }
        let backlog = window.and_then(|w| self.advertise(context, w, snapshot, wire_out.1));
        self.transmit(context, snapshot, wire_out);
        (done, backlog)
    }

    /// The peer advertises a send window of `window` bytes (SndWnd; MaxSndWnd keeps the
    /// largest). The preferred send backlog follows the DDI's example, the smaller of the
    /// bandwidth-delay product (Cwnd stands for it) and the advertised window; it does not
    /// depend on what is posted. Throttled so that small changes raise no storm of
    /// indications: SendBacklogSize moves, and the new size is returned for
    /// TcpIndicateSendBacklogChange, only when it differs from the last by at least a
    /// quarter of that and at least one segment (`mss`).
    fn advertise(
        &mut self,
        context: u32,
        window: u32,
        snapshot: &TcpDelegated,
        mss: u32,
    ) -> Option<u32> {
        let d = self.delegated_mut(context, snapshot);
        d.snd_wnd = window;
        d.max_snd_wnd = d.max_snd_wnd.max(window);
        let preferred = d.cwnd.min(window);
        let last = d.send_backlog_size;
        if preferred.abs_diff(last) < (last / 4).max(mss) {
            return None;
        }
        d.send_backlog_size = preferred;
        Some(preferred)
    }
}

/// `n` sequence numbers go out: SndNxt advances (mod 2^32), SndMax with it when passed (in
/// the half of the sequence space ahead of it), and SendBacklogSize follows.
fn advance_snd_nxt(d: &mut TcpDelegated, n: u32) {
    d.snd_nxt = d.snd_nxt.wrapping_add(n);
    let ahead = d.snd_nxt.wrapping_sub(d.snd_max);
    if (1..(1u32 << 31)).contains(&ahead) {
        d.snd_max = d.snd_nxt;
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::tcp_target;
    use super::super::Upload;
    use super::IpFamily;
    use crate::model::{Layer, TcpDelegated};

    const WIRE: (IpFamily, u32) = (IpFamily::V4, 1460);

    #[test]
    fn receive_buffers_and_wraps_sequence() {
        let (mut target, t) = tcp_target();
        let snapshot = TcpDelegated {
            rcv_nxt: u32::MAX - 1,
            ..TcpDelegated::default()
        };
        // Nothing is copied until the state changes.
        assert_eq!(target.tcp(t).diverged, super::NOT_DIVERGED);
        assert!(std::ptr::eq(target.delegated(t, &snapshot), &snapshot));
        assert!(target
            .receive(t, b"abc", &snapshot, WIRE, (false, false, 0))
            .is_empty());
        assert!(target
            .receive(t, b"de", &snapshot, WIRE, (false, false, 0))
            .is_empty());
        assert_eq!(target.received[&t], b"abcde");
        let live = *target.delegated(t, &snapshot);
        assert_eq!(live.rcv_nxt, 3);
        assert_eq!(live.rcv_wnd, 65530);
        assert_eq!(
            snapshot.rcv_nxt,
            u32::MAX - 1,
            "the host's snapshot is untouched"
        );
        assert_eq!(target.diverged.len(), 1);
        match target.upload(Layer::Tcp, t) {
            Upload::Tcp {
                delegated,
                received,
                send_data,
                placed,
                ..
            } => {
                assert!(placed.is_empty());
                assert_eq!(received, b"abcde");
                assert_eq!(delegated, Some(live));
                assert!(send_data.is_empty());
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(target.counters.bytes_buffered, 0);
        assert!(target.diverged.is_empty(), "upload frees the diverged copy");
    }

    #[test]
    fn send_is_held_back_when_an_ancestor_is_invalid() {
        let (mut target, t) = tcp_target();
        let snapshot = TcpDelegated::default();
        assert_eq!(target.send(t, 100, &snapshot, WIRE), 100);
        let path = target.tcp(t).path;
        let neighbor = target.path(path).neighbor;
        target.set_invalid(Layer::Neighbor, neighbor, true);
        assert_eq!(target.send(t, 50, &snapshot, WIRE), 0);
        assert_eq!(target.counters.bytes_held_back, 50);
        assert_eq!(target.delegated(t, &snapshot).snd_nxt, 100);
        assert_eq!(target.delegated(t, &snapshot).snd_max, 100);
    }

    #[test]
    fn sends_after_a_mandatory_upload_request_are_not_processed() {
        let (mut target, t) = tcp_target();
        let snapshot = TcpDelegated::default();
        target.tcp_mut(t).upload_requested = true;
        assert_eq!(target.send(t, 70, &snapshot, WIRE), 0);
        assert_eq!(target.counters.bytes_upload_in_progress, 70);
        assert_eq!(target.counters.bytes_sent, 0);
        assert_eq!(target.delegated(t, &snapshot).snd_nxt, 0);
    }

    #[test]
    fn posted_data_goes_out_within_the_window_and_comes_back_unacknowledged() {
        let (mut target, t) = tcp_target();
        let snapshot = TcpDelegated {
            snd_wnd: 4,
            ..TcpDelegated::default()
        };
        assert_eq!(target.post(t, b"abcdef", &snapshot, WIRE), 4);
        assert_eq!(target.counters.bytes_send_queued, 6);
        assert_eq!(target.in_flight(t, &snapshot), 4);
        // Acknowledging 3 completes nothing (the request has 6 bytes) and lets 2 more out.
        let (done, backlog) = target.acknowledge(t, 3, &snapshot, None, WIRE, WIRE);
        assert_eq!(backlog, None);
        assert_eq!((done.requests, done.fin), (0, false));
        let live = *target.delegated(t, &snapshot);
        assert_eq!((live.snd_una, live.snd_nxt, live.snd_max), (3, 6, 6));
        assert_eq!(target.counters.bytes_acknowledged, 3);
        assert_eq!(
            target.post(t, b"gh", &snapshot, WIRE),
            1,
            "window 4, 3 in flight"
        );
        match target.upload(Layer::Tcp, t) {
            Upload::Tcp { send_data, .. } => assert_eq!(send_data, b"defgh"),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(target.counters.bytes_send_queued, 0);
        assert!(target.sends.is_empty());
    }

    #[test]
    fn held_back_data_waits_and_is_still_returned() {
        let (mut target, t) = tcp_target();
        let snapshot = TcpDelegated::default();
        target.tcp_mut(t).upload_requested = true;
        assert_eq!(target.post(t, b"xyz", &snapshot, WIRE), 0);
        assert_eq!(target.in_flight(t, &snapshot), 0);
        match target.upload(Layer::Tcp, t) {
            Upload::Tcp { send_data, .. } => assert_eq!(send_data, b"xyz"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
