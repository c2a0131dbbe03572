//! The values the engine's operations take and return. A leaf module: it knows the model and
//! the block list, and nothing of the engine, so every file of the engine can share these
//! types without importing each other.

use std::collections::HashMap;

use crate::model::{
    Budget, ColumnData, Columns, EventKind, Handle, Layer, Result, Status, TcpDelegated, TcpState,
    Value,
};

/// The arguments of `add_neighbor`.
#[derive(Clone, Debug, PartialEq)]
pub struct NeighborArgs {
    pub mac: Value,
    pub vlan_id: Value,
    pub source_mac: Option<Value>,
    pub host_reachability_delta: Value,
    pub nic_reachability_delta: Value,
}

/// One variable's value as `state()` reports it (docs/DESIGN.md §5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateValue {
    Int(u64),
    Bool(bool),
    /// A MAC address, formatted as lowercase "aa:bb:cc:dd:ee:ff".
    Text(String),
    /// An IP address, packed (4 or 16 bytes).
    Bytes(Vec<u8>),
    /// An optional variable that is not set (`source_mac`).
    None,
}

/// One column of `update` values: integers, or raw values for `mac`.
#[derive(Clone, Debug)]
pub enum Column<'a> {
    Ints(&'a [i64]),
    Values(&'a [Value]),
}

impl Column<'_> {
    pub fn len(&self) -> usize {
        match self {
            Column::Ints(v) => v.len(),
            Column::Values(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Delegated state handed back by terminate or read by query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delegated {
    Neighbor { nic_reachability_delta: u32 },
    Path,
    Tcp(TcpDelegated),
}

impl Delegated {
    /// `(name, value)` pairs in field order (docs/DESIGN.md §8).
    pub fn fields(&self) -> Vec<(&'static str, u64)> {
        match self {
            Delegated::Neighbor {
                nic_reachability_delta,
            } => vec![("nic_reachability_delta", u64::from(*nic_reachability_delta))],
            Delegated::Path => Vec::new(),
            Delegated::Tcp(d) => TcpDelegated::SPECS
                .iter()
                .enumerate()
                .map(|(i, spec)| (spec.name, d.get(i)))
                .collect(),
        }
    }
}

/// A connection row of [`DelegatedRows`] whose delegated variables are the defaults.
const DEFAULTS: u32 = u32::MAX;

/// The delegated state of each object of an [`Outcome`], as a column of 4-byte rows read
/// with the object's layer: a neighbor's NicReachabilityDelta, nothing for a path, and for a
/// connection an index into `copies`, or `DEFAULTS`. A connection whose delegated variables
/// are still the defaults (most of a large query or terminate) shares one copy of them
/// instead of carrying 88 bytes: the values are the same snapshot, at a twentieth of the
/// bytes to write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DelegatedRows {
    rows: Vec<u32>,
    copies: Vec<TcpDelegated>,
}

impl DelegatedRows {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Makes room for `additional` rows, fallibly.
    pub(crate) fn reserve(&mut self, additional: usize, budget: &Budget) -> Result<()> {
        budget.reserve(&mut self.rows, additional)
    }

    /// Appends one object's delegated state.
    pub(crate) fn push(&mut self, delegated: &Delegated) {
        match delegated {
            Delegated::Neighbor {
                nic_reachability_delta,
            } => self.rows.push(*nic_reachability_delta),
            Delegated::Path => self.rows.push(0),
            Delegated::Tcp(d) => self.push_tcp(d, false),
        }
    }

    /// Appends a connection's delegated variables; `defaults` says they are the defaults
    /// (the caller knows it without comparing 88 bytes), and then nothing is copied.
    pub(crate) fn push_tcp(&mut self, delegated: &TcpDelegated, defaults: bool) {
        debug_assert!(!defaults || delegated == &TcpState::defaults().delegated);
        let row = if defaults {
            DEFAULTS
        } else {
            self.copies.push(*delegated);
            (self.copies.len() - 1) as u32
        };
        self.rows.push(row);
    }

    /// The delegated state of row `i`, an object of `layer`.
    pub fn get(&self, i: usize, layer: Layer) -> Option<Delegated> {
        let row = *self.rows.get(i)?;
        Some(match layer {
            Layer::Neighbor => Delegated::Neighbor {
                nic_reachability_delta: row,
            },
            Layer::Path => Delegated::Path,
            Layer::Tcp if row == DEFAULTS => Delegated::Tcp(TcpState::defaults().delegated),
            Layer::Tcp => Delegated::Tcp(self.copies[row as usize]),
        })
    }
}

/// The result of terminate or query, one entry per object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub handles: Vec<u64>,
    /// The completion status of each object (`Status` codes): SUCCESS, or FAILURE when the
    /// target's state of the object was corrupt (an injected fault).
    pub statuses: Vec<u8>,
    pub delegated: DelegatedRows,
    /// Received bytes by position in `handles`, for the objects that returned any.
    pub received: HashMap<usize, Vec<u8>>,
    pub total_received: u64,
    /// Posted send data not acknowledged, by position in `handles`, for the connections
    /// that returned any (transmitted bytes first, then unsent ones, in posting order).
    pub send_data: HashMap<usize, Vec<u8>>,
    pub total_send_data: u64,
}

impl Outcome {
    pub fn with_capacity(n: usize) -> Self {
        Outcome {
            handles: Vec::with_capacity(n),
            statuses: Vec::with_capacity(n),
            delegated: DelegatedRows {
                rows: Vec::with_capacity(n),
                copies: Vec::new(),
            },
            received: HashMap::new(),
            total_received: 0,
            send_data: HashMap::new(),
            total_send_data: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.handles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// Makes room for `additional` objects, fallibly.
    pub(crate) fn reserve(&mut self, additional: usize, budget: &Budget) -> Result<()> {
        budget.reserve(&mut self.handles, additional)?;
        budget.reserve(&mut self.statuses, additional)?;
        self.delegated.reserve(additional, budget)
    }

    /// The delegated state of the `i`-th object.
    pub fn delegated_at(&self, i: usize) -> Option<Delegated> {
        let layer = Handle::from_raw(*self.handles.get(i)?).layer()?;
        self.delegated.get(i, layer)
    }

    /// The delegated variables of the objects of `layer` that have some, as columns: `row`
    /// (their position in this outcome) and one column per variable.
    pub fn delegated_columns(&self, layer: Layer) -> Columns {
        let specs: Vec<_> = crate::model::fields(layer)
            .filter(|spec| spec.kind == crate::model::FieldKind::Delegated)
            .collect();
        let mut rows = Vec::new();
        let mut values: Vec<ColumnData> = specs
            .iter()
            .map(|spec| ColumnData::for_field(spec, self.len()))
            .collect();
        for i in 0..self.len() {
            if Handle::from_raw(self.handles[i]).layer() != Some(layer) {
                continue;
            }
            let Some(delegated) = self.delegated_at(i) else {
                continue;
            };
            rows.push(i as u64);
            match delegated {
                // The common case without a Vec per row: a million rows in one pass.
                Delegated::Tcp(d) => {
                    for (column, value) in values.iter_mut().zip(d.get_all()) {
                        column.push_field(value);
                    }
                }
                other => {
                    for (column, (_, value)) in values.iter_mut().zip(other.fields()) {
                        column.push_field(value);
                    }
                }
            }
        }
        let mut columns = Columns::new();
        columns.put("row", rows);
        for (spec, column) in specs.into_iter().zip(values) {
            columns.put(spec.name, column);
        }
        columns
    }

    /// Appends one object with its status and delegated state.
    pub(crate) fn push(&mut self, raw: u64, status: Status, delegated: &Delegated) {
        self.handles.push(raw);
        self.statuses.push(status as u8);
        self.delegated.push(delegated);
    }

    /// Appends a connection with its status and delegated variables (`defaults`: they are
    /// the defaults, shared rather than copied).
    pub(crate) fn push_tcp(
        &mut self,
        raw: u64,
        status: Status,
        delegated: &TcpDelegated,
        defaults: bool,
    ) {
        self.handles.push(raw);
        self.statuses.push(status as u8);
        self.delegated.push_tcp(delegated, defaults);
    }

    /// The objects whose status is not SUCCESS.
    pub fn failed(&self) -> impl Iterator<Item = u64> + '_ {
        self.handles
            .iter()
            .zip(&self.statuses)
            .filter(|(_, &s)| s != Status::Success as u8)
            .map(|(&h, _)| h)
    }
}

/// The result of invalidate: the objects (duplicates dropped) and their completion statuses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Completion {
    pub handles: Vec<u64>,
    pub statuses: Vec<u8>,
}

/// A target-initiated event waiting on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub handle: Option<u64>,
    /// The `UploadReason` code of an upload request.
    pub reason: Option<u8>,
    /// The new SendBacklogSize of a send-backlog change.
    pub size: Option<u32>,
    /// Which offload of `handle` the event is about: its target context when the event was
    /// queued (slot and the target arena's generation). After a terminate and a new offload
    /// the object has another context, and the event is stale.
    pub offload: Option<u64>,
}

/// What the host did about an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// An upload request: the connection was uploaded.
    Terminated,
    /// Upload-all: everything offloaded was uploaded.
    TerminatedAll,
    /// Offload-resume: nothing to do.
    Resumed,
    /// A NeighborReachabilityQuery, answered by the host with its HostReachabilityDelta.
    ReachabilityAnswered,
    /// The object is gone or no longer offloaded.
    Ignored,
    /// An upload request for an optional reason that the host's policy declined: the
    /// connection stays offloaded.
    Declined,
    /// The peer closed its half (TcpIndicateDisconnect) while the host's half is open: the
    /// connection stays offloaded, and the host can still send.
    PeerClosed,
    /// The host's graceful disconnect completed while the peer's half is open (FIN-WAIT-2):
    /// the connection stays offloaded, waiting for the peer's FIN.
    Disconnected,
    /// A send-backlog change: the host takes the new size as how much to keep posted.
    BacklogNoted,
    /// Offload-pause: the host offloads nothing more until the target resumes.
    Paused,
}

impl Action {
    pub const ALL: [Action; 10] = [
        Action::Terminated,
        Action::TerminatedAll,
        Action::Resumed,
        Action::ReachabilityAnswered,
        Action::Ignored,
        Action::Declined,
        Action::PeerClosed,
        Action::Disconnected,
        Action::BacklogNoted,
        Action::Paused,
    ];

    /// The name `ProcessedEvent.action` carries.
    pub fn name(self) -> &'static str {
        match self {
            Action::Terminated => "terminated",
            Action::TerminatedAll => "terminated_all",
            Action::Resumed => "resumed",
            Action::ReachabilityAnswered => "reachability_answered",
            Action::Ignored => "ignored",
            Action::Declined => "declined",
            Action::PeerClosed => "peer_closed",
            Action::Disconnected => "disconnected",
            Action::BacklogNoted => "backlog_noted",
            Action::Paused => "paused",
        }
    }
}

/// One processed event and what the host did about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Processed {
    pub event: Event,
    pub action: Action,
    pub outcome: Option<Outcome>,
}

/// Requested / succeeded / failed-by-status counts of one operation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OperationCounts {
    pub requested: u64,
    pub succeeded: u64,
    /// Failures by status code.
    pub failed: [u64; Status::ALL.len()],
}

impl OperationCounts {
    pub fn fail(&mut self, status: Status, count: u64) {
        self.failed[status as usize] += count;
    }
}

/// One entry of [`Counters::entries`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Counter {
    Int(u64),
    Bool(bool),
    /// One count per layer: neighbor, path, TCP.
    PerLayer([u64; 3]),
    /// One count per `Operation`, in code order.
    PerOperation([u64; 5]),
    Operation(OperationCounts),
}

/// Everything `tree.stats()` and `target.stats()` are built from (docs/DESIGN.md §9): the
/// engine counts, the Python layer arranges them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Live objects per layer.
    pub live: [u64; 3],
    /// Offloaded objects per layer, as the host counts them.
    pub offloaded: [u64; 3],
    /// Contexts per layer, as the target counts them (equal to `offloaded`: invariant 5).
    pub target_offloaded: [u64; 3],
    pub initiate_offload: OperationCounts,
    pub terminate: OperationCounts,
    pub update: OperationCounts,
    pub query: OperationCounts,
    pub invalidate: OperationCounts,
    pub bytes_buffered: u64,
    pub bytes_returned: u64,
    pub bytes_held_back: u64,
    /// Bytes of sends completed with UPLOAD_IN_PROGRESS (a mandatory upload request pending).
    pub bytes_upload_in_progress: u64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    /// Bytes the host posted with `send` (ever).
    pub bytes_posted: u64,
    /// Posted bytes the peer acknowledged (ever).
    pub bytes_acknowledged: u64,
    /// Posted bytes the target holds now, unacknowledged.
    pub bytes_send_queued: u64,
    /// Posted bytes terminates handed back to the host (ever).
    pub bytes_send_returned: u64,
    /// Posted bytes a reset dropped (REQUEST_ABORTED: the host does not process them; ever).
    pub bytes_send_aborted: u64,
    /// Received bytes the target delivered to the host in receive requests (ever).
    pub bytes_delivered: u64,
    /// Delivered bytes the application read (ever).
    pub bytes_read: u64,
    /// Delivered bytes not read yet (now).
    pub bytes_unread: u64,
    /// Delivered bytes dropped unread with their removed connection (ever).
    pub bytes_discarded: u64,
    /// Received bytes placed in receive requests that are not full yet (now).
    pub bytes_placed: u64,
    /// Received bytes the host handed to the target with an offload (BufferedData; ever).
    pub bytes_handed_over: u64,
    /// Received bytes indicated on the non-offload path during an upload, not yet back with
    /// the host's connection (now).
    pub bytes_non_offload: u64,
    /// Bytes of segments dropped because they did not fit the receive window (ever).
    pub bytes_beyond_window: u64,
    pub events_seen: u64,
    pub events_processed: u64,
    pub events_pending: u64,
    pub events_indicated: u64,
    pub contexts_allocated: u64,
    pub contexts_freed: u64,
    pub invalid: u64,
    pub paused: bool,
    /// Injected faults not fired yet, per `Operation`.
    pub faults_pending: [u64; 5],
    /// Offloaded objects a failed query or invalidate found corrupt (their upload will fail).
    pub corrupt: u64,
    /// The host's reference counts summed per layer: offloaded dependents of offloaded objects.
    pub references_held: [u64; 3],
    /// Offloaded objects per layer that no offloaded object depends on (always 0 for
    /// neighbors and paths while the host releases them).
    pub unreferenced: [u64; 3],
    /// Objects the host terminated because their reference count reached zero, per layer.
    pub released: [u64; 3],
}

impl Counters {
    /// Every counter by name, in a fixed order: the names and order that
    /// `python/offload_tree/_stats.py` reads.
    pub fn entries(&self) -> Vec<(&'static str, Counter)> {
        use Counter::{Bool, Int, Operation, PerLayer, PerOperation};
        vec![
            ("live", PerLayer(self.live)),
            ("offloaded", PerLayer(self.offloaded)),
            ("target_offloaded", PerLayer(self.target_offloaded)),
            ("initiate_offload", Operation(self.initiate_offload.clone())),
            ("terminate", Operation(self.terminate.clone())),
            ("update", Operation(self.update.clone())),
            ("query", Operation(self.query.clone())),
            ("invalidate", Operation(self.invalidate.clone())),
            ("bytes_buffered", Int(self.bytes_buffered)),
            ("bytes_returned", Int(self.bytes_returned)),
            ("bytes_held_back", Int(self.bytes_held_back)),
            (
                "bytes_upload_in_progress",
                Int(self.bytes_upload_in_progress),
            ),
            ("bytes_received", Int(self.bytes_received)),
            ("bytes_sent", Int(self.bytes_sent)),
            ("bytes_posted", Int(self.bytes_posted)),
            ("bytes_acknowledged", Int(self.bytes_acknowledged)),
            ("bytes_send_queued", Int(self.bytes_send_queued)),
            ("bytes_send_returned", Int(self.bytes_send_returned)),
            ("bytes_send_aborted", Int(self.bytes_send_aborted)),
            ("bytes_delivered", Int(self.bytes_delivered)),
            ("bytes_read", Int(self.bytes_read)),
            ("bytes_unread", Int(self.bytes_unread)),
            ("bytes_discarded", Int(self.bytes_discarded)),
            ("bytes_placed", Int(self.bytes_placed)),
            ("bytes_handed_over", Int(self.bytes_handed_over)),
            ("bytes_non_offload", Int(self.bytes_non_offload)),
            ("bytes_beyond_window", Int(self.bytes_beyond_window)),
            ("events_seen", Int(self.events_seen)),
            ("events_processed", Int(self.events_processed)),
            ("events_pending", Int(self.events_pending)),
            ("events_indicated", Int(self.events_indicated)),
            ("contexts_allocated", Int(self.contexts_allocated)),
            ("contexts_freed", Int(self.contexts_freed)),
            ("invalid", Int(self.invalid)),
            ("paused", Bool(self.paused)),
            ("faults_pending", PerOperation(self.faults_pending)),
            ("corrupt", Int(self.corrupt)),
            ("references_held", PerLayer(self.references_held)),
            ("unreferenced", PerLayer(self.unreferenced)),
            ("released", PerLayer(self.released)),
        ]
    }
}

/// The counts the engine keeps as it goes; [`Counters`] adds what it reads off the tree and
/// the target when asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RunningCounts {
    pub initiate_offload: OperationCounts,
    pub terminate: OperationCounts,
    pub update: OperationCounts,
    pub query: OperationCounts,
    pub invalidate: OperationCounts,
    pub bytes_returned: u64,
    /// Bytes the host posted with `send` (ever).
    pub bytes_posted: u64,
    /// Posted bytes terminates handed back (ever).
    pub bytes_send_returned: u64,
    /// Received bytes delivered to the host in receive requests (ever).
    pub bytes_delivered: u64,
    /// Delivered bytes the application read (ever).
    pub bytes_read: u64,
    /// Delivered bytes dropped unread with their removed connection (ever).
    pub bytes_discarded: u64,
    pub events_seen: u64,
    pub events_processed: u64,
    /// Objects the host terminated because their reference count reached zero, per layer.
    pub released: [u64; 3],
}
