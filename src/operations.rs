//! The offload operations between host and target (SPEC §4, DESIGN §8): initiate offload,
//! terminate, update, relink, query and invalidate.

use std::collections::HashMap;

use crate::blocks::{BlockList, ParentTracker};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::handle::{Handle, Layer};
use crate::state::{self, FieldKind, TcpCached, TcpDelegated};
use crate::status::{Status, NO_STATUS};
use crate::target::{TargetNeighbor, TargetPath, TargetTcp, Upload};
use crate::tree::{layer_of, NO_CONTEXT};
use crate::value::Value;

/// Delegated state handed back by terminate or read by query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delegated {
    Neighbor { nic_reachability_delta: u32 },
    Path,
    Tcp(TcpDelegated),
}

impl Delegated {
    /// `(name, value)` pairs in field order (DESIGN §8).
    pub fn fields(&self) -> Vec<(&'static str, u64)> {
        match self {
            Delegated::Neighbor {
                nic_reachability_delta,
            } => vec![("nic_reachability_delta", u64::from(*nic_reachability_delta))],
            Delegated::Path => Vec::new(),
            Delegated::Tcp(d) => TcpDelegated::SPECS
                .iter()
                .enumerate()
                .map(|(i, spec)| (spec.name, d.get(i)))
                .collect(),
        }
    }
}

/// The result of terminate or query, one entry per object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub handles: Vec<u64>,
    pub delegated: Vec<Delegated>,
    /// Received bytes by position in `handles`, for the objects that returned any.
    pub received: HashMap<usize, Vec<u8>>,
    pub total_received: u64,
}

impl Outcome {
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }
}

/// One column of `update` values: integers, or raw values for `mac`.
#[derive(Clone, Debug)]
pub enum Column<'a> {
    Ints(&'a [i64]),
    Values(&'a [Value]),
}

impl Column<'_> {
    fn len(&self) -> usize {
        match self {
            Column::Ints(v) => v.len(),
            Column::Values(v) => v.len(),
        }
    }
}

/// A checked update value.
#[derive(Clone, Copy)]
enum Checked {
    Int(u64),
    Mac(state::Mac),
}

/// What an update hands the target: the values it keeps a copy of, or checks.
#[derive(Clone, Copy)]
enum Pushed {
    Neighbor(state::Mac, u32),
    PathMtu(u16),
    RcvWindow(u32),
}

impl Engine {
    /// Resolves `raws` without duplicates; every object must be offloaded (`StateError`).
    fn resolve_offloaded(&self, raws: &[u64], operation: &str) -> Result<Vec<Handle>> {
        match self.resolve_expecting(raws, true, true)? {
            (_, Some(h)) => Err(Error::state(format!(
                "{} {h} is not offloaded: cannot {operation} it",
                layer_of(h)
            ))),
            (handles, None) => Ok(handles),
        }
    }

    // ---- initiate offload ----

    /// Offloads `raws` with whatever they depend on and returns the processed block list.
    pub fn initiate_offload(&mut self, raws: &[u64]) -> Result<BlockList> {
        let (requested, offloaded) = self.resolve_expecting(raws, false, false)?;
        if let Some(h) = offloaded {
            return Err(Error::state(format!(
                "{} {h} is already offloaded",
                layer_of(h)
            )));
        }
        let (mut list, placement) = BlockList::build_placed(&self.host, &requested);
        let new_blocks = list.referenced.iter().filter(|r| !**r).count() as u64;
        let counter = &mut self.counters.initiate_offload;
        counter.requested += new_blocks;
        if self.target.paused {
            list.statuses.fill(Status::Paused as u8);
            self.counters
                .initiate_offload
                .fail(Status::Paused, new_blocks);
            return Ok(list);
        }
        // Room for every new block up front: one allocation instead of a doubling series that
        // copies the target's store over and over.
        let mut new_per_layer = [0usize; 3];
        for (layer, referenced) in list.layers.iter().zip(&list.referenced) {
            if !referenced {
                new_per_layer[usize::from(*layer)] += 1;
            }
        }
        self.target.reserve(new_per_layer);
        // Decide every block in block order, as the target walks the list: faults, capacity
        // and the random draws follow that order (DESIGN §8).
        let mut admitted = [0usize; 3];
        let mut parents = ParentTracker::default();
        for i in 0..list.len() {
            if let Some(parent) = parents.visit(i, list.depths[i]) {
                let parent_status = list.statuses[parent];
                if Status::from_u8(parent_status).is_some_and(Status::is_failure) {
                    list.statuses[i] = parent_status;
                    continue;
                }
            }
            if list.referenced[i] {
                continue;
            }
            let h = Handle::from_raw(list.handles[i]);
            let layer = layer_of(h);
            let value = self.admission_value(h);
            match self.target.admit(layer, h, value, admitted[layer.index()]) {
                Some(status) => list.statuses[i] = status as u8,
                None => admitted[layer.index()] += 1,
            }
        }
        // Then allocate the admitted ones in order of first mention: parents still come first,
        // and the host's connections are visited in request order (mostly slot order) rather
        // than tree order, in which one path's connections lie far apart in memory.
        for (&h, &at) in placement.handles.iter().zip(&placement.positions) {
            let at = at as usize;
            if !list.referenced[at] && list.statuses[at] == NO_STATUS {
                self.allocate(h);
            }
        }
        list.settle();
        let counter = &mut self.counters.initiate_offload;
        for i in 0..list.len() {
            if list.referenced[i] {
                continue;
            }
            match Status::from_u8(list.statuses[i]) {
                Some(s) if s.is_failure() => counter.fail(s, 1),
                _ => counter.succeeded += 1,
            }
        }
        Ok(list)
    }

    /// Asks the target to take `h` (whose parent, if any, is offloaded). None on success.
    pub(crate) fn offload_one(&mut self, h: Handle) -> Option<Status> {
        let value = self.admission_value(h);
        if let Some(status) = self.target.admit(layer_of(h), h, value, 0) {
            return Some(status);
        }
        self.allocate(h);
        None
    }

    /// The value the target's limit applies to: a path's MTU, a connection's initial receive
    /// window (read only when a limit is set: a connection's state is cold memory).
    fn admission_value(&self, h: Handle) -> u64 {
        match layer_of(h) {
            Layer::Neighbor => 0,
            Layer::Path => u64::from(self.host.path(h).state.path_mtu),
            Layer::Tcp if self.target.config.max_rcv_window.is_some() => {
                u64::from(self.host.tcp_state(h).cached.initial_rcv_wnd)
            }
            Layer::Tcp => 0,
        }
    }

    /// Gives admitted object `h` a target context linked to its parent's (already offloaded).
    fn allocate(&mut self, h: Handle) {
        let context = match layer_of(h) {
            Layer::Neighbor => {
                let s = &self.host.neighbor(h).state;
                self.target.add_neighbor(TargetNeighbor {
                    host: h,
                    mac: s.mac,
                    host_reachability_delta: s.host_reachability_delta,
                    nic_reachability_delta: s.nic_reachability_delta,
                    invalid: false,
                })
            }
            Layer::Path => {
                let path = self.host.path(h);
                let neighbor = self.host.context(path.neighbor);
                debug_assert_ne!(neighbor, NO_CONTEXT);
                let path_mtu = path.state.path_mtu;
                self.target.add_path(TargetPath {
                    host: h,
                    neighbor,
                    path_mtu,
                    invalid: false,
                })
            }
            Layer::Tcp => {
                let path = self.host.context(self.host.tcp(h).path);
                debug_assert_ne!(path, NO_CONTEXT);
                // No state is copied: the target reads the host's frozen snapshot until traffic
                // changes it (copy-on-write, see target.rs).
                self.target.add_tcp(TargetTcp::new(h, path))
            }
        };
        self.host.set_context(h, context);
    }

    // ---- terminate ----

    /// Uploads `raws` and (with `cascade`) their offloaded dependents, dependents first.
    pub fn terminate(&mut self, raws: &[u64], cascade: bool) -> Result<Outcome> {
        let requested = self.resolve_offloaded(raws, "terminate")?;
        let order: Vec<Handle> = self
            .host
            .walk_roots(&requested, true)
            .into_iter()
            .map(Handle::from_raw)
            .filter(|&h| self.host.is_offloaded(h))
            .collect();
        if !cascade && order.len() > requested.len() {
            if let Some((h, child)) = self.first_dependent_outside(&requested, true) {
                return Err(Error::dependency(format!(
                    "{} {child} is offloaded and depends on {} {h}; terminate it too or use cascade=True",
                    layer_of(child),
                    layer_of(h)
                )));
            }
        }
        Ok(self.upload_all(&order))
    }

    /// Uploads objects in the given order (checked by the caller: dependents first).
    pub(crate) fn upload_all(&mut self, order: &[Handle]) -> Outcome {
        let mut outcome = Outcome {
            handles: Vec::with_capacity(order.len()),
            delegated: Vec::with_capacity(order.len()),
            received: HashMap::new(),
            total_received: 0,
        };
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
        self.counters.terminate.requested += n;
        self.counters.terminate.succeeded += n;
        self.counters.bytes_returned += outcome.total_received;
        outcome
    }

    // ---- update and relink ----

    /// Changes cached variables of `raws`; one status per handle (DESIGN §8 "update").
    pub fn update(&mut self, raws: &[u64], fields: &[(String, Column<'_>)]) -> Result<Vec<u8>> {
        let handles = self.resolve_all(raws)?;
        let mut present = [false; 3];
        for &h in &handles {
            present[layer_of(h).index()] = true;
        }
        let layers: Vec<Layer> = Layer::ALL
            .into_iter()
            .filter(|l| present[l.index()])
            .collect();
        // Constant or delegated names first (StateError), then unknown names (ValidationError).
        for (name, _) in fields {
            for &layer in &layers {
                if let Some(kind @ (FieldKind::Constant | FieldKind::Delegated)) =
                    state::kind_of(layer, name)
                {
                    let kind = if kind == FieldKind::Constant {
                        "constant"
                    } else {
                        "delegated"
                    };
                    return Err(Error::state(format!(
                        "cannot update {name:?}: it is a {kind} {} variable (only cached variables can be updated)",
                        layer.name()
                    )));
                }
            }
        }
        for (name, column) in fields {
            for &layer in &layers {
                if state::kind_of(layer, name).is_none() {
                    return Err(Error::validation(format!(
                        "{name:?} is not a variable of a {}",
                        layer.name()
                    )));
                }
            }
            if column.len() != handles.len() {
                return Err(Error::validation(format!(
                    "{name} has {} values for {} handles",
                    column.len(),
                    handles.len()
                )));
            }
        }
        // Check every value before changing anything.
        let mut checked: Vec<Vec<Checked>> = Vec::with_capacity(fields.len());
        for (name, column) in fields {
            // The range of each layer's field is looked up once; values outside it (and MACs)
            // take the full check, which also words the error.
            let ranges = Layer::ALL.map(|layer| int_range(layer, name));
            let mut values = Vec::with_capacity(handles.len());
            for (i, &h) in handles.iter().enumerate() {
                let layer = layer_of(h);
                let value = match (column, ranges[layer.index()]) {
                    (Column::Ints(ints), Some((min, max))) if (min..=max).contains(&ints[i]) => {
                        Checked::Int(ints[i] as u64)
                    }
                    _ => check_update_value(layer, name, column, i)?,
                };
                values.push(value);
            }
            checked.push(values);
        }

        let mut statuses = vec![Status::Success as u8; handles.len()];
        let mut refused = Vec::new();
        let names: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
        for (i, &h) in handles.iter().enumerate() {
            let values = checked.iter().map(|column| column[i]);
            let (context, pushed) = self.apply_host(h, &names, values);
            if context != NO_CONTEXT {
                if let Some(status) = self.apply_target(context, pushed) {
                    statuses[i] = status as u8;
                    refused.push(h);
                }
            }
        }
        if !refused.is_empty() {
            // The host terminates what the target could not take (NET updating-offloaded-state).
            let order: Vec<Handle> = self
                .host
                .walk_roots(&refused, true)
                .into_iter()
                .map(Handle::from_raw)
                .filter(|&h| self.host.is_offloaded(h))
                .collect();
            self.upload_all(&order);
        }
        let counter = &mut self.counters.update;
        counter.requested += handles.len() as u64;
        for &s in &statuses {
            match Status::from_u8(s) {
                Some(Status::Success) => counter.succeeded += 1,
                Some(status) => counter.fail(status, 1),
                None => {}
            }
        }
        Ok(statuses)
    }

    /// Applies checked values to the host copy of `h` (one lookup for all of them); returns
    /// its target context and what the target must take.
    fn apply_host(
        &mut self,
        h: Handle,
        names: &[&str],
        values: impl Iterator<Item = Checked>,
    ) -> (u32, Pushed) {
        match layer_of(h) {
            Layer::Neighbor => {
                let neighbor = self.host.neighbor_mut(h);
                for value in values {
                    match value {
                        Checked::Mac(mac) => neighbor.state.mac = mac,
                        Checked::Int(v) => neighbor.state.host_reachability_delta = v as u32,
                    }
                }
                let s = &neighbor.state;
                let pushed = Pushed::Neighbor(s.mac, s.host_reachability_delta);
                (neighbor.offload, pushed)
            }
            Layer::Path => {
                let path = self.host.path_mut(h);
                for value in values {
                    if let Checked::Int(v) = value {
                        path.state.path_mtu = v as u16;
                    }
                }
                (path.offload, Pushed::PathMtu(path.state.path_mtu))
            }
            Layer::Tcp => {
                let cached = &mut self.host.tcp_states.get_mut(h.slot()).cached;
                for (name, value) in names.iter().zip(values) {
                    if let Checked::Int(v) = value {
                        cached.set(TcpCached::index_of(name).expect("checked cached name"), v);
                    }
                }
                let window = cached.initial_rcv_wnd;
                (self.host.tcp(h).offload, Pushed::RcvWindow(window))
            }
        }
    }

    /// Pushes the host's new cached state to target context `context` and revalidates it;
    /// returns the failure status if the target cannot take the new values.
    fn apply_target(&mut self, context: u32, pushed: Pushed) -> Option<Status> {
        let config = &self.target.config;
        let (layer, refusal) = match pushed {
            Pushed::Neighbor(..) => (Layer::Neighbor, None),
            Pushed::PathMtu(mtu) => (
                Layer::Path,
                config
                    .max_path_mtu
                    .filter(|&m| u64::from(mtu) > m)
                    .map(|_| Status::PathMtu),
            ),
            Pushed::RcvWindow(window) => (
                Layer::Tcp,
                config
                    .max_rcv_window
                    .filter(|&m| u64::from(window) > m)
                    .map(|_| Status::TcpRcvWindow),
            ),
        };
        if refusal.is_some() {
            return refusal;
        }
        match pushed {
            Pushed::Neighbor(mac, host_reachability_delta) => {
                let t = self.target.neighbor_mut(context);
                t.mac = mac;
                t.host_reachability_delta = host_reachability_delta;
            }
            Pushed::PathMtu(mtu) => self.target.path_mut(context).path_mtu = mtu,
            // The target reads cached variables from the host (target.rs): nothing to copy.
            Pushed::RcvWindow(_) => {}
        }
        self.target.set_invalid(layer, context, false);
        None
    }

    /// Moves `path` to `neighbor` (the next hop changed), offloading the neighbor if the path
    /// is offloaded and the neighbor is not.
    pub fn relink(&mut self, path: u64, neighbor: u64) -> Result<()> {
        let p = self.host.resolve(path)?;
        let n = self.host.resolve(neighbor)?;
        let p = self.host.resolve_layer(p.raw(), Layer::Path, "path")?;
        let n = self
            .host
            .resolve_layer(n.raw(), Layer::Neighbor, "neighbor")?;
        if self.host.path(p).neighbor == n {
            return Ok(());
        }
        let path_context = self.host.context(p);
        if path_context != NO_CONTEXT {
            if !self.host.is_offloaded(n) {
                let saved = self.target.admission_state(n);
                let failure = if self.target.paused {
                    Some(Status::Paused)
                } else {
                    self.offload_one(n)
                };
                if let Some(status) = failure {
                    // A failed call changes nothing: not even the fault it hit or the generator.
                    self.target.restore_admission_state(n, saved);
                    return Err(Error::state(format!(
                        "cannot relink offloaded path {p} to {n}: offloading the neighbor failed with {}",
                        status.name()
                    )));
                }
            }
            let neighbor_context = self.host.context(n);
            self.target.path_mut(path_context).neighbor = neighbor_context;
        }
        self.host.relink(p, n);
        Ok(())
    }

    // ---- query and invalidate ----

    /// Reads the target's live delegated state of offloaded objects.
    pub fn query(&mut self, raws: &[u64]) -> Result<Outcome> {
        let handles = self.resolve_offloaded(raws, "query")?;
        let mut outcome = Outcome {
            handles: Vec::with_capacity(handles.len()),
            delegated: Vec::with_capacity(handles.len()),
            received: HashMap::new(),
            total_received: 0,
        };
        for &h in &handles {
            let context = self.host.context(h);
            outcome.handles.push(h.raw());
            outcome.delegated.push(match layer_of(h) {
                Layer::Neighbor => Delegated::Neighbor {
                    nic_reachability_delta: self.target.neighbor(context).nic_reachability_delta,
                },
                Layer::Path => Delegated::Path,
                Layer::Tcp => Delegated::Tcp(
                    *self
                        .target
                        .delegated(context, &self.host.tcp_state(h).delegated),
                ),
            });
        }
        let n = handles.len() as u64;
        self.counters.query.requested += n;
        self.counters.query.succeeded += n;
        Ok(outcome)
    }

    /// Marks offloaded objects invalid; the target asks to upload every connection affected.
    pub fn invalidate(&mut self, raws: &[u64]) -> Result<()> {
        let handles = self.resolve_offloaded(raws, "invalidate")?;
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
                    self.indicate(Event {
                        kind: EventKind::UploadRequested,
                        handle: Some(raw),
                        reason: Some(crate::events::REASON_INVALID_STATE),
                    });
                }
            }
        }
        let n = handles.len() as u64;
        self.counters.invalidate.requested += n;
        self.counters.invalidate.succeeded += n;
        Ok(())
    }

    // ---- traffic ----

    fn offloaded_tcp(&self, raw: u64) -> Result<u32> {
        let h = self.host.resolve(raw)?;
        let h = self.host.resolve_layer(h.raw(), Layer::Tcp, "connection")?;
        match self.host.context(h) {
            NO_CONTEXT => Err(Error::state(format!(
                "connection {h} is not offloaded: the target holds no state for it"
            ))),
            context => Ok(context),
        }
    }

    /// The target receives `data` on connection `raw` and buffers it.
    pub fn target_receive(&mut self, raw: u64, data: &[u8]) -> Result<()> {
        let context = self.offloaded_tcp(raw)?;
        let snapshot = &self.host.tcp_state(Handle::from_raw(raw)).delegated;
        self.target.receive(context, data, snapshot);
        Ok(())
    }

    /// The target sends `nbytes` on connection `raw`; returns the bytes sent (0 if held back).
    pub fn target_send(&mut self, raw: u64, nbytes: &Value) -> Result<u32> {
        let context = self.offloaded_tcp(raw)?;
        let n = state::check_u32("nbytes", nbytes.to_int("nbytes")?)?;
        let snapshot = &self.host.tcp_state(Handle::from_raw(raw)).delegated;
        Ok(self.target.send(context, n, snapshot))
    }

    /// Target copies of an offloaded object are linked by contexts; this reads those links back
    /// as host handles: `(handle, handle of the object its context depends on or 0)`, in walk
    /// pre-order. Invariant 5 says it equals the host's own links.
    pub fn target_links(&self) -> (Vec<u64>, Vec<u64>) {
        let mut handles = Vec::new();
        let mut parents = Vec::new();
        for raw in self.host.walk_all(false) {
            let h = Handle::from_raw(raw);
            let context = self.host.context(h);
            if context == NO_CONTEXT {
                continue;
            }
            let parent = match layer_of(h) {
                Layer::Neighbor => 0,
                Layer::Path => {
                    let n = self.target.path(context).neighbor;
                    self.target.neighbor(n).host.raw()
                }
                Layer::Tcp => {
                    let p = self.target.tcp(context).path;
                    self.target.path(p).host.raw()
                }
            };
            handles.push(raw);
            parents.push(parent);
        }
        (handles, parents)
    }
}

/// The values `check_update_value` accepts from an int column for `name` on `layer`, when that
/// is a plain range (not for a MAC, nor for a name that is no cached variable of the layer).
fn int_range(layer: Layer, name: &str) -> Option<(i64, i64)> {
    let (min, max) = match layer {
        Layer::Neighbor if name == "mac" => return None,
        Layer::Neighbor if state::kind_of(layer, name) == Some(FieldKind::Cached) => {
            (0, u64::from(u32::MAX))
        }
        Layer::Path if state::kind_of(layer, name) == Some(FieldKind::Cached) => {
            (state::MTU_MIN, state::MTU_MAX)
        }
        Layer::Tcp => {
            let spec = &TcpCached::SPECS[TcpCached::index_of(name)?];
            (spec.min, spec.max)
        }
        _ => return None,
    };
    Some((
        i64::try_from(min).ok()?,
        i64::try_from(max).unwrap_or(i64::MAX),
    ))
}

/// Validates one update value for an object of `layer`.
fn check_update_value(layer: Layer, name: &str, column: &Column<'_>, i: usize) -> Result<Checked> {
    match (layer, name, column) {
        (Layer::Neighbor, "mac", Column::Values(values)) => {
            Ok(Checked::Mac(values[i].to_mac("mac")?))
        }
        (Layer::Neighbor, "mac", Column::Ints(ints)) => {
            Ok(Checked::Mac(state::mac_from_int(i128::from(ints[i]))?))
        }
        (_, _, Column::Values(values)) => {
            let v = values[i].to_int(name)?;
            check_update_value(layer, name, &Column::Ints(&[clamp_i64(v)]), 0)
        }
        (Layer::Neighbor, _, Column::Ints(ints)) => Ok(Checked::Int(u64::from(state::check_u32(
            name,
            i128::from(ints[i]),
        )?))),
        (Layer::Path, _, Column::Ints(ints)) => Ok(Checked::Int(u64::from(state::check_mtu(
            i128::from(ints[i]),
        )?))),
        (Layer::Tcp, _, Column::Ints(ints)) => {
            let index = TcpCached::index_of(name).expect("checked cached name");
            let spec = &TcpCached::SPECS[index];
            let value = i128::from(ints[i]);
            if spec.is_bool && !(value == 0 || value == 1) {
                return Err(Error::validation(format!(
                    "{name} must be a bool (0 or 1), got {value}"
                )));
            }
            Ok(Checked::Int(spec.check(value)?))
        }
    }
}

fn clamp_i64(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}
