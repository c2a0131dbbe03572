"""The exception hierarchy shared by both engines.

The native module raises these very classes (it imports them from here), so
``except offload_tree.StateError`` works the same whichever engine is in use.
"""

from __future__ import annotations

__all__ = [
    "DependencyError",
    "InternalError",
    "InvalidHandleError",
    "LayerError",
    "OffloadTreeError",
    "StateError",
    "ValidationError",
]


class OffloadTreeError(Exception):
    """Base class of every error raised by offload-tree."""


class InvalidHandleError(OffloadTreeError, KeyError):
    """A handle is unknown, stale (its object was removed) or belongs to another tree."""

    def __str__(self) -> str:
        # KeyError.__str__ would quote the message like a dict key; show it plainly.
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class LayerError(OffloadTreeError, TypeError):
    """An object of the wrong layer was given for its role (e.g. a TCP handle as a path)."""


class DependencyError(OffloadTreeError):
    """The operation would orphan an object or cut a dependency."""


class StateError(OffloadTreeError):
    """The object is in the wrong offload state for the operation, or a variable may not be set."""


class ValidationError(OffloadTreeError, ValueError):
    """A value is out of range or malformed (port, MTU, MAC, IP address, VLAN id, ...)."""


class InternalError(OffloadTreeError):
    """A bug inside the engine (a caught Rust panic); the engine's state is unspecified."""
