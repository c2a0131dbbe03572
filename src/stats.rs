//! Operation counters and the nested, ordered statistics record (DESIGN §9).

use crate::status::Status;

/// A statistics value: a nested, ordered map with integer, bool or absent leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stat {
    Int(u64),
    Bool(bool),
    None,
    Map(Vec<(&'static str, Stat)>),
}

impl Stat {
    pub fn optional(value: Option<u64>) -> Stat {
        value.map_or(Stat::None, Stat::Int)
    }

    /// The value at a path of keys, for tests.
    pub fn get(&self, path: &[&str]) -> Option<&Stat> {
        let mut node = self;
        for key in path {
            match node {
                Stat::Map(entries) => node = &entries.iter().find(|(k, _)| k == key)?.1,
                _ => return None,
            }
        }
        Some(node)
    }
}

/// Requested / succeeded / failed-by-status counts of one operation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OperationCounter {
    pub requested: u64,
    pub succeeded: u64,
    pub failed: [u64; Status::ALL.len()],
}

impl OperationCounter {
    pub fn fail(&mut self, status: Status, count: u64) {
        self.failed[status as usize] += count;
    }

    pub fn to_stat(&self) -> Stat {
        let failed = Status::ALL
            .iter()
            .filter(|s| self.failed[**s as usize] > 0)
            .map(|s| (s.name(), Stat::Int(self.failed[*s as usize])))
            .collect();
        Stat::Map(vec![
            ("requested", Stat::Int(self.requested)),
            ("succeeded", Stat::Int(self.succeeded)),
            ("failed", Stat::Map(failed)),
        ])
    }
}

/// Counters the engine keeps about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineCounters {
    pub initiate_offload: OperationCounter,
    pub terminate: OperationCounter,
    pub update: OperationCounter,
    pub query: OperationCounter,
    pub invalidate: OperationCounter,
    pub bytes_returned: u64,
    pub events_seen: u64,
    pub events_processed: u64,
}

impl crate::engine::Engine {
    /// `tree.stats()` (DESIGN §9).
    pub fn stats(&self) -> Stat {
        use crate::handle::Layer;
        let layer = |l: Layer| {
            Stat::Map(vec![
                ("live", Stat::Int(self.host.live(l) as u64)),
                (
                    "offloaded",
                    Stat::Int(self.host.offloaded[l.index()] as u64),
                ),
                ("capacity", Stat::optional(self.target.config.capacity(l))),
            ])
        };
        let c = &self.counters;
        let t = &self.target.counters;
        Stat::Map(vec![
            (
                "layers",
                Stat::Map(Layer::ALL.iter().map(|&l| (l.name(), layer(l))).collect()),
            ),
            (
                "operations",
                Stat::Map(vec![
                    ("initiate_offload", c.initiate_offload.to_stat()),
                    ("terminate", c.terminate.to_stat()),
                    ("update", c.update.to_stat()),
                    ("query", c.query.to_stat()),
                    ("invalidate", c.invalidate.to_stat()),
                ]),
            ),
            (
                "bytes",
                Stat::Map(vec![
                    ("buffered", Stat::Int(t.bytes_buffered)),
                    ("returned", Stat::Int(c.bytes_returned)),
                    ("held_back", Stat::Int(t.bytes_held_back)),
                ]),
            ),
            (
                "events",
                Stat::Map(vec![
                    ("seen", Stat::Int(c.events_seen)),
                    ("processed", Stat::Int(c.events_processed)),
                    ("pending", Stat::Int(self.events.len() as u64)),
                ]),
            ),
        ])
    }

    /// `target.stats()` (DESIGN §9).
    pub fn target_stats(&self) -> Stat {
        use crate::handle::Layer;
        let t = &self.target;
        let per_layer = |f: &dyn Fn(Layer) -> Stat| {
            Stat::Map(Layer::ALL.iter().map(|&l| (l.name(), f(l))).collect())
        };
        Stat::Map(vec![
            (
                "offloaded",
                per_layer(&|l| Stat::Int(t.offloaded(l) as u64)),
            ),
            (
                "capacity",
                per_layer(&|l| Stat::optional(t.config.capacity(l))),
            ),
            (
                "contexts_allocated",
                Stat::Int(t.counters.contexts_allocated),
            ),
            ("contexts_freed", Stat::Int(t.counters.contexts_freed)),
            ("invalid", Stat::Int(t.invalid)),
            ("paused", Stat::Bool(t.paused)),
            ("faults_pending", Stat::Int(t.faults.len() as u64)),
            ("bytes_received", Stat::Int(t.counters.bytes_received)),
            ("bytes_sent", Stat::Int(t.counters.bytes_sent)),
            ("bytes_buffered", Stat::Int(t.counters.bytes_buffered)),
            ("events_indicated", Stat::Int(t.counters.events_indicated)),
        ])
    }
}
