//! MEMORY STATS, DOCTOR, MALLOC-STATS and PURGE: where the memory goes,
//! from rudis's own allocation counter and jemalloc's figures, in the
//! fields and order of Redis 7.0 (`getMemoryOverheadData`).

use super::Ctx;
use crate::alloc;
use crate::protocol::request::Args;

/// The figures MEMORY STATS and DOCTOR are made of.
pub(super) struct Overhead {
    pub peak: u64,
    pub total: u64,
    pub startup: u64,
    /// Normal clients, and the replicas (with the stream they hold).
    pub clients: u64,
    pub replicas: u64,
    pub backlog: u64,
    pub aof_buffer: u64,
    /// (database, main table bytes, expires table bytes) for each that
    /// has keys.
    dbs: Vec<(usize, u64, u64)>,
    pub overhead_total: u64,
    keys: u64,
    pub allocator: alloc::AllocatorStats,
    pub rss: u64,
}

pub(super) fn overhead(ctx: &Ctx) -> Overhead {
    let total = crate::evict::used_memory(ctx.state);
    let peak = alloc::peak_bytes().max(total);
    let startup = ctx.state.startup_allocated.min(total);
    let memory = |c: &crate::client::Client| {
        let held = c.replica.as_ref().map_or(0, |r| r.held.capacity());
        (std::mem::size_of_val(c) + c.parser.capacity() + c.reply.capacity() + held) as u64
    };
    let (replicas, clients): (Vec<_>, Vec<_>) = ctx
        .clients
        .iter()
        .map(|(_, c)| c)
        .partition(|c| c.is_replica());
    let replicas: u64 = replicas.into_iter().map(memory).sum();
    let clients: u64 = clients.into_iter().map(memory).sum();
    let backlog = ctx
        .state
        .repl
        .backlog
        .as_ref()
        .map_or(0, |b| b.memory() as u64);
    let aof_buffer = ctx.state.aof.buf.capacity() as u64;
    let dbs: Vec<(usize, u64, u64)> = ctx
        .state
        .dbs
        .iter()
        .enumerate()
        .filter(|(_, db)| !db.is_empty())
        .map(|(i, db)| (i, db.table_bytes() as u64, db.expires.table_bytes() as u64))
        .collect();
    let tables: u64 = dbs.iter().map(|(_, main, expires)| main + expires).sum();
    let keys = ctx.state.dbs.iter().map(|db| db.len() as u64).sum();
    Overhead {
        peak,
        total,
        startup,
        clients,
        replicas,
        backlog,
        aof_buffer,
        overhead_total: startup + clients + replicas + backlog + aof_buffer + tables,
        dbs,
        keys,
        allocator: alloc::allocator_stats(),
        rss: alloc::resident_bytes(),
    }
}

pub(super) fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// `MEMORY STATS`.
pub(super) fn memory_stats(ctx: &mut Ctx, _args: Args) {
    let o = overhead(ctx);
    let reply = &mut *ctx.reply;
    reply.map(27 + o.dbs.len());
    let int = |reply: &mut crate::protocol::Reply, name: &str, value: u64| {
        reply.bulk(name.as_bytes());
        reply.int(value as i64);
    };
    int(reply, "peak.allocated", o.peak);
    int(reply, "total.allocated", o.total);
    int(reply, "startup.allocated", o.startup);
    int(reply, "replication.backlog", o.backlog);
    int(reply, "clients.slaves", o.replicas);
    int(reply, "clients.normal", o.clients);
    int(reply, "cluster.links", 0);
    int(reply, "aof.buffer", o.aof_buffer);
    int(reply, "lua.caches", 0);
    int(reply, "functions.caches", 0);
    for &(index, main, expires) in &o.dbs {
        reply.bulk(format!("db.{index}").as_bytes());
        reply.map(3);
        int(reply, "overhead.hashtable.main", main);
        int(reply, "overhead.hashtable.expires", expires);
        int(reply, "overhead.hashtable.slot-to-keys", 0);
    }
    int(reply, "overhead.total", o.overhead_total);
    int(reply, "keys.count", o.keys);
    let net = o.total.saturating_sub(o.startup);
    int(
        reply,
        "keys.bytes-per-key",
        net.checked_div(o.keys).unwrap_or(0),
    );
    let dataset = o.total.saturating_sub(o.overhead_total);
    int(reply, "dataset.bytes", dataset);
    let double = |reply: &mut crate::protocol::Reply, name: &str, value: f64| {
        reply.bulk(name.as_bytes());
        reply.double(value);
    };
    double(reply, "dataset.percentage", ratio(dataset, net) * 100.0);
    double(reply, "peak.percentage", ratio(o.total, o.peak) * 100.0);
    let a = &o.allocator;
    int(reply, "allocator.allocated", a.allocated);
    int(reply, "allocator.active", a.active);
    int(reply, "allocator.resident", a.resident);
    double(
        reply,
        "allocator-fragmentation.ratio",
        ratio(a.active, a.allocated),
    );
    int(
        reply,
        "allocator-fragmentation.bytes",
        a.active.saturating_sub(a.allocated),
    );
    double(reply, "allocator-rss.ratio", ratio(a.resident, a.active));
    int(
        reply,
        "allocator-rss.bytes",
        a.resident.saturating_sub(a.active),
    );
    double(reply, "rss-overhead.ratio", ratio(o.rss, a.resident));
    int(
        reply,
        "rss-overhead.bytes",
        o.rss.saturating_sub(a.resident),
    );
    double(reply, "fragmentation", ratio(o.rss, o.total));
    int(reply, "fragmentation.bytes", o.rss.saturating_sub(o.total));
}

/// `MEMORY DOCTOR`: what in the figures above deserves attention.
pub(super) fn memory_doctor(ctx: &mut Ctx, _args: Args) {
    let o = overhead(ctx);
    const MB: u64 = 1 << 20;
    let mut findings: Vec<String> = Vec::new();
    if o.total < 5 * MB {
        let text =
            "This instance holds almost no data (under 5 MB): there is nothing to diagnose yet.\n";
        return ctx.reply.verbatim(text.as_bytes());
    }
    if o.peak > o.total * 3 / 2 {
        findings.push(format!(
            "Peak memory: at some point {} bytes were in use, over 150% of the {} in use now. Memory freed since then may be held by the allocator (see the fragmentation figures).",
            o.peak, o.total
        ));
    }
    let fragmentation = ratio(o.rss, o.total);
    if fragmentation > 1.4 && o.rss.saturating_sub(o.total) > 10 * MB {
        findings.push(format!(
            "High fragmentation: the process holds {:.2} times the memory it allocated ({} bytes more). MEMORY PURGE returns dirty pages to the system.",
            fragmentation,
            o.rss - o.total
        ));
    }
    let biggest_client = ctx
        .clients
        .iter()
        .map(|(_, c)| c.reply.capacity() as u64)
        .max()
        .unwrap_or(0);
    if biggest_client > 32 * MB {
        findings.push(format!(
            "Big client output buffers: one client holds {biggest_client} bytes of replies it has not read; client-output-buffer-limit bounds them."
        ));
    }
    let report = if findings.is_empty() {
        "No memory problem found: allocation, fragmentation and client buffers look healthy.\n"
            .to_string()
    } else {
        let mut text = String::from("Memory problems found:\n\n");
        for finding in findings {
            text.push_str(&format!("* {finding}\n\n"));
        }
        text
    };
    ctx.reply.verbatim(report.as_bytes());
}

/// `MEMORY MALLOC-STATS`: jemalloc's own report.
pub(super) fn memory_malloc_stats(ctx: &mut Ctx, _args: Args) {
    ctx.reply.verbatim(alloc::allocator_report().as_bytes());
}

/// `MEMORY PURGE`.
pub(super) fn memory_purge(ctx: &mut Ctx, _args: Args) {
    alloc::purge();
    ctx.reply.ok();
}
