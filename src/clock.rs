//! A cheap monotonic clock for timing every command. `Instant::now()` costs
//! about 30 ns here (a vDSO call); reading the CPU's time-stamp counter
//! costs about 11 ns, which is what lets every command be timed for
//! `INFO commandstats`, the slow log and the latency histograms. Redis
//! makes the same choice (`monotonic.c`).
//!
//! Ticks are converted to time with a rate measured against the system
//! clock at start and refined by the cron. Where the counter is not known
//! to tick at a constant rate, ticks are nanoseconds from `Instant`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Ticks per second, times 2^16 (fixed point).
static TICKS_PER_SEC_Q16: AtomicU64 = AtomicU64::new(1_000_000_000 << 16);
/// Nanoseconds per tick, times 2^32: converting a command's ticks is one
/// multiplication, not a 128-bit division.
static NANOS_PER_TICK_Q32: AtomicU64 = AtomicU64::new(1 << 32);

/// The pair of readings the rate is measured from.
struct Origin {
    instant: Instant,
    ticks: u64,
    tsc: bool,
}

fn origin() -> &'static Origin {
    static ORIGIN: OnceLock<Origin> = OnceLock::new();
    ORIGIN.get_or_init(|| {
        let tsc = constant_tsc();
        let origin = Origin {
            instant: Instant::now(),
            ticks: raw(tsc, None),
            tsc,
        };
        if tsc {
            // A first rate from a 2 ms look; the cron refines it.
            std::thread::sleep(Duration::from_millis(2));
            calibrate_from(&origin);
        }
        origin
    })
}

/// Whether the CPU says its time-stamp counter ticks at a constant rate
/// and keeps ticking in idle states.
fn constant_tsc() -> bool {
    if !cfg!(target_arch = "x86_64") {
        return false;
    }
    std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|info| {
        info.lines()
            .find(|l| l.starts_with("flags"))
            .is_some_and(|flags| {
                let words: Vec<&str> = flags.split_whitespace().collect();
                words.contains(&"constant_tsc") && words.contains(&"nonstop_tsc")
            })
    })
}

fn raw(tsc: bool, origin: Option<&Origin>) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if tsc {
        // SAFETY: RDTSC has no preconditions on x86_64.
        return unsafe { core::arch::x86_64::_rdtsc() };
    }
    let _ = tsc;
    origin.map_or(0, |o| o.instant.elapsed().as_nanos() as u64)
}

/// Measures the tick rate over the time since start.
fn calibrate_from(origin: &Origin) {
    let nanos = origin.instant.elapsed().as_nanos() as u64;
    let ticks = raw(origin.tsc, Some(origin)).wrapping_sub(origin.ticks);
    if nanos > 0 && ticks > 0 {
        let rate = (u128::from(ticks) << 16) * 1_000_000_000 / u128::from(nanos);
        TICKS_PER_SEC_Q16.store(rate as u64, Relaxed);
        let per_tick = (u128::from(nanos) << 32) / u128::from(ticks);
        NANOS_PER_TICK_Q32.store(per_tick as u64, Relaxed);
    }
}

/// Sets the clock up (a 2 ms calibration); call once at start so the
/// first command does not pay for it.
pub fn init() {
    origin();
}

/// Refines the tick rate; the cron calls this.
pub fn recalibrate() {
    let origin = origin();
    if origin.tsc {
        calibrate_from(origin);
    }
}

/// The current time in ticks.
#[inline]
pub fn now() -> u64 {
    let origin = origin();
    raw(origin.tsc, Some(origin))
}

/// Ticks to microseconds.
pub fn to_micros(ticks: u64) -> u64 {
    to_nanos(ticks) / 1000
}

/// Ticks to nanoseconds.
#[inline]
pub fn to_nanos(ticks: u64) -> u64 {
    let per_tick = NANOS_PER_TICK_Q32.load(Relaxed);
    ((u128::from(ticks) * u128::from(per_tick)) >> 32) as u64
}

/// Microseconds to ticks (thresholds are compared in ticks).
pub fn from_micros(micros: u64) -> u64 {
    let rate = TICKS_PER_SEC_Q16.load(Relaxed);
    ((u128::from(micros) * u128::from(rate) / 1_000_000) >> 16) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_measure_real_time() {
        init();
        let start = now();
        std::thread::sleep(Duration::from_millis(20));
        let micros = to_micros(now() - start);
        assert!((19_000..60_000).contains(&micros), "{micros}");
        let round_trip = to_micros(from_micros(1_000_000));
        assert!((999_000..=1_001_000).contains(&round_trip), "{round_trip}");
    }
}
