//! `rudis-server [/path/to/rudis.conf] [--name value ...]`, as redis-server.

use rudis::config::Config;
use rudis::daemon;
use rudis::server::Server;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: rudis::alloc::CountingAllocator = rudis::alloc::CountingAllocator;

const USAGE: &str = "Usage: ./rudis-server [/path/to/rudis.conf] [options]
       ./rudis-server - (read config from stdin)
       ./rudis-server -v or --version
       ./rudis-server -h or --help

Examples:
       ./rudis-server (run the server with default config)
       ./rudis-server /etc/rudis/6379.conf
       ./rudis-server --port 7777
       ./rudis-server /etc/myrudis.conf --loglevel verbose
       ./rudis-server --maxclients 100 --timeout 300";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Before any thread starts: it moves the environment (see proctitle).
    rudis::proctitle::init();
    match args.first().map(String::as_str) {
        Some("-v" | "--version") => {
            println!(
                "rudis server v={} redis_version={} bits={}",
                env!("CARGO_PKG_VERSION"),
                rudis::REDIS_VERSION,
                usize::BITS
            );
            return ExitCode::SUCCESS;
        }
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let (mut config, config_file) = match Config::from_args(&args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    rudis::cmd::set_renames(&config.renames);
    if let Err(e) = rudis::logging::init(config.loglevel, &config.logfile) {
        eprintln!("Can't open the log file: {e}");
        return ExitCode::FAILURE;
    }
    log::warn!("oO0OoO0OoO0Oo rudis is starting oO0OoO0OoO0Oo");
    log::warn!(
        "rudis version={}, redis_version={}, bits={}, pid={}, just started",
        env!("CARGO_PKG_VERSION"),
        rudis::REDIS_VERSION,
        usize::BITS,
        std::process::id()
    );
    if args.is_empty() {
        log::warn!(
            "Warning: no config file specified, using the default config. In order to specify a config file use {} /path/to/rudis.conf",
            std::env::args().next().unwrap_or_else(|| "rudis-server".into())
        );
    } else {
        log::warn!("Configuration loaded");
    }
    let supervisor = daemon::supervisor(config.supervised);
    let background = config.daemonize && supervisor == daemon::Supervisor::None;
    if background {
        daemon::daemonize();
        if config.pidfile.is_empty() {
            config.pidfile = daemon::DEFAULT_PID_FILE.to_string();
        }
    }
    daemon::starting(supervisor);
    let port = match config.port {
        0 => rudis::config::pending_u64(&config, "tls-port"),
        port => u64::from(port),
    };
    let show_logo = rudis::config::pending_bool(&config, "always-show-logo")
        || (config.logfile.is_empty()
            && !rudis::config::pending_bool(&config, "syslog-enabled")
            && std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let pidfile = config.pidfile.clone();
    // A score that cannot be written was logged; the server runs anyway.
    let _ = rudis::oom_score::configure(&config);
    let mut server = match Server::bind(config, config_file) {
        Ok(server) => server,
        Err(e) => {
            log::warn!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if !pidfile.is_empty() {
        daemon::write_pid_file(&pidfile);
    }
    server.set_proc_title();
    rudis::logging::banner(show_logo, port);
    if let Err(message) = server.load_users() {
        log::warn!("{message}");
        return ExitCode::FAILURE;
    }
    log::warn!("Server initialized");
    if let Err(message) = server.load_data() {
        if !message.is_empty() {
            log::warn!("{message}");
        }
        return ExitCode::FAILURE;
    }
    daemon::ready(supervisor);
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::warn!("Event loop failed: {e}");
            ExitCode::FAILURE
        }
    }
}
