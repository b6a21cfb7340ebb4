/*
 * Number parsing and formatting done by the platform's C library, so the
 * digits rudis prints are the digits redis-server prints: Redis parses
 * scores with strtod and replies them with "%.17g", and does INCRBYFLOAT
 * with strtold, long double addition and "%.17Lf". Rust has no 80-bit
 * float and formats doubles differently, so these few operations live here.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest number text accepted or produced (Redis's MAX_LONG_DOUBLE_CHARS). */
#define MAX_CHARS (5 * 1024)

/* Parses `len` bytes as a long double: no leading space, no trailing junk,
 * no NaN, no overflow to infinity, no underflow to zero. */
static int parse(const char *s, size_t len, long double *out) {
    char buf[MAX_CHARS];
    char *end;
    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    long double value = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || *end != '\0' || (size_t)(end - buf) != len) return 0;
    if (errno == ERANGE && (value == HUGE_VALL || value == -HUGE_VALL || fpclassify(value) == FP_ZERO)) return 0;
    if (isnan(value)) return 0;
    *out = value;
    return 1;
}

/* Writes `value` as "%.17Lf" with trailing zeros (and a bare point)
 * removed, "-0" becoming "0". Returns the length, 0 if it does not fit. */
static size_t format_human(long double value, char *out, size_t cap) {
    int n = snprintf(out, cap, "%.17Lf", value);
    if (n < 0 || (size_t)n + 1 > cap) return 0;
    size_t len = (size_t)n;
    if (strchr(out, '.') != NULL) {
        while (len > 0 && out[len - 1] == '0') len--;
        if (len > 0 && out[len - 1] == '.') len--;
    }
    if (len == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        len = 1;
    }
    return len;
}

/* current + increment, formatted into `out`. `current` may be NULL (a
 * missing key counts as 0). Returns 0 on success, 1 if an operand is not a
 * valid float, 2 if the result is NaN or infinite. */
int rudis_long_double_add(const char *current, size_t current_len, const char *increment,
                          size_t increment_len, char *out, size_t cap, size_t *out_len) {
    long double a = 0, b;
    if (current != NULL && !parse(current, current_len, &a)) return 1;
    if (!parse(increment, increment_len, &b)) return 1;
    long double sum = a + b;
    if (isnan(sum) || isinf(sum)) return 2;
    *out_len = format_human(sum, out, cap);
    return 0;
}

/* Parses `len` bytes as a double the way Redis's string2d does: strtod, no
 * leading space, no trailing junk, no NaN, no overflow or underflow to 0.
 * Returns 1 and sets *out on success. */
int rudis_parse_double(const char *s, size_t len, double *out) {
    char buf[MAX_CHARS];
    char *end;
    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    double value = strtod(buf, &end);
    if (isspace((unsigned char)buf[0]) || *end != '\0' || (size_t)(end - buf) != len) return 0;
    if (errno == ERANGE && (value == HUGE_VAL || value == -HUGE_VAL || fpclassify(value) == FP_ZERO)) return 0;
    if (isnan(value)) return 0;
    *out = value;
    return 1;
}

/* Formats a double with "%.17g", as Redis 7.0 replies scores. */
size_t rudis_format_double(double value, char *out, size_t cap) {
    int n = snprintf(out, cap, "%.17g", value);
    return (n < 0 || (size_t)n >= cap) ? 0 : (size_t)n;
}

/* Parses a score range bound the way Redis's zslParseRange does: plain
 * strtod, so leading spaces and an empty string (0) are accepted; only
 * trailing junk and NaN are refused. Returns 1 and sets *out on success. */
int rudis_parse_range_double(const char *s, size_t len, double *out) {
    char buf[MAX_CHARS];
    char *end;
    if (len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    double value = strtod(buf, &end);
    if (*end != '\0' || isnan(value)) return 0;
    *out = value;
    return 1;
}
