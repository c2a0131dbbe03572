"""``target_inject_fault``: aim a one-shot failure at an object's next offload attempt
(``crates/core/src/engine/faults.rs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._enums import Status
from ..._messages import error
from ..model.value import to_int
from ..target.admission import inject_fault

if TYPE_CHECKING:
    from . import Engine

__all__ = ["target_inject_fault"]

#: The failures a target can report by itself: FAILURE..CONNECTION_REJECTED.
_INJECTABLE = range(Status.FAILURE, Status.CONNECTION_REJECTED + 1)


def target_inject_fault(e: Engine, handle: int, status: object) -> None:
    """The next offload attempt of ``handle`` fails with ``status``."""
    node = e.host.resolve(handle)
    code = to_int(status, "status")
    if code not in _INJECTABLE:
        raise error("not_a_fault_status", value=code)
    inject_fault(e.target, node.handle, code)
