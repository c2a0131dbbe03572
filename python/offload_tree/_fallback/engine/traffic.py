"""Traffic the target handles on an offloaded connection: ``target_receive`` and
``target_send`` (``crates/core/src/engine/traffic.rs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model.fields import check_range
from ..model.handle import TCP
from ..model.value import to_int
from ..target import traffic

if TYPE_CHECKING:
    from . import Engine

__all__ = ["target_receive", "target_send"]

U32 = 0xFFFF_FFFF


def target_receive(e: Engine, handle: int, data: bytes) -> None:
    """The target receives ``data`` on connection ``handle`` and buffers it until terminate."""
    e.resolve_offloaded_one(handle, TCP, "connection", "receive on it")
    traffic.receive(e.target, handle, data)


def target_send(e: Engine, handle: int, nbytes: object) -> int:
    """The target sends ``nbytes`` on connection ``handle``; the bytes sent (0 if held back)."""
    e.resolve_offloaded_one(handle, TCP, "connection", "send on it")
    n = check_range("nbytes", to_int(nbytes, "nbytes"), 0, U32)
    return traffic.send(e.target, handle, n)
