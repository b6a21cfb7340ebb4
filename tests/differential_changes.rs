//! Differential tests of the change counter (`rdb_changes_since_last_save`,
//! Redis's `server.dirty`) against a real redis-server 7.0: every write
//! command counts what Redis counts, which also decides whether it is
//! written to the AOF and sent to replicas (a command that changed
//! nothing is not), and is written there in the same form.

mod common;

use common::{
    assert_same_changes, assert_same_changes_with, encode, eventually, info_field, ServerProcess,
};
use std::time::Duration;

#[test]
fn strings_and_keys() {
    assert_same_changes(&[
        "restore rk 0 \"\\x00\\x01v\\x0a\\x00\\x91\\x08\\xce\\xb2\\x19\\x38\\x8a\\xce\"",
        "restore rk 0 \"\\x00\\x01v\\x0a\\x00\\x91\\x08\\xce\\xb2\\x19\\x38\\x8a\\xce\"",
        "restore rk 0 \"\\x00\\x01v\\x0a\\x00\\x91\\x08\\xce\\xb2\\x19\\x38\\x8a\\xce\" replace",
        "restore rk 100000 \"\\x00\\x01v\\x0a\\x00\\x91\\x08\\xce\\xb2\\x19\\x38\\x8a\\xce\" replace",
        "restore rk 1 \"\\x00\\x01v\\x0a\\x00\\x91\\x08\\xce\\xb2\\x19\\x38\\x8a\\xce\" replace absttl",
        "restore rk2 1 \"\\x00\\x01v\\x0a\\x00\\x91\\x08\\xce\\xb2\\x19\\x38\\x8a\\xce\" absttl",
        "set k v",
        "set k v",
        "set k v nx",
        "set k v2 xx",
        "set k v get",
        "setnx k v",
        "setnx k2 v",
        "setex k3 100 v",
        "psetex k4 100000 v",
        "getset k x",
        "getdel k2",
        "append k abc",
        "append newk abc",
        "setrange k 1 zz",
        "setrange k 100 \"\"",
        "incr n",
        "incr n",
        "incrby n 5",
        "decr n",
        "decrby n 2",
        "incrbyfloat f 1.5",
        "mset a 1 b 2 c 3",
        "msetnx a 1 d 2",
        "msetnx x1 1 x2 2",
        "del a b zz",
        "unlink c",
        "exists a",
        "expire k 100",
        "expire nokey 100",
        "pexpire k 100000",
        "expireat k 99999999999",
        "persist k",
        "persist k",
        "rename k k5",
        "renamenx k5 d",
        "copy k5 k6",
        "move k6 1",
        "getex k5 ex 100",
        "getex k5 persist",
        "getex k5",
        "setbit bits 7 1",
        "setbit bits 7 1",
        "setbit bits 7 0",
        "bitop and bd bits bits",
        "bitfield bf set u8 0 200 incrby u8 0 1",
        "bitfield bf get u8 0",
        "flushdb",
        "flushall",
        "swapdb 0 1",
        "set k v ex 100",
        "set k v px 100000 nx",
        "set k v keepttl",
        "getex k px 5000",
        "getex k",
        "set big 1",
        "expire big -1",
        "set j 1",
        "pexpireat j 1",
        "bitfield bf set u8 0 200",
        "bitfield bf get u8 0",
        "bitfield bf incrby u8 0 100 overflow fail incrby u8 0 200",
        "bitfield nobf get u8 0",
        "bitop or bo nobits nobits2",
        "bitop or bo bf bf",
        "set c1 v",
        "copy c1 c2",
        "copy c1 c2",
        "copy c1 c2 replace",
        "copy nothing c3",
        "del c1 c2 nothing",
        "set gd v",
        "getdel gd",
        "getdel gd",
        "set ge v",
        "getex ge ex 100",
        "getex ge persist",
        "getex ge persist",
        "getex nothing ex 100",
        "getset gs4 v",
        "set mv v",
        "move mv 1",
        "move mv 1",
        "mset a 1 b 2",
        "msetnx a 1 q 2",
        "msetnx q1 1 q2 2",
        "set p v ex 100",
        "persist p",
        "pexpire p 100000",
        "pexpire p 100000 nx",
        "pexpire p 100000 xx",
        "pexpire nothing 1000",
        "expire p 100 gt",
        "expire p 1 lt",
        "pexpireat p 99999999999999",
        "psetex ps 100000 v",
        "rename p p2",
        "rename p2 p2",
        "renamenx p2 ps",
        "renamenx p2 p3",
        "set sb v",
        "setbit sb 3 1",
        "setbit newbits 100 0",
        "setex se 100 v",
        "setnx se v",
        "setnx sn v",
        "setrange sr 0 abc",
        "setrange sr 1 \"\"",
        "setrange sr2 5 \"\"",
        "setrange sr 1 x",
        "unlink su sd",
        "append ap x",
        "append ap y",
        "append ap \"\"",
        "set ib 10",
        "incrbyfloat ib 0.5",
        "swapdb 0 1",
        "swapdb 0 0",
        "flushdb",
        "flushall",
        "set s1 v",
        "set str2 10",
        "getset str2 20",
        "setnx str2 1",
        "set str2 5 keepttl",
        "object freq str2",
    ]);
}

#[test]
fn lists() {
    assert_same_changes(&[
        "rpush l a",
        "rpush l b c",
        "lpush l x y z",
        "rpushx l q",
        "rpushx nol q",
        "lpushx l q",
        "lpop l",
        "lpop l 2",
        "rpop l 3",
        "lpop nolist",
        "linsert l before a NEW",
        "linsert l before nothere NEW",
        "lset l 0 Z",
        "lrem l 0 Z",
        "lrem l 0 nothere",
        "ltrim l 0 1",
        "ltrim l 0 100",
        "rpoplpush l l2",
        "lmove l2 l LEFT RIGHT",
        "sort l store sorted",
        "lpush ll a",
        "lpop ll",
        "rpush ll2 a b",
        "lmpop 1 ll2 left count 5",
        "rpush bl a b",
        "blmove bl bl2 left right 0",
        "blmpop 0 1 bl left count 3",
        "rpush bl3 a",
        "blpop bl3 0",
        "rpush bl3 a b",
        "brpop bl3 0",
        "brpoplpush bl3 bl4 0",
        "linsert nolist before a b",
        "rpush li a b c",
        "linsert li after b x",
        "lmove li li right left",
        "lmove nolist li left left",
        "lmpop 2 nolist li right count 2",
        "lpushx nolist a",
        "lpushx li a b c",
        "lrem li 2 a",
        "lset li 0 y",
        "ltrim li 1 -1",
        "ltrim li 0 -1",
        "rpush r a",
        "rpop r",
        "rpop r",
        "rpoplpush nolist x",
        "rpushx nolist a",
        "rpushx r a",
        "rpush r2 a b c",
        "sort r2 store so",
        "sort nothing store so2",
        "sort r2 limit 0 1 store so3",
        "lpush li2 a b c",
        "lpos li2 a",
        "sort li2 alpha store sorted2",
        "sort li2 alpha limit 0 0 store sorted3",
    ]);
}

#[test]
fn sets() {
    assert_same_changes(&[
        "sadd s a b c",
        "sadd s a d",
        "sadd s a",
        "srem s a z",
        "srem s z",
        "?spop s",
        "spop s 2",
        "smove s s2 b",
        "sadd s x y",
        "sinterstore dst s s2",
        "sunionstore dst s s2",
        "sdiffstore dst s s2",
        "sadd s2 a",
        "spop s2",
        "sadd s3 a b c d",
        "?spop s3 2",
        "srandmember s3",
        "smove s3 s4 nothere",
        "sinterstore dst nothere nothere2",
        "sinterstore dst s3 s3",
        "sadd s1 a b c",
        "sadd s2 b c d",
        "sdiffstore sd s1 s2",
        "sdiffstore sd nothing nothing2",
        "sinterstore si s1 s2",
        "sunionstore su s1 s2",
        "smove s1 s2 a",
        "smove s1 s2 b",
        "spop s2 0",
        "spop s2 5",
        "spop nothing 3",
        "srem s2 a b c d e",
        "sunionstore s1 nothing",
        "sadd sa 1 2 3",
        "sadd sb 3 4",
        "sinterstore dd sa sb",
        "sinterstore dd nothing",
    ]);
}

#[test]
fn hashes() {
    assert_same_changes(&[
        "hset h a 1 b 2",
        "hset h a 1",
        "hset h a 2 c 3",
        "hsetnx h a 1",
        "hsetnx h z 1",
        "hmset h q 1 w 2",
        "hdel h a b",
        "hdel h nothere",
        "hincrby h i 1",
        "hincrbyfloat h f 1.5",
        "hset hh f v",
        "hincrbyfloat hh g 1",
        "hincrby hh g 1",
        "hset hh a 1 b 2",
        "hdel hh a b",
        "hincrbyfloat hh f 2.5",
        "hmset hh a 1",
        "hsetnx hh a 2",
        "hset hx f 1",
        "hincrbyfloat hx f 0",
        "hincrby hx f 0",
    ]);
}

#[test]
fn sorted_sets() {
    assert_same_changes(&[
        "zadd z 1 a 2 b 3 c",
        "zadd z 1 a",
        "zadd z 5 a",
        "zadd z nx 1 d 9 a",
        "zadd z xx ch 3 a 7 nothere",
        "zadd z incr 2 a",
        "zincrby z 1 b",
        "zrem z a nothere",
        "zrem z nothere",
        "zremrangebyrank z 0 0",
        "zremrangebyscore z 0 1",
        "zadd z 1 q 1 w 1 e",
        "zremrangebylex z - +",
        "zadd z 1 a 2 b",
        "zpopmin z",
        "zpopmax z 2",
        "zunionstore zd 1 z",
        "zadd z 1 a 2 b",
        "zrangestore zd2 z 0 -1",
        "zadd zz 1 a 2 b",
        "zmpop 1 zz min count 5",
        "zadd bz 1 a 2 b 3 c",
        "bzmpop 0 1 bz min count 2",
        "bzpopmax bz 0",
        "zadd bz 1 a 2 b",
        "bzpopmin bz 0",
        "geoadd g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "geoadd g 13.361389 38.115556 Palermo",
        "geoadd g xx ch 13.0 38.0 Palermo",
        "georadius g 15 37 200 km store gs",
        "georadiusbymember g Palermo 200 km storedist gs2",
        "geosearchstore gs3 g frommember Palermo byradius 200 km",
        "geosearchstore gs3 g frommember Palermo byradius 1 m",
        "zadd za 1 a 2 b 3 c",
        "zadd zb 2 b 3 c 4 d",
        "zdiffstore zdst 2 za zb",
        "zinterstore zi 2 za zb",
        "zunionstore zu 2 za zb",
        "zincrby za 1 a",
        "zincrby za 1 new",
        "zmpop 1 za max count 10",
        "zpopmax zb 2",
        "zpopmin zb 1",
        "zpopmin nothing 1",
        "zrangestore zr zu 0 -1",
        "zrangestore zr nothing 0 -1",
        "zrem zu a b nothere",
        "zremrangebylex zu - +",
        "zadd zc 1 a 1 b 1 c",
        "zremrangebyrank zc 0 1",
        "zremrangebyscore zc 0 0",
        "zadd za2 1 a",
        "zunionstore zz 1 nothing",
        "zunionstore zz 1 za2",
        "zincrby za2 0 a",
        "zadd za2 incr 0 a",
        "zadd za2 gt 0 a",
    ]);
}

#[test]
fn hyperloglogs() {
    assert_same_changes(&[
        "pfadd hll a b c",
        "pfadd hll a",
        "pfadd hll d",
        "pfcount hll",
        "pfmerge hll2 hll",
        "pfadd ph",
        "pfadd ph2 a",
        "pfadd ph2 a",
        "pfdebug getreg ph2",
        "pfdebug todense ph2",
        "pfmerge ph3 ph2",
        "pfmerge ph3",
        "pfcount ph2",
        "pfcount ph2",
    ]);
}

#[test]
fn streams() {
    assert_same_changes(&[
        "xadd st * a 1",
        "xadd st * b 2",
        "xdel st 0-1",
        "xtrim st maxlen 1",
        "xgroup create st g $",
        "xgroup createconsumer st g c1",
        "xgroup delconsumer st g c1",
        "xgroup setid st g 0",
        "xgroup destroy st g",
        "xadd x * a 1",
        "xadd x maxlen 1 * b 2",
        "xadd x nomkstream * c 3",
        "xadd nox nomkstream * c 3",
        "xgroup create x g 0",
        "xgroup create x g 0",
        "xreadgroup group g c1 count 10 streams x >",
        "xreadgroup group g c1 count 10 streams x 0",
        "xack x g 0-0",
        "xautoclaim x g c2 0 0",
        "xclaim x g c3 0 0-0",
        "xsetid x 99999999999999-0",
        "xdel x 1-1",
        "xtrim x maxlen 0",
        "xtrim x maxlen 0",
        "xgroup createconsumer x g c9",
        "xgroup createconsumer x g c9",
        "xgroup delconsumer x g c9",
        "xgroup destroy x g",
        "xgroup destroy x g",
        "xadd xs * a 1",
        "xadd xs * a 2",
        "xadd xs * a 3",
        "xgroup create xs g2 0",
        "xreadgroup group g2 c1 count 2 streams xs >",
        "xack xs g2 0-1",
        "xpending xs g2",
        "xclaim xs g2 c5 0 0-1",
        "xautoclaim xs g2 c6 0 0 count 1",
        "xgroup create xnew g mkstream",
        "xgroup create xs g3 $ mkstream",
        "xreadgroup group g2 c1 noack streams xs >",
        "xadd xs * a 4",
        "xreadgroup group g2 c9 noack streams xs >",
        "xgroup delconsumer xs g2 nobody",
        "xadd xe 1-1 a 1",
        "xadd xe 1-2 a 2",
        "xadd xe 1-3 a 3",
        "xadd xe 1-4 a 4",
        "xgroup create xe g 0",
        "xreadgroup group g c1 count 3 streams xe >",
        "xack xe g 1-1 1-2 9-9",
        "xclaim xe g c2 0 1-3",
        "xclaim xe g c2 0 1-3 justid",
        "xdel xe 1-3",
        "xautoclaim xe g c3 0 0 count 10",
        "xreadgroup group g c1 streams xe 0",
        "xreadgroup group g c4 streams xe 0",
        "xgroup delconsumer xe g c1",
        "xgroup delconsumer xe g c4",
    ]);
}

#[test]
fn transactions_and_scripts() {
    assert_same_changes(&[
        "multi ; incr m1 ; sadd m2 a ; sadd m2 a ; exec",
        "eval \"redis.call('sadd', KEYS[1], 'x'); return redis.call('sadd', KEYS[1], 'x')\" 1 evs",
        "eval \"return redis.call('get', KEYS[1])\" 1 evs2",
    ]);
}

/// A command refused with WRONGTYPE is no change (and is not logged).
/// Commands logged in another form than they were sent: times made
/// absolute, random or approximate choices made definite, options that
/// change nothing dropped, the lazy-free settings' UNLINKs.
#[test]
fn effect_forms() {
    assert_same_changes_with(
        &["--enable-debug-command", "yes"],
        &[
            "debug set-active-expire 0",
            "set k v get",
            "set k v2 get nx",
            "set k v3 xx get",
            "set k v4 get keepttl",
            "set k v5 ex 100 get",
            "getset k v6",
            "expire k 100 nx",
            "expire k 200 gt",
            "pexpire k 300000 xx",
            "expireat k 99999999999 lt",
            "pexpireat k 99999999998000",
            "expire k -1",
            "set k v",
            "expireat k 1",
            "config set lazyfree-lazy-expire yes",
            "set k v",
            "pexpire k -5",
            "set k v",
            "getex k pxat 1",
            "config set lazyfree-lazy-expire no",
            "config set lazyfree-lazy-user-del yes",
            "set k v",
            "getdel k",
            "config set lazyfree-lazy-user-del no",
            "set r 1",
            "dump r",
            "restore r2 0 \"\\x00\\xc0\\x01\\x0a\\x00&x\\xe7\\xb6\\xd1\\x01\\x11\\xfc\"",
            "restore r2 1 \"\\x00\\xc0\\x01\\x0a\\x00&x\\xe7\\xb6\\xd1\\x01\\x11\\xfc\" replace absttl",
            "sadd big 1 2 3 4 5 6 7 8 9 10",
            "?spop big 3",
            "?spop big 6",
            "spop big 5",
            "sadd one a",
            "spop one",
            "geoadd g nx ch 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
            "geoadd g xx 13.361389 38.115556 Palermo",
            "geoadd g ch 13.5 38.1 Palermo",
            "xadd x maxlen ~ 1 * a 1",
            "xadd x nomkstream minid = 0 * a 2",
            "xadd x 5 a 3",
            "xadd x 5-* a 4",
            "xtrim x maxlen ~ 0",
            "xtrim x maxlen 1",
            "xtrim x minid ~ 99999999999999",
            "xgroup create x g 0",
            "xadd x 7 a 5",
            "xclaim x g c1 0 5",
            "xadd y 1 a 1",
            "xgroup create y g 0",
            "xreadgroup group g c2 noack streams x y > >",
            "xreadgroup group g c3 noack streams x y 0 0",
            "xdel x 7",
            "xclaim x g c4 0 7",
        ],
    );
}

#[test]
fn wrong_type_errors_change_nothing() {
    assert_same_changes(&[
        "set str v",
        "sadd str a",
        "rpush str a",
        "hset str a b",
        "zadd str 1 a",
        "incr str",
        "lpop str",
        "spop str",
        "xadd str * a 1",
        "pfadd str a",
        "setbit str 0 1",
        "append str x",
        "lset str 0 x",
    ]);
}

/// A key deleted because its time came is logged as a DEL but is no
/// change of the command that found it.
#[test]
fn lazy_expiry_is_not_a_change() {
    assert_same_changes_with(
        &["--enable-debug-command", "yes"],
        &[
            // Only the commands find the keys expired.
            "debug set-active-expire 0",
            "set e v px 1",
            "debug sleep 0.01",
            "get e",
            "set e2 v px 1",
            "debug sleep 0.01",
            "exists e2",
            "set e3 v px 1",
            "debug sleep 0.01",
            "sadd e3 a",
            "set e4 v px 1",
            "debug sleep 0.01",
            "incr e4",
        ],
    );
}

/// The changes counted while `push` serves a client blocked in `wait`.
fn served_changes(server: &ServerProcess, wait: &str, push: &str) -> i64 {
    let mut writer = server.connect();
    let changes = |conn: &mut common::Conn| -> i64 {
        info_field(conn, "persistence", "rdb_changes_since_last_save")
            .parse()
            .unwrap()
    };
    writer.run("FLUSHALL");
    writer.run("XGROUP CREATE xs g $ MKSTREAM");
    let before = changes(&mut writer);
    let mut waiter = server.connect();
    let words: Vec<&[u8]> = wait.split(' ').map(str::as_bytes).collect();
    waiter.send(&encode(&words));
    assert!(eventually(Duration::from_secs(5), || info_field(
        &mut writer,
        "clients",
        "blocked_clients"
    ) == "1"));
    writer.run(push);
    waiter.read_reply();
    changes(&mut writer) - before
}

/// A blocked client served by another's push: Redis counts the push,
/// and BLMPOP's and BZPOPMIN's pops, but not BLPOP's or BLMOVE's.
#[test]
fn blocked_clients_served_by_a_push() {
    let (redis, rudis) = common::server_pair(&[]);
    for (wait, push) in [
        ("BLPOP bk 0", "RPUSH bk x y"),
        ("BRPOP bk 0", "LPUSH bk x"),
        ("BLMOVE bk bk2 LEFT RIGHT 0", "RPUSH bk x"),
        ("BRPOPLPUSH bk bk2 0", "RPUSH bk x y"),
        ("BLMPOP 0 1 bk LEFT COUNT 5", "RPUSH bk x y z"),
        ("BZPOPMIN bz 0", "ZADD bz 1 a 2 b"),
        ("BZMPOP 0 1 bz MAX COUNT 5", "ZADD bz 1 a 2 b"),
        ("XREADGROUP GROUP g c BLOCK 0 STREAMS xs >", "XADD xs * a 1"),
    ] {
        assert_eq!(
            served_changes(&redis, wait, push),
            served_changes(&rudis, wait, push),
            "changes counted for {wait:?} served by {push:?} (left: redis-server, right: rudis)"
        );
    }
}
