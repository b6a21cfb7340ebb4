//! Hash commands. A hash that loses its last field is deleted.

use super::keys::{
    collection_scan_options, random_below, random_count_arg, random_picks, scan_positions,
};
use super::{i64_arg, Arg, BeginSearch, Command, Ctx, FindKeys, KeySpec, Keys};
use crate::db::hash::HashValue;
use crate::db::Value;
use crate::errors;
use crate::float::{add_long_double, FloatError};
use crate::glob::glob_match;
use crate::protocol::parse_i64;
use crate::protocol::request::Args;

pub static COMMANDS: [Command; 16] = [
    Command {
        name: "hset",
        handler: hset,
        arity: -4,
        flags: "write denyoom fast",
        acl: "write hash fast",
        keys: (1, 1, 1),
        key_specs: &[
            KeySpec { notes: "", flags: "RW update", begin: BeginSearch::Index(1), find: FindKeys::Range(0, 1, 0) },
        ],
        group: "hash",
        since: "2.0.0",
        summary: "Set the string value of a hash field",
        complexity: "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.",
        history: &[("4.0.0", "Accepts multiple `field` and `value` arguments.")],
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: 0, ..Arg::BASE },
            Arg { name: "field_value", kind: "block", flags: "multiple", args: &[
                Arg { name: "field", kind: "string", ..Arg::BASE },
                Arg { name: "value", kind: "string", ..Arg::BASE },
                ], ..Arg::BASE },
        ],
        ..Command::BASE
    },
    Command {
        name: "hsetnx",
        handler: hsetnx,
        arity: 4,
        flags: "write denyoom fast",
        acl: "write hash fast",
        keys: (1, 1, 1),
        key_specs: &[
            KeySpec { notes: "", flags: "RW insert", begin: BeginSearch::Index(1), find: FindKeys::Range(0, 1, 0) },
        ],
        group: "hash",
        since: "2.0.0",
        summary: "Set the value of a hash field, only if the field does not exist",
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: 0, ..Arg::BASE },
            Arg { name: "field", kind: "string", ..Arg::BASE },
            Arg { name: "value", kind: "string", ..Arg::BASE },
        ],
        ..Command::BASE
    },
    Command {
        name: "hget",
        handler: hget,
        arity: 3,
        flags: "readonly fast",
        acl: "read hash fast",
        keys: (1, 1, 1),
        key_specs: &[
            KeySpec { notes: "", flags: "RO access", begin: BeginSearch::Index(1), find: FindKeys::Range(0, 1, 0) },
        ],
        group: "hash",
        since: "2.0.0",
        summary: "Get the value of a hash field",
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: 0, ..Arg::BASE },
            Arg { name: "field", kind: "string", ..Arg::BASE },
        ],
        ..Command::BASE
    },
    Command {
        name: "hmget",
        handler: hmget,
        arity: -3,
        flags: "readonly fast",
        acl: "read hash fast",
        keys: (1, 1, 1),
        key_specs: &[
            KeySpec { notes: "", flags: "RO access", begin: BeginSearch::Index(1), find: FindKeys::Range(0, 1, 0) },
        ],
        group: "hash",
        since: "2.0.0",
        summary: "Get the values of all the given hash fields",
        complexity: "O(N) where N is the number of fields being requested.",
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: 0, ..Arg::BASE },
            Arg { name: "field", kind: "string", flags: "multiple", ..Arg::BASE },
        ],
        ..Command::BASE
    },
    Command {
        name: "hmset",
        handler: hmset,
        arity: -4,
        flags: "write denyoom fast",
        acl: "write hash fast",
        keys: (1, 1, 1),
        key_specs: &[
            KeySpec { notes: "", flags: "RW update", begin: BeginSearch::Index(1), find: FindKeys::Range(0, 1, 0) },
        ],
        group: "hash",
        since: "2.0.0",
        summary: "Set multiple hash fields to multiple values",
        complexity: "O(N) where N is the number of fields being set.",
        doc_flags: "deprecated",
        deprecated_since: "4.0.0",
        replaced_by: "`HSET` with multiple field-value pairs",
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: 0, ..Arg::BASE },
            Arg { name: "field_value", kind: "block", flags: "multiple", args: &[
                Arg { name: "field", kind: "string", ..Arg::BASE },
                Arg { name: "value", kind: "string", ..Arg::BASE },
                ], ..Arg::BASE },
        ],
        ..Command::BASE
    },
    Command {
        name: "hdel",
        handler: hdel,
        arity: -3,
        flags: "write fast",
        acl: "write hash fast",
        keys: (1, 1, 1),
        key_specs: &[
            KeySpec { notes: "", flags: "RW delete", begin: BeginSearch::Index(1), find: FindKeys::Range(0, 1, 0) },
        ],
        group: "hash",
        since: "2.0.0",
        summary: "Delete one or more hash fields",
        complexity: "O(N) where N is the number of fields to be removed.",
        history: &[("2.4.0", "Accepts multiple `field` arguments.")],
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: 0, ..Arg::BASE },
            Arg { name: "field", kind: "string", flags: "multiple", ..Arg::BASE },
        ],
        ..Command::BASE
    },
    Command {
        name: "hlen",
        handler: hlen,
        arity: 2,
        flags: "readonly fast",
        acl: "read hash fast",
        keys: (1, 1, 1),
        key_specs: &[
            KeySpec { notes: "", flags: "RO", begin: BeginSearch::Index(1), find: FindKeys::Range(0, 1, 0) },
        ],
        group: "hash",
        since: "2.0.0",
        summary: "Get the number of fields in a hash",
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: 0, ..Arg::BASE },
        ],
        ..Command::BASE
    },
    Command {
        name: "hstrlen",
        handler: hstrlen,
        arity: 3,
        flags: "readonly fast",
        acl: "read hash fast",
        keys: (1, 1, 1),
        key_specs: &[
            KeySpec { notes: "", flags: "RO", begin: BeginSearch::Index(1), find: FindKeys::Range(0, 1, 0) },
        ],
        group: "hash",
        since: "3.2.0",
        summary: "Get the length of the value of a hash field",
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: 0, ..Arg::BASE },
            Arg { name: "field", kind: "string", ..Arg::BASE },
        ],
        ..Command::BASE
    },
    Command {
        name: "hexists",
        handler: hexists,
        arity: 3,
        flags: "readonly fast",
        acl: "read hash fast",
        keys: (1, 1, 1),
        key_specs: &[
            KeySpec { notes: "", flags: "RO", begin: BeginSearch::Index(1), find: FindKeys::Range(0, 1, 0) },
        ],
        group: "hash",
        since: "2.0.0",
        summary: "Determine if a hash field exists",
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: 0, ..Arg::BASE },
            Arg { name: "field", kind: "string", ..Arg::BASE },
        ],
        ..Command::BASE
    },
    Command {
        name: "hgetall",
        handler: hgetall,
        arity: 2,
        flags: "readonly",
        acl: "read hash slow",
        tips: "nondeterministic_output_order",
        keys: (1, 1, 1),
        key_specs: &[
            KeySpec { notes: "", flags: "RO access", begin: BeginSearch::Index(1), find: FindKeys::Range(0, 1, 0) },
        ],
        group: "hash",
        since: "2.0.0",
        summary: "Get all the fields and values in a hash",
        complexity: "O(N) where N is the size of the hash.",
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: 0, ..Arg::BASE },
        ],
        ..Command::BASE
    },
    Command {
        name: "hkeys",
        handler: hkeys,
        arity: 2,
        flags: "readonly",
        acl: "read hash slow",
        tips: "nondeterministic_output_order",
        keys: (1, 1, 1),
        key_specs: &[
            KeySpec { notes: "", flags: "RO access", begin: BeginSearch::Index(1), find: FindKeys::Range(0, 1, 0) },
        ],
        group: "hash",
        since: "2.0.0",
        summary: "Get all the fields in a hash",
        complexity: "O(N) where N is the size of the hash.",
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: 0, ..Arg::BASE },
        ],
        ..Command::BASE
    },
    Command {
        name: "hvals",
        handler: hvals,
        arity: 2,
        flags: "readonly",
        acl: "read hash slow",
        tips: "nondeterministic_output_order",
        keys: (1, 1, 1),
        key_specs: &[
            KeySpec { notes: "", flags: "RO access", begin: BeginSearch::Index(1), find: FindKeys::Range(0, 1, 0) },
        ],
        group: "hash",
        since: "2.0.0",
        summary: "Get all the values in a hash",
        complexity: "O(N) where N is the size of the hash.",
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: 0, ..Arg::BASE },
        ],
        ..Command::BASE
    },
    Command {
        name: "hincrby",
        handler: hincrby,
        arity: 4,
        flags: "write denyoom fast",
        acl: "write hash fast",
        keys: (1, 1, 1),
        key_specs: &[
            KeySpec { notes: "", flags: "RW access update", begin: BeginSearch::Index(1), find: FindKeys::Range(0, 1, 0) },
        ],
        group: "hash",
        since: "2.0.0",
        summary: "Increment the integer value of a hash field by the given number",
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: 0, ..Arg::BASE },
            Arg { name: "field", kind: "string", ..Arg::BASE },
            Arg { name: "increment", kind: "integer", ..Arg::BASE },
        ],
        ..Command::BASE
    },
    Command {
        name: "hincrbyfloat",
        handler: hincrbyfloat,
        arity: 4,
        flags: "write denyoom fast",
        acl: "write hash fast",
        keys: (1, 1, 1),
        key_specs: &[
            KeySpec { notes: "", flags: "RW access update", begin: BeginSearch::Index(1), find: FindKeys::Range(0, 1, 0) },
        ],
        group: "hash",
        since: "2.6.0",
        summary: "Increment the float value of a hash field by the given amount",
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: 0, ..Arg::BASE },
            Arg { name: "field", kind: "string", ..Arg::BASE },
            Arg { name: "increment", kind: "double", ..Arg::BASE },
        ],
        ..Command::BASE
    },
    Command {
        name: "hrandfield",
        handler: hrandfield,
        arity: -2,
        flags: "readonly",
        acl: "read hash slow",
        tips: "nondeterministic_output",
        keys: (1, 1, 1),
        key_specs: &[
            KeySpec { notes: "", flags: "RO access", begin: BeginSearch::Index(1), find: FindKeys::Range(0, 1, 0) },
        ],
        group: "hash",
        since: "6.2.0",
        summary: "Get one or multiple random fields from a hash",
        complexity: "O(N) where N is the number of fields returned",
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: 0, ..Arg::BASE },
            Arg { name: "options", kind: "block", flags: "optional", args: &[
                Arg { name: "count", kind: "integer", ..Arg::BASE },
                Arg { name: "withvalues", kind: "pure-token", token: "WITHVALUES", flags: "optional", ..Arg::BASE },
                ], ..Arg::BASE },
        ],
        ..Command::BASE
    },
    Command {
        name: "hscan",
        handler: hscan,
        arity: -3,
        flags: "readonly",
        acl: "read hash slow",
        tips: "nondeterministic_output",
        keys: (1, 1, 1),
        key_specs: &[
            KeySpec { notes: "", flags: "RO access", begin: BeginSearch::Index(1), find: FindKeys::Range(0, 1, 0) },
        ],
        group: "hash",
        since: "2.8.0",
        summary: "Incrementally iterate hash fields and associated values",
        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: 0, ..Arg::BASE },
            Arg { name: "cursor", kind: "integer", ..Arg::BASE },
            Arg { name: "pattern", kind: "pattern", token: "MATCH", flags: "optional", ..Arg::BASE },
            Arg { name: "count", kind: "integer", token: "COUNT", flags: "optional", ..Arg::BASE },
        ],
        ..Command::BASE
    },
];

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
    if command == "hmset" {
        reply.ok();
    } else {
        reply.int(created);
    }
}

fn hset(ctx: &mut Ctx, args: Args) {
    hset_generic(ctx, args, "hset");
}

fn hmset(ctx: &mut Ctx, args: Args) {
    hset_generic(ctx, args, "hmset");
}

fn hsetnx(ctx: &mut Ctx, args: Args) {
    let limits = ctx.state.config.hash_limits();
    let (mut keys, reply) = ctx.keys();
    match write(&mut keys, args.get(1), true) {
        Err(()) => reply.error(errors::WRONGTYPE),
        Ok(None) => reply.int(0),
        Ok(Some(hash)) => {
            if hash.get(args.get(2)).is_some() {
                reply.int(0);
            } else {
                hash.set(args.get(2), args.get(3), limits);
                reply.int(1);
            }
        }
    }
}

fn hget(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    match read(&mut keys, args.get(1)) {
        Err(()) => reply.error(errors::WRONGTYPE),
        Ok(hash) => match hash.and_then(|h| h.get(args.get(2))) {
            Some(value) => reply.bulk(value),
            None => reply.null(),
        },
    }
}

fn hmget(ctx: &mut Ctx, args: Args) {
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

fn hdel(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let (mut keys, reply) = ctx.keys();
    let hash = match write(&mut keys, key, false) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return reply.int(0),
        Ok(Some(hash)) => hash,
    };
    let removed = args.from(2).filter(|field| hash.remove(field)).count();
    if hash.is_empty() {
        keys.db.remove(key);
    }
    reply.int(removed as i64);
}

fn hlen(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    match read(&mut keys, args.get(1)) {
        Err(()) => reply.error(errors::WRONGTYPE),
        Ok(hash) => reply.int(hash.map_or(0, |h| h.len() as i64)),
    }
}

fn hstrlen(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    match read(&mut keys, args.get(1)) {
        Err(()) => reply.error(errors::WRONGTYPE),
        Ok(hash) => reply.int(
            hash.and_then(|h| h.get(args.get(2)))
                .map_or(0, |v| v.len() as i64),
        ),
    }
}

fn hexists(ctx: &mut Ctx, args: Args) {
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

fn hgetall(ctx: &mut Ctx, args: Args) {
    hget_many(ctx, args, true, true);
}

fn hkeys(ctx: &mut Ctx, args: Args) {
    hget_many(ctx, args, true, false);
}

fn hvals(ctx: &mut Ctx, args: Args) {
    hget_many(ctx, args, false, true);
}

fn hincrby(ctx: &mut Ctx, args: Args) {
    let Some(delta) = i64_arg(ctx.reply, args.get(3)) else {
        return;
    };
    let limits = ctx.state.config.hash_limits();
    let field = args.get(2);
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
    reply.int(next);
}

fn hincrbyfloat(ctx: &mut Ctx, args: Args) {
    let limits = ctx.state.config.hash_limits();
    let (field, increment) = (args.get(2), args.get(3));
    // The increment is checked before the hash is touched, as in Redis.
    match add_long_double(None, increment) {
        Err(FloatError::NotAFloat) => return ctx.reply.error(errors::NOT_A_FLOAT),
        Err(FloatError::NanOrInfinity) => return ctx.reply.error("ERR value is NaN or Infinity"),
        Ok(_) => {}
    }
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
            reply.bulk(&text);
        }
        Err(FloatError::NotAFloat) => reply.error("ERR hash value is not a float"),
        Err(FloatError::NanOrInfinity) => {
            reply.error("ERR increment would produce NaN or Infinity")
        }
    }
}

fn hrandfield(ctx: &mut Ctx, args: Args) {
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

fn hscan(ctx: &mut Ctx, args: Args) {
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
