//! The replica side's connection to its master until it carries the
//! command stream (Redis's `syncWithMaster` and `readSyncBulkPayload`):
//! the handshake, then the snapshot, read into a temp file as it arrives.
//! Nothing here blocks; the loop calls `advance` when the socket is ready.
//!
//! The handshake is sent in one write (PING, AUTH, REPLCONF, PSYNC) and
//! the replies are read in order. PING may be refused for want of AUTH;
//! REPLCONF errors are only logged, as Redis does.

use log::{info, warn};
use mio::net::TcpStream;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

/// The longest handshake reply line accepted.
const MAX_LINE: usize = 64 * 1024;

/// What the master said about the synchronization.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing new (the socket would block).
    Wait,
    /// `+FULLRESYNC <replid> <offset>`: a snapshot follows.
    FullSync { replid: String, offset: u64 },
    /// The whole snapshot is in the temp file; `leftover` is the stream
    /// that followed it.
    Loaded { leftover: Vec<u8> },
    /// The snapshot follows on the socket, for the loader to read as it
    /// comes (diskless load): `size` bytes, or up to the end `mark`.
    /// `input` is what already arrived.
    ToParser {
        size: Option<u64>,
        mark: Option<Vec<u8>>,
        input: Vec<u8>,
    },
    /// `+CONTINUE [replid]`: the stream follows from where this server
    /// stopped.
    Continue {
        replid: Option<String>,
        leftover: Vec<u8>,
    },
    /// The master refused or the link broke; try again later.
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Ping,
    Auth,
    Replconf,
    Psync,
    BulkHeader,
    Bulk,
}

/// The snapshot on its way to disk.
struct Payload {
    file: BufWriter<File>,
    /// Bytes left to read, or the end mark of a snapshot of unknown length.
    remaining: Option<u64>,
    mark: Option<Vec<u8>>,
    /// The last bytes read, held back while they could be the mark.
    tail: Vec<u8>,
}

pub struct Handshake {
    pub socket: TcpStream,
    pub connected: bool,
    out: Vec<u8>,
    /// PSYNC waits for the other replies: a master refuses it while
    /// replies are pending.
    psync: Vec<u8>,
    /// What is logged when PSYNC goes.
    psync_note: String,
    input: Vec<u8>,
    expect: std::collections::VecDeque<Expect>,
    payload: Option<Payload>,
    pub temp_path: PathBuf,
    /// Snapshot bytes read so far, and expected (None: until the mark).
    pub read: u64,
    pub size: Option<u64>,
    pub last_io: Instant,
    /// The snapshot goes to the loader rather than to disk
    /// (`repl-diskless-load`), decided when `+FULLRESYNC` came.
    pub to_parser: bool,
}

/// What this server tells its master about itself.
pub struct Hello<'a> {
    pub user: &'a str,
    pub password: &'a str,
    pub listening_port: u16,
    pub announce_ip: &'a str,
    pub replid: &'a str,
    /// The first byte wanted (this server's offset + 1), or -1.
    pub offset: &'a str,
    /// A FAILOVER hands the master role over: PSYNC tells the replica.
    pub failover: bool,
}

/// A non-blocking connect to `addr`, bound first to `source` if that is
/// an address of this host's family (otherwise the kernel picks).
fn connect_from(source: &str, addr: std::net::SocketAddr) -> io::Result<TcpStream> {
    let source = source
        .parse::<std::net::IpAddr>()
        .ok()
        .filter(|ip| ip.is_ipv4() == addr.is_ipv4());
    let Some(ip) = source else {
        return TcpStream::connect(addr);
    };
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_nonblocking(true)?;
    if let Err(e) = socket.bind(&std::net::SocketAddr::new(ip, 0).into()) {
        log::debug!("bind-source-addr {ip} not usable: {e}");
        return TcpStream::connect(addr);
    }
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from_std(socket.into()))
}

impl Handshake {
    /// Starts connecting to the master, from `source` when it is set
    /// (`bind-source-addr`) and can be bound to, as Redis's best-effort
    /// bind does.
    pub fn connect(
        host: &str,
        port: u16,
        source: &str,
        temp_path: PathBuf,
    ) -> io::Result<Handshake> {
        use std::net::ToSocketAddrs;
        let addr = (host, port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
        let socket = connect_from(source, addr)?;
        Ok(Handshake {
            socket,
            connected: false,
            out: Vec::new(),
            psync: Vec::new(),
            psync_note: String::new(),
            input: Vec::new(),
            expect: Default::default(),
            payload: None,
            temp_path,
            read: 0,
            size: None,
            last_io: Instant::now(),
            to_parser: false,
        })
    }

    /// The TCP connection is up: queue the handshake.
    pub fn start(&mut self, hello: &Hello) {
        self.connected = true;
        let _ = self.socket.set_nodelay(true);
        let mut command = |argv: &[&[u8]], expect: Expect| {
            crate::propagate::encode_command(&mut self.out, argv);
            self.expect.push_back(expect);
        };
        command(&[b"PING"], Expect::Ping);
        if !hello.password.is_empty() {
            if hello.user.is_empty() {
                command(&[b"AUTH", hello.password.as_bytes()], Expect::Auth);
            } else {
                command(
                    &[b"AUTH", hello.user.as_bytes(), hello.password.as_bytes()],
                    Expect::Auth,
                );
            }
        }
        let port = hello.listening_port.to_string();
        command(
            &[b"REPLCONF", b"listening-port", port.as_bytes()],
            Expect::Replconf,
        );
        if !hello.announce_ip.is_empty() {
            command(
                &[b"REPLCONF", b"ip-address", hello.announce_ip.as_bytes()],
                Expect::Replconf,
            );
        }
        command(
            &[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"],
            Expect::Replconf,
        );
        let mut psync: Vec<&[u8]> =
            vec![b"PSYNC", hello.replid.as_bytes(), hello.offset.as_bytes()];
        if hello.failover {
            psync.push(b"FAILOVER");
        }
        crate::propagate::encode_command(&mut self.psync, &psync);
        self.expect.push_back(Expect::Psync);
        self.psync_note = if hello.replid == "?" {
            "Partial resynchronization not possible (no cached master)".into()
        } else {
            format!(
                "Trying a partial resynchronization (request {}:{}).",
                hello.replid, hello.offset
            )
        };
    }

    /// Whether the snapshot is being received.
    pub fn in_transfer(&self) -> bool {
        matches!(self.expect.front(), Some(Expect::BulkHeader | Expect::Bulk))
    }

    /// Writes what is queued, reads what arrived and moves on as far as
    /// it can.
    pub fn advance(&mut self) -> Step {
        if let Err(e) = self.flush() {
            return Step::Failed(format!("Error writing to MASTER: {e}"));
        }
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.socket.read(&mut buf) {
                Ok(0) => return Step::Failed("MASTER aborted replication: connection lost".into()),
                Ok(n) => {
                    self.last_io = Instant::now();
                    if self.payload.is_some() {
                        if let Err(e) = self.take_payload(&buf[..n]) {
                            return Step::Failed(e);
                        }
                    } else {
                        self.input.extend_from_slice(&buf[..n]);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Step::Failed(format!("Error reading from MASTER: {e}")),
            }
            match self.step() {
                Step::Wait => {}
                step => return step,
            }
        }
        self.step()
    }

    fn flush(&mut self) -> io::Result<()> {
        while !self.out.is_empty() {
            match self.socket.write(&self.out) {
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Consumes whole replies from the input.
    fn step(&mut self) -> Step {
        loop {
            if self.payload.is_some() {
                return self.payload_done();
            }
            let Some(&expect) = self.expect.front() else {
                return Step::Wait;
            };
            if expect == Expect::Psync && !self.psync.is_empty() {
                let psync = std::mem::take(&mut self.psync);
                self.out.extend_from_slice(&psync);
                info!("{}", self.psync_note);
                if let Err(e) = self.flush() {
                    return Step::Failed(format!("Error writing to MASTER: {e}"));
                }
            }
            let Some(end) = self
                .input
                .windows(2)
                .position(|w| w == b"\r\n")
                .or_else(|| {
                    // A lone newline is the master's keepalive.
                    (self.input.first() == Some(&b'\n')).then_some(usize::MAX)
                })
            else {
                // A reply line is short; a master that sends megabytes
                // without an end of line is not speaking the protocol.
                if self.input.len() > MAX_LINE {
                    return Step::Failed("Bad protocol from MASTER: reply line too long".into());
                }
                return Step::Wait;
            };
            if end == usize::MAX {
                self.input.remove(0);
                continue;
            }
            let line: Vec<u8> = self.input.drain(..end + 2).take(end).collect();
            let line = String::from_utf8_lossy(&line)
                .trim_start_matches('\n')
                .to_string();
            if line.is_empty() {
                continue;
            }
            match expect {
                Expect::Ping => {
                    let allowed = line.starts_with('+')
                        || line.starts_with("-NOAUTH")
                        || line.starts_with("-NOPERM")
                        || line.starts_with("-ERR operation not permitted");
                    if !allowed {
                        // (Whatever the first character is: the line is
                        // the master's, not trusted to be a reply.)
                        let text = line.get(1..).unwrap_or(&line);
                        return Step::Failed(format!("Error reply to PING from master: '{text}'"));
                    }
                    info!("Master replied to PING, replication can continue...");
                }
                Expect::Auth if line.starts_with('-') => {
                    let error = line.strip_prefix('-').unwrap_or(&line);
                    return Step::Failed(format!("Unable to AUTH to MASTER: {error}"));
                }
                Expect::Auth => {}
                Expect::Replconf => {
                    if let Some(error) = line.strip_prefix('-') {
                        warn!("(Non critical) Master does not understand REPLCONF: {error}");
                    }
                }
                Expect::Psync => {
                    self.expect.pop_front();
                    return self.psync_reply(&line);
                }
                Expect::BulkHeader => return self.bulk_header(&line),
                Expect::Bulk => {}
            }
            self.expect.pop_front();
        }
    }

    fn psync_reply(&mut self, line: &str) -> Step {
        if let Some(rest) = line.strip_prefix("+FULLRESYNC") {
            let mut words = rest.split_whitespace();
            let replid = words.next().unwrap_or_default().to_string();
            let offset = words.next().and_then(|o| o.parse().ok()).unwrap_or(0);
            self.expect.push_back(Expect::BulkHeader);
            return Step::FullSync { replid, offset };
        }
        if let Some(rest) = line.strip_prefix("+CONTINUE") {
            let replid = rest.split_whitespace().next().map(str::to_string);
            return Step::Continue {
                replid,
                leftover: std::mem::take(&mut self.input),
            };
        }
        Step::Failed(format!(
            "Unexpected reply to PSYNC from master: {}",
            line.trim_start_matches(['-', '+'])
        ))
    }

    /// `$<length>` or `$EOF:<40 bytes of mark>`: the snapshot starts.
    fn bulk_header(&mut self, line: &str) -> Step {
        let Some(header) = line.strip_prefix('$') else {
            return Step::Failed(format!(
                "Bad protocol from MASTER, the first byte is not '$' (we received '{line}'), are you sure the host and port are right?"
            ));
        };
        let (remaining, mark) = match header.strip_prefix("EOF:") {
            Some(mark) if mark.len() == 40 => (None, Some(mark.as_bytes().to_vec())),
            Some(_) => return Step::Failed("Bad EOF mark from MASTER".into()),
            None => match header.parse::<u64>() {
                Ok(len) => (Some(len), None),
                Err(_) => return Step::Failed(format!("Bad bulk length from MASTER: {header}")),
            },
        };
        let target = if self.to_parser { "parser" } else { "disk" };
        if mark.is_some() {
            info!(
                "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to {target}"
            );
        } else {
            info!(
                "MASTER <-> REPLICA sync: receiving {} bytes from master to {target}",
                remaining.unwrap_or(0)
            );
        }
        if self.to_parser {
            self.expect.clear();
            return Step::ToParser {
                size: remaining,
                mark,
                input: std::mem::take(&mut self.input),
            };
        }
        let file = match File::create(&self.temp_path) {
            Ok(file) => file,
            Err(e) => {
                return Step::Failed(format!(
                    "Opening the temp file needed for MASTER <-> REPLICA synchronization: {e}"
                ))
            }
        };
        self.size = remaining;
        self.expect.pop_front();
        self.expect.push_back(Expect::Bulk);
        self.payload = Some(Payload {
            file: BufWriter::with_capacity(64 * 1024, file),
            remaining,
            mark,
            tail: Vec::new(),
        });
        let rest = std::mem::take(&mut self.input);
        if let Err(e) = self.take_payload(&rest) {
            return Step::Failed(e);
        }
        // All of it may have come with the header.
        self.payload_done()
    }

    /// Snapshot bytes: to the file, up to the length or the mark; what
    /// follows is stream.
    fn take_payload(&mut self, bytes: &[u8]) -> Result<(), String> {
        let Some(payload) = self.payload.as_mut() else {
            self.input.extend_from_slice(bytes);
            return Ok(());
        };
        let write_error = |e: io::Error| {
            format!("Write error or short write writing to the DB dump file needed for MASTER <-> REPLICA synchronization: {e}")
        };
        match (payload.remaining, &payload.mark) {
            (Some(left), _) => {
                let take = (left as usize).min(bytes.len());
                payload
                    .file
                    .write_all(&bytes[..take])
                    .map_err(write_error)?;
                payload.remaining = Some(left - take as u64);
                self.read += take as u64;
                self.input.extend_from_slice(&bytes[take..]);
            }
            (None, Some(mark)) => {
                let mark = mark.clone();
                payload.tail.extend_from_slice(bytes);
                if let Some(at) = payload
                    .tail
                    .windows(mark.len())
                    .position(|w| w == mark.as_slice())
                {
                    payload
                        .file
                        .write_all(&payload.tail[..at])
                        .map_err(write_error)?;
                    self.read += at as u64;
                    let after = payload.tail.split_off(at + mark.len());
                    payload.tail.clear();
                    payload.remaining = Some(0);
                    self.input.extend_from_slice(&after);
                } else if payload.tail.len() > mark.len() {
                    let keep_from = payload.tail.len() - mark.len();
                    payload
                        .file
                        .write_all(&payload.tail[..keep_from])
                        .map_err(write_error)?;
                    self.read += keep_from as u64;
                    payload.tail.drain(..keep_from);
                }
            }
            (None, None) => {}
        }
        Ok(())
    }

    fn payload_done(&mut self) -> Step {
        let Some(payload) = self.payload.as_mut() else {
            return Step::Wait;
        };
        if payload.remaining != Some(0) {
            return Step::Wait;
        }
        let Some(payload) = self.payload.take() else {
            return Step::Wait;
        };
        let synced = payload
            .file
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|file| file.sync_all());
        if let Err(e) = synced {
            return Step::Failed(format!(
                "Failed trying to sync the temp DB to disk in MASTER <-> REPLICA synchronization: {e}"
            ));
        }
        self.expect.clear();
        Step::Loaded {
            leftover: std::mem::take(&mut self.input),
        }
    }
}
