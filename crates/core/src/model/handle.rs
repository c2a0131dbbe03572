//! Handles: opaque 64-bit names of state objects.
//!
//! Layout (docs/DESIGN.md §2): `tree:16 | layer:2 | generation:14 | slot:32`. The tree id rejects
//! handles from another tree, the generation rejects handles of removed objects, and the layer
//! bits let `layer(h)` answer without touching memory.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

/// The three layers of a chimney state tree, bottom to top.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Layer {
    /// Next-hop link-layer state (NDIS `NEIGHBOR_OFFLOAD_STATE_*`).
    Neighbor = 0,
    /// Source/destination IP pair with its path MTU (NDIS `PATH_OFFLOAD_STATE_*`).
    Path = 1,
    /// One TCP connection (NDIS `TCP_OFFLOAD_STATE_*`).
    Tcp = 2,
}

impl Layer {
    pub const ALL: [Layer; 3] = [Layer::Neighbor, Layer::Path, Layer::Tcp];

    pub fn from_u8(value: u8) -> Option<Layer> {
        match value {
            0 => Some(Layer::Neighbor),
            1 => Some(Layer::Path),
            2 => Some(Layer::Tcp),
            _ => None,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// The layer this one depends on, if any.
    pub fn below(self) -> Option<Layer> {
        match self {
            Layer::Neighbor => None,
            Layer::Path => Some(Layer::Neighbor),
            Layer::Tcp => Some(Layer::Path),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Layer::Neighbor => "neighbor",
            Layer::Path => "path",
            Layer::Tcp => "tcp",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Neighbor => "NEIGHBOR",
            Layer::Path => "PATH",
            Layer::Tcp => "TCP",
        })
    }
}

pub(crate) const GENERATION_BITS: u32 = 14;
/// First generation value that does not fit: a slot that reaches it is retired.
pub(crate) const GENERATION_LIMIT: u16 = 1 << GENERATION_BITS;
const SLOT_MASK: u64 = 0xFFFF_FFFF;
const GENERATION_MASK: u64 = (1 << GENERATION_BITS) - 1;

/// A decoded handle. The raw `u64` is what crosses into Python.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle(u64);

impl Handle {
    pub fn new(tree: u16, layer: Layer, generation: u16, slot: u32) -> Handle {
        debug_assert!(generation < GENERATION_LIMIT);
        Handle(
            (u64::from(tree) << 48)
                | (u64::from(layer as u8) << 46)
                | ((u64::from(generation) & GENERATION_MASK) << 32)
                | u64::from(slot),
        )
    }

    /// Wraps a raw value without checking it; `HostTree::resolve` validates one.
    pub fn from_raw(raw: u64) -> Handle {
        Handle(raw)
    }

    pub fn raw(self) -> u64 {
        self.0
    }

    pub fn tree(self) -> u16 {
        (self.0 >> 48) as u16
    }

    /// The layer bits; `None` for the never-valid value 3.
    pub fn layer(self) -> Option<Layer> {
        Layer::from_u8(((self.0 >> 46) & 0b11) as u8)
    }

    pub fn generation(self) -> u16 {
        ((self.0 >> 32) & GENERATION_MASK) as u16
    }

    pub fn slot(self) -> u32 {
        (self.0 & SLOT_MASK) as u32
    }
}

// `0x` and 16 hex digits, as the Python side prints handles, so a handle copied from an error
// message can be found in a block-list rendering.
impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:016x}", self.0)
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:016x}", self.0)
    }
}

static NEXT_TREE_ID: AtomicU32 = AtomicU32::new(1);

/// A process-wide tree id in 1..=0xFFFF. It wraps, so a handle from a tree created 65,535
/// trees earlier can alias; every other foreign handle is rejected.
pub(crate) fn next_tree_id() -> u16 {
    loop {
        let id = NEXT_TREE_ID.fetch_add(1, Ordering::Relaxed);
        let id = (id % 0x1_0000) as u16;
        // 0 is skipped so that no valid handle is 0.
        if id != 0 {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let h = Handle::new(0xABCD, Layer::Path, GENERATION_LIMIT - 1, 0xDEAD_BEEF);
        assert_eq!(h.tree(), 0xABCD);
        assert_eq!(h.layer(), Some(Layer::Path));
        assert_eq!(h.generation(), GENERATION_LIMIT - 1);
        assert_eq!(h.slot(), 0xDEAD_BEEF);
    }

    #[test]
    fn layer_bits_three_is_invalid() {
        let h = Handle::from_raw(0b11 << 46);
        assert_eq!(h.layer(), None);
    }

    #[test]
    fn tree_ids_are_never_zero() {
        for _ in 0..70_000 {
            assert_ne!(next_tree_id(), 0);
        }
    }
}
