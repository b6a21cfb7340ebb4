//! SORT and SORT_RO (Redis's `sort.c`): the elements of a list, set or
//! sorted set, ordered by their own value or by keys a pattern names
//! (`BY weight_*`, `BY hash_*->field`), numerically or as strings, with
//! LIMIT, GET patterns and STORE.

use super::{Ctx, Keys};
use crate::db::value::ListValue;
use crate::db::Value;
use crate::errors;
use crate::notify::{GENERIC, LIST};
use crate::protocol::request::Args;
use std::cmp::Ordering;

pub(super) fn sort(ctx: &mut Ctx, args: Args) {
    sort_generic(ctx, args, false);
}

pub(super) fn sort_ro(ctx: &mut Ctx, args: Args) {
    sort_generic(ctx, args, true);
}

struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<&'a [u8]>,
    by: Option<&'a [u8]>,
    /// BY a pattern without `*`: nothing to sort by.
    dont_sort: bool,
    gets: Vec<&'a [u8]>,
}

/// The options, parsed as Redis does (SQL-like, any order, the last of
/// each winning); `None` once an error is replied.
fn parse_options<'a>(ctx: &mut Ctx, args: &Args<'a>, read_only: bool) -> Option<Options<'a>> {
    let mut options = Options {
        desc: false,
        alpha: false,
        limit: None,
        store: None,
        by: None,
        dont_sort: false,
        gets: Vec::new(),
    };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let word = args.get(j);
        if word.eq_ignore_ascii_case(b"asc") {
            options.desc = false;
        } else if word.eq_ignore_ascii_case(b"desc") {
            options.desc = true;
        } else if word.eq_ignore_ascii_case(b"alpha") {
            options.alpha = true;
        } else if word.eq_ignore_ascii_case(b"limit") && left >= 2 {
            let start = super::i64_arg(ctx.reply, args.get(j + 1))?;
            let count = super::i64_arg(ctx.reply, args.get(j + 2))?;
            options.limit = Some((start, count));
            j += 2;
        } else if !read_only && word.eq_ignore_ascii_case(b"store") && left >= 1 {
            options.store = Some(args.get(j + 1));
            j += 1;
        } else if word.eq_ignore_ascii_case(b"by") && left >= 1 {
            let pattern = args.get(j + 1);
            options.by = Some(pattern);
            options.dont_sort = !pattern.contains(&b'*');
            if !options.dont_sort && !reads_every_key(ctx, args) {
                ctx.reply
                    .error("ERR BY option of SORT denied due to insufficient ACL permissions.");
                return None;
            }
            j += 1;
        } else if word.eq_ignore_ascii_case(b"get") && left >= 1 {
            if !reads_every_key(ctx, args) {
                ctx.reply
                    .error("ERR GET option of SORT denied due to insufficient ACL permissions.");
                return None;
            }
            options.gets.push(args.get(j + 1));
            j += 1;
        } else {
            ctx.reply.error(errors::SYNTAX);
            return None;
        }
        j += 1;
    }
    Some(options)
}

/// BY and GET patterns read keys no ACL check saw, so they need a user
/// who may read every key.
fn reads_every_key(ctx: &Ctx, args: &Args) -> bool {
    let client = &ctx.clients[ctx.me];
    let user = match ctx.state.users.get(client.user) {
        Some(user) if !client.is_master => user,
        _ => return true,
    };
    if user.unrestricted {
        return true;
    }
    let line: Vec<&[u8]> = args.iter().collect();
    super::resolve_line(&line).is_some_and(|(command, id)| user.reads_every_key(command, id, &line))
}

/// The value a pattern names for one element (`lookupKeyByPattern`): `#`
/// is the element itself; the first `*` is replaced by it; `->field`
/// after the `*` reads a hash field. `None` when there is no such
/// string (or field), or the pattern has no `*`.
fn by_pattern(keys: &mut Keys, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(element.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = &pattern[star + 1..];
    let arrow = after
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&at| at + 2 < after.len());
    let (suffix, field) = match arrow {
        Some(at) => (&after[..at], Some(&after[at + 2..])),
        None => (after, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + element.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(suffix);
    match (keys.read(&key)?, field) {
        (Value::Hash(hash), Some(field)) => hash.get(field).map(<[u8]>::to_vec),
        (value, None) => value.as_str().ok().map(<[u8]>::to_vec),
        _ => None,
    }
}

/// C's `strtod` over the whole text, as SORT reads scores: `None` when
/// there is anything after the number, it is out of range, or NaN.
fn score_of(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    if trimmed.is_empty() {
        return Some(0.0);
    }
    let (sign, body) = match trimmed.as_bytes()[0] {
        b'-' => (-1.0, &trimmed[1..]),
        b'+' => (1.0, &trimmed[1..]),
        _ => (1.0, trimmed),
    };
    let value = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()? as f64
    } else {
        if body.starts_with(['+', '-']) {
            return None;
        }
        body.parse::<f64>().ok()?
    };
    let infinite_text = body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity");
    let mantissa_nonzero = body
        .bytes()
        .take_while(|b| !matches!(b, b'e' | b'E'))
        .any(|b| (b'1'..=b'9').contains(&b));
    if value.is_nan()
        || (value.is_infinite() && !infinite_text)
        || (value == 0.0 && mantissa_nonzero)
    {
        return None;
    }
    Some(sign * value)
}

/// One element to sort, with what it sorts by.
struct Item {
    element: Vec<u8>,
    score: f64,
    by: Option<Vec<u8>>,
}

fn sort_generic(ctx: &mut Ctx, args: Args, read_only: bool) {
    let Some(mut options) = parse_options(ctx, &args, read_only) else {
        return;
    };
    let in_script = ctx.state.in_script_call;
    let (mut keys, reply) = ctx.keys();
    let source = keys.read(args.get(1));
    let (elements, is_set, ordered) = match source {
        None => (Vec::new(), false, true),
        Some(Value::List(list)) => (list_elements(list), false, true),
        Some(Value::Set(set)) => (set.members(), true, false),
        Some(Value::ZSet(zset)) => (
            (0..zset.len())
                .filter_map(|i| zset.at(i))
                .map(|(m, _)| m.to_vec())
                .collect(),
            false,
            true,
        ),
        Some(_) => return reply.error(errors::WRONGTYPE),
    };
    // A set in its own order would store (or give a script) an order
    // that differs between servers: sort it as strings then.
    if options.dont_sort && is_set && (options.store.is_some() || in_script) {
        options.dont_sort = false;
        options.alpha = true;
        options.by = None;
    }
    let len = elements.len() as i64;
    let (limit_start, limit_count) = options.limit.unwrap_or((0, -1));
    let mut start = limit_start.max(0);
    let mut end = if limit_count < 0 {
        len - 1
    } else {
        start.saturating_add(limit_count) - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    let mut items: Vec<Item> = elements
        .into_iter()
        .map(|element| Item {
            element,
            score: 0.0,
            by: None,
        })
        .collect();
    if options.dont_sort {
        // Lists and sorted sets keep their own order, reversed by DESC.
        if ordered && options.desc {
            items.reverse();
        }
    } else {
        let mut conversion_error = false;
        for item in &mut items {
            let value = match options.by {
                Some(pattern) => match by_pattern(&mut keys, pattern, &item.element) {
                    Some(value) => value,
                    None => continue,
                },
                None => item.element.clone(),
            };
            if options.alpha {
                if options.by.is_some() {
                    item.by = Some(value);
                }
            } else {
                match score_of(&value) {
                    Some(score) => item.score = score,
                    None => conversion_error = true,
                }
            }
        }
        if conversion_error {
            return reply.error("ERR One or more scores can't be converted into double");
        }
        let (alpha, by, desc) = (options.alpha, options.by.is_some(), options.desc);
        items.sort_by(|a, b| {
            let order = if !alpha {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.element.cmp(&b.element))
            } else if by {
                match (&a.by, &b.by) {
                    (Some(x), Some(y)) => x.cmp(y),
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                }
            } else {
                a.element.cmp(&b.element)
            };
            if desc {
                order.reverse()
            } else {
                order
            }
        });
    }
    let range: &[Item] = if start <= end && start >= 0 {
        &items[start as usize..=end as usize]
    } else {
        &[]
    };
    let gets = &options.gets;
    let output_len = range.len() * gets.len().max(1);
    let Some(store) = options.store else {
        reply.array(output_len);
        for item in range {
            if gets.is_empty() {
                reply.bulk(&item.element);
            }
            for pattern in gets {
                match by_pattern(&mut keys, pattern, &item.element) {
                    Some(value) => reply.bulk(&value),
                    None => reply.null(),
                }
            }
        }
        return;
    };
    let mut list = ListValue::new();
    for item in range {
        if gets.is_empty() {
            list.push_back(&item.element);
        }
        for pattern in gets {
            let value = by_pattern(&mut keys, pattern, &item.element).unwrap_or_default();
            list.push_back(&value);
        }
    }
    if output_len > 0 {
        keys.db.set(store, Value::List(Box::new(list)), false);
        crate::db::add_dirty(output_len as u64 - 1);
        ctx.notify(LIST, "sortstore", store);
    } else if keys.delete(store) {
        ctx.notify(GENERIC, "del", store);
    }
    ctx.reply.int(output_len as i64);
}

fn list_elements(list: &ListValue) -> Vec<Vec<u8>> {
    list.iter().map(|e| e.to_vec()).collect()
}

#[cfg(test)]
mod tests {
    use super::score_of;

    #[test]
    fn scores_read_as_strtod() {
        assert_eq!(score_of(b"1.5"), Some(1.5));
        assert_eq!(score_of(b"  -2"), Some(-2.0));
        assert_eq!(score_of(b""), Some(0.0));
        assert_eq!(score_of(b"0x10"), Some(16.0));
        assert_eq!(score_of(b"inf"), Some(f64::INFINITY));
        assert_eq!(score_of(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(score_of(b"1e400"), None);
        assert_eq!(score_of(b"nan"), None);
        assert_eq!(score_of(b"1a"), None);
        assert_eq!(score_of(b"1 "), None);
        assert_eq!(score_of(b"--1"), None);
    }
}
