//! The latency monitor (Redis's `latency.c`): for each kind of event that
//! can take long (a command, the expiry cycle, a fork, an AOF fsync, a
//! stalled loop iteration), the last 160 samples of at least
//! `latency-monitor-threshold` milliseconds, one per second (a second's
//! worst), and the worst ever.
//!
//! Beyond Redis, a loop iteration that took the threshold or more is
//! recorded under the phase it spent most of it in (`eventloop-...`),
//! with the slowest command it ran, so `LATENCY DOCTOR` can say where a
//! stall came from.

use std::collections::BTreeMap;
use std::fmt::Write;

/// Redis's `LATENCY_TS_LEN`: samples kept per event.
const SAMPLES: usize = 160;
/// Redis's `LATENCY_GRAPH_COLS`.
const GRAPH_COLUMNS: usize = 80;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    pub unix_time: i64,
    pub millis: u64,
}

#[derive(Default)]
pub struct Series {
    /// Oldest first.
    pub samples: Vec<Sample>,
    pub max: u64,
    /// What was slow the last time, when known (a loop phase's slowest
    /// command).
    pub detail: String,
}

#[derive(Default)]
pub struct LatencyMonitor {
    pub events: BTreeMap<String, Series>,
}

impl LatencyMonitor {
    /// Records `millis` for `event` if the threshold is on and reached
    /// (`latencyAddSampleIfNeeded`).
    pub fn add_if_needed(&mut self, threshold_ms: u64, event: &str, millis: u64) {
        if threshold_ms > 0 && millis >= threshold_ms {
            self.add(event, millis, crate::state::unix_millis() / 1000, "");
        }
    }

    /// Records a sample; two in the same second keep the worst.
    pub fn add(&mut self, event: &str, millis: u64, unix_time: i64, detail: &str) {
        if !self.events.contains_key(event) {
            self.events.insert(event.to_string(), Series::default());
        }
        let Some(series) = self.events.get_mut(event) else {
            return;
        };
        series.max = series.max.max(millis);
        if !detail.is_empty() {
            series.detail = detail.to_string();
        }
        if let Some(last) = series.samples.last_mut() {
            if last.unix_time == unix_time {
                last.millis = last.millis.max(millis);
                return;
            }
        }
        if series.samples.len() == SAMPLES {
            series.samples.remove(0);
        }
        series.samples.push(Sample { unix_time, millis });
    }

    /// `LATENCY RESET [event ...]`: how many events were dropped.
    pub fn reset(&mut self, events: &[&[u8]]) -> usize {
        if events.is_empty() {
            let count = self.events.len();
            self.events.clear();
            return count;
        }
        let mut count = 0;
        for name in events {
            let name = String::from_utf8_lossy(name);
            if self.events.remove(name.as_ref()).is_some() {
                count += 1;
            }
        }
        count
    }

    /// `LATENCY GRAPH event`: an ASCII sparkline of the samples, labelled
    /// with how long ago each was, as Redis draws it.
    pub fn graph(&self, event: &str, now_unix: i64) -> Option<String> {
        let series = self.events.get(event)?;
        let samples = &series.samples;
        let low = samples.iter().map(|s| s.millis).min()?;
        let high = samples.iter().map(|s| s.millis).max()?;
        let mut out = format!(
            "{event} - high {high} ms, low {low} ms (all time high {} ms)\n",
            series.max
        );
        out.push_str(&"-".repeat(GRAPH_COLUMNS));
        out.push('\n');
        let labels: Vec<String> = samples
            .iter()
            .map(|s| age_label(now_unix - s.unix_time))
            .collect();
        let values: Vec<f64> = samples.iter().map(|s| s.millis as f64).collect();
        for (chunk, start) in (0..values.len()).step_by(GRAPH_COLUMNS).enumerate() {
            if chunk > 0 {
                out.push('\n');
            }
            let end = (start + GRAPH_COLUMNS).min(values.len());
            render_sparkline(&mut out, &values, &labels, start..end);
        }
        Some(out)
    }
}

/// What each event means and what to look at, for the doctor.
fn advice(event: &str) -> &'static str {
    match event {
        "command" => "Slow commands ran: SLOWLOG GET lists them; O(N) commands over big values (KEYS, SMEMBERS, LRANGE 0 -1, ...) are the usual cause.",
        "fast-command" => "Commands that are normally O(1) or O(log N) were slow: the machine itself may be stalling the process (swapping, a noisy neighbour, CPU steal).",
        "expire-cycle" => "The active expiry cycle ran long: many keys reached their TTL at the same time. Spreading expiry times avoids it.",
        "fork" => "Forking for BGSAVE or an AOF rewrite took long: a big dataset makes fork slower, and some virtual machines copy page tables slowly.",
        "aof-fsync-always" => "An fsync under appendfsync always was slow: the disk is the bottleneck; appendfsync everysec trades up to a second of writes for it.",
        "aof-write" => "Writing the append-only file was slow: the disk is busy or slow.",
        "eventloop-read-execute" => "A loop iteration spent long reading and running commands.",
        "eventloop-write" => "A loop iteration spent long writing replies or flushing the AOF.",
        "eventloop-cron" => "A loop iteration spent long in the periodic tasks (client checks, persistence).",
        "eventloop-expiry" => "A loop iteration spent long deleting expired keys.",
        "eventloop-poll" => "Waiting for events overran its timeout: the process was not scheduled (CPU steal, an overloaded host).",
        _ => "",
    }
}

/// `LATENCY DOCTOR`: a report in words. For each event: how many spikes,
/// their average and mean deviation, how often they came, the worst; for
/// a stalled loop, the phase and the slowest command; then advice.
pub fn doctor(monitor: &LatencyMonitor, threshold_ms: u64) -> String {
    if threshold_ms == 0 && monitor.events.is_empty() {
        return "Latency monitoring is disabled (latency-monitor-threshold is 0). Enable it with CONFIG SET latency-monitor-threshold <milliseconds>, then ask again.\n".into();
    }
    if monitor.events.is_empty() {
        return format!(
            "No latency spike of {threshold_ms} ms or more was observed since the server started.\n"
        );
    }
    let mut out = String::from("Latency spikes observed, by event:\n\n");
    for (i, (name, series)) in monitor.events.iter().enumerate() {
        let values: Vec<f64> = series.samples.iter().map(|s| s.millis as f64).collect();
        let count = values.len().max(1) as f64;
        let average = values.iter().sum::<f64>() / count;
        let deviation = values.iter().map(|v| (v - average).abs()).sum::<f64>() / count;
        let period = match (series.samples.first(), series.samples.last()) {
            (Some(first), Some(last)) if series.samples.len() > 1 => {
                (last.unix_time - first.unix_time) as f64 / (series.samples.len() - 1) as f64
            }
            _ => 0.0,
        };
        let _ = write!(
            out,
            "{}. {name}: {} latency spikes (average {:.0}ms, mean deviation {:.0}ms, period {:.1} sec). Worst all time event {}ms.",
            i + 1,
            series.samples.len(),
            average,
            deviation,
            period,
            series.max
        );
        if let Some(phase) = name.strip_prefix("eventloop-") {
            let _ = write!(out, " The loop stalled in {}", phase.replace('-', "+"));
            if !series.detail.is_empty() {
                let _ = write!(out, "; its slowest command was {}", series.detail);
            }
            out.push('.');
        }
        out.push('\n');
    }
    out.push_str("\nWhat to look at:\n\n");
    for name in monitor.events.keys() {
        let text = advice(name);
        if !text.is_empty() {
            let _ = writeln!(out, "- {name}: {text}");
        }
    }
    out
}

/// How long ago, as Redis labels graph columns: 5s, 3m, 2h, 1d.
fn age_label(elapsed: i64) -> String {
    match elapsed {
        e if e < 60 => format!("{e}s"),
        e if e < 3600 => format!("{}m", e / 60),
        e if e < 86_400 => format!("{}h", e / 3600),
        e => format!("{}d", e / 86_400),
    }
}

/// Four rows of `_o#|` bars scaled between the lowest and highest value
/// of the whole series, a blank row, then each column's label written
/// downwards (Redis's `sparklineRenderRange` with SPARKLINE_FILL).
fn render_sparkline(
    out: &mut String,
    values: &[f64],
    labels: &[String],
    range: std::ops::Range<usize>,
) {
    const ROWS: usize = 4;
    const FILL: [char; 3] = ['_', 'o', '#'];
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let span = if max - min == 0.0 { 1.0 } else { max - min };
    let steps = (FILL.len() * ROWS) as f64;
    let step_of = |v: f64| -> i64 {
        let step = (((v - min) * steps).trunc() / span) as i64;
        step.clamp(0, FILL.len() as i64 * ROWS as i64 - 1)
    };
    for row in 0..ROWS {
        let line: String = range
            .clone()
            .map(|j| {
                let index = step_of(values[j]) - ((ROWS - row - 1) * FILL.len()) as i64;
                match usize::try_from(index) {
                    Ok(i) if i < FILL.len() => FILL[i],
                    Ok(_) => '|',
                    Err(_) => ' ',
                }
            })
            .collect();
        let _ = writeln!(out, "{line}");
    }
    let longest = range.clone().map(|j| labels[j].len()).max().unwrap_or(0);
    if longest > 0 {
        let _ = writeln!(out, "{}", " ".repeat(range.len()));
    }
    for depth in 0..longest {
        let line: String = range
            .clone()
            .map(|j| labels[j].as_bytes().get(depth).map_or(' ', |&b| b as char))
            .collect();
        let _ = writeln!(out, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_second_keeps_the_worst() {
        let mut m = LatencyMonitor::default();
        m.add("command", 5, 100, "");
        m.add("command", 9, 100, "");
        m.add("command", 3, 101, "");
        let s = &m.events["command"];
        assert_eq!(
            s.samples,
            vec![
                Sample {
                    unix_time: 100,
                    millis: 9
                },
                Sample {
                    unix_time: 101,
                    millis: 3
                }
            ]
        );
        assert_eq!(s.max, 9);
        for t in 0..200 {
            m.add("fork", 1, 1000 + t, "");
        }
        assert_eq!(m.events["fork"].samples.len(), SAMPLES);
        assert_eq!(m.reset(&[b"fork", b"nope"]), 1);
        assert_eq!(m.reset(&[]), 1);
    }

    #[test]
    fn graph_draws_bars_and_labels() {
        let mut m = LatencyMonitor::default();
        m.add("command", 10, 100, "");
        m.add("command", 40, 110, "");
        let graph = m.graph("command", 120).unwrap();
        let lines: Vec<&str> = graph.lines().collect();
        assert_eq!(
            lines[0],
            "command - high 40 ms, low 10 ms (all time high 40 ms)"
        );
        assert_eq!(lines[1].len(), 80);
        assert_eq!(&lines[2..6], &[" #", " |", " |", "_|"]);
        assert_eq!(&lines[7..10], &["21", "00", "ss"]);
    }
}
