//! Expiry through the real binary: lazy expiry on access, active expiry of
//! keys nobody touches, and the INFO counters that report it. Waits are
//! bounded polls, never fixed sleeps longer than needed.

mod common;

use common::{eventually, info_field, ServerProcess};
use std::time::{Duration, Instant};

#[test]
fn an_expired_key_vanishes_on_access() {
    let server = ServerProcess::rudis(&["--hz", "1"]);
    let mut conn = server.connect();
    assert_eq!(conn.run("SET k v PX 100"), b"+OK\r\n");
    assert_eq!(conn.run("GET k"), b"$1\r\nv\r\n");
    assert!(eventually(Duration::from_secs(2), || conn.run("GET k") == b"$-1\r\n"));
    assert_eq!(conn.run("EXISTS k"), b":0\r\n");
    assert_eq!(conn.run("TTL k"), b":-2\r\n");
    assert_eq!(info_field(&mut conn, "stats", "expired_keys"), "1");
}

#[test]
fn keys_nobody_touches_are_deleted_by_the_cron() {
    let server = ServerProcess::rudis(&[]);
    let mut conn = server.connect();
    let mut pipeline = Vec::new();
    for i in 0..20_000 {
        let key = format!("t:{i}");
        pipeline.extend(common::encode(&[
            b"SET",
            key.as_bytes(),
            b"x",
            b"PX",
            b"1500",
        ]));
    }
    // 1.5 s leaves a slow debug build time to count the keys before they expire.
    pipeline.extend(common::encode(&[b"SET", b"keeper", b"x"]));
    conn.send(&pipeline);
    for _ in 0..20_001 {
        conn.read_reply();
    }
    assert_eq!(conn.run("DBSIZE"), b":20001\r\n");
    assert!(
        info_field(&mut conn, "keyspace", "db0").starts_with("keys=20001,expires=20000,avg_ttl=")
    );
    let started = Instant::now();
    assert!(
        eventually(Duration::from_secs(8), || conn.run("DBSIZE") == b":1\r\n"),
        "expired keys still counted: {:?}",
        String::from_utf8_lossy(&conn.run("DBSIZE"))
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(info_field(&mut conn, "stats", "expired_keys"), "20000");
    assert_eq!(
        info_field(&mut conn, "keyspace", "db0"),
        "keys=1,expires=0,avg_ttl=0"
    );
}

#[test]
fn hits_and_misses_are_counted() {
    let server = ServerProcess::rudis(&[]);
    let mut conn = server.connect();
    conn.run("SET a 1");
    conn.run("GET a");
    conn.run("GET a");
    conn.run("GET nothing");
    conn.run("MGET a nothing nothing");
    assert_eq!(info_field(&mut conn, "stats", "keyspace_hits"), "3");
    assert_eq!(info_field(&mut conn, "stats", "keyspace_misses"), "3");
    conn.run("CONFIG RESETSTAT");
    assert_eq!(info_field(&mut conn, "stats", "keyspace_hits"), "0");
}

#[test]
fn memory_comes_back_after_a_mass_expiry() {
    let server = ServerProcess::rudis(&[]);
    let mut conn = server.connect();
    // Each command's latency histogram is made at its first call: make
    // those of the commands used below first.
    conn.run("SET warm x PX 1");
    conn.run("DBSIZE");
    info_field(&mut conn, "memory", "used_memory");
    let before: u64 = info_field(&mut conn, "memory", "used_memory")
        .parse()
        .unwrap();
    let mut pipeline = Vec::new();
    for i in 0..50_000 {
        let key = format!("m:{i}");
        pipeline.extend(common::encode(&[
            b"SET",
            key.as_bytes(),
            b"value",
            b"PX",
            b"1500",
        ]));
    }
    // (Long enough that the keys are all there when loading ends, even
    // on a busy machine running a debug build.)
    conn.send(&pipeline);
    for _ in 0..50_000 {
        conn.read_reply();
    }
    let loaded: u64 = info_field(&mut conn, "memory", "used_memory")
        .parse()
        .unwrap();
    assert!(loaded > before + 2_000_000, "{before} -> {loaded}");
    assert!(eventually(Duration::from_secs(15), || conn.run("DBSIZE") == b":0\r\n"));
    let after: u64 = info_field(&mut conn, "memory", "used_memory")
        .parse()
        .unwrap();
    assert!(
        after < before + 200_000,
        "used_memory {before} -> {loaded} -> {after}"
    );
}

/// A key present for the whole scan is returned at least once, even while
/// other keys are added and deleted between the SCAN calls.
#[test]
fn scan_returns_every_stable_key_while_the_table_changes() {
    let server = ServerProcess::rudis(&[]);
    let mut conn = server.connect();
    let mut churn = server.connect();
    let stable: Vec<String> = (0..2000).map(|i| format!("stable:{i}")).collect();
    for key in &stable {
        conn.run(&format!("SET {key} x"));
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    let mut round = 0;
    loop {
        // Grow by 300 keys, then delete 250, between every call.
        for i in 0..300 {
            churn.run(&format!("SET churn:{round}:{i} x"));
        }
        for i in 0..250 {
            churn.run(&format!("DEL churn:{round}:{i}"));
        }
        round += 1;
        let reply = conn.run(&format!("SCAN {cursor} COUNT 50"));
        let items = common::array_items(&reply);
        cursor = String::from_utf8_lossy(&items[0])
            .lines()
            .nth(1)
            .unwrap()
            .to_string();
        for key in common::array_items(&items[1]) {
            seen.insert(
                String::from_utf8_lossy(&key)
                    .lines()
                    .nth(1)
                    .unwrap()
                    .to_string(),
            );
        }
        if cursor == "0" {
            break;
        }
        assert!(round < 10_000, "scan does not finish");
    }
    let missing: Vec<&String> = stable.iter().filter(|k| !seen.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "{} stable keys never returned",
        missing.len()
    );
}

#[test]
fn object_idletime_counts_from_the_last_access() {
    let server = ServerProcess::rudis(&[]);
    let mut conn = server.connect();
    conn.run("SET k v");
    assert_eq!(conn.run("OBJECT IDLETIME k"), b":0\r\n");
    std::thread::sleep(Duration::from_millis(2100));
    let idle = String::from_utf8(conn.run("OBJECT IDLETIME k")).unwrap();
    assert!(idle == ":2\r\n" || idle == ":3\r\n", "{idle}");
    // TYPE and TTL do not count as accesses; GET does.
    conn.run("TYPE k");
    conn.run("TTL k");
    assert_ne!(conn.run("OBJECT IDLETIME k"), b":0\r\n");
    conn.run("GET k");
    assert_eq!(conn.run("OBJECT IDLETIME k"), b":0\r\n");
    assert_eq!(conn.run("OBJECT IDLETIME nothing"), b"$-1\r\n");
}

/// INFO's expiry estimates come from the active cycle: the expired share
/// of sampled keys (`expired_stale_perc`) and the cycles that ran out of
/// time (`expired_time_cap_reached_count`), nonzero on both servers
/// after 200,000 keys expire at once.
#[test]
fn expire_cycle_estimates_are_reported() {
    for server in [
        common::ServerProcess::redis(),
        common::ServerProcess::rudis(&["--save", ""]),
    ] {
        let mut conn = server.connect();
        let fill = "for i = 1, 200000 do redis.call('set', 'k' .. i, 'v', 'px', 50) end";
        conn.cmd(&[b"EVAL", fill.as_bytes(), b"0"]);
        let mut seen = (String::new(), String::new());
        let reported = common::eventually(std::time::Duration::from_secs(10), || {
            seen = (
                common::info_field(&mut conn, "stats", "expired_stale_perc"),
                common::info_field(&mut conn, "stats", "expired_time_cap_reached_count"),
            );
            seen.0 != "0.00" && seen.1 != "0"
        });
        assert!(reported, "port {}: {seen:?}", server.port);
    }
}
