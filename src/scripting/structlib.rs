//! The `struct` library scripts use (Roberto Ierusalimschy's struct, as
//! Redis ships it): `pack(fmt, ...)`, `unpack(fmt, s [, pos])` and
//! `size(fmt)` over C-like binary layouts. Formats: `<` `>` `=` byte
//! order, `!n` alignment, `b B h H l L T i[n] I[n]` integers (long and
//! size_t are 8 bytes, int 4), `f d` floats, `x` padding, `s`
//! zero-terminated strings, `c[n]` fixed strings (`c0`: the whole string
//! when packing, the previous number as length when unpacking). Errors
//! come back first, as for the other native libraries.

use mlua::{Lua, MultiValue, Table, Value};

/// struct.c's `MAXINTSIZE` and `MAXALIGN`.
const MAX_INT_SIZE: usize = 32;
const MAX_ALIGN: usize = 8;

/// Byte order and alignment, as a format sets them (little-endian, no
/// alignment, until told otherwise).
struct Header {
    big_endian: bool,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            big_endian: false,
            align: 1,
        }
    }
}

struct Format<'a> {
    fmt: &'a [u8],
    at: usize,
    function: &'static str,
}

impl<'a> Format<'a> {
    fn new(fmt: &'a [u8], function: &'static str) -> Self {
        Format {
            fmt,
            at: 0,
            function,
        }
    }

    fn next(&mut self) -> Option<u8> {
        let opt = *self.fmt.get(self.at)?;
        self.at += 1;
        Some(opt)
    }

    fn number(&mut self, default: usize) -> Result<usize, String> {
        if !self.fmt.get(self.at).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut n: usize = 0;
        while let Some(&d) = self.fmt.get(self.at).filter(|d| d.is_ascii_digit()) {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(usize::from(d - b'0')))
                .filter(|&n| n <= i32::MAX as usize)
                .ok_or("integral size overflow")?;
            self.at += 1;
        }
        Ok(n)
    }

    /// The size of option `opt` (0 for control options and `s`).
    fn size(&mut self, opt: u8) -> Result<usize, String> {
        Ok(match opt {
            b'B' | b'b' | b'x' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let size = self.number(4)?;
                if size > MAX_INT_SIZE {
                    return Err(format!(
                        "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                    ));
                }
                size
            }
            _ => 0,
        })
    }

    fn control(&mut self, opt: u8, header: &mut Header) -> Result<(), String> {
        match opt {
            b' ' => {}
            b'>' => header.big_endian = true,
            b'<' | b'=' => header.big_endian = false,
            b'!' => {
                let align = self.number(MAX_ALIGN)?;
                if !align.is_power_of_two() {
                    return Err(format!("alignment {align} is not a power of 2"));
                }
                header.align = align;
            }
            other => {
                return Err(format!(
                    "bad argument #1 to '{}' (invalid format option '{}')",
                    self.function, other as char
                ))
            }
        }
        Ok(())
    }
}

fn padding(len: usize, header: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(header.align);
    (size - (len & (size - 1))) & (size - 1)
}

fn fail(lua: &Lua, text: &str) -> mlua::Result<MultiValue> {
    let mut out = MultiValue::new();
    out.push_back(Value::String(lua.create_string(text)?));
    Ok(out)
}

fn ok(values: Vec<Value>) -> MultiValue {
    let mut out = MultiValue::new();
    out.push_back(Value::Nil);
    out.extend(values);
    out
}

fn format_arg(lua: &Lua, args: &MultiValue, function: &str) -> Result<Vec<u8>, String> {
    match args.front() {
        Some(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) => lua
            .coerce_string(v.clone())
            .ok()
            .flatten()
            .map(|s| s.as_bytes().to_vec())
            .ok_or_else(|| format!("bad argument #1 to '{function}' (string expected)")),
        other => Err(format!(
            "bad argument #1 to '{function}' (string expected, got {})",
            other.map_or("no value", Value::type_name)
        )),
    }
}

fn number_arg(lua: &Lua, args: &MultiValue, index: usize) -> Result<f64, String> {
    let value = args.get(index).cloned().unwrap_or(Value::Nil);
    lua.coerce_number(value.clone())
        .ok()
        .flatten()
        .ok_or_else(|| {
            format!(
                "bad argument #{} to 'pack' (number expected, got {})",
                index + 1,
                value.type_name()
            )
        })
}

fn pack(lua: &Lua, args: &MultiValue) -> Result<Vec<u8>, String> {
    let fmt = format_arg(lua, args, "pack")?;
    let mut format = Format::new(&fmt, "pack");
    let mut header = Header::default();
    let mut out: Vec<u8> = Vec::new();
    let mut arg = 1;
    while let Some(opt) = format.next() {
        let mut size = format.size(opt)?;
        let pad = padding(out.len(), &header, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = number_arg(lua, args, arg)?;
                arg += 1;
                let value: u64 = if n < 0.0 { n as i64 as u64 } else { n as u64 };
                let mut bytes: Vec<u8> = (0..size)
                    .map(|i| if i < 8 { (value >> (8 * i)) as u8 } else { 0 })
                    .collect();
                if header.big_endian {
                    bytes.reverse();
                }
                out.extend_from_slice(&bytes);
            }
            b'x' => out.push(0),
            b'f' | b'd' => {
                let n = number_arg(lua, args, arg)?;
                arg += 1;
                let mut bytes = if opt == b'f' {
                    (n as f32).to_le_bytes().to_vec()
                } else {
                    n.to_le_bytes().to_vec()
                };
                if header.big_endian {
                    bytes.reverse();
                }
                out.extend_from_slice(&bytes);
            }
            b'c' | b's' => {
                let value = args.get(arg).cloned().unwrap_or(Value::Nil);
                arg += 1;
                let text = lua
                    .coerce_string(value.clone())
                    .ok()
                    .flatten()
                    .ok_or_else(|| {
                        format!(
                            "bad argument #{arg} to 'pack' (string expected, got {})",
                            value.type_name()
                        )
                    })?;
                let text = text.as_bytes();
                if size == 0 {
                    size = text.len();
                }
                if text.len() < size {
                    return Err(format!(
                        "bad argument #{} to 'pack' (string too short)",
                        arg + 1
                    ));
                }
                out.extend_from_slice(&text[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => format.control(opt, &mut header)?,
        }
    }
    Ok(out)
}

fn integer(bytes: &[u8], big_endian: bool, signed: bool) -> f64 {
    let mut value: u64 = 0;
    let ordered: Vec<u8> = if big_endian {
        bytes.to_vec()
    } else {
        bytes.iter().rev().copied().collect()
    };
    for b in ordered {
        value = (value << 8) | u64::from(b);
    }
    if signed && !bytes.is_empty() && bytes.len() <= 8 {
        let bits = bytes.len() * 8;
        if bits < 64 && value & (1 << (bits - 1)) != 0 {
            value |= u64::MAX << bits;
        }
        return value as i64 as f64;
    }
    value as f64
}

fn unpack(lua: &Lua, args: &MultiValue) -> Result<Vec<Value>, String> {
    let fmt = format_arg(lua, args, "unpack")?;
    let data_value = args.get(1).cloned().unwrap_or(Value::Nil);
    let data = lua
        .coerce_string(data_value.clone())
        .ok()
        .flatten()
        .ok_or_else(|| {
            format!(
                "bad argument #2 to 'unpack' (string expected, got {})",
                match args.get(1) {
                    None => "no value",
                    Some(v) => v.type_name(),
                }
            )
        })?;
    let data = data.as_bytes();
    let len = data.len();
    let start = match args.get(2) {
        None | Some(Value::Nil) => 1.0,
        Some(v) => lua
            .coerce_number(v.clone())
            .ok()
            .flatten()
            .ok_or("bad argument #3 to 'unpack' (number expected)")?,
    };
    let mut pos = (start as i64 - 1).max(0) as usize;
    if start < 1.0 || pos > len {
        return Err("bad argument #3 to 'unpack' (offset out of range)".into());
    }
    let mut format = Format::new(&fmt, "unpack");
    let mut header = Header::default();
    let mut results: Vec<Value> = Vec::new();
    let too_short = "bad argument #2 to 'unpack' (data string too short)";
    while let Some(opt) = format.next() {
        let mut size = format.size(opt)?;
        pos += padding(pos, &header, opt, size);
        if size > len || pos > len - size {
            return Err(too_short.into());
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = integer(
                    &data[pos..pos + size],
                    header.big_endian,
                    opt.is_ascii_lowercase(),
                );
                results.push(Value::Number(n));
            }
            b'x' => {}
            b'f' | b'd' => {
                let mut bytes = data[pos..pos + size].to_vec();
                if header.big_endian {
                    bytes.reverse();
                }
                let n = if opt == b'f' {
                    f64::from(f32::from_le_bytes(bytes.try_into().unwrap_or([0; 4])))
                } else {
                    f64::from_le_bytes(bytes.try_into().unwrap_or([0; 8]))
                };
                results.push(Value::Number(n));
            }
            b'c' => {
                if size == 0 {
                    let previous = match results.last() {
                        Some(Value::Number(n)) => Some(*n),
                        Some(Value::Integer(n)) => Some(*n as f64),
                        _ => None,
                    };
                    let Some(n) = previous else {
                        return Err("format 'c0' needs a previous size".into());
                    };
                    results.pop();
                    size = n.max(0.0) as usize;
                    if size > len || pos > len - size {
                        return Err(too_short.into());
                    }
                }
                let text = lua
                    .create_string(&data[pos..pos + size])
                    .map_err(|e| e.to_string())?;
                results.push(Value::String(text));
            }
            b's' => {
                let Some(end) = memchr::memchr(0, &data[pos..]) else {
                    return Err("unfinished string in data".into());
                };
                let text = lua
                    .create_string(&data[pos..pos + end])
                    .map_err(|e| e.to_string())?;
                results.push(Value::String(text));
                size = end + 1;
            }
            _ => format.control(opt, &mut header)?,
        }
        pos += size;
    }
    results.push(Value::Number((pos + 1) as f64));
    Ok(results)
}

fn size(lua: &Lua, args: &MultiValue) -> Result<usize, String> {
    let fmt = format_arg(lua, args, "size")?;
    let mut format = Format::new(&fmt, "size");
    let mut header = Header::default();
    let mut pos = 0;
    while let Some(opt) = format.next() {
        let size = format.size(opt)?;
        pos += padding(pos, &header, opt, size);
        if opt == b's' {
            return Err("bad argument #1 to 'size' (option 's' has no fixed size)".into());
        }
        if opt == b'c' && size == 0 {
            return Err("bad argument #1 to 'size' (option 'c0' has no fixed size)".into());
        }
        if !opt.is_ascii_alphanumeric() {
            format.control(opt, &mut header)?;
        }
        pos += size;
    }
    Ok(pos)
}

pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|lua, args: MultiValue| match pack(lua, &args) {
            Ok(bytes) => Ok(ok(vec![Value::String(lua.create_string(&bytes)?)])),
            Err(e) => fail(lua, &e),
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| match unpack(lua, &args) {
            Ok(values) => Ok(ok(values)),
            Err(e) => fail(lua, &e),
        })?,
    )?;
    t.set(
        "size",
        lua.create_function(|lua, args: MultiValue| match size(lua, &args) {
            Ok(n) => Ok(ok(vec![Value::Number(n as f64)])),
            Err(e) => fail(lua, &e),
        })?,
    )?;
    Ok(t)
}
