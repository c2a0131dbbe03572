"""Whether the target takes an object it is asked to offload: an injected fault, the layer's
capacity, the MTU and receive-window limits, then a random fault, in that order
(docs/DESIGN.md §8; ``crates/core/src/target/admission.rs``).
"""

from __future__ import annotations

from ..._enums import Operation, Status
from ..host.tree import Node
from ..model.fields import INITIAL_RCV_WND, PATH_MTU
from ..model.handle import PATH, TCP
from . import Target
from .rng import unit_float

__all__ = [
    "AdmissionState",
    "admission_state",
    "admit",
    "corrupt",
    "forget_fault",
    "inject_fault",
    "restore_admission_state",
    "take_corruption",
    "take_fault",
]

_ENTRIES_STATUS = (
    Status.NEIGHBOR_ENTRIES.value,
    Status.PATH_ENTRIES.value,
    Status.TCP_ENTRIES.value,
)

#: What an admission may consume for one object: the generator's state and its fault.
AdmissionState = tuple[int, int | None]


def admit(target: Target, node: Node) -> int | None:
    """The status of an offload attempt that fails, or None if the target takes ``node``."""
    fault = take_fault(target, Operation.INITIATE_OFFLOAD, node.handle)
    if fault is not None:
        return fault
    layer = node.layer
    config = target.config
    capacity = config.capacity(layer)
    if capacity is not None and target.offloaded(layer) >= capacity:
        return _ENTRIES_STATUS[layer]
    if (
        layer == PATH
        and config.max_path_mtu is not None
        and node.cached[PATH_MTU] > config.max_path_mtu
    ):
        return Status.PATH_MTU.value
    if (
        layer == TCP
        and config.max_rcv_window is not None
        and node.cached[INITIAL_RCV_WND] > config.max_rcv_window
    ):
        return Status.TCP_RCV_WINDOW.value
    if config.fail_rate > 0.0:
        x = target.rng.next_u64()
        if unit_float(x) < config.fail_rate:
            return Status.FAILURE.value if x & 1 == 0 else Status.RESOURCES.value
    return None


def admission_state(target: Target, handle: int) -> AdmissionState:
    """What :func:`admit` may consume for ``handle``, so that a caller that must fail
    atomically (relink) can put it back."""
    return target.rng.state, target.faults.get((Operation.INITIATE_OFFLOAD, handle))


def restore_admission_state(target: Target, handle: int, saved: AdmissionState) -> None:
    """Put back the generator and the fault saved by :func:`admission_state`."""
    target.rng.state, fault = saved
    if fault is not None:
        target.faults[(Operation.INITIATE_OFFLOAD, handle)] = fault


def inject_fault(target: Target, handle: int, operation: int, status: int) -> None:
    """Aim a one-shot failure at the next ``operation`` on ``handle``."""
    target.faults[(operation, handle)] = status


def take_fault(target: Target, operation: int, handle: int) -> int | None:
    """Fire the fault aimed at ``operation`` on ``handle``, if any: it is one-shot."""
    if not target.faults:
        return None
    return target.faults.pop((operation, handle), None)


def corrupt(target: Target, handle: int) -> None:
    """Mark ``handle``'s hardware state corrupt: its upload will complete with FAILURE."""
    target.corrupt.add(handle)


def take_corruption(target: Target, handle: int) -> bool:
    """Whether ``handle`` is corrupt: a terminate fault aimed at it, or corruption a query
    or an invalidate found. Either is consumed: the upload that asks is the last use."""
    fault = take_fault(target, Operation.TERMINATE, handle) is not None
    found = handle in target.corrupt
    target.corrupt.discard(handle)
    return fault or found


def forget_fault(target: Target, handle: int) -> None:
    """Drop the faults aimed at ``handle``, if any (the object was removed)."""
    if target.faults:
        for operation in Operation:
            target.faults.pop((operation, handle), None)
