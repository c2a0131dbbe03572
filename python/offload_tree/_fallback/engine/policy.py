"""The host's policy at work: ``set_policy``, ``offload_policy`` and ``link_down``
(``crates/core/src/engine/policy.rs``)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..._messages import error
from ..host.policy import OffloadRule
from ..host.walk import offloaded_post_order
from ..model.fields import LAYOUTS
from ..model.handle import PATH, TCP
from .events import optional_reasons
from .terminate import upload
from .types import Outcome

if TYPE_CHECKING:
    from . import Engine

__all__ = ["link_down", "offload_policy", "set_policy"]

_DESTINATION = LAYOUTS[PATH].index("destination")  # in const
_LOCAL, _REMOTE = LAYOUTS[TCP].index("local_port"), LAYOUTS[TCP].index("remote_port")


def set_policy(
    e: Engine,
    decline: list[object],
    uploads_per_call: int | None,
    accept_indicated: bool,
    terminate_on_link_down: bool,
    rules: list[OffloadRule],
) -> None:
    """Replace the host's policy but for ``release_unreferenced`` (``Engine::set_policy``)."""
    bits = optional_reasons(decline)
    if uploads_per_call is not None and not 1 <= uploads_per_call <= 0xFFFF_FFFF:
        raise error("uploads_per_call", value=uploads_per_call)
    for i, (_, ll, lh, rl, rh, prefix) in enumerate(rules):
        bad_prefix = prefix is not None and prefix[1] > 8 * len(prefix[0])
        if ll > lh or rl > rh or bad_prefix:
            raise error("offload_rule", index=i)
    e.policy = replace(
        e.policy,
        decline=bits,
        uploads_per_call=uploads_per_call,
        accept_indicated=accept_indicated,
        terminate_on_link_down=terminate_on_link_down,
        offload_rules=tuple(rules),
    )


def offload_policy(e: Engine, handles: list[int]) -> list[bool]:
    """For each handle, whether the offload rules let it be offloaded (``offload_policy``)."""
    policy = e.policy
    if not policy.offload_rules:
        return [True] * len(handles)
    out = []
    for h in handles:
        node = e.host.find(h)
        if node is None or node.layer != TCP:
            out.append(True)
            continue
        assert node.parent is not None
        destination = node.parent.const[_DESTINATION]
        out.append(policy.offloads(node.const[_LOCAL], node.const[_REMOTE], destination))
    return out


def link_down(e: Engine) -> Outcome:
    """The link went down: by its policy the host terminates every offload, or keeps them
    (``Engine::link_down``)."""
    if not e.policy.terminate_on_link_down:
        return upload(e, [])
    roots = [nb for nb in e.host.neighbors.values() if nb.offloaded]
    return upload(e, offloaded_post_order(roots))
