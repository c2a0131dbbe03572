"""What the host stack decides on its own, beyond what the caller asks for
(``crates/core/src/host/policy.rs``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HostPolicy"]


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """The host's policy for one tree.

    ``release_unreferenced``: terminate an offloaded path or neighbor as soon as no offloaded
    object depends on it any more (its reference count is zero), as the NDIS host stack does
    (terminate-offload-initiated-by-the-host-stack.md). ``False`` keeps shared state
    offloaded until the caller terminates it.
    """

    release_unreferenced: bool = True
