//! `INFO [section ...]`: the server, clients, memory, persistence, stats,
//! replication, cpu, modules, errorstats, cluster and keyspace sections,
//! with the field names Redis 7.0 uses (redis-cli `--stat`, redis-py and
//! monitoring tools read them).

use super::Ctx;
use crate::protocol::request::Args;
use crate::state::unix_micros;
use std::fmt::{Display, Write};

/// Every section, in Redis's order.
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

/// What INFO with no argument (or `default`) shows: all but the
/// per-command sections.
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

/// Accumulates `name:value\r\n` lines.
struct Section<'a>(&'a mut String);

impl Section<'_> {
    fn field(&mut self, name: &str, value: impl Display) -> &mut Self {
        let _ = write!(self.0, "{name}:{value}\r\n");
        self
    }
}

pub(super) fn info(ctx: &mut Ctx, args: Args) {
    // Memory as it was before this reply took any.
    let used_memory = crate::evict::used_memory(ctx.state);
    let mut wanted: Vec<String> = args
        .from(1)
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    if wanted.iter().any(|w| w == "all" || w == "everything") {
        wanted = ALL_SECTIONS.iter().map(|s| s.to_string()).collect();
    } else if wanted.is_empty() || wanted.iter().any(|w| w == "default") {
        wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
    }
    let mut out = String::with_capacity(4096);
    for name in ALL_SECTIONS
        .iter()
        .filter(|s| wanted.iter().any(|w| w == *s))
    {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let title = match *name {
            "cpu" => "CPU".to_string(),
            "errorstats" => "Errorstats".to_string(),
            other => format!("{}{}", other[..1].to_ascii_uppercase(), &other[1..]),
        };
        let _ = write!(out, "# {title}\r\n");
        let mut section = Section(&mut out);
        match *name {
            "server" => server(ctx, &mut section),
            "clients" => clients(ctx, &mut section),
            "memory" => memory(ctx, &mut section, used_memory),
            "persistence" => persistence(ctx, &mut section),
            "stats" => stats(ctx, &mut section),
            "replication" => replication(ctx, &mut section),
            "cpu" => cpu(&mut section),
            "cluster" => {
                section.field("cluster_enabled", 0);
            }
            "keyspace" => keyspace(ctx, &mut section),
            "errorstats" => errorstats(ctx, &mut section),
            "commandstats" => commandstats(ctx, &mut section),
            "latencystats" => latencystats(ctx, &mut section),
            _ => {}
        }
    }
    ctx.reply.verbatim(out.as_bytes());
}

fn uname() -> String {
    // SAFETY: uname fills the struct we own; its fields are NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return "Linux".into();
        }
        let field = |f: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(f.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        format!(
            "{} {} {}",
            field(&u.sysname),
            field(&u.release),
            field(&u.machine)
        )
    }
}

fn server(ctx: &Ctx, s: &mut Section) {
    let uptime = ctx.state.started.elapsed().as_secs();
    let executable = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let hz = ctx.state.config.hz;
    s.field("redis_version", crate::REDIS_VERSION)
        .field("rudis_version", env!("CARGO_PKG_VERSION"))
        .field("redis_git_sha1", "00000000")
        .field("redis_git_dirty", 0)
        .field("redis_build_id", "0")
        .field("redis_mode", "standalone")
        .field("os", uname())
        .field("arch_bits", usize::BITS)
        .field("monotonic_clock", "POSIX clock_gettime")
        .field("multiplexing_api", "epoll")
        .field("atomicvar_api", "c11-builtin")
        .field("gcc_version", "0.0.0")
        .field("process_id", std::process::id())
        .field("process_supervised", "no")
        .field("run_id", &ctx.state.run_id)
        .field("tcp_port", ctx.state.tcp_port)
        .field("server_time_usec", unix_micros())
        .field("uptime_in_seconds", uptime)
        .field("uptime_in_days", uptime / 86400)
        .field("hz", hz)
        .field("configured_hz", hz)
        .field("lru_clock", (unix_micros() / 1_000_000) & ((1 << 24) - 1))
        .field("executable", executable)
        .field(
            "config_file",
            ctx.state.config_file.as_deref().unwrap_or(""),
        )
        .field("io_threads_active", 0);
    if let Some(wait) = &ctx.state.shutdown_wait {
        let left = wait
            .deadline
            .saturating_duration_since(std::time::Instant::now());
        s.field("shutdown_in_milliseconds", left.as_millis() as u64);
    }
}

fn clients(ctx: &Ctx, s: &mut Section) {
    let max_in = ctx
        .clients
        .iter()
        .map(|(_, c)| c.parser.len())
        .max()
        .unwrap_or(0);
    let max_out = ctx
        .clients
        .iter()
        .map(|(_, c)| c.pending_output())
        .max()
        .unwrap_or(0);
    // Replicas are not counted, as in Redis.
    let replicas = ctx.state.repl.replicas.len();
    s.field(
        "connected_clients",
        ctx.clients.len().saturating_sub(replicas),
    )
    .field("cluster_connections", 0)
    .field("maxclients", ctx.state.config.maxclients)
    .field("client_recent_max_input_buffer", max_in)
    .field("client_recent_max_output_buffer", max_out)
    .field("blocked_clients", ctx.state.blocked_clients)
    .field("tracking_clients", ctx.state.tracking.clients)
    .field("clients_in_timeout_table", 0);
}

/// Human-readable bytes as Redis's `bytesToHuman`: `989.68K`, `1.50M`.
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    const UNITS: [(f64, &str); 5] = [
        (1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0, "P"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0, "T"),
        (1024.0 * 1024.0 * 1024.0, "G"),
        (1024.0 * 1024.0, "M"),
        (1024.0, "K"),
    ];
    for (size, unit) in UNITS {
        if n >= size {
            return format!("{:.2}{unit}", n / size);
        }
    }
    format!("{}B", n as u64)
}

fn memory(ctx: &Ctx, s: &mut Section, used_memory: u64) {
    let mut o = super::memory::overhead(ctx);
    o.total = used_memory;
    let ratio = super::memory::ratio;
    let used = o.total;
    let maxmemory = ctx.state.config.maxmemory;
    let dataset = used.saturating_sub(o.overhead_total);
    let net = used.saturating_sub(o.startup);
    let a = &o.allocator;
    let system = total_system_memory();
    s.field("used_memory", used)
        .field("used_memory_human", human_bytes(used))
        .field("used_memory_rss", o.rss)
        .field("used_memory_rss_human", human_bytes(o.rss))
        .field("used_memory_peak", o.peak)
        .field("used_memory_peak_human", human_bytes(o.peak))
        .field(
            "used_memory_peak_perc",
            format!("{:.2}%", ratio(used, o.peak) * 100.0),
        )
        .field("used_memory_overhead", o.overhead_total)
        .field("used_memory_startup", o.startup)
        .field("used_memory_dataset", dataset)
        .field(
            "used_memory_dataset_perc",
            format!("{:.2}%", ratio(dataset, net) * 100.0),
        )
        .field("allocator_allocated", a.allocated)
        .field("allocator_active", a.active)
        .field("allocator_resident", a.resident)
        .field("total_system_memory", system)
        .field("total_system_memory_human", human_bytes(system));
    // Scripts (EVAL) and functions (FUNCTION LOAD), each with a Lua state.
    let engine = ctx.state.scripting.as_deref();
    let vm_eval = engine.map_or(0, |e| e.memory());
    let bodies = engine.map_or(0, |e| e.bodies_memory());
    let functions = &ctx.state.functions;
    let vm_functions = functions.vm_memory();
    let registry = functions.registry_memory();
    let vm_total = vm_eval + vm_functions;
    s.field("used_memory_lua", vm_eval)
        .field("used_memory_vm_eval", vm_eval)
        .field("used_memory_lua_human", human_bytes(vm_eval as u64))
        .field("used_memory_scripts_eval", bodies)
        .field("number_of_cached_scripts", engine.map_or(0, |e| e.len()))
        .field("number_of_functions", functions.function_count())
        .field("number_of_libraries", functions.library_count())
        .field("used_memory_vm_functions", vm_functions)
        .field("used_memory_vm_total", vm_total)
        .field("used_memory_vm_total_human", human_bytes(vm_total as u64))
        .field("used_memory_functions", registry)
        .field("used_memory_scripts", bodies + registry)
        .field(
            "used_memory_scripts_human",
            human_bytes((bodies + registry) as u64),
        );
    s.field("maxmemory", maxmemory)
        .field("maxmemory_human", human_bytes(maxmemory))
        .field("maxmemory_policy", ctx.state.config.maxmemory_policy.name())
        .field(
            "allocator_frag_ratio",
            format!("{:.2}", ratio(a.active, a.allocated)),
        )
        .field("allocator_frag_bytes", a.active.saturating_sub(a.allocated))
        .field(
            "allocator_rss_ratio",
            format!("{:.2}", ratio(a.resident, a.active)),
        )
        .field("allocator_rss_bytes", a.resident.saturating_sub(a.active))
        .field(
            "rss_overhead_ratio",
            format!("{:.2}", ratio(o.rss, a.resident)),
        )
        .field("rss_overhead_bytes", o.rss.saturating_sub(a.resident))
        .field(
            "mem_fragmentation_ratio",
            format!("{:.2}", ratio(o.rss, used)),
        )
        .field("mem_fragmentation_bytes", o.rss.saturating_sub(used))
        .field(
            "mem_not_counted_for_evict",
            crate::evict::not_counted(ctx.state),
        )
        .field("mem_replication_backlog", o.backlog)
        .field("mem_total_replication_buffers", o.backlog + o.replicas)
        .field("mem_clients_slaves", o.replicas)
        .field("mem_clients_normal", o.clients)
        .field("mem_cluster_links", 0)
        .field("mem_aof_buffer", o.aof_buffer)
        .field("mem_allocator", crate::alloc::NAME)
        .field("active_defrag_running", 0)
        .field("lazyfree_pending_objects", crate::lazyfree::pending())
        .field("lazyfreed_objects", crate::lazyfree::freed());
}

/// The machine's memory, from /proc/meminfo (`total_system_memory`).
fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

fn persistence(ctx: &Ctx, s: &mut Section) {
    let p = &ctx.state.persist;
    let bgsave = p.bgsave_in_progress();
    let current_bgsave_secs = match &p.child {
        Some(child) if bgsave => child.started.elapsed().as_secs() as i64,
        _ => -1,
    };
    let fork = p.child.as_ref().map(|c| &c.info);
    let now_ms = crate::state::unix_millis();
    s.field("loading", u8::from(p.loading && !p.async_loading))
        .field("async_loading", u8::from(p.async_loading))
        .field("current_cow_peak", fork.map_or(0, |f| f.cow_peak))
        .field("current_cow_size", fork.map_or(0, |f| f.cow_bytes))
        .field(
            "current_cow_size_age",
            fork.map_or(0, |f| f.cow_age_secs(now_ms)),
        )
        .field(
            "current_fork_perc",
            format!("{:.2}", fork.map_or(0.0, |f| f.progress_percent())),
        )
        .field(
            "current_save_keys_processed",
            fork.map_or(0, |f| f.keys_processed),
        )
        .field("current_save_keys_total", fork.map_or(0, |f| f.keys_total))
        .field("rdb_changes_since_last_save", p.changes_since_save())
        .field("rdb_bgsave_in_progress", u8::from(bgsave))
        .field("rdb_last_save_time", p.last_save_unix)
        .field(
            "rdb_last_bgsave_status",
            if p.last_bgsave_ok { "ok" } else { "err" },
        )
        .field("rdb_last_bgsave_time_sec", p.last_bgsave_seconds)
        .field("rdb_current_bgsave_time_sec", current_bgsave_secs)
        .field("rdb_saves", p.rdb_saves)
        .field("rdb_last_cow_size", p.last_cow_bytes)
        .field("rdb_last_load_keys_expired", p.last_load_keys_expired)
        .field("rdb_last_load_keys_loaded", p.last_load_keys_loaded);
    let aof = &ctx.state.aof;
    let rewriting = p
        .child
        .as_ref()
        .filter(|c| c.kind == crate::persist::ChildKind::Aof);
    let ok = |good: bool| if good { "ok" } else { "err" };
    s.field("aof_enabled", u8::from(aof.logging()))
        .field("aof_rewrite_in_progress", u8::from(rewriting.is_some()))
        .field("aof_rewrite_scheduled", u8::from(aof.rewrite_scheduled))
        .field("aof_last_rewrite_time_sec", aof.last_rewrite_seconds)
        .field(
            "aof_current_rewrite_time_sec",
            rewriting.map_or(-1, |c| c.started.elapsed().as_secs() as i64),
        )
        .field("aof_last_bgrewrite_status", ok(aof.last_rewrite_ok))
        .field("aof_rewrites", aof.rewrites)
        .field(
            "aof_rewrites_consecutive_failures",
            ctx.state.aof.rewrites_consecutive_failures,
        )
        .field("aof_last_write_status", ok(aof.last_write_ok))
        .field("aof_last_cow_size", p.last_aof_cow_bytes)
        .field("module_fork_in_progress", 0)
        .field("module_fork_last_cow_size", 0);
    if aof.logging() {
        s.field("aof_current_size", aof.current_size)
            .field("aof_base_size", aof.base_size)
            .field("aof_pending_rewrite", u8::from(aof.rewrite_scheduled))
            .field("aof_buffer_length", aof.buf.len())
            .field("aof_pending_bio_fsync", 0)
            .field("aof_delayed_fsync", aof.delayed_fsync);
    }
    if p.loading {
        loading_progress(&p.load_progress, s);
    }
}

/// The `loading_*` fields while a load runs, the ETA from the rate so far.
fn loading_progress(progress: &crate::persist::LoadProgress, s: &mut Section) {
    let (total, loaded) = (progress.total_bytes, progress.loaded_bytes);
    let (perc, remaining) = if total > 0 {
        (
            loaded as f64 / total as f64 * 100.0,
            total.saturating_sub(loaded),
        )
    } else {
        (0.0, 1)
    };
    let elapsed = (crate::state::unix_millis() / 1000 - progress.start_unix).max(0) as u64;
    let eta = if elapsed == 0 {
        1
    } else {
        elapsed * remaining / (loaded + 1)
    };
    s.field("loading_start_time", progress.start_unix)
        .field("loading_total_bytes", total)
        .field("loading_rdb_used_mem", 0)
        .field("loading_loaded_bytes", loaded)
        .field("loading_loaded_perc", format!("{perc:.2}"))
        .field("loading_eta_seconds", eta);
}

fn stats(ctx: &Ctx, s: &mut Section) {
    let st = &ctx.state.stats;
    let kbps = |sampler: &crate::state::RateSampler| {
        format!("{:.2}", sampler.per_second() as f64 / 1024.0)
    };
    let pubsub = &ctx.state.pubsub;
    let evictor = &ctx.state.evictor;
    let (exceeded_total, exceeded_now) = evictor.exceeded_ms();
    s.field("total_connections_received", st.total_connections_received)
        .field("total_commands_processed", st.total_commands_processed)
        .field("instantaneous_ops_per_sec", st.ops.per_second())
        .field("total_net_input_bytes", st.total_net_input_bytes)
        .field("total_net_output_bytes", st.total_net_output_bytes)
        .field("total_net_repl_input_bytes", 0)
        .field("total_net_repl_output_bytes", 0)
        .field("instantaneous_input_kbps", kbps(&st.input_bytes))
        .field("instantaneous_output_kbps", kbps(&st.output_bytes))
        .field("instantaneous_input_repl_kbps", "0.00")
        .field("instantaneous_output_repl_kbps", "0.00")
        .field("rejected_connections", st.rejected_connections)
        .field("sync_full", ctx.state.repl.sync_full)
        .field("sync_partial_ok", ctx.state.repl.sync_partial_ok)
        .field("sync_partial_err", ctx.state.repl.sync_partial_err)
        .field("expired_keys", st.expired_keys)
        .field(
            "expired_stale_perc",
            format!("{:.2}", st.expired_stale_share * 100.0),
        )
        .field(
            "expired_time_cap_reached_count",
            st.expired_time_cap_reached_count,
        )
        .field(
            "expire_cycle_cpu_milliseconds",
            crate::clock::to_micros(st.expire_cycle_ticks) / 1000,
        )
        .field("evicted_keys", evictor.evicted_keys)
        .field("evicted_clients", evictor.evicted_clients)
        .field("total_eviction_exceeded_time", exceeded_total)
        .field("current_eviction_exceeded_time", exceeded_now)
        .field("keyspace_hits", st.keyspace_hits)
        .field("keyspace_misses", st.keyspace_misses)
        .field("pubsub_channels", pubsub.channels.len())
        .field("pubsub_patterns", pubsub.patterns.len())
        .field("pubsubshard_channels", pubsub.shard_channels.len())
        .field("latest_fork_usec", ctx.state.persist.latest_fork_usec)
        .field("total_forks", ctx.state.persist.total_forks)
        .field("migrate_cached_sockets", ctx.state.migrate_sockets.len())
        .field("slave_expires_tracked_keys", 0)
        .field("active_defrag_hits", 0)
        .field("active_defrag_misses", 0)
        .field("active_defrag_key_hits", 0)
        .field("active_defrag_key_misses", 0)
        .field("total_active_defrag_time", 0)
        .field("current_active_defrag_time", 0)
        .field("tracking_total_keys", ctx.state.tracking.total_keys())
        .field("tracking_total_items", ctx.state.tracking.total_items())
        .field(
            "tracking_total_prefixes",
            ctx.state.tracking.total_prefixes(),
        )
        .field("unexpected_error_replies", st.unexpected_error_replies)
        .field("total_error_replies", st.total_error_replies)
        .field("dump_payload_sanitizations", st.dump_payload_sanitizations)
        .field("total_reads_processed", st.total_reads_processed)
        .field("total_writes_processed", st.total_writes_processed)
        .field("io_threaded_reads_processed", 0)
        .field("io_threaded_writes_processed", 0)
        .field("reply_buffer_shrinks", 0)
        .field("reply_buffer_expands", 0)
        .field("eventloop_cycles", st.eventloop_cycles)
        .field(
            "eventloop_duration_sum",
            crate::clock::to_micros(st.eventloop_ticks),
        )
        .field(
            "eventloop_duration_cmd_sum",
            crate::clock::to_micros(st.command_ticks),
        )
        .field(
            "instantaneous_eventloop_cycles_per_sec",
            st.eventloop_cycles_rate.per_second(),
        )
        .field(
            "instantaneous_eventloop_duration_usec",
            st.eventloop_duration.average(),
        )
        .field("pipeline_coalesce_naps", st.pipeline_coalesce_naps)
        .field(
            "pipeline_coalesce_served_ahead",
            st.pipeline_coalesce_served_ahead,
        );
}

fn commandstats(ctx: &Ctx, s: &mut Section) {
    for (command, stat) in ctx.state.command_stats.reported() {
        let _ = write!(
            s.0,
            "{}\r\n",
            crate::cmdstats::commandstats_line(command, stat)
        );
    }
}

fn latencystats(ctx: &Ctx, s: &mut Section) {
    let percentiles = &ctx.state.config.latency_tracking_info_percentiles;
    for (command, stat) in ctx.state.command_stats.reported() {
        if let Some(histogram) = stat.histogram.as_deref() {
            let line = crate::cmdstats::latencystats_line(command, histogram, percentiles);
            let _ = write!(s.0, "{line}\r\n");
        }
    }
}

fn errorstats(ctx: &Ctx, s: &mut Section) {
    for (code, count) in &ctx.state.stats.error_codes {
        let name = format!("errorstat_{}", String::from_utf8_lossy(code));
        s.field(&name, format_args!("count={count}"));
    }
}

fn replication(ctx: &Ctx, s: &mut Section) {
    use crate::repl::{LinkState, Phase};
    let repl = &ctx.state.repl;
    let config = &ctx.state.config;
    match &repl.master {
        None => {
            s.field("role", "master");
        }
        Some(master) => {
            let up = repl.link == LinkState::Connected;
            let last_io = match repl.master_key.and_then(|k| ctx.clients.get(k)) {
                Some(client) => client.last_interaction.elapsed().as_secs() as i64,
                None => -1,
            };
            // Read from the master and not applied yet: what a pause holds.
            let unapplied = match repl.master_key.and_then(|k| ctx.clients.get(k)) {
                Some(client) if client.is_master => client.parser.unparsed_len() as u64,
                _ => 0,
            };
            s.field("role", "slave")
                .field("master_host", &master.host)
                .field("master_port", master.port)
                .field("master_link_status", if up { "up" } else { "down" })
                .field("master_last_io_seconds_ago", last_io)
                .field(
                    "master_sync_in_progress",
                    u8::from(repl.link == LinkState::Transfer),
                )
                .field("slave_read_repl_offset", repl.offset + unapplied)
                .field("slave_repl_offset", repl.offset);
            if let (LinkState::Transfer, Some((read, size, last_io))) =
                (repl.link, repl.sync_progress)
            {
                let total = size.map_or(-1, |s| s as i64);
                let perc = match size {
                    Some(s) if s > 0 => read as f64 / s as f64 * 100.0,
                    _ => 0.0,
                };
                s.field("master_sync_total_bytes", total)
                    .field("master_sync_read_bytes", read)
                    .field("master_sync_left_bytes", total - read as i64)
                    .field("master_sync_perc", format!("{perc:.2}"))
                    .field(
                        "master_sync_last_io_seconds_ago",
                        last_io.elapsed().as_secs(),
                    );
            }
            if !up {
                let since = repl
                    .link_down_since
                    .map_or(-1, |t| t.elapsed().as_secs() as i64);
                s.field("master_link_down_since_seconds", since);
            }
            let pending = |name| crate::config::pending_text(config, name);
            s.field("slave_priority", pending("replica-priority"))
                .field(
                    "slave_read_only",
                    u8::from(crate::config::pending_bool(config, "replica-read-only")),
                )
                .field(
                    "replica_announced",
                    u8::from(crate::config::pending_bool(config, "replica-announced")),
                );
        }
    }
    let online: Vec<(usize, &crate::client::Client)> = repl
        .replicas
        .iter()
        .filter_map(|&k| ctx.clients.get(k).map(|c| (k, c)))
        .filter(|(_, c)| c.is_replica())
        .collect();
    s.field("connected_slaves", online.len());
    if repl.master.is_none() {
        let max_lag = crate::config::pending_u64(config, "min-replicas-max-lag");
        if repl.min_replicas_to_write > 0 {
            s.field(
                "min_slaves_good_slaves",
                repl.good_replicas(ctx.clients, max_lag),
            );
        }
    }
    for (i, (_, client)) in online.iter().enumerate() {
        let Some(info) = client.replica.as_deref() else {
            continue;
        };
        let lag = if info.phase == Phase::Online {
            info.ack_time.elapsed().as_secs()
        } else {
            0
        };
        s.field(
            &format!("slave{i}"),
            format_args!(
                "ip={},port={},state={},offset={},lag={}",
                crate::cmd::replica_ip(client),
                info.listening_port,
                info.state_name(),
                info.ack_offset,
                lag
            ),
        );
    }
    let backlog = repl.backlog.as_ref();
    s.field("master_failover_state", repl.failover_state())
        .field("master_replid", &repl.replid)
        .field("master_replid2", &repl.replid2)
        .field("master_repl_offset", repl.offset)
        .field("second_repl_offset", repl.second_offset)
        .field("repl_backlog_active", u8::from(backlog.is_some()))
        .field(
            "repl_backlog_size",
            crate::config::pending_u64(config, "repl-backlog-size"),
        )
        .field(
            "repl_backlog_first_byte_offset",
            backlog.map_or(0, |b| b.first_offset()),
        )
        .field("repl_backlog_histlen", backlog.map_or(0, |b| b.len()));
}

fn cpu(s: &mut Section) {
    // SAFETY: getrusage fills the struct we own.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let secs = |tv: libc::timeval| format!("{}.{:06}", tv.tv_sec, tv.tv_usec);
    s.field("used_cpu_sys", secs(usage.ru_stime))
        .field("used_cpu_user", secs(usage.ru_utime))
        .field("used_cpu_sys_children", "0.000000")
        .field("used_cpu_user_children", "0.000000")
        .field("used_cpu_sys_main_thread", secs(usage.ru_stime))
        .field("used_cpu_user_main_thread", secs(usage.ru_utime));
}

fn keyspace(ctx: &Ctx, s: &mut Section) {
    for (i, db) in ctx.state.dbs.iter().enumerate() {
        if !db.is_empty() {
            let line = format!(
                "keys={},expires={},avg_ttl={}",
                db.len(),
                db.expires.len(),
                db.avg_ttl
            );
            s.field(&format!("db{i}"), line);
        }
    }
}
