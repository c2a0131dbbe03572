//! The host's state tree: three arenas (one per layer), the dependency links, and the
//! resolution of raw handles into live objects.
//!
//! Each object stores the handle of the object it depends on and, for neighbors and paths, its
//! dependents as a `Vec<Handle>` in insertion order. A walk ([`super::walk`]) therefore copies
//! contiguous handle runs instead of chasing per-object pointers.

use super::keys::{Keys, PathKey, TcpKey};
use super::parallel::both;
use super::states::TcpStates;
use crate::error;
use crate::model::{
    next_tree_id, Arena, Budget, Handle, Layer, NeighborState, PathState, Result, TcpCached,
    TcpDelegated, TcpState,
};

/// "Not offloaded": the value of `context` when the object has no target context.
pub(crate) const NO_CONTEXT: u32 = u32::MAX;

/// A neighbor (NDIS neighbor state object) and the paths that depend on it.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbor {
    pub state: NeighborState,
    /// Dependent paths, in insertion order.
    pub paths: Vec<Handle>,
    /// The target context slot while offloaded, else `NO_CONTEXT`.
    pub context: u32,
    /// Offloaded dependent paths: the host's reference count
    /// (NDIS "Terminate Offload Initiated by the Host Stack").
    pub refs: u32,
}

/// A path (NDIS path state object): its neighbor and the connections that depend on it.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    pub neighbor: Handle,
    pub state: PathState,
    /// Dependent connections, in insertion order.
    pub tcps: Vec<Handle>,
    /// The target context slot while offloaded, else `NO_CONTEXT`.
    pub context: u32,
    /// Offloaded dependent connections: the host's reference count.
    pub refs: u32,
}

/// A connection's links and its ports, the part of its key the path does not give (hot);
/// its other variables live in `HostTree::tcp_states` (cold, and mostly shared defaults).
/// The ports fill what would be padding: the record stays 16 bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Tcp {
    pub path: Handle,
    /// The target context slot while offloaded, else `NO_CONTEXT`.
    pub context: u32,
    pub local_port: u16,
    pub remote_port: u16,
}

impl Tcp {
    fn new(path: Handle, local_port: u16, remote_port: u16) -> Tcp {
        Tcp {
            path,
            context: NO_CONTEXT,
            local_port,
            remote_port,
        }
    }

    pub fn ports(&self) -> (u16, u16) {
        (self.local_port, self.remote_port)
    }
}

/// The host side of the state tree.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTree {
    id: u16,
    pub neighbors: Arena<Neighbor>,
    pub paths: Arena<Path>,
    pub tcps: Arena<Tcp>,
    /// Every connection's variables, by slot of `tcps`, copy-on-write from the defaults.
    pub tcp_states: TcpStates,
    /// Live neighbors in creation order: the roots of every walk.
    pub roots: Vec<Handle>,
    /// Offloaded objects per layer.
    pub offloaded: [usize; 3],
    /// Paths by address pair and connections by 4-tuple (`super::keys`).
    pub(crate) keys: Keys,
}

impl Default for HostTree {
    fn default() -> Self {
        Self::new()
    }
}

/// The layer of a handle already resolved against a tree.
pub(crate) fn layer_of(h: Handle) -> Layer {
    h.layer().expect("resolved handles have a valid layer")
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
            tcp_states: TcpStates::default(),
            roots: Vec::new(),
            offloaded: [0; 3],
            keys: Keys::default(),
        }
    }

    // ---- keys (super::keys): the index stores slots, the arenas the keys

    pub(crate) fn path_key(&self, path: Handle) -> PathKey {
        path_key_at(&self.paths, path.slot())
    }

    pub(crate) fn tcp_key(&self, tcp: Handle) -> TcpKey {
        tcp_key_at(&self.tcps, tcp.slot())
    }

    /// The live path with this key.
    pub(crate) fn find_path(&self, key: &PathKey) -> Option<Handle> {
        let slot = self.keys.find_path(key, |s| path_key_at(&self.paths, s))?;
        Some(self.handle_at(Layer::Path, slot))
    }

    /// The live connection with this key.
    pub(crate) fn find_tcp(&self, key: TcpKey) -> Option<Handle> {
        let tcps = &self.tcps;
        let slot = self.keys.find_tcp(key, |s| tcp_key_at(tcps, s))?;
        Some(self.handle_at(Layer::Tcp, slot))
    }

    /// Makes room in a layer's key index for `additional` keys, fallibly.
    pub(crate) fn reserve_keys(
        &mut self,
        layer: Layer,
        additional: usize,
        budget: &Budget,
    ) -> Result<()> {
        let (paths, tcps) = (&self.paths, &self.tcps);
        match layer {
            Layer::Neighbor => Ok(()),
            Layer::Path => self
                .keys
                .reserve_paths(additional, |s| path_key_at(paths, s), budget),
            Layer::Tcp => self
                .keys
                .reserve_tcps(additional, |s| tcp_key_at(tcps, s), budget),
        }
    }

    // ---- restoring a snapshot (engine/restore.rs): arenas are placed whole, then indexed

    /// Indexes the keys of the live paths in `slots`, refusing a second path for one
    /// address pair as `add_path` does.
    pub(crate) fn index_paths(&mut self, slots: &[u32], budget: &Budget) -> Result<()> {
        self.reserve_keys(Layer::Path, slots.len(), budget)?;
        for &slot in slots {
            let paths = &self.paths;
            let key = path_key_at(paths, slot);
            if let Err(holder) = self.keys.claim_path(slot, &key, |s| path_key_at(paths, s)) {
                let existing = self.handle_at(Layer::Path, holder);
                return Err(error!(DuplicatePath, existing = existing));
            }
        }
        Ok(())
    }

    /// Indexes the keys of the live connections in `slots`, refusing a second connection
    /// for one 4-tuple as `add_tcp` does.
    pub(crate) fn index_tcps(&mut self, slots: &[u32], budget: &Budget) -> Result<()> {
        self.reserve_keys(Layer::Tcp, slots.len(), budget)?;
        for &slot in slots {
            let tcps = &self.tcps;
            let key = tcp_key_at(tcps, slot);
            if let Err(holder) = self.keys.claim_tcp(slot, key, |s| tcp_key_at(tcps, s)) {
                let tcp = tcps.get_slot(slot).expect("indexed connections are live");
                return Err(error!(
                    DuplicateTcp,
                    existing = self.handle_at(Layer::Tcp, holder),
                    path = tcp.path,
                    local_port = tcp.local_port,
                    remote_port = tcp.remote_port
                ));
            }
        }
        Ok(())
    }

    /// Stores every connection's variables: `states[i]` for the connection in `slots[i]`,
    /// the defaults (in one reference) for every other slot.
    pub(crate) fn restore_tcp_states(
        &mut self,
        slots: &[u32],
        states: &[TcpState],
        budget: &Budget,
    ) -> Result<()> {
        let count = self.tcps.slot_count();
        let mut row_of = budget.filled(u32::MAX, count)?;
        for (row, &slot) in slots.iter().enumerate() {
            row_of[slot as usize] = row as u32;
        }
        self.tcp_states.reserve(count, budget)?;
        for (slot, &row) in row_of.iter().enumerate() {
            match row {
                u32::MAX => self.tcp_states.put_defaults(slot as u32),
                row => self.tcp_states.put(slot as u32, &states[row as usize]),
            }
        }
        Ok(())
    }

    /// Drops a live object's key, before the object leaves its arena.
    fn unindex(&mut self, h: Handle) {
        match layer_of(h) {
            Layer::Neighbor => {}
            Layer::Path => self.keys.remove_path(h.slot(), &self.path_key(h)),
            Layer::Tcp => self.keys.remove_tcp(h.slot(), self.tcp_key(h)),
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
            let handle = Handle::from_raw(raw);
            Err(if handle.tree() == 0 {
                error!(NoTreeId, handle = handle)
            } else if handle.tree() != self.id {
                error!(ForeignHandle, handle = handle, tree_id = handle.tree())
            } else if handle.layer().is_none() {
                error!(NoSuchLayer, handle = handle)
            } else {
                error!(StaleHandle, handle = handle)
            })
        }
    }

    /// `resolve` and `context` in one lookup: the per-object step of every batch that
    /// checks offload state.
    pub fn resolve_context(&self, raw: u64) -> Result<(Handle, u32)> {
        let h = Handle::from_raw(raw);
        if h.tree() == self.id {
            let (slot, generation) = (h.slot(), h.generation());
            let context = match h.layer() {
                Some(Layer::Neighbor) => self.neighbors.get(slot, generation).map(|n| n.context),
                Some(Layer::Path) => self.paths.get(slot, generation).map(|p| p.context),
                Some(Layer::Tcp) => self.tcps.get(slot, generation).map(|t| t.context),
                None => None,
            };
            if let Some(context) = context {
                return Ok((h, context));
            }
        }
        Err(self.resolve(raw).expect_err("the lookup failed"))
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

    /// The handle of the live object in `slot` of `layer`.
    pub(crate) fn handle_at(&self, layer: Layer, slot: u32) -> Handle {
        let generation = match layer {
            Layer::Neighbor => self.neighbors.generation_of(slot),
            Layer::Path => self.paths.generation_of(slot),
            Layer::Tcp => self.tcps.generation_of(slot),
        };
        Handle::new(self.id, layer, generation.expect("a live slot"), slot)
    }

    /// Resolves `raw` and checks its layer, for an argument with a fixed role.
    pub fn resolve_layer(&self, raw: u64, layer: Layer, role: &str) -> Result<Handle> {
        let h = self.resolve(raw)?;
        expect_layer(h, layer, role)?;
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
    /// Every variable of connection `h` (a copy: most connections share the defaults).
    pub fn tcp_state(&self, h: Handle) -> TcpState {
        self.tcp_states.get(h.slot(), self.tcp(h).ports())
    }
    /// The delegated variables of connection `h`: while it is offloaded, the frozen snapshot
    /// the target reads until traffic changes it.
    pub fn tcp_delegated(&self, h: Handle) -> &TcpDelegated {
        self.tcp_states.delegated(h.slot())
    }
    pub fn tcp_cached(&self, h: Handle) -> &TcpCached {
        self.tcp_states.cached(h.slot())
    }
    /// The variables of connection `h` to change: its own copy, made on first write.
    pub fn tcp_state_mut(&mut self, h: Handle) -> &mut TcpState {
        let ports = self.tcp(h).ports();
        self.tcp_states.make_mut(h.slot(), ports)
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
            Layer::Neighbor => self.neighbor(h).context,
            Layer::Path => self.path(h).context,
            Layer::Tcp => self.tcp(h).context,
        }
    }

    pub fn is_offloaded(&self, h: Handle) -> bool {
        self.context(h) != NO_CONTEXT
    }

    /// The host's reference count of `h`: how many of its dependents are offloaded (0 for a
    /// connection).
    pub fn refs(&self, h: Handle) -> u32 {
        match layer_of(h) {
            Layer::Neighbor => self.neighbor(h).refs,
            Layer::Path => self.path(h).refs,
            Layer::Tcp => 0,
        }
    }

    /// Records (or clears, with `NO_CONTEXT`) the target context of `h`, keeping the offloaded
    /// counts and the reference count of the object `h` depends on. Returns that object when
    /// this dropped its count to zero: it may be released.
    pub fn set_context(&mut self, h: Handle, context: u32) -> Option<Handle> {
        let was = self.is_offloaded(h);
        let slot = match layer_of(h) {
            Layer::Neighbor => &mut self.neighbor_mut(h).context,
            Layer::Path => &mut self.path_mut(h).context,
            Layer::Tcp => &mut self.tcp_mut(h).context,
        };
        *slot = context;
        let now = context != NO_CONTEXT;
        if was == now {
            return None;
        }
        let counter = &mut self.offloaded[layer_of(h).index()];
        if now {
            *counter += 1;
        } else {
            *counter -= 1;
        }
        let parent = self.parent(h)?;
        let refs = match layer_of(parent) {
            Layer::Neighbor => &mut self.neighbor_mut(parent).refs,
            _ => &mut self.path_mut(parent).refs,
        };
        if now {
            *refs += 1;
            None
        } else {
            *refs -= 1;
            (*refs == 0).then_some(parent)
        }
    }

    /// `set_context(h, context)` for connection `h` over `path`, not offloaded yet: the one
    /// write per layer a large offload makes, without re-reading the link record.
    pub fn offload_tcp(&mut self, h: Handle, path: Handle, context: u32) {
        let tcp = self.tcp_mut(h);
        debug_assert_eq!((tcp.context, tcp.path), (NO_CONTEXT, path));
        tcp.context = context;
        self.offloaded[Layer::Tcp.index()] += 1;
        self.path_mut(path).refs += 1;
    }

    /// Fails when adding `additional` objects to `layer` would overflow its 32-bit slot space.
    pub fn check_room(&self, layer: Layer, additional: usize) -> Result<()> {
        let slots = match layer {
            Layer::Neighbor => self.neighbors.slot_count(),
            Layer::Path => self.paths.slot_count(),
            Layer::Tcp => self.tcps.slot_count(),
        };
        if slots.saturating_add(additional) > u32::MAX as usize {
            return Err(error!(
                LayerFull,
                count = additional,
                layer = layer.name(),
                limit = u32::MAX
            ));
        }
        Ok(())
    }

    pub fn insert_neighbor(&mut self, state: NeighborState) -> Handle {
        let (slot, generation) = self.neighbors.insert(Neighbor {
            state,
            paths: Vec::new(),
            context: NO_CONTEXT,
            refs: 0,
        });
        let h = Handle::new(self.id, Layer::Neighbor, generation, slot);
        self.roots.push(h);
        h
    }

    /// Adds a path under a neighbor already resolved by the caller, unless its address pair
    /// is taken: then `Err` holds the path that has it and nothing changed. The caller made
    /// room first (`reserve_keys` and the arena's `reserve`).
    pub fn insert_path(
        &mut self,
        neighbor: Handle,
        state: PathState,
    ) -> std::result::Result<Handle, Handle> {
        let (slot, generation) = self.paths.next_key();
        let paths = &self.paths;
        let key = (state.source, state.destination);
        if let Err(holder) = self.keys.claim_path(slot, &key, |s| path_key_at(paths, s)) {
            return Err(self.handle_at(Layer::Path, holder));
        }
        let stored = self.paths.insert(Path {
            neighbor,
            state,
            tcps: Vec::new(),
            context: NO_CONTEXT,
            refs: 0,
        });
        debug_assert_eq!(stored, (slot, generation));
        let h = Handle::new(self.id, Layer::Path, generation, slot);
        self.neighbor_mut(neighbor).paths.push(h);
        Ok(h)
    }

    /// Makes room, fallibly, in each parent's dependents for the objects about to be added
    /// under `parents`, so a batch grows every list once instead of by repeated doubling.
    /// `parents` are all neighbors (adding paths) or all paths (adding connections).
    pub fn reserve_dependents(&mut self, parents: &[Handle], budget: &Budget) -> Result<()> {
        let Some(&first) = parents.first() else {
            return Ok(());
        };
        let layer = layer_of(first);
        let slots = match layer {
            Layer::Neighbor => self.neighbors.slot_count(),
            _ => self.paths.slot_count(),
        };
        let reserve = |tree: &mut Self, p: Handle, count: usize| {
            let list = match layer {
                Layer::Neighbor => &mut tree.neighbor_mut(p).paths,
                _ => &mut tree.path_mut(p).tcps,
            };
            budget.reserve(list, count)
        };
        if parents.len().saturating_mul(8) < slots {
            // A few parents in a big tree: count them sorted, not in a table the tree's size.
            let mut sorted = budget.vec(parents.len())?;
            sorted.extend_from_slice(parents);
            sorted.sort_unstable();
            for run in sorted.chunk_by(|a, b| a == b) {
                reserve(self, run[0], run.len())?;
            }
            return Ok(());
        }
        let mut added = budget.filled(0u32, slots)?;
        for &p in parents {
            added[p.slot() as usize] += 1;
        }
        for &p in parents {
            let count = std::mem::take(&mut added[p.slot() as usize]) as usize;
            if count > 0 {
                reserve(self, p, count)?;
            }
        }
        Ok(())
    }

    /// Adds a connection under a path already resolved by the caller, unless its 4-tuple is
    /// taken: then `Err` holds the connection that has it and nothing changed. The caller
    /// made room first (`reserve_keys`, the arena's and the column's `reserve`).
    pub fn insert_tcp(
        &mut self,
        path: Handle,
        state: TcpState,
    ) -> std::result::Result<Handle, Handle> {
        let (slot, generation) = self.tcps.next_key();
        let tcps = &self.tcps;
        let (local, remote) = (state.constant.local_port, state.constant.remote_port);
        let key = TcpKey::new(path.slot(), local, remote);
        if let Err(holder) = self.keys.claim_tcp(slot, key, |s| tcp_key_at(tcps, s)) {
            return Err(self.handle_at(Layer::Tcp, holder));
        }
        let stored = self.tcps.insert(Tcp::new(path, local, remote));
        debug_assert_eq!(stored, (slot, generation));
        self.tcp_states.put(slot, &state);
        let h = Handle::new(self.id, Layer::Tcp, generation, slot);
        self.path_mut(path).tcps.push(h);
        Ok(h)
    }

    /// Stores connections with default variables under `parents` (resolved paths, ports
    /// checked), links them to their paths and claims their 4-tuples: `add_tcps` for a large
    /// batch, whose handles go to `out`. `poll(i)` is asked before item `i` is stored; its
    /// error ends the call. `Ok(false)`: a 4-tuple is taken (by the tree or by another item).
    /// Either way the caller unwinds `out`, stored, linked or claimed as far as it got.
    ///
    /// The work is two pairs of independent halves: storing the connections (the arenas) and
    /// ordering their claims (`Keys::tcp_claims`, which needs only the input and the slots
    /// the arena will hand out); then linking them to their paths a chunk of `chunk` at a
    /// time (`link_tcps`) and claiming their keys (the index, reading the arena). With
    /// `threads` >= 2 the second half of each pair runs on another thread: the same writes
    /// as on one thread, so the same tree.
    pub(crate) fn insert_tcps_bulk(
        &mut self,
        parents: &[Handle],
        (local, remote): (&[i64], &[i64]),
        out: &mut Vec<u64>,
        mut poll: impl FnMut(usize) -> Result<()>,
        (threads, chunk): (usize, usize),
        budget: &Budget,
    ) -> Result<bool> {
        let n = parents.len();
        let (reused, first_new) = self.tcps.upcoming_slots(n, budget)?;
        let mut records = budget.filled((0u64, 0u32), n)?;
        let mut starts = budget.filled(0u32, Keys::CLAIM_GROUPS + 1)?;
        let chunk = chunk.clamp(1, n.max(1));
        let mut order = budget.vec(chunk)?;
        let slot = |i: usize| match reused.get(i) {
            Some(&slot) => slot,
            None => first_new + (i - reused.len()) as u32,
        };
        let key = |i: usize| TcpKey::new(parents[i].slot(), local[i] as u16, remote[i] as u16);
        let HostTree {
            id,
            tcps,
            tcp_states,
            paths,
            keys,
            ..
        } = self;
        let store = || -> Result<()> {
            for i in 0..n {
                poll(i)?;
                let tcp = Tcp::new(parents[i], local[i] as u16, remote[i] as u16);
                let (slot, generation) = tcps.insert(tcp);
                tcp_states.put_defaults(slot);
                out.push(Handle::new(*id, Layer::Tcp, generation, slot).raw());
            }
            Ok(())
        };
        let prepare = || keys.tcp_claims(slot, key, &mut records, &mut starts);
        both(threads, store, prepare).0?;
        let link = || {
            for start in (0..n).step_by(chunk) {
                let end = (start + chunk).min(n);
                link_tcps(paths, &parents[start..end], &out[start..end], &mut order);
            }
        };
        let claim = || keys.claim_tcps(&records, |s| tcp_key_at(tcps, s));
        Ok(both(threads, link, claim).1)
    }

    /// Takes back objects just added by `insert_neighbor`/`insert_path`/`insert_tcp` (`added`,
    /// in insertion order, all of one layer), leaving the tree exactly as before them: the
    /// arena's free list and slot count, the roots or parents' dependents, the key index.
    /// `slots_before` is the layer's slot count before the first of them.
    pub fn unwind(&mut self, added: &[u64], slots_before: usize) {
        for &raw in added.iter().rev() {
            let h = Handle::from_raw(raw);
            let fresh = h.slot() as usize >= slots_before;
            self.unindex(h);
            match layer_of(h) {
                Layer::Tcp => {
                    // A batch unwound before `link_tcps` reached it is in no list yet: then
                    // its path's last dependent is an earlier connection.
                    let path = self.tcp(h).path;
                    let dependents = &mut self.path_mut(path).tcps;
                    if dependents.last() == Some(&h) {
                        dependents.pop();
                    }
                    self.tcps.unwind(h.slot(), fresh);
                    self.tcp_states.unwind(h.slot(), fresh);
                }
                Layer::Path => {
                    let neighbor = self.path(h).neighbor;
                    self.neighbor_mut(neighbor).paths.pop();
                    self.paths.unwind(h.slot(), fresh);
                }
                Layer::Neighbor => {
                    self.roots.pop();
                    self.neighbors.unwind(h.slot(), fresh);
                }
            }
        }
    }

    /// Removes objects that the caller has checked have no remaining dependents, in the
    /// given order (dependents first). Parents' dependent lists are filtered once each.
    pub fn remove_all(&mut self, order: &[Handle]) {
        let mut touched_neighbors = Vec::new();
        let mut touched_paths = Vec::new();
        let mut removed_roots = false;
        for &h in order {
            self.unindex(h);
            match layer_of(h) {
                Layer::Tcp => {
                    let tcp = self
                        .tcps
                        .remove(h.slot(), h.generation())
                        .expect("live tcp");
                    // A free slot holds the default state, so undoing a later insert into it
                    // (`unwind`) restores it exactly.
                    self.tcp_states.unwind(h.slot(), false);
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

    /// Moves a path to the end of another neighbor's dependents; an offloaded path moves its
    /// reference too. Returns the old neighbor when that dropped its count to zero.
    pub fn relink(&mut self, path: Handle, neighbor: Handle) -> Option<Handle> {
        let old = self.path(path).neighbor;
        let offloaded = self.is_offloaded(path);
        let old_neighbor = self.neighbor_mut(old);
        old_neighbor.paths.retain(|&p| p != path);
        let dropped = offloaded && {
            old_neighbor.refs -= 1;
            old_neighbor.refs == 0
        };
        let new_neighbor = self.neighbor_mut(neighbor);
        new_neighbor.paths.push(path);
        new_neighbor.refs += u32::from(offloaded);
        self.path_mut(path).neighbor = neighbor;
        dropped.then_some(old)
    }
}

/// A live path's key, read from the arena by slot.
fn path_key_at(paths: &Arena<Path>, slot: u32) -> PathKey {
    let path = paths.get_slot(slot).expect("indexed paths are live");
    (path.state.source, path.state.destination)
}

/// Appends connections `tcps[i]` to the dependents of their paths `parents[i]`, keeping each
/// path's order. Pushed in input order, a batch writes to every path's list in turn, and each
/// push misses the cache (a few thousand lists outgrow it); here they are pushed a bucket of
/// neighbouring path slots at a time, whose lists stay in the cache. `order` is scratch.
fn link_tcps(paths: &mut Arena<Path>, parents: &[Handle], tcps: &[u64], order: &mut Vec<u32>) {
    const BUCKETS: usize = 256;
    let slots = paths.slot_count().max(1);
    let bucket = |p: Handle| p.slot() as usize * BUCKETS / slots;
    let mut starts = [0u32; BUCKETS + 1];
    for &p in parents {
        starts[bucket(p) + 1] += 1;
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    order.clear();
    order.resize(parents.len(), 0);
    for (i, &p) in parents.iter().enumerate() {
        let at = &mut starts[bucket(p)];
        order[*at as usize] = i as u32;
        *at += 1;
    }
    for &i in order.iter() {
        let (p, tcp) = (parents[i as usize], Handle::from_raw(tcps[i as usize]));
        let path = paths
            .get_mut(p.slot(), p.generation())
            .expect("resolved path");
        path.tcps.push(tcp);
    }
}

/// A live connection's key, read from its link record by slot.
fn tcp_key_at(tcps: &Arena<Tcp>, slot: u32) -> TcpKey {
    let tcp = tcps.get_slot(slot).expect("indexed connections are live");
    TcpKey::new(tcp.path.slot(), tcp.local_port, tcp.remote_port)
}

/// `LayerError` unless `h` (resolved) is of `layer`; `role` names the argument.
pub(crate) fn expect_layer(h: Handle, layer: Layer, role: &str) -> Result<()> {
    let actual = layer_of(h);
    if actual != layer {
        return Err(error!(
            WrongLayer,
            role = role,
            handle = h,
            actual = actual,
            expected = layer
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::parse_ip;

    pub(crate) fn neighbor_state(last: u8) -> NeighborState {
        NeighborState {
            source_mac: None,
            vlan_id: 0,
            mac: [0, 0x15, 0x5d, 1, 2, last],
            host_reachability_delta: 0,
            nic_reachability_delta: 0,
        }
    }

    /// A path from 10.0.0.1 to 10.0.0.`last`.
    pub(crate) fn path_state(last: u8) -> PathState {
        let ip = |text: &str| parse_ip(text).unwrap();
        PathState::new(ip("10.0.0.1"), ip(&format!("10.0.0.{last}")), 1500).unwrap()
    }

    /// A connection from local port `port` to remote port 443.
    pub(crate) fn tcp_state(port: u16) -> TcpState {
        let mut state = TcpState::default();
        state.constant.local_port = port;
        state.constant.remote_port = 443;
        state
    }

    /// Neighbor1 -> Path1 (TCP1, TCP2), Path2 (TCP3): the figure of NDIS "Offload State Tree".
    pub(crate) fn example() -> (HostTree, [Handle; 6]) {
        let mut tree = HostTree::new();
        let n1 = tree.insert_neighbor(neighbor_state(1));
        let p1 = tree.insert_path(n1, path_state(9)).unwrap();
        let p2 = tree.insert_path(n1, path_state(7)).unwrap();
        let t1 = tree.insert_tcp(p1, tcp_state(1)).unwrap();
        let t2 = tree.insert_tcp(p1, tcp_state(2)).unwrap();
        let t3 = tree.insert_tcp(p2, tcp_state(1)).unwrap();
        (tree, [n1, p1, p2, t1, t2, t3])
    }

    #[test]
    fn removal_invalidates_handles_and_unlinks() {
        let (mut tree, [n1, p1, _p2, t1, t2, _t3]) = example();
        tree.remove_all(&[t1]);
        assert!(tree.resolve(t1.raw()).is_err());
        assert_eq!(tree.children(p1), &[t2]);
        assert_eq!(tree.len(), 5);
        let replacement = tree.insert_tcp(p1, tcp_state(1)).unwrap();
        assert_eq!(replacement.slot(), t1.slot(), "freed slot is reused");
        assert_ne!(replacement.raw(), t1.raw(), "with a new generation");
        assert!(tree.resolve(t1.raw()).is_err());
        assert_eq!(tree.parent(p1), Some(n1));
    }

    #[test]
    fn foreign_and_malformed_handles_are_rejected() {
        let (tree, [n1, ..]) = example();
        let (other, [m1, ..]) = example();
        let code = |r: Result<Handle>| r.unwrap_err().code();
        use crate::model::ErrorCode::*;
        assert_eq!(code(other.resolve(n1.raw())), ForeignHandle);
        assert_eq!(code(tree.resolve(m1.raw())), ForeignHandle);
        // Tree id 0 is nobody's: a small int is not called another tree's handle.
        assert_eq!(code(tree.resolve(12345)), NoTreeId);
        assert_eq!(code(tree.resolve(0)), NoTreeId);
        assert_eq!(code(tree.resolve(n1.raw() | (0b11 << 46))), NoSuchLayer);
        assert_eq!(code(tree.resolve(n1.raw() + 7)), StaleHandle);
        assert_eq!(
            code(tree.resolve_layer(n1.raw(), Layer::Path, "parent")),
            WrongLayer
        );
    }

    #[test]
    fn a_taken_key_adds_nothing_and_unwind_restores_the_tree() {
        let (mut tree, [n1, p1, _p2, t1, _t2, _t3]) = example();
        assert_eq!(tree.insert_path(n1, path_state(9)), Err(p1));
        assert_eq!(tree.insert_tcp(p1, tcp_state(1)), Err(t1));
        tree.remove_all(&[t1]);
        let before = tree.clone();
        let reused = tree.insert_tcp(p1, tcp_state(5)).unwrap();
        let fresh = tree.insert_tcp(p1, tcp_state(6)).unwrap();
        assert_eq!(
            reused.slot(),
            t1.slot(),
            "the freed slot first, then a new one"
        );
        tree.unwind(&[reused.raw(), fresh.raw()], before.tcps.slot_count());
        assert_eq!(tree, before);
        assert_eq!(tree.tcp_states, before.tcp_states);
    }

    /// `insert_tcps_bulk` of connections over `parents`, local ports from 100, remote 80,
    /// stopped by `poll` at item `stop` if any.
    fn bulk(
        tree: &mut HostTree,
        parents: &[Handle],
        threads: usize,
        stop: Option<usize>,
    ) -> (Result<bool>, Vec<u64>) {
        let local: Vec<i64> = (0..parents.len() as i64).map(|i| 100 + i).collect();
        let remote = vec![80i64; parents.len()];
        let mut out = Vec::new();
        let poll = |i| match stop {
            Some(at) if i == at => Err(crate::error!(Interrupted)),
            _ => Ok(()),
        };
        let budget = Budget::default();
        let result = tree.insert_tcps_bulk(
            parents,
            (&local, &remote),
            &mut out,
            poll,
            (threads, 2),
            &budget,
        );
        (result, out)
    }

    #[test]
    fn a_bulk_insert_links_in_each_paths_order_on_any_thread_count() {
        let mut trees = Vec::new();
        for threads in [1, 2] {
            let (mut tree, [_n1, p1, p2, t1, t2, t3]) = example();
            tree.remove_all(&[t2]); // a free slot for the batch to reuse first
            let parents = [p2, p1, p2, p1, p2];
            let (result, added) = bulk(&mut tree, &parents, threads, None);
            assert!(result.unwrap());
            assert_eq!(
                Handle::from_raw(added[0]).slot(),
                t2.slot(),
                "the freed slot first"
            );
            let list = |p| tree.children(p).iter().map(|h| h.raw()).collect::<Vec<_>>();
            assert_eq!(list(p1), [t1.raw(), added[1], added[3]]);
            assert_eq!(list(p2), [t3.raw(), added[0], added[2], added[4]]);
            let key = tree.tcp_key(Handle::from_raw(added[4]));
            assert_eq!(tree.find_tcp(key), Some(Handle::from_raw(added[4])));
            trees.push(tree);
        }
        // The same records and lists on one thread as on two (tree ids aside).
        let shape = |tree: &HostTree| {
            let tcps: Vec<_> = (tree.tcps.iter())
                .map(|(s, g, t)| (s, g, t.path.slot(), t.ports()))
                .collect();
            let lists: Vec<Vec<u32>> = (tree.paths.iter())
                .map(|(_, _, p)| p.tcps.iter().map(|t| t.slot()).collect())
                .collect();
            (tcps, lists, tree.keys.len())
        };
        assert_eq!(shape(&trees[0]), shape(&trees[1]));
    }

    #[test]
    fn a_stopped_or_conflicting_bulk_insert_unwinds_exactly() {
        for threads in [1, 2] {
            let (mut tree, [_n1, p1, p2, ..]) = example();
            let before = tree.clone();
            // Stopped before item 3: items 0..3 stored, none linked or claimed yet.
            let (result, added) = bulk(&mut tree, &[p2, p1, p2, p1, p2], threads, Some(3));
            assert!(result.is_err());
            assert_eq!(added.len(), 3);
            tree.unwind(&added, before.tcps.slot_count());
            assert_eq!(tree, before);
            // Item 0's 4-tuple (p2, 100, 80) is taken by a connection the tree holds.
            let taken = tree_with_port(&mut tree, p2, 100);
            let before = tree.clone();
            let (result, added) = bulk(&mut tree, &[p2, p1, p1], threads, None);
            assert!(!result.unwrap(), "(p2, 100, 80) is taken by {taken:?}");
            tree.unwind(&added, before.tcps.slot_count());
            assert_eq!(tree, before);
        }
    }

    /// Adds connection (path, local, 80) and returns it.
    fn tree_with_port(tree: &mut HostTree, path: Handle, local: u16) -> Handle {
        let mut state = TcpState::with_ports(local, 80);
        state.constant.remote_port = 80;
        tree.insert_tcp(path, state).unwrap()
    }

    #[test]
    fn relink_moves_path_to_end_of_new_neighbor() {
        let (mut tree, [n1, p1, p2, ..]) = example();
        let n2 = tree.insert_neighbor(neighbor_state(2));
        assert_eq!(
            tree.relink(p1, n2),
            None,
            "p1 is not offloaded: no reference moves"
        );
        assert_eq!(tree.children(n1), &[p2]);
        assert_eq!(tree.children(n2), &[p1]);
        assert_eq!(tree.parent(p1), Some(n2));
    }

    #[test]
    fn reference_counts_follow_offloaded_dependents() {
        let (mut tree, [n1, p1, p2, t1, t2, _t3]) = example();
        assert_eq!(tree.set_context(n1, 0), None);
        assert_eq!(tree.set_context(p1, 0), None);
        assert_eq!(tree.set_context(p2, 1), None);
        assert_eq!(tree.set_context(t1, 0), None);
        assert_eq!(tree.set_context(t2, 1), None);
        assert_eq!((tree.refs(n1), tree.refs(p1), tree.refs(p2)), (2, 2, 0));
        assert_eq!(tree.set_context(t1, NO_CONTEXT), None, "p1 still holds t2");
        assert_eq!(
            tree.set_context(t2, NO_CONTEXT),
            Some(p1),
            "p1's last reference"
        );
        assert_eq!(tree.set_context(t2, NO_CONTEXT), None, "no change, no drop");
        let n2 = tree.insert_neighbor(neighbor_state(2));
        tree.set_context(n2, 2);
        assert_eq!(tree.relink(p1, n2), None);
        assert_eq!((tree.refs(n1), tree.refs(n2)), (1, 1));
        assert_eq!(
            tree.relink(p2, n2),
            Some(n1),
            "n1 loses its last offloaded path"
        );
        assert_eq!((tree.refs(n1), tree.refs(n2)), (0, 2));
    }
}
