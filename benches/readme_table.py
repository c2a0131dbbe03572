#!/usr/bin/env python
"""Rewrite (or check) the README's benchmark table from benches/results/results.json.

The table lives between the marker comments ``<!-- bench-table:start -->`` and
``<!-- bench-table:end -->`` in README.md; :func:`offload_tree.bench.report.render_readme_table`
renders it. ``python benches/readme_table.py`` rewrites it; ``--check`` exits 1 (and prints
the expected table) when the README does not match results.json, which tests/test_cli.py
runs so that CI catches a stale table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main(argv: list[str] | None = None) -> int:
    """Rewrite or check the README table; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if stale")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--results", type=Path, default=HERE / "results" / "results.json")
    args = parser.parse_args(argv)
    try:
        from offload_tree.bench import report
    except ImportError:
        sys.path.insert(0, str(ROOT / "python"))
        from offload_tree.bench import report

    text = args.readme.read_text()
    try:
        expected = report.readme_with_table(text, args.results)
    except ValueError as exc:
        print(f"readme_table: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if expected != text:
            print(
                f"readme_table: the table in {args.readme.name} does not match "
                f"{args.results.name}; run python benches/readme_table.py. Expected:\n"
                + report.render_readme_table(report.load_result(args.results)),
                file=sys.stderr,
            )
            return 1
        print(f"{args.readme.name}: the benchmark table matches {args.results.name}")
        return 0
    if expected != text:
        args.readme.write_text(expected)
        print(f"rewrote the benchmark table in {args.readme}")
    else:
        print(f"{args.readme.name}: the benchmark table is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
