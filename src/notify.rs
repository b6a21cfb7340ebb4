//! Keyspace notifications: the event classes of `notify-keyspace-events`
//! and the two channels an event is published on,
//! `__keyspace@<db>__:<key>` (payload: the event) and
//! `__keyevent@<db>__:<event>` (payload: the key).
//!
//! Command handlers announce each change through `cmd::Ctx::notify`,
//! which lands in [`key_changed`]: the change also invalidates the key in
//! client-side caches (`crate::tracking`), as Redis's `signalModifiedKey`
//! does beside its notification. Events a database notices on its own (a
//! key found expired, a key created, a read that missed) wait in its
//! `Db::events` queue until the next announcement or the end of the
//! command, so subscribers see them in Redis's order.

use crate::client::Client;
use crate::protocol::Reply;
use crate::pubsub::{Outboxes, PubSub};
use crate::state::ServerState;
use crate::tracking::{self, Invalidated, Tracking};
use slab::Slab;

pub const KEYSPACE: u32 = 1 << 0; // K
pub const KEYEVENT: u32 = 1 << 1; // E
pub const GENERIC: u32 = 1 << 2; // g
pub const STRING: u32 = 1 << 3; // $
pub const LIST: u32 = 1 << 4; // l
pub const SET: u32 = 1 << 5; // s
pub const HASH: u32 = 1 << 6; // h
pub const ZSET: u32 = 1 << 7; // z
pub const EXPIRED: u32 = 1 << 8; // x
pub const EVICTED: u32 = 1 << 9; // e
pub const STREAM: u32 = 1 << 10; // t
pub const KEY_MISS: u32 = 1 << 11; // m
pub const MODULE: u32 = 1 << 12; // d
pub const NEW: u32 = 1 << 13; // n
/// `A`: every type class; not `m` nor `n`, as in Redis 7.0.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// The type classes in the order Redis prints them, `n` last.
const CLASS_CHARS: [(u32, char); 11] = [
    (GENERIC, 'g'),
    (STRING, '$'),
    (LIST, 'l'),
    (SET, 's'),
    (HASH, 'h'),
    (ZSET, 'z'),
    (EXPIRED, 'x'),
    (EVICTED, 'e'),
    (STREAM, 't'),
    (MODULE, 'd'),
    (NEW, 'n'),
];

/// Parses a `notify-keyspace-events` value (Redis's
/// `keyspaceEventsStringToFlags`).
pub fn parse_flags(text: &str) -> Result<u32, String> {
    let mut flags = 0;
    for c in text.chars() {
        flags |= match c {
            'A' => ALL,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            'm' => KEY_MISS,
            _ => match CLASS_CHARS.iter().find(|(_, ch)| *ch == c) {
                Some((flag, _)) => *flag,
                None => {
                    return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string())
                }
            },
        };
    }
    Ok(flags)
}

/// The value as CONFIG GET shows it: `A` for all the type classes (which
/// then hides `n`), else each class, then `K`, `E`, `m`.
pub fn flags_to_string(flags: u32) -> String {
    let mut out = String::new();
    if flags & ALL == ALL {
        out.push('A');
    } else {
        for (flag, c) in CLASS_CHARS {
            if flags & flag != 0 {
                out.push(c);
            }
        }
    }
    for (flag, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & flag != 0 {
            out.push(c);
        }
    }
    out
}

/// Whether events of `class` are published at all: the class is on, and
/// at least one of the two channel kinds.
#[inline]
pub fn wanted(flags: u32, class: u32) -> bool {
    flags & class != 0 && flags & (KEYSPACE | KEYEVENT) != 0
}

/// Publishes one event on the channels `flags` ask for (Redis's
/// `notifyKeyspaceEvent`).
pub fn publish(
    pubsub: &PubSub,
    out: &mut Outboxes,
    flags: u32,
    class: u32,
    event: &str,
    key: &[u8],
    db: usize,
) {
    if !wanted(flags, class) {
        return;
    }
    if flags & KEYSPACE != 0 {
        let mut channel = format!("__keyspace@{db}__:").into_bytes();
        channel.extend_from_slice(key);
        pubsub.publish(out, &channel, event.as_bytes());
    }
    if flags & KEYEVENT != 0 {
        let channel = format!("__keyevent@{db}__:{event}");
        pubsub.publish(out, channel.as_bytes(), key);
    }
}

/// The running client (slab key) with its reply on loan, if a command is
/// running.
pub type Running<'a> = Option<(usize, &'a mut Reply)>;

fn outboxes<'a>(
    clients: &'a mut Slab<Client>,
    running: &'a mut Running,
    woken: &'a mut Vec<usize>,
) -> Outboxes<'a> {
    Outboxes {
        clients,
        running: running.as_mut().map(|(key, reply)| (*key, &mut **reply)),
        woken,
    }
}

/// A key changed (Redis's `signalModifiedKey` with `notifyKeyspaceEvent`):
/// its readers' caches are invalidated and the event is published, after
/// whatever the databases queued before it.
pub fn key_changed(
    state: &mut ServerState,
    clients: &mut Slab<Client>,
    mut running: Running,
    db: usize,
    class: u32,
    event: &str,
    key: &[u8],
) {
    let flags = state.config.notify_keyspace_events;
    let tracking = state.tracking.active();
    if !tracking && !wanted(flags, class) {
        return;
    }
    publish_queued(state, clients, &mut running);
    let mut out = outboxes(clients, &mut running, &mut state.output_woken);
    if tracking {
        invalidate(&mut state.tracking, &mut out, key, true);
    }
    publish(&state.pubsub, &mut out, flags, class, event, key, db);
}

/// Publishes, and empties, the events the databases queued themselves;
/// an expired or evicted key is also invalidated.
pub fn publish_queued(state: &mut ServerState, clients: &mut Slab<Client>, running: &mut Running) {
    let flags = state.config.notify_keyspace_events;
    let tracking = state.tracking.active();
    let mut out = outboxes(clients, running, &mut state.output_woken);
    for (index, db) in state.dbs.iter_mut().enumerate() {
        for (class, event, key) in db.events.drain(..) {
            if tracking && (class == EXPIRED || class == EVICTED) {
                invalidate(&mut state.tracking, &mut out, &key, true);
            }
            publish(&state.pubsub, &mut out, flags, class, event, &key, index);
        }
    }
}

/// Keeps the table within `tracking-table-max-keys` (Redis's
/// `trackingLimitUsedSlots`): up to `effort` keys are invalidated, as if
/// changed, without a broadcast. True once the table fits.
pub fn limit_tracking_table(
    state: &mut ServerState,
    clients: &mut Slab<Client>,
    effort: usize,
) -> bool {
    let max = state.config.tracking_table_max_keys as usize;
    let size = state.tracking.total_keys();
    if max == 0 || size <= max {
        return true;
    }
    let victims = state.tracking.some_keys(effort.min(size - max));
    let mut running = None;
    let mut out = outboxes(clients, &mut running, &mut state.output_woken);
    for key in victims {
        invalidate(&mut state.tracking, &mut out, &key, false);
    }
    state.tracking.total_keys() <= max
}

/// A database, or every one, was emptied (Redis's
/// `trackingInvalidateKeysOnFlush`): every tracking client is told to
/// drop everything, and what was read is forgotten, also what clients
/// that have since turned tracking off read.
pub fn flushed(state: &mut ServerState, clients: &mut Slab<Client>, mut running: Running) {
    if !state.tracking.active() {
        state.tracking.forget_all();
        return;
    }
    let me = running.as_ref().map(|(me, _)| *me);
    let trackers: Vec<(usize, u64)> = clients
        .iter()
        .filter(|(_, c)| c.tracking.is_some())
        .map(|(key, c)| (key, c.id))
        .collect();
    let mut out = outboxes(clients, &mut running, &mut state.output_woken);
    for tracker in trackers {
        if Some(tracker.0) == me {
            state.tracking.pending_self.push(None);
        } else {
            tracking::send(&mut out, tracker, &Invalidated::All);
        }
    }
    state.tracking.forget_all();
}

/// Tells the clients that read `key` it changed (Redis's
/// `trackingInvalidateKey`). The running client hears of its own change
/// after its reply, unless it asked for NOLOOP.
fn invalidate(tracking: &mut Tracking, out: &mut Outboxes, key: &[u8], broadcast: bool) {
    let running = out.running.as_ref().map(|(me, _)| *me);
    let changed_by = running
        .and_then(|me| out.clients.get(me))
        .map_or(0, |c| c.id);
    for reader in tracking.key_changed(key, changed_by, broadcast) {
        let Some(settings) = tracking::tracking_of(out.clients, reader) else {
            continue;
        };
        if settings.bcast {
            continue;
        }
        if Some(reader.0) == running {
            if !settings.noloop {
                tracking.pending_self.push(Some(key.to_vec()));
            }
        } else {
            tracking::send(out, reader, &Invalidated::Keys(&[key]));
        }
    }
}

/// The classes databases queue themselves, as `notify-keyspace-events`
/// asks for them (`Db::event_classes`).
pub fn queued_classes(flags: u32) -> u32 {
    if flags & (KEYSPACE | KEYEVENT) == 0 {
        return 0;
    }
    flags & (EXPIRED | EVICTED | NEW | KEY_MISS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_print_as_redis_prints_them() {
        for (given, shown) in [
            ("KEA", "AKE"),
            ("Ex", "xE"),
            ("g$lshzxetdKEmn", "AKEm"),
            ("KEn", "nKE"),
            ("nd", "dn"),
            ("mtng", "gtnm"),
            ("", ""),
            ("AA", "A"),
        ] {
            assert_eq!(
                flags_to_string(parse_flags(given).unwrap()),
                shown,
                "{given}"
            );
        }
    }

    #[test]
    fn unknown_class_is_refused() {
        assert!(parse_flags("KEq").is_err());
    }

    #[test]
    fn nothing_is_published_without_a_channel_kind() {
        assert!(!wanted(ALL, GENERIC));
        assert!(wanted(ALL | KEYEVENT, GENERIC));
        assert!(!wanted(KEYSPACE | STRING, LIST));
    }
}
