//! Per-block completion status of an offload (NDIS_STATUS_* values returned in each
//! NDIS_MINIPORT_OFFLOAD_BLOCK_LIST). The numbers are ours and fixed (docs/DESIGN.md §6);
//! Python's `Status` enum is checked against this table by `tests/test_parity.py`.

/// A block's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Status {
    /// NDIS_STATUS_SUCCESS: the block and all its immediate dependents were offloaded.
    Success = 0,
    /// NDIS_STATUS_OFFLOAD_PARTIAL_SUCCESS: offloaded, but some immediate dependent was not.
    PartialSuccess = 1,
    /// NDIS_STATUS_FAILURE: uncategorised failure.
    Failure = 2,
    /// NDIS_STATUS_RESOURCES: out of memory.
    Resources = 3,
    /// NDIS_STATUS_OFFLOAD_TCP_ENTRIES: no room for another connection.
    TcpEntries = 4,
    /// NDIS_STATUS_OFFLOAD_PATH_ENTRIES: no room for another path.
    PathEntries = 5,
    /// NDIS_STATUS_OFFLOAD_NEIGHBOR_ENTRIES: no room for another neighbor.
    NeighborEntries = 6,
    /// NDIS_STATUS_OFFLOAD_HW_ADDRESS_ENTRIES: source MAC not supported.
    HwAddressEntries = 7,
    /// NDIS_STATUS_OFFLOAD_IP_ADDRESS_ENTRIES.
    IpAddressEntries = 8,
    /// NDIS_STATUS_OFFLOAD_TCP_XMIT_BUFFER.
    TcpXmitBuffer = 9,
    /// NDIS_STATUS_OFFLOAD_TCP_RCV_BUFFER.
    TcpRcvBuffer = 10,
    /// NDIS_STATUS_OFFLOAD_TCP_RCV_WINDOW: initial receive window above the target's limit.
    TcpRcvWindow = 11,
    /// NDIS_STATUS_OFFLOAD_VLAN_ENTRIES.
    VlanEntries = 12,
    /// NDIS_STATUS_OFFLOAD_VLAN_MISMATCH.
    VlanMismatch = 13,
    /// NDIS_STATUS_OFFLOAD_PATH_MTU: path MTU above the target's limit.
    PathMtu = 14,
    /// NDIS_STATUS_OFFLOAD_CONNECTION_REJECTED: the target judges the connection a poor candidate.
    ConnectionRejected = 15,
    /// Ours: the target asked for upload-all and has not resumed, so it accepts no offload.
    Paused = 16,
}

/// "No status yet" in a block list that was only built, not processed.
pub const NO_STATUS: u8 = 255;

impl Status {
    pub const ALL: [Status; 17] = [
        Status::Success,
        Status::PartialSuccess,
        Status::Failure,
        Status::Resources,
        Status::TcpEntries,
        Status::PathEntries,
        Status::NeighborEntries,
        Status::HwAddressEntries,
        Status::IpAddressEntries,
        Status::TcpXmitBuffer,
        Status::TcpRcvBuffer,
        Status::TcpRcvWindow,
        Status::VlanEntries,
        Status::VlanMismatch,
        Status::PathMtu,
        Status::ConnectionRejected,
        Status::Paused,
    ];

    pub fn from_u8(value: u8) -> Option<Status> {
        Self::ALL.get(usize::from(value)).copied()
    }

    pub fn is_failure(self) -> bool {
        !matches!(self, Status::Success | Status::PartialSuccess)
    }

    /// Statuses a test may inject as a fault: the failures a target can report by itself.
    pub fn is_injectable(self) -> bool {
        self.is_failure() && self != Status::Paused
    }

    /// The name Python's `Status` enum uses, and the key of the stats' "failed" dictionaries.
    pub fn name(self) -> &'static str {
        match self {
            Status::Success => "SUCCESS",
            Status::PartialSuccess => "PARTIAL_SUCCESS",
            Status::Failure => "FAILURE",
            Status::Resources => "RESOURCES",
            Status::TcpEntries => "TCP_ENTRIES",
            Status::PathEntries => "PATH_ENTRIES",
            Status::NeighborEntries => "NEIGHBOR_ENTRIES",
            Status::HwAddressEntries => "HW_ADDRESS_ENTRIES",
            Status::IpAddressEntries => "IP_ADDRESS_ENTRIES",
            Status::TcpXmitBuffer => "TCP_XMIT_BUFFER",
            Status::TcpRcvBuffer => "TCP_RCV_BUFFER",
            Status::TcpRcvWindow => "TCP_RCV_WINDOW",
            Status::VlanEntries => "VLAN_ENTRIES",
            Status::VlanMismatch => "VLAN_MISMATCH",
            Status::PathMtu => "PATH_MTU",
            Status::ConnectionRejected => "CONNECTION_REJECTED",
            Status::Paused => "PAUSED",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for status in Status::ALL {
            assert_eq!(Status::from_u8(status as u8), Some(status));
        }
        assert_eq!(Status::from_u8(17), None);
        assert_eq!(Status::from_u8(NO_STATUS), None);
    }

    #[test]
    fn only_target_failures_are_injectable() {
        assert!(!Status::Success.is_injectable());
        assert!(!Status::PartialSuccess.is_injectable());
        assert!(!Status::Paused.is_injectable());
        assert!(Status::Resources.is_injectable());
    }
}
