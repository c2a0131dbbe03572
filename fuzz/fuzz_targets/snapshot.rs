//! Arbitrary bytes -> a snapshot of an engine they built, broken by the rest of them (see
//! `offload_tree_core::testing::fuzz::restore_mutated`). Fails on any panic, any error of
//! another kind than `SnapshotError`, and any restored engine that breaks an invariant.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = offload_tree_core::testing::fuzz::restore_mutated(data) {
        panic!("{broken}");
    }
});
