//! The bug report a crash leaves in the log, as Redis's `debug.c` does:
//! on SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT (while
//! `crash-log-enabled`), and on a panic, the signal or the panic's
//! message and a stack trace go to the log between the START and END
//! lines operators look for. Then the process dies as it would have: the
//! signal again with its default action, or an abort after a panic.
//!
//! The software watchdog (`watchdog-period`, Redis's `watchdog.c`) logs
//! a stack trace of the loop when one round of it runs longer than the
//! period: a timer the cron re-arms fires SIGALRM at the loop's thread.
//!
//! The handlers allocate and take the logger's lock, which a signal
//! handler should not; Redis takes the same risk, for the same reason: a
//! report that may fail is worth more than none.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// `crash-log-enabled`: whether a fatal signal writes the report.
static ENABLED: AtomicBool = AtomicBool::new(true);
/// `use-exit-on-panic`: a panic ends in `_exit(1)` rather than an abort,
/// for test runs that check exit codes or leaks.
static EXIT_ON_PANIC: AtomicBool = AtomicBool::new(false);

const FATAL_SIGNALS: [libc::c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGABRT,
];

/// Installs the handlers and the panic hook. Called once, at start.
pub fn install(config: &crate::config::Config) {
    configure(config);
    for signal in FATAL_SIGNALS {
        // SAFETY: a plain sigaction with a handler of the right signature;
        // SA_NODEFER|SA_RESETHAND let the re-raise at its end kill us.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fatal_signal as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_RESETHAND;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        log::warn!("------------------------------------------------");
        log::warn!("!!! Software Failure. Press left mouse button to continue");
        log::warn!("Guru Meditation: {message} #{location}");
        report(&["rudis crashed: panic".to_string()]);
        // The abort below is not a second crash to report.
        ENABLED.store(false, Ordering::Relaxed);
        if EXIT_ON_PANIC.load(Ordering::Relaxed) {
            // SAFETY: `_exit` ends the process without running anything.
            unsafe { libc::_exit(1) };
        }
        // A helper thread that died quietly would leave the loop waiting
        // on it for ever: the whole server goes, loudly.
        std::process::abort();
    }));
}

/// Takes `crash-log-enabled` and `use-exit-on-panic`, at start and after
/// each CONFIG SET.
pub fn configure(config: &crate::config::Config) {
    let enabled = crate::config::pending_bool(config, "crash-log-enabled");
    ENABLED.store(enabled, Ordering::Relaxed);
    let exit = crate::config::pending_bool(config, "use-exit-on-panic");
    EXIT_ON_PANIC.store(exit, Ordering::Relaxed);
}

extern "C" fn on_fatal_signal(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    _context: *mut libc::c_void,
) {
    if ENABLED.load(Ordering::Relaxed) {
        let mut lines = vec![format!(
            "rudis {} (redis {}) crashed by signal: {signal}, si_code: {}",
            env!("CARGO_PKG_VERSION"),
            crate::REDIS_VERSION,
            // SAFETY: the kernel passes a valid siginfo with SA_SIGINFO.
            unsafe { info.as_ref() }.map_or(0, |i| i.si_code)
        )];
        if signal == libc::SIGSEGV || signal == libc::SIGBUS {
            // SAFETY: as above; si_addr is set for these two signals.
            let address = unsafe { info.as_ref().map_or(std::ptr::null_mut(), |i| i.si_addr()) };
            lines.push(format!("Accessing address: {address:p}"));
        }
        report(&lines);
    }
    // SAFETY: back to the default action, then the same signal again:
    // the process ends as it would have without this handler.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// The report between the lines Redis's bug reports are framed with.
fn report(lines: &[String]) {
    log::warn!(target: "raw", "\n\n=== RUDIS BUG REPORT START: Cut & paste starting from here ===");
    for line in lines {
        log::warn!("{line}");
    }
    let trace = std::backtrace::Backtrace::force_capture();
    log::warn!(target: "raw", "\n------ STACK TRACE ------\n\nBacktrace:\n{trace}");
    log::warn!(target: "raw", "\n=== RUDIS BUG REPORT END. Make sure to include from START to END. ===\n");
    log::logger().flush();
}

/// The watchdog's timer (a `timer_t`, which may be 0), made on first use.
static WATCHDOG_TIMER: AtomicUsize = AtomicUsize::new(0);
static WATCHDOG_MADE: AtomicBool = AtomicBool::new(false);

/// Arms the watchdog to fire in `period_ms` unless re-armed before
/// (`watchdogScheduleSignal`); 0 disarms it. Called by the loop's cron,
/// on the loop's thread, which the signal is aimed at.
pub fn arm_watchdog(period_ms: u64) {
    let timer = if WATCHDOG_MADE.load(Ordering::Relaxed) {
        WATCHDOG_TIMER.load(Ordering::Relaxed)
    } else if period_ms == 0 {
        return;
    } else {
        match create_watchdog_timer() {
            Some(timer) => timer,
            None => return,
        }
    };
    let value = libc::timespec {
        tv_sec: (period_ms / 1000) as libc::time_t,
        tv_nsec: ((period_ms % 1000) * 1_000_000) as libc::c_long,
    };
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: value,
    };
    // SAFETY: the timer was created by `create_watchdog_timer` and is
    // never deleted; the spec is a valid one-shot.
    unsafe { libc::timer_settime(timer as libc::timer_t, 0, &spec, std::ptr::null_mut()) };
}

/// A timer that sends SIGALRM to the calling thread, with its handler.
fn create_watchdog_timer() -> Option<usize> {
    // SAFETY: sigaction and timer_create with structures we own, zeroed
    // then filled; the handler has the SA_SIGINFO signature.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_watchdog as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGALRM, &action, std::ptr::null_mut());
        let mut event: libc::sigevent = std::mem::zeroed();
        event.sigev_notify = libc::SIGEV_THREAD_ID;
        event.sigev_signo = libc::SIGALRM;
        event.sigev_notify_thread_id = libc::gettid();
        let mut timer: libc::timer_t = std::ptr::null_mut();
        if libc::timer_create(libc::CLOCK_MONOTONIC, &mut event, &mut timer) != 0 {
            return None;
        }
        WATCHDOG_TIMER.store(timer as usize, Ordering::Relaxed);
        WATCHDOG_MADE.store(true, Ordering::Relaxed);
        Some(timer as usize)
    }
}

extern "C" fn on_watchdog(
    _signal: libc::c_int,
    _info: *mut libc::siginfo_t,
    _context: *mut libc::c_void,
) {
    log::warn!(target: "raw", "\n--- WATCHDOG TIMER EXPIRED ---");
    let trace = std::backtrace::Backtrace::force_capture();
    log::warn!(target: "raw", "{trace}\n--------\n");
}

/// The period the watchdog runs with (`applyWatchdogPeriod`): at least
/// two cron rounds, so a loop that is only waiting never trips it.
pub fn watchdog_period(configured_ms: u64, hz: u32) -> u64 {
    if configured_ms == 0 {
        return 0;
    }
    configured_ms.max(u64::from(1000 / hz.max(1)) * 2)
}
