#!/usr/bin/env python
"""Run the full benchmark matrix and write benches/results/.

N = 10^4, 10^5, 10^6 for every implementation (native, NumPy baseline, pure-Python fallback,
rustworkx, networkx, plain dicts) and 10^7 for the native backend and the NumPy baseline, each
figure the median and min-max of several repeats (implementations alternating within each);
the result comparison against native; peak-memory probes; the performance targets. Writes
benches/results/results.json, benches/results/plot.png and benches/results/MACHINE.md; then
``python benches/readme_table.py`` puts the new figures into the README. Extra arguments go to
``offload-tree bench --full`` (for instance ``--impls native,rustworkx`` or ``--repeats 5``).

Usage: ``python benches/run.py`` after ``pip install '.[bench]'`` (or ``maturin develop
--release`` plus the [bench] packages). Takes roughly 10-15 minutes on a 2-core machine.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# NumPy's OpenBLAS starts helper threads that can spin on the second core of a 2-core machine;
# nothing here does linear algebra, so keep BLAS single-threaded (must precede numpy's import).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Run ``offload-tree bench --full --out benches/results`` plus any extra arguments."""
    try:
        from offload_tree._cli import main as cli_main
    except ImportError:
        # Not installed: use the source checkout. Only then, since an installed copy carries
        # the compiled native module while the source tree may not.
        sys.path.insert(0, str(HERE.parent / "python"))
        from offload_tree._cli import main as cli_main
    extra = sys.argv[1:]
    return cli_main(
        ["bench", "--full", "--out", str(HERE / "results"), *extra],
        command_line=" ".join(["python benches/run.py", *extra]),
    )


if __name__ == "__main__":
    sys.exit(main())
