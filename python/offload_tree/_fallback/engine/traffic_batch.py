"""Batch forms of the data-path calls: arrays of connections, and of lengths or sizes, in
one call each (``crates/core/src/engine/traffic_batch.rs``).

Each batch checks every item first, names the first that fails and then changes nothing;
once all pass it applies them in order, as the single calls one after another would. A
batch of acknowledgements covers at most the bytes in flight when it starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from ..._coerce import check_length
from ..._errors import OffloadTreeError
from ..._messages import error
from ..host.tree import Node
from ..model.fields import check_range
from ..model.handle import TCP
from . import traffic
from .build import _at

if TYPE_CHECKING:
    from . import Engine

__all__ = [
    "check_piece",
    "pieces",
    "post_receive_many",
    "read_many",
    "send_many",
    "target_acknowledge_many",
    "target_receive_many",
]

U32 = 0xFFFF_FFFF
I64 = 2**63 - 1


def _check_each(e: Engine, handles: list[int], check: Callable[[int, int], Node]) -> list[Node]:
    """The nodes of connections ``handles``, each checked by ``check`` (given the item's
    index); the first failure names its item (``Engine::check_each``)."""
    poll, mask = e.interrupts.poll, e.interrupts.mask()
    nodes = []
    for i, handle in enumerate(handles):
        if i & mask == mask:
            poll(i)
        try:
            nodes.append(check(i, handle))
        except OffloadTreeError as exc:
            raise _at(exc, i) from None
    return nodes


def check_piece(length: int) -> None:
    """One piece's length: not negative."""
    check_range("length", length, 0, I64)


def pieces(data: bytes, lengths: list[int]) -> Iterator[bytes]:
    """``data`` cut into pieces of ``lengths``, which must add up to all of it."""
    total = sum(lengths)
    if total != len(data):
        raise error("data_length", total=total, len=len(data))
    view = memoryview(data)
    at = 0
    for n in lengths:
        yield bytes(view[at : at + n])
        at += n


def _check_pieces(
    e: Engine,
    handles: list[int],
    data: bytes,
    lengths: list[int],
    check: Callable[[int], Node],
) -> tuple[list[Node], list[bytes]]:
    """The checks of a batch that cuts ``data`` into pieces of ``lengths``, one per handle:
    ``check`` on each and each length not negative, item by item, then the lengths adding
    up to ``data``. The nodes and the pieces (``Engine::check_pieces``)."""
    check_length("lengths", len(lengths), len(handles))

    def each(i: int, handle: int) -> Node:
        node = check(handle)
        check_piece(lengths[i])
        return node

    nodes = _check_each(e, handles, each)
    return nodes, list(pieces(data, lengths))


def send_many(e: Engine, handles: list[int], data: bytes, lengths: list[int]) -> list[int]:
    """``send`` of each piece of ``data`` on its connection; the bytes each transmitted."""
    nodes, cut = _check_pieces(e, handles, data, lengths, lambda h: traffic.check_send(e, h))
    return [traffic.apply_send(e, node, piece) for node, piece in zip(nodes, cut, strict=True)]


def target_receive_many(
    e: Engine, handles: list[int], data: bytes, lengths: list[int]
) -> list[int]:
    """``target_receive`` of each piece of ``data`` on its connection; the bytes each took."""

    def receive_on(handle: int) -> Node:
        return e.resolve_offloaded_one(handle, TCP, "connection", "receive on it")

    nodes, cut = _check_pieces(e, handles, data, lengths, receive_on)
    return [traffic.apply_receive(e, node, piece) for node, piece in zip(nodes, cut, strict=True)]


def post_receive_many(
    e: Engine, handles: list[int], sizes: list[int], push: bool = False
) -> list[int]:
    """``post_receive`` of each size on its connection; the bytes each completed."""
    check_length("sizes", len(sizes), len(handles))
    checked: list[int] = []

    def check(i: int, handle: int) -> Node:
        node = e.resolve_offloaded_one(handle, TCP, "connection", "post a receive request on it")
        checked.append(traffic.check_receive_size(sizes[i]))
        return node

    nodes = _check_each(e, handles, check)
    return [
        traffic.apply_post_receive(e, node, size, push)
        for node, size in zip(nodes, checked, strict=True)
    ]


def read_many(e: Engine, handles: list[int]) -> tuple[bytes, list[int]]:
    """``read`` of each connection: all the bytes one after another, and each item's count."""

    def check(_: int, handle: int) -> Node:
        return e.host.resolve_layer(handle, TCP, "connection")

    _check_each(e, handles, check)
    parts = [traffic.take_delivered(e, handle) for handle in handles]
    return b"".join(parts), [len(part) for part in parts]


def target_acknowledge_many(
    e: Engine, handles: list[int], nbytes: list[int], windows: list[int] | None
) -> list[int]:
    """``target_acknowledge`` of each count on its connection, the items of one connection
    covering at most what it had in flight at the start; the requests each completed."""
    check_length("nbytes", len(nbytes), len(handles))
    if windows is not None:
        check_length("windows", len(windows), len(handles))
    checked: list[tuple[int, int | None]] = []
    earlier: dict[int, int] = {}

    def check(i: int, handle: int) -> Node:
        node = e.resolve_offloaded_one(handle, TCP, "connection", "acknowledge on it")
        n = check_range("nbytes", nbytes[i], 0, U32)
        window = None if windows is None else check_range("window", windows[i], 0, U32)
        before = earlier.get(handle, 0)
        traffic.check_in_flight(e, handle, n, before)
        if n:
            earlier[handle] = before + n
        checked.append((n, window))
        return node

    nodes = _check_each(e, handles, check)
    return [
        traffic.apply_acknowledge(e, node, n, window)
        for node, (n, window) in zip(nodes, checked, strict=True)
    ]
