//! Conversions between RESP and Lua, as Redis documents and does them.
//!
//! A command run by `redis.call` replies into a buffer like any client's;
//! [`reply_to_lua`] reads that RESP back into Lua values (RESP2: status
//! `{ok=}`, error `{err=}`, nulls `false`; RESP3 after `redis.setresp(3)`:
//! maps `{map=}`, sets `{set=}`, doubles `{double=}`, ...). A script's
//! result goes the other way through [`lua_to_reply`], in the caller's
//! protocol.

use crate::protocol::Reply;
use mlua::{Lua, Table, Value};

/// How deep a reply or result may nest before conversion stops, so a
/// self-referencing table cannot recurse without end.
const MAX_DEPTH: usize = 1000;

/// Reads one RESP value at the start of `bytes` into a Lua value; `None`
/// if the bytes are not a whole reply (they always are: the server wrote
/// them).
pub fn reply_to_lua(lua: &Lua, bytes: &[u8]) -> mlua::Result<Value> {
    let mut at = 0;
    parse(lua, bytes, &mut at, 0)
}

fn line<'b>(bytes: &'b [u8], at: &mut usize) -> &'b [u8] {
    let start = *at;
    let end = memchr::memmem::find(&bytes[start..], b"\r\n").map_or(bytes.len(), |i| start + i);
    *at = (end + 2).min(bytes.len());
    &bytes[start..end]
}

fn number(text: &[u8]) -> i64 {
    crate::protocol::parse_i64(text).unwrap_or(0)
}

fn parse(lua: &Lua, bytes: &[u8], at: &mut usize, depth: usize) -> mlua::Result<Value> {
    let Some(&marker) = bytes.get(*at) else {
        return Ok(Value::Nil);
    };
    *at += 1;
    let head = line(bytes, at);
    let tagged = |key: &str, value: Value| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.raw_set(key, value)?;
        Ok(Value::Table(t))
    };
    match marker {
        b'+' => tagged("ok", Value::String(lua.create_string(head)?)),
        b'-' => tagged("err", Value::String(lua.create_string(head)?)),
        b':' => Ok(Value::Number(number(head) as f64)),
        b'$' | b'=' | b'!' => {
            let len = number(head);
            if len < 0 {
                return Ok(Value::Boolean(false));
            }
            let end = (*at + len as usize).min(bytes.len());
            let body = &bytes[*at..end];
            *at = (end + 2).min(bytes.len());
            match marker {
                b'=' => {
                    let (format, text) = if body.len() >= 4 {
                        (&body[..3], &body[4..])
                    } else {
                        (&b""[..], body)
                    };
                    let inner = lua.create_table()?;
                    inner.raw_set("format", lua.create_string(format)?)?;
                    inner.raw_set("string", lua.create_string(text)?)?;
                    tagged("verbatim_string", Value::Table(inner))
                }
                b'!' => tagged("err", Value::String(lua.create_string(body)?)),
                _ => Ok(Value::String(lua.create_string(body)?)),
            }
        }
        b'*' | b'~' | b'%' | b'>' => {
            let len = number(head);
            if len < 0 {
                return Ok(Value::Boolean(false));
            }
            if depth >= MAX_DEPTH {
                return Err(mlua::Error::runtime("reached lua stack limit"));
            }
            let t = lua.create_table()?;
            for i in 0..len {
                match marker {
                    b'%' => {
                        let key = parse(lua, bytes, at, depth + 1)?;
                        let value = parse(lua, bytes, at, depth + 1)?;
                        t.raw_set(key, value)?;
                    }
                    b'~' => {
                        let member = parse(lua, bytes, at, depth + 1)?;
                        t.raw_set(member, true)?;
                    }
                    _ => {
                        let item = parse(lua, bytes, at, depth + 1)?;
                        t.raw_set(i + 1, item)?;
                    }
                }
            }
            match marker {
                b'%' => tagged("map", Value::Table(t)),
                b'~' => tagged("set", Value::Table(t)),
                _ => Ok(Value::Table(t)),
            }
        }
        b'_' => Ok(Value::Nil),
        b'#' => Ok(Value::Boolean(head == b"t")),
        b',' => {
            let value = crate::float::parse_double(head).unwrap_or(0.0);
            tagged("double", Value::Number(value))
        }
        b'(' => tagged("big_number", Value::String(lua.create_string(head)?)),
        b'|' => {
            // Attributes are metadata: skipped, the value follows.
            let len = number(head).max(0);
            for _ in 0..len * 2 {
                parse(lua, bytes, at, depth + 1)?;
            }
            parse(lua, bytes, at, depth + 1)
        }
        _ => Ok(Value::Nil),
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
pub fn lua_to_reply(lua: &Lua, value: &Value, reply: &mut Reply, script_resp3: bool) {
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
                let _ = lua;
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

/// Writes a table's own reply (an error, a status, a double, or the header
/// of an aggregate) and returns the values that follow it, in order.
fn table_to_reply(t: &Table, reply: &mut Reply) -> Vec<Value> {
    let field = |name: &str| t.raw_get::<Value>(name).unwrap_or(Value::Nil);
    if let Value::String(err) = field("err") {
        reply.error_bytes(&err.as_bytes());
        return Vec::new();
    }
    if let Value::String(ok) = field("ok") {
        let text: Vec<u8> = ok
            .as_bytes()
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect();
        reply.raw(b"+");
        reply.raw(&text);
        reply.raw(b"\r\n");
        return Vec::new();
    }
    if let Some(n) = as_number(&field("double")) {
        reply.double(n);
        return Vec::new();
    }
    if let Value::String(big) = field("big_number") {
        if reply.is_resp3() {
            reply.raw(b"(");
            reply.raw(&big.as_bytes());
            reply.raw(b"\r\n");
        } else {
            reply.bulk(&big.as_bytes());
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
