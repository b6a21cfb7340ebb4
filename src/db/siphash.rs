//! Keyed SipHash-1-2 over a byte string, the hash of Redis's dicts.
//!
//! Clients choose the keys, so tables must not be open to hash flooding:
//! the hash is keyed with 128 random bits per table. std's `RandomState`
//! gives SipHash-1-3 through the streaming `Hasher` interface, which for a
//! short key costs about three times this one-shot function (the length
//! prefix `Hash for [u8]` adds, the tail buffering, one more final
//! round); Redis made the same trade of one round for speed.

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};

/// A table's secret key.
#[derive(Clone, Copy, Debug)]
pub struct SipKey {
    k0: u64,
    k1: u64,
}

impl SipKey {
    /// A key no client can predict, different for each table: the
    /// thread's first is drawn from the OS's randomness (through std's
    /// `RandomState`), the next ones count up from it, as `RandomState`
    /// does.
    pub fn random() -> Self {
        thread_local! {
            static NEXT: Cell<Option<SipKey>> = const { Cell::new(None) };
        }
        NEXT.with(|next| {
            let key = next.get().unwrap_or_else(|| {
                let state = RandomState::new();
                SipKey {
                    k0: state.hash_one(0u8),
                    k1: state.hash_one(1u8),
                }
            });
            next.set(Some(SipKey {
                k0: key.k0.wrapping_add(1),
                ..key
            }));
            key
        })
    }

    pub fn hash(&self, bytes: &[u8]) -> u64 {
        siphash::<1, 2>(self.k0, self.k1, bytes)
    }
}

/// SipHash-c-d of `bytes` under the key (`k0`, `k1`).
fn siphash<const C: usize, const D: usize>(k0: u64, k1: u64, bytes: &[u8]) -> u64 {
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let compress = |v: &mut [u64; 4], m: u64| {
        v[3] ^= m;
        for _ in 0..C {
            sip_round(v);
        }
        v[0] ^= m;
    };
    let mut blocks = bytes.chunks_exact(8);
    for block in &mut blocks {
        let word: [u8; 8] = block.try_into().unwrap_or_default();
        compress(&mut v, u64::from_le_bytes(word));
    }
    // The last 0-7 bytes, little-endian, under the length's low byte.
    let tail = tail_word(bytes, blocks.remainder().len());
    compress(&mut v, tail | (bytes.len() as u64) << 56);
    v[2] ^= 0xff;
    for _ in 0..D {
        sip_round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// The last `rem` (0-7) bytes of `bytes` as a little-endian word, read
/// with at most two fixed-size loads (overlapping ones put a byte twice
/// at the same place, which OR keeps): no byte loop, no memcpy call.
#[inline(always)]
fn tail_word(bytes: &[u8], rem: usize) -> u64 {
    let len = bytes.len();
    let le = |at: usize, width: usize| -> u64 {
        let mut word = [0u8; 8];
        if let (Some(from), Some(to)) = (bytes.get(at..at + width), word.get_mut(..width)) {
            to.copy_from_slice(from);
        }
        u64::from_le_bytes(word)
    };
    match rem {
        0 => 0,
        // A whole last word, shifted down to the tail.
        _ if len >= 8 => le(len - 8, 8) >> (8 * (8 - rem)),
        4..=7 => le(0, 4) | le(len - 4, 4) << (8 * (rem - 4)),
        2..=3 => le(0, 2) | le(len - 2, 2) << (8 * (rem - 2)),
        _ => le(0, 1),
    }
}

#[inline(always)]
fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rounds are a parameter: with 2 and 4 the function must be the
    /// SipHash-2-4 of the paper, which std still ships.
    #[test]
    #[allow(deprecated)]
    fn with_two_and_four_rounds_it_is_siphash_2_4() {
        use std::hash::{Hasher, SipHasher};
        let (k0, k1) = (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908);
        // The paper's first vectors: key 00..0f, messages 00..(n-1).
        let message: Vec<u8> = (0..64).collect();
        assert_eq!(
            siphash::<2, 4>(k0, k1, &message[..0]),
            0x726f_db47_dd0e_0e31
        );
        assert_eq!(
            siphash::<2, 4>(k0, k1, &message[..1]),
            0x74f8_39c5_93dc_67fd
        );
        assert_eq!(
            siphash::<2, 4>(k0, k1, &message[..8]),
            0x93f5_f579_9a93_2462
        );
        for len in 0..message.len() {
            let mut reference = SipHasher::new_with_keys(k0, k1);
            reference.write(&message[..len]);
            assert_eq!(siphash::<2, 4>(k0, k1, &message[..len]), reference.finish());
        }
    }

    #[test]
    fn keys_differ_and_decide_the_hash() {
        let (a, b) = (SipKey::random(), SipKey::random());
        assert_ne!((a.k0, a.k1), (b.k0, b.k1));
        assert_eq!(a.hash(b"key:1"), a.hash(b"key:1"));
        assert_ne!(a.hash(b"key:1"), b.hash(b"key:1"));
        assert_ne!(a.hash(b"key:1"), a.hash(b"key:2"));
    }
}
