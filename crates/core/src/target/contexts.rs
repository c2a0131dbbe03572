//! The target's records of offloaded objects ("contexts"), each linked to the context of the
//! object it depends on: the target's internal state tree (docs/NDIS.md, "The tree"), which
//! invariant 5 of docs/SPEC.md says mirrors the host's links.

use crate::model::{Handle, Mac, TcpDelegated};

/// The target's copy of an offloaded neighbor.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TargetNeighbor {
    pub host: Handle,
    pub mac: Mac,
    pub host_reachability_delta: u32,
    pub nic_reachability_delta: u32,
    pub invalid: bool,
    /// A NeighborReachabilityQuery is indicated and the host has not answered yet: the
    /// target does not ask again meanwhile.
    pub query_pending: bool,
}

/// The target's copy of an offloaded path, linked to its neighbor's context.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TargetPath {
    pub host: Handle,
    pub neighbor: u32,
    pub path_mtu: u16,
    pub invalid: bool,
}

/// "The live state is still the host's snapshot": `TargetTcp::diverged` before any change.
pub(crate) const NOT_DIVERGED: u32 = u32::MAX;

/// The target's record of an offloaded connection, linked to its path's context.
///
/// Its delegated state is copy-on-write (see [`super::traffic`]): `diverged` names its own
/// copy once traffic changed the state, and until then the host's frozen copy is the live one.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TargetTcp {
    pub host: Handle,
    pub path: u32,
    /// Slot in `Target::diverged` of the live delegated state once traffic changed it, else
    /// `NOT_DIVERGED` (the live state is the host's snapshot).
    pub diverged: u32,
    pub invalid: bool,
    /// The target asked for the upload for a mandatory reason: it processes no more I/O on
    /// the connection (docs/NDIS.md, "Target-initiated events").
    pub upload_requested: bool,
    /// The peer's FIN arrived while received data was still buffered: TcpIndicateDisconnect
    /// waits until the host's application has taken that data.
    pub fin_pending: bool,
}

impl TargetTcp {
    /// A fresh context: the live delegated state is the host's snapshot.
    pub(crate) fn new(host: Handle, path: u32) -> Self {
        Self {
            host,
            path,
            diverged: NOT_DIVERGED,
            invalid: false,
            upload_requested: false,
            fin_pending: false,
        }
    }
}

/// What a terminated object hands back to the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Upload {
    Neighbor {
        nic_reachability_delta: u32,
    },
    Path,
    Tcp {
        /// The live delegated state, or None when it is still the host's snapshot.
        delegated: Option<TcpDelegated>,
        received: Vec<u8>,
        /// Posted send data not acknowledged (transmitted first, then unsent), in order.
        send_data: Vec<u8>,
        /// Bytes placed in receive requests that were not full: the host's now.
        placed: Vec<u8>,
        /// How many bytes at the end of `received` came on the non-offload path during the
        /// upload: the host's stack takes them in sequence (RcvNxt moves past them).
        non_offload: usize,
    },
}
