//! GEOADD, GEODIST, GEOHASH, GEOPOS, GEOSEARCH, GEOSEARCHSTORE and the
//! GEORADIUS family (Redis's `geo.c`): points kept in sorted sets with
//! their 52-bit geohash as score (`crate::db::geohash`).

use super::{Ctx, Keys};
use crate::db::geohash::{self, Search, Shape};
use crate::db::zset::ZSetValue;
use crate::db::Value;
use crate::errors;
use crate::float::parse_double;
use crate::notify::ZSET;
use crate::protocol::request::{Args, OwnedArgs};
use crate::protocol::Reply;

/// Meters per unit; `None` for an unknown unit.
fn unit(arg: &[u8]) -> Option<f64> {
    let lower = arg.to_ascii_lowercase();
    match &lower[..] {
        b"m" => Some(1.0),
        b"km" => Some(1000.0),
        b"ft" => Some(0.3048),
        b"mi" => Some(1609.34),
        _ => None,
    }
}

const BAD_UNIT: &str = "ERR unsupported unit provided. please use M, KM, FT, MI";

fn double_arg(reply: &mut Reply, arg: &[u8], error: &str) -> Option<f64> {
    let value = parse_double(arg);
    if value.is_none() {
        reply.error(error);
    }
    value
}

/// A longitude and latitude within Redis's limits
/// (`extractLongLatOrReply`).
fn long_lat(reply: &mut Reply, args: &Args, at: usize) -> Option<(f64, f64)> {
    let longitude = double_arg(reply, args.get(at), errors::NOT_A_FLOAT)?;
    let latitude = double_arg(reply, args.get(at + 1), errors::NOT_A_FLOAT)?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&longitude)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&latitude)
    {
        reply.error(&format!(
            "ERR invalid longitude,latitude pair {longitude:.6},{latitude:.6}"
        ));
        return None;
    }
    Some((longitude, latitude))
}

/// A radius and its unit: the radius and meters per unit.
fn radius(reply: &mut Reply, args: &Args, at: usize) -> Option<(f64, f64)> {
    let radius = double_arg(reply, args.get(at), "ERR need numeric radius")?;
    if radius < 0.0 {
        reply.error("ERR radius cannot be negative");
        return None;
    }
    let Some(conversion) = unit(args.get(at + 1)) else {
        reply.error(BAD_UNIT);
        return None;
    };
    Some((radius, conversion))
}

/// `GEOADD key [NX|XX] [CH] longitude latitude member ...`: ZADD of the
/// members with their geohashes as scores, as Redis runs it.
pub(super) fn geoadd(ctx: &mut Ctx, args: Args) {
    let mut first = 2;
    let (mut nx, mut xx) = (false, false);
    while first < args.len() {
        let option = args.get(first);
        if option.eq_ignore_ascii_case(b"nx") {
            nx = true;
        } else if option.eq_ignore_ascii_case(b"xx") {
            xx = true;
        } else if !option.eq_ignore_ascii_case(b"ch") {
            break;
        }
        first += 1;
    }
    if !(args.len() - first).is_multiple_of(3) || (nx && xx) {
        return ctx.reply.error(errors::SYNTAX);
    }
    let mut zadd: Vec<Vec<u8>> = vec![b"zadd".to_vec()];
    zadd.extend((1..first).map(|i| args.get(i).to_vec()));
    for at in (first..args.len()).step_by(3) {
        let Some((longitude, latitude)) = long_lat(ctx.reply, &args, at) else {
            return;
        };
        let hash = geohash::encode(longitude, latitude, geohash::STEP_MAX).unwrap_or_default();
        zadd.push(geohash::align52(hash).to_string().into_bytes());
        zadd.push(args.get(at + 2).to_vec());
    }
    let line = OwnedArgs::from_vecs(&zadd);
    if ctx.state.propagating() {
        ctx.state.logged_as = Some(zadd);
    }
    super::zset::zadd(ctx, line.args());
}

/// A member's position, decoded from its score.
fn position(zset: &ZSetValue, member: &[u8]) -> Option<(f64, f64)> {
    geohash::decode_score(zset.score(member)?)
}

/// Redis's `%.4f` distances.
fn reply_distance(reply: &mut Reply, meters: f64) {
    let mut text = Vec::with_capacity(24);
    crate::float::write_fixed(&mut text, meters, 4);
    reply.bulk(&text);
}

/// A coordinate as Redis prints a long double for humans: 17 decimals,
/// trailing zeros dropped; a RESP3 double.
fn reply_coordinate(reply: &mut Reply, value: f64) {
    let mut text = format!("{value:.17}");
    if text.contains('.') {
        let trimmed = text.trim_end_matches('0').trim_end_matches('.').len();
        text.truncate(trimmed);
    }
    if reply.is_resp3() {
        reply.raw(b",");
        reply.raw(text.as_bytes());
        reply.raw(b"\r\n");
    } else {
        reply.bulk(text.as_bytes());
    }
}

/// The sorted set at `key` for reading, or `Err` after WRONGTYPE.
fn read_zset<'k>(keys: &'k mut Keys, key: &[u8]) -> Result<Option<&'k ZSetValue>, ()> {
    keys.read_as(key, Value::as_zset).map_err(|_| ())
}

/// `GEODIST key member1 member2 [M|KM|FT|MI]`.
pub(super) fn geodist(ctx: &mut Ctx, args: Args) {
    let conversion = match args.len() {
        4 => 1.0,
        5 => match unit(args.get(4)) {
            Some(c) => c,
            None => return ctx.reply.error(BAD_UNIT),
        },
        _ => return ctx.reply.error(errors::SYNTAX),
    };
    let (mut keys, reply) = ctx.keys();
    let zset = match read_zset(&mut keys, args.get(1)) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(None) => return reply.null(),
        Ok(Some(zset)) => zset,
    };
    match (position(zset, args.get(2)), position(zset, args.get(3))) {
        (Some((lon1, lat1)), Some((lon2, lat2))) => reply_distance(
            reply,
            geohash::distance(lon1, lat1, lon2, lat2) / conversion,
        ),
        _ => reply.null(),
    }
}

/// `GEOHASH key [member ...]`: standard 11-character geohashes.
pub(super) fn geohash(ctx: &mut Ctx, args: Args) {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (mut keys, reply) = ctx.keys();
    let zset = match read_zset(&mut keys, args.get(1)) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(zset) => zset,
    };
    reply.array(args.len() - 2);
    for member in args.from(2) {
        let hash = zset
            .and_then(|z| position(z, member))
            .and_then(|(lon, lat)| geohash::encode_standard(lon, lat));
        match hash {
            None => reply.null(),
            Some(hash) => {
                let mut text = [b'0'; 11];
                for (i, c) in text.iter_mut().enumerate().take(10) {
                    let index = (hash.bits >> (52 - (i + 1) * 5)) & 0x1f;
                    *c = ALPHABET[index as usize];
                }
                reply.bulk(&text);
            }
        }
    }
}

/// `GEOPOS key [member ...]`.
pub(super) fn geopos(ctx: &mut Ctx, args: Args) {
    let (mut keys, reply) = ctx.keys();
    let zset = match read_zset(&mut keys, args.get(1)) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(zset) => zset,
    };
    reply.array(args.len() - 2);
    for member in args.from(2) {
        match zset.and_then(|z| position(z, member)) {
            None => reply.null_array(),
            Some((lon, lat)) => {
                reply.array(2);
                reply_coordinate(reply, lon);
                reply_coordinate(reply, lat);
            }
        }
    }
}

/// Which command of the family runs (Redis's `georadiusGeneric` flags).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Radius { read_only: bool },
    RadiusByMember { read_only: bool },
    Search,
    SearchStore,
}

/// A point found: member, score, distance in meters, position.
struct Found {
    member: Vec<u8>,
    score: f64,
    distance: f64,
    longitude: f64,
    latitude: f64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// The points of `zset` inside the search, cell by cell in score order,
/// stopping at `limit` when it is not 0 (`membersOfAllNeighbors`).
fn scan(zset: &ZSetValue, search: &Search, limit: usize) -> Vec<Found> {
    let mut found = Vec::new();
    for cell in search.cells() {
        if limit > 0 && found.len() >= limit {
            break;
        }
        let (min, max) = geohash::score_range(cell);
        let first = zset.count_before(|score, _| score < min);
        let end = zset.count_before(|score, _| score < max);
        if first >= end {
            continue;
        }
        for (member, score) in zset.range(first, end - 1) {
            if let Some((longitude, latitude)) = geohash::decode_score(score) {
                if let Some(distance) = search.distance_if_within(longitude, latitude) {
                    found.push(Found {
                        member: member.to_vec(),
                        score,
                        distance,
                        longitude,
                        latitude,
                    });
                }
            }
            if limit > 0 && found.len() >= limit {
                break;
            }
        }
    }
    found
}

fn search_generic(ctx: &mut Ctx, args: Args, variant: Variant) {
    let source_at = if variant == Variant::SearchStore {
        2
    } else {
        1
    };
    let source = args.get(source_at);
    let mut store: Option<&[u8]> = None;
    let mut store_distance = false;
    let (mut keys, reply) = ctx.keys();
    let zset = match read_zset(&mut keys, source) {
        Err(()) => return reply.error(errors::WRONGTYPE),
        Ok(zset) => zset,
    };
    let mut center: Option<(f64, f64)> = None;
    let mut shape: Option<(Shape, f64)> = None;
    let base = match variant {
        Variant::Radius { .. } => {
            center = Some(match long_lat(reply, &args, 2) {
                Some(c) => c,
                None => return,
            });
            let Some((r, conversion)) = radius(reply, &args, 4) else {
                return;
            };
            shape = Some((Shape::Circle(r), conversion));
            6
        }
        Variant::RadiusByMember { .. } => {
            if let Some(zset) = zset {
                let Some(c) = position(zset, args.get(2)) else {
                    return reply.error("ERR could not decode requested zset member");
                };
                center = Some(c);
                let Some((r, conversion)) = radius(reply, &args, 3) else {
                    return;
                };
                shape = Some((Shape::Circle(r), conversion));
            }
            5
        }
        Variant::Search => 2,
        Variant::SearchStore => {
            store = Some(args.get(1));
            3
        }
    };
    let geosearch = matches!(variant, Variant::Search | Variant::SearchStore);
    let no_store = matches!(
        variant,
        Variant::Radius { read_only: true } | Variant::RadiusByMember { read_only: true }
    );
    let (mut with_dist, mut with_hash, mut with_coord, mut any) = (false, false, false, false);
    let (mut from_member, mut from_lonlat, mut by_radius, mut by_box) =
        (false, false, false, false);
    let mut sort = Sort::None;
    let mut count: i64 = 0;
    let mut i = base;
    while i < args.len() {
        let remaining = args.len() - i - 1;
        let arg = args.get(i);
        let is = |word: &[u8]| arg.eq_ignore_ascii_case(word);
        if is(b"withdist") {
            with_dist = true;
        } else if is(b"withhash") {
            with_hash = true;
        } else if is(b"withcoord") {
            with_coord = true;
        } else if is(b"any") {
            any = true;
        } else if is(b"asc") {
            sort = Sort::Asc;
        } else if is(b"desc") {
            sort = Sort::Desc;
        } else if is(b"count") && remaining >= 1 {
            let Some(n) = super::i64_arg(reply, args.get(i + 1)) else {
                return;
            };
            if n <= 0 {
                return reply.error("ERR COUNT must be > 0");
            }
            count = n;
            i += 1;
        } else if (is(b"store") || is(b"storedist")) && remaining >= 1 && !no_store && !geosearch {
            store = Some(args.get(i + 1));
            store_distance = is(b"storedist");
            i += 1;
        } else if is(b"storedist") && variant == Variant::SearchStore {
            store_distance = true;
        } else if is(b"frommember") && remaining >= 1 && geosearch && !from_lonlat {
            if let Some(zset) = zset {
                let Some(c) = position(zset, args.get(i + 1)) else {
                    return reply.error("ERR could not decode requested zset member");
                };
                center = Some(c);
            }
            from_member = true;
            i += 1;
        } else if is(b"fromlonlat") && remaining >= 2 && geosearch && !from_member {
            center = Some(match long_lat(reply, &args, i + 1) {
                Some(c) => c,
                None => return,
            });
            from_lonlat = true;
            i += 2;
        } else if is(b"byradius") && remaining >= 2 && geosearch && !by_box {
            let Some((r, conversion)) = radius(reply, &args, i + 1) else {
                return;
            };
            shape = Some((Shape::Circle(r), conversion));
            by_radius = true;
            i += 2;
        } else if is(b"bybox") && remaining >= 3 && geosearch && !by_radius {
            let Some(width) = double_arg(reply, args.get(i + 1), "ERR need numeric width") else {
                return;
            };
            let Some(height) = double_arg(reply, args.get(i + 2), "ERR need numeric height") else {
                return;
            };
            if width < 0.0 || height < 0.0 {
                return reply.error("ERR height or width cannot be negative");
            }
            let Some(conversion) = unit(args.get(i + 3)) else {
                return reply.error(BAD_UNIT);
            };
            shape = Some((Shape::Box(width, height), conversion));
            by_box = true;
            i += 3;
        } else {
            return reply.error(errors::SYNTAX);
        }
        i += 1;
    }
    if store.is_some() && (with_dist || with_hash || with_coord) {
        let what = if variant == Variant::SearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return reply.error(&format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        ));
    }
    let name = String::from_utf8_lossy(args.get(0));
    if geosearch && !(from_member || from_lonlat) {
        return reply.error(&format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        ));
    }
    if geosearch && !(by_radius || by_box) {
        return reply.error(&format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        ));
    }
    if any && count == 0 {
        return reply.error("ERR the ANY argument requires COUNT argument");
    }
    let (Some(zset), Some((longitude, latitude)), Some((shape, conversion))) =
        (zset, center, shape)
    else {
        // No source key: nothing found.
        return match store {
            Some(target) => {
                reply.int(0);
                super::keys::store_result(ctx, target, None, ZSET, "");
            }
            None => reply.array(0),
        };
    };
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let search = Search {
        longitude,
        latitude,
        shape,
        conversion,
    };
    let limit = if any { count as usize } else { 0 };
    let mut found = scan(zset, &search, limit);
    match sort {
        Sort::Asc => found.sort_by(|a, b| a.distance.total_cmp(&b.distance)),
        Sort::Desc => found.sort_by(|a, b| b.distance.total_cmp(&a.distance)),
        Sort::None => {}
    }
    if count > 0 {
        found.truncate(count as usize);
    }
    let Some(target) = store else {
        let options = usize::from(with_dist) + usize::from(with_hash) + usize::from(with_coord);
        reply.array(found.len());
        for point in &found {
            if options > 0 {
                reply.array(options + 1);
            }
            reply.bulk(&point.member);
            if with_dist {
                reply_distance(reply, point.distance / conversion);
            }
            if with_hash {
                reply.int(point.score as i64);
            }
            if with_coord {
                reply.array(2);
                reply_coordinate(reply, point.longitude);
                reply_coordinate(reply, point.latitude);
            }
        }
        return;
    };
    let limits = ctx.state.config.zset_limits();
    let mut result = ZSetValue::default();
    for point in &found {
        let score = if store_distance {
            point.distance / conversion
        } else {
            point.score
        };
        result.insert(&point.member, score, limits);
    }
    let stored = result.len();
    ctx.reply.int(stored as i64);
    let value = (stored > 0).then(|| Value::ZSet(Box::new(result)));
    let event = if geosearch {
        "geosearchstore"
    } else {
        "georadiusstore"
    };
    let changes = crate::db::Changes::begin();
    super::keys::store_result(ctx, target, value, ZSET, event);
    if stored > 0 {
        // One change per member stored, as Redis counts it.
        changes.made(stored as u64);
    }
}

pub(super) fn georadius(ctx: &mut Ctx, args: Args) {
    search_generic(ctx, args, Variant::Radius { read_only: false });
}

pub(super) fn georadius_ro(ctx: &mut Ctx, args: Args) {
    search_generic(ctx, args, Variant::Radius { read_only: true });
}

pub(super) fn georadiusbymember(ctx: &mut Ctx, args: Args) {
    search_generic(ctx, args, Variant::RadiusByMember { read_only: false });
}

pub(super) fn georadiusbymember_ro(ctx: &mut Ctx, args: Args) {
    search_generic(ctx, args, Variant::RadiusByMember { read_only: true });
}

pub(super) fn geosearch(ctx: &mut Ctx, args: Args) {
    search_generic(ctx, args, Variant::Search);
}

pub(super) fn geosearchstore(ctx: &mut Ctx, args: Args) {
    search_generic(ctx, args, Variant::SearchStore);
}
