"""Drawings: the Graphviz DOT text of trees, block lists, offload results and the target's
internal tree, and its rendering when Graphviz is installed.

The text is built from the public API's batch calls only (``tree.walk``, ``tree.states``,
``tree.edges``, ``BlockList.to_dict``, ``target.internal_tree``), so both backends draw alike.
DOT text needs nothing beyond NumPy; rendering to SVG or PNG imports the ``graphviz`` package
lazily and runs the ``dot`` program (the ``draw`` extra: ``pip install 'offload-tree[draw]'``).

A drawing of more than ``max_objects`` objects is not attempted: the graph then holds one
summary node saying what there is and how to draw less, so the text stays short whatever the
size of the tree.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ._blocks import NO_STATUS
from ._coerce import Handles, as_bool, format_handle, plain_scalar
from ._enums import ConnectionState, Layer, Status
from ._errors import ValidationError
from ._text import blocks_text
from ._text import layer_counts as _layer_counts
from ._text import layer_text as _layer_text
from ._text import layers_of as _layers_of
from ._text import plural as _plural

if TYPE_CHECKING:
    from ._blocks import BlockList
    from ._results import OffloadResult
    from ._target import SimulatedTarget
    from ._tree import OffloadStateTree

__all__ = [
    "DEFAULT_MAX_OBJECTS",
    "INSTALL_HINT",
    "GraphvizUnavailable",
    "block_list_dot",
    "graphviz_problem",
    "offload_result_dot",
    "render",
    "repr_svg",
    "target_dot",
    "tree_dot",
]

#: The most objects (or blocks) a drawing shows before it draws a summary instead.
DEFAULT_MAX_OBJECTS = 2000
#: How to get what rendering needs, in the words every message uses.
INSTALL_HINT = (
    "pip install 'offload-tree[draw]' and the Graphviz dot program "
    "(apt-get install graphviz, or brew install graphviz)"
)

# Fill colours. Offload status is the colour; the label says it in words too, so the drawing
# reads in grey scale and for colour-blind readers.
OFFLOADED = "#b7e1cd"
HOST_ONLY = "#ffffff"
INVALIDATED = "#f9cb9c"
INVALIDATED_PEN = "#b45f06"
SUCCESS = "#b7e1cd"
PARTIAL = "#fff2cc"
FAILED = "#f4cccc"
FAILED_PEN = "#cc0000"
NO_STATUS_FILL = "#d9d9d9"
REFERENCED = "#cfe2f3"
DIFFER_PEN = "#cc0000"
DEPENDENT_PEN = "#1f4e79"
NEXT_PEN = "#7f7f7f"

#: The graph name of each kind of drawing, and what its title calls it.
_TITLES = {
    "offload_tree": "offload state tree",
    "block_list": "block list",
    "offload_result": "offload result",
    "target_tree": "the target's internal tree",
}
_RANK_NAMES = {Layer.NEIGHBOR: "neighbors", Layer.PATH: "paths", Layer.TCP: "connections"}
#: Columns of ``tree.states`` that every node shows in words of its own, not as variables.
_BOOKKEEPING = ("handle", "parent", "offloaded", "invalidated")
_NO_MAC = 2**64 - 1


class GraphvizUnavailable(RuntimeError):
    """Rendering needs the ``graphviz`` package and the ``dot`` program, and one is missing."""


# --- DOT text ------------------------------------------------------------------------------


def _escape(text: str) -> str:
    """``text`` inside a DOT quoted string: backslashes and quotes escaped, line breaks
    turned into DOT's own (a raw one would end up in the label as it is)."""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def _quote(text: str) -> str:
    """``text`` as a DOT quoted string."""
    return f'"{_escape(text)}"'


def _label(lines: Sequence[str], details: Sequence[str] = ()) -> str:
    """A node label: ``lines`` centred, then ``details`` left-justified (DOT's ``\\l``)."""
    text = "\\n".join(_escape(line) for line in lines)
    if details:
        text += "\\n" + "".join(_escape(line) + "\\l" for line in details)
    return f'"{text}"'


def _attrs(label: str | None, attrs: Mapping[str, str]) -> str:
    """An attribute list; ``label`` comes already quoted (see :func:`_label`)."""
    parts = [] if label is None else [f"label={label}"]
    parts += [f"{name}={_quote(value)}" for name, value in attrs.items()]
    return f" [{', '.join(parts)}]" if parts else ""


@dataclass
class _Dot:
    """A digraph being written: statements in order, subgraphs as indented blocks."""

    name: str
    lines: list[str] = field(default_factory=list)

    def graph(self, **attrs: str) -> None:
        self.lines.append(f"  graph{_attrs(None, attrs)};")

    def defaults(self, kind: str, **attrs: str) -> None:
        self.lines.append(f"  {kind}{_attrs(None, attrs)};")

    def node(self, node_id: str, label: str, indent: int = 1, **attrs: str) -> None:
        self.lines.append(f"{'  ' * indent}{_quote(node_id)}{_attrs(label, attrs)};")

    def edge(self, tail: str, head: str, label: str | None = None, **attrs: str) -> None:
        text = None if label is None else _quote(label)
        self.lines.append(f"  {_quote(tail)} -> {_quote(head)}{_attrs(text, attrs)};")

    def open(self, name: str, **attrs: str) -> None:
        self.lines.append(f"  subgraph {_quote(name)} {{")
        self.lines += [f"    {key}={_quote(value)};" for key, value in attrs.items()]

    def close(self) -> None:
        self.lines.append("  }")

    def text(self) -> str:
        return "\n".join([f"digraph {_quote(self.name)} {{", *self.lines, "}"]) + "\n"


def _start(name: str, title: str, rankdir: str) -> _Dot:
    """A digraph with the house style: boxes with rounded corners, a title on top."""
    dot = _Dot(name)
    dot.graph(rankdir=rankdir, label=title, labelloc="t", fontname="Helvetica", fontsize="12")
    dot.defaults(
        "node",
        shape="box",
        style="rounded,filled",
        fontname="Helvetica",
        fontsize="10",
        fillcolor=HOST_ONLY,
    )
    dot.defaults("edge", fontname="Helvetica", fontsize="9")
    return dot


def _summary(name: str, what: str, advice: str) -> str:
    """The graph of a drawing too large to draw: one node that says so."""
    dot = _start(name, f"{_TITLES[name]}: not drawn", "TB")
    text = f"{what}: too many to draw; {advice}"
    dot.node("summary", _label([text]), shape="note", fillcolor=PARTIAL)
    return dot.text()


@dataclass(frozen=True)
class _LegendItem:
    """One entry of a legend: a sample node (or, with ``edge``, a sample edge)."""

    text: str
    attrs: Mapping[str, str]
    edge: bool = False


def _legend(dot: _Dot, items: Sequence[_LegendItem]) -> None:
    """A ``cluster_legend`` subgraph: a sample node or edge per item, in the drawing's style."""
    dot.open(
        "cluster_legend",
        label="Legend",
        style="rounded",
        color="#999999",
        fontname="Helvetica",
        fontsize="10",
    )
    edges: list[tuple[str, str, _LegendItem]] = []
    for i, item in enumerate(items):
        if item.edge:
            a, b = f"legend_{i}_a", f"legend_{i}_b"
            for end in (a, b):
                dot.node(end, '""', indent=2, shape="point", width="0.08")
            edges.append((a, b, item))
        else:
            dot.node(f"legend_{i}", _label([item.text]), indent=2, **item.attrs)
    dot.close()
    for a, b, item in edges:
        dot.edge(a, b, item.text, **item.attrs)


def _limit(max_objects: object) -> int:
    """``max_objects``, checked: an int of at least 1."""
    value = plain_scalar(max_objects)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"max_objects must be an int of at least 1, got {max_objects!r}")
    return int(value)


def _mac(value: int) -> str:
    return ":".join(f"{(value >> shift) & 0xFF:02x}" for shift in range(40, -1, -8))


# --- the tree ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rows:
    """The drawn objects of one layer: its ``tree.states`` columns, as lists, for the rows
    in the drawing (walk order)."""

    layer: Layer
    columns: dict[str, list[Any]]

    def __len__(self) -> int:
        return len(self.columns["handle"])


def _read_layer(
    tree: OffloadStateTree, layer: Layer, walked: npt.NDArray[np.uint64] | None
) -> _Rows:
    """One layer's rows of the drawing, read in one ``states`` call."""
    columns = tree.states(layer)
    if walked is not None:
        keep = np.isin(columns["handle"], walked)
        columns = {name: values[keep] for name, values in columns.items()}
    columns.pop("family", None)  # a path's address text says which family it is
    return _Rows(layer, {name: values.tolist() for name, values in columns.items()})


def _facts(rows: _Rows, i: int) -> list[str]:
    """The key facts of row ``i``: what identifies the object in the network."""
    c = rows.columns
    if rows.layer == Layer.NEIGHBOR:
        return [f"mac {_mac(c['mac'][i])}", f"vlan {c['vlan_id'][i]}"]
    if rows.layer == Layer.PATH:
        return [f"{c['source'][i]} -> {c['destination'][i]}", f"mtu {c['path_mtu'][i]}"]
    return [f"port {c['local_port'][i]} -> {c['remote_port'][i]}", _state_name(c["state"][i])]


def _state_name(code: int) -> str:
    try:
        return ConnectionState(code).name
    except ValueError:  # not one of RFC 793's: show the number rather than fail the drawing
        return f"state {code}"


def _variables(rows: _Rows, i: int) -> list[str]:
    """Every variable of row ``i`` as ``name = value`` (``states=True``)."""
    out = []
    for name, values in rows.columns.items():
        if name in _BOOKKEEPING:
            continue
        value = values[i]
        if name in ("mac", "source_mac"):
            text = "unset" if value == _NO_MAC else _mac(value)
        elif name == "state":
            text = _state_name(value)
        else:
            text = str(value)
        out.append(f"{name} = {text}")
    return out


def _status(offloaded: bool, invalidated: bool) -> tuple[str, dict[str, str]]:
    """The words and the style of an object's offload status."""
    if invalidated:
        return "offloaded, INVALIDATED", {
            "fillcolor": INVALIDATED,
            "color": INVALIDATED_PEN,
            "style": "rounded,filled,bold,dashed",
        }
    if offloaded:
        return "offloaded", {"fillcolor": OFFLOADED}
    return "host only", {"fillcolor": HOST_ONLY}


@dataclass
class _Diff:
    """Where the target's internal tree and the host's offloaded objects differ."""

    missing: set[int] = field(default_factory=set)  # offloaded on the host, not at the target
    relinked: dict[int, int | None] = field(default_factory=dict)  # target's other link
    target_only: dict[int, int | None] = field(default_factory=dict)  # and its target link

    def __len__(self) -> int:
        """The number of objects that differ."""
        return len(self.missing) + len(self.relinked) + len(self.target_only)

    @property
    def agree(self) -> bool:
        """True when nothing differs (invariant 5 holds for the drawn objects)."""
        return len(self) == 0

    def remark(self, h: int) -> list[str]:
        """What the drawing says about object ``h`` (nothing when host and target agree)."""
        if h in self.missing:
            return ["DIFFERS: not at the target"]
        if h in self.relinked:
            return [f"DIFFERS: target links it to {_handle_or_none(self.relinked[h])}"]
        if h in self.target_only:
            return ["DIFFERS: at the target, not offloaded on the host"]
        return []


def _handle_or_none(h: int | None) -> str:
    return "nothing" if h is None else format_handle(h)


def _compare(rows: Sequence[_Rows], target: Mapping[int, int | None], whole: bool) -> _Diff:
    """The differences between the drawn host objects and the target's internal tree
    (invariant 5 says there are none). ``whole``: the drawing is the whole tree, so every
    object the target holds is in scope; otherwise those in or linked into the drawing."""
    diff = _Diff()
    drawn: set[int] = set()
    offloaded_here: set[int] = set()
    for r in rows:
        c = r.columns
        for h, parent, offloaded in zip(c["handle"], c["parent"], c["offloaded"], strict=True):
            drawn.add(h)
            if not offloaded:
                continue
            offloaded_here.add(h)
            if h not in target:
                diff.missing.add(h)
            elif target[h] != (parent or None):
                diff.relinked[h] = target[h]
    for h, parent in target.items():
        if h not in offloaded_here and (whole or h in drawn or parent in drawn):
            diff.target_only[h] = parent
    return diff


def tree_dot(
    tree: OffloadStateTree,
    roots: Handles | None = None,
    *,
    max_objects: int = DEFAULT_MAX_OBJECTS,
    states: bool = False,
    compare_target: bool = False,
) -> str:
    """The DOT text of ``tree`` (see :meth:`OffloadStateTree.to_dot`)."""
    limit = _limit(max_objects)
    with_states = as_bool("states", states)
    compare = as_bool("compare_target", compare_target)
    walked = None if roots is None else tree.walk("pre", roots)
    if walked is None:
        counts = [tree.count(layer) for layer in Layer]
    else:
        counts = _layer_counts(_layers_of(walked))
    if sum(counts) > limit:
        return _tree_summary(tree, counts, walked)
    rows = [_read_layer(tree, layer, walked) for layer in Layer if counts[layer]]
    diff = _compare(rows, tree.target.internal_tree(), walked is None) if compare else None
    return _draw_tree(tree, rows, walked, with_states, diff)


def _tree_summary(
    tree: OffloadStateTree, counts: Sequence[int], walked: npt.NDArray[np.uint64] | None
) -> str:
    """The summary graph of a tree (or subtrees) too large to draw."""
    if walked is None:
        offloaded = tree.count(offloaded=True)
    else:
        # One states call per layer present: the walk itself says nothing of offload status.
        offloaded = 0
        for layer in Layer:
            if counts[layer]:
                columns = tree.states(layer)
                in_scope = np.isin(columns["handle"], walked)
                offloaded += int(np.count_nonzero(columns["offloaded"][in_scope]))
    what = f"{_layer_text(counts)} ({offloaded:,} offloaded)"
    return _summary("offload_tree", what, "pass roots= or max_objects=")


def _draw_tree(
    tree: OffloadStateTree,
    rows: Sequence[_Rows],
    walked: npt.NDArray[np.uint64] | None,
    with_states: bool,
    diff: _Diff | None,
) -> str:
    """The drawing of the objects in ``rows``: ranks, nodes, dependency edges, legend."""
    dot = _start("offload_tree", _tree_title(tree, rows, walked), "BT")
    drawn: set[int] = set()
    for r in rows:
        dot.open(_RANK_NAMES[r.layer], rank="same")
        for i in range(len(r)):
            _object_node(dot, r, i, with_states, diff)
        dot.close()
        drawn.update(r.columns["handle"])
    edges = tree.edges()
    for dependent, parent in zip(
        edges["dependent"].tolist(), edges["depends_on"].tolist(), strict=True
    ):
        if dependent in drawn and parent in drawn:
            dot.edge(format_handle(dependent), format_handle(parent))
    if diff is not None:
        _draw_differences(dot, diff, drawn)
    _legend(dot, _tree_legend(diff))
    return dot.text()


def _tree_title(
    tree: OffloadStateTree, rows: Sequence[_Rows], walked: npt.NDArray[np.uint64] | None
) -> str:
    counts = [0, 0, 0]
    offloaded = 0
    for r in rows:
        counts[r.layer] = len(r)
        offloaded += sum(r.columns["offloaded"])
    scope = "" if walked is None else " (the subtrees of the roots)"
    return (
        f"offload state tree{scope}, {tree.backend} backend: {_layer_text(counts)}; "
        f"{offloaded:,} offloaded"
    )


def _object_node(dot: _Dot, rows: _Rows, i: int, with_states: bool, diff: _Diff | None) -> None:
    """One object: layer and handle, key facts, status in words and colour."""
    c = rows.columns
    h = c["handle"][i]
    words, style = _status(c["offloaded"][i], c["invalidated"][i])
    lines = [f"{rows.layer.name} {format_handle(h)}", *_facts(rows, i), words]
    remark = [] if diff is None else diff.remark(h)
    if remark:
        lines += remark
        style = {**style, "color": DIFFER_PEN, "penwidth": "3"}
    details = _variables(rows, i) if with_states else []
    dot.node(format_handle(h), _label(lines, details), indent=2, **style)


def _draw_differences(dot: _Dot, diff: _Diff, drawn: set[int]) -> None:
    """Objects only the target holds, and the links as the target has them, in red."""
    known = set(drawn)
    for h in diff.target_only:
        if h not in known:
            layer = Layer(int(_layers_of(np.array([h], dtype=np.uint64))[0]))
            lines = [f"{layer.name} {format_handle(h)}", "DIFFERS: only at the target"]
            dot.node(
                format_handle(h),
                _label(lines),
                color=DIFFER_PEN,
                penwidth="3",
                style="rounded,filled,dashed",
            )
            known.add(h)
    links = {**diff.relinked, **diff.target_only}
    for h, parent in links.items():
        if parent is None:
            continue
        if parent not in known:
            dot.node(
                format_handle(parent),
                _label([format_handle(parent), "(not drawn)"]),
                style="rounded,dotted",
            )
            known.add(parent)
        dot.edge(
            format_handle(h),
            format_handle(parent),
            "target's link",
            color=DIFFER_PEN,
            style="dashed",
            fontcolor=DIFFER_PEN,
        )


def _tree_legend(diff: _Diff | None) -> list[_LegendItem]:
    items = [
        _LegendItem("offloaded", {"fillcolor": OFFLOADED}),
        _LegendItem("host only (not offloaded)", {"fillcolor": HOST_ONLY}),
        _LegendItem("offloaded, invalidated", _status(True, True)[1]),
        _LegendItem("depends on", {}, edge=True),
    ]
    if diff is not None and diff.agree:
        items.append(_LegendItem("host and target agree", {"shape": "plaintext", "style": ""}))
    elif diff is not None:
        text = f"host and target differ: {_plural(len(diff), 'object')} (red)"
        items.append(_LegendItem(text, {"color": DIFFER_PEN, "penwidth": "3"}))
        items.append(
            _LegendItem("target's link", {"color": DIFFER_PEN, "style": "dashed"}, edge=True)
        )
    return items


# --- block lists and offload results -------------------------------------------------------


def block_list_dot(blocks: BlockList, *, max_objects: int = DEFAULT_MAX_OBJECTS) -> str:
    """The DOT text of a block list (see :meth:`BlockList.to_dot`)."""
    return _blocks_dot("block_list", blocks, _limit(max_objects), None)


def offload_result_dot(result: OffloadResult, *, max_objects: int = DEFAULT_MAX_OBJECTS) -> str:
    """The DOT text of an offload's result (see :meth:`OffloadResult.to_dot`)."""
    extra = (
        f"{_plural(len(result.succeeded), 'block')} offloaded, {len(result.failed):,} failed; "
        f"{len(result.released.terminated):,} released again, "
        f"{len(result.declined):,} declined by the host's policy"
    )
    return _blocks_dot("offload_result", result.blocks, _limit(max_objects), extra)


def _blocks_dot(name: str, blocks: BlockList, limit: int, extra: str | None) -> str:
    arrays = blocks.to_dict()
    what = blocks_text(arrays["layer"], arrays["referenced"])
    n = len(blocks)
    if n > limit:  # counted in NumPy: no Python object per block for a summary
        return _summary(name, what, "pass max_objects=")
    columns = {key: values.tolist() for key, values in arrays.items()}
    title = f"{_TITLES[name]}: {what}" + ("" if extra is None else f"\n{extra}")
    dot = _start(name, title, "TB")
    for layer in Layer:
        ids = [i for i in range(n) if columns["layer"][i] == layer]
        if ids:
            dot.open(_RANK_NAMES[layer], rank="same")
            for i in ids:
                _block_node(dot, columns, i)
            dot.close()
    for i in range(n):
        if columns["dependent"][i] >= 0:
            dot.edge(
                f"b{i}",
                f"b{columns['dependent'][i]}",
                "dependent",
                color=DEPENDENT_PEN,
                penwidth="1.5",
            )
        if columns["next"][i] >= 0:
            dot.edge(f"b{i}", f"b{columns['next'][i]}", "next", style="dashed", color=NEXT_PEN)
    _legend(dot, _block_legend("status" in columns))
    return dot.text()


def _block_node(dot: _Dot, columns: Mapping[str, list[Any]], i: int) -> None:
    """One block: layer and handle, new or referenced, the status when there is one."""
    layer = Layer(columns["layer"][i])
    referenced = bool(columns["referenced"][i])
    lines = [
        f"{layer.name} {format_handle(columns['handle'][i])}",
        "referenced (already offloaded)" if referenced else "new state",
    ]
    style = {"fillcolor": REFERENCED if referenced else HOST_ONLY}
    if "status" in columns:
        word, style = _block_status(columns["status"][i])
        lines.append(word)
    if referenced:
        style = {**style, "style": "rounded,filled,dashed"}
    dot.node(f"b{i}", _label(lines), indent=2, **style)


def _block_status(code: int) -> tuple[str, dict[str, str]]:
    """The words and the style of a block's status."""
    if code == NO_STATUS:
        return "no status", {"fillcolor": NO_STATUS_FILL}
    status = Status(code)
    if status == Status.SUCCESS:
        return status.name, {"fillcolor": SUCCESS}
    if status == Status.PARTIAL_SUCCESS:
        return status.name, {"fillcolor": PARTIAL}
    return status.name, {"fillcolor": FAILED, "color": FAILED_PEN, "penwidth": "2"}


def _block_legend(with_status: bool) -> list[_LegendItem]:
    items = [
        _LegendItem("new state", {"fillcolor": HOST_ONLY}),
        _LegendItem(
            "referenced (already offloaded)",
            {"fillcolor": REFERENCED, "style": "rounded,filled,dashed"},
        ),
    ]
    if with_status:
        items[1] = _LegendItem("referenced: dashed border", {"style": "rounded,dashed"})
        items += [
            _LegendItem("SUCCESS", _block_status(Status.SUCCESS)[1]),
            _LegendItem("PARTIAL_SUCCESS", _block_status(Status.PARTIAL_SUCCESS)[1]),
            _LegendItem("failure (status named)", _block_status(Status.FAILURE)[1]),
            _LegendItem("no status", _block_status(NO_STATUS)[1]),
        ]
    items += [
        _LegendItem(
            "dependent (DependentBlockList)", {"color": DEPENDENT_PEN, "penwidth": "1.5"}, edge=True
        ),
        _LegendItem("next (NextBlock)", {"style": "dashed", "color": NEXT_PEN}, edge=True),
    ]
    return items


# --- the target's internal tree ------------------------------------------------------------


def target_dot(target: SimulatedTarget, *, max_objects: int = DEFAULT_MAX_OBJECTS) -> str:
    """The DOT text of the target's internal tree (see :meth:`SimulatedTarget.to_dot`)."""
    limit = _limit(max_objects)
    links = target.internal_tree()
    layer_array = _layers_of(np.fromiter(links, dtype=np.uint64, count=len(links)))
    counts = _layer_counts(layer_array)
    layers = layer_array.tolist()
    what = f"{_plural(len(links), 'context')} at the target ({_layer_text(counts)})"
    if len(links) > limit:
        return _summary("target_tree", what, "pass max_objects=")
    dot = _start("target_tree", f"the target's internal tree: {what}", "BT")
    if not links:
        dot.node(
            "empty", _label(["the target holds no offloaded state"]), shape="plaintext", style=""
        )
    for layer in Layer:
        ids = [h for h, lay in zip(links, layers, strict=True) if lay == layer]
        if ids:
            dot.open(_RANK_NAMES[layer], rank="same")
            for h in ids:
                dot.node(
                    format_handle(h),
                    _label([f"{layer.name} {format_handle(h)}"]),
                    indent=2,
                    fillcolor=OFFLOADED,
                )
            dot.close()
    for h, parent in links.items():
        if parent is not None:
            dot.edge(format_handle(h), format_handle(parent))
    _legend(
        dot,
        [
            _LegendItem("context the target holds", {"fillcolor": OFFLOADED}),
            _LegendItem("linked to", {}, edge=True),
        ],
    )
    return dot.text()


# --- rendering -----------------------------------------------------------------------------


def graphviz_problem() -> str | None:
    """Why DOT text cannot be rendered here (the ``graphviz`` package or the ``dot``
    program missing), or None when it can."""
    try:
        importlib.import_module("graphviz")
    except ImportError:
        return "the graphviz Python package is not installed"
    if shutil.which("dot") is None:
        return "the Graphviz dot program is not on PATH"
    return None


def render(dot: str, fmt: str) -> bytes:
    """``dot`` rendered to ``fmt`` (``"svg"``, ``"png"``, ...) by Graphviz's ``dot``;
    ``GraphvizUnavailable`` (with :data:`INSTALL_HINT`) when Graphviz is missing."""
    problem = graphviz_problem()
    if problem is not None:
        raise GraphvizUnavailable(f"{problem}: {INSTALL_HINT}")
    # Imported here, never at import time: DOT text needs NumPy only.
    graphviz: Any = importlib.import_module("graphviz")
    data: bytes = graphviz.pipe("dot", fmt, dot.encode("utf-8"), quiet=True)
    return data


def repr_svg(make_dot: Callable[[], str]) -> str | None:
    """SVG text for a notebook's ``_repr_svg_``: None when Graphviz is missing or anything
    fails, so that IPython falls back to the repr instead of showing a traceback."""
    try:
        if graphviz_problem() is not None:
            return None
        return render(make_dot(), "svg").decode("utf-8")
    except Exception:  # a display hook must never raise: None means "use the repr"
        return None
