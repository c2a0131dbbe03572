"""SplitMix64: the deterministic generator behind ``fail_rate`` fault injection, bit for bit
as the core's (docs/DESIGN.md §8; ``crates/core/src/target/rng.rs``).
"""

from __future__ import annotations

__all__ = ["SplitMix64", "unit_float"]

_U64 = 0xFFFF_FFFF_FFFF_FFFF


class SplitMix64:
    """The SplitMix64 generator."""

    __slots__ = ("state",)

    def __init__(self, seed: int) -> None:
        """A generator seeded with ``seed`` (0..2**64-1)."""
        self.state = seed

    def next_u64(self) -> int:
        """The next 64-bit value."""
        self.state = (self.state + 0x9E3779B97F4A7C15) & _U64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _U64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _U64
        return z ^ (z >> 31)


def unit_float(x: int) -> float:
    """The uniform float in [0, 1) that ``x`` stands for (its 53 high bits)."""
    return (x >> 11) * 2.0**-53
