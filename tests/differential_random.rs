//! Randomized differential test: seeded random commands over a handful of
//! keys of every type, with valid, invalid and edge-case arguments, sent to
//! a real redis-server and to rudis; every reply must be byte-identical
//! (compared as a set where Redis leaves the order unspecified). The seeds
//! are fixed, so a failure reproduces.

mod common;

use common::{assert_same_blocking_sessions, assert_same_replies, Step};

/// Commands and the shape of their arguments: K a key, V a value, W a
/// LINSERT position, E a LEFT/RIGHT end, M a MIN/MAX end, T an OBJECT
/// subcommand, O an option word, I a stream ID, G a group, C a consumer,
/// `=word` the word itself. A leading `~` compares the reply as a set.
/// Relative expiry times are left out: they race the clock between the two
/// servers.
const COMMANDS: &[(&str, &str)] = &[
    ("set", "K V"),
    ("get", "K"),
    ("incr", "K"),
    ("incrby", "K V"),
    ("append", "K V"),
    ("getrange", "K V V"),
    ("setrange", "K V V"),
    ("strlen", "K"),
    ("getdel", "K"),
    ("getset", "K V"),
    ("mget", "K K"),
    ("msetnx", "K V K V"),
    ("lpush", "K V V"),
    ("rpush", "K V"),
    ("lpop", "K"),
    ("rpop", "K V"),
    ("lrange", "K V V"),
    ("lindex", "K V"),
    ("lrem", "K V V"),
    ("ltrim", "K V V"),
    ("linsert", "K W V V"),
    ("lpos", "K V"),
    ("lset", "K V V"),
    ("llen", "K"),
    ("lmove", "K K E E"),
    ("lmpop", "V K E"),
    ("hset", "K V V"),
    ("hget", "K V"),
    ("hdel", "K V"),
    ("hincrby", "K V V"),
    ("hgetall", "K"),
    ("hlen", "K"),
    ("hexists", "K V"),
    ("hmget", "K V V"),
    ("hsetnx", "K V V"),
    ("hstrlen", "K V"),
    ("hincrbyfloat", "K V V"),
    ("sadd", "K V V"),
    ("srem", "K V"),
    ("scard", "K"),
    ("sismember", "K V"),
    ("smismember", "K V V"),
    ("~sinter", "K K"),
    ("sunionstore", "K K K"),
    ("sdiffstore", "K K K"),
    ("sintercard", "V K K"),
    ("smove", "K K V"),
    ("zadd", "K V V"),
    ("zincrby", "K V V"),
    ("zscore", "K V"),
    ("zrank", "K V"),
    ("zrevrank", "K V"),
    ("zrange", "K V V"),
    ("zrangebyscore", "K V V"),
    ("zrevrangebyscore", "K V V"),
    ("zrangebylex", "K V V"),
    ("zcount", "K V V"),
    ("zlexcount", "K V V"),
    ("zrem", "K V"),
    ("zremrangebyrank", "K V V"),
    ("zremrangebyscore", "K V V"),
    ("zpopmin", "K"),
    ("zpopmax", "K V"),
    ("zcard", "K"),
    ("zunionstore", "K V K K"),
    ("zinterstore", "K V K K"),
    ("zmscore", "K V V"),
    ("zrangestore", "K K V V"),
    ("zmpop", "V K M"),
    ("del", "K"),
    ("exists", "K K"),
    ("type", "K"),
    ("rename", "K K"),
    ("renamenx", "K K"),
    ("copy", "K K"),
    ("ttl", "K"),
    ("persist", "K"),
    ("object", "T K"),
    ("set", "K V O O O"),
    ("getex", "K O V"),
    ("zadd", "K O O V V"),
    ("zrange", "K V V O O O"),
    ("lpos", "K V O V O V"),
    ("incrbyfloat", "K V"),
    ("decrby", "K V"),
    ("setnx", "K V"),
    ("~sdiff", "K K"),
    ("zunion", "V K K O"),
    ("zinter", "V K K O"),
    ("zdiff", "V K K O"),
    ("touch", "K K"),
    ("unlink", "K"),
    ("zrevrange", "K V V O"),
    ("zremrangebylex", "K V V"),
    ("zrevrangebylex", "K V V"),
    ("hscan", "K V"),
    ("zscan", "K V"),
    ("expireat", "K A O"),
    ("pexpireat", "K A O"),
    ("expiretime", "K"),
    ("pexpiretime", "K"),
    ("copy", "K K O V"),
    ("move", "K V"),
    ("select", "V"),
    ("swapdb", "V V"),
    ("mset", "K V K V"),
    ("lmpop", "V K K E O V"),
    ("zmpop", "V K K M O V"),
    ("sintercard", "V K K O V"),
    ("setbit", "K V V"),
    ("getbit", "K V"),
    ("bitcount", "K V V O"),
    ("bitpos", "K V V V O"),
    ("bitop", "O K K K"),
    ("bitfield", "K O O V V O O V"),
    ("bitfield_ro", "K O O V"),
    ("sort", "K O O V V"),
    ("sort_ro", "K O V"),
    ("lcs", "K K O"),
    ("xadd", "K I V V"),
    ("xadd", "K =maxlen V I V V"),
    ("xadd", "K =nomkstream =minid =~ I I V V"),
    ("xlen", "K"),
    ("xrange", "K I I"),
    ("xrange", "K I I =count V"),
    ("xrevrange", "K I I =count V"),
    ("xdel", "K I I"),
    ("xtrim", "K =maxlen V"),
    ("xtrim", "K =minid I =limit V"),
    ("xsetid", "K I"),
    ("xread", "=count V =streams K I"),
    ("xread", "=streams K K I I"),
    ("xgroup", "=create K G I"),
    ("xgroup", "=create K G I =mkstream"),
    ("xgroup", "=setid K G I"),
    ("xgroup", "=destroy K G"),
    ("xgroup", "=createconsumer K G C"),
    ("xgroup", "=delconsumer K G C"),
    ("xreadgroup", "=group G C =streams K I"),
    ("xreadgroup", "=group G C =count V =noack =streams K I"),
    ("xack", "K G I I"),
    ("xpending", "K G"),
    ("xclaim", "K G C =0 I I"),
    ("xclaim", "K G C =0 I =justid"),
    ("xclaim", "K G C =0 I =force =retrycount V"),
    ("xautoclaim", "K G C =0 I =count V"),
    ("xinfo", "=stream K"),
    ("xinfo", "=groups K"),
    ("zintercard", "V K K O V"),
    ("pfadd", "K V V V"),
    ("pfcount", "K K"),
    ("pfmerge", "K K K"),
    ("geoadd", "K V V V"),
    ("geopos", "K V"),
    ("geodist", "K V V"),
    ("geohash", "K V"),
];

/// Absolute expiry times: in the past, far ahead, invalid.
const TIMES: &[&str] = &[
    "1",
    "0",
    "-5",
    "4102444800",
    "4102444800123",
    "9999999999999",
    "x",
    "100",
];

const OPTIONS: &[&str] = &[
    "nx",
    "xx",
    "gt",
    "lt",
    "ch",
    "incr",
    "exat",
    "keepttl",
    "get",
    "persist",
    "rank",
    "count",
    "maxlen",
    "withscores",
    "rev",
    "byscore",
    "bylex",
    "limit",
    "weights",
    "aggregate",
    "sum",
    "1",
    "2",
    "-1",
    "and",
    "or",
    "xor",
    "not",
    "bit",
    "byte",
    "u8",
    "i4",
    "i64",
    "u63",
    "set",
    "incrby",
    "overflow",
    "sat",
    "fail",
    "wrap",
    "alpha",
    "desc",
    "store",
    "idx",
    "len",
];

const KEYS: &[&str] = &["k1", "k2", "l1", "h1", "s1", "z1", "x1"];
/// Stream IDs, with the forms XADD, XRANGE and XREADGROUP accept and some
/// they refuse; no `*`, whose ID follows each server's clock.
const IDS: &[&str] = &[
    "1-1", "1-2", "2", "2-*", "3-0", "5", "0-0", "0", "-", "+", "$", ">", "(1-1", "(2", "9-9", "x",
];
const VALUES: &[&str] = &[
    "a", "b", "1", "2", "-1", "0", "10", "1.5", "\"x y\"", "\"\"", "inf", "-inf", "(1", "[a", "+",
    "-", "3", "100",
];
const EXTRAS: &[&str] = &[
    "withscores",
    "limit",
    "count",
    "rev",
    "byscore",
    "bylex",
    "nx",
    "xx",
    "gt",
    "ch",
    "incr",
];

/// xorshift64: reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn script(seed: u64, count: usize) -> Vec<String> {
    let mut rng = Rng(seed);
    let mut lines = vec!["flushall".to_string()];
    for _ in 0..count {
        let (name, shape) = COMMANDS[(rng.next() % COMMANDS.len() as u64) as usize];
        let mut words: Vec<String> = vec![name.to_string()];
        for slot in shape.split(' ') {
            words.push(
                match slot {
                    "K" => rng.pick(KEYS),
                    "V" => rng.pick(VALUES),
                    "W" => rng.pick(&["before", "after", "x"]),
                    "E" => rng.pick(&["left", "right"]),
                    "M" => rng.pick(&["min", "max"]),
                    "O" => rng.pick(OPTIONS),
                    "A" => rng.pick(TIMES),
                    "I" => rng.pick(IDS),
                    "G" => rng.pick(&["g1", "g2"]),
                    "C" => rng.pick(&["c1", "c2", "c3"]),
                    _ if slot.starts_with('=') => &slot[1..],
                    _ => "encoding",
                }
                .to_string(),
            );
        }
        if rng.chance(10) {
            words.pop();
        }
        if rng.chance(10) {
            let extra = if rng.chance(50) {
                rng.pick(EXTRAS)
            } else {
                rng.pick(VALUES)
            };
            words.push(extra.to_string());
        }
        lines.push(words.join(" "));
    }
    lines
}

#[test]
fn random_commands_match_redis() {
    for seed in [1, 2, 3, 4, 5, 6, 7, 0x5eed] {
        let lines = script(seed, 1500);
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_same_replies(&refs);
    }
}

/// Blocking reads a waiting client may issue.
const BLOCKING_READS: &[&str] = &[
    "XREAD BLOCK 0 STREAMS x1 $",
    "XREAD COUNT 1 BLOCK 0 STREAMS x1 x2 $ $",
    "XREAD BLOCK 0 STREAMS x2 0",
    "XREAD BLOCK 0 STREAMS x1 9999999-0",
    "XREADGROUP GROUP g1 c1 BLOCK 0 STREAMS x1 >",
    "XREADGROUP GROUP g1 c2 COUNT 1 NOACK BLOCK 0 STREAMS x1 >",
    "XREADGROUP GROUP g2 c1 BLOCK 0 STREAMS x2 x1 > >",
    "XREADGROUP GROUP g1 c1 BLOCK 0 STREAMS x1 0",
    "BLPOP x1 l1 0",
    "BLMPOP 0 2 x2 l1 RIGHT COUNT 2",
    "BLMOVE l1 x2 LEFT RIGHT 0",
    "BZPOPMIN z1 x1 0",
];

/// What the writing client does while readers wait; `{id}` becomes a
/// stream ID that grows with each step, the same on both servers.
const WAKING_WRITES: &[&str] = &[
    "XADD x1 {id} f v",
    "XADD x1 {id} f v",
    "XADD x2 {id} f v",
    "XADD x1 MAXLEN 1 {id} f v",
    "XADD x2 NOMKSTREAM {id} f v",
    "XGROUP CREATE x1 g1 $ MKSTREAM",
    "XGROUP CREATE x2 g2 0 MKSTREAM",
    "XGROUP CREATE x1 g2 0",
    "XGROUP DESTROY x1 g1",
    "XGROUP SETID x1 g1 0",
    "XTRIM x1 MAXLEN 0",
    "XDEL x1 1-1",
    "DEL x1",
    "DEL x2",
    "SET x1 v",
    "RPUSH l1 a",
    "LPUSH l1 b c",
    "ZADD z1 1 a 2 b",
    "XADD z1 {id} f v",
    "FLUSHALL",
    "MULTI",
    "EXEC",
];

/// The next step of a randomized blocking session, given the waiting
/// clients that are free: a blocking read for one of them, or a write.
fn random_step(rng: &mut Rng, idle: &[usize], step: usize) -> Option<Step> {
    if !idle.is_empty() && rng.chance(40) {
        let waiter = idle[(rng.next() % idle.len() as u64) as usize];
        return Some(Step::Wait(waiter, rng.pick(BLOCKING_READS).to_string()));
    }
    let write = rng.pick(WAKING_WRITES);
    Some(Step::Write(write.replace("{id}", &format!("{step}-1"))))
}

#[test]
fn random_blocking_reads_match_redis() {
    for seed in [11, 12, 13, 14, 15, 16] {
        assert_same_blocking_sessions(&format!("seed {seed}"), 300, || {
            let mut rng = Rng(seed);
            move |idle: &[usize], step: usize| random_step(&mut rng, idle, step)
        });
    }
}
