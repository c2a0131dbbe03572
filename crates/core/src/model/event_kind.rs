//! The kinds of target-initiated event queued on the host (docs/DESIGN.md §6); Python's
//! `EventKind` is checked against this table.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EventKind {
    /// The target asks the host to upload one connection (NdisTcpOffloadEventHandler).
    UploadRequested = 0,
    /// NDIS_STATUS_UPLOAD_ALL.
    UploadAll = 1,
    /// NDIS_STATUS_OFFLOAD_RESUME.
    OffloadResume = 2,
    /// NeighborReachabilityQuery: the target asks the host whether a neighbor is still
    /// reachable (NDIS "Making a NeighborReachabilityQuery Indication").
    NeighborReachabilityQuery = 3,
    /// TcpIndicateDisconnect: the peer sent a FIN, and the host's application has taken
    /// every byte received before it (NDIS "Responding to the Reception of a FIN or RST Segment").
    Disconnect = 4,
    /// TcpIndicateAbort: the peer sent an acceptable RST.
    Abort = 5,
    /// NdisTcpOffloadDisconnectComplete: the peer acknowledged the host's FIN
    /// (NDIS "Responding to a Disconnect Request").
    DisconnectComplete = 6,
    /// TcpIndicateSendBacklogChange: the connection's preferred send backlog changed
    /// (SendBacklogSize; NDIS "Indicating TCP Chimney-Specific Events").
    SendBacklogChange = 7,
    /// NDIS_STATUS_OFFLOAD_PAUSE (its NDIS page bears the name): the host offloads nothing
    /// more until the target resumes.
    OffloadPause = 8,
}

impl EventKind {
    pub const ALL: [EventKind; 9] = [
        EventKind::UploadRequested,
        EventKind::UploadAll,
        EventKind::OffloadResume,
        EventKind::NeighborReachabilityQuery,
        EventKind::Disconnect,
        EventKind::Abort,
        EventKind::DisconnectComplete,
        EventKind::SendBacklogChange,
        EventKind::OffloadPause,
    ];

    /// The name of the Python enum member.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::UploadRequested => "UPLOAD_REQUESTED",
            EventKind::UploadAll => "UPLOAD_ALL",
            EventKind::OffloadResume => "OFFLOAD_RESUME",
            EventKind::NeighborReachabilityQuery => "NEIGHBOR_REACHABILITY_QUERY",
            EventKind::Disconnect => "DISCONNECT",
            EventKind::Abort => "ABORT",
            EventKind::DisconnectComplete => "DISCONNECT_COMPLETE",
            EventKind::SendBacklogChange => "SEND_BACKLOG_CHANGE",
            EventKind::OffloadPause => "OFFLOAD_PAUSE",
        }
    }
}
