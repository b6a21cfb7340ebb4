//! Connection commands: PING, ECHO, QUIT, HELLO, SELECT, RESET.

use super::{int_arg, Ctx};
use crate::client::Closing;
use crate::errors;
use crate::protocol::parse_i64;
use crate::protocol::request::Args;

pub(super) fn ping(ctx: &mut Ctx, args: Args) {
    if args.len() > 2 {
        ctx.reply.error(&errors::wrong_arity("ping"));
    } else if ctx.clients[ctx.me].subscriptions.any() && !ctx.reply.is_resp3() {
        // Subscribed mode in RESP2: a message-shaped reply.
        ctx.reply.array(2);
        ctx.reply.bulk(b"pong");
        ctx.reply
            .bulk(if args.len() == 2 { args.get(1) } else { b"" });
    } else if args.len() == 2 {
        ctx.reply.bulk(args.get(1));
    } else {
        ctx.reply.simple("PONG");
    }
}

pub(super) fn echo(ctx: &mut Ctx, args: Args) {
    ctx.reply.bulk(args.get(1));
}

/// `RESET`: the connection as it was when it opened (Redis's
/// `clearClientConnectionState`): out of MONITOR and MULTI, no watched
/// keys, database 0, RESP2, no name, replies and eviction back on.
pub(super) fn reset(ctx: &mut Ctx, _args: Args) {
    let me = ctx.me;
    if ctx.clients[me].monitor {
        ctx.clients[me].monitor = false;
        ctx.state.monitors.retain(|&k| k != me);
    }
    ctx.client().multi = None;
    super::multi::unwatch_all(ctx);
    super::pubsub::unsubscribe_all(ctx);
    let who = (me, ctx.clients[me].id);
    if ctx.clients[me].tracking.is_some() {
        ctx.state
            .tracking
            .disable(&mut ctx.clients[me].tracking, who);
        ctx.state.refresh_event_classes();
    }
    // Back to the default user, logged in only if it needs no password
    // (Redis's `clientSetDefaultAuth`).
    let authenticated = !ctx.state.users.default_needs_auth();
    let client = ctx.client();
    client.user = crate::acl::Users::DEFAULT;
    client.authenticated = authenticated;
    client.db = 0;
    client.name = None;
    client.no_evict = false;
    client.reply_off = false;
    client.skip_requested = false;
    ctx.reply.set_resp3(false);
    ctx.reply.simple("RESET");
}

pub(super) fn quit(ctx: &mut Ctx, _args: Args) {
    ctx.reply.ok();
    ctx.client().closing = Closing::AfterReply;
}

/// Client names and library attributes: printable ASCII without spaces
/// (Redis's `validateClientName`).
pub fn valid_client_attr(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

pub(super) fn hello(ctx: &mut Ctx, args: Args) {
    let mut next = 1;
    let mut version = None;
    if args.len() >= 2 {
        match parse_i64(args.get(1)) {
            Some(v) if (2..=3).contains(&v) => version = Some(v),
            Some(_) => return ctx.reply.error(errors::NOPROTO),
            None => return ctx.reply.error(errors::PROTOCOL_VERSION_NOT_INTEGER),
        }
        next = 2;
    }
    let mut auth = None;
    let mut name = None;
    while next < args.len() {
        let option = args.get(next);
        let more = args.len() - 1 - next;
        if option.eq_ignore_ascii_case(b"AUTH") && more >= 2 {
            auth = Some((args.get(next + 1), args.get(next + 2)));
            next += 3;
        } else if option.eq_ignore_ascii_case(b"SETNAME") && more >= 1 {
            let candidate = args.get(next + 1);
            if !valid_client_attr(candidate) {
                return ctx.reply.error(errors::CLIENT_NAME_CHARS);
            }
            name = Some(candidate);
            next += 2;
        } else {
            let mut message = b"ERR Syntax error in HELLO option '".to_vec();
            message.extend_from_slice(option);
            message.push(b'\'');
            return ctx.reply.error_bytes(&message);
        }
    }
    match auth {
        Some((user, password)) if !super::acl::authenticate(ctx, args.get(0), user, password) => {
            return ctx.reply.error(errors::WRONGPASS);
        }
        Some(_) => {}
        None if !ctx.clients[ctx.me].authenticated && ctx.state.users.default_needs_auth() => {
            return ctx.reply.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        }
        None => {}
    }
    if let Some(v) = version {
        ctx.reply.set_resp3(v == 3);
    }
    if let Some(name) = name {
        ctx.client().name = (!name.is_empty()).then(|| name.to_vec());
    }
    let id = ctx.client().id;
    let reply = &mut *ctx.reply;
    reply.map(7);
    reply.bulk(b"server");
    reply.bulk(b"redis");
    reply.bulk(b"version");
    reply.bulk(crate::REDIS_VERSION.as_bytes());
    reply.bulk(b"proto");
    reply.int(if reply.is_resp3() { 3 } else { 2 });
    reply.bulk(b"id");
    reply.int(id as i64);
    reply.bulk(b"mode");
    reply.bulk(b"standalone");
    reply.bulk(b"role");
    reply.bulk(b"master");
    reply.bulk(b"modules");
    reply.array(0);
}

pub(super) fn select(ctx: &mut Ctx, args: Args) {
    let Some(index) = int_arg(ctx.reply, args.get(1), None) else {
        return;
    };
    match usize::try_from(index) {
        Ok(db) if db < ctx.state.config.databases => {
            ctx.client().db = db;
            ctx.reply.ok();
        }
        _ => ctx.reply.error(errors::DB_INDEX_OUT_OF_RANGE),
    }
}
