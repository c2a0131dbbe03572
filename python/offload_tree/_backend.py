"""Choosing the engine: the Rust core (``_native``) or the pure-Python fallback.

``OFFLOAD_TREE_BACKEND=python`` forces the fallback, ``=native`` the Rust core (an
``ImportError`` explains how to build it when it is missing); unset, the native engine is
used when importable and the fallback otherwise, with one warning.

A native module compiled for another version of the package (a stale build left in a source
tree, or a wheel's module copied beside another version) is refused like a missing one: the
two halves agree on a protocol only within one version.

Engines are private: users pick one per tree with ``OffloadStateTree(backend=...)`` and read
the default from ``offload_tree.BACKEND``. Both satisfy the protocol of ``_engine.Engine``.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from types import TracebackType

from ._engine import EngineClass
from ._errors import ValidationError
from ._version import UNKNOWN, VERSION, pep440

__all__ = ["BACKEND", "BACKENDS", "ENV_VAR", "engine_class"]

ENV_VAR = "OFFLOAD_TREE_BACKEND"
BACKENDS = ("native", "python")

_BUILD_HINT = (
    "the native engine offload_tree._native is not built: run `pip install .` or "
    "`maturin develop --release` in the project root, or set OFFLOAD_TREE_BACKEND=python "
    "to use the pure-Python engine"
)


def check_native_version(native_version: str, package_version: str = VERSION) -> None:
    """Refuse (``ImportError``) a native module built for another version of the package.

    ``native_version`` is the module's Cargo version; an unknown package version (a checkout
    whose Cargo.toml cannot be read) cannot be compared, so it is let through.
    """
    if package_version == UNKNOWN or pep440(native_version) == package_version:
        return
    raise ImportError(
        f"offload_tree._native is version {native_version} but the offload_tree package is "
        f"version {package_version}: a stale build of the native engine. Reinstall "
        "(`pip install --force-reinstall offload-tree`, or `maturin develop --release` in a "
        "source tree), or set OFFLOAD_TREE_BACKEND=python to use the pure-Python engine"
    )


def engine_class(backend: str) -> EngineClass:
    """The Engine class of a backend: ``"native"`` (Rust) or ``"python"`` (fallback).

    Raises ``ImportError`` when the native engine is asked for but not built or built for
    another version, and ``ValidationError`` for any other backend name.
    """
    if backend == "python":
        from ._fallback import Engine as PythonEngine

        return PythonEngine
    if backend == "native":
        try:
            from . import _native
        except ImportError as exc:
            raise ImportError(_BUILD_HINT) from exc
        check_native_version(_native.__version__)
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
    except ImportError as exc:
        warnings.warn(
            f"offload_tree: using the pure-Python fallback engine, because {exc}",
            RuntimeWarning,
            stacklevel=3,
        )
        return "python"
    return "native"


def _running_the_command() -> bool:
    """True while the ``offload-tree`` command (its console script, or ``python -m
    offload_tree``) imports the package: before any of the command's code can run."""
    script = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    if script.split(".")[0] in ("offload-tree", "offload-tree-script"):
        return True
    # Under -m, sys.argv[0] is "-m" while the module is being found; orig_argv names it.
    argv = list(getattr(sys, "orig_argv", ()))
    if sys.argv[:1] != ["-m"] or "-m" not in argv:
        return False
    module = argv[argv.index("-m") + 1 : argv.index("-m") + 2]
    return module in (["offload_tree"], ["offload_tree.__main__"])


def _report_in_one_line(refusal: ImportError) -> None:
    """Have ``refusal``, about to end the command, print as one line, not a traceback: it
    is a setting to fix, not a bug to trace (any other exception prints as usual)."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if value is refusal:
            print(f"offload-tree: error: {value}", file=sys.stderr)
        else:
            previous(kind, value, tb)

    sys.excepthook = hook


def _select_at_import() -> str:
    """``_select``; a refusal that stops the ``offload-tree`` command prints in one line."""
    try:
        return _select()
    except ImportError as refusal:
        if _running_the_command():
            _report_in_one_line(refusal)
        raise


#: The backend chosen at import time: "native" or "python".
BACKEND: str = _select_at_import()
