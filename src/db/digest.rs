//! `DEBUG DIGEST` and `DEBUG DIGEST-VALUE`: Redis's SHA1-based digest of a
//! dataset (`computeDatasetDigest` in `debug.c`), so one command compares
//! a whole keyspace across rudis and redis-server. Unordered collections
//! are combined with XOR, ordered ones (lists) by chaining, so the digest
//! does not depend on the order a hash table happens to iterate in.

use super::{Db, Value};
use sha1_smol::Sha1;

pub type Digest = [u8; 20];

fn sha1(bytes: &[u8]) -> Digest {
    Sha1::from(bytes).digest().bytes()
}

/// XORs the SHA1 of `bytes` into `digest` (`xorDigest`).
fn xor_in(digest: &mut Digest, bytes: &[u8]) {
    for (d, h) in digest.iter_mut().zip(sha1(bytes)) {
        *d ^= h;
    }
}

/// XORs `bytes` in, then replaces the digest with its own SHA1
/// (`mixDigest`): order matters.
fn mix_in(digest: &mut Digest, bytes: &[u8]) {
    xor_in(digest, bytes);
    *digest = sha1(digest);
}

/// Redis's object type numbers (`OBJ_STRING` ...).
fn type_number(value: &Value) -> u32 {
    match value {
        Value::Str(_) | Value::RawStr(_) | Value::PlainStr(_) | Value::OwnInt(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    }
}

/// Folds one value and its expiry into `digest` (`xorObjectDigest`):
/// a key's digest for DEBUG DIGEST, zeros for DEBUG DIGEST-VALUE.
pub fn fold_value(digest: &mut Digest, value: &Value, has_expire: bool) {
    mix_in(digest, &type_number(value).to_be_bytes());
    match value {
        Value::Str(_) | Value::RawStr(_) | Value::PlainStr(_) | Value::OwnInt(_) => {
            if let Ok(s) = value.as_str() {
                mix_in(digest, s);
            }
        }
        Value::List(list) => {
            for element in list.iter() {
                mix_in(digest, element);
            }
        }
        Value::Set(set) => {
            for member in set.members() {
                xor_in(digest, &member);
            }
        }
        Value::ZSet(zset) => {
            for i in 0..zset.len() {
                if let Some((member, score)) = zset.at(i) {
                    let mut element = [0u8; 20];
                    mix_in(&mut element, member);
                    mix_in(&mut element, crate::float::format_double(score).as_bytes());
                    xor_in(digest, &element);
                }
            }
        }
        Value::Stream(stream) => {
            for entry in stream.range(
                crate::db::stream::StreamId::MIN,
                crate::db::stream::StreamId::MAX,
                0,
                false,
            ) {
                mix_in(
                    digest,
                    format!("{}.{}", entry.id.ms, entry.id.seq).as_bytes(),
                );
                for part in entry.fields {
                    mix_in(digest, part);
                }
            }
        }
        Value::Hash(hash) => {
            for (field, v) in hash.iter() {
                let mut element = [0u8; 20];
                mix_in(&mut element, field);
                mix_in(&mut element, v);
                xor_in(digest, &element);
            }
        }
    }
    if has_expire {
        xor_in(digest, b"!!expire!!");
    }
}

/// The digest of every key of every database; all zeros when empty.
pub fn dataset_digest(dbs: &[Db]) -> Digest {
    let mut total = [0u8; 20];
    for (index, db) in dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        mix_in(&mut total, &(index as u32).to_be_bytes());
        for (key, value) in db.iter() {
            let mut digest = [0u8; 20];
            mix_in(&mut digest, key);
            fold_value(&mut digest, value, db.expire_of(key).is_some());
            xor_in(&mut total, &digest);
        }
    }
    total
}

pub fn hex(digest: &Digest) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
