"""The allocation budget of tests (``crates/core/src/model/budget.rs``): with a limit set,
the engine fails as if memory ran out once the limit is spent, so tests can make a batch
fail part-way and check it was rolled back. The core counts bytes reserved; this engine
counts host objects created, the allocations a batch makes here.
"""

from __future__ import annotations

from ..._messages import error

__all__ = ["Budget"]


class Budget:
    """Units left to spend; ``None`` (the default) is no limit."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        """No limit."""
        self.left: int | None = None

    def charge(self, units: int = 1) -> None:
        """Spend ``units``; ``OutOfMemoryError`` (spending nothing) when they do not fit."""
        if self.left is not None:
            if units > self.left:
                raise error("out_of_memory")
            self.left -= units
