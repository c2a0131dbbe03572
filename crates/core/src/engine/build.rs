//! Building and pruning the host tree: `add_neighbor(s)`, `add_path(s)`, `add_tcp(s)` and
//! `remove` (docs/DESIGN.md §4, §8). A batch validates every item before it adds any.

use super::types::NeighborArgs;
use super::{check_length, Engine, POLL_EVERY};
use crate::error;
use crate::host::layer_of;
use crate::model::{
    check_port, check_u32, check_vlan, Error, Handle, Layer, NeighborState, PathState, Result,
    TcpField, TcpState, Value, DEFAULT_PATH_MTU,
};

impl Engine {
    fn neighbor_state(args: &NeighborArgs) -> Result<NeighborState> {
        let u32_arg = |name: &str, value: &Value| check_u32(name, value.to_int(name)?);
        Ok(NeighborState {
            mac: args.mac.to_mac("mac")?,
            vlan_id: check_vlan(args.vlan_id.to_int("vlan_id")?)?,
            source_mac: match &args.source_mac {
                None => None,
                Some(v) => Some(v.to_mac("source_mac")?),
            },
            host_reachability_delta: u32_arg(
                "host_reachability_delta",
                &args.host_reachability_delta,
            )?,
            nic_reachability_delta: u32_arg(
                "nic_reachability_delta",
                &args.nic_reachability_delta,
            )?,
        })
    }

    /// Adds a neighbor (a next hop); returns its handle.
    pub fn add_neighbor(&mut self, args: &NeighborArgs) -> Result<u64> {
        let state = Self::neighbor_state(args)?;
        self.reserve_for(Layer::Neighbor, 1, &[])?;
        Ok(self.host.insert_neighbor(state).raw())
    }

    /// Adds neighbors with the given MACs (and VLAN ids, else 0); returns their handles.
    pub fn add_neighbors(&mut self, macs: &[Value], vlan_ids: Option<&[i64]>) -> Result<Vec<u64>> {
        super::check_batch(macs.len())?;
        if let Some(vlans) = vlan_ids {
            check_length("vlan_ids", macs.len(), vlans.len(), "MACs")?;
        }
        let mut states = self.budget.vec(macs.len())?;
        for (i, mac) in macs.iter().enumerate() {
            self.interrupts.poll(i)?;
            let at = |e: Error| e.at(i);
            states.push(NeighborState {
                mac: mac.to_mac("mac").map_err(at)?,
                vlan_id: check_vlan(vlan_ids.map_or(0, |v| i128::from(v[i]))).map_err(at)?,
                source_mac: None,
                host_reachability_delta: 0,
                nic_reachability_delta: 0,
            });
        }
        let mut out = self.budget.vec(states.len())?;
        self.reserve_for(Layer::Neighbor, states.len(), &[])?;
        let slots_before = self.host.neighbors.slot_count();
        for (i, state) in states.into_iter().enumerate() {
            self.poll_unwinding(i, &out, slots_before)?;
            out.push(self.host.insert_neighbor(state).raw());
        }
        Ok(out)
    }

    /// Adds a path from `source` to `destination` over `neighbor`; returns its handle.
    pub fn add_path(
        &mut self,
        neighbor: u64,
        source: &Value,
        destination: &Value,
        path_mtu: &Value,
    ) -> Result<u64> {
        let n = self
            .host
            .resolve_layer(neighbor, Layer::Neighbor, "neighbor")?;
        let state = PathState::new(
            source.to_ip("source")?,
            destination.to_ip("destination")?,
            path_mtu.to_int("path_mtu")?,
        )?;
        self.reserve_for(Layer::Path, 1, &[n])?;
        match self.host.insert_path(n, state) {
            Ok(h) => Ok(h.raw()),
            Err(holder) => Err(error!(DuplicatePath, existing = holder)),
        }
    }

    /// Adds paths, one per neighbor handle; returns their handles.
    /// The checks a batch add runs on its parents before any value (docs/DESIGN.md §8, check
    /// order): every handle valid, then every one of the layer below `child`. The Python
    /// facade also calls it when its own conversion of the values fails, so that a bad
    /// handle still wins.
    pub fn check_parents(&self, raws: &[u64], child: Layer) -> Result<Vec<Handle>> {
        let parents = self.resolve_all(raws)?;
        match child {
            Layer::Neighbor => {}
            Layer::Path => Self::check_layers(&parents, Layer::Neighbor, "neighbors")?,
            Layer::Tcp => Self::check_layers(&parents, Layer::Path, "paths")?,
        }
        Ok(parents)
    }

    pub fn add_paths(
        &mut self,
        neighbors: &[u64],
        sources: &[Value],
        destinations: &[Value],
        path_mtus: Option<&[i64]>,
    ) -> Result<Vec<u64>> {
        let n = neighbors.len();
        let parents = self.check_parents(neighbors, Layer::Path)?;
        check_length("sources", n, sources.len(), "handles")?;
        check_length("destinations", n, destinations.len(), "handles")?;
        if let Some(mtus) = path_mtus {
            check_length("path_mtus", n, mtus.len(), "handles")?;
        }
        let mut states = self.budget.vec(n)?;
        for i in 0..n {
            self.interrupts.poll(i)?;
            let at = |e: Error| e.at(i);
            let mtu = path_mtus.map_or(i128::from(DEFAULT_PATH_MTU), |m| i128::from(m[i]));
            states.push(
                PathState::new(
                    sources[i].to_ip("source").map_err(at)?,
                    destinations[i].to_ip("destination").map_err(at)?,
                    mtu,
                )
                .map_err(at)?,
            );
        }
        let mut out = self.budget.vec(n)?;
        self.reserve_for(Layer::Path, n, &parents)?;
        let slots_before = self.host.paths.slot_count();
        for (i, (p, state)) in parents.into_iter().zip(states).enumerate() {
            self.poll_unwinding(i, &out, slots_before)?;
            match self.host.insert_path(p, state) {
                Ok(h) => out.push(h.raw()),
                Err(holder) => {
                    let error = match out.iter().position(|&raw| raw == holder.raw()) {
                        Some(first) => error!(RepeatedPath, first = first),
                        None => error!(DuplicatePath, existing = holder),
                    };
                    self.host.unwind(&out, slots_before);
                    return Err(error.at(i));
                }
            }
        }
        Ok(out)
    }

    /// Adds a connection over `path`; `fields` sets any other TCP variable by name.
    pub fn add_tcp(
        &mut self,
        path: u64,
        local_port: &Value,
        remote_port: &Value,
        fields: &[(String, Value)],
    ) -> Result<u64> {
        let p = self.host.resolve_layer(path, Layer::Path, "path")?;
        let mut state = TcpState::default();
        for (name, value) in [("local_port", local_port), ("remote_port", remote_port)]
            .into_iter()
            .chain(fields.iter().map(|(n, v)| (n.as_str(), v)))
        {
            let field =
                TcpField::lookup(name).ok_or_else(|| error!(UnknownTcpVariable, name = name))?;
            state.set(field, value.to_field(field.spec())?);
        }
        let (local, remote) = (state.constant.local_port, state.constant.remote_port);
        self.reserve_for(Layer::Tcp, 1, &[p])?;
        self.host.tcp_states.reserve_copies(1, &self.budget)?;
        match self.host.insert_tcp(p, state) {
            Ok(h) => Ok(h.raw()),
            Err(holder) => Err(Self::tcp_conflict(holder, None, p, local, remote)),
        }
    }

    /// Adds connections with default variables, one per path handle; returns their handles.
    pub fn add_tcps(
        &mut self,
        paths: &[u64],
        local_ports: &[i64],
        remote_ports: &[i64],
    ) -> Result<Vec<u64>> {
        let n = paths.len();
        let parents = self.check_parents(paths, Layer::Tcp)?;
        check_length("local_ports", n, local_ports.len(), "handles")?;
        check_length("remote_ports", n, remote_ports.len(), "handles")?;
        let port = |name: &str, v: i64| check_port(name, i128::from(v));
        for i in 0..n {
            self.interrupts.poll(i)?;
            port("local_port", local_ports[i]).map_err(|e| e.at(i))?;
            port("remote_port", remote_ports[i]).map_err(|e| e.at(i))?;
        }
        let mut out = self.budget.vec(n)?;
        self.reserve_for(Layer::Tcp, n, &parents)?;
        let slots_before = self.host.tcps.slot_count();
        if n >= BULK_CLAIMS && !self.interrupts.armed() {
            // Store all, link all, claim all in table order (`insert_tcps_bulk`, on
            // `self.threads`): a conflict unwinds and the loop below runs to name it exactly
            // (the first offending item, as it would).
            let interrupts = &self.interrupts;
            let stored = self.host.insert_tcps_bulk(
                &parents,
                (local_ports, remote_ports),
                &mut out,
                |i| interrupts.poll(i),
                (self.threads, POLL_EVERY),
                &self.budget,
            );
            match stored {
                Ok(true) => return Ok(out),
                Ok(false) => {}
                Err(error) => {
                    self.host.unwind(&out, slots_before);
                    return Err(error);
                }
            }
            self.host.unwind(&out, slots_before);
            out.clear();
        }
        for i in 0..n {
            self.poll_unwinding(i, &out, slots_before)?;
            let (local, remote) = (local_ports[i] as u16, remote_ports[i] as u16);
            match self
                .host
                .insert_tcp(parents[i], TcpState::with_ports(local, remote))
            {
                Ok(h) => out.push(h.raw()),
                Err(holder) => {
                    // An earlier item of this batch, or a connection the tree held already.
                    let first = out.iter().position(|&raw| raw == holder.raw());
                    let error = Self::tcp_conflict(holder, first, parents[i], local, remote);
                    self.host.unwind(&out, slots_before);
                    return Err(error.at(i));
                }
            }
        }
        Ok(out)
    }

    /// Polls for an interrupt while a batch inserts: on one, takes back what it added.
    fn poll_unwinding(&mut self, i: usize, added: &[u64], slots_before: usize) -> Result<()> {
        self.interrupts.poll(i).inspect_err(|_| {
            self.host.unwind(added, slots_before);
        })
    }

    /// The `DuplicateKeyError` of a connection whose 4-tuple `holder` has: item `first` of
    /// the same batch, or a connection the tree held already.
    fn tcp_conflict(
        holder: Handle,
        first: Option<usize>,
        path: Handle,
        local: u16,
        remote: u16,
    ) -> Error {
        match first {
            Some(first) => error!(
                RepeatedTcp,
                first = first,
                path = path,
                local_port = local,
                remote_port = remote
            ),
            None => error!(
                DuplicateTcp,
                existing = holder,
                path = path,
                local_port = local,
                remote_port = remote
            ),
        }
    }

    /// Reserves, fallibly, everything adding `count` objects to `layer` grows: the arena,
    /// the state column, the key index and each parent's dependents (`parents`: one per
    /// object, none for neighbors). After it, adding them allocates nothing that can fail.
    fn reserve_for(&mut self, layer: Layer, count: usize, parents: &[Handle]) -> Result<()> {
        self.host.check_room(layer, count)?;
        let budget = &self.budget;
        match layer {
            Layer::Neighbor => {
                self.host.neighbors.reserve(count, budget)?;
                budget.reserve(&mut self.host.roots, count)
            }
            Layer::Path => {
                self.host.paths.reserve(count, budget)?;
                self.host.reserve_keys(Layer::Path, count, budget)?;
                self.host.reserve_dependents(parents, budget)
            }
            Layer::Tcp => {
                self.host.tcps.reserve(count, budget)?;
                self.host.tcp_states.reserve(count, budget)?;
                self.host.reserve_keys(Layer::Tcp, count, budget)?;
                self.host.reserve_dependents(parents, budget)
            }
        }
    }

    /// Deletes host objects that are not offloaded (docs/SPEC.md §7 `remove`); returns them
    /// in the order removed, dependents first.
    pub fn remove(&mut self, raws: &[u64], cascade: bool) -> Result<Vec<u64>> {
        let (requested, offloaded) = self.resolve_expecting(raws, true, false)?;
        if let Some(h) = offloaded {
            return Err(error!(RemoveOffloaded, layer = layer_of(h), handle = h));
        }
        // With cascade no descendant needs an offload check: an object that is not offloaded
        // has no offloaded dependent (invariant 2).
        if !cascade {
            if let Some((h, child)) = self.first_dependent_outside(&requested, false)? {
                return Err(error!(
                    RemoveDependent,
                    layer = layer_of(child),
                    dependent = child,
                    handle = h
                ));
            }
        }
        let order = self.host.walk_roots(&requested, true, &self.budget)?;
        let handles: Vec<Handle> = order.iter().map(|&raw| Handle::from_raw(raw)).collect();
        self.host.remove_all(&handles);
        for &h in &handles {
            self.target.forget_fault(h);
            // What the application never read goes with its connection (no hashing while
            // nothing waits to be read).
            if self.delivered.is_empty() {
                continue;
            }
            if let Some(unread) = self.delivered.remove(&h.raw()) {
                self.counts.bytes_discarded += unread.len() as u64;
            }
        }
        Ok(order)
    }

    /// The first requested object (in request order) with a direct dependent that is not
    /// requested, and that dependent: what a call without cascade would cut off. With
    /// `offloaded_only`, only offloaded dependents count (terminate).
    pub(super) fn first_dependent_outside(
        &self,
        requested: &[Handle],
        offloaded_only: bool,
    ) -> Result<Option<(Handle, Handle)>> {
        let mut wanted = crate::host::SeenSet::new(&self.host, &self.budget)?;
        for &h in requested {
            wanted.insert(h);
        }
        Ok(requested.iter().find_map(|&h| {
            self.host
                .children(h)
                .iter()
                .find(|&&c| !wanted.contains(c) && (!offloaded_only || self.host.is_offloaded(c)))
                .map(|&c| (h, c))
        }))
    }
}

/// From this many connections on, `add_tcps` claims their keys in bulk, in table order.
const BULK_CLAIMS: usize = 4096;
