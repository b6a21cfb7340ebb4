//! Stream commands (Redis's `t_stream.c`): XADD, XLEN, XRANGE,
//! XREVRANGE and XDEL.

use super::{Ctx, Keys};
use crate::db::stream::{parse_id, NodeLimits, Stream, StreamId, Trim};
use crate::db::Value;
use crate::errors;
use crate::protocol::request::Args;
use crate::protocol::Reply;

pub const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
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
    let (mut keys, reply) = ctx.keys();
    match keys.read(key) {
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
    // The key is looked up first, as Redis does.
    {
        let (mut keys, reply) = ctx.keys();
        match read(&mut keys, key) {
            Err(()) => return reply.error(errors::WRONGTYPE),
            Ok(None) => {
                if parse_trim_args(ctx, &args, false).is_some() {
                    ctx.reply.int(0);
                }
                return;
            }
            Ok(Some(_)) => {}
        }
    }
    let Some(trim) = parse_trim_args(ctx, &args, false) else {
        return;
    };
    let Some(strategy) = trim.strategy else {
        return;
    };
    let dirty_before = crate::db::dirty();
    let (keys, reply) = ctx.keys();
    let Some(Ok(stream)) = keys.db.get_mut(key).map(Value::as_stream_mut) else {
        return reply.int(0);
    };
    let trimmed = stream.trim(strategy, trim.approx, trim.limit);
    reply.int(trimmed as i64);
    if trimmed > 0 {
        ctx.notify(NOTIFY_STREAM, "xtrim", key);
    } else {
        // Nothing went: nothing to log, as in Redis.
        crate::db::restore_dirty(dirty_before);
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
    let mut ids = Vec::with_capacity(args.len() - 2);
    for arg in args.from(2) {
        match parse_id(arg, 0, true) {
            Some(id) => ids.push(id),
            None => return ctx.reply.error(INVALID_ID),
        }
    }
    let key = args.get(1);
    let (mut keys, reply) = ctx.keys();
    match keys.read(key) {
        None => return reply.int(0),
        Some(Value::Stream(_)) => {}
        Some(_) => return reply.error(errors::WRONGTYPE),
    }
    let Some(Ok(stream)) = keys.db.get_mut(key).map(Value::as_stream_mut) else {
        return reply.int(0);
    };
    let deleted = ids.into_iter().filter(|&id| stream.delete(id)).count();
    reply.int(deleted as i64);
    if deleted > 0 {
        ctx.notify(NOTIFY_STREAM, "xdel", key);
    }
}

/// `XREAD [COUNT count] [BLOCK ms] STREAMS key [key ...] id [id ...]`.
pub(super) fn xread(ctx: &mut Ctx, args: Args) {
    let mut count: usize = 0;
    let mut timeout: Option<Option<std::time::Duration>> = None;
    let mut streams_at = 0;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let opt = args.get(i);
        if opt.eq_ignore_ascii_case(b"block") && more >= 1 {
            i += 1;
            let Some(ms) = crate::protocol::parse_i64(args.get(i)) else {
                return ctx
                    .reply
                    .error("ERR timeout is not an integer or out of range");
            };
            if ms < 0 {
                return ctx.reply.error("ERR timeout is negative");
            }
            timeout = Some((ms > 0).then(|| std::time::Duration::from_millis(ms as u64)));
        } else if opt.eq_ignore_ascii_case(b"count") && more >= 1 {
            i += 1;
            let Some(n) = super::i64_arg(ctx.reply, args.get(i)) else {
                return;
            };
            count = n.max(0) as usize;
        } else if opt.eq_ignore_ascii_case(b"streams") && more >= 1 {
            streams_at = i + 1;
            break;
        } else {
            return ctx.reply.error(errors::SYNTAX);
        }
        i += 1;
    }
    if streams_at == 0 {
        return ctx.reply.error(errors::SYNTAX);
    }
    let listed = args.len() - streams_at;
    if !listed.is_multiple_of(2) {
        return ctx.reply.error("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
    }
    let streams = listed / 2;
    // Each stream's ID: `$` is its last ID now.
    let mut after: Vec<StreamId> = Vec::with_capacity(streams);
    {
        let (mut keys, reply) = ctx.keys();
        for s in 0..streams {
            let key = args.get(streams_at + s);
            let id_arg = args.get(streams_at + streams + s);
            let stream = match read(&mut keys, key) {
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
        if let Ok(Some(stream)) = read(&mut keys, key) {
            let last = stream.range(StreamId::MIN, StreamId::MAX, 1, true);
            if last.first().is_some_and(|e| e.id > id) {
                served.push((s, id));
            }
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
    reply.ok();
    ctx.notify(NOTIFY_STREAM, "xsetid", key);
}
