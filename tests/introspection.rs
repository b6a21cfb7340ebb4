//! What the server says about its own time, against redis-server where
//! the replies can be compared: command statistics, the slow log, the
//! latency monitor (including stalls of the loop and where they were
//! spent), MONITOR, and redis-cli's latency mode.

mod common;

use common::{info_field, Conn, ServerProcess};
use std::process::{Command, Stdio};
use std::time::Duration;

const DEBUG: &str = "--enable-debug-command";

fn text(reply: Vec<u8>) -> String {
    String::from_utf8_lossy(&reply).into_owned()
}

/// The INFO section's lines, with timing-dependent numbers masked.
fn commandstats(conn: &mut Conn) -> Vec<String> {
    let info = text(common::bulk_payload(&conn.run("INFO commandstats")));
    let mut lines: Vec<String> = info
        .lines()
        .filter(|l| l.starts_with("cmdstat_"))
        .map(|l| {
            l.split(',')
                .map(|field| {
                    if field.starts_with("usec") {
                        field.split('=').next().unwrap_or("").to_string()
                    } else {
                        field.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    lines.sort();
    lines
}

/// Calls, rejected and failed calls are counted where Redis counts them:
/// arity errors and refusals are rejected, error replies failed, queued
/// commands not counted until EXEC runs them.
#[test]
fn command_statistics_count_as_redis_counts() {
    let redis = ServerProcess::redis();
    let rudis = ServerProcess::rudis(&[]);
    let mut got = Vec::new();
    for server in [&redis, &rudis] {
        let mut conn = server.connect();
        let script = "CONFIG RESETSTAT\r\nfoo\r\nget\r\nSET a 1\r\nINCR a\r\nLPUSH a x\r\nMULTI\r\nSET b 1\r\nGET\r\nEXEC\r\nMULTI\r\nINCR b\r\nLPUSH b x\r\nEXEC\r\nCONFIG GET maxclients\r\nCONFIG FOO\r\nBLPOP nothing 0.01\r\nDEL a b\r\n";
        conn.send(script.as_bytes());
        for _ in 0..18 {
            conn.read_reply();
        }
        std::thread::sleep(Duration::from_millis(100));
        let processed = info_field(&mut conn, "stats", "total_commands_processed");
        got.push((commandstats(&mut conn), processed));
    }
    assert_eq!(got[0], got[1], "left: redis-server, right: rudis");
}

/// `CONFIG RESETSTAT` clears the command statistics and histograms.
#[test]
fn resetstat_clears_command_statistics() {
    let rudis = ServerProcess::rudis(&[]);
    let mut conn = rudis.connect();
    conn.run("SET a 1");
    assert!(text(conn.run("LATENCY HISTOGRAM set")).contains("calls"));
    assert_eq!(conn.run("CONFIG RESETSTAT"), b"+OK\r\n");
    assert_eq!(conn.run("LATENCY HISTOGRAM set"), b"*0\r\n");
    let stats = commandstats(&mut conn);
    assert_eq!(
        stats,
        vec![
            "cmdstat_config|resetstat:calls=1,usec,usec_per_call,rejected_calls=0,failed_calls=0",
            "cmdstat_latency|histogram:calls=1,usec,usec_per_call,rejected_calls=0,failed_calls=0"
        ]
    );
}

/// The slow log keeps what Redis keeps: the newest first, at most 32
/// arguments, each cut at 128 bytes, the client's address and name;
/// EXEC itself is not logged, the commands it ran are.
#[test]
fn slow_log_entries_read_as_redis() {
    let redis = ServerProcess::redis();
    let rudis = ServerProcess::rudis(&[]);
    let long = "x".repeat(300);
    let many: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
    let mut shapes = Vec::new();
    for server in [&redis, &rudis] {
        let mut conn = server.connect();
        conn.run("CONFIG SET slowlog-log-slower-than 0");
        conn.run("CLIENT SETNAME watcher");
        conn.run("SLOWLOG RESET");
        conn.run(&format!("SET k {long}"));
        conn.run(&format!("SADD s {}", many.join(" ")));
        conn.run("MULTI");
        conn.run("INCR n");
        conn.run("EXEC");
        // Passwords never reach the log.
        conn.run("MIGRATE 127.0.0.1 1 k 0 10 AUTH secret");
        conn.run("MIGRATE 127.0.0.1 1 \"\" 0 10 AUTH2 someone secret KEYS a");
        conn.run("CONFIG SET masteruser u maxmemory 0 masterauth p");
        conn.run("CONFIG SET requirepass \"\"");
        conn.run("CONFIG SET tls-key-file-pass x");
        let entries = common::array_items(&conn.run("SLOWLOG GET -1"));
        // Each entry: id, time, duration, arguments, address, name.
        let mut shape = Vec::new();
        for entry in entries {
            let fields = common::array_items(&entry);
            assert_eq!(fields.len(), 6);
            assert_eq!(fields[0][0], b':');
            assert_eq!(fields[2][0], b':');
            let args: Vec<String> = common::array_items(&fields[3])
                .into_iter()
                .map(|a| text(common::bulk_payload(&a)))
                .collect();
            assert!(text(fields[4].clone()).contains("127.0.0.1:"));
            shape.push((args, text(fields[5].clone())));
        }
        // SLOWLOG GET itself was logged after it replied.
        assert_eq!(
            text(conn.run("SLOWLOG LEN")),
            format!(":{}\r\n", shape.len() + 1)
        );
        assert_eq!(
            conn.run("SLOWLOG GET x"),
            b"-ERR count should be greater than or equal to -1\r\n"
        );
        assert_eq!(
            conn.run("SLOWLOG GET -2"),
            b"-ERR count should be greater than or equal to -1\r\n"
        );
        conn.run("CONFIG SET slowlog-max-len 2");
        conn.run("PING");
        assert_eq!(conn.run("SLOWLOG LEN"), b":2\r\n");
        shapes.push(shape);
    }
    assert_eq!(shapes[0], shapes[1], "left: redis-server, right: rudis");
    let sadd = shapes[1]
        .iter()
        .find(|(args, _)| args[0] == "SADD")
        .unwrap();
    assert_eq!(sadd.0.len(), 32);
    assert_eq!(sadd.0[31], "... (11 more arguments)");
}

/// A slow command is a `command` latency event, and the loop iteration it
/// stalled is recorded under read+execute with the command named; the
/// doctor says so. The graph and history have Redis's shapes.
#[test]
fn a_slow_command_stalls_the_loop_and_is_named() {
    let rudis = ServerProcess::rudis(&[DEBUG, "yes", "--latency-monitor-threshold", "50"]);
    let mut conn = rudis.connect();
    assert_eq!(conn.run("DEBUG SLEEP 0.2"), b"+OK\r\n");
    let latest = text(conn.run("LATENCY LATEST"));
    assert!(latest.contains("command"), "{latest}");
    assert!(latest.contains("eventloop-read-execute"), "{latest}");
    let history = common::array_items(&conn.run("LATENCY HISTORY command"));
    assert_eq!(history.len(), 1);
    let sample = common::array_items(&history[0]);
    let millis: u64 = text(sample[1].clone())[1..].trim().parse().unwrap();
    assert!((200..1000).contains(&millis), "{millis}");
    let doctor = text(common::bulk_payload(&conn.run("LATENCY DOCTOR")));
    assert!(doctor.contains("stalled in read+execute"), "{doctor}");
    assert!(doctor.contains("DEBUG"), "{doctor}");
    let graph = text(common::bulk_payload(&conn.run("LATENCY GRAPH command")));
    assert!(graph.starts_with("command - high "), "{graph}");
    assert_eq!(
        conn.run("LATENCY GRAPH nothing"),
        b"-ERR No samples available for event 'nothing'\r\n"
    );
    assert_eq!(conn.run("LATENCY RESET command"), b":1\r\n");
    assert_eq!(conn.run("LATENCY HISTORY command"), b"*0\r\n");
}

/// A mass expiry that takes the cron long is recorded as such.
#[test]
fn a_mass_expiry_is_a_latency_event() {
    let rudis = ServerProcess::rudis(&["--latency-monitor-threshold", "1"]);
    let mut conn = rudis.connect();
    let mut pipeline = Vec::new();
    for i in 0..200_000 {
        let key = format!("e:{i}");
        pipeline.extend(common::encode(&[
            b"SET",
            key.as_bytes(),
            b"v",
            b"PX",
            b"300",
        ]));
    }
    conn.send(&pipeline);
    for _ in 0..200_000 {
        conn.read_reply();
    }
    conn.run("LATENCY RESET");
    assert!(common::eventually(Duration::from_secs(10), || conn
        .run("DBSIZE")
        == b":0\r\n"));
    let latest = text(conn.run("LATENCY LATEST"));
    assert!(
        latest.contains("expire-cycle") || latest.contains("eventloop-expiry"),
        "{latest}"
    );
}

/// INFO's event-loop fields move as the loop runs.
#[test]
fn event_loop_figures_are_reported() {
    let rudis = ServerProcess::rudis(&[]);
    let mut conn = rudis.connect();
    for _ in 0..50 {
        conn.run("PING");
    }
    let cycles: u64 = info_field(&mut conn, "stats", "eventloop_cycles")
        .parse()
        .unwrap();
    assert!(cycles >= 50, "{cycles}");
    let total: u64 = info_field(&mut conn, "stats", "eventloop_duration_sum")
        .parse()
        .unwrap();
    let commands: u64 = info_field(&mut conn, "stats", "eventloop_duration_cmd_sum")
        .parse()
        .unwrap();
    assert!(total > 0 && commands <= total, "{commands} of {total}");
    for field in [
        "instantaneous_eventloop_cycles_per_sec",
        "instantaneous_eventloop_duration_usec",
    ] {
        info_field(&mut conn, "stats", field)
            .parse::<u64>()
            .unwrap();
    }
}

/// `redis-cli monitor` shows every command, in Redis's format.
#[test]
fn redis_cli_monitor_shows_commands() {
    let rudis = ServerProcess::rudis(&[]);
    let monitor = Command::new("redis-cli")
        .args(["-p", &rudis.port.to_string(), "monitor"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut conn = rudis.connect();
    conn.cmd(&[b"SET", b"key", b"a \"b\"\n\x01"]);
    conn.run("SELECT 3");
    conn.run("CONFIG GET maxclients");
    conn.cmd(&[
        b"EVAL",
        b"redis.call('select', 5) return redis.call('get', 'k')",
        b"0",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(monitor.id() as i32, libc::SIGINT) };
    let out = monitor.wait_with_output().unwrap();
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines[0], "OK");
    assert!(
        lines[1].ends_with(r#"] "SET" "key" "a \"b\"\n\x01""#),
        "{lines:?}"
    );
    assert!(lines[1].contains(" [0 127.0.0.1:"), "{lines:?}");
    assert!(lines[2].contains(" [3 127.0.0.1:"), "{lines:?}");
    assert!(lines[2].ends_with(r#"] "SELECT" "3""#), "{lines:?}");
    // A script's commands come from "lua", with the database after each.
    assert!(
        lines[3]
            .ends_with(r#"] "EVAL" "redis.call('select', 5) return redis.call('get', 'k')" "0""#),
        "{lines:?}"
    );
    assert!(lines[4].ends_with(r#" [5 lua] "select" "5""#), "{lines:?}");
    assert!(lines[5].ends_with(r#" [5 lua] "get" "k""#), "{lines:?}");
    assert_eq!(lines.len(), 6, "admin commands are not shown: {lines:?}");
}

/// `redis-cli --latency` sees a stall caused by another client.
#[test]
fn redis_cli_latency_sees_a_stall() {
    let rudis = ServerProcess::rudis(&[DEBUG, "yes"]);
    let port = rudis.port;
    let sleeper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        Conn::new(port).run("DEBUG SLEEP 0.3");
    });
    let out = Command::new("timeout")
        .args([
            "2",
            "redis-cli",
            "-p",
            &port.to_string(),
            "--latency",
            "--raw",
        ])
        .output()
        .unwrap();
    sleeper.join().unwrap();
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    let fields: Vec<f64> = line
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    assert_eq!(fields.len(), 4, "{line}");
    assert!(fields[1] >= 250.0, "max latency {line}");
}

/// DEBUG PROTOCOL's sample replies, in RESP2 and RESP3, are Redis's.
#[test]
fn debug_protocol_replies_as_redis() {
    let mut script: Vec<String> = vec!["config get enable-debug-command".into()];
    let types = [
        "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push",
        "verbatim", "true", "false", "bogus",
    ];
    for t in types {
        script.push(format!("debug protocol {t}"));
    }
    script.push("?hello 3".into());
    for t in types {
        script.push(format!("debug protocol {t}"));
    }
    let script: Vec<&str> = script.iter().map(String::as_str).collect();
    common::assert_same_replies_with(&[DEBUG, "yes"], &script);
}

/// DEBUG OBJECT describes values as Redis does (addresses and clocks
/// aside), and the other DEBUG subcommands answer the same.
#[test]
fn debug_object_and_friends_read_as_redis() {
    let big = "x".repeat(100);
    let mut replies = Vec::new();
    for server in [
        ServerProcess::redis_with(&[DEBUG, "yes", "--save", ""]),
        ServerProcess::rudis(&[DEBUG, "yes"]),
    ] {
        let mut conn = server.connect();
        conn.run("SET s hello");
        conn.run("SET n 12");
        conn.run(&format!("SET big {big}"));
        conn.run("RPUSH l a b c");
        conn.run("HSET h f v");
        conn.run("ZADD z 1 a");
        conn.run("SADD si 1 2");
        let mut out = Vec::new();
        for key in ["s", "n", "big", "l", "h", "z", "si", "nokey"] {
            let line = text(conn.run(&format!("DEBUG OBJECT {key}")));
            let masked: Vec<&str> = line
                .split(' ')
                .map(|f| {
                    if f.starts_with("at:") {
                        "at:ADDR"
                    } else if f.starts_with("lru:") {
                        "lru:L"
                    } else if f.starts_with("lru_seconds_idle:") {
                        "lru_seconds_idle:I"
                    } else {
                        f
                    }
                })
                .collect();
            out.push(masked.join(" "));
        }
        for line in [
            "DEBUG LISTPACK h",
            "DEBUG LISTPACK l",
            "DEBUG LISTPACK nokey",
            "DEBUG QUICKLIST-PACKED-THRESHOLD x",
            "DEBUG QUICKLIST-PACKED-THRESHOLD 0",
            "DEBUG CHANGE-REPL-ID",
            "DEBUG NOSUCH",
            "DEBUG OBJECT",
            "DEBUG HTSTATS 99",
            "DEBUG HTSTATS x",
            "DEBUG HTSTATS 5",
            "DEBUG HTSTATS",
            "DEBUG HTSTATS-KEY nokey",
            "DEBUG HTSTATS-KEY h",
            "DEBUG HTSTATS-KEY s",
        ] {
            out.push(text(conn.run(line)));
        }
        // The tables' sizes and chains are each server's own; the shape
        // of the report is Redis's.
        let stats = text(conn.run("DEBUG HTSTATS 0"));
        let shape: Vec<String> = stats
            .lines()
            .skip(1)
            .map(|l| l.split(':').next().unwrap_or_default().to_string())
            .filter(|l| !l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
            .collect();
        out.push(shape.join("|"));
        // A key past its time, not deleted yet, is still described; the
        // next read deletes it.
        conn.run("DEBUG SET-ACTIVE-EXPIRE 0");
        conn.run("SET gone v PX 1");
        conn.run("DEBUG SLEEP 0.01");
        out.push(
            text(conn.run("DEBUG OBJECT gone"))
                .chars()
                .take(1)
                .collect(),
        );
        out.push(text(conn.run("EXISTS gone")));
        out.push(text(conn.run("DEBUG OBJECT gone")));
        replies.push(out);
    }
    assert_eq!(replies[0], replies[1], "left: redis-server, right: rudis");
}

/// MEMORY STATS has Redis's fields in Redis's order; DOCTOR, PURGE and
/// MALLOC-STATS answer with real content.
#[test]
fn memory_stats_has_redis_fields() {
    let mut names = Vec::new();
    for server in [ServerProcess::redis(), ServerProcess::rudis(&[])] {
        let mut conn = server.connect();
        conn.run("SET a 1");
        let items = common::array_items(&conn.run("MEMORY STATS"));
        let keys: Vec<String> = items
            .iter()
            .step_by(2)
            .map(|k| text(common::bulk_payload(k)))
            .collect();
        names.push(keys);
        assert_eq!(conn.run("MEMORY PURGE"), b"+OK\r\n");
        let report = text(common::bulk_payload(&conn.run("MEMORY MALLOC-STATS")));
        assert!(report.contains("jemalloc"), "{report}");
        assert_eq!(conn.run("MEMORY DOCTOR")[0], b'$');
    }
    assert_eq!(names[0], names[1], "left: redis-server, right: rudis");
}

/// `GET /metrics` on the RESP port answers in Prometheus's text format
/// with the exporter's metric names; RESP clients on the same port are
/// unaffected, inline commands included.
#[test]
fn prometheus_metrics_on_the_resp_port() {
    use std::io::{Read, Write};
    let rudis = ServerProcess::rudis(&[]);
    let mut conn = rudis.connect();
    conn.run("SET a 1");
    conn.run("GET a");
    conn.run("GET");
    let scrape = |path: &str| {
        let mut http = std::net::TcpStream::connect(("127.0.0.1", rudis.port)).unwrap();
        http.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n").as_bytes())
            .unwrap();
        let mut out = String::new();
        http.read_to_string(&mut out).unwrap();
        out
    };
    let page = scrape("/metrics");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    let body = page.split("\r\n\r\n").nth(1).unwrap();
    for line in [
        "redis_up 1",
        "redis_db_keys{db=\"db0\"} 1",
        "redis_commands_total{cmd=\"set\"} 1",
        "redis_commands_rejected_calls_total{cmd=\"get\"} 1",
        "redis_errors_total{err=\"ERR\"} 1",
        "# TYPE redis_commands_duration_seconds_total counter",
        "redis_latency_percentiles_usec{cmd=\"get\",quantile=\"0.5\"}",
        "rudis_eventloop_cycles_total",
    ] {
        assert!(body.contains(line), "{line} missing:\n{body}");
    }
    assert!(scrape("/other").starts_with("HTTP/1.1 404"));
    // Inline RESP that starts like a scrape but is not one.
    let mut inline = rudis.connect();
    inline.send(b"GET a\r\n");
    assert_eq!(inline.read_reply(), b"$1\r\n1\r\n");
    assert_eq!(conn.run("PING"), b"+PONG\r\n");
}

/// DEBUG PAUSE-CRON stops the periodic tasks (here: active expiry) until
/// it is lifted.
#[test]
fn debug_pause_cron_stops_periodic_tasks() {
    let rudis = ServerProcess::rudis(&[DEBUG, "yes"]);
    let mut conn = rudis.connect();
    assert_eq!(conn.run("DEBUG PAUSE-CRON 1"), b"+OK\r\n");
    conn.run("SET k v PX 50");
    std::thread::sleep(Duration::from_millis(400));
    // Nobody touched the key and the cron is paused: still counted.
    assert_eq!(conn.run("DBSIZE"), b":1\r\n");
    assert_eq!(conn.run("DEBUG PAUSE-CRON 0"), b"+OK\r\n");
    assert!(common::eventually(Duration::from_secs(3), || conn
        .run("DBSIZE")
        == b":0\r\n"));
}

/// `metrics-port` serves scrapes only: a RESP client there is closed.
#[test]
fn the_metrics_port_serves_scrapes_only() {
    use std::io::{Read, Write};
    let port = common::free_port();
    let rudis = ServerProcess::rudis(&["--metrics-port", &port.to_string()]);
    rudis.connect().run("SET a 1");
    let mut http = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    http.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut page = String::new();
    http.read_to_string(&mut page).unwrap();
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    assert!(page.contains("redis_db_keys{db=\"db0\"} 1"), "{page}");
    let mut resp = Conn::new(port);
    resp.send(b"PING\r\n");
    assert_eq!(resp.read_to_eof(), b"");
    assert_eq!(rudis.connect().run("PING"), b"+PONG\r\n");
}

/// CONFIG SET metrics-port moves the scrape listener (0 closes it); a
/// port in use is refused and the old listener stays.
#[test]
fn the_metrics_port_moves_at_run_time() {
    use std::io::{Read, Write};
    let scrape = |port: u16| -> Option<String> {
        let mut http = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        http.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").ok()?;
        let mut page = String::new();
        http.read_to_string(&mut page).ok()?;
        Some(page)
    };
    let rudis = ServerProcess::rudis(&[]);
    let mut conn = rudis.connect();
    let first = common::free_port();
    assert_eq!(
        conn.run(&format!("CONFIG SET metrics-port {first}")),
        b"+OK\r\n"
    );
    assert!(scrape(first).is_some_and(|p| p.starts_with("HTTP/1.1 200 OK")));

    let taken = conn.run(&format!("CONFIG SET metrics-port {}", rudis.port));
    assert_eq!(
        taken,
        &b"-ERR CONFIG SET failed (possibly related to argument 'metrics-port') - Unable to listen on this port. Check server logs.\r\n"[..]
    );
    assert!(scrape(first).is_some());

    let second = common::free_port();
    assert_eq!(
        conn.run(&format!("CONFIG SET metrics-port {second}")),
        b"+OK\r\n"
    );
    assert!(scrape(second).is_some());
    assert!(
        scrape(first).is_none(),
        "the old metrics port still listens"
    );
    assert_eq!(conn.run("CONFIG SET metrics-port 0"), b"+OK\r\n");
    assert!(scrape(second).is_none());
    assert_eq!(conn.run("PING"), b"+PONG\r\n");
}

#[test]
fn cluster_and_module_commands_answer_as_a_standalone_redis() {
    common::assert_same_replies(&[
        "CLUSTER INFO",
        "CLUSTER NOSUCH",
        "CLUSTER HELP",
        "CLUSTER",
        "READONLY",
        "READWRITE",
        "ASKING",
        "MODULE LIST",
        "MODULE LOAD /nonexistent.so",
        "MODULE UNLOAD x",
        "MODULE LOADEX /x",
        "MODULE NOSUCH",
        "MODULE HELP",
        "COMMAND INFO asking readonly",
        "COMMAND GETKEYS CLUSTER COUNTKEYSINSLOT 1",
    ]);
}

/// The process title `ps` shows: `proc-title-template`, expanded as
/// Redis expands it, over the command line's memory; a forked child
/// takes Redis's child name.
#[test]
fn the_process_title_follows_its_template() {
    let cmdline = |pid: u32| -> Vec<String> {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&raw)
            .split(['\0', ' '])
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let dir = common::fresh_dir("proctitle");
    let conf = dir.join("rudis.conf");
    std::fs::write(&conf, "save \"\"\n").unwrap();
    let rudis = ServerProcess::rudis(&[conf.to_str().unwrap()]);
    let port = rudis.port.to_string();
    let title = cmdline(rudis.pid());
    assert!(title[0].ends_with("/rudis-server"), "{title:?}");
    assert_eq!(title[1..], [format!("*:{port}")]);

    let mut conn = rudis.connect();
    let template = "TEST {title} {listen-addr} {port} {tls-port} {unixsocket} {config-file}";
    assert_eq!(
        conn.cmd(&[
            b"CONFIG",
            b"SET",
            b"proc-title-template",
            template.as_bytes()
        ]),
        b"+OK\r\n"
    );
    let title = cmdline(rudis.pid());
    assert_eq!(title[0], "TEST");
    assert!(title[1].ends_with("/rudis-server"));
    assert_eq!(title[2], format!("*:{port}"));
    assert_eq!(title[3], port);
    assert_eq!(title[4], "0");
    assert!(title[5].ends_with("rudis.conf"), "{title:?}");

    let refused = conn.run("CONFIG SET proc-title-template {invalid-var}");
    assert!(
        String::from_utf8_lossy(&refused).contains("template format is invalid"),
        "{refused:?}"
    );

    conn.run("CONFIG SET proc-title-template {title}");
    conn.run("CONFIG SET rdb-key-save-delay 1000000");
    conn.run("SET k v");
    assert_eq!(conn.run("BGSAVE"), b"+Background saving started\r\n");
    let child = common::bulk_payload(&conn.run("INFO persistence"));
    assert!(String::from_utf8_lossy(&child).contains("rdb_bgsave_in_progress:1"));
    // The child: the process whose parent is the server (stat field 4).
    let parent_of = |pid: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let child_pid = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|&pid| parent_of(pid) == Some(rudis.pid()))
        .expect("the BGSAVE child");
    let renamed = common::eventually(Duration::from_secs(5), || {
        cmdline(child_pid) == ["redis-rdb-bgsave"]
    });
    assert!(renamed, "{:?}", cmdline(child_pid));
    conn.run("CONFIG SET rdb-key-save-delay 0");
    // SAFETY: a signal to the server's own child.
    unsafe { libc::kill(child_pid as i32, libc::SIGKILL) };
}

/// `oom-score-adj` writes the process's OOM score as Redis does: relative
/// to the score it started with or absolute, by role, and put back when
/// turned off. The same steps read the same scores on both servers.
#[test]
fn oom_score_adj_sets_the_process_score() {
    let steps: &[&str] = &[
        "CONFIG SET oom-score-adj-values \"10 20 30\"",
        "CONFIG SET oom-score-adj yes",
        "CONFIG GET oom-score-adj",
        "REPLICAOF 127.0.0.1 1",
        "REPLICAOF NO ONE",
        "CONFIG SET oom-score-adj absolute",
        "CONFIG SET oom-score-adj-values \"15 20 30\"",
        "CONFIG SET oom-score-adj relative",
        "CONFIG GET oom-score-adj",
        "CONFIG SET oom-score-adj no",
        "CONFIG SET oom-score-adj-values \"5 5 5\"",
        "CONFIG SET oom-score-adj-values \"-2001 0 0\"",
        "CONFIG SET oom-score-adj-values \"1 2\"",
        "CONFIG SET oom-score-adj-values \"1  2 3\"",
        "CONFIG SET oom-score-adj sometimes",
        "CONFIG GET oom-score-adj-values",
    ];
    common::assert_same_observations(|server| {
        let score = || {
            std::fs::read_to_string(format!("/proc/{}/oom_score_adj", server.pid()))
                .unwrap()
                .trim()
                .to_string()
        };
        let mut conn = server.connect();
        let mut seen = vec![score()];
        for step in steps {
            let words = common::words(step);
            let args: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
            seen.push(text(conn.cmd(&args)));
            seen.push(score());
        }
        seen
    });
}

/// CONFIG RESETSTAT zeroes what Redis's `resetServerStats` zeroes:
/// evictions and the time over `maxmemory`, forks, saves and rewrites
/// among them.
#[test]
fn config_resetstat_zeroes_what_redis_zeroes() {
    common::assert_same_observations(|server| {
        let mut conn = server.connect();
        conn.run("CONFIG SET maxmemory 5mb");
        conn.run("CONFIG SET maxmemory-policy allkeys-lru");
        for i in 0..30 {
            conn.run(&format!("SETRANGE k{i} 300000 x"));
        }
        conn.run("GET nothing");
        conn.run("BGSAVE");
        let idle = |conn: &mut Conn| {
            common::info_field(conn, "persistence", "rdb_bgsave_in_progress") == "0"
        };
        common::eventually(Duration::from_secs(5), || idle(&mut conn));
        conn.run("SAVE");
        conn.run("CONFIG SET maxmemory 0");
        conn.run("CONFIG RESETSTAT");
        let fields = [
            ("stats", "evicted_keys"),
            ("stats", "total_eviction_exceeded_time"),
            ("stats", "keyspace_misses"),
            ("stats", "total_forks"),
            ("stats", "latest_fork_usec"),
            ("persistence", "rdb_saves"),
            ("persistence", "aof_rewrites"),
        ];
        fields
            .iter()
            .map(|(section, field)| {
                format!("{field}:{}", common::info_field(&mut conn, section, field))
            })
            .collect()
    });
}

/// A crash leaves Redis's bug report in the log: the signal, a stack
/// trace, the END line; and the process still dies of its signal. With
/// `crash-log-enabled no` it dies the same, and says nothing.
#[test]
fn a_crash_leaves_a_bug_report_in_the_log() {
    use std::os::unix::process::ExitStatusExt;
    for (enabled, command) in [
        ("yes", "debug segfault"),
        ("no", "debug segfault"),
        ("yes", "debug panic"),
    ] {
        let dir = common::fresh_dir("crash");
        let log = dir.join("crash.log");
        let (d, l) = (dir.to_str().unwrap(), log.to_str().unwrap());
        let mut server = ServerProcess::rudis(&[
            "--dir",
            d,
            "--logfile",
            l,
            "--enable-debug-command",
            "yes",
            "--crash-log-enabled",
            enabled,
        ]);
        let mut conn = server.connect();
        conn.send(&common::encode(
            &command.split(' ').map(str::as_bytes).collect::<Vec<_>>(),
        ));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{command} did not end the server"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let panic = command.ends_with("panic");
        let signal = if panic { libc::SIGABRT } else { libc::SIGSEGV };
        assert_eq!(status.signal(), Some(signal), "{command}");
        let reported = text.contains("=== RUDIS BUG REPORT START")
            && text.contains("------ STACK TRACE ------")
            && text.contains("=== RUDIS BUG REPORT END");
        assert_eq!(
            reported,
            enabled == "yes",
            "{command}, crash-log-enabled {enabled}: {text}"
        );
        if enabled == "yes" && panic {
            assert!(
                text.contains("Guru Meditation: DEBUG PANIC called at Unix time"),
                "{text}"
            );
        } else if enabled == "yes" {
            assert!(text.contains("crashed by signal: 11"), "{text}");
        }
    }
}

/// `watchdog-period`: a loop round longer than the period logs a stack
/// trace of the loop, as Redis's software watchdog does; 0 turns it off
/// at once. Hidden from `CONFIG GET *`, as in Redis.
#[test]
fn the_watchdog_logs_a_stuck_loop() {
    let dir = common::fresh_dir("watchdog");
    let log = dir.join("server.log");
    let (d, l) = (dir.to_str().unwrap(), log.to_str().unwrap());
    let server =
        ServerProcess::rudis(&["--dir", d, "--logfile", l, "--enable-debug-command", "yes"]);
    let mut conn = server.connect();
    let expired = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("--- WATCHDOG TIMER EXPIRED ---")
            .count()
    };
    assert_eq!(conn.run("config set watchdog-period 200"), b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(expired(), 0, "an idle loop is not stuck");
    assert_eq!(conn.run("debug sleep 0.6"), b"+OK\r\n");
    assert_eq!(expired(), 1);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("rudis::cmd::debug"), "{text}");
    assert_eq!(conn.run("config set watchdog-period 0"), b"+OK\r\n");
    assert_eq!(conn.run("debug sleep 0.5"), b"+OK\r\n");
    assert_eq!(expired(), 1);
    assert_eq!(
        conn.run("config get watchdog-period"),
        b"*2\r\n$15\r\nwatchdog-period\r\n$1\r\n0\r\n"
    );
    assert!(!String::from_utf8_lossy(&conn.run("config get *")).contains("watchdog-period"));
}

#[test]
fn protected_configs_follow_enable_protected_configs() {
    for (mode, allowed) in [("no", false), ("yes", true), ("local", true)] {
        let dir = common::fresh_dir("protected");
        let server = ServerProcess::rudis(&["--enable-protected-configs", mode]);
        let mut conn = server.connect();
        let set_dir = format!("CONFIG SET dir {}", dir.display());
        let expected: &[u8] = if allowed {
            b"+OK\r\n"
        } else {
            b"-ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config\r\n"
        };
        assert_eq!(conn.run(&set_dir), expected, "{mode}");
        let set_name = conn.run("CONFIG SET dbfilename other.rdb");
        assert_eq!(set_name.starts_with(b"+OK"), allowed, "{mode}");
    }
}
