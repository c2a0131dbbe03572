"""offload-tree: the TCP chimney offload state tree, with a simulated offload target.

Neighbors, the paths over them and the TCP connections over those are offloaded to, and
terminated from, a ``SimulatedTarget`` through block lists, as NDIS chimney offload does.
The engine is the Rust core (``offload_tree._native``) when built, else the pure-Python
fallback; ``OFFLOAD_TREE_BACKEND=native|python`` forces one, and ``BACKEND`` says which.

Typed for ``mypy --strict`` and pyright: a handle is an int, and ``add_neighbor``,
``add_path`` and ``add_tcp`` return it as a ``NeighborHandle``, ``PathHandle`` or
``TcpHandle`` (``typing.NewType``s: plain ints at run time), from which a checker knows what
``tree.state(h)`` returns; ``tree.stats()`` and ``target.stats()`` are ``TreeStats`` and
``TargetStats`` (``TypedDict``s).
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
from ._states import (
    NeighborHandle,
    NeighborState,
    PathHandle,
    PathState,
    StateRecord,
    TcpHandle,
    TcpState,
)
from ._stats import LayerStats, OperationStats, ReferenceStats, TargetStats, TreeStats
from ._target import SimulatedTarget
from ._text import PRINT_LIMIT, format_handle
from ._trace import replay
from ._tree import OffloadStateTree
from ._version import VERSION as __version__

__all__ = [
    "BACKEND",
    "PRINT_LIMIT",
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
    "LayerStats",
    "NeighborHandle",
    "NeighborState",
    "OffloadResult",
    "OffloadRule",
    "OffloadStateTree",
    "OffloadTreeError",
    "Operation",
    "OperationStats",
    "OutOfMemoryError",
    "PathHandle",
    "PathState",
    "ProcessedEvent",
    "QueryResult",
    "ReferenceStats",
    "ReplayError",
    "SimulatedTarget",
    "SnapshotError",
    "StateError",
    "StateRecord",
    "Status",
    "TargetStats",
    "TcpHandle",
    "TcpState",
    "TerminateResult",
    "TreeStats",
    "UpdateResult",
    "UploadReason",
    "ValidationError",
    "__version__",
    "format_handle",
    "replay",
]
