//! Formatting of doubles exactly as Redis 7.0's `addReplyDouble`: C's
//! `printf("%.17g")` for finite values, `inf` / `-inf` for infinities (glibc
//! prints NaN as `nan` / `-nan`).
//!
//! `%.17g` is reproduced from Rust's exact `{:.16e}` rendering (the same 17
//! correctly rounded significant digits), then laid out with `%g`'s rules:
//! fixed notation when the decimal exponent X satisfies -4 <= X < 17,
//! scientific otherwise, trailing zeros of the fraction removed.

use smallvec::SmallVec;

/// Enough for the longest `%.17g` output (`-1.2345678901234567e-308`).
pub(super) type DoubleText = SmallVec<[u8; 32]>;

const PRECISION: i32 = 17;

pub(super) fn format_g17(v: f64) -> DoubleText {
    let mut out = DoubleText::new();
    if v.is_sign_negative() {
        out.push(b'-');
    }
    if v.is_nan() {
        out.extend_from_slice(b"nan");
        return out;
    }
    if v.is_infinite() {
        out.extend_from_slice(b"inf");
        return out;
    }
    if v == 0.0 {
        out.push(b'0');
        return out;
    }
    let sci = format!("{:.16e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: SmallVec<[u8; 17]> = mantissa.bytes().filter(u8::is_ascii_digit).collect();

    if !(-4..PRECISION).contains(&exp) {
        let (first, rest) = digits.split_first().unwrap_or((&b'0', &[]));
        out.push(*first);
        put_fraction(&mut out, rest);
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let mut exp_digits = itoa::Buffer::new();
        let exp_digits = exp_digits.format(exp.unsigned_abs());
        if exp_digits.len() < 2 {
            out.push(b'0');
        }
        out.extend_from_slice(exp_digits.as_bytes());
    } else if let Ok(int_len) = usize::try_from(exp).map(|e| e + 1) {
        let (int_part, frac) = digits
            .split_at_checked(int_len)
            .unwrap_or((digits.as_slice(), &[]));
        out.extend_from_slice(int_part);
        put_fraction(&mut out, frac);
    } else {
        // -4 <= exp < 0: leading zeros after the point, then all digits.
        out.extend_from_slice(b"0.");
        for _ in 0..(-exp - 1) {
            out.push(b'0');
        }
        out.extend_from_slice(trim_zeros(&digits));
    }
    out
}

/// `.fraction` without trailing zeros, nothing if it is all zeros.
fn put_fraction(out: &mut DoubleText, frac: &[u8]) {
    let frac = trim_zeros(frac);
    if !frac.is_empty() {
        out.push(b'.');
        out.extend_from_slice(frac);
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let keep = digits.iter().rposition(|&d| d != b'0').map_or(0, |i| i + 1);
    digits.get(..keep).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::format_g17;

    fn g(v: f64) -> String {
        String::from_utf8(format_g17(v).to_vec()).unwrap()
    }

    #[test]
    fn matches_printf_g17() {
        // Expected values are glibc's printf("%.17g").
        assert_eq!(g(0.0), "0");
        assert_eq!(g(-0.0), "-0");
        assert_eq!(g(1.0), "1");
        assert_eq!(g(-1.5), "-1.5");
        assert_eq!(g(0.1), "0.10000000000000001");
        assert_eq!(g(2.72), "2.7200000000000002");
        assert_eq!(g(100.0), "100");
        assert_eq!(g(1e16), "10000000000000000");
        assert_eq!(g(1e17), "1e+17");
        assert_eq!(g(1.5e17), "1.5e+17");
        assert_eq!(g(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(g(0.0001), "0.0001");
        assert_eq!(g(0.00001), "1.0000000000000001e-05");
        assert_eq!(g(0.000123), "0.00012300000000000001");
        assert_eq!(g(1e-300), "1e-300");
        assert_eq!(g(1e300), "1.0000000000000001e+300");
        assert_eq!(g(5e-324), "4.9406564584124654e-324");
        assert_eq!(g(f64::MAX), "1.7976931348623157e+308");
        assert_eq!(g(2.5), "2.5");
        assert_eq!(g(12345.678), "12345.678");
    }

    #[test]
    fn special_values() {
        assert_eq!(g(f64::INFINITY), "inf");
        assert_eq!(g(f64::NEG_INFINITY), "-inf");
        assert_eq!(g(f64::NAN), "nan");
        assert_eq!(g(-f64::NAN), "-nan");
    }
}
