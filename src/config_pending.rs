//! Redis 7.0 settings kept as text: those rudis accepts and reports but
//! does not act on yet (replication, cluster, defragmentation...), and a
//! few read where they are used (the `tls-*` settings, by `tls.rs`,
//! `acl-pubsub-default`, the replica settings, `jemalloc-bg-thread` and
//! `activerehashing` by the cron). Tools read them with CONFIG GET and config
//! files set them, so each is here with Redis's default, checked as
//! Redis checks its type, stored, served by CONFIG GET and written by
//! CONFIG REWRITE.

/// How a value is checked.
#[derive(Clone, Copy)]
pub enum Check {
    Bool,
    Int(i64, i64),
    Memory,
    Enum(&'static [&'static str]),
    /// An enum whose words may be stored under another name (a synonym
    /// reads back as the word it stands for): (given, stored).
    Choice(&'static [(&'static str, &'static str)]),
    /// `oom-score-adj-values`.
    OomScores,
    /// `shutdown-on-sigint` and `shutdown-on-sigterm`: SHUTDOWN's flags,
    /// any of them, or `default` for none.
    ShutdownFlags,
    /// `replicaof <host> <port>` or `replicaof no one`.
    ReplicaOf,
    Text,
}

/// (name, default, check, mutable)
pub const PENDING: &[(&str, &str, Check, bool)] = &[
    (
        "acl-pubsub-default",
        "resetchannels",
        Check::Enum(&["allchannels", "resetchannels"]),
        true,
    ),
    ("active-defrag-cycle-max", "25", Check::Int(1, 99), true),
    ("active-defrag-cycle-min", "1", Check::Int(1, 99), true),
    (
        "active-defrag-ignore-bytes",
        "104857600",
        Check::Memory,
        true,
    ),
    (
        "active-defrag-max-scan-fields",
        "1000",
        Check::Int(1, i64::MAX),
        true,
    ),
    (
        "active-defrag-threshold-lower",
        "10",
        Check::Int(0, 1000),
        true,
    ),
    (
        "active-defrag-threshold-upper",
        "100",
        Check::Int(0, 1000),
        true,
    ),
    ("active-expire-effort", "1", Check::Int(1, 10), true),
    ("activedefrag", "no", Check::Bool, true),
    ("activerehashing", "yes", Check::Bool, true),
    ("always-show-logo", "no", Check::Bool, false),
    ("bind-source-addr", "", Check::Text, true),
    ("bio_cpulist", "", Check::Text, false),
    (
        "cluster-allow-pubsubshard-when-down",
        "yes",
        Check::Bool,
        true,
    ),
    ("cluster-allow-reads-when-down", "no", Check::Bool, true),
    ("cluster-allow-replica-migration", "yes", Check::Bool, true),
    ("cluster-announce-bus-port", "0", Check::Int(0, 65535), true),
    ("cluster-announce-hostname", "", Check::Text, true),
    ("cluster-announce-ip", "", Check::Text, true),
    ("cluster-announce-port", "0", Check::Int(0, 65535), true),
    ("cluster-announce-tls-port", "0", Check::Int(0, 65535), true),
    ("cluster-config-file", "nodes.conf", Check::Text, false),
    ("cluster-enabled", "no", Check::Bool, false),
    ("cluster-link-sendbuf-limit", "0", Check::Memory, true),
    (
        "cluster-migration-barrier",
        "1",
        Check::Int(0, i32::MAX as i64),
        true,
    ),
    (
        "cluster-node-timeout",
        "15000",
        Check::Int(0, i64::MAX),
        true,
    ),
    ("cluster-port", "0", Check::Int(0, 65535), false),
    (
        "cluster-preferred-endpoint-type",
        "ip",
        Check::Enum(&["ip", "hostname", "unknown-endpoint"]),
        true,
    ),
    ("cluster-replica-no-failover", "no", Check::Bool, true),
    (
        "cluster-replica-validity-factor",
        "10",
        Check::Int(0, i32::MAX as i64),
        true,
    ),
    ("cluster-require-full-coverage", "yes", Check::Bool, true),
    ("crash-log-enabled", "yes", Check::Bool, true),
    ("crash-memcheck-enabled", "yes", Check::Bool, true),
    ("disable-thp", "yes", Check::Bool, false),
    ("dynamic-hz", "yes", Check::Bool, true),
    (
        "enable-module-command",
        "no",
        Check::Enum(&["no", "yes", "local"]),
        false,
    ),
    (
        "enable-protected-configs",
        "no",
        Check::Enum(&["no", "yes", "local"]),
        false,
    ),
    ("hll-sparse-max-bytes", "3000", Check::Memory, true),
    ("ignore-warnings", "", Check::Text, true),
    ("io-threads", "1", Check::Int(1, 128), false),
    ("io-threads-do-reads", "no", Check::Bool, false),
    ("jemalloc-bg-thread", "yes", Check::Bool, true),
    ("lazyfree-lazy-eviction", "no", Check::Bool, true),
    ("lazyfree-lazy-expire", "no", Check::Bool, true),
    ("lazyfree-lazy-server-del", "no", Check::Bool, true),
    ("lazyfree-lazy-user-del", "no", Check::Bool, true),
    ("lazyfree-lazy-user-flush", "no", Check::Bool, true),
    (
        "list-compress-depth",
        "0",
        Check::Int(0, i32::MAX as i64),
        true,
    ),
    ("masterauth", "", Check::Text, true),
    ("masteruser", "", Check::Text, true),
    (
        "min-replicas-max-lag",
        "10",
        Check::Int(0, i32::MAX as i64),
        true,
    ),
    (
        "min-replicas-to-write",
        "0",
        Check::Int(0, i32::MAX as i64),
        true,
    ),
    (
        "oom-score-adj",
        "no",
        Check::Choice(&[
            ("no", "no"),
            ("yes", "yes"),
            ("relative", "yes"),
            ("absolute", "absolute"),
        ]),
        true,
    ),
    ("oom-score-adj-values", "0 200 800", Check::OomScores, true),
    (
        "proc-title-template",
        "{title} {listen-addr} {server-mode}",
        Check::Text,
        true,
    ),
    (
        "propagation-error-behavior",
        "ignore",
        Check::Enum(&["ignore", "panic", "panic-on-replicas"]),
        true,
    ),
    ("repl-backlog-size", "1048576", Check::Memory, true),
    ("repl-backlog-ttl", "3600", Check::Int(0, i64::MAX), true),
    ("repl-disable-tcp-nodelay", "no", Check::Bool, true),
    (
        "repl-diskless-load",
        "disabled",
        Check::Enum(&["disabled", "on-empty-db", "swapdb"]),
        true,
    ),
    ("repl-diskless-sync", "yes", Check::Bool, true),
    (
        "repl-diskless-sync-delay",
        "5",
        Check::Int(0, i32::MAX as i64),
        true,
    ),
    (
        "repl-diskless-sync-max-replicas",
        "0",
        Check::Int(0, i32::MAX as i64),
        true,
    ),
    (
        "repl-ping-replica-period",
        "10",
        Check::Int(1, i32::MAX as i64),
        true,
    ),
    ("repl-timeout", "60", Check::Int(1, i32::MAX as i64), true),
    ("replica-announce-ip", "", Check::Text, true),
    ("replica-announce-port", "0", Check::Int(0, 65535), true),
    ("replica-announced", "yes", Check::Bool, true),
    ("replica-ignore-disk-write-errors", "no", Check::Bool, true),
    ("replica-ignore-maxmemory", "yes", Check::Bool, true),
    ("replica-lazy-flush", "no", Check::Bool, true),
    (
        "replica-priority",
        "100",
        Check::Int(0, i32::MAX as i64),
        true,
    ),
    ("replica-read-only", "yes", Check::Bool, true),
    ("replica-serve-stale-data", "yes", Check::Bool, true),
    ("replicaof", "", Check::ReplicaOf, false),
    ("server_cpulist", "", Check::Text, false),
    ("set-proc-title", "yes", Check::Bool, false),
    ("shutdown-on-sigint", "default", Check::ShutdownFlags, true),
    ("shutdown-on-sigterm", "default", Check::ShutdownFlags, true),
    (
        "shutdown-timeout",
        "10",
        Check::Int(0, i32::MAX as i64),
        true,
    ),
    ("socket-mark-id", "0", Check::Int(0, u32::MAX as i64), true),
    ("syslog-enabled", "no", Check::Bool, false),
    (
        "syslog-facility",
        "local0",
        Check::Enum(&[
            "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
        ]),
        false,
    ),
    ("syslog-ident", "redis", Check::Text, false),
    (
        "tls-auth-clients",
        "yes",
        Check::Enum(&["no", "yes", "optional"]),
        true,
    ),
    ("tls-ca-cert-dir", "", Check::Text, true),
    ("tls-ca-cert-file", "", Check::Text, true),
    ("tls-cert-file", "", Check::Text, true),
    ("tls-ciphers", "", Check::Text, true),
    ("tls-ciphersuites", "", Check::Text, true),
    ("tls-client-cert-file", "", Check::Text, true),
    ("tls-client-key-file", "", Check::Text, true),
    ("tls-client-key-file-pass", "", Check::Text, true),
    ("tls-cluster", "no", Check::Bool, true),
    ("tls-dh-params-file", "", Check::Text, true),
    ("tls-key-file", "", Check::Text, true),
    ("tls-key-file-pass", "", Check::Text, true),
    ("tls-port", "0", Check::Int(0, 65535), true),
    ("tls-prefer-server-ciphers", "no", Check::Bool, true),
    ("tls-protocols", "", Check::Text, true),
    ("tls-replication", "no", Check::Bool, true),
    (
        "tls-session-cache-size",
        "20480",
        Check::Int(0, i32::MAX as i64),
        true,
    ),
    (
        "tls-session-cache-timeout",
        "300",
        Check::Int(0, i32::MAX as i64),
        true,
    ),
    ("tls-session-caching", "yes", Check::Bool, true),
    ("use-exit-on-panic", "no", Check::Bool, true),
    ("watchdog-period", "0", Check::Int(0, i32::MAX as i64), true),
];

/// Old names of the settings above (`slave-*` and the rest).
pub const PENDING_ALIASES: &[(&str, &str)] = &[
    ("slaveof", "replicaof"),
    ("slave-announce-ip", "replica-announce-ip"),
    ("slave-announce-port", "replica-announce-port"),
    ("slave-ignore-maxmemory", "replica-ignore-maxmemory"),
    ("slave-lazy-flush", "replica-lazy-flush"),
    ("slave-priority", "replica-priority"),
    ("slave-read-only", "replica-read-only"),
    ("slave-serve-stale-data", "replica-serve-stale-data"),
    ("min-slaves-max-lag", "min-replicas-max-lag"),
    ("min-slaves-to-write", "min-replicas-to-write"),
    ("repl-ping-slave-period", "repl-ping-replica-period"),
    ("cluster-slave-no-failover", "cluster-replica-no-failover"),
    (
        "cluster-slave-validity-factor",
        "cluster-replica-validity-factor",
    ),
];

/// Checks `value` as Redis checks a setting of this type; the stored
/// form (booleans and enums in lower case, memory as bytes).
pub fn check(check: Check, value: &str) -> Result<String, String> {
    match check {
        Check::Bool => match value.to_ascii_lowercase().as_str() {
            v @ ("yes" | "no") => Ok(v.to_string()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Check::Int(min, max) => {
            let n: i64 = value
                .parse()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            if n < min || n > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(n.to_string())
        }
        Check::Memory => crate::config::parse_memory(value)
            .map(|b| b.to_string())
            .ok_or_else(|| "argument must be a memory value".to_string()),
        Check::Enum(values) => values
            .iter()
            .find(|v| v.eq_ignore_ascii_case(value))
            .map(|v| v.to_string())
            .ok_or_else(|| {
                format!(
                    "argument(s) must be one of the following: {}",
                    values.join(", ")
                )
            }),
        Check::Choice(words) => words
            .iter()
            .find(|(given, _)| given.eq_ignore_ascii_case(value))
            .map(|(_, stored)| stored.to_string())
            .ok_or_else(|| {
                let given: Vec<&str> = words.iter().map(|(given, _)| *given).collect();
                format!(
                    "argument(s) must be one of the following: {}",
                    given.join(", ")
                )
            }),
        Check::OomScores => crate::oom_score::check_values(value),
        Check::ShutdownFlags => check_shutdown_flags(value),
        Check::ReplicaOf => check_replicaof(value),
        Check::Text => Ok(value.to_string()),
    }
}

/// A master's address, stored as `host port` (empty for `no one`). The
/// port is read as C's `strtol` reads it, as Redis does.
fn check_replicaof(value: &str) -> Result<String, String> {
    let words: Vec<&str> = value.split(' ').collect();
    let [host, port] = words[..] else {
        return Err("wrong number of arguments".into());
    };
    if host.eq_ignore_ascii_case("no") && port.eq_ignore_ascii_case("one") {
        return Ok(String::new());
    }
    let digits = port.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let digits = digits.strip_prefix('+').unwrap_or(digits);
    let port: u16 = if digits.is_empty() {
        0
    } else {
        digits
            .parse()
            .map_err(|_| "Invalid master port".to_string())?
    };
    Ok(format!("{host} {port}"))
}

/// A set of SHUTDOWN flags, stored in Redis's order (`save nosave now
/// force`), or `default` when there are none.
fn check_shutdown_flags(value: &str) -> Result<String, String> {
    const FLAGS: [&str; 4] = ["save", "nosave", "now", "force"];
    let mut set = [false; 4];
    for word in value.split(' ') {
        if word.eq_ignore_ascii_case("default") {
            continue;
        }
        let Some(flag) = FLAGS.iter().position(|f| f.eq_ignore_ascii_case(word)) else {
            return Err(
                "argument(s) must be one of the following: default, save, nosave, now, force"
                    .into(),
            );
        };
        set[flag] = true;
    }
    if set[0] && set[1] {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
    }
    let flags: Vec<&str> = FLAGS
        .iter()
        .zip(set)
        .filter(|(_, on)| *on)
        .map(|(f, _)| *f)
        .collect();
    Ok(if flags.is_empty() {
        "default".into()
    } else {
        flags.join(" ")
    })
}
