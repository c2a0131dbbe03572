"""Traces: an append-only log of every call that changes a tree or its target, and its
replay (docs/DESIGN.md §12b).

``tree.record(path)`` writes the tree's snapshot (§12a) as the trace's first line, then one
line per call: which object, which method, its arguments and a summary of its result (or of
the error it raised). :func:`replay` restores the snapshot on either backend and makes the
same calls, checking each result against the recorded one: a trace is a reproducible bug
report, and a regression case (``tests/traces``).

The format is JSON Lines: every line is flushed as the call returns, so a crash leaves every
call before it on disk. Values JSON lacks are tagged objects (``{"$bytes": base64}``,
``{"$array": [dtype, base64]}``, ...). Reading executes nothing: only the tags below are
decoded, and the snapshot goes through the snapshot reader.

Recording swaps the tree's and target's classes for subclasses that log (the layouts are
equal), so a tree that is not recording pays nothing for the feature.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import io
import ipaddress
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from enum import Enum
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from ._errors import OffloadTreeError, ReplayError, StateError
from ._policy import HostPolicy, OffloadRule

if TYPE_CHECKING:
    from ._target import SimulatedTarget
    from ._tree import OffloadStateTree

__all__ = ["FORMAT", "VERSION", "Recording", "replay", "start"]

FORMAT = "offload-tree trace"
VERSION = 1

#: The calls that change a tree (or count in its statistics), by object. Reads are not
#: recorded: they change nothing a later call could see.
TREE_CALLS = (
    "add_neighbor", "add_path", "add_tcp", "add_neighbors", "add_paths", "add_tcps", "remove",
    "initiate_offload", "forward", "terminate", "update", "send", "post_receive", "read",
    "send_many", "post_receive_many", "read_many", "disconnect", "relink", "query",
    "invalidate", "process_events", "advance", "link_down",
)  # fmt: skip
TARGET_CALLS = (
    "receive", "send", "acknowledge", "receive_many", "acknowledge_many", "request_upload",
    "peer_close", "pause", "request_upload_all", "resume",
    "indicate_neighbor_reachability_query", "indicate_neighbor_unreachable", "inject_fault",
    "reset_offload_stats",
)  # fmt: skip
#: Property setters that change behaviour, recorded as ``"<name>="``.
TREE_SETTERS = ("policy",)


# -- values -------------------------------------------------------------------------------


def encode(value: Any) -> Any:
    """``value`` as JSON data; tagged objects for what JSON lacks."""
    if value is None or isinstance(value, bool | str | float):
        return value
    if isinstance(value, Enum):
        return encode(value.value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, np.ndarray):
        data = base64.b64encode(np.ascontiguousarray(value).tobytes()).decode()
        return {"$array": [value.dtype.str, list(value.shape), data]}
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return {"$ip": str(value)}
    if isinstance(value, HostPolicy):
        return {"$policy": _policy_data(value)}
    if isinstance(value, Mapping):
        return {"$dict": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(getattr(value, "packed", None), bytes):
        return encode(value.packed)  # an address object: the facade reads its bytes alone
    if isinstance(value, tuple):
        return {"$tuple": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    return {"$repr": repr(value)}


def decode(value: Any) -> Any:
    """The value :func:`encode` wrote (a ``$repr`` cannot come back: ``ReplayError``)."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        raise ReplayError(f"a trace value is not a tagged value: {value!r:.80}")
    ((tag, data),) = value.items()
    if tag == "$bytes":
        return base64.b64decode(data, validate=True)
    if tag == "$array":
        dtype, shape, raw = data
        kind = np.dtype(dtype)
        if kind.kind not in "biuf":
            raise ReplayError(f"a trace array of type {kind} (numbers and flags only)")
        array = np.frombuffer(base64.b64decode(raw, validate=True), dtype=kind)
        return array.reshape(shape).copy()
    if tag == "$ip":
        return ipaddress.ip_address(data)
    if tag == "$policy":
        return _policy_from(data)
    if tag == "$dict":
        return {_hashable(decode(k)): decode(v) for k, v in data}
    if tag == "$tuple":
        return tuple(decode(v) for v in data)
    if tag == "$repr":
        raise ReplayError(f"the trace holds an argument it could not record: {data}")
    raise ReplayError(f"a trace value has an unknown tag {tag!r}")


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _policy_data(policy: HostPolicy) -> dict[str, Any]:
    return {
        "decline": sorted(int(r) for r in policy.decline),
        "uploads_per_call": policy.uploads_per_call,
        "accept_indicated": policy.accept_indicated,
        "on_link_down": policy.on_link_down,
        "offload_rules": [
            [r.offload, encode(r.local_ports), encode(r.remote_ports), r.destination]
            for r in policy.offload_rules
        ],
    }


def _policy_from(data: dict[str, Any]) -> HostPolicy:
    rules = tuple(
        OffloadRule(offload, decode(local), decode(remote), destination)
        for offload, local, remote, destination in data["offload_rules"]
    )
    return HostPolicy(
        decline=frozenset(data["decline"]),
        uploads_per_call=data["uploads_per_call"],
        accept_indicated=data["accept_indicated"],
        on_link_down=data["on_link_down"],
        offload_rules=rules,
    )


def summarize(result: Any) -> Any:
    """What a replay compares of a call's result: its data, not its Python identity."""
    if result is None or isinstance(result, bool | int | str | float | np.generic):
        return encode(result)
    if isinstance(result, bytes | bytearray):
        return encode(result)
    if isinstance(result, np.ndarray):
        return result.tolist()
    if isinstance(result, tuple | list):
        return [summarize(item) for item in result]
    if isinstance(result, Mapping):
        return [[summarize(k), summarize(v)] for k, v in result.items()]
    if isinstance(result, HostPolicy):
        return encode(result)
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        fields = dataclasses.fields(result)
        return {f.name: summarize(getattr(result, f.name)) for f in fields}
    to_dict = getattr(result, "to_dict", None)
    summary: dict[str, Any] = {"type": type(result).__name__}
    for name in (
        "handles",
        "terminated",
        "statuses",
        "total_received",
        "total_send_data",
        "declined",
    ):
        if hasattr(result, name):
            summary[name] = summarize(getattr(result, name))
    blocks = getattr(result, "blocks", None)
    if blocks is not None and hasattr(blocks, "to_dict"):
        summary["blocks"] = {k: v.tolist() for k, v in blocks.to_dict().items()}
    elif callable(to_dict) and type(result).__name__ == "BlockList":
        summary["blocks"] = {k: v.tolist() for k, v in to_dict().items()}
    if len(summary) == 1:
        summary["repr"] = repr(result)
    return summary


def _materialize(value: Any) -> Any:
    """An argument that a call would consume (a generator, a set, a range) as a list, so
    that the log holds what the call read. Lists, arrays, strings and mappings stay."""
    plain = (str, bytes, bytearray, memoryview, np.ndarray, Mapping, list, tuple)
    if isinstance(value, Iterable) and not isinstance(value, plain):
        return list(value)
    return value


# -- recording ----------------------------------------------------------------------------


class Recording:
    """A trace being written. ``close()`` (or the end of a ``with`` block) stops it."""

    def __init__(self, tree: OffloadStateTree, stream: IO[str], owned: bool) -> None:
        self._tree = tree
        self._stream = stream
        self._owned = owned
        self._lock = threading.RLock()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop recording; the tree and target go back to their own classes."""
        from ._target import SimulatedTarget
        from ._tree import OffloadStateTree

        with self._lock:
            tree = self._tree
            if tree._trace is self:
                tree._trace = None
                tree.__class__ = OffloadStateTree
                target = tree.target
                target._trace = None
                target.__class__ = SimulatedTarget
            if self._owned and not self._stream.closed:
                self._stream.close()

    def write(self, line: dict[str, Any]) -> None:
        self._stream.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._stream.flush()

    def call(self, on: str, obj: Any, name: str, method: Callable[..., Any],
             args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:  # fmt: skip
        """Run one call and log it with its result; the lock keeps the log in call order."""
        args = tuple(_materialize(a) for a in args)
        kwargs = {k: _materialize(v) for k, v in kwargs.items()}
        with self._lock:
            line: dict[str, Any] = {"on": on, "call": name, "args": encode(list(args)),
                                    "kwargs": encode(dict(kwargs))}  # fmt: skip
            try:
                result = method(obj, *args, **kwargs)
            except OffloadTreeError as exc:
                line["error"] = [type(exc).__name__, str(exc)]
                self.write(line)
                raise
            line["result"] = summarize(result)
            self.write(line)
            return result


def start(tree: OffloadStateTree, path: str | os.PathLike[str] | IO[str]) -> Recording:
    """Begin a trace of ``tree`` at ``path``: its snapshot now, then every call."""
    from . import _snapshot

    if tree._trace is not None:
        raise StateError("this tree is already recording a trace: close that recording first")
    stream, owned = _open_text(path, "w")
    recording = Recording(tree, stream, owned)
    start_state = _snapshot.to_bytes(tree._engine.snapshot(), tree._facade())
    recording.write({"format": FORMAT, "version": VERSION, "backend": tree.backend,
                     "snapshot": base64.b64encode(start_state).decode()})  # fmt: skip
    tree._trace = recording
    tree.target._trace = recording
    tree.__class__ = _recording_class("tree")
    target = tree.target
    target.__class__ = _recording_class("target")
    return recording


@functools.cache
def _recording_class(on: str) -> type:
    """The subclass of the tree's (``on="tree"``) or target's class whose changing calls and
    setters go through its recording."""
    from ._target import SimulatedTarget
    from ._tree import OffloadStateTree

    base: type = OffloadStateTree if on == "tree" else SimulatedTarget
    calls, setters = (TREE_CALLS, TREE_SETTERS) if on == "tree" else (TARGET_CALLS, ())
    namespace: dict[str, Any] = {"__slots__": (), "__doc__": base.__doc__}
    for name in calls:
        namespace[name] = _logged(on, name, getattr(base, name))
    for name in setters:
        prop = getattr(base, name)
        namespace[name] = property(prop.fget, _logged(on, f"{name}=", prop.fset), doc=prop.__doc__)
    return type(base.__name__, (base,), namespace)


def _logged(on: str, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def logged(self: Any, *args: Any, **kwargs: Any) -> Any:
        return self._trace.call(on, self, name, method, args, kwargs)

    return logged


# -- replay -------------------------------------------------------------------------------


def replay(path: str | os.PathLike[str] | IO[str], *, backend: str | None = None,
           check: bool = True) -> OffloadStateTree:  # fmt: skip
    """Re-execute a trace on ``backend`` (default: the default backend): the recorded
    snapshot restored, then every call made again. With ``check``, each call must give the
    recorded result (or raise the recorded error), else ``ReplayError`` names the line.
    A damaged trace is a ``ReplayError`` too. Returns the tree in its final state."""
    from ._tree import OffloadStateTree

    lines = _lines(path)
    header = _header(next(lines, None))
    try:
        snapshot = base64.b64decode(header["snapshot"], validate=True)
    except ValueError as exc:
        raise ReplayError(f"the trace's snapshot is not base64 ({exc})") from None
    tree = OffloadStateTree.load(io.BytesIO(snapshot), backend=backend)
    saved = _snapshot_tree_id(snapshot)
    rehome = _Rehome(saved, tree.tree_id)
    for number, line in lines:
        _replay_line(tree, number, line, check, rehome)
    return tree


def _snapshot_tree_id(snapshot: bytes) -> int:
    """The tree id the trace's snapshot was taken with."""
    from . import _snapshot

    columns, _ = _snapshot.from_bytes(snapshot)
    return int(columns["tree.id"][0])


class _Rehome:
    """Handles of the recorded tree, moved to the replayed tree's id and back: a replay in
    a process where another tree holds the recorded id runs under a fresh one (§12a)."""

    def __init__(self, saved: int, now: int) -> None:
        self.saved, self.now = saved, now

    def _move(self, value: Any, source: int, target: int) -> Any:
        if isinstance(value, bool) or source == target:
            return value
        if isinstance(value, int) and value >> 48 == source:
            return value & _MASK48 | target << 48
        if isinstance(value, str):
            return value.replace(f"0x{source:04x}", f"0x{target:04x}")
        if isinstance(value, np.ndarray) and value.dtype == np.uint64:
            moved = (value & np.uint64(_MASK48)) | np.uint64(target << 48)
            return np.where(value >> np.uint64(48) == np.uint64(source), moved, value)
        if isinstance(value, list | tuple):
            return type(value)(self._move(v, source, target) for v in value)
        if isinstance(value, dict):
            return {self._move(k, source, target): self._move(v, source, target)
                    for k, v in value.items()}  # fmt: skip
        return value

    def to_replay(self, value: Any) -> Any:
        return self._move(value, self.saved, self.now)

    def to_record(self, value: Any) -> Any:
        return self._move(value, self.now, self.saved)


_MASK48 = (1 << 48) - 1


def _replay_line(
    tree: OffloadStateTree, number: int, line: dict[str, Any], check: bool, rehome: _Rehome
) -> None:
    """Make the call of one trace line again, and compare its outcome when ``check``."""
    on, name = line.get("on"), line.get("call")
    allowed = [f"{n}=" for n in TREE_SETTERS] + list(TREE_CALLS) if on == "tree" else TARGET_CALLS
    if on not in ("tree", "target") or name not in allowed:
        raise ReplayError(f"line {number}: {on}.{name} is not a call a trace records")
    assert isinstance(name, str)
    obj: OffloadStateTree | SimulatedTarget = tree if on == "tree" else tree.target
    try:
        args, kwargs = decode(line.get("args", [])), decode(line.get("kwargs", {"$dict": []}))
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise ReplayError("its arguments are not a list and a mapping")
    except ReplayError as exc:
        if "error" in line:
            return  # a refused call changed nothing: the replay goes on without it
        raise ReplayError(f"line {number}: {exc}") from None
    except Exception as exc:
        raise ReplayError(f"line {number}: a value cannot be read ({exc})") from None
    args, kwargs = rehome.to_replay(args), rehome.to_replay(kwargs)
    try:
        if name.endswith("="):
            setattr(obj, name[:-1], *args)
            got: dict[str, Any] = {"result": None}
        else:
            got = {"result": summarize(getattr(obj, name)(*args, **kwargs))}
    except OffloadTreeError as exc:
        got = {"error": [type(exc).__name__, str(exc)]}
    except TypeError as exc:  # arguments the call does not take: a damaged line
        problem = f"{on}.{name} cannot take its arguments ({exc})"
        raise ReplayError(f"line {number}: {problem}") from None
    expected = {k: line[k] for k in ("result", "error") if k in line}
    got = rehome.to_record(got)
    if check and got != expected:
        raise ReplayError(f"line {number} ({on}.{name}): recorded "
                          f"{_short(expected)}, replayed {_short(got)}")  # fmt: skip


def _lines(path: str | os.PathLike[str] | IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    stream, owned = _open_text(path, "r")
    try:
        for number, text in _numbered(stream):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except (json.JSONDecodeError, RecursionError) as exc:
                raise ReplayError(
                    f"line {number} is not JSON ({exc}); the trace is cut or corrupted"
                ) from None
            if not isinstance(line, dict):
                raise ReplayError(f"line {number} is not a trace record")
            yield number, line
    finally:
        if owned:
            stream.close()


def _numbered(stream: IO[str]) -> Iterator[tuple[int, str]]:
    """The stream's lines, numbered from 1; text that is not UTF-8 is a ``ReplayError``
    (decoding runs ahead of the lines, so the error cannot name one)."""
    try:
        yield from enumerate(stream, start=1)
    except UnicodeDecodeError as exc:
        raise ReplayError(f"the trace is not UTF-8 text ({exc})") from None


def _open_text(path: str | os.PathLike[str] | IO[str], mode: str) -> tuple[IO[str], bool]:
    """A text stream for ``path`` and whether this module opened it (and must close it)."""
    if isinstance(path, str | os.PathLike):
        return open(path, mode, encoding="utf-8"), True
    return path, False


def _header(first: tuple[int, dict[str, Any]] | None) -> dict[str, Any]:
    if first is None or first[1].get("format") != FORMAT:
        raise ReplayError("not an offload-tree trace (its first line names no trace format)")
    header = first[1]
    if header.get("version") != VERSION:
        raise ReplayError(f"a trace of format version {header.get('version')}; "
                          f"this offload-tree reads version {VERSION}")  # fmt: skip
    if not isinstance(header.get("snapshot"), str):
        raise ReplayError("the trace's first line holds no snapshot")
    return header


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 200 else text[:197] + "..."
