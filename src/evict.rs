//! `maxmemory`: the eviction policies, the access clocks they rank keys
//! by, and the eviction itself (Redis's evict.c).
//!
//! Before each command from a client, while `maxmemory` is set,
//! [`perform`] deletes keys until the memory the dataset counts is back
//! under the limit, spending at most the `maxmemory-eviction-tenacity`
//! budget; a budget that runs out leaves the rest to the next loop
//! iterations (Redis's eviction timer), and a policy that finds nothing
//! to delete makes `denyoom` commands fail with `-OOM`.
//!
//! Candidates are ranked as Redis ranks them, through a pool of the 16
//! best samples kept across calls: `maxmemory-samples` keys drawn from
//! each database (uniformly: the key tables are dense), scored by idle
//! time (LRU), by access frequency (LFU, idle time breaking ties) or by
//! expiry (volatile-ttl). The LRU clock ticks in milliseconds rather
//! than Redis's seconds, so keys touched within the same second are
//! still told apart.

use crate::db::{CompactBytes, Db};
use crate::state::ServerState;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    NoEviction,
}

impl Policy {
    /// In Redis's order (its error message lists them so).
    pub const ALL: [Policy; 8] = [
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
        Policy::AllkeysLru,
        Policy::AllkeysLfu,
        Policy::AllkeysRandom,
        Policy::NoEviction,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Policy::VolatileLru => "volatile-lru",
            Policy::VolatileLfu => "volatile-lfu",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileTtl => "volatile-ttl",
            Policy::AllkeysLru => "allkeys-lru",
            Policy::AllkeysLfu => "allkeys-lfu",
            Policy::AllkeysRandom => "allkeys-random",
            Policy::NoEviction => "noeviction",
        }
    }

    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::VolatileLfu | Policy::AllkeysLfu)
    }

    pub fn is_lru(self) -> bool {
        matches!(self, Policy::VolatileLru | Policy::AllkeysLru)
    }

    /// Only keys with an expiry are candidates.
    pub fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

/// The LRU clock: milliseconds, wrapping every 49 days (an idle time is
/// the wrapping difference, as with Redis's 24-bit seconds clock).
pub fn lru_clock(now_ms: i64) -> u32 {
    now_ms as u32
}

/// Milliseconds since a key stamped `touched` was last accessed.
pub fn idle_ms(touched: u32, now_ms: i64) -> u64 {
    u64::from(lru_clock(now_ms).wrapping_sub(touched))
}

/// The stamp of a key last accessed `idle_secs` ago.
pub fn stamp_for_idle(idle_secs: u64, now_ms: i64) -> u32 {
    let idle = idle_secs.saturating_mul(1000).min(u64::from(u32::MAX / 2)) as u32;
    lru_clock(now_ms).wrapping_sub(idle)
}

/// Redis's `LFU_INIT_VAL`: new keys start here, so they are not evicted
/// before they had a chance to be used again.
const LFU_INIT: u32 = 5;

/// The LFU settings: how slowly the logarithmic counter grows
/// (`lfu-log-factor`) and how many minutes take one off it
/// (`lfu-decay-time`). The counter lives in a key's `freq` stamp with
/// the minute it was last decremented, as Redis's 24-bit LFU field:
/// `minutes << 8 | counter`.
#[derive(Debug, Clone, Copy)]
pub struct Lfu {
    pub log_factor: u32,
    pub decay_minutes: u32,
}

fn minutes(now_ms: i64) -> u32 {
    ((now_ms / 60_000) as u64 & 0xFFFF) as u32
}

impl Lfu {
    /// The LFU settings if the policy is an LFU one.
    pub fn of(config: &crate::config::Config) -> Option<Lfu> {
        config.maxmemory_policy.is_lfu().then_some(Lfu {
            log_factor: config.lfu_log_factor,
            decay_minutes: config.lfu_decay_time,
        })
    }

    /// The stamp of a new key.
    pub fn new_stamp(now_ms: i64) -> u32 {
        minutes(now_ms) << 8 | LFU_INIT
    }

    /// The stamp of a key restored with counter `freq` (RESTORE FREQ, an
    /// RDB's FREQ opcode).
    pub fn stamp_with(freq: u8, now_ms: i64) -> u32 {
        minutes(now_ms) << 8 | u32::from(freq)
    }

    /// The counter once decayed for the minutes since its last decrement
    /// (Redis's `LFUDecrAndReturn`): what OBJECT FREQ shows.
    pub fn counter(self, stamp: u32, now_ms: i64) -> u32 {
        let last = stamp >> 8;
        let counter = stamp & 0xFF;
        let now = minutes(now_ms);
        let elapsed = if now >= last {
            now - last
        } else {
            0xFFFF - last + now
        };
        let periods = elapsed.checked_div(self.decay_minutes).unwrap_or(0);
        counter.saturating_sub(periods)
    }

    /// The stamp after an access: decayed, then incremented with a
    /// probability that falls as the counter grows (Redis's `updateLFU`).
    pub fn touched(self, stamp: u32, now_ms: i64, rng: &mut u64) -> u32 {
        let mut counter = self.counter(stamp, now_ms);
        if counter < 255 {
            let base = f64::from(counter.saturating_sub(LFU_INIT));
            let p = 1.0 / (base * f64::from(self.log_factor) + 1.0);
            if unit_random(rng) < p {
                counter += 1;
            }
        }
        minutes(now_ms) << 8 | counter
    }
}

/// A xorshift generator: eviction and the LFU counter need cheap, not
/// strong, randomness.
pub fn next_random(state: &mut u64) -> u64 {
    if *state == 0 {
        *state = 0x9E37_79B9_7F4A_7C15;
    }
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

fn unit_random(state: &mut u64) -> f64 {
    (next_random(state) >> 11) as f64 / (1u64 << 53) as f64
}

/// Redis's `EVPOOL_SIZE`.
const POOL_SIZE: usize = 16;

/// A sampled key: the higher the score, the better it is to evict.
struct Candidate {
    score: u64,
    db: usize,
    key: CompactBytes,
}

/// What [`perform`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Under the limit (or eviction does not apply now).
    Ok,
    /// Over the limit still, but the time budget ran out: the loop goes
    /// on evicting, and commands are not refused meanwhile.
    Running,
    /// Over the limit and nothing (more) can be evicted.
    Fail,
}

/// The eviction state kept between calls.
#[derive(Default)]
pub struct Evictor {
    pool: Vec<Candidate>,
    /// The database the random policies look at next.
    next_db: usize,
    rng: u64,
    /// The budget ran out with memory still over the limit: the loop
    /// calls `perform` again each iteration (Redis's eviction timer).
    pub running: bool,
    /// Since when memory has been over the limit, and how long it was
    /// in total before (INFO's `*_eviction_exceeded_time`).
    pub over_since: Option<Instant>,
    pub over_total: Duration,
    pub evicted_keys: u64,
    /// Clients closed for `maxmemory-clients`.
    pub evicted_clients: u64,
}

impl Evictor {
    /// CONFIG RESETSTAT: the counts, and the time over the limit (a
    /// server still over it starts counting again at the next check).
    pub fn reset_stats(&mut self) {
        self.evicted_keys = 0;
        self.evicted_clients = 0;
        self.over_total = Duration::ZERO;
        self.over_since = None;
    }

    fn note_over(&mut self, over: bool) {
        match (over, self.over_since) {
            (true, None) => self.over_since = Some(Instant::now()),
            (false, Some(since)) => {
                self.over_total += since.elapsed();
                self.over_since = None;
            }
            _ => {}
        }
    }

    /// Milliseconds over the limit: in total, and in the current stretch.
    pub fn exceeded_ms(&self) -> (u64, u64) {
        let current = self.over_since.map_or(Duration::ZERO, |s| s.elapsed());
        (
            (self.over_total + current).as_millis() as u64,
            current.as_millis() as u64,
        )
    }
}

/// Bytes the dataset's key tables keep free for reuse: a deleted key's
/// slot is taken by the next key, as the allocator reuses freed memory,
/// so it counts as free, as freed memory does in Redis's `used_memory`.
fn table_slack(dbs: &[Db]) -> u64 {
    dbs.iter().map(|db| db.slack_bytes() as u64).sum()
}

/// `used_memory`: what the server has allocated, less the free slots of
/// the key and client tables. Clients' buffers count, as in Redis: a
/// crowd of clients that do not read their replies makes keys go, unless
/// `maxmemory-clients` evicts those clients first.
pub fn used_memory(state: &ServerState) -> u64 {
    let not_data = table_slack(&state.dbs) + state.client_slots_free as u64;
    crate::alloc::allocated_bytes().saturating_sub(not_data)
}

/// `maxmemory-clients` (Redis 7.0's client eviction): while the clients
/// together hold more than the limit, the ones holding the most, in that
/// order, until the rest fit. Replicas, the master, `CLIENT NO-EVICT`
/// clients and `spare` are never chosen.
pub fn clients_to_evict(
    state: &ServerState,
    clients: &slab::Slab<crate::client::Client>,
    spare: Option<usize>,
) -> Vec<usize> {
    let config = &state.config;
    let limit = config.maxmemory_clients.bytes(config.maxmemory) as usize;
    if limit == 0 {
        return Vec::new();
    }
    let mut usage: Vec<(usize, usize)> = clients
        .iter()
        .filter(|&(key, c)| {
            !c.no_evict && c.closing == crate::client::Closing::No && Some(key) != spare
        })
        .map(|(key, c)| (c.memory_usage(), key))
        .collect();
    let mut total: usize = usage.iter().map(|(memory, _)| memory).sum();
    if total <= limit {
        return Vec::new();
    }
    usage.sort_unstable_by(|a, b| b.cmp(a));
    let mut victims = Vec::new();
    for (memory, key) in usage {
        if total <= limit {
            break;
        }
        victims.push(key);
        total -= memory;
    }
    victims
}

/// Whether memory is over `maxmemory` (Redis's `getMaxmemoryState`).
pub fn over_limit(state: &ServerState) -> bool {
    state.config.maxmemory > 0 && excess(state).is_some()
}

/// Memory not counted against `maxmemory`, as Redis leaves it out: the
/// AOF buffer waiting to be written and the replicas' buffers, with the
/// stream staged for them this round (`mem_not_counted_for_evict`).
pub fn not_counted(state: &ServerState) -> u64 {
    let staged = state.repl.unsent.capacity();
    (state.aof.buf.capacity() + state.replica_buffers + staged) as u64
}

/// How far over `maxmemory` the dataset is, if it is (Redis's
/// `getMaxmemoryState`).
fn excess(state: &ServerState) -> Option<u64> {
    let limit = state.config.maxmemory;
    let used = used_memory(state).saturating_sub(not_counted(state));
    (used > limit).then(|| used - limit)
}

/// The time one call may spend evicting (Redis's `evictionTimeLimitUs`):
/// 50 µs per tenacity step up to 10 (500 µs by default), then growing by
/// 15% a step, unbounded at 100.
fn time_limit(tenacity: u32) -> Option<Duration> {
    if tenacity <= 10 {
        return Some(Duration::from_micros(50 * u64::from(tenacity)));
    }
    if tenacity < 100 {
        let micros = 500.0 * 1.15f64.powi(tenacity as i32 - 10);
        return Some(Duration::from_micros(micros as u64));
    }
    None
}

/// Evicts keys until memory is under `maxmemory` or the time budget runs
/// out (Redis's `performEvictions`). Evicted keys are deleted as by DEL
/// (the AOF gets a DEL) and queue an `evicted` event.
pub fn perform(state: &mut ServerState) -> Outcome {
    // Nothing is evicted while CLIENT PAUSE keeps the dataset as it is.
    let paused = state.pause.is_some_and(|p| p.until > Instant::now());
    if state.config.maxmemory == 0 || state.persist.loading || state.replaying || paused {
        state.evictor.running = false;
        return Outcome::Ok;
    }
    let Some(to_free) = excess(state) else {
        state.evictor.note_over(false);
        state.evictor.running = false;
        return Outcome::Ok;
    };
    state.evictor.note_over(true);
    let policy = state.config.maxmemory_policy;
    if policy == Policy::NoEviction {
        return Outcome::Fail;
    }
    let started = Instant::now();
    let budget = time_limit(state.config.maxmemory_eviction_tenacity);
    let mut freed = 0u64;
    let mut evicted = 0u64;
    let mut outcome = Outcome::Ok;
    state.evictor.running = false;
    let now_ms = crate::state::unix_millis();
    while freed < to_free {
        let Some((db, key)) = choose(state, policy, now_ms) else {
            outcome = Outcome::Fail;
            break;
        };
        let before = used_memory(state);
        // Not a change to save or log as the running command's: the
        // AOF gets the DEL itself (Redis does not count evictions).
        let dirty = crate::db::dirty();
        let removed = state.dbs[db].remove(&key).is_some();
        crate::db::restore_dirty(dirty);
        // Measured before the DEL and the event are queued, which are
        // not the key's memory.
        freed += before.saturating_sub(used_memory(state));
        if removed {
            state.dbs[db].note_evicted(&key);
        }
        state.evictor.evicted_keys += 1;
        evicted += 1;
        // The clock is read every 16 keys, as Redis reads it.
        if evicted.is_multiple_of(16) && budget.is_some_and(|b| started.elapsed() > b) {
            state.evictor.running = true;
            outcome = Outcome::Running;
            break;
        }
    }
    if evicted > 0 {
        state.signal_streams_gone();
        let millis = started.elapsed().as_millis() as u64;
        let threshold = state.config.latency_monitor_threshold;
        state
            .latency
            .add_if_needed(threshold, "eviction-cycle", millis);
    }
    outcome
}

/// The next key to evict under `policy`: (database, key).
fn choose(state: &mut ServerState, policy: Policy, now_ms: i64) -> Option<(usize, CompactBytes)> {
    let evictor = &mut state.evictor;
    if matches!(policy, Policy::AllkeysRandom | Policy::VolatileRandom) {
        let count = state.dbs.len();
        for _ in 0..count {
            evictor.next_db = (evictor.next_db + 1) % count;
            let db = &state.dbs[evictor.next_db];
            let roll = next_random(&mut evictor.rng);
            if let Some(key) = db.random_candidate(policy.volatile(), roll) {
                return Some((evictor.next_db, key.clone()));
            }
        }
        return None;
    }
    let samples = state.config.maxmemory_samples.max(1) as usize;
    loop {
        let mut any = false;
        for (index, db) in state.dbs.iter().enumerate() {
            if db.candidate_count(policy.volatile()) > 0 {
                any = true;
                populate(evictor, index, db, policy, samples, now_ms);
            }
        }
        if !any {
            return None;
        }
        // Best first; a key deleted since it was sampled is skipped.
        while let Some(best) = evictor.pool.pop() {
            let db = &state.dbs[best.db];
            let present = if policy.volatile() {
                db.expire_of(&best.key).is_some()
            } else {
                db.contains_key(&best.key)
            };
            if present {
                return Some((best.db, best.key));
            }
        }
    }
}

/// Samples `samples` keys of `db` into the pool, kept sorted by score
/// with the best last (Redis's `evictionPoolPopulate`).
fn populate(
    evictor: &mut Evictor,
    index: usize,
    db: &Db,
    policy: Policy,
    samples: usize,
    now_ms: i64,
) {
    for _ in 0..samples {
        let roll = next_random(&mut evictor.rng);
        let Some((key, score)) = db.sample(policy, roll, now_ms) else {
            return;
        };
        let pool = &mut evictor.pool;
        // The first position whose score is not below this one's.
        let at = pool.partition_point(|c| c.score < score);
        if pool.len() == POOL_SIZE {
            if at == 0 {
                continue; // worse than everything kept
            }
            pool.remove(0);
            pool.insert(
                at - 1,
                Candidate {
                    score,
                    db: index,
                    key: key.clone(),
                },
            );
        } else {
            pool.insert(
                at,
                Candidate {
                    score,
                    db: index,
                    key: key.clone(),
                },
            );
        }
    }
}

/// A key's eviction score under `policy`: higher is evicted first.
pub fn score(
    policy: Policy,
    lfu: Option<Lfu>,
    entry: (u32, u32),
    expire: Option<i64>,
    now_ms: i64,
) -> u64 {
    let (touched, freq) = entry;
    let idle = idle_ms(touched, now_ms);
    match (policy, lfu) {
        (Policy::VolatileTtl, _) => u64::MAX - expire.unwrap_or(i64::MAX) as u64,
        (Policy::AllkeysLfu | Policy::VolatileLfu, Some(lfu)) => {
            // Rarely used first; among equals, the longest idle.
            u64::from(255 - lfu.counter(freq, now_ms)) << 32 | idle.min(u64::from(u32::MAX))
        }
        _ => idle,
    }
}
