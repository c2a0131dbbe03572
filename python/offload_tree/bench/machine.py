"""What the numbers were measured on: CPU, cores, memory, and the software versions.

Written into results.json and, for the full run, benches/results/MACHINE.md, because a
benchmark figure without its machine cannot be compared with anything.
"""

from __future__ import annotations

import importlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any


def _read(path: str) -> str:
    """A file's text, or "" where it cannot be read (non-Linux systems)."""
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def cpu_model() -> str:
    """The CPU model name (/proc/cpuinfo on Linux, ``platform.processor()`` elsewhere)."""
    for line in _read("/proc/cpuinfo").splitlines():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def memory_bytes() -> int | None:
    """Total physical memory in bytes (MemTotal), or None if unknown."""
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def _version(module: str) -> str | None:
    """``module.__version__`` if the module imports, else None."""
    try:
        mod = importlib.import_module(module)
    except Exception:  # a missing or broken optional module is just "not installed"
        return None
    return str(getattr(mod, "__version__", "unknown"))


def _command_output(*cmd: str) -> str | None:
    """First line of a command's stdout, or None when the command is missing or fails."""
    if shutil.which(cmd[0]) is None:
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = out.stdout.strip().splitlines()
    return lines[0] if out.returncode == 0 and lines else None


def _offload_tree_info() -> dict[str, Any]:
    """Version, default backend and whether the native module imports."""
    info: dict[str, Any] = {"version": None, "default_backend": None, "native": False}
    try:
        ot = importlib.import_module("offload_tree")
    except Exception as exc:
        info["error"] = repr(exc)
        return info
    info["version"] = getattr(ot, "__version__", None)
    info["path"] = None if ot.__file__ is None else str(Path(ot.__file__).resolve().parent)
    info["default_backend"] = getattr(ot, "BACKEND", None)
    try:
        importlib.import_module("offload_tree._native")
        info["native"] = True
    except Exception:
        info["native"] = False
    return info


def machine_info() -> dict[str, Any]:
    """Everything MACHINE.md shows, as a JSON-ready dict."""
    affinity = None
    if hasattr(os, "sched_getaffinity"):
        affinity = len(os.sched_getaffinity(0))
    # The source checkout: the one this package sits in, else the working directory (an
    # installed package run from the checkout by benches/run.py).
    candidates = [Path(__file__).resolve().parents[3], Path.cwd()]
    repo = next((c for c in candidates if (c / ".git").exists()), None)
    commit = None
    if repo is not None:
        commit = _command_output("git", "-C", str(repo), "rev-parse", "--short", "HEAD")
        dirty = _command_output("git", "-C", str(repo), "status", "--porcelain", "-uno")
        if commit and dirty:
            commit += " (with uncommitted changes)"
    return {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": affinity,
        "memory_bytes": memory_bytes(),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "python_executable": sys.executable,
        "numpy": _version("numpy"),
        "rustc": _command_output("rustc", "--version"),
        "offload_tree": _offload_tree_info(),
        "networkx": _version("networkx"),
        "rustworkx": _version("rustworkx"),
        "matplotlib": _version("matplotlib"),
        "psutil": _version("psutil"),
        "git_commit": commit,
        "load_average": load_average(),
    }


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, or None where the OS has none.

    Recorded because a busy machine inflates every timing: a figure taken at load 4 on two
    cores is not comparable with one taken on an idle machine.
    """
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def busy_warning(threshold: float = 0.5) -> str | None:
    """A warning when the 1-minute load is above ``threshold`` per CPU, else None."""
    load = load_average()
    cpus = os.cpu_count() or 1
    if load is None or load[0] <= threshold * cpus:
        return None
    return (
        f"the machine is busy (load average {load[0]:.1f} on {cpus} CPUs): other processes "
        "compete for the CPU and the timings will be inflated"
    )


def machine_markdown(info: dict[str, Any], run: dict[str, Any] | None = None) -> str:
    """MACHINE.md: the machine and software table, then how the run was started (``run``:
    ``command``, ``started``, ``elapsed_s``)."""
    mem = info.get("memory_bytes")
    mem_text = f"{mem / 2**30:.1f} GiB" if mem else "unknown"
    ot = info.get("offload_tree") or {}
    rows = [
        ("CPU", info.get("cpu_model")),
        ("Logical CPUs (usable)", f"{info.get('logical_cpus')} ({info.get('usable_cpus')})"),
        ("Memory", mem_text),
        ("OS", info.get("os")),
        ("Python", info.get("python")),
        ("NumPy", info.get("numpy")),
        ("Rust compiler", info.get("rustc") or "not found"),
        ("offload-tree", f"{ot.get('version')} (native module: "
                         f"{'yes' if ot.get('native') else 'no'})"),
        ("networkx", info.get("networkx") or "not installed"),
        ("rustworkx", info.get("rustworkx") or "not installed"),
        ("matplotlib", info.get("matplotlib") or "not installed"),
        ("Git commit", info.get("git_commit") or "unknown"),
        ("Load average at start (1/5/15 min)", _fmt_load(info.get("load_average_start"))),
        ("Load average at end (1/5/15 min)", _fmt_load(info.get("load_average"))),
    ]  # fmt: skip
    lines = ["# Benchmark machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    if run:
        lines += [
            "",
            "## Run",
            "",
            f"- Command: `{run.get('command')}`",
            f"- Started: {run.get('started')} (UTC), took {run.get('elapsed_s', 0):.0f} s",
            "- Each figure: median of the repeats (`time.perf_counter_ns`, garbage collector "
            "disabled while timing); results.json has every raw time.",
        ]
    return "\n".join(lines) + "\n"


def _fmt_load(load: list[float] | None) -> str:
    """``0.12 / 0.30 / 0.25`` or "unknown"."""
    return " / ".join(f"{x:.2f}" for x in load) if load else "unknown"
