//! The connections' variables, copy-on-write from one shared default.
//!
//! A connection made by `add_tcps` (or `add_tcp` without keywords) has every variable but its
//! ports at the default of docs/DESIGN.md §5, and most keep them for their whole life: the
//! target reads the host's frozen copy while it owns the connection, and only traffic or an
//! update changes anything. So a connection stores 4 bytes here, a reference to its own copy
//! or to [`TcpState::defaults`], and the first write gives it its own copy. Building a million
//! connections then writes 4 MB instead of 136 MB, and a query of unchanged connections
//! copies nothing. The ports themselves live in the connection's link record
//! ([`super::tree::Tcp`]), where the key index reads them.

use crate::model::{Arena, Budget, Result, SlotColumn, TcpCached, TcpDelegated, TcpState};

/// Where a connection's variables are: its own copy in [`TcpStates`], or the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StateRef(u32);

impl StateRef {
    const DEFAULTS: StateRef = StateRef(u32::MAX);
}

impl Default for StateRef {
    /// Every free slot, and every connection that never changed, refers to the defaults.
    fn default() -> Self {
        StateRef::DEFAULTS
    }
}

/// Every connection's variables by slot of the host's connection arena.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TcpStates {
    refs: SlotColumn<StateRef>,
    /// The copies of connections that changed something, ports included.
    own: Arena<TcpState>,
}

impl TcpStates {
    /// Makes room for `additional` new slots (none of them with a copy yet).
    pub fn reserve(&mut self, additional: usize, budget: &Budget) -> Result<()> {
        self.refs.reserve(additional, budget)
    }

    /// Makes room for `additional` own copies, for a call about to write that many
    /// connections' variables.
    pub fn reserve_copies(&mut self, additional: usize, budget: &Budget) -> Result<()> {
        self.own.reserve(additional, budget)
    }

    /// Stores the variables of `slot` (reused or the next new one): a reference to the
    /// defaults when `state` differs from them in its ports alone.
    pub fn put(&mut self, slot: u32, state: &TcpState) {
        let defaults = TcpState::defaults();
        let unchanged = state.cached == defaults.cached
            && state.delegated == defaults.delegated
            && TcpState::with_ports(state.constant.local_port, state.constant.remote_port).constant
                == state.constant;
        let reference = if unchanged {
            StateRef::DEFAULTS
        } else {
            StateRef(self.own.insert(*state).0)
        };
        self.refs.put(slot, reference);
    }

    /// Stores default variables for `slot` (`add_tcps`): 4 bytes written.
    pub fn put_defaults(&mut self, slot: u32) {
        self.refs.put(slot, StateRef::DEFAULTS);
    }

    /// Whether `slot` has variables of its own (else it has the defaults).
    pub fn has_copy(&self, slot: u32) -> bool {
        *self.refs.get(slot) != StateRef::DEFAULTS
    }

    /// The number of connections with a copy of their own.
    pub fn copies(&self) -> usize {
        self.own.len()
    }

    fn copy(&self, reference: StateRef) -> &TcpState {
        self.own
            .get_slot(reference.0)
            .expect("a state reference names a live copy")
    }

    /// Every variable of `slot`, whose ports are `ports` (the link record's).
    pub fn get(&self, slot: u32, ports: (u16, u16)) -> TcpState {
        match *self.refs.get(slot) {
            StateRef::DEFAULTS => TcpState::with_ports(ports.0, ports.1),
            reference => *self.copy(reference),
        }
    }

    /// The delegated variables of `slot`: the host's frozen copy while it is offloaded.
    pub fn delegated(&self, slot: u32) -> &TcpDelegated {
        match *self.refs.get(slot) {
            StateRef::DEFAULTS => &TcpState::defaults().delegated,
            reference => &self.copy(reference).delegated,
        }
    }

    /// The cached variables of `slot`.
    pub fn cached(&self, slot: u32) -> &TcpCached {
        match *self.refs.get(slot) {
            StateRef::DEFAULTS => &TcpState::defaults().cached,
            reference => &self.copy(reference).cached,
        }
    }

    /// The variables of `slot` to change, copied from the defaults first if it has none of
    /// its own. The caller reserved the copy (`reserve_copies`) or is past failing.
    pub fn make_mut(&mut self, slot: u32, ports: (u16, u16)) -> &mut TcpState {
        let mut reference = *self.refs.get(slot);
        if reference == StateRef::DEFAULTS {
            reference = StateRef(self.own.insert(TcpState::with_ports(ports.0, ports.1)).0);
            *self.refs.get_mut(slot) = reference;
        }
        self.own
            .get_slot_mut(reference.0)
            .expect("a state reference names a live copy")
    }

    /// Empties `slot` when its arena frees or unwinds it (`fresh`: the slot was new and goes
    /// away), dropping its copy: every free slot refers to the defaults.
    pub fn unwind(&mut self, slot: u32, fresh: bool) {
        let reference = *self.refs.get(slot);
        if reference != StateRef::DEFAULTS {
            self.own.remove_slot(reference.0);
        }
        self.refs.unwind(slot, fresh);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_cost_no_copy_and_the_first_write_makes_one() {
        let mut states = TcpStates::default();
        states.put_defaults(0);
        states.put(1, &TcpState::with_ports(5, 6));
        assert_eq!(states.copies(), 0, "ports alone do not make a copy");
        assert_eq!(states.get(1, (5, 6)), TcpState::with_ports(5, 6));
        assert_eq!(states.delegated(0), &TcpState::defaults().delegated);

        states.make_mut(1, (5, 6)).delegated.snd_nxt = 7;
        assert!(states.has_copy(1) && !states.has_copy(0));
        assert_eq!(states.get(1, (5, 6)).delegated.snd_nxt, 7);
        assert_eq!(states.get(1, (5, 6)).constant.local_port, 5);
        assert_eq!(
            states.delegated(0).snd_nxt,
            0,
            "the defaults are shared, not written"
        );

        let mut changed = TcpState::with_ports(1, 2);
        changed.cached.nagle = false;
        states.put(2, &changed);
        assert_eq!(states.copies(), 2);
        assert!(!states.cached(2).nagle);
    }

    #[test]
    fn unwinding_drops_the_copy() {
        let mut states = TcpStates::default();
        states.put_defaults(0);
        let before = states.clone();
        states.put_defaults(1);
        states.make_mut(1, (1, 1)).cached.max_rt = 3;
        states.unwind(1, true);
        assert_eq!(states.copies(), 0);
        assert!(!states.has_copy(0));
        states.make_mut(0, (1, 1)).cached.max_rt = 3;
        states.unwind(0, false);
        assert_eq!(states.get(0, (9, 9)), TcpState::with_ports(9, 9));
        assert_eq!(states.refs, before.refs);
    }
}
