"""Traces (docs/DESIGN.md §12b): ``tree.record`` logs every changing call with its result;
``offload_tree.replay`` re-executes the log on either backend and must meet every recorded
result. Saved traces in ``tests/traces`` are regression cases, replayed on both backends.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import offload_tree as ot
import pytest
from _helpers import BACKENDS, require_backend, snapshot
from _ops import TARGET_CONFIGS, PoolInfo, World, apply, operations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TRACES = Path(__file__).parent / "traces"


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)  # fmt: skip
@given(data=st.data())
def test_a_replay_meets_every_recorded_result(backend: str, data: Any) -> None:
    world = World(backend, data.draw(TARGET_CONFIGS))
    for step in range(data.draw(st.integers(0, 10))):
        apply(world, data.draw(operations(PoolInfo.of(world), step + 1)))
    log = io.StringIO()
    with world.tree.record(log):
        for step in range(data.draw(st.integers(1, 25))):
            op = data.draw(operations(PoolInfo.of(world), 50 + step))
            if op[0] == "round_trip":
                continue  # a copy is another tree, which this recording does not follow
            apply(world, op)
    # Once: reading the snapshot queries the tree, which counts in its statistics.
    expected = snapshot(world.tree, world.target)
    for replay_backend in BACKENDS:
        require_backend(replay_backend)
        replayed = ot.replay(io.StringIO(log.getvalue()), backend=replay_backend)
        assert snapshot(replayed, replayed.target) == expected


def test_recording_logs_calls_and_stops(make_pair: Any) -> None:
    tree, target = make_pair()
    log = io.StringIO()
    recording = tree.record(log)
    nb = tree.add_neighbor(mac=1)
    tree.state(nb)  # a read: not recorded
    with pytest.raises(ot.ValidationError):
        tree.add_path(nb, source="10.0.0.1", destination="nowhere")
    recording.close()
    tree.add_neighbor(mac=2)  # after close: not recorded
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    assert lines[0]["format"] == "offload-tree trace" and "snapshot" in lines[0]
    assert [line["call"] for line in lines[1:]] == ["add_neighbor", "add_path"]
    assert lines[1]["result"] == nb
    assert lines[2]["error"][0] == "ValidationError"
    assert type(tree) is ot.OffloadStateTree and type(target) is ot.SimulatedTarget


def test_a_second_recording_is_refused(tree: Any) -> None:
    with tree.record(io.StringIO()), pytest.raises(ot.StateError, match="already recording"):
        tree.record(io.StringIO())


def test_a_replay_that_differs_names_the_line(make_pair: Any) -> None:
    tree, target = make_pair()
    log = io.StringIO()
    with tree.record(log):
        nb = tree.add_neighbor(mac=1)
        pa = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
        tc = tree.add_tcp(pa, local_port=1, remote_port=2)
        tree.initiate_offload([tc])
        target.receive(tc, b"abc")
    lines = log.getvalue().splitlines()
    record = json.loads(lines[5])
    record["args"][1] = {"$bytes": "YWJjZA=="}  # b"abcd": the target takes 4 bytes, not 3
    lines[5] = json.dumps(record)
    with pytest.raises(ot.ReplayError, match=r"line 6 \(target.receive\): recorded"):
        ot.replay(io.StringIO("\n".join(lines)))
    with pytest.raises(ot.ReplayError, match="not an offload-tree trace"):
        ot.replay(io.StringIO('{"hello": 1}\n'))
    with pytest.raises(ot.ReplayError, match="line 3 is not JSON"):
        ot.replay(io.StringIO("\n".join([*lines[:2], lines[2][:10]])))


def test_arguments_of_every_shape_come_back(make_pair: Any) -> None:
    tree, target = make_pair()
    log = io.StringIO()
    with tree.record(log):
        nbs = tree.add_neighbors(np.array([1, 2], dtype=np.uint64))
        pas = tree.add_paths(nbs, ["10.0.0.1", "10.0.0.3"], (f"10.0.0.{i}" for i in (5, 6)))
        tcs = tree.add_tcps(pas, [1, 2], range(3, 5))
        tree.initiate_offload(tcs, buffered_data={int(tcs[0]): b"hi"})
        tree.send_many(tcs, b"abcd", [1, 3])
        tree.policy = ot.HostPolicy(offload_rules=(ot.OffloadRule(False, remote_ports=(1, 9)),))
    replayed = ot.replay(io.StringIO(log.getvalue()))
    assert snapshot(replayed, replayed.target) == snapshot(tree, target)
    assert replayed.policy == tree.policy


@pytest.mark.parametrize("path", sorted(TRACES.glob("*.jsonl")), ids=lambda p: p.stem)
def test_saved_traces_replay_on_both_backends(path: Path) -> None:
    finals = []
    for backend in BACKENDS:
        require_backend(backend)
        tree = ot.replay(path, backend=backend)
        finals.append(snapshot(tree, tree.target))
    assert finals[0] == finals[1]


def test_there_are_saved_traces() -> None:
    assert len(list(TRACES.glob("*.jsonl"))) >= 1


def _small_trace(tree: Any, target: Any) -> list[str]:
    log = io.StringIO()
    with tree.record(log):
        nb = tree.add_neighbor(mac=1)
        pa = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
        tree.add_tcp(pa, local_port=1, remote_port=2)
    return log.getvalue().splitlines()


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda lines: [json.dumps({**json.loads(lines[0]), "snapshot": "@@@"}), *lines[1:]],
         "snapshot is not base64"),
        (lambda lines: [*lines[:2], '{"on": "tree", "call": "send=", "args": []}'],
         r"tree.send= is not a call a trace records"),
        (lambda lines: [*lines[:2], '{"on": "tree", "call": "add_neighbor", "args": 5}'],
         "arguments are not a list"),
        (lambda lines: [*lines[:2],
                        '{"on": "tree", "call": "add_neighbor", "args": [], "kwargs": '
                        '{"$dict": [["nope", 1]]}, "result": 1}'],
         "cannot take its arguments"),
        (lambda lines: [*lines[:2], '{"on": "tree", "call": "add_neighbor", "args": '
                        '[{"$array": ["object", [1], ""]}], "result": 1}'],
         "numbers and flags only"),
        (lambda lines: [*lines[:2], "[" * 100_000 + "]" * 100_000], "line 3 is not JSON"),
    ],
)  # fmt: skip
def test_a_damaged_trace_is_a_replay_error(make_pair: Any, damage: Any, match: str) -> None:
    lines = _small_trace(*make_pair())
    with pytest.raises(ot.ReplayError, match=match):
        ot.replay(io.StringIO("\n".join(damage(lines))), check=False)


def test_a_trace_that_is_not_utf8_is_a_replay_error(make_pair: Any, tmp_path: Any) -> None:
    lines = _small_trace(*make_pair())
    path = tmp_path / "bad.jsonl"
    path.write_bytes("\n".join(lines[:2]).encode() + b"\n\xff\xfe\n")
    with pytest.raises(ot.ReplayError, match="the trace is not UTF-8"):
        ot.replay(path)


def test_a_refused_call_with_an_unrecordable_argument_does_not_spoil_the_trace(
    make_pair: Any,
) -> None:
    """The call changed nothing, so the replay goes on past it and meets what followed."""

    class Weird:
        def __index__(self) -> int:
            raise RuntimeError("boom")

    tree, _target = make_pair()
    log = io.StringIO()
    with tree.record(log):
        nb = tree.add_neighbor(mac=1)
        pa = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
        with pytest.raises(ot.ValidationError):
            tree.add_tcp(pa, Weird(), 2)
        tc = tree.add_tcp(pa, local_port=7, remote_port=8)
    replayed = ot.replay(io.StringIO(log.getvalue()))
    assert len(replayed) == 3
    assert replayed.handles().tolist()[-1] & ((1 << 48) - 1) == tc & ((1 << 48) - 1)
