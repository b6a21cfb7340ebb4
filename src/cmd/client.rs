//! The CLIENT family: identity (ID, SETNAME, GETNAME), inspection
//! (INFO, LIST) and control (KILL, NO-EVICT). The `CLIENT LIST` line has
//! Redis's fields in Redis's order; client libraries parse it.

use super::connection::valid_client_attr;
use super::{reply_help, Ctx};
use crate::client::{Client, Closing};
use crate::errors;
use crate::protocol::parse_i64;
use crate::protocol::request::Args;
use crate::tracking::ClientTracking;
use std::fmt::Write;
use std::time::Instant;

pub(super) fn client_help(ctx: &mut Ctx, _args: Args) {
    reply_help(
        ctx.reply,
        "client",
        &[
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    );
}

pub(super) fn client_id(ctx: &mut Ctx, _args: Args) {
    let id = ctx.client().id;
    ctx.reply.int(id as i64);
}

pub(super) fn client_setname(ctx: &mut Ctx, args: Args) {
    let name = args.get(2);
    if !valid_client_attr(name) {
        return ctx.reply.error(errors::CLIENT_NAME_CHARS);
    }
    ctx.client().name = (!name.is_empty()).then(|| name.to_vec());
    ctx.reply.ok();
}

pub(super) fn client_getname(ctx: &mut Ctx, _args: Args) {
    match ctx.clients[ctx.me].name.as_deref() {
        Some(name) => ctx.reply.bulk(name),
        None => ctx.reply.null(),
    }
}

/// `CLIENT REPLY ON|OFF|SKIP`: the loop drops the replies of a client
/// that turned them off, and of the one command after a SKIP.
pub(super) fn client_reply(ctx: &mut Ctx, args: Args) {
    let mode = args.get(2);
    if mode.eq_ignore_ascii_case(b"on") {
        let client = ctx.client();
        client.reply_off = false;
        client.skip_next = false;
        ctx.reply.ok();
    } else if mode.eq_ignore_ascii_case(b"off") {
        ctx.client().reply_off = true;
    } else if mode.eq_ignore_ascii_case(b"skip") {
        ctx.client().skip_requested = true;
    } else {
        ctx.reply.error(errors::SYNTAX);
    }
}

/// `CLIENT PAUSE timeout [WRITE|ALL]`: clients' commands (or only their
/// writes) wait in their query buffers until the time is up; the loop
/// runs them then (Redis's `pauseClients`).
pub(super) fn client_pause(ctx: &mut Ctx, args: Args) {
    let millis = match parse_i64(args.get(2)) {
        Some(ms) if ms < 0 => return ctx.reply.error("ERR timeout is negative"),
        Some(ms) => ms as u64,
        None => {
            return ctx
                .reply
                .error("ERR timeout is not an integer or out of range")
        }
    };
    let all = match args.len() {
        3 => true,
        4 if args.get(3).eq_ignore_ascii_case(b"all") => true,
        4 if args.get(3).eq_ignore_ascii_case(b"write") => false,
        4 => {
            return ctx
                .reply
                .error("ERR CLIENT PAUSE mode must be WRITE or ALL")
        }
        _ => {
            return ctx
                .reply
                .error_bytes(&errors::subcommand_syntax(b"pause", "client"))
        }
    };
    let until = Instant::now() + std::time::Duration::from_millis(millis);
    // A pause never shortens one in force, and ALL wins over WRITE.
    let pause = match ctx.state.pause {
        Some(current) => crate::state::Pause {
            until: current.until.max(until),
            all: current.all || all,
        },
        None => crate::state::Pause { until, all },
    };
    ctx.state.pause = Some(pause);
    ctx.state.refresh_expiry_mode();
    ctx.reply.ok();
}

pub(super) fn client_unpause(ctx: &mut Ctx, _args: Args) {
    ctx.state.pause = None;
    ctx.state.refresh_expiry_mode();
    ctx.reply.ok();
}

/// `CLIENT UNBLOCK id [TIMEOUT|ERROR]`: 1 if that client was blocked; the
/// loop releases it after this command, as if it timed out or with an
/// `-UNBLOCKED` error.
pub(super) fn client_unblock(ctx: &mut Ctx, args: Args) {
    let error = match args.len() {
        3 => false,
        4 if args.get(3).eq_ignore_ascii_case(b"timeout") => false,
        4 if args.get(3).eq_ignore_ascii_case(b"error") => true,
        _ => {
            return ctx
                .reply
                .error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        }
    };
    let Some(id) = super::i64_arg(ctx.reply, args.get(2)) else {
        return;
    };
    let target = ctx
        .clients
        .iter()
        .find(|(_, c)| c.id as i64 == id && c.blocked.is_some())
        .map(|(key, _)| key);
    match target {
        Some(key) if !ctx.state.unblock_requests.iter().any(|(k, _)| *k == key) => {
            ctx.state.unblock_requests.push((key, error));
            ctx.reply.int(1);
        }
        _ => ctx.reply.int(0),
    }
}

/// `CLIENT GETREDIR`: the redirect's id, 0 for none, -1 when not
/// tracking.
pub(super) fn client_getredir(ctx: &mut Ctx, _args: Args) {
    let redirect = ctx.client().tracking.as_ref().map(|t| t.redirect_id);
    ctx.reply.int(redirect.map_or(-1, |id| id as i64));
}

/// `CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN]
/// [OPTOUT] [NOLOOP]`, checked in the order of Redis's `clientCommand`.
pub(super) fn client_tracking(ctx: &mut Ctx, args: Args) {
    let mut options = ClientTracking::default();
    let mut prefixes: Vec<&[u8]> = Vec::new();
    let mut j = 3;
    while j < args.len() {
        let option = args.get(j);
        let more = j + 1 < args.len();
        let is = |name: &[u8]| option.eq_ignore_ascii_case(name);
        if is(b"redirect") && more {
            j += 1;
            if options.redirect.is_some() {
                return ctx
                    .reply
                    .error("ERR A client can only redirect to a single other client");
            }
            let Some(id) = super::i64_arg(ctx.reply, args.get(j)) else {
                return;
            };
            let target = ctx.clients.iter().find(|(_, c)| c.id as i64 == id);
            let Some((key, _)) = target else {
                return ctx
                    .reply
                    .error("ERR The client ID you want redirect to does not exist");
            };
            options.redirect = Some((key, id as u64));
            options.redirect_id = id as u64;
        } else if is(b"bcast") {
            options.bcast = true;
        } else if is(b"optin") {
            options.optin = true;
        } else if is(b"optout") {
            options.optout = true;
        } else if is(b"noloop") {
            options.noloop = true;
        } else if is(b"prefix") && more {
            j += 1;
            prefixes.push(args.get(j));
        } else {
            return ctx.reply.error(errors::SYNTAX);
        }
        j += 1;
    }
    let who = (ctx.me, ctx.clients[ctx.me].id);
    let mode = args.get(2);
    if mode.eq_ignore_ascii_case(b"off") {
        let state = &mut ctx.state.tracking;
        state.disable(&mut ctx.clients[ctx.me].tracking, who);
        ctx.state.refresh_event_classes();
        return ctx.reply.ok();
    }
    if !mode.eq_ignore_ascii_case(b"on") {
        return ctx.reply.error(errors::SYNTAX);
    }
    if !options.bcast && !prefixes.is_empty() {
        return ctx
            .reply
            .error("ERR PREFIX option requires BCAST mode to be enabled");
    }
    let current = ctx.clients[ctx.me].tracking.as_deref();
    if current.is_some_and(|t| t.bcast != options.bcast) {
        return ctx.reply.error("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
    }
    if options.bcast && (options.optin || options.optout) {
        return ctx
            .reply
            .error("ERR OPTIN and OPTOUT are not compatible with BCAST");
    }
    if options.optin && options.optout {
        return ctx
            .reply
            .error("ERR You can't specify both OPTIN mode and OPTOUT mode");
    }
    if current.is_some_and(|t| (options.optin && t.optout) || (options.optout && t.optin)) {
        return ctx.reply.error("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
    }
    if options.bcast {
        let empty = std::collections::BTreeSet::new();
        let existing = current.map_or(&empty, |t| &t.prefixes);
        if let Some(error) = crate::tracking::prefix_collision(existing, &prefixes) {
            return ctx.reply.error(&error);
        }
    }
    let state = &mut ctx.state.tracking;
    state.enable(&mut ctx.clients[ctx.me].tracking, who, &options, &prefixes);
    ctx.state.refresh_event_classes();
    ctx.reply.ok();
}

/// `CLIENT CACHING YES|NO`: whether the next command's reads are tracked,
/// in OPTIN and OPTOUT modes.
pub(super) fn client_caching(ctx: &mut Ctx, args: Args) {
    let Some(tracking) = ctx.clients[ctx.me].tracking.as_deref_mut() else {
        return ctx.reply.error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
    };
    let answer = args.get(2);
    if answer.eq_ignore_ascii_case(b"yes") {
        if !tracking.optin {
            return ctx.reply.error(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
    } else if answer.eq_ignore_ascii_case(b"no") {
        if !tracking.optout {
            return ctx.reply.error(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
    } else {
        return ctx.reply.error(errors::SYNTAX);
    }
    tracking.caching = true;
    ctx.reply.ok();
}

/// `CLIENT TRACKINGINFO`: flags, redirect and prefixes, as Redis lists
/// them.
pub(super) fn client_trackinginfo(ctx: &mut Ctx, _args: Args) {
    let tracking = ctx.clients[ctx.me].tracking.as_deref();
    let mut flags: Vec<&str> = vec![if tracking.is_some() { "on" } else { "off" }];
    if let Some(t) = tracking {
        let marks = [
            (t.bcast, "bcast"),
            (t.optin, "optin"),
            (t.optin && t.caching, "caching-yes"),
            (t.optout, "optout"),
            (t.optout && t.caching, "caching-no"),
            (t.noloop, "noloop"),
            (t.broken_redirect, "broken_redirect"),
        ];
        flags.extend(marks.iter().filter(|(on, _)| *on).map(|(_, name)| *name));
    }
    let redirect = tracking.map_or(-1, |t| t.redirect_id as i64);
    let prefixes: Vec<Vec<u8>> =
        tracking.map_or_else(Vec::new, |t| t.prefixes.iter().cloned().collect());
    let reply = &mut *ctx.reply;
    reply.map(3);
    reply.bulk(b"flags");
    reply.set(flags.len());
    for flag in flags {
        reply.bulk(flag.as_bytes());
    }
    reply.bulk(b"redirect");
    reply.int(redirect);
    reply.bulk(b"prefixes");
    reply.array(prefixes.len());
    for prefix in prefixes {
        reply.bulk(&prefix);
    }
}

pub(super) fn client_no_evict(ctx: &mut Ctx, args: Args) {
    let mode = args.get(2);
    if mode.eq_ignore_ascii_case(b"on") {
        ctx.client().no_evict = true;
    } else if mode.eq_ignore_ascii_case(b"off") {
        ctx.client().no_evict = false;
    } else {
        return ctx.reply.error(errors::SYNTAX);
    }
    ctx.reply.ok();
}

/// What only the loop knows of the client running the command: its
/// buffers are out on loan while the command runs.
struct Running {
    output: u64,
    resp3: bool,
    qbuf: usize,
    qbuf_capacity: usize,
    argv_mem: usize,
}

/// Redis's reply buffer: the first 16 KB of output is `obl`, the rest is
/// counted as a list of 16 KB blocks (`oll`, `omem`).
const REPLY_CHUNK: u64 = 16 * 1024;

/// One `CLIENT LIST` line, newline included, with Redis 7.0's fields in
/// Redis's order.
fn describe(
    out: &mut String,
    c: &Client,
    now: Instant,
    running: Option<Running>,
    command: &str,
    user: &[u8],
) {
    let running = running.unwrap_or(Running {
        output: c.pending_output() as u64,
        resp3: c.reply.is_resp3(),
        qbuf: c.parser.shown_len(),
        qbuf_capacity: c.parser.capacity(),
        argv_mem: 0,
    });
    let mut flags = String::new();
    if c.monitor {
        flags.push('O');
    }
    if c.is_replica() {
        flags.push('S');
    }
    if c.is_master {
        flags.push('M');
    }
    if c.subscriptions.any() {
        flags.push('P');
    }
    if c.multi.is_some() || c.exec_running.is_some() {
        flags.push('x');
    }
    if c.blocked.is_some() || c.paused {
        flags.push('b');
    }
    if let Some(tracking) = &c.tracking {
        flags.push('t');
        if tracking.broken_redirect {
            flags.push('R');
        }
        if tracking.bcast {
            flags.push('B');
        }
    }
    if c.closing == Closing::AfterReply {
        flags.push('c');
    }
    if c.closing == Closing::Now {
        flags.push('A');
    }
    if c.addr.is_unix() {
        flags.push('U');
    }
    if c.no_evict {
        flags.push('e');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    fn text(v: &Option<Vec<u8>>) -> std::borrow::Cow<'_, str> {
        v.as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default()
    }
    let (multi, multi_mem) = match (&c.multi, c.exec_running) {
        (Some(t), _) => (
            t.queued.len() as i64,
            t.queued.iter().map(|q| q.memory()).sum::<usize>(),
        ),
        (None, Some((count, memory))) => (count as i64, memory),
        (None, None) => (-1, 0),
    };
    let obl = running.output.min(REPLY_CHUNK);
    let omem = running.output - obl;
    let oll = omem.div_ceil(REPLY_CHUNK);
    let rbs = (c.reply.capacity() as u64).clamp(1024, REPLY_CHUNK);
    let tot_mem = std::mem::size_of::<Client>()
        + running.qbuf_capacity
        + c.reply.capacity()
        + running.argv_mem
        + multi_mem;
    let _ = writeln!(
        out,
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} \
         qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events={} \
         cmd={} user={} redir={} resp={}",
        c.id,
        c.addr,
        c.local_addr,
        c.fd,
        text(&c.name),
        now.duration_since(c.created).as_secs(),
        now.duration_since(c.last_interaction).as_secs(),
        flags,
        c.db,
        c.subscriptions.channels.len(),
        c.subscriptions.patterns.len(),
        c.subscriptions.shard.len(),
        multi,
        running.qbuf,
        running.qbuf_capacity.saturating_sub(running.qbuf),
        running.argv_mem,
        multi_mem,
        rbs,
        rbs,
        obl,
        oll,
        omem,
        tot_mem,
        if c.wants_writable { "rw" } else { "r" },
        command,
        String::from_utf8_lossy(user),
        c.tracking.as_ref().map_or(-1, |t| t.redirect_id as i64),
        if running.resp3 { 3 } else { 2 },
    );
}

pub(super) fn describe_client(ctx: &Ctx, key: usize, now: Instant, out: &mut String) {
    let client = &ctx.clients[key];
    let running = (key == ctx.me).then(|| {
        let (qbuf, qbuf_capacity, argv_mem) = ctx.input.map_or((0, 0, 0), |parser| {
            let argv: usize = parser.args().iter().map(<[u8]>::len).sum();
            (parser.len(), parser.capacity(), argv)
        });
        Running {
            output: ctx.reply.len() as u64,
            resp3: ctx.reply.is_resp3(),
            qbuf,
            qbuf_capacity,
            argv_mem,
        }
    });
    let user = ctx
        .state
        .users
        .get(client.user)
        .map_or(&b""[..], |u| &u.name);
    describe(out, client, now, running, client.last_command, user);
}

pub(super) fn client_info(ctx: &mut Ctx, _args: Args) {
    let mut out = String::new();
    describe_client(ctx, ctx.me, Instant::now(), &mut out);
    ctx.reply.verbatim(out.as_bytes());
}

pub(super) fn client_list(ctx: &mut Ctx, args: Args) {
    let mut ids: Option<Vec<u64>> = None;
    let mut wanted_type: Option<&'static str> = None;
    if args.len() >= 4 && args.get(2).eq_ignore_ascii_case(b"type") && args.len() == 4 {
        let kind = args.get(3);
        if let Some(kind) = type_named(kind) {
            wanted_type = Some(kind);
        } else {
            let mut message = b"ERR Unknown client type '".to_vec();
            message.extend_from_slice(kind);
            message.push(b'\'');
            return ctx.reply.error_bytes(&message);
        }
    } else if args.len() >= 4 && args.get(2).eq_ignore_ascii_case(b"id") {
        let mut wanted = Vec::new();
        for arg in args.from(3) {
            match parse_i64(arg) {
                Some(id) => wanted.push(id as u64),
                None => return ctx.reply.error("ERR Invalid client ID"),
            }
        }
        ids = Some(wanted);
    } else if args.len() != 2 {
        return ctx.reply.error(errors::SYNTAX);
    }
    let now = Instant::now();
    let mut out = String::new();
    let keys: Vec<usize> = ctx
        .clients
        .iter()
        .filter(|(_, c)| ids.as_ref().is_none_or(|ids| ids.contains(&c.id)))
        .filter(|(_, c)| wanted_type.is_none_or(|t| client_type(c) == t))
        .map(|(k, _)| k)
        .collect();
    for key in keys {
        describe_client(ctx, key, now, &mut out);
    }
    ctx.reply.verbatim(out.as_bytes());
}

/// A client's type for CLIENT LIST/KILL TYPE and the output buffer limit
/// classes (Redis's `getClientType`): `pubsub` while it has
/// subscriptions, else `normal` (MONITOR clients included).
pub fn client_type(c: &Client) -> &'static str {
    if c.is_master {
        "master"
    } else if c.is_replica() {
        "replica"
    } else if c.subscriptions.any() {
        "pubsub"
    } else {
        "normal"
    }
}

/// The type a `TYPE` option names (`slave` is `replica`).
fn type_named(name: &[u8]) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    match lower.as_slice() {
        b"normal" => Some("normal"),
        b"master" => Some("master"),
        b"replica" | b"slave" => Some("replica"),
        b"pubsub" => Some("pubsub"),
        _ => None,
    }
}

/// Which clients `CLIENT KILL` aims at.
#[derive(Default)]
struct KillFilter<'a> {
    id: Option<u64>,
    addr: Option<&'a [u8]>,
    laddr: Option<&'a [u8]>,
    kind: Option<&'static str>,
    /// A user's slot.
    user: Option<usize>,
    skip_me: bool,
}

impl KillFilter<'_> {
    fn matches(&self, c: &Client) -> bool {
        self.id.is_none_or(|id| c.id == id)
            && self.addr.is_none_or(|a| c.addr.to_string().as_bytes() == a)
            && self
                .laddr
                .is_none_or(|a| c.local_addr.to_string().as_bytes() == a)
            && self.kind.is_none_or(|t| client_type(c) == t)
            && self.user.is_none_or(|slot| c.user == slot)
    }
}

/// Disconnects the clients logged in as the user in `slot` (deleted):
/// the caller's own connection after its reply.
pub(super) fn kill_clients_of_user(ctx: &mut Ctx, slot: usize) {
    let victims: Vec<usize> = ctx
        .clients
        .iter()
        .filter(|(_, c)| c.user == slot && c.closing != Closing::Now)
        .map(|(key, _)| key)
        .collect();
    for key in victims {
        kill(ctx, key);
    }
}

/// Closes another client once the running command's batch is done, but
/// its socket at once, as Redis's `freeClient` does: the peer sees the
/// close even if the killer goes on (a DEBUG SLEEP after CLIENT KILL in
/// one transaction). Killing yourself: the reply still goes out first.
fn kill(ctx: &mut Ctx, key: usize) {
    if key == ctx.me {
        ctx.client().closing = Closing::AfterReply;
        return;
    }
    let _ = ctx.clients[key].socket.shutdown(std::net::Shutdown::Both);
    ctx.state.killed.push(key);
}

pub(super) fn client_kill(ctx: &mut Ctx, args: Args) {
    let old_form = args.len() == 3;
    let mut filter = KillFilter {
        skip_me: !old_form,
        ..KillFilter::default()
    };
    if old_form {
        filter.addr = Some(args.get(2));
    } else {
        let mut i = 2;
        while i < args.len() {
            let (option, value) = (
                args.get(i),
                if i + 1 < args.len() {
                    Some(args.get(i + 1))
                } else {
                    None
                },
            );
            let Some(value) = value else {
                return ctx.reply.error(errors::SYNTAX);
            };
            if option.eq_ignore_ascii_case(b"id") {
                match parse_i64(value) {
                    Some(id) if id >= 1 => filter.id = Some(id as u64),
                    _ => return ctx.reply.error(errors::CLIENT_ID_POSITIVE),
                }
            } else if option.eq_ignore_ascii_case(b"addr") {
                filter.addr = Some(value);
            } else if option.eq_ignore_ascii_case(b"laddr") {
                filter.laddr = Some(value);
            } else if option.eq_ignore_ascii_case(b"type") {
                if let Some(kind) = type_named(value) {
                    filter.kind = Some(kind);
                } else {
                    let mut message = b"ERR Unknown client type '".to_vec();
                    message.extend_from_slice(value);
                    message.push(b'\'');
                    return ctx.reply.error_bytes(&message);
                }
            } else if option.eq_ignore_ascii_case(b"user") {
                match ctx.state.users.slot_of(value) {
                    Some(slot) => filter.user = Some(slot),
                    None => {
                        let mut message = b"ERR No such user '".to_vec();
                        message.extend_from_slice(value);
                        message.push(b'\'');
                        return ctx.reply.error_bytes(&message);
                    }
                }
            } else if option.eq_ignore_ascii_case(b"skipme") {
                if value.eq_ignore_ascii_case(b"yes") {
                    filter.skip_me = true;
                } else if value.eq_ignore_ascii_case(b"no") {
                    filter.skip_me = false;
                } else {
                    return ctx.reply.error(errors::SYNTAX);
                }
            } else {
                return ctx.reply.error(errors::SYNTAX);
            }
            i += 2;
        }
    }
    let victims: Vec<usize> = ctx
        .clients
        .iter()
        .filter(|(key, c)| {
            c.closing != Closing::Now && !(filter.skip_me && *key == ctx.me) && filter.matches(c)
        })
        .map(|(key, _)| key)
        .collect();
    for &key in &victims {
        kill(ctx, key);
    }
    if old_form {
        if victims.is_empty() {
            ctx.reply.error(errors::NO_SUCH_CLIENT);
        } else {
            ctx.reply.ok();
        }
    } else {
        ctx.reply.int(victims.len() as i64);
    }
}
