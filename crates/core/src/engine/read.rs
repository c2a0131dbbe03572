//! Reading the tree without changing it: an object's layer, links, offload state and
//! variables; counts; walks; the block list an offload would send; and the target's links.

use super::snapshot::mac_to_u64;
use super::types::StateValue;
use super::Engine;
use crate::host::{layer_of, BlockList, NO_CONTEXT};
use crate::model::{
    fields, format_mac, ip_octets, ColumnData, Columns, Handle, Layer, Result, TcpCached,
    TcpConstant, TcpDelegated,
};

impl Engine {
    pub fn layer(&self, raw: u64) -> Result<Layer> {
        Ok(layer_of(self.host.resolve(raw)?))
    }

    /// The object `raw` depends on (None for a neighbor).
    pub fn depends_on(&self, raw: u64) -> Result<Option<u64>> {
        Ok(self.host.parent(self.host.resolve(raw)?).map(Handle::raw))
    }

    /// The objects that depend on `raw`, in insertion order.
    pub fn dependents(&self, raw: u64) -> Result<Vec<u64>> {
        let h = self.host.resolve(raw)?;
        Ok(self.host.children(h).iter().map(|c| c.raw()).collect())
    }

    pub fn is_offloaded(&self, raw: u64) -> Result<bool> {
        Ok(self.host.is_offloaded(self.host.resolve(raw)?))
    }

    /// Whether `raw` names a live object of this tree (never an error).
    pub fn contains(&self, raw: u64) -> bool {
        self.host.contains(raw)
    }

    /// The number of live objects.
    pub fn len(&self) -> usize {
        self.host.len()
    }

    pub fn is_empty(&self) -> bool {
        self.host.is_empty()
    }

    /// Whether `h` is offloaded and marked invalid at the target.
    pub(super) fn is_invalidated(&self, h: Handle) -> bool {
        let context = self.host.context(h);
        context != NO_CONTEXT && self.target.is_invalid(layer_of(h), context)
    }

    /// The number of live objects, of one layer and/or one offload state when given.
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

    /// The live handles in pre-order, of one layer when given.
    pub fn handles(&self, layer: Option<Layer>) -> Result<Vec<u64>> {
        let all = self.host.walk_all(false, &self.budget)?;
        Ok(match layer {
            None => all,
            Some(l) => all
                .into_iter()
                .filter(|&raw| Handle::from_raw(raw).layer() == Some(l))
                .collect(),
        })
    }

    /// The whole tree, or the subtrees of `roots`, in pre- or post-order (docs/DESIGN.md §3).
    pub fn walk(&self, post: bool, roots: Option<&[u64]>) -> Result<Vec<u64>> {
        match roots {
            None => self.host.walk_all(post, &self.budget),
            Some(raws) => {
                let roots = self.resolve_all(raws)?;
                self.host.walk_roots(&roots, post, &self.budget)
            }
        }
    }

    /// The block list an offload of `raws` would send, without sending it.
    pub fn block_list(&self, raws: &[u64]) -> Result<BlockList> {
        let requested = self.resolve_all(raws)?;
        BlockList::build(&self.host, &requested, &self.budget)
    }

    /// Every variable of `raw` by name, constant then cached then delegated, after `handle`,
    /// `layer`, `offloaded` and `invalidated`: the host copy (docs/DESIGN.md §5).
    pub fn state(&self, raw: u64) -> Result<Vec<(&'static str, StateValue)>> {
        let h = self.host.resolve(raw)?;
        let layer = layer_of(h);
        let mut out = vec![
            ("handle", StateValue::Int(raw)),
            ("layer", StateValue::Int(layer as u64)),
            ("offloaded", StateValue::Bool(self.host.is_offloaded(h))),
            ("invalidated", StateValue::Bool(self.is_invalidated(h))),
        ];
        let int = |v: u64| StateValue::Int(v);
        match layer {
            Layer::Neighbor => {
                let s = &self.host.neighbor(h).state;
                let values = [
                    s.source_mac
                        .map_or(StateValue::None, |m| StateValue::Text(format_mac(&m))),
                    int(u64::from(s.vlan_id)),
                    StateValue::Text(format_mac(&s.mac)),
                    int(u64::from(s.host_reachability_delta)),
                    int(u64::from(s.nic_reachability_delta)),
                ];
                out.extend(fields(layer).map(|spec| spec.name).zip(values));
            }
            Layer::Path => {
                let s = &self.host.path(h).state;
                let values = [
                    StateValue::Bytes(ip_octets(&s.source)),
                    StateValue::Bytes(ip_octets(&s.destination)),
                    int(u64::from(s.path_mtu)),
                ];
                out.extend(fields(layer).map(|spec| spec.name).zip(values));
            }
            Layer::Tcp => {
                let s = self.host.tcp_state(h);
                let groups: [(&[_], &[u64]); 3] = [
                    (TcpConstant::SPECS, &s.constant.get_all()),
                    (TcpCached::SPECS, &s.cached.get_all()),
                    (TcpDelegated::SPECS, &s.delegated.get_all()),
                ];
                for (specs, values) in groups {
                    out.extend(specs.iter().zip(values).map(|(spec, &v)| {
                        let value = if spec.is_bool() {
                            StateValue::Bool(v != 0)
                        } else {
                            int(v)
                        };
                        (spec.name, value)
                    }));
                }
            }
        }
        Ok(out)
    }

    /// Every object of `layer` as columns, in walk pre-order: `handle`, `parent` (0 for a
    /// neighbor), `offloaded`, `invalidated`, then one column per variable, the host copy
    /// (docs/DESIGN.md §5). Neighbors' MACs are 48-bit integers (`source_mac`: all ones
    /// when none); paths' addresses are a `family` column and 16 octets a row.
    pub fn states(&self, layer: Layer) -> Result<Columns> {
        let handles: Vec<Handle> = self
            .handles(Some(layer))?
            .into_iter()
            .map(Handle::from_raw)
            .collect();
        let mut columns = Columns::new();
        columns.put(
            "handle",
            handles.iter().map(|h| h.raw()).collect::<Vec<_>>(),
        );
        let parents = handles
            .iter()
            .map(|&h| self.host.parent(h).map_or(0, Handle::raw));
        columns.put("parent", parents.collect::<Vec<_>>());
        let offloaded = handles.iter().map(|&h| self.host.is_offloaded(h));
        columns.put("offloaded", offloaded.collect::<Vec<_>>());
        let invalidated = handles.iter().map(|&h| self.is_invalidated(h));
        columns.put("invalidated", invalidated.collect::<Vec<_>>());
        match layer {
            Layer::Neighbor => self.neighbor_columns(&handles, &mut columns),
            Layer::Path => self.path_columns(&handles, &mut columns),
            Layer::Tcp => {
                let specs: Vec<_> = fields(layer).collect();
                let mut values: Vec<ColumnData> = specs
                    .iter()
                    .map(|spec| ColumnData::for_field(spec, handles.len()))
                    .collect();
                for &h in &handles {
                    let s = self.host.tcp_state(h);
                    let all = [
                        &s.constant.get_all()[..],
                        &s.cached.get_all()[..],
                        &s.delegated.get_all()[..],
                    ];
                    for (column, &value) in values.iter_mut().zip(all.into_iter().flatten()) {
                        column.push_field(value);
                    }
                }
                for (spec, column) in specs.into_iter().zip(values) {
                    columns.put(spec.name, column);
                }
            }
        }
        Ok(columns)
    }

    fn neighbor_columns(&self, handles: &[Handle], columns: &mut Columns) {
        let states: Vec<_> = handles
            .iter()
            .map(|&h| &self.host.neighbor(h).state)
            .collect();
        let source_macs = states
            .iter()
            .map(|s| s.source_mac.as_ref().map_or(u64::MAX, mac_to_u64));
        columns.put("source_mac", source_macs.collect::<Vec<_>>());
        columns.put(
            "vlan_id",
            states.iter().map(|s| s.vlan_id).collect::<Vec<_>>(),
        );
        columns.put(
            "mac",
            states
                .iter()
                .map(|s| mac_to_u64(&s.mac))
                .collect::<Vec<_>>(),
        );
        let host = states.iter().map(|s| s.host_reachability_delta);
        columns.put("host_reachability_delta", host.collect::<Vec<_>>());
        let nic = states.iter().map(|s| s.nic_reachability_delta);
        columns.put("nic_reachability_delta", nic.collect::<Vec<_>>());
    }

    fn path_columns(&self, handles: &[Handle], columns: &mut Columns) {
        let (mut families, mut sources, mut destinations, mut mtus) =
            (vec![], vec![], vec![], vec![]);
        for &h in handles {
            let s = &self.host.path(h).state;
            families.push(if s.source.is_ipv4() { 4u8 } else { 6 });
            for (ip, octets) in [
                (&s.source, &mut sources),
                (&s.destination, &mut destinations),
            ] {
                let bytes = ip_octets(ip);
                octets.extend_from_slice(&bytes);
                octets.resize(octets.len() + 16 - bytes.len(), 0);
            }
            mtus.push(s.path_mtu);
        }
        columns.put("family", families);
        columns.put("source", sources);
        columns.put("destination", destinations);
        columns.put("path_mtu", mtus);
    }

    /// The tree's links as two columns in walk pre-order: each path and connection, and the
    /// object it depends on.
    pub fn edges(&self) -> Result<(Vec<u64>, Vec<u64>)> {
        let all = self.host.walk_all(false, &self.budget)?;
        let mut dependents = Vec::with_capacity(all.len());
        let mut parents = Vec::with_capacity(all.len());
        for raw in all {
            if let Some(parent) = self.host.parent(Handle::from_raw(raw)) {
                dependents.push(raw);
                parents.push(parent.raw());
            }
        }
        Ok((dependents, parents))
    }

    /// Target copies of an offloaded object are linked by contexts; this reads those links back
    /// as host handles: `(handle, handle of the object its context depends on or 0)`, in walk
    /// pre-order. Invariant 5 (docs/SPEC.md §2) says it equals the host's own links.
    pub fn target_links(&self) -> (Vec<u64>, Vec<u64>) {
        let mut handles = Vec::new();
        let mut parents = Vec::new();
        let all = self.host.walk_all(false, &crate::model::Budget::default());
        for raw in all.expect("an unlimited budget fails only when the allocator does") {
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
