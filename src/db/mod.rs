//! The keyspace: `databases` numbered databases, each a dict of keys to
//! values and a dict of keys to their expiry time (unix milliseconds), as
//! Redis keeps `db->dict` and `db->expires`.
//!
//! Expiry is lazy on access (see `cmd::Keys`) and active in the cron:
//! [`Db::active_expire`] walks the keys that have a TTL within a time
//! budget, like Redis's `activeExpireCycle`.

pub mod bytes;
pub mod chunked;
pub mod dict;
pub mod digest;
pub mod geohash;
pub mod hash;
pub mod hll;
pub mod idmap;
pub mod list;
pub mod set;
pub mod siphash;
pub mod stream;
pub mod value;
pub mod zset;

pub use bytes::CompactBytes;
pub use dict::Dict;
pub use value::{Value, WrongType};

use std::cell::Cell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

thread_local! {
    /// Changes to the keyspace since the process started (Redis's
    /// `server.dirty`): save points and `rdb_changes_since_last_save`
    /// count from it, and a command that moved it is written to the AOF
    /// and the replication stream. Counted as Redis counts: whole-key
    /// changes (`Db::set`, `remove`, `set_expire`...) count one each; a
    /// value opened for writing counts nothing, and the command then says
    /// how many elements it changed (`Changes`); keys the server removes
    /// on its own (expired, evicted) are not changes.
    /// Per thread because the keyspace belongs to the loop's thread; unit
    /// tests, each on its own thread, do not see each other's changes.
    static DIRTY: Cell<u64> = const { Cell::new(0) };
    /// Some database's `streams_gone` has keys: one check per command
    /// instead of one per database.
    static STREAMS_GONE: Cell<bool> = const { Cell::new(false) };
    /// Some database's `expired_log` has keys: the hot path's one check
    /// before it looks at every database's log.
    static REMOVALS_LOGGED: Cell<bool> = const { Cell::new(false) };
    /// How keys past their time are treated (see `Expiry`).
    static EXPIRY: Cell<Expiry> = const { Cell::new(Expiry::Delete) };
    /// The mode for clients, which a batch of the master's stream sets
    /// aside for `Ignore`.
    static CLIENT_EXPIRY: Cell<Expiry> = const { Cell::new(Expiry::Delete) };
}

/// How a lookup treats a key whose time has come (Redis's
/// `expireIfNeeded` by role).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// A master deletes it and logs a DEL.
    Delete,
    /// A replica's clients do not see it, but it stays until the master's
    /// DEL arrives.
    Hide,
    /// A writable replica: hidden from reads as under `Hide`, but a write
    /// deletes it first, so the write starts afresh (Redis's
    /// `EXPIRE_FORCE_DELETE_EXPIRED`).
    HideUntilWritten,
    /// The master's own commands on a replica still find it.
    Ignore,
}

pub fn expiry() -> Expiry {
    EXPIRY.with(Cell::get)
}

pub fn set_expiry(mode: Expiry) {
    EXPIRY.with(|e| e.set(mode));
}

/// Sets the mode for clients (the server's role or a pause changed).
pub fn set_client_expiry(mode: Expiry) {
    CLIENT_EXPIRY.with(|e| e.set(mode));
    set_expiry(mode);
}

/// Back to the clients' mode after the master's commands.
pub fn restore_client_expiry() {
    set_expiry(CLIENT_EXPIRY.with(Cell::get));
}

/// True once (and then false until another stream goes) if a stream was
/// deleted or overwritten in any database since the last call.
pub fn take_streams_gone() -> bool {
    STREAMS_GONE.with(|gone| gone.replace(false))
}

/// True once (and then false until another is logged) if a database
/// logged an expired or evicted key since the last call.
pub fn take_removals_logged() -> bool {
    REMOVALS_LOGGED.with(|logged| logged.replace(false))
}

/// The keyspace's change counter (see `DIRTY`).
pub fn dirty() -> u64 {
    DIRTY.with(Cell::get)
}

/// Counts `n` changes to the keyspace.
pub fn add_dirty(n: u64) {
    DIRTY.with(|d| d.set(d.get() + n));
}

/// Takes back changes counted since `before`: for DEBUG POPULATE, whose
/// keys Redis does not count as changes.
pub fn restore_dirty(before: u64) {
    DIRTY.with(|d| d.set(before));
}

/// One command's changes, counted as Redis's command counts them: the
/// command begins it, does its writes, then says how many changes it
/// made, whatever its writes counted on their own (SET ... EX is one
/// change, not a set and an expiry; RPUSH of three elements is three;
/// SADD of members already there is none, and is not propagated).
#[must_use = "a command's count is only settled by `made`"]
pub struct Changes {
    before: u64,
}

impl Changes {
    pub fn begin() -> Self {
        Changes { before: dirty() }
    }

    /// The command made exactly `n` changes.
    pub fn made(self, n: u64) {
        restore_dirty(self.before + n);
    }
}

/// A value and its access stamps (Redis's 24-bit `lru` field, split in
/// two that fit where `Value`'s alignment leaves room anyway).
pub struct Entry {
    pub value: Value,
    /// The last access on the LRU clock (`evict::lru_clock`): OBJECT
    /// IDLETIME and the LRU policies.
    pub touched: u32,
    /// The LFU counter and the minute it last decayed (`evict::Lfu`),
    /// kept while an LFU policy is set.
    pub freq: u32,
}

/// DEBUG HTSTATS of one database: its keys' table, then its expiries'.
pub fn table_stats(db: &Db) -> String {
    format!(
        "[Dictionary HT]\n{}[Expires HT]\n{}",
        db.dict.stats(),
        db.expires.stats()
    )
}

#[derive(Default)]
pub struct Db {
    dict: Dict<Entry>,
    pub expires: Dict<i64>,
    /// Moving average of sampled TTLs, for `INFO keyspace`.
    pub avg_ttl: i64,
    /// Where the active expire cycle resumes in `expires`.
    expire_cursor: usize,
    /// The current command's time in unix milliseconds: what writes and
    /// touches record.
    pub now_ms: i64,
    /// Set while an LFU policy is: accesses count in `Entry::freq`.
    pub lfu: Option<crate::evict::Lfu>,
    /// Randomness for the LFU counter.
    rng: u64,
    /// Watched keys: how many clients watch each and how often it was
    /// modified since it was first watched (Redis's `watched_keys`).
    watched: HashMap<Vec<u8>, Watched>,
    /// Keys deleted because their time came, kept while the AOF is on so
    /// each becomes a DEL in the log (Redis propagates expiry as DEL).
    pub expired_log: Option<Vec<CompactBytes>>,
    /// Events the database notices on its own (a key found expired, a
    /// key created, a read that missed), queued for keyspace notifications
    /// (see `crate::notify`): (class, event, key). Only the classes in
    /// `event_classes` are queued; none unless notifications want them.
    pub events: Vec<(u32, &'static str, CompactBytes)>,
    pub event_classes: u32,
    /// Streams deleted or overwritten: readers blocked on them are told
    /// (Redis's `signalDeletedKeyAsReady`).
    pub streams_gone: Vec<CompactBytes>,
    /// While the AOF replays, nothing expires: a command later in the log
    /// may depend on the key (Redis does not expire keys while loading).
    pub expiry_paused: bool,
    /// Keys a writable replica's own clients gave a TTL: no DEL will come
    /// from the master for them, so the replica expires them itself
    /// (Redis's `slaveKeysWithExpire`).
    replica_expires: Dict<()>,
    /// Where `expire_replica_keys` resumes in `replica_expires`.
    replica_cursor: usize,
}

#[derive(Default)]
struct Watched {
    watchers: usize,
    /// Changes to the key, removals included.
    version: u64,
    /// Changes that gave the key a value: what a client that watched it
    /// already expired sees (its removal changes nothing logically).
    revivals: u64,
}

/// A watched key's change counts, as [`Db::watch`] reads them.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct WatchVersion {
    pub version: u64,
    pub revivals: u64,
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

    /// The value of `key` for changing it: counts as a modification for
    /// WATCH (the command counts its changes, see `Changes`).
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Value> {
        if !self.watched.is_empty() && self.dict.contains_key(key) {
            self.modified(key);
        }
        let entry = self.dict.get_mut(key)?;
        Some(&mut entry.value)
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

    /// Every key with its value and expiry, consuming the database
    /// (DEBUG RELOAD merging a loaded file into live data).
    pub fn into_entries(self) -> Vec<(CompactBytes, Value, Option<i64>)> {
        let expires = self.expires;
        self.dict
            .into_entries()
            .map(|(key, entry)| {
                let when = expires.get(&key).copied();
                (key, entry.value, when)
            })
            .collect()
    }

    /// Starts watching `key`; returns its current change counts.
    pub fn watch(&mut self, key: &[u8]) -> WatchVersion {
        let entry = self.watched.entry(key.to_vec()).or_default();
        entry.watchers += 1;
        WatchVersion {
            version: entry.version,
            revivals: entry.revivals,
        }
    }

    pub fn unwatch(&mut self, key: &[u8]) {
        if let Some(entry) = self.watched.get_mut(key) {
            entry.watchers -= 1;
            if entry.watchers == 0 {
                self.watched.remove(key);
            }
        }
    }

    /// The change counts of a watched key (`None` if nobody watches it).
    pub fn watch_version(&self, key: &[u8]) -> Option<WatchVersion> {
        self.watched.get(key).map(|w| WatchVersion {
            version: w.version,
            revivals: w.revivals,
        })
    }

    /// Notes that `key` may have changed (Redis's `touchWatchedKey`). Free
    /// when nothing is watched.
    fn modified(&mut self, key: &[u8]) {
        if !self.watched.is_empty() {
            if let Some(entry) = self.watched.get_mut(key) {
                entry.version += 1;
                entry.revivals += 1;
            }
        }
    }

    /// Notes that `key` was removed.
    fn removed(&mut self, key: &[u8]) {
        if !self.watched.is_empty() {
            if let Some(entry) = self.watched.get_mut(key) {
                entry.version += 1;
            }
        }
    }

    /// Exchanges the data of two databases (SWAPDB). Watches stay with the
    /// database number, as in Redis, and all of them see a change.
    pub fn swap_data(&mut self, other: &mut Db) {
        // A watched key changes if it exists on either side (Redis's
        // `touchAllWatchedKeysInDb` with the database replacing it).
        self.modified_existing(Some(other));
        other.modified_existing(Some(self));
        std::mem::swap(&mut self.dict, &mut other.dict);
        std::mem::swap(&mut self.expires, &mut other.expires);
        std::mem::swap(&mut self.avg_ttl, &mut other.avg_ttl);
        std::mem::swap(&mut self.replica_expires, &mut other.replica_expires);
        self.expire_cursor = 0;
        other.expire_cursor = 0;
        add_dirty(1);
    }

    /// Every watched key that exists here, or arrives live from
    /// `replaced_with`, counts as changed (FLUSHDB, FLUSHALL, SWAPDB): a
    /// watched key that exists on neither side, or arrives already
    /// expired, is left alone, as Redis leaves it.
    pub fn modified_existing(&mut self, replaced_with: Option<&Db>) {
        let dict = &self.dict;
        let now_ms = crate::state::unix_millis();
        for (key, entry) in self.watched.iter_mut() {
            let arrives = replaced_with
                .is_some_and(|other| other.contains_key(key) && !other.is_expired(key, now_ms));
            if dict.contains_key(key) || arrives {
                entry.version += 1;
            }
            if arrives {
                entry.revivals += 1;
            }
        }
    }

    /// The change counts of this database's watched keys, to take a
    /// command's changes back when it changed nothing (see `dispatch`).
    pub fn watch_versions(&self, keys: &[&[u8]]) -> Vec<Option<WatchVersion>> {
        keys.iter().map(|k| self.watch_version(k)).collect()
    }

    /// Puts back the change counts `watch_versions` read.
    pub fn restore_watch_versions(&mut self, keys: &[&[u8]], versions: &[Option<WatchVersion>]) {
        for (key, version) in keys.iter().zip(versions) {
            if let (Some(entry), Some(v)) = (self.watched.get_mut(*key), version) {
                entry.version = v.version;
                entry.revivals = v.revivals;
            }
        }
    }

    /// Whether any key of this database is watched.
    pub fn has_watchers(&self) -> bool {
        !self.watched.is_empty()
    }

    /// Records an access to `key` at the current clock (and, under an
    /// LFU policy, counts it).
    pub fn touch(&mut self, key: &[u8]) {
        self.touched_position(key);
    }

    /// The value of `key`, its access recorded as `touch` does: one
    /// lookup for both.
    pub fn touch_get(&mut self, key: &[u8]) -> Option<&Value> {
        let position = self.touched_position(key)?;
        self.dict.entry_at(position).map(|(_, e)| &e.value)
    }

    /// `get_mut` and `touch` in one lookup, answering with the key's
    /// position, which [`Self::value_at_mut`] turns into the value without
    /// hashing again.
    pub fn touch_for_write(&mut self, key: &[u8]) -> Option<usize> {
        if !self.watched.is_empty() && self.dict.contains_key(key) {
            self.modified(key);
        }
        self.touched_position(key)
    }

    /// The value at a position [`Self::touch_for_write`] gave, while the
    /// keyspace has not changed since.
    pub fn value_at_mut(&mut self, position: usize) -> Option<&mut Value> {
        self.dict
            .value_at_mut(position)
            .map(|entry| &mut entry.value)
    }

    fn touched_position(&mut self, key: &[u8]) -> Option<usize> {
        let now_ms = self.now_ms;
        let position = self.dict.position(key)?;
        let entry = self.dict.value_at_mut(position)?;
        entry.touched = crate::evict::lru_clock(now_ms);
        if let Some(lfu) = self.lfu {
            entry.freq = lfu.touched(entry.freq, now_ms, &mut self.rng);
        }
        Some(position)
    }

    /// Makes `key` look idle for `secs` seconds (RESTORE ... IDLETIME).
    fn set_idle(&mut self, key: &[u8], secs: u64) {
        let touched = crate::evict::stamp_for_idle(secs, self.now_ms);
        if let Some(entry) = self.dict.get_mut(key) {
            entry.touched = touched;
        }
    }

    /// Restores what a dump said of a key's use (RESTORE's FREQ and
    /// IDLETIME, an RDB's FREQ and IDLE): the counter under an LFU
    /// policy, the idle time under any other (Redis's
    /// `objectSetLRUOrLFU`).
    pub fn restore_access(&mut self, key: &[u8], freq: Option<u8>, idle_secs: Option<u64>) {
        match (self.lfu, freq, idle_secs) {
            (Some(_), Some(freq), _) => {
                let stamp = crate::evict::Lfu::stamp_with(freq, self.now_ms);
                if let Some(entry) = self.dict.get_mut(key) {
                    entry.freq = stamp;
                }
            }
            (None, _, Some(secs)) => self.set_idle(key, secs),
            _ => {}
        }
    }

    /// Seconds since `key` was last touched.
    pub fn idle_secs(&self, key: &[u8]) -> Option<u64> {
        self.dict
            .get(key)
            .map(|e| crate::evict::idle_ms(e.touched, self.now_ms) / 1000)
    }

    /// The LFU counter of `key` as OBJECT FREQ shows it (decayed).
    pub fn freq(&self, key: &[u8]) -> Option<u32> {
        let lfu = self.lfu?;
        self.dict.get(key).map(|e| lfu.counter(e.freq, self.now_ms))
    }

    /// The free slots of the key tables, in bytes (`evict::table_slack`).
    pub fn slack_bytes(&self) -> usize {
        self.dict.slack_bytes() + self.expires.slack_bytes()
    }

    /// How many keys an eviction policy may pick from.
    pub fn candidate_count(&self, volatile: bool) -> usize {
        if volatile {
            self.expires.len()
        } else {
            self.dict.len()
        }
    }

    /// A key picked by `roll` among the candidates (random policies).
    pub fn random_candidate(&self, volatile: bool, roll: u64) -> Option<&CompactBytes> {
        let count = self.candidate_count(volatile);
        if count == 0 {
            return None;
        }
        let position = (roll % count as u64) as usize;
        if volatile {
            self.expires.entry_at(position).map(|(k, _)| k)
        } else {
            self.dict.entry_at(position).map(|(k, _)| k)
        }
    }

    /// A candidate picked by `roll`, with its eviction score under
    /// `policy` (see `evict::score`).
    pub fn sample(
        &self,
        policy: crate::evict::Policy,
        roll: u64,
        now_ms: i64,
    ) -> Option<(&CompactBytes, u64)> {
        let key = self.random_candidate(policy.volatile(), roll)?;
        let entry = self.dict.get(key)?;
        let expire = self.expires.get(key).copied();
        let score = crate::evict::score(
            policy,
            self.lfu,
            (entry.touched, entry.freq),
            expire,
            now_ms,
        );
        Some((key, score))
    }

    /// Records the eviction of a key just removed: a DEL for the AOF, an
    /// `evicted` event.
    pub fn note_evicted(&mut self, key: &[u8]) {
        self.log_removal(key);
        self.note_event(crate::notify::EVICTED, "evicted", key);
    }

    /// The stamps a key starts with. Outside an LFU policy the counter
    /// is not kept: 0 reads as never used once one is set, as Redis's
    /// LRU field read as LFU data decays to 0.
    fn new_entry(&self, value: Value) -> Entry {
        let freq = match self.lfu {
            Some(_) => crate::evict::Lfu::new_stamp(self.now_ms),
            None => 0,
        };
        Entry {
            value,
            touched: crate::evict::lru_clock(self.now_ms),
            freq,
        }
    }

    /// Bytes of the key table itself (MEMORY STATS's overhead).
    pub fn table_bytes(&self) -> usize {
        self.dict.table_bytes()
    }

    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    /// The expiry of `key` in unix ms, if it has one.
    pub fn expire_of(&self, key: &[u8]) -> Option<i64> {
        self.expires.get(key).copied()
    }

    pub fn is_expired(&self, key: &[u8], now_ms: i64) -> bool {
        !self.expiry_paused
            && self.expire_of(key).is_some_and(|when| when <= now_ms)
            && expiry() != Expiry::Ignore
    }

    /// Removes a key and its expiry: one change.
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        let value = self.take(key)?;
        add_dirty(1);
        Some(value)
    }

    /// Removes a key and its expiry, counting no change.
    fn take(&mut self, key: &[u8]) -> Option<Value> {
        let (_, entry) = self.dict.remove(key)?;
        if matches!(entry.value, Value::Stream(_)) {
            self.stream_gone(key);
        }
        self.removed(key);
        if !self.expires.is_empty() {
            self.expires.remove(key);
        }
        Some(entry.value)
    }

    fn stream_gone(&mut self, key: &[u8]) {
        self.streams_gone.push(CompactBytes::new(key));
        STREAMS_GONE.with(|gone| gone.set(true));
    }

    /// Queues an event of `class` if notifications want it.
    pub fn note_event(&mut self, class: u32, event: &'static str, key: &[u8]) {
        if self.event_classes & class != 0 {
            self.events.push((class, event, CompactBytes::new(key)));
        }
    }

    /// Deletes a key whose time has come, noting it for the AOF and for
    /// keyspace notifications (a DEL the server logs, not a change).
    pub fn remove_expired(&mut self, key: &[u8]) {
        if self.take(key).is_some() {
            self.log_removal(key);
            self.note_event(crate::notify::EXPIRED, "expired", key);
        }
    }

    /// Notes a key the server removed on its own (expired, evicted) for a
    /// DEL in the AOF and the replication stream, while they are recorded.
    fn log_removal(&mut self, key: &[u8]) {
        if let Some(log) = &mut self.expired_log {
            log.push(CompactBytes::new(key));
            REMOVALS_LOGGED.with(|logged| logged.set(true));
        }
    }

    /// Sets a value. Without `keep_ttl` any expiry is dropped, as a plain
    /// SET does in Redis.
    pub fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool) {
        self.set_at(key, value, keep_ttl);
    }

    /// [`Self::set`], answering where the key now is, for
    /// [`Self::value_at_mut`] (a collection made to be written to at once).
    pub fn set_at(&mut self, key: &[u8], value: Value, keep_ttl: bool) -> usize {
        self.modified(key);
        add_dirty(1);
        if self.event_classes & crate::notify::NEW != 0 && !self.dict.contains_key(key) {
            self.note_event(crate::notify::NEW, "new", key);
        }
        let entry = self.new_entry(value);
        let (position, old) = self.dict.insert_at(key, entry);
        if let Some(old) = old {
            if matches!(old.value, Value::Stream(_)) {
                self.stream_gone(key);
            }
            if let Some(lfu) = self.lfu {
                // An overwritten key keeps its count, plus this access
                // (Redis's `dbOverwrite` after `lookupKeyWrite`).
                let freq = lfu.touched(old.freq, self.now_ms, &mut self.rng);
                if let Some(entry) = self.dict.value_at_mut(position) {
                    entry.freq = freq;
                }
            }
        }
        if !keep_ttl && !self.expires.is_empty() {
            self.expires.remove(key);
        }
        position
    }

    /// Adds a key read from a snapshot: not a change (nothing to save or
    /// log), hashed once. The key back if it is already there.
    pub fn load(
        &mut self,
        key: Vec<u8>,
        value: Value,
        expire_ms: Option<i64>,
    ) -> Result<(), Vec<u8>> {
        if let Some(when) = expire_ms {
            if self.dict.contains_key(&key) {
                return Err(key);
            }
            self.expires.insert(&key, when);
        }
        if self.now_ms == 0 {
            self.now_ms = crate::state::unix_millis();
        }
        let entry = self.new_entry(value);
        self.dict.insert_if_absent(key, entry)
    }

    /// Makes room for the keys a snapshot announces for this database.
    pub fn reserve(&mut self, keys: usize, expires: usize) {
        self.dict.reserve(keys);
        self.expires.reserve(expires);
    }

    /// Sets the expiry of an existing key.
    pub fn set_expire(&mut self, key: &[u8], when_ms: i64) {
        self.modified(key);
        add_dirty(1);
        self.expires.insert(key, when_ms);
        // A writable replica's own write: no DEL will come for it.
        if expiry() == Expiry::HideUntilWritten {
            self.replica_expires.insert(key, ());
        }
    }

    /// Drops the expiry; true if there was one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        let had = self.expires.remove(key).is_some();
        if had {
            self.modified(key);
            add_dirty(1);
        }
        had
    }

    pub fn clear(&mut self) {
        drop(self.take_all());
    }

    /// Empties the database as `clear` does, handing back its contents
    /// for the caller to free (in the background, for FLUSHALL ASYNC).
    pub fn take_all(&mut self) -> impl Send {
        self.modified_existing(None);
        add_dirty(self.dict.len() as u64);
        self.avg_ttl = 0;
        self.expire_cursor = 0;
        self.replica_expires.clear();
        (
            std::mem::take(&mut self.dict),
            std::mem::take(&mut self.expires),
        )
    }

    /// Moves a resize of the keyspace's indexes on until `deadline`, 100
    /// positions at a time (Redis's `incrementallyRehash`); whether there
    /// was one to move.
    pub fn rehash_until(&mut self, deadline: Instant) -> bool {
        let mut worked = false;
        loop {
            let more = self.dict.rehash_step(100) | self.expires.rehash_step(100);
            if !more {
                return worked;
            }
            worked = true;
            if Instant::now() >= deadline {
                return true;
            }
        }
    }

    /// A replica's part of the expire cycle (Redis's `expireSlaveKeys`):
    /// deletes the keys its own clients gave a TTL once their time came,
    /// and forgets those that lost it, until four met are still to expire
    /// or `deadline` passed. The master's keys wait for its DELs.
    pub fn expire_replica_keys(&mut self, now_ms: i64, deadline: Instant) -> u64 {
        let (mut deleted, mut waiting, mut looked) = (0, 0, 0u32);
        while !self.replica_expires.is_empty() && waiting <= 3 {
            // Downwards, as the active cycle walks: a removal moves the
            // last entry, already looked at, into the hole.
            if self.replica_cursor == 0 || self.replica_cursor > self.replica_expires.len() {
                self.replica_cursor = self.replica_expires.len();
            }
            self.replica_cursor -= 1;
            let Some((key, _)) = self.replica_expires.entry_at(self.replica_cursor) else {
                break;
            };
            let key = key.clone();
            match self.expires.get(&key) {
                Some(&when) if when > now_ms => waiting += 1,
                Some(_) => {
                    self.remove_expired(&key);
                    self.replica_expires.remove(&key);
                    deleted += 1;
                }
                None => {
                    self.replica_expires.remove(&key);
                }
            }
            looked += 1;
            if looked.is_multiple_of(64) && Instant::now() >= deadline {
                break;
            }
        }
        deleted
    }

    /// Deletes expired keys until `deadline`, sampling the keys with a TTL
    /// in rounds of 20 and stopping when a round finds few expired (Redis's
    /// `activeExpireCycle`).
    pub fn active_expire(&mut self, now_ms: i64, deadline: Instant) -> ExpireRun {
        let mut run = ExpireRun::default();
        let mut rounds = 0u32;
        loop {
            let len = self.expires.len();
            if len == 0 {
                self.avg_ttl = 0;
                return run;
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
                run.sampled += 1;
                if when <= now_ms {
                    let key = key.clone();
                    self.remove_expired(&key);
                    expired_in_round += 1;
                } else {
                    ttl_sum += when - now_ms;
                    ttl_samples += 1;
                }
            }
            run.deleted += expired_in_round as u64;
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
                run.out_of_time = true;
                return run;
            }
            if expired_in_round * 100 <= sample * EXPIRE_ACCEPTABLE_STALE {
                return run;
            }
        }
    }
}

/// What one database's part of an active expire cycle did.
#[derive(Debug, Default, Clone, Copy)]
pub struct ExpireRun {
    /// Keys with a TTL looked at.
    pub sampled: u64,
    /// Of those, deleted because their time had come.
    pub deleted: u64,
    /// The time budget ran out before the stale share fell low enough.
    pub out_of_time: bool,
}

/// The time budget of one slow active-expire cycle: 25% of a cron period
/// (Redis's `ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC`).
pub fn expire_cycle_budget(hz: u32) -> Duration {
    Duration::from_micros(1_000_000 / u64::from(hz.max(1)) * 25 / 100)
}
