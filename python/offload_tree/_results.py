"""The results of the operations: ``OffloadResult``, ``TerminateResult``, ``UpdateResult``,
``QueryResult``, ``InvalidateResult`` and ``ProcessedEvent``.

They wrap what an engine returns (block-list arrays, an ``Outcome``: ``_engine.Outcome``)
and materialise Python objects only when asked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _draw
from ._blocks import NO_STATUS, BlockList, readonly
from ._coerce import as_handle, as_required_layer, format_handle
from ._engine import BlockArrays, HandleArray, Outcome, ProcessedTuple
from ._enums import EventKind, Layer, Status, UploadReason
from ._errors import InvalidHandleError, StateError
from ._fields import FIELDS, field_names
from ._states import record_from_state
from ._text import PRINT_LIMIT, STATUS_NAMES, bounded_text, iter_handles, object_lines, plural

__all__ = [
    "InvalidateResult",
    "OffloadResult",
    "ProcessedEvent",
    "QueryResult",
    "TerminateResult",
    "UpdateResult",
]


# --- operation results --------------------------------------------------------------------


class _StoredOutcome:
    """An engine outcome copied into plain Python data: what a result pickles to, so that
    results of both backends pickle alike (the native outcome lives in Rust)."""

    __slots__ = (
        "delegated",
        "handles",
        "received",
        "send_data",
        "statuses",
        "total_received",
        "total_send_data",
    )

    def __init__(self, outcome: Outcome) -> None:
        """Copy everything ``outcome`` holds."""
        n = len(outcome)
        self.handles: HandleArray = np.array(outcome.handles, dtype=np.uint64)
        self.statuses: npt.NDArray[np.uint8] = np.array(outcome.statuses, dtype=np.uint8)
        self.delegated = [outcome.delegated_at(i) for i in range(n)]
        self.received = {i: data for i in range(n) if (data := outcome.received_at(i))}
        self.total_received = outcome.total_received
        self.send_data = {i: data for i in range(n) if (data := outcome.send_data_at(i))}
        self.total_send_data = outcome.total_send_data

    def __len__(self) -> int:
        return len(self.delegated)

    def delegated_at(self, i: int) -> dict[str, int]:
        """The delegated variables of the ``i``-th object."""
        return dict(self.delegated[i])

    def delegated_columns(self, layer: int) -> dict[str, npt.NDArray[Any]]:
        """The delegated variables of the objects of ``layer`` as columns (``row`` and one
        column per variable), as the engines give them."""
        rows = [i for i, h in enumerate(self.handles.tolist()) if h >> 46 & 3 == layer]
        columns: dict[str, npt.NDArray[Any]] = {"row": np.array(rows, dtype=np.uint64)}
        for spec in FIELDS[layer]:
            if spec.kind == "delegated":
                values = [self.delegated[i][spec.name] for i in rows]
                columns[spec.name] = np.array(values, dtype=spec.dtype)
        return columns

    def received_at(self, i: int) -> bytes:
        """The received bytes of the ``i``-th object (``b""`` if none)."""
        if not 0 <= i < len(self.delegated):
            raise IndexError(i)
        return self.received.get(i, b"")

    def send_data_at(self, i: int) -> bytes:
        """The posted, unacknowledged send bytes of the ``i``-th object (``b""`` if none)."""
        if not 0 <= i < len(self.delegated):
            raise IndexError(i)
        return self.send_data.get(i, b"")

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _restore_outcome,
            (self.handles, self.statuses, self.delegated, self.received, self.send_data),
        )


def _restore_outcome(
    handles: HandleArray,
    statuses: npt.NDArray[np.uint8],
    delegated: list[dict[str, int]],
    received: dict[int, bytes],
    send_data: dict[int, bytes] | None = None,
) -> _StoredOutcome:
    stored = _StoredOutcome.__new__(_StoredOutcome)
    stored.handles, stored.statuses = handles, statuses
    stored.delegated, stored.received = delegated, received
    stored.total_received = sum(len(data) for data in received.values())
    stored.send_data = send_data or {}
    stored.total_send_data = sum(len(data) for data in stored.send_data.values())
    return stored


def _stored(outcome: Outcome) -> _StoredOutcome:
    return outcome if isinstance(outcome, _StoredOutcome) else _StoredOutcome(outcome)


class OffloadResult:
    """The result of ``initiate_offload``: the block list as the target returned it, and
    the shared state the host released again at once.

    A new path or neighbor that went through but that no offloaded object depends on (its
    connections failed, or it was requested alone) keeps its block status, and the host,
    which holds no reference to it, terminates it: ``released`` lists those, paths before
    neighbors, with their delegated state (empty unless the tree releases unreferenced state).
    """

    __slots__ = ("_blocks", "_declined", "_released")

    def __init__(
        self, arrays: BlockArrays, released: Outcome, declined: HandleArray | None = None
    ) -> None:
        """Wrap an engine's seven block-list arrays (the last one the statuses), the
        outcome of the releases, and the connections the host's policy kept back."""
        self._blocks = BlockList(arrays)
        self._released = TerminateResult(released)
        self._declined = readonly(np.zeros(0, np.uint64) if declined is None else declined)

    @property
    def declined(self) -> HandleArray:
        """The requested connections the host's offload rules kept on the host
        (``HostPolicy.offload_rules``): they are in no block and were not offloaded."""
        return self._declined

    @property
    def released(self) -> TerminateResult:
        """The new shared objects the host terminated again: no offloaded object uses them."""
        return self._released

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as plain data (the same on both backends)."""
        return (_restore_offload_result, (self._blocks, self._released, self._declined))

    @property
    def blocks(self) -> BlockList:
        """The block list, with the status of every block."""
        return self._blocks

    def status(self, h: int) -> Status:
        """The status of the block of handle ``h``; ``InvalidHandleError`` if not in the list."""
        statuses = self._blocks.statuses
        assert statuses is not None
        return Status(int(statuses[self._blocks.position(h)]))

    @property
    def statuses(self) -> dict[int, Status]:
        """Every block's status by handle, in block-list order."""
        codes = self._blocks.statuses
        assert codes is not None
        return {
            h: Status(s) for h, s in zip(self._blocks.handles.tolist(), codes.tolist(), strict=True)
        }

    def _codes(self) -> npt.NDArray[np.uint8]:
        codes = self._blocks.statuses
        assert codes is not None
        return codes

    @property
    def succeeded(self) -> HandleArray:
        """Handles of the blocks that carried new state and that the target took (block
        order); those in ``released`` were terminated again by the host."""
        return readonly(self._blocks.handles[self._succeeded_mask()])

    # The masks of succeeded and failed: the repr counts them without the handle arrays.
    def _succeeded_mask(self) -> npt.NDArray[np.bool_]:
        new = ~self._blocks.referenced
        mask: npt.NDArray[np.bool_] = (self._codes() <= Status.PARTIAL_SUCCESS) & new
        return mask

    def _failed_mask(self) -> npt.NDArray[np.bool_]:
        codes = self._codes()
        mask: npt.NDArray[np.bool_] = (codes >= Status.FAILURE) & (codes != NO_STATUS)
        return mask

    @property
    def failed(self) -> HandleArray:
        """Handles of the blocks with a failure status (block order), referenced ones too."""
        failed: HandleArray = self._blocks.handles[self._failed_mask()]
        return readonly(failed)

    @property
    def ok(self) -> bool:
        """True when no block failed."""
        return not bool(self._failed_mask().any())

    def __bool__(self) -> bool:
        """``if tree.initiate_offload(...):`` reads as "it all went through": same as ``ok``."""
        return self.ok

    def __len__(self) -> int:
        """Number of blocks in the processed block list."""
        return len(self._blocks)

    def __iter__(self) -> Iterator[int]:
        """The handles of the blocks (what ``len()`` counts), in block-list order, as
        Python ints; ``result.blocks`` iterates the blocks themselves."""
        return iter_handles(self._blocks.handles)

    def __contains__(self, h: object) -> bool:
        """True when ``h`` has a block in the list."""
        return h in self._blocks

    def to_text(self) -> str:
        """Every block with its status, as :meth:`BlockList.to_text` writes it."""
        return self._blocks.to_text()

    def __str__(self) -> str:
        """:meth:`to_text` for up to ``PRINT_LIMIT`` blocks; more are summarised: the
        repr, the first ``PRINT_LIMIT`` blocks and a line counting the others."""
        if not len(self):
            return repr(self)  # an empty result still says what it is
        if len(self) <= PRINT_LIMIT:
            return self.to_text()
        return bounded_text(repr(self), self._blocks._lines, len(self), "block", "to_text()")

    def to_dot(self, *, max_objects: int = _draw.DEFAULT_MAX_OBJECTS) -> str:
        """The processed block list as Graphviz DOT text (as :meth:`BlockList.to_dot`), each
        block coloured by the status the target wrote: green SUCCESS, amber PARTIAL_SUCCESS,
        red with the status named for a failure, grey for no status; the title counts what
        was offloaded, failed, released again and declined."""
        return _draw.offload_result_dot(self, max_objects=max_objects)

    def _repr_svg_(self) -> str | None:
        """The drawing (:meth:`to_dot`) as SVG for notebooks, when the ``graphviz`` package
        and the ``dot`` program are installed; None otherwise (IPython shows the repr)."""
        return _draw.repr_svg(self.to_dot)

    def __repr__(self) -> str:
        return (
            f"<OffloadResult {plural(len(self), 'block')}, "
            f"{np.count_nonzero(self._succeeded_mask()):,} offloaded, "
            f"{np.count_nonzero(self._failed_mask()):,} failed>"
        )


def _restore_offload_result(
    blocks: BlockList, released: TerminateResult, declined: HandleArray | None = None
) -> OffloadResult:
    result = OffloadResult.__new__(OffloadResult)
    result._blocks, result._released = blocks, released
    result._declined = readonly(np.zeros(0, np.uint64) if declined is None else declined)
    return result


class _ByHandle:
    """A result with one entry and one completion status per object: lookup by handle
    (each handle once, the index built on first use) and the status readers every such
    result shares."""

    __slots__ = ("_index",)

    def __init__(self) -> None:
        self._index: dict[int, int] | None = None

    def _handle_array(self) -> HandleArray:
        raise NotImplementedError

    @property
    def statuses(self) -> npt.NDArray[np.uint8]:
        """One completion status per object, in the order of the handles."""
        raise NotImplementedError

    def _position(self, h: object) -> int:
        if self._index is None:
            handles = self._handle_array().tolist()
            self._index = dict(zip(handles, range(len(handles)), strict=True))
        key = as_handle(h)
        try:
            return self._index[key]
        except KeyError:
            raise InvalidHandleError(f"handle {format_handle(key)} is not in this result") from None

    def status(self, h: int) -> Status:
        """The completion status of ``h``: ``Status.SUCCESS`` or ``Status.FAILURE``."""
        return Status(int(self.statuses[self._position(h)]))

    @property
    def failed(self) -> HandleArray:
        """The handles whose status is FAILURE, in order."""
        failed: HandleArray = self._handle_array()[self.statuses != Status.SUCCESS]
        return readonly(failed)

    @property
    def ok(self) -> bool:
        """True when every object completed with SUCCESS."""
        return not bool(self.statuses.any())

    def __bool__(self) -> bool:
        """The truth of every result is ``ok`` (use ``len()`` for how many objects)."""
        return self.ok

    def __iter__(self) -> Iterator[int]:
        """The result's handles (what ``len()`` counts), in its order, as Python ints."""
        return iter_handles(self._handle_array())

    def __contains__(self, h: object) -> bool:
        """True when ``h`` is one of the result's objects."""
        try:
            self._position(h)
        except InvalidHandleError:
            return False
        return True

    def _lines(self, start: int, stop: int) -> list[str]:
        """The lines of :meth:`to_text` for objects ``start`` to ``stop - 1``."""
        return object_lines(self._handle_array()[start:stop], self.statuses[start:stop])

    def to_text(self) -> str:
        """The repr, then every object, one line each in the result's order: its layer, its
        handle and its completion status (``TCP 0x0001800000000000 SUCCESS``; a terminate's
        line adds the bytes it handed back, ``, 16 received bytes``). ``str()`` writes the
        first ``PRINT_LIMIT`` objects only."""
        return "\n".join([repr(self), *self._lines(0, len(self._handle_array()))])

    def __str__(self) -> str:
        """The repr and the first ``PRINT_LIMIT`` objects as :meth:`to_text` writes them,
        then a line counting the others."""
        total = len(self._handle_array())
        return bounded_text(repr(self), self._lines, total, "object", "to_text()")


class _OutcomeResult(_ByHandle):
    """Shared lookup of a terminate or query outcome by handle. Its arrays are read once
    and kept read-only: a result owns its data, and a caller who writes into an array it
    returned gets an error instead of a result that no longer finds its own handles."""

    __slots__ = ("_handles", "_outcome", "_statuses")

    def __init__(self, outcome: Outcome) -> None:
        super().__init__()
        self._outcome = outcome
        self._handles: HandleArray | None = None
        self._statuses: npt.NDArray[np.uint8] | None = None

    def _handle_array(self) -> HandleArray:
        if self._handles is None:
            self._handles = readonly(self._outcome.handles)
        return self._handles

    def __len__(self) -> int:
        return len(self._outcome)

    def delegated(self, h: int) -> dict[str, int]:
        """The delegated state of ``h`` (a neighbor: its reachability delta; a path: {})."""
        return self._outcome.delegated_at(self._position(h))

    def _answered_rows(self, rows: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
        """Which of ``rows`` have delegated state to show: all of them here."""
        return np.ones(len(rows), dtype=np.bool_)

    def to_dict(self, layer: Layer | int = Layer.TCP) -> dict[str, npt.NDArray[Any]]:
        """The delegated state of the result's objects of ``layer`` as columns, in one call:
        ``handle``, ``status`` and one column per delegated variable (docs/DESIGN.md §5),
        in the result's order. pandas, polars and pyarrow take the dict as it is."""
        raw = self._outcome.delegated_columns(as_required_layer(layer))
        rows = raw.pop("row")
        keep = self._answered_rows(rows)
        columns: dict[str, npt.NDArray[Any]]
        if len(rows) == len(self) and keep.all():  # every row: no copies to select them
            columns = {"handle": self._handle_array(), "status": self.statuses, **raw}
        else:
            rows = rows[keep].astype(np.intp)
            columns = {"handle": self._handle_array()[rows], "status": self.statuses[rows]}
            columns.update((name, values[keep]) for name, values in raw.items())
        return {name: readonly(values) for name, values in columns.items()}

    def column(self, name: str, layer: Layer | int = Layer.TCP) -> npt.NDArray[Any]:
        """One column of :meth:`to_dict` (``KeyError`` naming the columns there are)."""
        columns = self.to_dict(layer)
        if name not in columns:
            raise KeyError(f"no column {name!r}; the columns are {', '.join(columns)}")
        return columns[name]

    @property
    def statuses(self) -> npt.NDArray[np.uint8]:
        """The completion status of each object, in the order of the handles: SUCCESS (0),
        or FAILURE (2) when the target found the object's hardware state corrupt (an
        injected fault, ``SimulatedTarget.inject_fault``)."""
        if self._statuses is None:
            self._statuses = readonly(self._outcome.statuses)
        return self._statuses


class TerminateResult(_OutcomeResult):
    """The result of ``terminate``: what the target handed back for every uploaded object.

    Each object has a completion status (NDIS "Returning the Completion Status of a
    Terminate Offload Operation"): SUCCESS, or FAILURE when the target's hardware state of
    the object was corrupt. A failed connection was aborted: its delegated ``state`` is CLOSED. NDIS
    loses the object's state then; here the target's last values and every buffered byte
    still come back, so nothing it held is lost.
    """

    __slots__ = ()

    @property
    def terminated(self) -> HandleArray:
        """The uploaded handles, in upload order (dependents before what they depend on)."""
        return self._handle_array()

    def received_data(self, h: int) -> bytes:
        """The receive data the target buffered for ``h`` and had not delivered (b"" if none)."""
        return self._outcome.received_at(self._position(h))

    @property
    def total_received(self) -> int:
        """The number of buffered receive bytes returned, over all objects."""
        return self._outcome.total_received

    def send_data(self, h: int) -> bytes:
        """The send data the host posted on connection ``h`` that the peer had not
        acknowledged: transmitted bytes first, then those never sent, in posting order
        (b"" if none). The host sends them itself from here on."""
        return self._outcome.send_data_at(self._position(h))

    @property
    def total_send_data(self) -> int:
        """The number of posted send bytes returned, over all objects."""
        return self._outcome.total_send_data

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as plain data (the same on both backends)."""
        return (TerminateResult, (_stored(self._outcome),))

    def _lines(self, start: int, stop: int) -> list[str]:
        """Each object's line, with the bytes it brought back when there are any."""
        lines = super()._lines(start, stop)
        if not (self.total_received or self.total_send_data):
            return lines  # nothing came back: no need to ask object by object
        for i in range(start, min(stop, len(self))):
            received = len(self._outcome.received_at(i))
            posted = len(self._outcome.send_data_at(i))
            if received:
                lines[i - start] += f", {received:,} received bytes"
            if posted:
                lines[i - start] += f", {posted:,} posted bytes"
        return lines

    def __repr__(self) -> str:
        return (
            f"<TerminateResult {plural(len(self), 'object')}, {len(self.failed):,} failed, "
            f"{self.total_received:,} received and {self.total_send_data:,} posted bytes "
            "returned>"
        )


class UpdateResult:
    """The result of ``update``: one completion status per object, and what the host
    terminated because the target refused the new values.

    NDIS completes an update with SUCCESS or FAILURE only
    (NDIS "Returning the Completion Status of an Update Offload Operation"): ``status(h)`` and
    ``statuses`` say that; ``reason(h)`` and ``reasons`` keep the cause (PATH_MTU,
    TCP_RCV_WINDOW, ...). ``terminated`` lists the refused objects with their offloaded
    dependents and the shared state this left unreferenced, dependents first; nothing the
    target held is lost: ``delegated(h)``, ``received_data(h)`` and ``send_data(h)`` hand it
    back.
    """

    __slots__ = ("_handles", "_index", "_reasons", "_terminated")

    def __init__(
        self, handles: HandleArray, reasons: npt.NDArray[np.uint8], terminated: Outcome
    ) -> None:
        """Wrap the requested handles, the engine's detailed status per handle and the
        outcome of the terminations. The handles are copied: the caller's array stays theirs."""
        self._handles = readonly(np.array(handles, dtype=np.uint64))
        self._reasons = readonly(reasons)
        self._terminated = TerminateResult(terminated)
        self._index: dict[int, int] | None = None

    def _position(self, h: object) -> int:
        """Where ``h`` stands in the request: its first refused mention, else its first."""
        if self._index is None:
            index: dict[int, int] = {}
            for i, (handle, reason) in enumerate(
                zip(self._handles.tolist(), self._reasons.tolist(), strict=True)
            ):
                first = index.get(handle)
                if first is None or (reason != Status.SUCCESS and self._reasons[first] == 0):
                    index[handle] = i
            self._index = index
        key = as_handle(h)
        try:
            return self._index[key]
        except KeyError:
            raise InvalidHandleError(f"handle {format_handle(key)} is not in this result") from None

    @property
    def handles(self) -> HandleArray:
        """The requested handles, in request order (duplicates included)."""
        return self._handles

    @property
    def statuses(self) -> npt.NDArray[np.uint8]:
        """One code per requested handle: SUCCESS (0) or FAILURE (2)."""
        codes = np.where(self._reasons == Status.SUCCESS, Status.SUCCESS, Status.FAILURE)
        return readonly(codes.astype(np.uint8))

    @property
    def reasons(self) -> npt.NDArray[np.uint8]:
        """One code per requested handle: SUCCESS, or the detailed cause of the failure."""
        return self._reasons

    def status(self, h: int) -> Status:
        """``Status.SUCCESS``, or ``Status.FAILURE`` when the target refused ``h``'s values."""
        code = self._reasons[self._position(h)]
        return Status.SUCCESS if code == Status.SUCCESS else Status.FAILURE

    def reason(self, h: int) -> Status:
        """Why ``h``'s update failed (PATH_MTU, TCP_RCV_WINDOW, ...), or SUCCESS."""
        return Status(int(self._reasons[self._position(h)]))

    @property
    def ok(self) -> bool:
        """True when every object took its new values."""
        return not bool(self._reasons.any())

    def __bool__(self) -> bool:
        """``if tree.update(...):`` reads as "every object took it": same as ``ok``."""
        return self.ok

    @property
    def failed(self) -> HandleArray:
        """Handles whose update failed, in request order (duplicates included)."""
        failed: HandleArray = self._handles[self._reasons != Status.SUCCESS]
        return readonly(failed)

    @property
    def terminated(self) -> HandleArray:
        """What the host uploaded because of the refusals, dependents first."""
        return self._terminated.terminated

    @property
    def upload(self) -> TerminateResult:
        """That upload in full: a status per uploaded object (FAILURE when its state was
        corrupt), its delegated state and its returned bytes."""
        return self._terminated

    def delegated(self, h: int) -> dict[str, int]:
        """The delegated state the target handed back for terminated object ``h``."""
        return self._terminated.delegated(h)

    def received_data(self, h: int) -> bytes:
        """The receive data the target had buffered for terminated connection ``h``."""
        return self._terminated.received_data(h)

    @property
    def total_received(self) -> int:
        """The buffered receive bytes handed back, over all terminated objects."""
        return self._terminated.total_received

    def send_data(self, h: int) -> bytes:
        """The posted send data not acknowledged, handed back for terminated connection
        ``h``."""
        return self._terminated.send_data(h)

    @property
    def total_send_data(self) -> int:
        """The posted send bytes handed back, over all terminated objects."""
        return self._terminated.total_send_data

    def __len__(self) -> int:
        """Number of requested handles (duplicates included)."""
        return len(self._handles)

    def __iter__(self) -> Iterator[int]:
        """The requested handles (what ``len()`` counts: duplicates included), in request
        order, as Python ints."""
        return iter_handles(self._handles)

    def __contains__(self, h: object) -> bool:
        """True when ``h`` was requested."""
        try:
            self._position(h)
        except InvalidHandleError:
            return False
        return True

    def _lines(self, start: int, stop: int) -> list[str]:
        """The lines of :meth:`to_text` for requested handles ``start`` to ``stop - 1``."""
        reasons = self._reasons[start:stop]
        lines = object_lines(self._handles[start:stop], self.statuses[start:stop])
        return [
            line if code == Status.SUCCESS else f"{line} ({STATUS_NAMES[code]})"
            for line, code in zip(lines, reasons.tolist(), strict=True)
        ]

    def to_text(self) -> str:
        """The repr, then every requested handle, one line each in request order: its
        layer, the handle, its status and, for a failure, the reason
        (``PATH 0x0001400000000000 FAILURE (PATH_MTU)``). What the host terminated is
        ``result.upload``. ``str()`` writes the first ``PRINT_LIMIT`` handles only."""
        return "\n".join([repr(self), *self._lines(0, len(self))])

    def __str__(self) -> str:
        """The repr and the first ``PRINT_LIMIT`` handles as :meth:`to_text` writes them,
        then a line counting the others."""
        return bounded_text(repr(self), self._lines, len(self), "object", "to_text()")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as plain data (the same on both backends)."""
        return (UpdateResult, (self._handles, self._reasons, _stored(self._terminated._outcome)))

    def __repr__(self) -> str:
        return (
            f"<UpdateResult {plural(len(self), 'object')}, {len(self.failed):,} failed, "
            f"{len(self.terminated):,} terminated>"
        )


class QueryResult(_OutcomeResult):
    """The result of ``query``: the target's live delegated state of each object, and its
    constant and cached state when the query asked for them.

    Each object has a completion status
    (NDIS "Returning the Completion Status of a Query Offload Operation"): SUCCESS, or FAILURE
    when its hardware state was corrupt. The host terminates what it could not query, with
    its offloaded dependents: ``terminated`` lists them, ``upload`` is that upload in full
    (a ``TerminateResult``). A query that fails nothing changes nothing.
    """

    __slots__ = ("_kinds", "_states", "_terminated")

    def __init__(
        self,
        outcome: Outcome,
        terminated: Outcome,
        states: dict[int, dict[str, Any]] | None = None,
        kinds: frozenset[str] = frozenset(),
    ) -> None:
        """Wrap the engine's outcome, what its failures made the host terminate and, for
        constant or cached queries, the objects' variables as read when the query ran."""
        super().__init__(outcome)
        self._terminated = TerminateResult(terminated)
        self._states = states
        self._kinds = kinds

    def _answered(self, h: int) -> int:
        """The position of ``h``; ``StateError`` if its query failed."""
        i = self._position(h)
        if self.statuses[i] != Status.SUCCESS:
            raise StateError(
                f"the query of {format_handle(as_handle(h))} failed (FAILURE): the target's "
                "state was corrupt and the host terminated it; see result.upload"
            )
        return i

    def delegated(self, h: int) -> dict[str, int]:
        """The target's live delegated state of ``h`` (``StateError`` if its query failed)."""
        return self._outcome.delegated_at(self._answered(h))

    def _answered_rows(self, rows: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
        """Only objects whose query succeeded have a state to show."""
        answered: npt.NDArray[np.bool_] = self.statuses[rows.astype(np.intp)] == Status.SUCCESS
        return answered

    @property
    def terminated(self) -> HandleArray:
        """What the host terminated because a query failed: the failed objects with their
        offloaded dependents and the shared state this released, dependents first."""
        return self._terminated.terminated

    @property
    def upload(self) -> TerminateResult:
        """That upload in full: statuses, delegated state and returned bytes."""
        return self._terminated

    def _variables(self, h: int, kind: str) -> dict[str, Any]:
        if kind not in self._kinds or self._states is None:
            raise StateError(f"this query did not ask for {kind} variables (variables=...)")
        self._answered(h)  # InvalidHandleError for a handle not in the result
        record = record_from_state(self._states[as_handle(h)])
        return {name: getattr(record, name) for name in field_names(int(record.layer), kind)}

    def constant(self, h: int) -> dict[str, Any]:
        """The constant variables the target holds for ``h`` (``variables`` had "constant")."""
        return self._variables(h, "constant")

    def cached(self, h: int) -> dict[str, Any]:
        """The cached variables the target holds for ``h`` (``variables`` had "cached")."""
        return self._variables(h, "cached")

    @property
    def handles(self) -> HandleArray:
        """The queried handles, in request order."""
        return self._handle_array()

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as plain data (the same on both backends)."""
        args = (_stored(self._outcome), _stored(self._terminated._outcome))
        return (QueryResult, (*args, self._states, self._kinds))

    def __repr__(self) -> str:
        return f"<QueryResult {plural(len(self), 'object')}, {len(self.failed):,} failed>"


class InvalidateResult(_ByHandle):
    """The result of ``invalidate``: one completion status per object (duplicates dropped).

    SUCCESS: the target marked the object invalid and asked for the upload of every
    connection relying on it (INVALID_STATE). FAILURE
    (NDIS "Returning the Completion Status of an Invalidate Operation"): the object's hardware
    state was corrupt; it is not marked invalid, the target asked for the upload of those
    connections with reason HARDWARE_FAILURE, and the object's own upload will fail.
    """

    __slots__ = ("_handles", "_statuses")

    def __init__(self, handles: HandleArray, statuses: npt.NDArray[np.uint8]) -> None:
        """Wrap the engine's objects and statuses."""
        super().__init__()
        self._handles = readonly(handles)
        self._statuses = readonly(statuses)

    def _handle_array(self) -> HandleArray:
        return self._handles

    @property
    def handles(self) -> HandleArray:
        """The invalidated handles, in request order (duplicates dropped)."""
        return self._handles

    @property
    def statuses(self) -> npt.NDArray[np.uint8]:
        """One code per object: SUCCESS (0) or FAILURE (2)."""
        return self._statuses

    def __len__(self) -> int:
        """Number of objects (duplicates dropped)."""
        return len(self._handles)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as plain data (the same on both backends)."""
        return (InvalidateResult, (self._handles, self._statuses))

    def __repr__(self) -> str:
        return f"<InvalidateResult {plural(len(self), 'object')}, {len(self.failed):,} failed>"


@dataclass(frozen=True, slots=True, repr=False)
class ProcessedEvent:
    """One target-initiated event and what the host did about it.

    ``action`` is one of "terminated", "terminated_all", "resumed",
    "reachability_answered", "ignored", "declined" (an optional upload request the host's
    policy declined), "peer_closed" (the peer's FIN while the host's half is open: the
    connection stays offloaded) or "disconnected" (the host's FIN acknowledged while the
    peer's half is open: it stays offloaded too), "backlog_noted" (a send-backlog change:
    ``size`` is the new SendBacklogSize) or "paused" (offload-pause: the host offloads
    nothing until the target resumes); ``result`` is the ``TerminateResult`` of a
    terminating action, else None.
    """

    kind: EventKind
    handle: int | None
    reason: UploadReason | None
    action: str
    result: TerminateResult | None
    #: The new SendBacklogSize a ``SEND_BACKLOG_CHANGE`` carries (None for other events).
    size: int | None = None

    @classmethod
    def from_engine(cls, event: ProcessedTuple) -> ProcessedEvent:
        """Build from an engine's ``(kind, handle, reason, action, outcome, size)`` tuple."""
        kind, handle, reason, action, outcome, size = event
        return cls(
            kind=EventKind(kind),
            handle=handle,
            reason=None if reason is None else UploadReason(reason),
            action=action,
            result=None if outcome is None else TerminateResult(outcome),
            size=size,
        )

    def __repr__(self) -> str:
        # The dataclass's repr, but with the handle in the form every text uses.
        handle = None if self.handle is None else format_handle(self.handle)
        return (
            f"ProcessedEvent(kind={self.kind!r}, handle={handle}, reason={self.reason!r}, "
            f"action={self.action!r}, result={self.result!r}, size={self.size!r})"
        )
