//! `relink`: a path moves to another neighbor because its next hop changed; an offloaded
//! path takes its new neighbor along to the target (docs/DESIGN.md §8, "relink").

use super::types::Outcome;
use super::Engine;
use crate::error;
use crate::model::{Layer, Result, Status};

impl Engine {
    /// Moves `path` to `neighbor`, offloading the neighbor if the path is offloaded and the
    /// neighbor is not. A failure changes nothing, not even the fault it hit or the generator.
    /// Returns the old neighbor if the host released it: the path was its last reference.
    pub fn relink(&mut self, path: u64, neighbor: u64) -> Result<Outcome> {
        // Both handles are checked before either layer (docs/DESIGN.md §8, check order).
        self.host.resolve(path)?;
        self.host.resolve(neighbor)?;
        let p = self.host.resolve_layer(path, Layer::Path, "path")?;
        let n = self
            .host
            .resolve_layer(neighbor, Layer::Neighbor, "neighbor")?;
        let mut released = Outcome::default();
        if self.host.path(p).neighbor == n {
            return Ok(released);
        }
        let path_context = self.host.context(p);
        if path_context != crate::host::NO_CONTEXT {
            if !self.host.is_offloaded(n) {
                let saved = self.target.admission_state(n);
                let failure = if self.target.paused {
                    Some(Status::Paused)
                } else {
                    self.offload_one(n)
                };
                if let Some(status) = failure {
                    self.target.restore_admission_state(n, saved);
                    return Err(error!(
                        RelinkFailed,
                        path = p,
                        neighbor = n,
                        status = status.name()
                    ));
                }
            }
            let neighbor_context = self.host.context(n);
            self.target.path_mut(path_context).neighbor = neighbor_context;
        }
        if let Some(old) = self.host.relink(p, n) {
            self.release(&mut released, &[old]);
        }
        Ok(released)
    }
}
