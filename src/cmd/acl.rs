//! AUTH and the ACL command: users are managed here, checked in
//! `cmd::run` (see `crate::acl`).

use super::Ctx;
use crate::acl::{merge_selector_arguments, LogEntry, Reason, User, Users, CATEGORIES};
use crate::errors;
use crate::protocol::request::Args;

pub(super) fn auth(ctx: &mut Ctx, args: Args) {
    if args.len() > 3 {
        return ctx.reply.error(errors::SYNTAX);
    }
    let (name, password): (&[u8], &[u8]) = if args.len() == 2 {
        if ctx
            .state
            .users
            .get(Users::DEFAULT)
            .is_some_and(|u| u.nopass)
        {
            return ctx.reply.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
        }
        (b"default", args.get(1))
    } else {
        (args.get(1), args.get(2))
    };
    if authenticate(ctx, args.get(0), name, password) {
        ctx.reply.ok();
    } else {
        ctx.reply.error(errors::WRONGPASS);
    }
}

/// Logs the client in as `name` if the password opens that user; a
/// failure goes to ACL LOG under `command` (AUTH or HELLO, as typed)
/// (Redis's `ACLAuthenticateUser`).
pub fn authenticate(ctx: &mut Ctx, command: &[u8], name: &[u8], password: &[u8]) -> bool {
    let users = &ctx.state.users;
    let slot = users.slot_of(name).filter(|&slot| {
        users
            .get(slot)
            .is_some_and(|u| u.enabled && u.password_matches(password))
    });
    match slot {
        Some(slot) => {
            let client = ctx.client();
            client.user = slot;
            client.authenticated = true;
            true
        }
        None => {
            log_denial(ctx, Reason::Auth, command, Some(name), false);
            false
        }
    }
}

/// Where a refusal happened, as ACL LOG names it.
pub fn log_context(ctx: &Ctx, from_script: bool) -> &'static str {
    if from_script {
        "lua"
    } else if ctx.state.in_exec || ctx.clients[ctx.me].multi.is_some() {
        "multi"
    } else {
        "toplevel"
    }
}

/// Records a refusal in ACL LOG; `username` when it is not the
/// client's own (a failed AUTH names the user tried).
pub fn log_denial(
    ctx: &mut Ctx,
    reason: Reason,
    object: &[u8],
    username: Option<&[u8]>,
    from_script: bool,
) {
    let context = log_context(ctx, from_script);
    let mut client_info = String::new();
    super::client::describe_client(ctx, ctx.me, std::time::Instant::now(), &mut client_info);
    let username = match username {
        Some(name) => name.to_vec(),
        None => ctx
            .state
            .users
            .get(ctx.clients[ctx.me].user)
            .map_or_else(Vec::new, |u| u.name.clone()),
    };
    let entry = LogEntry {
        count: 1,
        reason,
        context,
        object: object.to_vec(),
        username,
        ctime_ms: crate::state::unix_millis(),
        client_info: client_info.trim_end().to_string(),
    };
    let max_len = ctx.state.config.acllog_max_len as usize;
    ctx.state.acl_log.add(entry, max_len);
}

pub(super) fn acl_whoami(ctx: &mut Ctx, _args: Args) {
    let slot = ctx.client().user;
    match ctx.state.users.get(slot) {
        Some(user) => {
            let name = user.name.clone();
            ctx.reply.bulk(&name);
        }
        None => ctx.reply.null(),
    }
}

pub(super) fn acl_users(ctx: &mut Ctx, _args: Args) {
    let names: Vec<Vec<u8>> = ctx.state.users.iter().map(|u| u.name.clone()).collect();
    ctx.reply.array(names.len());
    for name in &names {
        ctx.reply.bulk(name);
    }
}

pub(super) fn acl_list(ctx: &mut Ctx, _args: Args) {
    let lines: Vec<String> = ctx.state.users.iter().map(User::describe).collect();
    ctx.reply.array(lines.len());
    for line in &lines {
        ctx.reply.bulk(line.as_bytes());
    }
}

pub(super) fn acl_getuser(ctx: &mut Ctx, args: Args) {
    let Some(user) = ctx.state.users.by_name(args.get(2)).cloned() else {
        return ctx.reply.null();
    };
    let reply = &mut *ctx.reply;
    reply.map(6);
    reply.bulk(b"flags");
    let flags = user.flags();
    reply.set(flags.len());
    for flag in flags {
        reply.bulk(flag.as_bytes());
    }
    reply.bulk(b"passwords");
    reply.array(user.passwords.len());
    for hash in &user.passwords {
        reply.bulk(hash.as_bytes());
    }
    reply.bulk(b"commands");
    reply.bulk(user.root.describe_commands().as_bytes());
    reply.bulk(b"keys");
    reply.bulk(user.root.describe_keys().as_bytes());
    reply.bulk(b"channels");
    reply.bulk(user.root.describe_channels().as_bytes());
    reply.bulk(b"selectors");
    reply.array(user.selectors.len());
    for selector in &user.selectors {
        reply.map(3);
        reply.bulk(b"commands");
        reply.bulk(selector.describe_commands().as_bytes());
        reply.bulk(b"keys");
        reply.bulk(selector.describe_keys().as_bytes());
        reply.bulk(b"channels");
        reply.bulk(selector.describe_channels().as_bytes());
    }
}

pub(super) fn acl_setuser(ctx: &mut Ctx, args: Args) {
    let name = args.get(2);
    if name.iter().any(|&b| b == b' ' || b == 0) {
        return ctx
            .reply
            .error("ERR Usernames can't contain spaces or null characters");
    }
    let raw: Vec<&[u8]> = args.from(3).collect();
    let rules = match merge_selector_arguments(&raw) {
        Ok(rules) => rules,
        Err(open) => {
            return ctx.reply.error(&format!(
                "ERR Unmatched parenthesis in acl selector starting at '{open}'."
            ))
        }
    };
    let mut user = ctx
        .state
        .users
        .by_name(name)
        .cloned()
        .unwrap_or_else(|| User::new(name));
    if let Err((at, error)) = user.apply_all(&rules) {
        let rule = rules.get(at).map(String::as_str).unwrap_or("");
        return ctx.reply.error(&format!(
            "ERR Error in ACL SETUSER modifier '{rule}': {}",
            error.text()
        ));
    }
    let old_root = ctx.state.users.by_name(name).map(|u| u.root.clone());
    let slot = ctx.state.users.insert(user);
    if let Some(old_root) = old_root {
        kill_pubsub_clients_if_needed(ctx, slot, &old_root);
    }
    ctx.reply.ok();
}

/// Disconnects the user's subscribed clients whose subscriptions its new
/// channel rules no longer allow (Redis's `ACLKillPubsubClientsIfNeeded`,
/// which looks at the root selector only).
fn kill_pubsub_clients_if_needed(ctx: &mut Ctx, slot: usize, old_root: &crate::acl::Selector) {
    let Some(root) = ctx.state.users.get(slot).map(|u| &u.root) else {
        return;
    };
    if root.channels_cover(old_root) {
        return;
    }
    let victims: Vec<usize> = ctx
        .clients
        .iter()
        .filter(|(_, c)| c.user == slot && c.subscriptions.any())
        .filter(|(_, c)| {
            let subs = &c.subscriptions;
            subs.patterns.iter().any(|p| !root.channel_allowed(p, true))
                || subs
                    .channels
                    .iter()
                    .chain(&subs.shard)
                    .any(|ch| !root.channel_allowed(ch, false))
        })
        .map(|(key, _)| key)
        .collect();
    for key in victims {
        if key == ctx.me {
            ctx.client().closing = crate::client::Closing::AfterReply;
        } else {
            ctx.state.killed.push(key);
        }
    }
}

pub(super) fn acl_deluser(ctx: &mut Ctx, args: Args) {
    if args.from(2).any(|name| name == b"default") {
        return ctx.reply.error("ERR The 'default' user cannot be removed");
    }
    let mut deleted = 0;
    for name in args.from(2) {
        if let Some(slot) = ctx.state.users.remove(name) {
            deleted += 1;
            super::client::kill_clients_of_user(ctx, slot);
        }
    }
    ctx.reply.int(deleted);
}

pub(super) fn acl_cat(ctx: &mut Ctx, args: Args) {
    if args.len() > 3 {
        let error = crate::errors::subcommand_syntax(args.get(1), "acl");
        return ctx.reply.error_bytes(&error);
    }
    if args.len() == 2 {
        ctx.reply.array(CATEGORIES.len());
        for category in CATEGORIES {
            ctx.reply.bulk(category.as_bytes());
        }
        return;
    }
    let wanted = String::from_utf8_lossy(args.get(2)).to_ascii_lowercase();
    if !CATEGORIES.contains(&wanted.as_str()) {
        return ctx.reply.error(&format!(
            "ERR Unknown category '{}'",
            String::from_utf8_lossy(args.get(2))
        ));
    }
    let names: Vec<&str> = super::all_commands()
        .iter()
        .filter(|c| c.acl.split(' ').any(|a| a == wanted))
        .map(|c| c.name)
        .collect();
    ctx.reply.array(names.len());
    for name in names {
        ctx.reply.bulk(name.as_bytes());
    }
}

pub(super) fn acl_genpass(ctx: &mut Ctx, args: Args) {
    let bits = if args.len() == 3 {
        match crate::protocol::parse_i64(args.get(2)) {
            Some(n) if (1..=4096).contains(&n) => n as usize,
            _ => return ctx.reply.error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"),
        }
    } else {
        256
    };
    let chars = bits.div_ceil(4);
    let mut bytes = vec![0u8; chars.div_ceil(2)];
    fill_random(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    ctx.reply.bulk(&hex.as_bytes()[..chars]);
}

/// Secure random bytes from the kernel.
fn fill_random(buf: &mut [u8]) {
    use std::io::Read;
    if let Ok(mut urandom) = std::fs::File::open("/dev/urandom") {
        if urandom.read_exact(buf).is_ok() {
            return;
        }
    }
    // No /dev/urandom: the clock and the pid, which is weak, but the
    // passwords are a convenience, never stored.
    let seed = crate::state::unix_millis() as u64 ^ u64::from(std::process::id());
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (seed.rotate_left(i as u32 % 64) >> 3) as u8;
    }
}

pub(super) fn acl_dryrun(ctx: &mut Ctx, args: Args) {
    let Some(user) = ctx.state.users.by_name(args.get(2)) else {
        return ctx.reply.error(&format!(
            "ERR User '{}' not found",
            String::from_utf8_lossy(args.get(2))
        ));
    };
    let line: Vec<&[u8]> = args.from(3).collect();
    let Some((command, id)) = super::resolve_line(&line) else {
        return ctx.reply.error(&format!(
            "ERR Command '{}' not found",
            String::from_utf8_lossy(args.get(3))
        ));
    };
    if !command.arity_fits(line.len()) {
        return ctx.reply.error(&errors::wrong_arity(command.name));
    }
    match user.check(command, id, &line) {
        Ok(()) => ctx.reply.ok(),
        Err(crate::acl::Denied::Command) => ctx.reply.bulk(
            format!(
                "This user has no permissions to run the '{}' command",
                command.name
            )
            .as_bytes(),
        ),
        Err(crate::acl::Denied::Key(at)) => ctx.reply.bulk(
            format!(
                "This user has no permissions to access the '{}' key",
                String::from_utf8_lossy(line[at])
            )
            .as_bytes(),
        ),
        Err(crate::acl::Denied::Channel(at)) => ctx.reply.bulk(
            format!(
                "This user has no permissions to access the '{}' channel",
                String::from_utf8_lossy(line[at])
            )
            .as_bytes(),
        ),
    }
}

const NO_ACL_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

pub(super) fn acl_save(ctx: &mut Ctx, _args: Args) {
    let path = ctx.state.config.aclfile.clone();
    if path.is_empty() {
        return ctx.reply.error(NO_ACL_FILE);
    }
    match ctx.state.users.save_file(&path) {
        Ok(()) => ctx.reply.ok(),
        Err(_) => ctx.reply.error("ERR There was an error trying to save the ACLs. Please check the server logs for more information"),
    }
}

/// `ACL LOAD`: the file replaces every user, all or nothing. Clients of
/// users other than `default` are disconnected, as the users they were
/// logged in as are gone (Redis frees the old set).
pub(super) fn acl_load(ctx: &mut Ctx, _args: Args) {
    let path = ctx.state.config.aclfile.clone();
    if path.is_empty() {
        return ctx.reply.error(NO_ACL_FILE);
    }
    match Users::from_file(&path) {
        Ok(users) => {
            let slots: Vec<usize> = ctx
                .clients
                .iter()
                .map(|(_, c)| c.user)
                .filter(|&slot| slot != Users::DEFAULT)
                .collect();
            ctx.state.users = users;
            for slot in slots {
                super::client::kill_clients_of_user(ctx, slot);
            }
            ctx.reply.ok();
        }
        Err(errors) => ctx.reply.error(&format!("ERR {errors}")),
    }
}

pub(super) fn acl_log(ctx: &mut Ctx, args: Args) {
    let mut count = 10usize;
    if args.len() == 3 {
        if args.get(2).eq_ignore_ascii_case(b"reset") {
            ctx.state.acl_log.entries.clear();
            return ctx.reply.ok();
        }
        match crate::protocol::parse_i64(args.get(2)) {
            Some(n) => count = n.max(0) as usize,
            None => {
                return ctx
                    .reply
                    .error("ERR value is not an integer or out of range")
            }
        }
    } else if args.len() > 3 {
        return ctx
            .reply
            .error_bytes(&errors::subcommand_syntax(args.get(1), "acl"));
    }
    let now = crate::state::unix_millis();
    let entries: Vec<LogEntry> = ctx
        .state
        .acl_log
        .entries
        .iter()
        .take(count)
        .cloned()
        .collect();
    let reply = &mut *ctx.reply;
    reply.array(entries.len());
    for e in &entries {
        reply.map(7);
        reply.bulk(b"count");
        reply.int(e.count as i64);
        reply.bulk(b"reason");
        reply.bulk(e.reason.name().as_bytes());
        reply.bulk(b"context");
        reply.bulk(e.context.as_bytes());
        reply.bulk(b"object");
        reply.bulk(&e.object);
        reply.bulk(b"username");
        reply.bulk(&e.username);
        reply.bulk(b"age-seconds");
        reply.double((now - e.ctime_ms) as f64 / 1000.0);
        reply.bulk(b"client-info");
        reply.bulk(e.client_info.as_bytes());
    }
}

pub(super) fn acl_help(ctx: &mut Ctx, _args: Args) {
    super::reply_help(
        ctx.reply,
        "acl",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    );
}
