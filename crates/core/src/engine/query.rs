//! `query`: read the target's live delegated state of offloaded objects (docs/DESIGN.md §8,
//! "query"). A query that finds an object's hardware state corrupt completes with FAILURE for
//! it, and the host terminates what it could not query
//! (NDIS "Returning the Completion Status of a Query Offload Operation").

use super::types::{Delegated, Outcome};
use super::{check_batch, not_offloaded as not_offloaded_error, Engine};
use crate::host::{layer_of, SeenSet, NO_CONTEXT};
use crate::model::{Handle, Layer, Operation, Result, Status};

impl Engine {
    /// The live delegated state of `raws` (duplicates dropped), in request order, with a
    /// status per object; and what the host terminated because a query failed (the failed
    /// objects and their offloaded dependents, dependents first, then the releases).
    pub fn query(&mut self, raws: &[u64]) -> Result<(Outcome, Outcome)> {
        if self.target.faults.is_empty() {
            return self.query_unfaulted(raws);
        }
        let handles = self.resolve_offloaded(raws, "query it")?;
        let mut outcome = Outcome::with_capacity(handles.len());
        let mut failed = Vec::new();
        for &h in &handles {
            if self.target.take_fault(Operation::Query, h).is_some() {
                // The state is corrupt: the upload that follows fails as well.
                self.target.corrupt(h);
                outcome.push(h.raw(), Status::Failure, &self.host_delegated(h));
                failed.push(h);
                continue;
            }
            self.push_live(&mut outcome, h, self.host.context(h));
        }
        let counter = &mut self.counts.query;
        counter.requested += handles.len() as u64;
        counter.succeeded += (handles.len() - failed.len()) as u64;
        counter.fail(Status::Failure, failed.len() as u64);
        let mut terminated = Outcome::default();
        if !failed.is_empty() {
            let order = self.host.offloaded_post_order_now(&failed);
            terminated = self.upload(&order);
        }
        Ok((outcome, terminated))
    }

    /// `query` when no fault is aimed at anything, so that the query changes nothing: one
    /// pass that resolves each handle and reads its state at once (a failure anywhere drops
    /// what was read). It checks, and polls for interrupts, exactly as `resolve_offloaded`
    /// does: an invalid handle anywhere wins over one that is not offloaded.
    fn query_unfaulted(&mut self, raws: &[u64]) -> Result<(Outcome, Outcome)> {
        check_batch(raws.len())?;
        let mut seen = SeenSet::new(&self.host, &self.budget)?;
        let mut outcome = Outcome::default();
        outcome.reserve(raws.len(), &self.budget)?;
        let mut not_offloaded = None;
        for (i, &raw) in raws.iter().enumerate() {
            self.interrupts.poll(i)?;
            let (h, context) = self.host.resolve_context(raw)?;
            if !seen.insert(h) || not_offloaded.is_some() {
                continue;
            }
            if context == NO_CONTEXT {
                not_offloaded = Some(h);
                continue;
            }
            self.push_live(&mut outcome, h, context);
        }
        if let Some(h) = not_offloaded {
            return Err(not_offloaded_error(h, "query it"));
        }
        let counter = &mut self.counts.query;
        counter.requested += outcome.len() as u64;
        counter.succeeded += outcome.len() as u64;
        Ok((outcome, Outcome::default()))
    }

    /// Appends offloaded `h` (target context `context`) with SUCCESS and its live delegated
    /// state. A connection's live state is the host's frozen copy until traffic changes it,
    /// and that copy is mostly the shared defaults: then nothing is copied.
    fn push_live(&self, outcome: &mut Outcome, h: Handle, context: u32) {
        match layer_of(h) {
            Layer::Neighbor => {
                let nic_reachability_delta = self.target.neighbor(context).nic_reachability_delta;
                let delegated = Delegated::Neighbor {
                    nic_reachability_delta,
                };
                outcome.push(h.raw(), Status::Success, &delegated);
            }
            Layer::Path => outcome.push(h.raw(), Status::Success, &Delegated::Path),
            Layer::Tcp => {
                let live = self.target.live_delegated(context);
                let snapshot = self.host.tcp_delegated(h);
                let defaults = live.is_none() && !self.host.tcp_states.has_copy(h.slot());
                outcome.push_tcp(h.raw(), Status::Success, live.unwrap_or(snapshot), defaults);
            }
        }
    }

    /// The host's copy of the delegated state of `h`: its values as of the last offload,
    /// terminate or traffic snapshot.
    pub(super) fn host_delegated(&self, h: Handle) -> Delegated {
        match layer_of(h) {
            Layer::Neighbor => Delegated::Neighbor {
                nic_reachability_delta: self.host.neighbor(h).state.nic_reachability_delta,
            },
            Layer::Path => Delegated::Path,
            Layer::Tcp => Delegated::Tcp(*self.host.tcp_delegated(h)),
        }
    }
}
