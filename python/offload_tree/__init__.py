"""offload-tree: the TCP chimney offload state tree, with a simulated offload target.

Neighbors, the paths over them and the TCP connections over those are offloaded to, and
terminated from, a ``SimulatedTarget`` through block lists, as NDIS chimney offload does.
The engine is the Rust core (``offload_tree._native``) when built, else the pure-Python
fallback; ``OFFLOAD_TREE_BACKEND=native|python`` forces one, and ``BACKEND`` says which.
"""

from ._backend import BACKEND
from ._blocks import Block, BlockList
from ._enums import ConnectionState, EventKind, Layer, Operation, Status, UploadReason
from ._errors import (
    DependencyError,
    DuplicateKeyError,
    InternalError,
    InvalidHandleError,
    LayerError,
    OffloadTreeError,
    OutOfMemoryError,
    ReplayError,
    SnapshotError,
    StateError,
    ValidationError,
)
from ._policy import HostPolicy, OffloadRule
from ._results import (
    InvalidateResult,
    OffloadResult,
    ProcessedEvent,
    QueryResult,
    TerminateResult,
    UpdateResult,
)
from ._states import NeighborState, PathState, TcpState
from ._target import SimulatedTarget
from ._trace import replay
from ._tree import OffloadStateTree
from ._version import VERSION as __version__

__all__ = [
    "BACKEND",
    "Block",
    "BlockList",
    "ConnectionState",
    "DependencyError",
    "DuplicateKeyError",
    "EventKind",
    "HostPolicy",
    "InternalError",
    "InvalidHandleError",
    "InvalidateResult",
    "Layer",
    "LayerError",
    "NeighborState",
    "OffloadResult",
    "OffloadRule",
    "OffloadStateTree",
    "OffloadTreeError",
    "Operation",
    "OutOfMemoryError",
    "PathState",
    "ProcessedEvent",
    "QueryResult",
    "ReplayError",
    "SimulatedTarget",
    "SnapshotError",
    "StateError",
    "Status",
    "TcpState",
    "TerminateResult",
    "UpdateResult",
    "UploadReason",
    "ValidationError",
    "__version__",
    "replay",
]
