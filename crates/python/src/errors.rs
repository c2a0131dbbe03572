//! The core's errors as Python exceptions: each kind raises the class of the same name from
//! `offload_tree._errors`, so both backends raise the very same classes. The classes are
//! imported once and cached (`import_exception!`), not on every raise.

use offload_tree_core::{Error, ErrorKind};
use pyo3::PyErr;

use pyo3::exceptions::PyKeyboardInterrupt;

pyo3::import_exception!(offload_tree._errors, InvalidHandleError);
pyo3::import_exception!(offload_tree._errors, LayerError);
pyo3::import_exception!(offload_tree._errors, DependencyError);
pyo3::import_exception!(offload_tree._errors, StateError);
pyo3::import_exception!(offload_tree._errors, ValidationError);
pyo3::import_exception!(offload_tree._errors, InternalError);
pyo3::import_exception!(offload_tree._errors, DuplicateKeyError);
pyo3::import_exception!(offload_tree._errors, OutOfMemoryError);
pyo3::import_exception!(offload_tree._errors, SnapshotError);

/// The Python exception of a core error, with the core's message.
pub fn to_pyerr(error: Error) -> PyErr {
    let message = error.message().to_owned();
    match error.kind() {
        ErrorKind::InvalidHandle => InvalidHandleError::new_err(message),
        ErrorKind::Layer => LayerError::new_err(message),
        ErrorKind::Dependency => DependencyError::new_err(message),
        ErrorKind::State => StateError::new_err(message),
        ErrorKind::Validation => ValidationError::new_err(message),
        ErrorKind::DuplicateKey => DuplicateKeyError::new_err(message),
        ErrorKind::Memory => OutOfMemoryError::new_err(message),
        // Raised by a test's interrupt; Ctrl-C's own exception replaces it (engine.rs `run`).
        ErrorKind::Interrupted => PyKeyboardInterrupt::new_err(message),
        ErrorKind::Snapshot => SnapshotError::new_err(message),
    }
}

/// A caught panic of the core, which must never cross into Python as a crash.
pub fn internal_error(message: String) -> PyErr {
    InternalError::new_err(message)
}
