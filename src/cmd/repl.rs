//! Replication commands: the master side's REPLCONF, PSYNC and SYNC, and
//! REPLICAOF, ROLE and WAIT. The handlers only change `state.repl` and
//! the clients; the loop (server/replication.rs) moves the bytes.

use super::Ctx;
use crate::errors;
use crate::protocol::request::Args;
use crate::repl::{LinkState, MasterAddr, Phase, ReplicaInfo};
use log::{info, warn};

/// `REPLCONF <option> <value> ...`: what a replica says about itself, and
/// the acknowledgements of the stream.
pub(super) fn replconf(ctx: &mut Ctx, args: Args) {
    if args.len().is_multiple_of(2) {
        ctx.reply.error(errors::SYNTAX);
        return;
    }
    let mut i = 1;
    while i + 1 < args.len() {
        let option = args.get(i).to_ascii_lowercase();
        let value = args.get(i + 1);
        match option.as_slice() {
            b"listening-port" => {
                let Some(port) = super::i64_arg(ctx.reply, value) else {
                    return;
                };
                info_of(ctx).listening_port = port.clamp(0, 65535) as u16;
            }
            b"ip-address" => {
                let ip = String::from_utf8_lossy(value).into_owned();
                info_of(ctx).announced_ip = Some(ip);
            }
            b"capa" => {
                if value.eq_ignore_ascii_case(b"eof") {
                    info_of(ctx).capa_eof = true;
                } else if value.eq_ignore_ascii_case(b"psync2") {
                    info_of(ctx).capa_psync2 = true;
                }
            }
            b"ack" => {
                // From a replica only, and never answered.
                let offset = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok());
                let me = ctx.me;
                let Some(replica) = ctx.clients[me].replica.as_deref_mut() else {
                    return;
                };
                if replica.phase == Phase::WaitBgsave {
                    return;
                }
                if let Some(offset) = offset {
                    replica.ack_offset = replica.ack_offset.max(offset);
                }
                replica.ack_time = std::time::Instant::now();
                if replica.phase == Phase::Online && replica.hold_until_ack {
                    // A replica that read a snapshot of unknown length has
                    // loaded it: the stream may follow now.
                    replica.hold_until_ack = false;
                    let held = std::mem::take(&mut replica.held);
                    ctx.reply.raw(&held);
                }
                ctx.state.repl.acks_arrived = true;
                return;
            }
            b"getack" => {
                if ctx.clients[ctx.me].is_master {
                    ctx.state.repl.ack_requested = true;
                }
                return;
            }
            b"rdb-only" => {}
            b"rdb-filter-only" => {
                // Everything is left out but the parts named.
                let Some(parts) = crate::protocol::request::split_config_line(value) else {
                    ctx.reply.error("ERR Missing rdb-filter-only values");
                    return;
                };
                let mut filter = crate::repl::RdbFilter {
                    no_data: true,
                    no_functions: true,
                };
                for part in parts {
                    if part.eq_ignore_ascii_case(b"functions") {
                        filter.no_functions = false;
                    } else {
                        let text = format!(
                            "ERR Unsupported rdb-filter-only option: {}",
                            String::from_utf8_lossy(&part)
                        );
                        ctx.reply.error(&text);
                        return;
                    }
                }
                info_of(ctx).filter = filter;
            }
            _ => {
                let text = format!(
                    "ERR Unrecognized REPLCONF option: {}",
                    String::from_utf8_lossy(args.get(i))
                );
                ctx.reply.error(&text);
                return;
            }
        }
        i += 2;
    }
    // A replica is sent the stream, never replies.
    if !ctx.clients[ctx.me].is_replica() {
        ctx.reply.ok();
    }
}

/// The replica settings of the running client, made on first use.
fn info_of<'c>(ctx: &'c mut Ctx) -> &'c mut ReplicaInfo {
    let me = ctx.me;
    ctx.clients[me]
        .replica
        .get_or_insert_with(|| Box::new(ReplicaInfo::new(Phase::Handshake)))
}

/// `PSYNC replid offset [FAILOVER]`: continue from the backlog, or a
/// full sync. With FAILOVER (sent by a master handing over to this
/// replica) this server first becomes a master.
pub(super) fn psync(ctx: &mut Ctx, args: Args) {
    if args.len() > 3
        && args.get(3).eq_ignore_ascii_case(b"failover")
        && !ctx.clients[ctx.me].is_replica()
    {
        let replid = String::from_utf8_lossy(args.get(1)).into_owned();
        if !ctx.state.repl.is_replica() {
            ctx.reply
                .error("ERR PSYNC FAILOVER can't be sent to a master.");
            return;
        }
        if replid != ctx.state.repl.replid {
            ctx.reply
                .error("ERR PSYNC FAILOVER replid must match my replid.");
            return;
        }
        info!("Failover request received for replid {replid}.");
        let who = describe_client(ctx);
        ctx.state.repl.unset_master();
        disconnect_replicas(ctx);
        info!("MASTER MODE enabled (failover request from '{who}')");
    }
    sync_request(ctx, Some((args.get(1), args.get(2))));
}

/// `SYNC`: the old protocol, always a full sync without `+FULLRESYNC`.
pub(super) fn sync(ctx: &mut Ctx, _args: Args) {
    sync_request(ctx, None);
}

/// Redis's `syncCommand`.
fn sync_request(ctx: &mut Ctx, psync: Option<(&[u8], &[u8])>) {
    let me = ctx.me;
    if ctx.clients[me].is_replica() {
        return;
    }
    let repl = &ctx.state.repl;
    if repl.failover.is_some() {
        ctx.reply
            .error("NOMASTERLINK Can't SYNC while failing over");
        return;
    }
    if repl.is_replica() && repl.link != LinkState::Connected {
        ctx.reply
            .error("NOMASTERLINK Can't SYNC while not connected with my master");
        return;
    }
    if ctx.reply.len() > ctx.clients[me].sent {
        ctx.reply
            .error("ERR SYNC and PSYNC are invalid with pending output");
        return;
    }
    // A filtered snapshot only goes over the socket, never to the file.
    let filtered = ctx.clients[me]
        .replica
        .as_deref()
        .map(|r| (r.filter.any(), r.capa_eof));
    if filtered.is_some_and(|(filtered, eof)| filtered && !eof) {
        ctx.reply
            .error("ERR Filtered replica requires EOF capability");
        return;
    }
    let addr = replica_address(&ctx.clients[me]);
    info!("Replica {addr} asks for synchronization");
    // PSYNC's offset is read strictly, as Redis's
    // getLongLongFromObjectOrReply: a bad one is refused, no sync starts.
    let psync = match psync.map(|(replid, offset)| (replid, crate::protocol::parse_i64(offset))) {
        Some((_, None)) => {
            warn!("Replica {addr} asks for synchronization but with a wrong offset");
            ctx.reply.error(errors::NOT_INTEGER);
            return;
        }
        Some((replid, Some(offset))) => Some((replid, offset)),
        None => None,
    };
    let backlog_size = crate::config::pending_u64(&ctx.state.config, "repl-backlog-size");
    let state = &mut *ctx.state;
    let info = ctx.clients[me]
        .replica
        .get_or_insert_with(|| Box::new(ReplicaInfo::new(Phase::Handshake)));
    info.ack_time = std::time::Instant::now();
    if let Some((replid, offset)) = psync {
        let replid = String::from_utf8_lossy(replid).into_owned();
        let repl = &mut state.repl;
        if offset > 0 && repl.can_continue(&replid, offset as u64) {
            let backlog = repl.backlog.as_ref().map(|b| b.since(offset as u64));
            let mut backlog = backlog.unwrap_or_default();
            // The stream's newest bytes, fed earlier in this round, are
            // still to be handed to every replica, this one included
            // once it is attached: sent here too, they would arrive twice.
            backlog.truncate(backlog.len().saturating_sub(repl.unsent.len()));
            if info.capa_psync2 {
                ctx.reply
                    .raw(format!("+CONTINUE {}\r\n", repl.replid).as_bytes());
            } else {
                ctx.reply.raw(b"+CONTINUE\r\n");
            }
            ctx.reply.raw(&backlog);
            info.phase = Phase::Online;
            info.ack_offset = offset as u64 - 1;
            repl.sync_partial_ok += 1;
            repl.attach(me);
            info!(
                "Partial resynchronization request from {addr} accepted. Sending {} bytes of backlog starting from offset {offset}.",
                backlog.len()
            );
            state.refresh_expired_logs();
            return;
        }
        if replid != "?" {
            repl.sync_partial_err += 1;
            if replid != repl.replid && replid != repl.replid2 {
                info!(
                    "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{replid}', my replication IDs are '{}' and '{}')",
                    repl.replid, repl.replid2
                );
            } else {
                info!("Unable to partial resync with replica {addr} for lack of backlog (Replica request was: {offset}).");
            }
        } else {
            info!("Full resync requested by replica {addr}");
        }
    } else {
        info.old_sync = true;
    }
    info.phase = Phase::WaitBgsave;
    info.waiting_since = std::time::Instant::now();
    let repl = &mut state.repl;
    repl.sync_full += 1;
    repl.ensure_backlog(backlog_size);
    repl.attach(me);
    repl.sync_requests.push((me, ctx.clients[me].id));
    state.refresh_expired_logs();
}

/// `REPLICAOF host port` / `REPLICAOF NO ONE` (and `SLAVEOF`).
pub(super) fn replicaof(ctx: &mut Ctx, args: Args) {
    let who = describe_client(ctx);
    if args.get(1).eq_ignore_ascii_case(b"no") && args.get(2).eq_ignore_ascii_case(b"one") {
        if ctx.state.repl.is_replica() {
            ctx.state.repl.unset_master();
            disconnect_replicas(ctx);
            warn!("MASTER MODE enabled (user request from '{who}')");
        }
        ctx.reply.ok();
        return;
    }
    let port = match std::str::from_utf8(args.get(2))
        .ok()
        .and_then(|p| p.parse::<i64>().ok())
    {
        Some(port) if (0..=65535).contains(&port) => port as u16,
        _ => {
            ctx.reply.error("ERR Invalid master port");
            return;
        }
    };
    let addr = MasterAddr {
        host: String::from_utf8_lossy(args.get(1)).into_owned(),
        port,
    };
    if ctx.state.repl.master.as_ref() == Some(&addr) {
        info!("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
        ctx.reply.simple("OK Already connected to specified master");
        return;
    }
    warn!(
        "REPLICAOF {}:{} enabled (user request from '{who}')",
        addr.host, addr.port
    );
    // This server's own replicas stay: they may continue once its new
    // master's stream reaches them (a full sync or a new id closes them
    // then), as in Redis 7.0's replicationSetMaster.
    ctx.state.repl.set_master(addr);
    ctx.reply.ok();
}

/// Closes this server's replicas after a change of role
/// (`disconnectSlaves`): they reconnect and learn the new id, most often
/// continuing with `+CONTINUE`.
fn disconnect_replicas(ctx: &mut Ctx) {
    for &key in &ctx.state.repl.replicas {
        if key != ctx.me {
            ctx.state.killed.push(key);
        }
    }
}

/// `FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]`: hands the
/// master role to a replica without losing a write (Redis's
/// `failoverCommand`): writes pause until a replica has the whole stream,
/// then this server becomes that replica's replica, telling it with
/// `PSYNC ... FAILOVER` to become the master.
pub(super) fn failover(ctx: &mut Ctx, args: Args) {
    let (mut target, mut force, mut abort, mut timeout) = (None, false, false, 0i64);
    let mut i = 1;
    while i < args.len() {
        let word = args.get(i).to_ascii_lowercase();
        match word.as_slice() {
            b"to" if i + 2 < args.len() && target.is_none() => {
                let Some(port) = super::i64_arg(ctx.reply, args.get(i + 2)) else {
                    return;
                };
                let host = String::from_utf8_lossy(args.get(i + 1)).into_owned();
                target = Some((host, port));
                i += 2;
            }
            b"force" if !force => force = true,
            b"timeout" if i + 1 < args.len() && timeout == 0 => {
                let Some(ms) = super::i64_arg(ctx.reply, args.get(i + 1)) else {
                    return;
                };
                if ms <= 0 {
                    ctx.reply
                        .error("ERR FAILOVER timeout must be greater than 0");
                    return;
                }
                timeout = ms;
                i += 1;
            }
            b"abort" if !abort => abort = true,
            _ => {
                ctx.reply.error(errors::SYNTAX);
                return;
            }
        }
        i += 1;
    }
    if abort {
        if force || target.is_some() || timeout != 0 {
            ctx.reply.error(errors::SYNTAX);
            return;
        }
        if ctx.state.repl.failover.is_none() {
            ctx.reply.error("ERR No failover in progress.");
            return;
        }
        ctx.state.repl.failover_abort = Some("Failover manually aborted".into());
        ctx.reply.ok();
        return;
    }
    let repl = &ctx.state.repl;
    if repl.failover.is_some() {
        ctx.reply.error("ERR FAILOVER already in progress.");
        return;
    }
    if repl.is_replica() {
        ctx.reply
            .error("ERR FAILOVER is not valid when server is a replica.");
        return;
    }
    if repl.replicas.is_empty() {
        ctx.reply.error("ERR FAILOVER requires connected replicas.");
        return;
    }
    if force && (timeout == 0 || target.is_none()) {
        ctx.reply.error(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
        );
        return;
    }
    let target = match target {
        None => None,
        Some((host, port)) => {
            let found = repl.replicas.iter().find_map(|&k| {
                let client = ctx.clients.get(k)?;
                let info = client.replica.as_deref()?;
                (replica_ip(client) == host && i64::from(info.listening_port) == port)
                    .then_some(info.phase)
            });
            match found {
                None => {
                    ctx.reply
                        .error("ERR FAILOVER target HOST and PORT is not a replica.");
                    return;
                }
                Some(phase) if phase != Phase::Online => {
                    ctx.reply
                        .error("ERR FAILOVER target replica is not online.");
                    return;
                }
                Some(_) => Some(MasterAddr {
                    host,
                    port: port as u16,
                }),
            }
        }
    };
    match &target {
        Some(t) => info!("FAILOVER requested to {}:{}.", t.host, t.port),
        None => info!("FAILOVER requested to any replica."),
    }
    let now = std::time::Instant::now();
    ctx.state.repl.failover = Some(crate::repl::Failover {
        target,
        deadline: (timeout > 0).then(|| now + std::time::Duration::from_millis(timeout as u64)),
        force,
        in_progress: false,
    });
    // Writes wait (as CLIENT PAUSE WRITE) until the failover ends.
    let until = now + std::time::Duration::from_secs(365 * 24 * 3600);
    let all = ctx.state.pause.is_some_and(|p| p.all && p.until > now);
    ctx.state.pause = Some(crate::state::Pause { until, all });
    ctx.state.repl.get_ack_wanted = true;
    ctx.reply.ok();
}

/// The client as Redis names it in the log (`catClientInfoString`, short).
fn describe_client(ctx: &Ctx) -> String {
    let client = &ctx.clients[ctx.me];
    format!(
        "id={} addr={} laddr={} fd={} name={}",
        client.id,
        client.addr,
        client.local_addr,
        client.fd,
        String::from_utf8_lossy(client.name.as_deref().unwrap_or_default())
    )
}

/// `ROLE`.
pub(super) fn role(ctx: &mut Ctx, _args: Args) {
    let repl = &ctx.state.repl;
    match &repl.master {
        None => {
            ctx.reply.array(3);
            ctx.reply.bulk(b"master");
            ctx.reply.int(repl.offset as i64);
            let replicas: Vec<(String, u16, u64)> = repl
                .replicas
                .iter()
                .filter_map(|&k| {
                    let client = ctx.clients.get(k)?;
                    let info = client.replica.as_deref()?;
                    (info.phase == Phase::Online)
                        .then(|| (replica_ip(client), info.listening_port, info.ack_offset))
                })
                .collect();
            ctx.reply.array(replicas.len());
            for (ip, port, offset) in replicas {
                ctx.reply.array(3);
                ctx.reply.bulk(ip.as_bytes());
                ctx.reply.bulk(port.to_string().as_bytes());
                ctx.reply.bulk(offset.to_string().as_bytes());
            }
        }
        Some(master) => {
            ctx.reply.array(5);
            ctx.reply.bulk(b"slave");
            ctx.reply.bulk(master.host.as_bytes());
            ctx.reply.int(i64::from(master.port));
            let state = match repl.link {
                LinkState::Connect => "connect",
                LinkState::Connecting => "connecting",
                LinkState::Handshake => "handshake",
                LinkState::Transfer => "sync",
                LinkState::Connected => "connected",
            };
            ctx.reply.bulk(state.as_bytes());
            let offset = if repl.master_key.is_some() {
                repl.offset as i64
            } else {
                -1
            };
            ctx.reply.int(offset);
        }
    }
}

/// The address a replica is known by: what it announced, else its peer
/// address.
pub fn replica_ip(client: &crate::client::Client) -> String {
    client
        .replica
        .as_deref()
        .and_then(|r| r.announced_ip.clone())
        .unwrap_or_else(|| client.addr.host())
}

/// A replica as the log names it: `ip:port`.
pub fn replica_address(client: &crate::client::Client) -> String {
    let port = client.replica.as_deref().map_or(0, |r| r.listening_port);
    format!("{}:{port}", replica_ip(client))
}

/// `WAIT numreplicas timeout`: blocks until that many replicas
/// acknowledged the client's last write, or the timeout passes.
pub(super) fn wait(ctx: &mut Ctx, args: Args) {
    if ctx.state.repl.is_replica() {
        ctx.reply.error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
        return;
    }
    let Some(wanted) = super::i64_arg(ctx.reply, args.get(1)) else {
        return;
    };
    let timeout = match std::str::from_utf8(args.get(2))
        .ok()
        .and_then(|t| t.parse::<i64>().ok())
    {
        Some(t) if t < 0 => {
            ctx.reply.error("ERR timeout is negative");
            return;
        }
        Some(t) => t as u64,
        None => {
            ctx.reply
                .error("ERR timeout is not an integer or out of range");
            return;
        }
    };
    let target = ctx.clients[ctx.me].woff;
    let acked = ctx.state.repl.acked(ctx.clients, target);
    let timed_out = std::mem::take(&mut ctx.state.repl.wait_timed_out);
    if acked as i64 >= wanted || ctx.state.in_exec || timed_out || ctx.state.in_script_call {
        ctx.reply.int(acked as i64);
        return;
    }
    let me = (ctx.me, ctx.clients[ctx.me].id);
    if !ctx.state.repl.waiting.contains(&me) {
        // Blocking now (not running again after an ACK): ask the
        // replicas where they are.
        ctx.state.repl.waiting.push(me);
        ctx.state.repl.get_ack_wanted = true;
    }
    ctx.state.block_request = Some(crate::state::BlockRequest {
        keys: Vec::new(),
        timeout: (timeout > 0).then(|| std::time::Duration::from_millis(timeout)),
        null_bulk_when_not_blocking: false,
        command: None,
    });
}
