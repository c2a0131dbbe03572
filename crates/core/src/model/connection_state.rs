//! The RFC 793 state of a connection, the delegated variable `state`
//! (TCP_OFFLOAD_STATE_DELEGATED.State); Python's `ConnectionState` is checked against it.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ConnectionState {
    Closed = 0,
    Listen = 1,
    SynSent = 2,
    SynRcvd = 3,
    Established = 4,
    FinWait1 = 5,
    FinWait2 = 6,
    CloseWait = 7,
    Closing = 8,
    LastAck = 9,
    TimeWait = 10,
}

impl ConnectionState {
    pub const ALL: [ConnectionState; 11] = [
        ConnectionState::Closed,
        ConnectionState::Listen,
        ConnectionState::SynSent,
        ConnectionState::SynRcvd,
        ConnectionState::Established,
        ConnectionState::FinWait1,
        ConnectionState::FinWait2,
        ConnectionState::CloseWait,
        ConnectionState::Closing,
        ConnectionState::LastAck,
        ConnectionState::TimeWait,
    ];

    /// The state of a delegated `State` value, if it names one.
    pub fn from_u8(value: u8) -> Option<ConnectionState> {
        ConnectionState::ALL.get(usize::from(value)).copied()
    }

    /// The host's half is closed: it sent its FIN (FIN-WAIT-1, FIN-WAIT-2, CLOSING,
    /// LAST-ACK, TIME-WAIT), or the connection is CLOSED. RFC 793 refuses SEND there.
    pub fn send_closed(self) -> bool {
        matches!(
            self,
            ConnectionState::FinWait1
                | ConnectionState::FinWait2
                | ConnectionState::Closing
                | ConnectionState::LastAck
                | ConnectionState::TimeWait
                | ConnectionState::Closed
        )
    }

    /// The name of the Python enum member.
    pub fn name(self) -> &'static str {
        match self {
            ConnectionState::Closed => "CLOSED",
            ConnectionState::Listen => "LISTEN",
            ConnectionState::SynSent => "SYN_SENT",
            ConnectionState::SynRcvd => "SYN_RCVD",
            ConnectionState::Established => "ESTABLISHED",
            ConnectionState::FinWait1 => "FIN_WAIT_1",
            ConnectionState::FinWait2 => "FIN_WAIT_2",
            ConnectionState::CloseWait => "CLOSE_WAIT",
            ConnectionState::Closing => "CLOSING",
            ConnectionState::LastAck => "LAST_ACK",
            ConnectionState::TimeWait => "TIME_WAIT",
        }
    }
}
