//! How a simulated target is configured: per-layer capacities, the limits it enforces on path
//! MTU and initial receive window, and its random faults (docs/DESIGN.md §8).

use crate::error;
use crate::model::{Layer, Result};

/// How the target was configured. `None` means unlimited.
///
/// The Python layer validates a configuration before it builds an engine; [`Self::validate`]
/// is the core's own guard for Rust callers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetConfig {
    pub neighbor_capacity: Option<u64>,
    pub path_capacity: Option<u64>,
    pub tcp_capacity: Option<u64>,
    pub max_path_mtu: Option<u64>,
    pub max_rcv_window: Option<u64>,
    /// The probability that an offload attempt fails at random, in [0, 1].
    pub fail_rate: f64,
    /// The seed of the random faults (SplitMix64).
    pub seed: u64,
}

impl TargetConfig {
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.fail_rate) {
            return Err(error!(FailRateRange, value = self.fail_rate));
        }
        Ok(())
    }

    /// How many objects of `layer` the target holds at most.
    pub fn capacity(&self, layer: Layer) -> Option<u64> {
        match layer {
            Layer::Neighbor => self.neighbor_capacity,
            Layer::Path => self.path_capacity,
            Layer::Tcp => self.tcp_capacity,
        }
    }
}

/// The capabilities a target reports, which it may change across a pause and resume
/// (NDIS "NDIS_STATUS_OFFLOAD_RESUME"): per-layer capacities and the limits it enforces.
/// `None` means unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetLimits {
    pub neighbor_capacity: Option<u64>,
    pub path_capacity: Option<u64>,
    pub tcp_capacity: Option<u64>,
    pub max_path_mtu: Option<u64>,
    pub max_rcv_window: Option<u64>,
}

impl TargetLimits {
    /// `config` with these capabilities.
    pub(crate) fn apply(self, config: &mut TargetConfig) {
        config.neighbor_capacity = self.neighbor_capacity;
        config.path_capacity = self.path_capacity;
        config.tcp_capacity = self.tcp_capacity;
        config.max_path_mtu = self.max_path_mtu;
        config.max_rcv_window = self.max_rcv_window;
    }
}
