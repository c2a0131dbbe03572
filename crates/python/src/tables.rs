//! The core's fixed tables, read by the parity tests (`tests/test_parity.py`) that hold the
//! Python copies to them: state variables, statuses, upload reasons, event kinds, connection
//! states, layers, actions, the error catalogue, the counters' names and a few constants.

use offload_tree_core::{
    fields, ConnectionState, Counters, ErrorCode, EventKind, Layer, Operation, Status,
    UploadReason, ValueType, ITEM_SUFFIX, MAX_BATCH, NO_STATUS,
};
use offload_tree_core::{Action, FieldSpec};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList};

/// `(name, layer, kind, value type, min, max, default, required)`; no range for an address,
/// a bool's default as a bool.
fn field_row<'py>(py: Python<'py>, spec: &FieldSpec) -> PyResult<Bound<'py, PyAny>> {
    let ranged = spec.value_type != ValueType::Ip;
    let default: Bound<'py, PyAny> = match spec.default {
        None => py.None().into_bound(py),
        Some(v) if spec.is_bool() => PyBool::new(py, v != 0).to_owned().into_any(),
        Some(v) => v.into_pyobject(py)?.into_any(),
    };
    Ok((
        spec.name,
        spec.layer as u8,
        spec.kind.name(),
        spec.value_type.name(),
        ranged.then_some(spec.min),
        ranged.then_some(spec.max),
        default,
        spec.required,
    )
        .into_pyobject(py)?
        .into_any())
}

fn named<'py>(
    py: Python<'py>,
    rows: impl IntoIterator<Item = (&'static str, u8)>,
) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, rows)
}

/// Every table of the core, by name.
#[pyfunction]
pub fn tables(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let out = PyDict::new(py);
    let field_rows: Vec<Bound<'_, PyAny>> = Layer::ALL
        .iter()
        .flat_map(|&layer| fields(layer))
        .map(|spec| field_row(py, spec))
        .collect::<PyResult<_>>()?;
    out.set_item("fields", PyList::new(py, field_rows)?)?;
    let layers = Layer::ALL.map(|l| (l.name(), l as u8));
    out.set_item("layers", named(py, layers)?)?;
    let statuses = Status::ALL.map(|s| (s.name(), s as u8));
    out.set_item("statuses", named(py, statuses)?)?;
    let reasons = UploadReason::ALL.map(|r| (r.name(), r as u8));
    out.set_item("upload_reasons", named(py, reasons)?)?;
    let mandatory: Vec<&str> = UploadReason::ALL
        .iter()
        .filter(|r| r.is_mandatory())
        .map(|r| r.name())
        .collect();
    out.set_item("mandatory_upload_reasons", PyList::new(py, mandatory)?)?;
    let kinds = EventKind::ALL.map(|k| (k.name(), k as u8));
    out.set_item("event_kinds", named(py, kinds)?)?;
    let operations = Operation::ALL.map(|o| (o.name(), o as u8));
    out.set_item("operations", named(py, operations)?)?;
    let states = ConnectionState::ALL.map(|s| (s.name(), s as u8));
    out.set_item("connection_states", named(py, states)?)?;
    let actions = Action::ALL.map(Action::name);
    out.set_item("actions", PyList::new(py, actions)?)?;
    let errors: Vec<(&str, &str, &str)> = ErrorCode::ALL
        .iter()
        .map(|c| (c.name(), c.kind().class_name(), c.template()))
        .collect();
    out.set_item("errors", PyList::new(py, errors)?)?;
    out.set_item("item_suffix", ITEM_SUFFIX)?;
    let counters: Vec<&str> = Counters::default()
        .entries()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    out.set_item("counters", PyList::new(py, counters)?)?;
    out.set_item("max_batch", MAX_BATCH)?;
    out.set_item("no_status", NO_STATUS)?;
    Ok(out)
}
