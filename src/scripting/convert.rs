//! Conversions between RESP and Lua, as Redis documents and does them.
//!
//! A command run by `redis.call` replies into a buffer like any client's;
//! [`push_reply`] reads that RESP back onto the Lua stack (RESP2: status
//! `{ok=}`, error `{err=}`, nulls `false`; RESP3 after `redis.setresp(3)`:
//! maps `{map=}`, sets `{set=}`, doubles `{double=}`, ...). A script's
//! result goes the other way through [`lua_to_reply`], in the caller's
//! protocol.

use crate::protocol::Reply;
use mlua::{ffi, Table, Value};

/// How deep a reply or result may nest before conversion stops, so a
/// self-referencing table cannot recurse without end.
const MAX_DEPTH: usize = 1000;

/// Pushes the RESP value at the start of `bytes` onto the Lua stack as
/// Redis converts a reply for a script (`redisProtocolToLuaType`).
///
/// # Safety
///
/// `state` must be the running script's Lua state, inside a C function
/// called by Lua; exactly one value is pushed.
pub unsafe fn push_reply(state: *mut ffi::lua_State, bytes: &[u8]) {
    let mut at = 0;
    push_value(state, bytes, &mut at, 0);
}

fn line<'b>(bytes: &'b [u8], at: &mut usize) -> &'b [u8] {
    let start = (*at).min(bytes.len());
    let end = memchr::memmem::find(&bytes[start..], b"\r\n").map_or(bytes.len(), |i| start + i);
    *at = (end + 2).min(bytes.len());
    &bytes[start..end]
}

fn number(text: &[u8]) -> i64 {
    crate::protocol::parse_i64(text).unwrap_or(0)
}

unsafe fn push_bytes(state: *mut ffi::lua_State, bytes: &[u8]) {
    ffi::lua_pushlstring(state, bytes.as_ptr().cast(), bytes.len());
}

/// Pushes `{name = <the value on top>}`.
unsafe fn wrap_top(state: *mut ffi::lua_State, name: &std::ffi::CStr) {
    ffi::lua_createtable(state, 0, 1);
    ffi::lua_insert(state, -2);
    ffi::lua_setfield(state, -2, name.as_ptr());
}

unsafe fn push_value(state: *mut ffi::lua_State, bytes: &[u8], at: &mut usize, depth: usize) {
    if depth > MAX_DEPTH || ffi::lua_checkstack(state, 4) == 0 {
        ffi::lua_pushnil(state);
        return;
    }
    let Some(&marker) = bytes.get(*at) else {
        ffi::lua_pushnil(state);
        return;
    };
    *at += 1;
    let head = line(bytes, at);
    match marker {
        b'+' => {
            push_bytes(state, head);
            wrap_top(state, c"ok");
        }
        b'-' => {
            push_bytes(state, head);
            wrap_top(state, c"err");
        }
        b':' => ffi::lua_pushnumber(state, number(head) as f64),
        b'$' | b'=' | b'!' => {
            let len = number(head);
            if len < 0 {
                return ffi::lua_pushboolean(state, 0);
            }
            let start = (*at).min(bytes.len());
            let end = start.saturating_add(len as usize).min(bytes.len());
            let body = &bytes[start..end];
            *at = (end + 2).min(bytes.len());
            match marker {
                b'=' => {
                    let (format, text) = if body.len() >= 4 {
                        (&body[..3], &body[4..])
                    } else {
                        (&b""[..], body)
                    };
                    ffi::lua_createtable(state, 0, 2);
                    push_bytes(state, format);
                    ffi::lua_setfield(state, -2, c"format".as_ptr());
                    push_bytes(state, text);
                    ffi::lua_setfield(state, -2, c"string".as_ptr());
                    wrap_top(state, c"verbatim_string");
                }
                b'!' => {
                    push_bytes(state, body);
                    wrap_top(state, c"err");
                }
                _ => push_bytes(state, body),
            }
        }
        b'*' | b'~' | b'%' | b'>' => {
            let len = number(head);
            if len < 0 {
                return ffi::lua_pushboolean(state, 0);
            }
            let slots = i32::try_from(len).unwrap_or(0);
            match marker {
                b'%' => ffi::lua_createtable(state, 0, slots),
                b'~' => ffi::lua_createtable(state, 0, slots),
                _ => ffi::lua_createtable(state, slots, 0),
            }
            for i in 0..len {
                match marker {
                    b'%' => {
                        push_value(state, bytes, at, depth + 1);
                        push_value(state, bytes, at, depth + 1);
                        set_pair(state);
                    }
                    b'~' => {
                        push_value(state, bytes, at, depth + 1);
                        ffi::lua_pushboolean(state, 1);
                        set_pair(state);
                    }
                    _ => {
                        push_value(state, bytes, at, depth + 1);
                        ffi::lua_rawseti(state, -2, (i + 1) as ffi::lua_Integer);
                    }
                }
            }
            match marker {
                b'%' => wrap_top(state, c"map"),
                b'~' => wrap_top(state, c"set"),
                _ => {}
            }
        }
        b'_' => ffi::lua_pushnil(state),
        b'#' => ffi::lua_pushboolean(state, i32::from(head == b"t")),
        b',' => {
            let value = crate::float::parse_double(head).unwrap_or(0.0);
            ffi::lua_pushnumber(state, value);
            wrap_top(state, c"double");
        }
        b'(' => {
            push_bytes(state, head);
            wrap_top(state, c"big_number");
        }
        b'|' => {
            // Attributes are metadata: skipped, the value follows.
            let len = number(head).max(0);
            for _ in 0..len * 2 {
                push_value(state, bytes, at, depth + 1);
                ffi::lua_settop(state, -2);
            }
            push_value(state, bytes, at, depth + 1);
        }
        _ => ffi::lua_pushnil(state),
    }
}

/// Sets table[-3][key at -2] = value at -1, unless the key is nil (a
/// RESP3 null cannot be a Lua key).
unsafe fn set_pair(state: *mut ffi::lua_State) {
    if ffi::lua_type(state, -2) == ffi::LUA_TNIL {
        ffi::lua_settop(state, -3);
    } else {
        ffi::lua_rawset(state, -3);
    }
}

/// Writes a script's result as the reply (Redis's `luaReplyToRedisReply`).
/// Booleans follow the script's protocol (`redis.setresp`): under RESP2
/// true is 1 and false a null, under RESP3 they are booleans (0 and 1 to
/// a RESP2 caller); everything else follows the caller's protocol.
///
/// Nested tables are walked with a work list, not recursion, so a table
/// that contains itself ends, as in Redis, with `-ERR reached lua stack
/// limit` at Lua's C stack depth.
pub fn lua_to_reply(value: &Value, reply: &mut Reply, script_resp3: bool) {
    let mut work = vec![(value.clone(), 0usize)];
    while let Some((value, depth)) = work.pop() {
        match value {
            Value::String(s) => reply.bulk(&s.as_bytes()),
            Value::Boolean(b) if script_resp3 && reply.is_resp3() => {
                reply.raw(if b { b"#t\r\n" } else { b"#f\r\n" })
            }
            Value::Boolean(b) if script_resp3 => reply.int(i64::from(b)),
            Value::Boolean(true) => reply.int(1),
            Value::Boolean(false) => reply.null(),
            Value::Integer(n) => reply.int(n),
            Value::Number(n) => reply.int(c_truncate(n)),
            Value::Table(_) if depth >= MAX_RESULT_DEPTH => {
                reply.error("ERR reached lua stack limit");
            }
            Value::Table(t) => {
                let mut children = table_to_reply(&t, reply);
                children.reverse();
                work.extend(children.into_iter().map(|v| (v, depth + 1)));
            }
            _ => reply.null(),
        }
    }
}

/// How deep a result may nest: the depth at which Redis's conversion runs
/// out of Lua C stack (`LUAI_MAXCSTACK`).
const MAX_RESULT_DEPTH: usize = 7995;

/// A status or big number as one line: CR and LF become spaces.
fn one_line(text: &[u8]) -> Vec<u8> {
    text.iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect()
}

/// Writes a table's own reply (an error, a status, a double, or the header
/// of an aggregate) and returns the values that follow it, in order.
fn table_to_reply(t: &Table, reply: &mut Reply) -> Vec<Value> {
    let field = |name: &str| t.raw_get::<Value>(name).unwrap_or(Value::Nil);
    if let Value::String(err) = field("err") {
        reply.error_bytes(&err.as_bytes());
        return Vec::new();
    }
    if let Value::String(ok) = field("ok") {
        reply.raw(b"+");
        reply.raw(&one_line(&ok.as_bytes()));
        reply.raw(b"\r\n");
        return Vec::new();
    }
    if let Some(n) = as_number(&field("double")) {
        reply.double(n);
        return Vec::new();
    }
    if let Value::String(big) = field("big_number") {
        // Line breaks become spaces, as Redis's: written raw they would
        // end the reply early and let the script forge protocol.
        let big = one_line(&big.as_bytes());
        if reply.is_resp3() {
            reply.raw(b"(");
            reply.raw(&big);
            reply.raw(b"\r\n");
        } else {
            reply.bulk(&big);
        }
        return Vec::new();
    }
    if let Value::Table(map) = field("map") {
        let pairs: Vec<(Value, Value)> = map.pairs::<Value, Value>().flatten().collect();
        reply.map(pairs.len());
        return pairs.into_iter().flat_map(|(k, v)| [k, v]).collect();
    }
    if let Value::Table(set) = field("set") {
        let members: Vec<Value> = set
            .pairs::<Value, Value>()
            .flatten()
            .map(|(k, _)| k)
            .collect();
        reply.set(members.len());
        return members;
    }
    if let Value::Table(verbatim) = field("verbatim_string") {
        let format = verbatim.raw_get::<Value>("format").unwrap_or(Value::Nil);
        let text = verbatim.raw_get::<Value>("string").unwrap_or(Value::Nil);
        if let (Value::String(format), Value::String(text)) = (format, text) {
            let text = text.as_bytes();
            if reply.is_resp3() {
                reply.raw(format!("={}\r\n", text.len() + 4).as_bytes());
                reply.raw(&format.as_bytes());
                reply.raw(b":");
                reply.raw(&text);
                reply.raw(b"\r\n");
            } else {
                reply.bulk(&text);
            }
            return Vec::new();
        }
    }
    // An array: elements 1, 2, ... up to the first nil.
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    reply.array(items.len());
    items
}

/// A double as C's `(long long)` cast gives it on x86-64, as Redis
/// converts a script's number: truncated, and out of range (or NaN) the
/// "integer indefinite" value, the most negative one.
fn c_truncate(n: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if n.is_nan() || !(-LIMIT..LIMIT).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => Some(*n),
        Value::Integer(n) => Some(*n as f64),
        _ => None,
    }
}
