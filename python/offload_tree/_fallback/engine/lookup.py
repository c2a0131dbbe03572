"""Looking objects up by key: ``find_path(s)`` by address pair and ``find_tcp(s)`` by 4-tuple
(``crates/core/src/engine/lookup.rs``). Batches answer 0 where nothing matches: no valid
handle is 0, since tree id 0 is never used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._coerce import check_batch, check_length
from ..._errors import OffloadTreeError
from ..host.keys import tcp_key
from ..model.fields import check_range
from ..model.value import to_int, to_ip
from .build import _at

if TYPE_CHECKING:
    from . import Engine

__all__ = ["find_path", "find_paths", "find_tcp", "find_tcps"]

_U16 = 0xFFFF


def find_path(e: Engine, source: object, destination: object) -> int | None:
    """The path from ``source`` to ``destination``, if the tree has one."""
    key = (to_ip(source, "source"), to_ip(destination, "destination"))
    node = e.host.keys.paths.get(key)
    return None if node is None else node.handle


def find_paths(e: Engine, sources: list[object], destinations: list[object]) -> list[int]:
    """:func:`find_path` for each (source, destination) pair; 0 where the tree has none."""
    check_batch(len(sources))
    check_length("destinations", len(destinations), len(sources), "sources")
    out = []
    poll, mask = e.interrupts.poll, e.interrupts.mask()
    for i, (source, destination) in enumerate(zip(sources, destinations, strict=True)):
        if i & mask == mask:
            poll(i)
        try:
            found = find_path(e, source, destination)
        except OffloadTreeError as exc:
            raise _at(exc, i) from None
        out.append(found or 0)
    return out


def _find_tcp_on(e: Engine, source: bytes, destination: bytes, local: int, remote: int) -> int:
    path = e.host.keys.paths.get((source, destination))
    if path is None:
        return 0
    node = e.host.keys.tcps.get(tcp_key(path.slot, local, remote))
    return 0 if node is None else node.handle


def find_tcp(
    e: Engine, source: object, destination: object, local_port: object, remote_port: object
) -> int | None:
    """The connection with this 4-tuple, if the tree has one."""
    src, dst = to_ip(source, "source"), to_ip(destination, "destination")
    local = check_range("local_port", to_int(local_port, "local_port"), 0, _U16)
    remote = check_range("remote_port", to_int(remote_port, "remote_port"), 0, _U16)
    return _find_tcp_on(e, src, dst, local, remote) or None


def find_tcps(
    e: Engine,
    sources: list[object],
    destinations: list[object],
    local_ports: list[int],
    remote_ports: list[int],
) -> list[int]:
    """:func:`find_tcp` for each item; 0 where the tree has none."""
    n = len(sources)
    check_batch(n)
    check_length("destinations", len(destinations), n, "sources")
    check_length("local_ports", len(local_ports), n, "sources")
    check_length("remote_ports", len(remote_ports), n, "sources")
    out = []
    poll, mask = e.interrupts.poll, e.interrupts.mask()
    for i in range(n):
        if i & mask == mask:
            poll(i)
        try:
            src, dst = to_ip(sources[i], "source"), to_ip(destinations[i], "destination")
            local = check_range("local_port", local_ports[i], 0, _U16)
            remote = check_range("remote_port", remote_ports[i], 0, _U16)
        except OffloadTreeError as exc:
            raise _at(exc, i) from None
        out.append(_find_tcp_on(e, src, dst, local, remote))
    return out
