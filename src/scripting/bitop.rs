//! The `bit` library scripts use (the Lua BitOp API Redis ships): 32-bit
//! operations on Lua numbers, results as signed 32-bit numbers.
//!
//! A number becomes 32 bits the way BitOp does it: adding 2^52 + 2^51
//! rounds it to an integer in the low word of the double (so 2.5 is 2,
//! 3.5 is 4, and large values wrap). A function given something that is
//! not a number returns the error text as a second value; the sandbox
//! raises it, so the message is Lua's `bad argument` one.

use mlua::{Lua, MultiValue, Table, Value};

fn to_bits(lua: &Lua, value: &Value) -> Option<u32> {
    let n = match value {
        Value::Integer(n) => *n as f64,
        Value::Number(n) => *n,
        Value::String(_) => lua.coerce_number(value.clone()).ok().flatten()?,
        _ => return None,
    };
    Some((n + 6_755_399_441_055_744.0).to_bits() as u32)
}

fn type_name(value: Option<&Value>) -> &'static str {
    match value {
        None => "no value",
        Some(v) => v.type_name(),
    }
}

/// The 32-bit words of the arguments, or the error for the first bad one
/// (by position).
fn words(lua: &Lua, name: &str, args: &MultiValue, wanted: usize) -> Result<Vec<u32>, String> {
    let values: Vec<&Value> = args.iter().collect();
    let count = wanted.max(values.len());
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let value = values.get(i).copied();
        match value.and_then(|v| to_bits(lua, v)) {
            Some(bits) => out.push(bits),
            None => {
                return Err(format!(
                    "bad argument #{} to '{name}' (number expected, got {})",
                    i + 1,
                    type_name(value)
                ))
            }
        }
    }
    Ok(out)
}

type Op = fn(&[u32]) -> u32;

fn register(
    lua: &Lua,
    table: &Table,
    name: &'static str,
    arity: usize,
    op: Op,
) -> mlua::Result<()> {
    let f = lua.create_function(move |lua, args: MultiValue| {
        Ok(match words(lua, name, &args, arity) {
            Ok(w) => (Value::Number(f64::from(op(&w) as i32)), None),
            Err(e) => (Value::Nil, Some(e)),
        })
    })?;
    table.set(name, f)
}

/// The native side of `bit`: each function returns its result, or nil
/// and an error text.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    register(lua, &t, "tobit", 1, |w| w[0])?;
    register(lua, &t, "bnot", 1, |w| !w[0])?;
    register(lua, &t, "band", 1, |w| {
        w.iter().fold(u32::MAX, |a, b| a & b)
    })?;
    register(lua, &t, "bor", 1, |w| w.iter().fold(0, |a, b| a | b))?;
    register(lua, &t, "bxor", 1, |w| w.iter().fold(0, |a, b| a ^ b))?;
    register(lua, &t, "lshift", 2, |w| w[0] << (w[1] & 31))?;
    register(lua, &t, "rshift", 2, |w| w[0] >> (w[1] & 31))?;
    register(lua, &t, "arshift", 2, |w| {
        ((w[0] as i32) >> (w[1] & 31)) as u32
    })?;
    register(lua, &t, "rol", 2, |w| w[0].rotate_left(w[1] & 31))?;
    register(lua, &t, "ror", 2, |w| w[0].rotate_right(w[1] & 31))?;
    register(lua, &t, "bswap", 1, |w| w[0].swap_bytes())?;
    let tohex = lua.create_function(|lua, args: MultiValue| {
        let given = args.len().max(1);
        let w = match words(lua, "tohex", &args, given) {
            Ok(w) => w,
            Err(e) => return Ok((Value::Nil, Some(e))),
        };
        let mut n = w.get(1).map_or(8, |&n| n as i32);
        let digits: &[u8] = if n < 0 {
            n = n.saturating_neg();
            b"0123456789ABCDEF"
        } else {
            b"0123456789abcdef"
        };
        let n = n.min(8) as usize;
        let mut bits = w[0];
        let mut text = vec![b'0'; n];
        for slot in text.iter_mut().rev() {
            *slot = digits[(bits & 15) as usize];
            bits >>= 4;
        }
        Ok((Value::String(lua.create_string(&text)?), None))
    })?;
    t.set("tohex", tohex)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(lua: &Lua, name: &str, args: &str) -> String {
        let lib = library(lua).unwrap();
        lua.globals().set("bitlib", lib).unwrap();
        let code =
            format!("local r, e = bitlib.{name}({args}) return tostring(r) .. '|' .. tostring(e)");
        lua.load(&code).eval::<String>().unwrap()
    }

    #[test]
    fn operations_follow_bitop() {
        let lua = Lua::new();
        assert_eq!(call(&lua, "tobit", "0xffffffff"), "-1|nil");
        assert_eq!(call(&lua, "tobit", "2^32 + 5"), "5|nil");
        assert_eq!(call(&lua, "tobit", "2.5"), "2|nil");
        assert_eq!(call(&lua, "tobit", "3.5"), "4|nil");
        assert_eq!(call(&lua, "band", "0xff, 0x0f, 0x3"), "3|nil");
        assert_eq!(call(&lua, "bor", "1, 2, 4"), "7|nil");
        assert_eq!(call(&lua, "bnot", "0"), "-1|nil");
        assert_eq!(call(&lua, "lshift", "1, 31"), "-2147483648|nil");
        assert_eq!(call(&lua, "rshift", "-1, 28"), "15|nil");
        assert_eq!(call(&lua, "arshift", "-256, 4"), "-16|nil");
        assert_eq!(call(&lua, "rol", "0x12345678, 12"), "1164411171|nil");
        assert_eq!(call(&lua, "bswap", "0x12345678"), "2018915346|nil");
        assert_eq!(call(&lua, "tohex", "255"), "000000ff|nil");
        assert_eq!(call(&lua, "tohex", "255, -4"), "00FF|nil");
        assert_eq!(call(&lua, "tohex", "-1, 2"), "ff|nil");
    }

    #[test]
    fn non_numbers_are_refused_by_position() {
        let lua = Lua::new();
        assert_eq!(
            call(&lua, "band", "1, {}"),
            "nil|bad argument #2 to 'band' (number expected, got table)"
        );
        assert_eq!(
            call(&lua, "lshift", "1"),
            "nil|bad argument #2 to 'lshift' (number expected, got no value)"
        );
        assert_eq!(call(&lua, "tobit", "'12'"), "12|nil");
    }
}
