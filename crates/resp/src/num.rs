//! Small byte-level helpers that must behave exactly like their C
//! counterparts in Redis (`string2ll` from util.c, `isspace` in the C locale,
//! the hex helpers of sds.c), because acceptance of client input hinges on
//! them.

/// Redis's `string2ll`: a strict decimal `i64`. No sign other than a leading
/// `-`, no leading zeros (except `"0"` itself), no `"-0"`, no surrounding
/// spaces, at most 20 bytes. Anything else is `None`.
pub fn string2ll(s: &[u8]) -> Option<i64> {
    // LONG_STR_SIZE is 21: Redis rejects 21+ byte strings before looking at them.
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (first, rest) = digits.split_first()?;
    if !(b'1'..=b'9').contains(first) {
        return None;
    }
    let mut v = u64::from(first - b'0');
    for &c in rest {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(v)
    } else {
        i64::try_from(v).ok()
    }
}

/// The common header number of the wire protocol, read in one pass: a
/// canonical non-negative decimal (no sign, no leading zero except `0`
/// itself, at most 18 digits) at the start of `digits`, ended by `\r`.
/// Returns its value and the offset of the `\r`; `None` for anything else
/// (the callers' general paths then decide).
#[inline]
pub(crate) fn header_number(digits: &[u8]) -> Option<(u64, usize)> {
    let mut value = match digits.first() {
        Some(&b @ b'0'..=b'9') => u64::from(b - b'0'),
        _ => return None,
    };
    let mut i = 1;
    loop {
        match digits.get(i) {
            Some(&b @ b'0'..=b'9') if i < 18 && value != 0 => {
                value = value * 10 + u64::from(b - b'0');
                i += 1;
            }
            Some(b'\r') => return Some((value, i)),
            _ => return None,
        }
    }
}

/// C `isspace` in the "C" locale: space, \t, \n, \v, \f, \r.
/// (`u8::is_ascii_whitespace` leaves out \v, which sdssplitargs skips.)
pub(crate) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Value of an ASCII hex digit, `None` for anything else.
pub(crate) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Number of decimal digits of `n` (the length of its `itoa` rendering).
pub(crate) fn decimal_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_matches_redis() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"1"), Some(1));
        assert_eq!(string2ll(b"-1"), Some(-1));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(string2ll(b"9223372036854775808"), None);
        assert_eq!(string2ll(b"-9223372036854775809"), None);
        assert_eq!(string2ll(b"99999999999999999999"), None);
        assert_eq!(string2ll(b"123456789012345678901"), None);
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"00",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1a",
            b"0x1",
            b"--1",
        ] {
            assert_eq!(string2ll(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn c_space_and_hex() {
        for b in [b' ', b'\t', b'\n', 0x0b, 0x0c, b'\r'] {
            assert!(is_c_space(b));
        }
        assert!(!is_c_space(b'a'));
        assert!(!is_c_space(0));
        assert_eq!(hex_value(b'f'), Some(15));
        assert_eq!(hex_value(b'F'), Some(15));
        assert_eq!(hex_value(b'9'), Some(9));
        assert_eq!(hex_value(b'g'), None);
    }

    #[test]
    fn decimal_len_matches_itoa() {
        for n in [0usize, 9, 10, 99, 100, 12345, usize::MAX] {
            assert_eq!(decimal_len(n), itoa::Buffer::new().format(n).len());
        }
    }
}
