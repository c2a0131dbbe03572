//! The host copy of an object's variables, one struct per layer, laid out by the tables of
//! [`super::fields`].

use std::net::IpAddr;
use std::sync::LazyLock;

use super::address::Mac;
use super::error::Result;
use super::fields::{check_mtu, FieldKind, FieldSpec, TcpCached, TcpConstant, TcpDelegated};
use crate::error;

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
            let family = |ip: &IpAddr| if ip.is_ipv4() { 4 } else { 6 };
            return Err(error!(
                IpFamilyMismatch,
                source = family(&source),
                destination = family(&destination)
            ));
        }
        Ok(PathState {
            source,
            destination,
            path_mtu: check_mtu(path_mtu)?,
        })
    }
}

/// Every TCP variable: constant, then cached, then delegated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpState {
    pub constant: TcpConstant,
    pub cached: TcpCached,
    pub delegated: TcpDelegated,
}

/// Where a named TCP variable lives: its group and its index in that group's table.
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
    /// Every variable at its default (docs/DESIGN.md §5), ports 0: the one copy that every
    /// connection which never changed shares (`host::TcpStates`).
    pub fn defaults() -> &'static TcpState {
        static DEFAULTS: LazyLock<TcpState> = LazyLock::new(TcpState::default);
        &DEFAULTS
    }

    /// The defaults with these ports: a connection as `add_tcps` makes it.
    pub fn with_ports(local_port: u16, remote_port: u16) -> TcpState {
        let mut state = *TcpState::defaults();
        state.constant.local_port = local_port;
        state.constant.remote_port = remote_port;
        state
    }

    pub fn set(&mut self, field: TcpField, value: u64) {
        match field.kind {
            FieldKind::Constant => self.constant.set(field.index, value),
            FieldKind::Cached => self.cached.set(field.index, value),
            FieldKind::Delegated => self.delegated.set(field.index, value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::address::parse_ip;

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
    fn a_path_needs_one_family_and_a_valid_mtu() {
        let v4 = parse_ip("10.0.0.1").unwrap();
        let v6 = parse_ip("::1").unwrap();
        let mixed = PathState::new(v4, v6, 1500).unwrap_err();
        assert_eq!(
            mixed.message(),
            "source and destination must be of the same IP family, got IPv4 and IPv6"
        );
        assert!(PathState::new(v4, v4, 67).is_err());
        assert_eq!(PathState::new(v4, v4, 9000).unwrap().path_mtu, 9000);
    }
}
