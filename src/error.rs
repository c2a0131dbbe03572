//! Errors of the core. Each kind maps one-to-one onto a Python exception class
//! (`offload_tree._errors`), so the bindings only translate, never decide.

use std::fmt;

/// What went wrong, in the terms of SPEC §6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Unknown, stale or foreign handle (`InvalidHandleError`).
    InvalidHandle,
    /// An object of the wrong layer for its role (`LayerError`).
    Layer,
    /// The operation would orphan or cut a dependency (`DependencyError`).
    Dependency,
    /// Wrong offload state for the operation, or a variable that may not be set (`StateError`).
    State,
    /// A field out of range or malformed (`ValidationError`).
    Validation,
}

/// An error with a message that names the handle, the field and the allowed range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
    pub fn invalid_handle(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidHandle, message)
    }
    pub fn layer(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Layer, message)
    }
    pub fn dependency(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Dependency, message)
    }
    pub fn state(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::State, message)
    }
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }

    /// Names the position of the offending item in a batch call.
    pub fn at(mut self, index: usize) -> Self {
        self.message = format!("{} (item {index})", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
