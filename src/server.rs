//! The event loop, and the only module that knows the `mio::Poll`. Shaped
//! like Redis's `ae` loop and `networking.c`:
//!
//! 1. `before_sleep`: a short active-expire cycle while a backlog remains,
//!    then write every client flagged with pending output
//!    (`handleClientsWithPendingWrites`); only a client whose socket is full
//!    registers for WRITABLE. Then free the clients closed in this batch.
//! 2. Poll, with a timeout that ends at the next cron tick or blocked-client
//!    deadline, or zero when a client still has unread input from the last
//!    round. After a round that read pipelined batches from a few of many
//!    pipelining clients, first sleep `pipeline-coalesce-us` so their next
//!    batches are read together (coalesce.rs).
//! 3. Accept new connections; read from readable clients, parse and run
//!    every whole command, queue replies; serve clients blocked on keys that
//!    got elements; write to writable ones.
//! 4. Time out blocked clients whose deadline passed; run the cron at `hz`:
//!    active expiry, idle timeouts, instantaneous metrics.
//!
//! Clients live in a `Slab` keyed by their `Token`. They are only removed in
//! `before_sleep`, after every event of the batch has been handled, so a
//! stale event never reaches a slot reused by a new connection.

use crate::client::{Blocked, Client, Closing, ReadOutcome, WriteOutcome, MAX_READ_PER_ITERATION};
use crate::cmd::{self, Ctx};
use crate::coalesce::{Coalescer, Napper, Pace};
use crate::config::Config;
use crate::persist;
use crate::protocol::request::{Args, OwnedArgs};
use crate::protocol::Parsed;
use crate::state::{BlockRequest, ServerState, Shutdown};
use crate::stream::{Peer, Stream};
use log::{debug, info, warn};
use mio::net::{TcpListener, TcpStream, UnixListener};
use mio::{Events, Interest, Poll, Token};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;
use std::collections::BTreeSet;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod diskless_load;
mod replication;

/// Listeners take the tokens counting down from here; clients count up from 0.
const LISTENER_BASE: usize = usize::MAX - 1;
const SIGNALS: Token = Token(usize::MAX);
const MAX_LISTENERS: usize = 16;
/// Below the replication tokens (see `replication::REPL_PIPE`).
const UNIX_LISTENER: Token = Token(LISTENER_BASE - MAX_LISTENERS - 3);
/// Beside a pipelining crowd, how long the loop works through the crowd's
/// batches between looks for a waiting one-command-per-round-trip client:
/// what such a client may wait, against a system call per look.
const LOOK_AHEAD_MICROS: u64 = 10;

/// Redis's `CONFIG_MIN_RESERVED_FDS`: descriptors kept for anything but clients.
const RESERVED_FDS: u64 = 32;

/// A query buffer bigger than this is released when the client goes idle.
const QUERY_BUFFER_KEEP: usize = 32 * 1024;

/// Redis's `ACTIVE_EXPIRE_CYCLE_FAST_DURATION` and the pause between fast cycles.
const FAST_EXPIRE_BUDGET: Duration = Duration::from_millis(1);
const FAST_EXPIRE_PERIOD: Duration = Duration::from_millis(2);

const MAX_CLIENTS_REACHED: &[u8] = b"-ERR max number of clients reached\r\n";

/// What a client from beyond the loopback interface reads before being
/// closed, while protected mode is on and the default user has no
/// password (Redis's text, typo included).
const PROTECTED_MODE_DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

pub struct Server {
    poll: Poll,
    /// The `unixsocket` listener.
    unix_listener: Option<UnixListener>,
    signals: Signals,
    clients: Slab<Client>,
    state: ServerState,
    /// Clients with output to write before the next poll.
    pending_writes: Vec<usize>,
    /// Clients whose last read stopped at the per-iteration cap.
    pending_reads: Vec<usize>,
    /// Clients to free at the end of this batch.
    closing: Vec<usize>,
    /// An empty list kept for swapping with the ones above, so iterating
    /// them allocates nothing.
    spare_keys: Vec<usize>,
    next_cron: Instant,
    cron_ticks: u64,
    /// Deadlines of blocked clients: (when, slab key, client id).
    block_deadlines: BTreeSet<(Instant, usize, u64)>,
    /// The last expire cycle ran out of time: expired keys remain.
    expire_backlog: bool,
    /// Iterations in a row the tracking table stayed over
    /// `tracking-table-max-keys`.
    tracking_overflows: usize,
    last_fast_expire: Instant,
    coalescer: Coalescer,
    napper: Option<Napper>,
    /// The query buffer clients read into while they hold no partial
    /// command (`RequestParser::borrow_buffer`).
    shared_query: Vec<u8>,
    /// The clients that ended the last nap (kept for its capacity).
    nap_enders: Vec<usize>,
    /// Where the running loop iteration's time went.
    cycle: Cycle,
    /// `total_forks` when the cron last looked.
    forks_seen: u64,
    /// Clients a `CLIENT PAUSE` holds, in the order it caught them.
    paused_keys: Vec<usize>,
    /// Snapshot transfers to replicas and the link to a master.
    repl: replication::ReplLoop,
}

/// The function libraries a loaded file holds, compiled.
pub(crate) fn libraries_of(
    loaded: &persist::Loaded,
) -> Result<crate::scripting::functions::Functions, String> {
    crate::scripting::functions::Functions::from_codes(&loaded.libraries)
        .map_err(|e| format!("Failed loading library, {e}"))
}

/// The commands whose whole answer is pub/sub frames (push messages in
/// RESP3).
fn answers_with_pushes(name: &[u8]) -> bool {
    [
        &b"subscribe"[..],
        b"unsubscribe",
        b"psubscribe",
        b"punsubscribe",
        b"ssubscribe",
        b"sunsubscribe",
    ]
    .iter()
    .any(|n| name.eq_ignore_ascii_case(n))
}

/// Whether a pause holds this command back: every command under `ALL`;
/// under `WRITE`, writes and commands that may write (Redis's
/// `blockPostponeClient` rules: `write` or `may_replicate` flags).
/// A script that declared its flags may write only if it did not
/// declare `no-writes`.
fn pause_holds(state: &ServerState, client: &Client, args: crate::protocol::request::Args) -> bool {
    let Some(pause) = state.pause.filter(|p| p.until > Instant::now()) else {
        return false;
    };
    if pause.all {
        return true;
    }
    let line: Vec<&[u8]> = args.iter().take(2).collect();
    let Some((command, id)) = cmd::resolve_line(&line).or_else(|| cmd::resolve_line(&line[..1]))
    else {
        return false;
    };
    let declared = crate::scripting::declared_flags(state, command.name, args);
    if let Some(flags) = declared.filter(|f| f.declared) {
        return !flags.no_writes;
    }
    let traits = state.command_stats.traits(id);
    // EXEC is held if its transaction is (Redis's `mstate.cmd_flags`).
    let transaction = client.multi.as_ref().filter(|_| command.name == "exec");
    traits.write || traits.may_replicate || transaction.is_some_and(|t| t.may_replicate)
}

/// Clock readings of one loop iteration, from poll's return to the end of
/// `before_sleep`: its phases are what a stall report names.
#[derive(Default, Clone, Copy)]
struct Cycle {
    running: bool,
    woke: u64,
    events_done: u64,
    cron_done: u64,
    /// Ticks the cron spent deleting expired keys (inside the cron phase).
    expiry: u64,
}

impl Server {
    /// Binds the listeners and prepares the loop. Fails if no address can
    /// be listened on, as redis-server does.
    pub fn bind(mut config: Config, config_file: Option<String>) -> io::Result<Server> {
        let poll = Poll::new()?;
        config.maxclients = raise_open_files_limit(config.maxclients);
        // `tls-port`: the same addresses, speaking TLS. Its certificates
        // are loaded before any port is listened on, as Redis does.
        let tls_port = crate::tls::port(&config);
        let tls_context = if tls_port > 0 {
            let context = crate::tls::context(&config).map_err(|e| {
                warn!("{e}");
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "Failed to configure TLS. Check logs for more info.",
                )
            })?;
            Some(context)
        } else {
            None
        };
        let mut listeners = listen_all(&config, config.port, "TCP")?;
        let tls_listeners = if tls_port > 0 {
            listen_all(&config, tls_port, "TLS")?
        } else {
            Vec::new()
        };
        let tls_fds: Vec<std::os::fd::RawFd> =
            tls_listeners.iter().map(|l| l.as_raw_fd()).collect();
        listeners.extend(tls_listeners);
        listeners.truncate(MAX_LISTENERS - 1);
        let mut unix_listener = listen_unix(&config)?;
        if listeners.is_empty() && unix_listener.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "Configured to not listen anywhere, exiting.",
            ));
        }
        let mut state = ServerState::new(config, config_file);
        state.tls_fds = tls_fds;
        state.tls = tls_context;
        state.registry = Some(poll.registry().try_clone()?);
        if let Some(addr) = listeners.first().and_then(|l| l.local_addr().ok()) {
            state.tcp_port = addr.port();
        }
        if let Some(listener) = &mut unix_listener {
            state.unix_fd = Some(listener.as_raw_fd());
            poll.registry()
                .register(listener, UNIX_LISTENER, Interest::READABLE)?;
        }
        for (i, listener) in listeners.iter_mut().enumerate() {
            poll.registry()
                .register(listener, Token(LISTENER_BASE - i), Interest::READABLE)?;
        }
        let mut signals =
            Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        crate::signals::install()?;
        crate::crash::install(&state.config);
        state.listeners = listeners;
        replace_metrics_listener(&mut state)?;
        note_listener_fds(&mut state);
        Ok(Server {
            poll,
            unix_listener,
            signals,
            clients: Slab::new(),
            state,
            pending_writes: Vec::new(),
            pending_reads: Vec::new(),
            closing: Vec::new(),
            spare_keys: Vec::new(),
            next_cron: Instant::now(),
            cron_ticks: 0,
            block_deadlines: BTreeSet::new(),
            expire_backlog: false,
            tracking_overflows: 0,
            last_fast_expire: Instant::now(),
            coalescer: Coalescer::default(),
            napper: Napper::new(),
            shared_query: Vec::new(),
            nap_enders: Vec::new(),
            cycle: Cycle::default(),
            forks_seen: 0,
            paused_keys: Vec::new(),
            repl: replication::ReplLoop::default(),
        })
    }

    /// The title `ps` shows, from `proc-title-template`.
    pub fn set_proc_title(&self) {
        let state = &self.state;
        if !crate::proctitle::apply(&state.config, state.config_file.as_deref()) {
            warn!("proc-title-template is invalid or contains unknown variables; the title is left as it is");
        }
    }

    /// Addresses actually listened on (port 0 picks a free port).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.state
            .listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Runs until a signal or `SHUTDOWN` stops it.
    pub fn run(mut self) -> io::Result<()> {
        info!("Ready to accept connections");
        if self.unix_listener.is_some() {
            info!(
                "The server is now ready to accept connections at {}",
                self.state.config.unixsocket
            );
        }
        crate::clock::init();
        self.apply_allocator_settings();
        self.state.refresh_thresholds();
        self.state.startup_allocated = crate::alloc::allocated_bytes();
        self.replicaof_at_start();
        let mut events = Events::with_capacity(1024);
        loop {
            self.before_sleep();
            self.end_cycle();
            if let Some(reason) = self.state.shutdown.take() {
                if self.shut_down(reason) {
                    return Ok(());
                }
            }
            let now = Instant::now();
            let mut wake_at = self.next_cron;
            if let Some(&(when, _, _)) = self.block_deadlines.first() {
                wake_at = wake_at.min(when);
            }
            if let Some(pause) = self.state.pause {
                wake_at = wake_at.min(pause.until);
            }
            let timeout = if self.pending_reads.is_empty()
                && !self.state.evictor.running
                && !self.repl.busy
            {
                wake_at.saturating_duration_since(now)
            } else {
                Duration::ZERO
            };
            let nap = Duration::from_micros(self.state.config.pipeline_coalesce_us);
            if let Some(nap) = self.coalescer.nap(nap, timeout) {
                self.state.stats.pipeline_coalesce_naps += 1;
                if self.napper.is_some() {
                    self.serve_ready_ahead(Some(nap));
                } else {
                    crate::coalesce::sleep_precisely(nap);
                }
            }
            self.coalescer.start_round();
            let polled = crate::clock::now();
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            self.start_cycle(polled, timeout);
            self.handle_events(&events);
            self.cycle.events_done = crate::clock::now();
            let now = Instant::now();
            if !self.block_deadlines.is_empty() {
                self.expire_blocked_clients(now);
            }
            if !self.paused_keys.is_empty() {
                self.end_pause_if_due(now);
            } else if self.state.pause.is_some_and(|p| p.until <= now) {
                self.state.pause = None;
                self.state.refresh_expiry_mode();
            }
            if now >= self.next_cron {
                self.cron();
            }
            self.cycle.cron_done = crate::clock::now();
        }
    }

    /// `jemalloc-bg-thread`, applied at start and by the cron after a
    /// CONFIG SET.
    fn apply_allocator_settings(&self) {
        let on = crate::config::pending_bool(&self.state.config, "jemalloc-bg-thread");
        crate::alloc::set_background_thread(on);
    }

    /// Serves the watched clients that have input now, or that send some
    /// during `nap`, if any.
    fn serve_ready_ahead(&mut self, nap: Option<Duration>) {
        let Some(napper) = &self.napper else {
            return;
        };
        let mut ready = std::mem::take(&mut self.nap_enders);
        match nap {
            Some(nap) => napper.nap(nap, &mut ready),
            None => napper.ready_now(&mut ready),
        }
        if !ready.is_empty() {
            self.serve_ahead(&ready);
        }
        ready.clear();
        self.nap_enders = ready;
    }

    /// Serves clients that ended a nap (one command per round trip) in a
    /// round of their own, replies written, before the poll hands the loop
    /// the crowd's batches: they wait for one client's command, not the
    /// client for a round of batches. The poll then reports their sockets
    /// again, and the read finds them empty. `before_sleep` writes the log
    /// first, as for any round.
    fn serve_ahead(&mut self, keys: &[usize]) {
        for &key in keys {
            if self.clients.get(key).is_some_and(|c| c.ends_naps) {
                self.state.stats.pipeline_coalesce_served_ahead += 1;
                self.handle_readable(key, false);
                // Its reply leaves before those of the crowd's clients this
                // round served already.
                if let Some(at) = self.pending_writes.iter().position(|&k| k == key) {
                    self.pending_writes[..=at].rotate_right(1);
                }
            }
        }
        self.before_sleep();
    }

    /// Poll returned: a loop iteration starts. A poll that overran its
    /// timeout by the latency threshold means the process was not running.
    fn start_cycle(&mut self, polled: u64, timeout: Duration) {
        let woke = crate::clock::now();
        self.cycle = Cycle {
            running: true,
            woke,
            events_done: woke,
            cron_done: woke,
            expiry: 0,
        };
        self.state.cycle_slowest = (0, 0);
        let threshold = self.state.config.latency_monitor_threshold;
        if threshold > 0 {
            let waited_ms = crate::clock::to_micros(woke.wrapping_sub(polled)) / 1000;
            let overrun = waited_ms.saturating_sub(timeout.as_millis() as u64);
            self.state
                .latency
                .add_if_needed(threshold, "eventloop-poll", overrun);
        }
    }

    /// `before_sleep` finished: the iteration is over. Counts it for INFO
    /// and, if it took the latency threshold or more, records a stall
    /// under the phase it spent most in, with its slowest command.
    fn end_cycle(&mut self) {
        if !self.cycle.running {
            return;
        }
        let cycle = self.cycle;
        self.cycle.running = false;
        let ended = crate::clock::now();
        let total = ended.wrapping_sub(cycle.woke);
        let state = &mut self.state;
        state.stats.eventloop_cycles += 1;
        state.stats.eventloop_ticks += total;
        if total < state.thresholds.latency_ticks {
            return;
        }
        let cron = cycle.cron_done.wrapping_sub(cycle.events_done);
        let phases = [
            (
                "eventloop-read-execute",
                cycle.events_done.wrapping_sub(cycle.woke),
            ),
            ("eventloop-cron", cron.saturating_sub(cycle.expiry)),
            ("eventloop-expiry", cycle.expiry),
            ("eventloop-write", ended.wrapping_sub(cycle.cron_done)),
        ];
        let Some(&(phase, _)) = phases.iter().max_by_key(|(_, ticks)| *ticks) else {
            return;
        };
        let (slowest_ticks, slowest_id) = state.cycle_slowest;
        let detail = if slowest_ticks > 0 && phase == "eventloop-read-execute" {
            cmd::all_commands()
                .get(slowest_id)
                .map(|c| {
                    format!(
                        "{} ({} ms)",
                        c.name.to_ascii_uppercase(),
                        crate::clock::to_micros(slowest_ticks) / 1000
                    )
                })
                .unwrap_or_default()
        } else {
            String::new()
        };
        let millis = crate::clock::to_micros(total) / 1000;
        let now = crate::state::unix_millis() / 1000;
        state.latency.add(phase, millis, now, &detail);
    }

    /// Handles one poll's events: signals, accepts, reads and writes, then
    /// the clients whose last read stopped at the per-iteration cap.
    fn handle_events(&mut self, events: &Events) {
        let mut retry_reads = std::mem::take(&mut self.spare_keys);
        std::mem::swap(&mut retry_reads, &mut self.pending_reads);
        // Beside a pipelining crowd, a client sending one command per round
        // trip is served between the crowd's clients rather than after all
        // of them (see `serve_ahead`).
        let look_ahead =
            self.coalescer.crowd() && self.napper.as_ref().is_some_and(|n| n.watching());
        let mut last_look = if look_ahead { crate::clock::now() } else { 0 };
        let look_every = crate::clock::from_micros(LOOK_AHEAD_MICROS);
        for event in events.iter() {
            if look_ahead {
                let now = crate::clock::now();
                if now.wrapping_sub(last_look) >= look_every {
                    last_look = now;
                    self.serve_ready_ahead(None);
                }
            }
            match event.token() {
                SIGNALS => self.take_signals(),
                replication::REPL_PIPE => self.pump_transfer(),
                replication::MASTER_LINK => self.master_link_event(),
                Token(t) if t > LISTENER_BASE - MAX_LISTENERS => {
                    self.accept(Some(LISTENER_BASE - t))
                }
                UNIX_LISTENER => self.accept(None),
                Token(key) => {
                    // With `appendfsync always`, replies of this round must
                    // wait for the fsync in before_sleep: write what was
                    // pending before reading more (Redis's AE_BARRIER).
                    let barrier = self.state.config.appendfsync
                        == crate::config::AppendFsync::Always
                        && self.state.aof.logging();
                    if barrier && event.is_writable() {
                        self.write_to_client(key);
                    }
                    if event.is_readable() || event.is_read_closed() || event.is_error() {
                        self.handle_readable(key, event.is_read_closed() || event.is_error());
                    }
                    if !barrier && event.is_writable() {
                        self.write_to_client(key);
                    }
                }
            }
        }
        for &key in &retry_reads {
            self.handle_readable(key, false);
        }
        retry_reads.clear();
        self.spare_keys = retry_reads;
    }

    /// Stops serving (Redis's `prepareForShutdown`): kills a running
    /// child, saves when save points are set, closes the listeners. A
    /// signal-driven shutdown whose save fails is cancelled, as in Redis;
    /// SHUTDOWN checked its own save before asking. Returns whether the
    /// server is to exit.
    fn shut_down(&mut self, reason: Shutdown) -> bool {
        if let Shutdown::Signal(name) = reason {
            if self.state.shutdown_wait.is_some() {
                // One is already under way.
                return false;
            }
            // `shutdown-on-sigint` and `shutdown-on-sigterm`: SHUTDOWN's
            // flags for the signal.
            let setting = if name == "SIGINT" {
                "shutdown-on-sigint"
            } else {
                "shutdown-on-sigterm"
            };
            let words = crate::config::pending_text(&self.state.config, setting);
            let has = |flag: &str| words.split(' ').any(|f| f.eq_ignore_ascii_case(flag));
            let flags = cmd::persist::ShutdownFlags {
                save: has("save"),
                nosave: has("nosave"),
                now: has("now"),
                force: has("force"),
            };
            let step = cmd::persist::prepare_for_shutdown(&mut self.state, &self.clients, flags);
            if step != cmd::persist::ShutdownStep::Exit {
                return false;
            }
        }
        if self.state.aof.logging() {
            info!("Calling fsync() on the AOF file.");
            cmd::log_expired(&mut self.state);
            self.state.aof.end_call(false);
            self.state.aof.close();
        }
        if !self.state.config.pidfile.is_empty() {
            crate::daemon::remove_pid_file(&self.state.config.pidfile);
        }
        if let Some(mut listener) = self.unix_listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
            info!("Removing the unix socket file.");
            let _ = std::fs::remove_file(&self.state.config.unixsocket);
        }
        for listener in &mut self.state.listeners {
            let _ = self.poll.registry().deregister(listener);
        }
        self.state.listeners.clear();
        warn!("rudis is now ready to exit, bye bye...");
        true
    }

    /// Loads the users of the config file or of `aclfile` (Redis's
    /// `ACLLoadUsersAtStartup`); Err carries what to log before exiting.
    pub fn load_users(&mut self) -> Result<(), String> {
        let state = &mut self.state;
        let path = state.config.aclfile.clone();
        if !path.is_empty() && !state.config.users.is_empty() {
            return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
        }
        let directives = state.config.users.clone();
        if let Err(e) = state.users.load_configured(&directives) {
            warn!("{e}");
            return Err("Critical error while loading ACLs. Exiting.".into());
        }
        if !path.is_empty() {
            state.users = crate::acl::Users::from_file(&path)
                .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
        }
        Ok(())
    }

    /// Loads the dataset at start (Redis's `loadDataFromDisk`). Clients
    /// that connect meanwhile are answered `-LOADING` every 2 MB read.
    /// The error is the last line to log before exiting: an AOF's own
    /// reason, or after a snapshot's reason Redis's closing line.
    pub fn load_data(&mut self) -> Result<(), String> {
        if self.state.config.appendonly {
            self.load_aof()?;
            return self.open_aof();
        }
        let config = self.state.config.clone();
        let path = persist::rdb_path(&config);
        let started = Instant::now();
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        self.state.persist.start_loading(size);
        let mut events = Events::with_capacity(256);
        // A master feeds DELs for the keys it finds expired (see
        // `Replication::restore_position`); a replica waits for its master's.
        let master = crate::config::pending_text(&config, "replicaof").is_empty();
        let expired_feed = master.then(|| {
            persist::ExpiredFeed::new(
                crate::config::pending_u64(&config, "repl-backlog-size"),
                crate::config::pending_bool(&config, "lazyfree-lazy-expire"),
            )
        });
        let result = persist::load_snapshot(
            &path,
            &config,
            crate::state::unix_millis(),
            expired_feed,
            &mut |read| {
                self.state.persist.load_progress.loaded_bytes = read;
                self.process_events_while_loading(&mut events)
            },
        );
        self.state.persist.stop_loading();
        match result {
            Ok(None) => Ok(()),
            Ok(Some(mut loaded)) => {
                self.state.persist.loaded_position = loaded.header.repl.take();
                self.state.persist.loaded_expired_feed = loaded.expired_feed.take();
                self.install_snapshot(loaded)?;
                info!(
                    "DB loaded from disk: {:.3} seconds",
                    started.elapsed().as_secs_f64()
                );
                Ok(())
            }
            Err(e) => Err(e.log_file_failure()),
        }
    }

    /// Puts a loaded snapshot in service in place of the dataset, and logs
    /// what it held.
    fn install_snapshot(&mut self, loaded: persist::Loaded) -> Result<(), String> {
        if let Some(version) = &loaded.header.redis_ver {
            info!("Loading RDB produced by version {version}");
        }
        if let Some(ctime) = loaded.header.ctime {
            info!(
                "RDB age {} seconds",
                crate::state::unix_millis() / 1000 - ctime
            );
        }
        if let Some(used) = loaded.header.used_mem {
            info!(
                "RDB memory usage when created {:.2} Mb",
                used as f64 / (1024.0 * 1024.0)
            );
        }
        let skipped = loaded.header.empty_keys_skipped;
        if skipped > 0 {
            warn!(
                "Done loading RDB, keys loaded: {}, keys expired: {}, empty keys skipped: {skipped}.",
                loaded.keys_loaded, loaded.keys_expired
            );
        } else {
            info!(
                "Done loading RDB, keys loaded: {}, keys expired: {}.",
                loaded.keys_loaded, loaded.keys_expired
            );
        }
        self.state.functions = libraries_of(&loaded)?;
        self.state.persist.last_load_keys_loaded = loaded.keys_loaded;
        self.state.persist.last_load_keys_expired = loaded.keys_expired;
        for (db, mut fresh) in self.state.dbs.iter_mut().zip(loaded.dbs) {
            db.swap_data(&mut fresh);
        }
        self.state.persist.dirty_at_last_save = crate::db::dirty();
        Ok(())
    }

    /// Loads the base and incremental files the AOF manifest names.
    fn load_aof(&mut self) -> Result<(), String> {
        crate::aof_load::load(&mut self.state, &mut self.clients)
    }

    /// Opens the AOF for logging after the dataset loaded, writing a first
    /// base of it when the directory had none.
    fn open_aof(&mut self) -> Result<(), String> {
        let state = &mut self.state;
        let (dbs, config) = (&state.dbs, &state.config);
        let libraries = state.functions.codes();
        state
            .aof
            .open(config, &mut |path| {
                crate::aof::write_base_file(path, dbs, &libraries, config)
            })
            .map_err(|e| {
                format!(
                    "Can't open the append-only file: {}",
                    crate::errors::os_error_text(&e)
                )
            })?;
        for db in &mut state.dbs {
            db.expired_log = Some(Vec::new());
        }
        Ok(())
    }

    /// One non-blocking round of the loop while loading (Redis's
    /// `processEventsWhileBlocked`): commands get `-LOADING`.
    fn process_events_while_loading(&mut self, events: &mut Events) {
        if self.poll.poll(events, Some(Duration::ZERO)).is_ok() {
            self.handle_events(events);
        }
        self.before_sleep();
        // A shutdown signal during a load ends the process here, without a
        // save (the dataset is not whole), as Redis's `whileBlockedCron`.
        if self.state.signal_shutdown.take().is_some() {
            let flags = cmd::persist::ShutdownFlags {
                save: false,
                nosave: true,
                now: true,
                force: false,
            };
            let step = cmd::persist::prepare_for_shutdown(&mut self.state, &self.clients, flags);
            if step == cmd::persist::ShutdownStep::Exit && self.shut_down(Shutdown::Ready) {
                log::logger().flush();
                std::process::exit(0);
            }
            warn!("SIGTERM received but errors trying to shut down the server, check the logs for more information");
        }
    }

    fn take_signals(&mut self) {
        for signal in self.signals.pending() {
            let name = if signal == signal_hook::consts::SIGINT {
                "SIGINT"
            } else {
                "SIGTERM"
            };
            if self.state.persist.loading {
                warn!("Received shutdown signal during loading, scheduling shutdown.");
            } else {
                warn!("Received {name} scheduling shutdown...");
            }
            self.state.signal_shutdown = Some(name);
        }
    }

    /// Accepts until `WouldBlock` on the TCP listener at `index`, or on
    /// the `unixsocket` listener when `index` is `None`.
    fn accept(&mut self, index: Option<usize>) {
        loop {
            let accepted = match index {
                Some(i) => {
                    let Some(listener) = self.state.listeners.get(i) else {
                        return;
                    };
                    let kind = Listener {
                        scrapes_only: self.state.metrics_listener == Some(i),
                        tls: self.state.tls_fds.contains(&listener.as_raw_fd()),
                    };
                    listener
                        .accept()
                        .map(|(socket, addr)| (Stream::Tcp(socket), Peer::Tcp(addr), kind))
                }
                None => {
                    let Some(listener) = &self.unix_listener else {
                        return;
                    };
                    let path = Arc::from(self.state.config.unixsocket.as_str());
                    listener.accept().map(|(socket, _)| {
                        let kind = Listener {
                            scrapes_only: false,
                            tls: false,
                        };
                        (Stream::Unix(socket), Peer::Unix(path), kind)
                    })
                }
            };
            match accepted {
                Ok((socket, addr, kind)) => {
                    admit_client(&mut self.state, &mut self.clients, socket, addr, kind);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EMFILE and friends: the listener stays readable, so
                    // we will be told again; do not spin here.
                    warn!("Accepting client connection: {e}");
                    return;
                }
            }
        }
    }

    /// Reads what the socket has (up to the per-iteration cap) and runs every
    /// whole command in the query buffer. `peer_closed`: the event reported
    /// the peer's FIN, which may have come with the data, so a short read
    /// does not prove the socket drained: read on until EOF.
    fn handle_readable(&mut self, key: usize, peer_closed: bool) {
        let limit = self.state.config.client_query_buffer_limit;
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        if client.closing != Closing::No {
            return;
        }
        client.unread_input = false;
        client.parser.borrow_buffer(&mut self.shared_query);
        // The FIN edge is reported once; remember it for capped re-reads.
        client.peer_closed |= peer_closed;
        let peer_closed = client.peer_closed;
        let mut total = 0;
        let mut reads = 0;
        let mut eof = false;
        loop {
            match client.read() {
                ReadOutcome::Data { bytes, drained } => {
                    total += bytes;
                    reads += 1;
                    self.state.stats.total_reads_processed += 1;
                    if drained && !peer_closed {
                        break;
                    }
                    if total >= MAX_READ_PER_ITERATION {
                        client.unread_input = true;
                        break;
                    }
                }
                ReadOutcome::WouldBlock => break,
                ReadOutcome::Eof => {
                    eof = true;
                    break;
                }
                ReadOutcome::Failed => {
                    self.close(key, Closing::Now);
                    return;
                }
            }
        }
        self.state.stats.total_net_input_bytes += total as u64;
        if client.parser.len() as u64 > limit {
            warn!(
                "Closing client that reached max query buffer length (qbuf={})",
                client.parser.len()
            );
            self.close(key, Closing::Now);
            return;
        }
        if total > 0 {
            let commands_before = self.state.stats.total_commands_processed;
            self.process_input(key);
            let commands = self
                .state
                .stats
                .total_commands_processed
                .saturating_sub(commands_before);
            if let Some(client) = self.clients.get_mut(key) {
                let pace = self
                    .coalescer
                    .client_read(&mut client.pipeline_epoch, reads, commands);
                if let Some(napper) = &mut self.napper {
                    match pace {
                        Pace::OnePerTrip if !client.ends_naps => {
                            client.ends_naps = napper.watch(client.fd, key);
                        }
                        Pace::Pipelined if client.ends_naps => {
                            napper.unwatch(client.fd);
                            client.ends_naps = false;
                        }
                        _ => {}
                    }
                }
            }
            if !self.state.unblock_requests.is_empty() {
                self.serve_unblock_requests();
            }
            if !self.state.shutdown_refused.is_empty() {
                self.answer_refused_shutdowns();
            }
            self.serve_ready_keys();
        }
        if let Some(client) = self.clients.get_mut(key) {
            // Nothing read, or input left waiting (a blocked client).
            client
                .parser
                .return_buffer(&mut self.shared_query, QUERY_BUFFER_KEEP);
        }
        if eof {
            debug!("Client closed connection");
            self.close(key, Closing::AfterReply);
        } else if self.clients.get(key).is_some_and(|c| c.unread_input) {
            self.pending_reads.push(key);
        }
    }

    /// Parses and runs every whole command in the client's query buffer
    /// (Redis's `processInputBuffer`).
    fn process_input(&mut self, key: usize) {
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        if client.blocked.is_some() || client.paused {
            // Input waits in the query buffer until the client is unblocked
            // or the pause ends.
            return;
        }
        if !client.protocol_known && !self.tell_protocol(key) {
            return;
        }
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        // The parser and the reply leave the client while commands run, so
        // that a command can look at every client (CLIENT LIST) while the
        // arguments it runs with stay borrowed from the query buffer.
        let mut parser = std::mem::take(&mut client.parser);
        let mut reply = std::mem::take(&mut client.reply);
        // A replica's buffers are not counted against maxmemory (see
        // `Client::account_buffers`).
        if client.is_replica() {
            let buffers = parser.capacity() + reply.capacity();
            self.state.replica_buffers += buffers;
            self.state.replica_buffers -= std::mem::replace(&mut client.accounted_buffers, buffers);
        }
        let max_bulk = usize::try_from(self.state.config.proto_max_bulk_len).unwrap_or(usize::MAX);
        let now = Instant::now();
        let now_ms = crate::state::unix_millis();
        client.last_interaction = now;
        let mut last_tick = crate::clock::now();
        let from_master = self.clients[key].is_master;
        let mut to_replica = self.clients[key].is_replica();
        if from_master {
            // The master's commands apply to keys a replica's clients no
            // longer see; they pass on as they came, not re-encoded.
            crate::db::set_expiry(crate::db::Expiry::Ignore);
            self.state.repl.applying_master_stream = true;
        }
        parser.unauthenticated = !self.clients[key].authenticated;
        // The hard output limit of the client's class as the batch starts
        // (a SUBSCRIBE in it changes the class for the check at the end).
        let class = self.clients[key].output_class() as usize;
        let hard_limit = self.state.thresholds.output_limits[class].hard;
        loop {
            // AUTH or HELLO may have logged the client in.
            if parser.unauthenticated {
                parser.unauthenticated = !self.clients[key].authenticated;
            }
            let command_from = parser.position();
            match parser.next(max_bulk) {
                Parsed::Incomplete => break,
                Parsed::Error(e) => {
                    debug!("Protocol error from client: {}", e.message());
                    let message = e.message();
                    reply.error(&message);
                    self.state.stats.count_error_reply(message.as_bytes());
                    self.clients[key].closing = Closing::AfterReply;
                    break;
                }
                Parsed::Command => {
                    let args = parser.args();
                    if self.state.pause.is_some()
                        && pause_holds(&self.state, &self.clients[key], args)
                    {
                        parser.unparse(command_from);
                        self.clients[key].paused = true;
                        self.paused_keys.push(key);
                        // Redis blocks a postponed client: it counts.
                        self.state.blocked_clients += 1;
                        break;
                    }
                    let start = reply.len();
                    let mut ctx = Ctx {
                        state: &mut self.state,
                        clients: &mut self.clients,
                        me: key,
                        reply: &mut reply,
                        now_ms,
                        last_tick,
                        input: Some(&parser),
                    };
                    cmd::dispatch(&mut ctx, args);
                    last_tick = ctx.last_tick;
                    if to_replica && ctx.reply.len() > start {
                        cmd::replica_generated_reply(&mut ctx, args, start);
                    }
                    if from_master {
                        let bytes = parser.consumed_since(command_from);
                        let db = self.clients[key].db;
                        self.master_command_applied(&mut reply, start, bytes, db);
                    }
                    let client = &mut self.clients[key];
                    if client.replica.is_some() {
                        // PSYNC or SYNC made it a replica for what follows.
                        to_replica = client.is_replica();
                    }
                    // CLIENT REPLY OFF, or the one command after a SKIP.
                    // What (un)subscribing answers is sent regardless, as
                    // Redis sends pub/sub frames (CLIENT_PUSHING).
                    if (client.skip_next || client.reply_off) && !answers_with_pushes(args.get(0)) {
                        reply.truncate(start);
                    }
                    client.skip_next = std::mem::take(&mut client.skip_requested);
                    // Over the hard output limit the client is done: the
                    // rest of its pipeline would only grow a reply that
                    // will never be sent (Redis stops at CLOSE_ASAP too).
                    let over = hard_limit > 0 && (reply.len() - client.sent) as u64 >= hard_limit;
                    let closing = client.closing != Closing::No || over;
                    // (Tested before taking: the request is large to move.)
                    if self.state.block_request.is_some() {
                        let Some(request) = self.state.block_request.take() else {
                            break;
                        };
                        self.park(key, request, args);
                        break;
                    }
                    if closing {
                        break;
                    }
                }
            }
        }
        if from_master {
            crate::db::restore_client_expiry();
            self.state.repl.applying_master_stream = false;
        }
        parser.compact();
        parser.return_buffer(&mut self.shared_query, QUERY_BUFFER_KEEP);
        let client = &mut self.clients[key];
        client.parser = parser;
        client.reply = reply;
        client.account_buffers(&mut self.state.replica_buffers);
        self.flag_pending_write(key);
        self.enforce_output_limits(key);
        let killed = std::mem::take(&mut self.state.killed);
        for victim in killed {
            self.close(victim, Closing::Now);
        }
    }

    /// Looks at a new connection's first bytes: an HTTP `GET /` is a
    /// metrics scrape, answered and closed (see `metrics`). True when the
    /// input is RESP and can be parsed.
    fn tell_protocol(&mut self, key: usize) -> bool {
        let client = &mut self.clients[key];
        match crate::metrics::classify(client.parser.buffer_mut()) {
            crate::metrics::FirstBytes::Resp if client.scrapes_only => {
                // The metrics port speaks HTTP only.
                self.close(key, Closing::Now);
                false
            }
            crate::metrics::FirstBytes::Resp => {
                client.protocol_known = true;
                true
            }
            crate::metrics::FirstBytes::Undecided | crate::metrics::FirstBytes::HttpIncomplete => {
                false
            }
            crate::metrics::FirstBytes::Http(path) => {
                client.protocol_known = true;
                let response = crate::metrics::respond(&path, &self.state, &self.clients);
                let client = &mut self.clients[key];
                client.parser.buffer_mut().clear();
                client.reply.raw(&response);
                self.flag_pending_write(key);
                self.close(key, Closing::AfterReply);
                false
            }
        }
    }

    /// Parks a client whose blocking command found nothing: it waits on
    /// `request.keys` (FIFO per key) until one gets elements or the
    /// timeout passes (Redis's `blockForKeys`).
    fn park(&mut self, key: usize, request: BlockRequest, args: Args) {
        let deadline = request.timeout.map(|t| Instant::now() + t);
        let client = &mut self.clients[key];
        let command = match &request.command {
            Some(argv) => OwnedArgs::from_vecs(argv),
            None => OwnedArgs::new(args),
        };
        let db = client.db;
        for k in &request.keys {
            let queue = self.state.blocked.entry((db, k.clone())).or_default();
            if !queue.iter().any(|&(slot, _)| slot == key) {
                queue.push_back((key, client.id));
            }
        }
        if let Some(when) = deadline {
            self.block_deadlines.insert((when, key, client.id));
        }
        client.blocked = Some(Box::new(Blocked {
            db,
            keys: request.keys,
            deadline,
            command,
        }));
        self.state.blocked_clients += 1;
    }

    /// Takes a client out of every wait queue and the deadline set.
    fn unpark(&mut self, key: usize) {
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        let Some(blocked) = client.blocked.take() else {
            return;
        };
        for k in blocked.keys {
            let slot = (blocked.db, k);
            if let Some(queue) = self.state.blocked.get_mut(&slot) {
                queue.retain(|&(waiting, _)| waiting != key);
                if queue.is_empty() {
                    self.state.blocked.remove(&slot);
                }
            }
        }
        if let Some(when) = blocked.deadline {
            self.block_deadlines.remove(&(when, key, client.id));
        }
        self.state.blocked_clients -= 1;
    }

    /// Serves clients blocked on keys that got elements, in the order they
    /// blocked (Redis's `handleClientsBlockedOnKeys`). Each one's command
    /// runs again, told which key woke it; one that finds nothing (an
    /// earlier client took it all, or its stream has nothing newer than
    /// its ID) keeps waiting.
    fn serve_ready_keys(&mut self) {
        while !self.state.ready_keys.is_empty() {
            let ready = std::mem::take(&mut self.state.ready_keys);
            for (db, key) in ready {
                let slot = (db, key);
                let Some(queue) = self.state.blocked.get_mut(&slot) else {
                    continue;
                };
                let clients = &self.clients;
                // Stale entries (a slot reused by another client) go.
                queue.retain(|&(key, id)| clients.get(key).is_some_and(|c| c.id == id));
                let waiters: Vec<(usize, u64)> = queue.iter().copied().collect();
                let mut woken_by = Some(slot.1);
                let mut key_exists = true;
                for (key, id) in waiters {
                    let Some(blocked) = self
                        .clients
                        .get(key)
                        .filter(|c| c.id == id)
                        .and_then(|c| c.blocked.as_ref())
                    else {
                        continue;
                    };
                    // Once the key is gone (a list emptied by the clients
                    // before), only a group reader has anything to hear:
                    // a queue of workers costs one run per element, not
                    // one per worker.
                    if !key_exists && !blocked.is_group_read() {
                        continue;
                    }
                    self.rerun_blocked(key, &mut woken_by);
                    key_exists = woken_by
                        .as_deref()
                        .is_some_and(|k| self.state.dbs[db].contains_key(k));
                }
            }
        }
    }

    /// Runs a command kept outside the query buffer (a blocked or paused
    /// client's) for client `key`, its reply into that client's buffer.
    fn run_stored(&mut self, key: usize, command: &OwnedArgs) {
        let mut reply = std::mem::take(&mut self.clients[key].reply);
        let mut ctx = Ctx {
            state: &mut self.state,
            clients: &mut self.clients,
            me: key,
            reply: &mut reply,
            now_ms: crate::state::unix_millis(),
            last_tick: crate::clock::now(),
            input: None,
        };
        cmd::dispatch(&mut ctx, command.args());
        self.clients[key].reply = reply;
    }

    /// Runs a blocked client's command again, woken by the key in
    /// `woken_by` (lent to the command, then given back). Unless it finds
    /// nothing and waits on, the client is unblocked.
    fn rerun_blocked(&mut self, key: usize, woken_by: &mut Option<Vec<u8>>) {
        let Some(blocked) = self.clients[key].blocked.as_ref() else {
            return;
        };
        let command = blocked.command.clone();
        self.state.woken_by = woken_by.take();
        self.run_stored(key, &command);
        *woken_by = self.state.woken_by.take();
        if self.state.block_request.take().is_some() {
            return;
        }
        self.unpark(key);
        self.clients[key].last_interaction = Instant::now();
        self.flag_pending_write(key);
        // Commands pipelined behind the blocking one run now.
        self.process_input(key);
    }

    /// Replies a null array to blocked clients whose timeout passed.
    fn expire_blocked_clients(&mut self, now: Instant) {
        while let Some(&(when, key, id)) = self.block_deadlines.first() {
            if when > now {
                break;
            }
            self.block_deadlines.pop_first();
            if !self
                .clients
                .get(key)
                .is_some_and(|c| c.id == id && c.blocked.is_some())
            {
                continue;
            }
            if self.wait_timed_out(key) {
                continue;
            }
            if let Some(blocked) = self.clients[key].blocked.as_ref() {
                let name = blocked.command.args().get(0).to_vec();
                cmd::count_released(&mut self.state, &name, false);
            }
            self.unpark(key);
            self.clients[key].reply.null_array();
            self.flag_pending_write(key);
            self.process_input(key);
        }
        self.serve_ready_keys();
    }

    /// Schedules the writes of clients another client's command gave
    /// output (MONITOR lines, messages, the replication stream), held to
    /// the `client-output-buffer-limit` of their class.
    fn schedule_woken_writes(&mut self) {
        let woken = std::mem::take(&mut self.state.output_woken);
        for &key in &woken {
            let Some(client) = self.clients.get_mut(key) else {
                continue;
            };
            if client.output_limit_reached(&self.state.thresholds.output_limits) {
                self.close_over_output_limit(key);
                continue;
            }
            self.flag_pending_write(key);
        }
        let mut woken = woken;
        woken.clear();
        self.state.output_woken = woken;
    }

    /// Releases the clients `CLIENT UNBLOCK` named: as if they timed out,
    /// or with `-UNBLOCKED`.
    fn serve_unblock_requests(&mut self) {
        for (key, error) in std::mem::take(&mut self.state.unblock_requests) {
            let Some(blocked) = self.clients.get(key).and_then(|c| c.blocked.as_ref()) else {
                continue;
            };
            let name = blocked.command.args().get(0).to_vec();
            cmd::count_released(&mut self.state, &name, error);
            self.unpark(key);
            let reply = &mut self.clients[key].reply;
            if error {
                reply.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
                self.state
                    .stats
                    .count_error_reply(b"UNBLOCKED client unblocked via CLIENT UNBLOCK");
            } else {
                reply.null_array();
            }
            self.flag_pending_write(key);
            self.process_input(key);
        }
    }

    /// Runs again the SHUTDOWN of each caller whose shutdown did not
    /// happen: it answers with the error.
    fn answer_refused_shutdowns(&mut self) {
        for (key, id) in self.state.shutdown_refused.clone() {
            let waiting = self
                .clients
                .get(key)
                .is_some_and(|c| c.id == id && c.blocked.is_some());
            if waiting {
                let mut woken_by = None;
                self.rerun_blocked(key, &mut woken_by);
            }
        }
        self.state.shutdown_refused.clear();
    }

    /// Ends a `CLIENT PAUSE` whose time is up (or that UNPAUSE lifted):
    /// every client it held runs the command it was stopped at, then the
    /// rest of its input, in the order they were caught.
    fn end_pause_if_due(&mut self, now: Instant) {
        if self.state.pause.is_some_and(|p| p.until > now) {
            return;
        }
        self.state.pause = None;
        self.state.refresh_expiry_mode();
        for key in std::mem::take(&mut self.paused_keys) {
            let Some(client) = self.clients.get_mut(key) else {
                continue;
            };
            client.paused = false;
            self.state.blocked_clients -= 1;
            self.process_input(key);
        }
        self.serve_ready_keys();
    }

    fn flag_pending_write(&mut self, key: usize) {
        let client = &mut self.clients[key];
        if client.pending_output() > 0 && !client.pending_write && !client.wants_writable {
            client.pending_write = true;
            self.pending_writes.push(key);
        }
    }

    /// A client whose command grew its own output past the limits of its
    /// class is closed.
    fn enforce_output_limits(&mut self, key: usize) {
        let client = &mut self.clients[key];
        if client.output_limit_reached(&self.state.thresholds.output_limits) {
            self.close_over_output_limit(key);
        }
    }

    fn close_over_output_limit(&mut self, key: usize) {
        let client = &self.clients[key];
        warn!(
            "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
            client.id, client.addr
        );
        self.close(key, Closing::Now);
    }

    /// Writes to one client and adjusts its WRITABLE interest.
    fn write_to_client(&mut self, key: usize) {
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        if client.closing == Closing::Now {
            return;
        }
        let (outcome, written) = client.write();
        client.account_buffers(&mut self.state.replica_buffers);
        self.state.stats.total_net_output_bytes += written as u64;
        self.state.stats.total_writes_processed += 1;
        let wants_writable = match outcome {
            WriteOutcome::Drained => false,
            WriteOutcome::WouldBlock | WriteOutcome::Capped => true,
            WriteOutcome::Failed => {
                self.close(key, Closing::Now);
                return;
            }
        };
        if wants_writable != client.wants_writable {
            let interest = if wants_writable {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            // Re-registering re-arms the edge: if the socket is writable
            // already (the `Capped` case), the event comes right away.
            if let Err(e) =
                self.poll
                    .registry()
                    .reregister(&mut client.socket, Token(key), interest)
            {
                debug!("Re-registering client socket: {e}");
                self.close(key, Closing::Now);
                return;
            }
            client.wants_writable = wants_writable;
        } else if outcome == WriteOutcome::Capped {
            // Already registered: re-arm so the capped rest goes out next round.
            let interest = Interest::READABLE | Interest::WRITABLE;
            if self
                .poll
                .registry()
                .reregister(&mut client.socket, Token(key), interest)
                .is_err()
            {
                self.close(key, Closing::Now);
                return;
            }
        }
        if outcome == WriteOutcome::Drained && client.closing == Closing::AfterReply {
            self.close(key, Closing::Now);
        }
    }

    /// Marks a client for closing. `AfterReply` waits for its output to be
    /// flushed; `Now` frees it at the end of this batch.
    fn close(&mut self, key: usize, how: Closing) {
        if self.state.repl.master_key == Some(key) && how != Closing::No {
            // The link is down from now on, as Redis frees its master's
            // client at once: a command later in this round (INFO) sees it.
            self.master_freed(key);
        }
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        match (client.closing, how) {
            (Closing::Now, _) => {}
            (_, Closing::Now) => {
                client.closing = Closing::Now;
                self.closing.push(key);
            }
            (_, Closing::AfterReply) => {
                client.closing = Closing::AfterReply;
                if client.pending_output() == 0 {
                    client.closing = Closing::Now;
                    self.closing.push(key);
                } else {
                    self.flag_pending_write(key);
                }
            }
            (_, Closing::No) => {}
        }
    }

    /// Redis's `beforeSleep`: flush what commands queued, then free the
    /// clients this batch closed.
    fn before_sleep(&mut self) {
        for rebind in std::mem::take(&mut self.state.rebind) {
            replace_listeners(&mut self.state, rebind);
        }
        // Eviction whose time budget ran out goes on each iteration
        // (Redis's eviction timer).
        if self.state.evictor.running {
            crate::evict::perform(&mut self.state);
            if self.state.propagating() {
                cmd::log_evicted(&mut self.state);
            }
            self.publish_queued_events();
        }
        // Redis's fast expire cycle: while the cron could not keep up, spend
        // up to 1 ms per iteration, at most every 2 ms.
        if self.expire_backlog && self.last_fast_expire.elapsed() >= FAST_EXPIRE_PERIOD {
            self.last_fast_expire = Instant::now();
            self.active_expire(FAST_EXPIRE_BUDGET);
        }
        // Keys the cron changed (a stream that expired) wake their readers.
        self.serve_ready_keys();
        // The log is written (and with `always` fsynced) before any reply
        // leaves, so an acknowledged write is in the AOF.
        if self.state.propagating() {
            cmd::log_expired(&mut self.state);
            self.state.end_call(false);
        }
        if self.state.aof.logging() {
            self.state.aof.timestamps = self.state.config.aof_timestamp_enabled;
            let skip_fsync =
                self.state.config.no_appendfsync_on_rewrite && self.state.persist.child.is_some();
            if !self
                .state
                .aof
                .flush(self.state.config.appendfsync, skip_fsync)
            {
                warn!("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
                std::process::exit(1);
            }
            if !self.state.aof.slow_io.is_empty() {
                let threshold = self.state.config.latency_monitor_threshold;
                for (event, millis) in std::mem::take(&mut self.state.aof.slow_io) {
                    self.state.latency.add_if_needed(threshold, event, millis);
                }
            }
        }
        self.replication_before_sleep();
        if self.state.tracking.total_prefixes() > 0 {
            self.broadcast_invalidations();
        }
        if self.state.tracking.active() {
            // Redis's effort grows while the table stays over its limit.
            let effort = 100 * (self.tracking_overflows + 1);
            if crate::notify::limit_tracking_table(&mut self.state, &mut self.clients, effort) {
                self.tracking_overflows = 0;
            } else {
                self.tracking_overflows += 1;
            }
        }
        if !self.state.output_woken.is_empty() {
            self.schedule_woken_writes();
        }
        // Swap the list out (keeping both allocations) rather than take it:
        // this runs every iteration and must not allocate.
        let mut pending = std::mem::take(&mut self.spare_keys);
        std::mem::swap(&mut pending, &mut self.pending_writes);
        for &key in &pending {
            if let Some(client) = self.clients.get_mut(key) {
                client.pending_write = false;
                if !client.wants_writable {
                    self.write_to_client(key);
                }
            }
        }
        pending.clear();
        // Last, as Redis does it: what the round queued for everyone
        // (invalidations, messages) is in the buffers it is weighed by.
        if self.state.config.maxmemory_clients != crate::config::ClientsLimit::Bytes(0) {
            self.evict_clients();
        }
        std::mem::swap(&mut pending, &mut self.closing);
        for &key in &pending {
            self.free_client(key);
        }
        pending.clear();
        self.spare_keys = pending;
    }

    fn free_client(&mut self, key: usize) {
        if !self
            .clients
            .get(key)
            .is_some_and(|c| c.closing == Closing::Now)
        {
            return;
        }
        self.unpark(key);
        let mut client = self.clients.remove(key);
        if client.ends_naps {
            if let Some(napper) = &mut self.napper {
                napper.unwatch(client.fd);
            }
        }
        self.replica_freed(key, &client);
        if client.is_master {
            self.master_freed(key);
        }
        self.state.replica_buffers -= client.accounted_buffers;
        self.state.client_slots_free = free_client_slots(&self.clients);
        if client.monitor {
            self.state.monitors.retain(|&k| k != key);
        }
        let who = (key, client.id);
        let subs = std::mem::take(&mut client.subscriptions);
        for (kind, names) in [
            (crate::pubsub::Kind::Channel, subs.channels),
            (crate::pubsub::Kind::Pattern, subs.patterns),
            (crate::pubsub::Kind::Shard, subs.shard),
        ] {
            for name in names {
                self.state.pubsub.remove(kind, &name, who);
            }
        }
        if client.paused {
            self.paused_keys.retain(|&k| k != key);
            self.state.blocked_clients -= 1;
        }
        if client.tracking.is_some() {
            self.state.tracking.disable(&mut client.tracking, who);
            self.state.refresh_event_classes();
        }
        for watch in &client.watching {
            self.state.dbs[watch.db].unwatch(&watch.key);
        }
        let _ = self.poll.registry().deregister(&mut client.socket);
        self.pending_reads.retain(|&k| k != key);
        self.pending_writes.retain(|&k| k != key);
        debug!("Freed client id={} addr={}", client.id, client.addr);
    }

    /// Publishes the events the databases queued outside a command.
    fn publish_queued_events(&mut self) {
        if self.state.config.notify_keyspace_events != 0 || self.state.tracking.active() {
            crate::notify::publish_queued(&mut self.state, &mut self.clients, &mut None);
        }
    }

    /// `maxmemory-clients` (Redis 7.0's client eviction): while the
    /// clients together hold more than the limit, the one holding the
    /// most is closed. Replicas, the master and `CLIENT NO-EVICT`
    /// clients are never chosen.
    fn evict_clients(&mut self) {
        for key in crate::evict::clients_to_evict(&self.state, &self.clients, None) {
            if let Some(client) = self.clients.get(key) {
                debug!("Evicting client: id={} addr={}", client.id, client.addr);
            }
            self.state.evictor.evicted_clients += 1;
            self.close(key, Closing::Now);
        }
    }

    /// Sends the BCAST clients the keys changed under their prefixes since
    /// the last iteration, one message per prefix (Redis's
    /// `trackingBroadcastInvalidationMessages`). A NOLOOP client is not
    /// told of its own changes.
    fn broadcast_invalidations(&mut self) {
        for (listeners, keys) in self.state.tracking.take_broadcasts() {
            let mut out = crate::pubsub::Outboxes {
                clients: &mut self.clients,
                running: None,
                woken: &mut self.state.output_woken,
            };
            for who in listeners {
                let noloop =
                    crate::tracking::tracking_of(out.clients, who).is_some_and(|t| t.noloop);
                let told: Vec<&[u8]> = keys
                    .iter()
                    .filter(|(_, by)| !(noloop && *by == who.1))
                    .map(|(key, _)| key.as_slice())
                    .collect();
                if !told.is_empty() {
                    crate::tracking::send(
                        &mut out,
                        who,
                        &crate::tracking::Invalidated::Keys(&told),
                    );
                }
            }
        }
    }

    /// Redis's `serverCron`, run `hz` times a second.
    fn cron(&mut self) {
        let now = Instant::now();
        let hz = self.state.config.hz.max(1);
        self.next_cron = now + Duration::from_millis(1000 / u64::from(hz));
        if self.state.cron_paused {
            return;
        }
        // A signal's shutdown starts here, as in Redis's `serverCron`, and
        // one waiting for its replicas ends here.
        if let Some(name) = self.state.signal_shutdown.take() {
            self.state.shutdown = Some(Shutdown::Signal(name));
        } else if let Some(wait) = &self.state.shutdown_wait {
            let due = now >= wait.deadline
                || cmd::persist::ready_to_shut_down(&self.state, &self.clients);
            if due {
                let flags = wait.flags;
                if cmd::persist::finish_shutdown(&mut self.state, &self.clients, flags) {
                    self.state.shutdown_wait = None;
                    self.state.shutdown = Some(Shutdown::Ready);
                } else {
                    cmd::persist::cancel_shutdown(&mut self.state);
                    self.answer_refused_shutdowns();
                }
            }
        }
        self.cron_ticks += 1;
        let watchdog = crate::config::pending_u64(&self.state.config, "watchdog-period");
        crate::crash::arm_watchdog(crate::crash::watchdog_period(watchdog, hz));
        self.coalescer.end_epoch();
        crate::alloc::note_peak();
        self.apply_allocator_settings();
        crate::clock::recalibrate();
        self.state.refresh_thresholds();
        let stats = &mut self.state.stats;
        stats.ops.sample(stats.total_commands_processed, now);
        stats
            .eventloop_cycles_rate
            .sample(stats.eventloop_cycles, now);
        let loop_micros = crate::clock::to_micros(stats.eventloop_ticks);
        stats
            .eventloop_duration
            .sample(loop_micros, stats.eventloop_cycles);
        stats.input_bytes.sample(stats.total_net_input_bytes, now);
        stats.output_bytes.sample(stats.total_net_output_bytes, now);
        // A replica's keys expire when its master says (with a DEL), but
        // for those its own clients gave a TTL. Nothing expires while
        // CLIENT PAUSE keeps the dataset as it is.
        if self.state.active_expire_enabled
            && self.state.repl.is_replica()
            && self.state.pause.is_none()
        {
            self.expire_replica_keys(crate::db::expire_cycle_budget(hz));
        } else if self.state.active_expire_enabled && self.state.pause.is_none() {
            let started = crate::clock::now();
            self.active_expire(crate::db::expire_cycle_budget(hz));
            let spent = crate::clock::now().wrapping_sub(started);
            self.cycle.expiry += spent;
            self.state.stats.expire_cycle_ticks += spent;
            let millis = crate::clock::to_micros(spent) / 1000;
            let threshold = self.state.config.latency_monitor_threshold;
            self.state
                .latency
                .add_if_needed(threshold, "expire-cycle", millis);
        }
        self.rehash_cron();
        self.persistence_cron();
        self.replication_cron();
        self.soft_output_limits_cron();
        // Client checks once a second: idle timeout and buffer shrinking.
        if self.cron_ticks.is_multiple_of(u64::from(hz)) {
            self.clients_cron(now);
            self.state.migrate_sockets.close_idle(now);
        }
    }

    /// A millisecond of moving a keyspace index resize on, for the first
    /// database that has one (`activerehashing`, Redis's
    /// `databasesCron`). Not while a child holds a snapshot of the memory:
    /// each page the move writes would be copied.
    fn rehash_cron(&mut self) {
        let state = &mut self.state;
        if state.persist.child.is_some()
            || !crate::config::pending_bool(&state.config, "activerehashing")
        {
            return;
        }
        let deadline = Instant::now() + Duration::from_millis(1);
        for db in &mut state.dbs {
            if db.rehash_until(deadline) {
                break;
            }
        }
    }

    /// Reaps a finished child, then starts a BGSAVE if one was scheduled or
    /// a save point is due (the persistence part of Redis's `serverCron`).
    fn persistence_cron(&mut self) {
        let state = &mut self.state;
        // A fork since the last look: its duration for the latency monitor.
        if state.persist.total_forks != self.forks_seen {
            self.forks_seen = state.persist.total_forks;
            let millis = state.persist.latest_fork_usec / 1000;
            let threshold = state.config.latency_monitor_threshold;
            state.latency.add_if_needed(threshold, "fork", millis);
        }
        persist::receive_child_info(&mut state.persist);
        if let Some(outcome) = persist::reap_child(&mut state.persist) {
            match outcome.kind {
                persist::ChildKind::Rdb => {
                    persist::bgsave_done(&mut state.persist, &outcome);
                    self.transfer_child_done(outcome.pid, outcome.ok);
                    return;
                }
                persist::ChildKind::Aof => {
                    state.persist.last_aof_cow_bytes = outcome.cow_bytes;
                    state.aof.rewrite_done(&state.config, &outcome);
                }
            }
        }
        if state.persist.child.is_some() {
            return;
        }
        let now = crate::state::unix_millis() / 1000;
        if state.aof.rewrite_scheduled && !state.aof.rewrite_limited(now) {
            let _ = crate::aof::start_rewrite(state);
            return;
        }
        let due = persist::save_point_due(&state.persist, &state.config, now);
        if let Some((changes, secs)) = due {
            info!("{changes} changes in {secs} seconds. Saving...");
        }
        if due.is_some() || state.persist.bgsave_scheduled {
            state.persist.bgsave_scheduled = false;
            let _ = persist::bgsave(
                &mut state.persist,
                &state.dbs,
                &state.functions.codes(),
                &state.config,
                &state.listener_fds,
            );
            return;
        }
        if state.aof.state != crate::aof::AofState::On {
            return;
        }
        if let Some(growth) = state.aof.growth(&state.config) {
            if !state.aof.rewrite_limited(now) {
                info!("Starting automatic rewriting of AOF on {growth}% growth");
                let _ = crate::aof::start_rewrite(state);
            }
        }
    }

    /// Deletes expired keys across the databases within `budget`
    /// (Redis's `activeExpireCycle`); remembers whether the budget ran out,
    /// so `before_sleep` can run short extra cycles while a backlog lasts.
    fn active_expire(&mut self, budget: Duration) {
        let deadline = Instant::now() + budget;
        let now_ms = crate::state::unix_millis();
        self.expire_backlog = false;
        let (mut sampled, mut deleted) = (0, 0);
        for db in &mut self.state.dbs {
            let run = db.active_expire(now_ms, deadline);
            sampled += run.sampled;
            deleted += run.deleted;
            if run.out_of_time {
                self.expire_backlog = true;
                break;
            }
        }
        let stats = &mut self.state.stats;
        stats.expired_keys += deleted;
        stats.expired_time_cap_reached_count += u64::from(self.expire_backlog);
        // Redis's running estimate of the share of keys with a TTL that
        // are expired but not yet deleted.
        let share = if sampled > 0 {
            deleted as f64 / sampled as f64
        } else {
            0.0
        };
        stats.expired_stale_share = share * 0.05 + stats.expired_stale_share * 0.95;
        self.state.signal_streams_gone();
        self.publish_queued_events();
    }

    /// A writable replica's own keys with a TTL, expired within `budget`
    /// (Redis's `expireSlaveKeys`); their DELs go to the AOF only.
    fn expire_replica_keys(&mut self, budget: Duration) {
        let deadline = Instant::now() + budget;
        let now_ms = crate::state::unix_millis();
        for db in &mut self.state.dbs {
            self.state.stats.expired_keys += db.expire_replica_keys(now_ms, deadline);
        }
        self.state.signal_streams_gone();
        self.publish_queued_events();
    }

    /// A client over its soft output limit is closed when its time is up,
    /// even if no more output comes (Redis's `clientsCron`).
    fn soft_output_limits_cron(&mut self) {
        let limits = self.state.thresholds.output_limits;
        let over: Vec<usize> = self
            .clients
            .iter_mut()
            .filter(|(_, c)| c.soft_limit_since.is_some() && c.closing == Closing::No)
            .filter_map(|(key, c)| c.output_limit_reached(&limits).then_some(key))
            .collect();
        for key in over {
            self.close_over_output_limit(key);
        }
    }

    fn clients_cron(&mut self, now: Instant) {
        let timeout = self.state.config.timeout;
        let mut idle = Vec::new();
        for (key, client) in self.clients.iter_mut() {
            if timeout > 0 && client.closing == Closing::No && client.idle_secs(now) >= timeout {
                idle.push(key);
            }
            client.parser.shrink_if_idle(QUERY_BUFFER_KEEP);
        }
        for key in idle {
            debug!("Closing idle client");
            self.close(key, Closing::Now);
        }
    }
}

/// What a connection was accepted on.
pub struct Listener {
    /// The `metrics-port`.
    pub scrapes_only: bool,
    /// The `tls-port`.
    pub tls: bool,
}

/// Makes an accepted connection a client: refused past `maxclients`,
/// else configured, registered for reads under its slab key, and counted.
/// Also used while a script keeps the loop busy (`scripting::busy`).
pub fn admit_client(
    state: &mut ServerState,
    clients: &mut Slab<Client>,
    mut socket: Stream,
    addr: Peer,
    listener: Listener,
) {
    // A TLS connection is refused by closing it: no reply can be sent
    // before its handshake.
    let refuse = |socket: Stream, message: &[u8]| {
        if !listener.tls {
            Client::refuse(socket, message);
        }
    };
    if clients.len() as u64 >= state.config.maxclients {
        state.stats.rejected_connections += 1;
        refuse(socket, MAX_CLIENTS_REACHED);
        return;
    }
    let open_default = state
        .users
        .get(crate::acl::Users::DEFAULT)
        .is_some_and(|u| u.nopass);
    if state.config.protected_mode && open_default && !addr.is_local() {
        state.stats.rejected_connections += 1;
        refuse(socket, PROTECTED_MODE_DENIED);
        return;
    }
    if let Some(tcp) = socket.tcp() {
        if let Err(e) = configure_socket(tcp, state.config.tcp_keepalive) {
            debug!("Configuring client socket: {e}");
        }
    }
    let tls = match (&state.tls, listener.tls) {
        (Some(context), true) => match crate::tls::accept(context) {
            Some(session) => Some(session),
            None => return,
        },
        _ => None,
    };
    let entry = clients.vacant_entry();
    let key = entry.key();
    let Some(registry) = state.registry.as_ref() else {
        return;
    };
    if let Err(e) = registry.register(&mut socket, Token(key), Interest::READABLE) {
        warn!("Registering client socket: {e}");
        return;
    }
    let id = state.allocate_client_id();
    match &addr {
        crate::stream::Peer::Unix(path) => debug!("Accepted connection to {path}"),
        crate::stream::Peer::Tcp(_) => debug!("Accepted {addr}"),
    }
    let mut client = Client::new(id, socket, addr, Instant::now());
    client.scrapes_only = listener.scrapes_only;
    client.tls = tls;
    // Only a default user with no password lets a connection in at once.
    client.authenticated = !state.users.default_needs_auth();
    entry.insert(client);
    state.client_slots_free = free_client_slots(clients);
    state.stats.total_connections_received += 1;
}

/// Puts the listeners CONFIG SET bound in place of the plain or TLS ones
/// (Redis's `changeListenPort`), numbering every listener's token again.
pub fn replace_listeners(state: &mut ServerState, rebind: crate::state::Rebind) {
    let Some(registry) = state.registry.as_ref() else {
        return;
    };
    let mut kept = Vec::new();
    let mut metrics = None;
    for (i, mut listener) in std::mem::take(&mut state.listeners).into_iter().enumerate() {
        let tls = state.tls_fds.contains(&listener.as_raw_fd());
        if state.metrics_listener == Some(i) {
            metrics = Some(listener);
        } else if tls != rebind.tls {
            kept.push((listener, tls));
        } else {
            let _ = registry.deregister(&mut listener);
        }
    }
    kept.extend(rebind.listeners.into_iter().map(|l| (l, rebind.tls)));
    kept.sort_by_key(|(_, tls)| *tls);
    state.tls_fds = kept
        .iter()
        .filter(|(_, tls)| *tls)
        .map(|(l, _)| l.as_raw_fd())
        .collect();
    state.listeners = kept.into_iter().map(|(l, _)| l).collect();
    state.listeners.truncate(MAX_LISTENERS - 1);
    state.metrics_listener = metrics.as_ref().map(|_| state.listeners.len());
    state.listeners.extend(metrics);
    state.tcp_port = state.config.port;
    for (i, listener) in state.listeners.iter_mut().enumerate() {
        let token = Token(LISTENER_BASE - i);
        if registry
            .reregister(listener, token, Interest::READABLE)
            .is_err()
        {
            let _ = registry.register(listener, token, Interest::READABLE);
        }
    }
    note_listener_fds(state);
}

/// Lists every listening descriptor (TCP, TLS, metrics, Unix) in
/// `state.listener_fds`, which forked children close.
fn note_listener_fds(state: &mut ServerState) {
    state.listener_fds = state.listeners.iter().map(|l| l.as_raw_fd()).collect();
    state.listener_fds.extend(state.unix_fd);
}

/// Listens on `metrics-port` (scrapes only) on the first bind address,
/// in place of the metrics listener there was; port 0 closes it.
pub fn replace_metrics_listener(state: &mut ServerState) -> io::Result<()> {
    let Some(registry) = state.registry.as_ref() else {
        return Ok(());
    };
    let port = state.config.metrics_port;
    let fresh = if port > 0 {
        let host = state
            .listeners
            .iter()
            .enumerate()
            .filter(|(i, _)| state.metrics_listener != Some(*i))
            .find_map(|(_, l)| l.local_addr().ok())
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "127.0.0.1".into());
        let listener = listen(&host, port, state.config.tcp_backlog).map_err(|(step, e)| {
            let text = format!("Failed listening on metrics port {port}: {step}: {e}");
            io::Error::new(e.kind(), text)
        })?;
        Some(listener)
    } else {
        None
    };
    // The metrics listener is always the last one: removing it moves no
    // other listener's token.
    if let Some(at) = state.metrics_listener.take() {
        let mut old = state.listeners.remove(at);
        let _ = registry.deregister(&mut old);
    }
    state.metrics_fd = None;
    if let Some(mut listener) = fresh {
        let at = state.listeners.len();
        registry.register(&mut listener, Token(LISTENER_BASE - at), Interest::READABLE)?;
        state.metrics_fd = Some(listener.as_raw_fd());
        state.metrics_listener = Some(at);
        state.listeners.push(listener);
    }
    note_listener_fds(state);
    Ok(())
}

/// Bytes of the client table's vacant slots (`ServerState::client_slots_free`).
fn free_client_slots(clients: &Slab<Client>) -> usize {
    (clients.capacity() - clients.len()) * std::mem::size_of::<Client>()
}

/// Listens on `port` at every `bind` address (a leading `-` makes one
/// optional), as Redis's `listenToPort`; `kind` names the port in errors.
pub fn listen_all(config: &Config, port: u16, kind: &str) -> io::Result<Vec<TcpListener>> {
    if port == 0 {
        return Ok(Vec::new());
    }
    let mut listeners = Vec::new();
    for spec in &config.bind {
        let optional = spec.starts_with('-');
        let shown = spec.trim_start_matches('-');
        let host = match shown {
            "*" => "0.0.0.0",
            "::*" => "::",
            other => other,
        };
        match listen(host, port, config.tcp_backlog) {
            Ok(listener) => listeners.push(listener),
            Err((_, e)) if optional => debug!("Skipping optional bind address {host}: {e}"),
            Err((step, e)) => {
                // Redis's wording: the address as configured, the step
                // that failed, the system's text for the error.
                let text = e.to_string();
                let reason = match e.raw_os_error() {
                    Some(code) => text
                        .strip_suffix(&format!(" (os error {code})"))
                        .unwrap_or(&text),
                    None => &text,
                };
                warn!("Warning: Could not create server TCP listening socket {shown}:{port}: {step}: {reason}");
                return Err(io::Error::new(
                    e.kind(),
                    format!("Failed listening on port {port} ({kind}), aborting."),
                ));
            }
        }
    }
    Ok(listeners)
}

/// The `unixsocket` listener, if one is configured: a stale socket file
/// is removed first and `unixsocketperm` applied, as Redis does.
fn listen_unix(config: &Config) -> io::Result<Option<UnixListener>> {
    let path = config.unixsocket.as_str();
    if path.is_empty() {
        return Ok(None);
    }
    let failed = |step: &str, e: io::Error| {
        let reason = crate::errors::os_error_text(&e);
        io::Error::new(
            e.kind(),
            format!("Failed opening Unix socket: {step}: {reason}"),
        )
    };
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(|e| failed("bind", e))?;
    if config.unixsocketperm != 0 {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::Permissions::from_mode(config.unixsocketperm);
        std::fs::set_permissions(path, mode).map_err(|e| failed("chmod", e))?;
    }
    Ok(Some(listener))
}

/// A listening socket on `host:port`; Err names the step that failed
/// (Redis's `anet` error prefixes).
fn listen(host: &str, port: u16, backlog: u32) -> Result<TcpListener, (&'static str, io::Error)> {
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| ("getaddrinfo", e))?
        .next()
        .ok_or_else(|| {
            let unknown = io::Error::new(io::ErrorKind::InvalidInput, "unresolvable address");
            ("getaddrinfo", unknown)
        })?;
    let domain = socket2::Domain::for_address(addr);
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))
        .map_err(|e| ("socket", e))?;
    socket
        .set_reuse_address(true)
        .map_err(|e| ("setsockopt SO_REUSEADDR", e))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true).map_err(|e| ("setsockopt", e))?;
    }
    socket.bind(&addr.into()).map_err(|e| ("bind", e))?;
    socket
        .listen(i32::try_from(backlog).unwrap_or(i32::MAX))
        .map_err(|e| ("listen", e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| ("fcntl(F_SETFL,O_NONBLOCK)", e))?;
    Ok(TcpListener::from_std(socket.into()))
}

/// TCP_NODELAY, and keepalive probes as Redis's `anetKeepAlive`: the first
/// after `interval` seconds idle, then every third of it, three times.
fn configure_socket(socket: &TcpStream, keepalive_secs: u64) -> io::Result<()> {
    socket.set_nodelay(true)?;
    if keepalive_secs > 0 {
        let interval = Duration::from_secs(keepalive_secs);
        let params = socket2::TcpKeepalive::new()
            .with_time(interval)
            .with_interval(Duration::from_secs((keepalive_secs / 3).max(1)))
            .with_retries(3);
        socket2::SockRef::from(socket).set_tcp_keepalive(&params)?;
    }
    Ok(())
}

/// Raises the open-files limit so `maxclients` connections fit, as Redis's
/// `adjustOpenFilesLimit`; if it cannot, lowers maxclients to what fits.
pub fn raise_open_files_limit(maxclients: u64) -> u64 {
    let wanted = maxclients + RESERVED_FDS;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return maxclients;
        }
        if limit.rlim_cur >= wanted {
            return maxclients;
        }
        let raised = libc::rlimit {
            rlim_cur: wanted as libc::rlim_t,
            rlim_max: (wanted as libc::rlim_t).max(limit.rlim_max),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            info!(
                "Increased maximum number of open files to {wanted} (it was originally set to {}).",
                limit.rlim_cur
            );
            return maxclients;
        }
        let capped = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        let best = if libc::setrlimit(libc::RLIMIT_NOFILE, &capped) == 0 {
            limit.rlim_max
        } else {
            limit.rlim_cur
        } as u64;
        let fitting = best.saturating_sub(RESERVED_FDS).max(1);
        warn!(
            "You requested maxclients of {maxclients} requiring at least {wanted} max file descriptors. \
             Server can't set maximum open files to {wanted}; maxclients is now {fitting}."
        );
        fitting
    }
}
