//! A sorted map from stream IDs to values, for consumer groups' pending
//! entries lists. Entries arrive in ID order (XREADGROUP delivers the
//! next entries), where a B-tree splits each full leaf in half and
//! leaves every leaf half empty; here they are kept in sorted chunks
//! that an append fills to the brim.

use super::stream::StreamId;
use std::collections::BTreeMap;

/// Entries per chunk: a binary search and a short move per change.
const CHUNK: usize = 64;

#[derive(Clone, Debug)]
pub struct IdMap<V> {
    /// Chunks keyed by their first ID, each sorted and never empty.
    chunks: BTreeMap<StreamId, Vec<(StreamId, V)>>,
    len: usize,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap {
            chunks: BTreeMap::new(),
            len: 0,
        }
    }
}

impl<V> IdMap<V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }

    /// The key of the chunk where `id` is or would go.
    fn chunk_key(&self, id: StreamId) -> Option<StreamId> {
        self.chunks
            .range(..=id)
            .next_back()
            .or_else(|| self.chunks.iter().next())
            .map(|(key, _)| *key)
    }

    pub fn get(&self, id: &StreamId) -> Option<&V> {
        let (_, chunk) = self.chunks.range(..=*id).next_back()?;
        let at = chunk.binary_search_by_key(id, |(k, _)| *k).ok()?;
        chunk.get(at).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, id: &StreamId) -> Option<&mut V> {
        let (_, chunk) = self.chunks.range_mut(..=*id).next_back()?;
        let at = chunk.binary_search_by_key(id, |(k, _)| *k).ok()?;
        chunk.get_mut(at).map(|(_, v)| v)
    }

    pub fn contains_key(&self, id: &StreamId) -> bool {
        self.get(id).is_some()
    }

    /// Inserts or replaces; the value replaced.
    pub fn insert(&mut self, id: StreamId, value: V) -> Option<V> {
        let Some(key) = self.chunk_key(id) else {
            self.chunks.insert(id, vec![(id, value)]);
            self.len = 1;
            return None;
        };
        let chunk = self.chunks.get_mut(&key)?;
        let at = match chunk.binary_search_by_key(&id, |(k, _)| *k) {
            Ok(at) => {
                return chunk
                    .get_mut(at)
                    .map(|slot| std::mem::replace(&mut slot.1, value))
            }
            Err(at) => at,
        };
        self.len += 1;
        let mut tail = None;
        if chunk.len() >= CHUNK {
            // An append starts a new chunk and leaves this one full; an
            // insert inside splits it in two.
            let split = if at == chunk.len() {
                at
            } else {
                chunk.len() / 2
            };
            let mut rest = chunk.split_off(split);
            if at >= split {
                rest.insert(at - split, (id, value));
            } else {
                chunk.insert(at, (id, value));
            }
            tail = Some(rest);
        } else {
            chunk.insert(at, (id, value));
        }
        if let Some(rest) = tail {
            if let Some(&(first, _)) = rest.first() {
                self.chunks.insert(first, rest);
            }
        }
        if at == 0 {
            self.rekey(key);
        }
        None
    }

    /// Files the chunk under `key` again under its first ID (gone if
    /// empty).
    fn rekey(&mut self, key: StreamId) {
        if let Some(chunk) = self.chunks.remove(&key) {
            if let Some(&(first, _)) = chunk.first() {
                self.chunks.insert(first, chunk);
            }
        }
    }

    /// Removes an entry; its value if it was there.
    pub fn remove(&mut self, id: &StreamId) -> Option<V> {
        let key = *self.chunks.range(..=*id).next_back()?.0;
        let chunk = self.chunks.get_mut(&key)?;
        let at = chunk.binary_search_by_key(id, |(k, _)| *k).ok()?;
        let (_, value) = chunk.remove(at);
        self.len -= 1;
        if chunk.len() * 4 <= chunk.capacity() && chunk.capacity() > 8 {
            chunk.shrink_to(chunk.len() * 2);
        }
        if at == 0 {
            // The chunk's first ID changed, or it is empty.
            self.rekey(key);
        }
        Some(value)
    }

    /// Entries with IDs in `start..=end`, in order.
    pub fn range(&self, start: StreamId, end: StreamId) -> impl Iterator<Item = (&StreamId, &V)> {
        let from = self
            .chunks
            .range(..=start)
            .next_back()
            .map_or(start, |(key, _)| *key);
        let chunks = if start <= end {
            self.chunks.range(from..=end)
        } else {
            self.chunks.range(start..start)
        };
        chunks
            .flat_map(|(_, chunk)| chunk.iter())
            .skip_while(move |(id, _)| *id < start)
            .take_while(move |(id, _)| *id <= end)
            .map(|(id, v)| (id, v))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&StreamId, &V)> {
        self.range(StreamId::MIN, StreamId::MAX)
    }

    pub fn keys(&self) -> impl Iterator<Item = &StreamId> {
        self.iter().map(|(id, _)| id)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }

    pub fn first(&self) -> Option<(&StreamId, &V)> {
        let (_, chunk) = self.chunks.iter().next()?;
        chunk.first().map(|(id, v)| (id, v))
    }

    pub fn last(&self) -> Option<(&StreamId, &V)> {
        let (_, chunk) = self.chunks.iter().next_back()?;
        chunk.last().map(|(id, v)| (id, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A reproducible stream of numbers (xorshift64).
    fn numbers(mut seed: u64) -> impl Iterator<Item = u64> {
        std::iter::from_fn(move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            Some(seed)
        })
    }

    #[test]
    fn behaves_as_a_btreemap() {
        let mut map = IdMap::default();
        let mut model = BTreeMap::new();
        let mut rng = numbers(42);
        for step in 0..20_000u64 {
            let r = rng.next().unwrap_or(0);
            // Mostly appends, as deliveries; some inserts inside and
            // removals anywhere.
            let id = if r.is_multiple_of(3) {
                StreamId::new(r % 500, 0)
            } else {
                StreamId::new(step, 1)
            };
            if r.is_multiple_of(5) {
                assert_eq!(map.remove(&id), model.remove(&id));
            } else {
                assert_eq!(map.insert(id, step), model.insert(id, step));
            }
            assert_eq!(map.len(), model.len());
            if step % 997 == 0 {
                let got: Vec<_> = map.iter().map(|(k, v)| (*k, *v)).collect();
                let want: Vec<_> = model.iter().map(|(k, v)| (*k, *v)).collect();
                assert_eq!(got, want);
                let (a, b) = (StreamId::new(100, 0), StreamId::new(300, 5));
                let got: Vec<_> = map.range(a, b).map(|(k, _)| *k).collect();
                let want: Vec<_> = model.range(a..=b).map(|(k, _)| *k).collect();
                assert_eq!(got, want);
                assert_eq!(map.range(b, a).count(), 0);
                assert_eq!(map.first().map(|(k, _)| *k), model.keys().next().copied());
                assert_eq!(
                    map.last().map(|(k, _)| *k),
                    model.keys().next_back().copied()
                );
            }
            assert_eq!(map.get(&id), model.get(&id));
        }
        for (id, v) in model.iter() {
            assert_eq!(map.get(id), Some(v));
        }
    }

    #[test]
    fn appends_fill_whole_chunks() {
        let mut map = IdMap::default();
        for i in 0..(CHUNK as u64 * 10) {
            map.insert(StreamId::new(i, 0), ());
        }
        assert_eq!(map.chunks.len(), 10);
        assert!(map.chunks.values().all(|c| c.len() == CHUNK));
    }
}
