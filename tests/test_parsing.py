"""Address parsing (docs/DESIGN.md §4): both engines accept exactly the documented forms.

IP text is checked against Python's ``ipaddress`` as the oracle (an IPv4 dotted quad without
leading zeros, IPv6 text), except that a scope id (``%eth0``), which ``ipaddress`` accepts,
is refused. MAC text is six two-digit hex octets with one separator, ':' or '-'.
"""

from __future__ import annotations

import ipaddress

import offload_tree as ot
import pytest

IP_TEXTS = [
    "0.0.0.0",
    "255.255.255.255",
    "1.2.3.4",
    "256.1.1.1",
    "1.2.3",
    "1.2.3.4.5",
    "1.02.3.4",
    "1.2.3.00",
    "01.2.3.4",
    " 1.2.3.4",
    "1.2.3.4\n",
    "+1.2.3.4",
    "1.2.3.-4",
    "0x1.2.3.4",
    "1..3.4",
    "::",
    "::1",
    "1::",
    "FE80::1",
    "fe80::1%1",
    "fe80::1%eth0",
    "[::1]",
    "1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7::",
    "::2:3:4:5:6:7:8",
    "1:2:3:4:5:6:1.2.3.4",
    "::ffff:1.2.3.4",
    "::ffff:256.1.1.1",
    "::ffff:1.02.3.4",
    "1:2:3:4:5:6:7:1.2.3.4",
    "00000::1",
    "0000::1",
    ":1::",
    "1:::2",
    "1::2::3",
    "::g",
    "",
    "1.2.3.4/32",
]


def oracle(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if "%" in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@pytest.fixture
def nb(tree):
    return tree.add_neighbor(mac=1)


@pytest.mark.parametrize("text", IP_TEXTS)
def test_ip_text_is_parsed_like_ipaddress(tree, nb, text):
    expected = oracle(text)
    if expected is None:
        with pytest.raises(ot.ValidationError):
            tree.add_path(nb, source=text, destination=text)
        assert len(tree.dependents(nb)) == 0
    else:
        st = tree.state(tree.add_path(nb, source=text, destination=text))
        assert st.source == expected and st.destination == expected
        assert type(st.source) is type(expected)


MAC_TEXTS = {
    "00:15:5d:01:02:03": 0x00155D010203,
    "00-15-5D-01-02-03": 0x00155D010203,
    "ff:FF:fF:Ff:ff:ff": 0xFFFFFFFFFFFF,
    "0:15:5d:1:2:3": None,
    "00:15:5d:01:02:03:": None,
    ":00:15:5d:01:02:03": None,
    "00:15:5d:01:02:3": None,
    "00:15:5d:01:02:003": None,
    "00.15.5d.01.02.03": None,
    "00155d010203": None,
    "0015.5d01.0203": None,
    "00:15-5d:01:02:03": None,
    " 00:15:5d:01:02:03": None,
    "00:15:5d:01:02:03\n": None,
    "00:15:5d:01:02:0g": None,
    "+0:15:5d:01:02:03": None,
}


@pytest.mark.parametrize("text", list(MAC_TEXTS))
def test_mac_text_forms(tree, text):
    expected = MAC_TEXTS[text]
    if expected is None:
        with pytest.raises(ot.ValidationError):
            tree.add_neighbor(mac=text)
        assert len(tree) == 0
    else:
        h = tree.add_neighbor(mac=text)
        assert tree.state(h).mac == ":".join(f"{expected:012x}"[i : i + 2] for i in range(0, 12, 2))


@pytest.mark.parametrize("text", list(MAC_TEXTS))
def test_mac_text_forms_in_batches_and_updates(tree, text):
    expected = MAC_TEXTS[text]
    nb = tree.add_neighbor(mac=1)
    if expected is None:
        with pytest.raises(ot.ValidationError):
            tree.add_neighbors([text])
        with pytest.raises(ot.ValidationError):
            tree.update(nb, mac=text)
        assert len(tree) == 1 and tree.state(nb).mac == "00:00:00:00:00:01"
    else:
        (h,) = tree.add_neighbors([text])
        tree.update(nb, mac=text)
        assert tree.state(int(h)).mac == tree.state(nb).mac


@pytest.mark.parametrize("text", ["1.2.3.4", "::ffff:1.2.3.4", "fe80::1%1", "01.2.3.4"])
def test_ip_text_in_batches_matches_single_adds(tree, nb, text):
    expected = oracle(text)
    if expected is None:
        with pytest.raises(ot.ValidationError):
            tree.add_paths([nb], [text], [text])
    else:
        (h,) = tree.add_paths([nb], [text], [text])
        assert tree.state(int(h)).source == expected
