//! `invalidate`: the target stops using the cached state of offloaded objects and asks for
//! the upload of every connection that relies on it (docs/DESIGN.md §8, "invalidate").

use super::Engine;
use crate::host::layer_of;
use crate::model::{Handle, Layer, Result, UploadReason};

impl Engine {
    /// Marks offloaded objects invalid; queues one INVALID_STATE upload request per affected
    /// connection (none while one is pending for it).
    pub fn invalidate(&mut self, raws: &[u64]) -> Result<()> {
        let handles = self.resolve_offloaded(raws, "invalidate it")?;
        for &h in &handles {
            let context = self.host.context(h);
            self.target.set_invalid(layer_of(h), context, true);
        }
        let mut subtree = Vec::new();
        for &h in &handles {
            subtree.clear();
            self.host.walk_subtree(h, false, &mut subtree);
            for &raw in &subtree {
                let t = Handle::from_raw(raw);
                if layer_of(t) == Layer::Tcp
                    && self.host.is_offloaded(t)
                    && self.invalid_pending.insert(raw)
                {
                    self.request_upload(t, UploadReason::InvalidState);
                }
            }
        }
        let n = handles.len() as u64;
        self.counts.invalidate.requested += n;
        self.counts.invalidate.succeeded += n;
        Ok(())
    }
}
