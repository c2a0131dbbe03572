//! Whether the target takes an object it is asked to offload: an injected fault, the layer's
//! capacity, the MTU and receive-window limits, then a random fault, in that order
//! (docs/DESIGN.md §8).

use super::rng::{unit_float, SplitMix64};
use super::Target;
use crate::model::{Handle, Layer, Operation, Status};

/// What an admission may consume for one object: the generator and its injected fault.
pub(crate) struct AdmissionState {
    rng: SplitMix64,
    fault: Option<Status>,
}

impl Target {
    /// The status of an offload attempt that fails before allocating, or None if it may go
    /// ahead. `value` is the path MTU for a path and the initial receive window for a
    /// connection. `pending` is the number of objects of `layer` admitted but not allocated
    /// yet: they count against the capacity.
    pub(crate) fn admit(
        &mut self,
        layer: Layer,
        host: Handle,
        value: u64,
        pending: usize,
    ) -> Option<Status> {
        if let Some(status) = self.take_fault(Operation::InitiateOffload, host) {
            return Some(status);
        }
        if let Some(capacity) = self.config.capacity(layer) {
            if (self.offloaded(layer) + pending) as u64 >= capacity {
                return Some(match layer {
                    Layer::Neighbor => Status::NeighborEntries,
                    Layer::Path => Status::PathEntries,
                    Layer::Tcp => Status::TcpEntries,
                });
            }
        }
        match layer {
            Layer::Path if self.config.max_path_mtu.is_some_and(|max| value > max) => {
                return Some(Status::PathMtu)
            }
            Layer::Tcp if self.config.max_rcv_window.is_some_and(|max| value > max) => {
                return Some(Status::TcpRcvWindow)
            }
            _ => {}
        }
        if self.config.fail_rate > 0.0 {
            let x = self.rng.next_u64();
            if unit_float(x) < self.config.fail_rate {
                return Some(if x & 1 == 0 {
                    Status::Failure
                } else {
                    Status::Resources
                });
            }
        }
        None
    }

    /// Whether `admit` says yes to anything, without consuming a thing: no injected fault,
    /// no capacity, no limit, no random faults. The common case of a large offload, which
    /// then needs no decision per block.
    pub(crate) fn admits_everything(&self) -> bool {
        let c = &self.config;
        self.faults.is_empty()
            && Layer::ALL.iter().all(|&layer| c.capacity(layer).is_none())
            && c.max_path_mtu.is_none()
            && c.max_rcv_window.is_none()
            && c.fail_rate == 0.0
    }

    /// What `admit` may consume for `host`, so that a caller that must fail atomically
    /// (relink) can put it back.
    pub(crate) fn admission_state(&self, host: Handle) -> AdmissionState {
        AdmissionState {
            rng: self.rng.clone(),
            fault: self
                .faults
                .get(&(Operation::InitiateOffload, host.raw()))
                .copied(),
        }
    }

    pub(crate) fn restore_admission_state(&mut self, host: Handle, saved: AdmissionState) {
        self.rng = saved.rng;
        if let Some(status) = saved.fault {
            self.faults
                .insert((Operation::InitiateOffload, host.raw()), status);
        }
    }

    /// Aims a one-shot failure at the next `operation` on `host`.
    pub(crate) fn inject_fault(&mut self, host: Handle, operation: Operation, status: Status) {
        self.faults.insert((operation, host.raw()), status);
    }

    /// Fires the fault aimed at `operation` on `host`, if any: it is one-shot.
    pub(crate) fn take_fault(&mut self, operation: Operation, host: Handle) -> Option<Status> {
        // Most targets have no injected fault: skip hashing the key then.
        if self.faults.is_empty() {
            return None;
        }
        self.faults.remove(&(operation, host.raw()))
    }

    /// Marks `host`'s hardware state corrupt: its upload will complete with FAILURE.
    pub(crate) fn corrupt(&mut self, host: Handle) {
        self.corrupt.insert(host.raw());
    }

    /// Whether `host` is corrupt: a terminate fault aimed at it, or corruption a query or an
    /// invalidate found. Either is consumed: the upload that asks is the last use.
    pub(crate) fn take_corruption(&mut self, host: Handle) -> bool {
        let fault = self.take_fault(Operation::Terminate, host).is_some();
        let found = !self.corrupt.is_empty() && self.corrupt.remove(&host.raw());
        fault || found
    }

    /// The faults not fired yet, per `Operation` code.
    pub(crate) fn faults_pending(&self) -> [u64; 5] {
        let mut pending = [0; 5];
        for (operation, _) in self.faults.keys() {
            pending[*operation as usize] += 1;
        }
        pending
    }

    /// Drops the faults aimed at `host`, if any (the object was removed).
    pub(crate) fn forget_fault(&mut self, host: Handle) {
        if !self.faults.is_empty() {
            for operation in Operation::ALL {
                self.faults.remove(&(operation, host.raw()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::TargetConfig;
    use super::*;

    #[test]
    fn admit_checks_faults_then_capacity_then_limits() {
        let mut target = Target::new(TargetConfig {
            tcp_capacity: Some(0),
            max_path_mtu: Some(1500),
            ..TargetConfig::default()
        })
        .unwrap();
        let tcp = Handle::new(1, Layer::Tcp, 0, 7);
        target.inject_fault(tcp, Operation::InitiateOffload, Status::Resources);
        assert_eq!(target.admit(Layer::Tcp, tcp, 0, 0), Some(Status::Resources));
        assert_eq!(
            target.admit(Layer::Tcp, tcp, 0, 0),
            Some(Status::TcpEntries)
        );
        let path = Handle::new(1, Layer::Path, 0, 0);
        assert_eq!(
            target.admit(Layer::Path, path, 9000, 0),
            Some(Status::PathMtu)
        );
        assert_eq!(target.admit(Layer::Path, path, 1500, 0), None);
    }

    #[test]
    fn fail_rate_one_always_fails_and_is_reproducible() {
        let config = TargetConfig {
            fail_rate: 1.0,
            seed: 42,
            ..TargetConfig::default()
        };
        let mut a = Target::new(config.clone()).unwrap();
        let mut b = Target::new(config).unwrap();
        let h = Handle::new(1, Layer::Neighbor, 0, 0);
        for _ in 0..10 {
            let s = a.admit(Layer::Neighbor, h, 0, 0);
            assert!(s.is_some());
            assert_eq!(s, b.admit(Layer::Neighbor, h, 0, 0));
        }
        let bad = TargetConfig {
            fail_rate: 1.5,
            ..TargetConfig::default()
        };
        assert!(Target::new(bad).is_err());
    }

    #[test]
    fn a_restored_admission_puts_back_the_fault_and_the_generator() {
        let mut target = Target::new(TargetConfig {
            fail_rate: 0.5,
            ..TargetConfig::default()
        })
        .unwrap();
        let h = Handle::new(1, Layer::Neighbor, 0, 0);
        target.inject_fault(h, Operation::InitiateOffload, Status::Failure);
        let saved = target.admission_state(h);
        let before = target.clone();
        target.admit(Layer::Neighbor, h, 0, 0);
        target.admit(Layer::Neighbor, h, 0, 0);
        target.restore_admission_state(h, saved);
        assert_eq!(target, before);
    }
}
