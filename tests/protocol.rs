//! Raw-byte protocol tests against the real binary: partial reads, deep
//! pipelines, protocol errors that close the connection, and limits.

mod common;

use common::{encode, Conn, ServerProcess};
use std::io::Write;
use std::time::Duration;

#[test]
fn a_pipeline_split_at_every_byte_gives_the_same_replies() {
    let server = ServerProcess::rudis(&[]);
    let mut input = Vec::new();
    input.extend_from_slice(&encode(&[b"PING"]));
    input.extend_from_slice(b"echo \"a b\"\r\n");
    input.extend_from_slice(&encode(&[b"ECHO", b"x\r\ny"]));
    input.extend_from_slice(b"ping\n");
    let expected: &[u8] = b"+PONG\r\n$3\r\na b\r\n$4\r\nx\r\ny\r\n+PONG\r\n";
    for split in 1..input.len() {
        let mut conn = server.connect();
        conn.send(&input[..split]);
        std::thread::sleep(Duration::from_millis(2));
        conn.send(&input[split..]);
        let mut got = Vec::new();
        for _ in 0..4 {
            got.extend(conn.read_reply());
        }
        assert_eq!(got, expected, "split at {split}");
    }
}

#[test]
fn one_byte_at_a_time() {
    let server = ServerProcess::rudis(&[]);
    let mut conn = server.connect();
    let input = encode(&[b"ECHO", b"hello world"]);
    for byte in &input {
        conn.send(std::slice::from_ref(byte));
    }
    assert_eq!(conn.read_reply(), b"$11\r\nhello world\r\n");
}

#[test]
fn deep_pipeline_of_100k_commands() {
    let server = ServerProcess::rudis(&[]);
    let mut conn = server.connect();
    let count = 100_000;
    let batch: Vec<u8> = encode(&[b"PING"]).repeat(count);
    let mut writer = conn.stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || writer.write_all(&batch).unwrap());
    for _ in 0..count {
        assert_eq!(conn.read_reply(), b"+PONG\r\n");
    }
    sender.join().unwrap();
}

#[test]
fn protocol_errors_reply_and_close() {
    let server = ServerProcess::rudis(&[]);
    let cases: &[(&[u8], &[u8])] = &[
        (
            b"*x\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$x\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$536870913\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\nx\r\n",
            b"-ERR Protocol error: expected '$', got 'x'\r\n",
        ),
        (
            b"ping \"a\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"PING\r\n*x\r\nPING\r\n",
            b"+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n",
        ),
    ];
    for (input, expected) in cases {
        let mut conn = server.connect();
        conn.send(input);
        assert_eq!(
            conn.read_to_eof(),
            *expected,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn oversized_inline_and_headers_are_refused() {
    let server = ServerProcess::rudis(&[]);
    let mut conn = server.connect();
    conn.send(&vec![b'a'; 70 * 1024]);
    assert_eq!(
        conn.read_to_eof(),
        b"-ERR Protocol error: too big inline request\r\n"
    );
    let mut conn = server.connect();
    let mut header = b"*1".to_vec();
    header.extend(vec![b'1'; 70 * 1024]);
    conn.send(&header);
    assert_eq!(
        conn.read_to_eof(),
        b"-ERR Protocol error: too big mbulk count string\r\n"
    );
}

#[test]
fn empty_requests_are_ignored() {
    let server = ServerProcess::rudis(&[]);
    let mut conn = server.connect();
    conn.send(b"*0\r\n*-1\r\n\r\n\n   \r\nPING\r\n");
    assert_eq!(conn.read_reply(), b"+PONG\r\n");
}

#[test]
fn unknown_commands_and_arity_errors_keep_the_connection() {
    let server = ServerProcess::rudis(&[]);
    let mut conn = server.connect();
    assert_eq!(
        conn.run("FOO a b"),
        b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n"
    );
    assert_eq!(
        conn.run("echo"),
        b"-ERR wrong number of arguments for 'echo' command\r\n"
    );
    assert_eq!(conn.run("PING"), b"+PONG\r\n");
}

#[test]
fn query_buffer_limit_closes_the_client() {
    let server = ServerProcess::rudis(&["--client-query-buffer-limit", "1mb"]);
    let mut conn = server.connect();
    // A bulk that announces 2 MB but never completes fills the query buffer.
    conn.send(b"*2\r\n$3\r\nSET\r\n$2000000\r\n");
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..20 {
        if conn.stream.write_all(&chunk).is_err() {
            break;
        }
    }
    assert!(
        conn.is_closed(Duration::from_secs(5)),
        "client over the query buffer limit stays open"
    );
    let mut other = server.connect();
    assert_eq!(other.run("PING"), b"+PONG\r\n");
}

#[test]
fn maxclients_refuses_with_redis_error() {
    let server = ServerProcess::rudis(&["--maxclients", "2"]);
    // Let the server see the start-up probe connection close.
    std::thread::sleep(Duration::from_millis(100));
    let mut first = server.connect();
    let mut second = server.connect();
    assert_eq!(first.run("PING"), b"+PONG\r\n");
    assert_eq!(second.run("PING"), b"+PONG\r\n");
    let mut third = server.connect();
    assert_eq!(
        third.read_to_eof(),
        b"-ERR max number of clients reached\r\n"
    );
    drop(first);
    std::thread::sleep(Duration::from_millis(100));
    let mut fourth = Conn::new(server.port);
    assert_eq!(fourth.run("PING"), b"+PONG\r\n");
    let stats = String::from_utf8(second.run("INFO stats")).unwrap();
    assert!(stats.contains("rejected_connections:1\r\n"), "{stats}");
}

#[test]
fn quit_replies_then_closes() {
    let server = ServerProcess::rudis(&[]);
    let mut conn = server.connect();
    conn.send(b"PING\r\nQUIT\r\nPING\r\n");
    assert_eq!(conn.read_to_eof(), b"+PONG\r\n+OK\r\n");
}

#[test]
fn hello_switches_to_resp3() {
    let server = ServerProcess::rudis(&[]);
    let mut conn = server.connect();
    let hello = String::from_utf8(conn.run("HELLO 3")).unwrap();
    assert!(
        hello.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n"),
        "{hello}"
    );
    assert!(hello.contains("$5\r\nproto\r\n:3\r\n"));
    assert_eq!(conn.run("CLIENT GETNAME"), b"_\r\n");
    assert_eq!(
        conn.run("HELLO 4"),
        b"-NOPROTO unsupported protocol version\r\n"
    );
    let back = String::from_utf8(conn.run("HELLO 2")).unwrap();
    assert!(back.starts_with("*14\r\n"), "{back}");
    assert_eq!(conn.run("CLIENT GETNAME"), b"$-1\r\n");
}
