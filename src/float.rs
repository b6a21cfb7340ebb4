//! Floating-point parsing, formatting and arithmetic with Redis's exact
//! results.
//!
//! Redis does INCRBYFLOAT in C `long double` (80-bit on x86-64) and prints
//! it with `%.17Lf`, which shows digits an `f64` cannot reproduce
//! (`1000001.10000000000002274`), and replies scores with `%.17g` after
//! parsing them with `strtod`. These run in a few lines of C
//! (`csrc/floats.c`) against the platform's libc, like redis-server itself.

use std::os::raw::{c_char, c_int};

extern "C" {
    fn rudis_long_double_add(
        current: *const c_char,
        current_len: usize,
        increment: *const c_char,
        increment_len: usize,
        out: *mut c_char,
        cap: usize,
        out_len: *mut usize,
    ) -> c_int;
    fn rudis_parse_double(s: *const c_char, len: usize, out: *mut f64) -> c_int;
    fn rudis_format_double(value: f64, out: *mut c_char, cap: usize) -> usize;
    fn rudis_parse_range_double(s: *const c_char, len: usize, out: *mut f64) -> c_int;
}

/// Parses a score range bound as Redis's `zslParseRange` (plain `strtod`):
/// leading spaces and the empty string (0) pass, trailing junk and NaN do
/// not.
pub fn parse_range_double(bytes: &[u8]) -> Option<f64> {
    let mut value = 0f64;
    // SAFETY: the pointer comes with its length; C copies it into a bounded buffer.
    let ok = unsafe {
        rudis_parse_range_double(bytes.as_ptr() as *const c_char, bytes.len(), &mut value)
    };
    (ok == 1).then_some(value)
}

/// Parses a score or float argument as Redis's `string2d` (C `strtod`):
/// `inf` and hex floats are accepted, spaces, trailing junk and NaN are not.
pub fn parse_double(bytes: &[u8]) -> Option<f64> {
    let mut value = 0f64;
    // SAFETY: the pointer comes with its length; C copies it into a bounded buffer.
    let ok =
        unsafe { rudis_parse_double(bytes.as_ptr() as *const c_char, bytes.len(), &mut value) };
    (ok == 1).then_some(value)
}

/// Formats a double as Redis 7.0 replies it: `%.17g`, with `inf`/`-inf`.
pub fn format_double(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let mut buf = [0u8; 64];
    // SAFETY: C writes at most `buf.len()` bytes and returns the length.
    let len = unsafe { rudis_format_double(value, buf.as_mut_ptr() as *mut c_char, buf.len()) };
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// Writes `value` as C's `printf("%.Nf")` does for `decimals` up to 9
/// (the exact binary value, rounded half to even), without the slow
/// path Rust's formatter takes for many values: GEO distances print
/// hundreds of these per reply.
pub fn write_fixed(out: &mut Vec<u8>, value: f64, decimals: u32) {
    debug_assert!(decimals <= 9);
    if !value.is_finite() || value.abs() >= 1e15 {
        out.extend_from_slice(format!("{value:.*}", decimals as usize).as_bytes());
        return;
    }
    let bits = value.to_bits();
    let negative = bits >> 63 == 1;
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    // value = mantissa * 2^shift exactly.
    let (mantissa, shift) = if exponent == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), exponent - 1075)
    };
    let scale = 10u128.pow(decimals);
    let scaled = u128::from(mantissa) * scale;
    let rounded = if shift >= 0 {
        scaled << shift
    } else if shift <= -127 {
        0
    } else {
        let s = (-shift) as u32;
        let quotient = scaled >> s;
        let remainder = scaled & ((1u128 << s) - 1);
        let half = 1u128 << (s - 1);
        if remainder > half || (remainder == half && quotient & 1 == 1) {
            quotient + 1
        } else {
            quotient
        }
    };
    if negative {
        out.push(b'-');
    }
    let whole = rounded / scale;
    out.extend_from_slice(itoa::Buffer::new().format(whole).as_bytes());
    if decimals > 0 {
        out.push(b'.');
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(rounded % scale).as_bytes();
        out.extend(std::iter::repeat_n(b'0', decimals as usize - digits.len()));
        out.extend_from_slice(digits);
    }
}

/// Why an addition failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatError {
    /// `ERR value is not a valid float`
    NotAFloat,
    /// `ERR increment would produce NaN or Infinity`
    NanOrInfinity,
}

/// Longest result text (Redis's `MAX_LONG_DOUBLE_CHARS`).
const MAX_CHARS: usize = 5 * 1024;

/// `current + increment` as Redis's INCRBYFLOAT computes and prints it;
/// `current` is `None` for a missing key.
pub fn add_long_double(current: Option<&[u8]>, increment: &[u8]) -> Result<Vec<u8>, FloatError> {
    let mut out = vec![0u8; MAX_CHARS];
    let mut len = 0usize;
    let (current_ptr, current_len) = match current {
        Some(bytes) => (bytes.as_ptr() as *const c_char, bytes.len()),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: every pointer comes with its length; the C side copies the
    // inputs into bounded buffers and writes at most `out.len()` bytes.
    let status = unsafe {
        rudis_long_double_add(
            current_ptr,
            current_len,
            increment.as_ptr() as *const c_char,
            increment.len(),
            out.as_mut_ptr() as *mut c_char,
            out.len(),
            &mut len,
        )
    };
    match status {
        0 => {
            out.truncate(len);
            Ok(out)
        }
        1 => Err(FloatError::NotAFloat),
        _ => Err(FloatError::NanOrInfinity),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_matches_printf() {
        let fixed = |v: f64, d: u32| {
            let mut out = Vec::new();
            write_fixed(&mut out, v, d);
            String::from_utf8(out).unwrap()
        };
        for v in [
            0.0,
            -0.0,
            1.0,
            0.5,
            1.00005,
            2.00005,
            123.45675,
            166274.1516,
            0.00004999,
            1e-300,
            9.99995,
            19999.99999,
            -3.25159,
            1e14 + 0.5,
        ] {
            assert_eq!(fixed(v, 4), format!("{v:.4}"), "{v}");
        }
    }

    fn add(a: &str, b: &str) -> String {
        String::from_utf8(add_long_double(Some(a.as_bytes()), b.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn matches_redis_digits() {
        assert_eq!(add("0.1", "0.2"), "0.3");
        assert_eq!(add("10", "1.1"), "11.1");
        assert_eq!(add("1000000", "1.1"), "1000001.10000000000002274");
        assert_eq!(add("3.0e3", "2.0e2"), "3200");
        assert_eq!(add("1.5", "-1.5"), "0");
        assert_eq!(add("-0.1", "0"), "-0.1");
        assert_eq!(add("1", "0x10"), "17");
    }

    #[test]
    fn doubles_as_redis_prints_them() {
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(parse_double(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_double(b"1e"), None);
        assert_eq!(parse_double(b" 1"), None);
        assert_eq!(parse_double(b"nan"), None);
        assert_eq!(parse_double(b"0x10"), Some(16.0));
        assert_eq!(parse_range_double(b""), Some(0.0));
        assert_eq!(parse_range_double(b" 1"), Some(1.0));
        assert_eq!(parse_range_double(b"1x"), None);
    }

    #[test]
    fn rejects_what_redis_rejects() {
        assert_eq!(
            add_long_double(Some(b"1 "), b"1"),
            Err(FloatError::NotAFloat)
        );
        assert_eq!(
            add_long_double(Some(b"1"), b" 1"),
            Err(FloatError::NotAFloat)
        );
        assert_eq!(
            add_long_double(Some(b"1"), b"nan"),
            Err(FloatError::NotAFloat)
        );
        assert_eq!(add_long_double(Some(b"1"), b""), Err(FloatError::NotAFloat));
        assert_eq!(
            add_long_double(None, b"inf"),
            Err(FloatError::NanOrInfinity)
        );
        assert_eq!(add_long_double(None, b"1.5").unwrap(), b"1.5");
    }
}
