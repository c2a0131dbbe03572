"""A small progress bar on stderr (the project keeps tqdm out of its dependencies).

On a terminal the bar redraws in place; when stderr is a pipe or a file (CI logs, tests) it
prints only the notes the runner sends, one line each, so logs stay short and readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """A text progress bar: ``[#######.......]  42/120  35%  native N=10^5 offload_all  3.1 s``."""

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        width: int = 28,
        enabled: bool = True,
        interactive: bool | None = None,
    ) -> None:
        """``interactive`` defaults to whether ``stream`` is a terminal."""
        self.total = max(1, total)
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.enabled = enabled
        if interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self.label = ""
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._line_len = 0

    def advance(self, steps: int = 1, label: str | None = None) -> None:
        """Count ``steps`` more units done; optionally change the label shown after the bar."""
        self.done = min(self.total, self.done + steps)
        if label is not None:
            self.label = label
        self._draw()

    def set_label(self, label: str) -> None:
        """Show what is running now, without counting progress."""
        self.label = label
        self._draw()

    def note(self, message: str) -> None:
        """Print a message on its own line (above the bar on a terminal)."""
        if not self.enabled:
            return
        if self.interactive:
            self._clear()
        self.stream.write(message + "\n")
        self.stream.flush()
        if self.interactive:
            self._draw(force=True)

    def close(self) -> None:
        """Finish: on a terminal, leave the final bar on its own line."""
        if self.enabled and self.interactive:
            self._draw(force=True)
            self.stream.write("\n")
            self.stream.flush()

    def render(self) -> str:
        """The bar as text (also used by tests)."""
        frac = self.done / self.total
        filled = round(frac * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.perf_counter() - self.start
        width = len(str(self.total))
        return (
            f"[{bar}] {self.done:>{width}}/{self.total} {frac * 100:3.0f}%  "
            f"{self.label}  {elapsed:.1f} s"
        )

    def _clear(self) -> None:
        """Blank the current bar line so a note does not mix with it."""
        self.stream.write("\r" + " " * self._line_len + "\r")

    def _draw(self, force: bool = False) -> None:
        """Redraw in place, at most 20 times a second (redrawing costs time in the timed loop's
        neighbourhood; the runner only draws between timed operations anyway)."""
        if not (self.enabled and self.interactive):
            return
        now = time.perf_counter()
        if not force and now - self._last_draw < 0.05 and self.done < self.total:
            return
        self._last_draw = now
        text = self.render()
        pad = max(0, self._line_len - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._line_len = len(text)
