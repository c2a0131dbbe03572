"""Block lists (docs/DESIGN.md §7; ``crates/core/src/host/blocks.rs``): building one from
requested objects, and settling its statuses once the target has processed it.

A request names objects; the block list adds what they depend on: not-offloaded ancestors
as new state, the first offloaded ancestor as a reference. The blocks form a forest in
order of first mention, emitted in pre-order with next (sibling) and dependent (first
child) links given as indices into the emitted order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..._engine import BlockArrays
from ..._enums import Status
from .tree import Node

__all__ = ["NO_LINK", "NO_STATUS", "BlockList", "build", "settle"]

NO_LINK = -1
#: "No status yet" in a block list that was only built, not processed.
NO_STATUS = 255
SUCCESS = Status.SUCCESS.value
PARTIAL_SUCCESS = Status.PARTIAL_SUCCESS.value
FAILURE = Status.FAILURE.value


@dataclass(slots=True)
class BlockList:
    """A block list as parallel lists in pre-order.

    ``parents`` is the index of each block's parent block (-1 for a root); it is not part
    of the engine output but lets the target find "the parent block failed" in O(1).
    ``statuses`` is empty until the list is processed.
    """

    nodes: list[Node] = field(default_factory=list)
    depths: list[int] = field(default_factory=list)
    referenced: list[bool] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    next: list[int] = field(default_factory=list)
    dependent: list[int] = field(default_factory=list)
    statuses: list[int] | None = None

    def __len__(self) -> int:
        return len(self.nodes)

    def arrays(self) -> BlockArrays:
        """The engine output (docs/DESIGN.md §7): six arrays, seven once processed."""
        out = (
            np.array([node.layer for node in self.nodes], dtype=np.uint8),
            np.array([node.handle for node in self.nodes], dtype=np.uint64),
            np.array(self.depths, dtype=np.uint8),
            np.array(self.referenced, dtype=np.bool_),
            np.array(self.next, dtype=np.int64),
            np.array(self.dependent, dtype=np.int64),
        )
        if self.statuses is not None:
            return (*out, np.array(self.statuses, dtype=np.uint8))
        return out


def _chain(node: Node) -> list[Node]:
    """``node`` and its ancestors downward while not offloaded; the first offloaded one
    ends the chain (an offloaded ``node`` is a chain of one)."""
    chain = [node]
    while not node.offloaded and node.parent is not None:
        node = node.parent
        chain.append(node)
    return chain


def settle(blocks: BlockList, failed: list[bool]) -> None:
    """After processing: every block that did not fail becomes SUCCESS, or PARTIAL_SUCCESS
    when one of its immediate dependents failed (docs/NDIS.md, "Initiate offload: per-block
    status"); a referenced block (a linker) whose every dependent failed gets FAILURE
    (NDIS "Placeholders, Linkers, and New Offloads"). ``blocks.statuses`` holds the failures
    already; ``failed`` says which blocks they are, and is updated."""
    statuses = blocks.statuses
    assert statuses is not None
    n = len(blocks)
    dependents = [0] * n
    failed_dependents = [0] * n
    # Backwards: every block's dependents are settled before it.
    for i in range(n - 1, -1, -1):
        if not failed[i]:
            if failed_dependents[i] == 0:
                statuses[i] = SUCCESS
            elif blocks.referenced[i] and failed_dependents[i] == dependents[i]:
                statuses[i] = FAILURE
                failed[i] = True
            else:
                statuses[i] = PARTIAL_SUCCESS
        parent = blocks.parents[i]
        if parent >= 0:
            dependents[parent] += 1
            failed_dependents[parent] += failed[i]


def build(requested: list[Node]) -> BlockList:
    """The block list of ``requested`` objects (resolved; duplicates are dropped, the first
    mention kept)."""
    blocks = BlockList()
    if not requested:
        return blocks
    requested = list({node.handle: node for node in requested}.values())
    # 1-2. Chains, each extended down to the lowest layer among them (ancestors of an
    # offloaded object are offloaded, so the extension is referenced blocks only).
    chains = [_chain(node) for node in requested]
    low = min(chain[-1].layer for chain in chains)
    for chain in chains:
        while chain[-1].layer > low:
            parent = chain[-1].parent
            assert parent is not None
            chain.append(parent)

    # 3. The forest in order of first mention, each chain read from its bottom up.
    roots: list[Node] = []
    children: dict[int, list[Node]] = {}
    seen: set[int] = set()
    for chain in chains:
        below: Node | None = None
        for node in reversed(chain):
            if node.handle not in seen:
                seen.add(node.handle)
                if below is None:
                    roots.append(node)
                else:
                    children.setdefault(below.handle, []).append(node)
            below = node

    # 4. Pre-order emission with an explicit stack. Siblings are emitted in order, so the
    # last emitted child of a parent is the block whose next link the new child fills.
    last_child: dict[int, int] = {}  # parent index (-1: the roots) -> last child index
    stack: list[tuple[Node, int]] = [(root, NO_LINK) for root in reversed(roots)]
    while stack:
        node, parent_index = stack.pop()
        index = len(blocks.nodes)
        blocks.nodes.append(node)
        blocks.depths.append(node.layer - low)
        blocks.referenced.append(node.offloaded)
        blocks.parents.append(parent_index)
        blocks.next.append(NO_LINK)
        blocks.dependent.append(NO_LINK)
        previous = last_child.get(parent_index)
        if previous is not None:
            blocks.next[previous] = index
        elif parent_index != NO_LINK:
            blocks.dependent[parent_index] = index
        last_child[parent_index] = index
        kids = children.get(node.handle)
        if kids:
            stack.extend((kid, index) for kid in reversed(kids))
    return blocks
