//! Conversions between Python objects and the core's types. Shape only: no decisions.

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1};
use offload_tree_core::{
    check_batch, Budget, ColumnData, Columns, Counter, Counters, OffloadStats, StateValue, Value,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyInt, PyString, PyTuple};

use crate::errors::to_pyerr;

/// Sorts a Python object into a `Value` shape; the core judges it.
pub fn to_value(obj: &Bound<'_, PyAny>) -> Value {
    if obj.is_instance_of::<PyBool>() {
        return Value::Bool(obj.is_truthy().unwrap_or(false));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i128>() {
            return Value::Int(i);
        }
        if let Ok(b) = obj.extract::<u128>() {
            return Value::Big(b);
        }
        return Value::Other("int beyond 128 bits".into());
    }
    if let Ok(text) = obj.cast::<PyString>() {
        return match text.to_str() {
            Ok(s) => Value::Text(s.to_owned()),
            Err(_) => Value::Other("str with unencodable characters".into()),
        };
    }
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return Value::Bytes(bytes.as_bytes().to_vec());
    }
    // ipaddress objects (and anything else shaped like them) expose their packed bytes.
    if let Ok(packed) = obj.getattr("packed") {
        if let Ok(bytes) = packed.cast::<PyBytes>() {
            return Value::Bytes(bytes.as_bytes().to_vec());
        }
    }
    Value::Other(
        obj.get_type()
            .name()
            .map_or_else(|_| "object".into(), |n| n.to_string()),
    )
}

/// A list of values from a `uint64` ndarray or any iterable, refusing an oversized batch
/// before converting any of it.
pub fn to_values(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Value>> {
    if let Ok(n) = obj.len() {
        check_batch(n).map_err(to_pyerr)?;
    }
    if let Ok(array) = obj.cast::<PyArray1<u64>>() {
        let array = array.readonly();
        let view = array.as_array();
        let mut values = Budget::default().vec(view.len()).map_err(to_pyerr)?;
        values.extend(view.iter().map(|&v| Value::Int(i128::from(v))));
        return Ok(values);
    }
    let mut values = Vec::new();
    for item in obj.try_iter()? {
        values.push(to_value(&item?));
    }
    Ok(values)
}

/// A copy of a 1-D array the facade made contiguous, taken while the GIL is held.
///
/// Batch calls release the GIL, and a Python thread could then write the caller's array while
/// the core reads it: a data race, and values that passed no validation. The copy is a memcpy
/// beside work that is at least linear in the same data.
/// The copy is reserved fallibly: out of memory is `OutOfMemoryError`, not an abort.
pub fn owned<T: numpy::Element + Copy>(array: &PyReadonlyArray1<'_, T>) -> PyResult<Vec<T>> {
    let slice = array
        .as_slice()
        .map_err(|_| PyTypeError::new_err("expected a C-contiguous 1-D array"))?;
    let mut copy = Budget::default().vec(slice.len()).map_err(to_pyerr)?;
    copy.extend_from_slice(slice);
    Ok(copy)
}

pub fn array<'py, T: numpy::Element>(py: Python<'py>, values: Vec<T>) -> Bound<'py, PyArray1<T>> {
    PyArray1::from_vec(py, values)
}

pub fn state_value_to_py<'py>(py: Python<'py>, value: &StateValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        StateValue::Int(v) => v.into_pyobject(py)?.into_any(),
        StateValue::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        StateValue::Text(s) => PyString::new(py, s).into_any(),
        StateValue::Bytes(b) => PyBytes::new(py, b).into_any(),
        StateValue::None => py.None().into_bound(py),
    })
}

/// The engine's counters as a flat dict (`python/offload_tree/_stats.py` arranges them):
/// per-layer counts as 3-tuples, an operation's as `(requested, succeeded, failed by status)`.
/// `{"ip": {name: value}, "tcp": {name: value}}`, in the NDIS structures' order.
pub fn offload_stats_to_py<'py>(
    py: Python<'py>,
    stats: &OffloadStats,
) -> PyResult<Bound<'py, PyDict>> {
    let ip = PyDict::new(py);
    for (name, value) in stats.ip.entries() {
        ip.set_item(name, value)?;
    }
    let tcp = PyDict::new(py);
    for (name, value) in stats.tcp.entries() {
        tcp.set_item(name, value)?;
    }
    let dict = PyDict::new(py);
    dict.set_item("ip", ip)?;
    dict.set_item("tcp", tcp)?;
    Ok(dict)
}

pub fn counters_to_py<'py>(py: Python<'py>, counters: &Counters) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (name, counter) in counters.entries() {
        let value = match counter {
            Counter::Int(v) => v.into_pyobject(py)?.into_any(),
            Counter::Bool(b) => PyBool::new(py, b).to_owned().into_any(),
            Counter::PerLayer(counts) => PyTuple::new(py, counts)?.into_any(),
            Counter::PerOperation(counts) => PyTuple::new(py, counts)?.into_any(),
            Counter::Operation(op) => {
                let failed = PyTuple::new(py, op.failed)?;
                (op.requested, op.succeeded, failed)
                    .into_pyobject(py)?
                    .into_any()
            }
        };
        dict.set_item(name, value)?;
    }
    Ok(dict)
}

/// A snapshot's columns as a dict of NumPy arrays, in the core's order (each moved, not
/// copied).
pub fn columns_to_dict(py: Python<'_>, columns: Columns) -> PyResult<Bound<'_, PyDict>> {
    let dict = PyDict::new(py);
    for (name, data) in columns.into_vec() {
        let array = match data {
            ColumnData::U8(v) => array(py, v).into_any(),
            ColumnData::U16(v) => array(py, v).into_any(),
            ColumnData::U32(v) => array(py, v).into_any(),
            ColumnData::U64(v) => array(py, v).into_any(),
            ColumnData::F64(v) => array(py, v).into_any(),
            ColumnData::Bool(v) => array(py, v).into_any(),
            ColumnData::Other(_) => continue,
        };
        dict.set_item(name, array)?;
    }
    Ok(dict)
}

/// A mapping of column names to arrays as the core's columns. A value of a type no snapshot
/// uses (another dtype, more dimensions, not an array) becomes `ColumnData::Other` with its
/// description, which the core reports if it reads that column.
pub fn dict_to_columns(mapping: &Bound<'_, PyAny>) -> PyResult<Columns> {
    let mut columns = Columns::new();
    // Not a mapping: no columns at all, which the core reports as its first missing one.
    let Ok(items) = mapping.call_method0("items") else {
        return Ok(columns);
    };
    for item in items.try_iter()? {
        let (name, value): (String, Bound<'_, PyAny>) = item?.extract()?;
        columns.put(name, column_data(&value)?);
    }
    Ok(columns)
}

fn column_data(value: &Bound<'_, PyAny>) -> PyResult<ColumnData> {
    macro_rules! try_type {
        ($t:ty, $variant:ident) => {
            if let Ok(array) = value.extract::<PyReadonlyArray1<'_, $t>>() {
                return Ok(ColumnData::$variant(array.as_array().to_vec()));
            }
        };
    }
    // A masked array's mask would be dropped silently: refuse it by name, as the fallback does.
    let masked = value.py().import("numpy.ma")?.getattr("MaskedArray")?;
    if !value.is_instance(&masked)? {
        try_type!(u8, U8);
        try_type!(u16, U16);
        try_type!(u32, U32);
        try_type!(u64, U64);
        try_type!(f64, F64);
    }
    Ok(ColumnData::Other(describe(value, &masked)?))
}

/// What a value that is no column of a snapshot's types holds, worded as the fallback words
/// it (`_type_name` in `_fallback/engine/restore.py`): a dtype's NumPy name (" (big-endian)"
/// when it is), "a NAME scalar", or the type's name.
fn describe(value: &Bound<'_, PyAny>, masked: &Bound<'_, PyAny>) -> PyResult<String> {
    let numpy = value.py().import("numpy")?;
    let is_array = value.is_instance(&numpy.getattr("ndarray")?)?;
    let is_scalar = value.is_instance(&numpy.getattr("generic")?)?;
    if value.is_instance(masked)? || !(is_array || is_scalar) {
        return Ok(value.get_type().name()?.to_string());
    }
    let dtype = value.getattr("dtype")?;
    let mut name: String = dtype.getattr("name")?.extract()?;
    if dtype.getattr("byteorder")?.extract::<String>()? == ">" {
        name.push_str(" (big-endian)");
    }
    Ok(if is_array {
        name
    } else {
        format!("a {name} scalar")
    })
}
