"""Drawings (issue 14): the DOT text of trees, block lists, offload results and the target's
internal tree, its rendering, ``_repr_svg_`` and ``offload-tree draw``.

The DOT text is parsed minimally (regular expressions over node, edge and subgraph lines) and
checked for content: every object once with its handle, every dependency as an edge, ranks by
layer, colours by offload status, block-list links as in ``to_dict()``, the size cap.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import offload_tree as ot
import pytest
from offload_tree import _cli, _draw
from offload_tree._blocks import BlockList
from offload_tree._coerce import format_handle

PACKAGE_PARENT = Path(ot.__file__).resolve().parents[1]
HAS_GRAPHVIZ = _draw.graphviz_problem() is None
needs_graphviz = pytest.mark.skipif(not HAS_GRAPHVIZ, reason="graphviz package or dot missing")

# --- a minimal DOT reader ------------------------------------------------------------------

_QUOTED = r'"(?:[^"\\]|\\.)*"'
_NODE = re.compile(rf"^\s*(?P<id>{_QUOTED}) \[(?P<attrs>.*)\];$", re.M)
_EDGE = re.compile(
    rf"^\s*(?P<tail>{_QUOTED}) -> (?P<head>{_QUOTED})(?: \[(?P<attrs>.*)\])?;$", re.M
)
_ATTR = re.compile(rf"(\w+)=({_QUOTED})")
_SUBGRAPH = re.compile(rf"^  subgraph (?P<name>{_QUOTED}) \{{\n(?P<body>.*?)^  \}}$", re.M | re.S)


def _unquote(text: str) -> str:
    """A DOT quoted string's text: ``\\n`` and ``\\l`` (centred, left-justified line ends)
    become newlines, any other escaped character itself."""
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] in "nl" else m[1], text[1:-1])


def _attrs(text: str | None) -> dict[str, str]:
    return {name: _unquote(value) for name, value in _ATTR.findall(text or "")}


@dataclass
class Dot:
    """What a test reads from DOT text: nodes (with every definition counted), edges, and the
    nodes of each subgraph; ``legend_*`` nodes and edges are kept apart."""

    text: str
    nodes: dict[str, dict[str, str]] = field(default_factory=dict)
    node_count: Counter[str] = field(default_factory=Counter)
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    legend: dict[str, dict[str, str]] = field(default_factory=dict)
    subgraphs: dict[str, set[str]] = field(default_factory=dict)

    def label(self, node: str) -> str:
        return self.nodes[node]["label"]

    def legend_attrs(self, text: str) -> dict[str, str]:
        """The attributes of the legend's sample node whose label is ``text``."""
        (attrs,) = [a for a in self.legend.values() if a.get("label") == text]
        return attrs


def parse(text: str) -> Dot:
    assert text.startswith("digraph ") and text.rstrip().endswith("}")
    assert text.count("{") == text.count("}")
    dot = Dot(text)
    for m in _NODE.finditer(text):
        node_id, attrs = _unquote(m["id"]), _attrs(m["attrs"])
        if node_id.startswith("legend_"):
            dot.legend[node_id] = attrs
        elif node_id not in ("graph", "node", "edge"):
            dot.nodes[node_id] = attrs
            dot.node_count[node_id] += 1
    for m in _EDGE.finditer(text):
        tail, head = _unquote(m["tail"]), _unquote(m["head"])
        if not tail.startswith("legend_"):
            dot.edges.append((tail, head, _attrs(m["attrs"])))
    for m in _SUBGRAPH.finditer(text):
        ids = {_unquote(n["id"]) for n in _NODE.finditer(m["body"])}
        dot.subgraphs[_unquote(m["name"])] = ids
        if _unquote(m["name"]) != "cluster_legend":
            assert 'rank="same";' in m["body"]
    return dot


def fh(h: Any) -> str:
    return format_handle(int(h))


def handle_nodes(dot: Dot) -> set[str]:
    return {n for n in dot.nodes if re.fullmatch(r"0x[0-9a-f]{16}", n)}


# --- the tree ------------------------------------------------------------------------------


def test_every_object_is_one_node_with_its_handle_and_facts(ex) -> None:
    dot = parse(ex.tree.to_dot())
    handles = [int(h) for h in ex.tree.handles()]
    assert handle_nodes(dot) == set(dot.nodes) == {fh(h) for h in handles}
    assert set(dot.node_count.values()) == {1}
    for h in handles:
        holding = [n for n, attrs in dot.nodes.items() if fh(h) in attrs["label"]]
        assert holding == [fh(h)]  # the handle is in its own node's label, no other
        assert dot.label(fh(h)).startswith(f"{ex.tree.layer(h).name} {fh(h)}\n")
    assert "mac 00:15:5d:01:02:03\nvlan 0" in dot.label(fh(ex.nb1))
    assert "10.0.0.1 -> 10.0.0.9\nmtu 1500" in dot.label(fh(ex.pa1))
    assert "10.0.0.1 -> 10.0.1.7" in dot.label(fh(ex.pa2))
    assert "port 49152 -> 443\nESTABLISHED" in dot.label(fh(ex.tc1))
    assert "port 49154 -> 80" in dot.label(fh(ex.tc3))


def test_every_dependency_is_an_edge_from_dependent_to_depends_on(ex) -> None:
    dot = parse(ex.tree.to_dot())
    want = {(fh(h), fh(ex.tree.depends_on(h))) for h in ex.all if h != ex.nb1}
    got = [(tail, head) for tail, head, _ in dot.edges]
    assert sorted(got) == sorted(want)
    assert 'rankdir="BT"' in dot.text  # tails (dependents) below heads: neighbors on top


def test_ranks_group_the_layers(ex) -> None:
    dot = parse(ex.tree.to_dot())
    assert dot.subgraphs["neighbors"] == {fh(ex.nb1)}
    assert dot.subgraphs["paths"] == {fh(ex.pa1), fh(ex.pa2)}
    assert dot.subgraphs["connections"] == {fh(ex.tc1), fh(ex.tc2), fh(ex.tc3)}


def test_colours_follow_offload_status_after_a_partial_offload(make_example) -> None:
    ex = make_example()
    ex.target.inject_fault(ex.tc2, ot.Status.RESOURCES)
    ex.target.inject_fault(ex.pa2, ot.Status.FAILURE)
    ex.tree.initiate_offload([ex.tc1, ex.tc2, ex.tc3])
    assert ex.tree.invalidate([ex.tc1]).ok
    dot = parse(ex.tree.to_dot())
    offloaded = dot.legend_attrs("offloaded")["fillcolor"]
    host_only = dot.legend_attrs("host only (not offloaded)")["fillcolor"]
    invalidated = dot.legend_attrs("offloaded, invalidated")
    assert len({offloaded, host_only, invalidated["fillcolor"]}) == 3
    for h in (ex.nb1, ex.pa1):
        assert dot.nodes[fh(h)]["fillcolor"] == offloaded
        assert dot.label(fh(h)).endswith("\noffloaded")
    for h in (ex.tc2, ex.pa2, ex.tc3):
        assert dot.nodes[fh(h)]["fillcolor"] == host_only
        assert dot.label(fh(h)).endswith("\nhost only")
    tc1 = dot.nodes[fh(ex.tc1)]
    assert tc1["fillcolor"] == invalidated["fillcolor"]
    assert tc1["style"] == invalidated["style"] and "dashed" in tc1["style"]
    assert "INVALIDATED" in tc1["label"]
    assert "3 offloaded" in dot.text  # the title counts them


def test_states_adds_every_variable(ex) -> None:
    plain = parse(ex.tree.to_dot())
    full = parse(ex.tree.to_dot(states=True))
    assert set(full.nodes) == set(plain.nodes)
    tc1 = full.label(fh(ex.tc1))
    for name in ("local_port = 49152", "nagle = True", "state = ESTABLISHED", "cwnd = 14600"):
        assert name in tc1
    assert "source_mac = unset" in full.label(fh(ex.nb1))
    assert "rcv_nxt" not in plain.label(fh(ex.tc1))


def test_roots_draw_only_their_subtrees(ex) -> None:
    dot = parse(ex.tree.to_dot(ex.pa1))
    assert set(dot.nodes) == {fh(ex.pa1), fh(ex.tc1), fh(ex.tc2)}
    assert sorted((t, h) for t, h, _ in dot.edges) == sorted(
        [(fh(ex.tc1), fh(ex.pa1)), (fh(ex.tc2), fh(ex.pa1))]
    )
    assert "subtrees of the roots" in dot.text
    dot = parse(ex.tree.to_dot(roots=[ex.tc3, ex.pa1]))
    assert set(dot.nodes) == {fh(ex.pa1), fh(ex.tc1), fh(ex.tc2), fh(ex.tc3)}
    assert dot.subgraphs.keys() == {"paths", "connections", "cluster_legend"}
    with pytest.raises(ot.InvalidHandleError):
        ex.tree.to_dot(roots=[12345])


def _grown(tree: Any, neighbors: int, paths_each: int, tcps_each: int) -> Any:
    nbs = tree.add_neighbors(np.arange(neighbors, dtype=np.uint64) + 0x0200_0000_0000)
    n_paths = neighbors * paths_each
    paths = tree.add_paths(np.repeat(nbs, paths_each), "10.0.0.1",
                           np.arange(n_paths, dtype=np.uint64) + 0x0B00_0000)  # fmt: skip
    n_tcps = n_paths * tcps_each
    tcps = tree.add_tcps(np.repeat(paths, tcps_each), 1024 + np.arange(n_tcps) % 60000, 443)
    return nbs, paths, tcps


def test_a_tree_too_large_is_a_short_summary(tree) -> None:
    nbs, paths, tcps = _grown(tree, 3, 10, 100)
    assert tree.initiate_offload(tcps[:50]).ok
    text = tree.to_dot(max_objects=100)
    dot = parse(text)
    assert list(dot.nodes) == ["summary"] and not dot.edges
    assert dot.label("summary") == (
        "3 neighbors, 30 paths, 3,000 connections (52 offloaded): too many to draw; "
        "pass roots= or max_objects="
    )
    assert len(text) < 1000
    assert len(tree.to_dot()) < 1000  # the default cap, 2000 objects
    # roots= counts the subtrees: one neighbor, its 10 paths and 1,000 connections.
    summary = parse(tree.to_dot(nbs[0], max_objects=100)).label("summary")
    assert summary.startswith("1 neighbor, 10 paths, 1,000 connections (52 offloaded)")
    # And a drawing at the cap is drawn whole.
    assert len(handle_nodes(parse(tree.to_dot(paths[0], max_objects=101)))) == 101


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "10"])
def test_max_objects_must_be_a_positive_int(tree, bad: Any) -> None:
    with pytest.raises(ot.ValidationError, match="max_objects"):
        tree.to_dot(max_objects=bad)


def test_an_empty_tree_draws_a_legend_only(tree) -> None:
    dot = parse(tree.to_dot())
    assert not dot.nodes and not dot.edges and dot.legend


def test_compare_target_says_host_and_target_agree(off) -> None:
    dot = parse(off.tree.to_dot(compare_target=True))
    assert dot.legend_attrs("host and target agree")
    assert "DIFFERS" not in dot.text
    assert handle_nodes(dot) == {fh(h) for h in off.all}


def test_compare_target_marks_what_differs(off, monkeypatch) -> None:
    tree = off.tree
    tree.terminate(off.tc3)  # releases pa2 too: both are host only now
    fake = dict(tree.target.internal_tree())
    del fake[off.tc1]  # offloaded on the host, absent at the target
    fake[off.tc2] = off.pa2  # linked differently
    fake[off.tc3] = off.pa2  # at the target, not offloaded on the host
    stranger = int(off.tc3) + 7  # a handle the host does not know
    fake[stranger] = off.pa2
    monkeypatch.setattr(ot.SimulatedTarget, "internal_tree", lambda self: fake)
    dot = parse(tree.to_dot(compare_target=True))
    red = dot.legend_attrs("host and target differ: 4 objects (red)")["color"]
    assert "DIFFERS: not at the target" in dot.label(fh(off.tc1))
    assert f"DIFFERS: target links it to {fh(off.pa2)}" in dot.label(fh(off.tc2))
    assert "DIFFERS: at the target, not offloaded on the host" in dot.label(fh(off.tc3))
    assert "only at the target" in dot.label(fh(stranger))
    for h in (off.tc1, off.tc2, off.tc3, stranger):
        assert dot.nodes[fh(h)]["color"] == red
    for h in (off.nb1, off.pa1, off.pa2):
        assert "color" not in dot.nodes[fh(h)]
    target_links = {(t, h) for t, h, a in dot.edges if a.get("label") == "target's link"}
    assert target_links == {(fh(off.tc2), fh(off.pa2)), (fh(off.tc3), fh(off.pa2)),
                            (fh(stranger), fh(off.pa2))}  # fmt: skip
    assert dot.node_count[fh(off.pa2)] == 1  # drawn once, though a target's link ends there


def test_labels_are_escaped_for_dot() -> None:
    assert _draw._quote('a "b" \\c\nd') == '"a \\"b\\" \\\\c\\nd"'
    label = _draw._label(['say "hi"'], ["x = \\"])
    assert label == '"say \\"hi\\"\\nx = \\\\\\l"'
    text = 'digraph g {\n  "n" [label=' + label + "];\n}\n"
    if HAS_GRAPHVIZ:
        assert b"say &quot;hi&quot;" in _draw.render(text, "svg")


# --- block lists and offload results -------------------------------------------------------


def _block_edges(dot: Dot, kind: str) -> list[tuple[int, int]]:
    return sorted(
        (int(t[1:]), int(h[1:])) for t, h, attrs in dot.edges if attrs.get("label") == kind
    )


def test_block_list_edges_match_to_dict(ex) -> None:
    blocks = ex.tree.block_list([ex.tc1, ex.tc2, ex.tc3])
    columns = blocks.to_dict()
    dot = parse(blocks.to_dot())
    n = len(blocks)
    assert set(dot.nodes) == {f"b{i}" for i in range(n)}
    for i, h in enumerate(columns["handle"].tolist()):
        layer = ot.Layer(int(columns["layer"][i])).name
        assert dot.label(f"b{i}").startswith(f"{layer} {fh(h)}\nnew state")
    nxt = [(i, j) for i, j in enumerate(columns["next"].tolist()) if j >= 0]
    dep = [(i, j) for i, j in enumerate(columns["dependent"].tolist()) if j >= 0]
    assert _block_edges(dot, "next") == nxt and nxt  # Path1 -> Path2, TCP1 -> TCP2
    assert _block_edges(dot, "dependent") == dep
    assert len(dot.edges) == len(nxt) + len(dep)
    styles = {attrs["label"]: attrs.get("style") for _, _, attrs in dot.edges}
    assert styles == {"next": "dashed", "dependent": None}
    assert dot.legend_attrs("new state")
    legend_edges = re.findall(r'label="((?:next|dependent) \(\w+\))"', dot.text)
    assert sorted(legend_edges) == ["dependent (DependentBlockList)", "next (NextBlock)"]
    assert dot.subgraphs["paths"] == {f"b{i}" for i in range(n) if columns["layer"][i] == 1}


def test_referenced_blocks_are_styled_apart(ex) -> None:
    assert ex.tree.initiate_offload([ex.tc1]).ok
    blocks = ex.tree.block_list([ex.tc2, ex.tc3])
    dot = parse(blocks.to_dot())
    referenced = blocks.to_dict()["referenced"].tolist()
    assert any(referenced) and not all(referenced)
    for i, ref in enumerate(referenced):
        node = dot.nodes[f"b{i}"]
        assert ("dashed" in node.get("style", "")) == ref
        assert ("referenced (already offloaded)" in node["label"]) == ref


def test_offload_result_colours_each_status(make_example) -> None:
    ex = make_example()
    ex.target.inject_fault(ex.tc2, ot.Status.RESOURCES)
    ex.target.inject_fault(ex.pa2, ot.Status.FAILURE)
    result = ex.tree.initiate_offload([ex.tc1, ex.tc2, ex.tc3])
    dot = parse(result.to_dot())
    fills = {
        name: dot.legend_attrs(name)["fillcolor"]
        for name in ("SUCCESS", "PARTIAL_SUCCESS", "failure (status named)")
    }
    assert len(set(fills.values())) == 3
    seen = set()
    for i, h in enumerate(result.blocks.handles.tolist()):
        status = result.status(h)
        node = dot.nodes[f"b{i}"]
        assert node["label"].endswith(f"\n{status.name}")
        key = status.name if not status.is_failure else "failure (status named)"
        assert node["fillcolor"] == fills[key]
        seen.add(status.name)
    assert seen == {"SUCCESS", "PARTIAL_SUCCESS", "RESOURCES", "FAILURE"}
    assert "3 failed" in dot.text


def test_blocks_without_a_status_are_grey() -> None:
    base = BlockList(
        (
            np.array([0, 1], np.uint8), np.array([1 << 48, (1 << 48) | (1 << 46)], np.uint64),
            np.array([0, 1], np.uint8), np.array([False, False]), np.array([-1, -1]),
            np.array([1, -1]), np.array([0, 255], np.uint8),
        )
    )  # fmt: skip
    dot = parse(base.to_dot())
    grey = dot.legend_attrs("no status")["fillcolor"]
    assert dot.nodes["b1"]["fillcolor"] == grey and dot.label("b1").endswith("\nno status")
    assert dot.nodes["b0"]["fillcolor"] != grey


def test_a_block_list_too_large_is_a_summary(tree) -> None:
    _, _, tcps = _grown(tree, 2, 5, 30)
    blocks = tree.block_list(tcps)
    text = blocks.to_dot(max_objects=50)
    dot = parse(text)
    assert list(dot.nodes) == ["summary"] and len(text) < 1000
    assert dot.label("summary") == (
        "312 blocks (2 neighbors, 10 paths, 300 connections; 0 referenced): too many to draw; "
        "pass max_objects="
    )
    result = tree.initiate_offload(tcps)
    assert "too many to draw" in result.to_dot(max_objects=50)
    assert len(parse(result.to_dot()).nodes) == 312


# --- the target's internal tree ------------------------------------------------------------


def test_target_draws_its_internal_tree(make_example) -> None:
    ex = make_example()
    assert "holds no offloaded state" in ex.target.to_dot()
    ex.tree.initiate_offload([ex.tc1, ex.tc3])
    links = ex.target.internal_tree()
    dot = parse(ex.target.to_dot())
    assert set(dot.nodes) == {fh(h) for h in links} and set(dot.node_count.values()) == {1}
    assert sorted((t, h) for t, h, _ in dot.edges) == sorted(
        (fh(h), fh(p)) for h, p in links.items() if p is not None
    )
    assert dot.subgraphs["connections"] == {fh(ex.tc1), fh(ex.tc3)}
    assert fh(ex.tc2) not in dot.nodes
    assert "too many to draw" in ex.target.to_dot(max_objects=2)


def test_an_unattached_target_cannot_be_drawn() -> None:
    with pytest.raises(ot.StateError):
        ot.SimulatedTarget().to_dot()


# --- rendering and notebooks ---------------------------------------------------------------


@needs_graphviz
def test_rendered_svg_holds_the_handles(make_example) -> None:
    ex = make_example()
    result = ex.tree.initiate_offload([ex.tc1, ex.tc2])
    for svg in (
        _draw.render(ex.tree.to_dot(compare_target=True), "svg").decode(),
        ex.tree._repr_svg_(),
        result._repr_svg_(),
        result.blocks._repr_svg_(),
        ex.tree.block_list([ex.tc3])._repr_svg_(),
    ):
        assert isinstance(svg, str) and "<svg" in svg
    svg = ex.tree._repr_svg_()
    for h in ex.all:
        assert fh(h) in svg
    assert "RESOURCES" not in svg and "SUCCESS" in result._repr_svg_()
    assert _draw.render(ex.tree.to_dot(), "png").startswith(b"\x89PNG")


def test_repr_svg_is_none_without_graphviz(ex, monkeypatch) -> None:
    result = ex.tree.initiate_offload([ex.tc1])
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz now fails
    assert _draw.graphviz_problem() == "the graphviz Python package is not installed"
    assert ex.tree._repr_svg_() is None
    assert result._repr_svg_() is None
    assert result.blocks._repr_svg_() is None
    with pytest.raises(_draw.GraphvizUnavailable, match=r"pip install 'offload-tree\[draw\]'"):
        _draw.render(ex.tree.to_dot(), "svg")
    assert ex.tree.to_dot().startswith("digraph")  # DOT text needs no Graphviz


def test_repr_svg_is_none_without_dot_or_on_any_error(ex, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "")
    assert ex.tree._repr_svg_() is None
    monkeypatch.undo()

    def broken(self: Any, *args: Any, **kwargs: Any) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(ot.OffloadStateTree, "to_dot", broken)
    assert ex.tree._repr_svg_() is None


def _run(*args: str, code: str | None = None, cwd: Path | None = None) -> Any:
    """``python -m offload_tree ARGS`` (or ``python -c CODE``) with this offload_tree."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PACKAGE_PARENT), env.get("PYTHONPATH", "")) if p
    )
    command = ["-c", code] if code is not None else ["-m", "offload_tree", *args]
    return subprocess.run([sys.executable, *command], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120, check=False)  # fmt: skip


def test_the_package_draws_without_graphviz_imported() -> None:
    code = (
        "import sys; sys.modules['graphviz'] = None\n"
        "import offload_tree as ot\n"
        "t = ot.OffloadStateTree(); nb = t.add_neighbor(mac=1)\n"
        "assert t.to_dot().startswith('digraph') and t._repr_svg_() is None\n"
        "assert t.block_list([nb]).to_dot().startswith('digraph')\n"
    )
    proc = _run(code=code)
    assert proc.returncode == 0, proc.stderr


# --- offload-tree draw ---------------------------------------------------------------------

DEMO_FACTS = ["mac 00:15:5d:01:02:03", "10.0.0.1 -> 10.0.0.9", "10.0.0.1 -> 10.0.0.10",
              "port 49152 -> 443", "port 49153 -> 443", "port 49154 -> 80"]  # fmt: skip


def test_cli_draws_the_demo_tree_as_dot(tmp_path: Path) -> None:
    out = tmp_path / "x.dot"
    proc = _run("draw", "--demo", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"wrote {out}"
    dot = parse(out.read_text())
    assert len(handle_nodes(dot)) == 6 and len(dot.edges) == 5
    labels = "\n".join(attrs["label"] for attrs in dot.nodes.values())
    for fact in DEMO_FACTS:
        assert fact in labels
    assert "6 offloaded" in dot.text  # drawn after the demo's offload


@needs_graphviz
def test_cli_draws_svg_and_png(tmp_path: Path) -> None:
    svg = tmp_path / "x.svg"
    proc = _run("draw", "--demo", "-o", str(svg))
    assert proc.returncode == 0, proc.stderr
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert len(re.findall(r"NEIGHBOR 0x[0-9a-f]{16}", text)) == 1
    assert len(re.findall(r"TCP 0x[0-9a-f]{16}", text)) == 3
    png = tmp_path / "x.png"
    assert _run("draw", "--offload-demo", "-o", str(png)).returncode == 0
    assert png.read_bytes().startswith(b"\x89PNG")


def test_cli_draws_the_offload_demo_with_failures(backend: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "r.dot"
    args = ["draw", "--backend", backend, "--offload-demo", "--partial", "-o", str(out)]
    assert _cli.main(args) == 0
    dot = parse(out.read_text())
    statuses = sorted(attrs["label"].rsplit("\n", 1)[1] for attrs in dot.nodes.values())
    assert statuses == ["FAILURE", "FAILURE", "PARTIAL_SUCCESS", "PARTIAL_SUCCESS",
                        "RESOURCES", "SUCCESS"]  # fmt: skip
    assert len(_block_edges(dot, "next")) == 2 and len(_block_edges(dot, "dependent")) == 3


def test_cli_draws_a_snapshot_to_stdout(backend: str, tmp_path: Path, capsys, ex) -> None:
    ex.tree.initiate_offload([ex.tc1])
    path = tmp_path / "tree.snap"
    ex.tree.save(path)
    assert _cli.main(["draw", "--backend", backend, "--snapshot", str(path),
                      "--compare-target"]) == 0  # fmt: skip
    dot = parse(capsys.readouterr().out)
    assert handle_nodes(dot) == {fh(h) for h in ex.all}  # the restored tree keeps its handles
    assert dot.legend_attrs("host and target agree")
    assert "3 offloaded" in dot.text


def test_cli_reports_a_bad_snapshot_in_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.snap"
    bad.write_bytes(b"not a snapshot")
    assert _cli.main(["draw", "--snapshot", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("offload-tree draw: error: ") and err.count("\n") == 1
    assert _cli.main(["draw", "--snapshot", str(tmp_path / "missing.snap")]) == 1


@pytest.mark.parametrize("missing", ["package", "dot"])
def test_cli_says_how_to_install_graphviz(missing: str, tmp_path: Path, monkeypatch,
                                          capsys) -> None:  # fmt: skip
    if missing == "package":
        monkeypatch.setitem(sys.modules, "graphviz", None)
    else:
        monkeypatch.setenv("PATH", "")
    out = tmp_path / "x.svg"
    assert _cli.main(["draw", "--demo", "-o", str(out)]) == 1
    captured = capsys.readouterr()
    err = captured.err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"offload-tree draw: error: cannot write {out}: ")
    assert "pip install 'offload-tree[draw]'" in err
    assert "apt-get install graphviz" in err and "brew install graphviz" in err
    assert not out.exists() and not captured.out
    # DOT text still works without Graphviz.
    assert _cli.main(["draw", "--demo", "-o", str(tmp_path / "x.dot")]) == 0


def test_cli_refuses_unknown_outputs_and_mixed_flags(tmp_path: Path, capsys) -> None:
    for args in (
        ["-o", str(tmp_path / "x.pdf")],
        ["--demo", "--snapshot", "f"],
        ["--snapshot", "f", "--partial"],
        ["--offload-demo", "--compare-target"],
    ):
        with pytest.raises(SystemExit) as exc:
            _cli.main(["draw", *args])
        assert exc.value.code == 2
    assert "name the output .dot, .svg or .png" in capsys.readouterr().err
