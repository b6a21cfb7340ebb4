//! When and how snapshots reach the disk (Redis's `rdbSave`,
//! `rdbSaveBackground`, `backgroundSaveDoneHandler` and the save points of
//! `serverCron`). The bytes come from `rdb`; this module owns the files.
//!
//! A snapshot is always written to `temp-<pid>.rdb` in `dir`, flushed,
//! fsynced and only then renamed over `dbfilename`, so a failed or
//! interrupted save never replaces a good file.
//!
//! BGSAVE forks, as Redis does: the child owns a copy-on-write image of the
//! keyspace frozen at the fork and writes it while the loop goes on. The
//! child reports its copy-on-write size through a pipe and exits; the cron
//! reaps it with a non-blocking `waitpid` and records the outcome.

use crate::config::Config;
use crate::db::Db;
use crate::rdb::{Decoder, Encoder, Header, Limits, LoadError, LoadEvent, SaveOptions};
use crate::state::unix_millis;
use log::{info, warn};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Redis's `CONFIG_BGSAVE_RETRY_DELAY`: after a failed BGSAVE, save points
/// wait this many seconds before trying again.
const BGSAVE_RETRY_DELAY: i64 = 5;

/// Bytes buffered between the encoder and the file.
const WRITE_BUFFER: usize = 64 * 1024;

/// Redis's `REDIS_AUTOSYNC_BYTES`: with `rdb-save-incremental-fsync`, the
/// file is fsynced every 4 MB so the kernel never holds a huge dirty tail.
const AUTOSYNC_BYTES: u64 = 4 * 1024 * 1024;

/// What a forked child is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildKind {
    Rdb,
    Aof,
}

/// A forked child the loop waits for.
pub struct Child {
    pub pid: libc::pid_t,
    pub kind: ChildKind,
    pub started: Instant,
    pub started_unix: i64,
    /// The read end of the pipe the child reports its progress on.
    report: Option<File>,
    /// What it reported last.
    pub info: crate::child_info::ChildInfo,
    /// A snapshot written to a pipe for replicas, not to the file.
    pub to_replicas: bool,
}

/// How a reaped child ended.
pub struct ChildOutcome {
    pub kind: ChildKind,
    pub pid: libc::pid_t,
    pub to_replicas: bool,
    pub ok: bool,
    pub signal: Option<i32>,
    pub cow_bytes: u64,
    pub seconds: i64,
    pub started_unix: i64,
}

/// Persistence state and counters (`INFO persistence`).
pub struct Persistence {
    /// `dirty` when the last successful save started.
    pub dirty_at_last_save: u64,
    /// `dirty` when the running BGSAVE forked.
    pub dirty_at_fork: u64,
    pub last_save_unix: i64,
    pub last_bgsave_ok: bool,
    pub last_bgsave_try_unix: i64,
    pub last_bgsave_seconds: i64,
    pub rdb_saves: u64,
    pub last_cow_bytes: u64,
    pub last_aof_cow_bytes: u64,
    pub child: Option<Child>,
    pub total_forks: u64,
    pub latest_fork_usec: u64,
    /// A BGSAVE SCHEDULE waiting for the running child to end.
    pub bgsave_scheduled: bool,
    /// The dataset is being loaded: commands without the `loading` flag
    /// get `-LOADING` (but see `async_loading`).
    pub loading: bool,
    /// With `loading`: a replica loads its master's snapshot while it
    /// serves the old dataset (Redis's `async_loading`), so only commands
    /// flagged `no_async_loading` get `-LOADING`.
    pub async_loading: bool,
    /// How far the load is, for INFO's `loading_*` fields.
    pub load_progress: LoadProgress,
    pub last_load_keys_loaded: u64,
    pub last_load_keys_expired: u64,
    /// The replication position the snapshot loaded at start recorded.
    pub loaded_position: Option<crate::rdb::ReplPosition>,
    /// The DELs a master fed for the keys that snapshot held expired.
    pub loaded_expired_feed: Option<ExpiredFeed>,
}

/// Where a load stands (Redis's `loading_*` counters).
#[derive(Debug, Default, Clone, Copy)]
pub struct LoadProgress {
    pub start_unix: i64,
    pub total_bytes: u64,
    pub loaded_bytes: u64,
}

impl Default for Persistence {
    fn default() -> Self {
        Persistence {
            dirty_at_last_save: 0,
            dirty_at_fork: 0,
            last_save_unix: unix_millis() / 1000,
            last_bgsave_ok: true,
            last_bgsave_try_unix: 0,
            last_bgsave_seconds: -1,
            rdb_saves: 0,
            last_cow_bytes: 0,
            last_aof_cow_bytes: 0,
            child: None,
            total_forks: 0,
            latest_fork_usec: 0,
            bgsave_scheduled: false,
            loading: false,
            async_loading: false,
            load_progress: LoadProgress::default(),
            last_load_keys_loaded: 0,
            last_load_keys_expired: 0,
            loaded_position: None,
            loaded_expired_feed: None,
        }
    }
}

impl Persistence {
    /// Changes since the last successful save (`rdb_changes_since_last_save`).
    pub fn changes_since_save(&self) -> u64 {
        crate::db::dirty().saturating_sub(self.dirty_at_last_save)
    }

    /// A load of `total_bytes` begins (`startLoading`).
    pub fn start_loading(&mut self, total_bytes: u64) {
        self.loading = true;
        self.load_progress = LoadProgress {
            start_unix: unix_millis() / 1000,
            total_bytes,
            loaded_bytes: 0,
        };
    }

    pub fn stop_loading(&mut self) {
        self.loading = false;
    }

    pub fn bgsave_in_progress(&self) -> bool {
        self.child
            .as_ref()
            .is_some_and(|c| c.kind == ChildKind::Rdb)
    }

    /// Whether any save has failed: the cheap test before the full one.
    pub fn disk_error_possible(&self) -> bool {
        !self.last_bgsave_ok
    }

    /// Writes refused with `-MISCONF` after a failed background save
    /// (`writeCommandsDeniedByDiskError`).
    pub fn rdb_refuses_writes(&self, config: &Config) -> bool {
        config.stop_writes_on_bgsave_error && !config.save.is_empty() && !self.last_bgsave_ok
    }

    /// Records a successful save that started when `dirty` was `at_dirty`.
    fn saved(&mut self, at_dirty: u64, started_unix: i64) {
        self.dirty_at_last_save = at_dirty;
        self.last_save_unix = started_unix;
        self.last_bgsave_ok = true;
    }
}

thread_local! {
    /// Where the replication stream stands, kept up to date by the loop
    /// (`Replication::publish_position`): snapshots record it, so a
    /// restarted server can continue the stream.
    static REPL_POSITION: std::cell::RefCell<Option<crate::rdb::ReplPosition>> =
        const { std::cell::RefCell::new(None) };
}

/// The stream position snapshots record from now on (None: no stream).
pub fn set_repl_position(position: Option<crate::rdb::ReplPosition>) {
    REPL_POSITION.with(|p| *p.borrow_mut() = position);
}

/// Moves the recorded position's offset (every byte fed).
pub fn set_repl_offset(offset: u64, stream_db: Option<usize>) {
    REPL_POSITION.with(|p| {
        if let Some(position) = p.borrow_mut().as_mut() {
            position.offset = offset;
            if let Some(db) = stream_db {
                position.stream_db = db;
            }
        }
    });
}

fn options(config: &Config, aof_base: bool) -> SaveOptions {
    let policy = config.maxmemory_policy;
    // An AOF's preamble records no position, as in Redis.
    let repl = if aof_base {
        None
    } else {
        REPL_POSITION.with(|p| p.borrow().clone())
    };
    SaveOptions {
        repl,
        checksum: config.rdbchecksum,
        aof_base,
        access: if policy.is_lru() {
            crate::rdb::AccessRecord::Idle
        } else if policy.is_lfu() {
            crate::rdb::AccessRecord::Freq
        } else {
            crate::rdb::AccessRecord::Nothing
        },
    }
}

/// Writes a snapshot to `path` through a temp file in the same directory:
/// write, flush, fsync, rename, fsync the directory (`rdbSave`).
pub fn write_snapshot_file(
    path: &Path,
    dbs: &[Db],
    libraries: &[&[u8]],
    config: &Config,
    aof_base: bool,
) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let temp = dir
        .unwrap_or(Path::new("."))
        .join(format!("temp-{}.rdb", std::process::id()));
    let file = File::create(&temp).inspect_err(|e| {
        let cwd = std::env::current_dir().unwrap_or_default();
        warn!(
            "Failed opening the temp RDB file {} (in server root dir {}) for saving: {}",
            temp.display(),
            cwd.display(),
            crate::errors::os_error_text(e)
        );
    })?;
    let result = (|| {
        let out = SyncingWriter::new(file, config.rdb_save_incremental_fsync);
        let delay = config.rdb_key_save_delay;
        let encoder = Encoder::new(
            BufWriter::with_capacity(WRITE_BUFFER, out),
            config.rdbcompression,
        )
        .with_list_fill(config.list_max_listpack_size);
        let encoder = if delay != 0 {
            encoder.with_key_delay_us(delay)
        } else {
            encoder
        };
        let mut writer =
            encoder.snapshot(dbs, libraries, options(config, aof_base), unix_millis())?;
        writer.flush()?;
        let file = writer
            .into_inner()
            .map_err(|e| e.into_error())?
            .into_inner();
        file.sync_all()?;
        fs::rename(&temp, path)?;
        sync_dir(dir.unwrap_or(Path::new(".")));
        Ok(())
    })();
    if let Err(e) = &result {
        warn!(
            "Write error saving DB on disk: {}",
            crate::errors::os_error_text(e)
        );
        let _ = fs::remove_file(&temp);
    }
    result
}

/// fsyncs a directory so a rename in it survives a crash. Best effort:
/// some filesystems refuse, and the data itself is already synced.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A file writer that, when asked, fsyncs every `AUTOSYNC_BYTES`.
struct SyncingWriter {
    file: File,
    incremental: bool,
    since_sync: u64,
}

impl SyncingWriter {
    fn new(file: File, incremental: bool) -> Self {
        SyncingWriter {
            file,
            incremental,
            since_sync: 0,
        }
    }

    fn into_inner(self) -> File {
        self.file
    }
}

impl Write for SyncingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.since_sync += n as u64;
        if self.incremental && self.since_sync >= AUTOSYNC_BYTES {
            self.file.sync_data()?;
            self.since_sync = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// The snapshot file's path: `dbfilename` inside `dir` (the working
/// directory).
pub fn rdb_path(config: &Config) -> PathBuf {
    PathBuf::from(&config.dbfilename)
}

/// `SAVE` and the saves of SHUTDOWN and DEBUG RELOAD: a snapshot written by
/// the loop itself.
pub fn save(
    state: &mut Persistence,
    dbs: &[Db],
    libraries: &[&[u8]],
    config: &Config,
) -> io::Result<()> {
    let started = unix_millis() / 1000;
    let dirty = crate::db::dirty();
    match write_snapshot_file(&rdb_path(config), dbs, libraries, config, false) {
        Ok(()) => {
            info!("DB saved on disk");
            state.saved(dirty, started);
            Ok(())
        }
        // A failed foreground save leaves `rdb_last_bgsave_status` alone,
        // as Redis's `rdbSave` does: writes are not refused for it.
        Err(e) => Err(e),
    }
}

/// Runs this process on the CPUs of a `*_cpulist` setting (a forked
/// child, as Redis's `redisSetCpuAffinity`); an empty list leaves it be.
pub fn pin_to_cpus(cpulist: &str) {
    let Ok(cpus) = crate::config::parse_cpulist(cpulist) else {
        return;
    };
    if cpus.is_empty() {
        return;
    }
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET only writes
    // inside it (the list is capped below 1024, CPU_SETSIZE); the call
    // reads the set we pass for this process.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            warn!(
                "Failed to set the child's CPU affinity: {}",
                io::Error::last_os_error()
            );
        }
    }
}

/// Forks a child that runs `work` and exits with 0 on success. The
/// parent gets the child's record (`redisFork`).
/// `close_in_child` are descriptors the child must not keep, the
/// listening sockets above all, so a restarted server can bind while an
/// orphaned child still runs.
pub fn fork_child(
    state: &mut Persistence,
    kind: ChildKind,
    close_in_child: &[RawFd],
    keys_total: u64,
    work: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe() writes two descriptors into the array we pass.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned only here.
    let (read_end, write_end) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    let started = Instant::now();
    // SAFETY: the loop is single-threaded, so the child gets a consistent
    // copy of everything; it only runs `work` and leaves with `_exit`,
    // never returning into the loop.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        drop(read_end);
        crate::oom_score::enter_child();
        for &fd in close_in_child {
            // SAFETY: the child's copies of the parent's descriptors; the
            // parent keeps its own.
            unsafe { libc::close(fd) };
        }
        crate::child_info::start_reporting(write_end);
        let ok = work().is_ok();
        crate::child_info::final_report();
        // SAFETY: ends the child without running the parent's destructors
        // or atexit handlers, which belong to the loop.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    drop(write_end);
    let fork_usec = started.elapsed().as_micros() as u64;
    set_nonblocking(&read_end);
    state.total_forks += 1;
    state.latest_fork_usec = fork_usec;
    state.child = Some(Child {
        pid,
        kind,
        started,
        started_unix: unix_millis() / 1000,
        report: Some(read_end),
        info: crate::child_info::ChildInfo::new(keys_total),
        to_replicas: false,
    });
    Ok(())
}

fn set_nonblocking(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
}

/// `BGSAVE`: forks a child that writes the snapshot (`rdbSaveBackground`).
pub fn bgsave(
    state: &mut Persistence,
    dbs: &[Db],
    libraries: &[&[u8]],
    config: &Config,
    close_in_child: &[RawFd],
) -> io::Result<()> {
    state.rdb_saves += 1;
    state.dirty_at_fork = crate::db::dirty();
    state.last_bgsave_try_unix = unix_millis() / 1000;
    let path = rdb_path(config);
    let keys = total_keys(dbs);
    let result = fork_child(state, ChildKind::Rdb, close_in_child, keys, || {
        crate::proctitle::set_child("redis-rdb-bgsave");
        pin_to_cpus(&config.bgsave_cpulist);
        let written = write_snapshot_file(&path, dbs, libraries, config, false);
        if written.is_ok() {
            info!("DB saved on disk");
        }
        written
    });
    match &result {
        Ok(()) => {
            if let Some(child) = &state.child {
                info!("Background saving started by pid {}", child.pid);
            }
        }
        Err(e) => {
            state.last_bgsave_ok = false;
            warn!(
                "Can't save in background: fork: {}",
                crate::errors::os_error_text(e)
            );
        }
    }
    result
}

/// `BGSAVE` for replicas without a disk (`rdbSaveToSlavesSockets`): a
/// child writes `$EOF:<mark>\r\n`, the snapshot and the mark into a pipe,
/// whose non-blocking read end is returned for the loop to pass on.
pub fn snapshot_to_pipe(
    state: &mut Persistence,
    dbs: &[Db],
    libraries: &[&[u8]],
    config: &Config,
    close_in_child: &[RawFd],
    mark: &[u8],
) -> io::Result<File> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe() writes two descriptors into the array we pass.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned only here.
    let (read_end, write_end) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    let mut close = close_in_child.to_vec();
    close.push(fds[0]);
    let mut write_end = Some(write_end);
    let forked = fork_child(state, ChildKind::Rdb, &close, total_keys(dbs), || {
        crate::proctitle::set_child("redis-rdb-to-slaves");
        pin_to_cpus(&config.bgsave_cpulist);
        let Some(pipe) = write_end.take() else {
            return Err(io::ErrorKind::BrokenPipe.into());
        };
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, pipe);
        out.write_all(b"$EOF:")?;
        out.write_all(mark)?;
        out.write_all(b"\r\n")?;
        let encoder =
            Encoder::new(out, config.rdbcompression).with_list_fill(config.list_max_listpack_size);
        let encoder = match config.rdb_key_save_delay {
            0 => encoder,
            delay => encoder.with_key_delay_us(delay),
        };
        let mut out = encoder.snapshot(dbs, libraries, options(config, false), unix_millis())?;
        out.write_all(mark)?;
        out.flush()
    });
    drop(write_end);
    forked?;
    if let Some(child) = &mut state.child {
        child.to_replicas = true;
    }
    set_nonblocking(&read_end);
    Ok(read_end)
}

/// Waits for the child that just closed its end of a pipe
/// (`reap_child`, blocking: it is exiting).
pub fn wait_child(state: &mut Persistence) -> Option<ChildOutcome> {
    let pid = state.child.as_ref()?.pid;
    let mut status: libc::c_int = 0;
    // SAFETY: waitpid on our own child, with a status out-parameter.
    let reaped = unsafe { libc::waitpid(pid, &mut status, 0) };
    child_ended(state, reaped, status)
}

/// Keys in every database: what a child has to write.
pub fn total_keys(dbs: &[Db]) -> u64 {
    dbs.iter().map(|db| db.len() as u64).sum()
}

/// Reads what the running child reported (`receiveChildInfo`).
pub fn receive_child_info(state: &mut Persistence) {
    if let Some(child) = state.child.as_mut() {
        if let Some(report) = child.report.as_mut() {
            child.info.receive(report);
        }
    }
}

/// Reaps the child if it has exited (`checkChildrenDone`); never blocks.
pub fn reap_child(state: &mut Persistence) -> Option<ChildOutcome> {
    let child = state.child.as_mut()?;
    let mut status: libc::c_int = 0;
    // SAFETY: waitpid on our own child, with a status out-parameter.
    let pid = unsafe { libc::waitpid(child.pid, &mut status, libc::WNOHANG) };
    child_ended(state, pid, status)
}

fn child_ended(
    state: &mut Persistence,
    pid: libc::pid_t,
    status: libc::c_int,
) -> Option<ChildOutcome> {
    let child = state.child.as_mut()?;
    if pid == 0 {
        return None;
    }
    if let Some(mut report) = child.report.take() {
        child.info.receive(&mut report);
    }
    let child = state.child.take()?;
    let cow_bytes = child.info.cow_peak;
    let exited = pid > 0 && libc::WIFEXITED(status);
    let signal = (pid > 0 && libc::WIFSIGNALED(status)).then(|| libc::WTERMSIG(status));
    let ok = exited && libc::WEXITSTATUS(status) == 0;
    Some(ChildOutcome {
        kind: child.kind,
        pid: child.pid,
        to_replicas: child.to_replicas,
        ok,
        signal,
        cow_bytes,
        seconds: child.started.elapsed().as_secs() as i64,
        started_unix: child.started_unix,
    })
}

/// Records how a BGSAVE child ended (`backgroundSaveDoneHandlerDisk`).
pub fn bgsave_done(state: &mut Persistence, outcome: &ChildOutcome) {
    if outcome.to_replicas {
        // A snapshot for replicas changes nothing on disk
        // (`backgroundSaveDoneHandlerSocket`).
        match (outcome.ok, outcome.signal) {
            (true, _) => info!("Background RDB transfer terminated with success"),
            (false, Some(signal)) => warn!("Background transfer terminated by signal {signal}"),
            (false, None) => warn!("Background transfer error"),
        }
        return;
    }
    state.last_bgsave_seconds = outcome.seconds;
    state.last_cow_bytes = outcome.cow_bytes;
    if outcome.ok {
        info!("Background saving terminated with success");
        let dirty = state.dirty_at_fork;
        state.saved(dirty, outcome.started_unix);
    } else if let Some(signal) = outcome.signal {
        warn!("Background saving terminated by signal {signal}");
        // A child killed on purpose (SIGUSR1) is not an error, as in Redis.
        if signal != libc::SIGUSR1 {
            state.last_bgsave_ok = false;
        }
    } else {
        warn!("Background saving error");
        state.last_bgsave_ok = false;
    }
}

/// Kills a running child and removes its temp file (`killRDBChild`).
/// Returns how it ended, for the callers that report it as Redis does
/// when it reaps the child it killed.
pub fn kill_child(state: &mut Persistence) -> Option<ChildOutcome> {
    let pid = state.child.as_ref()?.pid;
    let mut status = 0;
    // SAFETY: signals and reaps our own child.
    let reaped = unsafe {
        libc::kill(pid, libc::SIGUSR1);
        libc::waitpid(pid, &mut status, 0)
    };
    let outcome = child_ended(state, reaped, status);
    // A child reaped elsewhere (or a failed waitpid) is forgotten all the same.
    state.child = None;
    let _ = fs::remove_file(format!("temp-{pid}.rdb"));
    outcome
}

/// Kills a snapshot child and logs its end as Redis's
/// `backgroundSaveDoneHandler` logs it (FLUSHALL, a transfer nobody
/// waits for any more).
pub fn kill_snapshot_child(state: &mut Persistence) {
    if let Some(outcome) = kill_child(state) {
        bgsave_done(state, &outcome);
    }
}

/// The save point due now, if any (`serverCron`): enough changes, enough
/// time since the last save, and not straight after a failed try.
pub fn save_point_due(state: &Persistence, config: &Config, now_unix: i64) -> Option<(u64, i64)> {
    if state.child.is_some() {
        return None;
    }
    let changes = state.changes_since_save();
    config
        .save_points()
        .into_iter()
        .find(|&(secs, min_changes)| {
            changes >= min_changes
                && now_unix - state.last_save_unix > secs
                && (state.last_bgsave_ok
                    || now_unix - state.last_bgsave_try_unix > BGSAVE_RETRY_DELAY)
        })
        .map(|(secs, _)| (changes, secs))
}

/// A dataset read from a file, not yet in service.
pub struct Loaded {
    pub dbs: Vec<Db>,
    /// The function libraries' code, in file order.
    pub libraries: Vec<Vec<u8>>,
    pub keys_loaded: u64,
    pub keys_expired: u64,
    pub header: Header,
    /// When set, a DEL for each key left out as expired is fed to it.
    pub expired_feed: Option<ExpiredFeed>,
}

/// A master loading its snapshot at start deletes the keys whose time has
/// passed, and feeds a DEL for each to its replication stream so replicas
/// that continue from the snapshot's position delete them too (Redis's
/// `RDBFLAGS_FEED_REPL`). The stream is kept to the backlog's size.
pub struct ExpiredFeed {
    pub stream: crate::repl::backlog::Backlog,
    /// The database the stream last SELECTed.
    pub selected_db: Option<usize>,
    /// `lazyfree-lazy-expire`: UNLINK rather than DEL.
    unlink: bool,
    scratch: Vec<u8>,
}

impl ExpiredFeed {
    pub fn new(backlog_size: u64, unlink: bool) -> Self {
        ExpiredFeed {
            stream: crate::repl::backlog::Backlog::new(backlog_size as usize, 1),
            selected_db: None,
            unlink,
            scratch: Vec::new(),
        }
    }

    fn push(&mut self, db: usize, key: &[u8]) {
        let command: &[u8] = if self.unlink { b"UNLINK" } else { b"DEL" };
        self.scratch.clear();
        crate::propagate::encode_call(
            &mut self.scratch,
            &[(db, vec![command.to_vec(), key.to_vec()])],
            false,
            &mut self.selected_db,
        );
        self.stream.append(&self.scratch);
    }

    /// Bytes fed in all, including any the backlog's size let go.
    pub fn fed(&self) -> u64 {
        self.stream.first_offset() - 1 + self.stream.len() as u64
    }
}

impl Loaded {
    /// Databases to load into, counting accesses as `config`'s policy
    /// does (a file's LFU counters are kept under an LFU policy only).
    pub fn empty(config: &Config) -> Loaded {
        let lfu = crate::evict::Lfu::of(config);
        Loaded {
            dbs: (0..config.databases)
                .map(|_| {
                    let mut db = Db::default();
                    db.lfu = lfu;
                    db
                })
                .collect(),
            libraries: Vec::new(),
            keys_loaded: 0,
            keys_expired: 0,
            header: Header::default(),
            expired_feed: None,
        }
    }
}

/// Reads a snapshot file into fresh databases (`rdbLoad`); `Ok(None)` if
/// there is no file. Keys whose time has passed are left out, as a master
/// does. Nothing is returned unless the whole file was read and its
/// checksum holds, so a bad file can never be half-loaded.
pub fn load_snapshot(
    path: &Path,
    config: &Config,
    now_ms: i64,
    expired_feed: Option<ExpiredFeed>,
    progress: &mut dyn FnMut(u64),
) -> Result<Option<Loaded>, LoadError> {
    load_file(path, config, now_ms, true, expired_feed, progress)
}

fn load_file(
    path: &Path,
    config: &Config,
    now_ms: i64,
    skip_expired: bool,
    expired_feed: Option<ExpiredFeed>,
    progress: &mut dyn FnMut(u64),
) -> Result<Option<Loaded>, LoadError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LoadError::Io(e)),
    };
    let input = io::BufReader::with_capacity(WRITE_BUFFER, file);
    let mut loaded = Loaded::empty(config);
    loaded.expired_feed = expired_feed;
    read_into(
        Decoder::new(input, Limits::from(config)),
        &mut loaded,
        now_ms,
        skip_expired,
        progress,
    )?;
    Ok(Some(loaded))
}

/// Reads the snapshot a master sent: keys already expired are kept, as
/// a replica must (its master's DELs will come).
pub fn load_snapshot_keeping_expired(
    path: &Path,
    config: &Config,
    now_ms: i64,
    progress: &mut dyn FnMut(u64),
) -> Result<Option<Loaded>, LoadError> {
    load_file(path, config, now_ms, false, None, progress)
}

/// The most keys a database reserves room for on a file's word: a
/// corrupt count must not take the machine's memory.
const MAX_RESERVED_KEYS: u64 = 1 << 24;

fn duplicated(name: &[u8], db: usize) -> LoadError {
    LoadError::Corrupt(format!(
        "RDB has duplicated key '{}' in DB {db}",
        String::from_utf8_lossy(name)
    ))
}

/// Decodes a snapshot into `loaded`. `skip_expired`: drop keys already
/// expired (not for an AOF preamble, whose later commands may refer to them).
pub fn read_into<R: Read>(
    decoder: Decoder<R>,
    loaded: &mut Loaded,
    now_ms: i64,
    skip_expired: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<(), LoadError> {
    for db in &mut loaded.dbs {
        db.now_ms = now_ms;
    }
    let databases = loaded.dbs.len();
    let (dbs, libraries, keys_loaded, keys_expired, expired_feed) = (
        &mut loaded.dbs,
        &mut loaded.libraries,
        &mut loaded.keys_loaded,
        &mut loaded.keys_expired,
        &mut loaded.expired_feed,
    );
    let header = decoder.snapshot(
        &mut |event| {
            let key = match event {
                LoadEvent::Resize { db, keys, expires } => {
                    if let Some(db) = dbs.get_mut(db) {
                        let cap = |n: u64| n.min(MAX_RESERVED_KEYS) as usize;
                        db.reserve(cap(keys), cap(expires));
                    }
                    return Ok(());
                }
                LoadEvent::Library(code) => {
                    libraries.push(code);
                    return Ok(());
                }
                LoadEvent::Key(key) => key,
            };
            let Some(db) = dbs.get_mut(key.db) else {
                return Err(LoadError::Corrupt(format!(
                    "FATAL: Data file was created with a Redis server configured to handle more than {databases} databases. Exiting"
                )));
            };
            if skip_expired && key.expire_ms.is_some_and(|when| when < now_ms) {
                if let Some(feed) = expired_feed {
                    feed.push(key.db, &key.key);
                }
                *keys_expired += 1;
                return Ok(());
            }
            if key.freq.is_some() || key.idle_secs.is_some() {
                let name = key.key.clone();
                db.load(key.key, key.value, key.expire_ms)
                    .map_err(|name| duplicated(&name, key.db))?;
                db.restore_access(&name, key.freq, key.idle_secs);
            } else {
                db.load(key.key, key.value, key.expire_ms)
                    .map_err(|name| duplicated(&name, key.db))?;
            }
            *keys_loaded += 1;
            Ok(())
        },
        progress,
    )?;
    loaded.header = header;
    Ok(())
}
