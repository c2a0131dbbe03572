//! The host side of the state tree: the objects and their links ([`tree`]), the walks over
//! them ([`walk`]), and the block lists that convey parts of the tree to the target
//! ([`blocks`]).

mod blocks;
mod tree;
mod walk;

pub use blocks::{BlockList, NO_LINK};

pub(crate) use blocks::ParentTracker;
pub(crate) use tree::{expect_layer, layer_of, HostTree, NO_CONTEXT};
pub(crate) use walk::SeenSet;
