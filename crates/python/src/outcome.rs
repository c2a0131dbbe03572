//! `Outcome`: the result of terminate or query, kept in Rust and read lazily, so that a
//! million uploads do not become a million Python objects unless asked for.

use numpy::PyArray1;
use offload_tree_core::{Layer, Outcome};
use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::convert::{array, columns_to_dict};

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

    /// The completion status of each object (`Status` codes), in the order of `handles`.
    #[getter]
    fn statuses<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u8>> {
        array(py, self.inner.statuses.clone())
    }

    /// Received bytes returned in total.
    #[getter]
    fn total_received(&self) -> u64 {
        self.inner.total_received
    }

    /// Posted send bytes returned in total.
    #[getter]
    fn total_send_data(&self) -> u64 {
        self.inner.total_send_data
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// The delegated variables of the `i`-th object, in field order.
    fn delegated_at<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyDict>> {
        let delegated = self
            .inner
            .delegated_at(i)
            .ok_or_else(|| PyIndexError::new_err(i))?;
        let dict = PyDict::new(py);
        for (name, value) in delegated.fields() {
            dict.set_item(name, value)?;
        }
        Ok(dict)
    }

    /// The delegated variables of the objects of `layer` as columns: `row` and one column
    /// per variable.
    fn delegated_columns<'py>(&self, py: Python<'py>, layer: u8) -> PyResult<Bound<'py, PyDict>> {
        let layer = Layer::from_u8(layer).ok_or_else(|| PyIndexError::new_err(layer))?;
        columns_to_dict(py, self.inner.delegated_columns(layer))
    }

    /// The received bytes returned for the `i`-th object (empty for query and non-TCP objects).
    fn received_at<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyBytes>> {
        if i >= self.inner.len() {
            return Err(PyIndexError::new_err(i));
        }
        let data = self.inner.received.get(&i).map_or(&[][..], Vec::as_slice);
        Ok(PyBytes::new(py, data))
    }

    /// The posted send bytes returned for the `i`-th object, unacknowledged ones first
    /// (empty for query and non-TCP objects).
    fn send_data_at<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyBytes>> {
        if i >= self.inner.len() {
            return Err(PyIndexError::new_err(i));
        }
        let data = self.inner.send_data.get(&i).map_or(&[][..], Vec::as_slice);
        Ok(PyBytes::new(py, data))
    }
}
