//! An engine rebuilt from the columns of a snapshot (docs/DESIGN.md §12).
//!
//! Every value is checked before it is used, and a broken rule is reported with the column
//! that broke it (`SnapshotError`). The engine is built aside and returned only when complete,
//! so a failed restore leaves nothing behind. Checks reuse the engine's own validation where
//! there is one (addresses, MTUs, variable ranges, the policy), so a snapshot can hold only
//! what the API could have made. Derived state (reference counts, offload counts, the key
//! index, invalid marks) is recomputed by the same calls that keep it during operations.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::snapshot::{
    offload_stats_from, running_tail_from, target_counters_from, NONE_U64, NONE_U8,
};
use super::types::{Event, RunningCounts};
use super::Engine;
use crate::host::{HostPolicy, Neighbor, OffloadRule, Path, Tcp, NO_CONTEXT};
use crate::model::{
    bad_value, check_length, fields, mac_from_int, Arena, Columns, EventKind, Handle, Layer,
    NeighborState, Operation, PathState, Result, Status, TcpDelegated, TcpField, TcpState,
    UploadReason, Value, GENERATION_LIMIT,
};
use crate::target::{
    ReceiveRequests, SendQueue, TargetConfig, TargetNeighbor, TargetPath, TargetTcp,
};

/// Reports an error of the engine's own validation as a broken rule of column `name`.
fn in_column<T>(name: &str, result: Result<T>) -> Result<T> {
    result.map_err(|e| bad_value(name, e.message()))
}

/// Fails unless `column` has as many values as its table has rows.
fn rows<'a, T>(name: &str, values: &'a [T], expected: usize) -> Result<&'a [T]> {
    check_length(name, values.len(), expected)?;
    Ok(values)
}

fn flag(name: &str, value: u8) -> Result<bool> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(bad_value(name, format!("flag {other} (0 or 1)"))),
    }
}

fn ip(name: &str, family: u8, octets: &[u8]) -> Result<IpAddr> {
    let (ip, used) = match family {
        4 => (
            IpAddr::V4(Ipv4Addr::from(
                <[u8; 4]>::try_from(&octets[..4]).unwrap_or_default(),
            )),
            4,
        ),
        6 => (
            IpAddr::V6(Ipv6Addr::from(
                <[u8; 16]>::try_from(octets).unwrap_or_default(),
            )),
            16,
        ),
        other => return Err(bad_value(name, format!("IP family {other} (4 or 6)"))),
    };
    if octets[used..].iter().any(|&b| b != 0) {
        return Err(bad_value(
            name,
            "an IPv4 address with octets after its fourth",
        ));
    }
    Ok(ip)
}

fn mac(name: &str, value: u64) -> Result<crate::model::Mac> {
    in_column(name, mac_from_int(i128::from(value)))
}

/// Where each live object of one layer sits in its table: its row by slot (a vector, not a
/// hash map: a restore of 10^7 connections looks rows up tens of millions of times).
struct Rows {
    handles: Vec<u64>,
    by_slot: Vec<u32>,
}

impl Rows {
    const NONE: u32 = u32::MAX;

    fn new(slots: usize) -> Rows {
        Rows {
            handles: Vec::new(),
            by_slot: vec![Rows::NONE; slots],
        }
    }

    /// The row of the object `raw` names, if it is one of this table's.
    fn of(&self, raw: u64) -> Option<usize> {
        let slot = Handle::from_raw(raw).slot() as usize;
        let row = *self.by_slot.get(slot)? as usize;
        (self.handles.get(row) == Some(&raw)).then_some(row)
    }
}

impl Engine {
    /// The engine a snapshot describes (docs/DESIGN.md §12), or `SnapshotError` naming the
    /// column that breaks a rule.
    pub fn restore(columns: &Columns) -> Result<Engine> {
        let tree_id = columns.exact("tree.id", 1, Columns::u16s)?[0];
        let config = read_config(columns)?;
        let mut engine = in_column(
            "tree.id",
            Engine::with_tree_id(config, HostPolicy::default(), tree_id),
        )?;
        engine.restore_policy(columns)?;
        let neighbors = engine.restore_neighbors(columns)?;
        let paths = engine.restore_paths(columns, &neighbors)?;
        let (tcps, tcp_rows) = engine.restore_tcps(columns, &paths)?;
        engine.restore_offloads(columns, &tcps, &tcp_rows)?;
        engine.restore_connection_data(columns, &tcp_rows)?;
        engine.restore_target(columns)?;
        engine.restore_events(columns)?;
        engine.counts = read_counts(columns)?;
        engine.check_ledgers()?;
        Ok(engine)
    }

    /// The rules that tie columns together: the policy's release of unreferenced objects,
    /// the capacities, and the ledgers in which no byte is lost or made up (docs/SPEC.md §2).
    fn check_ledgers(&self) -> Result<()> {
        if self.policy.release_unreferenced {
            for (layer, name) in [
                (Layer::Neighbor, "neighbor.offloaded"),
                (Layer::Path, "path.offloaded"),
            ] {
                let unreferenced = |context: u32, refs: u32| context != NO_CONTEXT && refs == 0;
                let found = match layer {
                    Layer::Neighbor => self
                        .host
                        .neighbors
                        .iter()
                        .any(|(_, _, n)| unreferenced(n.context, n.refs)),
                    _ => self
                        .host
                        .paths
                        .iter()
                        .any(|(_, _, p)| unreferenced(p.context, p.refs)),
                };
                if found {
                    return Err(bad_value(name, "an object offloaded with no offloaded dependent, which this policy releases"));
                }
            }
        }
        for layer in Layer::ALL {
            let held = self.target.offloaded(layer) as u64;
            if self
                .target
                .config
                .capacity(layer)
                .is_some_and(|capacity| held > capacity)
            {
                return Err(bad_value(
                    "target.limits",
                    format!("{held} offloaded {}s exceed the capacity", layer.name()),
                ));
            }
        }
        let (t, c) = (&self.target.counters, &self.counts);
        let accounted = [
            t.bytes_acknowledged,
            t.bytes_send_queued,
            c.bytes_send_returned,
            t.bytes_send_aborted,
        ];
        if Some(c.bytes_posted) != checked_sum(&accounted) {
            return Err(bad_value(
                "counts",
                "bytes posted are not all acknowledged, queued, returned or aborted",
            ));
        }
        let received = [
            c.bytes_delivered,
            t.bytes_buffered,
            t.bytes_placed,
            t.bytes_non_offload,
            c.bytes_returned,
        ];
        if checked_sum(&[t.bytes_received, t.bytes_handed_over]) != checked_sum(&received) {
            return Err(bad_value(
                "target.counters",
                "bytes received are not all delivered, placed, buffered or returned",
            ));
        }
        let unread: u64 = self.delivered.values().map(|d| d.len() as u64).sum();
        if Some(c.bytes_delivered) != checked_sum(&[c.bytes_read, unread, c.bytes_discarded]) {
            return Err(bad_value(
                "counts",
                "bytes delivered are not all read, unread or discarded",
            ));
        }
        if self
            .target
            .posted
            .keys()
            .any(|context| self.target.received.contains_key(context))
        {
            return Err(bad_value(
                "posted.handle",
                "a connection with receive requests and buffered data",
            ));
        }
        for &raw in &self.target.corrupt {
            if !self.host.contains(raw) || !self.host.is_offloaded(Handle::from_raw(raw)) {
                return Err(bad_value(
                    "corrupt.handle",
                    format!("{raw:#018x} is not an offloaded object"),
                ));
            }
        }
        let t = &self.target;
        if t.counters
            .contexts_allocated
            .checked_sub(t.counters.contexts_freed)
            != Some((t.neighbors.len() + t.paths.len() + t.tcps.len()) as u64)
        {
            let problem = "contexts allocated less freed differ from those held";
            return Err(bad_value("target.counters", problem));
        }
        let pending = self.events.len() as u64;
        if checked_sum(&[c.events_processed, pending]) != Some(c.events_seen) {
            return Err(bad_value(
                "counts",
                "events seen are not all processed or pending",
            ));
        }
        if t.counters.events_indicated != c.events_seen {
            return Err(bad_value(
                "target.counters",
                "events indicated are not the events seen",
            ));
        }
        Ok(())
    }

    /// A connection's flags say what its queues and the events hold: a FIN waits only
    /// behind buffered bytes, bytes take the non-offload path only while its I/O is stopped,
    /// its upload is requested exactly while a mandatory request of this offload waits, and a
    /// neighbor's query is outstanding only while one of this offload waits.
    fn check_connection_flags(&self) -> Result<()> {
        let t = &self.target;
        let mut requested = std::collections::HashSet::new();
        let mut queried = std::collections::HashSet::new();
        for event in self
            .events
            .iter()
            .filter(|e| e.offload.is_some() && self.event_is_current(e))
        {
            let Some(raw) = event.handle else { continue };
            match event.kind {
                EventKind::UploadRequested
                    if event
                        .reason
                        .and_then(UploadReason::from_u8)
                        .is_some_and(UploadReason::is_mandatory) =>
                {
                    requested.insert(raw);
                }
                EventKind::NeighborReachabilityQuery => {
                    queried.insert(raw);
                }
                _ => {}
            }
        }
        for (context, _, tcp) in t.tcps.iter() {
            let raw = tcp.host.raw();
            if tcp.fin_pending && t.received.get(&context).is_none_or(Vec::is_empty) {
                let problem = format!("{raw:#018x} waits for buffered bytes it has not");
                return Err(bad_value("target_tcp.fin_pending", problem));
            }
            if t.non_offload.contains_key(&context) && !t.io_stopped(context) {
                let problem = format!("{raw:#018x}: the connection's I/O is not stopped");
                return Err(bad_value("non_offload.handle", problem));
            }
            if tcp.upload_requested != requested.contains(&raw) {
                let problem = "differs from the upload requests queued";
                return Err(bad_value("target_tcp.upload_requested", problem));
            }
        }
        if t.neighbors
            .iter()
            .any(|(_, _, n)| n.query_pending && !queried.contains(&n.host.raw()))
        {
            let problem = "a query is outstanding with none queued";
            return Err(bad_value("target_neighbor.query_pending", problem));
        }
        Ok(())
    }

    fn restore_policy(&mut self, columns: &Columns) -> Result<()> {
        let p = columns.exact("policy", 5, Columns::u64s)?;
        let bool_at = |i: usize| match p[i] {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(bad_value("policy", format!("flag {v} (0 or 1)"))),
        };
        let decline: Vec<Value> = (0..16)
            .filter(|bit| p[1] >> bit & 1 == 1)
            .map(Value::Int)
            .collect();
        if p[1] >> 16 != 0 {
            return Err(bad_value("policy", "a decline mask beyond 16 bits"));
        }
        let per_call = match p[2] {
            NONE_U64 => None,
            n => Some(i64::try_from(n).unwrap_or(-1)),
        };
        let rules = read_rules(columns)?;
        let (accept, link_down) = (bool_at(3)?, bool_at(4)?);
        self.policy.release_unreferenced = bool_at(0)?;
        in_column(
            "policy",
            self.set_policy(&decline, per_call, accept, link_down, rules),
        )
    }

    /// The neighbors, in row order: the arena, the roots and their states.
    fn restore_neighbors(&mut self, columns: &Columns) -> Result<Rows> {
        let handles = columns.u64s("neighbor.handle")?;
        let n = handles.len();
        let macs = rows("neighbor.mac", columns.u64s("neighbor.mac")?, n)?;
        let sources = rows(
            "neighbor.source_mac",
            columns.u64s("neighbor.source_mac")?,
            n,
        )?;
        let vlans = rows("neighbor.vlan_id", columns.u16s("neighbor.vlan_id")?, n)?;
        let host = rows(
            "neighbor.host_reachability_delta",
            columns.u32s("neighbor.host_reachability_delta")?,
            n,
        )?;
        let nic = rows(
            "neighbor.nic_reachability_delta",
            columns.u32s("neighbor.nic_reachability_delta")?,
            n,
        )?;
        let (placed, rows_by) = self.place(columns, Layer::Neighbor, handles, |row, _| {
            let source_mac = match sources[row] {
                NONE_U64 => None,
                value => Some(mac("neighbor.source_mac", value)?),
            };
            let state = NeighborState {
                source_mac,
                vlan_id: in_column(
                    "neighbor.vlan_id",
                    crate::model::check_vlan(i128::from(vlans[row])),
                )?,
                mac: mac("neighbor.mac", macs[row])?,
                host_reachability_delta: host[row],
                nic_reachability_delta: nic[row],
            };
            Ok(Neighbor {
                state,
                paths: Vec::new(),
                context: NO_CONTEXT,
                refs: 0,
            })
        })?;
        self.host.neighbors = placed;
        self.host.roots = handles.iter().map(|&raw| Handle::from_raw(raw)).collect();
        Ok(rows_by)
    }

    fn restore_paths(&mut self, columns: &Columns, neighbors: &Rows) -> Result<Rows> {
        let handles = columns.u64s("path.handle")?;
        let n = handles.len();
        let parents = rows("path.neighbor", columns.u64s("path.neighbor")?, n)?;
        let families = rows("path.family", columns.u8s("path.family")?, n)?;
        if let Some(row) = families.iter().position(|&f| f != 4 && f != 6) {
            let problem = format!("row {row}: IP family {} (4 or 6)", families[row]);
            return Err(bad_value("path.family", problem));
        }
        let sources = rows("path.source", columns.u8s("path.source")?, n * 16)?;
        let destinations = rows("path.destination", columns.u8s("path.destination")?, n * 16)?;
        let mtus = rows("path.path_mtu", columns.u16s("path.path_mtu")?, n)?;
        parent_order("path.neighbor", parents, neighbors)?;
        let (placed, rows_by) = self.place(columns, Layer::Path, handles, |row, _| {
            let at = row * 16..row * 16 + 16;
            let source = ip("path.source", families[row], &sources[at.clone()])?;
            let destination = ip("path.destination", families[row], &destinations[at])?;
            Ok(Path {
                neighbor: Handle::from_raw(parents[row]),
                state: in_column(
                    "path.path_mtu",
                    PathState::new(source, destination, i128::from(mtus[row])),
                )?,
                tcps: Vec::new(),
                context: NO_CONTEXT,
                refs: 0,
            })
        })?;
        self.host.paths = placed;
        for (row, &raw) in handles.iter().enumerate() {
            self.host
                .neighbor_mut(Handle::from_raw(parents[row]))
                .paths
                .push(Handle::from_raw(raw));
        }
        let slots: Vec<u32> = handles
            .iter()
            .map(|&raw| Handle::from_raw(raw).slot())
            .collect();
        in_column(
            "path.destination",
            self.host.index_paths(&slots, &self.budget),
        )?;
        Ok(rows_by)
    }

    fn restore_tcps(&mut self, columns: &Columns, paths: &Rows) -> Result<(Vec<Handle>, Rows)> {
        let handles = columns.u64s("tcp.handle")?;
        let n = handles.len();
        let parents = rows("tcp.path", columns.u64s("tcp.path")?, n)?;
        let locals = rows("tcp.local_port", columns.u16s("tcp.local_port")?, n)?;
        let remotes = rows("tcp.remote_port", columns.u16s("tcp.remote_port")?, n)?;
        parent_order("tcp.path", parents, paths)?;
        let (placed, tcp_rows) = self.place(columns, Layer::Tcp, handles, |row, _| {
            Ok(Tcp {
                path: Handle::from_raw(parents[row]),
                context: NO_CONTEXT,
                local_port: locals[row],
                remote_port: remotes[row],
            })
        })?;
        self.host.tcps = placed;
        let tcps: Vec<Handle> = handles.iter().map(|&raw| Handle::from_raw(raw)).collect();
        for (row, &h) in tcps.iter().enumerate() {
            self.host
                .path_mut(Handle::from_raw(parents[row]))
                .tcps
                .push(h);
        }
        let changed = read_states(columns, &tcps, locals, remotes)?;
        let changed_slots: Vec<u32> = changed.iter().map(|&(row, _)| tcps[row].slot()).collect();
        let states: Vec<TcpState> = changed.into_iter().map(|(_, state)| state).collect();
        self.host
            .restore_tcp_states(&changed_slots, &states, &self.budget)?;
        let slots: Vec<u32> = tcps.iter().map(|h| h.slot()).collect();
        in_column(
            "tcp.remote_port",
            self.host.index_tcps(&slots, &self.budget),
        )?;
        Ok((tcps, tcp_rows))
    }

    /// Checks a layer's handles against its arena columns and places one object per row.
    fn place<T>(
        &self,
        columns: &Columns,
        layer: Layer,
        handles: &[u64],
        mut make: impl FnMut(usize, Handle) -> Result<T>,
    ) -> Result<(Arena<T>, Rows)> {
        let name = layer.name();
        let generations_name = format!("{name}.generations");
        let free_name = format!("{name}.free");
        let handle_name = format!("{name}.handle");
        let generations = columns.u16s(&generations_name)?;
        if let Some(slot) = generations.iter().position(|&g| g > GENERATION_LIMIT) {
            let problem = format!(
                "slot {slot} has generation {} (at most 16384: retired)",
                generations[slot]
            );
            return Err(bad_value(&generations_name, problem));
        }
        let free = columns.u32s(&free_name)?;
        let mut values: Vec<Option<T>> = Vec::new();
        values.resize_with(generations.len(), || None);
        let mut rows = Rows::new(generations.len());
        rows.handles = handles.to_vec();
        for (row, &raw) in handles.iter().enumerate() {
            let h = Handle::from_raw(raw);
            let slot = h.slot() as usize;
            let fits = h.tree() == self.host.id()
                && h.layer() == Some(layer)
                && generations.get(slot) == Some(&h.generation());
            if !fits {
                return Err(bad_value(
                    &handle_name,
                    format!("row {row} is not a live {name} of this tree: {raw:#018x}"),
                ));
            }
            if values[slot].is_some() {
                return Err(bad_value(
                    &handle_name,
                    format!("row {row} repeats slot {slot}"),
                ));
            }
            values[slot] = Some(make(row, h)?);
            rows.by_slot[slot] = row as u32;
        }
        let arena =
            Arena::from_parts(generations, values, free).map_err(|(is_free, problem)| {
                bad_value(
                    if is_free {
                        &free_name
                    } else {
                        &generations_name
                    },
                    problem,
                )
            })?;
        Ok((arena, rows))
    }

    /// Gives every offloaded object a target context, parents first, with the target's
    /// copies of its state.
    fn restore_offloads(
        &mut self,
        columns: &Columns,
        tcps: &[Handle],
        by_row: &Rows,
    ) -> Result<()> {
        check_offloaded_parents(columns)?;
        let neighbor_rows = offloaded_rows(columns, "neighbor")?;
        let n = neighbor_rows.len();
        let macs = rows(
            "target_neighbor.mac",
            columns.u64s("target_neighbor.mac")?,
            n,
        )?;
        let host = rows(
            "target_neighbor.host_reachability_delta",
            columns.u32s("target_neighbor.host_reachability_delta")?,
            n,
        )?;
        let nic = rows(
            "target_neighbor.nic_reachability_delta",
            columns.u32s("target_neighbor.nic_reachability_delta")?,
            n,
        )?;
        let invalid = rows(
            "target_neighbor.invalid",
            columns.u8s("target_neighbor.invalid")?,
            n,
        )?;
        let pending = rows(
            "target_neighbor.query_pending",
            columns.u8s("target_neighbor.query_pending")?,
            n,
        )?;
        let roots = self.host.roots.clone();
        for (i, &row) in neighbor_rows.iter().enumerate() {
            let h = roots[row];
            // An update writes the host's and the target's copy together: they are equal.
            let own = mac("target_neighbor.mac", macs[i])?;
            if own != self.host.neighbor(h).state.mac {
                let problem = format!("row {i} differs from the host's MAC");
                return Err(bad_value("target_neighbor.mac", problem));
            }
            let context = self.target.add_neighbor(TargetNeighbor {
                host: h,
                mac: own,
                host_reachability_delta: host[i],
                nic_reachability_delta: nic[i],
                invalid: false,
                query_pending: flag("target_neighbor.query_pending", pending[i])?,
            });
            self.host.set_context(h, context);
            self.mark_invalid(
                Layer::Neighbor,
                context,
                "target_neighbor.invalid",
                invalid[i],
            )?;
        }
        let path_handles: Vec<Handle> = columns
            .u64s("path.handle")?
            .iter()
            .map(|&raw| Handle::from_raw(raw))
            .collect();
        let path_rows = offloaded_rows(columns, "path")?;
        let n = path_rows.len();
        let mtus = rows(
            "target_path.path_mtu",
            columns.u16s("target_path.path_mtu")?,
            n,
        )?;
        let invalid = rows(
            "target_path.invalid",
            columns.u8s("target_path.invalid")?,
            n,
        )?;
        for (i, &row) in path_rows.iter().enumerate() {
            let h = path_handles[row];
            let parent = self.host.path(h).neighbor;
            let neighbor = self.offloaded_parent("path.offloaded", row, parent)?;
            let path_mtu = mtus[i];
            if path_mtu != self.host.path(h).state.path_mtu {
                let problem = format!("row {i} differs from the host's path MTU");
                return Err(bad_value("target_path.path_mtu", problem));
            }
            let context = self.target.add_path(TargetPath {
                host: h,
                neighbor,
                path_mtu,
                invalid: false,
            });
            self.host.set_context(h, context);
            self.mark_invalid(Layer::Path, context, "target_path.invalid", invalid[i])?;
        }
        let tcp_rows = offloaded_rows(columns, "tcp")?;
        let n = tcp_rows.len();
        let invalid = rows("target_tcp.invalid", columns.u8s("target_tcp.invalid")?, n)?;
        let requested = rows(
            "target_tcp.upload_requested",
            columns.u8s("target_tcp.upload_requested")?,
            n,
        )?;
        let fin = rows(
            "target_tcp.fin_pending",
            columns.u8s("target_tcp.fin_pending")?,
            n,
        )?;
        for (i, &row) in tcp_rows.iter().enumerate() {
            let h = tcps[row];
            let parent = self.host.tcp(h).path;
            let path = self.offloaded_parent("tcp.offloaded", row, parent)?;
            let mut record = TargetTcp::new(h, path);
            record.upload_requested = flag("target_tcp.upload_requested", requested[i])?;
            record.fin_pending = flag("target_tcp.fin_pending", fin[i])?;
            let context = self.target.add_tcp(record);
            self.host.set_context(h, context);
            self.mark_invalid(Layer::Tcp, context, "target_tcp.invalid", invalid[i])?;
        }
        self.restore_diverged(columns, by_row)
    }

    fn mark_invalid(&mut self, layer: Layer, context: u32, name: &str, value: u8) -> Result<()> {
        if flag(name, value)? {
            self.target.set_invalid(layer, context, true);
        }
        Ok(())
    }

    /// The context of `parent`, which must be offloaded since row `row` is.
    fn offloaded_parent(&self, name: &str, row: usize, parent: Handle) -> Result<u32> {
        match self.host.context(parent) {
            NO_CONTEXT => Err(bad_value(
                name,
                format!("row {row} is offloaded but the object it depends on is not"),
            )),
            context => Ok(context),
        }
    }

    /// The target's live delegated state of connections where it moved on from the host's.
    fn restore_diverged(&mut self, columns: &Columns, tcps: &Rows) -> Result<()> {
        let handles = columns.u64s("target_delegated.handle")?;
        let rows_of = self.connection_rows("target_delegated.handle", handles, tcps, true)?;
        let specs = TcpDelegated::SPECS;
        let names: Vec<String> = specs
            .iter()
            .map(|spec| format!("target_delegated.{}", spec.name))
            .collect();
        let mut values = Vec::with_capacity(specs.len());
        for name in &names {
            values.push(rows(name, columns.u64s(name)?, handles.len())?);
        }
        for (i, &row) in rows_of.iter().enumerate() {
            let h = Handle::from_raw(tcps.handles[row]);
            let mut live = TcpDelegated::default();
            for (index, (spec, column)) in specs.iter().zip(&values).enumerate() {
                live.set(
                    index,
                    in_column(&names[index], spec.check(i128::from(column[i])))?,
                );
            }
            let host = *self.host.tcp_delegated(h);
            if live == host {
                let problem = format!("row {i} equals the host's copy");
                return Err(bad_value("target_delegated.handle", problem));
            }
            let context = self.host.context(h);
            *self.target.delegated_mut(context, &host) = live;
        }
        Ok(())
    }

    /// Rows (in `tcps`) of the connections a table names: strictly in row order, each live
    /// and, when `offloaded`, offloaded.
    fn connection_rows(
        &self,
        name: &str,
        handles: &[u64],
        tcps: &Rows,
        offloaded: bool,
    ) -> Result<Vec<usize>> {
        let mut out = Vec::with_capacity(handles.len());
        for (i, &raw) in handles.iter().enumerate() {
            let Some(row) = tcps.of(raw) else {
                return Err(bad_value(
                    name,
                    format!("row {i} names no connection: {raw:#018x}"),
                ));
            };
            if out.last().is_some_and(|&last| last >= row) {
                return Err(bad_value(
                    name,
                    format!("row {i} is out of connection order"),
                ));
            }
            if offloaded && self.host.context(Handle::from_raw(raw)) == NO_CONTEXT {
                return Err(bad_value(
                    name,
                    format!("row {i} names a connection not offloaded"),
                ));
            }
            out.push(row);
        }
        Ok(out)
    }

    /// Bytes and queues of the connections: target-held, parked and delivered bytes, send
    /// queues and receive requests.
    fn restore_connection_data(&mut self, columns: &Columns, tcps: &Rows) -> Result<()> {
        for table in ["received", "non_offload", "delivered"] {
            let offloaded = table != "delivered";
            for (raw, bytes) in self.byte_table(columns, table, tcps, offloaded)? {
                match table {
                    "delivered" => {
                        self.delivered.insert(raw, bytes);
                    }
                    _ => {
                        let context = self.host.context(Handle::from_raw(raw));
                        let map = match table {
                            "received" => &mut self.target.received,
                            _ => &mut self.target.non_offload,
                        };
                        map.insert(context, bytes);
                    }
                }
            }
        }
        self.restore_sends(columns, tcps)?;
        self.restore_posted(columns, tcps)
    }

    /// `{table}.handle`, `.length` and `.data`, checked, as (handle, bytes) pairs.
    fn byte_table(
        &self,
        columns: &Columns,
        table: &str,
        tcps: &Rows,
        offloaded: bool,
    ) -> Result<Vec<(u64, Vec<u8>)>> {
        let handle_name = format!("{table}.handle");
        let length_name = format!("{table}.length");
        let handles = columns.u64s(&handle_name)?;
        let lengths = rows(&length_name, columns.u64s(&length_name)?, handles.len())?;
        let data_name = format!("{table}.data");
        let data = columns.u8s(&data_name)?;
        self.connection_rows(&handle_name, handles, tcps, offloaded)?;
        let pieces = split(&data_name, data, lengths, false)?;
        Ok(handles
            .iter()
            .copied()
            .zip(pieces.into_iter().map(<[u8]>::to_vec))
            .collect())
    }

    fn restore_sends(&mut self, columns: &Columns, tcps: &Rows) -> Result<()> {
        let handles = columns.u64s("send.handle")?;
        let n = handles.len();
        self.connection_rows("send.handle", handles, tcps, true)?;
        let unsent = rows("send.unsent", columns.u64s("send.unsent")?, n)?;
        let fins = rows("send.fin", columns.u8s("send.fin")?, n)?;
        let lengths = rows("send.length", columns.u64s("send.length")?, n)?;
        let data = split("send.data", columns.u8s("send.data")?, lengths, true)?;
        let run_counts = rows("send.runs", columns.u32s("send.runs")?, n)?;
        let request_counts = rows("send.requests", columns.u32s("send.requests")?, n)?;
        let run_lengths = columns.u64s("send_run.length")?;
        let runs = counted("send_run.length", run_lengths.len(), run_counts)?;
        let run_kinds = rows(
            "send_run.kind",
            columns.u8s("send_run.kind")?,
            run_lengths.len(),
        )?;
        let remaining = columns.u64s("send_request.remaining")?;
        let requests = counted("send_request.remaining", remaining.len(), request_counts)?;
        for i in 0..n {
            let pairs: Vec<(u64, u8)> = runs[i]
                .clone()
                .map(|r| (run_lengths[r], run_kinds[r]))
                .collect();
            let h = Handle::from_raw(handles[i]);
            let context = self.host.context(h);
            let in_flight = self.target.in_flight(context, self.host.tcp_delegated(h));
            let queue = SendQueue::from_parts(
                data[i],
                (unsent[i], fins[i]),
                &pairs,
                &remaining[requests[i].clone()],
                u64::from(in_flight),
            )
            .map_err(|(name, problem)| bad_value(name, format!("row {i}: {problem}")))?;
            if queue.is_empty() {
                return Err(bad_value(
                    "send.handle",
                    format!("row {i} is an empty queue"),
                ));
            }
            let context = self.host.context(Handle::from_raw(handles[i]));
            self.target.sends.insert(context, queue);
        }
        Ok(())
    }

    fn restore_posted(&mut self, columns: &Columns, tcps: &Rows) -> Result<()> {
        let handles = columns.u64s("posted.handle")?;
        let n = handles.len();
        self.connection_rows("posted.handle", handles, tcps, true)?;
        let counts = rows("posted.requests", columns.u32s("posted.requests")?, n)?;
        if let Some(row) = counts.iter().position(|&c| c == 0) {
            return Err(bad_value(
                "posted.requests",
                format!("row {row} holds no request"),
            ));
        }
        let deadlines = rows(
            "posted.push_deadline",
            columns.u64s("posted.push_deadline")?,
            n,
        )?;
        let sizes = columns.u32s("posted_request.size")?;
        let m = sizes.len();
        let spans = counted("posted_request.size", m, counts)?;
        let push = rows(
            "posted_request.push",
            columns.u8s("posted_request.push")?,
            m,
        )?;
        let lengths = rows(
            "posted_request.length",
            columns.u64s("posted_request.length")?,
            m,
        )?;
        let data = split(
            "posted_request.data",
            columns.u8s("posted_request.data")?,
            lengths,
            true,
        )?;
        for i in 0..n {
            let mut requests = Vec::with_capacity(spans[i].len());
            for r in spans[i].clone() {
                requests.push((
                    sizes[r],
                    flag("posted_request.push", push[r])?,
                    data[r].to_vec(),
                ));
            }
            let deadline = (deadlines[i] != NONE_U64).then_some(deadlines[i]);
            let posted = ReceiveRequests::from_parts(requests, deadline)
                .map_err(|(name, problem)| bad_value(name, format!("row {i}: {problem}")))?;
            let context = self.host.context(Handle::from_raw(handles[i]));
            self.target.posted.insert(context, posted);
        }
        Ok(())
    }

    /// The target's own values: its generator, flags, counters, statistics, clock, faults.
    fn restore_target(&mut self, columns: &Columns) -> Result<()> {
        let (t, host) = (&mut self.target, &self.host);
        t.set_rng_state(columns.exact("target.rng", 1, Columns::u64s)?[0]);
        t.paused = flag(
            "target.paused",
            columns.exact("target.paused", 1, Columns::u8s)?[0],
        )?;
        t.upload_all = flag(
            "target.upload_all",
            columns.exact("target.upload_all", 1, Columns::u8s)?[0],
        )?;
        if t.upload_all && !t.paused {
            return Err(bad_value(
                "target.upload_all",
                "an upload-all pauses the target",
            ));
        }
        let counters = columns.exact("target.counters", 15, Columns::u64s)?;
        t.counters = target_counters_from(&mut counters.iter().copied())
            .ok_or_else(|| bad_value("target.counters", "a value beyond its counter"))?;
        let stats = columns.exact("target.offload_stats", 34, Columns::u64s)?;
        let mut values = stats.iter().copied();
        for family in 0..2 {
            t.offload_stats[family] = offload_stats_from(&mut values)
                .ok_or_else(|| bad_value("target.offload_stats", "a value beyond its counter"))?;
            if t.offload_stats[family].tcp.currently_established != 0 {
                let problem = "currently_established is counted when read: 0";
                return Err(bad_value("target.offload_stats", problem));
            }
        }
        let clock = columns.exact("clock", 3, Columns::u64s)?;
        in_column(
            "clock",
            t.clock
                .configure(i128::from(clock[1]), i128::from(clock[2])),
        )?;
        t.clock.now = clock[0];
        let operations = columns.u8s("fault.operation")?;
        let handles = rows(
            "fault.handle",
            columns.u64s("fault.handle")?,
            operations.len(),
        )?;
        let statuses = rows(
            "fault.status",
            columns.u8s("fault.status")?,
            operations.len(),
        )?;
        let mut last = None;
        for i in 0..operations.len() {
            let key = (operations[i], handles[i]);
            if last.is_some_and(|last| last >= key) {
                return Err(bad_value(
                    "fault.handle",
                    format!("row {i} is out of order"),
                ));
            }
            last = Some(key);
            let operation = Operation::from_u8(operations[i]).ok_or_else(|| {
                bad_value("fault.operation", format!("operation {}", operations[i]))
            })?;
            let status = Status::from_u8(statuses[i])
                .filter(|&s| operation.can_fail_with(s))
                .ok_or_else(|| bad_value("fault.status", format!("status {}", statuses[i])))?;
            if !host.contains(handles[i]) {
                let problem = format!("row {i} names no live object: {:#018x}", handles[i]);
                return Err(bad_value("fault.handle", problem));
            }
            t.faults.insert((operation, handles[i]), status);
        }
        let corrupt = columns.u64s("corrupt.handle")?;
        increasing("corrupt.handle", corrupt)?;
        t.corrupt = corrupt.iter().copied().collect();
        self.check_gauges()
    }

    /// The target's gauges among its counters must say what it holds.
    fn check_gauges(&self) -> Result<()> {
        let t = &self.target;
        let sum = |map: &HashMap<u32, Vec<u8>>| map.values().map(|v| v.len() as u64).sum::<u64>();
        let gauges = [
            (
                "bytes_buffered",
                t.counters.bytes_buffered,
                sum(&t.received),
            ),
            (
                "bytes_non_offload",
                t.counters.bytes_non_offload,
                sum(&t.non_offload),
            ),
            (
                "bytes_send_queued",
                t.counters.bytes_send_queued,
                t.sends.values().map(|q| q.parts().data.len() as u64).sum(),
            ),
            (
                "bytes_placed",
                t.counters.bytes_placed,
                t.posted.values().map(|p| p.placed() as u64).sum(),
            ),
        ];
        for (gauge, said, held) in gauges {
            if said != held {
                return Err(bad_value(
                    "target.counters",
                    format!("{gauge} says {said}, the columns hold {held}"),
                ));
            }
        }
        Ok(())
    }

    fn restore_events(&mut self, columns: &Columns) -> Result<()> {
        let kinds = columns.u8s("event.kind")?;
        let n = kinds.len();
        let handles = rows("event.handle", columns.u64s("event.handle")?, n)?;
        let reasons = rows("event.reason", columns.u8s("event.reason")?, n)?;
        let sizes = rows("event.size", columns.u64s("event.size")?, n)?;
        let offloads = rows("event.offload", columns.u8s("event.offload")?, n)?;
        let generations = Layer::ALL.map(|layer| match layer {
            Layer::Neighbor => self.host.neighbors.generations(),
            Layer::Path => self.host.paths.generations(),
            Layer::Tcp => self.host.tcps.generations(),
        });
        for i in 0..n {
            let kind = *EventKind::ALL
                .get(usize::from(kinds[i]))
                .ok_or_else(|| bad_value("event.kind", format!("event kind {}", kinds[i])))?;
            let handle = (handles[i] != NONE_U64).then_some(handles[i]);
            self.check_event_fields(
                i,
                kind,
                handle,
                (reasons[i], sizes[i], offloads[i]),
                &generations,
            )?;
            let reason = match reasons[i] {
                NONE_U8 => None,
                code => Some(
                    UploadReason::from_u8(code)
                        .ok_or_else(|| bad_value("event.reason", format!("upload reason {code}")))?
                        as u8,
                ),
            };
            let size = match sizes[i] {
                NONE_U64 => None,
                size => Some(
                    u32::try_from(size)
                        .map_err(|_| bad_value("event.size", format!("size {size}")))?,
                ),
            };
            let offload = match (offloads[i], handle) {
                (0, _) => None,
                (1, Some(raw))
                    if self.host.contains(raw) && self.host.is_offloaded(Handle::from_raw(raw)) =>
                {
                    Some(self.offload_of(Handle::from_raw(raw)))
                }
                (2, Some(_)) => Some(STALE_OFFLOAD),
                (code, _) => {
                    return Err(bad_value(
                        "event.offload",
                        format!("row {i}: code {code} for this handle"),
                    ))
                }
            };
            self.events.push_back(Event {
                kind,
                handle,
                reason,
                size,
                offload,
            });
        }
        self.check_connection_flags()?;
        let pending = columns.u64s("invalid_pending.handle")?;
        increasing("invalid_pending.handle", pending)?;
        let requested: std::collections::HashSet<u64> = self
            .events
            .iter()
            .filter(|e| e.kind == EventKind::UploadRequested)
            .filter(|e| e.reason == Some(UploadReason::InvalidState as u8))
            .filter_map(|e| e.handle)
            .collect();
        if let Some(row) = pending.iter().position(|h| !requested.contains(h)) {
            let problem = format!("row {row} has no INVALID_STATE upload request queued");
            return Err(bad_value("invalid_pending.handle", problem));
        }
        self.invalid_pending = pending.iter().copied().collect();
        Ok(())
    }

    /// The fields an event of `kind` carries, and only those: the object it names (of the
    /// layer its kind names, and one this tree made at some point), a reason for an upload
    /// request, a size for a send-backlog change.
    fn check_event_fields(
        &self,
        row: usize,
        kind: EventKind,
        handle: Option<u64>,
        (reason, size, offload): (u8, u64, u8),
        generations: &[Vec<u16>; 3],
    ) -> Result<()> {
        let layer = match kind {
            EventKind::UploadAll | EventKind::OffloadResume | EventKind::OffloadPause => None,
            EventKind::NeighborReachabilityQuery => Some(Layer::Neighbor),
            _ => Some(Layer::Tcp),
        };
        let issued = |raw: u64, layer: Layer| {
            let h = Handle::from_raw(raw);
            let live = self.host.contains(raw);
            let at = generations[layer.index()].get(h.slot() as usize);
            h.tree() == self.host.id()
                && h.layer() == Some(layer)
                && at.is_some_and(|&g| h.generation() < g || (h.generation() == g && live))
        };
        let named = match (layer, handle) {
            (None, None) => offload == 0,
            (Some(layer), Some(raw)) => issued(raw, layer),
            _ => false,
        };
        if !named {
            let problem = format!(
                "row {row}: a {} event names no object it could",
                kind.name()
            );
            return Err(bad_value("event.handle", problem));
        }
        if (reason != NONE_U8) != (kind == EventKind::UploadRequested) {
            let problem = format!("row {row}: only an upload request has a reason, and it must");
            return Err(bad_value("event.reason", problem));
        }
        if (size != NONE_U64) != (kind == EventKind::SendBacklogChange) {
            let problem = format!("row {row}: only a send-backlog change has a size, and it must");
            return Err(bad_value("event.size", problem));
        }
        Ok(())
    }
}

fn checked_sum(values: &[u64]) -> Option<u64> {
    values.iter().try_fold(0u64, |sum, &v| sum.checked_add(v))
}

/// An offload id no live context has: the event was about an earlier offload.
const STALE_OFFLOAD: u64 = u64::MAX;

/// An offloaded path's neighbor and an offloaded connection's path are offloaded, checked on
/// the flags alone, before any target table is read.
fn check_offloaded_parents(columns: &Columns) -> Result<()> {
    let mut offloaded = std::collections::HashSet::new();
    for (table, parent) in [
        ("neighbor", None),
        ("path", Some("path.neighbor")),
        ("tcp", Some("tcp.path")),
    ] {
        let handles = columns.u64s(&format!("{table}.handle"))?;
        let name = format!("{table}.offloaded");
        let flags = rows(&name, columns.u8s(&name)?, handles.len())?;
        let parents = match parent {
            Some(parent) => Some(rows(parent, columns.u64s(parent)?, handles.len())?),
            None => None,
        };
        for (row, (&raw, &value)) in handles.iter().zip(flags).enumerate() {
            if !flag(&name, value)? {
                continue;
            }
            if parents.is_some_and(|p| !offloaded.contains(&p[row])) {
                let problem = format!("row {row} is offloaded but the object it depends on is not");
                return Err(bad_value(&name, problem));
            }
            if table != "tcp" {
                offloaded.insert(raw);
            }
        }
    }
    Ok(())
}

/// The rows of `{table}.offloaded` that are set, checked as flags.
fn offloaded_rows(columns: &Columns, table: &str) -> Result<Vec<usize>> {
    let name = format!("{table}.offloaded");
    let handles = columns.u64s(&format!("{table}.handle"))?;
    let flags = rows(&name, columns.u8s(&name)?, handles.len())?;
    let mut out = Vec::new();
    for (row, &value) in flags.iter().enumerate() {
        if flag(&name, value)? {
            out.push(row);
        }
    }
    Ok(out)
}

/// Checks that each row's parent is a row of the parent table, in walk order: parents'
/// rows never go back, so appending in row order rebuilds every dependents list.
fn parent_order(name: &str, parents: &[u64], parent_rows: &Rows) -> Result<()> {
    let mut last = 0;
    for (row, raw) in parents.iter().enumerate() {
        let Some(at) = parent_rows.of(*raw) else {
            return Err(bad_value(
                name,
                format!("row {row} depends on no live object: {raw:#018x}"),
            ));
        };
        if at < last {
            return Err(bad_value(name, format!("row {row} is out of walk order")));
        }
        last = at;
    }
    Ok(())
}

fn increasing(name: &str, values: &[u64]) -> Result<()> {
    match values.windows(2).position(|w| w[0] >= w[1]) {
        Some(i) => Err(bad_value(
            name,
            format!("row {} is out of order or repeated", i + 1),
        )),
        None => Ok(()),
    }
}

/// Cuts `data` into pieces of `lengths`, which must add up to it; `empty_ok` allows pieces
/// of no bytes.
fn split<'a>(name: &str, data: &'a [u8], lengths: &[u64], empty_ok: bool) -> Result<Vec<&'a [u8]>> {
    let mut out = Vec::with_capacity(lengths.len());
    let mut at = 0usize;
    for (row, &len) in lengths.iter().enumerate() {
        if len == 0 && !empty_ok {
            return Err(bad_value(name, format!("row {row} holds no bytes")));
        }
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| at.checked_add(len))
            .filter(|&end| end <= data.len())
            .ok_or_else(|| {
                bad_value(
                    name,
                    format!("the lengths ask for more than its {} bytes", data.len()),
                )
            })?;
        out.push(&data[at..end]);
        at = end;
    }
    if at != data.len() {
        return Err(bad_value(
            name,
            format!("{} bytes, the lengths add up to {at}", data.len()),
        ));
    }
    Ok(out)
}

/// Index ranges into a child table of `total` rows, `counts[i]` rows for parent row `i`.
fn counted(name: &str, total: usize, counts: &[u32]) -> Result<Vec<std::ops::Range<usize>>> {
    let mut out = Vec::with_capacity(counts.len());
    let mut at = 0usize;
    for &count in counts {
        let end = at + count as usize;
        out.push(at..end.min(total));
        at = end;
    }
    check_length(name, total, at)?;
    Ok(out)
}

/// The variables of the connections whose `tcp_state` row says they changed: (row, state).
/// Every other connection has the defaults with its ports, which take no copy.
fn read_states(
    columns: &Columns,
    tcps: &[Handle],
    locals: &[u16],
    remotes: &[u16],
) -> Result<Vec<(usize, TcpState)>> {
    let changed = columns.u32s("tcp_state.row")?;
    let specs: Vec<_> = fields(Layer::Tcp).collect();
    let names: Vec<String> = specs
        .iter()
        .map(|spec| format!("tcp_state.{}", spec.name))
        .collect();
    let mut values = Vec::with_capacity(specs.len());
    let mut targets = Vec::with_capacity(specs.len());
    for (spec, name) in specs.iter().zip(&names) {
        values.push(rows(name, columns.u64s(name)?, changed.len())?);
        targets
            .push(TcpField::lookup(spec.name).ok_or_else(|| bad_value(name, "no such variable"))?);
    }
    let mut states = Vec::with_capacity(changed.len());
    let mut last = None;
    for (i, &row) in changed.iter().enumerate() {
        let row = row as usize;
        if row >= tcps.len() || last.is_some_and(|last| last >= row) {
            return Err(bad_value(
                "tcp_state.row",
                format!("row {i} names no connection in order"),
            ));
        }
        last = Some(row);
        let defaults = TcpState::with_ports(locals[row], remotes[row]);
        let mut state = defaults;
        for (k, (spec, column)) in specs.iter().zip(&values).enumerate() {
            let value = in_column(&names[k], spec.check(i128::from(column[i])))?;
            state.set(targets[k], value);
        }
        if (state.constant.local_port, state.constant.remote_port) != (locals[row], remotes[row]) {
            return Err(bad_value(
                "tcp_state.local_port",
                format!("row {i} has other ports than its connection"),
            ));
        }
        if state == defaults {
            let problem = format!("row {i} holds the defaults: no row is written then");
            return Err(bad_value("tcp_state.row", problem));
        }
        states.push((row, state));
    }
    Ok(states)
}

fn read_config(columns: &Columns) -> Result<TargetConfig> {
    let limits = columns.exact("target.limits", 5, Columns::u64s)?;
    let set = columns.exact("target.limits_set", 5, Columns::u8s)?;
    let mut values = [None; 5];
    for i in 0..5 {
        values[i] = match (flag("target.limits_set", set[i])?, limits[i]) {
            (true, value) => Some(value),
            (false, NONE_U64) => None,
            (false, _) => {
                return Err(bad_value(
                    "target.limits",
                    format!("limit {i} is unset but holds a value"),
                ))
            }
        };
    }
    let [neighbor_capacity, path_capacity, tcp_capacity, max_path_mtu, max_rcv_window] = values;
    let config = TargetConfig {
        neighbor_capacity,
        path_capacity,
        tcp_capacity,
        max_path_mtu,
        max_rcv_window,
        fail_rate: columns.exact("target.fail_rate", 1, Columns::f64s)?[0],
        seed: columns.exact("target.seed", 1, Columns::u64s)?[0],
    };
    in_column("target.fail_rate", config.validate())?;
    Ok(config)
}

fn read_rules(columns: &Columns) -> Result<Vec<OffloadRule>> {
    let offload = columns.u8s("rule.offload")?;
    let n = offload.len();
    let locals = rows("rule.local_ports", columns.u16s("rule.local_ports")?, 2 * n)?;
    let remotes = rows(
        "rule.remote_ports",
        columns.u16s("rule.remote_ports")?,
        2 * n,
    )?;
    let families = rows("rule.family", columns.u8s("rule.family")?, n)?;
    let destinations = rows("rule.destination", columns.u8s("rule.destination")?, 16 * n)?;
    let prefixes = rows("rule.prefix", columns.u8s("rule.prefix")?, n)?;
    let mut rules = Vec::with_capacity(n);
    for i in 0..n {
        let octets = &destinations[16 * i..16 * i + 16];
        let destination = match families[i] {
            0 if prefixes[i] == 0 && octets.iter().all(|&b| b == 0) => None,
            0 => {
                return Err(bad_value(
                    "rule.destination",
                    format!("rule {i} has no family but an address"),
                ))
            }
            family => Some((ip("rule.destination", family, octets)?, prefixes[i])),
        };
        rules.push(OffloadRule {
            offload: flag("rule.offload", offload[i])?,
            local_ports: (locals[2 * i], locals[2 * i + 1]),
            remote_ports: (remotes[2 * i], remotes[2 * i + 1]),
            destination,
        });
    }
    Ok(rules)
}

fn read_counts(columns: &Columns) -> Result<RunningCounts> {
    let per_operation = 2 + Status::ALL.len();
    let expected = 5 * per_operation + 8 + 3;
    let values = columns.exact("counts", expected, Columns::u64s)?;
    let mut counts = RunningCounts::default();
    let mut it = values.iter().copied();
    {
        let ops = [
            &mut counts.initiate_offload,
            &mut counts.terminate,
            &mut counts.update,
            &mut counts.query,
            &mut counts.invalidate,
        ];
        for op in ops {
            op.requested = it.next().unwrap_or_default();
            op.succeeded = it.next().unwrap_or_default();
            for failed in op.failed.iter_mut() {
                *failed = it.next().unwrap_or_default();
            }
        }
    }
    let tail = running_tail_from(&mut it).ok_or_else(|| bad_value("counts", "too few values"))?;
    counts.bytes_returned = tail.bytes_returned;
    counts.bytes_posted = tail.bytes_posted;
    counts.bytes_send_returned = tail.bytes_send_returned;
    counts.bytes_delivered = tail.bytes_delivered;
    counts.bytes_read = tail.bytes_read;
    counts.bytes_discarded = tail.bytes_discarded;
    counts.events_seen = tail.events_seen;
    counts.events_processed = tail.events_processed;
    for released in counts.released.iter_mut() {
        *released = it.next().unwrap_or_default();
    }
    Ok(counts)
}
