"""The exception hierarchy shared by both engines.

The native module raises these very classes (it imports them from here), so
``except offload_tree.StateError`` works the same whichever engine is in use.
"""

from __future__ import annotations

__all__ = [
    "DependencyError",
    "DuplicateKeyError",
    "InternalError",
    "InvalidHandleError",
    "LayerError",
    "OffloadTreeError",
    "OutOfMemoryError",
    "ReplayError",
    "SnapshotError",
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


class DuplicateKeyError(ValidationError):
    """A second object for a key the host keeps one of: a path per (source, destination), a
    connection per 4-tuple (source, destination, local port, remote port)."""


class OutOfMemoryError(OffloadTreeError, MemoryError):
    """Memory ran out during a call, which changed nothing: the tree is as it was before."""


class SnapshotError(OffloadTreeError, ValueError):
    """A snapshot, snapshot file or trace cannot be read: truncated, corrupted, foreign, of
    another format version, or breaking a rule of the format. Nothing was built from it."""


class ReplayError(OffloadTreeError):
    """A trace cannot be replayed: it is not a trace, it is cut or corrupted, or a call gave
    another result than the one recorded (the message names the line)."""


class InternalError(OffloadTreeError):
    """A bug inside the engine (a caught Rust panic); the engine's state is unspecified."""
