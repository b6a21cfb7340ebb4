//! The real Redis tools against the real binary: redis-cli (one-shot,
//! interactive through a pseudo-terminal, latency modes) and
//! redis-benchmark (which aborts on any error reply).

mod common;

use common::{info_field, ServerProcess};
use std::io::Write;
use std::process::{Command, Stdio};

fn run(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (installed by .ci/run): {e}"));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// Runs a shell line under `script`, which gives it a pseudo-terminal, so
/// redis-cli behaves as it does for a person at a terminal.
fn in_terminal(shell_line: &str) -> String {
    let out = Command::new("script")
        .args(["-qfc", shell_line, "/dev/null"])
        .env("TERM", "dumb")
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux) runs");
    String::from_utf8_lossy(&out.stdout).replace('\r', "")
}

#[test]
fn redis_cli_one_shot_commands() {
    let server = ServerProcess::rudis(&[]);
    let port = server.port.to_string();
    assert_eq!(
        run("redis-cli", &["-p", &port, "ping"]),
        (true, "PONG\n".to_string())
    );
    assert_eq!(run("redis-cli", &["-p", &port, "echo", "a b"]).1, "a b\n");
    let (_, info) = run("redis-cli", &["-p", &port, "info", "server"]);
    assert!(info.contains("redis_version:7.0.15"), "{info}");
    let (_, err) = run("redis-cli", &["-p", &port, "nosuch"]);
    assert!(err.contains("ERR unknown command 'nosuch'"), "{err}");
}

#[test]
fn redis_cli_interactive_session() {
    let server = ServerProcess::rudis(&[]);
    // The interactive client asks COMMAND DOCS at start for its help and
    // hints; `help echo` shows what it got.
    let mut child = Command::new("script")
        .args([
            "-qfc",
            &format!("redis-cli -p {}", server.port),
            "/dev/null",
        ])
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    let mut keyboard = child.stdin.take().unwrap();
    for line in ["ping", "echo \"a b\"", "help echo", "quit"] {
        std::thread::sleep(std::time::Duration::from_millis(300));
        writeln!(keyboard, "{line}").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert!(
        screen.contains(&format!("127.0.0.1:{}> ping\nPONG", server.port)),
        "{screen}"
    );
    assert!(screen.contains("\"a b\""), "{screen}");
    assert!(screen.contains("Echo the given string"), "{screen}");
    // The argument hint comes from COMMAND DOCS' argument tree.
    assert!(screen.contains("\x1b[90mmessage"), "{screen}");
    assert!(screen.contains("connection"), "{screen}");
}

#[test]
fn redis_cli_latency_modes() {
    let server = ServerProcess::rudis(&[]);
    let screen = in_terminal(&format!(
        "timeout 3.5 redis-cli -p {} --latency-history -i 1",
        server.port
    ));
    let windows = screen.matches("seconds range").count();
    assert!(
        windows >= 2,
        "latency-history printed {windows} windows: {screen}"
    );
    assert!(
        screen.contains("min: ") && screen.contains("samples)"),
        "{screen}"
    );
    let (_, plain) = run(
        "timeout",
        &[
            "1.5",
            "redis-cli",
            "-p",
            &server.port.to_string(),
            "--latency",
        ],
    );
    let fields: Vec<&str> = plain.split_whitespace().collect();
    assert_eq!(
        fields.len(),
        4,
        "--latency prints min max avg samples: {plain}"
    );
    assert!(fields[3].parse::<u64>().unwrap() > 10, "{plain}");
    let screen = in_terminal(&format!(
        "timeout 2.5 redis-cli -p {} --latency-dist -i 1",
        server.port
    ));
    assert!(screen.contains("milliseconds"), "{screen}");
}

fn assert_benchmark_clean(output: &str) {
    assert!(
        !output.to_lowercase().contains("error"),
        "redis-benchmark reported an error: {output}"
    );
    for test in ["PING_INLINE", "PING_MBULK"] {
        assert!(
            output.contains(&format!("{test}: ")),
            "no {test} result: {output}"
        );
    }
}

#[test]
fn redis_benchmark_ping_is_error_free() {
    let server = ServerProcess::rudis(&[]);
    let port = server.port.to_string();
    let (ok, output) = run(
        "redis-benchmark",
        &["-p", &port, "-t", "ping", "-n", "20000", "-q"],
    );
    assert!(ok, "{output}");
    assert_benchmark_clean(&output);
    let (ok, output) = run(
        "redis-benchmark",
        &["-p", &port, "-t", "ping", "-n", "100000", "-P", "16", "-q"],
    );
    assert!(ok, "{output}");
    assert_benchmark_clean(&output);
}

/// Fifty clients pipelining 16 commands each make the loop nap before
/// polling (`pipeline-coalesce-us`, coalesce.rs); one pipelining client, or
/// the setting at 0, never does. Replies stay complete and error-free.
#[test]
fn pipelining_clients_are_coalesced_and_a_lone_one_is_not() {
    let server = ServerProcess::rudis(&[]);
    let port = server.port.to_string();
    let mut conn = server.connect();
    let benchmark = |clients: &str| {
        let (ok, output) = run(
            "redis-benchmark",
            &[
                "-p", &port, "-t", "ping", "-n", "200000", "-P", "16", "-c", clients, "-q",
            ],
        );
        assert!(ok, "{output}");
        assert_benchmark_clean(&output);
    };
    let naps = |conn: &mut common::Conn| -> u64 {
        info_field(conn, "stats", "pipeline_coalesce_naps")
            .parse()
            .unwrap()
    };
    benchmark("1");
    assert_eq!(naps(&mut conn), 0, "a lone pipelining client never waits");
    benchmark("50");
    assert!(naps(&mut conn) > 0, "50 pipelining clients: no nap");
    assert_eq!(conn.run("CONFIG SET pipeline-coalesce-us 0"), b"+OK\r\n");
    assert_eq!(conn.run("CONFIG RESETSTAT"), b"+OK\r\n");
    benchmark("50");
    assert_eq!(naps(&mut conn), 0, "pipeline-coalesce-us 0 disables naps");
}

/// A client sending one command per round trip beside the pipelining
/// crowd ends the loop's naps and is served between the crowd's batches
/// (`pipeline_coalesce_served_ahead`), with every reply its own and in
/// order; the crowd's run stays error-free.
#[test]
fn a_lone_client_is_served_ahead_of_a_pipelining_crowd() {
    let server = ServerProcess::rudis(&[]);
    let port = server.port.to_string();
    let mut crowd = Command::new("redis-benchmark")
        .args([
            "-p",
            &port,
            "-t",
            "ping,set,get",
            "-n",
            "600000",
            "-P",
            "16",
            "-c",
            "50",
            "-q",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-benchmark (installed by .ci/run)");
    let mut lone = server.connect();
    let mut round_trips = 0;
    while crowd.try_wait().unwrap().is_none() {
        let value = format!("v{round_trips}");
        assert_eq!(lone.run(&format!("SET lone {value}")), b"+OK\r\n");
        assert_eq!(
            lone.run("GET lone"),
            format!("${}\r\n{value}\r\n", value.len()).into_bytes()
        );
        round_trips += 1;
    }
    let output = crowd.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    assert_benchmark_clean(&text);
    let served: u64 = info_field(&mut lone, "stats", "pipeline_coalesce_served_ahead")
        .parse()
        .unwrap();
    assert!(
        served > 0,
        "{round_trips} round trips beside the crowd, none served ahead"
    );
}

#[test]
fn redis_benchmark_with_a_thousand_clients() {
    let server = ServerProcess::rudis(&[]);
    let (ok, output) = run(
        "redis-benchmark",
        &[
            "-p",
            &server.port.to_string(),
            "-t",
            "ping",
            "-n",
            "20000",
            "-c",
            "1000",
            "-q",
        ],
    );
    assert!(ok, "{output}");
    assert_benchmark_clean(&output);
}

#[test]
fn redis_benchmark_keyspace_tests_are_error_free() {
    let server = ServerProcess::rudis(&[]);
    let (ok, output) = run(
        "redis-benchmark",
        &[
            "-p",
            &server.port.to_string(),
            "-t",
            "set,get,incr,mset",
            "-n",
            "50000",
            "-r",
            "100000",
            "-P",
            "16",
            "-q",
        ],
    );
    assert!(ok, "{output}");
    assert!(!output.to_lowercase().contains("error"), "{output}");
    for test in ["SET: ", "GET: ", "INCR: ", "MSET (10 keys): "] {
        assert!(output.contains(test), "no {test} result: {output}");
    }
}

/// Loads `count` keys `key:<i>` through `redis-cli --pipe` and checks its
/// summary line.
fn pipe_load(port: u16, count: usize, prefix: &str) {
    let mut data = Vec::new();
    for i in 0..count {
        let key = format!("{prefix}:{i}");
        data.extend(common::encode(&[b"SET", key.as_bytes(), b"some value"]));
    }
    let mut child = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("errors: 0, replies: {count}")),
        "{text}"
    );
}

#[test]
fn redis_cli_pipe_scan_bigkeys_memkeys_and_stat() {
    let server = ServerProcess::rudis(&[]);
    let port = server.port.to_string();
    pipe_load(server.port, 100_000, "key");
    pipe_load(server.port, 10, "other");
    assert_eq!(run("redis-cli", &["-p", &port, "dbsize"]).1, "100010\n");

    let (_, scanned) = run("redis-cli", &["-p", &port, "--scan", "--pattern", "key:*"]);
    let mut keys: Vec<&str> = scanned.lines().collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 100_000);
    assert!(keys.iter().all(|k| k.starts_with("key:")));

    let (ok, big) = run("redis-cli", &["-p", &port, "--bigkeys"]);
    assert!(ok, "{big}");
    assert!(
        big.contains("Sampled 100010 keys in the keyspace!"),
        "{big}"
    );
    assert!(big.contains("100010 strings with 1000100 bytes"), "{big}");

    let (ok, mem) = run("redis-cli", &["-p", &port, "--memkeys"]);
    assert!(ok, "{mem}");
    assert!(
        mem.contains("Sampled 100010 keys in the keyspace!"),
        "{mem}"
    );
    assert!(mem.contains("100010 strings with"), "{mem}");

    let screen = in_terminal(&format!("timeout 2.5 redis-cli -p {port} --stat -i 1"));
    assert!(screen.contains("keys       mem"), "{screen}");
    assert!(screen.contains("100010"), "{screen}");
}

#[test]
fn redis_benchmark_default_suite_runs_without_errors() {
    let server = ServerProcess::rudis(&[]);
    let (ok, output) = run(
        "redis-benchmark",
        &["-p", &server.port.to_string(), "-n", "2000", "-q"],
    );
    assert!(ok, "{output}");
    assert!(!output.to_lowercase().contains("error"), "{output}");
    for test in [
        "PING_INLINE",
        "PING_MBULK",
        "SET",
        "GET",
        "INCR",
        "LPUSH",
        "RPUSH",
        "LPOP",
        "RPOP",
        "SADD",
        "HSET",
        "SPOP",
        "ZADD",
        "ZPOPMIN",
        "LPUSH (needed to benchmark LRANGE)",
        "LRANGE_100 (first 100 elements)",
        "LRANGE_300 (first 300 elements)",
        "LRANGE_500 (first 500 elements)",
        "LRANGE_600 (first 600 elements)",
        "MSET (10 keys)",
    ] {
        assert!(
            output.contains(&format!("{test}: ")),
            "no {test} result: {output}"
        );
    }
}

#[test]
fn bigkeys_and_memkeys_know_every_type() {
    let server = ServerProcess::rudis(&[]);
    let mut conn = server.connect();
    conn.run("RPUSH list a b c");
    conn.run("HSET hash f v g w");
    conn.run("SADD set 1 2 3 4");
    conn.run("ZADD zset 1 a 2 b");
    conn.run("SET string hello");
    let port = server.port.to_string();
    let (ok, big) = run("redis-cli", &["-p", &port, "--bigkeys"]);
    assert!(ok, "{big}");
    for line in [
        "Biggest   list found '\"list\"' has 3 items",
        "Biggest   hash found '\"hash\"' has 2 fields",
        "Biggest    set found '\"set\"' has 4 members",
        "Biggest   zset found '\"zset\"' has 2 members",
        "1 lists with 3 items",
        "1 zsets with 2 members",
    ] {
        assert!(big.contains(line), "missing {line:?} in {big}");
    }
    let (ok, mem) = run("redis-cli", &["-p", &port, "--memkeys"]);
    assert!(ok, "{mem}");
    for kind in [
        "1 lists with",
        "1 hashs with",
        "1 sets with",
        "1 zsets with",
        "1 strings with",
    ] {
        assert!(mem.contains(kind), "missing {kind:?} in {mem}");
    }
}
