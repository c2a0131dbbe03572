//! Simulated time: `advance` moves the target's clock, which ages neighbor reachability and
//! runs the connections' timers (docs/DESIGN.md §8, "Time"; target/clock.rs); `set_clock`
//! takes the host's timer parameters (OID_TCP_TASK_OFFLOAD). Nothing reads the wall clock:
//! the same calls give the same events.

use super::Engine;
use crate::host::NO_CONTEXT;
use crate::model::{check_u32, Handle, Layer, Result, UploadReason, Value};
use crate::target::{on_new_ack, on_segment, run_timers};

impl Engine {
    /// Sets TicksPerSecond (10, 100 or 1000) and NceStaleTicks, as the host does when it
    /// sets OID_TCP_TASK_OFFLOAD.
    pub fn set_clock(&mut self, ticks_per_second: &Value, nce_stale_ticks: &Value) -> Result<()> {
        let tps = ticks_per_second.to_int("ticks_per_second")?;
        let stale = nce_stale_ticks.to_int("nce_stale_ticks")?;
        self.target.clock.configure(tps, stale)
    }

    /// The target's current time (ticks since it started), TicksPerSecond and NceStaleTicks.
    pub fn clock(&self) -> (u64, u32, u32) {
        let c = &self.target.clock;
        (c.now, c.ticks_per_second, c.nce_stale_ticks)
    }

    /// Time moves on by `ticks` (0..2^32-1). Every offloaded neighbor ages, and one found
    /// stale (both reachability deltas over NceStaleTicks) is the subject of a
    /// NeighborReachabilityQuery, unless one is still unanswered. Then, in the host's order,
    /// every offloaded connection whose I/O the target is not holding back runs its timers
    /// (`run_timers`): it retransmits, probes, or, out of tries, asks for its upload with
    /// TimeoutExpiration. Returns the events this indicated.
    pub fn advance(&mut self, ticks: &Value) -> Result<u64> {
        let ticks = check_u32("ticks", ticks.to_int("ticks")?)?;
        let before = self.target.counters.events_indicated;
        let clock = &mut self.target.clock;
        clock.now = clock.now.saturating_add(u64::from(ticks));
        // Everything below goes in the host's order (slot order of its arenas), which both
        // engines share; the target's context numbering is its own.
        let mut stale = self.target.age_neighbors(ticks);
        stale.sort_unstable_by_key(|&context| self.target.neighbor(context).host.slot());
        for context in stale {
            let h = self.target.neighbor(context).host;
            self.indicate_reachability_query(h);
        }
        // Push timers: a push-mode request holding bytes completes with them.
        let mut pushed = self.target.expire_push_timers();
        pushed.sort_unstable_by_key(|(context, _)| self.target.tcp(*context).host.slot());
        for (context, bytes) in pushed {
            let h = self.target.tcp(context).host;
            self.deliver(h, bytes);
        }
        let tcps: Vec<(u32, Handle)> = self
            .host
            .tcps
            .iter()
            .filter(|(_, _, tcp)| tcp.context != NO_CONTEXT)
            .map(|(slot, _, tcp)| (tcp.context, self.host.handle_at(Layer::Tcp, slot)))
            .collect();
        for (context, h) in tcps {
            self.run_connection_timers(h, context, ticks);
        }
        Ok(self.target.counters.events_indicated - before)
    }

    fn run_connection_timers(&mut self, h: Handle, context: u32, ticks: u32) {
        if self.target.tcp_held_back(context) || self.target.io_stopped(context) {
            return; // the target processes no I/O on it: its timers wait
        }
        let cached = *self.host.tcp_cached(h);
        let snapshot = self.host.tcp_delegated(h);
        let live = *self.target.live_delegated(context).unwrap_or(snapshot);
        let mut d = live;
        let clock = self.target.clock;
        let expired = run_timers(&mut d, &cached, &clock, ticks);
        if d != live {
            *self.target.delegated_mut(context, snapshot) = d;
        }
        let (family, _) = self.wire(h);
        let stats = &mut self.target.offload_stats[family.index()];
        stats.tcp.retransmitted_segments = stats
            .tcp
            .retransmitted_segments
            .wrapping_add(expired.retransmits);
        for _ in 0..expired.probes {
            stats.count_sent_bare(family, false);
        }
        if expired.give_up {
            self.request_upload(h, UploadReason::TimeoutExpiration);
        }
    }

    /// A segment that acknowledged new data reached connection `h`: its retransmit timer
    /// restarts (target/clock.rs, `on_new_ack`).
    pub(super) fn timers_on_ack(&mut self, h: Handle, context: u32) {
        let snapshot = self.host.tcp_delegated(h);
        let clock = self.target.clock;
        on_new_ack(self.target.delegated_mut(context, snapshot), &clock);
    }

    /// A segment reached connection `h` (forward progress): the keepalive timer, and in
    /// FIN_WAIT_2 the FIN_WAIT_2 timer, restart (target/clock.rs, `on_segment`). Writes the
    /// live state only when a timer moved, so a connection without keepalives stays shared.
    pub(super) fn timers_on_segment(&mut self, h: Handle, context: u32) {
        let cached = *self.host.tcp_cached(h);
        let snapshot = self.host.tcp_delegated(h);
        let live = *self.target.live_delegated(context).unwrap_or(snapshot);
        let mut d = live;
        on_segment(&mut d, &cached, &self.target.clock);
        if d != live {
            *self.target.delegated_mut(context, snapshot) = d;
        }
    }
}
