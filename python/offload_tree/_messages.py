"""The error catalogue: every error both engines report, with its class and its wording.

This is the Python copy of the catalogue in ``crates/core/src/model/error.rs`` (the source);
``tests/test_parity.py`` checks the two are equal and prints the lines to paste when they
drift. The fallback engine and the facade raise through :func:`error`, so a message is worded
in one place per language and both backends say the same thing.
"""

from __future__ import annotations

from ._errors import (
    DependencyError,
    DuplicateKeyError,
    InvalidHandleError,
    LayerError,
    OffloadTreeError,
    OutOfMemoryError,
    SnapshotError,
    StateError,
    ValidationError,
)

__all__ = ["CLASSES", "ITEM_SUFFIX", "MESSAGES", "error", "render"]

#: The exception class of each kind, by class name. (``interrupted`` is Python's own
#: ``KeyboardInterrupt``: ``_fallback/engine/interrupt.py`` raises it with its message.)
CLASSES: dict[str, type[OffloadTreeError]] = {
    cls.__name__: cls
    for cls in (
        InvalidHandleError,
        LayerError,
        DependencyError,
        StateError,
        ValidationError,
        DuplicateKeyError,
        OutOfMemoryError,
        SnapshotError,
    )
}

#: code -> (exception class name, template), in the catalogue's order.
MESSAGES: dict[str, tuple[str, str]] = {
    "foreign_handle": (
        "InvalidHandleError",
        "handle {handle} belongs to another tree (tree id {tree_id})",
    ),
    "no_tree_id": (
        "InvalidHandleError",
        "{handle} is not a handle of this tree (its tree id bits, 63..48, are 0, and no tree "
        "has id 0)",
    ),
    "no_such_layer": ("InvalidHandleError", "invalid handle {handle}: no such layer"),
    "stale_handle": ("InvalidHandleError", "stale or unknown handle {handle}: no live object"),
    "wrong_layer": ("LayerError", "{role} {handle} is a {actual}, expected a {expected}"),
    "not_offloaded": ("StateError", "{layer} {handle} is not offloaded: cannot {operation}"),
    "already_offloaded": ("StateError", "{layer} {handle} is already offloaded"),
    "remove_offloaded": (
        "StateError",
        "{layer} {handle} is offloaded: terminate it before removing it",
    ),
    "update_not_cached": (
        "StateError",
        "cannot update '{name}': it is a {kind} variable of a {layer} "
        "(only cached variables can be updated)",
    ),
    "update_invalidated": (
        "StateError",
        "{layer} {handle} is invalidated: the host never updates an invalidated object "
        "(terminate it and offload it again)",
    ),
    "relink_failed": (
        "StateError",
        "cannot relink offloaded path {path} to {neighbor}: offloading the neighbor failed "
        "with {status}",
    ),
    "already_paused": ("StateError", "the target is already paused: it has not resumed since"),
    "upload_all_pending": (
        "StateError",
        "the target already requested upload-all and has not resumed",
    ),
    "not_paused": ("StateError", "the target cannot resume: it is not paused"),
    "capacity_below_held": (
        "StateError",
        "cannot resume with {layer}_capacity={capacity}: the target holds {held} of them "
        "(upload some first)",
    ),
    "send_closed": (
        "StateError",
        "connection {handle} is {state}: its send half is closed, so it takes no more data",
    ),
    "disconnect_state": (
        "StateError",
        "connection {handle} is {state}: it cannot take a {kind} disconnect",
    ),
    "peer_close_state": (
        "StateError",
        "connection {handle} is {state}: it does not accept a {segment} from the peer",
    ),
    "remove_dependent": (
        "DependencyError",
        "{layer} {dependent} depends on {handle}; remove it too or use cascade=True",
    ),
    "terminate_dependent": (
        "DependencyError",
        "{layer} {dependent} is offloaded and depends on {parent_layer} {handle}; "
        "terminate it too or use cascade=True",
    ),
    "batch_too_large": (
        "ValidationError",
        "a batch of {len} objects is over the limit of {limit} per call",
    ),
    "length_mismatch": (
        "ValidationError",
        "{name} has {got} values but there are {expected} {per}",
    ),
    "layer_full": (
        "ValidationError",
        "cannot add {count} {layer} objects: a layer holds at most {limit} slots",
    ),
    "unknown_tcp_variable": ("ValidationError", "unknown TCP connection variable '{name}'"),
    "unknown_variable": ("ValidationError", "'{name}' is not a variable of a {layer}"),
    "out_of_range": ("ValidationError", "{name}={value} is out of range {min}..{max}"),
    "not_a_bool": ("ValidationError", "{name} must be True or False, got {got}"),
    "bool_out_of_range": ("ValidationError", "{name} must be 0 or 1 (a bool), got {value}"),
    "not_an_int": ("ValidationError", "{name} must be an int, got {got}"),
    "not_a_mac": (
        "ValidationError",
        "{name} must be a MAC address (str, 6 bytes or int), got {got}",
    ),
    "malformed_mac": (
        "ValidationError",
        "malformed MAC address '{text}': expected six hex octets like \"00:15:5d:01:02:03\"",
    ),
    "mac_bytes_length": (
        "ValidationError",
        "a MAC address given as bytes must be 6 bytes long, got {len}",
    ),
    "mac_int_range": (
        "ValidationError",
        "a MAC address given as an int must be in 0..2**48-1, got {value}",
    ),
    "not_an_ip": (
        "ValidationError",
        "{name} must be an IP address (str, ipaddress object, 4/16 bytes or int), got {got}",
    ),
    "malformed_ip": (
        "ValidationError",
        'malformed IP address \'{text}\': expected IPv4 like "10.0.0.1" or IPv6 like "fe80::1"',
    ),
    "ip_bytes_length": (
        "ValidationError",
        "an IP address given as bytes must be 4 or 16 bytes long, got {len}",
    ),
    "ip_int_range": (
        "ValidationError",
        "an IP address given as an int must be in 0..2**128-1, got {value}",
    ),
    "ip_family_mismatch": (
        "ValidationError",
        "source and destination must be of the same IP family, got IPv{source} and "
        "IPv{destination}",
    ),
    "not_an_upload_reason": ("ValidationError", "reason={value} is not an UploadReason (1..11)"),
    "mandatory_reason": (
        "ValidationError",
        "{reason} is a mandatory upload reason: the host always uploads the connection",
    ),
    "not_a_fault_status": (
        "ValidationError",
        "status={value} is not a failure status a target can report "
        "(FAILURE..CONNECTION_REJECTED, 2..15)",
    ),
    "not_an_operation": (
        "ValidationError",
        "operation={value} is not an Operation a fault can aim at (0..4)",
    ),
    "not_a_completion_status": (
        "ValidationError",
        "a {operation} completes with SUCCESS or FAILURE only: its fault must be FAILURE, "
        "got {status}",
    ),
    "tree_id_zero": ("ValidationError", "a tree id is in 1..65535: 0 is never used"),
    "fail_rate_range": ("ValidationError", "fail_rate must be in [0, 1], got {value}"),
    "thread_count": ("ValidationError", "threads must be at least 1, got {value}"),
    "uploads_per_call": (
        "ValidationError",
        "uploads_per_call must be at least 1 (or None: no limit), got {value}",
    ),
    "offload_rule": (
        "ValidationError",
        "offload rule {index}: a port range runs low to high, a prefix fits its address family",
    ),
    "ack_beyond_sent": (
        "ValidationError",
        "nbytes={nbytes} acknowledges more than connection {handle} has in flight ({in_flight})",
    ),
    "ack_beyond_batch": (
        "ValidationError",
        "nbytes={nbytes} acknowledges more than connection {handle} had in flight when the batch "
        "began ({in_flight}, of which earlier items acknowledged {earlier})",
    ),
    "ip_version": ("ValidationError", "family must be 4 or 6 (the IP version), got {value}"),
    "ticks_per_second": (
        "ValidationError",
        "ticks_per_second must be 10, 100 or 1000 (the granularities NDIS allows), got {value}",
    ),
    "buffered_not_requested": (
        "ValidationError",
        "buffered data names {handle}, which is not a requested handle",
    ),
    "data_length": ("ValidationError", "the lengths add up to {total} bytes but data holds {len}"),
    "duplicate_path": (
        "DuplicateKeyError",
        "path {existing} already goes from this source to this destination "
        "(a host keeps one path per address pair)",
    ),
    "repeated_path": (
        "DuplicateKeyError",
        "the same source and destination as item {first} of this batch "
        "(a host keeps one path per address pair)",
    ),
    "duplicate_tcp": (
        "DuplicateKeyError",
        "connection {existing} already has this 4-tuple: path {path}, "
        "local port {local_port}, remote port {remote_port}",
    ),
    "repeated_tcp": (
        "DuplicateKeyError",
        "the same 4-tuple as item {first} of this batch: path {path}, "
        "local port {local_port}, remote port {remote_port}",
    ),
    "out_of_memory": ("OutOfMemoryError", "out of memory: the call changed nothing"),
    "interrupted": ("KeyboardInterrupt", "interrupted: the call changed nothing"),
    "snapshot_missing": ("SnapshotError", "the snapshot has no column '{name}'"),
    "snapshot_type": (
        "SnapshotError",
        "snapshot column '{name}' holds {found}, expected {expected}",
    ),
    "snapshot_length": (
        "SnapshotError",
        "snapshot column '{name}' has {found} values, expected {expected}",
    ),
    "snapshot_value": ("SnapshotError", "snapshot column '{name}': {problem}"),
    "snapshot_file": ("SnapshotError", "{path} is not an offload-tree snapshot: {problem}"),
    "snapshot_version": (
        "SnapshotError",
        "{path} is a snapshot of format version {found}; "
        "this offload-tree reads version {expected}",
    ),
}

#: Appended to a message when the error is about one item of a batch.
ITEM_SUFFIX = " (item {index})"


def render(template: str, **args: object) -> str:
    """Fill a template's ``{name}`` placeholders with ``str(value)``, as the core does."""
    return template.format(**{name: str(value) for name, value in args.items()})


def error(code: str, index: int | None = None, **args: object) -> OffloadTreeError:
    """The exception of catalogue entry ``code``, its message filled from ``args``.

    ``index`` names the offending item of a batch (the catalogue's item suffix).
    """
    class_name, template = MESSAGES[code]
    message = render(template, **args)
    if index is not None:
        message += render(ITEM_SUFFIX, index=index)
    return CLASSES[class_name](message)
