//! Support for fuzzing the core: an interpreter that turns arbitrary bytes into a sequence of
//! engine calls (valid and invalid alike) and checks, after every call, that
//! - no call panics (the fuzzer or test harness catches that),
//! - a call that fails left the engine exactly as it was (invariant 6 of docs/SPEC.md §2),
//!   including one that ran out of memory (some steps run under a small allocation budget,
//!   which fails whichever reservation spends it) or was interrupted (some steps have an
//!   interrupt due at an early poll),
//! - every invariant holds (`Engine::check_invariants`).
//!
//! Used by `crates/core/tests/fuzz.rs` and by the `cargo fuzz` target in `fuzz/`.

use crate::{
    Column, ColumnData, Columns, Engine, ErrorKind, HostPolicy, NeighborArgs, OffloadRule,
    TargetConfig, TargetLimits, Value,
};

/// Reads bytes as a stream of small choices; runs dry as zeros.
#[derive(Clone)]
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }
    pub fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = usize::from(self.u8()) % (max + 1);
        (0..n).map(|_| self.u8()).collect()
    }
    /// Mostly a plausible field value (68..=9067: a valid port, MTU, window or count), sometimes
    /// far out of any range.
    pub fn int(&mut self) -> i128 {
        match self.u8() % 10 {
            0 => -i128::from(self.u8()),
            1 => i128::from(self.u64()),
            2 => i128::from(self.u8() % 16),
            _ => 68 + i128::from(self.u32() % 9000),
        }
    }
}

const TCP_FIELDS: [&str; 8] = [
    "rcv_wind_scale",
    "nagle",
    "initial_rcv_wnd",
    "flow_label",
    "rcv_nxt",
    "state",
    "user_priority",
    "bogus",
];
const UPDATE_FIELDS: [&str; 8] = [
    "mac",
    "host_reachability_delta",
    "path_mtu",
    "initial_rcv_wnd",
    "nagle",
    "vlan_id",
    "rcv_nxt",
    "nope",
];

/// The number of operation codes `step` draws.
pub const OPERATIONS: usize = 31;

/// How many calls of each operation code ran, how many of them succeeded, and how many ran
/// out of their allocation budget.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    pub calls: [u64; OPERATIONS],
    pub succeeded: [u64; OPERATIONS],
    pub out_of_memory: u64,
    pub interrupted: u64,
    /// Snapshot round trips, and steps the restored engine ran beside the original.
    pub restored: u64,
    pub twin_steps: u64,
}

impl Coverage {
    pub fn add(&mut self, other: &Coverage) {
        self.out_of_memory += other.out_of_memory;
        self.interrupted += other.interrupted;
        self.restored += other.restored;
        self.twin_steps += other.twin_steps;
        for i in 0..OPERATIONS {
            self.calls[i] += other.calls[i];
            self.succeeded[i] += other.succeeded[i];
        }
    }
}

/// Runs the operations encoded in `data` against a fresh engine; `Err` names the first broken
/// rule.
pub fn run(data: &[u8]) -> Result<Coverage, String> {
    let mut input = Bytes::new(data);
    // Mostly roomy targets, so that deep states (offloaded connections with traffic) are
    // reached; sometimes tight ones, so that every failure status is too.
    let limit =
        |b: u8, base: u64, scale: u64| (b % 4 == 0).then(|| base + u64::from(b % 8) * scale);
    let config = TargetConfig {
        neighbor_capacity: limit(input.u8(), 0, 1),
        path_capacity: limit(input.u8(), 0, 1),
        tcp_capacity: limit(input.u8(), 0, 1),
        max_path_mtu: limit(input.u8(), 1500, 1000),
        max_rcv_window: limit(input.u8(), 0, 20_000),
        fail_rate: if input.u8() % 3 == 0 {
            f64::from(input.u8() % 5) / 8.0
        } else {
            0.0
        },
        seed: input.u64(),
    };
    // Mostly the NDIS host, which releases unreferenced shared state; sometimes one that keeps it.
    let policy = HostPolicy {
        release_unreferenced: input.u8() % 4 != 0,
        ..HostPolicy::default()
    };
    let mut engine = Engine::with_policy(config, policy).map_err(|e| e.to_string())?;
    let mut known = seed_tree(&mut engine, &mut input);
    let mut steps = 0;
    let mut coverage = Coverage::default();
    // After a snapshot round trip, the engine it replaced runs the same steps beside it
    // until a step with a budget or an interrupt (whose effect depends on memory layout):
    // both must fail alike and end with equal snapshots.
    let mut twin: Option<(Engine, Vec<u64>)> = None;
    while !input.is_empty() && steps < 200 {
        steps += 1;
        if input.u8() % 16 == 0 {
            let restored = round_trip(&engine).map_err(|e| format!("step {steps}: {e}"))?;
            twin = Some((std::mem::replace(&mut engine, restored), known.clone()));
            coverage.restored += 1;
        }
        let before = engine.clone();
        // One step in eight runs out of memory somewhere: a budget of 0..1 KiB.
        let budget = (input.u8() % 8 == 0).then(|| u64::from(input.u8()) * 4);
        engine.set_allocation_budget(budget);
        // One step in eight has an interrupt due at one of its first polls.
        let interrupt = (input.u8() % 8 == 0).then(|| u64::from(input.u8() % 12));
        engine.interrupt_after(interrupt);
        if budget.is_some() || interrupt.is_some() {
            twin = None;
        }
        let twin_input = input.clone();
        let (op, failed) = step(&mut engine, &mut input, &mut known);
        engine.set_allocation_budget(None);
        engine.interrupt_after(None);
        if let Some((other, other_known)) = twin.as_mut() {
            let (_, other_failed) = step(other, &mut twin_input.clone(), other_known);
            coverage.twin_steps += 1;
            if other_failed != failed || other.snapshot() != engine.snapshot() {
                return Err(format!(
                    "step {steps}: operation {op} went otherwise on the engine a snapshot restored ({failed:?}) than on the original ({other_failed:?})"
                ));
            }
        }
        coverage.calls[usize::from(op)] += 1;
        match failed {
            None => coverage.succeeded[usize::from(op)] += 1,
            Some(crate::ErrorCode::OutOfMemory) => coverage.out_of_memory += 1,
            Some(crate::ErrorCode::Interrupted) => coverage.interrupted += 1,
            Some(_) => {}
        }
        let failed = failed.is_some();
        if failed && before != engine {
            return Err(format!(
                "step {steps}: failed operation {op} changed the engine"
            ));
        }
        engine
            .check_invariants()
            .map_err(|e| format!("step {steps}: {e}"))?;
    }
    Ok(coverage)
}

/// Builds an engine from the front of `data` (a seed tree and up to 40 steps), then
/// breaks its snapshot with the rest: values changed, columns cut, grown, retyped or dropped.
/// The restore must refuse it with a `SnapshotError`, or restore an engine that keeps every
/// invariant and survives a round trip of its own.
pub fn restore_mutated(data: &[u8]) -> Result<(), String> {
    let mut input = Bytes::new(data);
    let mut engine = Engine::new(TargetConfig::default()).map_err(|e| e.to_string())?;
    let mut known = seed_tree(&mut engine, &mut input);
    for _ in 0..input.u8() % 40 {
        step(&mut engine, &mut input, &mut known);
    }
    let mut columns = engine.snapshot().map_err(|e| e.to_string())?.into_vec();
    for _ in 0..=input.u8() % 4 {
        let at = usize::from(input.u8()) % columns.len();
        mutate(&mut columns[at].1, &mut input);
        if input.u8() % 32 == 0 {
            columns.remove(at);
        }
    }
    let mut broken = Columns::new();
    for (name, data) in columns {
        broken.put(name, data);
    }
    match Engine::restore(&broken) {
        Err(e) if e.kind() == ErrorKind::Snapshot => Ok(()),
        Err(e) => Err(format!(
            "a broken snapshot raised a {:?} error: {e}",
            e.kind()
        )),
        Ok(restored) => {
            restored.check_invariants()?;
            round_trip(&restored).map(|_| ())
        }
    }
}

/// Changes one value of a column, or its length, or its type.
fn mutate(column: &mut ColumnData, input: &mut Bytes<'_>) {
    let choice = input.u8();
    let index = usize::from(input.u8());
    let wide = match choice % 4 {
        0 => input.u64(),
        1 => u64::from(input.u8()),
        2 => u64::MAX,
        _ => 0,
    };
    macro_rules! edit {
        ($values:expr, $t:ty) => {{
            let values = $values;
            match choice % 8 {
                6 => values.truncate(index % (values.len() + 1)),
                7 => values.push(wide as $t),
                _ if values.is_empty() => values.push(wide as $t),
                _ => {
                    let at = index % values.len();
                    values[at] = wide as $t;
                }
            }
        }};
    }
    match column {
        _ if choice % 61 == 0 => *column = ColumnData::Other("int32".into()),
        ColumnData::U8(v) => edit!(v, u8),
        ColumnData::U16(v) => edit!(v, u16),
        ColumnData::U32(v) => edit!(v, u32),
        ColumnData::U64(v) => edit!(v, u64),
        ColumnData::F64(v) => edit!(v, f64),
        ColumnData::Bool(_) | ColumnData::Other(_) => {}
    }
}

/// `engine` restored from its snapshot, checked: the restore succeeds, keeps every
/// invariant and writes the same snapshot back.
pub fn round_trip(engine: &Engine) -> Result<Engine, String> {
    let columns = engine.snapshot().map_err(|e| e.to_string())?;
    let restored =
        Engine::restore(&columns).map_err(|e| format!("restore refused a snapshot: {e}"))?;
    restored.check_invariants()?;
    let again = restored.snapshot().map_err(|e| e.to_string())?;
    if again != columns {
        let differs = columns
            .iter()
            .zip(again.iter())
            .find(|(a, b)| a != b)
            .map(|(a, _)| a.0.to_owned());
        return Err(format!(
            "the restored engine writes another snapshot: {differs:?}"
        ));
    }
    Ok(restored)
}

/// A valid starting tree shaped by the input, half offloaded, so that random steps start from
/// deep states (offloaded connections with traffic) instead of having to find them.
fn seed_tree(e: &mut Engine, input: &mut Bytes<'_>) -> Vec<u64> {
    let mut known = Vec::new();
    for n in 0..=input.u8() % 3 {
        let Ok(nb) = e.add_neighbor(&NeighborArgs {
            mac: Value::Int(0x0200_0000_0000 + i128::from(n)),
            vlan_id: Value::Int(0),
            source_mac: None,
            host_reachability_delta: Value::Int(0),
            nic_reachability_delta: Value::Int(0),
        }) else {
            continue;
        };
        known.push(nb);
        for d in 0..=input.u8() % 3 {
            // One path per address pair, one connection per 4-tuple.
            let destination = Value::Text(format!("10.0.{n}.{d}"));
            let source = Value::Text("10.0.0.1".into());
            let Ok(pa) = e.add_path(nb, &source, &destination, &Value::Int(1500)) else {
                continue;
            };
            known.push(pa);
            let k = i64::from(input.u8() % 4) + 1;
            let ports: Vec<i64> = (1024..1024 + k).collect();
            if let Ok(tcps) = e.add_tcps(&vec![pa; ports.len()], &ports, &vec![443; ports.len()]) {
                known.extend(tcps);
            }
        }
    }
    let half: Vec<u64> = known
        .iter()
        .copied()
        .step_by(2)
        .filter(|h| (h >> 46) & 3 == 2)
        .collect();
    let _ = e.initiate_offload(&half);
    known
}

/// A handle: mostly a known one (of `layer` when given), sometimes garbage, foreign or stale.
fn pick(input: &mut Bytes<'_>, known: &[u64], layer: Option<u64>) -> u64 {
    let b = input.u8();
    if b >= 0xF0 || known.is_empty() {
        return input.u64();
    }
    let of_layer: Vec<u64> = match layer {
        Some(l) if b % 8 != 0 => known
            .iter()
            .copied()
            .filter(|h| (h >> 46) & 3 == l)
            .collect(),
        _ => Vec::new(),
    };
    let pool = if of_layer.is_empty() {
        known
    } else {
        &of_layer
    };
    pool[usize::from(b) % pool.len()]
}

fn picks(input: &mut Bytes<'_>, known: &[u64], layer: Option<u64>) -> Vec<u64> {
    let n = usize::from(input.u8() % 5);
    (0..n).map(|_| pick(input, known, layer)).collect()
}

/// Any shape of value, mostly of the shape `likely` makes.
fn value(input: &mut Bytes<'_>, likely: fn(&mut Bytes<'_>) -> Value) -> Value {
    match input.u8() % 20 {
        0 => Value::Bool(input.u8() & 1 == 1),
        1 => Value::Text(String::from_utf8_lossy(&input.bytes(24)).into_owned()),
        2 => Value::Bytes(input.bytes(17)),
        3 => Value::Other("float".into()),
        4 => Value::Int(input.int()),
        _ => likely(input),
    }
}

fn mac(input: &mut Bytes<'_>) -> Value {
    Value::Int(i128::from(input.u64() >> 16))
}

/// Mostly an address of the seed tree (10.0.0.1 to 10.0.n.d), so lookups and duplicates hit.
fn ip(input: &mut Bytes<'_>) -> Value {
    Value::Text(format!("10.0.{}.{}", input.u8() % 4, input.u8() % 5))
}

fn int(input: &mut Bytes<'_>) -> Value {
    Value::Int(input.int())
}

fn flag(input: &mut Bytes<'_>) -> Value {
    Value::Bool(input.u8() & 1 == 1)
}

/// One call; returns its operation code and, when it failed, the error's code.
fn step(
    e: &mut Engine,
    input: &mut Bytes<'_>,
    known: &mut Vec<u64>,
) -> (u8, Option<crate::ErrorCode>) {
    let op = input.u8() % OPERATIONS as u8;
    let result: Result<Vec<u64>, crate::Error> = match op {
        0 => e
            .add_neighbor(&NeighborArgs {
                mac: value(input, mac),
                vlan_id: Value::Int(input.int()),
                source_mac: None,
                host_reachability_delta: Value::Int(0),
                nic_reachability_delta: Value::Int(0),
            })
            .map(|h| vec![h]),
        1 => {
            let n = pick(input, known, Some(0));
            let (s, d) = (value(input, ip), value(input, ip));
            e.add_path(n, &s, &d, &Value::Int(input.int()))
                .map(|h| vec![h])
        }
        2 => {
            let p = pick(input, known, Some(1));
            let name = TCP_FIELDS[usize::from(input.u8()) % TCP_FIELDS.len()];
            let likely = if name == "nagle" { flag } else { int };
            let fields = [(name.to_string(), value(input, likely))];
            e.add_tcp(p, &Value::Int(input.int()), &Value::Int(443), &fields)
                .map(|h| vec![h])
        }
        3 => {
            let paths = picks(input, known, Some(1));
            let ports: Vec<i64> = paths.iter().map(|_| input.int() as i64).collect();
            e.add_tcps(&paths, &ports, &ports)
        }
        4 => {
            let hs = picks(input, known, None);
            e.remove(&hs, input.u8() & 1 == 1)
        }
        5 => e
            .initiate_offload(&picks(input, known, None))
            .map(|(l, released)| [l.handles, released.handles].concat()),
        6 => {
            let hs = picks(input, known, None);
            e.terminate(&hs, input.u8() & 1 == 1).map(|o| o.handles)
        }
        7 => {
            let hs = picks(input, known, None);
            let name = UPDATE_FIELDS[usize::from(input.u8()) % UPDATE_FIELDS.len()];
            let ints: Vec<i64> = hs.iter().map(|_| input.int() as i64).collect();
            let values: Vec<Value> = hs.iter().map(|_| value(input, mac)).collect();
            let column = if input.u8() & 1 == 0 {
                Column::Ints(&ints)
            } else {
                Column::Values(&values)
            };
            e.update(&hs, &[(name.to_string(), column)])
                .map(|_| Vec::new())
        }
        8 => {
            let (p, n) = (pick(input, known, Some(1)), pick(input, known, Some(0)));
            e.relink(p, n).map(|released| released.handles)
        }
        9 => e
            .query(&picks(input, known, None))
            .map(|(o, terminated)| [o.handles, terminated.handles].concat()),
        10 => e.invalidate(&picks(input, known, None)).map(|c| c.handles),
        11 => {
            let t = pick(input, known, Some(2));
            let data = input.bytes(64);
            // Sometimes with the PSH bit, which completes a push-mode request.
            e.target_receive(t, &data, input.u8() % 3 == 0)
                .map(|_| Vec::new())
        }
        12 => {
            let t = pick(input, known, Some(2));
            e.target_send(t, &Value::Int(input.int()))
                .map(|_| Vec::new())
        }
        13 => {
            let h = pick(input, known, None);
            match input.u8() % 5 {
                0 => e.target_request_upload(h, &Value::Int(input.int() % 13)),
                1 => e.target_request_upload_all(),
                // Resume, sometimes reporting other capabilities (smaller or none).
                2 => {
                    let limits = (input.u8() & 1 == 1).then(|| TargetLimits {
                        tcp_capacity: Some(u64::from(input.u8() % 8)),
                        max_path_mtu: [None, Some(1400)][usize::from(input.u8() & 1)],
                        ..TargetLimits::default()
                    });
                    e.target_resume(limits)
                }
                3 => e.target_pause(),
                _ => e.target_indicate_neighbor_reachability_query(h),
            }
            .map(|_| Vec::new())
        }
        14 => {
            // A fault on any operation (sometimes an unknown one), mostly FAILURE, which every
            // operation takes.
            let h = pick(input, known, None);
            let operation = Value::Int(i128::from(input.u8() % 6));
            let status = match input.u8() % 3 {
                0 => input.u8() % 20,
                _ => 2,
            };
            e.target_inject_fault(h, &Value::Int(i128::from(status)), &operation)
                .map(|_| Vec::new())
        }
        16 => {
            // Lookups by key, of objects that exist (mostly) or not.
            let (s, d) = (value(input, ip), value(input, ip));
            let (lp, rp) = (
                Value::Int(1024 + i128::from(input.u8() % 6)),
                Value::Int(443),
            );
            match input.u8() % 3 {
                0 => e.find_path(&s, &d).map(|h| h.into_iter().collect()),
                1 => e
                    .find_tcp(&s, &d, &lp, &rp)
                    .map(|h| h.into_iter().collect()),
                _ => e.find_tcps(&[s, d.clone()], &[d.clone(), d], &[1024, 1025], &[443, 443]),
            }
        }
        17 => {
            // The thread count: mostly 1 or 2, sometimes refused (0 or negative). The
            // invariants after every step hold whatever it is.
            let threads = i64::from(input.u8() % 4) - 1;
            e.set_threads(threads).map(|_| Vec::new())
        }
        19 => {
            // The host posts send data (sometimes none).
            let t = pick(input, known, Some(2));
            let data = input.bytes(96);
            e.send(t, &data).map(|_| Vec::new())
        }
        20 => {
            // The peer acknowledges: mostly a little, sometimes more than is in flight
            // (refused).
            let t = pick(input, known, Some(2));
            let n = match input.u8() % 4 {
                0 => input.int(),
                _ => i128::from(input.u8() % 48),
            };
            // Sometimes with a window the peer advertises.
            let window = match input.u8() % 3 {
                0 => Some(Value::Int(input.int())),
                _ => None,
            };
            e.target_acknowledge(t, &Value::Int(n), window.as_ref())
                .map(|_| Vec::new())
        }
        21 => {
            // The host posts a receive request (sometimes of no bytes: refused).
            let t = pick(input, known, Some(2));
            let size = i128::from(input.u8() % 40);
            // In push mode or not.
            e.post_receive(t, &Value::Int(size), input.u8() & 1 == 1)
                .map(|_| Vec::new())
        }
        22 => {
            let t = pick(input, known, Some(2));
            e.read(t).map(|_| Vec::new())
        }
        23 => {
            // The peer closes: a FIN, or an RST (some refused by the connection's state).
            let t = pick(input, known, Some(2));
            e.target_peer_close(t, input.u8() & 1 == 1)
                .map(|_| Vec::new())
        }
        24 => {
            // The host disconnects: gracefully, or with an RST (some refused by the state).
            let t = pick(input, known, Some(2));
            e.disconnect(t, input.u8() & 1 == 1).map(|o| o.handles)
        }
        27 => {
            // A new host policy: declines (sometimes a mandatory one: refused), a pace for
            // upload storms, whether indicated data is taken, what a link down does, and
            // sometimes a rule that keeps low remote ports on the host.
            let decline = vec![Value::Int(i128::from(input.u8() % 11 + 1))];
            let pace = [None, Some(1), Some(2), Some(0)][usize::from(input.u8() % 4)];
            let rules = match input.u8() % 3 {
                0 => vec![OffloadRule {
                    offload: false,
                    local_ports: (0, u16::MAX),
                    remote_ports: (0, u16::from(input.u8()) * 4),
                    destination: None,
                }],
                _ => Vec::new(),
            };
            let (accept, terminate) = (input.u8() & 1 == 1, input.u8() & 1 == 0);
            e.set_policy(&decline, pace, accept, terminate, rules)
                .map(|()| Vec::new())
        }
        29 => {
            // The host forwards segments.
            let t = pick(input, known, Some(2));
            let data = input.bytes(24);
            e.forward(t, &data).map(|_| Vec::new())
        }
        30 => {
            // Offload with BufferedData (sometimes for a handle not requested: refused).
            let (t, other) = (pick(input, known, Some(2)), pick(input, known, Some(2)));
            let data = input.bytes(24);
            let named = if input.u8() % 4 == 0 { other } else { t };
            let lengths = [data.len() as i64];
            e.initiate_offload_buffered(&[t], (&[named], &data, &lengths))
                .map(|(list, _)| list.handles)
        }
        28 => {
            // The link goes down: the host terminates everything, or keeps it by policy.
            Ok(e.link_down().handles)
        }
        26 => {
            // Time moves: a tick, a retransmission's worth, past NceStaleTicks or FIN_WAIT_2,
            // the most; sometimes out of range (refused).
            let ticks = [0, 1, 1000, 3000, 30_001, 120_000, i128::from(u32::MAX), -1]
                [usize::from(input.u8() % 8)];
            e.advance(&Value::Int(ticks)).map(|_| Vec::new())
        }
        25 => {
            // A batch of traffic on a few connections (one bad item refuses it all).
            let count = usize::from(input.u8() % 5);
            let tcs: Vec<u64> = (0..count).map(|_| pick(input, known, Some(2))).collect();
            let lengths: Vec<i64> = (0..count)
                .map(|_| match input.u8() % 8 {
                    0 => -1,
                    n => i64::from(n) * 3,
                })
                .collect();
            let total = lengths.iter().map(|&n| n.max(0) as usize).sum::<usize>();
            let data = vec![0xa5; total + usize::from(input.u8() % 4 == 0)];
            match input.u8() % 5 {
                0 => e.send_many(&tcs, &data, &lengths).map(|_| Vec::new()),
                1 => e
                    .target_receive_many(&tcs, &data, &lengths)
                    .map(|_| Vec::new()),
                2 => e
                    .post_receive_many(&tcs, &lengths, input.u8() & 1 == 1)
                    .map(|_| Vec::new()),
                3 => e.read_many(&tcs).map(|_| Vec::new()),
                _ => {
                    let windows = (input.u8() & 1 == 0).then(|| lengths.clone());
                    e.target_acknowledge_many(&tcs, &lengths, windows.as_deref())
                        .map(|_| Vec::new())
                }
            }
        }
        18 => {
            // The chimney statistics of a family: read, or reset; sometimes of a version that
            // is no IP version (refused).
            let version = [4, 6, 4, 6, 5, 0, -6, i64::MAX][usize::from(input.u8() % 8)];
            if input.u8() & 1 == 0 {
                e.offload_stats(version).map(|_| Vec::new())
            } else {
                e.reset_offload_stats(version).map(|_| Vec::new())
            }
        }
        _ => {
            // A host policy: mostly nothing declined, sometimes optional reasons, rarely a
            // mandatory one (refused) or garbage.
            let decline: Option<Vec<Value>> = match input.u8() % 5 {
                0 => None, // the policy's
                1 => Some(Vec::new()),
                2 => Some(vec![Value::Int(1), Value::Int(i128::from(input.u8() % 8))]),
                _ => Some(vec![Value::Int(i128::from(input.u8() % 13))]),
            };
            e.process_events(decline.as_deref())
                .map(|done| done.iter().filter_map(|p| p.event.handle).collect())
        }
    };
    match result {
        Ok(handles) => {
            if op <= 3 {
                known.extend(handles);
            }
            (op, None)
        }
        Err(error) => (op, Some(error.code())),
    }
}
