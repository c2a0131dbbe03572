"""The host's policy: what the NDIS pages leave to the host stack (docs/DESIGN.md §8, "Host
policy"). A tree takes one with ``OffloadStateTree(policy=...)`` or ``tree.policy = ...``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy.typing as npt

from ._engine import OffloadRule as RuleArgs
from ._enums import UploadReason
from ._errors import ValidationError

__all__ = ["HostPolicy", "OffloadRule", "policy_from_columns"]

_PORTS = (0, 65535)


def _port_range(name: str, value: int | tuple[int, int] | None) -> tuple[int, int]:
    """A port or an inclusive (low, high) range of ports; None: any port."""
    if value is None:
        return _PORTS
    low, high = (value, value) if isinstance(value, int) else value
    for port in (low, high):
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValidationError(f"{name} must be a port or a (low, high) range in 0..65535, "
                                  f"got {value!r}")  # fmt: skip
    if low > high:
        raise ValidationError(f"{name} runs from {low} down to {high}: give (low, high)")
    return low, high


@dataclass(frozen=True, slots=True)
class OffloadRule:
    """Offload, or keep on the host, the connections this rule matches: ports within
    ``local_ports`` and ``remote_ports`` (a port, or an inclusive ``(low, high)`` range;
    None: any) to a destination within ``destination`` (an address or a network such as
    ``"10.1.0.0/16"``; None: any). FreeBSD's TOM applies rules like these to each
    connection (t4_tom.c's offload policy)."""

    offload: bool
    local_ports: int | tuple[int, int] | None = None
    remote_ports: int | tuple[int, int] | None = None
    destination: str | None = None

    def __post_init__(self) -> None:
        """Check the rule (``ValidationError``)."""
        if not isinstance(self.offload, bool):
            raise ValidationError(f"offload must be True or False, got {self.offload!r}")
        self._args()

    def _args(self) -> RuleArgs:
        local = _port_range("local_ports", self.local_ports)
        remote = _port_range("remote_ports", self.remote_ports)
        destination = None
        if self.destination is not None:
            try:
                network = ipaddress.ip_network(self.destination, strict=False)
            except (TypeError, ValueError) as exc:
                raise ValidationError(f"destination must be an address or a network like "
                                      f"'10.1.0.0/16': {exc}") from None  # fmt: skip
            destination = (network.network_address.packed, network.prefixlen)
        return (self.offload, *local, *remote, destination)


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """What the host stack decides on its own.

    - ``decline``: the optional upload reasons whose requests ``process_events`` declines
      (the connection stays offloaded); a mandatory reason is a ``ValidationError``.
    - ``uploads_per_call``: upload storms. At most this many connections are uploaded for
      upload requests in one ``process_events``; the events after that wait, in order, for
      the next call (None: no limit). One NIC event that sends every connection back is a
      known field problem; pacing spreads it out.
    - ``accept_indicated``: whether the host takes the received data the target indicates
      when no receive request is posted, as if an application were reading: it is delivered
      (``tree.read``) instead of buffered at the target. Default False: no application
      reads, and the data waits at the target.
    - ``on_link_down``: what ``tree.link_down()`` does: ``"terminate"`` every offload
      (default) or ``"keep"`` them.
    - ``offload_rules``: which connections ``initiate_offload`` offloads. The first rule
      that matches a connection decides; one no rule matches is offloaded. The others are
      kept on the host: ``OffloadResult.declined``.

    The default policy is the behaviour without one.
    """

    decline: frozenset[UploadReason] = field(default_factory=frozenset)
    uploads_per_call: int | None = None
    accept_indicated: bool = False
    on_link_down: Literal["terminate", "keep"] = "terminate"
    offload_rules: tuple[OffloadRule, ...] = ()

    def __post_init__(self) -> None:
        """Check and normalise the policy (``ValidationError``)."""
        decline = self.decline
        if isinstance(decline, str | bytes) or not isinstance(decline, Iterable):
            raise ValidationError(f"decline must be a set of UploadReason, got {decline!r}")
        reasons = set()
        for value in decline:
            try:
                reason = UploadReason(value)
            except ValueError:
                raise ValidationError(f"{value!r} is not an UploadReason") from None
            if reason.mandatory:
                raise ValidationError(f"{reason.name} is a mandatory upload reason: the host "
                                      "always uploads the connection")  # fmt: skip
            reasons.add(reason)
        object.__setattr__(self, "decline", frozenset(reasons))
        pace = self.uploads_per_call
        if pace is not None and (
            isinstance(pace, bool) or not isinstance(pace, int) or not 1 <= pace <= 2**32 - 1
        ):
            raise ValidationError(f"uploads_per_call must be at least 1 (or None), got {pace!r}")
        if self.on_link_down not in ("terminate", "keep"):
            raise ValidationError(
                f"on_link_down must be 'terminate' or 'keep', got {self.on_link_down!r}"
            )
        if not isinstance(self.accept_indicated, bool):
            raise ValidationError(
                f"accept_indicated must be True or False, got {self.accept_indicated!r}"
            )
        rules = tuple(self.offload_rules)
        for rule in rules:
            if not isinstance(rule, OffloadRule):
                raise ValidationError(f"offload_rules holds OffloadRule objects, got {rule!r}")
        object.__setattr__(self, "offload_rules", rules)


def _ports_as_given(low: int, high: int) -> int | tuple[int, int] | None:
    """A port range in the shortest form a rule takes: None for any port, one port alone."""
    if (low, high) == _PORTS:
        return None
    return low if low == high else (low, high)


def policy_from_columns(columns: Mapping[str, npt.NDArray[Any]]) -> HostPolicy:
    """The policy a snapshot holds (its ``policy`` and ``rule.*`` columns, docs/DESIGN.md
    §12), which the engine restored from it has already checked."""
    values = [int(v) for v in columns["policy"]]
    rules = []
    locals_, remotes = columns["rule.local_ports"], columns["rule.remote_ports"]
    for i, offload in enumerate(columns["rule.offload"]):
        destination = None
        family = int(columns["rule.family"][i])
        if family:
            octets = bytes(columns["rule.destination"][16 * i : 16 * i + 16])
            address = ipaddress.ip_address(octets[:4] if family == 4 else octets)
            prefix = int(columns["rule.prefix"][i])
            destination = str(address) if prefix == address.max_prefixlen else f"{address}/{prefix}"
        rules.append(OffloadRule(
            offload=bool(offload),
            local_ports=_ports_as_given(int(locals_[2 * i]), int(locals_[2 * i + 1])),
            remote_ports=_ports_as_given(int(remotes[2 * i]), int(remotes[2 * i + 1])),
            destination=destination,
        ))  # fmt: skip
    per_call = None if values[2] == 2**64 - 1 else values[2]
    return HostPolicy(
        decline=frozenset(UploadReason(bit) for bit in range(16) if values[1] >> bit & 1),
        uploads_per_call=per_call,
        accept_indicated=bool(values[3]),
        on_link_down="terminate" if values[4] else "keep",
        offload_rules=tuple(rules),
    )
