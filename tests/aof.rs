//! The append-only file against the real Redis tools: crash safety under
//! `appendfsync always`, AOF directories interchangeable with redis-server
//! and accepted by `redis-check-aof`, truncated and corrupt files, and
//! rewrites.

mod common;

use common::{fresh_dir, Conn, ServerProcess};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const DEBUG: &str = "--enable-debug-command";

fn digest(conn: &mut common::Conn) -> Vec<u8> {
    let reply = conn.run("debug digest");
    assert_eq!(reply[0], b'+', "{}", String::from_utf8_lossy(&reply));
    reply
}

fn check_aof(dir: &Path) {
    let out = Command::new("redis-check-aof")
        .arg(dir.join("appendonlydir/appendonly.aof.manifest"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("All AOF files and manifest are valid"),
        "{text}"
    );
}

fn kill9(server: &mut ServerProcess) {
    let _ = server.child.kill();
    let _ = server.child.wait();
}

/// Every INCR that got its reply under `appendfsync always` is there after
/// `kill -9`, and the restarted server loads without repair.
#[test]
fn acknowledged_writes_survive_kill_9_with_always() {
    let dir = fresh_dir("aof-always");
    let d = dir.display().to_string();
    let args = [
        "--dir",
        d.as_str(),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ];
    let mut server = ServerProcess::rudis(&args);
    let mut conn = server.connect();
    let mut acknowledged = 0;
    let deadline = Instant::now() + Duration::from_millis(700);
    while Instant::now() < deadline {
        assert_eq!(
            conn.run("incr counter"),
            format!(":{}\r\n", acknowledged + 1).into_bytes()
        );
        acknowledged += 1;
    }
    kill9(&mut server);
    let restarted = ServerProcess::rudis(&args);
    let got = restarted.connect().run("get counter");
    assert_eq!(
        common::bulk_payload(&got),
        acknowledged.to_string().into_bytes()
    );
    check_aof(&dir);
}

/// Under `appendfsync everysec` a `kill -9` loses at most the last two
/// seconds of acknowledged writes (a write may wait that long behind a
/// slow fsync), and the restarted server loads without repair.
#[test]
fn kill_9_with_everysec_loses_at_most_two_seconds() {
    let dir = fresh_dir("aof-everysec");
    let d = dir.display().to_string();
    let args = [
        "--dir",
        d.as_str(),
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
    ];
    let mut server = ServerProcess::rudis(&args);
    let mut conn = server.connect();
    // When each acknowledged value was acknowledged.
    let mut acknowledged_at = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < deadline {
        let expected = acknowledged_at.len() + 1;
        assert_eq!(
            conn.run("incr counter"),
            format!(":{expected}\r\n").into_bytes()
        );
        acknowledged_at.push(Instant::now());
    }
    let killed_at = Instant::now();
    kill9(&mut server);
    let restarted = ServerProcess::rudis(&args);
    let got: usize = String::from_utf8(common::bulk_payload(
        &restarted.connect().run("get counter"),
    ))
    .unwrap()
    .parse()
    .unwrap();
    let older_than_two_seconds = acknowledged_at
        .iter()
        .filter(|&&at| killed_at.duration_since(at) > Duration::from_secs(2))
        .count();
    assert!(got <= acknowledged_at.len());
    assert!(
        got >= older_than_two_seconds,
        "{got} survived, {older_than_two_seconds} were acknowledged over 2 s before the kill"
    );
    check_aof(&dir);
}

#[test]
fn aof_directories_are_interchangeable_with_redis() {
    for preamble in ["yes", "no"] {
        let dir = fresh_dir("aof-to-redis");
        let d = dir.display().to_string();
        let ours_args = [
            "--dir",
            d.as_str(),
            "--appendonly",
            "yes",
            "--aof-use-rdb-preamble",
            preamble,
            DEBUG,
            "yes",
            "--save",
            "",
        ];
        let mut rudis = ServerProcess::rudis(&ours_args);
        let mut ours = rudis.connect();
        for line in [
            "set a 1",
            "set t v ex 1000",
            "incrbyfloat f 1.5",
            "sadd s x y z",
            "spop s",
            "expire a 5000",
            "rpush l 1 2 3",
            "hset h f v",
            "hincrbyfloat h g 2.5",
            "zadd z 1 m 2 n",
            "select 3",
            "set other db",
            "select 0",
            "multi",
            "incr c",
            "incr c",
            "exec",
        ] {
            let reply = ours.run(line);
            assert_ne!(reply[0], b'-', "{line}");
        }
        if preamble == "no" {
            assert_eq!(
                ours.run("bgrewriteaof"),
                b"+Background append only file rewriting started\r\n"
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while common::info_field(&mut ours, "persistence", "aof_rewrite_in_progress") != "0" {
                assert!(Instant::now() < deadline);
                std::thread::sleep(Duration::from_millis(20));
            }
            ours.run("set after-rewrite 1");
        }
        let expected = digest(&mut ours);
        kill9(&mut rudis);
        check_aof(&dir);
        let redis = ServerProcess::redis_with(&[
            "--dir",
            &d,
            "--appendonly",
            "yes",
            "--save",
            "",
            DEBUG,
            "yes",
        ]);
        let mut theirs = redis.connect();
        assert_eq!(digest(&mut theirs), expected, "preamble {preamble}");
        theirs.run("set from-redis 1");
        let expected = digest(&mut theirs);
        drop(theirs);
        drop(redis);
        let back = ServerProcess::rudis(&ours_args);
        assert_eq!(digest(&mut back.connect()), expected, "preamble {preamble}");
    }
}

#[test]
fn truncated_and_corrupt_aofs() {
    let dir = fresh_dir("aof-bad");
    let d = dir.display().to_string();
    let args = ["--dir", d.as_str(), "--appendonly", "yes"];
    let mut server = ServerProcess::rudis(&args);
    let mut conn = server.connect();
    conn.run("set kept 1");
    kill9(&mut server);
    let incr = dir.join("appendonlydir/appendonly.aof.1.incr.aof");
    let good = std::fs::read(&incr).unwrap();
    let mut cut = good.clone();
    cut.extend_from_slice(b"*3\r\n$3\r\nset\r\n$4\r\nlost");
    std::fs::write(&incr, &cut).unwrap();

    let start = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rudis-server"))
            .args(["--port", &common::free_port().to_string()])
            .args(args)
            .args(extra)
            .args(["--loglevel", "warning"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    // Refused when truncated tails are not allowed.
    let out = start(&["--aof-load-truncated", "no", "--port", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Unexpected end of file"));
    // Loaded up to the last whole command, and the tail cut off.
    let server = ServerProcess::rudis(&args);
    assert_eq!(server.connect().run("get kept"), b"$1\r\n1\r\n");
    drop(server);
    assert_eq!(std::fs::read(&incr).unwrap(), good);

    let mut corrupt = good.clone();
    corrupt.extend_from_slice(b"garbage\r\n*1\r\n$4\r\nping\r\n");
    std::fs::write(&incr, &corrupt).unwrap();
    let out = start(&["--port", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Bad file format"));
    std::fs::write(&incr, &good).unwrap();

    let manifest = dir.join("appendonlydir/appendonly.aof.manifest");
    std::fs::write(&manifest, b"this is not a manifest\n").unwrap();
    let out = start(&["--port", "1"]);
    assert_eq!(out.status.code(), Some(1));
}

/// Turning the AOF on at run time writes a base of what is there; the
/// files then hold everything.
#[test]
fn config_set_appendonly_starts_a_rewrite() {
    let dir = fresh_dir("aof-config-set");
    let d = dir.display().to_string();
    let server = ServerProcess::rudis(&["--dir", &d, DEBUG, "yes", "--save", ""]);
    let mut conn = server.connect();
    conn.run("set before 1");
    assert_eq!(conn.run("config set appendonly yes"), b"+OK\r\n");
    conn.run("set during 2");
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::info_field(&mut conn, "persistence", "aof_rewrite_in_progress") != "0" {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        common::info_field(&mut conn, "persistence", "aof_enabled"),
        "1"
    );
    assert_eq!(
        common::info_field(&mut conn, "persistence", "aof_last_bgrewrite_status"),
        "ok"
    );
    conn.run("set after 3");
    assert_restart_loads_the_same(server, conn, &dir);
}

/// Stops `server`, checks its AOF files, and starts it again from them:
/// the data must be what it held.
fn assert_restart_loads_the_same(server: ServerProcess, mut conn: Conn, dir: &Path) {
    let expected = digest(&mut conn);
    drop(conn);
    drop(server);
    check_aof(dir);
    let d = dir.display().to_string();
    let again = ServerProcess::rudis(&["--dir", &d, "--appendonly", "yes", DEBUG, "yes"]);
    assert_eq!(digest(&mut again.connect()), expected);
}

/// Turned on inside a transaction, the AOF's first rewrite is scheduled
/// for after it (Redis logs it so) and then runs from the cron.
#[test]
fn appendonly_set_in_a_transaction_rewrites_after_it() {
    let dir = fresh_dir("aof-config-set-multi");
    let d = dir.display().to_string();
    let log = dir.join("rudis.log");
    let log_arg = log.display().to_string();
    let args = [
        "--dir",
        &d,
        DEBUG,
        "yes",
        "--save",
        "",
        "--logfile",
        &log_arg,
    ];
    let server = ServerProcess::rudis(&args);
    let mut conn = server.connect();
    conn.run("MULTI");
    conn.run("SET foo bar");
    conn.run("CONFIG SET appendonly yes");
    assert_eq!(conn.run("EXEC"), b"*2\r\n+OK\r\n+OK\r\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::info_field(&mut conn, "persistence", "aof_rewrites") == "0"
        || common::info_field(&mut conn, "persistence", "aof_rewrite_in_progress") != "0"
    {
        assert!(
            Instant::now() < deadline,
            "no rewrite after the transaction"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("AOF was enabled during a transaction. An AOF background was scheduled to start when possible."),
        "{text}"
    );
    conn.run("SET after 1");
    assert_restart_loads_the_same(server, conn, &dir);
}

/// `aof-timestamp-enabled yes` annotates the log with `#TS:` lines, as
/// Redis does; the files stay valid for redis-check-aof and redis-server.
#[test]
fn timestamp_annotations_are_written_and_accepted() {
    let dir = fresh_dir("aof-ts");
    let d = dir.display().to_string();
    let args = [
        "--dir",
        d.as_str(),
        "--appendonly",
        "yes",
        "--aof-timestamp-enabled",
        "yes",
        "--aof-use-rdb-preamble",
        "no",
        "--save",
        "",
    ];
    {
        let rudis = ServerProcess::rudis(&args);
        let mut conn = rudis.connect();
        conn.run("set a 1");
        std::thread::sleep(Duration::from_millis(1100));
        conn.run("set b 2");
        assert_eq!(conn.run("bgrewriteaof")[0], b'+');
        // A new second: the incremental file gets its own annotation.
        std::thread::sleep(Duration::from_millis(1100));
        conn.run("set c 3");
        std::thread::sleep(Duration::from_millis(300));
    }
    let texts: Vec<String> = std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.unwrap().path()).unwrap()).into_owned())
        .collect();
    let annotations: usize = texts.iter().map(|t| t.matches("#TS:").count()).sum();
    assert!(annotations >= 2, "{texts:?}");
    check_aof(&dir);
    let redis = ServerProcess::redis_with(&["--dir", &d, "--appendonly", "yes", "--save", ""]);
    assert_eq!(
        redis.connect().run("mget a b c"),
        b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    drop(redis);
    let _ = std::fs::remove_dir_all(dir);
}

/// `aof-disable-auto-gc yes` keeps the files a rewrite replaced, named as
/// history in the manifest; turning it off deletes them, as Redis does.
#[test]
fn history_files_stay_while_auto_gc_is_disabled() {
    let dir = fresh_dir("aof-gc");
    let d = dir.display().to_string();
    let args = [
        "--dir",
        d.as_str(),
        "--appendonly",
        "yes",
        "--aof-disable-auto-gc",
        "yes",
    ];
    let rudis = ServerProcess::rudis(&args);
    let mut conn = rudis.connect();
    let aof_dir = dir.join("appendonlydir");
    let files = || std::fs::read_dir(&aof_dir).unwrap().count();
    let manifest = || std::fs::read_to_string(aof_dir.join("appendonly.aof.manifest")).unwrap();
    conn.run("set a 1");
    let before = files();
    assert!(conn.run("bgrewriteaof").starts_with(b"+Background"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !manifest().contains("type h") {
        assert!(Instant::now() < deadline, "no history in {}", manifest());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(files() > before, "the replaced files were deleted");
    assert_eq!(conn.run("config set aof-disable-auto-gc no"), b"+OK\r\n");
    assert!(!manifest().contains("type h"), "{}", manifest());
    assert_eq!(files(), 3, "manifest, base and incremental file");
    check_aof(&dir);
    drop(conn);
    drop(rudis);
    let _ = std::fs::remove_dir_all(dir);
}

/// DEBUG LOADAOF empties the dataset and loads it back from the log,
/// RDB base and incremental file both, without logging the load again.
#[test]
fn debug_loadaof_reloads_the_dataset_from_the_log() {
    let dir = fresh_dir("aof-loadaof");
    let d = dir.display().to_string();
    let server = ServerProcess::rudis(&["--dir", &d, "--appendonly", "yes", DEBUG, "yes"]);
    let mut conn = server.connect();
    conn.run("set before 1");
    conn.run("bgrewriteaof");
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::info_field(&mut conn, "persistence", "aof_rewrite_in_progress") != "0" {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    conn.run("rpush list a b c");
    conn.run("expire before 1000");
    conn.run("select 3");
    conn.run("sadd set x y");
    let expected = digest(&mut conn);
    let logged = || {
        std::fs::read_dir(dir.join("appendonlydir"))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".incr.aof"))
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum::<u64>()
    };
    let before = logged();
    assert_eq!(conn.run("debug loadaof"), b"+OK\r\n");
    assert_eq!(digest(&mut conn), expected);
    assert_eq!(logged(), before, "the load itself is not logged");
    assert_eq!(conn.run("scard set"), b":2\r\n");
    conn.run("select 0");
    assert_eq!(conn.run("ttl before"), b":1000\r\n");
    assert_eq!(conn.run("dbsize"), b":2\r\n");
}

/// A fresh directory whose AOF is one incremental file of `bytes`.
fn dir_with_one_incr(tag: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = fresh_dir(tag);
    std::fs::create_dir_all(dir.join("appendonlydir")).unwrap();
    std::fs::write(dir.join("appendonlydir/appendonly.aof.1.incr.aof"), bytes).unwrap();
    std::fs::write(
        dir.join("appendonlydir/appendonly.aof.manifest"),
        "file appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .unwrap();
    dir
}

/// Files to write into a server's directory: (path, contents).
type Files<'a> = Vec<(&'a str, Vec<u8>)>;

/// A command in the AOF's format.
fn logged(line: &str) -> Vec<u8> {
    common::encode(&line.split(' ').map(str::as_bytes).collect::<Vec<_>>())
}

fn commands(lines: &[&str]) -> Vec<u8> {
    lines.iter().flat_map(|line| logged(line)).collect()
}

/// What a server makes of a directory of AOF files: the last log line
/// and exit status when it refuses to start, else the answers to
/// `probes`; then every file it left, with its size, and the manifest.
fn load_outcome(binary: &str, files: &Files, extra: &[&str], probes: &[&str]) -> Vec<String> {
    let dir = fresh_dir("aof-load");
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let log = dir.join("server.log");
    let port = common::free_port();
    let mut child = Command::new(binary)
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "yes",
        ])
        .arg("--dir")
        .arg(&dir)
        .arg("--logfile")
        .arg(&log)
        .args(extra)
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let last = text.lines().rfind(|l| !l.is_empty()).unwrap_or_default();
            // The message, without the pid, role and time before it.
            let message = last.split_once(" # ").map_or(last, |(_, m)| m);
            seen.push(format!("exited {:?}: {message}", status.code()));
            break;
        }
        if common::answers_ping(port) {
            let mut conn = Conn::new(port);
            for probe in probes {
                let reply = conn.run(probe);
                seen.push(format!("{probe} -> {}", String::from_utf8_lossy(&reply)));
            }
            conn.send(&logged("shutdown nosave"));
            let _ = child.wait();
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{binary} neither started nor exited"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut left: Vec<String> = Vec::new();
    for sub in [dir.clone(), dir.join("appendonlydir")] {
        for entry in std::fs::read_dir(&sub).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_file() && path != log {
                let name = path.strip_prefix(&dir).unwrap().display().to_string();
                left.push(format!(
                    "{name} {}",
                    std::fs::metadata(&path).unwrap().len()
                ));
            }
        }
    }
    left.sort();
    seen.extend(left);
    let manifest = dir.join("appendonlydir/appendonly.aof.manifest");
    seen.push(std::fs::read_to_string(manifest).unwrap_or_default());
    let _ = std::fs::remove_dir_all(&dir);
    seen
}

/// Directories of AOF files as redis-server 7.0 loads them, or refuses
/// to: truncated tails cut off (a MULTI never closed included), an AOF
/// from before 7.0 moved into the directory (RDB preamble or not), bad
/// manifests and missing files refused with the same last log line, and
/// a key whose time had passed when it was logged kept until the load
/// is over.
#[test]
fn aof_directories_load_as_redis_loads_them() {
    let incr = "appendonlydir/appendonly.aof.1.incr.aof";
    let base = "appendonlydir/appendonly.aof.1.base.aof";
    let manifest = "appendonlydir/appendonly.aof.manifest";
    let one_incr = || {
        (
            manifest,
            b"file appendonly.aof.1.incr.aof seq 1 type i\n".to_vec(),
        )
    };
    let both = || {
        let text = "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n";
        (manifest, text.as_bytes().to_vec())
    };
    let multi = commands(&["set foo hello", "multi", "set bar world"]);
    let mut short = commands(&["incr n", "incr n", "incr n"]);
    short.extend_from_slice(b"*2\r\n$4\r\nincr\r\n$1\r\nn");
    let snapshot = {
        let server = ServerProcess::rudis(&[]);
        let mut conn = server.connect();
        conn.run("set fromrdb 1");
        conn.run("save");
        let dir = server.owned_dir.clone().unwrap();
        std::fs::read(dir.join("dump.rdb")).unwrap()
    };
    let mut preamble = snapshot.clone();
    preamble.extend(commands(&["set tail 2"]));
    let probes = &[
        "get foo",
        "get bar",
        "get n",
        "get fromrdb",
        "get tail",
        "llen list",
        "dbsize",
    ];
    let cases: Vec<(Files, &[&str])> = vec![
        (
            vec![(incr, multi.clone()), one_incr()],
            &["--aof-load-truncated", "yes"],
        ),
        (
            vec![(incr, multi), one_incr()],
            &["--aof-load-truncated", "no"],
        ),
        (
            vec![(incr, short.clone()), one_incr()],
            &["--aof-load-truncated", "yes"],
        ),
        (
            vec![(incr, short.clone()), one_incr()],
            &["--aof-load-truncated", "no"],
        ),
        (
            vec![(base, short.clone()), (incr, commands(&["incr n"])), both()],
            &[],
        ),
        (
            vec![(incr, b"*2\r\n$3\r\nget\r\n!!!\r\n".to_vec()), one_incr()],
            &[],
        ),
        (vec![(incr, commands(&["bla foo"])), one_incr()], &[]),
        (vec![("appendonly.aof", commands(&["set foo old"]))], &[]),
        (vec![("appendonly.aof", preamble)], &[]),
        (vec![(incr, commands(&["set foo 1"])), both()], &[]),
        (
            vec![
                (
                    incr,
                    commands(&["rpush list a", "pexpireat list 1000", "rpush list b"]),
                ),
                one_incr(),
            ],
            &[],
        ),
        (
            vec![
                (incr, Vec::new()),
                (
                    manifest,
                    b"file appendonly.aof.1.incr.aof seq 1 type i\n\n".to_vec(),
                ),
            ],
            &[],
        ),
        (
            vec![
                (incr, Vec::new()),
                (
                    manifest,
                    b"file appendonly.aof.1.incr.aof seq 1 type i".to_vec(),
                ),
            ],
            &[],
        ),
        (
            vec![
                (incr, Vec::new()),
                (
                    manifest,
                    b"file appendonly.aof.1.incr.aof type i\n".to_vec(),
                ),
            ],
            &[],
        ),
        (
            vec![
                (incr, Vec::new()),
                (manifest, b"# only a comment\n".to_vec()),
            ],
            &[],
        ),
        (
            vec![
                (incr, Vec::new()),
                (
                    manifest,
                    b"FILE appendonly.aof.1.incr.aof TYPE i SEQ 1 more pairs\n".to_vec(),
                ),
            ],
            &[],
        ),
    ];
    for (files, extra) in &cases {
        let rudis = load_outcome(env!("CARGO_BIN_EXE_rudis-server"), files, extra, probes);
        let redis = load_outcome("redis-server", files, extra, probes);
        let names: Vec<&str> = files.iter().map(|(name, _)| *name).collect();
        assert_eq!(rudis, redis, "files {names:?}, {extra:?}");
    }
}

/// Waits until no rewrite runs or waits to run.
fn wait_rewrites_done(conn: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while common::info_field(conn, "persistence", "aof_rewrite_in_progress") != "0"
        || common::info_field(conn, "persistence", "aof_rewrite_scheduled") != "0"
    {
        assert!(Instant::now() < deadline, "the rewrite did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The manifest through rewrites as redis-server writes it: history in
/// its order while auto gc is off, only a base after a rewrite with the
/// AOF off, numbering taken up again from the manifest DEBUG LOADAOF
/// reads, and a first incremental file once the AOF is on again.
#[test]
fn rewrites_number_and_retire_files_as_redis() {
    let observe = |server: &ServerProcess| {
        let dir = server.owned_dir.clone().unwrap();
        let manifest = || {
            std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest"))
                .unwrap_or_default()
        };
        let mut conn = server.connect();
        let mut seen = Vec::new();
        for step in [
            "config set appendonly yes",
            "set a 1",
            "config set aof-disable-auto-gc yes",
            "bgrewriteaof",
            "set b 2",
            "bgrewriteaof",
            "config set aof-disable-auto-gc no",
            "config set appendonly no",
            "set c 3",
            "bgrewriteaof",
            "debug loadaof",
            "config set appendonly yes",
            "set d 4",
            "debug loadaof",
            "bgrewriteaof",
            "dbsize",
        ] {
            let reply = conn.run(step);
            wait_rewrites_done(&mut conn);
            seen.push(format!("{step} -> {}", String::from_utf8_lossy(&reply)));
            seen.push(manifest());
        }
        seen
    };
    let (redis, rudis) = common::server_pair(&["--enable-debug-command", "yes"]);
    assert_eq!(
        observe(&redis),
        observe(&rudis),
        "left: redis-server, right: rudis"
    );
}

/// While an AOF loads, other clients get `-LOADING` (INFO answers, with
/// its `loading_*` fields), as from redis-server; `key-load-delay` holds
/// each command so the load is caught running.
#[test]
fn clients_are_answered_loading_while_the_aof_loads() {
    // Both servers answer others once per 1024 commands replayed: 4000
    // commands of half a millisecond each give a few rounds to catch.
    let lines: Vec<String> = (0..4000).map(|i| format!("set k{i} v")).collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let observe = |binary: &str| {
        let dir = dir_with_one_incr("aof-loading", &commands(&lines));
        let port = common::free_port();
        let mut child = Command::new(binary)
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "yes",
            ])
            .args(["--key-load-delay", "500", "--loglevel", "warning"])
            .arg("--dir")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut conn = loop {
            if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                drop(stream);
                break Conn::new(port);
            }
            assert!(Instant::now() < deadline, "{binary} did not listen");
            std::thread::sleep(Duration::from_millis(10));
        };
        // Sent together, so that one round answers both.
        let mut both = logged("get k1");
        both.extend(logged("info persistence"));
        conn.send(&both);
        let mut seen = vec![String::from_utf8_lossy(&conn.read_reply()).into_owned()];
        let info = String::from_utf8_lossy(&conn.read_reply()).into_owned();
        let mut fields: Vec<&str> = info
            .lines()
            .filter(|l| l.starts_with("loading"))
            .filter_map(|l| l.split(':').next())
            .collect();
        fields.sort();
        seen.push(fields.join(" "));
        while conn.run("ping") != b"+PONG\r\n" {
            assert!(Instant::now() < deadline, "{binary} did not finish loading");
            std::thread::sleep(Duration::from_millis(20));
        }
        seen.push(String::from_utf8_lossy(&conn.run("dbsize")).into_owned());
        conn.send(&logged("shutdown nosave"));
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&dir);
        seen
    };
    assert_eq!(
        observe(env!("CARGO_BIN_EXE_rudis-server")),
        observe("redis-server"),
        "left: rudis, right: redis-server"
    );
}

/// A command of the AOF that fails is logged as Redis logs it ("==
/// CRITICAL =="), and with `propagation-error-behavior panic` the load
/// stops the server, which dies of SIGABRT as redis-server means to.
#[test]
fn a_failing_logged_command_is_critical_as_in_redis() {
    use std::os::unix::process::ExitStatusExt;
    let critical = |binary: &str| {
        let dir = dir_with_one_incr("aof-critical", &commands(&["set x a", "incr x"]));
        let log = dir.join("server.log");
        let status = Command::new(binary)
            .args([
                "--port",
                &common::free_port().to_string(),
                "--appendonly",
                "yes",
            ])
            .args(["--propagation-error-behavior", "panic"])
            .arg("--dir")
            .arg(&dir)
            .arg("--logfile")
            .arg(&log)
            .status()
            .unwrap();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let line = text
            .lines()
            .find_map(|l| {
                l.split_once(" # == CRITICAL == ")
                    .map(|(_, m)| m.to_string())
            })
            .unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        (status.signal(), line)
    };
    let (rudis_signal, rudis_line) = critical(env!("CARGO_BIN_EXE_rudis-server"));
    let (redis_signal, redis_line) = critical("redis-server");
    assert_eq!(rudis_line, redis_line, "left: rudis, right: redis-server");
    assert_eq!(rudis_signal, Some(libc::SIGABRT));
    // redis-server means to abort() too, but its crash report (stack trace,
    // memory checks) can itself fault on some machines and end in SIGSEGV:
    // only its dying of a signal is compared.
    assert!(redis_signal.is_some(), "redis-server exited normally");
}
