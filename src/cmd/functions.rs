//! FCALL, FCALL_RO and FUNCTION's subcommands. The libraries and their
//! Lua state are `crate::scripting::functions`.

use super::{reply_help, Ctx};
use crate::errors;
use crate::protocol::request::Args;
use crate::scripting::functions::{RestorePolicy, LOAD_TIMEOUT_MS};

fn fcall_generic(ctx: &mut Ctx, args: Args, read_only: bool) {
    // Fed before the function's own commands, as EVAL.
    if !ctx.state.monitors.is_empty() {
        let line: Vec<&[u8]> = args.iter().collect();
        super::feed_monitors(ctx, &line);
    }
    let Some(function) = ctx.state.functions.find(args.get(1)) else {
        return ctx.reply.error("ERR Function not found");
    };
    let Some(numkeys) = crate::protocol::parse_i64(args.get(2)) else {
        return ctx.reply.error("ERR Bad number of keys provided");
    };
    if numkeys > (args.len() - 3) as i64 {
        return ctx
            .reply
            .error("ERR Number of keys can't be greater than number of args");
    }
    if numkeys < 0 {
        return ctx.reply.error("ERR Number of keys can't be negative");
    }
    if let Some(refusal) = crate::scripting::refusal_before_run(ctx, function.flags, read_only) {
        return ctx.reply.error(&refusal);
    }
    let split = 3 + numkeys as usize;
    let keys: Vec<&[u8]> = (3..split).map(|i| args.get(i)).collect();
    let argv: Vec<&[u8]> = (split..args.len()).map(|i| args.get(i)).collect();
    let Some(engine) = ctx.state.functions.take_engine() else {
        return ctx.reply.error("ERR Function not found");
    };
    super::with_script_keys(ctx, &keys, |ctx| {
        crate::scripting::call_function(ctx, &engine, &function, args, &keys, &argv);
    });
    ctx.state.functions.put_engine(engine);
}

pub(super) fn fcall(ctx: &mut Ctx, args: Args) {
    fcall_generic(ctx, args, false);
}

pub(super) fn fcall_ro(ctx: &mut Ctx, args: Args) {
    fcall_generic(ctx, args, true);
}

/// A change to the libraries: counted as a write, so the command reaches
/// the AOF and the save points as Redis's `server.dirty++`.
fn changed() {
    crate::db::add_dirty(1);
}

/// `FUNCTION LOAD [REPLACE] code`.
pub(super) fn function_load(ctx: &mut Ctx, args: Args) {
    let mut replace = false;
    let last = args.len() - 1;
    for option in args.iter().take(last).skip(2) {
        if option.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else {
            return ctx
                .reply
                .error_bytes(&[b"ERR Unknown option given: ".as_slice(), option].concat());
        }
    }
    // Commands replayed from the AOF load without a time limit.
    let timeout = if ctx.state.replaying {
        0
    } else {
        LOAD_TIMEOUT_MS
    };
    match ctx.state.functions.load(args.get(last), replace, timeout) {
        Ok(name) => {
            changed();
            ctx.reply.bulk(name.as_bytes());
        }
        Err(e) => ctx.reply.error_bytes(format!("ERR {e}").as_bytes()),
    }
}

/// `FUNCTION DELETE library`.
pub(super) fn function_delete(ctx: &mut Ctx, args: Args) {
    if ctx.state.functions.delete(args.get(2)) {
        changed();
        ctx.reply.ok();
    } else {
        ctx.reply.error("ERR Library not found");
    }
}

/// `FUNCTION FLUSH [ASYNC|SYNC]`.
pub(super) fn function_flush(ctx: &mut Ctx, args: Args) {
    if args.len() > 3 {
        return ctx
            .reply
            .error_bytes(&errors::subcommand_syntax(args.get(1), "function"));
    }
    if !super::keys::flush_mode_valid(&args, 2) {
        return ctx
            .reply
            .error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
    }
    ctx.state.functions.flush();
    changed();
    ctx.reply.ok();
}

/// `FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]`: libraries in name
/// order, the pattern matched without regard to case.
pub(super) fn function_list(ctx: &mut Ctx, args: Args) {
    let (mut with_code, mut pattern) = (false, None);
    let mut i = 2;
    while i < args.len() {
        let arg = args.get(i);
        if !with_code && arg.eq_ignore_ascii_case(b"withcode") {
            with_code = true;
        } else if pattern.is_none() && arg.eq_ignore_ascii_case(b"libraryname") {
            if i + 1 >= args.len() {
                return ctx.reply.error("ERR library name argument was not given");
            }
            i += 1;
            pattern = Some(args.get(i));
        } else {
            return ctx
                .reply
                .error_bytes(&[b"ERR Unknown argument ".as_slice(), arg].concat());
        }
        i += 1;
    }
    let libraries: Vec<_> = ctx
        .state
        .functions
        .libraries()
        .filter(|l| pattern.is_none_or(|p| crate::glob::glob_match(p, l.name.as_bytes(), true)))
        .collect();
    let reply = &mut *ctx.reply;
    reply.array(libraries.len());
    for library in libraries {
        reply.map(if with_code { 4 } else { 3 });
        reply.bulk(b"library_name");
        reply.bulk(library.name.as_bytes());
        reply.bulk(b"engine");
        reply.bulk(b"LUA");
        reply.bulk(b"functions");
        reply.array(library.functions.len());
        for function in &library.functions {
            reply.map(3);
            reply.bulk(b"name");
            reply.bulk(function.name.as_bytes());
            reply.bulk(b"description");
            match &function.description {
                Some(text) => reply.bulk(text),
                None => reply.null(),
            }
            reply.bulk(b"flags");
            let flags: Vec<&str> = function.flags.names().collect();
            reply.set(flags.len());
            for flag in flags {
                reply.simple(flag);
            }
        }
        if with_code {
            reply.bulk(b"library_code");
            reply.bulk(&library.code);
        }
    }
}

/// `FUNCTION STATS`: the function running (heard while it is busy) and
/// the counts of the one engine.
pub(super) fn function_stats(ctx: &mut Ctx, _args: Args) {
    if crate::scripting::is_busy() && !crate::scripting::busy_with_function() {
        return ctx.reply.error(crate::scripting::BUSY_EVAL);
    }
    let functions = &ctx.state.functions;
    let (libraries, count) = (functions.library_count(), functions.function_count());
    let reply = &mut *ctx.reply;
    reply.map(2);
    reply.bulk(b"running_script");
    match crate::scripting::running_function() {
        None => reply.null(),
        Some((name, command, millis)) => {
            reply.map(3);
            reply.bulk(b"name");
            reply.bulk(name.as_bytes());
            reply.bulk(b"command");
            reply.array(command.len());
            for arg in &command {
                reply.bulk(arg);
            }
            reply.bulk(b"duration_ms");
            reply.int(i64::try_from(millis).unwrap_or(i64::MAX));
        }
    }
    reply.bulk(b"engines");
    reply.map(1);
    reply.bulk(b"LUA");
    reply.map(2);
    reply.bulk(b"libraries_count");
    reply.int(libraries as i64);
    reply.bulk(b"functions_count");
    reply.int(count as i64);
}

/// `FUNCTION KILL`: heard while a function runs past its threshold.
pub(super) fn function_kill(ctx: &mut Ctx, _args: Args) {
    super::scripting::reply_kill(ctx, true);
}

/// `FUNCTION DUMP`: every library's code in Redis's payload format.
pub(super) fn function_dump(ctx: &mut Ctx, _args: Args) {
    let payload = crate::rdb::functions_payload(&ctx.state.functions.codes());
    ctx.reply.bulk(&payload);
}

/// `FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]`.
pub(super) fn function_restore(ctx: &mut Ctx, args: Args) {
    if args.len() > 4 {
        return ctx
            .reply
            .error_bytes(&errors::subcommand_syntax(args.get(1), "function"));
    }
    let policy = if args.len() == 4 {
        let given = args.get(3);
        if given.eq_ignore_ascii_case(b"append") {
            RestorePolicy::Append
        } else if given.eq_ignore_ascii_case(b"replace") {
            RestorePolicy::Replace
        } else if given.eq_ignore_ascii_case(b"flush") {
            RestorePolicy::Flush
        } else {
            return ctx.reply.error(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            );
        }
    } else {
        RestorePolicy::Append
    };
    let restored = crate::rdb::functions_from_payload(args.get(2), &ctx.state.config)
        .and_then(|codes| ctx.state.functions.restore(&codes, policy));
    match restored {
        Ok(()) => {
            changed();
            ctx.reply.ok();
        }
        Err(e) => ctx.reply.error_bytes(format!("ERR {e}").as_bytes()),
    }
}

pub(super) fn function_help(ctx: &mut Ctx, _args: Args) {
    reply_help(
        ctx.reply,
        "function",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    );
}
