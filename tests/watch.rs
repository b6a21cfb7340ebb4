//! WATCH exactly as Redis: a watched key counts as changed only when Redis
//! would signal it. Scripted cases and random interleavings of two
//! clients run against redis-server and rudis; every EXEC must agree.

mod common;

use common::{Conn, ServerProcess};

/// Runs `steps` (client 0 or 1, command line) on a fresh pair of
/// connections; the EXEC replies.
fn run(server: &ServerProcess, steps: &[(usize, String)]) -> Vec<Vec<u8>> {
    let mut conns: Vec<Conn> = vec![server.connect(), server.connect()];
    conns[0].run("FLUSHALL");
    let mut execs = Vec::new();
    for (who, line) in steps {
        let words = common::words(line);
        let args: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
        let reply = conns[*who].cmd(&args);
        if line == "EXEC" {
            execs.push(reply);
        }
    }
    execs
}

fn case(steps: &[(usize, &str)]) -> Vec<(usize, String)> {
    steps.iter().map(|(w, l)| (*w, l.to_string())).collect()
}

#[test]
fn scripted_cases_match_redis() {
    let redis = ServerProcess::redis();
    let rudis = ServerProcess::rudis(&[]);
    let tail = [(0, "MULTI"), (0, "PING"), (0, "EXEC")];
    let setups: Vec<Vec<(usize, &str)>> = vec![
        vec![(0, "SET k 1"), (0, "WATCH k"), (1, "SET k 1 NX")],
        vec![(0, "WATCH k"), (1, "FLUSHALL")],
        vec![(0, "SET k 1"), (0, "WATCH k"), (1, "FLUSHALL")],
        vec![(0, "WATCH k"), (1, "FLUSHDB")],
        vec![(0, "WATCH k"), (1, "SWAPDB 0 1")],
        vec![
            (1, "SELECT 1"),
            (1, "SET k x"),
            (0, "WATCH k"),
            (1, "SWAPDB 0 1"),
        ],
        vec![(0, "WATCH k"), (1, "DEL k")],
        vec![(0, "SET k 1"), (0, "WATCH k"), (1, "EXPIRE k 100")],
        vec![(0, "SET k 1"), (0, "WATCH k"), (1, "GET k")],
        vec![(0, "SET k 1"), (0, "WATCH k"), (1, "SET k 1")],
        vec![(0, "RPUSH l x"), (0, "WATCH l"), (1, "LREM l 0 nope")],
        vec![(0, "SET k 1"), (0, "WATCH k"), (1, "PERSIST k")],
        vec![(0, "SADD s a"), (0, "WATCH s"), (1, "SADD s a")],
        vec![(0, "SADD s a"), (0, "WATCH s"), (1, "SREM s zz")],
        // SMOVE disturbs only the sets it changed.
        vec![
            (0, "SADD src a b"),
            (0, "SADD dst a"),
            (0, "WATCH dst"),
            (1, "SMOVE src dst a"),
        ],
        vec![(0, "SADD src a"), (0, "WATCH src"), (1, "SMOVE src dst zz")],
        vec![(0, "SADD src a"), (0, "WATCH dst"), (1, "SMOVE src dst a")],
        vec![(0, "SADD src a"), (0, "WATCH src"), (1, "SMOVE src src a")],
        vec![(0, "HSET h f v"), (0, "WATCH h"), (1, "HDEL h zz")],
        vec![(0, "SET k 1"), (0, "WATCH k"), (1, "EXPIRE k -1")],
        vec![(0, "SET k 5"), (0, "WATCH k"), (1, "INCRBY k 0")],
        vec![(0, "SET k 1"), (0, "WATCH k"), (1, "RENAME k k2")],
        vec![(0, "SET k 1"), (0, "WATCH k2"), (1, "RENAME k k2")],
        vec![(0, "SET k 1"), (0, "WATCH k"), (1, "GETEX k PX 100000")],
        vec![(0, "SET k 1"), (0, "WATCH k"), (1, "SETRANGE k 0 \"\"")],
        vec![(0, "SET k 1"), (0, "WATCH k"), (1, "APPEND k \"\"")],
        vec![(0, "ZADD z 1 m"), (0, "WATCH z"), (1, "ZADD z 1 m")],
        vec![(0, "ZADD z 1 m"), (0, "WATCH z"), (1, "ZREM z nope")],
        vec![(0, "RPUSH l x"), (0, "WATCH l"), (1, "LTRIM l 0 -1")],
        vec![(0, "SADD s a"), (0, "WATCH s"), (1, "SMOVE s t nope")],
        vec![(0, "HSET h f v"), (0, "WATCH h"), (1, "HSETNX h f w")],
        vec![
            (0, "RPUSH l x"),
            (0, "WATCH l"),
            (1, "LINSERT l BEFORE nope y"),
        ],
    ];
    for setup in setups {
        let mut steps = case(&setup);
        steps.extend(case(&tail));
        assert_eq!(run(&redis, &steps), run(&rudis, &steps), "{steps:?}");
    }
}

/// Keys that expire while watched fail the EXEC; keys already expired
/// when watched change nothing by going, only by coming back to life
/// (Redis 7.0's stale watched keys).
#[test]
fn expired_keys_match_redis() {
    let debug = ["--enable-debug-command", "yes"];
    let redis = ServerProcess::redis_with(&debug);
    let rudis = ServerProcess::rudis(&debug);
    let tail = [(0, "MULTI"), (0, "PING"), (0, "EXEC")];
    let stale = [
        (0, "DEBUG SET-ACTIVE-EXPIRE 0"),
        (0, "SET x foo PX 1"),
        (0, "DEBUG SLEEP 0.01"),
        (0, "WATCH x"),
    ];
    let setups: Vec<Vec<(usize, &str)>> = vec![
        // Expires between WATCH and EXEC.
        vec![
            (0, "DEBUG SET-ACTIVE-EXPIRE 0"),
            (0, "SET x foo PX 5"),
            (0, "WATCH x"),
            (0, "DEBUG SLEEP 0.01"),
        ],
        stale.to_vec(),
        [&stale[..], &[(1, "EXISTS x")]].concat(),
        [&stale[..], &[(1, "DEL x")]].concat(),
        [&stale[..], &[(1, "FLUSHDB")]].concat(),
        [&stale[..], &[(1, "SWAPDB 0 1")]].concat(),
        [&stale[..], &[(1, "DEL x"), (1, "SET x bar")]].concat(),
        [
            &stale[..],
            &[(1, "SET x bar PX 1"), (1, "DEBUG SLEEP 0.01")],
        ]
        .concat(),
        // Replaced by a key already expired in the other database.
        vec![
            (0, "DEBUG SET-ACTIVE-EXPIRE 0"),
            (1, "SELECT 1"),
            (1, "SET x foo PX 1"),
            (0, "DEBUG SLEEP 0.01"),
            (0, "WATCH x"),
            (1, "SWAPDB 0 1"),
        ],
        // A stale key replaced by another stale key.
        vec![
            (0, "DEBUG SET-ACTIVE-EXPIRE 0"),
            (0, "SET x foo PX 1"),
            (1, "SELECT 1"),
            (1, "SET x bar PX 1"),
            (0, "DEBUG SLEEP 0.01"),
            (0, "WATCH x"),
            (1, "SWAPDB 0 1"),
        ],
    ];
    for setup in setups {
        let mut steps = case(&setup);
        steps.extend(case(&tail));
        steps.push((1, "SWAPDB 0 1".to_string()));
        steps.push((1, "FLUSHALL".to_string()));
        assert_eq!(run(&redis, &steps), run(&rudis, &steps), "{steps:?}");
    }
}

/// Random interleavings: client 0 watches some keys and runs a
/// transaction while client 1 runs commands that may or may not change
/// them.
#[test]
fn random_interleavings_match_redis() {
    let redis = ServerProcess::redis();
    let rudis = ServerProcess::rudis(&[]);
    let others = [
        "SET k 1",
        "SET k 1 NX",
        "SET k 2 XX",
        "DEL k",
        "DEL nope",
        "SADD s a",
        "SADD s b",
        "SREM s a",
        "SREM s zz",
        "HSET h f v",
        "HDEL h f",
        "HDEL h zz",
        "RPUSH l x",
        "LREM l 0 x",
        "LREM l 0 zz",
        "ZADD z 1 m",
        "ZADD z 2 m",
        "ZREM z m",
        "ZREM z zz",
        "EXPIRE k 100",
        "PERSIST k",
        "FLUSHDB",
        "GET k",
        "INCR n",
        "SWAPDB 0 1",
        "SELECT 1",
        "SELECT 0",
    ];
    let watchable = ["k", "s", "h", "l", "z", "n", "nope"];
    let mut seed: u64 = 0x5eed_1234_abcd_0001;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n
    };
    for _ in 0..150 {
        let mut steps: Vec<(usize, String)> = Vec::new();
        for _ in 0..next(4) {
            steps.push((1, others[next(others.len())].to_string()));
        }
        steps.push((0, format!("WATCH {}", watchable[next(watchable.len())])));
        for _ in 0..1 + next(3) {
            steps.push((1, others[next(others.len())].to_string()));
        }
        steps.push((0, "MULTI".into()));
        steps.push((0, "INCR counter".into()));
        steps.push((0, "EXEC".into()));
        assert_eq!(run(&redis, &steps), run(&rudis, &steps), "{steps:?}");
    }
}
