//! Logging through `log` + `env_logger`, in Redis's line format:
//! `pid:M 25 Nov 2026 11:29:41.690 * Ready to accept connections`.
//!
//! Redis's levels map onto `log`'s: warning → Warn (`#`), notice → Info
//! (`*`), verbose → Debug (`-`), debug → Trace (`.`). `--loglevel` and
//! `CONFIG SET loglevel` move `log`'s global maximum; `RUST_LOG`, when set,
//! takes over filtering entirely.

use crate::config::LogLevel;
use log::LevelFilter;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

pub fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Debug => LevelFilter::Trace,
        LogLevel::Verbose => LevelFilter::Debug,
        LogLevel::Notice => LevelFilter::Info,
        LogLevel::Warning => LevelFilter::Warn,
    }
}

/// Applies a new Redis log level at run time (unless `RUST_LOG` rules).
pub fn set_level(level: LogLevel) {
    if std::env::var_os("RUST_LOG").is_none() {
        log::set_max_level(level_filter(level));
    }
}

fn level_mark(level: log::Level) -> char {
    match level {
        log::Level::Error | log::Level::Warn => '#',
        log::Level::Info => '*',
        log::Level::Debug => '-',
        log::Level::Trace => '.',
    }
}

/// `25 Nov 2026 11:29:41.690` in local time, as Redis's `serverLogRaw`.
fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: localtime_r only writes the `tm` we own; a zeroed `tm` is valid.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        tm.tm_mday,
        MONTHS[tm.tm_mon.clamp(0, 11) as usize],
        tm.tm_year + 1900,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_millis()
    )
}

/// The server's own pid, which changes when it daemonizes.
static SERVER_PID: AtomicU32 = AtomicU32::new(0);

/// Whether the server is a replica: its log lines say `S`, as Redis's.
static REPLICA: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The role the log lines show from now on.
pub fn set_replica_role(replica: bool) {
    REPLICA.store(replica, Ordering::Relaxed);
}

/// Records the calling process as the server (at start, and again in the
/// child that daemonizing leaves running).
pub fn note_server_pid() {
    SERVER_PID.store(std::process::id(), Ordering::Relaxed);
}

/// The target of lines written as they are, without the pid, role,
/// time and level prefix (Redis's `LL_RAW`).
const RAW: &str = "raw";

/// What Redis logs once it listens: its logo (asked for with
/// `always-show-logo`, or when the log is a terminal), else one line. The
/// banner's `PID:` line is what test harnesses wait for.
pub fn banner(show_logo: bool, port: u64) {
    if !show_logo {
        log::info!("Running mode=standalone, port={port}.");
        return;
    }
    log::info!(
        target: RAW,
        "\n    rudis {} (redis {}) {} bit\n\n    Running in standalone mode\n    Port: {port}\n    PID: {}\n",
        env!("CARGO_PKG_VERSION"),
        crate::REDIS_VERSION,
        usize::BITS,
        std::process::id()
    );
}

/// Installs the logger. `logfile` empty means standard output, as in Redis.
pub fn init(level: LogLevel, logfile: &str) -> std::io::Result<()> {
    let mut builder = env_logger::Builder::new();
    let from_env = std::env::var("RUST_LOG").ok();
    match &from_env {
        Some(spec) => {
            builder.parse_filters(spec);
        }
        None => {
            builder.filter_level(LevelFilter::Trace);
        }
    }
    note_server_pid();
    builder.format(move |out, record| {
        if record.target() == RAW {
            return writeln!(out, "{}", record.args());
        }
        // A snapshot child logs as Redis's do: its own pid, role C.
        let pid = std::process::id();
        let role = if pid != SERVER_PID.load(Ordering::Relaxed) {
            'C'
        } else if REPLICA.load(Ordering::Relaxed) {
            'S'
        } else {
            'M'
        };
        writeln!(
            out,
            "{pid}:{role} {} {} {}",
            timestamp(),
            level_mark(record.level()),
            record.args()
        )
    });
    if logfile.is_empty() {
        builder.target(env_logger::Target::Stdout);
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logfile)?;
        builder.target(env_logger::Target::Pipe(Box::new(file)));
    }
    // A second init (tests start several servers in one process) is harmless.
    let _ = builder.try_init();
    if from_env.is_none() {
        log::set_max_level(level_filter(level));
    }
    Ok(())
}
