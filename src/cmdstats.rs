//! Per-command statistics: what `INFO commandstats`, `INFO latencystats`
//! and `LATENCY HISTOGRAM` report. One entry per command and subcommand,
//! numbered as `cmd::all_commands` numbers them, so recording a call is
//! an index and four additions (and one histogram record when
//! `latency-tracking` is on).
//!
//! Counted where Redis counts: a call when the command ran (`call()`), a
//! rejected call when it was refused before running (arity, -LOADING,
//! -MISCONF...), a failed call when it ran and replied an error.

use crate::clock;
use crate::cmd::{all_commands, Command};
use hdrhistogram::Histogram;

/// Redis's `LATENCY_HISTOGRAM_MIN_VALUE`, `_MAX_VALUE` (ns) and precision.
const HISTOGRAM_MIN_NS: u64 = 1;
const HISTOGRAM_MAX_NS: u64 = 1_000_000_000;
const HISTOGRAM_PRECISION: u8 = 2;

#[derive(Default)]
pub struct CommandStat {
    pub calls: u64,
    /// Time spent, in clock ticks (converted when reported).
    pub ticks: u64,
    pub rejected: u64,
    pub failed: u64,
    /// Latencies in nanoseconds; made at the first call that is tracked.
    pub histogram: Option<Box<Histogram<u64>>>,
}

/// What the loop needs to know about a command on every call, read from
/// its flags once.
#[derive(Clone, Copy, Default)]
pub struct Traits {
    pub fast: bool,
    pub skip_slowlog: bool,
    /// Neither shown to MONITOR (`skip_monitor`, or an admin command).
    pub hidden_from_monitor: bool,
    /// Refused inside MULTI.
    pub no_multi: bool,
    /// Only reads keys: what it read may be cached by a tracking client.
    pub readonly: bool,
    pub pubsub: bool,
    pub write: bool,
    /// May write or propagate (PUBLISH, EVAL...): refused from read-only
    /// scripts like a write.
    pub may_replicate: bool,
    /// Refused from scripts.
    pub noscript: bool,
    /// May grow memory: refused while over `maxmemory` with nothing to
    /// evict.
    pub denyoom: bool,
    /// Served by a stale replica (`replica-serve-stale-data no`).
    pub stale: bool,
    /// Runs a script (EVAL, FCALL and their variants): a script that
    /// declared flags decides `write`, `denyoom` and `stale` itself.
    pub runs_script: bool,
}

impl Traits {
    /// The traits a script command takes from the flags its script
    /// declared (Redis's `scriptFlagsToCmdFlags`). A script that declared
    /// none is not served by a stale replica either, as redis-server 7.0
    /// answers.
    pub fn declared_by(self, flags: crate::scripting::ScriptFlags) -> Traits {
        if !flags.declared {
            return Traits {
                stale: false,
                ..self
            };
        }
        Traits {
            write: !flags.no_writes,
            denyoom: !(flags.no_writes || flags.allow_oom),
            stale: flags.allow_stale,
            ..self
        }
    }
}

pub struct CommandStats {
    pub entries: Vec<CommandStat>,
    pub traits: Vec<Traits>,
}

impl Default for CommandStats {
    fn default() -> Self {
        let all = all_commands();
        let flag = |c: &Command, f: &str| c.flags.split(' ').any(|x| x == f);
        CommandStats {
            entries: all.iter().map(|_| CommandStat::default()).collect(),
            traits: all
                .iter()
                .map(|c| Traits {
                    fast: flag(c, "fast"),
                    skip_slowlog: flag(c, "skip_slowlog"),
                    hidden_from_monitor: flag(c, "skip_monitor") || flag(c, "admin"),
                    no_multi: flag(c, "no_multi"),
                    readonly: flag(c, "readonly"),
                    pubsub: flag(c, "pubsub"),
                    write: flag(c, "write"),
                    // Redis keeps this flag out of COMMAND INFO, so the
                    // table does not have it.
                    may_replicate: matches!(
                        c.name,
                        "eval" | "evalsha" | "fcall" | "pfcount" | "publish" | "spublish"
                    ),
                    noscript: flag(c, "noscript"),
                    denyoom: flag(c, "denyoom"),
                    stale: flag(c, "stale"),
                    runs_script: matches!(
                        c.name,
                        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
                    ),
                })
                .collect(),
        }
    }
}

impl CommandStats {
    /// A call that ran for `ticks`; `failed` if it replied an error.
    /// True if it had to make the command's histogram.
    #[inline]
    pub fn record(&mut self, id: usize, ticks: u64, failed: bool, track_latency: bool) -> bool {
        let Some(stat) = self.entries.get_mut(id) else {
            return false;
        };
        stat.calls += 1;
        stat.ticks += ticks;
        stat.failed += u64::from(failed);
        let mut made = false;
        if track_latency {
            let nanos = clock::to_nanos(ticks).clamp(HISTOGRAM_MIN_NS, HISTOGRAM_MAX_NS);
            if stat.histogram.is_none() {
                stat.histogram = new_histogram();
                made = true;
            }
            if let Some(histogram) = stat.histogram.as_mut() {
                let _ = histogram.record(nanos);
            }
        }
        made
    }

    pub fn reject(&mut self, id: usize) {
        if let Some(stat) = self.entries.get_mut(id) {
            stat.rejected += 1;
        }
    }

    pub fn traits(&self, id: usize) -> Traits {
        self.traits.get(id).copied().unwrap_or_default()
    }

    /// `CONFIG RESETSTAT`.
    pub fn reset(&mut self) {
        for stat in &mut self.entries {
            *stat = CommandStat::default();
        }
    }

    /// The commands with anything to report, with their statistics.
    pub fn reported(&self) -> impl Iterator<Item = (&'static Command, &CommandStat)> {
        all_commands()
            .iter()
            .zip(&self.entries)
            .filter(|(_, s)| s.calls > 0 || s.rejected > 0 || s.failed > 0)
            .map(|(c, s)| (*c, s))
    }
}

fn new_histogram() -> Option<Box<Histogram<u64>>> {
    Histogram::new_with_bounds(HISTOGRAM_MIN_NS, HISTOGRAM_MAX_NS, HISTOGRAM_PRECISION)
        .ok()
        .map(Box::new)
}

/// `cmdstat_<name>:calls=...` (Redis's `genRedisInfoString`).
pub fn commandstats_line(command: &Command, stat: &CommandStat) -> String {
    let usec = clock::to_micros(stat.ticks);
    let per_call = if stat.calls == 0 {
        0.0
    } else {
        usec as f64 / stat.calls as f64
    };
    format!(
        "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}",
        command.name, stat.calls, usec, per_call, stat.rejected, stat.failed
    )
}

/// `latency_percentiles_usec_<name>:p50=...,p99=...`.
pub fn latencystats_line(
    command: &Command,
    histogram: &Histogram<u64>,
    percentiles: &[f64],
) -> String {
    let mut line = format!("latency_percentiles_usec_{}:", command.name);
    for (i, p) in percentiles.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        let value = histogram.value_at_quantile(p / 100.0) as f64 / 1000.0;
        line.push_str(&format!("p{}={:.3}", percentile_name(*p), value));
    }
    line
}

/// A percentile as Redis names it: `%f` with trailing zeros (and point)
/// dropped: 50, 99, 99.9.
pub fn percentile_name(p: f64) -> String {
    let text = format!("{p:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The cumulative distribution `LATENCY HISTOGRAM` replies: (microseconds,
/// calls at or under it) at power-of-two buckets from 1024 ns, only where
/// the count grew (Redis's `fillCommandCDF`).
pub fn cumulative_buckets(histogram: &Histogram<u64>) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut previous = 0;
    let mut cumulative = 0;
    for step in histogram.iter_log(1024, 2.0) {
        cumulative += step.count_since_last_iteration();
        let micros = histogram.highest_equivalent(step.value_iterated_to()) / 1000;
        if cumulative > previous {
            out.push((micros, cumulative));
        }
        previous = cumulative;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_names_drop_trailing_zeros() {
        assert_eq!(percentile_name(50.0), "50");
        assert_eq!(percentile_name(99.9), "99.9");
        assert_eq!(percentile_name(99.99), "99.99");
    }

    #[test]
    fn buckets_are_cumulative_powers_of_two() {
        let mut h = new_histogram().unwrap();
        for ns in [500, 900, 1500, 3000, 3000, 70_000] {
            h.record(ns).unwrap();
        }
        let buckets = cumulative_buckets(&h);
        assert_eq!(buckets.first(), Some(&(1, 2)));
        assert_eq!(buckets.last().map(|b| b.1), Some(6));
        assert!(buckets
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
    }
}
