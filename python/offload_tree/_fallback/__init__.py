"""The pure-Python engine: the same API and semantics as the Rust core, module for module.

Its folders carry the core's names (``crates/core/src/``): ``model`` (handles, the arena,
state-variable layouts, values, addresses), ``host`` (the tree, walks, block lists),
``target`` (contexts, configuration, admission, traffic, the generator) and ``engine``
(``Engine`` and one module per job). ``tests/test_layout.py`` holds the two module lists to
each other.
"""

from __future__ import annotations

from .engine import Engine, Outcome

__all__ = ["Engine", "Outcome"]
