//! `oom-score-adj` and `oom-score-adj-values`: how readily the kernel's
//! OOM killer picks this process, set per role as Redis's
//! `setOOMScoreAdj` does. A master, a replica and a fork child each get
//! their value; `relative` (or `yes`) adds it to the score the process
//! had before rudis first changed it, `absolute` writes it as given, and
//! turning the setting off puts that first score back.
//!
//! The settings live here rather than in the server state because the
//! fork child reads them before it writes its snapshot, and a role
//! change reaches them from the replication code.

use std::sync::Mutex;

const PROC_FILE: &str = "/proc/self/oom_score_adj";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    Relative,
    Absolute,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Master = 0,
    Replica = 1,
    Child = 2,
}

struct Settings {
    mode: Mode,
    values: [i32; 3],
    role: Class,
    /// The score before rudis first changed it: what `relative` adds to
    /// and what turning the setting off restores.
    base: Option<i32>,
}

static SETTINGS: Mutex<Settings> = Mutex::new(Settings {
    mode: Mode::Off,
    values: [0, 200, 800],
    role: Class::Master,
    base: None,
});

/// Checks an `oom-score-adj-values` value: three integers between -2000
/// and 2000. The stored form, single-spaced.
pub fn check_values(text: &str) -> Result<String, String> {
    let values = parse_values(text)?;
    if values[1] < values[0] || values[2] < values[1] {
        log::warn!("The oom-score-adj-values configuration may not work for non-privileged processes! Please consult the documentation.");
    }
    Ok(format!("{} {} {}", values[0], values[1], values[2]))
}

fn parse_values(text: &str) -> Result<[i32; 3], String> {
    let words: Vec<&str> = text.split(' ').collect();
    let [master, replica, child] = words[..] else {
        return Err("wrong number of arguments".into());
    };
    let parse = |word: &str| {
        word.parse::<i32>()
            .ok()
            .filter(|v| (-2000..=2000).contains(v))
            .ok_or_else(|| {
                "Invalid oom-score-adj-values, elements must be between -2000 and 2000.".to_string()
            })
    };
    Ok([parse(master)?, parse(replica)?, parse(child)?])
}

/// Takes the settings from the config and applies them for the current
/// role. False when the score could not be written (logged already).
pub fn configure(config: &crate::config::Config) -> bool {
    let values = crate::config::pending_text(config, "oom-score-adj-values");
    let mode = match crate::config::pending_text(config, "oom-score-adj") {
        "yes" | "relative" => Mode::Relative,
        "absolute" => Mode::Absolute,
        _ => Mode::Off,
    };
    let mut settings = lock();
    settings.mode = mode;
    settings.values = parse_values(values).unwrap_or(settings.values);
    let role = settings.role;
    apply(&mut settings, role).is_ok()
}

/// The server became a master or a replica (Redis's
/// `replicationSetMaster` and `replicationUnsetMaster`).
pub fn set_role(replica: bool) {
    let mut settings = lock();
    settings.role = if replica {
        Class::Replica
    } else {
        Class::Master
    };
    let role = settings.role;
    let _ = apply(&mut settings, role);
}

/// Called in a fork child: it takes the child's score.
pub fn enter_child() {
    let mut settings = lock();
    let _ = apply(&mut settings, Class::Child);
}

fn lock() -> std::sync::MutexGuard<'static, Settings> {
    SETTINGS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn apply(settings: &mut Settings, class: Class) -> Result<(), ()> {
    let value = match (settings.mode, settings.base) {
        (Mode::Off, None) => return Ok(()),
        (Mode::Off, Some(base)) => {
            settings.base = None;
            base
        }
        (mode, known) => {
            let base = match known {
                Some(base) => base,
                None => {
                    let base = read_score()?;
                    settings.base = Some(base);
                    base
                }
            };
            let own = settings.values[class as usize];
            let value = if mode == Mode::Relative {
                own + base
            } else {
                own
            };
            value.clamp(-1000, 1000)
        }
    };
    std::fs::write(PROC_FILE, format!("{value}\n")).map_err(|e| {
        log::warn!(
            "Unable to write oom_score_adj: {}",
            crate::errors::os_error_text(&e)
        )
    })
}

fn read_score() -> Result<i32, ()> {
    match std::fs::read_to_string(PROC_FILE) {
        Ok(text) => Ok(text.trim().parse().unwrap_or(0)),
        Err(e) => {
            log::warn!(
                "Unable to read oom_score_adj: {}",
                crate::errors::os_error_text(&e)
            );
            Err(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_three_scores_in_range() {
        assert_eq!(check_values("10 20 30").as_deref(), Ok("10 20 30"));
        assert!(check_values("10  20 30").is_err());
        assert_eq!(
            check_values("-2001 0 0").unwrap_err(),
            "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
        );
        assert!(check_values("2001 2001 2001").is_err());
        assert_eq!(
            check_values("1 2").unwrap_err(),
            "wrong number of arguments"
        );
        assert!(check_values("1 2 x").is_err());
    }
}
