//! PFADD, PFCOUNT, PFMERGE, PFDEBUG and PFSELFTEST: HyperLogLogs kept as
//! strings in Redis's own format (`crate::db::hll`).

use super::{Ctx, Keys};
use crate::db::hll::{self, CORRUPT, NOT_HLL, REGISTERS};
use crate::db::{Changes, Value};
use crate::errors;
use crate::notify::STRING;
use crate::protocol::request::Args;

/// The HyperLogLog at `key` for editing (created empty when `create`),
/// checked as Redis's `isHLLObjectOrReply`: `Err` is the error to reply.
fn hll_for_write<'a>(
    keys: &'a mut Keys,
    key: &[u8],
    create: bool,
) -> Result<Option<&'a mut Vec<u8>>, &'static str> {
    if keys.write(key).is_none() {
        if !create {
            return Ok(None);
        }
        keys.db
            .set(key, Value::RawStr(Box::new(hll::new_sparse())), false);
    }
    let Some(value) = keys.db.get_mut(key) else {
        return Ok(None);
    };
    check(value)?;
    value.as_raw_mut().map(Some).map_err(|_| errors::WRONGTYPE)
}

/// Redis's `isHLLObjectOrReply`: a string, not integer-encoded, with a
/// HyperLogLog's header.
fn check(value: &Value) -> Result<(), &'static str> {
    let Ok(bytes) = value.as_str() else {
        return Err(errors::WRONGTYPE);
    };
    let integer = matches!(value, Value::Str(_) | Value::OwnInt(_)) && value.encoding() == "int";
    if integer || !hll::is_valid(bytes) {
        return Err(NOT_HLL);
    }
    Ok(())
}

/// `PFADD key [element ...]`: 1 if a register changed (or the key was
/// made), else 0. Redis counts a change for the key made and one per
/// element that changed a register.
pub(super) fn pfadd(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let max_bytes = ctx.state.config.hll_sparse_max_bytes;
    let changes = Changes::begin();
    let (mut keys, reply) = ctx.keys();
    let created = !keys.exists(key);
    let bytes = match hll_for_write(&mut keys, key, true) {
        Err(e) => return reply.error(e),
        Ok(None) => return reply.int(0),
        Ok(Some(bytes)) => bytes,
    };
    let mut updated = u64::from(created);
    for element in args.from(2) {
        match hll::add(bytes, element, max_bytes) {
            Ok(changed) => updated += u64::from(changed),
            Err(_) => return reply.error(CORRUPT),
        }
    }
    changes.made(updated);
    if updated > 0 {
        hll::invalidate_cache(bytes);
        ctx.notify(STRING, "pfadd", key);
    }
    ctx.reply.int(i64::from(updated > 0));
}

/// Every register of the keys given, each the highest among them; `None`
/// after replying an error.
fn merged(keys: &mut Keys, names: &[&[u8]]) -> Result<(Box<[u8; REGISTERS]>, bool), &'static str> {
    let mut max = Box::new([0u8; REGISTERS]);
    let mut any_dense = false;
    for name in names {
        let Some(value) = keys.read(name) else {
            continue;
        };
        check(value)?;
        let bytes = value.as_str().map_err(|_| errors::WRONGTYPE)?;
        any_dense |= !hll::is_sparse(bytes);
        hll::merge_into(&mut max, bytes).map_err(|_| CORRUPT)?;
    }
    Ok((max, any_dense))
}

/// `PFCOUNT key [key ...]`: one key's (cached) cardinality, or that of
/// the union of several.
pub(super) fn pfcount(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    if args.len() > 2 {
        let names: Vec<&[u8]> = args.from(1).collect();
        return match merged(&mut keys, &names) {
            Ok((max, _)) => reply.int(hll::count_registers(&max) as i64),
            Err(e) => reply.error(e),
        };
    }
    let key = args.get(1);
    match keys.read(key) {
        None => return reply.int(0),
        Some(value) => {
            if let Err(e) = check(value) {
                return reply.error(e);
            }
        }
    }
    let bytes = match hll_for_write(&mut keys, key, false) {
        Err(e) => return reply.error(e),
        Ok(None) => return reply.int(0),
        Ok(Some(bytes)) => bytes,
    };
    if let Some(card) = hll::cached(bytes) {
        return reply.int(card as i64);
    }
    // A fresh count is cached in the value: a change, to be logged.
    let Ok(card) = hll::count(bytes) else {
        return reply.error(CORRUPT);
    };
    hll::set_cache(bytes, card);
    crate::db::add_dirty(1);
    reply.int(card as i64);
}

/// `PFMERGE destkey [sourcekey ...]`: the union into the destination
/// (itself included), dense if any input was.
pub(super) fn pfmerge(ctx: &mut Ctx, args: Args) {
    let target = args.get(1);
    let max_bytes = ctx.state.config.hll_sparse_max_bytes;
    let changes = Changes::begin();
    let (mut keys, reply) = ctx.keys();
    let names: Vec<&[u8]> = args.from(1).collect();
    let (max, any_dense) = match merged(&mut keys, &names) {
        Ok(found) => found,
        Err(e) => return reply.error(e),
    };
    let bytes = match hll_for_write(&mut keys, target, true) {
        Err(e) => return reply.error(e),
        Ok(None) => return reply.error(CORRUPT),
        Ok(Some(bytes)) => bytes,
    };
    if any_dense && hll::to_dense(bytes).is_err() {
        return reply.error(CORRUPT);
    }
    for (index, &count) in max.iter().enumerate() {
        if count > 0 && hll::set_register(bytes, index, count, max_bytes).is_err() {
            return reply.error(CORRUPT);
        }
    }
    hll::invalidate_cache(bytes);
    changes.made(1);
    ctx.notify(STRING, "pfadd", target);
    ctx.reply.ok();
}

/// `PFDEBUG GETREG|DECODE|ENCODING|TODENSE key`.
pub(super) fn pfdebug(ctx: &mut Ctx, args: Args) {
    let sub = args.get(1);
    let key = args.get(2);
    let (mut keys, reply) = ctx.keys();
    let bytes = match hll_for_write(&mut keys, key, false) {
        Err(e) => return reply.error(e),
        Ok(None) => return reply.error("ERR The specified key does not exist"),
        Ok(Some(bytes)) => bytes,
    };
    let mut changed = false;
    let name = String::from_utf8_lossy(sub);
    if args.len() != 3
        && ["getreg", "decode", "encoding", "todense"]
            .iter()
            .any(|s| sub.eq_ignore_ascii_case(s.as_bytes()))
    {
        return reply.error(&format!(
            "ERR Wrong number of arguments for the '{name}' subcommand"
        ));
    }
    if sub.eq_ignore_ascii_case(b"getreg") {
        if hll::is_sparse(bytes) {
            if hll::to_dense(bytes).is_err() {
                return reply.error(CORRUPT);
            }
            changed = true;
        }
        let registers = hll::registers(bytes);
        reply.array(registers.len());
        for r in registers {
            reply.int(i64::from(r));
        }
    } else if sub.eq_ignore_ascii_case(b"decode") {
        if !hll::is_sparse(bytes) {
            return reply.error("ERR HLL encoding is not sparse");
        }
        reply.bulk(hll::decode(bytes).as_bytes());
    } else if sub.eq_ignore_ascii_case(b"encoding") {
        reply.simple(if hll::is_sparse(bytes) {
            "sparse"
        } else {
            "dense"
        });
    } else if sub.eq_ignore_ascii_case(b"todense") {
        if hll::is_sparse(bytes) {
            if hll::to_dense(bytes).is_err() {
                return reply.error(CORRUPT);
            }
            changed = true;
        }
        reply.int(i64::from(changed));
    } else {
        return reply.error(&format!("ERR Unknown PFDEBUG subcommand '{name}'"));
    }
    // Made dense: a change, as Redis counts it.
    crate::db::add_dirty(u64::from(changed));
}

/// `PFSELFTEST`: checks this implementation's registers and estimates,
/// as Redis's own self test does.
pub(super) fn pfselftest(ctx: &mut Ctx, _args: Args) {
    let mut sparse = hll::new_sparse();
    let mut dense = hll::new_sparse();
    if hll::to_dense(&mut dense).is_err() {
        return ctx.reply.error("ERR TESTFAILED Can't convert to dense");
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut checkpoint = 1u64;
    for added in 1..=100_000u64 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let element = seed.to_le_bytes();
        let _ = hll::add(&mut sparse, &element, 3000);
        let _ = hll::add(&mut dense, &element, 3000);
        if added == checkpoint {
            let (Ok(a), Ok(b)) = (hll::count(&sparse), hll::count(&dense)) else {
                return ctx.reply.error("ERR TESTFAILED corrupt registers");
            };
            if a != b {
                return ctx.reply.error(&format!(
                    "ERR TESTFAILED sparse and dense disagree: {a} vs {b}"
                ));
            }
            // Redis's bound: 5 standard errors of 1.04/sqrt(m).
            let relative = (a as f64 - added as f64).abs() / added as f64;
            if added > 100 && relative > 5.0 * 1.04 / (REGISTERS as f64).sqrt() {
                return ctx.reply.error(&format!(
                    "ERR TESTFAILED too big error. card:{added} abserr:{}",
                    (a as f64 - added as f64).abs()
                ));
            }
            checkpoint *= 10;
        }
    }
    ctx.reply.ok();
}
