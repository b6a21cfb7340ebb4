//! The bug report a crash leaves in the log, as Redis's `debug.c` does:
//! on SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT (while
//! `crash-log-enabled`), and on a panic, the signal or the panic's
//! message and a stack trace go to the log between the START and END
//! lines operators look for. Then the process dies as it would have: the
//! signal again with its default action, or an abort after a panic.
//!
//! The handler allocates and takes the logger's lock, which a signal
//! handler should not; Redis takes the same risk, for the same reason: a
//! report that may fail is worth more than none.

use std::sync::atomic::{AtomicBool, Ordering};

/// `crash-log-enabled`: whether a fatal signal writes the report.
static ENABLED: AtomicBool = AtomicBool::new(true);

const FATAL_SIGNALS: [libc::c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGABRT,
];

/// Installs the handlers and the panic hook. Called once, at start.
pub fn install(enabled: bool) {
    set_enabled(enabled);
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
        set_enabled(false);
        // A helper thread that died quietly would leave the loop waiting
        // on it for ever: the whole server goes, loudly.
        std::process::abort();
    }));
}

/// `CONFIG SET crash-log-enabled`.
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
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
