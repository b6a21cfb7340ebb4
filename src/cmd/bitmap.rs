//! SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO:
//! strings as arrays of bits (Redis's `bitops.c`). Bit 0 is the most
//! significant bit of the first byte. Writes edit the string in place, in
//! its raw form, growing it with zero bytes as far as the highest bit
//! written.

use super::{i64_arg, Ctx};
use crate::db::Value;
use crate::errors;
use crate::notify::{GENERIC, STRING};
use crate::protocol::request::Args;

const OFFSET_ERROR: &str = "ERR bit offset is not an integer or out of range";
const BIT_ERROR: &str = "ERR bit is not an integer or out of range";

/// A bit offset argument (`getBitOffsetFromArgument`): at least 0 and
/// within `proto-max-bulk-len` bytes. With `hash_bits`, `#n` means `n`
/// times that many bits (BITFIELD).
fn bit_offset(ctx: &mut Ctx, arg: &[u8], hash_bits: Option<u32>) -> Option<u64> {
    let (digits, multiplier) = match (arg.first(), hash_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], i64::from(bits)),
        _ => (arg, 1),
    };
    let offset = crate::protocol::parse_i64(digits).and_then(|n| n.checked_mul(multiplier));
    let limit = ctx.state.config.proto_max_bulk_len;
    match offset {
        Some(n) if n >= 0 && (ctx.state.replaying || ((n >> 3) as u64) < limit) => Some(n as u64),
        _ => {
            ctx.reply.error(OFFSET_ERROR);
            None
        }
    }
}

/// The string at `key` for writing bits up to `max_bit`, created or grown
/// with zero bytes (`lookupStringForBitCommand`), and whether it was;
/// `Err` for WRONGTYPE.
fn bits_for_write<'a>(
    keys: &'a mut super::Keys,
    key: &[u8],
    max_bit: u64,
) -> Result<(&'a mut Vec<u8>, bool), ()> {
    let needed = (max_bit >> 3) as usize + 1;
    let created = keys.write(key).is_none();
    if created {
        keys.db
            .set(key, Value::RawStr(Box::new(vec![0; needed])), false);
    }
    let value = keys.db.get_mut(key).ok_or(())?;
    let bytes = value.as_raw_mut().map_err(|_| ())?;
    let grew = created || bytes.len() < needed;
    if bytes.len() < needed {
        bytes.resize(needed, 0);
    }
    Ok((bytes, grew))
}

fn get_bit(bytes: &[u8], offset: u64) -> bool {
    let byte = (offset >> 3) as usize;
    bytes
        .get(byte)
        .is_some_and(|b| b & (0x80 >> (offset & 7)) != 0)
}

fn set_bit(bytes: &mut [u8], offset: u64, on: bool) {
    let byte = (offset >> 3) as usize;
    let mask = 0x80 >> (offset & 7);
    if let Some(b) = bytes.get_mut(byte) {
        if on {
            *b |= mask;
        } else {
            *b &= !mask;
        }
    }
}

/// `SETBIT key offset 0|1`: the bit's previous value.
pub(super) fn setbit(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let Some(offset) = bit_offset(ctx, args.get(2), None) else {
        return;
    };
    let on = match crate::protocol::parse_i64(args.get(3)) {
        Some(0) => false,
        Some(1) => true,
        _ => return ctx.reply.error(BIT_ERROR),
    };
    let changes = crate::db::Changes::begin();
    let (mut keys, reply) = ctx.keys();
    let Ok((bytes, grew)) = bits_for_write(&mut keys, key, offset) else {
        return reply.error(errors::WRONGTYPE);
    };
    let was = get_bit(bytes, offset);
    set_bit(bytes, offset, on);
    // Nothing changed: nothing to propagate, as in Redis.
    let changed = grew || was != on;
    changes.made(u64::from(changed));
    if changed {
        ctx.notify(STRING, "setbit", key);
    }
    ctx.reply.int(i64::from(was));
}

/// `GETBIT key offset`.
pub(super) fn getbit(ctx: &mut Ctx, args: Args) {
    let Some(offset) = bit_offset(ctx, args.get(2), None) else {
        return;
    };
    let (mut keys, reply) = ctx.keys();
    match keys.read_str(args.get(1)) {
        Err(_) => reply.error(errors::WRONGTYPE),
        Ok(bytes) => reply.int(i64::from(bytes.is_some_and(|b| get_bit(b, offset)))),
    }
}

/// Set bits in `bytes`, a word at a time (with the CPU's POPCNT when it
/// has one).
pub fn popcount(bytes: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU has POPCNT, checked just above.
            return unsafe { popcount_popcnt(bytes) };
        }
    }
    popcount_words(bytes)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn popcount_popcnt(bytes: &[u8]) -> u64 {
    popcount_words(bytes)
}

#[inline(always)]
fn popcount_words(bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    let mut count = 0u64;
    for word in words.by_ref() {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        count += u64::from(u64::from_ne_bytes(w).count_ones());
    }
    count
        + words
            .remainder()
            .iter()
            .map(|b| u64::from(b.count_ones()))
            .sum::<u64>()
}

/// The position of the first bit equal to `bit` in `bytes`
/// (`redisBitpos`): for a 0 not found, the bit just past the end; for a 1
/// not found, -1. Whole words that cannot hold it are skipped.
fn first_bit(bytes: &[u8], bit: bool) -> i64 {
    let skip: u8 = if bit { 0x00 } else { 0xff };
    let mut at = 0;
    for word in bytes.chunks_exact(8) {
        if word.iter().any(|&b| b != skip) {
            break;
        }
        at += 8;
    }
    for (i, &b) in bytes.iter().enumerate().skip(at) {
        if b != skip {
            let lead = if bit {
                b.leading_zeros()
            } else {
                b.leading_ones()
            };
            return i as i64 * 8 + i64::from(lead);
        }
    }
    if bit {
        -1
    } else {
        bytes.len() as i64 * 8
    }
}

/// A `start end` range over `len` bytes (or bits) made absolute and
/// clamped, as BITCOUNT and BITPOS do.
fn clamp(mut start: i64, mut end: i64, total: i64) -> (i64, i64) {
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    (start, end)
}

/// A bit range turned into bytes, with masks of the first and last bytes'
/// bits that fall outside it.
fn byte_span(start: i64, end: i64) -> (i64, i64, u8, u8) {
    let first_outside = !(0xffu16 >> (start & 7)) as u8;
    let last_outside = ((1u16 << (7 - (end & 7))) - 1) as u8;
    (start >> 3, end >> 3, first_outside, last_outside)
}

/// Whether a BIT|BYTE unit argument says BIT; `None` if it is neither.
fn unit_is_bit(arg: &[u8]) -> Option<bool> {
    if arg.eq_ignore_ascii_case(b"bit") {
        Some(true)
    } else if arg.eq_ignore_ascii_case(b"byte") {
        Some(false)
    } else {
        None
    }
}

/// `BITCOUNT key [start end [BYTE|BIT]]`.
pub(super) fn bitcount(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    let bytes = match keys.read_str(args.get(1)) {
        Err(_) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return reply.int(0),
        Ok(Some(bytes)) => bytes,
    };
    let (start, end, first_outside, last_outside) = match args.len() {
        2 => (0, bytes.len() as i64 - 1, 0, 0),
        4 | 5 => {
            let Some(start) = i64_arg(reply, args.get(2)) else {
                return;
            };
            let Some(end) = i64_arg(reply, args.get(3)) else {
                return;
            };
            if start < 0 && end < 0 && start > end {
                return reply.int(0);
            }
            let bit = if args.len() == 5 {
                match unit_is_bit(args.get(4)) {
                    Some(bit) => bit,
                    None => return reply.error(errors::SYNTAX),
                }
            } else {
                false
            };
            let total = bytes.len() as i64 * if bit { 8 } else { 1 };
            let (start, end) = clamp(start, end, total);
            if bit && start <= end {
                byte_span(start, end)
            } else {
                (start, end, 0, 0)
            }
        }
        _ => return reply.error(errors::SYNTAX),
    };
    if start > end {
        return reply.int(0);
    }
    let (start, end) = (start as usize, end as usize);
    let mut count = popcount(&bytes[start..=end]);
    count -= u64::from((bytes[start] & first_outside).count_ones());
    count -= u64::from((bytes[end] & last_outside).count_ones());
    reply.int(count as i64);
}

/// `BITPOS key bit [start [end [BYTE|BIT]]]`.
pub(super) fn bitpos(ctx: &mut Ctx, args: Args) {
    let bit = match crate::protocol::parse_i64(args.get(2)) {
        None => return ctx.reply.error(errors::NOT_INTEGER),
        Some(0) => false,
        Some(1) => true,
        Some(_) => return ctx.reply.error("ERR The bit argument must be 1 or 0."),
    };
    let (mut keys, reply) = ctx.keys();
    let bytes = match keys.read_str(args.get(1)) {
        Err(_) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return reply.int(if bit { -1 } else { 0 }),
        Ok(Some(bytes)) => bytes,
    };
    let mut end_given = false;
    let (start, end, first_outside, last_outside) = match args.len() {
        3 => (0, bytes.len() as i64 - 1, 0, 0),
        4..=6 => {
            let Some(start) = i64_arg(reply, args.get(3)) else {
                return;
            };
            let unit_bit = if args.len() == 6 {
                match unit_is_bit(args.get(5)) {
                    Some(unit_bit) => unit_bit,
                    None => return reply.error(errors::SYNTAX),
                }
            } else {
                false
            };
            let len = bytes.len() as i64;
            let end = if args.len() >= 5 {
                end_given = true;
                match i64_arg(reply, args.get(4)) {
                    Some(end) => end,
                    None => return,
                }
            } else if unit_bit {
                len * 8 + 7
            } else {
                len - 1
            };
            let total = len * if unit_bit { 8 } else { 1 };
            let (start, end) = clamp(start, end, total);
            if unit_bit && start <= end {
                byte_span(start, end)
            } else {
                (start, end, 0, 0)
            }
        }
        _ => return reply.error(errors::SYNTAX),
    };
    if start > end {
        return reply.int(-1);
    }
    // Bits outside the range are made to read as the opposite of the bit
    // sought, so they are never found.
    let mut range = bytes[start as usize..=end as usize].to_vec();
    let hide = |b: &mut u8, outside: u8| {
        if bit {
            *b &= !outside;
        } else {
            *b |= outside;
        }
    };
    if let Some(first) = range.first_mut() {
        hide(first, first_outside);
    }
    if let Some(last) = range.last_mut() {
        hide(last, last_outside);
    }
    let pos = first_bit(&range, bit);
    if end_given && !bit && pos == range.len() as i64 * 8 {
        return reply.int(-1);
    }
    reply.int(if pos == -1 { -1 } else { pos + start * 8 });
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// `BITOP AND|OR|XOR|NOT destkey key [key ...]`: the result's length
/// (the longest source's; shorter ones read as zero bytes).
pub(super) fn bitop(ctx: &mut Ctx, args: Args) {
    let name = args.get(1);
    let op = if name.eq_ignore_ascii_case(b"and") {
        BitOp::And
    } else if name.eq_ignore_ascii_case(b"or") {
        BitOp::Or
    } else if name.eq_ignore_ascii_case(b"xor") {
        BitOp::Xor
    } else if name.eq_ignore_ascii_case(b"not") {
        BitOp::Not
    } else {
        return ctx.reply.error(errors::SYNTAX);
    };
    if op == BitOp::Not && args.len() != 4 {
        return ctx
            .reply
            .error("ERR BITOP NOT must be called with a single source key.");
    }
    let target = args.get(2);
    let (mut keys, reply) = ctx.keys();
    let mut sources: Vec<Vec<u8>> = Vec::with_capacity(args.len() - 3);
    for key in args.from(3) {
        match keys.read_str(key) {
            Err(_) => return reply.error(errors::WRONGTYPE),
            Ok(bytes) => sources.push(bytes.map(<[u8]>::to_vec).unwrap_or_default()),
        }
    }
    let len = sources.iter().map(Vec::len).max().unwrap_or(0);
    if len == 0 {
        let deleted = keys.delete(target);
        if deleted {
            ctx.notify(GENERIC, "del", target);
        }
        return ctx.reply.int(0);
    }
    let mut result = sources[0].clone();
    result.resize(len, 0);
    match op {
        BitOp::Not => result.iter_mut().for_each(|b| *b = !*b),
        _ => {
            for source in &sources[1..] {
                let apply = |r: &mut u8, s: u8| match op {
                    BitOp::And => *r &= s,
                    BitOp::Or => *r |= s,
                    _ => *r ^= s,
                };
                for (i, r) in result.iter_mut().enumerate() {
                    apply(r, source.get(i).copied().unwrap_or(0));
                }
            }
        }
    }
    keys.db.set(target, Value::RawStr(Box::new(result)), false);
    ctx.notify(STRING, "set", target);
    ctx.reply.int(len as i64);
}

/// What overflowing a bitfield does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldOp {
    Get,
    Set,
    IncrBy,
}

struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    value: i64,
    overflow: Overflow,
}

/// A bitfield type, `i1`..`i64` or `u1`..`u63`.
fn field_type(arg: &[u8]) -> Option<(bool, u32)> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return None,
    };
    let bits = crate::protocol::parse_i64(&arg[1..])?;
    let max = if signed { 64 } else { 63 };
    (1..=max).contains(&bits).then_some((signed, bits as u32))
}

/// The unsigned integer of `bits` bits at bit `offset` (missing bytes
/// read as zero).
fn read_field(bytes: &[u8], offset: u64, bits: u32) -> u64 {
    (0..u64::from(bits)).fold(0u64, |value, i| {
        (value << 1) | u64::from(get_bit(bytes, offset + i))
    })
}

fn write_field(bytes: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..bits {
        let on = value & (1u64 << (bits - 1 - i)) != 0;
        set_bit(bytes, offset + u64::from(i), on);
    }
}

fn sign_extend(value: u64, bits: u32) -> i64 {
    if bits < 64 && value & (1u64 << (bits - 1)) != 0 {
        (value | (u64::MAX << bits)) as i64
    } else {
        value as i64
    }
}

/// `value + incr` in an unsigned field of `bits` bits: the result, and
/// whether it overflowed (`checkUnsignedBitfieldOverflow`).
fn unsigned_add(value: u64, incr: i64, bits: u32, overflow: Overflow) -> (u64, bool) {
    let max = (1u64 << bits) - 1;
    let wrapped = value.wrapping_add(incr as u64) & max;
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    let (high, low) = (
        value > max || (incr > 0 && incr > max_incr),
        incr < 0 && incr < min_incr,
    );
    match (high, low, overflow) {
        (false, false, _) => (value.wrapping_add(incr as u64), false),
        (true, _, Overflow::Sat) => (max, true),
        (false, true, Overflow::Sat) => (0, true),
        _ => (wrapped, true),
    }
}

/// `value + incr` in a signed field of `bits` bits
/// (`checkSignedBitfieldOverflow`).
fn signed_add(value: i64, incr: i64, bits: u32, overflow: Overflow) -> (i64, bool) {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let high = value > max
        || (bits != 64 && incr > max_incr)
        || (value >= 0 && incr > 0 && incr > max_incr);
    let low = value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr);
    if !high && !low {
        return (value.wrapping_add(incr), false);
    }
    if overflow == Overflow::Sat {
        return (if high { max } else { min }, true);
    }
    let sum = (value as u64).wrapping_add(incr as u64);
    (sign_extend(sum & (u64::MAX >> (64 - bits)), bits), true)
}

/// BITFIELD's arguments, parsed in order as Redis does (each error
/// replied as it is met).
fn parse_fields(ctx: &mut Ctx, args: &Args) -> Option<Vec<Field>> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let remaining = args.len() - j - 1;
        let sub = args.get(j);
        let op = if sub.eq_ignore_ascii_case(b"get") && remaining >= 2 {
            FieldOp::Get
        } else if sub.eq_ignore_ascii_case(b"set") && remaining >= 3 {
            FieldOp::Set
        } else if sub.eq_ignore_ascii_case(b"incrby") && remaining >= 3 {
            FieldOp::IncrBy
        } else if sub.eq_ignore_ascii_case(b"overflow") && remaining >= 1 {
            let kind = args.get(j + 1);
            overflow = if kind.eq_ignore_ascii_case(b"wrap") {
                Overflow::Wrap
            } else if kind.eq_ignore_ascii_case(b"sat") {
                Overflow::Sat
            } else if kind.eq_ignore_ascii_case(b"fail") {
                Overflow::Fail
            } else {
                ctx.reply.error("ERR Invalid OVERFLOW type specified");
                return None;
            };
            j += 2;
            continue;
        } else {
            ctx.reply.error(errors::SYNTAX);
            return None;
        };
        let Some((signed, bits)) = field_type(args.get(j + 1)) else {
            ctx.reply.error("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.");
            return None;
        };
        let offset = bit_offset(ctx, args.get(j + 2), Some(bits))?;
        let value = if op == FieldOp::Get {
            0
        } else {
            i64_arg(ctx.reply, args.get(j + 3))?
        };
        fields.push(Field {
            op,
            signed,
            bits,
            offset,
            value,
            overflow,
        });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }
    Some(fields)
}

/// A GET's value.
fn get_op(bytes: &[u8], field: &Field) -> i64 {
    let value = read_field(bytes, field.offset, field.bits);
    if field.signed {
        sign_extend(value, field.bits)
    } else {
        value as i64
    }
}

/// Runs one SET or INCRBY on `bytes`: the value to reply and whether the
/// field changed, `None` when OVERFLOW FAIL kept it from writing.
fn write_op(bytes: &mut [u8], field: &Field) -> Option<(i64, bool)> {
    let old = read_field(bytes, field.offset, field.bits);
    let (new, reply, overflowed) = if field.signed {
        let old = sign_extend(old, field.bits);
        let (new, overflowed) = match field.op {
            FieldOp::IncrBy => signed_add(old, field.value, field.bits, field.overflow),
            _ => signed_add(field.value, 0, field.bits, field.overflow),
        };
        let reply = if field.op == FieldOp::IncrBy {
            new
        } else {
            old
        };
        (new as u64, reply, overflowed)
    } else {
        let (new, overflowed) = match field.op {
            FieldOp::IncrBy => unsigned_add(old, field.value, field.bits, field.overflow),
            _ => unsigned_add(field.value as u64, 0, field.bits, field.overflow),
        };
        let reply = if field.op == FieldOp::IncrBy {
            new
        } else {
            old
        };
        (new, reply as i64, overflowed)
    };
    if overflowed && field.overflow == Overflow::Fail {
        return None;
    }
    let mask = u64::MAX >> (64 - field.bits);
    let changed = (new & mask) != old;
    write_field(bytes, field.offset, field.bits, new);
    Some((reply, changed))
}

fn bitfield_generic(ctx: &mut Ctx, args: Args, read_only: bool) {
    let Some(fields) = parse_fields(ctx, &args) else {
        return;
    };
    let key = args.get(1);
    let writes = fields.iter().any(|f| f.op != FieldOp::Get);
    if !writes {
        let (mut keys, reply) = ctx.keys();
        let bytes = match keys.read_str(key) {
            Err(_) => return reply.error(errors::WRONGTYPE),
            Ok(bytes) => bytes.unwrap_or_default(),
        };
        reply.array(fields.len());
        for field in &fields {
            reply.int(get_op(bytes, field));
        }
        return;
    }
    if read_only {
        return ctx
            .reply
            .error("ERR BITFIELD_RO only supports the GET subcommand");
    }
    let highest = fields
        .iter()
        .filter(|f| f.op != FieldOp::Get)
        .map(|f| f.offset + u64::from(f.bits) - 1)
        .max()
        .unwrap_or(0);
    let counted = crate::db::Changes::begin();
    let (mut keys, reply) = ctx.keys();
    let Ok((bytes, grew)) = bits_for_write(&mut keys, key, highest) else {
        return reply.error(errors::WRONGTYPE);
    };
    reply.array(fields.len());
    let mut changes = 0;
    for field in &fields {
        if field.op == FieldOp::Get {
            reply.int(get_op(bytes, field));
            continue;
        }
        match write_op(bytes, field) {
            Some((value, changed)) => {
                reply.int(value);
                if changed || grew {
                    changes += 1;
                }
            }
            None => reply.null(),
        }
    }
    // Nothing changed: nothing to propagate (the key may have been
    // created, as in Redis).
    counted.made(changes);
    if changes > 0 {
        ctx.notify(STRING, "setbit", key);
    }
}

/// `BITFIELD key [GET type offset | SET type offset value | INCRBY type
/// offset increment | OVERFLOW WRAP|SAT|FAIL] ...`.
pub(super) fn bitfield(ctx: &mut Ctx, args: Args) {
    bitfield_generic(ctx, args, false);
}

/// `BITFIELD_RO key [GET type offset] ...`.
pub(super) fn bitfield_ro(ctx: &mut Ctx, args: Args) {
    bitfield_generic(ctx, args, true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn popcount_counts_every_length() {
        let bytes: Vec<u8> = (0..=255u8).collect();
        for len in 0..bytes.len() {
            let slow: u64 = bytes[..len].iter().map(|b| u64::from(b.count_ones())).sum();
            assert_eq!(popcount(&bytes[..len]), slow);
        }
    }

    #[test]
    fn first_bit_finds_ones_and_zeros() {
        assert_eq!(first_bit(&[0, 0, 0, 0, 0, 0, 0, 0, 0x10], true), 67);
        assert_eq!(first_bit(&[0; 9], true), -1);
        assert_eq!(first_bit(&[0xff; 9], false), 72);
        assert_eq!(first_bit(&[0xff, 0xfe], false), 15);
    }

    #[test]
    fn fields_overflow_as_redis() {
        assert_eq!(unsigned_add(250, 10, 8, Overflow::Wrap), (4, true));
        assert_eq!(unsigned_add(250, 10, 8, Overflow::Sat), (255, true));
        assert_eq!(unsigned_add(5, -10, 8, Overflow::Sat), (0, true));
        assert_eq!(unsigned_add(5, -10, 8, Overflow::Wrap), (251, true));
        assert_eq!(signed_add(120, 10, 8, Overflow::Wrap), (-126, true));
        assert_eq!(signed_add(120, 10, 8, Overflow::Sat), (127, true));
        assert_eq!(signed_add(-120, -10, 8, Overflow::Sat), (-128, true));
        assert_eq!(
            signed_add(i64::MAX, 1, 64, Overflow::Wrap),
            (i64::MIN, true)
        );
        assert_eq!(signed_add(3, 4, 8, Overflow::Fail), (7, false));
    }

    #[test]
    fn fields_read_and_write_msb_first() {
        let mut bytes = vec![0u8; 3];
        write_field(&mut bytes, 4, 8, 0xab);
        assert_eq!(bytes, [0x0a, 0xb0, 0]);
        assert_eq!(read_field(&bytes, 4, 8), 0xab);
        assert_eq!(sign_extend(read_field(&bytes, 4, 4), 4), -6);
    }
}
