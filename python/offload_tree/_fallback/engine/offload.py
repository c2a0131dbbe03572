"""``initiate_offload``: build the block list of the request and let the target decide
every block in block order (``crates/core/src/engine/offload.rs``).

The core decides every block first and allocates contexts afterwards in order of first
mention; this engine allocates as it decides. Context numbers are not observable, so the
results are the same (docs/DESIGN.md §11).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._coerce import check_length, format_handle
from ..._enums import Layer, Status
from ..._errors import OffloadTreeError
from ..._messages import error
from ..host.blocks import NO_STATUS, BlockList, build, settle
from ..host.tree import Node, expect_layer
from ..model.handle import TCP
from ..target.admission import admit
from ..target.traffic import fresh_receive_side, hand_over
from .terminate import release
from .types import Outcome

if TYPE_CHECKING:
    from . import Engine

__all__ = ["initiate_offload", "initiate_offload_buffered", "offload_one"]

PARTIAL_SUCCESS = Status.PARTIAL_SUCCESS.value
PAUSED = Status.PAUSED.value


def initiate_offload_buffered(
    e: Engine, handles: list[int], buffered: tuple[list[int], bytes, list[int]]
) -> tuple[BlockList, Outcome]:
    """``initiate_offload`` with the host's BufferedData of some requested connections,
    handed to each one the offload takes; every check first, so all or nothing
    (``Engine::initiate_offload_buffered``)."""
    from .build import _at
    from .traffic_batch import check_piece, pieces  # traffic_batch imports build: import late

    tcs, data, lengths = buffered
    check_length("lengths", len(lengths), len(tcs))
    wanted = set(handles)
    for i, h in enumerate(tcs):
        try:
            if h not in wanted:
                raise error("buffered_not_requested", handle=format_handle(h))
            node = e.host.resolve(h)
            expect_layer(node, TCP, "buffered data")
            check_piece(lengths[i])
        except OffloadTreeError as exc:
            raise _at(exc, i) from None
    cut = list(pieces(data, lengths))
    done = initiate_offload(e, handles)
    for h, piece in zip(tcs, cut, strict=True):
        context = e.target.contexts.get(h)
        if context is not None:  # offloaded by this call: no data and no request yet
            assert fresh_receive_side(context)
            hand_over(e.target, context, piece)
    return done


def initiate_offload(e: Engine, handles: list[int]) -> tuple[BlockList, Outcome]:
    """Offload ``handles`` with whatever they depend on; returns the processed block list,
    with the new paths and neighbors the host released again because no offloaded object
    depends on them."""
    requested, offloaded = e.resolve_expecting(handles, False, False)
    if offloaded is not None:
        raise error(
            "already_offloaded",
            layer=Layer(offloaded.layer).name,
            handle=format_handle(offloaded.handle),
        )
    blocks = build(requested)
    counter = e.counts.initiate_offload
    new_blocks = blocks.referenced.count(False)
    counter.requested += new_blocks
    if e.target.paused:
        blocks.statuses = [PAUSED] * len(blocks)  # nothing attempted, nothing changes
        counter.fail(PAUSED, new_blocks)
        return blocks, Outcome()
    _process(e, blocks)
    assert blocks.statuses is not None
    for referenced, status in zip(blocks.referenced, blocks.statuses, strict=True):
        if referenced:
            continue  # references are not offloads: not counted
        if status <= PARTIAL_SUCCESS:
            counter.succeeded += 1
        else:
            counter.fail(status)
    released = Outcome()
    if e.policy.release_unreferenced:
        candidates = [
            node
            for node, referenced, status in zip(
                blocks.nodes, blocks.referenced, blocks.statuses, strict=True
            )
            if not referenced and node.layer != TCP and status <= PARTIAL_SUCCESS
        ]
        release(e, released, candidates)
    return blocks, released


def _process(e: Engine, blocks: BlockList) -> None:
    """The target's pass over a block list in pre-order, then the settled statuses."""
    n = len(blocks)
    statuses = blocks.statuses = [NO_STATUS] * n
    failed = [False] * n
    parents = blocks.parents
    for i, node in enumerate(blocks.nodes):
        parent = parents[i]
        if parent >= 0 and failed[parent]:
            statuses[i] = statuses[parent]  # not attempted: takes the parent's status
            failed[i] = True
        elif blocks.referenced[i]:
            continue  # already offloaded: nothing to do
        else:
            status = offload_one(e, node)
            if status is not None:
                statuses[i] = status
                failed[i] = True
    settle(blocks, failed)


def offload_one(e: Engine, node: Node) -> int | None:
    """Ask the target to take ``node`` (whose parent, if any, is offloaded); None on success."""
    status = admit(e.target, node)
    if status is None:
        e.target.add(node)
        e.host.set_offloaded(node, True)
    return status
