//! `terminate`, the upload that every cause of termination shares (a host terminate, a
//! refused update, an upload request or upload-all), and the release of shared state that no
//! offloaded object references any more (docs/DESIGN.md §8, §11).

use super::types::{Delegated, Outcome};
use super::Engine;
use crate::error;
use crate::host::{layer_of, NO_CONTEXT};
use crate::model::{ConnectionState, Handle, Layer, Result, Status};
use crate::target::Upload;

impl Engine {
    /// Uploads `raws` and (with `cascade`) their offloaded dependents, dependents first; then
    /// the paths and neighbors this left unreferenced.
    pub fn terminate(&mut self, raws: &[u64], cascade: bool) -> Result<Outcome> {
        let requested = self.resolve_offloaded(raws, "terminate it")?;
        let order = self.host.offloaded_post_order(&requested, &self.budget)?;
        if !cascade && order.len() > requested.len() {
            if let Some((h, child)) = self.first_dependent_outside(&requested, true)? {
                return Err(error!(
                    TerminateDependent,
                    layer = layer_of(child),
                    dependent = child,
                    parent_layer = layer_of(h),
                    handle = h
                ));
            }
        }
        Ok(self.upload(&order))
    }

    /// Uploads the objects of `order`, in that order (checked by the caller: offloaded, and
    /// dependents first), then releases what they leave unreferenced. The host copies take
    /// back the delegated state; the outcome carries it with every received byte. Every
    /// upload counts as a terminate, whatever caused it.
    pub(super) fn upload(&mut self, order: &[Handle]) -> Outcome {
        let mut outcome = Outcome::with_capacity(order.len());
        let mut dropped = Vec::new();
        // A connection takes a copy of its own only when the target's state differs from the
        // host's snapshot (traffic changed it) or is corrupt; make room for as many as that
        // can be, the bound being cheap to read. This is past the call's point of no return:
        // a failure here is an InternalError, never an abort halfway.
        let copies = self.target.diverged.len() + self.target.corrupt.len();
        self.host
            .tcp_states
            .reserve_copies(copies.min(order.len()), &crate::model::Budget::default())
            .expect("an unlimited budget fails only when the allocator does");
        self.touch_connections(order);
        for &h in order {
            dropped.extend(self.upload_one(h, &mut outcome));
        }
        self.release(&mut outcome, &dropped);
        outcome
    }

    /// Reads, for every connection of `order`, the three records its upload works on: its
    /// link record, its state reference and its target context. A cascade's connections lie
    /// far apart in memory (one path's connections are a path count of slots apart), so each
    /// record is a cache miss; in this tight loop of independent loads the processor has many
    /// misses in flight at once, where the upload's long body would wait for them one by one.
    fn touch_connections(&self, order: &[Handle]) {
        let mut sum = 0u32;
        for &h in order {
            if layer_of(h) == Layer::Tcp {
                let context = self.host.context(h);
                sum ^= u32::from(self.host.tcp_states.has_copy(h.slot()));
                sum ^= self.target.tcp(context).diverged;
            }
        }
        std::hint::black_box(sum);
    }

    /// Terminates, under the host's policy, every offloaded path and then every offloaded
    /// neighbor of `candidates` whose reference count is zero, appending them to `outcome`
    /// (paths before the neighbors they free: dependents first). The NDIS host stack keeps a
    /// reference count per neighbor and path and terminates one when it reaches zero
    /// (NDIS "Terminate Offload Initiated by the Host Stack").
    pub(super) fn release(&mut self, outcome: &mut Outcome, candidates: &[Handle]) {
        if !self.policy.release_unreferenced {
            return;
        }
        let mut neighbors = Vec::new();
        for &h in candidates {
            match layer_of(h) {
                Layer::Path => {
                    if self.host.is_offloaded(h) && self.host.refs(h) == 0 {
                        neighbors.extend(self.upload_one(h, outcome));
                        self.counts.released[Layer::Path.index()] += 1;
                    }
                }
                Layer::Neighbor => neighbors.push(h),
                Layer::Tcp => {}
            }
        }
        for h in neighbors {
            if self.host.is_offloaded(h) && self.host.refs(h) == 0 {
                self.upload_one(h, outcome);
                self.counts.released[Layer::Neighbor.index()] += 1;
            }
        }
    }

    /// Uploads one offloaded object whose dependents are not offloaded, appending it to
    /// `outcome`. Returns the object it depended on if that lost its last reference.
    ///
    /// A terminate fault aimed at the object stands for corrupt hardware state
    /// (NDIS "Returning the Completion Status of a Terminate Offload Operation"): the upload
    /// completes with FAILURE and the target aborts a connection (TcpIndicateAbort), so its
    /// host copy comes back CLOSED. NDIS loses the object's state then; the simulation still
    /// hands back the target's last values and every buffered byte, because nothing the
    /// target holds is ever lost here (docs/DESIGN.md §8, "Faults").
    fn upload_one(&mut self, h: Handle, outcome: &mut Outcome) -> Option<Handle> {
        let layer = layer_of(h);
        let context = self.host.context(h);
        let corrupt = self.target.take_corruption(h);
        let counter = &mut self.counts.terminate;
        counter.requested += 1;
        let status = if corrupt {
            counter.fail(Status::Failure, 1);
            Status::Failure
        } else {
            counter.succeeded += 1;
            Status::Success
        };
        match self.target.upload(layer, context) {
            Upload::Neighbor {
                nic_reachability_delta,
            } => {
                self.host.neighbor_mut(h).state.nic_reachability_delta = nic_reachability_delta;
                let delegated = Delegated::Neighbor {
                    nic_reachability_delta,
                };
                outcome.push(h.raw(), status, &delegated);
            }
            Upload::Path => outcome.push(h.raw(), status, &Delegated::Path),
            Upload::Tcp {
                delegated,
                received,
                send_data,
                placed,
                non_offload,
            } => {
                // Bytes in receive requests that were not full: the requests complete
                // with them (UPLOAD_IN_PROGRESS), so the host has them now.
                self.deliver(h, placed);
                if !received.is_empty() {
                    let n = received.len() as u64;
                    outcome.total_received += n;
                    self.counts.bytes_returned += n;
                    outcome.received.insert(outcome.handles.len(), received);
                }
                if !send_data.is_empty() {
                    let n = send_data.len() as u64;
                    outcome.total_send_data += n;
                    self.counts.bytes_send_returned += n;
                    outcome.send_data.insert(outcome.handles.len(), send_data);
                }
                if delegated.is_none() && !corrupt && non_offload == 0 {
                    // The live state was the host's frozen copy all along: nothing to take
                    // back, and (most often) nothing to copy but a reference to the defaults.
                    let defaults = !self.host.tcp_states.has_copy(h.slot());
                    let snapshot = self.host.tcp_delegated(h);
                    outcome.push_tcp(h.raw(), status, snapshot, defaults);
                } else {
                    let snapshot = &mut self.host.tcp_state_mut(h).delegated;
                    if let Some(live) = delegated {
                        *snapshot = live;
                    }
                    if corrupt {
                        snapshot.state = ConnectionState::Closed as u8;
                    }
                    // The host's stack took the segments indicated on the non-offload path.
                    snapshot.rcv_nxt = snapshot.rcv_nxt.wrapping_add(non_offload as u32);
                    let snapshot = *snapshot;
                    outcome.push_tcp(h.raw(), status, &snapshot, false);
                }
            }
        }
        self.host.set_context(h, NO_CONTEXT)
    }
}
