//! State variables of the three kinds of state object (SPEC §1, CHIMNEY-NOTES "State
//! variables"), their defaults, ranges and parsing.
//!
//! Every numeric variable is described by a `FieldSpec` so that creation, `update` and the
//! Python dictionaries share one table: a name, its kind, its range and its default.

use std::net::IpAddr;

use crate::error::{Error, Result};
use crate::handle::Layer;

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

/// One numeric variable: its name, kind, inclusive range and default.
#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: FieldKind,
    pub min: u64,
    pub max: u64,
    pub default: u64,
    pub is_bool: bool,
}

impl FieldSpec {
    /// Range check with a message naming the field and its range.
    pub fn check(&self, value: i128) -> Result<u64> {
        if value < i128::from(self.min) || value > i128::from(self.max) {
            return Err(Error::validation(if self.is_bool {
                format!("{} must be True or False, got {value}", self.name)
            } else {
                format!(
                    "{}={value} is out of range {}..{}",
                    self.name, self.min, self.max
                )
            }));
        }
        Ok(value as u64)
    }
}

/// Conversion between a stored field and the `u64` the tables speak.
pub trait FieldValue: Copy {
    const IS_BOOL: bool;
    fn to_u64(self) -> u64;
    fn from_u64(value: u64) -> Self;
}

macro_rules! int_field_value {
    ($($t:ty),*) => {$(
        impl FieldValue for $t {
            const IS_BOOL: bool = false;
            fn to_u64(self) -> u64 { u64::from(self) }
            // Values are range-checked against the FieldSpec before they get here.
            fn from_u64(value: u64) -> Self { value as $t }
        }
    )*};
}
int_field_value!(u8, u16, u32);

impl FieldValue for bool {
    const IS_BOOL: bool = true;
    fn to_u64(self) -> u64 {
        u64::from(self)
    }
    fn from_u64(value: u64) -> Self {
        value != 0
    }
}

/// Declares a group of numeric variables: the struct, its `Default`, its `FieldSpec` table
/// and index-based access, all from one list so they cannot drift apart.
macro_rules! field_group {
    ($(#[$meta:meta])* $name:ident, $kind:expr, {
        $($(#[$fmeta:meta])* $field:ident : $ty:ty = $default:expr, $min:expr, $max:expr;)*
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $($field: <$ty as FieldValue>::from_u64($default),)* }
            }
        }

        impl $name {
            pub const SPECS: &'static [FieldSpec] = &[$(FieldSpec {
                name: stringify!($field),
                kind: $kind,
                min: $min,
                max: $max,
                default: $default,
                is_bool: <$ty as FieldValue>::IS_BOOL,
            },)*];

            /// Value of the `index`-th field of `SPECS`.
            pub fn get(&self, index: usize) -> u64 {
                let values = [$(self.$field.to_u64(),)*];
                values[index]
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

const U8: u64 = u8::MAX as u64;
const U16: u64 = u16::MAX as u64;
const U32: u64 = u32::MAX as u64;

field_group!(
    /// TCP constant variables (NDIS `TCP_OFFLOAD_STATE_CONST`).
    TcpConstant, FieldKind::Constant, {
    local_port: u16 = 0, 0, U16;
    remote_port: u16 = 0, 0, U16;
    snd_wind_scale: u8 = 0, 0, 14;
    rcv_wind_scale: u8 = 0, 0, 14;
    remote_mss: u16 = 1460, 0, U16;
    hash_value: u32 = 0, 0, U32;
    timestamps: bool = 0, 0, 1;
    sack: bool = 0, 0, 1;
    window_scaling: bool = 0, 0, 1;
});

field_group!(
    /// TCP cached variables (NDIS `TCP_OFFLOAD_STATE_CACHED`).
    TcpCached, FieldKind::Cached, {
    initial_rcv_wnd: u32 = 65535, 0, U32;
    rcv_indication_size: u32 = 0, 0, U32;
    ka_probe_count: u8 = 10, 0, U8;
    ka_timeout: u32 = 7_200_000, 0, U32;
    ka_interval: u32 = 1000, 0, U32;
    max_rt: u32 = 10, 0, U32;
    flow_label: u32 = 0, 0, (1 << 20) - 1;
    ttl_or_hop_limit: u8 = 128, 0, U8;
    tos_or_traffic_class: u8 = 0, 0, U8;
    user_priority: u8 = 0, 0, 7;
    keep_alive: bool = 0, 0, 1;
    nagle: bool = 1, 0, 1;
});

field_group!(
    /// TCP delegated variables (NDIS `TCP_OFFLOAD_STATE_DELEGATED`). Sequence numbers wrap.
    TcpDelegated, FieldKind::Delegated, {
    /// RFC 793 connection state (`ConnectionState`).
    state: u8 = 4, 0, 10;
    rcv_nxt: u32 = 0, 0, U32;
    rcv_wnd: u32 = 65535, 0, U32;
    snd_una: u32 = 0, 0, U32;
    snd_nxt: u32 = 0, 0, U32;
    snd_max: u32 = 0, 0, U32;
    snd_wnd: u32 = 65535, 0, U32;
    max_snd_wnd: u32 = 65535, 0, U32;
    send_wl1: u32 = 0, 0, U32;
    cwnd: u32 = 14600, 0, U32;
    ssthresh: u32 = 65535, 0, U32;
    srtt: u32 = 0, 0, U32;
    rttvar: u32 = 0, 0, U32;
    ts_recent: u32 = 0, 0, U32;
    ts_recent_age: u32 = 0, 0, U32;
    ts_time: u32 = 0, 0, U32;
    total_rt: u32 = 0, 0, U32;
    dup_ack_count: u8 = 0, 0, U8;
    snd_wnd_probe_count: u8 = 0, 0, U8;
    keepalive_probe_count: u8 = 0, 0, U8;
    keepalive_timeout_delta: u32 = 0, 0, U32;
    retransmit_count: u8 = 0, 0, U8;
    retransmit_timeout_delta: u32 = 0, 0, U32;
    send_backlog_size: u32 = 0, 0, U32;
    dwnd: u32 = 0, 0, U32;
});

/// Every TCP variable: constant, then cached, then delegated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpState {
    pub constant: TcpConstant,
    pub cached: TcpCached,
    pub delegated: TcpDelegated,
}

/// Where a named TCP variable lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpField {
    pub kind: FieldKind,
    pub index: usize,
}

impl TcpField {
    pub fn lookup(name: &str) -> Option<TcpField> {
        let found = |kind, index: Option<usize>| index.map(|index| TcpField { kind, index });
        found(FieldKind::Constant, TcpConstant::index_of(name))
            .or_else(|| found(FieldKind::Cached, TcpCached::index_of(name)))
            .or_else(|| found(FieldKind::Delegated, TcpDelegated::index_of(name)))
    }

    pub fn spec(self) -> &'static FieldSpec {
        match self.kind {
            FieldKind::Constant => &TcpConstant::SPECS[self.index],
            FieldKind::Cached => &TcpCached::SPECS[self.index],
            FieldKind::Delegated => &TcpDelegated::SPECS[self.index],
        }
    }
}

impl TcpState {
    pub fn set(&mut self, field: TcpField, value: u64) {
        match field.kind {
            FieldKind::Constant => self.constant.set(field.index, value),
            FieldKind::Cached => self.cached.set(field.index, value),
            FieldKind::Delegated => self.delegated.set(field.index, value),
        }
    }
}

/// A link-layer (MAC) address.
pub type Mac = [u8; 6];

/// Neighbor variables (NDIS `NEIGHBOR_OFFLOAD_STATE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeighborState {
    /// Constant: the source link-layer address, if the host sets one (DlSourceAddress).
    pub source_mac: Option<Mac>,
    /// Constant: the 802.1Q VLAN id, 0..=4095.
    pub vlan_id: u16,
    /// Cached: the next hop's link-layer address (DlDestinationAddress).
    pub mac: Mac,
    /// Cached: ticks since the host last confirmed reachability.
    pub host_reachability_delta: u32,
    /// Delegated: ticks since the target last confirmed reachability.
    pub nic_reachability_delta: u32,
}

/// Neighbor variable names by kind, in dictionary order.
pub const NEIGHBOR_CONSTANT: [&str; 2] = ["source_mac", "vlan_id"];
pub const NEIGHBOR_CACHED: [&str; 2] = ["mac", "host_reachability_delta"];
pub const NEIGHBOR_DELEGATED: [&str; 1] = ["nic_reachability_delta"];
/// Path variable names by kind (the reference defines no delegated path variable).
pub const PATH_CONSTANT: [&str; 2] = ["source", "destination"];
pub const PATH_CACHED: [&str; 1] = ["path_mtu"];

pub const VLAN_MAX: u64 = 4095;
pub const MTU_MIN: u64 = 68;
pub const MTU_MAX: u64 = 65535;

/// Path variables (NDIS `PATH_OFFLOAD_STATE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathState {
    /// Constant: source IP address.
    pub source: IpAddr,
    /// Constant: destination IP address, same family as `source`.
    pub destination: IpAddr,
    /// Cached: the path MTU, 68..=65535.
    pub path_mtu: u16,
}

impl PathState {
    pub fn new(source: IpAddr, destination: IpAddr, path_mtu: i128) -> Result<PathState> {
        if source.is_ipv4() != destination.is_ipv4() {
            return Err(Error::validation(format!(
                "source {source} and destination {destination} must be of the same IP family"
            )));
        }
        Ok(PathState {
            source,
            destination,
            path_mtu: check_mtu(path_mtu)?,
        })
    }
}

/// The variable kind of a neighbor or path variable name, for update's error messages.
pub fn kind_of(layer: Layer, name: &str) -> Option<FieldKind> {
    let (constant, cached, delegated): (&[&str], &[&str], &[&str]) = match layer {
        Layer::Neighbor => (&NEIGHBOR_CONSTANT, &NEIGHBOR_CACHED, &NEIGHBOR_DELEGATED),
        Layer::Path => (&PATH_CONSTANT, &PATH_CACHED, &[]),
        Layer::Tcp => return TcpField::lookup(name).map(|f| f.kind),
    };
    if constant.contains(&name) {
        Some(FieldKind::Constant)
    } else if cached.contains(&name) {
        Some(FieldKind::Cached)
    } else if delegated.contains(&name) {
        Some(FieldKind::Delegated)
    } else {
        None
    }
}

pub fn check_range(name: &str, value: i128, min: u64, max: u64) -> Result<u64> {
    if value < i128::from(min) || value > i128::from(max) {
        return Err(Error::validation(format!(
            "{name}={value} is out of range {min}..{max}"
        )));
    }
    Ok(value as u64)
}

pub fn check_mtu(value: i128) -> Result<u16> {
    check_range("path_mtu", value, MTU_MIN, MTU_MAX).map(|v| v as u16)
}

pub fn check_vlan(value: i128) -> Result<u16> {
    check_range("vlan_id", value, 0, VLAN_MAX).map(|v| v as u16)
}

pub fn check_u32(name: &str, value: i128) -> Result<u32> {
    check_range(name, value, 0, U32).map(|v| v as u32)
}

pub fn check_port(name: &str, value: i128) -> Result<u16> {
    check_range(name, value, 0, U16).map(|v| v as u16)
}

/// Parses "00:15:5d:01:02:03" or "00-15-5D-01-02-03".
pub fn parse_mac(text: &str) -> Result<Mac> {
    let bad = || {
        Error::validation(format!(
            "malformed MAC address {text:?}: expected six hex octets like \"00:15:5d:01:02:03\""
        ))
    };
    let separator = if text.contains(':') { ':' } else { '-' };
    let mut mac = [0u8; 6];
    let mut parts = text.split(separator);
    for octet in mac.iter_mut() {
        let part = parts.next().ok_or_else(bad)?;
        if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        *octet = u8::from_str_radix(part, 16).map_err(|_| bad())?;
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(mac)
}

pub fn mac_from_bytes(bytes: &[u8]) -> Result<Mac> {
    <Mac>::try_from(bytes).map_err(|_| {
        Error::validation(format!(
            "a MAC address given as bytes must be 6 bytes long, got {}",
            bytes.len()
        ))
    })
}

pub fn mac_from_int(value: i128) -> Result<Mac> {
    if !(0..(1i128 << 48)).contains(&value) {
        return Err(Error::validation(format!(
            "a MAC address given as an int must be in 0..2**48, got {value}"
        )));
    }
    let bytes = (value as u64).to_be_bytes();
    Ok([bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]])
}

pub fn format_mac(mac: &Mac) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
    )
}

/// Parses an IPv4 dotted quad (no leading zeros) or IPv6 text (no scope id).
pub fn parse_ip(text: &str) -> Result<IpAddr> {
    text.parse::<IpAddr>().map_err(|_| {
        Error::validation(format!(
            "malformed IP address {text:?}: expected IPv4 like \"10.0.0.1\" or IPv6 like \"fe80::1\""
        ))
    })
}

pub fn ip_from_bytes(bytes: &[u8]) -> Result<IpAddr> {
    match bytes.len() {
        4 => Ok(IpAddr::from(
            <[u8; 4]>::try_from(bytes).expect("length checked"),
        )),
        16 => Ok(IpAddr::from(
            <[u8; 16]>::try_from(bytes).expect("length checked"),
        )),
        n => Err(Error::validation(format!(
            "an IP address given as bytes must be 4 or 16 bytes long, got {n}"
        ))),
    }
}

/// `< 2**32` is IPv4, otherwise IPv6 (as Python's `ipaddress.ip_address(int)`).
pub fn ip_from_int(value: i128) -> Result<IpAddr> {
    if value < 0 {
        return Err(Error::validation(format!(
            "an IP address given as an int must not be negative, got {value}"
        )));
    }
    if value < (1i128 << 32) {
        Ok(IpAddr::from((value as u32).to_be_bytes()))
    } else {
        Ok(IpAddr::from((value as u128).to_be_bytes()))
    }
}

pub fn ip_octets(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_tables_match_structs() {
        let tcp = TcpState::default();
        for (i, spec) in TcpDelegated::SPECS.iter().enumerate() {
            assert_eq!(tcp.delegated.get(i), spec.default, "{}", spec.name);
        }
        assert_eq!(TcpConstant::SPECS.len(), 9);
        assert_eq!(TcpCached::SPECS.len(), 12);
        assert_eq!(TcpDelegated::SPECS.len(), 25);
        assert!(tcp.cached.nagle);
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
    fn lookup_finds_each_kind() {
        assert_eq!(
            TcpField::lookup("local_port").unwrap().kind,
            FieldKind::Constant
        );
        assert_eq!(TcpField::lookup("nagle").unwrap().kind, FieldKind::Cached);
        assert_eq!(
            TcpField::lookup("rcv_nxt").unwrap().kind,
            FieldKind::Delegated
        );
        assert!(TcpField::lookup("mac").is_none());
    }

    #[test]
    fn macs_parse_and_reject() {
        assert_eq!(
            parse_mac("00:15:5D:01:02:03").unwrap(),
            [0, 0x15, 0x5d, 1, 2, 3]
        );
        assert_eq!(
            parse_mac("00-15-5d-01-02-03").unwrap(),
            [0, 0x15, 0x5d, 1, 2, 3]
        );
        for bad in [
            "",
            "00:15:5d:01:02",
            "00:15:5d:01:02:03:04",
            "0:15:5d:01:02:03",
            "zz:15:5d:01:02:03",
            "00:15-5d:01:02:03",
        ] {
            assert!(parse_mac(bad).is_err(), "{bad}");
        }
        assert_eq!(
            format_mac(&mac_from_int(0x00155d010203).unwrap()),
            "00:15:5d:01:02:03"
        );
        assert!(mac_from_int(1 << 48).is_err());
    }

    #[test]
    fn ips_parse_and_reject() {
        assert!(parse_ip("10.0.0.1").unwrap().is_ipv4());
        assert!(parse_ip("fe80::1").unwrap().is_ipv6());
        for bad in ["010.0.0.1", "fe80::1%eth0", "1.2.3", "example.com"] {
            assert!(parse_ip(bad).is_err(), "{bad}");
        }
        assert!(ip_from_int(1 << 32).unwrap().is_ipv6());
        assert!(PathState::new(
            parse_ip("10.0.0.1").unwrap(),
            parse_ip("::1").unwrap(),
            1500
        )
        .is_err());
        assert!(PathState::new(
            parse_ip("10.0.0.1").unwrap(),
            parse_ip("10.0.0.2").unwrap(),
            67
        )
        .is_err());
    }
}
