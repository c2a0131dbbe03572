//! `terminate`, and the upload that every cause of termination shares: a host terminate, a
//! refused update, an upload request or upload-all (docs/DESIGN.md §8, §11).

use super::types::{Delegated, Outcome};
use super::Engine;
use crate::error;
use crate::host::{layer_of, NO_CONTEXT};
use crate::model::{Handle, Result};
use crate::target::Upload;

impl Engine {
    /// Uploads `raws` and (with `cascade`) their offloaded dependents, dependents first.
    pub fn terminate(&mut self, raws: &[u64], cascade: bool) -> Result<Outcome> {
        let requested = self.resolve_offloaded(raws, "terminate it")?;
        let order = self.host.offloaded_post_order(&requested);
        if !cascade && order.len() > requested.len() {
            if let Some((h, child)) = self.first_dependent_outside(&requested, true) {
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
    /// dependents first). The host copies take back the delegated state; the outcome carries it
    /// with every received byte. Every upload counts as a terminate, whatever caused it.
    pub(super) fn upload(&mut self, order: &[Handle]) -> Outcome {
        let mut outcome = Outcome::with_capacity(order.len());
        for &h in order {
            let layer = layer_of(h);
            let context = self.host.context(h);
            let delegated = match self.target.upload(layer, context) {
                Upload::Neighbor {
                    nic_reachability_delta,
                } => {
                    self.host.neighbor_mut(h).state.nic_reachability_delta = nic_reachability_delta;
                    Delegated::Neighbor {
                        nic_reachability_delta,
                    }
                }
                Upload::Path => Delegated::Path,
                Upload::Tcp {
                    delegated,
                    received,
                } => {
                    let snapshot = &mut self.host.tcp_state_mut(h).delegated;
                    if let Some(live) = delegated {
                        *snapshot = live;
                    }
                    let delegated = *snapshot;
                    if !received.is_empty() {
                        outcome.total_received += received.len() as u64;
                        outcome.received.insert(outcome.handles.len(), received);
                    }
                    Delegated::Tcp(delegated)
                }
            };
            self.host.set_context(h, NO_CONTEXT);
            outcome.handles.push(h.raw());
            outcome.delegated.push(delegated);
        }
        let n = order.len() as u64;
        self.counts.terminate.requested += n;
        self.counts.terminate.succeeded += n;
        self.counts.bytes_returned += outcome.total_received;
        outcome
    }
}
