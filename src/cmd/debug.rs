//! DEBUG: the subcommands tools and tests rely on, refused unless
//! `enable-debug-command` allows them (Redis 7.0's default is `no`):
//! dataset digests and reloads, POPULATE, SLEEP, OBJECT, PROTOCOL (every
//! RESP3 type), LISTPACK, HTSTATS and HTSTATS-KEY,
//! QUICKLIST-PACKED-THRESHOLD, SET-ACTIVE-EXPIRE, AOF-FLUSH-SLEEP,
//! CHANGE-REPL-ID, LOG, ERROR, and SEGFAULT and PANIC (the crash report).

use super::Ctx;
use crate::db::digest;
use crate::errors;
use crate::persist;
use crate::protocol::request::Args;
use crate::scripting::functions::{Functions, RestorePolicy};
use log::{info, warn};

/// `DEBUG <subcommand>`: the parts of Redis's DEBUG that tests and
/// operators use to compare and reload datasets.
pub(super) fn debug(ctx: &mut Ctx, args: Args) {
    let allowed = match ctx.state.config.enable_debug_command {
        1 => true,
        2 => ctx.client().addr.is_local(),
        _ => false,
    };
    if !allowed {
        return ctx.reply.error("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.");
    }
    let sub = args.get(1).to_ascii_lowercase();
    match sub.as_slice() {
        b"help" => super::reply_help(
            ctx.reply,
            "debug",
            &[
                "AOF-FLUSH-SLEEP <microsec>",
                "    Server will sleep before flushing the AOF, this is used for testing.",
                "CHANGE-REPL-ID",
                "    Change the replication IDs of the instance.",
                "    Dangerous: should be used only for testing the replication subsystem.",
                "CONFIG-REWRITE-FORCE-ALL",
                "    Like CONFIG REWRITE but writes all configuration options, including",
                "    keywords not listed in original configuration file or default values.",
                "DIGEST",
                "    Output a hex signature representing the current DB content.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    Output a hex signature of the values of all the specified keys.",
                "ERROR <string>",
                "    Return a Redis protocol error with <string> as message. Useful for clients",
                "    unit tests to simulate Redis errors.",
                "LOG <message>",
                "    Write <message> to the server log.",
                "HTSTATS <dbid>",
                "    Return hash table statistics of the specified Redis database.",
                "HTSTATS-KEY <key>",
                "    Like HTSTATS but for the hash table stored at <key>'s value.",
                "LOADAOF",
                "    Flush the AOF buffers on disk and reload the AOF in memory.",
                "REPLICATE <string>",
                "    Replicates the provided string to replicas, allowing data divergence.",
                "OBJECT <key>",
                "    Show low level info about `key` and associated value.",
                "POPULATE <count> [<prefix>] [<size>]",
                "    Create <count> string keys named key:<num>. If <prefix> is specified then",
                "    it is used instead of the 'key' prefix. These are not propagated to",
                "    replicas. Cluster slots are not respected so keys not belonging to the",
                "    current node can be created in cluster mode.",
                "PANIC",
                "    Crash the server simulating a panic.",
                "PROTOCOL <type>",
                "    Reply with a test value of the specified type. <type> can be: string,",
                "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
                "    true, false.",
                "RELOAD [option ...]",
                "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
                "    * MERGE: conflicting keys will be loaded from RDB.",
                "    * NOFLUSH: the existing database will not be removed before load, but",
                "      conflicting keys will generate an exception and kill the server.",
                "    * NOSAVE: the database will be loaded from an existing RDB file.",
                "    Examples:",
                "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
                "      the database.",
                "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
                "      existing RDB file.",
                "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
                "      file to the database.",
                "SEGFAULT",
                "    Crash the server with sigsegv.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not",
                "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                "    default.",
                "QUICKLIST-PACKED-THRESHOLD <size>",
                "    Sets the threshold for elements to be inserted as plain vs packed nodes",
                "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
                "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
                "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
                "PAUSE-CRON <0|1>",
                "    Stop periodic cron job processing.",
                "LISTPACK <key>",
                "    Show low level info about the listpack encoding of <key>.",
            ],
        ),
        b"digest" if args.len() == 2 => {
            let digest = digest::dataset_digest(&ctx.state.dbs);
            ctx.reply.simple(&digest::hex(&digest));
        }
        b"digest-value" if args.len() >= 2 => {
            let db = ctx.clients[ctx.me].db;
            ctx.reply.array(args.len() - 2);
            for key in args.from(2) {
                let mut out = [0u8; 20];
                let db = &ctx.state.dbs[db];
                if let Some(value) = db.get(key) {
                    digest::fold_value(&mut out, value, db.expire_of(key).is_some());
                }
                ctx.reply.simple(&digest::hex(&out));
            }
        }
        b"reload" => debug_reload(ctx, args),
        b"config-rewrite-force-all" if args.len() == 2 => {
            match super::server::rewrite_config_file(ctx, true) {
                Ok(()) => ctx.reply.ok(),
                Err(e) => ctx
                    .reply
                    .error(&format!("ERR CONFIG-REWRITE-FORCE-ALL failed: {e}")),
            }
        }
        b"loadaof" => debug_loadaof(ctx),
        b"set-disable-deny-scripts" if args.len() == 3 => {
            // Any leading number but 0 turns it on (atoi, as Redis reads it).
            let text = args.get(2);
            let unsigned = text.strip_prefix(b"-").unwrap_or(text);
            ctx.state.script_deny_disabled = unsigned
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .any(|&b| b != b'0');
            ctx.reply.ok();
        }
        b"sleep" if args.len() == 3 => {
            let secs = crate::float::parse_double(args.get(2)).unwrap_or(0.0);
            if secs > 0.0 && secs.is_finite() {
                std::thread::sleep(std::time::Duration::from_secs_f64(secs));
            }
            ctx.reply.ok();
        }
        b"populate" if (3..=5).contains(&args.len()) => debug_populate(ctx, args),
        b"htstats" if args.len() == 3 => {
            let Some(id) = crate::protocol::parse_i64(args.get(2)) else {
                return ctx.reply.error(errors::NOT_INTEGER);
            };
            match usize::try_from(id).ok().and_then(|i| ctx.state.dbs.get(i)) {
                Some(db) => ctx.reply.verbatim(crate::db::table_stats(db).as_bytes()),
                None => ctx.reply.error("ERR Out of range database"),
            }
        }
        b"htstats-key" if args.len() == 3 => {
            let db = &ctx.state.dbs[ctx.clients[ctx.me].db];
            match db.get(args.get(2)).map(|v| v.table_stats()) {
                None => ctx.reply.error("ERR no such key"),
                Some(None) => ctx.reply.error(
                    "ERR The value stored at the specified key is not represented using an hash table",
                ),
                Some(Some(stats)) => ctx.reply.verbatim(stats.as_bytes()),
            }
        }
        b"object" if args.len() == 3 => debug_object(ctx, args),
        b"protocol" if args.len() == 3 => debug_protocol(ctx, args),
        b"listpack" if args.len() == 3 => debug_listpack(ctx, args),
        b"quicklist-packed-threshold" if args.len() == 3 => {
            match crate::config::parse_memory(&String::from_utf8_lossy(args.get(2)))
                .filter(|&b| b < 4 << 30)
            {
                Some(bytes) => {
                    // 0 restores the default of 1 GB.
                    let bytes = if bytes == 0 { 1 << 30 } else { bytes };
                    crate::rdb::set_packed_threshold(bytes as usize);
                    ctx.reply.ok();
                }
                None => ctx.reply.error(
                    "ERR argument must be a memory value bigger than 1 and smaller than 4gb",
                ),
            }
        }
        b"change-repl-id" if args.len() == 2 => {
            ctx.state.repl.replid = crate::state::random_hex_id();
            ctx.state.repl.publish_position();
            ctx.reply.ok();
        }
        b"pause-cron" if args.len() == 3 => {
            // atoi, as Redis reads it: anything but a non-zero number resumes.
            let n = crate::protocol::parse_i64(args.get(2)).unwrap_or(0);
            ctx.state.cron_paused = n != 0;
            ctx.reply.ok();
        }
        b"segfault" if args.len() == 2 => {
            // SAFETY: raises the signal a bad access would; the crash
            // handler reports it and the process dies of it.
            unsafe { libc::raise(libc::SIGSEGV) };
        }
        b"panic" if args.len() == 2 => {
            panic!(
                "DEBUG PANIC called at Unix time {}",
                crate::state::unix_millis() / 1000
            );
        }
        b"aof-flush-sleep" if args.len() == 3 => {
            // atoi, as Redis reads it.
            let micros = crate::protocol::parse_i64(args.get(2)).unwrap_or(0);
            ctx.state.aof.flush_sleep = std::time::Duration::from_micros(micros.max(0) as u64);
            ctx.reply.ok();
        }
        b"replicate" if args.len() >= 3 => {
            // The command goes to the replicas only, in the database the
            // stream last selected (for tests of replica divergence).
            let repl = &mut ctx.state.repl;
            let db = repl.selected_db.unwrap_or(0);
            let argv: crate::propagate::Argv = args.from(2).map(<[u8]>::to_vec).collect();
            repl.feed_commands(&[(db, argv)], false);
            ctx.reply.ok();
        }
        b"set-skip-checksum-validation" if args.len() == 3 => {
            // atoi, as Redis reads it.
            let skip = crate::protocol::parse_i64(args.get(2)).is_some_and(|n| n != 0);
            crate::rdb::set_skip_checksum_validation(skip);
            ctx.reply.ok();
        }
        b"set-active-expire" if args.len() == 3 => {
            ctx.state.active_expire_enabled = crate::protocol::parse_i64(args.get(2)) != Some(0);
            ctx.reply.ok();
        }
        b"log" if args.len() == 3 => {
            warn!("DEBUG LOG: {}", String::from_utf8_lossy(args.get(2)));
            ctx.reply.ok();
        }
        b"error" if args.len() == 3 => {
            // The text is the whole error, code included.
            let text: Vec<u8> = args
                .get(2)
                .iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
                .collect();
            ctx.reply.error_bytes(&text);
        }
        _ => ctx
            .reply
            .error_bytes(&errors::subcommand_syntax(args.get(1), "debug")),
    }
}

/// `DEBUG OBJECT key`: the value's encoding, serialized size and access
/// clock in Redis's line (the address is where rudis holds the value).
fn debug_object(ctx: &mut Ctx, args: Args) {
    let key = args.get(2);
    let fill = ctx.state.config.list_max_listpack_size;
    let now_secs = (ctx.now_ms / 1000) as u64;
    let (keys, reply) = ctx.keys();
    // The table as it is: a key past its time but not yet deleted is
    // shown, as Redis's `dictFind` shows it.
    let Some(value) = keys.db.get(key) else {
        return reply.error("ERR no such key");
    };
    let shared = matches!(value.as_str(), Ok(s) if crate::db::value::is_shared_integer(s));
    let refcount: i64 = if shared { i32::MAX as i64 } else { 1 };
    let serialized = crate::rdb::serialized_len(value, fill);
    let mut line = format!(
        "Value at:{:p} refcount:{refcount} encoding:{} serializedlength:{serialized}",
        value as *const _,
        value.encoding()
    );
    if let Ok(list) = value.as_list() {
        let nodes = crate::rdb::quicklist_nodes(list, fill);
        let size: usize = nodes.iter().map(|(_, blob)| blob.len()).sum();
        let avg = list.len() as f64 / nodes.len().max(1) as f64;
        line.push_str(&format!(
            " ql_nodes:{} ql_avg_node:{avg:.2} ql_listpack_max:{fill} ql_compressed:0 ql_uncompressed_size:{size}",
            nodes.len()
        ));
    }
    let idle = keys.db.idle_secs(key).unwrap_or(0);
    let lru = now_secs.saturating_sub(idle) & 0xFF_FFFF;
    let (head, tail) = line.split_at(line.find(" ql_").unwrap_or(line.len()));
    reply.simple(&format!("{head} lru:{lru} lru_seconds_idle:{idle}{tail}"));
}

/// `DEBUG PROTOCOL type`: a sample reply of each RESP3 type, in the form
/// the client's protocol gives it (Redis's test replies, word for word).
fn debug_protocol(ctx: &mut Ctx, args: Args) {
    let reply = &mut *ctx.reply;
    let resp3 = reply.is_resp3();
    let boolean = |reply: &mut crate::protocol::Reply, b: bool| {
        if resp3 {
            reply.raw(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            reply.int(i64::from(b));
        }
    };
    match args.get(2).to_ascii_lowercase().as_slice() {
        b"string" => reply.bulk(b"Hello World"),
        b"integer" => reply.int(12345),
        // Redis's sample value, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        b"double" => reply.double(3.141),
        b"bignum" => {
            let n = b"1234567999999999999999999999999999999";
            if resp3 {
                reply.raw(b"(");
                reply.raw(n);
                reply.raw(b"\r\n");
            } else {
                reply.bulk(n);
            }
        }
        b"null" => reply.null(),
        b"array" | b"set" => {
            if args.get(2).eq_ignore_ascii_case(b"set") {
                reply.set(3);
            } else {
                reply.array(3);
            }
            for i in 0..3 {
                reply.int(i);
            }
        }
        b"map" => {
            reply.map(3);
            for i in 0..3 {
                reply.int(i);
                boolean(reply, i == 1);
            }
        }
        b"attrib" => {
            if resp3 {
                reply.raw(b"|1\r\n");
                reply.bulk(b"key-popularity");
                reply.array(2);
                reply.bulk(b"key:123");
                reply.int(90);
            }
            reply.bulk(b"Some real reply following the attribute");
        }
        b"push" => {
            if !resp3 {
                return reply.error("ERR RESP2 is not supported by this command");
            }
            reply.raw(b">2\r\n");
            reply.bulk(b"server-cpu-usage");
            reply.int(42);
            reply.bulk(b"Some real reply following the push reply");
        }
        b"verbatim" => reply.verbatim(b"This is a verbatim\nstring"),
        b"true" => boolean(reply, true),
        b"false" => boolean(reply, false),
        _ => reply.error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"),
    }
}

/// `DEBUG LISTPACK key`: a listpack-encoded value's entries, logged.
fn debug_listpack(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    let Some(value) = keys.peek(args.get(2)) else {
        return reply.error("ERR no such key");
    };
    if value.encoding() != "listpack" {
        return reply.error("ERR Not a listpack encoded object.");
    }
    info!(
        "Listpack of {} ({} entries, {} bytes in RDB form)",
        String::from_utf8_lossy(args.get(2)),
        value.len(),
        crate::rdb::serialized_len(value, crate::rdb::DEFAULT_LIST_FILL)
    );
    reply.simple("Listpack structure printed on stdout");
}

/// `DEBUG POPULATE count [prefix] [size]`: string keys `prefix:N` holding
/// `value:N` (zero-padded or cut to `size`), skipping keys that exist. As
/// in Redis they are not changes: no save point counts them and the AOF
/// never sees them.
fn debug_populate(ctx: &mut Ctx, args: Args) {
    let Some(Some(count)) = super::optional_count_arg(ctx.reply, &args, 2) else {
        return;
    };
    let Some(size) = super::optional_count_arg(ctx.reply, &args, 4) else {
        return;
    };
    let prefix = if args.len() >= 4 { args.get(3) } else { b"key" };
    let dirty_before = crate::db::dirty();
    let (mut keys, reply) = ctx.keys();
    let mut key = Vec::new();
    let mut value = Vec::new();
    for j in 0..count {
        key.clear();
        key.extend_from_slice(prefix);
        key.extend_from_slice(format!(":{j}").as_bytes());
        // Redis formats the name into 128 bytes.
        key.truncate(127);
        if keys.exists(&key) {
            continue;
        }
        value.clear();
        value.extend_from_slice(format!("value:{j}").as_bytes());
        if let Some(size) = size.filter(|&s| s > 0) {
            value.resize(size, 0);
        }
        keys.db.set(&key, crate::db::Value::string(&value), false);
    }
    crate::db::restore_dirty(dirty_before);
    reply.ok();
}

/// `DEBUG LOADAOF`: the log written out, the dataset emptied and loaded
/// again from the AOF files. A log that cannot be loaded stops the
/// server, as Redis's.
fn debug_loadaof(ctx: &mut Ctx) {
    let state = &mut *ctx.state;
    if state.aof.logging() {
        crate::cmd::log_expired(state);
        state.end_call(false);
        state.aof.flush(crate::config::AppendFsync::Always, false);
    }
    let dirty_before = crate::db::dirty();
    for db in &mut state.dbs {
        db.clear();
    }
    state.functions.flush();
    if let Err(message) = crate::aof_load::load(state, ctx.clients) {
        warn!("{message}");
        std::process::exit(1);
    }
    state.aof.delete_history(&state.config);
    // Loading is not a change to log or replicate.
    crate::db::restore_dirty(dirty_before);
    warn!("Append Only File loaded by DEBUG LOADAOF");
    ctx.reply.ok();
}

/// `DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]`: save, empty, load again.
fn debug_reload(ctx: &mut Ctx, args: Args) {
    let (mut merge, mut flush, mut save) = (false, true, true);
    for option in args.from(2) {
        if option.eq_ignore_ascii_case(b"merge") {
            merge = true;
        } else if option.eq_ignore_ascii_case(b"noflush") {
            flush = false;
        } else if option.eq_ignore_ascii_case(b"nosave") {
            save = false;
        } else {
            return ctx
                .reply
                .error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
        }
    }
    let state = &mut *ctx.state;
    if save
        && persist::save(
            &mut state.persist,
            &state.dbs,
            &state.functions.codes(),
            &state.config,
        )
        .is_err()
    {
        return ctx.reply.error("ERR");
    }
    let loaded = persist::load_snapshot(
        &persist::rdb_path(&state.config),
        &state.config,
        ctx.now_ms,
        None,
        &mut |_| {},
    );
    let loaded = match loaded {
        Ok(Some(loaded)) => loaded,
        Ok(None) => persist::Loaded::empty(&state.config),
        Err(e) => {
            warn!("{e}");
            return ctx
                .reply
                .error("ERR Error trying to load the RDB dump, check server logs.");
        }
    };
    // The file's libraries replace the ones loaded (or join them with
    // NOFLUSH, replacing namesakes with MERGE), as the keys do.
    let restored = if flush {
        Functions::from_codes(&loaded.libraries).map(|functions| state.functions = functions)
    } else if merge {
        state
            .functions
            .restore(&loaded.libraries, RestorePolicy::Replace)
    } else {
        state
            .functions
            .restore(&loaded.libraries, RestorePolicy::Append)
    };
    if let Err(e) = restored {
        warn!("Failed loading library, {e}");
        return ctx
            .reply
            .error("ERR Error trying to load the RDB dump, check server logs.");
    }
    if flush {
        for db in &mut state.dbs {
            db.clear();
        }
    }
    for (index, source) in loaded.dbs.into_iter().enumerate() {
        let Some(target) = state.dbs.get_mut(index) else {
            continue;
        };
        for (key, value, expire) in source.into_entries() {
            if target.contains_key(&key) && !merge {
                return ctx
                    .reply
                    .error("ERR Error trying to load the RDB dump, check server logs.");
            }
            target.set(&key, value, false);
            if let Some(when) = expire {
                target.set_expire(&key, when);
            }
        }
    }
    state.persist.dirty_at_last_save = crate::db::dirty();
    info!("DB reloaded by DEBUG RELOAD");
    ctx.reply.ok();
}
