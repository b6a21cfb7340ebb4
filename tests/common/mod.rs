//! Test support: start the real `rudis-server` binary (and, for
//! differential tests, a real `redis-server`) on free ports, and talk RESP
//! to them over TCP, reading replies as raw bytes.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One field of `INFO section`, or "" when it is missing.
pub fn info_field(conn: &mut Conn, section: &str, field: &str) -> String {
    let info = String::from_utf8(conn.run(&format!("INFO {section}"))).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or("")
        .to_string()
}

/// A port nobody listens on right now. Ports come from a per-process
/// sequence (not the kernel's ephemeral pick), so parallel tests in one
/// binary never race for the same port.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Below the kernel's ephemeral range (32768 and up): a client socket
    // there can connect to itself and pass for a listening server.
    let base = 10_000 + (std::process::id() % 250) * 40;
    loop {
        let port = (base + NEXT.fetch_add(1, Ordering::Relaxed) % 10_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// True once a server on `port` answers PING (a bare connect could reach
/// something else, or the socket itself).
pub fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .ok();
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    // A server with a password answers, but with -NOAUTH: it is up.
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && (&reply == b"+PONG\r\n" || &reply == b"-NOAUTH")
}

/// A new empty directory under the system's temp dir, unique to this
/// process and call.
pub fn fresh_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("rudis-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}

/// A server process, killed when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub port: u16,
    /// A directory made for this server, removed when it is dropped.
    pub owned_dir: Option<PathBuf>,
}

impl ServerProcess {
    /// Starts `rudis-server` with extra arguments: an optional config file
    /// first, then `--name value` pairs.
    /// Unless `--dir` is given, the server works in a fresh directory of
    /// its own, so snapshots never land in the source tree or leak
    /// between tests.
    pub fn rudis(extra: &[&str]) -> ServerProcess {
        let owned_dir = (!extra.contains(&"--dir")).then(|| fresh_dir("server"));
        let mut server = Self::start(|port| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_rudis-server"));
            cmd.args(extra).args(["--port", &port.to_string()]);
            if let Some(dir) = &owned_dir {
                cmd.arg("--dir").arg(dir);
            }
            if !extra.contains(&"--loglevel") {
                cmd.args(["--loglevel", "warning"]);
            }
            cmd
        });
        server.owned_dir = owned_dir;
        server
    }

    /// The reference `redis-server` with extra arguments, in a fresh
    /// directory of its own unless `--dir` is among them.
    pub fn redis_with(extra: &[&str]) -> ServerProcess {
        let owned_dir = (!extra.contains(&"--dir")).then(|| fresh_dir("redis"));
        let mut server = Self::start(|port| {
            let mut cmd = Command::new("redis-server");
            cmd.args(["--port", &port.to_string(), "--loglevel", "warning"]);
            if let Some(dir) = &owned_dir {
                cmd.arg("--dir").arg(dir);
            }
            cmd.args(extra);
            cmd
        });
        server.owned_dir = owned_dir;
        server
    }

    /// `rudis-server` on a given port (a restart), with extra arguments
    /// (`--dir` among them: a restart keeps its files).
    pub fn rudis_at(port: u16, extra: &[&str]) -> ServerProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rudis-server"));
        cmd.args(extra).args(["--port", &port.to_string()]);
        if !extra.contains(&"--loglevel") {
            cmd.args(["--loglevel", "warning"]);
        }
        Self::spawn(cmd, port).expect("rudis-server did not start on its port")
    }

    /// `redis-server` on a given port (a restart where its replicas or
    /// master know it), with extra arguments.
    pub fn redis_at(port: u16, extra: &[&str]) -> ServerProcess {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--loglevel", "warning"]);
        cmd.args(extra);
        Self::spawn(cmd, port).expect("redis-server did not start on its port")
    }

    /// `redis-sentinel` monitoring the master on `master_port` as
    /// `mymaster`, quorum 1, quick to call it down and to fail over.
    pub fn sentinel(master_port: u16) -> ServerProcess {
        let dir = fresh_dir("sentinel");
        let mut server = Self::start(|port| {
            let conf = dir.join(format!("sentinel-{port}.conf"));
            let text = format!(
                "port {port}\ndir {0}\nlogfile {0}/sentinel.log\nsentinel monitor mymaster 127.0.0.1 {master_port} 1\n\
                 sentinel down-after-milliseconds mymaster 1000\n\
                 sentinel failover-timeout mymaster 10000\n",
                dir.display(),
            );
            std::fs::write(&conf, text).expect("write sentinel config");
            let mut cmd = Command::new("redis-sentinel");
            cmd.arg(conf).args(["--loglevel", "warning"]);
            cmd
        });
        server.owned_dir = Some(dir);
        server
    }

    /// Starts the reference `redis-server`; the differential tests need it
    /// (`.ci/run` installs Debian's package). It works in a fresh directory
    /// of its own, so no stray dump.rdb is ever loaded.
    pub fn redis() -> ServerProcess {
        let dir = fresh_dir("redis");
        let mut server = Self::start(|port| {
            let mut cmd = Command::new("redis-server");
            cmd.args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
                "--loglevel",
                "warning",
            ])
            .arg("--dir")
            .arg(&dir);
            cmd
        });
        server.owned_dir = Some(dir);
        server
    }

    /// Starts a server on a free port, trying another port if the first
    /// was taken between the check and the server's bind.
    fn start(command_for: impl Fn(u16) -> Command) -> ServerProcess {
        for _ in 0..5 {
            let port = free_port();
            if let Some(server) = Self::spawn(command_for(port), port) {
                return server;
            }
        }
        panic!("no server could be started on a free port");
    }

    /// `None` if the process exits before answering (its port was taken).
    fn spawn(mut cmd: Command, port: u16) -> Option<ServerProcess> {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let mut server = ServerProcess {
            child,
            port,
            owned_dir: None,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !answers_ping(port) {
            assert!(
                Instant::now() < deadline,
                "server on port {port} did not start"
            );
            if let Ok(Some(_)) = server.child.try_wait() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Some(server)
    }

    pub fn connect(&self) -> Conn {
        Conn::new(self.port)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit by itself; returns its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.owned_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// One raw RESP connection.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn new(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
        stream.set_nodelay(true).ok();
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Sends a command as a multibulk request and reads one reply.
    pub fn cmd(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(&encode(args));
        self.read_reply()
    }

    /// Like `cmd`, with space-separated words.
    pub fn run(&mut self, line: &str) -> Vec<u8> {
        let words: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        self.cmd(&words)
    }

    /// Reads exactly one whole reply (any RESP2 or RESP3 type), raw.
    pub fn read_reply(&mut self) -> Vec<u8> {
        loop {
            if let Some(end) = reply_len(&self.buf) {
                return self.buf.drain(..end).collect();
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk).expect("read reply");
            assert!(
                n > 0,
                "connection closed; got so far: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads until the server closes the connection.
    /// Whatever has arrived and can be read without waiting.
    pub fn read_available(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        let mut buf = [0u8; 65536];
        self.stream.set_nonblocking(true).unwrap();
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        self.stream.set_nonblocking(false).unwrap();
        out
    }

    pub fn read_to_eof(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        let _ = self.stream.read_to_end(&mut out);
        out
    }

    /// True if the server closed the connection (reads EOF within `within`).
    pub fn is_closed(&mut self, within: Duration) -> bool {
        self.stream.set_read_timeout(Some(within)).ok();
        let mut byte = [0u8; 1024];
        loop {
            match self.stream.read(&mut byte) {
                Ok(0) => return true,
                Ok(n) => self.buf.extend_from_slice(&byte[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }
}

pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Length of the first complete RESP value in `buf`, if it is complete.
pub fn reply_len(buf: &[u8]) -> Option<usize> {
    let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&buf[1..line_end]).ok()?;
    let after = line_end + 2;
    match buf[0] {
        b'+' | b'-' | b':' | b',' | b'_' | b'#' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n: i64 = line.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n: i64 = line.parse().ok()?;
            let items = if buf[0] == b'%' || buf[0] == b'|' {
                2 * n
            } else {
                n
            };
            let mut at = after;
            for _ in 0..items.max(0) {
                at += reply_len(&buf[at..])?;
            }
            Some(at)
        }
        _ => panic!("not RESP: {:?}", String::from_utf8_lossy(buf)),
    }
}

/// Splits a script line into arguments with redis-cli's quoting rules
/// (`"a b"`, `""`, `"\x00"`).
pub fn words(line: &str) -> Vec<Vec<u8>> {
    rudis::protocol::request::split_config_line(line.as_bytes())
        .expect("balanced quotes in test script")
}

/// The elements of a top-level array reply, raw (for order-insensitive
/// comparison).
pub fn array_items(reply: &[u8]) -> Vec<Vec<u8>> {
    let header_end = reply.windows(2).position(|w| w == b"\r\n").expect("header");
    let count: i64 = std::str::from_utf8(&reply[1..header_end])
        .unwrap()
        .parse()
        .unwrap();
    let mut at = header_end + 2;
    let mut items = Vec::new();
    for _ in 0..count.max(0) {
        let len = reply_len(&reply[at..]).expect("complete item");
        items.push(reply[at..at + len].to_vec());
        at += len;
    }
    items
}

/// A real redis-server and rudis started alike, with no snapshots or AOF,
/// plus `extra` arguments for both: the two sides of a differential test.
pub fn server_pair(extra: &[&str]) -> (ServerProcess, ServerProcess) {
    let mut redis_args = vec!["--save", "", "--appendonly", "no"];
    redis_args.extend_from_slice(extra);
    let mut rudis_args = vec!["--save", ""];
    rudis_args.extend_from_slice(extra);
    (
        ServerProcess::redis_with(&redis_args),
        ServerProcess::rudis(&rudis_args),
    )
}

/// Runs `observe` on a redis-server and a rudis started alike and asserts
/// both saw the same: for steps a reply script cannot express (INFO
/// fields, files, signals, several connections).
pub fn assert_same_observations(observe: impl Fn(&ServerProcess) -> Vec<String>) {
    let (redis, rudis) = server_pair(&[]);
    assert_eq!(
        observe(&redis),
        observe(&rudis),
        "left: redis-server, right: rudis"
    );
}

/// Runs a script against real redis-server and rudis, one connection each,
/// and asserts the raw replies are identical. A line may start with a mark:
/// `~` compares the array reply as an unordered collection; `?` only checks
/// that both replies have the same RESP type (volatile values).
pub fn assert_same_replies(script: &[&str]) {
    assert_same_replies_with(&[], script);
}

/// [`assert_same_replies`] with the same extra arguments given to both
/// servers.
pub fn assert_same_replies_with(extra: &[&str], script: &[&str]) {
    let (redis, rudis) = server_pair(extra);
    let mut a = redis.connect();
    let mut b = rudis.connect();
    for line in script {
        let (mark, command) = match line.chars().next() {
            Some(m @ ('~' | '?')) => (Some(m), &line[1..]),
            _ => (None, *line),
        };
        let args = words(command);
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let expected = a.cmd(&refs);
        let got = b.cmd(&refs);
        let show = |r: &[u8]| String::from_utf8_lossy(r).into_owned();
        match mark {
            Some('~') if b"*~".contains(&expected[0]) => {
                let (mut x, mut y) = (array_items(&expected), array_items(&got));
                x.sort();
                y.sort();
                assert_eq!(
                    x.iter().map(|i| show(i)).collect::<Vec<_>>(),
                    y.iter().map(|i| show(i)).collect::<Vec<_>>(),
                    "unordered reply to {command:?}"
                );
            }
            Some('~') => assert_eq!(show(&expected), show(&got), "reply to {command:?}"),
            Some('?') => assert_eq!(
                expected[0] as char,
                got[0] as char,
                "reply type of {command:?}: {} vs {}",
                show(&expected),
                show(&got)
            ),
            _ => assert_eq!(
                show(&expected),
                show(&got),
                "reply to {command:?} (left: redis-server, right: rudis)"
            ),
        }
    }
}

/// Runs a script against real redis-server and rudis, one connection
/// each, and asserts every line moves `rdb_changes_since_last_save` by
/// the same amount (the count save points use) and appends the same
/// commands to the AOF (what replicas are sent too). A line may join
/// commands with " ; " (a transaction), counted together. A line marked
/// `?` logs chosen members (SPOP): only the names and lengths of the
/// commands logged are compared.
pub fn assert_same_changes(script: &[&str]) {
    assert_same_changes_with(&[], script);
}

/// [`assert_same_changes`] with the same extra arguments given to both
/// servers.
pub fn assert_same_changes_with(extra: &[&str], script: &[&str]) {
    let mut args = vec!["--appendonly", "yes", "--appendfsync", "always"];
    args.extend_from_slice(extra);
    let (redis, rudis) = server_pair(&args);
    let mut a = (redis.connect(), AofTail::new(&redis));
    let mut b = (rudis.connect(), AofTail::new(&rudis));
    for line in script {
        let (random, line) = match line.strip_prefix('?') {
            Some(rest) => (true, rest),
            None => (false, *line),
        };
        let changes = |(conn, aof): &mut (Conn, AofTail)| -> (i64, Vec<String>) {
            let count = |conn: &mut Conn| -> i64 {
                info_field(conn, "persistence", "rdb_changes_since_last_save")
                    .parse()
                    .unwrap()
            };
            let before = count(conn);
            for command in line.split(" ; ") {
                let args = words(command);
                let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                conn.cmd(&refs);
            }
            let mut logged = aof.appended();
            if random {
                for command in &mut logged {
                    let words: Vec<&str> = command.split(' ').collect();
                    *command = format!("{} <{} words>", words[0], words.len());
                }
            }
            (count(conn) - before, logged)
        };
        let (expected, got) = (changes(&mut a), changes(&mut b));
        assert_eq!(
            expected.0, got.0,
            "changes counted for {line:?} (left: redis-server, right: rudis)"
        );
        assert_eq!(
            expected.1, got.1,
            "logged for {line:?} (left: redis-server, right: rudis)"
        );
    }
}

/// What a server appends to its AOF, read command by command: the
/// incremental file of an `appendonlydir`, followed from where it was
/// last read.
pub struct AofTail {
    dir: PathBuf,
    read: usize,
}

impl AofTail {
    pub fn new(server: &ServerProcess) -> AofTail {
        let dir = server.owned_dir.clone().expect("a server with its own dir");
        let mut tail = AofTail {
            dir: dir.join("appendonlydir"),
            read: 0,
        };
        tail.appended();
        tail
    }

    /// The commands appended since the last call, one line each, with
    /// absolute times in milliseconds (13 digits) shown as `<ms>`, and
    /// stream IDs made of them as `<ms>-<seq>`.
    pub fn appended(&mut self) -> Vec<String> {
        let incremental = std::fs::read_dir(&self.dir)
            .expect("an appendonlydir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".incr.aof"))
            .max()
            .expect("an incremental AOF file");
        let bytes = std::fs::read(incremental).expect("read the AOF");
        let fresh = &bytes[self.read.min(bytes.len())..];
        self.read = bytes.len();
        let mut commands = Vec::new();
        let mut at = 0;
        while let Some(len) = reply_len(&fresh[at..]) {
            let shown: Vec<String> = array_items(&fresh[at..at + len])
                .iter()
                .map(|arg| {
                    let text = String::from_utf8_lossy(&bulk_payload(arg)).into_owned();
                    let (ms, seq) = text.split_once('-').unwrap_or((&text, ""));
                    if ms.len() == 13 && ms.bytes().all(|c| c.is_ascii_digit()) {
                        // Whether two IDs fell in the same millisecond
                        // (sequence 1 or 0) is the clock's doing.
                        let seq = if seq.is_empty() { "" } else { "-<seq>" };
                        format!("<ms>{seq}")
                    } else {
                        text
                    }
                })
                .collect();
            commands.push(shown.join(" "));
            at += len;
        }
        commands
    }
}

/// The payload of a bulk string reply (`$n\r\n...\r\n`), as bytes; the
/// reply itself if it is not a bulk string.
pub fn bulk_payload(reply: &[u8]) -> Vec<u8> {
    if reply.first() != Some(&b'$') {
        return reply.to_vec();
    }
    let Some(header_end) = reply.windows(2).position(|w| w == b"\r\n") else {
        return reply.to_vec();
    };
    reply[header_end + 2..reply.len().saturating_sub(2)].to_vec()
}

/// Polls `check` every 10 ms until it holds or `within` passes; whether
/// it held.
pub fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `tests/python/<script>` with the server's port (client-library
/// tests; scripts/test.sh installs redis-py) and asserts it printed `ok`.
pub fn assert_python_ok(script: &str, server: &ServerProcess) {
    let path = format!("{}/tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("python3")
        .arg(path)
        .arg(server.port.to_string())
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A step of a blocking session: a waiting client (0 or 1) sends a
/// command that may block, or the writing client runs one.
pub enum Step {
    Wait(usize, String),
    Write(String),
}

/// Runs a session of blocking commands on `server`: two waiting clients
/// and a writer, steps from `next` (given the waiters not blocked and the
/// step number) until it returns `None` or `steps` ran. After every step
/// an observer reads the number of blocked clients back, so the
/// transcript (every command and reply, in order) does not depend on
/// timing.
pub fn blocking_session(
    server: &ServerProcess,
    steps: usize,
    mut next: impl FnMut(&[usize], usize) -> Option<Step>,
) -> Vec<String> {
    let mut writer = server.connect();
    let mut observer = server.connect();
    let blocked = |observer: &mut Conn| -> usize {
        info_field(observer, "clients", "blocked_clients")
            .parse()
            .unwrap()
    };
    assert!(eventually(Duration::from_secs(5), || blocked(
        &mut observer
    ) == 0));
    writer.run("FLUSHALL");
    let mut waiters = [server.connect(), server.connect()];
    let mut waiting = [false, false];
    let mut received: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut out = Vec::new();
    let show = |r: &[u8]| String::from_utf8_lossy(r).into_owned();
    for step in 0..steps {
        let before = blocked(&mut observer);
        let idle: Vec<usize> = (0..2).filter(|&w| !waiting[w]).collect();
        let expected_answers = match next(&idle, step) {
            None => break,
            Some(Step::Wait(w, command)) => {
                assert!(!waiting[w], "waiter {w} is still blocked");
                out.push(format!("waiter {w}: {command}"));
                let args = words(&command);
                let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                waiters[w].send(&encode(&refs));
                waiting[w] = true;
                // It either answers at once or joins the blocked clients.
                let mut answered = false;
                assert!(eventually(Duration::from_secs(5), || {
                    received[w].extend(waiters[w].read_available());
                    answered = reply_len(&received[w]).is_some();
                    answered || blocked(&mut observer) == before + 1
                }));
                usize::from(answered)
            }
            Some(Step::Write(command)) => {
                let args = words(&command);
                let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                out.push(format!("writer: {command} -> {}", show(&writer.cmd(&refs))));
                before - blocked(&mut observer)
            }
        };
        // Collect exactly the replies the blocked-client count promises.
        let mut answers = 0;
        assert!(
            eventually(Duration::from_secs(5), || {
                for w in 0..2 {
                    received[w].extend(waiters[w].read_available());
                }
                answers = (0..2)
                    .filter(|&w| waiting[w] && reply_len(&received[w]).is_some())
                    .count();
                answers >= expected_answers
            }),
            "{answers} of {expected_answers} readers answered"
        );
        for w in 0..2 {
            if let Some(end) = reply_len(&received[w]).filter(|_| waiting[w]) {
                let reply: Vec<u8> = received[w].drain(..end).collect();
                out.push(format!("waiter {w} <- {}", show(&reply)));
                waiting[w] = false;
            }
        }
    }
    out
}

/// Runs the same blocking session (`session` makes a fresh step source)
/// on redis-server and on rudis and asserts the transcripts are equal.
/// On a difference both are written whole to the temp dir.
pub fn assert_same_blocking_sessions<F: FnMut(&[usize], usize) -> Option<Step>>(
    name: &str,
    steps: usize,
    mut session: impl FnMut() -> F,
) {
    let redis = ServerProcess::redis();
    let rudis = ServerProcess::rudis(&["--save", ""]);
    let expected = blocking_session(&redis, steps, session());
    let got = blocking_session(&rudis, steps, session());
    if expected != got {
        let dir = std::env::temp_dir();
        let tag: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
        for (server, lines) in [("redis", &expected), ("rudis", &got)] {
            let path = dir.join(format!("blocking-{tag}-{server}.txt"));
            std::fs::write(&path, lines.join("\n")).unwrap();
        }
        let at = expected
            .iter()
            .zip(&got)
            .take_while(|(e, g)| e == g)
            .count();
        panic!(
            "{name}: transcripts differ at line {at}: {:?} (redis-server) vs {:?} (rudis); \
             whole in {}",
            expected.get(at),
            got.get(at),
            dir.join(format!("blocking-{tag}-*.txt")).display()
        );
    }
}

/// A fixed blocking session: `W0 cmd` / `W1 cmd` for a waiting client,
/// anything else for the writer.
pub fn scripted_steps(script: &[&str]) -> impl FnMut(&[usize], usize) -> Option<Step> {
    let steps: Vec<String> = script.iter().map(|s| s.to_string()).collect();
    move |_idle: &[usize], step: usize| {
        let line = steps.get(step)?;
        Some(match line.split_once(' ') {
            Some(("W0", command)) => Step::Wait(0, command.to_string()),
            Some(("W1", command)) => Step::Wait(1, command.to_string()),
            _ => Step::Write(line.clone()),
        })
    }
}

/// Resident memory of process `pid`, in KiB (VmRSS).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

/// xorshift64*: a fast, seeded, reproducible generator for the fuzz and
/// soak loads.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
