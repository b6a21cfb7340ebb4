//! List commands: pushes and pops at both ends, ranges, indexes, LREM,
//! LTRIM, LINSERT, LPOS, LMOVE/RPOPLPUSH and LMPOP. A list that becomes
//! empty is deleted, as in Redis.

use super::{i64_arg, optional_count_arg, Ctx, Keys};
use crate::db::value::ListValue;
use crate::db::{Changes, CompactBytes, Value};
use crate::errors;
use crate::notify::{GENERIC, LIST};
use crate::protocol::parse_i64;
use crate::protocol::request::Args;
use crate::protocol::Reply;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

impl End {
    /// The event a pop from this end announces.
    fn pop_event(self) -> &'static str {
        match self {
            End::Left => "lpop",
            End::Right => "rpop",
        }
    }

    /// The event a push at this end announces.
    fn push_event(self) -> &'static str {
        match self {
            End::Left => "lpush",
            End::Right => "rpush",
        }
    }
}

/// Announces a pop from `key`, then its deletion if the pop emptied it.
pub fn notify_popped(ctx: &mut Ctx, key: &[u8], end: End) {
    ctx.notify(LIST, end.pop_event(), key);
    notify_if_deleted(ctx, key);
}

/// Announces `del` for a key the command emptied (and so deleted).
pub fn notify_if_deleted(ctx: &mut Ctx, key: &[u8]) {
    let db = ctx.db_index();
    if !ctx.state.dbs[db].contains_key(key) {
        ctx.notify(GENERIC, "del", key);
    }
}

pub fn parse_end(arg: &[u8]) -> Option<End> {
    if arg.eq_ignore_ascii_case(b"left") {
        Some(End::Left)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Some(End::Right)
    } else {
        None
    }
}

/// The list at `key` for writing: `Ok(None)` if missing.
fn list_mut<'k>(keys: &'k mut Keys, key: &[u8]) -> Result<Option<&'k mut ListValue>, ()> {
    keys.write_as(key, None, Value::as_list_mut).map_err(|_| ())
}

/// Pushes `elements` at `end`, creating the list; returns the new length.
pub fn push<T: AsRef<[u8]>>(
    keys: &mut Keys,
    key: &[u8],
    elements: impl Iterator<Item = T>,
    end: End,
) -> usize {
    if keys.db.get(key).is_none() {
        keys.db.set(key, new_list(), false);
    }
    let Some(Value::List(list)) = keys.db.get_mut(key) else {
        return 0;
    };
    push_all(list, elements, end);
    list.len()
}

fn new_list() -> Value {
    Value::List(Box::default())
}

fn push_all<T: AsRef<[u8]>>(list: &mut ListValue, elements: impl Iterator<Item = T>, end: End) {
    for element in elements {
        match end {
            End::Left => list.push_front(element.as_ref()),
            End::Right => list.push_back(element.as_ref()),
        }
    }
}

/// Pops one element; deletes the key when the list empties. One change
/// per element (the deletion that follows is not another, as in Redis).
pub fn pop(keys: &mut Keys, key: &[u8], end: End) -> Option<CompactBytes> {
    let changes = Changes::begin();
    let element = pop_keeping_key(keys, key, end);
    delete_if_empty(keys, key);
    changes.made(u64::from(element.is_some()));
    element
}

/// Pops one element and leaves an emptied list in place, for a push to
/// the same key that follows (LMOVE of a one-element list onto itself).
fn pop_keeping_key(keys: &mut Keys, key: &[u8], end: End) -> Option<CompactBytes> {
    let list = keys.db.get_mut(key)?.as_list_mut().ok()?;
    match end {
        End::Left => list.pop_front(),
        End::Right => list.pop_back(),
    }
}

fn delete_if_empty(keys: &mut Keys, key: &[u8]) {
    if keys.db.get(key).is_some_and(|v| v.is_empty()) {
        keys.db.remove(key);
    }
}

fn push_generic(ctx: &mut Ctx, args: Args, end: End, only_existing: bool) {
    let key = args.get(1);
    let changes = Changes::begin();
    let (mut keys, reply) = ctx.keys();
    let create = (!only_existing).then_some(new_list as fn() -> Value);
    let list = match keys.write_as(key, create, Value::as_list_mut) {
        Err(_) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return reply.int(0),
        Ok(Some(list)) => list,
    };
    push_all(list, args.from(2), end);
    changes.made(args.len() as u64 - 2);
    reply.int(list.len() as i64);
    let db = ctx.db_index();
    ctx.state.signal_key_ready(db, key);
    ctx.notify(LIST, end.push_event(), key);
}

pub(super) fn lpush(ctx: &mut Ctx, args: Args) {
    push_generic(ctx, args, End::Left, false);
}

pub(super) fn rpush(ctx: &mut Ctx, args: Args) {
    push_generic(ctx, args, End::Right, false);
}

pub(super) fn lpushx(ctx: &mut Ctx, args: Args) {
    push_generic(ctx, args, End::Left, true);
}

pub(super) fn rpushx(ctx: &mut Ctx, args: Args) {
    push_generic(ctx, args, End::Right, true);
}

fn pop_generic(ctx: &mut Ctx, args: Args, end: End, command: &str) {
    if args.len() > 3 {
        return ctx.reply.error(&errors::wrong_arity(command));
    }
    let Some(count) = optional_count_arg(ctx.reply, &args, 2) else {
        return;
    };
    let key = args.get(1);
    let (mut keys, reply) = ctx.keys();
    match list_mut(&mut keys, key) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) if count.is_some() => return reply.null_array(),
        Ok(None) => return reply.null(),
        Ok(Some(_)) => {}
    }
    match count {
        None => {
            if let Some(element) = pop(&mut keys, key, end) {
                reply.bulk(&element);
            }
        }
        Some(0) => return reply.array(0),
        Some(count) => reply_popped(&mut keys, reply, key, end, count),
    }
    notify_popped(ctx, key, end);
}

/// Pops up to `count` elements and replies them as an array.
fn reply_popped(keys: &mut Keys, reply: &mut Reply, key: &[u8], end: End, count: usize) {
    let available = keys.db.get(key).map_or(0, Value::len);
    let n = count.min(available);
    reply.array(n);
    for _ in 0..n {
        if let Some(element) = pop(keys, key, end) {
            reply.bulk(&element);
        }
    }
}

pub(super) fn lpop(ctx: &mut Ctx, args: Args) {
    pop_generic(ctx, args, End::Left, "lpop");
}

pub(super) fn rpop(ctx: &mut Ctx, args: Args) {
    pop_generic(ctx, args, End::Right, "rpop");
}

pub(super) fn llen(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    match keys.read(args.get(1)).map(Value::as_list) {
        None => reply.int(0),
        Some(Ok(list)) => reply.int(list.len() as i64),
        Some(Err(_)) => reply.error(errors::WRONGTYPE),
    }
}

pub(super) fn lrange(ctx: &mut Ctx, args: Args) {
    let Some(start) = i64_arg(ctx.reply, args.get(2)) else {
        return;
    };
    let Some(end) = i64_arg(ctx.reply, args.get(3)) else {
        return;
    };
    let (mut keys, reply) = ctx.keys();
    let list = match keys.read(args.get(1)).map(Value::as_list) {
        None => return reply.array(0),
        Some(Err(_)) => return reply.error(errors::WRONGTYPE),
        Some(Ok(list)) => list,
    };
    match range(start, end, list.len()) {
        None => reply.array(0),
        Some((from, to)) => {
            reply.array(to - from + 1);
            for element in list.range(from, to) {
                reply.bulk(element);
            }
        }
    }
}

/// LRANGE's (and ZRANGE's) index normalisation: negative indexes count
/// from the end; `None` for an empty range.
pub fn range(mut start: i64, mut end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

fn index_of(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 { index + len as i64 } else { index };
    (0..len as i64).contains(&i).then_some(i as usize)
}

pub(super) fn lindex(ctx: &mut Ctx, args: Args) {
    // The key is looked up (and type-checked) before the index is parsed,
    // as in Redis.
    let (mut keys, reply) = ctx.keys();
    let list = match keys.read(args.get(1)).map(Value::as_list) {
        None => return reply.null(),
        Some(Err(_)) => return reply.error(errors::WRONGTYPE),
        Some(Ok(list)) => list,
    };
    let Some(index) = i64_arg(reply, args.get(2)) else {
        return;
    };
    match index_of(index, list.len()).and_then(|i| list.get(i)) {
        Some(element) => reply.bulk(element),
        None => reply.null(),
    }
}

pub(super) fn lset(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    let list = match list_mut(&mut keys, args.get(1)) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return reply.error(errors::NO_SUCH_KEY),
        Ok(Some(list)) => list,
    };
    let Some(index) = i64_arg(reply, args.get(2)) else {
        return;
    };
    match index_of(index, list.len()) {
        Some(i) => {
            list.set(i, args.get(3));
            crate::db::add_dirty(1);
            reply.ok();
            ctx.notify(LIST, "lset", args.get(1));
        }
        None => reply.error("ERR index out of range"),
    }
}

pub(super) fn lrem(ctx: &mut Ctx, args: Args) {
    let Some(count) = i64_arg(ctx.reply, args.get(2)) else {
        return;
    };
    let (key, element) = (args.get(1), args.get(3));
    let (mut keys, reply) = ctx.keys();
    let list = match list_mut(&mut keys, key) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return reply.int(0),
        Ok(Some(list)) => list,
    };
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs() as usize
    };
    let mut removed = 0;
    let mut kept = ListValue::new();
    if count >= 0 {
        for item in list.iter() {
            if removed < limit && item == element {
                removed += 1;
            } else {
                kept.push_back(item);
            }
        }
    } else {
        for item in list.iter().rev() {
            if removed < limit && item == element {
                removed += 1;
            } else {
                kept.push_front(item);
            }
        }
    }
    if removed > 0 {
        *list = kept;
    }
    let changes = Changes::begin();
    if list.is_empty() {
        keys.db.remove(key);
    }
    changes.made(removed as u64);
    reply.int(removed as i64);
    if removed > 0 {
        ctx.notify(LIST, "lrem", key);
        notify_if_deleted(ctx, key);
    }
}

pub(super) fn ltrim(ctx: &mut Ctx, args: Args) {
    let Some(start) = i64_arg(ctx.reply, args.get(2)) else {
        return;
    };
    let Some(end) = i64_arg(ctx.reply, args.get(3)) else {
        return;
    };
    let key = args.get(1);
    let (mut keys, reply) = ctx.keys();
    let list = match list_mut(&mut keys, key) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return reply.ok(),
        Ok(Some(list)) => list,
    };
    let before = list.len();
    match range(start, end, list.len()) {
        None => list.clear(),
        Some((from, to)) => {
            list.keep(from, to);
        }
    }
    // Redis counts the elements trimmed.
    let trimmed = before - list.len();
    let changes = Changes::begin();
    if list.is_empty() {
        keys.db.remove(key);
    }
    changes.made(trimmed as u64);
    reply.ok();
    ctx.notify(LIST, "ltrim", key);
    notify_if_deleted(ctx, key);
}

pub(super) fn linsert(ctx: &mut Ctx, args: Args) {
    let after = if args.get(2).eq_ignore_ascii_case(b"after") {
        true
    } else if args.get(2).eq_ignore_ascii_case(b"before") {
        false
    } else {
        return ctx.reply.error(errors::SYNTAX);
    };
    let (pivot, element) = (args.get(3), args.get(4));
    let (mut keys, reply) = ctx.keys();
    let list = match list_mut(&mut keys, args.get(1)) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return reply.int(0),
        Ok(Some(list)) => list,
    };
    let position = list.iter().position(|item| item == pivot);
    match position {
        Some(i) => {
            list.insert(if after { i + 1 } else { i }, element);
            crate::db::add_dirty(1);
            reply.int(list.len() as i64);
            ctx.notify(LIST, "linsert", args.get(1));
        }
        None => reply.int(-1),
    }
}

pub(super) fn lpos(ctx: &mut Ctx, args: Args) {
    let (mut rank, mut count, mut maxlen): (i64, Option<i64>, i64) = (1, None, 0);
    // As Redis's lposCommand: the option name decides, then its value is
    // parsed with the option's own error text.
    let mut j = 3;
    while j < args.len() {
        let option = args.get(j);
        let value = (j + 1 < args.len()).then(|| args.get(j + 1));
        let positive = |value: &[u8], message: &str, reply: &mut Reply| match parse_i64(value) {
            Some(n) if n >= 0 => Some(n),
            _ => {
                reply.error(message);
                None
            }
        };
        match value {
            Some(value) if option.eq_ignore_ascii_case(b"rank") => {
                rank = match parse_i64(value) {
                    Some(i64::MIN) => {
                        return ctx.reply.error(
                            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                        )
                    }
                    Some(n) => n,
                    None => return ctx.reply.error(errors::NOT_INTEGER),
                };
                if rank == 0 {
                    return ctx.reply.error(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... \
                         or use negative to start from the end of the list",
                    );
                }
            }
            Some(value) if option.eq_ignore_ascii_case(b"count") => {
                let Some(n) = positive(value, "ERR COUNT can't be negative", ctx.reply) else {
                    return;
                };
                count = Some(n);
            }
            Some(value) if option.eq_ignore_ascii_case(b"maxlen") => {
                let Some(n) = positive(value, "ERR MAXLEN can't be negative", ctx.reply) else {
                    return;
                };
                maxlen = n;
            }
            _ => return ctx.reply.error(errors::SYNTAX),
        }
        j += 2;
    }
    let element = args.get(2);
    let (mut keys, reply) = ctx.keys();
    let list = match keys.read(args.get(1)).map(Value::as_list) {
        None if count.is_some() => return reply.array(0),
        None => return reply.null(),
        Some(Err(_)) => return reply.error(errors::WRONGTYPE),
        Some(Ok(list)) => list,
    };
    let len = list.len();
    let wanted = match count {
        Some(0) => usize::MAX,
        Some(n) => n as usize,
        None => 1,
    };
    let mut skip = rank.unsigned_abs() - 1;
    let mut found = Vec::new();
    let limit = if maxlen == 0 {
        len
    } else {
        (maxlen as usize).min(len)
    };
    // One pass from the end RANK names (indexing each position would
    // walk the chunks every time).
    let positions: Box<dyn Iterator<Item = (usize, &[u8])>> = if rank > 0 {
        Box::new(list.iter().enumerate())
    } else {
        Box::new(list.iter().rev().enumerate().map(|(s, e)| (len - 1 - s, e)))
    };
    for (i, item) in positions.take(limit) {
        if item == element {
            if skip > 0 {
                skip -= 1;
            } else {
                found.push(i);
                if found.len() >= wanted {
                    break;
                }
            }
        }
    }
    match count {
        Some(_) => {
            reply.array(found.len());
            for i in found {
                reply.int(i as i64);
            }
        }
        None => match found.first() {
            Some(&i) => reply.int(i as i64),
            None => reply.null(),
        },
    }
}

/// Moves one element from `source` to `destination`; replies it, or null
/// when the source is missing. Shared by LMOVE, RPOPLPUSH and their
/// blocking forms.
pub fn move_element(ctx: &mut Ctx, source: &[u8], destination: &[u8], from: End, to: End) -> bool {
    let db = ctx.db_index();
    let (mut keys, reply) = ctx.keys();
    match list_mut(&mut keys, source) {
        Err(()) => {
            reply.error(errors::WRONGTYPE);
            return false;
        }
        Ok(None) => {
            reply.null();
            return false;
        }
        Ok(Some(_)) => {}
    }
    if let Err(()) = list_mut(&mut keys, destination) {
        reply.error(errors::WRONGTYPE);
        return false;
    }
    let changes = Changes::begin();
    let Some(element) = pop_keeping_key(&mut keys, source, from) else {
        reply.null();
        return false;
    };
    reply.bulk(&element);
    push(&mut keys, destination, std::iter::once(element), to);
    delete_if_empty(&mut keys, source);
    // One change, as Redis counts a move.
    changes.made(1);
    ctx.state.signal_key_ready(db, destination);
    // As Redis: the push is announced before the pop.
    ctx.notify(LIST, to.push_event(), destination);
    notify_popped(ctx, source, from);
    true
}

pub(super) fn lmove(ctx: &mut Ctx, args: Args) {
    let (Some(from), Some(to)) = (parse_end(args.get(3)), parse_end(args.get(4))) else {
        return ctx.reply.error(errors::SYNTAX);
    };
    move_element(ctx, args.get(1), args.get(2), from, to);
}

pub(super) fn rpoplpush(ctx: &mut Ctx, args: Args) {
    move_element(ctx, args.get(1), args.get(2), End::Right, End::Left);
}

/// Parses `numkeys key [key ...] LEFT|RIGHT [COUNT count]` (also used for
/// ZMPOP's MIN|MAX through `parse_end_word`).
pub fn parse_multi_pop<'a, E>(
    reply: &mut Reply,
    args: &Args<'a>,
    first: usize,
    parse_end_word: impl Fn(&[u8]) -> Option<E>,
) -> Option<(Vec<&'a [u8]>, E, usize)> {
    let numkeys = match crate::protocol::parse_i64(args.get(first)) {
        Some(n) if n >= 1 => n as usize,
        _ => {
            reply.error("ERR numkeys should be greater than 0");
            return None;
        }
    };
    let where_index = first + 1 + numkeys;
    if where_index >= args.len() || numkeys > args.len() {
        reply.error(errors::SYNTAX);
        return None;
    }
    let Some(end) = parse_end_word(args.get(where_index)) else {
        reply.error(errors::SYNTAX);
        return None;
    };
    let mut count = None;
    let mut j = where_index + 1;
    while j < args.len() {
        if count.is_none() && args.get(j).eq_ignore_ascii_case(b"count") && j + 1 < args.len() {
            match crate::protocol::parse_i64(args.get(j + 1)) {
                Some(n) if n >= 1 => count = Some(n as usize),
                _ => {
                    reply.error("ERR count should be greater than 0");
                    return None;
                }
            }
            j += 2;
        } else {
            reply.error(errors::SYNTAX);
            return None;
        }
    }
    let keys = (first + 1..where_index).map(|i| args.get(i)).collect();
    Some((keys, end, count.unwrap_or(1)))
}

/// Pops from the first non-empty list of `keys`; replies `[key, [elements]]`
/// and returns true, or replies nothing and returns false if all are empty.
pub fn multi_pop(ctx: &mut Ctx, keys_list: &[&[u8]], end: End, count: usize) -> bool {
    let woken = super::blocking::woken_position(ctx, keys_list.iter().copied());
    let (mut keys, reply) = ctx.keys();
    for (n, key) in keys_list.iter().enumerate() {
        if woken.is_some_and(|w| w != n) {
            continue;
        }
        match list_mut(&mut keys, key) {
            Err(()) if woken.is_some() => continue,
            Err(()) => {
                reply.error(errors::WRONGTYPE);
                return true;
            }
            Ok(None) => continue,
            Ok(Some(_)) => {
                reply.array(2);
                reply.bulk(key);
                reply_popped(&mut keys, reply, key, end, count);
                notify_popped(ctx, key, end);
                return true;
            }
        }
    }
    false
}

pub(super) fn lmpop(ctx: &mut Ctx, args: Args) {
    let Some((keys, end, count)) = parse_multi_pop(ctx.reply, &args, 1, parse_end) else {
        return;
    };
    if !multi_pop(ctx, &keys, end, count) {
        ctx.reply.null_array();
    }
}

#[cfg(test)]
mod tests {
    use super::range;

    #[test]
    fn ranges_follow_redis() {
        assert_eq!(range(0, -1, 5), Some((0, 4)));
        assert_eq!(range(-2, -1, 5), Some((3, 4)));
        assert_eq!(range(3, 1, 5), None);
        assert_eq!(range(5, 10, 5), None);
        assert_eq!(range(-10, 2, 5), Some((0, 2)));
        assert_eq!(range(0, 100, 5), Some((0, 4)));
        assert_eq!(range(0, -1, 0), None);
    }
}
