//! Redis's glob-style pattern matching (`stringmatchlen`), used by
//! `CONFIG GET`, `KEYS`, `SCAN MATCH` and `CLIENT` filters.
//!
//! `*` any run, `?` any byte, `[abc]`, `[a-z]`, `[^x]` classes, and `\x` for
//! a literal `x`. Matching is on bytes, as keys are binary-safe.

/// Does `text` match `pattern`? `nocase` folds ASCII case.
pub fn glob_match(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    // Iterative backtracking on the last `*` only: linear-ish, and it cannot
    // blow the stack on a hostile pattern like `a*a*a*...b`.
    let fold = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, t));
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = match_class(pattern, p, text[t], nocase) {
                        if matched {
                            p = next;
                            t += 1;
                            continue;
                        }
                    }
                }
                b'\\' if p + 1 < pattern.len() => {
                    if fold(pattern[p + 1]) == fold(text[t]) {
                        p += 2;
                        t += 1;
                        continue;
                    }
                }
                c => {
                    if fold(c) == fold(text[t]) {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
            }
        }
        // Mismatch: let the last `*` swallow one more byte, or fail.
        match star {
            Some((star_p, star_t)) => {
                p = star_p;
                t = star_t + 1;
                star = Some((star_p, star_t + 1));
            }
            None => return false,
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

/// Matches `byte` against the class starting at `pattern[open] == b'['`.
/// Returns whether it matched and where the pattern continues. As in Redis,
/// an unterminated class runs to the end of the pattern.
fn match_class(pattern: &[u8], open: usize, byte: u8, nocase: bool) -> Option<(bool, usize)> {
    let fold = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
    let byte = fold(byte);
    let mut i = open + 1;
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    loop {
        match pattern.get(i) {
            None => {
                // Redis treats the end as the closing bracket.
                return Some((matched != negate, i));
            }
            Some(b']') => return Some((matched != negate, i + 1)),
            Some(b'\\') if i + 1 < pattern.len() => {
                if fold(pattern[i + 1]) == byte {
                    matched = true;
                }
                i += 2;
            }
            Some(&lo) if pattern.get(i + 1) == Some(&b'-') && i + 2 < pattern.len() => {
                let hi = pattern[i + 2];
                let (lo, hi) = if lo > hi { (hi, lo) } else { (lo, hi) };
                if (fold(lo)..=fold(hi)).contains(&byte) || (lo..=hi).contains(&byte) {
                    matched = true;
                }
                i += 3;
            }
            Some(&c) => {
                if fold(c) == byte {
                    matched = true;
                }
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        let yes: &[(&str, &str)] = &[
            ("*", ""),
            ("*", "abc"),
            ("a*", "abc"),
            ("*c", "abc"),
            ("a?c", "abc"),
            ("h[ae]llo", "hello"),
            ("h[^e]llo", "hallo"),
            ("h[a-b]llo", "hbllo"),
            ("h\\*llo", "h*llo"),
            ("*a*b*", "xxaxxbxx"),
            ("key:*", "key:000000001"),
        ];
        for (p, t) in yes {
            assert!(glob_match(p.as_bytes(), t.as_bytes(), false), "{p} ~ {t}");
        }
        let no: &[(&str, &str)] = &[
            ("a*", "bc"),
            ("a?c", "ac"),
            ("h[^e]llo", "hello"),
            ("h[a-b]llo", "hcllo"),
            ("h\\*llo", "hello"),
            ("abc", "abcd"),
        ];
        for (p, t) in no {
            assert!(!glob_match(p.as_bytes(), t.as_bytes(), false), "{p} !~ {t}");
        }
        assert!(glob_match(b"MAX*", b"maxclients", true));
    }

    #[test]
    fn hostile_patterns_finish() {
        let pattern = "a*".repeat(50) + "b";
        let text = "a".repeat(5000);
        assert!(!glob_match(pattern.as_bytes(), text.as_bytes(), false));
    }
}
