-- rudis's script sandbox, run once when the Lua state is created, with
-- the full standard library still at hand. It receives the functions
-- rudis implements in Rust and returns the runtime the server drives:
-- compile a script body, run a compiled script with its KEYS and ARGV.
--
-- Scripts see an environment that behaves as Redis 7.0's read-only
-- globals: reading an unknown name or writing any name is an error, and
-- the library tables (redis, string, math, ...) cannot be changed, so
-- nothing a script does survives into the next one. Lua 5.1 has no
-- read-only tables, so each protected table is an empty proxy whose
-- metatable reads through to the real one; the few built-ins that bypass
-- metatables (rawset, rawget, next, pairs, setmetatable) are wrapped to
-- see through proxies and refuse to write.

local native = ...

local error, type, tostring, tonumber, select = error, type, tostring, tonumber, select
local rawget, rawset, next, pairs = rawget, rawset, next, pairs
local setmetatable, getmetatable, setfenv = setmetatable, getmetatable, setfenv
local loadstring, load, xpcall, getinfo = loadstring, load, xpcall, debug.getinfo
local concat = table.concat

local READONLY = "Attempt to modify a readonly table"

-- proxy -> the table it protects
local protected = setmetatable({}, { __mode = "k" })

local function refuse()
    error(READONLY, 2)
end

-- The proxy, and its metatable (the globals' is switched while a
-- function library loads).
local function readonly(t)
    local proxy = {}
    local meta = { __index = t, __newindex = refuse }
    meta.__metatable = setmetatable({}, { __index = meta, __newindex = refuse })
    protected[proxy] = t
    return setmetatable(proxy, meta), meta
end

local function real(t)
    return protected[t] or t
end

-- The names scripts see.
local visible = {}

for _, name in ipairs({ "assert", "collectgarbage", "error", "gcinfo", "getmetatable",
    "ipairs", "pcall", "rawequal", "select", "tonumber", "tostring", "type", "unpack",
    "xpcall", "_VERSION" }) do
    visible[name] = _G[name]
end

visible.rawget = function(t, k)
    return rawget(real(t), k)
end
visible.rawset = native.make_raising(function(t, k, v)
    if protected[t] then
        return nil, { err = "ERR " .. READONLY }
    end
    return rawset(t, k, v)
end)
visible.next = function(t, k)
    return next(real(t), k)
end
visible.pairs = function(t)
    return next, real(t), nil
end
visible.setmetatable = native.make_raising(function(t, mt)
    if protected[t] then
        return nil, { err = "ERR " .. READONLY }
    end
    return setmetatable(t, mt)
end)

-- math.random and math.randomseed are Redis's: the same sequence at
-- every call of every script.
local math_copy = {}
for k, v in pairs(math) do
    math_copy[k] = v
end
local floor = math.floor
local make_raising = native.make_raising

-- Library functions that can fail return nil and the error (a string,
-- which gets the caller's position, or a table, raised as it is); the
-- C closure `make_raising` builds raises it.
local function checkint(n, fname, value)
    local number = tonumber(value)
    if number == nil then
        local got = value == nil and "no value" or type(value)
        return nil, "bad argument #" .. n .. " to '" .. fname .. "' (number expected, got " .. got .. ")"
    end
    return number >= 0 and floor(number) or -floor(-number)
end
math_copy.random = make_raising(function(...)
    local r = (native.rand48() % 2147483647) / 2147483647
    local n = select("#", ...)
    if n == 0 then
        return r
    elseif n == 1 then
        local upper, err = checkint(1, "random", (...))
        if err then
            return nil, err
        end
        if upper < 1 then
            return nil, "bad argument #1 to 'random' (interval is empty)"
        end
        return floor(r * upper) + 1
    elseif n == 2 then
        local lower, err = checkint(1, "random", (...))
        if err then
            return nil, err
        end
        local upper, err2 = checkint(2, "random", (select(2, ...)))
        if err2 then
            return nil, err2
        end
        if lower > upper then
            return nil, "bad argument #2 to 'random' (interval is empty)"
        end
        return floor(r * (upper - lower + 1)) + lower
    end
    return nil, "wrong number of arguments"
end)
math_copy.randomseed = make_raising(function(seed)
    local n, err = checkint(1, "randomseed", seed)
    if err then
        return nil, err
    end
    native.srand48(n)
end)

-- Native libraries report bad arguments as a second value: raised by
-- C closures.
local function raising(lib, maker)
    maker = maker or make_raising
    local wrapped = {}
    for name, value in pairs(lib) do
        wrapped[name] = type(value) == "function" and maker(value) or value
    end
    return wrapped
end

-- cjson, and each instance cjson.new() makes, raising its errors.
local function cjson_library(native_cjson)
    local lib = raising(native_cjson, native.make_raising_multi)
    lib.new = function()
        local _, instance = native_cjson.new()
        return cjson_library(instance)
    end
    return lib
end

for name, lib in pairs({ string = string, table = table, coroutine = coroutine,
    math = math_copy, bit = raising(native.bit), cjson = cjson_library(native.cjson),
    cmsgpack = raising(native.cmsgpack, native.make_raising_multi),
    struct = raising(native.struct, native.make_raising_multi) }) do
    visible[name] = readonly(lib)
end

-- Strings index the protected string table, and their metatable is
-- protected too.
local string_meta = getmetatable("")
string_meta.__index = visible.string
string_meta.__metatable = readonly({ __index = visible.string })

-- Binary chunks (string.dump's output) are refused: Redis's Lua reads
-- every chunk as source, so one fails to parse, and loaded bytecode could
-- break out of the sandbox.
local function parse(s, name)
    if type(s) == "string" and s:byte(1) == 27 then
        local source = name or s
        local first = source:sub(1, 1)
        local shown = source:match("^[^%z\n\r]*")
        if first == "=" or first == "@" then
            shown = shown:sub(2)
        else
            shown = '[string "' .. shown .. '"]'
        end
        return nil, shown .. ":1: unexpected symbol near 'char(27)'"
    end
    return loadstring(s, name)
end

local env
local function compile_in_env(f, err)
    if f then
        setfenv(f, env)
    end
    return f, err
end
visible.loadstring = function(s, name)
    return compile_in_env(parse(s, name))
end
visible.load = function(f, name)
    if type(f) ~= "function" then
        return compile_in_env(load(f, name))
    end
    -- The reader's pieces, read whole so a binary chunk is seen.
    local pieces = {}
    while true do
        local piece = f()
        if piece == nil or piece == "" then
            break
        end
        pieces[#pieces + 1] = piece
    end
    return compile_in_env(parse(concat(pieces), name or "=(load)"))
end

-- The redis library. Argument checks are here, so the error texts are
-- Redis's and carry the script's line; the work is native. `call` and
-- `pcall` raise or return the error table the native side reports.
local redis = {
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
    REDIS_VERSION = native.version, REDIS_VERSION_NUM = native.version_num,
}
local function fail(text)
    return nil, { err = text }
end
redis.call = native.redis_call
redis.pcall = native.redis_pcall
redis.log = make_raising(function(...)
    if select("#", ...) < 2 then
        return fail("ERR redis.log() requires two arguments or more.")
    end
    local level = tonumber((...))
    if level == nil then
        return fail("ERR First argument must be a number (log level).")
    end
    if level < 0 or level > 3 then
        return fail("ERR Invalid debug level.")
    end
    native.log(level, select(2, ...))
end)
redis.setresp = make_raising(function(...)
    if select("#", ...) ~= 1 then
        return fail("ERR redis.setresp() requires one argument.")
    end
    local version = tonumber((...))
    if version ~= 2 and version ~= 3 then
        return fail("ERR RESP version must be 2 or 3.")
    end
    native.setresp(version)
end)
redis.set_repl = make_raising(function(...)
    if select("#", ...) ~= 1 then
        return fail("ERR redis.set_repl() requires one argument.")
    end
    local flags = tonumber((...))
    if flags == nil or flags < 0 or flags > 3 or flags % 1 ~= 0 then
        return fail("ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
    end
    native.set_repl(flags)
end)
-- EVAL's alone (Redis's eval.c): the debugger's entry points, and the
-- switch to effects replication that 7.0 always does.
if not native.functions then
    redis.replicate_commands = function()
        return true
    end
    redis.breakpoint = function()
        return false
    end
    redis.debug = function() end
end
redis.sha1hex = make_raising(function(...)
    if select("#", ...) ~= 1 then
        return fail("ERR wrong number of arguments")
    end
    return native.sha1hex(tostring((...)))
end)
redis.error_reply = function(...)
    if select("#", ...) ~= 1 or type((...)) ~= "string" then
        return { err = "ERR wrong number or type of arguments" }
    end
    return { err = (...) }
end
redis.status_reply = function(...)
    if select("#", ...) ~= 1 or type((...)) ~= "string" then
        return { err = "ERR wrong number or type of arguments" }
    end
    return { ok = (...) }
end
redis.acl_check_cmd = make_raising(function(...)
    if select("#", ...) == 0 then
        return fail("ERR Please specify at least one argument for this redis lib call")
    end
    local allowed, err = native.acl_check(...)
    if err then
        return fail(err)
    end
    return allowed
end)
visible.redis = readonly(redis)

-- Errors become tables with the error text and where in the script it
-- happened (frames of this file and of C functions are skipped).
local function error_handler(err)
    local level, info = 2, nil
    while true do
        info = getinfo(level, "Sl")
        if not info or (info.what ~= "C" and info.source ~= "=rudis") then
            break
        end
        level = level + 1
    end
    if type(err) ~= "table" then
        err = { err = "ERR " .. tostring(err) }
    end
    if info then
        err.source = info.source
        err.line = info.currentline
    end
    return err
end
-- EVAL's scripts see their error handler as a global, as in Redis.
if not native.functions then
    visible.__redis__err__handler = error_handler
end

-- A global read goes from the (empty) environment to `visible` as a
-- plain table lookup; only a miss reaches the function that raises.
local missing_global = {
    __index = function(_, name)
        error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
    end,
}
setmetatable(visible, missing_global)
local env_meta
env, env_meta = readonly(visible)
visible._G = env

-- Function libraries (FUNCTION LOAD). A library's code runs once, with
-- one global: a `redis` table of `register_function`, `log`, the log
-- levels and the version. The functions it registers keep the same
-- environment, which reads the full API again once loading is over (as
-- Redis swaps its globals' metatable).
local registering -- the functions registered so far, while loading
local lower, find = string.lower, string.find

local FLAGS = { "no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys" }
local function raise(text)
    error({ err = "ERR " .. text })
end
local function is_string(v)
    local t = type(v)
    return t == "string" or t == "number"
end

-- A flags table's flags, canonical names in Redis's order.
local function read_flags(given)
    local seen, j = {}, 1
    while true do
        local flag = given[j]
        if flag == nil then
            break
        end
        if not is_string(flag) then
            raise("unknown flag given")
        end
        local name = lower(tostring(flag))
        local known = false
        for _, canonical in ipairs(FLAGS) do
            if canonical == name then
                known = true
            end
        end
        if not known then
            raise("unknown flag given")
        end
        seen[name] = true
        j = j + 1
    end
    local flags = {}
    for _, canonical in ipairs(FLAGS) do
        if seen[canonical] then
            flags[#flags + 1] = canonical
        end
    end
    return flags
end

local function register_named(args)
    if type(args) ~= "table" then
        raise("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
    end
    local f = { flags = {} }
    for key, value in next, args do
        if not is_string(key) then
            raise("named argument key given to redis.register_function is not a string")
        end
        local name = lower(tostring(key))
        if name == "function_name" then
            if not is_string(value) then
                raise("function_name argument given to redis.register_function must be a string")
            end
            f.name = tostring(value)
        elseif name == "description" then
            if not is_string(value) then
                raise("description argument given to redis.register_function must be a string")
            end
            f.description = tostring(value)
        elseif name == "callback" then
            if type(value) ~= "function" then
                raise("callback argument given to redis.register_function must be a function")
            end
            f.callback = value
        elseif name == "flags" then
            if type(value) ~= "table" then
                raise("flags argument to redis.register_function must be a table representing function flags")
            end
            f.flags = read_flags(value)
        else
            raise("unknown argument given to redis.register_function")
        end
    end
    if f.name == nil then
        raise("redis.register_function must get a function name argument")
    end
    if f.callback == nil then
        raise("redis.register_function must get a callback argument")
    end
    return f
end

local function register_function(...)
    if not registering then
        raise("redis.register_function can only be called on FUNCTION LOAD command")
    end
    local argc = select("#", ...)
    if argc < 1 or argc > 2 then
        raise("wrong number of arguments to redis.register_function")
    end
    local f
    if argc == 1 then
        f = register_named((...))
    else
        local name, callback = ...
        if not is_string(name) then
            raise("first argument to redis.register_function must be a string")
        end
        if type(callback) ~= "function" then
            raise("second argument to redis.register_function must be a function")
        end
        f = { name = tostring(name), callback = callback, flags = {} }
    end
    if not find(f.name, "^[%w_]+$") then
        raise("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
    end
    for _, other in ipairs(registering) do
        if other.name == f.name then
            raise("Function already exists in the library")
        end
    end
    registering[#registering + 1] = f
end

local library_redis = setmetatable({
    register_function = register_function,
    log = redis.log,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REDIS_VERSION = native.version, REDIS_VERSION_NUM = native.version_num,
}, missing_global)
local library_api = setmetatable({ redis = readonly(library_redis) }, missing_global)

local runtime = {}

-- A script body compiled into a function running in the sandbox, or nil
-- and Lua's error text.
function runtime.compile(body)
    return compile_in_env(parse(body, "@user_script"))
end

-- Runs a compiled script: true and its result, or false and the error
-- table. The clock hook is armed on this thread first.
local arm_hook = native.arm_hook
function runtime.run(f, keys, argv)
    visible.KEYS = keys
    visible.ARGV = argv
    arm_hook()
    return xpcall(f, error_handler)
end

-- Runs a library's code (the shebang line already blanked) to collect
-- the functions it registers: the list of them, or nil and the error.
-- `timeout_ms` 0 is no limit (loading from disk, as Redis).
function runtime.load_library(code, timeout_ms)
    local f, err = parse(code, "@user_function")
    if not f then
        return nil, "Error compiling function: " .. err
    end
    setfenv(f, env)
    env_meta.__index = library_api
    registering = {}
    native.arm_load_hook(timeout_ms)
    local ok, failure = pcall(f)
    native.disarm_hook()
    env_meta.__index = visible
    local registered = registering
    registering = nil
    if not ok then
        local text
        if type(failure) == "table" then
            text = tostring(failure.err)
        else
            text = "ERR " .. tostring(failure)
        end
        return nil, "Error registering functions: " .. text
    end
    return registered
end

-- Runs a registered function with its keys and arguments, as `run`.
local pending_f, pending_keys, pending_args
local function call_pending()
    return pending_f(pending_keys, pending_args)
end
function runtime.call_function(f, keys, args)
    pending_f, pending_keys, pending_args = f, keys, args
    arm_hook()
    return xpcall(call_pending, error_handler)
end

return runtime
