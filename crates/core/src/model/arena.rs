//! A generational arena: objects live in one `Vec` per layer and are named by
//! `(slot, generation)`. Freed slots are reused last-in first-out; a slot whose generation
//! would overflow 14 bits is retired instead of reused, so a stale handle never aliases.

use super::budget::Budget;
use super::error::Result;
use super::handle::GENERATION_LIMIT;

#[derive(Clone, Debug, PartialEq)]
enum Entry<T> {
    Occupied { generation: u16, value: T },
    Vacant { generation: u16 },
    Retired,
}

/// Slot storage for one layer (host tree or target).
#[derive(Clone, Debug, PartialEq)]
pub struct Arena<T> {
    entries: Vec<Entry<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Arena<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of live objects.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of slots ever created (live, vacant or retired): the size of slot-indexed scratch.
    pub fn slot_count(&self) -> usize {
        self.entries.len()
    }

    /// Makes room for `additional` inserts, fallibly (freed slots count as room).
    pub fn reserve(&mut self, additional: usize, budget: &Budget) -> Result<()> {
        let from_free = additional.min(self.free.len());
        budget.reserve(&mut self.entries, additional - from_free)
    }

    /// The slots the next `n` inserts will use: `reused[i]` for the `i`-th while the free list
    /// lasts, then `first_new`, `first_new + 1`, and so on.
    pub fn upcoming_slots(&self, n: usize, budget: &Budget) -> Result<(Vec<u32>, u32)> {
        let mut reused = budget.vec(n.min(self.free.len()))?;
        reused.extend(self.free.iter().rev().take(n));
        Ok((reused, self.entries.len() as u32))
    }

    /// The `(slot, generation)` the next `insert` will use.
    pub fn next_key(&self) -> (u32, u16) {
        match self.free.last() {
            Some(&slot) => match self.entries[slot as usize] {
                Entry::Vacant { generation } => (slot, generation),
                _ => unreachable!("free list holds only vacant slots"),
            },
            None => (self.entries.len() as u32, 0),
        }
    }

    /// Stores `value` and returns its `(slot, generation)`. Inlined: called out of line,
    /// the value is passed on the stack in pieces and read back whole, a store-forwarding
    /// stall that made this push a third of `add_tcps`.
    #[inline(always)]
    pub fn insert(&mut self, value: T) -> (u32, u16) {
        self.len += 1;
        if let Some(slot) = self.free.pop() {
            let entry = &mut self.entries[slot as usize];
            let generation = match *entry {
                Entry::Vacant { generation } => generation,
                _ => unreachable!("free list holds only vacant slots"),
            };
            *entry = Entry::Occupied { generation, value };
            (slot, generation)
        } else {
            let slot = u32::try_from(self.entries.len()).expect("arena holds at most 2^32 slots");
            self.entries.push(Entry::Occupied {
                generation: 0,
                value,
            });
            (slot, 0)
        }
    }

    pub fn get(&self, slot: u32, generation: u16) -> Option<&T> {
        match self.entries.get(slot as usize) {
            Some(Entry::Occupied {
                generation: g,
                value,
            }) if *g == generation => Some(value),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, slot: u32, generation: u16) -> Option<&mut T> {
        match self.entries.get_mut(slot as usize) {
            Some(Entry::Occupied {
                generation: g,
                value,
            }) if *g == generation => Some(value),
            _ => None,
        }
    }

    /// Frees the slot; its generation moves on, so old keys no longer resolve.
    pub fn remove(&mut self, slot: u32, generation: u16) -> Option<T> {
        let entry = self.entries.get_mut(slot as usize)?;
        match entry {
            Entry::Occupied { generation: g, .. } if *g == generation => {}
            _ => return None,
        }
        let next = generation + 1;
        let old = if next >= GENERATION_LIMIT {
            std::mem::replace(entry, Entry::Retired)
        } else {
            self.free.push(slot);
            std::mem::replace(entry, Entry::Vacant { generation: next })
        };
        self.len -= 1;
        match old {
            Entry::Occupied { value, .. } => Some(value),
            _ => unreachable!("checked occupied above"),
        }
    }

    /// Undoes the latest `insert`, into `slot` (`fresh`: it made a new slot rather than
    /// reuse a free one): the slot is free again at the same generation, on top of the free
    /// list, or gone. Undoing a run of inserts latest first restores the arena exactly.
    pub fn unwind(&mut self, slot: u32, fresh: bool) {
        let generation = match self.entries[slot as usize] {
            Entry::Occupied { generation, .. } => generation,
            _ => unreachable!("only a live slot is unwound"),
        };
        self.len -= 1;
        if fresh {
            debug_assert_eq!(
                slot as usize + 1,
                self.entries.len(),
                "fresh slots are last"
            );
            self.entries.pop();
        } else {
            self.entries[slot as usize] = Entry::Vacant { generation };
            self.free.push(slot);
        }
    }

    /// The object in `slot`, whatever its generation. For stores whose slot numbers never
    /// leave the core (the target's contexts), where a generation check would be redundant.
    pub fn get_slot(&self, slot: u32) -> Option<&T> {
        match self.entries.get(slot as usize) {
            Some(Entry::Occupied { value, .. }) => Some(value),
            _ => None,
        }
    }

    /// The generation of the object in `slot`, if one lives there.
    pub fn generation_of(&self, slot: u32) -> Option<u16> {
        match self.entries.get(slot as usize) {
            Some(Entry::Occupied { generation, .. }) => Some(*generation),
            _ => None,
        }
    }

    pub fn get_slot_mut(&mut self, slot: u32) -> Option<&mut T> {
        match self.entries.get_mut(slot as usize) {
            Some(Entry::Occupied { value, .. }) => Some(value),
            _ => None,
        }
    }

    pub fn remove_slot(&mut self, slot: u32) -> Option<T> {
        let generation = match self.entries.get(slot as usize) {
            Some(Entry::Occupied { generation, .. }) => *generation,
            _ => return None,
        };
        self.remove(slot, generation)
    }

    /// Per slot, its generation, or `GENERATION_LIMIT` for a retired slot (a snapshot's
    /// `{layer}.generations`, docs/DESIGN.md §12).
    pub fn generations(&self) -> Vec<u16> {
        self.entries
            .iter()
            .map(|entry| match entry {
                Entry::Occupied { generation, .. } | Entry::Vacant { generation } => *generation,
                Entry::Retired => GENERATION_LIMIT,
            })
            .collect()
    }

    /// The free list, bottom to top: the last slot is reused first.
    pub fn free_list(&self) -> &[u32] {
        &self.free
    }

    /// Rebuilds an arena from a snapshot: `generations` per slot (`GENERATION_LIMIT`:
    /// retired), `values` the live objects by slot and `free` the free list. Every slot must
    /// be exactly one of live, free (once) or retired; the error says which rule broke and
    /// whether it was about the free list (`true`) or the generations.
    pub fn from_parts(
        generations: &[u16],
        mut values: Vec<Option<T>>,
        free: &[u32],
    ) -> std::result::Result<Arena<T>, (bool, String)> {
        if values.len() != generations.len() {
            return Err((
                false,
                format!("{} slots, {} values", generations.len(), values.len()),
            ));
        }
        let mut freed = vec![false; generations.len()];
        for &slot in free {
            let Some(seen) = freed.get_mut(slot as usize) else {
                return Err((true, format!("slot {slot} is beyond the arena")));
            };
            if std::mem::replace(seen, true) {
                return Err((true, format!("slot {slot} is free twice")));
            }
        }
        if let Some(slot) = generations.iter().position(|&g| g > GENERATION_LIMIT) {
            let problem = format!(
                "slot {slot} has generation {} (at most {GENERATION_LIMIT}: retired)",
                generations[slot]
            );
            return Err((false, problem));
        }
        let mut entries = Vec::with_capacity(generations.len());
        let mut len = 0;
        for (slot, (&generation, value)) in generations.iter().zip(values.iter_mut()).enumerate() {
            let entry = match (value.take(), freed[slot]) {
                (Some(_), _) if generation >= GENERATION_LIMIT => {
                    return Err((false, format!("slot {slot} is retired but live")))
                }
                (Some(_), true) => return Err((true, format!("slot {slot} is free but live"))),
                (Some(value), false) => {
                    len += 1;
                    Entry::Occupied { generation, value }
                }
                (None, true) if generation >= GENERATION_LIMIT => {
                    return Err((true, format!("slot {slot} is retired but free")))
                }
                (None, true) => Entry::Vacant { generation },
                (None, false) if generation == GENERATION_LIMIT => Entry::Retired,
                (None, false) => {
                    return Err((
                        false,
                        format!("slot {slot} is neither live, free nor retired"),
                    ))
                }
            };
            entries.push(entry);
        }
        Ok(Arena {
            entries,
            free: free.to_vec(),
            len,
        })
    }

    /// Live objects in slot order with their keys.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u16, &T)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(slot, entry)| match entry {
                Entry::Occupied { generation, value } => Some((slot as u32, *generation, value)),
                _ => None,
            })
    }
}

/// Values kept beside an arena, indexed by the same slots: the cold half of a hot/cold split.
///
/// Walks, block lists and offload bookkeeping touch only the arena's small link records, so
/// they stream through a few bytes per object instead of the whole state. The column is
/// written when the arena hands out a slot and read only for slots the arena says are live.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct SlotColumn<S> {
    values: Vec<S>,
}

impl<S> SlotColumn<S> {
    /// Stores the value of `slot`, which is either reused or the next new slot.
    pub(crate) fn put(&mut self, slot: u32, value: S) {
        let index = slot as usize;
        if index == self.values.len() {
            self.values.push(value);
        } else {
            self.values[index] = value;
        }
    }

    pub(crate) fn get(&self, slot: u32) -> &S {
        &self.values[slot as usize]
    }

    /// Empties the value of a slot its arena freed or unwound: a new slot's value goes
    /// (`fresh`), a reused one's becomes the default, the value every free slot holds.
    pub(crate) fn unwind(&mut self, slot: u32, fresh: bool)
    where
        S: Default,
    {
        if fresh {
            self.values.pop();
        } else {
            self.values[slot as usize] = S::default();
        }
    }

    pub(crate) fn get_mut(&mut self, slot: u32) -> &mut S {
        &mut self.values[slot as usize]
    }

    pub(crate) fn reserve(&mut self, additional: usize, budget: &Budget) -> Result<()> {
        budget.reserve(&mut self.values, additional)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove() {
        let mut arena = Arena::new();
        let (a, ga) = arena.insert("a");
        let (b, gb) = arena.insert("b");
        assert_eq!(arena.get(a, ga), Some(&"a"));
        assert_eq!(arena.remove(a, ga), Some("a"));
        assert_eq!(arena.get(a, ga), None, "stale key must not resolve");
        assert_eq!(arena.get(b, gb), Some(&"b"));
        assert_eq!(arena.len(), 1);
    }

    #[test]
    fn freed_slots_are_reused_lifo_with_new_generation() {
        let mut arena = Arena::new();
        let keys: Vec<_> = (0..3).map(|i| arena.insert(i)).collect();
        arena.remove(keys[0].0, keys[0].1);
        arena.remove(keys[2].0, keys[2].1);
        assert_eq!(arena.next_key(), (2, 1));
        assert_eq!(arena.insert(10), (2, 1));
        assert_eq!(arena.insert(11), (0, 1));
        assert_eq!(arena.insert(12), (3, 0));
    }

    #[test]
    fn slot_is_retired_when_generation_would_overflow() {
        let mut arena = Arena::new();
        let mut key = arena.insert(0u8);
        for _ in 0..(GENERATION_LIMIT - 1) {
            arena.remove(key.0, key.1);
            key = arena.insert(0u8);
            assert_eq!(key.0, 0);
        }
        assert_eq!(key.1, GENERATION_LIMIT - 1);
        arena.remove(key.0, key.1);
        assert_eq!(arena.insert(1u8), (1, 0), "slot 0 is retired, never reused");
        assert_eq!(arena.get(0, GENERATION_LIMIT - 1), None);
    }

    #[test]
    fn column_follows_arena_slots() {
        let mut arena = Arena::new();
        let mut column = SlotColumn::default();
        let (a, ga) = arena.insert(());
        column.put(a, "a");
        let (b, _) = arena.insert(());
        column.put(b, "b");
        arena.remove(a, ga);
        let (c, _) = arena.insert(());
        column.put(c, "c");
        assert_eq!(c, a);
        assert_eq!((*column.get(c), *column.get(b)), ("c", "b"));
    }

    #[test]
    fn double_remove_is_rejected() {
        let mut arena = Arena::new();
        let (s, g) = arena.insert(1);
        assert!(arena.remove(s, g).is_some());
        assert!(arena.remove(s, g).is_none());
        assert_eq!(arena.len(), 0);
    }
}
