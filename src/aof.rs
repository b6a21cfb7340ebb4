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
}

impl Manifest {
    /// Parses `file <name> seq <n> type <b|i|h>` lines (`aofLoadManifestFromFile`).
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut manifest = Manifest::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            if !words.len().is_multiple_of(2) {
                return Err("Invalid AOF manifest file format".into());
            }
            let (mut name, mut seq, mut kind) = (None, None, None);
            for pair in words.chunks(2) {
                match pair[0] {
                    "file" => name = Some(pair[1].to_string()),
                    "seq" => seq = pair[1].parse::<u64>().ok(),
                    "type" => kind = pair[1].chars().next(),
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err("Invalid AOF manifest file format".into());
            };
            if name.contains('/') {
                return Err("Invalid AOF manifest file format".into());
            }
            let file = AofFile { name, seq };
            match kind {
                'b' if manifest.base.is_none() => manifest.base = Some(file),
                'b' => return Err("Found duplicate base file information".into()),
                'i' => {
                    if manifest
                        .incrs
                        .last()
                        .is_some_and(|last| last.seq >= file.seq)
                    {
                        return Err("Found a non-monotonic sequence number".into());
                    }
                    manifest.incrs.push(file)
                }
                'h' => manifest.history.push(file),
                _ => return Err("Unknown AOF file type".into()),
            }
        }
        if manifest.base.is_none() && manifest.incrs.is_empty() {
            return Err("Found an empty AOF manifest".into());
        }
        Ok(manifest)
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut line = |f: &AofFile, kind: char| {
            out.push_str(&format!("file {} seq {} type {kind}\n", f.name, f.seq));
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
    /// The incremental file the parent switched to when the running
    /// rewrite forked, and the base the child writes.
    pub rewrite_target: Option<(AofFile, AofFile)>,
    /// `aof-timestamp-enabled`: a `#TS:<unix time>` line goes before the
    /// first command of each new second (refreshed from the config before
    /// every flush).
    pub timestamps: bool,
    last_timestamp: i64,
    /// Writes and fsyncs that took a millisecond or more, for the latency
    /// monitor: (event, milliseconds). The loop drains it.
    pub slow_io: Vec<(&'static str, u64)>,
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
            delayed_fsync: 0,
            postponed_since: None,
            last_fsync: Instant::now(),
            fsync_busy: Arc::new(AtomicBool::new(false)),
            fsync_jobs: None,
            rewrite_target: None,
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

fn base_name(config: &Config, seq: u64) -> String {
    let ext = if config.aof_use_rdb_preamble {
        "rdb"
    } else {
        "aof"
    };
    format!("{}.{seq}.base.{ext}", config.appendfilename)
}

/// Reads the manifest; `Ok(None)` if there is none yet.
pub fn read_manifest(config: &Config) -> Result<Option<Manifest>, String> {
    match fs::read_to_string(manifest_path(config)) {
        Ok(text) => Manifest::parse(&text).map(Some),
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
    /// directory, a first base and the manifest when there are none
    /// (`aofOpenIfNeededOnServerStart`). `write_base` writes a base file.
    pub fn open(
        &mut self,
        config: &Config,
        write_base: &mut dyn FnMut(&Path) -> io::Result<()>,
    ) -> io::Result<()> {
        fs::create_dir_all(dir(config))?;
        if self.manifest.base.is_none() {
            let base = AofFile {
                name: base_name(config, 1),
                seq: 1,
            };
            write_base(&dir(config).join(&base.name))?;
            info!("Creating AOF base file {} on server start", base.name);
            self.manifest.base = Some(base);
        }
        if self.manifest.incrs.is_empty() {
            let seq = 1;
            let incr = AofFile {
                name: incr_name(config, seq),
                seq,
            };
            info!("Creating AOF incr file {} on server start", incr.name);
            self.manifest.incrs.push(incr);
        }
        let Some(last) = self.manifest.incrs.last() else {
            return Ok(());
        };
        let file = open_append(&dir(config).join(&last.name))?;
        write_manifest(config, &self.manifest)?;
        self.file = Some(file);
        self.current_size = self.files_size(config);
        self.base_size = self.current_size;
        self.selected_db = None;
        self.start_fsync_thread();
        self.state = AofState::On;
        Ok(())
    }

    /// Deletes the files a rewrite replaced and drops them from the
    /// manifest (Redis's `aofDelHistoryFiles`).
    pub fn delete_history(&mut self, config: &Config) {
        if self.manifest.history.is_empty() {
            return;
        }
        let dir = dir(config);
        for old in std::mem::take(&mut self.manifest.history) {
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
        self.rewrite_target = None;
    }

    /// Before a rewrite forks: switch logging to a new incremental file,
    /// so the child's base plus this file are the whole dataset
    /// (`rewriteAppendOnlyFileBackground`). Returns the new base's path.
    pub fn prepare_rewrite(&mut self, config: &Config) -> io::Result<PathBuf> {
        fs::create_dir_all(dir(config))?;
        self.end_call(false);
        self.flush(AppendFsync::Always, false);
        let next_incr = self.manifest.incrs.last().map_or(1, |f| f.seq + 1);
        let incr = AofFile {
            name: incr_name(config, next_incr),
            seq: next_incr,
        };
        let next_base = self.manifest.base.as_ref().map_or(1, |f| f.seq + 1);
        let base = AofFile {
            name: base_name(config, next_base),
            seq: next_base,
        };
        let file = open_append(&dir(config).join(&incr.name))?;
        if let Some(old) = self.file.replace(file) {
            let _ = old.sync_all();
        }
        info!("Creating AOF incr file {} on background rewrite", incr.name);
        // Until the rewrite is done the manifest also lists the new
        // incremental file, so a crash now loses nothing.
        self.manifest.incrs.push(incr.clone());
        write_manifest(config, &self.manifest)?;
        self.selected_db = None;
        self.rewrite_target = Some((base.clone(), incr));
        Ok(dir(config).join(format!("temp-rewriteaof-bg-{}.aof", base.seq)))
    }

    /// The child finished: on success the new base replaces the old base
    /// and every incremental file before the new one
    /// (`backgroundRewriteDoneHandler`).
    pub fn rewrite_done(&mut self, config: &Config, ok: bool, seconds: i64, temp: &Path) {
        self.last_rewrite_seconds = seconds;
        let Some((base, incr)) = self.rewrite_target.take() else {
            return;
        };
        if !ok {
            warn!("Background AOF rewrite terminated with error");
            self.last_rewrite_ok = false;
            self.rewrites_consecutive_failures += 1;
            let _ = fs::remove_file(temp);
            return;
        }
        let dir = dir(config);
        let switched = (|| -> io::Result<()> {
            fs::rename(temp, dir.join(&base.name))?;
            let mut manifest = self.manifest.clone();
            let old_base = manifest.base.replace(base.clone());
            let keep = manifest.incrs.iter().position(|f| *f == incr).unwrap_or(0);
            let old_incrs: Vec<AofFile> = manifest.incrs.drain(..keep).collect();
            manifest
                .history
                .extend(old_base.into_iter().chain(old_incrs));
            write_manifest(config, &manifest)?;
            self.manifest = manifest;
            Ok(())
        })();
        match switched {
            Ok(()) => {
                // With `aof-disable-auto-gc` the replaced files stay, named
                // as history in the manifest.
                if !config.aof_disable_auto_gc {
                    self.delete_history(config);
                }
                self.current_size = self.files_size(config);
                self.base_size = self.current_size;
                self.last_rewrite_ok = true;
                self.rewrites += 1;
                self.rewrites_consecutive_failures = 0;
                if self.state == AofState::WaitRewrite {
                    self.state = AofState::On;
                }
                info!("Background AOF rewrite terminated with success");
                info!("Background AOF rewrite finished successfully");
            }
            Err(e) => {
                warn!(
                    "Error trying to rename the temporary AOF base file: {}",
                    crate::errors::os_error_text(&e)
                );
                self.last_rewrite_ok = false;
                self.rewrites_consecutive_failures += 1;
            }
        }
    }

    /// Whether `auto-aof-rewrite-percentage` asks for a rewrite now.
    pub fn growth_due(&self, config: &Config) -> bool {
        let base = self.base_size.max(1);
        config.auto_aof_rewrite_percentage > 0
            && self.current_size > config.auto_aof_rewrite_min_size
            && (self.current_size - base.min(self.current_size)) * 100 / base
                >= config.auto_aof_rewrite_percentage as u64
    }
}

/// Writes a base file of commands (without RDB preamble): each function
/// library as its FUNCTION LOAD, then every key as the command that
/// recreates it, then its expiry (`rewriteAppendOnlyFileRio`).
pub fn write_command_base(
    out: &mut impl Write,
    dbs: &[crate::db::Db],
    libraries: &[&[u8]],
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
    write_command_base(&mut out, dbs, libraries)?;
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
        || {
            crate::proctitle::set_child("redis-aof-rewrite");
            crate::persist::pin_to_cpus(&config.aof_rewrite_cpulist);
            write_base_file(&temp, dbs, &libraries, config)
        },
    );
    match &result {
        Ok(()) => {
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
            state.aof.rewrite_target = None;
            state.aof.last_rewrite_ok = false;
        }
    }
    result
}

/// The temp file a running rewrite writes its base into.
pub fn rewrite_temp_path(config: &Config, aof: &Aof) -> Option<PathBuf> {
    let (base, _) = aof.rewrite_target.as_ref()?;
    Some(dir(config).join(format!("temp-rewriteaof-bg-{}.aof", base.seq)))
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
