//! The simulated offload target: a state store of its own (docs/SPEC.md §5).
//!
//! It keeps one arena of contexts per layer ([`contexts`]), linked into the target's internal
//! state tree; decides whether it takes an object ([`admission`]: injected faults, capacities,
//! limits, random faults drawn from [`rng`]); owns the delegated state of offloaded
//! connections, buffers what they receive or places it in the host's receive requests, and
//! holds what the host posts until the peer acknowledges it ([`traffic`], [`receives`],
//! [`sends`]), counting it per IP family ([`statistics`]); and
//! marks objects invalid.

mod admission;
mod clock;
mod config;
mod contexts;
mod reachability;
mod receives;
mod rng;
mod sends;
mod statistics;
mod traffic;

use std::collections::{HashMap, HashSet};

use crate::model::{Arena, Budget, Layer, Operation, Result, Status, TcpDelegated};

pub(crate) use clock::{on_new_ack, on_segment, run_timers, Clock};
pub use config::{TargetConfig, TargetLimits};
pub(crate) use receives::ReceiveRequests;
pub(crate) use sends::SendQueue;
pub(crate) use statistics::IpFamily;
pub use statistics::{IpOffloadStats, OffloadStats, TcpOffloadStats};

pub(crate) use contexts::{TargetNeighbor, TargetPath, TargetTcp, Upload, NOT_DIVERGED};
pub(crate) use rng::SplitMix64;

/// Running totals of the target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TargetCounters {
    pub contexts_allocated: u64,
    pub contexts_freed: u64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub bytes_buffered: u64,
    pub bytes_held_back: u64,
    /// Bytes of sends completed with UPLOAD_IN_PROGRESS (a mandatory upload request pending).
    pub bytes_upload_in_progress: u64,
    /// Posted send bytes the peer acknowledged (ever).
    pub bytes_acknowledged: u64,
    /// Posted send bytes held now: transmitted and unacknowledged, or waiting to be sent.
    pub bytes_send_queued: u64,
    /// Posted send bytes a reset dropped: sends completed with NDIS_STATUS_REQUEST_ABORTED,
    /// whose data the host does not process (ever).
    pub bytes_send_aborted: u64,
    /// Received bytes placed in posted receive requests that are not full yet (now).
    pub bytes_placed: u64,
    /// Received bytes the host handed over with an offload: its BufferedData (ever).
    pub bytes_handed_over: u64,
    /// Received bytes indicated on the non-offload path and not yet back with the host's
    /// connection (now).
    pub bytes_non_offload: u64,
    /// Bytes of segments dropped because they did not fit the receive window (ever).
    pub bytes_beyond_window: u64,
    pub events_indicated: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Target {
    pub config: TargetConfig,
    pub neighbors: Arena<TargetNeighbor>,
    pub paths: Arena<TargetPath>,
    pub tcps: Arena<TargetTcp>,
    /// Live delegated state of the connections traffic has changed since their offload.
    pub diverged: Arena<TcpDelegated>,
    rng: SplitMix64,
    /// Received bytes not yet indicated to the host, by connection context: returned on
    /// terminate. A side table because most connections hold none, and an empty `Vec` in
    /// every context would cost 24 bytes a connection.
    pub received: HashMap<u32, Vec<u8>>,
    /// Send data the host posted and the peer has not acknowledged, by connection context;
    /// a side table for the same reason ([`sends`]).
    pub sends: HashMap<u32, SendQueue>,
    /// Receive requests the host posted and the target has not completed, by connection
    /// context ([`receives`]).
    pub posted: HashMap<u32, ReceiveRequests>,
    /// Segments received while a connection's I/O was stopped (its upload under way): the
    /// target did not process them but indicated them on the non-offload path, for the
    /// host's stack once the connection is back (NDIS "Handling Segments Received During a
    /// Terminate Offload Operation"). By connection context.
    pub non_offload: HashMap<u32, Vec<u8>>,
    /// One-shot faults aimed at an operation on a chosen object, by operation and host handle.
    pub faults: HashMap<(Operation, u64), Status>,
    /// Offloaded objects whose hardware state a failed query or invalidate found corrupt,
    /// by host handle: their upload completes with FAILURE.
    pub corrupt: HashSet<u64>,
    /// Offload-pause or upload-all was indicated and not yet followed by resume: the host
    /// offloads nothing.
    pub paused: bool,
    /// Upload-all was indicated and not yet followed by resume: the target processes no
    /// more sends (they complete with UPLOAD_IN_PROGRESS).
    pub upload_all: bool,
    /// Contexts carrying an invalid mark.
    pub invalid: u64,
    pub counters: TargetCounters,
    /// The chimney statistics, by `IpFamily::index` ([`statistics`]).
    pub offload_stats: [OffloadStats; 2],
    /// The NIC's current time and the host's timer parameters ([`clock`]).
    pub clock: Clock,
}

impl Target {
    pub(crate) fn new(config: TargetConfig) -> Result<Target> {
        config.validate()?;
        let seed = config.seed;
        Ok(Target {
            config,
            neighbors: Arena::new(),
            paths: Arena::new(),
            tcps: Arena::new(),
            diverged: Arena::new(),
            rng: SplitMix64::new(seed),
            received: HashMap::new(),
            sends: HashMap::new(),
            posted: HashMap::new(),
            non_offload: HashMap::new(),
            faults: HashMap::new(),
            corrupt: HashSet::new(),
            paused: false,
            upload_all: false,
            invalid: 0,
            counters: TargetCounters::default(),
            offload_stats: [OffloadStats::default(); 2],
            clock: Clock::default(),
        })
    }

    /// The generator's position (a snapshot's `target.rng`).
    pub(crate) fn rng_state(&self) -> u64 {
        self.rng.state()
    }

    /// Resumes the generator at a snapshot's position.
    pub(crate) fn set_rng_state(&mut self, state: u64) {
        self.rng = SplitMix64::new(state);
    }

    /// The target processes no I/O on connection `context`: it asked for the connection's
    /// upload for a mandatory reason, or for everyone's (upload-all).
    pub(crate) fn io_stopped(&self, context: u32) -> bool {
        self.upload_all || self.tcp(context).upload_requested
    }

    /// The number of objects of `layer` the target holds.
    pub(crate) fn offloaded(&self, layer: Layer) -> usize {
        match layer {
            Layer::Neighbor => self.neighbors.len(),
            Layer::Path => self.paths.len(),
            Layer::Tcp => self.tcps.len(),
        }
    }

    /// Makes room for `additional` contexts per layer.
    pub(crate) fn reserve(&mut self, additional: [usize; 3], budget: &Budget) -> Result<()> {
        self.neighbors.reserve(additional[0], budget)?;
        self.paths.reserve(additional[1], budget)?;
        self.tcps.reserve(additional[2], budget)
    }

    pub(crate) fn add_neighbor(&mut self, context: TargetNeighbor) -> u32 {
        self.counters.contexts_allocated += 1;
        self.neighbors.insert(context).0
    }

    pub(crate) fn add_path(&mut self, context: TargetPath) -> u32 {
        self.counters.contexts_allocated += 1;
        self.paths.insert(context).0
    }

    pub(crate) fn add_tcp(&mut self, context: TargetTcp) -> u32 {
        self.counters.contexts_allocated += 1;
        self.tcps.insert(context).0
    }

    // Context accessors: the host only holds contexts the target gave it, so a miss is a bug.
    pub(crate) fn neighbor(&self, context: u32) -> &TargetNeighbor {
        self.neighbors
            .get_slot(context)
            .expect("live neighbor context")
    }
    /// The generation of a live context slot of `layer`.
    pub(crate) fn context_generation(&self, layer: Layer, context: u32) -> u16 {
        let generation = match layer {
            Layer::Neighbor => self.neighbors.generation_of(context),
            Layer::Path => self.paths.generation_of(context),
            Layer::Tcp => self.tcps.generation_of(context),
        };
        generation.expect("an offloaded object's context is live")
    }

    pub(crate) fn neighbor_mut(&mut self, context: u32) -> &mut TargetNeighbor {
        self.neighbors
            .get_slot_mut(context)
            .expect("live neighbor context")
    }
    pub(crate) fn path(&self, context: u32) -> &TargetPath {
        self.paths.get_slot(context).expect("live path context")
    }
    pub(crate) fn path_mut(&mut self, context: u32) -> &mut TargetPath {
        self.paths.get_slot_mut(context).expect("live path context")
    }
    pub(crate) fn tcp(&self, context: u32) -> &TargetTcp {
        self.tcps.get_slot(context).expect("live tcp context")
    }
    pub(crate) fn tcp_mut(&mut self, context: u32) -> &mut TargetTcp {
        self.tcps.get_slot_mut(context).expect("live tcp context")
    }

    /// Whether the object in `context` of `layer` is marked invalid.
    pub(crate) fn is_invalid(&self, layer: Layer, context: u32) -> bool {
        match layer {
            Layer::Neighbor => self.neighbor(context).invalid,
            Layer::Path => self.path(context).invalid,
            Layer::Tcp => self.tcp(context).invalid,
        }
    }

    /// Marks or clears the invalid mark, keeping the count.
    pub(crate) fn set_invalid(&mut self, layer: Layer, context: u32, invalid: bool) {
        let flag = match layer {
            Layer::Neighbor => &mut self.neighbor_mut(context).invalid,
            Layer::Path => &mut self.path_mut(context).invalid,
            Layer::Tcp => &mut self.tcp_mut(context).invalid,
        };
        let was = std::mem::replace(flag, invalid);
        match (was, invalid) {
            (false, true) => self.invalid += 1,
            (true, false) => self.invalid -= 1,
            _ => {}
        }
    }

    /// Releases a context, returning what the host gets back.
    pub(crate) fn upload(&mut self, layer: Layer, context: u32) -> Upload {
        if self.is_invalid(layer, context) {
            self.set_invalid(layer, context, false);
        }
        self.counters.contexts_freed += 1;
        match layer {
            Layer::Neighbor => {
                let n = self
                    .neighbors
                    .remove_slot(context)
                    .expect("live neighbor context");
                Upload::Neighbor {
                    nic_reachability_delta: n.nic_reachability_delta,
                }
            }
            Layer::Path => {
                self.paths.remove_slot(context).expect("live path context");
                Upload::Path
            }
            Layer::Tcp => {
                let tcp = self.tcps.remove_slot(context).expect("live tcp context");
                let delegated = match tcp.diverged {
                    NOT_DIVERGED => None,
                    slot => self.diverged.remove_slot(slot),
                };
                // Most connections hold no received bytes: skip hashing then.
                let mut received = if self.received.is_empty() {
                    Vec::new()
                } else {
                    self.received.remove(&context).unwrap_or_default()
                };
                self.counters.bytes_buffered -= received.len() as u64;
                // Segments indicated on the non-offload path follow: the host's stack
                // processes them once it has the connection back.
                let non_offload = match self.non_offload.is_empty() {
                    true => Vec::new(),
                    false => self.non_offload.remove(&context).unwrap_or_default(),
                };
                self.counters.bytes_non_offload -= non_offload.len() as u64;
                received.extend_from_slice(&non_offload);
                // Likewise posted data and receive requests: no hashing while none exist.
                let send_data = match self.sends.is_empty() {
                    true => Vec::new(),
                    false => self
                        .sends
                        .remove(&context)
                        .map_or_else(Vec::new, SendQueue::into_bytes),
                };
                self.counters.bytes_send_queued -= send_data.len() as u64;
                let placed = match self.posted.is_empty() {
                    true => Vec::new(),
                    false => self
                        .posted
                        .remove(&context)
                        .map_or_else(Vec::new, ReceiveRequests::into_placed),
                };
                self.counters.bytes_placed -= placed.len() as u64;
                Upload::Tcp {
                    delegated,
                    received,
                    send_data,
                    placed,
                    non_offload: non_offload.len(),
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::Handle;

    /// A target holding one connection over one path over one neighbor; the connection's
    /// context.
    pub(crate) fn tcp_target() -> (Target, u32) {
        let mut target = Target::new(TargetConfig::default()).unwrap();
        let n = target.add_neighbor(TargetNeighbor {
            host: Handle::new(1, Layer::Neighbor, 0, 0),
            mac: [0; 6],
            host_reachability_delta: 0,
            nic_reachability_delta: 0,
            query_pending: false,
            invalid: false,
        });
        let p = target.add_path(TargetPath {
            host: Handle::new(1, Layer::Path, 0, 0),
            neighbor: n,
            path_mtu: 1500,
            invalid: false,
        });
        let t = target.add_tcp(TargetTcp::new(Handle::new(1, Layer::Tcp, 0, 0), p));
        (target, t)
    }

    #[test]
    fn upload_of_an_unchanged_connection_hands_back_no_copy() {
        let (mut target, t) = tcp_target();
        match target.upload(Layer::Tcp, t) {
            Upload::Tcp {
                delegated,
                received,
                send_data,
                placed,
                ..
            } => assert_eq!(
                (delegated, received.len(), send_data.len(), placed.len()),
                (None, 0, 0, 0)
            ),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(target.counters.contexts_freed, 1);
        assert_eq!(target.offloaded(Layer::Tcp), 0);
    }

    #[test]
    fn invalid_marks_are_counted_and_cleared_by_upload() {
        let (mut target, t) = tcp_target();
        target.set_invalid(Layer::Tcp, t, true);
        target.set_invalid(Layer::Tcp, t, true);
        assert_eq!(target.invalid, 1);
        target.upload(Layer::Tcp, t);
        assert_eq!(target.invalid, 0);
    }
}
