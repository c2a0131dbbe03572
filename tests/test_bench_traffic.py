"""The traffic scenario of ``offload-tree bench --scenario traffic`` (bench/traffic.py): it
moves bytes both ways in batch calls, closes and uploads connections, checks that nothing
was lost, and a seed gives the same run on either backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _helpers import require_backend
from offload_tree.bench.traffic import TrafficConfig, TrafficResult, _Run, run_traffic
from test_cli import run_cli

SMALL = {"n": 2000, "ticks": 6}


def test_a_run_moves_bytes_both_ways_and_loses_none(backend: str) -> None:
    result = run_traffic(TrafficConfig(**SMALL, seed=3, backend=backend))
    assert result.ok, result.problems
    b, items = result.bytes, result.items
    assert b["posted"] > 0 and b["received"] > 0 and b["read"] > 0
    assert b["posted"] == b["acknowledged"] + b["send_returned"] + b["aborted"]
    assert b["received"] == b["delivered"] + b["receive_returned"]
    for step in ("send", "receive", "acknowledge", "post_receive", "read"):
        assert items[step] > 0, step
    # The closes happened, and their events were handled as the host stack would.
    for kind in ("DISCONNECT", "DISCONNECT_COMPLETE", "ABORT", "SEND_BACKLOG_CHANGE"):
        assert result.events[kind] > 0, kind
    assert items["disconnect"] > 0 and items["peer_rst"] > 0 and items["upload_request"] > 0


def test_a_seed_gives_the_same_run_on_both_backends() -> None:
    require_backend("native")
    native = run_traffic(TrafficConfig(**SMALL, seed=7, backend="native"))
    python = run_traffic(TrafficConfig(**SMALL, seed=7, backend="python"))
    assert native.same_run(python)
    other = run_traffic(TrafficConfig(**SMALL, seed=8, backend="native"))
    assert not native.same_run(other), "another seed moves other bytes"


def test_the_check_reports_a_lost_byte(backend: str) -> None:
    config = TrafficConfig(**SMALL, seed=1, backend=backend)
    result = TrafficResult(config)
    run = _Run(config, result)
    run.build()
    run.tick()
    run.result.bytes["posted"] += 1  # the scenario believes it sent one byte more
    sent = run.result.bytes["posted"]
    run.finish()
    assert not result.ok
    lost = "the bytes posted are the bytes the scenario sent: "
    assert [p for p in result.problems if p.startswith(lost)] == [lost + f"{sent - 1} != {sent}"]


@pytest.mark.parametrize("impls", ["native,python", "python"])
def test_the_cli_runs_the_scenario_and_writes_json(tmp_path: Path, impls: str) -> None:
    if "native" in impls:
        require_backend("native")
    proc = run_cli(
        "bench", "--scenario", "traffic", "--sizes", "1000", "--ticks", "4", "--seed", "5",
        "--impls", impls, "--no-progress", "--out", str(tmp_path), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "traffic.json").read_text())
    assert [run["config"]["backend"] for run in doc] == impls.split(",")
    for run in doc:
        assert run["ok"] and run["problems"] == []
        assert run["config"] == {**run["config"], "n": 1000, "ticks": 4, "seed": 5}
        assert run["bytes"]["posted"] > 0 and run["events_per_second"] > 0
    assert proc.stdout.count("check: nothing lost") == len(doc)
    if impls == "native,python":
        assert "N=1,000: native and python moved the same bytes and events" in proc.stdout


def test_the_cli_refuses_a_baseline_for_the_traffic_scenario() -> None:
    proc = run_cli("bench", "--scenario", "traffic", "--impls", "numpy")
    assert proc.returncode == 2
    assert "the traffic scenario runs offload-tree's backends only, not numpy" in proc.stderr
