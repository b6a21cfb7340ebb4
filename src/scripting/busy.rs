//! Other clients while a script runs past `busy-reply-threshold`, or
//! while the AOF is replayed (Redis's `processEventsWhileBlocked`, from
//! the script hook and from the loader).
//!
//! The loop cannot turn while a script holds it, so the hook reads the
//! other clients' sockets itself: commands Redis allows then (SCRIPT
//! KILL, SHUTDOWN NOSAVE, MULTI, DISCARD, WATCH, RESET, HELLO, QUIT, ...:
//! the `allow_busy` flag) run as usual, every other one is answered
//! `-BUSY`, and the replies are written at once. While the dataset loads,
//! commands without the `loading` flag are answered `-LOADING` first, as
//! Redis's `processCommand` checks. The script's own caller is not read
//! until its script ends. New connections are accepted, so they too get
//! their answer.

use super::RUN;
use crate::client::{Closing, ReadOutcome};
use crate::cmd::Ctx;
use crate::protocol::request::Parsed;
use std::time::Duration;

pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// Called by the hook: whether the script must stop now (killed, or the
/// server is shutting down).
pub fn check() -> bool {
    let (running, killed, started, timed_out) = RUN.with(|run| {
        (
            run.running.get(),
            run.killed.get(),
            run.started.get(),
            run.timed_out.get(),
        )
    });
    if !running {
        return false;
    }
    if killed {
        return true;
    }
    // SAFETY: the hook runs inside the script `run` is running.
    let Some(ctx) = (unsafe { super::running_ctx() }) else {
        return false;
    };
    let elapsed = started.elapsed();
    if elapsed < Duration::from_millis(ctx.state.config.busy_reply_threshold) {
        return false;
    }
    if !timed_out {
        RUN.with(|run| run.timed_out.set(true));
        let (name, function) = super::running_label();
        let kill = if function {
            "FUNCTION KILL"
        } else {
            "SCRIPT KILL"
        };
        log::warn!(
            "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the {kill} command. Script name is: {name}.",
            elapsed.as_millis()
        );
    }
    serve_clients(ctx, true);
    if ctx.state.shutdown.is_some() {
        RUN.with(|run| run.killed.set(true));
        return true;
    }
    let killed = RUN.with(|run| run.killed.get());
    if killed {
        log::warn!("Lua script killed by user with SCRIPT KILL.");
    }
    killed
}

/// Accepts waiting connections on every listener (the loop's own accept,
/// `server::admit_client`, does the rest).
fn accept_clients(ctx: &mut Ctx) {
    use crate::stream::{Peer, Stream};
    use std::os::fd::FromRawFd;
    for fd in ctx.state.listener_fds.clone() {
        if ctx.state.unix_fd == Some(fd) {
            // SAFETY: as below.
            let listener = std::mem::ManuallyDrop::new(unsafe {
                std::os::unix::net::UnixListener::from_raw_fd(fd)
            });
            let path: std::sync::Arc<str> = ctx.state.config.unixsocket.as_str().into();
            while let Ok((stream, _)) = listener.accept() {
                if stream.set_nonblocking(true).is_err() {
                    continue;
                }
                let socket = Stream::Unix(mio::net::UnixStream::from_std(stream));
                let kind = crate::server::Listener {
                    scrapes_only: false,
                    tls: false,
                };
                let peer = Peer::Unix(path.clone());
                crate::server::admit_client(ctx.state, ctx.clients, socket, peer, kind);
            }
            continue;
        }
        let scrapes_only = ctx.state.metrics_fd == Some(fd);
        // SAFETY: the fd is a live listener the server owns; ManuallyDrop
        // keeps this borrowed view from closing it.
        let listener =
            std::mem::ManuallyDrop::new(unsafe { std::net::TcpListener::from_raw_fd(fd) });
        while let Ok((stream, addr)) = listener.accept() {
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            let socket = Stream::Tcp(mio::net::TcpStream::from_std(stream));
            let kind = crate::server::Listener {
                scrapes_only,
                tls: ctx.state.tls_fds.contains(&fd),
            };
            crate::server::admit_client(ctx.state, ctx.clients, socket, Peer::Tcp(addr), kind);
        }
    }
}

/// One non-blocking round over every other client's socket; with
/// `script_running`, commands a running script blocks are refused.
pub fn serve_clients(ctx: &mut Ctx, script_running: bool) {
    accept_clients(ctx);
    let me = ctx.me;
    let (mut fds, mut keys) = (Vec::new(), Vec::new());
    for (key, client) in ctx.clients.iter() {
        if key != me && client.closing == Closing::No && client.blocked.is_none() {
            fds.push(libc::pollfd {
                fd: client.fd,
                events: libc::POLLIN,
                revents: 0,
            });
            keys.push(key);
        }
    }
    if fds.is_empty() {
        return;
    }
    // SAFETY: `fds` is a valid array of `fds.len()` pollfd entries.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
    if ready <= 0 {
        return;
    }
    for (fd, key) in fds.iter().zip(keys) {
        if fd.revents != 0 {
            serve_client(ctx, key, script_running);
        }
    }
}

/// Reads what a client sent and answers each whole command.
fn serve_client(ctx: &mut Ctx, key: usize, script_running: bool) {
    let Some(client) = ctx.clients.get_mut(key) else {
        return;
    };
    match client.read() {
        ReadOutcome::Eof | ReadOutcome::Failed => {
            client.closing = Closing::Now;
            ctx.state.killed.push(key);
            return;
        }
        ReadOutcome::WouldBlock => return,
        ReadOutcome::Data { .. } => {}
    }
    let mut parser = std::mem::take(&mut client.parser);
    let mut reply = std::mem::take(&mut client.reply);
    let max_bulk = usize::try_from(ctx.state.config.proto_max_bulk_len).unwrap_or(usize::MAX);
    loop {
        match parser.next(max_bulk) {
            Parsed::Incomplete => break,
            Parsed::Error(e) => {
                reply.error(&e.message());
                ctx.clients[key].closing = Closing::AfterReply;
                break;
            }
            Parsed::Command => {
                let args = parser.args();
                let line: Vec<&[u8]> = args.iter().take(2).collect();
                let command = crate::cmd::command_of(&line);
                let flagged = |flag| command.is_some_and(|c| c.flags.split(' ').any(|f| f == flag));
                let persist = &ctx.state.persist;
                let loading_refuses = if persist.async_loading {
                    flagged("no_async_loading")
                } else {
                    command.is_some() && !flagged("loading")
                };
                let refusal = if persist.loading && loading_refuses {
                    Some(crate::errors::LOADING)
                } else if script_running && !flagged("allow_busy") {
                    Some(super::busy_error())
                } else {
                    None
                };
                let in_multi = ctx.clients[key].multi.is_some();
                let mut inner = Ctx {
                    state: &mut *ctx.state,
                    clients: &mut *ctx.clients,
                    me: key,
                    reply: &mut reply,
                    now_ms: crate::state::unix_millis(),
                    last_tick: crate::clock::now(),
                    input: None,
                };
                let Some(refusal) = refusal else {
                    crate::cmd::dispatch(&mut inner, args);
                    if inner.clients[key].closing != Closing::No {
                        break;
                    }
                    continue;
                };
                if in_multi && command.is_some_and(|c| c.name == "exec") {
                    crate::cmd::multi::abort_exec(&mut inner, refusal);
                    let counted = crate::cmd::multi::EXECABORT.as_bytes();
                    inner.state.stats.count_error_reply(counted);
                } else {
                    inner.reply.error(refusal);
                    inner.state.stats.count_error_reply(refusal.as_bytes());
                    if let Some(transaction) = inner.client().multi.as_mut() {
                        transaction.failed = true;
                    }
                }
                if ctx.clients[key].closing != Closing::No {
                    break;
                }
            }
        }
    }
    parser.compact();
    let client = &mut ctx.clients[key];
    client.parser = parser;
    client.reply = reply;
    client.write();
    if client.pending_output() > 0 || client.closing != Closing::No {
        ctx.state.output_woken.push(key);
    }
}
