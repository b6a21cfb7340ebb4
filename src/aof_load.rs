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
use std::io;
use std::time::Instant;

/// Loads the base and incremental files the AOF manifest names
/// (`loadAppendOnlyFiles`). A truncated last file loads up to its last
/// whole command when `aof-load-truncated` allows; anything else that
/// does not parse stops the start.
pub fn load(state: &mut ServerState, clients: &mut Slab<Client>) -> Result<(), String> {
    let config = state.config.clone();
    let Some(manifest) = crate::aof::read_manifest(&config)? else {
        return Ok(());
    };
    let started = Instant::now();
    let dir = crate::aof::dir(&config);
    state.persist.loading = true;
    let now_ms = crate::state::unix_millis();
    if let Some(base) = &manifest.base {
        let path = dir.join(&base.name);
        let bytes = std::fs::read(&path)
            .map_err(|e| format!("Can't open the append-only file {}: {e}", base.name))?;
        if bytes.starts_with(b"REDIS") {
            info!("Reading RDB base file on AOF loading...");
            let mut loaded = persist::Loaded::empty(&config);
            let decoder = crate::rdb::Decoder::new(&bytes[..], crate::rdb::Limits::from(&config));
            persist::read_into(decoder, &mut loaded, now_ms, false, &mut |_| {})
                .map_err(|e| format!("{e} ({})", base.name))?;
            state.functions = crate::server::libraries_of(&loaded)?;
            for (db, mut fresh) in state.dbs.iter_mut().zip(loaded.dbs) {
                db.swap_data(&mut fresh);
            }
        } else {
            replay(state, clients, &path, &bytes, false, &config)?;
        }
        info!(
            "DB loaded from base file {}: {:.3} seconds",
            base.name,
            started.elapsed().as_secs_f64()
        );
    }
    let last = manifest.incrs.len().saturating_sub(1);
    for (i, incr) in manifest.incrs.iter().enumerate() {
        let path = dir.join(&incr.name);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound && i == last => Vec::new(),
            Err(e) => {
                return Err(format!(
                    "Can't open the append-only file {}: {e}",
                    incr.name
                ))
            }
        };
        replay(state, clients, &path, &bytes, i == last, &config)?;
        info!(
            "DB loaded from incr file {}: {:.3} seconds",
            incr.name,
            started.elapsed().as_secs_f64()
        );
    }
    state.aof.manifest = manifest;
    state.persist.loading = false;
    state.persist.dirty_at_last_save = crate::db::dirty();
    info!(
        "DB loaded from append only file: {:.3} seconds",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs every command of one AOF file through the command table with a
/// client of its own, as Redis's fake client.
fn replay(
    state: &mut ServerState,
    clients: &mut Slab<Client>,
    path: &std::path::Path,
    bytes: &[u8],
    last: bool,
    config: &Config,
) -> Result<(), String> {
    let name = path.display().to_string();
    let fake = fake_client(state, clients).ok_or("Can't create a client to load the AOF")?;
    for db in &mut state.dbs {
        db.expiry_paused = true;
    }
    state.replaying = true;
    // Replayed commands run as top-level calls, also under DEBUG LOADAOF.
    let depth = std::mem::take(&mut state.call_depth);
    let mut at = 0;
    let mut result = Ok(());
    while at < bytes.len() {
        match crate::aof::read_command(&bytes[at..]) {
            crate::aof::Read::Command(argv, used) => {
                at += used;
                if argv.is_empty() {
                    continue;
                }
                if cmd::lookup(&argv[0]).is_none() {
                    result = Err(format!(
                        "Unknown command '{}' reading the append only file {name}",
                        String::from_utf8_lossy(&argv[0])
                    ));
                    break;
                }
                let owned = OwnedArgs::from_vecs(&argv);
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
                cmd::dispatch(&mut ctx, owned.args());
                state.block_request = None;
                reply.clear(0);
                clients[fake].reply = reply;
            }
            crate::aof::Read::Incomplete if last && config.aof_load_truncated => {
                warn!("!!! Warning: short read while loading the AOF file {name}!!!");
                warn!("!!! Truncating the AOF at offset {at} !!!");
                let truncated = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .and_then(|f| f.set_len(at as u64));
                if let Err(e) = truncated {
                    result = Err(format!("Error truncating the AOF file {name}: {e}"));
                } else {
                    warn!("AOF {name} loaded anyway because aof-load-truncated is enabled");
                }
                break;
            }
            crate::aof::Read::Incomplete => {
                result = Err(format!("Unexpected end of file reading the append only file {name}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."));
                break;
            }
            crate::aof::Read::Corrupt => {
                result = Err(format!("Bad file format reading the append only file {name}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"));
                break;
            }
        }
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
    result
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
