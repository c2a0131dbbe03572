//! Errors of the core, from one catalogue.
//!
//! Every error the core can report has a code ([`ErrorCode`]) with a kind and a message
//! template. The kinds map one-to-one onto the Python exception classes; the catalogue is
//! the source of the wording both backends use: `python/offload_tree/_messages.py` holds
//! the Python copy, which `tests/test_parity.py` checks against this one.

use std::fmt;

/// What went wrong, in the terms of docs/SPEC.md §6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Unknown, stale or foreign handle (`InvalidHandleError`).
    InvalidHandle,
    /// An object of the wrong layer for its role (`LayerError`).
    Layer,
    /// The operation would orphan or cut a dependency (`DependencyError`).
    Dependency,
    /// Wrong offload state for the operation, or a variable that may not be set (`StateError`).
    State,
    /// A field out of range or malformed (`ValidationError`).
    Validation,
    /// A second object for a key the host keeps one of (`DuplicateKeyError`, a
    /// `ValidationError`).
    DuplicateKey,
    /// An allocation failed; the call changed nothing (`OutOfMemoryError`, a `MemoryError`).
    Memory,
    /// The embedder asked a long call to stop; it changed nothing (`KeyboardInterrupt`, or
    /// whatever exception the embedder's check raised).
    Interrupted,
    /// A snapshot or snapshot file that cannot be restored (`SnapshotError`, a `ValueError`).
    Snapshot,
}

impl ErrorKind {
    /// The name of the Python exception class of this kind.
    pub fn class_name(self) -> &'static str {
        match self {
            ErrorKind::InvalidHandle => "InvalidHandleError",
            ErrorKind::Layer => "LayerError",
            ErrorKind::Dependency => "DependencyError",
            ErrorKind::State => "StateError",
            ErrorKind::Validation => "ValidationError",
            ErrorKind::DuplicateKey => "DuplicateKeyError",
            ErrorKind::Memory => "OutOfMemoryError",
            ErrorKind::Interrupted => "KeyboardInterrupt",
            ErrorKind::Snapshot => "SnapshotError",
        }
    }
}

/// Declares the catalogue: each code with its kind and template, and the lookups.
macro_rules! error_catalogue {
    ($($(#[$doc:meta])* $code:ident = $kind:ident, $name:literal, $template:literal;)*) => {
        /// Every error the core reports. Templates name their arguments in braces.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $code,)*
        }

        impl ErrorCode {
            /// Every code, in catalogue order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$code,)*];

            /// The code's snake_case name, the key of the Python copy of the catalogue.
            pub fn name(self) -> &'static str {
                match self { $(ErrorCode::$code => $name,)* }
            }

            pub fn kind(self) -> ErrorKind {
                match self { $(ErrorCode::$code => ErrorKind::$kind,)* }
            }

            /// The message with `{argument}` placeholders.
            pub fn template(self) -> &'static str {
                match self { $(ErrorCode::$code => $template,)* }
            }
        }
    };
}

error_catalogue! {
    /// A handle whose tree id is another tree's.
    ForeignHandle = InvalidHandle, "foreign_handle",
        "handle {handle} belongs to another tree (tree id {tree_id})";
    /// A value whose tree id bits are 0: no tree has id 0, so it is no tree's handle (a
    /// small int, a slot number or a count passed where a handle was meant).
    NoTreeId = InvalidHandle, "no_tree_id",
        "{handle} is not a handle of this tree (its tree id bits, 63..48, are 0, and no tree has id 0)";
    /// A handle with the layer bits 3.
    NoSuchLayer = InvalidHandle, "no_such_layer", "invalid handle {handle}: no such layer";
    /// A handle of this tree whose slot holds no object of that generation.
    StaleHandle = InvalidHandle, "stale_handle", "stale or unknown handle {handle}: no live object";
    WrongLayer = Layer, "wrong_layer", "{role} {handle} is a {actual}, expected a {expected}";
    NotOffloaded = State, "not_offloaded", "{layer} {handle} is not offloaded: cannot {operation}";
    AlreadyOffloaded = State, "already_offloaded", "{layer} {handle} is already offloaded";
    RemoveOffloaded = State, "remove_offloaded",
        "{layer} {handle} is offloaded: terminate it before removing it";
    UpdateNotCached = State, "update_not_cached",
        "cannot update '{name}': it is a {kind} variable of a {layer} (only cached variables can be updated)";
    /// An update of an object the target was told to stop using.
    UpdateInvalidated = State, "update_invalidated",
        "{layer} {handle} is invalidated: the host never updates an invalidated object (terminate it and offload it again)";
    RelinkFailed = State, "relink_failed",
        "cannot relink offloaded path {path} to {neighbor}: offloading the neighbor failed with {status}";
    AlreadyPaused = State, "already_paused",
        "the target is already paused: it has not resumed since";
    UploadAllPending = State, "upload_all_pending",
        "the target already requested upload-all and has not resumed";
    NotPaused = State, "not_paused", "the target cannot resume: it is not paused";
    CapacityBelowHeld = State, "capacity_below_held",
        "cannot resume with {layer}_capacity={capacity}: the target holds {held} of them (upload some first)";
    /// RFC 793: a FIN is acceptable in ESTABLISHED, FIN-WAIT-1 and FIN-WAIT-2; an RST in any
    /// state but CLOSED.
    /// RFC 793: SEND after the host's FIN (or in CLOSED) is "connection closing".
    SendClosed = State, "send_closed",
        "connection {handle} is {state}: its send half is closed, so it takes no more data";
    /// A graceful disconnect needs a send half open (ESTABLISHED or CLOSE-WAIT); an abortive
    /// one any state but CLOSED.
    DisconnectState = State, "disconnect_state",
        "connection {handle} is {state}: it cannot take a {kind} disconnect";
    PeerCloseState = State, "peer_close_state",
        "connection {handle} is {state}: it does not accept a {segment} from the peer";
    RemoveDependent = Dependency, "remove_dependent",
        "{layer} {dependent} depends on {handle}; remove it too or use cascade=True";
    TerminateDependent = Dependency, "terminate_dependent",
        "{layer} {dependent} is offloaded and depends on {parent_layer} {handle}; terminate it too or use cascade=True";
    BatchTooLarge = Validation, "batch_too_large",
        "a batch of {len} objects is over the limit of {limit} per call";
    LengthMismatch = Validation, "length_mismatch",
        "{name} has {got} values but there are {expected} {per}";
    LayerFull = Validation, "layer_full",
        "cannot add {count} {layer} objects: a layer holds at most {limit} slots";
    UnknownTcpVariable = Validation, "unknown_tcp_variable",
        "unknown TCP connection variable '{name}'";
    UnknownVariable = Validation, "unknown_variable", "'{name}' is not a variable of a {layer}";
    OutOfRange = Validation, "out_of_range", "{name}={value} is out of range {min}..{max}";
    NotABool = Validation, "not_a_bool", "{name} must be True or False, got {got}";
    BoolOutOfRange = Validation, "bool_out_of_range", "{name} must be 0 or 1 (a bool), got {value}";
    NotAnInt = Validation, "not_an_int", "{name} must be an int, got {got}";
    NotAMac = Validation, "not_a_mac",
        "{name} must be a MAC address (str, 6 bytes or int), got {got}";
    MalformedMac = Validation, "malformed_mac",
        "malformed MAC address '{text}': expected six hex octets like \"00:15:5d:01:02:03\"";
    MacBytesLength = Validation, "mac_bytes_length",
        "a MAC address given as bytes must be 6 bytes long, got {len}";
    MacIntRange = Validation, "mac_int_range",
        "a MAC address given as an int must be in 0..2**48-1, got {value}";
    NotAnIp = Validation, "not_an_ip",
        "{name} must be an IP address (str, ipaddress object, 4/16 bytes or int), got {got}";
    MalformedIp = Validation, "malformed_ip",
        "malformed IP address '{text}': expected IPv4 like \"10.0.0.1\" or IPv6 like \"fe80::1\"";
    IpBytesLength = Validation, "ip_bytes_length",
        "an IP address given as bytes must be 4 or 16 bytes long, got {len}";
    IpIntRange = Validation, "ip_int_range",
        "an IP address given as an int must be in 0..2**128-1, got {value}";
    IpFamilyMismatch = Validation, "ip_family_mismatch",
        "source and destination must be of the same IP family, got IPv{source} and IPv{destination}";
    NotAnUploadReason = Validation, "not_an_upload_reason",
        "reason={value} is not an UploadReason (1..11)";
    /// A host policy that would decline a reason the host must always honour.
    MandatoryReason = Validation, "mandatory_reason",
        "{reason} is a mandatory upload reason: the host always uploads the connection";
    NotAFaultStatus = Validation, "not_a_fault_status",
        "status={value} is not a failure status a target can report (FAILURE..CONNECTION_REJECTED, 2..15)";
    NotAnOperation = Validation, "not_an_operation",
        "operation={value} is not an Operation a fault can aim at (0..4)";
    /// Terminate, update, query and invalidate complete with SUCCESS or FAILURE only.
    NotACompletionStatus = Validation, "not_a_completion_status",
        "a {operation} completes with SUCCESS or FAILURE only: its fault must be FAILURE, got {status}";
    /// Tree id 0 is reserved so that no valid handle is 0.
    TreeIdZero = Validation, "tree_id_zero", "a tree id is in 1..65535: 0 is never used";
    FailRateRange = Validation, "fail_rate_range", "fail_rate must be in [0, 1], got {value}";
    ThreadCount = Validation, "thread_count", "threads must be at least 1, got {value}";
    UploadsPerCall = Validation, "uploads_per_call",
        "uploads_per_call must be at least 1 (or None: no limit), got {value}";
    OffloadRule = Validation, "offload_rule",
        "offload rule {index}: a port range runs low to high, a prefix fits its address family";
    /// The peer cannot acknowledge bytes that were never sent (SndUna passes no SndNxt).
    AckBeyondSent = Validation, "ack_beyond_sent",
        "nbytes={nbytes} acknowledges more than connection {handle} has in flight ({in_flight})";
    /// The chimney statistics are kept per IP family (OID_IP4/6_OFFLOAD_STATS).
    AckBeyondBatch = Validation, "ack_beyond_batch",
        "nbytes={nbytes} acknowledges more than connection {handle} had in flight when the batch began ({in_flight}, of which earlier items acknowledged {earlier})";
    IpVersion = Validation, "ip_version", "family must be 4 or 6 (the IP version), got {value}";
    /// NDIS "Overview of TCP Timers": "a timer granularity of 10, 100, or 1000 ticks per second".
    TicksPerSecond = Validation, "ticks_per_second",
        "ticks_per_second must be 10, 100 or 1000 (the granularities NDIS allows), got {value}";
    /// A batch of traffic cuts one buffer into pieces: their lengths must add up to it.
    BufferedNotRequested = Validation, "buffered_not_requested",
        "buffered data names {handle}, which is not a requested handle";
    DataLength = Validation, "data_length",
        "the lengths add up to {total} bytes but data holds {len}";
    /// One path per (source, destination): the host's key of a path.
    DuplicatePath = DuplicateKey, "duplicate_path",
        "path {existing} already goes from this source to this destination (a host keeps one path per address pair)";
    RepeatedPath = DuplicateKey, "repeated_path",
        "the same source and destination as item {first} of this batch (a host keeps one path per address pair)";
    /// One connection per 4-tuple: its path (the address pair) and its two ports.
    DuplicateTcp = DuplicateKey, "duplicate_tcp",
        "connection {existing} already has this 4-tuple: path {path}, local port {local_port}, remote port {remote_port}";
    RepeatedTcp = DuplicateKey, "repeated_tcp",
        "the same 4-tuple as item {first} of this batch: path {path}, local port {local_port}, remote port {remote_port}";
    /// A fallible allocation failed (or the test budget ran out) before anything changed.
    OutOfMemory = Memory, "out_of_memory", "out of memory: the call changed nothing";
    /// A long call polled its interrupt check and stopped before changing anything.
    Interrupted = Interrupted, "interrupted", "interrupted: the call changed nothing";
    /// A snapshot (docs/DESIGN.md §12) lacks a column the restore reads.
    SnapshotMissing = Snapshot, "snapshot_missing", "the snapshot has no column '{name}'";
    SnapshotType = Snapshot, "snapshot_type",
        "snapshot column '{name}' holds {found}, expected {expected}";
    SnapshotLength = Snapshot, "snapshot_length",
        "snapshot column '{name}' has {found} values, expected {expected}";
    /// A value that breaks a rule of the snapshot: the column named and what is wrong.
    SnapshotValue = Snapshot, "snapshot_value", "snapshot column '{name}': {problem}";
    /// The file around the columns (docs/DESIGN.md §12a); the facade reports these.
    SnapshotFile = Snapshot, "snapshot_file", "{path} is not an offload-tree snapshot: {problem}";
    SnapshotVersion = Snapshot, "snapshot_version",
        "{path} is a snapshot of format version {found}; this offload-tree reads version {expected}";
}

/// Appended to a message when the error is about one item of a batch.
pub const ITEM_SUFFIX: &str = " (item {index})";

/// Fills a template's `{name}` placeholders from `args`; unknown names stay as they are.
pub(crate) fn render(template: &str, args: &[(&str, &dyn fmt::Display)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let key = &after[..close];
                match args.iter().find(|(name, _)| *name == key) {
                    Some((_, value)) => out.push_str(&value.to_string()),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// An error: its code and the message rendered from the code's template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    code: ErrorCode,
    message: String,
}

impl Error {
    /// The error `code` with its template filled from `args`.
    pub fn new(code: ErrorCode, args: &[(&str, &dyn fmt::Display)]) -> Self {
        Self {
            code,
            message: render(code.template(), args),
        }
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn kind(&self) -> ErrorKind {
        self.code.kind()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Names the position of the offending item in a batch call.
    pub fn at(mut self, index: usize) -> Self {
        self.message
            .push_str(&render(ITEM_SUFFIX, &[("index", &index)]));
        self
    }
}

/// `error!(Code, name = value, ...)`: an [`Error`] with its template filled in.
#[macro_export]
macro_rules! error {
    ($code:ident $(, $name:ident = $value:expr)* $(,)?) => {
        $crate::Error::new(
            $crate::ErrorCode::$code,
            &[$((stringify!($name), &$value as &dyn ::std::fmt::Display)),*],
        )
    };
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_filled_by_name() {
        let e = error!(
            OutOfRange,
            name = "path_mtu",
            value = 67,
            min = 68,
            max = 65535
        );
        assert_eq!(e.message(), "path_mtu=67 is out of range 68..65535");
        assert_eq!(e.kind(), ErrorKind::Validation);
        assert_eq!(
            e.at(3).message(),
            "path_mtu=67 is out of range 68..65535 (item 3)"
        );
    }

    #[test]
    fn unknown_and_unclosed_placeholders_are_kept() {
        assert_eq!(render("a {x} {y", &[("x", &1)]), "a 1 {y");
        assert_eq!(render("{z}", &[]), "{z}");
    }

    #[test]
    fn every_placeholder_of_every_template_is_a_plain_name() {
        for code in ErrorCode::ALL {
            let t = code.template();
            let mut depth = 0;
            for c in t.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                assert!((0..=1).contains(&depth), "{}: nested braces", code.name());
            }
            assert_eq!(depth, 0, "{}: unbalanced braces", code.name());
        }
    }
}
