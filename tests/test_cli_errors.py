"""The ``offload-tree`` command's errors, as a user meets them: one line, the right usage, a
non-zero exit; and the bench's peak-RSS line, which reads plainly at every N."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import offload_tree as ot
import pytest
from offload_tree._cli import main
from offload_tree.bench.report import format_bytes, render_memory

PACKAGE_PARENT = Path(ot.__file__).resolve().parents[1]
#: The console script next to this interpreter, when the package is installed with it.
SCRIPT = Path(sys.executable).parent / "offload-tree"


def _run(command: list[str], backend: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["OFFLOAD_TREE_BACKEND"] = backend
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PACKAGE_PARENT), env.get("PYTHONPATH", "")) if p
    )
    return subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=120, check=False
    )


def _commands() -> list[list[str]]:
    module = [sys.executable, "-m", "offload_tree"]
    forms = [module, [sys.executable, "-m", "offload_tree.__main__"]]
    if SCRIPT.is_file():
        forms.append([str(SCRIPT)])
    return forms


@pytest.mark.parametrize("args", [["--version"], ["bench", "--quick"], ["demo"], []])
def test_a_bogus_backend_is_one_line_not_a_traceback(args: list[str]) -> None:
    for command in _commands():
        proc = _run([*command, *args], "bogus")
        assert proc.returncode != 0, (command, proc.stdout)
        assert proc.stdout == ""
        assert proc.stderr.splitlines() == [
            "offload-tree: error: OFFLOAD_TREE_BACKEND must be 'native' or 'python', got 'bogus'"
        ], (command, proc.stderr)


def test_a_program_importing_the_package_still_gets_the_import_error() -> None:
    """Only the command shortens the refusal: a program sees the ImportError it can catch."""
    proc = _run([sys.executable, "-c", "import offload_tree"], "bogus")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr
    assert proc.stderr.rstrip().endswith(
        "ImportError: OFFLOAD_TREE_BACKEND must be 'native' or 'python', got 'bogus'"
    )


@pytest.mark.parametrize(
    ("args", "usage", "message"),
    [
        (["bench", "--quick", "--full"], "bench", "--quick and --full exclude each other"),
        (["bench", "--threads", "0"], "bench", "--threads must be at least 1, got 0"),
        (["bench", "--scenario", "traffic", "--impls", "numpy"], "bench", "only, not numpy"),
        (["draw", "--partial", "--snapshot", "x.ots"], "draw", "offload-demo, not --snapshot"),
        (["draw", "-o", "tree.pdf"], "draw", "name the output .dot, .svg or .png"),
    ],
)
def test_an_error_after_parsing_shows_the_commands_usage(
    capsys: pytest.CaptureFixture[str], args: list[str], usage: str, message: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: offload-tree {usage} [-h]")
    assert err.rstrip().endswith(message)
    assert f"offload-tree {usage}: error: " in err


# --- the peak-RSS line ---------------------------------------------------------------------


def _probe(n: int, before: int, peak: int, host: float | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"impl": "native", "n": n, "rss_before_bytes": before,
                              "peak_rss_bytes": peak}  # fmt: skip
    if host is not None:
        record["host_tree_bytes_per_connection"] = host
    return record


def test_format_bytes_picks_the_unit() -> None:
    assert format_bytes(846) == "846 B"
    assert format_bytes(4681 * 10) == "45.7 KiB"
    assert format_bytes(42.3 * 2**20) == "42.3 MiB"
    assert format_bytes(1.73 * 2**30) == "1.73 GiB"
    assert format_bytes(846 * 2**20) == "846 MiB"


def test_at_small_n_the_line_gives_no_figure_per_connection() -> None:
    """At N=10 the interpreter is the peak: nothing is divided by N."""
    line = render_memory([_probe(10, 44_118_016, 45_215_744, host=109_772.8)])
    assert line == (
        "peak RSS native    N=10     43.1 MiB: 42.1 MiB before the build (interpreter, NumPy, "
        "input arrays) and 1.05 MiB for build + offload: too little at this N to give per "
        "connection"
    )


def test_while_the_baseline_outweighs_the_tree_figures_are_upper_bounds() -> None:
    line = render_memory([_probe(10_000, 39_108_608, 48_177_152, host=697.1392)])
    assert "8.65 MiB for build + offload: at most 907 B/connection at this N" in line
    assert "the host tree alone: at most 697 B/connection" in line
    assert "counting everything" not in line


def test_at_large_n_the_line_counts_everything_too() -> None:
    line = render_memory([_probe(10**7, 282_066_944, 1_857_574_912, host=112.9)])
    assert line == (
        "peak RSS native    N=10^7   1.73 GiB: 269 MiB before the build (interpreter, NumPy, "
        "input arrays) and 1.47 GiB for build + offload: 158 B/connection (the host tree "
        "alone: 113 B/connection; 186 B/connection counting everything)"
    )


def test_a_probe_that_failed_says_so() -> None:
    line = render_memory([{"impl": "numpy", "n": 10**6, "error": "memory probe: timed out"}])
    assert line == "peak RSS numpy     N=10^6   not measured: memory probe: timed out"
