//! The host's state tree: three arenas (one per layer) and the dependency links.
//!
//! Each object stores the handle of the object it depends on and, for neighbors and paths, its
//! dependents as a `Vec<Handle>` in insertion order. A walk therefore copies contiguous handle
//! runs instead of chasing per-object pointers, and no traversal recurses.

use crate::arena::{Arena, SlotColumn};
use crate::error::{Error, Result};
use crate::handle::{next_tree_id, Handle, Layer};
use crate::state::{NeighborState, PathState, TcpState};

/// "Not offloaded": the value of `offload` when the object has no target context.
pub const NO_CONTEXT: u32 = u32::MAX;

#[derive(Clone, Debug, PartialEq)]
pub struct Neighbor {
    pub state: NeighborState,
    /// Dependent paths, in insertion order.
    pub paths: Vec<Handle>,
    /// The target context slot while offloaded, else `NO_CONTEXT`.
    pub offload: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    pub neighbor: Handle,
    pub state: PathState,
    /// Dependent connections, in insertion order.
    pub tcps: Vec<Handle>,
    pub offload: u32,
}

/// A connection's links (hot); its variables live in `HostTree::tcp_states` (cold).
#[derive(Clone, Debug, PartialEq)]
pub struct Tcp {
    pub path: Handle,
    pub offload: u32,
}

/// The host side of the state tree.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTree {
    id: u16,
    pub neighbors: Arena<Neighbor>,
    pub paths: Arena<Path>,
    pub tcps: Arena<Tcp>,
    /// Every connection's variables, by slot of `tcps`.
    pub tcp_states: SlotColumn<TcpState>,
    /// Live neighbors in creation order: the roots of every walk.
    pub roots: Vec<Handle>,
    /// Offloaded objects per layer.
    pub offloaded: [usize; 3],
}

impl Default for HostTree {
    fn default() -> Self {
        Self::new()
    }
}

impl HostTree {
    pub fn new() -> Self {
        Self::with_id(next_tree_id())
    }

    pub fn with_id(id: u16) -> Self {
        Self {
            id,
            neighbors: Arena::new(),
            paths: Arena::new(),
            tcps: Arena::new(),
            tcp_states: SlotColumn::new(),
            roots: Vec::new(),
            offloaded: [0; 3],
        }
    }

    pub fn id(&self) -> u16 {
        self.id
    }

    pub fn len(&self) -> usize {
        self.neighbors.len() + self.paths.len() + self.tcps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn live(&self, layer: Layer) -> usize {
        match layer {
            Layer::Neighbor => self.neighbors.len(),
            Layer::Path => self.paths.len(),
            Layer::Tcp => self.tcps.len(),
        }
    }

    /// Checks that `raw` names a live object of this tree and returns it decoded.
    pub fn resolve(&self, raw: u64) -> Result<Handle> {
        if self.contains(raw) {
            Ok(Handle::from_raw(raw))
        } else {
            Err(self.invalid(raw))
        }
    }

    fn invalid(&self, raw: u64) -> Error {
        let handle = Handle::from_raw(raw);
        Error::invalid_handle(if handle.tree() != self.id {
            format!(
                "handle {handle} belongs to another tree (tree id {})",
                handle.tree()
            )
        } else if handle.layer().is_none() {
            format!("invalid handle {handle}: no such layer")
        } else {
            format!("stale or unknown handle {handle}: no live object")
        })
    }

    pub fn contains(&self, raw: u64) -> bool {
        let h = Handle::from_raw(raw);
        if h.tree() != self.id {
            return false;
        }
        let (slot, generation) = (h.slot(), h.generation());
        match h.layer() {
            Some(Layer::Neighbor) => self.neighbors.get(slot, generation).is_some(),
            Some(Layer::Path) => self.paths.get(slot, generation).is_some(),
            Some(Layer::Tcp) => self.tcps.get(slot, generation).is_some(),
            None => false,
        }
    }

    /// Resolves `raw` and checks its layer, for an argument with a fixed role.
    pub fn resolve_layer(&self, raw: u64, layer: Layer, role: &str) -> Result<Handle> {
        let h = self.resolve(raw)?;
        check_layer(h, layer, role)?;
        Ok(h)
    }

    // Accessors for handles already resolved (they panic only on a logic error in the core).
    pub fn neighbor(&self, h: Handle) -> &Neighbor {
        self.neighbors
            .get(h.slot(), h.generation())
            .expect("resolved neighbor")
    }
    pub fn neighbor_mut(&mut self, h: Handle) -> &mut Neighbor {
        self.neighbors
            .get_mut(h.slot(), h.generation())
            .expect("resolved neighbor")
    }
    pub fn path(&self, h: Handle) -> &Path {
        self.paths
            .get(h.slot(), h.generation())
            .expect("resolved path")
    }
    pub fn path_mut(&mut self, h: Handle) -> &mut Path {
        self.paths
            .get_mut(h.slot(), h.generation())
            .expect("resolved path")
    }
    pub fn tcp(&self, h: Handle) -> &Tcp {
        self.tcps
            .get(h.slot(), h.generation())
            .expect("resolved tcp")
    }
    pub fn tcp_mut(&mut self, h: Handle) -> &mut Tcp {
        self.tcps
            .get_mut(h.slot(), h.generation())
            .expect("resolved tcp")
    }
    pub fn tcp_state(&self, h: Handle) -> &TcpState {
        self.tcp_states.get(h.slot())
    }
    pub fn tcp_state_mut(&mut self, h: Handle) -> &mut TcpState {
        self.tcp_states.get_mut(h.slot())
    }

    /// The object `h` depends on (None for a neighbor).
    pub fn parent(&self, h: Handle) -> Option<Handle> {
        match layer_of(h) {
            Layer::Neighbor => None,
            Layer::Path => Some(self.path(h).neighbor),
            Layer::Tcp => Some(self.tcp(h).path),
        }
    }

    /// The objects that depend on `h`, in insertion order.
    pub fn children(&self, h: Handle) -> &[Handle] {
        match layer_of(h) {
            Layer::Neighbor => &self.neighbor(h).paths,
            Layer::Path => &self.path(h).tcps,
            Layer::Tcp => &[],
        }
    }

    /// The target context of `h`, or `NO_CONTEXT`.
    pub fn context(&self, h: Handle) -> u32 {
        match layer_of(h) {
            Layer::Neighbor => self.neighbor(h).offload,
            Layer::Path => self.path(h).offload,
            Layer::Tcp => self.tcp(h).offload,
        }
    }

    pub fn is_offloaded(&self, h: Handle) -> bool {
        self.context(h) != NO_CONTEXT
    }

    /// Records (or clears, with `NO_CONTEXT`) the target context of `h`.
    pub fn set_context(&mut self, h: Handle, context: u32) {
        let was = self.is_offloaded(h);
        let slot = match layer_of(h) {
            Layer::Neighbor => &mut self.neighbor_mut(h).offload,
            Layer::Path => &mut self.path_mut(h).offload,
            Layer::Tcp => &mut self.tcp_mut(h).offload,
        };
        *slot = context;
        let now = context != NO_CONTEXT;
        let counter = &mut self.offloaded[layer_of(h).index()];
        match (was, now) {
            (false, true) => *counter += 1,
            (true, false) => *counter -= 1,
            _ => {}
        }
    }

    /// Fails when adding `additional` objects to `layer` would overflow its 32-bit slot space.
    pub fn check_room(&self, layer: Layer, additional: usize) -> Result<()> {
        let slots = match layer {
            Layer::Neighbor => self.neighbors.slot_count(),
            Layer::Path => self.paths.slot_count(),
            Layer::Tcp => self.tcps.slot_count(),
        };
        if slots.saturating_add(additional) > u32::MAX as usize {
            return Err(Error::validation(format!(
                "cannot add {additional} {} objects: a layer holds at most {} slots",
                layer.name(),
                u32::MAX
            )));
        }
        Ok(())
    }

    pub fn insert_neighbor(&mut self, state: NeighborState) -> Handle {
        let (slot, generation) = self.neighbors.insert(Neighbor {
            state,
            paths: Vec::new(),
            offload: NO_CONTEXT,
        });
        let h = Handle::new(self.id, Layer::Neighbor, generation, slot);
        self.roots.push(h);
        h
    }

    /// Adds a path under a neighbor already resolved by the caller.
    pub fn insert_path(&mut self, neighbor: Handle, state: PathState) -> Handle {
        let (slot, generation) = self.paths.insert(Path {
            neighbor,
            state,
            tcps: Vec::new(),
            offload: NO_CONTEXT,
        });
        let h = Handle::new(self.id, Layer::Path, generation, slot);
        self.neighbor_mut(neighbor).paths.push(h);
        h
    }

    /// Adds a connection under a path already resolved by the caller.
    /// Makes room in each path's dependents for the connections about to be added under
    /// `paths`, so a batch grows every list once instead of by repeated doubling.
    pub fn reserve_dependents(&mut self, paths: &[Handle]) {
        let mut added = vec![0u32; self.paths.slot_count()];
        for &p in paths {
            added[p.slot() as usize] += 1;
        }
        for &p in paths {
            let count = std::mem::take(&mut added[p.slot() as usize]);
            if count > 0 {
                self.path_mut(p).tcps.reserve(count as usize);
            }
        }
    }

    pub fn insert_tcp(&mut self, path: Handle, state: TcpState) -> Handle {
        let (slot, generation) = self.tcps.insert(Tcp {
            path,
            offload: NO_CONTEXT,
        });
        self.tcp_states.put(slot, state);
        let h = Handle::new(self.id, Layer::Tcp, generation, slot);
        self.path_mut(path).tcps.push(h);
        h
    }

    /// Removes objects that the caller has checked have no remaining dependents, in the
    /// given order (dependents first). Parents' dependent lists are filtered once each.
    pub fn remove_all(&mut self, order: &[Handle]) {
        let mut touched_neighbors = Vec::new();
        let mut touched_paths = Vec::new();
        let mut removed_roots = false;
        for &h in order {
            match layer_of(h) {
                Layer::Tcp => {
                    let tcp = self
                        .tcps
                        .remove(h.slot(), h.generation())
                        .expect("live tcp");
                    touched_paths.push(tcp.path);
                }
                Layer::Path => {
                    let path = self
                        .paths
                        .remove(h.slot(), h.generation())
                        .expect("live path");
                    touched_neighbors.push(path.neighbor);
                }
                Layer::Neighbor => {
                    self.neighbors
                        .remove(h.slot(), h.generation())
                        .expect("live neighbor");
                    removed_roots = true;
                }
            }
        }
        touched_paths.sort_unstable();
        touched_paths.dedup();
        for p in touched_paths {
            if self.paths.get(p.slot(), p.generation()).is_some() {
                let mut tcps = std::mem::take(&mut self.path_mut(p).tcps);
                let live = &self.tcps;
                tcps.retain(|&t| live.get(t.slot(), t.generation()).is_some());
                self.path_mut(p).tcps = tcps;
            }
        }
        touched_neighbors.sort_unstable();
        touched_neighbors.dedup();
        for n in touched_neighbors {
            if self.neighbors.get(n.slot(), n.generation()).is_some() {
                let mut paths = std::mem::take(&mut self.neighbor_mut(n).paths);
                let live = &self.paths;
                paths.retain(|&p| live.get(p.slot(), p.generation()).is_some());
                self.neighbor_mut(n).paths = paths;
            }
        }
        if removed_roots {
            let neighbors = &self.neighbors;
            self.roots
                .retain(|&n| neighbors.get(n.slot(), n.generation()).is_some());
        }
    }

    /// Moves a path to the end of another neighbor's dependents.
    pub fn relink(&mut self, path: Handle, neighbor: Handle) {
        let old = self.path(path).neighbor;
        self.neighbor_mut(old).paths.retain(|&p| p != path);
        self.neighbor_mut(neighbor).paths.push(path);
        self.path_mut(path).neighbor = neighbor;
    }

    /// Pre-order (`post == false`: an object, then its dependents) or post-order walk of the
    /// whole tree, neighbors in creation order.
    pub fn walk_all(&self, post: bool) -> Vec<u64> {
        let mut out = Vec::with_capacity(self.len());
        for &n in &self.roots {
            self.walk_subtree(n, post, &mut out);
        }
        out
    }

    /// Appends the walk of the subtree of `root` (any layer). Depth is at most three, so the
    /// loops below replace recursion.
    pub fn walk_subtree(&self, root: Handle, post: bool, out: &mut Vec<u64>) {
        let emit_path = |p: Handle, out: &mut Vec<u64>| {
            if !post {
                out.push(p.raw());
            }
            out.extend(self.path(p).tcps.iter().map(|t| t.raw()));
            if post {
                out.push(p.raw());
            }
        };
        match layer_of(root) {
            Layer::Tcp => out.push(root.raw()),
            Layer::Path => emit_path(root, out),
            Layer::Neighbor => {
                if !post {
                    out.push(root.raw());
                }
                for &p in &self.neighbor(root).paths {
                    emit_path(p, out);
                }
                if post {
                    out.push(root.raw());
                }
            }
        }
    }

    /// Walk of the subtrees of `roots` (validated), each object once (DESIGN §3).
    pub fn walk_roots(&self, roots: &[Handle], post: bool) -> Vec<u64> {
        let mut seen = SeenSet::new(self);
        let mut out = Vec::new();
        let mut scratch = Vec::new();
        for &root in roots {
            if !post && seen.contains(root) {
                continue;
            }
            scratch.clear();
            self.walk_subtree(root, post, &mut scratch);
            for &raw in &scratch {
                let h = Handle::from_raw(raw);
                if seen.insert(h) {
                    out.push(raw);
                }
            }
        }
        out
    }
}

/// `LayerError` unless `h` (resolved) is of `layer`; `role` names the argument.
pub fn check_layer(h: Handle, layer: Layer, role: &str) -> Result<()> {
    let actual = layer_of(h);
    if actual != layer {
        return Err(Error::layer(format!(
            "{role} {h} is a {actual}, expected a {layer}"
        )));
    }
    Ok(())
}

/// The layer of a handle already resolved against a tree.
pub fn layer_of(h: Handle) -> Layer {
    h.layer().expect("resolved handles have a valid layer")
}

/// A set of objects of one tree, as one bit per slot and layer: cheap to build for a walk or
/// a block list over millions of objects.
pub struct SeenSet {
    bits: [Vec<u64>; 3],
}

impl SeenSet {
    pub fn new(tree: &HostTree) -> Self {
        let words = |slots: usize| vec![0u64; slots.div_ceil(64)];
        Self {
            bits: [
                words(tree.neighbors.slot_count()),
                words(tree.paths.slot_count()),
                words(tree.tcps.slot_count()),
            ],
        }
    }

    pub fn contains(&self, h: Handle) -> bool {
        let slot = h.slot() as usize;
        self.bits[layer_of(h).index()][slot / 64] & (1 << (slot % 64)) != 0
    }

    /// Adds `h`; false if it was already there.
    pub fn insert(&mut self, h: Handle) -> bool {
        let slot = h.slot() as usize;
        let word = &mut self.bits[layer_of(h).index()][slot / 64];
        let bit = 1u64 << (slot % 64);
        let fresh = *word & bit == 0;
        *word |= bit;
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{parse_ip, TcpState};

    pub(crate) fn neighbor_state(last: u8) -> NeighborState {
        NeighborState {
            source_mac: None,
            vlan_id: 0,
            mac: [0, 0x15, 0x5d, 1, 2, last],
            host_reachability_delta: 0,
            nic_reachability_delta: 0,
        }
    }

    fn path_state() -> PathState {
        PathState::new(
            parse_ip("10.0.0.1").unwrap(),
            parse_ip("10.0.0.9").unwrap(),
            1500,
        )
        .unwrap()
    }

    /// Neighbor1 -> Path1 (TCP1, TCP2), Path2 (TCP3): the source page's figure.
    fn example() -> (HostTree, [Handle; 6]) {
        let mut tree = HostTree::new();
        let n1 = tree.insert_neighbor(neighbor_state(1));
        let p1 = tree.insert_path(n1, path_state());
        let p2 = tree.insert_path(n1, path_state());
        let t1 = tree.insert_tcp(p1, TcpState::default());
        let t2 = tree.insert_tcp(p1, TcpState::default());
        let t3 = tree.insert_tcp(p2, TcpState::default());
        (tree, [n1, p1, p2, t1, t2, t3])
    }

    #[test]
    fn walks_follow_block_list_order() {
        let (tree, [n1, p1, p2, t1, t2, t3]) = example();
        let raw = |hs: &[Handle]| hs.iter().map(|h| h.raw()).collect::<Vec<_>>();
        assert_eq!(tree.walk_all(false), raw(&[n1, p1, t1, t2, p2, t3]));
        assert_eq!(tree.walk_all(true), raw(&[t1, t2, p1, t3, p2, n1]));
        assert_eq!(
            tree.walk_roots(&[p2, n1], false),
            raw(&[p2, t3, n1, p1, t1, t2])
        );
        assert_eq!(
            tree.walk_roots(&[t3, n1], true),
            raw(&[t3, t1, t2, p1, p2, n1])
        );
    }

    #[test]
    fn removal_invalidates_handles_and_unlinks() {
        let (mut tree, [n1, p1, _p2, t1, t2, _t3]) = example();
        tree.remove_all(&[t1]);
        assert!(tree.resolve(t1.raw()).is_err());
        assert_eq!(tree.children(p1), &[t2]);
        assert_eq!(tree.len(), 5);
        let replacement = tree.insert_tcp(p1, TcpState::default());
        assert_eq!(replacement.slot(), t1.slot(), "freed slot is reused");
        assert_ne!(replacement.raw(), t1.raw(), "with a new generation");
        assert!(tree.resolve(t1.raw()).is_err());
        assert_eq!(tree.parent(p1), Some(n1));
    }

    #[test]
    fn foreign_and_malformed_handles_are_rejected() {
        let (tree, [n1, ..]) = example();
        let (other, [m1, ..]) = example();
        assert!(other.resolve(n1.raw()).is_err());
        assert!(tree.resolve(m1.raw()).is_err());
        assert!(tree.resolve(n1.raw() | (0b11 << 46)).is_err());
        assert!(tree.resolve_layer(n1.raw(), Layer::Path, "parent").is_err());
    }

    #[test]
    fn relink_moves_path_to_end_of_new_neighbor() {
        let (mut tree, [n1, p1, p2, ..]) = example();
        let n2 = tree.insert_neighbor(neighbor_state(2));
        tree.relink(p1, n2);
        assert_eq!(tree.children(n1), &[p2]);
        assert_eq!(tree.children(n2), &[p1]);
        assert_eq!(tree.parent(p1), Some(n2));
    }
}
