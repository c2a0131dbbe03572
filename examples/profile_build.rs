//! Builds and offloads W(10^6) in the core alone, for profiling without Python.
use offload_tree::engine::{Engine, NeighborArgs};
use offload_tree::value::Value;
use offload_tree::TargetConfig;
use std::time::Instant;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let (p, k) = (n / 100, n / 1000);
    let mut e = Engine::new(TargetConfig::default()).unwrap();
    let t = Instant::now();
    let macs: Vec<Value> = (0..k).map(|i| Value::Int(0x0200_0000_0000 + i as i128)).collect();
    let nbs = e.add_neighbors(&macs, None).unwrap();
    let src: Vec<Value> = (0..p).map(|_| Value::Int(0x0A00_0001)).collect();
    let dst: Vec<Value> = (0..p).map(|j| Value::Int(0x0B00_0000 + j as i128)).collect();
    let pn: Vec<u64> = (0..p).map(|j| nbs[j % k]).collect();
    let pas = e.add_paths(&pn, &src, &dst, None).unwrap();
    let tp: Vec<u64> = (0..n).map(|i| pas[i % p]).collect();
    let lp: Vec<i64> = (0..n).map(|i| (i % 60000) as i64).collect();
    let rp = vec![443i64; n];
    println!("inputs {:?}", t.elapsed());
    println!("sizes tcp={} ttcp={} path={} nb={}", std::mem::size_of::<offload_tree::tree::Tcp>(), std::mem::size_of::<offload_tree::target::TargetTcp>(), std::mem::size_of::<offload_tree::tree::Path>(), std::mem::size_of::<offload_tree::tree::Neighbor>());
    let t = Instant::now();
    let tcs = e.add_tcps(&tp, &lp, &rp).unwrap();
    println!("add_tcps {:?}", t.elapsed());
    let t = Instant::now();
    let w = e.walk(false, None).unwrap();
    println!("walk {:?} ({})", t.elapsed(), w.len());
    let t = Instant::now();
    let list = e.initiate_offload(&tcs).unwrap();
    println!("offload {:?} ({})", t.elapsed(), list.len());
    let _ = NeighborArgs { mac: Value::Int(0), vlan_id: Value::Int(0), source_mac: None, host_reachability_delta: Value::Int(0), nic_reachability_delta: Value::Int(0) };
}
#[allow(dead_code)]
fn sizes() {}
