//! `update`: change cached variables on the host copy and, for an offloaded object, on the
//! target; a value the target cannot take makes the host terminate that object
//! (docs/DESIGN.md §8, "update").

use super::types::{Column, Outcome};
use super::{check_length, Engine};
use crate::error;
use crate::host::{layer_of, NO_CONTEXT};
use crate::model::{
    lookup, mac_from_int, FieldKind, Handle, Layer, Mac, Operation, Result, Status, TcpCached,
};

/// A checked update value.
#[derive(Clone, Copy)]
enum Checked {
    Int(u64),
    Mac(Mac),
}

/// What an update hands the target: the values it keeps a copy of, or checks.
#[derive(Clone, Copy)]
enum Pushed {
    Neighbor(Mac, u32),
    PathMtu(u16),
    RcvWindow(u32),
}

/// One column of checked values: the caller's integers when every one is in range for every
/// layer the handles name (the common case: one pass that compilers vectorise, nothing
/// copied), else one checked value per handle.
enum CheckedColumn<'a> {
    Ints(&'a [i64]),
    Each(Vec<Checked>),
}

impl CheckedColumn<'_> {
    fn at(&self, i: usize) -> Checked {
        match self {
            CheckedColumn::Ints(ints) => Checked::Int(ints[i] as u64),
            CheckedColumn::Each(values) => values[i],
        }
    }
}

/// Checks one update column against the handles it goes with.
fn checked_column<'a>(
    name: &str,
    column: &Column<'a>,
    handles: &[Handle],
    layers: &[Layer],
) -> Result<CheckedColumn<'a>> {
    let ranges = Layer::ALL.map(|layer| int_range(layer, name));
    if let Column::Ints(ints) = *column {
        // One range that holds for every layer present, and every value inside it.
        let mut common: Option<(i64, i64)> = None;
        let mut uniform = true;
        for layer in layers {
            match (ranges[layer.index()], common) {
                (Some(range), None) => common = Some(range),
                (Some(range), Some(seen)) if range == seen => {}
                _ => uniform = false,
            }
        }
        if let (true, Some((min, max))) = (uniform, common) {
            if ints.iter().all(|v| (min..=max).contains(v)) {
                return Ok(CheckedColumn::Ints(ints));
            }
        }
    }
    // Values outside the range (and MACs) take the full check, which also words the error.
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
    Ok(CheckedColumn::Each(values))
}

impl Engine {
    /// Changes cached variables of `raws`. Returns one detailed status per handle,
    /// duplicates included (SUCCESS, or why the target refused the values), and what the
    /// refusals made the host terminate.
    pub fn update(
        &mut self,
        raws: &[u64],
        fields: &[(String, Column<'_>)],
    ) -> Result<(Vec<u8>, Outcome)> {
        let names: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
        let (handles, layers) = self.check_update_layers(raws, &names)?;
        for (name, column) in fields {
            check_length(name, handles.len(), column.len(), "handles")?;
        }
        // Check every value before changing anything.
        let values = fields
            .iter()
            .map(|(name, column)| checked_column(name, column, &handles, &layers))
            .collect::<Result<Vec<_>>>()?;

        let mut statuses = vec![Status::Success as u8; handles.len()];
        let mut refused = Vec::new();
        // Objects an injected fault failed: every mention of one in this update fails.
        let mut faulted: Vec<Handle> = Vec::new();
        for (i, &h) in handles.iter().enumerate() {
            let (context, pushed) = self.apply_host(h, &names, values.iter().map(|v| v.at(i)));
            if context != NO_CONTEXT {
                let fault = if self.target.take_fault(Operation::Update, h).is_some() {
                    faulted.push(h);
                    Some(Status::Failure)
                } else if !faulted.is_empty() && faulted.contains(&h) {
                    Some(Status::Failure)
                } else {
                    None
                };
                if let Some(status) = fault.or_else(|| self.apply_target(context, pushed)) {
                    statuses[i] = status as u8;
                    refused.push(h);
                }
            }
        }
        let counter = &mut self.counts.update;
        counter.requested += handles.len() as u64;
        counter.succeeded += (handles.len() - refused.len()) as u64;
        let mut terminated = Outcome::default();
        if !refused.is_empty() {
            for &s in &statuses {
                match Status::from_u8(s) {
                    Some(Status::Success) | None => {}
                    Some(status) => counter.fail(status, 1),
                }
            }
            // The host terminates what the target could not take (docs/NDIS.md, "Update, query,
            // invalidate"), and hands back what the target held: nothing is lost.
            let order = self.host.offloaded_post_order_now(&refused);
            terminated = self.upload(&order);
        }
        Ok((statuses, terminated))
    }

    /// The checks `update` runs before it looks at a value (docs/DESIGN.md §8, check order):
    /// every handle valid; no invalidated object (NDIS "Synchronizing Update Operations": the way
    /// back is terminate and offload again); no constant or delegated name (StateError); no
    /// unknown name (ValidationError). The Python facade also calls it when its own
    /// conversion of the values fails, so that these errors still win.
    pub fn check_update(&self, raws: &[u64], names: &[&str]) -> Result<Vec<Handle>> {
        Ok(self.check_update_layers(raws, names)?.0)
    }

    /// `check_update`, also returning the layers the handles name (found in the same pass
    /// that resolves them).
    fn check_update_layers(
        &self,
        raws: &[u64],
        names: &[&str],
    ) -> Result<(Vec<Handle>, Vec<Layer>)> {
        let (handles, present) = self.resolve_all_layers(raws)?;
        // Most targets hold no invalid mark: then no handle needs a look at its context.
        if self.target.invalid > 0 {
            if let Some(&h) = handles.iter().find(|&&h| self.is_invalidated(h)) {
                return Err(error!(UpdateInvalidated, layer = layer_of(h), handle = h));
            }
        }
        let layers: Vec<Layer> = Layer::ALL
            .into_iter()
            .filter(|l| present[l.index()])
            .collect();
        for name in names {
            for &layer in &layers {
                if let Some(spec) = lookup(layer, name).filter(|s| s.kind != FieldKind::Cached) {
                    return Err(error!(
                        UpdateNotCached,
                        name = name,
                        kind = spec.kind.name(),
                        layer = layer
                    ));
                }
            }
        }
        for name in names {
            for &layer in &layers {
                if lookup(layer, name).is_none() {
                    return Err(error!(UnknownVariable, name = name, layer = layer));
                }
            }
        }
        Ok((handles, layers))
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
                (neighbor.context, pushed)
            }
            Layer::Path => {
                let path = self.host.path_mut(h);
                for value in values {
                    if let Checked::Int(v) = value {
                        path.state.path_mtu = v as u16;
                    }
                }
                (path.context, Pushed::PathMtu(path.state.path_mtu))
            }
            Layer::Tcp => {
                let cached = &mut self.host.tcp_state_mut(h).cached;
                for (name, value) in names.iter().zip(values) {
                    if let Checked::Int(v) = value {
                        cached.set(TcpCached::index_of(name).expect("checked cached name"), v);
                    }
                }
                let window = cached.initial_rcv_wnd;
                (self.host.tcp(h).context, Pushed::RcvWindow(window))
            }
        }
    }

    /// Pushes the host's new cached state to target context `context`; returns the failure
    /// status if the target cannot take the new values.
    fn apply_target(&mut self, context: u32, pushed: Pushed) -> Option<Status> {
        let config = &self.target.config;
        let refusal = match pushed {
            Pushed::Neighbor(..) => None,
            Pushed::PathMtu(mtu) => config
                .max_path_mtu
                .filter(|&m| u64::from(mtu) > m)
                .map(|_| Status::PathMtu),
            Pushed::RcvWindow(window) => config
                .max_rcv_window
                .filter(|&m| u64::from(window) > m)
                .map(|_| Status::TcpRcvWindow),
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
            // The target reads cached variables from the host (target/traffic.rs): nothing to
            // copy.
            Pushed::RcvWindow(_) => {}
        }
        None
    }
}

/// The values `check_update_value` accepts from an int column for `name` on `layer`, when that
/// is a plain range (not for a MAC, nor for a name that is no cached variable of the layer).
fn int_range(layer: Layer, name: &str) -> Option<(i64, i64)> {
    let spec = lookup(layer, name).filter(|s| s.kind == FieldKind::Cached && s.name != "mac")?;
    Some((
        i64::try_from(spec.min).ok()?,
        i64::try_from(spec.max).unwrap_or(i64::MAX),
    ))
}

/// Validates one update value for an object of `layer`.
fn check_update_value(layer: Layer, name: &str, column: &Column<'_>, i: usize) -> Result<Checked> {
    match (layer, name, column) {
        (Layer::Neighbor, "mac", Column::Values(values)) => {
            Ok(Checked::Mac(values[i].to_mac("mac")?))
        }
        (Layer::Neighbor, "mac", Column::Ints(ints)) => {
            Ok(Checked::Mac(mac_from_int(i128::from(ints[i]))?))
        }
        (_, _, Column::Values(values)) => {
            let v = values[i].to_int(name)?;
            check_update_value(layer, name, &Column::Ints(&[clamp_i64(v)]), 0)
        }
        (_, _, Column::Ints(ints)) => {
            let spec = lookup(layer, name).expect("checked cached name");
            Ok(Checked::Int(spec.check(i128::from(ints[i]))?))
        }
    }
}

fn clamp_i64(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}
