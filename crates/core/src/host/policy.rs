//! What the host stack decides on its own, beyond what the caller asks for: the choices the
//! NDIS pages leave to the host (docs/DESIGN.md §8, "Host policy").

use std::net::IpAddr;

/// The host's policy for one tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPolicy {
    /// Terminate an offloaded path or neighbor as soon as no offloaded object depends on it
    /// any more (its reference count is zero), as the NDIS host stack does
    /// (NDIS "Terminate Offload Initiated by the Host Stack"). `false` keeps shared state
    /// offloaded until the caller terminates it. Fixed for the life of a tree.
    pub release_unreferenced: bool,
    /// The optional upload reasons whose requests the host declines, as bits by reason code
    /// (`process_events` may name others for one call).
    pub decline: u16,
    /// Upload storms: at most this many connections uploaded for upload requests in one
    /// `process_events`; the events after the last one wait for the next call, in order.
    pub uploads_per_call: Option<u32>,
    /// The host takes received data the target indicates, as if an application were
    /// reading: data no posted request takes is delivered at once instead of buffered.
    pub accept_indicated: bool,
    /// On a link down (media disconnect) the host terminates every offload; `false` keeps
    /// them (NDIS "Terminate Offload Initiated by the Host Stack" leaves it to the host).
    pub terminate_on_link_down: bool,
    /// Which connections the host offloads: the first rule that matches a connection
    /// decides; a connection no rule matches is offloaded (FreeBSD's TOM applies rules
    /// like these per connection, t4_tom.c).
    pub offload_rules: Vec<OffloadRule>,
}

impl Default for HostPolicy {
    fn default() -> Self {
        HostPolicy {
            release_unreferenced: true,
            decline: 0,
            uploads_per_call: None,
            accept_indicated: false,
            terminate_on_link_down: true,
            offload_rules: Vec::new(),
        }
    }
}

impl HostPolicy {
    /// Whether the host declines upload requests for `reason` (never a mandatory one).
    pub fn declines(&self, reason: u8) -> bool {
        reason < 16 && self.decline & (1 << reason) != 0
    }

    /// Whether the host offloads a connection between `local_port` and `remote_port` of a
    /// path to `destination`.
    pub fn offloads(&self, local_port: u16, remote_port: u16, destination: &IpAddr) -> bool {
        self.offload_rules
            .iter()
            .find(|rule| rule.matches(local_port, remote_port, destination))
            .is_none_or(|rule| rule.offload)
    }
}

/// One offload rule: connections whose ports fall in both ranges (inclusive) and whose
/// destination is in the prefix (when given) are offloaded, or kept on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffloadRule {
    pub offload: bool,
    pub local_ports: (u16, u16),
    pub remote_ports: (u16, u16),
    /// An address and a prefix length: the destinations the rule covers.
    pub destination: Option<(IpAddr, u8)>,
}

impl OffloadRule {
    fn matches(&self, local_port: u16, remote_port: u16, destination: &IpAddr) -> bool {
        let within = |(low, high): (u16, u16), port: u16| (low..=high).contains(&port);
        within(self.local_ports, local_port)
            && within(self.remote_ports, remote_port)
            && self
                .destination
                .is_none_or(|(network, prefix)| in_prefix(destination, &network, prefix))
    }
}

/// Whether `address` is in `network`/`prefix` (an address of the other family never is).
fn in_prefix(address: &IpAddr, network: &IpAddr, prefix: u8) -> bool {
    let (a, n, bits) = match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u128::from(a.to_bits()), u128::from(n.to_bits()), 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (a.to_bits(), n.to_bits(), 128),
        _ => return false,
    };
    let prefix = u32::from(prefix).min(bits);
    let shift = bits - prefix;
    shift >= 128 || a >> shift == n >> shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_rule_decides_and_none_means_offload() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let policy = HostPolicy {
            offload_rules: vec![
                OffloadRule {
                    offload: true,
                    local_ports: (0, 65535),
                    remote_ports: (443, 443),
                    destination: Some((ip("10.1.0.0"), 16)),
                },
                OffloadRule {
                    offload: false,
                    local_ports: (0, 65535),
                    remote_ports: (0, 1023),
                    destination: None,
                },
            ],
            ..HostPolicy::default()
        };
        assert!(policy.offloads(5000, 443, &ip("10.1.2.3")));
        assert!(
            !policy.offloads(5000, 443, &ip("10.2.2.3")),
            "the second rule"
        );
        assert!(!policy.offloads(5000, 22, &ip("::1")));
        assert!(policy.offloads(5000, 8080, &ip("::1")), "no rule matches");
        assert!(in_prefix(&ip("::1"), &ip("::"), 0));
        assert!(!in_prefix(&ip("10.0.0.1"), &ip("::"), 0), "another family");
    }
}
