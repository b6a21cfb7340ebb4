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
        "xread group g c streams s 0",
        "xread noack streams s 0",
        "xread count 1 group g streams s 0",
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
        "xgroup create s g $",
        "eval \"return redis.call('xread','block','0','streams','s','$')\" 0",
        "eval \"return redis.call('XREAD','block','x','streams','s','0')\" 0",
        "eval \"return redis.pcall('xreadgroup','group','g','c','block','0','streams','s','>')\" 0",
        "eval \"return redis.call('xread','count','1','streams','s','0')\" 0",
        "multi",
        "xread block 0 streams s $",
        "xreadgroup group g c block 0 streams s >",
        "exec",
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
    // Group readers are told when their group or stream goes.
    for action in ["XGROUP DESTROY g1 g", "DEL g1", "SET g1 x"] {
        writer.run("DEL g1");
        writer.run("XGROUP CREATE g1 g $ MKSTREAM");
        waiter.send(&common::encode(&[
            b"XREADGROUP",
            b"GROUP",
            b"g",
            b"c",
            b"BLOCK",
            b"0",
            b"STREAMS",
            b"g1",
            b">",
        ]));
        std::thread::sleep(std::time::Duration::from_millis(100));
        out.push(writer.run(action));
        out.push(waiter.read_reply());
    }
    // And served by an XADD.
    writer.run("DEL g1");
    writer.run("XGROUP CREATE g1 g $ MKSTREAM");
    waiter.send(&common::encode(&[
        b"XREADGROUP",
        b"GROUP",
        b"g",
        b"c",
        b"BLOCK",
        b"0",
        b"STREAMS",
        b"g1",
        b">",
    ]));
    std::thread::sleep(std::time::Duration::from_millis(100));
    out.push(writer.run("XADD g1 5-1 k v"));
    out.push(waiter.read_reply());
    out.push(writer.run("XPENDING g1 g"));
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

/// A stream's DUMP payload is byte-identical to redis-server's (the same
/// nodes, master entries, deltas, flags for deleted entries), and
/// payloads restore across the two servers.
#[test]
fn dump_payloads_match_redis_and_restore_across() {
    let (redis, rudis) = (ServerProcess::redis(), ServerProcess::rudis(&[]));
    let (mut a, mut b) = (redis.connect(), rudis.connect());
    for conn in [&mut a, &mut b] {
        for i in 1..260u64 {
            let id = format!("{}-{}", i * 10, i % 3);
            let value = format!("v{i}");
            let mut args: Vec<&[u8]> = vec![b"XADD", b"s", id.as_bytes()];
            let big = "x".repeat(5000);
            let number = (i * 1000).to_string();
            if i % 7 == 0 {
                args.extend([&b"other"[..], value.as_bytes()]);
            } else if i % 11 == 0 {
                args.extend([&b"f"[..], value.as_bytes(), b"g", number.as_bytes()]);
            } else if i == 100 {
                args.extend([&b"f"[..], big.as_bytes()]);
            } else {
                args.extend([&b"f"[..], value.as_bytes()]);
            }
            conn.cmd(&args);
        }
        conn.run("XDEL s 120-0 130-1 500-2");
        conn.run("XTRIM s MAXLEN 200");
        conn.run("XADD empty 1-1 a 1");
        conn.run("XDEL empty 1-1");
    }
    for key in ["s", "empty"] {
        let from_redis = common::bulk_payload(&a.cmd(&[b"DUMP", key.as_bytes()]));
        let from_rudis = common::bulk_payload(&b.cmd(&[b"DUMP", key.as_bytes()]));
        assert_eq!(from_redis, from_rudis, "DUMP {key}");
        let copy = format!("{key}-copy");
        for (conn, payload) in [(&mut a, &from_rudis), (&mut b, &from_redis)] {
            let restored = conn.cmd(&[b"RESTORE", copy.as_bytes(), b"0", payload]);
            assert_eq!(
                String::from_utf8_lossy(&restored),
                "+OK\r\n",
                "RESTORE {copy} {payload:?}"
            );
        }
        for cmd in ["XRANGE {} - +", "XLEN {}"] {
            let line = cmd.replace("{}", &copy);
            assert_eq!(a.run(&line), b.run(&line), "{line}");
        }
    }
}

/// Streams survive a restart in RDB files of either server.
#[test]
fn streams_survive_restarts_in_rdb_files_of_either_server() {
    let dir = common::fresh_dir("streams-rdb");
    let dir_arg = dir.to_string_lossy().into_owned();
    let args = ["--dir", dir_arg.as_str()];
    let listing = {
        let rudis = ServerProcess::rudis(&args);
        let mut c = rudis.connect();
        for i in 1..=300 {
            c.run(&format!("XADD s {i}-1 f v{i}"));
        }
        c.run("XDEL s 5-1");
        assert_eq!(c.run("SAVE"), b"+OK\r\n");
        c.run("XRANGE s - +")
    };
    {
        let redis = ServerProcess::redis_with(&args);
        let mut c = redis.connect();
        assert_eq!(c.run("XRANGE s - +"), listing);
        c.run("XADD s 400-1 g w");
        assert_eq!(c.run("SAVE"), b"+OK\r\n");
    }
    let rudis = ServerProcess::rudis(&args);
    let mut c = rudis.connect();
    assert_eq!(c.run("XLEN s"), b":300\r\n");
    assert_eq!(
        c.run("XRANGE s 400 +"),
        b"*1\r\n*2\r\n$5\r\n400-1\r\n*2\r\n$1\r\ng\r\n$1\r\nw\r\n"
    );
}

/// An AOF rewrite without preamble writes each stream as XADDs and an
/// XSETID: entries, deleted IDs and the counters come back, an emptied
/// stream too.
#[test]
fn streams_survive_an_aof_rewrite_without_preamble() {
    let dir = common::fresh_dir("streams-aof");
    let dir_arg = dir.to_string_lossy().into_owned();
    let args = [
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        "no",
        "--dir",
        dir_arg.as_str(),
        "--save",
        "",
    ];
    let before = {
        let server = ServerProcess::rudis(&args);
        let mut c = server.connect();
        for i in 1..=20 {
            c.run(&format!("XADD s {i}-1 f v{i} g w"));
        }
        c.run("XDEL s 20-1");
        c.run("XADD e 1-1 a 1");
        c.run("XDEL e 1-1");
        c.run("XGROUP CREATE s g 0");
        c.run("XREADGROUP GROUP g alice COUNT 3 STREAMS s >");
        c.run("XGROUP CREATECONSUMER s g idler");
        c.run("XACK s g 2-1");
        c.run("EXPIRE e 1000");
        c.run("BGREWRITEAOF");
        assert!(common::eventually(
            std::time::Duration::from_secs(10),
            || { common::info_field(&mut c, "persistence", "aof_rewrite_in_progress") == "0" }
        ));
        std::thread::sleep(std::time::Duration::from_millis(200));
        ["XRANGE s - +", "XLEN e", "TYPE e", "DUMP s", "DUMP e"].map(|line| c.run(line))
    };
    let server = ServerProcess::rudis(&args);
    let mut c = server.connect();
    let after = ["XRANGE s - +", "XLEN e", "TYPE e", "DUMP s", "DUMP e"].map(|line| c.run(line));
    assert_eq!(before[..3], after[..3]);
    // The counters come back: XADD below the deleted top still fails.
    assert_eq!(
        c.run("XADD s 20-1 f v"),
        b"-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n"
            .to_vec()
    );
}

/// Consumer groups against redis-server: XGROUP's subcommands, XREADGROUP
/// (new entries, history, NOACK, COUNT), XACK and XPENDING (summary and
/// ranges), every refusal.
#[test]
fn consumer_groups_match_redis() {
    common::assert_same_replies(&[
        "xgroup create s g $",
        "xgroup create s g $ mkstream",
        "xgroup create s g $ mkstream",
        "xgroup create s g2 0 entriesread 5",
        "xgroup create s g3 0 entriesread -2",
        "xgroup create s g3 x",
        "xgroup create s g3 0 foo",
        "xgroup create s g3 0 mkstream entriesread",
        "xadd s 1-1 a 1",
        "xadd s 2-1 b 2",
        "xadd s 3-1 c 3",
        "xreadgroup group g alice streams s >",
        "xreadgroup group g alice streams s >",
        "xreadgroup group g bob count 1 streams s >",
        "xreadgroup group g2 bob count 2 streams s >",
        "xreadgroup group g2 carol noack streams s >",
        "xreadgroup group g alice streams s 0",
        "xreadgroup group g alice count 1 streams s 0",
        "xreadgroup group g bob streams s 0",
        "xreadgroup group nog alice streams s >",
        "xreadgroup group g alice streams nokey >",
        "xreadgroup group g alice streams s $",
        "xreadgroup group g alice streams s x",
        "xreadgroup group g alice streams s",
        "xreadgroup streams s >",
        "xreadgroup group g streams s >",
        "xpending s g",
        "xpending s g2",
        "xpending s nog",
        "xpending nokey g",
        "xpending s g - + 0",
        "xpending s g - + x",
        "xpending s g x + 10",
        "xpending s g idle",
        "xpending s g - +",
        "xack s g 1-1 99-1",
        "xack s g x",
        "xack s nog 1-1",
        "xack nokey g 1-1",
        "xpending s g",
        "xdel s 2-1",
        "xreadgroup group g2 bob streams s 0",
        "xgroup createconsumer s g dave",
        "xgroup createconsumer s g dave",
        "xgroup createconsumer s nog dave",
        "xgroup delconsumer s g bob",
        "xgroup delconsumer s g nobody",
        "xpending s g",
        "xgroup setid s g 0",
        "xgroup setid s g $ entriesread 3",
        "xgroup setid s g 0 foo 1",
        "xgroup setid s nog 0",
        "xgroup setid nokey g 0",
        "xgroup destroy s g2",
        "xgroup destroy s g2",
        "xgroup destroy nokey g",
        "xgroup help",
        "xgroup foo",
        "set str v",
        "xgroup create str g 0",
        "xreadgroup group g alice streams str >",
        "xpending str g",
        "xack str g 1-1",
        // COPY and MOVE take the groups along.
        "xreadgroup group g3 erin streams s >",
        "copy s s2",
        "xinfo stream s2",
        "xinfo groups s2",
        "xpending s2 g",
        "xack s2 g 1-1 3-1",
        "xpending s2 g",
        "xpending s g",
        "move s2 1",
        "select 1",
        "xinfo groups s2",
        "xreadgroup group g3 erin streams s2 0",
        "xadd s2 9-1 z 9",
        "xlen s2",
        "select 0",
        "xlen s",
        "type s",
        "object encoding s",
    ]);
}

/// Groups travel in DUMP payloads and RDB files, in both directions: the
/// pending entries, their owners and counts come back.
#[test]
fn groups_move_between_servers() {
    let (redis, rudis) = (ServerProcess::redis(), ServerProcess::rudis(&[]));
    let mut conns = [redis.connect(), rudis.connect()];
    for c in conns.iter_mut() {
        for line in [
            "XADD s 1-1 a 1",
            "XADD s 2-1 b 2",
            "XADD s 3-1 c 3",
            "XGROUP CREATE s g 0",
            "XGROUP CREATE s h $",
            "XREADGROUP GROUP g alice COUNT 2 STREAMS s >",
            "XREADGROUP GROUP g bob STREAMS s >",
            "XACK s g 1-1",
        ] {
            c.run(line);
        }
    }
    for source in [0usize, 1] {
        let [first, second] = &mut conns;
        let (from, to) = if source == 0 {
            (first, second)
        } else {
            (second, first)
        };
        let payload = common::bulk_payload(&from.run("DUMP s"));
        to.run("DEL copy");
        assert_eq!(to.cmd(&[b"RESTORE", b"copy", b"0", &payload]), b"+OK\r\n");
        for line in [
            "XPENDING copy g",
            "XPENDING copy h",
            "XREADGROUP GROUP g alice STREAMS copy 0",
        ] {
            let original = line.replace("copy", "s");
            // Replies that name the stream name the copy.
            let expected = String::from_utf8_lossy(&from.run(&original))
                .replace("$1\r\ns\r\n", "$4\r\ncopy\r\n");
            assert_eq!(String::from_utf8_lossy(&to.run(line)), expected, "{line}");
        }
    }
}

/// Claims and deletions against redis-server: XCLAIM (FORCE, JUSTID,
/// RETRYCOUNT, LASTID, entries deleted meanwhile), XAUTOCLAIM (cursor,
/// COUNT, deleted IDs), XINFO STREAM (radix tree counts over many node
/// layouts), GROUPS (entries-read and lag) and CONSUMERS. Idle times are
/// compared by type only.
#[test]
fn claims_and_xinfo_match_redis() {
    let mut script: Vec<String> = [
        "XADD s 1-1 a 1",
        "XADD s 2-1 b 2",
        "XADD s 3-1 c 3",
        "XADD s 4-1 d 4",
        "XGROUP CREATE s g 0",
        "XREADGROUP GROUP g alice COUNT 3 STREAMS s >",
        "XCLAIM s g bob 0 1-1",
        "XCLAIM s g bob 0 1-1 JUSTID",
        "XCLAIM s g bob 0 2-1 RETRYCOUNT 7",
        "XCLAIM s g bob 0 4-1",
        "XCLAIM s g bob 0 4-1 FORCE",
        "XCLAIM s g bob 100000 3-1",
        "XCLAIM s g bob x 3-1",
        "XCLAIM s g bob 0 3-1 IDLE x",
        "XCLAIM s g bob 0 3-1 foo",
        "XCLAIM s g bob 0 3-1 LASTID 10-0",
        "XINFO GROUPS s",
        "XCLAIM s nog bob 0 3-1",
        "XCLAIM nokey g bob 0 3-1",
        "XDEL s 2-1",
        "XCLAIM s g carol 0 2-1 3-1",
        "XPENDING s g",
        "XAUTOCLAIM s g dave 0 0",
        "XAUTOCLAIM s g dave 0 0 COUNT 1",
        "XAUTOCLAIM s g dave 0 0 COUNT 0",
        "XAUTOCLAIM s g dave 0 0 JUSTID",
        "XAUTOCLAIM s g dave 0 (1-1",
        "XAUTOCLAIM s g dave 0 x",
        "XAUTOCLAIM s g dave x 0",
        "XAUTOCLAIM s g dave 0 0 foo",
        "XAUTOCLAIM s nog dave 0 0",
        "XADD s 5-1 e 5",
        "XREADGROUP GROUP g erin STREAMS s >",
        "XDEL s 5-1",
        "XAUTOCLAIM s g dave 0 0",
        "XINFO STREAM s",
        "XINFO GROUPS s",
        "?XINFO CONSUMERS s g",
        "XINFO CONSUMERS s nog",
        "XINFO STREAM nokey",
        "XINFO GROUPS nokey",
        "XINFO HELP",
        "?XINFO STREAM s FULL",
        "XINFO STREAM s FULL x",
        "XINFO STREAM s FULL COUNT",
        "XINFO STREAM s FULL COUNT x",
        "XINFO STREAM s FULL COUNT 1 x",
        "XINFO STREAM s foo",
        "XINFO STREAM nokey foo",
        "XGROUP CREATE s g2 $",
        "XINFO GROUPS s",
        "XADD s 6-1 f 6",
        "XINFO GROUPS s",
        "XREADGROUP GROUP g2 z STREAMS s >",
        "XINFO GROUPS s",
        "SET str v",
        "XINFO STREAM str",
        "XCLAIM str g bob 0 1-1",
        "XAUTOCLAIM str g bob 0 0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for n in (1..400).step_by(37) {
        script.push("DEL r".into());
        for i in 1..=n {
            script.push(format!("XADD r {}-{i} f v", i * 1_000_003));
        }
        script.push("XINFO STREAM r".into());
        script.push("XINFO STREAM r FULL".into());
        script.push("XINFO STREAM r FULL COUNT 0".into());
        script.push("XINFO STREAM r FULL COUNT -1".into());
        script.push(format!("XINFO STREAM r FULL COUNT {}", n / 2));
    }
    let refs: Vec<&str> = script.iter().map(String::as_str).collect();
    common::assert_same_replies(&refs);
}

/// With the AOF on, reads and claims are logged as their effects
/// (XCLAIM ... FORCE JUSTID, and under NOACK XGROUP CREATECONSUMER and
/// SETID), and a reload rebuilds the groups as redis-server's does: a
/// group read without NOACK loses its read counter there too.
#[test]
fn group_state_is_replayed_from_the_aof() {
    let args = ["--appendonly", "yes", "--enable-debug-command", "yes"];
    let lines = [
        "XPENDING s g - + 100",
        "XINFO GROUPS s",
        "XPENDING s g",
        "XREADGROUP GROUP g alice STREAMS s 0",
    ];
    let replayed = |server: &ServerProcess| -> Vec<String> {
        let mut c = server.connect();
        for line in [
            "XADD s 1-1 a 1",
            "XADD s 2-1 b 2",
            "XADD s 3-1 c 3",
            "XADD s 4-1 d 4",
            "XGROUP CREATE s g 0",
            "XGROUP CREATE s h 0",
            "XREADGROUP GROUP g alice COUNT 2 STREAMS s >",
            "XREADGROUP GROUP g bob STREAMS s >",
            "XREADGROUP GROUP h carol NOACK STREAMS s >",
            "XACK s g 2-1",
            "XCLAIM s g dave 0 3-1",
            "XDEL s 4-1",
            "XAUTOCLAIM s g erin 0 0",
        ] {
            c.run(line);
        }
        assert_eq!(c.run("DEBUG LOADAOF"), b"+OK\r\n");
        // Idle times differ with the clock; everything else must not.
        lines
            .iter()
            .map(|l| {
                String::from_utf8_lossy(&c.run(l))
                    .split("\r\n")
                    .filter(|l| !l.starts_with(':'))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    };
    let redis = replayed(&ServerProcess::redis_with(&args));
    let rudis = replayed(&ServerProcess::rudis(&args));
    for ((line, expected), got) in lines.iter().zip(&redis).zip(&rudis) {
        assert_eq!(expected, got, "{line}");
    }
}

#[test]
fn groups_from_files_older_than_7_0_get_estimated_read_counters() {
    // DUMPed by Redis 5 (RDB_TYPE_STREAM_LISTPACKS, no read counters)
    // after six XADDs, an XDEL, two groups, an XREADGROUP and an XTRIM.
    let legacy = r#"RESTORE x 0 "\x0F\x01\x10\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\xC3\x40\x4A\x40\x57\x16\x57\x00\x00\x00\x23\x00\x02\x01\x04\x01\x01\x01\x84\x64\x61\x74\x61\x05\x00\x01\x03\x01\x00\x20\x01\x03\x81\x61\x02\x04\x20\x0A\x00\x01\x40\x0A\x00\x62\x60\x0A\x00\x02\x40\x0A\x00\x63\x60\x0A\x40\x22\x01\x81\x64\x20\x0A\x40\x39\x20\x0A\x00\x65\x60\x0A\x00\x05\x40\x0A\x00\x66\x20\x0A\x00\xFF\x02\x06\x00\x02\x02\x67\x31\x05\x00\x04\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x3E\xF7\x83\x43\x7A\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x3E\xF7\x83\x43\x7A\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x3E\xF7\x83\x43\x7A\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x3E\xF7\x83\x43\x7A\x01\x00\x00\x01\x01\x03\x63\x31\x31\x3E\xF7\x83\x43\x7A\x01\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x02\x67\x32\x00\x00\x00\x00\x09\x00\x3D\x52\xEF\x68\x67\x52\x1D\xFA""#;
    common::assert_same_replies(&[legacy, "XINFO STREAM x FULL", "XINFO GROUPS x"]);
}
