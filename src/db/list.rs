//! Lists packed as Redis packs them (a quicklist of listpacks): elements
//! stored back to back in chunks of up to 8 KB, each with its length
//! before and after it so a chunk reads from either end. A 3-byte element
//! costs 5 bytes, as in a listpack, instead of a 24-byte slot.
//!
//! Pushes and pops at either end touch only the edge chunk: a chunk keeps
//! free room before its first element, so pushing at the front does not
//! move what is there. Indexing walks the chunks by their counts, as
//! Redis's quicklist does.

use super::bytes::CompactBytes;

/// Most bytes a chunk holds (Redis's default `list-max-listpack-size -2`);
/// a larger element has a chunk of its own.
const CHUNK_BYTES: usize = 8192;

/// Lengths up to this take one byte at each end of an element.
const SHORT: usize = 127;
const LONG_MARK: u8 = 0x80;

#[derive(Clone, Default, Debug)]
struct Chunk {
    /// Free room, then the elements from `head` on.
    buf: Vec<u8>,
    head: usize,
    count: usize,
}

fn entry_size(len: usize) -> usize {
    if len <= SHORT {
        len + 2
    } else {
        len + 18
    }
}

/// Writes one element's bytes (length, data, length) into `out`.
fn encode(out: &mut [u8], data: &[u8]) {
    let len = data.len();
    if len <= SHORT {
        out[0] = len as u8;
        out[1..=len].copy_from_slice(data);
        out[len + 1] = len as u8;
    } else {
        out[0] = LONG_MARK;
        out[1..9].copy_from_slice(&(len as u64).to_le_bytes());
        out[9..9 + len].copy_from_slice(data);
        out[9 + len..17 + len].copy_from_slice(&(len as u64).to_le_bytes());
        out[17 + len] = LONG_MARK;
    }
}

/// The element starting at `at`: its data range and where the next starts.
fn read_forward(buf: &[u8], at: usize) -> (usize, usize, usize) {
    if buf[at] == LONG_MARK {
        let len = u64::from_le_bytes(buf[at + 1..at + 9].try_into().unwrap_or([0; 8])) as usize;
        (at + 9, len, at + len + 18)
    } else {
        let len = usize::from(buf[at]);
        (at + 1, len, at + len + 2)
    }
}

/// The element ending at `end`: where it starts, and its data range.
fn read_backward(buf: &[u8], end: usize) -> (usize, usize, usize) {
    if buf[end - 1] == LONG_MARK {
        let len = u64::from_le_bytes(buf[end - 9..end - 1].try_into().unwrap_or([0; 8])) as usize;
        (end - len - 18, end - len - 9, len)
    } else {
        let len = usize::from(buf[end - 1]);
        (end - len - 2, end - len - 1, len)
    }
}

impl Chunk {
    fn live(&self) -> usize {
        self.buf.len() - self.head
    }

    fn fits(&self, size: usize) -> bool {
        self.count == 0 || self.live() + size <= CHUNK_BYTES
    }

    fn with(data: &[u8]) -> Chunk {
        let mut chunk = Chunk::default();
        chunk.push_back(data);
        chunk
    }

    fn push_back(&mut self, data: &[u8]) {
        let at = self.buf.len();
        let needed = at + entry_size(data.len());
        if needed > self.buf.capacity() {
            // Double, but never past a full chunk: a chunk's buffer is
            // what the list costs.
            let target = (self.buf.capacity() * 2)
                .min(self.head + CHUNK_BYTES)
                .max(needed);
            self.buf.reserve_exact(target - at);
        }
        self.buf.resize(needed, 0);
        encode(&mut self.buf[at..], data);
        self.count += 1;
    }

    fn push_front(&mut self, data: &[u8]) {
        let size = entry_size(data.len());
        if self.head < size {
            // Make room before the elements: as much again as they take
            // (at least the element), within the chunk's size.
            let live = self.live();
            let room = (live + size)
                .min(CHUNK_BYTES.saturating_sub(live))
                .max(size);
            let mut buf = Vec::with_capacity(room + live);
            buf.resize(room, 0);
            buf.extend_from_slice(&self.buf[self.head..]);
            self.buf = buf;
            self.head = room;
        }
        self.head -= size;
        encode(&mut self.buf[self.head..self.head + size], data);
        self.count += 1;
    }

    fn pop_front(&mut self) -> CompactBytes {
        let (start, len, next) = read_forward(&self.buf, self.head);
        let data = CompactBytes::new(&self.buf[start..start + len]);
        self.head = next;
        self.count -= 1;
        if self.count == 0 {
            self.buf = Vec::new();
            self.head = 0;
        }
        data
    }

    fn pop_back(&mut self) -> CompactBytes {
        let (entry, start, len) = read_backward(&self.buf, self.buf.len());
        let data = CompactBytes::new(&self.buf[start..start + len]);
        self.buf.truncate(entry);
        self.count -= 1;
        if self.count == 0 {
            self.buf = Vec::new();
            self.head = 0;
        }
        data
    }

    /// Byte offsets of element `i`: where it starts and ends.
    fn locate(&self, i: usize) -> (usize, usize) {
        let mut at = self.head;
        for _ in 0..i {
            at = read_forward(&self.buf, at).2;
        }
        (at, read_forward(&self.buf, at).2)
    }

    fn get(&self, i: usize) -> &[u8] {
        let (at, _) = self.locate(i);
        let (start, len, _) = read_forward(&self.buf, at);
        &self.buf[start..start + len]
    }

    /// Puts `data` in place of the bytes `from..to` (an element or none).
    fn splice(&mut self, from: usize, to: usize, data: Option<&[u8]>) {
        let mut entry = Vec::new();
        if let Some(data) = data {
            entry.resize(entry_size(data.len()), 0);
            encode(&mut entry, data);
        }
        self.buf.splice(from..to, entry);
    }
}

/// A list: elements in chunks, and how many there are.
#[derive(Clone, Default, Debug)]
pub struct PackedList {
    chunks: Vec<Chunk>,
    len: usize,
}

impl PackedList {
    pub fn new() -> PackedList {
        PackedList::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Chunks: what Redis counts as quicklist nodes.
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    pub fn push_back(&mut self, data: &[u8]) {
        let size = entry_size(data.len());
        match self.chunks.last_mut() {
            Some(last) if last.fits(size) => last.push_back(data),
            _ => self.chunks.push(Chunk::with(data)),
        }
        self.len += 1;
    }

    pub fn push_front(&mut self, data: &[u8]) {
        let size = entry_size(data.len());
        match self.chunks.first_mut() {
            Some(first) if first.fits(size) => first.push_front(data),
            _ => self.chunks.insert(0, Chunk::with(data)),
        }
        self.len += 1;
    }

    pub fn pop_front(&mut self) -> Option<CompactBytes> {
        let first = self.chunks.first_mut()?;
        let data = first.pop_front();
        if first.count == 0 {
            self.chunks.remove(0);
        }
        self.len -= 1;
        Some(data)
    }

    pub fn pop_back(&mut self) -> Option<CompactBytes> {
        let last = self.chunks.last_mut()?;
        let data = last.pop_back();
        if last.count == 0 {
            self.chunks.pop();
        }
        self.len -= 1;
        Some(data)
    }

    /// The chunk holding element `i`, and its index there.
    fn find(&self, mut i: usize) -> Option<(usize, usize)> {
        if i >= self.len {
            return None;
        }
        // Walk from the nearer end.
        if i < self.len / 2 {
            for (c, chunk) in self.chunks.iter().enumerate() {
                if i < chunk.count {
                    return Some((c, i));
                }
                i -= chunk.count;
            }
        } else {
            let mut from_end = self.len - 1 - i;
            for (c, chunk) in self.chunks.iter().enumerate().rev() {
                if from_end < chunk.count {
                    return Some((c, chunk.count - 1 - from_end));
                }
                from_end -= chunk.count;
            }
        }
        None
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let (c, j) = self.find(i)?;
        Some(self.chunks[c].get(j))
    }

    /// Replaces element `i` (LSET); false if there is none.
    pub fn set(&mut self, i: usize, data: &[u8]) -> bool {
        let Some((c, j)) = self.find(i) else {
            return false;
        };
        let chunk = &mut self.chunks[c];
        let (from, to) = chunk.locate(j);
        chunk.splice(from, to, Some(data));
        true
    }

    /// Inserts before element `i` (`i == len` appends), splitting a chunk
    /// that grows past its size.
    pub fn insert(&mut self, i: usize, data: &[u8]) {
        if i == 0 {
            return self.push_front(data);
        }
        if i >= self.len {
            return self.push_back(data);
        }
        let Some((c, j)) = self.find(i) else {
            return;
        };
        let chunk = &mut self.chunks[c];
        let (at, _) = chunk.locate(j);
        chunk.splice(at, at, Some(data));
        chunk.count += 1;
        self.len += 1;
        if chunk.live() > CHUNK_BYTES && chunk.count > 1 {
            let half = chunk.count / 2;
            let (cut, _) = chunk.locate(half);
            let tail = Chunk {
                buf: chunk.buf[cut..].to_vec(),
                head: 0,
                count: chunk.count - half,
            };
            chunk.buf.truncate(cut);
            chunk.count = half;
            self.chunks.insert(c + 1, tail);
        }
    }

    /// Removes element `i`.
    pub fn remove(&mut self, i: usize) {
        let Some((c, j)) = self.find(i) else {
            return;
        };
        let chunk = &mut self.chunks[c];
        let (from, to) = chunk.locate(j);
        chunk.splice(from, to, None);
        chunk.count -= 1;
        if chunk.count == 0 {
            self.chunks.remove(c);
        }
        self.len -= 1;
    }

    /// Keeps only elements `from..=to` (LTRIM), dropping from both ends.
    pub fn keep(&mut self, from: usize, to: usize) {
        let to = to.min(self.len.saturating_sub(1));
        let tail = self.len - 1 - to;
        for _ in 0..tail {
            self.pop_back();
        }
        for _ in 0..from.min(self.len) {
            self.pop_front();
        }
    }

    pub fn clear(&mut self) {
        *self = PackedList::default();
    }

    /// Elements front to back.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        self.chunks.iter().flat_map(|chunk| ChunkIter {
            buf: &chunk.buf,
            front: chunk.head,
            back: chunk.buf.len(),
        })
    }

    /// Elements `from..=to`, front to back.
    pub fn range(&self, from: usize, to: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let start = self.find(from);
        let chunks = start.map_or(&self.chunks[..0], |(c, _)| &self.chunks[c..]);
        let skip = start.map_or(0, |(_, j)| j);
        chunks
            .iter()
            .flat_map(|chunk| ChunkIter {
                buf: &chunk.buf,
                front: chunk.head,
                back: chunk.buf.len(),
            })
            .skip(skip)
            .take((to + 1).saturating_sub(from))
    }

    /// Bytes held (MEMORY USAGE).
    pub fn memory_usage(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Chunk>()
            + self.chunks.iter().map(|c| c.buf.capacity()).sum::<usize>()
    }
}

/// One chunk's elements, from either end.
struct ChunkIter<'a> {
    buf: &'a [u8],
    front: usize,
    back: usize,
}

impl<'a> Iterator for ChunkIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.front >= self.back {
            return None;
        }
        let (start, len, next) = read_forward(self.buf, self.front);
        self.front = next;
        Some(&self.buf[start..start + len])
    }
}

impl DoubleEndedIterator for ChunkIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let (entry, start, len) = read_backward(self.buf, self.back);
        self.back = entry;
        Some(&self.buf[start..start + len])
    }
}

impl FromIterator<Vec<u8>> for PackedList {
    fn from_iter<I: IntoIterator<Item = Vec<u8>>>(items: I) -> Self {
        let mut list = PackedList::new();
        for item in items {
            list.push_back(&item);
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// Every operation against a VecDeque model, with short and long
    /// elements, across many chunks.
    #[test]
    fn behaves_as_a_deque() {
        let mut list = PackedList::new();
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        let mut x = 0x1234_5678u64;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = match x % 10 {
                0 => 200 + (x % 9000) as usize,
                1..=3 => (x % 130) as usize,
                _ => (x % 8) as usize,
            };
            let item: Vec<u8> = (0..len).map(|i| (i as u64 + step) as u8).collect();
            match (x >> 8) % 9 {
                0 | 1 => {
                    list.push_back(&item);
                    model.push_back(item);
                }
                2 | 3 => {
                    list.push_front(&item);
                    model.push_front(item);
                }
                4 => assert_eq!(list.pop_front().map(|b| b.to_vec()), model.pop_front()),
                5 => assert_eq!(list.pop_back().map(|b| b.to_vec()), model.pop_back()),
                6 if !model.is_empty() => {
                    let i = (x >> 16) as usize % (model.len() + 1);
                    list.insert(i, &item);
                    model.insert(i, item);
                }
                7 if !model.is_empty() => {
                    let i = (x >> 16) as usize % model.len();
                    list.set(i, &item);
                    model[i] = item;
                }
                8 if !model.is_empty() => {
                    let i = (x >> 16) as usize % model.len();
                    list.remove(i);
                    model.remove(i);
                }
                _ => {}
            }
            assert_eq!(list.len(), model.len());
            if step % 500 == 0 {
                assert!(list.iter().eq(model.iter().map(|v| &v[..])));
                assert!(list.iter().rev().eq(model.iter().rev().map(|v| &v[..])));
                for i in (0..model.len()).step_by(7) {
                    assert_eq!(list.get(i), Some(&model[i][..]));
                }
                if model.len() > 10 {
                    let (a, b) = (3, model.len() - 4);
                    assert!(list.range(a, b).eq(model.range(a..=b).map(|v| &v[..])));
                }
            }
        }
        let n = model.len();
        if n > 10 {
            list.keep(2, n - 3);
            let kept: Vec<_> = model.range(2..=n - 3).cloned().collect();
            assert!(list.iter().eq(kept.iter().map(|v| &v[..])));
        }
    }
}
