//! Persistence and serialization commands: SAVE, BGSAVE, LASTSAVE, DUMP,
//! RESTORE. The formats
//! are `rdb`'s, the file policy `persist`'s; these handlers only parse
//! arguments and reply as Redis does.

use super::{i64_arg, Ctx};
use crate::client::Client;
use crate::errors;
use crate::persist;
use crate::protocol::request::Args;
use crate::rdb::{self, RestoreError};
use slab::Slab;

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

/// The options of a SHUTDOWN, or of a signal's `shutdown-on-*` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShutdownFlags {
    pub save: bool,
    pub nosave: bool,
    /// Do not wait for lagging replicas.
    pub now: bool,
    pub force: bool,
}

/// Where a shutdown stands after `prepare_for_shutdown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownStep {
    /// Done: the server may exit.
    Exit,
    /// It failed and the server keeps running.
    Failed,
    /// Waiting for replicas; the cron finishes it.
    Waiting,
}

/// A shutdown waiting for its replicas to catch up (Redis's
/// `shutdown_mstime`): writes are paused meanwhile.
#[derive(Debug, Clone)]
pub struct ShutdownWait {
    pub deadline: std::time::Instant,
    pub flags: ShutdownFlags,
    /// SHUTDOWN callers, blocked until it ends: (slab key, client id).
    pub callers: Vec<(usize, u64)>,
}

/// Starts a shutdown (Redis's `prepareForShutdown`). Unless NOW or
/// `shutdown-timeout 0`, with replicas that have not acknowledged the
/// whole stream, writes are paused, the replicas asked where they are,
/// and the cron finishes it once they caught up or the timeout passed.
pub fn prepare_for_shutdown(
    state: &mut crate::state::ServerState,
    clients: &Slab<Client>,
    flags: ShutdownFlags,
) -> ShutdownStep {
    log::warn!("User requested shutdown...");
    crate::daemon::stopping();
    let timeout_secs = crate::config::pending_text(&state.config, "shutdown-timeout")
        .parse::<u64>()
        .unwrap_or(10);
    if !flags.now && timeout_secs != 0 && !ready_to_shut_down(state, clients) {
        let now = std::time::Instant::now();
        state.shutdown_wait = Some(ShutdownWait {
            deadline: now + std::time::Duration::from_secs(timeout_secs),
            flags,
            callers: Vec::new(),
        });
        let all = state.pause.is_some_and(|p| p.all && p.until > now);
        let until = now + std::time::Duration::from_secs(365 * 24 * 3600);
        state.pause = Some(crate::state::Pause { until, all });
        state.repl.get_ack_wanted = true;
        log::info!("Waiting for replicas before shutting down.");
        return ShutdownStep::Waiting;
    }
    if finish_shutdown(state, clients, flags) {
        ShutdownStep::Exit
    } else {
        ShutdownStep::Failed
    }
}

/// Whether every replica acknowledged the whole stream (Redis's
/// `isReadyToShutdown`).
pub fn ready_to_shut_down(state: &crate::state::ServerState, clients: &Slab<Client>) -> bool {
    let offset = state.repl.offset;
    state.repl.replicas.iter().all(|&key| {
        clients
            .get(key)
            .and_then(|c| c.replica.as_deref())
            .is_none_or(|r| r.ack_offset == offset)
    })
}

/// Stops a shutdown that waits: writes resume, and its callers are
/// answered with an error by the loop (Redis's `cancelShutdown`).
pub fn cancel_shutdown(state: &mut crate::state::ServerState) {
    if let Some(wait) = state.shutdown_wait.take() {
        state.shutdown_refused.extend(wait.callers);
        if let Some(pause) = state.pause.as_mut() {
            pause.until = std::time::Instant::now();
        }
    }
}

/// The last step of a shutdown (Redis's `finishShutdown`): lagging
/// replicas logged, children stopped, then the final snapshot when save
/// points are set or `save` asks (not with `nosave`). False when the
/// server may not exit: it keeps running, and a signal asks again rather
/// than forcing an exit.
pub fn finish_shutdown(
    state: &mut crate::state::ServerState,
    clients: &Slab<Client>,
    flags: ShutdownFlags,
) -> bool {
    log_lagging_replicas(state, clients);
    let mut ok = stop_children_for_shutdown(state, flags.force);
    if ok && (flags.save || (!flags.nosave && !state.config.save.is_empty())) {
        log::warn!("Saving the final RDB snapshot before exiting.");
        let saved = persist::save(
            &mut state.persist,
            &state.dbs,
            &state.functions.codes(),
            &state.config,
        );
        if saved.is_err() {
            if flags.force {
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

/// One line per replica still behind, then how many are in sync.
fn log_lagging_replicas(state: &crate::state::ServerState, clients: &Slab<Client>) {
    let offset = state.repl.offset;
    let mut lagging = 0;
    for &key in &state.repl.replicas {
        let Some(client) = clients.get(key) else {
            continue;
        };
        let Some(replica) = client.replica.as_deref() else {
            continue;
        };
        if replica.ack_offset != offset {
            lagging += 1;
            let online = replica.phase == crate::repl::Phase::Online;
            let lag = if online {
                replica.ack_time.elapsed().as_secs()
            } else {
                0
            };
            log::warn!(
                "Lagging replica {} reported offset {} behind master, lag={lag}, state={}.",
                crate::cmd::replica_address(client),
                offset.saturating_sub(replica.ack_offset),
                if online { "online" } else { "wait_bgsave" },
            );
        }
    }
    let count = state.repl.replicas.len();
    if count > 0 {
        log::info!(
            "{} of {count} replicas are in sync when shutting down.",
            count - lagging
        );
    }
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
/// Whether Redis would check a RESTORE payload entry by entry
/// (`sanitize-dump-payload`): rudis always does, and counts it in INFO
/// only where Redis would.
fn deep_sanitization(ctx: &Ctx) -> bool {
    match ctx.state.config.sanitize_dump_payload {
        0 => false,
        1 => true,
        _ => {
            let client = &ctx.clients[ctx.me];
            let skip_user = ctx
                .state
                .users
                .get(client.user)
                .is_some_and(|user| user.sanitize == Some(false));
            !client.is_master && !skip_user
        }
    }
}

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
    let deep_sanitization = deep_sanitization(ctx);
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
        Ok((value, sanitized)) => {
            if deep_sanitization {
                keys.stats.dump_payload_sanitizations += sanitized;
            }
            value
        }
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
