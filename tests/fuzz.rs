//! Hostile input, generated: a fuzzer over the request parser (in
//! process) and over whole command sequences sent to the real server
//! (through the parser, dispatch and every command family). Inputs come
//! from a seeded generator that mixes valid commands, near-misses
//! (wrong arity, bad numbers, odd options, huge counts) and mutated
//! protocol bytes. Passing means: no panic, the server keeps answering,
//! and its memory returns to where it started once the data is flushed.
//!
//! The default run is bounded (a few seconds, for CI). The long run:
//!
//!     FUZZ_INPUTS=10000000 cargo test --release --test fuzz -- --ignored --nocapture

mod common;

use common::{info_field, Conn, Rng, ServerProcess};
use rudis::protocol::{Parsed, RequestParser};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Commands by family, with the keywords their options use. Left out:
/// what stops the server or changes how the connection talks (SHUTDOWN,
/// DEBUG, CONFIG, CLIENT, MONITOR, SUBSCRIBE, AUTH/ACL/HELLO, QUIT),
/// waits (blocking pops, WAIT, the BLOCK option), touches disk or network
/// (SAVE, MIGRATE).
const COMMANDS: &[&str] = &[
    "GET",
    "SET",
    "SETNX",
    "SETEX",
    "PSETEX",
    "GETSET",
    "GETDEL",
    "GETEX",
    "MGET",
    "MSET",
    "MSETNX",
    "APPEND",
    "STRLEN",
    "INCR",
    "DECR",
    "INCRBY",
    "DECRBY",
    "INCRBYFLOAT",
    "SETRANGE",
    "GETRANGE",
    "SUBSTR",
    "LCS",
    "SETBIT",
    "GETBIT",
    "BITCOUNT",
    "BITPOS",
    "BITOP",
    "BITFIELD",
    "BITFIELD_RO",
    "DEL",
    "UNLINK",
    "EXISTS",
    "TYPE",
    "RENAME",
    "RENAMENX",
    "MOVE",
    "COPY",
    "EXPIRE",
    "PEXPIRE",
    "EXPIREAT",
    "PEXPIREAT",
    "TTL",
    "PTTL",
    "EXPIRETIME",
    "PEXPIRETIME",
    "PERSIST",
    "TOUCH",
    "KEYS",
    "SCAN",
    "RANDOMKEY",
    "DBSIZE",
    "SELECT",
    "SWAPDB",
    "FLUSHDB",
    "OBJECT",
    "DUMP",
    "RESTORE",
    "SORT",
    "SORT_RO",
    "LPUSH",
    "RPUSH",
    "LPUSHX",
    "RPUSHX",
    "LPOP",
    "RPOP",
    "LLEN",
    "LRANGE",
    "LINDEX",
    "LSET",
    "LINSERT",
    "LREM",
    "LTRIM",
    "LPOS",
    "LMOVE",
    "RPOPLPUSH",
    "LMPOP",
    "SADD",
    "SREM",
    "SMEMBERS",
    "SISMEMBER",
    "SMISMEMBER",
    "SCARD",
    "SPOP",
    "SRANDMEMBER",
    "SMOVE",
    "SINTER",
    "SINTERCARD",
    "SUNION",
    "SDIFF",
    "SINTERSTORE",
    "SUNIONSTORE",
    "SDIFFSTORE",
    "SSCAN",
    "HSET",
    "HSETNX",
    "HGET",
    "HMGET",
    "HMSET",
    "HDEL",
    "HLEN",
    "HSTRLEN",
    "HEXISTS",
    "HKEYS",
    "HVALS",
    "HGETALL",
    "HINCRBY",
    "HINCRBYFLOAT",
    "HRANDFIELD",
    "HSCAN",
    "ZADD",
    "ZINCRBY",
    "ZREM",
    "ZCARD",
    "ZSCORE",
    "ZMSCORE",
    "ZRANK",
    "ZREVRANK",
    "ZCOUNT",
    "ZLEXCOUNT",
    "ZRANGE",
    "ZRANGESTORE",
    "ZREVRANGE",
    "ZRANGEBYSCORE",
    "ZREVRANGEBYSCORE",
    "ZRANGEBYLEX",
    "ZREVRANGEBYLEX",
    "ZREMRANGEBYRANK",
    "ZREMRANGEBYSCORE",
    "ZREMRANGEBYLEX",
    "ZPOPMIN",
    "ZPOPMAX",
    "ZMPOP",
    "ZRANDMEMBER",
    "ZUNION",
    "ZINTER",
    "ZDIFF",
    "ZUNIONSTORE",
    "ZINTERSTORE",
    "ZDIFFSTORE",
    "ZINTERCARD",
    "ZSCAN",
    "XADD",
    "XLEN",
    "XRANGE",
    "XREVRANGE",
    "XDEL",
    "XTRIM",
    "XREAD",
    "XGROUP",
    "XREADGROUP",
    "XACK",
    "XPENDING",
    "XCLAIM",
    "XAUTOCLAIM",
    "XINFO",
    "XSETID",
    "PFADD",
    "PFCOUNT",
    "PFMERGE",
    "GEOADD",
    "GEODIST",
    "GEOHASH",
    "GEOPOS",
    "GEORADIUS",
    "GEOSEARCH",
    "GEOSEARCHSTORE",
    "PUBLISH",
    "PUBSUB",
    "MULTI",
    "EXEC",
    "DISCARD",
    "WATCH",
    "UNWATCH",
    "EVAL",
    "EVALSHA",
    "SCRIPT",
    "FUNCTION",
    "FCALL",
    "PING",
    "ECHO",
    "TIME",
    "INFO",
    "COMMAND",
    "MEMORY",
    "LATENCY",
    "SLOWLOG",
    "LASTSAVE",
    "ROLE",
    "NOSUCHCOMMAND",
];

const WORDS: &[&str] = &[
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "NX",
    "XX",
    "GT",
    "LT",
    "CH",
    "INCR",
    "KEEPTTL",
    "GET",
    "PERSIST",
    "WITHSCORES",
    "LIMIT",
    "COUNT",
    "MATCH",
    "TYPE",
    "BY",
    "STORE",
    "ASC",
    "DESC",
    "ALPHA",
    "BYSCORE",
    "BYLEX",
    "REV",
    "LEFT",
    "RIGHT",
    "BEFORE",
    "AFTER",
    "RANK",
    "MAXLEN",
    "MINID",
    "~",
    "=",
    "*",
    "$",
    ">",
    "-",
    "+",
    "(1",
    "[a",
    "STREAMS",
    "GROUP",
    "CREATE",
    "SETID",
    "DESTROY",
    "MKSTREAM",
    "IDLE",
    "TIME",
    "RETRYCOUNT",
    "FORCE",
    "JUSTID",
    "NOACK",
    "WEIGHTS",
    "AGGREGATE",
    "SUM",
    "MIN",
    "MAX",
    "WITHVALUES",
    "FROMMEMBER",
    "FROMLONLAT",
    "BYRADIUS",
    "BYBOX",
    "m",
    "km",
    "WITHCOORD",
    "WITHDIST",
    "WITHHASH",
    "ANY",
    "LEN",
    "IDX",
    "MINMATCHLEN",
    "WITHMATCHLEN",
    "OVERFLOW",
    "WRAP",
    "SAT",
    "FAIL",
    "u8",
    "i16",
    "#1",
    "ENCODING",
    "FREQ",
    "IDLETIME",
    "REFCOUNT",
    "HELP",
    "LOAD",
    "FLUSH",
    "EXISTS",
    "REPLACE",
    "ABSTTL",
    "AND",
    "OR",
    "XOR",
    "NOT",
    "BIT",
    "BYTE",
    "USAGE",
    "DOCS",
    "GETKEYS",
    "LIST",
    "NUMSUB",
    "CHANNELS",
    "STATS",
    "CONSUMERS",
    "GROUPS",
    "FULL",
    "DELCONSUMER",
];

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "3",
    "10",
    "100",
    "-100",
    "1000000",
    "4294967296",
    "-4294967297",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "1.5",
    "-0.5",
    "inf",
    "-inf",
    "+inf",
    "nan",
    "1e308",
    "1e-308",
    "0x10",
    "",
    " ",
    "01",
    "1-0",
    "0-1",
    "18446744073709551615-18446744073709551615",
    "1.0e10",
    "-0",
];

const SCRIPTS: &[&str] = &[
    "return 1",
    "return redis.call('incr', KEYS[1])",
    "return redis.call('get', KEYS[1])",
    "return redis.pcall('lpush', KEYS[1], ARGV[1])",
    "return {1, 'a', {2, false}, redis.status_reply('x'), redis.error_reply('y')}",
    "return cjson.encode({a = ARGV[1]})",
    "error('boom')",
    "return redis.call('nosuch')",
    "local t = {} for i = 1, 100 do t[i] = i end return t",
];

fn argument(rng: &mut Rng) -> Vec<u8> {
    match rng.below(10) {
        0..=2 => format!("k{}", rng.below(8)).into_bytes(),
        3 | 4 => rng.pick(NUMBERS).as_bytes().to_vec(),
        5 | 6 => rng.pick(WORDS).as_bytes().to_vec(),
        7 => format!("m{}", rng.below(20)).into_bytes(),
        8 => {
            let len = rng.below(64);
            (0..len).map(|_| rng.next() as u8).collect()
        }
        _ => vec![b'x'; rng.below(5000)],
    }
}

fn command(rng: &mut Rng) -> Vec<Vec<u8>> {
    let name = *rng.pick(COMMANDS);
    let mut line = vec![name.as_bytes().to_vec()];
    if name == "EVAL" || name == "FCALL" {
        line.push(rng.pick(SCRIPTS).as_bytes().to_vec());
        line.push(b"1".to_vec());
    }
    // Database numbers within those that exist (or just past them).
    match name {
        "SELECT" => {
            line.push(rng.below(17).to_string().into_bytes());
            return line;
        }
        "SWAPDB" => {
            line.push(rng.below(17).to_string().into_bytes());
            line.push(rng.below(17).to_string().into_bytes());
            return line;
        }
        "MOVE" => {
            line.push(format!("k{}", rng.below(8)).into_bytes());
            line.push(rng.below(17).to_string().into_bytes());
            return line;
        }
        _ => {}
    }
    for _ in 0..rng.below(9) {
        line.push(argument(rng));
    }
    line
}

fn encode(line: &[Vec<u8>], out: &mut Vec<u8>) {
    out.extend(format!("*{}\r\n", line.len()).as_bytes());
    for arg in line {
        out.extend(format!("${}\r\n", arg.len()).as_bytes());
        out.extend(arg);
        out.extend(b"\r\n");
    }
}

/// Protocol bytes, mostly valid, with a few mutated: flipped bytes,
/// truncations, bogus lengths and inline lines.
fn protocol_bytes(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    match rng.below(6) {
        0 => {
            let len = rng.below(200);
            out.extend((0..len).map(|_| *rng.pick(b"*$\r\n0123456789-+: abcPING")));
        }
        1 => out.extend(format!("*{}\r\n", rng.pick(NUMBERS)).as_bytes()),
        2 => out.extend(format!("*1\r\n${}\r\n", rng.pick(NUMBERS)).as_bytes()),
        _ => encode(&command(rng), &mut out),
    }
    for _ in 0..rng.below(3) {
        if !out.is_empty() {
            let at = rng.below(out.len());
            out[at] = rng.next() as u8;
        }
    }
    out
}

/// The parser alone, in process: no input may panic it, and whatever it
/// accepts it must give back whole.
fn fuzz_parser(inputs: u64, seed: u64) {
    let mut rng = Rng(seed);
    let mut parser = RequestParser::new();
    let mut parsed = 0u64;
    for _ in 0..inputs {
        let bytes = protocol_bytes(&mut rng);
        // Fed in two pieces, as a split read delivers it.
        let cut = rng.below(bytes.len() + 1);
        for piece in [&bytes[..cut], &bytes[cut..]] {
            parser.buffer_mut().extend_from_slice(piece);
            loop {
                match parser.next(512 * 1024 * 1024) {
                    Parsed::Incomplete => break,
                    Parsed::Command => parsed += parser.args().len() as u64,
                    Parsed::Error(_) => {
                        parser = RequestParser::new();
                        break;
                    }
                }
            }
            parser.compact();
        }
        if parser.len() > 1 << 20 {
            parser = RequestParser::new();
        }
    }
    assert!(parsed > 0);
}

/// Sends `count` generated commands, pipelined in batches, each batch
/// followed by an ECHO of a marker this reads up to. A connection the
/// server closed is replaced (counted: none should be).
fn fuzz_server(port: u16, count: u64, seed: u64) -> u64 {
    let mut rng = Rng(seed);
    let connect = || {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("server up");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream
    };
    let mut stream = connect();
    let mut sent = 0u64;
    let mut reconnects = 0u64;
    let mut batch = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    while sent < count {
        batch.clear();
        let size = 1 + rng.below(64);
        sent += size as u64;
        if rng.below(50) == 0 {
            // Mutated protocol bytes on a connection of their own, closed
            // for writing after them: a half command then ends at EOF
            // instead of swallowing what follows.
            for _ in 0..size {
                batch.extend(protocol_bytes(&mut rng));
            }
            let mut raw = connect();
            let _ = raw.write_all(&batch);
            let _ = raw.shutdown(std::net::Shutdown::Write);
            while matches!(raw.read(&mut buf), Ok(n) if n > 0) {}
            continue;
        }
        for _ in 0..size {
            encode(&command(&mut rng), &mut batch);
        }
        let marker = format!("end-of-batch-{}", rng.next());
        // DISCARD first: a MULTI left open would queue the ECHO.
        encode(&[b"DISCARD".to_vec()], &mut batch);
        encode(&[b"ECHO".to_vec(), marker.clone().into_bytes()], &mut batch);
        if stream.write_all(&batch).is_err() {
            stream = connect();
            reconnects += 1;
            continue;
        }
        let mut seen: Vec<u8> = Vec::new();
        let needle = marker.as_bytes();
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => {
                    stream = connect();
                    reconnects += 1;
                    break;
                }
                Ok(n) => {
                    seen.extend_from_slice(&buf[..n]);
                    if seen.windows(needle.len()).any(|w| w == needle) {
                        break;
                    }
                    let keep = seen.len().saturating_sub(needle.len());
                    seen.drain(..keep);
                }
            }
        }
    }
    reconnects
}

fn used_memory(conn: &mut Conn) -> u64 {
    info_field(conn, "memory", "used_memory").parse().unwrap()
}

fn run(inputs: u64) {
    let started = Instant::now();
    fuzz_parser(inputs, 0x5eed);
    let parser_secs = started.elapsed().as_secs_f64();
    // Latency histograms are made on a command's first call, each once:
    // left out, so what is left to grow is what should not.
    let server = ServerProcess::rudis(&["--save", "", "--latency-tracking", "no"]);
    let mut admin = server.connect();
    let baseline = used_memory(&mut admin);
    let started = Instant::now();
    // Three rounds on one server: once the first has made what is made
    // once (a latency histogram per command, the slow log's entries),
    // the others must leave memory where it was.
    let mut after = Vec::new();
    let mut reconnects = 0;
    for round in 0..3u64 {
        let per_client = inputs / 6;
        let handles: Vec<_> = (0..2u64)
            .map(|c| {
                let port = server.port;
                std::thread::spawn(move || fuzz_server(port, per_client, 0xf00d + round * 10 + c))
            })
            .collect();
        for handle in handles {
            reconnects += handle.join().expect("fuzzing client");
        }
        assert_eq!(
            admin.run("PING"),
            b"+PONG\r\n".to_vec(),
            "server stopped answering"
        );
        admin.run("SCRIPT FLUSH");
        admin.run("FUNCTION FLUSH");
        admin.run("FLUSHALL");
        after.push(used_memory(&mut admin));
    }
    let server_secs = started.elapsed().as_secs_f64();
    println!(
        "fuzz: {inputs} parser inputs in {parser_secs:.1} s; {} commands to the server in {server_secs:.1} s \
         ({reconnects} connections closed by the server); used_memory {baseline} at start, {after:?} after each round",
        inputs / 6 * 6,
    );
    // Memory held for nothing grows from round to round; a few kilobytes
    // of allocator and table noise do not count.
    assert!(after[2] <= after[1] + 64 * 1024, "memory grew: {after:?}");
    assert!(
        after[2] <= baseline + 256 * 1024,
        "memory not back: {baseline} -> {after:?}"
    );
}

/// Bounded, for every test run.
#[test]
fn fuzz_bounded() {
    run(200_000);
}

/// The long run: `FUZZ_INPUTS` inputs (10 million for the figures).
#[test]
#[ignore]
fn fuzz_long() {
    let inputs = std::env::var("FUZZ_INPUTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000_000);
    run(inputs);
}

/// Values of every type and encoding, built alike on both servers: the
/// DUMP payloads the RESTORE fuzzer mutates.
const RESTORE_SEEDS: &[&str] = &[
    "SET s hello",
    "SET slzf abcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabc",
    "RPUSH l a 1 bb 300 -5 70000 -9000000000",
    "HSET h f1 v1 f2 2 f3 300000",
    "ZADD z 1 a 2.5 b -3 c inf d",
    "SADD si 1 5 70000 -3",
    "SADD ss a b c",
    "XADD st 1-1 f v g w",
    "XADD st 2-1 f v2 g w2",
    "XADD st 3-1 h 1",
    "XDEL st 2-1",
    "XGROUP CREATE st grp 0",
    "XREADGROUP GROUP grp alice COUNT 2 STREAMS st >",
];

/// A mutated DUMP payload must never hurt rudis. Both servers check
/// payloads entry by entry (`sanitize-dump-payload yes`, checksums
/// skipped so the mutation is what is judged): where redis-server
/// refuses one, rudis refuses it too, and where both take one, they hold
/// the same value (DEBUG DIGEST-VALUE). rudis may refuse more only in a
/// stream's metadata, where Redis takes a length of unknown encoding as
/// the largest number.
#[test]
fn restore_payloads_mutated_as_redis_judges_them() {
    let (redis, rudis) = common::server_pair(&["--enable-debug-command", "yes"]);
    let (mut a, mut b) = (redis.connect(), rudis.connect());
    for conn in [&mut a, &mut b] {
        conn.run("DEBUG SET-SKIP-CHECKSUM-VALIDATION 1");
        conn.run("CONFIG SET sanitize-dump-payload yes");
        for line in RESTORE_SEEDS {
            conn.run(line);
        }
    }
    let mut rng = Rng(0x5eed_2026);
    let mut refused = 0;
    for key in ["s", "slzf", "l", "h", "z", "si", "ss", "st"] {
        let dump = a.cmd(&[b"DUMP", key.as_bytes()]);
        let payload = common::bulk_payload(&dump);
        // The footer (version and checksum) is left alone.
        for at in 0..payload.len() - 10 {
            let original = payload[at];
            for byte in [
                0,
                1,
                0x3f,
                0x40,
                0x7f,
                0x80,
                0xc0,
                0xfe,
                0xff,
                original ^ 1,
                rng.next() as u8,
            ] {
                if byte == original {
                    continue;
                }
                let mut mutated = payload.clone();
                mutated[at] = byte;
                let restore: [&[u8]; 5] = [b"RESTORE", b"k", b"0", &mutated, b"REPLACE"];
                let (expected, got) = (a.cmd(&restore), b.cmd(&restore));
                let context = format!("{key}: byte {at} {original:#x} -> {byte:#x}");
                if expected == got {
                    if got == b"+OK\r\n" {
                        let digest: [&[u8]; 3] = [b"DEBUG", b"DIGEST-VALUE", b"k"];
                        assert_eq!(a.cmd(&digest), b.cmd(&digest), "{context}");
                    }
                    continue;
                }
                assert!(
                    key == "st" && expected == b"+OK\r\n",
                    "{context}: redis-server {:?}, rudis {:?}",
                    String::from_utf8_lossy(&expected),
                    String::from_utf8_lossy(&got)
                );
                refused += 1;
            }
        }
    }
    assert!(
        refused < 40,
        "rudis refused {refused} stream payloads Redis took"
    );
    assert_eq!(b.run("PING"), b"+PONG\r\n");
}
