//! The global allocator of the wheel: mimalloc, tuned to keep freed pages for a moment.
//!
//! Building a million-connection tree touches a few hundred MiB of fresh memory, and on the
//! machines we measured every fresh 4 KiB page costs a kernel fault and a zeroing (about
//! 0.8 ms per MiB, ten times a memset). mimalloc reuses freed pages, but by default purges
//! them 10 ms after they are freed: too soon for a benchmark loop or a rebuild, where Python
//! work sits between dropping one tree and building the next. One second keeps them for that
//! and still returns them to the kernel soon after (RSS falls back: `tests/test_memory.py`).

use std::ffi::c_long;

use libmimalloc_sys::{mi_option_set, mi_option_t};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (the same position in mimalloc v2 and v3).
const PURGE_DELAY: mi_option_t = 15;

/// How long freed pages stay with the process before they are returned, in milliseconds.
pub const PURGE_DELAY_MS: c_long = 1000;

/// Sets the purge delay, unless the user chose one with `MIMALLOC_PURGE_DELAY`.
pub fn configure() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: `mi_option_set` writes one integer in mimalloc's option table; it takes no
        // pointers, is thread-safe (the table entries are atomics), and `PURGE_DELAY` is a
        // valid option index, so no argument can make it touch memory it does not own.
        unsafe { mi_option_set(PURGE_DELAY, PURGE_DELAY_MS) };
    }
}

/// The purge delay in force, in milliseconds.
#[cfg(test)]
pub fn purge_delay_ms() -> c_long {
    // SAFETY: reads one integer from mimalloc's option table; a valid index, no pointers.
    unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configure_sets_the_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return; // the user's setting wins, and is what mimalloc reports
        }
        configure();
        assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
        // The allocator still works after the change.
        let v: Vec<u64> = (0..1_000_000).collect();
        assert_eq!(v.iter().sum::<u64>(), 999_999 * 1_000_000 / 2);
    }
}
