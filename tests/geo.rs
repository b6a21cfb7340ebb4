//! Geo commands against redis-server: GEOADD's options and refusals,
//! GEODIST in every unit, GEOHASH, GEOPOS, and the GEORADIUS family and
//! GEOSEARCH/GEOSEARCHSTORE with every option and error, byte for byte
//! (the same scores, distances and coordinate digits); then many random
//! searches over random points, by radius and by box, near the poles and
//! the antimeridian too.

mod common;

#[test]
fn geo_commands_match_redis() {
    common::assert_same_replies(&[
        "geoadd Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "geoadd Sicily 13.583333 37.316667 Agrigento",
        "geoadd Sicily nx 13.583333 37.316667 Agrigento 12.758489 38.788135 edge1",
        "geoadd Sicily xx ch 13.5 37.3 Agrigento 12.1 38.1 newone",
        "geoadd Sicily nx xx 1 1 a",
        "geoadd Sicily 1 1",
        "geoadd Sicily 200 1 a",
        "geoadd Sicily 1 86 a",
        "geoadd Sicily x 1 a",
        "geoadd Sicily ch",
        "zrange Sicily 0 -1 withscores",
        "geodist Sicily Palermo Catania",
        "geodist Sicily Palermo Catania km",
        "geodist Sicily Palermo Catania MI",
        "geodist Sicily Palermo Catania ft",
        "geodist Sicily Palermo Catania foo",
        "geodist Sicily Palermo nosuch",
        "geodist nokey a b",
        "geodist Sicily Palermo Catania km x",
        "geohash Sicily Palermo Catania nosuch",
        "geohash nokey a",
        "geopos Sicily Palermo Catania nosuch",
        "geopos nokey a",
        "georadius Sicily 15 37 200 km withdist withcoord",
        "georadius Sicily 15 37 200 km withdist withcoord withhash asc",
        "georadius Sicily 15 37 200 km desc",
        "georadius Sicily 15 37 200 km count 1",
        "georadius Sicily 15 37 200 km count 1 any",
        "georadius Sicily 15 37 200 km any",
        "georadius Sicily 15 37 200 km count 0",
        "georadius Sicily 15 37 200 km count x",
        "georadius Sicily 15 37 -1 km",
        "georadius Sicily 15 37 x km",
        "georadius Sicily 15 37 200 parsec",
        "georadius Sicily 15 37 200 km foo",
        "georadius Sicily 15 37 200 km store dst",
        "zrange dst 0 -1 withscores",
        "georadius Sicily 15 37 200 km storedist dst2",
        "zrange dst2 0 -1 withscores",
        "georadius Sicily 15 37 200 km store dst withdist",
        "georadius Sicily 15 37 1 km store dst",
        "exists dst",
        "georadius_ro Sicily 15 37 200 km store dst",
        "georadius_ro Sicily 15 37 200 km withdist",
        "georadiusbymember Sicily Palermo 200 km withdist",
        "georadiusbymember Sicily nosuch 200 km",
        "georadiusbymember nokey nosuch 200 xx",
        "georadiusbymember nokey nosuch 200 km store dst3",
        "georadiusbymember_ro Sicily Agrigento 100 km withcoord",
        "geosearch Sicily frommember Palermo byradius 200 km asc withdist",
        "geosearch Sicily fromlonlat 15 37 bybox 400 400 km asc withcoord withdist withhash",
        "geosearch Sicily fromlonlat 15 37 bybox 400 400 km desc count 2",
        "geosearch Sicily fromlonlat 15 37 bybox -1 400 km",
        "geosearch Sicily fromlonlat 15 37 bybox a 400 km",
        "geosearch Sicily fromlonlat 15 37 bybox 1 a km",
        "geosearch Sicily fromlonlat 15 37",
        "geosearch Sicily byradius 10 km",
        "GEOsearch Sicily byradius 10 km",
        "geosearch Sicily frommember Palermo fromlonlat 15 37 byradius 10 km",
        "geosearch Sicily frommember Palermo byradius 10 km bybox 1 1 km",
        "geosearch Sicily frommember nosuch byradius 10 km",
        "geosearch nokey frommember nosuch byradius 10 km",
        "geosearch Sicily frommember Palermo byradius 10 km store x",
        "geosearch Sicily frommember Palermo byradius 10 km storedist",
        "geosearchstore dst4 Sicily frommember Palermo byradius 300 km",
        "zrange dst4 0 -1 withscores",
        "geosearchstore dst5 Sicily frommember Palermo byradius 300 km storedist count 2 desc",
        "zrange dst5 0 -1 withscores",
        "geosearchstore dst5 Sicily frommember Palermo byradius 300 km withdist",
        "geosearchstore dst5 nokey frommember Palermo byradius 300 km",
        "exists dst5",
        "set str x",
        "geoadd str 1 1 a",
        "geopos str a",
        "georadius str 1 1 1 km",
        "geosearch str fromlonlat 1 1 byradius 1 km",
        "geoadd world 0 0 origin -179.9 0 date1 179.9 0 date2 0 85 north 0 -85 south 100 50 far",
        "georadius world 0 0 20000 km withdist asc",
        "georadius world 179 0 300 km withdist asc",
        "geosearch world fromlonlat 0 84.9 byradius 500 km withdist",
        "geosearch world fromlonlat 0 0 bybox 40000 40000 km withdist asc",
        "geodist world date1 date2",
        "geodist world north south",
        "geopos world north south date1",
        "geohash world north south date1 date2 origin",
        "?HELLO 3",
        "geopos Sicily Palermo",
        "georadius Sicily 15 37 200 km withdist withcoord",
        "geodist Sicily Palermo nosuch",
        "geopos Sicily nosuch",
    ]);
}

/// xorshift64, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in [lo, hi) with six decimals.
    fn coordinate(&mut self, lo: f64, hi: f64) -> String {
        let unit = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        format!("{:.6}", lo + (hi - lo) * unit)
    }
}

#[test]
fn random_searches_match_redis() {
    let mut rng = Rng(0x6e0);
    let mut script = Vec::new();
    for batch in 0..20 {
        let mut line = "GEOADD points".to_string();
        for i in 0..100 {
            let lon = rng.coordinate(-180.0, 180.0);
            let lat = rng.coordinate(-85.0, 85.0);
            line.push_str(&format!(" {lon} {lat} p{batch}_{i}"));
        }
        script.push(line);
    }
    // A dense cluster, so small searches find something.
    let mut line = "GEOADD points".to_string();
    for i in 0..200 {
        let lon = rng.coordinate(2.0, 2.5);
        let lat = rng.coordinate(48.6, 49.0);
        line.push_str(&format!(" {lon} {lat} paris{i}"));
    }
    script.push(line);
    for i in 0..150 {
        let (lon, lat) = if i % 2 == 0 {
            (rng.coordinate(2.0, 2.5), rng.coordinate(48.6, 49.0))
        } else {
            (rng.coordinate(-180.0, 180.0), rng.coordinate(-85.0, 85.0))
        };
        let radius = [1, 5, 20, 100, 500, 2000, 6000][(rng.next() % 7) as usize];
        let unit = ["m", "km", "mi", "ft"][(rng.next() % 4) as usize];
        let scaled = if unit == "m" || unit == "ft" {
            radius * 1000
        } else {
            radius
        };
        script.push(format!(
            "GEOSEARCH points FROMLONLAT {lon} {lat} BYRADIUS {scaled} {unit} WITHDIST WITHCOORD WITHHASH ASC"
        ));
        script.push(format!(
            "GEOSEARCH points FROMLONLAT {lon} {lat} BYBOX {scaled} {} {unit} WITHDIST DESC COUNT 20",
            scaled / 2 + 1
        ));
        script.push(format!(
            "GEORADIUS points {lon} {lat} {scaled} {unit} WITHDIST COUNT 5"
        ));
        script.push(format!("~GEORADIUS points {lon} {lat} {scaled} {unit}"));
    }
    script.push("GEOSEARCHSTORE stored points FROMMEMBER paris0 BYRADIUS 30 km STOREDIST".into());
    script.push("ZRANGE stored 0 -1 WITHSCORES".into());
    let refs: Vec<&str> = script.iter().map(String::as_str).collect();
    common::assert_same_replies(&refs);
}
