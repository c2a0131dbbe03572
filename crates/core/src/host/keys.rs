//! The host's keys: one path per (source, destination) and one connection per 4-tuple
//! (source, destination, local port, remote port), and the lookups by key.
//!
//! A host stack keeps exactly one path object per address pair and one connection per
//! 4-tuple (NDIS "Offload State Tree": many connections share a path, many paths a neighbor), so
//! the tree refuses a duplicate instead of holding two objects for one key.
//!
//! Each index is a `hashbrown::HashTable` of bare slots (4 bytes and a control byte per
//! entry): the keys live in the arenas, and the tree passes a `key_at` reader for the table
//! to compare or rehash with (`HostTree::find_path` and friends in `tree.rs`). A connection's
//! 4-tuple is its path's slot and its two ports, since a path stands for exactly one address
//! pair and a connection never moves to another path.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

use crate::model::{out_of_memory, Budget, Result};

/// A path's key: its source and destination addresses.
pub(crate) type PathKey = (IpAddr, IpAddr);

/// A connection's key: its path's slot, local port and remote port in one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TcpKey(u64);

impl TcpKey {
    pub(crate) fn new(path_slot: u32, local_port: u16, remote_port: u16) -> Self {
        Self(u64::from(path_slot) << 32 | u64::from(local_port) << 16 | u64::from(remote_port))
    }
}

/// The two indexes and the seed of their hash.
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    paths: HashTable<u32>,
    tcps: HashTable<u32>,
    seed: u64,
}

impl Default for Keys {
    fn default() -> Self {
        Self {
            paths: HashTable::new(),
            tcps: HashTable::new(),
            // A per-tree random seed: ports and addresses come from users, and a fixed hash
            // would let crafted keys collide on purpose.
            seed: RandomState::new().hash_one(0x006f_6666_6c6f_6164_u64),
        }
    }
}

/// Content equality: the same slots indexed, whatever the seeds and table layouts.
impl PartialEq for Keys {
    fn eq(&self, other: &Self) -> bool {
        let sorted = |table: &HashTable<u32>| {
            let mut slots: Vec<u32> = table.iter().copied().collect();
            slots.sort_unstable();
            slots
        };
        sorted(&self.paths) == sorted(&other.paths) && sorted(&self.tcps) == sorted(&other.tcps)
    }
}

impl Keys {
    /// The number of path keys and of connection keys.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn len(&self) -> (usize, usize) {
        (self.paths.len(), self.tcps.len())
    }
}

/// Multiplies two words and folds the 128-bit product: a fast mixer whose every output bit
/// depends on every input bit, so both hashbrown's bucket bits and its tag bits are good.
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

fn hash_tcp(seed: u64, key: TcpKey) -> u64 {
    fold(key.0 ^ seed, MULTIPLIER)
}

fn hash_path(seed: u64, key: &PathKey) -> u64 {
    let bits = |ip: &IpAddr| match ip {
        IpAddr::V4(v4) => u128::from(v4.to_bits()),
        IpAddr::V6(v6) => v6.to_bits(),
    };
    let (s, d) = (bits(&key.0), bits(&key.1));
    let family = u64::from(key.0.is_ipv6());
    [s as u64, (s >> 64) as u64, d as u64, (d >> 64) as u64]
        .into_iter()
        .fold(seed ^ family, |h, word| fold(h ^ word, MULTIPLIER))
}

impl Keys {
    /// The slot of the path with `key`; `key_at` reads an indexed path's key.
    pub(crate) fn find_path(&self, key: &PathKey, key_at: impl Fn(u32) -> PathKey) -> Option<u32> {
        let hash = hash_path(self.seed, key);
        self.paths.find(hash, |&s| key_at(s) == *key).copied()
    }

    /// The slot of the connection with `key`; `key_at` reads an indexed connection's key.
    pub(crate) fn find_tcp(&self, key: TcpKey, key_at: impl Fn(u32) -> TcpKey) -> Option<u32> {
        let hash = hash_tcp(self.seed, key);
        self.tcps.find(hash, |&s| key_at(s) == key).copied()
    }

    /// Makes room for `additional` path keys, fallibly; growing rehashes with `key_at`.
    pub(crate) fn reserve_paths(
        &mut self,
        additional: usize,
        key_at: impl Fn(u32) -> PathKey,
        budget: &Budget,
    ) -> Result<()> {
        budget.charge(additional.saturating_mul(ENTRY_BYTES))?;
        let seed = self.seed;
        self.paths
            .try_reserve(additional, |&s| hash_path(seed, &key_at(s)))
            .map_err(|_| out_of_memory())
    }

    /// Makes room for `additional` connection keys, fallibly.
    pub(crate) fn reserve_tcps(
        &mut self,
        additional: usize,
        key_at: impl Fn(u32) -> TcpKey,
        budget: &Budget,
    ) -> Result<()> {
        budget.charge(additional.saturating_mul(ENTRY_BYTES))?;
        let seed = self.seed;
        self.tcps
            .try_reserve(additional, |&s| hash_tcp(seed, key_at(s)))
            .map_err(|_| out_of_memory())
    }

    /// The claims of a batch of 4-tuples, as (hash, slot) records in the order that writes
    /// the connection table front to back: by the top 16 bits of the bucket each hashes to
    /// (`key(i)` is the key of `slot(i)`, for `i` in `0..records.len()`). Claimed in input
    /// order, a batch of a million keys costs a cache miss or two per key (the table is far
    /// larger than the caches); in this order neighbouring claims share cache lines, and the
    /// claims read the records front to back too. One counting-sort pass into `records`;
    /// `starts` is scratch of [`Self::CLAIM_GROUPS`] + 1 entries. The table was reserved for
    /// the batch (its bucket count is then final). Reads nothing but the arguments and the
    /// table's size, so it may run while the batch is being stored.
    pub(crate) fn tcp_claims(
        &self,
        slot: impl Fn(usize) -> u32,
        key: impl Fn(usize) -> TcpKey,
        records: &mut [(u64, u32)],
        starts: &mut [u32],
    ) {
        // capacity() is 7/8 of the buckets, a power of two (hashbrown's load factor).
        let buckets = (self.tcps.capacity() / 7 * 8).max(1).next_power_of_two();
        let bits = buckets.trailing_zeros();
        let shift = bits.saturating_sub(16);
        let group = |hash: u64| (hash as usize & (buckets - 1)) >> shift;
        let seed = self.seed;
        starts.fill(0);
        // The hash is computed twice rather than kept: a multiply is cheaper than a buffer.
        for i in 0..records.len() {
            starts[group(hash_tcp(seed, key(i))) + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        for i in 0..records.len() {
            let hash = hash_tcp(seed, key(i));
            let at = &mut starts[group(hash)];
            records[*at as usize] = (hash, slot(i));
            *at += 1;
        }
    }

    /// Scratch entries `tcp_claims` needs for its counting sort.
    pub(crate) const CLAIM_GROUPS: usize = 1 << 16;

    /// Claims the records of `tcp_claims`. False when a key is taken (by the tree or an
    /// earlier key of the batch): some are claimed then, and the caller unwinds the batch.
    pub(crate) fn claim_tcps(
        &mut self,
        records: &[(u64, u32)],
        key_at: impl Fn(u32) -> TcpKey,
    ) -> bool {
        let seed = self.seed;
        for &(hash, slot) in records {
            // The new key is read back only when a stored one shares its 7-bit tag.
            let entry = self.tcps.entry(
                hash,
                |&s| key_at(s) == key_at(slot),
                |&s| hash_tcp(seed, key_at(s)),
            );
            if claim(entry, slot).is_err() {
                return false;
            }
        }
        true
    }

    /// Indexes path `slot` under `key` unless the key is taken: then `Err` holds the slot
    /// of the path that has it, and nothing changed. The caller reserved room first
    /// (`reserve_paths`), so the table does not grow here and never reads `slot`'s key.
    pub(crate) fn claim_path(
        &mut self,
        slot: u32,
        key: &PathKey,
        key_at: impl Fn(u32) -> PathKey,
    ) -> std::result::Result<(), u32> {
        let seed = self.seed;
        let entry = self.paths.entry(
            hash_path(seed, key),
            |&s| key_at(s) == *key,
            |&s| hash_path(seed, &key_at(s)),
        );
        claim(entry, slot)
    }

    /// `claim_path` for a connection's 4-tuple.
    pub(crate) fn claim_tcp(
        &mut self,
        slot: u32,
        key: TcpKey,
        key_at: impl Fn(u32) -> TcpKey,
    ) -> std::result::Result<(), u32> {
        let seed = self.seed;
        let entry = self.tcps.entry(
            hash_tcp(seed, key),
            |&s| key_at(s) == key,
            |&s| hash_tcp(seed, key_at(s)),
        );
        claim(entry, slot)
    }

    pub(crate) fn remove_path(&mut self, slot: u32, key: &PathKey) {
        if let Ok(entry) = self
            .paths
            .find_entry(hash_path(self.seed, key), |&s| s == slot)
        {
            entry.remove();
        }
    }

    pub(crate) fn remove_tcp(&mut self, slot: u32, key: TcpKey) {
        if let Ok(entry) = self
            .tcps
            .find_entry(hash_tcp(self.seed, key), |&s| s == slot)
        {
            entry.remove();
        }
    }
}

/// Bytes one index entry costs: a slot and hashbrown's control byte.
const ENTRY_BYTES: usize = std::mem::size_of::<u32>() + 1;

fn claim(entry: Entry<'_, u32>, slot: u32) -> std::result::Result<(), u32> {
    match entry {
        Entry::Occupied(holder) => Err(*holder.get()),
        Entry::Vacant(vacant) => {
            vacant.insert(slot);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_keys_pack_path_and_ports() {
        assert_ne!(TcpKey::new(1, 2, 3), TcpKey::new(1, 3, 2));
        assert_ne!(TcpKey::new(0, 0, 1), TcpKey::new(1, 0, 0));
        assert_eq!(TcpKey::new(7, 80, 443), TcpKey::new(7, 80, 443));
    }

    #[test]
    fn path_hash_tells_families_and_directions_apart() {
        let seed = Keys::default().seed;
        let ip = |t: &str| t.parse::<IpAddr>().unwrap();
        let forward = hash_path(seed, &(ip("10.0.0.1"), ip("10.0.0.2")));
        assert_ne!(forward, hash_path(seed, &(ip("10.0.0.2"), ip("10.0.0.1"))));
        assert_ne!(
            hash_path(seed, &(ip("0.0.0.1"), ip("0.0.0.2"))),
            hash_path(seed, &(ip("::1"), ip("::2")))
        );
    }

    #[test]
    fn a_claimed_key_names_its_holder() {
        let mut keys = Keys::default();
        let key_of = |s: u32| TcpKey::new(0, s as u16, 443);
        keys.reserve_tcps(4, key_of, &Budget::default()).unwrap();
        assert_eq!(keys.claim_tcp(1, key_of(1), key_of), Ok(()));
        assert_eq!(keys.claim_tcp(2, key_of(2), key_of), Ok(()));
        assert_eq!(keys.claim_tcp(3, key_of(1), key_of), Err(1));
        assert_eq!(keys.find_tcp(key_of(2), key_of), Some(2));
        keys.remove_tcp(1, key_of(1));
        assert_eq!(keys.claim_tcp(3, key_of(1), key_of), Ok(()));
    }
}
