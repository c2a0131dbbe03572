//! The simulated offload target: a state store of its own (SPEC §5).
//!
//! It keeps one arena of contexts per layer, each context linked to the context of the object
//! it depends on: the target's "internal state tree" (NET offload-target-s-internal-state-trees),
//! which invariant 5 says mirrors the host's links. It owns the delegated state of offloaded
//! objects, buffers received data, enforces capacities and limits, and injects faults.
//!
//! A connection's delegated state is stored copy-on-write. While offloaded, the host's copy is
//! frozen at the values it handed over (DESIGN §8: only terminate changes it), so the target's
//! live state equals that snapshot until traffic changes it. The target stores its own copy
//! only from that first change on (`TargetTcp::diverged`); offloading a million connections
//! then copies no state, and memory holds each value once. Cached variables are the host's to
//! change and the target only reads them, so it keeps no copy of them either.

use std::collections::HashMap;

use crate::arena::Arena;
use crate::error::{Error, Result};
use crate::handle::{Handle, Layer};
use crate::rng::{unit_float, SplitMix64};
use crate::state::{Mac, TcpDelegated};
use crate::status::Status;

/// How the target was configured. `None` means unlimited.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetConfig {
    pub neighbor_capacity: Option<u64>,
    pub path_capacity: Option<u64>,
    pub tcp_capacity: Option<u64>,
    pub max_path_mtu: Option<u64>,
    pub max_rcv_window: Option<u64>,
    pub fail_rate: f64,
    pub seed: u64,
}

impl TargetConfig {
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.fail_rate) {
            return Err(Error::validation(format!(
                "fail_rate must be in [0, 1], got {}",
                self.fail_rate
            )));
        }
        Ok(())
    }

    pub fn capacity(&self, layer: Layer) -> Option<u64> {
        match layer {
            Layer::Neighbor => self.neighbor_capacity,
            Layer::Path => self.path_capacity,
            Layer::Tcp => self.tcp_capacity,
        }
    }
}

/// The target's copy of an offloaded neighbor.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetNeighbor {
    pub host: Handle,
    pub mac: Mac,
    pub host_reachability_delta: u32,
    pub nic_reachability_delta: u32,
    pub invalid: bool,
}

/// The target's copy of an offloaded path, linked to its neighbor's context.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetPath {
    pub host: Handle,
    pub neighbor: u32,
    pub path_mtu: u16,
    pub invalid: bool,
}

/// "The live state is still the host's snapshot": `TargetTcp::diverged` before any change.
pub const NOT_DIVERGED: u32 = u32::MAX;

/// The target's record of an offloaded connection, linked to its path's context.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetTcp {
    pub host: Handle,
    pub path: u32,
    /// Slot in `Target::diverged` of the live delegated state once traffic changed it, else
    /// `NOT_DIVERGED` (the live state is the host's snapshot).
    pub diverged: u32,
    pub invalid: bool,
}

impl TargetTcp {
    /// A fresh context: the live delegated state is the host's snapshot.
    pub fn new(host: Handle, path: u32) -> Self {
        Self {
            host,
            path,
            diverged: NOT_DIVERGED,
            invalid: false,
        }
    }
}

/// Running totals of the target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetCounters {
    pub contexts_allocated: u64,
    pub contexts_freed: u64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub bytes_buffered: u64,
    pub bytes_held_back: u64,
    pub events_indicated: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Target {
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
    /// One-shot faults aimed at chosen objects, by host handle.
    pub faults: HashMap<u64, Status>,
    /// Upload-all was indicated and not yet followed by resume.
    pub paused: bool,
    pub invalid: u64,
    pub counters: TargetCounters,
}

impl Target {
    pub fn new(config: TargetConfig) -> Result<Target> {
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
            faults: HashMap::new(),
            paused: false,
            invalid: 0,
            counters: TargetCounters::default(),
        })
    }

    pub fn offloaded(&self, layer: Layer) -> usize {
        match layer {
            Layer::Neighbor => self.neighbors.len(),
            Layer::Path => self.paths.len(),
            Layer::Tcp => self.tcps.len(),
        }
    }

    /// The status of an offload attempt that fails before allocating, or None if it may go
    /// ahead (DESIGN §8: fault, capacity, limits, random fault, in that order). `value` is the
    /// path MTU for a path and the initial receive window for a connection. `pending` is the
    /// number of objects of `layer` admitted but not allocated yet: they count against the
    /// capacity.
    pub fn admit(
        &mut self,
        layer: Layer,
        host: Handle,
        value: u64,
        pending: usize,
    ) -> Option<Status> {
        // Most targets have no injected fault: skip hashing the handle then.
        if !self.faults.is_empty() {
            if let Some(status) = self.faults.remove(&host.raw()) {
                return Some(status);
            }
        }
        if let Some(capacity) = self.config.capacity(layer) {
            if (self.offloaded(layer) + pending) as u64 >= capacity {
                return Some(match layer {
                    Layer::Neighbor => Status::NeighborEntries,
                    Layer::Path => Status::PathEntries,
                    Layer::Tcp => Status::TcpEntries,
                });
            }
        }
        match layer {
            Layer::Path if self.config.max_path_mtu.is_some_and(|max| value > max) => {
                return Some(Status::PathMtu)
            }
            Layer::Tcp if self.config.max_rcv_window.is_some_and(|max| value > max) => {
                return Some(Status::TcpRcvWindow)
            }
            _ => {}
        }
        if self.config.fail_rate > 0.0 {
            let x = self.rng.next_u64();
            if unit_float(x) < self.config.fail_rate {
                return Some(if x & 1 == 0 {
                    Status::Failure
                } else {
                    Status::Resources
                });
            }
        }
        None
    }

    /// What `admit` may consume for `host`: the generator and its injected fault. Lets a caller
    /// that must fail atomically (relink) put them back.
    pub fn admission_state(&self, host: Handle) -> (SplitMix64, Option<Status>) {
        (self.rng.clone(), self.faults.get(&host.raw()).copied())
    }

    pub fn restore_admission_state(&mut self, host: Handle, saved: (SplitMix64, Option<Status>)) {
        self.rng = saved.0;
        if let Some(status) = saved.1 {
            self.faults.insert(host.raw(), status);
        }
    }

    /// Makes room for `additional` contexts per layer.
    pub fn reserve(&mut self, additional: [usize; 3]) {
        self.neighbors.reserve(additional[0]);
        self.paths.reserve(additional[1]);
        self.tcps.reserve(additional[2]);
    }

    pub fn add_neighbor(&mut self, context: TargetNeighbor) -> u32 {
        self.counters.contexts_allocated += 1;
        self.neighbors.insert(context).0
    }

    pub fn add_path(&mut self, context: TargetPath) -> u32 {
        self.counters.contexts_allocated += 1;
        self.paths.insert(context).0
    }

    pub fn add_tcp(&mut self, context: TargetTcp) -> u32 {
        self.counters.contexts_allocated += 1;
        self.tcps.insert(context).0
    }

    // Context accessors: the host only holds contexts the target gave it, so a miss is a bug.
    pub fn neighbor(&self, context: u32) -> &TargetNeighbor {
        self.neighbors
            .get_slot(context)
            .expect("live neighbor context")
    }
    pub fn neighbor_mut(&mut self, context: u32) -> &mut TargetNeighbor {
        self.neighbors
            .get_slot_mut(context)
            .expect("live neighbor context")
    }
    pub fn path(&self, context: u32) -> &TargetPath {
        self.paths.get_slot(context).expect("live path context")
    }
    pub fn path_mut(&mut self, context: u32) -> &mut TargetPath {
        self.paths.get_slot_mut(context).expect("live path context")
    }
    pub fn tcp(&self, context: u32) -> &TargetTcp {
        self.tcps.get_slot(context).expect("live tcp context")
    }
    pub fn tcp_mut(&mut self, context: u32) -> &mut TargetTcp {
        self.tcps.get_slot_mut(context).expect("live tcp context")
    }

    /// The live delegated state of connection `context`; `snapshot` is the host's copy.
    pub fn delegated<'a>(&'a self, context: u32, snapshot: &'a TcpDelegated) -> &'a TcpDelegated {
        match self.tcp(context).diverged {
            NOT_DIVERGED => snapshot,
            slot => self.diverged.get_slot(slot).expect("live diverged state"),
        }
    }

    /// The live delegated state for writing: copied from `snapshot` on the first change.
    fn delegated_mut(&mut self, context: u32, snapshot: &TcpDelegated) -> &mut TcpDelegated {
        let slot = match self.tcp(context).diverged {
            NOT_DIVERGED => {
                let slot = self.diverged.insert(*snapshot).0;
                self.tcp_mut(context).diverged = slot;
                slot
            }
            slot => slot,
        };
        self.diverged
            .get_slot_mut(slot)
            .expect("live diverged state")
    }

    /// Whether the object in `context` of `layer` is marked invalid.
    pub fn is_invalid(&self, layer: Layer, context: u32) -> bool {
        match layer {
            Layer::Neighbor => self.neighbor(context).invalid,
            Layer::Path => self.path(context).invalid,
            Layer::Tcp => self.tcp(context).invalid,
        }
    }

    /// Marks or clears the invalid mark, keeping the count.
    pub fn set_invalid(&mut self, layer: Layer, context: u32, invalid: bool) {
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

    /// A connection is held back when it, its path or its neighbor is invalid.
    pub fn tcp_held_back(&self, context: u32) -> bool {
        let tcp = self.tcp(context);
        let path = self.path(tcp.path);
        tcp.invalid || path.invalid || self.neighbor(path.neighbor).invalid
    }

    /// Releases a context, returning what the host gets back.
    pub fn upload(&mut self, layer: Layer, context: u32) -> Upload {
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
                let received = self.received.remove(&context).unwrap_or_default();
                self.counters.bytes_buffered -= received.len() as u64;
                Upload::Tcp {
                    delegated,
                    received,
                }
            }
        }
    }

    /// Buffers received bytes and advances the receive sequence (mod 2^32); `snapshot` is the
    /// host's copy of the delegated state.
    pub fn receive(&mut self, context: u32, data: &[u8], snapshot: &TcpDelegated) {
        let n = data.len();
        if n > 0 {
            self.received
                .entry(context)
                .or_default()
                .extend_from_slice(data);
        }
        let d = self.delegated_mut(context, snapshot);
        // Sequence space is 32 bits: truncation is the wrap the protocol defines.
        d.rcv_nxt = d.rcv_nxt.wrapping_add(n as u32);
        d.rcv_wnd -= d.rcv_wnd.min(n.min(u32::MAX as usize) as u32);
        self.counters.bytes_received += n as u64;
        self.counters.bytes_buffered += n as u64;
    }

    /// Advances the send sequence by `nbytes`, or holds them back on an invalid connection;
    /// `snapshot` is the host's copy of the delegated state.
    pub fn send(&mut self, context: u32, nbytes: u32, snapshot: &TcpDelegated) -> u32 {
        if self.tcp_held_back(context) {
            self.counters.bytes_held_back += u64::from(nbytes);
            return 0;
        }
        let d = self.delegated_mut(context, snapshot);
        d.snd_nxt = d.snd_nxt.wrapping_add(nbytes);
        let ahead = d.snd_nxt.wrapping_sub(d.snd_max);
        if (1..(1u32 << 31)).contains(&ahead) {
            d.snd_max = d.snd_nxt;
        }
        d.send_backlog_size = d.snd_nxt.wrapping_sub(d.snd_una);
        self.counters.bytes_sent += u64::from(nbytes);
        nbytes
    }
}

/// What a terminated object hands back to the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Upload {
    Neighbor {
        nic_reachability_delta: u32,
    },
    Path,
    Tcp {
        /// The live delegated state, or None when it is still the host's snapshot.
        delegated: Option<TcpDelegated>,
        received: Vec<u8>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handle::Layer;

    fn tcp_target() -> (Target, u32) {
        let mut target = Target::new(TargetConfig::default()).unwrap();
        let n = target.add_neighbor(TargetNeighbor {
            host: Handle::new(1, Layer::Neighbor, 0, 0),
            mac: [0; 6],
            host_reachability_delta: 0,
            nic_reachability_delta: 0,
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
    fn receive_buffers_and_wraps_sequence() {
        let (mut target, t) = tcp_target();
        let snapshot = TcpDelegated {
            rcv_nxt: u32::MAX - 1,
            ..TcpDelegated::default()
        };
        // Nothing is copied until the state changes.
        assert_eq!(target.tcp(t).diverged, NOT_DIVERGED);
        assert!(std::ptr::eq(target.delegated(t, &snapshot), &snapshot));
        target.receive(t, b"abc", &snapshot);
        target.receive(t, b"de", &snapshot);
        assert_eq!(target.received[&t], b"abcde");
        let live = *target.delegated(t, &snapshot);
        assert_eq!(live.rcv_nxt, 3);
        assert_eq!(live.rcv_wnd, 65530);
        assert_eq!(
            snapshot.rcv_nxt,
            u32::MAX - 1,
            "the host's snapshot is untouched"
        );
        assert_eq!(target.diverged.len(), 1);
        match target.upload(Layer::Tcp, t) {
            Upload::Tcp {
                delegated,
                received,
            } => {
                assert_eq!(received, b"abcde");
                assert_eq!(delegated, Some(live));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(target.counters.bytes_buffered, 0);
        assert!(target.diverged.is_empty(), "upload frees the diverged copy");
    }

    #[test]
    fn upload_of_an_unchanged_connection_hands_back_no_copy() {
        let (mut target, t) = tcp_target();
        match target.upload(Layer::Tcp, t) {
            Upload::Tcp {
                delegated,
                received,
            } => assert_eq!((delegated, received.len()), (None, 0)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn send_is_held_back_when_an_ancestor_is_invalid() {
        let (mut target, t) = tcp_target();
        let snapshot = TcpDelegated::default();
        assert_eq!(target.send(t, 100, &snapshot), 100);
        let path = target.tcp(t).path;
        let neighbor = target.path(path).neighbor;
        target.set_invalid(Layer::Neighbor, neighbor, true);
        assert_eq!(target.send(t, 50, &snapshot), 0);
        assert_eq!(target.counters.bytes_held_back, 50);
        assert_eq!(target.delegated(t, &snapshot).snd_nxt, 100);
        assert_eq!(target.delegated(t, &snapshot).snd_max, 100);
    }

    #[test]
    fn admit_checks_faults_then_capacity_then_limits() {
        let mut target = Target::new(TargetConfig {
            tcp_capacity: Some(0),
            max_path_mtu: Some(1500),
            ..TargetConfig::default()
        })
        .unwrap();
        let tcp = Handle::new(1, Layer::Tcp, 0, 7);
        target.faults.insert(tcp.raw(), Status::Resources);
        assert_eq!(target.admit(Layer::Tcp, tcp, 0, 0), Some(Status::Resources));
        assert_eq!(
            target.admit(Layer::Tcp, tcp, 0, 0),
            Some(Status::TcpEntries)
        );
        let path = Handle::new(1, Layer::Path, 0, 0);
        assert_eq!(
            target.admit(Layer::Path, path, 9000, 0),
            Some(Status::PathMtu)
        );
        assert_eq!(target.admit(Layer::Path, path, 1500, 0), None);
    }

    #[test]
    fn fail_rate_one_always_fails_and_is_reproducible() {
        let config = TargetConfig {
            fail_rate: 1.0,
            seed: 42,
            ..TargetConfig::default()
        };
        let mut a = Target::new(config.clone()).unwrap();
        let mut b = Target::new(config).unwrap();
        let h = Handle::new(1, Layer::Neighbor, 0, 0);
        for _ in 0..10 {
            let s = a.admit(Layer::Neighbor, h, 0, 0);
            assert!(s.is_some());
            assert_eq!(s, b.admit(Layer::Neighbor, h, 0, 0));
        }
        assert!(Target::new(TargetConfig {
            fail_rate: 1.5,
            ..TargetConfig::default()
        })
        .is_err());
    }
}
