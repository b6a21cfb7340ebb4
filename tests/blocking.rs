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

/// Which change wakes which blocked reader, compared with redis-server:
/// a client woken by one key is served from that key alone, a key of the
/// wrong type leaves it waiting, a stream reader only sees entries past
/// its ID, and group readers hear that their stream or group went.
#[test]
fn wake_rules_match_redis() {
    let scenarios: &[&[&str]] = &[
        // XREAD waits through a type change and a recreated stream.
        &[
            "XADD x 1-1 f v",
            "W0 XREAD BLOCK 0 STREAMS x $",
            "SET x v",
            "DEL x",
            "XADD x 0-5 a b",
            "XADD x 2-1 a b",
        ],
        &[
            "W0 XREAD BLOCK 0 STREAMS x 0",
            "RPUSH x a",
            "DEL x",
            "XADD x 1-1 a b",
        ],
        &[
            "XADD x 1-1 f v",
            "W0 XREAD BLOCK 0 STREAMS x y $ $",
            "SET x v",
            "XADD y 1-1 a b",
        ],
        &[
            "XADD x 5-1 f v",
            "W0 XREAD BLOCK 0 STREAMS x $",
            "XDEL x 5-1",
            "XSETID x 9-9",
            "XADD x 10-1 a b",
        ],
        // Only the key that woke the reader is served.
        &[
            "XADD x 1-1 f v",
            "XADD y 1-1 f v",
            "W0 XREAD BLOCK 0 STREAMS x y $ $",
            "MULTI",
            "XADD y 2-1 a b",
            "XADD x 2-1 a b",
            "EXEC",
        ],
        &[
            "XADD x 1-1 f v",
            "W0 XREAD BLOCK 0 STREAMS x 100-0",
            "W1 XREAD BLOCK 0 STREAMS x $",
            "XADD x 2-1 a b",
        ],
        &[
            "XADD x 1-1 f v",
            "W0 XREAD BLOCK 0 STREAMS x $",
            "MULTI",
            "XADD x 2-1 a b",
            "XDEL x 2-1",
            "EXEC",
        ],
        &[
            "XADD x 1-1 f v",
            "W0 XREAD BLOCK 0 STREAMS x $",
            "W1 XREAD COUNT 1 BLOCK 0 STREAMS x $",
            "MULTI",
            "XADD x 2-1 a b",
            "XADD x 3-1 a b",
            "EXEC",
        ],
        // Group readers.
        &[
            "XGROUP CREATE x g $ MKSTREAM",
            "W0 XREADGROUP GROUP g c BLOCK 0 STREAMS x >",
            "XTRIM x MAXLEN 0",
            "XGROUP SETID x g 0",
            "XADD x 3-1 a b",
        ],
        &[
            "XGROUP CREATE x g $ MKSTREAM",
            "W0 XREADGROUP GROUP g c BLOCK 0 STREAMS x >",
            "SET x v",
        ],
        &[
            "XGROUP CREATE x g $ MKSTREAM",
            "W0 XREADGROUP GROUP g c BLOCK 0 STREAMS x >",
            "FLUSHALL",
        ],
        &[
            "XGROUP CREATE x g $ MKSTREAM",
            "W0 XREADGROUP GROUP g c BLOCK 0 STREAMS x >",
            "FLUSHDB",
        ],
        &[
            "XGROUP CREATE x g $ MKSTREAM",
            "W0 XREADGROUP GROUP g c BLOCK 0 STREAMS x >",
            "SELECT 1",
            "FLUSHDB",
            "SELECT 0",
            "XADD x 1-1 a b",
        ],
        &[
            "XGROUP CREATE x g $ MKSTREAM",
            "W0 XREADGROUP GROUP g c BLOCK 0 STREAMS x >",
            "MOVE x 1",
        ],
        &[
            "XGROUP CREATE x g $ MKSTREAM",
            "W0 XREADGROUP GROUP g c BLOCK 0 STREAMS x >",
            "RENAME x z",
        ],
        &[
            "XGROUP CREATE x g $ MKSTREAM",
            "W0 XREADGROUP GROUP g c BLOCK 0 STREAMS x >",
            "SWAPDB 0 1",
        ],
        &[
            "XGROUP CREATE x g $ MKSTREAM",
            "XGROUP CREATE y g $ MKSTREAM",
            "W0 XREADGROUP GROUP g c BLOCK 0 STREAMS x y > >",
            "MULTI",
            "DEL x",
            "XADD y 1-1 a b",
            "EXEC",
        ],
        &[
            "XGROUP CREATE x g $ MKSTREAM",
            "XGROUP CREATE y g $ MKSTREAM",
            "W0 XREADGROUP GROUP g c BLOCK 0 STREAMS x y > >",
            "MULTI",
            "XADD y 1-1 a b",
            "DEL x",
            "EXEC",
        ],
        &[
            "XGROUP CREATE x g $ MKSTREAM",
            "W0 XREADGROUP GROUP g c BLOCK 0 STREAMS x >",
            "W1 XREADGROUP GROUP g d BLOCK 0 STREAMS x >",
            "XADD x 1-1 a b",
            "XADD x 2-1 a b",
        ],
        &[
            "XGROUP CREATE x g $ MKSTREAM",
            "W0 XREADGROUP GROUP g c BLOCK 0 STREAMS x >",
            "MULTI",
            "XADD x 1-1 a b",
            "XDEL x 1-1",
            "EXEC",
            "XPENDING x g",
        ],
        // SWAPDB brings data the waiters were waiting for.
        &[
            "SELECT 1",
            "RPUSH l a",
            "SELECT 0",
            "W0 BLPOP l 0",
            "SWAPDB 0 1",
        ],
        &[
            "SELECT 1",
            "XADD x 5-1 a b",
            "SELECT 0",
            "W0 XREAD BLOCK 0 STREAMS x $",
            "SWAPDB 0 1",
        ],
        // List and sorted set pops ignore keys of another type.
        &["W0 BLPOP x l 0", "XADD x 1-1 a b", "RPUSH l a"],
        &["W0 BLPOP l 0", "XADD l 1-1 a b", "DEL l", "RPUSH l z"],
        &[
            "W0 BLMPOP 0 2 x l LEFT COUNT 2",
            "XADD x 1-1 a b",
            "RPUSH l a b c",
        ],
        &["W0 BZPOPMIN x z 0", "SET x s", "ZADD z 1 a"],
        &["W0 BZMPOP 0 2 x z MIN", "SET x s", "ZADD z 1 a"],
        &[
            "W0 BZMPOP 0 2 x z MIN",
            "W1 BLPOP z 0",
            "RPUSH z a",
            "DEL z",
            "ZADD z 1 a",
        ],
        &[
            "W0 BLMOVE x d LEFT LEFT 0",
            "XADD x 1-1 a b",
            "DEL x",
            "RPUSH x q",
        ],
        &[
            "SET d x",
            "W0 BLMOVE l d LEFT LEFT 0",
            "W1 BLPOP l 0",
            "RPUSH l a",
        ],
        &["W0 BLPOP x l 0", "MULTI", "RPUSH l 1", "RPUSH x 2", "EXEC"],
        // A key written whole wakes its waiters: RENAME, COPY, MOVE,
        // SORT ... STORE, ZUNIONSTORE, RESTORE.
        &["W0 BLPOP foo 0", "LPUSH bob abc def hij", "RENAME bob foo"],
        &["W0 BRPOP foo 0", "RPUSH src a b", "COPY src foo"],
        &[
            "W0 BLPOP foo 0",
            "SELECT 1",
            "RPUSH foo a",
            "MOVE foo 0",
            "SELECT 0",
        ],
        &["W0 BLPOP foo 0", "RPUSH src 3 1 2", "SORT src STORE foo"],
        &["W0 BZPOPMIN z 0", "ZADD a 1 x", "ZUNIONSTORE z 1 a"],
        &[
            "W0 XREAD BLOCK 0 STREAMS s 0",
            "XADD t 1-1 f v",
            "RENAME t s",
        ],
    ];
    for (n, script) in scenarios.iter().enumerate() {
        common::assert_same_blocking_sessions(&format!("scenario {n}"), script.len(), || {
            common::scripted_steps(script)
        });
    }
}
