//! Glob matching with Redis's `stringmatchlen` semantics, used for ACL key
//! (`~pattern`) and channel (`&pattern`) rules. Pure, allocation-free.
//!
//! Semantics (as Redis): `*` any run of bytes, `?` one byte, `[abc]`,
//! `[^abc]`, `[a-z]` (reversed ranges allowed) classes, `\x` escapes `x`
//! (inside classes too); an unterminated class ends at the end of the
//! pattern; a trailing lone `\` is a literal backslash. Case-sensitive.
//!
//! Invariant: runs in O(pattern × subject) time: a `*` is retried from the
//! last star only (classic backtracking), never recursively, so a hostile
//! pattern in the configuration cannot make a check exponential.

/// Whether `subject` matches the glob `pattern`.
#[must_use]
pub fn matches(pattern: &[u8], subject: &[u8]) -> bool {
    let (mut p, mut s) = (0usize, 0usize);
    // Where to resume after the last `*`: (pattern index after it, subject index).
    let mut star: Option<(usize, usize)> = None;
    loop {
        match pattern.get(p) {
            Some(b'*') => {
                while pattern.get(p) == Some(&b'*') {
                    p += 1;
                }
                if p == pattern.len() {
                    return true;
                }
                star = Some((p, s));
                continue;
            }
            Some(_) => {
                if let Some(next) = subject.get(s).and_then(|&c| atom(pattern, p, c)) {
                    p = next;
                    s += 1;
                    continue;
                }
            }
            None if s == subject.len() => return true,
            None => {}
        }
        // Mismatch: let the last `*` swallow one more byte, if any is left.
        match star {
            Some((sp, ss)) if ss < subject.len() => {
                star = Some((sp, ss + 1));
                p = sp;
                s = ss + 1;
            }
            _ => return false,
        }
    }
}

/// Whether the single-byte atom at `pattern[p]` (not `*`) matches `c`; the
/// index after the atom if so.
fn atom(pattern: &[u8], p: usize, c: u8) -> Option<usize> {
    match pattern.get(p)? {
        b'?' => Some(p + 1),
        b'[' => class(pattern, p + 1, c),
        b'\\' => match pattern.get(p + 1) {
            Some(&lit) => (lit == c).then_some(p + 2),
            None => (c == b'\\').then_some(p + 1),
        },
        &lit => (lit == c).then_some(p + 1),
    }
}

/// A class starting after its `[` at `q`: the index after its `]` (or the
/// pattern's end) when `c` is in it (or not in it, for `[^…]`).
fn class(pattern: &[u8], mut q: usize, c: u8) -> Option<usize> {
    let negated = pattern.get(q) == Some(&b'^');
    if negated {
        q += 1;
    }
    let mut hit = false;
    loop {
        match pattern.get(q) {
            None => break,
            Some(b']') => {
                q += 1;
                break;
            }
            Some(b'\\') if q + 1 < pattern.len() => {
                hit |= pattern.get(q + 1) == Some(&c);
                q += 2;
            }
            Some(&lo) => match (pattern.get(q + 1), pattern.get(q + 2)) {
                (Some(b'-'), Some(&hi)) => {
                    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
                    hit |= (lo..=hi).contains(&c);
                    q += 3;
                }
                _ => {
                    hit |= lo == c;
                    q += 1;
                }
            },
        }
    }
    (hit != negated).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::matches;

    fn m(p: &str, s: &str) -> bool {
        matches(p.as_bytes(), s.as_bytes())
    }

    #[test]
    fn literals_and_wildcards() {
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("app:*", "app:1"));
        assert!(m("app:*", "app:"));
        assert!(!m("app:*", "ap"));
        assert!(!m("app:*", "other"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!m("*a*b*c*", "xxaxxcxxbxx"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h**llo", "hllo"));
        assert!(!m("abc", "ABC"));
    }

    #[test]
    fn classes_and_escapes() {
        assert!(m("h[ae]llo", "hello"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("[\\]]", "]"));
        assert!(m("a\\", "a\\"));
        // An unterminated class runs to the end of the pattern.
        assert!(m("[ab", "a"));
        assert!(!m("[ab", "c"));
        assert!(m("*[0-9]", "key7"));
        assert!(!m("*[0-9]", "key"));
    }

    #[test]
    fn hostile_pattern_is_quick() {
        let subject = "a".repeat(2000);
        let pattern = format!("{}b", "*a".repeat(50));
        assert!(!m(&pattern, &subject));
    }
}
