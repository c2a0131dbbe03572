"""Typing users can live with: a script written from the README passes ``mypy --strict`` and
pyright (strict) without a cast, and the checkers see precise types, not ``Any``.

``tests/typing/readme_user.py`` holds every statement of the README's Python blocks (checked
here, so the README cannot move on without it); it runs on both backends and prints what
the README promises. ``tests/typing/precision.py`` pins the types with ``assert_type`` and
marks the lines both checkers must refuse (``tree.state(path).snd_nxt``, a misspelt stats
key, ...). The typed handles are plain ints at run time, and the stats dicts have exactly
the shape of their ``TypedDict``s, on both backends.

The checkers come with ``pip install '.[test]'``, like every other tool the suite uses; a
missing one fails its tests rather than skipping them, so a green run always checked.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import offload_tree as ot
import pytest
from _helpers import Example

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TYPING = ROOT / "tests" / "typing"
SCRIPT = TYPING / "readme_user.py"
PRECISION = TYPING / "precision.py"
PYRIGHT_CONFIG = TYPING / "pyrightconfig.json"
PACKAGE_PARENT = Path(ot.__file__).resolve().parents[1]

#: README statements the script writes differently, and why.
ADAPTED = {
    "K, P, N = 1_000, 10_000, 1_000_000": "the test runs the same shape with fewer connections",
}


# --- the checkers -------------------------------------------------------------------------


def require_tool(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.fail(f"{module} is not installed: pip install '.[test]'")


Diagnostic = tuple[int, str]  # (line, message)


def mypy(path: Path) -> list[Diagnostic]:
    """``python -m mypy --strict PATH`` (the project's other settings from pyproject.toml):
    its errors."""
    require_tool("mypy")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # 2: mypy itself failed
    found = [
        (int(m["line"]), m["message"])
        for m in re.finditer(r"^[^\n:]+:(?P<line>\d+): error: (?P<message>.*)$", proc.stdout, re.M)
    ]
    assert bool(found) == (proc.returncode == 1), proc.stdout + proc.stderr
    return found


def pyright(path: Path) -> list[Diagnostic]:
    """``python -m pyright -p tests/typing/pyrightconfig.json PATH`` (strict) with this
    interpreter's packages: its errors and warnings."""
    require_tool("pyright")
    env = dict(os.environ, PYRIGHT_PYTHON_IGNORE_WARNINGS="1")
    env.pop("PYRIGHT_PYTHON_FORCE_VERSION", None)  # the bundled version: nothing downloaded
    proc = subprocess.run(
        [sys.executable, "-m", "pyright", "--outputjson", "--pythonpath", sys.executable,
         "-p", str(PYRIGHT_CONFIG), str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False, env=env,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # others: pyright failed
    report = json.loads(proc.stdout)
    assert report["summary"]["filesAnalyzed"] == 1, report["summary"]
    return [
        (d["range"]["start"]["line"] + 1, d["message"])
        for d in report["generalDiagnostics"]
        if d["severity"] in ("error", "warning")
    ]


CHECKERS: dict[str, Callable[[Path], list[Diagnostic]]] = {"mypy": mypy, "pyright": pyright}


@pytest.mark.parametrize("checker", sorted(CHECKERS))
def test_readme_script_type_checks(checker: str) -> None:
    """The README's code, as a user writes it, passes the strict checkers without a cast."""
    assert not re.search(r"\bcast\(|#\s*(type|pyright):\s*ignore", SCRIPT.read_text())
    assert CHECKERS[checker](SCRIPT) == []


def expected_errors(path: Path) -> dict[int, str]:
    """The lines of ``path`` marked ``# error: WORD``, with their WORD."""
    lines = path.read_text().splitlines()
    return {
        number: match[1]
        for number, line in enumerate(lines, start=1)
        if (match := re.search(r"# error: (\S+)$", line))
    }


@pytest.mark.parametrize("checker", sorted(CHECKERS))
def test_checkers_see_precise_types(checker: str) -> None:
    """Every ``assert_type`` holds and every marked line is refused, naming what is wrong:
    the overloads and TypedDicts are precise, not ``Any`` (which would pass them all)."""
    expected = expected_errors(PRECISION)
    assert len(expected) >= 9
    reported: dict[int, list[str]] = {}
    for line, message in CHECKERS[checker](PRECISION):
        reported.setdefault(line, []).append(message)
    assert sorted(reported) == sorted(expected), reported
    for line, word in expected.items():
        assert any(word in message for message in reported[line]), (line, reported[line])


# --- the script follows the README --------------------------------------------------------


def readme_statements() -> list[str]:
    """Every statement of the README's ``python`` blocks, normalised by ``ast.unparse``:
    an expression statement by its expression (each item of a tuple), a ``with`` by its
    context expressions and body."""
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(), re.M | re.S)
    assert len(blocks) >= 7, "the README's Python blocks moved"
    pieces: list[str] = []

    def add(statements: list[ast.stmt]) -> None:
        for stmt in statements:
            if isinstance(stmt, ast.Expr):
                if isinstance(stmt.value, ast.Constant):  # `...`: "your calls here"
                    continue
                items = stmt.value.elts if isinstance(stmt.value, ast.Tuple) else [stmt.value]
                pieces.extend(ast.unparse(item) for item in items)
            elif isinstance(stmt, ast.With):
                pieces.extend(ast.unparse(item.context_expr) for item in stmt.items)
                add(stmt.body)
            else:
                pieces.append(ast.unparse(stmt))

    for block in blocks:
        add(ast.parse(block).body)
    return pieces


def test_script_has_every_readme_statement() -> None:
    """A statement added to or changed in the README must be in the script too (and so run
    and type-checked), unless the script adapts it for a reason given here."""
    script = ast.unparse(ast.parse(SCRIPT.read_text()))
    adapted = {ast.unparse(ast.parse(statement)): why for statement, why in ADAPTED.items()}
    statements = readme_statements()
    assert set(adapted) <= set(statements), "an ADAPTED statement is no longer in the README"
    missing = [s for s in statements if s not in script and s not in adapted]
    assert not missing, f"README statements missing from {SCRIPT.name}: {missing}"


# --- the script runs ----------------------------------------------------------------------


def readme_block_list() -> list[str]:
    """The block list the README shows as comments under ``print(tree.block_list(...))``."""
    return re.findall(r"^# ( *(?:NEIGHBOR|PATH|TCP) 0x[0-9a-f]{16} .*)$", README.read_text(), re.M)


#: What the script prints after the block list; the README promises the first values.
EXPECTED = [
    "offload status: SUCCESS",  # result.status(nb)  # Status.SUCCESS
    "offload succeeded: 6 uint64",  # NumPy uint64 array
    "query rcv_nxt: 16",
    r"received data: b'GET / HTTP/1.1\r\n'",
    "state snd_nxt: 1000",
    "state path_mtu: 1500 vlan_id: 0",
    "depends_on path_mtu: 1500",
    "terminated: True",  # [t1, p1]
    "references held: 1 1",  # {"neighbor": {"held": 1, ...}, "path": {"held": 1, ...}}
    "keeper releases: False",
    "drawings: True",
    "find: 1500 49153",
    "find many: True",
    "layer: TCP 2",
    "walk: 3 2",
    "sent now: 34 completed: 0",
    "posted: 5 b'hello'",
    "event: SEND_BACKLOG_CHANGE backlog_noted",
    "event: UPLOAD_REQUESTED declined",
    "abortive disconnect: True b''",
    "target stats: 3 False",
    "offload stats: 0",
    "flat stats: 4 1000000",
    "failed terminates: 0",
    "volume blocks: True ok: True",
    "volume update: SUCCESS True",
    "volume terminated: True",
    "copies: True",
    "loaded: True python",
    "frame: True",
    "query columns: 5 uint32",
    "columns: 12 7 True",
    "replayed: True",
]
if sys.platform.startswith("linux"):
    EXPECTED += ["host: True", "host ports: True", "host skipped: True"]


def test_readme_script_runs(backend: str, tmp_path: Path) -> None:
    """The script does what the README says, on each backend (with 2,000 connections where
    the README has a million)."""
    env = dict(os.environ, OFFLOAD_TREE_BACKEND=backend)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PACKAGE_PARENT), env.get("PYTHONPATH", "")) if p
    )
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--connections", "2000", "--workdir", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    block_list = readme_block_list()
    assert len(block_list) == 6
    assert lines[0] == f"backend: {backend}"
    assert lines[1 : 1 + len(block_list)] == block_list
    assert lines[1 + len(block_list) :] == EXPECTED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bug.jsonl", "host.ots"]


# --- what the types promise holds at run time ---------------------------------------------


def test_typed_handles_are_plain_ints(ex: Example) -> None:
    """``NeighborHandle``, ``PathHandle`` and ``TcpHandle`` cost nothing: every call that is
    typed to return one returns an ``int``, equal to the handle."""
    tree = ex.tree
    for h in (ex.nb1, ex.pa1, ex.tc1):
        assert type(h) is int
    assert type(tree.find_path("10.0.0.1", "10.0.0.9")) is int
    assert tree.find_path("10.0.0.1", "10.0.0.9") == ex.pa1
    assert type(tree.find_tcp("10.0.0.1", "10.0.0.9", 49152, 443)) is int
    assert tree.depends_on(ex.tc1) == ex.pa1 and type(tree.depends_on(ex.tc1)) is int
    assert tree.depends_on(ex.pa1) == ex.nb1 and tree.depends_on(ex.nb1) is None
    for handle_type in (ot.NeighborHandle, ot.PathHandle, ot.TcpHandle):
        assert handle_type(ex.tc1) is ex.tc1  # the identity at run time
        assert handle_type.__doc__
    assert isinstance(tree.state(ot.PathHandle(ex.pa1)), ot.PathState)
    assert isinstance(tree.state(ex.tc1), ot.TcpState)


def conforms(value: object, hint: Any, where: str) -> None:
    """``value`` has the type ``hint`` says, down to every key of every TypedDict, in order."""
    if typing.is_typeddict(hint):
        assert isinstance(value, dict), where
        fields = typing.get_type_hints(hint)
        assert list(value) == list(fields), where
        for key, field in fields.items():
            conforms(value[key], field, f"{where}[{key!r}]")
    elif typing.get_origin(hint) is dict:
        key_type, value_type = typing.get_args(hint)
        assert isinstance(value, dict), where
        for key, item in value.items():
            conforms(key, key_type, where)
            conforms(item, value_type, f"{where}[{key!r}]")
    elif typing.get_origin(hint) in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        assert any(value is None if o is type(None) else _is(value, o) for o in options), where
    else:
        assert _is(value, hint), (where, value, hint)


def _is(value: object, hint: type) -> bool:
    """An exact instance: a count is an int and not a bool, ``paused`` a bool."""
    return type(value) is hint


def test_stats_have_their_typed_shape(make_example: Callable[..., Example]) -> None:
    """``tree.stats()`` is a ``TreeStats`` and ``target.stats()`` a ``TargetStats``, key for
    key and type for type (failures by status name, capacities set and unset); the flat
    forms map text to ints (bools for ``paused``) and None (an unlimited capacity)."""
    ex = make_example(tcp_capacity=10)
    tree, target = ex.tree, ex.target
    target.inject_fault(ex.tc2, ot.Status.RESOURCES)
    target.inject_fault(ex.tc1, ot.Status.FAILURE, "query")
    tree.initiate_offload(tree.handles())
    tree.query(ex.tc1)
    stats = tree.stats()
    assert stats["operations"]["initiate_offload"]["failed"] == {"RESOURCES": 1}
    assert stats["operations"]["query"]["failed"] == {"FAILURE": 1}
    assert stats["layers"]["tcp"]["capacity"] == 10 and stats["layers"]["path"]["capacity"] is None
    conforms(stats, ot.TreeStats, "tree.stats()")
    conforms(target.stats(), ot.TargetStats, "target.stats()")
    for flat in (tree.stats(flat=True), target.stats(flat=True)):
        assert all(isinstance(k, str) for k in flat)
        assert all(v is None or type(v) in (int, bool) for v in flat.values())
    assert tree.stats(flat=True)["operations.initiate_offload.failed.RESOURCES"] == 1
