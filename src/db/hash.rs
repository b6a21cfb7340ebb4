//! Hash values: a small vector of field/value pairs in insertion order
//! (Redis's listpack, which keeps that order) until it passes
//! `hash-max-listpack-entries` or a field or value passes
//! `hash-max-listpack-value`, then a `Dict` (Redis's hashtable). Like
//! Redis, a hash never converts back.

use super::bytes::CompactBytes;
use super::dict::Dict;

pub enum HashValue {
    Small(Vec<(CompactBytes, CompactBytes)>),
    Big(Dict<CompactBytes>),
}

/// The conversion thresholds, from the config.
#[derive(Clone, Copy)]
pub struct HashLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::Small(Vec::new())
    }
}

impl HashValue {
    pub fn table_stats(&self) -> Option<String> {
        match self {
            HashValue::Big(dict) => Some(dict.stats()),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            HashValue::Small(pairs) => pairs.len(),
            HashValue::Big(dict) => dict.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            HashValue::Small(_) => "listpack",
            HashValue::Big(_) => "hashtable",
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            HashValue::Small(pairs) => pairs
                .iter()
                .find(|(f, _)| &**f == field)
                .map(|(_, v)| &v[..]),
            HashValue::Big(dict) => dict.get(field).map(|v| &v[..]),
        }
    }

    /// Sets a field; true if it is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        if let HashValue::Small(pairs) = self {
            if field.len() > limits.max_value || value.len() > limits.max_value {
                self.convert();
            } else if let Some(slot) = pairs.iter_mut().find(|(f, _)| &**f == field) {
                slot.1 = CompactBytes::new(value);
                return false;
            } else if pairs.len() < limits.max_entries {
                pairs.push((CompactBytes::new(field), CompactBytes::new(value)));
                return true;
            } else {
                self.convert();
            }
        }
        match self {
            HashValue::Big(dict) => dict.insert(field, CompactBytes::new(value)).is_none(),
            HashValue::Small(_) => unreachable!("converted above"),
        }
    }

    fn convert(&mut self) {
        if let HashValue::Small(pairs) = self {
            let mut dict = Dict::new();
            for (field, value) in pairs.drain(..) {
                dict.insert_new(field, value);
            }
            *self = HashValue::Big(dict);
        }
    }

    /// Removes a field; true if it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            HashValue::Small(pairs) => match pairs.iter().position(|(f, _)| &**f == field) {
                Some(i) => {
                    pairs.remove(i);
                    true
                }
                None => false,
            },
            HashValue::Big(dict) => dict.remove(field).is_some(),
        }
    }

    /// Field/value pairs in the encoding's order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match self {
            HashValue::Small(pairs) => Box::new(pairs.iter().map(|(f, v)| (&f[..], &v[..]))),
            HashValue::Big(dict) => Box::new(dict.iter().map(|(f, v)| (&f[..], &v[..]))),
        }
    }

    /// The pair at a position of the encoding's order (random picks, HSCAN).
    pub fn at(&self, i: usize) -> Option<(&[u8], &[u8])> {
        match self {
            HashValue::Small(pairs) => pairs.get(i).map(|(f, v)| (&f[..], &v[..])),
            HashValue::Big(dict) => dict.entry_at(i).map(|(f, v)| (&f[..], &v[..])),
        }
    }

    pub fn memory_usage(&self) -> usize {
        let pair = 2 * std::mem::size_of::<CompactBytes>();
        let heap: usize = self.iter().map(|(f, v)| spill(f) + spill(v)).sum();
        match self {
            HashValue::Small(pairs) => pairs.capacity() * pair + heap,
            HashValue::Big(dict) => dict.table_bytes() + heap,
        }
    }
}

/// Heap bytes of a `CompactBytes` holding `bytes`.
pub fn spill(bytes: &[u8]) -> usize {
    if bytes.len() > 22 {
        bytes.len()
    } else {
        0
    }
}
