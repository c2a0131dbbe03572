"""Receive requests the host posted on one offloaded connection, filled by the delivery
algorithm (posting-and-completing-receive-requests.md, delivery-algorithm.md;
``crates/core/src/target/receives.rs``).

Requests complete in nonpush mode, when full, in the order they were posted. The fallback
keeps them as an immutable tuple of ``(size, placed bytes)`` and :func:`fill` returns a new
one, so that ``target/traffic.py`` can commit a receive with stores only.
"""

from __future__ import annotations

__all__ = ["Requests", "fill", "placed"]

#: Posted requests, oldest first: (size, bytes placed so far).
Requests = tuple[tuple[int, bytes], ...]


def placed(requests: Requests) -> int:
    """Bytes placed in requests that are not full yet."""
    return sum(len(data) for _, data in requests)


def fill(requests: Requests, data: bytes) -> tuple[Requests, int, bytes]:
    """Place the front of ``data`` into ``requests`` in order: the requests left, how many
    bytes of ``data`` were taken, and the bytes of every request filled (in order)."""
    left = list(requests)
    taken = 0
    completed = bytearray()
    while left and taken < len(data):
        size, have = left[0]
        n = min(size - len(have), len(data) - taken)
        have += data[taken : taken + n]
        taken += n
        if len(have) == size:
            completed += have
            left.pop(0)
        else:
            left[0] = (size, have)
    return tuple(left), taken, bytes(completed)
