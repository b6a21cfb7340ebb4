//! One connection's state machine, and the only code that reads or writes a
//! client socket. A client owns its query buffer (inside the
//! [`RequestParser`]), its pending output (a [`Reply`]) and what `CLIENT
//! LIST` reports about it. The server decides when to read, run commands,
//! write and close; this module does the I/O and keeps the byte counts.

use crate::protocol::{Reply, RequestParser};
use crate::stream::{Peer, Stream};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::time::Instant;

/// Bytes asked of the socket per read (Redis's `PROTO_IOBUF_LEN`).
pub const READ_CHUNK: usize = 16 * 1024;

/// Bytes read from one client per loop iteration before others get a turn.
pub const MAX_READ_PER_ITERATION: usize = 4 * READ_CHUNK;

/// Bytes written to one client per loop iteration (Redis's
/// `NET_MAX_WRITES_PER_EVENT`), so a fat reply cannot starve the others.
pub const MAX_WRITE_PER_ITERATION: usize = 64 * 1024;

/// An output buffer bigger than this is released once drained, so one big
/// reply does not pin memory for the client's lifetime.
const REPLY_KEEP_CAPACITY: usize = 64 * 1024;

/// When the client is to be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    No,
    /// QUIT, a protocol error, EOF: flush the pending reply, then close.
    AfterReply,
    /// Killed, I/O error, limits: close at the end of this event batch.
    Now,
}

/// What a read found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Bytes arrived; `drained` is true when the socket has no more for now.
    Data {
        bytes: usize,
        drained: bool,
    },
    /// Nothing to read now.
    WouldBlock,
    /// The peer closed its side.
    Eof,
    Failed,
}

/// What a write achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// All pending output went out.
    Drained,
    /// The socket is full: wait for WRITABLE.
    WouldBlock,
    /// The per-iteration cap was reached with output left.
    Capped,
    Failed,
}

pub struct Client {
    pub id: u64,
    pub socket: Stream,
    pub addr: Peer,
    pub local_addr: Peer,
    pub fd: i32,
    pub name: Option<Vec<u8>>,
    pub db: usize,
    pub created: Instant,
    pub last_interaction: Instant,
    /// Full name of the last command run, e.g. `client|list`.
    pub last_command: &'static str,
    /// The ACL user's slot in `state.users` (the default user is 0).
    pub user: usize,
    /// Logged in, or never needed to (Redis's `c->authenticated`).
    pub authenticated: bool,
    pub no_evict: bool,
    /// The buffer bytes last added to the server's total (see
    /// `account_buffers`).
    pub accounted_buffers: usize,
    /// The TLS session of a client of the `tls-port`.
    pub tls: Option<Box<crate::tls::Session>>,
    /// In MONITOR mode: hears every command the server runs.
    pub monitor: bool,
    pub subscriptions: Subscriptions,
    /// Client-side caching settings while `CLIENT TRACKING` is on.
    pub tracking: Option<Box<crate::tracking::ClientTracking>>,
    /// Accepted on `metrics-port`: an HTTP scrape or nothing.
    pub scrapes_only: bool,
    /// EXEC is running this client's transaction: (commands, bytes).
    pub exec_running: Option<(usize, usize)>,
    /// Whether the first bytes said RESP (or an HTTP scrape, see
    /// `metrics`).
    pub protocol_known: bool,
    /// `CLIENT REPLY OFF`: replies are dropped.
    pub reply_off: bool,
    /// `CLIENT REPLY SKIP` ran: the next command's reply is dropped.
    pub skip_requested: bool,
    /// This command's reply is the one SKIP asked to drop (unless the
    /// command is CLIENT REPLY ON).
    pub skip_next: bool,
    /// Waiting for a paused server (`CLIENT PAUSE`) to run its commands;
    /// the one the pause caught is still in the query buffer.
    pub paused: bool,
    pub parser: RequestParser,
    pub reply: Reply,
    /// Bytes at the front of `reply` already written to the socket.
    pub sent: usize,
    pub closing: Closing,
    /// Registered for WRITABLE because a write would have blocked.
    pub wants_writable: bool,
    /// Listed in the server's pending-writes list.
    pub pending_write: bool,
    /// A read stopped at the per-iteration cap: the socket may hold more.
    pub unread_input: bool,
    /// The last `Coalescer` epoch this client was counted as pipelining in.
    pub pipeline_epoch: u64,
    /// In the `Napper`'s set: it sends one command per round trip, so its
    /// input ends the loop's coalescing naps.
    pub ends_naps: bool,
    /// An event reported the peer's FIN; reads go on until EOF.
    pub peer_closed: bool,
    /// Since when (Unix seconds) the output has been over the soft limit.
    pub soft_limit_since: Option<i64>,
    /// Set while the client waits in a blocking command.
    pub blocked: Option<Box<Blocked>>,
    /// Commands queued since MULTI.
    pub multi: Option<crate::cmd::multi::Transaction>,
    /// Keys under WATCH.
    pub watching: Vec<crate::cmd::multi::Watch>,
    /// A replica of this server (after REPLCONF or PSYNC): its settings
    /// and where it is in its synchronization.
    pub replica: Option<Box<crate::repl::ReplicaInfo>>,
    /// This server's master: its commands are applied, not answered.
    pub is_master: bool,
    /// The replication offset after this client's last write (WAIT waits
    /// for replicas to acknowledge it).
    pub woff: u64,
}

/// A client parked by BLPOP and friends: what it waits for, until when, and
/// the command to run again when a key it waits on gets elements.
/// A client's pub/sub subscriptions, in the order they were made.
#[derive(Default)]
pub struct Subscriptions {
    pub channels: Vec<Vec<u8>>,
    pub patterns: Vec<Vec<u8>>,
    pub shard: Vec<Vec<u8>>,
}

impl Subscriptions {
    /// Any subscription at all: the client is in pub/sub mode.
    pub fn any(&self) -> bool {
        !(self.channels.is_empty() && self.patterns.is_empty() && self.shard.is_empty())
    }
}

pub struct Blocked {
    pub db: usize,
    pub keys: Vec<Vec<u8>>,
    pub deadline: Option<Instant>,
    pub command: crate::protocol::request::OwnedArgs,
}

impl Blocked {
    /// An XREADGROUP, which is told when its stream goes rather than
    /// waiting on.
    pub fn is_group_read(&self) -> bool {
        self.command
            .args()
            .get(0)
            .eq_ignore_ascii_case(b"xreadgroup")
    }
}

impl Client {
    pub fn new(id: u64, socket: Stream, addr: Peer, now: Instant) -> Self {
        let local_addr = match (&socket, &addr) {
            (Stream::Tcp(s), Peer::Tcp(peer)) => Peer::Tcp(s.local_addr().unwrap_or(*peer)),
            _ => addr.clone(),
        };
        let fd = socket.as_raw_fd();
        Self {
            id,
            socket,
            addr,
            local_addr,
            fd,
            name: None,
            db: 0,
            created: now,
            last_interaction: now,
            last_command: "NULL",
            user: crate::acl::Users::DEFAULT,
            authenticated: true,
            no_evict: false,
            accounted_buffers: 0,
            tls: None,
            monitor: false,
            subscriptions: Subscriptions::default(),
            tracking: None,
            protocol_known: false,
            exec_running: None,
            scrapes_only: false,
            reply_off: false,
            skip_requested: false,
            skip_next: false,
            paused: false,
            parser: RequestParser::new(),
            reply: Reply::new(),
            sent: 0,
            closing: Closing::No,
            wants_writable: false,
            pending_write: false,
            unread_input: false,
            pipeline_epoch: 0,
            ends_naps: false,
            peer_closed: false,
            soft_limit_since: None,
            blocked: None,
            multi: None,
            watching: Vec::new(),
            replica: None,
            is_master: false,
            woff: 0,
        }
    }

    /// Whether this client is a replica being synchronized or fed.
    pub fn is_replica(&self) -> bool {
        self.replica
            .as_ref()
            .is_some_and(|r| r.phase != crate::repl::Phase::Handshake)
    }

    /// Brings the server's total of replica buffer bytes up to date with
    /// this client's (nothing unless it is a replica). The loop calls it
    /// after reading and writing, and after handing replicas the stream:
    /// `maxmemory` eviction leaves a replica's buffers out, as Redis does,
    /// the stream held behind a snapshot included.
    pub fn account_buffers(&mut self, total: &mut usize) {
        let now = match self.replica.as_deref() {
            Some(info) if info.phase != crate::repl::Phase::Handshake => {
                self.parser.capacity() + self.reply.capacity() + info.held.capacity()
            }
            _ => 0,
        };
        *total += now;
        *total -= std::mem::replace(&mut self.accounted_buffers, now);
    }

    /// Memory the client holds: itself, its query and reply buffers, a
    /// queued transaction, and the entries of its watched keys,
    /// subscriptions and tracking prefixes (CLIENT LIST's `tot-mem` outside
    /// a command). Those count their entries, not their names, as Redis's
    /// `getClientMemoryUsage` counts them; that keeps the sum O(1).
    pub fn memory_usage(&self) -> usize {
        let queued = self
            .multi
            .as_ref()
            .map_or(0, |t| t.queued.iter().map(|q| q.memory()).sum());
        let subs = &self.subscriptions;
        let subscribed =
            subs.channels.capacity() + subs.patterns.capacity() + subs.shard.capacity();
        std::mem::size_of::<Client>()
            + self.parser.capacity()
            + self.reply.capacity()
            + queued
            + self.watching.capacity() * std::mem::size_of::<crate::cmd::multi::Watch>()
            + subscribed * std::mem::size_of::<Vec<u8>>()
            + self.tracking.as_ref().map_or(0, |t| {
                std::mem::size_of::<crate::tracking::ClientTracking>()
                    + t.prefixes.len() * std::mem::size_of::<Vec<u8>>()
            })
    }

    /// Output not yet written to the socket (with TLS, a record rustls
    /// holds counts as one byte).
    /// The `client-output-buffer-limit` class that holds this client
    /// (Redis's `getClientType`): replicas, subscribers, and everyone
    /// else, monitors and the master's link included.
    pub fn output_class(&self) -> crate::config::OutputClass {
        if self.is_replica() {
            crate::config::OutputClass::Replica
        } else if self.subscriptions.any() {
            crate::config::OutputClass::Pubsub
        } else {
            crate::config::OutputClass::Normal
        }
    }

    /// Whether the output passed the limits of the client's class (Redis's
    /// `checkClientOutputBufferLimits`): the hard limit, or the soft limit
    /// for more than its seconds, counted in whole seconds as Redis
    /// counts them. A replica's output includes the stream held behind
    /// its snapshot.
    pub fn output_limit_reached(&mut self, limits: &[crate::config::OutputLimit; 3]) -> bool {
        let class = self.output_class();
        let limit = limits[class as usize];
        let mut used = self.pending_output() as u64;
        if class == crate::config::OutputClass::Replica {
            used += self.replica.as_ref().map_or(0, |r| r.held.len() as u64);
        }
        let hard = limit.hard > 0 && used >= limit.hard;
        if limit.soft == 0 || used < limit.soft {
            self.soft_limit_since = None;
            return hard;
        }
        let now = crate::state::unix_millis() / 1000;
        let since = *self.soft_limit_since.get_or_insert(now);
        hard || now - since > limit.soft_seconds as i64
    }

    pub fn pending_output(&self) -> usize {
        let tls = self.tls.as_ref().is_some_and(|t| t.wants_write());
        self.reply.len() - self.sent + usize::from(tls)
    }

    /// Reads once into the query buffer, at most `READ_CHUNK` bytes.
    pub fn read(&mut self) -> ReadOutcome {
        if self.tls.is_some() {
            return self.read_tls();
        }
        let big_bulk = self.parser.big_bulk_remaining();
        let buf = self.parser.buffer_mut();
        match big_bulk {
            Some(left) => buf.reserve_exact(left.max(READ_CHUNK)),
            None => buf.reserve(READ_CHUNK),
        }
        let spare = &mut buf.spare_capacity_mut()[..READ_CHUNK];
        match self.socket.recv(spare) {
            Ok(0) => ReadOutcome::Eof,
            Ok(n) => {
                // SAFETY: `recv` initialised the first `n` bytes of the spare
                // capacity, which directly follows the initialised part.
                unsafe { buf.set_len(buf.len() + n) };
                // Edge-triggered readiness fires again on new data, so a short
                // read means the socket is drained: no extra read to hear
                // EAGAIN (nginx relies on the same property).
                ReadOutcome::Data {
                    bytes: n,
                    drained: n < READ_CHUNK,
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => ReadOutcome::WouldBlock,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => ReadOutcome::Data {
                bytes: 0,
                drained: false,
            },
            Err(e) => {
                log::debug!("Reading from client: {e}");
                ReadOutcome::Failed
            }
        }
    }

    /// Reads what the socket has through TLS: one read of ciphertext,
    /// then every byte of plaintext it completed into the query buffer.
    /// Handshake messages rustls has to answer go out at once.
    fn read_tls(&mut self) -> ReadOutcome {
        let Some(tls) = self.tls.as_deref_mut() else {
            return ReadOutcome::Failed;
        };
        let mut socket = &self.socket;
        let (mut eof, mut would_block) = (false, false);
        match tls.read_tls(&mut socket) {
            Ok(0) => eof = true,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => would_block = true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log::debug!("Reading from client: {e}");
                return ReadOutcome::Failed;
            }
        }
        let plaintext = match tls.process_new_packets() {
            Ok(state) => state.plaintext_bytes_to_read(),
            Err(e) => {
                // Tell the peer why (the alert rustls queued), then close.
                log::debug!("Error accepting a client connection: {e}");
                let _ = tls.write_tls(&mut socket);
                return ReadOutcome::Failed;
            }
        };
        let buf = self.parser.buffer_mut();
        let mut bytes = 0;
        if plaintext > 0 {
            let start = buf.len();
            buf.resize(start + plaintext, 0);
            loop {
                match tls.reader().read(&mut buf[start + bytes..]) {
                    Ok(0) => break,
                    Ok(n) => bytes += n,
                    Err(_) => break,
                }
                if start + bytes == buf.len() {
                    break;
                }
            }
            buf.truncate(start + bytes);
        }
        while tls.wants_write() {
            match tls.write_tls(&mut socket) {
                Ok(0) => return ReadOutcome::Failed,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        if eof && bytes == 0 {
            ReadOutcome::Eof
        } else if would_block && bytes == 0 {
            ReadOutcome::WouldBlock
        } else {
            ReadOutcome::Data {
                bytes,
                drained: would_block,
            }
        }
    }

    /// Writes pending output through TLS: encrypted records rustls holds
    /// first, then more of the reply handed to it. Counts plaintext, as
    /// Redis counts what `SSL_write` took.
    fn write_tls(&mut self) -> (WriteOutcome, usize) {
        let mut written = 0;
        let Some(tls) = self.tls.as_deref_mut() else {
            return (WriteOutcome::Failed, 0);
        };
        let mut socket = &self.socket;
        let outcome = loop {
            if tls.wants_write() {
                match tls.write_tls(&mut socket) {
                    Ok(0) => break WriteOutcome::Failed,
                    Ok(_) => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        break WriteOutcome::WouldBlock
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        log::debug!("Error writing to client: {e}");
                        break WriteOutcome::Failed;
                    }
                }
            }
            if self.sent == self.reply.len() {
                self.sent = 0;
                self.reply.clear(REPLY_KEEP_CAPACITY);
                break WriteOutcome::Drained;
            }
            if written >= MAX_WRITE_PER_ITERATION {
                break WriteOutcome::Capped;
            }
            match tls.writer().write(&self.reply.as_bytes()[self.sent..]) {
                Ok(n) if n > 0 || tls.wants_write() => {
                    self.sent += n;
                    written += n;
                }
                _ => break WriteOutcome::Failed,
            }
        };
        (outcome, written)
    }

    /// Writes pending output, up to `MAX_WRITE_PER_ITERATION` bytes. Returns
    /// the outcome and the bytes written.
    pub fn write(&mut self) -> (WriteOutcome, usize) {
        let (outcome, written) = if self.tls.is_some() {
            self.write_tls()
        } else {
            self.write_plain()
        };
        // A slow reader with a long backlog: drop what was sent so the buffer
        // does not hold it forever, but only when that halves the buffer, so
        // the copying stays amortised.
        if self.sent > REPLY_KEEP_CAPACITY && self.sent * 2 > self.reply.len() {
            self.reply.consume(self.sent);
            self.sent = 0;
        }
        (outcome, written)
    }

    fn write_plain(&mut self) -> (WriteOutcome, usize) {
        let mut written = 0;
        let outcome = loop {
            if self.sent == self.reply.len() {
                self.sent = 0;
                self.reply.clear(REPLY_KEEP_CAPACITY);
                break WriteOutcome::Drained;
            }
            if written >= MAX_WRITE_PER_ITERATION {
                break WriteOutcome::Capped;
            }
            match (&self.socket).write(&self.reply.as_bytes()[self.sent..]) {
                Ok(0) => break WriteOutcome::Failed,
                Ok(n) => {
                    self.sent += n;
                    written += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break WriteOutcome::WouldBlock,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::debug!("Error writing to client: {e}");
                    break WriteOutcome::Failed;
                }
            }
        };
        (outcome, written)
    }

    /// Writes a reply to a connection that is refused before it becomes a
    /// client (max clients reached); best effort, as in Redis.
    pub fn refuse(socket: Stream, message: &[u8]) {
        let mut socket = &socket;
        let _ = socket.write(message);
        // The FIN follows the message; what the client already sent is
        // read and dropped, so closing does not reset the connection (a
        // reset can discard the message before the client reads it).
        let _ = socket.shutdown_write();
        let mut sink = [0u8; 4096];
        while matches!(socket.read(&mut sink), Ok(n) if n > 0) {}
    }

    pub fn idle_secs(&self, now: Instant) -> u64 {
        now.duration_since(self.last_interaction).as_secs()
    }
}
