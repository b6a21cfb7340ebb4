//! The listening sockets: `unixsocket` (clients over a Unix domain
//! socket) and `bind` changed at run time, compared with redis-server
//! where a reply or a file shows the difference.

mod common;

use common::{fresh_dir, ServerProcess};
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// One command over the socket at `path`, its raw reply.
fn ask(path: &Path, args: &[&[u8]]) -> Vec<u8> {
    let mut stream = UnixStream::connect(path).expect("connect to the unix socket");
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    stream.write_all(&common::encode(args)).expect("write");
    read_one(&mut stream)
}

fn read_one(stream: &mut UnixStream) -> Vec<u8> {
    let mut buf = Vec::new();
    loop {
        if let Some(end) = common::reply_len(&buf) {
            buf.truncate(end);
            return buf;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).expect("read reply");
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A field of a CLIENT INFO line.
fn field(info: &[u8], name: &str) -> String {
    let text = String::from_utf8_lossy(info);
    text.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// A server of each kind listening on its own socket file as well.
fn pair_with_sockets(extra: &[&str]) -> Vec<(ServerProcess, PathBuf)> {
    let dir = fresh_dir("unixsocket");
    ["rudis", "redis"]
        .iter()
        .map(|kind| {
            let path = dir.join(format!("{kind}.sock"));
            let mut args = vec!["--unixsocket", path.to_str().expect("utf-8 path")];
            args.extend_from_slice(extra);
            let server = if *kind == "rudis" {
                ServerProcess::rudis(&args)
            } else {
                ServerProcess::redis_with(&args)
            };
            (server, path)
        })
        .collect()
}

#[test]
fn clients_over_the_socket_look_as_in_redis() {
    for (server, path) in pair_with_sockets(&["--unixsocketperm", "700"]) {
        let mode = std::fs::metadata(&path).expect("socket file").permissions();
        assert!(std::fs::metadata(&path).unwrap().file_type().is_socket());
        assert_eq!(mode.mode() & 0o777, 0o700, "{path:?}");

        assert_eq!(ask(&path, &[b"SET", b"k", b"v"]), b"+OK\r\n");
        assert_eq!(server.connect().run("GET k"), b"$1\r\nv\r\n");

        let info = ask(&path, &[b"CLIENT", b"INFO"]);
        let shown = format!("{}:0", path.display());
        assert_eq!(field(&info, "addr"), shown);
        assert_eq!(field(&info, "laddr"), shown);
        assert_eq!(field(&info, "flags"), "U");

        let perm = ask(&path, &[b"CONFIG", b"GET", b"unixsocketperm"]);
        assert_eq!(perm, b"*2\r\n$14\r\nunixsocketperm\r\n$3\r\n700\r\n");
        let set = ask(&path, &[b"CONFIG", b"SET", b"unixsocket", b"/tmp/x"]);
        assert!(set.starts_with(b"-ERR CONFIG SET failed"), "{set:?}");

        // MONITOR names a socket client `unix:<path>`.
        let mut monitor = server.connect();
        assert_eq!(monitor.run("MONITOR"), b"+OK\r\n");
        ask(&path, &[b"PING"]);
        let line = monitor.read_reply();
        let expected = format!("[0 unix:{}] \"PING\"", path.display());
        assert!(
            String::from_utf8_lossy(&line).contains(&expected),
            "{line:?}"
        );

        // The slow log shows the client's address as CLIENT LIST does.
        ask(
            &path,
            &[b"CONFIG", b"SET", b"slowlog-log-slower-than", b"0"],
        );
        let entries = ask(&path, &[b"SLOWLOG", b"GET", b"1"]);
        assert!(
            String::from_utf8_lossy(&entries).contains(&shown),
            "{entries:?}"
        );
    }
}

#[test]
fn redis_tools_reach_the_socket() {
    let dir = fresh_dir("unixsocket-tools");
    let path = dir.join("rudis.sock");
    let server = ServerProcess::rudis(&["--unixsocket", path.to_str().unwrap()]);
    let run = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .arg("-s")
            .arg(&path)
            .args(args)
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(run(&["PING"]), "PONG");
    assert_eq!(run(&["SET", "via", "socket"]), "OK");
    assert_eq!(server.connect().run("GET via"), b"$6\r\nsocket\r\n");

    let status = Command::new("redis-benchmark")
        .arg("-s")
        .arg(&path)
        .args(["-t", "set,get", "-n", "2000", "-c", "8", "-P", "4", "-q"])
        .stdout(Stdio::null())
        .status()
        .expect("run redis-benchmark");
    assert!(status.success());
    let stats = String::from_utf8_lossy(&server.connect().run("INFO commandstats")).to_string();
    assert!(stats.contains("cmdstat_set:calls=2001,"), "{stats}");
    assert!(stats.contains("cmdstat_get:calls=2001,"), "{stats}");
}

#[test]
fn a_stale_socket_file_is_replaced_and_shutdown_removes_it() {
    let dir = fresh_dir("unixsocket-files");
    let path = dir.join("rudis.sock");
    std::fs::write(&path, b"left by a crash").unwrap();
    let mut server = ServerProcess::rudis(&["--unixsocket", path.to_str().unwrap()]);
    assert_eq!(ask(&path, &[b"PING"]), b"+PONG\r\n");
    let mut stream = UnixStream::connect(&path).unwrap();
    stream
        .write_all(&common::encode(&[b"SHUTDOWN", b"NOSAVE"]))
        .unwrap();
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(!path.exists(), "the socket file outlived the server");
}

/// Starts a server that is to fail at startup; its exit code and log.
fn failed_start(program: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("start the server");
    let log = String::from_utf8_lossy(&out.stdout).to_string();
    (out.status.code(), log)
}

#[test]
fn a_socket_that_cannot_be_opened_stops_the_start_as_in_redis() {
    let dir = fresh_dir("unixsocket-fail");
    let missing = dir.join("no-such-dir").join("s.sock");
    let port = common::free_port().to_string();
    let args = ["--port", &port, "--unixsocket", missing.to_str().unwrap()];
    for program in [env!("CARGO_BIN_EXE_rudis-server"), "redis-server"] {
        let (code, log) = failed_start(program, &args);
        assert_eq!(code, Some(1), "{program}: {log}");
        assert!(
            log.contains("Failed opening Unix socket: bind: No such file or directory"),
            "{program}: {log}"
        );
    }
    for perm in ["999", "1000"] {
        let args = ["--port", &port, "--unixsocketperm", perm];
        let rudis = failed_start(env!("CARGO_BIN_EXE_rudis-server"), &args);
        let redis = failed_start("redis-server", &args);
        assert_eq!(rudis.0, Some(1), "{}", rudis.1);
        assert_eq!(redis.0, Some(1), "{}", redis.1);
        let reason = |log: &str| log.lines().last().unwrap_or_default().to_string();
        assert_eq!(reason(&rudis.1), reason(&redis.1), "unixsocketperm {perm}");
    }
}

#[test]
fn a_server_can_listen_on_the_socket_alone() {
    let dir = fresh_dir("unixsocket-only");
    let path = dir.join("rudis.sock");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rudis-server"))
        .args(["--port", "0", "--save", "", "--loglevel", "warning"])
        .arg("--unixsocket")
        .arg(&path)
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("start rudis-server");
    let up = common::eventually(Duration::from_secs(10), || {
        UnixStream::connect(&path).is_ok()
    });
    let pong = up.then(|| ask(&path, &[b"PING"]));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(pong.as_deref(), Some(&b"+PONG\r\n"[..]));
}

#[test]
fn socket_clients_count_against_maxclients_and_pass_protected_mode() {
    let dir = fresh_dir("unixsocket-limits");
    let path = dir.join("rudis.sock");
    let server = ServerProcess::rudis(&[
        "--unixsocket",
        path.to_str().unwrap(),
        "--maxclients",
        "2",
        "--protected-mode",
        "yes",
    ]);
    let mut first = server.connect();
    // The start-up probe's connection may not be freed yet.
    let alone = common::eventually(Duration::from_secs(5), || {
        common::bulk_payload(&first.run("CLIENT LIST"))
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .count()
            == 1
    });
    assert!(alone);
    let mut second = UnixStream::connect(&path).unwrap();
    second.set_read_timeout(Some(Duration::from_secs(10))).ok();
    second.write_all(b"PING\r\n").unwrap();
    assert_eq!(read_one(&mut second), b"+PONG\r\n");
    // The refusal comes unasked, then the close.
    let mut third = UnixStream::connect(&path).unwrap();
    third.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let refused = read_one(&mut third);
    assert_eq!(refused, b"-ERR max number of clients reached\r\n");
    assert_eq!(first.run("PING"), b"+PONG\r\n");
}

/// Whether a TCP connection to `port` on loopback is accepted.
fn tcp_answers(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

#[test]
fn bind_changes_at_run_time_as_in_redis() {
    for (server, path) in pair_with_sockets(&[]) {
        let kind = format!("{path:?}");
        let get = ask(&path, &[b"CONFIG", b"GET", b"bind"]);
        assert_eq!(get, b"*2\r\n$4\r\nbind\r\n$6\r\n* -::*\r\n", "{kind}");

        let refused = ask(&path, &[b"CONFIG", b"SET", b"bind", b"999.999.999.999"]);
        assert_eq!(
            refused,
            &b"-ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.\r\n"[..],
            "{kind}"
        );
        // The old addresses are listened on again.
        assert!(tcp_answers(server.port), "{kind}");

        // The new addresses may share the port with the old ones.
        assert_eq!(
            ask(&path, &[b"CONFIG", b"SET", b"bind", b"127.0.0.1"]),
            b"+OK\r\n"
        );
        assert_eq!(server.connect().run("PING"), b"+PONG\r\n", "{kind}");

        assert_eq!(ask(&path, &[b"CONFIG", b"SET", b"bind", b""]), b"+OK\r\n");
        assert!(!tcp_answers(server.port), "{kind}: still listening on TCP");
        let get = ask(&path, &[b"CONFIG", b"GET", b"bind"]);
        assert_eq!(get, b"*2\r\n$4\r\nbind\r\n$0\r\n\r\n", "{kind}");

        assert_eq!(
            ask(&path, &[b"CONFIG", b"SET", b"bind", b"* -::*"]),
            b"+OK\r\n"
        );
        assert_eq!(server.connect().run("PING"), b"+PONG\r\n", "{kind}");
    }
}

#[test]
fn config_rewrite_writes_bind_as_redis_does() {
    let dir = fresh_dir("listeners-rewrite");
    let conf = dir.join("rudis.conf");
    let path = dir.join("rudis.sock");
    std::fs::write(&conf, "bind 127.0.0.1\n").unwrap();
    let server = ServerProcess::rudis(&[
        conf.to_str().unwrap(),
        "--unixsocket",
        path.to_str().unwrap(),
    ]);
    let bind_lines = || -> Vec<String> {
        std::fs::read_to_string(&conf)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("bind"))
            .map(str::to_string)
            .collect()
    };
    let mut conn = server.connect();
    assert_eq!(conn.run("CONFIG SET bind *"), b"+OK\r\n");
    assert_eq!(conn.run("CONFIG REWRITE"), b"+OK\r\n");
    assert_eq!(bind_lines(), ["bind *"]);
    // No address at all is written as "", and read back as none.
    assert_eq!(ask(&path, &[b"CONFIG", b"SET", b"bind", b""]), b"+OK\r\n");
    assert_eq!(ask(&path, &[b"CONFIG", b"REWRITE"]), b"+OK\r\n");
    assert_eq!(bind_lines(), ["bind \"\""]);
    // The default drops the line.
    assert_eq!(
        ask(&path, &[b"CONFIG", b"SET", b"bind", b"* -::*"]),
        b"+OK\r\n"
    );
    assert_eq!(ask(&path, &[b"CONFIG", b"REWRITE"]), b"+OK\r\n");
    assert!(bind_lines().is_empty(), "{:?}", bind_lines());
}
