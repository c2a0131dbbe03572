"""The soak script runs and checks what it claims (benches/soak.py; issue 11)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parent.parent / "benches" / "soak.py"


def load_soak():
    spec = importlib.util.spec_from_file_location("soak", SOAK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_short_soak_holds_on_both_backends(backend, capsys):
    soak = load_soak()
    args = ["--seconds", "2", "--phase", "0.5", "--threads", "3", "--backend", backend]
    code = soak.main([*args, "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0, summary["problems"]
    assert summary["phases"] >= 2 and summary["operations"] > 0
    assert summary["tokens"] > 0 and summary["bytes_checked"] == 16 * summary["tokens"]
    assert summary["faults_injected"] > 0


def test_the_ledger_catches_a_token_returned_twice(make_tree):
    soak = load_soak()
    ledger = soak.Ledger()
    tree = make_tree()
    nb = tree.add_neighbor(mac=1)
    pa = tree.add_path(nb, source="10.0.0.1", destination="10.0.0.2")
    tc = tree.add_tcp(pa, local_port=1, remote_port=2)
    tree.initiate_offload(tc)
    token = b"0000000000000001"
    tree.target.receive(tc, token)
    ledger.sent.add(token)
    result = tree.terminate(tc)
    ledger.take(result)
    assert soak.check_bytes(tree, ledger, final=True) == []
    ledger.take(result)  # the same bytes counted again: a duplicate
    assert any("more than once" in p for p in soak.check_bytes(tree, ledger, final=True))


@pytest.mark.parametrize("final", [False, True])
def test_the_ledger_catches_a_lost_token(make_tree, final):
    soak = load_soak()
    ledger = soak.Ledger()
    ledger.sent.add(b"0000000000000002")  # "received" but never buffered nor returned
    problems = soak.check_bytes(make_tree(), ledger, final=final)
    assert any("not returned yet" in p for p in problems)
    assert any("never came back" in p for p in problems) == final
