"""The host's policy (``ot.HostPolicy``): what the NDIS pages leave to the host stack. Which
optional upload reasons it declines, how fast it uploads in an upload storm, whether it
takes indicated receive data, what a link down does, and which connections it offloads
(docs/DESIGN.md §8, "Host policy"). Both backends."""

from __future__ import annotations

import pickle
from typing import Any

import offload_tree as ot
import pytest
from _helpers import offloaded_connection

LOW = ot.UploadReason.LOW_ACTIVITY


def _actions(events: list[Any]) -> list[str]:
    return [e.action for e in events]


def test_the_default_policy_is_the_behaviour_without_one(off: Any) -> None:
    assert off.tree.policy == ot.HostPolicy()
    off.target.request_upload(off.tc1, LOW)
    assert _actions(off.tree.process_events()) == ["terminated"]


def test_the_policy_declines_optional_reasons_and_a_call_may_override_it(off: Any) -> None:
    tree = off.tree
    tree.policy = ot.HostPolicy(decline={LOW, ot.UploadReason.SMALL_IO})
    assert tree.policy.decline == frozenset({LOW, ot.UploadReason.SMALL_IO})
    off.target.request_upload(off.tc1, LOW)
    assert _actions(tree.process_events()) == ["declined"]
    assert tree.is_offloaded(off.tc1)
    off.target.request_upload(off.tc1, LOW)
    assert _actions(tree.process_events(decline=())) == ["terminated"], "this call declines none"


def test_uploads_are_paced_in_an_upload_storm(off: Any) -> None:
    tree, target = off.tree, off.target
    tree.policy = ot.HostPolicy(uploads_per_call=2)
    target.request_upload(off.tc1, LOW)
    target.acknowledge(off.tc2, 0, window=5000)  # a send-backlog change between them
    target.request_upload(off.tc2, LOW)
    target.request_upload(off.tc3, LOW)
    first = tree.process_events()
    assert [(e.kind.name, e.action) for e in first] == [
        ("UPLOAD_REQUESTED", "terminated"),
        ("SEND_BACKLOG_CHANGE", "backlog_noted"),
        ("UPLOAD_REQUESTED", "terminated"),
    ]
    assert tree.stats()["events"]["pending"] == 1, "the third upload waits"
    assert tree.is_offloaded(off.tc3)
    assert _actions(tree.process_events()) == ["terminated"]
    assert tree.stats()["events"]["pending"] == 0


def test_a_host_that_takes_indicated_data_buffers_nothing(make_tree: Any) -> None:
    tree, tc = offloaded_connection(make_tree)
    tree.policy = ot.HostPolicy(accept_indicated=True)
    tree.target.receive(tc, b"hello")
    assert tree.read(tc) == b"hello"
    d = tree.query([tc]).delegated(tc)
    assert (d["rcv_nxt"], d["rcv_wnd"]) == (5, 65535), "the window stays open"
    b = tree.stats()["bytes"]
    assert (b["buffered"], b["delivered"]) == (0, 5)
    tree.target.peer_close(tc)  # nothing buffered: the FIN is indicated at once
    assert _actions(tree.process_events()) == ["peer_closed"]


def test_a_link_down_terminates_everything_unless_the_policy_keeps_it(off: Any) -> None:
    tree = off.tree
    result = tree.link_down()
    assert sorted(result.terminated.tolist()) == sorted(off.all)
    assert tree.count(offloaded=True) == 0
    assert tree.initiate_offload(off.all).ok
    tree.policy = ot.HostPolicy(on_link_down="keep")
    assert len(tree.link_down()) == 0
    assert tree.count(offloaded=True) == len(off.all)


def test_offload_rules_keep_matching_connections_on_the_host(ex: Any) -> None:
    tree = ex.tree
    tree.policy = ot.HostPolicy(
        offload_rules=(
            ot.OffloadRule(offload=True, remote_ports=443, destination="10.0.0.9"),
            ot.OffloadRule(offload=False, destination="10.0.0.0/8"),
        )
    )
    result = tree.initiate_offload([ex.tc1, ex.tc3, ex.pa2])
    assert result.declined.tolist() == [ex.tc3], "port 80 to 10.0.1.7: the second rule"
    assert result.ok and tree.is_offloaded(ex.tc1) and not tree.is_offloaded(ex.tc3)
    assert result.status(ex.pa2) == ot.Status.SUCCESS, "paths and neighbors pass"
    assert pickle.loads(pickle.dumps(result)).declined.tolist() == [ex.tc3]
    tree.policy = None
    assert tree.initiate_offload([ex.tc3]).declined.tolist() == []
    assert tree.is_offloaded(ex.tc3)


def test_a_rule_matches_port_ranges_and_no_rule_means_offload(ex: Any) -> None:
    tree = ex.tree
    tree.policy = ot.HostPolicy(
        offload_rules=(ot.OffloadRule(offload=False, local_ports=(49153, 49154)),)
    )
    result = tree.initiate_offload([ex.tc1, ex.tc2, ex.tc3])
    assert result.declined.tolist() == [ex.tc2, ex.tc3]
    assert tree.is_offloaded(ex.tc1)
    everything = tree.initiate_offload([ex.tc2])
    assert len(everything.blocks) == 0 and everything.declined.tolist() == [ex.tc2]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ot.HostPolicy(decline={ot.UploadReason.INVALID_STATE}), "mandatory"),
        (lambda: ot.HostPolicy(decline={99}), "99 is not an UploadReason"),
        (lambda: ot.HostPolicy(decline="LOW"), "decline must be a set"),
        (lambda: ot.HostPolicy(uploads_per_call=0), "uploads_per_call must be at least 1"),
        (lambda: ot.HostPolicy(on_link_down="panic"), "on_link_down must be 'terminate'"),
        (lambda: ot.HostPolicy(accept_indicated=1), "accept_indicated must be True or False"),
        (lambda: ot.HostPolicy(offload_rules=("x",)), "holds OffloadRule objects"),
        (lambda: ot.OffloadRule(offload=False, remote_ports=(443, 80)), "give (low, high)"),
        (lambda: ot.OffloadRule(offload=False, local_ports=70000), "in 0..65535"),
        (lambda: ot.OffloadRule(offload=False, destination="10.0.0/33"), "a network like"),
        (lambda: ot.OffloadRule(offload="no"), "offload must be True or False"),
    ],
)
def test_a_bad_policy_is_refused_with_a_reason(make: Any, message: str) -> None:
    with pytest.raises(ot.ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_a_tree_takes_only_a_host_policy(make_tree: Any, backend: str) -> None:
    target = ot.SimulatedTarget()
    with pytest.raises(ot.ValidationError, match="policy must be a HostPolicy"):
        ot.OffloadStateTree(target, backend=backend, policy={"decline": ()})  # type: ignore[arg-type]
    assert not target.attached
    tree = ot.OffloadStateTree(target, backend=backend, policy=ot.HostPolicy(uploads_per_call=3))
    assert tree.policy.uploads_per_call == 3
    with pytest.raises(ot.ValidationError, match="policy must be a HostPolicy"):
        tree.policy = "keep"  # type: ignore[assignment]
    assert tree.policy.uploads_per_call == 3
