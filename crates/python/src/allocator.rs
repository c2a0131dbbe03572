//! The global allocator of the wheel: mimalloc, told to keep freed pages for a second.
//!
//! Building a million-connection tree touches a few hundred MiB of fresh memory, and on the
//! machines we measured every fresh 4 KiB page costs a kernel fault and a zeroing (about
//! 0.8 ms per MiB, ten times a memset). mimalloc reuses freed pages and returns them to the
//! kernel (purges them) only after a delay. A delay of one second keeps them across a
//! benchmark loop or a rebuild, where Python work sits between dropping one tree and
//! building the next, and still gives them back soon after (RSS falls back:
//! `tests/test_memory.py`).
//!
//! mimalloc v3, which libmimalloc-sys builds (its `v2` feature is off), already defaults to
//! 1000 ms with no extra multiplier for arenas; v2 defaulted to 10 ms (100 ms for arenas).
//! We set the delay anyway, so the behaviour we measured does not hang on which version or
//! default is linked; the test below checks both the version and the delay in force.

use std::ffi::c_long;

use libmimalloc_sys::{mi_option_set, mi_option_t};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (the same position in v2 and v3); libmimalloc-sys
/// exports no constant for it.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The purge delay in force, in milliseconds.
    fn purge_delay_ms() -> c_long {
        // SAFETY: reads one integer from mimalloc's option table; a valid index, no pointers.
        unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }
    }

    #[test]
    fn the_linked_mimalloc_is_v3() {
        // SAFETY: `mi_version` takes no arguments and returns a constant.
        let version = unsafe { libmimalloc_sys::mi_version() };
        // The module comment describes v3's defaults: MI_MALLOC_VERSION is major, then two
        // digits each of minor and patch (30302 is 3.3.2).
        assert!((30000..40000).contains(&version), "mimalloc {version}");
    }

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
