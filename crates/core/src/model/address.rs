//! Link-layer (MAC) and IP addresses: parsing, and the forms they are read out in.

use std::net::IpAddr;

use super::error::Result;
use crate::error;

/// A link-layer (MAC) address.
pub(crate) type Mac = [u8; 6];

/// Parses "00:15:5d:01:02:03" or "00-15-5D-01-02-03" (one separator throughout).
pub(crate) fn parse_mac(text: &str) -> Result<Mac> {
    let bad = || error!(MalformedMac, text = text);
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

pub(crate) fn mac_from_bytes(bytes: &[u8]) -> Result<Mac> {
    <Mac>::try_from(bytes).map_err(|_| error!(MacBytesLength, len = bytes.len()))
}

pub(crate) fn mac_from_int(value: i128) -> Result<Mac> {
    if !(0..(1i128 << 48)).contains(&value) {
        return Err(error!(MacIntRange, value = value));
    }
    let bytes = (value as u64).to_be_bytes();
    Ok([bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]])
}

/// Lowercase "aa:bb:cc:dd:ee:ff", the form `state()` reports.
pub(crate) fn format_mac(mac: &Mac) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
    )
}

/// Parses an IPv4 dotted quad (no leading zeros) or IPv6 text (no scope id).
pub(crate) fn parse_ip(text: &str) -> Result<IpAddr> {
    text.parse::<IpAddr>()
        .map_err(|_| error!(MalformedIp, text = text))
}

pub(crate) fn ip_from_bytes(bytes: &[u8]) -> Result<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Ok(IpAddr::from(v4));
    }
    if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        return Ok(IpAddr::from(v6));
    }
    Err(error!(IpBytesLength, len = bytes.len()))
}

/// `< 2**32` is IPv4, otherwise IPv6 (as Python's `ipaddress.ip_address(int)`).
pub(crate) fn ip_from_int(value: i128) -> Result<IpAddr> {
    if value < 0 {
        return Err(error!(IpIntRange, value = value));
    }
    if value < (1i128 << 32) {
        Ok(IpAddr::from((value as u32).to_be_bytes()))
    } else {
        Ok(IpAddr::from((value as u128).to_be_bytes()))
    }
}

/// The packed form (4 or 16 bytes) that `state()` reports.
pub(crate) fn ip_octets(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse_and_reject() {
        let expected = [0, 0x15, 0x5d, 1, 2, 3];
        assert_eq!(parse_mac("00:15:5D:01:02:03").unwrap(), expected);
        assert_eq!(parse_mac("00-15-5d-01-02-03").unwrap(), expected);
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
        let mac = mac_from_int(0x00155d010203).unwrap();
        assert_eq!(format_mac(&mac), "00:15:5d:01:02:03");
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
        assert!(ip_from_bytes(&[1, 2, 3]).is_err());
    }
}
