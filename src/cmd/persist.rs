//! Persistence and serialization commands: SAVE, BGSAVE, LASTSAVE, DUMP,
//! RESTORE. The formats
//! are `rdb`'s, the file policy `persist`'s; these handlers only parse
//! arguments and reply as Redis does.

use super::{i64_arg, Arg, BeginSearch, Command, Ctx, FindKeys, KeySpec};
use crate::errors;
use crate::persist;
use crate::protocol::request::Args;
use crate::rdb::{self, RestoreError};

pub static COMMANDS: [Command; 6] = [
    Command {
        name: "bgrewriteaof",
        handler: bgrewriteaof,
        arity: 1,
        flags: "admin noscript no_async_loading",
        acl: "admin slow dangerous",
        group: "server",
        summary: "Asynchronously rewrite the append-only file",
        ..Command::BASE
    },
    Command {
        name: "save",
        handler: save,
        arity: 1,
        flags: "admin noscript no_async_loading no_multi",
        acl: "admin slow dangerous",
        group: "server",
        summary: "Synchronously save the dataset to disk",
        complexity: "O(N) where N is the total number of keys in all databases",
        ..Command::BASE
    },
    Command {
        name: "bgsave",
        handler: bgsave,
        arity: -1,
        flags: "admin noscript no_async_loading",
        acl: "admin slow dangerous",
        group: "server",
        summary: "Asynchronously save the dataset to disk",
        history: &[("3.2.2", "Added the `SCHEDULE` option.")],
        args: &[
            Arg { name: "schedule", kind: "pure-token", token: "SCHEDULE", since: "3.2.2", flags: "optional", ..Arg::BASE },
        ],
        ..Command::BASE
    },
    Command {
        name: "lastsave",
        handler: lastsave,
        arity: 1,
        flags: "loading stale fast",
        acl: "admin fast dangerous",
        tips: "nondeterministic_output",
        group: "server",
        summary: "Get the UNIX time stamp of the last successful save to disk",
        ..Command::BASE
    },
    Command {
        name: "dump",
        handler: dump,
        arity: 2,
        flags: "readonly",
        acl: "keyspace read slow",
        tips: "nondeterministic_output",
        keys: (1, 1, 1),
        key_specs: &[
            KeySpec { notes: "", flags: "RO access", begin: BeginSearch::Index(1), find: FindKeys::Range(0, 1, 0) },
        ],
        group: "generic",
        since: "2.6.0",
        summary: "Return a serialized version of the value stored at the specified key.",
        complexity: "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: 0, ..Arg::BASE },
        ],
        ..Command::BASE
    },
    Command {
        name: "restore",
        handler: restore,
        arity: -4,
        flags: "write denyoom",
        acl: "keyspace write slow dangerous",
        keys: (1, 1, 1),
        key_specs: &[
            KeySpec { notes: "", flags: "OW update", begin: BeginSearch::Index(1), find: FindKeys::Range(0, 1, 0) },
        ],
        group: "generic",
        since: "2.6.0",
        summary: "Create a key using the provided serialized value, previously obtained using DUMP.",
        complexity: "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
        history: &[
            ("3.0.0", "Added the `REPLACE` modifier."),
            ("5.0.0", "Added the `ABSTTL` modifier."),
            ("5.0.0", "Added the `IDLETIME` and `FREQ` options."),
        ],
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: 0, ..Arg::BASE },
            Arg { name: "ttl", kind: "integer", ..Arg::BASE },
            Arg { name: "serialized-value", kind: "string", ..Arg::BASE },
            Arg { name: "replace", kind: "pure-token", token: "REPLACE", since: "3.0.0", flags: "optional", ..Arg::BASE },
            Arg { name: "absttl", kind: "pure-token", token: "ABSTTL", since: "5.0.0", flags: "optional", ..Arg::BASE },
            Arg { name: "seconds", kind: "integer", token: "IDLETIME", since: "5.0.0", flags: "optional", ..Arg::BASE },
            Arg { name: "frequency", kind: "integer", token: "FREQ", since: "5.0.0", flags: "optional", ..Arg::BASE },
        ],
        ..Command::BASE
    },
];

fn save(ctx: &mut Ctx, _args: Args) {
    let state = &mut *ctx.state;
    if state.persist.child.is_some() {
        return ctx.reply.error(errors::BGSAVE_IN_PROGRESS);
    }
    // Counted when tried, as Redis counts SAVE and BGSAVE (not the saves
    // of SHUTDOWN, FLUSHALL or DEBUG RELOAD).
    state.persist.rdb_saves += 1;
    match persist::save(&mut state.persist, &state.dbs, &state.config) {
        Ok(()) => ctx.reply.ok(),
        Err(_) => ctx.reply.error("ERR"),
    }
}

/// `BGSAVE [SCHEDULE]` (Redis's `bgsaveCommand`).
fn bgsave(ctx: &mut Ctx, args: Args) {
    let schedule = match args.len() {
        1 => false,
        2 if args.get(1).eq_ignore_ascii_case(b"schedule") => true,
        _ => return ctx.reply.error(errors::SYNTAX),
    };
    let state = &mut *ctx.state;
    match state.persist.child.as_ref().map(|c| c.kind) {
        Some(persist::ChildKind::Rdb) => ctx.reply.error(errors::BGSAVE_IN_PROGRESS),
        Some(_) if !schedule => ctx.reply.error(
            "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
        ),
        _ if state.persist.child.is_some() || state.in_exec => {
            // Forking inside EXEC would snapshot half a transaction.
            state.persist.bgsave_scheduled = true;
            ctx.reply.simple("Background saving scheduled");
        }
        _ => match persist::bgsave(
            &mut state.persist,
            &state.dbs,
            &state.config,
            &state.listener_fds,
        ) {
            Ok(()) => ctx.reply.simple("Background saving started"),
            Err(_) => ctx.reply.error("ERR"),
        },
    }
}

/// `BGREWRITEAOF` (Redis's `bgrewriteaofCommand`).
fn bgrewriteaof(ctx: &mut Ctx, _args: Args) {
    let state = &mut *ctx.state;
    match state.persist.child.as_ref().map(|c| c.kind) {
        Some(persist::ChildKind::Aof) => ctx
            .reply
            .error("ERR Background append only file rewriting already in progress"),
        Some(_) => {
            state.aof.rewrite_scheduled = true;
            ctx.reply.simple("Background append only file rewriting scheduled");
        }
        None if state.in_exec => {
            state.aof.rewrite_scheduled = true;
            ctx.reply.simple("Background append only file rewriting scheduled");
        }
        None => match crate::aof::start_rewrite(state) {
            Ok(()) => ctx.reply.simple("Background append only file rewriting started"),
            Err(_) => ctx.reply.error("ERR Can't execute an AOF background rewriting. Please check the server logs for more information."),
        },
    }
}

/// `CONFIG SET appendonly`: turning it on starts logging into a new
/// incremental file and writes a base in the background; turning it off
/// flushes and closes the log (Redis's `startAppendOnly`/`stopAppendOnly`).
pub fn appendonly_changed(state: &mut crate::state::ServerState) -> Result<(), String> {
    if state.config.appendonly {
        if state.aof.manifest.base.is_none() && state.aof.manifest.incrs.is_empty() {
            state.aof.manifest = crate::aof::read_manifest(&state.config)?.unwrap_or_default();
        }
        if state.persist.child.is_some() {
            persist::kill_child(&mut state.persist);
        }
        for db in &mut state.dbs {
            db.expired_log = Some(Vec::new());
        }
        state.aof.state = crate::aof::AofState::WaitRewrite;
        crate::aof::start_rewrite(state).map_err(|e| e.to_string())?;
    } else {
        if state.persist.child.as_ref().map(|c| c.kind) == Some(persist::ChildKind::Aof) {
            persist::kill_child(&mut state.persist);
        }
        state.aof.close(&state.config);
        for db in &mut state.dbs {
            db.expired_log = None;
        }
    }
    Ok(())
}

fn lastsave(ctx: &mut Ctx, _args: Args) {
    ctx.reply.int(ctx.state.persist.last_save_unix);
}

fn dump(ctx: &mut Ctx, args: Args) {
    let fill = ctx.state.config.list_max_listpack_size;
    let (mut keys, reply) = ctx.keys();
    match keys.read(args.get(1)) {
        Some(value) => reply.bulk(&rdb::dump_payload(value, fill)),
        None => reply.null(),
    }
}

/// `RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]`,
/// checked in the order of Redis's `restoreCommand`.
fn restore(ctx: &mut Ctx, args: Args) {
    let (mut replace, mut absttl) = (false, false);
    let mut idle: Option<i64> = None;
    let mut freq: Option<i64> = None;
    let mut i = 4;
    while i < args.len() {
        let arg = args.get(i);
        let more = args.len() - i - 1;
        if arg.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if arg.eq_ignore_ascii_case(b"absttl") {
            absttl = true;
        } else if arg.eq_ignore_ascii_case(b"idletime") && more >= 1 && freq.is_none() {
            let Some(secs) = i64_arg(ctx.reply, args.get(i + 1)) else {
                return;
            };
            if secs < 0 {
                return ctx.reply.error("ERR Invalid IDLETIME value, must be >= 0");
            }
            idle = Some(secs);
            i += 1;
        } else if arg.eq_ignore_ascii_case(b"freq") && more >= 1 && idle.is_none() {
            let Some(f) = i64_arg(ctx.reply, args.get(i + 1)) else {
                return;
            };
            if !(0..=255).contains(&f) {
                return ctx
                    .reply
                    .error("ERR Invalid FREQ value, must be >= 0 and <= 255");
            }
            freq = Some(f);
            i += 1;
        } else {
            return ctx.reply.error(errors::SYNTAX);
        }
        i += 1;
    }
    let key = args.get(1);
    let now_ms = ctx.now_ms;
    let config = &ctx.state.config;
    let (mut keys, reply) = {
        let db = ctx.clients[ctx.me].db;
        let keys = super::Keys {
            db: &mut ctx.state.dbs[db],
            stats: &mut ctx.state.stats,
            now_ms,
        };
        (keys, &mut *ctx.reply)
    };
    if !replace && keys.exists(key) {
        return reply.error(errors::BUSYKEY);
    }
    let Some(mut ttl) = i64_arg(reply, args.get(2)) else {
        return;
    };
    if ttl < 0 {
        return reply.error("ERR Invalid TTL value, must be >= 0");
    }
    let value = match rdb::restore_payload(args.get(3), config) {
        Ok(value) => value,
        Err(RestoreError::Checksum) => return reply.error(errors::DUMP_PAYLOAD),
        Err(RestoreError::BadFormat) => return reply.error(errors::BAD_DATA_FORMAT),
    };
    if replace {
        keys.delete(key);
    }
    if ttl > 0 && !absttl {
        ttl = ttl.saturating_add(now_ms);
    }
    if ttl > 0 && ttl <= now_ms {
        // Already expired: nothing to create (the old key, if replaced, is gone).
        return reply.ok();
    }
    keys.db.set(key, value, false);
    if ttl > 0 {
        keys.db.set_expire(key, ttl);
    }
    if let Some(secs) = idle {
        keys.db.set_idle(key, secs as u64);
    }
    reply.ok();
}
