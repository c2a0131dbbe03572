"""``query``: read the target's live delegated state of offloaded objects, changing nothing
but the query counters (``crates/core/src/engine/query.rs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .types import Outcome

if TYPE_CHECKING:
    from . import Engine

__all__ = ["query"]


def query(e: Engine, handles: list[int]) -> Outcome:
    """The live delegated state of ``handles`` (duplicates dropped), in request order."""
    nodes = e.resolve_offloaded(handles, "query it")
    outcome = Outcome()
    for node in nodes:
        outcome.push(node.handle, node.layer, e.target.delegated_of(node.handle))
    counter = e.counts.query
    counter.requested += len(nodes)
    counter.succeeded += len(nodes)
    return outcome
