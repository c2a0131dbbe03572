//! The state-variable tables: every variable of the three layers with its kind, value type,
//! inclusive range and default (docs/DESIGN.md §5).
//!
//! This is the source of the table: creation, `update`, the state read-out and the Python
//! side all follow it. `python/offload_tree/_fields.py` is the Python copy, checked against
//! this one by `tests/test_parity.py`. The TCP groups are declared with [`field_group!`],
//! which writes the struct, its `Default` and its table from one list.

use super::error::Result;
use super::handle::Layer;
use crate::error;

/// Who owns a variable (NDIS `*_OFFLOAD_STATE_CONST` / `_CACHED` / `_DELEGATED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// Fixed for the life of the offload.
    Constant,
    /// Owned by the host, pushed to the target by update.
    Cached,
    /// Owned by the target while offloaded; returned by query and terminate.
    Delegated,
}

impl FieldKind {
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::Constant => "constant",
            FieldKind::Cached => "cached",
            FieldKind::Delegated => "delegated",
        }
    }
}

/// How a variable's values are written and read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// A range-checked integer.
    Int,
    /// A flag: Python bools, 0 or 1 in update arrays.
    Bool,
    /// A 48-bit link-layer address.
    Mac,
    /// An IPv4 or IPv6 address (no integer range).
    Ip,
}

impl ValueType {
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Int => "int",
            ValueType::Bool => "bool",
            ValueType::Mac => "mac",
            ValueType::Ip => "ip",
        }
    }
}

/// One variable: its name, layer, kind, value type, inclusive range and default.
///
/// `default` is None for a variable without one: a required one (`mac`, the ports, the
/// addresses) or an optional one that may stay unset (`source_mac`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: &'static str,
    pub layer: Layer,
    pub kind: FieldKind,
    pub value_type: ValueType,
    pub min: u64,
    pub max: u64,
    pub default: Option<u64>,
    pub required: bool,
}

impl FieldSpec {
    pub fn is_bool(&self) -> bool {
        self.value_type == ValueType::Bool
    }

    /// Range check with a message naming the field and its range.
    pub fn check(&self, value: i128) -> Result<u64> {
        if value < i128::from(self.min) || value > i128::from(self.max) {
            return Err(if self.is_bool() {
                error!(BoolOutOfRange, name = self.name, value = value)
            } else {
                error!(
                    OutOfRange,
                    name = self.name,
                    value = value,
                    min = self.min,
                    max = self.max
                )
            });
        }
        Ok(value as u64)
    }
}

/// Conversion between a stored field and the `u64` the tables speak.
pub(crate) trait FieldValue: Copy {
    const VALUE_TYPE: ValueType;
    fn to_u64(self) -> u64;
    fn from_u64(value: u64) -> Self;
}

macro_rules! int_field_value {
    ($($t:ty),*) => {$(
        impl FieldValue for $t {
            const VALUE_TYPE: ValueType = ValueType::Int;
            fn to_u64(self) -> u64 { u64::from(self) }
            // Values are range-checked against the FieldSpec before they get here.
            fn from_u64(value: u64) -> Self { value as $t }
        }
    )*};
}
int_field_value!(u8, u16, u32);

impl FieldValue for bool {
    const VALUE_TYPE: ValueType = ValueType::Bool;
    fn to_u64(self) -> u64 {
        u64::from(self)
    }
    fn from_u64(value: u64) -> Self {
        value != 0
    }
}

/// Declares a group of numeric variables: the struct, its `Default`, its `FieldSpec` table
/// and index-based access, all from one list so they cannot drift apart. A default of
/// `None` makes the variable required (the struct's own default is then its minimum).
macro_rules! field_group {
    ($(#[$meta:meta])* $name:ident, $layer:expr, $kind:expr, {
        $($(#[$fmeta:meta])* $field:ident : $ty:ty = $default:expr, $min:expr, $max:expr;)*
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $($field: <$ty as FieldValue>::from_u64(match $default {
                    Some(value) => value,
                    None => $min,
                }),)* }
            }
        }

        impl $name {
            pub const SPECS: &'static [FieldSpec] = &[$(FieldSpec {
                name: stringify!($field),
                layer: $layer,
                kind: $kind,
                value_type: <$ty as FieldValue>::VALUE_TYPE,
                min: $min,
                max: $max,
                default: $default,
                required: is_required($default),
            },)*];

            /// Value of the `index`-th field of `SPECS`.
            pub fn get(&self, index: usize) -> u64 {
                self.get_all()[index]
            }

            /// Every value, in the order of `SPECS`.
            pub fn get_all(&self) -> [u64; Self::SPECS.len()] {
                [$(self.$field.to_u64(),)*]
            }

            /// Sets the `index`-th field; the value must have passed `SPECS[index].check`.
            pub fn set(&mut self, index: usize, value: u64) {
                let mut i = 0usize;
                $(
                    if i == index {
                        self.$field = <$ty as FieldValue>::from_u64(value);
                        return;
                    }
                    i += 1;
                )*
                let _ = i;
            }

            pub fn index_of(name: &str) -> Option<usize> {
                Self::SPECS.iter().position(|spec| spec.name == name)
            }
        }
    };
}

/// A variable without a default must be given (`field_group!` tables).
const fn is_required(default: Option<u64>) -> bool {
    default.is_none()
}

pub(crate) const U8: u64 = u8::MAX as u64;
pub(crate) const U16: u64 = u16::MAX as u64;
pub(crate) const U32: u64 = u32::MAX as u64;
pub(crate) const MAC_MAX: u64 = (1 << 48) - 1;
pub(crate) const VLAN_MAX: u64 = 4095;
pub(crate) const MTU_MIN: u64 = 68;
pub(crate) const MTU_MAX: u64 = 65535;
/// The path MTU of a path created without one.
pub(crate) const DEFAULT_PATH_MTU: u64 = 1500;

field_group!(
    /// TCP constant variables (NDIS `TCP_OFFLOAD_STATE_CONST`).
    TcpConstant, Layer::Tcp, FieldKind::Constant, {
    local_port: u16 = None, 0, U16;
    remote_port: u16 = None, 0, U16;
    snd_wind_scale: u8 = Some(0), 0, 14;
    rcv_wind_scale: u8 = Some(0), 0, 14;
    remote_mss: u16 = Some(1460), 0, U16;
    hash_value: u32 = Some(0), 0, U32;
    timestamps: bool = Some(0), 0, 1;
    sack: bool = Some(0), 0, 1;
    window_scaling: bool = Some(0), 0, 1;
});

field_group!(
    /// TCP cached variables (NDIS `TCP_OFFLOAD_STATE_CACHED`).
    TcpCached, Layer::Tcp, FieldKind::Cached, {
    initial_rcv_wnd: u32 = Some(65535), 0, U32;
    rcv_indication_size: u32 = Some(0), 0, U32;
    ka_probe_count: u8 = Some(10), 0, U8;
    ka_timeout: u32 = Some(7_200_000), 0, U32;
    ka_interval: u32 = Some(1000), 0, U32;
    max_rt: u32 = Some(10), 0, U32;
    flow_label: u32 = Some(0), 0, (1 << 20) - 1;
    ttl_or_hop_limit: u8 = Some(128), 0, U8;
    tos_or_traffic_class: u8 = Some(0), 0, U8;
    user_priority: u8 = Some(0), 0, 7;
    keep_alive: bool = Some(0), 0, 1;
    nagle: bool = Some(1), 0, 1;
});

field_group!(
    /// TCP delegated variables (NDIS `TCP_OFFLOAD_STATE_DELEGATED`). Sequence numbers wrap.
    TcpDelegated, Layer::Tcp, FieldKind::Delegated, {
    /// RFC 793 connection state (`ConnectionState`): ESTABLISHED by default.
    state: u8 = Some(4), 0, 10;
    rcv_nxt: u32 = Some(0), 0, U32;
    rcv_wnd: u32 = Some(65535), 0, U32;
    snd_una: u32 = Some(0), 0, U32;
    snd_nxt: u32 = Some(0), 0, U32;
    snd_max: u32 = Some(0), 0, U32;
    snd_wnd: u32 = Some(65535), 0, U32;
    max_snd_wnd: u32 = Some(65535), 0, U32;
    send_wl1: u32 = Some(0), 0, U32;
    cwnd: u32 = Some(14600), 0, U32;
    ssthresh: u32 = Some(65535), 0, U32;
    srtt: u32 = Some(0), 0, U32;
    rttvar: u32 = Some(0), 0, U32;
    ts_recent: u32 = Some(0), 0, U32;
    ts_recent_age: u32 = Some(0), 0, U32;
    ts_time: u32 = Some(0), 0, U32;
    total_rt: u32 = Some(0), 0, U32;
    dup_ack_count: u8 = Some(0), 0, U8;
    snd_wnd_probe_count: u8 = Some(0), 0, U8;
    keepalive_probe_count: u8 = Some(0), 0, U8;
    keepalive_timeout_delta: u32 = Some(U32), 0, U32;
    retransmit_count: u8 = Some(0), 0, U8;
    retransmit_timeout_delta: u32 = Some(U32), 0, U32;
    send_backlog_size: u32 = Some(0), 0, U32;
    dwnd: u32 = Some(0), 0, U32;
});

const fn spec(
    layer: Layer,
    kind: FieldKind,
    name: &'static str,
    value_type: ValueType,
    (min, max): (u64, u64),
    default: Option<u64>,
    required: bool,
) -> FieldSpec {
    FieldSpec {
        name,
        layer,
        kind,
        value_type,
        min,
        max,
        default,
        required,
    }
}

use FieldKind::{Cached, Constant, Delegated};
use ValueType::{Int, Ip, Mac};

/// Neighbor variables (NDIS `NEIGHBOR_OFFLOAD_STATE_*`), in field order.
pub(crate) const NEIGHBOR_FIELDS: &[FieldSpec] = &[
    // DlSourceAddress: optional, unset by default.
    spec(
        Layer::Neighbor,
        Constant,
        "source_mac",
        Mac,
        (0, MAC_MAX),
        None,
        false,
    ),
    spec(
        Layer::Neighbor,
        Constant,
        "vlan_id",
        Int,
        (0, VLAN_MAX),
        Some(0),
        false,
    ),
    // DlDestinationAddress, the next hop's link-layer address.
    spec(
        Layer::Neighbor,
        Cached,
        "mac",
        Mac,
        (0, MAC_MAX),
        None,
        true,
    ),
    spec(
        Layer::Neighbor,
        Cached,
        "host_reachability_delta",
        Int,
        (0, U32),
        Some(0),
        false,
    ),
    spec(
        Layer::Neighbor,
        Delegated,
        "nic_reachability_delta",
        Int,
        (0, U32),
        Some(0),
        false,
    ),
];

/// Path variables (NDIS `PATH_OFFLOAD_STATE_*`; the reference defines no delegated one).
pub(crate) const PATH_FIELDS: &[FieldSpec] = &[
    spec(Layer::Path, Constant, "source", Ip, (0, 0), None, true),
    spec(Layer::Path, Constant, "destination", Ip, (0, 0), None, true),
    spec(
        Layer::Path,
        Cached,
        "path_mtu",
        Int,
        (MTU_MIN, MTU_MAX),
        Some(DEFAULT_PATH_MTU),
        false,
    ),
];

/// Every variable of `layer` in field order: constant, then cached, then delegated.
pub fn fields(layer: Layer) -> impl Iterator<Item = &'static FieldSpec> {
    let groups: [&'static [FieldSpec]; 3] = match layer {
        Layer::Neighbor => [NEIGHBOR_FIELDS, &[], &[]],
        Layer::Path => [PATH_FIELDS, &[], &[]],
        Layer::Tcp => [TcpConstant::SPECS, TcpCached::SPECS, TcpDelegated::SPECS],
    };
    groups.into_iter().flatten()
}

/// The variable `name` of `layer`, if it has one.
pub(crate) fn lookup(layer: Layer, name: &str) -> Option<&'static FieldSpec> {
    fields(layer).find(|spec| spec.name == name)
}

pub(crate) fn check_range(name: &str, value: i128, min: u64, max: u64) -> Result<u64> {
    if value < i128::from(min) || value > i128::from(max) {
        return Err(error!(
            OutOfRange,
            name = name,
            value = value,
            min = min,
            max = max
        ));
    }
    Ok(value as u64)
}

pub(crate) fn check_mtu(value: i128) -> Result<u16> {
    check_range("path_mtu", value, MTU_MIN, MTU_MAX).map(|v| v as u16)
}

pub(crate) fn check_vlan(value: i128) -> Result<u16> {
    check_range("vlan_id", value, 0, VLAN_MAX).map(|v| v as u16)
}

pub(crate) fn check_u32(name: &str, value: i128) -> Result<u32> {
    check_range(name, value, 0, U32).map(|v| v as u32)
}

pub(crate) fn check_port(name: &str, value: i128) -> Result<u16> {
    check_range(name, value, 0, U16).map(|v| v as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_tables_match_structs() {
        let d = TcpDelegated::default();
        for (i, spec) in TcpDelegated::SPECS.iter().enumerate() {
            assert_eq!(Some(d.get(i)), spec.default, "{}", spec.name);
        }
        assert_eq!(TcpConstant::SPECS.len(), 9);
        assert_eq!(TcpCached::SPECS.len(), 12);
        assert_eq!(TcpDelegated::SPECS.len(), 25);
        assert!(TcpCached::default().nagle);
        assert!(TcpConstant::SPECS[0].required && !TcpConstant::SPECS[2].required);
    }

    #[test]
    fn set_by_index_round_trips() {
        let mut d = TcpDelegated::default();
        for i in 0..TcpDelegated::SPECS.len() {
            d.set(i, 7);
            assert_eq!(d.get(i), 7);
        }
    }

    #[test]
    fn names_are_unique_across_layers() {
        let mut names: Vec<&str> = Layer::ALL
            .iter()
            .flat_map(|&l| fields(l).map(|s| s.name))
            .collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    #[test]
    fn every_spec_names_its_layer_and_keeps_kind_order() {
        for layer in Layer::ALL {
            let kinds: Vec<FieldKind> = fields(layer)
                .inspect(|s| assert_eq!(s.layer, layer, "{}", s.name))
                .map(|s| s.kind)
                .collect();
            let rank = |k: &FieldKind| *k as u8;
            assert!(
                kinds.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])),
                "{layer}"
            );
        }
        assert_eq!(lookup(Layer::Path, "path_mtu").unwrap().kind, Cached);
        assert!(lookup(Layer::Path, "nagle").is_none());
    }
}
