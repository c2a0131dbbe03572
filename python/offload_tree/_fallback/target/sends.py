"""The send data the host posted on one offloaded connection, as the target holds it
(NDIS "Sending Data from an Offload Target"; ``crates/core/src/target/sends.rs``, which explains
the untracked front and the payload-less runs).

The target transmits posted bytes first in, first out, as its send window allows, and
completes a send request once the peer has acknowledged every byte of it; until then the
bytes stay here, so that a terminate hands every unacknowledged and unsent byte back.
Payload-less runs are recorded by ``target/traffic.py`` itself, inside its stores-only commit.
"""

from __future__ import annotations

from collections import deque
from typing import Any

__all__ = ["FIN_QUEUED", "FIN_SENT", "NO_FIN", "SendQueue"]

#: Where the host's FIN stands: not asked for, waiting for the last posted byte, sent.
NO_FIN, FIN_QUEUED, FIN_SENT = 0, 1, 2


class SendQueue:
    """Posted, unacknowledged bytes of one connection; transmitted ones first."""

    __slots__ = ("data", "fin", "in_runs", "requests", "runs", "unsent")

    def __init__(self) -> None:
        """An empty queue."""
        self.data = bytearray()
        self.unsent = 0  # bytes at the back of data waiting for the window
        # transmitted, unacknowledged runs after the untracked front: [length, what]: True
        # posted data, False bytes without a payload, None the host's FIN
        self.runs: deque[list[Any]] = deque()
        self.in_runs = 0
        self.requests: deque[int] = deque()  # unacknowledged bytes of each open request
        self.fin = NO_FIN  # the host's FIN: NO_FIN, FIN_QUEUED or FIN_SENT

    def __len__(self) -> int:
        return len(self.data)

    def is_empty(self) -> bool:
        """Nothing left to transmit or to acknowledge."""
        return not self.data and not self.runs and self.fin == NO_FIN

    def queue_fin(self) -> None:
        """The host asks for a FIN after everything posted."""
        self.fin = FIN_QUEUED

    def transmit_fin(self) -> bool:
        """Send the queued FIN if every posted byte has gone; whether it did."""
        if self.fin == FIN_QUEUED and self.unsent == 0:
            self.fin = FIN_SENT
            self.in_runs += 1
            self.runs.append([1, None])
            return True
        return False

    def post(self, data: bytes) -> None:
        """Queue one send request."""
        self.data += data
        self.unsent += len(data)
        self.requests.append(len(data))

    def _push_run(self, n: int, carries_data: bool | None) -> None:
        self.in_runs += n
        if self.runs and self.runs[-1][1] is carries_data:
            self.runs[-1][0] = int(self.runs[-1][0]) + n
        else:
            self.runs.append([n, carries_data])

    def transmit(self, window: int) -> int:
        """Take up to ``window`` unsent bytes for transmission; how many."""
        n = min(self.unsent, window)
        if n > 0:
            self.unsent -= n
            self._push_run(n, True)
        return n

    def acknowledge(self, n: int, in_flight: int) -> tuple[int, int, bool]:
        """The peer acknowledged ``n`` more bytes (``in_flight`` before it is at least n);
        returns (posted bytes acknowledged, requests completed, whether it covered the FIN)."""
        left = max(n - max(in_flight - self.in_runs, 0), 0)
        acked = completed = 0
        fin = False
        while left > 0 and self.runs:
            front = self.runs[0]
            take = min(left, int(front[0]))
            front[0] = int(front[0]) - take
            if front[0] == 0:
                self.runs.popleft()
            self.in_runs -= take
            left -= take
            if front[1] is None:
                self.fin = NO_FIN
                fin = True
            elif front[1]:
                del self.data[:take]
                acked += take
                completed += self._complete(take)
        return acked, completed, fin

    def _complete(self, acked: int) -> int:
        """Apply ``acked`` posted bytes to the oldest requests; how many completed."""
        completed = 0
        while acked > 0 and self.requests:
            if self.requests[0] <= acked:
                acked -= self.requests.popleft()
                completed += 1
            else:
                self.requests[0] -= acked
                acked = 0
        return completed
