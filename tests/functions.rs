//! Functions (FUNCTION LOAD, FCALL) against redis-server: every
//! subcommand's replies and errors byte for byte, the load environment,
//! busy functions, and libraries kept in RDB files, DUMP payloads and the
//! AOF, read by both servers.

mod common;

use common::{Conn, ServerProcess};
use std::time::Duration;

/// A library named `name` with the body given.
fn lib(name: &str, body: &str) -> String {
    format!("#!lua name={name}\n{body}")
}

/// Sessions run on both servers, one command per step. A step whose first
/// word is `~` compares the reply's lines as a multiset (Redis lists
/// libraries, and a library's functions, in hash order); `?` compares
/// only the reply's type.
fn steps() -> Vec<Vec<String>> {
    let s = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    let load = |code: String| vec!["FUNCTION".into(), "LOAD".into(), code];
    let f1 = "redis.register_function('f1', function(keys, args) return {keys, args} end)";
    vec![
        s(&["FUNCTION", "FLUSH"]),
        // Metadata.
        load("return 1".into()),
        load("#!lua name=nonl".into()),
        load("#!lua\nreturn 1".into()),
        load("#!js name=x\nreturn 1".into()),
        load("#! name=x\nreturn 1".into()),
        load("#!lua name=a-b\nreturn 1".into()),
        load("#!lua name=\nreturn 1".into()),
        load("#!lua name=a name=b\nreturn 1".into()),
        load("#!lua name=a foo=bar\nreturn 1".into()),
        load("#!lua name=\"unbalanced\nreturn 1".into()),
        load("#!lua name=empty\n".into()),
        // Registration.
        load(lib("lib1", f1)),
        load(lib("lib1", f1)),
        load(lib("other", f1)),
        s(&["FCALL", "f1", "2", "a", "b", "c", "d"]),
        s(&["FCALL", "F1", "0", "x"]),
        load(lib(
            "named",
            "redis.register_function{function_name='n1', callback=function(k, a) return 'n1' end, flags={'NO-WRITES', 'allow-stale', 'allow-oom', 'no-cluster', 'allow-cross-slot-keys'}, description='the n1 function'}",
        )),
        s(&["FUNCTION", "LIST", "LIBRARYNAME", "named"]),
        s(&["FUNCTION", "LIST", "LIBRARYNAME", "named", "WITHCODE"]),
        load(lib("x", "redis.register_function('a 7', function() return 1 end)")),
        load(lib("x", "redis.register_function('', function() return 1 end)")),
        load(lib("x", "redis.register_function('x', 'y')")),
        load(lib("x", "redis.register_function()")),
        load(lib("x", "redis.register_function('a','b','c')")),
        load(lib("x", "redis.register_function('x')")),
        load(lib("x", "redis.register_function{function_name='x'}")),
        load(lib("x", "redis.register_function{callback=function() end}")),
        load(lib("x", "redis.register_function{function_name='x', callback=function() end, flags={'bad'}}")),
        load(lib("x", "redis.register_function{function_name='x', callback=function() end, flags='no-writes'}")),
        load(lib("x", "redis.register_function{function_name='x', callback=function() end, foo=1}")),
        load(lib("x", "redis.register_function{function_name='x', callback=function() end, description={}}")),
        load(lib("x", "redis.register_function{function_name={}, callback=function() end}")),
        load(lib("x", "redis.register_function{function_name='x', callback=1}")),
        load(lib("x", "redis.register_function{'x', function() end}")),
        load(lib("x", "redis.register_function(5)")),
        load(lib("x", "redis.register_function('d', function() end) redis.register_function('d', function() end)")),
        load(lib("numname", "redis.register_function(1, function() return 'one' end)")),
        s(&["FCALL", "1", "0"]),
        // The load environment: redis.register_function, log and the
        // version only.
        load(lib("env", "local s = string")),
        load(lib("env", "redis.call('ping')")),
        load(lib("env", "redis.setresp(3)")),
        load(lib("env", "redis.sha1hex('a')")),
        load(lib("env", "x = 1")),
        load(lib("env", "redis.foo = 1")),
        load(lib("env", "error('x')")),
        load(lib("env", "redis.log(redis.LOG_WARNING)")),
        load(lib("env", "local x = ")),
        load(lib("env", "redis.register_function('a', function() return 1 end)\nlocal y = tostring(1)")),
        load(lib(
            "env",
            "local v, n = redis.REDIS_VERSION, redis.REDIS_VERSION_NUM\nredis.log(redis.LOG_DEBUG, 'loading')\nredis.register_function('version', function() return {v, n} end)",
        )),
        s(&["FCALL", "version", "0"]),
        load(lib("spin", "local i = 0 while true do i = i + 1 end")),
        s(&["PING"]),
        // Running: the full API, KEYS/ARGV only as arguments, errors with
        // the function's name.
        load(lib(
            "run",
            "redis.register_function('len', function(k, a) return string.len(a[1]) end)\n\
             redis.register_function('boom', function(k, a) error('oops') end)\n\
             redis.register_function('nocmd', function(k, a) return redis.call('nosuch') end)\n\
             redis.register_function('globals', function(k, a) return KEYS end)\n\
             redis.register_function('setglobal', function(k, a) foo = 1 end)\n\
             redis.register_function('reg', function(k, a) return redis.register_function('q', function() end) end)\n\
             redis.register_function('set', function(k, a) return redis.call('set', k[1], a[1]) end)\n\
             redis.register_function('resp3', function(k, a) redis.setresp(3) return redis.call('hgetall', k[1]) end)\n\
             redis.register_function('pcall', function(k, a) return redis.pcall('incr', k[1]) end)\n\
             redis.register_function{function_name='ro', callback=function(k, a) return redis.call('get', k[1]) end, flags={'no-writes'}}\n\
             redis.register_function{function_name='rowrite', callback=function(k, a) return redis.call('set', k[1], 'x') end, flags={'no-writes'}}",
        )),
        s(&["FCALL", "len", "0", "hello"]),
        s(&["FCALL", "len", "1", "hello"]),
        s(&["FCALL", "boom", "0"]),
        s(&["FCALL", "nocmd", "0"]),
        s(&["FCALL", "globals", "0"]),
        s(&["FCALL", "setglobal", "0"]),
        s(&["FCALL", "reg", "0"]),
        s(&["FCALL", "set", "1", "k", "v"]),
        s(&["FCALL", "pcall", "1", "k"]),
        s(&["HSET", "h", "a", "1"]),
        s(&["FCALL", "resp3", "1", "h"]),
        s(&["FCALL_RO", "set", "1", "k", "v"]),
        s(&["FCALL_RO", "ro", "1", "k"]),
        s(&["FCALL", "ro", "1", "k"]),
        s(&["FCALL", "rowrite", "1", "k"]),
        s(&["FCALL", "nosuch", "0"]),
        s(&["FCALL", "nosuch", "x"]),
        s(&["FCALL", "len", "x"]),
        s(&["FCALL", "len", "-1"]),
        s(&["FCALL", "len", "5"]),
        s(&["FCALL", "len"]),
        s(&["MULTI"]),
        s(&["FCALL", "set", "1", "m", "1"]),
        s(&["FCALL", "ro", "1", "m"]),
        s(&["EXEC"]),
        s(&["EVAL", "return redis.call('fcall', 'ro', '1', 'k')", "0"]),
        s(&["EVAL_RO", "#!lua\nreturn 1", "0"]),
        s(&["EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0"]),
        // REPLACE, DELETE, LIST, STATS.
        s(&["FUNCTION", "LOAD", "REPLACE", &lib("lib1", "redis.register_function('f1', function() return 2 end)")]),
        s(&["FCALL", "f1", "0"]),
        s(&["FUNCTION", "LOAD", "REPLACE", &lib("lib1", "redis.register_function('len', function() return 2 end)")]),
        s(&["FCALL", "f1", "0"]),
        s(&["FUNCTION", "LOAD", "REPLACE", "REPLACE", &lib("lib2", "redis.register_function('f2', function() return 2 end)")]),
        s(&["FUNCTION", "LOAD", "x", "y"]),
        s(&["FUNCTION", "LOAD", "replace"]),
        s(&["FUNCTION", "LOAD"]),
        s(&["FUNCTION", "DELETE", "lib2"]),
        s(&["FUNCTION", "DELETE", "lib2"]),
        s(&["FUNCTION", "DELETE", "LIB1"]),
        s(&["FUNCTION", "DELETE"]),
        s(&["FUNCTION", "DELETE", "a", "b"]),
        s(&["FCALL", "f2", "0"]),
        s(&["~", "FUNCTION", "LIST"]),
        s(&["~", "FUNCTION", "LIST", "LIBRARYNAME", "L*"]),
        s(&["FUNCTION", "LIST", "LIBRARYNAME", "nomatch"]),
        s(&["FUNCTION", "LIST", "LIBRARYNAME"]),
        s(&["FUNCTION", "LIST", "WITHCODE", "WITHCODE"]),
        s(&["FUNCTION", "LIST", "foo"]),
        s(&["FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "b"]),
        s(&["FUNCTION", "STATS"]),
        s(&["FUNCTION", "KILL"]),
        s(&["FUNCTION", "HELP"]),
        s(&["FUNCTION", "FOO"]),
        s(&["FUNCTION"]),
        // RESP3 replies.
        s(&["?", "HELLO", "3"]),
        s(&["FUNCTION", "LIST", "LIBRARYNAME", "named"]),
        s(&["FUNCTION", "STATS"]),
        s(&["FCALL", "resp3", "1", "h"]),
        s(&["?", "HELLO", "2"]),
        // DUMP and RESTORE (one library, so the payload's order is known).
        s(&["FUNCTION", "FLUSH", "ASYNC"]),
        s(&["FUNCTION", "DUMP"]),
        load(lib("dumped", "redis.register_function('dumped', function() return 'd' end)")),
        s(&["FUNCTION", "DUMP"]),
        s(&["FUNCTION", "DUMP", "x"]),
        s(&["FUNCTION", "RESTORE"]),
        s(&["FUNCTION", "RESTORE", "garbage"]),
        s(&["FUNCTION", "RESTORE", "garbage", "FOO"]),
        s(&["FUNCTION", "RESTORE", "garbage", "FLUSH", "x"]),
        s(&["FUNCTION", "FLUSH", "foo"]),
        s(&["FUNCTION", "FLUSH", "SYNC", "x"]),
        s(&["FUNCTION", "FLUSH", "SYNC"]),
        s(&["FUNCTION", "STATS"]),
    ]
}

fn run_steps(a: &mut Conn, b: &mut Conn, steps: &[Vec<String>]) {
    let show = |r: &[u8]| String::from_utf8_lossy(r).into_owned();
    for step in steps {
        let (mark, words) = match step[0].as_str() {
            m @ ("~" | "?") => (Some(m), &step[1..]),
            _ => (None, &step[..]),
        };
        let args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        let (expected, got) = (a.cmd(&args), b.cmd(&args));
        match mark {
            Some("~") => {
                let lines = |reply: &[u8]| {
                    let mut lines: Vec<String> =
                        show(reply).split("\r\n").map(String::from).collect();
                    lines.sort();
                    lines
                };
                assert_eq!(
                    lines(&expected),
                    lines(&got),
                    "unordered reply to {words:?}"
                );
            }
            Some(_) => assert_eq!(expected[0], got[0], "reply type of {words:?}"),
            None => assert_eq!(
                show(&expected),
                show(&got),
                "reply to {words:?} (left: redis-server, right: rudis)"
            ),
        }
    }
}

#[test]
fn function_commands_match_redis() {
    let (redis, rudis) = (ServerProcess::redis(), ServerProcess::rudis(&[]));
    let (mut a, mut b) = (redis.connect(), rudis.connect());
    run_steps(&mut a, &mut b, &steps());
}

/// A payload dumped by either server restores in the other, with every
/// policy.
#[test]
fn dump_payloads_restore_across_servers() {
    let (redis, rudis) = (ServerProcess::redis(), ServerProcess::rudis(&[]));
    let (mut a, mut b) = (redis.connect(), rudis.connect());
    let one = lib(
        "one",
        "redis.register_function('one', function() return 1 end)",
    );
    let two = lib(
        "two",
        "redis.register_function('two', function() return 2 end)",
    );
    for conn in [&mut a, &mut b] {
        conn.cmd(&[b"FUNCTION", b"LOAD", one.as_bytes()]);
    }
    let from_redis = common::bulk_payload(&a.cmd(&[b"FUNCTION", b"DUMP"]));
    let from_rudis = common::bulk_payload(&b.cmd(&[b"FUNCTION", b"DUMP"]));
    assert_eq!(
        from_redis, from_rudis,
        "one library dumps to the same bytes"
    );
    // Both libraries in each payload; each target holds only `one`, so
    // the first name taken is known.
    for conn in [&mut a, &mut b] {
        conn.cmd(&[b"FUNCTION", b"LOAD", two.as_bytes()]);
    }
    let two_from_redis = common::bulk_payload(&a.cmd(&[b"FUNCTION", b"DUMP"]));
    let two_from_rudis = common::bulk_payload(&b.cmd(&[b"FUNCTION", b"DUMP"]));
    for conn in [&mut a, &mut b] {
        conn.run("FUNCTION DELETE two");
    }
    for (payload, target) in [(&two_from_redis, &mut b), (&two_from_rudis, &mut a)] {
        let steps: [&[&[u8]]; 8] = [
            &[b"FUNCTION", b"RESTORE", payload],
            &[b"FUNCTION", b"RESTORE", payload, b"APPEND"],
            &[b"FUNCTION", b"RESTORE", payload, b"REPLACE"],
            &[b"FCALL", b"two", b"0"],
            &[b"FUNCTION", b"FLUSH"],
            &[
                b"FUNCTION",
                b"LOAD",
                b"#!lua name=clash\nredis.register_function('one', function() end)",
            ],
            &[b"FUNCTION", b"RESTORE", payload, b"REPLACE"],
            &[b"FUNCTION", b"RESTORE", payload, b"FLUSH"],
        ];
        let replies: Vec<String> = steps
            .iter()
            .map(|args| String::from_utf8_lossy(&target.cmd(args)).into_owned())
            .collect();
        assert_eq!(
            replies,
            [
                "-ERR Library one already exists\r\n",
                "-ERR Library one already exists\r\n",
                "+OK\r\n",
                ":2\r\n",
                "+OK\r\n",
                "$5\r\nclash\r\n",
                "-ERR Function one already exists\r\n",
                "+OK\r\n",
            ]
        );
        assert_eq!(target.run("FCALL one 0"), b":1\r\n");
        target.run("FUNCTION FLUSH");
        target.cmd(&[b"FUNCTION", b"LOAD", one.as_bytes()]);
    }
}

fn send(conn: &mut Conn, args: &[&[u8]]) {
    conn.send(&common::encode(args));
}

fn pause(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// A function past `busy-reply-threshold`: -BUSY with FUNCTION KILL's
/// text, FUNCTION STATS naming it, SCRIPT KILL refused, FUNCTION KILL
/// stopping it; and the reverse for a busy EVAL; a function that wrote
/// cannot be killed.
fn busy_session(server: &ServerProcess) -> Vec<String> {
    let mut out = Vec::new();
    let mut show = |label: &str, reply: Vec<u8>| {
        let text = String::from_utf8_lossy(&reply).into_owned();
        // The duration is whatever it is; the rest must match.
        let text = match text.find("duration_ms") {
            Some(at) => text[..at].to_string(),
            None => text,
        };
        out.push(format!("{label}: {text}"));
    };
    let mut caller = server.connect();
    let mut other = server.connect();
    other.run("CONFIG SET busy-reply-threshold 100");
    let code = lib(
        "busy",
        "redis.register_function('spin', function(keys, args) local i = 0 while true do i = i + 1 end end)\n\
         redis.register_function('wspin', function(keys, args) redis.call('set', 'x', '1') while true do end end)",
    );
    show("load", other.cmd(&[b"FUNCTION", b"LOAD", code.as_bytes()]));
    send(&mut caller, &[b"EVAL", b"while true do end", b"0"]);
    pause(300);
    show("stats in eval", other.run("FUNCTION STATS"));
    show("function kill in eval", other.run("FUNCTION KILL"));
    show("ping in eval", other.run("PING"));
    show("script kill", other.run("SCRIPT KILL"));
    show("eval killed", caller.read_reply());
    send(&mut caller, &[b"FCALL", b"spin", b"1", b"key1", b"arg1"]);
    pause(300);
    show("stats", other.run("FUNCTION STATS"));
    show("ping", other.run("PING"));
    show("new client", server.connect().run("PING"));
    show("script kill in function", other.run("SCRIPT KILL"));
    show("function kill", other.run("FUNCTION KILL"));
    show("function killed", caller.read_reply());
    show("ping after", other.run("PING"));
    send(&mut caller, &[b"FCALL", b"wspin", b"0"]);
    pause(300);
    show("unkillable", other.run("FUNCTION KILL"));
    other.send(b"SHUTDOWN NOSAVE\r\n");
    out.push(format!(
        "caller closed: {}",
        caller.is_closed(Duration::from_secs(5))
    ));
    out
}

#[test]
fn busy_functions_are_answered_and_killed_as_redis() {
    let (redis, rudis) = (ServerProcess::redis(), ServerProcess::rudis(&[]));
    let expected = busy_session(&redis);
    let got = busy_session(&rudis);
    for (e, g) in expected.iter().zip(&got) {
        assert_eq!(e, g, "(left: redis-server, right: rudis)");
    }
    assert_eq!(expected.len(), got.len());
}

const COUNTER: &str = "#!lua name=counter\nredis.register_function{function_name='bump', callback=function(keys, args) return redis.call('incr', keys[1]) end, description='counts'}";

/// Libraries are saved in the RDB's function section: they survive a
/// restart, DEBUG RELOAD puts back the file's set, and each server loads
/// the other's file.
#[test]
fn libraries_survive_restarts_in_rdb_files_of_either_server() {
    let dir = common::fresh_dir("functions-rdb");
    let dir_arg = dir.to_string_lossy().into_owned();
    let args = ["--dir", dir_arg.as_str(), "--enable-debug-command", "yes"];
    {
        let rudis = ServerProcess::rudis(&args);
        let mut c = rudis.connect();
        c.cmd(&[b"FUNCTION", b"LOAD", COUNTER.as_bytes()]);
        assert_eq!(c.run("FCALL bump 1 n"), b":1\r\n");
        assert_eq!(c.run("SAVE"), b"+OK\r\n");
        c.run("FUNCTION FLUSH");
        assert_eq!(c.run("DEBUG RELOAD NOSAVE"), b"+OK\r\n");
        assert_eq!(c.run("FCALL bump 1 n"), b":2\r\n");
        assert_eq!(c.run("SAVE"), b"+OK\r\n");
    }
    let listing = {
        let redis = ServerProcess::redis_with(&args);
        let mut c = redis.connect();
        assert_eq!(c.run("FCALL bump 1 n"), b":3\r\n");
        let code = lib(
            "extra",
            "redis.register_function('extra', function() return 'e' end)",
        );
        c.cmd(&[b"FUNCTION", b"LOAD", code.as_bytes()]);
        assert_eq!(c.run("SAVE"), b"+OK\r\n");
        c.run("FUNCTION LIST WITHCODE")
    };
    let rudis = ServerProcess::rudis(&args);
    let mut c = rudis.connect();
    assert_eq!(c.run("FCALL bump 1 n"), b":4\r\n");
    assert_eq!(c.run("FCALL extra 0"), b"$1\r\ne\r\n");
    let (mut x, mut y) = (
        common::array_items(&listing),
        common::array_items(&c.run("FUNCTION LIST WITHCODE")),
    );
    x.sort();
    y.sort();
    assert_eq!(x, y);
}

/// A library that does not compile makes the file unreadable: the server
/// refuses to start rather than start without it, and the file stays.
#[test]
fn a_file_with_a_broken_library_is_refused() {
    let dir = common::fresh_dir("functions-bad");
    let bad: &[u8] = b"#!lua name=bad\nthis is not lua";
    let options = rudis::rdb::SaveOptions {
        checksum: true,
        aof_base: false,
        access: rudis::rdb::AccessRecord::Nothing,
        repl: None,
    };
    let bytes = rudis::rdb::Encoder::new(Vec::new(), true)
        .snapshot(&[], &[bad], options, 0)
        .unwrap();
    std::fs::write(dir.join("dump.rdb"), &bytes).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rudis-server"))
        .args(["--port", &common::free_port().to_string()])
        .arg("--dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("Failed loading library, Error compiling function"),
        "{log}"
    );
    assert_eq!(std::fs::read(dir.join("dump.rdb")).unwrap(), bytes);
}

/// FUNCTION LOAD and DELETE reach the AOF as sent, FCALL as the commands
/// it ran; both rewrite forms keep the libraries; redis-server loads what
/// rudis wrote.
#[test]
fn libraries_are_logged_rewritten_and_replayed() {
    let dir = common::fresh_dir("functions-aof");
    let dir_arg = dir.to_string_lossy().into_owned();
    let args = [
        "--appendonly",
        "yes",
        "--dir",
        dir_arg.as_str(),
        "--save",
        "",
    ];
    let extra = lib(
        "extra",
        "redis.register_function('extra', function() return 'e' end)",
    );
    {
        let rudis = ServerProcess::rudis(&args);
        let mut c = rudis.connect();
        c.cmd(&[b"FUNCTION", b"LOAD", COUNTER.as_bytes()]);
        c.cmd(&[b"FUNCTION", b"LOAD", extra.as_bytes()]);
        assert_eq!(c.run("FCALL bump 1 n"), b":1\r\n");
        assert_eq!(c.run("FUNCTION DELETE extra"), b"+OK\r\n");
        let log = std::fs::read_dir(dir.join("appendonlydir"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".incr."))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect::<String>();
        assert!(!log.contains("FCALL"), "{log}");
        assert!(log.contains("incr") && log.contains("DELETE"), "{log}");
    }
    for preamble in ["no", "yes"] {
        let rudis = ServerProcess::rudis(&args);
        let mut c = rudis.connect();
        assert_eq!(c.run("FCALL extra 0"), b"-ERR Function not found\r\n");
        c.run(&format!("CONFIG SET aof-use-rdb-preamble {preamble}"));
        assert_eq!(
            c.run("BGREWRITEAOF"),
            b"+Background append only file rewriting started\r\n"
        );
        assert!(common::eventually(Duration::from_secs(10), || {
            common::info_field(&mut c, "persistence", "aof_rewrite_in_progress") == "0"
                && common::info_field(&mut c, "persistence", "aof_rewrite_scheduled") == "0"
        }));
        c.run("FCALL bump 1 n");
    }
    let redis = ServerProcess::redis_with(&args);
    let mut c = redis.connect();
    assert_eq!(c.run("FCALL bump 1 n"), b":4\r\n");
}

/// redis-py's function API (scripts/test.sh installs redis-py).
#[test]
fn redis_py_functions_work() {
    let rudis = ServerProcess::rudis(&[]);
    common::assert_python_ok("functions_redis_py.py", &rudis);
}

/// A function's declared flags decide what the server lets it do before
/// it runs, as Redis's `getCommandFlags`: one that may write is a write
/// on a read-only replica; on a stale replica only `allow-stale` ones
/// run, and their commands must be allowed while stale too. EVAL with a
/// shebang follows the same rules.
#[test]
fn declared_flags_decide_on_replicas_as_in_redis() {
    common::assert_same_replies(&[
        "FUNCTION LOAD \"#!lua name=lib\\nredis.register_function{function_name='w', callback=function() return redis.call('set','x','1') end}\\nredis.register_function{function_name='f1', callback=function() return 'hello' end, flags={'no-writes'}}\\nredis.register_function{function_name='f2', callback=function() return 'hello' end, flags={'allow-stale', 'no-writes'}}\\nredis.register_function{function_name='f3', callback=function() return redis.call('get', 'x') end, flags={'allow-stale', 'no-writes'}}\"",
        "REPLICAOF 127.0.0.1 1",
        "FCALL w 0",
        "FCALL f1 0",
        "EVAL \"#!lua\\nreturn redis.call('set','x','1')\" 0",
        "EVAL \"#!lua flags=no-writes\\nreturn 1\" 0",
        "EVAL \"return 1\" 0",
        "CONFIG SET replica-serve-stale-data no",
        "FCALL w 0",
        "FCALL f1 0",
        "FCALL f2 0",
        "FCALL f3 0",
        "FCALL_RO f2 0",
        "EVAL \"#!lua flags=no-writes\\nreturn 1\" 0",
        "EVAL \"#!lua flags=no-writes,allow-stale\\nreturn 1\" 0",
        "EVAL \"#!lua flags=no-writes,allow-stale\\nreturn redis.call('get','x')\" 0",
        "EVAL \"return 1\" 0",
        "EVALSHA e0e1f9fabfc9d4800c877a703b823ac0578ff8db 0",
        "EVALSHA 0000000000000000000000000000000000000000 0",
        "EVALSHA abc 0",
        "FCALL nofn 0",
        "EVAL_RO \"return 1\" 0",
        "EVAL \"#!bad\nreturn 1\" 0",
        "EVAL \"#!lua flags=allow-stale\nreturn 1\" 0",
        "MULTI",
        "FCALL f2 0",
        "EXEC",
        "MULTI",
        "FCALL f1 0",
        "EXEC",
        "REPLICAOF NO ONE",
    ]);
}
