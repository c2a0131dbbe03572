//! The vocabulary every other folder speaks: handles and layers, the arena they index, the
//! state-variable tables and the state structs laid out by them, addresses, statuses and the
//! other fixed tables (upload reasons, event kinds, connection states, the operations a fault aims at), loosely typed input
//! values, the error catalogue and the allocation budget. Leaf modules: nothing here imports from outside `model`.

mod address;
mod arena;
mod budget;
mod columns;
mod connection_state;
mod error;
mod event_kind;
mod fields;
mod handle;
mod operation;
mod state;
mod status;
mod upload_reason;
mod value;

pub use budget::Budget;
pub use columns::{ColumnData, Columns};
pub use connection_state::ConnectionState;
pub use error::{Error, ErrorCode, ErrorKind, Result, ITEM_SUFFIX};
pub use event_kind::EventKind;
pub use fields::{fields, FieldKind, FieldSpec, TcpDelegated, ValueType};
pub use handle::{Handle, Layer};
pub use operation::Operation;
pub use status::{Status, NO_STATUS};
pub use upload_reason::UploadReason;
pub use value::Value;

pub(crate) use address::{format_mac, ip_octets, mac_from_int, Mac};
pub(crate) use arena::{Arena, SlotColumn};
pub(crate) use budget::out_of_memory;
pub(crate) use columns::{bad_value, check_length};
pub(crate) use fields::{
    check_port, check_range, check_u32, check_vlan, lookup, TcpCached, TcpConstant,
    DEFAULT_PATH_MTU,
};
pub(crate) use handle::{next_tree_id, GENERATION_LIMIT};
pub(crate) use state::{NeighborState, PathState, TcpField, TcpState};

#[cfg(test)]
pub(crate) use address::parse_ip;
