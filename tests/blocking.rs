//! Blocking pops through the real binary: served on push in FIFO order,
//! timeouts at the right time, clean unblocking on disconnect, pipelined
//! commands after a blocking one.

mod common;

use common::{encode, ServerProcess};
use std::time::{Duration, Instant};

#[test]
fn a_push_serves_the_blocked_client() {
    let server = ServerProcess::rudis(&[]);
    let mut waiter = server.connect();
    let mut pusher = server.connect();
    waiter.send(&encode(&[b"BLPOP", b"queue", b"0"]));
    std::thread::sleep(Duration::from_millis(50));
    assert!(String::from_utf8(pusher.run("INFO clients"))
        .unwrap()
        .contains("blocked_clients:1\r\n"));
    assert_eq!(pusher.run("RPUSH queue job"), b":1\r\n");
    assert_eq!(waiter.read_reply(), b"*2\r\n$5\r\nqueue\r\n$3\r\njob\r\n");
    assert_eq!(pusher.run("EXISTS queue"), b":0\r\n");
    assert!(String::from_utf8(pusher.run("INFO clients"))
        .unwrap()
        .contains("blocked_clients:0\r\n"));
}

#[test]
fn blocked_clients_are_served_first_come_first_served() {
    let server = ServerProcess::rudis(&[]);
    let mut waiters: Vec<_> = (0..5).map(|_| server.connect()).collect();
    for waiter in &mut waiters {
        waiter.send(&encode(&[b"BRPOP", b"q", b"0"]));
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut pusher = server.connect();
    assert_eq!(pusher.run("LPUSH q 1 2 3 4 5"), b":5\r\n");
    for (i, waiter) in waiters.iter_mut().enumerate() {
        let expected = format!("*2\r\n$1\r\nq\r\n$1\r\n{}\r\n", i + 1);
        assert_eq!(waiter.read_reply(), expected.as_bytes(), "waiter {i}");
    }
}

#[test]
fn one_element_serves_one_waiter_and_the_others_keep_waiting() {
    let server = ServerProcess::rudis(&[]);
    let mut first = server.connect();
    let mut second = server.connect();
    first.send(&encode(&[b"BLPOP", b"q", b"0"]));
    std::thread::sleep(Duration::from_millis(20));
    second.send(&encode(&[b"BLPOP", b"q", b"0"]));
    std::thread::sleep(Duration::from_millis(20));
    let mut pusher = server.connect();
    pusher.run("RPUSH q only");
    assert_eq!(first.read_reply(), b"*2\r\n$1\r\nq\r\n$4\r\nonly\r\n");
    assert!(!second.is_closed(Duration::from_millis(100)));
    pusher.run("RPUSH q next");
    assert_eq!(second.read_reply(), b"*2\r\n$1\r\nq\r\n$4\r\nnext\r\n");
}

#[test]
fn timeouts_reply_null_on_time() {
    let server = ServerProcess::rudis(&[]);
    let mut conn = server.connect();
    for (timeout, expected_ms) in [("0.2", 200u128), ("1", 1000)] {
        let started = Instant::now();
        assert_eq!(conn.run(&format!("BLPOP nothing {timeout}")), b"*-1\r\n");
        let took = started.elapsed().as_millis();
        assert!(
            took >= expected_ms && took < expected_ms + 250,
            "timeout {timeout} took {took} ms"
        );
    }
    conn.run("HELLO 3");
    assert_eq!(conn.run("BRPOPLPUSH nothing x 0.05"), b"_\r\n");
}

#[test]
fn commands_pipelined_after_a_blocking_one_wait_their_turn() {
    let server = ServerProcess::rudis(&[]);
    let mut conn = server.connect();
    let mut pipeline = encode(&[b"BLPOP", b"q", b"0.1"]);
    pipeline.extend(encode(&[b"PING"]));
    conn.send(&pipeline);
    assert_eq!(conn.read_reply(), b"*-1\r\n");
    assert_eq!(conn.read_reply(), b"+PONG\r\n");
}

#[test]
fn a_blocked_client_that_disconnects_is_forgotten() {
    let server = ServerProcess::rudis(&[]);
    let mut gone = server.connect();
    gone.send(&encode(&[b"BLPOP", b"q", b"0"]));
    std::thread::sleep(Duration::from_millis(50));
    drop(gone);
    let mut waiter = server.connect();
    waiter.send(&encode(&[b"BLPOP", b"q", b"0"]));
    std::thread::sleep(Duration::from_millis(50));
    let mut pusher = server.connect();
    assert_eq!(pusher.run("RPUSH q x"), b":1\r\n");
    assert_eq!(waiter.read_reply(), b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    assert_eq!(pusher.run("LLEN q"), b":0\r\n");
    assert!(String::from_utf8(pusher.run("INFO clients"))
        .unwrap()
        .contains("blocked_clients:0\r\n"));
}

#[test]
fn blmove_waits_and_moves() {
    let server = ServerProcess::rudis(&[]);
    let mut waiter = server.connect();
    waiter.send(&encode(&[
        b"BLMOVE", b"src", b"dst", b"LEFT", b"RIGHT", b"0",
    ]));
    std::thread::sleep(Duration::from_millis(50));
    let mut pusher = server.connect();
    pusher.run("RPUSH src a");
    assert_eq!(waiter.read_reply(), b"$1\r\na\r\n");
    assert_eq!(pusher.run("LRANGE dst 0 -1"), b"*1\r\n$1\r\na\r\n");
}

#[test]
fn bzpopmin_is_served_by_zadd_and_bzmpop_by_zincrby() {
    let server = ServerProcess::rudis(&[]);
    let mut waiter = server.connect();
    waiter.send(&encode(&[b"BZPOPMIN", b"z", b"0"]));
    std::thread::sleep(Duration::from_millis(50));
    let mut writer = server.connect();
    assert_eq!(writer.run("ZADD z 2 b 1 a"), b":2\r\n");
    assert_eq!(
        waiter.read_reply(),
        b"*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    writer.run("DEL z");
    waiter.send(&encode(&[b"BZMPOP", b"0", b"1", b"z", b"MAX"]));
    std::thread::sleep(Duration::from_millis(50));
    writer.run("ZINCRBY z 5 m");
    assert_eq!(
        waiter.read_reply(),
        b"*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nm\r\n$1\r\n5\r\n"
    );
}

#[test]
fn a_push_inside_exec_serves_waiters_after_the_transaction() {
    let server = ServerProcess::rudis(&[]);
    let mut waiter = server.connect();
    waiter.send(&encode(&[b"BLPOP", b"q", b"0"]));
    std::thread::sleep(Duration::from_millis(50));
    let mut writer = server.connect();
    writer.run("MULTI");
    writer.run("RPUSH q a b");
    writer.run("LPOP q");
    assert_eq!(writer.run("EXEC"), b"*2\r\n:2\r\n$1\r\na\r\n");
    // The waiter sees the state after the whole transaction.
    assert_eq!(waiter.read_reply(), b"*2\r\n$1\r\nq\r\n$1\r\nb\r\n");
}
