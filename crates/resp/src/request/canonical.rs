//! The arguments of a canonical multibulk encoding, read in place: the form
//! [`Request::raw`](super::Request::raw) always has (`*N\r\n`, then
//! `$len\r\n`, the bytes and `\r\n` per argument). For a consumer that kept
//! only a request's encoding (the proxy's slow log keeps it for requests in
//! flight) and needs a few of its arguments back, without a parser, a copy
//! of the request or an allocation.
//!
//! Invariant: never panics and never reads past the input; input that is
//! not canonical multibulk (none of the parser's output) ends the arguments
//! early.

/// The argument count `raw` declares and its arguments in order; `None`
/// when `raw` does not start with a multibulk header.
#[must_use]
pub fn canonical_args(raw: &[u8]) -> Option<(usize, CanonicalArgs<'_>)> {
    let (count, rest) = header(raw, b'*')?;
    Some((count, CanonicalArgs { rest, left: count }))
}

/// Iterator over the arguments of a canonical multibulk encoding.
#[derive(Clone, Debug)]
pub struct CanonicalArgs<'a> {
    rest: &'a [u8],
    left: usize,
}

impl<'a> Iterator for CanonicalArgs<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let step = header(self.rest, b'$').and_then(|(len, body)| {
            let arg = body.get(..len)?;
            let rest = body.get(len..)?.strip_prefix(b"\r\n")?;
            Some((arg, rest))
        });
        match step {
            Some((arg, rest)) => {
                self.rest = rest;
                self.left -= 1;
                Some(arg)
            }
            None => {
                self.left = 0;
                None
            }
        }
    }
}

/// `<marker><decimal>\r\n` at the start of `buf`: the number and what
/// follows it. Canonical headers are plain digits (no sign, no leading
/// zeros to judge), so a digit loop replaces Redis's general `string2ll`.
fn header(buf: &[u8], marker: u8) -> Option<(usize, &[u8])> {
    let (&first, body) = buf.split_first()?;
    if first != marker {
        return None;
    }
    let mut n: usize = 0;
    let mut digits = 0;
    for &b in body {
        if !b.is_ascii_digit() {
            break;
        }
        n = n.checked_mul(10)?.checked_add(usize::from(b - b'0'))?;
        digits += 1;
    }
    if digits == 0 {
        return None;
    }
    let rest = body.get(digits..)?.strip_prefix(b"\r\n")?;
    Some((n, rest))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{Limits, Request, RequestParser};
    use bytes::BytesMut;

    fn args_of(raw: &[u8]) -> Option<(usize, Vec<Vec<u8>>)> {
        canonical_args(raw).map(|(n, args)| (n, args.map(<[u8]>::to_vec).collect()))
    }

    #[test]
    fn reads_back_what_was_encoded() {
        let cases: [&[&[u8]]; 4] = [
            &[b"SET", b"k", b"a b\r\nc"],
            &[b"GET", b""],
            &[b"PING"],
            &[b"MSET", b"k1", b"$3\r\n", b"k2", b"*1\r\n"],
        ];
        for args in cases {
            let req = Request::from_args(args.iter().copied());
            let (n, got) = args_of(req.raw()).unwrap();
            assert_eq!(n, args.len());
            assert_eq!(got, args.iter().map(|a| a.to_vec()).collect::<Vec<_>>());
        }
    }

    #[test]
    fn reads_the_parsers_output_inline_included() {
        let mut parser = RequestParser::new(Limits::default());
        let mut buf =
            BytesMut::from(&b"set key \"two words\"\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"[..]);
        let inline = parser.next(&mut buf).unwrap().unwrap();
        let multibulk = parser.next(&mut buf).unwrap().unwrap();
        for req in [inline, multibulk] {
            let (n, got) = args_of(req.raw()).unwrap();
            assert_eq!(n, req.argc());
            assert_eq!(got, req.args().map(<[u8]>::to_vec).collect::<Vec<_>>());
        }
    }

    #[test]
    fn stops_early_on_anything_else() {
        assert!(args_of(b"").is_none());
        assert!(args_of(b"$3\r\nGET\r\n").is_none());
        assert!(args_of(b"*-1\r\n").is_none());
        assert!(args_of(b"*x\r\n").is_none());
        // Truncated, a wrong marker, a missing CRLF, a length past the end:
        // the arguments read so far, then nothing.
        assert_eq!(args_of(b"*2\r\n$3\r\nGET\r\n").unwrap().1.len(), 1);
        assert_eq!(args_of(b"*2\r\n:3\r\nGET\r\n").unwrap().1.len(), 0);
        assert_eq!(args_of(b"*1\r\n$3\r\nGETxx").unwrap().1.len(), 0);
        assert_eq!(args_of(b"*1\r\n$9\r\nGET\r\n").unwrap().1.len(), 0);
        assert_eq!(args_of(b"*1\r\n$-1\r\n").unwrap().1.len(), 0);
    }
}
