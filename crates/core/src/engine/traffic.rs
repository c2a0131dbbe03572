//! Traffic the target handles on an offloaded connection: `target_receive` and
//! `target_send`; and the chimney statistics it keeps of that traffic per IP family,
//! `offload_stats` and `reset_offload_stats` (docs/DESIGN.md §8, "Traffic").

use super::Engine;
use crate::error;
use crate::host::NO_CONTEXT;
use crate::model::{
    check_range, check_u32, ConnectionState, EventKind, Handle, Layer, Result, Value,
};
use crate::target::{IpFamily, OffloadStats};

impl Engine {
    /// The target context of offloaded connection `raw`.
    pub(super) fn offloaded_tcp(&self, raw: u64, operation: &str) -> Result<u32> {
        let h = self.resolve_offloaded_one(raw, Layer::Tcp, "connection", operation)?;
        Ok(self.host.context(h))
    }

    /// The IP family of connection `h` and the MSS of its path: the largest payload a
    /// datagram of the path MTU carries.
    pub(super) fn wire(&self, h: Handle) -> (IpFamily, u32) {
        let path = self.host.path(self.host.tcp(h).path);
        let family = IpFamily::of(&path.state.source);
        (family, family.mss(path.state.path_mtu))
    }

    /// The target receives `data` on connection `raw`, in a segment with the PSH bit when
    /// `psh`: it fills the host's posted receive requests first (a push-mode request partly
    /// filled completes on PSH), and buffers the rest until a request is posted or a
    /// terminate.
    /// Returns the bytes taken: all of `data`, or 0 when what the posted requests cannot
    /// hold does not fit the receive window (the segment is dropped, unacknowledged).
    pub fn target_receive(&mut self, raw: u64, data: &[u8], psh: bool) -> Result<u32> {
        let context = self.offloaded_tcp(raw, "receive on it")?;
        Ok(self.apply_receive(Handle::from_raw(raw), context, data, psh))
    }

    /// `target_receive` once its checks passed; the bytes taken.
    pub(super) fn apply_receive(&mut self, h: Handle, context: u32, data: &[u8], psh: bool) -> u32 {
        if self.target.io_stopped(context) {
            self.target.indicate_non_offload(context, data);
            return data.len() as u32;
        }
        let snapshot = self.host.tcp_delegated(h);
        let take = self.policy.accept_indicated;
        if !self.target.fits_window(context, data.len(), snapshot, take) {
            return 0;
        }
        self.process_received(h, context, data, psh)
    }

    /// Received bytes the target takes (their window check passed, or they were taken
    /// before): into the requests, to the host, or into the buffer; the bytes taken.
    pub(super) fn process_received(
        &mut self,
        h: Handle,
        context: u32,
        data: &[u8],
        psh: bool,
    ) -> u32 {
        let take = self.policy.accept_indicated;
        let wire = self.wire(h);
        let max_window = self.host.tcp_cached(h).initial_rcv_wnd;
        let snapshot = self.host.tcp_delegated(h);
        let flags = (psh, take, max_window);
        let completed = self.target.receive(context, data, snapshot, wire, flags);
        self.timers_on_segment(h, context);
        self.deliver(h, completed);
        // A FIN that waited for the buffered data goes once the host has taken it all.
        if take && self.target.take_ready_fin(context) {
            self.indicate_close(h, EventKind::Disconnect);
        }
        data.len() as u32
    }

    /// The host forwards `data` to offloaded connection `raw` (MiniportTcpOffloadForward,
    /// NDIS "Forwarding Data to an Offload Target"): segments it received but did not
    /// acknowledge, on another interface or while the connection was being offloaded. The
    /// target processes them as segments it received itself.
    pub fn forward(&mut self, raw: u64, data: &[u8]) -> Result<u32> {
        let context = self.offloaded_tcp(raw, "forward data to it")?;
        Ok(self.apply_receive(Handle::from_raw(raw), context, data, false))
    }

    /// Received bytes reach the host's connection `h` (a receive request completed).
    pub(super) fn deliver(&mut self, h: Handle, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        self.counts.bytes_delivered += bytes.len() as u64;
        match self.delivered.entry(h.raw()) {
            std::collections::hash_map::Entry::Occupied(mut unread) => {
                unread.get_mut().extend_from_slice(&bytes)
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(bytes);
            }
        }
    }

    /// The host posts a receive request of `size` bytes (1..2^32-1) on offloaded connection
    /// `raw` (NDIS "Posting and Completing Receive Requests"). Buffered data fills it first.
    /// Returns the bytes of the requests this completed (now readable with `read`).
    /// In push mode (`push`) the request also completes partly filled on a segment with the
    /// PSH bit or when the push timer expires.
    pub fn post_receive(&mut self, raw: u64, size: &Value, push: bool) -> Result<u32> {
        let context = self.offloaded_tcp(raw, "post a receive request on it")?;
        let size = check_receive_size(size.to_int("size")?)?;
        Ok(self.apply_post_receive(Handle::from_raw(raw), context, (size, push)))
    }

    /// `post_receive` once its checks passed.
    pub(super) fn apply_post_receive(
        &mut self,
        h: Handle,
        context: u32,
        request: (u32, bool),
    ) -> u32 {
        let max_window = self.host.tcp_state(h).cached.initial_rcv_wnd;
        let snapshot = self.host.tcp_delegated(h);
        let completed = self
            .target
            .post_receive(context, request, snapshot, max_window);
        let n = completed.len() as u32;
        self.deliver(h, completed);
        // A FIN that waited for the buffered data goes once the host has taken it all.
        if self.target.take_ready_fin(context) {
            self.indicate_close(h, EventKind::Disconnect);
        }
        n
    }

    /// The bytes delivered to connection `raw` that the application has not read, in
    /// order; reading takes them. Any live connection, offloaded or not.
    pub fn read(&mut self, raw: u64) -> Result<Vec<u8>> {
        self.check_read(raw)?;
        Ok(self.take_delivered(raw))
    }

    /// `read`'s check: `raw` is a live connection.
    pub(super) fn check_read(&self, raw: u64) -> Result<()> {
        let h = self.host.resolve(raw)?;
        crate::host::expect_layer(h, Layer::Tcp, "connection")
    }

    /// `read` once its check passed.
    pub(super) fn take_delivered(&mut self, raw: u64) -> Vec<u8> {
        let bytes = self.delivered.remove(&raw).unwrap_or_default();
        self.counts.bytes_read += bytes.len() as u64;
        bytes
    }

    /// The family of connection `h` and the largest segment it sends: no larger than the
    /// peer's MSS (RemoteMss, when set) or the path's.
    pub(super) fn wire_out(&self, h: Handle) -> (IpFamily, u32) {
        let (family, path_mss) = self.wire(h);
        let mss = match u32::from(self.host.tcp_state(h).constant.remote_mss) {
            0 => path_mss,
            remote => remote.min(path_mss),
        };
        (family, mss)
    }

    /// The target sends `nbytes` on connection `raw` without a payload; returns the bytes
    /// sent (0 if held back).
    pub fn target_send(&mut self, raw: u64, nbytes: &Value) -> Result<u32> {
        let context = self.offloaded_tcp(raw, "send on it")?;
        let n = check_u32("nbytes", nbytes.to_int("nbytes")?)?;
        let h = Handle::from_raw(raw);
        let wire = self.wire_out(h);
        let snapshot = self.host.tcp_delegated(h);
        Ok(self.target.send(context, n, snapshot, wire))
    }

    /// The host posts `data` on offloaded connection `raw` (MiniportTcpOffloadSend): the
    /// target queues it and transmits what its send window allows. Returns the bytes
    /// transmitted now; the rest follows as acknowledgements open the window. An empty
    /// `data` posts nothing.
    pub fn send(&mut self, raw: u64, data: &[u8]) -> Result<u32> {
        let context = self.check_send(raw)?;
        Ok(self.apply_send(Handle::from_raw(raw), context, data))
    }

    /// `send`'s checks: `raw` is an offloaded connection whose send half is open; its
    /// target context.
    pub(super) fn check_send(&self, raw: u64) -> Result<u32> {
        let context = self.offloaded_tcp(raw, "send on it")?;
        let h = Handle::from_raw(raw);
        // RFC 793: after the host's FIN (and in CLOSED) SEND is "connection closing".
        let state = self
            .target
            .live_delegated(context)
            .unwrap_or(self.host.tcp_delegated(h))
            .state;
        if let Some(closed) = ConnectionState::from_u8(state).filter(|s| s.send_closed()) {
            return Err(error!(SendClosed, handle = h, state = closed.name()));
        }
        Ok(context)
    }

    /// `send` once its checks passed.
    pub(super) fn apply_send(&mut self, h: Handle, context: u32, data: &[u8]) -> u32 {
        let wire = self.wire_out(h);
        let snapshot = self.host.tcp_delegated(h);
        let sent = self.target.post(context, data, snapshot, wire);
        self.counts.bytes_posted += data.len() as u64;
        sent
    }

    /// The peer acknowledges `nbytes` more bytes on connection `raw` (SndUna advances);
    /// at most the bytes in flight (SndNxt - SndUna). Returns the send requests completed.
    /// `window`: the send window the peer advertises with it (SndWnd), if any; a preferred
    /// send backlog that moves enough is indicated (TcpIndicateSendBacklogChange).
    pub fn target_acknowledge(
        &mut self,
        raw: u64,
        nbytes: &Value,
        window: Option<&Value>,
    ) -> Result<u64> {
        let context = self.offloaded_tcp(raw, "acknowledge on it")?;
        let n = check_u32("nbytes", nbytes.to_int("nbytes")?)?;
        let window = match window {
            Some(w) => Some(check_u32("window", w.to_int("window")?)?),
            None => None,
        };
        let h = Handle::from_raw(raw);
        self.check_in_flight(h, context, n, 0)?;
        Ok(self.apply_acknowledge(h, context, n, window))
    }

    /// `target_acknowledge`'s last check: `n` more bytes are in flight on connection `h`
    /// once `earlier` bytes (acknowledged earlier in the same batch) are taken off.
    pub(super) fn check_in_flight(
        &self,
        h: Handle,
        context: u32,
        n: u32,
        earlier: u64,
    ) -> Result<()> {
        let snapshot = self.host.tcp_delegated(h);
        let at_start = u64::from(self.target.in_flight(context, snapshot));
        if u64::from(n) + earlier <= at_start {
            return Ok(());
        }
        Err(match earlier {
            0 => error!(AckBeyondSent, nbytes = n, in_flight = at_start, handle = h),
            _ => error!(
                AckBeyondBatch,
                nbytes = n,
                in_flight = at_start,
                earlier = earlier,
                handle = h
            ),
        })
    }

    /// `target_acknowledge` once its checks passed.
    pub(super) fn apply_acknowledge(
        &mut self,
        h: Handle,
        context: u32,
        n: u32,
        window: Option<u32>,
    ) -> u64 {
        let (wire_in, wire_out) = (self.wire(h), self.wire_out(h));
        let snapshot = self.host.tcp_delegated(h);
        let (done, backlog) = self
            .target
            .acknowledge(context, n, snapshot, window, wire_in, wire_out);
        if n > 0 {
            self.timers_on_ack(h, context);
        }
        self.timers_on_segment(h, context);
        if let Some(size) = backlog {
            self.indicate_backlog(h, size);
        }
        if done.fin {
            // The host's FIN is acknowledged: NdisTcpOffloadDisconnectComplete.
            self.indicate_close(h, EventKind::DisconnectComplete);
        }
        done.requests
    }

    /// What OID_IPx_OFFLOAD_STATS and OID_TCPx_OFFLOAD_STATS report for IP version
    /// `version` (4 or 6), with CurrentlyEstablished counted now: the offloaded connections
    /// of that family whose live state is ESTABLISHED or CLOSE-WAIT.
    pub fn offload_stats(&self, version: i64) -> Result<OffloadStats> {
        let family = ip_family(version)?;
        let mut stats = self.target.offload_stats[family.index()];
        let mut established = 0u32;
        for (slot, generation, tcp) in self.host.tcps.iter() {
            if tcp.context == NO_CONTEXT {
                continue;
            }
            let path = self.host.path(tcp.path);
            if IpFamily::of(&path.state.source) != family {
                continue;
            }
            let h = self.host.handle_at(Layer::Tcp, slot);
            debug_assert_eq!(h.generation(), generation);
            let snapshot = self.host.tcp_delegated(h);
            let live = self.target.live_delegated(tcp.context).unwrap_or(snapshot);
            if [ConnectionState::Established, ConnectionState::CloseWait]
                .map(|s| s as u8)
                .contains(&live.state)
            {
                established = established.wrapping_add(1);
            }
        }
        stats.tcp.currently_established = established;
        Ok(stats)
    }

    /// Resets the counters of IP version `version`, as setting OID_IPx_OFFLOAD_STATS and
    /// OID_TCPx_OFFLOAD_STATS does (the gauge CurrentlyEstablished is no counter: it stays).
    pub fn reset_offload_stats(&mut self, version: i64) -> Result<()> {
        let family = ip_family(version)?;
        self.target.offload_stats[family.index()] = OffloadStats::default();
        Ok(())
    }
}

/// A receive request's size: 1..2^32-1 bytes.
pub(super) fn check_receive_size(size: i128) -> Result<u32> {
    Ok(check_range("size", size, 1, u64::from(u32::MAX))? as u32)
}

fn ip_family(version: i64) -> Result<IpFamily> {
    IpFamily::from_version(version).ok_or_else(|| error!(IpVersion, value = version))
}
