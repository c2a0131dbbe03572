"""Checked by mypy and pyright, never run: what the checkers see of the public API.

The ``assert_type`` lines pin each type (a precise one, never ``Any``, which would pass
anything). Each line marked ``# error: WORD`` must be reported by both checkers, with WORD in
the message, and no other line may be: ``tests/test_typing_user.py`` compares the lines.
"""

from __future__ import annotations

import offload_tree as ot
from offload_tree import linux
from typing_extensions import assert_type

tree = ot.OffloadStateTree()
target = tree.target
nb = tree.add_neighbor("00:15:5d:01:02:03")
path = tree.add_path(nb, "10.0.0.1", "10.0.0.9")
tc = tree.add_tcp(path, 49152, 443)
flag = bool(len(tree))

# Typed handles, and the record each gives.
assert_type(nb, ot.NeighborHandle)
assert_type(path, ot.PathHandle)
assert_type(tc, ot.TcpHandle)
assert_type(tree.state(tc), ot.TcpState)
assert_type(tree.state(path), ot.PathState)
assert_type(tree.state(nb), ot.NeighborState)
assert_type(tree.state(int(tc)), ot.StateRecord)
assert_type(tree.depends_on(tc), ot.PathHandle)
assert_type(tree.depends_on(path), ot.NeighborHandle)
assert_type(tree.depends_on(int(tc)), int | None)
assert_type(tree.find_path("10.0.0.1", "10.0.0.9"), ot.PathHandle | None)
assert_type(tree.find_tcp("10.0.0.1", "10.0.0.9", 49152, 443), ot.TcpHandle | None)
assert_type(tree.disconnect(tc, abortive=True), ot.TerminateResult)
assert_type(tree.disconnect(tc, abortive=flag), ot.TerminateResult | None)
host = linux.snapshot()
assert_type(host.connections, dict[ot.TcpHandle, linux.FourTuple])
assert_type(host.neighbors, dict[ot.NeighborHandle, linux.NextHop])

# Results.
assert_type(tree.initiate_offload([tc]).status(tc), ot.Status)
assert_type(tree.update([path], path_mtu=9000).status(path), ot.Status)
assert_type(tree.terminate(nb).received_data(tc), bytes)
assert_type(tree.query(tc).delegated(tc), dict[str, int])

# Statistics.
assert_type(tree.stats(), ot.TreeStats)
assert_type(tree.stats(flat=True), dict[str, int | None])
assert_type(tree.stats(flat=flag), ot.TreeStats | dict[str, int | None])
assert_type(tree.stats()["layers"]["tcp"], ot.LayerStats)
assert_type(tree.stats()["layers"]["tcp"]["capacity"], int | None)
assert_type(tree.stats()["operations"]["update"], ot.OperationStats)
assert_type(tree.stats()["operations"]["update"]["failed"], dict[str, int])
assert_type(tree.stats()["references"]["path"], ot.ReferenceStats)
assert_type(tree.stats()["bytes"]["posted"], int)
assert_type(target.stats(), ot.TargetStats)
assert_type(target.stats()["paused"], bool)
assert_type(target.stats()["capacity"]["tcp"], int | None)
assert_type(target.stats()["faults_pending_by_operation"]["query"], int)
assert_type(target.stats(flat=True), dict[str, int | None])

# What both checkers must refuse.
print(tree.state(path).snd_nxt)  # error: snd_nxt
print(tree.state(nb).path_mtu)  # error: path_mtu
print(tree.state(tc).vlan_id)  # error: vlan_id
print(tree.state(int(tc)).snd_nxt)  # error: snd_nxt
print(tree.state(tree.depends_on(tc)).snd_nxt)  # error: snd_nxt
print(tree.stats()["layers"]["tcpp"])  # error: LayersStats
print(tree.stats()["bytes"]["sent"])  # error: ByteStats
print(target.stats()["references"])  # error: TargetStats
print(tree.disconnect(tc).terminated)  # error: None
tree.terminate("oops")  # error: terminate
tree.initiate_offload(None)  # error: initiate_offload
target.receive_many("tc", b"x", 1)  # error: receive_many
