//! The one settings table, Redis's `config.c` in miniature. Every setting
//! has a name, a type with bounds, a default and a mutability flag, and the
//! same entry serves the config file, `--name value` on the command line,
//! `CONFIG GET` and `CONFIG SET`: one mechanism, three doors.
//!
//! Values are parsed and printed as Redis does: memory sizes take `1k`
//! (1000), `1kb` (1024), `mb`, `gb`; booleans are `yes`/`no`.

use crate::glob::glob_match;

/// Redis's log levels, from most to least verbose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
}

const LOG_LEVELS: &[&str] = &["debug", "verbose", "notice", "warning"];
/// How a supervisor runs the server; with one, `daemonize` is ignored.
pub const SUPERVISED: &[&str] = &["upstart", "systemd", "auto", "no"];

impl LogLevel {
    fn from_index(i: usize) -> Self {
        match i {
            0 => Self::Debug,
            1 => Self::Verbose,
            2 => Self::Notice,
            _ => Self::Warning,
        }
    }
}

/// Hard and soft output limits for normal clients
/// (`client-output-buffer-limit normal <hard> <soft> <soft-seconds>`);
/// 0 disables a limit, which is Redis's default for normal clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutputLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// `appendfsync`: when the AOF is flushed to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendFsync {
    EverySec,
    Always,
    No,
}

const APPENDFSYNC: &[&str] = &["everysec", "always", "no"];

/// Settings CONFIG SET refuses unless `enable-protected-configs` allows it
/// Old names Redis 7.0 still accepts, each answering for the setting it
/// was renamed to; `CONFIG GET` lists both.
const ALIASES: &[(&str, &str)] = &[
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("lua-time-limit", "busy-reply-threshold"),
];

use crate::config_pending::{Check, PENDING, PENDING_ALIASES};

/// A setting kept as text (see `config_pending`): its value, or Redis's
/// default when it was never set.
pub fn pending_text<'a>(config: &'a Config, name: &str) -> &'a str {
    match config.pending.get(name) {
        Some(value) => value,
        None => PENDING
            .iter()
            .find(|(n, ..)| *n == name)
            .map_or("", |(_, default, ..)| default),
    }
}

/// A numeric setting kept as text (0 when unset and without default).
pub fn pending_u64(config: &Config, name: &str) -> u64 {
    pending_text(config, name).parse().unwrap_or(0)
}

/// A yes/no setting kept as text.
pub fn pending_bool(config: &Config, name: &str) -> bool {
    pending_text(config, name) == "yes"
}

/// The pending setting (see `config_pending`) a name or old name stands
/// for: its index in `PENDING`.
fn pending_index(name: &str) -> Option<usize> {
    let name = PENDING_ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
        .map_or(name, |&(_, canonical)| canonical);
    PENDING
        .iter()
        .position(|(n, _, _, _)| n.eq_ignore_ascii_case(name))
}

/// Settings for tests, left out of `CONFIG GET` patterns as Redis leaves
/// out its HIDDEN_CONFIG ones (named exactly, they answer).
const HIDDEN: &[&str] = &[
    "rdb-key-save-delay",
    "key-load-delay",
    "loading-process-events-interval-bytes",
    "watchdog-period",
    "use-exit-on-panic",
];

/// The CPUs of a `*_cpulist` setting (`0,2,4-7`, `1-7:2` with a step),
/// as Redis's `setcpuaffinity` reads it.
pub fn parse_cpulist(text: &str) -> Result<Vec<usize>, String> {
    let bad = || "Invalid cpu list".to_string();
    let mut cpus = Vec::new();
    for item in text.split(',').filter(|i| !i.is_empty()) {
        let (range, step) = match item.split_once(':') {
            Some((range, step)) => (range, step.parse::<usize>().map_err(|_| bad())?),
            None => (item, 1),
        };
        let (first, last) = match range.split_once('-') {
            Some((a, b)) => (a.parse::<usize>(), b.parse::<usize>()),
            None => (range.parse::<usize>(), range.parse::<usize>()),
        };
        let (Ok(first), Ok(last)) = (first, last) else {
            return Err(bad());
        };
        if step == 0 || first > last || last >= 1024 {
            return Err(bad());
        }
        cpus.extend((first..=last).step_by(step));
    }
    Ok(cpus)
}

/// (Redis 7.0's PROTECTED_CONFIG): where files are written.
const PROTECTED: &[&str] = &["dir", "dbfilename"];

/// The server's settings, typed. Read them directly; change them through
/// [`Config::set`] so bounds are enforced.
#[derive(Debug, Clone)]
pub struct Config {
    pub port: u16,
    pub bind: Vec<String>,
    pub tcp_backlog: u32,
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub maxclients: u64,
    pub databases: usize,
    pub loglevel: LogLevel,
    pub logfile: String,
    /// Fork into the background at startup (unless supervised).
    pub daemonize: bool,
    /// Where the pid is written ("" for nowhere unless daemonized).
    pub pidfile: String,
    /// The Unix domain socket to listen on as well ("" for none).
    pub unixsocket: String,
    /// The socket file's mode, octal as written (0: left to the umask).
    pub unixsocketperm: u32,
    /// The default user's password ("" for none).
    pub requirepass: String,
    /// Refuse non-loopback clients while the default user has no password.
    pub protected_mode: bool,
    /// Where ACL SAVE writes users and ACL LOAD reads them.
    pub aclfile: String,
    /// `user` directives: the name, then the rules, in file order.
    pub users: Vec<Vec<String>>,
    /// `rename-command old new` directives, lower-cased ("" removes).
    pub renames: Vec<(String, String)>,
    /// `supervised`, an index in `SUPERVISED`.
    pub supervised: usize,
    pub hz: u32,
    /// Microseconds the loop sleeps before polling after a round that read
    /// pipelined batches from a few of many clients; 0 disables
    /// (coalesce.rs).
    pub pipeline_coalesce_us: u64,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub output_limit_normal: OutputLimit,
    /// The other classes of `client-output-buffer-limit`, kept verbatim for
    /// `CONFIG GET`: rudis has no replicas or pub/sub clients yet.
    output_limit_others: String,
    /// Save points: pairs of `<seconds> <changes>`, or empty.
    pub save: String,
    pub rdbcompression: bool,
    pub rdbchecksum: bool,
    pub stop_writes_on_bgsave_error: bool,
    pub rdb_del_sync_files: bool,
    pub rdb_save_incremental_fsync: bool,
    /// Microseconds a snapshot child sleeps per key: lets tests catch a
    /// BGSAVE in progress, as Redis's test suite does.
    pub rdb_key_save_delay: i64,
    /// Microseconds a load sleeps per key or AOF command (a negative -N:
    /// one in N sleeps a microsecond), so tests can catch a load running.
    pub key_load_delay: i64,
    /// Bytes of a snapshot read between two rounds answering clients.
    pub loading_process_events_interval_bytes: u64,
    pub appendonly: bool,
    pub appendfilename: String,
    pub appenddirname: String,
    pub appendfsync: AppendFsync,
    pub no_appendfsync_on_rewrite: bool,
    pub auto_aof_rewrite_percentage: i64,
    pub auto_aof_rewrite_min_size: u64,
    pub aof_load_truncated: bool,
    pub aof_use_rdb_preamble: bool,
    pub aof_timestamp_enabled: bool,
    pub aof_rewrite_incremental_fsync: bool,
    /// `enable-debug-command`: 0 no, 1 yes, 2 local (loopback clients only).
    pub enable_debug_command: usize,
    pub maxmemory: u64,
    pub maxmemory_policy: crate::evict::Policy,
    pub maxmemory_samples: u32,
    pub maxmemory_eviction_tenacity: u32,
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u32,
    /// `maxmemory-clients`: bytes, or a percentage of `maxmemory`.
    pub maxmemory_clients: ClientsLimit,
    pub dir: String,
    pub dbfilename: String,
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    /// `hll-sparse-max-bytes`: past this a HyperLogLog goes dense.
    pub hll_sparse_max_bytes: usize,
    /// `stream-node-max-bytes` and `stream-node-max-entries`: when a
    /// stream starts a new node (0: no limit).
    pub stream_node_max_bytes: usize,
    pub stream_node_max_entries: usize,
    /// `list-max-listpack-size`: negative, a node size class; positive,
    /// elements per node.
    pub list_max_listpack_size: i64,
    /// `sanitize-dump-payload` (no, yes, clients). rudis validates every
    /// payload and file whole whatever it says: the setting is kept for
    /// configs and tools that read it.
    pub sanitize_dump_payload: usize,
    /// `aof-disable-auto-gc`: keep the files a rewrite replaced.
    pub aof_disable_auto_gc: bool,
    /// CPUs the snapshot and AOF-rewrite children run on (empty: any).
    pub bgsave_cpulist: String,
    pub aof_rewrite_cpulist: String,
    /// Microseconds; -1 disables the slow log.
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: u64,
    /// Entries kept in ACL LOG.
    pub acllog_max_len: u64,
    /// Milliseconds; 0 disables the latency monitor.
    pub latency_monitor_threshold: u64,
    pub latency_tracking: bool,
    /// Milliseconds a script may run before other clients are answered
    /// `-BUSY` and SCRIPT KILL is heard.
    pub busy_reply_threshold: u64,
    /// Keys remembered for client-side caching before the oldest are
    /// invalidated to make room; 0 for no limit.
    pub tracking_table_max_keys: u64,
    /// `notify-keyspace-events` as flags (`crate::notify`).
    pub notify_keyspace_events: u32,
    pub latency_tracking_info_percentiles: Vec<f64>,
    /// rudis's own: a port that serves only Prometheus scrapes (0: none).
    pub metrics_port: u16,
    /// Settings accepted but not acted on yet (`config_pending`), by name.
    pub pending: std::collections::BTreeMap<&'static str, String>,
}

type IntGet = fn(&Config) -> i64;
type IntSet = fn(&mut Config, i64);

enum Kind {
    Int {
        min: i64,
        max: i64,
        memory: bool,
        get: IntGet,
        set: IntSet,
    },
    Bool {
        get: fn(&Config) -> bool,
        set: fn(&mut Config, bool),
    },
    Enum {
        values: &'static [&'static str],
        get: fn(&Config) -> usize,
        set: fn(&mut Config, usize),
    },
    Text {
        get: fn(&Config) -> String,
        set: fn(&mut Config, &str) -> Result<(), String>,
    },
}

struct Setting {
    name: &'static str,
    mutable: bool,
    default: &'static str,
    kind: Kind,
}

const INT_MAX: i64 = i32::MAX as i64;
const UINT_MAX: i64 = u32::MAX as i64;

/// Redis's `CONFIG_MIN_HZ` and `CONFIG_MAX_HZ`: `hz` is clamped to this.
pub const MIN_HZ: u32 = 1;
pub const MAX_HZ: u32 = 500;

/// A yes/no setting stored in a `bool` field of `Config`.
macro_rules! bool_setting {
    ($name:expr, $mutable:expr, $default:expr, $field:ident) => {
        Setting {
            name: $name,
            mutable: $mutable,
            default: $default,
            kind: Kind::Bool {
                get: |c| c.$field,
                set: |c, v| c.$field = v,
            },
        }
    };
}

/// A mutable number setting stored in a `u32` field of `Config`.
macro_rules! u32_setting {
    ($name:expr, $default:expr, $min:expr, $max:expr, $field:ident) => {
        Setting {
            name: $name,
            mutable: true,
            default: $default,
            kind: Kind::Int {
                min: $min,
                max: $max,
                memory: false,
                get: |c| i64::from(c.$field),
                set: |c, v| c.$field = v as u32,
            },
        }
    };
}

static SETTINGS: &[Setting] = &[
    Setting {
        name: "port",
        mutable: true,
        default: "6379",
        kind: Kind::Int {
            min: 0,
            max: 65535,
            memory: false,
            get: |c| c.port.into(),
            set: |c, v| c.port = v as u16,
        },
    },
    Setting {
        name: "bind",
        mutable: true,
        default: "* -::*",
        kind: Kind::Text {
            get: |c| c.bind.join(" "),
            set: |c, v| {
                // Redis's CONFIG_BINDADDR_MAX; "" is no address at all.
                let addrs: Vec<String> = v.split_whitespace().map(str::to_string).collect();
                if addrs.len() > 16 {
                    return Err("Too many bind addresses specified.".into());
                }
                c.bind = addrs;
                Ok(())
            },
        },
    },
    Setting {
        name: "tcp-backlog",
        mutable: false,
        default: "511",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            memory: false,
            get: |c| c.tcp_backlog.into(),
            set: |c, v| c.tcp_backlog = v as u32,
        },
    },
    Setting {
        name: "timeout",
        mutable: true,
        default: "0",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            memory: false,
            get: |c| c.timeout as i64,
            set: |c, v| c.timeout = v as u64,
        },
    },
    Setting {
        name: "tcp-keepalive",
        mutable: true,
        default: "300",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            memory: false,
            get: |c| c.tcp_keepalive as i64,
            set: |c, v| c.tcp_keepalive = v as u64,
        },
    },
    Setting {
        name: "maxclients",
        mutable: true,
        default: "10000",
        kind: Kind::Int {
            min: 1,
            max: UINT_MAX,
            memory: false,
            get: |c| c.maxclients as i64,
            set: |c, v| c.maxclients = v as u64,
        },
    },
    Setting {
        name: "databases",
        mutable: false,
        default: "16",
        kind: Kind::Int {
            min: 1,
            max: INT_MAX,
            memory: false,
            get: |c| c.databases as i64,
            set: |c, v| c.databases = v as usize,
        },
    },
    Setting {
        name: "loglevel",
        mutable: true,
        default: "notice",
        kind: Kind::Enum {
            values: LOG_LEVELS,
            get: |c| c.loglevel as usize,
            set: |c, i| c.loglevel = LogLevel::from_index(i),
        },
    },
    Setting {
        name: "logfile",
        mutable: false,
        default: "",
        kind: Kind::Text {
            get: |c| c.logfile.clone(),
            set: |c, v| {
                c.logfile = v.to_string();
                Ok(())
            },
        },
    },
    bool_setting!("daemonize", false, "no", daemonize),
    bool_setting!("protected-mode", true, "yes", protected_mode),
    Setting {
        name: "aclfile",
        mutable: false,
        default: "",
        kind: Kind::Text {
            get: |c| c.aclfile.clone(),
            set: |c, v| {
                c.aclfile = v.to_string();
                Ok(())
            },
        },
    },
    Setting {
        name: "requirepass",
        mutable: true,
        default: "",
        kind: Kind::Text {
            get: |c| c.requirepass.clone(),
            set: |c, v| {
                c.requirepass = v.to_string();
                Ok(())
            },
        },
    },
    Setting {
        name: "pidfile",
        mutable: false,
        default: "",
        kind: Kind::Text {
            get: |c| c.pidfile.clone(),
            set: |c, v| {
                c.pidfile = v.to_string();
                Ok(())
            },
        },
    },
    Setting {
        name: "unixsocket",
        mutable: false,
        default: "",
        kind: Kind::Text {
            get: |c| c.unixsocket.clone(),
            set: |c, v| {
                c.unixsocket = v.to_string();
                Ok(())
            },
        },
    },
    Setting {
        name: "unixsocketperm",
        mutable: false,
        default: "0",
        kind: Kind::Text {
            get: |c| format!("{:o}", c.unixsocketperm),
            set: |c, v| {
                // Redis's OCTAL_CONFIG: read and shown in base 8.
                let mode = u32::from_str_radix(v, 8)
                    .map_err(|_| "argument couldn't be parsed as an octal number".to_string())?;
                if mode > 0o777 {
                    return Err("argument must be between 0 and 777 inclusive".into());
                }
                c.unixsocketperm = mode;
                Ok(())
            },
        },
    },
    Setting {
        name: "supervised",
        mutable: false,
        default: "no",
        kind: Kind::Enum {
            values: SUPERVISED,
            get: |c| c.supervised,
            set: |c, i| c.supervised = i,
        },
    },
    Setting {
        name: "hz",
        mutable: true,
        default: "10",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            memory: false,
            get: |c| c.hz.into(),
            set: |c, v| c.hz = (v as u32).clamp(MIN_HZ, MAX_HZ),
        },
    },
    Setting {
        name: "pipeline-coalesce-us",
        mutable: true,
        default: "20",
        kind: Kind::Int {
            min: 0,
            max: 1000,
            memory: false,
            get: |c| c.pipeline_coalesce_us as i64,
            set: |c, v| c.pipeline_coalesce_us = v as u64,
        },
    },
    Setting {
        name: "proto-max-bulk-len",
        mutable: true,
        default: "512mb",
        kind: Kind::Int {
            min: 1024 * 1024,
            max: i64::MAX,
            memory: true,
            get: |c| c.proto_max_bulk_len as i64,
            set: |c, v| c.proto_max_bulk_len = v as u64,
        },
    },
    Setting {
        name: "client-query-buffer-limit",
        mutable: true,
        default: "1gb",
        kind: Kind::Int {
            min: 1024 * 1024,
            max: i64::MAX,
            memory: true,
            get: |c| c.client_query_buffer_limit as i64,
            set: |c, v| c.client_query_buffer_limit = v as u64,
        },
    },
    Setting {
        name: "client-output-buffer-limit",
        mutable: true,
        default: "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        kind: Kind::Text {
            get: output_limits_to_string,
            set: parse_output_limits,
        },
    },
    Setting {
        name: "save",
        mutable: true,
        default: "3600 1 300 100 60 10000",
        kind: Kind::Text {
            get: |c| c.save.clone(),
            set: parse_save,
        },
    },
    bool_setting!("appendonly", true, "no", appendonly),
    Setting {
        name: "maxmemory",
        mutable: true,
        default: "0",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            memory: true,
            get: |c| c.maxmemory as i64,
            set: |c, v| c.maxmemory = v as u64,
        },
    },
    Setting {
        name: "maxmemory-policy",
        mutable: true,
        default: "noeviction",
        kind: Kind::Enum {
            values: &[
                "volatile-lru",
                "volatile-lfu",
                "volatile-random",
                "volatile-ttl",
                "allkeys-lru",
                "allkeys-lfu",
                "allkeys-random",
                "noeviction",
            ],
            get: |c| {
                crate::evict::Policy::ALL
                    .iter()
                    .position(|&p| p == c.maxmemory_policy)
                    .unwrap_or(0)
            },
            set: |c, i| c.maxmemory_policy = crate::evict::Policy::ALL[i],
        },
    },
    u32_setting!("maxmemory-samples", "5", 1, INT_MAX, maxmemory_samples),
    u32_setting!(
        "maxmemory-eviction-tenacity",
        "10",
        0,
        100,
        maxmemory_eviction_tenacity
    ),
    u32_setting!("lfu-log-factor", "10", 0, INT_MAX, lfu_log_factor),
    u32_setting!("lfu-decay-time", "1", 0, INT_MAX, lfu_decay_time),
    Setting {
        name: "maxmemory-clients",
        mutable: true,
        default: "0",
        kind: Kind::Text {
            get: |c| match c.maxmemory_clients {
                ClientsLimit::Bytes(n) => n.to_string(),
                ClientsLimit::Percent(0) => "0".to_string(),
                ClientsLimit::Percent(p) => format!("{p}%"),
            },
            set: |c, v| {
                c.maxmemory_clients = ClientsLimit::parse(v)?;
                Ok(())
            },
        },
    },
    Setting {
        name: "dir",
        mutable: true,
        default: ".",
        kind: Kind::Text {
            // Redis works inside `dir` (chdir), so relative file names and
            // child processes agree, and CONFIG GET shows the absolute path.
            get: |_| {
                std::env::current_dir()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default()
            },
            set: |c, v| {
                std::env::set_current_dir(v).map_err(|e| crate::errors::os_error_text(&e))?;
                c.dir = v.to_string();
                Ok(())
            },
        },
    },
    Setting {
        name: "dbfilename",
        mutable: true,
        default: "dump.rdb",
        kind: Kind::Text {
            get: |c| c.dbfilename.clone(),
            set: |c, v| {
                if v.contains('/') {
                    return Err("dbfilename can't be a path, just a filename".into());
                }
                c.dbfilename = v.to_string();
                Ok(())
            },
        },
    },
    Setting {
        name: "enable-debug-command",
        mutable: false,
        default: "no",
        kind: Kind::Enum {
            values: &["no", "yes", "local"],
            get: |c| c.enable_debug_command,
            set: |c, i| c.enable_debug_command = i,
        },
    },
    bool_setting!("rdbcompression", true, "yes", rdbcompression),
    bool_setting!("rdbchecksum", false, "yes", rdbchecksum),
    bool_setting!(
        "stop-writes-on-bgsave-error",
        true,
        "yes",
        stop_writes_on_bgsave_error
    ),
    bool_setting!("rdb-del-sync-files", true, "no", rdb_del_sync_files),
    bool_setting!(
        "rdb-save-incremental-fsync",
        true,
        "yes",
        rdb_save_incremental_fsync
    ),
    Setting {
        name: "rdb-key-save-delay",
        mutable: true,
        default: "0",
        kind: Kind::Int {
            min: i32::MIN as i64,
            max: INT_MAX,
            memory: false,
            get: |c| c.rdb_key_save_delay,
            set: |c, v| c.rdb_key_save_delay = v,
        },
    },
    Setting {
        name: "key-load-delay",
        mutable: true,
        default: "0",
        kind: Kind::Int {
            min: i32::MIN as i64,
            max: INT_MAX,
            memory: false,
            get: |c| c.key_load_delay,
            set: |c, v| c.key_load_delay = v,
        },
    },
    Setting {
        name: "loading-process-events-interval-bytes",
        mutable: true,
        default: "2097152",
        kind: Kind::Int {
            min: 1024,
            max: INT_MAX,
            memory: false,
            get: |c| c.loading_process_events_interval_bytes as i64,
            set: |c, v| c.loading_process_events_interval_bytes = v as u64,
        },
    },
    Setting {
        name: "metrics-port",
        mutable: true,
        default: "0",
        kind: Kind::Int {
            min: 0,
            max: 65535,
            memory: false,
            get: |c| c.metrics_port.into(),
            set: |c, v| c.metrics_port = v as u16,
        },
    },
    Setting {
        name: "slowlog-log-slower-than",
        mutable: true,
        default: "10000",
        kind: Kind::Int {
            min: -1,
            max: i64::MAX,
            memory: false,
            get: |c| c.slowlog_log_slower_than,
            set: |c, v| c.slowlog_log_slower_than = v,
        },
    },
    Setting {
        name: "acllog-max-len",
        mutable: true,
        default: "128",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            memory: false,
            get: |c| c.acllog_max_len as i64,
            set: |c, v| c.acllog_max_len = v as u64,
        },
    },
    Setting {
        name: "slowlog-max-len",
        mutable: true,
        default: "128",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            memory: false,
            get: |c| c.slowlog_max_len as i64,
            set: |c, v| c.slowlog_max_len = v as u64,
        },
    },
    Setting {
        name: "latency-monitor-threshold",
        mutable: true,
        default: "0",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            memory: false,
            get: |c| c.latency_monitor_threshold as i64,
            set: |c, v| c.latency_monitor_threshold = v as u64,
        },
    },
    bool_setting!("latency-tracking", true, "yes", latency_tracking),
    Setting {
        name: "busy-reply-threshold",
        mutable: true,
        default: "5000",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            memory: false,
            get: |c| c.busy_reply_threshold as i64,
            set: |c, v| c.busy_reply_threshold = v as u64,
        },
    },
    Setting {
        name: "tracking-table-max-keys",
        mutable: true,
        default: "1000000",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            memory: false,
            get: |c| c.tracking_table_max_keys as i64,
            set: |c, v| c.tracking_table_max_keys = v as u64,
        },
    },
    Setting {
        name: "notify-keyspace-events",
        mutable: true,
        default: "",
        kind: Kind::Text {
            get: |c| crate::notify::flags_to_string(c.notify_keyspace_events),
            set: |c, v| {
                c.notify_keyspace_events = crate::notify::parse_flags(v)?;
                Ok(())
            },
        },
    },
    Setting {
        name: "latency-tracking-info-percentiles",
        mutable: true,
        default: "50 99 99.9",
        kind: Kind::Text {
            get: |c| {
                let names: Vec<String> = c
                    .latency_tracking_info_percentiles
                    .iter()
                    .map(|p| crate::cmdstats::percentile_name(*p))
                    .collect();
                names.join(" ")
            },
            set: |c, v| {
                let mut values = Vec::new();
                for word in v.split_whitespace() {
                    let p = crate::float::parse_double(word.as_bytes()).ok_or_else(|| {
                        "Invalid latency-tracking-info-percentiles parameters".to_string()
                    })?;
                    if !(0.0..=100.0).contains(&p) {
                        return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                    }
                    values.push(p);
                }
                c.latency_tracking_info_percentiles = values;
                Ok(())
            },
        },
    },
    Setting {
        name: "list-max-listpack-size",
        mutable: true,
        default: "-2",
        kind: Kind::Int {
            min: i32::MIN as i64,
            max: INT_MAX,
            memory: false,
            get: |c| c.list_max_listpack_size,
            set: |c, v| c.list_max_listpack_size = v,
        },
    },
    Setting {
        name: "sanitize-dump-payload",
        mutable: true,
        default: "no",
        kind: Kind::Enum {
            values: &["no", "yes", "clients"],
            get: |c| c.sanitize_dump_payload,
            set: |c, i| c.sanitize_dump_payload = i,
        },
    },
    bool_setting!("aof-disable-auto-gc", true, "no", aof_disable_auto_gc),
    Setting {
        name: "bgsave_cpulist",
        mutable: false,
        default: "",
        kind: Kind::Text {
            get: |c| c.bgsave_cpulist.clone(),
            set: |c, v| {
                parse_cpulist(v)?;
                c.bgsave_cpulist = v.to_string();
                Ok(())
            },
        },
    },
    Setting {
        name: "aof_rewrite_cpulist",
        mutable: false,
        default: "",
        kind: Kind::Text {
            get: |c| c.aof_rewrite_cpulist.clone(),
            set: |c, v| {
                parse_cpulist(v)?;
                c.aof_rewrite_cpulist = v.to_string();
                Ok(())
            },
        },
    },
    Setting {
        name: "appendfilename",
        mutable: false,
        default: "appendonly.aof",
        kind: Kind::Text {
            get: |c| c.appendfilename.clone(),
            set: |c, v| {
                if v.contains('/') {
                    return Err("appendfilename can't be a path, just a filename".into());
                }
                c.appendfilename = v.to_string();
                Ok(())
            },
        },
    },
    Setting {
        name: "appenddirname",
        mutable: false,
        default: "appendonlydir",
        kind: Kind::Text {
            get: |c| c.appenddirname.clone(),
            set: |c, v| {
                if v.contains('/') {
                    return Err("appenddirname can't be a path, just a dirname".into());
                }
                c.appenddirname = v.to_string();
                Ok(())
            },
        },
    },
    Setting {
        name: "appendfsync",
        mutable: true,
        default: "everysec",
        kind: Kind::Enum {
            values: APPENDFSYNC,
            get: |c| c.appendfsync as usize,
            set: |c, i| {
                c.appendfsync = match i {
                    0 => AppendFsync::EverySec,
                    1 => AppendFsync::Always,
                    _ => AppendFsync::No,
                }
            },
        },
    },
    bool_setting!(
        "no-appendfsync-on-rewrite",
        true,
        "no",
        no_appendfsync_on_rewrite
    ),
    Setting {
        name: "auto-aof-rewrite-percentage",
        mutable: true,
        default: "100",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
            memory: false,
            get: |c| c.auto_aof_rewrite_percentage,
            set: |c, v| c.auto_aof_rewrite_percentage = v,
        },
    },
    Setting {
        name: "auto-aof-rewrite-min-size",
        mutable: true,
        default: "64mb",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            memory: true,
            get: |c| c.auto_aof_rewrite_min_size as i64,
            set: |c, v| c.auto_aof_rewrite_min_size = v as u64,
        },
    },
    bool_setting!("aof-load-truncated", true, "yes", aof_load_truncated),
    bool_setting!("aof-use-rdb-preamble", true, "yes", aof_use_rdb_preamble),
    bool_setting!("aof-timestamp-enabled", true, "no", aof_timestamp_enabled),
    bool_setting!(
        "aof-rewrite-incremental-fsync",
        true,
        "yes",
        aof_rewrite_incremental_fsync
    ),
    Setting {
        name: "hash-max-listpack-entries",
        mutable: true,
        // Redis's compiled-in default; only its sample redis.conf says 128.
        default: "512",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            memory: false,
            get: |c| c.hash_max_listpack_entries as i64,
            set: |c, v| c.hash_max_listpack_entries = v as usize,
        },
    },
    Setting {
        name: "hash-max-listpack-value",
        mutable: true,
        default: "64",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            memory: true,
            get: |c| c.hash_max_listpack_value as i64,
            set: |c, v| c.hash_max_listpack_value = v as usize,
        },
    },
    Setting {
        name: "set-max-intset-entries",
        mutable: true,
        default: "512",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            memory: false,
            get: |c| c.set_max_intset_entries as i64,
            set: |c, v| c.set_max_intset_entries = v as usize,
        },
    },
    Setting {
        name: "hll-sparse-max-bytes",
        mutable: true,
        default: "3000",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            memory: true,
            get: |c| c.hll_sparse_max_bytes as i64,
            set: |c, v| c.hll_sparse_max_bytes = v as usize,
        },
    },
    Setting {
        name: "stream-node-max-bytes",
        mutable: true,
        default: "4096",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            memory: true,
            get: |c| c.stream_node_max_bytes as i64,
            set: |c, v| c.stream_node_max_bytes = v as usize,
        },
    },
    Setting {
        name: "stream-node-max-entries",
        mutable: true,
        default: "100",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            memory: false,
            get: |c| c.stream_node_max_entries as i64,
            set: |c, v| c.stream_node_max_entries = v as usize,
        },
    },
    Setting {
        name: "zset-max-listpack-entries",
        mutable: true,
        default: "128",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            memory: false,
            get: |c| c.zset_max_listpack_entries as i64,
            set: |c, v| c.zset_max_listpack_entries = v as usize,
        },
    },
    Setting {
        name: "zset-max-listpack-value",
        mutable: true,
        default: "64",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            memory: true,
            get: |c| c.zset_max_listpack_value as i64,
            set: |c, v| c.zset_max_listpack_value = v as usize,
        },
    },
];

fn output_limits_to_string(c: &Config) -> String {
    let n = c.output_limit_normal;
    format!(
        "normal {} {} {} {}",
        n.hard, n.soft, n.soft_seconds, c.output_limit_others
    )
}

/// `client-output-buffer-limit`: groups of `<class> <hard> <soft> <seconds>`.
fn parse_output_limits(c: &mut Config, value: &str) -> Result<(), String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut normal = c.output_limit_normal;
    let mut others: Vec<(String, [u64; 3])> = parse_other_limits(&c.output_limit_others);
    for group in words.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_str() {
            "normal" => "normal",
            "slave" | "replica" => "slave",
            "pubsub" => "pubsub",
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let (Some(hard), Some(soft), Some(secs)) = (
            parse_memory(group[1]),
            parse_memory(group[2]),
            group[3]
                .parse::<u64>()
                .ok()
                .filter(|&s| s <= INT_MAX as u64),
        ) else {
            return Err(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into(),
            );
        };
        if class == "normal" {
            normal = OutputLimit {
                hard,
                soft,
                soft_seconds: secs,
            };
        } else if let Some(entry) = others.iter_mut().find(|(name, _)| name == class) {
            entry.1 = [hard, soft, secs];
        }
    }
    c.output_limit_normal = normal;
    c.output_limit_others = others
        .iter()
        .map(|(name, v)| format!("{name} {} {} {}", v[0], v[1], v[2]))
        .collect::<Vec<_>>()
        .join(" ");
    Ok(())
}

/// The classes of `client-output-buffer-limit`, indexing the array
/// `output_limits` returns.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OutputClass {
    Normal = 0,
    Replica = 1,
    Pubsub = 2,
}

impl Config {
    /// The limits of each class, by `OutputClass`.
    pub fn output_limits(&self) -> [OutputLimit; 3] {
        let others = parse_other_limits(&self.output_limit_others);
        let class = |name: &str| {
            others.iter().find(|(class, _)| class == name).map_or(
                OutputLimit::default(),
                |(_, [hard, soft, seconds])| OutputLimit {
                    hard: *hard,
                    soft: *soft,
                    soft_seconds: *seconds,
                },
            )
        };
        [self.output_limit_normal, class("slave"), class("pubsub")]
    }
}

fn parse_other_limits(text: &str) -> Vec<(String, [u64; 3])> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .chunks(4)
        .filter(|g| g.len() == 4)
        .map(|g| {
            let n = |s: &str| s.parse().unwrap_or(0);
            (g[0].to_string(), [n(g[1]), n(g[2]), n(g[3])])
        })
        .collect()
}

/// `save`: empty, or pairs of `<seconds> <changes>`.
fn parse_save(c: &mut Config, value: &str) -> Result<(), String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    if !words.len().is_multiple_of(2)
        || words
            .iter()
            .any(|w| w.parse::<i64>().map_or(true, |n| n < 0))
    {
        return Err("Invalid save parameters".into());
    }
    c.save = words.join(" ");
    Ok(())
}

/// Parses a memory size as Redis's `memtoull`: a number with an optional
/// unit `b`, `k`, `kb`, `m`, `mb`, `g`, `gb` (case-insensitive).
/// `maxmemory-clients`: a size, or a share of `maxmemory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientsLimit {
    Bytes(u64),
    Percent(u64),
}

impl ClientsLimit {
    fn parse(text: &str) -> Result<ClientsLimit, String> {
        let bad = || "argument must be a memory or percent value".to_string();
        match text.strip_suffix('%') {
            Some(number) => {
                let percent = number.parse::<u64>().map_err(|_| bad())?;
                if percent > 100 {
                    return Err("percentage argument must be less or equal to 100".into());
                }
                Ok(ClientsLimit::Percent(percent))
            }
            None => parse_memory(text)
                .filter(|&n| n <= i64::MAX as u64)
                .map(ClientsLimit::Bytes)
                .ok_or_else(bad),
        }
    }

    /// The limit in bytes (0: none).
    pub fn bytes(self, maxmemory: u64) -> u64 {
        match self {
            ClientsLimit::Bytes(n) => n,
            ClientsLimit::Percent(p) => maxmemory / 100 * p,
        }
    }
}

pub fn parse_memory(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit() && c != '-')
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let multiplier: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(multiplier)
}

impl Default for Config {
    fn default() -> Self {
        let mut config = Config {
            port: 0,
            bind: Vec::new(),
            tcp_backlog: 0,
            timeout: 0,
            tcp_keepalive: 0,
            maxclients: 0,
            databases: 0,
            loglevel: LogLevel::Notice,
            logfile: String::new(),
            daemonize: false,
            pidfile: String::new(),
            unixsocket: String::new(),
            unixsocketperm: 0,
            requirepass: String::new(),
            protected_mode: false,
            aclfile: String::new(),
            users: Vec::new(),
            renames: Vec::new(),
            supervised: 3,
            hz: 0,
            pipeline_coalesce_us: 0,
            proto_max_bulk_len: 0,
            client_query_buffer_limit: 0,
            output_limit_normal: OutputLimit::default(),
            output_limit_others: "slave 268435456 67108864 60 pubsub 33554432 8388608 60".into(),
            save: String::new(),
            rdbcompression: false,
            rdbchecksum: false,
            stop_writes_on_bgsave_error: false,
            rdb_del_sync_files: false,
            rdb_save_incremental_fsync: false,
            rdb_key_save_delay: 0,
            key_load_delay: 0,
            loading_process_events_interval_bytes: 0,
            appendonly: false,
            appendfilename: String::new(),
            appenddirname: String::new(),
            appendfsync: AppendFsync::EverySec,
            no_appendfsync_on_rewrite: false,
            auto_aof_rewrite_percentage: 0,
            auto_aof_rewrite_min_size: 0,
            aof_load_truncated: false,
            aof_use_rdb_preamble: false,
            aof_timestamp_enabled: false,
            aof_rewrite_incremental_fsync: false,
            enable_debug_command: 0,
            maxmemory: 0,
            maxmemory_policy: crate::evict::Policy::NoEviction,
            maxmemory_samples: 0,
            maxmemory_eviction_tenacity: 0,
            lfu_log_factor: 0,
            lfu_decay_time: 0,
            maxmemory_clients: ClientsLimit::Bytes(0),
            dir: String::new(),
            dbfilename: String::new(),
            hash_max_listpack_entries: 0,
            hash_max_listpack_value: 0,
            set_max_intset_entries: 0,
            zset_max_listpack_entries: 0,
            zset_max_listpack_value: 0,
            hll_sparse_max_bytes: 0,
            stream_node_max_bytes: 0,
            stream_node_max_entries: 0,
            list_max_listpack_size: 0,
            sanitize_dump_payload: 0,
            aof_disable_auto_gc: false,
            bgsave_cpulist: String::new(),
            aof_rewrite_cpulist: String::new(),
            slowlog_log_slower_than: 0,
            slowlog_max_len: 0,
            acllog_max_len: 0,
            latency_monitor_threshold: 0,
            latency_tracking: false,
            notify_keyspace_events: 0,
            tracking_table_max_keys: 0,
            busy_reply_threshold: 0,
            latency_tracking_info_percentiles: Vec::new(),
            metrics_port: 0,
            pending: PENDING
                .iter()
                .map(|&(name, default, _, _)| (name, default.to_string()))
                .collect(),
        };
        for setting in SETTINGS {
            if let Err(e) = config.apply(setting, setting.default) {
                unreachable!("default of {} is invalid: {e}", setting.name);
            }
        }
        config
    }
}

/// A setting as `CONFIG REWRITE` writes it: its lines, and whether they
/// must be in the file (the value is not the default).
pub struct Rendered {
    pub name: &'static str,
    pub lines: Vec<String>,
    pub forced: bool,
}

/// Bytes as Redis writes them in a config file: `1gb`, `64mb`, `16kb` when
/// exact, else a plain number (`rewriteConfigFormatMemory`).
fn format_memory(bytes: u64) -> String {
    const KB: u64 = 1024;
    match bytes {
        0 => "0".into(),
        b if b % (KB * KB * KB) == 0 => format!("{}gb", b / (KB * KB * KB)),
        b if b % (KB * KB) == 0 => format!("{}mb", b / (KB * KB)),
        b if b % KB == 0 => format!("{}kb", b / KB),
        b => b.to_string(),
    }
}

/// A string value quoted as Redis's `sdscatrepr` quotes it.
fn repr(value: &str) -> String {
    let mut out = Vec::new();
    crate::errors::push_repr(&mut out, value.as_bytes());
    String::from_utf8_lossy(&out).into_owned()
}

/// Why a `CONFIG SET` or a config directive was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// No such setting.
    Unknown,
    /// The setting exists but the value is bad; Redis's wording follows
    /// "CONFIG SET failed (possibly related to argument '<name>') - ".
    Invalid(String),
    /// The same name twice in one CONFIG SET.
    Duplicate,
}

impl Config {
    /// The save points as (seconds, changes) pairs.
    pub fn save_points(&self) -> Vec<(i64, u64)> {
        let words: Vec<&str> = self.save.split_whitespace().collect();
        words
            .chunks(2)
            .filter_map(|pair| match pair {
                [secs, changes] => Some((secs.parse().ok()?, changes.parse().ok()?)),
                _ => None,
            })
            .collect()
    }

    pub fn hash_limits(&self) -> crate::db::hash::HashLimits {
        crate::db::hash::HashLimits {
            max_entries: self.hash_max_listpack_entries,
            max_value: self.hash_max_listpack_value,
        }
    }

    pub fn zset_limits(&self) -> crate::db::zset::ZSetLimits {
        crate::db::zset::ZSetLimits {
            max_entries: self.zset_max_listpack_entries,
            max_value: self.zset_max_listpack_value,
        }
    }

    fn lookup(name: &str) -> Option<&'static Setting> {
        let name = ALIASES
            .iter()
            .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
            .map_or(name, |&(_, canonical)| canonical);
        SETTINGS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// The setting a config file directive sets, by its current name (old
    /// names map to it, as Redis rewrites them).
    pub fn rewrite_name(directive: &str) -> Option<&'static str> {
        Self::lookup(directive)
            .map(|s| s.name)
            .or_else(|| pending_index(directive).map(|i| PENDING[i].0))
    }

    /// Every setting as `CONFIG REWRITE` writes it, compared with
    /// `defaults`.
    pub fn rendered(&self, defaults: &Config) -> Vec<Rendered> {
        let mut out = Vec::new();
        for setting in SETTINGS {
            let value = self.value_of(setting);
            let changed = value != defaults.value_of(setting);
            let line = |v: &str| format!("{} {v}", setting.name);
            let (lines, forced) = match (setting.name, &setting.kind) {
                ("save", _) => {
                    let points = self.save_points();
                    if points.is_empty() {
                        (vec![line("\"\"")], true)
                    } else {
                        let lines = points
                            .iter()
                            .map(|(s, c)| line(&format!("{s} {c}")))
                            .collect();
                        (lines, true)
                    }
                }
                ("client-output-buffer-limit", _) => {
                    let n = self.output_limit_normal;
                    let mut classes =
                        vec![("normal".to_string(), [n.hard, n.soft, n.soft_seconds])];
                    classes.extend(parse_other_limits(&self.output_limit_others));
                    let lines: Vec<String> = classes
                        .iter()
                        .map(|(class, v)| {
                            let class = if class == "slave" { "replica" } else { class };
                            line(&format!(
                                "{class} {} {} {}",
                                format_memory(v[0]),
                                format_memory(v[1]),
                                v[2]
                            ))
                        })
                        .collect();
                    (lines, changed)
                }
                ("dir", _) => (vec![line(&repr(&value))], true),
                // The default bind drops any bind line (Redis's
                // `rewriteConfigBindOption`); no address at all is `""`.
                ("bind", _) if !changed => (Vec::new(), false),
                ("bind", _) if value.is_empty() => (vec![line("\"\"")], true),
                ("bind" | "latency-tracking-info-percentiles", _) => (vec![line(&value)], changed),
                (_, Kind::Text { .. }) if value.is_empty() && !changed => (Vec::new(), false),
                (_, Kind::Text { .. }) => (vec![line(&repr(&value))], changed),
                (
                    _,
                    Kind::Int {
                        memory: true, get, ..
                    },
                ) => (vec![line(&format_memory(get(self).max(0) as u64))], changed),
                _ => (vec![line(&value)], changed),
            };
            out.push(Rendered {
                name: setting.name,
                lines,
                forced,
            });
        }
        for &(name, default, check, _) in PENDING {
            let value = self.pending.get(name).map_or(default, String::as_str);
            let text = match check {
                Check::Text => repr(value),
                _ => value.to_string(),
            };
            out.push(Rendered {
                name,
                lines: vec![format!("{name} {text}")],
                forced: value != default,
            });
        }
        out
    }

    /// Sets a pending setting, checked as Redis checks its type.
    fn apply_pending(&mut self, index: usize, value: &str) -> Result<(), String> {
        let (name, _, check, _) = PENDING[index];
        let stored = crate::config_pending::check(check, value)?;
        self.pending.insert(name, stored);
        Ok(())
    }

    /// A setting's own name, in lower case (an old alias keeps its name),
    /// if it exists.
    pub fn canonical_name(name: &str) -> Option<&'static str> {
        ALIASES
            .iter()
            .chain(PENDING_ALIASES)
            .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
            .map(|&(alias, _)| alias)
            .or_else(|| Self::lookup(name).map(|s| s.name))
            .or_else(|| pending_index(name).map(|i| PENDING[i].0))
    }

    fn apply(&mut self, setting: &Setting, value: &str) -> Result<(), String> {
        match &setting.kind {
            Kind::Int {
                min,
                max,
                memory,
                set,
                ..
            } => {
                let parsed = if *memory {
                    match parse_memory(value) {
                        Some(v) => i64::try_from(v)
                            .map_err(|_| "argument must be a memory value".to_string())?,
                        None => return Err("argument must be a memory value".into()),
                    }
                } else {
                    value
                        .parse::<i64>()
                        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?
                };
                if parsed < *min || parsed > *max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                set(self, parsed);
            }
            Kind::Bool { set, .. } => match value.to_ascii_lowercase().as_str() {
                "yes" => set(self, true),
                "no" => set(self, false),
                _ => return Err("argument must be 'yes' or 'no'".into()),
            },
            Kind::Enum { values, set, .. } => {
                match values.iter().position(|v| v.eq_ignore_ascii_case(value)) {
                    Some(i) => set(self, i),
                    None => {
                        return Err(format!(
                            "argument(s) must be one of the following: {}",
                            values.join(", ")
                        ))
                    }
                }
            }
            Kind::Text { set, .. } => set(self, value)?,
        }
        Ok(())
    }

    fn value_of(&self, setting: &Setting) -> String {
        match &setting.kind {
            Kind::Int { get, .. } => get(self).to_string(),
            Kind::Bool { get, .. } => if get(self) { "yes" } else { "no" }.to_string(),
            Kind::Enum { values, get, .. } => values[get(self)].to_string(),
            Kind::Text { get, .. } => get(self),
        }
    }

    /// `CONFIG SET` for several settings at once: all are checked before
    /// any is changed, so a failure leaves the config as it was.
    /// `protected_allowed`: whether `enable-protected-configs` lets this
    /// client change `dir` and `dbfilename`.
    pub fn set_many(
        &mut self,
        pairs: &[(&str, &str)],
        protected_allowed: bool,
    ) -> Result<(), (String, ConfigError)> {
        // Every name is checked before any value, as Redis's CONFIG SET
        // does: an unknown name after a bad value is the error reported.
        // Duplicates are by name: an alias and its setting may both be
        // given (the last wins), as in Redis.
        let mut seen: Vec<&str> = Vec::new();
        for &(name, _) in pairs {
            let Some(own_name) = Self::canonical_name(name) else {
                return Err((name.to_string(), ConfigError::Unknown));
            };
            let refused = match Self::lookup(name) {
                Some(setting) if PROTECTED.contains(&setting.name) && !protected_allowed => {
                    Some("can't set protected config")
                }
                Some(setting) if !setting.mutable => Some("can't set immutable config"),
                Some(_) => None,
                None => match pending_index(name) {
                    None => return Err((name.to_string(), ConfigError::Unknown)),
                    Some(index) if !PENDING[index].3 => Some("can't set immutable config"),
                    Some(_) => None,
                },
            };
            if let Some(why) = refused {
                return Err((name.to_string(), ConfigError::Invalid(why.into())));
            }
            if seen.contains(&own_name) {
                return Err((name.to_string(), ConfigError::Duplicate));
            }
            seen.push(own_name);
        }
        let mut updated = self.clone();
        for &(name, value) in pairs {
            let applied = match (Self::lookup(name), pending_index(name)) {
                (Some(setting), _) => updated.apply(setting, value),
                (None, Some(index)) => updated.apply_pending(index, value),
                (None, None) => Ok(()),
            };
            applied.map_err(|e| (name.to_string(), ConfigError::Invalid(e)))?;
        }
        *self = updated;
        Ok(())
    }

    /// `CONFIG GET`: every setting whose name matches one of the glob
    /// patterns, as (name, value) pairs, each setting once. A pattern
    /// without glob characters is looked up directly and echoed as given,
    /// as Redis does.
    pub fn get_matching(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        let mut found: Vec<(String, String)> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for pattern in patterns {
            let is_glob = pattern.iter().any(|b| matches!(b, b'[' | b'*' | b'?'));
            if !is_glob {
                let name = String::from_utf8_lossy(pattern);
                if found.iter().any(|(n, _)| *n == name) {
                    continue;
                }
                if let Some(setting) = Self::lookup(&name) {
                    seen.push(setting.name);
                    found.push((name.into_owned(), self.value_of(setting)));
                } else if let Some(index) = pending_index(&name) {
                    let value = self.pending_value(index);
                    seen.push(PENDING[index].0);
                    found.push((name.into_owned(), value));
                }
                continue;
            }
            for setting in SETTINGS {
                if !seen.contains(&setting.name)
                    && !HIDDEN.contains(&setting.name)
                    && glob_match(pattern, setting.name.as_bytes(), true)
                {
                    seen.push(setting.name);
                    found.push((setting.name.to_string(), self.value_of(setting)));
                }
            }
            for (index, &(name, _, _, _)) in PENDING.iter().enumerate() {
                if !seen.contains(&name)
                    && !HIDDEN.contains(&name)
                    && glob_match(pattern, name.as_bytes(), true)
                {
                    seen.push(name);
                    found.push((name.to_string(), self.pending_value(index)));
                }
            }
            for &(alias, canonical) in PENDING_ALIASES {
                if !seen.contains(&alias) && glob_match(pattern, alias.as_bytes(), true) {
                    if let Some(index) = pending_index(canonical) {
                        seen.push(alias);
                        found.push((alias.to_string(), self.pending_value(index)));
                    }
                }
            }
            for &(alias, canonical) in ALIASES {
                if !seen.contains(&alias) && glob_match(pattern, alias.as_bytes(), true) {
                    if let Some(setting) = Self::lookup(canonical) {
                        seen.push(alias);
                        found.push((alias.to_string(), self.value_of(setting)));
                    }
                }
            }
        }
        found
    }

    /// Applies one directive from the config file or the command line
    /// (`config_load` has checked its number of words). Several arguments
    /// are joined with spaces (`bind a b`, `save 60 1`); none is an empty
    /// value (`save` alone turns snapshots off).
    pub fn set_directive(&mut self, name: &str, args: &[String]) -> Result<(), String> {
        if name.eq_ignore_ascii_case("user") && !args.is_empty() {
            return self.add_user_directive(args);
        }
        if name.eq_ignore_ascii_case("rename-command") {
            return self.add_rename(args);
        }
        let value = args.join(" ");
        match Self::lookup(name) {
            Some(setting) => self.apply(setting, &value),
            None => {
                let index = pending_index(name)
                    .ok_or_else(|| "Bad directive or wrong number of arguments".to_string())?;
                self.apply_pending(index, &value)
            }
        }
    }

    /// A `user name rules...` line, checked as Redis's
    /// `ACLAppendUserForLoading` checks it: rules naming unknown commands
    /// pass here and fail when the users are loaded. The error names the
    /// word Redis names (its index among the merged rules, counted over
    /// the whole line).
    fn add_user_directive(&mut self, args: &[String]) -> Result<(), String> {
        let name = &args[0];
        if self.users.iter().any(|u| u.first() == Some(name)) {
            return Err(format!("Error in user declaration '{name}': Duplicate user found. A user can only be defined once in config files"));
        }
        let raw: Vec<&[u8]> = args[1..].iter().map(|a| a.as_bytes()).collect();
        let Ok(rules) = crate::acl::merge_selector_arguments(&raw) else {
            return Err(
                "Error in user declaration 'user': Unknown command or category name in ACL".into(),
            );
        };
        let mut scratch = crate::acl::User::new(name.as_bytes());
        for (j, rule) in rules.iter().enumerate() {
            match scratch.apply(rule) {
                Ok(()) | Err(crate::acl::RuleError::UnknownCommand) => {}
                Err(e) => {
                    let word = std::iter::once("user")
                        .chain(args.iter().map(String::as_str))
                        .nth(j)
                        .unwrap_or("");
                    return Err(format!("Error in user declaration '{word}': {}", e.text()));
                }
            }
        }
        let mut line = vec![name.clone()];
        line.extend(rules);
        self.users.push(line);
        Ok(())
    }

    /// `rename-command old new`, checked as Redis checks it.
    fn add_rename(&mut self, args: &[String]) -> Result<(), String> {
        let [old, new] = args else {
            return Err("Bad directive or wrong number of arguments".into());
        };
        let (old, new) = (old.to_ascii_lowercase(), new.to_ascii_lowercase());
        let taken = |name: &str| {
            let renamed_to = self.renames.iter().any(|(_, n)| n == name);
            let renamed_away = self.renames.iter().any(|(o, _)| o == name);
            renamed_to || (crate::cmd::is_original_name(name) && !renamed_away)
        };
        if !taken(&old) {
            return Err("No such command in rename-command".into());
        }
        if !new.is_empty() && taken(&new) {
            return Err("Target command name already exists".into());
        }
        self.renames.push((old, new));
        Ok(())
    }

    fn pending_value(&self, index: usize) -> String {
        let (name, default, _, _) = PENDING[index];
        self.pending
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_redis() {
        let c = Config::default();
        assert_eq!(c.port, 6379);
        assert_eq!(c.maxclients, 10000);
        assert_eq!(c.proto_max_bulk_len, 512 * 1024 * 1024);
        assert_eq!(c.client_query_buffer_limit, 1024 * 1024 * 1024);
        assert_eq!(c.tcp_backlog, 511);
        assert_eq!(c.hz, 10);
        let got = c.get_matching(&[b"save", b"appendonly"]);
        assert_eq!(
            got,
            vec![
                ("save".to_string(), "3600 1 300 100 60 10000".to_string()),
                ("appendonly".to_string(), "no".to_string())
            ]
        );
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1KB"), Some(1024));
        assert_eq!(parse_memory("2mb"), Some(2 * 1024 * 1024));
        assert_eq!(parse_memory("1g"), Some(1_000_000_000));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("1x"), None);
        assert_eq!(parse_memory(""), None);
    }

    #[test]
    fn cpu_lists_read_as_redis_reads_them() {
        assert_eq!(parse_cpulist(""), Ok(vec![]));
        assert_eq!(parse_cpulist("0,2"), Ok(vec![0, 2]));
        assert_eq!(parse_cpulist("1-3,8"), Ok(vec![1, 2, 3, 8]));
        assert_eq!(parse_cpulist("0-7:3"), Ok(vec![0, 3, 6]));
        for bad in ["x", "3-1", "1-2:0", "2000", "1-"] {
            assert!(parse_cpulist(bad).is_err(), "{bad}");
        }
        let mut c = Config::default();
        assert!(c.set_directive("bgsave_cpulist", &["0-1".into()]).is_ok());
        assert!(c
            .set_directive("aof_rewrite_cpulist", &["zz".into()])
            .is_err());
    }

    #[test]
    fn config_set_is_atomic_and_checked() {
        let mut c = Config::default();
        assert!(c.set_many(&[("hz", "20"), ("timeout", "5")], false).is_ok());
        assert_eq!((c.hz, c.timeout), (20, 5));
        let err = c
            .set_many(&[("timeout", "7"), ("maxclients", "0")], false)
            .unwrap_err();
        assert_eq!(
            err.1,
            ConfigError::Invalid("argument must be between 1 and 4294967295 inclusive".into())
        );
        assert_eq!(c.timeout, 5, "a failed CONFIG SET changes nothing");
        assert_eq!(
            c.set_many(&[("databases", "3")], false).unwrap_err().1,
            ConfigError::Invalid("can't set immutable config".into())
        );
        assert_eq!(
            c.set_many(&[("nope", "3")], false).unwrap_err().1,
            ConfigError::Unknown
        );
        assert!(c
            .set_many(
                &[("client-output-buffer-limit", "normal 1mb 512kb 10")],
                false
            )
            .is_ok());
        assert_eq!(
            c.output_limit_normal,
            OutputLimit {
                hard: 1 << 20,
                soft: 512 << 10,
                soft_seconds: 10
            }
        );
    }
}
