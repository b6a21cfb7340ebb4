//! Who is subscribed to what: channels, patterns and shard channels, each
//! with its subscribers in subscription order (slab key and client id, the
//! id guarding against a reused slot). The client keeps its own side
//! (`client::Subscriptions`), so either can be found from the other.
//!
//! Publishing encodes a message once per protocol and appends the same
//! bytes to every receiver's output buffer.

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
