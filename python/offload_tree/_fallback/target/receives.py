"""Receive requests the host posted on one offloaded connection, filled by the delivery
algorithm (NDIS "Posting and Completing Receive Requests", NDIS "Delivery Algorithm";
``crates/core/src/target/receives.rs``).

A request completes when full, in the order posted; one in push mode also completes
partly filled on a segment with the PSH bit or when the push timer expires (NDIS "Push Timer").
The fallback keeps the requests as an immutable tuple of ``(size, placed bytes, push)`` and
the functions here return new values, so that ``target/traffic.py`` can commit a receive
with stores only.
"""

from __future__ import annotations

__all__ = ["Requests", "expire_push", "fill", "placed", "room", "settle_push"]

#: Posted requests, oldest first: (size, bytes placed so far, push mode).
Requests = tuple[tuple[int, bytes, bool], ...]


def placed(requests: Requests) -> int:
    """Bytes placed in requests that are not full yet."""
    return sum(len(data) for _, data, _ in requests)


def room(requests: Requests) -> int:
    """Bytes the posted requests can still take."""
    return sum(size - len(data) for size, data, _ in requests)


def fill(requests: Requests, data: bytes) -> tuple[Requests, int, bytes]:
    """Place the front of ``data`` into ``requests`` in order: the requests left, how many
    bytes of ``data`` were taken, and the bytes of every request filled (in order)."""
    left = list(requests)
    taken = 0
    completed = bytearray()
    while left and taken < len(data):
        size, have, push = left[0]
        n = min(size - len(have), len(data) - taken)
        have += data[taken : taken + n]
        taken += n
        if len(have) == size:
            completed += have
            left.pop(0)
        else:
            left[0] = (size, have, push)
    return tuple(left), taken, bytes(completed)


def _push_pending(requests: Requests) -> bool:
    return bool(requests) and requests[0][2] and bool(requests[0][1])


def settle_push(
    requests: Requests,
    deadline: int | None,
    psh: bool,
    placed_now: bool,
    timer: tuple[int, int],
) -> tuple[Requests, int | None, bytes]:
    """After bytes went into ``requests`` (``placed_now``) by a segment with the PSH bit
    when ``psh``: the requests, the push timer's deadline and the bytes of a push-mode
    request completed on PSH (``ReceiveRequests::settle_push``). ``timer``: (now, period)."""
    done = b""
    if psh and _push_pending(requests):
        done, requests = requests[0][1], requests[1:]
    now, period = timer
    if not _push_pending(requests):
        deadline = None
    elif placed_now or deadline is None:
        deadline = now + period
    return requests, deadline, done


def expire_push(
    requests: Requests, deadline: int | None, now: int
) -> tuple[Requests, int | None, bytes]:
    """The push timer expired by ``now``: the requests, the deadline and the bytes the oldest
    request completed with (``ReceiveRequests::expire_push``)."""
    if deadline is not None and deadline <= now and _push_pending(requests):
        return requests[1:], None, requests[0][1]
    return requests, deadline, b""
