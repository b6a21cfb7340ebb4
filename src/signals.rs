//! What SIGINT and SIGTERM do inside the handler itself, as Redis's
//! `sigShutdownHandler`: the first one asks for a shutdown, which the
//! loop's cron carries out; a SIGINT after that means "now", even while
//! the loop is stuck writing the final snapshot. Then the handler removes
//! that snapshot's temp file and exits at once, with status 1.
//!
//! The loop learns of each signal through `signal_hook_mio` (see
//! `Server::take_signals`); this handler runs beside it.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static REQUESTED: AtomicBool = AtomicBool::new(false);
/// `temp-<pid>.rdb`, the name a save in this process writes to (relative
/// to `dir`, the working directory), made before any signal can come.
static TEMP_SNAPSHOT: OnceLock<CString> = OnceLock::new();

/// Installs the handlers. Called once, before the loop starts.
pub fn install() -> std::io::Result<()> {
    let temp = format!("temp-{}.rdb", std::process::id());
    let _ = TEMP_SNAPSHOT.set(CString::new(temp).unwrap_or_default());
    // SAFETY: the actions only touch atomics, a path made beforehand,
    // unlink(2) and _exit(2), all async-signal-safe.
    unsafe {
        signal_hook::low_level::register(signal_hook::consts::SIGINT, || {
            if REQUESTED.swap(true, Ordering::SeqCst) {
                if let Some(path) = TEMP_SNAPSHOT.get() {
                    libc::unlink(path.as_ptr());
                }
                libc::_exit(1);
            }
        })?;
        signal_hook::low_level::register(signal_hook::consts::SIGTERM, || {
            REQUESTED.store(true, Ordering::SeqCst);
        })?;
    }
    Ok(())
}

/// The requested shutdown was aborted, or failed: a SIGINT asks again
/// rather than forcing an exit.
pub fn cancel() {
    REQUESTED.store(false, Ordering::SeqCst);
}
