"""Offload pause on its own (ndis-status-offload-pause.md), upload-all while paused, and
resume with changed capabilities (ndis-status-offload-resume.md). Both backends."""

from __future__ import annotations

from typing import Any

import offload_tree as ot
import pytest
from _helpers import offloaded_connection, raises_unchanged


def _actions(tree: Any) -> list[tuple[str, str]]:
    return [(e.kind.name, e.action) for e in tree.process_events()]


def test_a_pause_stops_new_offloads_but_not_the_traffic_of_offloaded_ones(off: Any) -> None:
    tree, target = off.tree, off.target
    target.pause()
    assert target.stats()["paused"]
    assert _actions(tree) == [("OFFLOAD_PAUSE", "paused")]
    assert tree.is_offloaded(off.tc1), "nothing is uploaded"
    assert tree.send(off.tc1, b"still going") == 11
    target.receive(off.tc1, b"in")
    assert target.acknowledge(off.tc1, 11) == 1
    tc4 = tree.add_tcp(off.pa1, local_port=50000, remote_port=443)
    result = tree.initiate_offload([tc4])
    assert result.status(tc4) == ot.Status.PAUSED
    target.resume()
    assert _actions(tree) == [("OFFLOAD_RESUME", "resumed")]
    assert tree.initiate_offload([tc4]).ok


def test_pausing_twice_is_refused(off: Any) -> None:
    off.target.pause()
    error = raises_unchanged(off, ot.StateError, off.target.pause)
    assert str(error) == "the target is already paused: it has not resumed since"


def test_upload_all_while_paused_holds_sends_back_until_resume(off: Any) -> None:
    tree, target = off.tree, off.target
    target.pause()
    target.request_upload_all()  # a paused target may ask for everything back
    assert tree.send(off.tc1, b"held") == 0, "completes with UPLOAD_IN_PROGRESS"
    assert target.send(off.tc2, 10) == 0
    assert tree.stats()["bytes"]["upload_in_progress"] == 10
    with pytest.raises(ot.StateError, match="already requested upload-all"):
        target.request_upload_all()
    events = tree.process_events()
    assert [(e.kind.name, e.action) for e in events] == [
        ("OFFLOAD_PAUSE", "paused"),
        ("UPLOAD_ALL", "terminated_all"),
    ]
    assert events[1].result.send_data(off.tc1) == b"held", "the held bytes come back"
    target.resume()
    target.request_upload_all()  # allowed again after a resume


def test_resume_with_new_capabilities_limits_later_offloads(make_example: Any) -> None:
    ex = make_example(tcp_capacity=None)
    tree, target = ex.tree, ex.target
    assert tree.initiate_offload([ex.tc1]).ok
    target.pause()
    target.resume(tcp_capacity=1, max_path_mtu=1400)
    assert (target.tcp_capacity, target.max_path_mtu) == (1, 1400)
    assert tree.stats()["layers"]["tcp"]["capacity"] == 1
    result = tree.initiate_offload([ex.tc2])
    assert result.status(ex.tc2) == ot.Status.TCP_ENTRIES, "the new capacity holds"
    tree.terminate([ex.tc1])
    tree.update([ex.pa2], path_mtu=1500)
    result = tree.initiate_offload([ex.tc3])
    assert result.status(ex.pa2) == ot.Status.PATH_MTU, "the new limit holds"
    target.pause()
    target.resume(tcp_capacity=None, max_path_mtu=None)
    assert tree.initiate_offload([ex.tc2, ex.tc3]).ok


def test_a_capacity_below_what_the_target_holds_is_refused(off: Any) -> None:
    target = off.target
    target.pause()
    error = raises_unchanged(off, ot.StateError, lambda: target.resume(tcp_capacity=2))
    assert str(error) == (
        "cannot resume with tcp_capacity=2: the target holds 3 of them (upload some first)"
    )
    assert target.tcp_capacity is None
    with pytest.raises(ot.ValidationError, match="got 'fail_rate'"):
        target.resume(fail_rate=0.5)
    with pytest.raises(ot.ValidationError, match="tcp_capacity"):
        target.resume(tcp_capacity=-1)
    assert target.stats()["paused"], "a refused resume leaves the target paused"
    target.resume(tcp_capacity=3)
    assert not target.stats()["paused"]


def test_resume_when_not_paused_says_so(off: Any) -> None:
    error = raises_unchanged(off, ot.StateError, off.target.resume)
    assert str(error) == "the target cannot resume: it is not paused"


def test_a_paused_target_still_runs_its_timers(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.send(tc, b"x")
    tree.target.pause()
    tree.advance(1000)
    assert tree.query([tc]).delegated(tc)["retransmit_count"] == 1
