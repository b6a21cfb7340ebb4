//! The `cjson` library scripts use, with the behaviour of the lua-cjson
//! 2.1.0 that Redis ships (defaults unchanged): empty tables encode as
//! `{}`, numbers print as `%.14g`, `/` is escaped, arrays may have holes
//! up to a sparseness limit, nesting stops at 1000, and `cjson.null`
//! stands for JSON null. Decoding reads numbers with `strtod`, as the C
//! library does (so `0x10`, `inf` and `+1` are numbers too). Errors are
//! returned as a second value and raised by the sandbox with the
//! caller's position, so their texts are lua-cjson's.

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

use std::cell::Cell;
use std::rc::Rc;

/// One cjson instance's settings (lua-cjson's `json_config_t`), changed by
/// the setting functions and kept for the Lua state's life, as in Redis.
#[derive(Clone, Copy)]
struct Config {
    sparse_convert: bool,
    sparse_ratio: i64,
    sparse_safe: i64,
    encode_max_depth: i64,
    decode_max_depth: i64,
    precision: i64,
    keep_buffer: bool,
    /// 0 off, 1 on (`inf`, `nan`), 2 `null`.
    encode_invalid: u8,
    decode_invalid: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            precision: 14,
            keep_buffer: true,
            encode_invalid: 0,
            decode_invalid: true,
        }
    }
}

type Settings = Rc<Cell<Config>>;

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// Results as the sandbox's `make_raising_multi` wants them: the error
/// (or nil) first.
fn results(values: Vec<Value>) -> MultiValue {
    let mut out = MultiValue::new();
    out.push_back(Value::Nil);
    out.extend(values);
    out
}

fn failure(lua: &Lua, text: &str) -> mlua::Result<MultiValue> {
    let mut out = MultiValue::new();
    out.push_back(Value::String(lua.create_string(text)?));
    Ok(out)
}

/// The cjson module, with default settings; `cjson.new()` makes another.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    build(lua, Rc::new(Cell::new(Config::default())))
}

fn build(lua: &Lua, settings: Settings) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    t.set("null", null())?;
    let cfg = settings.clone();
    t.set(
        "encode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return failure(lua, &arg_error("encode"));
            }
            let mut out = Vec::new();
            match encode(&cfg.get(), &args[0], &mut out, 0) {
                Ok(()) => Ok(results(vec![Value::String(lua.create_string(&out)?)])),
                Err(e) => failure(lua, &e),
            }
        })?,
    )?;
    let cfg = settings.clone();
    t.set(
        "decode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return failure(lua, &arg_error("decode"));
            }
            let Some(text) = lua.coerce_string(args[0].clone())? else {
                let got = args[0].type_name();
                return failure(
                    lua,
                    &format!("bad argument #1 to 'decode' (string expected, got {got})"),
                );
            };
            let bytes = text.as_bytes();
            let mut decoder = Decoder {
                lua,
                text: &bytes,
                at: 0,
                depth: 0,
                config: cfg.get(),
            };
            match decoder.document() {
                Ok(value) => Ok(results(vec![value])),
                Err(e) => failure(lua, &e),
            }
        })?,
    )?;
    t.set(
        "new",
        lua.create_function(|lua, ()| {
            Ok(results(vec![Value::Table(build(
                lua,
                Rc::new(Cell::new(Config::default())),
            )?)]))
        })?,
    )?;
    settings_function(
        lua,
        &t,
        &settings,
        "encode_sparse_array",
        3,
        |c, args, _| {
            enum_option(args, 0, &mut c.sparse_convert, "encode_sparse_array")?;
            integer_option(
                args,
                1,
                &mut c.sparse_ratio,
                0,
                i32::MAX.into(),
                "encode_sparse_array",
            )?;
            integer_option(
                args,
                2,
                &mut c.sparse_safe,
                0,
                i32::MAX.into(),
                "encode_sparse_array",
            )?;
            Ok(vec![
                Value::Boolean(c.sparse_convert),
                Value::Number(c.sparse_ratio as f64),
                Value::Number(c.sparse_safe as f64),
            ])
        },
    )?;
    settings_function(lua, &t, &settings, "encode_max_depth", 1, |c, args, _| {
        integer_option(
            args,
            0,
            &mut c.encode_max_depth,
            1,
            i32::MAX.into(),
            "encode_max_depth",
        )?;
        Ok(vec![Value::Number(c.encode_max_depth as f64)])
    })?;
    settings_function(lua, &t, &settings, "decode_max_depth", 1, |c, args, _| {
        integer_option(
            args,
            0,
            &mut c.decode_max_depth,
            1,
            i32::MAX.into(),
            "decode_max_depth",
        )?;
        Ok(vec![Value::Number(c.decode_max_depth as f64)])
    })?;
    settings_function(
        lua,
        &t,
        &settings,
        "encode_number_precision",
        1,
        |c, args, _| {
            integer_option(args, 0, &mut c.precision, 1, 14, "encode_number_precision")?;
            Ok(vec![Value::Number(c.precision as f64)])
        },
    )?;
    settings_function(lua, &t, &settings, "encode_keep_buffer", 1, |c, args, _| {
        enum_option(args, 0, &mut c.keep_buffer, "encode_keep_buffer")?;
        Ok(vec![Value::Boolean(c.keep_buffer)])
    })?;
    settings_function(
        lua,
        &t,
        &settings,
        "decode_invalid_numbers",
        1,
        |c, args, _| {
            enum_option(args, 0, &mut c.decode_invalid, "decode_invalid_numbers")?;
            Ok(vec![Value::Boolean(c.decode_invalid)])
        },
    )?;
    settings_function(
        lua,
        &t,
        &settings,
        "encode_invalid_numbers",
        1,
        |c, args, lua| {
            const OPTIONS: [&str; 3] = ["off", "on", "null"];
            match args.first() {
                None | Some(Value::Nil) => {}
                Some(Value::Boolean(b)) => c.encode_invalid = u8::from(*b),
                Some(v) => c.encode_invalid = choose(v, &OPTIONS, "encode_invalid_numbers")?,
            }
            Ok(vec![match c.encode_invalid {
                2 => Value::String(lua.create_string("null").map_err(|e| e.to_string())?),
                n => Value::Boolean(n == 1),
            }])
        },
    )?;
    Ok(t)
}

type Setter = fn(&mut Config, &[Value], &Lua) -> Result<Vec<Value>, String>;

/// A setting function: up to `arity` arguments (nil keeps a setting);
/// returns the settings after the change.
fn settings_function(
    lua: &Lua,
    table: &Table,
    settings: &Settings,
    name: &'static str,
    arity: usize,
    apply: Setter,
) -> mlua::Result<()> {
    let settings = settings.clone();
    let f = lua.create_function(move |lua, args: MultiValue| {
        if args.len() > arity {
            return failure(
                lua,
                &format!(
                    "bad argument #{} to '{name}' (found too many arguments)",
                    arity + 1
                ),
            );
        }
        let args: Vec<Value> = args.into_iter().collect();
        let mut config = settings.get();
        match apply(&mut config, &args, lua) {
            Ok(values) => {
                settings.set(config);
                Ok(results(values))
            }
            Err(e) => failure(lua, &e),
        }
    })?;
    table.set(name, f)
}

fn integer_option(
    args: &[Value],
    index: usize,
    setting: &mut i64,
    min: i64,
    max: i64,
    name: &str,
) -> Result<(), String> {
    let value = match args.get(index) {
        None | Some(Value::Nil) => return Ok(()),
        Some(Value::Integer(n)) => *n,
        Some(Value::Number(n)) => *n as i64,
        Some(Value::String(s)) => crate::protocol::parse_i64(&s.as_bytes()).ok_or_else(|| {
            format!(
                "bad argument #{} to '{name}' (number expected, got string)",
                index + 1
            )
        })?,
        Some(other) => {
            return Err(format!(
                "bad argument #{} to '{name}' (number expected, got {})",
                index + 1,
                other.type_name()
            ))
        }
    };
    if !(min..=max).contains(&value) {
        return Err(format!(
            "bad argument #1 to '{name}' (expected integer between {min} and {max})"
        ));
    }
    *setting = value;
    Ok(())
}

fn choose(value: &Value, options: &[&str], name: &str) -> Result<u8, String> {
    let Value::String(s) = value else {
        return Err(format!(
            "bad argument #1 to '{name}' (string expected, got {})",
            value.type_name()
        ));
    };
    let text = s.to_str().map(|t| t.to_string()).unwrap_or_default();
    options
        .iter()
        .position(|o| *o == text)
        .map(|i| i as u8)
        .ok_or_else(|| format!("bad argument #1 to '{name}' (invalid option '{text}')"))
}

fn enum_option(args: &[Value], index: usize, setting: &mut bool, name: &str) -> Result<(), String> {
    match args.get(index) {
        None | Some(Value::Nil) => {}
        Some(Value::Boolean(b)) => *setting = *b,
        Some(v) => *setting = choose(v, &["off", "on"], name)? == 1,
    }
    Ok(())
}

fn arg_error(name: &str) -> String {
    format!("bad argument #1 to '{name}' (expected 1 argument)")
}

/// `%.<precision>g` (14 by default, Lua's own number format).
fn number_text(n: f64, precision: i64) -> Vec<u8> {
    let mut buf = [0u8; 64];
    // SAFETY: the format takes an int and a double, the buffer's length
    // bounds the output.
    let len = unsafe {
        libc::snprintf(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%.*g".as_ptr(),
            precision as libc::c_int,
            n,
        )
    };
    buf[..(len.max(0) as usize).min(buf.len() - 1)].to_vec()
}

fn encode(config: &Config, value: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    match value {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(ud) if ud.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => out.extend_from_slice(&number_text(*n as f64, config.precision)),
        Value::Number(n) => {
            if !n.is_finite() {
                match config.encode_invalid {
                    0 => return Err("Cannot serialise number: must not be NaN or Inf".into()),
                    2 => {
                        out.extend_from_slice(b"null");
                        return Ok(());
                    }
                    _ if n.is_nan() => {
                        out.extend_from_slice(b"nan");
                        return Ok(());
                    }
                    _ => {}
                }
            }
            out.extend_from_slice(&number_text(*n, config.precision));
        }
        Value::String(s) => escape(&s.as_bytes(), out),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth as i64 > config.encode_max_depth {
                return Err(format!("Cannot serialise, excessive nesting ({depth})"));
            }
            match array_length(t, config)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        let item: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                        encode(config, &item, out, depth)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.clone().pairs::<Value, Value>() {
                        let (key, item) = pair.map_err(|e| e.to_string())?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &key {
                            Value::String(s) => escape(&s.as_bytes(), out),
                            Value::Integer(n) => {
                                quoted(out, &number_text(*n as f64, config.precision))
                            }
                            Value::Number(n) => quoted(out, &number_text(*n, config.precision)),
                            other => {
                                return Err(format!(
                                    "Cannot serialise {}: table key must be a number or string",
                                    other.type_name()
                                ))
                            }
                        }
                        out.push(b':');
                        encode(config, &item, out, depth)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ))
        }
    }
    Ok(())
}

fn quoted(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(text);
    out.push(b'"');
}

/// A table's length as an array (every key a positive integer), `None`
/// when it is an object; an error when it is too sparse to be either.
fn array_length(t: &Table, config: &Config) -> Result<Option<usize>, String> {
    let (mut max, mut items) = (0usize, 0usize);
    for pair in t.clone().pairs::<Value, Value>() {
        let (key, _) = pair.map_err(|e| e.to_string())?;
        let n = match key {
            Value::Integer(n) => n as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if n < 1.0 || n.fract() != 0.0 {
            return Ok(None);
        }
        max = max.max(n as usize);
        items += 1;
    }
    let (ratio, safe) = (config.sparse_ratio as usize, config.sparse_safe as usize);
    if ratio > 0 && max > items * ratio && max > safe {
        if config.sparse_convert {
            return Ok(None);
        }
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok(Some(max))
}

fn escape(text: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in text {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// What the tokenizer found, named as lua-cjson names token types in
/// its errors.
enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    /// A token error: its text and where it was found.
    Error(&'static str, usize),
}

impl Token {
    fn name(&self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::Str(_) => "T_STRING",
            Token::Number(_) => "T_NUMBER",
            Token::Boolean(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(text, _) => text,
        }
    }
}

struct Decoder<'a> {
    lua: &'a Lua,
    text: &'a [u8],
    at: usize,
    depth: usize,
    config: Config,
}

impl Decoder<'_> {
    /// The byte at `i`; the input ends at its first NUL, as in C.
    fn byte(&self, i: usize) -> u8 {
        self.text.get(i).copied().unwrap_or(0)
    }

    /// The next token and the index it starts at.
    fn next(&mut self) -> (Token, usize) {
        while matches!(self.byte(self.at), b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
        let start = self.at;
        let ch = self.byte(start);
        let single = match ch {
            b'{' => Some(Token::ObjBegin),
            b'}' => Some(Token::ObjEnd),
            b'[' => Some(Token::ArrBegin),
            b']' => Some(Token::ArrEnd),
            b':' => Some(Token::Colon),
            b',' => Some(Token::Comma),
            0 => return (Token::End, start),
            _ => None,
        };
        if let Some(token) = single {
            self.at += 1;
            return (token, start);
        }
        if ch == b'"' {
            return (self.string(), start);
        }
        let rest = &self.text[start..];
        if ch == b'-' || ch.is_ascii_digit() {
            if !self.config.decode_invalid && self.invalid_number(rest) {
                return (Token::Error("invalid number", start), start);
            }
            return (self.number(), start);
        }
        if self.config.decode_invalid && self.invalid_number(rest) {
            return (self.number(), start);
        }
        for (word, token) in [
            (&b"true"[..], Token::Boolean(true)),
            (b"false", Token::Boolean(false)),
            (b"null", Token::Null),
        ] {
            if rest.starts_with(word) {
                self.at += word.len();
                return (token, start);
            }
        }
        (Token::Error("invalid token", start), start)
    }

    /// Numbers JSON does not allow but `strtod` reads: `+1`, hex, `inf`,
    /// `nan` (read when `decode_invalid_numbers` is on, the default).
    fn invalid_number(&self, rest: &[u8]) -> bool {
        let unsigned = rest.strip_prefix(b"-").unwrap_or(rest);
        let lower: Vec<u8> = unsigned
            .iter()
            .take(3)
            .map(u8::to_ascii_lowercase)
            .collect();
        rest.first() == Some(&b'+')
            || lower.starts_with(b"0x")
            || lower.starts_with(b"inf")
            || lower.starts_with(b"nan")
    }

    fn number(&mut self) -> Token {
        let start = self.at;
        let end = self.text[start..]
            .iter()
            .position(|&b| b == 0)
            .map_or(self.text.len(), |i| start + i);
        let mut digits = self.text[start..end].to_vec();
        digits.push(0);
        let mut stop: *mut libc::c_char = std::ptr::null_mut();
        // SAFETY: `digits` is NUL-terminated; strtod reads within it and
        // sets `stop` inside it.
        let value = unsafe { libc::strtod(digits.as_ptr().cast(), &mut stop) };
        let used = (stop as usize).saturating_sub(digits.as_ptr() as usize);
        if used == 0 {
            return Token::Error("invalid number", start);
        }
        self.at = start + used;
        Token::Number(value)
    }

    fn string(&mut self) -> Token {
        let mut out = Vec::new();
        self.at += 1;
        loop {
            let ch = self.byte(self.at);
            match ch {
                b'"' => {
                    self.at += 1;
                    return Token::Str(out);
                }
                0 => return Token::Error("unexpected end of string", self.at),
                b'\\' => {
                    let escaped = self.byte(self.at + 1);
                    let simple = match escaped {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(0x08),
                        b'f' => Some(0x0c),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        _ => None,
                    };
                    if let Some(b) = simple {
                        out.push(b);
                        self.at += 2;
                    } else if escaped == b'u' {
                        match self.unicode_escape() {
                            Some((c, used)) => {
                                let mut buf = [0u8; 4];
                                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                                self.at += used;
                            }
                            None => return Token::Error("invalid unicode escape code", self.at),
                        }
                    } else {
                        return Token::Error("invalid escape code", self.at);
                    }
                }
                _ => {
                    out.push(ch);
                    self.at += 1;
                }
            }
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.text.get(at..at + 4)?;
        u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    }

    /// `\uXXXX`, or a surrogate pair `\uD8xx\uDCxx`: the character and
    /// the bytes it took.
    fn unicode_escape(&self) -> Option<(char, usize)> {
        let first = self.hex4(self.at + 2)?;
        if (0xDC00..0xE000).contains(&first) {
            return None;
        }
        if (0xD800..0xDC00).contains(&first) {
            if self.text.get(self.at + 6..self.at + 8) != Some(b"\\u") {
                return None;
            }
            let second = self.hex4(self.at + 8)?;
            if !(0xDC00..0xE000).contains(&second) {
                return None;
            }
            let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
            return char::from_u32(code).map(|c| (c, 12));
        }
        char::from_u32(first).map(|c| (c, 6))
    }

    fn error(&self, expected: &str, token: &Token, at: usize) -> String {
        let at = match token {
            Token::Error(_, at) => *at,
            _ => at,
        };
        format!(
            "Expected {expected} but found {} at character {}",
            token.name(),
            at + 1
        )
    }

    fn document(&mut self) -> Result<Value, String> {
        let (token, at) = self.next();
        let value = self.value(token, at)?;
        let (token, at) = self.next();
        if !matches!(token, Token::End) {
            return Err(self.error("the end", &token, at));
        }
        Ok(value)
    }

    fn descend(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth as i64 > self.config.decode_max_depth {
            return Err(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.at
            ));
        }
        Ok(())
    }

    fn value(&mut self, token: Token, at: usize) -> Result<Value, String> {
        let lua_error = |e: mlua::Error| e.to_string();
        match token {
            Token::Str(s) => Ok(Value::String(
                self.lua.create_string(&s).map_err(lua_error)?,
            )),
            Token::Number(n) => Ok(Value::Number(n)),
            Token::Boolean(b) => Ok(Value::Boolean(b)),
            Token::Null => Ok(null()),
            Token::ObjBegin => self.object(),
            Token::ArrBegin => self.array(),
            other => Err(self.error("value", &other, at)),
        }
    }

    fn object(&mut self) -> Result<Value, String> {
        self.descend()?;
        let table = self.lua.create_table().map_err(|e| e.to_string())?;
        let (mut token, mut at) = self.next();
        if matches!(token, Token::ObjEnd) {
            self.depth -= 1;
            return Ok(Value::Table(table));
        }
        loop {
            let Token::Str(key) = token else {
                return Err(self.error("object key string", &token, at));
            };
            let (colon, colon_at) = self.next();
            if !matches!(colon, Token::Colon) {
                return Err(self.error("colon", &colon, colon_at));
            }
            let (next, next_at) = self.next();
            let value = self.value(next, next_at)?;
            let key = self.lua.create_string(&key).map_err(|e| e.to_string())?;
            table.raw_set(key, value).map_err(|e| e.to_string())?;
            let (after, after_at) = self.next();
            match after {
                Token::ObjEnd => {
                    self.depth -= 1;
                    return Ok(Value::Table(table));
                }
                Token::Comma => (token, at) = self.next(),
                other => return Err(self.error("comma or object end", &other, after_at)),
            }
        }
    }

    fn array(&mut self) -> Result<Value, String> {
        self.descend()?;
        let table = self.lua.create_table().map_err(|e| e.to_string())?;
        let (mut token, mut at) = self.next();
        if matches!(token, Token::ArrEnd) {
            self.depth -= 1;
            return Ok(Value::Table(table));
        }
        for i in 1.. {
            let value = self.value(token, at)?;
            table.raw_set(i, value).map_err(|e| e.to_string())?;
            let (after, after_at) = self.next();
            match after {
                Token::ArrEnd => break,
                Token::Comma => (token, at) = self.next(),
                other => return Err(self.error("comma or array end", &other, after_at)),
            }
        }
        self.depth -= 1;
        Ok(Value::Table(table))
    }
}
