"""``target_inject_fault``: aim a one-shot failure at the next time an operation reaches an
object (``crates/core/src/engine/faults.rs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._enums import Operation, Status
from ..._messages import error
from ..model.value import to_int
from ..target.admission import inject_fault

if TYPE_CHECKING:
    from . import Engine

__all__ = ["target_inject_fault"]


def target_inject_fault(e: Engine, handle: int, status: object, operation: object) -> None:
    """The next ``operation`` (an ``Operation`` code) that reaches ``handle`` fails with
    ``status``: any failure a target can report for an offload, FAILURE for the others."""
    node = e.host.resolve(handle)
    code = to_int(operation, "operation")
    if code not in range(len(Operation)):
        raise error("not_an_operation", value=code)
    op = Operation(code)
    code = to_int(status, "status")
    known = code in range(len(Status))
    if not (known and op.can_fail_with(code)):
        if op is Operation.INITIATE_OFFLOAD:
            raise error("not_a_fault_status", value=code)
        # Only an offload takes the detailed failures: say so for the other operations.
        got = Status(code).name if known else str(code)
        raise error("not_a_completion_status", status=got, operation=op.name)
    inject_fault(e.target, node.handle, op, code)
