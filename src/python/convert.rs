//! Conversions between Python objects and the core's types. Shape only: no decisions.

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyInt, PyString, PyType};

use crate::engine::Out;
use crate::error::{Error, ErrorKind};
use crate::operations::Outcome;
use crate::stats::Stat;
use crate::value::Value;

/// Raises the `offload_tree._errors` class matching the core's error kind, so both backends
/// raise the very same classes.
pub fn to_pyerr(py: Python<'_>, error: Error) -> PyErr {
    let name = match error.kind {
        ErrorKind::InvalidHandle => "InvalidHandleError",
        ErrorKind::Layer => "LayerError",
        ErrorKind::Dependency => "DependencyError",
        ErrorKind::State => "StateError",
        ErrorKind::Validation => "ValidationError",
    };
    error_class(py, name).map_or_else(|e| e, |cls| PyErr::from_type(cls, error.message))
}

pub fn error_class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    Ok(py
        .import("offload_tree._errors")?
        .getattr(name)?
        .cast_into::<PyType>()?)
}

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
        crate::engine::check_batch(n).map_err(|e| to_pyerr(obj.py(), e))?;
    }
    if let Ok(array) = obj.cast::<PyArray1<u64>>() {
        let array = array.readonly();
        return Ok(array
            .as_array()
            .iter()
            .map(|&v| Value::Int(i128::from(v)))
            .collect());
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
pub fn owned<T: numpy::Element + Copy>(array: &PyReadonlyArray1<'_, T>) -> PyResult<Vec<T>> {
    array
        .as_slice()
        .map(<[T]>::to_vec)
        .map_err(|_| PyTypeError::new_err("expected a C-contiguous 1-D array"))
}

pub fn array<'py, T: numpy::Element>(py: Python<'py>, values: Vec<T>) -> Bound<'py, PyArray1<T>> {
    PyArray1::from_vec(py, values)
}

pub fn out_to_py<'py>(py: Python<'py>, value: &Out) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Out::Int(v) => v.into_pyobject(py)?.into_any(),
        Out::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Out::Text(s) => PyString::new(py, s).into_any(),
        Out::Bytes(b) => PyBytes::new(py, b).into_any(),
        Out::None => py.None().into_bound(py),
    })
}

/// A statistics record as nested dicts. Its depth is fixed by the record, not by input.
pub fn stat_to_py<'py>(py: Python<'py>, stat: &Stat) -> PyResult<Bound<'py, PyAny>> {
    Ok(match stat {
        Stat::Int(v) => v.into_pyobject(py)?.into_any(),
        Stat::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Stat::None => py.None().into_bound(py),
        Stat::Map(entries) => {
            let dict = PyDict::new(py);
            for (key, value) in entries {
                dict.set_item(key, stat_to_py(py, value)?)?;
            }
            dict.into_any()
        }
    })
}

/// The result of terminate or query, kept in Rust and read lazily: a million uploads do not
/// become a million Python objects unless asked for.
#[pyclass(frozen, module = "offload_tree._native", name = "Outcome")]
pub struct PyOutcome {
    pub inner: Outcome,
}

#[pymethods]
impl PyOutcome {
    /// Handles in upload (or request) order.
    #[getter]
    fn handles<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u64>> {
        array(py, self.inner.handles.clone())
    }

    /// Received bytes returned in total.
    #[getter]
    fn total_received(&self) -> u64 {
        self.inner.total_received
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// The delegated variables of the `i`-th object, in field order.
    fn delegated_at<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyDict>> {
        let delegated = self
            .inner
            .delegated
            .get(i)
            .ok_or_else(|| pyo3::exceptions::PyIndexError::new_err(i))?;
        let dict = PyDict::new(py);
        for (name, value) in delegated.fields() {
            dict.set_item(name, value)?;
        }
        Ok(dict)
    }

    /// The received bytes returned for the `i`-th object (empty for query and non-TCP objects).
    fn received_at<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyBytes>> {
        if i >= self.inner.len() {
            return Err(pyo3::exceptions::PyIndexError::new_err(i));
        }
        let data = self.inner.received.get(&i).map_or(&[][..], Vec::as_slice);
        Ok(PyBytes::new(py, data))
    }
}
