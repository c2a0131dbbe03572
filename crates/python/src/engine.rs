//! `offload_tree._native.Engine`: convert, lock, call the core, convert back.
//!
//! Concurrency: the engine sits behind a `Mutex`, so the class is `frozen` and shareable between
//! threads (free-threaded builds included). Batch calls release the GIL (`py.detach`) while they
//! wait for the lock and work; quick calls take the lock without releasing the GIL when it is
//! free, which is cheaper than a GIL round trip.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use numpy::{PyArray1, PyReadonlyArray1};
use offload_tree_core::{
    BlockList, Column, Engine, Error, ErrorKind, HostPolicy, Layer, NeighborArgs, OffloadRule,
    TargetConfig, TargetLimits, Value,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use crate::convert::{
    array, columns_to_dict, counters_to_py, dict_to_columns, offload_stats_to_py, owned,
    state_value_to_py, to_value, to_values,
};
use crate::errors::{internal_error, to_pyerr, StateError};
use crate::outcome::PyOutcome;

type Core<T> = Result<T, Error>;
/// Two aligned handle arrays.
type HandlePairs<'py> = (Bound<'py, PyArray1<u64>>, Bound<'py, PyArray1<u64>>);

/// An `update` column copied out of Python: an int64 array, or raw values (`mac`).
enum OwnedColumn {
    Ints(Vec<i64>),
    Values(Vec<Value>),
}

/// `invalidate`'s result: the objects and their completion statuses.
type Completion<'py> = (Bound<'py, PyArray1<u64>>, Bound<'py, PyArray1<u8>>);

/// The engine behind one `OffloadStateTree`: host tree and simulated target.
// `weakref`: the facade frees the engine's tree id when the engine is collected.
#[pyclass(frozen, weakref, module = "offload_tree._native", name = "Engine")]
pub struct PyEngine {
    inner: Mutex<Engine>,
    /// `thread_number()` of the thread running a call on `inner`, 0 when none.
    owner: AtomicU64,
    /// The exception an interrupt poll caught (Ctrl-C's `KeyboardInterrupt`), to re-raise.
    pending: Arc<Mutex<Option<PyErr>>>,
    /// `thread_number()` of the thread whose running call should stop at its next poll.
    requested_by: Arc<AtomicU64>,
}

/// A small number per thread, to tell which thread holds an engine's lock.
fn thread_number() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local!(static NUMBER: u64 = NEXT.fetch_add(1, Ordering::Relaxed));
    NUMBER.with(|n| *n)
}

impl PyEngine {
    fn new_engine(engine: Engine) -> Self {
        let pending: Arc<Mutex<Option<PyErr>>> = Arc::default();
        let requested_by: Arc<AtomicU64> = Arc::default();
        let (slot, request) = (Arc::clone(&pending), Arc::clone(&requested_by));
        let mut engine = engine;
        // Long calls poll this. It runs the Python signal handlers: the facade's SIGINT
        // recorder asks this thread's call to stop (`request_interrupt`); a handler that
        // raises (Ctrl-C outside the facade) stops it too, and its exception is re-raised.
        // Either way the call stops with the tree unchanged.
        engine.set_interrupt_check(Some(Arc::new(move || {
            if let Err(raised) = Python::attach(|py| py.check_signals()) {
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(raised);
                return true;
            }
            let me = thread_number();
            request
                .compare_exchange(me, 0, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        })));
        Self {
            inner: Mutex::new(engine),
            owner: AtomicU64::new(0),
            pending,
            requested_by,
        }
    }

    /// Runs a batch that cuts one buffer into pieces (connections, data, lengths) and
    /// returns a count per item, as an int64 column.
    fn run_pieces<'py>(
        &self,
        py: Python<'py>,
        (tcs, data, lengths): Buffered<'py>,
        batch: PiecesBatch,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let (tcs, lengths, data) = (owned(&tcs)?, owned(&lengths)?, data.as_bytes());
        let counts = self.run(py, true, |e| batch(e, &tcs, data, &lengths))?;
        Ok(array(py, widen(counts)))
    }

    /// Runs `f` on the engine, turning a core error into its Python class and a panic into
    /// `InternalError` (no panic may cross into Python).
    fn run<T>(
        &self,
        py: Python<'_>,
        long: bool,
        f: impl FnOnce(&mut Engine) -> Core<T> + Send,
    ) -> PyResult<T>
    where
        T: Send,
    {
        // A signal handler run by an interrupt poll, or a finalizer, that calls back into
        // this tree on the thread holding its lock would wait for itself: refuse instead.
        let me = thread_number();
        if self.owner.load(Ordering::Acquire) == me {
            return Err(StateError::new_err(
                "re-entrant call: this tree is in the middle of an operation on this thread \
                 (a finalizer or a callback called back into it); call it after that returns",
            ));
        }
        let work = |guard: Result<MutexGuard<'_, Engine>, String>| -> Result<Core<T>, String> {
            let mut guard = guard?;
            self.owner.store(me, Ordering::Release);
            let outcome = catch_unwind(AssertUnwindSafe(|| f(&mut guard))).map_err(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                format!("internal error in offload-tree's core: {message}")
            });
            self.owner.store(0, Ordering::Release);
            outcome
        };
        const POISONED: &str = "the engine was poisoned by an earlier internal error";
        let engine = &self.inner;
        let result = if long {
            py.detach(|| work(engine.lock().map_err(|_| POISONED.to_string())))
        } else {
            match engine.try_lock() {
                Ok(guard) => work(Ok(guard)),
                Err(std::sync::TryLockError::Poisoned(_)) => work(Err(POISONED.to_string())),
                // Another thread holds it: wait without holding the GIL.
                Err(std::sync::TryLockError::WouldBlock) => {
                    py.detach(|| work(engine.lock().map_err(|_| POISONED.to_string())))
                }
            }
        };
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) if error.kind() == ErrorKind::Interrupted => {
                let raised = self
                    .pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
                Err(raised.unwrap_or_else(|| to_pyerr(error)))
            }
            Ok(Err(error)) => Err(to_pyerr(error)),
            Err(message) => Err(internal_error(message)),
        }
    }
}

fn layer_arg(layer: Option<u8>) -> PyResult<Option<Layer>> {
    layer
        .map(|l| Layer::from_u8(l).ok_or_else(|| PyValueError::new_err(format!("no layer {l}"))))
        .transpose()
}

fn block_arrays<'py>(
    py: Python<'py>,
    list: BlockList,
    with_status: bool,
) -> PyResult<Bound<'py, PyTuple>> {
    let mut items: Vec<Bound<'py, PyAny>> = vec![
        array(py, list.layers).into_any(),
        array(py, list.handles).into_any(),
        array(py, list.depths).into_any(),
        array(py, list.referenced).into_any(),
        array(py, list.next).into_any(),
        array(py, list.dependent).into_any(),
    ];
    if with_status {
        items.push(array(py, list.statuses).into_any());
    }
    PyTuple::new(py, items)
}

#[pymethods]
impl PyEngine {
    #[new]
    // The constructor mirrors SimulatedTarget's keywords one for one.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (neighbor_capacity, path_capacity, tcp_capacity, max_path_mtu, max_rcv_window, fail_rate, seed, release_unreferenced, tree_id))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        neighbor_capacity: Option<u64>,
        path_capacity: Option<u64>,
        tcp_capacity: Option<u64>,
        max_path_mtu: Option<u64>,
        max_rcv_window: Option<u64>,
        fail_rate: f64,
        seed: u64,
        release_unreferenced: bool,
        tree_id: u16,
    ) -> PyResult<Self> {
        let config = TargetConfig {
            neighbor_capacity,
            path_capacity,
            tcp_capacity,
            max_path_mtu,
            max_rcv_window,
            fail_rate,
            seed,
        };
        let policy = HostPolicy {
            release_unreferenced,
            ..HostPolicy::default()
        };
        let engine = Engine::with_tree_id(config, policy, tree_id).map_err(to_pyerr)?;
        Ok(Self::new_engine(engine))
    }

    #[getter]
    fn tree_id(&self, py: Python<'_>) -> PyResult<u16> {
        self.run(py, false, |e| Ok(e.tree_id()))
    }

    #[getter]
    fn threads(&self, py: Python<'_>) -> PyResult<usize> {
        self.run(py, false, |e| Ok(e.threads()))
    }

    fn set_threads(&self, py: Python<'_>, threads: i64) -> PyResult<()> {
        self.run(py, false, |e| e.set_threads(threads))
    }

    // ---- building ----

    #[pyo3(signature = (mac, vlan_id, source_mac, host_reachability_delta, nic_reachability_delta))]
    fn add_neighbor(
        &self,
        py: Python<'_>,
        mac: &Bound<'_, PyAny>,
        vlan_id: &Bound<'_, PyAny>,
        source_mac: Option<&Bound<'_, PyAny>>,
        host_reachability_delta: &Bound<'_, PyAny>,
        nic_reachability_delta: &Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        let args = NeighborArgs {
            mac: to_value(mac),
            vlan_id: to_value(vlan_id),
            source_mac: source_mac.map(to_value),
            host_reachability_delta: to_value(host_reachability_delta),
            nic_reachability_delta: to_value(nic_reachability_delta),
        };
        self.run(py, false, |e| e.add_neighbor(&args))
    }

    fn add_neighbors<'py>(
        &self,
        py: Python<'py>,
        macs: &Bound<'py, PyAny>,
        vlan_ids: Option<PyReadonlyArray1<'py, i64>>,
    ) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let macs = to_values(macs)?;
        let vlans = vlan_ids.as_ref().map(owned).transpose()?;
        let out = self.run(py, true, |e| e.add_neighbors(&macs, vlans.as_deref()))?;
        Ok(array(py, out))
    }

    fn add_path(
        &self,
        py: Python<'_>,
        neighbor: u64,
        source: &Bound<'_, PyAny>,
        destination: &Bound<'_, PyAny>,
        path_mtu: &Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        let (s, d, m) = (to_value(source), to_value(destination), to_value(path_mtu));
        self.run(py, false, |e| e.add_path(neighbor, &s, &d, &m))
    }

    fn add_paths<'py>(
        &self,
        py: Python<'py>,
        neighbors: PyReadonlyArray1<'py, u64>,
        sources: &Bound<'py, PyAny>,
        destinations: &Bound<'py, PyAny>,
        path_mtus: Option<PyReadonlyArray1<'py, i64>>,
    ) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let neighbors = owned(&neighbors)?;
        let (sources, destinations) = (to_values(sources)?, to_values(destinations)?);
        let mtus = path_mtus.as_ref().map(owned).transpose()?;
        let out = self.run(py, true, |e| {
            e.add_paths(&neighbors, &sources, &destinations, mtus.as_deref())
        })?;
        Ok(array(py, out))
    }

    fn add_tcp(
        &self,
        py: Python<'_>,
        path: u64,
        local_port: &Bound<'_, PyAny>,
        remote_port: &Bound<'_, PyAny>,
        fields: &Bound<'_, PyDict>,
    ) -> PyResult<u64> {
        let (lp, rp) = (to_value(local_port), to_value(remote_port));
        let mut named: Vec<(String, Value)> = Vec::with_capacity(fields.len());
        for (key, value) in fields.iter() {
            named.push((key.extract::<String>()?, to_value(&value)));
        }
        self.run(py, false, |e| e.add_tcp(path, &lp, &rp, &named))
    }

    fn add_tcps<'py>(
        &self,
        py: Python<'py>,
        paths: PyReadonlyArray1<'py, u64>,
        local_ports: PyReadonlyArray1<'py, i64>,
        remote_ports: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let (paths, lp, rp) = (owned(&paths)?, owned(&local_ports)?, owned(&remote_ports)?);
        let out = self.run(py, true, |e| e.add_tcps(&paths, &lp, &rp))?;
        Ok(array(py, out))
    }

    // ---- lookups by key ----

    fn find_path(
        &self,
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
        destination: &Bound<'_, PyAny>,
    ) -> PyResult<Option<u64>> {
        let (s, d) = (to_value(source), to_value(destination));
        self.run(py, false, |e| e.find_path(&s, &d))
    }

    fn find_paths<'py>(
        &self,
        py: Python<'py>,
        sources: &Bound<'py, PyAny>,
        destinations: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let (sources, destinations) = (to_values(sources)?, to_values(destinations)?);
        let out = self.run(py, true, |e| e.find_paths(&sources, &destinations))?;
        Ok(array(py, out))
    }

    fn find_tcp(
        &self,
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
        destination: &Bound<'_, PyAny>,
        local_port: &Bound<'_, PyAny>,
        remote_port: &Bound<'_, PyAny>,
    ) -> PyResult<Option<u64>> {
        let (s, d) = (to_value(source), to_value(destination));
        let (lp, rp) = (to_value(local_port), to_value(remote_port));
        self.run(py, false, |e| e.find_tcp(&s, &d, &lp, &rp))
    }

    fn find_tcps<'py>(
        &self,
        py: Python<'py>,
        sources: &Bound<'py, PyAny>,
        destinations: &Bound<'py, PyAny>,
        local_ports: PyReadonlyArray1<'py, i64>,
        remote_ports: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let (sources, destinations) = (to_values(sources)?, to_values(destinations)?);
        let (lp, rp) = (owned(&local_ports)?, owned(&remote_ports)?);
        let out = self.run(py, true, |e| e.find_tcps(&sources, &destinations, &lp, &rp))?;
        Ok(array(py, out))
    }

    /// Asks this thread's running call to stop at its next poll, or takes that back. No
    /// lock: the facade's SIGINT handler calls it while the call holds the engine.
    fn request_interrupt(&self, requested: bool) {
        let who = if requested { thread_number() } else { 0 };
        self.requested_by.store(who, Ordering::Release);
    }

    /// Testing: the poll after `polls` more reports an interrupt (`Engine::interrupt_after`).
    #[pyo3(signature = (polls))]
    fn set_interrupt_after(&self, py: Python<'_>, polls: Option<u64>) -> PyResult<()> {
        self.run(py, false, |e| {
            e.interrupt_after(polls);
            Ok(())
        })
    }

    /// Testing: limits the bytes the engine may still reserve
    /// (`Engine::set_allocation_budget`); the fallback counts objects created instead.
    #[pyo3(signature = (units))]
    fn set_allocation_budget(&self, py: Python<'_>, units: Option<u64>) -> PyResult<()> {
        self.run(py, false, |e| {
            e.set_allocation_budget(units);
            Ok(())
        })
    }

    /// A batch add's parent checks (`Engine::check_parents`); `child` is the added layer.
    fn check_parents(
        &self,
        py: Python<'_>,
        parents: PyReadonlyArray1<'_, u64>,
        child: u8,
    ) -> PyResult<()> {
        let child = layer_arg(Some(child))?.expect("a layer was given");
        let parents = owned(&parents)?;
        self.run(py, false, |e| e.check_parents(&parents, child).map(|_| ()))
    }

    /// `update`'s checks before any value (`Engine::check_update`).
    fn check_update(
        &self,
        py: Python<'_>,
        handles: PyReadonlyArray1<'_, u64>,
        names: Vec<String>,
    ) -> PyResult<()> {
        let handles = owned(&handles)?;
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.run(py, false, |e| e.check_update(&handles, &names).map(|_| ()))
    }

    fn remove<'py>(
        &self,
        py: Python<'py>,
        handles: PyReadonlyArray1<'py, u64>,
        cascade: bool,
    ) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let handles = owned(&handles)?;
        let out = self.run(py, true, |e| e.remove(&handles, cascade))?;
        Ok(array(py, out))
    }

    // ---- reading ----

    fn layer(&self, py: Python<'_>, h: u64) -> PyResult<u8> {
        self.run(py, false, |e| e.layer(h).map(|l| l as u8))
    }

    fn depends_on(&self, py: Python<'_>, h: u64) -> PyResult<Option<u64>> {
        self.run(py, false, |e| e.depends_on(h))
    }

    fn dependents<'py>(&self, py: Python<'py>, h: u64) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let out = self.run(py, false, |e| e.dependents(h))?;
        Ok(array(py, out))
    }

    fn is_offloaded(&self, py: Python<'_>, h: u64) -> PyResult<bool> {
        self.run(py, false, |e| e.is_offloaded(h))
    }

    fn contains(&self, py: Python<'_>, h: u64) -> PyResult<bool> {
        self.run(py, false, |e| Ok(e.contains(h)))
    }

    fn state<'py>(&self, py: Python<'py>, h: u64) -> PyResult<Bound<'py, PyDict>> {
        let fields = self.run(py, false, |e| e.state(h))?;
        let dict = PyDict::new(py);
        for (name, value) in &fields {
            dict.set_item(name, state_value_to_py(py, value)?)?;
        }
        Ok(dict)
    }

    #[pyo3(signature = (layer, offloaded))]
    fn count(&self, py: Python<'_>, layer: Option<u8>, offloaded: Option<bool>) -> PyResult<usize> {
        let layer = layer_arg(layer)?;
        self.run(py, false, |e| Ok(e.count(layer, offloaded)))
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        self.run(py, false, |e| Ok(e.len()))
    }

    /// Every object of one layer as columns (docs/DESIGN.md §10, `states`).
    fn states<'py>(&self, py: Python<'py>, layer: u8) -> PyResult<Bound<'py, PyDict>> {
        let layer = layer_arg(Some(layer))?.unwrap_or(Layer::Tcp);
        let columns = self.run(py, true, |e| e.states(layer))?;
        columns_to_dict(py, columns)
    }

    /// Each path and connection and the object it depends on, in walk pre-order.
    fn edges<'py>(&self, py: Python<'py>) -> PyResult<HandlePairs<'py>> {
        let (dependents, parents) = self.run(py, true, |e| e.edges())?;
        Ok((array(py, dependents), array(py, parents)))
    }

    #[pyo3(signature = (layer))]
    fn handles<'py>(
        &self,
        py: Python<'py>,
        layer: Option<u8>,
    ) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let layer = layer_arg(layer)?;
        let out = self.run(py, true, |e| e.handles(layer))?;
        Ok(array(py, out))
    }

    #[pyo3(signature = (post, roots))]
    fn walk<'py>(
        &self,
        py: Python<'py>,
        post: bool,
        roots: Option<PyReadonlyArray1<'py, u64>>,
    ) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let roots = roots.as_ref().map(owned).transpose()?;
        let out = self.run(py, true, |e| e.walk(post, roots.as_deref()))?;
        Ok(array(py, out))
    }

    fn block_list<'py>(
        &self,
        py: Python<'py>,
        handles: PyReadonlyArray1<'py, u64>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let handles = owned(&handles)?;
        let list = self.run(py, true, |e| e.block_list(&handles))?;
        block_arrays(py, list, false)
    }

    // ---- operations ----

    /// `buffered`: the host's BufferedData, (connections, data, lengths).
    #[pyo3(signature = (handles, buffered=None))]
    fn initiate_offload<'py>(
        &self,
        py: Python<'py>,
        handles: PyReadonlyArray1<'py, u64>,
        buffered: Option<Buffered<'py>>,
    ) -> PyResult<(Bound<'py, PyTuple>, PyOutcome)> {
        let handles = owned(&handles)?;
        let (list, released) = match buffered {
            None => self.run(py, true, |e| e.initiate_offload(&handles))?,
            Some((tcs, data, lengths)) => {
                let (tcs, lengths, data) = (owned(&tcs)?, owned(&lengths)?, data.as_bytes());
                self.run(py, true, |e| {
                    e.initiate_offload_buffered(&handles, (&tcs, data, &lengths))
                })?
            }
        };
        Ok((block_arrays(py, list, true)?, PyOutcome { inner: released }))
    }

    fn terminate(
        &self,
        py: Python<'_>,
        handles: PyReadonlyArray1<'_, u64>,
        cascade: bool,
    ) -> PyResult<PyOutcome> {
        let handles = owned(&handles)?;
        let inner = self.run(py, true, |e| e.terminate(&handles, cascade))?;
        Ok(PyOutcome { inner })
    }

    fn update<'py>(
        &self,
        py: Python<'py>,
        handles: PyReadonlyArray1<'py, u64>,
        fields: &Bound<'py, PyDict>,
    ) -> PyResult<(Bound<'py, PyArray1<u8>>, PyOutcome)> {
        let handles = owned(&handles)?;
        // Owned copies, in the caller's order (which decides which bad name is reported
        // first): update columns are small next to the objects they change.
        let mut owned_columns: Vec<(String, OwnedColumn)> = Vec::with_capacity(fields.len());
        for (key, value) in fields.iter() {
            let name = key.extract::<String>()?;
            let column = match value.extract::<PyReadonlyArray1<'py, i64>>() {
                Ok(array) => OwnedColumn::Ints(owned(&array)?),
                Err(_) => OwnedColumn::Values(to_values(&value)?),
            };
            owned_columns.push((name, column));
        }
        let columns: Vec<(String, Column<'_>)> = owned_columns
            .iter()
            .map(|(name, column)| {
                let column = match column {
                    OwnedColumn::Ints(v) => Column::Ints(v),
                    OwnedColumn::Values(v) => Column::Values(v),
                };
                (name.clone(), column)
            })
            .collect();
        let (statuses, terminated) = self.run(py, true, |e| e.update(&handles, &columns))?;
        Ok((array(py, statuses), PyOutcome { inner: terminated }))
    }

    fn relink(&self, py: Python<'_>, path: u64, neighbor: u64) -> PyResult<PyOutcome> {
        let inner = self.run(py, false, |e| e.relink(path, neighbor))?;
        Ok(PyOutcome { inner })
    }

    fn query(
        &self,
        py: Python<'_>,
        handles: PyReadonlyArray1<'_, u64>,
    ) -> PyResult<(PyOutcome, PyOutcome)> {
        let handles = owned(&handles)?;
        let (answers, terminated) = self.run(py, true, |e| e.query(&handles))?;
        Ok((
            PyOutcome { inner: answers },
            PyOutcome { inner: terminated },
        ))
    }

    fn invalidate<'py>(
        &self,
        py: Python<'py>,
        handles: PyReadonlyArray1<'py, u64>,
    ) -> PyResult<Completion<'py>> {
        let handles = owned(&handles)?;
        let completion = self.run(py, true, |e| e.invalidate(&handles))?;
        Ok((
            array(py, completion.handles),
            array(py, completion.statuses),
        ))
    }

    #[pyo3(signature = (decline=None))]
    fn process_events<'py>(
        &self,
        py: Python<'py>,
        decline: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let decline = decline.map(to_values).transpose()?;
        let done = self.run(py, true, |e| e.process_events(decline.as_deref()))?;
        let list = PyList::empty(py);
        for p in done {
            let outcome = match p.outcome {
                Some(inner) => Bound::new(py, PyOutcome { inner })?.into_any(),
                None => py.None().into_bound(py),
            };
            let item = (
                p.event.kind as u8,
                p.event.handle,
                p.event.reason,
                p.action.name(),
                outcome,
                p.event.size,
            );
            list.append(item)?;
        }
        Ok(list)
    }

    /// Every counter of the host and the target, flat (docs/DESIGN.md §9).
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let counters = self.run(py, false, |e| Ok(e.counters()))?;
        counters_to_py(py, &counters)
    }

    /// The chimney statistics of IP version `family` (OID_IPx/TCPx_OFFLOAD_STATS), as
    /// `{"ip": {...}, "tcp": {...}}`.
    fn offload_stats<'py>(&self, py: Python<'py>, family: i64) -> PyResult<Bound<'py, PyDict>> {
        let stats = self.run(py, false, |e| e.offload_stats(family))?;
        offload_stats_to_py(py, &stats)
    }

    fn reset_offload_stats(&self, py: Python<'_>, family: i64) -> PyResult<()> {
        self.run(py, false, |e| e.reset_offload_stats(family))
    }

    // ---- the target half ----

    #[pyo3(signature = (tc, data, psh=false))]
    fn target_receive(
        &self,
        py: Python<'_>,
        tc: u64,
        data: &Bound<'_, PyBytes>,
        psh: bool,
    ) -> PyResult<u32> {
        let data = data.as_bytes();
        self.run(py, data.len() > 1 << 20, |e| {
            e.target_receive(tc, data, psh)
        })
    }

    fn send(&self, py: Python<'_>, tc: u64, data: &Bound<'_, PyBytes>) -> PyResult<u32> {
        let data = data.as_bytes();
        self.run(py, data.len() > 1 << 20, |e| e.send(tc, data))
    }

    #[pyo3(signature = (tc, size, push=false))]
    fn post_receive(
        &self,
        py: Python<'_>,
        tc: u64,
        size: &Bound<'_, PyAny>,
        push: bool,
    ) -> PyResult<u32> {
        let size = to_value(size);
        self.run(py, false, |e| e.post_receive(tc, &size, push))
    }

    fn read<'py>(&self, py: Python<'py>, tc: u64) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.run(py, false, |e| e.read(tc))?;
        Ok(PyBytes::new(py, &bytes))
    }

    // ---- the host's policy ----

    /// `rules`: (offload, local low, local high, remote low, remote high, destination as
    /// packed address bytes and prefix length, or None), checked by the facade.
    fn set_policy(
        &self,
        py: Python<'_>,
        decline: &Bound<'_, PyAny>,
        uploads_per_call: Option<i64>,
        accept_indicated: bool,
        terminate_on_link_down: bool,
        rules: Vec<RuleArgs>,
    ) -> PyResult<()> {
        let decline = to_values(decline)?;
        let rules = rules
            .into_iter()
            .map(|(offload, ll, lh, rl, rh, destination)| {
                let destination = match destination {
                    None => None,
                    Some((bytes, prefix)) => Some((packed_ip(&bytes)?, prefix)),
                };
                Ok(OffloadRule {
                    offload,
                    local_ports: (ll, lh),
                    remote_ports: (rl, rh),
                    destination,
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        self.run(py, false, |e| {
            e.set_policy(
                &decline,
                uploads_per_call,
                accept_indicated,
                terminate_on_link_down,
                rules,
            )
        })
    }

    fn offload_policy<'py>(
        &self,
        py: Python<'py>,
        handles: PyReadonlyArray1<'py, u64>,
    ) -> PyResult<Bound<'py, PyArray1<bool>>> {
        let handles = owned(&handles)?;
        let mask = self.run(py, true, |e| Ok(e.offload_policy(&handles)))?;
        Ok(array(py, mask))
    }

    fn link_down(&self, py: Python<'_>) -> PyResult<PyOutcome> {
        let inner = self.run(py, true, |e| Ok(e.link_down()))?;
        Ok(PyOutcome { inner })
    }

    // ---- simulated time ----

    fn set_clock(
        &self,
        py: Python<'_>,
        ticks_per_second: &Bound<'_, PyAny>,
        nce_stale_ticks: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let (tps, stale) = (to_value(ticks_per_second), to_value(nce_stale_ticks));
        self.run(py, false, |e| e.set_clock(&tps, &stale))
    }

    fn clock(&self, py: Python<'_>) -> PyResult<(u64, u32, u32)> {
        self.run(py, false, |e| Ok(e.clock()))
    }

    fn advance(&self, py: Python<'_>, ticks: &Bound<'_, PyAny>) -> PyResult<u64> {
        let ticks = to_value(ticks);
        self.run(py, true, |e| e.advance(&ticks))
    }

    // ---- the data path in batches: one boundary crossing for many connections ----

    fn send_many<'py>(
        &self,
        py: Python<'py>,
        tcs: PyReadonlyArray1<'py, u64>,
        data: &Bound<'py, PyBytes>,
        lengths: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        self.run_pieces(py, (tcs, data.clone(), lengths), Engine::send_many)
    }

    fn target_receive_many<'py>(
        &self,
        py: Python<'py>,
        tcs: PyReadonlyArray1<'py, u64>,
        data: &Bound<'py, PyBytes>,
        lengths: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        self.run_pieces(
            py,
            (tcs, data.clone(), lengths),
            Engine::target_receive_many,
        )
    }

    fn post_receive_many<'py>(
        &self,
        py: Python<'py>,
        tcs: PyReadonlyArray1<'py, u64>,
        sizes: PyReadonlyArray1<'py, i64>,
        push: bool,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let (tcs, sizes) = (owned(&tcs)?, owned(&sizes)?);
        let completed = self.run(py, true, |e| e.post_receive_many(&tcs, &sizes, push))?;
        Ok(array(py, widen(completed)))
    }

    fn forward(&self, py: Python<'_>, tc: u64, data: &Bound<'_, PyBytes>) -> PyResult<u32> {
        let data = data.as_bytes();
        self.run(py, data.len() > 1 << 20, |e| e.forward(tc, data))
    }

    fn read_many<'py>(
        &self,
        py: Python<'py>,
        tcs: PyReadonlyArray1<'py, u64>,
    ) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyArray1<i64>>)> {
        let tcs = owned(&tcs)?;
        let pieces = self.run(py, true, |e| e.read_many(&tcs))?;
        let lengths: Vec<i64> = pieces.iter().map(|p| p.len() as i64).collect();
        let total = pieces.iter().map(Vec::len).sum();
        // Each byte is copied once, straight into the bytes object.
        let data = PyBytes::new_with(py, total, |buffer| {
            let mut at = 0;
            for piece in &pieces {
                buffer[at..at + piece.len()].copy_from_slice(piece);
                at += piece.len();
            }
            Ok(())
        })?;
        Ok((data, array(py, lengths)))
    }

    #[pyo3(signature = (tcs, nbytes, windows=None))]
    fn target_acknowledge_many<'py>(
        &self,
        py: Python<'py>,
        tcs: PyReadonlyArray1<'py, u64>,
        nbytes: PyReadonlyArray1<'py, i64>,
        windows: Option<PyReadonlyArray1<'py, i64>>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let (tcs, nbytes) = (owned(&tcs)?, owned(&nbytes)?);
        let windows = windows.as_ref().map(owned).transpose()?;
        let completed = self.run(py, true, |e| {
            e.target_acknowledge_many(&tcs, &nbytes, windows.as_deref())
        })?;
        Ok(array(py, completed.into_iter().map(|n| n as i64).collect()))
    }

    fn disconnect(&self, py: Python<'_>, tc: u64, abortive: bool) -> PyResult<PyOutcome> {
        let inner = self.run(py, false, |e| e.disconnect(tc, abortive))?;
        Ok(PyOutcome { inner })
    }

    #[pyo3(signature = (tc, nbytes, window=None))]
    fn target_acknowledge(
        &self,
        py: Python<'_>,
        tc: u64,
        nbytes: &Bound<'_, PyAny>,
        window: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        let n = to_value(nbytes);
        let window = window.map(to_value);
        self.run(py, false, |e| e.target_acknowledge(tc, &n, window.as_ref()))
    }

    fn target_send(&self, py: Python<'_>, tc: u64, nbytes: &Bound<'_, PyAny>) -> PyResult<u32> {
        let n = to_value(nbytes);
        self.run(py, false, |e| e.target_send(tc, &n))
    }

    fn target_request_upload(
        &self,
        py: Python<'_>,
        tc: u64,
        reason: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let reason = to_value(reason);
        self.run(py, false, |e| e.target_request_upload(tc, &reason))
    }

    fn target_peer_close(&self, py: Python<'_>, tc: u64, abortive: bool) -> PyResult<()> {
        self.run(py, false, |e| e.target_peer_close(tc, abortive))
    }

    fn target_request_upload_all(&self, py: Python<'_>) -> PyResult<()> {
        self.run(py, false, |e| e.target_request_upload_all())
    }

    /// `limits`: (neighbor, path, tcp capacities, max path MTU, max receive window), the
    /// capabilities the target reports from now on; None keeps them.
    #[pyo3(signature = (limits=None))]
    fn target_resume(&self, py: Python<'_>, limits: Option<Limits>) -> PyResult<()> {
        let limits = limits.map(|(n, p, t, mtu, rcv)| TargetLimits {
            neighbor_capacity: n,
            path_capacity: p,
            tcp_capacity: t,
            max_path_mtu: mtu,
            max_rcv_window: rcv,
        });
        self.run(py, false, |e| e.target_resume(limits))
    }

    fn target_pause(&self, py: Python<'_>) -> PyResult<()> {
        self.run(py, false, |e| e.target_pause())
    }

    fn target_indicate_neighbor_reachability_query(&self, py: Python<'_>, nb: u64) -> PyResult<()> {
        self.run(py, false, |e| {
            e.target_indicate_neighbor_reachability_query(nb)
        })
    }

    fn target_inject_fault(
        &self,
        py: Python<'_>,
        h: u64,
        status: &Bound<'_, PyAny>,
        operation: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let status = to_value(status);
        let operation = to_value(operation);
        self.run(py, false, |e| e.target_inject_fault(h, &status, &operation))
    }

    /// Test hook: panics inside the core's lock, to prove a panic arrives as `InternalError`
    /// and leaves the engine usable. Not part of the API.
    fn _debug_panic(&self, py: Python<'_>, message: String) -> PyResult<()> {
        self.run(py, false, move |_| -> Core<()> { panic!("{message}") })
    }

    /// The engine's whole state as the columns of docs/DESIGN.md §12.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let columns = self.run(py, true, |e| e.snapshot())?;
        columns_to_dict(py, columns)
    }

    /// An engine rebuilt from the columns of a snapshot (`SnapshotError` if they break a
    /// rule).
    #[staticmethod]
    fn restore(py: Python<'_>, columns: &Bound<'_, PyAny>) -> PyResult<Self> {
        let columns = dict_to_columns(columns)?;
        let restored = py.detach(|| {
            catch_unwind(AssertUnwindSafe(|| Engine::restore(&columns)))
                .map_err(|_| "internal error in offload-tree's core while restoring a snapshot")
        });
        match restored {
            Ok(Ok(engine)) => Ok(Self::new_engine(engine)),
            Ok(Err(error)) => Err(to_pyerr(error)),
            Err(message) => Err(internal_error(message.into())),
        }
    }

    fn target_links<'py>(&self, py: Python<'py>) -> PyResult<HandlePairs<'py>> {
        let (handles, parents) = self.run(py, true, |e| Ok(e.target_links()))?;
        Ok((array(py, handles), array(py, parents)))
    }
}

/// Counts of at most 2^32-1 as the int64 columns Python reads.
fn widen(counts: Vec<u32>) -> Vec<i64> {
    counts.into_iter().map(i64::from).collect()
}

/// A target's capabilities as the facade passes them (None: unlimited).
type Limits = (
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<u64>,
);

/// An offload rule as the facade passes it.
type RuleArgs = (bool, u16, u16, u16, u16, Option<(Vec<u8>, u8)>);

/// A packed IPv4 or IPv6 address.
fn packed_ip(bytes: &[u8]) -> PyResult<std::net::IpAddr> {
    match bytes.len() {
        4 => Ok(std::net::IpAddr::from(
            <[u8; 4]>::try_from(bytes).expect("4 bytes"),
        )),
        16 => Ok(std::net::IpAddr::from(
            <[u8; 16]>::try_from(bytes).expect("16 bytes"),
        )),
        n => Err(PyValueError::new_err(format!(
            "a packed address has 4 or 16 bytes, got {n}"
        ))),
    }
}

/// BufferedData as the facade passes it: connections, one buffer, and each one's length.
type Buffered<'py> = (
    PyReadonlyArray1<'py, u64>,
    Bound<'py, PyBytes>,
    PyReadonlyArray1<'py, i64>,
);

/// A core batch that cuts one buffer into pieces and counts something per item.
type PiecesBatch = fn(&mut Engine, &[u64], &[u8], &[i64]) -> Core<Vec<u32>>;
