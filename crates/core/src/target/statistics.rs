//! The chimney statistics an offload target keeps per IP family and reports when the host
//! queries OID_IP4/6_OFFLOAD_STATS and OID_TCP4/6_OFFLOAD_STATS
//! (NDIS "Maintaining and Reporting Chimney-Specific Statistics"). Setting one of those OIDs
//! resets that family's counters; every counter wraps, as the DDI pages say.
//!
//! Segments follow from bytes: a send of `n` bytes leaves as `ceil(n / mss)` segments, `mss`
//! being the smaller of the peer's MSS and what the path MTU leaves after the headers; a
//! receive arrives as `ceil(n / mss)` segments of the path's MSS, at least one (an empty one
//! is a bare ACK). Every segment is one IP datagram of 20 (IPv4) or 40 (IPv6) bytes of IP
//! header and 20 of TCP header, which the octet counters include.

/// The TCP header of every segment: no options are modelled.
const TCP_HEADER: u64 = 20;

/// An IP family the statistics are kept for: IPv4 or IPv6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IpFamily {
    V4,
    V6,
}

impl IpFamily {
    /// The family of an IP version number, 4 or 6.
    pub(crate) fn from_version(version: i64) -> Option<IpFamily> {
        match version {
            4 => Some(IpFamily::V4),
            6 => Some(IpFamily::V6),
            _ => None,
        }
    }

    pub(crate) fn of(address: &std::net::IpAddr) -> IpFamily {
        if address.is_ipv4() {
            IpFamily::V4
        } else {
            IpFamily::V6
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The IP header of one datagram: no IPv4 options, no IPv6 extension headers.
    fn ip_header(self) -> u64 {
        match self {
            IpFamily::V4 => 20,
            IpFamily::V6 => 40,
        }
    }

    /// The largest TCP payload a datagram of `path_mtu` bytes carries (at least 1).
    pub(crate) fn mss(self, path_mtu: u16) -> u32 {
        (u64::from(path_mtu).saturating_sub(self.ip_header() + TCP_HEADER)).max(1) as u32
    }
}

/// NDIS `IP_OFFLOAD_STATS`: IP datagrams the target processed on offloaded connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpOffloadStats {
    /// InReceives: datagrams received.
    pub in_receives: u64,
    /// InOctets: bytes of those datagrams, IP header included.
    pub in_octets: u64,
    /// InDelivers: datagrams delivered to offloaded connections.
    pub in_delivers: u64,
    /// OutRequests: datagrams handed to the IP layer for transmission.
    pub out_requests: u64,
    /// OutOctets: bytes of those datagrams, IP header included.
    pub out_octets: u64,
    /// InHeaderErrors (no corrupt header is simulated: stays 0).
    pub in_header_errors: u32,
    /// InTruncatedPackets (stays 0).
    pub in_truncated_packets: u32,
    /// InDiscards (stays 0).
    pub in_discards: u32,
    /// OutDiscards (stays 0).
    pub out_discards: u32,
    /// OutNoRoutes (stays 0: a connection always has its offloaded path).
    pub out_no_routes: u32,
}

/// NDIS `TCP_OFFLOAD_STATS`: TCP segments the target processed on offloaded connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOffloadStats {
    /// InSegments: segments received.
    pub in_segments: u64,
    /// OutSegments: segments sent, retransmissions excluded.
    pub out_segments: u64,
    /// CurrentlyEstablished: offloaded connections in ESTABLISHED or CLOSE-WAIT. A gauge,
    /// counted when read, so a reset leaves it alone.
    pub currently_established: u32,
    /// ResetEstablished: direct transitions to CLOSED from ESTABLISHED or CLOSE-WAIT (an
    /// RST sent or received).
    pub reset_established: u32,
    /// RetransmittedSegments (no retransmission is simulated: stays 0).
    pub retransmitted_segments: u32,
    /// InErrors (stays 0).
    pub in_errors: u32,
    /// OutResets: segments sent with RST (abortive disconnects).
    pub out_resets: u32,
}

/// One family's statistics: what OID_IPx_OFFLOAD_STATS and OID_TCPx_OFFLOAD_STATS return.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OffloadStats {
    pub ip: IpOffloadStats,
    pub tcp: TcpOffloadStats,
}

impl IpOffloadStats {
    /// Every field by its name, in the order of the NDIS structure.
    pub fn entries(&self) -> [(&'static str, u64); 10] {
        [
            ("in_receives", self.in_receives),
            ("in_octets", self.in_octets),
            ("in_delivers", self.in_delivers),
            ("out_requests", self.out_requests),
            ("out_octets", self.out_octets),
            ("in_header_errors", self.in_header_errors.into()),
            ("in_truncated_packets", self.in_truncated_packets.into()),
            ("in_discards", self.in_discards.into()),
            ("out_discards", self.out_discards.into()),
            ("out_no_routes", self.out_no_routes.into()),
        ]
    }
}

impl TcpOffloadStats {
    /// Every field by its name, in the order of the NDIS structure.
    pub fn entries(&self) -> [(&'static str, u64); 7] {
        [
            ("in_segments", self.in_segments),
            ("out_segments", self.out_segments),
            ("currently_established", self.currently_established.into()),
            ("reset_established", self.reset_established.into()),
            ("retransmitted_segments", self.retransmitted_segments.into()),
            ("in_errors", self.in_errors.into()),
            ("out_resets", self.out_resets.into()),
        ]
    }
}

/// `ceil(n / mss)`, and at least `minimum`.
fn segments(n: u64, mss: u32, minimum: u64) -> u64 {
    n.div_ceil(u64::from(mss.max(1))).max(minimum)
}

impl OffloadStats {
    /// `n` bytes received on a connection of `family` whose path MSS is `mss`.
    pub(crate) fn count_received(&mut self, family: IpFamily, n: usize, mss: u32) {
        let n = n as u64;
        let segs = segments(n, mss, 1);
        let octets = n.wrapping_add(segs.wrapping_mul(family.ip_header() + TCP_HEADER));
        let ip = &mut self.ip;
        ip.in_receives = ip.in_receives.wrapping_add(segs);
        ip.in_octets = ip.in_octets.wrapping_add(octets);
        ip.in_delivers = ip.in_delivers.wrapping_add(segs);
        self.tcp.in_segments = self.tcp.in_segments.wrapping_add(segs);
    }

    /// One segment without data sent on a connection of `family`: a FIN, or an RST
    /// (`reset`, which OutResets counts too).
    pub(crate) fn count_sent_bare(&mut self, family: IpFamily, reset: bool) {
        let ip = &mut self.ip;
        ip.out_requests = ip.out_requests.wrapping_add(1);
        ip.out_octets = ip.out_octets.wrapping_add(family.ip_header() + TCP_HEADER);
        let tcp = &mut self.tcp;
        tcp.out_segments = tcp.out_segments.wrapping_add(1);
        if reset {
            tcp.out_resets = tcp.out_resets.wrapping_add(1);
        }
    }

    /// `n` bytes sent on a connection of `family` in segments of at most `mss` bytes.
    pub(crate) fn count_sent(&mut self, family: IpFamily, n: u32, mss: u32) {
        let n = u64::from(n);
        let segs = segments(n, mss, 0);
        let octets = n.wrapping_add(segs.wrapping_mul(family.ip_header() + TCP_HEADER));
        let ip = &mut self.ip;
        ip.out_requests = ip.out_requests.wrapping_add(segs);
        ip.out_octets = ip.out_octets.wrapping_add(octets);
        self.tcp.out_segments = self.tcp.out_segments.wrapping_add(segs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mss_leaves_room_for_the_headers() {
        assert_eq!(IpFamily::V4.mss(1500), 1460);
        assert_eq!(IpFamily::V6.mss(1500), 1440);
        assert_eq!(IpFamily::V6.mss(68), 8);
        assert_eq!(IpFamily::V4.mss(40), 1, "never zero");
    }

    #[test]
    fn bytes_become_segments_and_octets() {
        let mut s = OffloadStats::default();
        s.count_sent(IpFamily::V4, 3000, 1460);
        assert_eq!(s.tcp.out_segments, 3);
        assert_eq!(s.ip.out_requests, 3);
        assert_eq!(s.ip.out_octets, 3000 + 3 * 40);
        s.count_sent(IpFamily::V4, 0, 1460);
        assert_eq!(s.tcp.out_segments, 3, "an empty send sends nothing");
        s.count_received(IpFamily::V6, 0, 1440);
        assert_eq!(
            (s.tcp.in_segments, s.ip.in_receives, s.ip.in_delivers),
            (1, 1, 1)
        );
        assert_eq!(s.ip.in_octets, 60, "a bare ACK is all headers");
        s.count_received(IpFamily::V6, 1441, 1440);
        assert_eq!(s.tcp.in_segments, 3);
        assert_eq!(s.ip.in_octets, 60 + 1441 + 2 * 60);
    }

    #[test]
    fn counters_wrap() {
        let mut s = OffloadStats::default();
        s.tcp.out_segments = u64::MAX;
        s.ip.out_octets = u64::MAX - 10;
        s.count_sent(IpFamily::V4, 1, 1460);
        assert_eq!(s.tcp.out_segments, 0);
        assert_eq!(s.ip.out_octets, 30);
    }
}
