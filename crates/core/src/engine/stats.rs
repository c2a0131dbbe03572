//! `counters`: what the engine counts, read in one piece (docs/DESIGN.md §9). The Python
//! layer (`python/offload_tree/_stats.py`) arranges them into `tree.stats()` and
//! `target.stats()`.

use super::types::Counters;
use super::Engine;
use crate::host::NO_CONTEXT;
use crate::model::Layer;

impl Engine {
    pub fn counters(&self) -> Counters {
        let per_layer = |count: &dyn Fn(Layer) -> usize| Layer::ALL.map(|l| count(l) as u64);
        let c = &self.counts;
        let t = &self.target.counters;
        // Shared objects are few next to connections: one scan of them is cheap.
        let mut references_held = [0u64; 3];
        let mut unreferenced = [0u64; 3];
        let shared = self
            .host
            .neighbors
            .iter()
            .map(|(_, _, n)| (Layer::Neighbor, n.context, n.refs))
            .chain(
                self.host
                    .paths
                    .iter()
                    .map(|(_, _, p)| (Layer::Path, p.context, p.refs)),
            );
        for (layer, context, refs) in shared {
            references_held[layer.index()] += u64::from(refs);
            if context != NO_CONTEXT && refs == 0 {
                unreferenced[layer.index()] += 1;
            }
        }
        Counters {
            live: per_layer(&|l| self.host.live(l)),
            offloaded: per_layer(&|l| self.host.offloaded[l.index()]),
            target_offloaded: per_layer(&|l| self.target.offloaded(l)),
            initiate_offload: c.initiate_offload.clone(),
            terminate: c.terminate.clone(),
            update: c.update.clone(),
            query: c.query.clone(),
            invalidate: c.invalidate.clone(),
            bytes_buffered: t.bytes_buffered,
            bytes_returned: c.bytes_returned,
            bytes_held_back: t.bytes_held_back,
            bytes_upload_in_progress: t.bytes_upload_in_progress,
            bytes_received: t.bytes_received,
            bytes_sent: t.bytes_sent,
            bytes_posted: c.bytes_posted,
            bytes_acknowledged: t.bytes_acknowledged,
            bytes_send_queued: t.bytes_send_queued,
            bytes_send_returned: c.bytes_send_returned,
            bytes_send_aborted: t.bytes_send_aborted,
            bytes_delivered: c.bytes_delivered,
            bytes_read: c.bytes_read,
            bytes_unread: self.delivered.values().map(|d| d.len() as u64).sum(),
            bytes_discarded: c.bytes_discarded,
            bytes_placed: t.bytes_placed,
            bytes_handed_over: t.bytes_handed_over,
            bytes_non_offload: t.bytes_non_offload,
            bytes_beyond_window: t.bytes_beyond_window,
            events_seen: c.events_seen,
            events_processed: c.events_processed,
            events_pending: self.events.len() as u64,
            events_indicated: t.events_indicated,
            contexts_allocated: t.contexts_allocated,
            contexts_freed: t.contexts_freed,
            invalid: self.target.invalid,
            paused: self.target.paused,
            faults_pending: self.target.faults_pending(),
            corrupt: self.target.corrupt.len() as u64,
            references_held,
            unreferenced,
            released: c.released,
        }
    }
}
