//! Streams (Redis's `t_stream.c` data): entries with increasing IDs, each
//! a list of field-value pairs, kept packed in nodes as Redis keeps them
//! in listpacks under a radix tree: a node holds up to
//! `stream-node-max-entries` entries or `stream-node-max-bytes` bytes,
//! its entries' IDs stored as deltas from the node's first, and a deleted
//! entry is flagged in place until its whole node goes.

use super::idmap::IdMap;
use crate::rdb::packed::{lp_element_size, lp_int_size};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// An entry ID: milliseconds and a sequence number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID up, `None` past the last.
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The next ID down, `None` below the first.
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

fn parse_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// An ID as a command argument (`streamGenericParseIDOrReply`): `ms-seq`,
/// or `ms` alone with `missing_seq` as its sequence; `-` and `+` when
/// `strict` is false.
pub fn parse_id(arg: &[u8], missing_seq: u64, strict: bool) -> Option<StreamId> {
    if !strict && arg == b"-" {
        return Some(StreamId::MIN);
    }
    if !strict && arg == b"+" {
        return Some(StreamId::MAX);
    }
    match arg.iter().position(|&b| b == b'-') {
        None => Some(StreamId::new(parse_u64(arg)?, missing_seq)),
        Some(dash) => Some(StreamId::new(
            parse_u64(&arg[..dash])?,
            parse_u64(&arg[dash + 1..])?,
        )),
    }
}

/// Node limits (`stream-node-max-bytes`, `stream-node-max-entries`; 0 is
/// no limit).
#[derive(Clone, Copy, Debug)]
pub struct NodeLimits {
    pub max_bytes: usize,
    pub max_entries: usize,
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn get_varint(buf: &[u8], at: &mut usize) -> u64 {
    let mut n = 0u64;
    let mut shift = 0;
    while let Some(&b) = buf.get(*at) {
        *at += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    n
}

/// Strings packed back to back, each after its length as a varint.
struct Strings<'a> {
    buf: &'a [u8],
    at: usize,
    left: usize,
}

impl<'a> Iterator for Strings<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let len = get_varint(self.buf, &mut self.at) as usize;
        let start = self.at.min(self.buf.len());
        self.at = (start + len).min(self.buf.len());
        Some(&self.buf[start..self.at])
    }
}

fn put_string(buf: &mut Vec<u8>, part: &[u8]) {
    put_varint(buf, part.len() as u64);
    buf.extend_from_slice(part);
}

/// An entry's flags, as Redis's listpack entries carry them.
const DELETED: u8 = 1;
/// The entry has the master entry's fields: only its values are kept.
const SAME_FIELDS: u8 = 2;
/// A sequence this large is written again in full after the flags.
const SEQ_ESCAPE: u64 = (1 << 62) - 1;

/// A node: the master entry's field names, then its entries packed back
/// to back: the ID (its sequence with the flags in its low bits, its
/// milliseconds as a delta from the node's first), then
/// the values alone when the fields are the master entry's, else the
/// field count and each field and value, every string after its length.
#[derive(Clone, Debug, Default)]
struct Node {
    first: StreamId,
    /// The master fields, then the entries (one allocation per node).
    buf: Vec<u8>,
    /// How many master fields: the first entry's field names (Redis's
    /// master entry), which later entries with the same fields refer to.
    master_count: usize,
    /// Where the entries start in `buf`, after the master fields.
    entries_at: usize,
    entries: usize,
    live: usize,
    /// The size of Redis's listpack for this node, which decides where
    /// the next node starts.
    lp_bytes: usize,
}

/// One entry as read from a node.
pub struct Entry<'a> {
    pub id: StreamId,
    /// Field, value, field, value, ...
    pub fields: Vec<&'a [u8]>,
}

/// Listpack header and terminator.
const LP_OVERHEAD: usize = 7;

impl Node {
    fn new(first: StreamId, fields: &[&[u8]]) -> Node {
        Node::with_master(first, fields.iter().step_by(2).copied())
    }

    fn with_master<'f>(first: StreamId, master: impl Iterator<Item = &'f [u8]>) -> Node {
        let mut node = Node {
            first,
            ..Node::default()
        };
        // count, deleted, number of fields, the fields, the terminator.
        node.lp_bytes = LP_OVERHEAD + lp_int_size(0) * 3;
        for field in master {
            put_string(&mut node.buf, field);
            node.master_count += 1;
            node.lp_bytes += lp_element_size(field);
        }
        node.lp_bytes += lp_int_size(node.master_count as i64);
        node.entries_at = node.buf.len();
        node
    }

    fn master_fields(&self) -> Strings<'_> {
        Strings {
            buf: &self.buf[..self.entries_at.min(self.buf.len())],
            at: 0,
            left: self.master_count,
        }
    }

    /// Whether an entry's fields are the master entry's.
    fn same_fields(&self, fields: &[&[u8]]) -> bool {
        fields.len() == self.master_count * 2
            && fields
                .iter()
                .step_by(2)
                .zip(self.master_fields())
                .all(|(a, b)| *a == b)
    }

    /// The listpack elements of one entry: flags, ID deltas, then the
    /// values (or the field count and the pairs), then their count.
    fn lp_entry_size(&self, id: StreamId, fields: &[&[u8]], same: bool) -> usize {
        let mut size = lp_int_size(if same { 2 } else { 0 })
            + lp_int_size(id.ms.wrapping_sub(self.first.ms) as i64)
            + lp_int_size(id.seq.wrapping_sub(self.first.seq) as i64);
        let parts = if same {
            size += fields
                .iter()
                .skip(1)
                .step_by(2)
                .map(|v| lp_element_size(v))
                .sum::<usize>();
            fields.len() / 2
        } else {
            size += lp_int_size((fields.len() / 2) as i64);
            size += fields.iter().map(|f| lp_element_size(f)).sum::<usize>();
            fields.len() + 1
        };
        size + lp_int_size((parts + 3) as i64)
    }

    /// Appends an entry; where it starts in `buf`.
    fn push(&mut self, id: StreamId, fields: &[&[u8]]) -> usize {
        let same = self.same_fields(fields);
        self.lp_bytes += self.lp_entry_size(id, fields, same);
        let at = self.buf.len();
        // The flags ride in the low bits of the sequence's varint, whose
        // first byte they stay in.
        let flags = if same { SAME_FIELDS } else { 0 };
        put_varint(
            &mut self.buf,
            id.seq.min(SEQ_ESCAPE) << 2 | u64::from(flags),
        );
        if id.seq >= SEQ_ESCAPE {
            put_varint(&mut self.buf, id.seq);
        }
        put_varint(&mut self.buf, id.ms.wrapping_sub(self.first.ms));
        if same {
            for value in fields.iter().skip(1).step_by(2) {
                put_string(&mut self.buf, value);
            }
        } else {
            put_varint(&mut self.buf, fields.len() as u64);
            for part in fields {
                put_string(&mut self.buf, part);
            }
        }
        self.entries += 1;
        self.live += 1;
        at
    }

    /// The flags and ID of the entry at `at`, and where its strings
    /// start.
    fn header(&self, at: usize) -> (u8, StreamId, usize) {
        let mut p = at;
        let head = get_varint(&self.buf, &mut p);
        let flags = (head & 3) as u8;
        let seq = match head >> 2 {
            SEQ_ESCAPE => get_varint(&self.buf, &mut p),
            seq => seq,
        };
        let ms = self.first.ms.wrapping_add(get_varint(&self.buf, &mut p));
        (flags, StreamId::new(ms, seq), p)
    }

    /// How many strings follow an entry's header at `p` (moved past the
    /// count when there is one).
    fn string_count(&self, flags: u8, p: &mut usize) -> usize {
        if flags & SAME_FIELDS != 0 {
            self.master_count
        } else {
            get_varint(&self.buf, p) as usize
        }
    }

    /// The entry at `at`, without its strings: flags, ID, where the next
    /// entry starts.
    fn skim(&self, at: usize) -> (u8, StreamId, usize) {
        let (flags, id, mut p) = self.header(at);
        for _ in 0..self.string_count(flags, &mut p) {
            let len = get_varint(&self.buf, &mut p) as usize;
            p = (p + len).min(self.buf.len());
        }
        (flags, id, p)
    }

    /// Reads the entry at `at`: its flags, the entry, where the next
    /// starts.
    fn read(&self, at: usize) -> (u8, Entry<'_>, usize) {
        let (flags, id, mut p) = self.header(at);
        let n = self.string_count(flags, &mut p);
        let mut strings = Strings {
            buf: &self.buf,
            at: p,
            left: n,
        };
        let fields = if flags & SAME_FIELDS != 0 {
            let mut fields = Vec::with_capacity(n * 2);
            for field in self.master_fields() {
                fields.push(field);
                fields.push(strings.next().unwrap_or_default());
            }
            fields
        } else {
            strings.by_ref().collect()
        };
        (flags, Entry { id, fields }, strings.at)
    }

    /// Where each live entry with an ID in `start..=end` begins, in ID
    /// order.
    fn live_positions(&self, start: StreamId, end: StreamId) -> Vec<usize> {
        let mut out = Vec::new();
        let mut at = self.entries_at;
        while at < self.buf.len() {
            let (flags, id, next) = self.skim(at);
            if id > end {
                break;
            }
            if flags & DELETED == 0 && id >= start {
                out.push(at);
            }
            at = next;
        }
        out
    }

    /// The last live entry's ID.
    fn last_live_id(&self) -> Option<StreamId> {
        let last = *self.live_positions(StreamId::MIN, StreamId::MAX).last()?;
        Some(self.header(last).1)
    }

    /// Flags the entry `id` deleted; whether it was live here.
    fn delete(&mut self, id: StreamId) -> bool {
        let mut at = self.entries_at;
        while at < self.buf.len() {
            let (flags, entry_id, next) = self.skim(at);
            if entry_id == id {
                if flags & DELETED != 0 {
                    return false;
                }
                self.buf[at] |= DELETED;
                self.live -= 1;
                return true;
            }
            if entry_id > id {
                return false;
            }
            at = next;
        }
        false
    }
}

/// How XADD and XTRIM trim.
#[derive(Clone, Copy, Debug)]
pub enum Trim {
    MaxLen(usize),
    MinId(StreamId),
}

/// A stream's entries and the IDs it remembers.
#[derive(Clone, Debug, Default)]
pub struct Stream {
    nodes: BTreeMap<StreamId, Node>,
    len: usize,
    pub last_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    /// Consumer groups by name.
    pub groups: BTreeMap<Vec<u8>, Group>,
}

/// A consumer group: how far it has read, and what it delivered and
/// was not acknowledged yet (the pending entries list).
#[derive(Clone, Debug, Default)]
pub struct Group {
    pub last_id: StreamId,
    /// Entries the group has read, when known (XINFO's `entries-read`).
    pub entries_read: Option<u64>,
    pub pending: IdMap<Pending>,
    pub consumers: BTreeMap<Vec<u8>, Consumer>,
}

/// A delivered entry not acknowledged: to whom, when, how many times.
#[derive(Clone, Debug)]
pub struct Pending {
    /// The consumer's name, shared with its entry in the group (empty
    /// for an entry an RDB file left without one).
    pub consumer: Arc<[u8]>,
    pub delivered_ms: i64,
    pub deliveries: u64,
}

#[derive(Clone, Debug)]
pub struct Consumer {
    pub name: Arc<[u8]>,
    pub seen_ms: i64,
    pub pending: IdMap<()>,
}

impl Consumer {
    pub fn new(name: &[u8]) -> Consumer {
        Consumer {
            name: Arc::from(name),
            seen_ms: 0,
            pending: IdMap::default(),
        }
    }
}

impl Group {
    /// The consumer, created if new (`streamLookupConsumer` with create);
    /// whether it was created.
    pub fn consumer(&mut self, name: &[u8], now_ms: i64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        let consumer = self.consumer_entry(name);
        consumer.seen_ms = now_ms;
        (consumer, created)
    }

    /// The consumer, created if new, its seen time left alone.
    pub fn consumer_entry(&mut self, name: &[u8]) -> &mut Consumer {
        self.consumers
            .entry(name.to_vec())
            .or_insert_with(|| Consumer::new(name))
    }

    /// Acknowledges an entry; whether it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(pending) = self.pending.remove(&id) else {
            return false;
        };
        if let Some(consumer) = self.consumers.get_mut(&*pending.consumer) {
            consumer.pending.remove(&id);
        }
        true
    }

    /// Makes `consumer` the owner of the pending entry `id`, delivered at
    /// `delivered_ms`, `deliveries` times (None: as many as before, none
    /// if new): taken from its previous owner's list, put on the new
    /// one's.
    pub fn assign(
        &mut self,
        id: StreamId,
        consumer: &[u8],
        delivered_ms: i64,
        deliveries: Option<u64>,
    ) {
        let previous = self.pending.get(&id);
        let deliveries = deliveries.unwrap_or_else(|| previous.map_or(0, |p| p.deliveries));
        if let Some(previous) = previous.map(|p| p.consumer.clone()) {
            if *previous != *consumer {
                if let Some(old) = self.consumers.get_mut(&*previous) {
                    old.pending.remove(&id);
                }
            }
        }
        let owner = self.consumer_entry(consumer);
        owner.pending.insert(id, ());
        let pending = Pending {
            consumer: owner.name.clone(),
            delivered_ms,
            deliveries,
        };
        self.pending.insert(id, pending);
    }

    /// Records a delivery of `id` to `consumer` (new, or moving an entry
    /// already pending to this consumer).
    pub fn deliver(&mut self, id: StreamId, consumer: &[u8], now_ms: i64) {
        self.assign(id, consumer, now_ms, Some(1));
    }
}

impl Stream {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held (MEMORY USAGE).
    pub fn memory_usage(&self) -> usize {
        self.nodes
            .values()
            .map(|n| n.buf.capacity() + std::mem::size_of::<Node>() + 16)
            .sum()
    }

    /// Nodes (XINFO's radix-tree-keys).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Appends an entry whose ID is above the last (the caller checks).
    /// A new node starts where Redis would start a new listpack: when
    /// the entry's strings would take the node past `max_bytes`, or it
    /// holds `max_entries` entries, deleted ones included.
    pub fn append(&mut self, id: StreamId, fields: &[&[u8]], limits: NodeLimits) {
        let max_bytes = match limits.max_bytes {
            0 => 1 << 30,
            n => n.min(1 << 30),
        };
        let strings: usize = fields.iter().map(|f| f.len()).sum();
        let fits = self.nodes.values().next_back().is_some_and(|node| {
            node.lp_bytes + strings < max_bytes
                && (limits.max_entries == 0 || node.entries < limits.max_entries)
        });
        if !fits {
            // The last node is full: it will not grow again, and the next
            // will likely take as much room.
            let mut room = 0;
            if let Some(closed) = self.nodes.values_mut().next_back() {
                // Shrinking by a few bytes would only leave a hole.
                if closed.buf.capacity() - closed.buf.len() > closed.buf.len() / 8 {
                    closed.buf.shrink_to_fit();
                }
                room = closed.buf.len();
            }
            let mut node = Node::new(id, fields);
            node.buf.reserve_exact(room);
            self.nodes.insert(id, node);
        }
        if let Some(node) = self.nodes.values_mut().next_back() {
            node.push(id, fields);
        }
        self.len += 1;
        self.last_id = id;
        self.entries_added += 1;
    }

    /// Live entries with IDs in `start..=end`, ascending or descending, at
    /// most `count` (0: all).
    pub fn range(&self, start: StreamId, end: StreamId, count: usize, rev: bool) -> Vec<Entry<'_>> {
        let mut out = Vec::new();
        if start > end {
            return out;
        }
        // The node holding `start` begins at or before it.
        let first_key = self
            .nodes
            .range(..=start)
            .next_back()
            .map_or(start, |(k, _)| *k);
        let nodes = self.nodes.range(first_key..=end);
        let full = |out: &Vec<Entry>| count > 0 && out.len() >= count;
        if rev {
            for (_, node) in nodes.rev() {
                for at in node.live_positions(start, end).into_iter().rev() {
                    out.push(node.read(at).1);
                    if full(&out) {
                        return out;
                    }
                }
            }
        } else {
            for (_, node) in nodes {
                for at in node.live_positions(start, end) {
                    out.push(node.read(at).1);
                    if full(&out) {
                        return out;
                    }
                }
            }
        }
        out
    }

    /// The first live entry's ID.
    pub fn first_id(&self) -> Option<StreamId> {
        self.range(StreamId::MIN, StreamId::MAX, 1, false)
            .first()
            .map(|e| e.id)
    }

    /// Trims from the oldest end (`streamTrim`): to at most `maxlen`
    /// entries, or to none below `minid`. Whole nodes go first; with
    /// `approx` only whole nodes do, at most `limit` entries (0: no
    /// limit). How many entries went.
    pub fn trim(&mut self, strategy: Trim, approx: bool, limit: usize) -> usize {
        let mut deleted = 0;
        while let Some((&key, node)) = self.nodes.iter_mut().next() {
            if let Trim::MaxLen(maxlen) = strategy {
                if self.len <= maxlen {
                    break;
                }
            }
            let entries = node.live;
            if limit > 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match strategy {
                Trim::MaxLen(maxlen) => self.len - entries >= maxlen,
                Trim::MinId(min) => node.last_live_id().is_some_and(|last| last < min),
            };
            if remove_node {
                self.nodes.remove(&key);
                self.len -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            // Flag entries deleted inside this node, oldest first.
            let mut at = node.entries_at;
            let mut removed = 0;
            while at < node.buf.len() {
                let (flags, id, next) = node.skim(at);
                let stop = match strategy {
                    Trim::MaxLen(maxlen) => self.len - removed <= maxlen,
                    Trim::MinId(min) => id >= min,
                };
                if stop {
                    break;
                }
                if flags & DELETED == 0 {
                    node.buf[at] |= DELETED;
                    removed += 1;
                }
                at = next;
            }
            node.live -= removed;
            self.len -= removed;
            deleted += removed;
            if node.live == 0 {
                self.nodes.remove(&key);
            }
            break;
        }
        deleted
    }

    /// Deletes an entry; whether it was there.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&key, node)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        if !node.delete(id) {
            return false;
        }
        if node.live == 0 {
            self.nodes.remove(&key);
        }
        self.len -= 1;
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        true
    }
}

/// One node as the RDB keeps it: its 16-byte key (the first ID, big
/// endian) and Redis's listpack of its entries.
pub struct RdbNode {
    pub key: [u8; 16],
    pub listpack: Vec<u8>,
}

impl Stream {
    /// The nodes in Redis's listpack format (`streamAppendItem`'s layout):
    /// the master entry (live count, deleted count, the master fields),
    /// then each entry's flags, ID deltas, fields or values, and count.
    pub fn rdb_nodes(&self) -> Vec<RdbNode> {
        use crate::rdb::packed::ListpackWriter;
        self.nodes
            .values()
            .map(|node| {
                let mut lp = ListpackWriter::new();
                lp.push_int(node.live as i64);
                lp.push_int((node.entries - node.live) as i64);
                lp.push_int(node.master_count as i64);
                for field in node.master_fields() {
                    lp.push(field);
                }
                lp.push_int(0);
                let mut at = node.entries_at;
                while at < node.buf.len() {
                    let (flags, entry, next) = node.read(at);
                    let same = flags & SAME_FIELDS != 0;
                    lp.push_int(i64::from(flags));
                    lp.push_int(entry.id.ms.wrapping_sub(node.first.ms) as i64);
                    lp.push_int(entry.id.seq.wrapping_sub(node.first.seq) as i64);
                    let pairs = entry.fields.len() / 2;
                    if same {
                        for value in entry.fields.iter().skip(1).step_by(2) {
                            lp.push(value);
                        }
                        lp.push_int((pairs + 3) as i64);
                    } else {
                        lp.push_int(pairs as i64);
                        for part in &entry.fields {
                            lp.push(part);
                        }
                        lp.push_int((2 * pairs + 4) as i64);
                    }
                    at = next;
                }
                let mut key = [0u8; 16];
                key[..8].copy_from_slice(&node.first.ms.to_be_bytes());
                key[8..].copy_from_slice(&node.first.seq.to_be_bytes());
                RdbNode {
                    key,
                    listpack: lp.finish(),
                }
            })
            .collect()
    }

    /// Adds a node read from an RDB: its key and its listpack's elements
    /// (as strings). `None` if they do not form a stream node.
    pub fn load_node(&mut self, key: &[u8], elements: Vec<Vec<u8>>) -> Option<()> {
        let key: [u8; 16] = key.try_into().ok()?;
        let first = StreamId::new(
            u64::from_be_bytes(key[..8].try_into().ok()?),
            u64::from_be_bytes(key[8..].try_into().ok()?),
        );
        let int = |e: &Vec<u8>| crate::protocol::parse_i64(e);
        let mut items = elements.into_iter();
        let next_int = |items: &mut std::vec::IntoIter<Vec<u8>>| int(&items.next()?);
        let live = next_int(&mut items)?;
        let deleted = next_int(&mut items)?;
        let master_count = usize::try_from(next_int(&mut items)?).ok()?;
        let mut master_fields = Vec::with_capacity(master_count.min(1024));
        for _ in 0..master_count {
            master_fields.push(items.next()?);
        }
        if next_int(&mut items)? != 0 {
            return None;
        }
        let mut node = Node::with_master(first, master_fields.iter().map(Vec::as_slice));
        // Exactly the entries the header counts, each closed by its own
        // element count (`streamValidateListpackIntegrity`).
        for _ in 0..live.checked_add(deleted)? {
            let flags = next_int(&mut items)?;
            let ms = first.ms.wrapping_add(next_int(&mut items)? as u64);
            let seq = first.seq.wrapping_add(next_int(&mut items)? as u64);
            let id = StreamId::new(ms, seq);
            let mut fields: Vec<Vec<u8>> = Vec::new();
            let elements = if flags & 2 != 0 {
                for field in &master_fields {
                    fields.push(field.clone());
                    fields.push(items.next()?);
                }
                master_count + 3
            } else {
                let pairs = usize::try_from(next_int(&mut items)?).ok()?;
                for _ in 0..pairs.checked_mul(2)? {
                    fields.push(items.next()?);
                }
                pairs * 2 + 4
            };
            if usize::try_from(next_int(&mut items)?).ok()? != elements {
                return None;
            }
            let refs: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
            let at = node.push(id, &refs);
            if flags & 1 != 0 {
                node.buf[at] |= DELETED;
                node.live -= 1;
            }
        }
        // The master entry's live count is not checked against the
        // entries' flags, as Redis does not: the flags are what counts.
        if items.next().is_some() || self.nodes.contains_key(&first) {
            return None;
        }
        self.len += node.live;
        node.buf.shrink_to_fit();
        if node.live > 0 {
            self.nodes.insert(first, node);
        }
        Some(())
    }

    /// How many entries were ever added up to `id`, when that can be
    /// told (`streamEstimateDistanceFromFirstEverEntry`).
    pub fn entries_before(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.len == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        let first = self.first_id().unwrap_or_default();
        if self.max_deleted_id == StreamId::MIN || self.max_deleted_id < first {
            if id < first {
                return Some(self.entries_added - self.len as u64);
            }
            if id == first {
                return Some(self.entries_added - self.len as u64 + 1);
            }
        }
        None
    }

    /// Whether a deleted entry could lie after `id` (Redis's
    /// `streamRangeHasTombstones` from `id` on).
    pub fn tombstones_after(&self, id: StreamId) -> bool {
        if self.len == 0 || self.max_deleted_id == StreamId::MIN {
            return false;
        }
        if self
            .first_id()
            .is_some_and(|first| first > self.max_deleted_id)
        {
            return false;
        }
        id <= self.max_deleted_id
    }

    /// The group's lag: entries added it has not read, when that can be
    /// told (`streamReplyWithCGLag`).
    pub fn lag(&self, group: &Group) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if let Some(read) = group.entries_read {
            if !self.tombstones_after(group.last_id) {
                return Some(self.entries_added.saturating_sub(read));
            }
        }
        self.entries_before(group.last_id)
            .map(|read| self.entries_added.saturating_sub(read))
    }

    /// Whether an entry exists.
    pub fn contains(&self, id: StreamId) -> bool {
        !self.range(id, id, 1, false).is_empty()
    }

    /// Nodes of Redis's radix tree over the node keys (XINFO's
    /// `radix-tree-nodes`): one per branching point, compressed chain and
    /// leaf of the 16-byte big-endian keys.
    pub fn rax_nodes(&self) -> usize {
        fn count(keys: &[[u8; 16]], depth: usize) -> usize {
            if depth == 16 {
                return 1;
            }
            let (first, last) = (keys[0], keys[keys.len() - 1]);
            let common = (depth..16).take_while(|&i| first[i] == last[i]).count();
            if common > 0 {
                return 1 + count(keys, depth + common);
            }
            let mut total = 1;
            let mut start = 0;
            while start < keys.len() {
                let byte = keys[start][depth];
                let end = start
                    + keys[start..]
                        .iter()
                        .take_while(|k| k[depth] == byte)
                        .count();
                total += count(&keys[start..end], depth + 1);
                start = end;
            }
            total
        }
        let keys: Vec<[u8; 16]> = self
            .nodes
            .keys()
            .map(|id| {
                let mut key = [0u8; 16];
                key[..8].copy_from_slice(&id.ms.to_be_bytes());
                key[8..].copy_from_slice(&id.seq.to_be_bytes());
                key
            })
            .collect();
        if keys.is_empty() {
            1
        } else {
            count(&keys, 0)
        }
    }

    /// The stream's metadata as the RDB holds it.
    pub fn set_loaded_metadata(
        &mut self,
        last_id: StreamId,
        max_deleted_id: StreamId,
        entries_added: u64,
    ) {
        self.last_id = last_id;
        self.max_deleted_id = max_deleted_id;
        self.entries_added = entries_added;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_as_redis() {
        assert_eq!(parse_id(b"1-2", 0, true), Some(StreamId::new(1, 2)));
        assert_eq!(parse_id(b"5", 7, true), Some(StreamId::new(5, 7)));
        assert_eq!(parse_id(b"-", 0, false), Some(StreamId::MIN));
        assert_eq!(parse_id(b"+", 0, false), Some(StreamId::MAX));
        assert_eq!(parse_id(b"-", 0, true), None);
        assert_eq!(parse_id(b"1-x", 0, true), None);
        assert_eq!(parse_id(b"", 0, true), None);
        assert_eq!(
            parse_id(b"18446744073709551615-18446744073709551615", 0, true),
            Some(StreamId::MAX)
        );
    }

    #[test]
    fn entries_range_and_delete_across_nodes() {
        let limits = NodeLimits {
            max_bytes: 4096,
            max_entries: 3,
        };
        let mut s = Stream::default();
        for i in 1..=10u64 {
            let v = i.to_string();
            s.append(StreamId::new(i, 0), &[b"f", v.as_bytes()], limits);
        }
        assert_eq!(s.len(), 10);
        let ids = |v: Vec<Entry>| v.iter().map(|e| e.id.ms).collect::<Vec<_>>();
        assert_eq!(
            ids(s.range(StreamId::new(3, 0), StreamId::new(7, 0), 0, false)),
            [3, 4, 5, 6, 7]
        );
        assert_eq!(ids(s.range(StreamId::MIN, StreamId::MAX, 2, true)), [10, 9]);
        assert!(s.delete(StreamId::new(4, 0)));
        assert!(!s.delete(StreamId::new(4, 0)));
        for i in [5, 6] {
            assert!(s.delete(StreamId::new(i, 0)));
        }
        assert_eq!(
            ids(s.range(StreamId::MIN, StreamId::MAX, 0, false)),
            [1, 2, 3, 7, 8, 9, 10]
        );
        assert_eq!(s.max_deleted_id, StreamId::new(6, 0));
        assert_eq!(s.first_id(), Some(StreamId::new(1, 0)));
    }

    #[test]
    fn large_sequences_and_changing_fields_read_back() {
        let limits = NodeLimits {
            max_bytes: 4096,
            max_entries: 100,
        };
        let mut s = Stream::default();
        let seqs = [
            0,
            1,
            63,
            64,
            SEQ_ESCAPE - 1,
            SEQ_ESCAPE,
            u64::MAX - 1,
            u64::MAX,
        ];
        for (i, &seq) in seqs.iter().enumerate() {
            let field: &[u8] = if i % 3 == 0 { b"other" } else { b"f" };
            s.append(StreamId::new(7, seq), &[field, b"v", b"g", b""], limits);
        }
        let all = s.range(StreamId::MIN, StreamId::MAX, 0, false);
        let got: Vec<u64> = all.iter().map(|e| e.id.seq).collect();
        assert_eq!(got, seqs);
        for (i, entry) in all.iter().enumerate() {
            let field: &[u8] = if i % 3 == 0 { b"other" } else { b"f" };
            assert_eq!(entry.fields, [field, b"v", b"g", b""]);
        }
        assert!(s.delete(StreamId::new(7, SEQ_ESCAPE)));
        assert!(s.delete(StreamId::new(7, u64::MAX)));
        assert!(!s.contains(StreamId::new(7, SEQ_ESCAPE)));
        assert!(s.contains(StreamId::new(7, u64::MAX - 1)));
        assert_eq!(s.len(), seqs.len() - 2);
    }
}
