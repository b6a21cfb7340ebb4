//! The compact blobs Redis stores small collections in, as they appear
//! inside RDB files: listpacks (Redis 7), and the older ziplists, zipmaps
//! and intsets that earlier versions wrote and Redis 7.0 still loads.
//!
//! Encoders produce the exact bytes Redis's `listpack.c` and `intset.c`
//! produce for the same elements, so DUMP payloads match Redis's. Decoders
//! check every length against the blob: a corrupt file gives an error,
//! never a panic or a read past the end.

use crate::protocol::parse_i64;

/// A blob that does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt(pub &'static str);

/// One element of a listpack or ziplist: Redis stores integer-looking
/// strings as integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    Int(i64),
    Bytes(Vec<u8>),
}

impl Element {
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Element::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
            Element::Bytes(b) => b,
        }
    }
}

const LP_HEADER: usize = 6;
const LP_EOF: u8 = 0xFF;

/// Builds a listpack as `listpack.c`'s `lpAppend` does.
pub struct ListpackWriter {
    buf: Vec<u8>,
    count: usize,
}

impl Default for ListpackWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ListpackWriter {
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; LP_HEADER]);
        ListpackWriter { buf, count: 0 }
    }

    /// Bytes the listpack would have with its terminator.
    pub fn size(&self) -> usize {
        self.buf.len() + 1
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// Appends an element, stored as an integer when it is one
    /// (`lpEncodeGetType`).
    pub fn push(&mut self, element: &[u8]) {
        let start = self.buf.len();
        match parse_i64(element) {
            Some(n) => encode_lp_int(&mut self.buf, n),
            None => encode_lp_str(&mut self.buf, element),
        }
        let len = self.buf.len() - start;
        push_backlen(&mut self.buf, len);
        self.count += 1;
    }

    /// Appends an integer element.
    pub fn push_int(&mut self, n: i64) {
        let start = self.buf.len();
        encode_lp_int(&mut self.buf, n);
        let len = self.buf.len() - start;
        push_backlen(&mut self.buf, len);
        self.count += 1;
    }

    /// The finished blob: header with total size and count, then EOF.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(LP_EOF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(u16::MAX as usize) as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// Bytes an element takes in a listpack, with its back-length.
pub fn lp_element_size(element: &[u8]) -> usize {
    let mut out = Vec::with_capacity(element.len() + 5);
    match parse_i64(element) {
        Some(n) => encode_lp_int(&mut out, n),
        None => encode_lp_str(&mut out, element),
    }
    out.len() + backlen_size(out.len())
}

/// Bytes an integer takes in a listpack, with its back-length.
pub fn lp_int_size(n: i64) -> usize {
    let mut out = Vec::with_capacity(9);
    encode_lp_int(&mut out, n);
    out.len() + backlen_size(out.len())
}

fn encode_lp_int(out: &mut Vec<u8>, n: i64) {
    if (0..=127).contains(&n) {
        out.push(n as u8);
    } else if (-4096..=4095).contains(&n) {
        let v = (n as u64) & 0x1FFF;
        out.push(0xC0 | (v >> 8) as u8);
        out.push(v as u8);
    } else if (-32768..=32767).contains(&n) {
        out.push(0xF1);
        out.extend_from_slice(&(n as i16).to_le_bytes());
    } else if (-8_388_608..=8_388_607).contains(&n) {
        out.push(0xF2);
        out.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
    } else if i32::try_from(n).is_ok() {
        out.push(0xF3);
        out.extend_from_slice(&(n as i32).to_le_bytes());
    } else {
        out.push(0xF4);
        out.extend_from_slice(&n.to_le_bytes());
    }
}

fn encode_lp_str(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 64 {
        out.push(0x80 | len as u8);
    } else if len < 4096 {
        out.push(0xE0 | (len >> 8) as u8);
        out.push(len as u8);
    } else {
        out.push(0xF0);
        out.extend_from_slice(&(len as u32).to_le_bytes());
    }
    out.extend_from_slice(s);
}

/// The entry length written after each entry, read right to left: seven
/// bits a byte, the high bit set on every byte but the first
/// (`lpEncodeBacklen`).
fn push_backlen(out: &mut Vec<u8>, len: usize) {
    let len = len as u64;
    let bytes = match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    for i in (0..bytes).rev() {
        let chunk = ((len >> (7 * i)) & 127) as u8;
        out.push(if i == bytes - 1 { chunk } else { chunk | 128 });
    }
}

fn backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// A bounds-checked cursor over a blob.
struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Corrupt> {
        let end = self.at.checked_add(n).ok_or(Corrupt("length overflow"))?;
        let bytes = self
            .data
            .get(self.at..end)
            .ok_or(Corrupt("entry past the end"))?;
        self.at = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, Corrupt> {
        Ok(self.take(1)?[0])
    }

    fn le(&mut self, n: usize) -> Result<u64, Corrupt> {
        let bytes = self.take(n)?;
        Ok(bytes
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }
}

/// Sign-extends the low `bits` of `v`.
fn signed(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Decodes every element of a listpack, checked as Redis's deep
/// `lpValidateIntegrity` checks it: the header's size and count, the
/// terminator, and each entry's back-length.
pub fn decode_listpack(blob: &[u8]) -> Result<Vec<Element>, Corrupt> {
    decode_listpack_counted(blob, true)
}

/// A stream node's listpack: Redis checks its entries one by one but not
/// the element count in its header (`streamValidateListpackIntegrity`).
pub fn decode_stream_listpack(blob: &[u8]) -> Result<Vec<Element>, Corrupt> {
    decode_listpack_counted(blob, false)
}

fn decode_listpack_counted(blob: &[u8], check_count: bool) -> Result<Vec<Element>, Corrupt> {
    let mut c = Cursor { data: blob, at: 0 };
    let total = c.le(4)? as usize;
    if total != blob.len() || blob.len() < 7 || blob.last() != Some(&LP_EOF) {
        return Err(Corrupt("listpack size mismatch"));
    }
    let declared = c.le(2)? as usize;
    let mut out = Vec::with_capacity(declared.min(4096));
    loop {
        let start = c.at;
        let first = c.byte()?;
        let element = match first {
            LP_EOF => break,
            0x00..=0x7F => Element::Int(i64::from(first)),
            0x80..=0xBF => Element::Bytes(c.take(usize::from(first & 0x3F))?.to_vec()),
            0xC0..=0xDF => {
                let v = (u64::from(first & 0x1F) << 8) | u64::from(c.byte()?);
                Element::Int(signed(v, 13))
            }
            0xE0..=0xEF => {
                let len = (usize::from(first & 0x0F) << 8) | usize::from(c.byte()?);
                Element::Bytes(c.take(len)?.to_vec())
            }
            0xF0 => {
                let len = c.le(4)? as usize;
                Element::Bytes(c.take(len)?.to_vec())
            }
            0xF1 => Element::Int(signed(c.le(2)?, 16)),
            0xF2 => Element::Int(signed(c.le(3)?, 24)),
            0xF3 => Element::Int(signed(c.le(4)?, 32)),
            0xF4 => Element::Int(c.le(8)? as i64),
            _ => return Err(Corrupt("bad listpack encoding")),
        };
        let len = c.at - start;
        if decode_backlen(c.take(backlen_size(len))?) != len as u64 {
            return Err(Corrupt("listpack back-length mismatch"));
        }
        out.push(element);
    }
    if c.at != blob.len() {
        return Err(Corrupt("bytes after listpack end"));
    }
    if check_count && declared != u16::MAX as usize && declared != out.len() {
        return Err(Corrupt("listpack count mismatch"));
    }
    Ok(out)
}

/// The entry length a listpack back-length field holds: seven bits per
/// byte, the last byte first (`lpDecodeBacklen`, read forwards).
fn decode_backlen(field: &[u8]) -> u64 {
    field
        .iter()
        .fold(0u64, |acc, &b| (acc << 7) | u64::from(b & 0x7F))
}

/// Decodes every element of a ziplist (Redis before 7.0), checked as
/// Redis's deep `ziplistValidateIntegrity` checks it: the header's size,
/// tail offset and count, the terminator, and each entry's record of the
/// previous entry's size.
pub fn decode_ziplist(blob: &[u8]) -> Result<Vec<Element>, Corrupt> {
    let mut c = Cursor { data: blob, at: 0 };
    let total = c.le(4)? as usize;
    if total != blob.len() || blob.len() < 11 || blob.last() != Some(&0xFF) {
        return Err(Corrupt("ziplist size mismatch"));
    }
    let tail = c.le(4)? as usize;
    if tail > blob.len() - 1 {
        return Err(Corrupt("ziplist tail past the end"));
    }
    let declared = c.le(2)? as usize;
    let mut out = Vec::with_capacity(declared.min(4096));
    let (mut last_start, mut last_size) = (None, 0usize);
    loop {
        let start = c.at;
        let prevlen = match c.byte()? {
            0xFF => break,
            0xFE => c.le(4)? as usize,
            n => usize::from(n),
        };
        if prevlen != last_size {
            return Err(Corrupt("ziplist previous-entry length mismatch"));
        }
        let enc = c.byte()?;
        let element = match enc >> 6 {
            0 => Element::Bytes(c.take(usize::from(enc & 0x3F))?.to_vec()),
            1 => {
                let len = (usize::from(enc & 0x3F) << 8) | usize::from(c.byte()?);
                Element::Bytes(c.take(len)?.to_vec())
            }
            2 => {
                let b = c.take(4)?;
                let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
                Element::Bytes(c.take(len)?.to_vec())
            }
            _ => match enc {
                0xC0 => Element::Int(signed(c.le(2)?, 16)),
                0xD0 => Element::Int(signed(c.le(4)?, 32)),
                0xE0 => Element::Int(c.le(8)? as i64),
                0xF0 => Element::Int(signed(c.le(3)?, 24)),
                0xFE => Element::Int(signed(c.le(1)?, 8)),
                0xF1..=0xFD => Element::Int(i64::from(enc & 0x0F) - 1),
                _ => return Err(Corrupt("bad ziplist encoding")),
            },
        };
        // An entry may not run into the terminator.
        if c.at >= blob.len() {
            return Err(Corrupt("entry past the end"));
        }
        (last_start, last_size) = (Some(start), c.at - start);
        out.push(element);
    }
    if c.at != blob.len() {
        return Err(Corrupt("bytes after ziplist end"));
    }
    if last_start.is_some_and(|start| start != tail) {
        return Err(Corrupt("ziplist tail offset mismatch"));
    }
    if declared != u16::MAX as usize && declared != out.len() {
        return Err(Corrupt("ziplist count mismatch"));
    }
    Ok(out)
}

/// The elements of a hash or sorted set blob taken two by two, or None
/// for an odd count (`lpPairsValidateIntegrityAndDups`).
pub fn pairs(elements: Vec<Element>) -> Option<Vec<(Element, Element)>> {
    if !elements.len().is_multiple_of(2) {
        return None;
    }
    let mut iter = elements.into_iter();
    let mut out = Vec::with_capacity(iter.len() / 2);
    while let (Some(first), Some(second)) = (iter.next(), iter.next()) {
        out.push((first, second));
    }
    Some(out)
}

/// A sorted set score stored as text in a listpack, read as Redis reads
/// it (`zzlStrtod`): strtod over at most 127 bytes, so text that is not a
/// number reads as its numeric prefix, or 0.
pub fn listpack_score(text: &[u8]) -> f64 {
    let mut buf = [0u8; 128];
    let len = text.len().min(buf.len() - 1);
    buf[..len].copy_from_slice(&text[..len]);
    // SAFETY: `buf` is NUL-terminated (its last byte is never written),
    // and strtod reads no further than the NUL.
    unsafe { libc::strtod(buf.as_ptr().cast(), std::ptr::null_mut()) }
}

/// A hash's field/value pairs.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Decodes a zipmap (hashes of Redis before 2.6) into field/value pairs,
/// checked as `zipmapValidateIntegrity` checks it: not empty, its count
/// right unless saturated, and nothing after the terminator.
pub fn decode_zipmap(blob: &[u8]) -> Result<Pairs, Corrupt> {
    const BIGLEN: u8 = 254;
    let mut c = Cursor { data: blob, at: 0 };
    let count = c.byte()?;
    let mut pairs = Vec::new();
    let len = |c: &mut Cursor| -> Result<Option<usize>, Corrupt> {
        match c.byte()? {
            0xFF => Ok(None),
            BIGLEN => Ok(Some(c.le(4)? as usize)),
            n => Ok(Some(usize::from(n))),
        }
    };
    while let Some(field_len) = len(&mut c)? {
        let field = c.take(field_len)?.to_vec();
        let value_len = len(&mut c)?.ok_or(Corrupt("zipmap ends inside a pair"))?;
        let free = usize::from(c.byte()?);
        let value = c.take(value_len)?.to_vec();
        c.take(free)?;
        pairs.push((field, value));
    }
    if c.at != blob.len() || pairs.is_empty() {
        return Err(Corrupt("zipmap size mismatch"));
    }
    if count != BIGLEN && usize::from(count) != pairs.len() {
        return Err(Corrupt("zipmap count mismatch"));
    }
    Ok(pairs)
}

/// Encodes sorted integers as an intset: the narrowest width that holds
/// them all (`intset.c`).
pub fn encode_intset(sorted: &[i64]) -> Vec<u8> {
    let width: usize = if sorted.iter().all(|&n| i16::try_from(n).is_ok()) {
        2
    } else if sorted.iter().all(|&n| i32::try_from(n).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * sorted.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
    for &n in sorted {
        out.extend_from_slice(&n.to_le_bytes()[..width]);
    }
    out
}

/// Decodes an intset; its members must be strictly ascending.
pub fn decode_intset(blob: &[u8]) -> Result<Vec<i64>, Corrupt> {
    let mut c = Cursor { data: blob, at: 0 };
    let width = c.le(4)? as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err(Corrupt("bad intset encoding"));
    }
    let count = c.le(4)? as usize;
    if count == 0 || count.checked_mul(width) != Some(blob.len() - 8) {
        return Err(Corrupt("intset size mismatch"));
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let n = signed(c.le(width)?, (width * 8) as u32);
        if out.last().is_some_and(|&last| last >= n) {
            return Err(Corrupt("intset not sorted"));
        }
        out.push(n);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_round_trips_every_encoding() {
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let items: Vec<Vec<u8>> = vec![
            b"0".to_vec(),
            b"127".to_vec(),
            b"128".to_vec(),
            b"-4096".to_vec(),
            b"4095".to_vec(),
            b"-32768".to_vec(),
            b"32767".to_vec(),
            b"8388607".to_vec(),
            b"-8388608".to_vec(),
            b"2147483647".to_vec(),
            b"-9223372036854775808".to_vec(),
            b"".to_vec(),
            b"hello".to_vec(),
            b"007".to_vec(),
            mid,
            long,
        ];
        let mut w = ListpackWriter::new();
        for item in &items {
            w.push(item);
        }
        let blob = w.finish();
        let back: Vec<Vec<u8>> = decode_listpack(&blob)
            .unwrap()
            .into_iter()
            .map(Element::into_bytes)
            .collect();
        assert_eq!(back, items);
    }

    #[test]
    fn listpack_bytes_match_redis() {
        // DUMP of a hash {a: 1} in redis-server 7.0: a listpack of "a", 1.
        let mut w = ListpackWriter::new();
        w.push(b"a");
        w.push(b"1");
        assert_eq!(
            w.finish(),
            [0x0c, 0, 0, 0, 2, 0, 0x81, b'a', 2, 0x01, 1, 0xff]
        );
    }

    #[test]
    fn corrupt_blobs_are_errors() {
        assert!(decode_listpack(&[]).is_err());
        assert!(decode_listpack(&[7, 0, 0, 0, 1, 0, 0xff]).is_err());
        assert!(decode_listpack(&[8, 0, 0, 0, 1, 0, 0x85, 0xff]).is_err());
        assert!(decode_ziplist(&[11, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0xfe]).is_err());
        assert!(decode_intset(&[3, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode_intset(&[2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 1, 0]).is_err());
        assert!(decode_zipmap(&[1, 3, b'a']).is_err());
    }

    #[test]
    fn intset_picks_the_narrowest_width() {
        assert_eq!(encode_intset(&[1, 2])[0], 2);
        assert_eq!(encode_intset(&[1, 70000])[0], 4);
        assert_eq!(encode_intset(&[-1, 1 << 40])[0], 8);
        let blob = encode_intset(&[-5, 3, 1 << 40]);
        assert_eq!(decode_intset(&blob).unwrap(), vec![-5, 3, 1 << 40]);
    }
}
