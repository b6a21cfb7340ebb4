//! MIGRATE between rudis and the real redis-server, both ways: values,
//! TTLs and options arrive as Redis's own MIGRATE delivers them, errors
//! read the same, and the connection to a target is reused.

mod common;

use common::{info_field, Conn, ServerProcess};

const DEBUG: &str = "--enable-debug-command";

/// Runs a line split with redis-cli's quoting (`""` is an empty argument).
fn run(conn: &mut Conn, line: &str) -> String {
    let words = common::words(line);
    let args: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
    String::from_utf8_lossy(&conn.cmd(&args)).into_owned()
}

/// A key of every type and several encodings, some with a TTL.
fn fill(conn: &mut Conn) {
    conn.run("SET s hello");
    conn.run("SET n 12345");
    conn.run("SET ttl v PX 100000");
    conn.run("RPUSH l a b c 1 2 3");
    conn.run("HSET h f1 v1 f2 v2");
    conn.run("SADD si 1 2 3");
    conn.run("SADD ss x y z");
    conn.run("ZADD z 1 a 2.5 b");
    let big: Vec<String> = (0..200).map(|i| format!("m{i} {i}")).collect();
    conn.run(&format!("HSET hbig {}", big.join(" ")));
}

const KEYS: [&str; 9] = ["s", "n", "ttl", "l", "h", "si", "ss", "z", "hbig"];

fn digest_value(conn: &mut Conn, key: &str) -> String {
    run(conn, &format!("DEBUG DIGEST-VALUE {key}"))
}

/// Moves every key both ways and checks what lands: the same value digest,
/// the same TTL to the second, the source key gone (or kept with COPY).
#[test]
fn keys_move_between_rudis_and_redis_both_ways() {
    let rudis = ServerProcess::rudis(&[DEBUG, "yes"]);
    let redis = ServerProcess::redis_with(&[DEBUG, "yes", "--save", ""]);
    for (source, target) in [(&rudis, &redis), (&redis, &rudis)] {
        let mut from = source.connect();
        let mut to = target.connect();
        to.run("FLUSHALL");
        fill(&mut from);
        let digests: Vec<String> = KEYS.iter().map(|k| digest_value(&mut from, k)).collect();
        let port = target.port;
        assert_eq!(
            run(&mut from, &format!("MIGRATE 127.0.0.1 {port} s 0 5000")),
            "+OK\r\n"
        );
        assert_eq!(run(&mut from, "EXISTS s"), ":0\r\n");
        assert_eq!(
            run(
                &mut from,
                &format!(
                    "MIGRATE 127.0.0.1 {port} \"\" 2 5000 COPY KEYS n ttl l h si ss z hbig missing"
                )
            ),
            "+OK\r\n"
        );
        assert_eq!(run(&mut from, "EXISTS n ttl l h si ss z hbig"), ":8\r\n");
        to.run("SELECT 2");
        for (key, digest) in KEYS.iter().zip(&digests).skip(1) {
            assert_eq!(&digest_value(&mut to, key), digest, "value of {key}");
        }
        let ttl = run(&mut to, "TTL ttl");
        assert!(ttl == ":100\r\n" || ttl == ":99\r\n", "{ttl}");
        assert_eq!(run(&mut to, "TTL l"), ":-1\r\n");
        to.run("SELECT 0");
        assert_eq!(digest_value(&mut to, "s"), digests[0]);

        // Without REPLACE an existing target key is an error and the
        // source keeps it; with REPLACE it moves.
        from.run("SET s again");
        assert_eq!(
            run(&mut from, &format!("MIGRATE 127.0.0.1 {port} s 0 5000")),
            "-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n"
        );
        assert_eq!(run(&mut from, "GET s"), "$5\r\nagain\r\n");
        assert_eq!(
            run(
                &mut from,
                &format!("MIGRATE 127.0.0.1 {port} s 0 5000 REPLACE")
            ),
            "+OK\r\n"
        );
        assert_eq!(run(&mut to, "GET s"), "$5\r\nagain\r\n");
        assert_eq!(
            run(&mut from, &format!("MIGRATE 127.0.0.1 {port} s 0 5000")),
            "+NOKEY\r\n"
        );
        from.run("FLUSHALL");
    }
}

/// Error replies, byte for byte as redis-server gives them.
#[test]
fn errors_read_as_redis() {
    let target = ServerProcess::redis_with(&["--save", ""]);
    let closed = common::free_port();
    let port = target.port;
    let script = [
        "SET a 1".to_string(),
        format!("MIGRATE 127.0.0.1 {port} a 0 1000 KEYS b"),
        format!("MIGRATE 127.0.0.1 {port} a 0 1000 bogus"),
        format!("MIGRATE 127.0.0.1 {port} a 0 1000 AUTH"),
        format!("MIGRATE 127.0.0.1 {port} a 0 1000 AUTH2 user"),
        format!("MIGRATE 127.0.0.1 {port} a x 1000"),
        format!("MIGRATE 127.0.0.1 {port} a 0 y"),
        format!("MIGRATE 127.0.0.1 {port} nokey 0 1000"),
        format!("MIGRATE 127.0.0.1 {port} a 99 1000"),
        format!("MIGRATE 127.0.0.1 {port} a 0 1000 AUTH secret"),
        format!("MIGRATE 127.0.0.1 {closed} a 0 200"),
        "MIGRATE 127.0.0.1 abc a 0 200".to_string(),
        "MIGRATE no-such-host.invalid 6379 a 0 200".to_string(),
        "MIGRATE 127.0.0.1 1 a".to_string(),
        "COMMAND INFO migrate".to_string(),
        "COMMAND DOCS migrate".to_string(),
    ];
    let script: Vec<&str> = script.iter().map(String::as_str).collect();
    common::assert_same_replies(&script);
}

/// AUTH and AUTH2 reach a target that needs a password.
#[test]
fn authenticates_to_a_target_with_a_password() {
    let target = ServerProcess::redis_with(&["--save", "", "--requirepass", "sesame"]);
    let rudis = ServerProcess::rudis(&[]);
    let mut from = rudis.connect();
    let port = target.port;
    from.run("SET a 1");
    from.run("SET b 2");
    assert_eq!(
        run(
            &mut from,
            &format!("MIGRATE 127.0.0.1 {port} a 0 1000 COPY")
        ),
        "-ERR Target instance replied with error: NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        run(&mut from, &format!("MIGRATE 127.0.0.1 {port} a 0 1000 AUTH wrong")),
        "-ERR Target instance replied with error: WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(run(&mut from, "EXISTS a"), ":1\r\n");
    assert_eq!(
        run(
            &mut from,
            &format!("MIGRATE 127.0.0.1 {port} a 0 1000 AUTH sesame")
        ),
        "+OK\r\n"
    );
    assert_eq!(
        run(
            &mut from,
            &format!("MIGRATE 127.0.0.1 {port} b 0 1000 AUTH2 default sesame")
        ),
        "+OK\r\n"
    );
    let mut to = target.connect();
    to.run("AUTH sesame");
    assert_eq!(run(&mut to, "MGET a b"), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
}

/// Successive MIGRATEs to one target share a connection; a target that
/// closed it (a restart, a timeout) is reconnected to without an error.
#[test]
fn the_connection_to_a_target_is_reused_and_renewed() {
    let target = ServerProcess::redis_with(&["--save", ""]);
    let rudis = ServerProcess::rudis(&[]);
    let mut from = rudis.connect();
    let mut to = target.connect();
    let port = target.port;
    let connections = || info_field(&mut target.connect(), "stats", "total_connections_received");
    let before: u64 = connections().parse().unwrap();
    for i in 0..5 {
        from.run(&format!("SET k{i} v"));
        assert_eq!(
            run(&mut from, &format!("MIGRATE 127.0.0.1 {port} k{i} 0 1000")),
            "+OK\r\n"
        );
    }
    // One connection for the five MIGRATEs, one for asking.
    let after: u64 = connections().parse().unwrap();
    assert_eq!(after - before, 2);
    // The target drops every other client: the next MIGRATE reconnects.
    to.run("CLIENT KILL TYPE normal SKIPME yes");
    from.run("SET again v");
    assert_eq!(
        run(&mut from, &format!("MIGRATE 127.0.0.1 {port} again 0 1000")),
        "+OK\r\n"
    );
    assert_eq!(run(&mut to, "DBSIZE"), ":6\r\n");
}

/// A moved key is logged as a DEL: after a restart from the AOF it is
/// still gone; a COPY leaves the log alone.
#[test]
fn a_migrated_key_stays_gone_after_a_restart() {
    let target = ServerProcess::redis_with(&["--save", ""]);
    let dir = common::fresh_dir("migrate-aof");
    let dir_arg = dir.display().to_string();
    let args = ["--dir", &dir_arg, "--appendonly", "yes", "--save", ""];
    let port = target.port;
    {
        let rudis = ServerProcess::rudis(&args);
        let mut from = rudis.connect();
        from.run("SET moved 1");
        from.run("SET copied 2");
        from.run("SET kept 3");
        assert_eq!(
            run(&mut from, &format!("MIGRATE 127.0.0.1 {port} moved 0 1000")),
            "+OK\r\n"
        );
        assert_eq!(
            run(
                &mut from,
                &format!("MIGRATE 127.0.0.1 {port} copied 0 1000 COPY")
            ),
            "+OK\r\n"
        );
    }
    let rudis = ServerProcess::rudis(&args);
    let mut conn = rudis.connect();
    assert_eq!(run(&mut conn, "EXISTS moved"), ":0\r\n");
    assert_eq!(run(&mut conn, "EXISTS copied kept"), ":2\r\n");
    let _ = std::fs::remove_dir_all(dir);
}
