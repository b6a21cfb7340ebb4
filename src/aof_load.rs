//! Loading the AOF (`loadAppendOnlyFiles`): the base file the manifest
//! names, an RDB or commands, then each incremental file, replayed
//! command by command through a client no socket feeds. At start, and
//! for DEBUG LOADAOF.

use crate::client::Client;
use crate::cmd::{self, Ctx};
use crate::config::Config;
use crate::persist;
use crate::protocol::request::OwnedArgs;
use crate::state::ServerState;
use crate::stream::{Peer, Stream};
use log::{info, warn};
use mio::net::TcpStream;
use slab::Slab;
use std::path::Path;
use std::time::Instant;

/// How one file loaded.
#[derive(Debug, PartialEq, Eq)]
enum Loaded {
    Whole,
    /// Its tail was cut off, as `aof-load-truncated` allows.
    Truncated,
}

/// Loads the base and incremental files the AOF manifest names
/// (`loadAppendOnlyFiles`), first moving an AOF from before 7.0 into
/// the directory. A truncated last file loads up to its last whole
/// command when `aof-load-truncated` allows; anything else that does not
/// parse, and a file the manifest names that is not there, stop the start.
pub fn load(state: &mut ServerState, clients: &mut Slab<Client>) -> Result<(), String> {
    let config = state.config.clone();
    let mut manifest = crate::aof::read_manifest(&config)?.unwrap_or_default();
    if crate::aof::old_style_pending(&config, &manifest) {
        crate::aof::upgrade_old_style(&config, &mut manifest)?;
    }
    if manifest.base.is_none() && manifest.incrs.is_empty() {
        return Ok(());
    }
    let dir = crate::aof::dir(&config);
    let files: Vec<_> = manifest.base.iter().chain(&manifest.incrs).collect();
    let mut total = 0;
    for file in &files {
        total += std::fs::metadata(dir.join(&file.name))
            .map_err(|e| {
                format!(
                    "Unable to obtain the AOF file {} length. stat: {}",
                    file.name,
                    crate::errors::os_error_text(&e)
                )
            })?
            .len();
    }
    let started = Instant::now();
    if total > 0 {
        state.persist.start_loading(total);
        let result = load_files(state, clients, &config, &manifest);
        state.persist.stop_loading();
        result?;
    }
    state.aof.manifest = manifest;
    state.persist.dirty_at_last_save = crate::db::dirty();
    info!(
        "DB loaded from append only file: {:.3} seconds",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn load_files(
    state: &mut ServerState,
    clients: &mut Slab<Client>,
    config: &Config,
    manifest: &crate::aof::Manifest,
) -> Result<(), String> {
    let dir = crate::aof::dir(config);
    let count = usize::from(manifest.base.is_some()) + manifest.incrs.len();
    let kinds = manifest.base.iter().map(|f| ("base", f));
    let kinds = kinds.chain(manifest.incrs.iter().map(|f| ("incr", f)));
    for (i, (kind, file)) in kinds.enumerate() {
        let started = Instant::now();
        let old_style = kind == "base" && file.name == config.appendfilename;
        let loaded = load_file(state, clients, &dir.join(&file.name), old_style, config)?;
        if loaded == Loaded::Truncated && i + 1 < count {
            return Err("Fatal error: the truncated file is not the last file".into());
        }
        info!(
            "DB loaded from {kind} file {}: {:.3} seconds",
            file.name,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Loads one file (`loadSingleAppendOnlyFile`): an RDB, when it starts
/// with one, then commands to its end.
fn load_file(
    state: &mut ServerState,
    clients: &mut Slab<Client>,
    path: &Path,
    old_style: bool,
    config: &Config,
) -> Result<Loaded, String> {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let bytes = std::fs::read(path).map_err(|e| {
        format!(
            "Fatal error: can't open the append log file {name} for reading: {}",
            crate::errors::os_error_text(&e)
        )
    })?;
    let loaded_before = state.persist.load_progress.loaded_bytes;
    let mut commands = &bytes[..];
    if bytes.starts_with(b"REDIS") {
        if old_style {
            info!("Reading RDB preamble from AOF file...");
        } else {
            info!("Reading RDB base file on AOF loading...");
        }
        let mut loaded = persist::Loaded::empty(config);
        let decoder = crate::rdb::Decoder::new(&mut commands, crate::rdb::Limits::from(config));
        let now_ms = crate::state::unix_millis();
        if let Err(e) = persist::read_into(decoder, &mut loaded, now_ms, false, &mut |_| {}) {
            let what = if old_style {
                "the RDB preamble of the AOF file"
            } else {
                "the RDB base file"
            };
            return Err(format!(
                "Error reading {what} {name}, AOF loading aborted: {e}"
            ));
        }
        state.functions = crate::server::libraries_of(&loaded)?;
        for (db, mut fresh) in state.dbs.iter_mut().zip(loaded.dbs) {
            db.swap_data(&mut fresh);
        }
        if old_style {
            info!("Reading the remaining AOF tail...");
        }
    }
    let preamble = bytes.len() - commands.len();
    let loaded = replay(state, clients, path, &name, preamble, commands, config);
    state.persist.load_progress.loaded_bytes = loaded_before + bytes.len() as u64;
    loaded
}

/// Runs every command of one AOF file, from `start`, through the command
/// table with a client of its own, as Redis's fake client. A tail cut
/// short, or a MULTI never closed, is cut off the file when
/// `aof-load-truncated` allows.
fn replay(
    state: &mut ServerState,
    clients: &mut Slab<Client>,
    path: &Path,
    name: &str,
    start: usize,
    bytes: &[u8],
    config: &Config,
) -> Result<Loaded, String> {
    let fake = fake_client(state, clients).ok_or("Can't create a client to load the AOF")?;
    for db in &mut state.dbs {
        db.expiry_paused = true;
    }
    state.replaying = true;
    // Replayed commands run as top-level calls, also under DEBUG LOADAOF.
    let depth = std::mem::take(&mut state.call_depth);
    let mut at = 0;
    let mut before_multi = 0;
    let mut cut_short = false;
    let mut failure = None;
    let mut replayed = 0u64;
    let loaded_before = state.persist.load_progress.loaded_bytes + start as u64;
    while at < bytes.len() {
        if replayed.is_multiple_of(SERVE_EVERY) {
            state.persist.load_progress.loaded_bytes = loaded_before + at as u64;
            serve_clients(state, clients, fake);
        }
        replayed += 1;
        match crate::aof::read_command(&bytes[at..]) {
            crate::aof::Read::Command(argv, used) => {
                if argv.is_empty() {
                    at += used;
                    continue;
                }
                if cmd::lookup(&argv[0]).is_none() {
                    failure = Some(format!(
                        "Unknown command '{}' reading the append only file {name}",
                        String::from_utf8_lossy(&argv[0])
                    ));
                    break;
                }
                if argv[0].eq_ignore_ascii_case(b"multi") {
                    before_multi = at;
                }
                at += used;
                run(state, clients, fake, &argv);
                if config.key_load_delay != 0 {
                    crate::rdb::debug_delay(config.key_load_delay);
                }
            }
            crate::aof::Read::Incomplete => {
                cut_short = true;
                break;
            }
            crate::aof::Read::Corrupt => {
                failure = Some(format!("Bad file format reading the append only file {name}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"));
                break;
            }
        }
    }
    if failure.is_none() && !cut_short && clients[fake].multi.is_some() {
        warn!("Revert incomplete MULTI/EXEC transaction in AOF file {name}");
        at = before_multi;
        cut_short = true;
    }
    state.replaying = false;
    state.call_depth = depth;
    for db in &mut state.dbs {
        db.expiry_paused = false;
    }
    let mut client = clients.remove(fake);
    state.replica_buffers -= client.accounted_buffers;
    if let Some(registry) = &state.registry {
        let _ = registry.deregister(&mut client.socket);
    }
    if let Some(message) = failure {
        return Err(message);
    }
    if !cut_short {
        return Ok(Loaded::Whole);
    }
    if config.aof_load_truncated {
        let valid = (start + at) as u64;
        warn!("!!! Warning: short read while loading the AOF file {name}!!!");
        warn!("!!! Truncating the AOF {name} at offset {valid} !!!");
        let truncated = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(valid));
        match truncated {
            Ok(()) => {
                warn!("AOF {name} loaded anyway because aof-load-truncated is enabled");
                return Ok(Loaded::Truncated);
            }
            Err(e) => warn!(
                "Error truncating the AOF file {name}: {}",
                crate::errors::os_error_text(&e)
            ),
        }
    }
    Err(format!("Unexpected end of file reading the append only file {name}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."))
}

/// Other clients are answered (`-LOADING`, mostly) once per this many
/// commands replayed, as Redis's loader does.
const SERVE_EVERY: u64 = 1024;

/// Answers the other clients while the loader holds the loop.
fn serve_clients(state: &mut ServerState, clients: &mut Slab<Client>, fake: usize) {
    as_fake_client(state, clients, fake, |ctx| {
        crate::scripting::busy::serve_clients(ctx, false)
    });
}

/// Runs one replayed command as the fake client, its reply dropped.
fn run(state: &mut ServerState, clients: &mut Slab<Client>, fake: usize, argv: &[Vec<u8>]) {
    let owned = OwnedArgs::from_vecs(argv);
    as_fake_client(state, clients, fake, |ctx| cmd::dispatch(ctx, owned.args()));
    state.block_request = None;
}

/// Runs `f` in a context whose client is the fake one; whatever it
/// answers is dropped.
fn as_fake_client(
    state: &mut ServerState,
    clients: &mut Slab<Client>,
    fake: usize,
    f: impl FnOnce(&mut Ctx),
) {
    let mut reply = std::mem::take(&mut clients[fake].reply);
    let mut ctx = Ctx {
        state: &mut *state,
        clients: &mut *clients,
        me: fake,
        reply: &mut reply,
        now_ms: crate::state::unix_millis(),
        last_tick: crate::clock::now(),
        input: None,
    };
    f(&mut ctx);
    reply.clear(0);
    clients[fake].reply = reply;
}

/// A client with a socket of its own that no one reads: what replayed
/// commands run as.
fn fake_client(state: &mut ServerState, clients: &mut Slab<Client>) -> Option<usize> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
    let stream = std::net::TcpStream::connect(listener.local_addr().ok()?).ok()?;
    let addr = stream.local_addr().ok()?;
    let id = state.allocate_client_id();
    let socket = Stream::Tcp(TcpStream::from_std(stream));
    let client = Client::new(id, socket, Peer::Tcp(addr), Instant::now());
    Some(clients.insert(client))
}
