"""The traffic scenario of ``offload-tree bench --scenario traffic``: the data path at volume.

N connections of W(N) (``workload.py``) are offloaded; then, for T steps of ``tick`` clock
ticks each (``tree.advance``: the retransmit timers run on what is not acknowledged yet), a
seeded mix runs on them: the host posts send data and receive requests and reads, the peer
sends data, acknowledges (advertising its window, so send-backlog indications flow) and
closes (FIN or RST), the host disconnects (gracefully or with an RST), the target asks for
uploads, and the host handles the events. Every data-path step is one batch call over the
connections it picks. At the end everything still offloaded is terminated and every
delivered byte read, and the run checks that nothing was lost or made up: every byte the
host posted was acknowledged, handed back or aborted, and every byte the peer sent was
delivered or handed back exactly once (the ledgers of docs/DESIGN.md §9, and this
scenario's own counts).

The same seed gives the same run, byte for byte, on either backend.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

import offload_tree as ot

from .workload import make_workload

__all__ = ["TrafficConfig", "TrafficResult", "run_traffic"]


@dataclass(frozen=True)
class TrafficConfig:
    """One traffic run: N connections for ``ticks`` ticks on ``backend``, seeded.

    The shares are the chance, per tick, that a connection which may take the step takes
    it; the close and upload shares are small because each of those is a call of its own.
    """

    n: int
    ticks: int = 10
    seed: int = 0
    tick: int = 200  # clock ticks one step of the mix lasts (the tree's 1000 a second)
    backend: str = "native"
    max_piece: int = 128  # bytes of one send or receive: 1..max_piece
    send_share: float = 0.3
    receive_share: float = 0.3
    ack_share: float = 0.5
    post_share: float = 0.3
    read_share: float = 0.2
    disconnect_share: float = 0.002
    abort_share: float = 0.0005
    peer_fin_share: float = 0.002
    peer_rst_share: float = 0.0005
    upload_share: float = 0.0005


@dataclass
class TrafficResult:
    """What a run moved and how fast (seconds are wall-clock; counts are exact)."""

    config: TrafficConfig
    seconds: dict[str, float] = field(default_factory=dict)
    items: Counter[str] = field(default_factory=Counter)
    bytes: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing was lost or made up."""
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the run."""
        return {
            "config": asdict(self.config),
            "seconds": self.seconds,
            "items": dict(self.items),
            "bytes": dict(self.bytes),
            "events": dict(self.events),
            "refused": dict(self.refused),
            "events_per_second": self.events_per_second,
            "ok": self.ok,
            "problems": self.problems,
        }

    def same_run(self, other: TrafficResult) -> bool:
        """``other`` moved the same bytes, took the same steps and saw the same events (what
        the same seed gives on either backend)."""
        mine = (self.items, self.bytes, self.events, self.refused)
        return mine == (other.items, other.bytes, other.events, other.refused)

    @property
    def events_per_second(self) -> float:
        """Events the host handled per second of ``process_events``."""
        handled = sum(self.events.values())
        spent = self.seconds.get("process_events", 0.0)
        return handled / spent if spent > 0 else 0.0


class _Run:
    """The state of one run: the tree, which connections may take which step, the counts."""

    def __init__(self, config: TrafficConfig, result: TrafficResult) -> None:
        self.config, self.result = config, result
        self.rng = np.random.default_rng(config.seed)
        n = config.n
        # What the scenario knows of each connection (index i is tcs[i]).
        self.live = np.zeros(n, dtype=bool)  # offloaded, as far as the scenario knows
        self.host_fin = np.zeros(n, dtype=bool)  # the host closed its send half
        self.peer_fin = np.zeros(n, dtype=bool)  # the peer closed its send half (or reset)
        # Bytes known to be in flight: what send_many reported transmitted, not yet
        # acknowledged. A lower bound when a window held bytes back (never too many).
        self.in_flight = np.zeros(n, dtype=np.int64)
        self.fin_in_flight = np.zeros(n, dtype=bool)  # counted in in_flight, but no data
        self.watch: set[int] = set()  # connections a close or upload may have terminated

    def timed(self, name: str, call: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        value = call()
        self.result.seconds[name] = self.result.seconds.get(name, 0.0) + (
            time.perf_counter() - start
        )
        return value

    def pick(self, mask: np.ndarray, share: float) -> np.ndarray:
        """The indices among ``mask`` that take a step of chance ``share`` this tick."""
        return np.flatnonzero(mask & (self.rng.random(self.config.n) < share))

    def pieces(self, k: int) -> tuple[bytes, np.ndarray]:
        lengths = self.rng.integers(1, self.config.max_piece + 1, size=k, dtype=np.int64)
        return self.rng.bytes(int(lengths.sum())), lengths

    # -- setup ------------------------------------------------------------------------
    def build(self) -> None:
        w = make_workload(self.config.n)

        def build() -> None:
            tree = ot.OffloadStateTree(backend=self.config.backend)
            neighbors = tree.add_neighbors(w.macs)
            paths = tree.add_paths(neighbors[w.path_neighbor], w.path_sources, w.path_destinations)
            self.tcs = tree.add_tcps(paths[w.tcp_path], w.local_ports, w.remote_ports)
            self.tree, self.target, self.neighbors = tree, tree.target, neighbors

        self.timed("build", build)
        offloaded = self.timed("offload", lambda: self.tree.initiate_offload(self.tcs))
        if not offloaded.ok:
            raise RuntimeError("the offload of W(N) did not succeed")
        self.live[:] = True

    # -- one tick ---------------------------------------------------------------------
    def tick(self) -> None:
        c, tree, target, tcs = self.config, self.tree, self.target, self.tcs
        items, moved = self.result.items, self.result.bytes

        sends = self.pick(self.live & ~self.host_fin, c.send_share)
        data, lengths = self.pieces(sends.size)
        sent = self.timed("send_many", lambda: tree.send_many(tcs[sends], data, lengths))
        self.in_flight[sends] += sent
        items["send"] += sends.size
        moved["posted"] += len(data)

        posts = self.pick(self.live, c.post_share)
        sizes = self.rng.integers(64, 513, size=posts.size, dtype=np.int64)
        self.timed("post_receive_many", lambda: tree.post_receive_many(tcs[posts], sizes))
        items["post_receive"] += posts.size

        receives = self.pick(self.live & ~self.peer_fin, c.receive_share)
        data, lengths = self.pieces(receives.size)
        taken = self.timed(
            "receive_many", lambda: target.receive_many(tcs[receives], data, lengths)
        )
        items["receive"] += receives.size
        moved["received"] += int(taken.sum())  # a segment beyond the window is dropped
        moved["dropped"] += len(data) - int(taken.sum())

        acks = self.pick(self.live & (self.in_flight > 0), c.ack_share)
        counts = self.in_flight[acks]
        self.timed(
            "acknowledge_many",
            lambda: target.acknowledge_many(tcs[acks], counts, windows=65535),
        )
        self.in_flight[acks] = 0
        items["acknowledge"] += acks.size
        moved["acknowledged"] += int(counts.sum()) - int(self.fin_in_flight[acks].sum())
        self.fin_in_flight[acks] = False

        reads = self.pick(np.ones(c.n, dtype=bool), c.read_share)
        data, _ = self.timed("read_many", lambda: tree.read_many(tcs[reads]))
        items["read"] += reads.size
        moved["read"] += len(data)

        self.closes()
        self.timed("advance", lambda: tree.advance(c.tick))
        self.handle_events()

    def closes(self) -> None:
        """The closes and upload requests of this tick: one call each, as they come."""
        c, tree, target, tcs = self.config, self.tree, self.target, self.tcs
        steps: list[tuple[str, np.ndarray, Callable[[int], Any]]] = [
            ("disconnect", self.pick(self.live & ~self.host_fin, c.disconnect_share),
             lambda h: tree.disconnect(h)),
            ("abort", self.pick(self.live, c.abort_share),
             lambda h: tree.disconnect(h, abortive=True)),
            ("peer_fin", self.pick(self.live & ~self.peer_fin, c.peer_fin_share),
             lambda h: target.peer_close(h)),
            ("peer_rst", self.pick(self.live, c.peer_rst_share),
             lambda h: target.peer_close(h, abortive=True)),
            ("upload_request", self.pick(self.live, c.upload_share),
             lambda h: target.request_upload(h, ot.UploadReason.LOW_ACTIVITY)),
        ]  # fmt: skip
        start = time.perf_counter()
        for name, chosen, call in steps:
            for i in chosen.tolist():
                if not self.live[i]:
                    continue  # an earlier step of this tick ended it
                try:
                    outcome = call(int(tcs[i]))
                except ot.StateError:
                    self.result.refused[name] += 1  # its TCP state does not allow it
                    continue
                self.result.items[name] += 1
                self.watch.add(i)
                if name == "disconnect":
                    self.host_fin[i] = True
                    # The FIN takes a sequence number after the data (all of it sent here:
                    # the window is far larger than what a run posts).
                    self.in_flight[i] += 1
                    self.fin_in_flight[i] = True
                elif name in ("peer_fin", "peer_rst"):
                    self.peer_fin[i] = True
                if isinstance(outcome, ot.TerminateResult):
                    self.returned(outcome)
                    self.live[i] = False
        self.result.seconds["closes"] = self.result.seconds.get("closes", 0.0) + (
            time.perf_counter() - start
        )

    def handle_events(self) -> None:
        events = self.timed("process_events", self.tree.process_events)
        for event in events:
            self.result.events[event.kind.name] += 1
            if isinstance(event.result, ot.TerminateResult):
                self.returned(event.result)
        for i in list(self.watch):
            if not self.tree.is_offloaded(int(self.tcs[i])):
                self.live[i] = False
                self.watch.discard(i)

    def returned(self, result: ot.TerminateResult) -> None:
        self.result.bytes["send_returned"] += result.total_send_data
        self.result.bytes["receive_returned"] += result.total_received

    # -- the end ----------------------------------------------------------------------
    def finish(self) -> None:
        tree = self.tree
        roots = [h for h in self.neighbors.tolist() if tree.is_offloaded(h)]
        result = self.timed("terminate_all", lambda: tree.terminate(roots, cascade=True))
        self.returned(result)
        self.handle_events()  # what the terminate left pending goes with it
        data, _ = self.timed("read_many", lambda: tree.read_many(self.tcs))
        self.result.bytes["read"] += len(data)
        self.check()

    def check(self) -> None:
        """Nothing lost, nothing made up: the tree's ledgers and this run's own counts."""
        b = self.tree.stats()["bytes"]
        t = self.target.stats()
        mine = self.result.bytes
        expect = {
            "the bytes posted are the bytes the scenario sent": (b["posted"], mine["posted"]),
            "posted = acknowledged + returned + aborted": (
                b["posted"],
                b["acknowledged"] + b["send_returned"] + b["send_aborted"],
            ),
            "the bytes acknowledged are the scenario's": (b["acknowledged"], mine["acknowledged"]),
            "the send data handed back is in the results": (
                b["send_returned"],
                mine["send_returned"],
            ),
            "the target received what the peer sent": (t["bytes_received"], mine["received"]),
            "received = delivered + returned": (
                t["bytes_received"],
                b["delivered"] + b["returned"],
            ),
            "the received data handed back is in the results": (
                b["returned"],
                mine["receive_returned"],
            ),
            "delivered = read (all read at the end)": (b["delivered"], b["read"]),
            "the bytes read are the scenario's": (b["read"], mine["read"]),
            "nothing stays at the target": (
                b["send_queued"] + b["buffered"] + t["bytes_placed"] + b["unread"],
                0,
            ),
            "nothing stays offloaded": (self.tree.count(offloaded=True), 0),
        }
        for what, (got, want) in expect.items():
            if got != want:
                self.result.problems.append(f"{what}: {got} != {want}")
        self.result.bytes["aborted"] = b["send_aborted"]
        self.result.items["retransmitted_segments"] = sum(
            self.target.offload_stats(family)["tcp"]["retransmitted_segments"] for family in (4, 6)
        )
        self.result.bytes["delivered"] = b["delivered"]


def run_traffic(
    config: TrafficConfig, progress: Callable[[int], None] | None = None
) -> TrafficResult:
    """Run the traffic scenario; ``progress(tick)`` is called after every tick."""
    result = TrafficResult(config)
    run = _Run(config, result)
    start = time.perf_counter()
    run.build()
    traffic_start = time.perf_counter()
    for tick in range(config.ticks):
        run.tick()
        if progress is not None:
            progress(tick + 1)
    result.seconds["traffic"] = time.perf_counter() - traffic_start
    run.finish()
    result.seconds["total"] = time.perf_counter() - start
    return result


def render(results: list[TrafficResult]) -> str:
    """The runs as a table: per run, what moved and how fast, and the nothing-lost check."""
    lines = []
    for r in results:
        c, s = r.config, r.seconds
        lines.append(
            f"traffic: {c.backend} N={c.n:,} ticks={c.ticks} seed={c.seed}: "
            f"{s['total']:.2f} s in all (build {s['build']:.2f}, offload {s['offload']:.2f}, "
            f"traffic {s['traffic']:.2f}, terminate all {s['terminate_all']:.2f})"
        )
        lines.append(f"  {'step':<20}{'items':>14}{'seconds':>10}{'items/s':>14}")
        for step, key in [
            ("send_many", "send"),
            ("receive_many", "receive"),
            ("acknowledge_many", "acknowledge"),
            ("post_receive_many", "post_receive"),
            ("read_many", "read"),
        ]:
            n, t = r.items[key], s.get(step, 0.0)
            rate = f"{n / t:,.0f}" if t > 0 else "-"
            lines.append(f"  {step:<20}{n:>14,}{t:>10.3f}{rate:>14}")
        closes = sum(r.items[k] for k in ("disconnect", "abort", "peer_fin", "peer_rst"))
        closes += r.items["upload_request"]
        lines.append(f"  {'closes, uploads':<20}{closes:>14,}{s.get('closes', 0.0):>10.3f}")
        retransmits = r.items["retransmitted_segments"]
        lines.append(
            f"  {'advance':<20}{c.ticks:>14,}{s.get('advance', 0.0):>10.3f}"
            f"  ({c.ticks * c.tick:,} clock ticks; {retransmits:,} segments retransmitted)"
        )
        handled = sum(r.events.values())
        lines.append(
            f"  {'process_events':<20}{handled:>14,}{s.get('process_events', 0.0):>10.3f}"
            f"{r.events_per_second:>14,.0f}"
        )
        events = ", ".join(f"{k} {v:,}" for k, v in sorted(r.events.items()))
        lines.append(f"  events: {events or 'none'}")
        if r.refused:
            refused = ", ".join(f"{k} {v:,}" for k, v in sorted(r.refused.items()))
            lines.append(f"  refused by the connection's state: {refused}")
        b = r.bytes
        lines.append(
            f"  bytes: posted {b['posted']:,} = acknowledged {b['acknowledged']:,} + returned "
            f"{b['send_returned']:,} + aborted {b['aborted']:,}; peer sent {b['received']:,} = "
            f"delivered {b['delivered']:,} + returned {b['receive_returned']:,}"
        )
        verdict = "nothing lost" if r.ok else "LOST OR MADE UP: " + "; ".join(r.problems)
        lines.append(f"  check: {verdict}")
    return "\n".join(lines)
