//! `ChunkedVec`: a vector that never moves what it holds to grow.
//!
//! A `Vec` doubles by copying every element: at a million keys the
//! keyspace's entries are 48 MB, and the SET that crossed the boundary
//! waited tens of milliseconds for the copy. Here the first chunk grows
//! like a `Vec` up to `CHUNK` elements, and every later chunk is
//! allocated at its full size once, so a push copies at most one small
//! chunk and a large table's growth costs only a fresh allocation.
//! Position `p` lives in chunk `p >> SHIFT`, at `p & MASK`: one more load
//! than a `Vec`, of a chunk list small enough to stay in cache.

use std::ops::{Index, IndexMut};

const SHIFT: u32 = 12;
const CHUNK: usize = 1 << SHIFT;
const MASK: usize = CHUNK - 1;

/// Below this capacity the first chunk is never shrunk.
const MIN_CAPACITY: usize = 16;

pub struct ChunkedVec<T> {
    /// Full chunks, each an array: indexing into one needs no bounds check.
    full: Vec<Box<[T; CHUNK]>>,
    /// The elements after the full chunks, at most a chunk of them.
    tail: Vec<T>,
    /// An emptied tail's allocation, kept while the tail is over half
    /// full so that a table going to and fro across a chunk boundary does
    /// not allocate each time.
    spare: Vec<T>,
}

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> ChunkedVec<T> {
    pub const fn new() -> Self {
        Self {
            full: Vec::new(),
            tail: Vec::new(),
            spare: Vec::new(),
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        (self.full.len() << SHIFT) + self.tail.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.tail.is_empty() && self.full.is_empty()
    }

    #[inline]
    pub fn get(&self, position: usize) -> Option<&T> {
        match self.full.get(position >> SHIFT) {
            Some(chunk) => Some(&chunk[position & MASK]),
            None => self.tail.get(position - (self.full.len() << SHIFT)),
        }
    }

    #[inline]
    pub fn get_mut(&mut self, position: usize) -> Option<&mut T> {
        let sealed = self.full.len() << SHIFT;
        match self.full.get_mut(position >> SHIFT) {
            Some(chunk) => Some(&mut chunk[position & MASK]),
            None => self.tail.get_mut(position - sealed),
        }
    }

    pub fn push(&mut self, value: T) {
        if self.tail.len() == CHUNK {
            self.seal_tail();
        }
        let tail = &mut self.tail;
        // The first chunk grows by doubling, but never past a chunk.
        if tail.len() == tail.capacity() && tail.capacity() * 2 > CHUNK {
            tail.reserve_exact(CHUNK - tail.len());
        }
        tail.push(value);
    }

    /// Moves a full tail into the full chunks (no copy: the allocation
    /// becomes the array).
    fn seal_tail(&mut self) {
        let next = match std::mem::take(&mut self.spare) {
            spare if spare.capacity() >= CHUNK => spare,
            _ => Vec::with_capacity(CHUNK),
        };
        let tail = std::mem::replace(&mut self.tail, next);
        match Box::<[T; CHUNK]>::try_from(tail) {
            Ok(chunk) => self.full.push(chunk),
            Err(_) => unreachable!("a tail is sealed when it holds a chunk"),
        }
    }

    pub fn pop(&mut self) -> Option<T> {
        if self.tail.is_empty() {
            let chunk: Box<[T]> = self.full.pop()?;
            let emptied = std::mem::replace(&mut self.tail, chunk.into_vec());
            self.spare = emptied;
        }
        let value = self.tail.pop();
        if self.tail.len() < CHUNK / 2 {
            self.spare = Vec::new();
        }
        value
    }

    /// Removes the element at `position`, moving the last one into its
    /// place (the order is not kept).
    pub fn swap_remove(&mut self, position: usize) -> Option<T> {
        if position >= self.len() {
            return None;
        }
        let last = self.pop()?;
        match self.get_mut(position) {
            Some(slot) => Some(std::mem::replace(slot, last)),
            // It was the last.
            None => Some(last),
        }
    }

    /// Makes room for `additional` more elements in the tail (loading a
    /// snapshot that says how many it holds); later chunks come as needed.
    pub fn reserve(&mut self, additional: usize) {
        let room = CHUNK - self.tail.len();
        self.tail.reserve_exact(additional.min(room));
    }

    /// Elements the chunks can hold without allocating.
    pub fn capacity(&self) -> usize {
        (self.full.len() << SHIFT) + self.tail.capacity() + self.spare.capacity()
    }

    /// Gives the first chunk's memory back once it is mostly empty (the
    /// later chunks go as they empty).
    pub fn shrink_if_sparse(&mut self) {
        let tail = &mut self.tail;
        if self.full.is_empty()
            && tail.capacity() > MIN_CAPACITY
            && tail.len() * 8 < tail.capacity()
        {
            tail.shrink_to((tail.len() * 2).max(MIN_CAPACITY));
        }
    }

    /// Bytes of the chunk list itself.
    pub fn list_bytes(&self) -> usize {
        self.full.capacity() * std::mem::size_of::<Box<[T; CHUNK]>>()
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.full
            .iter()
            .flat_map(|chunk| chunk.iter())
            .chain(&self.tail)
    }

    /// Every element, consuming the vector.
    pub fn into_elements(self) -> impl Iterator<Item = T> {
        let full = self.full.into_iter().flat_map(|chunk| {
            let chunk: Box<[T]> = chunk;
            chunk.into_vec()
        });
        full.chain(self.tail)
    }
}

impl<T> Index<usize> for ChunkedVec<T> {
    type Output = T;

    #[inline]
    fn index(&self, position: usize) -> &T {
        match self.full.get(position >> SHIFT) {
            Some(chunk) => &chunk[position & MASK],
            None => &self.tail[position - (self.full.len() << SHIFT)],
        }
    }
}

impl<T> IndexMut<usize> for ChunkedVec<T> {
    #[inline]
    fn index_mut(&mut self, position: usize) -> &mut T {
        let sealed = self.full.len() << SHIFT;
        match self.full.get_mut(position >> SHIFT) {
            Some(chunk) => &mut chunk[position & MASK],
            None => &mut self.tail[position - sealed],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ChunkedVec, CHUNK};

    #[test]
    fn behaves_like_a_vec_across_chunks() {
        let mut chunked = ChunkedVec::new();
        let mut model = Vec::new();
        for i in 0..3 * CHUNK + 7 {
            chunked.push(i);
            model.push(i);
        }
        // Remove from everywhere, including across chunk boundaries.
        for (step, position) in [0, CHUNK - 1, CHUNK, 2 * CHUNK + 3, 5].iter().enumerate() {
            assert_eq!(
                chunked.swap_remove(*position),
                Some(model.swap_remove(*position))
            );
            assert_eq!(chunked.len(), model.len(), "step {step}");
        }
        while model.len() > CHUNK - 2 {
            assert_eq!(chunked.pop(), model.pop());
        }
        for i in 0..CHUNK + 1 {
            chunked.push(i);
            model.push(i);
        }
        assert_eq!(chunked.iter().copied().collect::<Vec<_>>(), model);
        assert_eq!(chunked.get(model.len()), None);
        assert_eq!(chunked.get(model.len() - 1), model.last());
        assert_eq!(chunked.into_elements().collect::<Vec<_>>(), model);
    }

    #[test]
    fn chunks_are_never_larger_than_a_chunk_and_go_when_empty() {
        let mut chunked = ChunkedVec::new();
        for i in 0..10 * CHUNK {
            chunked.push(i as u64);
        }
        assert_eq!(chunked.capacity(), 10 * CHUNK);
        while chunked.len() > 10 {
            chunked.pop();
        }
        chunked.shrink_if_sparse();
        assert!(chunked.capacity() <= CHUNK, "{}", chunked.capacity());
        assert_eq!(chunked.swap_remove(10), None);
    }

    #[test]
    fn reserve_fills_the_first_chunk() {
        let mut chunked: ChunkedVec<u8> = ChunkedVec::new();
        chunked.reserve(3 * CHUNK + 1);
        assert_eq!(chunked.capacity(), CHUNK);
        for i in 0..3 * CHUNK + 1 {
            chunked.push(i as u8);
        }
        assert_eq!(chunked.capacity(), 4 * CHUNK);
    }
}
