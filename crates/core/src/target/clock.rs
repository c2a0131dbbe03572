//! The target's clock and the TCP timers it drives (docs/DESIGN.md §8, "Time").
//!
//! Time is simulated: it moves only when the host calls `advance`, in the ticks the host set
//! with OID_TCP_TASK_OFFLOAD (TicksPerSecond of NDIS_TASK_TCP_CONNECTION_OFFLOAD: 10, 100 or
//! 1000 a second, NDIS "Overview of TCP Timers"). The timers are the delegated variables the
//! pages define, counted down in those ticks: the retransmit timer (NDIS "Retransmit Timer"),
//! which is also the FIN_WAIT_2 timer (NDIS "FIN_WAIT_2 Timer"), and the keepalive timer
//! (NDIS "Keepalive Timer"). A TimeoutDelta of 2^32-1 (-1 in NDIS) is a timer that is not
//! running; 0 is one that expires at once.

use crate::error;
use crate::model::{ConnectionState, Result, TcpCached, TcpDelegated};

/// TimeoutDelta of a timer that is not running (-1 as a ULONG).
pub(crate) const STOPPED: u32 = u32::MAX;

/// RFC 6298: an RTO starts at one second, doubles with each retransmission (2.5) and is
/// bounded; 60 seconds is the RFC's suggested bound.
const RTO_MAX_SECONDS: u32 = 60;
/// NDIS "FIN_WAIT_2 Timer": "a value of 120 seconds as the initial value".
const FIN_WAIT_2_SECONDS: u32 = 120;
/// RFC 4861's REACHABLE_TIME: a neighbor not confirmed for this long is stale. NceStaleTicks
/// is the host's to set; this is its default, in seconds.
const DEFAULT_NCE_STALE_SECONDS: u32 = 30;

/// The NIC's current time (NCT) and the host's timer parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Clock {
    /// Ticks since the target started.
    pub now: u64,
    /// TicksPerSecond: the granularity of every timer.
    pub ticks_per_second: u32,
    /// NceStaleTicks: how long a neighbor may go unconfirmed, by the target and by the host,
    /// before the target asks the host about it (NeighborReachabilityQuery).
    pub nce_stale_ticks: u32,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            now: 0,
            ticks_per_second: 1000,
            nce_stale_ticks: DEFAULT_NCE_STALE_SECONDS * 1000,
        }
    }
}

impl Clock {
    /// The parameters, checked: NDIS allows 10, 100 or 1000 ticks a second.
    pub(crate) fn configure(
        &mut self,
        ticks_per_second: i128,
        nce_stale_ticks: i128,
    ) -> Result<()> {
        let tps = match ticks_per_second {
            10 | 100 | 1000 => ticks_per_second as u32,
            _ => return Err(error!(TicksPerSecond, value = ticks_per_second)),
        };
        let stale = crate::model::check_u32("nce_stale_ticks", nce_stale_ticks)?;
        self.ticks_per_second = tps;
        self.nce_stale_ticks = stale;
        Ok(())
    }

    /// The retransmission timeout after `retransmits` retransmissions of the segment.
    pub(crate) fn rto(&self, retransmits: u8) -> u32 {
        let max = RTO_MAX_SECONDS * self.ticks_per_second;
        self.ticks_per_second
            .checked_shl(u32::from(retransmits))
            .filter(|&rto| rto <= max)
            .unwrap_or(max)
    }

    /// Now, and the push timer's period: 500 ms, the Windows default (NDIS "Push Timer").
    pub(crate) fn push_timer(&self) -> (u64, u64) {
        (self.now, u64::from(self.ticks_per_second / 2))
    }

    /// The FIN_WAIT_2 timer's start value.
    pub(crate) fn fin_wait_2(&self) -> u32 {
        FIN_WAIT_2_SECONDS * self.ticks_per_second
    }
}

/// What a connection's timers did while time moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Expired {
    /// Segments retransmitted.
    pub retransmits: u32,
    /// Keepalive probes sent.
    pub probes: u32,
    /// A timer ran out of tries (or FIN_WAIT_2 ran out): the target asks for the upload
    /// with TimeoutExpiration (TcpIndicateRetrieve).
    pub give_up: bool,
}

/// Counts a timer of `delta` ticks down by `ticks`; every expiry calls `expire`, which
/// returns the next delta, or None to stop the timer. Returns the delta left.
fn count_down(mut delta: u32, ticks: u32, mut expire: impl FnMut() -> Option<u32>) -> u32 {
    let mut left = ticks;
    while delta != STOPPED {
        if delta > left {
            return delta - left;
        }
        left -= delta;
        delta = expire().unwrap_or(STOPPED);
    }
    STOPPED
}

/// Runs the timers of one connection for `ticks`: the FIN_WAIT_2 timer in FIN_WAIT_2, the
/// retransmit timer while bytes are in flight, else the keepalive timer when the host
/// enabled keepalives. Each expiry sends what the page says; a timer out of tries stops and
/// the connection's upload is due.
pub(crate) fn run_timers(
    d: &mut TcpDelegated,
    cached: &TcpCached,
    clock: &Clock,
    ticks: u32,
) -> Expired {
    let mut expired = Expired::default();
    let in_flight = d.snd_nxt.wrapping_sub(d.snd_una);
    if d.state == ConnectionState::FinWait2 as u8 {
        // NDIS "FIN_WAIT_2 Timer": the retransmit timer is the FIN_WAIT_2 timer; when it
        // expires the target asks for the upload and the connection is CLOSED.
        d.retransmit_timeout_delta = count_down(d.retransmit_timeout_delta, ticks, || {
            expired.give_up = true;
            None
        });
        if expired.give_up {
            d.state = ConnectionState::Closed as u8;
        }
    } else if in_flight > 0 {
        // The timer started when the bytes went out, if the host handed none over.
        if d.retransmit_timeout_delta == STOPPED {
            d.retransmit_timeout_delta = clock.rto(d.retransmit_count);
        }
        let mut left = ticks;
        loop {
            let delta = d.retransmit_timeout_delta;
            // TotalRT: the ticks spent retransmitting this segment, since its first
            // retransmission.
            let retransmitting = d.retransmit_count > 0;
            if delta > left {
                d.retransmit_timeout_delta = delta - left;
                if retransmitting {
                    d.total_rt = d.total_rt.saturating_add(left);
                }
                break;
            }
            left -= delta;
            if retransmitting {
                d.total_rt = d.total_rt.saturating_add(delta);
            }
            // MaxRT: the most retransmissions of one segment (NDIS "Retransmit Timer").
            if u32::from(d.retransmit_count) >= cached.max_rt || d.retransmit_count == u8::MAX {
                expired.give_up = true;
                d.retransmit_timeout_delta = STOPPED;
                break;
            }
            d.retransmit_count += 1;
            expired.retransmits += 1;
            d.retransmit_timeout_delta = clock.rto(d.retransmit_count);
        }
    } else if cached.keep_alive {
        let mut probes = d.keepalive_probe_count;
        d.keepalive_timeout_delta = count_down(d.keepalive_timeout_delta, ticks, || {
            // KaProbeCount unanswered probes: the connection is not intact.
            if probes >= cached.ka_probe_count {
                expired.give_up = true;
                return None;
            }
            probes += 1;
            expired.probes += 1;
            Some(cached.ka_interval.max(1))
        });
        d.keepalive_probe_count = probes;
    }
    expired
}

/// A segment acknowledged new data: the retransmission of the old segment is over
/// (Count and TotalRT restart) and the timer restarts for what is still in flight.
pub(crate) fn on_new_ack(d: &mut TcpDelegated, clock: &Clock) {
    d.retransmit_count = 0;
    d.total_rt = 0;
    d.retransmit_timeout_delta = match d.snd_nxt.wrapping_sub(d.snd_una) {
        0 => STOPPED,
        _ => clock.rto(0),
    };
}

/// A segment arrived (forward progress): the keepalive timer restarts at KaTimeout with no
/// probe outstanding, and in FIN_WAIT_2 the FIN_WAIT_2 timer restarts.
pub(crate) fn on_segment(d: &mut TcpDelegated, cached: &TcpCached, clock: &Clock) {
    if cached.keep_alive {
        d.keepalive_probe_count = 0;
        d.keepalive_timeout_delta = cached.ka_timeout;
    }
    if d.state == ConnectionState::FinWait2 as u8 {
        d.retransmit_timeout_delta = clock.fin_wait_2();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_flight(n: u32) -> TcpDelegated {
        TcpDelegated {
            snd_nxt: n,
            retransmit_timeout_delta: STOPPED,
            ..TcpDelegated::default()
        }
    }

    #[test]
    fn the_retransmit_timer_backs_off_and_gives_up_after_max_rt() {
        let clock = Clock::default();
        let cached = TcpCached {
            max_rt: 3,
            ..TcpCached::default()
        };
        let mut d = in_flight(10);
        assert_eq!(run_timers(&mut d, &cached, &clock, 999), Expired::default());
        assert_eq!(
            d.retransmit_timeout_delta, 1,
            "started at 1 s when the bytes went out"
        );
        // 1 s, then 2 s and 4 s: three retransmissions.
        let e = run_timers(&mut d, &cached, &clock, 1 + 2000 + 4000);
        assert_eq!((e.retransmits, e.give_up), (3, false));
        assert_eq!((d.retransmit_count, d.retransmit_timeout_delta), (3, 8000));
        assert_eq!(d.total_rt, 2000 + 4000, "since the first retransmission");
        let e = run_timers(&mut d, &cached, &clock, 8000);
        assert_eq!((e.retransmits, e.give_up), (0, true), "MaxRT reached");
        assert_eq!(d.retransmit_timeout_delta, STOPPED);
        on_new_ack(&mut d, &clock);
        assert_eq!((d.retransmit_count, d.total_rt), (0, 0));
    }

    #[test]
    fn the_rto_is_bounded_at_sixty_seconds() {
        let clock = Clock {
            ticks_per_second: 10,
            ..Clock::default()
        };
        assert_eq!(
            [clock.rto(0), clock.rto(5), clock.rto(6), clock.rto(200)],
            [10, 320, 600, 600]
        );
    }

    #[test]
    fn keepalive_probes_then_gives_up_and_a_segment_restarts_it() {
        let clock = Clock::default();
        let cached = TcpCached {
            keep_alive: true,
            ka_probe_count: 2,
            ka_timeout: 5000,
            ka_interval: 100,
            ..TcpCached::default()
        };
        let mut d = TcpDelegated {
            keepalive_timeout_delta: 5000,
            ..TcpDelegated::default()
        };
        let e = run_timers(&mut d, &cached, &clock, 5100);
        assert_eq!((e.probes, d.keepalive_probe_count), (2, 2));
        assert_eq!(d.keepalive_timeout_delta, 100);
        let e = run_timers(&mut d, &cached, &clock, 100);
        assert!(e.give_up);
        assert_eq!(d.keepalive_timeout_delta, STOPPED);
        on_segment(&mut d, &cached, &clock);
        assert_eq!(
            (d.keepalive_probe_count, d.keepalive_timeout_delta),
            (0, 5000)
        );
    }

    #[test]
    fn fin_wait_2_expires_into_closed() {
        let clock = Clock::default();
        let mut d = TcpDelegated {
            state: ConnectionState::FinWait2 as u8,
            ..TcpDelegated::default()
        };
        on_segment(&mut d, &TcpCached::default(), &clock);
        assert_eq!(d.retransmit_timeout_delta, 120_000);
        assert!(!run_timers(&mut d, &TcpCached::default(), &clock, 119_999).give_up);
        assert!(run_timers(&mut d, &TcpCached::default(), &clock, 1).give_up);
        assert_eq!(d.state, ConnectionState::Closed as u8);
    }

    #[test]
    fn a_stopped_timer_never_expires() {
        let mut d = TcpDelegated {
            keepalive_timeout_delta: STOPPED,
            ..TcpDelegated::default()
        };
        let cached = TcpCached {
            keep_alive: true,
            ..TcpCached::default()
        };
        assert_eq!(
            run_timers(&mut d, &cached, &Clock::default(), u32::MAX),
            Expired::default()
        );
    }
}
