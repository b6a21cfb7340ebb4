//! Replication with real redis-server on the other end: rudis as master of
//! a redis-server replica, rudis as replica of a redis-server master, and
//! rudis on both ends. Data is compared with DEBUG DIGEST once the writes
//! have been acknowledged (WAIT) or the offsets agree.

mod common;

use common::{eventually, info_field, Conn, ServerProcess};
use std::time::Duration;

const SYNC_WAIT: Duration = Duration::from_secs(15);

fn port_arg(server: &ServerProcess) -> String {
    server.port.to_string()
}

/// `base` then `extra`, as one argument list.
fn joined<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(extra).copied().collect()
}

/// A rudis master that starts diskless syncs at once.
fn rudis_master(extra: &[&str]) -> ServerProcess {
    ServerProcess::rudis(&joined(&joined(MASTER, DEBUG), extra))
}

/// No snapshots on their own; full syncs start at once.
const MASTER: &[&str] = &["--save", "", "--repl-diskless-sync-delay", "0"];

const DEBUG: &[&str] = &["--enable-debug-command", "yes"];

fn redis_replica_of(master: &ServerProcess, extra: &[&str]) -> ServerProcess {
    let port = port_arg(master);
    let base = ["--replicaof", "127.0.0.1", &port];
    ServerProcess::redis_with(&joined(&joined(&base, DEBUG), extra))
}

fn rudis_replica_of(master: &ServerProcess, extra: &[&str]) -> ServerProcess {
    let port = port_arg(master);
    let base = ["--save", "", "--replicaof", "127.0.0.1", &port];
    ServerProcess::rudis(&joined(&joined(&base, DEBUG), extra))
}

fn link_up(replica: &ServerProcess) -> bool {
    let mut conn = replica.connect();
    eventually(SYNC_WAIT, || {
        info_field(&mut conn, "replication", "master_link_status") == "up"
    })
}

fn digest(server: &ServerProcess) -> Vec<u8> {
    server.connect().run("DEBUG DIGEST")
}

/// Both ends agree once the replica has applied the master's offset.
fn same_data(master: &ServerProcess, replica: &ServerProcess) -> bool {
    let (mut m, mut r) = (master.connect(), replica.connect());
    eventually(SYNC_WAIT, || {
        let offset = info_field(&mut m, "replication", "master_repl_offset");
        info_field(&mut r, "replication", "slave_repl_offset") == offset
            && digest(master) == digest(replica)
    })
}

/// Writes of every type, in effect forms and raw, across databases.
fn write_load(conn: &mut Conn, round: usize) {
    for i in 0..50 {
        let n = round * 1000 + i;
        for line in [
            format!("SET s{n} v{n}"),
            format!("INCRBY counter {i}"),
            format!("APPEND s{n} tail"),
            format!("SET ex{n} v EX 1000"),
            format!("EXPIRE s{n} 5000"),
            format!("RPUSH list{} {n} {n}", i % 5),
            format!("LPOP list{}", i % 5),
            format!("HSET hash{} f{n} {n}", i % 3),
            "HINCRBYFLOAT hash0 fl 1.5".to_string(),
            format!("SADD set{} m{n} {n}", i % 4),
            format!("ZADD zset{} {n} m{n}", i % 2),
            format!("ZINCRBY zset0 2 m{n}"),
            format!("XADD stream * f {n}"),
            format!("PFADD hll e{n}"),
            format!("SETBIT bits {n} 1"),
            "INCRBYFLOAT float 0.25".to_string(),
            "SPOP set0".to_string(),
            format!("SELECT {}", i % 3),
            format!("SET db{n} x"),
            "SELECT 0".to_string(),
        ] {
            let reply = conn.run(&line);
            assert!(!reply.starts_with(b"-"), "{line}: {reply:?}");
        }
    }
    conn.run("MULTI");
    conn.run("SET tx1 a");
    conn.run("INCR counter");
    assert!(conn.run("EXEC").starts_with(b"*2"));
    let script = b"redis.call('set', KEYS[1], ARGV[1]); return redis.call('incr', 'counter')";
    let reply = conn.cmd(&[b"EVAL", script, b"1", b"scripted", b"v"]);
    assert!(reply.starts_with(b":"), "{reply:?}");
    conn.run("DEL s1");
    conn.run(&format!("SET short{round} v PX 50"));
}

/// A script's `redis.set_repl` sends each write to the AOF, the replicas,
/// both or neither: a redis-server replica of rudis gets only the writes
/// meant for it, and the master's AOF, replayed, only those meant for it.
#[test]
fn script_set_repl_chooses_where_writes_go() {
    let dir = common::fresh_dir("set-repl");
    let dir_arg = dir.to_string_lossy().into_owned();
    let master = rudis_master(&["--appendonly", "yes", "--dir", dir_arg.as_str()]);
    let replica = redis_replica_of(&master, &[]);
    assert!(link_up(&replica));
    let mut conn = master.connect();
    let script = "redis.call('set','a','1') \
        redis.set_repl(redis.REPL_NONE) redis.call('set','b','2') \
        redis.set_repl(redis.REPL_AOF) redis.call('set','c','3') \
        redis.set_repl(redis.REPL_REPLICA) redis.call('set','e','5') \
        redis.set_repl(redis.REPL_ALL) redis.call('set','d','4')";
    conn.cmd(&[b"EVAL", script.as_bytes(), b"0"]);
    conn.run("SET done 1");
    let mut r = replica.connect();
    assert!(eventually(SYNC_WAIT, || r.run("GET done") == b"$1\r\n1\r\n"));
    let seen = |conn: &mut Conn| text(&conn.run("MGET a b c d e"));
    assert_eq!(
        seen(&mut r),
        "*5\r\n$1\r\n1\r\n$-1\r\n$-1\r\n$1\r\n4\r\n$1\r\n5\r\n"
    );
    assert_eq!(
        seen(&mut conn),
        "*5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n"
    );
    assert_eq!(conn.run("DEBUG LOADAOF"), b"+OK\r\n");
    assert_eq!(
        seen(&mut conn),
        "*5\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n$1\r\n4\r\n$-1\r\n"
    );
}

/// PUBLISH and SPUBLISH on a rudis master reach the subscribers of its
/// redis-server replica, and never the AOF.
#[test]
fn publish_reaches_subscribers_of_replicas() {
    let master = rudis_master(&[]);
    let replica = redis_replica_of(&master, &[]);
    assert!(link_up(&replica));
    let mut subscriber = replica.connect();
    subscriber.run("SUBSCRIBE news");
    let mut shard = replica.connect();
    shard.run("SSUBSCRIBE shard-news");
    let mut conn = master.connect();
    assert_eq!(conn.run("PUBLISH news hello"), b":0\r\n");
    assert_eq!(conn.run("SPUBLISH shard-news hi"), b":0\r\n");
    assert_eq!(
        text(&subscriber.read_reply()),
        "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    assert_eq!(
        text(&shard.read_reply()),
        "*3\r\n$8\r\nsmessage\r\n$10\r\nshard-news\r\n$2\r\nhi\r\n"
    );
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn redis_replica_follows_a_rudis_master_and_continues_after_restart() {
    let master = rudis_master(&[]);
    let mut m = master.connect();
    m.run("SET before-sync 1");
    m.run("RPUSH l a b c");
    let replica_dir = common::fresh_dir("redis-replica");
    let dir = replica_dir.to_str().unwrap().to_string();
    let mut replica = redis_replica_of(&master, &["--dir", &dir, "--save", "3600 1"]);
    assert!(link_up(&replica), "redis-server replica never synced");
    write_load(&mut m, 0);
    assert_eq!(m.run("WAIT 1 5000"), b":1\r\n");
    assert!(same_data(&master, &replica));
    assert_eq!(info_field(&mut m, "stats", "sync_full"), "1");
    let role = String::from_utf8(m.run("ROLE")).unwrap();
    assert!(role.starts_with("*3\r\n$6\r\nmaster\r\n:"), "{role}");
    assert!(role.contains(&format!(
        "${}\r\n{}\r\n",
        replica.port.to_string().len(),
        replica.port
    )));
    let slave0 = info_field(&mut m, "replication", "slave0");
    assert!(slave0.contains("state=online"), "{slave0}");
    let list = String::from_utf8(m.run("CLIENT LIST TYPE replica")).unwrap();
    assert!(list.contains("flags=S"), "{list}");

    // A replica stopped with a save comes back with a partial resync.
    replica.connect().send(b"SHUTDOWN SAVE\r\n");
    replica.wait_exit(Duration::from_secs(10));
    write_load(&mut m, 1);
    let master_port = port_arg(&master);
    let replica = ServerProcess::redis_at(
        replica.port,
        &[
            "--dir",
            &dir,
            "--replicaof",
            "127.0.0.1",
            &master_port,
            "--enable-debug-command",
            "yes",
        ],
    );
    assert!(link_up(&replica));
    assert!(same_data(&master, &replica));
    assert_eq!(info_field(&mut m, "stats", "sync_partial_ok"), "1");
    assert_eq!(info_field(&mut m, "stats", "sync_full"), "1");
}

#[test]
fn disk_based_sync_and_old_sync_protocol() {
    let master = rudis_master(&["--repl-diskless-sync", "no"]);
    let mut m = master.connect();
    write_load(&mut m, 0);
    let replica = redis_replica_of(&master, &["--save", ""]);
    assert!(link_up(&replica));
    assert!(same_data(&master, &replica));

    // SYNC: the snapshot as a bulk, then the stream.
    let mut old = master.connect();
    old.send(b"SYNC\r\n");
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + SYNC_WAIT;
    while !got.windows(5).any(|w| w == b"REDIS") && std::time::Instant::now() < deadline {
        got.extend(old.read_available());
    }
    let text = String::from_utf8_lossy(&got)
        .trim_start_matches('\n')
        .to_string();
    assert!(text.starts_with('$'), "{text:?}");
}

#[test]
fn rudis_replica_follows_a_redis_master() {
    let master = ServerProcess::redis_with(&joined(MASTER, DEBUG));
    let mut m = master.connect();
    write_load(&mut m, 0);
    let replica = rudis_replica_of(&master, &[]);
    assert!(link_up(&replica));
    write_load(&mut m, 1);
    assert!(same_data(&master, &replica));
    let mut r = replica.connect();
    assert_eq!(
        r.run("SET x y"),
        b"-READONLY You can't write against a read only replica.\r\n"
    );
    let role = String::from_utf8(r.run("ROLE")).unwrap();
    assert!(role.contains("connected"), "{role}");
    assert!(String::from_utf8(r.run("CLIENT LIST"))
        .unwrap()
        .contains("flags=M"));

    // Keys expire on the master; the replica hides them meanwhile.
    m.run("DEBUG SET-ACTIVE-EXPIRE 0");
    m.run("SET soon v PX 100");
    assert!(same_data(&master, &replica));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(r.run("GET soon"), b"$-1\r\n");
    assert_eq!(r.run("EXISTS soon"), b":0\r\n");
    m.run("GET soon");
    assert!(eventually(SYNC_WAIT, || r.run("DBSIZE") == m.run("DBSIZE")));

    // A cut link is mended with a partial resync.
    r.run("CLIENT KILL TYPE master");
    write_load(&mut m, 2);
    assert!(link_up(&replica));
    assert!(same_data(&master, &replica));
    assert_eq!(info_field(&mut m, "stats", "sync_partial_ok"), "1");

    // Promoted, it keeps the data and takes writes.
    let replid = info_field(&mut r, "replication", "master_replid");
    assert_eq!(r.run("REPLICAOF NO ONE"), b"+OK\r\n");
    assert_eq!(info_field(&mut r, "replication", "role"), "master");
    assert_eq!(info_field(&mut r, "replication", "master_replid2"), replid);
    assert_eq!(r.run("SET x y"), b"+OK\r\n");
}

#[test]
fn rudis_to_rudis_with_a_chained_redis_replica() {
    let master = rudis_master(&[]);
    let middle = rudis_replica_of(&master, &["--repl-diskless-sync-delay", "0"]);
    assert!(link_up(&middle));
    let leaf = redis_replica_of(&middle, &["--save", ""]);
    assert!(link_up(&leaf));
    let mut m = master.connect();
    write_load(&mut m, 0);
    assert_eq!(m.run("WAIT 1 5000"), b":1\r\n");
    assert!(same_data(&master, &middle));
    assert!(same_data(&middle, &leaf));
    assert!(same_data(&master, &leaf));
}

#[test]
fn replication_commands_answer_as_redis() {
    common::assert_same_replies(&[
        "REPLCONF foo bar",
        "REPLCONF foo",
        "REPLCONF listening-port 1234",
        "REPLICAOF 127.0.0.1 99999",
        "REPLICAOF 127.0.0.1 x",
        "REPLICAOF no two",
        "REPLICAOF NO ONE",
        "SLAVEOF NO ONE",
        "WAIT 1 -1",
        "WAIT x 1",
        "WAIT 1 x",
        "WAIT 0 0",
        "WAIT 1 10",
        "MULTI",
        "WAIT 1 0",
        "EXEC",
        "ROLE",
        "FAILOVER",
        "FAILOVER ABORT",
        "FAILOVER TO 127.0.0.1 1",
        "FAILOVER TIMEOUT -1",
        "FAILOVER TIMEOUT x",
        "FAILOVER FORCE",
        "FAILOVER TO 127.0.0.1 1 FORCE",
        "FAILOVER foo",
        "PSYNC ? -1 FAILOVER",
        "COMMAND INFO psync sync replconf replicaof slaveof role wait failover",
    ]);
}

#[test]
fn min_replicas_to_write_and_wait_on_a_replica() {
    let master = rudis_master(&["--min-replicas-to-write", "1"]);
    let mut m = master.connect();
    assert_eq!(
        m.run("SET a b"),
        b"-NOREPLICAS Not enough good replicas to write.\r\n"
    );
    let replica = rudis_replica_of(&master, &[]);
    assert!(link_up(&replica));
    assert!(eventually(SYNC_WAIT, || m.run("SET a b") == b"+OK\r\n"));
    let mut r = replica.connect();
    assert!(r
        .run("WAIT 0 0")
        .starts_with(b"-ERR WAIT cannot be used with replica instances"));
    r.run("CONFIG SET replica-serve-stale-data no");
    r.run("REPLICAOF 127.0.0.1 1");
    assert_eq!(
        r.run("GET a"),
        b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    assert!(r.run("PING").starts_with(b"-MASTERDOWN"));
    assert!(r.run("INFO replication").starts_with(b"$"));
}

#[test]
fn masterauth_and_masteruser_log_the_replica_in() {
    let master = ServerProcess::redis_with(&[
        "--save",
        "",
        "--requirepass",
        "secret",
        "--user",
        "repl",
        "on",
        ">replpass",
        "+@all",
        "~*",
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let mut m = master.connect();
    m.run("AUTH secret");
    m.run("SET guarded 1");
    let by_password = rudis_replica_of(&master, &["--masterauth", "secret"]);
    let by_user = rudis_replica_of(
        &master,
        &["--masteruser", "repl", "--masterauth", "replpass"],
    );
    let refused = rudis_replica_of(&master, &["--masterauth", "wrong"]);
    assert!(link_up(&by_password));
    assert!(link_up(&by_user));
    assert_eq!(by_user.connect().run("GET guarded"), b"$1\r\n1\r\n");
    let mut r = refused.connect();
    assert_eq!(
        info_field(&mut r, "replication", "master_link_status"),
        "down"
    );
}

#[test]
fn writes_during_a_full_sync_are_neither_lost_nor_doubled() {
    for diskless in ["yes", "no"] {
        // A slow snapshot (a pause after each key) leaves room for writes
        // meanwhile.
        let master = rudis_master(&[
            "--repl-diskless-sync",
            diskless,
            "--rdb-key-save-delay",
            "10",
        ]);
        let mut m = master.connect();
        m.run("DEBUG POPULATE 5000 key 100");
        let port = master.port;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut w = Conn::new(port);
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    w.run("INCR during");
                    w.run(&format!("RPUSH log {n}"));
                    w.run(&format!("SET key:{} changed", n % 5000));
                    n += 1;
                }
                n
            })
        };
        let redis = redis_replica_of(&master, &["--save", ""]);
        let rudis = rudis_replica_of(&master, &[]);
        assert!(link_up(&redis) && link_up(&rudis), "diskless {diskless}");
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let writes = writer.join().unwrap();
        assert!(writes > 0);
        assert_eq!(m.run("WAIT 2 10000"), b":2\r\n");
        assert_eq!(
            m.run("GET during"),
            format!("${}\r\n{writes}\r\n", writes.to_string().len()).into_bytes()
        );
        assert!(same_data(&master, &redis), "diskless {diskless}");
        assert!(same_data(&master, &rudis), "diskless {diskless}");
    }
}

#[test]
fn a_replica_that_stops_reading_is_dropped_at_its_output_limit() {
    let master = rudis_master(&["--client-output-buffer-limit", "replica 1mb 0 0"]);
    let mut m = master.connect();
    let mut stalled = master.connect();
    assert_eq!(stalled.run("REPLCONF capa eof capa psync2"), b"+OK\r\n");
    stalled.send(b"PSYNC ? -1\r\n");
    assert!(eventually(SYNC_WAIT, || info_field(
        &mut m,
        "replication",
        "connected_slaves"
    ) == "1"));
    let value = "x".repeat(10_000);
    for i in 0..300 {
        m.run(&format!("SET k{i} {value}"));
    }
    assert!(eventually(SYNC_WAIT, || info_field(
        &mut m,
        "replication",
        "connected_slaves"
    ) == "0"));
}

#[test]
fn redis_cli_rdb_and_replica_modes_read_the_snapshot_and_stream() {
    let master = rudis_master(&[]);
    let mut m = master.connect();
    m.run("DEBUG POPULATE 50000 key 100");
    let dir = common::fresh_dir("cli-rdb");
    let file = dir.join("dump.rdb");
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &port_arg(&master), "--rdb"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let dir_arg = dir.to_str().unwrap().to_string();
    let copy = ServerProcess::rudis(&["--dir", &dir_arg, "--enable-debug-command", "yes"]);
    assert_eq!(digest(&copy), digest(&master));
    drop(copy);

    // `--functions-rdb` asks for the functions alone (rdb-filter-only).
    let code = "#!lua name=lib1\nredis.register_function('func1', function() return 123 end)";
    assert_eq!(
        m.cmd(&[b"FUNCTION", b"LOAD", code.as_bytes()]),
        b"$4\r\nlib1\r\n"
    );
    std::fs::remove_file(&file).unwrap();
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &port_arg(&master), "--functions-rdb"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let copy = ServerProcess::rudis(&["--dir", &dir_arg]);
    let mut c = copy.connect();
    assert_eq!(c.run("DBSIZE"), b":0\r\n");
    assert_eq!(c.run("FCALL func1 0"), b":123\r\n");
    drop(copy);
    assert_eq!(
        m.run("REPLCONF rdb-filter-only keys"),
        b"-ERR Unsupported rdb-filter-only option: keys\r\n"
    );
    // The --functions-rdb link is gone before the next one comes.
    assert!(eventually(SYNC_WAIT, || info_field(
        &mut m,
        "replication",
        "connected_slaves"
    ) == "0"));

    // redis-cli --replica waits a second after the snapshot before its
    // first ACK, which lets the stream flow: its output is polled.
    let log = dir.join("replica.out");
    let mut follower = std::process::Command::new("redis-cli")
        .args(["-p", &port_arg(&master), "--replica"])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(eventually(SYNC_WAIT, || info_field(
        &mut m,
        "replication",
        "slave0"
    )
    .contains("state=online")));
    m.run("SET streamed yes");
    let streamed = eventually(SYNC_WAIT, || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("\"SET\",\"streamed\",\"yes\""))
    });
    let _ = follower.kill();
    let _ = follower.wait();
    assert!(streamed, "{:?}", std::fs::read_to_string(&log));
}

#[test]
fn restarts_continue_the_stream_from_the_snapshot() {
    let master_dir = common::fresh_dir("restart-master");
    let replica_dir = common::fresh_dir("restart-replica");
    let (mdir, rdir) = (
        master_dir.to_str().unwrap().to_string(),
        replica_dir.to_str().unwrap().to_string(),
    );
    let mut master = rudis_master(&["--dir", &mdir]);
    let master_port = port_arg(&master);
    let replica_args = [
        "--dir",
        rdir.as_str(),
        "--replicaof",
        "127.0.0.1",
        &master_port,
    ];
    let mut replica = ServerProcess::rudis(&joined(&replica_args, DEBUG));
    let redis = redis_replica_of(&master, &["--save", ""]);
    assert!(link_up(&replica) && link_up(&redis));
    let mut m = master.connect();
    m.run("SELECT 3");
    m.run("SET a 1");

    // A replica restarted from its snapshot continues, in the database
    // the stream was in.
    assert_eq!(m.run("WAIT 2 5000"), b":2\r\n");
    replica.connect().send(b"SHUTDOWN SAVE\r\n");
    replica.wait_exit(Duration::from_secs(10));
    m.run("SET b 2");
    let replica = ServerProcess::rudis_at(replica.port, &joined(&replica_args, DEBUG));
    assert!(link_up(&replica));
    assert!(same_data(&master, &replica));
    assert_eq!(info_field(&mut m, "stats", "sync_partial_ok"), "1");

    // A master restarted from its snapshot lets both replicas continue.
    assert_eq!(m.run("WAIT 2 5000"), b":2\r\n");
    master.connect().send(b"SHUTDOWN SAVE\r\n");
    master.wait_exit(Duration::from_secs(10));
    let master = ServerProcess::rudis_at(
        master.port,
        &joined(&joined(&["--dir", &mdir], MASTER), DEBUG),
    );
    let mut m = master.connect();
    assert!(eventually(SYNC_WAIT, || info_field(
        &mut m,
        "replication",
        "connected_slaves"
    ) == "2"));
    m.run("SET c 3");
    assert!(same_data(&master, &replica));
    assert!(same_data(&master, &redis));
    assert_eq!(info_field(&mut m, "stats", "sync_partial_ok"), "2");
    assert_eq!(info_field(&mut m, "stats", "sync_full"), "0");
}

#[test]
fn failover_hands_the_master_role_over_and_back() {
    let master = rudis_master(&[]);
    let redis = redis_replica_of(&master, &["--save", "", "--repl-diskless-sync-delay", "0"]);
    let rudis = rudis_replica_of(&master, &[]);
    assert!(link_up(&redis) && link_up(&rudis));
    let mut m = master.connect();
    m.run("SET before 1");
    assert_eq!(
        m.run("FAILOVER TO 127.0.0.1 1"),
        b"-ERR FAILOVER target HOST and PORT is not a replica.\r\n"
    );
    let to_redis = format!("FAILOVER TO 127.0.0.1 {}", redis.port);
    assert_eq!(m.run(&to_redis), b"+OK\r\n");
    assert!(eventually(SYNC_WAIT, || {
        info_field(&mut m, "replication", "role") == "slave"
            && info_field(&mut m, "replication", "master_port") == redis.port.to_string()
            && info_field(&mut m, "replication", "master_link_status") == "up"
            && info_field(&mut m, "replication", "master_failover_state") == "no-failover"
    }));
    let mut r = redis.connect();
    assert_eq!(info_field(&mut r, "replication", "role"), "master");
    r.run("SET after 2");
    assert!(same_data(&redis, &master));
    // The old master continued without a full sync.
    assert_eq!(info_field(&mut r, "stats", "sync_full"), "0");

    // And back: redis-server hands over to rudis.
    let to_rudis = format!("FAILOVER TO 127.0.0.1 {}", master.port);
    assert_eq!(r.run(&to_rudis), b"+OK\r\n");
    assert!(eventually(SYNC_WAIT, || info_field(
        &mut m,
        "replication",
        "role"
    ) == "master"));
    m.run("SET back 3");
    assert!(same_data(&master, &redis));
    assert!(same_data(&master, &rudis));
}

#[test]
fn a_master_that_speaks_garbage_does_not_hurt_the_replica() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fake = std::thread::spawn(move || {
        let answers: [&[u8]; 3] = [
            "\u{e9}t\u{e9}\r\n".as_bytes(),
            &[b'x'; 100_000],
            b"+PONG\r\n+OK\r\n+OK\r\n+FULLRESYNC x 0\r\n$EOF:short\r\n",
        ];
        for answer in answers {
            let Ok((mut socket, _)) = listener.accept() else {
                return;
            };
            let _ = socket.write_all(answer);
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let port = port.to_string();
    let replica = ServerProcess::rudis(&["--replicaof", "127.0.0.1", &port]);
    fake.join().unwrap();
    let mut r = replica.connect();
    assert_eq!(r.run("PING"), b"+PONG\r\n");
    assert_eq!(
        info_field(&mut r, "replication", "master_link_status"),
        "down"
    );
    assert_eq!(
        r.run("SET x y"),
        b"-READONLY You can't write against a read only replica.\r\n"
    );
}

/// `bind-source-addr`: the replica connects from that address, and both
/// masters see it there (protected mode would refuse it: it lets in
/// 127.0.0.1 and ::1 only).
#[test]
fn bind_source_addr_is_where_the_replica_connects_from() {
    let open = ["--protected-mode", "no"];
    for master in [rudis_master(&open), ServerProcess::redis_with(&open)] {
        let replica = rudis_replica_of(&master, &["--bind-source-addr", "127.0.0.2"]);
        assert!(link_up(&replica));
        let mut conn = master.connect();
        let line = info_field(&mut conn, "replication", "slave0");
        assert!(line.starts_with("ip=127.0.0.2,"), "{line}");
    }
}

/// CLIENT PAUSE WRITE on a replica holds its master's commands too: the
/// replica reads the stream (`slave_read_repl_offset`) but applies
/// nothing (`slave_repl_offset`) until the pause ends.
#[test]
fn a_paused_replica_reads_but_does_not_apply() {
    let master = rudis_master(&[]);
    let replica = ServerProcess::rudis(&[]);
    let mut r = replica.connect();
    let mut m = master.connect();
    r.run(&format!("REPLICAOF 127.0.0.1 {}", master.port));
    let up =
        || common::info_field(&mut replica.connect(), "replication", "master_link_status") == "up";
    assert!(common::eventually(Duration::from_secs(10), up));
    m.run("SET foo bar");
    let offset = |conn: &mut Conn, field: &str| -> u64 {
        common::info_field(conn, "replication", field)
            .parse()
            .unwrap_or(0)
    };
    let master_offset = offset(&mut m, "master_repl_offset");
    assert!(common::eventually(Duration::from_secs(5), || {
        offset(&mut replica.connect(), "slave_repl_offset") == master_offset
    }));
    assert_eq!(r.run("CLIENT PAUSE 100000 WRITE"), b"+OK\r\n");
    m.run("SET foo2 bar2");
    let master_offset_after = offset(&mut m, "master_repl_offset");
    assert!(common::eventually(Duration::from_secs(5), || {
        offset(&mut replica.connect(), "slave_read_repl_offset") == master_offset_after
    }));
    assert_eq!(offset(&mut r, "slave_repl_offset"), master_offset);
    assert_eq!(r.run("GET foo2"), b"$-1\r\n");
    assert_eq!(r.run("CLIENT UNPAUSE"), b"+OK\r\n");
    assert!(common::eventually(Duration::from_secs(5), || {
        offset(&mut replica.connect(), "slave_repl_offset") == master_offset_after
    }));
    assert_eq!(r.run("GET foo2"), b"$4\r\nbar2\r\n");
}

/// SHUTDOWN waits for a replica that is behind, as Redis 7.0 does: writes
/// pause, the caller blocks, INFO says how long is left; ABORT answers
/// the caller with Redis's error and writes resume; once the replica
/// catches up the master exits, and the replica has every write.
#[test]
fn shutdown_waits_for_a_lagging_replica() {
    let mut master = rudis_master(&[]);
    let replica = redis_replica_of(&master, &[]);
    assert!(link_up(&replica));
    let mut conn = master.connect();
    conn.run("set k 1");
    assert!(same_data(&master, &replica));
    let stop = |signal: &str| {
        let pid = replica.pid().to_string();
        assert!(std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
            .success());
    };
    stop("-STOP");
    assert_eq!(conn.run("incr k"), b":2\r\n");
    let mut caller = master.connect();
    caller.send(&common::encode(&[b"shutdown"]));
    assert!(eventually(SYNC_WAIT, || {
        info_field(&mut conn, "clients", "blocked_clients") == "1"
    }));
    let left: u64 = info_field(&mut conn, "server", "shutdown_in_milliseconds")
        .parse()
        .unwrap();
    assert!(left > 0 && left <= 10_000, "{left}");
    assert_eq!(info_field(&mut conn, "clients", "connected_clients"), "2");
    assert_eq!(conn.run("shutdown abort"), b"+OK\r\n");
    assert_eq!(
        caller.read_reply(),
        b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
    );
    assert_eq!(conn.run("incr k"), b":3\r\n");
    caller.send(&common::encode(&[b"shutdown", b"nosave"]));
    assert!(eventually(SYNC_WAIT, || {
        info_field(&mut conn, "clients", "blocked_clients") == "1"
    }));
    stop("-CONT");
    assert_eq!(master.wait_exit(SYNC_WAIT), Some(0));
    let mut replica_conn = replica.connect();
    assert!(eventually(SYNC_WAIT, || replica_conn.run("get k") == b"$1\r\n3\r\n"));
}

/// A command from the master that fails on a writable replica (the data
/// diverged there) is counted in `unexpected_error_replies` and logged
/// as Redis's "== CRITICAL ==" line, and the replica keeps following.
#[test]
fn an_error_from_the_masters_stream_is_counted() {
    let master = rudis_master(&[]);
    let replica = rudis_replica_of(&master, &["--replica-read-only", "no"]);
    assert!(link_up(&replica));
    let (mut m, mut r) = (master.connect(), replica.connect());
    assert_eq!(r.run("set number2 foo"), b"+OK\r\n");
    assert_eq!(m.run("incrby number2 1"), b":1\r\n");
    assert_eq!(m.run("set after 1"), b"+OK\r\n");
    assert!(eventually(SYNC_WAIT, || r.run("get after") == b"$1\r\n1\r\n"));
    assert_eq!(info_field(&mut r, "stats", "unexpected_error_replies"), "1");
    assert_eq!(info_field(&mut m, "stats", "unexpected_error_replies"), "0");
    assert_eq!(r.run("get number2"), b"$3\r\nfoo\r\n");
    // DEBUG REPLICATE sends a command to the replicas alone: one they do
    // not know is an error there too.
    assert_eq!(m.run("DEBUG REPLICATE fake-command-1 x"), b"+OK\r\n");
    assert_eq!(m.run("set after 2"), b"+OK\r\n");
    assert!(eventually(SYNC_WAIT, || r.run("get after") == b"$1\r\n2\r\n"));
    assert_eq!(info_field(&mut r, "stats", "unexpected_error_replies"), "2");
    assert_eq!(m.run("EXISTS fake-command-1"), b":0\r\n");
}

/// A writable replica's own writes stay its own: they reach neither its
/// backlog nor its replicas, whose offsets follow the top master's
/// stream alone (Redis's `replicationFeedSlaves` on a replica).
#[test]
fn a_writable_replicas_own_writes_are_not_passed_on() {
    let master = rudis_master(&[]);
    let middle = rudis_replica_of(
        &master,
        &[
            "--repl-diskless-sync-delay",
            "0",
            "--replica-read-only",
            "no",
        ],
    );
    assert!(link_up(&middle));
    let leaf = rudis_replica_of(&middle, &[]);
    assert!(link_up(&leaf));
    let (mut m, mut mid, mut l) = (master.connect(), middle.connect(), leaf.connect());
    assert_eq!(mid.run("SET local 1"), b"+OK\r\n");
    assert_eq!(m.run("SET shared 1"), b"+OK\r\n");
    let offset = info_field(&mut m, "replication", "master_repl_offset");
    let caught_up = |conn: &mut Conn| {
        eventually(SYNC_WAIT, || {
            info_field(conn, "replication", "master_repl_offset") == offset
        })
    };
    assert!(
        caught_up(&mut mid),
        "the middle replica's offset moved on its own"
    );
    assert!(caught_up(&mut l), "the leaf's offset is not the master's");
    assert_eq!(l.run("EXISTS shared"), b":1\r\n");
    assert_eq!(l.run("EXISTS local"), b":0\r\n");
}

/// A writable replica expires the keys its own clients gave a TTL (no
/// DEL will come for them), and a write to a key of the master's whose
/// time passed starts it afresh, as Redis's replicas do.
#[test]
fn a_writable_replica_expires_its_own_keys() {
    let master = rudis_master(&[]);
    let replica = rudis_replica_of(&master, &["--replica-read-only", "no"]);
    assert!(link_up(&replica));
    let (mut m, mut r) = (master.connect(), replica.connect());
    assert_eq!(r.run("SET local 1 PX 50"), b"+OK\r\n");
    assert!(
        eventually(SYNC_WAIT, || r.run("DBSIZE") == b":0\r\n"),
        "the replica's own key was not expired"
    );
    assert_eq!(m.run("DEBUG SET-ACTIVE-EXPIRE 0"), b"+OK\r\n");
    assert_eq!(m.run("SET shared 5 PX 50"), b"+OK\r\n");
    assert!(eventually(SYNC_WAIT, || {
        r.run("DBSIZE") == b":1\r\n" && r.run("EXISTS shared") == b":0\r\n"
    }));
    assert_eq!(r.run("INCR shared"), b":1\r\n");
    assert_eq!(r.run("TTL shared"), b":-1\r\n");
}

/// A replica that drops its link again and again under a write load,
/// beside one that stays, continues each time with PSYNC and ends with
/// the master's data. The stream's newest bytes, fed in the same round as
/// the PSYNC, reach it once: before, they came with the backlog and again
/// with the round's stream, and its data drifted while its offset agreed.
#[test]
fn partial_resyncs_under_load_keep_the_data() {
    // Room for a second of writes: the replica reconnects a second on.
    let master = rudis_master(&["--repl-backlog-size", "100mb"]);
    let replica = rudis_replica_of(&master, &[]);
    assert!(link_up(&replica));
    // A second replica stays online: the stream is being handed out when
    // the first comes back.
    let steady = rudis_replica_of(&master, &[]);
    assert!(link_up(&steady));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (stop, mut conn) = (stop.clone(), master.connect());
            std::thread::spawn(move || {
                let mut n = w;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // A pipeline of INCRs, so writes are fed in the round
                    // that handles the PSYNC.
                    let batch: Vec<u8> = (0..50)
                        .flat_map(|i| format!("INCR k{}\r\n", (n * 7 + i) % 300).into_bytes())
                        .collect();
                    conn.send(&batch);
                    for _ in 0..50 {
                        conn.read_reply();
                    }
                    n += 1;
                }
            })
        })
        .collect();
    let mut r = replica.connect();
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(100));
        r.run("CLIENT KILL TYPE MASTER");
        assert!(link_up(&replica));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.join().unwrap();
    }
    assert!(link_up(&replica));
    assert!(same_data(&master, &replica), "the replica's data drifted");
    assert!(same_data(&master, &steady));
    let mut m = master.connect();
    let partial = info_field(&mut m, "stats", "sync_partial_ok");
    assert_ne!(
        partial,
        "0",
        "{}",
        String::from_utf8_lossy(&m.run("INFO stats"))
    );
}

/// Stops the master with SHUTDOWN SAVE and starts it again from its
/// snapshot, on the same port.
fn restart_from_snapshot(master: ServerProcess, args: &[&str]) -> ServerProcess {
    let port = master.port;
    let mut master = master;
    master.connect().send(b"SHUTDOWN SAVE\r\n");
    master.wait_exit(Duration::from_secs(10));
    ServerProcess::rudis_at(port, args)
}

fn replicas_back(master: &ServerProcess, count: &str) -> bool {
    let mut m = master.connect();
    eventually(SYNC_WAIT, || {
        info_field(&mut m, "replication", "connected_slaves") == count
    })
}

#[test]
fn a_restarted_master_continues_its_replicas_streams() {
    let dir = common::fresh_dir("restart-expired");
    let dir = dir.to_str().unwrap().to_string();
    let args = joined(&joined(&["--dir", &dir], MASTER), DEBUG);
    let master = ServerProcess::rudis(&args);
    let rudis = rudis_replica_of(&master, &[]);
    let redis = redis_replica_of(&master, &["--save", ""]);
    assert!(link_up(&rudis) && link_up(&redis));

    // Nothing was written: the stream is at offset 0, and still both
    // continue (the replicas ask for byte 1 of the old id).
    let mut m = master.connect();
    assert_eq!(info_field(&mut m, "replication", "master_repl_offset"), "0");
    let master = restart_from_snapshot(master, &args);
    assert!(replicas_back(&master, "2"));
    let mut m = master.connect();
    assert_eq!(info_field(&mut m, "stats", "sync_partial_ok"), "2");
    assert_eq!(info_field(&mut m, "stats", "sync_full"), "0");

    // Keys whose time passes while the master is down: it deletes them at
    // load and feeds the DELs to its backlog, after the snapshot's offset.
    m.run("DEBUG SET-ACTIVE-EXPIRE 0");
    for db in 0..3 {
        m.run(&format!("SELECT {db}"));
        for i in 0..50 {
            m.run(&format!("SET k{i} v PX 50"));
        }
    }
    m.run("SET kept 1");
    assert_eq!(m.run("WAIT 2 5000"), b":2\r\n");
    let offset: u64 = info_field(&mut m, "replication", "master_repl_offset")
        .parse()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let master = restart_from_snapshot(master, &args);
    let mut m = master.connect();
    assert_eq!(
        info_field(&mut m, "persistence", "rdb_last_load_keys_expired"),
        "150"
    );
    let fed: u64 = info_field(&mut m, "replication", "repl_backlog_histlen")
        .parse()
        .unwrap();
    assert!(fed > 150 * 20, "{fed}");
    // The snapshot's offset is the old history's end (a GETACK may have
    // followed the one read above).
    let saved: u64 = info_field(&mut m, "replication", "second_repl_offset")
        .parse::<u64>()
        .unwrap()
        - 1;
    assert!(saved >= offset, "{saved} {offset}");
    assert_eq!(
        info_field(&mut m, "replication", "master_repl_offset"),
        (saved + fed).to_string()
    );
    assert!(replicas_back(&master, "2"));
    assert_eq!(info_field(&mut m, "stats", "sync_partial_ok"), "2");
    assert_eq!(info_field(&mut m, "stats", "sync_full"), "0");
    assert!(same_data(&master, &rudis) && same_data(&master, &redis));
    for replica in [&rudis, &redis] {
        let mut r = replica.connect();
        assert_eq!(r.run("DBSIZE"), b":0\r\n");
        r.run("SELECT 2");
        assert_eq!(r.run("DBSIZE"), b":1\r\n");
    }

    // CONFIG RESETSTAT clears the sync counters, as Redis's does.
    assert_eq!(m.run("CONFIG RESETSTAT"), b"+OK\r\n");
    assert_eq!(info_field(&mut m, "stats", "sync_partial_ok"), "0");
}

#[test]
fn a_forced_failover_hands_over_at_its_timeout_and_waits_for_the_target() {
    let master = rudis_master(&[]);
    let replica = rudis_replica_of(&master, &[]);
    assert!(link_up(&replica));
    let mut m = master.connect();
    let signal = |signal| unsafe { libc::kill(replica.pid() as i32, signal) };
    signal(libc::SIGSTOP);
    m.run("SET unacknowledged 1");
    let failover = format!("FAILOVER TO 127.0.0.1 {} TIMEOUT 100 FORCE", replica.port);
    assert_eq!(m.run(&failover), b"+OK\r\n");
    assert!(eventually(SYNC_WAIT, || {
        info_field(&mut m, "replication", "master_failover_state") == "failover-in-progress"
    }));
    assert_eq!(info_field(&mut m, "replication", "role"), "slave");
    // The target does not answer, and the failover waits for it.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        info_field(&mut m, "replication", "master_failover_state"),
        "failover-in-progress"
    );
    signal(libc::SIGCONT);
    assert!(eventually(SYNC_WAIT, || {
        info_field(&mut m, "replication", "master_failover_state") == "no-failover"
    }));
    let mut r = replica.connect();
    assert_eq!(info_field(&mut r, "replication", "role"), "master");
    assert!(link_up(&master));
    assert!(same_data(&replica, &master));
}

/// A master whose snapshots take 4 seconds (2000 keys of 1 KB, not
/// compressed, 2 ms each), for a replica to be caught loading.
fn slow_master(extra: &[&str]) -> ServerProcess {
    let master = rudis_master(extra);
    let mut m = master.connect();
    m.run("DEBUG POPULATE 2000 key 1000");
    m.run("CONFIG SET rdbcompression no");
    m.run("CONFIG SET rdb-key-save-delay 2000");
    master
}

/// Waits for a field of INFO persistence to read `value`.
fn persistence_reads(conn: &mut Conn, field: &str, value: &str) -> bool {
    eventually(SYNC_WAIT, || {
        info_field(conn, "persistence", field) == value
    })
}

/// A writable replica (not following anyone yet) that loads full syncs
/// from the socket with swapdb, answering clients every KB it loads.
fn swapdb_replica() -> ServerProcess {
    let args = [
        "--save",
        "",
        "--repl-diskless-load",
        "swapdb",
        "--replica-read-only",
        "no",
        "--loading-process-events-interval-bytes",
        "1024",
    ];
    ServerProcess::rudis(&joined(&args, DEBUG))
}

#[test]
fn diskless_load_swapdb_keeps_the_old_data_until_the_new_is_whole() {
    let master = slow_master(&[]);
    let replica = swapdb_replica();
    let mut r = replica.connect();
    r.run("SET mine 1");
    r.run(&format!("REPLICAOF 127.0.0.1 {}", master.port));
    // Another history: clients wait (-LOADING) while the new data loads.
    assert!(persistence_reads(&mut r, "loading", "1"));
    assert_eq!(info_field(&mut r, "persistence", "async_loading"), "0");
    assert!(r.run("GET mine").starts_with(b"-LOADING"));
    assert!(r.run("CONFIG SET appendonly yes").starts_with(b"-LOADING"));

    // The link breaks: the old data is still there, whole.
    let mut m = master.connect();
    m.run("CONFIG SET repl-diskless-sync-delay 5");
    m.run("CLIENT KILL TYPE replica");
    assert!(persistence_reads(&mut r, "loading", "0"));
    assert_eq!(r.run("GET mine"), b"$1\r\n1\r\n");
    assert_eq!(r.run("DBSIZE"), b":1\r\n");

    // The next sync completes and replaces it.
    m.run("CONFIG SET rdb-key-save-delay 0");
    m.run("CONFIG SET repl-diskless-sync-delay 0");
    assert!(link_up(&replica));
    assert!(same_data(&master, &replica));
    assert_eq!(r.run("GET mine"), b"$-1\r\n");
}

#[test]
fn diskless_load_of_the_same_history_serves_the_old_data_meanwhile() {
    let master = rudis_master(&[]);
    let replica = swapdb_replica();
    let mut m = master.connect();
    m.run("DEBUG POPULATE 2000 key 1000");
    m.run("CONFIG SET rdbcompression no");
    let mut r = replica.connect();
    r.run(&format!("REPLICAOF 127.0.0.1 {}", master.port));
    assert!(link_up(&replica));
    assert!(same_data(&master, &replica));
    r.run("SET mine 1");

    // The replica falls further behind than the backlog holds: a full
    // sync of the history it already follows.
    m.run("CONFIG SET rdb-key-save-delay 2000");
    m.run("MULTI");
    m.run("CLIENT KILL TYPE replica");
    m.run("CONFIG SET repl-backlog-size 16384");
    for i in 0..10 {
        m.run(&format!("SET filler{i} {}", "A".repeat(16384)));
    }
    m.run("EXEC");
    assert!(persistence_reads(&mut r, "async_loading", "1"));
    assert_eq!(info_field(&mut r, "persistence", "loading"), "0");
    assert_eq!(r.run("GET mine"), b"$1\r\n1\r\n");
    assert_eq!(r.run("DBSIZE"), b":2001\r\n");
    assert!(r.run("REPLICAOF NO ONE").starts_with(b"-LOADING"));
    assert!(r.run("CONFIG SET appendonly yes").starts_with(b"-LOADING"));

    m.run("CONFIG SET rdb-key-save-delay 0");
    assert!(persistence_reads(&mut r, "async_loading", "0"));
    assert!(link_up(&replica));
    assert!(same_data(&master, &replica));
    assert_eq!(r.run("DBSIZE"), b":2010\r\n");
}

#[test]
fn diskless_load_from_a_redis_master() {
    let master = ServerProcess::redis_with(&joined(MASTER, DEBUG));
    let mut m = master.connect();
    m.run("DEBUG POPULATE 20000 key 100");
    for mode in ["swapdb", "on-empty-db"] {
        let replica = rudis_replica_of(&master, &["--repl-diskless-load", mode]);
        assert!(link_up(&replica), "{mode}");
        m.run(&format!("SET after-{mode} 1"));
        assert!(same_data(&master, &replica), "{mode}");
    }
    // A disk-based sync from Redis (its snapshot has a length, not an end
    // mark) loads from the socket too.
    m.run("CONFIG SET repl-diskless-sync no");
    let replica = rudis_replica_of(&master, &["--repl-diskless-load", "swapdb"]);
    assert!(link_up(&replica));
    m.run("SET after-disk 1");
    assert!(same_data(&master, &replica));
}

#[test]
fn a_shutdown_signal_during_a_load_exits_at_once() {
    let master = slow_master(&[]);
    let mut replica = swapdb_replica();
    let mut r = replica.connect();
    r.run(&format!("REPLICAOF 127.0.0.1 {}", master.port));
    assert!(persistence_reads(&mut r, "loading", "1"));
    unsafe { libc::kill(replica.pid() as i32, libc::SIGTERM) };
    // The snapshot would take 4 seconds more; the exit does not wait.
    assert_eq!(replica.wait_exit(Duration::from_secs(2)), Some(0));
}

#[test]
fn a_broken_diskless_load_is_logged_and_tried_again_at_once() {
    let master = slow_master(&[]);
    let dir = common::fresh_dir("short-read");
    let log = dir.join("replica.log");
    let log_arg = log.to_str().unwrap();
    let args = [
        "--save",
        "",
        "--repl-diskless-load",
        "swapdb",
        "--loading-process-events-interval-bytes",
        "1024",
        "--loglevel",
        "notice",
        "--logfile",
        log_arg,
    ];
    let replica = ServerProcess::rudis(&joined(&args, DEBUG));
    let mut r = replica.connect();
    r.run(&format!("REPLICAOF 127.0.0.1 {}", master.port));
    assert!(persistence_reads(&mut r, "loading", "1"));
    master.connect().run("CLIENT KILL TYPE replica");
    let reconnect = format!(
        "Reconnecting to MASTER 127.0.0.1:{} after failure",
        master.port
    );
    let logged = |text: &str| std::fs::read_to_string(&log).is_ok_and(|l| l.contains(text));
    assert!(eventually(Duration::from_secs(5), || {
        logged("-> Unexpected EOF reading RDB file. Failure loading rdb format from socket, assuming connection error, resuming operation.")
            && logged("Failed trying to load the MASTER synchronization DB from socket")
            && logged(&reconnect)
    }));
}

#[test]
fn a_replica_that_stops_reading_a_diskless_snapshot_is_dropped_at_repl_timeout() {
    let master = slow_master(&[]);
    let mut m = master.connect();
    // More than the sockets' buffers hold, 200 µs a key.
    m.run("DEBUG POPULATE 20000 big 1000");
    m.run("CONFIG SET rdb-key-save-delay 200");
    let replica = rudis_replica_of(&master, &[]);
    // While the child writes, the replica waits for its snapshot, as
    // Redis words it.
    assert!(eventually(SYNC_WAIT, || {
        info_field(&mut m, "replication", "slave0").contains("state=wait_bgsave")
            && info_field(&mut m, "persistence", "rdb_bgsave_in_progress") == "1"
    }));
    unsafe { libc::kill(replica.pid() as i32, libc::SIGSTOP) };
    m.run("CONFIG SET repl-timeout 2");
    // Its socket fills; after repl-timeout it is cut off, and the child,
    // with nobody left to write for, is stopped.
    let dropped = eventually(Duration::from_secs(10), || {
        info_field(&mut m, "replication", "connected_slaves") == "0"
            && info_field(&mut m, "persistence", "rdb_bgsave_in_progress") == "0"
    });
    unsafe { libc::kill(replica.pid() as i32, libc::SIGCONT) };
    assert!(dropped);
}

#[test]
fn psync_with_a_bad_offset_is_refused_as_redis_refuses_it() {
    common::assert_same_replies(&["PSYNC someid offset_str", "PING"]);
}

#[test]
fn a_replica_keeps_its_own_replicas_until_a_new_masters_data_replaces_its_own() {
    let first = rudis_master(&[]);
    let replica = rudis_replica_of(&first, &[]);
    let sub = rudis_replica_of(&replica, &[]);
    assert!(link_up(&replica) && link_up(&sub));
    let mut r = replica.connect();
    // A new master whose snapshot takes seconds: meanwhile the chained
    // replica stays connected.
    let second = slow_master(&[]);
    r.run(&format!("REPLICAOF 127.0.0.1 {}", second.port));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(info_field(&mut r, "replication", "connected_slaves"), "1");
    // Once the new data is in, it follows it too.
    second.connect().run("CONFIG SET rdb-key-save-delay 0");
    assert!(link_up(&replica));
    assert!(same_data(&second, &sub));
}

#[test]
fn a_disk_snapshot_nobody_waits_for_is_stopped_unless_save_points_want_it() {
    let master = rudis_master(&["--repl-diskless-sync", "no"]);
    let mut m = master.connect();
    m.run("DEBUG POPULATE 10");
    m.run("CONFIG SET rdb-key-save-delay 1000000");
    let replica = rudis_replica_of(&master, &[]);
    let child_runs = |m: &mut Conn| {
        info_field(m, "persistence", "rdb_bgsave_in_progress") == "1"
            && info_field(m, "replication", "connected_slaves") == "1"
    };
    assert!(eventually(SYNC_WAIT, || child_runs(&mut m)));
    replica.connect().run("REPLICAOF NO ONE");
    assert!(eventually(Duration::from_secs(2), || info_field(
        &mut m,
        "persistence",
        "rdb_bgsave_in_progress"
    ) == "0"));

    // With a save point set, the snapshot is worth finishing.
    assert_eq!(m.cmd(&[b"CONFIG", b"SET", b"save", b"900 1"]), b"+OK\r\n");
    replica
        .connect()
        .run(&format!("REPLICAOF 127.0.0.1 {}", master.port));
    assert!(eventually(SYNC_WAIT, || child_runs(&mut m)));
    replica.connect().run("REPLICAOF NO ONE");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        info_field(&mut m, "persistence", "rdb_bgsave_in_progress"),
        "1"
    );
}

/// A replica's link carries REPLCONF ACKs only. A command on it that reads
/// or writes keys is refused, and one that generates any reply gets the
/// replica disconnected, with Redis's warnings: differential, on the lines
/// the two servers log.
#[test]
fn a_replica_that_generates_a_reply_is_disconnected_as_in_redis() {
    let observe = |start: &dyn Fn(&[&str]) -> ServerProcess| {
        let dir = common::fresh_dir("replica-reply");
        let log = dir.join("server.log");
        let (d, l) = (dir.to_str().unwrap(), log.to_str().unwrap());
        let server = start(&["--dir", d, "--logfile", l, "--repl-diskless-sync", "no"]);
        let mut seen = Vec::new();
        let encode =
            |line: &str| common::encode(&line.split(' ').map(str::as_bytes).collect::<Vec<_>>());
        for (sync, command) in [
            ("PSYNC replicationid -1", "GET foo"),
            ("PSYNC replicationid -1", "SLOWLOG GET"),
            ("SYNC", "PING"),
            ("SYNC", "XINFO HELP"),
            ("PSYNC replicationid -1", "REPLCONF ACK 0"),
            // Both in one write: the command comes from a replica already.
            ("PSYNC replicationid -1 +", "ECHO x"),
        ] {
            let mut replica = server.connect();
            match sync.strip_suffix(" +") {
                Some(sync) => replica.send(&[encode(sync), encode(command)].concat()),
                None => {
                    replica.send(&encode(sync));
                    if sync.starts_with("PSYNC") {
                        let answer = replica.read_reply();
                        assert!(answer.starts_with(b"+FULLRESYNC "), "{answer:?}");
                    }
                    replica.send(&encode(command));
                }
            }
            let closed = replica.is_closed(Duration::from_secs(2));
            seen.push(format!("{sync} + {command}: closed {closed}"));
            seen.push(String::from_utf8_lossy(&server.connect().run("PING")).into_owned());
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        // The client description after the colon differs in its numbers.
        seen.extend(text.lines().filter_map(|line| {
            let (_, message) = line.split_once(" # ")?;
            let message = message.split(", disconnecting it: ").next()?;
            (message.starts_with("Replica generated") || message.starts_with("== CRITICAL =="))
                .then(|| message.to_string())
        }));
        let _ = std::fs::remove_dir_all(&dir);
        seen
    };
    let redis = observe(&|extra| ServerProcess::redis_with(extra));
    let rudis = observe(&|extra| ServerProcess::rudis(extra));
    assert_eq!(rudis, redis, "left: rudis, right: redis-server");
    assert!(
        redis.iter().any(|l| l.contains("'xinfo|help'")),
        "{redis:?}"
    );
}

/// A replica that asks for a full sync while a disk snapshot is being
/// written for another joins it, as Redis's `syncCommand` attaches it: one
/// fork serves both, and both get the writes made meanwhile, before and
/// after it joined. A redis-server replica beside a rudis one.
#[test]
fn a_late_replica_joins_the_disk_snapshot_being_written() {
    let master = rudis_master(&["--repl-diskless-sync", "no"]);
    let mut m = master.connect();
    m.run("DEBUG POPULATE 10");
    m.run("CONFIG SET rdb-key-save-delay 200000");
    let first = rudis_replica_of(&master, &[]);
    assert!(persistence_reads(&mut m, "rdb_bgsave_in_progress", "1"));
    m.run("SET before-the-second a");
    let second = redis_replica_of(&master, &[]);
    assert!(eventually(SYNC_WAIT, || {
        info_field(&mut m, "replication", "connected_slaves") == "2"
    }));
    m.run("SET after-the-second b");
    assert!(link_up(&first) && link_up(&second));
    assert!(same_data(&master, &first));
    assert!(same_data(&master, &second));
    assert_eq!(info_field(&mut m, "stats", "total_forks"), "1");
    assert_eq!(info_field(&mut m, "stats", "sync_full"), "2");
    assert_eq!(
        second.connect().run("GET before-the-second"),
        b"$1\r\na\r\n"
    );
}

/// FLUSHALL kills a snapshot child on its way to a replica: the sync
/// fails at once (the replica is dropped and comes back for the new, empty
/// dataset), as in Redis, rather than waiting for `repl-timeout`.
#[test]
fn flushall_during_a_diskless_sync_restarts_it() {
    let master = slow_master(&[]);
    let mut m = master.connect();
    let replica = rudis_replica_of(&master, &[]);
    assert!(persistence_reads(&mut m, "rdb_bgsave_in_progress", "1"));
    assert_eq!(m.run("FLUSHALL"), b"+OK\r\n");
    m.run("CONFIG SET rdb-key-save-delay 0");
    m.run("SET after-the-flush 1");
    assert!(link_up(&replica));
    assert!(same_data(&master, &replica));
    assert_eq!(replica.connect().run("DBSIZE"), b":1\r\n");
}

/// The link is down as soon as the replica reads its master's close, as
/// Redis frees its master's client at once: a command read in the same
/// round (here, queued while the replica slept) never sees it up.
#[test]
fn a_closed_master_link_is_down_for_the_next_command() {
    let master = rudis_master(&[]);
    let replica = rudis_replica_of(&master, &[]);
    assert!(link_up(&replica));
    let (mut sleeper, mut r, mut m) = (replica.connect(), replica.connect(), master.connect());
    sleeper.send(&common::encode(&[b"DEBUG", b"SLEEP", b"0.5"]));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(m.run("CLIENT KILL TYPE replica"), b":1\r\n");
    r.send(&common::encode(&[b"INFO", b"replication"]));
    let info = String::from_utf8_lossy(&r.read_reply()).into_owned();
    assert!(info.contains("master_link_status:down"), "{info}");
    assert_eq!(sleeper.read_reply(), b"+OK\r\n");
}

/// What waits for a replica that does not read is left out of `maxmemory`
/// (`mem_not_counted_for_evict`), as Redis leaves its replication buffer
/// out, even while the replica's socket stays full and nothing is
/// written to it.
#[test]
fn a_stalled_replicas_buffer_is_not_counted_for_eviction() {
    // A small backlog: once full, it is counted memory that stays put.
    let master = rudis_master(&["--repl-backlog-size", "16384"]);
    let replica = rudis_replica_of(&master, &[]);
    assert!(link_up(&replica));
    let mut m = master.connect();
    let field =
        |m: &mut Conn, name: &str| -> u64 { info_field(m, "memory", name).parse().unwrap() };
    let before = field(&mut m, "used_memory") - field(&mut m, "mem_not_counted_for_evict");
    // SAFETY: stops and resumes a child process of this test.
    unsafe { libc::kill(replica.pid() as i32, libc::SIGSTOP) };
    let value = vec![b'A'; 1000];
    let mut batch = Vec::new();
    for _ in 0..100 {
        batch.extend(common::encode(&[b"SETRANGE", b"key", b"0", &value]));
    }
    for _ in 0..200 {
        m.send(&batch);
        for _ in 0..100 {
            m.read_reply();
        }
    }
    let replicas = field(&mut m, "mem_clients_slaves");
    let after = field(&mut m, "used_memory") - field(&mut m, "mem_not_counted_for_evict");
    unsafe { libc::kill(replica.pid() as i32, libc::SIGCONT) };
    assert!(replicas > 10_000_000, "{replicas}");
    let grown = after.abs_diff(before);
    assert!(grown < 1_000_000, "counted memory moved by {grown}");
}
