//! `maxmemory` and eviction, against redis-server where the outcome is
//! deterministic (OOM replies, settings, OBJECT FREQ/IDLETIME), and on
//! rudis alone where it is statistical (which keys a policy picks).

mod common;

use common::{assert_same_replies, info_field, Conn, ServerProcess};
use std::io::Write;
use std::time::Duration;

/// Fills `count` keys named `{prefix}{i}` with 100-byte values, in
/// pipelined batches.
fn fill(conn: &mut Conn, prefix: &str, count: usize, ttl: Option<u64>) {
    let value = vec![b'x'; 100];
    for batch in (0..count).collect::<Vec<_>>().chunks(500) {
        let mut out = Vec::new();
        for i in batch {
            let key = format!("{prefix}{i}");
            match ttl {
                Some(secs) => out.extend(common::encode(&[
                    b"SET",
                    key.as_bytes(),
                    &value,
                    b"EX",
                    secs.to_string().as_bytes(),
                ])),
                None => out.extend(common::encode(&[b"SET", key.as_bytes(), &value])),
            }
        }
        conn.send(&out);
        for _ in batch {
            conn.read_reply();
        }
    }
}

fn count_present(conn: &mut Conn, prefix: &str, range: std::ops::Range<usize>) -> usize {
    range
        .filter(|i| conn.run(&format!("EXISTS {prefix}{i}")) == b":1\r\n")
        .count()
}

fn used_memory(conn: &mut Conn) -> u64 {
    info_field(conn, "memory", "used_memory").parse().unwrap()
}

/// Sets `maxmemory` to what is used now plus `extra` bytes.
fn limit_at_current_plus(conn: &mut Conn, extra: i64) -> u64 {
    let limit = (used_memory(conn) as i64 + extra).max(1) as u64;
    conn.run(&format!("CONFIG SET maxmemory {limit}"));
    limit
}

#[test]
fn out_of_memory_replies_match_redis() {
    assert_same_replies(&[
        "SET kept value",
        "RPUSH list a b c",
        "CONFIG SET maxmemory 1",
        // Writes that may grow memory are refused; reads and deletes run.
        "SET k v",
        "GET kept",
        "LPOP list",
        "DEL kept",
        "INCR counter",
        "APPEND kept x",
        "PING",
        // MULTI: queueing is refused, and the transaction with it.
        "MULTI",
        "GET list",
        "SET a b",
        "EXEC",
        "MULTI",
        "DISCARD",
        // Scripts: refused at their first write, not before.
        "EVAL \"return redis.call('get','list')\" 0",
        "EVAL \"return redis.call('set','x','y')\" 0",
        "EVAL \"redis.call('del','list'); return redis.call('set','x','y')\" 0",
        "EVAL \"#!lua flags=no-writes\nreturn redis.call('get','x')\" 0",
        "EVAL \"#!lua flags=allow-oom\nreturn redis.call('set','x','y')\" 0",
        "GET x",
        "CONFIG SET maxmemory 0",
        "SET k v",
    ]);
}

#[test]
fn eviction_settings_match_redis() {
    assert_same_replies(&[
        "CONFIG GET maxmemory-policy",
        "CONFIG SET maxmemory-policy foo",
        "CONFIG SET maxmemory-policy ALLKEYS-LFU",
        "CONFIG GET maxmemory-policy",
        "CONFIG SET maxmemory-policy volatile-ttl",
        "CONFIG GET maxmemory-samples",
        "CONFIG SET maxmemory-samples 0",
        "CONFIG SET maxmemory-samples 10",
        "CONFIG GET maxmemory-eviction-tenacity",
        "CONFIG SET maxmemory-eviction-tenacity 101",
        "CONFIG SET maxmemory-eviction-tenacity 100",
        "CONFIG GET lfu-log-factor",
        "CONFIG SET lfu-log-factor -1",
        "CONFIG GET lfu-decay-time",
        "CONFIG SET lfu-decay-time 5",
        "CONFIG GET maxmemory-clients",
        "CONFIG SET maxmemory-clients 101%",
        "CONFIG SET maxmemory-clients abc",
        "CONFIG SET maxmemory-clients -1",
        "CONFIG SET maxmemory-clients 5%",
        "CONFIG GET maxmemory-clients",
        "CONFIG SET maxmemory-clients 0%",
        "CONFIG GET maxmemory-clients",
        "CONFIG SET maxmemory-clients 1gb",
        "CONFIG GET maxmemory-clients",
        "CONFIG SET maxmemory 100mb",
        "CONFIG GET maxmemory",
        "CONFIG SET maxmemory 0",
    ]);
}

#[test]
fn access_tracking_replies_match_redis() {
    assert_same_replies(&[
        "SET k v",
        "OBJECT FREQ k",
        "OBJECT IDLETIME k",
        "CONFIG SET maxmemory-policy allkeys-lfu",
        // A new key starts at 5; the first accesses are sure to count.
        "OBJECT FREQ k",
        "SET fresh v",
        "OBJECT FREQ fresh",
        "GET fresh",
        "OBJECT FREQ fresh",
        "OBJECT IDLETIME fresh",
        "OBJECT FREQ missing",
        "RESTORE r 0 \"\\x00\\x01v\\n\\x00\\x91\\x08\\xce\\xb2\\x198\\x8a\\xce\" FREQ 100",
        "OBJECT FREQ r",
        "RESTORE r2 0 \"\\x00\\x01v\\n\\x00\\x91\\x08\\xce\\xb2\\x198\\x8a\\xce\" FREQ 256",
        "CONFIG SET maxmemory-policy allkeys-lru",
        "RESTORE r3 0 \"\\x00\\x01v\\n\\x00\\x91\\x08\\xce\\xb2\\x198\\x8a\\xce\" IDLETIME 1000",
        "OBJECT IDLETIME r3",
        "OBJECT FREQ r3",
    ]);
}

/// Under `volatile-*` only keys with a TTL go; once none is left, writes
/// are refused. Under `allkeys-*` any key may go.
#[test]
fn volatile_policies_spare_persistent_keys() {
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let server = ServerProcess::rudis(&["--save", "", "--maxmemory-policy", policy]);
        let mut conn = server.connect();
        fill(&mut conn, "keep:", 2000, None);
        fill(&mut conn, "ttl:", 2000, Some(1000));
        limit_at_current_plus(&mut conn, -100_000);
        fill(&mut conn, "more:", 1, None);
        assert_eq!(count_present(&mut conn, "keep:", 0..2000), 2000, "{policy}");
        assert!(count_present(&mut conn, "ttl:", 0..2000) < 2000, "{policy}");
        // Far below what the persistent keys need: nothing left to evict
        // once the loop has evicted every key with a TTL.
        conn.run("CONFIG SET maxmemory 1");
        assert!(common::eventually(Duration::from_secs(5), || {
            conn.run("DBSIZE") == b":2001\r\n"
        }));
        assert_eq!(
            conn.run("SET another v"),
            b"-OOM command not allowed when used memory > 'maxmemory'.\r\n".to_vec(),
            "{policy}"
        );
        assert_eq!(count_present(&mut conn, "ttl:", 0..2000), 0, "{policy}");
        assert_eq!(count_present(&mut conn, "keep:", 0..2000), 2000, "{policy}");
        assert_eq!(conn.run("EXISTS more:0"), b":1\r\n".to_vec(), "{policy}");
        let evicted: u64 = info_field(&mut conn, "stats", "evicted_keys")
            .parse()
            .unwrap();
        assert_eq!(evicted, 2000, "{policy}");
    }
    for policy in ["allkeys-lru", "allkeys-lfu", "allkeys-random"] {
        let server = ServerProcess::rudis(&["--save", "", "--maxmemory-policy", policy]);
        let mut conn = server.connect();
        fill(&mut conn, "keep:", 2000, None);
        let limit = limit_at_current_plus(&mut conn, -100_000);
        fill(&mut conn, "more:", 500, None);
        assert!(
            count_present(&mut conn, "keep:", 0..2000) < 2000,
            "{policy}"
        );
        let used = used_memory(&mut conn);
        assert!(used <= limit + 4096, "{policy}: {used} used, limit {limit}");
        assert_eq!(conn.run("SET another v"), b"+OK\r\n".to_vec());
    }
}

/// `volatile-ttl` evicts the keys closest to expiring first.
#[test]
fn volatile_ttl_evicts_nearest_expiry_first() {
    let server = ServerProcess::rudis(&["--save", "", "--maxmemory-policy", "volatile-ttl"]);
    let mut conn = server.connect();
    fill(&mut conn, "soon:", 1000, Some(1000));
    fill(&mut conn, "late:", 1000, Some(100_000));
    limit_at_current_plus(&mut conn, -50_000);
    fill(&mut conn, "x:", 1, None);
    let soon = count_present(&mut conn, "soon:", 0..1000);
    let late = count_present(&mut conn, "late:", 0..1000);
    assert!(soon < 1000, "nothing evicted");
    assert!(
        late > 990,
        "late keys evicted: {late} left, {soon} soon left"
    );
}

/// LRU keeps what was used lately; LFU keeps what is used often.
#[test]
fn lru_and_lfu_keep_the_keys_in_use() {
    for policy in ["allkeys-lru", "allkeys-lfu"] {
        let server = ServerProcess::rudis(&["--save", "", "--maxmemory-policy", policy]);
        let mut conn = server.connect();
        fill(&mut conn, "k:", 4000, None);
        std::thread::sleep(Duration::from_millis(20));
        // The first quarter is read (LFU: several times) after the rest.
        for _ in 0..3 {
            for i in 0..1000 {
                conn.run(&format!("GET k:{i}"));
            }
        }
        limit_at_current_plus(&mut conn, -150_000);
        fill(&mut conn, "new:", 1, None);
        let hot = count_present(&mut conn, "k:", 0..1000);
        let cold = count_present(&mut conn, "k:", 1000..4000);
        assert!(cold < 3000, "{policy}: nothing evicted");
        assert!(
            hot >= 990,
            "{policy}: {hot} of 1000 used keys kept, {cold} of 3000 others"
        );
    }
}

/// Evicted keys fire `evicted` events, invalidate tracking clients, reach
/// the AOF as DELs, and count in INFO.
#[test]
fn evictions_are_announced_logged_and_counted() {
    let dir = common::fresh_dir("eviction-aof");
    let dir_arg = dir.to_string_lossy().into_owned();
    let server = ServerProcess::rudis(&[
        "--save",
        "",
        "--dir",
        &dir_arg,
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--maxmemory-policy",
        "allkeys-random",
        "--notify-keyspace-events",
        "Ee",
    ]);
    let mut conn = server.connect();
    let mut listener = server.connect();
    listener.run("SUBSCRIBE __keyevent@0__:evicted");
    fill(&mut conn, "k:", 3000, None);
    limit_at_current_plus(&mut conn, -200_000);
    fill(&mut conn, "x:", 1, None);
    let evicted: u64 = info_field(&mut conn, "stats", "evicted_keys")
        .parse()
        .unwrap();
    assert!(evicted > 0);
    let message = listener.read_reply();
    assert!(
        String::from_utf8_lossy(&message).contains("__keyevent@0__:evicted"),
        "{}",
        String::from_utf8_lossy(&message)
    );
    // Each command checks memory first: stop evicting, then count.
    conn.run("CONFIG SET maxmemory 0");
    let remaining = conn.run("DBSIZE");
    drop(listener);
    drop(conn);
    drop(server);
    // The log replays to what was left.
    let server = ServerProcess::rudis(&["--save", "", "--dir", &dir_arg, "--appendonly", "yes"]);
    assert_eq!(server.connect().run("DBSIZE"), remaining);
}

/// `maxmemory-clients`: the client holding the most memory is closed,
/// unless it set CLIENT NO-EVICT.
#[test]
fn clients_over_maxmemory_clients_are_evicted() {
    let server = ServerProcess::rudis(&["--save", "", "--maxmemory-clients", "1mb"]);
    let mut admin = server.connect();
    let mut protected = server.connect();
    protected.run("CLIENT NO-EVICT on");
    let mut greedy = server.connect();
    // Half a command of 2 MB: the query buffer grows past the limit.
    let mut partial = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n".to_vec();
    partial.extend(vec![b'x'; 1_500_000]);
    protected.send(&partial);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(admin.run("PING"), b"+PONG\r\n".to_vec());
    assert_eq!(info_field(&mut admin, "stats", "evicted_clients"), "0");
    greedy.send(&partial);
    assert!(
        greedy.is_closed(Duration::from_secs(2)),
        "greedy client kept"
    );
    assert_eq!(info_field(&mut admin, "stats", "evicted_clients"), "1");
    assert_eq!(admin.run("PING"), b"+PONG\r\n".to_vec());
}

/// What a client holds beyond its buffers counts too: watched keys,
/// subscriptions and tracking prefixes each weigh their entry, so a
/// client piling them up is evicted, as in Redis.
#[test]
fn watches_subscriptions_and_prefixes_count_against_maxmemory_clients() {
    let server = ServerProcess::rudis(&["--save", "", "--maxmemory-clients", "200000"]);
    let mut admin = server.connect();
    for (i, command) in ["WATCH", "PSUBSCRIBE", "CLIENT TRACKING on BCAST PREFIX"]
        .iter()
        .enumerate()
    {
        let mut piler = server.connect();
        let mut closed = false;
        for j in 0..200_000 {
            piler.send(format!("{command} {j:012}\r\n").as_bytes());
            let mut byte = [0u8; 1];
            let read = std::io::Read::read(&mut piler.stream, &mut byte);
            if matches!(read, Ok(0) | Err(_)) {
                closed = true;
                break;
            }
            // Drain the rest of the reply before the next command.
            piler.read_available();
        }
        assert!(closed, "{command}: never evicted");
        let evicted = info_field(&mut admin, "stats", "evicted_clients");
        assert_eq!(evicted, (i + 1).to_string(), "{command}");
    }
}

/// A bulk argument of 32 KB or more gets a query buffer of its size, not
/// the next power of two, and CLIENT LIST counts only its bytes (Redis's
/// PROTO_MBULK_BIG_ARG), so ten such clients fit where Redis fits them.
#[test]
fn big_arguments_get_buffers_of_their_size() {
    let mut shapes = Vec::new();
    for server in [
        ServerProcess::redis(),
        ServerProcess::rudis(&["--save", ""]),
    ] {
        let mut admin = server.connect();
        let mut loader = server.connect();
        loader.run("CLIENT SETNAME loader");
        let size = 314_572;
        let mut partial = format!("*2\r\n${size}\r\n").into_bytes();
        partial.extend(vec![b'v'; size]);
        loader.send(&partial);
        let mut line = String::new();
        let filled = common::eventually(Duration::from_secs(5), || {
            let list = common::bulk_payload(&admin.run("CLIENT LIST"));
            line = String::from_utf8_lossy(&list)
                .lines()
                .find(|l| l.contains("name=loader"))
                .unwrap_or_default()
                .to_string();
            line.contains(&format!(" qbuf={size} "))
        });
        assert!(filled, "{line}");
        let field = |name: &str| -> usize {
            line.split(' ')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or(usize::MAX)
        };
        let spare = field("qbuf-free");
        shapes.push(spare <= 64 * 1024);
    }
    assert_eq!(
        shapes,
        [true, true],
        "redis-server, rudis: spare room under 64 KB"
    );
}

/// LRU idle times and LFU counters survive a restart through the RDB
/// under the matching policy.
#[test]
fn access_stamps_survive_a_restart() {
    let dir = common::fresh_dir("eviction-rdb");
    let dir_arg = dir.to_string_lossy().into_owned();
    let args = [
        "--save",
        "",
        "--dir",
        &dir_arg,
        "--maxmemory-policy",
        "allkeys-lfu",
    ];
    {
        let server = ServerProcess::rudis(&args);
        let mut conn = server.connect();
        conn.run("SET k v");
        let payload = b"\x00\x01v\n\x00\x91\x08\xce\xb2\x198\x8a\xce";
        let restored = conn.cmd(&[b"RESTORE", b"r", b"0", payload, b"FREQ", b"100"]);
        assert_eq!(restored, b"+OK\r\n".to_vec());
        assert_eq!(conn.run("OBJECT FREQ r"), b":100\r\n".to_vec());
        conn.run("SAVE");
    }
    let server = ServerProcess::rudis(&args);
    let mut conn = server.connect();
    assert_eq!(conn.run("OBJECT FREQ r"), b":100\r\n".to_vec());
    assert_eq!(conn.run("OBJECT FREQ k"), b":5\r\n".to_vec());
}

/// Clients' reply buffers count against `maxmemory`, as in Redis: clients
/// that send big reads and never read the replies make keys go, unless
/// `maxmemory-clients` evicts those clients first.
#[test]
fn unread_replies_count_against_maxmemory() {
    for client_eviction in [false, true] {
        let rudis =
            ServerProcess::rudis(&["--maxmemory", "11mb", "--maxmemory-policy", "allkeys-lru"]);
        let mut admin = rudis.connect();
        if client_eviction {
            admin.run("CONFIG SET maxmemory-clients 3mb");
            admin.run("CLIENT NO-EVICT on");
        }
        for j in 0..50 {
            admin.run(&format!("SETRANGE {j} 100000 x"));
        }
        let mut readers: Vec<Conn> = (0..20).map(|_| rudis.connect()).collect();
        let request = common::encode(&[b"MGET", b"1"]).repeat(20);
        let info = |admin: &mut Conn, field: &str| -> u64 {
            common::info_field(admin, "stats", field)
                .parse()
                .unwrap_or(0)
        };
        let evicted = common::eventually(Duration::from_secs(20), || {
            for reader in readers.iter_mut() {
                let _ = reader.stream.write_all(&request);
            }
            let (keys, clients) = (
                info(&mut admin, "evicted_keys"),
                info(&mut admin, "evicted_clients"),
            );
            if client_eviction {
                clients > 0
            } else {
                keys > 0
            }
        });
        assert!(
            evicted,
            "nothing evicted (client eviction: {client_eviction})"
        );
        if client_eviction {
            assert_eq!(info(&mut admin, "evicted_keys"), 0);
            assert_eq!(admin.run("DBSIZE"), b":50\r\n");
        }
    }
}

/// A new `maxmemory` starts eviction from the loop, after the command (or
/// its transaction), as Redis's eviction timer does: each evicted key is a
/// DEL of its own in the AOF and the replication stream, never wrapped
/// with the CONFIG SET, and a transaction that lowers the limit runs to
/// its end first. Differential, on what both servers log.
#[test]
fn eviction_after_config_set_logs_dels_of_their_own() {
    common::assert_same_changes(&[
        "config set maxmemory-policy allkeys-lru",
        "set asdf1 1",
        "set asdf2 2",
        "set asdf3 3",
        // Which keys go first is the policy's sampling: names only.
        "?config set maxmemory 1 ; dbsize ; config set maxmemory 0",
        "set asdf4 4",
        "?multi ; incr x ; config set maxmemory 1 ; incr x ; exec ; dbsize ; config set maxmemory 0",
    ]);
}
