//! `initiate_offload`: build the block list of the request, let the target decide every
//! block in block order, give the admitted objects their contexts, and settle the statuses
//! (docs/DESIGN.md §7 and §8).

use super::traffic_batch::{check_piece, pieces};
use super::types::Outcome;
use super::{check_length, Engine};
use crate::error;
use crate::host::{layer_of, BlockList, HostTree, ParentTracker, Placement, NO_CONTEXT};
use crate::model::{Handle, Layer, Result, Status, NO_STATUS};
use crate::target::{Target, TargetNeighbor, TargetPath, TargetTcp};

/// From this many blocks on, an offload may place its block list on one thread while it
/// allocates contexts on another.
const PARALLEL_OFFLOAD: usize = 1 << 14;

impl Engine {
    /// `initiate_offload` with the host's BufferedData of some requested connections
    /// (NDIS "Handling Buffered Receive Data During and After an Offload Operation"): `tcs[i]`
    /// takes piece `i` of `data` (cut by `lengths`), bytes the host received, processed and
    /// acknowledged but did not deliver. Each connection whose offload succeeds hands them
    /// to the target, which delivers them before anything it receives later; the others
    /// keep them. Every check runs first (each of `tcs` a requested connection, the pieces),
    /// and the hand-over cannot fail: the call is all or nothing.
    pub fn initiate_offload_buffered(
        &mut self,
        raws: &[u64],
        (tcs, data, lengths): (&[u64], &[u8], &[i64]),
    ) -> Result<(BlockList, Outcome)> {
        check_length("lengths", tcs.len(), lengths.len(), "handles")?;
        for (i, &raw) in tcs.iter().enumerate() {
            let check = || -> Result<()> {
                if !raws.contains(&raw) {
                    return Err(error!(BufferedNotRequested, handle = Handle::from_raw(raw)));
                }
                let h = self.host.resolve(raw)?;
                crate::host::expect_layer(h, Layer::Tcp, "buffered data")?;
                check_piece(lengths[i])
            };
            check().map_err(|e| e.at(i))?;
        }
        let pieces: Vec<&[u8]> = pieces(data, lengths)?.collect();
        let done = self.initiate_offload(raws)?;
        for (&raw, piece) in tcs.iter().zip(pieces) {
            let h = Handle::from_raw(raw);
            if self.host.is_offloaded(h) {
                // Offloaded by this call (a requested object was not offloaded before): no
                // data and no request yet.
                let context = self.host.context(h);
                debug_assert!(self.target.fresh_receive_side(context));
                self.target.hand_over(context, piece);
            }
        }
        Ok(done)
    }

    /// Offloads `raws` with whatever they depend on and returns the processed block list,
    /// with the new paths and neighbors the host released again because no offloaded object
    /// depends on them (a failed dependent, or a request for shared state alone).
    pub fn initiate_offload(&mut self, raws: &[u64]) -> Result<(BlockList, Outcome)> {
        let (requested, offloaded) = self.resolve_expecting(raws, false, false)?;
        if let Some(h) = offloaded {
            return Err(error!(AlreadyOffloaded, layer = layer_of(h), handle = h));
        }
        let gathered = BlockList::gather(&self.host, &requested, &self.budget)?;
        // Room for every new block up front: one allocation instead of a doubling series that
        // copies the target's store over and over, and the last point the call may fail
        // (with the block list's own arrays, which `place_with` allocates first).
        let mut new_per_layer = [0usize; 3];
        for (h, referenced) in gathered.handles.iter().zip(&gathered.referenced) {
            if !referenced {
                new_per_layer[layer_of(*h).index()] += 1;
            }
        }
        let paused = self.target.paused;
        if !paused {
            self.target.reserve(new_per_layer, &self.budget)?;
        }
        // A target that admits everything fails no block, so no decision is made and every
        // new object gets its context in order of first mention (parents first, connections
        // in request order: mostly slot order), while the block list is placed: on two
        // threads when the tree allows. Else the block list comes first, then the decisions.
        let admit_all = !paused && self.target.admits_everything();
        // A second thread costs tens of microseconds to start: worth it for a large list only.
        let large = gathered.handles.len() >= PARALLEL_OFFLOAD;
        let threads = if admit_all && large { self.threads } else { 1 };
        let (host, target) = (&mut self.host, &mut self.target);
        let (mut list, placement, ()) =
            gathered.place_with(&self.budget, threads, |handles, referenced| {
                if admit_all {
                    for (&h, &referenced) in handles.iter().zip(referenced) {
                        if !referenced {
                            allocate(host, target, h);
                        }
                    }
                }
            })?;
        let new_blocks = list.referenced.iter().filter(|r| !**r).count() as u64;
        self.counts.initiate_offload.requested += new_blocks;
        if paused {
            list.statuses.fill(Status::Paused as u8);
            self.counts
                .initiate_offload
                .fail(Status::Paused, new_blocks);
            return Ok((list, Outcome::default()));
        }
        if !admit_all {
            self.decide_and_allocate(&mut list, &placement);
        }
        list.settle();
        let counter = &mut self.counts.initiate_offload;
        for i in 0..list.len() {
            if list.referenced[i] {
                continue;
            }
            match Status::from_u8(list.statuses[i]) {
                Some(s) if s.is_failure() => counter.fail(s, 1),
                _ => counter.succeeded += 1,
            }
        }
        let released = self.release_new_blocks(&list);
        Ok((list, released))
    }

    /// Lets the target decide every block of `list` in block order, as it walks the list:
    /// faults, capacity and the random draws follow that order. Then allocates the admitted
    /// ones in order of first mention (`placement`): parents still come first, and the
    /// host's connections are visited in request order (mostly slot order) rather than tree
    /// order, in which one path's connections lie far apart in memory.
    fn decide_and_allocate(&mut self, list: &mut BlockList, placement: &Placement) {
        let mut admitted = [0usize; 3];
        let mut parents = ParentTracker::default();
        for i in 0..list.len() {
            if let Some(parent) = parents.visit(i, list.depths[i]) {
                let parent_status = list.statuses[parent];
                if Status::from_u8(parent_status).is_some_and(Status::is_failure) {
                    list.statuses[i] = parent_status;
                    continue;
                }
            }
            if list.referenced[i] {
                continue;
            }
            let h = Handle::from_raw(list.handles[i]);
            let layer = layer_of(h);
            let value = self.admission_value(h);
            match self.target.admit(layer, h, value, admitted[layer.index()]) {
                Some(status) => list.statuses[i] = status as u8,
                None => admitted[layer.index()] += 1,
            }
        }
        let objects = placement.handles.iter().zip(&placement.positions);
        for ((&h, &at), &referenced) in objects.zip(&placement.referenced) {
            if !referenced && list.statuses[at as usize] == NO_STATUS {
                allocate(&mut self.host, &mut self.target, h);
            }
        }
    }

    /// Releases the new paths and neighbors of a processed `list` that no offloaded object
    /// depends on: the host holds no reference to them.
    fn release_new_blocks(&mut self, list: &BlockList) -> Outcome {
        let mut released = Outcome::default();
        if !self.policy.release_unreferenced {
            return released;
        }
        let candidates: Vec<Handle> = (0..list.len())
            .filter(|&i| {
                !list.referenced[i]
                    && list.layers[i] != Layer::Tcp as u8
                    && Status::from_u8(list.statuses[i]).is_some_and(|s| !s.is_failure())
            })
            .map(|i| Handle::from_raw(list.handles[i]))
            .collect();
        self.release(&mut released, &candidates);
        released
    }

    /// Asks the target to take `h` (whose parent, if any, is offloaded). None on success.
    pub(super) fn offload_one(&mut self, h: Handle) -> Option<Status> {
        let value = self.admission_value(h);
        if let Some(status) = self.target.admit(layer_of(h), h, value, 0) {
            return Some(status);
        }
        allocate(&mut self.host, &mut self.target, h);
        None
    }

    /// The value the target's limit applies to: a path's MTU, a connection's initial receive
    /// window (read only when a limit is set: a connection's state is cold memory).
    fn admission_value(&self, h: Handle) -> u64 {
        match layer_of(h) {
            Layer::Neighbor => 0,
            Layer::Path => u64::from(self.host.path(h).state.path_mtu),
            Layer::Tcp if self.target.config.max_rcv_window.is_some() => {
                u64::from(self.host.tcp_cached(h).initial_rcv_wnd)
            }
            Layer::Tcp => 0,
        }
    }
}

/// Gives admitted object `h` a target context linked to its parent's (already offloaded).
fn allocate(host: &mut HostTree, target: &mut Target, h: Handle) {
    let context = match layer_of(h) {
        Layer::Neighbor => {
            let s = &host.neighbor(h).state;
            target.add_neighbor(TargetNeighbor {
                host: h,
                mac: s.mac,
                host_reachability_delta: s.host_reachability_delta,
                nic_reachability_delta: s.nic_reachability_delta,
                invalid: false,
                query_pending: false,
            })
        }
        Layer::Path => {
            let path = host.path(h);
            let neighbor = host.context(path.neighbor);
            debug_assert_ne!(neighbor, NO_CONTEXT);
            let path_mtu = path.state.path_mtu;
            target.add_path(TargetPath {
                host: h,
                neighbor,
                path_mtu,
                invalid: false,
            })
        }
        Layer::Tcp => {
            // A million of these make a large offload: one read of the link record.
            let path = host.tcp(h).path;
            let path_context = host.path(path).context;
            debug_assert_ne!(path_context, NO_CONTEXT);
            // No state is copied: the target reads the host's frozen snapshot until traffic
            // changes it (copy-on-write, target/traffic.rs).
            let context = target.add_tcp(TargetTcp::new(h, path_context));
            host.offload_tcp(h, path, context);
            return;
        }
    };
    host.set_context(h, context);
}
