//! Fallible allocation: every buffer that grows with a call's input is reserved with
//! `try_reserve` before the call changes anything, so running out of memory is an
//! `OutOfMemory` error with the tree unchanged instead of an abort (docs/DESIGN.md §8,
//! "Interrupts and allocation failures").
//!
//! The budget makes that testable: with a limit set, each reservation is charged its size
//! first and fails once the limit is spent, exactly as if the allocator had refused it. The
//! fuzz interpreter and the Python tests draw limits to fail every reservation point.

use std::cell::Cell;

use super::error::{Error, Result};
use crate::error;

/// Bytes the engine may still reserve; `None` (the default) is no limit.
#[derive(Clone, Debug, Default)]
pub struct Budget {
    left: Cell<Option<u64>>,
}

/// Not part of the tree's state: two engines with the same tree are equal whatever is left.
impl PartialEq for Budget {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

pub(crate) fn out_of_memory() -> Error {
    error!(OutOfMemory)
}

impl Budget {
    /// Sets the bytes left to reserve (`None`: no limit).
    pub fn set(&self, limit: Option<u64>) {
        self.left.set(limit);
    }

    pub fn left(&self) -> Option<u64> {
        self.left.get()
    }

    /// Charges `bytes` against the limit, failing (and charging nothing) when they do not fit.
    pub fn charge(&self, bytes: usize) -> Result<()> {
        if let Some(left) = self.left.get() {
            let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
            if bytes > left {
                return Err(out_of_memory());
            }
            self.left.set(Some(left - bytes));
        }
        Ok(())
    }

    /// Makes room for `additional` more items in `vec`, charged and fallible.
    pub fn reserve<T>(&self, vec: &mut Vec<T>, additional: usize) -> Result<()> {
        self.charge(additional.saturating_mul(std::mem::size_of::<T>()))?;
        vec.try_reserve(additional).map_err(|_| out_of_memory())
    }

    /// `count` copies of `value`, charged and fallible.
    pub fn filled<T: Clone>(&self, value: T, count: usize) -> Result<Vec<T>> {
        let mut vec = self.vec(count)?;
        vec.resize(count, value);
        Ok(vec)
    }

    /// An empty vector with room for `capacity` items, charged and fallible.
    pub fn vec<T>(&self, capacity: usize) -> Result<Vec<T>> {
        let mut vec = Vec::new();
        self.reserve(&mut vec, capacity)?;
        Ok(vec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_budget_refuses_and_keeps_what_is_left() {
        let budget = Budget::default();
        assert!(budget.vec::<u64>(1_000).is_ok(), "no limit by default");
        budget.set(Some(100));
        assert!(budget.vec::<u64>(10).is_ok());
        assert_eq!(budget.left(), Some(20));
        let refused = budget.vec::<u64>(3).unwrap_err();
        assert_eq!(refused.code(), crate::model::ErrorCode::OutOfMemory);
        assert_eq!(budget.left(), Some(20), "a refused charge costs nothing");
    }

    #[test]
    fn an_impossible_reservation_is_an_error_not_an_abort() {
        let budget = Budget::default();
        let mut vec: Vec<u64> = Vec::new();
        let refused = budget.reserve(&mut vec, usize::MAX / 4).unwrap_err();
        assert_eq!(refused.code(), crate::model::ErrorCode::OutOfMemory);
    }
}
