"""How the library writes its values as text: handles in one form, counts, and ``str()`` of
block lists and results bounded at any size (docs/DESIGN.md §8).

Every text the library writes itself (block lists, results, error messages, drawings) shows
a handle as ``0x`` and 16 hex digits, through ``_coerce.format_handle``, the helper the
fallback engine's messages use too (the core writes the same form); :func:`format_handle`
gives users that form for one handle or many. Arrays of handles stay NumPy ``uint64``
arrays and print as NumPy prints them.

``str()`` of a block list or a result writes at most :data:`PRINT_LIMIT` lines of blocks or
objects, from slices of its arrays, and says how many more there are: printing a result of
10^7 blocks costs what printing one of 20 does. ``to_text()`` writes them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from ._coerce import as_handle, as_handles
from ._coerce import format_handle as _format_one
from ._enums import Layer, Status

__all__ = [
    "LAYER_NAMES",
    "PRINT_LIMIT",
    "STATUS_NAMES",
    "blocks_text",
    "bounded_text",
    "format_handle",
    "iter_handles",
    "layer_counts",
    "layer_text",
    "layers_of",
    "object_lines",
    "plural",
]

#: The most blocks (or objects) ``str()`` of a block list or a result shows; a last line
#: says how many more there are and that ``to_text()`` writes them all.
PRINT_LIMIT = 20

#: Bits 47..46 of a handle are its layer (docs/DESIGN.md §2).
_LAYER_SHIFT = np.uint64(46)
_NOUNS = {Layer.NEIGHBOR: "neighbor", Layer.PATH: "path", Layer.TCP: "connection"}
#: Names by code, looked up once per line rather than through the enum's constructor.
LAYER_NAMES = {int(layer): layer.name for layer in Layer}
STATUS_NAMES = {int(status): status.name for status in Status}
#: Iterating handles turns this many at a time into Python ints, so that iterating 10^7
#: handles never holds 10^7 ints at once.
_CHUNK = 4096


@overload
def format_handle(handles: int | np.integer[Any]) -> str: ...
@overload
def format_handle(handles: npt.NDArray[Any] | Iterable[int | np.integer[Any]]) -> list[str]: ...
def format_handle(handles: object) -> str | list[str]:
    """A handle as the library writes it in every text: ``0x`` and 16 hex digits, e.g.
    ``"0x0001800000000002"`` (tree id, layer, generation and slot read off in groups:
    docs/DESIGN.md §2), the form of block lists, results, error messages and drawings.

    One handle (an int or a NumPy integer) gives a ``str``; many (a ``uint64`` array such
    as ``tree.handles()`` returns, or a sequence) give a ``list`` of them, in order. Any
    value in 0..2**64-1 is written, whether or not an object has it; anything else is an
    ``InvalidHandleError``, as wherever handles are taken.
    """
    if isinstance(handles, int | np.integer) and not isinstance(handles, bool):
        return _format_one(as_handle(handles))
    return [_format_one(h) for h in as_handles(handles).tolist()]


def iter_handles(handles: npt.NDArray[np.uint64]) -> Iterator[int]:
    """The handles of ``handles`` as Python ints, in order, converted a chunk at a time."""
    for start in range(0, len(handles), _CHUNK):
        yield from handles[start : start + _CHUNK].tolist()


def plural(n: int, noun: str) -> str:
    """``1 block``, ``12,345 blocks``."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def layers_of(handles: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint8]:
    """The layer of each handle, from its layer bits (docs/DESIGN.md §2)."""
    layers: npt.NDArray[np.uint8] = ((handles >> _LAYER_SHIFT) & np.uint64(3)).astype(np.uint8)
    return layers


def layer_counts(layers: npt.NDArray[np.uint8]) -> list[int]:
    """How many of ``layers`` are neighbors, paths and connections."""
    return [int(n) for n in np.bincount(layers, minlength=3)[:3]]


def layer_text(counts: Sequence[int]) -> str:
    """``1 neighbor, 2 paths, 3 connections`` from per-layer counts."""
    return ", ".join(plural(counts[layer], _NOUNS[layer]) for layer in Layer)


def blocks_text(layers: npt.NDArray[np.uint8], referenced: npt.NDArray[np.bool_]) -> str:
    """``6 blocks (1 neighbor, 2 paths, 3 connections; 0 referenced)``: what a block list
    holds, counted in NumPy (no Python object per block)."""
    what = layer_text(layer_counts(layers))
    n_referenced = int(np.count_nonzero(referenced))
    return f"{plural(len(layers), 'block')} ({what}; {n_referenced:,} referenced)"


def object_lines(handles: npt.NDArray[np.uint64], codes: npt.NDArray[np.uint8]) -> list[str]:
    """One line per object of a result: its layer, its handle and the status ``codes``
    gives it (``TCP 0x0001800000000000 SUCCESS``)."""
    layers = layers_of(handles).tolist()
    return [
        f"{LAYER_NAMES[layer]} {_format_one(h)} {STATUS_NAMES[code]}"
        for layer, h, code in zip(layers, handles.tolist(), codes.tolist(), strict=True)
    ]


def bounded_text(
    summary: str, lines: Callable[[int, int], list[str]], total: int, noun: str, call: str
) -> str:
    """``str()`` of a block list or a result: ``summary``, the lines of the first
    :data:`PRINT_LIMIT` of ``total`` items (``lines(start, stop)`` writes those of items
    ``start`` to ``stop - 1``) and, when there are more, ``... N more <noun>s; <call> for
    all of them``. Only the lines shown are written, whatever ``total`` is."""
    shown = min(total, PRINT_LIMIT)
    out = [summary, *lines(0, shown)]
    if total > shown:
        out.append(f"... {plural(total - shown, 'more ' + noun)}; {call} for all of them")
    return "\n".join(out)
