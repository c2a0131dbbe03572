"""Results as columns: dicts of NumPy arrays that pandas, polars and pyarrow take as they are
(``pd.DataFrame(d)``, ``pl.DataFrame(d)``, ``pa.table(d)``), and flat mappings of counters.

The engines return raw columns (docs/DESIGN.md §10); this module gives them the forms users
read: addresses as text, handles as ``uint64``, read-only arrays.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ._blocks import readonly

__all__ = ["flatten", "path_addresses", "state_columns"]

Columns = dict[str, npt.NDArray[Any]]


def state_columns(raw: Mapping[str, npt.NDArray[Any]]) -> Columns:
    """An engine's ``states`` columns as users read them: a path's ``source`` and
    ``destination`` as address text (its ``family`` kept), everything read-only."""
    out: Columns = {}
    for name, values in raw.items():
        if name in ("source", "destination"):
            values = path_addresses(raw["family"], values)
        out[name] = readonly(values)
    return out


def path_addresses(
    families: npt.NDArray[np.uint8], octets: npt.NDArray[np.uint8]
) -> npt.NDArray[np.str_]:
    """Addresses as text from a family column and 16 octets a row (IPv4 in the first four):
    IPv4 with NumPy's string operations, IPv6 one by one (they are rarer)."""
    rows = octets.reshape(-1, 16)
    text = np.full(len(rows), "", dtype="<U39")
    v4 = families == 4
    if v4.any():
        quads = rows[v4, :4].astype(str)
        dotted = quads[:, 0]
        for i in range(1, 4):
            dotted = np.char.add(np.char.add(dotted, "."), quads[:, i])
        text[v4] = dotted
    for i in np.flatnonzero(~v4).tolist():
        text[i] = str(ipaddress.IPv6Address(rows[i].tobytes()))
    return text


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested mapping as one level, keys joined with dots (``layers.tcp.live``) in the
    mapping's own order: one row of a DataFrame (``pd.DataFrame([flatten(stats)])``)."""
    flat: dict[str, Any] = {}
    # Depth first with a stack of iterators: no recursion, and the order is kept.
    stack: list[tuple[str, Iterator[tuple[str, Any]]]] = [(prefix, iter(mapping.items()))]
    while stack:
        at, items = stack[-1]
        for key, value in items:
            if isinstance(value, Mapping):
                stack.append((f"{at}{key}.", iter(value.items())))
                break
            flat[f"{at}{key}"] = value
        else:
            stack.pop()
    return flat
