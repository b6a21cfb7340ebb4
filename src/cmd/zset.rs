//! Sorted set commands: ZADD and its flags, scores and ranks, ranges by
//! rank, score and lex (ZRANGE and the legacy forms, ZRANGESTORE), removals,
//! pops (blocking ones too), ZRANDMEMBER, ZSCAN and the union/inter/diff
//! family. Scores are replied as Redis 7.0 prints doubles.

use super::blocking::{block, timeout_arg};
use super::keys::{
    collection_scan_options, paired_count_in_range, random_below, random_count_arg, random_picks,
    scan_positions, Picks,
};
use super::list::range;
use super::{i64_arg, optional_count_arg, Ctx, Keys};
use crate::db::zset::{order, ZSetValue};
use crate::db::{Changes, Value};
use crate::errors;
use crate::float::parse_double;
use crate::glob::glob_match;
use crate::notify::ZSET;
use crate::protocol::parse_i64;
use crate::protocol::request::Args;
use crate::protocol::Reply;
use std::cmp::Ordering;

const NOT_A_FLOAT_RANGE: &str = "ERR min or max is not a float";
const NOT_A_LEX_RANGE: &str = "ERR min or max not valid string range item";

fn read<'k>(keys: &'k mut Keys, key: &[u8]) -> Result<Option<&'k ZSetValue>, ()> {
    keys.read_as(key, Value::as_zset).map_err(|_| ())
}

fn write<'k>(
    keys: &'k mut Keys,
    key: &[u8],
    create: bool,
) -> Result<Option<&'k mut ZSetValue>, ()> {
    keys.write_as(
        key,
        create.then_some((|| Value::ZSet(Box::default())) as fn() -> Value),
        Value::as_zset_mut,
    )
    .map_err(|_| ())
}

/// Deletes `key` if its sorted set became empty.
fn drop_if_empty(keys: &mut Keys, key: &[u8]) {
    if keys.db.get(key).is_some_and(Value::is_empty) {
        keys.db.remove(key);
    }
}

#[derive(Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

fn zadd_generic(ctx: &mut Ctx, args: Args, mut flags: AddFlags) {
    let mut first = 2;
    while first < args.len() {
        let opt = args.get(first).to_ascii_lowercase();
        match &opt[..] {
            b"nx" => flags.nx = true,
            b"xx" => flags.xx = true,
            b"gt" => flags.gt = true,
            b"lt" => flags.lt = true,
            b"ch" => flags.ch = true,
            b"incr" => flags.incr = true,
            _ => break,
        }
        first += 1;
    }
    let pairs = args.len() - first;
    if pairs == 0 || !pairs.is_multiple_of(2) {
        return ctx.reply.error(errors::SYNTAX);
    }
    if flags.nx && flags.xx {
        return ctx
            .reply
            .error("ERR XX and NX options at the same time are not compatible");
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return ctx
            .reply
            .error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if flags.incr && pairs > 2 {
        return ctx
            .reply
            .error("ERR INCR option supports a single increment-element pair");
    }
    let mut scores = Vec::with_capacity(pairs / 2);
    for i in (first..args.len()).step_by(2) {
        match parse_double(args.get(i)) {
            Some(score) => scores.push(score),
            None => return ctx.reply.error(errors::NOT_A_FLOAT),
        }
    }
    let limits = ctx.state.config.zset_limits();
    let key = args.get(1);
    let db = ctx.db_index();
    let changes = Changes::begin();
    let (mut keys, reply) = ctx.keys();
    let zset = match write(&mut keys, key, !flags.xx) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => {
            return if flags.incr {
                reply.null()
            } else {
                reply.int(0)
            }
        }
        Ok(Some(zset)) => zset,
    };
    let (mut added, mut updated, mut processed) = (0, 0, 0);
    let mut last_score = 0.0;
    for (n, i) in (first..args.len()).step_by(2).enumerate() {
        let member = args.get(i + 1);
        let mut score = scores[n];
        match zset.score(member) {
            Some(current) => {
                if flags.nx {
                    continue;
                }
                if flags.incr {
                    score += current;
                    if score.is_nan() {
                        drop_if_empty(&mut keys, key);
                        changes.made(0);
                        return reply.error("ERR resulting score is not a number (NaN)");
                    }
                }
                if (flags.lt && score >= current) || (flags.gt && score <= current) {
                    continue;
                }
                last_score = score;
                processed += 1;
                if score != current {
                    zset.insert(member, score, limits);
                    updated += 1;
                }
            }
            None => {
                if flags.xx {
                    continue;
                }
                zset.insert(member, score, limits);
                added += 1;
                processed += 1;
                last_score = score;
            }
        }
    }
    drop_if_empty(&mut keys, key);
    changes.made((added + updated) as u64);
    if flags.incr {
        if processed > 0 {
            reply.double(last_score);
        } else {
            reply.null();
        }
    } else {
        reply.int(if flags.ch { added + updated } else { added });
    }
    if added + updated > 0 {
        ctx.state.signal_key_ready(db, key);
        ctx.notify(ZSET, if flags.incr { "zincr" } else { "zadd" }, key);
    }
}

pub(super) fn zadd(ctx: &mut Ctx, args: Args) {
    zadd_generic(ctx, args, AddFlags::default());
}

pub(super) fn zincrby(ctx: &mut Ctx, args: Args) {
    let Some(increment) = parse_double(args.get(2)) else {
        return ctx.reply.error(errors::NOT_A_FLOAT);
    };
    let limits = ctx.state.config.zset_limits();
    let (key, member) = (args.get(1), args.get(3));
    let db = ctx.db_index();
    let changes = Changes::begin();
    let (mut keys, reply) = ctx.keys();
    let zset = match write(&mut keys, key, true) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return reply.null(),
        Ok(Some(zset)) => zset,
    };
    let current = zset.score(member);
    let score = current.unwrap_or(0.0) + increment;
    if score.is_nan() {
        drop_if_empty(&mut keys, key);
        changes.made(0);
        return reply.error("ERR resulting score is not a number (NaN)");
    }
    zset.insert(member, score, limits);
    // As ZADD INCR counts it: a new member, or a score that moved.
    changes.made(u64::from(current != Some(score)));
    reply.double(score);
    ctx.state.signal_key_ready(db, key);
    ctx.notify(ZSET, "zincr", key);
}

pub(super) fn zscore(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    match read(&mut keys, args.get(1)) {
        Err(()) => reply.error(errors::WRONGTYPE),
        Ok(zset) => match zset.and_then(|z| z.score(args.get(2))) {
            Some(score) => reply.double(score),
            None => reply.null(),
        },
    }
}

pub(super) fn zmscore(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    let zset = match read(&mut keys, args.get(1)) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(zset) => zset,
    };
    reply.array(args.len() - 2);
    for member in args.from(2) {
        match zset.and_then(|z| z.score(member)) {
            Some(score) => reply.double(score),
            None => reply.null(),
        }
    }
}

pub(super) fn zcard(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    match read(&mut keys, args.get(1)) {
        Err(()) => reply.error(errors::WRONGTYPE),
        Ok(zset) => reply.int(zset.map_or(0, |z| z.len() as i64)),
    }
}

/// A score bound: `1.5`, `(1.5` (exclusive), `-inf`, `+inf`.
#[derive(Clone, Copy)]
struct ScoreBound {
    value: f64,
    exclusive: bool,
}

fn parse_score_bound(arg: &[u8]) -> Option<ScoreBound> {
    let (exclusive, number) = match arg.split_first() {
        Some((b'(', rest)) => (true, rest),
        _ => (false, arg),
    };
    crate::float::parse_range_double(number).map(|value| ScoreBound { value, exclusive })
}

/// A lex bound: `[a` inclusive, `(a` exclusive, `-` and `+` the ends.
#[derive(Clone, Copy)]
enum LexBound<'a> {
    Min,
    Max,
    Inclusive(&'a [u8]),
    Exclusive(&'a [u8]),
}

fn parse_lex_bound(arg: &[u8]) -> Option<LexBound<'_>> {
    match arg.split_first() {
        Some((b'-', [])) => Some(LexBound::Min),
        Some((b'+', [])) => Some(LexBound::Max),
        Some((b'[', rest)) => Some(LexBound::Inclusive(rest)),
        Some((b'(', rest)) => Some(LexBound::Exclusive(rest)),
        _ => None,
    }
}

/// A range over a sorted set, as the positions `[from, to)` it covers.
#[derive(Clone, Copy)]
enum Range<'a> {
    Score(ScoreBound, ScoreBound),
    Lex(LexBound<'a>, LexBound<'a>),
}

/// A member against a lex bound, the special `-` and `+` being below and
/// above every member (Redis's `sdscmplex`).
fn cmp_lex(member: &[u8], bound: LexBound) -> Ordering {
    match bound {
        LexBound::Min => Ordering::Greater,
        LexBound::Max => Ordering::Less,
        LexBound::Inclusive(v) | LexBound::Exclusive(v) => member.cmp(v),
    }
}

fn gte_min(member: &[u8], min: LexBound) -> bool {
    let cmp = cmp_lex(member, min);
    if matches!(min, LexBound::Exclusive(_)) {
        cmp == Ordering::Greater
    } else {
        cmp != Ordering::Less
    }
}

fn lte_max(member: &[u8], max: LexBound) -> bool {
    let cmp = cmp_lex(member, max);
    if matches!(max, LexBound::Exclusive(_)) {
        cmp == Ordering::Less
    } else {
        cmp != Ordering::Greater
    }
}

/// The ranks a lex range selects in a small sorted set, found the way
/// Redis walks a listpack (`zzlFirstInLexRange` / `zzlLastInLexRange`):
/// from the first member >= min while members stay <= max (forward), or
/// from the last member <= max while they stay >= min (reverse). With
/// equal scores this is the plain range; with mixed scores it is what
/// Redis answers.
fn lex_scan<'a>(zset: &ZSetValue, min: LexBound<'a>, max: LexBound<'a>, rev: bool) -> Vec<usize> {
    fn key<'b>(b: LexBound<'b>) -> (u8, &'b [u8]) {
        match b {
            LexBound::Min => (0, &[]),
            LexBound::Max => (2, &[]),
            LexBound::Inclusive(v) | LexBound::Exclusive(v) => (1, v),
        }
    }
    let exclusive = |b: LexBound| matches!(b, LexBound::Exclusive(_));
    let bounds = key(min).cmp(&key(max));
    let len = zset.len();
    if len == 0
        || bounds == Ordering::Greater
        || (bounds == Ordering::Equal && (exclusive(min) || exclusive(max)))
    {
        return Vec::new();
    }
    let member = |i: usize| zset.at(i).map_or(&[][..], |(m, _)| m);
    if !gte_min(member(len - 1), min) || !lte_max(member(0), max) {
        return Vec::new();
    }
    if rev {
        match (0..len).rev().find(|&i| lte_max(member(i), max)) {
            Some(last) => (0..=last)
                .rev()
                .take_while(|&i| gte_min(member(i), min))
                .collect(),
            None => Vec::new(),
        }
    } else {
        match (0..len).find(|&i| gte_min(member(i), min)) {
            Some(first) => (first..len)
                .take_while(|&i| lte_max(member(i), max))
                .collect(),
            None => Vec::new(),
        }
    }
}

impl Range<'_> {
    /// The ranks inside the range, in ascending or (`rev`) descending
    /// order.
    fn ranks(&self, zset: &ZSetValue, rev: bool) -> Vec<usize> {
        if let (Range::Lex(min, max), ZSetValue::Small(_)) = (*self, zset) {
            return lex_scan(zset, min, max, rev);
        }
        let (from, to) = self.positions(zset);
        if rev {
            (from..to).rev().collect()
        } else {
            (from..to).collect()
        }
    }

    /// Positions `[from, to)` of the elements inside the range.
    fn positions(&self, zset: &ZSetValue) -> (usize, usize) {
        match *self {
            Range::Score(min, max) => {
                let from = zset.count_before(|s, _| {
                    if min.exclusive {
                        s <= min.value
                    } else {
                        s < min.value
                    }
                });
                let to = zset.count_before(|s, _| {
                    if max.exclusive {
                        s < max.value
                    } else {
                        s <= max.value
                    }
                });
                (from, to.max(from))
            }
            Range::Lex(min, max) => {
                let from = zset.count_before(|_, m| match min {
                    LexBound::Min => false,
                    LexBound::Max => true,
                    LexBound::Inclusive(v) => m < v,
                    LexBound::Exclusive(v) => m <= v,
                });
                let to = zset.count_before(|_, m| match max {
                    LexBound::Min => false,
                    LexBound::Max => true,
                    LexBound::Inclusive(v) => m <= v,
                    LexBound::Exclusive(v) => m < v,
                });
                (from, to.max(from))
            }
        }
    }
}

fn zcount_generic(ctx: &mut Ctx, args: Args, lex: bool) {
    let range = if lex {
        match (parse_lex_bound(args.get(2)), parse_lex_bound(args.get(3))) {
            (Some(min), Some(max)) => Range::Lex(min, max),
            _ => return ctx.reply.error(NOT_A_LEX_RANGE),
        }
    } else {
        match (
            parse_score_bound(args.get(2)),
            parse_score_bound(args.get(3)),
        ) {
            (Some(min), Some(max)) => Range::Score(min, max),
            _ => return ctx.reply.error(NOT_A_FLOAT_RANGE),
        }
    };
    let (mut keys, reply) = ctx.keys();
    match read(&mut keys, args.get(1)) {
        Err(()) => reply.error(errors::WRONGTYPE),
        Ok(None) => reply.int(0),
        Ok(Some(zset)) => reply.int(range.ranks(zset, false).len() as i64),
    }
}

pub(super) fn zcount(ctx: &mut Ctx, args: Args) {
    zcount_generic(ctx, args, false);
}

pub(super) fn zlexcount(ctx: &mut Ctx, args: Args) {
    zcount_generic(ctx, args, true);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// What ZRANGE and its legacy forms were asked for.
struct RangeRequest<'a> {
    by: By,
    rev: bool,
    limit: Option<(i64, i64)>,
    with_scores: bool,
    min: &'a [u8],
    max: &'a [u8],
}

/// Parses the options after `key min max` (Redis's `zrangeGenericCommand`);
/// `by`/`rev` may come preset by a legacy command.
fn parse_range_request<'a>(
    reply: &mut Reply,
    args: &Args<'a>,
    first_option: usize,
    preset: Option<(By, bool)>,
    store: bool,
) -> Option<RangeRequest<'a>> {
    let (mut by, mut rev) = (preset.map(|p| p.0), preset.map(|p| p.1));
    let mut limit = None;
    let mut with_scores = false;
    let mut j = first_option;
    while j < args.len() {
        let option = args.get(j);
        let left = args.len() - j - 1;
        if !store && option.eq_ignore_ascii_case(b"withscores") {
            with_scores = true;
        } else if option.eq_ignore_ascii_case(b"limit") && left >= 2 {
            let offset = i64_arg(reply, args.get(j + 1))?;
            let count = i64_arg(reply, args.get(j + 2))?;
            limit = Some((offset, count));
            j += 2;
        } else if rev.is_none() && option.eq_ignore_ascii_case(b"rev") {
            rev = Some(true);
        } else if by.is_none() && option.eq_ignore_ascii_case(b"bylex") {
            by = Some(By::Lex);
        } else if by.is_none() && option.eq_ignore_ascii_case(b"byscore") {
            by = Some(By::Score);
        } else {
            reply.error(errors::SYNTAX);
            return None;
        }
        j += 1;
    }
    let by = by.unwrap_or(By::Rank);
    let rev = rev.unwrap_or(false);
    if limit.is_some() && by == By::Rank {
        reply.error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
        return None;
    }
    if with_scores && by == By::Lex {
        reply.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return None;
    }
    let (mut min, mut max) = (args.get(first_option - 2), args.get(first_option - 1));
    if rev && by != By::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    Some(RangeRequest {
        by,
        rev,
        limit,
        with_scores,
        min,
        max,
    })
}

/// The ranks selected by a range request, in reply order; `Err` replied.
fn select_ranks(
    reply: &mut Reply,
    request: &RangeRequest,
    zset: Option<&ZSetValue>,
) -> Option<Vec<usize>> {
    let parsed = match request.by {
        By::Rank => None,
        By::Score => match (
            parse_score_bound(request.min),
            parse_score_bound(request.max),
        ) {
            (Some(min), Some(max)) => Some(Range::Score(min, max)),
            _ => {
                reply.error(NOT_A_FLOAT_RANGE);
                return None;
            }
        },
        By::Lex => match (parse_lex_bound(request.min), parse_lex_bound(request.max)) {
            (Some(min), Some(max)) => Some(Range::Lex(min, max)),
            _ => {
                reply.error(NOT_A_LEX_RANGE);
                return None;
            }
        },
    };
    let Some(zset) = zset else {
        return Some(Vec::new());
    };
    let len = zset.len();
    let ranks: Vec<usize> = match parsed {
        None => {
            let (Some(start), Some(end)) = (parse_i64(request.min), parse_i64(request.max)) else {
                reply.error(errors::NOT_INTEGER);
                return None;
            };
            match range(start, end, len) {
                None => Vec::new(),
                Some((from, to)) if request.rev => (from..=to).map(|i| len - 1 - i).collect(),
                Some((from, to)) => (from..=to).collect(),
            }
        }
        Some(range) => {
            let all = range.ranks(zset, request.rev).into_iter();
            match request.limit {
                Some((offset, _)) if offset < 0 => Vec::new(),
                Some((offset, count)) => {
                    let taken = if count < 0 {
                        usize::MAX
                    } else {
                        count as usize
                    };
                    all.skip(offset as usize).take(taken).collect()
                }
                None => all.collect(),
            }
        }
    };
    Some(ranks)
}

fn reply_elements(reply: &mut Reply, zset: &ZSetValue, ranks: &[usize], with_scores: bool) {
    let pairs = with_scores && reply.is_resp3();
    reply.array(ranks.len() * if with_scores && !pairs { 2 } else { 1 });
    // Ranges are contiguous: fetch them in one in-order walk, not one
    // lookup per rank. (Random picks span the set; look those up singly.)
    let (lo, hi) = (
        ranks.iter().min().copied().unwrap_or(0),
        ranks.iter().max().copied().unwrap_or(0),
    );
    let contiguous = hi - lo + 1 == ranks.len();
    let window = if contiguous {
        zset.range(lo, hi)
    } else {
        Vec::new()
    };
    for &rank in ranks {
        let element = if contiguous {
            window.get(rank - lo).copied()
        } else {
            zset.at(rank)
        };
        if let Some((member, score)) = element {
            reply_element(reply, member, score, with_scores);
        }
    }
}

/// One member, with its score when asked (a pair of its own in RESP3).
fn reply_element(reply: &mut Reply, member: &[u8], score: f64, with_scores: bool) {
    if with_scores && reply.is_resp3() {
        reply.array(2);
    }
    reply.bulk(member);
    if with_scores {
        reply.double(score);
    }
}

fn zrange_generic(ctx: &mut Ctx, args: Args, preset: Option<(By, bool)>) {
    let Some(request) = parse_range_request(ctx.reply, &args, 4, preset, false) else {
        return;
    };
    if request.by == By::Rank
        && (parse_i64(request.min).is_none() || parse_i64(request.max).is_none())
    {
        return ctx.reply.error(errors::NOT_INTEGER);
    }
    let (mut keys, reply) = ctx.keys();
    let zset = match read(&mut keys, args.get(1)) {
        Err(()) => {
            // Ranges are validated before the type, as in Redis.
            if select_ranks(reply, &request, None).is_some() {
                reply.error(errors::WRONGTYPE);
            }
            return;
        }
        Ok(zset) => zset,
    };
    let Some(ranks) = select_ranks(reply, &request, zset) else {
        return;
    };
    match zset {
        Some(zset) => reply_elements(reply, zset, &ranks, request.with_scores),
        None => reply.array(0),
    }
}

pub(super) fn zrange(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, None);
}

pub(super) fn zrangebyscore(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, Some((By::Score, false)));
}

pub(super) fn zrevrangebyscore(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, Some((By::Score, true)));
}

pub(super) fn zrevrange(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, Some((By::Rank, true)));
}

pub(super) fn zrangebylex(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, Some((By::Lex, false)));
}

pub(super) fn zrevrangebylex(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, Some((By::Lex, true)));
}

pub(super) fn zrangestore(ctx: &mut Ctx, args: Args) {
    let Some(request) = parse_range_request(ctx.reply, &args, 5, None, true) else {
        return;
    };
    if request.by == By::Rank
        && (parse_i64(request.min).is_none() || parse_i64(request.max).is_none())
    {
        return ctx.reply.error(errors::NOT_INTEGER);
    }
    let limits = ctx.state.config.zset_limits();
    let (destination, source) = (args.get(1), args.get(2));
    let (mut keys, reply) = ctx.keys();
    let zset = match read(&mut keys, source) {
        Err(()) => {
            if select_ranks(reply, &request, None).is_some() {
                reply.error(errors::WRONGTYPE);
            }
            return;
        }
        Ok(zset) => zset,
    };
    let Some(ranks) = select_ranks(reply, &request, zset) else {
        return;
    };
    let mut result = ZSetValue::default();
    if let Some(zset) = zset {
        for &rank in &ranks {
            if let Some((member, score)) = zset.at(rank) {
                result.insert(member, score, limits);
            }
        }
    }
    let count = result.len();
    reply.int(count as i64);
    let value = (count > 0).then(|| Value::ZSet(Box::new(result)));
    super::keys::store_result(ctx, destination, value, ZSET, "zrangestore");
}

fn zrank_generic(ctx: &mut Ctx, args: Args, rev: bool) {
    let (mut keys, reply) = ctx.keys();
    match read(&mut keys, args.get(1)) {
        Err(()) => reply.error(errors::WRONGTYPE),
        Ok(zset) => match zset.and_then(|z| z.rank(args.get(2)).map(|r| (r, z.len()))) {
            Some((rank, len)) => reply.int(if rev { len - 1 - rank } else { rank } as i64),
            None => reply.null(),
        },
    }
}

pub(super) fn zrank(ctx: &mut Ctx, args: Args) {
    zrank_generic(ctx, args, false);
}

pub(super) fn zrevrank(ctx: &mut Ctx, args: Args) {
    zrank_generic(ctx, args, true);
}

pub(super) fn zrem(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let (mut keys, reply) = ctx.keys();
    let zset = match write(&mut keys, key, false) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return reply.int(0),
        Ok(Some(zset)) => zset,
    };
    let removed = args.from(2).filter(|m| zset.remove(m)).count();
    let changes = Changes::begin();
    drop_if_empty(&mut keys, key);
    changes.made(removed as u64);
    reply.int(removed as i64);
    if removed > 0 {
        ctx.notify(ZSET, "zrem", key);
        super::list::notify_if_deleted(ctx, key);
    }
}

fn zremrange_generic(ctx: &mut Ctx, args: Args, by: By) {
    let (min, max) = (args.get(2), args.get(3));
    let request = RangeRequest {
        by,
        rev: false,
        limit: None,
        with_scores: false,
        min,
        max,
    };
    if by == By::Rank && (parse_i64(min).is_none() || parse_i64(max).is_none()) {
        return ctx.reply.error(errors::NOT_INTEGER);
    }
    let key = args.get(1);
    let (mut keys, reply) = ctx.keys();
    let members: Vec<Vec<u8>> = match read(&mut keys, key) {
        Err(()) => {
            if select_ranks(reply, &request, None).is_some() {
                reply.error(errors::WRONGTYPE);
            }
            return;
        }
        Ok(zset) => {
            let Some(ranks) = select_ranks(reply, &request, zset) else {
                return;
            };
            let Some(zset) = zset else {
                return reply.int(0);
            };
            ranks
                .iter()
                .filter_map(|&r| zset.at(r).map(|(m, _)| m.to_vec()))
                .collect()
        }
    };
    let changes = Changes::begin();
    if let Ok(Some(zset)) = write(&mut keys, key, false) {
        for member in &members {
            zset.remove(member);
        }
    }
    drop_if_empty(&mut keys, key);
    changes.made(members.len() as u64);
    reply.int(members.len() as i64);
    if !members.is_empty() {
        let event = match by {
            By::Rank => "zremrangebyrank",
            By::Score => "zremrangebyscore",
            By::Lex => "zremrangebylex",
        };
        ctx.notify(ZSET, event, key);
        super::list::notify_if_deleted(ctx, key);
    }
}

pub(super) fn zremrangebyscore(ctx: &mut Ctx, args: Args) {
    zremrange_generic(ctx, args, By::Score);
}

pub(super) fn zremrangebyrank(ctx: &mut Ctx, args: Args) {
    zremrange_generic(ctx, args, By::Rank);
}

pub(super) fn zremrangebylex(ctx: &mut Ctx, args: Args) {
    zremrange_generic(ctx, args, By::Lex);
}

/// Pops up to `count` lowest (or highest) elements of `key`.
fn pop_elements(keys: &mut Keys, key: &[u8], max: bool, count: usize) -> Vec<(Vec<u8>, f64)> {
    let mut popped = Vec::new();
    let changes = Changes::begin();
    if let Ok(Some(zset)) = write(keys, key, false) {
        for _ in 0..count.min(zset.len()) {
            let rank = if max { zset.len() - 1 } else { 0 };
            let Some((member, score)) = zset.at(rank).map(|(m, s)| (m.to_vec(), s)) else {
                break;
            };
            zset.remove(&member);
            popped.push((member, score));
        }
    }
    drop_if_empty(keys, key);
    changes.made(popped.len() as u64);
    popped
}

fn zpop_generic(ctx: &mut Ctx, args: Args, max: bool) {
    if args.len() > 3 {
        return ctx.reply.error(errors::SYNTAX);
    }
    let Some(count) = optional_count_arg(ctx.reply, &args, 2) else {
        return;
    };
    let key = args.get(1);
    let resp3 = ctx.reply.is_resp3();
    let (mut keys, reply) = ctx.keys();
    match read(&mut keys, key) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return reply.array(0),
        Ok(Some(_)) if count == Some(0) => return reply.array(0),
        Ok(Some(_)) => {}
    }
    let popped = pop_elements(&mut keys, key, max, count.unwrap_or(1));
    let nested = resp3 && count.is_some();
    reply.array(if nested {
        popped.len()
    } else {
        popped.len() * 2
    });
    let any = !popped.is_empty();
    for (member, score) in popped {
        if nested {
            reply.array(2);
        }
        reply.bulk(&member);
        reply.double(score);
    }
    if any {
        notify_popped(ctx, key, max);
    }
}

/// Announces a pop from `key`, then its deletion if the pop emptied it.
fn notify_popped(ctx: &mut Ctx, key: &[u8], max: bool) {
    ctx.notify(ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
    super::list::notify_if_deleted(ctx, key);
}

pub(super) fn zpopmin(ctx: &mut Ctx, args: Args) {
    zpop_generic(ctx, args, false);
}

pub(super) fn zpopmax(ctx: &mut Ctx, args: Args) {
    zpop_generic(ctx, args, true);
}

fn bzpop(ctx: &mut Ctx, args: Args, max: bool) {
    let Some(timeout) = timeout_arg(ctx.reply, args.get(args.len() - 1)) else {
        return;
    };
    let key_args = 1..args.len() - 1;
    let woken = super::blocking::woken_position(ctx, key_args.clone().map(|i| args.get(i)));
    {
        let (mut keys, reply) = ctx.keys();
        for (n, i) in key_args.clone().enumerate() {
            if woken.is_some_and(|w| w != n) {
                continue;
            }
            let key = args.get(i);
            match read(&mut keys, key) {
                Err(()) if woken.is_some() => continue,
                Err(()) => return reply.error(errors::WRONGTYPE),
                Ok(None) => continue,
                Ok(Some(_)) => {
                    if let Some((member, score)) = pop_elements(&mut keys, key, max, 1).pop() {
                        reply.array(3);
                        reply.bulk(key);
                        reply.bulk(&member);
                        reply.double(score);
                    }
                    return notify_popped(ctx, key, max);
                }
            }
        }
    }
    block(ctx, key_args.map(|i| args.get(i).to_vec()), timeout);
}

pub(super) fn bzpopmin(ctx: &mut Ctx, args: Args) {
    bzpop(ctx, args, false);
}

pub(super) fn bzpopmax(ctx: &mut Ctx, args: Args) {
    bzpop(ctx, args, true);
}

fn parse_min_max(arg: &[u8]) -> Option<bool> {
    if arg.eq_ignore_ascii_case(b"min") {
        Some(false)
    } else if arg.eq_ignore_ascii_case(b"max") {
        Some(true)
    } else {
        None
    }
}

/// ZMPOP / BZMPOP: pops from the first non-empty sorted set; true if it
/// replied.
fn zmpop_from(ctx: &mut Ctx, names: &[&[u8]], max: bool, count: usize) -> bool {
    let woken = super::blocking::woken_position(ctx, names.iter().copied());
    let (mut keys, reply) = ctx.keys();
    for (n, key) in names.iter().enumerate() {
        if woken.is_some_and(|w| w != n) {
            continue;
        }
        match read(&mut keys, key) {
            Err(()) if woken.is_some() => continue,
            Err(()) => {
                reply.error(errors::WRONGTYPE);
                return true;
            }
            Ok(None) => continue,
            Ok(Some(_)) => {
                let popped = pop_elements(&mut keys, key, max, count);
                reply.array(2);
                reply.bulk(key);
                reply.array(popped.len());
                for (member, score) in popped {
                    reply.array(2);
                    reply.bulk(&member);
                    reply.double(score);
                }
                notify_popped(ctx, key, max);
                return true;
            }
        }
    }
    false
}

pub(super) fn zmpop(ctx: &mut Ctx, args: Args) {
    let Some((names, max, count)) =
        super::list::parse_multi_pop(ctx.reply, &args, 1, parse_min_max)
    else {
        return;
    };
    if !zmpop_from(ctx, &names, max, count) {
        ctx.reply.null_array();
    }
}

pub(super) fn bzmpop(ctx: &mut Ctx, args: Args) {
    let Some(timeout) = timeout_arg(ctx.reply, args.get(1)) else {
        return;
    };
    let Some((names, max, count)) =
        super::list::parse_multi_pop(ctx.reply, &args, 2, parse_min_max)
    else {
        return;
    };
    if !zmpop_from(ctx, &names, max, count) {
        block(ctx, names.iter().map(|k| k.to_vec()), timeout);
    }
}

pub(super) fn zrandmember(ctx: &mut Ctx, args: Args) {
    // The count is parsed before the options are checked, as in Redis.
    let count = if args.len() >= 3 {
        match random_count_arg(ctx.reply, args.get(2)) {
            Some(n) => Some(n),
            None => return,
        }
    } else {
        None
    };
    let with_scores = args.len() == 4 && args.get(3).eq_ignore_ascii_case(b"withscores");
    if args.len() > 4 || (args.len() == 4 && !with_scores) {
        return ctx.reply.error(errors::SYNTAX);
    }
    if with_scores && !count.is_some_and(|n| paired_count_in_range(ctx.reply, n)) {
        return;
    }
    let (mut keys, reply) = ctx.keys();
    let zset = match read(&mut keys, args.get(1)) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => {
            return if count.is_some() {
                reply.array(0)
            } else {
                reply.null()
            }
        }
        Ok(Some(zset)) => zset,
    };
    let len = zset.len();
    let Some(count) = count else {
        if let Some((member, _)) = zset.at(random_below(len)) {
            reply.bulk(member);
        }
        return;
    };
    match random_picks(len, count) {
        Picks::Distinct(ranks) => reply_elements(reply, zset, ranks.as_slice(), with_scores),
        repeats => {
            // Possibly more than the set holds: drawn as they are written.
            let pairs = with_scores && reply.is_resp3();
            reply.array(repeats.len() * if with_scores && !pairs { 2 } else { 1 });
            for rank in repeats {
                if let Some((member, score)) = zset.at(rank) {
                    reply_element(reply, member, score, with_scores);
                }
            }
        }
    }
}

pub(super) fn zscan(ctx: &mut Ctx, args: Args) {
    let Some(options) = collection_scan_options(ctx, &args, |v| matches!(v, Value::ZSet(_))) else {
        return;
    };
    let (mut keys, reply) = ctx.keys();
    let zset = match read(&mut keys, args.get(1)) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => {
            reply.array(2);
            reply.bulk(b"0");
            return reply.array(0);
        }
        Ok(Some(zset)) => zset,
    };
    // A small sorted set is returned whole, as Redis does for listpacks.
    let (next, positions): (u64, Vec<usize>) = match zset {
        ZSetValue::Small(_) => (0, (0..zset.len()).collect()),
        ZSetValue::Big(_) => {
            let (next, range) = scan_positions(options.cursor, zset.len(), options.count);
            (next, range.rev().collect())
        }
    };
    let found: Vec<(&[u8], f64)> = positions
        .into_iter()
        .filter_map(|i| zset.table_at(i))
        .filter(|(m, _)| options.pattern.is_none_or(|p| glob_match(p, m, false)))
        .collect();
    reply.array(2);
    reply.bulk_int(next as i64);
    reply.array(found.len() * 2);
    for (member, score) in found {
        reply.bulk(member);
        reply.double(score);
    }
}

/// Members with their scores, as read from one input of ZUNION and friends.
type Scored = Vec<(Vec<u8>, f64)>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// ZUNION, ZINTER, ZDIFF and their STORE forms (Redis's
/// `zunionInterDiffGenericCommand`). Plain sets count as scores of 1.
fn zsetop(ctx: &mut Ctx, args: Args, op: SetOp, store: bool, command: &str) {
    let numkeys_at = if store { 2 } else { 1 };
    let Some(numkeys) = i64_arg(ctx.reply, args.get(numkeys_at)) else {
        return;
    };
    if numkeys < 1 {
        return ctx.reply.error(&format!(
            "ERR at least 1 input key is needed for '{command}' command"
        ));
    }
    let numkeys = numkeys as usize;
    if numkeys > args.len() - numkeys_at - 1 {
        return ctx.reply.error(errors::SYNTAX);
    }
    // Inputs: every key is looked up (and type-checked) first, as in Redis.
    let names: Vec<&[u8]> = (numkeys_at + 1..numkeys_at + 1 + numkeys)
        .map(|i| args.get(i))
        .collect();
    let mut inputs: Vec<Option<Scored>> = Vec::with_capacity(numkeys);
    {
        let (mut keys, reply) = ctx.keys();
        for name in &names {
            match keys.read(name) {
                None => inputs.push(None),
                Some(Value::ZSet(z)) => inputs.push(Some(
                    (0..z.len())
                        .filter_map(|i| z.at(i))
                        .map(|(m, s)| (m.to_vec(), s))
                        .collect(),
                )),
                Some(Value::Set(s)) => {
                    inputs.push(Some(s.members().into_iter().map(|m| (m, 1.0)).collect()))
                }
                Some(_) => return reply.error(errors::WRONGTYPE),
            }
        }
    }
    let mut weights = vec![1.0; numkeys];
    let mut aggregate = Aggregate::Sum;
    let mut with_scores = false;
    let mut j = numkeys_at + 1 + numkeys;
    while j < args.len() {
        let remaining = args.len() - j;
        let option = args.get(j);
        if op != SetOp::Diff && remaining > numkeys && option.eq_ignore_ascii_case(b"weights") {
            for weight in weights.iter_mut() {
                j += 1;
                match parse_double(args.get(j)) {
                    Some(w) => *weight = w,
                    None => return ctx.reply.error("ERR weight value is not a float"),
                }
            }
            j += 1;
        } else if op != SetOp::Diff && remaining >= 2 && option.eq_ignore_ascii_case(b"aggregate") {
            let kind = args.get(j + 1);
            aggregate = if kind.eq_ignore_ascii_case(b"sum") {
                Aggregate::Sum
            } else if kind.eq_ignore_ascii_case(b"min") {
                Aggregate::Min
            } else if kind.eq_ignore_ascii_case(b"max") {
                Aggregate::Max
            } else {
                return ctx.reply.error(errors::SYNTAX);
            };
            j += 2;
        } else if !store && option.eq_ignore_ascii_case(b"withscores") {
            with_scores = true;
            j += 1;
        } else {
            return ctx.reply.error(errors::SYNTAX);
        }
    }
    let combine = |a: f64, b: f64| -> f64 {
        match aggregate {
            Aggregate::Sum => {
                let sum = a + b;
                // inf + -inf: Redis keeps the convention that the result is 0.
                if sum.is_nan() {
                    0.0
                } else {
                    sum
                }
            }
            Aggregate::Min => a.min(b),
            Aggregate::Max => a.max(b),
        }
    };
    let weighted = |score: f64, weight: f64| {
        let value = score * weight;
        if value.is_nan() {
            0.0
        } else {
            value
        }
    };
    let mut result: Vec<(Vec<u8>, f64)> = Vec::new();
    match op {
        SetOp::Union => {
            let mut index: std::collections::HashMap<Vec<u8>, usize> =
                std::collections::HashMap::new();
            for (input, &weight) in inputs.iter().zip(&weights) {
                for (member, score) in input.iter().flatten() {
                    let score = weighted(*score, weight);
                    match index.get(member) {
                        Some(&at) => result[at].1 = combine(result[at].1, score),
                        None => {
                            index.insert(member.clone(), result.len());
                            result.push((member.clone(), score));
                        }
                    }
                }
            }
        }
        SetOp::Inter => {
            if inputs.iter().all(Option::is_some) {
                let maps: Vec<std::collections::HashMap<&[u8], f64>> = inputs
                    .iter()
                    .flatten()
                    .map(|i| i.iter().map(|(m, s)| (m.as_slice(), *s)).collect())
                    .collect();
                if let Some(Some(first)) = inputs.first() {
                    'members: for (member, score) in first {
                        let mut total = weighted(*score, weights[0]);
                        for (map, &weight) in maps.iter().zip(&weights).skip(1) {
                            match map.get(member.as_slice()) {
                                Some(&s) => total = combine(total, weighted(s, weight)),
                                None => continue 'members,
                            }
                        }
                        result.push((member.clone(), total));
                    }
                }
            }
        }
        SetOp::Diff => {
            if let Some(Some(first)) = inputs.first() {
                let others: std::collections::HashSet<&[u8]> = inputs[1..]
                    .iter()
                    .flatten()
                    .flatten()
                    .map(|(m, _)| m.as_slice())
                    .collect();
                result = first
                    .iter()
                    .filter(|(m, _)| !others.contains(m.as_slice()))
                    .cloned()
                    .collect();
            }
        }
    }
    result.sort_by(|a, b| order((a.1, &a.0), (b.1, &b.0)));
    if store {
        let limits = ctx.state.config.zset_limits();
        ctx.reply.int(result.len() as i64);
        let value = (!result.is_empty()).then(|| {
            let mut zset = ZSetValue::default();
            for (member, score) in &result {
                zset.insert(member, *score, limits);
            }
            Value::ZSet(Box::new(zset))
        });
        super::keys::store_result(ctx, args.get(1), value, ZSET, command);
    } else {
        let reply = &mut *ctx.reply;
        let pairs = with_scores && reply.is_resp3();
        reply.array(result.len() * if with_scores && !pairs { 2 } else { 1 });
        for (member, score) in &result {
            if pairs {
                reply.array(2);
            }
            reply.bulk(member);
            if with_scores {
                reply.double(*score);
            }
        }
    }
}

pub(super) fn zunionstore(ctx: &mut Ctx, args: Args) {
    zsetop(ctx, args, SetOp::Union, true, "zunionstore");
}

pub(super) fn zinterstore(ctx: &mut Ctx, args: Args) {
    zsetop(ctx, args, SetOp::Inter, true, "zinterstore");
}

pub(super) fn zdiffstore(ctx: &mut Ctx, args: Args) {
    zsetop(ctx, args, SetOp::Diff, true, "zdiffstore");
}

pub(super) fn zunion(ctx: &mut Ctx, args: Args) {
    zsetop(ctx, args, SetOp::Union, false, "zunion");
}

pub(super) fn zinter(ctx: &mut Ctx, args: Args) {
    zsetop(ctx, args, SetOp::Inter, false, "zinter");
}

pub(super) fn zdiff(ctx: &mut Ctx, args: Args) {
    zsetop(ctx, args, SetOp::Diff, false, "zdiff");
}

/// `ZINTERCARD numkeys key [key ...] [LIMIT limit]`: how many members all
/// the inputs (sorted sets or sets) share, counting up to `limit` when
/// it is above 0.
pub(super) fn zintercard(ctx: &mut Ctx, args: Args) {
    let Some(numkeys) = i64_arg(ctx.reply, args.get(1)) else {
        return;
    };
    if numkeys < 1 {
        return ctx
            .reply
            .error("ERR at least 1 input key is needed for 'zintercard' command");
    }
    let numkeys = numkeys as usize;
    if numkeys > args.len() - 2 {
        return ctx.reply.error(errors::SYNTAX);
    }
    let names: Vec<&[u8]> = (2..2 + numkeys).map(|i| args.get(i)).collect();
    let (mut keys, reply) = ctx.keys();
    for name in &names {
        if matches!(keys.read(name), Some(v) if !matches!(v, Value::ZSet(_) | Value::Set(_))) {
            return reply.error(errors::WRONGTYPE);
        }
    }
    let mut limit = 0usize;
    let mut j = 2 + numkeys;
    while j < args.len() {
        if args.len() - j >= 2 && args.get(j).eq_ignore_ascii_case(b"limit") {
            match parse_i64(args.get(j + 1)) {
                Some(n) if n >= 0 => limit = n as usize,
                _ => return reply.error("ERR LIMIT can't be negative"),
            }
            j += 2;
        } else {
            return reply.error(errors::SYNTAX);
        }
    }
    // Every key was looked up and checked above; their values now.
    let db = &*keys.db;
    let values: Vec<Option<&Value>> = names.iter().map(|n| db.get(n)).collect();
    if values.iter().any(Option::is_none) {
        return reply.int(0);
    }
    let values: Vec<&Value> = values.into_iter().flatten().collect();
    let smallest = (0..values.len())
        .min_by_key(|&i| values[i].len())
        .unwrap_or(0);
    let contains = |value: &Value, member: &[u8]| match value {
        Value::ZSet(z) => z.score(member).is_some(),
        Value::Set(s) => s.contains(member),
        _ => false,
    };
    let members: Vec<Vec<u8>> = match values[smallest] {
        Value::ZSet(z) => (0..z.len())
            .filter_map(|i| z.at(i))
            .map(|(m, _)| m.to_vec())
            .collect(),
        Value::Set(s) => s.members(),
        _ => Vec::new(),
    };
    let mut count = 0usize;
    for member in &members {
        if values
            .iter()
            .enumerate()
            .all(|(i, v)| i == smallest || contains(v, member))
        {
            count += 1;
            if limit > 0 && count >= limit {
                break;
            }
        }
    }
    reply.int(count as i64);
}
