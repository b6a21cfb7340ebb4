//! `Dict`: the hash table behind every keyspace, built for memory and for
//! the operations Redis needs that a std `HashMap` cannot do.
//!
//! Entries live densely in a `ChunkedVec` (key and value side by side, 48
//! bytes for a small string key and value) and the hash index holds only
//! `u32` positions into it, so a million small keys cost about 60 MB rather
//! than the ~160 MB of a `HashMap<Box<[u8]>, Vec<u8>>`. The dense layout
//! also gives O(1) random sampling (RANDOMKEY, active expiry) and a SCAN
//! cursor: removal moves the last entry into the hole, and SCAN walks
//! positions from the end towards 0, so an entry present for the whole scan
//! is always visited (a moved entry only ever moves into the part not yet
//! visited).
//!
//! Growing never stops the server. A large index that fills up is not
//! rehashed at once (a million keys took a third of a second): as in Redis,
//! a new index twice the size takes the inserts while the old one's slots
//! move over, bucket by bucket, a few per write (`REHASH_STEP`) and, for
//! the keyspace, for a millisecond per cron tick (`activerehashing`).
//! Lookups try both indexes meanwhile. Shrinking a large sparse index is
//! done the same way. The entries never move to grow (see `chunked`).
//!
//! Keys are hashed with SipHash-1-2 under a random key per table (see
//! `siphash`): clients choose the keys, so the table must not be open to
//! hash flooding.

use super::bytes::CompactBytes;
use super::chunked::ChunkedVec;
use super::siphash::SipKey;
use hashbrown::HashTable;

pub struct Dict<V> {
    index: HashTable<u32>,
    /// The index being replaced, while a resize is under way.
    old: Option<Box<OldIndex>>,
    entries: ChunkedVec<(CompactBytes, V)>,
    hasher: SipKey,
}

/// An index whose slots are moving into the new one, bucket by bucket.
/// Every key's slot is in one index or the other, never both.
struct OldIndex {
    table: HashTable<u32>,
    /// The buckets before this one are empty.
    bucket: usize,
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Self::new()
    }
}

/// Below this many slots the table is never shrunk.
const MIN_CAPACITY: usize = 16;

/// An index that holds fewer keys than this is resized at once: rehashing
/// it costs less than a millisecond.
const INCREMENTAL_FROM: usize = 4096;

/// Slots moved to the new index by each write during a resize. The
/// new index has room for twice the keys, so the move ends long before it
/// could fill up.
const REHASH_STEP: usize = 8;

/// One index's part of `Dict::stats` (Redis's `_dictGetStatsHt`).
fn index_stats(out: &mut String, id: usize, slots: usize, keys: usize) {
    use std::fmt::Write;
    let role = if id == 0 {
        "main hash table"
    } else {
        "rehashing target"
    };
    let _ = writeln!(out, "Hash table {id} stats ({role}):");
    if keys == 0 {
        out.push_str("No stats available for empty dictionaries\n");
        return;
    }
    let share = |n: usize| n as f64 * 100.0 / slots.max(1) as f64;
    let _ = write!(
        out,
        " table size: {slots}\n number of elements: {keys}\n different slots: {keys}\n \
         max chain length: 1\n avg chain length (counted): 1.00\n \
         avg chain length (computed): 1.00\n Chain length distribution:\n"
    );
    let empty = slots.saturating_sub(keys);
    if empty > 0 {
        let _ = writeln!(out, "   0: {empty} ({:.2}%)", share(empty));
    }
    let _ = writeln!(out, "   1: {keys} ({:.2}%)", share(keys));
}

fn hash_of(hasher: &SipKey, key: &[u8]) -> u64 {
    hasher.hash(key)
}

impl<V> Dict<V> {
    pub fn new() -> Self {
        Self {
            index: HashTable::new(),
            old: None,
            entries: ChunkedVec::new(),
            hasher: SipKey::random(),
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What DEBUG HTSTATS shows of this table, in Redis's words: the index
    /// being drained as table 0 and its replacement as table 1 while a
    /// resize is under way. An open-addressing index has no chains, so
    /// every key is a chain of one in a slot of its own.
    pub fn stats(&self) -> String {
        let mut out = String::new();
        match &self.old {
            Some(old) => {
                index_stats(&mut out, 0, old.table.num_buckets(), old.table.len());
                index_stats(&mut out, 1, self.index.num_buckets(), self.index.len());
            }
            None => index_stats(&mut out, 0, self.index.num_buckets(), self.index.len()),
        }
        out
    }

    /// Whether an index resize is under way.
    #[cfg(test)]
    pub fn is_rehashing(&self) -> bool {
        self.old.is_some()
    }

    /// Position of `key` in the dense entries.
    #[inline]
    pub fn position(&self, key: &[u8]) -> Option<usize> {
        // An empty table (the expiries of a database without TTLs) is
        // asked on every lookup: skip hashing the key.
        if self.entries.is_empty() {
            return None;
        }
        self.find_hashed(hash_of(&self.hasher, key), key)
    }

    #[inline]
    fn find_hashed(&self, hash: u64, key: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        match self.index.find(hash, |&i| &*entries[i as usize].0 == key) {
            Some(&i) => Some(i as usize),
            None if self.old.is_some() => self.find_in_old(hash, key),
            None => None,
        }
    }

    /// The old index's answer, during a resize (kept out of line: the
    /// lookup above is inlined into every command).
    #[cold]
    #[inline(never)]
    fn find_in_old(&self, hash: u64, key: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        let old = self.old.as_ref()?;
        let found = old.table.find(hash, |&i| &*entries[i as usize].0 == key);
        found.map(|&i| i as usize)
    }

    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.step_if_rehashing();
        self.position(key).map(|i| &mut self.entries[i].1)
    }

    #[inline]
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.position(key).is_some()
    }

    /// The value at a dense position (from [`Self::position`]): a second
    /// access to a key found once, without hashing it again.
    pub fn value_at_mut(&mut self, position: usize) -> Option<&mut V> {
        self.entries.get_mut(position).map(|(_, v)| v)
    }

    /// The entry at a dense position (for sampling and SCAN).
    pub fn entry_at(&self, position: usize) -> Option<(&CompactBytes, &V)> {
        self.entries.get(position).map(|(k, v)| (k, v))
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: &[u8], value: V) -> Option<V> {
        self.insert_at(key, value).1
    }

    /// Inserts or replaces; returns where the key now is (for
    /// [`Self::value_at_mut`], without hashing it again) and the previous
    /// value.
    pub fn insert_at(&mut self, key: &[u8], value: V) -> (usize, Option<V>) {
        let hash = hash_of(&self.hasher, key);
        if let Some(i) = self.find_hashed(hash, key) {
            return (i, Some(std::mem::replace(&mut self.entries[i].1, value)));
        }
        self.insert_hashed(hash, CompactBytes::new(key), value);
        (self.entries.len() - 1, None)
    }

    /// Inserts a key known to be absent.
    pub fn insert_new(&mut self, key: CompactBytes, value: V) {
        let hash = hash_of(&self.hasher, &key);
        self.insert_hashed(hash, key, value);
    }

    /// Inserts `key` unless it is there, hashing it once (loading a
    /// snapshot, where a duplicate is an error); the key back if it was.
    pub fn insert_if_absent(&mut self, key: Vec<u8>, value: V) -> Result<(), Vec<u8>> {
        let hash = hash_of(&self.hasher, &key);
        if self.find_hashed(hash, &key).is_some() {
            return Err(key);
        }
        self.insert_hashed(hash, CompactBytes::from(key), value);
        Ok(())
    }

    /// Makes room for `additional` more keys at once (a snapshot says how
    /// many it holds), so loading never rehashes.
    pub fn reserve(&mut self, additional: usize) {
        self.finish_rehash();
        self.entries.reserve(additional);
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index
            .reserve(additional, |&i| hash_of(hasher, &entries[i as usize].0));
    }

    fn insert_hashed(&mut self, hash: u64, key: CompactBytes, value: V) {
        self.step_if_rehashing();
        if self.index.len() == self.index.capacity() {
            self.make_room();
        }
        let position = self.entries.len() as u32;
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index
            .insert_unique(hash, position, |&i| hash_of(hasher, &entries[i as usize].0));
        self.entries.push((key, value));
    }

    /// The index is full: a small one grows at the next insert, as any
    /// hash table; a large one starts moving into one twice its size.
    fn make_room(&mut self) {
        // The new index filled up before the move ended: end it now.
        self.finish_rehash();
        let len = self.index.len();
        if len >= INCREMENTAL_FROM {
            self.start_rehash(len * 2);
        }
    }

    /// Replaces the index with an empty one for `capacity` keys; the
    /// positions move over from [`Self::rehash_step`].
    fn start_rehash(&mut self, capacity: usize) {
        let table = std::mem::replace(&mut self.index, HashTable::with_capacity(capacity));
        self.old = Some(Box::new(OldIndex { table, bucket: 0 }));
    }

    /// Moves up to `count` slots from the old index to the new one
    /// (looking at no more than ten empty buckets per slot, as Redis's
    /// `dictRehash`); drops the old index once it is empty. False once no
    /// resize is under way.
    pub fn rehash_step(&mut self, count: usize) -> bool {
        let Some(old) = self.old.as_mut() else {
            return false;
        };
        let (entries, hasher) = (&self.entries, &self.hasher);
        let buckets = old.table.num_buckets();
        let mut empty_visits = count.saturating_mul(10);
        let mut moved = 0;
        while moved < count && old.bucket < buckets && !old.table.is_empty() {
            if let Ok(slot) = old.table.get_bucket_entry(old.bucket) {
                let (position, _) = slot.remove();
                let hash = hash_of(hasher, &entries[position as usize].0);
                self.index
                    .insert_unique(hash, position, |&i| hash_of(hasher, &entries[i as usize].0));
                moved += 1;
            } else {
                empty_visits -= 1;
                if empty_visits == 0 {
                    old.bucket += 1;
                    return true;
                }
            }
            old.bucket += 1;
        }
        if old.table.is_empty() {
            self.old = None;
            return false;
        }
        true
    }

    /// A write's share of a resize under way: a test of one field when
    /// there is none.
    #[inline]
    fn step_if_rehashing(&mut self) {
        if self.old.is_some() {
            self.rehash_step(REHASH_STEP);
        }
    }

    /// Ends a resize under way at once.
    fn finish_rehash(&mut self) {
        while self.rehash_step(usize::MAX) {}
    }

    /// Removes `key`, moving the last entry into its place.
    pub fn remove(&mut self, key: &[u8]) -> Option<(CompactBytes, V)> {
        let hash = hash_of(&self.hasher, key);
        let position = self.remove_from_index(hash, key)?;
        let last = self.entries.len() - 1;
        if position != last {
            let moved_hash = hash_of(&self.hasher, &self.entries[last].0);
            self.repoint(moved_hash, last, position);
        }
        let removed = self.entries.swap_remove(position);
        self.step_if_rehashing();
        self.shrink_if_sparse();
        removed
    }

    /// Takes `key`'s slot out of whichever index holds it; its position.
    fn remove_from_index(&mut self, hash: u64, key: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        let matches = |&i: &u32| &*entries[i as usize].0 == key;
        if let Ok(slot) = self.index.find_entry(hash, matches) {
            return Some(slot.remove().0 as usize);
        }
        let old = self.old.as_mut()?;
        let slot = old.table.find_entry(hash, matches).ok()?;
        Some(slot.remove().0 as usize)
    }

    /// The entry at `from` is moving to `to`: its slot follows it, in
    /// whichever index holds it.
    fn repoint(&mut self, hash: u64, from: usize, to: usize) {
        let at_from = |&i: &u32| i as usize == from;
        let slot = match self.index.find_mut(hash, at_from) {
            Some(slot) => Some(slot),
            None => self
                .old
                .as_mut()
                .and_then(|old| old.table.find_mut(hash, at_from)),
        };
        if let Some(slot) = slot {
            *slot = to as u32;
        }
    }

    /// Gives memory back once the table is mostly empty, as Redis resizes
    /// its dicts when they fall under 10% full.
    fn shrink_if_sparse(&mut self) {
        self.entries.shrink_if_sparse();
        let capacity = self.index.capacity();
        let len = self.index.len();
        if self.old.is_some() || capacity <= MIN_CAPACITY || len * 8 >= capacity {
            return;
        }
        let target = (len * 2).max(MIN_CAPACITY);
        if len >= INCREMENTAL_FROM {
            self.start_rehash(target);
            return;
        }
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index
            .shrink_to(target, |&i| hash_of(hasher, &entries[i as usize].0));
    }

    pub fn clear(&mut self) {
        self.index = HashTable::new();
        self.old = None;
        self.entries = ChunkedVec::new();
    }

    /// Every entry, emptying the table.
    pub fn into_entries(self) -> impl Iterator<Item = (CompactBytes, V)> {
        self.entries.into_elements()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&CompactBytes, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Bytes of the table kept for entries not there yet: free slots,
    /// taken by the next inserts without allocating.
    pub fn slack_bytes(&self) -> usize {
        let (index_capacity, index_len) = self.index_slots();
        (self.entries.capacity() - self.entries.len()) * std::mem::size_of::<(CompactBytes, V)>()
            + (index_capacity - index_len) * INDEX_SLOT_BYTES
    }

    /// Bytes held by the table itself (entries and indexes), for MEMORY.
    pub fn table_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<(CompactBytes, V)>()
            + self.entries.list_bytes()
            + self.index_slots().0 * INDEX_SLOT_BYTES
    }

    /// Slots and keys of both indexes.
    fn index_slots(&self) -> (usize, usize) {
        let old = self
            .old
            .as_ref()
            .map_or((0, 0), |old| (old.table.capacity(), old.table.len()));
        (self.index.capacity() + old.0, self.index.len() + old.1)
    }
}

/// A position and its control byte.
const INDEX_SLOT_BYTES: usize = std::mem::size_of::<u32>() + 1;

#[cfg(test)]
mod tests {
    use super::Dict;

    #[test]
    fn insert_get_remove_keep_positions_consistent() {
        let mut d: Dict<u32> = Dict::new();
        for i in 0..1000u32 {
            assert_eq!(d.insert(format!("k{i}").as_bytes(), i), None);
        }
        assert_eq!(d.insert(b"k5", 55), Some(5));
        for i in (0..1000u32).step_by(3) {
            assert!(d.remove(format!("k{i}").as_bytes()).is_some());
        }
        assert_eq!(d.remove(b"k0"), None);
        for i in 0..1000u32 {
            let expected = if i % 3 == 0 {
                None
            } else if i == 5 {
                Some(55)
            } else {
                Some(i)
            };
            assert_eq!(d.get(format!("k{i}").as_bytes()).copied(), expected, "k{i}");
        }
        for p in 0..d.len() {
            let (k, _) = d.entry_at(p).unwrap();
            assert_eq!(d.position(k), Some(p));
        }
    }

    /// Inserts, replacements and removals through growths and shrinks,
    /// checked against a `HashMap` and the position of every entry.
    #[test]
    fn resizes_step_by_step_without_losing_a_key() {
        let mut d: Dict<u64> = Dict::new();
        let mut model = std::collections::HashMap::new();
        let mut seen_rehashing = 0;
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..400_000u64 {
            // Grow for the first half, then mostly remove.
            let key = (next() % 60_000).to_le_bytes();
            let remove = next() % 10 < if round < 200_000 { 3 } else { 8 };
            if remove {
                assert_eq!(
                    d.remove(&key).map(|(_, v)| v),
                    model.remove(&key),
                    "{round}"
                );
            } else if next() % 4 == 0 {
                if let Some(v) = d.get_mut(&key) {
                    *v += 1;
                    *model.get_mut(&key).unwrap() += 1;
                }
            } else {
                assert_eq!(d.insert(&key, round), model.insert(key, round), "{round}");
            }
            seen_rehashing += usize::from(d.is_rehashing());
            if round % 50_000 == 0 {
                for p in 0..d.len() {
                    let (k, _) = d.entry_at(p).unwrap();
                    assert_eq!(d.position(k), Some(p), "round {round}");
                }
            }
        }
        assert!(seen_rehashing > 0);
        assert_eq!(d.len(), model.len());
        for (key, value) in &model {
            assert_eq!(d.get(key), Some(value));
        }
        for p in 0..d.len() {
            let (k, _) = d.entry_at(p).unwrap();
            assert_eq!(d.position(k), Some(p));
        }
    }

    #[test]
    fn a_large_index_grows_and_shrinks_incrementally() {
        let mut d: Dict<()> = Dict::new();
        let mut started = 0;
        for i in 0..200_000u64 {
            let before = d.is_rehashing();
            d.insert(&i.to_le_bytes(), ());
            started += usize::from(!before && d.is_rehashing());
        }
        assert!(started >= 5, "{started} resizes began");
        while d.rehash_step(100) {}
        assert!(!d.is_rehashing());
        let mut shrinks = 0;
        for i in 0..199_000u64 {
            let before = d.is_rehashing();
            d.remove(&i.to_le_bytes());
            shrinks += usize::from(!before && d.is_rehashing());
        }
        assert!(shrinks >= 1, "no shrink began");
        for i in 199_000..200_000u64 {
            assert!(d.contains_key(&i.to_le_bytes()));
        }
    }

    #[test]
    fn stats_show_both_indexes_while_resizing() {
        let mut d: Dict<()> = Dict::new();
        assert!(d
            .stats()
            .ends_with("No stats available for empty dictionaries\n"));
        let mut i = 0u64;
        while !d.is_rehashing() {
            d.insert(&i.to_le_bytes(), ());
            i += 1;
        }
        let stats = d.stats();
        assert!(stats.starts_with("Hash table 0 stats (main hash table):\n table size: "));
        assert!(
            stats.contains("Hash table 1 stats (rehashing target):"),
            "{stats}"
        );
        while d.rehash_step(100) {}
        let stats = d.stats();
        assert!(!stats.contains("rehashing target"), "{stats}");
        assert!(
            stats.contains(&format!(" number of elements: {i}\n")),
            "{stats}"
        );
        assert!(stats.contains(&format!("   1: {i} (")), "{stats}");
    }

    #[test]
    fn memory_comes_back_when_emptied() {
        let mut d: Dict<u64> = Dict::new();
        for i in 0..100_000u64 {
            d.insert(&i.to_le_bytes(), i);
        }
        let full = d.table_bytes();
        for i in 0..100_000u64 {
            d.remove(&i.to_le_bytes());
        }
        assert!(
            d.table_bytes() * 100 < full,
            "{} of {full} bytes kept",
            d.table_bytes()
        );
    }
}
