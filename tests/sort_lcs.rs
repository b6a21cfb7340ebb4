//! SORT, SORT_RO, LCS and ZINTERCARD against redis-server, replies and
//! errors byte for byte: numeric and ALPHA orders, BY patterns (keys and
//! hash fields, `nosort`), GET patterns and `#`, LIMIT at and past the
//! edges, STORE (sets sorted as strings for it), scores that are not
//! numbers; LCS strings, lengths and match ranges; ZINTERCARD limits.

mod common;

#[test]
fn sort_lcs_and_zintercard_match_redis() {
    common::assert_same_replies(&[
        "rpush l 3 1 2 10 b a",
        "sort l",
        "sort l alpha",
        "sort l desc alpha",
        "sort nokey",
        "sort l limit 1 2 alpha",
        "sort l limit 1",
        "sort l limit a 2",
        "sort l foo",
        "sort_ro l alpha store x",
        "rpush n 3 1 2 10 -5 2.5 0x10 inf -inf",
        "sort n",
        "sort n desc",
        "sort n limit 2 3",
        "sort n limit -1 3",
        "sort n limit 100 3",
        "sort n limit 0 0",
        "sort n limit 3 -1",
        "mset w_3 30 w_1 10 w_2 20 w_10 5",
        "sort n by w_*",
        "sort n by w_* get #",
        "sort n by w_* get w_* get # get nosuch_*",
        "sort n by nosort",
        "sort n by nosort desc",
        "sort n by nosort limit 1 2",
        "sort n by nosort desc limit 1 2",
        "hset h_3 f 3 g c",
        "hset h_1 f 1 g a",
        "hset h_2 f 2 g b",
        "sort n by h_*->f get h_*->g get #",
        "sort n by h_*->f alpha",
        "sort n by h_*->nosuch",
        "sort n by h_*-> get h_*->",
        "sort n get h_*->g limit 0 3",
        "sadd s 5 3 1 4",
        "sort s",
        "sort s by nosort",
        "sort s desc",
        "sort s by nosort store dst",
        "lrange dst 0 -1",
        "sort s store dst2 limit 1 2",
        "lrange dst2 0 -1",
        "sort s store dst3 get w_*",
        "lrange dst3 0 -1",
        "sort nokey store dst",
        "exists dst",
        "zadd z 3 c 1 a 2 b",
        "sort z alpha",
        "sort z by nosort",
        "sort z by nosort desc",
        "sort z by nosort limit 1 1",
        "sort z",
        "set str x",
        "sort str",
        "rpush bad 1 x 2",
        "sort bad",
        "sort bad alpha",
        "sort bad by nosort",
        "set wt_x abc",
        "rpush bl x",
        "sort bl by wt_*",
        "rpush e \"\"",
        "sort e",
        "sort l by w_* alpha",
        "sort l store",
        "sort l store a b",
        "sort l get",
        "sort_ro l get #",
        "sort_ro z alpha limit 0 1",
        "set k1 ohmytext",
        "set k2 mynewtext",
        "lcs k1 k2",
        "lcs k1 k2 len",
        "lcs k1 k2 idx",
        "lcs k1 k2 idx minmatchlen 4",
        "lcs k1 k2 idx minmatchlen 4 withmatchlen",
        "lcs k1 k2 idx withmatchlen",
        "lcs k1 k2 len idx",
        "lcs k1 k2 foo",
        "lcs k1 k2 minmatchlen",
        "lcs k1 k2 minmatchlen a",
        "lcs k1 nokey",
        "lcs k1 nokey idx",
        "lcs k1 l",
        "lcs nokey nokey2 idx withmatchlen",
        "set a1 ABCBDAB",
        "set b1 BDCABA",
        "lcs a1 b1 idx withmatchlen",
        "lcs b1 a1 idx",
        "lcs a1 a1 idx",
        "zadd z2 1 a 2 b 5 c",
        "sadd s2 a c d",
        "zintercard 2 z z2",
        "zintercard 3 z z2 s2",
        "zintercard 3 z z2 s2 limit 1",
        "zintercard 3 z z2 s2 limit 0",
        "zintercard 3 z z2 s2 limit -1",
        "zintercard 3 z z2 s2 limit a",
        "zintercard 3 z z2 s2 limit",
        "zintercard 3 z z2 s2 foo",
        "zintercard 0 z",
        "zintercard a z",
        "zintercard 5 z",
        "zintercard 2 z str",
        "zintercard 2 z nokey",
        "zintercard 1 z",
        "sort n by w_* get nosuch_*",
        "lcs k1 k2 idx withmatchlen",
        "zintercard 1 z",
        "?HELLO 3",
        "SORT n BY w_* GET nosuch_*",
        "LCS k1 k2 IDX WITHMATCHLEN",
        "ZINTERCARD 1 z",
    ]);
}

/// LCS over strings with many equal runs, in every option, both ways.
#[test]
fn lcs_ranges_match_redis() {
    let pairs = [
        ("aaabbbaaa", "abababab"),
        ("xyzzyx", "zyxxyz"),
        ("the quick brown fox", "a quick brown dog"),
        ("", "abc"),
        ("abc", "abc"),
        ("abcdef", "ghijkl"),
    ];
    let mut script = Vec::new();
    for (i, (a, b)) in pairs.iter().enumerate() {
        script.push(format!("SET a{i} \"{a}\""));
        script.push(format!("SET b{i} \"{b}\""));
        for (x, y) in [
            (format!("a{i}"), format!("b{i}")),
            (format!("b{i}"), format!("a{i}")),
        ] {
            script.push(format!("LCS {x} {y}"));
            script.push(format!("LCS {x} {y} LEN"));
            script.push(format!("LCS {x} {y} IDX WITHMATCHLEN"));
            script.push(format!("LCS {x} {y} IDX MINMATCHLEN 2"));
        }
    }
    let refs: Vec<&str> = script.iter().map(String::as_str).collect();
    common::assert_same_replies(&refs);
}
