"""One version, declared once in Cargo.toml: the package metadata, ``offload_tree.__version__``
and the native module agree, and the loader refuses a native module of another version."""

from __future__ import annotations

import importlib
import re
import sys
import warnings
from importlib import metadata
from pathlib import Path

import offload_tree as ot
import pytest
from _helpers import require_backend
from offload_tree import _backend, _version

if sys.version_info >= (3, 11):
    import tomllib
else:  # the test extra installs tomli on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def _cargo_version() -> str:
    with (ROOT / "Cargo.toml").open("rb") as f:
        return str(tomllib.load(f)["workspace"]["package"]["version"])


def test_the_version_is_declared_once():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = tomllib.loads(pyproject)["project"]
    assert "version" not in project
    assert project["dynamic"] == ["version"]
    # Both crates inherit the workspace's version rather than declaring their own.
    for crate in ("core", "python"):
        with (ROOT / "crates" / crate / "Cargo.toml").open("rb") as f:
            assert tomllib.load(f)["package"]["version"] == {"workspace": True}, crate


def test_package_version_is_the_cargo_version():
    assert ot.__version__ == _version.pep440(_cargo_version())
    assert metadata.version("offload-tree") == ot.__version__


def test_a_checkout_reads_its_cargo_toml(tmp_path):
    """Run from a source tree without installing, the version comes from Cargo.toml."""
    assert _version._checkout_version(ROOT) == _version.pep440(_cargo_version())
    (tmp_path / "Cargo.toml").write_text(
        '[package]\nversion = "7.7.7"\n\n[workspace.package]\nedition = "2021"\n'
        'version = "1.4.0-rc.2"\n\n[profile.release]\nversion = "8.8.8"\n',
        encoding="utf-8",
    )
    assert _version._checkout_version(tmp_path) == "1.4.0rc2"
    (tmp_path / "Cargo.toml").write_text('[package]\nversion = "7.7.7"\n', encoding="utf-8")
    assert _version._checkout_version(tmp_path) is None
    assert _version._checkout_version(tmp_path / "missing") is None


def test_native_module_has_the_package_version():
    require_backend("native")
    native = importlib.import_module("offload_tree._native")
    assert _version.pep440(native.__version__) == ot.__version__


@pytest.mark.parametrize(
    ("cargo", "python"),
    [
        ("0.1.0", "0.1.0"),
        ("1.2.3-rc.1", "1.2.3rc1"),
        ("1.2.3-beta.2", "1.2.3b2"),
        ("1.2.3-alpha.4", "1.2.3a4"),
        ("1.2.3-rc", "1.2.3rc0"),
        ("1.2.3+build.5", "1.2.3+build.5"),
        ("1.2.3-pre.1", "1.2.3-pre.1"),  # no PEP 440 form: compared as written
        ("not a version", "not a version"),
    ],
)
def test_pep440_form_of_cargo_versions(cargo, python):
    assert _version.pep440(cargo) == python


def test_a_native_module_of_another_version_is_refused():
    _backend.check_native_version(ot.__version__, ot.__version__)
    with pytest.raises(ImportError) as info:
        _backend.check_native_version("9.9.9", "0.1.0")
    message = str(info.value)
    assert "version 9.9.9" in message and "version 0.1.0" in message
    assert "stale build" in message and "OFFLOAD_TREE_BACKEND=python" in message
    # A checkout whose version cannot be read cannot compare, and does not refuse.
    _backend.check_native_version("9.9.9", _version.UNKNOWN)


def test_the_loader_checks_the_native_version(monkeypatch):
    require_backend("native")
    native = importlib.import_module("offload_tree._native")
    monkeypatch.setattr(native, "__version__", "9.9.9")
    with pytest.raises(ImportError, match=r"_native is version 9\.9\.9"):
        _backend.engine_class("native")
    with pytest.raises(ImportError, match="stale build"):
        ot.OffloadStateTree(backend="native")
    # Chosen automatically, the stale module is passed over for the fallback, with a warning
    # that says why.
    monkeypatch.delenv(_backend.ENV_VAR, raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _backend._select() == "python"
    assert any(re.search(r"fallback.*stale build", str(w.message)) for w in caught)
    # Forced by the environment, it is an error at once.
    monkeypatch.setenv(_backend.ENV_VAR, "native")
    with pytest.raises(ImportError, match="stale build"):
        _backend._select()
