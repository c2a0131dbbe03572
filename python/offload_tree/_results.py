"""The results of the operations: ``OffloadResult``, ``TerminateResult``, ``QueryResult``
and ``ProcessedEvent``.

They wrap what an engine returns (block-list arrays, an ``Outcome``: ``_engine.Outcome``)
and materialise Python objects only when asked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ._blocks import NO_STATUS, BlockList
from ._coerce import as_handle, format_handle
from ._engine import BlockArrays, HandleArray, Outcome, ProcessedTuple
from ._enums import EventKind, Status, UploadReason
from ._errors import InvalidHandleError

__all__ = [
    "OffloadResult",
    "ProcessedEvent",
    "QueryResult",
    "TerminateResult",
]


# --- operation results --------------------------------------------------------------------


class OffloadResult:
    """The result of ``initiate_offload``: the block list as the target returned it."""

    __slots__ = ("_blocks",)

    def __init__(self, arrays: BlockArrays) -> None:
        """Wrap an engine's seven block-list arrays (the last one the statuses)."""
        self._blocks = BlockList(arrays)

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
        """Handles of the blocks that carried new state and are now offloaded (block order)."""
        codes = self._codes()
        mask = (codes <= Status.PARTIAL_SUCCESS) & ~self._blocks.referenced
        return self._blocks.handles[mask]

    @property
    def failed(self) -> HandleArray:
        """Handles of the blocks with a failure status (block order), referenced ones too."""
        codes = self._codes()
        failed: HandleArray = self._blocks.handles[(codes >= Status.FAILURE) & (codes != NO_STATUS)]
        return failed

    @property
    def ok(self) -> bool:
        """True when no block failed."""
        codes = self._codes()
        return not bool(((codes >= Status.FAILURE) & (codes != NO_STATUS)).any())

    def __bool__(self) -> bool:
        """``if tree.initiate_offload(...):`` reads as "it all went through": same as ``ok``."""
        return self.ok

    def __len__(self) -> int:
        """Number of blocks in the processed block list."""
        return len(self._blocks)

    def __str__(self) -> str:
        return self._blocks.render()

    def __repr__(self) -> str:
        return (
            f"<OffloadResult {len(self)} blocks, {len(self.succeeded)} offloaded, "
            f"{len(self.failed)} failed>"
        )


class _OutcomeResult:
    """Shared lookup of a terminate or query outcome by handle."""

    __slots__ = ("_index", "_outcome")

    def __init__(self, outcome: Outcome) -> None:
        self._outcome = outcome
        self._index: dict[int, int] | None = None

    def _position(self, h: object) -> int:
        if self._index is None:
            handles = self._outcome.handles.tolist()
            self._index = dict(zip(handles, range(len(handles)), strict=True))
        key = as_handle(h)
        try:
            return self._index[key]
        except KeyError:
            raise InvalidHandleError(f"handle {format_handle(key)} is not in this result") from None

    def __len__(self) -> int:
        return len(self._outcome)

    def __contains__(self, h: object) -> bool:
        try:
            self._position(h)
        except InvalidHandleError:
            return False
        return True

    def __iter__(self) -> Iterator[int]:
        return iter(self._outcome.handles.tolist())

    def delegated(self, h: int) -> dict[str, int]:
        """The delegated state of ``h`` (a neighbor: its reachability delta; a path: {})."""
        return self._outcome.delegated_at(self._position(h))


class TerminateResult(_OutcomeResult):
    """The result of ``terminate``: what the target handed back for every uploaded object."""

    __slots__ = ()

    @property
    def terminated(self) -> HandleArray:
        """The uploaded handles, in upload order (dependents before what they depend on)."""
        return self._outcome.handles

    def received_data(self, h: int) -> bytes:
        """The receive data the target buffered for ``h`` and had not delivered (b"" if none)."""
        return self._outcome.received_at(self._position(h))

    @property
    def total_received(self) -> int:
        """The number of buffered receive bytes returned, over all objects."""
        return self._outcome.total_received

    def __repr__(self) -> str:
        return f"<TerminateResult {len(self)} objects, {self.total_received} bytes returned>"


class QueryResult(_OutcomeResult):
    """The result of ``query``: the target's live delegated state of each object."""

    __slots__ = ()

    @property
    def handles(self) -> HandleArray:
        """The queried handles, in request order."""
        return self._outcome.handles

    def __repr__(self) -> str:
        return f"<QueryResult {len(self)} objects>"


@dataclass(frozen=True, slots=True)
class ProcessedEvent:
    """One target-initiated event and what the host did about it.

    ``action`` is one of "terminated", "terminated_all", "resumed",
    "reachability_confirmed", "ignored" or "declined" (an optional upload request the host's
    policy declined); ``result`` is the ``TerminateResult`` of a terminating action, else
    None.
    """

    kind: EventKind
    handle: int | None
    reason: UploadReason | None
    action: str
    result: TerminateResult | None

    @classmethod
    def from_engine(cls, event: ProcessedTuple) -> ProcessedEvent:
        """Build from an engine's ``(kind, handle, reason, action, outcome)`` tuple."""
        kind, handle, reason, action, outcome = event
        return cls(
            kind=EventKind(kind),
            handle=handle,
            reason=None if reason is None else UploadReason(reason),
            action=action,
            result=None if outcome is None else TerminateResult(outcome),
        )
