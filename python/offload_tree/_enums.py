"""The enumerations of the model, with the values fixed by docs/DESIGN.md §6.

Each member's docstring gives the NDIS name it stands for.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ConnectionState", "EventKind", "Layer", "Operation", "Status", "UploadReason"]


def _document(enum: type[IntEnum], docs: dict[str, str]) -> None:
    """Attach a docstring to each member (IntEnum members cannot carry one inline)."""
    for name, doc in docs.items():
        enum[name].__doc__ = doc


class Layer(IntEnum):
    """The three layers of the offload state tree, bottom to top."""

    NEIGHBOR = 0
    PATH = 1
    TCP = 2


_document(
    Layer,
    {
        "NEIGHBOR": "Next-hop link-layer state (NEIGHBOR_OFFLOAD_STATE_*).",
        "PATH": "Source/destination IP pair and path MTU (PATH_OFFLOAD_STATE_*).",
        "TCP": "A TCP connection (TCP_OFFLOAD_STATE_*).",
    },
)


class Status(IntEnum):
    """The per-block status the offload target writes into a block list.

    ``PAUSED`` is this library's own status for an offload attempted while the target has
    asked for upload-all and not yet resumed (NDIS has the host simply not ask).
    """

    SUCCESS = 0
    PARTIAL_SUCCESS = 1
    FAILURE = 2
    RESOURCES = 3
    TCP_ENTRIES = 4
    PATH_ENTRIES = 5
    NEIGHBOR_ENTRIES = 6
    HW_ADDRESS_ENTRIES = 7
    IP_ADDRESS_ENTRIES = 8
    TCP_XMIT_BUFFER = 9
    TCP_RCV_BUFFER = 10
    TCP_RCV_WINDOW = 11
    VLAN_ENTRIES = 12
    VLAN_MISMATCH = 13
    PATH_MTU = 14
    CONNECTION_REJECTED = 15
    PAUSED = 16

    @property
    def is_failure(self) -> bool:
        """True for every status other than SUCCESS and PARTIAL_SUCCESS."""
        return self >= Status.FAILURE


_document(
    Status,
    {
        "SUCCESS": "NDIS_STATUS_SUCCESS: the block and all its immediate dependents offloaded.",
        "PARTIAL_SUCCESS": "NDIS_STATUS_OFFLOAD_PARTIAL_SUCCESS: the block offloaded, "
        "some immediate dependent did not.",
        "FAILURE": "NDIS_STATUS_FAILURE: uncategorised failure.",
        "RESOURCES": "NDIS_STATUS_RESOURCES: the target ran out of memory.",
        "TCP_ENTRIES": "NDIS_STATUS_OFFLOAD_TCP_ENTRIES: no room for another TCP connection.",
        "PATH_ENTRIES": "NDIS_STATUS_OFFLOAD_PATH_ENTRIES: no room for another path.",
        "NEIGHBOR_ENTRIES": "NDIS_STATUS_OFFLOAD_NEIGHBOR_ENTRIES: no room for another neighbor.",
        "HW_ADDRESS_ENTRIES": "NDIS_STATUS_OFFLOAD_HW_ADDRESS_ENTRIES: source MAC not supported.",
        "IP_ADDRESS_ENTRIES": "NDIS_STATUS_OFFLOAD_IP_ADDRESS_ENTRIES: no room for the IP address.",
        "TCP_XMIT_BUFFER": "NDIS_STATUS_OFFLOAD_TCP_XMIT_BUFFER: no send buffer available.",
        "TCP_RCV_BUFFER": "NDIS_STATUS_OFFLOAD_TCP_RCV_BUFFER: no receive buffer available.",
        "TCP_RCV_WINDOW": "NDIS_STATUS_OFFLOAD_TCP_RCV_WINDOW: initial receive window too large.",
        "VLAN_ENTRIES": "NDIS_STATUS_OFFLOAD_VLAN_ENTRIES: no room for another VLAN id.",
        "VLAN_MISMATCH": "NDIS_STATUS_OFFLOAD_VLAN_MISMATCH: VLAN id does not match.",
        "PATH_MTU": "NDIS_STATUS_OFFLOAD_PATH_MTU: path MTU larger than the target supports.",
        "CONNECTION_REJECTED": "NDIS_STATUS_OFFLOAD_CONNECTION_REJECTED: a poor candidate.",
        "PAUSED": "offload-tree's own: offload not accepted between UPLOAD_ALL and OFFLOAD_RESUME.",
    },
)


class UploadReason(IntEnum):
    """Why the target asks the host to upload a connection (NDIS TCP_UPLOAD_REASON).

    ``mandatory`` reasons are always honoured; the host may decline an optional one
    (``OffloadStateTree.process_events(decline=...)``), and the target then goes on
    processing the connection.
    """

    LOW_ACTIVITY = 1
    HIGH_DROP_RATE = 2
    SMALL_IO = 3
    NO_BUFFER_PREPOSTING = 4
    #: The DDI tables' spelling of NO_BUFFER_PREPOSTING (an alias).
    NO_BUFFER_PROPOSTING = 4
    RECEIVED_URGENT_DATA = 5
    HIGH_FRAGMENTATION = 6
    HIGH_OUT_OF_ORDER_PACKETS = 7
    TIMEOUT_EXPIRATION = 8
    INVALID_STATE = 9
    UPLOAD_REQUESTED = 10
    HARDWARE_FAILURE = 11

    @property
    def mandatory(self) -> bool:
        """True when the host always uploads the connection for this reason."""
        return self in _MANDATORY_REASONS


_MANDATORY_REASONS = frozenset(
    {
        UploadReason.HARDWARE_FAILURE,
        UploadReason.INVALID_STATE,
        UploadReason.RECEIVED_URGENT_DATA,
        UploadReason.TIMEOUT_EXPIRATION,
        UploadReason.UPLOAD_REQUESTED,
    }
)

for _reason in UploadReason:
    # The NDIS spelling of every reason is the CamelCase of its name (LowActivity, ...).
    _kind = "Mandatory" if _reason.mandatory else "Optional"
    _reason.__doc__ = "".join(p.title() for p in _reason.name.split("_")) + f" ({_kind})."
del _reason, _kind


class ConnectionState(IntEnum):
    """The RFC 793 state of a TCP connection (TCP_OFFLOAD_STATE_DELEGATED.State)."""

    CLOSED = 0
    LISTEN = 1
    SYN_SENT = 2
    SYN_RCVD = 3
    ESTABLISHED = 4
    FIN_WAIT_1 = 5
    FIN_WAIT_2 = 6
    CLOSE_WAIT = 7
    CLOSING = 8
    LAST_ACK = 9
    TIME_WAIT = 10


for _state in ConnectionState:
    _state.__doc__ = "TcpConnection" + "".join(p.title() for p in _state.name.split("_"))
del _state


class EventKind(IntEnum):
    """A target-initiated event queued on the host."""

    UPLOAD_REQUESTED = 0
    UPLOAD_ALL = 1
    OFFLOAD_RESUME = 2
    NEIGHBOR_REACHABILITY_QUERY = 3
    #: The name of NEIGHBOR_REACHABILITY_QUERY before 0.2; deprecated.
    NEIGHBOR_UNREACHABLE = 3
    DISCONNECT = 4
    ABORT = 5
    DISCONNECT_COMPLETE = 6
    SEND_BACKLOG_CHANGE = 7
    OFFLOAD_PAUSE = 8


_document(
    EventKind,
    {
        "UPLOAD_REQUESTED": "NdisTcpOffloadEventHandler with TcpIndicateRetrieve: "
        "upload one connection.",
        "UPLOAD_ALL": "NDIS_STATUS_UPLOAD_ALL: terminate everything, offload nothing more.",
        "OFFLOAD_RESUME": "NDIS_STATUS_OFFLOAD_RESUME: offloads are accepted again.",
        "NEIGHBOR_REACHABILITY_QUERY": "NeighborReachabilityQuery: the target asks the host "
        "whether a neighbor is still reachable; the host answers with its "
        "HostReachabilityDelta.",
        "DISCONNECT": "TcpIndicateDisconnect: the peer sent a FIN and the host has taken every "
        "byte received before it.",
        "ABORT": "TcpIndicateAbort: the peer sent an acceptable RST.",
        "DISCONNECT_COMPLETE": "NdisTcpOffloadDisconnectComplete: the peer acknowledged the "
        "host's FIN.",
        "OFFLOAD_PAUSE": "NDIS_STATUS_OFFLOAD_PAUSE: offload nothing more until the target "
        "resumes; what is offloaded goes on as normal.",
        "SEND_BACKLOG_CHANGE": "TcpIndicateSendBacklogChange: the connection's preferred send "
        "backlog (SendBacklogSize) moved; ProcessedEvent.size carries it.",
    },
)


class Operation(IntEnum):
    """A host-initiated operation: what ``SimulatedTarget.inject_fault`` aims a fault at.

    The names are the keys of ``tree.stats()["operations"]`` (lowercase); ``inject_fault``
    takes a member or that name.
    """

    INITIATE_OFFLOAD = 0
    TERMINATE = 1
    UPDATE = 2
    QUERY = 3
    INVALIDATE = 4

    def can_fail_with(self, status: int) -> bool:
        """Whether a target can complete this operation with failure ``status``: any failure
        it can report for an offload; FAILURE only for the others, which complete with
        SUCCESS or FAILURE (the "Returning the completion status" page of each)."""
        if self is Operation.INITIATE_OFFLOAD:
            return Status.FAILURE <= status <= Status.CONNECTION_REJECTED
        return status == Status.FAILURE


_document(
    Operation,
    {
        "INITIATE_OFFLOAD": "MiniportInitiateOffload: the fault fails the next offload attempt.",
        "TERMINATE": "MiniportTerminateOffload: the next upload, whatever caused it, finds "
        "corrupt hardware state and completes with FAILURE.",
        "UPDATE": "MiniportUpdateOffload: the next update completes with FAILURE and the host "
        "terminates the object.",
        "QUERY": "MiniportQueryOffload: the next query finds corrupt hardware state, completes "
        "with FAILURE, and the host terminates the object.",
        "INVALIDATE": "MiniportInvalidateOffload: the next invalidate finds corrupt hardware "
        "state, completes with FAILURE, and the target asks for a HARDWARE_FAILURE upload of "
        "every connection that relies on the object.",
    },
)
