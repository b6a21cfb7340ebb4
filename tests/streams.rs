//! Streams against redis-server: XADD's ID forms and refusals, XLEN,
//! XRANGE/XREVRANGE bounds (exclusive, partial IDs, COUNT) and XDEL,
//! byte for byte; and XADD with an automatic ID replayed from the AOF
//! as the ID it got.

mod common;

use common::ServerProcess;

#[test]
fn stream_commands_match_redis() {
    common::assert_same_replies(&[
        "xadd s 1-1 a 1",
        "xadd s 1-1 a 1",
        "xadd s 0-0 a 1",
        "xadd s 1 a 1",
        "xadd s 1-* a 1 b 2",
        "xadd s 5-* a 1",
        "xadd s 5-* a 1",
        "xadd s 3-* a 1",
        "xadd s a",
        "xadd s 6-0 a",
        "xadd s nomkstream",
        "xadd s nomkstream 7-0 x y",
        "xadd nos nomkstream 1-1 a 1",
        "exists nos",
        "xadd s abc a 1",
        "xadd s 1-x a 1",
        "xadd s - a 1",
        "xadd s + a 1",
        "xadd s -1 a 1",
        "xadd s 0-* a 1",
        "xadd e 0-* a 1",
        "xadd e2 0-1 a 1",
        "xlen s",
        "xlen nos",
        "xrange s - +",
        "xrange s (1-1 +",
        "xrange s - (5-0",
        "xrange s 1 1",
        "xrange s 1 5",
        "xrange s - + count 1",
        "xrange s - + count 0",
        "xrange s - + count -1",
        "xrange s - + count",
        "xrange s - + foo 1",
        "xrange s x +",
        "xrange s (x +",
        "xrange s (18446744073709551615-18446744073709551615 +",
        "xrange s - (0-0",
        "xrange nos - +",
        "xrevrange s + -",
        "xrevrange s + - count 2",
        "xrevrange s (5-1 -",
        "xrevrange s 1 +",
        "xdel s 1-1 99-1",
        "xdel s 1-1",
        "xdel s x",
        "xdel nos 1-1",
        "xlen s",
        "xrange s - +",
        "xadd s 18446744073709551615-18446744073709551615 a 1",
        "xadd s 18446744073709551615-* a 1",
        "xadd s 5-0 a 1",
        "set str x",
        "xadd str 1-1 a 1",
        "xlen str",
        "xrange str - +",
        "xdel str 1-1",
        "type s",
        "object encoding s",
        "?hello 3",
        "xrange s - +",
    ]);
}

/// Trimming by XADD and XTRIM: MAXLEN and MINID, exact and `~` (whole
/// nodes only, so node boundaries must be Redis's), LIMIT, and every
/// refusal.
#[test]
fn trimming_matches_redis() {
    let mut script: Vec<String> = (1..=350).map(|i| format!("XADD t {i}-1 f v{i}")).collect();
    script.extend(
        [
            "xlen t",
            "xadd t maxlen ~ 200 351-1 f v",
            "xlen t",
            "xadd t maxlen = 150 352-1 f v",
            "xlen t",
            "xrange t - + count 2",
            "xadd t minid ~ 250 353-1 f v",
            "xlen t",
            "xadd t minid 260 354-1 f v",
            "xrange t - + count 2",
            "xadd t maxlen ~ 10 limit 50 355-1 f v",
            "xlen t",
            "xadd t maxlen 10 limit 50 356-1 f v",
            "xadd t limit 50 357-1 f v",
            "xadd t maxlen 10 minid 5 357-1 f v",
            "xadd t maxlen -1 357-1 f v",
            "xadd t maxlen x 357-1 f v",
            "xadd t maxlen ~ 10 limit -1 357-1 f v",
            "xadd t minid x 357-1 f v",
            "xtrim t maxlen 100",
            "xlen t",
            "xtrim t maxlen ~ 50",
            "xlen t",
            "xtrim t minid 340",
            "xrange t - + count 1",
            "xtrim t minid ~ 349",
            "xtrim t",
            "xtrim t foo 1",
            "xtrim t limit 10",
            "xtrim t maxlen 10 limit 5",
            "xtrim t maxlen ~ 0 limit 5",
            "xlen t",
            "xtrim nokey maxlen 1",
            "xtrim nokey foo",
            "set str x",
            "xtrim str maxlen 1",
            "xtrim t maxlen 0",
            "xlen t",
            "xrange t - +",
            "xadd t 400-1 a b",
            "xrange t - +",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let refs: Vec<&str> = script.iter().map(String::as_str).collect();
    common::assert_same_replies(&refs);
}

#[test]
fn xread_matches_redis() {
    common::assert_same_replies(&[
        "xadd s 1-1 a 1",
        "xadd s 2-1 b 2",
        "xadd s2 5-1 c 3",
        "xread streams s 0",
        "xread streams s 1-1",
        "xread streams s 2-1",
        "xread streams s $",
        "xread count 1 streams s s2 0 0",
        "xread streams s s2 0",
        "xread streams s nokey 0 0",
        "xread streams nokey 0",
        "xread streams",
        "xread count x streams s 0",
        "xread count -1 streams s 0",
        "xread block x streams s 0",
        "xread block -1 streams s 0",
        "xread block 10 streams s $",
        "xread foo streams s 0",
        "xread streams s >",
        "xread streams s x",
        "set str v",
        "xread streams str 0",
        "xread streams s str 0 0",
        "?hello 3",
        "xread streams s s2 0 0",
        "xread streams s $",
    ]);
}

/// A client blocked in XREAD (`$` and an explicit ID) is served by the
/// next XADD, times out with a null array, and inside MULTI answers at
/// once; the bytes each client sees are compared with redis-server's.
fn blocking_session(server: &ServerProcess) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut waiter = server.connect();
    let mut writer = server.connect();
    writer.run("XADD s 1-1 f v");
    waiter.send(&common::encode(&[
        b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$",
    ]));
    std::thread::sleep(std::time::Duration::from_millis(100));
    out.push(writer.run("XADD s 2-1 g w"));
    out.push(waiter.read_reply());
    waiter.send(&common::encode(&[
        b"XREAD", b"COUNT", b"5", b"BLOCK", b"0", b"STREAMS", b"other", b"s", b"0", b"2-1",
    ]));
    std::thread::sleep(std::time::Duration::from_millis(100));
    out.push(writer.run("XADD other 7-1 h x"));
    out.push(waiter.read_reply());
    out.push(waiter.run("XREAD BLOCK 100 STREAMS s $"));
    out.push(waiter.run("MULTI"));
    out.push(waiter.run("XREAD BLOCK 0 STREAMS s $"));
    out.push(waiter.run("EXEC"));
    out
}

#[test]
fn blocked_readers_are_served_as_redis() {
    let (redis, rudis) = (ServerProcess::redis(), ServerProcess::rudis(&[]));
    let expected = blocking_session(&redis);
    let got = blocking_session(&rudis);
    for (e, g) in expected.iter().zip(&got) {
        assert_eq!(String::from_utf8_lossy(e), String::from_utf8_lossy(g));
    }
}

#[test]
fn xsetid_matches_redis() {
    common::assert_same_replies(&[
        "xadd s 5-1 a 1",
        "xsetid s 5-0",
        "xsetid s 5-1",
        "xsetid s 10-0",
        "xadd s 7-0 a 1",
        "xadd s 10-* a 1",
        "xsetid s 100 entriesadded 0",
        "xsetid s 100 entriesadded -1",
        "xsetid s 100 entriesadded 5 maxdeletedid 200-0",
        "xsetid s 100 entriesadded 5 maxdeletedid 50-0",
        "xsetid s 60",
        "xsetid s x",
        "xsetid s 100 foo",
        "xsetid s 100 entriesadded",
        "xsetid nokey 1",
        "set str x",
        "xsetid str 1",
        "xdel s 5-1",
        "xsetid s 5-0",
        "xadd s 101-1 a 1",
        "xrange s - +",
    ]);
}

#[test]
fn automatic_ids_are_logged_as_given() {
    let dir = common::fresh_dir("stream-aof");
    let dir_arg = dir.to_string_lossy().into_owned();
    let args = [
        "--appendonly",
        "yes",
        "--dir",
        dir_arg.as_str(),
        "--save",
        "",
    ];
    let listing = {
        let server = ServerProcess::rudis(&args);
        let mut c = server.connect();
        for _ in 0..3 {
            c.cmd(&[b"XADD", b"s", b"*", b"f", b"v"]);
        }
        c.cmd(&[
            b"XADD",
            b"s",
            b"NOMKSTREAM",
            b"99999999999999-*",
            b"f",
            b"v",
        ]);
        c.run("XRANGE s - +")
    };
    let server = ServerProcess::rudis(&args);
    let mut c = server.connect();
    assert_eq!(c.run("XRANGE s - +"), listing);
}
