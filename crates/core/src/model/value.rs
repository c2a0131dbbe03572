//! Loosely typed input values, as they arrive from a dynamic caller (the Python bindings).
//!
//! The bindings only sort a Python object into one of these shapes; deciding whether the shape
//! is acceptable, and the range, is the core's job, done after handle checks so that both
//! backends report the same error first (docs/DESIGN.md §8, check order).

use std::net::IpAddr;

use super::address::{self, Mac};
use super::error::Result;
use super::fields::FieldSpec;
use crate::error;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(i128),
    /// An int beyond `i128` (up to `u128::MAX`): only an IPv6 address can be that large.
    Big(u128),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
    /// Anything else, by type name, for the error message.
    Other(String),
}

impl Value {
    fn type_name(&self) -> &str {
        match self {
            Value::Int(_) | Value::Big(_) => "int",
            Value::Bool(_) => "bool",
            Value::Text(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Other(name) => name,
        }
    }

    /// An integer (not a bool) within `spec`'s range, or a bool for a bool field.
    pub fn to_field(&self, spec: &FieldSpec) -> Result<u64> {
        match (self, spec.is_bool()) {
            (Value::Bool(b), true) => Ok(u64::from(*b)),
            (Value::Int(i), false) => spec.check(*i),
            (Value::Big(_), false) => spec.check(i128::MAX),
            (other, true) => Err(error!(NotABool, name = spec.name, got = other.type_name())),
            (other, false) => Err(error!(NotAnInt, name = spec.name, got = other.type_name())),
        }
    }

    /// An integer (not a bool) for a field checked by the caller.
    pub fn to_int(&self, name: &str) -> Result<i128> {
        match self {
            Value::Int(i) => Ok(*i),
            // Beyond every range of ours: reported by the range check as out of range.
            Value::Big(_) => Ok(i128::MAX),
            other => Err(error!(NotAnInt, name = name, got = other.type_name())),
        }
    }

    pub fn to_mac(&self, name: &str) -> Result<Mac> {
        match self {
            Value::Text(text) => address::parse_mac(text),
            Value::Bytes(bytes) => address::mac_from_bytes(bytes),
            Value::Int(i) => address::mac_from_int(*i),
            Value::Big(_) => address::mac_from_int(i128::MAX),
            other => Err(error!(NotAMac, name = name, got = other.type_name())),
        }
    }

    pub fn to_ip(&self, name: &str) -> Result<IpAddr> {
        match self {
            Value::Text(text) => address::parse_ip(text),
            Value::Bytes(bytes) => address::ip_from_bytes(bytes),
            Value::Int(i) => address::ip_from_int(*i),
            Value::Big(b) => Ok(IpAddr::from(b.to_be_bytes())),
            other => Err(error!(NotAnIp, name = name, got = other.type_name())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fields::TcpCached;

    #[test]
    fn bools_and_ints_do_not_mix() {
        let spec = |name| TcpCached::SPECS.iter().find(|s| s.name == name).unwrap();
        let (nagle, max_rt) = (spec("nagle"), spec("max_rt"));
        assert_eq!(Value::Bool(true).to_field(nagle), Ok(1));
        assert!(Value::Int(1).to_field(nagle).is_err());
        assert!(Value::Bool(true).to_field(max_rt).is_err());
        assert!(Value::Int(-1).to_field(max_rt).is_err());
        assert!(Value::Text("1".into()).to_field(max_rt).is_err());
    }

    #[test]
    fn addresses_from_every_shape() {
        let ip = |v: Value| v.to_ip("source");
        assert!(ip(Value::Bytes(vec![10, 0, 0, 1])).unwrap().is_ipv4());
        assert!(ip(Value::Int(1 << 40)).unwrap().is_ipv6());
        assert!(ip(Value::Other("float".into())).is_err());
        let mac = Value::Int(0x020000000001).to_mac("mac").unwrap();
        assert_eq!(mac, [2, 0, 0, 0, 0, 1]);
    }
}
