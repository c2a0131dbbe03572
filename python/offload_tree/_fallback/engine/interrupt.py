"""Interrupting long calls (``crates/core/src/engine/interrupt.rs``).

The loops of a call's checking phase, and of an add's inserts (which roll back exactly),
poll every ``POLL_EVERY`` items, at the same points as the core. A poll stops the call with
``KeyboardInterrupt`` and the tree unchanged when a stop was requested: by the facade's
SIGINT recorder (``offload_tree._interrupts``), or by a test's ``after`` count.
"""

from __future__ import annotations

import threading

from ..._messages import MESSAGES, render

__all__ = ["POLL_EVERY", "Interrupts"]

#: Items between two polls (the core's ``POLL_EVERY``).
POLL_EVERY = 1 << 16


class Interrupts:
    """One engine's requested stop and the tests' interrupt."""

    __slots__ = ("after", "requested_by")

    def __init__(self) -> None:
        """No stop requested, no test interrupt."""
        #: testing: polls left before one reports an interrupt (every item polls while set)
        self.after: int | None = None
        #: the thread whose call should stop (the main thread, where signals land)
        self.requested_by: int | None = None

    def request(self, requested: bool) -> None:
        """Ask the calling thread's running call to stop at its next poll (or take it back)."""
        self.requested_by = threading.get_ident() if requested else None

    def mask(self) -> int:
        """Which items poll: those with ``i & mask == mask`` (every item while a test
        interrupt is set), so hot loops skip the call in between."""
        return 0 if self.after is not None else POLL_EVERY - 1

    def poll(self, i: int) -> None:
        """Poll at item ``i`` of a loop: raises ``KeyboardInterrupt`` to stop the call."""
        if self.after is not None:
            if self.after == 0:
                self.after = None
                raise KeyboardInterrupt(render(MESSAGES["interrupted"][1]))
            self.after -= 1
        if (
            i % POLL_EVERY == POLL_EVERY - 1
            and self.requested_by is not None
            and self.requested_by == threading.get_ident()
        ):
            self.requested_by = None
            raise KeyboardInterrupt(render(MESSAGES["interrupted"][1]))
