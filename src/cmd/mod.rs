//! The command table and dispatch. Each entry holds what Redis's command
//! table holds: name, arity, flags, key positions, and the documentation
//! `COMMAND DOCS` serves; `COMMAND`, `COMMAND INFO/COUNT/LIST/DOCS` are all
//! generated from it, so they stay true as commands are added.
//!
//! Dispatch checks that the command exists and that its arity fits, once,
//! with Redis's error texts, so handlers never re-check them. Handlers live
//! one file per family.

mod client;
mod connection;
mod info;
mod server;

use crate::client::Client;
use crate::errors;
use crate::protocol::request::Args;
use crate::protocol::Reply;
use crate::state::ServerState;
use slab::Slab;
use std::collections::HashMap;
use std::sync::OnceLock;

/// What a command runs with: the server's state, every client, which of
/// them is running the command, and where its reply goes.
pub struct Ctx<'a> {
    pub state: &'a mut ServerState,
    pub clients: &'a mut Slab<Client>,
    pub me: usize,
    pub reply: &'a mut Reply,
}

impl Ctx<'_> {
    /// The client running the command.
    pub fn client(&mut self) -> &mut Client {
        &mut self.clients[self.me]
    }
}

/// Where a command's keys are (Redis 7 key specs), for `COMMAND INFO`.
pub struct KeySpec {
    pub notes: &'static str,
    pub flags: &'static str,
    pub begin: BeginSearch,
    pub find: FindKeys,
}

pub enum BeginSearch {
    Index(i32),
    Keyword(&'static str, i32),
}

pub enum FindKeys {
    /// Last key (relative), key step, limit.
    Range(i32, i32, i32),
    /// Index of the key count, first key, key step.
    Keynum(i32, i32, i32),
}

pub type Handler = fn(&mut Ctx, Args);

/// One command (or subcommand) of the table.
pub struct Command {
    /// Lower case; subcommands are named `parent|sub`.
    pub name: &'static str,
    pub handler: Handler,
    /// Redis's convention: `n` exactly n arguments (name included), `-n` at
    /// least n.
    pub arity: i32,
    /// Space-separated Redis flags (`readonly fast`, `write denyoom`, ...).
    pub flags: &'static str,
    /// Space-separated ACL categories, without the `@`.
    pub acl: &'static str,
    /// Space-separated command tips (`nondeterministic_output`, ...).
    pub tips: &'static str,
    /// First key, last key (-1: the last argument), step; 0 0 0: no keys.
    pub keys: (i32, i32, i32),
    pub key_specs: &'static [KeySpec],
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub complexity: &'static str,
    pub doc_flags: &'static str,
    pub deprecated_since: &'static str,
    pub replaced_by: &'static str,
    pub subcommands: &'static [Command],
}

impl Command {
    /// The name without the parent: `get` for `config|get`.
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('|').next().unwrap_or(self.name)
    }

    fn arity_fits(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }
}

/// Every top-level command, in no particular order.
pub fn table() -> &'static [&'static Command] {
    static TABLE: OnceLock<Vec<&'static Command>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut all: Vec<&'static Command> = Vec::new();
        all.extend(connection::COMMANDS.iter());
        all.extend(server::COMMANDS.iter());
        all.extend(client::COMMANDS.iter());
        all
    })
}

fn index() -> &'static HashMap<&'static [u8], &'static Command> {
    static INDEX: OnceLock<HashMap<&'static [u8], &'static Command>> = OnceLock::new();
    INDEX.get_or_init(|| table().iter().map(|c| (c.name.as_bytes(), *c)).collect())
}

/// Longest command name accepted; longer ones cannot exist.
const MAX_NAME: usize = 32;

/// Looks a command up by name, case-insensitively, without allocating.
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    let mut lower = [0u8; MAX_NAME];
    let folded = lower.get_mut(..name.len())?;
    for (dst, src) in folded.iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    index().get(&folded[..]).copied()
}

fn lookup_subcommand(parent: &'static Command, name: &[u8]) -> Option<&'static Command> {
    parent
        .subcommands
        .iter()
        .find(|sub| sub.short_name().as_bytes().eq_ignore_ascii_case(name))
}

/// Runs one command: lookup, arity check, handler, counters. Mirrors the
/// checks at the top of Redis's `processCommand`.
pub fn dispatch(ctx: &mut Ctx, args: Args) {
    let start = ctx.reply.len();
    run(ctx, args);
    ctx.state.stats.total_commands_processed += 1;
    if ctx.reply.as_bytes().get(start) == Some(&b'-') {
        ctx.state.stats.total_error_replies += 1;
    }
}

fn run(ctx: &mut Ctx, args: Args) {
    let Some(mut command) = lookup(args.get(0)) else {
        ctx.reply.error_bytes(&errors::unknown_command(args));
        return;
    };
    if !command.subcommands.is_empty() && args.len() >= 2 {
        match lookup_subcommand(command, args.get(1)) {
            Some(sub) => command = sub,
            None => {
                ctx.reply
                    .error_bytes(&errors::unknown_subcommand(args.get(1), command.name));
                return;
            }
        }
    }
    if !command.arity_fits(args.len()) {
        ctx.reply.error(&errors::wrong_arity(command.name));
        return;
    }
    ctx.client().last_command = command.name;
    (command.handler)(ctx, args);
}

/// The `HELP` reply of a container command: one status line per entry.
pub fn reply_help(reply: &mut Reply, command: &str, lines: &[&str]) {
    reply.array(lines.len() + 2);
    reply.simple(&format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        command.to_ascii_uppercase()
    ));
    for line in lines {
        reply.simple(line);
    }
    reply.simple("HELP");
    reply.simple("    Print this help.");
}

/// A base entry for the table: fill in what differs with `..Command::BASE`.
impl Command {
    pub const BASE: Command = Command {
        name: "",
        handler: |_, _| {},
        arity: 1,
        flags: "",
        acl: "",
        tips: "",
        keys: (0, 0, 0),
        key_specs: &[],
        group: "generic",
        since: "1.0.0",
        summary: "",
        complexity: "O(1)",
        doc_flags: "",
        deprecated_since: "",
        replaced_by: "",
        subcommands: &[],
    };
}
