//! Reading the configuration at start, as redis-server reads it: the file
//! named first on the command line, then stdin when `-` is given, then
//! every `--name value` of the command line turned into one more config
//! line. Each line is a directive; `include` pulls in further files (glob
//! patterns allowed). What a setting accepts is `config.rs`'s business;
//! this module owns the lines, their words and the errors' framing.

use crate::config::Config;
use crate::protocol::request::split_config_line;

/// Settings whose directive takes several words (`save 60 1`, `bind a b`);
/// every other setting takes exactly one.
const MULTI_WORD: &[&str] = &[
    "save",
    "bind",
    "client-output-buffer-limit",
    "oom-score-adj-values",
    "replicaof",
    "slaveof",
    "latency-tracking-info-percentiles",
    "shutdown-on-sigint",
    "shutdown-on-sigterm",
];

/// Settings Redis 7.0 no longer has but still reads and ignores, with the
/// number of words after the name each must have.
const IGNORED: &[(&str, usize)] = &[
    ("list-max-ziplist-entries", 1),
    ("list-max-ziplist-value", 1),
    ("lua-replicate-commands", 1),
];

/// How deep `include` may nest; Redis has no limit and recurses until its
/// stack runs out.
const MAX_INCLUDE_DEPTH: usize = 32;

const BAD_DIRECTIVE: &str = "Bad directive or wrong number of arguments";

/// State that spans every file of one load.
#[derive(Default)]
struct Loader {
    /// The first `save` line replaces the default points; later ones add
    /// theirs (`save ""` still clears).
    saw_save: bool,
    depth: usize,
}

impl Config {
    /// Builds a config from redis-server style arguments:
    /// `[/path/to/rudis.conf] [-] [--name value ...]`. Returns it with the
    /// config file's absolute path, if one was named.
    pub fn from_args(args: &[String]) -> Result<(Config, Option<String>), String> {
        let (file, options_at) = match args.first() {
            Some(first) if !first.starts_with('-') => (Some(first), 1),
            _ => (None, 0),
        };
        let (options, from_stdin) = command_line_options(args, options_at);
        let mut text = String::new();
        let mut absolute = None;
        if let Some(path) = file {
            text.push_str(&read_config_file(path)?);
            // Absolute, as Redis keeps it: `dir` changes the working
            // directory, and CONFIG REWRITE must still find the file.
            absolute = Some(
                std::fs::canonicalize(path)
                    .map_or_else(|_| path.clone(), |p| p.to_string_lossy().into_owned()),
            );
        }
        if from_stdin {
            let mut stdin = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut stdin)
                .map_err(|e| format!("Can't read config from stdin: {e}"))?;
            text.push_str(&String::from_utf8_lossy(&stdin));
        }
        text.push('\n');
        text.push_str(&options);
        let mut config = Config::default();
        config.load_text(&text, &mut Loader::default())?;
        Ok((config, absolute))
    }

    fn load_text(&mut self, text: &str, loader: &mut Loader) -> Result<(), String> {
        for (number, line) in text.split('\n').enumerate() {
            let line = line.trim_matches([' ', '\t', '\r', '\n']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |reason: &str| {
                format!(
                    "\n*** FATAL CONFIG FILE ERROR (rudis {}) ***\nReading the configuration file, at line {}\n>>> '{}'\n{}",
                    env!("CARGO_PKG_VERSION"),
                    number + 1,
                    line,
                    reason
                )
            };
            let words = split_config_line(line.as_bytes())
                .ok_or_else(|| fail("Unbalanced quotes in configuration line"))?;
            let words: Vec<String> = words
                .iter()
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            let Some((name, args)) = words.split_first() else {
                continue;
            };
            let name = name.to_ascii_lowercase();
            if name == "include" && args.len() == 1 {
                self.include(&args[0], loader)?;
                continue;
            }
            self.load_directive(&name, args, loader)
                .map_err(|e| fail(&e))?;
        }
        Ok(())
    }

    fn load_directive(
        &mut self,
        name: &str,
        args: &[String],
        loader: &mut Loader,
    ) -> Result<(), String> {
        if Config::canonical_name(name).is_some() {
            if !MULTI_WORD.contains(&name) && args.len() != 1 {
                return Err("wrong number of arguments".into());
            }
            if name == "save" {
                let adds = args.iter().any(|a| !a.is_empty());
                let later = std::mem::replace(&mut loader.saw_save, true);
                if later && adds && !self.save.is_empty() {
                    let points = format!("{} {}", self.save, args.join(" "));
                    return self.set_directive(name, &[points]);
                }
            }
            return self.set_directive(name, args);
        }
        if IGNORED.contains(&(name, args.len())) {
            return Ok(());
        }
        match (name, args.len()) {
            ("user", 1..) | ("rename-command", 2) => self.set_directive(name, args),
            _ => Err(BAD_DIRECTIVE.into()),
        }
    }

    /// `include <path>`: a file, or every file a glob pattern matches (none
    /// is fine), loaded in place as part of this config.
    fn include(&mut self, pattern: &str, loader: &mut Loader) -> Result<(), String> {
        if loader.depth >= MAX_INCLUDE_DEPTH {
            return Err(format!(
                "Fatal error, config file '{pattern}' includes more than {MAX_INCLUDE_DEPTH} levels deep"
            ));
        }
        let paths = if pattern.contains(['*', '?', '[']) {
            glob_paths(pattern)
        } else {
            vec![pattern.to_string()]
        };
        loader.depth += 1;
        for path in paths {
            let text = read_config_file(&path)?;
            self.load_text(&text, loader)?;
        }
        loader.depth -= 1;
        Ok(())
    }
}

/// The command line after the config file, turned into config lines as
/// redis-server's `main` does: `--name` starts a line and the words after
/// it are its arguments, quoted; `--port --bla` gives `port "--bla"`
/// (a name with no value takes the next word whatever it looks like),
/// while `--save` followed by another option is an empty `save ""`. A `-`
/// first or last reads the config from stdin. Returns the lines and
/// whether stdin is to be read.
fn command_line_options(args: &[String], from: usize) -> (String, bool) {
    let mut options = String::new();
    let mut from_stdin = false;
    let mut last_has_value = true;
    for (i, arg) in args.iter().enumerate().skip(from) {
        let next_is_option = args.get(i + 1).is_some_and(|next| next.starts_with("--"));
        let is_last = i + 1 == args.len();
        if arg == "-" && (i == 0 || is_last) {
            from_stdin = true;
        } else if let (true, Some(name)) = (last_has_value, arg.strip_prefix("--")) {
            if !options.is_empty() {
                options.push('\n');
            }
            options.push_str(name);
            options.push(' ');
            // "--maxmemory 100mb" in one word carries its value.
            let words = split_config_line(arg.as_bytes()).map_or(0, |w| w.len());
            last_has_value = words != 1;
            if words == 1 && arg.eq_ignore_ascii_case("--save") {
                if next_is_option || is_last {
                    options.push_str("\"\"");
                    last_has_value = true;
                }
            } else if words == 1 && arg.eq_ignore_ascii_case("--sentinel") && next_is_option {
                last_has_value = true;
            }
        } else {
            let mut quoted = Vec::new();
            crate::errors::push_repr(&mut quoted, arg.as_bytes());
            options.push_str(&String::from_utf8_lossy(&quoted));
            options.push(' ');
            last_has_value = true;
        }
    }
    (options, from_stdin)
}

fn read_config_file(path: &str) -> Result<String, String> {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|e| {
            format!(
                "Fatal error, can't open config file '{path}': {}",
                crate::errors::os_error_text(&e)
            )
        })
}

/// The files a glob pattern matches, sorted as glob(3) sorts them.
fn glob_paths(pattern: &str) -> Vec<String> {
    let Ok(c_pattern) = std::ffi::CString::new(pattern) else {
        return Vec::new();
    };
    // SAFETY: glob_t is plain data that glob() fills in; zeroed is its
    // documented initial state, and globfree() releases what glob() set.
    unsafe {
        let mut found: libc::glob_t = std::mem::zeroed();
        let mut paths = Vec::new();
        if libc::glob(c_pattern.as_ptr(), 0, None, &mut found) == 0 {
            for i in 0..found.gl_pathc {
                let path = *found.gl_pathv.add(i);
                if !path.is_null() {
                    paths.push(
                        std::ffi::CStr::from_ptr(path)
                            .to_string_lossy()
                            .into_owned(),
                    );
                }
            }
        }
        libc::globfree(&mut found);
        paths
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn error(list: &[&str]) -> String {
        Config::from_args(&args(list)).unwrap_err()
    }

    #[test]
    fn command_line_and_errors() {
        let (c, file) = Config::from_args(&args(&[
            "--port",
            "7000",
            "--save",
            "",
            "--maxclients",
            "5",
        ]))
        .unwrap();
        assert_eq!(
            (c.port, c.save.as_str(), c.maxclients, file),
            (7000, "", 5, None)
        );
        let err = error(&["--nope", "1"]);
        assert!(err.contains("Bad directive"), "{err}");
        let err = error(&["--port", "70000"]);
        assert!(
            err.contains("argument must be between 0 and 65535 inclusive"),
            "{err}"
        );
    }

    #[test]
    fn command_line_words_become_lines_as_redis_builds_them() {
        let lines = |list: &[&str]| command_line_options(&args(list), 0);
        assert_eq!(lines(&["--port", "1"]).0, "port \"1\" ");
        assert_eq!(
            lines(&["--port", "--loglevel", "verbose"]).0,
            "port \"--loglevel\" \"verbose\" "
        );
        assert_eq!(
            lines(&["--maxmemory 1mb", "--loglevel", "x"]).0,
            "maxmemory 1mb \nloglevel \"x\" "
        );
        assert_eq!(
            lines(&["--save", "--port", "1"]).0,
            "save \"\"\nport \"1\" "
        );
        assert_eq!(
            lines(&["--loglevel", "debug", "--save"]).0,
            "loglevel \"debug\" \nsave \"\""
        );
        assert_eq!(lines(&["-", "--port", "1"]), ("port \"1\" ".into(), true));
        assert_eq!(lines(&["--port", "1", "-"]), ("port \"1\" ".into(), true));
    }

    #[test]
    fn argument_errors_read_as_redis_words_them() {
        let cases: &[(&[&str], &str, &str)] = &[
            (&["--port"], "'port'", "wrong number of arguments"),
            (
                &["--port", "1", "2"],
                "'port \"1\" \"2\"'",
                "wrong number of arguments",
            ),
            (
                &["--port", "--bla", "--loglevel", "verbose"],
                "'port \"--bla\"'",
                "argument couldn't be parsed into an integer",
            ),
            (
                &["--shutdown-on-sigint"],
                "'shutdown-on-sigint'",
                "argument(s) must be one of the following",
            ),
            (
                &["--replicaof", "h", "abc"],
                "'replicaof \"h\" \"abc\"'",
                "Invalid master port",
            ),
            (
                &["--replicaof", "--h", "--abc"],
                "'replicaof \"--h\"'",
                "wrong number of arguments",
            ),
        ];
        for (list, line, reason) in cases {
            let err = error(list);
            assert!(
                err.contains(line) && err.contains(reason),
                "{list:?}: {err}"
            );
        }
        let (c, _) =
            Config::from_args(&args(&["--list-max-ziplist-entries", "5", "--port", "9"])).unwrap();
        assert_eq!(c.port, 9);
    }

    #[test]
    fn later_save_lines_add_points() {
        let loaded = |text: &str| {
            let mut c = Config::default();
            c.load_text(text, &mut Loader::default()).map(|_| c.save)
        };
        assert_eq!(loaded("port 1\n").unwrap(), "3600 1 300 100 60 10000");
        assert_eq!(loaded("save 900 1\n").unwrap(), "900 1");
        assert_eq!(
            loaded("save 900 1\nsave 100 100\n").unwrap(),
            "900 1 100 100"
        );
        assert_eq!(loaded("save 900 1\nsave \"\"\n").unwrap(), "");
        assert_eq!(loaded("save \"\"\nsave 100 100\n").unwrap(), "100 100");
        assert!(loaded("save 900 1\nsave 100\n").is_err());
    }

    #[test]
    fn include_loads_files_in_place() {
        let dir = std::env::temp_dir().join(format!("rudis-include-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("conf.d")).unwrap();
        std::fs::write(dir.join("conf.d/a.conf"), "maxclients 7\n").unwrap();
        std::fs::write(dir.join("conf.d/b.conf"), "port 8\n").unwrap();
        let main = dir.join("main.conf");
        std::fs::write(
            &main,
            format!(
                "port 1\ninclude {0}/conf.d/*.conf\ninclude {0}/none/*.conf\n",
                dir.display()
            ),
        )
        .unwrap();
        let (c, _) = Config::from_args(&args(&[main.to_str().unwrap()])).unwrap();
        assert_eq!((c.port, c.maxclients), (8, 7));
        std::fs::write(&main, format!("include {}/missing.conf\n", dir.display())).unwrap();
        let err = Config::from_args(&args(&[main.to_str().unwrap()])).unwrap_err();
        assert!(err.contains("can't open config file"), "{err}");
        // A file that includes itself stops at the depth limit.
        std::fs::write(&main, format!("include {}\n", main.display())).unwrap();
        assert!(Config::from_args(&args(&[main.to_str().unwrap()])).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
