//! Interrupting long calls (docs/DESIGN.md §8, "Interrupts and allocation failures"): the loops of a
//! call's checking phase, and of an add's inserts (which unwind exactly), poll every
//! `POLL_EVERY` items. When the embedder's check says stop, the call returns `Interrupted`
//! with the tree unchanged; past its point of no return a call runs to the end. The Python
//! bindings check for signals (Ctrl-C) this way; tests make the n-th poll report one.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use crate::error;
use crate::model::Result;

/// Items between two polls: rare enough to cost nothing, often enough (well under a
/// millisecond of work) that Ctrl-C on a 10^7 batch takes effect at once.
pub const POLL_EVERY: usize = 1 << 16;

/// Asks the embedder whether the call should stop (true: stop).
pub type InterruptCheck = Arc<dyn Fn() -> bool + Send + Sync>;

#[derive(Clone, Default)]
pub(crate) struct Interrupts {
    check: Option<InterruptCheck>,
    /// Testing: polls left before one reports an interrupt (then it clears). While set,
    /// every item is a poll, so small batches can be interrupted anywhere.
    after: Cell<Option<u64>>,
}

impl fmt::Debug for Interrupts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interrupts")
            .field("check", &self.check.is_some())
            .field("after", &self.after.get())
            .finish()
    }
}

/// Not part of the tree's state.
impl PartialEq for Interrupts {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Interrupts {
    pub(crate) fn set_check(&mut self, check: Option<InterruptCheck>) {
        self.check = check;
    }

    pub(crate) fn set_after(&self, polls: Option<u64>) {
        self.after.set(polls);
    }

    /// Whether a test's interrupt is due: calls then take their plainest path, so that both
    /// engines poll at the same points.
    pub(crate) fn armed(&self) -> bool {
        self.after.get().is_some()
    }

    /// Polls at item `i` of a loop: `Interrupted` when the call should stop.
    pub(crate) fn poll(&self, i: usize) -> Result<()> {
        if let Some(left) = self.after.get() {
            if left == 0 {
                self.after.set(None);
                return Err(error!(Interrupted));
            }
            self.after.set(Some(left - 1));
        }
        if i % POLL_EVERY == POLL_EVERY - 1 {
            if let Some(check) = &self.check {
                if check() {
                    return Err(error!(Interrupted));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn the_check_runs_once_per_poll_interval() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        let mut interrupts = Interrupts::default();
        interrupts.set_check(Some(Arc::new(move || {
            seen.fetch_add(1, Ordering::Relaxed) == 1
        })));
        for i in 0..POLL_EVERY * 2 - 1 {
            interrupts.poll(i).unwrap();
        }
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        let stopped = interrupts.poll(POLL_EVERY * 2 - 1).unwrap_err();
        assert_eq!(stopped.code(), crate::ErrorCode::Interrupted);
    }

    #[test]
    fn a_test_limit_interrupts_the_nth_poll_once() {
        let interrupts = Interrupts::default();
        interrupts.set_after(Some(2));
        assert!(interrupts.poll(0).is_ok() && interrupts.poll(1).is_ok());
        assert!(interrupts.poll(2).is_err());
        assert!(interrupts.poll(3).is_ok(), "it fires once");
    }
}
