"""``query``: read the target's live delegated state of offloaded objects; a query that
finds an object's hardware state corrupt completes with FAILURE for it, and the host
terminates what it could not query (``crates/core/src/engine/query.rs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._enums import Operation, Status
from ..host.tree import Node
from ..host.walk import offloaded_post_order
from ..target.admission import corrupt, take_fault
from .terminate import upload
from .types import Outcome

if TYPE_CHECKING:
    from . import Engine

__all__ = ["query"]


def query(e: Engine, handles: list[int]) -> tuple[Outcome, Outcome]:
    """The live delegated state of ``handles`` (duplicates dropped), in request order, with a
    status each; and what the host terminated because a query failed."""
    nodes = e.resolve_offloaded(handles, "query it")
    outcome = Outcome()
    failed: list[Node] = []
    for node in nodes:
        if take_fault(e.target, Operation.QUERY, node.handle) is not None:
            # The state is corrupt: the upload that follows fails as well.
            corrupt(e.target, node.handle)
            outcome.push(node.handle, node.layer, node.delegated, status=Status.FAILURE)
            failed.append(node)
            continue
        outcome.push(node.handle, node.layer, e.target.delegated_of(node.handle))
    counter = e.counts.query
    counter.requested += len(nodes)
    counter.succeeded += len(nodes) - len(failed)
    counter.fail(Status.FAILURE, len(failed))
    terminated = upload(e, offloaded_post_order(failed)) if failed else Outcome()
    return outcome, terminated
