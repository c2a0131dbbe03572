"""Ctrl-C and atomic calls: a call that changes the tree happens whole or not at all
(docs/DESIGN.md §8, "Interrupts and allocation failures").

While a changing call runs in the main thread, SIGINT only records itself (:class:`Deferred`)
and asks the engine to stop (``Engine.request_interrupt``). Both engines poll at the same
points: while they check the call's input and while an add inserts (which they undo
exactly). At a poll a requested stop ends the call with ``KeyboardInterrupt`` and the tree
unchanged. Past its last poll a call runs to the end; the interrupt is raised as it returns,
and the ``KeyboardInterrupt`` carries the completed call's result as ``.result``, so the
delegated state and bytes a terminate handed back are never lost. A program with its own
SIGINT handler gets the signal delivered to that handler instead, at the same moments.

Reads are not deferred: they change nothing, so stopping them anywhere is harmless.
"""

from __future__ import annotations

import functools
import importlib
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, Protocol, TypeVar, cast

__all__ = ["Deferred", "atomic", "interruptible"]

_MAIN_THREAD = threading.main_thread().ident


def _c_getsignal() -> Callable[[int], Any]:
    """CPython's C ``getsignal``: ``signal.getsignal`` wraps its answer in an enum, at ten
    times the cost of the call itself."""
    try:
        return cast(Callable[[int], Any], importlib.import_module("_signal").getsignal)
    except (ImportError, AttributeError):  # pragma: no cover - not CPython
        return signal.getsignal


_getsignal = _c_getsignal()

F = TypeVar("F", bound=Callable[..., Any])


class _Stoppable(Protocol):
    def request_interrupt(self, requested: bool) -> None: ...


class _Relay:
    """The SIGINT handler installed over the program's own, once rather than per call.

    Swapping handlers around every call cost two ``sigaction`` calls, about 10 µs: more than
    a small native call itself. The relay stays installed: inside a changing call it records
    the signal for that call (:class:`Deferred`); outside one it hands the signal to the
    handler it replaced at once. A program that installs its own handler later replaces the
    relay, and the next changing call puts a new relay over that handler.
    """

    __slots__ = ("pending", "previous")

    def __init__(self, previous: Callable[[int, FrameType | None], Any]) -> None:
        self.previous = previous
        self.pending: Deferred | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> Any:
        pending = self.pending
        if pending is None:
            return self.previous(signum, frame)
        pending.signalled = True
        pending._engine.request_interrupt(True)
        return None


_relay: _Relay | None = None


def _install_relay() -> _Relay | None:
    """The relay in force, installed over the program's handler if it is not; None when
    SIGINT has no Python handler (ignored, the default action, or set outside Python)."""
    global _relay
    current = _getsignal(signal.SIGINT)
    if _relay is not None and current is _relay:
        return _relay
    if not callable(current):
        return None
    _relay = _Relay(current)
    signal.signal(signal.SIGINT, _relay)
    return _relay


class Deferred:
    """Holds SIGINT back for one call (main thread only) and settles it when the call ends."""

    __slots__ = ("_engine", "_previous", "_relay", "result", "signalled")

    def __init__(self, engine: _Stoppable) -> None:
        self._engine = engine
        self._previous: Any = None
        self._relay: _Relay | None = None
        self.signalled = False
        #: the call's result, for the interrupt raised when it completes
        self.result: object = None

    def __enter__(self) -> Deferred:
        if threading.get_ident() != _MAIN_THREAD:
            return self
        relay = _install_relay()
        if relay is not None:
            if relay.pending is None:  # else a call in progress records for both
                relay.pending = self
                self._relay = relay
            return self
        previous = signal.getsignal(signal.SIGINT)
        if previous is not None:  # None: a handler set outside Python, left alone
            self._previous = previous
            signal.signal(signal.SIGINT, self._record)
        return self

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.signalled = True
        self._engine.request_interrupt(True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        relay, self._relay = self._relay, None
        if relay is not None:
            relay.pending = None
            previous: Any = relay.previous
        else:
            previous, self._previous = self._previous, None
            if previous is None:
                return
            signal.signal(signal.SIGINT, previous)
        if not self.signalled:
            return
        self._engine.request_interrupt(False)  # a request no poll took
        if isinstance(exc, KeyboardInterrupt):
            return  # the call stopped for it
        if exc is None and previous is signal.default_int_handler:
            interrupt = KeyboardInterrupt(
                "interrupted after the call completed: its result is this exception's .result"
            )
            interrupt.result = self.result  # type: ignore[attr-defined]
            raise interrupt
        signal.raise_signal(signal.SIGINT)  # the program's own handler, or over an error


def interruptible(engine: Any, long: bool) -> Any:
    """``engine`` when a call on it needs Ctrl-C deferred, else None: every changing call of
    the fallback, whose Python steps a signal could split; only long native ones."""
    if engine is None or (not long and type(engine).__module__ == "offload_tree._native"):
        return None
    return engine


def atomic(long: bool) -> Callable[[F], F]:
    """Run a facade method that changes the tree with Ctrl-C deferred (see the module).

    ``long``: the call may run long (a batch). A short native call needs no deferral: it
    cannot be interrupted part-way, and its few microseconds would double.
    """

    def decorate(method: F) -> F:
        def deferred(self: Any, /, *args: Any, **kwargs: Any) -> Any:
            engine = interruptible(self._engine, long)
            if engine is None:
                return method(self, *args, **kwargs)
            with Deferred(engine) as pending:
                result = method(self, *args, **kwargs)
                pending.result = result
            return result

        functools.update_wrapper(deferred, method)
        return cast(F, deferred)

    return decorate
