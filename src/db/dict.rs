//! `Dict`: the hash table behind every keyspace, built for memory and for
//! the operations Redis needs that a std `HashMap` cannot do.
//!
//! Entries live densely in a `Vec` (key and value side by side, 48 bytes for
//! a small string key and value) and the hash index holds only `u32`
//! positions into it, so a million small keys cost about 60 MB rather than
//! the ~160 MB of a `HashMap<Box<[u8]>, Vec<u8>>`. The dense layout also
//! gives O(1) random sampling (RANDOMKEY, active expiry) and a SCAN cursor:
//! removal moves the last entry into the hole, and SCAN walks positions
//! from the end towards 0, so an entry present for the whole scan is always
//! visited (a moved entry only ever moves into the part not yet visited).
//!
//! Keys are hashed with SipHash-1-2 under a random key per table (see
//! `siphash`): clients choose the keys, so the table must not be open to
//! hash flooding.

use super::bytes::CompactBytes;
use super::siphash::SipKey;
use hashbrown::HashTable;

pub struct Dict<V> {
    index: HashTable<u32>,
    entries: Vec<(CompactBytes, V)>,
    hasher: SipKey,
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Self::new()
    }
}

/// Below this many slots the table is never shrunk.
const MIN_CAPACITY: usize = 16;

fn hash_of(hasher: &SipKey, key: &[u8]) -> u64 {
    hasher.hash(key)
}

impl<V> Dict<V> {
    pub fn new() -> Self {
        Self {
            index: HashTable::new(),
            entries: Vec::new(),
            hasher: SipKey::random(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Position of `key` in the dense entries.
    pub fn position(&self, key: &[u8]) -> Option<usize> {
        // An empty table (the expiries of a database without TTLs) is
        // asked on every lookup: skip hashing the key.
        if self.entries.is_empty() {
            return None;
        }
        self.find_hashed(hash_of(&self.hasher, key), key)
    }

    fn find_hashed(&self, hash: u64, key: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        self.index
            .find(hash, |&i| &*entries[i as usize].0 == key)
            .map(|&i| i as usize)
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.position(key).map(|i| &mut self.entries[i].1)
    }

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
        self.entries.reserve(additional);
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index
            .reserve(additional, |&i| hash_of(hasher, &entries[i as usize].0));
    }

    fn insert_hashed(&mut self, hash: u64, key: CompactBytes, value: V) {
        let position = self.entries.len() as u32;
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index
            .insert_unique(hash, position, |&i| hash_of(hasher, &entries[i as usize].0));
        self.entries.push((key, value));
    }

    /// Removes `key`, moving the last entry into its place.
    pub fn remove(&mut self, key: &[u8]) -> Option<(CompactBytes, V)> {
        let hash = hash_of(&self.hasher, key);
        let entries = &self.entries;
        let slot = self
            .index
            .find_entry(hash, |&i| &*entries[i as usize].0 == key)
            .ok()?;
        let (position, _) = slot.remove();
        let position = position as usize;
        let last = self.entries.len() - 1;
        if position != last {
            let moved_hash = hash_of(&self.hasher, &self.entries[last].0);
            if let Some(slot) = self.index.find_mut(moved_hash, |&i| i as usize == last) {
                *slot = position as u32;
            }
        }
        let removed = self.entries.swap_remove(position);
        self.shrink_if_sparse();
        Some(removed)
    }

    /// Gives memory back once the table is mostly empty, as Redis resizes
    /// its dicts when they fall under 10% full.
    fn shrink_if_sparse(&mut self) {
        let capacity = self.entries.capacity();
        if capacity > MIN_CAPACITY && self.entries.len() * 8 < capacity {
            let target = (self.entries.len() * 2).max(MIN_CAPACITY);
            self.entries.shrink_to(target);
            let (entries, hasher) = (&self.entries, &self.hasher);
            self.index
                .shrink_to(target, |&i| hash_of(hasher, &entries[i as usize].0));
        }
    }

    pub fn clear(&mut self) {
        self.index = HashTable::new();
        self.entries = Vec::new();
    }

    /// Every entry, emptying the table.
    pub fn into_entries(self) -> Vec<(CompactBytes, V)> {
        self.entries
    }

    pub fn iter(&self) -> impl Iterator<Item = (&CompactBytes, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Bytes of the table kept for entries not there yet: free slots,
    /// taken by the next inserts without allocating.
    pub fn slack_bytes(&self) -> usize {
        (self.entries.capacity() - self.entries.len()) * std::mem::size_of::<(CompactBytes, V)>()
            + (self.index.capacity() - self.index.len()) * (std::mem::size_of::<u32>() + 1)
    }

    /// Bytes held by the table itself (entries and index), for MEMORY.
    pub fn table_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<(CompactBytes, V)>()
            + self.index.capacity() * (std::mem::size_of::<u32>() + 1)
    }
}

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
