//! Inline requests: one text line split into arguments with the rules of
//! Redis's `sdssplitargs` (sds.c), then re-encoded as multibulk so that the
//! rest of the proxy only ever handles one request format.
//!
//! Splitting rules, all from sdssplitargs:
//! - Blanks between arguments are C `isspace` bytes (space, \t, \n, \v, \f,
//!   \r); an unquoted argument ends only at space, \t, \n, \r (so `a\vb` is
//!   one argument).
//! - `"..."` understands `\n \r \t \b \a`, `\xHH` and `\<any>` (= that byte);
//!   `'...'` understands only `\'`. A quote may open in the middle of an
//!   argument (`a"b c"` is `ab c`), but a closing quote must be followed by a
//!   blank or the end of the line, and a quote must be closed: otherwise the
//!   whole request is refused ("unbalanced quotes in request").
//! - Empty quoted arguments (`""`) are kept (Redis 6.2+ keeps them too).
//!
//! The line never contains `\n` or NUL (the caller's line search stops at
//! both), so "end of line" here is exactly C's "end of string".

use smallvec::SmallVec;

use super::Request;
use crate::ProtocolError;
use crate::num::{hex_value, is_c_space};

/// Splits an inline request line (terminator already removed). `Ok(None)`
/// for a line with no arguments, which Redis skips.
pub(super) fn parse(line: &[u8]) -> Result<Option<Request>, ProtocolError> {
    let mut data = Vec::with_capacity(line.len());
    let mut ends: SmallVec<[usize; 8]> = SmallVec::new();
    split_args(line, &mut data, &mut ends)?;
    if ends.is_empty() {
        return Ok(None);
    }
    let starts = std::iter::once(0).chain(ends.iter().copied());
    let args = starts
        .zip(ends.iter().copied())
        .filter_map(|(start, end)| data.get(start..end));
    Ok(Some(Request::encode_args(args)))
}

/// sdssplitargs: appends each argument's bytes to `data` and its end offset
/// to `ends`.
fn split_args(
    line: &[u8],
    data: &mut Vec<u8>,
    ends: &mut SmallVec<[usize; 8]>,
) -> Result<(), ProtocolError> {
    // Reading past the end yields 0, like C reading the string's terminator.
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut p = 0;
    loop {
        while at(p) != 0 && is_c_space(at(p)) {
            p += 1;
        }
        if at(p) == 0 {
            return Ok(());
        }
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let c = at(p);
            if in_double {
                if c == b'\\'
                    && at(p + 1) == b'x'
                    && let (Some(hi), Some(lo)) = (hex_value(at(p + 2)), hex_value(at(p + 3)))
                {
                    data.push(hi * 16 + lo);
                    p += 4;
                    continue;
                }
                if c == b'\\' && at(p + 1) != 0 {
                    data.push(match at(p + 1) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                    p += 2;
                } else if c == b'"' {
                    closing_quote(at(p + 1))?;
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    data.push(c);
                    p += 1;
                }
            } else if in_single {
                if c == b'\\' && at(p + 1) == b'\'' {
                    data.push(b'\'');
                    p += 2;
                } else if c == b'\'' {
                    closing_quote(at(p + 1))?;
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    data.push(c);
                    p += 1;
                }
            } else {
                match c {
                    // The terminating blank is skipped with the argument.
                    b' ' | b'\n' | b'\r' | b'\t' => {
                        p += 1;
                        break;
                    }
                    0 => break,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    _ => data.push(c),
                }
                p += 1;
            }
        }
        ends.push(data.len());
    }
}

/// A closing quote must be followed by a blank or the end of the line.
fn closing_quote(next: u8) -> Result<(), ProtocolError> {
    if next != 0 && !is_c_space(next) {
        return Err(ProtocolError::UnbalancedQuotes);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &[u8]) -> Result<Vec<Vec<u8>>, ProtocolError> {
        Ok(match parse(line)? {
            Some(req) => req.args().map(<[u8]>::to_vec).collect(),
            None => Vec::new(),
        })
    }

    fn ok(line: &[u8], want: &[&[u8]]) {
        let got = split(line).unwrap();
        let want: Vec<Vec<u8>> = want.iter().map(|a| a.to_vec()).collect();
        assert_eq!(got, want, "line {:?}", String::from_utf8_lossy(line));
    }

    fn unbalanced(line: &[u8]) {
        assert_eq!(
            split(line),
            Err(ProtocolError::UnbalancedQuotes),
            "line {:?}",
            String::from_utf8_lossy(line)
        );
    }

    #[test]
    fn plain_words_and_blanks() {
        ok(b"PING", &[b"PING"]);
        ok(b"SET k v", &[b"SET", b"k", b"v"]);
        ok(b"  SET \t k   v  ", &[b"SET", b"k", b"v"]);
        ok(b"\x0b\x0cGET\x0bk", &[b"GET\x0bk"]);
        ok(b"a\rb", &[b"a", b"b"]);
        ok(b"", &[]);
        ok(b"   \t ", &[]);
        ok(b"\x0b", &[]);
        // Unquoted backslashes are literal.
        ok(br"a\nb", &[br"a\nb"]);
    }

    #[test]
    fn double_quotes_and_escapes() {
        ok(br#"SET k "hello world""#, &[b"SET", b"k", b"hello world"]);
        ok(br#""""#, &[b""]);
        ok(br#"SET k """#, &[b"SET", b"k", b""]);
        ok(br#""a\n\r\t\b\a""#, &[b"a\n\r\t\x08\x07"]);
        ok(br#""\x41\x6a\x00\xff""#, &[b"Aj\x00\xff"]);
        ok(br#""\xZZ""#, &[b"xZZ"]);
        ok(br#""\x4""#, &[b"x4"]);
        ok(br#""\"\\\q""#, &[b"\"\\q"]);
        ok(br#""it's""#, &[b"it's"]);
        ok(br#"a"b c"  d"#, &[b"ab c", b"d"]);
        ok(b"\"a\"\x0bb", &[b"a", b"b"]);
        ok(b"\"a\"\tb", &[b"a", b"b"]);
    }

    #[test]
    fn single_quotes() {
        ok(br"'hello world'", &[b"hello world"]);
        ok(br"'it\'s'", &[b"it's"]);
        ok(br"'a\nb'", &[br"a\nb"]);
        ok(br"'a\\b'", &[br"a\\b"]);
        ok(br#"'say "hi"'"#, &[br#"say "hi""#]);
        ok(br"''", &[b""]);
        ok(br"x'y z'", &[b"xy z"]);
    }

    #[test]
    fn unbalanced_quotes() {
        unbalanced(br#""abc"#);
        unbalanced(br#"SET k "abc"#);
        unbalanced(br#""abc"def"#);
        unbalanced(br#""a"b"#);
        unbalanced(br"'abc");
        unbalanced(br"'abc'def");
        unbalanced(br"'it\'");
        unbalanced(br#""abc\"#);
        unbalanced(br#""abc\""#);
        unbalanced(br#"""""#);
        unbalanced(br#""a""b""#);
    }
}
