//! Pub/Sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, the
//! sharded SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH, and PUBSUB's questions.
//! Replies and message frames are Redis's, byte for byte: arrays in
//! RESP2, push frames in RESP3. The registry is `crate::pubsub`.

use super::Ctx;
use crate::glob::glob_match;
use crate::protocol::request::Args;
use crate::pubsub::{Kind, Outboxes};

/// Subscriptions counted in a reply: channels and patterns together, or
/// shard channels alone (Redis's `clientSubscriptionsCount` and
/// `clientShardSubscriptionsCount`).
fn count(ctx: &mut Ctx, kind: Kind) -> i64 {
    let subs = &ctx.client().subscriptions;
    match kind {
        Kind::Shard => subs.shard.len() as i64,
        _ => (subs.channels.len() + subs.patterns.len()) as i64,
    }
}

fn list<'c>(ctx: &'c mut Ctx, kind: Kind) -> &'c mut Vec<Vec<u8>> {
    let subs = &mut ctx.client().subscriptions;
    match kind {
        Kind::Channel => &mut subs.channels,
        Kind::Pattern => &mut subs.patterns,
        Kind::Shard => &mut subs.shard,
    }
}

/// A subscription reply: `[word, name, count]`.
fn confirm(ctx: &mut Ctx, word: &[u8], name: Option<&[u8]>, kind: Kind) {
    let n = count(ctx, kind);
    let reply = &mut *ctx.reply;
    reply.push(3);
    reply.bulk(word);
    match name {
        Some(name) => reply.bulk(name),
        None => reply.null(),
    }
    reply.int(n);
}

fn subscribe_to(ctx: &mut Ctx, args: Args, kind: Kind, word: &[u8]) {
    let who = (ctx.me, ctx.client().id);
    for name in args.from(1) {
        if !ctx.state.pubsub.has(kind, name, who) {
            list(ctx, kind).push(name.to_vec());
            ctx.state.pubsub.add(kind, name, who);
        }
        confirm(ctx, word, Some(name), kind);
    }
}

/// Drops one subscription, or all of the kind with no names; one reply
/// per name, or a single one with a null name when there were none.
fn unsubscribe_from(ctx: &mut Ctx, args: Args, kind: Kind, word: &[u8]) {
    if args.len() == 1 {
        // All of them: taken whole, then replied one by one with the
        // count going down, as Redis replies.
        let names = std::mem::take(list(ctx, kind));
        if names.is_empty() {
            return confirm(ctx, word, None, kind);
        }
        let who = (ctx.me, ctx.client().id);
        let mut left = count(ctx, kind) + names.len() as i64;
        for name in names {
            ctx.state.pubsub.remove(kind, &name, who);
            left -= 1;
            ctx.reply.push(3);
            ctx.reply.bulk(word);
            ctx.reply.bulk(&name);
            ctx.reply.int(left);
        }
        return;
    }
    for name in args.from(1) {
        drop_subscription(ctx, kind, name);
        confirm(ctx, word, Some(name), kind);
    }
}

fn drop_subscription(ctx: &mut Ctx, kind: Kind, name: &[u8]) {
    let who = (ctx.me, ctx.client().id);
    if !ctx.state.pubsub.has(kind, name, who) {
        return;
    }
    let own = list(ctx, kind);
    if let Some(i) = own.iter().position(|n| n == name) {
        own.remove(i);
    }
    ctx.state.pubsub.remove(kind, name, who);
}

/// Every subscription of the running client goes (RESET), without replies.
pub fn unsubscribe_all(ctx: &mut Ctx) {
    let who = (ctx.me, ctx.client().id);
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for name in std::mem::take(list(ctx, kind)) {
            ctx.state.pubsub.remove(kind, &name, who);
        }
    }
}

pub(super) fn subscribe(ctx: &mut Ctx, args: Args) {
    subscribe_to(ctx, args, Kind::Channel, b"subscribe");
}

pub(super) fn unsubscribe(ctx: &mut Ctx, args: Args) {
    unsubscribe_from(ctx, args, Kind::Channel, b"unsubscribe");
}

pub(super) fn psubscribe(ctx: &mut Ctx, args: Args) {
    subscribe_to(ctx, args, Kind::Pattern, b"psubscribe");
}

pub(super) fn punsubscribe(ctx: &mut Ctx, args: Args) {
    unsubscribe_from(ctx, args, Kind::Pattern, b"punsubscribe");
}

pub(super) fn ssubscribe(ctx: &mut Ctx, args: Args) {
    subscribe_to(ctx, args, Kind::Shard, b"ssubscribe");
}

pub(super) fn sunsubscribe(ctx: &mut Ctx, args: Args) {
    unsubscribe_from(ctx, args, Kind::Shard, b"sunsubscribe");
}

/// Where a message from the running command goes.
fn outboxes<'c>(ctx: &'c mut Ctx) -> (&'c crate::pubsub::PubSub, Outboxes<'c>) {
    let out = Outboxes {
        clients: ctx.clients,
        running: Some((ctx.me, &mut *ctx.reply)),
        woken: &mut ctx.state.output_woken,
    };
    (&ctx.state.pubsub, out)
}

/// `PUBLISH channel message`: to the channel's subscribers, then to each
/// matching pattern's; the number of deliveries.
/// Replicas get the command too, for their own subscribers (not the AOF).
pub(super) fn publish(ctx: &mut Ctx, args: Args) {
    let (pubsub, mut out) = outboxes(ctx);
    let delivered = pubsub.publish(&mut out, args.get(1), args.get(2));
    ctx.state.forced_targets |= crate::aof::TO_REPLICAS;
    ctx.reply.int(delivered);
}

/// `SPUBLISH shardchannel message`, passed to replicas as PUBLISH is.
pub(super) fn spublish(ctx: &mut Ctx, args: Args) {
    let (pubsub, mut out) = outboxes(ctx);
    let delivered = pubsub.spublish(&mut out, args.get(1), args.get(2));
    ctx.state.forced_targets |= crate::aof::TO_REPLICAS;
    ctx.reply.int(delivered);
}

fn channels_matching(ctx: &mut Ctx, args: Args, shard: bool) {
    let map = if shard {
        &ctx.state.pubsub.shard_channels
    } else {
        &ctx.state.pubsub.channels
    };
    let pattern = (args.len() > 2).then(|| args.get(2));
    let names: Vec<&Vec<u8>> = map
        .keys()
        .filter(|name| pattern.is_none_or(|p| glob_match(p, name, false)))
        .collect();
    ctx.reply.array(names.len());
    for name in names {
        ctx.reply.bulk(name);
    }
}

fn subscriber_counts(ctx: &mut Ctx, args: Args, shard: bool) {
    ctx.reply.array((args.len() - 2) * 2);
    for name in args.from(2) {
        let map = if shard {
            &ctx.state.pubsub.shard_channels
        } else {
            &ctx.state.pubsub.channels
        };
        let n = map.get(name).map_or(0, Vec::len);
        ctx.reply.bulk(name);
        ctx.reply.int(n as i64);
    }
}

pub(super) fn pubsub_channels(ctx: &mut Ctx, args: Args) {
    channels_matching(ctx, args, false);
}

pub(super) fn pubsub_shardchannels(ctx: &mut Ctx, args: Args) {
    channels_matching(ctx, args, true);
}

pub(super) fn pubsub_numsub(ctx: &mut Ctx, args: Args) {
    subscriber_counts(ctx, args, false);
}

pub(super) fn pubsub_shardnumsub(ctx: &mut Ctx, args: Args) {
    subscriber_counts(ctx, args, true);
}

pub(super) fn pubsub_numpat(ctx: &mut Ctx, _args: Args) {
    ctx.reply.int(ctx.state.pubsub.patterns.len() as i64);
}

pub(super) fn pubsub_help(ctx: &mut Ctx, _args: Args) {
    super::reply_help(
        ctx.reply,
        "pubsub",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
}
