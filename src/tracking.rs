//! Client-side caching (Redis's tracking.c): which clients may hold which
//! keys in a local cache, and the invalidation messages that tell them a
//! key changed.
//!
//! Two modes, as in Redis. By default the server remembers every key a
//! tracking client read (`table`, keyed by name alone, whatever the
//! database) and tells each reader once when the key changes; the entry is
//! then forgotten until the key is read again. In BCAST mode a client
//! names prefixes instead, and every change under them is batched per
//! prefix and broadcast once per loop iteration.
//!
//! A message goes to the client itself as a RESP3 push, or to the client
//! it redirects to: a push again if that one speaks RESP3, else a message
//! on `__redis__:invalidate` if it is in pub/sub mode. The command
//! handlers do not call this module: `cmd::Ctx::notify`, where every key
//! change is announced, does.

use crate::client::Client;
use crate::pubsub::{Outboxes, Subscriber};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The channel RESP2 redirect targets hear invalidations on.
pub const CHANNEL: &[u8] = b"__redis__:invalidate";

/// A client's tracking settings (`CLIENT TRACKING ON ...`).
#[derive(Default)]
pub struct ClientTracking {
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// `CLIENT CACHING YES|NO` was given for the next command.
    pub caching: bool,
    /// The client invalidations are sent to instead (slab key, id).
    pub redirect: Option<Subscriber>,
    /// The id asked for in `REDIRECT` (CLIENT GETREDIR, TRACKINGINFO).
    pub redirect_id: u64,
    /// The redirect target has gone.
    pub broken_redirect: bool,
    pub prefixes: BTreeSet<Vec<u8>>,
}

impl ClientTracking {
    /// Whether the keys of the read-only command just run are remembered:
    /// always, unless OPTIN without `CACHING YES`, or OPTOUT with
    /// `CACHING NO` (Redis's `trackingRememberKeys`).
    pub fn remembers_reads(&self) -> bool {
        let optin_skips = self.optin && !self.caching;
        let optout_skips = self.optout && self.caching;
        !self.bcast && !optin_skips && !optout_skips
    }
}

/// Keys changed under one BCAST prefix since the last broadcast, with the
/// id of the client that changed each (for NOLOOP), and the clients
/// listening.
#[derive(Default)]
struct Broadcast {
    keys: BTreeMap<Vec<u8>, u64>,
    clients: Vec<Subscriber>,
}

/// One prefix's batch: its listeners, and the changed keys in byte order
/// with the id of the client that changed each.
pub type Broadcasted = (Vec<Subscriber>, Vec<(Vec<u8>, u64)>);

/// What an invalidation message carries.
pub enum Invalidated<'a> {
    Keys(&'a [&'a [u8]]),
    /// Everything (FLUSHDB, FLUSHALL): a null, in the tracking client's
    /// protocol as Redis writes it.
    All,
}

#[derive(Default)]
pub struct Tracking {
    /// Key → the clients that read it since it last changed (Redis's
    /// `TrackingTable`).
    table: HashMap<Vec<u8>, Vec<Subscriber>>,
    /// Client entries across `table` (INFO's `tracking_total_items`).
    items: usize,
    prefixes: BTreeMap<Vec<u8>, Broadcast>,
    /// Clients with tracking on (INFO's `tracking_clients`).
    pub clients: usize,
    /// Keys the running client changed while it tracks them itself: told
    /// after its reply (`None`: everything, after a flush).
    pub pending_self: Vec<Option<Vec<u8>>>,
}

impl Tracking {
    /// Whether a change to a key can concern anyone.
    pub fn active(&self) -> bool {
        self.clients > 0
    }

    pub fn total_keys(&self) -> usize {
        self.table.len()
    }

    pub fn total_items(&self) -> usize {
        self.items
    }

    pub fn total_prefixes(&self) -> usize {
        self.prefixes.len()
    }

    /// Notes that `who` may now cache `key`.
    pub fn remember(&mut self, key: &[u8], who: Subscriber) {
        let readers = match self.table.get_mut(key) {
            Some(readers) => readers,
            None => self.table.entry(key.to_vec()).or_default(),
        };
        if !readers.contains(&who) {
            readers.push(who);
            self.items += 1;
        }
    }

    /// Turns tracking on for a client, or changes its mode (Redis's
    /// `enableTracking`): the flags and redirect of `options` replace the
    /// client's; in BCAST mode the prefixes given (none meaning every
    /// key) are added to the ones it had.
    pub fn enable(
        &mut self,
        settings: &mut Option<Box<ClientTracking>>,
        who: Subscriber,
        options: &ClientTracking,
        new_prefixes: &[&[u8]],
    ) {
        if settings.is_none() {
            self.clients += 1;
        }
        let state = settings.get_or_insert_with(Box::default);
        state.bcast = options.bcast;
        state.optin = options.optin;
        state.optout = options.optout;
        state.noloop = options.noloop;
        state.redirect = options.redirect;
        state.redirect_id = options.redirect_id;
        state.broken_redirect = false;
        if !state.bcast {
            return;
        }
        let every_key: &[&[u8]] = &[b""];
        let added = if new_prefixes.is_empty() {
            every_key
        } else {
            new_prefixes
        };
        for prefix in added {
            state.prefixes.insert(prefix.to_vec());
            let listeners = &mut self.prefixes.entry(prefix.to_vec()).or_default().clients;
            if !listeners.contains(&who) {
                listeners.push(who);
            }
        }
    }

    /// Turns tracking off (Redis's `disableTracking`). The keys it read
    /// stay in the table and are dropped when they change.
    pub fn disable(&mut self, settings: &mut Option<Box<ClientTracking>>, who: Subscriber) {
        let Some(state) = settings.take() else {
            return;
        };
        self.clients -= 1;
        for prefix in &state.prefixes {
            if let Some(broadcast) = self.prefixes.get_mut(prefix) {
                broadcast.clients.retain(|c| *c != who);
                if broadcast.clients.is_empty() {
                    self.prefixes.remove(prefix);
                }
            }
        }
    }

    /// A key changed (Redis's `trackingInvalidateKey`): queued for the
    /// BCAST prefixes it falls under when `broadcast`, and taken out of
    /// the table; the clients that read it are returned for a message
    /// each.
    pub fn key_changed(&mut self, key: &[u8], changed_by: u64, broadcast: bool) -> Vec<Subscriber> {
        if broadcast {
            for (prefix, state) in self.prefixes.iter_mut() {
                if key.starts_with(prefix) {
                    state.keys.insert(key.to_vec(), changed_by);
                }
            }
        }
        match self.table.remove(key) {
            Some(readers) => {
                self.items -= readers.len();
                readers
            }
            None => Vec::new(),
        }
    }

    /// A flush forgets every key.
    pub fn forget_all(&mut self) {
        self.table.clear();
        self.items = 0;
    }

    /// Up to `n` keys of the table, for `tracking-table-max-keys`: the
    /// table's own order is arbitrary, as Redis's random pick.
    pub fn some_keys(&self, n: usize) -> Vec<Vec<u8>> {
        self.table.keys().take(n).cloned().collect()
    }

    /// The batched BCAST changes, emptied: per prefix, the listeners and
    /// the keys in byte order with who changed them.
    pub fn take_broadcasts(&mut self) -> Vec<Broadcasted> {
        self.prefixes
            .values_mut()
            .filter(|b| !b.keys.is_empty())
            .map(|b| {
                let keys = std::mem::take(&mut b.keys).into_iter().collect();
                (b.clients.clone(), keys)
            })
            .collect()
    }
}

/// Whether `who` is a live client with tracking on.
pub fn tracking_of(clients: &slab::Slab<Client>, who: Subscriber) -> Option<&ClientTracking> {
    clients
        .get(who.0)
        .filter(|c| c.id == who.1)
        .and_then(|c| c.tracking.as_deref())
}

/// Sends an invalidation for `tracker` (Redis's `sendTrackingMessage`):
/// to the client itself in RESP3, or through its redirect.
pub fn send(out: &mut Outboxes, tracker: Subscriber, what: &Invalidated) {
    let Some(state) = tracking_of(out.clients, tracker) else {
        return;
    };
    let (redirect, redirect_id) = (state.redirect, state.redirect_id);
    let Some(tracker_resp3) = out.is_resp3(tracker) else {
        return;
    };
    let (target, redirected) = match redirect {
        None => (tracker, false),
        Some(target) if out.is_resp3(target).is_some() => (target, true),
        Some(_) => {
            // The target is gone: say so once per message, in RESP3 only.
            if let Some(state) = out
                .clients
                .get_mut(tracker.0)
                .and_then(|c| c.tracking.as_deref_mut())
            {
                state.broken_redirect = true;
            }
            if tracker_resp3 {
                if let Some(reply) = out.reply_of(tracker) {
                    reply.push(2);
                    reply.bulk(b"tracking-redir-broken");
                    reply.int(redirect_id as i64);
                }
            }
            return;
        }
    };
    let target_resp3 = out.is_resp3(target) == Some(true);
    let target_subscribed = out
        .clients
        .get(target.0)
        .is_some_and(|c| c.subscriptions.any());
    let Some(reply) = out.reply_of(target) else {
        return;
    };
    if target_resp3 {
        reply.push(2);
        reply.bulk(b"invalidate");
    } else if redirected && target_subscribed {
        reply.array(3);
        reply.bulk(b"message");
        reply.bulk(CHANNEL);
    } else {
        // RESP2 has no way to tell the client itself.
        return;
    }
    match what {
        Invalidated::Keys(keys) => {
            reply.array(keys.len());
            for key in *keys {
                reply.bulk(key);
            }
        }
        Invalidated::All if tracker_resp3 => reply.raw(b"_\r\n"),
        Invalidated::All => reply.raw(b"$-1\r\n"),
    }
}

/// Checks BCAST prefixes for overlaps, with the new ones and the client's
/// own (Redis's `checkPrefixCollisionsOrReply`): the error text, if any.
pub fn prefix_collision(existing: &BTreeSet<Vec<u8>>, new: &[&[u8]]) -> Option<String> {
    let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    for (i, prefix) in new.iter().enumerate() {
        if let Some(old) = existing.iter().find(|old| overlap(old, prefix)) {
            return Some(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                text(prefix),
                text(old)
            ));
        }
        if let Some(other) = new[i + 1..].iter().find(|other| overlap(prefix, other)) {
            return Some(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                text(prefix),
                text(other)
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_tells_each_reader_once() {
        let mut tracking = Tracking::default();
        tracking.remember(b"k", (1, 10));
        tracking.remember(b"k", (1, 10));
        tracking.remember(b"k", (2, 20));
        assert_eq!(tracking.total_items(), 2);
        assert_eq!(tracking.key_changed(b"k", 0, true), vec![(1, 10), (2, 20)]);
        assert!(tracking.key_changed(b"k", 0, true).is_empty());
        assert_eq!((tracking.total_keys(), tracking.total_items()), (0, 0));
    }

    #[test]
    fn broadcasts_batch_keys_per_prefix_in_byte_order() {
        let mut tracking = Tracking::default();
        let mut settings = None;
        let options = ClientTracking {
            bcast: true,
            ..Default::default()
        };
        tracking.enable(&mut settings, (1, 10), &options, &[b"a", b"b"]);
        tracking.key_changed(b"a2", 7, true);
        tracking.key_changed(b"a1", 7, true);
        tracking.key_changed(b"c", 7, true);
        let sent = tracking.take_broadcasts();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, vec![(1, 10)]);
        assert_eq!(sent[0].1, vec![(b"a1".to_vec(), 7), (b"a2".to_vec(), 7)]);
        assert!(tracking.take_broadcasts().is_empty());
        tracking.disable(&mut settings, (1, 10));
        assert_eq!((tracking.clients, tracking.total_prefixes()), (0, 0));
    }

    #[test]
    fn overlapping_prefixes_are_named_as_redis_names_them() {
        let existing: BTreeSet<Vec<u8>> = [b"b".to_vec()].into();
        assert_eq!(
            prefix_collision(&existing, &[b"bc"]).unwrap(),
            "ERR Prefix 'bc' overlaps with an existing prefix 'b'. Prefixes for a single client must not overlap."
        );
        assert!(prefix_collision(&BTreeSet::new(), &[b"a", b"ab"])
            .unwrap()
            .contains("another provided prefix 'ab'"));
        assert!(prefix_collision(&existing, &[b"a", b"c"]).is_none());
    }
}
