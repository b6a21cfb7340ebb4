//! Keyspace notifications against redis-server: a subscriber to
//! `__key*__:*` on each server while the same commands run on both; the
//! two message streams must be identical, event for event, in order.

mod common;

use common::{words, Conn, ServerProcess};
use std::time::Duration;

/// The end of a stream: published by the test itself once the script ran.
const END: &str = "__keyevent@0__:zz-end";

/// Every command family that changes keys, with the cases where Redis
/// emits extra events (a key emptied, created, expired, moved).
const SCRIPT: &[&str] = &[
    // Strings.
    "SET s v",
    "SET s v2 EX 100",
    "SET s v3 KEEPTTL",
    "SET s v4 NX",
    "SET s v5 XX PX 100000",
    "SET s2 v GET",
    "SETNX s3 a",
    "SETNX s3 b",
    "SETEX s4 100 v",
    "PSETEX s5 100000 v",
    "GETSET s v6",
    "MSET m1 a m2 b",
    "MSETNX m3 a m4 b",
    "MSETNX m3 a m5 b",
    "INCR n",
    "DECR n",
    "INCRBY n 5",
    "DECRBY n 2",
    "INCRBYFLOAT f 1.5",
    "APPEND s x",
    "APPEND ap x",
    "SETRANGE s 1 yy",
    "SETRANGE s 1 \"\"",
    "SETRANGE sr 2 ab",
    // Bitmaps.
    "SETBIT bits 7 1",
    "SETBIT bits 7 1",
    "SETBIT bits 100 0",
    "BITFIELD bits SET u8 0 1 INCRBY u4 8 2",
    "BITFIELD bits GET u8 0",
    "BITFIELD bits OVERFLOW FAIL INCRBY u2 0 100",
    "BITFIELD newbits OVERFLOW FAIL INCRBY u2 0 100",
    "BITOP OR bitsdest bits newbits",
    "BITOP AND bitsdest nobits",
    "BITOP AND bitsdest nobits",
    "RPUSH tosort 3 1 2",
    "SORT tosort STORE sorted",
    "SORT tosort",
    "SORT nosuchlist STORE sorted",
    "PFADD hll a b c",
    "PFADD hll a",
    "PFCOUNT hll",
    "PFMERGE hll2 hll",
    "GEOADD geo 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
    "GEOSEARCHSTORE geodst geo FROMMEMBER Palermo BYRADIUS 300 km",
    "GEORADIUS geo 15 37 200 km STORE geodst2",
    "GEORADIUS geo 15 37 1 km STORE geodst2",
    "GETDEL s2",
    "GETDEL nothing",
    "GETEX s EX 100",
    "GETEX s PERSIST",
    "GETEX s",
    "GETEX s5 PX -1",
    "SET x 1",
    "GET x",
    // Keys.
    "DEL m1 m2 nothing",
    "UNLINK m3",
    "EXPIRE s 100",
    "PEXPIRE s 100000",
    "EXPIREAT s 99999999999",
    "PEXPIREAT s 99999999999000",
    "EXPIRE s 100 NX",
    "PERSIST s",
    "PERSIST s",
    "EXPIRE m4 0",
    "SET e 1",
    "PEXPIREAT e 1",
    "RENAME s s9",
    "RENAME s9 s9",
    "SET t 1",
    "RENAME s9 t",
    "RENAMENX t u",
    "RENAMENX u x",
    "COPY u cp",
    "COPY u cp REPLACE",
    "COPY u cp3 DB 3",
    "MOVE cp 2",
    "MOVE nothing 2",
    "SWAPDB 0 2",
    "SWAPDB 0 2",
    "SET d 1",
    "DUMP d",
    "FLUSHDB",
    "SET d2 1",
    // Lists.
    "LPUSH l a b c",
    "RPUSH l d e",
    "LPUSHX l f",
    "RPUSHX l g",
    "LPUSHX nol f",
    "LINSERT l BEFORE a z",
    "LINSERT l BEFORE zz z",
    "LSET l 0 q",
    "LREM l 1 q",
    "LREM l 1 nothing",
    "LTRIM l 0 3",
    "LTRIM l 0 2",
    "LPOP l",
    "RPOP l 1",
    "RPOPLPUSH l l2",
    "LMOVE l l2 LEFT RIGHT",
    "LMOVE l2 l2 LEFT RIGHT",
    "LMPOP 2 nol l2 LEFT COUNT 1",
    "RPUSH l3 a",
    "LPOP l3",
    "RPUSH l4 a b",
    "LTRIM l4 5 6",
    "RPUSH l5 a",
    "LREM l5 0 a",
    "RPUSH l6 x",
    "RPOPLPUSH l6 l6",
    "RPOPLPUSH l6 l7",
    "BLPOP l7 0",
    "RPUSH l8 a",
    "BRPOPLPUSH l8 l9 0",
    "BLMPOP 0 1 l9 RIGHT",
    // Hashes.
    "HSET h a 1 b 2",
    "HSET h a 1",
    "HMSET h c 3",
    "HSETNX h a 9",
    "HSETNX h d 4",
    "HINCRBY h n 1",
    "HINCRBYFLOAT h f 1.5",
    "HDEL h a nothing",
    "HDEL h nothing",
    "HDEL h b c d n f",
    // Sets.
    "SADD st a b c",
    "SADD st a",
    "SREM st a",
    "SREM st nothing",
    "SMOVE st st2 b",
    "SMOVE st st2 nothing",
    "SMOVE st st2 c",
    "SADD s1 a b c",
    "SADD s2 b c d",
    "SINTERSTORE si s1 s2",
    "SUNIONSTORE su s1 s2",
    "SDIFFSTORE sd s1 s2",
    "SDIFFSTORE sd s1 s1",
    "SINTERSTORE si nothing s1",
    "SPOP s1",
    "SPOP su 2",
    "SPOP s2 10",
    "SPOP s1 0",
    "SADD s6 x",
    "SPOP s6",
    // Sorted sets.
    "ZADD z 1 a 2 b 3 c",
    "ZADD z 1 a",
    "ZADD z XX 5 a",
    "ZADD z NX 5 a",
    "ZADD z INCR 1 a",
    "ZINCRBY z 2 b",
    "ZADD nz XX 1 a",
    "ZREM z a nothing",
    "ZREM z nothing",
    "ZADD z 4 d 5 e 6 f 7 g",
    "ZREMRANGEBYSCORE z 4 4",
    "ZREMRANGEBYRANK z 0 0",
    "ZREMRANGEBYLEX z - +",
    "ZADD z 1 a 2 b 3 c 4 d",
    "ZPOPMIN z",
    "ZPOPMAX z 1",
    "ZMPOP 1 z MIN COUNT 1",
    "ZADD za 1 a 2 b",
    "ZADD zb 2 b 3 c",
    "ZUNIONSTORE zu 2 za zb",
    "ZINTERSTORE zi 2 za zb",
    "ZDIFFSTORE zd 2 za zb",
    "ZDIFFSTORE zd 2 za za",
    "ZRANGESTORE zr za 0 -1",
    "ZRANGESTORE zr za 5 6",
    "BZPOPMIN z 0",
    "BZPOPMAX za 0",
    "BZMPOP 0 1 zb MAX COUNT 5",
    "ZADD z1 1 a",
    "ZPOPMIN z1 5",
    // Streams.
    "XADD x 1-1 a 1",
    "XADD x 2-1 b 2",
    "XADD x MAXLEN 1 3-1 c 3",
    "XADD x MAXLEN 5 4-1 d 4",
    "XADD nx NOMKSTREAM * a 1",
    "XTRIM x MAXLEN 10",
    "XTRIM x MAXLEN 1",
    "XADD x 5-1 e 5",
    "XDEL x 1-1",
    "XDEL x 5-1",
    "XSETID x 10-0",
    "XGROUP CREATE x g 0",
    "XGROUP CREATE xm g $ MKSTREAM",
    "XGROUP SETID x g 0",
    "XGROUP CREATECONSUMER x g c1",
    "XGROUP CREATECONSUMER x g c1",
    "XREADGROUP GROUP g c2 STREAMS x >",
    "XREADGROUP GROUP g c2 STREAMS x 0",
    "XCLAIM x g c3 0 4-1",
    "XAUTOCLAIM x g c4 0 0",
    "XACK x g 4-1",
    "XGROUP DELCONSUMER x g c1",
    "XGROUP DESTROY x g",
    "XGROUP DESTROY x g",
    "XTRIM x MAXLEN 0",
    "XADD x2 1-1 a 1",
    "XDEL x2 1-1",
    // Wrong types and errors announce nothing.
    "LPUSH h x",
    "INCR h",
    "SADD z x",
    // Restore.
    "SET src 1",
    "RESTORE r 0 \"\\x00\\xc0\\x01\\n\\x00&x\\xe7\\xb6\\xd1\\x01\\x11\\xfc\"",
    "RESTORE r 0 \"\\x00\\xc0\\x01\\n\\x00&x\\xe7\\xb6\\xd1\\x01\\x11\\xfc\" REPLACE",
    // Scripts announce their commands' events.
    "EVAL \"redis.call('set', 'sc', '1') redis.call('lpush', 'sl', 'a') return redis.call('del', 'sc')\" 0",
    "FLUSHALL",
];

/// Runs `script` against a server started with `flags` and returns what a
/// `__key*__:*` subscriber (in `protocol`) received, frame by frame.
fn stream(server: &ServerProcess, protocol: u8, script: &[&str]) -> Vec<String> {
    let mut subscriber = server.connect();
    if protocol == 3 {
        subscriber.run("HELLO 3");
    }
    subscriber.run("PSUBSCRIBE __key*__:*");
    let mut client = server.connect();
    let mut blocked = server.connect();
    let mut waiting = 0;
    for line in script {
        if let Some(ms) = line.strip_prefix("sleep ") {
            std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
            continue;
        }
        // `&`: sent by a second client that blocks; its reply is read at
        // the end.
        let (blocks, line) = match line.strip_prefix('&') {
            Some(rest) => (true, rest),
            None => (false, *line),
        };
        let args = words(line);
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        if blocks {
            blocked.send(&common::encode(&refs));
            waiting += 1;
            // Let it block before the next command.
            std::thread::sleep(Duration::from_millis(50));
        } else {
            client.cmd(&refs);
        }
    }
    for _ in 0..waiting {
        blocked.read_reply();
    }
    client.run(&format!("PUBLISH {END} done"));
    frames_until_end(&mut subscriber)
}

fn frames_until_end(subscriber: &mut Conn) -> Vec<String> {
    let mut frames = Vec::new();
    loop {
        let frame = String::from_utf8_lossy(&subscriber.read_reply()).into_owned();
        if frame.contains(END) {
            return frames;
        }
        frames.push(frame.replace("\r\n", " "));
    }
}

fn assert_same_stream(flags: &str, protocol: u8, script: &[&str]) {
    let extra = ["--notify-keyspace-events", flags];
    let redis =
        ServerProcess::redis_with(&["--save", "", "--appendonly", "no", extra[0], extra[1]]);
    let rudis = ServerProcess::rudis(&["--save", "", extra[0], extra[1]]);
    let expected = stream(&redis, protocol, script);
    let got = stream(&rudis, protocol, script);
    for (i, (e, g)) in expected.iter().zip(&got).enumerate() {
        assert_eq!(
            e, g,
            "frame {i} with {flags:?} (left: redis-server, right: rudis)"
        );
    }
    assert_eq!(
        expected.len(),
        got.len(),
        "frame count with {flags:?}; redis-server's extra: {:?}; rudis's extra: {:?}",
        expected.get(got.len()..),
        got.get(expected.len()..)
    );
}

#[test]
fn every_command_announces_what_redis_announces() {
    assert_same_stream("KEA", 2, SCRIPT);
}

#[test]
fn new_keys_and_misses_are_announced_when_asked() {
    assert_same_stream("KEAnm", 2, SCRIPT);
}

#[test]
fn resp3_subscribers_get_push_frames() {
    assert_same_stream("KEA", 3, SCRIPT);
}

#[test]
fn expired_keys_are_announced_by_lazy_and_active_expiry() {
    let script = [
        "SET lazy v PX 1",
        "sleep 20",
        "DEBUG SET-ACTIVE-EXPIRE 0",
        "GET lazy",
        "SET lazy2 v PX 1",
        "sleep 20",
        "SET lazy2 again",
        "RPUSH lazy3 a",
        "PEXPIRE lazy3 1",
        "sleep 20",
        "RPUSH lazy3 b",
        "DEBUG SET-ACTIVE-EXPIRE 1",
        "SET active v PX 50",
        "sleep 400",
        "GET active",
    ];
    assert_same_stream("KEA", 2, &script);
    assert_same_stream("Ex", 2, &script);
}

#[test]
fn blocked_clients_and_transactions_announce_in_order() {
    let script = [
        "&BLPOP bl 0",
        "RPUSH bl a b",
        "&BLMOVE bm bm2 LEFT RIGHT 0",
        "LPUSH bm x",
        "&BZPOPMIN bz 0",
        "ZADD bz 1 a",
        "&BLMPOP 0 1 bmp LEFT COUNT 2",
        "RPUSH bmp a b",
        "&BZMPOP 0 1 bzm MAX",
        "ZADD bzm 1 a 2 b",
        "XGROUP CREATE bx g $ MKSTREAM",
        "&XREADGROUP GROUP g c BLOCK 0 STREAMS bx >",
        "XADD bx 1-1 a 1",
        "&XREAD BLOCK 0 STREAMS bx $",
        "XADD bx 2-1 a 1",
        "MULTI",
        "SET t1 a",
        "LPUSH t2 a",
        "DEL t1",
        "EXEC",
        "DEBUG POPULATE 3 pop",
        "DEBUG POPULATE 3 pop",
    ];
    assert_same_stream("KEA", 2, &script);
    assert_same_stream("KEAn", 2, &script);
}

#[test]
fn classes_filter_events() {
    for flags in [
        "K$", "El", "Kgs", "Eh", "Kz", "A", "Kn", "Em", "E$lshz", "Kt",
    ] {
        assert_same_stream(flags, 2, SCRIPT);
    }
}

#[test]
fn the_setting_reads_back_as_redis_prints_it() {
    common::assert_same_replies(&[
        "CONFIG GET notify-keyspace-events",
        "CONFIG SET notify-keyspace-events KEA",
        "CONFIG GET notify-keyspace-events",
        "CONFIG SET notify-keyspace-events g$lshzxetdKEmn",
        "CONFIG GET notify-keyspace-events",
        "CONFIG SET notify-keyspace-events mtng",
        "CONFIG GET notify-keyspace-events",
        "CONFIG SET notify-keyspace-events KEq",
        "CONFIG GET notify-keyspace-events",
        "CONFIG SET notify-keyspace-events \"\"",
        "CONFIG GET notify-keyspace-events",
    ]);
}

#[test]
fn config_set_starts_and_stops_events() {
    let server = ServerProcess::rudis(&[]);
    let mut subscriber = server.connect();
    subscriber.run("PSUBSCRIBE __key*__:*");
    let mut client = server.connect();
    client.run("SET quiet 1");
    client.run("CONFIG SET notify-keyspace-events Ex");
    client.run("SET gone v PX 1");
    std::thread::sleep(Duration::from_millis(20));
    client.run("GET gone");
    let off = client.cmd(&[b"CONFIG", b"SET", b"notify-keyspace-events", b""]);
    assert_eq!(off, b"+OK\r\n");
    client.run("SET gone2 v PX 1");
    std::thread::sleep(Duration::from_millis(20));
    client.run("GET gone2");
    client.run(&format!("PUBLISH {END} done"));
    let frames = frames_until_end(&mut subscriber);
    assert_eq!(
        frames,
        ["*4 $8 pmessage $10 __key*__:* $22 __keyevent@0__:expired $4 gone "]
    );
}
