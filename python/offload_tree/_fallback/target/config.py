"""How a simulated target is configured (``crates/core/src/target/config.rs``): per-layer
capacities, the MTU and receive-window limits, and its random faults. The values arrive
validated by ``SimulatedTarget``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TargetConfig"]


@dataclass(frozen=True, slots=True)
class TargetConfig:
    """A target's configuration; ``None`` means unlimited."""

    neighbor_capacity: int | None = None
    path_capacity: int | None = None
    tcp_capacity: int | None = None
    max_path_mtu: int | None = None
    max_rcv_window: int | None = None
    fail_rate: float = 0.0
    seed: int = 0

    def capacity(self, layer: int) -> int | None:
        """How many objects of ``layer`` the target holds at most."""
        return (self.neighbor_capacity, self.path_capacity, self.tcp_capacity)[layer]
