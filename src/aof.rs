//! The append-only file, as Redis 7.0 lays it out (`aof.c`): a directory
//! `appenddirname` holding a base file (an RDB preamble or commands), the
//! incremental files of commands since, and a manifest naming them.
//!
//! Commands that changed the dataset are queued in `buf` in their effect
//! form (`propagate.rs`) and written before the loop sleeps, before any
//! reply goes out. With `appendfsync always` the file is fsynced right
//! there, so an acknowledged write is on disk; with `everysec` a thread
//! fsyncs once a second off the loop (Redis's bio), and the loop only
//! postpones its writes, for at most two seconds, while that fsync is slow.
//!
//! A rewrite forks: the child writes a new base from its snapshot of the
//! keyspace while the parent already logs into a new incremental file;
//! when the child is done the manifest is switched in one rename and the
//! old files are deleted.

use crate::config::{AppendFsync, Config};
use crate::propagate::{encode_call, encode_command, Argv};
use log::{info, warn};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Failed rewrites in a row after which automatic ones are held back, and
/// the longest they are held (`AOF_REWRITE_LIMITE_*`).
const REWRITE_LIMIT_THRESHOLD: u64 = 3;
const REWRITE_LIMIT_MAX_MINUTES: i64 = 60;

/// Redis waits this long for a slow background fsync before writing anyway.
const MAX_POSTPONE: Duration = Duration::from_secs(2);

/// One file the manifest names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofFile {
    pub name: String,
    pub seq: u64,
}

/// The manifest: the base, the incremental files in order, and history
/// files left to delete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    pub incrs: Vec<AofFile>,
    pub history: Vec<AofFile>,
    /// The last base and incremental sequence numbers given out: the next
    /// files are numbered from them, as Redis's `curr_*_file_seq`, which
    /// a manifest read from disk sets again.
    base_seq: u64,
    incr_seq: u64,
}

/// Why a manifest was refused, and on which line (`aofLoadManifestFromFile`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    pub message: &'static str,
    /// The line's number, from 1, and its text.
    pub line: Option<(usize, String)>,
}

impl std::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message)
    }
}

/// Redis reads manifest lines into a buffer of this many bytes.
const MANIFEST_MAX_LINE: usize = 1024;

impl Manifest {
    /// Parses `file <name> seq <n> type <b|i|h>` lines as Redis does: keys
    /// in any case and order, more pairs ignored, names quoted as in a
    /// config file, `#` comments; a blank line, a line of 1024 bytes or
    /// more, or a last line without its newline is refused.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let mut manifest = Manifest::default();
        if text.is_empty() {
            return Err(ManifestError {
                message: "Found an empty AOF manifest",
                line: None,
            });
        }
        let mut rest = text;
        let mut number = 0;
        while !rest.is_empty() {
            number += 1;
            let (raw, ends, after) = match rest.find('\n') {
                Some(at) => (&rest[..at], true, &rest[at + 1..]),
                None => (rest, false, ""),
            };
            rest = after;
            if raw.starts_with('#') {
                continue;
            }
            let line = raw.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
            let refuse = |message| {
                Err(ManifestError {
                    message,
                    line: Some((number, line.to_string())),
                })
            };
            if !ends || raw.len() >= MANIFEST_MAX_LINE {
                return refuse("The AOF manifest file contains too long line");
            }
            let words = match crate::protocol::request::split_config_line(line.as_bytes()) {
                Some(words) if words.len() >= 6 && words.len() % 2 == 0 => words,
                _ => return refuse("Invalid AOF manifest file format"),
            };
            let (mut name, mut seq, mut kind) = (None, 0u64, None);
            for pair in words.chunks(2) {
                let value = String::from_utf8_lossy(&pair[1]).into_owned();
                if pair[0].eq_ignore_ascii_case(b"file") {
                    if value.contains(['/', '\\']) {
                        return refuse("File can't be a path, just a filename");
                    }
                    name = Some(value);
                } else if pair[0].eq_ignore_ascii_case(b"seq") {
                    seq = atoll(&value);
                } else if pair[0].eq_ignore_ascii_case(b"type") {
                    kind = value.chars().next();
                }
            }
            let (Some(name), Some(kind)) = (name.filter(|n| !n.is_empty()), kind) else {
                return refuse("Invalid AOF manifest file format");
            };
            if seq == 0 {
                return refuse("Invalid AOF manifest file format");
            }
            let file = AofFile { name, seq };
            match kind {
                'b' if manifest.base.is_none() => {
                    manifest.base_seq = file.seq;
                    manifest.base = Some(file)
                }
                'b' => return refuse("Found duplicate base file information"),
                'i' => {
                    if manifest
                        .incrs
                        .last()
                        .is_some_and(|last| last.seq >= file.seq)
                    {
                        return refuse("Found a non-monotonic sequence number");
                    }
                    manifest.incr_seq = file.seq;
                    manifest.incrs.push(file)
                }
                'h' => manifest.history.push(file),
                _ => return refuse("Unknown AOF file type"),
            }
        }
        Ok(manifest)
    }

    /// Names a new base and makes the current one history
    /// (`getNewBaseFileNameAndMarkPreAsHistory`).
    fn new_base(&mut self, config: &Config) -> AofFile {
        self.base_seq += 1;
        let base = AofFile {
            name: base_name(config, self.base_seq),
            seq: self.base_seq,
        };
        if let Some(old) = self.base.replace(base.clone()) {
            self.history.insert(0, old);
        }
        base
    }

    /// Names a new incremental file, last in the list (`getNewIncrAofName`).
    fn new_incr(&mut self, config: &Config) -> AofFile {
        self.incr_seq += 1;
        let incr = AofFile {
            name: incr_name(config, self.incr_seq),
            seq: self.incr_seq,
        };
        self.incrs.push(incr.clone());
        incr
    }

    /// After a rewrite, the incremental files its base holds become
    /// history: all of them, or all but the one being written
    /// (`markRewrittenIncrAofAsHistory`).
    fn retire_rewritten_incrs(&mut self, keep_last: bool) {
        let keep = usize::from(keep_last).min(self.incrs.len());
        let retired: Vec<AofFile> = self.incrs.drain(..self.incrs.len() - keep).collect();
        self.history.splice(0..0, retired);
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut line = |f: &AofFile, kind: char| {
            out.push_str("file ");
            if needs_repr(&f.name) {
                let mut quoted = Vec::new();
                crate::errors::push_repr(&mut quoted, f.name.as_bytes());
                out.push_str(&String::from_utf8_lossy(&quoted));
            } else {
                out.push_str(&f.name);
            }
            out.push_str(&format!(" seq {} type {kind}\n", f.seq));
        };
        if let Some(base) = &self.base {
            line(base, 'b');
        }
        for f in &self.history {
            line(f, 'h');
        }
        for f in &self.incrs {
            line(f, 'i');
        }
        out
    }
}

/// The leading number of `text`, as C's `atoll` reads it; 0 for none or
/// for a negative one (a sequence number is never below 1).
fn atoll(text: &str) -> u64 {
    let text = text.trim_start();
    let digits = text.strip_prefix('+').unwrap_or(text);
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().unwrap_or(0)
}

/// Whether a file name is written quoted in the manifest (`sdsneedsrepr`).
fn needs_repr(name: &str) -> bool {
    name.bytes()
        .any(|b| matches!(b, b'\\' | b'"') || !(0x21..=0x7e).contains(&b))
}

/// Whether commands are being logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AofState {
    Off,
    On,
    /// Turned on at run time: logging into a new incremental file while
    /// the first base is written.
    WaitRewrite,
}

/// Where a command goes, as `redis.set_repl`'s flags say.
pub const TO_AOF: u8 = 1;
pub const TO_REPLICAS: u8 = 2;
pub const TO_ALL: u8 = TO_AOF | TO_REPLICAS;

/// The AOF's run-time state and counters (`INFO persistence`).
pub struct Aof {
    pub state: AofState,
    /// Commands waiting to be written (Redis's `aof_buf`).
    pub buf: Vec<u8>,
    /// Commands of the running top-level call, written together (wrapped
    /// in MULTI/EXEC when a transaction produced several).
    pending: Vec<(usize, Argv)>,
    /// Where each pending command goes (`TO_AOF`, `TO_REPLICAS`), kept
    /// only once a script's `redis.set_repl` sent one to a single place:
    /// empty means everywhere.
    pending_targets: Vec<u8>,
    /// The database the log last SELECTed.
    selected_db: Option<usize>,
    file: Option<File>,
    pub manifest: Manifest,
    /// Bytes of the files in the manifest, and that size after the last
    /// rewrite (what `auto-aof-rewrite-percentage` grows from).
    pub current_size: u64,
    pub base_size: u64,
    pub last_write_ok: bool,
    pub last_write_error: String,
    pub last_rewrite_ok: bool,
    pub last_rewrite_seconds: i64,
    pub rewrites: u64,
    /// Rewrites that failed since the last that succeeded.
    pub rewrites_consecutive_failures: u64,
    pub rewrite_scheduled: bool,
    pub delayed_fsync: u64,
    postponed_since: Option<Instant>,
    last_fsync: Instant,
    fsync_busy: Arc<AtomicBool>,
    fsync_jobs: Option<Sender<File>>,
    /// Where the running rewrite's child writes the new base.
    pub rewrite_temp: Option<PathBuf>,
    /// The hold on automatic rewrites after repeated failures: its length
    /// and when it ends (unix seconds; 0 for none).
    limit_delay_minutes: i64,
    limited_until: i64,
    /// `aof-timestamp-enabled`: a `#TS:<unix time>` line goes before the
    /// first command of each new second (refreshed from the config before
    /// every flush).
    pub timestamps: bool,
    last_timestamp: i64,
    /// Writes and fsyncs that took a millisecond or more, for the latency
    /// monitor: (event, milliseconds). The loop drains it.
    pub slow_io: Vec<(&'static str, u64)>,
    /// DEBUG AOF-FLUSH-SLEEP: a pause before each write, for tests that
    /// need a reply and its write to fall in one loop round.
    pub flush_sleep: Duration,
}

impl Default for Aof {
    fn default() -> Self {
        Aof {
            state: AofState::Off,
            buf: Vec::new(),
            pending: Vec::new(),
            pending_targets: Vec::new(),
            selected_db: None,
            file: None,
            manifest: Manifest::default(),
            current_size: 0,
            base_size: 0,
            last_write_ok: true,
            last_write_error: String::new(),
            last_rewrite_ok: true,
            last_rewrite_seconds: -1,
            rewrites: 0,
            rewrites_consecutive_failures: 0,
            rewrite_scheduled: false,
            timestamps: false,
            last_timestamp: 0,
            slow_io: Vec::new(),
            flush_sleep: Duration::ZERO,
            delayed_fsync: 0,
            postponed_since: None,
            last_fsync: Instant::now(),
            fsync_busy: Arc::new(AtomicBool::new(false)),
            fsync_jobs: None,
            rewrite_temp: None,
            limit_delay_minutes: 0,
            limited_until: 0,
        }
    }
}

pub fn dir(config: &Config) -> PathBuf {
    PathBuf::from(&config.appenddirname)
}

fn manifest_path(config: &Config) -> PathBuf {
    dir(config).join(format!("{}.manifest", config.appendfilename))
}

fn incr_name(config: &Config, seq: u64) -> String {
    format!("{}.{seq}.incr.aof", config.appendfilename)
}

/// The file a rewrite that turns the AOF on logs into until its base is
/// done (`getTempIncrAofName`): no manifest names it.
fn temp_incr_name(config: &Config) -> String {
    format!("temp-{}.incr", config.appendfilename)
}

fn base_name(config: &Config, seq: u64) -> String {
    let ext = if config.aof_use_rdb_preamble {
        "rdb"
    } else {
        "aof"
    };
    format!("{}.{seq}.base.{ext}", config.appendfilename)
}

/// Whether an AOF from before the multi-part layout, `appendfilename`
/// alone in `dir`, is to be moved into `appenddirname`: when there is no
/// directory or manifest yet, or a move was cut short after the manifest
/// was written (`loadAppendOnlyFiles`).
pub fn old_style_pending(config: &Config, manifest: &Manifest) -> bool {
    let name = &config.appendfilename;
    if !Path::new(name).is_file() {
        return false;
    }
    let empty = manifest.base.is_none() && manifest.incrs.is_empty();
    let moving = manifest.incrs.is_empty()
        && manifest
            .base
            .as_ref()
            .is_some_and(|base| &base.name == name)
        && !dir(config).join(name).exists();
    !dir(config).is_dir() || empty || moving
}

/// Moves an old-style AOF into the directory as its base, manifest first
/// (`aofUpgradePrepare`).
pub fn upgrade_old_style(config: &Config, manifest: &mut Manifest) -> Result<(), String> {
    let dir = dir(config);
    let name = &config.appendfilename;
    fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {}",
            dir.display(),
            crate::errors::os_error_text(&e)
        )
    })?;
    manifest.base = Some(AofFile {
        name: name.clone(),
        seq: 1,
    });
    manifest.base_seq = 1;
    write_manifest(config, manifest).map_err(|e| {
        format!(
            "Can't persist the AOF manifest: {}",
            crate::errors::os_error_text(&e)
        )
    })?;
    fs::rename(name, dir.join(name)).map_err(|e| {
        format!(
            "Error trying to move the old AOF file {name} into dir {}: {}",
            dir.display(),
            crate::errors::os_error_text(&e)
        )
    })?;
    info!(
        "Successfully migrated an old-style AOF file ({name}) into the AOF directory ({}).",
        dir.display()
    );
    Ok(())
}

/// Reads the manifest; `Ok(None)` if there is none yet.
pub fn read_manifest(config: &Config) -> Result<Option<Manifest>, String> {
    match fs::read(manifest_path(config)) {
        Ok(bytes) => Manifest::parse(&String::from_utf8_lossy(&bytes))
            .map(Some)
            .map_err(|e| {
                warn!("\n*** FATAL AOF MANIFEST FILE ERROR ***\n");
                if let Some((number, line)) = &e.line {
                    warn!("Reading the manifest file, at line {number}\n");
                    warn!(">>> '{line}'\n");
                }
                // Redis's own line ends with a newline too.
                format!("{}\n", e.message)
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!(
            "Can't open the AOF manifest file: {}",
            crate::errors::os_error_text(&e)
        )),
    }
}

/// Writes the manifest through a temp file and a rename, so a crash
/// leaves the old or the new one, never half of one.
fn write_manifest(config: &Config, manifest: &Manifest) -> io::Result<()> {
    let dir = dir(config);
    let temp = dir.join(format!("temp-{}.manifest", config.appendfilename));
    let mut file = File::create(&temp)?;
    file.write_all(manifest.to_text().as_bytes())?;
    file.sync_all()?;
    fs::rename(&temp, manifest_path(config))?;
    crate::persist::sync_dir(&dir);
    Ok(())
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// A new file to log into, emptied if a failed attempt left one.
fn create_empty(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(path)
}

impl Aof {
    /// Whether commands are being logged right now (the hot path's test).
    pub fn logging(&self) -> bool {
        self.state != AofState::Off
    }

    /// The running call's commands so far, run in which database.
    pub fn pending(&self) -> &[(usize, Argv)] {
        &self.pending
    }

    /// Queues a command of the running call, run in database `db`.
    pub fn log(&mut self, db: usize, argv: Argv) {
        self.log_to(db, argv, TO_ALL);
    }

    /// Queues a command for the AOF, the replicas or both (`targets`).
    pub fn log_to(&mut self, db: usize, argv: Argv, targets: u8) {
        if targets != TO_ALL && self.pending_targets.is_empty() {
            self.pending_targets.resize(self.pending.len(), TO_ALL);
        }
        if !self.pending_targets.is_empty() {
            self.pending_targets.push(targets);
        }
        self.pending.push((db, argv));
    }

    /// The pending commands meant for the replicas, when some are not
    /// (None: all are, as with PUBLISH, which needs no copy).
    pub fn pending_for_replicas(&self) -> Option<Vec<(usize, Argv)>> {
        let targets = &self.pending_targets;
        if targets.iter().all(|&to| to & TO_REPLICAS != 0) {
            return None;
        }
        let targets = self.pending_targets.iter();
        let kept = self.pending.iter().zip(targets);
        Some(
            kept.filter(|(_, &to)| to & TO_REPLICAS != 0)
                .map(|(command, _)| command.clone())
                .collect(),
        )
    }

    /// Moves the running call's commands into the buffer; several are
    /// wrapped in MULTI/EXEC, when `wrap` allows, so replay is atomic.
    pub fn end_call(&mut self, wrap: bool) {
        if self.pending.is_empty() {
            return;
        }
        let mut targets = std::mem::take(&mut self.pending_targets).into_iter();
        if !self.logging() {
            // Queued for the replication stream only.
            self.pending.clear();
            return;
        }
        if targets.len() != 0 {
            self.pending
                .retain(|_| targets.next().is_some_and(|to| to & TO_AOF != 0));
            if self.pending.is_empty() {
                return;
            }
        }
        if self.timestamps {
            let now = crate::state::unix_millis() / 1000;
            if now > self.last_timestamp {
                self.buf
                    .extend_from_slice(format!("#TS:{now}\r\n").as_bytes());
                self.last_timestamp = now;
            }
        }
        // `wrap` counts every command of the call, as Redis wraps them
        // for both destinations.
        encode_call(&mut self.buf, &self.pending, wrap, &mut self.selected_db);
        self.pending.clear();
    }

    /// Writes the buffer and fsyncs as `appendfsync` says (Redis's
    /// `flushAppendOnlyFile`, called before replies are written). Returns
    /// false when a write failed under `appendfsync always`, which Redis
    /// cannot recover from.
    /// `skip_fsync`: `no-appendfsync-on-rewrite` while a child writes,
    /// so the log's fsyncs do not queue behind the child's writes.
    pub fn flush(&mut self, policy: AppendFsync, skip_fsync: bool) -> bool {
        if self.buf.is_empty() {
            if policy == AppendFsync::EverySec && !skip_fsync && self.needs_fsync() {
                self.background_fsync();
            }
            return true;
        }
        let Some(file) = self.file.as_mut() else {
            self.buf.clear();
            return true;
        };
        if policy == AppendFsync::EverySec && self.fsync_busy.load(Ordering::Acquire) {
            let since = *self.postponed_since.get_or_insert_with(Instant::now);
            if since.elapsed() < MAX_POSTPONE {
                return true;
            }
            self.delayed_fsync += 1;
            info!("Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis.");
        }
        self.postponed_since = None;
        if !self.flush_sleep.is_zero() {
            std::thread::sleep(self.flush_sleep);
        }
        let write_started = Instant::now();
        let written = file.write_all(&self.buf);
        let write_ms = write_started.elapsed().as_millis() as u64;
        if write_ms > 0 {
            self.slow_io.push(("aof-write", write_ms));
        }
        match written {
            Ok(()) => {
                self.current_size += self.buf.len() as u64;
                self.buf.clear();
                if !self.last_write_ok {
                    warn!("AOF write error looks solved, Redis can write again.");
                }
                self.last_write_ok = true;
            }
            Err(e) => {
                let text = crate::errors::os_error_text(&e);
                warn!("Error writing to the AOF file: {text}");
                self.last_write_ok = false;
                self.last_write_error = text;
                // The file may hold part of the buffer: cut it back to the
                // last whole command, as Redis does, and retry next time.
                let _ = file.set_len(self.current_size);
                return policy != AppendFsync::Always;
            }
        }
        if skip_fsync {
            return true;
        }
        match policy {
            AppendFsync::Always => {
                let sync_started = Instant::now();
                let synced = file.sync_data();
                let sync_ms = sync_started.elapsed().as_millis() as u64;
                if sync_ms > 0 {
                    self.slow_io.push(("aof-fsync-always", sync_ms));
                }
                if let Err(e) = synced {
                    warn!(
                        "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {}. Exiting...",
                        crate::errors::os_error_text(&e)
                    );
                    return false;
                }
                self.last_fsync = Instant::now();
            }
            AppendFsync::EverySec if self.needs_fsync() => self.background_fsync(),
            _ => {}
        }
        true
    }

    fn needs_fsync(&self) -> bool {
        self.file.is_some() && self.last_fsync.elapsed() >= Duration::from_secs(1)
    }

    /// Hands an fsync of the current file to the fsync thread.
    fn background_fsync(&mut self) {
        if self.fsync_busy.load(Ordering::Acquire) {
            return;
        }
        let (Some(file), Some(jobs)) = (&self.file, &self.fsync_jobs) else {
            return;
        };
        if let Ok(copy) = file.try_clone() {
            self.fsync_busy.store(true, Ordering::Release);
            if jobs.send(copy).is_err() {
                self.fsync_busy.store(false, Ordering::Release);
            }
        }
        self.last_fsync = Instant::now();
    }

    /// Starts the fsync thread: it owns nothing of the keyspace, only file
    /// handles it is sent, and says when it is idle again.
    fn start_fsync_thread(&mut self) {
        if self.fsync_jobs.is_some() {
            return;
        }
        let (jobs, queue) = mpsc::channel::<File>();
        let busy = Arc::clone(&self.fsync_busy);
        let spawned = std::thread::Builder::new()
            .name("aof-fsync".into())
            .spawn(move || {
                for file in queue {
                    let _ = file.sync_data();
                    busy.store(false, Ordering::Release);
                }
            });
        if spawned.is_ok() {
            self.fsync_jobs = Some(jobs);
        }
    }

    /// Opens the newest incremental file for appending, creating the
    /// directory and the manifest when there are none, and a first base
    /// of the dataset when the manifest names no file at all
    /// (`aofOpenIfNeededOnServerStart`). `write_base` writes a base file.
    pub fn open(
        &mut self,
        config: &Config,
        write_base: &mut dyn FnMut(&Path) -> io::Result<()>,
    ) -> io::Result<()> {
        fs::create_dir_all(dir(config))?;
        let as_read = self.manifest.clone();
        let opening = !self.manifest.incrs.is_empty();
        if self.manifest.base.is_none() && !opening {
            let mut manifest = self.manifest.clone();
            let base = manifest.new_base(config);
            write_base(&dir(config).join(&base.name))?;
            info!("Creating AOF base file {} on server start", base.name);
            self.manifest = manifest;
        }
        if !opening {
            self.manifest.new_incr(config);
        }
        let Some(last) = self.manifest.incrs.last() else {
            return Ok(());
        };
        if opening {
            info!("Opening AOF incr file {} on server start", last.name);
        } else {
            info!("Creating AOF incr file {} on server start", last.name);
        }
        let file = open_append(&dir(config).join(&last.name))?;
        // A manifest that names the same files is left as it is written.
        if self.manifest != as_read {
            write_manifest(config, &self.manifest)?;
        }
        self.file = Some(file);
        self.current_size = self.files_size(config);
        self.base_size = self.current_size;
        self.selected_db = None;
        self.start_fsync_thread();
        self.state = AofState::On;
        Ok(())
    }

    /// Deletes the files a rewrite replaced and drops them from the
    /// manifest (Redis's `aofDelHistoryFiles`). With `aof-disable-auto-gc`
    /// they stay, named as history in the manifest.
    pub fn delete_history(&mut self, config: &Config) {
        if self.manifest.history.is_empty() || config.aof_disable_auto_gc {
            return;
        }
        let dir = dir(config);
        for old in std::mem::take(&mut self.manifest.history) {
            // Numbering starts again after DEBUG LOADAOF of a manifest
            // with no incremental file, so a history name can be live.
            let mut live = self.manifest.base.iter().chain(&self.manifest.incrs);
            if live.any(|f| f.name == old.name) {
                continue;
            }
            let _ = fs::remove_file(dir.join(&old.name));
            info!("Removing the history file {} in the background", old.name);
        }
        let _ = write_manifest(config, &self.manifest);
    }

    fn files_size(&self, config: &Config) -> u64 {
        let dir = dir(config);
        self.manifest
            .base
            .iter()
            .chain(&self.manifest.incrs)
            .filter_map(|f| fs::metadata(dir.join(&f.name)).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Flushes, fsyncs and closes the log (`stopAppendOnly`, shutdown).
    pub fn close(&mut self) {
        self.flush(AppendFsync::Always, false);
        if let Some(file) = self.file.take() {
            let _ = file.sync_all();
        }
        self.state = AofState::Off;
        self.rewrite_scheduled = false;
        self.rewrite_temp = None;
    }

    /// Before a rewrite forks (`rewriteAppendOnlyFileBackground`): with
    /// the AOF on, logging switches to a new incremental file, so the
    /// child's base plus it are the whole dataset; while a rewrite turns
    /// the AOF on, to a temp file no manifest names yet; with the AOF off,
    /// nothing is logged. Returns where the child writes the new base.
    pub fn prepare_rewrite(&mut self, config: &Config) -> io::Result<PathBuf> {
        let dir = dir(config);
        fs::create_dir_all(&dir)?;
        self.end_call(false);
        self.flush(AppendFsync::Always, false);
        self.selected_db = None;
        let name = match self.state {
            AofState::Off => None,
            AofState::WaitRewrite => {
                let name = temp_incr_name(config);
                self.switch_file(create_empty(&dir.join(&name))?);
                Some(name)
            }
            AofState::On => {
                let mut manifest = self.manifest.clone();
                let incr = manifest.new_incr(config);
                let file = create_empty(&dir.join(&incr.name))?;
                write_manifest(config, &manifest)?;
                self.switch_file(file);
                self.manifest = manifest;
                Some(incr.name)
            }
        };
        if let Some(name) = name {
            info!("Creating AOF incr file {name} on background rewrite");
        }
        let temp = dir.join(format!(
            "temp-rewriteaof-bg-{}.aof",
            self.manifest.base_seq + 1
        ));
        self.rewrite_temp = Some(temp.clone());
        Ok(temp)
    }

    /// Logs into `file` from now on; the old one is fsynced and closed.
    fn switch_file(&mut self, file: File) {
        if let Some(old) = self.file.replace(file) {
            let _ = old.sync_all();
        }
    }

    /// The child finished (`backgroundRewriteDoneHandler`): on success
    /// the new base replaces the old one and the incremental files it
    /// holds. A rewrite that was to turn the AOF on and failed drops what
    /// it logged and is tried again.
    pub fn rewrite_done(&mut self, config: &Config, outcome: &crate::persist::ChildOutcome) {
        self.last_rewrite_seconds = outcome.seconds;
        let Some(temp) = self.rewrite_temp.take() else {
            return;
        };
        let installed = match outcome.signal {
            _ if outcome.ok => {
                info!("Background AOF rewrite terminated with success");
                self.install_rewritten(config, &temp)
            }
            None => {
                warn!("Background AOF rewrite terminated with error");
                Err(true)
            }
            Some(signal) => {
                warn!("Background AOF rewrite terminated by signal {signal}");
                // SIGUSR1 is how a rewrite is stopped on purpose.
                Err(signal != libc::SIGUSR1)
            }
        };
        match installed {
            Ok(()) => {
                self.delete_history(config);
                self.current_size = self.files_size(config);
                self.base_size = self.current_size;
                self.last_rewrite_ok = true;
                self.rewrites += 1;
                self.rewrites_consecutive_failures = 0;
                info!("Background AOF rewrite finished successfully");
                if self.state == AofState::WaitRewrite {
                    self.state = AofState::On;
                }
            }
            Err(failed) => {
                if failed {
                    self.last_rewrite_ok = false;
                    self.rewrites_consecutive_failures += 1;
                }
            }
        }
        let _ = fs::remove_file(&temp);
        if self.state == AofState::WaitRewrite {
            self.buf.clear();
            self.file = None;
            let name = temp_incr_name(config);
            info!("Removing the temp incr aof file {name} in the background");
            let _ = fs::remove_file(dir(config).join(name));
            self.rewrite_scheduled = true;
        }
    }

    /// Renames the child's base, and the temp incremental file of a
    /// rewrite that turns the AOF on, to their names in a new manifest,
    /// and writes it. On any failure the files named so far are removed
    /// and the old manifest stays.
    fn install_rewritten(&mut self, config: &Config, temp: &Path) -> Result<(), bool> {
        let dir = dir(config);
        let mut manifest = self.manifest.clone();
        let base = manifest.new_base(config);
        let base_path = dir.join(&base.name);
        if let Err(e) = fs::rename(temp, &base_path) {
            warn!(
                "Error trying to rename the temporary AOF base file {} into {}: {}",
                temp.display(),
                base.name,
                crate::errors::os_error_text(&e)
            );
            return Err(true);
        }
        info!(
            "Successfully renamed the temporary AOF base file {} into {}",
            temp.file_name().unwrap_or_default().to_string_lossy(),
            base.name
        );
        let mut incr_path = None;
        if self.state == AofState::WaitRewrite {
            let temp_incr = temp_incr_name(config);
            let incr = manifest.new_incr(config);
            let path = dir.join(&incr.name);
            if let Err(e) = fs::rename(dir.join(&temp_incr), &path) {
                warn!(
                    "Error trying to rename the temporary AOF incr file {temp_incr} into {}: {}",
                    incr.name,
                    crate::errors::os_error_text(&e)
                );
                let _ = fs::remove_file(&base_path);
                return Err(true);
            }
            info!(
                "Successfully renamed the temporary AOF incr file {temp_incr} into {}",
                incr.name
            );
            incr_path = Some(path);
        }
        manifest.retire_rewritten_incrs(self.file.is_some());
        if let Err(e) = write_manifest(config, &manifest) {
            warn!(
                "Can't persist the AOF manifest: {}",
                crate::errors::os_error_text(&e)
            );
            let _ = fs::remove_file(&base_path);
            if let Some(path) = incr_path {
                let _ = fs::remove_file(path);
            }
            return Err(true);
        }
        self.manifest = manifest;
        Ok(())
    }

    /// Whether rewrites that keep failing hold the next automatic one
    /// back (`aofRewriteLimited`): after three failures in a row, by one
    /// minute, then 2, 4 ... up to an hour. BGREWRITEAOF is not held.
    pub fn rewrite_limited(&mut self, now_unix: i64) -> bool {
        if self.rewrites_consecutive_failures < REWRITE_LIMIT_THRESHOLD {
            self.limit_delay_minutes = 0;
            self.limited_until = 0;
            return false;
        }
        if self.limited_until != 0 {
            if now_unix < self.limited_until {
                return true;
            }
            self.limited_until = 0;
            return false;
        }
        self.limit_delay_minutes =
            (self.limit_delay_minutes * 2).clamp(1, REWRITE_LIMIT_MAX_MINUTES);
        self.limited_until = now_unix + self.limit_delay_minutes * 60;
        warn!(
            "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {} minutes",
            self.limit_delay_minutes
        );
        true
    }

    /// How much the AOF grew since the last rewrite, in percent, when
    /// `auto-aof-rewrite-percentage` asks for a rewrite now.
    pub fn growth(&self, config: &Config) -> Option<u64> {
        if config.auto_aof_rewrite_percentage <= 0
            || self.current_size <= config.auto_aof_rewrite_min_size
        {
            return None;
        }
        let base = self.base_size.max(1);
        let growth = (self.current_size * 100 / base).saturating_sub(100);
        (growth >= config.auto_aof_rewrite_percentage as u64).then_some(growth)
    }
}

/// Writes a base file of commands (without RDB preamble): each function
/// library as its FUNCTION LOAD, then every key as the command that
/// recreates it, then its expiry (`rewriteAppendOnlyFileRio`), pausing
/// `key_delay_us` (`rdb-key-save-delay`) after each key.
pub fn write_command_base(
    out: &mut impl Write,
    dbs: &[crate::db::Db],
    libraries: &[&[u8]],
    key_delay_us: i64,
) -> io::Result<()> {
    use crate::db::hash::HashValue;
    use crate::db::Value;
    let mut buf = Vec::with_capacity(64 * 1024);
    for code in libraries {
        encode_command(
            &mut buf,
            &[b"FUNCTION".to_vec(), b"LOAD".to_vec(), code.to_vec()],
        );
    }
    for (index, db) in dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        encode_command(&mut buf, &[b"SELECT".to_vec(), index.to_string().into()]);
        for (key, value) in db.iter() {
            let key = key.to_vec();
            let mut argv: Argv = Vec::new();
            match value {
                Value::List(list) => {
                    argv.push(b"RPUSH".to_vec());
                    argv.push(key.clone());
                    argv.extend(list.iter().map(|e| e.to_vec()));
                }
                Value::Hash(hash) => {
                    argv.push(b"HSET".to_vec());
                    argv.push(key.clone());
                    let pairs: &HashValue = hash;
                    for (f, v) in pairs.iter() {
                        argv.push(f.to_vec());
                        argv.push(v.to_vec());
                    }
                }
                Value::Set(set) => {
                    argv.push(b"SADD".to_vec());
                    argv.push(key.clone());
                    argv.extend(set.members());
                }
                Value::ZSet(zset) => {
                    argv.push(b"ZADD".to_vec());
                    argv.push(key.clone());
                    for (member, score) in zset.range(0, zset.len().saturating_sub(1)) {
                        argv.push(crate::float::format_double(score).into_bytes());
                        argv.push(member.to_vec());
                    }
                }
                Value::Stream(stream) => {
                    // `rewriteStreamObject`: the last command is written
                    // below, with the expiry.
                    let mut cmds = stream_commands(&key, stream);
                    argv = cmds.pop().unwrap_or_default();
                    for command in &cmds {
                        encode_command(&mut buf, command);
                    }
                }
                other => {
                    argv.push(b"SET".to_vec());
                    argv.push(key.clone());
                    argv.push(other.as_str().unwrap_or_default().to_vec());
                }
            }
            encode_command(&mut buf, &argv);
            if let Some(when) = db.expire_of(&key) {
                encode_command(
                    &mut buf,
                    &[b"PEXPIREAT".to_vec(), key, when.to_string().into()],
                );
            }
            if buf.len() >= 64 * 1024 {
                out.write_all(&buf)?;
                buf.clear();
            }
            crate::child_info::key_written();
            if key_delay_us != 0 {
                out.write_all(&buf)?;
                buf.clear();
                crate::rdb::debug_delay(key_delay_us);
            }
        }
    }
    out.write_all(&buf)
}

/// A stream as commands (`rewriteStreamObject`): each entry as an XADD
/// (an empty stream as an XADD trimmed to nothing), an XSETID for the IDs
/// it remembers, then each group created at its position, each pending
/// entry claimed by its consumer, and consumers with none created empty.
fn stream_commands(key: &[u8], stream: &crate::db::stream::Stream) -> Vec<Argv> {
    use crate::db::stream::StreamId;
    let word = |w: &str| w.as_bytes().to_vec();
    let text = |n: &dyn std::fmt::Display| n.to_string().into_bytes();
    let mut cmds: Vec<Argv> = Vec::new();
    let entries = stream.range(StreamId::MIN, StreamId::MAX, 0, false);
    if entries.is_empty() {
        cmds.push(vec![
            word("XADD"),
            key.to_vec(),
            word("MAXLEN"),
            word("0"),
            word("0-1"),
            word("x"),
            word("y"),
        ]);
    }
    for entry in entries {
        let mut xadd = vec![word("XADD"), key.to_vec(), text(&entry.id)];
        xadd.extend(entry.fields.iter().map(|f| f.to_vec()));
        cmds.push(xadd);
    }
    cmds.push(vec![
        word("XSETID"),
        key.to_vec(),
        text(&stream.last_id),
        word("ENTRIESADDED"),
        text(&stream.entries_added),
        word("MAXDELETEDID"),
        text(&stream.max_deleted_id),
    ]);
    for (name, group) in &stream.groups {
        let read = group.entries_read.map_or(-1, |n| n as i64);
        cmds.push(vec![
            word("XGROUP"),
            word("CREATE"),
            key.to_vec(),
            name.clone(),
            text(&group.last_id),
            word("ENTRIESREAD"),
            text(&read),
        ]);
        for (consumer_name, consumer) in &group.consumers {
            if consumer.pending.is_empty() {
                cmds.push(vec![
                    word("XGROUP"),
                    word("CREATECONSUMER"),
                    key.to_vec(),
                    name.clone(),
                    consumer_name.clone(),
                ]);
                continue;
            }
            for id in consumer.pending.keys() {
                let Some(pending) = group.pending.get(id) else {
                    continue;
                };
                cmds.push(vec![
                    word("XCLAIM"),
                    key.to_vec(),
                    name.clone(),
                    consumer_name.clone(),
                    word("0"),
                    text(id),
                    word("TIME"),
                    text(&pending.delivered_ms),
                    word("RETRYCOUNT"),
                    text(&pending.deliveries),
                    word("JUSTID"),
                    word("FORCE"),
                ]);
            }
        }
    }
    cmds
}

/// Writes a base file at `path`: an RDB preamble, or commands when
/// `aof-use-rdb-preamble` is off. Flushed and fsynced before returning.
pub fn write_base_file(
    path: &Path,
    dbs: &[crate::db::Db],
    libraries: &[&[u8]],
    config: &Config,
) -> io::Result<()> {
    if config.aof_use_rdb_preamble {
        return crate::persist::write_snapshot_file(path, dbs, libraries, config, true);
    }
    let mut out = io::BufWriter::new(File::create(path)?);
    if config.aof_timestamp_enabled {
        let now = crate::state::unix_millis() / 1000;
        out.write_all(format!("#TS:{now}\r\n").as_bytes())?;
    }
    write_command_base(&mut out, dbs, libraries, config.rdb_key_save_delay)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

/// `BGREWRITEAOF`, an automatic rewrite, or turning the AOF on: switch to
/// a new incremental file and fork a child that writes the new base.
pub fn start_rewrite(state: &mut crate::state::ServerState) -> io::Result<()> {
    let temp = match state.aof.prepare_rewrite(&state.config) {
        Ok(temp) => temp,
        Err(e) => {
            // No new incremental file (a full disk): the rewrite failed.
            warn!(
                "Can't open new incr AOF for the rewrite: {}",
                crate::errors::os_error_text(&e)
            );
            state.aof.last_rewrite_ok = false;
            return Err(e);
        }
    };
    let (dbs, config) = (&state.dbs, &state.config);
    let libraries = state.functions.codes();
    let result = crate::persist::fork_child(
        &mut state.persist,
        crate::persist::ChildKind::Aof,
        &state.listener_fds,
        crate::persist::total_keys(dbs),
        || {
            crate::proctitle::set_child("redis-aof-rewrite");
            crate::persist::pin_to_cpus(&config.aof_rewrite_cpulist);
            write_base_file(&temp, dbs, &libraries, config)
        },
    );
    match &result {
        Ok(()) => {
            state.aof.rewrite_scheduled = false;
            if let Some(child) = &state.persist.child {
                info!(
                    "Background append only file rewriting started by pid {}",
                    child.pid
                );
            }
        }
        Err(e) => {
            warn!(
                "Can't rewrite append only file in background: fork: {}",
                crate::errors::os_error_text(e)
            );
            state.aof.rewrite_temp = None;
            state.aof.last_rewrite_ok = false;
        }
    }
    result
}

/// One command read from an AOF.
pub enum Read {
    Command(Argv, usize),
    /// The bytes end inside a command.
    Incomplete,
    Corrupt,
}

/// Reads the next command at the start of `bytes`: a RESP multibulk, or a
/// `#` annotation line (timestamps), skipped as an empty command.
pub fn read_command(bytes: &[u8]) -> Read {
    fn line(bytes: &[u8], at: usize) -> Option<(&[u8], usize)> {
        let end = memchr::memmem::find(bytes.get(at..)?, b"\r\n")? + at;
        Some((&bytes[at..end], end + 2))
    }
    fn number(text: &[u8]) -> Option<usize> {
        std::str::from_utf8(text).ok()?.parse().ok()
    }
    match bytes.first() {
        None => return Read::Incomplete,
        Some(b'#') => {
            return match memchr::memchr(b'\n', bytes) {
                Some(end) => Read::Command(Vec::new(), end + 1),
                None => Read::Incomplete,
            }
        }
        Some(b'*') => {}
        Some(_) => return Read::Corrupt,
    }
    let Some((head, mut at)) = line(bytes, 0) else {
        return Read::Incomplete;
    };
    let Some(count) = number(&head[1..]).filter(|&n| n >= 1) else {
        return Read::Corrupt;
    };
    let mut argv = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let Some((header, next)) = line(bytes, at) else {
            return Read::Incomplete;
        };
        let Some(len) = header.strip_prefix(b"$").and_then(number) else {
            return Read::Corrupt;
        };
        let Some(body) = bytes.get(next..next.saturating_add(len).saturating_add(2)) else {
            return Read::Incomplete;
        };
        if &body[len..] != b"\r\n" {
            return Read::Corrupt;
        }
        argv.push(body[..len].to_vec());
        at = next + len + 2;
    }
    Read::Command(argv, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_and_rejects_garbage() {
        let text = "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.3.incr.aof seq 3 type i\nfile appendonly.aof.4.incr.aof seq 4 type i\n";
        let manifest = Manifest::parse(text).unwrap();
        assert_eq!(manifest.incrs.len(), 2);
        assert_eq!(manifest.to_text(), text);
        for bad in [
            "",
            "garbage here now",
            "file a seq x type i\n",
            "file a seq 1 type z\n",
            "file ../a seq 1 type i\n",
            "file a seq 2 type i\nfile b seq 1 type i\n",
        ] {
            assert!(Manifest::parse(bad).is_err(), "{bad:?}");
        }
    }
}
