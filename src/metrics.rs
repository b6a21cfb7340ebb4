//! Prometheus metrics without a sidecar: an HTTP `GET /metrics` on the
//! RESP port answers with the INFO figures, command statistics, latency
//! percentiles and the loop's own figures in Prometheus's text format,
//! named as the common Redis exporter (oliver006/redis_exporter) names
//! them, so existing dashboards work.
//!
//! A connection is taken for HTTP only if its very first bytes are
//! `GET /`; any other first bytes make it a RESP connection for good.

use crate::client::Client;
use crate::state::ServerState;
use slab::Slab;
use std::fmt::Write;

/// What the first bytes of a connection say it is.
pub enum FirstBytes {
    /// Too few bytes to tell.
    Undecided,
    Resp,
    /// A whole HTTP request head: the path asked for.
    Http(String),
    /// HTTP, but the head has not all arrived.
    HttpIncomplete,
}

/// Tells RESP from an HTTP GET by the connection's first bytes.
pub fn classify(buffer: &[u8]) -> FirstBytes {
    const GET: &[u8] = b"GET /";
    let n = buffer.len().min(GET.len());
    if buffer[..n] != GET[..n] {
        return FirstBytes::Resp;
    }
    if buffer.len() < GET.len() {
        return FirstBytes::Undecided;
    }
    let Some(end) = memchr::memmem::find(buffer, b"\r\n\r\n") else {
        // A request head longer than this is not a scrape.
        if buffer.len() > 16 * 1024 {
            return FirstBytes::Resp;
        }
        return FirstBytes::HttpIncomplete;
    };
    let line = &buffer[..end];
    let path = line
        .split(|&b| b == b' ')
        .nth(1)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_default();
    FirstBytes::Http(path)
}

/// The HTTP response to a request for `path`.
pub fn respond(path: &str, state: &ServerState, clients: &Slab<Client>) -> Vec<u8> {
    let (status, body) = if path == "/metrics" || path.starts_with("/metrics?") {
        ("200 OK", render(state, clients))
    } else {
        ("404 Not Found", "Not found: scrape /metrics\n".to_string())
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

struct Exposition(String);

impl Exposition {
    fn metric(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        let _ = write!(
            self.0,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        );
    }

    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = write!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        let _ = writeln!(self.0, "{name}{{{}}} {value}", labels.join(","));
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Every metric, in Prometheus's text format.
pub fn render(state: &ServerState, clients: &Slab<Client>) -> String {
    let mut e = Exposition(String::with_capacity(8192));
    let st = &state.stats;
    let used = crate::evict::used_memory(state);
    e.metric(
        "redis_up",
        "gauge",
        "Information about the Redis instance",
        1,
    );
    e.metric(
        "redis_uptime_in_seconds",
        "gauge",
        "uptime_in_seconds metric",
        state.started.elapsed().as_secs(),
    );
    e.metric(
        "redis_connected_clients",
        "gauge",
        "connected_clients metric",
        clients.len(),
    );
    e.metric(
        "redis_blocked_clients",
        "gauge",
        "blocked_clients metric",
        state.blocked_clients,
    );
    e.metric(
        "redis_memory_used_bytes",
        "gauge",
        "memory_used_bytes metric",
        used,
    );
    e.metric(
        "redis_memory_used_peak_bytes",
        "gauge",
        "memory_used_peak_bytes metric",
        crate::alloc::peak_bytes().max(used),
    );
    e.metric(
        "redis_memory_used_rss_bytes",
        "gauge",
        "memory_used_rss_bytes metric",
        crate::alloc::resident_bytes(),
    );
    e.metric(
        "redis_memory_max_bytes",
        "gauge",
        "memory_max_bytes metric",
        state.config.maxmemory,
    );
    e.metric(
        "redis_commands_processed_total",
        "counter",
        "commands_processed_total metric",
        st.total_commands_processed,
    );
    e.metric(
        "redis_connections_received_total",
        "counter",
        "connections_received_total metric",
        st.total_connections_received,
    );
    e.metric(
        "redis_rejected_connections_total",
        "counter",
        "rejected_connections_total metric",
        st.rejected_connections,
    );
    e.metric(
        "redis_net_input_bytes_total",
        "counter",
        "net_input_bytes_total metric",
        st.total_net_input_bytes,
    );
    e.metric(
        "redis_net_output_bytes_total",
        "counter",
        "net_output_bytes_total metric",
        st.total_net_output_bytes,
    );
    e.metric(
        "redis_expired_keys_total",
        "counter",
        "expired_keys_total metric",
        st.expired_keys,
    );
    e.metric(
        "redis_evicted_keys_total",
        "counter",
        "evicted_keys_total metric",
        0,
    );
    e.metric(
        "redis_keyspace_hits_total",
        "counter",
        "keyspace_hits_total metric",
        st.keyspace_hits,
    );
    e.metric(
        "redis_keyspace_misses_total",
        "counter",
        "keyspace_misses_total metric",
        st.keyspace_misses,
    );
    e.metric(
        "redis_instantaneous_ops_per_sec",
        "gauge",
        "instantaneous_ops_per_sec metric",
        st.ops.per_second(),
    );
    e.metric(
        "redis_rdb_changes_since_last_save",
        "gauge",
        "rdb_changes_since_last_save metric",
        state.persist.changes_since_save(),
    );
    e.metric(
        "redis_rdb_last_save_timestamp_seconds",
        "gauge",
        "rdb_last_save_timestamp_seconds metric",
        state.persist.last_save_unix,
    );
    e.metric(
        "redis_rdb_bgsave_in_progress",
        "gauge",
        "rdb_bgsave_in_progress metric",
        u8::from(state.persist.bgsave_in_progress()),
    );
    e.metric(
        "redis_aof_enabled",
        "gauge",
        "aof_enabled metric",
        u8::from(state.config.appendonly),
    );
    e.metric(
        "redis_latest_fork_usec",
        "gauge",
        "latest_fork_usec metric",
        state.persist.latest_fork_usec,
    );
    e.metric(
        "redis_total_error_replies",
        "counter",
        "total_error_replies metric",
        st.total_error_replies,
    );

    e.family("redis_db_keys", "gauge", "Total number of keys by DB");
    for (i, db) in state
        .dbs
        .iter()
        .enumerate()
        .filter(|(_, db)| !db.is_empty())
    {
        e.sample("redis_db_keys", &[("db", &format!("db{i}"))], db.len());
    }
    e.family(
        "redis_db_keys_expiring",
        "gauge",
        "Total number of expiring keys by DB",
    );
    for (i, db) in state
        .dbs
        .iter()
        .enumerate()
        .filter(|(_, db)| !db.is_empty())
    {
        e.sample(
            "redis_db_keys_expiring",
            &[("db", &format!("db{i}"))],
            db.expires.len(),
        );
    }

    e.family(
        "redis_errors_total",
        "counter",
        "Total number of errors per error type",
    );
    for (code, count) in &st.error_codes {
        e.sample(
            "redis_errors_total",
            &[("err", &String::from_utf8_lossy(code))],
            count,
        );
    }

    let commands: Vec<_> = state.command_stats.reported().collect();
    e.family(
        "redis_commands_total",
        "counter",
        "Total number of calls per command",
    );
    for (command, stat) in &commands {
        e.sample("redis_commands_total", &[("cmd", command.name)], stat.calls);
    }
    e.family(
        "redis_commands_duration_seconds_total",
        "counter",
        "Total amount of time in seconds spent per command",
    );
    for (command, stat) in &commands {
        let seconds = crate::clock::to_micros(stat.ticks) as f64 / 1e6;
        e.sample(
            "redis_commands_duration_seconds_total",
            &[("cmd", command.name)],
            seconds,
        );
    }
    e.family(
        "redis_commands_rejected_calls_total",
        "counter",
        "Total number of errors prior command execution per command",
    );
    for (command, stat) in &commands {
        e.sample(
            "redis_commands_rejected_calls_total",
            &[("cmd", command.name)],
            stat.rejected,
        );
    }
    e.family(
        "redis_commands_failed_calls_total",
        "counter",
        "Total number of errors within command execution per command",
    );
    for (command, stat) in &commands {
        e.sample(
            "redis_commands_failed_calls_total",
            &[("cmd", command.name)],
            stat.failed,
        );
    }
    e.family(
        "redis_latency_percentiles_usec",
        "summary",
        "A summary of latency percentile distribution per command",
    );
    let percentiles = &state.config.latency_tracking_info_percentiles;
    for (command, stat) in &commands {
        let Some(histogram) = stat.histogram.as_deref() else {
            continue;
        };
        for p in percentiles {
            let value = histogram.value_at_quantile(p / 100.0) as f64 / 1000.0;
            let quantile = format!("{}", p / 100.0);
            e.sample(
                "redis_latency_percentiles_usec",
                &[("cmd", command.name), ("quantile", &quantile)],
                value,
            );
        }
        let sum = crate::clock::to_micros(stat.ticks);
        let _ = writeln!(
            e.0,
            "redis_latency_percentiles_usec_sum{{cmd=\"{}\"}} {sum}",
            command.name
        );
        let _ = writeln!(
            e.0,
            "redis_latency_percentiles_usec_count{{cmd=\"{}\"}} {}",
            command.name,
            histogram.len()
        );
    }

    // The loop's own figures (rudis's, beyond Redis 7.0's INFO).
    e.metric(
        "rudis_eventloop_cycles_total",
        "counter",
        "Event loop iterations",
        st.eventloop_cycles,
    );
    e.metric(
        "rudis_eventloop_duration_usec_total",
        "counter",
        "Microseconds spent in event loop iterations, waiting excluded",
        crate::clock::to_micros(st.eventloop_ticks),
    );
    e.metric(
        "rudis_eventloop_duration_cmd_usec_total",
        "counter",
        "Microseconds spent running commands",
        crate::clock::to_micros(st.command_ticks),
    );
    e.family(
        "rudis_latency_event_max_ms",
        "gauge",
        "Worst latency seen per latency monitor event",
    );
    for (name, series) in &state.latency.events {
        e.sample("rudis_latency_event_max_ms", &[("event", name)], series.max);
    }
    e.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_bytes_tell_http_from_resp() {
        assert!(matches!(classify(b"GE"), FirstBytes::Undecided));
        assert!(matches!(classify(b"GET k\r\n"), FirstBytes::Resp));
        assert!(matches!(
            classify(b"*1\r\n$4\r\nPING\r\n"),
            FirstBytes::Resp
        ));
        assert!(matches!(
            classify(b"GET /metrics HTTP/1.1\r\nHost: x\r\n"),
            FirstBytes::HttpIncomplete
        ));
        match classify(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n") {
            FirstBytes::Http(path) => assert_eq!(path, "/metrics"),
            _ => panic!("not http"),
        }
    }
}
