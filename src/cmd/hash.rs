//! Hash commands. A hash that loses its last field is deleted.

use super::keys::{
    collection_scan_options, paired_count_in_range, random_below, random_count_arg, random_picks,
    scan_positions,
};
use super::{i64_arg, Ctx, Keys};
use crate::db::hash::HashValue;
use crate::db::{Changes, Value};
use crate::errors;
use crate::float::{add_long_double, FloatError};
use crate::glob::glob_match;
use crate::notify::HASH;
use crate::protocol::parse_i64;
use crate::protocol::request::Args;

/// The hash at `key` for reading: `Ok(None)` if missing.
fn read<'k>(keys: &'k mut Keys, key: &[u8]) -> Result<Option<&'k HashValue>, ()> {
    keys.read_as(key, Value::as_hash).map_err(|_| ())
}

/// The hash at `key` for writing, created if missing unless `existing_only`.
fn write<'k>(
    keys: &'k mut Keys,
    key: &[u8],
    create: bool,
) -> Result<Option<&'k mut HashValue>, ()> {
    keys.write_as(
        key,
        create.then_some((|| Value::Hash(Box::default())) as fn() -> Value),
        Value::as_hash_mut,
    )
    .map_err(|_| ())
}

fn hset_generic(ctx: &mut Ctx, args: Args, command: &str) {
    if !args.len().is_multiple_of(2) {
        return ctx.reply.error(&errors::wrong_arity(command));
    }
    let limits = ctx.state.config.hash_limits();
    let changes = Changes::begin();
    let (mut keys, reply) = ctx.keys();
    let hash = match write(&mut keys, args.get(1), true) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return reply.int(0),
        Ok(Some(hash)) => hash,
    };
    let mut created = 0;
    for i in (2..args.len()).step_by(2) {
        if hash.set(args.get(i), args.get(i + 1), limits) {
            created += 1;
        }
    }
    // Every pair counts, new field or not, as in Redis.
    changes.made(args.len() as u64 / 2 - 1);
    if command == "hmset" {
        reply.ok();
    } else {
        reply.int(created);
    }
    ctx.notify(HASH, "hset", args.get(1));
}

pub(super) fn hset(ctx: &mut Ctx, args: Args) {
    hset_generic(ctx, args, "hset");
}

pub(super) fn hmset(ctx: &mut Ctx, args: Args) {
    hset_generic(ctx, args, "hmset");
}

pub(super) fn hsetnx(ctx: &mut Ctx, args: Args) {
    let limits = ctx.state.config.hash_limits();
    let changes = Changes::begin();
    let (mut keys, reply) = ctx.keys();
    match write(&mut keys, args.get(1), true) {
        Err(()) => reply.error(errors::WRONGTYPE),
        Ok(None) => reply.int(0),
        Ok(Some(hash)) => {
            if hash.get(args.get(2)).is_some() {
                reply.int(0);
            } else {
                hash.set(args.get(2), args.get(3), limits);
                changes.made(1);
                reply.int(1);
                ctx.notify(HASH, "hset", args.get(1));
            }
        }
    }
}

pub(super) fn hget(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    match read(&mut keys, args.get(1)) {
        Err(()) => reply.error(errors::WRONGTYPE),
        Ok(hash) => match hash.and_then(|h| h.get(args.get(2))) {
            Some(value) => reply.bulk(value),
            None => reply.null(),
        },
    }
}

pub(super) fn hmget(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    let hash = match read(&mut keys, args.get(1)) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(hash) => hash,
    };
    reply.array(args.len() - 2);
    for field in args.from(2) {
        match hash.and_then(|h| h.get(field)) {
            Some(value) => reply.bulk(value),
            None => reply.null(),
        }
    }
}

pub(super) fn hdel(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let (mut keys, reply) = ctx.keys();
    let hash = match write(&mut keys, key, false) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return reply.int(0),
        Ok(Some(hash)) => hash,
    };
    let removed = args.from(2).filter(|field| hash.remove(field)).count();
    let changes = Changes::begin();
    if hash.is_empty() {
        keys.db.remove(key);
    }
    changes.made(removed as u64);
    reply.int(removed as i64);
    if removed > 0 {
        ctx.notify(HASH, "hdel", key);
        super::list::notify_if_deleted(ctx, key);
    }
}

pub(super) fn hlen(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    match read(&mut keys, args.get(1)) {
        Err(()) => reply.error(errors::WRONGTYPE),
        Ok(hash) => reply.int(hash.map_or(0, |h| h.len() as i64)),
    }
}

pub(super) fn hstrlen(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    match read(&mut keys, args.get(1)) {
        Err(()) => reply.error(errors::WRONGTYPE),
        Ok(hash) => reply.int(
            hash.and_then(|h| h.get(args.get(2)))
                .map_or(0, |v| v.len() as i64),
        ),
    }
}

pub(super) fn hexists(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    match read(&mut keys, args.get(1)) {
        Err(()) => reply.error(errors::WRONGTYPE),
        Ok(hash) => reply.int(i64::from(hash.and_then(|h| h.get(args.get(2))).is_some())),
    }
}

/// HGETALL, HKEYS, HVALS.
fn hget_many(ctx: &mut Ctx, args: Args, fields: bool, values: bool) {
    let (mut keys, reply) = ctx.keys();
    let hash = match read(&mut keys, args.get(1)) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => {
            return if fields && values {
                reply.map(0)
            } else {
                reply.array(0)
            };
        }
        Ok(Some(hash)) => hash,
    };
    if fields && values {
        reply.map(hash.len());
    } else {
        reply.array(hash.len());
    }
    for (field, value) in hash.iter() {
        if fields {
            reply.bulk(field);
        }
        if values {
            reply.bulk(value);
        }
    }
}

pub(super) fn hgetall(ctx: &mut Ctx, args: Args) {
    hget_many(ctx, args, true, true);
}

pub(super) fn hkeys(ctx: &mut Ctx, args: Args) {
    hget_many(ctx, args, true, false);
}

pub(super) fn hvals(ctx: &mut Ctx, args: Args) {
    hget_many(ctx, args, false, true);
}

pub(super) fn hincrby(ctx: &mut Ctx, args: Args) {
    let Some(delta) = i64_arg(ctx.reply, args.get(3)) else {
        return;
    };
    let limits = ctx.state.config.hash_limits();
    let field = args.get(2);
    let changes = Changes::begin();
    let (mut keys, reply) = ctx.keys();
    let hash = match write(&mut keys, args.get(1), true) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return,
        Ok(Some(hash)) => hash,
    };
    let current = match hash.get(field) {
        None => 0,
        Some(value) => match parse_i64(value) {
            Some(n) => n,
            None => return reply.error("ERR hash value is not an integer"),
        },
    };
    let Some(next) = current.checked_add(delta) else {
        return reply.error("ERR increment or decrement would overflow");
    };
    hash.set(field, itoa::Buffer::new().format(next).as_bytes(), limits);
    changes.made(1);
    reply.int(next);
    ctx.notify(HASH, "hincrby", args.get(1));
}

pub(super) fn hincrbyfloat(ctx: &mut Ctx, args: Args) {
    let limits = ctx.state.config.hash_limits();
    let (field, increment) = (args.get(2), args.get(3));
    // The increment is checked before the hash is touched, as in Redis.
    match add_long_double(None, increment) {
        Err(FloatError::NotAFloat) => return ctx.reply.error(errors::NOT_A_FLOAT),
        Err(FloatError::NanOrInfinity) => return ctx.reply.error("ERR value is NaN or Infinity"),
        Ok(_) => {}
    }
    let changes = Changes::begin();
    let (mut keys, reply) = ctx.keys();
    let hash = match write(&mut keys, args.get(1), true) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return,
        Ok(Some(hash)) => hash,
    };
    let current = hash.get(field).map(<[u8]>::to_vec);
    match add_long_double(current.as_deref(), increment) {
        Ok(text) => {
            hash.set(field, &text, limits);
            changes.made(1);
            reply.bulk(&text);
            ctx.notify(HASH, "hincrbyfloat", args.get(1));
        }
        Err(FloatError::NotAFloat) => reply.error("ERR hash value is not a float"),
        Err(FloatError::NanOrInfinity) => {
            reply.error("ERR increment would produce NaN or Infinity")
        }
    }
}

pub(super) fn hrandfield(ctx: &mut Ctx, args: Args) {
    // The count is parsed before the options are checked, as in Redis.
    let count = if args.len() >= 3 {
        match random_count_arg(ctx.reply, args.get(2)) {
            Some(n) => Some(n),
            None => return,
        }
    } else {
        None
    };
    let with_values = args.len() == 4 && args.get(3).eq_ignore_ascii_case(b"withvalues");
    if args.len() > 4 || (args.len() == 4 && !with_values) {
        return ctx.reply.error(errors::SYNTAX);
    }
    if with_values && !count.is_some_and(|n| paired_count_in_range(ctx.reply, n)) {
        return;
    }
    let resp3 = ctx.reply.is_resp3();
    let (mut keys, reply) = ctx.keys();
    let hash = match read(&mut keys, args.get(1)) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => {
            return if count.is_some() {
                reply.array(0)
            } else {
                reply.null()
            }
        }
        Ok(Some(hash)) => hash,
    };
    let len = hash.len();
    let Some(count) = count else {
        if let Some((field, _)) = hash.at(random_below(len)) {
            reply.bulk(field);
        }
        return;
    };
    let picks = random_picks(len, count);
    if with_values && resp3 {
        reply.array(picks.len());
    } else {
        reply.array(picks.len() * if with_values { 2 } else { 1 });
    }
    for i in picks {
        if let Some((field, value)) = hash.at(i) {
            if with_values && resp3 {
                reply.array(2);
            }
            reply.bulk(field);
            if with_values {
                reply.bulk(value);
            }
        }
    }
}

pub(super) fn hscan(ctx: &mut Ctx, args: Args) {
    let Some(options) = collection_scan_options(ctx, &args, |v| matches!(v, Value::Hash(_))) else {
        return;
    };
    let (mut keys, reply) = ctx.keys();
    let hash = match read(&mut keys, args.get(1)) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => {
            reply.array(2);
            reply.bulk(b"0");
            return reply.array(0);
        }
        Ok(Some(hash)) => hash,
    };
    // A small hash is returned whole, as Redis does for listpacks.
    let (next, positions) = match hash {
        HashValue::Small(_) => (0, 0..hash.len()),
        HashValue::Big(_) => {
            let (next, range) = scan_positions(options.cursor, hash.len(), options.count);
            (next, range)
        }
    };
    let small = matches!(hash, HashValue::Small(_));
    let mut found: Vec<(&[u8], &[u8])> = Vec::new();
    let ordered: Box<dyn Iterator<Item = usize>> = if small {
        Box::new(positions)
    } else {
        Box::new(positions.rev())
    };
    for i in ordered {
        if let Some((field, value)) = hash.at(i) {
            if options.pattern.is_none_or(|p| glob_match(p, field, false)) {
                found.push((field, value));
            }
        }
    }
    reply.array(2);
    reply.bulk_int(next as i64);
    reply.array(found.len() * 2);
    for (field, value) in found {
        reply.bulk(field);
        reply.bulk(value);
    }
}
