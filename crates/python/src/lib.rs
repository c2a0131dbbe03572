//! `offload_tree._native`: the PyO3 bindings of offload-tree-core.
//!
//! Thin by design: convert, lock, call the core, convert back. Semantics live in the core;
//! input normalisation and the shape of what users read live in the Python layer.
//!
//! | module | what it holds |
//! |---|---|
//! | `engine` | the `Engine` class: one lock around one core `Engine` |
//! | `outcome` | the `Outcome` class: terminate and query results, read lazily |
//! | `convert` | Python objects to core values and back |
//! | `errors` | core errors as the `offload_tree._errors` classes |
//! | `tables` | the core's fixed tables, for the parity tests |
//! | `allocator` | the wheel's global allocator (mimalloc) |

mod allocator;
mod convert;
mod engine;
mod errors;
mod outcome;
mod tables;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    allocator::configure();
    m.add_class::<engine::PyEngine>()?;
    m.add_class::<outcome::PyOutcome>()?;
    m.add_function(wrap_pyfunction!(tables::tables, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
