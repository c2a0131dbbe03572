"""The public result classes: block lists and the results of the operations.

They wrap what an engine returns (NumPy arrays for block lists, an ``Outcome`` object for
terminate and query) and materialise Python objects only when asked, so that offloading a
million connections does not build a million ``Block`` objects nobody looks at.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, overload

import numpy as np
import numpy.typing as npt

from ._enums import EventKind, Layer, Status, UploadReason
from ._errors import InvalidHandleError
from ._handles import as_handle, format_handle

__all__ = [
    "NO_STATUS",
    "Block",
    "BlockList",
    "OffloadResult",
    "Outcome",
    "ProcessedEvent",
    "QueryResult",
    "TerminateResult",
]

#: The status code engines use for "no status yet" (a block list not sent to the target).
NO_STATUS = 255

HandleArray = npt.NDArray[np.uint64]


class Outcome(Protocol):
    """What an engine returns from terminate and query (DESIGN.md section 10)."""

    handles: HandleArray
    total_received: int

    def __len__(self) -> int:
        """The number of objects."""
        ...

    def delegated_at(self, i: int) -> dict[str, int]:
        """The delegated state of the i-th object."""
        ...

    def received_at(self, i: int) -> bytes:
        """The receive data returned for the i-th object (b"" if none)."""
        ...


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


# --- block lists --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Block:
    """One block of a block list (NDIS_MINIPORT_OFFLOAD_BLOCK_LIST).

    ``next`` is the next block of the same layer under the same parent (the horizontal
    link); ``dependent`` the first block of the layer above that depends on this one (the
    vertical link). ``referenced`` blocks name state already offloaded; the others carry new
    state. ``status`` is None until the target has processed the list.
    """

    index: int
    layer: Layer
    handle: int
    depth: int
    referenced: bool
    status: Status | None
    next: Block | None
    dependent: Block | None

    @property
    def new(self) -> bool:
        """True when the block carries new state to offload (not a reference)."""
        return not self.referenced

    def _key(self) -> tuple[object, ...]:
        # Linked blocks are compared by handle: comparing them as objects would recurse
        # along sibling chains as long as the list.
        nxt = self.next.handle if self.next is not None else None
        dep = self.dependent.handle if self.dependent is not None else None
        return (self.layer, self.handle, self.depth, self.referenced, self.status, nxt, dep)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Block):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        status = "None" if self.status is None else self.status.name
        return (
            f"Block(layer={self.layer.name}, handle={format_handle(self.handle)}, "
            f"depth={self.depth}, referenced={self.referenced}, status={status})"
        )

    def describe(self) -> str:
        """One line: layer, handle, ``[new]`` or ``[ref]``, and the status if any."""
        mark = "ref" if self.referenced else "new"
        text = f"{self.layer.name} {format_handle(self.handle)} [{mark}]"
        return text if self.status is None else f"{text} {self.status.name}"


class BlockList:
    """A block list: the tree of blocks an offload request conveys, in pre-order.

    Iterating yields the blocks in block-list order (a block, its dependents, then its next
    block); :meth:`post_order` gives dependents first. ``str()`` draws the tree.
    """

    __slots__ = (
        "_blocks",
        "_dependent",
        "_depths",
        "_handles",
        "_index",
        "_layers",
        "_next",
        "_referenced",
        "_statuses",
    )

    def __init__(self, arrays: tuple[np.ndarray, ...]) -> None:
        """Wrap an engine's block-list arrays (six, or seven with statuses)."""
        layers, handles, depths, referenced, nxt, dependent = arrays[:6]
        self._layers = _readonly(np.asarray(layers, dtype=np.uint8))
        self._handles = _readonly(np.asarray(handles, dtype=np.uint64))
        self._depths = _readonly(np.asarray(depths, dtype=np.uint8))
        self._referenced = _readonly(np.asarray(referenced, dtype=np.bool_))
        self._next = np.asarray(nxt, dtype=np.int64)
        self._dependent = np.asarray(dependent, dtype=np.int64)
        self._statuses = (
            _readonly(np.asarray(arrays[6], dtype=np.uint8)) if len(arrays) > 6 else None
        )
        self._blocks: list[Block] | None = None
        self._index: dict[int, int] | None = None

    # -- arrays
    @property
    def handles(self) -> HandleArray:
        """The handles of the blocks in block-list order (read-only ``uint64`` array)."""
        return self._handles

    @property
    def layers(self) -> npt.NDArray[np.uint8]:
        """The layer of every block in block-list order (read-only ``uint8`` array)."""
        return self._layers

    @property
    def referenced(self) -> npt.NDArray[np.bool_]:
        """Whether each block references state already offloaded (read-only bool array)."""
        return self._referenced

    @property
    def statuses(self) -> npt.NDArray[np.uint8] | None:
        """Status codes in block-list order (255 = none), or None for an unsent list."""
        return self._statuses

    # -- blocks
    def _materialise(self) -> list[Block]:
        if self._blocks is None:
            n = len(self._handles)
            layers = self._layers.tolist()
            handles = self._handles.tolist()
            depths = self._depths.tolist()
            referenced = self._referenced.tolist()
            nxt = self._next.tolist()
            dependent = self._dependent.tolist()
            statuses = self._statuses.tolist() if self._statuses is not None else [NO_STATUS] * n
            blocks: list[Block | None] = [None] * n
            # Links always point forward in pre-order, so building from the end lets every
            # block be created with its links already made (blocks are immutable).
            for i in range(n - 1, -1, -1):
                s = statuses[i]
                blocks[i] = Block(
                    index=i,
                    layer=Layer(layers[i]),
                    handle=handles[i],
                    depth=depths[i],
                    referenced=referenced[i],
                    status=None if s == NO_STATUS else Status(s),
                    next=blocks[nxt[i]] if nxt[i] >= 0 else None,
                    dependent=blocks[dependent[i]] if dependent[i] >= 0 else None,
                )
            self._blocks = blocks  # type: ignore[assignment]
        return self._blocks  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self._handles)

    def __iter__(self) -> Iterator[Block]:
        return iter(self._materialise())

    @overload
    def __getitem__(self, i: int) -> Block: ...
    @overload
    def __getitem__(self, i: slice) -> list[Block]: ...
    def __getitem__(self, i: int | slice) -> Block | list[Block]:
        return self._materialise()[i]

    def __contains__(self, h: object) -> bool:
        try:
            return as_handle(h) in self._positions()
        except InvalidHandleError:
            return False

    def _positions(self) -> dict[int, int]:
        if self._index is None:
            handles = self._handles.tolist()
            self._index = dict(zip(handles, range(len(handles)), strict=True))
        return self._index

    def position(self, h: int) -> int:
        """The index of the block of handle ``h``; ``InvalidHandleError`` if it has none."""
        try:
            return self._positions()[as_handle(h)]
        except KeyError:
            raise InvalidHandleError(
                f"handle {format_handle(h)} is not in this block list"
            ) from None

    def block(self, h: int) -> Block:
        """The block of handle ``h``; ``InvalidHandleError`` if it has none."""
        return self._materialise()[self.position(h)]

    @property
    def root(self) -> Block | None:
        """The first block (the first block of the lowest layer), or None when empty."""
        return self._materialise()[0] if len(self) else None

    def post_order(self) -> list[Block]:
        """The blocks with dependents first: each block after all of its dependents."""
        blocks = self._materialise()
        out: list[Block] = []
        open_blocks: list[Block] = []  # the ancestors of the current block, deepest last
        for block in blocks:
            while open_blocks and open_blocks[-1].depth >= block.depth:
                out.append(open_blocks.pop())
            open_blocks.append(block)
        out.extend(reversed(open_blocks))
        return out

    def render(self) -> str:
        """The tree as indented text, one block per line, two spaces per level."""
        return "\n".join("  " * b.depth + b.describe() for b in self._materialise())

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        root = self.root
        where = "" if root is None else f", root {root.layer.name} {format_handle(root.handle)}"
        return f"<BlockList of {len(self)} blocks{where}>"


# --- operation results --------------------------------------------------------------------


class OffloadResult:
    """The result of ``initiate_offload``: the block list as the target returned it."""

    __slots__ = ("_blocks",)

    def __init__(self, arrays: tuple[np.ndarray, ...]) -> None:
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

    def _position(self, h: int) -> int:
        if self._index is None:
            handles = self._outcome.handles.tolist()
            self._index = dict(zip(handles, range(len(handles)), strict=True))
        try:
            return self._index[as_handle(h)]
        except KeyError:
            raise InvalidHandleError(f"handle {format_handle(h)} is not in this result") from None

    def __len__(self) -> int:
        return len(self._outcome)

    def __contains__(self, h: object) -> bool:
        try:
            self._position(h)  # type: ignore[arg-type]
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
    "reachability_confirmed" or "ignored"; ``result`` is the ``TerminateResult`` of a
    terminating action, else None.
    """

    kind: EventKind
    handle: int | None
    reason: UploadReason | None
    action: str
    result: TerminateResult | None

    @classmethod
    def from_engine(cls, event: tuple[Any, ...]) -> ProcessedEvent:
        """Build from an engine's ``(kind, handle, reason, action, outcome)`` tuple."""
        kind, handle, reason, action, outcome = event
        return cls(
            kind=EventKind(kind),
            handle=handle,
            reason=None if reason is None else UploadReason(reason),
            action=action,
            result=None if outcome is None else TerminateResult(outcome),
        )
