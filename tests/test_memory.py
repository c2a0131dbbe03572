"""Leaks: building and dropping large trees again and again does not make memory grow.

Each test runs ``benches/leak_check.py`` (the documented command) in a fresh interpreter, so
that memory held by other tests cannot blur the figures. A cycle builds a tree, offloads it,
moves traffic, terminates and removes everything and drops the tree.

- Resident memory (native engine, the wheel's mimalloc): RSS after cycle K stays within a
  small bound of RSS after the first cycle; mimalloc keeps freed pages for reuse, so "back
  to baseline" means "no growth per cycle", not "back to the pre-build figure". With
  ``MIMALLOC_PURGE_DELAY=0`` (freed pages returned at once) it is the pre-build figure.
- Python-traced memory (``tracemalloc``, both engines): exact, so the bound is tight. It is
  the measure for the fallback, whose RSS drifts up for a while as pymalloc arenas fragment.
- The check itself can fail: with ``--keep`` (every tree kept alive) it reports growth.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benches" / "leak_check.py"
MIB = 2**20


def leak_check(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """Run the leak check with ``--json`` (``env`` added to the environment); its exit code
    and report."""
    if not SCRIPT.exists():
        pytest.skip(f"{SCRIPT} is not there (not a source checkout)")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


# Native only: the fallback's RSS drifts up for ~20 cycles as pymalloc and NumPy arenas
# fragment, which a short test cannot tell from a small leak; its traced-memory test below is
# exact.
@pytest.mark.parametrize("backend", ["native"], indirect=True)
def test_resident_memory_does_not_grow_per_cycle(backend: str) -> None:
    code, report = leak_check(
        "--backend", backend, "--cycles", "10", "--n", "500000", "--threshold-mb", "32"
    )
    cycles = report["cycles"]
    after = [c["after"] for c in cycles]
    # the trees were large enough that keeping one per cycle would show
    assert cycles[0]["peak"] - report["baseline"] > 64 * MIB
    assert code == 0 and report["ok"], f"RSS grew by {report['growth'] / MIB:.1f} MiB: {after}"
    assert after[-1] - after[0] <= 32 * MIB, f"RSS per cycle: {after}"


# Native only: the purge setting is mimalloc's, the native engine's allocator.
@pytest.mark.parametrize("backend", ["native"], indirect=True)
def test_resident_memory_returns_to_baseline_when_freed_pages_are_purged(backend: str) -> None:
    """With mimalloc told to return freed pages at once, RSS falls back after every drop."""
    args = ["--backend", backend, "--cycles", "5", "--n", "500000"]
    code, report = leak_check(*args, env={"MIMALLOC_PURGE_DELAY": "0"})
    baseline = report["baseline"]
    after = [(c["after"] - baseline) / MIB for c in report["cycles"]]
    peaks = [(c["peak"] - baseline) / MIB for c in report["cycles"]]
    assert code == 0
    assert all(p > 64 for p in peaks)
    # Most of each tree goes back; what stays (NumPy's temporaries in the C heap, the
    # allocator's bookkeeping) grows with N but stays well under half of the tree. Without
    # the purge the pages stay and this ratio is about 1.
    assert all(a <= p / 2 for a, p in zip(after, peaks, strict=True)), (
        f"MiB above the baseline after each drop {after}, at the peak {peaks}"
    )


def test_python_allocations_do_not_grow_per_cycle(backend: str) -> None:
    n = "5000" if backend == "python" else "100000"
    args = ["--measure", "traced", "--cycles", "6", "--n", n, "--threshold-mb", "0.25"]
    code, report = leak_check("--backend", backend, *args)
    cycles = report["cycles"]
    after = [c["after"] for c in cycles]
    assert code == 0 and report["ok"], f"traced memory per cycle: {after}"
    assert max(after) - min(after) <= MIB // 4, f"traced memory per cycle: {after}"
    if backend == "python":  # every Python object of the tree was allocated, then freed
        assert all(c["peak"] - c["after"] > 2 * MIB for c in cycles)


def test_the_leak_check_catches_a_deliberate_leak(backend: str) -> None:
    if backend == "native":
        args = ["--measure", "rss", "--n", "500000", "--threshold-mb", "32"]
    else:
        args = ["--measure", "traced", "--n", "5000", "--threshold-mb", "0.25"]
    code, report = leak_check("--backend", backend, "--keep", "--cycles", "4", *args)
    assert code == 1 and not report["ok"]
    assert report["growth"] > report["threshold"]
