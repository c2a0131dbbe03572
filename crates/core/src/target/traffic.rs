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
use super::statistics::IpFamily;
use super::Target;
use crate::model::TcpDelegated;

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
    fn delegated_mut(&mut self, context: u32, snapshot: &TcpDelegated) -> &mut TcpDelegated {
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

    /// A connection is held back when it, its path or its neighbor is invalid.
    pub(crate) fn tcp_held_back(&self, context: u32) -> bool {
        let tcp = self.tcp(context);
        let path = self.path(tcp.path);
        tcp.invalid || path.invalid || self.neighbor(path.neighbor).invalid
    }

    /// Buffers received bytes and advances the receive sequence (mod 2^32); `snapshot` is the
    /// host's copy of the delegated state. A received segment (even an empty one: an ACK) is
    /// forward progress: the connection's neighbor's NicReachabilityDelta restarts at zero
    /// (making-a-neighborreachabilityquery-indication.md). The segments count in the
    /// statistics of `family`, cut at the path's `mss`.
    pub(crate) fn receive(
        &mut self,
        context: u32,
        data: &[u8],
        snapshot: &TcpDelegated,
        (family, mss): (IpFamily, u32),
    ) {
        let path = self.tcp(context).path;
        let neighbor = self.path(path).neighbor;
        self.neighbor_mut(neighbor).nic_reachability_delta = 0;
        let n = data.len();
        if n > 0 {
            self.received
                .entry(context)
                .or_default()
                .extend_from_slice(data);
        }
        let d = self.delegated_mut(context, snapshot);
        // Sequence space is 32 bits: truncation is the wrap the protocol defines.
        d.rcv_nxt = d.rcv_nxt.wrapping_add(n as u32);
        d.rcv_wnd -= d.rcv_wnd.min(n.min(u32::MAX as usize) as u32);
        self.counters.bytes_received += n as u64;
        self.counters.bytes_buffered += n as u64;
        self.offload_stats[family.index()].count_received(family, n, mss);
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
        if self.tcp(context).upload_requested {
            self.counters.bytes_upload_in_progress += u64::from(nbytes);
            return 0;
        }
        let d = self.delegated_mut(context, snapshot);
        d.snd_nxt = d.snd_nxt.wrapping_add(nbytes);
        let ahead = d.snd_nxt.wrapping_sub(d.snd_max);
        if (1..(1u32 << 31)).contains(&ahead) {
            d.snd_max = d.snd_nxt;
        }
        d.send_backlog_size = d.snd_nxt.wrapping_sub(d.snd_una);
        self.counters.bytes_sent += u64::from(nbytes);
        self.offload_stats[family.index()].count_sent(family, nbytes, mss);
        nbytes
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
        target.receive(t, b"abc", &snapshot, WIRE);
        target.receive(t, b"de", &snapshot, WIRE);
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
            } => {
                assert_eq!(received, b"abcde");
                assert_eq!(delegated, Some(live));
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
}
