//! The engine: one host tree and one simulated target behind one API (docs/DESIGN.md §1).
//!
//! Keeping both halves in one value makes every operation atomic under a single lock in the
//! bindings. This file defines [`Engine`] and the checks every operation starts with; each
//! child module extends it for one job:
//!
//! | module | operations |
//! |---|---|
//! | `build` | `add_neighbor(s)`, `add_path(s)`, `add_tcp(s)`, `remove` |
//! | `lookup` | `find_path(s)`, `find_tcp(s)` |
//! | `read` | `layer`, `depends_on`, `dependents`, `count`, `walk`, `block_list`, `state`, ... |
//! | `offload` | `initiate_offload` |
//! | `terminate` | `terminate`, the upload every other cause of termination shares, and the release of unreferenced shared state |
//! | `update` | `update` |
//! | `relink` | `relink` |
//! | `query` | `query` |
//! | `invalidate` | `invalidate` |
//! | `traffic` | `send`, `post_receive`, `read`, `target_acknowledge`, `target_receive`, `target_send`, `offload_stats`, `reset_offload_stats` |
//! | `faults` | `target_inject_fault` |
//! | `interrupt` | the polls that let an embedder stop a long call |
//! | `events` | target-initiated events, the peer's close, the host's `disconnect`, and `process_events` |
//! | `stats` | `counters` |
//! | `invariants` | `check_invariants` (feature `testing`) |
//!
//! The values they exchange are in [`types`], which imports nothing of the engine.

mod build;
mod clock;
mod events;
mod faults;
mod interrupt;
mod invalidate;
#[cfg(any(test, feature = "testing"))]
mod invariants;
mod lookup;
mod offload;
mod policy;
mod query;
mod read;
mod relink;
mod restore;
mod snapshot;
mod stats;
mod terminate;
mod traffic;
mod traffic_batch;
mod types;
mod update;

use std::collections::{HashMap, HashSet, VecDeque};

use crate::error;
use crate::host::{expect_layer, layer_of, HostPolicy, HostTree, SeenSet, NO_CONTEXT};
use crate::model::{Budget, Error, Handle, Layer, Result};
use crate::target::{Target, TargetConfig};

pub use interrupt::{InterruptCheck, POLL_EVERY};
pub use types::{
    Action, Column, Completion, Counter, Counters, Delegated, DelegatedRows, Event, NeighborArgs,
    OperationCounts, Outcome, Processed, StateValue,
};

use interrupt::Interrupts;
use types::RunningCounts;

/// The most objects one call may name or create. Far above any real batch (a W(10^7)
/// benchmark builds 10^7 connections in one call), far below what would exhaust memory
/// before the call could fail cleanly.
pub const MAX_BATCH: usize = 1 << 27;

/// Rejects a batch larger than `MAX_BATCH` before anything is allocated for it.
pub fn check_batch(len: usize) -> Result<()> {
    if len > MAX_BATCH {
        return Err(error!(BatchTooLarge, len = len, limit = MAX_BATCH));
    }
    Ok(())
}

/// A host state tree and the simulated target it offloads to.
#[derive(Clone, Debug, PartialEq)]
pub struct Engine {
    host: HostTree,
    target: Target,
    /// Target-initiated events waiting for `process_events`.
    events: VecDeque<Event>,
    /// Connections with an INVALID_STATE upload request in `events`.
    invalid_pending: HashSet<u64>,
    policy: HostPolicy,
    counts: RunningCounts,
    /// What the engine may still reserve: unlimited unless a test sets a limit.
    budget: Budget,
    /// Whether a long call should stop (`interrupt`).
    interrupts: Interrupts,
    /// How many threads a large batch may use (`set_threads`).
    threads: usize,
    /// Received bytes the target delivered to the host (completed receive requests) that
    /// the application has not read yet, by connection handle (`read`).
    delivered: HashMap<u64, Vec<u8>>,
}

impl Engine {
    /// An empty tree (with a fresh tree id) on a target configured by `config`, with the
    /// default host policy.
    pub fn new(config: TargetConfig) -> Result<Engine> {
        Self::with_policy(config, HostPolicy::default())
    }

    /// An empty tree on a target configured by `config`, run by a host with `policy`.
    pub fn with_policy(config: TargetConfig, policy: HostPolicy) -> Result<Engine> {
        Self::build(config, policy, HostTree::new())
    }

    /// An empty tree with id `tree_id` (1..=0xFFFF), for a caller that keeps ids unique among
    /// its live trees itself (the Python package does, across both of its backends).
    pub fn with_tree_id(config: TargetConfig, policy: HostPolicy, tree_id: u16) -> Result<Engine> {
        if tree_id == 0 {
            return Err(error!(TreeIdZero));
        }
        Self::build(config, policy, HostTree::with_id(tree_id))
    }

    fn build(config: TargetConfig, policy: HostPolicy, host: HostTree) -> Result<Engine> {
        Ok(Engine {
            host,
            target: Target::new(config)?,
            events: VecDeque::new(),
            invalid_pending: HashSet::new(),
            policy,
            counts: RunningCounts::default(),
            budget: Budget::default(),
            interrupts: Interrupts::default(),
            threads: 1,
            delivered: HashMap::new(),
        })
    }

    /// The host's policy for this tree.
    pub fn policy(&self) -> &HostPolicy {
        &self.policy
    }

    /// Limits what the engine may still reserve to `bytes` (`None`: no limit), so tests can
    /// make any reservation fail as the allocator would; see [`Budget`].
    pub fn set_allocation_budget(&self, bytes: Option<u64>) {
        self.budget.set(bytes);
    }

    /// Sets the check long calls poll (every [`POLL_EVERY`] items) to learn that they should
    /// stop: a call that is told to stops with `Interrupted`, the tree unchanged.
    pub fn set_interrupt_check(&mut self, check: Option<InterruptCheck>) {
        self.interrupts.set_check(check);
    }

    /// Testing: the poll after `polls` more (every item polls while this is set) reports an
    /// interrupt, once; `None` clears it.
    pub fn interrupt_after(&self, polls: Option<u64>) {
        self.interrupts.set_after(polls);
    }

    /// The id in bits 63..48 of this tree's handles.
    pub fn tree_id(&self) -> u16 {
        self.host.id()
    }

    /// Resolves every handle first, so a bad handle anywhere is reported before anything else.
    fn resolve_all(&self, raws: &[u64]) -> Result<Vec<Handle>> {
        check_batch(raws.len())?;
        let mut handles = self.budget.vec(raws.len())?;
        for (i, &raw) in raws.iter().enumerate() {
            self.interrupts.poll(i)?;
            handles.push(self.host.resolve(raw)?);
        }
        Ok(handles)
    }

    /// `resolve_all`, also saying which layers the handles name (indexed by `Layer::index`).
    fn resolve_all_layers(&self, raws: &[u64]) -> Result<(Vec<Handle>, [bool; 3])> {
        check_batch(raws.len())?;
        let mut handles = self.budget.vec(raws.len())?;
        let mut present = [false; 3];
        for (i, &raw) in raws.iter().enumerate() {
            self.interrupts.poll(i)?;
            let h = self.host.resolve(raw)?;
            present[layer_of(h).index()] = true;
            handles.push(h);
        }
        Ok((handles, present))
    }

    /// Resolves every handle (an invalid one anywhere is the error that wins), drops
    /// duplicates when `unique` (first mention kept), and returns the first object whose offload
    /// state is not `offloaded`: one pass over the objects instead of one per check.
    fn resolve_expecting(
        &self,
        raws: &[u64],
        unique: bool,
        offloaded: bool,
    ) -> Result<(Vec<Handle>, Option<Handle>)> {
        check_batch(raws.len())?;
        let mut seen = if unique {
            Some(SeenSet::new(&self.host, &self.budget)?)
        } else {
            None
        };
        let mut handles = self.budget.vec(raws.len())?;
        let mut unexpected = None;
        for (i, &raw) in raws.iter().enumerate() {
            self.interrupts.poll(i)?;
            let (h, context) = self.host.resolve_context(raw)?;
            if seen.as_mut().is_some_and(|seen| !seen.insert(h)) {
                continue;
            }
            if unexpected.is_none() && (context != NO_CONTEXT) != offloaded {
                unexpected = Some(h);
            }
            handles.push(h);
        }
        Ok((handles, unexpected))
    }

    /// Lets a large batch use up to `threads` threads (at least 1; the default). A batch
    /// gives the same result on any number: the threads split work that writes disjoint
    /// state. Today `add_tcps` and `initiate_offload` (on a target that admits everything)
    /// use two.
    pub fn set_threads(&mut self, threads: i64) -> Result<()> {
        self.threads = usize::try_from(threads)
            .ok()
            .filter(|&t| t >= 1)
            .ok_or_else(|| error!(ThreadCount, value = threads))?;
        Ok(())
    }

    /// The number of threads a large batch may use.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Resolves `raws` without duplicates; every object must be offloaded (`StateError`
    /// naming `operation`, as "terminate it").
    fn resolve_offloaded(&self, raws: &[u64], operation: &str) -> Result<Vec<Handle>> {
        match self.resolve_expecting(raws, true, true)? {
            (_, Some(h)) => Err(not_offloaded(h, operation)),
            (handles, None) => Ok(handles),
        }
    }

    /// Resolves one offloaded object of `layer` in the role `role`.
    fn resolve_offloaded_one(
        &self,
        raw: u64,
        layer: Layer,
        role: &str,
        operation: &str,
    ) -> Result<Handle> {
        let h = self.host.resolve_layer(raw, layer, role)?;
        if !self.host.is_offloaded(h) {
            return Err(not_offloaded(h, operation));
        }
        Ok(h)
    }

    fn check_layers(handles: &[Handle], layer: Layer, role: &str) -> Result<()> {
        // The role is formatted only on failure: this runs once per handle of a batch.
        for (i, &h) in handles.iter().enumerate() {
            if layer_of(h) != layer {
                expect_layer(h, layer, &format!("{role}[{i}]"))?;
            }
        }
        Ok(())
    }
}

fn not_offloaded(h: Handle, operation: &str) -> Error {
    error!(
        NotOffloaded,
        layer = layer_of(h),
        handle = h,
        operation = operation
    )
}

/// `ValidationError` unless a column named `name` has one value per `expected` object.
fn check_length(name: &str, expected: usize, got: usize, per: &str) -> Result<()> {
    if expected != got {
        return Err(error!(
            LengthMismatch,
            name = name,
            got = got,
            expected = expected,
            per = per
        ));
    }
    Ok(())
}
