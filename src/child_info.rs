//! What a forked child tells the loop while it writes a snapshot or an
//! AOF base (Redis's `childinfo.c`): about once a second, the keys
//! written so far and its copy-on-write size, then a last report as it
//! exits. Records of a fixed size go through a pipe the loop drains.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// One record: kind, keys written, copy-on-write bytes, and when that
/// size was read (unix milliseconds), each 8 bytes little-endian.
const RECORD: usize = 32;
const CURRENT: u64 = 0;
const FINAL: u64 = 1;

/// Keys between two looks at the clock, and the time between reports
/// (`rdbSaveProgress`).
const KEYS_PER_CHECK: u64 = 1024;
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// The child's side: the pipe and the count so far.
struct Reporter {
    pipe: File,
    keys: u64,
    last_report: Instant,
}

thread_local! {
    static REPORTER: RefCell<Option<Reporter>> = const { RefCell::new(None) };
}

/// In a child just forked: report through `pipe` from now on.
pub fn start_reporting(pipe: File) {
    REPORTER.with(|r| {
        *r.borrow_mut() = Some(Reporter {
            pipe,
            keys: 0,
            last_report: Instant::now(),
        })
    });
}

/// Counts one key written; every second or so, reports. Nothing outside
/// a reporting child (a SAVE on the loop, DEBUG RELOAD).
pub fn key_written() {
    REPORTER.with(|r| {
        let mut r = r.borrow_mut();
        let Some(reporter) = r.as_mut() else {
            return;
        };
        reporter.keys += 1;
        if reporter.keys.is_multiple_of(KEYS_PER_CHECK)
            && reporter.last_report.elapsed() >= REPORT_EVERY
        {
            reporter.last_report = Instant::now();
            let keys = reporter.keys;
            if send(&mut reporter.pipe, CURRENT, keys).is_err() {
                // The loop is gone: nobody wants this file any more.
                log::warn!("Child failed reporting info to parent, exiting.");
                // SAFETY: ends the child without running the parent's
                // destructors, as its normal exit does.
                unsafe { libc::_exit(1) };
            }
        }
    });
}

/// The child's last report, as it exits.
pub fn final_report() {
    REPORTER.with(|r| {
        if let Some(mut reporter) = r.borrow_mut().take() {
            let keys = reporter.keys;
            let _ = send(&mut reporter.pipe, FINAL, keys);
        }
    });
}

fn send(pipe: &mut File, kind: u64, keys: u64) -> io::Result<()> {
    let cow = private_dirty_bytes();
    let at = crate::state::unix_millis() as u64;
    let mut record = [0u8; RECORD];
    for (i, word) in [kind, keys, cow, at].into_iter().enumerate() {
        record[i * 8..i * 8 + 8].copy_from_slice(&word.to_le_bytes());
    }
    pipe.write_all(&record)
}

/// The memory this process wrote since the fork: its copy-on-write cost.
fn private_dirty_bytes() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/self/smaps_rollup") else {
        return 0;
    };
    text.lines()
        .filter(|l| l.starts_with("Private_Dirty:"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum::<u64>()
        * 1024
}

/// The loop's side: the last report of the running child (INFO's
/// `current_*` fields).
#[derive(Debug, Default)]
pub struct ChildInfo {
    pub cow_peak: u64,
    pub cow_bytes: u64,
    /// When the child last read its copy-on-write size (unix ms; 0: never).
    pub cow_updated_ms: i64,
    pub keys_processed: u64,
    /// Keys in the dataset when the child was forked.
    pub keys_total: u64,
    partial: Vec<u8>,
}

impl ChildInfo {
    pub fn new(keys_total: u64) -> Self {
        ChildInfo {
            keys_total,
            ..ChildInfo::default()
        }
    }

    /// Reads every whole record waiting on the pipe (non-blocking);
    /// a short read waits for the rest next time.
    pub fn receive(&mut self, pipe: &mut File) {
        let mut buf = [0u8; RECORD * 8];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => self.partial.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
            while self.partial.len() >= RECORD {
                let record: Vec<u8> = self.partial.drain(..RECORD).collect();
                let word = |i: usize| {
                    let mut bytes = [0u8; 8];
                    bytes.copy_from_slice(&record[i * 8..i * 8 + 8]);
                    u64::from_le_bytes(bytes)
                };
                self.apply(word(0), word(1), word(2), word(3) as i64);
            }
        }
    }

    fn apply(&mut self, kind: u64, keys: u64, cow: u64, at_ms: i64) {
        self.cow_peak = self.cow_peak.max(cow);
        if kind == CURRENT {
            self.cow_bytes = cow;
            self.cow_updated_ms = at_ms;
            self.keys_processed = keys;
        }
    }

    /// How far the child is, in percent of the keys it has to write.
    pub fn progress_percent(&self) -> f64 {
        if self.keys_total == 0 {
            return 0.0;
        }
        self.keys_processed as f64 / self.keys_total as f64 * 100.0
    }

    /// Seconds since the copy-on-write size was read.
    pub fn cow_age_secs(&self, now_ms: i64) -> i64 {
        if self.cow_updated_ms == 0 {
            return 0;
        }
        (now_ms - self.cow_updated_ms).max(0) / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_read_whole_across_short_reads() {
        let mut fds = [0; 2];
        // SAFETY: pipe2() fills the two descriptors we own from here.
        assert_eq!(
            unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK) },
            0
        );
        use std::os::fd::FromRawFd;
        // SAFETY: both were just created and are owned only here.
        let (mut reader, mut writer) =
            unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
        let mut record = [0u8; RECORD];
        for (i, word) in [CURRENT, 5, 4096, 1_000].into_iter().enumerate() {
            record[i * 8..i * 8 + 8].copy_from_slice(&word.to_le_bytes());
        }
        let mut info = ChildInfo::new(10);
        writer.write_all(&record[..10]).unwrap();
        info.receive(&mut reader);
        assert_eq!(info.keys_processed, 0, "part of a record is kept for later");
        writer.write_all(&record[10..]).unwrap();
        info.receive(&mut reader);
        assert_eq!(info.keys_processed, 5);
        assert_eq!((info.cow_bytes, info.cow_peak), (4096, 4096));
        assert_eq!(info.progress_percent(), 50.0);
        assert_eq!(info.cow_age_secs(3_500), 2);
    }
}
