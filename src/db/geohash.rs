//! Geohashes as Redis keeps them (`geohash.c`, `geohash_helper.c`): a
//! point is the 52-bit interleave of its longitude and latitude (26 bits
//! each, latitude limited to the Web Mercator band) stored as a sorted
//! set score; a search covers the cell of the center at a precision
//! chosen from the radius, and its eight neighbors, each a score range.
//! The arithmetic follows Redis's step for step so that scores, decoded
//! coordinates and distances carry the same digits.

pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
pub const LAT_MIN: f64 = -85.051_128_78;
pub const LAT_MAX: f64 = 85.051_128_78;
pub const STEP_MAX: u8 = 26;
const EARTH_RADIUS_IN_METERS: f64 = 6_372_797.560_856;
const MERCATOR_MAX: f64 = 20_037_726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

/// A cell: `step` bits of precision on each axis, interleaved.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Hash {
    pub bits: u64,
    pub step: u8,
}

impl Hash {
    fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Area {
    pub long_min: f64,
    pub long_max: f64,
    pub lat_min: f64,
    pub lat_max: f64,
}

#[derive(Clone, Copy)]
pub struct Range {
    min: f64,
    max: f64,
}

const LONG_RANGE: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
const LAT_RANGE: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

fn interleave(x: u32, y: u32) -> u64 {
    let spread = |v: u32| {
        let mut v = u64::from(v);
        v = (v | (v << 16)) & 0x0000_FFFF_0000_FFFF;
        v = (v | (v << 8)) & 0x00FF_00FF_00FF_00FF;
        v = (v | (v << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
        v = (v | (v << 2)) & 0x3333_3333_3333_3333;
        (v | (v << 1)) & 0x5555_5555_5555_5555
    };
    spread(x) | (spread(y) << 1)
}

fn deinterleave(bits: u64) -> u64 {
    let squash = |v: u64| {
        let mut v = v & 0x5555_5555_5555_5555;
        v = (v | (v >> 1)) & 0x3333_3333_3333_3333;
        v = (v | (v >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
        v = (v | (v >> 4)) & 0x00FF_00FF_00FF_00FF;
        v = (v | (v >> 8)) & 0x0000_FFFF_0000_FFFF;
        (v | (v >> 16)) & 0x0000_0000_FFFF_FFFF
    };
    squash(bits) | (squash(bits >> 1) << 32)
}

/// `geohashEncode` over the given ranges; `None` outside them.
fn encode_in(
    long_range: Range,
    lat_range: Range,
    longitude: f64,
    latitude: f64,
    step: u8,
) -> Option<Hash> {
    if step == 0 || step > 32 {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&longitude) || !(LAT_MIN..=LAT_MAX).contains(&latitude) {
        return None;
    }
    if latitude < lat_range.min
        || latitude > lat_range.max
        || longitude < long_range.min
        || longitude > long_range.max
    {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_offset = (latitude - lat_range.min) / (lat_range.max - lat_range.min) * scale;
    let long_offset = (longitude - long_range.min) / (long_range.max - long_range.min) * scale;
    Some(Hash {
        bits: interleave(lat_offset as u32, long_offset as u32),
        step,
    })
}

pub fn encode(longitude: f64, latitude: f64, step: u8) -> Option<Hash> {
    encode_in(LONG_RANGE, LAT_RANGE, longitude, latitude, step)
}

/// The standard geohash (latitude -90..90) GEOHASH prints.
pub fn encode_standard(longitude: f64, latitude: f64) -> Option<Hash> {
    let long = Range {
        min: -180.0,
        max: 180.0,
    };
    let lat = Range {
        min: -90.0,
        max: 90.0,
    };
    encode_in(long, lat, longitude, latitude, STEP_MAX)
}

fn decode(hash: Hash) -> Option<Area> {
    if hash.is_zero() {
        return None;
    }
    let separated = deinterleave(hash.bits);
    let lat_scale = LAT_MAX - LAT_MIN;
    let long_scale = LONG_MAX - LONG_MIN;
    let ilato = separated as u32;
    let ilono = (separated >> 32) as u32;
    let cells = (1u64 << hash.step) as f64;
    Some(Area {
        lat_min: LAT_MIN + (f64::from(ilato) * 1.0 / cells) * lat_scale,
        lat_max: LAT_MIN + ((f64::from(ilato) + 1.0) * 1.0 / cells) * lat_scale,
        long_min: LONG_MIN + (f64::from(ilono) * 1.0 / cells) * long_scale,
        long_max: LONG_MIN + ((f64::from(ilono) + 1.0) * 1.0 / cells) * long_scale,
    })
}

/// The center of a score's cell: longitude, latitude (`decodeGeohash`).
pub fn decode_score(score: f64) -> Option<(f64, f64)> {
    let area = decode(Hash {
        bits: score as u64,
        step: STEP_MAX,
    })?;
    let longitude = ((area.long_min + area.long_max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let latitude = ((area.lat_min + area.lat_max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    Some((longitude, latitude))
}

/// A cell's bits moved to the top of a 52-bit score.
pub fn align52(hash: Hash) -> u64 {
    hash.bits << (52 - u32::from(hash.step) * 2)
}

fn move_x(hash: &mut Hash, d: i8) {
    if d == 0 {
        return;
    }
    let shift = 64 - u32::from(hash.step) * 2;
    let mut x = hash.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = hash.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64 >> shift;
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    hash.bits = x | y;
}

fn move_y(hash: &mut Hash, d: i8) {
    if d == 0 {
        return;
    }
    let shift = 64 - u32::from(hash.step) * 2;
    let x = hash.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let mut y = hash.bits & 0x5555_5555_5555_5555;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555_5555_5555_5555u64 >> shift;
    hash.bits = x | y;
}

/// The cell and its neighbors, in the order Redis searches them: self,
/// north, south, east, west, north-east, north-west, south-east,
/// south-west.
fn neighbors(hash: Hash) -> [Hash; 9] {
    let moved = |dx: i8, dy: i8| {
        let mut h = hash;
        move_x(&mut h, dx);
        move_y(&mut h, dy);
        h
    };
    [
        hash,
        moved(0, 1),
        moved(0, -1),
        moved(1, 0),
        moved(-1, 0),
        moved(1, 1),
        moved(-1, 1),
        moved(1, -1),
        moved(-1, -1),
    ]
}

fn deg_rad(angle: f64) -> f64 {
    angle * D_R
}

fn rad_deg(angle: f64) -> f64 {
    angle / D_R
}

/// The precision whose cells are about the size of the radius
/// (`geohashEstimateStepsByRadius`).
fn steps_for_radius(mut range_meters: f64, latitude: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&latitude) {
        step -= 1;
        if !(-80.0..=80.0).contains(&latitude) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// What a search covers.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// Radius, in the unit's meters.
    Circle(f64),
    /// Width and height.
    Box(f64, f64),
}

/// A search: its center, its shape, and meters per unit.
#[derive(Clone, Copy, Debug)]
pub struct Search {
    pub longitude: f64,
    pub latitude: f64,
    pub shape: Shape,
    pub conversion: f64,
}

impl Search {
    /// The bounding box: min longitude, min latitude, max longitude, max
    /// latitude (`geohashBoundingBox`).
    fn bounds(&self) -> [f64; 4] {
        let (height, width) = match self.shape {
            Shape::Circle(r) => (r, r),
            Shape::Box(w, h) => (h / 2.0, w / 2.0),
        };
        let (height, width) = (height * self.conversion, width * self.conversion);
        let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
        let long_delta_top =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.latitude + lat_delta).cos());
        let long_delta_bottom =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.latitude - lat_delta).cos());
        let long_delta = if self.latitude < 0.0 {
            long_delta_bottom
        } else {
            long_delta_top
        };
        [
            self.longitude - long_delta,
            self.latitude - lat_delta,
            self.longitude + long_delta,
            self.latitude + lat_delta,
        ]
    }

    /// The cells to scan (`geohashCalculateAreasByShapeWGS84`): the
    /// center's and its neighbors, those outside the box left out.
    pub fn cells(&self) -> Vec<Hash> {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let radius_meters = match self.shape {
            Shape::Circle(r) => r,
            Shape::Box(w, h) => ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt(),
        } * self.conversion;
        let mut steps = steps_for_radius(radius_meters, self.latitude);
        let at = |steps| encode(self.longitude, self.latitude, steps).unwrap_or_default();
        let mut hash = at(steps);
        let mut around = neighbors(hash);
        let area_of = |h: Hash| decode(h).unwrap_or_default();
        let decrease = area_of(around[1]).lat_max < max_lat
            || area_of(around[2]).lat_min > min_lat
            || area_of(around[3]).long_max < max_lon
            || area_of(around[4]).long_min > min_lon;
        if steps > 1 && decrease {
            steps -= 1;
            hash = at(steps);
            around = neighbors(hash);
        }
        let area = area_of(hash);
        if steps >= 2 {
            let mut drop = |indexes: [usize; 3]| {
                for i in indexes {
                    around[i] = Hash::default();
                }
            };
            if area.lat_min < min_lat {
                drop([2, 8, 7]);
            }
            if area.lat_max > max_lat {
                drop([1, 5, 6]);
            }
            if area.long_min < min_lon {
                drop([4, 8, 6]);
            }
            if area.long_max > max_lon {
                drop([3, 7, 5]);
            }
        }
        // A neighbor equal to the one scanned just before is skipped (huge
        // radii make them coincide); as in Redis, the center cell is never
        // the one compared with.
        let mut cells: Vec<Hash> = Vec::with_capacity(9);
        let mut last = 0;
        for (i, cell) in around.into_iter().enumerate() {
            if cell.is_zero() || (last > 0 && around[last] == cell) {
                continue;
            }
            cells.push(cell);
            last = i;
        }
        cells
    }

    /// The distance of a point from the center if it is inside the shape
    /// (`geoWithinShape`).
    pub fn distance_if_within(&self, longitude: f64, latitude: f64) -> Option<f64> {
        match self.shape {
            Shape::Circle(radius) => {
                let d = distance(self.longitude, self.latitude, longitude, latitude);
                (d <= radius * self.conversion).then_some(d)
            }
            Shape::Box(w, h) => {
                let (w, h) = (w * self.conversion, h * self.conversion);
                if lat_distance(latitude, self.latitude) > h / 2.0 {
                    return None;
                }
                if distance(longitude, latitude, self.longitude, latitude) > w / 2.0 {
                    return None;
                }
                Some(distance(self.longitude, self.latitude, longitude, latitude))
            }
        }
    }
}

/// The score range `[min, max)` of a cell (`scoresOfGeoHashBox`).
pub fn score_range(hash: Hash) -> (f64, f64) {
    let min = align52(hash);
    let max = align52(Hash {
        bits: hash.bits + 1,
        step: hash.step,
    });
    (min as f64, max as f64)
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// The haversine distance in meters (`geohashGetDistance`).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (lon1r, lon2r) = (deg_rad(lon1), deg_rad(lon2));
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (deg_rad(lat1), deg_rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        for (x, y) in [
            (0u32, 0u32),
            (1, 2),
            (0xdead_beef, 0x1234_5678),
            (u32::MAX, 7),
        ] {
            let separated = deinterleave(interleave(x, y));
            assert_eq!((separated as u32, (separated >> 32) as u32), (x, y));
        }
    }

    #[test]
    fn palermo_scores_as_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" gives this score.
        let hash = encode(13.361389, 38.115556, STEP_MAX).unwrap();
        assert_eq!(align52(hash), 3_479_099_956_230_698);
        let (lon, lat) = decode_score(3_479_099_956_230_698.0).unwrap();
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
    }
}
