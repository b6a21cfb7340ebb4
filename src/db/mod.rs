//! The keyspace: `databases` numbered databases, each a dict of keys to
//! values and a dict of keys to their expiry time (unix milliseconds), as
//! Redis keeps `db->dict` and `db->expires`.
//!
//! Expiry is lazy on access (see `cmd::Keys`) and active in the cron:
//! [`Db::active_expire`] walks the keys that have a TTL within a time
//! budget, like Redis's `activeExpireCycle`.

pub mod bytes;
pub mod dict;
pub mod hash;
pub mod set;
pub mod value;
pub mod zset;

pub use bytes::CompactBytes;
pub use dict::Dict;
pub use value::{Value, WrongType};

use std::time::{Duration, Instant};

/// A value and when it was last touched, in unix seconds (the clock
/// behind `OBJECT IDLETIME`, Redis's LRU field).
pub struct Entry {
    pub value: Value,
    pub touched: u32,
}

#[derive(Default)]
pub struct Db {
    dict: Dict<Entry>,
    pub expires: Dict<i64>,
    /// Moving average of sampled TTLs, for `INFO keyspace`.
    pub avg_ttl: i64,
    /// Where the active expire cycle resumes in `expires`.
    expire_cursor: usize,
    /// The current command's time in unix seconds: what writes and
    /// touches record.
    pub clock: u32,
}

/// Redis's `ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP`: keys sampled per round.
const EXPIRE_KEYS_PER_LOOP: usize = 20;

/// Redis's `ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE`: keep going while more than
/// this percentage of a sample had expired.
const EXPIRE_ACCEPTABLE_STALE: usize = 10;

impl Db {
    pub fn len(&self) -> usize {
        self.dict.len()
    }

    /// The value of `key`, expired or not, without touching it.
    pub fn get(&self, key: &[u8]) -> Option<&Value> {
        self.dict.get(key).map(|e| &e.value)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Value> {
        self.dict.get_mut(key).map(|e| &mut e.value)
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.dict.contains_key(key)
    }

    /// The key and value at a dense position (SCAN, RANDOMKEY).
    pub fn entry_at(&self, position: usize) -> Option<(&CompactBytes, &Value)> {
        self.dict.entry_at(position).map(|(k, e)| (k, &e.value))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&CompactBytes, &Value)> {
        self.dict.iter().map(|(k, e)| (k, &e.value))
    }

    /// Records an access to `key` at the current clock.
    pub fn touch(&mut self, key: &[u8]) {
        let clock = self.clock;
        if let Some(entry) = self.dict.get_mut(key) {
            entry.touched = clock;
        }
    }

    /// Seconds since `key` was last touched.
    pub fn idle_secs(&self, key: &[u8]) -> Option<u64> {
        self.dict
            .get(key)
            .map(|e| u64::from(self.clock.saturating_sub(e.touched)))
    }

    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    /// The expiry of `key` in unix ms, if it has one.
    pub fn expire_of(&self, key: &[u8]) -> Option<i64> {
        self.expires.get(key).copied()
    }

    pub fn is_expired(&self, key: &[u8], now_ms: i64) -> bool {
        self.expire_of(key).is_some_and(|when| when <= now_ms)
    }

    /// Removes a key and its expiry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        let (_, entry) = self.dict.remove(key)?;
        if !self.expires.is_empty() {
            self.expires.remove(key);
        }
        Some(entry.value)
    }

    /// Sets a value. Without `keep_ttl` any expiry is dropped, as a plain
    /// SET does in Redis.
    pub fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool) {
        self.dict.insert(
            key,
            Entry {
                value,
                touched: self.clock,
            },
        );
        if !keep_ttl && !self.expires.is_empty() {
            self.expires.remove(key);
        }
    }

    /// Sets the expiry of an existing key.
    pub fn set_expire(&mut self, key: &[u8], when_ms: i64) {
        self.expires.insert(key, when_ms);
    }

    /// Drops the expiry; true if there was one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        self.expires.remove(key).is_some()
    }

    pub fn clear(&mut self) {
        self.dict.clear();
        self.expires.clear();
        self.avg_ttl = 0;
        self.expire_cursor = 0;
    }

    /// Deletes expired keys until `deadline`, sampling the keys with a TTL
    /// in rounds of 20 and stopping when a round finds few expired (Redis's
    /// `activeExpireCycle`). Returns how many keys were deleted and whether
    /// the time budget ran out.
    pub fn active_expire(&mut self, now_ms: i64, deadline: Instant) -> (u64, bool) {
        let mut deleted = 0u64;
        let mut rounds = 0u32;
        loop {
            let len = self.expires.len();
            if len == 0 {
                self.avg_ttl = 0;
                return (deleted, false);
            }
            let mut expired_in_round = 0;
            let mut ttl_sum = 0i64;
            let mut ttl_samples = 0i64;
            let sample = EXPIRE_KEYS_PER_LOOP.min(len);
            for _ in 0..sample {
                // Walk positions downwards: a delete moves the last entry into
                // the hole, and the last one was already looked at.
                if self.expire_cursor == 0 || self.expire_cursor > self.expires.len() {
                    self.expire_cursor = self.expires.len();
                }
                if self.expire_cursor == 0 {
                    break;
                }
                self.expire_cursor -= 1;
                let Some((key, &when)) = self.expires.entry_at(self.expire_cursor) else {
                    break;
                };
                if when <= now_ms {
                    let key = key.clone();
                    self.remove(&key);
                    expired_in_round += 1;
                } else {
                    ttl_sum += when - now_ms;
                    ttl_samples += 1;
                }
            }
            deleted += expired_in_round as u64;
            if ttl_samples > 0 {
                let avg = ttl_sum / ttl_samples;
                self.avg_ttl = if self.avg_ttl == 0 {
                    avg
                } else {
                    self.avg_ttl / 50 * 49 + avg / 50
                };
            }
            rounds += 1;
            // Looking at the clock costs; do it every 16 rounds, as Redis.
            if rounds.is_multiple_of(16) && Instant::now() >= deadline {
                return (deleted, true);
            }
            if expired_in_round * 100 <= sample * EXPIRE_ACCEPTABLE_STALE {
                return (deleted, false);
            }
        }
    }
}

/// The time budget of one slow active-expire cycle: 25% of a cron period
/// (Redis's `ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC`).
pub fn expire_cycle_budget(hz: u32) -> Duration {
    Duration::from_micros(1_000_000 / u64::from(hz.max(1)) * 25 / 100)
}
