"""The target's clock and the TCP timers it drives (docs/DESIGN.md §8, "Time";
``crates/core/src/target/clock.rs``).

Time moves only when the host calls ``advance``, in the ticks the host set
(TicksPerSecond: 10, 100 or 1000 a second). The timers are the delegated variables the pages
define, counted down in those ticks: the retransmit timer, which is also the FIN_WAIT_2
timer, and the keepalive timer. A TimeoutDelta of 2**32-1 (-1 in NDIS) is a timer that is
not running; 0 is one that expires at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..._enums import ConnectionState
from ..._messages import error
from ..model.fields import LAYOUTS, check_range
from ..model.handle import TCP

__all__ = ["STOPPED", "Clock", "Expired", "on_new_ack", "on_segment", "run_timers"]

U32 = 0xFFFF_FFFF
#: TimeoutDelta of a timer that is not running (-1 as a ULONG).
STOPPED = U32
RTO_MAX_SECONDS = 60  # RFC 6298's suggested bound on the RTO
FIN_WAIT_2_SECONDS = 120  # NDIS "FIN_WAIT_2 Timer"
DEFAULT_NCE_STALE_SECONDS = 30  # RFC 4861's REACHABLE_TIME

_T = LAYOUTS[TCP]
STATE, SND_UNA, SND_NXT = _T.index("state"), _T.index("snd_una"), _T.index("snd_nxt")
RT_COUNT, RT_DELTA = _T.index("retransmit_count"), _T.index("retransmit_timeout_delta")
TOTAL_RT = _T.index("total_rt")
KA_COUNT, KA_DELTA = _T.index("keepalive_probe_count"), _T.index("keepalive_timeout_delta")
KEEP_ALIVE, KA_PROBES = _T.index("keep_alive"), _T.index("ka_probe_count")  # in cached
KA_TIMEOUT, KA_INTERVAL = _T.index("ka_timeout"), _T.index("ka_interval")  # in cached
MAX_RT = _T.index("max_rt")  # in cached
FIN_WAIT_2, CLOSED = int(ConnectionState.FIN_WAIT_2), int(ConnectionState.CLOSED)


@dataclass(slots=True)
class Clock:
    """The NIC's current time (NCT) and the host's timer parameters."""

    now: int = 0
    ticks_per_second: int = 1000
    nce_stale_ticks: int = DEFAULT_NCE_STALE_SECONDS * 1000

    def configure(self, ticks_per_second: int, nce_stale_ticks: int) -> None:
        """Set the parameters, checked: NDIS allows 10, 100 or 1000 ticks a second."""
        if ticks_per_second not in (10, 100, 1000):
            raise error("ticks_per_second", value=ticks_per_second)
        self.nce_stale_ticks = check_range("nce_stale_ticks", nce_stale_ticks, 0, U32)
        self.ticks_per_second = ticks_per_second

    def rto(self, retransmits: int) -> int:
        """The retransmission timeout after ``retransmits`` retransmissions: 1 s doubled
        each time, at most 60 s (RFC 6298)."""
        bound = RTO_MAX_SECONDS * self.ticks_per_second
        return min(self.ticks_per_second << min(retransmits, 32), bound)

    def push_timer(self) -> tuple[int, int]:
        """Now, and the push timer's period: 500 ms, the Windows default (NDIS "Push Timer")."""
        return self.now, self.ticks_per_second // 2

    def fin_wait_2(self) -> int:
        """The FIN_WAIT_2 timer's start value."""
        return FIN_WAIT_2_SECONDS * self.ticks_per_second


@dataclass(slots=True)
class Expired:
    """What a connection's timers did while time moved."""

    retransmits: int = 0
    probes: int = 0
    give_up: bool = False  # out of tries: the target asks for the upload (TimeoutExpiration)


def _count_down(delta: int, ticks: int, expire: Callable[[], int | None]) -> int:
    """A timer of ``delta`` counted down by ``ticks``; each expiry calls ``expire`` for the
    next delta (None stops it). The delta left (``count_down``)."""
    left = ticks
    while delta != STOPPED:
        if delta > left:
            return delta - left
        left -= delta
        nxt = expire()
        delta = STOPPED if nxt is None else nxt
    return STOPPED


def run_timers(d: list[Any], cached: tuple[Any, ...], clock: Clock, ticks: int) -> Expired:
    """Run one connection's timers for ``ticks`` on its delegated values ``d``
    (``run_timers``): FIN_WAIT_2 in that state, the retransmit timer while bytes are in
    flight, else the keepalive timer when enabled."""
    expired = Expired()
    in_flight = (d[SND_NXT] - d[SND_UNA]) & U32
    if d[STATE] == FIN_WAIT_2:

        def give_up() -> int | None:
            expired.give_up = True
            return None

        d[RT_DELTA] = _count_down(d[RT_DELTA], ticks, give_up)
        if expired.give_up:
            d[STATE] = CLOSED
    elif in_flight > 0:
        if d[RT_DELTA] == STOPPED:
            d[RT_DELTA] = clock.rto(d[RT_COUNT])
        left = ticks
        while True:
            delta = d[RT_DELTA]
            retransmitting = d[RT_COUNT] > 0
            if delta > left:
                d[RT_DELTA] = delta - left
                if retransmitting:
                    d[TOTAL_RT] = min(d[TOTAL_RT] + left, U32)
                break
            left -= delta
            if retransmitting:
                d[TOTAL_RT] = min(d[TOTAL_RT] + delta, U32)
            if d[RT_COUNT] >= cached[MAX_RT] or d[RT_COUNT] == 0xFF:
                expired.give_up = True
                d[RT_DELTA] = STOPPED
                break
            d[RT_COUNT] += 1
            expired.retransmits += 1
            d[RT_DELTA] = clock.rto(d[RT_COUNT])
    elif cached[KEEP_ALIVE]:

        def probe() -> int | None:
            if d[KA_COUNT] >= cached[KA_PROBES]:
                expired.give_up = True
                return None
            d[KA_COUNT] += 1
            expired.probes += 1
            interval: int = max(cached[KA_INTERVAL], 1)
            return interval

        d[KA_DELTA] = _count_down(d[KA_DELTA], ticks, probe)
    return expired


def on_new_ack(d: list[Any], clock: Clock) -> None:
    """New data was acknowledged: the retransmit timer restarts (``on_new_ack``)."""
    d[RT_COUNT] = 0
    d[TOTAL_RT] = 0
    d[RT_DELTA] = STOPPED if d[SND_NXT] == d[SND_UNA] else clock.rto(0)


def on_segment(
    d: list[Any] | tuple[Any, ...], cached: tuple[Any, ...], clock: Clock
) -> tuple[int, int, int]:
    """A segment arrived: the keepalive probe count, keepalive delta and retransmit delta
    after it (``on_segment``), for the caller to store."""
    count, delta, rt_delta = d[KA_COUNT], d[KA_DELTA], d[RT_DELTA]
    if cached[KEEP_ALIVE]:
        count, delta = 0, cached[KA_TIMEOUT]
    if d[STATE] == FIN_WAIT_2:
        rt_delta = clock.fin_wait_2()
    return count, delta, rt_delta
