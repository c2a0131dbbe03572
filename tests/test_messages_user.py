"""Messages as a user reads them: what a layer argument accepts, what a stray int is, which
documents the package cites, and install hints that work outside the source tree."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import offload_tree as ot
import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # the test extra installs tomli on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "offload_tree"

#: Every way of passing a layer, and the call that parses it.
LAYER_CALLS = {
    "count": lambda tree, layer: tree.count(layer),
    "handles": lambda tree, layer: tree.handles(layer),
    "states": lambda tree, layer: tree.states(layer),
    "QueryResult.to_dict": lambda tree, layer: tree.query([]).to_dict(layer),
}


@pytest.mark.parametrize("call", sorted(LAYER_CALLS))
@pytest.mark.parametrize("layer", ["conn", "tcps", "", "ne\u0131ghbor", 3, -1, True, 1.0])
def test_a_bad_layer_names_every_accepted_form(tree: Any, call: str, layer: object) -> None:
    with pytest.raises(ot.ValidationError) as info:
        LAYER_CALLS[call](tree, layer)
    message = str(info.value)
    assert "0..2 or one of 'neighbor', 'path', 'tcp' (any case)" in message
    assert message.endswith(f"got {layer!r}")


@pytest.mark.parametrize("name", ["neighbor", "PATH", "Tcp"])
def test_a_layer_name_is_taken_in_any_case(tree: Any, name: str) -> None:
    nb = tree.add_neighbor(mac=1)
    pa = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    tree.add_tcp(pa, local_port=1, remote_port=2)
    assert tree.count(name) == 1 and len(tree.states(name)["handle"]) == 1


def test_only_count_and_handles_take_none(tree: Any) -> None:
    assert tree.count(None) == 0
    with pytest.raises(ot.ValidationError, match=r"layer must be a Layer, 0\.\.2 or one of"):
        tree.states(None)


@pytest.mark.parametrize("value", [12345, 0, 1, (1 << 48) - 1])
def test_a_small_int_is_not_a_handle_of_this_tree(tree: Any, value: int) -> None:
    """An int whose tree id bits are 0 is nobody's handle: the message says so and does not
    speak of a "tree id 0" as of a tree that exists."""
    calls = [
        lambda: tree.state(value),
        lambda: tree.layer(value),
        lambda: tree.query([value]),
        lambda: tree.target.receive(value, b"x"),
    ]
    for call in calls:
        with pytest.raises(ot.InvalidHandleError) as info:
            call()
        message = str(info.value)
        assert message.startswith(f"0x{value:016x} is not a handle of this tree")
        assert "no tree has id 0" in message
        assert "belongs to another tree" not in message


def test_a_handle_of_another_live_tree_still_belongs_to_another_tree(backend: str) -> None:
    ours = ot.OffloadStateTree(backend=backend)
    theirs = ot.OffloadStateTree(backend=backend)
    nb = theirs.add_neighbor(mac=1)
    with pytest.raises(ot.InvalidHandleError) as info:
        ours.state(nb)
    assert str(info.value) == (
        f"handle 0x{nb:016x} belongs to another tree (tree id {theirs.tree_id})"
    )


# --- citations -----------------------------------------------------------------------------

#: What a docstring or comment of the package may not cite: files that do not ship (a page of
#: another repository by file name, notes outside the repository), and issue numbers. A
#: Markdown file is cited with its docs/ path; README.md is the repository's, MACHINE.md the one
#: ``offload-tree bench --full`` writes.
FORBIDDEN = {
    "a file name of a page": re.compile(
        r"(?<![\w/.-])(?!(?:README|MACHINE)\.md)[A-Za-z0-9_][A-Za-z0-9_-]*\.md\b"
    ),
    "an issue number": re.compile(r"\bissues? ?#?\d+", re.IGNORECASE),
    "a path outside the repository": re.compile(r"\.\./shared|windows-driver-docs"),
    # Spelt apart, so that tests/test_layout.py does not take these patterns for citations.
    "notes that do not ship": re.compile("CHIMNEY" + r"-NOTES|\bSPEC" + r" (?:§|section)"),
    "the seed or source page": re.compile(r"\b(?:seed|source) page\b"),
}
#: A name wrapped after a hyphen onto the next comment or docstring line.
_WRAPPED = re.compile(r"-\n[ \t]*(?:#|//[/!]?)?[ \t]*(?=[a-z0-9])")


def _forbidden_citations(text: str) -> list[str]:
    """What ``text`` cites that does not ship, each as "what: the citation"."""
    text = _WRAPPED.sub("-", text)
    return [
        f"{what}: {match.group(0)!r}"
        for what, pattern in FORBIDDEN.items()
        for match in pattern.finditer(text)
        if not (what == "a file name of a page" and text[: match.start()].endswith("docs/"))
    ]


def _package_sources() -> list[Path]:
    roots = [PACKAGE, ROOT / "crates" / "core" / "src", ROOT / "crates" / "python" / "src"]
    return sorted(p for r in roots for p in r.rglob("*") if p.suffix in {".py", ".pyi", ".rs"})


def test_the_package_cites_only_documents_that_ship() -> None:
    """Docstrings and comments cite the documents of docs/ and NDIS pages by
    their titles (NDIS "Offload State Tree"), never a file a user of the package lacks."""
    sources = _package_sources()
    assert len(sources) > 100, "the scan found the package"
    found = [
        f"{path.relative_to(ROOT)}: {citation}"
        for path in sources
        for citation in _forbidden_citations(path.read_text())
    ]
    assert not found, "citations of what does not ship:\n" + "\n".join(found)


def test_the_citation_scan_finds_what_it_forbids() -> None:
    """The scan catches the forms that were there before: a page's file name (wrapped
    across comment lines too), an issue number, a seed page; and lets docs/ through."""
    samples = {
        "a file name of a page": "(terminate-offload-initiated-by-the-host-\n    # stack.md)",
        "an issue number": "the targets (issue 12)",
        "the seed or source page": "the source page's figure",
        "notes that do not ship": "see SPEC" + " section 4",
    }
    for what, sample in samples.items():
        assert [c for c in _forbidden_citations(sample) if c.startswith(what)], what
    assert _forbidden_citations("(host-\n    /// stack.md)") == [
        "a file name of a page: 'host-stack.md'"
    ]
    allowed = 'docs/DESIGN.md §2, docs/NDIS.md, README.md and NDIS "Offload State Tree"'
    assert _forbidden_citations(allowed) == []


# --- install hints -------------------------------------------------------------------------


def test_install_hints_name_the_package_and_an_extra_it_has() -> None:
    """A hint works outside the source tree: ``pip install 'offload-tree[EXTRA]'`` with an
    extra pyproject.toml defines, never ``pip install '.[EXTRA]'``."""
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
                 ["optional-dependencies"])  # fmt: skip
    hints: list[str] = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        local = re.findall(r"pip install ['\"]?\.\[", text)
        assert not local, f"{path.relative_to(ROOT)}: {local}"
        hints += re.findall(r"pip install 'offload-tree\[([a-z]+)\]'", text)
    assert set(hints) >= {"bench", "draw", "linux"}, hints
    assert set(hints) <= extras, set(hints) - extras
