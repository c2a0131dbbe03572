"""The snapshot file: an engine's columns (docs/DESIGN.md §12) in one versioned file
(§12a), shared by both backends.

The container is an uncompressed ZIP archive of NumPy ``.npy`` arrays, one per column, after a
``manifest.json`` that names the format, its version and every column with its type and
length. Both are documented formats that NumPy (the package's one dependency) and any ZIP
tool read; reading executes nothing (no pickle: arrays load with ``allow_pickle=False``);
ZIP's CRC-32 of every member catches corruption; uncompressed members keep writing and
reading at the speed of the disk.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Mapping
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from ._errors import OffloadTreeError
from ._messages import error

__all__ = ["FORMAT", "VERSION", "Columns", "from_bytes", "read", "to_bytes", "write"]

#: The manifest's ``format``: what tells a snapshot from any other ZIP archive.
FORMAT = "offload-tree snapshot"
#: The format version this package writes and reads.
VERSION = 1
_MANIFEST = "manifest.json"
#: The dtypes a column may have (docs/DESIGN.md §12).
_DTYPES = {"uint8", "uint16", "uint32", "uint64", "float64"}

Columns = dict[str, npt.NDArray[Any]]
Source = str | os.PathLike[str] | IO[bytes]


def write(target: Source, columns: Mapping[str, npt.NDArray[Any]], facade: dict[str, Any]) -> None:
    """Write ``columns`` and the facade's own settings (``facade``, JSON) to ``target``."""
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "facade": facade,
        "columns": [[name, str(array.dtype), len(array)] for name, array in columns.items()],
    }
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        archive.writestr(_member(_MANIFEST), json.dumps(manifest, indent=1))
        for name, array in columns.items():
            with archive.open(_member(f"{name}.npy"), "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)


def _member(name: str) -> zipfile.ZipInfo:
    """A member with a fixed date: the same state always makes the same bytes."""
    return zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))


def to_bytes(columns: Mapping[str, npt.NDArray[Any]], facade: dict[str, Any]) -> bytes:
    """The file :func:`write` writes, as bytes (what a pickle holds)."""
    buffer = io.BytesIO()
    write(buffer, columns, facade)
    return buffer.getvalue()


def read(source: Source) -> tuple[Columns, dict[str, Any]]:
    """The columns and facade settings of a snapshot file; ``SnapshotError`` naming what is
    wrong when it is truncated, corrupted, foreign or of another version."""
    if isinstance(source, bytes):
        source = os.fsdecode(source)
    where = _describe(source)
    try:
        with zipfile.ZipFile(source, "r") as archive:
            manifest = _manifest(archive, where)
            columns = {
                name: _column(archive, where, name, dtype, length)
                for name, dtype, length in manifest["columns"]
            }
    except zipfile.BadZipFile as exc:
        raise error(
            "snapshot_file", path=where, problem=f"not a whole ZIP archive ({exc})"
        ) from None
    except (OffloadTreeError, FileNotFoundError, PermissionError, IsADirectoryError):
        raise  # ours already; or about the path, not the file: Python's own say it best
    except Exception as exc:
        # A container this package never writes (compressed, encrypted, absurdly nested,
        # or claiming more memory than there is) is as unreadable as a truncated one.
        problem = f"unreadable ({type(exc).__name__}: {exc})"
        raise error("snapshot_file", path=where, problem=problem) from None
    return columns, manifest["facade"]


def from_bytes(data: bytes) -> tuple[Columns, dict[str, Any]]:
    """:func:`read` of a snapshot held in memory."""
    return read(io.BytesIO(data))


def _describe(source: Source) -> str:
    if isinstance(source, str | os.PathLike):
        return repr(os.fspath(source))
    return "the snapshot data"


def _manifest(archive: zipfile.ZipFile, where: str) -> dict[str, Any]:
    try:
        raw = archive.read(_MANIFEST)
    except KeyError:
        raise error("snapshot_file", path=where, problem=f"it has no {_MANIFEST}") from None
    try:
        manifest = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(
            "snapshot_file", path=where, problem=f"its manifest is not JSON ({exc})"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise error("snapshot_file", path=where, problem="its manifest names another format")
    version = manifest.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version != VERSION:
        raise error("snapshot_version", path=where, found=manifest.get("version"), expected=VERSION)
    columns, facade = manifest.get("columns"), manifest.get("facade")
    well_formed = (
        isinstance(columns, list)
        and isinstance(facade, dict)
        and all(
            isinstance(c, list)
            and len(c) == 3
            and isinstance(c[0], str)
            and c[1] in _DTYPES
            and isinstance(c[2], int)
            and not isinstance(c[2], bool)
            and c[2] >= 0
            for c in columns
        )
    )
    if not well_formed:
        raise error("snapshot_file", path=where, problem="its manifest lists malformed columns")
    return manifest


#: The readers of the .npy header versions NumPy writes for a snapshot's columns.
_HEADERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def _column(
    archive: zipfile.ZipFile, where: str, name: str, dtype: str, length: int
) -> npt.NDArray[Any]:
    member = f"{name}.npy"
    try:
        with archive.open(member) as stream:
            # The header first: a column that claims another shape or type than the
            # manifest lists is refused before anything is allocated for it.
            version = np.lib.format.read_magic(stream)
            header = _HEADERS.get(version)
            if header is None:
                raise ValueError(f".npy format version {version}")
            shape, fortran, declared = header(stream)
            if fortran and len(shape) > 1:
                raise ValueError("a Fortran-ordered array")
            if shape != (length,) or declared != np.dtype(dtype):
                problem = f"column {name!r} is not the {length} {dtype} values its manifest lists"
                raise error("snapshot_file", path=where, problem=problem)
            data = stream.read(length * declared.itemsize)
            if len(data) != length * declared.itemsize:
                raise EOFError(f"{len(data)} bytes of {length * declared.itemsize}")
            array: npt.NDArray[Any] = np.frombuffer(data, dtype=declared).copy()
    except KeyError:
        raise error("snapshot_file", path=where, problem=f"column {name!r} is missing") from None
    except zipfile.BadZipFile as exc:
        problem = f"column {name!r} is corrupted ({exc})"
        raise error("snapshot_file", path=where, problem=problem) from None
    except OffloadTreeError:
        raise
    except Exception as exc:
        problem = f"column {name!r} is not a valid array ({type(exc).__name__}: {exc})"
        raise error("snapshot_file", path=where, problem=problem) from None
    if array.ndim != 1 or array.dtype != np.dtype(dtype) or len(array) != length:
        problem = f"column {name!r} is not the {length} {dtype} values its manifest lists"
        raise error("snapshot_file", path=where, problem=problem)
    return array
