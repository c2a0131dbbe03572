"""What the host stack decides on its own, beyond what the caller asks for: the choices the
NDIS pages leave to the host (``crates/core/src/host/policy.rs``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..._engine import OffloadRule

__all__ = ["HostPolicy", "OffloadRule"]


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """The host's policy for one tree.

    ``release_unreferenced``: terminate an offloaded path or neighbor as soon as no offloaded
    object depends on it any more (its reference count is zero), as the NDIS host stack does
    (NDIS "Terminate Offload Initiated by the Host Stack"). ``False`` keeps shared state
    offloaded until the caller terminates it. Fixed for the life of a tree.

    ``decline``: the optional upload reasons declined, as bits by reason code;
    ``uploads_per_call``: at most this many uploads for upload requests per
    ``process_events`` (None: no limit); ``accept_indicated``: the host takes indicated
    receive data; ``terminate_on_link_down``: a link down terminates every offload;
    ``offload_rules``: the first rule matching a connection decides whether it is offloaded.
    """

    release_unreferenced: bool = True
    decline: int = 0
    uploads_per_call: int | None = None
    accept_indicated: bool = False
    terminate_on_link_down: bool = True
    offload_rules: tuple[OffloadRule, ...] = ()

    def declines(self, reason: int) -> bool:
        """Whether the host declines upload requests for ``reason``."""
        return bool(self.decline >> reason & 1)

    def offloads(self, local_port: int, remote_port: int, destination: bytes) -> bool:
        """Whether the host offloads such a connection (``HostPolicy::offloads``)."""
        for offload, ll, lh, rl, rh, prefix in self.offload_rules:
            if not (ll <= local_port <= lh and rl <= remote_port <= rh):
                continue
            if prefix is not None and not _in_prefix(destination, *prefix):
                continue
            return offload
        return True


def _in_prefix(address: bytes, network: bytes, prefix: int) -> bool:
    """Whether packed ``address`` is in ``network``/``prefix`` (never across families)."""
    if len(address) != len(network):
        return False
    bits = 8 * len(address)
    shift = bits - min(prefix, bits)
    a = int(ipaddress.ip_address(address))
    n = int(ipaddress.ip_address(network))
    return a >> shift == n >> shift
