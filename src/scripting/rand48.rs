//! The PRNG behind `math.random` in scripts: the 48-bit linear
//! congruential generator of POSIX `lrand48`, as Redis 7.0 uses it. Its
//! state carries over from script to script (seeded once at start);
//! `math.randomseed(n)` gives the same sequence as in Redis.

use std::cell::Cell;

const A: u64 = 0x5_DEEC_E66D;
const C: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;

/// `srand48`: the seed's 32 bits above 0x330E.
pub fn seed(state: &Cell<u64>, seed: i32) {
    state.set(((u64::from(seed as u32)) << 16) | 0x330E);
}

/// `lrand48`: the next value, 31 bits.
pub fn next(state: &Cell<u64>) -> i64 {
    let x = (A.wrapping_mul(state.get()).wrapping_add(C)) & MASK;
    state.set(x);
    (x >> 17) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_posix_lrand48() {
        // glibc: srand48(0); lrand48() x3.
        let state = Cell::new(0);
        seed(&state, 0);
        assert_eq!(
            [next(&state), next(&state), next(&state)],
            [366850414, 1610402240, 206956554]
        );
    }
}
