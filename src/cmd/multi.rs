//! Transactions: MULTI queues commands, EXEC runs them back to back (no
//! other client runs in between, as everything runs on the one loop),
//! DISCARD drops them. WATCH makes EXEC fail with a null reply if a watched
//! key was modified since (see `Db::watch`).

use super::Ctx;

use crate::protocol::request::{Args, OwnedArgs};

pub(super) fn multi(ctx: &mut Ctx, _args: Args) {
    let client = ctx.client();
    if client.multi.is_some() {
        return ctx.reply.error("ERR MULTI calls can not be nested");
    }
    client.multi = Some(Transaction::default());
    ctx.reply.ok();
}

pub(super) fn discard(ctx: &mut Ctx, _args: Args) {
    if ctx.client().multi.take().is_none() {
        return ctx.reply.error("ERR DISCARD without MULTI");
    }
    unwatch_all(ctx);
    ctx.reply.ok();
}

/// EXEC refused before it runs (Redis's `execCommandAbort`): the
/// transaction is discarded, its watches dropped, and the refusal
/// returned inside an EXECABORT.
pub fn abort_exec(ctx: &mut Ctx, error: &str) {
    ctx.client().multi = None;
    unwatch_all(ctx);
    ctx.reply.error(&format!("{EXECABORT}{error}"));
}

/// How an aborted EXEC's error begins.
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of: ";

pub(super) fn exec(ctx: &mut Ctx, _args: Args) {
    let Some(transaction) = ctx.client().multi.take() else {
        return ctx.reply.error("ERR EXEC without MULTI");
    };
    if transaction.failed {
        unwatch_all(ctx);
        return ctx
            .reply
            .error("EXECABORT Transaction discarded because of previous errors.");
    }
    let now_ms = ctx.now_ms;
    let touched = ctx.clients[ctx.me]
        .watching
        .iter()
        .any(|watch| watch.touched(&ctx.state.dbs[watch.db], now_ms));
    unwatch_all(ctx);
    if touched {
        return ctx.reply.null_array();
    }
    ctx.reply.array(transaction.queued.len());
    ctx.state.in_exec = true;
    // CLIENT LIST shows the transaction while it runs, as Redis does.
    let memory = transaction.queued.iter().map(|q| q.memory()).sum();
    ctx.client().exec_running = Some((transaction.queued.len(), memory));
    for command in &transaction.queued {
        super::dispatch(ctx, command.args());
        // Inside a transaction a blocking command does not block: it
        // answers as if its timeout had passed.
        match ctx.state.block_request.take() {
            Some(request) if request.null_bulk_when_not_blocking => ctx.reply.null(),
            Some(_) => ctx.reply.null_array(),
            None => {}
        }
    }
    ctx.client().exec_running = None;
    ctx.state.in_exec = false;
}

pub(super) fn watch(ctx: &mut Ctx, args: Args) {
    if ctx.client().multi.is_some() {
        return ctx.reply.error("ERR WATCH inside MULTI is not allowed");
    }
    let db = ctx.db_index();
    let now_ms = ctx.now_ms;
    for key in args.from(1) {
        if ctx.clients[ctx.me]
            .watching
            .iter()
            .any(|w| w.db == db && w.key == key)
        {
            continue;
        }
        let found = Found::in_db(&ctx.state.dbs[db], key, now_ms);
        let version = ctx.state.dbs[db].watch(key);
        ctx.client().watching.push(Watch {
            db,
            key: key.to_vec(),
            version,
            found,
        });
    }
    ctx.reply.ok();
}

pub(super) fn unwatch(ctx: &mut Ctx, _args: Args) {
    unwatch_all(ctx);
    ctx.reply.ok();
}

/// Drops every WATCH of the running client.
pub fn unwatch_all(ctx: &mut Ctx) {
    let watching = std::mem::take(&mut ctx.client().watching);
    for watch in watching {
        ctx.state.dbs[watch.db].unwatch(&watch.key);
    }
}

/// A key under WATCH, as its client found it then.
pub struct Watch {
    pub db: usize,
    pub key: Vec<u8>,
    /// The key's change counts in its database then (see `Db::watch`).
    pub version: crate::db::WatchVersion,
    pub found: Found,
}

/// What a watched key was when it was watched, or is now.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Absent,
    Live,
    /// Still stored, but past its expiry: logically gone already.
    Stale,
}

impl Found {
    pub fn in_db(db: &crate::db::Db, key: &[u8], now_ms: i64) -> Found {
        if !db.contains_key(key) {
            Found::Absent
        } else if db.is_expired(key, now_ms) {
            Found::Stale
        } else {
            Found::Live
        }
    }
}

impl Watch {
    /// Whether EXEC must fail because of this key (Redis 7.0's
    /// `touchWatchedKey` and `isWatchedKeyExpired`): it changed, or it
    /// expired since. A key already expired when watched changes nothing
    /// by going (lazily, by DEL, FLUSHDB or SWAPDB); only coming back to
    /// life counts.
    pub fn touched(&self, db: &crate::db::Db, now_ms: i64) -> bool {
        let now = Found::in_db(db, &self.key, now_ms);
        let counts = db.watch_version(&self.key).unwrap_or_default();
        let changed = counts.version != self.version.version;
        match self.found {
            Found::Stale => now == Found::Live || counts.revivals != self.version.revivals,
            Found::Live => changed || now == Found::Stale,
            Found::Absent => changed,
        }
    }
}

/// Commands queued between MULTI and EXEC; `failed` once a command was
/// refused while queueing.
#[derive(Default)]
pub struct Transaction {
    pub queued: Vec<OwnedArgs>,
    pub failed: bool,
    /// A queued command may grow memory (EXEC is then refused over
    /// `maxmemory`, as Redis's `mstate.cmd_flags`).
    pub denyoom: bool,
    /// A queued command writes (EXEC is refused on a read-only replica).
    pub has_writes: bool,
    /// A queued command is one a stale replica refuses (so is EXEC).
    pub denies_stale: bool,
    /// A queued command writes or may replicate (CLIENT PAUSE WRITE
    /// holds EXEC).
    pub may_replicate: bool,
}

impl Transaction {
    pub fn queue(&mut self, args: Args) {
        self.queued.push(OwnedArgs::new(args));
    }
}
