"""Soak: threads x random operations x injected faults on one shared tree, for a set time.

    python benches/soak.py --seconds 60 --threads 6 --backend native

The run is cut into phases of ``--phase`` seconds. In each phase ``--threads`` threads drive
one tree: they add objects, offload, receive, send (payload-less, and posted data the peer then
acknowledges), post receive requests and read what they deliver, close connections from the
peer (FIN and RST), disconnect them (FIN and RST), terminate, query (all kinds
of variables),
update (with refusals: the target has a path-MTU limit), invalidate, relink, request uploads
and upload-all, process events, and aim faults at every operation (``inject_fault``). Some
steps run with an interrupt due at an early poll or with a small allocation budget: a call
that stops for it must change nothing (the byte accounting below would see a lost or
doubled token, the invariants a half-done change). Every
byte a connection receives is a unique 16-byte token. Between phases the threads stop and the
script checks, through the public API only:

- the invariants (``tests/_helpers.check_invariants``);
- the bytes: every token came back at most once, in some operation's result or a ``read``, and
  the tokens not back yet are exactly what the target still buffers or holds in receive
  requests, what waits to be read, and what went unread with a removed connection;
- posted send data: every byte acknowledged, queued or returned (in the invariants).

At the end everything is terminated and read, and every token must have come back exactly
once, but those removed unread. An
exception that is not an ``OffloadTreeError`` is a failure too (races between threads make
``StateError`` and friends expected). Exit 0 when all holds, 1 otherwise; the last line is a
summary (``--json`` prints it as JSON).
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import random
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import offload_tree as ot

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _helpers import check_invariants

TOKEN = 16
OPERATIONS = ("initiate_offload", "terminate", "update", "query", "invalidate")
N, P, T = ot.Layer.NEIGHBOR, ot.Layer.PATH, ot.Layer.TCP


def returned_chunks(result: Any) -> Iterator[bytes]:
    """Every buffered byte an operation's result handed back, per object."""
    if result is None:
        return
    if isinstance(result, list):  # process_events
        for event in result:
            yield from returned_chunks(event.result)
    elif isinstance(result, ot.TerminateResult):
        for h in result.terminated.tolist():
            data = result.received_data(h)
            if data:
                yield data
    elif isinstance(result, ot.OffloadResult):
        yield from returned_chunks(result.released)
    elif isinstance(result, ot.UpdateResult | ot.QueryResult):
        yield from returned_chunks(result.upload)


class Ledger:
    """Tokens sent and tokens returned, shared by the threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: set[bytes] = set()
        self.returned: collections.Counter[bytes] = collections.Counter()
        self.bad_chunks = 0

    def take(self, result: Any) -> None:
        self.take_chunks(returned_chunks(result))

    def take_chunks(self, chunks: Any) -> None:
        with self.lock:
            for chunk in chunks:
                if len(chunk) % TOKEN:
                    self.bad_chunks += 1
                for i in range(0, len(chunk) - len(chunk) % TOKEN, TOKEN):
                    self.returned[chunk[i : i + TOKEN]] += 1


class Worker:
    """One thread's random operations."""

    def __init__(self, index: int, tree: Any, ledger: Ledger, seed: int, cap: int) -> None:
        self.index, self.tree, self.ledger, self.cap = index, tree, ledger, cap
        self.rng = random.Random(seed)
        self.seq = 0
        self.ops: collections.Counter[str] = collections.Counter()
        self.expected_errors = 0
        self.failures: list[str] = []
        self.faults = 0
        self.interrupted = 0
        self.out_of_memory = 0

    def step_with_faults(self) -> None:
        """A step; one in ten with an interrupt or an allocation limit armed for it (on the
        shared engine: whichever thread's call reaches it is the one that stops)."""
        engine, rng = self.tree._engine, self.rng
        draw = rng.random()
        if draw < 0.05:
            engine.set_interrupt_after(rng.randrange(0, 8))
        elif draw < 0.1:
            native = self.tree.backend == "native"
            engine.set_allocation_budget(rng.choice([0, 64, 512]) if native else rng.randrange(3))
        try:
            self.step()
        finally:
            if draw < 0.05:
                engine.set_interrupt_after(None)
            elif draw < 0.1:
                engine.set_allocation_budget(None)

    def pick(self, layer: int, k: int = 1) -> list[int]:
        handles = self.tree.handles(layer).tolist()
        return self.rng.sample(handles, min(k, len(handles))) if handles else []

    def pick_offloaded(self, layer: int, k: int = 1) -> list[int]:
        offloaded = [h for h in self.tree.handles(layer).tolist() if self.tree.is_offloaded(h)]
        return self.rng.sample(offloaded, min(k, len(offloaded))) if offloaded else []

    def step(self) -> None:
        t, rng, target = self.tree, self.rng, self.tree.target
        op = rng.choices(
            [
                "grow", "offload", "receive", "send", "terminate", "query", "update",
                "invalidate", "relink", "request", "events", "fault", "remove",
                "post", "ack", "post_receive", "read", "peer_close", "disconnect",
                "receive_many", "read_many", "advance", "pause", "link_down",
            ],
            [6, 8, 10, 4, 4, 3, 3, 1, 1, 2, 4, 3, 2, 4, 4, 4, 3, 1, 1, 3, 2, 2, 1, 1],
        )[0]  # fmt: skip
        self.ops[op] += 1
        result: Any = None
        if op == "grow":
            if t.count(T) < self.cap:
                nb = (self.pick(N) or [t.add_neighbor(mac=rng.randrange(1, 2**40))])[0]
                # Random keys: a repeated address pair or 4-tuple is a DuplicateKeyError.
                destination = 0x0B00_0000 + rng.randrange(2**24)
                pa = t.add_path(nb, source="10.0.0.1", destination=destination)
                k, first = rng.randrange(1, 8), rng.randrange(1, 60000)
                t.add_tcps([pa] * k, range(first, first + k), 443)
        elif op == "offload":
            result = t.initiate_offload(self.pick(T, rng.randrange(1, 6)))
        elif op == "receive":
            for tc in self.pick_offloaded(T, 3):
                self.seq += 1
                token = f"{self.index:04x}{self.seq:012x}".encode()
                # Raises when not offloaded, and takes nothing beyond the receive window:
                # then never sent.
                if target.receive(tc, token):
                    with self.ledger.lock:
                        self.ledger.sent.add(token)
        elif op == "send":
            for tc in self.pick(T, 2):
                target.send(tc, rng.randrange(0, 5000))
        elif op == "terminate":
            layer = rng.choice([T, T, P, N])
            result = t.terminate(self.pick_offloaded(layer, rng.randrange(1, 4)), cascade=True)
        elif op == "query":
            kinds = rng.choice([("delegated",), ("constant", "cached", "delegated")])
            result = t.query(self.pick(rng.choice([T, P, N]), 3), variables=kinds)
        elif op == "update":
            if rng.random() < 0.5:
                result = t.update(self.pick(P, 2), path_mtu=rng.choice([1400, 1500, 9000]))
            else:
                result = t.update(self.pick(T, 3), nagle=rng.random() < 0.5)
        elif op == "invalidate":
            t.invalidate(self.pick(rng.choice([T, P, N])))
        elif op == "relink":
            paths, nbs = self.pick(P), self.pick(N)
            if paths and nbs:
                result = t.relink(paths[0], nbs[0])
        elif op == "request":
            if rng.random() < 0.1:
                if target.stats()["paused"]:
                    target.resume()
                else:
                    target.request_upload_all()
            else:
                for tc in self.pick(T):
                    target.request_upload(tc, rng.choice(list(ot.UploadReason)))
        elif op == "events":
            result = t.process_events()
        elif op == "fault":
            h = self.pick(rng.choice([T, P, N]))
            if h:
                operation = rng.choice(OPERATIONS)
                status = ot.Status.FAILURE
                if operation == "initiate_offload":
                    status = rng.choice([ot.Status.FAILURE, ot.Status.RESOURCES])
                target.inject_fault(h[0], status, operation)
                self.faults += 1
        elif op == "remove":
            t.remove(self.pick(T, 3))
        elif op == "post":
            for tc in self.pick_offloaded(T, 2):
                t.send(tc, rng.randbytes(rng.randrange(0, 3000)))
        elif op == "ack":
            for tc in self.pick_offloaded(T, 1):
                # A query the target fails uploads the connection: its bytes count too.
                answer = t.query([tc])
                self.ledger.take(answer)
                d = answer.delegated(tc)
                in_flight = (d["snd_nxt"] - d["snd_una"]) % 2**32
                # Another thread may acknowledge first: then this is refused.
                window = rng.choice([None, None, 2000, 40000, 2**20])
                target.acknowledge(tc, rng.randrange(0, min(in_flight, 4000) + 1), window=window)
        elif op == "post_receive":
            # Whole tokens per request, so that every read returns whole tokens.
            for tc in self.pick_offloaded(T, 2):
                t.post_receive(tc, TOKEN * rng.randrange(1, 4))
        elif op == "peer_close":
            for tc in self.pick_offloaded(T, 1):
                target.peer_close(tc, abortive=rng.random() < 0.3)
        elif op == "disconnect":
            for tc in self.pick_offloaded(T, 1):
                result = t.disconnect(tc, abortive=rng.random() < 0.3)
        elif op == "read":
            for tc in self.pick(T, 3):
                data = t.read(tc)  # one at a time: a later call may fail on a race
                self.ledger.take_chunks([data])
        elif op == "receive_many":
            tcs = self.pick_offloaded(T, 4)
            tokens = []
            for _ in tcs:
                self.seq += 1
                tokens.append(f"{self.index:04x}{self.seq:012x}".encode())
            # All or nothing: a batch refused (a connection gone meanwhile) received none.
            taken = target.receive_many(tcs, b"".join(tokens), TOKEN)
            with self.ledger.lock:
                self.ledger.sent.update(t for t, n in zip(tokens, taken, strict=True) if n)
        elif op == "read_many":
            data, lengths = t.read_many(self.pick(T, 4))
            ends = list(itertools.accumulate(int(n) for n in lengths))
            self.ledger.take_chunks([data[a:b] for a, b in zip([0, *ends], ends, strict=False)])
        elif op == "advance":
            t.advance(rng.choice([1, 200, 1000, 30_001]))  # timers, reachability, push
        elif op == "pause":
            if target.stats()["paused"]:
                target.resume(tcp_capacity=rng.choice([None, self.cap * 4]))
            else:
                target.pause()
        elif op == "link_down":
            if rng.random() < 0.2:
                result = t.link_down()
        self.ledger.take(result)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.step_with_faults()
            except ot.OutOfMemoryError:
                self.out_of_memory += 1
            except KeyboardInterrupt:
                self.interrupted += 1  # a test interrupt: the call changed nothing
            except ot.OffloadTreeError:
                self.expected_errors += 1  # another thread changed the tree first
            except Exception as exc:  # any other error is the finding
                self.failures.append(f"{type(exc).__name__}: {exc}")
                return


def check_bytes(tree: Any, ledger: Ledger, final: bool) -> list[str]:
    """The byte accounting at a quiet moment; the problems found."""
    problems = []
    with ledger.lock:
        twice = [tok for tok, n in ledger.returned.items() if n > 1]
        stray = [tok for tok in ledger.returned if tok not in ledger.sent]
        outstanding = len(ledger.sent) - sum(1 for tok in ledger.sent if tok in ledger.returned)
        if twice:
            problems.append(f"{len(twice)} tokens came back more than once")
        if stray:
            problems.append(f"{len(stray)} returned tokens were never received")
        if ledger.bad_chunks:
            problems.append(f"{ledger.bad_chunks} returned chunks are not whole tokens")
    tstats, b = tree.target.stats(), tree.stats()["bytes"]
    held = (
        tstats["bytes_buffered"]
        + tstats["bytes_placed"]
        + tstats["bytes_non_offload"]
        + b["unread"]
        + b["discarded"]
    )
    if held != outstanding * TOKEN:
        problems.append(
            f"target holds and host keeps {held} bytes, {outstanding * TOKEN} not returned yet"
        )
    if final and outstanding * TOKEN != b["discarded"]:
        problems.append(f"{outstanding} tokens never came back ({b['discarded']} bytes removed)")
    return problems


def soak(seconds: float, phase: float, threads: int, backend: str, seed: int, cap: int) -> dict:
    """Run the soak; returns the summary (``ok`` says whether everything held)."""
    target = ot.SimulatedTarget(max_path_mtu=1500, tcp_capacity=cap // 2, fail_rate=0.02)
    tree = ot.OffloadStateTree(target, backend=backend)
    ledger = Ledger()
    workers = [Worker(i, tree, ledger, seed * 1000 + i, cap) for i in range(threads)]
    problems: list[str] = []
    phases = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not problems:
        stop = threading.Event()
        pool = [threading.Thread(target=w.run, args=(stop,)) for w in workers]
        for thread in pool:
            thread.start()
        time.sleep(min(phase, max(0.0, deadline - time.monotonic())))
        stop.set()
        for thread in pool:
            thread.join()
        phases += 1
        problems += [f for w in workers for f in w.failures]
        try:
            check_invariants(tree, target)
        except AssertionError as exc:
            problems.append(f"invariant broken after phase {phases}: {exc}")
        problems += check_bytes(tree, ledger, final=False)
    # The end: everything back to the host, every token exactly once.
    if target.stats()["paused"]:
        target.resume()
    ledger.take(tree.process_events())
    offloaded = [h for h in tree.handles(N).tolist() if tree.is_offloaded(h)]
    ledger.take(tree.terminate(offloaded, cascade=True))
    ledger.take(tree.process_events())
    ledger.take_chunks(tree.read(tc) for tc in tree.handles(T).tolist())
    problems += check_bytes(tree, ledger, final=True)
    ops = sum((w.ops for w in workers), collections.Counter())
    return {
        "ok": not problems,
        "problems": problems,
        "backend": backend,
        "threads": threads,
        "seconds": seconds,
        "phases": phases,
        "operations": sum(ops.values()),
        "by_operation": dict(sorted(ops.items())),
        "expected_errors": sum(w.expected_errors for w in workers),
        "faults_injected": sum(w.faults for w in workers),
        "calls_interrupted": sum(w.interrupted for w in workers),
        "calls_out_of_memory": sum(w.out_of_memory for w in workers),
        "tokens": len(ledger.sent),
        "bytes_checked": len(ledger.sent) * TOKEN,
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, soak, print the summary; 0 when everything held."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="total run time")
    parser.add_argument("--phase", type=float, default=5.0, help="seconds between checks")
    parser.add_argument("--threads", type=int, default=6)
    parser.add_argument("--backend", default=ot.BACKEND, choices=["native", "python"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cap", type=int, default=2000, help="at most this many connections")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    summary = soak(args.seconds, args.phase, args.threads, args.backend, args.seed, args.cap)
    if args.json:
        print(json.dumps(summary))
    else:
        for problem in summary["problems"]:
            print("PROBLEM:", problem)
        print(
            f"soak {summary['backend']}: {summary['threads']} threads x {summary['seconds']:g} s, "
            f"{summary['phases']} phases, {summary['operations']:,} operations "
            f"({summary['expected_errors']:,} refused by a race), "
            f"{summary['faults_injected']:,} faults injected, "
            f"{summary['calls_interrupted']:,} calls interrupted, "
            f"{summary['calls_out_of_memory']:,} out of memory, "
            f"{summary['bytes_checked']:,} bytes checked: {'OK' if summary['ok'] else 'FAILED'}"
        )
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
