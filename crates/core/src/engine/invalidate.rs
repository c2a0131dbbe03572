//! `invalidate`: the target stops using the cached state of offloaded objects and asks for
//! the upload of every connection that relies on it (docs/DESIGN.md §8, "invalidate").

use super::types::Completion;
use super::Engine;
use crate::host::layer_of;
use crate::model::{Handle, Layer, Operation, Result, Status, UploadReason};

impl Engine {
    /// Marks offloaded objects invalid; queues one INVALID_STATE upload request per affected
    /// connection (none while one is pending for it). Returns a status per object.
    ///
    /// An invalidate that finds an object's hardware state corrupt completes with FAILURE for
    /// it (NDIS "Returning the Completion Status of an Invalidate Operation"): the object is not
    /// marked invalid, the target asks for the upload of every offloaded connection that
    /// relies on it with reason HARDWARE_FAILURE (TcpIndicateRetrieve), and the object's own
    /// upload will fail too.
    pub fn invalidate(&mut self, raws: &[u64]) -> Result<Completion> {
        let handles = self.resolve_offloaded(raws, "invalidate it")?;
        let mut statuses = Vec::with_capacity(handles.len());
        for &h in &handles {
            let status = if self.target.take_fault(Operation::Invalidate, h).is_some() {
                self.target.corrupt(h);
                Status::Failure
            } else {
                let context = self.host.context(h);
                self.target.set_invalid(layer_of(h), context, true);
                Status::Success
            };
            statuses.push(status as u8);
        }
        let mut subtree = Vec::new();
        for (&h, &status) in handles.iter().zip(&statuses) {
            let failed = status != Status::Success as u8;
            subtree.clear();
            self.host.walk_subtree(h, false, &mut subtree);
            for &raw in &subtree {
                let t = Handle::from_raw(raw);
                if layer_of(t) != Layer::Tcp || !self.host.is_offloaded(t) {
                    continue;
                }
                if failed {
                    self.request_upload(t, UploadReason::HardwareFailure);
                } else if self.invalid_pending.insert(raw) {
                    self.request_upload(t, UploadReason::InvalidState);
                }
            }
        }
        let failures = statuses
            .iter()
            .filter(|&&s| s != Status::Success as u8)
            .count() as u64;
        let counter = &mut self.counts.invalidate;
        counter.requested += handles.len() as u64;
        counter.succeeded += handles.len() as u64 - failures;
        counter.fail(Status::Failure, failures);
        Ok(Completion {
            handles: handles.iter().map(|h| h.raw()).collect(),
            statuses,
        })
    }
}
