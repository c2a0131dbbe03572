//! Named, typed columns: the form a snapshot takes (docs/DESIGN.md §12).
//!
//! A snapshot is a bag of one-dimensional columns, each of one NumPy-compatible element type,
//! so the bindings convert it to and from a dict of arrays without knowing what any column
//! means, and the fallback engine writes the very same dict. Reading a column checks its
//! presence and its type and reports the column by name (`SnapshotMissing`, `SnapshotType`
//! in the error catalogue); what the values must satisfy is the restore's business.

use std::collections::BTreeMap;

use super::error::{Error, Result};
use super::fields::FieldSpec;
use crate::error;

/// One column's values. `Other` is a column of a type no snapshot uses, kept by name so the
/// error can say what it held.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnData {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    F64(Vec<f64>),
    /// Flags, for columns users read (a snapshot stores flags as `U8`).
    Bool(Vec<bool>),
    Other(String),
}

impl ColumnData {
    /// The element type's NumPy name.
    pub fn type_name(&self) -> &str {
        match self {
            ColumnData::U8(_) => "uint8",
            ColumnData::U16(_) => "uint16",
            ColumnData::U32(_) => "uint32",
            ColumnData::U64(_) => "uint64",
            ColumnData::F64(_) => "float64",
            ColumnData::Bool(_) => "bool",
            ColumnData::Other(name) => name,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ColumnData::U8(v) => v.len(),
            ColumnData::U16(v) => v.len(),
            ColumnData::U32(v) => v.len(),
            ColumnData::U64(v) => v.len(),
            ColumnData::F64(v) => v.len(),
            ColumnData::Bool(v) => v.len(),
            ColumnData::Other(_) => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

macro_rules! column_types {
    ($($variant:ident, $t:ty, $get:ident);* $(;)?) => {
        $(impl From<Vec<$t>> for ColumnData {
            fn from(values: Vec<$t>) -> Self {
                ColumnData::$variant(values)
            }
        })*

        impl Columns {
            $(
                /// The column `name`, which must hold this element type.
                pub fn $get(&self, name: &str) -> Result<&[$t]> {
                    match self.get(name)? {
                        ColumnData::$variant(values) => Ok(values),
                        other => Err(error!(
                            SnapshotType,
                            name = name,
                            found = other.type_name(),
                            expected = ColumnData::$variant(Vec::new()).type_name()
                        )),
                    }
                }
            )*
        }
    };
}

/// Columns by name, in the order they were put (which is the order a snapshot lists them).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Columns {
    columns: BTreeMap<String, ColumnData>,
    order: Vec<String>,
}

column_types! {
    U8, u8, u8s;
    U16, u16, u16s;
    U32, u32, u32s;
    U64, u64, u64s;
    F64, f64, f64s;
    Bool, bool, bools;
}

impl ColumnData {
    /// An empty column for a state variable, of the type [`ColumnData::of_field`] gives it,
    /// with room for `capacity` values: filled with [`ColumnData::push_field`], it never
    /// holds a wider copy of the values.
    pub fn for_field(spec: &FieldSpec, capacity: usize) -> ColumnData {
        match ColumnData::of_field(spec, Vec::new()) {
            ColumnData::U8(_) => ColumnData::U8(Vec::with_capacity(capacity)),
            ColumnData::U16(_) => ColumnData::U16(Vec::with_capacity(capacity)),
            ColumnData::U32(_) => ColumnData::U32(Vec::with_capacity(capacity)),
            ColumnData::Bool(_) => ColumnData::Bool(Vec::with_capacity(capacity)),
            _ => ColumnData::U64(Vec::with_capacity(capacity)),
        }
    }

    /// Appends a variable's value, which its range (checked when it was set) fits.
    pub fn push_field(&mut self, value: u64) {
        match self {
            ColumnData::U8(v) => v.push(value as u8),
            ColumnData::U16(v) => v.push(value as u16),
            ColumnData::U32(v) => v.push(value as u32),
            ColumnData::Bool(v) => v.push(value != 0),
            ColumnData::U64(v) => v.push(value),
            ColumnData::F64(v) => v.push(value as f64),
            ColumnData::Other(_) => {}
        }
    }

    /// The values of a state variable in the narrowest type its range fits: `bool` for a
    /// flag, else `uint8`, `uint16`, `uint32` or `uint64` (the same rule in both engines).
    pub fn of_field(spec: &FieldSpec, values: Vec<u64>) -> ColumnData {
        if spec.is_bool() {
            return ColumnData::Bool(values.into_iter().map(|v| v != 0).collect());
        }
        match spec.max {
            max if max <= u64::from(u8::MAX) => {
                ColumnData::U8(values.into_iter().map(|v| v as u8).collect())
            }
            max if max <= u64::from(u16::MAX) => {
                ColumnData::U16(values.into_iter().map(|v| v as u16).collect())
            }
            max if max <= u64::from(u32::MAX) => {
                ColumnData::U32(values.into_iter().map(|v| v as u32).collect())
            }
            _ => ColumnData::U64(values),
        }
    }
}

impl Columns {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the column `name`.
    pub fn put(&mut self, name: impl Into<String>, values: impl Into<ColumnData>) {
        let name = name.into();
        if self.columns.insert(name.clone(), values.into()).is_none() {
            self.order.push(name);
        }
    }

    /// The column `name`, of any type.
    pub fn get(&self, name: &str) -> Result<&ColumnData> {
        self.columns
            .get(name)
            .ok_or_else(|| error!(SnapshotMissing, name = name))
    }

    /// The columns in the order they were put.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ColumnData)> {
        self.order
            .iter()
            .map(|name| (name.as_str(), &self.columns[name]))
    }

    /// Takes the columns out, in the order they were put.
    pub fn into_vec(mut self) -> Vec<(String, ColumnData)> {
        let order = std::mem::take(&mut self.order);
        order
            .into_iter()
            .map(|name| {
                let data = self.columns.remove(&name).expect("every name is a column");
                (name, data)
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The column `name`, which must hold exactly `expected` values of this type.
    pub fn exact<'a, T: 'a>(
        &'a self,
        name: &str,
        expected: usize,
        get: impl Fn(&'a Self, &str) -> Result<&'a [T]>,
    ) -> Result<&'a [T]> {
        let values = get(self, name)?;
        check_length(name, values.len(), expected)?;
        Ok(values)
    }
}

/// Fails with `SnapshotLength` unless a column has `expected` values.
pub(crate) fn check_length(name: &str, found: usize, expected: usize) -> Result<()> {
    if found != expected {
        return Err(error!(
            SnapshotLength,
            name = name,
            found = found,
            expected = expected
        ));
    }
    Ok(())
}

/// A `SnapshotValue` error: column `name` breaks a rule, said by `problem`.
pub(crate) fn bad_value(name: &str, problem: impl std::fmt::Display) -> Error {
    error!(SnapshotValue, name = name, problem = problem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::error::ErrorCode;

    #[test]
    fn columns_keep_their_order_and_check_their_type() {
        let mut columns = Columns::new();
        columns.put("b", vec![1u64, 2]);
        columns.put("a", vec![3u8]);
        let names: Vec<_> = columns.iter().map(|(name, _)| name.to_owned()).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(columns.u64s("b").unwrap(), [1, 2]);
        let wrong = columns.u64s("a").unwrap_err();
        assert_eq!(wrong.code(), ErrorCode::SnapshotType);
        assert_eq!(
            wrong.message(),
            "snapshot column 'a' holds uint8, expected uint64"
        );
        assert_eq!(
            columns.u8s("c").unwrap_err().code(),
            ErrorCode::SnapshotMissing
        );
        let short = columns.exact("b", 3, Columns::u64s).unwrap_err();
        assert_eq!(
            short.message(),
            "snapshot column 'b' has 2 values, expected 3"
        );
    }
}
