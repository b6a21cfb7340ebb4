//! The values a key can hold. Every type check goes through here, so the
//! canonical `WRONGTYPE` error comes from one place.

use super::bytes::CompactBytes;

pub enum Value {
    Str(CompactBytes),
}

/// The key holds another type than the command works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

impl Value {
    pub fn string(bytes: &[u8]) -> Value {
        Value::Str(CompactBytes::new(bytes))
    }

    /// An independent copy (COPY).
    pub fn deep_copy(&self) -> Value {
        match self {
            Value::Str(s) => Value::Str(s.clone()),
        }
    }

    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }

    pub fn as_str(&self) -> Result<&CompactBytes, WrongType> {
        match self {
            Value::Str(s) => Ok(s),
        }
    }

    /// `OBJECT ENCODING`, derived from the contents as Redis would have
    /// encoded them on write: `int` for integers that fit in 20 chars,
    /// `embstr` up to 44 bytes, `raw` beyond.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => {
                if s.len() <= 20 && crate::protocol::parse_i64(s).is_some() {
                    "int"
                } else if s.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
        }
    }

    /// Approximate bytes held (`MEMORY USAGE`): the entry plus heap data.
    pub fn memory_usage(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
        }
    }
}
