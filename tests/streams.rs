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
