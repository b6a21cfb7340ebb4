//! HyperLogLog against redis-server: PFADD, PFCOUNT, PFMERGE and PFDEBUG
//! replies, and the stored bytes themselves (GET), for HLLs of every size
//! from a few elements to well past the sparse limit, so both encodings
//! and the sparse-to-dense promotion are compared byte for byte. Values
//! built by one server count the same in the other.

mod common;

use common::{Conn, ServerProcess};

/// Reproducible elements (xorshift64).
fn elements(seed: u64, count: usize) -> Vec<String> {
    let mut x = seed;
    (0..count)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("e{x}")
        })
        .collect()
}

fn session() -> Vec<Vec<String>> {
    let s = |line: &str| line.split(' ').map(String::from).collect::<Vec<_>>();
    let mut steps = vec![
        s("PFADD h a b c"),
        s("GET h"),
        s("PFCOUNT h"),
        s("GET h"),
        s("OBJECT ENCODING h"),
        s("PFADD h a"),
        s("PFADD h"),
        s("PFADD new"),
        s("GET new"),
        s("PFCOUNT nokey"),
        s("PFDEBUG DECODE h"),
        s("PFDEBUG ENCODING h"),
        s("PFDEBUG GETREG nokey"),
        s("PFDEBUG FOO h"),
        s("SET s abc"),
        s("PFADD s x"),
        s("PFCOUNT s"),
        s("SET i 123"),
        s("PFADD i x"),
        s("LPUSH l x"),
        s("PFADD l x"),
        s("PFCOUNT l"),
        s("PFCOUNT h l"),
        s("PFMERGE l h"),
        s("PFMERGE d s"),
    ];
    for (seed, n) in [
        (1u64, 10usize),
        (2, 100),
        (3, 300),
        (4, 1000),
        (5, 3000),
        (6, 10000),
    ] {
        let items = elements(seed, n);
        for chunk in items.chunks(50) {
            let mut step = vec!["PFADD".to_string(), format!("h{n}")];
            step.extend(chunk.iter().cloned());
            steps.push(step);
        }
        steps.push(s(&format!("GET h{n}")));
        steps.push(s(&format!("PFCOUNT h{n}")));
        steps.push(s(&format!("PFDEBUG ENCODING h{n}")));
        steps.push(s(&format!("GET h{n}")));
    }
    for line in [
        "PFDEBUG DECODE h100",
        "PFCOUNT h10 h100 h1000",
        "PFCOUNT h10 h100 nokey",
        "PFMERGE m h10 h100",
        "GET m",
        "PFMERGE m2 h10 h10000",
        "GET m2",
        "PFMERGE m h300",
        "GET m",
        "PFCOUNT m",
        "PFMERGE empty",
        "GET empty",
        "PFMERGE empty2 nokey",
        "GET empty2",
        "CONFIG SET hll-sparse-max-bytes 100",
        "PFADD small a b c d e f g h i j k l m n o p",
        "PFDEBUG ENCODING small",
        "GET small",
        "CONFIG SET hll-sparse-max-bytes 3000",
        "PFADD td x y",
        "PFDEBUG TODENSE td",
        "PFDEBUG TODENSE td",
        "GET td",
        "PFDEBUG DECODE td",
        "PFDEBUG GETREG h",
        "GET h",
        "PFSELFTEST",
    ] {
        steps.push(s(line));
    }
    let corrupt = |key: &str, bytes: &[u8]| {
        vec![
            "SET".to_string(),
            key.to_string(),
            String::from_utf8_lossy(bytes).into_owned(),
        ]
    };
    steps.push(corrupt(
        "bad",
        b"HYLL\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    ));
    steps.push(s("PFCOUNT bad"));
    steps.push(corrupt(
        "short",
        b"HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    ));
    steps.push(s("PFCOUNT short"));
    steps.push(corrupt(
        "runs",
        b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x3f",
    ));
    steps.push(s("PFCOUNT runs"));
    steps.push(s("PFADD runs a"));
    steps.push(s("PFMERGE x runs"));
    steps
}

#[test]
fn hyperloglogs_match_redis_byte_for_byte() {
    let (redis, rudis) = (ServerProcess::redis(), ServerProcess::rudis(&[]));
    let (mut a, mut b): (Conn, Conn) = (redis.connect(), rudis.connect());
    for step in session() {
        let args: Vec<&[u8]> = step.iter().map(|w| w.as_bytes()).collect();
        let (expected, got) = (a.cmd(&args), b.cmd(&args));
        assert_eq!(
            String::from_utf8_lossy(&expected),
            String::from_utf8_lossy(&got),
            "reply to {:?} (left: redis-server, right: rudis)",
            &step[..step.len().min(3)]
        );
    }
}

/// An HLL built by either server, moved with DUMP/RESTORE and with
/// GET/SET, counts the same in the other, and merges with its own.
#[test]
fn hyperloglogs_move_between_servers() {
    let (redis, rudis) = (ServerProcess::redis(), ServerProcess::rudis(&[]));
    let mut conns = [redis.connect(), rudis.connect()];
    for (source, tag) in [(0usize, "r"), (1, "u")] {
        let [first, second] = &mut conns;
        let (from, to) = if source == 0 {
            (first, second)
        } else {
            (second, first)
        };
        for (n, key) in [(50usize, "small"), (5000, "big")] {
            let key = format!("{tag}{key}");
            for chunk in elements(n as u64, n).chunks(100) {
                let mut args: Vec<&[u8]> = vec![b"PFADD", key.as_bytes()];
                args.extend(chunk.iter().map(|e| e.as_bytes()));
                from.cmd(&args);
            }
            let count = from.cmd(&[b"PFCOUNT", key.as_bytes()]);
            let dump = common::bulk_payload(&from.cmd(&[b"DUMP", key.as_bytes()]));
            let bytes = common::bulk_payload(&from.cmd(&[b"GET", key.as_bytes()]));
            let copy = format!("{key}-copy");
            assert_eq!(
                to.cmd(&[b"RESTORE", key.as_bytes(), b"0", &dump]),
                b"+OK\r\n"
            );
            assert_eq!(to.cmd(&[b"SET", copy.as_bytes(), &bytes]), b"+OK\r\n");
            assert_eq!(to.cmd(&[b"PFCOUNT", key.as_bytes()]), count);
            assert_eq!(to.cmd(&[b"PFCOUNT", copy.as_bytes()]), count);
            assert_eq!(
                to.cmd(&[b"PFMERGE", copy.as_bytes(), key.as_bytes()]),
                b"+OK\r\n"
            );
            assert_eq!(to.cmd(&[b"PFCOUNT", copy.as_bytes()]), count);
        }
    }
}
