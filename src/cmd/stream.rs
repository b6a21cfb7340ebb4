//! Stream commands (Redis's `t_stream.c`): XADD, XLEN, XRANGE,
//! XREVRANGE and XDEL.

use super::{Ctx, Keys};
use crate::db::stream::{parse_id, NodeLimits, Stream, StreamId, Trim};
use crate::db::{add_dirty, Changes, Value};
use crate::errors;
use crate::protocol::request::Args;
use crate::protocol::Reply;

pub const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
/// Redis 7.0 names XREAD and `$` here for XREADGROUP too.
const UNBALANCED: &str =
    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.";
const NOTIFY_STREAM: u32 = crate::notify::STREAM;

fn limits(ctx: &Ctx) -> NodeLimits {
    NodeLimits {
        max_bytes: ctx.state.config.stream_node_max_bytes,
        max_entries: ctx.state.config.stream_node_max_entries,
    }
}

/// The stream at `key` for reading, `Err` for WRONGTYPE.
fn read<'k>(keys: &'k mut Keys, key: &[u8]) -> Result<Option<&'k Stream>, ()> {
    keys.read_as(key, Value::as_stream).map_err(|_| ())
}

/// An entry as RESP: its ID, then its fields and values.
fn reply_entry(reply: &mut Reply, id: StreamId, fields: &[&[u8]]) {
    reply.array(2);
    reply.bulk(id.to_string().as_bytes());
    reply.array(fields.len());
    for part in fields {
        reply.bulk(part);
    }
}

/// XADD's ID argument: `*`, `ms-*`, or an ID.
enum AddId {
    Auto,
    Ms(u64),
    Full(StreamId),
}

fn parse_add_id(arg: &[u8]) -> Option<AddId> {
    if arg == b"*" {
        return Some(AddId::Auto);
    }
    if let Some(ms) = arg.strip_suffix(b"-*") {
        return parse_id(ms, 0, true)
            .filter(|id| id.seq == 0 && !ms.contains(&b'-'))
            .map(|id| AddId::Ms(id.ms));
    }
    parse_id(arg, 0, true).map(AddId::Full)
}

/// XADD's and XTRIM's options (`streamParseAddOrTrimArgsOrReply`).
struct TrimArgs {
    strategy: Option<Trim>,
    approx: bool,
    limit: usize,
    no_mkstream: bool,
    /// Where XADD's ID is.
    id_at: usize,
}

fn parse_trim_args(ctx: &mut Ctx, args: &Args, xadd: bool) -> Option<TrimArgs> {
    let mut parsed = TrimArgs {
        strategy: None,
        approx: false,
        limit: 0,
        no_mkstream: false,
        id_at: args.len(),
    };
    let mut limit_given = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = args.get(i);
        if xadd && opt == b"*" {
            break;
        }
        let maxlen = opt.eq_ignore_ascii_case(b"maxlen");
        if (maxlen || opt.eq_ignore_ascii_case(b"minid")) && more >= 1 {
            if parsed.strategy.is_some() {
                ctx.reply.error(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                );
                return None;
            }
            parsed.approx = false;
            let next = args.get(i + 1);
            if more >= 2 && next == b"~" {
                parsed.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let value = args.get(i + 1);
            parsed.strategy = Some(if maxlen {
                let n = super::i64_arg(ctx.reply, value)?;
                if n < 0 {
                    ctx.reply.error("ERR The MAXLEN argument must be >= 0.");
                    return None;
                }
                Trim::MaxLen(n as usize)
            } else {
                let Some(id) = parse_id(value, 0, true) else {
                    ctx.reply.error(INVALID_ID);
                    return None;
                };
                Trim::MinId(id)
            });
            i += 1;
        } else if opt.eq_ignore_ascii_case(b"limit") && more >= 1 {
            let n = super::i64_arg(ctx.reply, args.get(i + 1))?;
            if n < 0 {
                ctx.reply.error("ERR The LIMIT argument must be >= 0.");
                return None;
            }
            limit_given = Some(n as usize);
            i += 1;
        } else if xadd && opt.eq_ignore_ascii_case(b"nomkstream") {
            parsed.no_mkstream = true;
        } else if xadd {
            break;
        } else {
            ctx.reply.error(errors::SYNTAX);
            return None;
        }
        i += 1;
    }
    parsed.id_at = i;
    if limit_given.is_some() && parsed.strategy.is_none() {
        ctx.reply
            .error("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return None;
    }
    if !xadd && parsed.strategy.is_none() {
        ctx.reply
            .error("ERR syntax error, XTRIM must be called with a trimming strategy");
        return None;
    }
    if ctx.state.replaying {
        parsed.limit = 0;
    } else if let Some(limit) = limit_given {
        if !parsed.approx {
            ctx.reply
                .error("ERR syntax error, LIMIT cannot be used without the special ~ option");
            return None;
        }
        parsed.limit = limit;
    } else if parsed.approx {
        let entries = ctx.state.config.stream_node_max_entries;
        parsed.limit = match 100 * entries {
            0 => 10_000,
            n if n > 10_000 => 10_000,
            n => n,
        };
    }
    Some(parsed)
}

/// `XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]]
/// *|id field value [field value ...]`.
pub(super) fn xadd(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let Some(trim) = parse_trim_args(ctx, &args, true) else {
        return;
    };
    let (at, no_mkstream) = (trim.id_at, trim.no_mkstream);
    if at >= args.len() {
        return ctx.reply.error(&errors::wrong_arity("xadd"));
    }
    let Some(requested) = parse_add_id(args.get(at)) else {
        return ctx.reply.error(INVALID_ID);
    };
    let fields_at = at + 1;
    let pairs = args.len() - fields_at;
    if pairs < 2 || !pairs.is_multiple_of(2) {
        return ctx.reply.error(&errors::wrong_arity("xadd"));
    }
    if let AddId::Full(StreamId { ms: 0, seq: 0 }) = requested {
        return ctx
            .reply
            .error("ERR The ID specified in XADD must be greater than 0-0");
    }
    let limits = limits(ctx);
    let now_ms = ctx.now_ms.max(0) as u64;
    let changes = Changes::begin();
    let (mut keys, reply) = ctx.keys();
    match keys.write(key) {
        None if no_mkstream => return reply.null(),
        None => keys.db.set(key, Value::Stream(Box::default()), false),
        Some(Value::Stream(_)) => {}
        Some(_) => return reply.error(errors::WRONGTYPE),
    }
    let Some(Ok(stream)) = keys.db.get_mut(key).map(Value::as_stream_mut) else {
        return reply.error(errors::WRONGTYPE);
    };
    let last = stream.last_id;
    if last == StreamId::MAX {
        return reply
            .error("ERR The stream has exhausted the last possible ID, unable to add more items");
    }
    let id = match requested {
        AddId::Full(id) => Some(id),
        AddId::Ms(ms) if ms == last.ms => last.next().filter(|n| n.ms == ms),
        AddId::Ms(ms) => Some(StreamId::new(ms, 0)),
        AddId::Auto if now_ms > last.ms => Some(StreamId::new(now_ms, 0)),
        AddId::Auto => last.next(),
    };
    let Some(id) = id.filter(|&id| id > last) else {
        return reply.error(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        );
    };
    let fields: Vec<&[u8]> = (fields_at..args.len()).map(|i| args.get(i)).collect();
    stream.append(id, &fields, limits);
    let trimmed = trim
        .strategy
        .map_or(0, |strategy| stream.trim(strategy, trim.approx, trim.limit));
    // One change, the stream made and the entries trimmed included.
    changes.made(1);
    reply.bulk(id.to_string().as_bytes());
    ctx.notify(NOTIFY_STREAM, "xadd", key);
    let db = ctx.db_index();
    ctx.state.signal_key_ready(db, key);
    if trimmed > 0 {
        ctx.notify(NOTIFY_STREAM, "xtrim", key);
    }
}

/// `XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]`: how many
/// entries went.
pub(super) fn xtrim(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let Some(trim) = parse_trim_args(ctx, &args, false) else {
        return;
    };
    let (mut keys, reply) = ctx.keys();
    match keys.write(key) {
        None => return reply.int(0),
        Some(Value::Stream(_)) => {}
        Some(_) => return reply.error(errors::WRONGTYPE),
    }
    let Some(strategy) = trim.strategy else {
        return;
    };
    let (keys, reply) = ctx.keys();
    let Some(Ok(stream)) = keys.db.get_mut(key).map(Value::as_stream_mut) else {
        return reply.int(0);
    };
    let trimmed = stream.trim(strategy, trim.approx, trim.limit);
    // Nothing went: nothing to log, as in Redis.
    add_dirty(trimmed as u64);
    reply.int(trimmed as i64);
    if trimmed > 0 {
        ctx.notify(NOTIFY_STREAM, "xtrim", key);
    }
}

/// `XLEN key`.
pub(super) fn xlen(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    match read(&mut keys, args.get(1)) {
        Err(()) => reply.error(errors::WRONGTYPE),
        Ok(stream) => reply.int(stream.map_or(0, Stream::len) as i64),
    }
}

/// A range bound: `-`, `+`, an ID (a missing sequence is 0 for a start,
/// the highest for an end), or `(` before one for an exclusive bound.
fn range_bound(arg: &[u8], start: bool) -> Result<Option<StreamId>, &'static str> {
    let missing = if start { 0 } else { u64::MAX };
    if let Some(inner) = arg.strip_prefix(b"(") {
        let id = parse_id(inner, missing, true).ok_or(INVALID_ID)?;
        return if start {
            id.next()
                .map(Some)
                .ok_or("ERR invalid start ID for the interval")
        } else {
            id.prev()
                .map(Some)
                .ok_or("ERR invalid end ID for the interval")
        };
    }
    parse_id(arg, missing, false).map(Some).ok_or(INVALID_ID)
}

fn xrange_generic(ctx: &mut Ctx, args: Args, rev: bool) {
    let (first, second) = (args.get(2), args.get(3));
    let (start_arg, end_arg) = if rev {
        (second, first)
    } else {
        (first, second)
    };
    let start = match range_bound(start_arg, true) {
        Ok(id) => id.unwrap_or(StreamId::MIN),
        Err(e) => return ctx.reply.error(e),
    };
    let end = match range_bound(end_arg, false) {
        Ok(id) => id.unwrap_or(StreamId::MAX),
        Err(e) => return ctx.reply.error(e),
    };
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if args.get(j).eq_ignore_ascii_case(b"count") && j + 1 < args.len() {
            let Some(n) = super::i64_arg(ctx.reply, args.get(j + 1)) else {
                return;
            };
            count = n.max(0);
            j += 2;
        } else {
            return ctx.reply.error(errors::SYNTAX);
        }
    }
    let (mut keys, reply) = ctx.keys();
    let stream = match read(&mut keys, args.get(1)) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return reply.array(0),
        Ok(Some(stream)) => stream,
    };
    if count == 0 {
        return reply.null_array();
    }
    let entries = stream.range(start, end, count.max(0) as usize, rev);
    reply.array(entries.len());
    for entry in &entries {
        reply_entry(reply, entry.id, &entry.fields);
    }
}

/// `XRANGE key start end [COUNT count]`.
pub(super) fn xrange(ctx: &mut Ctx, args: Args) {
    xrange_generic(ctx, args, false);
}

/// `XREVRANGE key end start [COUNT count]`.
pub(super) fn xrevrange(ctx: &mut Ctx, args: Args) {
    xrange_generic(ctx, args, true);
}

/// `XDEL key id [id ...]`: how many were deleted.
pub(super) fn xdel(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let (mut keys, reply) = ctx.keys();
    // The key first, then every ID before any is deleted, as Redis.
    match keys.write(key) {
        None => return reply.int(0),
        Some(Value::Stream(_)) => {}
        Some(_) => return reply.error(errors::WRONGTYPE),
    }
    let mut ids = Vec::with_capacity(args.len() - 2);
    for arg in args.from(2) {
        match parse_id(arg, 0, true) {
            Some(id) => ids.push(id),
            None => return reply.error(INVALID_ID),
        }
    }
    let Some(Ok(stream)) = keys.db.get_mut(key).map(Value::as_stream_mut) else {
        return reply.int(0);
    };
    let deleted = ids.into_iter().filter(|&id| stream.delete(id)).count();
    add_dirty(deleted as u64);
    reply.int(deleted as i64);
    if deleted > 0 {
        ctx.notify(NOTIFY_STREAM, "xdel", key);
    }
}

/// `XREAD [COUNT count] [BLOCK ms] STREAMS key [key ...] id [id ...]`.
pub(super) fn xread(ctx: &mut Ctx, args: Args) {
    let Some(ReadOptions {
        count,
        timeout,
        streams_at,
        streams,
        ..
    }) = read_options(ctx, &args, false)
    else {
        return;
    };
    let woken = woken_stream(ctx, &args, streams_at, streams);
    // Each stream's ID: `$` is its last ID now.
    let mut after: Vec<StreamId> = Vec::with_capacity(streams);
    {
        let (mut keys, reply) = ctx.keys();
        for s in 0..streams {
            let key = args.get(streams_at + s);
            let id_arg = args.get(streams_at + streams + s);
            let stream = match read(&mut keys, key) {
                // Woken, the IDs are already concrete: a key that is no
                // stream just has nothing for the reader yet.
                Err(()) if woken.is_some() => None,
                Err(()) => return reply.error(errors::WRONGTYPE),
                Ok(stream) => stream,
            };
            if id_arg == b"$" {
                after.push(stream.map_or(StreamId::MIN, |s| s.last_id));
                continue;
            }
            if id_arg == b">" {
                return reply.error("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.");
            }
            match parse_id(id_arg, 0, true) {
                Some(id) => after.push(id),
                None => return reply.error(INVALID_ID),
            }
        }
    }
    // Serve what is there now.
    let (mut keys, reply) = ctx.keys();
    let mut served: Vec<(usize, StreamId)> = Vec::new();
    for (s, &id) in after.iter().enumerate() {
        let key = args.get(streams_at + s);
        match (woken, read(&mut keys, key)) {
            // Woken by one stream, only that one is looked at, and served
            // once its last ID passed the reader's.
            (Some(w), Ok(Some(stream))) if w == s && stream.last_id > id => served.push((s, id)),
            (Some(_), _) => {}
            (None, Ok(Some(stream))) => {
                let last = stream.range(StreamId::MIN, StreamId::MAX, 1, true);
                if last.first().is_some_and(|e| e.id > id) {
                    served.push((s, id));
                }
            }
            (None, _) => {}
        }
    }
    if !served.is_empty() {
        if reply.is_resp3() {
            reply.map(served.len());
        } else {
            reply.array(served.len());
        }
        for (s, id) in served {
            let key = args.get(streams_at + s);
            if !reply.is_resp3() {
                reply.array(2);
            }
            reply.bulk(key);
            let Ok(Some(stream)) = read(&mut keys, key) else {
                reply.array(0);
                continue;
            };
            let start = id.next().unwrap_or(StreamId::MAX);
            let entries = stream.range(start, StreamId::MAX, count, false);
            reply.array(entries.len());
            for entry in &entries {
                reply_entry(reply, entry.id, &entry.fields);
            }
        }
        return;
    }
    let Some(timeout) = timeout else {
        return reply.null_array();
    };
    // Wait, with `$` written as the IDs it stood for.
    let mut command: Vec<Vec<u8>> = args.iter().map(<[u8]>::to_vec).collect();
    for (s, id) in after.iter().enumerate() {
        command[streams_at + streams + s] = id.to_string().into_bytes();
    }
    ctx.state.block_request = Some(crate::state::BlockRequest {
        keys: (0..streams)
            .map(|s| args.get(streams_at + s).to_vec())
            .collect(),
        timeout,
        null_bulk_when_not_blocking: false,
        command: Some(command),
    });
}

/// When a blocked XREAD or XREADGROUP runs again because one of its
/// streams was signalled: which of the listed streams that is.
fn woken_stream(ctx: &Ctx, args: &Args, streams_at: usize, streams: usize) -> Option<usize> {
    super::blocking::woken_position(ctx, (0..streams).map(|s| args.get(streams_at + s)))
}

/// `XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]`.
pub(super) fn xsetid(ctx: &mut Ctx, args: Args) {
    let Some(id) = parse_id(args.get(2), 0, true) else {
        return ctx.reply.error(INVALID_ID);
    };
    let mut entries_added: Option<u64> = None;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = args.get(i);
        if opt.eq_ignore_ascii_case(b"entriesadded") && more >= 1 {
            let Some(n) = super::i64_arg(ctx.reply, args.get(i + 1)) else {
                return;
            };
            if n < 0 {
                return ctx.reply.error("ERR entries_added must be positive");
            }
            entries_added = Some(n as u64);
        } else if opt.eq_ignore_ascii_case(b"maxdeletedid") && more >= 1 {
            let Some(given) = parse_id(args.get(i + 1), 0, true) else {
                return ctx.reply.error(INVALID_ID);
            };
            if id < given {
                return ctx.reply.error(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                );
            }
            max_deleted = given;
        } else {
            return ctx.reply.error(errors::SYNTAX);
        }
        i += 2;
    }
    let key = args.get(1);
    let (mut keys, reply) = ctx.keys();
    match keys.write(key) {
        None => return reply.error("ERR no such key"),
        Some(Value::Stream(_)) => {}
        Some(_) => return reply.error(errors::WRONGTYPE),
    }
    let Some(Ok(stream)) = keys.db.get_mut(key).map(Value::as_stream_mut) else {
        return reply.error("ERR no such key");
    };
    if !stream.is_empty() {
        let top = stream.range(StreamId::MIN, StreamId::MAX, 1, true)[0].id;
        if id < top {
            return reply.error(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            );
        }
        if entries_added.is_some_and(|n| (stream.len() as u64) > n) {
            return reply.error(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            );
        }
    }
    if id < stream.max_deleted_id {
        return reply
            .error("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id");
    }
    stream.last_id = id;
    if let Some(n) = entries_added {
        stream.entries_added = n;
    }
    if max_deleted != StreamId::MIN {
        stream.max_deleted_id = max_deleted;
    }
    add_dirty(1);
    reply.ok();
    ctx.notify(NOTIFY_STREAM, "xsetid", key);
}

fn no_group(key: &[u8], group: &[u8]) -> String {
    format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(group),
        String::from_utf8_lossy(key)
    )
}

const NEEDS_KEY: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";

/// ENTRIESREAD's value: a count, or -1 for unknown.
fn entries_read_arg(ctx: &mut Ctx, arg: &[u8]) -> Option<Option<u64>> {
    let n = super::i64_arg(ctx.reply, arg)?;
    if n < -1 {
        ctx.reply
            .error("ERR value for ENTRIESREAD must be positive or -1");
        return None;
    }
    Some((n >= 0).then_some(n as u64))
}

/// The stream at `key` for a group command: `Err` once the error is
/// replied (wrong type, no key, no group when `group_needed`).
fn stream_for_group<'k>(
    keys: &'k mut Keys,
    reply: &mut Reply,
    key: &[u8],
    group: &[u8],
    group_needed: bool,
) -> Result<&'k mut Stream, ()> {
    match keys.write(key) {
        None => {
            reply.error(NEEDS_KEY);
            return Err(());
        }
        Some(Value::Stream(_)) => {}
        Some(_) => {
            reply.error(errors::WRONGTYPE);
            return Err(());
        }
    }
    let Some(Ok(stream)) = keys.db.get_mut(key).map(Value::as_stream_mut) else {
        return Err(());
    };
    if group_needed && !stream.groups.contains_key(group) {
        reply.error(&no_group(key, group));
        return Err(());
    }
    Ok(stream)
}

/// `XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD n]`.
pub(super) fn xgroup_create(ctx: &mut Ctx, args: Args) {
    if args.len() > 8 {
        return ctx
            .reply
            .error_bytes(&errors::subcommand_syntax(args.get(1), "xgroup"));
    }
    let (key, name, id_arg) = (args.get(2), args.get(3), args.get(4));
    let (mut mkstream, mut entries_read) = (false, None);
    let mut i = 5;
    while i < args.len() {
        if args.get(i).eq_ignore_ascii_case(b"mkstream") {
            mkstream = true;
            i += 1;
        } else if args.get(i).eq_ignore_ascii_case(b"entriesread") && i + 1 < args.len() {
            let Some(n) = entries_read_arg(ctx, args.get(i + 1)) else {
                return;
            };
            entries_read = n;
            i += 2;
        } else {
            return ctx
                .reply
                .error_bytes(&errors::subcommand_syntax(args.get(1), "xgroup"));
        }
    }
    let changes = Changes::begin();
    let (mut keys, reply) = ctx.keys();
    let exists = match keys.write(key) {
        None => false,
        Some(Value::Stream(_)) => true,
        Some(_) => return reply.error(errors::WRONGTYPE),
    };
    if !exists && !mkstream {
        return reply.error(NEEDS_KEY);
    }
    let last = match keys.db.get(key) {
        Some(Value::Stream(s)) => s.last_id,
        _ => StreamId::MIN,
    };
    let id = if id_arg == b"$" {
        last
    } else {
        match parse_id(id_arg, 0, true) {
            Some(id) => id,
            None => return reply.error(INVALID_ID),
        }
    };
    if !exists {
        keys.db.set(key, Value::Stream(Box::default()), false);
    }
    let Some(Ok(stream)) = keys.db.get_mut(key).map(Value::as_stream_mut) else {
        return reply.error(errors::WRONGTYPE);
    };
    if stream.groups.contains_key(name) {
        return reply.error("BUSYGROUP Consumer Group name already exists");
    }
    stream.groups.insert(
        name.to_vec(),
        crate::db::stream::Group {
            last_id: id,
            entries_read,
            ..Default::default()
        },
    );
    // The group, and the stream when MKSTREAM made it.
    changes.made(1 + u64::from(!exists));
    reply.ok();
    ctx.notify(NOTIFY_STREAM, "xgroup-create", key);
}

/// `XGROUP SETID key group id|$ [ENTRIESREAD n]`.
pub(super) fn xgroup_setid(ctx: &mut Ctx, args: Args) {
    if args.len() != 5 && args.len() != 7 {
        return ctx
            .reply
            .error_bytes(&errors::subcommand_syntax(args.get(1), "xgroup"));
    }
    let mut entries_read = None;
    if args.len() == 7 {
        if !args.get(5).eq_ignore_ascii_case(b"entriesread") {
            return ctx
                .reply
                .error_bytes(&errors::subcommand_syntax(args.get(1), "xgroup"));
        }
        let Some(n) = entries_read_arg(ctx, args.get(6)) else {
            return;
        };
        entries_read = n;
    }
    let (key, name, id_arg) = (args.get(2), args.get(3), args.get(4));
    let (mut keys, reply) = ctx.keys();
    let Ok(stream) = stream_for_group(&mut keys, reply, key, name, true) else {
        return;
    };
    let id = if id_arg == b"$" {
        stream.last_id
    } else {
        match parse_id(id_arg, 0, false) {
            Some(id) => id,
            None => return reply.error(INVALID_ID),
        }
    };
    if let Some(group) = stream.groups.get_mut(name) {
        group.last_id = id;
        group.entries_read = entries_read;
    }
    add_dirty(1);
    reply.ok();
    ctx.notify(NOTIFY_STREAM, "xgroup-setid", key);
}

/// `XGROUP DESTROY key group`: 1 if the group was there.
pub(super) fn xgroup_destroy(ctx: &mut Ctx, args: Args) {
    let (key, name) = (args.get(2), args.get(3));
    let (mut keys, reply) = ctx.keys();
    let Ok(stream) = stream_for_group(&mut keys, reply, key, name, false) else {
        return;
    };
    if stream.groups.remove(name).is_none() {
        return reply.int(0);
    }
    add_dirty(1);
    reply.int(1);
    ctx.notify(NOTIFY_STREAM, "xgroup-destroy", key);
    let db = ctx.db_index();
    ctx.state.signal_key_ready(db, key);
}

/// `XGROUP CREATECONSUMER key group consumer`: 1 if it is new.
pub(super) fn xgroup_createconsumer(ctx: &mut Ctx, args: Args) {
    let (key, name, consumer) = (args.get(2), args.get(3), args.get(4));
    let now_ms = ctx.now_ms;
    let (mut keys, reply) = ctx.keys();
    let Ok(stream) = stream_for_group(&mut keys, reply, key, name, true) else {
        return;
    };
    let created = stream
        .groups
        .get_mut(name)
        .is_some_and(|g| g.consumer(consumer, now_ms).1);
    add_dirty(u64::from(created));
    reply.int(i64::from(created));
    if created {
        ctx.notify(NOTIFY_STREAM, "xgroup-createconsumer", key);
    }
}

/// `XGROUP DELCONSUMER key group consumer`: how many entries it had
/// pending.
pub(super) fn xgroup_delconsumer(ctx: &mut Ctx, args: Args) {
    let (key, name, consumer) = (args.get(2), args.get(3), args.get(4));
    let (mut keys, reply) = ctx.keys();
    let Ok(stream) = stream_for_group(&mut keys, reply, key, name, true) else {
        return;
    };
    let Some(group) = stream.groups.get_mut(name) else {
        return reply.int(0);
    };
    let Some(gone) = group.consumers.remove(consumer) else {
        return reply.int(0);
    };
    for id in gone.pending.keys() {
        group.pending.remove(id);
    }
    add_dirty(1);
    reply.int(gone.pending.len() as i64);
    ctx.notify(NOTIFY_STREAM, "xgroup-delconsumer", key);
}

pub(super) fn xgroup_help(ctx: &mut Ctx, _args: Args) {
    super::reply_help(
        ctx.reply,
        "xgroup",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    );
}

/// `XACK key group id [id ...]`: how many were pending.
pub(super) fn xack(ctx: &mut Ctx, args: Args) {
    let (key, name) = (args.get(1), args.get(2));
    let (mut keys, reply) = ctx.keys();
    // No key or group: nothing to acknowledge, whatever the IDs say.
    match keys.read(key) {
        None => return reply.int(0),
        Some(Value::Stream(s)) if s.groups.contains_key(name) => {}
        Some(Value::Stream(_)) => return reply.int(0),
        Some(_) => return reply.error(errors::WRONGTYPE),
    }
    let mut ids = Vec::with_capacity(args.len() - 3);
    for arg in args.from(3) {
        match parse_id(arg, 0, true) {
            Some(id) => ids.push(id),
            None => return reply.error(INVALID_ID),
        }
    }
    let Some(Ok(stream)) = keys.db.get_mut(key).map(Value::as_stream_mut) else {
        return reply.int(0);
    };
    let Some(group) = stream.groups.get_mut(name) else {
        return reply.int(0);
    };
    let acked = ids.into_iter().filter(|&id| group.ack(id)).count();
    add_dirty(acked as u64);
    reply.int(acked as i64);
}

/// An entry XREADGROUP replies: its ID and fields, or none for a pending
/// entry deleted since.
type Delivered = (StreamId, Option<Vec<Vec<u8>>>);

/// `XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS
/// key [key ...] id [id ...]`: `>` delivers entries the group has not
/// seen (and records them pending unless NOACK); an ID replays the
/// consumer's own pending entries after it.
pub(super) fn xreadgroup(ctx: &mut Ctx, args: Args) {
    let Some(ReadOptions {
        count,
        timeout,
        group_consumer,
        no_ack,
        streams_at,
        streams,
    }) = read_options(ctx, &args, true)
    else {
        return;
    };
    let Some((group_name, consumer_name)) = group_consumer else {
        return ctx.reply.error("ERR Missing GROUP option for XREADGROUP");
    };
    // None: `>`; Some(id): the consumer's history after it.
    let mut wanted: Vec<Option<StreamId>> = Vec::with_capacity(streams);
    let woken = woken_stream(ctx, &args, streams_at, streams);
    {
        let (mut keys, reply) = ctx.keys();
        for s in 0..streams {
            let key = args.get(streams_at + s);
            let id_arg = args.get(streams_at + streams + s);
            if woken.is_some_and(|w| w != s) {
                wanted.push(None);
                continue;
            }
            let woken = woken.is_some();
            match read(&mut keys, key) {
                Ok(Some(stream)) if stream.groups.contains_key(group_name) => {}
                Ok(Some(_)) if woken => {
                    return reply
                        .error("NOGROUP the consumer group this client was blocked on no longer exists")
                }
                Err(()) | Ok(None) if woken => {
                    return reply.error("UNBLOCKED the stream key no longer exists")
                }
                Err(()) => return reply.error(errors::WRONGTYPE),
                Ok(_) => {
                    return reply.error(&format!(
                        "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                        String::from_utf8_lossy(key),
                        String::from_utf8_lossy(group_name)
                    ))
                }
            }
            if id_arg == b"$" {
                return reply
                    .error("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.");
            }
            if id_arg == b">" {
                wanted.push(None);
                continue;
            }
            match parse_id(id_arg, 0, true) {
                Some(id) => wanted.push(Some(id)),
                None => return reply.error(INVALID_ID),
            }
        }
    }
    let now_ms = ctx.now_ms;
    let resp3 = ctx.reply.is_resp3();
    // Replies per stream, built first (the values are read and the group
    // updated in the same pass).
    let mut served: Vec<(usize, Vec<Delivered>)> = Vec::new();
    // What the AOF gets, stream by stream: each delivery as an XCLAIM, or
    // under NOACK the new consumer and the group's position.
    let mut new_consumers: Vec<usize> = Vec::new();
    let propagating = ctx.state.propagating();
    let mut logged = Vec::new();
    {
        let (keys, _) = ctx.keys();
        for (s, want) in wanted.iter().enumerate() {
            if woken.is_some_and(|w| w != s) {
                continue;
            }
            let key = args.get(streams_at + s);
            let Some(Ok(stream)) = keys.db.get_mut(key).map(Value::as_stream_mut) else {
                continue;
            };
            match want {
                Some(after) => {
                    // History: the consumer's pending entries after `after`.
                    let start = after.next().unwrap_or(StreamId::MAX);
                    let ids: Vec<StreamId> = stream
                        .groups
                        .get(group_name)
                        .and_then(|g| g.consumers.get(consumer_name))
                        .map(|c| {
                            c.pending
                                .range(start, StreamId::MAX)
                                .map(|(id, _)| *id)
                                .take(if count > 0 { count } else { usize::MAX })
                                .collect()
                        })
                        .unwrap_or_default();
                    let mut out = Vec::new();
                    for id in ids {
                        if count > 0 && out.len() >= count {
                            break;
                        }
                        let entry = stream
                            .range(id, id, 1, false)
                            .first()
                            .map(|e| e.fields.iter().map(|f| f.to_vec()).collect());
                        if entry.is_some() {
                            if let Some(p) = stream
                                .groups
                                .get_mut(group_name)
                                .and_then(|g| g.pending.get_mut(&id))
                            {
                                p.delivered_ms = now_ms;
                                p.deliveries += 1;
                            }
                        }
                        out.push((id, entry));
                    }
                    if let Some(g) = stream.groups.get_mut(group_name) {
                        if g.consumer(consumer_name, now_ms).1 {
                            new_consumers.push(s);
                            if no_ack && propagating {
                                logged.push(consumer_argv(key, group_name, consumer_name));
                            }
                        }
                    }
                    served.push((s, out));
                }
                None => {
                    let last_read = stream
                        .groups
                        .get(group_name)
                        .map_or(StreamId::MAX, |g| g.last_id);
                    let Some(start) = last_read.next() else {
                        continue;
                    };
                    let entries: Vec<(StreamId, Vec<Vec<u8>>)> = stream
                        .range(start, StreamId::MAX, count, false)
                        .into_iter()
                        .map(|e| (e.id, e.fields.iter().map(|f| f.to_vec()).collect()))
                        .collect();
                    // Woken by its stream, a reader is served once the
                    // stream's last ID passed the group's, even if those
                    // entries went in the meantime (as Redis).
                    if entries.is_empty() && (woken.is_none() || stream.last_id <= last_read) {
                        continue;
                    }
                    let estimates: Vec<(bool, Option<u64>)> = entries
                        .iter()
                        .map(|(id, _)| (stream.tombstones_after(*id), stream.entries_before(*id)))
                        .collect();
                    let entries_added = stream.entries_added;
                    if let Some(group) = stream.groups.get_mut(group_name) {
                        if group.consumer(consumer_name, now_ms).1 {
                            new_consumers.push(s);
                            // Otherwise the XCLAIMs make the consumer where
                            // they are replayed (Redis logs it only under
                            // NOACK).
                            if no_ack && propagating {
                                logged.push(consumer_argv(key, group_name, consumer_name));
                            }
                        }
                        let mut moved = false;
                        for ((id, _), (tombstones, estimate)) in entries.iter().zip(estimates) {
                            if *id > group.last_id {
                                moved = true;
                                match group.entries_read {
                                    Some(n) if !tombstones => group.entries_read = Some(n + 1),
                                    _ if entries_added > 0 => group.entries_read = estimate,
                                    _ => {}
                                }
                                group.last_id = *id;
                            }
                            if !no_ack {
                                group.deliver(*id, consumer_name, now_ms);
                                if propagating {
                                    let written = id.to_string().into_bytes();
                                    logged
                                        .extend(claim_argv(key, group_name, group, &written, *id));
                                }
                            }
                        }
                        // Under NOACK no XCLAIM carries the group's new
                        // position, so it is logged on its own.
                        if no_ack && moved && propagating {
                            logged.push(position_argv(key, group_name, group));
                        }
                    }
                    served.push((
                        s,
                        entries.into_iter().map(|(id, f)| (id, Some(f))).collect(),
                    ));
                }
            }
        }
    }
    if !served.is_empty() {
        // As Redis counts a read: one change per stream served (not when
        // a blocked reader is served by the entries that woke it), one
        // per consumer it made.
        let reads = if woken.is_some() { 0 } else { served.len() };
        add_dirty((reads + new_consumers.len()) as u64);
        let reply = &mut *ctx.reply;
        if resp3 {
            reply.map(served.len());
        } else {
            reply.array(served.len());
        }
        for (s, entries) in &served {
            if !resp3 {
                reply.array(2);
            }
            reply.bulk(args.get(streams_at + s));
            reply.array(entries.len());
            for (id, fields) in entries {
                match fields {
                    Some(fields) => {
                        let refs: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
                        reply_entry(reply, *id, &refs);
                    }
                    None => {
                        reply.array(2);
                        reply.bulk(id.to_string().as_bytes());
                        reply.null_array();
                    }
                }
            }
        }
        for s in new_consumers {
            let key = args.get(streams_at + s);
            ctx.notify(NOTIFY_STREAM, "xgroup-createconsumer", key);
        }
        let db = ctx.db_index();
        for argv in logged {
            ctx.state.aof.log(db, argv);
        }
        return;
    }
    let Some(timeout) = timeout else {
        return ctx.reply.null_array();
    };
    ctx.state.block_request = Some(crate::state::BlockRequest {
        keys: (0..streams)
            .map(|s| args.get(streams_at + s).to_vec())
            .collect(),
        timeout,
        null_bulk_when_not_blocking: false,
        command: None,
    });
}

/// `XPENDING key group [[IDLE min-idle] start end count [consumer]]`.
pub(super) fn xpending(ctx: &mut Ctx, args: Args) {
    let argc = args.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return ctx.reply.error(errors::SYNTAX);
    }
    let (key, name) = (args.get(1), args.get(2));
    let mut min_idle = 0i64;
    let mut range: Option<(StreamId, StreamId, usize, Option<&[u8]>)> = None;
    if argc >= 6 {
        let mut at = 3;
        if args.get(3).eq_ignore_ascii_case(b"idle") {
            let Some(n) = super::i64_arg(ctx.reply, args.get(4)) else {
                return;
            };
            min_idle = n;
            if argc < 8 {
                return ctx.reply.error(errors::SYNTAX);
            }
            at += 2;
        }
        let Some(count) = super::i64_arg(ctx.reply, args.get(at + 2)) else {
            return;
        };
        let count = count.max(0) as usize;
        let start = match range_bound(args.get(at), true) {
            Ok(id) => id.unwrap_or(StreamId::MIN),
            Err(e) => return ctx.reply.error(e),
        };
        let end = match range_bound(args.get(at + 1), false) {
            Ok(id) => id.unwrap_or(StreamId::MAX),
            Err(e) => return ctx.reply.error(e),
        };
        let consumer = (at + 3 < argc).then(|| args.get(at + 3));
        range = Some((start, end, count, consumer));
    }
    let now_ms = ctx.now_ms;
    let (mut keys, reply) = ctx.keys();
    let group = match keys.read(key) {
        Some(Value::Stream(s)) => s.groups.get(name),
        Some(_) => return reply.error(errors::WRONGTYPE),
        None => None,
    };
    let Some(group) = group else {
        return reply.error(&format!(
            "NOGROUP No such key '{}' or consumer group '{}'",
            String::from_utf8_lossy(key),
            String::from_utf8_lossy(name)
        ));
    };
    let Some((start, end, mut count, consumer)) = range else {
        reply.array(4);
        reply.int(group.pending.len() as i64);
        let (Some((first, _)), Some((last, _))) = (group.pending.first(), group.pending.last())
        else {
            reply.null();
            reply.null();
            return reply.null_array();
        };
        reply.bulk(first.to_string().as_bytes());
        reply.bulk(last.to_string().as_bytes());
        let owners: Vec<(&Vec<u8>, usize)> = group
            .consumers
            .iter()
            .filter(|(_, c)| !c.pending.is_empty())
            .map(|(n, c)| (n, c.pending.len()))
            .collect();
        reply.array(owners.len());
        for (owner, n) in owners {
            reply.array(2);
            reply.bulk(owner);
            reply.bulk(n.to_string().as_bytes());
        }
        return;
    };
    let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
        Some(c) => match group.consumers.get(c) {
            None => return reply.array(0),
            Some(c) => Box::new(c.pending.range(start, end).map(|(id, _)| *id)),
        },
        None => Box::new(group.pending.range(start, end).map(|(id, _)| *id)),
    };
    let mut rows = Vec::new();
    for id in ids {
        if count == 0 || id > end {
            break;
        }
        let Some(p) = group.pending.get(&id) else {
            continue;
        };
        let idle = (now_ms - p.delivered_ms).max(0);
        if min_idle > 0 && idle < min_idle {
            continue;
        }
        rows.push((id, p.consumer.clone(), idle, p.deliveries));
        count -= 1;
    }
    reply.array(rows.len());
    for (id, owner, idle, deliveries) in rows {
        reply.array(4);
        reply.bulk(id.to_string().as_bytes());
        reply.bulk(&owner);
        reply.int(idle);
        reply.int(deliveries as i64);
    }
}

fn no_key_or_group(key: &[u8], group: &[u8]) -> String {
    format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    )
}

/// The stream at `key` with group `name`, for XCLAIM/XAUTOCLAIM: `Err`
/// is the error to reply.
fn claim_target<'k>(keys: &'k mut Keys, key: &[u8], name: &[u8]) -> Result<&'k mut Stream, String> {
    match keys.read(key) {
        Some(Value::Stream(s)) if s.groups.contains_key(name) => {}
        Some(Value::Stream(_)) | None => return Err(no_key_or_group(key, name)),
        Some(_) => return Err(errors::WRONGTYPE.to_string()),
    }
    match keys.db.get_mut(key).map(Value::as_stream_mut) {
        Some(Ok(stream)) => Ok(stream),
        _ => Err(no_key_or_group(key, name)),
    }
}

/// An entry's fields as owned bytes, `None` if it is gone.
fn fields_of(stream: &Stream, id: StreamId) -> Option<Vec<Vec<u8>>> {
    stream
        .range(id, id, 1, false)
        .first()
        .map(|e| e.fields.iter().map(|f| f.to_vec()).collect())
}

fn reply_claimed(reply: &mut Reply, claimed: &[(StreamId, Option<Vec<Vec<u8>>>)], just_id: bool) {
    reply.array(claimed.len());
    for (id, fields) in claimed {
        if just_id {
            reply.bulk(id.to_string().as_bytes());
            continue;
        }
        match fields {
            Some(fields) => {
                let refs: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
                reply_entry(reply, *id, &refs);
            }
            None => reply.null_array(),
        }
    }
}

/// Whether `group` of `stream` already knows `consumer`: a claim that
/// creates one announces it.
fn has_consumer(stream: &Stream, group: &[u8], consumer: &[u8]) -> bool {
    stream
        .groups
        .get(group)
        .is_some_and(|g| g.consumers.contains_key(consumer))
}

/// Moves a pending entry to `consumer` (claimed by XCLAIM/XAUTOCLAIM).
fn claim(
    group: &mut crate::db::stream::Group,
    id: StreamId,
    consumer: &[u8],
    delivered_ms: i64,
    deliveries: Option<u64>,
) {
    group.assign(id, consumer, delivered_ms, deliveries);
}

/// `XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms]
/// [TIME ms] [RETRYCOUNT n] [FORCE] [JUSTID] [LASTID id]`.
pub(super) fn xclaim(ctx: &mut Ctx, args: Args) {
    let (key, name, consumer) = (args.get(1), args.get(2), args.get(3));
    let now_ms = ctx.now_ms;
    {
        let (mut keys, reply) = ctx.keys();
        if let Err(e) = claim_target(&mut keys, key, name) {
            return reply.error(&e);
        }
    }
    let Some(min_idle) = crate::protocol::parse_i64(args.get(4)) else {
        return ctx
            .reply
            .error("ERR Invalid min-idle-time argument for XCLAIM");
    };
    let min_idle = min_idle.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_id(args.get(j), 0, true) {
            Some(id) => ids.push(id),
            None => break,
        }
        j += 1;
    }
    let (mut force, mut just_id) = (false, false);
    let mut delivery: Option<i64> = None;
    let mut retry: Option<u64> = None;
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args.get(j);
        let number = |ctx: &mut Ctx, arg: &[u8], what: &str| {
            let n = crate::protocol::parse_i64(arg);
            if n.is_none() {
                ctx.reply
                    .error(&format!("ERR Invalid {what} option argument for XCLAIM"));
            }
            n
        };
        if opt.eq_ignore_ascii_case(b"force") {
            force = true;
        } else if opt.eq_ignore_ascii_case(b"justid") {
            just_id = true;
        } else if opt.eq_ignore_ascii_case(b"idle") && more >= 1 {
            j += 1;
            let Some(idle) = number(ctx, args.get(j), "IDLE") else {
                return;
            };
            delivery = Some(now_ms - idle);
        } else if opt.eq_ignore_ascii_case(b"time") && more >= 1 {
            j += 1;
            let Some(time) = number(ctx, args.get(j), "TIME") else {
                return;
            };
            delivery = Some(time);
        } else if opt.eq_ignore_ascii_case(b"retrycount") && more >= 1 {
            j += 1;
            let Some(n) = number(ctx, args.get(j), "RETRYCOUNT") else {
                return;
            };
            retry = Some(n as u64);
        } else if opt.eq_ignore_ascii_case(b"lastid") && more >= 1 {
            j += 1;
            match parse_id(args.get(j), 0, true) {
                Some(id) => last_id = id,
                None => return ctx.reply.error(INVALID_ID),
            }
        } else {
            return ctx.reply.error(&format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(opt)
            ));
        }
        j += 1;
    }
    let delivered_ms = match delivery {
        Some(t) if t >= 0 && t <= now_ms => t,
        _ => now_ms,
    };
    let propagating = ctx.state.propagating();
    let mut logged = Vec::new();
    let (mut keys, reply) = ctx.keys();
    let Ok(stream) = claim_target(&mut keys, key, name) else {
        return reply.array(0);
    };
    let had_consumer = has_consumer(stream, name, consumer);
    let mut claimed = Vec::new();
    let mut gone = Vec::new();
    for (at, id) in ids.into_iter().enumerate() {
        // Logged with the ID as it was written, as Redis does.
        let written = args.get(5 + at);
        let exists = stream.contains(id);
        let fields = if exists { fields_of(stream, id) } else { None };
        let Some(group) = stream.groups.get_mut(name) else {
            break;
        };
        if last_id > group.last_id {
            group.last_id = last_id;
        }
        if !exists {
            // A pending entry deleted from the stream goes from the lists,
            // logged as it was.
            if group.pending.contains_key(&id) {
                if propagating {
                    logged.extend(claim_argv(key, name, group, written, id));
                }
                group.ack(id);
                gone.push(id);
            }
            continue;
        }
        let pending = group.pending.get(&id);
        if pending.is_none() && !force {
            continue;
        }
        if let Some(p) = pending {
            if !p.consumer.is_empty() && min_idle > 0 && now_ms - p.delivered_ms < min_idle {
                continue;
            }
        }
        let deliveries = match (retry, just_id) {
            (Some(n), _) => Some(n),
            // A pending entry FORCE creates starts at one delivery.
            (None, false) => Some(group.pending.get(&id).map_or(1, |p| p.deliveries) + 1),
            (None, true) if !group.pending.contains_key(&id) => Some(1),
            (None, true) => None,
        };
        claim(group, id, consumer, delivered_ms, deliveries);
        if propagating {
            logged.extend(claim_argv(key, name, group, written, id));
        }
        claimed.push((id, fields));
    }
    let mut moved_position = false;
    if let Some(group) = stream.groups.get_mut(name) {
        if last_id > group.last_id {
            group.last_id = last_id;
            moved_position = true;
        }
        if !claimed.is_empty() {
            group.consumer(consumer, now_ms);
        }
    }
    reply_claimed(reply, &claimed, just_id);
    let new_consumer = !had_consumer && !claimed.is_empty();
    add_dirty((claimed.len() + gone.len()) as u64 + u64::from(new_consumer));
    if new_consumer {
        ctx.notify(NOTIFY_STREAM, "xgroup-createconsumer", key);
    }
    let db = ctx.db_index();
    for argv in logged {
        ctx.state.aof.log(db, argv);
    }
    if claimed.is_empty() && gone.is_empty() && moved_position {
        log_group_position(ctx, key, name);
    }
}

/// `XAUTOCLAIM key group consumer min-idle-time start [COUNT n]
/// [JUSTID]`: the next start, the claimed entries, the IDs that were
/// pending but deleted.
pub(super) fn xautoclaim(ctx: &mut Ctx, args: Args) {
    let (key, name, consumer) = (args.get(1), args.get(2), args.get(3));
    let now_ms = ctx.now_ms;
    let Some(min_idle) = crate::protocol::parse_i64(args.get(4)) else {
        return ctx
            .reply
            .error("ERR Invalid min-idle-time argument for XAUTOCLAIM");
    };
    let min_idle = min_idle.max(0);
    let start = match range_bound(args.get(5), true) {
        Ok(id) => id.unwrap_or(StreamId::MIN),
        Err(e) => return ctx.reply.error(e),
    };
    let (mut count, mut just_id) = (100usize, false);
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args.get(j);
        if opt.eq_ignore_ascii_case(b"count") && more >= 1 {
            match crate::protocol::parse_i64(args.get(j + 1)) {
                Some(n) if (1..=i64::MAX / 16).contains(&n) => count = n as usize,
                _ => return ctx.reply.error("ERR COUNT must be > 0"),
            }
            j += 1;
        } else if opt.eq_ignore_ascii_case(b"justid") {
            just_id = true;
        } else {
            return ctx.reply.error(errors::SYNTAX);
        }
        j += 1;
    }
    let propagating = ctx.state.propagating();
    let mut logged = Vec::new();
    let (mut keys, reply) = ctx.keys();
    let stream = match claim_target(&mut keys, key, name) {
        Ok(stream) => stream,
        Err(e) => return reply.error(&e),
    };
    let mut attempts = count.saturating_mul(10);
    // Those it may look at, and one more for the next cursor.
    let candidates: Vec<StreamId> = stream
        .groups
        .get(name)
        .map(|g| {
            g.pending
                .range(start, StreamId::MAX)
                .map(|(id, _)| *id)
                .take(attempts.saturating_add(1))
                .collect()
        })
        .unwrap_or_default();
    let had_consumer = has_consumer(stream, name, consumer);
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut next = StreamId::MIN;
    let mut index = 0;
    while attempts > 0 && count > 0 && index < candidates.len() {
        attempts -= 1;
        let id = candidates[index];
        index += 1;
        let exists = stream.contains(id);
        let fields = if exists { fields_of(stream, id) } else { None };
        let Some(group) = stream.groups.get_mut(name) else {
            break;
        };
        if !exists {
            // Logged as it was, then dropped.
            if propagating {
                let written = id.to_string().into_bytes();
                logged.extend(claim_argv(key, name, group, &written, id));
            }
            group.ack(id);
            deleted.push(id);
            count -= 1;
            continue;
        }
        if min_idle > 0
            && group
                .pending
                .get(&id)
                .is_some_and(|p| now_ms - p.delivered_ms < min_idle)
        {
            continue;
        }
        let deliveries = if just_id {
            None
        } else {
            Some(group.pending.get(&id).map_or(0, |p| p.deliveries) + 1)
        };
        claim(group, id, consumer, now_ms, deliveries);
        if propagating {
            let written = id.to_string().into_bytes();
            logged.extend(claim_argv(key, name, group, &written, id));
        }
        claimed.push((id, fields));
        count -= 1;
    }
    if let Some(&id) = candidates.get(index) {
        next = id;
    }
    if let Some(group) = stream.groups.get_mut(name) {
        if !claimed.is_empty() {
            group.consumer(consumer, now_ms);
        }
    }
    reply.array(3);
    reply.bulk(next.to_string().as_bytes());
    reply_claimed(reply, &claimed, just_id);
    reply.array(deleted.len());
    for id in &deleted {
        reply.bulk(id.to_string().as_bytes());
    }
    let new_consumer = !had_consumer && !claimed.is_empty();
    add_dirty((claimed.len() + deleted.len()) as u64 + u64::from(new_consumer));
    if new_consumer {
        ctx.notify(NOTIFY_STREAM, "xgroup-createconsumer", key);
    }
    let db = ctx.db_index();
    for argv in logged {
        ctx.state.aof.log(db, argv);
    }
}

/// `XINFO STREAM key [FULL [COUNT count]]`: the stream's counters and
/// its first and last entries, or with FULL its entries and groups in
/// detail (COUNT of each list, 10 by default, 0 for all).
pub(super) fn xinfo_stream(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    let stream = match read(&mut keys, args.get(2)) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return reply.error("ERR no such key"),
        Ok(Some(stream)) => stream,
    };
    let mut full = None;
    if args.len() > 3 {
        let bad_options = || errors::subcommand_syntax(args.get(1), "xinfo");
        if !args.get(3).eq_ignore_ascii_case(b"full") {
            return reply.error_bytes(&bad_options());
        }
        let mut count = 10usize;
        if args.len() > 4 {
            if args.len() != 6 || !args.get(4).eq_ignore_ascii_case(b"count") {
                return reply.error_bytes(&bad_options());
            }
            let Some(n) = super::i64_arg(reply, args.get(5)) else {
                return;
            };
            count = if n < 0 { 10 } else { n as usize };
        }
        full = Some(count);
    }
    reply.map(if full.is_some() { 9 } else { 10 });
    reply.bulk(b"length");
    reply.int(stream.len() as i64);
    reply.bulk(b"radix-tree-keys");
    reply.int(stream.node_count() as i64);
    reply.bulk(b"radix-tree-nodes");
    reply.int(stream.rax_nodes() as i64);
    for (label, id) in [
        ("last-generated-id", stream.last_id),
        ("max-deleted-entry-id", stream.max_deleted_id),
    ] {
        reply.bulk(label.as_bytes());
        reply.bulk(id.to_string().as_bytes());
    }
    reply.bulk(b"entries-added");
    reply.int(stream.entries_added as i64);
    reply.bulk(b"recorded-first-entry-id");
    reply.bulk(stream.first_id().unwrap_or_default().to_string().as_bytes());
    let Some(count) = full else {
        reply.bulk(b"groups");
        reply.int(stream.groups.len() as i64);
        for (label, rev) in [("first-entry", false), ("last-entry", true)] {
            reply.bulk(label.as_bytes());
            match stream.range(StreamId::MIN, StreamId::MAX, 1, rev).first() {
                Some(entry) => reply_entry(reply, entry.id, &entry.fields),
                None => reply.null(),
            }
        }
        return;
    };
    let limit = |n: usize| count == 0 || n < count;
    reply.bulk(b"entries");
    let entries = stream.range(StreamId::MIN, StreamId::MAX, count, false);
    reply.array(entries.len());
    for entry in &entries {
        reply_entry(reply, entry.id, &entry.fields);
    }
    reply.bulk(b"groups");
    reply.array(stream.groups.len());
    for (name, group) in &stream.groups {
        reply.map(7);
        reply.bulk(b"name");
        reply.bulk(name);
        reply.bulk(b"last-delivered-id");
        reply.bulk(group.last_id.to_string().as_bytes());
        reply.bulk(b"entries-read");
        match group.entries_read {
            Some(n) => reply.int(n as i64),
            None => reply.null(),
        }
        reply.bulk(b"lag");
        match stream.lag(group) {
            Some(n) => reply.int(n as i64),
            None => reply.null(),
        }
        reply.bulk(b"pel-count");
        reply.int(group.pending.len() as i64);
        reply.bulk(b"pending");
        let shown: Vec<_> = group
            .pending
            .iter()
            .enumerate()
            .take_while(|(i, _)| limit(*i))
            .map(|(_, p)| p)
            .collect();
        reply.array(shown.len());
        for (id, pending) in shown {
            reply.array(4);
            reply.bulk(id.to_string().as_bytes());
            reply.bulk(&pending.consumer);
            reply.int(pending.delivered_ms);
            reply.int(pending.deliveries as i64);
        }
        reply.bulk(b"consumers");
        reply.array(group.consumers.len());
        for (consumer_name, consumer) in &group.consumers {
            reply.map(4);
            reply.bulk(b"name");
            reply.bulk(consumer_name);
            reply.bulk(b"seen-time");
            reply.int(consumer.seen_ms);
            reply.bulk(b"pel-count");
            reply.int(consumer.pending.len() as i64);
            reply.bulk(b"pending");
            let shown: Vec<_> = consumer
                .pending
                .keys()
                .enumerate()
                .take_while(|(i, _)| limit(*i))
                .map(|(_, id)| id)
                .collect();
            reply.array(shown.len());
            for id in shown {
                let pending = group.pending.get(id);
                reply.array(3);
                reply.bulk(id.to_string().as_bytes());
                reply.int(pending.map_or(0, |p| p.delivered_ms));
                reply.int(pending.map_or(0, |p| p.deliveries as i64));
            }
        }
    }
}

/// `XINFO GROUPS key`.
pub(super) fn xinfo_groups(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    let stream = match read(&mut keys, args.get(2)) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return reply.error("ERR no such key"),
        Ok(Some(stream)) => stream,
    };
    reply.array(stream.groups.len());
    for (name, group) in &stream.groups {
        reply.map(6);
        reply.bulk(b"name");
        reply.bulk(name);
        reply.bulk(b"consumers");
        reply.int(group.consumers.len() as i64);
        reply.bulk(b"pending");
        reply.int(group.pending.len() as i64);
        reply.bulk(b"last-delivered-id");
        reply.bulk(group.last_id.to_string().as_bytes());
        reply.bulk(b"entries-read");
        match group.entries_read {
            Some(n) => reply.int(n as i64),
            None => reply.null(),
        }
        reply.bulk(b"lag");
        match stream.lag(group) {
            Some(n) => reply.int(n as i64),
            None => reply.null(),
        }
    }
}

/// `XINFO CONSUMERS key group`.
pub(super) fn xinfo_consumers(ctx: &mut Ctx, args: Args) {
    let (key, name) = (args.get(2), args.get(3));
    let now_ms = ctx.now_ms;
    let (mut keys, reply) = ctx.keys();
    let stream = match read(&mut keys, key) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return reply.error("ERR no such key"),
        Ok(Some(stream)) => stream,
    };
    let Some(group) = stream.groups.get(name) else {
        return reply.error(&no_group(key, name));
    };
    reply.array(group.consumers.len());
    for (consumer_name, consumer) in &group.consumers {
        reply.map(3);
        reply.bulk(b"name");
        reply.bulk(consumer_name);
        reply.bulk(b"pending");
        reply.int(consumer.pending.len() as i64);
        reply.bulk(b"idle");
        reply.int((now_ms - consumer.seen_ms).max(0));
    }
}

pub(super) fn xinfo_help(ctx: &mut Ctx, _args: Args) {
    super::reply_help(
        ctx.reply,
        "xinfo",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    );
}

/// The XCLAIM that recreates pending entry `id` (written `written`) as
/// `group` holds it now, for the AOF and the replicas
/// (`streamPropagateXCLAIM`); `None` if it is not pending.
fn claim_argv(
    key: &[u8],
    group_name: &[u8],
    group: &crate::db::stream::Group,
    written: &[u8],
    id: StreamId,
) -> Option<Vec<Vec<u8>>> {
    let p = group.pending.get(&id)?;
    let word = |w: &str| w.as_bytes().to_vec();
    Some(vec![
        word("XCLAIM"),
        key.to_vec(),
        group_name.to_vec(),
        p.consumer.to_vec(),
        word("0"),
        written.to_vec(),
        word("TIME"),
        p.delivered_ms.to_string().into_bytes(),
        word("RETRYCOUNT"),
        p.deliveries.to_string().into_bytes(),
        word("FORCE"),
        word("JUSTID"),
        word("LASTID"),
        group.last_id.to_string().into_bytes(),
    ])
}

/// `XGROUP SETID` with the group's position and read counter.
fn position_argv(key: &[u8], group_name: &[u8], group: &crate::db::stream::Group) -> Vec<Vec<u8>> {
    let read = group.entries_read.map_or(-1, |n| n as i64);
    vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        group_name.to_vec(),
        group.last_id.to_string().into_bytes(),
        b"ENTRIESREAD".to_vec(),
        read.to_string().into_bytes(),
    ]
}

/// Queues `XGROUP SETID` with the group's position and read counter.
fn log_group_position(ctx: &mut Ctx, key: &[u8], group_name: &[u8]) {
    if !ctx.state.propagating() {
        return;
    }
    let db = ctx.db_index();
    let Some(Value::Stream(stream)) = ctx.state.dbs[db].get(key) else {
        return;
    };
    let Some(group) = stream.groups.get(group_name) else {
        return;
    };
    let argv = position_argv(key, group_name, group);
    ctx.state.aof.log(db, argv);
}

/// A script may not block: Redis refuses BLOCK there outright rather
/// than answer as if it timed out, naming the command as it was called.
/// The options XREAD and XREADGROUP share, up to STREAMS.
struct ReadOptions<'a> {
    count: usize,
    /// BLOCK: `Some(None)` waits for ever.
    timeout: Option<Option<std::time::Duration>>,
    group_consumer: Option<(&'a [u8], &'a [u8])>,
    no_ack: bool,
    /// Where the keys start, and how many streams are listed.
    streams_at: usize,
    streams: usize,
}

/// Parses XREAD's or (`group_read`) XREADGROUP's options as Redis's
/// `xreadCommand` does, replying its error when they are wrong.
fn read_options<'a>(ctx: &mut Ctx, args: &Args<'a>, group_read: bool) -> Option<ReadOptions<'a>> {
    let mut options = ReadOptions {
        count: 0,
        timeout: None,
        group_consumer: None,
        no_ack: false,
        streams_at: 0,
        streams: 0,
    };
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let opt = args.get(i);
        if opt.eq_ignore_ascii_case(b"block") && more >= 1 {
            if ctx.state.in_script_call {
                refuse_block_in_script(ctx, args.get(0));
                return None;
            }
            i += 1;
            let Some(ms) = crate::protocol::parse_i64(args.get(i)) else {
                ctx.reply
                    .error("ERR timeout is not an integer or out of range");
                return None;
            };
            if ms < 0 {
                ctx.reply.error("ERR timeout is negative");
                return None;
            }
            options.timeout = Some((ms > 0).then(|| std::time::Duration::from_millis(ms as u64)));
        } else if opt.eq_ignore_ascii_case(b"count") && more >= 1 {
            i += 1;
            let n = super::i64_arg(ctx.reply, args.get(i))?;
            options.count = n.max(0) as usize;
        } else if opt.eq_ignore_ascii_case(b"streams") && more >= 1 {
            options.streams_at = i + 1;
            break;
        } else if opt.eq_ignore_ascii_case(b"group") && more >= 2 {
            if !group_read {
                ctx.reply.error("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
                return None;
            }
            options.group_consumer = Some((args.get(i + 1), args.get(i + 2)));
            i += 2;
        } else if opt.eq_ignore_ascii_case(b"noack") {
            if !group_read {
                ctx.reply.error("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
                return None;
            }
            options.no_ack = true;
        } else {
            ctx.reply.error(errors::SYNTAX);
            return None;
        }
        i += 1;
    }
    if options.streams_at == 0 {
        ctx.reply.error(errors::SYNTAX);
        return None;
    }
    let listed = args.len() - options.streams_at;
    if !listed.is_multiple_of(2) {
        ctx.reply.error(UNBALANCED);
        return None;
    }
    options.streams = listed / 2;
    Some(options)
}

fn refuse_block_in_script(ctx: &mut Ctx, name: &[u8]) {
    let mut text = String::from_utf8_lossy(name).into_owned();
    text.insert_str(0, "ERR ");
    text.push_str(" command is not allowed with BLOCK option from scripts");
    ctx.reply.error(&text);
}

/// `XGROUP CREATECONSUMER` for a consumer a read created.
fn consumer_argv(key: &[u8], group_name: &[u8], consumer: &[u8]) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"CREATECONSUMER".to_vec(),
        key.to_vec(),
        group_name.to_vec(),
        consumer.to_vec(),
    ]
}
