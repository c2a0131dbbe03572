"""Presenting a run: the console table, the performance targets, JSON and the log-log plot."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from offload_tree.bench.runner import BenchResult, Measurement, format_n
from offload_tree.bench.workload import OPERATIONS

#: Time budgets for the native backend at N = 10**6, in ms: within 1.5x of the floor of the
#: bytes each operation must touch with reused pages (the project's performance goals).
NATIVE_TIME_TARGETS_MS: dict[str, float] = {
    "build": 40.0,
    "walk": 3.0,
    "offload_all": 22.0,
    "query_all": 5.0,
    "update_mtu": 0.2,
    "terminate_1pct": 0.5,
}
#: Minimum speed-up of native over each other implementation, on every operation at 10**6.
SPEEDUP_TARGETS: dict[str, float] = {"rustworkx": 10.0, "networkx": 50.0, "python": 50.0}
#: Minimum speed-up of native over the vectorised NumPy baseline, per operation, at 10**6
#: and 10**7: 3x on every operation, 10x on walk.
NUMPY_SPEEDUP_TARGETS: dict[str, float] = {op: 3.0 for op in OPERATIONS} | {"walk": 10.0}
NUMPY_TARGET_SIZES = (10**6, 10**7)
#: Every operation linear in N: the log-log slope of native's median time from 10**4 to
#: 10**7 at most this.
SLOPE_TARGET = 1.05
#: The size the targets are stated at, and the memory budget of W(10**7) on native.
TARGET_N = 10**6
MEMORY_TARGET_N = 10**7
MEMORY_TARGET_BYTES = 2 * 2**30
#: The implementation every ratio column compares against.
REFERENCE = "native"


def format_ms(ms: float | None) -> str:
    """Milliseconds with about three significant digits; "-" for missing."""
    if ms is None or math.isnan(ms):
        return "-"
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3f}"


def format_ratio(ratio: float | None) -> str:
    """A speed-up factor: ``1234x``, ``56x``, ``3.4x``, ``0.52x``; "-" for missing."""
    if ratio is None or math.isnan(ratio) or math.isinf(ratio):
        return "-"
    if ratio >= 10:
        return f"{ratio:.0f}x"
    if ratio >= 1:
        return f"{ratio:.1f}x"
    return f"{ratio:.2f}x"


def speedup(result: BenchResult, other: str, n: int, op: str) -> float | None:
    """``time(other) / time(native)`` at (n, op): how many times faster native is."""
    ref = result.get(REFERENCE, n, op)
    oth = result.get(other, n, op)
    if ref is None or oth is None or ref.median_ns <= 0:
        return None
    return oth.median_ns / ref.median_ns


def speedup_spread(
    result: BenchResult, other: str, n: int, op: str
) -> tuple[float, float, float] | None:
    """Median, min and max of the per-repeat ratios ``time(other) / time(native)``.

    Implementations alternate within a repeat, so repeat i of both ran under the same load and
    their ratio is a pair; with unequal repeat counts (results merged from two runs) the
    ratio of the medians stands alone, min = max = median.
    """
    ref = result.get(REFERENCE, n, op)
    oth = result.get(other, n, op)
    if ref is None or oth is None:
        return None
    if len(ref.times_ns) != len(oth.times_ns) or min(ref.times_ns) <= 0:
        ratio = speedup(result, other, n, op)
        return None if ratio is None else (ratio, ratio, ratio)
    ratios = [o / r for o, r in zip(oth.times_ns, ref.times_ns, strict=True)]
    return float(statistics.median(ratios)), min(ratios), max(ratios)


def format_spread(m: Measurement | None, dash: str = "-") -> str:
    """``median [min-max]`` in ms, each with :func:`format_ms`; "-" for missing."""
    if m is None:
        return "-"
    lo, hi = format_ms(m.min_ms), format_ms(m.max_ms)
    return f"{format_ms(m.median_ms)} [{lo}{dash}{hi}]"


def format_ratio_spread(spread: tuple[float, float, float] | None, dash: str = "-") -> str:
    """``median [min-max]`` of ratios, each with :func:`format_ratio`; "-" for missing."""
    if spread is None:
        return "-"
    med, lo, hi = spread
    if lo == hi == med:
        return format_ratio(med)
    return f"{format_ratio(med)} [{format_ratio(lo)}{dash}{format_ratio(hi)}]"


def render_table(result: BenchResult) -> str:
    """The aligned table: one row per (N, operation), times in ms, then "native vs X" ratios.

    Every figure is ``median [min-max]`` over the repeats; a ratio's spread is that of the
    per-repeat ratios. Ratio columns appear only when the native backend was measured (it is
    the reference).
    """
    impls = result.impls_run()
    others = [i for i in impls if i != REFERENCE] if REFERENCE in impls else []
    header = ["N", "operation"] + [f"{i} ms" for i in impls]
    header += [f"native vs {i}" for i in others]
    rows: list[list[str]] = []
    for n in result.sizes_run():
        for op in OPERATIONS:
            row = [format_n(n), op]
            for impl in impls:
                row.append(format_spread(result.get(impl, n, op)))
            for impl in others:
                row.append(format_ratio_spread(speedup_spread(result, impl, n, op)))
            rows.append(row)
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]

    def fmt(cells: list[str]) -> str:
        # Text columns left-aligned, numbers right-aligned, as a reader scans them.
        parts = [
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    lines = [fmt(header), fmt(["-" * w for w in widths])]
    prev_n = None
    for row in rows:
        if prev_n is not None and row[0] != prev_n:
            lines.append("")
        prev_n = row[0]
        lines.append(fmt(row))
    lines.append("")
    lines.append("(ms: median [min-max] over the repeats; native vs X: X's time / native's, "
                 "per repeat)")  # fmt: skip
    if not others and impls:
        lines.append("(no ratio columns: the native backend was not measured)")
    return "\n".join(lines)


#: Column titles of the README table, by implementation.
README_LABELS: dict[str, str] = {
    "native": "native",
    "numpy": "numpy",
    "python": "python fallback",
    "rustworkx": "rustworkx",
    "networkx": "networkx",
    "igraph": "python-igraph",
    "dicts": "dicts",
}
#: Row titles of the README table, by operation.
README_OPERATIONS: dict[str, str] = {
    "build": "build",
    "walk": "walk",
    "offload_all": "offload all",
    "query_all": "query all",
    "update_mtu": "update MTU",
    "terminate_1pct": "terminate 1 %",
}
#: The range sign of the README table (an en dash, as typeset ranges are written).
DASH = "\u2013"
#: The baseline whose ratio to native the README table shows.
README_RATIO = "numpy"


#: The comments around the generated table in README.md.
README_START = "<!-- bench-table:start -->"
README_END = "<!-- bench-table:end -->"


def load_result(path: Path) -> BenchResult:
    """A results.json file read back as a :class:`BenchResult`."""
    return BenchResult.from_json(json.loads(Path(path).read_text()))


def readme_with_table(readme: str, results: Path) -> str:
    """``readme`` with the text between the table markers replaced by the table rendered
    from ``results``; ValueError when the markers are missing or out of order."""
    start = readme.find(README_START)
    end = readme.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"the README needs the markers {README_START} ... {README_END}")
    table = render_readme_table(load_result(results))
    head = readme[: start + len(README_START)]
    return f"{head}\n{table}\n{readme[end:]}"


def readme_size(result: BenchResult) -> int | None:
    """The N the README table shows: the largest at which native and another ran."""
    sizes = [
        n
        for n in result.sizes_run()
        if result.get(REFERENCE, n, OPERATIONS[0])
        and any(result.get(i, n, OPERATIONS[0]) for i in result.impls_run() if i != REFERENCE)
    ]
    return max(sizes) if sizes else None


def readme_sizes(result: BenchResult) -> list[int]:
    """The sizes the README shows, ascending: :func:`readme_size`, and before it the largest
    size at which more implementations ran (the full matrix stops the slow ones at 10^6)."""
    largest = readme_size(result)
    if largest is None:
        return []

    def count(n: int) -> int:
        return sum(1 for i in result.impls_run() if result.get(i, n, OPERATIONS[0]))

    wider = [n for n in result.sizes_run() if n < largest and count(n) > count(largest)]
    return ([max(wider)] if wider else []) + [largest]


def render_readme_table(result: BenchResult, source: str = "benches/results/results.json") -> str:
    """The README's benchmark tables (markdown) at :func:`readme_sizes`, from a result.

    One row per operation; one column per implementation measured at that N, each cell
    ``median (min-max)`` in ms (an en dash in the range); then "native vs numpy": how many
    times faster native is, the median and spread of the per-repeat ratios. A lead line
    names the run each comes from.
    """
    sizes = readme_sizes(result)
    if not sizes:
        return f"(no run in `{source}` measured the native backend beside another)"
    return "\n\n".join(_readme_table_at(result, n, source) for n in sizes)


def _readme_table_at(result: BenchResult, n: int, source: str) -> str:
    """One table of :func:`render_readme_table`, at size ``n``."""
    impls = [i for i in result.impls_run() if result.get(i, n, OPERATIONS[0])]
    ratio = README_RATIO if README_RATIO in impls and REFERENCE in impls else None
    machine = result.machine or {}
    cpu = machine.get("cpu") or machine.get("cpu_model") or "unknown CPU"
    cpus = machine.get("logical_cpus") or machine.get("cpu_count")
    reps = {len(m.times_ns) for m in result.measurements if m.n == n}
    rep_text = "/".join(str(r) for r in sorted(reps))
    started = result.started[:10] if result.started else "unknown date"
    where = f"{cpu}, {cpus} CPUs" if cpus else str(cpu)
    lead = (
        f"Latest run (`{source}`, {started}, {where}), N = {format_n(n)}: median time in ms "
        f"(min{DASH}max over {rep_text} repeats"
        + (", implementations alternating within each repeat)" if result.load else ")")
    )
    if ratio:
        lead += ", and how many times faster native is than numpy (per-repeat ratios)"
    lines = [lead + ".", ""]
    header = ["operation"] + [README_LABELS.get(i, i) for i in impls]
    if ratio:
        header.append("native vs numpy")
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for op in OPERATIONS:
        cells = [README_OPERATIONS.get(op, op)]
        for impl in impls:
            m = result.get(impl, n, op)
            cells.append(
                "-"
                if m is None
                else f"{format_ms(m.median_ms)} ({format_ms(m.min_ms)}{DASH}{format_ms(m.max_ms)})"
            )
        if ratio:
            spread = speedup_spread(result, ratio, n, op)
            if spread is None:
                cells.append("-")
            else:
                med, lo, hi = spread
                cells.append(f"{format_ratio(med)} ({format_ratio(lo)}{DASH}{format_ratio(hi)})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_comparisons(comparisons: list[dict[str, Any]]) -> list[str]:
    """One line per compared implementation: at which N its results equalled native's, and
    at which they did not."""
    lines: list[str] = []
    for impl in dict.fromkeys(c["impl"] for c in comparisons):
        equal = [format_n(c["n"]) for c in comparisons if c["impl"] == impl and c["equal"]]
        differ = [format_n(c["n"]) for c in comparisons if c["impl"] == impl and not c["equal"]]
        text = f"results of {impl} vs native (every operation, untimed): "
        parts = []
        if equal:
            parts.append(f"equal at N = {', '.join(equal)}")
        if differ:
            parts.append(f"DIFFERENT at N = {', '.join(differ)}")
        lines.append(text + "; ".join(parts))
    return lines


def evaluate_targets(result: BenchResult) -> list[dict[str, Any]]:
    """The performance targets above, each with the measured value and met / missed.

    A target whose data was not measured in this run gets ``met: None``.
    """
    out: list[dict[str, Any]] = []
    for op, limit in NATIVE_TIME_TARGETS_MS.items():
        m = result.get(REFERENCE, TARGET_N, op)
        value = m.median_ms if m else None
        out.append({
            "target": f"native {op} at N={format_n(TARGET_N)}",
            "limit": f"<= {limit:g} ms",
            "value": None if value is None else round(value, 4),
            "unit": "ms",
            "met": None if value is None else value <= limit,
            "ratio_to_limit": None if value is None else round(value / limit, 3),
        })  # fmt: skip
    for other, factor in SPEEDUP_TARGETS.items():
        ratios = {op: speedup(result, other, TARGET_N, op) for op in OPERATIONS}
        measured = {op: r for op, r in ratios.items() if r is not None}
        worst_op = min(measured, key=lambda op: measured[op]) if measured else None
        worst = measured[worst_op] if worst_op else None
        out.append({
            "target": f"native vs {other} on every operation at N={format_n(TARGET_N)}",
            "limit": f">= {factor:g}x",
            "value": None if worst is None else round(worst, 2),
            "unit": f"x (slowest op: {worst_op})" if worst_op else "x",
            "met": None if worst is None else worst >= factor,
            "per_operation": {op: (None if r is None else round(r, 2)) for op, r in ratios.items()},
        })  # fmt: skip
    for n in NUMPY_TARGET_SIZES:
        ratios = {op: speedup(result, "numpy", n, op) for op in OPERATIONS}
        measured = {op: r for op, r in ratios.items() if r is not None}
        # The worst operation is the one furthest below its own factor.
        worst_op = (
            min(measured, key=lambda op: measured[op] / NUMPY_SPEEDUP_TARGETS[op])
            if measured
            else None
        )
        worst = measured[worst_op] if worst_op else None
        out.append({
            "target": f"native vs numpy on every operation at N={format_n(n)}",
            "limit": ">= 3x (walk >= 10x)",
            "value": None if worst is None else round(worst, 2),
            "unit": f"x (furthest below its target: {worst_op})" if worst_op else "x",
            "met": None if worst_op is None or len(measured) < len(OPERATIONS) else all(
                r >= NUMPY_SPEEDUP_TARGETS[op] for op, r in measured.items()
            ),
            "per_operation": {op: (None if r is None else round(r, 2)) for op, r in ratios.items()},
        })  # fmt: skip
    slopes = {op: loglog_slope(result, REFERENCE, op) for op in OPERATIONS}
    measured_slopes = {op: v for op, v in slopes.items() if v is not None}
    steepest = max(measured_slopes, key=lambda op: measured_slopes[op], default=None)
    out.append({
        "target": "native log-log slope of every operation, 10^4 to 10^7",
        "limit": f"<= {SLOPE_TARGET:g}",
        "value": None if steepest is None else round(measured_slopes[steepest], 3),
        "unit": f"(steepest: {steepest})" if steepest else "",
        "met": None if steepest is None else measured_slopes[steepest] <= SLOPE_TARGET,
        "per_operation": {op: (None if v is None else round(v, 3)) for op, v in slopes.items()},
    })  # fmt: skip
    mem = next(
        (r for r in result.memory if r.get("impl") == REFERENCE and r.get("n") == MEMORY_TARGET_N),
        None,
    )
    peak = mem.get("peak_rss_bytes") if mem else None
    out.append({
        "target": f"native peak RSS at N={format_n(MEMORY_TARGET_N)} (build + offload)",
        "limit": f"<= {MEMORY_TARGET_BYTES / 2**30:g} GiB",
        "value": None if peak is None else round(peak / 2**30, 3),
        "unit": "GiB",
        "met": None if peak is None else peak <= MEMORY_TARGET_BYTES,
    })  # fmt: skip
    return out


def loglog_slope(result: BenchResult, impl: str, op: str) -> float | None:
    """The least-squares slope of log(median time) against log(N) over the sizes measured
    from 10**4 up; None unless they reach 10**7 (the range the target is stated over)."""
    points = [
        (math.log(n), math.log(m.median_ns))
        for n in result.sizes_run()
        if n >= 10**4 and (m := result.get(impl, n, op)) is not None and m.median_ns > 0
    ]
    if len(points) < 2 or max(math.exp(x) for x, _ in points) < 10**7 * 0.999:
        return None
    mx = statistics.fmean(x for x, _ in points)
    my = statistics.fmean(y for _, y in points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def render_targets(targets: list[dict[str, Any]]) -> str:
    """Targets as lines: ``[met]  native build at N=10^6  12.3 ms (limit <= 30 ms)``."""
    lines = []
    for t in targets:
        mark = {True: "met   ", False: "MISSED", None: "n/a   "}[t["met"]]
        value = "not measured" if t["value"] is None else f"{t['value']:g} {t['unit']}"
        lines.append(f"[{mark}] {t['target']}: {value} (target {t['limit']})")
    return "\n".join(lines)


#: Below this much growth, build + offload is not given per connection: the allocators'
#: first arenas and pages (a MiB or so whatever N) would be most of it.
MEMORY_PER_CONNECTION_MIN_BYTES = 4 * 2**20


def format_bytes(count: float) -> str:
    """A byte count in the binary unit that suits it: ``846 B``, ``11.1 MiB``, ``1.73 GiB``."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            value = count / scale
            digits = 2 if value < 10 else 1 if value < 100 else 0
            return f"{value:.{digits}f} {unit}"
    return f"{count:,.0f} B"


def render_memory(records: list[dict[str, Any]]) -> str:
    """One line per peak-RSS probe (:mod:`offload_tree.bench.memory`): the peak, what was
    resident before the build (the interpreter, NumPy and the input arrays), and what build
    + offload added, per connection where that is large enough to mean something.

    The per-connection figures are the growth divided by N, so they include the allocators'
    fixed costs: while the growth is smaller than the baseline they are given as upper
    bounds ("at most"), and below ``MEMORY_PER_CONNECTION_MIN_BYTES`` not at all. "Counting
    everything" (peak / N) is given only once the growth outweighs the baseline: at small N
    it would be the interpreter's size divided by N.
    """
    lines = []
    for r in records:
        head = f"peak RSS {r['impl']:<9} N={format_n(r['n']):<6}"
        if "error" in r:
            lines.append(f"{head} not measured: {r['error']}")
            continue
        n, peak, before = r["n"], r["peak_rss_bytes"], r["rss_before_bytes"]
        growth = max(0, peak - before)
        text = (
            f"{head} {format_bytes(peak)}: {format_bytes(before)} before the build (interpreter, "
            f"NumPy, input arrays) and {format_bytes(growth)} for build + offload: "
        )
        host = r.get("host_tree_bytes_per_connection")
        if growth < MEMORY_PER_CONNECTION_MIN_BYTES:
            text += "too little at this N to give per connection"
        elif growth < before:
            text += f"at most {growth / n:,.0f} B/connection at this N (fixed allocator costs"
            text += " included)"
            if host is not None:
                text += f"; the host tree alone: at most {host:,.0f} B/connection"
        else:
            text += f"{growth / n:,.0f} B/connection ("
            if host is not None:
                text += f"the host tree alone: {host:,.0f} B/connection; "
            text += f"{peak / n:,.0f} B/connection counting everything)"
        lines.append(text)
    return "\n".join(lines)


def write_json(result: BenchResult, path: Path, targets: list[dict[str, Any]] | None) -> Path:
    """Write results.json (with the targets, when evaluated)."""
    doc = result.to_json()
    if targets is not None:
        doc["targets"] = targets
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def write_plot(result: BenchResult, path: Path) -> Path:
    """The log-log plot: one panel per operation, one line per implementation.

    Raises ImportError when matplotlib is missing (the caller turns that into a message).
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    impls = result.impls_run()
    sizes = result.sizes_run()
    cols = 3
    rows = math.ceil(len(OPERATIONS) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.0 * rows), squeeze=False)
    styles = {
        "native": ("tab:red", "o"),
        "python": ("tab:orange", "s"),
        "rustworkx": ("tab:blue", "^"),
        "networkx": ("tab:green", "v"),
        "dicts": ("tab:purple", "D"),
        "numpy": ("tab:brown", "P"),
    }
    labels = result.to_json()["labels"]
    for idx, op in enumerate(OPERATIONS):
        ax = axes[idx // cols][idx % cols]
        for impl in impls:
            pts = [(n, m.median_ms) for n in sizes if (m := result.get(impl, n, op))]
            if not pts:
                continue
            color, marker = styles.get(impl, (None, "x"))
            ax.plot(
                [p[0] for p in pts], [max(p[1], 1e-4) for p in pts],
                marker=marker, color=color, label=labels.get(impl, impl),
            )  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        # Plain numbers ("0.5", "30") read better than 5x10^-1 on a timing axis; N keeps
        # matplotlib's 10^k labels.
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(op)
        ax.set_xlabel("N (TCP connections)")
        ax.set_ylabel("median time (ms)")
        ax.grid(True, which="both", alpha=0.3)
    for idx in range(len(OPERATIONS), rows * cols):
        axes[idx // cols][idx % cols].set_visible(False)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=max(1, len(names)), frameon=False)
    fig.suptitle("offload-tree W(N): N connections, N/100 paths, N/1000 neighbors "
                 "(median time, log-log; lower is better)")  # fmt: skip
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
