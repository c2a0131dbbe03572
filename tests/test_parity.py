"""Parity: every table the Rust core and the Python side must agree on, and the engine
surface both backends implement, checked against each other.

The core is the source of each table (``crates/core/src/model/``; read through
``_native.tables()``); the Python copies are ``_fields.py``, ``_enums.py``, ``_messages.py``,
``_stats.py`` and ``_coerce.MAX_BATCH``. When they drift, the failure prints the Python
lines that match the core, ready to paste (as pydantic-core's error-type tests do).
"""

from __future__ import annotations

import ast
import inspect
from enum import IntEnum
from typing import Any

import numpy as np
import offload_tree as ot
import pytest
from _helpers import require_backend
from offload_tree import _coerce, _engine, _fields, _messages, _stats
from offload_tree._blocks import NO_STATUS


@pytest.fixture(scope="module")
def native() -> Any:
    require_backend("native")
    from offload_tree import _native

    return _native


@pytest.fixture(scope="module")
def tables(native: Any) -> dict[str, Any]:
    return dict(native.tables())


def _fix(what: str, where: str, lines: list[str]) -> str:
    body = "\n".join(lines)
    return f"{what} drifted from the core's; to match it, {where} should read:\n{body}"


# --- the state-variable table -------------------------------------------------------------


def _python_field_rows() -> list[tuple[Any, ...]]:
    return [
        (f.name, int(f.layer), f.kind, f.value_type, f.min, f.max, f.default, f.required)
        for table in _fields.FIELDS
        for f in table
    ]


def test_state_variable_table_matches_the_core(tables: dict[str, Any]) -> None:
    core = [tuple(row) for row in tables["fields"]]
    layer_names = {0: "_N", 1: "_P", 2: "_T"}
    constants = {"constant": "CONSTANT", "cached": "CACHED", "delegated": "DELEGATED"}
    fix = [
        f"    FieldSpec({name!r}, {layer_names[layer]}, {constants[kind]}, {vtype.upper()}, "
        f"{lo!r}, {hi!r}, {default!r}, required={required!r}),"
        for name, layer, kind, vtype, lo, hi, default, required in core
    ]
    assert _python_field_rows() == core, _fix("_fields.py", "its tables", fix)


# --- the enums ----------------------------------------------------------------------------

ENUMS = [
    ("layers", ot.Layer),
    ("statuses", ot.Status),
    ("upload_reasons", ot.UploadReason),
    ("event_kinds", ot.EventKind),
    ("connection_states", ot.ConnectionState),
    ("operations", ot.Operation),
]


@pytest.mark.parametrize(("table", "enum"), ENUMS, ids=[name for name, _ in ENUMS])
def test_enum_matches_the_core(tables: dict[str, Any], table: str, enum: type[IntEnum]) -> None:
    core = [(name.upper(), value) for name, value in tables[table]]
    python = [(member.name, member.value) for member in enum]
    fix = [f"    {name} = {value}" for name, value in core]
    assert python == core, _fix(f"{enum.__name__} in _enums.py", "its members", fix)


def test_mandatory_upload_reasons_match_the_core(tables: dict[str, Any]) -> None:
    python = [reason.name for reason in ot.UploadReason if reason.mandatory]
    assert python == tables["mandatory_upload_reasons"], (
        f"_enums._MANDATORY_REASONS should hold {tables['mandatory_upload_reasons']}"
    )


def test_no_status_code_matches_the_core(tables: dict[str, Any]) -> None:
    assert tables["no_status"] == NO_STATUS, f"_blocks.NO_STATUS = {tables['no_status']}"


def test_actions_match_the_core(tables: dict[str, Any]) -> None:
    """The fallback reports the core's actions, and ``ProcessedEvent`` documents each."""
    from offload_tree._fallback.engine.types import ACTIONS

    assert list(ACTIONS) == list(tables["actions"]), f"_fallback ACTIONS = {tables['actions']}"
    documented = ot.ProcessedEvent.__doc__ or ""
    for action in tables["actions"]:
        assert f'"{action}"' in documented, f"ProcessedEvent's docstring must name {action!r}"


# --- the error catalogue ------------------------------------------------------------------


def test_error_catalogue_matches_the_core(tables: dict[str, Any]) -> None:
    core = {code: (cls, template) for code, cls, template in tables["errors"]}
    fix = [f"    {code!r}: ({cls!r}, {template!r})," for code, (cls, template) in core.items()]
    assert _messages.MESSAGES == core, _fix("_messages.MESSAGES", "it", fix)
    assert list(_messages.MESSAGES) == list(core), "same codes, in the core's order"
    assert tables["item_suffix"] == _messages.ITEM_SUFFIX, (
        f"_messages.ITEM_SUFFIX = {tables['item_suffix']!r}"
    )


def test_every_error_class_of_the_catalogue_exists() -> None:
    for code, (cls, _) in _messages.MESSAGES.items():
        if cls == "KeyboardInterrupt":  # an interrupted call raises Python's own
            continue
        assert issubclass(getattr(ot, cls), ot.OffloadTreeError), code
        assert _messages.CLASSES[cls] is getattr(ot, cls), code


@pytest.mark.parametrize("backend", ["native", "python"])
def test_messages_render_as_the_catalogue_says(backend: str) -> None:
    """A batch error from each engine reads exactly as the catalogue renders it."""
    require_backend(backend)
    tree = ot.OffloadStateTree(backend=backend)
    nb = tree.add_neighbor(mac=1)
    pa = tree.add_path(nb, "10.0.0.1", "10.0.0.2")
    with pytest.raises(ot.ValidationError) as info:
        tree.add_tcps([pa, pa], [1, 70000], [1, 1])
    expected = _messages.error(
        "out_of_range", name="local_port", value=70000, min=0, max=65535, index=1
    )
    assert type(info.value) is type(expected)
    assert str(info.value) == str(expected) == "local_port=70000 is out of range 0..65535 (item 1)"


# --- constants and the counters' layout ---------------------------------------------------


def test_batch_limit_matches_the_core(tables: dict[str, Any]) -> None:
    assert tables["max_batch"] == _coerce.MAX_BATCH, f"_coerce.MAX_BATCH = {tables['max_batch']}"


def test_counters_layout_matches_the_core(tables: dict[str, Any]) -> None:
    fix = [f"    {name!r}," for name in tables["counters"]]
    assert list(_stats.COUNTERS) == list(tables["counters"]), _fix("_stats.COUNTERS", "it", fix)


@pytest.mark.parametrize("backend", ["native", "python"])
def test_each_engine_reports_exactly_the_counters(backend: str) -> None:
    require_backend(backend)
    tree = ot.OffloadStateTree(backend=backend)
    counters = tree._engine.counters()
    assert list(counters) == list(_stats.COUNTERS)
    for name in ("live", "offloaded", "target_offloaded"):
        assert tuple(counters[name]) == (0, 0, 0)
    for name in _stats.OPERATIONS:
        requested, succeeded, failed = counters[name]
        assert (requested, succeeded, len(failed)) == (0, 0, len(ot.Status))


# --- the engine surface -------------------------------------------------------------------


def _protocol_members(protocol: type) -> list[str]:
    return sorted(
        name
        for name, value in vars(protocol).items()
        if (callable(value) or isinstance(value, property))
        and (not name.startswith("__") or name == "__len__")
    )


def _public_surface(cls: type) -> list[str]:
    return sorted(
        name
        for name in dir(cls)
        if (not name.startswith("__") or name == "__len__")
        and not (name.startswith("_") and name != "_debug_panic" and not name.startswith("__"))
    )


def _fallback_surface() -> list[str]:
    """The fallback's protocol surface: its methods minus the checks the operations share."""
    from offload_tree._fallback import Engine

    helpers = {
        "check_layers",
        "resolve_all",
        "resolve_expecting",
        "resolve_offloaded",
        "resolve_offloaded_one",
    }
    return [name for name in _public_surface(Engine) if name not in helpers]


def test_both_engines_expose_exactly_the_protocol(native: Any) -> None:
    protocol = _protocol_members(_engine.Engine)
    assert _public_surface(native.Engine) == protocol, "native engine vs _engine.Engine"
    assert _fallback_surface() == protocol, "fallback engine vs _engine.Engine"


def _signature(fn: Any) -> list[tuple[str, Any]]:
    sig = inspect.signature(fn)
    return [(p.name, p.kind.name) for p in sig.parameters.values() if p.name != "self"]


def test_both_engines_take_the_same_parameters(native: Any) -> None:
    from offload_tree._fallback import Engine as PythonEngine

    for name in _protocol_members(_engine.Engine):
        protocol_attr = getattr(_engine.Engine, name)
        if isinstance(protocol_attr, property):
            # A read-only attribute on both: a property, and a PyO3 getter.
            assert isinstance(getattr(PythonEngine, name), property), name
            getter = getattr(native.Engine, name)
            assert hasattr(getter, "__get__") and not callable(getter), name
            continue
        expected = _signature(protocol_attr)
        assert _signature(getattr(PythonEngine, name)) == expected, name
        assert _signature(getattr(native.Engine, name)) == expected, name
    # The constructors: the configuration in the same order, passed the same way.
    init = _protocol_init_signature()
    assert _signature(PythonEngine.__init__) == init
    assert _class_signature(native.Engine) == init


def _protocol_init_signature() -> list[tuple[str, str]]:
    """The protocol's ``__init__`` as written: Python 3.10 replaces a Protocol's ``__init__``
    at run time (``_no_init_or_replace_init``), so it is read from the source."""
    tree = ast.parse(inspect.getsource(_engine.Engine))
    init = next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "__init__"
    )
    return _ast_parameters(init.args)


def _class_signature(cls: type) -> list[tuple[str, str]]:
    """The constructor's parameters of a PyO3 class, from its ``__text_signature__``: before
    Python 3.11, ``inspect.signature`` of a class ignores it and reports ``(*args, **kwargs)``.
    """
    text = cls.__text_signature__  # type: ignore[attr-defined]
    assert text, f"{cls.__name__} has no text signature"
    function = ast.parse(f"def f{text.replace('$', '')}: pass").body[0]
    assert isinstance(function, ast.FunctionDef)
    return _ast_parameters(function.args)


def _ast_parameters(args: ast.arguments) -> list[tuple[str, str]]:
    kinds = [
        *((a.arg, "POSITIONAL_ONLY") for a in args.posonlyargs),
        *((a.arg, "POSITIONAL_OR_KEYWORD") for a in args.args),
        *([(args.vararg.arg, "VAR_POSITIONAL")] if args.vararg else []),
        *((a.arg, "KEYWORD_ONLY") for a in args.kwonlyargs),
        *([(args.kwarg.arg, "VAR_KEYWORD")] if args.kwarg else []),
    ]
    return [(name, kind) for name, kind in kinds if name not in ("self", "cls")]


def test_both_outcomes_expose_the_protocol(native: Any) -> None:
    from offload_tree._fallback import Outcome as PythonOutcome

    protocol = _protocol_members(_engine.Outcome)
    assert _public_surface(native.Outcome) == protocol
    python = [n for n in _public_surface(PythonOutcome) if n not in {"push"}]
    assert (
        sorted(
            set(python)
            - {"delegated", "handle_list", "layers", "received", "send_data", "status_list"}
        )
        == protocol
    )
    for name in ("delegated_at", "received_at", "send_data_at"):
        expected = _signature(getattr(_engine.Outcome, name))
        assert _signature(getattr(native.Outcome, name)) == expected
        assert _signature(getattr(PythonOutcome, name)) == expected


def test_outcomes_of_both_engines_read_alike(native: Any) -> None:
    """The same terminate through both engines' outcomes: same values, same types."""
    got = []
    for backend in ("native", "python"):
        target = ot.SimulatedTarget()
        tree = ot.OffloadStateTree(target, backend=backend)
        nb = tree.add_neighbor(mac=1)
        pa = tree.add_path(nb, "10.0.0.1", "10.0.0.2")
        tc = tree.add_tcp(pa, 1, 2)
        tree.initiate_offload(tc)
        target.receive(tc, b"xyz")
        tree.send(tc, b"posted")
        outcome = tree._engine.terminate(np.array([nb], dtype=np.uint64), True)
        assert outcome.handles.dtype == np.uint64
        got.append(
            (
                len(outcome),
                outcome.total_received,
                outcome.total_send_data,
                [outcome.delegated_at(i) for i in range(len(outcome))],
                [outcome.received_at(i) for i in range(len(outcome))],
                [outcome.send_data_at(i) for i in range(len(outcome))],
            )
        )
        with pytest.raises(IndexError):
            outcome.received_at(len(outcome))
        with pytest.raises(IndexError):
            outcome.send_data_at(len(outcome))
    assert got[0] == got[1]


def _engine_answers(backend: str) -> list[tuple[str, str]]:
    """What one engine answers to input the facade never sends, called directly."""
    tree = ot.OffloadStateTree(backend=backend)
    nb = tree.add_neighbor(mac=1)
    pa = tree.add_path(nb, "10.0.0.1", "10.0.0.2")
    engine = tree._engine
    one = np.array([pa], dtype=np.uint64)
    calls = [
        lambda: engine.update(one, {"path_mtu": np.array([1500.5])}),
        lambda: engine.update(one, {"path_mtu": np.array([1500], dtype=np.int32)}),
        lambda: engine.count(5, None),
        lambda: engine.handles(3),
        lambda: engine.add_neighbors(np.array([5], dtype=np.int32), None),
        lambda: engine.add_tcp(pa, 1, 2, {"max_rt": 2**200}),
        lambda: engine.add_path(nb, "10.0.0.1", 2**127, 1500),
    ]
    answers = []
    for call in calls:
        try:
            answers.append(("ok", repr(call())))
        except Exception as exc:
            answers.append((type(exc).__name__, str(exc)))
    return answers


def test_engines_answer_odd_engine_level_input_alike(native: Any) -> None:
    """Value shapes are sorted alike (docs/DESIGN.md §10), beneath the facade too."""
    assert _engine_answers("native") == _engine_answers("python")
