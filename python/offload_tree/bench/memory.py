"""Peak memory of W(N): a fresh subprocess builds the tree and offloads everything.

A subprocess, because peak RSS (``VmHWM``) only ever grows: measured in the benchmark process it
would report whatever the largest earlier run needed. The child reads its own RSS after the
workload input is ready (the baseline) and its peak after build + offload_all, and prints one
JSON object. Run by hand: ``python -m offload_tree.bench.memory native 1000000``.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

_STATUS = Path("/proc/self/status")


def _status_kib(key: str) -> int | None:
    """A ``kB`` field of /proc/self/status (Linux), in KiB; None where it does not exist."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def current_rss() -> int:
    """Resident set size now, in bytes (``VmRSS``; psutil where /proc is missing)."""
    kib = _status_kib("VmRSS")
    if kib is not None:
        return kib * 1024
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        return 0


def peak_rss() -> int:
    """Peak resident set size of this process so far, in bytes.

    ``VmHWM`` on Linux; elsewhere ``getrusage`` (``ru_maxrss`` is KiB on Linux, bytes on macOS).
    """
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib * 1024
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs); True if it did."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def measure_here(impl: str, n: int) -> dict[str, Any]:
    """In this process: prepare W(n), then build and offload it, and report RSS figures.

    ``rss_before`` already holds the interpreter, NumPy and the workload's input arrays (about
    24 bytes per connection), so ``tree_bytes_per_connection`` = (peak - before) / N is what the
    implementation itself needed; ``peak_bytes_per_connection`` = peak / N counts everything.
    """
    from offload_tree.bench.adapters import adapter_class
    from offload_tree.bench.workload import make_workload

    cls = adapter_class(impl)
    reason = cls.unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"{impl} unavailable: {reason}")
    workload = make_workload(n)
    adapter = cls()
    adapter.prepare(workload)
    adapter.reset()
    gc.collect()
    reset = _reset_peak()
    before = current_rss()
    adapter.build()
    after_build = current_rss()
    result = adapter.offload_all()
    after = current_rss()  # tree + target + the offload result (block list) the caller holds
    peak = peak_rss()
    del result
    # With the peak reset, peak - before is what building and offloading needed at most;
    # without the reset, the import-time peak can only be below the tree's, so it still holds.
    return {
        "impl": impl,
        "n": n,
        "objects": workload.total_objects,
        "rss_before_bytes": before,
        "rss_after_build_bytes": after_build,
        "rss_after_bytes": after,
        "peak_rss_bytes": peak,
        "peak_reset": reset,
        "peak_bytes_per_connection": peak / n,
        "tree_bytes_per_connection": max(0, peak - before) / n,
        "resident_bytes_per_connection": max(0, after - before) / n,
        "host_tree_bytes_per_connection": max(0, after_build - before) / n,
    }


def probe(impl: str, n: int, timeout: float = 900.0) -> dict[str, Any]:
    """Run :func:`measure_here` in a fresh interpreter and return its JSON record."""
    env = dict(os.environ)
    # No BLAS helper threads in the child: they add memory and nothing here uses them.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    # The child must import the same offload_tree as this process (a source checkout on
    # PYTHONPATH, or the installed package), so put this package's parent first.
    here = str(Path(__file__).resolve().parents[2])
    if "site-packages" not in here:  # an installed package is found without help
        env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "offload_tree.bench.memory", impl, str(n)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"memory probe exited with {proc.returncode}: {tail}")
    record: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return record


def main(argv: list[str] | None = None) -> int:
    """``python -m offload_tree.bench.memory IMPL N``: print one JSON record."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m offload_tree.bench.memory IMPL N", file=sys.stderr)
        return 2
    print(json.dumps(measure_here(args[0], int(args[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
