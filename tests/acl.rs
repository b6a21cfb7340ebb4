//! Users, passwords and permissions, compared with redis-server.

mod common;

use common::assert_same_replies;

#[test]
fn acl_management_matches_redis() {
    assert_same_replies(&[
        "ACL SETUSER u1 on >pw +get ~k* &ch*",
        "ACL LIST",
        "ACL USERS",
        "ACL GETUSER u1",
        "ACL GETUSER nosuch",
        "ACL SETUSER x badrule",
        "ACL SETUSER x +nosuch",
        "ACL SETUSER x +@nosuch",
        "ACL SETUSER x %X~a",
        "ACL SETUSER x (+get",
        "ACL SETUSER x #abc",
        "ACL SETUSER x <nopw",
        "ACL SETUSER x -get|x",
        "ACL SETUSER x +config|get|x",
        "ACL SETUSER x ~* ~foo",
        "ACL SETUSER x &* &foo",
        "ACL SETUSER x (on)",
        "ACL SETUSER t reset %R~a %W~a &x &x (~y +get) ( +set )",
        "ACL GETUSER t",
        "ACL SETUSER t reset +@all -@admin -debug",
        "ACL LIST",
        // Single commands come in Redis's hash order: one at a time here.
        "ACL SETUSER t reset -@all +select|0 +select|1",
        "ACL GETUSER t",
        "ACL SETUSER t reset -@all +config -config|set",
        "ACL GETUSER t",
        "ACL DRYRUN u1 get zz",
        "ACL DRYRUN u1 set k v",
        "ACL DRYRUN u1 get k1",
        "ACL DRYRUN u1 nosuchcmd",
        "ACL DRYRUN u1 get",
        "ACL DRYRUN nosuch get",
        "ACL WHOAMI",
        "~ACL CAT",
        "~ACL CAT geo",
        "ACL CAT nosuch",
        "ACL DELUSER default",
        "ACL DELUSER u1 nosuch",
        "ACL GENPASS 0",
        "ACL GENPASS 4097",
        "ACL SAVE",
        "ACL LOAD",
        "ACL HELP",
        "AUTH x",
        "AUTH nosuch x",
        "AUTH a b c",
        "CONFIG SET acl-pubsub-default allchannels",
        "ACL SETUSER n1",
        "ACL SETUSER n2 reset",
        "ACL LIST",
        "CONFIG SET acl-pubsub-default resetchannels",
        "ACL SETUSER n3",
        "ACL SETUSER n1 reset",
        "ACL GETUSER n3",
        "ACL GETUSER n1",
        "ACL SETUSER 'a b'",
    ]);
}

#[test]
fn permissions_are_enforced_as_in_redis() {
    assert_same_replies(&[
        "ACL SETUSER u1 on >pw +get +publish +subscribe +config|get ~k* &ch* %W~w* +multi +exec",
        "AUTH u1 pw",
        "GET zz",
        "SET k v",
        "CONFIG SET a b",
        "PUBLISH zz x",
        "PUBLISH ch1 x",
        "GET w1",
        "GET k1",
        "ACL WHOAMI",
        "MULTI",
        "GET zz",
        "GET k1",
        "EXEC",
        "AUTH u1 bad",
        "AUTH default x",
        "HELLO 2 AUTH u1 bad",
        "?HELLO 2 AUTH default anything",
        "ACL WHOAMI",
    ]);
}

/// SORT's BY and GET patterns read keys no ACL check saw: they need a
/// user (or a selector) that may read every key.
#[test]
fn sort_patterns_need_every_key_readable() {
    let mut script = vec![
        "SET v1 1",
        "LPUSH mylist 1",
        "ACL SETUSER a on nopass +sort ~mylist",
        "ACL SETUSER b on nopass +sort ~mylist ~v*",
        "ACL SETUSER c on nopass +sort ~mylist %W~*",
        "ACL SETUSER d on nopass +sort ~mylist %R~*",
        "ACL SETUSER e on nopass +get ~mylist (+sort ~*)",
    ];
    for auth in ["AUTH a x", "AUTH b x", "AUTH c x", "AUTH d x", "AUTH e x"] {
        script.push(auth);
        script.extend([
            "SORT mylist BY v*",
            "SORT mylist GET v*",
            "SORT mylist GET #",
            "SORT mylist BY nosort",
            "SORT_RO mylist BY v*",
        ]);
    }
    assert_same_replies(&script);
}

/// Shard channels are channels to ACLs, not keys; BITFIELD of GETs only
/// needs read access.
#[test]
fn shard_channels_and_read_only_bitfield_as_in_redis() {
    assert_same_replies(&[
        "ACL SETUSER u2 on >pw +@all %R~r* resetchannels",
        "SET rs abc",
        "COMMAND GETKEYS spublish ch msg",
        "COMMAND GETKEYS ssubscribe ch",
        "COMMAND GETKEYS bitfield k get u4 0",
        "COMMAND GETKEYSANDFLAGS bitfield k get u4 0 overflow sat",
        "COMMAND GETKEYSANDFLAGS bitfield k get u4 0 set u4 0 1",
        "COMMAND GETKEYSANDFLAGS bitfield k get u4",
        "AUTH u2 pw",
        "SPUBLISH ch msg",
        "SSUBSCRIBE ch",
        "BITFIELD rs GET u4 0",
        "BITFIELD rs GET u4 0 OVERFLOW WRAP GET u8 0",
        "BITFIELD rs SET u4 0 1",
        "BITFIELD rs GET u4",
        "BITFIELD_RO rs GET u4 0",
        "AUTH default x",
        "ACL SETUSER u3 (this-is-invalid)",
        "ACL SETUSER u3 \"(&* &fail)\"",
        "ACL SETUSER u3 \"(~k &* &fail)\"",
        "ACL SETUSER u3 (on)",
        "ACL CAT NON_EXISTS",
        "ACL CAT NON_EXISTS NON_EXISTS2",
        "ACL cat a b",
        "ACL GETUSER u3",
    ]);
}

#[test]
fn requirepass_guards_the_default_user() {
    assert_same_replies(&[
        "CONFIG SET requirepass sec",
        "ACL LIST",
        "CONFIG GET requirepass",
        "CONFIG SET requirepass \"\"",
        "ACL LIST",
    ]);
    assert_same_replies(&[
        "ACL SETUSER default resetpass >sec",
        "AUTH bad",
        "AUTH sec",
        "PING",
    ]);
}

#[test]
fn a_password_is_asked_before_anything_else() {
    common::assert_same_replies_with(
        &["--requirepass", "sec"],
        &[
            "PING",
            "GET k",
            "NOSUCHCOMMAND",
            "HELLO 3",
            "HELLO 2 AUTH default bad",
            "AUTH bad",
            "AUTH default sec",
            "PING",
            "ACL WHOAMI",
        ],
    );
}

/// ACL LOG after `script`, each entry's fields but the age; the client
/// info only by its `cmd=` and `user=` fields.
fn acl_log_after(server: &common::ServerProcess, script: &[&str]) -> Vec<Vec<String>> {
    let mut conn = server.connect();
    for line in script {
        conn.run(line);
    }
    let log = server.connect().run("ACL LOG");
    common::array_items(&log)
        .iter()
        .map(|entry| {
            let fields = common::array_items(entry);
            let text =
                |i: usize| String::from_utf8_lossy(&common::bulk_payload(&fields[i])).into_owned();
            let info = text(13);
            let picked: Vec<&str> = info
                .split(' ')
                .filter(|f| f.starts_with("cmd=") || f.starts_with("user="))
                .collect();
            vec![
                String::from_utf8_lossy(&fields[1]).into_owned(),
                text(3),
                text(5),
                text(7),
                text(9),
                picked.join(" "),
            ]
        })
        .collect()
}

#[test]
fn acl_log_entries_match_redis() {
    let script = [
        "ACL SETUSER u1 on >pw +get +multi +exec +discard ~k* &ch* +publish",
        "AUTH u1 pw",
        "GET zz",
        "GET zz",
        "SET k v",
        "PUBLISH zz x",
        "MULTI",
        "GET zz",
        "DISCARD",
        "AUTH u1 bad",
        "AUTH nosuch pw",
        "AUTH nosuch pw",
    ];
    let redis = common::ServerProcess::redis();
    let rudis = common::ServerProcess::rudis(&["--save", ""]);
    let expected = acl_log_after(&redis, &script);
    assert_eq!(expected.len(), 6, "{expected:?}");
    assert_eq!(acl_log_after(&rudis, &script), expected);
    common::assert_same_replies(&[
        "ACL LOG RESET",
        "ACL LOG",
        "ACL LOG x",
        "ACL LOG -1",
        "ACL LOG 1 2",
    ]);
}

/// What happens to a user's connections when it is killed or deleted.
fn user_connections(server: &common::ServerProcess) -> Vec<String> {
    let mut admin = server.connect();
    let show = |r: Vec<u8>| String::from_utf8_lossy(&r).into_owned();
    let mut out = vec![show(admin.run("ACL SETUSER u on >pw +@all ~*"))];
    let mut first = server.connect();
    out.push(show(first.run("AUTH u pw")));
    let info = show(first.run("CLIENT INFO"));
    out.push(info.split(' ').filter(|f| f.starts_with("user=")).collect());
    out.push(show(admin.run("CLIENT KILL USER nosuch")));
    out.push(show(admin.run("CLIENT KILL USER u")));
    out.push(format!(
        "killed: {}",
        first.is_closed(std::time::Duration::from_secs(5))
    ));
    let mut second = server.connect();
    out.push(show(second.run("AUTH u pw")));
    out.push(show(admin.run("ACL DELUSER u")));
    out.push(format!(
        "deleted: {}",
        second.is_closed(std::time::Duration::from_secs(5))
    ));
    out.push(show(admin.run("ACL WHOAMI")));
    out
}

#[test]
fn users_connections_end_with_them_as_in_redis() {
    let redis = common::ServerProcess::redis();
    let rudis = common::ServerProcess::rudis(&["--save", ""]);
    assert_eq!(user_connections(&rudis), user_connections(&redis));
}

#[test]
fn scripts_are_checked_as_in_redis() {
    assert_same_replies(&[
        "ACL SETUSER s on nopass +eval +get +publish ~k* &ch*",
        "AUTH s x",
        "EVAL \"return redis.call('set','k','v')\" 0",
        "EVAL \"return redis.pcall('get','zz')\" 0",
        "EVAL \"return redis.call('get','zz')\" 0",
        "EVAL \"return redis.call('publish','zz','m')\" 0",
        "EVAL \"return redis.pcall('get','k1')\" 0",
    ]);
}

/// A transaction queued under rules that change before EXEC.
fn rules_changed_before_exec(server: &common::ServerProcess) -> Vec<String> {
    let mut admin = server.connect();
    let mut user = server.connect();
    let show = |r: Vec<u8>| String::from_utf8_lossy(&r).into_owned();
    let mut out = vec![show(admin.run("ACL SETUSER u on nopass +@all ~k* &ch*"))];
    for line in [
        "AUTH u x",
        "MULTI",
        "GET k1",
        "SET k2 v",
        "PUBLISH ch1 m",
        "PING",
    ] {
        out.push(show(user.run(line)));
    }
    out.push(show(
        admin.run("ACL SETUSER u -set resetchannels resetkeys ~k2"),
    ));
    out.push(show(user.run("EXEC")));
    let log = admin.run("ACL LOG");
    for entry in common::array_items(&log) {
        let fields = common::array_items(&entry);
        let pick: Vec<String> = [1, 3, 5, 7, 9]
            .iter()
            .map(|&i| show(common::bulk_payload(&fields[i])))
            .collect();
        out.push(pick.join(" "));
    }
    out
}

#[test]
fn rules_changed_before_exec_refuse_as_in_redis() {
    let redis = common::ServerProcess::redis();
    let rudis = common::ServerProcess::rudis(&["--save", ""]);
    assert_eq!(
        rules_changed_before_exec(&rudis),
        rules_changed_before_exec(&redis)
    );
}

/// A server of each kind started on an ACL file with `contents`, in a
/// directory of its own (the file named relatively, so error texts
/// match), with that directory.
fn with_acl_file(contents: &str) -> [(common::ServerProcess, std::path::PathBuf); 2] {
    let start = |redis: bool| {
        let dir = common::fresh_dir("aclfile");
        std::fs::write(dir.join("users.acl"), contents).unwrap();
        let dir_arg = dir.to_string_lossy().into_owned();
        let args = ["--save", "", "--dir", &dir_arg, "--aclfile", "users.acl"];
        let server = if redis {
            common::ServerProcess::redis_with(&args)
        } else {
            common::ServerProcess::rudis(&args)
        };
        (server, dir)
    };
    [start(true), start(false)]
}

#[test]
fn acl_files_load_and_save_as_in_redis() {
    let [redis, rudis] = with_acl_file("user alice on >pw ~* +@all\n\n  user bob off  \n");
    // The replies, then the file ACL SAVE wrote.
    let script = |(server, dir): &(common::ServerProcess, std::path::PathBuf)| -> Vec<String> {
        let mut conn = server.connect();
        let mut out = Vec::new();
        for line in [
            "ACL LIST",
            "ACL SETUSER carol on nopass +get ~k* (+set ~s)",
            "ACL SAVE",
            "ACL LIST",
        ] {
            out.push(String::from_utf8_lossy(&conn.run(line)).into_owned());
        }
        out.push(std::fs::read_to_string(dir.join("users.acl")).unwrap());
        out
    };
    assert_eq!(script(&rudis), script(&redis));
}

#[test]
fn broken_acl_files_are_refused_whole_as_in_redis() {
    let contents =
        "user alice on\nfoo bar\nuser bob +nosuch\nuser alice off\n\n   \nuser carol (+get\n";
    let [(redis, redis_dir), (rudis, rudis_dir)] = with_acl_file("user alice on >pw ~* +@all\n");
    for dir in [&redis_dir, &rudis_dir] {
        std::fs::write(dir.join("users.acl"), contents).unwrap();
    }
    let replies = |server: &common::ServerProcess| {
        let mut conn = server.connect();
        vec![conn.run("ACL LOAD"), conn.run("ACL LIST")]
    };
    assert_eq!(replies(&rudis), replies(&redis));
}

#[test]
fn users_from_the_config_file_as_in_redis() {
    let args = [
        "--user", "default", "on", ">sec", "~*", "+@all", "--user", "app", "on", ">pw", "~app:*",
        "+@read", "(+set", "~w*)",
    ];
    let redis = common::ServerProcess::redis_with(&args);
    let rudis = common::ServerProcess::rudis(&args);
    let replies = |server: &common::ServerProcess| {
        let mut conn = server.connect();
        vec![conn.run("AUTH sec"), conn.run("ACL LIST")]
    };
    assert_eq!(replies(&rudis), replies(&redis));
}

#[test]
fn config_rewrite_keeps_users_across_a_restart() {
    let dir = common::fresh_dir("acl-rewrite");
    let conf = dir.join("rudis.conf");
    std::fs::write(&conf, "save \"\"\nuser old on nopass +@all ~*\n").unwrap();
    let conf_arg = conf.to_string_lossy().into_owned();
    let dir_arg = dir.to_string_lossy().into_owned();
    let listed = {
        let server = common::ServerProcess::rudis(&[&conf_arg, "--dir", &dir_arg]);
        let mut conn = server.connect();
        conn.run("ACL SETUSER bob on >x ~k* +get");
        conn.run("ACL DELUSER old");
        assert_eq!(conn.run("CONFIG REWRITE"), b"+OK\r\n");
        conn.run("ACL LIST")
    };
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.starts_with("save \"\"\nuser bob on #"), "{text}");
    assert!(!text.contains("user old"), "{text}");
    let server = common::ServerProcess::rudis(&[&conf_arg, "--dir", &dir_arg]);
    let lines = |reply: &[u8]| -> Vec<String> {
        common::array_items(reply)
            .iter()
            .map(|i| String::from_utf8_lossy(&common::bulk_payload(i)).into_owned())
            .collect()
    };
    let after = lines(&server.connect().run("ACL LIST"));
    // `default` comes back through `reset`, which adds sanitize-payload, as
    // in Redis.
    let expected: Vec<String> = lines(&listed)
        .into_iter()
        .map(|l| {
            l.replace(
                "user default on nopass ~*",
                "user default on nopass sanitize-payload ~*",
            )
        })
        .collect();
    assert_eq!(after, expected);
}

/// Which subscribers survive their user's channel rules shrinking.
fn subscribers_after_revoke(server: &common::ServerProcess) -> Vec<bool> {
    let mut admin = server.connect();
    admin.run("ACL SETUSER u on nopass +@all ~* &ch*");
    let mut subscribers = Vec::new();
    for subscribe in ["SUBSCRIBE ch1", "PSUBSCRIBE ch*", "SUBSCRIBE ch2", "PING"] {
        let mut conn = server.connect();
        conn.run("AUTH u x");
        conn.run(subscribe);
        subscribers.push(conn);
    }
    admin.run("ACL SETUSER u resetchannels &ch1 &ch*");
    admin.run("ACL SETUSER u resetchannels &ch1");
    subscribers
        .iter_mut()
        .map(|c| c.is_closed(std::time::Duration::from_millis(300)))
        .collect()
}

#[test]
fn subscribers_lose_revoked_channels_as_in_redis() {
    let redis = common::ServerProcess::redis();
    let rudis = common::ServerProcess::rudis(&["--save", ""]);
    let expected = subscribers_after_revoke(&redis);
    assert_eq!(expected, [false, true, true, false]);
    assert_eq!(subscribers_after_revoke(&rudis), expected);
}

#[test]
fn renames_hold_beside_a_config_user_line() {
    // A `user` line is checked while the config is read, before the
    // renames are applied; they must still hold, as in Redis.
    common::assert_same_replies_with(
        &[
            "--rename-command",
            "flushdb",
            "badger",
            "--user",
            "default",
            "on",
            "nopass",
            "~*",
            "&*",
            "+@all",
        ],
        &["FLUSHDB", "BADGER"],
    );
}

#[test]
fn renamed_commands_as_in_redis() {
    common::assert_same_replies_with(
        &[
            "--rename-command",
            "get",
            "fetch",
            "--rename-command",
            "config",
            "",
        ],
        &[
            "CONFIG GET x",
            "SET a 1",
            "FETCH a",
            "GET a",
            "ACL SETUSER t +get",
            "ACL SETUSER t +fetch",
            "EVAL \"return redis.call('fetch','a')\" 0",
            "EVAL \"return redis.call('get','a')\" 0",
            "ACL DRYRUN t get a",
            "ACL DRYRUN t fetch a",
        ],
    );
}

/// Before AUTH a command may carry at most 10 arguments of at most 16 KB,
/// as in Redis: more is a protocol error that closes the connection.
#[test]
fn unauthenticated_clients_have_tighter_limits_as_in_redis() {
    let args = ["--requirepass", "pw"];
    let outputs: Vec<Vec<String>> = [
        common::ServerProcess::redis_with(&args),
        common::ServerProcess::rudis(&args),
    ]
    .iter()
    .map(|server| {
        [
            &b"*11\r\n"[..],
            b"*1\r\n$16385\r\n",
            b"AUTH pw\r\n*11\r\n$4\r\nECHO\r\n$1\r\na\r\n",
        ]
        .iter()
        .map(|input| {
            let mut conn = server.connect();
            conn.send(input);
            std::thread::sleep(std::time::Duration::from_millis(100));
            String::from_utf8_lossy(&conn.read_available()).into_owned()
        })
        .collect()
    })
    .collect();
    assert_eq!(
        outputs[0][0],
        "-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    assert_eq!(outputs[0], outputs[1], "left: redis-server, right: rudis");
}
