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
    repo = Path(__file__).resolve().parents[3]
    commit = None
    if (repo / ".git").exists():
        commit = _command_output("git", "-C", str(repo), "rev-parse", "--short", "HEAD")
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
    }


def machine_markdown(info: dict[str, Any]) -> str:
    """MACHINE.md: the machine and software table."""
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
    ]  # fmt: skip
    lines = ["# Benchmark machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines) + "\n"
