"""The ``offload-tree`` console command (also ``python -m offload_tree``).

Commands:

* ``offload-tree bench`` — time W(N) (N connections, N/100 paths, N/1000 neighbors) on the
  native backend, the pure-Python fallback and the baselines (NumPy, rustworkx, networkx,
  python-igraph, plain dicts), show a progress bar, print a table, write results.json and
  plot.png. ``--full`` runs the whole matrix N = 10^4..10^6 (+10^7 native) with peak-memory
  probes and MACHINE.md.
* ``offload-tree demo`` — the source page's example tree, Neighbor1 -> Path1 (TCP1, TCP2),
  Path2 (TCP3), printed as an indented block list, then offloaded with each block's status.

Output meant for reading (tables, the demo) goes to stdout; progress and notes go to stderr, so
``offload-tree bench > table.txt`` keeps the table clean.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Sizes of a plain ``offload-tree bench``: about a minute on a 2-core machine.
DEFAULT_SIZES: tuple[int, ...] = (10**4, 10**5)
#: Sizes of ``--quick``: a smoke run of a few seconds.
QUICK_SIZES: tuple[int, ...] = (10**4,)
QUICK_REPEATS = 3
#: Sizes of ``--full`` (benches/run.py); 10^7 runs on the native backend only (caps).
FULL_SIZES: tuple[int, ...] = (10**4, 10**5, 10**6, 10**7)
DEFAULT_OUT = "bench-results"
#: The traffic scenario's sizes: by default, with --quick and with --full.
TRAFFIC_SIZES: tuple[int, ...] = (10**5,)
TRAFFIC_QUICK_SIZES: tuple[int, ...] = (10**4,)
TRAFFIC_FULL_SIZES: tuple[int, ...] = (10**4, 10**5, 10**6)
#: The largest N at which the traffic scenario runs the python backend unless asked.
TRAFFIC_PYTHON_MAX = 10**5

_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)(?:(e|\^|\*\*)(\d+)|([kKmMgG]))?$")
_SUFFIX = {"k": 10**3, "m": 10**6, "g": 10**9}


def parse_size(text: str) -> int:
    """One size: ``10000``, ``1e4``, ``10^4``, ``10**4``, ``10k``, ``1M`` or ``1_000_000``.

    Raises ``argparse.ArgumentTypeError`` with a message naming the bad value.
    """
    token = text.strip().replace("_", "")
    match = _SIZE_RE.match(token)
    if not match:
        raise argparse.ArgumentTypeError(
            f"invalid size {text!r}: use integers like 10000, 1e4, 10^4 or 10k"
        )
    mantissa, op, exponent, suffix = match.groups()
    value = float(mantissa)
    if op == "e":
        value *= 10 ** int(exponent)
    elif op in ("^", "**"):
        value = value ** int(exponent)
    elif suffix:
        value *= _SUFFIX[suffix.lower()]
    if value != int(value) or value < 1:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: N must be a positive integer")
    if value > 10**9:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: N above 10^9 is not supported")
    return int(value)


def parse_sizes(text: str) -> list[int]:
    """A comma-separated list of sizes (see :func:`parse_size`), sorted, duplicates dropped."""
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("--sizes needs at least one size")
    return sorted({parse_size(p) for p in parts})


def parse_impls(text: str) -> list[str]:
    """A comma-separated list of implementation names, or ``all``; returned in table order."""
    from offload_tree.bench.adapters import ADAPTERS

    names = [p.strip().lower() for p in text.split(",") if p.strip()]
    if not names:
        raise argparse.ArgumentTypeError("--impls needs at least one implementation")
    if "all" in names:
        return list(ADAPTERS)
    unknown = [n for n in names if n not in ADAPTERS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown implementation(s) {', '.join(unknown)}; choose from "
            f"{', '.join(ADAPTERS)} or all"
        )
    return [n for n in ADAPTERS if n in names]


def positive_int(text: str) -> int:
    """An integer >= 1 (for ``--repeats``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: expected an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``offload-tree`` command."""
    parser = argparse.ArgumentParser(
        prog="offload-tree",
        description="The TCP chimney offload state tree: benchmarks and a demo.",
    )
    parser.add_argument("--version", action="store_true", help="print version and backend")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    bench = sub.add_parser(
        "bench",
        help="time W(N) on every implementation; print a table, write JSON and a plot",
        description=(
            "Time the workload W(N) -- N TCP connections, N/100 paths, N/1000 neighbors -- "
            "build, walk, offload all, query all, update every path MTU, cascade-terminate 1% "
            "of the neighbors, on offload-tree's native and pure-Python backends and on the "
            "baselines a vectorised NumPy implementation, rustworkx, networkx, python-igraph and "
            "plain Python dicts, whose results are checked against native's. Each figure is the "
            "median of several runs in this process, with its min-max."
        ),
    )
    bench.add_argument(
        "--sizes", type=parse_sizes, metavar="N[,N...]",
        help="sizes to run (default 10^4,10^5; --quick 10^4; --full 10^4..10^7); "
             "accepts 10000, 1e4, 10^4, 10k",
    )  # fmt: skip
    bench.add_argument(
        "--impls", type=parse_impls, metavar="NAME[,NAME...]",
        help="implementations: native, numpy, python, rustworkx, networkx, igraph, dicts, or all "
        "(default)",
    )  # fmt: skip
    bench.add_argument(
        "--repeats", type=positive_int, metavar="R",
        help="repeats per figure (default by N: 7 up to 10^4, 5 up to 10^6, then 3)",
    )  # fmt: skip
    bench.add_argument(
        "--out", type=Path, default=None, metavar="DIR",
        help=f"directory for results.json and plot.png (default ./{DEFAULT_OUT}; with --full "
        "in the source checkout, benches/results)",
    )  # fmt: skip
    bench.add_argument("--no-plot", action="store_true", help="do not write plot.png")
    bench.add_argument(
        "--quick", action="store_true",
        help=f"a smoke run: N=10^4 unless --sizes, {QUICK_REPEATS} repeats, no memory probe",
    )  # fmt: skip
    bench.add_argument(
        "--full", action="store_true",
        help="the full matrix N=10^4..10^6 (+10^7 native only), peak-memory probes, "
             "performance targets and MACHINE.md (what benches/run.py runs)",
    )  # fmt: skip
    bench.add_argument(
        "--no-memory", action="store_true", help="skip the peak-RSS subprocess probes"
    )
    bench.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    bench.add_argument(
        "--threads", type=int, default=1, metavar="T",
        help="threads offload-tree's trees may use (default 1; results do not depend on it)",
    )  # fmt: skip
    bench.add_argument(
        "--scenario", choices=("tree", "traffic"), default="tree",
        help="tree: the W(N) operations above (default); traffic: N connections offloaded, "
             "a seeded mix of sends, receives, acknowledgements, reads, disconnects, peer "
             "FIN/RST and upload requests for --ticks ticks in batch calls, then terminate "
             "all and check that no byte was lost (native; the python backend too up to "
             f"N={TRAFFIC_PYTHON_MAX:,} unless --impls names it)",
    )  # fmt: skip
    bench.add_argument(
        "--ticks", type=positive_int, default=10, metavar="T",
        help="traffic scenario: steps of the mix (default 10), each 200 clock ticks (0.2 s) "
             "that tree.advance runs the connections' timers over",
    )  # fmt: skip
    bench.add_argument(
        "--seed", type=int, default=0, metavar="S",
        help="traffic scenario: the seed of the mix (default 0); a seed gives the same run "
             "on either backend",
    )  # fmt: skip

    demo = sub.add_parser(
        "demo",
        help="print the example tree as a block list, offload it, print the statuses",
        description=(
            "Build the source page's example tree, Neighbor1 -> Path1 (TCP1, TCP2), Path2 "
            "(TCP3); print it as an indented block list; offload it and print each block's "
            "status; then terminate it again."
        ),
    )
    demo.add_argument(
        "--backend", choices=("native", "python"), default=None,
        help="engine to use (default: offload_tree.BACKEND)",
    )  # fmt: skip
    demo.add_argument(
        "--partial", action="store_true",
        help="inject the faults of the NDIS worked example (TCP2 RESOURCES, Path2 FAILURE) "
             "to show partial success",
    )  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None, command_line: str | None = None) -> int:
    """Entry point of ``offload-tree`` and ``python -m offload_tree``; returns the exit code.

    ``command_line`` is how the run is described in MACHINE.md (default: ``offload-tree`` and
    the arguments); benches/run.py passes its own.
    """
    parser = build_parser()
    arg_list = list(argv) if argv is not None else sys.argv[1:]
    args = parser.parse_args(arg_list)
    args.command_line = command_line or " ".join(["offload-tree", *arg_list])
    if args.version:
        return _cmd_version()
    if args.command == "bench":
        return _cmd_bench(args, parser)
    if args.command == "demo":
        return _cmd_demo(args)
    parser.print_help(sys.stderr)
    print("\noffload-tree: error: choose a command (bench or demo)", file=sys.stderr)
    return 2


def _cmd_version() -> int:
    """``--version``: the package version and the backend it picked."""
    try:
        import offload_tree as ot
    except Exception as exc:  # report rather than trace back: this is a diagnostic command
        print(f"offload-tree: cannot import offload_tree: {exc}", file=sys.stderr)
        return 1
    print(f"offload-tree {getattr(ot, '__version__', '?')} (backend {getattr(ot, 'BACKEND', '?')})")
    return 0


# ---------------------------------------------------------------------------------------------
# demo


def _demo_line(tree: Any, handle: int, names: dict[int, str], depth: int, extra: str) -> str:
    """One block of the demo: indentation by depth, layer name, object name, details."""
    ot = sys.modules["offload_tree"]
    layer = ot.Layer(tree.layer(handle))
    s = tree.state(handle)
    if layer == ot.Layer.NEIGHBOR:
        detail = f"mac {s.mac}"
    elif layer == ot.Layer.PATH:
        detail = f"{s.source} -> {s.destination}, path MTU {s.path_mtu}"
    else:
        path = tree.state(tree.depends_on(handle))
        detail = f"{path.source}:{s.local_port} -> {path.destination}:{s.remote_port}"
    head = "  " * depth + f"{layer.name} {names[handle]}"
    return f"{head:<20} {extra}{detail}".rstrip()


def _cmd_demo(args: argparse.Namespace) -> int:
    """The example tree of the source page, as a block list, offloaded, then terminated."""
    import offload_tree as ot

    target = ot.SimulatedTarget()
    tree = (
        ot.OffloadStateTree(target, backend=args.backend)
        if args.backend
        else ot.OffloadStateTree(target)
    )
    backend = args.backend or ot.BACKEND
    nb1 = tree.add_neighbor(mac="00:15:5d:01:02:03")
    path1 = tree.add_path(nb1, source="10.0.0.1", destination="10.0.0.9", path_mtu=1500)
    path2 = tree.add_path(nb1, source="10.0.0.1", destination="10.0.0.10", path_mtu=1500)
    tcp1 = tree.add_tcp(path1, local_port=49152, remote_port=443)
    tcp2 = tree.add_tcp(path1, local_port=49153, remote_port=443)
    tcp3 = tree.add_tcp(path2, local_port=49154, remote_port=80)
    names = {nb1: "Neighbor1", path1: "Path1", path2: "Path2",
             tcp1: "TCP1", tcp2: "TCP2", tcp3: "TCP3"}  # fmt: skip
    tcps = [tcp1, tcp2, tcp3]

    print(f"offload-tree demo (backend: {backend})")
    print()
    print("The offload state tree of the source page, as the block list that offloads")
    print("TCP1, TCP2 and TCP3 (block-list order; indentation = dependent link, one layer up;")
    print("blocks at the same indentation under one parent are chained by next links):")
    print()
    for block in tree.block_list(tcps):
        print(_demo_line(tree, int(block.handle), names, int(block.depth), ""))

    if args.partial:
        # The worked example of "partial offloads and offload failures": TCP2 fails for lack
        # of resources, Path2 fails otherwise, so TCP3 is not attempted.
        target.inject_fault(tcp2, ot.Status.RESOURCES)
        target.inject_fault(path2, ot.Status.FAILURE)
    result = tree.initiate_offload(tcps)
    print()
    print(f"initiate_offload(TCP1, TCP2, TCP3): {len(result)} blocks, status of each:")
    print()
    for block in result.blocks:
        status = "-" if block.status is None else block.status.name
        print(_demo_line(tree, int(block.handle), names, int(block.depth), f"{status:<16} "))
    counts = [tree.count(layer, offloaded=True) for layer in ot.Layer]
    print()
    print(
        f"Offloaded now: {counts[0]} neighbor(s), {counts[1]} path(s), "
        f"{counts[2]} TCP connection(s)."
    )
    if tree.is_offloaded(nb1):
        term = tree.terminate(nb1, cascade=True)
        order = ", ".join(names[int(h)] for h in term.terminated)
        print(f"terminate(Neighbor1, cascade=True) uploads, dependents first: {order}")
    return 0


# ---------------------------------------------------------------------------------------------
# bench


def _default_out(full: bool) -> Path:
    """``--out`` default: ./bench-results, except that ``--full`` run from the source checkout
    (where benches/run.py lives) writes benches/results like benches/run.py does."""
    if full and (Path("benches") / "run.py").is_file():
        return Path("benches") / "results"
    return Path(DEFAULT_OUT)


def _sizes(
    args: argparse.Namespace,
    full: tuple[int, ...],
    quick: tuple[int, ...],
    default: tuple[int, ...],
) -> list[int]:
    """The sizes to run: ``--sizes``, else those of ``--full``, ``--quick`` or neither."""
    if args.sizes:
        return list(args.sizes)
    return list(full if args.full else quick if args.quick else default)


def _cmd_bench(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Resolve defaults, run the benchmark, print the table, write JSON / plot / MACHINE.md."""
    from offload_tree.bench import memory, report
    from offload_tree.bench.adapters import ADAPTERS
    from offload_tree.bench.machine import (
        busy_warning,
        load_average,
        machine_info,
        machine_markdown,
    )
    from offload_tree.bench.progress import ProgressBar
    from offload_tree.bench.runner import (
        BenchConfig,
        available_impls,
        format_n,
        run_benchmark,
        total_units,
    )

    if args.quick and args.full:
        parser.error("--quick and --full exclude each other")
    if args.scenario == "traffic":
        return _cmd_traffic(args, parser)
    sizes = _sizes(args, FULL_SIZES, QUICK_SIZES, DEFAULT_SIZES)
    repeats = args.repeats if args.repeats is not None else (QUICK_REPEATS if args.quick else None)
    requested = args.impls or list(ADAPTERS)
    impls, skipped, messages = available_impls(requested, explicit=args.impls is not None)
    for msg in messages:
        print(f"offload-tree bench: {msg}", file=sys.stderr)
    if not impls:
        print("offload-tree bench: error: no implementation can run here", file=sys.stderr)
        return 1

    memory_jobs: list[tuple[str, int]] = []
    if not (args.no_memory or args.quick) and "native" in impls:
        memory_jobs += [("native", n) for n in sizes]
        if args.full:
            # The per-connection figure of every baseline at 10^5 and 10^6, for comparison.
            memory_jobs += [(i, n) for i in impls if i != "native" for n in sizes
                            if n in (10**5, 10**6)]  # fmt: skip

    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    config = BenchConfig(
        sizes=sizes, impls=impls, repeats=repeats, memory_jobs=memory_jobs, threads=args.threads
    )
    out_dir: Path = args.out if args.out is not None else _default_out(args.full)
    bar = ProgressBar(total_units(config), enabled=not args.no_progress)
    load_start = load_average()
    busy = busy_warning()
    if busy:
        print(f"offload-tree bench: warning: {busy}", file=sys.stderr)
    bar.note(
        f"offload-tree bench: {', '.join(impls)} at N = "
        f"{', '.join(format_n(n) for n in sizes)}"
        + (f", {repeats} repeats" if repeats else ", repeats by N")
    )
    try:
        result = run_benchmark(config, progress=bar, memory_probe=memory.probe)
    except KeyboardInterrupt:
        bar.close()
        print("offload-tree bench: interrupted", file=sys.stderr)
        return 130
    bar.close()
    result.skipped = skipped + result.skipped
    result.machine = machine_info()
    result.machine["load_average_start"] = load_start

    print(report.render_table(result))
    for line in report.render_comparisons(result.comparisons):
        print(line)
    if result.memory:
        print()
        print(report.render_memory(result.memory))
    targets = None
    if args.full or 10**6 in result.sizes_run():
        targets = report.evaluate_targets(result)
        print()
        print("Targets (native backend):")
        print(report.render_targets(targets))
    for err in result.errors:
        print(f"offload-tree bench: error: {err['impl']} N={err['n']}: {err['error']}",
              file=sys.stderr)  # fmt: skip

    print()
    json_path = report.write_json(result, out_dir / "results.json", targets)
    print(f"wrote {json_path}")
    if args.no_plot:
        pass
    elif not result.measurements:
        print("no measurements: no plot", file=sys.stderr)
    else:
        try:
            plot_path = report.write_plot(result, out_dir / "plot.png")
        except ImportError:
            print(
                "offload-tree bench: matplotlib is not installed, so no plot was written; "
                "add it with the [bench] extra: pip install '.[bench]' (or pip install matplotlib)",
                file=sys.stderr,
            )
        else:
            print(f"wrote {plot_path}")
    if args.full:
        md = out_dir / "MACHINE.md"
        run = {
            "command": args.command_line,
            "started": result.started,
            "elapsed_s": result.elapsed_s,
        }
        md.write_text(machine_markdown(result.machine, run))
        print(f"wrote {md}")
    return 1 if result.errors or not result.measurements else 0


def _cmd_traffic(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """The traffic scenario: run it per size and backend, print the table, write JSON."""
    import json

    from offload_tree.bench.traffic import TrafficConfig, render, run_traffic

    sizes = _sizes(args, TRAFFIC_FULL_SIZES, TRAFFIC_QUICK_SIZES, TRAFFIC_SIZES)
    impls = args.impls or ["native", "python"]
    other = [i for i in impls if i not in ("native", "python")]
    if other:
        parser.error(f"the traffic scenario runs offload-tree's backends only, not {other[0]}")
    available = [i for i in impls if i == "python" or _backend_available(i)]
    if not available:
        print("offload-tree bench: error: the native backend is not built here", file=sys.stderr)
        return 1
    runs = [
        (backend, n)
        for n in sizes
        for backend in available
        if backend == "native" or args.impls is not None or n <= TRAFFIC_PYTHON_MAX
    ]
    results = []
    failed = False
    try:
        for backend, n in runs:
            config = TrafficConfig(n=n, ticks=args.ticks, seed=args.seed, backend=backend)
            if not args.no_progress:
                print(f"offload-tree bench: traffic on {backend} at N={n:,} ...", file=sys.stderr)
            result = run_traffic(config)
            results.append(result)
            failed |= not result.ok
    except KeyboardInterrupt:
        print("offload-tree bench: interrupted", file=sys.stderr)
        return 130
    print(render(results))
    # A seed gives the same run on both backends: say so, or that they differ.
    for n in sizes:
        same_n = {r.config.backend: r for r in results if r.config.n == n}
        if len(same_n) == 2:
            same = same_n["native"].same_run(same_n["python"])
            print(f"N={n:,}: native and python moved " + ("the same bytes and events" if same
                  else "DIFFERENT bytes or events"))  # fmt: skip
            failed |= not same
    out_dir: Path = args.out if args.out is not None else _default_out(args.full)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "traffic.json"
    path.write_text(json.dumps([r.to_json() for r in results], indent=2) + "\n")
    print(f"wrote {path}")
    return 1 if failed else 0


def _backend_available(name: str) -> bool:
    from offload_tree import _backend

    try:
        _backend.engine_class(name)
    except ImportError:
        return False
    return True
