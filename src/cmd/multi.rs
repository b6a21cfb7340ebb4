//! Transactions: MULTI queues commands, EXEC runs them back to back (no
//! other client runs in between, as everything runs on the one loop),
//! DISCARD drops them. WATCH makes EXEC fail with a null reply if a watched
//! key was modified since (see `Db::watch`).

use super::{BeginSearch, Command, Ctx, FindKeys, KeySpec};

use crate::protocol::request::{Args, OwnedArgs};

pub static COMMANDS: [Command; 5] = [
    Command {
        name: "multi",
        handler: multi,
        arity: 1,
        flags: "noscript loading stale fast allow_busy",
        acl: "fast transaction",
        group: "transactions",
        since: "1.2.0",
        summary: "Mark the start of a transaction block",
        ..Command::BASE
    },
    Command {
        name: "exec",
        handler: exec,
        arity: 1,
        flags: "noscript loading stale skip_slowlog",
        acl: "slow transaction",
        group: "transactions",
        since: "1.2.0",
        summary: "Execute all commands issued after MULTI",
        complexity: "Depends on commands in the transaction",
        ..Command::BASE
    },
    Command {
        name: "discard",
        handler: discard,
        arity: 1,
        flags: "noscript loading stale fast allow_busy",
        acl: "fast transaction",
        group: "transactions",
        since: "2.0.0",
        summary: "Discard all commands issued after MULTI",
        complexity: "O(N), when N is the number of queued commands",
        ..Command::BASE
    },
    Command {
        name: "watch",
        handler: watch,
        arity: -2,
        flags: "noscript loading stale fast allow_busy",
        acl: "fast transaction",
        keys: (1, -1, 1),
        key_specs: &[KeySpec {
            notes: "",
            flags: "RO",
            begin: BeginSearch::Index(1),
            find: FindKeys::Range(-1, 1, 0),
        }],
        group: "transactions",
        since: "2.2.0",
        summary: "Watch the given keys to determine execution of the MULTI/EXEC block",
        complexity: "O(1) for every key.",
        ..Command::BASE
    },
    Command {
        name: "unwatch",
        handler: unwatch,
        arity: 1,
        flags: "noscript loading stale fast allow_busy",
        acl: "fast transaction",
        group: "transactions",
        since: "2.2.0",
        summary: "Forget about all watched keys",
        ..Command::BASE
    },
];

fn multi(ctx: &mut Ctx, _args: Args) {
    let client = ctx.client();
    if client.multi.is_some() {
        return ctx.reply.error("ERR MULTI calls can not be nested");
    }
    client.multi = Some(Transaction::default());
    ctx.reply.ok();
}

fn discard(ctx: &mut Ctx, _args: Args) {
    if ctx.client().multi.take().is_none() {
        return ctx.reply.error("ERR DISCARD without MULTI");
    }
    unwatch_all(ctx);
    ctx.reply.ok();
}

fn exec(ctx: &mut Ctx, _args: Args) {
    let Some(transaction) = ctx.client().multi.take() else {
        return ctx.reply.error("ERR EXEC without MULTI");
    };
    if transaction.failed {
        unwatch_all(ctx);
        return ctx
            .reply
            .error("EXECABORT Transaction discarded because of previous errors.");
    }
    let touched = ctx.clients[ctx.me]
        .watching
        .iter()
        .any(|(db, key, version)| ctx.state.dbs[*db].watch_version(key) != Some(*version));
    unwatch_all(ctx);
    if touched {
        return ctx.reply.null_array();
    }
    ctx.reply.array(transaction.queued.len());
    ctx.state.in_exec = true;
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
    ctx.state.in_exec = false;
}

fn watch(ctx: &mut Ctx, args: Args) {
    if ctx.client().multi.is_some() {
        return ctx.reply.error("ERR WATCH inside MULTI is not allowed");
    }
    let db = ctx.db_index();
    for key in args.from(1) {
        if ctx.clients[ctx.me]
            .watching
            .iter()
            .any(|(d, k, _)| *d == db && k == key)
        {
            continue;
        }
        let version = ctx.state.dbs[db].watch(key);
        ctx.client().watching.push((db, key.to_vec(), version));
    }
    ctx.reply.ok();
}

fn unwatch(ctx: &mut Ctx, _args: Args) {
    unwatch_all(ctx);
    ctx.reply.ok();
}

/// Drops every WATCH of the running client.
pub fn unwatch_all(ctx: &mut Ctx) {
    let watching = std::mem::take(&mut ctx.client().watching);
    for (db, key, _) in watching {
        ctx.state.dbs[db].unwatch(&key);
    }
}

/// Commands queued between MULTI and EXEC; `failed` once a command was
/// refused while queueing.
#[derive(Default)]
pub struct Transaction {
    pub queued: Vec<OwnedArgs>,
    pub failed: bool,
}

impl Transaction {
    pub fn queue(&mut self, args: Args) {
        self.queued.push(OwnedArgs::new(args));
    }
}
