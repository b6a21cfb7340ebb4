//! Persistence and serialization commands: SAVE, BGSAVE, LASTSAVE, DUMP,
//! RESTORE. The formats
//! are `rdb`'s, the file policy `persist`'s; these handlers only parse
//! arguments and reply as Redis does.

use super::{i64_arg, Ctx};
use crate::errors;
use crate::persist;
use crate::protocol::request::Args;
use crate::rdb::{self, RestoreError};

pub(super) fn save(ctx: &mut Ctx, _args: Args) {
    let state = &mut *ctx.state;
    if state.persist.child.is_some() {
        return ctx.reply.error(errors::BGSAVE_IN_PROGRESS);
    }
    // Counted when tried, as Redis counts SAVE and BGSAVE (not the saves
    // of SHUTDOWN, FLUSHALL or DEBUG RELOAD).
    state.persist.rdb_saves += 1;
    match persist::save(
        &mut state.persist,
        &state.dbs,
        &state.functions.codes(),
        &state.config,
    ) {
        Ok(()) => ctx.reply.ok(),
        Err(_) => ctx.reply.error("ERR"),
    }
}

/// `BGSAVE [SCHEDULE]` (Redis's `bgsaveCommand`).
pub(super) fn bgsave(ctx: &mut Ctx, args: Args) {
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
            &state.functions.codes(),
            &state.config,
            &state.listener_fds,
        ) {
            Ok(()) => ctx.reply.simple("Background saving started"),
            Err(_) => ctx.reply.error("ERR"),
        },
    }
}

/// `BGREWRITEAOF` (Redis's `bgrewriteaofCommand`).
pub(super) fn bgrewriteaof(ctx: &mut Ctx, _args: Args) {
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
        for db in &mut state.dbs {
            db.expired_log = Some(Vec::new());
        }
        state.aof.state = crate::aof::AofState::WaitRewrite;
        let child = state.persist.child.as_ref().map(|c| c.kind);
        // The rewrite that makes the first base waits for a snapshot
        // being written, or for the end of the transaction that asked.
        if child.is_some_and(|kind| kind != persist::ChildKind::Aof) {
            state.aof.rewrite_scheduled = true;
            log::warn!("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
            return Ok(());
        }
        if state.in_exec {
            state.aof.rewrite_scheduled = true;
            log::warn!("AOF was enabled during a transaction. An AOF background was scheduled to start when possible.");
            return Ok(());
        }
        if child.is_some() {
            log::warn!("AOF was enabled but there is already an AOF rewriting in background. Stopping background AOF and starting a rewrite now.");
            kill_aof_rewrite(state);
        }
        if let Err(e) = crate::aof::start_rewrite(state) {
            // Back to how it was: the AOF stays off.
            state.aof.state = crate::aof::AofState::Off;
            state.refresh_expired_logs();
            return Err(e.to_string());
        }
    } else {
        kill_aof_rewrite(state);
        state.aof.close();
        state.refresh_expired_logs();
    }
    Ok(())
}

/// What SHUTDOWN and a signal's shutdown do before the server closes
/// (Redis's `prepareForShutdown`): children stopped, then the final
/// snapshot when save points are set or `save` asks (not with `nosave`).
/// False when the server may not exit: it keeps running, and a signal
/// asks again rather than forcing an exit.
pub fn prepare_for_shutdown(
    state: &mut crate::state::ServerState,
    save: bool,
    nosave: bool,
    force: bool,
) -> bool {
    log::warn!("User requested shutdown...");
    crate::daemon::stopping();
    let mut ok = stop_children_for_shutdown(state, force);
    if ok && (save || (!nosave && !state.config.save.is_empty())) {
        log::warn!("Saving the final RDB snapshot before exiting.");
        let saved = persist::save(
            &mut state.persist,
            &state.dbs,
            &state.functions.codes(),
            &state.config,
        );
        if saved.is_err() {
            if force {
                log::warn!("Error trying to save the DB. Exit anyway.");
            } else {
                log::warn!("Error trying to save the DB, can't exit.");
                ok = false;
            }
        }
    }
    if !ok {
        log::warn!("Errors trying to shut down the server. Check the logs for more information.");
        crate::signals::cancel();
    }
    ok
}

/// The first step of a shutdown (Redis's `prepareForShutdown`): a child
/// writing a snapshot is killed, and so is one rewriting the AOF, unless
/// its base is the first the AOF will have: then the server only exits
/// when forced. False when it may not exit.
fn stop_children_for_shutdown(state: &mut crate::state::ServerState, force: bool) -> bool {
    let Some(kind) = state.persist.child.as_ref().map(|c| c.kind) else {
        return true;
    };
    if kind != persist::ChildKind::Aof {
        log::warn!("There is a child saving an .rdb. Killing it!");
        persist::kill_child(&mut state.persist);
        return true;
    }
    if !state.aof.logging() {
        // A BGREWRITEAOF with the AOF off: nothing will use its file.
        persist::kill_child(&mut state.persist);
        return true;
    }
    if state.aof.state == crate::aof::AofState::WaitRewrite {
        if !force {
            log::warn!("Writing initial AOF, can't exit.");
            return false;
        }
        log::warn!("Writing initial AOF. Exit anyway.");
    }
    log::warn!("There is a child rewriting the AOF. Killing it!");
    kill_aof_rewrite(state);
    true
}

/// Stops a running AOF rewrite (Redis's `killAppendOnlyChild`): the
/// child is killed and the base it was writing removed.
fn kill_aof_rewrite(state: &mut crate::state::ServerState) {
    let Some(child) = state.persist.child.as_ref() else {
        return;
    };
    if child.kind != persist::ChildKind::Aof {
        return;
    }
    log::info!("Killing running AOF rewrite child: {}", child.pid);
    let temp = state.aof.rewrite_temp.take();
    persist::kill_child(&mut state.persist);
    if let Some(temp) = temp {
        let _ = std::fs::remove_file(temp);
    }
}

pub(super) fn lastsave(ctx: &mut Ctx, _args: Args) {
    ctx.reply.int(ctx.state.persist.last_save_unix);
}

pub(super) fn dump(ctx: &mut Ctx, args: Args) {
    let fill = ctx.state.config.list_max_listpack_size;
    let (mut keys, reply) = ctx.keys();
    match keys.read(args.get(1)) {
        Some(value) => reply.bulk(&rdb::dump_payload(value, fill)),
        None => reply.null(),
    }
}

/// `RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]`,
/// checked in the order of Redis's `restoreCommand`.
pub(super) fn restore(ctx: &mut Ctx, args: Args) {
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
    let expires_now = ctx.state.deletes_past_expiries();
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
    // One change as Redis counts it: the key restored, or the old key
    // replaced by one already expired.
    let changes = crate::db::Changes::begin();
    let replaced = replace && keys.delete(key);
    if ttl > 0 && !absttl {
        ttl = ttl.saturating_add(now_ms);
    }
    if ttl > 0 && ttl <= now_ms && expires_now {
        // Already expired: nothing to create (the old key, if replaced, is gone).
        changes.made(u64::from(replaced));
        if replaced {
            ctx.notify(crate::notify::GENERIC, "del", key);
        }
        return ctx.reply.ok();
    }
    keys.db.set(key, value, false);
    if ttl > 0 {
        keys.db.set_expire(key, ttl);
    }
    changes.made(1);
    keys.db
        .restore_access(key, freq.map(|f| f as u8), idle.map(|s| s as u64));
    ctx.notify(crate::notify::GENERIC, "restore", key);
    ctx.reply.ok();
}
