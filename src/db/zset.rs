//! Sorted set values, ordered by (score, member). Small ones are a sorted
//! vector (Redis's listpack, `zset-max-listpack-entries/value`); big ones
//! are a member → score `Dict` plus an order-statistic treap, so rank,
//! range and update are O(log n) (Redis uses a skiplist with spans for the
//! same). Both answer the same questions, so commands never look inside.

use super::bytes::CompactBytes;
use super::dict::Dict;
use std::cmp::Ordering;

/// The total order of a sorted set: by score, then by member bytes.
pub fn order(a: (f64, &[u8]), b: (f64, &[u8])) -> Ordering {
    a.0.partial_cmp(&b.0)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.1.cmp(b.1))
}

pub enum ZSetValue {
    Small(Vec<(f64, CompactBytes)>),
    Big(Box<BigZSet>),
}

pub struct BigZSet {
    scores: Dict<f64>,
    tree: OrderTree,
}

#[derive(Clone, Copy)]
pub struct ZSetLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue::Small(Vec::new())
    }
}

impl ZSetValue {
    pub fn table_stats(&self) -> Option<String> {
        match self {
            ZSetValue::Big(big) => Some(big.scores.stats()),
            ZSetValue::Small(_) => None,
        }
    }
}

impl ZSetValue {
    pub fn len(&self) -> usize {
        match self {
            ZSetValue::Small(items) => items.len(),
            ZSetValue::Big(big) => big.scores.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ZSetValue::Small(_) => "listpack",
            ZSetValue::Big(_) => "skiplist",
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSetValue::Small(items) => items.iter().find(|(_, m)| &**m == member).map(|(s, _)| *s),
            ZSetValue::Big(big) => big.scores.get(member).copied(),
        }
    }

    /// Sets `member`'s score; true if the member is new.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: ZSetLimits) -> bool {
        let existed = self.remove(member);
        if let ZSetValue::Small(items) = self {
            if items.len() >= limits.max_entries || member.len() > limits.max_value {
                self.convert();
            } else {
                let at = items
                    .partition_point(|(s, m)| order((*s, m), (score, member)) == Ordering::Less);
                items.insert(at, (score, CompactBytes::new(member)));
                return !existed;
            }
        }
        if let ZSetValue::Big(big) = self {
            big.scores.insert(member, score);
            big.tree.insert(score, CompactBytes::new(member));
        }
        !existed
    }

    fn convert(&mut self) {
        if let ZSetValue::Small(items) = self {
            let mut big = BigZSet {
                scores: Dict::new(),
                tree: OrderTree::default(),
            };
            for (score, member) in items.drain(..) {
                big.scores.insert(&member, score);
                big.tree.insert(score, member);
            }
            *self = ZSetValue::Big(Box::new(big));
        }
    }

    /// Removes `member`; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSetValue::Small(items) => match items.iter().position(|(_, m)| &**m == member) {
                Some(i) => {
                    items.remove(i);
                    true
                }
                None => false,
            },
            ZSetValue::Big(big) => match big.scores.remove(member) {
                Some((_, score)) => {
                    big.tree.remove(score, member);
                    true
                }
                None => false,
            },
        }
    }

    /// Number of elements before the first one for which `before` is false
    /// (`before` must hold for a prefix of the order).
    pub fn count_before(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSetValue::Small(items) => items.partition_point(|(s, m)| before(*s, m)),
            ZSetValue::Big(big) => big.tree.count_before(before),
        }
    }

    /// 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.count_before(|s, m| order((s, m), (score, member)) == Ordering::Less))
    }

    /// The element at rank `i` (ascending).
    pub fn at(&self, i: usize) -> Option<(&[u8], f64)> {
        match self {
            ZSetValue::Small(items) => items.get(i).map(|(s, m)| (&m[..], *s)),
            ZSetValue::Big(big) => big.tree.select(i),
        }
    }

    /// The elements of ranks `lo..=hi`, ascending, in O(log n + m).
    pub fn range(&self, lo: usize, hi: usize) -> Vec<(&[u8], f64)> {
        match self {
            ZSetValue::Small(items) => items
                .get(lo..=hi.min(items.len().saturating_sub(1)))
                .unwrap_or(&[])
                .iter()
                .map(|(s, m)| (&m[..], *s))
                .collect(),
            ZSetValue::Big(big) => {
                let mut out = Vec::with_capacity(hi.saturating_sub(lo) + 1);
                big.tree
                    .collect(big.tree.root.unwrap_or(NIL), lo, hi, 0, &mut out);
                out
            }
        }
    }

    /// The element at a position of the member table (ZSCAN): for a small
    /// set that is its rank.
    pub fn table_at(&self, i: usize) -> Option<(&[u8], f64)> {
        match self {
            ZSetValue::Small(items) => items.get(i).map(|(s, m)| (&m[..], *s)),
            ZSetValue::Big(big) => big.scores.entry_at(i).map(|(m, s)| (&m[..], *s)),
        }
    }

    pub fn memory_usage(&self) -> usize {
        let entry = std::mem::size_of::<(f64, CompactBytes)>();
        match self {
            ZSetValue::Small(items) => items.capacity() * entry,
            ZSetValue::Big(big) => {
                big.scores.table_bytes() + big.tree.nodes.capacity() * std::mem::size_of::<Node>()
            }
        }
    }
}

const NIL: u32 = u32::MAX;

struct Node {
    score: f64,
    member: CompactBytes,
    left: u32,
    right: u32,
    size: u32,
    priority: u32,
}

/// An order-statistic treap over (score, member), nodes in an arena.
#[derive(Default)]
pub struct OrderTree {
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: Option<u32>,
    seed: u32,
}

impl OrderTree {
    fn size(&self, n: u32) -> u32 {
        if n == NIL {
            0
        } else {
            self.nodes[n as usize].size
        }
    }

    fn fix(&mut self, n: u32) {
        let (l, r) = (self.nodes[n as usize].left, self.nodes[n as usize].right);
        self.nodes[n as usize].size = 1 + self.size(l) + self.size(r);
    }

    fn next_priority(&mut self) -> u32 {
        // xorshift32, seeded per tree from std's random keys: clients choose
        // the members, so they must not be able to predict the priorities
        // and feed a degenerate (deep) tree.
        let mut x = if self.seed == 0 {
            random_seed()
        } else {
            self.seed
        };
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.seed = x;
        x
    }

    /// Splits `t` into nodes ordered before (score, member) and the rest.
    fn split(&mut self, t: u32, score: f64, member: &[u8]) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let node = &self.nodes[t as usize];
        if order((node.score, &node.member), (score, member)) == Ordering::Less {
            let right = node.right;
            let (l, r) = self.split(right, score, member);
            self.nodes[t as usize].right = l;
            self.fix(t);
            (t, r)
        } else {
            let left = node.left;
            let (l, r) = self.split(left, score, member);
            self.nodes[t as usize].left = r;
            self.fix(t);
            (l, t)
        }
    }

    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].priority > self.nodes[b as usize].priority {
            let right = self.nodes[a as usize].right;
            let merged = self.merge(right, b);
            self.nodes[a as usize].right = merged;
            self.fix(a);
            a
        } else {
            let left = self.nodes[b as usize].left;
            let merged = self.merge(a, left);
            self.nodes[b as usize].left = merged;
            self.fix(b);
            b
        }
    }

    pub fn insert(&mut self, score: f64, member: CompactBytes) {
        let priority = self.next_priority();
        let node = Node {
            score,
            member,
            left: NIL,
            right: NIL,
            size: 1,
            priority,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = node;
                id
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        let root = self.root.unwrap_or(NIL);
        let member = self.nodes[id as usize].member.clone();
        let (l, r) = self.split(root, score, &member);
        let left = self.merge(l, id);
        self.root = Some(self.merge(left, r));
    }

    pub fn remove(&mut self, score: f64, member: &[u8]) {
        let root = self.root.unwrap_or(NIL);
        let (l, r) = self.split(root, score, member);
        // The first node of `r` is the one to remove.
        let (first, rest) = self.split_first(r);
        if first != NIL {
            self.nodes[first as usize].member = CompactBytes::new(b"");
            self.free.push(first);
        }
        let merged = self.merge(l, rest);
        self.root = (merged != NIL).then_some(merged);
        if self.root.is_none() {
            self.nodes.clear();
            self.free.clear();
        }
    }

    fn split_first(&mut self, t: u32) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let left = self.nodes[t as usize].left;
        if left == NIL {
            let right = self.nodes[t as usize].right;
            self.nodes[t as usize].right = NIL;
            self.fix(t);
            return (t, right);
        }
        let (first, rest) = self.split_first(left);
        self.nodes[t as usize].left = rest;
        self.fix(t);
        (first, t)
    }

    fn count_before(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut count = 0usize;
        let mut t = self.root.unwrap_or(NIL);
        while t != NIL {
            let node = &self.nodes[t as usize];
            if before(node.score, &node.member) {
                count += self.size(node.left) as usize + 1;
                t = node.right;
            } else {
                t = node.left;
            }
        }
        count
    }

    /// Appends the nodes of ranks `lo..=hi` under `t`, whose leftmost node
    /// has rank `base`, in order.
    fn collect<'a>(
        &'a self,
        t: u32,
        lo: usize,
        hi: usize,
        base: usize,
        out: &mut Vec<(&'a [u8], f64)>,
    ) {
        if t == NIL {
            return;
        }
        let node = &self.nodes[t as usize];
        let rank = base + self.size(node.left) as usize;
        if lo < rank {
            self.collect(node.left, lo, hi, base, out);
        }
        if (lo..=hi).contains(&rank) {
            out.push((&node.member, node.score));
        }
        if hi > rank {
            self.collect(node.right, lo, hi, rank + 1, out);
        }
    }

    fn select(&self, mut i: usize) -> Option<(&[u8], f64)> {
        let mut t = self.root.unwrap_or(NIL);
        while t != NIL {
            let node = &self.nodes[t as usize];
            let left = self.size(node.left) as usize;
            match i.cmp(&left) {
                Ordering::Less => t = node.left,
                Ordering::Equal => return Some((&node.member, node.score)),
                Ordering::Greater => {
                    i -= left + 1;
                    t = node.right;
                }
            }
        }
        None
    }
}

fn random_seed() -> u32 {
    use std::hash::{BuildHasher, RandomState};
    (RandomState::new().hash_one(0u8) as u32) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_big_agree() {
        let small_limits = ZSetLimits {
            max_entries: 1_000_000,
            max_value: 64,
        };
        let big_limits = ZSetLimits {
            max_entries: 0,
            max_value: 64,
        };
        let mut small = ZSetValue::default();
        let mut big = ZSetValue::default();
        let mut x = 12345u64;
        for i in 0..3000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let member = format!("m{}", x % 1000);
            let score = ((x >> 20) % 50) as f64;
            if i % 4 == 3 {
                assert_eq!(
                    small.remove(member.as_bytes()),
                    big.remove(member.as_bytes())
                );
            } else {
                assert_eq!(
                    small.insert(member.as_bytes(), score, small_limits),
                    big.insert(member.as_bytes(), score, big_limits)
                );
            }
        }
        assert!(matches!(big, ZSetValue::Big(_)));
        assert_eq!(small.len(), big.len());
        assert_eq!(small.range(3, 40), big.range(3, 40));
        for i in 0..small.len() {
            assert_eq!(small.at(i), big.at(i));
            let (member, _) = small.at(i).unwrap();
            assert_eq!(big.rank(member), Some(i));
        }
        assert_eq!(
            small.count_before(|s, _| s < 25.0),
            big.count_before(|s, _| s < 25.0)
        );
    }
}
