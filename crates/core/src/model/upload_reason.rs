//! Why the target asks the host to upload a connection (NDIS TCP_UPLOAD_REASON), with the
//! values of docs/DESIGN.md §6. Python's `UploadReason` is checked against this table.

/// A reason carried by an upload request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum UploadReason {
    LowResources = 1,
    HighDropRate = 2,
    SmallIo = 3,
    NoBufferProposting = 4,
    ReceivedUrgentData = 5,
    HighFragmentation = 6,
    HighOutOfOrderPackets = 7,
    TimeoutExpiration = 8,
    /// The one the host raises itself: the target holds state the host invalidated.
    InvalidState = 9,
    UploadRequested = 10,
    HardwareFailure = 11,
}

impl UploadReason {
    pub const ALL: [UploadReason; 11] = [
        UploadReason::LowResources,
        UploadReason::HighDropRate,
        UploadReason::SmallIo,
        UploadReason::NoBufferProposting,
        UploadReason::ReceivedUrgentData,
        UploadReason::HighFragmentation,
        UploadReason::HighOutOfOrderPackets,
        UploadReason::TimeoutExpiration,
        UploadReason::InvalidState,
        UploadReason::UploadRequested,
        UploadReason::HardwareFailure,
    ];

    pub fn from_u8(value: u8) -> Option<UploadReason> {
        Self::ALL.iter().copied().find(|r| *r as u8 == value)
    }

    /// The name of the Python enum member.
    pub fn name(self) -> &'static str {
        match self {
            UploadReason::LowResources => "LOW_RESOURCES",
            UploadReason::HighDropRate => "HIGH_DROP_RATE",
            UploadReason::SmallIo => "SMALL_IO",
            UploadReason::NoBufferProposting => "NO_BUFFER_PROPOSTING",
            UploadReason::ReceivedUrgentData => "RECEIVED_URGENT_DATA",
            UploadReason::HighFragmentation => "HIGH_FRAGMENTATION",
            UploadReason::HighOutOfOrderPackets => "HIGH_OUT_OF_ORDER_PACKETS",
            UploadReason::TimeoutExpiration => "TIMEOUT_EXPIRATION",
            UploadReason::InvalidState => "INVALID_STATE",
            UploadReason::UploadRequested => "UPLOAD_REQUESTED",
            UploadReason::HardwareFailure => "HARDWARE_FAILURE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_one_to_eleven() {
        for (i, reason) in UploadReason::ALL.iter().enumerate() {
            assert_eq!(*reason as usize, i + 1);
            assert_eq!(UploadReason::from_u8(*reason as u8), Some(*reason));
        }
        assert_eq!(UploadReason::from_u8(0), None);
        assert_eq!(UploadReason::from_u8(12), None);
    }
}
