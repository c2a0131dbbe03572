//! Why the target asks the host to upload a connection: NDIS TCP_UPLOAD_REASON, with its
//! values (ndischimney.h), and whether the host must honour it (docs/NDIS.md, "Target-initiated
//! events"). Python's `UploadReason` is checked against this table.

/// A reason carried by an upload request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum UploadReason {
    /// Too little activity (sends and receives) on the connection. Optional.
    LowActivity = 1,
    /// Too many transmitted segments are dropped. Optional.
    HighDropRate = 2,
    /// The receive buffers posted are too small. Optional.
    SmallIo = 3,
    /// No receive buffers are posted (NoBufferPreposting; the DDI tables spell it
    /// NoBufferProposting). Optional.
    NoBufferPreposting = 4,
    /// A segment with the URG bit arrived. Mandatory.
    ReceivedUrgentData = 5,
    /// Too many fragments arrive. Optional.
    HighFragmentation = 6,
    /// Too many segments arrive out of order. Optional.
    HighOutOfOrderPackets = 7,
    /// A timer of the connection expired. Mandatory.
    TimeoutExpiration = 8,
    /// The connection depends on state the host invalidated. Mandatory.
    InvalidState = 9,
    /// An upload for an unspecified reason. Mandatory.
    UploadRequested = 10,
    /// The hardware state of the connection is corrupt. Mandatory.
    HardwareFailure = 11,
}

impl UploadReason {
    pub const ALL: [UploadReason; 11] = [
        UploadReason::LowActivity,
        UploadReason::HighDropRate,
        UploadReason::SmallIo,
        UploadReason::NoBufferPreposting,
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

    /// Whether the host always uploads the connection for this reason. For an optional one
    /// it may decline, and the target then goes on processing the connection.
    pub fn is_mandatory(self) -> bool {
        matches!(
            self,
            UploadReason::HardwareFailure
                | UploadReason::InvalidState
                | UploadReason::ReceivedUrgentData
                | UploadReason::TimeoutExpiration
                | UploadReason::UploadRequested
        )
    }

    /// The name of the Python enum member.
    pub fn name(self) -> &'static str {
        match self {
            UploadReason::LowActivity => "LOW_ACTIVITY",
            UploadReason::HighDropRate => "HIGH_DROP_RATE",
            UploadReason::SmallIo => "SMALL_IO",
            UploadReason::NoBufferPreposting => "NO_BUFFER_PREPOSTING",
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
        assert_eq!(
            UploadReason::LowActivity as u8,
            1,
            "TCP_UPLOAD_REASON starts at LowActivity"
        );
    }

    #[test]
    fn five_reasons_are_mandatory_six_optional() {
        let mandatory = UploadReason::ALL
            .iter()
            .filter(|r| r.is_mandatory())
            .count();
        assert_eq!(mandatory, 5);
        assert!(!UploadReason::LowActivity.is_mandatory());
        assert!(UploadReason::HardwareFailure.is_mandatory());
    }
}
