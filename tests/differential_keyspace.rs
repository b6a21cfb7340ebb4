//! Differential tests of the keyspace: strings, generic key commands,
//! databases and expiry, against a real redis-server 7.0.

mod common;

use common::{assert_same_replies, Conn};
use std::time::Duration;

#[test]
fn get_set_and_options() {
    assert_same_replies(&[
        "get k",
        "set k v",
        "get k",
        "set k \"\"",
        "get k",
        "set k v nx",
        "set k2 v xx",
        "set k v2 xx",
        "get k",
        "set k v3 get",
        "set nokey v get",
        "set k v nx xx",
        "set k v xx nx",
        "set k v ex 10 px 100",
        "set k v ex 10 keepttl",
        "set k v keepttl ex 10",
        "set k v ex 0",
        "set k v ex -1",
        "set k v ex x",
        "set k v px 0",
        "set k v ex 9223372036854775",
        "set k v px 9223372036854775807",
        "set k v exat 0",
        "set k v ex 100 ex 200",
        "ttl k",
        "set k v keepttl",
        "ttl k",
        "set k v",
        "ttl k",
        "set k v foo",
        "set k v ex",
        "set k v nx get",
        "set k v xx get",
        "set k",
        "get",
        "setnx k v",
        "setnx k9 v",
        "setex k 10 v",
        "ttl k",
        "setex k 0 v",
        "setex k x v",
        "setex k -5 v",
        "psetex k 0 v",
        "psetex k 100000 v",
        "?pttl k",
        "getset k new",
        "getset missing new",
        "get missing",
        "ttl k",
        "getdel k",
        "getdel k",
        "get k",
        "mset a 1 b 2 c 3",
        "mget a b c d",
        "mset a 1 b",
        "msetnx a 1 z 2",
        "msetnx y 1 z 2",
        "mget y z",
        "msetnx y",
    ]);
}

#[test]
fn counters() {
    assert_same_replies(&[
        "incr n",
        "incr n",
        "incrby n 10",
        "decr n",
        "decrby n 5",
        "incrby n x",
        "incrby n 1.5",
        "decrby n -9223372036854775808",
        "set n 9223372036854775807",
        "incr n",
        "set n -9223372036854775808",
        "decr n",
        "decrby n 1",
        "set n abc",
        "incr n",
        "set n \" 1\"",
        "incr n",
        "set n 01",
        "incr n",
        "set n 10",
        "expire n 100",
        "incr n",
        "ttl n",
        "incrbyfloat f 0.1",
        "incrbyfloat f 0.2",
        "incrbyfloat f 1e3",
        "incrbyfloat f -1000.3",
        "set f 1000000",
        "incrbyfloat f 1.1",
        "set f 10.50",
        "incrbyfloat f 0.1",
        "incrbyfloat f 5.0e3",
        "incrbyfloat f abc",
        "incrbyfloat f inf",
        "incrbyfloat f \" 1\"",
        "set f abc",
        "incrbyfloat f 1",
        "set f 3",
        "incrbyfloat f 0x10",
        "incrbyfloat f 1e400",
    ]);
}

#[test]
fn string_editing() {
    assert_same_replies(&[
        "append s hello",
        "append s \" world\"",
        "get s",
        "strlen s",
        "strlen nothing",
        "getrange s 0 4",
        "getrange s -5 -1",
        "getrange s 6 100",
        "getrange s -1 -5",
        "getrange s 5 3",
        "getrange s 0 -100",
        "getrange s x 1",
        "getrange nothing 0 -1",
        "substr s 0 2",
        "setrange s 6 WORLD",
        "get s",
        "setrange s 20 x",
        "get s",
        "setrange s -1 x",
        "setrange s x x",
        "setrange new 3 abc",
        "get new",
        "setrange empty 3 \"\"",
        "exists empty",
        "setrange s 0 \"\"",
        "setrange s 536870912 x",
        "getex s",
        "getex s ex 100",
        "ttl s",
        "getex s persist",
        "ttl s",
        "getex s px 100000 persist",
        "getex s ex 0",
        "getex s ex 10 px 10",
        "getex s foo",
        "getex missing ex 10",
        "getex s exat 1",
        "exists s",
    ]);
}

#[test]
fn type_errors_across_commands() {
    // Only strings exist here; each family gets its WRONGTYPE checks in its
    // own suite once the other types exist.
    assert_same_replies(&[
        "set s v",
        "type s",
        "type nothing",
        "object encoding s",
        "set i 123",
        "object encoding i",
        "set big 12345678901234567890123",
        "object encoding big",
        "set long aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "object encoding long",
        "object encoding nothing",
        "set r 12",
        "append r 3",
        "object encoding r",
        "object refcount r",
        "append fresh 123",
        "object encoding fresh",
        "setrange made 0 5",
        "object encoding made",
        "incr made",
        "object encoding made",
        "set f 1",
        "incrbyfloat f 2",
        "object encoding f",
        "incrbyfloat f2 0.5",
        "object encoding f2",
        "hscan nothing -1",
        "sscan f \"\"",
        "zscan f -1 foo",
        "hscan f 0 count 0",
        "object refcount i",
        "object refcount s",
        "object refcount nothing",
        "object idletime nothing",
        "object freq s",
        "object foo s",
        "object encoding",
    ]);
}

#[test]
fn generic_key_commands() {
    assert_same_replies(&[
        "mset a 1 b 2 c 3",
        "exists a b nothing a",
        "del a nothing a",
        "exists a",
        "unlink b c",
        "dbsize",
        "mset k1 1 k2 2 k3 3 other 4",
        "~keys k*",
        "~keys *",
        "~keys k[12]",
        "~keys k[^1]*",
        "~keys ?3",
        "keys nothing*",
        "touch k1 k2 nothing",
        "rename k1 k9",
        "get k9",
        "rename nothing x",
        "rename k9 k9",
        "renamenx k9 k9",
        "renamenx k9 k2",
        "renamenx k9 k10",
        "expire k10 100",
        "rename k10 k11",
        "ttl k11",
        "copy k11 k12",
        "ttl k12",
        "copy k11 k12",
        "copy k11 k12 replace",
        "copy k11 k11",
        "copy nothing k13",
        "copy k11 k13 db 1",
        "copy k11 k13 db 16",
        "copy k11 k13 db x",
        "copy k11 k13 foo",
        "set small 5",
        "copy small small2",
        "object refcount small2",
        "object encoding small2",
        "object refcount small",
        "copy small2 small3",
        "object refcount small3",
        "incr small2",
        "object refcount small2",
        "copy small small4",
        "append small4 1",
        "object encoding small4",
        "object refcount small4",
        "set big 10000",
        "copy big big2",
        "object refcount big2",
        "move k11 1",
        "move k11 1",
        "move k12 0",
        "move k12 16",
        "move k12 x",
        "move nothing 1",
        "select 1",
        "~keys *",
        "ttl k11",
        "select 0",
        "swapdb 0 1",
        "~keys *",
        "swapdb 0 16",
        "swapdb x 1",
        "swapdb 0 x",
        "swapdb 99999999999 1",
        "flushdb",
        "dbsize",
        "flushdb async",
        "flushdb foo",
        "flushall sync",
        "flushall x y",
        "randomkey",
        "set only one",
        "randomkey",
        "dbsize",
    ]);
}

#[test]
fn expiry_commands() {
    assert_same_replies(&[
        "set k v",
        "ttl k",
        "pttl k",
        "expiretime k",
        "pexpiretime k",
        "ttl nothing",
        "pttl nothing",
        "expiretime nothing",
        "expire nothing 10",
        "expire k 100",
        "ttl k",
        "expire k 100 nx",
        "expire k 200 xx",
        "ttl k",
        "expire k 100 gt",
        "expire k 300 gt",
        "ttl k",
        "expire k 400 lt",
        "expire k 100 lt",
        "ttl k",
        "expire k 10 nx xx",
        "expire k 10 gt lt",
        "expire k 10 foo",
        "expire k x",
        "expire k 9223372036854775807",
        "expire k -9223372036854775808",
        "pexpire k 9223372036854775807",
        "persist k",
        "persist k",
        "ttl k",
        "expire k 100 xx",
        "expire k 100 gt",
        "expire k 100 lt",
        "ttl k",
        "expireat k 4102444800",
        "expiretime k",
        "pexpireat k 4102444800123",
        "pexpiretime k",
        "expiretime k",
        "expireat k 1",
        "exists k",
        "set k v",
        "expire k -1",
        "exists k",
        "set k v",
        "pexpire k 0",
        "get k",
        "persist nothing",
    ]);
}

#[test]
fn scan_and_memory() {
    assert_same_replies(&[
        "scan x",
        "scan 0 count 0",
        "scan 0 count x",
        "scan 0 match",
        "scan 0 foo bar",
        "scan 0",
        "memory usage nothing",
        "memory usage k samples x",
        "memory usage k foo 1",
        "memory foo",
    ]);
}

/// EXISTS counts hits without touching a key (`LOOKUP_NOTOUCH`), TOUCH
/// touches it: seen through the LFU counter, which a touch raises.
#[test]
fn exists_leaves_access_alone_and_touch_stamps_it() {
    assert_same_replies(&[
        "config set maxmemory-policy allkeys-lfu",
        "set k v",
        "object freq k",
        "exists k",
        "exists k nokey",
        "object freq k",
        "type k",
        "ttl k",
        "object freq k",
        "touch k nokey",
        "object freq k",
    ]);
}

/// RESET logs the client back in as the default user, and out when the
/// default user needs a password.
#[test]
fn reset_returns_to_the_default_user() {
    assert_same_replies(&[
        "acl setuser user1 on >secret +@all",
        "auth user1 secret",
        "acl whoami",
        "reset",
        "acl whoami",
        "config set requirepass pw",
        "auth pw",
        "reset",
        "get k",
        "acl whoami",
        "auth pw",
        "config set requirepass \"\"",
    ]);
}

/// UNLINK, DEL with `lazyfree-lazy-user-del` and FLUSHALL ASYNC free big
/// values in the background and count them as Redis does: a value over
/// 64 frees counts one, a flush counts its keys, small values are freed
/// at once.
#[test]
fn lazy_freeing_counts_as_redis_counts() {
    common::assert_same_observations(|server| {
        let mut conn = server.connect();
        let freed = |conn: &mut Conn| common::info_field(conn, "memory", "lazyfreed_objects");
        let settle = |conn: &mut Conn| {
            common::eventually(Duration::from_secs(5), || {
                common::info_field(conn, "memory", "lazyfree_pending_objects") == "0"
            })
        };
        let members: Vec<Vec<u8>> = (0..1000).map(|i| format!("m{i}").into_bytes()).collect();
        let mut sadd: Vec<&[u8]> = vec![b"SADD", b"big"];
        sadd.extend(members.iter().map(Vec::as_slice));
        let mut seen = Vec::new();
        conn.cmd(&sadd);
        conn.run("SADD small a b c");
        seen.push(conn.run("UNLINK big small nothing"));
        settle(&mut conn);
        seen.push(freed(&mut conn).into_bytes());
        conn.run("CONFIG SET lazyfree-lazy-user-del yes");
        conn.cmd(&sadd);
        seen.push(conn.run("DEL big"));
        settle(&mut conn);
        seen.push(freed(&mut conn).into_bytes());
        conn.run("CONFIG RESETSTAT");
        seen.push(freed(&mut conn).into_bytes());
        for i in 0..10 {
            conn.run(&format!("SET k{i} v"));
        }
        seen.push(conn.run("FLUSHALL ASYNC"));
        settle(&mut conn);
        seen.push(freed(&mut conn).into_bytes());
        seen.push(conn.run("DBSIZE"));
        seen.iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect()
    });
}
