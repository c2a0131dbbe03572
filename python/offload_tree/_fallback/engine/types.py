"""The values the engine's operations take and return (``crates/core/src/engine/types.rs``).
A leaf module: it knows the model, and nothing of the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..._engine import HandleArray, StatusArray
from ..._enums import Status
from ..._fields import DELEGATED, FIELDS
from ..model.fields import LAYOUTS

__all__ = [
    "ACTIONS",
    "DELEGATED_NAMES",
    "Column",
    "Event",
    "OperationCounts",
    "Outcome",
    "Processed",
    "RunningCounts",
]

#: The names of each layer's delegated variables, in field order.
DELEGATED_NAMES: tuple[tuple[str, ...], ...] = tuple(
    tuple(spec.name for spec in layout.by_kind["delegated"]) for layout in LAYOUTS
)


@dataclass(frozen=True, slots=True)
class Column:
    """One column of ``update`` values: ints (from an int64 array), or raw values (``mac``)."""

    values: list[Any]
    ints: bool


class Outcome:
    """The objects a terminate uploaded (or a query read), in that order, with their
    completion statuses, delegated values and received bytes; dicts are built when asked
    for."""

    __slots__ = (
        "_handles",
        "delegated",
        "handle_list",
        "layers",
        "received",
        "send_data",
        "status_list",
        "total_received",
        "total_send_data",
    )

    def __init__(self) -> None:
        """An empty outcome."""
        self.handle_list: list[int] = []
        self.status_list: list[int] = []
        self.layers: list[int] = []
        self.delegated: list[tuple[Any, ...]] = []
        #: received bytes by position, for the objects that returned any
        self.received: dict[int, bytes] = {}
        self.total_received = 0
        #: posted send bytes not acknowledged, by position, for the connections with any
        self.send_data: dict[int, bytes] = {}
        self.total_send_data = 0
        self._handles: HandleArray | None = None

    def push(
        self,
        handle: int,
        layer: int,
        delegated: tuple[Any, ...],
        data: bytes = b"",
        status: int = Status.SUCCESS,
        sent: bytes = b"",
    ) -> None:
        """Add one object at the end, with its received bytes ``data`` and its posted send
        bytes not acknowledged, ``sent``."""
        if data:
            self.received[len(self.handle_list)] = data
            self.total_received += len(data)
        if sent:
            self.send_data[len(self.handle_list)] = sent
            self.total_send_data += len(sent)
        self.handle_list.append(handle)
        self.status_list.append(int(status))
        self.layers.append(layer)
        self.delegated.append(delegated)

    @property
    def handles(self) -> HandleArray:
        """The handles, in upload (or request) order."""
        if self._handles is None:
            self._handles = np.array(self.handle_list, dtype=np.uint64)
        return self._handles

    @property
    def statuses(self) -> StatusArray:
        """The completion status of each object (``Status`` codes), in handle order."""
        return np.array(self.status_list, dtype=np.uint8)

    def __len__(self) -> int:
        return len(self.handle_list)

    def delegated_at(self, i: int) -> dict[str, int]:
        """The delegated variables of the ``i``-th object, in field order."""
        values = self.delegated[i]
        return dict(zip(DELEGATED_NAMES[self.layers[i]], values, strict=True))

    def delegated_columns(self, layer: int) -> dict[str, npt.NDArray[Any]]:
        """The delegated variables of the objects of ``layer`` as columns: ``row`` (their
        position here) and one column per variable, typed by its range (``_fields``)."""
        rows = [i for i, of in enumerate(self.layers) if of == layer]
        specs = [spec for spec in FIELDS[layer] if spec.kind == DELEGATED]
        table = np.array([self.delegated[i] for i in rows], dtype=np.uint64)
        table = table.reshape(len(rows), len(specs))
        columns: dict[str, npt.NDArray[Any]] = {"row": np.array(rows, dtype=np.uint64)}
        for k, spec in enumerate(specs):
            columns[spec.name] = table[:, k].astype(spec.dtype)
        return columns

    def received_at(self, i: int) -> bytes:
        """The received bytes of the ``i``-th object (``b""`` if none)."""
        _ = self.handle_list[i]  # a bad index raises IndexError, as the native outcome does
        return self.received.get(i, b"")

    def send_data_at(self, i: int) -> bytes:
        """The posted, unacknowledged send bytes of the ``i``-th object (``b""`` if none)."""
        _ = self.handle_list[i]
        return self.send_data.get(i, b"")


@dataclass(frozen=True, slots=True)
class Event:
    """A target-initiated event waiting on the host."""

    kind: int
    handle: int | None = None
    reason: int | None = None
    #: which offload of ``handle`` the event is about: its target context when queued (the
    #: core keeps the context's slot and generation). After a terminate and a new offload
    #: the object has another context, and the event is stale.
    offload: object | None = None
    #: the new SendBacklogSize of a send-backlog change
    size: int | None = None


#: What the host did about an event (``Action`` in the core), by name.
ACTIONS = (
    "terminated",
    "terminated_all",
    "resumed",
    "reachability_answered",
    "ignored",
    "declined",
    "peer_closed",
    "disconnected",
    "backlog_noted",
    "paused",
)
(
    TERMINATED,
    TERMINATED_ALL,
    RESUMED,
    REACHABILITY_ANSWERED,
    IGNORED,
    DECLINED,
    PEER_CLOSED,
    DISCONNECTED,
    BACKLOG_NOTED,
    PAUSED,
) = ACTIONS


@dataclass(frozen=True, slots=True)
class Processed:
    """One processed event and what the host did about it (an ``Action`` name)."""

    event: Event
    action: str
    outcome: Outcome | None


@dataclass(slots=True)
class OperationCounts:
    """Requested / succeeded / failed-by-status counts of one operation."""

    requested: int = 0
    succeeded: int = 0
    failed: list[int] = field(default_factory=lambda: [0] * len(Status))

    def fail(self, status: int, count: int = 1) -> None:
        """Count ``count`` failures with ``status``."""
        self.failed[status] += count

    def as_tuple(self) -> tuple[int, int, tuple[int, ...]]:
        """``(requested, succeeded, failed by status code)``, as engines report it."""
        return self.requested, self.succeeded, tuple(self.failed)


@dataclass(slots=True)
class RunningCounts:
    """The counts the engine keeps as it goes."""

    initiate_offload: OperationCounts = field(default_factory=OperationCounts)
    terminate: OperationCounts = field(default_factory=OperationCounts)
    update: OperationCounts = field(default_factory=OperationCounts)
    query: OperationCounts = field(default_factory=OperationCounts)
    invalidate: OperationCounts = field(default_factory=OperationCounts)
    bytes_returned: int = 0
    bytes_posted: int = 0  # bytes the host posted with send (ever)
    bytes_send_returned: int = 0  # posted bytes terminates handed back (ever)
    bytes_delivered: int = 0  # received bytes delivered in receive requests (ever)
    bytes_read: int = 0  # delivered bytes the application read (ever)
    bytes_discarded: int = 0  # delivered bytes dropped unread with their connection (ever)
    events_seen: int = 0
    events_processed: int = 0
    #: objects the host terminated because their reference count reached zero, per layer
    released: list[int] = field(default_factory=lambda: [0, 0, 0])
