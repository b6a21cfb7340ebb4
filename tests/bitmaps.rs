//! Bitmaps against redis-server: SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP, BITFIELD and BITFIELD_RO, replies and errors byte for byte,
//! including ranges in bits and bytes, negative and out-of-range
//! indexes, every overflow mode, wrong types and integer-encoded strings.

mod common;

#[test]
fn bitmap_commands_match_redis() {
    common::assert_same_replies(&[
        "set k foobar",
        "bitcount k",
        "bitcount nokey 1",
        "bitcount k 1",
        "bitcount nokey 1 2 3",
        "bitcount k 1 2 3",
        "bitcount nokey a b",
        "bitcount k a b",
        "bitcount k 1 a",
        "bitcount k -1 -2",
        "bitcount k -1 -2 foo",
        "bitcount k -2 -1",
        "bitcount k 1 1 bit",
        "bitcount k 5 30 bit",
        "bitcount k 5 30 BIT",
        "bitcount k 0 -1 BYTE",
        "bitcount k 0 -1 bit",
        "bitcount k -5 -1 bit",
        "bitcount k 100 200",
        "bitcount k 3 2",
        "bitcount k -100 100",
        "bitcount k 7 7 bit",
        "bitpos nokey 1",
        "bitpos nokey 0",
        "bitpos nokey 2",
        "bitpos nokey x",
        "bitpos k 1 2 3 4",
        "bitpos nokey 1 2 3 4",
        "bitpos k 0 1 2 bit",
        "bitpos k 1 1 1 bit",
        "bitpos k 0 -1 -1 bit",
        "bitpos nokey 0 1 2 bit",
        "bitpos nokey 0 a",
        "bitpos k 0 a",
        "bitpos k 1 2 a",
        "bitpos k 1 2 3 foo",
        "bitpos k 1",
        "bitpos k 0",
        "bitpos k 1 2",
        "bitpos k 0 2",
        "bitpos k 1 2 -1",
        "bitpos k 0 2 -1",
        "bitpos k 1 7 15 bit",
        "bitpos k 0 7 15 bit",
        "bitpos k 1 100",
        "bitpos k 0 100",
        "bitpos k 1 -100 -1 bit",
        "set ones \"\\xff\\xff\\xff\"",
        "set empty \"\"",
        "bitpos empty 0",
        "bitpos empty 1",
        "bitcount empty",
        "setbit k 8 0",
        "setbit k 8 2",
        "setbit k 8 -1",
        "setbit k 8 a",
        "setbit k -1 0",
        "setbit k a 0",
        "setbit k 4294967296 1",
        "setbit newk 100 1",
        "get newk",
        "strlen newk",
        "object encoding newk",
        "setbit newk 100 1",
        "setbit newk 100 0",
        "getbit newk 100",
        "getbit newk 99999",
        "getbit newk -1",
        "getbit newk a",
        "getbit nokey 5",
        "set n 12345",
        "getbit n 2",
        "setbit n 2 1",
        "get n",
        "object encoding n",
        "lpush l a",
        "setbit l 1 1",
        "getbit l 1",
        "bitcount l",
        "bitpos l 1",
        "bitop and d l",
        "bitfield l get u8 0",
        "bitfield_ro l get u8 0",
        "set a abc",
        "set b \"\\x00\\xff\"",
        "bitop not d k k",
        "bitop foo d k",
        "bitop and d nokey",
        "exists d",
        "bitop and d a b",
        "get d",
        "bitop or d a b nokey",
        "get d",
        "bitop xor d a b",
        "get d",
        "bitop not d a",
        "get d",
        "object encoding d",
        "set d x ex 100",
        "bitop and d a",
        "ttl d",
        "bitop and d nokey",
        "exists d",
        "bitop AND d a nokey",
        "get d",
        "bitfield bf set u8 0 255",
        "bitfield bf get u8 0",
        "bitfield bf incrby u8 0 10",
        "bitfield bf overflow sat incrby u8 0 10",
        "bitfield bf overflow fail incrby u8 0 10",
        "bitfield bf overflow wrap incrby u8 0 10 get u8 0",
        "bitfield bf set i8 0 -128 get i8 0 incrby i8 0 -1",
        "bitfield bf overflow sat incrby i8 0 -100",
        "bitfield bf overflow fail incrby i8 0 -100",
        "bitfield bf set i64 0 -1 get i64 0 get u63 1",
        "bitfield bf incrby i64 0 1",
        "bitfield bf overflow sat set i64 0 9223372036854775807 incrby i64 0 1",
        "bitfield bf overflow wrap set i64 0 9223372036854775807 incrby i64 0 1",
        "bitfield bf set u63 0 9223372036854775807",
        "bitfield bf get u64 0",
        "bitfield bf get i65 0",
        "bitfield bf get i0 0",
        "bitfield bf get x8 0",
        "bitfield bf get u8 -1",
        "bitfield bf get u8 #2",
        "bitfield bf set u8 #2 7 get u8 16",
        "bitfield bf get u8 #a",
        "bitfield bf get u8",
        "bitfield bf set u8 0",
        "bitfield bf set u8 0 a",
        "bitfield bf foo u8 0",
        "bitfield bf overflow",
        "bitfield bf overflow foo get u8 0",
        "bitfield bf overflow sat",
        "bitfield bf",
        "bitfield nobf get u8 0",
        "bitfield nobf overflow fail incrby u2 0 10",
        "exists nobf",
        "bitfield nobf2 overflow fail incrby u2 100 1",
        "get nobf2",
        "bitfield_ro bf get u8 0 get i4 4",
        "bitfield_ro bf set u8 0 1",
        "bitfield_ro bf get u8 0 incrby u8 0 1",
        "bitfield_ro nobf3 get u8 0",
        "bitfield_ro bf",
        "bitfield bf set u4 0 20",
        "bitfield bf set u4 0 -1",
        "bitfield bf overflow sat set u4 0 -1",
        "bitfield bf overflow fail set u4 0 20",
        "bitfield bf overflow sat set i4 0 20",
        "bitfield bf overflow sat set i4 0 -20",
        "bitfield bf overflow wrap set i4 0 20",
        "bitfield bf incrby u2 0 -5",
        "bitfield bf overflow sat incrby u2 0 -5",
        "bitfield bf incrby u63 0 -1",
        "bitfield bf overflow sat incrby u63 0 9223372036854775807",
        "bitfield bf incrby i3 5 100",
        "object encoding bf",
        "strlen bf",
    ]);
}

/// Ranges over every start and end of a few bytes, in both units, and
/// BITPOS for both bits, against redis-server.
#[test]
fn every_range_matches_redis() {
    let mut script = vec![
        r#"SET k "\x00\xf0\x0f\xff\x81""#.to_string(),
        r#"SET z "\x00\x00\x00""#.to_string(),
        r#"SET o "\xff\xff\xff""#.to_string(),
    ];
    for key in ["k", "z", "o"] {
        for start in -6i64..6 {
            for end in -6i64..6 {
                script.push(format!("BITCOUNT {key} {start} {end}"));
                for bit in [0, 1] {
                    script.push(format!("BITPOS {key} {bit} {start} {end}"));
                }
            }
            script.push(format!("BITPOS {key} 0 {start}"));
            script.push(format!("BITPOS {key} 1 {start}"));
        }
        for start in [-41i64, -17, -9, -8, -1, 0, 1, 7, 8, 15, 39, 40] {
            for end in [-41i64, -17, -9, -8, -1, 0, 1, 7, 8, 15, 39, 40] {
                script.push(format!("BITCOUNT {key} {start} {end} BIT"));
                for bit in [0, 1] {
                    script.push(format!("BITPOS {key} {bit} {start} {end} BIT"));
                }
            }
        }
    }
    let refs: Vec<&str> = script.iter().map(String::as_str).collect();
    common::assert_same_replies(&refs);
}
