"""Choosing the engine: the Rust core (``_native``) or the pure-Python fallback.

``OFFLOAD_TREE_BACKEND=python`` forces the fallback, ``=native`` the Rust core (an
``ImportError`` explains how to build it when it is missing); unset, the native engine is
used when importable and the fallback otherwise, with one warning.

Engines are private: users pick one per tree with ``OffloadStateTree(backend=...)`` and read
the default from ``offload_tree.BACKEND``. Both satisfy the protocol of ``_engine.Engine``.
"""

from __future__ import annotations

import os
import warnings

from ._engine import EngineClass
from ._errors import ValidationError

__all__ = ["BACKEND", "BACKENDS", "ENV_VAR", "engine_class"]

ENV_VAR = "OFFLOAD_TREE_BACKEND"
BACKENDS = ("native", "python")

_BUILD_HINT = (
    "the native engine offload_tree._native is not built: run `pip install .` or "
    "`maturin develop --release` in the project root, or set OFFLOAD_TREE_BACKEND=python "
    "to use the pure-Python engine"
)


def engine_class(backend: str) -> EngineClass:
    """The Engine class of a backend: ``"native"`` (Rust) or ``"python"`` (fallback).

    Raises ``ImportError`` when the native engine is asked for but not built, and
    ``ValidationError`` for any other backend name.
    """
    if backend == "python":
        from ._fallback import Engine as PythonEngine

        return PythonEngine
    if backend == "native":
        try:
            from . import _native
        except ImportError as exc:
            raise ImportError(_BUILD_HINT) from exc
        return _native.Engine
    raise ValidationError(f"backend must be 'native' or 'python', got {backend!r}")


def _select() -> str:
    raw = os.environ.get(ENV_VAR, "")
    choice = raw.strip().lower()
    if choice in BACKENDS:
        engine_class(choice)  # fail now, at import, if the forced engine is missing
        return choice
    if choice:
        raise ImportError(f"{ENV_VAR} must be 'native' or 'python', got {raw!r}")
    try:
        engine_class("native")
    except ImportError:
        warnings.warn(
            "offload_tree: native engine not built, using the pure-Python fallback "
            "(`pip install .` or `maturin develop --release` builds it)",
            RuntimeWarning,
            stacklevel=3,
        )
        return "python"
    return "native"


#: The backend chosen at import time: "native" or "python".
BACKEND: str = _select()
