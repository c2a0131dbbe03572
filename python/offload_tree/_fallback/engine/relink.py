"""``relink``: a path moves to another neighbor because its next hop changed; an offloaded
path takes its new neighbor along to the target (``crates/core/src/engine/relink.rs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._coerce import format_handle
from ..._enums import Status
from ..._messages import error
from ..model.handle import NEIGHBOR, PATH
from ..target.admission import admission_state, restore_admission_state
from .offload import offload_one
from .terminate import release
from .types import Outcome

if TYPE_CHECKING:
    from . import Engine

__all__ = ["relink"]


def relink(e: Engine, path_handle: int, neighbor_handle: int) -> Outcome:
    """Move a path to another neighbor, offloading the neighbor if the path is offloaded and
    the neighbor is not. A failure changes nothing, not the fault it hit nor the generator.
    Returns the old neighbor if the host released it: the path was its last reference."""
    # Both handles are checked before either layer (docs/DESIGN.md §8, check order).
    e.host.resolve(path_handle)
    e.host.resolve(neighbor_handle)
    path = e.host.resolve_layer(path_handle, PATH, "path")
    neighbor = e.host.resolve_layer(neighbor_handle, NEIGHBOR, "neighbor")
    released = Outcome()
    if path.parent is neighbor:
        return released
    if path.offloaded:
        if not neighbor.offloaded:
            saved = admission_state(e.target, neighbor.handle)
            status = Status.PAUSED.value if e.target.paused else offload_one(e, neighbor)
            if status is not None:
                restore_admission_state(e.target, neighbor.handle, saved)
                raise error(
                    "relink_failed",
                    path=format_handle(path.handle),
                    neighbor=format_handle(neighbor.handle),
                    status=Status(status).name,
                )
        e.target.relink(path.handle, neighbor.handle)
    old = e.host.relink(path, neighbor)
    if old is not None:
        release(e, released, [old])
    return released
