//! Everything a command may read or change that is not a connection: the
//! config, the counters behind INFO, identity of this process, and the
//! requests a command leaves for the event loop (close that client, shut
//! down). The loop owns one `ServerState`; commands see it through `Ctx`.

use crate::config::Config;
use crate::db::Db;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Redis's `STATS_METRIC_SAMPLES`: instantaneous rates average this many
/// samples, taken every 100 ms by the cron.
const METRIC_SAMPLES: usize = 16;

/// A rate sampled from a growing counter (Redis's `trackInstantaneousMetric`).
#[derive(Debug, Default)]
pub struct RateSampler {
    samples: [u64; METRIC_SAMPLES],
    next: usize,
    last_value: u64,
    last_at: Option<Instant>,
}

impl RateSampler {
    pub fn sample(&mut self, value: u64, now: Instant) {
        if let Some(last_at) = self.last_at {
            let ms = now.duration_since(last_at).as_millis() as u64;
            let per_sec = (value.saturating_sub(self.last_value) * 1000)
                .checked_div(ms)
                .unwrap_or(0);
            self.samples[self.next] = per_sec;
            self.next = (self.next + 1) % METRIC_SAMPLES;
        }
        self.last_value = value;
        self.last_at = Some(now);
    }

    pub fn per_second(&self) -> u64 {
        self.samples.iter().sum::<u64>() / METRIC_SAMPLES as u64
    }
}

/// An average of one growing counter per unit of another, over the last
/// samples (Redis's `trackInstantaneousMetric` with a base other than
/// time: microseconds per loop iteration).
#[derive(Debug, Default)]
pub struct RatioSampler {
    samples: [u64; METRIC_SAMPLES],
    next: usize,
    last: (u64, u64),
}

impl RatioSampler {
    pub fn sample(&mut self, numerator: u64, denominator: u64) {
        let delta_den = denominator.saturating_sub(self.last.1);
        let delta_num = numerator.saturating_sub(self.last.0);
        self.samples[self.next] = delta_num.checked_div(delta_den).unwrap_or(0);
        self.next = (self.next + 1) % METRIC_SAMPLES;
        self.last = (numerator, denominator);
    }

    pub fn average(&self) -> u64 {
        self.samples.iter().sum::<u64>() / METRIC_SAMPLES as u64
    }
}

/// Counters reported by `INFO stats`; `CONFIG RESETSTAT` zeroes them.
#[derive(Debug, Default)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub total_net_input_bytes: u64,
    pub total_net_output_bytes: u64,
    pub total_error_replies: u64,
    /// Errors answered to a master, a replica or the AOF loader: data
    /// may have diverged (`unexpected_error_replies`).
    pub unexpected_error_replies: u64,
    /// RESTORE payloads' blobs checked entry by entry where Redis would
    /// (`sanitize-dump-payload`).
    pub dump_payload_sanitizations: u64,
    /// Error replies by their code (`ERR`, `WRONGTYPE`...): `INFO errorstats`.
    pub error_codes: BTreeMap<Vec<u8>, u64>,
    pub total_reads_processed: u64,
    pub total_writes_processed: u64,
    /// Naps taken before polling to coalesce pipelined batches (coalesce.rs).
    pub pipeline_coalesce_naps: u64,
    /// Commands of one-command-per-round-trip clients served ahead of a
    /// pipelining crowd's batches (coalesce.rs).
    pub pipeline_coalesce_served_ahead: u64,
    pub expired_keys: u64,
    /// Active expire cycles that ran out of time (INFO's
    /// `expired_time_cap_reached_count`).
    pub expired_time_cap_reached_count: u64,
    /// Running estimate of the expired share of keys with a TTL, 0 to 1
    /// (INFO's `expired_stale_perc`, in percent).
    pub expired_stale_share: f64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub ops: RateSampler,
    pub input_bytes: RateSampler,
    pub output_bytes: RateSampler,
    /// Loop iterations, and clock ticks spent in them (not in poll) and in
    /// commands: Redis 7.2's `eventloop_*` fields.
    pub eventloop_cycles: u64,
    /// Clock ticks the cron spent deleting expired keys.
    pub expire_cycle_ticks: u64,
    pub eventloop_ticks: u64,
    pub command_ticks: u64,
    pub eventloop_cycles_rate: RateSampler,
    /// Microseconds per iteration.
    pub eventloop_duration: RatioSampler,
}

impl Stats {
    /// Counts an error reply; `line` is its text after the `-`. The code is
    /// the first word when a space comes within Redis's 32-byte window,
    /// `ERR` otherwise (Redis's `afterErrorReply`).
    pub fn count_error_reply(&mut self, line: &[u8]) {
        self.total_error_replies += 1;
        let window = &line[..line.len().min(31)];
        let code = match window.iter().position(|&b| b == b' ') {
            Some(end) => &line[..end],
            None => b"ERR",
        };
        match self.error_codes.get_mut(code) {
            Some(count) => *count += 1,
            None => {
                self.error_codes.insert(code.to_vec(), 1);
            }
        }
    }
}

/// A key in a given database.
pub type DbKey = (usize, Vec<u8>);

/// What a blocking command asks of the loop when it has nothing to serve.
#[derive(Debug, Clone)]
pub struct BlockRequest {
    pub keys: Vec<Vec<u8>>,
    /// `None`: wait for ever.
    pub timeout: Option<Duration>,
    /// Where blocking is not allowed (inside MULTI) the command answers at
    /// once: a null bulk for BLMOVE/BRPOPLPUSH, a null array for the rest.
    pub null_bulk_when_not_blocking: bool,
    /// The command to run again when a key is ready, if not the one sent
    /// (XREAD's `$` becomes the ID it stood for when the client blocked).
    pub command: Option<Vec<Vec<u8>>>,
}

/// Thresholds of the slow log and the latency monitor in clock ticks;
/// `u64::MAX` when off.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    pub slowlog_ticks: u64,
    pub latency_ticks: u64,
    /// `client-output-buffer-limit` by `OutputClass`; a replica's hard
    /// limit is at least `repl-backlog-size`, as in Redis.
    pub output_limits: [crate::config::OutputLimit; 3],
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            slowlog_ticks: u64::MAX,
            latency_ticks: u64::MAX,
            output_limits: Default::default(),
        }
    }
}

/// `CLIENT PAUSE`: until when, and whether every command waits (`ALL`) or
/// only writes (`WRITE`).
#[derive(Debug, Clone, Copy)]
pub struct Pause {
    pub until: Instant,
    pub all: bool,
}

/// Listeners to take the place of the plain (or TLS) ones.
pub struct Rebind {
    pub tls: bool,
    pub listeners: Vec<mio::net::TcpListener>,
}

/// How `SHUTDOWN` or a signal asked the server to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// A signal asked; its shutdown is still to prepare.
    Signal(&'static str),
    /// Prepared (SHUTDOWN, or a wait for replicas that ended): only the
    /// files and sockets are left to close.
    Ready,
}

pub struct ServerState {
    pub config: Config,
    /// The keyspace: `databases` numbered databases.
    pub dbs: Vec<Db>,
    pub config_file: Option<String>,
    pub stats: Stats,
    pub started: Instant,
    pub run_id: String,
    /// Replication: ids, offset, backlog, replicas, this server's master.
    pub repl: crate::repl::Replication,
    pub next_client_id: u64,
    /// Slab keys of clients a command killed; the loop frees them at the end
    /// of the event batch.
    pub killed: Vec<usize>,
    pub shutdown: Option<Shutdown>,
    /// (database, key) of lists and sorted sets that received elements
    /// during this command: blocked clients waiting on them are served
    /// after it (Redis's `signalKeyAsReady`).
    pub ready_keys: Vec<DbKey>,
    /// Clients blocked on each (database, key), in arrival order: slab key
    /// and client id (the id guards against a reused slot).
    pub blocked: HashMap<DbKey, VecDeque<(usize, u64)>>,
    pub blocked_clients: usize,
    /// Set by a blocking command that found nothing to pop: the loop parks
    /// the client instead of moving on to its next command.
    pub block_request: Option<BlockRequest>,
    /// While a blocked client's command runs again: the key whose signal
    /// woke it. XREAD and XREADGROUP then look at that stream alone, as
    /// Redis's `serveClientsBlockedOnStreamKey` (and XREADGROUP tells the
    /// client its stream or group went, instead of waiting again).
    pub woken_by: Option<Vec<u8>>,
    /// The port actually listened on (for INFO).
    pub tcp_port: u16,
    /// Snapshots, the forked child and their counters.
    pub persist: crate::persist::Persistence,
    /// EXEC is running its queue: a BGSAVE now is only scheduled.
    pub in_exec: bool,
    /// The append-only file.
    pub aof: crate::aof::Aof,
    /// The AOF is being replayed through `dispatch`.
    pub replaying: bool,
    /// How deep `dispatch` is nested (EXEC runs its queue through it).
    pub call_depth: usize,
    /// The TCP listeners: plain, then TLS, then `metrics-port`'s; the one
    /// at index i polls under token `LISTENER_BASE - i`.
    pub listeners: Vec<mio::net::TcpListener>,
    /// Which of `listeners` is `metrics-port`'s, if any.
    pub metrics_listener: Option<usize>,
    /// Listening sockets, which a forked child closes.
    pub listener_fds: Vec<std::os::fd::RawFd>,
    /// The `unixsocket` listener, among `listener_fds`.
    pub unix_fd: Option<std::os::fd::RawFd>,
    /// New listeners CONFIG SET port or tls-port bound, for the loop to
    /// put in place of the old ones.
    pub rebind: Vec<Rebind>,
    /// The `tls-port` listeners among them.
    pub tls_fds: Vec<std::os::fd::RawFd>,
    /// The TLS context new TLS connections start from.
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// The `metrics-port` listener among them.
    pub metrics_fd: Option<std::os::fd::RawFd>,
    /// The loop's poll registry, for clients accepted while a script
    /// keeps the loop busy.
    pub registry: Option<mio::Registry>,
    /// Where the command just run goes even if it changed nothing
    /// (Redis's `forceCommandPropagation`: FLUSHALL on an empty server
    /// everywhere, PUBLISH to the replicas), as `aof::TO_*`.
    pub forced_targets: u8,
    /// What the command just run is logged as, when its handler rewrote
    /// it (Redis's `replaceClientCommandVector`: GEOADD runs as ZADD).
    pub logged_as: Option<crate::propagate::Argv>,
    /// DEBUG PAUSE-CRON 1: the periodic tasks do not run.
    pub cron_paused: bool,
    /// SIGINT or SIGTERM came: the cron starts the shutdown (Redis's
    /// `shutdown_asap`), unless SHUTDOWN ABORT comes first.
    pub signal_shutdown: Option<&'static str>,
    /// A shutdown waiting for lagging replicas.
    pub shutdown_wait: Option<crate::cmd::persist::ShutdownWait>,
    /// SHUTDOWN callers of a shutdown that did not happen: the loop
    /// answers them with an error.
    pub shutdown_refused: Vec<(usize, u64)>,
    /// DEBUG SET-ACTIVE-EXPIRE 0 stops the cron deleting expired keys.
    pub active_expire_enabled: bool,
    /// Per-command calls, time, failures and latency histograms.
    pub command_stats: crate::cmdstats::CommandStats,
    /// The command name clients last sent (see `cmd::LastLookup`).
    pub last_lookup: crate::cmd::LastLookup,
    pub slowlog: crate::slowlog::SlowLog,
    pub latency: crate::latency::LatencyMonitor,
    /// The configured thresholds in clock ticks (see `refresh_thresholds`).
    pub thresholds: Thresholds,
    /// The slowest command of the running loop iteration: (ticks, command
    /// number), for the stall report.
    pub cycle_slowest: (u64, usize),
    /// Slab keys of clients in MONITOR mode.
    pub monitors: Vec<usize>,
    /// Clients that got output from another client's command (MONITOR
    /// lines): the loop schedules their writes.
    pub output_woken: Vec<usize>,
    /// Bytes allocated when the server was ready (MEMORY STATS's
    /// `startup.allocated`).
    pub startup_allocated: u64,
    /// Pub/Sub subscriptions of every client.
    pub pubsub: crate::pubsub::PubSub,
    /// The Lua engine and script cache; out of the state while a script
    /// runs, and `None` after SCRIPT FLUSH until the next script.
    pub scripting: Option<Box<crate::scripting::Engine>>,
    /// Function libraries (FUNCTION LOAD), with their own Lua state.
    pub functions: crate::scripting::functions::Functions,
    /// ACL users; clients name theirs by slot.
    pub users: crate::acl::Users,
    pub acl_log: crate::acl::Log,
    /// Where a running script's writes go (`redis.set_repl`): the AOF,
    /// the replicas, both (`aof::TO_ALL`) or neither.
    pub script_targets: u8,
    /// A command run by a script's `redis.call` is executing.
    pub in_script_call: bool,
    /// The keys the running script declared, while its caller tracks
    /// keys: what a read inside the script remembers for it.
    pub script_keys: Vec<Vec<u8>>,
    /// DEBUG SET-DISABLE-DENY-SCRIPTS 1: scripts may run the commands
    /// flagged `noscript` (a testing aid, as in Redis).
    pub script_deny_disabled: bool,
    /// Client-side caching: who may hold which keys.
    pub tracking: crate::tracking::Tracking,
    /// `CLIENT PAUSE` in force.
    pub pause: Option<Pause>,
    /// `maxmemory`: the eviction pool and counters.
    pub evictor: crate::evict::Evictor,
    /// The memory check before the running command found memory over the
    /// limit with nothing to evict: a script that started then may not
    /// begin writing (Redis's `pre_command_oom_state`).
    pub pre_command_oom: bool,
    /// Bytes of the replicas' query and reply buffers, as last accounted
    /// (`Client::account_buffers`): not counted against `maxmemory`, as
    /// Redis's `freeMemoryGetNotCountedMemory` leaves them out.
    pub replica_buffers: usize,
    /// Bytes of the client table's free slots (kept for the next
    /// connections, as the key tables keep theirs).
    pub client_slots_free: usize,
    /// `CLIENT UNBLOCK` requests: (slab key, with an error rather than as
    /// a timeout), carried out by the loop after the command.
    pub unblock_requests: Vec<(usize, bool)>,
    /// Connections MIGRATE keeps open to its targets.
    pub migrate_sockets: crate::cmd::migrate::MigrateSockets,
}

impl ServerState {
    /// Whether writes are being recorded, for the AOF or for replicas:
    /// the hot path's test before it works out a command's effect form.
    #[inline]
    pub fn propagating(&self) -> bool {
        (self.aof.logging() || self.repl.recording()) && !self.replaying
    }

    /// Where a write can go now (`aof::TO_*`): the AOF when it is on,
    /// the replicas when a backlog records for them.
    pub fn live_targets(&self) -> u8 {
        let aof = if self.aof.logging() {
            crate::aof::TO_AOF
        } else {
            0
        };
        let replicas = if self.repl.recording() {
            crate::aof::TO_REPLICAS
        } else {
            0
        };
        aof | replicas
    }

    /// The running top-level call ended: its commands go to the
    /// replication stream and the AOF (Redis's `propagatePendingCommands`),
    /// in MULTI/EXEC when there are several and `wrap` allows it.
    pub fn end_call(&mut self, wrap: bool) {
        let pending = self.aof.pending();
        if pending.is_empty() {
            return;
        }
        let wrap = wrap && pending.len() > 1;
        match self.aof.pending_for_replicas() {
            None => self.repl.feed_commands(self.aof.pending(), wrap),
            Some(some) if !some.is_empty() => self.repl.feed_commands(&some, wrap),
            Some(_) => {}
        }
        self.aof.end_call(wrap);
    }

    /// Databases log the keys they expire or evict while writes are
    /// recorded (they become DELs), and not otherwise.
    pub fn refresh_expired_logs(&mut self) {
        let wanted = self.propagating();
        for db in &mut self.dbs {
            if wanted != db.expired_log.is_some() {
                db.expired_log = wanted.then(Vec::new);
            }
        }
    }

    pub fn new(config: Config, config_file: Option<String>) -> Self {
        let mut state = Self::unconfigured(config, config_file);
        state.apply_pubsub_default();
        state.apply_requirepass();
        state
    }

    /// `requirepass` is the default user's one password, or none
    /// (Redis's `ACLUpdateDefaultUserPassword`).
    /// Mirrors `acl-pubsub-default` for the rules of new users.
    pub fn apply_pubsub_default(&self) {
        let value = self.config.pending.get("acl-pubsub-default");
        crate::acl::set_pubsub_default(
            value.is_some_and(|v| v.eq_ignore_ascii_case("allchannels")),
        );
    }

    pub fn apply_requirepass(&mut self) {
        let password = &self.config.requirepass;
        let rules = if password.is_empty() {
            vec!["resetpass".to_string(), "nopass".to_string()]
        } else {
            vec!["resetpass".to_string(), format!(">{password}")]
        };
        if let Some(mut user) = self.users.get(crate::acl::Users::DEFAULT).cloned() {
            if user.apply_all(&rules).is_ok() {
                self.users.insert(user);
            }
        }
    }

    fn unconfigured(config: Config, config_file: Option<String>) -> Self {
        Self {
            tcp_port: config.port,
            dbs: (0..config.databases).map(|_| Db::default()).collect(),
            config,
            config_file,
            stats: Stats::default(),
            started: Instant::now(),
            run_id: random_hex_id(),
            repl: crate::repl::Replication::default(),
            next_client_id: 1,
            killed: Vec::new(),
            shutdown: None,
            ready_keys: Vec::new(),
            blocked: HashMap::new(),
            blocked_clients: 0,
            block_request: None,
            woken_by: None,
            persist: crate::persist::Persistence::default(),
            in_exec: false,
            aof: crate::aof::Aof::default(),
            call_depth: 0,
            replaying: false,
            listeners: Vec::new(),
            metrics_listener: None,
            listener_fds: Vec::new(),
            unix_fd: None,
            metrics_fd: None,
            tls_fds: Vec::new(),
            rebind: Vec::new(),
            tls: None,
            registry: None,
            forced_targets: 0,
            logged_as: None,
            command_stats: Default::default(),
            last_lookup: Default::default(),
            slowlog: Default::default(),
            latency: Default::default(),
            thresholds: Thresholds::default(),
            cycle_slowest: (0, 0),
            monitors: Vec::new(),
            pause: None,
            pubsub: Default::default(),
            tracking: Default::default(),
            scripting: crate::scripting::Engine::new().ok().map(Box::new),
            functions: Default::default(),
            users: Default::default(),
            acl_log: Default::default(),
            script_targets: crate::aof::TO_ALL,
            in_script_call: false,
            script_keys: Vec::new(),
            script_deny_disabled: false,
            startup_allocated: 0,
            unblock_requests: Vec::new(),
            output_woken: Vec::new(),
            active_expire_enabled: true,
            cron_paused: false,
            signal_shutdown: None,
            shutdown_wait: None,
            shutdown_refused: Vec::new(),
            migrate_sockets: Default::default(),
            evictor: Default::default(),
            pre_command_oom: false,
            replica_buffers: 0,
            client_slots_free: 0,
        }
    }

    /// Notes that `key` got elements, if anybody is blocked on it (Redis's
    /// `signalKeyAsReady`). Costs nothing when nobody is blocked.
    pub fn signal_key_ready(&mut self, db: usize, key: &[u8]) {
        if !self.blocked.is_empty() && self.blocked.contains_key(&(db, key.to_vec())) {
            self.ready_keys.push((db, key.to_vec()));
        }
    }

    /// Wakes readers blocked on streams deleted or overwritten in any
    /// database since the last call.
    pub fn signal_streams_gone(&mut self) {
        if !crate::db::take_streams_gone() {
            return;
        }
        for db in 0..self.dbs.len() {
            for key in std::mem::take(&mut self.dbs[db].streams_gone) {
                self.signal_key_ready(db, &key);
            }
        }
    }

    /// Signals every key clients of database `db` are blocked on, for a
    /// change that may have touched any of them (FLUSHDB, SWAPDB): each
    /// blocked command looks again (Redis's `scanDatabaseForReadyKeys`
    /// and `scanDatabaseForDeletedStreams`).
    pub fn signal_all_blocked_in(&mut self, db: usize) {
        let keys = self.blocked.keys().filter(|(d, _)| *d == db).cloned();
        self.ready_keys.extend(keys);
    }

    /// Whether a key given an expiry time already past goes at once:
    /// not while the AOF is replayed, nor on a replica, which waits for
    /// its master's DEL (Redis's `checkAlreadyExpired`).
    pub fn deletes_past_expiries(&self) -> bool {
        !self.replaying && !self.repl.is_replica()
    }

    /// Converts `slowlog-log-slower-than` and `latency-monitor-threshold`
    /// to clock ticks, so each command compares two integers, and tells
    /// the databases which events to queue for keyspace notifications.
    /// Called at start, after CONFIG SET and from the cron (the tick rate
    /// is refined there).
    /// How lookups treat keys whose time has come: a replica, and a
    /// server under CLIENT PAUSE, hide them and delete nothing, so the
    /// dataset stays as it is, but for a writable replica's writes
    /// (Redis's `expireIfNeeded`). Called when any of them changes.
    pub fn refresh_expiry_mode(&self) {
        use crate::db::Expiry;
        let writable = !crate::config::pending_bool(&self.config, "replica-read-only");
        crate::db::set_client_expiry(match (self.repl.is_replica(), self.pause.is_some()) {
            (_, true) => Expiry::Hide,
            (true, false) if writable => Expiry::HideUntilWritten,
            (true, false) => Expiry::Hide,
            (false, false) => Expiry::Delete,
        });
    }

    pub fn refresh_thresholds(&mut self) {
        self.refresh_event_classes();
        self.repl.min_replicas_to_write =
            crate::config::pending_u64(&self.config, "min-replicas-to-write");
        if let Some(backlog) = &mut self.repl.backlog {
            let size = crate::config::pending_u64(&self.config, "repl-backlog-size") as usize;
            if size != backlog.size() {
                backlog.resize(size);
            }
        }
        let lfu = crate::evict::Lfu::of(&self.config);
        for db in &mut self.dbs {
            db.lfu = lfu;
        }
        let slower = self.config.slowlog_log_slower_than;
        self.thresholds.slowlog_ticks = if slower < 0 {
            u64::MAX
        } else {
            crate::clock::from_micros(slower as u64)
        };
        let mut limits = self.config.output_limits();
        let replica = &mut limits[crate::config::OutputClass::Replica as usize];
        let backlog_size = crate::config::pending_u64(&self.config, "repl-backlog-size");
        if replica.hard > 0 && replica.hard < backlog_size {
            replica.hard = backlog_size;
        }
        self.thresholds.output_limits = limits;
        let millis = self.config.latency_monitor_threshold;
        self.thresholds.latency_ticks = if millis == 0 {
            u64::MAX
        } else {
            crate::clock::from_micros(millis.saturating_mul(1000))
        };
    }

    /// Tells the databases which events to queue: what keyspace
    /// notifications ask for, and expiry while clients track keys.
    pub fn refresh_event_classes(&mut self) {
        let mut classes = crate::notify::queued_classes(self.config.notify_keyspace_events);
        if self.tracking.active() {
            classes |= crate::notify::EXPIRED | crate::notify::EVICTED;
        }
        for db in &mut self.dbs {
            db.event_classes = classes;
        }
    }

    pub fn allocate_client_id(&mut self) -> u64 {
        let id = self.next_client_id;
        self.next_client_id += 1;
        id
    }
}

/// Current Unix time in milliseconds.
pub fn unix_millis() -> i64 {
    (unix_micros() / 1000) as i64
}

/// Current Unix time in microseconds.
pub fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// A 40-hex-digit id like Redis's `run_id`, unique per process start.
pub fn random_hex_id() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::with_capacity(40);
    while out.len() < 40 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(unix_micros());
        hasher.write_u32(std::process::id());
        out.push_str(&format!("{:016x}", hasher.finish()));
    }
    out.truncate(40);
    out
}
