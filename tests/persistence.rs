//! RDB persistence against the real Redis tools: files rudis writes are
//! accepted by `redis-check-rdb` and loaded by `redis-server` with the same
//! data (compared with DEBUG DIGEST, which both compute the same way), and
//! the other way round; DUMP payloads are byte-identical; SAVE, BGSAVE,
//! save on shutdown, bad files and failed saves behave as in Redis.

mod common;

use common::{fresh_dir, Conn, ServerProcess};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const DEBUG: &str = "--enable-debug-command";

/// Commands that build a dataset with every type and encoding rudis has:
/// integers and binary strings, listpack and hashtable hashes, intset and
/// hashtable sets, listpack and skiplist sorted sets, lists of many
/// quicklist nodes, keys with expiry, several databases, thousands of keys.
fn dataset() -> Vec<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut cmd = |words: &[&[u8]]| out.push(words.iter().map(|w| w.to_vec()).collect());
    cmd(&[b"set", b"int:small", b"7"]);
    cmd(&[b"set", b"int:neg", b"-300"]);
    cmd(&[b"set", b"int:big", b"123456789012345"]);
    cmd(&[b"set", b"int:leading", b"0012"]);
    cmd(&[b"set", b"bin\x00key\r\n", b"va\x00lue\r\n\xff"]);
    cmd(&[b"set", b"long:compressible", &[b'z'; 5000]]);
    let noise: Vec<u8> = (0..3000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    cmd(&[b"set", b"long:noise", &noise]);
    cmd(&[b"set", b"empty", b""]);
    cmd(&[b"set", b"ttl:key", b"v", b"ex", b"5000"]);
    cmd(&[b"set", b"pttl:key", b"v", b"px", b"86400000"]);
    for n in [3usize, 200, 3000] {
        let mut push: Vec<Vec<u8>> = vec![b"rpush".to_vec(), format!("list:{n}").into_bytes()];
        for i in 0..n {
            push.push(if i % 3 == 0 {
                i.to_string().into_bytes()
            } else {
                format!("element-{i}-{}", "x".repeat(i % 40)).into_bytes()
            });
        }
        let refs: Vec<&[u8]> = push.iter().map(|v| v.as_slice()).collect();
        cmd(&refs);
    }
    cmd(&[
        b"rpush",
        b"list:fat",
        &[b'a'; 10000],
        &[b'b'; 20000],
        b"tail",
    ]);
    cmd(&[b"lpush", b"list:pushed-left", b"1", b"2", b"three"]);
    cmd(&[
        b"hset",
        b"hash:small",
        b"f1",
        b"v1",
        b"f2",
        b"22",
        b"n",
        b"-5",
    ]);
    let mut big_hash: Vec<Vec<u8>> = vec![b"hset".to_vec(), b"hash:big".to_vec()];
    for i in 0..300 {
        big_hash.push(format!("field{i}").into_bytes());
        big_hash.push(format!("value{i}").into_bytes());
    }
    let refs: Vec<&[u8]> = big_hash.iter().map(|v| v.as_slice()).collect();
    cmd(&refs);
    cmd(&[b"hset", b"hash:longvalue", b"f", &[b'q'; 100]]);
    cmd(&[b"sadd", b"set:ints", b"1", b"-2", b"300", b"70000"]);
    cmd(&[b"sadd", b"set:wide", b"1", b"5000000000"]);
    cmd(&[b"sadd", b"set:strings", b"a", b"b", b"c"]);
    let mut big_set: Vec<Vec<u8>> = vec![b"sadd".to_vec(), b"set:bigints".to_vec()];
    for i in 0..600 {
        big_set.push(i.to_string().into_bytes());
    }
    let refs: Vec<&[u8]> = big_set.iter().map(|v| v.as_slice()).collect();
    cmd(&refs);
    cmd(&[
        b"zadd",
        b"zset:small",
        b"1",
        b"one",
        b"2.5",
        b"two",
        b"-inf",
        b"low",
        b"inf",
        b"high",
        b"0",
        b"zero",
        b"1e30",
        b"huge",
        b"-7",
        b"neg",
    ]);
    let mut big_z: Vec<Vec<u8>> = vec![b"zadd".to_vec(), b"zset:big".to_vec()];
    for i in 0..400 {
        big_z.push(format!("{}", i as f64 / 7.0).into_bytes());
        big_z.push(format!("member{i}").into_bytes());
    }
    let refs: Vec<&[u8]> = big_z.iter().map(|v| v.as_slice()).collect();
    cmd(&refs);
    cmd(&[b"zadd", b"zset:longmember", b"1", &[b'm'; 100]]);
    for i in 0..3000 {
        let key = format!("bulk:{i}");
        let value = format!("value-{}", i * 7);
        cmd(&[b"set", key.as_bytes(), value.as_bytes()]);
        if i % 10 == 0 {
            cmd(&[b"expire", key.as_bytes(), b"100000"]);
        }
    }
    cmd(&[b"select", b"1"]);
    cmd(&[b"set", b"in-db-1", b"yes"]);
    cmd(&[b"hset", b"hash:db1", b"a", b"b"]);
    cmd(&[b"select", b"9"]);
    cmd(&[b"rpush", b"list:db9", b"x"]);
    cmd(&[b"select", b"0"]);
    out
}

/// Sends every command pipelined and checks none failed.
fn load(conn: &mut Conn, commands: &[Vec<Vec<u8>>]) {
    let mut bytes = Vec::new();
    for command in commands {
        let refs: Vec<&[u8]> = command.iter().map(|v| v.as_slice()).collect();
        bytes.extend_from_slice(&common::encode(&refs));
    }
    conn.send(&bytes);
    for command in commands {
        let reply = conn.read_reply();
        assert_ne!(
            reply[0],
            b'-',
            "{:?}: {}",
            command[0],
            String::from_utf8_lossy(&reply)
        );
    }
}

fn digest(conn: &mut Conn) -> String {
    let reply = String::from_utf8(conn.run("debug digest")).unwrap();
    assert!(reply.starts_with('+'), "{reply}");
    reply
}

fn wait_for(mut check: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn check_rdb(path: &Path) {
    let out = Command::new("redis-check-rdb").arg(path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("RDB looks OK"), "{text}");
}

fn dir_arg(dir: &Path) -> String {
    dir.display().to_string()
}

#[test]
fn rdb_from_rudis_loads_in_redis_with_the_same_data() {
    let dir = fresh_dir("rdb-to-redis");
    let d = dir_arg(&dir);
    let rudis = ServerProcess::rudis(&["--dir", &d, DEBUG, "yes", "--save", ""]);
    let mut ours = rudis.connect();
    load(&mut ours, &dataset());
    assert_eq!(ours.run("save"), b"+OK\r\n");
    check_rdb(&dir.join("dump.rdb"));
    let expected = digest(&mut ours);
    let ttl = ours.run("ttl ttl:key");

    let redis = ServerProcess::redis_with(&["--dir", &d, "--save", "", DEBUG, "yes"]);
    let mut theirs = redis.connect();
    assert_eq!(digest(&mut theirs), expected);
    assert_eq!(theirs.run("dbsize"), ours.run("dbsize"));
    // A second may tick over between the two reads.
    let seconds =
        |reply: Vec<u8>| -> i64 { String::from_utf8_lossy(&reply[1..]).trim().parse().unwrap() };
    let (before, after) = (seconds(ttl), seconds(theirs.run("ttl ttl:key")));
    assert!(
        (0..=1).contains(&(before - after)),
        "TTL {before} then {after}"
    );
    for key in [
        "hash:small",
        "hash:big",
        "set:ints",
        "set:strings",
        "zset:small",
        "zset:big",
    ] {
        let line = format!("object encoding {key}");
        assert_eq!(theirs.run(&line), ours.run(&line), "{key}");
    }
}

#[test]
fn rdb_from_redis_loads_in_rudis_with_the_same_data() {
    let dir = fresh_dir("rdb-from-redis");
    let d = dir_arg(&dir);
    let redis = ServerProcess::redis_with(&["--dir", &d, "--save", "", DEBUG, "yes"]);
    let mut theirs = redis.connect();
    load(&mut theirs, &dataset());
    assert_eq!(theirs.run("save"), b"+OK\r\n");
    let expected = digest(&mut theirs);

    let rudis = ServerProcess::rudis(&["--dir", &d, DEBUG, "yes", "--save", ""]);
    let mut ours = rudis.connect();
    assert_eq!(digest(&mut ours), expected);
    assert_eq!(ours.run("dbsize"), theirs.run("dbsize"));
    assert_eq!(ours.run("ttl ttl:key"), theirs.run("ttl ttl:key"));
    let loaded = common::info_field(&mut ours, "persistence", "rdb_last_load_keys_loaded");
    assert!(loaded.parse::<u64>().unwrap() > 3000, "{loaded}");
}

/// DUMP payloads are byte-identical for every key whose encoding does not
/// depend on a hash table's order, and every payload of Redis restores in
/// rudis to the same value.
#[test]
fn dump_and_restore_match_redis() {
    let redis = ServerProcess::redis_with(&["--save", "", DEBUG, "yes"]);
    let rudis = ServerProcess::rudis(&[DEBUG, "yes"]);
    let mut theirs = redis.connect();
    let mut ours = rudis.connect();
    let data = dataset();
    load(&mut theirs, &data);
    load(&mut ours, &data);
    let keys = common::array_items(&theirs.run("keys *"));
    assert!(keys.len() > 3000);
    for key in keys {
        let key = common::bulk_payload(&key);
        let encoding = theirs.cmd(&[b"object", b"encoding", &key]);
        let theirs_dump = theirs.cmd(&[b"dump", &key]);
        if !encoding.starts_with(b"$9\r\nhashtable") {
            assert_eq!(
                ours.cmd(&[b"dump", &key]),
                theirs_dump,
                "DUMP {}",
                String::from_utf8_lossy(&key)
            );
        }
        let payload = common::bulk_payload(&theirs_dump);
        assert_eq!(
            ours.cmd(&[b"restore", b"copy", b"0", &payload, b"replace"]),
            b"+OK\r\n"
        );
        let value_digest = |conn: &mut Conn, k: &[u8]| conn.cmd(&[b"debug", b"digest-value", k]);
        assert_eq!(value_digest(&mut ours, b"copy"), {
            theirs.cmd(&[b"restore", b"copy", b"0", &payload, b"replace"]);
            value_digest(&mut theirs, b"copy")
        });
    }
    let good = common::bulk_payload(&theirs.run("dump int:small"));
    let mut flipped = good.clone();
    flipped[1] ^= 1;
    let script: Vec<Vec<&[u8]>> = vec![
        vec![b"restore", b"k1", b"0", &flipped],
        vec![b"restore", b"k1", b"0", b"short"],
        vec![b"restore", b"int:small", b"0", &good],
        vec![b"restore", b"k2", b"-1", &good],
        vec![b"restore", b"k2", b"x", &good],
        vec![b"restore", b"k3", b"0", &good, b"bogus"],
        vec![b"restore", b"k3", b"0", &good, b"idletime", b"-1"],
        vec![b"restore", b"k3", b"0", &good, b"freq", b"300"],
        vec![
            b"restore",
            b"k3",
            b"0",
            &good,
            b"idletime",
            b"10",
            b"freq",
            b"1",
        ],
        vec![b"restore", b"k4", b"1", &good, b"absttl"],
        vec![b"exists", b"k4"],
        vec![b"restore", b"k5", b"100000", &good],
        vec![b"pttl", b"k5"],
        vec![b"restore", b"k6", b"0", &good, b"idletime", b"1000"],
        vec![b"object", b"idletime", b"k6"],
        vec![b"dump", b"nosuchkey"],
    ];
    for command in script {
        let (a, b) = (ours.cmd(&command), theirs.cmd(&command));
        if command[0] == b"pttl" {
            // Both within a second of 100000 ms; the exact value depends
            // on the millisecond.
            for reply in [a, b] {
                let ms: i64 = String::from_utf8_lossy(&reply[1..reply.len() - 2])
                    .parse()
                    .unwrap();
                assert!((99_000..=100_000).contains(&ms), "{ms}");
            }
        } else {
            assert_eq!(a, b, "{:?}", String::from_utf8_lossy(command[0]));
        }
    }
}

#[test]
fn bgsave_writes_in_a_child_and_reports_it() {
    let rudis = ServerProcess::rudis(&[DEBUG, "yes", "--save", ""]);
    let dir = rudis.owned_dir.clone().unwrap();
    let mut conn = rudis.connect();
    load(&mut conn, &dataset());
    let before = common::info_field(&mut conn, "persistence", "rdb_changes_since_last_save");
    assert!(before.parse::<u64>().unwrap() > 3000);
    conn.run("config set rdb-key-save-delay 200");
    assert_eq!(conn.run("bgsave"), b"+Background saving started\r\n");
    assert_eq!(
        common::info_field(&mut conn, "persistence", "rdb_bgsave_in_progress"),
        "1"
    );
    assert_eq!(
        conn.run("bgsave"),
        b"-ERR Background save already in progress\r\n"
    );
    assert_eq!(
        conn.run("bgsave schedule"),
        b"-ERR Background save already in progress\r\n"
    );
    assert_eq!(
        conn.run("save"),
        b"-ERR Background save already in progress\r\n"
    );
    // The loop keeps serving while the child writes.
    assert_eq!(conn.run("set during bgsave"), b"+OK\r\n");
    wait_for(
        || common::info_field(&mut conn, "persistence", "rdb_bgsave_in_progress") == "0",
        "the child to finish",
    );
    assert_eq!(
        common::info_field(&mut conn, "persistence", "rdb_last_bgsave_status"),
        "ok"
    );
    assert_eq!(common::info_field(&mut conn, "stats", "total_forks"), "1");
    assert_eq!(
        common::info_field(&mut conn, "persistence", "rdb_changes_since_last_save"),
        "1"
    );
    let lastsave = String::from_utf8(conn.run("lastsave")).unwrap();
    assert!(lastsave.starts_with(':'));
    check_rdb(&dir.join("dump.rdb"));
    assert_eq!(conn.run("bgsave x"), b"-ERR syntax error\r\n");
    let digest_before = digest(&mut conn);
    assert_eq!(conn.run("debug reload"), b"+OK\r\n");
    assert_eq!(digest(&mut conn), digest_before);
}

#[test]
fn shutdown_and_sigterm_save_when_save_points_are_set() {
    let dir = fresh_dir("shutdown");
    let d = dir_arg(&dir);
    let mut first = ServerProcess::rudis(&["--dir", &d]);
    let mut conn = first.connect();
    conn.run("set kept 1");
    conn.send(b"shutdown\r\n");
    assert_eq!(first.wait_exit(Duration::from_secs(10)), Some(0));
    check_rdb(&dir.join("dump.rdb"));

    let mut second = ServerProcess::rudis(&["--dir", &d]);
    let mut conn = second.connect();
    assert_eq!(conn.run("get kept"), b"$1\r\n1\r\n");
    conn.run("set also 2");
    // SAFETY-free: a plain signal to our own child process.
    Command::new("kill")
        .arg(second.pid().to_string())
        .status()
        .unwrap();
    assert_eq!(second.wait_exit(Duration::from_secs(10)), Some(0));

    let third = ServerProcess::rudis(&["--dir", &d, "--save", ""]);
    let mut conn = third.connect();
    assert_eq!(conn.run("mget kept also"), b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    conn.run("set lost 3");
    conn.send(b"shutdown\r\n");
    drop(third);
    let fourth = ServerProcess::rudis(&["--dir", &d, "--save", ""]);
    assert_eq!(fourth.connect().run("exists lost"), b":0\r\n");
}

/// With save points set, FLUSHALL saves the empty dataset at once, so a
/// crash afterwards does not bring the keys back; the change count and
/// `rdb_saves` read as in Redis.
#[test]
fn flushall_replaces_the_snapshot_when_save_points_are_set() {
    let dir = fresh_dir("flushall");
    let d = dir_arg(&dir);
    let mut first = ServerProcess::rudis(&["--dir", &d]);
    let mut conn = first.connect();
    conn.run("set gone 1");
    assert_eq!(conn.run("save"), b"+OK\r\n");
    conn.run("set gone2 1");
    assert_eq!(conn.run("flushall"), b"+OK\r\n");
    let field = |conn: &mut Conn, f: &str| common::info_field(conn, "persistence", f);
    assert_eq!(field(&mut conn, "rdb_changes_since_last_save"), "0");
    assert_eq!(field(&mut conn, "rdb_saves"), "1");
    let _ = first.child.kill();
    let _ = first.child.wait();
    let second = ServerProcess::rudis(&["--dir", &d, "--save", ""]);
    let mut conn = second.connect();
    assert_eq!(conn.run("dbsize"), b":0\r\n");
    conn.run("set a 1");
    conn.run("flushall");
    // Without save points: the SET and the one key FLUSHALL deleted.
    assert_eq!(field(&mut conn, "rdb_changes_since_last_save"), "2");
}

/// While a big snapshot loads, clients are answered `-LOADING` (INFO
/// works and says `loading:1`), then served once it is all in; the log
/// says how long it took, as Redis's does.
#[test]
fn clients_hear_loading_until_the_snapshot_is_in() {
    let dir = fresh_dir("loading");
    let d = dir_arg(&dir);
    {
        let redis = ServerProcess::redis_with(&["--dir", &d, DEBUG, "yes", "--save", ""]);
        let mut conn = redis.connect();
        assert_eq!(conn.run("debug populate 300000 key 32"), b"+OK\r\n");
        assert_eq!(conn.run("save"), b"+OK\r\n");
    }
    let port = common::free_port();
    let logfile = dir.join("rudis.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rudis-server"))
        .args(["--port", &port.to_string(), "--dir", &d, "--save", ""])
        .args(["--logfile", &logfile.display().to_string()])
        .spawn()
        .unwrap();
    let (mut loading, mut info_while_loading) = (0, false);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "never finished loading");
        let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        drop(stream);
        let mut conn = Conn::new(port);
        let reply = conn.run("dbsize");
        if reply == b"-LOADING Redis is loading the dataset in memory\r\n" {
            loading += 1;
            if !info_while_loading {
                info_while_loading = common::info_field(&mut conn, "persistence", "loading") == "1";
            }
            continue;
        }
        assert_eq!(reply, b":300000\r\n");
        assert_eq!(common::info_field(&mut conn, "persistence", "loading"), "0");
        break;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(loading > 0, "no -LOADING while loading");
    assert!(info_while_loading, "INFO did not say loading:1");
    let log = std::fs::read_to_string(&logfile).unwrap();
    assert!(log.contains("DB loaded from disk: "), "{log}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A file that cannot be read whole stops the start with exit code 1 and
/// stays as it was; nothing is half-loaded. What is logged follows
/// redis-server on the same file: the reason, redis-check-rdb's report
/// of where it struck, and the same closing line.
#[test]
fn corrupt_files_refuse_to_load() {
    let source = fresh_dir("corrupt-src");
    let s = dir_arg(&source);
    let writer = ServerProcess::rudis(&["--dir", &s, "--save", ""]);
    let mut conn = writer.connect();
    load(&mut conn, &dataset());
    conn.run("save");
    let good = std::fs::read(source.join("dump.rdb")).unwrap();
    drop(writer);

    let mut flipped = good.clone();
    let at = good.len() / 2;
    flipped[at] ^= 0x55;
    let with_key = |kind: u8, value: &[u8]| {
        let mut f = good[..9].to_vec();
        f.extend_from_slice(&[0xFE, 0x00, kind, 0x01, b'k']);
        f.extend_from_slice(value);
        f
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 3].to_vec()),
        ("flipped", flipped),
        ("bad-checksum", {
            let mut f = good.clone();
            let end = f.len();
            f[end - 8..].copy_from_slice(b"foobar00");
            f
        }),
        ("bad-signature", b"NOTREDIS0010".to_vec()),
        ("future-version", b"REDIS0099".to_vec()),
        ("unknown-type", with_key(0x63, b"")),
        ("truncated-hash", with_key(4, b"")),
        // A hash ziplist whose one entry claims to be longer than the blob.
        (
            "bad-ziplist",
            with_key(
                13,
                &[14, 14, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0, 0x05, b'a', 0xff],
            ),
        ),
    ];
    for (name, bytes) in cases {
        let outcomes: Vec<(Option<i32>, Vec<String>)> =
            [env!("CARGO_BIN_EXE_rudis-server"), "redis-server"]
                .iter()
                .map(|binary| {
                    let dir = fresh_dir(name);
                    std::fs::write(dir.join("dump.rdb"), &bytes).unwrap();
                    let out = Command::new(binary)
                        .args(["--port", &common::free_port().to_string(), "--dir"])
                        .arg(&dir)
                        .output()
                        .unwrap();
                    assert_eq!(
                        std::fs::read(dir.join("dump.rdb")).unwrap(),
                        bytes,
                        "{name}: the file changed"
                    );
                    let log = String::from_utf8_lossy(&out.stdout).into_owned();
                    (out.status.code(), failure_lines(&log))
                })
                .collect();
        assert_eq!(outcomes[0].0, Some(1), "{name}");
        assert_eq!(outcomes[0], outcomes[1], "{name}: rudis, then redis-server");
    }
}

/// What a failed load logged, in words both servers share: the lines
/// logged from the first sign of trouble on (rudis's and Redis's
/// `Internal error ...` lines without their offsets and Redis's source
/// line), and whether redis-check-rdb's report came.
fn failure_lines(log: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for line in log.lines() {
        if line.starts_with("--- RDB ERROR DETECTED ---") {
            lines.push(line.to_string());
            continue;
        }
        let Some((_, message)) = line.split_once(" # ") else {
            continue;
        };
        if message.starts_with("WARNING") || message.contains("just started") {
            continue;
        }
        let message = match message.split_once(" -> ") {
            Some((_, reason)) if message.starts_with("Internal error in RDB") => {
                format!("Internal error in RDB reading -> {reason}")
            }
            _ => message.to_string(),
        };
        lines.push(message);
    }
    // Start-up banners differ; keep from the first error on.
    let first = lines
        .iter()
        .position(|l| l == "Server initialized")
        .map_or(0, |i| i + 1);
    lines.split_off(first)
}

/// A small tmpfs that is unmounted when dropped: a disk that can fill up.
struct SmallDisk {
    path: std::path::PathBuf,
}

impl SmallDisk {
    /// `None` where mounting is not permitted (not root): the caller says
    /// so and skips.
    fn mount(kib: u32) -> Option<SmallDisk> {
        let path = fresh_dir("disk");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { path })
    }

    /// Writes a filler file until the disk is full.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.path.join("filler")).unwrap();
        let chunk = [7u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }

    fn free(&self) {
        let _ = std::fs::remove_file(self.path.join("filler"));
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// On a full disk a save fails without touching the last good file or
/// leaving temp files, and so does the rewrite that turns the AOF on;
/// the status says so, and with
/// `stop-writes-on-bgsave-error` writes (and PING) get Redis's MISCONF
/// until a save succeeds once space comes back.
#[test]
fn a_full_disk_keeps_the_old_file_and_refuses_writes() {
    let Some(disk) = SmallDisk::mount(512) else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let d = dir_arg(&disk.path);
    let rudis = ServerProcess::rudis(&["--dir", &d, "--save", "3600 1"]);
    let mut conn = rudis.connect();
    conn.run("set a 1");
    assert_eq!(conn.run("save"), b"+OK\r\n");
    let good = std::fs::read(disk.path.join("dump.rdb")).unwrap();
    let noise: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    assert_eq!(conn.cmd(&[b"set", b"big", &noise]), b"+OK\r\n");
    disk.fill();
    // As in Redis, turning the AOF on is accepted: its first rewrite
    // fails, and is tried again, until the AOF is turned off.
    assert_eq!(conn.run("config set appendonly yes"), b"+OK\r\n");
    wait_for(
        || common::info_field(&mut conn, "persistence", "aof_last_bgrewrite_status") == "err",
        "the first rewrite failing",
    );
    assert_eq!(conn.run("config set appendonly no"), b"+OK\r\n");
    assert_eq!(conn.run("bgsave"), b"+Background saving started\r\n");
    wait_for(
        || common::info_field(&mut conn, "persistence", "rdb_bgsave_in_progress") == "0",
        "the failing child",
    );
    assert_eq!(
        common::info_field(&mut conn, "persistence", "rdb_last_bgsave_status"),
        "err"
    );
    let misconf = String::from_utf8(conn.run("set c 3")).unwrap();
    assert!(
        misconf.starts_with("-MISCONF Redis is configured to save RDB snapshots"),
        "{misconf}"
    );
    assert!(conn.run("ping").starts_with(b"-MISCONF"));
    assert_eq!(conn.run("get a"), b"$1\r\n1\r\n");
    assert_eq!(conn.run("save"), b"-ERR\r\n");
    assert_eq!(std::fs::read(disk.path.join("dump.rdb")).unwrap(), good);
    let leftovers: Vec<_> = std::fs::read_dir(&disk.path)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("temp-"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left behind");
    // Space comes back: the next save succeeds and writes flow again.
    disk.free();
    assert_eq!(conn.run("bgsave"), b"+Background saving started\r\n");
    wait_for(
        || common::info_field(&mut conn, "persistence", "rdb_last_bgsave_status") == "ok",
        "a good save",
    );
    assert_eq!(conn.run("set c 3"), b"+OK\r\n");
    drop(conn);
    drop(rudis);
}

#[test]
fn persistence_settings_answer_as_redis() {
    // Forty 150-byte elements: several 4 KB nodes under
    // `list-max-listpack-size -1`.
    let long_elements_push = format!(
        "rpush sized {}",
        (0..40)
            .map(|i| format!("{i:03}{}", "x".repeat(147)))
            .collect::<Vec<_>>()
            .join(" ")
    );
    common::assert_same_replies(&[
        "config get rdbcompression",
        "config get rdbchecksum",
        "config get stop-writes-on-bgsave-error",
        "config get appendfsync",
        "config set appendfsync bogus",
        "config set dbfilename x.rdb",
        "config set dir /tmp",
        "config set appenddirname x",
        "config get auto-aof-rewrite-min-size",
        "config get aof-use-rdb-preamble",
        "debug digest",
        "~config get rdb*",
        "~config get aof*",
        "config get rdb-key-save-delay",
        "config get sanitize-dump-payload",
        "config set sanitize-dump-payload clients",
        "config get sanitize-dump-payload",
        "config set sanitize-dump-payload maybe",
        "config get bgsave_cpulist",
        "config set bgsave_cpulist 0",
        "config get aof_rewrite_cpulist",
        "config set aof-disable-auto-gc yes",
        "config get aof-disable-auto-gc",
        "~config get *ziplist*",
        "~config get hash-max-*",
        "~config get zset-max-*",
        "~config get list-max-*",
        "config set hash-max-ziplist-entries 100",
        "config get hash-max-listpack-entries",
        "config get HASH-MAX-ZIPLIST-ENTRIES",
        "config set list-max-ziplist-size 5",
        "config get list-max-listpack-size",
        "config set hash-max-ziplist-entries 1 hash-max-listpack-entries 2",
        "config set list-max-listpack-size x",
        "config set list-max-listpack-size 5",
        "rpush counted 1 2 3 4 5 6 7 8 9 10 11 12 13",
        "dump counted",
        "config set list-max-listpack-size -1",
        &long_elements_push,
        "dump sized",
    ]);
}

/// With the AOF on a full disk: a failed rewrite is counted and keeps the
/// old files; failed appends refuse writes with Redis's MISCONF text; when
/// space returns the log is written again and writes flow.
#[test]
fn a_full_disk_under_the_aof_refuses_writes_until_space_returns() {
    let Some(disk) = SmallDisk::mount(512) else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let d = dir_arg(&disk.path);
    let rudis = ServerProcess::rudis(&["--dir", &d, "--save", "", "--appendonly", "yes"]);
    let mut conn = rudis.connect();
    let field = |conn: &mut Conn, f: &str| common::info_field(conn, "persistence", f);
    conn.run("set a 1");
    let noise: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    assert_eq!(conn.cmd(&[b"set", b"big", &noise]), b"+OK\r\n");
    disk.fill();
    let rewrite = String::from_utf8(conn.run("bgrewriteaof")).unwrap();
    assert_eq!(rewrite, "-ERR Can't execute an AOF background rewriting. Please check the server logs for more information.\r\n");
    assert_eq!(field(&mut conn, "aof_last_bgrewrite_status"), "err");
    // An append that cannot be written: later writes are refused.
    conn.cmd(&[b"set", b"big2", &noise]);
    wait_for(
        || field(&mut conn, "aof_last_write_status") == "err",
        "the failed append",
    );
    let refused = String::from_utf8(conn.run("set c 3")).unwrap();
    assert!(
        refused.starts_with("-MISCONF Errors writing to the AOF file: No space left on device"),
        "{refused}"
    );
    assert_eq!(conn.run("get a"), b"$1\r\n1\r\n");
    disk.free();
    wait_for(
        || field(&mut conn, "aof_last_write_status") == "ok",
        "the log written again",
    );
    assert_eq!(conn.run("set c 3"), b"+OK\r\n");
    assert!(conn
        .run("bgrewriteaof")
        .starts_with(b"+Background append only file rewriting"));
    wait_for(
        || field(&mut conn, "aof_last_bgrewrite_status") == "ok",
        "a good rewrite",
    );
    assert_eq!(field(&mut conn, "aof_rewrites_consecutive_failures"), "0");
    drop(conn);
    drop(rudis);
}

/// A SAVE that fails (here `dbfilename` names a directory) answers an
/// error but does not make the server refuse writes: only a failed
/// background save does, as in Redis.
#[test]
fn a_failed_save_does_not_refuse_writes() {
    common::assert_same_observations(|server| {
        let dir = server.owned_dir.clone().unwrap();
        std::fs::create_dir_all(dir.join("dump.rdb")).unwrap();
        let mut conn = server.connect();
        let mut seen = vec![conn.run("SET k v"), conn.run("SAVE"), conn.run("SET k w")];
        seen.push(
            common::info_field(&mut conn, "persistence", "rdb_last_bgsave_status").into_bytes(),
        );
        seen.push(conn.run("PING"));
        seen.iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect()
    });
}

/// A BGSAVE child reports its progress while it writes, as Redis's does:
/// INFO's `current_*` fields count the keys written out of those there
/// were at the fork, and fall back to zero when it is done.
#[test]
fn a_saving_child_reports_its_progress() {
    let rudis = ServerProcess::rudis(&["--enable-debug-command", "yes"]);
    let mut conn = rudis.connect();
    assert_eq!(conn.run("debug populate 10000 key 100"), b"+OK\r\n");
    conn.run("config set rdb-key-save-delay 300");
    assert_eq!(conn.run("bgsave"), b"+Background saving started\r\n");
    let field = |conn: &mut common::Conn, name: &str| common::info_field(conn, "persistence", name);
    wait_for(
        || field(&mut conn, "current_save_keys_processed") != "0",
        "a progress report",
    );
    assert_eq!(field(&mut conn, "current_save_keys_total"), "10000");
    let percent: f64 = field(&mut conn, "current_fork_perc").parse().unwrap();
    assert!(percent > 0.0 && percent < 100.0, "{percent}");
    assert_ne!(field(&mut conn, "current_cow_peak"), "0");
    wait_for(
        || field(&mut conn, "rdb_bgsave_in_progress") == "0",
        "the save to end",
    );
    assert_eq!(field(&mut conn, "current_save_keys_processed"), "0");
    assert_eq!(field(&mut conn, "current_save_keys_total"), "0");
    assert_eq!(field(&mut conn, "current_fork_perc"), "0.00");
}
