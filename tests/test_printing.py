"""Printing (issue 15): ``str()`` of block lists and results is bounded at any size,
``to_text()`` writes everything, and every text the library writes shows a handle in one
form, ``0x`` and 16 hex digits (``offload_tree.format_handle``).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import offload_tree as ot
import pytest
from _helpers import hl
from offload_tree._blocks import BlockList
from offload_tree._text import PRINT_LIMIT

S = ot.Status
#: Enough connections that printing them whole would be megabytes of text.
BIG = 100_000
_HEX_HANDLE = re.compile(r"0x[0-9a-f]{16}(?![0-9a-fA-F])")
_ANY_HEX = re.compile(r"0x[0-9a-fA-F]+")


def _old_render(blocks: Any) -> str:
    """The text ``str()`` gave before issue 15, from the Block objects themselves."""
    return "\n".join("  " * b.depth + b.describe() for b in blocks)


def _big_tree(make_tree: Any, n: int = BIG, **config: Any) -> tuple[Any, int, np.ndarray]:
    """A neighbor, one path and ``n`` connections on it: ``(tree, neighbor, connections)``."""
    tree = make_tree(**config)
    nb = tree.add_neighbor(mac=1)
    pa = tree.add_path(nb, "10.0.0.1", "10.0.0.2")
    ports = np.arange(n)
    tcs = tree.add_tcps(np.full(n, pa, dtype=np.uint64), ports % 65536, ports // 65536 + 1)
    return tree, nb, tcs


def _more_line(n: int, noun: str) -> str:
    return f"... {n - PRINT_LIMIT:,} more {noun}s; to_text() for all of them"


# --- small texts stay as they were ---------------------------------------------------------


def test_a_small_block_list_prints_as_the_readme_shows(ex):
    blocks = ex.tree.block_list([ex.tc1, ex.tc2, ex.tc3])
    f = ot.format_handle
    assert str(blocks) == "\n".join(
        [
            f"NEIGHBOR {f(ex.nb1)} [new]",
            f"  PATH {f(ex.pa1)} [new]",
            f"    TCP {f(ex.tc1)} [new]",
            f"    TCP {f(ex.tc2)} [new]",
            f"  PATH {f(ex.pa2)} [new]",
            f"    TCP {f(ex.tc3)} [new]",
        ]
    )
    assert str(blocks) == blocks.to_text() == blocks.render() == _old_render(blocks)


def test_a_small_offload_result_prints_its_blocks_with_their_statuses(ex):
    ex.target.inject_fault(ex.tc2, S.RESOURCES)
    result = ex.tree.initiate_offload([ex.tc1, ex.tc2])
    f = ot.format_handle
    assert str(result) == "\n".join(
        [
            f"NEIGHBOR {f(ex.nb1)} [new] SUCCESS",
            f"  PATH {f(ex.pa1)} [new] PARTIAL_SUCCESS",
            f"    TCP {f(ex.tc1)} [new] SUCCESS",
            f"    TCP {f(ex.tc2)} [new] RESOURCES",
        ]
    )
    assert str(result) == result.to_text() == _old_render(result.blocks)
    assert "more" not in str(result)
    # Referenced blocks say so, in the second offload's list.
    again = ex.tree.initiate_offload(ex.tc2)
    assert str(again).splitlines() == [
        f"PATH {f(ex.pa1)} [ref] SUCCESS",
        f"  TCP {f(ex.tc2)} [new] SUCCESS",
    ]


def test_a_list_of_exactly_the_limit_prints_whole(make_tree):
    tree, _, tcs = _big_tree(make_tree, PRINT_LIMIT - 2)  # + the neighbor and the path
    tc = tree.add_tcp(tree.depends_on(int(tcs[0])), 60000, 1)
    one_more = tree.block_list([*tcs, tc])
    result = tree.initiate_offload(tcs)
    assert len(result) == PRINT_LIMIT
    assert str(result) == result.to_text() == _old_render(result.blocks)
    assert len(str(result).splitlines()) == PRINT_LIMIT
    lines = str(one_more).splitlines()
    assert len(one_more) == PRINT_LIMIT + 1 and len(lines) == PRINT_LIMIT + 2
    assert lines[0] == repr(one_more)
    assert lines[-1] == "... 1 more block; to_text() for all of them"


# --- large texts are bounded ---------------------------------------------------------------


@pytest.fixture
def big(make_tree):
    """An offload of BIG connections, the last 10 refused by the target's capacity."""
    tree, nb, tcs = _big_tree(make_tree, tcp_capacity=BIG - 10)
    return tree, nb, tcs, tree.initiate_offload(tcs)


def test_str_of_a_large_offload_result_is_a_summary_and_the_first_blocks(big, monkeypatch):
    _, nb, tcs, result = big
    written: list[tuple[int, int]] = []
    lines_of = BlockList._lines

    def spy(self: Any, start: int, stop: int) -> list[str]:
        written.append((start, stop))
        return lines_of(self, start, stop)

    monkeypatch.setattr(BlockList, "_lines", spy)
    text = str(result)
    # Only the blocks shown were written, and no Block object was made for them.
    assert written == [(0, PRINT_LIMIT)]
    assert result.blocks._blocks is None
    lines = text.splitlines()
    assert len(lines) == PRINT_LIMIT + 2
    summary = f"<OffloadResult {BIG + 2:,} blocks, {BIG - 8:,} offloaded, 10 failed>"
    assert lines[0] == repr(result) == summary
    f = ot.format_handle
    assert lines[1] == f"NEIGHBOR {f(nb)} [new] SUCCESS"
    assert lines[2].startswith("  PATH ") and lines[2].endswith(" PARTIAL_SUCCESS")
    assert lines[3] == f"    TCP {f(tcs[0])} [new] SUCCESS"
    assert lines[-1] == _more_line(BIG + 2, "block")
    assert len(text) < 2000


def test_to_text_of_a_large_result_is_the_whole_old_text(big):
    _, _, tcs, result = big
    text = result.to_text()
    assert text == result.blocks.to_text() == _old_render(result.blocks)
    lines = text.splitlines()
    assert len(lines) == BIG + 2
    assert lines[-1] == f"    TCP {ot.format_handle(tcs[-1])} [new] TCP_ENTRIES"
    assert str(result).splitlines()[1:-1] == lines[:PRINT_LIMIT]


def test_str_of_a_large_block_list_counts_its_layers(make_tree):
    tree, nb, tcs = _big_tree(make_tree)
    blocks = tree.block_list(tcs)
    lines = str(blocks).splitlines()
    summary = (
        f"<BlockList of {BIG + 2:,} blocks (1 neighbor, 1 path, {BIG:,} connections; "
        f"0 referenced), root NEIGHBOR {ot.format_handle(nb)}>"
    )
    assert lines[0] == repr(blocks) == summary
    assert lines[1:-1] == blocks.to_text().splitlines()[:PRINT_LIMIT]
    assert lines[-1] == _more_line(BIG + 2, "block")
    assert blocks._blocks is None  # neither str() nor repr() made a Block per block


def test_str_of_large_terminate_query_update_and_invalidate_results_is_bounded(big):
    tree, nb, tcs, _ = big
    offloaded = tcs[: BIG - 10]
    query = tree.query(offloaded)
    update = tree.update(tcs, nagle=False)  # the last 10 are on the host only
    invalidate = tree.invalidate(offloaded)
    terminate = tree.terminate(nb)
    sizes = [(query, BIG - 10), (invalidate, BIG - 10), (update, BIG), (terminate, BIG - 8)]
    for result, n in sizes:
        assert len(result) == n
        lines = str(result).splitlines()
        assert len(lines) == PRINT_LIMIT + 2, type(result).__name__
        assert lines[0] == repr(result)
        assert lines[-1] == _more_line(n, "object")
        full = result.to_text().splitlines()
        assert len(full) == n + 1 and full[: PRINT_LIMIT + 1] == lines[:-1]
    assert str(query).splitlines()[1] == f"TCP {ot.format_handle(tcs[0])} SUCCESS"
    assert terminate.to_text().splitlines()[-1] == f"NEIGHBOR {ot.format_handle(nb)} SUCCESS"


# --- what each result's lines say ------------------------------------------------------------


def test_a_terminate_lists_each_object_with_the_bytes_it_brought_back(off):
    off.target.receive(off.tc1, b"twelve bytes")
    off.tree.send_many([off.tc2], b"abc", [3])
    off.target.inject_fault(off.tc3, S.FAILURE, "terminate")
    result = off.tree.terminate(off.nb1)
    f = ot.format_handle
    assert str(result) == "\n".join(
        [
            "<TerminateResult 6 objects, 1 failed, 12 received and 3 posted bytes returned>",
            f"TCP {f(off.tc1)} SUCCESS, 12 received bytes",
            f"TCP {f(off.tc2)} SUCCESS, 3 posted bytes",
            f"PATH {f(off.pa1)} SUCCESS",
            f"TCP {f(off.tc3)} FAILURE",
            f"PATH {f(off.pa2)} SUCCESS",
            f"NEIGHBOR {f(off.nb1)} SUCCESS",
        ]
    )
    assert str(result) == result.to_text()


def test_an_update_lists_each_request_with_the_reason_of_a_failure(make_example):
    ex = make_example(max_path_mtu=1500)
    assert ex.tree.initiate_offload(ex.tree.handles()).ok
    result = ex.tree.update([ex.pa1, ex.pa2, ex.pa1], path_mtu=[9000, 1400, 9000])
    f = ot.format_handle
    assert str(result).splitlines() == [
        "<UpdateResult 3 objects, 2 failed, 3 terminated>",
        f"PATH {f(ex.pa1)} FAILURE (PATH_MTU)",
        f"PATH {f(ex.pa2)} SUCCESS",
        f"PATH {f(ex.pa1)} FAILURE (PATH_MTU)",
    ]


def test_a_query_and_an_invalidate_list_each_object_with_its_status(off):
    off.target.inject_fault(off.tc3, S.FAILURE, "query")
    f = ot.format_handle
    query = off.tree.query([off.tc1, off.tc3])
    assert str(query).splitlines() == [
        "<QueryResult 2 objects, 1 failed>",
        f"TCP {f(off.tc1)} SUCCESS",
        f"TCP {f(off.tc3)} FAILURE",
    ]
    invalidate = off.tree.invalidate(off.pa1)
    assert str(invalidate).splitlines() == [
        "<InvalidateResult 1 object, 0 failed>",
        f"PATH {f(off.pa1)} SUCCESS",
    ]


def test_an_empty_result_prints_its_summary_only(ex):
    assert str(ex.tree.query([])) == "<QueryResult 0 objects, 0 failed>"
    empty = ex.tree.block_list([])
    assert (
        str(empty)
        == repr(empty)
        == ("<BlockList of 0 blocks (0 neighbors, 0 paths, 0 connections; 0 referenced)>")
    )
    nothing = ex.tree.initiate_offload([])
    assert str(nothing) == repr(nothing) == "<OffloadResult 0 blocks, 0 offloaded, 0 failed>"
    assert ot.PRINT_LIMIT == 20


# --- format_handle -------------------------------------------------------------------------


def test_format_handle_writes_one_handle_or_many(ex):
    assert ot.format_handle(ex.tc1) == f"0x{ex.tc1:016x}"
    assert ot.format_handle(np.uint64(ex.tc1)) == f"0x{ex.tc1:016x}"
    assert ot.format_handle(1) == "0x0000000000000001"
    assert ot.format_handle(2**64 - 1) == "0xffffffffffffffff"
    texts = ot.format_handle(ex.tree.handles())
    assert isinstance(texts, list) and [int(t, 16) for t in texts] == hl(ex.tree.handles())
    assert ot.format_handle([ex.nb1, ex.pa1]) == [f"0x{ex.nb1:016x}", f"0x{ex.pa1:016x}"]
    assert ot.format_handle(np.zeros(0, np.uint64)) == []
    # The form is the one of the library's own texts.
    assert ot.format_handle(ex.nb1) in str(ex.tree.block_list(ex.nb1))


@pytest.mark.parametrize(
    "bad", [-1, 2**64, "0x1", 1.0, True, None, np.zeros((2, 2), np.uint64), np.array([-1])]
)
def test_format_handle_refuses_what_is_not_a_handle(bad):
    with pytest.raises(ot.InvalidHandleError):
        ot.format_handle(bad)


# --- one form for handles in every text ---------------------------------------------------------


def _error_text(call: Any) -> str:
    with pytest.raises(ot.OffloadTreeError) as info:
        call()
    return str(info.value)


def _texts(ex: Any, backend: str) -> dict[str, str]:
    """Texts the library writes, from as many sources as there are, naming handles."""
    tree, target = ex.tree, ex.target
    other = ot.OffloadStateTree(backend=backend)
    foreign = other.add_neighbor(mac=9)
    texts = {
        "block list": str(tree.block_list([ex.tc1, ex.tc3])),
        "block list repr": repr(tree.block_list([ex.tc1, ex.tc3])),
        "block repr": repr(tree.block_list(ex.tc1)[0]),
        "tree drawing": tree.to_dot(),
        "block list drawing": tree.block_list(ex.tc1).to_dot(),
        "not offloaded": _error_text(lambda: tree.terminate(ex.tc1)),
        "foreign": _error_text(lambda: tree.state(foreign)),
        "remove with dependents": _error_text(lambda: tree.remove(ex.pa1)),
        "duplicate key": _error_text(lambda: tree.add_tcp(ex.pa1, 49152, 443)),
        "wrong layer": _error_text(lambda: tree.relink(ex.tc1, ex.nb1)),
        "not requested": _error_text(
            lambda: tree.initiate_offload(ex.tc1, buffered_data={ex.tc2: b"x"})
        ),
    }
    target.inject_fault(ex.tc2, S.RESOURCES)
    result = tree.initiate_offload([ex.tc1, ex.tc2, ex.tc3])
    texts["offload result"] = str(result)
    texts["offload result drawing"] = result.to_dot()
    texts["target drawing"] = target.to_dot()
    texts["not in the list"] = _error_text(lambda: result.status(ex.tc3 + 5))
    texts["already offloaded"] = _error_text(lambda: tree.initiate_offload(ex.tc1))
    texts["offloaded, not removable"] = _error_text(lambda: tree.remove(ex.tc1))
    texts["update result"] = str(tree.update(ex.pa1, path_mtu=1400))
    texts["invalidate result"] = str(tree.invalidate(ex.pa2))
    events = tree.process_events()  # the invalidate asked for tc3's upload
    texts["event repr"] = repr(events[0])
    target.inject_fault(ex.tc1, S.FAILURE, "query")
    query = tree.query([ex.tc1])
    texts["query result"] = str(query)
    texts["failed query"] = _error_text(lambda: query.delegated(ex.tc1))
    texts["terminate result"] = str(query.upload)
    texts["not in the result"] = _error_text(lambda: query.upload.delegated(foreign))
    tree.remove(ex.tc2)
    texts["stale"] = _error_text(lambda: tree.state(ex.tc2))
    texts["handles"] = "\n".join(ot.format_handle(tree.handles()))
    for name, h in (("neighbor", ex.nb1), ("path", ex.pa1), ("tcp", ex.tc1)):
        texts[f"{name} state repr"] = repr(tree.state(h))
    return texts


def test_every_text_writes_handles_in_one_form(make_example, backend):
    ex = make_example()
    handles = [ex.nb1, ex.pa1, ex.pa2, ex.tc1, ex.tc2, ex.tc3]
    texts = _texts(ex, backend)
    for source, text in texts.items():
        assert _HEX_HANDLE.search(text), f"{source} names no handle: {text!r}"
        for token in _ANY_HEX.findall(text):
            assert _HEX_HANDLE.fullmatch(token), f"{source}: {token!r} is not 0x + 16 digits"
        for h in handles:
            assert str(h) not in text, f"{source} writes {h} in decimal: {text!r}"
