"""Coercion of user input into the engine's input types (docs/DESIGN.md §4).

Both engines receive exactly what these functions produce: a single handle as a Python
``int``, many handles as a 1-D C-contiguous ``uint64`` ndarray, integer field arrays as 1-D
``int64`` ndarrays. Everything the user may hand over is checked here, so that the two
engines only ever see well-typed input (the contract of ``_engine.Engine``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sized
from typing import Any, TypeGuard

import numpy as np
import numpy.typing as npt

from ._enums import Layer
from ._errors import InvalidHandleError, ValidationError
from ._fields import BOOL, CACHED, FIELD_BY_NAME, MAC, FieldSpec
from ._messages import error

__all__ = [
    "HANDLE_MAX",
    "MAX_BATCH",
    "as_bool",
    "as_field_array",
    "as_handle",
    "as_handles",
    "as_int_array",
    "as_layer",
    "as_optional_bool",
    "as_payload",
    "as_required_layer",
    "check_batch",
    "check_length",
    "format_handle",
    "known_length",
    "plain_scalar",
]

HANDLE_MAX = 2**64 - 1
#: The most objects one call may name or create: ``MAX_BATCH`` of the core
#: (crates/core/src/engine/mod.rs; ``tests/test_parity.py`` checks this copy), which the
#: fallback engine enforces too. The facade checks it before it materialises anything, so
#: that ``np.broadcast_to(h, 10**9)`` or a scalar broadcast to a huge count fails at once.
MAX_BATCH = 2**27
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

HandleArray = npt.NDArray[np.uint64]
IntArray = npt.NDArray[np.int64]
#: What a parameter of many handles takes (``as_handles``): one handle, an iterable of handles
#: or an integer array. A type checker then refuses a str or None where handles belong.
Handles = int | np.integer[Any] | Iterable[int | np.integer[Any]] | npt.NDArray[np.integer[Any]]


def as_payload(data: object) -> bytes:
    """Bytes given as bytes, bytearray or memoryview, copied; ``ValidationError`` otherwise
    (or for a released memoryview)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ValidationError(f"data must be bytes, got {type(data).__name__}")
    try:
        return bytes(data)
    except ValueError as exc:  # a released memoryview
        raise ValidationError(f"data cannot be read: {exc}") from None


def format_handle(h: int) -> str:
    """A handle as shown in messages and renderings: ``0x`` and 16 hex digits."""
    return f"0x{h:016x}"


def _is_int(value: object) -> TypeGuard[int | np.integer[Any]]:
    """True for Python ints and NumPy integer scalars, but not for bools (of either kind)."""
    if isinstance(value, bool | np.bool_):
        return False
    return isinstance(value, int | np.integer)


def plain_scalar(value: Any) -> Any:
    """Turn a NumPy scalar into the equivalent Python scalar; leave anything else alone.

    The engines accept Python ints and bools only, so the facade converts ``np.int64(5)``
    and ``np.True_`` before passing them on.
    """
    if isinstance(value, np.generic):
        return value.item()
    return value


def check_batch(n: int) -> None:
    """``ValidationError`` when a batch of ``n`` objects is over ``MAX_BATCH``."""
    if n > MAX_BATCH:
        raise error("batch_too_large", len=n, limit=MAX_BATCH)


def bounded_list(values: Iterable[Any]) -> list[Any]:
    """The items of ``values`` as a list, refusing (``ValidationError``) as soon as there
    are more than ``MAX_BATCH``: an endless or huge iterator is never materialised."""
    if isinstance(values, list):
        check_batch(len(values))
        return values
    items = list(itertools.islice(values, MAX_BATCH + 1))
    if len(items) > MAX_BATCH:
        raise error("batch_too_large", len=f"more than {MAX_BATCH}", limit=MAX_BATCH)
    return items


def known_length(value: object) -> int | None:
    """The length of a sized iterable without iterating it, or None when it has none.

    A length too large for ``len`` (``range(10**20)``) counts as ``2**63``: over any limit.
    """
    if not isinstance(value, Sized):
        return None
    try:
        return len(value)
    except OverflowError:
        return 2**63
    except TypeError:  # a 0-d ndarray is Sized but has no length
        return None


# --- handles ------------------------------------------------------------------------------


def as_handle(h: object) -> int:
    """One handle as a Python int; ``InvalidHandleError`` for anything that cannot be one."""
    if type(h) is int:  # the common case, first and cheap
        if 0 <= h <= HANDLE_MAX:
            return h
        raise InvalidHandleError(f"invalid handle {h}: handles are in 0..2**64-1")
    if _is_int(h):
        return as_handle(int(h))
    raise InvalidHandleError(f"invalid handle {h!r}: expected an int, got {type(h).__name__}")


def as_handles(handles: object) -> HandleArray:
    """Many handles as a 1-D C-contiguous ``uint64`` array.

    Accepts one handle, a sequence (or any iterable) of handles, or a NumPy array of an
    integer dtype; everything else raises ``InvalidHandleError``.
    """
    if isinstance(handles, np.ndarray):
        return _handles_from_array(handles)
    if _is_int(handles):
        return np.array([as_handle(handles)], dtype=np.uint64)
    if isinstance(handles, str | bytes | bytearray | memoryview) or not isinstance(
        handles, Iterable
    ):
        raise InvalidHandleError(
            f"invalid handles {handles!r}: expected an int, a sequence of ints or an array"
        )
    length = known_length(handles)
    if length is not None:
        check_batch(length)  # before a huge range() or the like is turned into a list
    items = handles if isinstance(handles, list | tuple) else bounded_list(handles)
    if length is None:
        check_batch(len(items))
    # Fast path: plain ints only (a bool would pass np.array silently, so check types).
    # NumPy infers int64 (or uint64 when a value needs it) and the range is checked on the
    # array: converting straight to uint64 would wrap -1 to 2**64-1 on NumPy < 2.
    if all(type(item) is int for item in items):
        try:
            array = np.array(items)
        except OverflowError:
            array = None  # some value is out of range: the slow path names it
        if array is not None and array.ndim == 1:
            if array.dtype.kind == "u" or (array.dtype.kind == "i" and _non_negative(array)):
                return np.ascontiguousarray(array, dtype=np.uint64)
    return np.array([as_handle(item) for item in items], dtype=np.uint64)


def _non_negative(array: np.ndarray) -> bool:
    return not array.size or int(array.min()) >= 0


def refuse_masked(name: str, value: np.ndarray, exc: type[Exception] = ValidationError) -> None:
    """A masked array is refused, whatever its mask: a mask would otherwise be silently
    ignored (one rule for every array argument)."""
    if isinstance(value, np.ma.MaskedArray):
        raise exc(f"{name} must not be a masked array: fill or compress it first")


def _handles_from_array(array: np.ndarray) -> HandleArray:
    refuse_masked("a handle array", array, InvalidHandleError)
    if array.ndim != 1:
        raise InvalidHandleError(f"a handle array must be 1-D, got {array.ndim} dimensions")
    kind = array.dtype.kind
    if kind not in "ui":
        raise InvalidHandleError(f"a handle array must have an integer dtype, got {array.dtype}")
    check_batch(array.size)  # before a broadcast view is copied into a huge array
    if kind == "u":
        return np.ascontiguousarray(array, dtype=np.uint64)
    if array.size and int(array.min()) < 0:
        raise InvalidHandleError(f"invalid handle {int(array.min())}: handles are in 0..2**64-1")
    return np.ascontiguousarray(array, dtype=np.uint64)


# --- integer field arrays -----------------------------------------------------------------


def as_int_array(name: str, value: object, n: int, per: str = "handles") -> IntArray:
    """A batch field as a 1-D ``int64`` array of length ``n``; a scalar is broadcast.

    ``per`` names what there are ``n`` of, for the length-mismatch message.

    Float, bool, object and string values are rejected with ``ValidationError``, as is a
    length other than ``n``.
    """
    if _is_int(value):
        v = int(value)
        if not _INT64_MIN <= v <= _INT64_MAX:
            raise ValidationError(f"{name}={v} is out of range")
        check_batch(n)  # a scalar broadcast to a huge count must not allocate it
        return np.full(n, v, dtype=np.int64)
    if isinstance(value, np.ndarray):
        array = _int_array_from_ndarray(name, value, n, per)
    elif isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationError(
            f"{name} must be an int or a sequence of ints, got {type(value).__name__}"
        )
    else:
        _check_known_length(name, value, n, per)
        items = bounded_list(value)
        for item in items:
            if not _is_int(item):
                raise ValidationError(
                    f"{name} must contain ints only, got {type(item).__name__} {item!r}"
                )
        try:
            array = np.array([int(i) for i in items], dtype=np.int64)
        except OverflowError:
            raise ValidationError(f"{name} holds a value out of range") from None
    _check_length(name, array, n, per)
    return array


def _int_array_from_ndarray(name: str, value: np.ndarray, n: int, per: str) -> IntArray:
    """An integer ndarray as ``int64``; its length is checked before anything is copied."""
    refuse_masked(name, value)
    if value.ndim != 1:
        raise ValidationError(f"{name} must be 1-D, got {value.ndim} dimensions")
    if value.dtype.kind not in "iu":
        raise ValidationError(f"{name} must have an integer dtype, got {value.dtype}")
    _check_length(name, value, n, per)
    if value.dtype.kind == "u" and value.size and int(value.max()) > _INT64_MAX:
        raise ValidationError(f"{name}={int(value.max())} is out of range")
    return np.ascontiguousarray(value, dtype=np.int64)


def check_length(name: str, got: int, n: int, per: str = "handles") -> None:
    """``ValidationError`` unless ``name`` has ``n`` values (one per handle, or per ``per``)."""
    if got != n:
        raise error("length_mismatch", name=name, got=got, expected=n, per=per)


def _check_length(name: str, array: np.ndarray, n: int, per: str = "handles") -> None:
    check_length(name, len(array), n, per)


def _check_known_length(name: str, value: object, n: int, per: str = "handles") -> None:
    """The length check, done before a sized iterable is materialised (a huge range())."""
    length = known_length(value)
    if length is not None:
        check_length(name, length, n, per)


def _bool_array(name: str, value: object, n: int) -> IntArray:
    """A bool field for ``update``: bools (scalar or sequence) to an int64 array of 0/1."""
    if isinstance(value, bool | np.bool_):
        check_batch(n)
        return np.full(n, int(value), dtype=np.int64)
    if isinstance(value, np.ndarray):
        refuse_masked(name, value)
        if value.ndim != 1 or value.dtype.kind != "b":
            raise ValidationError(f"{name} must be a bool or a 1-D bool array, got {value.dtype}")
        _check_length(name, value, n)
        array = value.astype(np.int64)
    elif isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationError(f"{name} must be True or False, got {type(value).__name__}")
    else:
        _check_known_length(name, value, n)
        items = bounded_list(value)
        if not all(isinstance(item, bool | np.bool_) for item in items):
            raise ValidationError(f"{name} must contain bools only")
        array = np.array([int(item) for item in items], dtype=np.int64)
    _check_length(name, array, n)
    return array


def _mac_values(name: str, value: object, n: int) -> list[object]:
    """A MAC field for ``update``: raw MACs (str, bytes, int), one per handle.

    The engine parses them (docs/DESIGN.md §11); a single MAC is broadcast.
    """
    if isinstance(value, str | bytes) or _is_int(value):
        check_batch(n)
        return [plain_scalar(value)] * n
    if not isinstance(value, Iterable):
        raise ValidationError(f"{name} must be a MAC address, got {type(value).__name__}")
    if isinstance(value, np.ndarray):
        refuse_masked(name, value)
        if value.ndim != 1:
            raise ValidationError(f"{name} must be 1-D, got {value.ndim} dimensions")
    _check_known_length(name, value, n)
    items = (
        value.tolist()
        if isinstance(value, np.ndarray)
        else [plain_scalar(v) for v in bounded_list(value)]
    )
    check_length(name, len(items), n)
    return items


def as_field_array(name: str, value: object, n: int) -> IntArray | list[object]:
    """One ``update`` keyword as the engine's ``int64`` array of length ``n``.

    ``mac`` is the exception: a list of raw MAC values, parsed by the engine.

    Only cached fields are converted strictly. For any other name the engine will raise
    (``StateError`` for a constant or delegated variable, ``ValidationError`` for an unknown
    one) before it looks at a value, so a value that does not convert is replaced by zeros:
    the engine's check order, not the facade's, decides which error the user sees.
    """
    field: FieldSpec | None = FIELD_BY_NAME.get(name)
    try:
        if field is not None and field.value_type == BOOL:
            return _bool_array(name, value, n)
        if field is not None and field.value_type == MAC:
            return _mac_values(name, value, n)
        return as_int_array(name, value, n)
    except ValidationError:
        if field is not None and field.kind == CACHED:
            raise
        return np.zeros(n, dtype=np.int64)


# --- small arguments ----------------------------------------------------------------------


def _layer_error(layer: object, *, optional: bool) -> ValidationError:
    """The one wording of a bad layer argument: every form accepted, then what came."""
    names = ", ".join(repr(member.name.lower()) for member in Layer)
    forms = "None, a Layer" if optional else "a Layer"
    return ValidationError(
        f"layer must be {forms}, 0..2 or one of {names} (any case); got {layer!r}"
    )


def as_layer(layer: object) -> int | None:
    """A layer argument: None, a ``Layer``, an int 0..2 or a layer name like ``"tcp"`` (in
    any case; ASCII only, so that no other letter's upper case passes for one)."""
    if layer is None:
        return None
    if isinstance(layer, str):
        if layer.isascii() and layer.upper() in Layer.__members__:
            return int(Layer[layer.upper()])
    elif _is_int(layer) and 0 <= int(layer) <= 2:
        return int(layer)
    raise _layer_error(layer, optional=True)


def as_required_layer(layer: object) -> int:
    """A layer argument that must name one layer: a ``Layer``, an int 0..2 or a name."""
    value = None if layer is None else _parse_layer_or_none(layer)
    if value is None:
        raise _layer_error(layer, optional=False)
    return value


def _parse_layer_or_none(layer: object) -> int | None:
    """``as_layer``, with None for anything it refuses (the caller words the error)."""
    try:
        return as_layer(layer)
    except ValidationError:
        return None


def as_optional_bool(name: str, value: object) -> bool | None:
    """None or a bool (NumPy bools too); anything else is a ``ValidationError``."""
    if value is None:
        return None
    return as_bool(name, value)


def as_bool(name: str, value: object) -> bool:
    """A bool argument (NumPy bools too); anything else is a ``ValidationError``."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise ValidationError(f"{name} must be True or False, got {value!r}")
