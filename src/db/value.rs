//! The values a key can hold. Every type check goes through here, so the
//! canonical `WRONGTYPE` error comes from one place.

use super::bytes::CompactBytes;
use super::hash::HashValue;
use super::set::SetValue;
use super::zset::ZSetValue;
/// A list: elements packed in chunks (`db::list`), O(1) at both ends.
pub type ListValue = super::list::PackedList;

pub enum Value {
    Str(CompactBytes),
    /// A string edited in place (APPEND to an existing key, SETRANGE,
    /// SETBIT), which Redis keeps in its `raw` encoding whatever it holds:
    /// only OBJECT ENCODING and OBJECT REFCOUNT tell it from `Str`. It
    /// keeps spare room to grow, as an sds does, so repeated appends are
    /// amortized O(1). Boxed, which keeps `Value` at three words.
    RawStr(Box<Vec<u8>>),
    /// A string Redis creates without trying the `int` encoding (the result
    /// of INCRBYFLOAT): `embstr` up to 44 bytes, `raw` beyond, whatever it
    /// holds.
    PlainStr(Box<[u8]>),
    /// A small integer (0..9999) in an object of its own instead of Redis's
    /// shared one: what COPY makes of a shared integer (`dupStringObject`).
    /// Only OBJECT REFCOUNT (1, not INT_MAX) tells it from `Str`. Boxed,
    /// like the other rare strings, to keep `Value` at three words.
    OwnInt(Box<[u8]>),
    List(Box<ListValue>),
    Hash(Box<HashValue>),
    Set(Box<SetValue>),
    ZSet(Box<ZSetValue>),
    Stream(Box<super::stream::Stream>),
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
            Value::Str(s) if is_shared_integer(s) => Value::OwnInt(Box::from(&s[..])),
            Value::OwnInt(s) => Value::OwnInt(s.clone()),
            Value::Str(s) => Value::Str(s.clone()),
            Value::RawStr(s) => Value::RawStr(s.clone()),
            Value::PlainStr(s) => Value::PlainStr(s.clone()),
            Value::List(list) => Value::List(list.clone()),
            Value::Stream(stream) => Value::Stream(stream.clone()),
            Value::Hash(hash) => {
                let mut copy = HashValue::default();
                let limits = super::hash::HashLimits {
                    max_entries: usize::MAX,
                    max_value: usize::MAX,
                };
                for (f, v) in hash.iter() {
                    copy.set(f, v, limits);
                }
                if let (HashValue::Big(_), HashValue::Small(pairs)) = (&**hash, &copy) {
                    let mut dict = super::dict::Dict::new();
                    for (f, v) in pairs {
                        dict.insert(f, v.clone());
                    }
                    copy = HashValue::Big(dict);
                }
                Value::Hash(Box::new(copy))
            }
            Value::Set(set) => {
                let mut copy = match &**set {
                    SetValue::Ints(ints) => SetValue::Ints(ints.clone()),
                    SetValue::Big(_) => SetValue::Big(super::dict::Dict::new()),
                };
                if let SetValue::Big(dict) = &mut copy {
                    for member in set.members() {
                        dict.insert(&member, ());
                    }
                }
                Value::Set(Box::new(copy))
            }
            Value::ZSet(zset) => {
                let big = matches!(&**zset, ZSetValue::Big(_));
                let limits = super::zset::ZSetLimits {
                    max_entries: if big { 0 } else { usize::MAX },
                    max_value: usize::MAX,
                };
                let mut copy = ZSetValue::default();
                for i in 0..zset.len() {
                    if let Some((member, score)) = zset.at(i) {
                        copy.insert(member, score, limits);
                    }
                }
                Value::ZSet(Box::new(copy))
            }
        }
    }

    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) | Value::OwnInt(_) | Value::RawStr(_) | Value::PlainStr(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    pub fn as_str(&self) -> Result<&[u8], WrongType> {
        match self {
            Value::Str(s) => Ok(s),
            Value::RawStr(s) => Ok(s),
            Value::PlainStr(s) | Value::OwnInt(s) => Ok(s),
            _ => Err(WrongType),
        }
    }

    /// A string for editing in place, turned into its raw form first if
    /// it is not (Redis's `dbUnshareStringValue`).
    pub fn as_raw_mut(&mut self) -> Result<&mut Vec<u8>, WrongType> {
        if !matches!(self, Value::RawStr(_)) {
            let bytes = self.as_str()?.to_vec();
            *self = Value::RawStr(Box::new(bytes));
        }
        match self {
            Value::RawStr(s) => Ok(s),
            _ => Err(WrongType),
        }
    }

    pub fn as_list_mut(&mut self) -> Result<&mut ListValue, WrongType> {
        match self {
            Value::List(l) => Ok(l),
            _ => Err(WrongType),
        }
    }

    pub fn as_list(&self) -> Result<&ListValue, WrongType> {
        match self {
            Value::List(l) => Ok(l),
            _ => Err(WrongType),
        }
    }

    pub fn as_hash(&self) -> Result<&HashValue, WrongType> {
        match self {
            Value::Hash(h) => Ok(h),
            _ => Err(WrongType),
        }
    }

    pub fn as_hash_mut(&mut self) -> Result<&mut HashValue, WrongType> {
        match self {
            Value::Hash(h) => Ok(h),
            _ => Err(WrongType),
        }
    }

    pub fn as_set(&self) -> Result<&SetValue, WrongType> {
        match self {
            Value::Set(s) => Ok(s),
            _ => Err(WrongType),
        }
    }

    pub fn as_set_mut(&mut self) -> Result<&mut SetValue, WrongType> {
        match self {
            Value::Set(s) => Ok(s),
            _ => Err(WrongType),
        }
    }

    pub fn as_zset(&self) -> Result<&ZSetValue, WrongType> {
        match self {
            Value::ZSet(z) => Ok(z),
            _ => Err(WrongType),
        }
    }

    pub fn as_stream(&self) -> Result<&super::stream::Stream, WrongType> {
        match self {
            Value::Stream(s) => Ok(s),
            _ => Err(WrongType),
        }
    }

    pub fn as_stream_mut(&mut self) -> Result<&mut super::stream::Stream, WrongType> {
        match self {
            Value::Stream(s) => Ok(s),
            _ => Err(WrongType),
        }
    }

    pub fn as_zset_mut(&mut self) -> Result<&mut ZSetValue, WrongType> {
        match self {
            Value::ZSet(z) => Ok(z),
            _ => Err(WrongType),
        }
    }

    /// Number of elements of a collection (1 for a string).
    pub fn len(&self) -> usize {
        match self {
            Value::Str(_) | Value::OwnInt(_) | Value::RawStr(_) | Value::PlainStr(_) => 1,
            Value::List(l) => l.len(),
            Value::Hash(h) => h.len(),
            Value::Set(s) => s.len(),
            Value::ZSet(z) => z.len(),
            Value::Stream(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// DEBUG HTSTATS-KEY: the stats of the value's hash table, if it has
    /// one (a set or hash in its hashtable form, a sorted set's member
    /// table).
    pub fn table_stats(&self) -> Option<String> {
        match self {
            Value::Set(s) => s.table_stats(),
            Value::Hash(h) => h.table_stats(),
            Value::ZSet(z) => z.table_stats(),
            _ => None,
        }
    }

    /// `OBJECT ENCODING`. Strings are classified from their contents as
    /// Redis would have encoded them on write: `int` for integers that fit
    /// in 20 chars, `embstr` up to 44 bytes, `raw` beyond.
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
            Value::OwnInt(_) => "int",
            Value::RawStr(_) => "raw",
            Value::PlainStr(s) if s.len() <= 44 => "embstr",
            Value::PlainStr(_) => "raw",
            Value::List(_) => "quicklist",
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    /// Approximate bytes held beyond the entry itself (`MEMORY USAGE`).
    pub fn memory_usage(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::RawStr(s) => s.capacity(),
            Value::PlainStr(s) | Value::OwnInt(s) => s.len(),
            Value::List(l) => l.memory_usage(),
            Value::Hash(h) => std::mem::size_of::<HashValue>() + h.memory_usage(),
            Value::Set(s) => std::mem::size_of::<SetValue>() + s.memory_usage(),
            Value::ZSet(z) => std::mem::size_of::<ZSetValue>() + z.memory_usage(),
            Value::Stream(s) => s.memory_usage(),
        }
    }
}

/// Redis shares the objects of the integers 0..9999 (`OBJ_SHARED_INTEGERS`)
/// and reports INT_MAX references for them.
pub fn is_shared_integer(s: &[u8]) -> bool {
    crate::protocol::parse_i64(s).is_some_and(|n| (0..10000).contains(&n))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_value_is_three_words() {
        assert_eq!(std::mem::size_of::<super::Value>(), 24);
    }
}
