//! Redis Sentinel (the real `redis-sentinel`) watching a rudis master with
//! a rudis and a redis-server replica: it sees the replicas through INFO,
//! calls the master down when it dies, promotes a replica with REPLICAOF
//! NO ONE, points the other at it, and redis-py's Sentinel client goes on
//! writing to whichever is master.

mod common;

use common::{eventually, ServerProcess};
use std::time::Duration;

/// A config file for a rudis server, so Sentinel's CONFIG REWRITE lands.
fn rudis_with_config(extra: &[&str]) -> ServerProcess {
    let dir = common::fresh_dir("sentinel-rudis");
    let conf = dir.join("rudis.conf");
    std::fs::write(&conf, "save \"\"\nrepl-diskless-sync-delay 0\n").unwrap();
    let conf = conf.to_str().unwrap().to_string();
    let dir_arg = dir.to_str().unwrap().to_string();
    let mut args = vec![conf.as_str(), "--dir", dir_arg.as_str()];
    args.extend_from_slice(extra);
    let mut server = ServerProcess::rudis(&args);
    server.owned_dir = Some(dir);
    server
}

fn master_port_by_sentinel(sentinel: &ServerProcess) -> u16 {
    let reply = sentinel
        .connect()
        .run("SENTINEL GET-MASTER-ADDR-BY-NAME mymaster");
    let items = common::array_items(&reply);
    items
        .get(1)
        .and_then(|p| {
            std::str::from_utf8(&common::bulk_payload(p))
                .ok()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// One INFO field through redis-cli: a connection Sentinel kills (it
/// kills the normal clients of a server it reconfigures) reads as "".
fn field(port: u16, section: &str, name: &str) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &port.to_string(), "INFO", section])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

fn sentinel_log(sentinel: &ServerProcess) -> String {
    let dir = sentinel.owned_dir.as_ref().expect("sentinel dir");
    std::fs::read_to_string(dir.join("sentinel.log")).unwrap_or_default()
}

#[test]
fn sentinel_fails_over_a_rudis_master() {
    let mut master = rudis_with_config(&[]);
    let master_port = master.port.to_string();
    let rudis_replica = rudis_with_config(&["--replicaof", "127.0.0.1", &master_port]);
    let redis_replica = ServerProcess::redis_with(&[
        "--save",
        "",
        "--replicaof",
        "127.0.0.1",
        &master_port,
        "--replica-priority",
        "200",
    ]);
    let sentinel = ServerProcess::sentinel(master.port);
    let mut s = sentinel.connect();
    // Sentinel learns the replicas from the master's INFO.
    assert!(
        eventually(Duration::from_secs(20), || {
            let replicas =
                String::from_utf8_lossy(&s.run("SENTINEL REPLICAS mymaster")).to_string();
            replicas.matches("master-link-status").count() == 2
                && !replicas.contains("s_down")
                && replicas.matches("\r\nok\r\n").count() == 2
        }),
        "{}",
        String::from_utf8_lossy(&s.run("SENTINEL REPLICAS mymaster"))
    );
    let mut m = master.connect();
    m.run("SET before failover");
    assert_eq!(m.run("WAIT 2 5000"), b":2\r\n");

    let _ = master.child.kill();
    let _ = master.child.wait();
    // The rudis replica has the better priority: it is promoted.
    assert!(
        eventually(Duration::from_secs(30), || master_port_by_sentinel(
            &sentinel
        ) == rudis_replica.port),
        "no failover: {}",
        sentinel_log(&sentinel)
    );
    // Sentinel kills the normal clients of the servers it reconfigures:
    // each look is a new connection.
    assert!(eventually(Duration::from_secs(10), || field(
        rudis_replica.port,
        "replication",
        "role"
    ) == "master"));
    assert!(eventually(Duration::from_secs(20), || {
        field(redis_replica.port, "replication", "master_port") == rudis_replica.port.to_string()
            && field(redis_replica.port, "replication", "master_link_status") == "up"
    }));
    assert!(eventually(Duration::from_secs(10), || field(
        redis_replica.port,
        "keyspace",
        "db0"
    )
    .starts_with("keys=1,")));
    common::assert_python_ok("sentinel_redis_py.py", &sentinel);
}
