//! offload-tree-core: the TCP chimney offload state tree, in pure Rust.
//!
//! Host stacks offload *trees* of state to an offload target: TCP connections depend on a
//! path, paths on a neighbor (NDIS "Offload State Tree"; docs/SPEC.md). This crate holds the
//! host's tree in generational arenas, builds the block lists that convey it, simulates the
//! offload target, and runs every operation between the two behind one [`Engine`]. It has no
//! Python in it: `crates/python` wraps it as the `offload_tree._native` extension module.
//!
//! # Module map
//!
//! | folder | what it holds |
//! |---|---|
//! | `model/` | the vocabulary: [`Handle`] and [`Layer`], the generational arena, the state-variable tables ([`fields`]), the state structs, addresses, [`Status`], [`UploadReason`], [`EventKind`], [`ConnectionState`], loosely typed input [`Value`]s, and the error catalogue ([`ErrorCode`]) |
//! | `host/` | the host tree: objects and their links, walks without recursion, and [`BlockList`]s |
//! | `target/` | the simulated target: its contexts (the internal state tree), [`TargetConfig`], admission (faults, capacities, limits, the SplitMix64 generator), and traffic on offloaded connections with copy-on-write delegated state |
//! | `engine/` | [`Engine`], defined in `engine/mod.rs` and extended by one child module per job (build, read, offload, terminate, update, relink, query, invalidate, traffic, faults, events, stats, invariants); the values they exchange are in `engine/types.rs` |
//! | `testing/` | with feature `testing`: the fuzz interpreter (`testing::fuzz`); the same feature adds `Engine::check_invariants` |
//!
//! Dependencies point one way: `model` ← `host` ← `target` ← `engine` ← `testing`
//! (`target` reads only `model`). No module imports a module that imports it back
//! (`tests/test_layout.py` checks this).
//!
//! # Example
//!
//! ```
//! use offload_tree_core::{Engine, NeighborArgs, Status, TargetConfig, Value};
//!
//! let mut engine = Engine::new(TargetConfig::default()).unwrap();
//! let nb = engine
//!     .add_neighbor(&NeighborArgs {
//!         mac: Value::Text("00:15:5d:01:02:03".into()),
//!         vlan_id: Value::Int(0),
//!         source_mac: None,
//!         host_reachability_delta: Value::Int(0),
//!         nic_reachability_delta: Value::Int(0),
//!     })
//!     .unwrap();
//! let ip = |text: &str| Value::Text(text.into());
//! let path = engine.add_path(nb, &ip("10.0.0.1"), &ip("10.0.0.9"), &Value::Int(1500)).unwrap();
//! let tcp = engine.add_tcp(path, &Value::Int(49152), &Value::Int(443), &[]).unwrap();
//! let (blocks, released) = engine.initiate_offload(&[tcp]).unwrap();
//! assert_eq!(blocks.handles, vec![nb, path, tcp]);
//! assert!((0..blocks.len()).all(|i| blocks.status(i) == Some(Status::Success)));
//! assert!(released.is_empty(), "the connection references its path and neighbor");
//! let done = engine.terminate(&[nb], true).unwrap();
//! assert_eq!(done.handles, vec![tcp, path, nb]);
//! ```

#![warn(unreachable_pub)]

mod engine;
mod host;
mod model;
mod target;

#[cfg(feature = "testing")]
pub mod testing;

pub use engine::{
    check_batch, Action, Column, Completion, Counter, Counters, Delegated, DelegatedRows, Engine,
    Event, InterruptCheck, NeighborArgs, OperationCounts, Outcome, Processed, StateValue,
    MAX_BATCH, POLL_EVERY,
};
pub use host::{BlockList, HostPolicy, OffloadRule, NO_LINK};
pub use model::{
    fields, Budget, ColumnData, Columns, ConnectionState, Error, ErrorCode, ErrorKind, EventKind,
    FieldKind, FieldSpec, Handle, Layer, Operation, Result, Status, TcpDelegated, UploadReason,
    Value, ValueType, ITEM_SUFFIX, NO_STATUS,
};
pub use target::{IpOffloadStats, OffloadStats, TargetConfig, TargetLimits, TcpOffloadStats};
