//! Set values: a sorted vector of integers while every member is an integer
//! and there are at most `set-max-intset-entries` (Redis's intset, whose
//! order SMEMBERS shows), otherwise a `Dict` with no values (hashtable).

use super::dict::Dict;
use crate::protocol::parse_i64;

pub enum SetValue {
    Ints(Vec<i64>),
    Big(Dict<()>),
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue::Ints(Vec::new())
    }
}

impl SetValue {
    pub fn table_stats(&self) -> Option<String> {
        match self {
            SetValue::Big(dict) => Some(dict.stats()),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            SetValue::Ints(ints) => ints.len(),
            SetValue::Big(dict) => dict.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            SetValue::Ints(_) => "intset",
            SetValue::Big(_) => "hashtable",
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            SetValue::Ints(ints) => {
                int_member(member).is_some_and(|n| ints.binary_search(&n).is_ok())
            }
            SetValue::Big(dict) => dict.contains_key(member),
        }
    }

    /// Adds a member; true if it is new.
    pub fn add(&mut self, member: &[u8], max_intset: usize) -> bool {
        if let SetValue::Ints(ints) = self {
            match int_member(member) {
                Some(n) => match ints.binary_search(&n) {
                    Ok(_) => return false,
                    Err(at) if ints.len() < max_intset => {
                        ints.insert(at, n);
                        return true;
                    }
                    Err(_) => self.convert(),
                },
                None => self.convert(),
            }
        }
        match self {
            SetValue::Big(dict) => dict.insert(member, ()).is_none(),
            SetValue::Ints(_) => unreachable!("converted above"),
        }
    }

    fn convert(&mut self) {
        if let SetValue::Ints(ints) = self {
            let mut dict = Dict::new();
            let mut digits = itoa::Buffer::new();
            for n in ints.iter() {
                dict.insert(digits.format(*n).as_bytes(), ());
            }
            *self = SetValue::Big(dict);
        }
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            SetValue::Ints(ints) => match int_member(member).map(|n| ints.binary_search(&n)) {
                Some(Ok(at)) => {
                    ints.remove(at);
                    true
                }
                _ => false,
            },
            SetValue::Big(dict) => dict.remove(member).is_some(),
        }
    }

    /// The member at a position of the encoding's order.
    pub fn at(&self, i: usize) -> Option<Vec<u8>> {
        match self {
            SetValue::Ints(ints) => ints
                .get(i)
                .map(|n| itoa::Buffer::new().format(*n).as_bytes().to_vec()),
            SetValue::Big(dict) => dict.entry_at(i).map(|(k, _)| k.to_vec()),
        }
    }

    /// Every member, in the encoding's order.
    pub fn members(&self) -> Vec<Vec<u8>> {
        (0..self.len()).filter_map(|i| self.at(i)).collect()
    }

    pub fn memory_usage(&self) -> usize {
        match self {
            SetValue::Ints(ints) => ints.capacity() * 8,
            SetValue::Big(dict) => {
                dict.table_bytes()
                    + dict
                        .iter()
                        .map(|(k, _)| super::hash::spill(k))
                        .sum::<usize>()
            }
        }
    }
}

/// A member as an intset stores it: the canonical decimal form of an i64.
fn int_member(member: &[u8]) -> Option<i64> {
    parse_i64(member)
}
