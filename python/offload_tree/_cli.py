"""The ``offload-tree`` console command (also ``python -m offload_tree``).

Commands:

* ``offload-tree bench`` — time W(N) (N connections, N/100 paths, N/1000 neighbors) on the
  native backend, the pure-Python fallback and the baselines (NumPy, rustworkx, networkx,
  python-igraph, plain dicts), show a progress bar, print a table, write results.json and
  plot.png. ``--full`` runs the whole matrix N = 10^4..10^6 (+10^7 native) with peak-memory
  probes and MACHINE.md.
* ``offload-tree demo`` — the example tree of the NDIS page "Offload State Tree", Neighbor1
  -> Path1 (TCP1, TCP2), Path2 (TCP3), printed as an indented block list, then offloaded with
  each block's status.
* ``offload-tree draw`` — a Graphviz drawing of the demo's tree, of a saved tree (a snapshot
  file) or of the demo's offload result: DOT text, or SVG/PNG with Graphviz installed.
* ``offload-tree host`` — the tree of this Linux host's TCP connections (offload_tree.linux):
  counts per layer, what was skipped and why; with ``--target-capacity N``, what an offload
  of them to a target with room for N connections would do.

Output meant for reading (tables, the demo) goes to stdout; progress and notes go to stderr, so
``offload-tree bench > table.txt`` keeps the table clean.
"""

from __future__ import annotations

import argparse
import re
import subprocess
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
        description="The TCP chimney offload state tree: benchmarks, a demo, drawings and "
        "the tree of this host's connections.",
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
            'Build the example tree of the NDIS page "Offload State Tree", Neighbor1 -> '
            "Path1 (TCP1, TCP2), Path2 (TCP3); print it as an indented block list; offload it "
            "and print each block's status; then terminate it again."
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
    _add_draw_parser(sub)
    _add_host_parser(sub)
    # Each command's own parser, so that an error found after parsing (flags that exclude
    # each other) is reported with that command's usage, as argparse reports its own.
    for command_parser in sub.choices.values():
        command_parser.set_defaults(command_parser=command_parser)
    return parser


def _add_draw_parser(sub: Any) -> None:
    """The ``draw`` subcommand's arguments (``sub``: the parser's subparsers)."""
    draw = sub.add_parser(
        "draw",
        help="draw the demo tree, a saved tree or the demo's offload result (Graphviz)",
        description=(
            "Draw an offload state tree with Graphviz: layers as ranks, an edge from each path "
            "and connection to what it depends on, offload status as colour, and a legend. "
            "Writes DOT text (no Graphviz needed), or SVG or PNG, which need the graphviz "
            "Python package and the dot program: pip install 'offload-tree[draw]' and "
            "apt-get install graphviz (or brew install graphviz)."
        ),
    )
    source = draw.add_mutually_exclusive_group()
    source.add_argument(
        "--demo", action="store_true",
        help="the demo's example tree after the demo's offload (the default)",
    )  # fmt: skip
    source.add_argument(
        "--snapshot", type=Path, metavar="FILE",
        help="a tree saved with tree.save(FILE)",
    )  # fmt: skip
    source.add_argument(
        "--offload-demo", action="store_true",
        help="the demo's offload result: the block list with each block's status",
    )  # fmt: skip
    draw.add_argument(
        "-o", "--out", type=Path, metavar="OUT",
        help="OUT.dot (DOT text), OUT.svg or OUT.png (need Graphviz); default: DOT text on "
             "stdout",
    )  # fmt: skip
    draw.add_argument(
        "--partial", action="store_true",
        help="with --demo or --offload-demo: inject the faults of the NDIS worked example "
             "(TCP2 RESOURCES, Path2 FAILURE) before the offload",
    )  # fmt: skip
    draw.add_argument(
        "--compare-target", action="store_true",
        help="also mark where the target's internal tree differs from the host's",
    )  # fmt: skip
    draw.add_argument(
        "--max-objects", type=positive_int, default=2000, metavar="N",
        help="draw a summary instead of more than N objects (default 2000)",
    )  # fmt: skip
    draw.add_argument(
        "--backend", choices=("native", "python"), default=None,
        help="engine to use (default: offload_tree.BACKEND)",
    )  # fmt: skip


def _add_host_parser(sub: Any) -> None:
    """The ``host`` subcommand's arguments (``sub``: the parser's subparsers)."""
    host = sub.add_parser(
        "host",
        help="the tree of this Linux host's TCP connections; what an offload of them would do",
        description=(
            "Build the offload state tree of this Linux host's TCP connections from the "
            "kernel's socket, route and neighbour tables (offload_tree.linux.snapshot), print "
            "the objects per layer and the sockets skipped with the reason (loopback, no "
            "neighbour entry, ...). With --target-capacity N, offload every connection to a "
            "SimulatedTarget with room for N connections and print the status of the blocks. "
            "Netlink needs pyroute2: pip install 'offload-tree[linux]'; else /proc is read."
        ),
    )
    host.add_argument(
        "--target-capacity", type=int, metavar="N",
        help="offload every connection to SimulatedTarget(tcp_capacity=N) and show what fits",
    )  # fmt: skip
    host.add_argument(
        "--source", choices=("netlink", "proc"), default=None,
        help="where to read the tables (default: netlink with pyroute2, else /proc)",
    )  # fmt: skip
    host.add_argument(
        "--netns", metavar="NAME",
        help="read the network namespace NAME (ip netns) instead; needs root",
    )  # fmt: skip
    host.add_argument(
        "--listening", action="store_true", help="also list listening sockets as skipped"
    )
    host.add_argument("--json", action="store_true", help="print one JSON object instead")
    host.add_argument(
        "--backend", choices=("native", "python"), default=None,
        help="engine to use (default: offload_tree.BACKEND)",
    )  # fmt: skip


def main(argv: Sequence[str] | None = None, command_line: str | None = None) -> int:
    """Entry point of ``offload-tree`` and ``python -m offload_tree``; returns the exit code.

    ``command_line`` is how the run is described in MACHINE.md (default: ``offload-tree`` and
    the arguments); benches/run.py passes its own.
    """
    parser = build_parser()
    arg_list = list(argv) if argv is not None else sys.argv[1:]
    args = parser.parse_args(arg_list)
    args.command_line = command_line or " ".join(["offload-tree", *arg_list])
    command_parser: argparse.ArgumentParser = getattr(args, "command_parser", parser)
    if args.version:
        return _cmd_version()
    if args.command == "bench":
        return _cmd_bench(args, command_parser)
    if args.command == "demo":
        return _cmd_demo(args)
    if args.command == "draw":
        return _cmd_draw(args, command_parser)
    if args.command == "host":
        return _cmd_host(args)
    parser.print_help(sys.stderr)
    print("\noffload-tree: error: choose a command (bench, demo, draw or host)", file=sys.stderr)
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


def _demo_tree(backend: str | None) -> tuple[Any, Any, dict[str, int]]:
    """The example tree of NDIS "Offload State Tree" on a new target: ``(tree, target,
    handles by name)``, the names Neighbor1, Path1, Path2, TCP1, TCP2, TCP3 in block-list
    order."""
    import offload_tree as ot

    target = ot.SimulatedTarget()
    tree = ot.OffloadStateTree(target, backend=backend) if backend else ot.OffloadStateTree(target)
    nb1 = tree.add_neighbor(mac="00:15:5d:01:02:03")
    path1 = tree.add_path(nb1, source="10.0.0.1", destination="10.0.0.9", path_mtu=1500)
    path2 = tree.add_path(nb1, source="10.0.0.1", destination="10.0.0.10", path_mtu=1500)
    tcp1 = tree.add_tcp(path1, local_port=49152, remote_port=443)
    tcp2 = tree.add_tcp(path1, local_port=49153, remote_port=443)
    tcp3 = tree.add_tcp(path2, local_port=49154, remote_port=80)
    handles = {"Neighbor1": nb1, "Path1": path1, "TCP1": tcp1, "TCP2": tcp2,
               "Path2": path2, "TCP3": tcp3}  # fmt: skip
    return tree, target, handles


def _demo_faults(target: Any, handles: dict[str, int]) -> None:
    """The faults of the NDIS worked example of partial offloads and offload failures:
    TCP2 fails for lack of resources, Path2 fails otherwise, so TCP3 is not attempted."""
    import offload_tree as ot

    target.inject_fault(handles["TCP2"], ot.Status.RESOURCES)
    target.inject_fault(handles["Path2"], ot.Status.FAILURE)


def _cmd_demo(args: argparse.Namespace) -> int:
    """The example tree of NDIS "Offload State Tree", as a block list, offloaded, then
    terminated."""
    import offload_tree as ot

    tree, target, handles = _demo_tree(args.backend)
    backend = args.backend or ot.BACKEND
    names = {h: name for name, h in handles.items()}
    nb1 = handles["Neighbor1"]
    tcps = [handles["TCP1"], handles["TCP2"], handles["TCP3"]]

    print(f"offload-tree demo (backend: {backend})")
    print()
    print('The example tree of the NDIS page "Offload State Tree", as the block list that')
    print("offloads TCP1, TCP2 and TCP3 (block-list order; indentation = dependent link, one")
    print("layer up; blocks at the same indentation under one parent are chained by next")
    print("links):")
    print()
    for block in tree.block_list(tcps):
        print(_demo_line(tree, int(block.handle), names, int(block.depth), ""))

    if args.partial:
        _demo_faults(target, handles)
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
# draw

#: What ``draw -o OUT`` writes, by OUT's suffix: DOT text (None), or a format Graphviz renders.
DRAW_FORMATS: dict[str, str | None] = {".dot": None, ".gv": None, ".svg": "svg", ".png": "png"}


def _cmd_draw(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Draw the demo's tree, a saved tree or the demo's offload result; write DOT, SVG or PNG
    (to stdout as DOT text without ``-o``). ``parser``: the ``draw`` command's, whose usage
    an error shows."""
    if args.partial and args.snapshot is not None:
        parser.error("--partial goes with --demo or --offload-demo, not --snapshot")
    if args.compare_target and args.offload_demo:
        parser.error("--compare-target draws a tree, not --offload-demo's block list")
    out: Path | None = args.out
    fmt = None
    if out is not None:
        if out.suffix.lower() not in DRAW_FORMATS:
            parser.error(f"-o {out}: name the output .dot, .svg or .png")
        fmt = DRAW_FORMATS[out.suffix.lower()]
    from offload_tree import _draw
    from offload_tree._errors import OffloadTreeError

    problem = None if fmt is None else _draw.graphviz_problem()
    if problem is not None:
        # Said before any work, on one line: what is missing and how to install it.
        print(f"offload-tree draw: error: cannot write {out}: {problem}. Install Graphviz: "
              f"{_draw.INSTALL_HINT}; or write DOT text with -o OUT.dot",
              file=sys.stderr)  # fmt: skip
        return 1
    try:
        dot = _draw_source(args)
        if out is None:
            sys.stdout.write(dot)
            return 0
        out.write_bytes(dot.encode("utf-8") if fmt is None else _draw.render(dot, fmt))
    # A bad snapshot file, an unbuilt backend, an unwritable OUT or a failing dot program:
    # one line each, no traceback.
    except (OffloadTreeError, ImportError, OSError, RuntimeError,
            subprocess.CalledProcessError) as exc:  # fmt: skip
        print(f"offload-tree draw: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


def _draw_source(args: argparse.Namespace) -> str:
    """The DOT text ``draw`` was asked for."""
    import offload_tree as ot

    if args.snapshot is not None:
        tree = ot.OffloadStateTree.load(args.snapshot, backend=args.backend)
        return str(tree.to_dot(max_objects=args.max_objects, compare_target=args.compare_target))
    tree, target, handles = _demo_tree(args.backend)
    if args.partial:
        _demo_faults(target, handles)
    result = tree.initiate_offload([handles["TCP1"], handles["TCP2"], handles["TCP3"]])
    if args.offload_demo:
        return str(result.to_dot(max_objects=args.max_objects))
    return str(tree.to_dot(max_objects=args.max_objects, compare_target=args.compare_target))


# ---------------------------------------------------------------------------------------------
# host


def _cmd_host(args: argparse.Namespace) -> int:
    """Snapshot this host's connections; print the summary, and with ``--target-capacity``
    the offload of every connection to a target of that size."""
    import json

    from offload_tree._errors import OffloadTreeError

    try:
        import offload_tree as ot
        from offload_tree import linux

        capacity = args.target_capacity
        target = None if capacity is None else ot.SimulatedTarget(tcp_capacity=capacity)
        snap = linux.snapshot(
            source=args.source, backend=args.backend, target=target, netns=args.netns,
            include_listening=args.listening,
        )  # fmt: skip
        offload = None if capacity is None else _host_offload(snap.tree)
    # Not Linux, no such namespace, no permission, pyroute2 missing for --source netlink, a
    # bad capacity: one line each, no traceback.
    except (OffloadTreeError, ImportError, OSError) as exc:
        print(f"offload-tree host: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        data = snap.to_dict()
        if offload is not None:
            data["offload"] = {"target_capacity": capacity, **offload}
        print(json.dumps(data, indent=2))
        return 0
    where = f", network namespace {args.netns}" if args.netns else ""
    print(f"offload-tree host (source: {snap.source}, backend: {snap.tree.backend}{where})")
    if snap.note:
        print(f"note: {snap.note}")
    tree = snap.tree
    print(f"tree: {tree.count('neighbor')} neighbor(s), {tree.count('path')} path(s), "
          f"{tree.count('tcp')} TCP connection(s)")  # fmt: skip
    print(f"skipped: {len(snap.skipped)} socket(s)")
    by_reason = snap.skipped_by_reason()
    for reason, n in by_reason.items():
        first = next(s for s in snap.skipped if s.reason == reason)
        print(f"  {reason:<13} {n:>6}  {linux.SKIP_REASONS[reason]}")
        example = f"{first.four_tuple} ({first.state.name}): {first.detail}"
        print(f"  {'':<13} {'':>6}  e.g. {example}")
    if offload is not None:
        print()
        print(f"offload of {offload['requested']} connection(s) to "
              f"SimulatedTarget(tcp_capacity={capacity}):")  # fmt: skip
        print(f"  {'status':<20} {'neighbors':>9} {'paths':>9} {'connections':>11}")
        for status, counts in offload["statuses"].items():
            print(f"  {status:<20} {counts['neighbor']:>9} {counts['path']:>9} "
                  f"{counts['tcp']:>11}")  # fmt: skip
        fits = offload["offloaded"]
        left = offload["requested"] - fits["connections"]
        print(f"fits: {fits['connections']} of {offload['requested']} connection(s), over "
              f"{fits['neighbors']} neighbor(s) and {fits['paths']} path(s); {left} "
              f"connection(s) stay on the host")  # fmt: skip
    return 0


def _host_offload(tree: Any) -> dict[str, Any]:
    """Offload every connection of ``tree``: the block count per status and layer, and what
    is offloaded afterwards (shared state nothing offloaded uses is released again)."""
    import offload_tree as ot

    tcps = tree.handles(ot.Layer.TCP)
    result = tree.initiate_offload(tcps)
    statuses: dict[str, dict[str, int]] = {}
    for handle, status in result.statuses.items():
        counts = statuses.setdefault(status.name, {"neighbor": 0, "path": 0, "tcp": 0})
        counts[tree.layer(handle).name.lower()] += 1
    return {
        "requested": len(tcps),
        "statuses": statuses,
        "offloaded": {
            "neighbors": tree.count(ot.Layer.NEIGHBOR, offloaded=True),
            "paths": tree.count(ot.Layer.PATH, offloaded=True),
            "connections": tree.count(ot.Layer.TCP, offloaded=True),
        },
        "failed": len(result.failed),
    }


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
    """Resolve defaults, run the benchmark, print the table, write JSON / plot / MACHINE.md.
    ``parser``: the ``bench`` command's, whose usage an error shows."""
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
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
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
                "add it with the bench extra: pip install 'offload-tree[bench]' (or pip install "
                "matplotlib)",
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
