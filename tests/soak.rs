//! Soak: thousands of clients connecting, pipelining, reading slowly or
//! not at all, and disconnecting abruptly, against a server with
//! `maxclients`, `maxmemory` and output limits set, while a prober sends
//! a PING every 10 ms. The server must stay up, keep answering the
//! prober, and give its memory back once the clients are gone and the
//! data flushed. The same load runs against redis-server for the prober's
//! latency to be compared.
//!
//! The default run is bounded (for CI). The long run (figures in
//! docs/benchmarks.md):
//!
//!     SOAK_CLIENTS=10000 SOAK_SECS=180 cargo test --release --test soak -- --ignored --nocapture

mod common;

use common::{info_field, Rng, ServerProcess};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Pipelines a batch, reads every reply, again.
    Pipeliner,
    /// Asks for big replies and never reads them (the output limit's
    /// business).
    SlowReader,
    /// Sends half a command and goes.
    Quitter,
}

struct Client {
    stream: TcpStream,
    kind: Kind,
    out: Vec<u8>,
    written: usize,
}

fn encode(args: &[&[u8]], out: &mut Vec<u8>) {
    out.extend(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend(format!("${}\r\n", a.len()).as_bytes());
        out.extend(*a);
        out.extend(b"\r\n");
    }
}

fn batch(rng: &mut Rng, out: &mut Vec<u8>) {
    let value = vec![b'v'; 64 + rng.below(512)];
    for _ in 0..1 + rng.below(32) {
        let key = format!("key:{}", rng.below(200_000));
        match rng.below(6) {
            0 | 1 => encode(&[b"SET", key.as_bytes(), &value], out),
            2 | 3 => encode(&[b"GET", key.as_bytes()], out),
            4 => {
                // A list that stays around a thousand elements.
                encode(&[b"LPUSH", b"list", &value], out);
                encode(&[b"LTRIM", b"list", b"0", b"999"], out);
            }
            _ => encode(&[b"LRANGE", b"list", b"0", b"20"], out),
        }
    }
}

/// Closes with a reset rather than a FIN: an abrupt disconnect.
fn abort(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// Drives `target` clients against `addr` for `secs`; returns how many
/// connections were opened.
fn load(addr: SocketAddr, target: usize, secs: u64, stop: &AtomicBool) -> u64 {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(4096);
    let mut clients: slab::Slab<Client> = slab::Slab::new();
    let mut rng = Rng(0x50a4);
    let mut opened = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        // Top up, a few hundred connections at a time.
        for _ in 0..target.saturating_sub(clients.len()).min(300) {
            let Ok(mut stream) = TcpStream::connect(addr) else {
                break;
            };
            let kind = match rng.below(20) {
                0 => Kind::SlowReader,
                1 => Kind::Quitter,
                _ => Kind::Pipeliner,
            };
            let entry = clients.vacant_entry();
            let interest = Interest::READABLE | Interest::WRITABLE;
            if poll
                .registry()
                .register(&mut stream, Token(entry.key()), interest)
                .is_err()
            {
                continue;
            }
            let mut out = Vec::new();
            match kind {
                Kind::Pipeliner => batch(&mut rng, &mut out),
                Kind::SlowReader => {
                    for _ in 0..200 {
                        encode(&[b"LRANGE", b"list", b"0", b"-1"], &mut out);
                    }
                }
                Kind::Quitter => out.extend(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nhalf"),
            }
            entry.insert(Client {
                stream,
                kind,
                out,
                written: 0,
            });
            opened += 1;
        }
        // Drop one client in a hundred abruptly, whatever it was doing.
        let keys: Vec<usize> = clients.iter().map(|(k, _)| k).collect();
        for key in keys {
            if rng.below(100) == 0 {
                let client = clients.remove(key);
                abort(client.stream);
            }
        }
        let _ = poll.poll(&mut events, Some(Duration::from_millis(10)));
        for event in events.iter() {
            let key = event.token().0;
            let mut gone = false;
            if let Some(client) = clients.get_mut(key) {
                if event.is_writable() || client.written < client.out.len() {
                    while client.written < client.out.len() {
                        match client.stream.write(&client.out[client.written..]) {
                            Ok(n) if n > 0 => client.written += n,
                            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                            _ => {
                                gone = true;
                                break;
                            }
                        }
                    }
                    if client.written == client.out.len() && client.kind == Kind::Quitter {
                        gone = true;
                    }
                }
                if event.is_readable() && client.kind != Kind::SlowReader {
                    loop {
                        match client.stream.read(&mut buf) {
                            Ok(0) => {
                                gone = true;
                                break;
                            }
                            Ok(_) => {}
                            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                            Err(_) => {
                                gone = true;
                                break;
                            }
                        }
                    }
                    // Replies are read as they come; the next batch goes
                    // once this one is sent.
                    if client.written == client.out.len() && client.kind == Kind::Pipeliner {
                        client.out.clear();
                        client.written = 0;
                        batch(&mut rng, &mut client.out);
                        while client.written < client.out.len() {
                            match client.stream.write(&client.out[client.written..]) {
                                Ok(n) if n > 0 => client.written += n,
                                _ => break,
                            }
                        }
                    }
                }
            }
            if gone && clients.contains(key) {
                let client = clients.remove(key);
                abort(client.stream);
            }
        }
    }
    for (_, client) in clients {
        abort(client.stream);
    }
    opened
}

/// PINGs every 10 ms until told to stop; the latencies in microseconds.
fn probe(port: u16, stop: &AtomicBool) -> Vec<u64> {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_nodelay(true).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut samples = Vec::new();
    let mut reply = [0u8; 7];
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        conn.write_all(b"PING\r\n").unwrap();
        conn.read_exact(&mut reply).expect("prober: no PONG");
        assert_eq!(&reply, b"+PONG\r\n");
        samples.push(started.elapsed().as_micros() as u64);
        std::thread::sleep(Duration::from_millis(10));
    }
    samples
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

struct Outcome {
    opened: u64,
    p50: u64,
    p99: u64,
    max: u64,
}

fn soak(server: &ServerProcess, clients: usize, secs: u64) -> Outcome {
    let addr: SocketAddr = format!("127.0.0.1:{}", server.port).parse().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let prober = {
        let stop = stop.clone();
        let port = server.port;
        std::thread::spawn(move || probe(port, &stop))
    };
    std::thread::sleep(Duration::from_millis(200));
    let opened = load(addr, clients, secs, &stop);
    stop.store(true, Ordering::Relaxed);
    let mut samples = prober.join().expect("prober");
    samples.sort_unstable();
    Outcome {
        opened,
        p50: percentile(&samples, 0.5),
        p99: percentile(&samples, 0.99),
        max: *samples.last().unwrap(),
    }
}

const LIMITS: &[&str] = &[
    "--save",
    "",
    "--maxclients",
    "12000",
    "--maxmemory",
    "64mb",
    "--maxmemory-policy",
    "allkeys-lru",
    "--client-output-buffer-limit",
    "normal 1mb 256kb 5",
];

fn run(clients: usize, secs: u64) {
    let rudis = ServerProcess::rudis(LIMITS);
    let mut admin = rudis.connect();
    // What is made once, on a command's first call (its latency
    // histogram), is made before the baseline is read.
    for line in [
        "SET k v",
        "GET k",
        "LPUSH list v",
        "LTRIM list 0 9",
        "LRANGE list 0 20",
        "PING",
        "FLUSHALL",
    ] {
        admin.run(line);
    }
    let used_before: u64 = info_field(&mut admin, "memory", "used_memory")
        .parse()
        .unwrap();
    let rss_before = common::rss_kib(rudis.pid());
    let ours = soak(&rudis, clients, secs);
    // Every connection of the load is gone: the server sees only us.
    assert!(
        common::eventually(Duration::from_secs(10), || {
            info_field(&mut admin, "clients", "connected_clients") == "1"
        }),
        "clients left: {}",
        info_field(&mut admin, "clients", "connected_clients")
    );
    assert_eq!(admin.run("PING"), b"+PONG\r\n".to_vec());
    let used_loaded: u64 = info_field(&mut admin, "memory", "used_memory")
        .parse()
        .unwrap();
    admin.run("FLUSHALL");
    let used_after: u64 = info_field(&mut admin, "memory", "used_memory")
        .parse()
        .unwrap();
    let evicted = info_field(&mut admin, "stats", "evicted_keys");
    let rss_loaded = common::rss_kib(rudis.pid());
    // The allocator keeps freed pages a while; PURGE hands them back now.
    admin.run("MEMORY PURGE");
    let rss_after = common::rss_kib(rudis.pid());

    let redis = ServerProcess::redis_with(LIMITS);
    let theirs = soak(&redis, clients, secs);
    println!(
        "soak: {clients} clients, {secs} s: rudis opened {} connections, PING p50/p99/max {}/{}/{} us; \
         redis-server opened {}, PING p50/p99/max {}/{}/{} us; rudis used_memory {used_before} at start, \
         {used_loaded} loaded (maxmemory 64mb, {evicted} keys evicted), {used_after} after FLUSHALL; \
         RSS {rss_before} KiB at start, {rss_loaded} loaded, {rss_after} after FLUSHALL and MEMORY PURGE",
        ours.opened, ours.p50, ours.p99, ours.max, theirs.opened, theirs.p50, theirs.p99, theirs.max
    );
    assert!(
        used_loaded <= 64 * 1024 * 1024 + 1024 * 1024,
        "{used_loaded}"
    );
    assert!(
        used_after <= used_before + 512 * 1024,
        "memory not given back: {used_before} -> {used_after}"
    );
    assert!(ours.max < 2_000_000, "a PING took {} us", ours.max);
}

/// Bounded, for every test run.
#[test]
fn soak_bounded() {
    raise_fd_limit();
    run(1000, 6);
}

/// The long run: `SOAK_CLIENTS` clients (10,000) for `SOAK_SECS` (180).
#[test]
#[ignore]
fn soak_long() {
    let var = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    raise_fd_limit();
    run(var("SOAK_CLIENTS", 10_000) as usize, var("SOAK_SECS", 180));
}

/// The load needs a descriptor per client.
fn raise_fd_limit() {
    // SAFETY: plain syscalls on a struct we own.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
