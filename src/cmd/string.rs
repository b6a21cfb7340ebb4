//! String commands: GET, SET and its variants, MGET/MSET, the INCR family,
//! APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE, GETDEL, GETEX, GETSET.

use super::{i64_arg, Ctx};
use crate::db::{Changes, Value};
use crate::errors;
use crate::float::{add_long_double, FloatError};
use crate::notify::{GENERIC, STRING};
use crate::protocol::parse_i64;
use crate::protocol::request::Args;

pub(super) fn get(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    match keys.read_str(args.get(1)) {
        Ok(Some(value)) => reply.bulk(value),
        Ok(None) => reply.null(),
        Err(_) => reply.error(errors::WRONGTYPE),
    }
}

/// Expiry options of SET and GETEX (Redis's `parseExtendedStringArgumentsOrReply`).
#[derive(Default, Clone, Copy)]
struct SetOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    /// The expire argument and whether it is in seconds / absolute.
    expire: Option<(&'a [u8], Unit)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// Parses SET's (`for_set`) or GETEX's options from argument `from` on.
fn parse_options<'a>(args: &Args<'a>, from: usize, for_set: bool) -> Option<SetOptions<'a>> {
    let mut o = SetOptions::default();
    let mut j = from;
    while j < args.len() {
        let opt = args.get(j);
        let next = (j + 1 < args.len()).then(|| args.get(j + 1));
        let is = |name: &[u8]| opt.eq_ignore_ascii_case(name);
        let has_expire = o.expire.is_some();
        let other_expire = |unit: Unit| o.expire.is_some_and(|(_, u)| u != unit);
        if for_set && is(b"nx") && !o.xx {
            o.nx = true;
        } else if for_set && is(b"xx") && !o.nx {
            o.xx = true;
        } else if for_set && is(b"get") {
            o.get = true;
        } else if for_set && is(b"keepttl") && !o.persist && !has_expire {
            o.keep_ttl = true;
        } else if !for_set && is(b"persist") && !has_expire && !o.keep_ttl {
            o.persist = true;
        } else if let (Some(unit), Some(value)) = (expire_unit(opt), next) {
            if o.keep_ttl || o.persist || other_expire(unit) {
                return None;
            }
            o.expire = Some((value, unit));
            j += 1;
        } else {
            return None;
        }
        j += 1;
    }
    Some(o)
}

fn expire_unit(opt: &[u8]) -> Option<Unit> {
    [
        (&b"ex"[..], Unit::Ex),
        (b"px", Unit::Px),
        (b"exat", Unit::ExAt),
        (b"pxat", Unit::PxAt),
    ]
    .into_iter()
    .find(|(name, _)| opt.eq_ignore_ascii_case(name))
    .map(|(_, unit)| unit)
}

/// Turns an expire argument into absolute unix ms, or replies Redis's error
/// (`getExpireMillisecondsOrReply`).
fn expire_at_ms(ctx: &mut Ctx, arg: &[u8], unit: Unit, command: &str) -> Option<i64> {
    let value = i64_arg(ctx.reply, arg)?;
    let seconds = matches!(unit, Unit::Ex | Unit::ExAt);
    if value <= 0 || (seconds && value > i64::MAX / 1000) {
        ctx.reply.error(&errors::invalid_expire_time(command));
        return None;
    }
    let mut ms = if seconds { value * 1000 } else { value };
    if matches!(unit, Unit::Ex | Unit::Px) {
        ms = ms.wrapping_add(ctx.now_ms);
    }
    if ms <= 0 {
        ctx.reply.error(&errors::invalid_expire_time(command));
        return None;
    }
    Some(ms)
}

pub(super) fn set(ctx: &mut Ctx, args: Args) {
    let Some(options) = parse_options(&args, 3, true) else {
        return ctx.reply.error(errors::SYNTAX);
    };
    let expire = match options.expire {
        Some((arg, unit)) => match expire_at_ms(ctx, arg, unit, "set") {
            Some(ms) => Some(ms),
            None => return,
        },
        None => None,
    };
    let (key, value) = (args.get(1), args.get(2));
    let changes = Changes::begin();
    let (mut keys, reply) = ctx.keys();
    if options.get {
        match keys.read_str(key) {
            Ok(Some(old)) => reply.bulk(old),
            Ok(None) => reply.null(),
            Err(_) => return reply.error(errors::WRONGTYPE),
        }
    }
    if options.nx || options.xx {
        let found = keys.exists(key);
        if (options.nx && found) || (options.xx && !found) {
            if !options.get {
                reply.null();
            }
            return;
        }
    } else {
        // The key is replaced whatever it was: only a due expiry needs
        // seeing to (as Redis's `lookupKeyWrite`), not a second probe.
        keys.expire_if_needed(key);
    }
    keys.db.set(key, Value::string(value), options.keep_ttl);
    if let Some(when) = expire {
        keys.db.set_expire(key, when);
    }
    changes.made(1);
    ctx.notify(STRING, "set", key);
    if expire.is_some() {
        ctx.notify(GENERIC, "expire", key);
    }
    if !options.get {
        ctx.reply.ok();
    }
}

pub(super) fn setnx(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    if keys.exists(args.get(1)) {
        reply.int(0);
    } else {
        keys.db.set(args.get(1), Value::string(args.get(2)), false);
        ctx.notify(STRING, "set", args.get(1));
        ctx.reply.int(1);
    }
}

fn set_with_expire(ctx: &mut Ctx, args: Args, unit: Unit, command: &str) {
    let Some(when) = expire_at_ms(ctx, args.get(2), unit, command) else {
        return;
    };
    let changes = Changes::begin();
    let (keys, _) = ctx.keys();
    keys.db.set(args.get(1), Value::string(args.get(3)), false);
    keys.db.set_expire(args.get(1), when);
    changes.made(1);
    ctx.notify(STRING, "set", args.get(1));
    ctx.notify(GENERIC, "expire", args.get(1));
    ctx.reply.ok();
}

pub(super) fn setex(ctx: &mut Ctx, args: Args) {
    set_with_expire(ctx, args, Unit::Ex, "setex");
}

pub(super) fn psetex(ctx: &mut Ctx, args: Args) {
    set_with_expire(ctx, args, Unit::Px, "psetex");
}

pub(super) fn mget(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    reply.array(args.len() - 1);
    for key in args.from(1) {
        match keys.read_str(key) {
            Ok(Some(value)) => reply.bulk(value),
            _ => reply.null(),
        }
    }
}

pub(super) fn mset(ctx: &mut Ctx, args: Args) {
    if args.len().is_multiple_of(2) {
        return ctx.reply.error(&errors::wrong_arity("mset"));
    }
    for i in (1..args.len()).step_by(2) {
        let (keys, _) = ctx.keys();
        keys.db
            .set(args.get(i), Value::string(args.get(i + 1)), false);
        ctx.notify(STRING, "set", args.get(i));
    }
    ctx.reply.ok();
}

pub(super) fn msetnx(ctx: &mut Ctx, args: Args) {
    if args.len().is_multiple_of(2) {
        return ctx.reply.error(&errors::wrong_arity("msetnx"));
    }
    let (mut keys, reply) = ctx.keys();
    if (1..args.len()).step_by(2).any(|i| keys.exists(args.get(i))) {
        return reply.int(0);
    }
    for i in (1..args.len()).step_by(2) {
        let (keys, _) = ctx.keys();
        keys.db
            .set(args.get(i), Value::string(args.get(i + 1)), false);
        ctx.notify(STRING, "set", args.get(i));
    }
    ctx.reply.int(1);
}

/// INCR, DECR, INCRBY, DECRBY (Redis's `incrDecrCommand`). The TTL stays.
fn incr_by(ctx: &mut Ctx, key: &[u8], delta: i64) {
    let (mut keys, reply) = ctx.keys();
    let existing = keys.write(key);
    let current = match existing.as_deref() {
        None => 0,
        Some(value) => match value.as_str() {
            Err(_) => return reply.error(errors::WRONGTYPE),
            Ok(s) => match parse_i64(s) {
                Some(n) => n,
                None => return reply.error(errors::NOT_INTEGER),
            },
        },
    };
    let Some(next) = current.checked_add(delta) else {
        return reply.error("ERR increment or decrement would overflow");
    };
    let mut digits = itoa::Buffer::new();
    let counter = Value::string(digits.format(next).as_bytes());
    match existing {
        // Replaced where it is: one lookup, the TTL untouched.
        Some(value) => {
            *value = counter;
            crate::db::add_dirty(1);
        }
        None => keys.db.set(key, counter, true),
    }
    ctx.notify(STRING, "incrby", key);
    ctx.reply.int(next);
}

pub(super) fn incr(ctx: &mut Ctx, args: Args) {
    incr_by(ctx, args.get(1), 1);
}

pub(super) fn decr(ctx: &mut Ctx, args: Args) {
    incr_by(ctx, args.get(1), -1);
}

pub(super) fn incrby(ctx: &mut Ctx, args: Args) {
    if let Some(delta) = i64_arg(ctx.reply, args.get(2)) {
        incr_by(ctx, args.get(1), delta);
    }
}

pub(super) fn decrby(ctx: &mut Ctx, args: Args) {
    let Some(delta) = i64_arg(ctx.reply, args.get(2)) else {
        return;
    };
    if delta == i64::MIN {
        return ctx.reply.error("ERR decrement would overflow");
    }
    incr_by(ctx, args.get(1), -delta);
}

pub(super) fn incrbyfloat(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let (mut keys, reply) = ctx.keys();
    let current = match keys.write(key) {
        None => None,
        Some(value) => match value.as_str() {
            Err(_) => return reply.error(errors::WRONGTYPE),
            Ok(s) => Some(s.to_vec()),
        },
    };
    match add_long_double(current.as_deref(), args.get(2)) {
        Ok(text) => {
            reply.bulk(&text);
            let changes = Changes::begin();
            keys.db
                .set(key, Value::PlainStr(text.into_boxed_slice()), true);
            changes.made(1);
            ctx.notify(STRING, "incrbyfloat", key);
        }
        Err(FloatError::NotAFloat) => reply.error(errors::NOT_A_FLOAT),
        Err(FloatError::NanOrInfinity) => {
            reply.error("ERR increment would produce NaN or Infinity")
        }
    }
}

pub(super) fn append(ctx: &mut Ctx, args: Args) {
    let (key, tail) = (args.get(1), args.get(2));
    let max = ctx.state.config.proto_max_bulk_len;
    let changes = Changes::begin();
    let (mut keys, reply) = ctx.keys();
    let len = match keys.write(key) {
        // A new key is a plain string, as SET would make it.
        None => {
            if tail.len() as u64 > max {
                return reply.error(errors::STRING_TOO_LONG);
            }
            keys.db.set(key, Value::string(tail), true);
            tail.len()
        }
        // An existing one is appended to in place, in its raw form.
        Some(existing) => {
            let Ok(current) = existing.as_str() else {
                return reply.error(errors::WRONGTYPE);
            };
            if (current.len() + tail.len()) as u64 > max {
                return reply.error(errors::STRING_TOO_LONG);
            }
            let Ok(value) = existing.as_raw_mut() else {
                return reply.error(errors::WRONGTYPE);
            };
            value.extend_from_slice(tail);
            value.len()
        }
    };
    changes.made(1);
    ctx.notify(STRING, "append", key);
    ctx.reply.int(len as i64);
}

pub(super) fn strlen(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    match keys.read_str(args.get(1)) {
        Ok(value) => reply.int(value.map_or(0, |v| v.len() as i64)),
        Err(_) => reply.error(errors::WRONGTYPE),
    }
}

/// The byte range GETRANGE returns for `start..=end` over `len` bytes, with
/// Redis's clamping rules; `None` for an empty result.
fn clamp_range(mut start: i64, mut end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if start < 0 && end < 0 && start > end {
        return None;
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return None;
    }
    Some((start as usize, end as usize))
}

pub(super) fn getrange(ctx: &mut Ctx, args: Args) {
    let Some(start) = i64_arg(ctx.reply, args.get(2)) else {
        return;
    };
    let Some(end) = i64_arg(ctx.reply, args.get(3)) else {
        return;
    };
    let (mut keys, reply) = ctx.keys();
    match keys.read_str(args.get(1)) {
        Err(_) => reply.error(errors::WRONGTYPE),
        Ok(None) => reply.bulk(b""),
        Ok(Some(value)) => match clamp_range(start, end, value.len()) {
            Some((from, to)) => reply.bulk(&value[from..=to]),
            None => reply.bulk(b""),
        },
    }
}

pub(super) fn substr(ctx: &mut Ctx, args: Args) {
    getrange(ctx, args);
}

pub(super) fn setrange(ctx: &mut Ctx, args: Args) {
    let (key, patch) = (args.get(1), args.get(3));
    let Some(offset) = i64_arg(ctx.reply, args.get(2)) else {
        return;
    };
    if offset < 0 {
        return ctx.reply.error("ERR offset is out of range");
    }
    let max = ctx.state.config.proto_max_bulk_len;
    let (mut keys, reply) = ctx.keys();
    keys.expire_if_needed(key);
    let current = match keys.db.get(key) {
        None => None,
        Some(value) => match value.as_str() {
            Err(_) => return reply.error(errors::WRONGTYPE),
            Ok(s) => Some(s.len()),
        },
    };
    if patch.is_empty() {
        return reply.int(current.unwrap_or(0) as i64);
    }
    if (offset as u64).saturating_add(patch.len() as u64) > max {
        return reply.error(errors::STRING_TOO_LONG);
    }
    let changes = Changes::begin();
    if current.is_none() {
        keys.db.set(key, Value::RawStr(Box::default()), false);
    }
    let Some(Ok(value)) = keys.write(key).map(Value::as_raw_mut) else {
        return reply.error(errors::WRONGTYPE);
    };
    let offset = offset as usize;
    if value.len() < offset + patch.len() {
        value.resize(offset + patch.len(), 0);
    }
    value[offset..offset + patch.len()].copy_from_slice(patch);
    let len = value.len();
    changes.made(1);
    ctx.notify(STRING, "setrange", key);
    ctx.reply.int(len as i64);
}

pub(super) fn getdel(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let (mut keys, reply) = ctx.keys();
    match keys.read_str(key) {
        Err(_) => reply.error(errors::WRONGTYPE),
        Ok(None) => reply.null(),
        Ok(Some(value)) => {
            reply.bulk(value);
            keys.db.remove(key);
            ctx.notify(GENERIC, "del", key);
        }
    }
}

pub(super) fn getex(ctx: &mut Ctx, args: Args) {
    let Some(options) = parse_options(&args, 2, false) else {
        return ctx.reply.error(errors::SYNTAX);
    };
    let key = args.get(1);
    {
        let (mut keys, reply) = ctx.keys();
        match keys.read_str(key) {
            Err(_) => return reply.error(errors::WRONGTYPE),
            Ok(None) => return reply.null(),
            Ok(Some(_)) => {}
        }
    }
    let expire = match options.expire {
        Some((arg, unit)) => match expire_at_ms(ctx, arg, unit, "getex") {
            Some(ms) => Some((ms, unit)),
            None => return,
        },
        None => None,
    };
    let past = expire.is_some_and(|(when, _)| ctx.already_expired(when));
    let (keys, reply) = ctx.keys();
    if let Some(Ok(value)) = keys.db.get(key).map(Value::as_str) {
        reply.bulk(value);
    }
    match expire {
        Some((_, Unit::ExAt | Unit::PxAt)) if past => {
            keys.db.remove(key);
            ctx.notify(GENERIC, "del", key);
        }
        Some((when, _)) => {
            keys.db.set_expire(key, when);
            ctx.notify(GENERIC, "expire", key);
        }
        None if options.persist && keys.db.persist(key) => {
            ctx.notify(GENERIC, "persist", key);
        }
        None => {}
    }
}

pub(super) fn getset(ctx: &mut Ctx, args: Args) {
    let (key, value) = (args.get(1), args.get(2));
    let (mut keys, reply) = ctx.keys();
    match keys.read_str(key) {
        Err(_) => return reply.error(errors::WRONGTYPE),
        Ok(Some(old)) => reply.bulk(old),
        Ok(None) => reply.null(),
    }
    keys.db.set(key, Value::string(value), false);
    ctx.notify(STRING, "set", key);
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`: the
/// longest common subsequence of two strings (missing keys read as empty),
/// its length, or the matching ranges, walked back from the ends as
/// Redis's `lcsCommand` does.
pub(super) fn lcs(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    let mut text = |key: &[u8]| match keys.read(key) {
        None => Ok(Vec::new()),
        Some(value) => value.as_str().map(<[u8]>::to_vec).map_err(|_| ()),
    };
    let (Ok(a), Ok(b)) = (text(args.get(1)), text(args.get(2))) else {
        return reply.error("ERR The specified keys must contain string values");
    };
    let (mut want_len, mut want_idx, mut with_match_len) = (false, false, false);
    let mut min_match_len = 0i64;
    let mut j = 3;
    while j < args.len() {
        let option = args.get(j);
        if option.eq_ignore_ascii_case(b"idx") {
            want_idx = true;
        } else if option.eq_ignore_ascii_case(b"len") {
            want_len = true;
        } else if option.eq_ignore_ascii_case(b"withmatchlen") {
            with_match_len = true;
        } else if option.eq_ignore_ascii_case(b"minmatchlen") && j + 1 < args.len() {
            let Some(n) = i64_arg(reply, args.get(j + 1)) else {
                return;
            };
            min_match_len = n.max(0);
            j += 1;
        } else {
            return reply.error(errors::SYNTAX);
        }
        j += 1;
    }
    if want_idx && want_len {
        return reply.error("ERR If you want both the length and indexes, please just use IDX.");
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells.saturating_mul(4) > ctx.state.config.proto_max_bulk_len {
        return ctx
            .reply
            .error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    }
    // table[i][j]: the LCS length of a[..i] and b[..j].
    let width = blen + 1;
    let mut table = vec![0u32; (alen + 1) * width];
    for i in 1..=alen {
        for j in 1..=blen {
            table[i * width + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * width + j - 1] + 1
            } else {
                table[(i - 1) * width + j].max(table[i * width + j - 1])
            };
        }
    }
    let lcs_len = table[alen * width + blen] as usize;
    let reply = &mut *ctx.reply;
    if want_len {
        return reply.int(lcs_len as i64);
    }
    // Walk back from the ends, collecting the string and the ranges of
    // contiguous matches (each as a start..=end in both strings).
    let mut result = vec![0u8; lcs_len];
    let mut ranges: Vec<[usize; 4]> = Vec::new();
    let mut current: Option<[usize; 4]> = None;
    let (mut i, mut j, mut idx) = (alen, blen, lcs_len);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            match &mut current {
                None => current = Some([i - 1, i - 1, j - 1, j - 1]),
                Some(range) if range[0] == i && range[2] == j => {
                    range[0] -= 1;
                    range[2] -= 1;
                }
                Some(_) => emit = true,
            }
            if current.is_some_and(|r| r[0] == 0 || r[2] == 0) {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table[(i - 1) * width + j] > table[i * width + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if current.is_some() {
                emit = true;
            }
        }
        if emit {
            if let Some(range) = current.take() {
                let len = range[1] - range[0] + 1;
                if min_match_len == 0 || len as i64 >= min_match_len {
                    ranges.push(range);
                }
            }
        }
    }
    if !want_idx {
        return reply.bulk(&result);
    }
    reply.map(2);
    reply.bulk(b"matches");
    reply.array(ranges.len());
    for [a_start, a_end, b_start, b_end] in ranges {
        reply.array(2 + usize::from(with_match_len));
        reply.array(2);
        reply.int(a_start as i64);
        reply.int(a_end as i64);
        reply.array(2);
        reply.int(b_start as i64);
        reply.int(b_end as i64);
        if with_match_len {
            reply.int((a_end - a_start + 1) as i64);
        }
    }
    reply.bulk(b"len");
    reply.int(lcs_len as i64);
}

#[cfg(test)]
mod tests {
    use super::clamp_range;

    #[test]
    fn getrange_clamping_follows_redis() {
        assert_eq!(clamp_range(0, -1, 5), Some((0, 4)));
        assert_eq!(clamp_range(-3, -1, 5), Some((2, 4)));
        assert_eq!(clamp_range(-1, -3, 5), None);
        assert_eq!(clamp_range(2, 100, 5), Some((2, 4)));
        assert_eq!(clamp_range(-100, 1, 5), Some((0, 1)));
        assert_eq!(clamp_range(3, 2, 5), None);
        assert_eq!(clamp_range(0, 0, 0), None);
    }
}
