//! Random byte strings through the fuzz interpreter (`testing::fuzz`): thousands of mixed,
//! mostly invalid calls, each checked for panics, for failed calls that changed the engine,
//! and for every invariant. `OFFLOAD_TREE_FUZZ_RUNS` sets the number of runs (default 300).

use offload_tree_core::testing::fuzz::{restore_mutated, run, Coverage, OPERATIONS};

/// SplitMix64, for reproducible inputs without a dependency.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn random_operation_sequences_keep_every_invariant() {
    let mut rng = 0x00FF_10AD;
    let runs: usize = std::env::var("OFFLOAD_TREE_FUZZ_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut total = Coverage::default();
    for run_index in 0..runs {
        let len = (splitmix(&mut rng) % 2048) as usize;
        let data: Vec<u8> = (0..len).map(|_| splitmix(&mut rng) as u8).collect();
        match run(&data) {
            Ok(coverage) => total.add(&coverage),
            Err(e) => panic!("run {run_index} broke a rule: {e}\ninput: {data:?}"),
        }
    }
    // The interpreter must reach success, not only errors, for every operation.
    for op in 0..OPERATIONS {
        assert!(
            total.succeeded[op] > 0,
            "operation {op} never succeeded: {total:?}"
        );
    }
    assert!(
        total.out_of_memory > 0,
        "no call ran out of memory: {total:?}"
    );
    assert!(total.interrupted > 0, "no call was interrupted: {total:?}");
    assert!(
        total.restored > 0 && total.twin_steps > total.restored,
        "too few snapshot round trips: {total:?}"
    );
    println!("{total:?}");
}

#[test]
fn broken_snapshots_are_refused_or_restore_whole() {
    let mut rng = 0x05AA_9507;
    let runs: usize = std::env::var("OFFLOAD_TREE_FUZZ_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    for run_index in 0..runs {
        let len = (splitmix(&mut rng) % 1024) as usize;
        let data: Vec<u8> = (0..len).map(|_| splitmix(&mut rng) as u8).collect();
        if let Err(e) = restore_mutated(&data) {
            panic!("run {run_index} broke a rule: {e}\ninput: {data:?}");
        }
    }
}
