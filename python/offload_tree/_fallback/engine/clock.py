"""Simulated time: ``advance`` moves the target's clock, which ages neighbor reachability
and runs the connections' timers; ``set_clock`` takes the host's timer parameters
(``crates/core/src/engine/clock.rs``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._enums import EventKind, UploadReason
from ..model.fields import check_range
from ..model.handle import TCP
from ..model.value import to_int
from ..target.clock import on_new_ack, on_segment, run_timers
from ..target.contexts import Context
from ..target.reachability import age_neighbors
from ..target.statistics import count_sent_bare
from ..target.traffic import expire_push_timers, held_back
from .types import Event

if TYPE_CHECKING:
    from . import Engine

__all__ = ["advance", "clock", "set_clock", "timers_on_ack", "timers_on_segment"]

U32 = 0xFFFF_FFFF


def set_clock(e: Engine, ticks_per_second: object, nce_stale_ticks: object) -> None:
    """TicksPerSecond (10, 100 or 1000) and NceStaleTicks (``Engine::set_clock``)."""
    tps = to_int(ticks_per_second, "ticks_per_second")
    stale = to_int(nce_stale_ticks, "nce_stale_ticks")
    e.target.clock.configure(tps, stale)


def clock(e: Engine) -> tuple[int, int, int]:
    """The current time, TicksPerSecond and NceStaleTicks."""
    c = e.target.clock
    return c.now, c.ticks_per_second, c.nce_stale_ticks


def advance(e: Engine, ticks: object) -> int:
    """Time moves on by ``ticks``: neighbors age (a stale one is asked about), then every
    offloaded connection not held back runs its timers, in the host's order (slot order of
    its arenas, which both engines share); the events this indicated (``Engine::advance``)."""
    from .events import indicate, request_upload  # events imports traffic, which imports us
    from .traffic import deliver, wire

    n = check_range("ticks", to_int(ticks, "ticks"), 0, U32)
    target = e.target
    before = target.counters.events_indicated
    target.clock.now += n

    def host_slot(context: Context) -> int:
        node = e.host.find(context.handle)
        assert node is not None
        return node.slot

    for context in sorted(age_neighbors(target, n), key=host_slot):
        kind = EventKind.NEIGHBOR_REACHABILITY_QUERY.value
        indicate(e, Event(kind, context.handle, None, context))
    # Push timers: a push-mode request holding bytes completes with them.
    for pushed, data in sorted(expire_push_timers(target), key=lambda p: host_slot(p[0])):
        deliver(e, pushed.handle, data)
    nodes = [node for node in e.host.arenas[TCP].items if node is not None and node.offloaded]
    for node in nodes:
        context = target.contexts[node.handle]
        if held_back(context) or context.upload_requested or target.upload_all:
            continue  # the target processes no I/O on it: its timers wait
        expired = run_timers(context.delegated, node.cached, target.clock, n)
        family = wire(node)[0]
        stats = target.offload_stats[family]
        stats.tcp["retransmitted_segments"] = (
            stats.tcp["retransmitted_segments"] + expired.retransmits
        ) & U32
        for _ in range(expired.probes):
            stats.ip, stats.tcp = count_sent_bare(stats, family, False)
        if expired.give_up:
            request_upload(e, node, UploadReason.TIMEOUT_EXPIRATION)
    return target.counters.events_indicated - before


def timers_on_ack(e: Engine, context: Context) -> None:
    """New data was acknowledged: the retransmit timer restarts (``timers_on_ack``)."""
    on_new_ack(context.delegated, e.target.clock)


def timers_on_segment(e: Engine, context: Context) -> None:
    """A segment arrived: the keepalive timer and, in FIN_WAIT_2, the FIN_WAIT_2 timer
    restart (``timers_on_segment``)."""
    from ..target.clock import KA_COUNT, KA_DELTA, RT_DELTA

    d = context.delegated
    d[KA_COUNT], d[KA_DELTA], d[RT_DELTA] = on_segment(d, context.cached, e.target.clock)
