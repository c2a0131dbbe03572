//! End-to-end scenarios of the core through its public API, from the source page and the
//! worked examples of docs/NDIS.md.

use offload_tree_core::{
    BlockList, Column, ConnectionState, Delegated, Engine, ErrorCode, ErrorKind, HostPolicy, Layer,
    NeighborArgs, Operation, StateValue, Status, TargetConfig, UploadReason, Value,
};

const OFFLOAD: Value = Value::Int(Operation::InitiateOffload as i128);
const FAILURE: Value = Value::Int(Status::Failure as i128);

fn op(operation: Operation) -> Value {
    Value::Int(operation as i128)
}

fn neighbor(engine: &mut Engine, last: i128) -> u64 {
    engine
        .add_neighbor(&NeighborArgs {
            mac: Value::Int(0x0200_0000_0000 + last),
            vlan_id: Value::Int(0),
            source_mac: None,
            host_reachability_delta: Value::Int(0),
            nic_reachability_delta: Value::Int(0),
        })
        .unwrap()
}

/// A path to a destination of its own: a host keeps one path per address pair.
fn path(engine: &mut Engine, n: u64, mtu: i128) -> u64 {
    let destination = 0x0a01_0000 + engine.count(Some(Layer::Path), None) as i128;
    engine
        .add_path(
            n,
            &Value::Text("10.0.0.1".into()),
            &Value::Int(destination),
            &Value::Int(mtu),
        )
        .unwrap()
}

fn tcp(engine: &mut Engine, p: u64, port: i128) -> u64 {
    engine
        .add_tcp(p, &Value::Int(port), &Value::Int(443), &[])
        .unwrap()
}

/// Neighbor1 -> Path1 (TCP1, TCP2), Path2 (TCP3).
fn example(config: TargetConfig) -> (Engine, [u64; 6]) {
    example_with(config, HostPolicy::default())
}

fn example_with(config: TargetConfig, policy: HostPolicy) -> (Engine, [u64; 6]) {
    let mut e = Engine::with_policy(config, policy).unwrap();
    let n1 = neighbor(&mut e, 1);
    let p1 = path(&mut e, n1, 1500);
    let p2 = path(&mut e, n1, 1500);
    let t1 = tcp(&mut e, p1, 1);
    let t2 = tcp(&mut e, p1, 2);
    let t3 = tcp(&mut e, p2, 3);
    (e, [n1, p1, p2, t1, t2, t3])
}

/// The value of variable `name` in `state(h)`.
fn state_of(engine: &Engine, h: u64, name: &str) -> StateValue {
    let state = engine.state(h).unwrap();
    state.into_iter().find(|(n, _)| *n == name).unwrap().1
}

fn statuses(list: &BlockList) -> Vec<Status> {
    (0..list.len()).map(|i| list.status(i).unwrap()).collect()
}

/// docs/NDIS.md, "Initiate offload: per-block status": the worked example.
#[test]
fn worked_partial_failure_example() {
    let (mut e, [n1, p1, p2, t1, t2, t3]) = example(TargetConfig::default());
    e.target_inject_fault(t2, &Value::Int(Status::Resources as i128), &OFFLOAD)
        .unwrap();
    e.target_inject_fault(p2, &Value::Int(Status::Failure as i128), &OFFLOAD)
        .unwrap();
    let (list, _) = e.initiate_offload(&[t1, t2, t3]).unwrap();
    assert_eq!(list.handles, vec![n1, p1, t1, t2, p2, t3]);
    use Status::*;
    assert_eq!(
        statuses(&list),
        vec![
            PartialSuccess,
            PartialSuccess,
            Success,
            Resources,
            Failure,
            Failure
        ]
    );
    assert!(e.is_offloaded(t1).unwrap());
    assert!(!e.is_offloaded(t2).unwrap());
    assert!(!e.is_offloaded(p2).unwrap());
    assert_eq!(e.counters().contexts_allocated, 3);
    let (handles, parents) = e.target_links();
    assert_eq!(handles, vec![n1, p1, t1]);
    assert_eq!(parents, vec![0, n1, p1]);
}

#[test]
fn root_failure_stops_everything() {
    let (mut e, [n1, .., t1, t2, t3]) = example(TargetConfig::default());
    e.target_inject_fault(n1, &Value::Int(Status::NeighborEntries as i128), &OFFLOAD)
        .unwrap();
    let (list, _) = e.initiate_offload(&[t1, t2, t3]).unwrap();
    assert!(statuses(&list)
        .iter()
        .all(|s| *s == Status::NeighborEntries));
    assert_eq!(e.count(None, Some(true)), 0);
}

#[test]
fn capacity_limits_each_layer() {
    let (mut e, [.., t1, t2, t3]) = example(TargetConfig {
        tcp_capacity: Some(2),
        ..TargetConfig::default()
    });
    let (list, _) = e.initiate_offload(&[t1, t2, t3]).unwrap();
    assert_eq!(list.status(5), Some(Status::TcpEntries));
    assert_eq!(e.count(Some(Layer::Tcp), Some(true)), 2);

    let (mut e, [_, _, p2, t1, t2, t3]) = example(TargetConfig {
        path_capacity: Some(1),
        ..TargetConfig::default()
    });
    let (list, _) = e.initiate_offload(&[t1, t2, t3]).unwrap();
    let at = |h: u64| list.status(list.handles.iter().position(|&x| x == h).unwrap());
    assert_eq!(at(p2), Some(Status::PathEntries));
    assert_eq!(at(t3), Some(Status::PathEntries));
}

#[test]
fn capacity_follows_block_order_not_request_order() {
    // Requested t1, t3, t2: the blocks are n1, p1, t1, t2, p2, t3, so with room for two
    // connections the target takes t1 and t2 (block order), although t3 was asked for first.
    // Only p2 has a failed dependent, so only p2 is PARTIAL_SUCCESS.
    let (mut e, [n1, p1, p2, t1, t2, t3]) = example(TargetConfig {
        tcp_capacity: Some(2),
        ..TargetConfig::default()
    });
    let (list, released) = e.initiate_offload(&[t1, t3, t2, t3]).unwrap();
    assert_eq!(list.handles, vec![n1, p1, t1, t2, p2, t3]);
    use Status::*;
    assert_eq!(
        statuses(&list),
        vec![
            Success,
            Success,
            Success,
            Success,
            PartialSuccess,
            TcpEntries
        ]
    );
    assert!(e.is_offloaded(t2).unwrap());
    assert!(!e.is_offloaded(t3).unwrap());
    // p2 went through but its only connection did not: nothing references it, so the host
    // releases it again.
    assert_eq!(released.handles, vec![p2]);
    let (handles, parents) = e.target_links();
    assert_eq!(handles, vec![n1, p1, t1, t2]);
    assert_eq!(parents, vec![0, n1, p1, p1]);
    e.check_invariants().unwrap();
}

#[test]
fn nothing_is_lost_on_terminate() {
    let (mut e, [n1, p1, p2, t1, t2, t3]) = example(TargetConfig::default());
    e.initiate_offload(&[t1, t2, t3]).unwrap();
    e.target_receive(t1, b"hello ", false).unwrap();
    e.target_receive(t1, b"world", false).unwrap();
    assert_eq!(e.target_send(t1, &Value::Int(1000)).unwrap(), 1000);
    let outcome = e.terminate(&[n1], true).unwrap();
    assert_eq!(outcome.handles, vec![t1, t2, p1, t3, p2, n1]);
    assert_eq!(outcome.received[&0], b"hello world");
    assert_eq!(outcome.total_received, 11);
    match &outcome.delegated_at(0).unwrap() {
        Delegated::Tcp(d) => {
            assert_eq!(d.rcv_nxt, 11);
            assert_eq!(d.snd_nxt, 1000);
            assert_eq!(d.snd_max, 1000);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(state_of(&e, t1, "rcv_nxt"), StateValue::Int(11));
    assert_eq!(e.count(None, Some(true)), 0);
    assert_eq!(e.counters().contexts_freed, 6);
    assert_eq!(e.counters().bytes_returned, 11);
    e.check_invariants().unwrap();
}

#[test]
fn referencing_allocates_nothing() {
    let (mut e, [n1, p1, _, t1, t2, _]) = example(TargetConfig::default());
    e.initiate_offload(&[t1]).unwrap();
    let before = e.counters().contexts_allocated;
    let (list, _) = e.initiate_offload(&[t2]).unwrap();
    assert_eq!(list.handles, vec![p1, t2]);
    assert_eq!(list.referenced, vec![true, false]);
    assert_eq!(e.counters().contexts_allocated, before + 1);
    assert!(e.is_offloaded(n1).unwrap());
}

#[test]
fn failed_calls_change_nothing() {
    let (mut e, [n1, p1, _, t1, ..]) = example(TargetConfig::default());
    e.initiate_offload(&[t1]).unwrap();
    let before = e.clone();
    let kind = |e: offload_tree_core::Error| e.kind();
    let err = e.initiate_offload(&[t1]).unwrap_err();
    assert_eq!(kind(err), ErrorKind::State);
    let err = e.terminate(&[n1], false).unwrap_err();
    assert_eq!(kind(err), ErrorKind::Dependency);
    assert_eq!(kind(e.remove(&[p1], false).unwrap_err()), ErrorKind::State);
    let err = e.remove(&[t1 ^ (1 << 32)], false).unwrap_err();
    assert_eq!(kind(err), ErrorKind::InvalidHandle);
    let cached = [("path_mtu".to_string(), Column::Ints(&[100_000]))];
    assert_eq!(
        kind(e.update(&[p1], &cached).unwrap_err()),
        ErrorKind::Validation
    );
    let constant = [("vlan_id".to_string(), Column::Ints(&[1]))];
    assert_eq!(
        kind(e.update(&[n1], &constant).unwrap_err()),
        ErrorKind::State
    );
    assert_eq!(before, e, "a failed call changes nothing");
}

#[test]
fn update_over_target_limit_terminates() {
    let (mut e, [n1, p1, _, t1, ..]) = example(TargetConfig {
        max_path_mtu: Some(1500),
        ..TargetConfig::default()
    });
    e.initiate_offload(&[t1]).unwrap();
    e.target_receive(t1, b"held", false).unwrap();
    let (statuses, terminated) = e
        .update(&[p1], &[("path_mtu".to_string(), Column::Ints(&[9000]))])
        .unwrap();
    assert_eq!(statuses, vec![Status::PathMtu as u8]);
    // The refusal uploads the path with its connection, and the neighbor they referenced;
    // the connection's buffered bytes come back with it.
    assert_eq!(terminated.handles, vec![t1, p1, n1]);
    assert_eq!(
        terminated.received.get(&0).map(Vec::as_slice),
        Some(&b"held"[..])
    );
    assert!(!e.is_offloaded(p1).unwrap());
    assert!(!e.is_offloaded(t1).unwrap());
    assert_eq!(state_of(&e, p1, "path_mtu"), StateValue::Int(9000));
    assert_eq!(e.counters().update.failed[Status::PathMtu as usize], 1);
}

#[test]
fn invalidate_holds_back_and_requests_uploads() {
    let (mut e, [n1, _, _, t1, t2, t3]) = example(TargetConfig::default());
    e.initiate_offload(&[t1, t2, t3]).unwrap();
    e.invalidate(&[n1]).unwrap();
    e.invalidate(&[n1]).unwrap();
    assert_eq!(
        e.counters().events_pending,
        3,
        "one pending request per connection"
    );
    assert_eq!(e.target_send(t1, &Value::Int(10)).unwrap(), 0);
    assert_eq!(e.counters().bytes_held_back, 10);
    // An invalidated object is never updated: the way back is terminate and offload again.
    let before = e.clone();
    assert_eq!(e.update(&[n1], &[]).unwrap_err().kind(), ErrorKind::State);
    assert_eq!(before, e);
    let done = e.process_events(Some(&[])).unwrap();
    assert_eq!(done.len(), 3);
    assert!(done.iter().all(|p| p.action.name() == "terminated"));
    assert_eq!(e.count(Some(Layer::Tcp), Some(true)), 0);
}

#[test]
fn upload_all_pauses_until_resume() {
    let (mut e, [n1, .., t1, t2, t3]) = example(TargetConfig::default());
    e.initiate_offload(&[t1]).unwrap();
    e.target_request_upload_all().unwrap();
    let (list, _) = e.initiate_offload(&[t2]).unwrap();
    assert!(statuses(&list).iter().all(|s| *s == Status::Paused));
    let done = e.process_events(Some(&[])).unwrap();
    assert_eq!(done[0].action.name(), "terminated_all");
    assert_eq!(done[0].outcome.as_ref().unwrap().len(), 3);
    assert!(!e.is_offloaded(n1).unwrap());
    e.target_resume(None).unwrap();
    assert!(!e.counters().paused);
    assert_eq!(
        statuses(&e.initiate_offload(&[t3]).unwrap().0)[0],
        Status::Success
    );
    assert_eq!(
        e.counters().initiate_offload.failed[Status::Paused as usize],
        1
    );
}

#[test]
fn relink_moves_target_links_too() {
    let (mut e, [n1, p1, _, t1, ..]) = example(TargetConfig::default());
    let n2 = neighbor(&mut e, 2);
    e.initiate_offload(&[t1]).unwrap();
    let released = e.relink(p1, n2).unwrap();
    assert!(e.is_offloaded(n2).unwrap());
    let (handles, parents) = e.target_links();
    let parent_of = |h| parents[handles.iter().position(|&x| x == h).unwrap()];
    assert_eq!(parent_of(p1), n2);
    assert_eq!(e.depends_on(p1).unwrap(), Some(n2));
    // p1 was n1's last reference: the host releases n1.
    assert_eq!(released.handles, vec![n1]);
    assert!(!e.is_offloaded(n1).unwrap());
}

#[test]
fn terminate_releases_what_it_leaves_unreferenced() {
    let (mut e, [n1, p1, p2, t1, t2, t3]) = example(TargetConfig {
        path_capacity: Some(1),
        ..TargetConfig::default()
    });
    e.initiate_offload(&[t1, t2]).unwrap();
    assert_eq!(e.terminate(&[t1], true).unwrap().handles, vec![t1]);
    assert!(e.is_offloaded(p1).unwrap(), "t2 still references p1");
    let done = e.terminate(&[t2], true).unwrap();
    assert_eq!(done.handles, vec![t2, p1, n1], "dependents first");
    assert_eq!(e.counters().released, [1, 1, 0]);
    // The path's capacity is free again for another path.
    let (list, released) = e.initiate_offload(&[t3]).unwrap();
    assert!(statuses(&list).iter().all(|s| *s == Status::Success));
    assert!(released.is_empty());
    assert!(e.is_offloaded(p2).unwrap());
    e.check_invariants().unwrap();
}

#[test]
fn a_host_that_keeps_shared_state_releases_nothing() {
    let keep = HostPolicy {
        release_unreferenced: false,
        ..HostPolicy::default()
    };
    let (mut e, [n1, p1, _, t1, ..]) = example_with(TargetConfig::default(), keep);
    e.initiate_offload(&[t1]).unwrap();
    assert_eq!(e.terminate(&[t1], true).unwrap().handles, vec![t1]);
    assert!(e.is_offloaded(p1).unwrap() && e.is_offloaded(n1).unwrap());
    assert_eq!(e.counters().unreferenced, [0, 1, 0]);
    e.check_invariants().unwrap();
}

#[test]
fn shared_state_offloaded_alone_is_released_at_once() {
    let (mut e, [n1, p1, ..]) = example(TargetConfig::default());
    let (list, released) = e.initiate_offload(&[p1]).unwrap();
    assert!(statuses(&list).iter().all(|s| *s == Status::Success));
    assert_eq!(released.handles, vec![p1, n1]);
    assert_eq!(e.count(None, Some(true)), 0);
}

/// returning-the-completion-status-of-a-terminate-offload-operation.md: corrupt hardware
/// state completes the terminate with FAILURE and aborts the connection; the simulation still
/// hands back the buffered bytes.
#[test]
fn a_terminate_fault_fails_that_upload_and_aborts_the_connection() {
    let (mut e, [n1, p1, _, t1, t2, _]) = example(TargetConfig::default());
    e.initiate_offload(&[t1, t2]).unwrap();
    e.target_receive(t1, b"kept", false).unwrap();
    e.target_inject_fault(t1, &FAILURE, &op(Operation::Terminate))
        .unwrap();
    let out = e.terminate(&[p1], true).unwrap();
    assert_eq!(out.handles, vec![t1, t2, p1, n1]);
    let failure = Status::Failure as u8;
    let success = Status::Success as u8;
    assert_eq!(out.statuses, vec![failure, success, success, success]);
    assert_eq!(out.failed().collect::<Vec<_>>(), vec![t1]);
    assert_eq!(out.received.get(&0).map(Vec::as_slice), Some(&b"kept"[..]));
    assert_eq!(
        state_of(&e, t1, "state"),
        StateValue::Int(ConnectionState::Closed as u64)
    );
    assert_eq!(
        state_of(&e, t2, "state"),
        StateValue::Int(ConnectionState::Established as u64)
    );
    assert_eq!(e.counters().terminate.failed[Status::Failure as usize], 1);
    assert_eq!(e.counters().faults_pending, [0; 5], "faults are one-shot");
}

/// returning-the-completion-status-of-a-query-offload-operation.md: the host terminates the
/// objects it could not query, with their dependents.
#[test]
fn a_query_fault_fails_that_object_and_the_host_terminates_it() {
    let (mut e, [n1, p1, p2, t1, t2, t3]) = example(TargetConfig::default());
    e.initiate_offload(&[t1, t2, t3]).unwrap();
    e.target_inject_fault(p1, &FAILURE, &op(Operation::Query))
        .unwrap();
    let (answers, terminated) = e.query(&[t3, p1]).unwrap();
    assert_eq!(answers.handles, vec![t3, p1]);
    assert_eq!(
        answers.statuses,
        vec![Status::Success as u8, Status::Failure as u8]
    );
    assert_eq!(terminated.handles, vec![t1, t2, p1]);
    assert_eq!(terminated.failed().collect::<Vec<_>>(), vec![p1]);
    assert!(!e.is_offloaded(p1).unwrap());
    assert!(e.is_offloaded(p2).unwrap() && e.is_offloaded(n1).unwrap());
    assert_eq!(e.counters().query.failed[Status::Failure as usize], 1);
    e.check_invariants().unwrap();
}

/// returning-the-completion-status-of-an-invalidate-operation.md: FAILURE, then
/// TcpIndicateRetrieve with HardwareFailure for the connections that rely on the object.
#[test]
fn an_invalidate_fault_fails_it_and_requests_hardware_failure_uploads() {
    let (mut e, [_, p1, p2, t1, t2, t3]) = example(TargetConfig::default());
    e.initiate_offload(&[t1, t2, t3]).unwrap();
    e.target_inject_fault(p1, &FAILURE, &op(Operation::Invalidate))
        .unwrap();
    let done = e.invalidate(&[p1, p2]).unwrap();
    assert_eq!(done.handles, vec![p1, p2]);
    assert_eq!(
        done.statuses,
        vec![Status::Failure as u8, Status::Success as u8]
    );
    assert_eq!(e.counters().invalid, 1, "only p2 is marked invalid");
    let processed = e.process_events(Some(&[])).unwrap();
    let reasons: Vec<_> = processed.iter().map(|p| p.event.reason).collect();
    let hardware = Some(UploadReason::HardwareFailure as u8);
    let invalid = Some(UploadReason::InvalidState as u8);
    assert_eq!(reasons, vec![hardware, hardware, invalid]);
    // p1 was released with its last connection, and its corrupt state failed that upload.
    let p1_upload = processed[1].outcome.as_ref().unwrap();
    assert_eq!(p1_upload.handles, vec![t2, p1]);
    assert_eq!(p1_upload.failed().collect::<Vec<_>>(), vec![p1]);
    e.check_invariants().unwrap();
}

/// returning-the-completion-status-of-an-update-offload-operation.md: FAILURE, and the host
/// terminates the object (its state was fine, so the upload succeeds).
#[test]
fn an_update_fault_fails_every_mention_and_the_host_terminates_it() {
    let (mut e, [_, _, _, t1, t2, _]) = example(TargetConfig::default());
    e.initiate_offload(&[t1, t2]).unwrap();
    e.target_inject_fault(t1, &FAILURE, &op(Operation::Update))
        .unwrap();
    let ints = [1i64, 0, 1];
    let (statuses, terminated) = e
        .update(&[t1, t2, t1], &[("nagle".into(), Column::Ints(&ints))])
        .unwrap();
    let failure = Status::Failure as u8;
    assert_eq!(statuses, vec![failure, Status::Success as u8, failure]);
    assert_eq!(terminated.handles, vec![t1]);
    assert_eq!(terminated.statuses, vec![Status::Success as u8]);
    assert!(e.is_offloaded(t2).unwrap());
}

#[test]
fn a_fault_on_an_operation_other_than_offload_must_be_failure() {
    let (mut e, [n1, ..]) = example(TargetConfig::default());
    let resources = Value::Int(Status::Resources as i128);
    for operation in [Operation::Terminate, Operation::Update, Operation::Query] {
        let err = e
            .target_inject_fault(n1, &resources, &op(operation))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation);
    }
    e.target_inject_fault(n1, &resources, &OFFLOAD).unwrap();
    let err = e
        .target_inject_fault(n1, &FAILURE, &Value::Int(9))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert_eq!(e.counters().faults_pending, [1, 0, 0, 0, 0]);
}

/// The batch forms of the data path do what the single calls one after another do, and a
/// bad item refuses the whole batch with nothing changed (engine/traffic_batch.rs).
#[test]
fn traffic_batches_are_the_single_calls_in_order() {
    let (mut batch, [_, _, _, t1, t2, t3]) = example(TargetConfig::default());
    batch.initiate_offload(&[t1, t2, t3]).unwrap();
    let mut single = batch.clone();
    let (tcs, pieces): (Vec<u64>, Vec<&[u8]>) =
        [(t1, &b"abc"[..]), (t3, b""), (t1, b"de"), (t2, b"fghi")]
            .into_iter()
            .unzip();
    let lengths: Vec<i64> = pieces.iter().map(|p| p.len() as i64).collect();
    let data = pieces.concat();

    let sent = batch.send_many(&tcs, &data, &lengths).unwrap();
    let one_by_one: Vec<u32> = (0..4)
        .map(|i| single.send(tcs[i], pieces[i]).unwrap())
        .collect();
    assert_eq!(sent, one_by_one);
    batch.post_receive_many(&tcs, &[2, 1, 4, 3], false).unwrap();
    for (&t, size) in tcs.iter().zip([2, 1, 4, 3]) {
        single.post_receive(t, &Value::Int(size), false).unwrap();
    }
    batch.target_receive_many(&tcs, &data, &lengths).unwrap();
    for (&t, piece) in tcs.iter().zip(&pieces) {
        single.target_receive(t, piece, false).unwrap();
    }
    let done = batch.target_acknowledge_many(&tcs, &lengths, None).unwrap();
    let expected: Vec<u64> = (0..4)
        .map(|i| {
            let n = Value::Int(i128::from(lengths[i]));
            single.target_acknowledge(tcs[i], &n, None).unwrap()
        })
        .collect();
    assert_eq!(done, expected);
    let read = batch.read_many(&[t1, t2, t3, t1]).unwrap();
    let reads: Vec<Vec<u8>> = [t1, t2, t3, t1]
        .iter()
        .map(|&t| single.read(t).unwrap())
        .collect();
    assert_eq!(read, reads);
    assert!(read[3].is_empty(), "the first read of t1 took its bytes");
    assert_eq!(batch, single);
    batch.check_invariants().unwrap();

    // A bad item anywhere refuses the batch: nothing changes.
    let before = batch.clone();
    let err = batch.send_many(&[t1, t2], b"abc", &[1, 1]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::DataLength);
    let err = batch
        .post_receive_many(&[t1, t2], &[1, 0], false)
        .unwrap_err();
    assert!(err.to_string().ends_with("(item 1)"), "{err}");
    // t1 has 2 bytes in flight: together the items may acknowledge no more than that.
    batch.send(t1, b"xy").unwrap();
    let before_acks = batch.clone();
    let err = batch
        .target_acknowledge_many(&[t1, t1], &[1, 2], None)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::AckBeyondBatch);
    assert_eq!(before_acks, batch);
    assert_ne!(before, batch, "the send between went through");
}
