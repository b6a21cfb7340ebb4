//! Differential tests: the same commands go to a real redis-server 7.0 and
//! to rudis, and the raw replies must be byte-identical.

mod common;

use common::{assert_same_replies, ServerProcess};

#[test]
fn connection_commands() {
    assert_same_replies(&[
        "PING",
        "ping hello",
        "PiNg \"a b\"",
        "ping a b",
        "echo",
        "echo x",
        "echo \"\"",
        "echo \"\\x00\\xff\\r\\n\"",
        "echo a b",
        "select 0",
        "select 15",
        "select 16",
        "select -1",
        "select x",
        "select 01",
        "select 99999999999",
        "select 99999999999999999999",
        "select",
        "quit x y",
    ]);
}

#[test]
fn unknown_commands_and_subcommands() {
    let long = "x".repeat(200);
    let line = format!("{long} {long} b");
    let line2 = format!("foo {long} {long}");
    let line3 = format!("foo a {long}");
    let line4 = format!("config {long}");
    assert_same_replies(&[
        "foo",
        "foo a b",
        "foo \"\" \"a b\" c d e f g h i j k l m n o p q r s t u v w x y z",
        "\"f\\x00oo\" \"a\\x00b\"",
        "foo \"a\\r\\nb\"",
        &line,
        &line2,
        &line3,
        &line4,
        "config",
        "config foo",
        "config get",
        "client",
        "client foo",
        "client id x",
        "command foo",
        "command count x",
    ]);
}

#[test]
fn hello_handshake() {
    assert_same_replies(&[
        "?hello",
        "hello 4",
        "hello 1",
        "hello x",
        "hello 2 foo",
        "hello 3 setname",
        "hello 3 auth a b",
        "hello 3 auth default",
        "hello 3 setname \"a b\"",
        "client getname",
        "?hello 3 setname foo",
        "client getname",
        "ping",
        "?hello 2",
        "client getname",
        "?hello 3 auth default anything",
    ]);
}

#[test]
fn config_commands() {
    assert_same_replies(&[
        "config get timeout",
        "config get maxclients",
        "config get proto-max-bulk-len",
        "config get client-query-buffer-limit",
        "config get tcp-backlog",
        "config get tcp-keepalive",
        "config get databases",
        "config get hz",
        "config get loglevel",
        "config get appendonly",
        "config get MAXCLIENTS",
        "config get client-output-buffer-limit",
        "config get nosuchthing",
        "config set hz abc",
        "config set maxclients 0",
        "config set timeout -1",
        "config set timeout 2147483648",
        "config set databases 3",
        "config set loglevel foo",
        "config set proto-max-bulk-len 1k",
        "config set proto-max-bulk-len abc",
        "config set hz 10 hz 11",
        "config set foo bar",
        "config set timeout",
        "config set timeout 1 hz",
        "config set appendonly maybe",
        "config set timeout 10",
        "config get timeout",
        "config set timeout 0 hz 20",
        "config get hz",
        "config set hz 0",
        "config get hz",
        "config set hz 1000",
        "config get hz",
        "config set hz 10",
        "config set loglevel warning",
        "config get loglevel",
        "config set proto-max-bulk-len 2mb",
        "config get proto-max-bulk-len",
        "config set client-query-buffer-limit 1gb",
        "config set client-output-buffer-limit \"normal 1mb 512kb 10\"",
        "config get client-output-buffer-limit",
        "config set client-output-buffer-limit \"normal 1mb\"",
        "config set client-output-buffer-limit \"foo 1 1 1\"",
        "config set save \"100 10\"",
        "config get save",
        "config set save \"\"",
        "config get save",
        "config set save \"1 2 3\"",
        "config set maxclients 5000",
        "config get maxclients",
        "config resetstat",
        "config resetstat x",
        "config help x",
    ]);
}

#[test]
fn config_get_with_several_patterns_is_a_map() {
    // Redis does not promise an order across patterns: compare as sets of
    // pairs.
    let redis = ServerProcess::redis();
    let rudis = ServerProcess::rudis(&["--save", ""]);
    for line in [
        "config get save appendonly",
        "config get max* timeout",
        "config get *client*",
    ] {
        let pairs = |server: &ServerProcess| {
            let mut conn = server.connect();
            let items = common::array_items(&conn.run(line));
            let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = items
                .chunks(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect();
            pairs.sort();
            pairs
        };
        let expected = pairs(&redis);
        let got = pairs(&rudis);
        // rudis implements a subset of Redis's settings: every one it has
        // must be reported exactly as Redis reports it.
        for pair in &got {
            assert!(
                expected.contains(pair),
                "{line}: {pair:?} not in redis's reply"
            );
        }
        if line.contains("save") {
            assert_eq!(expected, got);
        }
    }
}

#[test]
fn error_replies_are_counted_by_code() {
    common::assert_same_replies(&[
        "info errorstats",
        "set s x",
        "lpush s a",
        "nosuch",
        "get",
        "incr s",
        "hello 9",
        "multi",
        "nosuch",
        "exec",
        "multi",
        "incr s",
        "ping",
        "exec",
        "info errorstats",
        "config resetstat",
        "info errorstats",
        "lpush s a",
        "info errorstats",
    ]);
}

#[test]
fn client_commands() {
    assert_same_replies(&[
        "client getname",
        "client setname foo",
        "client getname",
        "client setname \"a b\"",
        "client setname \"a\\nb\"",
        "client setname \"\"",
        "client getname",
        "client setname",
        "client no-evict maybe",
        "client no-evict on",
        "client no-evict OFF",
        "client kill",
        "client kill 1.2.3.4:5",
        "client kill id 999",
        "client kill id x",
        "client kill id 0",
        "client kill id -5",
        "client kill foo bar",
        "client kill id",
        "client kill addr 1.1.1.1:1 laddr x",
        "client kill skipme maybe",
        "client kill skipme no addr 1.1.1.1:1",
        "client kill type foo",
        "client kill type normal addr 1.1.1.1:1",
        "client kill user bob",
        "client kill user default addr 1.1.1.1:1",
        "client kill maxage 1",
        "client list type foo",
        "client list id x",
        "client list foo",
        "client list id 0",
        "client info x",
        "client id x",
        "?client id",
        "?client list",
        "?client info",
    ]);
}

/// COMMAND GETKEYS and GETKEYSANDFLAGS follow the key specs (and the
/// commands' own rules where Redis has them) to the same keys and flags.
#[test]
fn getkeys_finds_what_redis_finds() {
    assert_same_replies(&[
        "command getkeys set a b",
        "command getkeysandflags set a b",
        "command getkeysandflags set a b get",
        "command getkeys get a",
        "command getkeysandflags lmove a b left right",
        "command getkeys mset a 1 b 2",
        "command getkeys mset a 1 b",
        "command getkeys zunionstore d 2 a b",
        "command getkeysandflags zunionstore d 2 a b weights 1 2",
        "command getkeys zunionstore d 3 a b",
        "command getkeys zunion 2 a b",
        "command getkeys blpop a b c 0",
        "command getkeys lmpop 2 a b left",
        "command getkeys zmpop 1 z min count 2",
        "command getkeys bzmpop 1 1 z min",
        "command getkeys migrate h 1 k 0 10",
        "command getkeysandflags migrate h 1 \"\" 0 10 auth keys keys a b",
        "command getkeys migrate h 1 k 0 10 keys a",
        "command getkeys ping",
        "command getkeys nosuch",
        "command getkeys get",
        "command getkeys config get x",
        "command getkeys object encoding k",
        "command getkeysandflags object encoding k",
        "command getkeys sintercard 2 a b",
        "command getkeys exists a b c",
        "command getkeys del",
        "command getkeys rename a b",
        "command getkeys copy a b",
        "command getkeys client list",
        "command getkeys smove a b m",
        "command getkeysandflags getex k",
        "command getkeys zinterstore d 0 a",
        "command getkeys zrangestore d s 0 1",
        "command getkeys watch a b",
        "command getkeys hset h f v",
        "command help",
    ]);
}

/// Every HELP reply is Redis's, word for word, and a whole reply.
#[test]
fn help_replies_are_redis_s() {
    assert_same_replies(&[
        "command help",
        "config help",
        "object help",
        "slowlog help",
        "latency help",
        "memory help",
        "ping",
    ]);
}

#[test]
fn server_commands() {
    assert_same_replies(&[
        "dbsize",
        "dbsize x",
        "?time",
        "time x",
        "shutdown foo",
        "shutdown save nosave",
        "shutdown abort",
        "shutdown abort now",
        "?info",
        "info x y",
        "command info nosuchcommand",
        "command list filterby foo bar",
        "command list foo",
        "command docs nosuchcommand",
    ]);
}

/// COMMAND INFO and COMMAND DOCS come from rudis's command table; for every
/// command rudis has, they must say what Redis says.
#[test]
fn command_table_matches_redis() {
    let redis = ServerProcess::redis();
    let rudis = ServerProcess::rudis(&[]);
    let mut ours = rudis.connect();
    let mut theirs = redis.connect();
    let names = common::array_items(&ours.run("command list"));
    assert!(names.len() > 10);
    for raw in names {
        let name = String::from_utf8_lossy(&raw)
            .lines()
            .nth(1)
            .unwrap()
            .to_string();
        if name.contains('|') {
            continue; // subcommands come with their parent
        }
        for sub in ["info", "docs"] {
            let line = format!("command {sub} {name}");
            let expected = String::from_utf8_lossy(&theirs.run(&line)).into_owned();
            let got = String::from_utf8_lossy(&ours.run(&line)).into_owned();
            if sub == "docs" {
                // rudis serves summary, since, group, complexity, flags and
                // subcommands, not the argument tree: compare what it serves.
                for field in ["summary", "since", "group", "complexity"] {
                    assert_eq!(
                        doc_field(&expected, field),
                        doc_field(&got, field),
                        "{line}: {field}"
                    );
                }
            } else if got.contains('|') {
                // Containers: Redis lists subcommands in hash order, and has
                // some rudis lacks. The nine head fields must match, and every
                // subcommand rudis has must be described exactly as in Redis.
                let fields = |reply: &str| {
                    let entry = common::array_items(reply.as_bytes()).remove(0);
                    common::array_items(&entry)
                };
                let (theirs_fields, ours_fields) = (fields(&expected), fields(&got));
                assert_eq!(theirs_fields[..9], ours_fields[..9], "{line}: head");
                let their_subs = common::array_items(&theirs_fields[9]);
                for sub in common::array_items(&ours_fields[9]) {
                    assert!(
                        their_subs.contains(&sub),
                        "{line}: {}",
                        String::from_utf8_lossy(&sub)
                    );
                }
            } else {
                assert_eq!(expected, got, "{line}");
            }
        }
    }
    let count = String::from_utf8(ours.run("command count")).unwrap();
    let listed = common::array_items(&ours.run("command")).len();
    assert_eq!(count, format!(":{listed}\r\n"));
    let theirs_count = String::from_utf8(theirs.run("command count")).unwrap();
    assert_eq!(count, theirs_count, "COMMAND COUNT: rudis, redis-server");
}

/// LOLWUT draws what Redis 7.0 draws: the version line by default, the
/// art of versions 5 and 6 with their sizes and captions. The art is
/// random, so the first rows of Schotter (never moved), the shape of each
/// drawing and its caption are compared.
#[test]
fn lolwut_draws_as_redis_draws() {
    common::assert_same_replies(&[
        "lolwut",
        "lolwut 1 2 3",
        "lolwut version x",
        "lolwut version 4",
        "lolwut version 7 10",
        "lolwut version -1",
        "lolwut version 5 x",
    ]);
    common::assert_same_observations(|server| {
        let mut conn = server.connect();
        let mut seen = Vec::new();
        for line in [
            "lolwut version 5",
            "lolwut version 5 10 3 3",
            "lolwut version 5 1 0 -3",
            "lolwut version 5 1200 300 1",
            "lolwut version 6",
            "lolwut version 6 7 3",
            "lolwut version 6 0 -4",
        ] {
            let art = String::from_utf8(common::bulk_payload(&conn.run(line))).unwrap();
            let rows: Vec<&str> = art.lines().collect();
            // Characters per row; version 6 counts cells, each an escape
            // sequence in its colours.
            let width = |row: &&str| match row.matches("\x1b[0m").count() {
                0 => row.chars().count(),
                cells => cells,
            };
            let mut widths: Vec<usize> = rows.iter().map(width).collect();
            widths.dedup();
            let caption = rows.iter().rev().take(2).copied();
            seen.push(format!(
                "{line}: {} rows, widths {widths:?}, {:?}",
                rows.len(),
                caption.collect::<Vec<_>>()
            ));
            if line.contains("version 5") {
                seen.extend(rows.iter().take(2).map(|r| r.to_string()));
            }
        }
        seen
    });
}

/// RESTORE-ASKING is RESTORE for a cluster's migrations; outside a
/// cluster it restores as RESTORE does.
#[test]
fn restore_asking_restores_as_restore() {
    common::assert_same_replies(&[
        "set k v",
        "?dump k",
        "restore-asking k",
        "restore-asking k2 0 x",
    ]);
    common::assert_same_observations(|server| {
        let mut conn = server.connect();
        conn.run("RPUSH list a b c");
        let payload = common::bulk_payload(&conn.run("DUMP list"));
        let restored = conn.cmd(&[b"RESTORE-ASKING", b"copy", b"0", &payload]);
        let again = conn.cmd(&[b"RESTORE-ASKING", b"copy", b"0", &payload]);
        let items = conn.run("LRANGE copy 0 -1");
        [restored, again, items]
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect()
    });
}

fn doc_field(reply: &str, field: &str) -> Option<String> {
    let mut lines = reply.split("\r\n");
    while let Some(line) = lines.next() {
        if line == field {
            lines.next();
            return lines.next().map(str::to_string);
        }
    }
    None
}

/// Raw request bytes, including malformed ones: the bytes each server sends
/// back before closing must be identical.
#[test]
fn raw_requests_match_byte_for_byte() {
    let redis = ServerProcess::redis();
    let rudis = ServerProcess::rudis(&["--save", ""]);
    let cases: &[&[u8]] = &[
        b"PING\r\n",
        b"PING\n",
        b"  ping   \"a b\"  'c d'  \r\n",
        b"echo \"\\x41\\x4a\\xzz\\n\\t\\\\\"\r\n",
        b"echo 'it\\'s'\r\n",
        b"echo \"a\"b\r\n",
        b"echo 'a'b\r\n",
        b"echo a\"b c\"d\r\n",
        b"echo \"a\r\n",
        b"echo 'a\r\n",
        b"echo a\x00b\r\n",
        b"\r\n\r\n\n\nPING\r\n",
        b"*0\r\n*-1\r\n*-5\r\nPING\r\n",
        b"*1\r\n$0\r\n\r\n",
        b"*2\r\n$4\r\nECHO\r\n$1\r\nabXY*1\r\n$4\r\nPING\r\n",
        b"*x\r\n",
        b"*+1\r\n",
        b"*01\r\n",
        b"* 1\r\n",
        b"*2147483648\r\n",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$01\r\n",
        b"*1\r\n$536870913\r\n",
        b"*1\r\n-4\r\nPING\r\n",
        b"*1\r\n:4\r\nPING\r\n",
        b"*3\r\n$3\r\nSET\r\n",
        b"$4\r\nPING\r\n",
        b"+PING\r\n",
        b"*1\r$4\r\nPING\r\n",
    ];
    for input in cases {
        let run = |server: &ServerProcess| {
            let mut conn = server.connect();
            conn.send(input);
            let _ = conn.stream.shutdown(std::net::Shutdown::Write);
            conn.read_to_eof()
        };
        let expected = run(&redis);
        let got = run(&rudis);
        assert_eq!(
            String::from_utf8_lossy(&expected),
            String::from_utf8_lossy(&got),
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

/// CONFIG GET knows every Redis 7.0 setting, with Redis's defaults (those
/// rudis does not act on yet included), and CONFIG SET checks them as
/// Redis does.
#[test]
fn every_redis_setting_is_known() {
    let redis = ServerProcess::redis_with(&["--save", "", "--appendonly", "no"]);
    let rudis = ServerProcess::rudis(&["--save", ""]);
    let all = |server: &ServerProcess| {
        let items = common::array_items(&server.connect().run("config get *"));
        let mut pairs: Vec<(String, String)> = items
            .chunks(2)
            .map(|p| {
                (
                    String::from_utf8_lossy(&common::bulk_payload(&p[0])).into_owned(),
                    String::from_utf8_lossy(&common::bulk_payload(&p[1])).into_owned(),
                )
            })
            // Where the servers run, and rudis's own setting.
            .filter(|(name, _)| {
                ![
                    "bind",
                    "port",
                    "dir",
                    "pipeline-coalesce-us",
                    "metrics-port",
                ]
                .contains(&name.as_str())
            })
            .collect();
        pairs.sort();
        pairs
    };
    assert_eq!(all(&redis), all(&rudis));
    assert_same_replies(&[
        "config set replica-read-only no",
        "config get replica-read-only",
        "config get slave-read-only",
        "~config get slave*",
        "config set io-threads 2",
        "config set acllog-max-len x",
        "config set acllog-max-len -1",
        "config set oom-score-adj maybe",
        "config set repl-backlog-size 2mb",
        "config get repl-backlog-size",
        "config set activedefrag perhaps",
    ]);
}

/// INFO has every field Redis 7.0's INFO has, section by section and in
/// Redis's order (rudis may add its own after them): scrapers find what
/// they look for.
#[test]
fn info_has_every_redis_field_in_order() {
    let redis = ServerProcess::redis();
    let rudis = ServerProcess::rudis(&[]);
    let fields = |server: &ServerProcess| -> Vec<(String, Vec<String>)> {
        let text = String::from_utf8_lossy(&common::bulk_payload(
            &server.connect().run("INFO everything"),
        ))
        .into_owned();
        let mut sections: Vec<(String, Vec<String>)> = Vec::new();
        for line in text.lines() {
            if let Some(title) = line.strip_prefix("# ") {
                sections.push((title.to_string(), Vec::new()));
            } else if let Some((name, _)) = line.split_once(':') {
                let volatile = ["cmdstat_", "errorstat_", "latency_percentiles", "db"]
                    .iter()
                    .any(|p| name.starts_with(p));
                if let (false, Some(section)) = (volatile, sections.last_mut()) {
                    section.1.push(name.to_string());
                }
            }
        }
        sections
    };
    let (theirs, ours) = (fields(&redis), fields(&rudis));
    for (title, names) in &theirs {
        let mine = &ours
            .iter()
            .find(|(t, _)| t == title)
            .unwrap_or_else(|| panic!("section {title} missing"))
            .1;
        let mut at = 0;
        for name in names {
            let found = mine[at..]
                .iter()
                .position(|m| m == name)
                .unwrap_or_else(|| panic!("{title}: {name} missing or out of order in {mine:?}"));
            at += found + 1;
        }
    }
}

/// `shutdown-on-sigint` and `shutdown-on-sigterm` take SHUTDOWN's flags as
/// Redis checks and shows them.
#[test]
fn shutdown_on_signal_flags_match_redis() {
    assert_same_replies(&[
        "config set shutdown-on-sigint \"now nosave\"",
        "config get shutdown-on-sigint",
        "config set shutdown-on-sigint \"save nosave\"",
        "config set shutdown-on-sigint bogus",
        "config set shutdown-on-sigint \"\"",
        "config set shutdown-on-sigint \"default now\"",
        "config get shutdown-on-sigint",
        "config set shutdown-on-sigterm \"force save now\"",
        "config get shutdown-on-sigterm",
        "config set shutdown-on-sigterm default",
        "~config get shutdown-on-sig*",
    ]);
}
