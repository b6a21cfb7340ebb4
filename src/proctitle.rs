//! The title `ps` shows for the process (`proc-title-template`,
//! `set-proc-title`), as Redis's `redisSetProcTitle`: the template's
//! variables expanded and written over the memory that held the command
//! line, which is what `/proc/PID/cmdline` reads.
//!
//! The command line alone is often too short for a title, so at start-up
//! the environment strings that follow it are copied to the heap (libc's
//! `setenv` makes its own copies) and their space joins the title's.

use crate::config::Config;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The writable span [start, end) of the original argv and environment
/// strings, once `init` has freed it (0, 0 before).
static AREA: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];

/// argv[0], what `{title}` stands for.
static EXECUTABLE: OnceLock<String> = OnceLock::new();

/// The settings the title was last made from, for forked children to
/// make theirs (None while titles are off).
static SOURCE: std::sync::Mutex<Option<(Config, Option<String>)>> = std::sync::Mutex::new(None);

/// The title `config` asks for with `executable` for `{title}`.
fn expand_for(config: &Config, config_file: Option<&str>, executable: &str) -> Option<String> {
    let vars = Vars {
        title: executable,
        bind: &config.bind,
        port: config.port,
        tls_port: crate::tls::port(config),
        unixsocket: &config.unixsocket,
        config_file: config_file.unwrap_or_default(),
    };
    expand(
        crate::config::pending_text(config, "proc-title-template"),
        &vars,
    )
}

/// Sets the title `config` asks for, unless `set-proc-title` is off.
/// False if the template is invalid.
pub fn apply(config: &Config, config_file: Option<&str>) -> bool {
    let executable = EXECUTABLE.get().map_or("rudis-server", String::as_str);
    let Some(title) = expand_for(config, config_file, executable) else {
        return false;
    };
    let on = crate::config::pending_bool(config, "set-proc-title");
    if on {
        set(&title);
    }
    let mut source = SOURCE.lock().unwrap_or_else(|e| e.into_inner());
    *source = on.then(|| (config.clone(), config_file.map(str::to_string)));
    true
}

/// In a forked child: the title with the child's name (Redis's, such as
/// `redis-rdb-bgsave`) for `{title}`.
pub fn set_child(name: &str) {
    let source = SOURCE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((config, file)) = source.as_ref() {
        if let Some(title) = expand_for(config, file.as_deref(), name) {
            set(&title);
        }
    }
}

/// What the template's variables stand for (Redis's
/// `redisProcTitleGetVariable`).
pub struct Vars<'a> {
    /// The executable as it was run (argv[0]).
    pub title: &'a str,
    pub bind: &'a [String],
    pub port: u16,
    pub tls_port: u16,
    pub unixsocket: &'a str,
    pub config_file: &'a str,
}

/// Expands `template`; None for an unknown variable or an unbalanced
/// brace (Redis's "template format is invalid or contains unknown
/// variables"). The result is trimmed of spaces, as Redis trims it.
pub fn expand(template: &str, vars: &Vars) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return None;
        }
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}')? + open;
        let name = &rest[open + 1..close];
        match name {
            "title" => out.push_str(vars.title),
            "listen-addr" => {
                if vars.port > 0 || vars.tls_port > 0 {
                    let host = vars.bind.first().map_or("*", String::as_str);
                    let port = if vars.port > 0 {
                        vars.port
                    } else {
                        vars.tls_port
                    };
                    out.push_str(&format!("{host}:{port}"));
                } else {
                    out.push_str(&format!("unixsocket:{}", vars.unixsocket));
                }
            }
            "server-mode" => {}
            "config-file" => out.push_str(vars.config_file),
            "port" => out.push_str(&vars.port.to_string()),
            "tls-port" => out.push_str(&vars.tls_port.to_string()),
            "unixsocket" => out.push_str(vars.unixsocket),
            _ => return None,
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out.trim_matches(' ').to_string())
}

/// The argv and envp the C runtime passed at start-up, captured by an
/// `.init_array` entry as Rust's own runtime captures them: the
/// program's real strings, also under a tool such as valgrind, whose
/// `/proc/self/stat` spans describe the tool's own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod startup {
    use std::ffi::c_char;
    use std::sync::atomic::{AtomicPtr, Ordering};

    pub static ARGV: AtomicPtr<*const c_char> = AtomicPtr::new(std::ptr::null_mut());
    pub static ENVP: AtomicPtr<*const c_char> = AtomicPtr::new(std::ptr::null_mut());

    extern "C" fn capture(_argc: i32, argv: *const *const c_char, envp: *const *const c_char) {
        ARGV.store(argv.cast_mut(), Ordering::Relaxed);
        ENVP.store(envp.cast_mut(), Ordering::Relaxed);
    }

    #[used]
    #[link_section = ".init_array.00099"]
    static CAPTURE: extern "C" fn(i32, *const *const c_char, *const *const c_char) = capture;
}

/// The end of the run of strings `list` points to (a NULL-terminated
/// array), starting at `from`: each must begin where the one before
/// ended, as the kernel lays them out; a gap ends the run.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
unsafe fn contiguous_end(list: *const *const std::ffi::c_char, from: usize) -> usize {
    let mut end = from;
    let mut at = list;
    // SAFETY (caller): `list` is the C runtime's NULL-terminated array.
    unsafe {
        while !(*at).is_null() {
            let string = *at as usize;
            if string != end {
                break;
            }
            end = string + std::ffi::CStr::from_ptr(*at).to_bytes().len() + 1;
            at = at.add(1);
        }
    }
    end
}

/// Frees the command line and environment strings for titles. Call once,
/// at start-up, before any other thread runs: it replaces the environment.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn init() {
    use std::sync::atomic::Ordering;
    let executable = std::env::args().next().unwrap_or_default();
    let _ = EXECUTABLE.set(executable);
    let argv = startup::ARGV.load(Ordering::Relaxed);
    let envp = startup::ENVP.load(Ordering::Relaxed);
    // SAFETY: both are the C runtime's arrays, alive for the process.
    let (start, args_end) = unsafe {
        if argv.is_null() || (*argv).is_null() {
            return;
        }
        let start = *argv as usize;
        (start, contiguous_end(argv, start))
    };
    let mut end = args_end;
    if !envp.is_null() {
        // SAFETY: as above.
        let env_end = unsafe { contiguous_end(envp, args_end) };
        if env_end > args_end {
            let vars: Vec<_> = std::env::vars_os().collect();
            // SAFETY: single-threaded start-up; clearenv drops libc's
            // pointers into the old strings, and set_var copies each.
            unsafe {
                libc::clearenv();
                for (name, value) in vars {
                    std::env::set_var(name, value);
                }
            }
            end = env_end;
        }
    }
    AREA[0].store(start, Ordering::Relaxed);
    AREA[1].store(end, Ordering::Relaxed);
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn init() {
    let _ = EXECUTABLE.set(std::env::args().next().unwrap_or_default());
}

/// Writes `title` over the freed strings (cut to fit), padding with NULs.
pub fn set(title: &str) {
    let (start, end) = (
        AREA[0].load(Ordering::Relaxed),
        AREA[1].load(Ordering::Relaxed),
    );
    if end <= start {
        return;
    }
    let room = end - start - 1;
    let bytes = &title.as_bytes()[..title.len().min(room)];
    // SAFETY: [start, end) is the process's own argv and environment
    // string memory, which `init` took out of use (nothing reads argv
    // after start-up, and the environment lives on the heap now).
    unsafe {
        let area = std::slice::from_raw_parts_mut(start as *mut u8, end - start);
        area[..bytes.len()].copy_from_slice(bytes);
        area[bytes.len()..].fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_as_in_redis() {
        let bind = vec!["127.0.0.1".to_string()];
        let vars = Vars {
            title: "/usr/bin/rudis-server",
            bind: &bind,
            port: 6379,
            tls_port: 0,
            unixsocket: "/tmp/s.sock",
            config_file: "/etc/rudis.conf",
        };
        let expand = |t: &str| expand(t, &vars);
        assert_eq!(
            expand("{title} {listen-addr} {server-mode}").as_deref(),
            Some("/usr/bin/rudis-server 127.0.0.1:6379")
        );
        assert_eq!(
            expand("TEST {port} {tls-port} {unixsocket} {config-file}").as_deref(),
            Some("TEST 6379 0 /tmp/s.sock /etc/rudis.conf")
        );
        assert_eq!(expand("{invalid-var}"), None);
        assert_eq!(expand("{title"), None);
        assert_eq!(expand("title}"), None);
        let unix_only = Vars { port: 0, ..vars };
        assert_eq!(
            super::expand("{listen-addr}", &unix_only).as_deref(),
            Some("unixsocket:/tmp/s.sock")
        );
    }
}
