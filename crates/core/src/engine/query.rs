//! `query`: read the target's live delegated state of offloaded objects, changing nothing
//! but the query counters (docs/DESIGN.md §8, "query").

use super::types::{Delegated, Outcome};
use super::Engine;
use crate::host::layer_of;
use crate::model::{Layer, Result};

impl Engine {
    /// The live delegated state of `raws` (duplicates dropped), in request order.
    pub fn query(&mut self, raws: &[u64]) -> Result<Outcome> {
        let handles = self.resolve_offloaded(raws, "query it")?;
        let mut outcome = Outcome::with_capacity(handles.len());
        for &h in &handles {
            let context = self.host.context(h);
            outcome.handles.push(h.raw());
            outcome.delegated.push(match layer_of(h) {
                Layer::Neighbor => Delegated::Neighbor {
                    nic_reachability_delta: self.target.neighbor(context).nic_reachability_delta,
                },
                Layer::Path => Delegated::Path,
                Layer::Tcp => {
                    let snapshot = &self.host.tcp_state(h).delegated;
                    Delegated::Tcp(*self.target.delegated(context, snapshot))
                }
            });
        }
        let n = handles.len() as u64;
        self.counts.query.requested += n;
        self.counts.query.succeeded += n;
        Ok(outcome)
    }
}
