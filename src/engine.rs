//! The engine: one host tree and one simulated target behind one API (DESIGN §1, §10).
//!
//! Keeping both halves in one value makes every operation atomic under a single lock in the
//! bindings. This file holds the structural calls (building, removing, reading the tree); the
//! offload operations are in `operations.rs` and the target-initiated events in `events.rs`.

use std::collections::{HashSet, VecDeque};

use crate::blocks::BlockList;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::handle::{Handle, Layer};
use crate::state::{
    self, check_u32, check_vlan, NeighborState, PathState, TcpConstant, TcpField, TcpState,
};
use crate::stats::EngineCounters;
use crate::target::{Target, TargetConfig};
use crate::tree::{check_layer, layer_of, HostTree, SeenSet};
use crate::value::Value;

/// The most objects one call may name or create. Far above any real batch (a W(10^7)
/// benchmark builds 10^7 connections in one call), far below what would exhaust memory
/// before the call could fail cleanly (an allocation failure aborts the process).
pub const MAX_BATCH: usize = 1 << 27;

/// Rejects a batch larger than `MAX_BATCH` before anything is allocated for it.
pub fn check_batch(len: usize) -> Result<()> {
    if len > MAX_BATCH {
        return Err(Error::validation(format!(
            "a batch of {len} objects is over the limit of {MAX_BATCH} per call"
        )));
    }
    Ok(())
}

/// A read-out value of a state variable (for `state(h)` dictionaries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Out {
    Int(u64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
    None,
}

/// The arguments of `add_neighbor`.
#[derive(Clone, Debug, PartialEq)]
pub struct NeighborArgs {
    pub mac: Value,
    pub vlan_id: Value,
    pub source_mac: Option<Value>,
    pub host_reachability_delta: Value,
    pub nic_reachability_delta: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Engine {
    pub host: HostTree,
    pub target: Target,
    /// Target-initiated events waiting for `process_events`.
    pub events: VecDeque<Event>,
    /// Connections with an INVALID_STATE upload request in `events`.
    pub invalid_pending: HashSet<u64>,
    pub counters: EngineCounters,
}

impl Engine {
    pub fn new(config: TargetConfig) -> Result<Engine> {
        Ok(Engine {
            host: HostTree::new(),
            target: Target::new(config)?,
            events: VecDeque::new(),
            invalid_pending: HashSet::new(),
            counters: EngineCounters::default(),
        })
    }

    pub fn tree_id(&self) -> u16 {
        self.host.id()
    }

    /// Resolves every handle first, so a bad handle anywhere is reported before anything else.
    pub fn resolve_all(&self, raws: &[u64]) -> Result<Vec<Handle>> {
        check_batch(raws.len())?;
        raws.iter().map(|&raw| self.host.resolve(raw)).collect()
    }

    /// Resolves every handle (an invalid one anywhere is the error that wins), drops
    /// duplicates when `unique` (first mention kept), and returns the first object whose offload
    /// state is not `offloaded`: one pass over the objects instead of one per check.
    pub fn resolve_expecting(
        &self,
        raws: &[u64],
        unique: bool,
        offloaded: bool,
    ) -> Result<(Vec<Handle>, Option<Handle>)> {
        check_batch(raws.len())?;
        let mut seen = unique.then(|| SeenSet::new(&self.host));
        let mut handles = Vec::with_capacity(raws.len());
        let mut unexpected = None;
        for &raw in raws {
            let h = self.host.resolve(raw)?;
            if seen.as_mut().is_some_and(|seen| !seen.insert(h)) {
                continue;
            }
            if unexpected.is_none() && self.host.is_offloaded(h) != offloaded {
                unexpected = Some(h);
            }
            handles.push(h);
        }
        Ok((handles, unexpected))
    }

    fn check_layers(handles: &[Handle], layer: Layer, role: &str) -> Result<()> {
        // The role is formatted only on failure: this runs once per handle of a batch.
        for (i, &h) in handles.iter().enumerate() {
            if layer_of(h) != layer {
                check_layer(h, layer, &format!("{role}[{i}]"))?;
            }
        }
        Ok(())
    }

    fn check_lengths(what: &str, expected: usize, got: usize) -> Result<()> {
        if expected != got {
            return Err(Error::validation(format!(
                "{what} has {got} items but {expected} were expected"
            )));
        }
        Ok(())
    }

    // ---- building ----

    fn neighbor_state(args: &NeighborArgs) -> Result<NeighborState> {
        Ok(NeighborState {
            mac: args.mac.to_mac("mac")?,
            vlan_id: check_vlan(args.vlan_id.to_int("vlan_id")?)?,
            source_mac: match &args.source_mac {
                None => None,
                Some(v) => Some(v.to_mac("source_mac")?),
            },
            host_reachability_delta: check_u32(
                "host_reachability_delta",
                args.host_reachability_delta
                    .to_int("host_reachability_delta")?,
            )?,
            nic_reachability_delta: check_u32(
                "nic_reachability_delta",
                args.nic_reachability_delta
                    .to_int("nic_reachability_delta")?,
            )?,
        })
    }

    pub fn add_neighbor(&mut self, args: &NeighborArgs) -> Result<u64> {
        let state = Self::neighbor_state(args)?;
        self.host.check_room(Layer::Neighbor, 1)?;
        Ok(self.host.insert_neighbor(state).raw())
    }

    pub fn add_neighbors(&mut self, macs: &[Value], vlan_ids: Option<&[i64]>) -> Result<Vec<u64>> {
        check_batch(macs.len())?;
        if let Some(vlans) = vlan_ids {
            Self::check_lengths("vlan_ids", macs.len(), vlans.len())?;
        }
        let mut states = Vec::with_capacity(macs.len());
        for (i, mac) in macs.iter().enumerate() {
            let at = |e: Error| e.at(i);
            states.push(NeighborState {
                mac: mac.to_mac("mac").map_err(at)?,
                vlan_id: check_vlan(vlan_ids.map_or(0, |v| i128::from(v[i]))).map_err(at)?,
                source_mac: None,
                host_reachability_delta: 0,
                nic_reachability_delta: 0,
            });
        }
        self.host.check_room(Layer::Neighbor, states.len())?;
        self.host.neighbors.reserve(states.len());
        Ok(states
            .into_iter()
            .map(|s| self.host.insert_neighbor(s).raw())
            .collect())
    }

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
        self.host.check_room(Layer::Path, 1)?;
        Ok(self.host.insert_path(n, state).raw())
    }

    pub fn add_paths(
        &mut self,
        neighbors: &[u64],
        sources: &[Value],
        destinations: &[Value],
        path_mtus: Option<&[i64]>,
    ) -> Result<Vec<u64>> {
        let n = neighbors.len();
        Self::check_lengths("sources", n, sources.len())?;
        Self::check_lengths("destinations", n, destinations.len())?;
        if let Some(mtus) = path_mtus {
            Self::check_lengths("path_mtus", n, mtus.len())?;
        }
        let parents = self.resolve_all(neighbors)?;
        Self::check_layers(&parents, Layer::Neighbor, "neighbors")?;
        let mut states = Vec::with_capacity(n);
        for i in 0..n {
            let at = |e: Error| e.at(i);
            states.push(
                PathState::new(
                    sources[i].to_ip("source").map_err(at)?,
                    destinations[i].to_ip("destination").map_err(at)?,
                    path_mtus.map_or(1500, |m| i128::from(m[i])),
                )
                .map_err(at)?,
            );
        }
        self.host.check_room(Layer::Path, n)?;
        self.host.paths.reserve(n);
        Ok(parents
            .into_iter()
            .zip(states)
            .map(|(p, s)| self.host.insert_path(p, s).raw())
            .collect())
    }

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
            let field = TcpField::lookup(name).ok_or_else(|| {
                Error::validation(format!("unknown TCP connection variable {name:?}"))
            })?;
            state.set(field, value.to_field(field.spec())?);
        }
        self.host.check_room(Layer::Tcp, 1)?;
        Ok(self.host.insert_tcp(p, state).raw())
    }

    pub fn add_tcps(
        &mut self,
        paths: &[u64],
        local_ports: &[i64],
        remote_ports: &[i64],
    ) -> Result<Vec<u64>> {
        let n = paths.len();
        Self::check_lengths("local_ports", n, local_ports.len())?;
        Self::check_lengths("remote_ports", n, remote_ports.len())?;
        let parents = self.resolve_all(paths)?;
        Self::check_layers(&parents, Layer::Path, "paths")?;
        let port = |name: &str, v: i64| state::check_port(name, i128::from(v));
        for i in 0..n {
            port("local_port", local_ports[i]).map_err(|e| e.at(i))?;
            port("remote_port", remote_ports[i]).map_err(|e| e.at(i))?;
        }
        self.host.check_room(Layer::Tcp, n)?;
        self.host.tcps.reserve(n);
        self.host.tcp_states.reserve(n);
        self.host.reserve_dependents(&parents);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let state = TcpState {
                constant: TcpConstant {
                    local_port: local_ports[i] as u16,
                    remote_port: remote_ports[i] as u16,
                    ..TcpConstant::default()
                },
                ..TcpState::default()
            };
            out.push(self.host.insert_tcp(parents[i], state).raw());
        }
        Ok(out)
    }

    /// Deletes host objects that are not offloaded (SPEC §7 `remove`); returns them in the
    /// order removed, dependents first.
    pub fn remove(&mut self, raws: &[u64], cascade: bool) -> Result<Vec<u64>> {
        let (requested, offloaded) = self.resolve_expecting(raws, true, false)?;
        if let Some(h) = offloaded {
            return Err(Error::state(format!(
                "{} {h} is offloaded: terminate it before removing it",
                layer_of(h)
            )));
        }
        // With cascade no descendant needs an offload check: an object that is not offloaded
        // has no offloaded dependent (invariant 2).
        if !cascade {
            if let Some((h, child)) = self.first_dependent_outside(&requested, false) {
                return Err(Error::dependency(format!(
                    "{} {child} depends on {h}; remove it too or use cascade=True",
                    layer_of(child)
                )));
            }
        }
        let order: Vec<Handle> = self
            .host
            .walk_roots(&requested, true)
            .into_iter()
            .map(Handle::from_raw)
            .collect();
        self.host.remove_all(&order);
        if !self.target.faults.is_empty() {
            for h in &order {
                self.target.faults.remove(&h.raw());
            }
        }
        Ok(order.into_iter().map(Handle::raw).collect())
    }

    /// The first requested object (in request order) with a direct dependent that is not
    /// requested, and that dependent: what a call without cascade would cut off. With
    /// `offloaded_only`, only offloaded dependents count (terminate).
    pub fn first_dependent_outside(
        &self,
        requested: &[Handle],
        offloaded_only: bool,
    ) -> Option<(Handle, Handle)> {
        let mut wanted = SeenSet::new(&self.host);
        for &h in requested {
            wanted.insert(h);
        }
        requested.iter().find_map(|&h| {
            self.host
                .children(h)
                .iter()
                .find(|&&c| !wanted.contains(c) && (!offloaded_only || self.host.is_offloaded(c)))
                .map(|&c| (h, c))
        })
    }

    // ---- reading ----

    pub fn layer(&self, raw: u64) -> Result<Layer> {
        Ok(layer_of(self.host.resolve(raw)?))
    }

    pub fn depends_on(&self, raw: u64) -> Result<Option<u64>> {
        Ok(self.host.parent(self.host.resolve(raw)?).map(Handle::raw))
    }

    pub fn dependents(&self, raw: u64) -> Result<Vec<u64>> {
        let h = self.host.resolve(raw)?;
        Ok(self.host.children(h).iter().map(|c| c.raw()).collect())
    }

    pub fn is_offloaded(&self, raw: u64) -> Result<bool> {
        Ok(self.host.is_offloaded(self.host.resolve(raw)?))
    }

    pub fn is_invalidated(&self, h: Handle) -> bool {
        let context = self.host.context(h);
        self.host.is_offloaded(h) && self.target.is_invalid(layer_of(h), context)
    }

    pub fn count(&self, layer: Option<Layer>, offloaded: Option<bool>) -> usize {
        let layers: &[Layer] = match layer {
            Some(ref l) => std::slice::from_ref(l),
            None => &Layer::ALL,
        };
        layers
            .iter()
            .map(|&l| {
                let live = self.host.live(l);
                let off = self.host.offloaded[l.index()];
                match offloaded {
                    None => live,
                    Some(true) => off,
                    Some(false) => live - off,
                }
            })
            .sum()
    }

    pub fn handles(&self, layer: Option<Layer>) -> Vec<u64> {
        let all = self.host.walk_all(false);
        match layer {
            None => all,
            Some(l) => all
                .into_iter()
                .filter(|&raw| Handle::from_raw(raw).layer() == Some(l))
                .collect(),
        }
    }

    pub fn walk(&self, post: bool, roots: Option<&[u64]>) -> Result<Vec<u64>> {
        match roots {
            None => Ok(self.host.walk_all(post)),
            Some(raws) => {
                let roots = self.resolve_all(raws)?;
                Ok(self.host.walk_roots(&roots, post))
            }
        }
    }

    pub fn block_list(&self, raws: &[u64]) -> Result<BlockList> {
        let requested = self.resolve_all(raws)?;
        Ok(BlockList::build(&self.host, &requested))
    }

    /// Every variable of `h` by name, constant then cached then delegated, plus `handle`,
    /// `layer`, `offloaded` and `invalidated`: the host copy (DESIGN §5).
    pub fn state(&self, raw: u64) -> Result<Vec<(&'static str, Out)>> {
        let h = self.host.resolve(raw)?;
        let mut out = vec![
            ("handle", Out::Int(raw)),
            ("layer", Out::Int(layer_of(h) as u64)),
            ("offloaded", Out::Bool(self.host.is_offloaded(h))),
            ("invalidated", Out::Bool(self.is_invalidated(h))),
        ];
        match layer_of(h) {
            Layer::Neighbor => {
                let s = &self.host.neighbor(h).state;
                out.extend([
                    (
                        "source_mac",
                        s.source_mac
                            .map_or(Out::None, |m| Out::Text(state::format_mac(&m))),
                    ),
                    ("vlan_id", Out::Int(u64::from(s.vlan_id))),
                    ("mac", Out::Text(state::format_mac(&s.mac))),
                    (
                        "host_reachability_delta",
                        Out::Int(u64::from(s.host_reachability_delta)),
                    ),
                    (
                        "nic_reachability_delta",
                        Out::Int(u64::from(s.nic_reachability_delta)),
                    ),
                ]);
            }
            Layer::Path => {
                let s = &self.host.path(h).state;
                out.extend([
                    ("source", Out::Bytes(state::ip_octets(&s.source))),
                    ("destination", Out::Bytes(state::ip_octets(&s.destination))),
                    ("path_mtu", Out::Int(u64::from(s.path_mtu))),
                ]);
            }
            Layer::Tcp => {
                let s = self.host.tcp_state(h);
                let field = |spec: &state::FieldSpec, v: u64| {
                    (
                        spec.name,
                        if spec.is_bool {
                            Out::Bool(v != 0)
                        } else {
                            Out::Int(v)
                        },
                    )
                };
                for (i, spec) in TcpConstant::SPECS.iter().enumerate() {
                    out.push(field(spec, s.constant.get(i)));
                }
                for (i, spec) in state::TcpCached::SPECS.iter().enumerate() {
                    out.push(field(spec, s.cached.get(i)));
                }
                for (i, spec) in state::TcpDelegated::SPECS.iter().enumerate() {
                    out.push(field(spec, s.delegated.get(i)));
                }
            }
        }
        Ok(out)
    }
}
