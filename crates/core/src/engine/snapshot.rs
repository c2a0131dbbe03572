//! The engine's whole state as canonical columns (docs/DESIGN.md §12): what a copy, a pickle
//! and a saved file carry. `restore` (the sibling module) reads them back.
//!
//! Only what is observable goes in: objects by handle in walk order, never the target's
//! context numbers, copy-on-write copies or hash-table order, so the fallback engine writes
//! the very same columns for the same history.

use std::net::IpAddr;

use super::types::{OperationCounts, RunningCounts};
use super::Engine;
use crate::host::{layer_of, NO_CONTEXT};
use crate::model::{ip_octets, Columns, Handle, Layer, Mac, Result, TcpDelegated};
use crate::target::{OffloadStats, TargetCounters};

/// "None" in a `u64` column.
pub(crate) const NONE_U64: u64 = u64::MAX;
/// "None" in a `u8` column.
pub(crate) const NONE_U8: u8 = u8::MAX;

/// A MAC as a column holds it: 48 bits, first octet most significant.
pub(crate) fn mac_to_u64(mac: &Mac) -> u64 {
    mac.iter()
        .fold(0, |acc, &octet| acc << 8 | u64::from(octet))
}

/// An address as a column holds it: its family and 16 octets, IPv4 in the first four.
fn push_ip(ip: &IpAddr, families: &mut Vec<u8>, octets: &mut Vec<u8>) {
    families.push(if ip.is_ipv4() { 4 } else { 6 });
    let bytes = ip_octets(ip);
    octets.extend_from_slice(&bytes);
    octets.resize(octets.len() + 16 - bytes.len(), 0);
}

/// Lists the fields of a counter struct once, for both directions of the `counts`,
/// `target.counters` and `target.offload_stats` columns.
macro_rules! counter_column {
    ($to:ident, $from:ident, $t:ty, [$($field:ident),* $(,)?]) => {
        pub(crate) fn $to(c: &$t, out: &mut Vec<u64>) {
            $(out.push(c.$field as u64);)*
        }

        /// Reads the fields back in order; `None` when `values` runs out or one overflows.
        pub(crate) fn $from(values: &mut impl Iterator<Item = u64>) -> Option<$t> {
            let mut c = <$t>::default();
            $(c.$field = values.next()?.try_into().ok()?;)*
            Some(c)
        }
    };
}

counter_column!(
    target_counters_to,
    target_counters_from,
    TargetCounters,
    [
        contexts_allocated,
        contexts_freed,
        bytes_received,
        bytes_sent,
        bytes_buffered,
        bytes_held_back,
        bytes_upload_in_progress,
        bytes_acknowledged,
        bytes_send_queued,
        bytes_send_aborted,
        bytes_placed,
        bytes_handed_over,
        bytes_non_offload,
        bytes_beyond_window,
        events_indicated,
    ]
);

/// The IP then the TCP statistics of one family, in the DDI's order.
pub(crate) fn offload_stats_to(s: &OffloadStats, out: &mut Vec<u64>) {
    ip_stats_to(&s.ip, out);
    tcp_stats_to(&s.tcp, out);
}

pub(crate) fn offload_stats_from(values: &mut impl Iterator<Item = u64>) -> Option<OffloadStats> {
    Some(OffloadStats {
        ip: ip_stats_from(values)?,
        tcp: tcp_stats_from(values)?,
    })
}

counter_column!(
    ip_stats_to,
    ip_stats_from,
    crate::target::IpOffloadStats,
    [
        in_receives,
        in_octets,
        in_delivers,
        out_requests,
        out_octets,
        in_header_errors,
        in_truncated_packets,
        in_discards,
        out_discards,
        out_no_routes,
    ]
);

counter_column!(
    tcp_stats_to,
    tcp_stats_from,
    crate::target::TcpOffloadStats,
    [
        in_segments,
        out_segments,
        currently_established,
        reset_established,
        retransmitted_segments,
        in_errors,
        out_resets,
    ]
);

counter_column!(
    running_tail_to,
    running_tail_from,
    RunningCounts,
    [
        bytes_returned,
        bytes_posted,
        bytes_send_returned,
        bytes_delivered,
        bytes_read,
        bytes_discarded,
        events_seen,
        events_processed,
    ]
);

/// `counts`: per operation requested, succeeded and failed by status, then the byte and
/// event totals, then the releases per layer.
pub(crate) fn running_counts_to(c: &RunningCounts) -> Vec<u64> {
    let mut out = Vec::new();
    for op in running_operations(c) {
        out.extend([op.requested, op.succeeded]);
        out.extend_from_slice(&op.failed);
    }
    running_tail_to(c, &mut out);
    out.extend_from_slice(&c.released);
    out
}

pub(crate) fn running_operations(c: &RunningCounts) -> [&OperationCounts; 5] {
    [
        &c.initiate_offload,
        &c.terminate,
        &c.update,
        &c.query,
        &c.invalidate,
    ]
}

/// Bytes by connection, as `{table}.handle`, `{table}.length` and `{table}.data`.
#[derive(Default)]
struct ByteTable {
    handles: Vec<u64>,
    lengths: Vec<u64>,
    data: Vec<u8>,
}

impl ByteTable {
    fn push(&mut self, raw: u64, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.handles.push(raw);
            self.lengths.push(bytes.len() as u64);
            self.data.extend_from_slice(bytes);
        }
    }

    fn put(self, columns: &mut Columns, table: &str) {
        columns.put(format!("{table}.handle"), self.handles);
        columns.put(format!("{table}.length"), self.lengths);
        columns.put(format!("{table}.data"), self.data);
    }
}

impl Engine {
    /// The engine's whole state as the columns of docs/DESIGN.md §12.
    pub fn snapshot(&self) -> Result<Columns> {
        let mut columns = Columns::new();
        let order = self.host.walk_all(false, &self.budget)?;
        columns.put("tree.id", vec![self.host.id()]);
        for layer in Layer::ALL {
            let name = layer.name();
            let (generations, free) = match layer {
                Layer::Neighbor => (
                    self.host.neighbors.generations(),
                    self.host.neighbors.free_list(),
                ),
                Layer::Path => (self.host.paths.generations(), self.host.paths.free_list()),
                Layer::Tcp => (self.host.tcps.generations(), self.host.tcps.free_list()),
            };
            columns.put(format!("{name}.generations"), generations);
            columns.put(format!("{name}.free"), free.to_vec());
        }
        let handles = |layer: Layer| {
            order
                .iter()
                .map(|&raw| Handle::from_raw(raw))
                .filter(move |h| layer_of(*h) == layer)
        };
        self.put_neighbors(&mut columns, handles(Layer::Neighbor));
        self.put_paths(&mut columns, handles(Layer::Path));
        let tcps: Vec<Handle> = handles(Layer::Tcp).collect();
        self.put_tcps(&mut columns, &tcps);
        self.put_connection_data(&mut columns, &tcps);
        self.put_target(&mut columns);
        self.put_events(&mut columns);
        self.put_policy(&mut columns);
        columns.put("counts", running_counts_to(&self.counts));
        Ok(columns)
    }

    fn put_neighbors(&self, columns: &mut Columns, neighbors: impl Iterator<Item = Handle>) {
        let (mut handles, mut macs, mut source_macs, mut vlans) = (vec![], vec![], vec![], vec![]);
        let (mut host_deltas, mut nic_deltas, mut offloaded) = (vec![], vec![], vec![]);
        let mut target = TargetRows::default();
        for h in neighbors {
            let n = self.host.neighbor(h);
            handles.push(h.raw());
            macs.push(mac_to_u64(&n.state.mac));
            source_macs.push(n.state.source_mac.as_ref().map_or(NONE_U64, mac_to_u64));
            vlans.push(n.state.vlan_id);
            host_deltas.push(n.state.host_reachability_delta);
            nic_deltas.push(n.state.nic_reachability_delta);
            offloaded.push(u8::from(n.context != NO_CONTEXT));
            if n.context != NO_CONTEXT {
                let t = self.target.neighbor(n.context);
                target.u64s[0].push(mac_to_u64(&t.mac));
                target.u32s[0].push(t.host_reachability_delta);
                target.u32s[1].push(t.nic_reachability_delta);
                target.flags[0].push(u8::from(t.invalid));
                target.flags[1].push(u8::from(t.query_pending));
            }
        }
        columns.put("neighbor.handle", handles);
        columns.put("neighbor.mac", macs);
        columns.put("neighbor.source_mac", source_macs);
        columns.put("neighbor.vlan_id", vlans);
        columns.put("neighbor.host_reachability_delta", host_deltas);
        columns.put("neighbor.nic_reachability_delta", nic_deltas);
        columns.put("neighbor.offloaded", offloaded);
        let [mac, ..] = target.u64s;
        let [host, nic, ..] = target.u32s;
        let [invalid, query_pending, ..] = target.flags;
        columns.put("target_neighbor.mac", mac);
        columns.put("target_neighbor.host_reachability_delta", host);
        columns.put("target_neighbor.nic_reachability_delta", nic);
        columns.put("target_neighbor.invalid", invalid);
        columns.put("target_neighbor.query_pending", query_pending);
    }

    fn put_paths(&self, columns: &mut Columns, paths: impl Iterator<Item = Handle>) {
        let (mut handles, mut parents, mut families) = (vec![], vec![], vec![]);
        let (mut sources, mut destinations, mut mtus, mut offloaded) =
            (vec![], vec![], vec![], vec![]);
        let (mut target_mtus, mut target_invalid) = (vec![], vec![]);
        let mut destination_families = Vec::new();
        for h in paths {
            let p = self.host.path(h);
            handles.push(h.raw());
            parents.push(p.neighbor.raw());
            push_ip(&p.state.source, &mut families, &mut sources);
            push_ip(
                &p.state.destination,
                &mut destination_families,
                &mut destinations,
            );
            mtus.push(p.state.path_mtu);
            offloaded.push(u8::from(p.context != NO_CONTEXT));
            if p.context != NO_CONTEXT {
                let t = self.target.path(p.context);
                target_mtus.push(t.path_mtu);
                target_invalid.push(u8::from(t.invalid));
            }
        }
        columns.put("path.handle", handles);
        columns.put("path.neighbor", parents);
        columns.put("path.family", families);
        columns.put("path.source", sources);
        columns.put("path.destination", destinations);
        columns.put("path.path_mtu", mtus);
        columns.put("path.offloaded", offloaded);
        columns.put("target_path.path_mtu", target_mtus);
        columns.put("target_path.invalid", target_invalid);
    }

    fn put_tcps(&self, columns: &mut Columns, tcps: &[Handle]) {
        let (mut handles, mut parents, mut locals, mut remotes) = (vec![], vec![], vec![], vec![]);
        let mut offloaded = Vec::new();
        let mut changed = StateTable::default();
        let mut diverged = StateTable::default();
        let mut target = TargetRows::default();
        for (row, &h) in tcps.iter().enumerate() {
            let t = self.host.tcp(h);
            handles.push(h.raw());
            parents.push(t.path.raw());
            locals.push(t.local_port);
            remotes.push(t.remote_port);
            offloaded.push(u8::from(t.context != NO_CONTEXT));
            let state = self.host.tcp_state(h);
            if state != crate::model::TcpState::with_ports(t.local_port, t.remote_port) {
                changed.rows.push(row as u64);
                let values = [
                    &state.constant.get_all()[..],
                    &state.cached.get_all()[..],
                    &state.delegated.get_all()[..],
                ];
                changed.push(values.concat());
            }
            if t.context != NO_CONTEXT {
                let c = self.target.tcp(t.context);
                target.flags[0].push(u8::from(c.invalid));
                target.flags[1].push(u8::from(c.upload_requested));
                target.flags[2].push(u8::from(c.fin_pending));
                match self.target.live_delegated(t.context) {
                    Some(live) if *live != state.delegated => {
                        diverged.rows.push(h.raw());
                        diverged.push(live.get_all().to_vec());
                    }
                    _ => {}
                }
            }
        }
        columns.put("tcp.handle", handles);
        columns.put("tcp.path", parents);
        columns.put("tcp.local_port", locals);
        columns.put("tcp.remote_port", remotes);
        columns.put("tcp.offloaded", offloaded);
        let names = crate::model::fields(Layer::Tcp).map(|spec| spec.name);
        changed.put(columns, "tcp_state", "row", names);
        let [invalid, upload_requested, fin_pending, ..] = target.flags;
        columns.put("target_tcp.invalid", invalid);
        columns.put("target_tcp.upload_requested", upload_requested);
        columns.put("target_tcp.fin_pending", fin_pending);
        let names = TcpDelegated::SPECS.iter().map(|spec| spec.name);
        diverged.put(columns, "target_delegated", "handle", names);
    }

    /// The bytes and queues of connections: target-held, parked and delivered bytes, send
    /// queues and receive requests, in connection row order.
    fn put_connection_data(&self, columns: &mut Columns, tcps: &[Handle]) {
        let (mut received, mut non_offload, mut delivered) = Default::default();
        let mut sends = SendTables::default();
        let mut posted = PostedTables::default();
        for &h in tcps {
            let raw = h.raw();
            let context = self.host.tcp(h).context;
            if let Some(bytes) = self.delivered.get(&raw) {
                ByteTable::push(&mut delivered, raw, bytes);
            }
            if context == NO_CONTEXT {
                continue;
            }
            if let Some(bytes) = self.target.received.get(&context) {
                ByteTable::push(&mut received, raw, bytes);
            }
            if let Some(bytes) = self.target.non_offload.get(&context) {
                ByteTable::push(&mut non_offload, raw, bytes);
            }
            if let Some(queue) = self.target.sends.get(&context).filter(|q| !q.is_empty()) {
                sends.push(raw, queue);
            }
            if let Some(requests) = self.target.posted.get(&context) {
                posted.push(raw, requests);
            }
        }
        ByteTable::put(received, columns, "received");
        ByteTable::put(non_offload, columns, "non_offload");
        ByteTable::put(delivered, columns, "delivered");
        sends.put(columns);
        posted.put(columns);
    }

    fn put_target(&self, columns: &mut Columns) {
        let t = &self.target;
        let c = &t.config;
        let limits = [
            c.neighbor_capacity,
            c.path_capacity,
            c.tcp_capacity,
            c.max_path_mtu,
            c.max_rcv_window,
        ];
        columns.put(
            "target.limits",
            limits.map(|l| l.unwrap_or(NONE_U64)).to_vec(),
        );
        columns.put(
            "target.limits_set",
            limits.map(|l| u8::from(l.is_some())).to_vec(),
        );
        columns.put("target.fail_rate", vec![c.fail_rate]);
        columns.put("target.seed", vec![c.seed]);
        columns.put("target.rng", vec![t.rng_state()]);
        columns.put("target.paused", vec![u8::from(t.paused)]);
        columns.put("target.upload_all", vec![u8::from(t.upload_all)]);
        let mut counters = Vec::new();
        target_counters_to(&t.counters, &mut counters);
        columns.put("target.counters", counters);
        let mut stats = Vec::new();
        for family in &t.offload_stats {
            offload_stats_to(family, &mut stats);
        }
        columns.put("target.offload_stats", stats);
        let clock = &t.clock;
        columns.put(
            "clock",
            vec![
                clock.now,
                u64::from(clock.ticks_per_second),
                u64::from(clock.nce_stale_ticks),
            ],
        );
        let mut faults: Vec<_> = t
            .faults
            .iter()
            .map(|(&(op, h), &s)| (op as u8, h, s as u8))
            .collect();
        faults.sort_unstable();
        columns.put(
            "fault.operation",
            faults.iter().map(|f| f.0).collect::<Vec<_>>(),
        );
        columns.put(
            "fault.handle",
            faults.iter().map(|f| f.1).collect::<Vec<_>>(),
        );
        columns.put(
            "fault.status",
            faults.iter().map(|f| f.2).collect::<Vec<_>>(),
        );
        let mut corrupt: Vec<u64> = t.corrupt.iter().copied().collect();
        corrupt.sort_unstable();
        columns.put("corrupt.handle", corrupt);
    }

    fn put_events(&self, columns: &mut Columns) {
        let (mut kinds, mut handles, mut reasons) = (vec![], vec![], vec![]);
        let (mut sizes, mut offloads) = (vec![], vec![]);
        for event in &self.events {
            kinds.push(event.kind as u8);
            handles.push(event.handle.unwrap_or(NONE_U64));
            reasons.push(event.reason.unwrap_or(NONE_U8));
            sizes.push(event.size.map_or(NONE_U64, u64::from));
            offloads.push(match event.offload {
                None => 0u8,
                Some(_) if self.event_is_current(event) => 1,
                Some(_) => 2,
            });
        }
        columns.put("event.kind", kinds);
        columns.put("event.handle", handles);
        columns.put("event.reason", reasons);
        columns.put("event.size", sizes);
        columns.put("event.offload", offloads);
        let mut pending: Vec<u64> = self.invalid_pending.iter().copied().collect();
        pending.sort_unstable();
        columns.put("invalid_pending.handle", pending);
    }

    fn put_policy(&self, columns: &mut Columns) {
        let p = &self.policy;
        columns.put(
            "policy",
            vec![
                u64::from(p.release_unreferenced),
                u64::from(p.decline),
                p.uploads_per_call.map_or(NONE_U64, u64::from),
                u64::from(p.accept_indicated),
                u64::from(p.terminate_on_link_down),
            ],
        );
        let (mut offload, mut locals, mut remotes) = (vec![], vec![], vec![]);
        let (mut families, mut destinations, mut prefixes) = (vec![], vec![], vec![]);
        for rule in &p.offload_rules {
            offload.push(u8::from(rule.offload));
            locals.extend([rule.local_ports.0, rule.local_ports.1]);
            remotes.extend([rule.remote_ports.0, rule.remote_ports.1]);
            match &rule.destination {
                Some((ip, prefix)) => {
                    push_ip(ip, &mut families, &mut destinations);
                    prefixes.push(*prefix);
                }
                None => {
                    families.push(0);
                    destinations.extend([0u8; 16]);
                    prefixes.push(0);
                }
            }
        }
        columns.put("rule.offload", offload);
        columns.put("rule.local_ports", locals);
        columns.put("rule.remote_ports", remotes);
        columns.put("rule.family", families);
        columns.put("rule.destination", destinations);
        columns.put("rule.prefix", prefixes);
    }
}

/// Per-row target columns gathered beside an object table.
#[derive(Default)]
struct TargetRows {
    u64s: [Vec<u64>; 1],
    u32s: [Vec<u32>; 2],
    flags: [Vec<u8>; 3],
}

/// Rows of connections' variables: a key column and one `u64` column per variable.
#[derive(Default)]
struct StateTable {
    rows: Vec<u64>,
    values: Vec<Vec<u64>>,
}

impl StateTable {
    fn push(&mut self, row: Vec<u64>) {
        if self.values.is_empty() {
            self.values = vec![Vec::new(); row.len()];
        }
        for (column, value) in self.values.iter_mut().zip(row) {
            column.push(value);
        }
    }

    fn put<'a>(
        self,
        columns: &mut Columns,
        table: &str,
        key: &str,
        names: impl Iterator<Item = &'a str>,
    ) {
        if key == "row" {
            let rows: Vec<u32> = self.rows.iter().map(|&r| r as u32).collect();
            columns.put(format!("{table}.{key}"), rows);
        } else {
            columns.put(format!("{table}.{key}"), self.rows);
        }
        let mut values = self.values.into_iter();
        for name in names {
            columns.put(format!("{table}.{name}"), values.next().unwrap_or_default());
        }
    }
}

#[derive(Default)]
struct SendTables {
    handles: Vec<u64>,
    unsent: Vec<u64>,
    fins: Vec<u8>,
    lengths: Vec<u64>,
    data: Vec<u8>,
    runs: Vec<u32>,
    requests: Vec<u32>,
    run_lengths: Vec<u64>,
    run_kinds: Vec<u8>,
    remaining: Vec<u64>,
}

impl SendTables {
    fn push(&mut self, raw: u64, queue: &crate::target::SendQueue) {
        let parts = queue.parts();
        self.handles.push(raw);
        self.unsent.push(parts.unsent);
        self.fins.push(parts.fin);
        self.lengths.push(parts.data.len() as u64);
        self.data.extend(parts.data.iter());
        self.runs.push(parts.runs.len() as u32);
        self.requests.push(parts.requests.len() as u32);
        for (len, kind) in parts.runs {
            self.run_lengths.push(len);
            self.run_kinds.push(kind);
        }
        self.remaining.extend(parts.requests);
    }

    fn put(self, columns: &mut Columns) {
        columns.put("send.handle", self.handles);
        columns.put("send.unsent", self.unsent);
        columns.put("send.fin", self.fins);
        columns.put("send.length", self.lengths);
        columns.put("send.data", self.data);
        columns.put("send.runs", self.runs);
        columns.put("send.requests", self.requests);
        columns.put("send_run.length", self.run_lengths);
        columns.put("send_run.kind", self.run_kinds);
        columns.put("send_request.remaining", self.remaining);
    }
}

#[derive(Default)]
struct PostedTables {
    handles: Vec<u64>,
    counts: Vec<u32>,
    deadlines: Vec<u64>,
    sizes: Vec<u32>,
    push: Vec<u8>,
    lengths: Vec<u64>,
    data: Vec<u8>,
}

impl PostedTables {
    fn push(&mut self, raw: u64, requests: &crate::target::ReceiveRequests) {
        let deadline = requests.push_deadline();
        if requests.is_empty() && deadline.is_none() {
            return;
        }
        self.handles.push(raw);
        self.deadlines.push(deadline.unwrap_or(NONE_U64));
        let mut count = 0;
        for (size, push, data) in requests.parts() {
            count += 1;
            self.sizes.push(size);
            self.push.push(u8::from(push));
            self.lengths.push(data.len() as u64);
            self.data.extend_from_slice(data);
        }
        self.counts.push(count);
    }

    fn put(self, columns: &mut Columns) {
        columns.put("posted.handle", self.handles);
        columns.put("posted.requests", self.counts);
        columns.put("posted.push_deadline", self.deadlines);
        columns.put("posted_request.size", self.sizes);
        columns.put("posted_request.push", self.push);
        columns.put("posted_request.length", self.lengths);
        columns.put("posted_request.data", self.data);
    }
}
