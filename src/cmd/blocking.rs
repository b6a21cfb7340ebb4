//! Blocking list pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP. When
//! there is something to pop they behave like their non-blocking forms;
//! otherwise they ask the loop to park the client (`BlockRequest`) and are
//! run again when a key they wait on gets elements, or time out with a
//! null reply. No thread ever waits.

use super::list::{move_element, multi_pop, parse_end, parse_multi_pop, pop, End};
use super::Ctx;
use crate::errors;
use crate::protocol::request::Args;
use crate::protocol::Reply;
use crate::state::BlockRequest;
use std::time::Duration;

/// Parses a blocking timeout in seconds (decimals allowed) as Redis's
/// `getTimeoutFromObjectOrReply`; `Some(None)` means wait for ever.
pub fn timeout_arg(reply: &mut Reply, arg: &[u8]) -> Option<Option<Duration>> {
    let Some(seconds) = crate::float::parse_double(arg).filter(|s| s.is_finite()) else {
        reply.error("ERR timeout is not a float or out of range");
        return None;
    };
    let millis = (seconds * 1000.0) as i64;
    if millis < 0 {
        reply.error("ERR timeout is negative");
        return None;
    }
    Some((millis > 0).then(|| Duration::from_millis(millis as u64)))
}

/// Asks the loop to park the client on `keys`.
pub fn block(ctx: &mut Ctx, keys: impl Iterator<Item = Vec<u8>>, timeout: Option<Duration>) {
    ctx.state.block_request = Some(BlockRequest {
        keys: keys.collect(),
        timeout,
        null_bulk_when_not_blocking: false,
        command: None,
    });
}

/// When a blocked command runs again because one of its keys was
/// signalled: that key's position among `keys`. Redis serves a woken
/// client from the key that woke it alone, and a key of another type
/// (an XADD on a key a BLPOP waits for) leaves it waiting.
pub fn woken_position<'k>(ctx: &Ctx, mut keys: impl Iterator<Item = &'k [u8]>) -> Option<usize> {
    let woken = ctx.state.woken_by.as_deref()?;
    keys.position(|key| key == woken)
}

fn bpop(ctx: &mut Ctx, args: Args, end: End) {
    let Some(timeout) = timeout_arg(ctx.reply, args.get(args.len() - 1)) else {
        return;
    };
    let key_args = 1..args.len() - 1;
    let woken = woken_position(ctx, key_args.clone().map(|i| args.get(i)));
    {
        let (mut keys, reply) = ctx.keys();
        for (n, i) in key_args.clone().enumerate() {
            if woken.is_some_and(|w| w != n) {
                continue;
            }
            let key = args.get(i);
            match keys.write(key).map(|v| v.as_list().map(|l| l.is_empty())) {
                None | Some(Ok(true)) => continue,
                Some(Err(_)) if woken.is_some() => continue,
                Some(Err(_)) => return reply.error(errors::WRONGTYPE),
                Some(Ok(false)) => {
                    let changes = crate::db::Changes::begin();
                    if let Some(element) = pop(&mut keys, key, end) {
                        reply.array(2);
                        reply.bulk(key);
                        reply.bulk(&element);
                    }
                    if woken.is_some() {
                        uncounted_when_served(ctx, changes);
                    }
                    return super::list::notify_popped(ctx, key, end);
                }
            }
        }
    }
    block(ctx, key_args.map(|i| args.get(i).to_vec()), timeout);
}

/// A blocked BLPOP, BRPOP, BLMOVE or BRPOPLPUSH served when its key was
/// pushed to: Redis serves it without counting a change (the push
/// counted), but still propagates what it popped.
fn uncounted_when_served(ctx: &mut Ctx, changes: crate::db::Changes) {
    changes.made(0);
    ctx.state.forced_targets = crate::aof::TO_ALL;
}

pub(super) fn blpop(ctx: &mut Ctx, args: Args) {
    bpop(ctx, args, End::Left);
}

pub(super) fn brpop(ctx: &mut Ctx, args: Args) {
    bpop(ctx, args, End::Right);
}

fn blocking_move(ctx: &mut Ctx, args: Args, from: End, to: End, timeout_at: usize) {
    let Some(timeout) = timeout_arg(ctx.reply, args.get(timeout_at)) else {
        return;
    };
    let source = args.get(1);
    let woken = woken_position(ctx, std::iter::once(source)).is_some();
    let (mut keys, reply) = ctx.keys();
    match keys.write(source).map(|v| v.as_list().is_ok()) {
        Some(false) if !woken => reply.error(errors::WRONGTYPE),
        Some(true) => {
            let changes = crate::db::Changes::begin();
            move_element(ctx, source, args.get(2), from, to);
            if woken {
                uncounted_when_served(ctx, changes);
            }
        }
        _ => {
            ctx.state.block_request = Some(BlockRequest {
                keys: vec![source.to_vec()],
                timeout,
                null_bulk_when_not_blocking: true,
                command: None,
            });
        }
    }
}

pub(super) fn blmove(ctx: &mut Ctx, args: Args) {
    let (Some(from), Some(to)) = (parse_end(args.get(3)), parse_end(args.get(4))) else {
        return ctx.reply.error(errors::SYNTAX);
    };
    blocking_move(ctx, args, from, to, 5);
}

pub(super) fn brpoplpush(ctx: &mut Ctx, args: Args) {
    blocking_move(ctx, args, End::Right, End::Left, 3);
}

pub(super) fn blmpop(ctx: &mut Ctx, args: Args) {
    let Some(timeout) = timeout_arg(ctx.reply, args.get(1)) else {
        return;
    };
    let Some((keys, end, count)) = parse_multi_pop(ctx.reply, &args, 2, parse_end) else {
        return;
    };
    if !multi_pop(ctx, &keys, end, count) {
        block(ctx, keys.iter().map(|k| k.to_vec()), timeout);
    }
}
