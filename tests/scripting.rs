//! Lua scripting against redis-server: EVAL's replies and errors for the
//! conversions, the redis library, the sandbox and the error texts, and
//! EVALSHA / SCRIPT, compared byte for byte.

mod common;

use common::{assert_same_replies, Conn, ServerProcess};

/// Scripts run with `EVAL <script> 0` on both servers.
const SCRIPTS: &[&str] = &[
    // Conversions, Lua to RESP.
    "return 3.99",
    "return -3.7",
    "return 1e15",
    "return {1,2,3,nil,5}",
    "return false",
    "return true",
    "return nil",
    "return {1,'a',{2,3},false,true}",
    "return {err='My Error'}",
    "return {err='-DENIED no'}",
    "return {ok='fine'}",
    "return {ok='a\\r\\nb'}",
    "return {err='x', ok='y'}",
    "error({err='-DENIED raised'})",
    "redis.setresp(3) return true",
    "redis.setresp(3) return false",
    "redis.setresp(3) return nil",
    "return {double=3.5}",
    "return {big_number='123456789012345678901234567890'}",
    "return {big_number='123\\r\\n123'}",
    "return {map={a=1}}",
    "return {set={a=true}}",
    "return 'a\\r\\nb'",
    "return {}",
    "return function() end",
    "local t = {} t[1] = t return 1",
    "local function f() f() end f()",
    "local function f(n) if n == 0 then return 0 end return 1 + f(n - 1) end return f(10000)",
    "return string.rep('ab', 3, 'x')",
    "local t = {} for i = 1, 100000 do t[i] = i end return #t",
    // Conversions, RESP to Lua.
    "return redis.call('ping')",
    "redis.call('set','k','v') return redis.call('get','k')",
    "return redis.call('get','missing') == false",
    "return type(redis.call('set','k2','v'))",
    "return redis.call('set','k2','v').ok",
    "redis.call('rpush','l','a','b') return redis.call('lrange','l',0,-1)",
    "return redis.call('incr','counter')",
    "return redis.pcall('incr','k')",
    "return type(redis.pcall('incr','k'))",
    "return redis.pcall('incr','k').err",
    "redis.call('hset','hh','a','1') redis.setresp(3) return redis.call('hgetall','hh').map.a",
    "redis.setresp(3) return redis.call('hgetall','nohash')",
    "redis.setresp(3) return redis.call('get','nokey') == nil",
    "redis.call('sadd','ss','x') redis.setresp(3) return redis.call('smembers','ss').set.x",
    "redis.call('zadd','zz',1.5,'m') redis.setresp(3) return redis.call('zscore','zz','m').double",
    "return redis.call('set', 'a', 1.5)",
    "return redis.call('get', 'a')",
    "return redis.call('set', 'n', 3)",
    "redis.call('set', 'tiny', 1e-300) return redis.call('get', 'tiny')",
    "redis.call('set', 'negzero', -0) return redis.call('get', 'negzero')",
    "return redis.call('get', 'nokey', 'x')",
    // Errors from redis.call.
    "return redis.call('incr','k')",
    "return redis.call('nosuch')",
    "return redis.pcall('nosuch')",
    "return redis.call('get')",
    "return redis.call()",
    "return redis.call('client','id')",
    "return redis.call('blpop','nol',0)",
    "return redis.call('set','k')",
    "return redis.call('get', {})",
    "return redis.call('get', nil)",
    // Lua errors.
    "error('boom')",
    "error('boom', 0)",
    "error({err='My Error'})",
    "local x = nil + 1",
    "syntax error here",
    "return",
    "\nerror('line two')",
    // The redis library.
    "return redis.error_reply('E1 x')",
    "return redis.error_reply()",
    "return redis.status_reply('S')",
    "return redis.sha1hex('')",
    "return redis.sha1hex('abc')",
    "return redis.sha1hex()",
    "return redis.REDIS_VERSION",
    "return redis.REDIS_VERSION_NUM",
    "return redis.setresp(4)",
    "return redis.setresp()",
    "return redis.log(99, 'x')",
    "return redis.log(redis.LOG_WARNING)",
    "return redis.log('x', 'y')",
    "return redis.log(redis.LOG_DEBUG, 'from a script')",
    "return redis.set_repl(redis.REPL_ALL)",
    "return redis.set_repl(7)",
    "return redis.replicate_commands()",
    "return redis.breakpoint()",
    "return redis.debug(1)",
    "return redis.acl_check_cmd('get','x')",
    "return redis.acl_check_cmd('nosuch')",
    "return redis.acl_check_cmd('set',{},1)",
    "return redis.acl_check_cmd()",
    "return redis.acl_check_cmd('config','nosuch')",
    // Numbers reach commands with 17 digits, not Lua's 14.
    "redis.call('set','n',9007199254740991) return redis.call('get','n')",
    "redis.call('set','n',3.14) return redis.call('get','n')",
    "redis.call('set','n',-0.0) return redis.call('get','n')",
    "redis.call('set','n',-1/0) return redis.call('get','n')",
    "redis.call('set','n',1e20) return redis.call('get','n')",
    "local t = {1.5} redis.call('set','n',t[1]) return type(t[1])",
    "local a = {} for i=1,7999 do a[i] = 1 end return redis.call('rpush','big',unpack(a))",
    "local a = {} for i=1,7999 do a[i] = 'x' end return redis.call('mset',unpack(a))",
    "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
    "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}",
    // The sandbox.
    "x = 1",
    "return x",
    "return _G.x",
    "rawset(_G,'x',1)",
    "setmetatable(_G, {})",
    "local g = getmetatable(_G) g.__index = {}",
    "return type(getmetatable(_G))",
    "redis = function() return 1 end",
    "_G = {}",
    "redis.call = function() return 1 end",
    "string.upper = nil",
    "bit.band = nil",
    "math.floor = nil",
    "local mt = getmetatable('') mt.__index = {}",
    "getmetatable('').__index.upper = nil",
    "return type(getmetatable(''))",
    "return ('abc'):upper()",
    "local n=0 for k,v in pairs(string) do n=n+1 end return n",
    "return rawget(string, 'len') ~= nil",
    "rawset(string, 'x', 1)",
    "local f = loadstring('x = 5') f() return 1",
    "return loadstring('return 1')()",
    "return pcall(function() x = 1 end)",
    "local t = {} setmetatable(t, {}) return 1",
    "KEYS[1] = 'x' return KEYS[1]",
    "local n={} for k,v in pairs(_G) do n[#n+1]=k end table.sort(n) return n",
    "local n={} for k in pairs(cmsgpack) do n[#n+1]=k end table.sort(n) return n",
    "local n={} for k in pairs(cjson) do n[#n+1]=k end table.sort(n) return n",
    "local n={} for k in pairs(struct) do n[#n+1]=k end table.sort(n) return n",
    "return tostring(os)",
    "return tostring(io)",
    "return tostring(print)",
    "return tostring(loadfile)",
    "return tostring(dofile)",
    "return tostring(require)",
    "return tostring(debug)",
    "return tostring(getfenv)",
    "return tostring(newproxy)",
    "return _VERSION",
    // Libraries.
    "return table.getn({1,2})",
    "return string.format('%5.2f', 1.5)",
    "return tostring(1e15)",
    "return tostring(0.1)",
    "return tostring(1/0)",
    "local n={} for k in pairs(math) do n[#n+1]=k end table.sort(n) return n",
    "local n={} for k in pairs(table) do n[#n+1]=k end table.sort(n) return n",
    "local n={} for k in pairs(string) do n[#n+1]=k end table.sort(n) return n",
    "local n={} for k in pairs(bit) do n[#n+1]=k end table.sort(n) return n",
    "local n={} for k in pairs(redis) do n[#n+1]=k end table.sort(n) return n",
    "return bit.band(0xff, 0x0f)",
    "return {bit.tobit(0xffffffff), bit.tobit(2^32+5), bit.tobit(2.5), bit.tobit(3.5)}",
    "return {bit.bor(1,2,4), bit.bxor(5,3), bit.bnot(0), bit.lshift(1,31), bit.rshift(-1,28), bit.arshift(-256,4)}",
    "return {bit.rol(0x12345678, 12), bit.ror(0x12345678, 12), bit.bswap(0x12345678)}",
    "return {bit.tohex(255), bit.tohex(255, -4), bit.tohex(-1, 2), bit.tohex(1, 10)}",
    "return bit.band(1, {})",
    "return bit.lshift(1)",
    "return math.random(0)",
    "return math.random('x')",
    "return math.random(1, 2, 3)",
    "math.randomseed(0) return {math.random(1000000), math.random(1000000), math.random(10, 20)}",
    "math.randomseed(42) return tostring(math.random())",
    // cjson.
    "return cjson.encode({})",
    "return cjson.encode({1,2,3})",
    "return cjson.encode({a=1})",
    "return cjson.encode(0/0)",
    "return cjson.encode(1/0)",
    "return cjson.encode('a/b\"c\\\\d\\n\\r\\t\\b\\f' .. string.char(1) .. string.char(127) .. 'é')",
    "return cjson.encode({[1]=1,[3]=3})",
    "return cjson.encode({[1]=1,[20]=2})",
    "return cjson.encode({[1]=1,[11]=2})",
    "return cjson.encode({1, a=2})",
    "return cjson.encode({cjson.null, true, false})",
    "return cjson.encode(nil)",
    "return cjson.encode()",
    "return cjson.encode(function() end)",
    "return cjson.encode({[true]=1})",
    "return cjson.encode({[1.5]=1})",
    "return cjson.encode({[-1]=1})",
    "return cjson.encode({[0]=1})",
    "local t = {} t[1] = t return cjson.encode(t)",
    "return cjson.encode('x', 'y')",
    "return cjson.encode({a={b={c={1}}}})",
    "return cjson.encode(12)",
    "return cjson.encode('')",
    "return cjson.decode('[1,2,3]')[2]",
    "return cjson.decode('{\"a\":1}').a",
    "return type(cjson.decode('null'))",
    "return cjson.decode('null') == cjson.null",
    "return cjson.decode('')",
    "return cjson.decode('[1,2')",
    "return cjson.decode('{\"a\" 1}')",
    "return cjson.decode('{\"a\":1,}')",
    "return cjson.decode('[1,]')",
    "return cjson.decode('x')",
    "return cjson.decode('\"\\u00e9\\ud83d\\ude00\"')",
    "return cjson.decode('\"\\\\u00e9\"')",
    "return cjson.decode('1e2')",
    "return cjson.decode('-0.5')",
    "return cjson.decode('0x10')",
    "return cjson.decode('inf')",
    "return tostring(cjson.decode('nan'))",
    "return cjson.decode('\"a\\\\/b\\\\n\"')",
    "return cjson.decode('[1] x')",
    "return cjson.decode('  {\"a\": [true, false, null]}  ').a[1]",
    "return cjson.decode()",
    "return cjson.decode(12)",
    "return cjson.decode('\"\\\\x\"')",
    "return cjson.decode('\"abc')",
    "return cjson.decode('{1:2}')",
    "return cjson.decode('[' .. string.rep('[', 1100) .. string.rep(']', 1101))",
    "return cjson.decode('\"\\\\ud800\"')",
    "return cjson.decode('01')",
    "return cjson.decode('1.')",
    "return cjson.decode('.5')",
    "return cjson.decode('+1')",
    "return cjson.decode('tru')",
    "return #cjson.decode('[]')",
    "return cjson.encode(cjson.decode('{}'))",
    "return cjson.encode(cjson.decode('[]'))",
    "return cjson.encode({['a\\0b']=1})",
    "return cjson.encode({1, nil, 3})",
    "return cjson.encode({[2]=2})",
    "return cjson.encode({-1.5, 1e300, 1e-3})",
    "return cjson._NAME .. cjson._VERSION",
    "cjson.null = 1",
    // cjson settings (each on a fresh instance, or read-only on the shared one).
    "return {cjson.encode_sparse_array()}",
    "return {cjson.encode_max_depth()}",
    "return {cjson.decode_max_depth()}",
    "return {cjson.encode_number_precision()}",
    "return {cjson.encode_keep_buffer()}",
    "return {cjson.encode_invalid_numbers()}",
    "return {cjson.decode_invalid_numbers()}",
    "return {cjson.encode_number_precision(0)}",
    "return {cjson.encode_number_precision(15)}",
    "return {cjson.encode_max_depth(0)}",
    "return {cjson.encode_max_depth('x')}",
    "return {cjson.encode_max_depth(1, 2)}",
    "return {cjson.encode_keep_buffer('maybe')}",
    "local c = cjson.new() c.encode_number_precision(3) return {c.encode(1/3), cjson.encode(1/3)}",
    "local c = cjson.new() c.encode_sparse_array(true) return c.encode({[1]=1,[20]=2})",
    "local c = cjson.new() c.encode_sparse_array(false, 0) return c.encode({[1]=1,[20]=2})",
    "local c = cjson.new() c.encode_max_depth(2) return c.encode({{{1}}})",
    "local c = cjson.new() c.decode_max_depth(2) return c.decode('[[[1]]]')",
    "local c = cjson.new() c.encode_invalid_numbers(true) return c.encode({1/0, -1/0, 0/0})",
    "local c = cjson.new() c.encode_invalid_numbers('null') return c.encode({1/0})",
    "local c = cjson.new() return {c.encode_invalid_numbers('null')}",
    "local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('0x10')",
    "local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('inf')",
    "local c = cjson.new() return {c.encode_sparse_array(true, 3, 5)}",
    "return type(cjson.new)",
    "local c = cjson.new() return c.encode({1,2})",
    // struct.
    "return struct.pack('>I2', 258)",
    "return struct.pack('<I2', 258)",
    "return struct.pack('bBhHiIlL', -1, 255, -2, 65535, -3, 4294967295, -4, 5)",
    "return struct.pack('>i3', -2)",
    "return struct.pack('fd', 1.5, 0.1)",
    "return struct.pack('s', 'abc')",
    "return struct.pack('c3', 'abcdef')",
    "return struct.pack('c0', 'abcdef')",
    "return struct.pack('x')",
    "return struct.pack('!4 b i', 1, 2)",
    "return struct.pack('>T', 7)",
    "return {struct.unpack('>I2', '\\1\\2')}",
    "return {struct.unpack('<I2', '\\1\\2')}",
    "return {struct.unpack('bB', '\\255\\255')}",
    "return {struct.unpack('>i3', '\\255\\255\\254')}",
    "return {struct.unpack('s', 'abc\\0def')}",
    "return {struct.unpack('c3', 'abcdef')}",
    "return {struct.unpack('B c0', '\\3abcdef')}",
    "return {struct.unpack('>I2', '\\1\\2\\3\\4', 3)}",
    "return {struct.unpack('>I2', '\\1')}",
    "return tostring(struct.unpack('f', struct.pack('f', 1.5)))",
    "return tostring(struct.unpack('d', struct.pack('d', 0.1)))",
    "return struct.size('bhilfd')",
    "return struct.size('!8 b d')",
    "return struct.size('s')",
    "return struct.pack('y', 1)",
    "return struct.pack('i17', 1)",
    "return struct.pack('>I4', 'x')",
    "return struct.pack('>I4')",
    "return struct.pack('s', 1)",
    "return {struct.unpack('x b', '\\1\\2')}",
    "return {struct.unpack('>I8', '\\0\\0\\0\\0\\0\\0\\1\\0')}",
    "return struct.pack('>i8', -1)",
    "return struct.pack('I', 2^33)",
    "return {struct.unpack('z', 'a')}",
    "return struct.pack('c', 'ab')",
    "return {struct.unpack('c', 'ab')}",
    "return struct.size('c0')",
    "return {struct.unpack('!4 b i', struct.pack('!4 b i', 1, 2))}",
    // Binary chunks do not load: Redis's Lua parses every chunk as source.
    "return loadstring(string.dump(function() return 1 end))()",
    "return select(2, loadstring('\\27abc', 'x'))",
    "local n = 0 return tostring(load(function() n = n + 1 if n == 1 then return '\\27abc' end end, 'y'))",
    "local n = 0 return load(function() n = n + 1 if n == 1 then return 'return 7' end end)()",
    // cmsgpack.
    "return cmsgpack.pack(1, -1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649)",
    "return cmsgpack.pack(1.5, 0.1, 1e300, -0.25, 1/0, 2^53, 2^63)",
    "return cmsgpack.pack('', 'abc', string.rep('x', 31), string.rep('y', 32), string.rep('z', 256))",
    "return cmsgpack.pack({}, {1,2,3}, {a=1}, {1, nil, 3}, {[2]=2}, {1, a=2})",
    "return cmsgpack.pack(true, false, nil)",
    "return cmsgpack.pack(function() end)",
    "return cmsgpack.pack()",
    "local t = {} t[1] = t return cmsgpack.pack(t)",
    "return cmsgpack.pack(string.rep('a', 70000))",
    "local t = {} for i = 1, 20 do t[i] = i end return cmsgpack.pack(t)",
    "local t = {} for i = 1, 20 do t['k'..i] = i end return #cmsgpack.pack(t)",
    "local a, m = {}, {} for i = 1, 100000 do a[i] = i m[tostring(i)] = i end local d = cmsgpack.unpack(cmsgpack.pack({a=a, m=m})) return {#cmsgpack.pack({a=a, m=m}), #d.a, d.m['99999']}",
    "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {1,2}, {a='b'}, true, 1.5))}",
    "return cmsgpack.unpack(cmsgpack.pack({a='b'})).a",
    "return cmsgpack.unpack('')",
    "return cmsgpack.unpack('\\193')",
    "return cmsgpack.unpack('\\205\\1')",
    "return cmsgpack.unpack()",
    "return {cmsgpack.unpack('\\145\\192')}",
    "return type(cmsgpack.unpack('\\192'))",
    "return cmsgpack.unpack('\\196\\3abc')",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 2)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1), 5)}",
    "return tostring(cmsgpack.unpack(cmsgpack.pack(0.1)))",
    "return tostring(cmsgpack.unpack('\\203\\63\\185\\153\\153\\153\\153\\153\\154'))",
    "return cmsgpack._NAME .. cmsgpack._VERSION",
    "return cmsgpack.unpack('\\212\\1\\1')",
    "return {cmsgpack.unpack('\\147\\1\\2')}",
    "return tostring(cmsgpack.unpack(cmsgpack.pack(-0.0)))",
    "return math.randomseed()",
];

fn run_all(server: &ServerProcess) -> Vec<Vec<u8>> {
    let mut conn = server.connect();
    conn.run("SET s str");
    SCRIPTS
        .iter()
        .map(|script| conn.cmd(&[b"EVAL", script.as_bytes(), b"0"]))
        .collect()
}

/// Each script as the body of a function, loaded and run with FCALL: the
/// same conversions and errors, named after the function.
fn run_all_as_functions(server: &ServerProcess) -> Vec<Vec<u8>> {
    let mut conn = server.connect();
    conn.run("SET s str");
    SCRIPTS
        .iter()
        .map(|script| {
            let library = format!(
                "#!lua name=lib\nredis.register_function('f', function(keys, args)\n{script}\nend)"
            );
            let loaded = conn.cmd(&[b"FUNCTION", b"LOAD", b"REPLACE", library.as_bytes()]);
            if loaded.starts_with(b"-") {
                return loaded;
            }
            conn.cmd(&[b"FCALL", b"f", b"0"])
        })
        .collect()
}

#[test]
fn fcall_replies_and_errors_match_redis() {
    let redis = ServerProcess::redis();
    let rudis = ServerProcess::rudis(&[]);
    let expected = run_all_as_functions(&redis);
    let got = run_all_as_functions(&rudis);
    for ((script, e), g) in SCRIPTS.iter().zip(&expected).zip(&got) {
        assert_eq!(
            String::from_utf8_lossy(e),
            String::from_utf8_lossy(g),
            "FCALL of {script:?} (left: redis-server, right: rudis)"
        );
    }
}

#[test]
fn eval_replies_and_errors_match_redis() {
    let redis = ServerProcess::redis();
    let rudis = ServerProcess::rudis(&[]);
    let expected = run_all(&redis);
    let got = run_all(&rudis);
    for ((script, e), g) in SCRIPTS.iter().zip(&expected).zip(&got) {
        assert_eq!(
            String::from_utf8_lossy(e),
            String::from_utf8_lossy(g),
            "EVAL {script:?} 0 (left: redis-server, right: rudis)"
        );
    }
}

/// redis.acl_check_cmd answers for the script's caller: commands, keys
/// and channels, and lines too short for their command.
#[test]
fn acl_check_cmd_checks_the_caller() {
    let check = |line: &str| format!("EVAL \"return redis.acl_check_cmd({line})\" 0");
    let lines = [
        "'get','xa'",
        "'get','ya'",
        "'hset','xa','f',1",
        "'mset','xa',1,'ya',2",
        "'mset','ya'",
        "'lpush','xa'",
        "'publish','ch1','m'",
        "'publish','zz','m'",
        "'subscribe','ch1','zz'",
        "'psubscribe','ch*'",
        "'psubscribe','ch1*'",
        "'eval','return 1','1','ya'",
        "'eval','return 1','5','xa'",
        "'flushall'",
        "'nosuch'",
    ];
    let mut script = vec![
        "ACL SETUSER carol on >pw +@all -hset -flushall ~x* &ch*".to_string(),
        "AUTH carol pw".to_string(),
    ];
    script.extend(lines.iter().map(|line| check(line)));
    let script: Vec<&str> = script.iter().map(String::as_str).collect();
    assert_same_replies(&script);
}

/// DEBUG SET-DISABLE-DENY-SCRIPTS lets scripts run `noscript` commands,
/// a testing aid the Redis test suite uses.
#[test]
fn deny_scripts_can_be_disabled_for_tests() {
    common::assert_same_replies_with(
        &["--enable-debug-command", "yes"],
        &[
            "EVAL \"return redis.call('client', 'getname')\" 0",
            "DEBUG SET-DISABLE-DENY-SCRIPTS 1",
            "EVAL \"return redis.call('client', 'getname')\" 0",
            "DEBUG SET-DISABLE-DENY-SCRIPTS 0",
            "EVAL \"return redis.call('client', 'getname')\" 0",
        ],
    );
}

#[test]
fn resp3_callers_get_resp3_results() {
    let scripts = [
        "return true",
        "return false",
        "return nil",
        "return {double=3.5}",
        "return {big_number='1234567890123456789012'}",
        "return {big_number='123\\r\\n:1'}",
        "return {map={a=1}}",
        "return {set={a=true}}",
        "return {1, {map={b='x'}}}",
        "redis.setresp(3) return true",
        "redis.setresp(3) return false",
        "redis.setresp(3) return {true, false, nil}",
        "redis.setresp(3) return redis.call('hgetall', 'none')",
    ];
    let run = |server: &ServerProcess| -> Vec<Vec<u8>> {
        let mut conn = server.connect();
        conn.run("HELLO 3");
        scripts
            .iter()
            .map(|s| conn.cmd(&[b"EVAL", s.as_bytes(), b"0"]))
            .collect()
    };
    let (redis, rudis) = (ServerProcess::redis(), ServerProcess::rudis(&[]));
    for ((script, e), g) in scripts.iter().zip(run(&redis)).zip(run(&rudis)) {
        assert_eq!(
            String::from_utf8_lossy(&e),
            String::from_utf8_lossy(&g),
            "{script:?}"
        );
    }
}

#[test]
fn keys_argv_evalsha_and_script_commands_match_redis() {
    let r = "return {KEYS[1], ARGV[1], #KEYS, #ARGV}";
    let sha = "a9b6689bf0d2962188a5fb8f2502e8921e3b4d41";
    common::assert_same_replies(&[
        &format!("EVAL \"{r}\" 1 key arg"),
        &format!("EVAL \"{r}\" 0"),
        "EVAL \"return 1\" x",
        "EVAL \"return 1\" -1",
        "EVAL \"return 1\" 2 a",
        "EVAL \"return 1\"",
        &format!("SCRIPT EXISTS {sha} nope"),
        &format!("EVALSHA {sha} 1 k a"),
        &format!("EVALSHA {} 1 k a", sha.to_uppercase()),
        "EVALSHA nope 0",
        "SCRIPT LOAD \"return 'loaded'\"",
        "SCRIPT LOAD \"x x\"",
        "EVALSHA 2ec6e8a7e1a7a11bcc5f2fc8a32046ce6a2dd6a5 0",
        "SCRIPT EXISTS 2ec6e8a7e1a7a11bcc5f2fc8a32046ce6a2dd6a5",
        "SCRIPT FLUSH",
        "SCRIPT EXISTS 2ec6e8a7e1a7a11bcc5f2fc8a32046ce6a2dd6a5",
        "EVALSHA 2ec6e8a7e1a7a11bcc5f2fc8a32046ce6a2dd6a5 0",
        "SCRIPT FLUSH ASYNC",
        "SCRIPT FLUSH SYNC",
        "SCRIPT FLUSH foo",
        "SCRIPT FLUSH a b",
        "SCRIPT KILL",
        "SCRIPT DEBUG no",
        "SCRIPT DEBUG maybe",
        "SCRIPT HELP",
        "SCRIPT nosuch",
        "EVAL_RO \"return redis.call('get','x')\" 0",
        "EVAL_RO \"return redis.call('set','x','1')\" 0",
        "EVALSHA_RO nope 0",
        "EVAL \"#!lua flags=no-writes\nreturn redis.call('set','x',1)\" 0",
        "EVAL \"#!lua\nreturn redis.call('set','x',1)\" 0",
        "EVAL \"#!lua flags=bogus\nreturn 1\" 0",
        "EVAL \"#!notlua\nreturn 1\" 0",
        "EVAL \"#!lua name=x\nreturn 1\" 0",
        "EVAL \"#!lua\nerror('x')\" 0",
        "EVAL \"#!lua flags=no-writes,allow-oom\nreturn 1\" 0",
        "EVAL \"#!lua  flags=no-writes\nreturn 1\" 0",
        "EVAL \"#!lua\" 0",
        "EVAL \"#!lua flags=\nreturn 2\" 0",
        "EVAL \"#! lua\nreturn 2\" 0",
        "EVAL \"return redis.call('select', 2)\" 0",
        "SET x 1",
        "GET x",
    ]);
}

/// A script's writes reach the AOF as the commands it ran, several of
/// them in MULTI/EXEC, and replay to the same data.
#[test]
fn script_effects_are_logged_and_replayed() {
    let dir = common::fresh_dir("script-aof");
    let dir_arg = dir.to_string_lossy().into_owned();
    let args = [
        "--appendonly",
        "yes",
        "--dir",
        dir_arg.as_str(),
        "--save",
        "",
    ];
    {
        let server = ServerProcess::rudis(&args);
        let mut c: Conn = server.connect();
        c.cmd(&[
            b"EVAL",
            b"redis.call('set',KEYS[1],'a') redis.call('incr','n') return 1",
            b"1",
            b"k",
        ]);
        c.cmd(&[b"EVAL", b"return redis.call('get','k')", b"0"]);
        c.cmd(&[
            b"EVAL",
            b"redis.set_repl(redis.REPL_NONE) redis.call('set','hidden','1') return 1",
            b"0",
        ]);
        c.cmd(&[b"EVAL", b"return redis.call('incr','n')", b"0"]);
        let log = std::fs::read_dir(dir.join("appendonlydir"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".incr."))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect::<String>();
        let mut commands = Vec::new();
        let mut rest = log.as_bytes();
        while let Some(len) = common::reply_len(rest) {
            let first = common::array_items(&rest[..len])[0].clone();
            commands.push(String::from_utf8(common::bulk_payload(&first)).unwrap());
            rest = &rest[len..];
        }
        assert_eq!(
            commands,
            ["SELECT", "MULTI", "set", "incr", "EXEC", "incr"],
            "{log}"
        );
        assert!(!log.contains("EVAL"), "{log}");
    }
    let server = ServerProcess::rudis(&args);
    let mut c = server.connect();
    assert_eq!(c.run("GET k"), b"$1\r\na\r\n");
    assert_eq!(c.run("GET n"), b"$1\r\n2\r\n");
    assert_eq!(c.run("EXISTS hidden"), b":0\r\n");
}

/// redis-py's Lock and register_script (scripts/test.sh installs
/// redis-py).
#[test]
fn redis_py_lock_and_registered_scripts_work() {
    let rudis = ServerProcess::rudis(&[]);
    common::assert_python_ok("scripting_redis_py.py", &rudis);
}

/// The `redis` crate's `Script`: EVALSHA, and EVAL when the script is not
/// cached.
#[test]
fn redis_crate_script_works() {
    let rudis = ServerProcess::rudis(&[]);
    let client = redis::Client::open(rudis.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let script = redis::Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1]) * 2");
    let first: i64 = script.key("n").arg(5).invoke(&mut conn).unwrap();
    assert_eq!(first, 10);
    redis::cmd("SCRIPT").arg("FLUSH").exec(&mut conn).unwrap();
    let second: i64 = script.key("n").arg(1).invoke(&mut conn).unwrap();
    assert_eq!(second, 12);
    let err = redis::Script::new("return redis.call('nosuch')")
        .invoke::<i64>(&mut conn)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Unknown Redis command called from script"),
        "{err}"
    );
}

/// Sends a command without reading its reply.
fn send(conn: &mut Conn, args: &[&[u8]]) {
    conn.send(&common::encode(args));
}

fn pause(ms: u64) {
    std::thread::sleep(std::time::Duration::from_millis(ms));
}

/// A script past `busy-reply-threshold`: other clients (old and new) get
/// -BUSY, SCRIPT KILL stops it (its caller gets the killed error, even
/// through pcall), a script that wrote is UNKILLABLE, SHUTDOWN NOSAVE
/// ends the server; all as redis-server does.
fn busy_session(server: &ServerProcess) -> Vec<String> {
    let mut out = Vec::new();
    let mut show = |label: &str, reply: Vec<u8>| {
        out.push(format!("{label}: {}", String::from_utf8_lossy(&reply)));
    };
    let mut caller = server.connect();
    let mut other = server.connect();
    other.run("CONFIG SET busy-reply-threshold 100");
    show("not busy", other.run("SCRIPT KILL"));
    // A transaction queued before the script, its EXEC sent during it.
    let mut early = server.connect();
    show("early multi", early.run("MULTI"));
    show("early queued", early.run("INCR xx"));
    send(&mut caller, &[b"EVAL", b"while true do end", b"0"]);
    pause(300);
    show("exec while busy", early.run("EXEC"));
    show("no longer in multi", early.run("ECHO out"));
    show("ping", other.run("PING"));
    show("get", other.run("GET x"));
    show("new client", server.connect().run("PING"));
    let mut transaction = server.connect();
    show("multi", transaction.run("MULTI"));
    show("queued get", transaction.run("GET x"));
    show("shutdown", other.run("SHUTDOWN"));
    show("kill", other.run("SCRIPT KILL"));
    show("killed", caller.read_reply());
    show("exec", transaction.run("EXEC"));
    show("ping after", other.run("PING"));
    send(
        &mut caller,
        &[
            b"EVAL",
            b"local n = 0 while true do pcall(function() n = n + 1 end) end",
            b"0",
        ],
    );
    pause(300);
    show("kill pcall", other.run("SCRIPT KILL"));
    show("killed pcall", caller.read_reply());
    // A script inside MULTI/EXEC: killed, the EXEC reply carries its error.
    send(&mut caller, &[b"MULTI"]);
    send(&mut caller, &[b"SET", b"before", b"1"]);
    send(&mut caller, &[b"EVAL", b"while true do end", b"0"]);
    send(&mut caller, &[b"SET", b"after", b"1"]);
    send(&mut caller, &[b"EXEC"]);
    pause(300);
    show("busy in exec", other.run("PING"));
    show("kill in exec", other.run("SCRIPT KILL"));
    for label in ["multi", "queued 1", "queued 2", "queued 3", "exec"] {
        show(label, caller.read_reply());
    }
    show("after exec", other.run("MGET before after"));
    send(
        &mut caller,
        &[
            b"EVAL",
            b"redis.call('set','w','1') while true do end",
            b"0",
        ],
    );
    pause(300);
    show("unkillable", other.run("SCRIPT KILL"));
    other.send(b"SHUTDOWN NOSAVE\r\n");
    out.push(format!(
        "caller closed: {}",
        caller.is_closed(std::time::Duration::from_secs(5))
    ));
    out.push(format!(
        "other closed: {}",
        other.is_closed(std::time::Duration::from_secs(5))
    ));
    out
}

#[test]
fn busy_scripts_are_answered_killed_and_shut_down_as_redis() {
    let redis = ServerProcess::redis();
    let rudis = ServerProcess::rudis(&[]);
    let expected = busy_session(&redis);
    let got = busy_session(&rudis);
    for (e, g) in expected.iter().zip(&got) {
        assert_eq!(e, g, "(left: redis-server, right: rudis)");
    }
    assert_eq!(expected.len(), got.len());
}

/// A result that contains itself nests until Lua's C stack limit, then
/// ends in an error, as in Redis (read raw: too deep for the test's
/// recursive reply parser).
#[test]
fn self_referencing_results_end_at_the_stack_limit() {
    let raw = |server: &ServerProcess, script: &[u8]| -> Vec<u8> {
        let mut conn = server.connect();
        conn.send(&common::encode(&[b"EVAL", script, b"0"]));
        let mut got = Vec::new();
        while !got.ends_with(b"-ERR reached lua stack limit\r\n") {
            pause(20);
            got.extend(conn.read_available());
        }
        got
    };
    let (redis, rudis) = (ServerProcess::redis(), ServerProcess::rudis(&[]));
    let array = b"local t = {} t[1] = t return t";
    assert_eq!(raw(&redis, array), raw(&rudis, array));
    // A map nests less deep in Redis (each level takes more Lua stack);
    // rudis stops at the same depth for every kind, and stays up.
    raw(&rudis, b"local t = {} t.map = t return t");
    assert_eq!(rudis.connect().run("PING"), b"+PONG\r\n");
}
