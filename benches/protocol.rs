//! Hot-path micro-benchmarks: request parsing (multibulk, inline,
//! pipelined) and reply encoding, without sockets.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rudis::protocol::{Parsed, Reply, RequestParser};

const MAX_BULK: usize = 512 * 1024 * 1024;

fn parse_all(parser: &mut RequestParser, input: &[u8]) -> usize {
    parser.buffer_mut().extend_from_slice(input);
    let mut commands = 0;
    while let Parsed::Command = parser.next(MAX_BULK) {
        commands += black_box(parser.args().len());
    }
    parser.compact();
    commands
}

fn parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    let cases: [(&str, Vec<u8>); 4] = [
        ("ping_mbulk", b"*1\r\n$4\r\nPING\r\n".to_vec()),
        ("ping_inline", b"PING\r\n".to_vec()),
        (
            "set_mbulk",
            b"*3\r\n$3\r\nSET\r\n$16\r\nkey:000000012345\r\n$3\r\nxxx\r\n".to_vec(),
        ),
        ("ping_mbulk_x16", b"*1\r\n$4\r\nPING\r\n".repeat(16)),
    ];
    for (name, input) in cases {
        group.throughput(Throughput::Bytes(input.len() as u64));
        let mut parser = RequestParser::new();
        group.bench_function(name, |b| {
            b.iter(|| parse_all(&mut parser, black_box(&input)))
        });
    }
    group.finish();
}

fn encoding(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    let mut reply = Reply::new();
    group.bench_function("pong", |b| {
        b.iter(|| {
            reply.simple(black_box("PONG"));
            reply.clear(1 << 16);
        })
    });
    let value = vec![b'x'; 64];
    group.bench_function("bulk_64", |b| {
        b.iter(|| {
            reply.bulk(black_box(&value));
            reply.clear(1 << 16);
        })
    });
    group.bench_function("array_100_bulks", |b| {
        b.iter(|| {
            reply.array(100);
            for i in 0..100 {
                reply.bulk_int(black_box(i));
            }
            reply.clear(1 << 16);
        })
    });
    group.finish();
}

criterion_group!(benches, parsing, encoding);
criterion_main!(benches);
