//! What the server says about its own time: SLOWLOG, LATENCY (the latency
//! monitor and the per-command histograms) and MONITOR. The data is kept
//! by `slowlog`, `latency` and `cmdstats`; dispatch feeds them.

use super::Ctx;
use crate::cmdstats;
use crate::errors;
use crate::protocol::request::Args;

pub(super) fn slowlog_help(ctx: &mut Ctx, _args: Args) {
    super::reply_help(
        ctx.reply,
        "slowlog",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
}

/// `SLOWLOG GET [count]`: newest first; -1 for all. Anything else, a
/// non-number included, gets Redis's one error text.
pub(super) fn slowlog_get(ctx: &mut Ctx, args: Args) {
    let mut count = 10usize;
    if args.len() == 3 {
        match crate::protocol::parse_i64(args.get(2)) {
            Some(-1) => count = usize::MAX,
            Some(n) if n >= 0 => count = n as usize,
            _ => {
                return ctx
                    .reply
                    .error("ERR count should be greater than or equal to -1")
            }
        }
    }
    let entries = &ctx.state.slowlog.entries;
    let shown = entries.len().min(count);
    ctx.reply.array(shown);
    for entry in entries.iter().take(shown) {
        ctx.reply.array(6);
        ctx.reply.int(entry.id as i64);
        ctx.reply.int(entry.unix_time);
        ctx.reply.int(entry.micros as i64);
        ctx.reply.array(entry.args.len());
        for arg in &entry.args {
            ctx.reply.bulk(arg);
        }
        ctx.reply.bulk(entry.peer.as_bytes());
        ctx.reply.bulk(&entry.name);
    }
}

pub(super) fn slowlog_len(ctx: &mut Ctx, _args: Args) {
    ctx.reply.int(ctx.state.slowlog.entries.len() as i64);
}

pub(super) fn slowlog_reset(ctx: &mut Ctx, _args: Args) {
    ctx.state.slowlog.reset();
    ctx.reply.ok();
}

pub(super) fn latency_help(ctx: &mut Ctx, _args: Args) {
    super::reply_help(
        ctx.reply,
        "latency",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
}

/// `LATENCY LATEST`: per event, the time and value of its last sample and
/// its all-time worst.
pub(super) fn latency_latest(ctx: &mut Ctx, _args: Args) {
    let events = &ctx.state.latency.events;
    ctx.reply.array(events.len());
    for (name, series) in events {
        let last = series
            .samples
            .last()
            .copied()
            .unwrap_or(crate::latency::Sample {
                unix_time: 0,
                millis: 0,
            });
        ctx.reply.array(4);
        ctx.reply.bulk(name.as_bytes());
        ctx.reply.int(last.unix_time);
        ctx.reply.int(last.millis as i64);
        ctx.reply.int(series.max as i64);
    }
}

pub(super) fn latency_history(ctx: &mut Ctx, args: Args) {
    let name = String::from_utf8_lossy(args.get(2));
    let Some(series) = ctx.state.latency.events.get(name.as_ref()) else {
        return ctx.reply.array(0);
    };
    ctx.reply.array(series.samples.len());
    for sample in &series.samples {
        ctx.reply.array(2);
        ctx.reply.int(sample.unix_time);
        ctx.reply.int(sample.millis as i64);
    }
}

pub(super) fn latency_reset(ctx: &mut Ctx, args: Args) {
    let events: Vec<&[u8]> = args.from(2).collect();
    let count = ctx.state.latency.reset(&events);
    ctx.reply.int(count as i64);
}

pub(super) fn latency_graph(ctx: &mut Ctx, args: Args) {
    let name = String::from_utf8_lossy(args.get(2)).into_owned();
    let now = crate::state::unix_millis() / 1000;
    match ctx.state.latency.graph(&name, now) {
        Some(graph) => ctx.reply.verbatim(graph.as_bytes()),
        None => ctx
            .reply
            .error(&format!("ERR No samples available for event '{name}'")),
    }
}

/// `LATENCY DOCTOR`: what the monitor saw, in words, with where each loop
/// stall was spent.
pub(super) fn latency_doctor(ctx: &mut Ctx, _args: Args) {
    let report = crate::latency::doctor(
        &ctx.state.latency,
        ctx.state.config.latency_monitor_threshold,
    );
    ctx.reply.verbatim(report.as_bytes());
}

/// `LATENCY HISTOGRAM [command ...]`: for each command with calls, its
/// call count and cumulative latency distribution in microseconds.
pub(super) fn latency_histogram(ctx: &mut Ctx, args: Args) {
    let stats = &ctx.state.command_stats;
    let all = super::all_commands();
    let mut chosen: Vec<usize> = Vec::new();
    if args.len() == 2 {
        chosen.extend((0..all.len()).filter(|&i| stats.entries[i].histogram.is_some()));
    } else {
        for name in args.from(2) {
            let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
            // A container's name stands for all its subcommands.
            for (i, command) in all.iter().enumerate() {
                let matches = command.name == lower
                    || command
                        .name
                        .split_once('|')
                        .is_some_and(|(parent, _)| parent == lower);
                if matches && stats.entries[i].histogram.is_some() && !chosen.contains(&i) {
                    chosen.push(i);
                }
            }
        }
    }
    ctx.reply.map(chosen.len());
    for i in chosen {
        let Some(histogram) = stats.entries[i].histogram.as_deref() else {
            continue;
        };
        ctx.reply.bulk(all[i].name.as_bytes());
        ctx.reply.map(2);
        ctx.reply.bulk(b"calls");
        ctx.reply.int(histogram.len() as i64);
        ctx.reply.bulk(b"histogram_usec");
        let buckets = cmdstats::cumulative_buckets(histogram);
        ctx.reply.map(buckets.len());
        for (micros, count) in buckets {
            ctx.reply.int(micros as i64);
            ctx.reply.int(count as i64);
        }
    }
}

/// `MONITOR`: from now on the client hears every command the server runs.
pub(super) fn monitor(ctx: &mut Ctx, _args: Args) {
    let me = ctx.me;
    if ctx.clients[me].monitor {
        return ctx.reply.ok();
    }
    if ctx.clients[me].multi.is_some() {
        return ctx.reply.error(errors::MONITOR_IN_MULTI);
    }
    ctx.clients[me].monitor = true;
    ctx.state.monitors.push(me);
    ctx.reply.ok();
}
