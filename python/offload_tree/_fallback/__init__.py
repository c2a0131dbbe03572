"""The pure-Python engine: the reference implementation of DESIGN.md.

Modules mirror the Rust core's: ``arena`` (generational slots, handles), ``state``
(variables), ``tree`` (host tree), ``blocks`` (block lists), ``target`` (the simulated
target's store), ``operations`` (the semantics) and ``engine`` (the protocol).
"""

from __future__ import annotations

from .engine import Engine, Outcome

__all__ = ["Engine", "Outcome"]
