//! Many clients, misbehaving clients and the server's life cycle, through the
//! real binary: a real client library (the `redis` crate), slow readers,
//! abrupt disconnects, idle timeouts, CLIENT KILL, SHUTDOWN and signals.

mod common;

use common::{encode, Conn, ServerProcess};
use std::io::Write;
use std::time::{Duration, Instant};

#[test]
fn the_redis_crate_talks_to_rudis() {
    let server = ServerProcess::rudis(&[]);
    let client = redis::Client::open(server.url()).unwrap();
    let mut con = client.get_connection().unwrap();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let echoed: Vec<u8> = redis::cmd("ECHO")
        .arg(&b"\x00binary\xff"[..])
        .query(&mut con)
        .unwrap();
    assert_eq!(echoed, b"\x00binary\xff");
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("tester")
        .query(&mut con)
        .unwrap();
    let name: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut con).unwrap();
    assert_eq!(name.as_deref(), Some("tester"));
    let info: redis::InfoDict = redis::cmd("INFO").query(&mut con).unwrap();
    assert_eq!(
        info.get::<String>("redis_version").as_deref(),
        Some("7.0.15")
    );
    assert_eq!(info.get::<u32>("arch_bits"), Some(64));
    assert_eq!(info.get::<u32>("cluster_enabled"), Some(0));
    assert_eq!(info.get::<u16>("tcp_port"), Some(server.port));
    let err = redis::cmd("NOSUCH").query::<()>(&mut con).unwrap_err();
    assert!(err.to_string().contains("unknown command"), "{err}");
    // A pipeline of many commands in one write.
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("ECHO").arg(i);
    }
    let replies: Vec<i64> = pipe.query(&mut con).unwrap();
    assert_eq!(replies, (0..1000).collect::<Vec<i64>>());
}

#[test]
fn client_list_has_redis_fields_for_every_client() {
    let server = ServerProcess::rudis(&[]);
    let mut a = server.connect();
    let mut b = server.connect();
    a.run("CLIENT SETNAME alpha");
    let list = String::from_utf8(a.run("CLIENT LIST")).unwrap();
    let lines: Vec<&str> = list
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("id="))
        .collect();
    assert_eq!(lines.len(), 2, "{list}");
    for line in &lines {
        let keys: Vec<&str> = line
            .split(' ')
            .map(|kv| kv.split('=').next().unwrap())
            .collect();
        // Redis 7.0's fields, in its order.
        assert_eq!(
            keys,
            [
                "id",
                "addr",
                "laddr",
                "fd",
                "name",
                "age",
                "idle",
                "flags",
                "db",
                "sub",
                "psub",
                "ssub",
                "multi",
                "qbuf",
                "qbuf-free",
                "argv-mem",
                "multi-mem",
                "rbs",
                "rbp",
                "obl",
                "oll",
                "omem",
                "tot-mem",
                "events",
                "cmd",
                "user",
                "redir",
                "resp"
            ],
            "{line}"
        );
    }
    assert!(list.contains("name=alpha"));
    // Redis 7.2's CLIENT SETINFO is not 7.0's: clients that send it on
    // connecting (redis-py, redis-rs) pass over the error.
    assert_eq!(
        b.run("CLIENT SETINFO LIB-NAME redis-py"),
        b"-ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.\r\n"
    );
}

#[test]
fn client_kill_closes_the_target_only() {
    let server = ServerProcess::rudis(&[]);
    let mut killer = server.connect();
    let mut victim = server.connect();
    let id = String::from_utf8(victim.run("CLIENT ID")).unwrap();
    let id = id.trim_start_matches(':').trim();
    assert_eq!(killer.run(&format!("CLIENT KILL ID {id}")), b":1\r\n");
    assert!(victim.is_closed(Duration::from_secs(5)));
    assert_eq!(killer.run("PING"), b"+PONG\r\n");
    // The old form, by address, and killing oneself after the reply.
    let mut other = server.connect();
    let addr = other.stream.local_addr().unwrap().to_string();
    assert_eq!(killer.run(&format!("CLIENT KILL {addr}")), b"+OK\r\n");
    assert!(other.is_closed(Duration::from_secs(5)));
    assert_eq!(killer.run("CLIENT KILL SKIPME no ID 999999"), b":0\r\n");
    let me = killer.stream.local_addr().unwrap().to_string();
    assert_eq!(
        killer.run(&format!("CLIENT KILL ADDR {me} SKIPME no")),
        b":1\r\n"
    );
    assert!(killer.is_closed(Duration::from_secs(5)));
}

/// The victim's connection closes when CLIENT KILL runs, not when the
/// killer's transaction ends: here it goes on sleeping for 2 seconds.
#[test]
fn client_kill_closes_the_connection_at_once() {
    let server = ServerProcess::rudis(&["--enable-debug-command", "yes"]);
    let mut killer = server.connect();
    let mut victim = server.connect();
    let id = String::from_utf8(victim.run("CLIENT ID")).unwrap();
    let id = id.trim_start_matches(':').trim().to_string();
    assert_eq!(killer.run("MULTI"), b"+OK\r\n");
    assert_eq!(killer.run(&format!("CLIENT KILL ID {id}")), b"+QUEUED\r\n");
    assert_eq!(killer.run("DEBUG SLEEP 2"), b"+QUEUED\r\n");
    killer.send(b"EXEC\r\n");
    assert!(victim.is_closed(Duration::from_secs(1)));
    assert_eq!(killer.read_reply(), b"*2\r\n:1\r\n+OK\r\n");
}

#[test]
fn a_thousand_clients_at_once() {
    let server = ServerProcess::rudis(&[]);
    let mut conns: Vec<Conn> = (0..1000).map(|_| server.connect()).collect();
    for (i, conn) in conns.iter_mut().enumerate() {
        conn.send(&encode(&[b"ECHO", i.to_string().as_bytes()]));
    }
    for (i, conn) in conns.iter_mut().enumerate() {
        let expected = format!("${}\r\n{i}\r\n", i.to_string().len());
        assert_eq!(conn.read_reply(), expected.as_bytes());
    }
    let info = String::from_utf8(conns[0].run("INFO clients")).unwrap();
    assert!(info.contains("connected_clients:1000\r\n"), "{info}");
}

#[test]
fn a_client_that_never_reads_does_not_stall_others() {
    let server = ServerProcess::rudis(&[]);
    // The hog pipelines megabytes of ECHO and never reads a reply: its
    // socket buffers fill, and the server must keep serving everyone else.
    let hog = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    hog.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let payload = vec![b'x'; 1000];
    let request = encode(&[b"ECHO", &payload]).repeat(1000);
    let writer = std::thread::spawn(move || {
        let mut hog = hog;
        let mut sent = 0usize;
        for _ in 0..32 {
            match hog.write_all(&request) {
                Ok(()) => sent += request.len(),
                Err(_) => break,
            }
        }
        (hog, sent)
    });
    std::thread::sleep(Duration::from_millis(200));
    let mut polite = server.connect();
    for _ in 0..100 {
        let started = Instant::now();
        assert_eq!(polite.run("PING"), b"+PONG\r\n");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a PING took {:?}",
            started.elapsed()
        );
    }
    let (_hog, sent) = writer.join().unwrap();
    assert!(
        sent >= 1_000_000,
        "the hog only managed to send {sent} bytes"
    );
}

#[test]
fn abrupt_disconnects_mid_command_leave_the_server_healthy() {
    let server = ServerProcess::rudis(&[]);
    for i in 0..200 {
        let mut conn = server.connect();
        let request = encode(&[b"ECHO", &vec![b'y'; 100_000]]);
        let cut = (i * 7919) % request.len();
        conn.send(&request[..cut]);
        if i % 2 == 0 {
            // Reset instead of FIN.
            let sock = socket2::SockRef::from(&conn.stream);
            let _ = sock.set_linger(Some(Duration::ZERO));
        }
        drop(conn);
    }
    let mut conn = server.connect();
    assert_eq!(conn.run("PING"), b"+PONG\r\n");
    std::thread::sleep(Duration::from_millis(200));
    let info = String::from_utf8(conn.run("INFO clients")).unwrap();
    assert!(info.contains("connected_clients:1\r\n"), "{info}");
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let server = ServerProcess::rudis(&["--timeout", "1"]);
    let mut idle = server.connect();
    assert_eq!(idle.run("PING"), b"+PONG\r\n");
    let started = Instant::now();
    assert!(
        idle.is_closed(Duration::from_secs(4)),
        "idle client not closed"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[test]
fn output_buffer_hard_limit_closes_the_client() {
    let server = ServerProcess::rudis(&[]);
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd(&[
            b"CONFIG",
            b"SET",
            b"client-output-buffer-limit",
            b"normal 1mb 0 0"
        ]),
        b"+OK\r\n"
    );
    // 20000 x 1 KB echoes and no reading: 20 MB of replies, more than the
    // kernel's socket buffers hold, so the server's own buffer passes 1 MB.
    let payload = vec![b'z'; 1024];
    let mut reader = server.connect();
    let request = encode(&[b"ECHO", &payload]).repeat(20_000);
    reader.stream.set_nonblocking(false).unwrap();
    let _ = reader.stream.write_all(&request);
    std::thread::sleep(Duration::from_millis(300));
    let mut got = 0;
    let closed = loop {
        let mut buf = vec![0u8; 65536];
        match std::io::Read::read(&mut reader.stream, &mut buf) {
            Ok(0) => break true,
            Ok(n) => got += n,
            Err(_) => break true,
        }
    };
    assert!(
        closed && got < 20_000 * 1032,
        "client over the hard limit was served {got} bytes"
    );
    assert_eq!(conn.run("PING"), b"+PONG\r\n");
}

#[test]
fn shutdown_command_stops_the_server_cleanly() {
    let mut server = ServerProcess::rudis(&[]);
    let mut conn = server.connect();
    assert_eq!(conn.run("SHUTDOWN foo"), b"-ERR syntax error\r\n");
    conn.send(b"SHUTDOWN NOSAVE\r\n");
    assert_eq!(conn.read_to_eof(), b"");
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn sigterm_and_sigint_shut_down_with_exit_code_zero() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut server = ServerProcess::rudis(&[]);
        let mut conn = server.connect();
        assert_eq!(conn.run("PING"), b"+PONG\r\n");
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(server.pid() as i32, signal) };
        assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
    }
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let server = ServerProcess::rudis(&[]);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rudis-server"))
        .args(["--port", &server.port.to_string()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(
        log.contains("Address already in use") && log.contains("aborting"),
        "{log}"
    );
}

#[test]
fn bad_directives_are_fatal_at_start() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_rudis-server"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--nosuch", "1"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Bad directive or wrong number of arguments")
    );
    let out = run(&["--maxclients", "0"]);
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("argument must be between 1 and 4294967295 inclusive"));
    let out = run(&["--version"]);
    assert!(
        out.status.success()
            && String::from_utf8_lossy(&out.stdout).contains("redis_version=7.0.15")
    );
    let dir = std::env::temp_dir().join(format!("rudis-conf-{}", std::process::id()));
    std::fs::write(&dir, "# comment\nport 1\nhz \"20\"\n\nnosuch directive\n").unwrap();
    let out = run(&[dir.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("at line 5") && err.contains(">>> 'nosuch directive'"),
        "{err}"
    );
    std::fs::remove_file(dir).ok();
}

#[test]
fn command_line_arguments_are_read_as_redis_reads_them() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rudis-server"))
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // A name with no value takes the next word as its value, whatever it
    // looks like; a single-valued setting given two is refused.
    let err = run(&["--port", "--bla", "--loglevel", "verbose"]);
    assert!(
        err.contains(">>> 'port \"--bla\"'\nargument couldn't be parsed into an integer"),
        "{err}"
    );
    let err = run(&["--port", "6379", "6380"]);
    assert!(
        err.contains(">>> 'port \"6379\" \"6380\"'\nwrong number of arguments"),
        "{err}"
    );
    let err = run(&["--replicaof", "127.0.0.1", "abc"]);
    assert!(err.contains("Invalid master port"), "{err}");

    // `-` reads the config from stdin, before the command line's options.
    let dir = common::fresh_dir("stdin-config");
    let port = common::free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rudis-server"))
        .args(["-", "--maxclients", "9", "--save", "--loglevel", "warning"])
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    write!(stdin, "port {port}\nmaxclients 5\nhz 17\n").unwrap();
    drop(stdin);
    let up = common::eventually(Duration::from_secs(10), || common::answers_ping(port));
    let got = up.then(|| {
        let mut conn = Conn::new(port);
        let got = [
            conn.run("CONFIG GET maxclients"),
            conn.run("CONFIG GET hz"),
            conn.run("CONFIG GET save"),
        ];
        conn.send(b"SHUTDOWN NOSAVE\r\n");
        got
    });
    let _ = child.kill();
    let _ = child.wait();
    let got = got.expect("rudis-server did not start with its config from stdin");
    assert_eq!(got[0], b"*2\r\n$10\r\nmaxclients\r\n$1\r\n9\r\n");
    assert_eq!(got[1], b"*2\r\n$2\r\nhz\r\n$2\r\n17\r\n");
    assert_eq!(got[2], b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
}

#[test]
fn config_file_and_command_line_are_merged() {
    let path = std::env::temp_dir().join(format!("rudis-merge-{}.conf", std::process::id()));
    std::fs::write(&path, "timeout 30\nhz 20\nmaxclients 77\n").unwrap();
    let server = ServerProcess::rudis(&[path.to_str().unwrap(), "--hz", "15"]);
    let mut conn = server.connect();
    assert_eq!(
        conn.run("CONFIG GET timeout"),
        b"*2\r\n$7\r\ntimeout\r\n$2\r\n30\r\n"
    );
    assert_eq!(conn.run("CONFIG GET hz"), b"*2\r\n$2\r\nhz\r\n$2\r\n15\r\n");
    let info = String::from_utf8(conn.run("INFO server")).unwrap();
    assert!(
        info.contains(&format!("config_file:{}", path.display())),
        "{info}"
    );
    std::fs::remove_file(path).ok();
}

#[test]
fn watch_aborts_exec_when_another_client_writes() {
    let server = ServerProcess::rudis(&[]);
    let mut a = server.connect();
    let mut b = server.connect();
    a.run("SET balance 10");
    assert_eq!(a.run("WATCH balance"), b"+OK\r\n");
    assert_eq!(b.run("INCRBY balance 5"), b":15\r\n");
    a.run("MULTI");
    assert_eq!(a.run("DECRBY balance 10"), b"+QUEUED\r\n");
    assert_eq!(a.run("EXEC"), b"*-1\r\n");
    // Untouched: the transaction runs; an expired watched key counts too.
    a.run("WATCH balance");
    a.run("MULTI");
    a.run("DECRBY balance 10");
    assert_eq!(a.run("EXEC"), b"*1\r\n:5\r\n");
    a.run("SET temp x PX 50");
    a.run("WATCH temp");
    std::thread::sleep(Duration::from_millis(100));
    b.run("GET temp");
    a.run("MULTI");
    a.run("PING");
    assert_eq!(a.run("EXEC"), b"*-1\r\n");
}

#[test]
fn the_redis_crate_runs_atomic_pipelines() {
    let server = ServerProcess::rudis(&[]);
    let client = redis::Client::open(server.url()).unwrap();
    let mut con = client.get_connection().unwrap();
    let (a, b): (i64, i64) = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("counter")
        .cmd("INCRBY")
        .arg("counter")
        .arg(10)
        .query(&mut con)
        .unwrap();
    assert_eq!((a, b), (1, 11));
}

/// CLIENT REPLY drops exactly the replies Redis drops: the whole output of
/// a pipeline is byte for byte Redis's.
#[test]
fn client_reply_drops_what_redis_drops() {
    let script = b"CLIENT REPLY OFF\r\nSET a 1\r\nGET a\r\nGET\r\nCLIENT REPLY ON\r\nGET a\r\nCLIENT REPLY SKIP\r\nGET a\r\nGET a\r\nCLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING\r\nCLIENT REPLY FOO\r\nQUIT\r\n";
    let mut outputs = Vec::new();
    for server in [ServerProcess::redis(), ServerProcess::rudis(&[])] {
        let mut conn = server.connect();
        conn.send(script);
        outputs.push(String::from_utf8_lossy(&conn.read_to_eof()).into_owned());
    }
    assert_eq!(outputs[0], outputs[1], "left: redis-server, right: rudis");
}

/// RESET and the CLIENT errors answer as Redis does.
#[test]
fn client_errors_and_reset_read_as_redis() {
    common::assert_same_replies(&[
        "client pause x",
        "client pause -1",
        "client pause 10 foo",
        "client pause 10 all extra",
        "client unblock 999",
        "client unblock x",
        "client unblock 1 foo",
        "client getredir",
        "multi",
        "select 3",
        "client setname n",
        "reset",
        "client getname",
        "exec",
        "client help",
    ]);
}

/// CLIENT PAUSE holds every client's commands (or only writes) in the
/// loop until the time is up; CLIENT UNPAUSE lets them through at once.
#[test]
fn client_pause_holds_commands_until_the_time_is_up() {
    let rudis = ServerProcess::rudis(&[]);
    let mut admin = rudis.connect();
    let mut other = rudis.connect();
    assert_eq!(admin.run("CLIENT PAUSE 300 WRITE"), b"+OK\r\n");
    let started = Instant::now();
    assert_eq!(other.run("GET k"), b"$-1\r\n", "reads pass a WRITE pause");
    assert!(started.elapsed() < Duration::from_millis(200));
    assert_eq!(other.run("SET k v"), b"+OK\r\n");
    assert!(
        started.elapsed() >= Duration::from_millis(280),
        "the write waited"
    );
    // ALL holds every command, from every client.
    assert_eq!(admin.run("CLIENT PAUSE 300 ALL"), b"+OK\r\n");
    let started = Instant::now();
    assert_eq!(other.run("PING"), b"+PONG\r\n");
    assert!(started.elapsed() >= Duration::from_millis(250));
    // UNPAUSE (not a write) lifts a WRITE pause at once.
    assert_eq!(admin.run("CLIENT PAUSE 10000 WRITE"), b"+OK\r\n");
    other.send(b"SET k w\r\n");
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    assert_eq!(admin.run("CLIENT UNPAUSE"), b"+OK\r\n");
    assert_eq!(other.read_reply(), b"+OK\r\n");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(admin.run("GET k"), b"$1\r\nw\r\n");
}

/// CLIENT UNBLOCK releases a blocked client as a timeout or with an
/// error, and says whether it found one.
#[test]
fn client_unblock_releases_a_blocked_client() {
    let rudis = ServerProcess::rudis(&[]);
    let mut blocked = rudis.connect();
    let mut admin = rudis.connect();
    let id = String::from_utf8(blocked.run("CLIENT ID")).unwrap();
    let id = id.trim_start_matches(':').trim();
    blocked.send(b"BLPOP list 0\r\n");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(admin.run(&format!("CLIENT UNBLOCK {id}")), b":1\r\n");
    assert_eq!(blocked.read_reply(), b"*-1\r\n");
    assert_eq!(admin.run(&format!("CLIENT UNBLOCK {id}")), b":0\r\n");
    blocked.send(b"BLPOP list 0\r\n");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(admin.run(&format!("CLIENT UNBLOCK {id} ERROR")), b":1\r\n");
    assert_eq!(
        blocked.read_reply(),
        b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    assert_eq!(blocked.run("PING"), b"+PONG\r\n");
    // Two calls, the one released with an error failed (as Redis counts).
    let stats = String::from_utf8(admin.run("INFO commandstats")).unwrap();
    assert!(
        stats.contains(
            "cmdstat_blpop:calls=2,usec=0,usec_per_call=0.00,rejected_calls=0,failed_calls=1"
        ),
        "{stats}"
    );
}

/// An HTTP POST (or a Host: header) on the RESP port is a cross-protocol
/// attack: the connection is closed at once, replies still pending
/// included, as Redis closes it.
#[test]
fn cross_protocol_requests_are_cut_off() {
    let rudis = ServerProcess::rudis(&[]);
    for request in [
        &b"POST / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"PING\r\nHost: evil\r\n",
    ] {
        let mut conn = rudis.connect();
        conn.send(request);
        assert_eq!(conn.read_to_eof(), b"");
    }
    assert_eq!(rudis.connect().run("PING"), b"+PONG\r\n");
}

/// An idle connection holds no query buffer (`qbuf=0 qbuf-free=0`): reads
/// go into the loop's buffer, which a client keeps only while half a
/// command waits in it. A command split at every byte still runs.
#[test]
fn idle_clients_hold_no_query_buffer() {
    let server = ServerProcess::rudis(&[]);
    let mut admin = server.connect();
    let mut idle = server.connect();
    assert_eq!(idle.run("CLIENT SETNAME idle"), b"+OK\r\n");
    assert_eq!(idle.run("SET k v"), b"+OK\r\n");
    let mut half = server.connect();
    assert_eq!(half.run("CLIENT SETNAME half"), b"+OK\r\n");
    let command = encode(&[b"SET", b"split", b"value"]);
    let entry = |admin: &mut Conn, name: &str| -> String {
        let list = String::from_utf8(admin.run("CLIENT LIST")).unwrap();
        list.lines()
            .find(|l| l.contains(&format!(" name={name} ")))
            .unwrap_or_else(|| panic!("{name} in {list}"))
            .to_string()
    };
    assert!(
        entry(&mut admin, "idle").contains(" qbuf=0 qbuf-free=0 "),
        "{}",
        entry(&mut admin, "idle")
    );
    for (i, byte) in command.iter().enumerate() {
        half.send(std::slice::from_ref(byte));
        if i + 1 < command.len() {
            let want = format!(" qbuf={} ", i + 1);
            let mut line = entry(&mut admin, "half");
            for _ in 0..100 {
                if line.contains(&want) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
                line = entry(&mut admin, "half");
            }
            assert!(line.contains(&want), "{line}");
        }
    }
    assert_eq!(half.read_reply(), b"+OK\r\n");
    assert_eq!(admin.run("GET split"), b"$5\r\nvalue\r\n");
    let line = entry(&mut admin, "half");
    assert!(line.contains(" qbuf=0 qbuf-free=0 "), "{line}");
}

/// What a CLIENT PAUSE WRITE does to the rest of the server, the same
/// on both servers: a held client counts as blocked and shows flag `b`;
/// keys whose time came are hidden but not deleted, until the pause
/// ends; a script that declared `no-writes` (EVAL or FCALL) is not held.
#[test]
fn client_pause_freezes_the_dataset_as_redis_does() {
    common::assert_same_observations(|server| {
        let mut admin = server.connect();
        let mut writer = server.connect();
        let mut seen = Vec::new();
        let mut note = |reply: Vec<u8>| seen.push(String::from_utf8_lossy(&reply).into_owned());
        admin.cmd(&[
                b"FUNCTION",
                b"LOAD",
                b"#!lua name=lib\nredis.register_function{function_name='ro', callback=function() return 'ro' end, flags={'no-writes'}}",
            ]);
        note(admin.run("SET foo bar PX 20"));
        note(admin.run("CLIENT PAUSE 20000 WRITE"));
        std::thread::sleep(Duration::from_millis(100));
        note(admin.run("GET foo"));
        note(common::info_field(&mut admin, "stats", "expired_keys").into_bytes());
        note(admin.cmd(&[b"EVAL", b"#!lua flags=no-writes\nreturn 1", b"0"]));
        note(admin.run("FCALL ro 0"));
        writer.send(&encode(&[b"SET", b"k", b"v"]));
        std::thread::sleep(Duration::from_millis(100));
        note(common::info_field(&mut admin, "clients", "blocked_clients").into_bytes());
        let list = String::from_utf8(admin.run("CLIENT LIST")).unwrap();
        let flags: Vec<&str> = list
            .split_whitespace()
            .filter(|w| w.starts_with("flags="))
            .collect();
        note(format!("{flags:?}").into_bytes());
        note(admin.cmd(&[b"EVAL_RO", b"return redis.call('publish','ch','msg')", b"0"]));
        note(admin.run("CLIENT UNPAUSE"));
        note(writer.read_reply());
        note(common::info_field(&mut admin, "clients", "blocked_clients").into_bytes());
        note(admin.run("GET foo"));
        note(common::info_field(&mut admin, "stats", "expired_keys").into_bytes());
        seen
    });
}

/// A signal's shutdown starts in the cron, so DEBUG PAUSE-CRON holds it
/// and SHUTDOWN ABORT cancels it; a second SIGINT while the final
/// snapshot is written exits at once, removing the snapshot's temp file,
/// with status 1 (Redis's "You insist").
#[test]
fn shutdown_abort_and_a_second_sigint() {
    let mut server = ServerProcess::rudis(&["--enable-debug-command", "yes"]);
    let pid = server.pid() as i32;
    let mut conn = server.connect();
    assert_eq!(
        conn.run("SHUTDOWN ABORT"),
        b"-ERR No shutdown in progress.\r\n"
    );
    assert_eq!(conn.run("DEBUG PAUSE-CRON 1"), b"+OK\r\n");
    // SAFETY: signals our own child process.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(conn.run("SHUTDOWN ABORT"), b"+OK\r\n");
    assert_eq!(conn.run("DEBUG PAUSE-CRON 0"), b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(conn.run("PING"), b"+PONG\r\n", "the shutdown was aborted");
    for i in 0..20 {
        conn.run(&format!("SET k{i} v"));
    }
    // 100 ms a key: the final snapshot takes 2 s.
    conn.run("CONFIG SET rdb-key-save-delay 100000");
    conn.cmd(&[b"CONFIG", b"SET", b"save", b"3600 1"]);
    let dir = server.owned_dir.clone().unwrap();
    let temp = dir.join(format!("temp-{pid}.rdb"));
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGINT) };
    assert!(
        common::eventually(Duration::from_secs(2), || temp.exists()),
        "the final snapshot did not start"
    );
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGINT) };
    assert_eq!(server.wait_exit(Duration::from_secs(1)), Some(1));
    assert!(!temp.exists(), "the temp file was left");
    assert!(!dir.join("dump.rdb").exists());
}

/// A connection is logged at verbose level as Redis logs it: by its
/// address over TCP, by the socket's path over a Unix socket.
#[test]
fn accepted_connections_are_logged_as_redis_logs_them() {
    let observe = |start: &dyn Fn(&[&str]) -> ServerProcess| {
        let dir = common::fresh_dir("accepted");
        let (log, socket) = (dir.join("server.log"), dir.join("socket"));
        let (l, s) = (log.to_str().unwrap(), socket.to_str().unwrap());
        let server = start(&["--loglevel", "verbose", "--logfile", l, "--unixsocket", s]);
        let mut unix = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        std::io::Write::write_all(&mut unix, b"PING\r\n").unwrap();
        let mut pong = [0u8; 7];
        std::io::Read::read_exact(&mut unix, &mut pong).unwrap();
        drop(server);
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        text.lines()
            .filter_map(|line| line.split_once(" - Accepted ").map(|(_, m)| m.to_string()))
            .map(|m| m.replace(s, "<socket>"))
            .collect::<Vec<_>>()
    };
    let redis = observe(&|extra| ServerProcess::redis_with(extra));
    let rudis = observe(&|extra| ServerProcess::rudis(extra));
    assert!(
        redis.contains(&"connection to <socket>".to_string()),
        "{redis:?}"
    );
    assert_eq!(
        rudis
            .iter()
            .filter(|m| m.contains("<socket>"))
            .collect::<Vec<_>>(),
        redis
            .iter()
            .filter(|m| m.contains("<socket>"))
            .collect::<Vec<_>>()
    );
}
