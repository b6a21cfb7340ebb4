//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT's subcommands. The Lua
//! engine and the script cache are `crate::scripting`.

use super::{reply_help, Ctx};
use crate::protocol::request::Args;
use crate::scripting::Engine;

/// Takes the engine out of the server state for the duration of `work`
/// (creating it if a flush dropped it), so a running script's commands
/// have the whole state.
fn with_engine(ctx: &mut Ctx, work: impl FnOnce(&mut Ctx, &mut Engine)) {
    let engine = match ctx.state.scripting.take() {
        Some(engine) => engine,
        None => match Engine::new() {
            Ok(engine) => Box::new(engine),
            Err(e) => return ctx.reply.error(&format!("ERR Lua engine: {e}")),
        },
    };
    let mut engine = engine;
    work(ctx, &mut engine);
    ctx.state.scripting = Some(engine);
}

type Strings<'a> = Vec<&'a [u8]>;

/// The keys and arguments after `numkeys`, checked as Redis's
/// `evalGenericCommand` checks them.
fn keys_and_args<'a>(ctx: &mut Ctx, args: &Args<'a>) -> Option<(Strings<'a>, Strings<'a>)> {
    let numkeys = super::i64_arg(ctx.reply, args.get(2))?;
    if numkeys > (args.len() - 3) as i64 {
        ctx.reply
            .error("ERR Number of keys can't be greater than number of args");
        return None;
    }
    if numkeys < 0 {
        ctx.reply.error("ERR Number of keys can't be negative");
        return None;
    }
    let split = 3 + numkeys as usize;
    let keys = (3..split).map(|i| args.get(i)).collect();
    let argv = (split..args.len()).map(|i| args.get(i)).collect();
    Some((keys, argv))
}

fn eval_generic(ctx: &mut Ctx, args: Args, by_sha: bool, read_only: bool) {
    // EVAL is kept from the usual MONITOR feed (which follows the
    // command) and fed here, so the script's commands appear after it.
    if !ctx.state.monitors.is_empty() {
        let line: Vec<&[u8]> = args.iter().collect();
        super::feed_monitors(ctx, &line);
    }
    let Some((keys, argv)) = keys_and_args(ctx, &args) else {
        return;
    };
    super::with_script_keys(ctx, &keys, |ctx| {
        with_engine(ctx, |ctx, engine| {
            run_by(ctx, engine, &args, by_sha, &keys, &argv, read_only)
        })
    });
}

/// Runs the script EVAL names or EVALSHA's SHA-1 names.
fn run_by(
    ctx: &mut Ctx,
    engine: &mut crate::scripting::Engine,
    args: &Args,
    by_sha: bool,
    keys: &[&[u8]],
    argv: &[&[u8]],
    read_only: bool,
) {
    if by_sha {
        // A SHA-1 in any case, looked up without allocating.
        let mut sha = [0u8; 40];
        let given = args.get(1);
        if given.len() == sha.len() {
            sha.copy_from_slice(given);
            sha.make_ascii_lowercase();
        }
        let sha = std::str::from_utf8(&sha).unwrap_or_default();
        return crate::scripting::run(ctx, engine, sha, keys, argv, read_only);
    }
    match engine.load(args.get(1)) {
        Ok(sha) => crate::scripting::run(ctx, engine, &sha, keys, argv, read_only),
        Err(e) => ctx.reply.error(&e),
    }
}

pub(super) fn eval(ctx: &mut Ctx, args: Args) {
    eval_generic(ctx, args, false, false);
}

pub(super) fn evalsha(ctx: &mut Ctx, args: Args) {
    eval_generic(ctx, args, true, false);
}

pub(super) fn eval_ro(ctx: &mut Ctx, args: Args) {
    eval_generic(ctx, args, false, true);
}

pub(super) fn evalsha_ro(ctx: &mut Ctx, args: Args) {
    eval_generic(ctx, args, true, true);
}

pub(super) fn script_load(ctx: &mut Ctx, args: Args) {
    with_engine(ctx, |ctx, engine| match engine.load(args.get(2)) {
        Ok(sha) => ctx.reply.bulk(sha.as_bytes()),
        Err(e) => ctx.reply.error(&e),
    });
}

pub(super) fn script_exists(ctx: &mut Ctx, args: Args) {
    let engine = ctx.state.scripting.as_deref();
    let found: Vec<bool> = args
        .from(2)
        .map(|sha| {
            let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
            engine.is_some_and(|e| e.has(&sha))
        })
        .collect();
    ctx.reply.array(found.len());
    for exists in found {
        ctx.reply.int(i64::from(exists));
    }
}

/// `SCRIPT FLUSH [ASYNC|SYNC]`: the cache goes, with the Lua state (a
/// fresh one is made when a script next runs).
pub(super) fn script_flush(ctx: &mut Ctx, args: Args) {
    if !super::keys::flush_mode_valid(&args, 2) {
        return ctx
            .reply
            .error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    }
    ctx.state.scripting = None;
    ctx.reply.ok();
}

/// `SCRIPT KILL`: heard while a script runs past its threshold (from the
/// script's hook, see `scripting::busy`).
pub(super) fn script_kill(ctx: &mut Ctx, _args: Args) {
    reply_kill(ctx, false);
}

/// SCRIPT KILL's and FUNCTION KILL's reply (`scriptKill`).
pub(super) fn reply_kill(ctx: &mut Ctx, function: bool) {
    use crate::scripting::KillOutcome;
    match crate::scripting::kill(function) {
        KillOutcome::NotBusy => ctx
            .reply
            .error("NOTBUSY No scripts in execution right now."),
        KillOutcome::Unkillable => ctx.reply.error("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."),
        KillOutcome::WrongKind if function => ctx.reply.error(crate::scripting::BUSY_EVAL),
        KillOutcome::WrongKind => ctx.reply.error(crate::scripting::BUSY_FUNCTION),
        KillOutcome::Killed => ctx.reply.ok(),
    }
}

/// `SCRIPT DEBUG`: NO is accepted; rudis has no Lua debugger, so YES and
/// SYNC are refused rather than silently ignored.
pub(super) fn script_debug(ctx: &mut Ctx, args: Args) {
    let mode = args.get(2);
    if mode.eq_ignore_ascii_case(b"no") {
        ctx.reply.ok();
    } else if mode.eq_ignore_ascii_case(b"yes") || mode.eq_ignore_ascii_case(b"sync") {
        ctx.reply
            .error("ERR the Lua debugger (SCRIPT DEBUG YES|SYNC) is not supported");
    } else {
        ctx.reply.error("ERR Use SCRIPT DEBUG YES/SYNC/NO");
    }
}

pub(super) fn script_help(ctx: &mut Ctx, _args: Args) {
    reply_help(
        ctx.reply,
        "script",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
}
