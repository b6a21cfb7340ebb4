//! Server commands: COMMAND (generated from the command table), CONFIG
//! (served by the config table), INFO, DBSIZE, TIME, SHUTDOWN.

use super::{lookup, reply_help, table, Arg, BeginSearch, Command, Ctx, FindKeys, KeySpec};
use crate::config::{Config, ConfigError};
use crate::errors;
use crate::glob::glob_match;
use crate::logging;
use crate::protocol::request::Args;
use crate::protocol::Reply;
use crate::state::{unix_micros, Shutdown};

fn words(text: &str) -> impl Iterator<Item = &str> + Clone {
    text.split_whitespace()
}

/// One entry of `COMMAND` / `COMMAND INFO`, in Redis 7.0's ten-field form.
fn reply_command_info(reply: &mut Reply, c: &Command) {
    reply.array(10);
    reply.bulk(c.name.as_bytes());
    reply.int(i64::from(c.arity));
    reply_status_set(reply, words(c.flags));
    let (first, last, step) = c.keys;
    reply.int(i64::from(first));
    reply.int(i64::from(last));
    reply.int(i64::from(step));
    reply.set(words(c.acl).count());
    for category in words(c.acl) {
        reply.simple(&format!("@{category}"));
    }
    reply.set(words(c.tips).count());
    for tip in words(c.tips) {
        reply.bulk(tip.as_bytes());
    }
    reply.array(c.key_specs.len());
    for spec in c.key_specs {
        reply_key_spec(reply, spec);
    }
    reply.array(c.subcommands.len());
    for sub in c.subcommands {
        reply_command_info(reply, sub);
    }
}

fn reply_status_set<'a>(reply: &mut Reply, items: impl Iterator<Item = &'a str> + Clone) {
    reply.set(items.clone().count());
    for item in items {
        reply.simple(item);
    }
}

fn reply_key_spec(reply: &mut Reply, spec: &KeySpec) {
    reply.map(3 + usize::from(!spec.notes.is_empty()));
    if !spec.notes.is_empty() {
        reply.bulk(b"notes");
        reply.bulk(spec.notes.as_bytes());
    }
    reply.bulk(b"flags");
    reply_status_set(reply, words(spec.flags));
    reply.bulk(b"begin_search");
    reply.map(2);
    reply.bulk(b"type");
    match spec.begin {
        BeginSearch::Index(index) => {
            reply.bulk(b"index");
            reply.bulk(b"spec");
            reply.map(1);
            reply.bulk(b"index");
            reply.int(i64::from(index));
        }
        BeginSearch::Keyword(keyword, startfrom) => {
            reply.bulk(b"keyword");
            reply.bulk(b"spec");
            reply.map(2);
            reply.bulk(b"keyword");
            reply.bulk(keyword.as_bytes());
            reply.bulk(b"startfrom");
            reply.int(i64::from(startfrom));
        }
        BeginSearch::Unknown => {
            reply.bulk(b"unknown");
            reply.bulk(b"spec");
            reply.map(0);
        }
    }
    reply.bulk(b"find_keys");
    reply.map(2);
    reply.bulk(b"type");
    let (kind, fields) = match spec.find {
        FindKeys::Unknown => {
            reply.bulk(b"unknown");
            reply.bulk(b"spec");
            reply.map(0);
            return;
        }
        FindKeys::Range(lastkey, keystep, limit) => (
            "range",
            [("lastkey", lastkey), ("keystep", keystep), ("limit", limit)],
        ),
        FindKeys::Keynum(keynumidx, firstkey, keystep) => (
            "keynum",
            [
                ("keynumidx", keynumidx),
                ("firstkey", firstkey),
                ("keystep", keystep),
            ],
        ),
    };
    reply.bulk(kind.as_bytes());
    reply.bulk(b"spec");
    reply.map(3);
    for (name, value) in fields {
        reply.bulk(name.as_bytes());
        reply.int(i64::from(value));
    }
}

pub(super) fn command_all(ctx: &mut Ctx, _args: Args) {
    ctx.reply.array(table().len());
    for c in table() {
        reply_command_info(ctx.reply, c);
    }
}

pub(super) fn command_getkeys(ctx: &mut Ctx, args: Args) {
    getkeys(ctx, args, false);
}

pub(super) fn command_getkeysandflags(ctx: &mut Ctx, args: Args) {
    getkeys(ctx, args, true);
}

/// `COMMAND GETKEYS|GETKEYSANDFLAGS command arg ...` (Redis's
/// `getKeysSubcommandImpl`): the keys the command line names, found
/// through the command's key specs, with their flags on request.
fn getkeys(ctx: &mut Ctx, args: Args, with_flags: bool) {
    let line: Vec<&[u8]> = args.from(2).collect();
    let Some(command) = super::command_of(&line) else {
        return ctx.reply.error("ERR Invalid command specified");
    };
    if !command.key_specs.iter().any(|s| s.is_key()) {
        return ctx.reply.error("ERR The command has no key arguments");
    }
    let argc = line.len() as i64;
    let arity = i64::from(command.arity);
    if (arity > 0 && arity != argc) || argc < -arity {
        return ctx
            .reply
            .error("ERR Invalid number of arguments specified for command");
    }
    let found = match super::keys_of(command, &line) {
        Some(found) if !found.is_empty() => found,
        _ if command.flags.split(' ').any(|f| f == "no_mandatory_keys") => Vec::new(),
        _ => {
            return ctx
                .reply
                .error("ERR Invalid arguments specified for command")
        }
    };
    ctx.reply.array(found.len());
    for (position, flags) in found {
        if with_flags {
            ctx.reply.array(2);
            ctx.reply.bulk(line[position]);
            let words: Vec<&str> = flags.split(' ').filter(|w| !w.is_empty()).collect();
            ctx.reply.array(words.len());
            for word in words {
                ctx.reply.simple(word);
            }
        } else {
            ctx.reply.bulk(line[position]);
        }
    }
}

pub(super) fn command_count(ctx: &mut Ctx, _args: Args) {
    ctx.reply.int(super::callable_count() as i64);
}

pub(super) fn command_info(ctx: &mut Ctx, args: Args) {
    if args.len() == 2 {
        return command_all(ctx, args);
    }
    ctx.reply.array(args.len() - 2);
    for name in args.from(2) {
        match lookup(name) {
            Some(c) => reply_command_info(ctx.reply, c),
            None => ctx.reply.null(),
        }
    }
}

fn reply_command_docs(reply: &mut Reply, c: &Command) {
    // Redis's order: summary, since, group, complexity, doc_flags,
    // deprecated_since, replaced_by, subcommands; empty ones are left out.
    let head = [
        ("summary", c.summary),
        ("since", c.since),
        ("group", c.group),
        ("complexity", c.complexity),
    ];
    let tail = [
        ("deprecated_since", c.deprecated_since),
        ("replaced_by", c.replaced_by),
    ];
    let present = |fields: &[(&str, &str)]| {
        fields
            .iter()
            .filter(|(n, v)| !v.is_empty() || *n == "summary")
            .count()
    };
    let has_flags = !c.doc_flags.is_empty();
    let has_subs = !c.subcommands.is_empty();
    let has_history = !c.history.is_empty();
    let has_args = !c.args.is_empty();
    reply.map(
        present(&head)
            + present(&tail)
            + usize::from(has_flags)
            + usize::from(has_history)
            + usize::from(has_args)
            + usize::from(has_subs),
    );
    for (name, value) in head {
        if !value.is_empty() || name == "summary" {
            reply.bulk(name.as_bytes());
            reply.bulk(value.as_bytes());
        }
    }
    if has_flags {
        reply.bulk(b"doc_flags");
        reply_status_set(reply, words(c.doc_flags));
    }
    for (name, value) in tail {
        if !value.is_empty() {
            reply.bulk(name.as_bytes());
            reply.bulk(value.as_bytes());
        }
    }
    if has_history {
        reply.bulk(b"history");
        reply.array(c.history.len());
        for (version, change) in c.history {
            reply.array(2);
            reply.bulk(version.as_bytes());
            reply.bulk(change.as_bytes());
        }
    }
    if has_args {
        reply.bulk(b"arguments");
        reply_args(reply, c.args);
    }
    if has_subs {
        reply.bulk(b"subcommands");
        reply.map(c.subcommands.len());
        for sub in c.subcommands {
            reply.bulk(sub.name.as_bytes());
            reply_command_docs(reply, sub);
        }
    }
}

/// An argument tree in `COMMAND DOCS` form: each argument a map of its
/// present fields, in Redis's order.
fn reply_args(reply: &mut Reply, args: &[Arg]) {
    reply.array(args.len());
    for arg in args {
        let texts = [
            ("token", arg.token),
            ("summary", arg.summary),
            ("since", arg.since),
            ("deprecated_since", arg.deprecated_since),
        ];
        // A pure token is always named, even by the empty string
        // (MIGRATE's `""` in place of a key).
        let shown = |(name, value): &(&str, &str)| {
            !value.is_empty() || (*name == "token" && arg.kind == "pure-token")
        };
        let present = texts.iter().filter(|t| shown(t)).count();
        let has_index = arg.key_spec_index >= 0;
        reply.map(
            2 + usize::from(has_index)
                + present
                + usize::from(!arg.flags.is_empty())
                + usize::from(!arg.args.is_empty()),
        );
        reply.bulk(b"name");
        reply.bulk(arg.name.as_bytes());
        reply.bulk(b"type");
        reply.bulk(arg.kind.as_bytes());
        if has_index {
            reply.bulk(b"key_spec_index");
            reply.int(i64::from(arg.key_spec_index));
        }
        for (name, value) in texts {
            if shown(&(name, value)) {
                reply.bulk(name.as_bytes());
                reply.bulk(value.as_bytes());
            }
        }
        if !arg.flags.is_empty() {
            reply.bulk(b"flags");
            reply_status_set(reply, words(arg.flags));
        }
        if !arg.args.is_empty() {
            reply.bulk(b"arguments");
            reply_args(reply, arg.args);
        }
    }
}

pub(super) fn command_docs(ctx: &mut Ctx, args: Args) {
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

pub(super) fn command_list(ctx: &mut Ctx, args: Args) {
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

pub(super) fn command_help(ctx: &mut Ctx, _args: Args) {
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
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
}

pub(super) fn config_get(ctx: &mut Ctx, args: Args) {
    let patterns: Vec<&[u8]> = args.from(2).collect();
    let found = ctx.state.config.get_matching(&patterns);
    ctx.reply.map(found.len());
    for (name, value) in found {
        ctx.reply.bulk(name.as_bytes());
        ctx.reply.bulk(value.as_bytes());
    }
}

/// A new `port` or `tls-port` is listened on at once, on every `bind`
/// address, and the old one closed once the loop takes the new
/// listeners (Redis's `changeListenPort`); 0 closes the port. New `bind`
/// addresses and a new `metrics-port` take effect at once too. Err: the
/// setting and Redis's reason.
fn ports_changed(
    ctx: &mut Ctx,
    before: &crate::config::Config,
) -> Result<(), (&'static str, &'static str)> {
    const UNABLE: &str = "Unable to listen on this port. Check server logs.";
    let config = &ctx.state.config;
    let tls_port = crate::tls::port(config);
    if tls_port != crate::tls::port(before) && tls_port > 0 && ctx.state.tls.is_none() {
        let context = crate::tls::context(config).map_err(|e| {
            log::warn!("{e}");
            (
                "tls-port",
                "Unable to update TLS configuration. Check server logs.",
            )
        })?;
        ctx.state.tls = Some(context);
    }
    if config.bind != before.bind {
        bind_changed(ctx, before)?;
    } else {
        for (tls, port, old, name) in [
            (false, config.port, before.port, "port"),
            (true, tls_port, crate::tls::port(before), "tls-port"),
        ] {
            if port == old {
                continue;
            }
            let kind = if tls { "TLS" } else { "TCP" };
            let listeners = crate::server::listen_all(config, port, kind).map_err(|_| {
                log::warn!("Failed to bind");
                (name, UNABLE)
            })?;
            ctx.state
                .rebind
                .push(crate::state::Rebind { tls, listeners });
        }
    }
    if ctx.state.config.metrics_port != before.metrics_port {
        crate::server::replace_metrics_listener(ctx.state).map_err(|e| {
            log::warn!("{e}");
            ("metrics-port", UNABLE)
        })?;
    }
    Ok(())
}

/// New `bind` addresses (Redis's `changeBindAddr`), with the ports as
/// they are now set. The plain and TLS listeners close first, as the new
/// addresses may share their port; if the new ones cannot all be
/// listened on, the old addresses are listened on again.
fn bind_changed(
    ctx: &mut Ctx,
    before: &crate::config::Config,
) -> Result<(), (&'static str, &'static str)> {
    use crate::server::{listen_all, replace_listeners};
    use crate::state::Rebind;
    fn listen(config: &crate::config::Config) -> std::io::Result<[Rebind; 2]> {
        let plain = listen_all(config, config.port, "TCP")?;
        let tls = listen_all(config, crate::tls::port(config), "TLS")?;
        Ok([
            Rebind {
                tls: false,
                listeners: plain,
            },
            Rebind {
                tls: true,
                listeners: tls,
            },
        ])
    }
    let state = &mut *ctx.state;
    for tls in [false, true] {
        let none = Vec::new();
        replace_listeners(
            state,
            Rebind {
                tls,
                listeners: none,
            },
        );
    }
    let result = match listen(&state.config) {
        Ok(rebinds) => rebinds,
        Err(_) => {
            log::warn!("Failed to bind, trying to restore old listening sockets.");
            let restored = listen(before).unwrap_or_else(|e| {
                log::warn!("Failed to restore old listening sockets: {e}");
                [false, true].map(|tls| Rebind {
                    tls,
                    listeners: Vec::new(),
                })
            });
            for rebind in restored {
                replace_listeners(state, rebind);
            }
            state.tcp_port = before.port;
            return Err(("bind", "Failed to bind to specified addresses."));
        }
    };
    for rebind in result {
        replace_listeners(state, rebind);
    }
    Ok(())
}

/// New `tls-*` settings apply to the connections accepted from now on
/// (Redis's `applyTlsCfg`): the TLS context is built again while TLS is
/// on. Err names the setting to blame when it cannot be.
fn tls_changed<'a>(
    ctx: &mut Ctx,
    before: &crate::config::Config,
    pairs: &[(&'a str, &str)],
) -> Result<(), &'a str> {
    let Some((name, _)) = pairs
        .iter()
        .find(|(name, _)| name.to_ascii_lowercase().starts_with("tls-"))
    else {
        return Ok(());
    };
    if ctx.state.config.pending == before.pending || ctx.state.tls.is_none() {
        return Ok(());
    }
    match crate::tls::context(&ctx.state.config) {
        Ok(context) => {
            ctx.state.tls = Some(context);
            Ok(())
        }
        Err(e) => {
            log::warn!("{e}");
            log::warn!("Failed applying new configuration. Possibly related to new {name} setting. Restoring previous settings.");
            Err(name)
        }
    }
}

/// New `oom-score-adj` settings apply at once (Redis's
/// `updateOOMScoreAdj`). False when they could not be applied.
fn oom_score_changed(config: &crate::config::Config, before: &crate::config::Config) -> bool {
    let settings = |c| {
        [
            crate::config::pending_text(c, "oom-score-adj"),
            crate::config::pending_text(c, "oom-score-adj-values"),
        ]
    };
    settings(config) == settings(before) || crate::oom_score::configure(config)
}

/// A new `maxmemory` (Redis's `updateMaxmemory`): a limit under what is
/// used is warned of, and eviction starts from the loop once the command
/// (or its transaction) is done, as Redis's eviction timer starts it:
/// never inside the call, so its DELs are not wrapped with it.
fn maxmemory_changed(ctx: &mut Ctx) {
    let limit = ctx.state.config.maxmemory;
    if limit == 0 {
        return;
    }
    let used = crate::evict::used_memory(ctx.state);
    if limit < used {
        log::warn!("WARNING: the new maxmemory value set via CONFIG SET ({limit}) is smaller than the current memory usage ({used}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.");
    }
    ctx.state.evictor.running = true;
}

pub(super) fn config_set(ctx: &mut Ctx, args: Args) {
    if !args.len().is_multiple_of(2) {
        return ctx.reply.error(errors::SYNTAX);
    }
    let strings: Vec<String> = args
        .from(2)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let pairs: Vec<(&str, &str)> = strings
        .chunks(2)
        .map(|p| (p[0].as_str(), p[1].as_str()))
        .collect();
    // Settings that would change what a load in progress writes or reads
    // (Redis's DENY_LOADING_CONFIG); this refusal comes before any other.
    const DENY_LOADING: [&str; 3] = ["appendonly", "dir", "repl-diskless-load"];
    let persist = &ctx.state.persist;
    if persist.loading
        && pairs
            .iter()
            .any(|(name, _)| DENY_LOADING.iter().any(|d| d.eq_ignore_ascii_case(name)))
    {
        return ctx.reply.error(errors::LOADING);
    }
    let before = ctx.state.config.clone();
    // Redis's `allowProtectedAction`.
    let protected_allowed =
        match crate::config::pending_text(&ctx.state.config, "enable-protected-configs") {
            "yes" => true,
            "local" => ctx.client().addr.is_local(),
            _ => false,
        };
    match ctx.state.config.set_many(&pairs, protected_allowed) {
        Ok(()) => {
            ctx.state.refresh_thresholds();
            if ctx.state.config.loglevel != before.loglevel {
                logging::set_level(ctx.state.config.loglevel);
            }
            let wanted = ctx.state.config.maxclients;
            if wanted > before.maxclients && crate::server::raise_open_files_limit(wanted) < wanted
            {
                // As Redis's updateMaxclients: refuse what the OS cannot give.
                let possible = crate::server::raise_open_files_limit(before.maxclients);
                ctx.state.config = before;
                ctx.state.refresh_thresholds();
                logging::set_level(ctx.state.config.loglevel);
                return ctx.reply.error(&format!(
                    "ERR The operating system is not able to handle the specified number of clients, try with {possible}"
                ));
            }
            if ctx.state.config.requirepass != before.requirepass {
                ctx.state.apply_requirepass();
            }
            ctx.state.apply_pubsub_default();
            if let Err((name, why)) = ports_changed(ctx, &before) {
                ctx.state.rebind.clear();
                ctx.state.config = before;
                ctx.state.refresh_thresholds();
                logging::set_level(ctx.state.config.loglevel);
                return ctx.reply.error(&format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
                ));
            }
            let title_setting = |c: &crate::config::Config| {
                (
                    crate::config::pending_text(c, "proc-title-template").to_string(),
                    crate::config::pending_bool(c, "set-proc-title"),
                )
            };
            if title_setting(&ctx.state.config) != title_setting(&before) {
                let state = &*ctx.state;
                if !crate::proctitle::apply(&state.config, state.config_file.as_deref()) {
                    ctx.state.config = before;
                    ctx.state.refresh_thresholds();
                    logging::set_level(ctx.state.config.loglevel);
                    return ctx.reply.error("ERR CONFIG SET failed (possibly related to argument 'proc-title-template') - template format is invalid or contains unknown variables");
                }
            }
            if !oom_score_changed(&ctx.state.config, &before) {
                let name = pairs
                    .iter()
                    .map(|(name, _)| name.to_ascii_lowercase())
                    .find(|name| name.starts_with("oom-score-adj"))
                    .unwrap_or_default();
                ctx.state.config = before;
                ctx.state.refresh_thresholds();
                logging::set_level(ctx.state.config.loglevel);
                let _ = crate::oom_score::configure(&ctx.state.config);
                return ctx.reply.error(&format!("ERR CONFIG SET failed (possibly related to argument '{name}') - Failed to set current oom_score_adj. Check server logs."));
            }
            if let Err(name) = tls_changed(ctx, &before, &pairs) {
                ctx.state.config = before;
                ctx.state.refresh_thresholds();
                logging::set_level(ctx.state.config.loglevel);
                return ctx.reply.error(&format!("ERR CONFIG SET failed (possibly related to argument '{name}') - Unable to update TLS configuration. Check server logs."));
            }
            if ctx.state.config.maxmemory != before.maxmemory {
                maxmemory_changed(ctx);
            }
            crate::crash::configure(&ctx.state.config);
            ctx.state.refresh_expiry_mode();
            let watchdog = crate::config::pending_u64(&ctx.state.config, "watchdog-period");
            let hz = ctx.state.config.hz;
            crate::crash::arm_watchdog(crate::crash::watchdog_period(watchdog, hz));
            if before.aof_disable_auto_gc && !ctx.state.config.aof_disable_auto_gc {
                let state = &mut *ctx.state;
                state.aof.delete_history(&state.config);
            }
            if ctx.state.config.appendonly != before.appendonly {
                if let Err(e) = super::persist::appendonly_changed(ctx.state) {
                    log::warn!("Unable to turn on AOF: {e}");
                    // All or nothing: every setting of this CONFIG SET goes back.
                    ctx.state.config = before;
                    ctx.state.refresh_thresholds();
                    logging::set_level(ctx.state.config.loglevel);
                    return ctx.reply.error("ERR CONFIG SET failed (possibly related to argument 'appendonly') - Unable to turn on AOF. Check server logs.");
                }
            }
            ctx.reply.ok();
        }
        Err((name, ConfigError::Unknown)) => ctx.reply.error(&format!(
            "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
        )),
        Err((name, ConfigError::Duplicate)) => ctx.reply.error(&format!(
            "ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"
        )),
        Err((name, ConfigError::Invalid(why))) => {
            let name = Config::canonical_name(&name).unwrap_or(&name).to_string();
            ctx.reply.error(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
            ))
        }
    }
}

/// `CONFIG RESETSTAT`: the INFO counters, error and command statistics
/// (latency histograms included); as in Redis the slow log and the
/// latency monitor keep their entries.
pub(super) fn config_resetstat(ctx: &mut Ctx, _args: Args) {
    ctx.state.stats = Default::default();
    ctx.state.command_stats.reset();
    ctx.state.aof.delayed_fsync = 0;
    ctx.state.aof.rewrites = 0;
    ctx.state.evictor.reset_stats();
    let persist = &mut ctx.state.persist;
    persist.rdb_saves = 0;
    persist.total_forks = 0;
    persist.latest_fork_usec = 0;
    let repl = &mut ctx.state.repl;
    repl.sync_full = 0;
    repl.sync_partial_ok = 0;
    repl.sync_partial_err = 0;
    crate::lazyfree::reset_stats();
    ctx.reply.ok();
}

/// `CONFIG REWRITE`: the config file brought up to date (see
/// `config_rewrite`).
pub(super) fn config_rewrite(ctx: &mut Ctx, _args: Args) {
    if ctx.state.config_file.is_none() {
        return ctx
            .reply
            .error("ERR The server is running without a config file");
    }
    match rewrite_config_file(ctx, false) {
        Ok(()) => {
            log::info!("CONFIG REWRITE executed with success.");
            ctx.reply.ok();
        }
        Err(e) => {
            log::warn!("CONFIG REWRITE failed: {e}");
            ctx.reply.error(&format!("ERR Rewriting config file: {e}"));
        }
    }
}

/// Rewrites the config file; `force_all` writes every setting, defaults
/// included (DEBUG CONFIG-REWRITE-FORCE-ALL). Err: the system's reason;
/// with no file, what Redis's `fopen(NULL)` reports.
pub(super) fn rewrite_config_file(ctx: &mut Ctx, force_all: bool) -> Result<(), String> {
    let Some(path) = ctx.state.config_file.clone() else {
        return Err("Bad address".into());
    };
    // Users go to the config file unless an ACL file keeps them.
    let users = if ctx.state.config.aclfile.is_empty() {
        ctx.state.users.lines()
    } else {
        Vec::new()
    };
    let replicaof = ctx
        .state
        .repl
        .master
        .as_ref()
        .map(|m| format!("{} {}", m.host, m.port));
    let path = std::path::Path::new(&path);
    let config = &ctx.state.config;
    crate::config_rewrite::rewrite(path, config, users, replicaof, force_all)
        .map_err(|e| crate::errors::os_error_text(&e))
}

pub(super) fn config_help(ctx: &mut Ctx, _args: Args) {
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
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
}

pub(super) fn time(ctx: &mut Ctx, _args: Args) {
    let micros = unix_micros();
    ctx.reply.array(2);
    ctx.reply.bulk_int((micros / 1_000_000) as i64);
    ctx.reply.bulk_int((micros % 1_000_000) as i64);
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`: saves first when save
/// points are set (or SAVE says so), and stays up if that fails unless
/// FORCE. On success there is no reply, the connection just closes, as in
/// Redis.
pub(super) fn shutdown(ctx: &mut Ctx, args: Args) {
    let mut flags = super::persist::ShutdownFlags::default();
    let mut abort = false;
    for arg in args.from(1) {
        if arg.eq_ignore_ascii_case(b"nosave") {
            flags.nosave = true;
        } else if arg.eq_ignore_ascii_case(b"save") {
            flags.save = true;
        } else if arg.eq_ignore_ascii_case(b"now") {
            flags.now = true;
        } else if arg.eq_ignore_ascii_case(b"force") {
            flags.force = true;
        } else if arg.eq_ignore_ascii_case(b"abort") {
            abort = true;
        } else {
            return ctx.reply.error(errors::SYNTAX);
        }
    }
    if (flags.save && flags.nosave) || (abort && args.len() > 2) {
        return ctx.reply.error(errors::SYNTAX);
    }
    if abort {
        // Redis's `abortShutdown`: one waiting for replicas, or a
        // signal's not started yet.
        if ctx.state.shutdown_wait.is_some() {
            super::persist::cancel_shutdown(ctx.state);
        } else if ctx.state.signal_shutdown.take().is_none() {
            return ctx.reply.error("ERR No shutdown in progress.");
        }
        crate::signals::cancel();
        log::info!("Shutdown manually aborted.");
        return ctx.reply.ok();
    }
    let me = (ctx.me, ctx.clients[ctx.me].id);
    if ctx.state.shutdown_refused.contains(&me) {
        // Run again after the shutdown it waited for did not happen.
        ctx.state.shutdown_refused.retain(|&c| c != me);
        return ctx
            .reply
            .error("ERR Errors trying to SHUTDOWN. Check logs.");
    }
    if !flags.now && (ctx.state.in_exec || ctx.state.in_script_call) {
        return ctx
            .reply
            .error("ERR SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client");
    }
    if crate::scripting::is_busy() && !flags.nosave {
        return ctx.reply.error(crate::scripting::busy_error());
    }
    let step = if ctx.state.shutdown_wait.is_some() {
        super::persist::ShutdownStep::Waiting
    } else {
        super::persist::prepare_for_shutdown(ctx.state, ctx.clients, flags)
    };
    match step {
        super::persist::ShutdownStep::Exit => ctx.state.shutdown = Some(Shutdown::Ready),
        super::persist::ShutdownStep::Failed => ctx
            .reply
            .error("ERR Errors trying to SHUTDOWN. Check logs."),
        super::persist::ShutdownStep::Waiting => {
            // The caller waits with no reply: the server exits, or an
            // ABORT or a failure answers it.
            if let Some(wait) = ctx.state.shutdown_wait.as_mut() {
                wait.callers.push(me);
            }
            ctx.state.block_request = Some(crate::state::BlockRequest {
                keys: Vec::new(),
                timeout: None,
                null_bulk_when_not_blocking: false,
                command: None,
            });
        }
    }
}

/// CLUSTER, READONLY, READWRITE and ASKING: rudis runs standalone, as a
/// Redis started without `cluster-enabled`.
pub(super) fn cluster_disabled(ctx: &mut Ctx, _args: Args) {
    ctx.reply
        .error("ERR This instance has cluster support disabled");
}

/// `MODULE LIST`: rudis loads no modules.
pub(super) fn module_list(ctx: &mut Ctx, _args: Args) {
    ctx.reply.array(0);
}

pub(super) fn module_help(ctx: &mut Ctx, _args: Args) {
    reply_help(
        ctx.reply,
        "module",
        &[
            "LIST",
            "    Return a list of loaded modules.",
            "LOAD <path> [<arg> ...]",
            "    Load a module library from <path>, passing to it any optional arguments.",
            "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
            "    Load a module library from <path>, while passing it module configurations and optional arguments.",
            "UNLOAD <name>",
            "    Unload a module.",
        ],
    );
}

/// `MODULE LOAD|LOADEX|UNLOAD`: refused unless `enable-module-command`
/// allows it, as Redis refuses; allowed, there is still no module that
/// rudis can load.
pub(super) fn module_load(ctx: &mut Ctx, args: Args) {
    let setting = ctx
        .state
        .config
        .pending
        .get("enable-module-command")
        .map_or("no", String::as_str);
    let allowed = setting.eq_ignore_ascii_case("yes")
        || (setting.eq_ignore_ascii_case("local") && ctx.client().addr.is_local());
    if !allowed {
        return ctx.reply.error("ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.");
    }
    if args.get(1).eq_ignore_ascii_case(b"unload") {
        return ctx
            .reply
            .error("ERR Error unloading module: no such module with that name");
    }
    log::warn!(
        "Module {} failed to load: rudis does not load modules",
        String::from_utf8_lossy(args.get(2))
    );
    ctx.reply
        .error("ERR Error loading the extension. Please check the server logs.");
}
