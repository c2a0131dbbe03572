//! The host side of the state tree: the objects and their links ([`tree`]), the walks over
//! them ([`walk`]), the lookups by key ([`keys`]), the
//! connections' variables, copy-on-write from the defaults ([`states`]), the block lists that convey parts of the tree to the target
//! ([`blocks`]), and what the host decides on its own ([`policy`]).

mod blocks;
mod keys;
mod parallel;
mod policy;
mod states;
mod tree;
mod walk;

pub use blocks::{BlockList, NO_LINK};
pub use policy::{HostPolicy, OffloadRule};

pub(crate) use blocks::{ParentTracker, Placement};
pub(crate) use keys::{PathKey, TcpKey};
pub(crate) use tree::{expect_layer, layer_of, HostTree, Neighbor, Path, Tcp, NO_CONTEXT};
pub(crate) use walk::SeenSet;
