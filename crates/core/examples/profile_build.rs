//! Builds and offloads W(N) in the core alone, a few rounds in one process, for profiling
//! without Python: `cargo run --release -p offload-tree-core --example profile_build -- 1000000`
//! (`ROUNDS=8` for more rounds). It uses the wheel's allocator, mimalloc, so that the numbers
//! are those a Python user gets, minus the bindings.
use offload_tree_core::{Column, Engine, TargetConfig, Value};
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let (p, k) = (n / 100, n / 1000);
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    for round in 0..rounds {
        let mut e = Engine::new(TargetConfig::default()).unwrap();
        let t = Instant::now();
        let macs: Vec<Value> = (0..k)
            .map(|i| Value::Int(0x0200_0000_0000 + i as i128))
            .collect();
        let nbs = e.add_neighbors(&macs, None).unwrap();
        let src: Vec<Value> = (0..p).map(|_| Value::Int(0x0A00_0001)).collect();
        let dst: Vec<Value> = (0..p)
            .map(|j| Value::Int(0x0B00_0000 + j as i128))
            .collect();
        let pn: Vec<u64> = (0..p).map(|j| nbs[j % k]).collect();
        let pas = e.add_paths(&pn, &src, &dst, None).unwrap();
        let tp: Vec<u64> = (0..n).map(|i| pas[i % p]).collect();
        let lp: Vec<i64> = (0..n).map(|i| (i / p) as i64).collect(); // one 4-tuple each
        let rp = vec![443i64; n];
        let inputs = t.elapsed();
        let t = Instant::now();
        let tcs = e.add_tcps(&tp, &lp, &rp).unwrap();
        let build = t.elapsed();
        let t = Instant::now();
        let w = e.walk(false, None).unwrap();
        let walk = t.elapsed();
        let t = Instant::now();
        let blocks = e.block_list(&tcs).unwrap();
        let block_list = t.elapsed();
        drop(blocks);
        let t = Instant::now();
        let (list, _) = e.initiate_offload(&tcs).unwrap();
        let offload = t.elapsed();
        let t = Instant::now();
        let (queried, _) = e.query(&tcs).unwrap();
        let query = t.elapsed();
        drop(queried);
        let mtu = vec![1400i64; pas.len()];
        let columns = [("path_mtu".to_string(), Column::Ints(&mtu))];
        let t = Instant::now();
        e.update(&pas, &columns).unwrap();
        let update = t.elapsed();
        let t = Instant::now();
        e.update(&pas, &[]).unwrap();
        let update_nothing = t.elapsed();
        let victims: Vec<u64> = nbs.iter().copied().step_by(100).collect();
        let t = Instant::now();
        let outcome = e.terminate(&victims, true).unwrap();
        let terminate = t.elapsed();
        println!(
            "round {round}: inputs {inputs:?} add_tcps {build:?} walk {walk:?} ({}) block_list (with resolve) {block_list:?} offload {offload:?} ({}) query {query:?} update {update:?} update_nothing {update_nothing:?} terminate {terminate:?} ({})",
            w.len(),
            list.len(),
            outcome.len()
        );
    }
}
