"""Snapshots (docs/DESIGN.md §12): copies, pickles and saved files of a tree.

A restored tree must be the original in every observable way, with the same handles, and go
on exactly as the original would: the same later calls give the same results. Files load on
either backend; broken files are refused with a ``SnapshotError`` naming what is wrong, and
nothing is left half-built.
"""

from __future__ import annotations

import copy
import gc
import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import offload_tree as ot
import pytest
from _helpers import BACKENDS, check_invariants, require_backend, snapshot
from _ops import ROUND_TRIPS, TARGET_CONFIGS, PoolInfo, World, apply, copy_tree, operations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from offload_tree import _tree_ids

EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    # `backend` is a plain string: nothing in it needs resetting between examples.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


def _copy_world(world: World, how: str, backend: str) -> World:
    """A world whose tree is a copy of ``world``'s, made ``how``, on ``backend``."""
    copied = copy_tree(world.tree, how, backend)
    twin = copy.copy(world)  # a World: its pool and foreign handles are shared by value
    twin.pool = list(world.pool)
    twin.tree, twin.target, twin.backend = copied, copied.target, copied.backend
    return twin


def _same(a: World, b: World) -> None:
    """Two worlds are the same tree: every observable value and every snapshot column."""
    assert snapshot(a.tree, a.target) == snapshot(b.tree, b.target)
    ca, cb = a.tree._engine.snapshot(), b.tree._engine.snapshot()
    assert list(ca) == list(cb)
    for name in ca:
        assert ca[name].dtype == cb[name].dtype, name
        assert np.array_equal(ca[name], cb[name]), name
    check_invariants(b.tree, b.target)


@st.composite
def histories(draw: st.DrawFn, backend: str) -> tuple[World, list[Any]]:
    """A world after a drawn history, and the operations drawn to run after the copy."""
    world = World(backend, draw(TARGET_CONFIGS))
    for step in range(draw(st.integers(0, 30))):
        apply(world, draw(operations(PoolInfo.of(world), step + 1)))
    later = [draw(operations(PoolInfo.of(world), 100 + i)) for i in range(draw(st.integers(1, 15)))]
    return world, later


@pytest.mark.parametrize("how", ROUND_TRIPS)
@EXAMPLES
@given(data=st.data())
def test_a_restored_tree_goes_on_as_the_original(backend: str, how: str, data: Any) -> None:
    world, later = data.draw(histories(backend))
    twin = _copy_world(world, how, backend)
    assert twin.tree.tree_id == world.tree.tree_id, "a copy keeps its handles"
    _same(world, twin)
    for op in later:
        assert apply(world, op) == apply(twin, op), op[0]
    _same(world, twin)


@EXAMPLES
@given(data=st.data())
def test_a_file_saved_by_one_backend_loads_on_the_other(data: Any) -> None:
    for backend in BACKENDS:
        require_backend(backend)
    source = data.draw(st.sampled_from(BACKENDS))
    other = "python" if source == "native" else "native"
    world, later = data.draw(histories(source))
    twin = _copy_world(world, "save_load", other)
    assert twin.tree.backend == other
    _same(world, twin)
    for op in later:
        assert apply(world, op) == apply(twin, op), op[0]
    _same(world, twin)


def test_both_backends_write_the_same_file() -> None:
    """Byte for byte: a file loaded on the other backend, saved there, and loaded and saved
    again on the first is the same file (only the manifest's backend differs between)."""
    for backend in BACKENDS:
        require_backend(backend)
    target = ot.SimulatedTarget(seed=7)
    tree = ot.OffloadStateTree(target, backend="native")
    nb = tree.add_neighbor(mac="00:15:5d:01:02:03")
    pa = tree.add_path(nb, source="fe80::1", destination="fe80::2", path_mtu=1400)
    tc = tree.add_tcp(pa, local_port=5, remote_port=6, nagle=False)
    tree.initiate_offload([tc])
    target.receive(tc, b"abc")
    tree.send(tc, b"xyz")
    files = [io.BytesIO(), io.BytesIO(), io.BytesIO()]
    tree.save(files[0])
    ot.OffloadStateTree.load(io.BytesIO(files[0].getvalue()), backend="python").save(files[1])
    assert files[1].getvalue() != files[0].getvalue(), "the manifest names the backend"
    ot.OffloadStateTree.load(io.BytesIO(files[1].getvalue()), backend="native").save(files[2])
    assert files[2].getvalue() == files[0].getvalue()


def test_copies_are_independent(make_example: Any) -> None:
    ex = make_example()
    tree, target = ex.tree, ex.target
    tree.initiate_offload([ex.tc1, ex.tc2])
    twin = copy.deepcopy(tree)
    assert twin.target is not target and twin._engine is not tree._engine
    twin.terminate(ex.nb1)
    assert tree.is_offloaded(ex.tc1) and not twin.is_offloaded(ex.tc1)
    tree.remove(ex.tc3)
    assert ex.tc3 in twin and ex.tc3 not in tree


def test_deepcopy_keeps_a_tree_and_its_target_together(tree: Any) -> None:
    copied_tree, copied_target = copy.deepcopy([tree, tree.target])
    assert copied_tree.target is copied_target


def test_a_target_travels_with_its_tree(backend: str) -> None:
    """Anything holding a tree and its target pickles and copies whole, in any order, and
    the copy's target is the copied tree's."""
    tree = ot.OffloadStateTree(backend=backend)
    nb = tree.add_neighbor(mac=1)
    for holder in ([tree, tree.target], [tree.target, tree], {"t": tree.target, "x": tree}):
        for copied in (pickle.loads(pickle.dumps(holder)), copy.deepcopy(holder)):
            items = list(copied.values()) if isinstance(copied, dict) else copied
            trees = [i for i in items if isinstance(i, ot.OffloadStateTree)]
            targets = [i for i in items if isinstance(i, ot.SimulatedTarget)]
            assert trees[0].target is targets[0] and targets[0] is not tree.target
            assert nb in trees[0]
    # Alone, a target's copy comes with a copy of its tree that nothing holds: once that
    # is collected the copy is detached, a target with the same configuration.
    alone = pickle.loads(pickle.dumps(tree.target))
    gc.collect()
    assert not alone.attached and alone is not tree.target
    assert alone.tcp_capacity == tree.target.tcp_capacity
    config = ot.SimulatedTarget(tcp_capacity=3, seed=9)
    assert copy.copy(config).tcp_capacity == 3 and not copy.copy(config).attached
    assert pickle.loads(pickle.dumps(config)).seed == 9


def test_a_target_whose_tree_is_gone_copies_as_its_configuration(backend: str) -> None:
    target = ot.SimulatedTarget(tcp_capacity=4)
    ot.OffloadStateTree(target, backend=backend)  # dropped at once: the target is detached
    gc.collect()
    for copied in (copy.copy(target), copy.deepcopy(target), pickle.loads(pickle.dumps(target))):
        assert not copied.attached and copied.tcp_capacity == 4


def test_a_file_of_another_family_never_takes_a_live_trees_id(backend: str) -> None:
    """A file whose tree id a live, unrelated tree holds loads under a fresh id: that tree's
    handles stay foreign to it (the case of a file made in another process)."""
    original = ot.OffloadStateTree(backend=backend)
    nb = original.add_neighbor(mac=5)
    buffer = io.BytesIO()
    original.save(buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members["manifest.json"])
    manifest["facade"]["family"] += 1  # another family: as if saved by another process
    members["manifest.json"] = json.dumps(manifest).encode()
    edited = io.BytesIO()
    with zipfile.ZipFile(edited, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    stranger = ot.OffloadStateTree.load(io.BytesIO(edited.getvalue()), backend=backend)
    assert stranger.tree_id != original.tree_id
    with pytest.raises(ot.InvalidHandleError, match="belongs to another tree"):
        stranger.state(nb)
    own = int(stranger.handles()[0])
    assert own & ((1 << 48) - 1) == nb & ((1 << 48) - 1), "the same object, moved to its id"
    assert stranger.state(own).mac == original.state(nb).mac
    twin = ot.OffloadStateTree.load(io.BytesIO(buffer.getvalue()), backend=backend)
    assert twin.tree_id == original.tree_id, "the same family shares its id"


def test_a_restored_tree_keeps_its_settings(backend: str) -> None:
    policy = ot.HostPolicy(
        decline=frozenset({ot.UploadReason.LOW_ACTIVITY}),
        uploads_per_call=3,
        on_link_down="keep",
        offload_rules=(
            ot.OffloadRule(offload=False, remote_ports=(20, 22), destination="10.1.0.0/16"),
            ot.OffloadRule(offload=True, local_ports=(443, 443), destination="10.2.0.7/32"),
        ),
    )
    target = ot.SimulatedTarget(tcp_capacity=9, max_path_mtu=9000, fail_rate=0.25, seed=5)
    tree = ot.OffloadStateTree(target, backend=backend, threads=3, ticks_per_second=100,
                               release_unreferenced=False, policy=policy)  # fmt: skip
    tree.advance(250)
    buffer = io.BytesIO()
    tree.save(buffer)
    loaded = ot.OffloadStateTree.load(io.BytesIO(buffer.getvalue()), backend=backend)
    for restored in (copy.copy(tree), pickle.loads(pickle.dumps(tree)), loaded):
        assert restored.policy == policy, "the user's own forms come back"
        assert restored.threads == 3
        assert (restored.now, restored.ticks_per_second) == (250, 100)
        assert restored.release_unreferenced is False
        t = restored.target
        assert (t.tcp_capacity, t.max_path_mtu, t.fail_rate, t.seed) == (9, 9000, 0.25, 5)


def test_a_shared_tree_id_lives_until_the_last_tree(backend: str) -> None:
    tree = ot.OffloadStateTree(backend=backend)
    before = _tree_ids.live_count()
    twin = copy.copy(tree)
    assert twin.tree_id == tree.tree_id
    assert _tree_ids.live_count() == before, "a copy shares its original's id"
    nb = twin.add_neighbor(mac=1)
    assert nb not in tree, "same handles, not the same objects"


# -- broken files --------------------------------------------------------------------------


@pytest.fixture
def saved(make_example: Any, tmp_path: Path) -> Path:
    ex = make_example()
    ex.tree.initiate_offload([ex.tc1])
    ex.target.receive(ex.tc1, b"payload")
    path = tmp_path / "tree.ots"
    ex.tree.save(path)
    return path


def _load_fails(path: Path | io.BytesIO, backend: str, match: str) -> None:
    gc.collect()  # trees of earlier tests give their ids back now, not during the load
    live = _tree_ids.live_count()
    with pytest.raises(ot.SnapshotError, match=match):
        ot.OffloadStateTree.load(path, backend=backend)
    gc.collect()
    assert _tree_ids.live_count() == live, "a failed load holds no tree id"


def test_a_saved_file_loads(saved: Path, backend: str) -> None:
    tree = ot.OffloadStateTree.load(saved, backend=backend)
    assert tree.backend == backend and len(tree) == 6
    assert tree.terminate(tree.handles(ot.Layer.NEIGHBOR)).total_received == len(b"payload")


@pytest.mark.parametrize("keep", [0, 10, 100, 1000, -200, -22, -1])
def test_a_truncated_file_is_refused(saved: Path, backend: str, keep: int, tmp_path: Path) -> None:
    data = saved.read_bytes()
    cut = tmp_path / "cut.ots"
    cut.write_bytes(data[:keep])
    _load_fails(cut, backend, "is not an offload-tree snapshot")


def test_a_corrupted_column_is_refused(saved: Path, backend: str, tmp_path: Path) -> None:
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as archive:
        info = archive.getinfo("received.data.npy")
    # The member's data starts after its local header (30 bytes, name, extra field).
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    at = data.index(b"payload", start)
    data[at] ^= 0xFF
    broken = tmp_path / "broken.ots"
    broken.write_bytes(bytes(data))
    _load_fails(broken, backend, r"column 'received.data' is corrupted")


def test_a_foreign_file_is_refused(backend: str, tmp_path: Path) -> None:
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("manifest.json", json.dumps({"format": "something else"}))
    _load_fails(other, backend, "names another format")
    text = tmp_path / "text.ots"
    text.write_text("hello")
    _load_fails(text, backend, "not a whole ZIP archive")
    _load_fails(io.BytesIO(pickle.dumps({"a": 1})), backend, "not a whole ZIP archive")


def _rewrite(saved: Path, tmp_path: Path, edit: Any) -> Path:
    """A copy of the saved file with its manifest or one column changed by ``edit``."""
    with zipfile.ZipFile(saved) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    edit(members)
    out = tmp_path / "edited.ots"
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out


def test_another_version_is_named(saved: Path, backend: str, tmp_path: Path) -> None:
    def bump(members: dict[str, bytes]) -> None:
        manifest = json.loads(members["manifest.json"])
        manifest["version"] = 2
        members["manifest.json"] = json.dumps(manifest).encode()

    _load_fails(
        _rewrite(saved, tmp_path, bump),
        backend,
        "format version 2; this offload-tree reads version 1",
    )


def _replace_column(name: str, values: np.ndarray[Any, Any]) -> Any:
    def edit(members: dict[str, bytes]) -> None:
        manifest = json.loads(members["manifest.json"])
        for column in manifest["columns"]:
            if column[0] == name:
                column[1:] = [str(values.dtype), len(values)]
        members["manifest.json"] = json.dumps(manifest).encode()
        buffer = io.BytesIO()
        np.save(buffer, values, allow_pickle=False)
        members[f"{name}.npy"] = buffer.getvalue()

    return edit


def test_an_object_array_is_refused_without_unpickling(
    saved: Path, backend: str, tmp_path: Path
) -> None:
    def edit(members: dict[str, bytes]) -> None:
        buffer = io.BytesIO()
        np.save(buffer, np.array([object()], dtype=object), allow_pickle=True)
        members["tcp.handle.npy"] = buffer.getvalue()

    _load_fails(_rewrite(saved, tmp_path, edit), backend, r"column 'tcp.handle' is not the 3")


#: Columns replaced by values that break a rule, and what the error must say.
BROKEN = [
    ("tcp.path", [1, 2, 3], np.uint64, r"column 'tcp.path': row 0 depends on no live object"),
    ("path.path_mtu", [1, 1500], np.uint16, r"column 'path.path_mtu'"),
    ("tcp.generations", [0, 0], np.uint16, r"column 'tcp.(generations|handle)'"),
    ("received.length", [3], np.uint64, r"column 'received.data'"),
    ("clock", [0, 7, 0], np.uint64, r"column 'clock': ticks_per_second must be 10, 100 or 1000"),
    ("event.kind", [200], np.uint8, r"column 'event.(kind|handle)'"),
    (
        "tcp.local_port",
        [1, 2, 3],
        np.uint32,
        r"column 'tcp.local_port' holds uint32, expected uint16",
    ),
    ("neighbor.mac", [], np.uint64, r"column 'neighbor.mac' has 0 values, expected 1"),
]


@pytest.mark.parametrize(("column", "values", "dtype", "match"), BROKEN)
def test_an_inconsistent_snapshot_names_its_column(
    saved: Path, backend: str, tmp_path: Path, column: str, values: Any, dtype: Any, match: str
) -> None:
    edit = _replace_column(column, np.array(values, dtype=dtype))
    _load_fails(_rewrite(saved, tmp_path, edit), backend, f"snapshot {match}")


def test_a_missing_column_is_named(saved: Path, backend: str, tmp_path: Path) -> None:
    def drop(members: dict[str, bytes]) -> None:
        manifest = json.loads(members["manifest.json"])
        manifest["columns"] = [c for c in manifest["columns"] if c[0] != "counts"]
        members["manifest.json"] = json.dumps(manifest).encode()
        del members["counts.npy"]

    _load_fails(_rewrite(saved, tmp_path, drop), backend, "the snapshot has no column 'counts'")


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ([1], "list"),
        (np.uint16(1), "a uint16 scalar"),
        (np.array([1], dtype=">u2"), "uint16 (big-endian)"),
        (np.ma.masked_array(np.array([1], dtype=np.uint16)), "MaskedArray"),
        (np.array([[1]], dtype=np.uint16), None),
        (np.array([1], dtype=np.int64), "int64"),
    ],
)
def test_both_engines_name_what_a_column_holds(backend: str, value: Any, found: Any) -> None:
    """The same words on both backends for a column of the wrong kind."""
    tree = ot.OffloadStateTree(backend=backend)
    columns = dict(tree._engine.snapshot())
    columns["tree.id"] = value
    with pytest.raises(ot.SnapshotError, match=r"snapshot column 'tree\.id'") as info:
        type(tree._engine).restore(columns)
    if found is not None:
        assert str(info.value) == f"snapshot column 'tree.id' holds {found}, expected uint16"


def _stored_as(saved: Path, tmp_path: Path, member: str, **info: Any) -> Path:
    """A copy of the saved file with one member rewritten with other ZIP settings."""
    with zipfile.ZipFile(saved) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    out = tmp_path / "restored.ots"
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            entry = zipfile.ZipInfo(name)
            if name == member:
                for key, value in info.items():
                    setattr(entry, key, value)
            archive.writestr(entry, content)
    return out


def test_containers_this_package_never_writes_are_refused(
    saved: Path, backend: str, tmp_path: Path
) -> None:
    """Compressed and corrupted, encrypted, of an unknown method: a SnapshotError each."""
    deflated = _stored_as(saved, tmp_path, "manifest.json", compress_type=zipfile.ZIP_DEFLATED)
    data = bytearray(deflated.read_bytes())
    data[60:80] = bytes(20)
    deflated.write_bytes(bytes(data))
    _load_fails(deflated, backend, "is not an offload-tree snapshot")
    # The central directory's entry of the first member (the manifest): its flags at offset
    # 8 (bit 0: encrypted), its compression method at offset 10.
    for offset, value in ((8, 0x1), (10, 99)):
        data = bytearray(saved.read_bytes())
        entry = data.index(b"PK\x01\x02")
        data[entry + offset : entry + offset + 2] = value.to_bytes(2, "little")
        broken = tmp_path / f"broken-{offset}.ots"
        broken.write_bytes(bytes(data))
        _load_fails(broken, backend, "is not an offload-tree snapshot")


def test_a_column_claiming_a_huge_shape_is_refused_before_allocating(
    saved: Path, backend: str, tmp_path: Path
) -> None:
    def inflate(members: dict[str, bytes]) -> None:
        header = members["tcp.handle.npy"]
        members["tcp.handle.npy"] = header.replace(b"(3,)", b"(100000000000000,)", 1)

    _load_fails(_rewrite(saved, tmp_path, inflate), backend, r"column 'tcp.handle' is not the 3")


def test_a_deeply_nested_manifest_is_refused(saved: Path, backend: str, tmp_path: Path) -> None:
    def nest(members: dict[str, bytes]) -> None:
        members["manifest.json"] = b"[" * 200_000 + b"]" * 200_000

    _load_fails(_rewrite(saved, tmp_path, nest), backend, "is not an offload-tree snapshot")
