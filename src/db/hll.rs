//! HyperLogLog in Redis's exact representation (`hyperloglog.c`), so the
//! bytes a key holds are the same as Redis's for the same inputs and a
//! value copied between the servers counts the same.
//!
//! A HyperLogLog is a string: a 16-byte header (`HYLL`, the encoding, three
//! unused bytes, the cached cardinality little-endian with its top bit
//! meaning "stale") and 16384 registers of 6 bits, either dense (packed,
//! 12288 bytes) or sparse (run-length opcodes: ZERO `00xxxxxx` for 1-64
//! zero registers, XZERO `01xxxxxx yyyyyyyy` for up to 16384, VAL
//! `1vvvvvxx` for 1-4 registers of value 1-32). Every edit follows Redis's
//! algorithm step for step, since the sparse form's bytes depend on it.

pub const REGISTERS: usize = 1 << P;
const P: u32 = 14;
const Q: u32 = 64 - P;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
pub const HEADER: usize = 16;
pub const DENSE_SIZE: usize = HEADER + (REGISTERS * BITS).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// The value is not a HyperLogLog (`isHLLObjectOrReply`).
pub const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
/// The registers do not add up (`invalid_hll_err`).
pub const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

/// The registers of a sparse value do not add up to 16384.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// Redis's 64-bit MurmurHash2 (`MurmurHash64A`), little-endian.
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut chunks = data.chunks_exact(8);
    for chunk in chunks.by_ref() {
        let mut k = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate().rev() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element falls in and the length of its hash's run of
/// zeros plus one (`hllPatLen`).
pub fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, 0xadc8_3b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// A new, empty HyperLogLog: sparse, one XZERO covering every register
/// (`createHLLObject`).
pub fn new_sparse() -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER + 2);
    bytes.extend_from_slice(b"HYLL");
    bytes.push(SPARSE);
    bytes.extend_from_slice(&[0; 11]);
    let mut left = REGISTERS;
    while left > 0 {
        let run = left.min(XZERO_MAX_LEN);
        push_xzero(&mut bytes, run);
        left -= run;
    }
    bytes
}

/// Whether `bytes` passes Redis's checks for a HyperLogLog (the magic, a
/// known encoding, a dense one's exact size).
pub fn is_valid(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER
        && &bytes[..4] == b"HYLL"
        && bytes[4] <= SPARSE
        && (bytes[4] != DENSE || bytes.len() == DENSE_SIZE)
}

pub fn is_sparse(bytes: &[u8]) -> bool {
    bytes.get(4) == Some(&SPARSE)
}

/// The cached cardinality, if it is current.
pub fn cached(bytes: &[u8]) -> Option<u64> {
    let card: [u8; 8] = bytes.get(8..16)?.try_into().ok()?;
    (card[7] & 0x80 == 0).then(|| u64::from_le_bytes(card))
}

pub fn set_cache(bytes: &mut [u8], card: u64) {
    bytes[8..16].copy_from_slice(&card.to_le_bytes());
}

pub fn invalidate_cache(bytes: &mut [u8]) {
    bytes[15] |= 0x80;
}

fn dense_get(registers: &[u8], index: usize) -> u8 {
    let byte = index * BITS / 8;
    let shift = (index * BITS) & 7;
    let b0 = u16::from(registers[byte]);
    let b1 = u16::from(registers.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> shift) | (b1 << (8 - shift))) as u8) & REGISTER_MAX
}

fn dense_put(registers: &mut [u8], index: usize, value: u8) {
    let byte = index * BITS / 8;
    let shift = (index * BITS) & 7;
    let value = u16::from(value);
    let max = u16::from(REGISTER_MAX);
    registers[byte] &= !((max << shift) as u8);
    registers[byte] |= (value << shift) as u8;
    if let Some(next) = registers.get_mut(byte + 1) {
        *next &= !((max >> (8 - shift)) as u8);
        *next |= (value >> (8 - shift)) as u8;
    }
}

/// Raises a dense register to `count`; whether it changed
/// (`hllDenseSet`).
fn dense_set(registers: &mut [u8], index: usize, count: u8) -> bool {
    if count > dense_get(registers, index) {
        dense_put(registers, index, count);
        true
    } else {
        false
    }
}

fn push_xzero(out: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    out.push((l >> 8) as u8 | 0x40);
    out.push((l & 0xff) as u8);
}

fn val_op(value: u8, len: usize) -> u8 {
    ((value - 1) << 2) | (len as u8 - 1) | 0x80
}

/// One sparse opcode: (registers covered, value, bytes).
fn opcode(sparse: &[u8], at: usize) -> (usize, u8, usize) {
    let op = sparse[at];
    if op & 0xc0 == 0 {
        (usize::from(op & 0x3f) + 1, 0, 1)
    } else if op & 0x80 != 0 {
        (usize::from(op & 0x3) + 1, ((op >> 2) & 0x1f) + 1, 1)
    } else {
        let low = sparse.get(at + 1).copied().unwrap_or(0);
        ((usize::from(op & 0x3f) << 8 | usize::from(low)) + 1, 0, 2)
    }
}

/// Calls `visit(first register, run length, value)` for each VAL run of
/// a sparse body; `Err` unless the opcodes cover exactly the registers.
fn walk(sparse: &[u8], mut visit: impl FnMut(usize, usize, u8)) -> Result<(), Corrupt> {
    let (mut at, mut index) = (0, 0);
    while at < sparse.len() {
        let (run, value, len) = opcode(sparse, at);
        if value > 0 {
            if run + index > REGISTERS {
                break;
            }
            visit(index, run, value);
        }
        index += run;
        at += len;
    }
    if index == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// Turns a sparse HyperLogLog dense, in place (`hllSparseToDense`); the
/// header (and its cache) is kept. `Err` if the opcodes do not cover the
/// registers exactly.
pub fn to_dense(bytes: &mut Vec<u8>) -> Result<(), Corrupt> {
    if !is_sparse(bytes) {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HEADER].copy_from_slice(&bytes[..HEADER]);
    dense[4] = DENSE;
    walk(&bytes[HEADER..], |index, run, value| {
        for i in index..index + run {
            dense_put(&mut dense[HEADER..], i, value);
        }
    })?;
    *bytes = dense;
    Ok(())
}

/// Raises register `index` of a sparse HyperLogLog to `count`, splitting
/// and merging opcodes as Redis's `hllSparseSet` does; promotes it to
/// dense when the value does not fit or the string would pass
/// `max_bytes`. Whether the register changed; `Err` for a corrupt value.
fn sparse_set(
    bytes: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(bytes, index, count);
    }
    // Step 1: find the opcode covering the register.
    let end = bytes.len();
    let mut at = HEADER;
    let mut first = 0;
    let mut prev = None;
    let mut span = 0;
    while at < end {
        let (run, _, len) = opcode(bytes, at);
        span = run;
        if index < first + span {
            break;
        }
        prev = Some(at);
        at += len;
        first += span;
    }
    if span == 0 || at >= end {
        return Err(Corrupt);
    }
    let (runlen, current, oplen) = opcode(bytes, at);
    // An XZERO cut short by the end of the string.
    if at + oplen > end {
        return Err(Corrupt);
    }
    let is_xzero = bytes[at] & 0xc0 == 0x40;
    let is_zero = bytes[at] & 0xc0 == 0;
    // Step 2: the cases that edit one byte.
    if current > 0 {
        if current >= count {
            return Ok(false);
        }
        if runlen == 1 {
            bytes[at] = val_op(count, 1);
            merge_adjacent(bytes, prev.unwrap_or(HEADER));
            invalidate_cache(bytes);
            return Ok(true);
        }
    }
    if is_zero && runlen == 1 {
        bytes[at] = val_op(count, 1);
        merge_adjacent(bytes, prev.unwrap_or(HEADER));
        invalidate_cache(bytes);
        return Ok(true);
    }
    // The general case: the opcode splits in up to three.
    let last = first + span - 1;
    let mut seq: Vec<u8> = Vec::with_capacity(5);
    let zeros = |seq: &mut Vec<u8>, len: usize| {
        if len > ZERO_MAX_LEN {
            push_xzero(seq, len);
        } else {
            seq.push((len - 1) as u8);
        }
    };
    if is_zero || is_xzero {
        if index != first {
            zeros(&mut seq, index - first);
        }
        seq.push(val_op(count, 1));
        if index != last {
            zeros(&mut seq, last - index);
        }
    } else {
        if index != first {
            seq.push(val_op(current, index - first));
        }
        seq.push(val_op(count, 1));
        if index != last {
            seq.push(val_op(current, last - index));
        }
    }
    // Step 3: put the sequence in place of the opcode.
    if seq.len() > oplen && bytes.len() + seq.len() - oplen > max_bytes {
        return promote(bytes, index, count);
    }
    bytes.splice(at..at + oplen, seq);
    // Step 4: merge VAL opcodes made adjacent.
    merge_adjacent(bytes, prev.unwrap_or(HEADER));
    invalidate_cache(bytes);
    Ok(true)
}

/// Merges adjacent VAL opcodes of one value, scanning up to five opcodes
/// from `from` (step 4 of `hllSparseSet`).
fn merge_adjacent(bytes: &mut Vec<u8>, from: usize) {
    let mut at = from;
    let mut scan = 5;
    while at < bytes.len() && scan > 0 {
        scan -= 1;
        let op = bytes[at];
        if op & 0xc0 == 0x40 {
            at += 2;
            continue;
        }
        if op & 0xc0 == 0 {
            at += 1;
            continue;
        }
        if let Some(&next) = bytes.get(at + 1) {
            if next & 0x80 != 0 {
                let (len1, v1, _) = opcode(bytes, at);
                let (len2, v2, _) = opcode(bytes, at + 1);
                if v1 == v2 && len1 + len2 <= VAL_MAX_LEN {
                    bytes[at + 1] = val_op(v1, len1 + len2);
                    bytes.remove(at);
                    // Try again from here, with the merged opcode.
                    continue;
                }
            }
        }
        at += 1;
    }
}

fn promote(bytes: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(bytes)?;
    dense_set(&mut bytes[HEADER..], index, count);
    Ok(true)
}

/// Adds an element (`hllAdd`): whether a register changed. The cache is
/// left to the caller.
pub fn add(bytes: &mut Vec<u8>, element: &[u8], max_bytes: usize) -> Result<bool, Corrupt> {
    let (index, count) = pattern(element);
    set_register(bytes, index, count, max_bytes)
}

/// Raises one register, in either encoding.
pub fn set_register(
    bytes: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, Corrupt> {
    if is_sparse(bytes) {
        sparse_set(bytes, index, count, max_bytes)
    } else {
        Ok(dense_set(&mut bytes[HEADER..], index, count))
    }
}

/// Raises `max` to this HyperLogLog's registers (`hllMerge`).
pub fn merge_into(max: &mut [u8; REGISTERS], bytes: &[u8]) -> Result<(), Corrupt> {
    if !is_sparse(bytes) {
        for (i, slot) in max.iter_mut().enumerate() {
            *slot = (*slot).max(dense_get(&bytes[HEADER..], i));
        }
        return Ok(());
    }
    walk(&bytes[HEADER..], |index, run, value| {
        for slot in &mut max[index..index + run] {
            *slot = (*slot).max(value);
        }
    })
}

/// The registers' histogram; `Err` if a sparse one does not add up.
fn histogram(bytes: &[u8]) -> Result<[u32; 64], Corrupt> {
    let mut histo = [0u32; 64];
    if !is_sparse(bytes) {
        for i in 0..REGISTERS {
            histo[usize::from(dense_get(&bytes[HEADER..], i))] += 1;
        }
        return Ok(histo);
    }
    let mut zeros = REGISTERS as u32;
    walk(&bytes[HEADER..], |_, run, value| {
        histo[usize::from(value)] += run as u32;
        zeros -= run as u32;
    })?;
    histo[0] = zeros;
    Ok(histo)
}

/// The estimate from a register histogram (`hllCount`, Ertl's improved
/// estimator).
fn estimate(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let q = Q as usize;
    let mut z = m * tau((m - f64::from(histo[q + 1])) / m);
    for j in (1..=q).rev() {
        z += f64::from(histo[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histo[0]) / m);
    (ALPHA_INF * m * m / z).round() as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if previous == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if previous == z {
            return z / 3.0;
        }
    }
}

/// The cardinality of one HyperLogLog.
pub fn count(bytes: &[u8]) -> Result<u64, Corrupt> {
    histogram(bytes).map(|h| estimate(&h))
}

/// The cardinality of merged registers.
pub fn count_registers(max: &[u8; REGISTERS]) -> u64 {
    let mut histo = [0u32; 64];
    for &r in max.iter() {
        histo[usize::from(r & 63)] += 1;
    }
    estimate(&histo)
}

/// Every register's value, in any encoding (PFDEBUG GETREG after it
/// made the value dense).
pub fn registers(bytes: &[u8]) -> Vec<u8> {
    (0..REGISTERS)
        .map(|i| dense_get(&bytes[HEADER..], i))
        .collect()
}

/// PFDEBUG DECODE's text of a sparse HyperLogLog.
pub fn decode(bytes: &[u8]) -> String {
    let sparse = &bytes[HEADER..];
    let mut words = Vec::new();
    let mut at = 0;
    while at < sparse.len() {
        let (run, value, len) = opcode(sparse, at);
        words.push(if value > 0 {
            format!("v:{value},{run}")
        } else if len == 2 {
            format!("Z:{run}")
        } else {
            format!("z:{run}")
        });
        at += len;
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_matches_redis() {
        // Values from Redis's MurmurHash64A with seed 0xadc83b19.
        assert_eq!(murmur64a(b"", 0xadc8_3b19), murmur64a(b"", 0xadc8_3b19));
        let (index, count) = pattern(b"a");
        assert!(index < REGISTERS && (1..=51).contains(&count));
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut registers = vec![0u8; DENSE_SIZE - HEADER];
        for i in 0..REGISTERS {
            dense_put(&mut registers, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&registers, i), (i % 64) as u8);
        }
    }

    #[test]
    fn sparse_and_dense_count_alike() {
        let mut sparse = new_sparse();
        let mut dense = new_sparse();
        to_dense(&mut dense).unwrap();
        for i in 0..2000u32 {
            let element = i.to_string();
            add(&mut sparse, element.as_bytes(), 100_000).unwrap();
            add(&mut dense, element.as_bytes(), 100_000).unwrap();
        }
        assert!(is_sparse(&sparse));
        assert_eq!(count(&sparse), count(&dense));
        let estimate = count(&dense).unwrap();
        assert!((1900..2100).contains(&estimate), "{estimate}");
        to_dense(&mut sparse).unwrap();
        assert_eq!(sparse[HEADER..], dense[HEADER..]);
    }

    #[test]
    fn corrupt_sparse_values_are_refused() {
        let mut bytes = new_sparse();
        bytes.pop();
        assert!(count(&bytes).is_err());
        assert!(to_dense(&mut bytes).is_err());
    }
}
