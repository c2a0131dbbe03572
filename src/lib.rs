//! offload-tree: the TCP chimney offload state tree.
//!
//! Host stacks offload *trees* of state to an offload target: TCP connections depend on a
//! path, paths on a neighbor (NDIS "Offload State Tree"). This crate is the core: a
//! generational arena per layer ([`arena`], [`handle`]), the host tree ([`tree`]), the state
//! variables ([`state`]), block lists ([`blocks`]), a simulated target ([`target`]), and the
//! operations between them ([`operations`], [`events`]) behind one [`engine::Engine`].
//! It has no Python in it; the PyO3 bindings live in `python/` behind the `python` feature.

pub mod arena;
pub mod blocks;
pub mod engine;
pub mod error;
pub mod events;
pub mod fuzzing;
pub mod handle;
pub mod invariants;
pub mod operations;
pub mod rng;
pub mod state;
pub mod stats;
pub mod status;
pub mod target;
pub mod tree;
pub mod value;

#[cfg(test)]
mod scenarios;

#[cfg(feature = "python")]
mod python;

#[cfg(feature = "mimalloc")]
pub mod allocator;

pub use engine::Engine;
pub use error::{Error, ErrorKind, Result};
pub use handle::{Handle, Layer};
pub use status::Status;
pub use target::TargetConfig;
