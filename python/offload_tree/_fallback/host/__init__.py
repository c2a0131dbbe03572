"""The host side of the fallback (``crates/core/src/host/``): the tree and its links
(``tree``), walks (``walk``) and block lists (``blocks``).
"""
