//! `MIGRATE`: moves keys to another server by sending it `RESTORE`s of
//! their `DUMP` payloads, then deletes the ones it acknowledged (Redis's
//! `migrateCommand`). Like Redis, the transfer is synchronous: the loop
//! waits on the target, bounded by the command's timeout. Connections are
//! kept per `host:port` and reused for ten seconds, so a stream of
//! MIGRATEs pays one connect and one SELECT.

use super::Ctx;
use crate::errors;
use crate::protocol::request::Args;
use crate::rdb;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Redis's `MIGRATE_SOCKET_CACHE_ITEMS` and `MIGRATE_SOCKET_CACHE_TTL`.
const CACHE_ITEMS: usize = 64;
const CACHE_TTL: Duration = Duration::from_secs(10);
/// Redis reads each reply line into a 1 KB buffer.
const MAX_REPLY_LINE: u64 = 1024;

/// A connection to a MIGRATE target, kept for reuse.
pub struct MigrateSocket {
    stream: BufReader<TcpStream>,
    /// The database last SELECTed on the target; -1: unknown.
    last_dbid: i64,
    last_use: Instant,
}

/// Open MIGRATE connections by `host:port`.
#[derive(Default)]
pub struct MigrateSockets(HashMap<Vec<u8>, MigrateSocket>);

impl MigrateSockets {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Closes connections unused for ten seconds (from the cron).
    pub fn close_idle(&mut self, now: Instant) {
        self.0
            .retain(|_, socket| now.duration_since(socket.last_use) <= CACHE_TTL);
    }

    /// The cached connection to `name`, or a new one.
    fn get(
        &mut self,
        name: &[u8],
        host: &[u8],
        port: &[u8],
        timeout: Duration,
    ) -> Result<&mut MigrateSocket, ConnectError> {
        if !self.0.contains_key(name) {
            if self.0.len() >= CACHE_ITEMS {
                // Full: drop any one, as Redis drops a random one.
                let victim = self.0.keys().next().cloned();
                if let Some(victim) = victim {
                    self.0.remove(&victim);
                }
            }
            let stream = connect(host, port, timeout)?;
            let socket = MigrateSocket {
                stream: BufReader::new(stream),
                last_dbid: -1,
                last_use: Instant::now(),
            };
            self.0.insert(name.to_vec(), socket);
        }
        let socket = self.0.get_mut(name).ok_or(ConnectError::Unreachable)?;
        socket.last_use = Instant::now();
        Ok(socket)
    }

    fn close(&mut self, name: &[u8]) {
        self.0.remove(name);
    }
}

/// Why no connection could be made.
enum ConnectError {
    /// The address did not resolve, or the connect timed out.
    Unreachable,
    /// The target refused or reset the connection. Redis connects without
    /// blocking and learns of this from its first write, so it reports a
    /// write error (after one retry): so does rudis.
    Refused,
}

fn connect(host: &[u8], port: &[u8], timeout: Duration) -> Result<TcpStream, ConnectError> {
    let host = std::str::from_utf8(host).map_err(|_| ConnectError::Unreachable)?;
    // Redis reads the port with atoi: "abc" is port 0, which refuses.
    let digits = port.iter().take_while(|b| b.is_ascii_digit()).count();
    let port = std::str::from_utf8(&port[..digits])
        .ok()
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0) as u16;
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|_| ConnectError::Unreachable)?;
    let mut outcome = Err(ConnectError::Unreachable);
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                outcome = Ok(stream);
                break;
            }
            Err(e) if e.kind() != io::ErrorKind::TimedOut => outcome = Err(ConnectError::Refused),
            Err(_) => {}
        }
    }
    let stream = outcome?;
    let configured = stream.set_nodelay(true).is_ok()
        && stream.set_read_timeout(Some(timeout)).is_ok()
        && stream.set_write_timeout(Some(timeout)).is_ok();
    if configured {
        Ok(stream)
    } else {
        Err(ConnectError::Refused)
    }
}

/// What MIGRATE sends after the host and port.
struct Options<'a> {
    copy: bool,
    replace: bool,
    /// (username, password) for AUTH/AUTH2.
    auth: Option<(Option<&'a [u8]>, &'a [u8])>,
    /// Index of the first key and how many there are.
    first_key: usize,
    num_keys: usize,
}

/// Parses the options in the order and with the errors of Redis's
/// `migrateCommand`; `None` once the error is replied.
fn parse_options<'a>(ctx: &mut Ctx, args: &Args<'a>) -> Option<Options<'a>> {
    let mut options = Options {
        copy: false,
        replace: false,
        auth: None,
        first_key: 3,
        num_keys: 1,
    };
    let mut i = 6;
    while i < args.len() {
        let arg = args.get(i);
        let more = args.len() - 1 - i;
        if arg.eq_ignore_ascii_case(b"copy") {
            options.copy = true;
        } else if arg.eq_ignore_ascii_case(b"replace") {
            options.replace = true;
        } else if arg.eq_ignore_ascii_case(b"auth") && more >= 1 {
            options.auth = Some((None, args.get(i + 1)));
            i += 1;
        } else if arg.eq_ignore_ascii_case(b"auth2") && more >= 2 {
            options.auth = Some((Some(args.get(i + 1)), args.get(i + 2)));
            i += 2;
        } else if arg.eq_ignore_ascii_case(b"keys") {
            if !args.get(3).is_empty() {
                ctx.reply.error("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string");
                return None;
            }
            options.first_key = i + 1;
            options.num_keys = args.len() - i - 1;
            break;
        } else {
            ctx.reply.error(errors::SYNTAX);
            return None;
        }
        i += 1;
    }
    Some(options)
}

/// `MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
/// [AUTH password | AUTH2 username password] [KEYS key ...]`.
pub(super) fn migrate(ctx: &mut Ctx, args: Args) {
    let Some(options) = parse_options(ctx, &args) else {
        return;
    };
    let Some(timeout) = super::i64_arg(ctx.reply, args.get(5)) else {
        return;
    };
    let Some(dbid) = super::i64_arg(ctx.reply, args.get(4)) else {
        return;
    };
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });

    // The keys that are here, with what to send for each; expired keys
    // are gone by now, so every one has a TTL of at least 1 ms.
    let now_ms = ctx.now_ms;
    let mut found: Vec<(&[u8], i64, Vec<u8>)> = Vec::new();
    let fill = ctx.state.config.list_max_listpack_size;
    {
        let (mut keys, _) = ctx.keys();
        for j in 0..options.num_keys {
            let key = args.get(options.first_key + j);
            let Some(value) = keys.read(key) else {
                continue;
            };
            let payload = rdb::dump_payload(value, fill);
            let ttl = keys.db.expire_of(key).map_or(0, |at| (at - now_ms).max(1));
            found.push((key, ttl, payload));
        }
    }
    if found.is_empty() {
        return ctx.reply.simple("NOKEY");
    }

    let request = restore_requests(&options, &found);
    let name = [args.get(1), b":", args.get(2)].concat();
    let mut may_retry = true;
    loop {
        let socket = match ctx
            .state
            .migrate_sockets
            .get(&name, args.get(1), args.get(2), timeout)
        {
            Ok(socket) => socket,
            Err(ConnectError::Unreachable) => {
                return ctx
                    .reply
                    .error("IOERR error or timeout connecting to the client")
            }
            Err(ConnectError::Refused) if may_retry => {
                may_retry = false;
                continue;
            }
            Err(ConnectError::Refused) => {
                return ctx
                    .reply
                    .error("IOERR error or timeout writing to target instance")
            }
        };
        let select = socket.last_dbid != dbid;
        let outcome = transfer(
            socket,
            &request.bytes(select, dbid),
            &options,
            select,
            found.len(),
        );
        if outcome.target_error.is_some() {
            socket.last_dbid = -1;
        } else if outcome.socket_error.is_none() {
            socket.last_dbid = dbid;
        }
        if !options.copy {
            for &j in &outcome.acked {
                let (keys, _) = ctx.keys();
                keys.db.remove(found[j].0);
                ctx.notify(crate::notify::GENERIC, "del", found[j].0);
            }
        }
        if let Some(error) = outcome.target_error {
            if outcome.socket_error.is_some() {
                ctx.state.migrate_sockets.close(&name);
            }
            return ctx
                .reply
                .error_bytes(&[&b"ERR Target instance replied with error: "[..], &error].concat());
        }
        match outcome.socket_error {
            None => return ctx.reply.ok(),
            Some(failure) => {
                ctx.state.migrate_sockets.close(&name);
                // Nothing reached the target and it was not a timeout: the
                // cached connection had likely been closed; try once more.
                let retry = may_retry && failure.before_first_reply && !failure.timed_out;
                if retry {
                    may_retry = false;
                    continue;
                }
                let stage = if failure.writing {
                    "writing"
                } else {
                    "reading"
                };
                return ctx.reply.error(&format!(
                    "IOERR error or timeout {stage} to target instance"
                ));
            }
        }
    }
}

/// The bytes MIGRATE sends: the AUTH, then (when the target is not known
/// to have the database selected) a SELECT, then one RESTORE per key.
struct Request {
    auth: Vec<u8>,
    restores: Vec<u8>,
}

impl Request {
    fn bytes(&self, select: bool, dbid: i64) -> Vec<u8> {
        let mut out = self.auth.clone();
        if select {
            push_command(&mut out, &[b"SELECT", dbid.to_string().as_bytes()]);
        }
        out.extend_from_slice(&self.restores);
        out
    }
}

fn restore_requests(options: &Options, found: &[(&[u8], i64, Vec<u8>)]) -> Request {
    let mut auth = Vec::new();
    match options.auth {
        Some((Some(user), password)) => push_command(&mut auth, &[b"AUTH", user, password]),
        Some((None, password)) => push_command(&mut auth, &[b"AUTH", password]),
        None => {}
    }
    let mut restores = Vec::new();
    for (key, ttl, payload) in found {
        let ttl = ttl.to_string();
        let mut argv: Vec<&[u8]> = vec![b"RESTORE", key, ttl.as_bytes(), payload];
        if options.replace {
            argv.push(b"REPLACE");
        }
        push_command(&mut restores, &argv);
    }
    Request { auth, restores }
}

fn push_command(out: &mut Vec<u8>, argv: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
    for arg in argv {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// How the exchange with the target went.
struct Outcome {
    /// Indexes of the keys the target restored.
    acked: Vec<usize>,
    /// The first error the target replied, without its `-`.
    target_error: Option<Vec<u8>>,
    socket_error: Option<SocketFailure>,
}

struct SocketFailure {
    writing: bool,
    timed_out: bool,
    /// No RESTORE reply had been read.
    before_first_reply: bool,
}

fn transfer(
    socket: &mut MigrateSocket,
    request: &[u8],
    options: &Options,
    select: bool,
    num_keys: usize,
) -> Outcome {
    let mut outcome = Outcome {
        acked: Vec::new(),
        target_error: None,
        socket_error: None,
    };
    let fail = |e: &io::Error, writing: bool, before_first_reply: bool| SocketFailure {
        writing,
        timed_out: matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        before_first_reply,
    };
    if let Err(e) = socket.stream.get_mut().write_all(request) {
        outcome.socket_error = Some(fail(&e, true, true));
        return outcome;
    }
    let mut preamble_error = None;
    for expected in [options.auth.is_some(), select] {
        if !expected {
            continue;
        }
        match read_line(&mut socket.stream) {
            Ok(line) => {
                if line.first() == Some(&b'-') && preamble_error.is_none() {
                    preamble_error = Some(line[1..].to_vec());
                }
            }
            Err(e) => {
                outcome.socket_error = Some(fail(&e, false, true));
                return outcome;
            }
        }
    }
    for j in 0..num_keys {
        let line = match read_line(&mut socket.stream) {
            Ok(line) => line,
            Err(e) => {
                outcome.socket_error = Some(fail(&e, false, j == 0));
                break;
            }
        };
        let error = preamble_error
            .clone()
            .or_else(|| (line.first() == Some(&b'-')).then(|| line[1..].to_vec()));
        match error {
            Some(error) => {
                outcome.target_error.get_or_insert(error);
            }
            None => outcome.acked.push(j),
        }
    }
    outcome
}

/// One reply line, without its CRLF; at most 1 KB is kept, as Redis's
/// `syncReadLine` keeps.
fn read_line(stream: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    stream
        .by_ref()
        .take(MAX_REPLY_LINE)
        .read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(line)
}
