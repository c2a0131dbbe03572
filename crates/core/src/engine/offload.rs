//! `initiate_offload`: build the block list of the request, let the target decide every
//! block in block order, give the admitted objects their contexts, and settle the statuses
//! (docs/DESIGN.md §7 and §8).

use super::types::Outcome;
use super::Engine;
use crate::error;
use crate::host::{layer_of, BlockList, ParentTracker, NO_CONTEXT};
use crate::model::{Handle, Layer, Result, Status, NO_STATUS};
use crate::target::{TargetNeighbor, TargetPath, TargetTcp};

impl Engine {
    /// Offloads `raws` with whatever they depend on and returns the processed block list,
    /// with the new paths and neighbors the host released again because no offloaded object
    /// depends on them (a failed dependent, or a request for shared state alone).
    pub fn initiate_offload(&mut self, raws: &[u64]) -> Result<(BlockList, Outcome)> {
        let (requested, offloaded) = self.resolve_expecting(raws, false, false)?;
        if let Some(h) = offloaded {
            return Err(error!(AlreadyOffloaded, layer = layer_of(h), handle = h));
        }
        let (mut list, placement) = BlockList::build_placed(&self.host, &requested, &self.budget)?;
        // Room for every new block up front: one allocation instead of a doubling series that
        // copies the target's store over and over, and the last point the call may fail.
        let mut new_per_layer = [0usize; 3];
        for (layer, referenced) in list.layers.iter().zip(&list.referenced) {
            if !referenced {
                new_per_layer[usize::from(*layer)] += 1;
            }
        }
        if !self.target.paused {
            self.target.reserve(new_per_layer, &self.budget)?;
        }
        let new_blocks = list.referenced.iter().filter(|r| !**r).count() as u64;
        self.counts.initiate_offload.requested += new_blocks;
        if self.target.paused {
            list.statuses.fill(Status::Paused as u8);
            self.counts
                .initiate_offload
                .fail(Status::Paused, new_blocks);
            return Ok((list, Outcome::default()));
        }
        // Decide every block in block order, as the target walks the list: faults, capacity
        // and the random draws follow that order. A target that admits everything fails no
        // block, so the pass would change nothing.
        let mut admitted = [0usize; 3];
        let mut parents = ParentTracker::default();
        let decisions = if self.target.admits_everything() {
            0
        } else {
            list.len()
        };
        for i in 0..decisions {
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
        // Then allocate the admitted ones in order of first mention: parents still come first,
        // and the host's connections are visited in request order (mostly slot order) rather
        // than tree order, in which one path's connections lie far apart in memory.
        let objects = placement.handles.iter().zip(&placement.positions);
        for ((&h, &at), &referenced) in objects.zip(&placement.referenced) {
            // Every block is admitted when no decision was made.
            if !referenced && (decisions == 0 || list.statuses[at as usize] == NO_STATUS) {
                self.allocate(h);
            }
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
        self.allocate(h);
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

    /// Gives admitted object `h` a target context linked to its parent's (already offloaded).
    fn allocate(&mut self, h: Handle) {
        let context = match layer_of(h) {
            Layer::Neighbor => {
                let s = &self.host.neighbor(h).state;
                self.target.add_neighbor(TargetNeighbor {
                    host: h,
                    mac: s.mac,
                    host_reachability_delta: s.host_reachability_delta,
                    nic_reachability_delta: s.nic_reachability_delta,
                    invalid: false,
                })
            }
            Layer::Path => {
                let path = self.host.path(h);
                let neighbor = self.host.context(path.neighbor);
                debug_assert_ne!(neighbor, NO_CONTEXT);
                let path_mtu = path.state.path_mtu;
                self.target.add_path(TargetPath {
                    host: h,
                    neighbor,
                    path_mtu,
                    invalid: false,
                })
            }
            Layer::Tcp => {
                // A million of these make a large offload: one read of the link record.
                let path = self.host.tcp(h).path;
                let path_context = self.host.path(path).context;
                debug_assert_ne!(path_context, NO_CONTEXT);
                // No state is copied: the target reads the host's frozen snapshot until traffic
                // changes it (copy-on-write, target/traffic.rs).
                let context = self.target.add_tcp(TargetTcp::new(h, path_context));
                self.host.offload_tcp(h, path, context);
                return;
            }
        };
        self.host.set_context(h, context);
    }
}
