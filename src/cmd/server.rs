//! Server commands: COMMAND (generated from the command table), CONFIG
//! (served by the config table), INFO, DBSIZE, TIME, SHUTDOWN.

use super::{info, lookup, reply_help, table, Command, Ctx};
use crate::config::{Config, ConfigError};
use crate::errors;
use crate::glob::glob_match;
use crate::logging;
use crate::protocol::request::Args;
use crate::protocol::Reply;
use crate::state::{unix_micros, Shutdown};

const fn sub(
    name: &'static str,
    handler: super::Handler,
    arity: i32,
    summary: &'static str,
) -> Command {
    Command {
        name,
        handler,
        arity,
        flags: "loading stale",
        acl: "slow",
        group: "server",
        summary,
        ..Command::BASE
    }
}

pub static COMMANDS: [Command; 6] = [
    Command {
        name: "command",
        handler: command_all,
        arity: -1,
        flags: "loading stale",
        acl: "slow connection",
        group: "server",
        since: "2.8.13",
        summary: "Get array of Redis command details",
        complexity: "O(N) where N is the total number of Redis commands",
        subcommands: &[
            sub("command|count", command_count, 2, "Get total number of Redis commands"),
            sub("command|info", command_info, -2, "Get array of specific Redis command details, or all when no argument is given."),
            sub("command|docs", command_docs, -2, "Get array of specific Redis command documentation"),
            sub("command|list", command_list, -2, "Get an array of Redis command names"),
            sub("command|help", command_help, 2, "Show helpful text about the different subcommands"),
        ],
        ..Command::BASE
    },
    Command {
        name: "config",
        arity: -2,
        group: "server",
        since: "2.0.0",
        summary: "A container for server configuration commands",
        complexity: "Depends on subcommand.",
        subcommands: &[
            sub("config|get", config_get, -3, "Get the values of configuration parameters"),
            Command { flags: "admin noscript loading stale", acl: "admin slow dangerous", ..sub("config|set", config_set, -4, "Set configuration parameters to the given values") },
            Command { flags: "admin noscript loading stale", acl: "admin slow dangerous", ..sub("config|resetstat", config_resetstat, 2, "Reset the stats returned by INFO") },
            sub("config|help", config_help, 2, "Show helpful text about the different subcommands"),
        ],
        ..Command::BASE
    },
    Command {
        name: "info",
        handler: info::info,
        arity: -1,
        flags: "loading stale",
        acl: "slow dangerous",
        group: "server",
        summary: "Get information and statistics about the server",
        ..Command::BASE
    },
    Command {
        name: "dbsize",
        handler: dbsize,
        arity: 1,
        flags: "readonly fast",
        acl: "keyspace read fast",
        group: "server",
        summary: "Return the number of keys in the selected database",
        ..Command::BASE
    },
    Command {
        name: "time",
        handler: time,
        arity: 1,
        flags: "loading stale fast",
        acl: "fast",
        group: "server",
        since: "2.6.0",
        summary: "Return the current server time",
        ..Command::BASE
    },
    Command {
        name: "shutdown",
        handler: shutdown,
        arity: -1,
        flags: "admin noscript loading stale no_multi sentinel allow_busy",
        acl: "admin slow dangerous",
        group: "server",
        summary: "Synchronously save the dataset to disk and then shut down the server",
        complexity: "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
        ..Command::BASE
    },
];

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace()
}

/// One entry of `COMMAND` / `COMMAND INFO`, in Redis 7.0's ten-field form.
fn reply_command_info(reply: &mut Reply, c: &Command) {
    reply.array(10);
    reply.bulk(c.name.as_bytes());
    reply.int(i64::from(c.arity));
    reply.set(words(c.flags).count());
    for flag in words(c.flags) {
        reply.simple(flag);
    }
    let (first, last, step) = c.keys;
    reply.int(i64::from(first));
    reply.int(i64::from(last));
    reply.int(i64::from(step));
    reply.set(words(c.acl).count());
    for category in words(c.acl) {
        reply.simple(&format!("@{category}"));
    }
    reply.set(0);
    reply_key_specs(reply, c);
    reply.array(c.subcommands.len());
    for sub in c.subcommands {
        reply_command_info(reply, sub);
    }
}

/// Key specs derived from the legacy first/last/step triple: an index
/// search followed by a range.
fn reply_key_specs(reply: &mut Reply, c: &Command) {
    let (first, last, step) = c.keys;
    if first == 0 {
        reply.array(0);
        return;
    }
    let access: &[&str] = if c.flags.contains("write") {
        &["RW", "UPDATE"]
    } else {
        &["RO", "ACCESS"]
    };
    reply.array(1);
    reply.map(3);
    reply.bulk(b"flags");
    reply.set(access.len());
    for flag in access {
        reply.simple(flag);
    }
    reply.bulk(b"begin_search");
    reply.map(2);
    reply.bulk(b"type");
    reply.bulk(b"index");
    reply.bulk(b"spec");
    reply.map(1);
    reply.bulk(b"index");
    reply.int(i64::from(first));
    reply.bulk(b"find_keys");
    reply.map(2);
    reply.bulk(b"type");
    reply.bulk(b"range");
    reply.bulk(b"spec");
    reply.map(3);
    reply.bulk(b"lastkey");
    reply.int(if last < 0 {
        i64::from(last)
    } else {
        i64::from(last - first)
    });
    reply.bulk(b"keystep");
    reply.int(i64::from(step));
    reply.bulk(b"limit");
    reply.int(0);
}

fn command_all(ctx: &mut Ctx, _args: Args) {
    ctx.reply.array(table().len());
    for c in table() {
        reply_command_info(ctx.reply, c);
    }
}

fn command_count(ctx: &mut Ctx, _args: Args) {
    ctx.reply.int(table().len() as i64);
}

fn command_info(ctx: &mut Ctx, args: Args) {
    if args.len() == 2 {
        return command_all(ctx, args);
    }
    ctx.reply.array(args.len() - 2);
    for name in args.from(2) {
        match lookup(name) {
            Some(c) => reply_command_info(ctx.reply, c),
            None => ctx.reply.null_array(),
        }
    }
}

fn reply_command_docs(reply: &mut Reply, c: &Command) {
    let has_subs = !c.subcommands.is_empty();
    reply.map(4 + usize::from(has_subs));
    reply.bulk(b"summary");
    reply.bulk(c.summary.as_bytes());
    reply.bulk(b"since");
    reply.bulk(c.since.as_bytes());
    reply.bulk(b"group");
    reply.bulk(c.group.as_bytes());
    reply.bulk(b"complexity");
    reply.bulk(c.complexity.as_bytes());
    if has_subs {
        reply.bulk(b"subcommands");
        reply.map(c.subcommands.len());
        for sub in c.subcommands {
            reply.bulk(sub.name.as_bytes());
            reply_command_docs(reply, sub);
        }
    }
}

fn command_docs(ctx: &mut Ctx, args: Args) {
    let found: Vec<&Command> = if args.len() == 2 {
        table().to_vec()
    } else {
        args.from(2).filter_map(lookup).collect()
    };
    ctx.reply.map(found.len());
    for c in found {
        ctx.reply.bulk(c.name.as_bytes());
        reply_command_docs(ctx.reply, c);
    }
}

fn command_list(ctx: &mut Ctx, args: Args) {
    let mut names: Vec<&str> = Vec::new();
    for c in table() {
        names.push(c.name);
        names.extend(c.subcommands.iter().map(|s| s.name));
    }
    match args.len() {
        2 => {}
        5 if args.get(2).eq_ignore_ascii_case(b"filterby") => {
            let (kind, value) = (args.get(3), args.get(4));
            if kind.eq_ignore_ascii_case(b"pattern") {
                names.retain(|n| glob_match(value, n.as_bytes(), true));
            } else if kind.eq_ignore_ascii_case(b"aclcat") {
                let wanted = String::from_utf8_lossy(value).to_ascii_lowercase();
                names.retain(|n| {
                    let c = lookup_full(n);
                    c.is_some_and(|c| words(c.acl).any(|a| a == wanted))
                });
            } else if kind.eq_ignore_ascii_case(b"module") {
                names.clear();
            } else {
                return ctx.reply.error(errors::SYNTAX);
            }
        }
        _ => return ctx.reply.error(errors::SYNTAX),
    }
    ctx.reply.array(names.len());
    for name in names {
        ctx.reply.bulk(name.as_bytes());
    }
}

/// Finds a command or subcommand by its full name (`config|get`).
fn lookup_full(name: &str) -> Option<&'static Command> {
    let (parent, sub) = match name.split_once('|') {
        Some((p, s)) => (p, Some(s)),
        None => (name, None),
    };
    let c = lookup(parent.as_bytes())?;
    match sub {
        None => Some(c),
        Some(s) => c.subcommands.iter().find(|x| x.short_name() == s),
    }
}

fn command_help(ctx: &mut Ctx, _args: Args) {
    reply_help(
        ctx.reply,
        "command",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
        ],
    );
}

fn config_get(ctx: &mut Ctx, args: Args) {
    let patterns: Vec<&[u8]> = args.from(2).collect();
    let found = ctx.state.config.get_matching(&patterns);
    ctx.reply.map(found.len());
    for (name, value) in found {
        ctx.reply.bulk(name.as_bytes());
        ctx.reply.bulk(value.as_bytes());
    }
}

fn config_set(ctx: &mut Ctx, args: Args) {
    if args.len() % 2 != 0 {
        return ctx.reply.error(&errors::wrong_arity("config|set"));
    }
    let strings: Vec<String> = args
        .from(2)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let pairs: Vec<(&str, &str)> = strings
        .chunks(2)
        .map(|p| (p[0].as_str(), p[1].as_str()))
        .collect();
    let before = ctx.state.config.loglevel;
    match ctx.state.config.set_many(&pairs) {
        Ok(()) => {
            if ctx.state.config.loglevel != before {
                logging::set_level(ctx.state.config.loglevel);
            }
            ctx.reply.ok();
        }
        Err((name, ConfigError::Unknown)) => ctx.reply.error(&format!(
            "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
        )),
        Err((name, ConfigError::Invalid(why))) => {
            let name = Config::canonical_name(&name).unwrap_or(&name).to_string();
            ctx.reply.error(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
            ))
        }
    }
}

fn config_resetstat(ctx: &mut Ctx, _args: Args) {
    ctx.state.stats = Default::default();
    ctx.reply.ok();
}

fn config_help(ctx: &mut Ctx, _args: Args) {
    reply_help(
        ctx.reply,
        "config",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
        ],
    );
}

fn dbsize(ctx: &mut Ctx, _args: Args) {
    ctx.reply.int(0);
}

fn time(ctx: &mut Ctx, _args: Args) {
    let micros = unix_micros();
    ctx.reply.array(2);
    ctx.reply.bulk_int((micros / 1_000_000) as i64);
    ctx.reply.bulk_int((micros % 1_000_000) as i64);
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`. rudis keeps no data on
/// disk, so SAVE and NOSAVE both simply stop the server; on success there
/// is no reply, the connection just closes, as in Redis.
fn shutdown(ctx: &mut Ctx, args: Args) {
    let (mut save, mut nosave, mut abort) = (false, false, false);
    for arg in args.from(1) {
        if arg.eq_ignore_ascii_case(b"nosave") {
            nosave = true;
        } else if arg.eq_ignore_ascii_case(b"save") {
            save = true;
        } else if arg.eq_ignore_ascii_case(b"now") || arg.eq_ignore_ascii_case(b"force") {
        } else if arg.eq_ignore_ascii_case(b"abort") {
            abort = true;
        } else {
            return ctx.reply.error(errors::SYNTAX);
        }
    }
    if (save && nosave) || (abort && args.len() > 2) {
        return ctx.reply.error(errors::SYNTAX);
    }
    if abort {
        return ctx.reply.error("ERR No shutdown in progress.");
    }
    ctx.state.shutdown = Some(Shutdown::Command);
}
