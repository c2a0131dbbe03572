"""Fixtures: every test runs against both engines.

``backend`` is parametrised over "native" and "python". When the native engine cannot be
imported, the native cases fail (a missing build must not look green) unless
OFFLOAD_TREE_ALLOW_MISSING_NATIVE=1 is set, in which case they are skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import offload_tree as ot
import pytest
from _helpers import BACKENDS, Example, build_example, require_backend


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    require_backend(request.param)
    return request.param


@pytest.fixture
def make_tree(backend: str) -> Callable[..., Any]:
    """``make_tree(**target_config)`` -> a tree on a new SimulatedTarget, on this backend.

    ``make_tree(target=t)`` builds the tree on an existing target instead;
    ``release_unreferenced=False`` gives a host that keeps unreferenced shared state.
    """

    def make(target: Any = None, release_unreferenced: bool = True, **config: Any) -> Any:
        if target is None:
            target = ot.SimulatedTarget(**config)
        return ot.OffloadStateTree(
            target, backend=backend, release_unreferenced=release_unreferenced
        )

    return make


@pytest.fixture
def make_pair(make_tree: Callable[..., Any]) -> Callable[..., tuple[Any, Any]]:
    """``make_pair(**target_config)`` -> (tree, target)."""

    def make(release_unreferenced: bool = True, **config: Any) -> tuple[Any, Any]:
        target = ot.SimulatedTarget(**config)
        return make_tree(target, release_unreferenced), target

    return make


@pytest.fixture
def tree(make_tree: Callable[..., Any]) -> Any:
    return make_tree()


@pytest.fixture
def make_example(make_pair: Callable[..., tuple[Any, Any]]) -> Callable[..., Example]:
    """``make_example(with_tc3=True, **target_config)``: the source page's example tree
    (``release_unreferenced=False``: on a host that keeps unreferenced shared state)."""

    def make(with_tc3: bool = True, release_unreferenced: bool = True, **config: Any) -> Example:
        tree, target = make_pair(release_unreferenced, **config)
        return build_example(tree, target, with_tc3=with_tc3)

    return make


@pytest.fixture
def ex(make_example: Callable[..., Example]) -> Example:
    return make_example()


@pytest.fixture
def off(make_example: Callable[..., Example]) -> Example:
    """The source page's example with everything offloaded."""
    example = make_example()
    assert example.tree.initiate_offload(example.tree.handles()).ok
    return example
