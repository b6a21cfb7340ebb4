//! Who is subscribed to what: channels, patterns and shard channels, each
//! with its subscribers in subscription order (slab key and client id, the
//! id guarding against a reused slot). The client keeps its own side
//! (`client::Subscriptions`), so either can be found from the other.
//!
//! Publishing encodes a message once per protocol and appends the same
//! bytes to every receiver's output buffer.

use crate::client::Client;
use crate::glob::glob_match;
use crate::protocol::Reply;
use slab::Slab;
use std::collections::HashMap;

pub type Subscriber = (usize, u64);

#[derive(Default)]
pub struct PubSub {
    pub channels: HashMap<Vec<u8>, Vec<Subscriber>>,
    /// Redis keeps patterns in a dict too: publishing visits them in the
    /// table's order.
    pub patterns: HashMap<Vec<u8>, Vec<Subscriber>>,
    pub shard_channels: HashMap<Vec<u8>, Vec<Subscriber>>,
}

/// Which namespace a subscription lives in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl PubSub {
    fn map(&mut self, kind: Kind) -> &mut HashMap<Vec<u8>, Vec<Subscriber>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }

    /// Whether `who` is subscribed to `name` (a hash lookup, then the
    /// channel's own subscribers).
    pub fn has(&self, kind: Kind, name: &[u8], who: Subscriber) -> bool {
        let map = match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        };
        map.get(name).is_some_and(|list| list.contains(&who))
    }

    pub fn add(&mut self, kind: Kind, name: &[u8], who: Subscriber) {
        let list = self.map(kind).entry(name.to_vec()).or_default();
        if !list.contains(&who) {
            list.push(who);
        }
    }

    pub fn remove(&mut self, kind: Kind, name: &[u8], who: Subscriber) {
        let map = self.map(kind);
        if let Some(list) = map.get_mut(name) {
            list.retain(|s| *s != who);
            if list.is_empty() {
                map.remove(name);
            }
        }
    }
}

/// Where message frames go: every client's reply buffer, the running
/// client's being on loan to its command; clients given output this way
/// are noted in `woken` so the loop schedules their writes.
pub struct Outboxes<'a> {
    pub clients: &'a mut Slab<Client>,
    pub running: Option<(usize, &'a mut Reply)>,
    pub woken: &'a mut Vec<usize>,
}

impl Outboxes<'_> {
    /// The reply buffer of a live client, noted for a write; `None` if the
    /// client is gone.
    pub fn reply_of(&mut self, (key, id): Subscriber) -> Option<&mut Reply> {
        let live = self.clients.get(key).is_some_and(|c| c.id == id);
        match &mut self.running {
            Some((me, reply)) if *me == key && live => Some(&mut **reply),
            _ if live => {
                self.woken.push(key);
                self.clients.get_mut(key).map(|c| &mut c.reply)
            }
            _ => None,
        }
    }

    /// Whether a live client speaks RESP3; `None` if it is gone.
    pub fn is_resp3(&self, (key, id): Subscriber) -> Option<bool> {
        match &self.running {
            Some((me, reply)) if *me == key => Some(reply.is_resp3()),
            _ => self
                .clients
                .get(key)
                .filter(|c| c.id == id)
                .map(|c| c.reply.is_resp3()),
        }
    }

    /// Appends a frame to a subscriber, encoded at most once per protocol
    /// across the subscribers of one message; false if the subscriber is
    /// gone.
    fn deliver(
        &mut self,
        who: Subscriber,
        frames: &mut [Option<Vec<u8>>; 2],
        make: &dyn Fn(bool) -> Vec<u8>,
    ) -> bool {
        let Some(reply) = self.reply_of(who) else {
            return false;
        };
        let resp3 = reply.is_resp3();
        let bytes = frames[usize::from(resp3)].get_or_insert_with(|| make(resp3));
        reply.raw(bytes);
        true
    }
}

impl PubSub {
    /// Sends `payload` to the channel's subscribers, then to those of each
    /// matching pattern; the number of deliveries (PUBLISH's reply).
    pub fn publish(&self, out: &mut Outboxes, channel: &[u8], payload: &[u8]) -> i64 {
        let mut delivered = 0i64;
        if let Some(receivers) = self.channels.get(channel) {
            let mut frames = [None, None];
            let make = |resp3: bool| frame(resp3, b"message", None, channel, payload);
            for &who in receivers {
                delivered += i64::from(out.deliver(who, &mut frames, &make));
            }
        }
        for (pattern, receivers) in &self.patterns {
            if !glob_match(pattern, channel, false) {
                continue;
            }
            let mut frames = [None, None];
            let make = |resp3: bool| frame(resp3, b"pmessage", Some(pattern), channel, payload);
            for &who in receivers {
                delivered += i64::from(out.deliver(who, &mut frames, &make));
            }
        }
        delivered
    }

    /// Sends `payload` to a shard channel's subscribers (SPUBLISH).
    pub fn spublish(&self, out: &mut Outboxes, channel: &[u8], payload: &[u8]) -> i64 {
        let Some(receivers) = self.shard_channels.get(channel) else {
            return 0;
        };
        let mut frames = [None, None];
        let make = |resp3: bool| frame(resp3, b"smessage", None, channel, payload);
        receivers
            .iter()
            .map(|&who| i64::from(out.deliver(who, &mut frames, &make)))
            .sum()
    }
}

/// A message frame as Redis sends it: `message`/`smessage` with channel
/// and payload, or `pmessage` with the pattern first; `>` in RESP3.
pub fn frame(
    resp3: bool,
    kind: &[u8],
    pattern: Option<&[u8]>,
    channel: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let mut reply = crate::protocol::Reply::new();
    reply.set_resp3(resp3);
    reply.push(if pattern.is_some() { 4 } else { 3 });
    reply.bulk(kind);
    if let Some(pattern) = pattern {
        reply.bulk(pattern);
    }
    reply.bulk(channel);
    reply.bulk(payload);
    reply.as_bytes().to_vec()
}
