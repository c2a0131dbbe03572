//! A full check of the invariants of docs/SPEC.md §2 over the host tree *and* the target's
//! own store (feature `testing`). Used by the core's tests and fuzzers; cheap enough to run
//! after every fuzzed step.

use super::Engine;
use crate::host::{layer_of, NO_CONTEXT};
use crate::model::{Handle, Layer};
use crate::target::NOT_DIVERGED;

impl Engine {
    /// Returns a description of the first broken invariant, if any.
    pub fn check_invariants(&self) -> Result<(), String> {
        let host = &self.host;
        let mut offloaded = [0usize; 3];
        let mut listed = 0usize;

        // Roots are exactly the live neighbors.
        if host.roots.len() != host.neighbors.len() {
            return Err(format!(
                "{} roots for {} neighbors",
                host.roots.len(),
                host.neighbors.len()
            ));
        }
        for &n in &host.roots {
            if !host.contains(n.raw()) || layer_of(n) != Layer::Neighbor {
                return Err(format!("root {n} is not a live neighbor"));
            }
        }
        // One key per object: every path and connection is found by its own key, and the
        // indexes hold nothing else.
        let (paths_indexed, tcps_indexed) = host.keys.len();
        if (paths_indexed, tcps_indexed) != (host.paths.len(), host.tcps.len()) {
            return Err(format!(
                "{paths_indexed} path keys for {} paths, {tcps_indexed} connection keys for {} connections",
                host.paths.len(),
                host.tcps.len()
            ));
        }
        for (slot, generation, _) in host.paths.iter() {
            let p = Handle::new(host.id(), Layer::Path, generation, slot);
            if host.find_path(&host.path_key(p)) != Some(p) {
                return Err(format!("{p} is not found by its address pair"));
            }
        }
        for (slot, generation, _) in host.tcps.iter() {
            let t = Handle::new(host.id(), Layer::Tcp, generation, slot);
            if host.find_tcp(host.tcp_key(t)) != Some(t) {
                return Err(format!("{t} is not found by its 4-tuple"));
            }
        }
        // Every dependent list names live objects of the layer above that link back.
        for (slot, generation, neighbor) in host.neighbors.iter() {
            let n = Handle::new(host.id(), Layer::Neighbor, generation, slot);
            for &p in &neighbor.paths {
                listed += 1;
                if !host.contains(p.raw()) || layer_of(p) != Layer::Path {
                    return Err(format!("{n} lists {p}, not a live path"));
                }
                if host.path(p).neighbor != n {
                    return Err(format!("{n} lists {p}, which depends on another neighbor"));
                }
            }
        }
        for (slot, generation, path) in host.paths.iter() {
            let p = Handle::new(host.id(), Layer::Path, generation, slot);
            if !host.contains(path.neighbor.raw()) || layer_of(path.neighbor) != Layer::Neighbor {
                return Err(format!(
                    "{p} depends on {}, not a live neighbor",
                    path.neighbor
                ));
            }
            for &t in &path.tcps {
                listed += 1;
                if !host.contains(t.raw()) || layer_of(t) != Layer::Tcp {
                    return Err(format!("{p} lists {t}, not a live connection"));
                }
                if host.tcp(t).path != p {
                    return Err(format!("{p} lists {t}, which depends on another path"));
                }
            }
        }
        // Reference counts: each neighbor and path counts its offloaded dependents; while the
        // host releases unreferenced state, no offloaded one is left without any.
        let shared = host
            .neighbors
            .iter()
            .map(|(slot, generation, n)| {
                let offloaded = n.paths.iter().filter(|&&p| host.is_offloaded(p)).count();
                let h = Handle::new(host.id(), Layer::Neighbor, generation, slot);
                (h, n.refs, offloaded)
            })
            .chain(host.paths.iter().map(|(slot, generation, p)| {
                let offloaded = p.tcps.iter().filter(|&&t| host.is_offloaded(t)).count();
                let h = Handle::new(host.id(), Layer::Path, generation, slot);
                (h, p.refs, offloaded)
            }));
        for (h, refs, offloaded) in shared {
            if refs as usize != offloaded {
                return Err(format!(
                    "{h} counts {refs} references, {offloaded} offloaded dependents"
                ));
            }
            if self.policy.release_unreferenced && refs == 0 && host.is_offloaded(h) {
                return Err(format!("{h} is offloaded with no offloaded dependent"));
            }
        }
        if listed != host.paths.len() + host.tcps.len() {
            return Err(format!(
                "{listed} objects listed as dependents, {} paths and connections live",
                host.paths.len() + host.tcps.len()
            ));
        }

        // Offload state: no offloaded orphan, and the target mirrors the host exactly.
        let all = host.walk_all(false, &crate::model::Budget::default());
        for raw in all.map_err(|e| e.message().to_owned())? {
            let h = Handle::from_raw(raw);
            let context = host.context(h);
            if context == NO_CONTEXT {
                continue;
            }
            offloaded[layer_of(h).index()] += 1;
            let parent = host.parent(h);
            if let Some(parent) = parent {
                if !host.is_offloaded(parent) {
                    return Err(format!("{h} is offloaded but {parent} is not"));
                }
            }
            let t = &self.target;
            let (owner, parent_context) = match layer_of(h) {
                Layer::Neighbor => (t.neighbors.get_slot(context).map(|c| c.host), None),
                Layer::Path => match t.paths.get_slot(context) {
                    Some(c) => (Some(c.host), Some(c.neighbor)),
                    None => (None, None),
                },
                Layer::Tcp => match t.tcps.get_slot(context) {
                    Some(c) => (Some(c.host), Some(c.path)),
                    None => (None, None),
                },
            };
            if owner != Some(h) {
                return Err(format!(
                    "target context {context} of {h} belongs to {owner:?}"
                ));
            }
            if parent.map(|p| host.context(p)) != parent_context {
                return Err(format!(
                    "target links {h} to another context than the host does"
                ));
            }
        }
        for layer in Layer::ALL {
            let i = layer.index();
            if offloaded[i] != host.offloaded[i] || offloaded[i] != self.target.offloaded(layer) {
                return Err(format!(
                    "{} offloaded {layer}s counted {}, host says {}, target holds {}",
                    offloaded[i],
                    offloaded[i],
                    host.offloaded[i],
                    self.target.offloaded(layer)
                ));
            }
            if let Some(capacity) = self.target.config.capacity(layer) {
                if offloaded[i] as u64 > capacity {
                    return Err(format!(
                        "{} {layer}s offloaded over capacity {capacity}",
                        offloaded[i]
                    ));
                }
            }
        }
        let buffered: usize = self.target.received.values().map(Vec::len).sum();
        if buffered as u64 != self.target.counters.bytes_buffered {
            return Err(format!(
                "target buffers {buffered} bytes but counts {}",
                self.target.counters.bytes_buffered
            ));
        }
        if self
            .target
            .received
            .keys()
            .any(|&c| self.target.tcps.get_slot(c).is_none())
        {
            return Err("received bytes held for a connection the target no longer has".into());
        }
        // Posted send data: nothing lost, nothing made up. Every byte the host posted was
        // acknowledged, is held by the target, or came back with a terminate.
        let queued: usize = self.target.sends.values().map(|q| q.len()).sum();
        let t = &self.target.counters;
        if queued as u64 != t.bytes_send_queued {
            return Err(format!(
                "target holds {queued} posted bytes but counts {}",
                t.bytes_send_queued
            ));
        }
        let accounted = t.bytes_acknowledged
            + t.bytes_send_queued
            + self.counts.bytes_send_returned
            + t.bytes_send_aborted;
        if self.counts.bytes_posted != accounted {
            return Err(format!(
                "{} bytes posted but {accounted} acknowledged, queued, returned or aborted",
                self.counts.bytes_posted
            ));
        }
        if self
            .target
            .sends
            .iter()
            .any(|(&c, q)| q.is_empty() || self.target.tcps.get_slot(c).is_none())
        {
            return Err("a send queue is empty or its connection is gone".into());
        }
        // Received data: every byte the peer sent was delivered to the host, sits in a
        // receive request, is buffered, or came back with a terminate; and what was
        // delivered was read, waits to be read, or went with its removed connection.
        let placed: usize = self.target.posted.values().map(|r| r.placed()).sum();
        if placed as u64 != t.bytes_placed {
            return Err(format!(
                "{placed} bytes sit in receive requests but {} are counted",
                t.bytes_placed
            ));
        }
        let held: usize = self.target.non_offload.values().map(Vec::len).sum();
        if held as u64 != t.bytes_non_offload {
            return Err(format!(
                "{held} bytes wait on the non-offload path but {} are counted",
                t.bytes_non_offload
            ));
        }
        let c = &self.counts;
        let received = c.bytes_delivered
            + t.bytes_buffered
            + t.bytes_placed
            + t.bytes_non_offload
            + c.bytes_returned;
        if t.bytes_received + t.bytes_handed_over != received {
            return Err(format!(
                "{} bytes received and {} handed over but {received} delivered, placed, \
                 buffered or returned",
                t.bytes_received, t.bytes_handed_over
            ));
        }
        let unread: u64 = self.delivered.values().map(|d| d.len() as u64).sum();
        if c.bytes_delivered != c.bytes_read + unread + c.bytes_discarded {
            return Err(format!(
                "{} bytes delivered but {} read, {unread} unread, {} discarded",
                c.bytes_delivered, c.bytes_read, c.bytes_discarded
            ));
        }
        for (&context, requests) in &self.target.posted {
            if requests.is_empty() || self.target.tcps.get_slot(context).is_none() {
                return Err("a receive request list is empty or its connection is gone".into());
            }
            if self.target.received.contains_key(&context) {
                return Err("a connection has posted receive requests and buffered data".into());
            }
        }
        if self
            .delivered
            .iter()
            .any(|(&raw, d)| d.is_empty() || !host.contains(raw))
        {
            return Err("unread bytes kept for no live connection".into());
        }
        // Copy-on-write state: every diverged copy belongs to exactly one live connection.
        let mut owners = vec![0u32; self.target.diverged.slot_count()];
        for (_, _, tcp) in self.target.tcps.iter() {
            if tcp.diverged != NOT_DIVERGED {
                match owners.get_mut(tcp.diverged as usize) {
                    Some(count) if self.target.diverged.get_slot(tcp.diverged).is_some() => {
                        *count += 1
                    }
                    _ => {
                        return Err(format!(
                            "a connection's delegated state points at free slot {}",
                            tcp.diverged
                        ))
                    }
                }
            }
        }
        let owned = owners.iter().filter(|&&count| count == 1).count();
        if owners.iter().any(|&count| count > 1) || owned != self.target.diverged.len() {
            return Err(format!(
                "{} diverged delegated states but {owned} connections own one each",
                self.target.diverged.len()
            ));
        }
        let invalid = self
            .target
            .neighbors
            .iter()
            .filter(|(_, _, c)| c.invalid)
            .count()
            + self
                .target
                .paths
                .iter()
                .filter(|(_, _, c)| c.invalid)
                .count()
            + self
                .target
                .tcps
                .iter()
                .filter(|(_, _, c)| c.invalid)
                .count();
        if invalid as u64 != self.target.invalid {
            return Err(format!(
                "{invalid} invalid contexts but the target counts {}",
                self.target.invalid
            ));
        }
        // Corruption marks only offloaded objects: the upload that meets it clears it.
        for &raw in &self.target.corrupt {
            if !host.contains(raw) || !host.is_offloaded(Handle::from_raw(raw)) {
                return Err(format!(
                    "{} is marked corrupt but is not offloaded",
                    Handle::from_raw(raw)
                ));
            }
        }
        Ok(())
    }
}
