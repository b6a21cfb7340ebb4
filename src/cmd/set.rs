//! Set commands. Small all-integer sets are sorted (intset), so their
//! order matches Redis's; a set that loses its last member is deleted.

use super::keys::{
    collection_scan_options, random_below, random_count_arg, random_picks, scan_positions,
};
use super::{optional_count_arg, Ctx, Keys};
use crate::db::set::SetValue;
use crate::db::{Changes, Value};
use crate::errors;
use crate::glob::glob_match;
use crate::notify::{GENERIC, SET};
use crate::protocol::parse_i64;
use crate::protocol::request::Args;

fn read<'k>(keys: &'k mut Keys, key: &[u8]) -> Result<Option<&'k SetValue>, ()> {
    keys.read_as(key, Value::as_set).map_err(|_| ())
}

/// A set looked at before the command decides to change it (see
/// `Keys::look_for_write`).
fn look<'k>(keys: &'k mut Keys, key: &[u8]) -> Result<Option<&'k SetValue>, ()> {
    match keys.look_for_write(key) {
        None => Ok(None),
        Some(value) => value.as_set().map(Some).map_err(|_| ()),
    }
}

fn write<'k>(keys: &'k mut Keys, key: &[u8], create: bool) -> Result<Option<&'k mut SetValue>, ()> {
    keys.write_as(
        key,
        create.then_some((|| Value::Set(Box::default())) as fn() -> Value),
        Value::as_set_mut,
    )
    .map_err(|_| ())
}

pub(super) fn sadd(ctx: &mut Ctx, args: Args) {
    let max_intset = ctx.state.config.set_max_intset_entries;
    let changes = Changes::begin();
    let (mut keys, reply) = ctx.keys();
    match write(&mut keys, args.get(1), true) {
        Err(()) => reply.error(errors::WRONGTYPE),
        Ok(None) => reply.int(0),
        Ok(Some(set)) => {
            let added = args.from(2).filter(|m| set.add(m, max_intset)).count();
            changes.made(added as u64);
            reply.int(added as i64);
            if added > 0 {
                ctx.notify(SET, "sadd", args.get(1));
            }
        }
    }
}

pub(super) fn srem(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let (mut keys, reply) = ctx.keys();
    match write(&mut keys, key, false) {
        Err(()) => reply.error(errors::WRONGTYPE),
        Ok(None) => reply.int(0),
        Ok(Some(set)) => {
            let removed = args.from(2).filter(|m| set.remove(m)).count();
            let changes = Changes::begin();
            if set.is_empty() {
                keys.db.remove(key);
            }
            changes.made(removed as u64);
            reply.int(removed as i64);
            if removed > 0 {
                ctx.notify(SET, "srem", key);
                super::list::notify_if_deleted(ctx, key);
            }
        }
    }
}

pub(super) fn scard(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    match read(&mut keys, args.get(1)) {
        Err(()) => reply.error(errors::WRONGTYPE),
        Ok(set) => reply.int(set.map_or(0, |s| s.len() as i64)),
    }
}

pub(super) fn sismember(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    match read(&mut keys, args.get(1)) {
        Err(()) => reply.error(errors::WRONGTYPE),
        Ok(set) => reply.int(i64::from(set.is_some_and(|s| s.contains(args.get(2))))),
    }
}

pub(super) fn smismember(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    let set = match read(&mut keys, args.get(1)) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(set) => set,
    };
    reply.array(args.len() - 2);
    for member in args.from(2) {
        reply.int(i64::from(set.is_some_and(|s| s.contains(member))));
    }
}

pub(super) fn smembers(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    match read(&mut keys, args.get(1)) {
        Err(()) => reply.error(errors::WRONGTYPE),
        Ok(None) => reply.set(0),
        Ok(Some(set)) => {
            let members = set.members();
            reply.set(members.len());
            for member in members {
                reply.bulk(&member);
            }
        }
    }
}

pub(super) fn spop(ctx: &mut Ctx, args: Args) {
    if args.len() > 3 {
        return ctx.reply.error(errors::SYNTAX);
    }
    let Some(count) = optional_count_arg(ctx.reply, &args, 2) else {
        return;
    };
    let key = args.get(1);
    let (mut keys, reply) = ctx.keys();
    let set = match write(&mut keys, key, false) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => {
            return if count.is_some() {
                reply.set(0)
            } else {
                reply.null()
            }
        }
        Ok(Some(set)) => set,
    };
    let n = count.unwrap_or(1).min(set.len());
    let mut popped = Vec::with_capacity(n);
    for _ in 0..n {
        if let Some(member) = set.at(random_below(set.len())) {
            set.remove(&member);
            popped.push(member);
        }
    }
    let changes = Changes::begin();
    if set.is_empty() {
        keys.db.remove(key);
    }
    changes.made(popped.len() as u64);
    match count {
        None => match popped.first() {
            Some(member) => reply.bulk(member),
            None => reply.null(),
        },
        Some(_) => {
            reply.set(popped.len());
            for member in &popped {
                reply.bulk(member);
            }
        }
    }
    if !popped.is_empty() {
        ctx.notify(SET, "spop", key);
        super::list::notify_if_deleted(ctx, key);
    }
}

pub(super) fn srandmember(ctx: &mut Ctx, args: Args) {
    if args.len() > 3 {
        return ctx.reply.error(errors::SYNTAX);
    }
    let count = if args.len() == 3 {
        match random_count_arg(ctx.reply, args.get(2)) {
            Some(n) => Some(n),
            None => return,
        }
    } else {
        None
    };
    let (mut keys, reply) = ctx.keys();
    let set = match read(&mut keys, args.get(1)) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => {
            return if count.is_some() {
                reply.array(0)
            } else {
                reply.null()
            }
        }
        Ok(Some(set)) => set,
    };
    let len = set.len();
    let Some(count) = count else {
        if let Some(member) = set.at(random_below(len)) {
            reply.bulk(&member);
        }
        return;
    };
    let picks = random_picks(len, count);
    if count >= 0 {
        reply.set(picks.len());
    } else {
        reply.array(picks.len());
    }
    for i in picks {
        if let Some(member) = set.at(i) {
            reply.bulk(&member);
        }
    }
}

pub(super) fn smove(ctx: &mut Ctx, args: Args) {
    let (source, destination, member) = (args.get(1), args.get(2), args.get(3));
    let max_intset = ctx.state.config.set_max_intset_entries;
    let (mut keys, reply) = ctx.keys();
    // Both are looked at before either is opened for writing, so a move
    // that changes nothing disturbs no client watching them. A missing
    // source answers 0 before the destination's type is checked.
    let has_member = match look(&mut keys, source) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return reply.int(0),
        Ok(Some(set)) => set.contains(member),
    };
    if look(&mut keys, destination).is_err() {
        return reply.error(errors::WRONGTYPE);
    }
    if source == destination || !has_member {
        return reply.int(i64::from(has_member));
    }
    let Ok(Some(set)) = write(&mut keys, source, false) else {
        return reply.int(0);
    };
    set.remove(member);
    // As Redis: one change for the removal, one more if the destination
    // did not have the member.
    let changes = Changes::begin();
    let emptied = set.is_empty();
    if emptied {
        keys.db.remove(source);
    }
    ctx.notify(SET, "srem", source);
    if emptied {
        ctx.notify(GENERIC, "del", source);
    }
    let (mut keys, _) = ctx.keys();
    // A destination that has the member is not opened for writing, so a
    // client watching it is not disturbed.
    let present =
        matches!(look(&mut keys, destination), Ok(Some(target)) if target.contains(member));
    let added = !present
        && match write(&mut keys, destination, true) {
            Ok(Some(target)) => target.add(member, max_intset),
            _ => false,
        };
    changes.made(1 + u64::from(added));
    if added {
        ctx.notify(SET, "sadd", destination);
    }
    ctx.reply.int(1);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Algebra {
    Inter,
    Union,
    Diff,
}

/// Loads the sets named by `names`; missing keys are empty sets. Replies
/// WRONGTYPE and returns `None` if any key holds another type.
fn load_sets(keys: &mut Keys, names: &[&[u8]]) -> Result<Vec<Option<Vec<Vec<u8>>>>, ()> {
    let mut sets = Vec::with_capacity(names.len());
    for name in names {
        match read(keys, name)? {
            None => sets.push(None),
            Some(set) => sets.push(Some(set.members())),
        }
    }
    Ok(sets)
}

fn compute(op: Algebra, sets: &[Option<Vec<Vec<u8>>>]) -> Vec<Vec<u8>> {
    use std::collections::HashSet;
    match op {
        Algebra::Inter => {
            if sets.iter().any(Option::is_none) {
                return Vec::new();
            }
            let mut all: Vec<&Vec<Vec<u8>>> = sets.iter().flatten().collect();
            all.sort_by_key(|s| s.len());
            let Some((smallest, others)) = all.split_first() else {
                return Vec::new();
            };
            let others: Vec<HashSet<&[u8]>> = others
                .iter()
                .map(|s| s.iter().map(Vec::as_slice).collect())
                .collect();
            smallest
                .iter()
                .filter(|m| others.iter().all(|o| o.contains(m.as_slice())))
                .cloned()
                .collect()
        }
        Algebra::Union => {
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for member in sets.iter().flatten().flatten() {
                if seen.insert(member.as_slice()) {
                    out.push(member.clone());
                }
            }
            out
        }
        Algebra::Diff => {
            let Some(Some(first)) = sets.first() else {
                return Vec::new();
            };
            let others: HashSet<&[u8]> = sets[1..]
                .iter()
                .flatten()
                .flatten()
                .map(Vec::as_slice)
                .collect();
            first
                .iter()
                .filter(|m| !others.contains(m.as_slice()))
                .cloned()
                .collect()
        }
    }
}

fn set_algebra(ctx: &mut Ctx, args: Args, op: Algebra, store: bool) {
    let first = if store { 2 } else { 1 };
    let names: Vec<&[u8]> = args.from(first).collect();
    let max_intset = ctx.state.config.set_max_intset_entries;
    let (mut keys, reply) = ctx.keys();
    let Ok(sets) = load_sets(&mut keys, &names) else {
        return reply.error(errors::WRONGTYPE);
    };
    let result = compute(op, &sets);
    if store {
        let count = result.len();
        let value = (count > 0).then(|| {
            let mut set = SetValue::default();
            for member in &result {
                set.add(member, max_intset);
            }
            Value::Set(Box::new(set))
        });
        reply.int(count as i64);
        let event = match op {
            Algebra::Inter => "sinterstore",
            Algebra::Union => "sunionstore",
            Algebra::Diff => "sdiffstore",
        };
        super::keys::store_result(ctx, args.get(1), value, SET, event);
    } else {
        reply.set(result.len());
        for member in &result {
            reply.bulk(member);
        }
    }
}

pub(super) fn sinter(ctx: &mut Ctx, args: Args) {
    set_algebra(ctx, args, Algebra::Inter, false);
}

pub(super) fn sunion(ctx: &mut Ctx, args: Args) {
    set_algebra(ctx, args, Algebra::Union, false);
}

pub(super) fn sdiff(ctx: &mut Ctx, args: Args) {
    set_algebra(ctx, args, Algebra::Diff, false);
}

pub(super) fn sinterstore(ctx: &mut Ctx, args: Args) {
    set_algebra(ctx, args, Algebra::Inter, true);
}

pub(super) fn sunionstore(ctx: &mut Ctx, args: Args) {
    set_algebra(ctx, args, Algebra::Union, true);
}

pub(super) fn sdiffstore(ctx: &mut Ctx, args: Args) {
    set_algebra(ctx, args, Algebra::Diff, true);
}

pub(super) fn sintercard(ctx: &mut Ctx, args: Args) {
    let numkeys = match parse_i64(args.get(1)) {
        Some(n) if n >= 1 => n as usize,
        _ => return ctx.reply.error("ERR numkeys should be greater than 0"),
    };
    if numkeys > args.len() - 2 {
        return ctx
            .reply
            .error("ERR Number of keys can't be greater than number of args");
    }
    let mut limit = 0usize;
    let mut j = 2 + numkeys;
    while j < args.len() {
        if args.get(j).eq_ignore_ascii_case(b"limit") && j + 1 < args.len() {
            match parse_i64(args.get(j + 1)) {
                Some(n) if n >= 0 => limit = n as usize,
                _ => return ctx.reply.error("ERR LIMIT can't be negative"),
            }
            j += 2;
        } else {
            return ctx.reply.error(errors::SYNTAX);
        }
    }
    let names: Vec<&[u8]> = (2..2 + numkeys).map(|i| args.get(i)).collect();
    let (mut keys, reply) = ctx.keys();
    let Ok(sets) = load_sets(&mut keys, &names) else {
        return reply.error(errors::WRONGTYPE);
    };
    let count = compute(Algebra::Inter, &sets).len();
    reply.int(if limit > 0 { count.min(limit) } else { count } as i64);
}

pub(super) fn sscan(ctx: &mut Ctx, args: Args) {
    let Some(options) = collection_scan_options(ctx, &args, |v| matches!(v, Value::Set(_))) else {
        return;
    };
    let (mut keys, reply) = ctx.keys();
    let set = match read(&mut keys, args.get(1)) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => {
            reply.array(2);
            reply.bulk(b"0");
            return reply.array(0);
        }
        Ok(Some(set)) => set,
    };
    // An intset is returned whole, as Redis does.
    let (next, members): (u64, Vec<Vec<u8>>) = match set {
        SetValue::Ints(_) => (0, set.members()),
        SetValue::Big(_) => {
            let (next, range) = scan_positions(options.cursor, set.len(), options.count);
            (next, range.rev().filter_map(|i| set.at(i)).collect())
        }
    };
    let found: Vec<&Vec<u8>> = members
        .iter()
        .filter(|m| options.pattern.is_none_or(|p| glob_match(p, m, false)))
        .collect();
    reply.array(2);
    reply.bulk_int(next as i64);
    reply.array(found.len());
    for member in found {
        reply.bulk(member);
    }
}
