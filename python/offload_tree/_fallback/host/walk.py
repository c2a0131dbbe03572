"""Walks of the host tree in pre-order (an object, then its dependents) and post-order
(dependents first), whole or from chosen roots (docs/DESIGN.md §3;
``crates/core/src/host/walk.rs``). The tree has exactly three layers, so the walks are nested
loops: no recursion, no depth limit.
"""

from __future__ import annotations

from .tree import HostTree, Node

__all__ = ["offloaded_post_order", "post_order", "pre_order", "walk_all", "walk_roots"]


def pre_order(node: Node, out: list[Node]) -> None:
    """Append ``node`` and its subtree to ``out``: each object before its dependents."""
    out.append(node)
    if node.children:
        for child in node.children.values():
            out.append(child)
            if child.children:
                out.extend(child.children.values())


def post_order(node: Node, out: list[Node], offloaded_only: bool = False) -> None:
    """Append ``node``'s subtree to ``out`` with dependents first, ``node`` last.

    With ``offloaded_only`` only offloaded objects are visited; it prunes whole subtrees
    safely, as an object that is not offloaded has no offloaded dependent (invariant 2).
    """
    if node.children:
        for child in node.children.values():
            if offloaded_only and not child.offloaded:
                continue
            if child.children:
                if offloaded_only:
                    out.extend(g for g in child.children.values() if g.offloaded)
                else:
                    out.extend(child.children.values())
            out.append(child)
    out.append(node)


def walk_all(tree: HostTree, post: bool) -> list[Node]:
    """Every object, neighbor by neighbor in creation order, in pre- or post-order."""
    out: list[Node] = []
    visit = post_order if post else pre_order
    for neighbor in tree.neighbors.values():
        visit(neighbor, out)
    return out


def walk_roots(roots: list[Node], post: bool) -> list[Node]:
    """The subtrees of ``roots`` in order, each object once (docs/DESIGN.md §3)."""
    out: list[Node] = []
    emitted: set[int] = set()
    visit = post_order if post else pre_order
    for root in roots:
        if root.handle in emitted:
            continue  # an emitted root came with its whole subtree, in either order
        subtree: list[Node] = []
        visit(root, subtree)
        for node in subtree:  # parts may have been emitted under an earlier root
            if node.handle not in emitted:
                emitted.add(node.handle)
                out.append(node)
    return out


def offloaded_post_order(roots: list[Node]) -> list[Node]:
    """What terminating ``roots`` uploads, in upload order: for each root, the post-order
    of its offloaded subtree, each object once."""
    order: list[Node] = []
    done: set[int] = set()
    for root in roots:
        if root.handle in done:
            continue
        subtree: list[Node] = []
        post_order(root, subtree, offloaded_only=True)
        for node in subtree:
            if node.handle not in done:
                done.add(node.handle)
                order.append(node)
    return order
