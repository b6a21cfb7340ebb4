//! The replication backlog: the last `repl-backlog-size` bytes of the
//! stream, so a replica that lost its link can continue from where it
//! stopped instead of taking a whole new snapshot.

use std::collections::VecDeque;

pub struct Backlog {
    bytes: VecDeque<u8>,
    size: usize,
    /// Stream offset of the oldest byte held (the stream's first byte is 1).
    first_offset: u64,
}

impl Backlog {
    /// An empty backlog whose first byte will have offset `next_offset`.
    pub fn new(size: usize, next_offset: u64) -> Self {
        Backlog {
            bytes: VecDeque::new(),
            size: size.max(1),
            first_offset: next_offset,
        }
    }

    pub fn append(&mut self, data: &[u8]) {
        // Bytes that would not fit even alone are skipped, not stored.
        let skipped = data.len().saturating_sub(self.size);
        let data = &data[skipped..];
        self.first_offset += skipped as u64;
        let overflow = (self.bytes.len() + data.len()).saturating_sub(self.size);
        if overflow > 0 {
            self.bytes.drain(..overflow);
            self.first_offset += overflow as u64;
        }
        self.bytes.extend(data);
    }

    /// `repl-backlog-size` changed: the oldest bytes go if it shrank.
    pub fn resize(&mut self, size: usize) {
        self.size = size.max(1);
        let overflow = self.bytes.len().saturating_sub(self.size);
        if overflow > 0 {
            self.bytes.drain(..overflow);
            self.first_offset += overflow as u64;
            self.bytes.shrink_to_fit();
        }
    }

    /// The stream turned out to start `by` bytes later than thought.
    pub fn rebase(&mut self, by: u64) {
        self.first_offset += by;
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Bytes held (`repl_backlog_histlen`).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn first_offset(&self) -> u64 {
        self.first_offset
    }

    /// Whether the stream from `offset` on is all here (an offset just past
    /// the end is: there is nothing to send).
    pub fn covers(&self, offset: u64) -> bool {
        offset >= self.first_offset && offset <= self.first_offset + self.bytes.len() as u64
    }

    /// The bytes from `offset` to the end; empty if not covered.
    pub fn since(&self, offset: u64) -> Vec<u8> {
        if !self.covers(offset) {
            return Vec::new();
        }
        let skip = (offset - self.first_offset) as usize;
        self.bytes.range(skip..).copied().collect()
    }

    /// The last `n` bytes of the stream (fewer if it holds fewer).
    pub fn latest(&self, n: usize) -> Vec<u8> {
        let skip = self.bytes.len().saturating_sub(n);
        self.bytes.range(skip..).copied().collect()
    }

    /// Memory held, for INFO's `mem_replication_backlog`.
    pub fn memory(&self) -> usize {
        self.bytes.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_bytes_and_their_offsets() {
        let mut b = Backlog::new(8, 1);
        b.append(b"abcde");
        assert_eq!((b.first_offset(), b.len()), (1, 5));
        assert_eq!(b.since(3), b"cde");
        b.append(b"fghij");
        assert_eq!((b.first_offset(), b.len()), (3, 8));
        assert!(!b.covers(2));
        assert!(b.covers(11));
        assert!(!b.covers(12));
        assert_eq!(b.since(3), b"cdefghij");
        assert_eq!(b.since(11), b"");
        b.append(b"0123456789ABC");
        assert_eq!((b.first_offset(), b.since(16)), (16, b"56789ABC".to_vec()));
    }

    #[test]
    fn shrinking_drops_the_oldest() {
        let mut b = Backlog::new(8, 101);
        b.append(b"abcdefgh");
        b.resize(3);
        assert_eq!((b.first_offset(), b.since(106)), (106, b"fgh".to_vec()));
    }
}
