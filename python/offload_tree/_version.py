"""The package's version, declared once: ``[workspace.package] version`` in ``Cargo.toml``.

maturin writes that version into the wheel's metadata (``dynamic = ["version"]`` in
``pyproject.toml``), and the native module is compiled with the same one
(``offload_tree._native.__version__``). An installed package reads its metadata; a source
checkout run without installing (``PYTHONPATH=python``) reads the checkout's ``Cargo.toml``.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

__all__ = ["UNKNOWN", "VERSION", "pep440"]

#: The version reported when neither the metadata nor a checkout's Cargo.toml can be read.
UNKNOWN = "0+unknown"

# Cargo's pre-release words and the PEP 440 segments maturin turns them into.
_PRE_RELEASE = {"alpha": "a", "a": "a", "beta": "b", "b": "b", "rc": "rc"}
_SEMVER = re.compile(
    r"^(?P<release>\d+\.\d+\.\d+)"
    r"(?:-(?P<pre>[A-Za-z]+)\.?(?P<pre_n>\d+)?)?"
    r"(?:\+(?P<local>[0-9A-Za-z.-]+))?$"
)


def pep440(cargo_version: str) -> str:
    """A Cargo (SemVer) version in the PEP 440 form Python metadata uses.

    ``1.2.0-rc.1`` becomes ``1.2.0rc1`` and ``1.2.0-beta.2`` ``1.2.0b2``, as maturin writes
    them; a plain release is unchanged. A form with no PEP 440 equivalent is returned as is,
    so two different versions never compare equal by accident.
    """
    match = _SEMVER.match(cargo_version)
    if match is None:
        return cargo_version
    text = match["release"]
    if match["pre"] is not None:
        segment = _PRE_RELEASE.get(match["pre"].lower())
        if segment is None:
            return cargo_version
        text += f"{segment}{match['pre_n'] or 0}"
    if match["local"] is not None:
        text += "+" + match["local"].replace("-", ".")
    return text


def _checkout_version(root: Path | None = None) -> str | None:
    """The workspace version in the Cargo.toml at ``root``: by default, the source checkout
    this file lies in (``python/offload_tree/`` under it)."""
    cargo_toml = (root or Path(__file__).resolve().parents[2]) / "Cargo.toml"
    try:
        text = cargo_toml.read_text(encoding="utf-8")
    except OSError:
        return None
    # The [workspace.package] table, up to the next table header.
    table = re.search(r"^\[workspace\.package\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if table is None:
        return None
    version = re.search(r'^version\s*=\s*"([^"]+)"', table[1], re.M)
    return pep440(version[1]) if version else None


def _version() -> str:
    try:
        return metadata.version("offload-tree")
    except metadata.PackageNotFoundError:
        return _checkout_version() or UNKNOWN


#: The version of this installation of offload-tree (``offload_tree.__version__``).
VERSION: str = _version()
