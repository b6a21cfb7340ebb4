//! `CompactBytes`: a binary-safe byte string that keeps up to 22 bytes
//! inline, so the small keys and values that dominate real keyspaces cost
//! no heap allocation at all (a `Box<[u8]>` would cost 16 bytes plus a
//! 32-byte malloc chunk each).

use std::fmt;
use std::ops::Deref;

const INLINE: usize = 22;

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CompactBytes {
    Inline(u8, [u8; INLINE]),
    Heap(Box<[u8]>),
}

impl CompactBytes {
    pub fn new(bytes: &[u8]) -> Self {
        if bytes.len() <= INLINE {
            let mut data = [0u8; INLINE];
            data[..bytes.len()].copy_from_slice(bytes);
            CompactBytes::Inline(bytes.len() as u8, data)
        } else {
            CompactBytes::Heap(bytes.into())
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match self {
            CompactBytes::Inline(len, data) => &data[..usize::from(*len)],
            CompactBytes::Heap(bytes) => bytes,
        }
    }

    /// Heap bytes owned beyond the struct itself (for MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            CompactBytes::Inline(..) => 0,
            CompactBytes::Heap(bytes) => bytes.len(),
        }
    }
}

impl Deref for CompactBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for CompactBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl From<Vec<u8>> for CompactBytes {
    fn from(bytes: Vec<u8>) -> Self {
        if bytes.len() <= INLINE {
            CompactBytes::new(&bytes)
        } else {
            CompactBytes::Heap(bytes.into_boxed_slice())
        }
    }
}

impl fmt::Debug for CompactBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

#[cfg(test)]
mod tests {
    use super::CompactBytes;

    #[test]
    fn small_is_inline_and_big_is_heap() {
        assert_eq!(std::mem::size_of::<CompactBytes>(), 24);
        let small = CompactBytes::new(b"key:000000012345");
        assert!(matches!(small, CompactBytes::Inline(..)));
        assert_eq!(&*small, b"key:000000012345");
        let big = CompactBytes::new(&[7u8; 100]);
        assert!(matches!(big, CompactBytes::Heap(_)));
        assert_eq!(big.len(), 100);
        assert_eq!(&*CompactBytes::from(b"".to_vec()), b"");
    }
}
