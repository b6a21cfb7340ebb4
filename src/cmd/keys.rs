//! Generic key commands (DEL, EXISTS, TYPE, KEYS, SCAN, RANDOMKEY, RENAME,
//! COPY, MOVE, TOUCH, OBJECT, MEMORY USAGE), expiry (EXPIRE family, TTL
//! family, PERSIST) and whole databases (DBSIZE, SWAPDB, FLUSHDB,
//! FLUSHALL).

use super::{i64_arg, int_arg, reply_help, Ctx};
use crate::db::Value;
use crate::errors;
use crate::glob::glob_match;
use crate::notify::{GENERIC, NEW};
use crate::protocol::request::Args;

pub(super) fn del(ctx: &mut Ctx, args: Args) {
    let lazy = crate::config::pending_bool(&ctx.state.config, "lazyfree-lazy-user-del");
    delete_keys(ctx, args, lazy);
}

/// DEL, with a big value freed off the loop (`lazyfree-lazy-user-del`).
pub(super) fn unlink(ctx: &mut Ctx, args: Args) {
    delete_keys(ctx, args, true);
}

fn delete_keys(ctx: &mut Ctx, args: Args, lazy: bool) {
    let mut deleted = 0;
    for key in args.from(1) {
        let (mut keys, _) = ctx.keys();
        let Some(value) = keys.take(key) else {
            continue;
        };
        if lazy {
            crate::lazyfree::free(value);
        }
        deleted += 1;
        ctx.notify(GENERIC, "del", key);
    }
    ctx.reply.int(deleted);
}

/// Counts keyspace hits and misses but leaves access times alone
/// (Redis's `LOOKUP_NOTOUCH`); TOUCH is the one that stamps them.
pub(super) fn exists(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    let found = args.from(1).filter(|key| keys.peek(key).is_some()).count();
    reply.int(found as i64);
}

pub(super) fn touch(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    let found = args.from(1).filter(|key| keys.read(key).is_some()).count();
    reply.int(found as i64);
}

pub(super) fn type_of(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    let name = keys.peek(args.get(1)).map_or("none", Value::type_name);
    reply.simple(name);
}

pub(super) fn dbsize(ctx: &mut Ctx, _args: Args) {
    let (keys, reply) = ctx.keys();
    reply.int(keys.db.len() as i64);
}

pub(super) fn keys(ctx: &mut Ctx, args: Args) {
    let pattern = args.get(1);
    let (keys, reply) = ctx.keys();
    let now = keys.now_ms;
    let all = pattern == b"*";
    let matching: Vec<&[u8]> = keys
        .db
        .iter()
        .filter(|(key, _)| all || glob_match(pattern, key, false))
        .filter(|(key, _)| !keys.db.is_expired(key, now))
        .map(|(key, _)| &key[..])
        .collect();
    reply.array(matching.len());
    for key in matching {
        reply.bulk(key);
    }
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
///
/// The cursor counts positions still to visit in the dense key table,
/// walked from the end towards 0 (see `db::dict`): every key present for
/// the whole scan is returned at least once, however the table grows or
/// shrinks in between.
/// The options of SCAN, HSCAN, SSCAN and ZSCAN.
pub struct ScanOptions<'a> {
    pub cursor: u64,
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
    pub type_filter: Option<&'a [u8]>,
}

/// Parses a SCAN cursor as Redis's `parseScanCursorOrReply` (C `strtoul`):
/// no leading space, an optional sign (`-1` wraps around), digits, nothing
/// after; the empty string is 0.
pub fn parse_cursor(reply: &mut crate::protocol::Reply, arg: &[u8]) -> Option<u64> {
    let (negative, digits) = match arg.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, arg),
    };
    let mut value: u64 = 0;
    let mut ok = arg.first().is_none_or(|b| !b.is_ascii_whitespace())
        && (arg.is_empty() || !digits.is_empty());
    for &b in digits {
        match (b as char)
            .to_digit(10)
            .and_then(|d| value.checked_mul(10)?.checked_add(u64::from(d)))
        {
            Some(v) => value = v,
            None => ok = false,
        }
    }
    if !ok {
        reply.error("ERR invalid cursor");
        return None;
    }
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// Parses `cursor [MATCH p] [COUNT n] [TYPE t]`; TYPE only for SCAN.
pub fn parse_scan<'a>(
    ctx: &mut Ctx,
    args: &Args<'a>,
    cursor_at: usize,
    allow_type: bool,
) -> Option<ScanOptions<'a>> {
    let cursor = parse_cursor(ctx.reply, args.get(cursor_at))?;
    parse_scan_options(ctx, args, cursor, cursor_at + 1, allow_type)
}

/// HSCAN, SSCAN and ZSCAN check in Redis's order: the cursor, then the key
/// and its type, then the options. Replies and returns `None` when the
/// command ends early (an error, or the empty scan of a missing key).
pub fn collection_scan_options<'a>(
    ctx: &mut Ctx,
    args: &Args<'a>,
    is_type: fn(&Value) -> bool,
) -> Option<ScanOptions<'a>> {
    let cursor = parse_cursor(ctx.reply, args.get(2))?;
    let (mut keys, reply) = ctx.keys();
    match keys.peek(args.get(1)) {
        None => {
            reply.array(2);
            reply.bulk(b"0");
            reply.array(0);
            return None;
        }
        Some(value) if !is_type(value) => {
            reply.error(errors::WRONGTYPE);
            return None;
        }
        Some(_) => {}
    }
    parse_scan_options(ctx, args, cursor, 3, false)
}

/// The options after the cursor.
pub fn parse_scan_options<'a>(
    ctx: &mut Ctx,
    args: &Args<'a>,
    cursor: u64,
    first: usize,
    allow_type: bool,
) -> Option<ScanOptions<'a>> {
    let mut options = ScanOptions {
        cursor,
        pattern: None,
        count: 10,
        type_filter: None,
    };
    let mut i = first;
    while i < args.len() {
        let (option, more) = (args.get(i), args.len() - i - 1);
        if option.eq_ignore_ascii_case(b"count") && more >= 1 {
            let n = i64_arg(ctx.reply, args.get(i + 1))?;
            if n < 1 {
                ctx.reply.error(errors::SYNTAX);
                return None;
            }
            options.count = n as usize;
        } else if option.eq_ignore_ascii_case(b"match") && more >= 1 {
            options.pattern = Some(args.get(i + 1)).filter(|p| *p != b"*");
        } else if allow_type && option.eq_ignore_ascii_case(b"type") && more >= 1 {
            options.type_filter = Some(args.get(i + 1));
        } else {
            ctx.reply.error(errors::SYNTAX);
            return None;
        }
        i += 2;
    }
    Some(options)
}

/// Walks `len` dense positions downwards from the cursor, `count` at a
/// time; returns the next cursor (0: done) and the positions visited.
pub fn scan_positions(cursor: u64, len: usize, count: usize) -> (u64, std::ops::Range<usize>) {
    let len = len as u64;
    let start = if cursor == 0 || cursor > len {
        len
    } else {
        cursor
    };
    let end = start.saturating_sub(count as u64);
    (end, end as usize..start as usize)
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
///
/// The cursor counts positions still to visit in the dense key table,
/// walked from the end towards 0 (see `db::dict`): every key present for
/// the whole scan is returned at least once, however the table grows or
/// shrinks in between.
pub(super) fn scan(ctx: &mut Ctx, args: Args) {
    let Some(ScanOptions {
        cursor,
        pattern,
        count,
        type_filter,
    }) = parse_scan(ctx, &args, 1, true)
    else {
        return;
    };
    let (mut keys, reply) = ctx.keys();
    let (next, positions) = scan_positions(cursor, keys.db.len(), count);
    let mut found: Vec<Vec<u8>> = Vec::new();
    for position in positions.rev() {
        let Some((key, value)) = keys.db.entry_at(position) else {
            continue;
        };
        if pattern.is_some_and(|p| !glob_match(p, key, false)) {
            continue;
        }
        if type_filter.is_some_and(|t| !value.type_name().as_bytes().eq_ignore_ascii_case(t)) {
            continue;
        }
        found.push(key.to_vec());
    }
    // Expired keys are dropped (and deleted) only after the walk, so the
    // walk itself never moves entries around.
    found.retain(|key| !keys.expire_if_needed(key));
    reply.array(2);
    reply.bulk_int(next as i64);
    reply.array(found.len());
    for key in &found {
        reply.bulk(key);
    }
}

pub(super) fn randomkey(ctx: &mut Ctx, _args: Args) {
    let (mut keys, reply) = ctx.keys();
    // Like Redis, give up on expired picks after a while rather than loop
    // forever over a table full of keys about to expire.
    for _ in 0..100 {
        let len = keys.db.len();
        if len == 0 {
            break;
        }
        let Some((key, _)) = keys.db.entry_at(random_below(len)) else {
            break;
        };
        let key = key.to_vec();
        if keys.expire_if_needed(&key) {
            continue;
        }
        return reply.bulk(&key);
    }
    reply.null();
}

/// The count of HRANDFIELD, SRANDMEMBER and ZRANDMEMBER: any `long` but
/// LONG_MIN, whose absolute value does not fit.
pub fn random_count_arg(reply: &mut crate::protocol::Reply, arg: &[u8]) -> Option<i64> {
    match crate::protocol::parse_i64(arg) {
        Some(i64::MIN) => {
            reply.error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
            None
        }
        Some(n) => Some(n),
        None => {
            reply.error(errors::NOT_INTEGER);
            None
        }
    }
}

/// Which positions of a collection of `len` a random-members command
/// returns: a negative count allows repeats, a count at least `len` is the
/// whole collection, otherwise distinct positions.
pub fn random_picks(len: usize, count: i64) -> Picks {
    if count < 0 {
        // Drawn one by one: the count is the client's, with no bound.
        let left = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
        Picks::Repeats { left, len }
    } else if count as usize >= len {
        Picks::Distinct((0..len).collect::<Vec<_>>().into_iter())
    } else {
        let mut positions: Vec<usize> = (0..len).collect();
        for i in 0..count as usize {
            let j = i + random_below(len - i);
            positions.swap(i, j);
        }
        positions.truncate(count as usize);
        Picks::Distinct(positions.into_iter())
    }
}

/// The positions [`random_picks`] chose.
pub enum Picks {
    /// `left` more positions, drawn as they are needed.
    Repeats {
        left: usize,
        len: usize,
    },
    Distinct(std::vec::IntoIter<usize>),
}

impl Iterator for Picks {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        match self {
            Picks::Repeats { left: 0, .. } => None,
            Picks::Repeats { left, len } => {
                *left -= 1;
                Some(random_below(*len))
            }
            Picks::Distinct(positions) => positions.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match self {
            Picks::Repeats { left, .. } => *left,
            Picks::Distinct(positions) => positions.len(),
        };
        (n, Some(n))
    }
}

impl ExactSizeIterator for Picks {}

/// ZRANDMEMBER's WITHSCORES and HRANDFIELD's WITHVALUES double the reply:
/// Redis refuses counts beyond half of LONG_MAX there.
pub fn paired_count_in_range(reply: &mut crate::protocol::Reply, count: i64) -> bool {
    let in_range = (-(i64::MAX / 2)..=i64::MAX / 2).contains(&count);
    if !in_range {
        reply.error("ERR value is out of range");
    }
    in_range
}

/// A random number below `n`, from a per-process xorshift generator.
pub fn random_below(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(crate::state::unix_micros() | 1);
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        (x % n as u64) as usize
    })
}

fn rename_generic(ctx: &mut Ctx, args: Args, only_if_new: bool) {
    let (from, to) = (args.get(1), args.get(2));
    let (mut keys, reply) = ctx.keys();
    if keys.write(from).is_none() {
        return reply.error(errors::NO_SUCH_KEY);
    }
    if from == to {
        return if only_if_new {
            reply.int(0)
        } else {
            reply.ok()
        };
    }
    if only_if_new && keys.exists(to) {
        return reply.int(0);
    }
    let expire = keys.db.expire_of(from);
    // One change, as Redis counts a rename, not a delete and a set.
    let changes = crate::db::Changes::begin();
    let Some(value) = keys.db.remove(from) else {
        return reply.error(errors::NO_SUCH_KEY);
    };
    // Redis deletes the old target and adds the key anew: a `new` event
    // even when the name was taken.
    if keys.exists(to) {
        keys.db.note_event(NEW, "new", to);
    }
    keys.db.set(to, value, false);
    if let Some(when) = expire {
        keys.db.set_expire(to, when);
    }
    changes.made(1);
    ctx.notify(GENERIC, "rename_from", from);
    ctx.notify(GENERIC, "rename_to", to);
    if only_if_new {
        ctx.reply.int(1);
    } else {
        ctx.reply.ok();
    }
}

/// Stores the result of a *STORE command (Redis's `setKey`, or the
/// destination's deletion when the result is empty) and announces it:
/// `event` of `class`, or `del` if an old destination went away.
pub fn store_result(
    ctx: &mut Ctx,
    destination: &[u8],
    result: Option<Value>,
    class: u32,
    event: &str,
) {
    let (mut keys, _) = ctx.keys();
    keys.expire_if_needed(destination);
    match result {
        Some(value) => {
            keys.db.set(destination, value, false);
            ctx.notify(class, event, destination);
        }
        None => {
            if keys.db.remove(destination).is_some() {
                ctx.notify(GENERIC, "del", destination);
            }
        }
    }
}

pub(super) fn rename(ctx: &mut Ctx, args: Args) {
    rename_generic(ctx, args, false);
}

pub(super) fn renamenx(ctx: &mut Ctx, args: Args) {
    rename_generic(ctx, args, true);
}

/// Resolves a DB index argument: `Some(index)` if valid, else replies.
fn db_arg(ctx: &mut Ctx, arg: &[u8]) -> Option<usize> {
    let index = int_arg(ctx.reply, arg, None)?;
    match usize::try_from(index) {
        Ok(i) if i < ctx.state.dbs.len() => Some(i),
        _ => {
            ctx.reply.error(errors::DB_INDEX_OUT_OF_RANGE);
            None
        }
    }
}

pub(super) fn copy(ctx: &mut Ctx, args: Args) {
    let (from, to) = (args.get(1), args.get(2));
    let source_db = ctx.db_index();
    let mut target_db = source_db;
    let mut replace = false;
    let mut j = 3;
    while j < args.len() {
        let option = args.get(j);
        if option.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if option.eq_ignore_ascii_case(b"db") && j + 1 < args.len() {
            let Some(index) = db_arg(ctx, args.get(j + 1)) else {
                return;
            };
            target_db = index;
            j += 1;
        } else {
            return ctx.reply.error(errors::SYNTAX);
        }
        j += 1;
    }
    if source_db == target_db && from == to {
        return ctx.reply.error(errors::SAME_OBJECT);
    }
    let (mut keys, _) = ctx.keys();
    let Some(value) = keys.read(from).map(Value::deep_copy) else {
        return ctx.reply.int(0);
    };
    let expire = keys.db.expire_of(from);
    let now = ctx.now_ms;
    let target = &mut ctx.state.dbs[target_db];
    target.now_ms = now;
    if target.contains_key(to) && !target.is_expired(to, now) {
        if !replace {
            return ctx.reply.int(0);
        }
        // Replaced by delete and add, as Redis: a `new` event.
        target.note_event(NEW, "new", to);
    }
    target.set(to, value, false);
    if let Some(when) = expire {
        target.set_expire(to, when);
    }
    ctx.notify_in(target_db, GENERIC, "copy_to", to);
    ctx.reply.int(1);
}

pub(super) fn move_key(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let Some(target_db) = db_arg(ctx, args.get(2)) else {
        return;
    };
    let source_db = ctx.db_index();
    if source_db == target_db {
        return ctx.reply.error(errors::SAME_OBJECT);
    }
    let (mut keys, _) = ctx.keys();
    if keys.write(key).is_none() {
        return ctx.reply.int(0);
    }
    let now = ctx.now_ms;
    let target = &ctx.state.dbs[target_db];
    if target.contains_key(key) && !target.is_expired(key, now) {
        return ctx.reply.int(0);
    }
    let source = &mut ctx.state.dbs[source_db];
    let expire = source.expire_of(key);
    let changes = crate::db::Changes::begin();
    let Some(value) = source.remove(key) else {
        return ctx.reply.int(0);
    };
    let target = &mut ctx.state.dbs[target_db];
    target.now_ms = now;
    target.set(key, value, false);
    if let Some(when) = expire {
        target.set_expire(key, when);
    }
    changes.made(1);
    ctx.notify_in(source_db, GENERIC, "move_from", key);
    ctx.notify_in(target_db, GENERIC, "move_to", key);
    ctx.reply.int(1);
}

pub(super) fn swapdb(ctx: &mut Ctx, args: Args) {
    let Some(a) = int_arg(ctx.reply, args.get(1), Some("ERR invalid first DB index")) else {
        return;
    };
    let Some(b) = int_arg(ctx.reply, args.get(2), Some("ERR invalid second DB index")) else {
        return;
    };
    let count = ctx.state.dbs.len();
    match (usize::try_from(a), usize::try_from(b)) {
        (Ok(a), Ok(b)) if a < count && b < count => {
            // A change even onto itself, as Redis counts it.
            let changes = crate::db::Changes::begin();
            if a != b {
                let (low, high) = (a.min(b), a.max(b));
                let (head, tail) = ctx.state.dbs.split_at_mut(high);
                head[low].swap_data(&mut tail[0]);
                ctx.state.signal_all_blocked_in(a);
                ctx.state.signal_all_blocked_in(b);
            }
            changes.made(1);
            ctx.reply.ok();
        }
        _ => ctx.reply.error(errors::DB_INDEX_OUT_OF_RANGE),
    }
}

/// `[ASYNC|SYNC]` of FLUSHDB and FLUSHALL; rudis always frees at once.
/// Whether a flush command's arguments after `at` are nothing or one
/// `SYNC`/`ASYNC` (FLUSHDB, FLUSHALL, SCRIPT FLUSH).
pub fn flush_mode_valid(args: &Args, at: usize) -> bool {
    match args.len() - at {
        0 => true,
        1 => {
            let mode = args.get(at);
            mode.eq_ignore_ascii_case(b"sync") || mode.eq_ignore_ascii_case(b"async")
        }
        _ => false,
    }
}

fn flush_mode_ok(ctx: &mut Ctx, args: &Args) -> bool {
    let ok = flush_mode_valid(args, 1);
    if !ok {
        ctx.reply.error(errors::SYNTAX);
    }
    ok
}

/// Empties a database, in the background with ASYNC (or by default
/// with `lazyfree-lazy-user-flush`), as Redis's `emptyData`.
fn empty(db: &mut crate::db::Db, lazy: bool) {
    let keys = db.len() as u64;
    let contents = db.take_all();
    if lazy && keys > 0 {
        crate::lazyfree::free_all(Box::new(contents), keys);
    }
}

/// Whether a FLUSH frees in the background: ASYNC, or no mode given and
/// `lazyfree-lazy-user-flush` set.
fn flush_async(ctx: &Ctx, args: &Args) -> bool {
    match args.len() {
        1 => crate::config::pending_bool(&ctx.state.config, "lazyfree-lazy-user-flush"),
        _ => args.get(1).eq_ignore_ascii_case(b"async"),
    }
}

pub(super) fn flushdb(ctx: &mut Ctx, args: Args) {
    if flush_mode_ok(ctx, &args) {
        let lazy = flush_async(ctx, &args);
        let (keys, _) = ctx.keys();
        empty(keys.db, lazy);
        let db = ctx.db_index();
        ctx.state.signal_all_blocked_in(db);
        crate::notify::flushed(ctx.state, ctx.clients, Some((ctx.me, &mut *ctx.reply)));
        ctx.reply.ok();
        ctx.state.forced_targets = crate::aof::TO_ALL;
    }
}

/// `FLUSHALL`: with save points set, the now empty dataset is saved at
/// once, replacing the snapshot, as Redis's `flushAllDataAndResetRDB`
/// does. Like FLUSHDB it reaches the AOF even when nothing was there.
pub(super) fn flushall(ctx: &mut Ctx, args: Args) {
    if !flush_mode_ok(ctx, &args) {
        return;
    }
    let lazy = flush_async(ctx, &args);
    let state = &mut *ctx.state;
    state.dbs.iter_mut().for_each(|db| empty(db, lazy));
    for db in 0..state.dbs.len() {
        state.signal_all_blocked_in(db);
    }
    crate::notify::flushed(state, ctx.clients, Some((ctx.me, &mut *ctx.reply)));
    if state.persist.child.as_ref().map(|c| c.kind) == Some(crate::persist::ChildKind::Rdb) {
        crate::persist::kill_snapshot_child(&mut state.persist);
    }
    if !state.config.save_points().is_empty() {
        let _ = crate::persist::save(
            &mut state.persist,
            &state.dbs,
            &state.functions.codes(),
            &state.config,
        );
    }
    state.forced_targets = crate::aof::TO_ALL;
    ctx.reply.ok();
}

/// EXPIRE's NX/XX/GT/LT flags (Redis's `parseExtendedExpireArgumentsOrReply`).
#[derive(Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_expire_flags(ctx: &mut Ctx, args: &Args) -> Option<ExpireFlags> {
    let mut f = ExpireFlags::default();
    for option in args.from(3) {
        let lower = option.to_ascii_lowercase();
        match &lower[..] {
            b"nx" => f.nx = true,
            b"xx" => f.xx = true,
            b"gt" => f.gt = true,
            b"lt" => f.lt = true,
            _ => {
                let mut message = b"ERR Unsupported option ".to_vec();
                message.extend_from_slice(option);
                ctx.reply.error_bytes(&message);
                return None;
            }
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        ctx.reply
            .error("ERR NX and XX, GT or LT options at the same time are not compatible");
        return None;
    }
    if f.gt && f.lt {
        ctx.reply
            .error("ERR GT and LT options at the same time are not compatible");
        return None;
    }
    Some(f)
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (Redis's `expireGenericCommand`):
/// `relative` adds the command time; a time already past deletes the key
/// (but see `Ctx::already_expired`).
fn expire_generic(ctx: &mut Ctx, args: Args, seconds: bool, relative: bool, command: &str) {
    let Some(flags) = parse_expire_flags(ctx, &args) else {
        return;
    };
    let Some(mut when) = i64_arg(ctx.reply, args.get(2)) else {
        return;
    };
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return ctx.reply.error(&errors::invalid_expire_time(command));
        }
        when *= 1000;
    }
    let base = if relative { ctx.now_ms } else { 0 };
    if when > i64::MAX - base {
        return ctx.reply.error(&errors::invalid_expire_time(command));
    }
    when += base;
    let key = args.get(1);
    let past = ctx.already_expired(when);
    let (mut keys, reply) = ctx.keys();
    if keys.write(key).is_none() {
        return reply.int(0);
    }
    let current = keys.db.expire_of(key);
    let refused = (flags.nx && current.is_some())
        || (flags.xx && current.is_none())
        || (flags.gt && current.is_none_or(|c| when <= c))
        || (flags.lt && current.is_some_and(|c| when >= c));
    if refused {
        return reply.int(0);
    }
    if past {
        keys.db.remove(key);
        ctx.notify(GENERIC, "del", key);
    } else {
        keys.db.set_expire(key, when);
        ctx.notify(GENERIC, "expire", key);
    }
    ctx.reply.int(1);
}

pub(super) fn expire(ctx: &mut Ctx, args: Args) {
    expire_generic(ctx, args, true, true, "expire");
}

pub(super) fn pexpire(ctx: &mut Ctx, args: Args) {
    expire_generic(ctx, args, false, true, "pexpire");
}

pub(super) fn expireat(ctx: &mut Ctx, args: Args) {
    expire_generic(ctx, args, true, false, "expireat");
}

pub(super) fn pexpireat(ctx: &mut Ctx, args: Args) {
    expire_generic(ctx, args, false, false, "pexpireat");
}

/// TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 for a missing key, -1 for no
/// expiry, else the remaining or absolute time.
fn ttl_generic(ctx: &mut Ctx, args: Args, millis: bool, absolute: bool) {
    let key = args.get(1);
    let (mut keys, reply) = ctx.keys();
    if !keys.exists(key) {
        return reply.int(-2);
    }
    let Some(when) = keys.db.expire_of(key) else {
        return reply.int(-1);
    };
    // As Redis's ttlGenericCommand: never below 0, seconds rounded to the
    // nearest, for the absolute forms too.
    let ttl = if absolute { when } else { when - keys.now_ms }.max(0);
    let value = if millis { ttl } else { (ttl + 500) / 1000 };
    reply.int(value);
}

pub(super) fn ttl(ctx: &mut Ctx, args: Args) {
    ttl_generic(ctx, args, false, false);
}

pub(super) fn pttl(ctx: &mut Ctx, args: Args) {
    ttl_generic(ctx, args, true, false);
}

pub(super) fn expiretime(ctx: &mut Ctx, args: Args) {
    ttl_generic(ctx, args, false, true);
}

pub(super) fn pexpiretime(ctx: &mut Ctx, args: Args) {
    ttl_generic(ctx, args, true, true);
}

pub(super) fn persist(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let (mut keys, _) = ctx.keys();
    let removed = keys.write(key).is_some() && keys.db.persist(key);
    if removed {
        ctx.notify(GENERIC, "persist", key);
    }
    ctx.reply.int(i64::from(removed));
}

pub(super) fn object_encoding(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    match keys.peek(args.get(2)) {
        Some(value) => reply.bulk(value.encoding().as_bytes()),
        None => reply.null(),
    }
}

pub(super) fn object_refcount(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    match keys.peek(args.get(2)) {
        Some(Value::Str(s)) if crate::db::value::is_shared_integer(s) => {
            reply.int(i64::from(i32::MAX))
        }
        Some(_) => reply.int(1),
        None => reply.null(),
    }
}

pub(super) fn object_idletime(ctx: &mut Ctx, args: Args) {
    let key = args.get(2);
    let lfu = ctx.state.config.maxmemory_policy.is_lfu();
    let (mut keys, reply) = ctx.keys();
    if keys.peek(key).is_none() {
        return reply.null();
    }
    if lfu {
        return reply.error(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. \
             Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        );
    }
    reply.int(keys.db.idle_secs(key).unwrap_or(0) as i64);
}

pub(super) fn object_freq(ctx: &mut Ctx, args: Args) {
    let key = args.get(2);
    let (mut keys, reply) = ctx.keys();
    if keys.peek(key).is_none() {
        return reply.null();
    }
    match keys.db.freq(key) {
        Some(freq) => reply.int(i64::from(freq)),
        None => reply.error(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
             Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ),
    }
}

pub(super) fn object_help(ctx: &mut Ctx, _args: Args) {
    reply_help(
        ctx.reply,
        "object",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
}

/// `MEMORY USAGE key [SAMPLES n]`: the entry in the table plus the value's
/// heap bytes.
pub(super) fn memory_usage(ctx: &mut Ctx, args: Args) {
    if args.len() == 5 && args.get(3).eq_ignore_ascii_case(b"samples") {
        if i64_arg(ctx.reply, args.get(4)).is_none() {
            return;
        }
    } else if args.len() != 3 {
        return ctx.reply.error(errors::SYNTAX);
    }
    let key = args.get(2);
    let (mut keys, reply) = ctx.keys();
    let entry =
        std::mem::size_of::<(crate::db::CompactBytes, Value)>() + std::mem::size_of::<u32>() + 1;
    match keys.read(key) {
        Some(value) => {
            let key_heap = if key.len() > 22 { key.len() } else { 0 };
            reply.int((entry + key_heap + value.memory_usage()) as i64)
        }
        None => reply.null(),
    }
}

pub(super) fn memory_help(ctx: &mut Ctx, _args: Args) {
    reply_help(
        ctx.reply,
        "memory",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
}
