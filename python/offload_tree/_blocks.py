"""Block lists as users see them: ``BlockList`` and its ``Block`` objects.

A block list arrives from an engine as NumPy arrays (docs/DESIGN.md §7); ``BlockList``
keeps them and materialises ``Block`` objects only when asked, so that offloading a million
connections does not build a million Python objects nobody looks at.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast, overload

import numpy as np
import numpy.typing as npt

from ._coerce import as_handle, format_handle
from ._engine import BlockArrays, HandleArray
from ._enums import Layer, Status
from ._errors import InvalidHandleError
from ._text import LAYER_NAMES, PRINT_LIMIT, STATUS_NAMES, blocks_text, bounded_text

__all__ = ["NO_STATUS", "Block", "BlockList", "readonly"]

#: The status code engines use for "no status yet" (a block list not sent to the target).
NO_STATUS = 255


def readonly(array: np.ndarray) -> np.ndarray:
    """``array``, marked read-only: results own their data."""
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
    block); :meth:`post_order` gives dependents first. ``str()`` draws the tree as text, up
    to ``PRINT_LIMIT`` (20) blocks; :meth:`to_text` draws all of them.
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

    def __init__(self, arrays: BlockArrays) -> None:
        """Wrap an engine's block-list arrays (six, or seven with statuses)."""
        layers, handles, depths, referenced, nxt, dependent = arrays[:6]
        self._layers = readonly(np.asarray(layers, dtype=np.uint8))
        self._handles = readonly(np.asarray(handles, dtype=np.uint64))
        self._depths = readonly(np.asarray(depths, dtype=np.uint8))
        self._referenced = readonly(np.asarray(referenced, dtype=np.bool_))
        self._next = np.asarray(nxt, dtype=np.int64)
        self._dependent = np.asarray(dependent, dtype=np.int64)
        self._statuses = (
            readonly(np.asarray(arrays[6], dtype=np.uint8)) if len(arrays) > 6 else None
        )
        self._blocks: list[Block] | None = None
        self._index: dict[int, int] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the arrays: a block list is plain data on both backends."""
        arrays: list[np.ndarray] = [self._layers, self._handles, self._depths, self._referenced]
        arrays += [self._next, self._dependent]
        if self._statuses is not None:
            arrays.append(self._statuses)
        return (BlockList, (tuple(arrays),))

    # -- arrays
    def to_dict(self) -> dict[str, npt.NDArray[Any]]:
        """The block list as columns in block-list order: ``layer``, ``handle``, ``depth``,
        ``referenced``, ``next`` and ``dependent`` (positions, -1 for none) and, for an
        offload's result, ``status``. pandas, polars and pyarrow take the dict as it is."""
        columns = {
            "layer": self._layers,
            "handle": self._handles,
            "depth": self._depths,
            "referenced": self._referenced,
            "next": readonly(self._next),
            "dependent": readonly(self._dependent),
        }
        if self._statuses is not None:
            columns["status"] = self._statuses
        return columns

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
            self._blocks = cast(list[Block], blocks)  # every slot is filled by now
        return self._blocks

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

    def __contains__(self, item: object) -> bool:
        """True for a handle with a block in the list, and for one of the list's blocks (what
        iteration yields), so ``all(b in bl for b in bl)``."""
        if isinstance(item, Block):
            at = self._positions().get(item.handle)
            return at is not None and self._materialise()[at] == item
        try:
            return as_handle(item) in self._positions()
        except InvalidHandleError:
            return False

    def _positions(self) -> dict[int, int]:
        if self._index is None:
            handles = self._handles.tolist()
            self._index = dict(zip(handles, range(len(handles)), strict=True))
        return self._index

    def position(self, h: int) -> int:
        """The index of the block of handle ``h``; ``InvalidHandleError`` if it has none."""
        handle = as_handle(h)  # a value that is no handle at all is named as such
        try:
            return self._positions()[handle]
        except KeyError:
            raise InvalidHandleError(
                f"handle {format_handle(handle)} is not in this block list"
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

    def _lines(self, start: int, stop: int) -> list[str]:
        """The lines of :meth:`to_text` for blocks ``start`` to ``stop - 1``, written from
        slices of the arrays (as :meth:`Block.describe` would, without making the blocks)."""
        layers = self._layers[start:stop].tolist()
        handles = self._handles[start:stop].tolist()
        depths = self._depths[start:stop].tolist()
        referenced = self._referenced[start:stop].tolist()
        n = len(handles)
        codes = [NO_STATUS] * n if self._statuses is None else self._statuses[start:stop].tolist()
        lines = []
        for i in range(n):
            mark = "ref" if referenced[i] else "new"
            line = f"{LAYER_NAMES[layers[i]]} {format_handle(handles[i])} [{mark}]"
            if codes[i] != NO_STATUS:
                line = f"{line} {STATUS_NAMES[codes[i]]}"
            lines.append("  " * depths[i] + line)
        return lines

    def to_text(self) -> str:
        """Every block as indented text, one line per block in block-list order, two
        spaces per level: its layer, its handle, ``[new]`` or ``[ref]`` (referenced) and,
        once the target has processed the list, its status, e.g.
        ``  PATH 0x0001400000000000 [new] SUCCESS``. ``str()`` writes the first
        ``PRINT_LIMIT`` blocks only."""
        return "\n".join(self._lines(0, len(self)))

    def render(self) -> str:
        """The same as :meth:`to_text` (the name it had first)."""
        return self.to_text()

    def to_dot(self, *, max_objects: int = 2000) -> str:
        """The block list as Graphviz DOT text, as it is conveyed: a node per block (layer,
        handle, new state or referenced, the status when the target has written one), solid
        ``dependent`` edges (DependentBlockList) one layer up and dashed ``next`` edges
        (NextBlock) between siblings; referenced blocks have a dashed border. A legend
        explains the styles. More than ``max_objects`` blocks: one summary node instead."""
        # Imported here: _draw imports this module.
        from ._draw import block_list_dot

        return block_list_dot(self, max_objects=max_objects)

    def _repr_svg_(self) -> str | None:
        """The drawing (:meth:`to_dot`) as SVG for notebooks, when the ``graphviz`` package
        and the ``dot`` program are installed; None otherwise (IPython shows the repr)."""
        from ._draw import repr_svg

        return repr_svg(self.to_dot)

    def __str__(self) -> str:
        """:meth:`to_text` for a list of up to ``PRINT_LIMIT`` blocks; a longer one is the
        repr, the first ``PRINT_LIMIT`` blocks and a line counting the others."""
        if not len(self):
            return repr(self)  # an empty list still says what it is
        if len(self) <= PRINT_LIMIT:
            return self.to_text()
        return bounded_text(repr(self), self._lines, len(self), "block", "to_text()")

    def __repr__(self) -> str:
        # From the arrays: a Block per block would make this O(n) Python objects.
        where = ""
        if len(self):
            root = f"{LAYER_NAMES[int(self._layers[0])]} {format_handle(int(self._handles[0]))}"
            where = f", root {root}"
        return f"<BlockList of {blocks_text(self._layers, self._referenced)}{where}>"
