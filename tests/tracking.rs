//! Client-side caching against redis-server: CLIENT TRACKING in its modes
//! (default, BCAST with prefixes, OPTIN/OPTOUT, NOLOOP, REDIRECT to a
//! RESP2 subscriber or a RESP3 client), the invalidation messages each
//! connection receives, compared byte for byte as streams, and the
//! introspection around them (TRACKINGINFO, GETREDIR, INFO, CLIENT LIST).

mod common;

use common::{words, Conn, ServerProcess};
use std::time::Duration;

/// Everything a connection received up to the reply to a PING sent now:
/// messages caused by earlier steps arrive before it.
fn settle(conn: &mut Conn) -> Vec<u8> {
    conn.send(b"PING\r\n");
    let mut got = Vec::new();
    loop {
        let reply = conn.read_reply();
        let ends = [&b"+PONG\r\n"[..], b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"];
        if ends.contains(&reply.as_slice()) {
            return got;
        }
        got.extend_from_slice(&reply);
    }
}

/// Runs `steps` (`<connection number> <command>`) on fresh connections to
/// `server`; after each step, what every connection received. `$ID<n>`
/// in a command stands for connection n's client id.
fn session(server: &ServerProcess, connections: usize, steps: &[&str]) -> Vec<String> {
    let mut conns: Vec<Conn> = (0..connections).map(|_| server.connect()).collect();
    let ids: Vec<String> = conns
        .iter_mut()
        .map(|c| {
            let reply = c.run("CLIENT ID");
            String::from_utf8_lossy(&reply[1..reply.len() - 2]).into_owned()
        })
        .collect();
    let mut log = Vec::new();
    let mut closed = vec![false; connections];
    // Inside MULTI a PING would be queued: such a connection is read
    // without one.
    let mut in_multi = vec![false; connections];
    for step in steps {
        if let Some(ms) = step.strip_prefix("sleep ") {
            std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
            continue;
        }
        let (who, command) = step.split_once(' ').unwrap();
        let who: usize = who.parse().unwrap();
        let mut command = command.to_string();
        for (n, id) in ids.iter().enumerate() {
            command = command.replace(&format!("$ID{n}"), id);
        }
        if command == "QUIT" {
            conns[who].run("QUIT");
            closed[who] = true;
            log.push(format!("{step} -> closed"));
            continue;
        }
        let args = words(&command);
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        conns[who].send(&common::encode(&refs));
        let name = command.to_ascii_uppercase();
        if in_multi[who] && (name == "EXEC" || name == "DISCARD") {
            in_multi[who] = false;
        }
        if name == "MULTI" {
            in_multi[who] = true;
        }
        // The step's own connection first: its command has then run.
        let mut seen = vec![String::new(); connections];
        let order = std::iter::once(who).chain((0..connections).filter(|&n| n != who));
        for n in order {
            let bytes = if closed[n] {
                Vec::new()
            } else if in_multi[n] && n == who {
                conns[n].read_reply()
            } else if in_multi[n] {
                Vec::new()
            } else if n == who {
                // Its reply first: a PING in the same read would be
                // answered before what the loop sends after the command.
                let mut bytes = conns[n].read_reply();
                bytes.extend(settle(&mut conns[n]));
                bytes
            } else {
                settle(&mut conns[n])
            };
            seen[n] = format!("[{n}] {}", masked(&String::from_utf8_lossy(&bytes)));
        }
        log.push(format!("{step} -> {}", seen.join(" ")));
    }
    log
}

/// A CLIENT LIST line reduced to the fields tracking sets.
fn masked(text: &str) -> String {
    if !text.contains("txt:id=") {
        return text.to_string();
    }
    text.split_whitespace()
        .filter(|f| f.starts_with("flags=") || f.starts_with("redir="))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The id the server gives its next client.
fn next_id(server: &ServerProcess) -> u64 {
    let reply = server.connect().run("CLIENT ID");
    String::from_utf8_lossy(&reply[1..reply.len() - 2])
        .parse::<u64>()
        .unwrap()
        + 1
}

fn assert_same_session(connections: usize, steps: &[&str]) {
    let debug = ["--enable-debug-command", "yes"];
    let redis = ServerProcess::redis_with(&debug);
    let rudis = ServerProcess::rudis(&debug);
    // Client ids show in replies: both servers start the session at the
    // same one.
    let (mut a, mut b) = (next_id(&redis), next_id(&rudis));
    while a != b {
        if a < b {
            a = next_id(&redis);
        } else {
            b = next_id(&rudis);
        }
    }
    let expected = session(&redis, connections, steps);
    let got = session(&rudis, connections, steps);
    for (e, g) in expected.iter().zip(&got) {
        assert_eq!(e, g, "(left: redis-server, right: rudis)");
    }
    assert_eq!(expected.len(), got.len());
}

#[test]
fn default_mode_tells_readers_once_resp3() {
    assert_same_session(
        2,
        &[
            "0 HELLO 3",
            "0 CLIENT TRACKINGINFO",
            "0 CLIENT GETREDIR",
            "0 CLIENT TRACKING on",
            "0 CLIENT TRACKINGINFO",
            "0 CLIENT GETREDIR",
            "0 GET k",
            "0 SET k v",
            "0 GET k",
            "1 SET k v2",
            "1 SET k v3",
            "0 MGET k k2 k3",
            "1 MSET k2 a k3 b",
            "0 MULTI",
            "0 GET k",
            "0 SET k 1",
            "0 EXEC",
            "0 HGET h f",
            "1 HSET h f 1",
            "0 SMEMBERS s",
            "1 SADD s a",
            "0 EXISTS e1 e2",
            "1 DEL e1",
            "1 SET e1 1",
            "0 TYPE t",
            "1 LPUSH t a",
            "0 EVAL \"return redis.call('get', KEYS[1])\" 1 sk",
            "1 SET sk 1",
            "0 EVAL_RO \"return 1\" 1 ro",
            "1 SET ro 1",
            // A read inside a script remembers the keys it declared.
            "0 EVAL \"redis.call('set', 'key3', 'bar')\" 2 key1 key2",
            "1 MSET key2 2 key1 2",
            "0 EVAL \"redis.call('get', 'key3')\" 2 key1 key2",
            "1 MSET key2 2 key1 2",
            "1 SET key3 x",
            "0 EVAL_RO \"redis.call('ping')\" 2 key1 key2",
            "1 MSET key2 2 key1 2",
            "0 EVAL_RO \"redis.call('get', 'key1')\" 2 key1 key2",
            "1 MSET key2 3 key1 3",
            "0 FUNCTION LOAD \"#!lua name=tl\\nredis.register_function('rd', function(k) return redis.call('get', 'key3') end)\"",
            "0 FCALL rd 1 fk",
            "1 SET fk 1",
            "0 EVAL \"return redis.call('set', 'own', 1)\" 0",
            "0 GET own",
            "0 EVAL \"return redis.call('set', 'own', 2)\" 0",
            "0 GET x",
            "0 FLUSHALL",
            "1 SET x 1",
            "0 GET y",
            "1 FLUSHDB",
            "1 SET y 1",
            "0 CLIENT TRACKING off",
            "0 GET z",
            "1 SET z 1",
            "0 CLIENT TRACKINGINFO",
        ],
    );
}

#[test]
fn bcast_prefixes_and_noloop() {
    assert_same_session(
        2,
        &[
            "0 HELLO 3",
            "0 CLIENT TRACKING on BCAST",
            "1 SET anything 1",
            "0 CLIENT TRACKING off",
            "0 CLIENT TRACKING on BCAST PREFIX a PREFIX ab",
            "0 CLIENT TRACKING on BCAST PREFIX b PREFIX a NOLOOP",
            "0 CLIENT TRACKING on BCAST PREFIX bc",
            "0 CLIENT TRACKING on BCAST PREFIX c",
            "0 CLIENT TRACKINGINFO",
            "0 CLIENT LIST ID $ID0",
            "1 SET bx 1",
            "1 MSET a2 1 a1 2 b 3 d 4 c1 5",
            "0 SET a3 1",
            "1 DEL a1 a2 a9",
            "1 MULTI",
            "1 SET b1 1",
            "1 SET b2 1",
            "1 SET a5 1",
            "1 EXEC",
            "0 CLIENT TRACKING on",
            "0 CLIENT TRACKING off",
            "1 SET a6 1",
            "0 CLIENT TRACKINGINFO",
        ],
    );
}

#[test]
fn optin_optout_and_caching() {
    assert_same_session(
        2,
        &[
            "0 HELLO 3",
            "0 CLIENT CACHING yes",
            "0 CLIENT TRACKING on OPTIN",
            "0 CLIENT TRACKINGINFO",
            "0 CLIENT CACHING yes",
            "0 CLIENT TRACKINGINFO",
            "0 CLIENT CACHING no",
            "0 CLIENT CACHING maybe",
            "0 GET o1",
            "0 GET o2",
            "1 SET o1 1",
            "1 SET o2 1",
            "0 CLIENT CACHING yes",
            "0 MULTI",
            "0 GET o3",
            "0 GET o4",
            "0 EXEC",
            "0 GET o5",
            "1 MSET o3 1 o4 1 o5 1",
            "0 CLIENT TRACKING on OPTOUT",
            "0 CLIENT TRACKING off",
            "0 CLIENT TRACKING on OPTOUT",
            "0 CLIENT CACHING yes",
            "0 CLIENT CACHING no",
            "0 GET p1",
            "0 GET p2",
            "1 MSET p1 1 p2 1",
            "0 CLIENT TRACKING on OPTIN OPTOUT",
            "0 CLIENT TRACKING on BCAST OPTIN",
            "0 CLIENT TRACKING on PREFIX x",
            "0 CLIENT TRACKING on REDIRECT 999999",
            "0 CLIENT TRACKING on REDIRECT x",
            "0 CLIENT TRACKING on REDIRECT $ID1 REDIRECT $ID1",
            "0 CLIENT TRACKING maybe",
            "0 CLIENT TRACKING on FOO",
            "0 CLIENT TRACKINGINFO",
        ],
    );
}

#[test]
fn redirect_to_a_resp2_subscriber_and_broken_redirects() {
    assert_same_session(
        4,
        &[
            "1 SUBSCRIBE __redis__:invalidate",
            "0 CLIENT TRACKING on REDIRECT $ID1",
            "0 CLIENT GETREDIR",
            "0 CLIENT TRACKINGINFO",
            "0 GET k",
            "2 SET k 1",
            "0 GET k",
            "0 SET k 2",
            "0 GET k",
            "0 FLUSHDB",
            // A RESP2 redirect target that is not subscribed hears nothing.
            "3 HELLO 3",
            "3 CLIENT TRACKING on REDIRECT $ID2",
            "3 GET r",
            "2 SET r 1",
            "3 CLIENT TRACKING on REDIRECT $ID0",
            "3 GET r",
            "2 SET r 2",
            "0 QUIT",
            "3 GET r",
            "2 SET r 3",
            "3 CLIENT TRACKINGINFO",
            "3 CLIENT LIST ID $ID3",
            "1 CLIENT TRACKING on REDIRECT $ID3",
        ],
    );
}

#[test]
fn expiry_invalidates_cached_keys() {
    assert_same_session(
        2,
        &[
            "0 HELLO 3",
            "0 CLIENT TRACKING on",
            "1 SET lazy v PX 30",
            "1 SET active v PX 30",
            "0 MGET lazy active",
            "1 DEBUG SET-ACTIVE-EXPIRE 0",
            "sleep 60",
            "1 GET lazy",
            "1 DEBUG SET-ACTIVE-EXPIRE 1",
            "sleep 400",
            "0 GET lazy",
            "0 CLIENT TRACKINGINFO",
        ],
    );
}

#[test]
fn info_counts_tracking() {
    for server in [ServerProcess::redis(), ServerProcess::rudis(&[])] {
        let mut a = server.connect();
        let mut b = server.connect();
        a.run("HELLO 3");
        a.run("CLIENT TRACKING on");
        a.run("MGET k1 k2 k3");
        b.run("CLIENT TRACKING on");
        b.run("GET k1");
        let mut c = server.connect();
        c.run("CLIENT TRACKING on BCAST PREFIX x PREFIX y");
        let field =
            |conn: &mut Conn, name: &str, section: &str| common::info_field(conn, section, name);
        assert_eq!(field(&mut c, "tracking_clients", "clients"), "3");
        assert_eq!(field(&mut c, "tracking_total_keys", "stats"), "3");
        assert_eq!(field(&mut c, "tracking_total_items", "stats"), "4");
        assert_eq!(field(&mut c, "tracking_total_prefixes", "stats"), "2");
        c.run("SET k1 1");
        assert_eq!(field(&mut c, "tracking_total_keys", "stats"), "2");
        assert_eq!(field(&mut c, "tracking_total_items", "stats"), "2");
        drop(b);
        c.run("CLIENT TRACKING off");
        assert!(common::eventually(Duration::from_secs(2), || field(
            &mut c,
            "tracking_clients",
            "clients"
        ) == "1"));
        assert_eq!(field(&mut c, "tracking_total_prefixes", "stats"), "0");
    }
}

#[test]
fn the_table_is_kept_within_its_limit() {
    let server = ServerProcess::rudis(&["--tracking-table-max-keys", "3"]);
    let mut reader = server.connect();
    reader.run("HELLO 3");
    reader.run("CLIENT TRACKING on");
    let keys: Vec<String> = (0..10).map(|i| format!("key:{i}")).collect();
    let mut mget = vec!["MGET".to_string()];
    mget.extend(keys.iter().cloned());
    reader.run(&mget.join(" "));
    // The next loop iterations invalidate keys beyond the limit, each
    // with a message, so the client's cache stays coherent.
    let mut other = server.connect();
    assert!(common::eventually(Duration::from_secs(2), || {
        common::info_field(&mut other, "stats", "tracking_total_keys") == "3"
    }));
    let messages = settle(&mut reader);
    let told = String::from_utf8_lossy(&messages)
        .matches("invalidate")
        .count();
    assert_eq!(told, 7);
    // The kept keys still get their invalidations.
    other.run("FLUSHALL");
    let after = settle(&mut reader);
    assert_eq!(after, b">2\r\n$10\r\ninvalidate\r\n_\r\n");
}

/// redis-py's client-side cache (RESP3, `cache_config`): hits, and
/// invalidation by writes, expiry and flushes (scripts/test.sh installs
/// redis-py).
#[test]
fn redis_py_client_side_cache_works() {
    let rudis = ServerProcess::rudis(&[]);
    common::assert_python_ok("client_cache_redis_py.py", &rudis);
}

/// A key the client tracks, evicted to make room for its next command,
/// is invalidated before that command's reply (RESP3, same connection).
#[test]
fn eviction_invalidation_precedes_the_reply() {
    let mut received = Vec::new();
    for server in [ServerProcess::redis(), ServerProcess::rudis(&[])] {
        let mut conn = server.connect();
        conn.run("HELLO 3");
        conn.run("CLIENT TRACKING on");
        let used: u64 = common::info_field(&mut conn, "memory", "used_memory")
            .parse()
            .unwrap();
        conn.run(&format!("CONFIG SET maxmemory {}", used + 100 * 1024));
        conn.run("CONFIG SET maxmemory-policy volatile-random");
        conn.run("SETEX volatile-key 10000 x");
        conn.run("GET volatile-key");
        // 200 KB in one go: the next command must evict.
        conn.run("SETBIT big-key 1600000 0");
        conn.send(b"GETBIT big-key 0\r\n");
        let first = conn.read_reply();
        let second = conn.read_reply();
        conn.run("CONFIG SET maxmemory 0");
        received.push((
            String::from_utf8_lossy(&first).into_owned(),
            String::from_utf8_lossy(&second).into_owned(),
        ));
    }
    assert_eq!(received[0], received[1], "left: redis-server, right: rudis");
    assert!(received[0].0.starts_with('>'), "{:?}", received[0]);
}

/// A flush forgets every tracked key, also those read by clients that
/// have since turned tracking off (INFO's tracking_total_items).
#[test]
fn a_flush_forgets_keys_of_clients_no_longer_tracking() {
    let mut seen = Vec::new();
    for server in [ServerProcess::redis(), ServerProcess::rudis(&[])] {
        let mut conn = server.connect();
        for line in [
            "SET k1 1",
            "CLIENT TRACKING on",
            "GET k1",
            "CLIENT TRACKING off",
        ] {
            conn.run(line);
        }
        let counts = |conn: &mut Conn| {
            ["tracking_total_items", "tracking_total_keys"]
                .map(|f| common::info_field(conn, "stats", f))
        };
        let before = counts(&mut conn);
        conn.run("FLUSHALL");
        seen.push((before, counts(&mut conn)));
    }
    assert_eq!(seen[0], seen[1], "left: redis-server, right: rudis");
    assert_eq!(seen[1].1, ["0", "0"]);
}
