//! Pub/Sub against redis-server: subscription replies, message frames in
//! RESP2 and RESP3, subscribed mode, PUBSUB's answers, CLIENT LIST's
//! counts, and a subscriber that never reads.

mod common;

use common::{Conn, ServerProcess};
use std::time::{Duration, Instant};

/// Everything that arrived on a connection within a short wait.
fn drain(conn: &mut Conn) -> Vec<u8> {
    // Generous for a slow machine: each step's bytes must all be in.
    std::thread::sleep(Duration::from_millis(150));
    conn.read_available()
}

/// One scripted session: three clients, one of them in RESP3; the bytes
/// each received, CLIENT LIST's volatile fields masked.
fn session(server: &ServerProcess) -> Vec<Vec<u8>> {
    let mut a = server.connect();
    let mut b = server.connect();
    let mut r3 = server.connect();
    let mut out = Vec::new();
    r3.send(b"HELLO 3\r\n");
    drain(&mut r3);
    a.send(b"SUBSCRIBE x y\r\nPSUBSCRIBE h?llo\r\nSSUBSCRIBE sh\r\n");
    out.push(drain(&mut a));
    r3.send(b"SUBSCRIBE x\r\nPSUBSCRIBE *\r\nGET k\r\n");
    out.push(drain(&mut r3));
    b.send(b"PUBLISH x m1\r\nPUBLISH hello m2\r\nSPUBLISH sh m3\r\nPUBLISH nobody m4\r\nPUBSUB NUMSUB x y z\r\nPUBSUB NUMPAT\r\nPUBSUB SHARDCHANNELS\r\nPUBSUB SHARDNUMSUB sh\r\nPUBSUB CHANNELS h*\r\n");
    out.push(drain(&mut b));
    out.push(drain(&mut a));
    out.push(drain(&mut r3));
    b.send(b"CLIENT LIST TYPE pubsub\r\n");
    let list = String::from_utf8_lossy(&drain(&mut b)).into_owned();
    let counts: Vec<String> = list
        .split_whitespace()
        .filter(|f| {
            ["flags=", "sub=", "psub=", "ssub=", "resp="]
                .iter()
                .any(|p| f.starts_with(p))
        })
        .map(str::to_string)
        .collect();
    out.push(counts.join(" ").into_bytes());
    // Unsubscribing from all answers in the server's own order (a hash
    // order in Redis): leave one channel for it.
    a.send(b"GET k\r\nPING\r\nPING hi\r\nUNSUBSCRIBE y\r\nUNSUBSCRIBE\r\nPUNSUBSCRIBE\r\nSUNSUBSCRIBE\r\nUNSUBSCRIBE\r\nPING\r\n");
    out.push(drain(&mut a));
    r3.send(b"RESET\r\nPING\r\n");
    out.push(drain(&mut r3));
    b.send(b"PUBLISH x again\r\nPUBSUB NUMPAT\r\n");
    out.push(drain(&mut b));
    // Under CLIENT REPLY OFF, RESP3 pushes still arrive; RESP2 replies
    // do not.
    for hello in ["HELLO 3", "HELLO 2"] {
        let mut quiet = server.connect();
        quiet.send(format!("{hello}\r\n").as_bytes());
        drain(&mut quiet);
        quiet.send(b"CLIENT REPLY OFF\r\nSUBSCRIBE q\r\nPSUBSCRIBE q*\r\n");
        out.push(drain(&mut quiet));
        b.send(b"PUBLISH q m5\r\n");
        out.push(drain(&mut b));
        out.push(drain(&mut quiet));
        quiet.send(b"UNSUBSCRIBE q\r\nPUNSUBSCRIBE\r\nCLIENT REPLY ON\r\nPING\r\n");
        out.push(drain(&mut quiet));
    }
    out
}

#[test]
fn replies_and_frames_match_redis() {
    let redis = ServerProcess::redis();
    let rudis = ServerProcess::rudis(&[]);
    let (theirs, ours) = (session(&redis), session(&rudis));
    for (i, (t, o)) in theirs.iter().zip(&ours).enumerate() {
        assert_eq!(
            String::from_utf8_lossy(t),
            String::from_utf8_lossy(o),
            "step {i} (left: redis-server, right: rudis)"
        );
    }
}

/// A subscriber that stops reading is disconnected at the pubsub class's
/// hard limit; the publisher and other subscribers carry on.
#[test]
fn a_subscriber_that_never_reads_is_cut_off() {
    let rudis = ServerProcess::rudis(&["--client-output-buffer-limit", "pubsub 1mb 512kb 60"]);
    let mut stuck = rudis.connect();
    stuck.send(b"SUBSCRIBE news\r\n");
    let mut reader = rudis.connect();
    reader.send(b"SUBSCRIBE news\r\n");
    std::thread::sleep(Duration::from_millis(50));
    drain(&mut reader);
    let mut publisher = rudis.connect();
    let payload = vec![b'x'; 16 * 1024];
    let mut got = 0usize;
    for _ in 0..400 {
        publisher.cmd(&[b"PUBLISH", b"news", &payload]);
        got += reader.read_available().len();
    }
    assert!(got > 0);
    let numsub = publisher.run("PUBSUB NUMSUB news");
    assert_eq!(
        numsub, b"*2\r\n$4\r\nnews\r\n:1\r\n",
        "the stuck subscriber is gone"
    );
    assert_eq!(publisher.run("PING"), b"+PONG\r\n");
}

/// `redis-cli subscribe` in a pseudo-terminal prints what it prints
/// against Redis.
#[test]
fn redis_cli_subscribe_in_a_terminal() {
    let rudis = ServerProcess::rudis(&[]);
    let port = rudis.port.to_string();
    let child = std::process::Command::new("script")
        .args([
            "-qfec",
            &format!("timeout 2 redis-cli -p {port} subscribe news"),
            "/dev/null",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let mut publisher = rudis.connect();
    assert_eq!(publisher.run("PUBLISH news hello"), b":1\r\n");
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert!(
        text.contains("1) \"subscribe\"\n2) \"news\"\n3) (integer) 1"),
        "{text}"
    );
    assert!(
        text.contains("1) \"message\"\n2) \"news\"\n3) \"hello\""),
        "{text}"
    );
}

/// Subscribers that disconnect in the middle of a fan-out, and a client
/// with 100k subscriptions that quits: the server keeps serving, the
/// registry forgets them, and nobody gets another's messages.
#[test]
fn disconnects_and_big_subscribers_leave_no_trace() {
    let rudis = ServerProcess::rudis(&[]);
    let mut big = rudis.connect();
    let mut command: Vec<Vec<u8>> = vec![b"SUBSCRIBE".to_vec()];
    command.extend((0..100_000).map(|i| format!("c{i}").into_bytes()));
    let args: Vec<&[u8]> = command.iter().map(Vec::as_slice).collect();
    big.send(&common::encode(&args));
    std::thread::sleep(Duration::from_millis(300));
    let mut admin = rudis.connect();
    assert_eq!(
        admin.run("PUBSUB NUMSUB c99999"),
        b"*2\r\n$6\r\nc99999\r\n:1\r\n"
    );
    drop(big);
    // Subscribers that leave while messages are being published.
    let mut leaving: Vec<Conn> = (0..50).map(|_| rudis.connect()).collect();
    for c in &mut leaving {
        c.send(b"SUBSCRIBE fan\r\n");
    }
    let mut stayer = rudis.connect();
    stayer.send(b"SUBSCRIBE fan\r\n");
    // Subscribed for sure before anything is published.
    assert_eq!(
        stayer.read_reply(),
        b"*3\r\n$9\r\nsubscribe\r\n$3\r\nfan\r\n:1\r\n"
    );
    for (i, c) in leaving.into_iter().enumerate() {
        admin.run(&format!("PUBLISH fan m{i}"));
        drop(c);
    }
    assert!(common::eventually(Duration::from_secs(5), || {
        admin.run("PUBSUB NUMSUB c99999 fan") == b"*4\r\n$6\r\nc99999\r\n:0\r\n$3\r\nfan\r\n:1\r\n"
    }));
    assert_eq!(admin.run("PUBSUB CHANNELS c*"), b"*0\r\n");
    let got = String::from_utf8_lossy(&drain(&mut stayer)).into_owned();
    for i in 0..50 {
        assert!(
            got.contains(&format!(
                "$3\r\nfan\r\n${}\r\nm{i}\r\n",
                format!("m{i}").len()
            )),
            "m{i} missing in {got:?}"
        );
    }
    assert_eq!(admin.run("PING"), b"+PONG\r\n");
}

/// redis-py's pub/sub API, sync (a handler thread included) and asyncio,
/// in RESP2 and RESP3 (scripts/test.sh installs redis-py).
#[test]
fn redis_py_pubsub_works() {
    let rudis = ServerProcess::rudis(&[]);
    common::assert_python_ok("pubsub_redis_py.py", &rudis);
}

/// A subscriber over the pubsub class's soft limit is disconnected once
/// the limit's seconds have passed, even when no more messages come to
/// check it (Redis's `clientsCron`); before that it stays.
#[test]
fn the_soft_limit_is_enforced_without_more_traffic() {
    let rudis = ServerProcess::rudis(&["--client-output-buffer-limit", "pubsub 0 100kb 1"]);
    let mut stuck = rudis.connect();
    stuck.send(b"CLIENT SETNAME stuck\r\nSUBSCRIBE news\r\n");
    std::thread::sleep(Duration::from_millis(50));
    let mut publisher = rudis.connect();
    let payload = vec![b'x'; 64 * 1024];
    // Enough to fill the socket buffers and pass 100 KB in the server.
    let started = Instant::now();
    for _ in 0..200 {
        publisher.cmd(&[b"PUBLISH", b"news", &payload]);
    }
    let listed = |publisher: &mut Conn| {
        String::from_utf8_lossy(&publisher.run("CLIENT LIST")).contains("name=stuck")
    };
    assert!(listed(&mut publisher), "closed before its seconds passed");
    assert!(started.elapsed() < Duration::from_millis(900));
    assert!(
        common::eventually(Duration::from_secs(4), || !listed(&mut publisher)),
        "still connected with no traffic"
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
}
