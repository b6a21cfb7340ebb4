//! Starting as a service: `daemonize` (fork into the background),
//! `pidfile`, and `supervised` (telling upstart or systemd when the
//! server is ready), as Redis's `daemonize`, `createPidFile` and
//! `redisIsSupervised` do.

use log::{info, warn};
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether systemd is told about readiness and shutdown.
static SYSTEMD: AtomicBool = AtomicBool::new(false);

/// Where the pid goes when daemonized without a `pidfile`.
pub const DEFAULT_PID_FILE: &str = "/var/run/redis.pid";

/// How the server was started, from `supervised` and the environment.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Supervisor {
    None,
    Upstart,
    Systemd,
}

/// The supervisor in charge for `mode` (an index in
/// `config::SUPERVISED`): `auto` looks at the environment, and a mode
/// whose supervisor left no trace in it counts as none.
pub fn supervisor(mode: usize) -> Supervisor {
    let upstart = std::env::var_os("UPSTART_JOB").is_some();
    let systemd = std::env::var_os("NOTIFY_SOCKET").is_some();
    match crate::config::SUPERVISED.get(mode).copied() {
        Some("auto") if upstart => Supervisor::Upstart,
        Some("auto") if systemd => Supervisor::Systemd,
        Some("upstart") if upstart => Supervisor::Upstart,
        Some("upstart") => {
            warn!("upstart supervision requested, but UPSTART_JOB not found!");
            Supervisor::None
        }
        Some("systemd") if systemd => Supervisor::Systemd,
        Some("systemd") => {
            warn!("systemd supervision requested or auto-detected, but NOTIFY_SOCKET not found!");
            Supervisor::None
        }
        _ => Supervisor::None,
    }
}

/// Announces the start to the supervisor: upstart waits for the process
/// to stop itself, systemd gets a status line.
pub fn starting(supervisor: Supervisor) {
    match supervisor {
        Supervisor::Upstart => {
            info!("supervised by upstart, will stop to signal readiness.");
            // SAFETY: raising a signal on our own process.
            unsafe {
                libc::raise(libc::SIGSTOP);
            }
            std::env::remove_var("UPSTART_JOB");
        }
        Supervisor::Systemd => {
            SYSTEMD.store(true, Ordering::Relaxed);
            info!("Supervised by systemd. Please make sure you set appropriate values for TimeoutStartSec and TimeoutStopSec in your service unit.");
            notify_systemd("STATUS=Redis is loading...\n");
        }
        Supervisor::None => {}
    }
}

/// Tells systemd the data is loaded and clients are served.
pub fn ready(supervisor: Supervisor) {
    if supervisor == Supervisor::Systemd {
        notify_systemd("STATUS=Ready to accept connections\n");
        notify_systemd("READY=1\n");
    }
}

/// Tells systemd the server is shutting down.
pub fn stopping() {
    if SYSTEMD.load(Ordering::Relaxed) {
        notify_systemd("STOPPING=1\n");
    }
}

/// Sends one `sd_notify` message to `$NOTIFY_SOCKET` (a path, or an
/// abstract name after `@`).
fn notify_systemd(message: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sent = UnixDatagram::unbound().and_then(|socket| {
        let bytes = path.as_encoded_bytes();
        if let Some(name) = bytes.strip_prefix(b"@") {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.send_to_addr(message.as_bytes(), &addr)
        } else {
            socket.send_to(message.as_bytes(), &path)
        }
    });
    if let Err(e) = sent {
        warn!("Can't send notification to systemd: {e}");
    }
}

/// Forks: the parent exits, the child leaves the terminal's session and
/// reads and writes /dev/null instead of the terminal. Must run before
/// any thread starts.
pub fn daemonize() {
    // SAFETY: called from main before any other thread exists; the
    // descriptors touched are the standard ones.
    unsafe {
        match libc::fork() {
            -1 => {
                warn!(
                    "Can't fork into the background: {}",
                    std::io::Error::last_os_error()
                );
                return;
            }
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
        crate::logging::note_server_pid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null != -1 {
            for fd in [libc::STDIN_FILENO, libc::STDOUT_FILENO, libc::STDERR_FILENO] {
                libc::dup2(null, fd);
            }
            if null > libc::STDERR_FILENO {
                libc::close(null);
            }
        }
    }
}

/// Writes the pid to `path`; a failure is logged, not fatal.
pub fn write_pid_file(path: &str) {
    if let Err(e) = std::fs::write(path, format!("{}\n", std::process::id())) {
        warn!("Failed to write PID file: {e}");
    }
}

/// Removes the pid file at shutdown.
pub fn remove_pid_file(path: &str) {
    info!("Removing the pid file.");
    let _ = std::fs::remove_file(path);
}
