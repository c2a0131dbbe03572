"""Results as columns: ``tree.states``, ``tree.edges``, ``QueryResult.to_dict``,
``TerminateResult.to_dict``, ``BlockList.to_dict`` and flat statistics. Each column is
checked against the per-object API it summarises, and the frames of pandas, polars and
pyarrow are built where those libraries are installed.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import numpy as np
import offload_tree as ot
import pytest
from _helpers import record_dict


def _example(tree: Any, target: Any) -> dict[str, int]:
    nb = tree.add_neighbor(mac="00:15:5d:01:02:03", vlan_id=7, source_mac="02:00:00:00:00:01")
    nb2 = tree.add_neighbor(mac=0x0200_0000_0009)
    p4 = tree.add_path(nb, source="10.0.0.1", destination="192.168.200.9", path_mtu=1400)
    p6 = tree.add_path(nb2, source="fe80::1", destination="2001:db8::42")
    t1 = tree.add_tcp(p4, local_port=49152, remote_port=443, nagle=False, ttl_or_hop_limit=64)
    t2 = tree.add_tcp(p4, local_port=49153, remote_port=443)
    t3 = tree.add_tcp(p6, local_port=1, remote_port=2)
    tree.initiate_offload([t1, t3])
    target.receive(t1, b"hello")
    target.send(t1, 100)
    return {"nb": nb, "nb2": nb2, "p4": p4, "p6": p6, "t1": t1, "t2": t2, "t3": t3}


def _as_python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


@pytest.mark.parametrize("layer", list(ot.Layer))
def test_states_hold_what_state_reads(make_pair: Any, layer: ot.Layer) -> None:
    tree, target = make_pair()
    _example(tree, target)
    columns = tree.states(layer)
    handles = tree.handles(layer)
    assert np.array_equal(columns["handle"], handles), "walk order"
    assert all(len(values) == len(handles) for values in columns.values())
    for i, h in enumerate(handles.tolist()):
        record = record_dict(tree.state(h))
        parent = tree.depends_on(h)
        assert columns["parent"][i] == (0 if parent is None else parent)
        assert columns["offloaded"][i] == tree.is_offloaded(h)
        for name, values in columns.items():
            if name in ("handle", "parent", "offloaded", "family"):
                continue
            got, expected = _as_python(values[i]), record[name]
            if name in ("mac", "source_mac"):
                expected = 2**64 - 1 if expected is None else int(expected.replace(":", ""), 16)
            if name in ("source", "destination"):
                expected = str(ipaddress.ip_address(expected))
            assert got == expected, f"{name} of {h:#x}"


def test_state_columns_have_their_ranges_types(tree: Any) -> None:
    _example(tree, tree.target)
    tcp = tree.states("tcp")
    assert tcp["local_port"].dtype == np.uint16
    assert tcp["nagle"].dtype == np.bool_ and tcp["state"].dtype == np.uint8
    assert tcp["rcv_nxt"].dtype == np.uint32 and tcp["handle"].dtype == np.uint64
    paths = tree.states(ot.Layer.PATH)
    assert paths["source"].tolist() == ["10.0.0.1", "fe80::1"]
    assert paths["destination"].tolist() == ["192.168.200.9", "2001:db8::42"]
    assert paths["family"].tolist() == [4, 6]
    neighbors = tree.states(0)
    assert neighbors["mac"].tolist() == [0x00155D010203, 0x020000000009]
    assert neighbors["source_mac"].tolist() == [0x020000000001, 2**64 - 1]
    with pytest.raises(ot.ValidationError, match="layer must be"):
        tree.states(None)
    with pytest.raises(ot.ValidationError, match="layer must be"):
        tree.states("conn")


def test_an_empty_tree_has_empty_columns(tree: Any) -> None:
    columns = tree.states("tcp")
    assert len(columns["handle"]) == 0 and "rcv_nxt" in columns
    assert tree.edges()["dependent"].size == 0


def test_edges_are_the_links(make_pair: Any) -> None:
    tree, target = make_pair()
    ex = _example(tree, target)
    edges = tree.edges()
    assert edges["dependent"].tolist() == [ex["p4"], ex["t1"], ex["t2"], ex["p6"], ex["t3"]]
    assert edges["depends_on"].tolist() == [ex["nb"], ex["p4"], ex["p4"], ex["nb2"], ex["p6"]]


def test_query_to_dict_is_the_delegated_state(make_pair: Any) -> None:
    tree, target = make_pair()
    ex = _example(tree, target)
    result = tree.query([ex["t1"], ex["t3"], ex["nb"]])
    columns = result.to_dict()
    assert columns["handle"].tolist() == [ex["t1"], ex["t3"]]
    for i, h in enumerate(columns["handle"].tolist()):
        for name, value in result.delegated(h).items():
            assert columns[name][i] == value, name
    assert result.column("rcv_nxt").tolist() == [5, 0]
    assert result.to_dict(ot.Layer.NEIGHBOR)["nic_reachability_delta"].tolist() == [0]
    assert list(result.to_dict("path")) == ["handle", "status"]
    with pytest.raises(KeyError, match="no column 'nope'; the columns are handle, status"):
        result.column("nope")


def test_a_failed_query_row_is_left_out(make_pair: Any) -> None:
    tree, target = make_pair()
    ex = _example(tree, target)
    target.inject_fault(ex["t1"], ot.Status.FAILURE, operation="query")
    result = tree.query([ex["t1"], ex["t3"]])
    assert result.to_dict()["handle"].tolist() == [ex["t3"]]


def test_terminate_to_dict_is_what_came_back(make_pair: Any) -> None:
    tree, target = make_pair()
    ex = _example(tree, target)
    done = tree.terminate([ex["nb"], ex["nb2"]])
    columns = done.to_dict()
    assert sorted(columns["handle"].tolist()) == sorted([ex["t1"], ex["t3"]])
    for i, h in enumerate(columns["handle"].tolist()):
        assert columns["snd_nxt"][i] == done.delegated(h)["snd_nxt"]
    assert columns["status"].tolist() == [0, 0]


def test_block_list_to_dict(make_pair: Any) -> None:
    tree, target = make_pair()
    ex = _example(tree, target)
    result = tree.initiate_offload([ex["t2"]])
    blocks = result.blocks.to_dict()
    # The neighbor is offloaded and the path too: the list starts at the referenced path.
    assert blocks["handle"].tolist() == [ex["p4"], ex["t2"]]
    assert blocks["referenced"].tolist() == [True, False]
    assert blocks["status"].tolist() == [0, 0]
    assert blocks["next"].tolist() == [-1, -1] and blocks["dependent"].tolist() == [1, -1]
    assert blocks["layer"].tolist() == [1, 2] and blocks["depth"].tolist() == [0, 1]
    assert "status" not in tree.block_list([ex["t2"]]).to_dict()


def test_flat_stats_keep_every_counter(make_pair: Any) -> None:
    tree, target = make_pair()
    _example(tree, target)
    flat = tree.stats(flat=True)
    nested = tree.stats()
    assert flat["layers.tcp.offloaded"] == nested["layers"]["tcp"]["offloaded"] == 2
    assert flat["operations.initiate_offload.requested"] == 6  # two trees of three blocks
    assert all(not isinstance(v, dict) for v in flat.values())
    assert target.stats(flat=True)["offloaded.tcp"] == 2
    assert target.stats(flat=True)["bytes_buffered"] == 5


@pytest.mark.parametrize("module", ["pandas", "polars", "pyarrow"])
def test_dataframes_take_the_columns(make_pair: Any, module: str) -> None:
    """Each library where it is installed (the ``test`` and ``frames`` extras install all
    three): the dicts go in as they are, with their columns, rows and types."""
    lib = pytest.importorskip(
        module, reason=f"{module} is not installed (pip install 'offload-tree[frames]')"
    )
    tree, target = make_pair()
    ex = _example(tree, target)
    make = lib.table if module == "pyarrow" else lib.DataFrame
    frame = make(tree.states("tcp"))
    names = list(frame.column_names if module == "pyarrow" else frame.columns)
    assert names == list(tree.states("tcp"))
    rows = frame.num_rows if module == "pyarrow" else len(frame)
    assert rows == 3
    queried = make(tree.query([ex["t1"]]).to_dict())
    assert (queried.num_rows if module == "pyarrow" else len(queried)) == 1
    paths = make(tree.states("path"))
    source = paths["source"].to_pylist() if module == "pyarrow" else list(paths["source"])
    assert source == ["10.0.0.1", "fe80::1"]
    stats = (
        make([tree.stats(flat=True)])
        if module != "pyarrow"
        else lib.Table.from_pylist([tree.stats(flat=True)])
    )
    assert "layers.tcp.live" in (stats.column_names if module == "pyarrow" else list(stats.columns))
