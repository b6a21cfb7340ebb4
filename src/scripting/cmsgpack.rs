//! The `cmsgpack` library scripts use, as lua-cmsgpack 0.4.0 behaves in
//! Redis: `pack(...)` concatenates the MessagePack of each argument
//! (integers in the smallest form, other numbers as float32 when exact
//! else float64, strings as str8/16/32, tables as arrays when their keys
//! are exactly 1..n else maps, nesting cut to nil at 16 levels, other
//! types nil); `unpack`, `unpack_one` and `unpack_limit` decode a stream
//! of values. The functions return their error first (nil when none), then
//! their results; the sandbox raises the error with the caller's position.

use mlua::{Lua, MultiValue, Table, Value};

/// lua-cmsgpack's `LUACMSGPACK_MAX_NESTING`.
const MAX_NESTING: usize = 16;

pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("_NAME", "cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    t.set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return fail(
                    lua,
                    "bad argument #0 to 'pack' (MessagePack pack needs input.)",
                );
            }
            let mut out = Vec::new();
            for value in &args {
                pack(value, &mut out, 0);
            }
            let mut results = MultiValue::new();
            results.push_back(Value::Nil);
            results.push_back(Value::String(lua.create_string(&out)?));
            Ok(results)
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| unpack_full(lua, &args, "unpack", 0, 0))?,
    )?;
    t.set(
        "unpack_one",
        lua.create_function(|lua, args: MultiValue| {
            let offset = match integer_arg(&args, 1, "unpack_one", Some(0)) {
                Ok(n) => n,
                Err(e) => return fail(lua, &e),
            };
            unpack_full(lua, &args, "unpack_one", 1, offset)
        })?,
    )?;
    t.set(
        "unpack_limit",
        lua.create_function(|lua, args: MultiValue| {
            let limit = match integer_arg(&args, 1, "unpack_limit", None) {
                Ok(n) => n,
                Err(e) => return fail(lua, &e),
            };
            let offset = match integer_arg(&args, 2, "unpack_limit", Some(0)) {
                Ok(n) => n,
                Err(e) => return fail(lua, &e),
            };
            unpack_full(lua, &args, "unpack_limit", limit, offset)
        })?,
    )?;
    Ok(t)
}

fn fail(lua: &Lua, text: &str) -> mlua::Result<MultiValue> {
    let mut results = MultiValue::new();
    results.push_back(Value::String(lua.create_string(text)?));
    Ok(results)
}

fn integer_arg(
    args: &MultiValue,
    index: usize,
    name: &str,
    default: Option<i64>,
) -> Result<i64, String> {
    match (args.get(index), default) {
        (None | Some(Value::Nil), Some(d)) => Ok(d),
        (Some(Value::Integer(n)), _) => Ok(*n),
        (Some(Value::Number(n)), _) => Ok(*n as i64),
        (value, _) => Err(format!(
            "bad argument #{} to '{name}' (number expected, got {})",
            index + 1,
            value.map_or("no value", Value::type_name)
        )),
    }
}

fn pack(value: &Value, out: &mut Vec<u8>, level: usize) {
    match value {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => pack_int(*n, out),
        Value::Number(n) => pack_number(*n, out),
        Value::String(s) => pack_str(&s.as_bytes(), out),
        Value::Table(t) if level < MAX_NESTING => pack_table(t, out, level),
        _ => out.push(0xc0),
    }
}

fn pack_number(n: f64, out: &mut Vec<u8>) {
    // An integer if the value survives a round trip through int64.
    const INT64: std::ops::Range<f64> = -9.223_372_036_854_776e18..9.223_372_036_854_776e18;
    if INT64.contains(&n) && (n as i64) as f64 == n {
        return pack_int(n as i64, out);
    }
    let single = n as f32;
    if f64::from(single) == n || n.is_nan() && single.is_nan() {
        out.push(0xca);
        out.extend_from_slice(&single.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_str(bytes: &[u8], out: &mut Vec<u8>) {
    let len = bytes.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(bytes);
}

fn header(out: &mut Vec<u8>, len: usize, fix: u8, wide16: u8, wide32: u8) {
    if len <= 15 {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(wide16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(wide32);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// An array when the keys are exactly 1..n (an empty table too), else a
/// map in the table's own order.
fn pack_table(t: &Table, out: &mut Vec<u8>, level: usize) {
    // Two walks over the table, each value dropped as soon as it is seen:
    // holding every pair at once would exhaust Lua's reference slots on
    // a table of a hundred thousand entries.
    let mut count = 0usize;
    let mut max = 0f64;
    let mut is_array = true;
    for (k, _) in t.clone().pairs::<Value, Value>().flatten() {
        count += 1;
        let n = match k {
            Value::Integer(n) => n as f64,
            Value::Number(n) => n,
            _ => {
                is_array = false;
                continue;
            }
        };
        max = max.max(n);
        is_array &= n > 0.0 && n.fract() == 0.0;
    }
    if is_array && max as usize == count {
        header(out, count, 0x90, 0xdc, 0xdd);
        for i in 1..=count {
            let item: Value = t.raw_get(i).unwrap_or(Value::Nil);
            pack(&item, out, level + 1);
        }
    } else {
        header(out, count, 0x80, 0xde, 0xdf);
        for (k, v) in t.clone().pairs::<Value, Value>().flatten() {
            pack(&k, out, level + 1);
            pack(&v, out, level + 1);
        }
    }
}

enum DecodeError {
    Eof,
    BadFormat,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self.at.checked_add(n).ok_or(DecodeError::Eof)?;
        let slice = self.bytes.get(self.at..end).ok_or(DecodeError::Eof)?;
        self.at = end;
        Ok(slice)
    }

    fn be(&mut self, n: usize) -> Result<u64, DecodeError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }
}

fn decode(lua: &Lua, cur: &mut Cursor) -> Result<Value, DecodeError> {
    let lua_err = |_: mlua::Error| DecodeError::BadFormat;
    let tag = cur.take(1)?[0];
    let number = |n: f64| Ok(Value::Number(n));
    match tag {
        0x00..=0x7f => number(f64::from(tag)),
        0xe0..=0xff => number(f64::from(tag as i8)),
        0xc0 => Ok(Value::Nil),
        0xc2 => Ok(Value::Boolean(false)),
        0xc3 => Ok(Value::Boolean(true)),
        0xcc => number(cur.be(1)? as f64),
        0xcd => number(cur.be(2)? as f64),
        0xce => number(cur.be(4)? as f64),
        0xcf => number(cur.be(8)? as f64),
        0xd0 => number(f64::from(cur.be(1)? as u8 as i8)),
        0xd1 => number(f64::from(cur.be(2)? as u16 as i16)),
        0xd2 => number(f64::from(cur.be(4)? as u32 as i32)),
        0xd3 => number(cur.be(8)? as i64 as f64),
        0xca => number(f64::from(f32::from_bits(cur.be(4)? as u32))),
        0xcb => number(f64::from_bits(cur.be(8)?)),
        0xa0..=0xbf | 0xd9 | 0xda | 0xdb => {
            let len = match tag {
                0xd9 => cur.be(1)?,
                0xda => cur.be(2)?,
                0xdb => cur.be(4)?,
                _ => u64::from(tag & 0x1f),
            } as usize;
            let bytes = cur.take(len)?;
            Ok(Value::String(lua.create_string(bytes).map_err(lua_err)?))
        }
        0x90..=0x9f | 0xdc | 0xdd => {
            let len = match tag {
                0xdc => cur.be(2)?,
                0xdd => cur.be(4)?,
                _ => u64::from(tag & 0x0f),
            } as usize;
            let t = lua.create_table().map_err(lua_err)?;
            for i in 1..=len {
                let item = decode(lua, cur)?;
                t.raw_set(i, item).map_err(lua_err)?;
            }
            Ok(Value::Table(t))
        }
        0x80..=0x8f | 0xde | 0xdf => {
            let len = match tag {
                0xde => cur.be(2)?,
                0xdf => cur.be(4)?,
                _ => u64::from(tag & 0x0f),
            } as usize;
            let t = lua.create_table().map_err(lua_err)?;
            for _ in 0..len {
                let key = decode(lua, cur)?;
                let value = decode(lua, cur)?;
                if !matches!(key, Value::Nil) {
                    t.raw_set(key, value).map_err(lua_err)?;
                }
            }
            Ok(Value::Table(t))
        }
        _ => Err(DecodeError::BadFormat),
    }
}

/// lua-cmsgpack's `mp_unpack_full`: up to `limit` values from `offset`
/// (all of them when both are 0), preceded by the next offset (-1 at the
/// end) when a limit or offset was given.
fn unpack_full(
    lua: &Lua,
    args: &MultiValue,
    name: &str,
    limit: i64,
    offset: i64,
) -> mlua::Result<MultiValue> {
    let text = match args.front() {
        Some(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) => {
            lua.coerce_string(v.clone())?
        }
        _ => None,
    };
    let Some(text) = text else {
        let got = args.front().map_or("no value", Value::type_name);
        return fail(
            lua,
            &format!("bad argument #1 to '{name}' (string expected, got {got})"),
        );
    };
    let bytes = text.as_bytes();
    let len = bytes.len();
    if offset < 0 || limit < 0 {
        return fail(
            lua,
            &format!("Invalid request to unpack with offset of {offset} and limit of {len}."),
        );
    }
    if offset as usize > len {
        return fail(
            lua,
            &format!("Start offset {offset} greater than input length {len}."),
        );
    }
    let decode_all = limit == 0 && offset == 0;
    let limit = if decode_all { i64::MAX } else { limit };
    let mut cur = Cursor {
        bytes: &bytes,
        at: offset as usize,
    };
    let mut results = MultiValue::new();
    results.push_back(Value::Nil);
    let mut count = 0;
    while cur.at < len && count < limit {
        match decode(lua, &mut cur) {
            Ok(value) => results.push_back(value),
            Err(DecodeError::Eof) => return fail(lua, "Missing bytes in input."),
            Err(DecodeError::BadFormat) => return fail(lua, "Bad data format in input."),
        }
        count += 1;
    }
    if !decode_all {
        let next = if cur.at == len { -1 } else { cur.at as i64 };
        results.insert(1, Value::Integer(next));
    }
    Ok(results)
}
