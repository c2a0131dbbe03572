"""The shape of the code, checked: the core crate has no Python in it and no import cycle,
and the fallback mirrors the core module for module and type for type.

These tests read the repository's sources (they run from a checkout, as CI does).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "crates" / "core"
CORE_SRC = CORE / "src"
FALLBACK = ROOT / "python" / "offload_tree" / "_fallback"

#: Core modules without a fallback module of their own, and why.
CORE_ONLY = {
    "model/status": "the enums are offload_tree._enums, shared with the facade",
    "model/upload_reason": "the enums are offload_tree._enums, shared with the facade",
    "model/event_kind": "the enums are offload_tree._enums, shared with the facade",
    "model/connection_state": "the enums are offload_tree._enums, shared with the facade",
    "model/operation": "the enums are offload_tree._enums, shared with the facade",
    "model/error": "the catalogue's copy is offload_tree._messages, shared with the facade",
    "model/columns": "the fallback's columns are NumPy arrays in a dict, checked where they are"
    " read (_fallback/engine/restore.py)",
    "host/parallel": "the fallback runs on one thread whatever `threads` says",
    "host/states": "the fallback's connections share immutable default tuples"
    " (_fallback/model/state.py), which is the same copy-on-write",
    "testing": "the core's fuzz support; the Python side is tests/test_lockstep.py",
    "testing/fuzz": "the core's fuzz interpreter; the Python side is tests/test_lockstep.py",
}
#: Fallback modules without a core module of their own, and why.
FALLBACK_ONLY: dict[str, str] = {}

#: Types both sides define under the same name: (core module, fallback module, type).
SHARED_TYPES = [
    ("model/arena", "model/arena", "Arena"),
    ("host/tree", "host/tree", "HostTree"),
    ("host/blocks", "host/blocks", "BlockList"),
    ("target", "target", "Target"),
    ("target", "target", "TargetCounters"),
    ("target/config", "target/config", "TargetConfig"),
    ("target/rng", "target/rng", "SplitMix64"),
    ("engine", "engine", "Engine"),
    ("engine/types", "engine/types", "Outcome"),
    ("engine/types", "engine/types", "Event"),
    ("engine/types", "engine/types", "Processed"),
    ("engine/types", "engine/types", "OperationCounts"),
    ("engine/types", "engine/types", "RunningCounts"),
]


def _module_name(path: Path, root: Path, package_file: str) -> str:
    """``a/b/mod.rs`` or ``a/b/__init__.py`` -> ``a/b``; ``a/b/c.rs`` -> ``a/b/c``."""
    relative = path.relative_to(root).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] in (package_file, "lib"):
        parts.pop()
    return "/".join(parts)


def core_modules() -> set[str]:
    return {_module_name(p, CORE_SRC, "mod") for p in CORE_SRC.rglob("*.rs")}


def fallback_modules() -> set[str]:
    return {_module_name(p, FALLBACK, "__init__") for p in FALLBACK.rglob("*.py")}


def test_the_fallback_mirrors_the_core_module_for_module() -> None:
    core, fallback = core_modules(), fallback_modules()
    missing = sorted(core - fallback - set(CORE_ONLY))
    extra = sorted(fallback - core - set(FALLBACK_ONLY))
    assert not missing, f"core modules with no fallback module (or CORE_ONLY entry): {missing}"
    assert not extra, f"fallback modules with no core module (or FALLBACK_ONLY entry): {extra}"
    stale = sorted((set(CORE_ONLY) - core) | (set(CORE_ONLY) & fallback))
    assert not stale, f"CORE_ONLY entries that no longer apply: {stale}"


@pytest.mark.parametrize(("core", "fallback", "name"), SHARED_TYPES)
def test_shared_types_carry_the_same_name(core: str, fallback: str, name: str) -> None:
    rust = _source(CORE_SRC, core, "mod.rs", ".rs")
    python = _source(FALLBACK, fallback, "__init__.py", ".py")
    assert re.search(rf"pub(?:\(crate\))? (?:struct|enum) {name}\b", rust), f"{core}: {name}"
    assert re.search(rf"^class {name}\b", python, re.M), f"_fallback/{fallback}: {name}"


def _source(root: Path, module: str, package_file: str, suffix: str) -> str:
    folder = root / module
    path = folder / package_file if folder.is_dir() else root / (module + suffix)
    return path.read_text()


# --- the core crate -----------------------------------------------------------------------


def test_the_core_manifest_names_no_python() -> None:
    # Every line of the manifest, comments aside: no dependency of any kind on PyO3 or NumPy.
    lines = [line.split("#")[0] for line in (CORE / "Cargo.toml").read_text().splitlines()]
    named = [line for line in lines if re.search(r"\b(pyo3|numpy)\b", line)]
    assert not named, named
    assert any(re.match(r"\s*offload-tree-core\s*=", line) for line in lines), "scan sees deps"


_USE = re.compile(r"\buse\s+([^;]+);")
# `crate::a::b` or `super::a` in code outside `use`; `$crate::` paths in macro bodies resolve
# where the macro is used, so they are not imports of the macro's file.
_PATH = re.compile(r"(?<!\$)\b((?:crate|super)(?:::\w+)+)")


def _use_tree(text: str) -> list[list[str]]:
    """The paths of one `use` tree: `a::{b, c::{d, self}}` -> a::b, a::c::d, a::c."""
    text = re.sub(r"\s+", "", re.sub(r"\s+as\s+\w+", "", text))
    paths: list[list[str]] = []
    # A stack of (prefix, remaining text) instead of recursion.
    stack: list[tuple[list[str], str]] = [([], text)]
    while stack:
        prefix, item = stack.pop()
        brace = item.find("{")
        if brace < 0:
            segments = [seg for seg in item.split("::") if seg]
            paths.append(prefix + [seg for seg in segments if seg != "self"])
            continue
        head = [seg for seg in item[:brace].split("::") if seg]
        inner = item[brace + 1 : item.rfind("}")]
        depth, start = 0, 0
        for i, char in enumerate(inner + ","):
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
            elif char == "," and depth == 0:
                if inner[start:i]:
                    stack.append((prefix + head, inner[start:i]))
                start = i + 1
    return paths


def _resolve(path: list[str], here: str, folder: bool) -> str | None:
    """The module file a path lands in, as a module name, or None for another crate.

    ``here`` is the module of the file (``folder``: a mod.rs or lib.rs, whose relative paths
    name its children). A path enters a private child module only from inside its parent,
    as Rust's privacy allows; past that, it names an item the module re-exports.
    """
    if not path:
        return None
    modules = core_modules()
    current = here.split("/") if here else []
    if path[0] == "crate":
        module: list[str] = []
        path = path[1:]
    elif path[0] in ("super", "self"):
        module = list(current)
        while path and path[0] in ("super", "self"):
            if path[0] == "super":
                module = module[:-1]
            path = path[1:]
    elif folder and "/".join([*current, path[0]]) in modules:
        module = list(current)
    else:
        return None  # std, another crate, or a name in scope
    for segment in path:
        candidate = [*module, segment]
        inside = current[: len(module)] == module
        if "/".join(candidate) in modules and (inside or candidate == ["testing", "fuzz"]):
            module = candidate
        else:
            break
    if module == [] and path[:1] == ["error"]:
        return "model/error"  # the error! macro, exported at the crate root
    return "/".join(module)


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for file in CORE_SRC.rglob("*.rs"):
        here = _module_name(file, CORE_SRC, "mod")
        folder = file.name in ("mod.rs", "lib.rs")
        text = re.sub(r"//[^\n]*", "", file.read_text())
        text = text.split("#[cfg(test)]")[0]  # unit tests may reach anywhere in the crate
        paths = [path for stmt in _USE.findall(text) for path in _use_tree(stmt)]
        code = _USE.sub("", text)
        paths += [match.group(1).split("::") for match in _PATH.finditer(code)]
        targets = {_resolve(path, here, folder) for path in paths}
        graph[here] = {t for t in targets if t is not None and t != here}
    return graph


def test_no_core_module_imports_a_module_that_imports_it_back() -> None:
    graph = _imports()
    # The scan sees imports of every form: a path, a grouped `use`, a sibling, a folder's
    # own child.
    assert graph["engine/build"] >= {"engine", "engine/types", "model"}
    assert graph["engine/update"] >= {"engine", "engine/types"}
    assert graph["model/value"] >= {"model/address", "model/fields"}
    assert graph[""] >= {"engine", "model"} and graph["engine"] >= {"engine/types"}
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles in the core: " + "; ".join(" -> ".join(c) for c in cycles)


# --- the repository explains itself -------------------------------------------------------

DOCS = ROOT / "docs"
_SECTION = re.compile(r"docs/(SPEC|DESIGN|NDIS)\.md §(\d+)")
_TITLED = re.compile(r'docs/NDIS\.md, \\?"([^"\\]+)\\?"')
_FILE = re.compile(r"\b((?:crates|python|tests|benches|docs|fuzz)/[\w/.-]+\.(?:rs|py|pyi|md|toml))")
_LEGACY = re.compile(r"\bSPEC (?:§|section)|CHIMNEY-NOTES|\bNET [a-z-]+\.md|(?<![/\w])SPEC\.md")


def _sources() -> list[Path]:
    roots = [ROOT / name for name in ("crates", "python", "tests", "benches", "fuzz", "docs")]
    files = [
        p
        for root in roots
        for p in root.rglob("*")
        if p.suffix in {".rs", ".py", ".pyi", ".md", ".toml"}
    ]
    return [p for p in files if "target" not in p.parts] + [ROOT / "README.md"]


def _headings(doc: str) -> set[str]:
    return set(re.findall(r"^## (.+)$", (DOCS / f"{doc}.md").read_text(), re.M))


def test_every_citation_points_into_the_repository() -> None:
    headings = {doc: _headings(doc) for doc in ("SPEC", "DESIGN", "NDIS")}
    numbered = {
        doc: {h.split(".")[0] for h in hs if h[0].isdigit()} for doc, hs in headings.items()
    }
    broken: list[str] = []
    cited = 0
    for path in _sources():
        if path == Path(__file__).resolve():
            continue  # this file spells out the patterns it looks for
        # A citation may wrap across comment lines: join them first.
        text = re.sub(r"\n\s*(?://[/!]?|#)\s*", " ", path.read_text())
        where = path.relative_to(ROOT)
        for doc, number in _SECTION.findall(text):
            cited += 1
            if number not in numbered[doc]:
                broken.append(f"{where}: docs/{doc}.md §{number}")
        for title in _TITLED.findall(text):
            title = " ".join(title.split())  # a title may wrap in a docstring
            cited += 1
            if title not in headings["NDIS"]:
                broken.append(f'{where}: docs/NDIS.md, "{title}"')
        for name in _FILE.findall(text):
            if not (ROOT / name).exists() and "*" not in name:
                broken.append(f"{where}: {name}")
        for legacy in _LEGACY.findall(text):
            if path.parent == DOCS and legacy == "SPEC.md":
                continue  # a link between the documents of docs/
            broken.append(f"{where}: cites {legacy!r}, which is not in the repository")
    assert cited > 50, f"the scan found only {cited} citations"
    assert not broken, "citations of nothing:\n" + "\n".join(broken)
