//! Arbitrary bytes -> arbitrary sequences of engine calls (see `offload_tree_core::testing::fuzz`).
//! Fails on any panic, any broken invariant, and any failed call that changed the engine.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = offload_tree_core::testing::fuzz::run(data) {
        panic!("{broken}");
    }
});
