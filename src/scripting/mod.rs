//! Lua scripting (EVAL and friends): the Lua 5.1 state, the script cache,
//! and running a script against the keyspace.
//!
//! Lua comes from the `mlua` crate with its vendored Lua 5.1.5, the
//! version Redis embeds, so scripts see the same language, the same
//! number formatting and the same table iteration order. The sandbox
//! (globals, read-only library tables, the `redis` library's argument
//! checks, the error handler) is Lua code of rudis's own in
//! `sandbox.lua`; what needs the server (running a command, logging,
//! SHA-1, the PRNG) is native, here and in `bitop.rs`.
//!
//! A script's `redis.call` runs the command through `cmd::dispatch` as
//! the calling client, with its reply going to a buffer of its own that
//! `convert` reads back into Lua. The engine is taken out of the server
//! state while a script runs, so the command has the whole state to
//! itself; the running script's context (`RUN`) is where the native
//! functions and the instruction-count hook find it.
//!
//! A script that runs past `busy-reply-threshold` is not preempted: from
//! the hook, `busy` answers the other clients (`-BUSY`, or SCRIPT KILL,
//! SHUTDOWN NOSAVE and the other commands Redis allows then), and a kill
//! raises an error in the script that `pcall` cannot swallow.

mod bitop;
pub(crate) mod busy;
mod cjson;
mod cmsgpack;
pub mod convert;
pub mod functions;
pub use busy::{BUSY_EVAL, BUSY_FUNCTION};
mod rand48;
mod structlib;

use crate::cmd::Ctx;
use crate::protocol::request::{Args, OwnedArgs};
use crate::protocol::Reply;
use mlua::{ffi, Function, Lua, MultiValue, StdLib, Table, Value};
use std::cell::Cell;
use std::collections::HashMap;
use std::os::raw::c_int;
use std::time::Instant;

const SANDBOX: &str = include_str!("sandbox.lua");

/// What a script's shebang, or the command that runs it, allows.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct ScriptFlags {
    /// `#!lua` was there: the flags below are the script's own.
    pub declared: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

/// A cached script: its body and compiled function.
struct Script {
    body: Vec<u8>,
    function: Function,
    flags: ScriptFlags,
}

/// The running script, shared by the native functions and the hook.
struct RunState {
    /// The command context of the EVAL: valid while `running`, and only
    /// used from callbacks of that script, one at a time.
    ctx: Cell<*mut Ctx<'static>>,
    running: Cell<bool>,
    read_only: Cell<bool>,
    /// `redis.setresp`: the protocol commands reply in.
    resp3: Cell<bool>,
    /// `redis.set_repl`: where the script's writes go (`aof::TO_*`).
    targets: Cell<u8>,
    /// A write command ran: SCRIPT KILL is refused.
    wrote: Cell<bool>,
    /// Declared `allow-oom`: commands may grow memory past `maxmemory`.
    allow_oom: Cell<bool>,
    started: Cell<Instant>,
    /// Past `busy-reply-threshold`: other clients are being answered.
    timed_out: Cell<bool>,
    /// SCRIPT KILL (or SHUTDOWN NOSAVE) asked the script to stop.
    killed: Cell<bool>,
    rand: Cell<u64>,
    /// `redis.call`'s command line and reply buffers, reused call to call.
    scratch: std::cell::RefCell<(OwnedArgs, Reply)>,
    /// The function running (FCALL), null for a script (EVAL): valid
    /// while `running`, as the caller holds it.
    function: Cell<*const functions::FunctionInfo>,
    /// The FCALL's command line, for FUNCTION STATS; valid while `running`.
    command: Cell<Option<Args<'static>>>,
    /// The script's SHA-1 or the function's name, for the log; valid
    /// while `running`.
    label: Cell<*const str>,
    /// When a library being loaded must have finished (FUNCTION LOAD).
    load_deadline: Cell<Option<Instant>>,
    /// Runs since the collector was last stepped (`GC_PERIOD`).
    runs_since_gc: Cell<u32>,
}

/// Every this many runs the Lua collector takes a step of this many KB,
/// as Redis's `luaCallFunction` does: garbage of many small scripts is
/// freed a little at a time rather than by a full cycle at Lua's own pace.
const GC_PERIOD: u32 = 50;

thread_local! {
    static RUN: RunState = RunState {
        ctx: Cell::new(std::ptr::null_mut()),
        running: Cell::new(false),
        read_only: Cell::new(false),
        resp3: Cell::new(false),
        targets: Cell::new(crate::aof::TO_ALL),
        wrote: Cell::new(false),
        allow_oom: Cell::new(false),
        started: Cell::new(Instant::now()),
        timed_out: Cell::new(false),
        killed: Cell::new(false),
        rand: Cell::new(0),
        scratch: Default::default(),
        function: Cell::new(std::ptr::null()),
        command: Cell::new(None),
        label: Cell::new(""),
        load_deadline: Cell::new(None),
        runs_since_gc: Cell::new(0),
    };
}

/// Instructions between two looks at the clock (Redis's hook interval).
const HOOK_INSTRUCTIONS: c_int = 100_000;

pub struct Engine {
    lua: Lua,
    runtime: Table,
    /// The sandbox's `runtime.run` and `runtime.call_function`, looked up
    /// once.
    run: Function,
    call: Function,
    scripts: HashMap<String, Script>,
}

/// What SCRIPT KILL and FUNCTION KILL find.
pub enum KillOutcome {
    NotBusy,
    Unkillable,
    /// A function, for SCRIPT KILL; a script, for FUNCTION KILL.
    WrongKind,
    Killed,
}

/// SCRIPT KILL (`function` false) or FUNCTION KILL: stops the running
/// script or function unless it wrote (`scriptKill`).
pub fn kill(function: bool) -> KillOutcome {
    RUN.with(|run| {
        if !run.running.get() || !run.timed_out.get() {
            KillOutcome::NotBusy
        } else if run.wrote.get() {
            KillOutcome::Unkillable
        } else if run.function.get().is_null() == function {
            KillOutcome::WrongKind
        } else {
            run.killed.set(true);
            KillOutcome::Killed
        }
    })
}

/// Whether a script is running past its threshold (clients get `-BUSY`).
pub fn is_busy() -> bool {
    RUN.with(|run| run.running.get() && run.timed_out.get())
}

/// Whether what runs past its threshold is a function (FCALL).
pub fn busy_with_function() -> bool {
    RUN.with(|run| is_busy() && !run.function.get().is_null())
}

/// The `-BUSY` error other clients get while a script or function runs
/// past its threshold.
pub fn busy_error() -> &'static str {
    if busy_with_function() {
        BUSY_FUNCTION
    } else {
        BUSY_EVAL
    }
}

/// What runs, for the log: the script's SHA-1 or the function's name,
/// and whether it is a function.
pub fn running_label() -> (String, bool) {
    RUN.with(|run| {
        // SAFETY: `label` points into the `Target` that `execute` holds
        // while the script runs, and is reset to "" before it returns.
        let label = unsafe { &*run.label.get() }.to_string();
        (label, !run.function.get().is_null())
    })
}

/// The function running, for FUNCTION STATS: its name, the command that
/// called it, and milliseconds so far.
pub fn running_function() -> Option<(String, Vec<Vec<u8>>, u128)> {
    RUN.with(|run| {
        let function = run.function.get();
        if !run.running.get() || function.is_null() {
            return None;
        }
        // SAFETY: `function` is set by `call_function` from a reference
        // its caller holds for the whole run, and cleared before it ends.
        let name = unsafe { (*function).name.clone() };
        let command = run
            .command
            .get()
            .map(|args| args.iter().map(<[u8]>::to_vec).collect())
            .unwrap_or_default();
        Some((name, command, run.started.get().elapsed().as_millis()))
    })
}

/// Why a script could not run, as the error reply says it.
pub type ScriptError = String;

impl Engine {
    /// The state EVAL's scripts run in.
    pub fn new() -> mlua::Result<Engine> {
        Self::with_api(false)
    }

    /// The state function libraries load and run in: the same sandbox,
    /// without EVAL's debugger and replication leftovers.
    pub fn for_functions() -> mlua::Result<Engine> {
        Self::with_api(true)
    }

    fn with_api(functions: bool) -> mlua::Result<Engine> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG;
        // SAFETY: `debug` is loaded for the sandbox's error handler only:
        // the sandbox keeps it in a local and scripts never see it (nor
        // any other way to load C code).
        let lua = unsafe { Lua::unsafe_new_with(libs, mlua::LuaOptions::default()) };
        let seed = crate::state::unix_micros() as i32 ^ std::process::id() as i32;
        RUN.with(|run| rand48::seed(&run.rand, seed));
        let native = lua.create_table()?;
        native.set("version", crate::REDIS_VERSION)?;
        native.set("functions", functions)?;
        native.set("version_num", redis_version_num())?;
        native.set(
            "rand48",
            lua.create_function(|_, ()| Ok(RUN.with(|run| rand48::next(&run.rand))))?,
        )?;
        native.set(
            "srand48",
            lua.create_function(|_, seed: i64| {
                RUN.with(|run| rand48::seed(&run.rand, seed as i32));
                Ok(())
            })?,
        )?;
        native.set(
            "setresp",
            lua.create_function(|_, version: u8| {
                RUN.with(|run| run.resp3.set(version == 3));
                Ok(())
            })?,
        )?;
        native.set(
            "set_repl",
            lua.create_function(|_, flags: u8| {
                RUN.with(|run| run.targets.set(flags & crate::aof::TO_ALL));
                Ok(())
            })?,
        )?;
        // SAFETY: see `redis_call`.
        native.set("redis_call", unsafe { lua.create_c_function(redis_call)? })?;
        native.set("redis_pcall", unsafe {
            lua.create_c_function(redis_pcall)?
        })?;
        // SAFETY: these only call `lua_sethook` on the running state.
        native.set("arm_hook", unsafe { lua.create_c_function(arm_hook)? })?;
        native.set("arm_load_hook", unsafe {
            lua.create_c_function(arm_load_hook)?
        })?;
        native.set("disarm_hook", unsafe {
            lua.create_c_function(disarm_hook)?
        })?;
        native.set("log", lua.create_function(log_from_script)?)?;
        native.set(
            "sha1hex",
            lua.create_function(|_, text: mlua::String| Ok(sha1_hex(&text.as_bytes())))?,
        )?;
        native.set("acl_check", lua.create_function(acl_check)?)?;
        native.set("bit", bitop::library(&lua)?)?;
        native.set("cjson", cjson::library(&lua)?)?;
        native.set("cmsgpack", cmsgpack::library(&lua)?)?;
        native.set("struct", structlib::library(&lua)?)?;
        // SAFETY: `make_raising` only manipulates the Lua stack through the
        // C API and keeps no Rust values alive across a Lua error.
        native.set("make_raising", unsafe {
            lua.create_c_function(make_raising)?
        })?;
        // SAFETY: as `make_raising`.
        native.set("make_raising_multi", unsafe {
            lua.create_c_function(make_raising_multi)?
        })?;
        let runtime: Table = lua.load(SANDBOX).set_name("=rudis").call(native)?;
        let run = runtime.get("run")?;
        let call = runtime.get("call_function")?;
        Ok(Engine {
            lua,
            runtime,
            run,
            call,
            scripts: HashMap::new(),
        })
    }

    pub fn has(&self, sha: &str) -> bool {
        self.scripts.contains_key(sha)
    }

    pub fn len(&self) -> usize {
        self.scripts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }

    /// Bytes the Lua state holds (INFO's `used_memory_lua`).
    pub fn memory(&self) -> usize {
        self.lua.used_memory()
    }

    /// Bytes of cached script bodies (INFO's `used_memory_scripts_eval`).
    pub fn bodies_memory(&self) -> usize {
        self.scripts.values().map(|s| s.body.len() + 40).sum()
    }

    /// Compiles and caches a script (SCRIPT LOAD, and EVAL of a new one);
    /// its SHA-1.
    pub fn load(&mut self, body: &[u8]) -> Result<String, ScriptError> {
        let sha = sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, code) = parse_shebang(body)?;
        let compile: Function = self.runtime.get("compile").map_err(|e| e.to_string())?;
        let (function, error): (Option<Function>, Option<String>) = compile
            .call(self.lua.create_string(code).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        let Some(function) = function else {
            return Err(format!(
                "ERR Error compiling script (new function): {}",
                error.unwrap_or_default()
            ));
        };
        self.scripts.insert(
            sha.clone(),
            Script {
                body: body.to_vec(),
                function,
                flags,
            },
        );
        Ok(sha)
    }

    pub fn flags(&self, sha: &str) -> Option<ScriptFlags> {
        self.scripts.get(sha).map(|s| s.flags)
    }

    /// Runs a function library's body (FUNCTION LOAD): the functions it
    /// registered, or the error text.
    pub fn load_library(
        &self,
        body: &[u8],
        timeout_ms: u64,
    ) -> Result<Vec<functions::FunctionInfo>, String> {
        let load: Function = self
            .runtime
            .get("load_library")
            .map_err(|e| e.to_string())?;
        let body = self.lua.create_string(body).map_err(|e| e.to_string())?;
        let (registered, error): (Option<Table>, Option<String>) =
            load.call((body, timeout_ms)).map_err(|e| e.to_string())?;
        let Some(registered) = registered else {
            return Err(error.unwrap_or_default());
        };
        let mut functions = Vec::new();
        for entry in registered.sequence_values::<Table>() {
            let entry = entry.map_err(|e| e.to_string())?;
            let mut flags = ScriptFlags {
                declared: true,
                ..ScriptFlags::default()
            };
            for flag in entry
                .get::<Table>("flags")
                .map_err(|e| e.to_string())?
                .sequence_values::<String>()
                .flatten()
            {
                flags.set(&flag);
            }
            functions.push(functions::FunctionInfo {
                name: entry.get("name").map_err(|e| e.to_string())?,
                description: entry
                    .get::<Option<mlua::String>>("description")
                    .map_err(|e| e.to_string())?
                    .map(|d| d.as_bytes().to_vec()),
                flags,
                callback: entry.get("callback").map_err(|e| e.to_string())?,
            });
        }
        Ok(functions)
    }
}

impl ScriptFlags {
    /// Sets a flag by its name; false if there is no such flag.
    fn set(&mut self, name: &str) -> bool {
        match name {
            "no-writes" => self.no_writes = true,
            "allow-oom" => self.allow_oom = true,
            "allow-stale" => self.allow_stale = true,
            "no-cluster" => self.no_cluster = true,
            "allow-cross-slot-keys" => self.allow_cross_slot_keys = true,
            _ => return false,
        }
        true
    }

    /// The flags set, by name, in Redis's order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        [
            (self.no_writes, "no-writes"),
            (self.allow_oom, "allow-oom"),
            (self.allow_stale, "allow-stale"),
            (self.no_cluster, "no-cluster"),
            (self.allow_cross_slot_keys, "allow-cross-slot-keys"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
    }
}

/// Wraps the function given (which returns its result, or nil and an
/// error) into a C closure that raises the error. Scripts call library
/// functions as C functions, as in Redis: a `return f(...)` keeps the
/// script's frame (a Lua wrapper would be tail-called and the error would
/// lose its line), and a string error gets its caller's position, as
/// `luaL_error` gives it.
unsafe extern "C-unwind" fn make_raising(state: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
    use mlua::ffi;
    ffi::luaL_checktype(state, 1, ffi::LUA_TFUNCTION);
    ffi::lua_settop(state, 1);
    ffi::lua_pushcclosure(state, raising_call, 1);
    1
}

/// The closure `make_raising` makes. It holds no Rust values, so a Lua
/// error may unwind through it.
unsafe extern "C-unwind" fn raising_call(state: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
    use mlua::ffi;
    let args = ffi::lua_gettop(state);
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, args, 2);
    if ffi::lua_type(state, -1) == ffi::LUA_TNIL {
        ffi::lua_pop(state, 1);
        return 1;
    }
    if ffi::lua_type(state, -1) == ffi::LUA_TSTRING {
        ffi::luaL_where(state, 1);
        ffi::lua_insert(state, -2);
        ffi::lua_concat(state, 2);
    }
    ffi::lua_error(state)
}

/// Like `make_raising`, for functions with any number of results: they
/// return their error (or nil) first, then the results.
unsafe extern "C-unwind" fn make_raising_multi(state: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(state, 1, ffi::LUA_TFUNCTION);
    ffi::lua_settop(state, 1);
    ffi::lua_pushcclosure(state, raising_multi_call, 1);
    1
}

/// The closure `make_raising_multi` makes; no Rust values live in it.
unsafe extern "C-unwind" fn raising_multi_call(state: *mut ffi::lua_State) -> c_int {
    let args = ffi::lua_gettop(state);
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, args, ffi::LUA_MULTRET);
    let results = ffi::lua_gettop(state);
    if results == 0 || ffi::lua_type(state, 1) == ffi::LUA_TNIL {
        if results > 0 {
            ffi::lua_remove(state, 1);
        }
        return (results - 1).max(0);
    }
    ffi::lua_settop(state, 1);
    if ffi::lua_type(state, 1) == ffi::LUA_TSTRING {
        ffi::luaL_where(state, 1);
        ffi::lua_insert(state, -2);
        ffi::lua_concat(state, 2);
    }
    ffi::lua_error(state)
}

/// Redis's version as `REDIS_VERSION_NUM`: 0x00MMmmpp.
fn redis_version_num() -> i64 {
    let mut parts = crate::REDIS_VERSION
        .split('.')
        .map(|p| p.parse::<i64>().unwrap_or(0));
    let (major, minor, patch) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (major << 16) | (minor << 8) | patch
}

pub fn sha1_hex(bytes: &[u8]) -> String {
    sha1_smol::Sha1::from(bytes).digest().to_string()
}

/// `redis.log(level, ...)`: the arguments that are strings or numbers,
/// joined by spaces, logged at the level given (checked by the sandbox).
fn log_from_script(lua: &Lua, args: MultiValue) -> mlua::Result<()> {
    let mut args = args.into_iter();
    let level = match args.next() {
        Some(Value::Integer(n)) => n,
        Some(Value::Number(n)) => n as i64,
        _ => 0,
    };
    let mut text = Vec::new();
    for value in args {
        if let Ok(Some(s)) = lua.coerce_string(value) {
            if !text.is_empty() {
                text.push(b' ');
            }
            text.extend_from_slice(&s.as_bytes());
        }
    }
    let text = String::from_utf8_lossy(&text);
    match level {
        0 => log::debug!("{text}"),
        1 => log::info!("{text}"),
        2 => log::info!("{text}"),
        _ => log::warn!("{text}"),
    }
    Ok(())
}

/// Reads a `#!lua` first line (Redis 7.0's `evalExtractShebangFlags`):
/// the flags, and the code to compile. The shebang line itself is
/// replaced by an empty line, so error line numbers stay right.
fn parse_shebang(body: &[u8]) -> Result<(ScriptFlags, Vec<u8>), ScriptError> {
    let (flags, code_start) = read_shebang(body)?;
    if code_start == 0 {
        return Ok((flags, body.to_vec()));
    }
    let mut code = b"\n".to_vec();
    code.extend_from_slice(&body[code_start..]);
    Ok((flags, code))
}

/// A script's flags and where its code starts: 0 without a shebang, when
/// the flags are not declared.
fn read_shebang(body: &[u8]) -> Result<(ScriptFlags, usize), ScriptError> {
    let mut flags = ScriptFlags::default();
    if !body.starts_with(b"#!") {
        return Ok((flags, 0));
    }
    let Some(end) = memchr::memchr(b'\n', body) else {
        return Err("ERR Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let mut words = line.split(' ').filter(|w| !w.is_empty());
    let engine = words.next().unwrap_or_default();
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    flags.declared = true;
    for word in words {
        let Some(list) = word.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {word}"));
        };
        for flag in list.split(',').filter(|f| !f.is_empty()) {
            if !flags.set(flag) {
                return Err(format!("ERR Unexpected flag in script shebang: {flag}"));
            }
        }
    }
    Ok((flags, end + 1))
}

/// The flags of the script a script command runs, which stand in for
/// the command's own when the server decides whether to run it (Redis's
/// `evalGetCommandFlags` and `fcallGetCommandFlags`): `declared` unset for
/// a script without a shebang. None for a script not cached, a function
/// not loaded, or a shebang that does not parse: the command's own flags
/// apply, and the command replies the error.
pub fn declared_flags(
    state: &crate::state::ServerState,
    command: &str,
    args: Args,
) -> Option<ScriptFlags> {
    if args.len() < 2 {
        return None;
    }
    let named = args.get(1);
    let flags = match command {
        "fcall" | "fcall_ro" => state.functions.find(named)?.flags,
        "evalsha" | "evalsha_ro" => {
            let sha = std::str::from_utf8(named).ok()?;
            if sha.len() != 40 {
                return None;
            }
            let engine = state.scripting.as_deref()?;
            engine
                .flags(sha)
                .or_else(|| engine.flags(&sha.to_ascii_lowercase()))?
        }
        "eval" | "eval_ro" => read_shebang(named).ok()?.0,
        _ => return None,
    };
    Some(flags)
}

/// Why a script with declared flags (a shebang, or any function) may not
/// run now (Redis's `scriptPrepareForRun`): one that may write is refused
/// by a `*_RO` command and while writes fail on disk.
pub fn refusal_before_run(ctx: &Ctx, flags: ScriptFlags, ro_command: bool) -> Option<String> {
    if !flags.declared || flags.no_writes {
        return None;
    }
    let persist = &ctx.state.persist;
    if persist.disk_error_possible() && persist.rdb_refuses_writes(&ctx.state.config) {
        return Some("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts.".into());
    }
    let aof = &ctx.state.aof;
    if !aof.last_write_ok && aof.logging() {
        return Some(format!(
            "MISCONF Errors writing to the AOF file: {}",
            aof.last_write_error
        ));
    }
    if ro_command {
        return Some("ERR Can not execute a script with write flag using *_ro command.".into());
    }
    if !flags.allow_oom && ctx.state.pre_command_oom && ctx.state.config.maxmemory != 0 {
        // Redis refuses such a call before it runs, the script's flags
        // making it `denyoom`: the client sees the plain OOM error.
        return Some(crate::errors::OOM.into());
    }
    None
}

/// Runs a cached script for the running client, replying its result.
pub fn run(
    ctx: &mut Ctx,
    engine: &mut Engine,
    sha: &str,
    keys: &[&[u8]],
    argv: &[&[u8]],
    read_only: bool,
) {
    let Some(script) = engine.scripts.get(sha) else {
        return ctx
            .reply
            .error("NOSCRIPT No matching script. Please use EVAL.");
    };
    if let Some(refusal) = refusal_before_run(ctx, script.flags, read_only) {
        return ctx.reply.error(&refusal);
    }
    let read_only = read_only || script.flags.no_writes;
    let target = Target {
        entry: &engine.run,
        function: &script.function,
        label: sha,
        info: std::ptr::null(),
        command: None,
        allow_oom: script.flags.allow_oom,
    };
    execute(ctx, &engine.lua, target, keys, argv, read_only);
}

/// Runs a function (FCALL) with its keys and arguments, replying its
/// result. `engine` is the functions' Lua state, which compiled it.
pub fn call_function(
    ctx: &mut Ctx,
    engine: &Engine,
    function: &functions::FunctionInfo,
    command: Args,
    keys: &[&[u8]],
    argv: &[&[u8]],
) {
    // SAFETY: the lifetime is only erased for FUNCTION STATS to read the
    // command while the function runs; `execute` clears it before it
    // returns, and `command` outlives this call.
    let command = unsafe { std::mem::transmute::<Args<'_>, Args<'static>>(command) };
    let target = Target {
        entry: &engine.call,
        function: &function.callback,
        label: &function.name,
        info: function,
        command: Some(command),
        allow_oom: function.flags.allow_oom || function.flags.no_writes,
    };
    execute(
        ctx,
        &engine.lua,
        target,
        keys,
        argv,
        function.flags.no_writes,
    );
}

/// What `execute` runs: the sandbox's entry (`run` or `call_function`)
/// with the compiled function, and the name errors give.
struct Target<'a> {
    entry: &'a Function,
    function: &'a Function,
    label: &'a str,
    info: *const functions::FunctionInfo,
    command: Option<Args<'static>>,
    allow_oom: bool,
}

fn execute(
    ctx: &mut Ctx,
    lua: &Lua,
    target: Target,
    keys: &[&[u8]],
    argv: &[&[u8]],
    read_only: bool,
) {
    let caller_db = ctx.db_index();
    let outcome = (|| -> mlua::Result<(bool, Value)> {
        let keys = strings_table(lua, keys)?;
        let argv = strings_table(lua, argv)?;
        let ctx_ptr = (ctx as *mut Ctx).cast::<Ctx<'static>>();
        RUN.with(|state| {
            state.ctx.set(ctx_ptr);
            state.running.set(true);
            state.read_only.set(read_only);
            state.resp3.set(false);
            state.targets.set(crate::aof::TO_ALL);
            state.wrote.set(false);
            state.allow_oom.set(target.allow_oom);
            state.started.set(Instant::now());
            state.timed_out.set(false);
            state.killed.set(false);
            state.function.set(target.info);
            state.command.set(target.command);
            state.label.set(target.label);
        });
        let result = target
            .entry
            .call::<(bool, Value)>((target.function, keys, argv));
        RUN.with(|state| {
            state.running.set(false);
            state.ctx.set(std::ptr::null_mut());
            state.function.set(std::ptr::null());
            state.command.set(None);
            state.label.set("");
        });
        result
    })();
    ctx.client().db = caller_db;
    let runs = RUN.with(|state| {
        let runs = (state.runs_since_gc.get() + 1) % GC_PERIOD;
        state.runs_since_gc.set(runs);
        runs
    });
    if runs == 0 {
        let _ = lua.gc_step_kbytes(GC_PERIOD as i32);
    }
    if ctx.state.shutdown.is_some() {
        // SHUTDOWN NOSAVE stopped the script: the server exits before the
        // caller hears anything, as Redis exits from the script's hook.
        return;
    }
    let script_resp3 = RUN.with(|state| state.resp3.get());
    let label = target.label;
    match outcome {
        Ok((true, result)) => convert::lua_to_reply(&result, ctx.reply, script_resp3),
        Ok((false, Value::Table(error))) => reply_script_error(ctx.reply, &error, label),
        Ok((false, other)) => {
            let text = lua
                .coerce_string(other)
                .ok()
                .flatten()
                .map(|s| String::from_utf8_lossy(&s.as_bytes()).into_owned())
                .unwrap_or_else(|| "execution failure".into());
            ctx.reply
                .error(&format!("ERR Error running script {label}, {text}"));
        }
        Err(e) => ctx
            .reply
            .error(&format!("ERR Error running script {label}, {e}")),
    }
}

/// KEYS or ARGV: a Lua array of the strings.
fn strings_table(lua: &Lua, items: &[&[u8]]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(item)?)?;
    }
    Ok(t)
}

/// The running script's command context.
///
/// SAFETY: callers are native functions of the running script; `run`
/// keeps the context alive and untouched while the script runs, and
/// these callbacks never overlap (a command cannot run a script).
unsafe fn running_ctx<'a>() -> Option<&'a mut Ctx<'static>> {
    RUN.with(|run| {
        let ptr = run.ctx.get();
        (run.running.get() && !ptr.is_null()).then(|| unsafe { &mut *ptr })
    })
}

/// `redis.acl_check_cmd(...)`: whether the script's caller may run that
/// command line, keys and channels included; an error text instead for a
/// command that does not exist or an argument that is not a string or a
/// number.
fn acl_check(
    _: &mlua::Lua,
    args: mlua::Variadic<mlua::Value>,
) -> mlua::Result<(Option<bool>, Option<String>)> {
    let mut owned = Vec::with_capacity(args.len());
    for arg in args.iter() {
        owned.push(match arg {
            mlua::Value::String(text) => text.as_bytes().to_vec(),
            mlua::Value::Integer(n) => n.to_string().into_bytes(),
            mlua::Value::Number(n) => crate::float::format_double(*n).into_bytes(),
            _ => {
                let text = "ERR Lua redis lib command arguments must be strings or integers";
                return Ok((None, Some(text.into())));
            }
        });
    }
    let line: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    let Some((command, id)) = crate::cmd::resolve_line(&line) else {
        let text = "ERR Invalid command passed to redis.acl_check_cmd()";
        return Ok((None, Some(text.into())));
    };
    // SAFETY: called from the running script only.
    let Some(ctx) = (unsafe { running_ctx() }) else {
        let text = "ERR redis.acl_check_cmd can only be called inside a script invocation";
        return Ok((None, Some(text.into())));
    };
    let user = ctx.state.users.get(ctx.clients[ctx.me].user);
    let allowed = user.is_some_and(|user| user.check(command, id, &line).is_ok());
    Ok((Some(allowed), None))
}

/// Installs the instruction-count hook on the script's Lua thread
/// (coroutines it creates inherit it).
unsafe extern "C-unwind" fn arm_hook(state: *mut ffi::lua_State) -> c_int {
    ffi::lua_sethook(
        state,
        Some(count_hook),
        ffi::LUA_MASKCOUNT,
        HOOK_INSTRUCTIONS,
    );
    0
}

/// Installs the hook that ends a library's load after `timeout_ms`
/// (0: no limit) on the loading thread.
unsafe extern "C-unwind" fn arm_load_hook(state: *mut ffi::lua_State) -> c_int {
    let timeout_ms = ffi::lua_tointeger(state, 1);
    let deadline = (timeout_ms > 0)
        .then(|| Instant::now() + std::time::Duration::from_millis(timeout_ms as u64));
    RUN.with(|run| run.load_deadline.set(deadline));
    ffi::lua_sethook(
        state,
        Some(load_hook),
        ffi::LUA_MASKCOUNT,
        HOOK_INSTRUCTIONS,
    );
    0
}

unsafe extern "C-unwind" fn disarm_hook(state: *mut ffi::lua_State) -> c_int {
    ffi::lua_sethook(state, None, 0, 0);
    RUN.with(|run| run.load_deadline.set(None));
    0
}

/// A library past its load time gets an error, raised again at every line
/// so that nothing it does keeps it running (`luaEngineLoadHook`).
unsafe extern "C-unwind" fn load_hook(state: *mut ffi::lua_State, ar: *mut ffi::lua_Debug) {
    let late = RUN.with(|run| run.load_deadline.get().is_some_and(|d| Instant::now() > d));
    if !late {
        return;
    }
    // The sandbox's own lines, once the library's code has stopped, run
    // on to take the hook off.
    if ffi::lua_getinfo(state, c"S".as_ptr(), ar) != 0
        && !(*ar).source.is_null()
        && std::ffi::CStr::from_ptr((*ar).source) == c"=rudis"
    {
        return;
    }
    ffi::lua_sethook(state, Some(load_hook), ffi::LUA_MASKLINE, 0);
    ffi::lua_createtable(state, 0, 1);
    ffi::lua_pushstring(state, c"ERR FUNCTION LOAD timeout".as_ptr());
    ffi::lua_setfield(state, -2, c"err".as_ptr());
    ffi::lua_error(state);
}

/// Every `HOOK_INSTRUCTIONS`: past the threshold, other clients are
/// served; a killed script gets an error, raised again at every line so a
/// `pcall` cannot keep it running. No Rust value lives across
/// `lua_error`.
unsafe extern "C-unwind" fn count_hook(state: *mut ffi::lua_State, _ar: *mut ffi::lua_Debug) {
    if !busy::check() {
        return;
    }
    ffi::lua_sethook(state, Some(count_hook), ffi::LUA_MASKLINE, 0);
    ffi::lua_createtable(state, 0, 1);
    ffi::lua_pushstring(
        state,
        c"ERR Script killed by user with SCRIPT KILL...".as_ptr(),
    );
    ffi::lua_setfield(state, -2, c"err".as_ptr());
    ffi::lua_error(state);
}

/// The error reply of a script that raised: the error's text, then which
/// script and where (Redis 7.0's format).
fn reply_script_error(reply: &mut Reply, error: &Table, label: &str) {
    let text: Vec<u8> = match error.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.as_bytes().to_vec(),
        _ => b"ERR unknown error".to_vec(),
    };
    let mut message = text;
    let source = error.raw_get::<Option<String>>("source").ok().flatten();
    let line = error.raw_get::<Option<i64>>("line").ok().flatten();
    if let (Some(source), Some(line)) = (source, line) {
        message.extend_from_slice(format!(" script: {label}, on {source}:{line}.").as_bytes());
    }
    reply.error_bytes(&message);
}

/// `redis.call`: the command's reply, or its error raised. A C function
/// on the Lua stack, as in Redis: no conversion layer between the
/// script's arguments and the command line, nor between the reply and
/// the Lua values.
///
/// SAFETY (for both): `call_step` returns before `lua_error` runs, so no
/// Rust value is alive when Lua unwinds; the only Lua errors `call_step`
/// itself could meet are out-of-memory ones from pushing values.
unsafe extern "C-unwind" fn redis_call(state: *mut ffi::lua_State) -> c_int {
    match call_step(state, true) {
        CallStep::Return => 1,
        CallStep::Raise => ffi::lua_error(state),
    }
}

/// `redis.pcall`: the reply, or the error table returned.
unsafe extern "C-unwind" fn redis_pcall(state: *mut ffi::lua_State) -> c_int {
    call_step(state, false);
    1
}

enum CallStep {
    /// One value (the reply or an error table) is on the stack.
    Return,
    /// An error table is on the stack, to be raised.
    Raise,
}

/// Pushes `{err = text}`.
unsafe fn push_error(state: *mut ffi::lua_State, text: &str) {
    ffi::lua_createtable(state, 0, 1);
    ffi::lua_pushlstring(state, text.as_ptr().cast(), text.len());
    ffi::lua_setfield(state, -2, c"err".as_ptr());
}

/// Runs the command line made of the arguments on the stack and pushes
/// its reply (or the refusal).
unsafe fn call_step(state: *mut ffi::lua_State, raise: bool) -> CallStep {
    let failed = if raise {
        CallStep::Raise
    } else {
        CallStep::Return
    };
    // SAFETY: called from the running script only (see `running_ctx`).
    let Some(ctx) = running_ctx() else {
        push_error(state, "ERR redis.call outside a running script");
        return failed;
    };
    let argc = ffi::lua_gettop(state);
    if argc == 0 {
        push_error(
            state,
            "ERR Please specify at least one argument for this redis lib call",
        );
        return failed;
    }
    let (mut line, mut reply) = RUN.with(|run| std::mem::take(&mut *run.scratch.borrow_mut()));
    line.clear();
    let mut arguments_ok = true;
    for i in 1..=argc {
        let kind = ffi::lua_type(state, i);
        if kind != ffi::LUA_TSTRING && kind != ffi::LUA_TNUMBER {
            arguments_ok = false;
            break;
        }
        if kind == ffi::LUA_TNUMBER {
            // Not Lua's own conversion, which keeps 14 digits: Redis
            // passes numbers with all 17.
            line.push(crate::float::format_double(ffi::lua_tonumber(state, i)).as_bytes());
            continue;
        }
        let mut len = 0usize;
        let text = ffi::lua_tolstring(state, i, &mut len);
        line.push(std::slice::from_raw_parts(text.cast::<u8>(), len));
    }
    // The arguments are copied: pop them, as Redis does, so that the
    // reply has room (a C function called with 7,999 arguments may push
    // only a few values more).
    ffi::lua_settop(state, 0);
    let step = if !arguments_ok {
        push_error(
            state,
            "ERR Lua redis lib command arguments must be strings or integers",
        );
        failed
    } else {
        match run_line(ctx, &line, &mut reply) {
            Err(refusal) => {
                push_error(state, refusal);
                failed
            }
            Ok(()) => {
                convert::push_reply(state, reply.as_bytes());
                if reply.as_bytes().first() == Some(&b'-') {
                    failed
                } else {
                    CallStep::Return
                }
            }
        }
    };
    RUN.with(|run| *run.scratch.borrow_mut() = (line, reply));
    step
}

/// Checks and runs one `redis.call` command line into `reply`, or says
/// why it is refused.
fn run_line(ctx: &mut Ctx, line: &OwnedArgs, reply: &mut Reply) -> Result<(), &'static str> {
    let args = line.args();
    let head: [&[u8]; 2] = [args.get(0), if args.len() > 1 { args.get(1) } else { b"" }];
    let Some((command, id)) = crate::cmd::resolve_line(&head[..args.len().min(2)]) else {
        return Err("ERR Unknown Redis command called from script");
    };
    if !command.arity_fits(args.len()) {
        return Err("ERR Wrong number of args calling Redis command from script");
    }
    let traits = ctx.state.command_stats.traits(id);
    if traits.noscript && !ctx.state.script_deny_disabled {
        return Err("ERR This Redis command is not allowed from script");
    }
    if !traits.stale && crate::cmd::serving_stale_refused(ctx.state) {
        return Err("ERR Can not execute the command on a stale replica");
    }
    let unrestricted = ctx
        .state
        .users
        .get(ctx.clients[ctx.me].user)
        .is_some_and(|u| u.unrestricted);
    if !unrestricted {
        let line: Vec<&[u8]> = args.iter().collect();
        match crate::cmd::check_acl(ctx, command, id, &line, true) {
            Ok(()) => {}
            Err(crate::acl::Denied::Command) => {
                return Err("ERR The user executing the script can't run this command or subcommand")
            }
            Err(crate::acl::Denied::Key(_)) => {
                return Err("ERR The user executing the script can't access at least one of the keys mentioned in the command arguments")
            }
            Err(crate::acl::Denied::Channel(_)) => {
                return Err("ERR The user executing the script can't publish to the channel mentioned in the command")
            }
        }
    }
    let (read_only, resp3, targets) =
        RUN.with(|run| (run.read_only.get(), run.resp3.get(), run.targets.get()));

    // May-replicate commands count as writes here, so a read-only
    // script runs under CLIENT PAUSE WRITE without publishing.
    if (traits.write || traits.may_replicate) && read_only {
        return Err("ERR Write commands are not allowed from read-only scripts.");
    }
    // Over `maxmemory` when the script started, it may not begin to
    // grow memory; once it wrote, it cannot be stopped halfway (Redis's
    // `scriptVerifyOOM`).
    if traits.denyoom
        && ctx.state.pre_command_oom
        && ctx.state.config.maxmemory != 0
        && !RUN.with(|run| run.wrote.get() || run.allow_oom.get())
    {
        return Err(crate::errors::OOM);
    }
    if traits.write {
        RUN.with(|run| run.wrote.set(true));
    }
    reply.clear(64 * 1024);
    reply.set_resp3(resp3);
    let targets_were = ctx.state.script_targets;
    ctx.state.script_targets = targets;
    crate::cmd::run_for_script(ctx, reply, args);
    ctx.state.script_targets = targets_were;
    Ok(())
}
