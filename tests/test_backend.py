"""Backend selection: OFFLOAD_TREE_BACKEND, ot.BACKEND, the backend= keyword, and the private
engine_class the facade picks an engine with."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import offload_tree as ot
import pytest
from _helpers import (
    ALLOW_MISSING_NATIVE_VAR,
    BACKENDS,
    allow_missing_native,
    native_import_error,
    require_backend,
)
from offload_tree._backend import engine_class

PYTHON_DIR = str(Path(ot.__file__).resolve().parent.parent)


def _backend_in_subprocess(choice: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["OFFLOAD_TREE_BACKEND"] = choice
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PYTHON_DIR, env.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-c", "import offload_tree as ot; print(ot.BACKEND)"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_native_engine_is_importable():
    err = native_import_error()
    if err is not None and allow_missing_native():
        pytest.skip(f"native engine not built ({err!r}); {ALLOW_MISSING_NATIVE_VAR}=1")
    assert err is None, f"offload_tree._native cannot be imported: {err!r}"


@pytest.mark.parametrize("choice", BACKENDS)
def test_env_var_forces_the_backend(choice):
    require_backend(choice)
    proc = _backend_in_subprocess(choice)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == choice


def test_backend_constant_is_one_of_the_two():
    assert ot.BACKEND in BACKENDS


def test_engines_are_private():
    """Users pick an engine per tree with ``backend=``; the engine classes are not API."""
    assert not hasattr(ot, "Engine") and not hasattr(ot, "engine_class")
    assert "Engine" not in ot.__all__ and "engine_class" not in ot.__all__


def test_engine_class_python_is_the_fallback_engine():
    cls = engine_class("python")
    assert isinstance(cls, type)
    assert cls.__module__.startswith("offload_tree._fallback")


def test_engine_class_native_is_the_rust_engine():
    require_backend("native")
    cls = engine_class("native")
    assert isinstance(cls, type)
    assert cls.__module__.startswith("offload_tree")
    assert not cls.__module__.startswith("offload_tree._fallback")


def test_engine_class_rejects_unknown_backend():
    with pytest.raises(ot.ValidationError):
        engine_class("cobol")


def test_tree_backend_keyword_selects_the_engine(backend, make_tree):
    tree = make_tree()
    assert tree.backend == backend
    assert tree.target.attached
    nb = tree.add_neighbor(mac="00:15:5d:01:02:03")
    assert tree.layer(nb) == ot.Layer.NEIGHBOR


def test_enum_values_are_fixed():
    assert [int(x) for x in ot.Layer] == [0, 1, 2]
    assert [x.name for x in ot.Layer] == ["NEIGHBOR", "PATH", "TCP"]
    expected_status = [
        "SUCCESS",
        "PARTIAL_SUCCESS",
        "FAILURE",
        "RESOURCES",
        "TCP_ENTRIES",
        "PATH_ENTRIES",
        "NEIGHBOR_ENTRIES",
        "HW_ADDRESS_ENTRIES",
        "IP_ADDRESS_ENTRIES",
        "TCP_XMIT_BUFFER",
        "TCP_RCV_BUFFER",
        "TCP_RCV_WINDOW",
        "VLAN_ENTRIES",
        "VLAN_MISMATCH",
        "PATH_MTU",
        "CONNECTION_REJECTED",
        "PAUSED",
    ]
    assert [(s.name, int(s)) for s in ot.Status] == [(n, i) for i, n in enumerate(expected_status)]
    assert ot.UploadReason.LOW_ACTIVITY == 1
    assert ot.UploadReason.INVALID_STATE == 9
    assert ot.UploadReason.HARDWARE_FAILURE == 11
    assert ot.ConnectionState.CLOSED == 0
    assert ot.ConnectionState.ESTABLISHED == 4
    assert ot.ConnectionState.TIME_WAIT == 10
    assert [int(k) for k in ot.EventKind] == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert [k.name for k in ot.EventKind][4:] == [
        "DISCONNECT",
        "ABORT",
        "DISCONNECT_COMPLETE",
        "SEND_BACKLOG_CHANGE",
        "OFFLOAD_PAUSE",
    ]


def test_error_hierarchy():
    assert issubclass(ot.InvalidHandleError, ot.OffloadTreeError)
    assert issubclass(ot.InvalidHandleError, KeyError)
    assert issubclass(ot.LayerError, ot.OffloadTreeError)
    assert issubclass(ot.LayerError, TypeError)
    assert issubclass(ot.ValidationError, ot.OffloadTreeError)
    assert issubclass(ot.ValidationError, ValueError)
    assert issubclass(ot.DependencyError, ot.OffloadTreeError)
    assert issubclass(ot.StateError, ot.OffloadTreeError)
