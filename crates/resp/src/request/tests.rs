//! Contract tests of the request parser: accepted forms, skipped empty
//! requests, every protocol error with its byte-exact text, limits, and the
//! zero-copy guarantees.

use super::*;

pub(super) type Args = Vec<Vec<u8>>;

/// What a sequence of `next` calls produced.
#[derive(Debug, PartialEq)]
pub(super) struct Outcome {
    pub reqs: Vec<Args>,
    pub err: Option<ProtocolError>,
    /// Bytes left in the buffer at the end.
    pub left: usize,
}

pub(super) fn args_of(req: &Request) -> Args {
    req.args().map(<[u8]>::to_vec).collect()
}

/// Feeds `pieces` one after another, draining the parser after each.
pub(super) fn run_pieces<'a>(
    limits: Limits,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> Outcome {
    let mut parser = RequestParser::new(limits);
    let mut buf = BytesMut::new();
    let mut reqs = Vec::new();
    let mut pieces = pieces.into_iter();
    while let Some(piece) = pieces.next() {
        buf.extend_from_slice(piece);
        loop {
            match parser.next(&mut buf) {
                Ok(Some(req)) => {
                    check_raw(&req);
                    reqs.push(args_of(&req));
                }
                Ok(None) => break,
                Err(err) => return finish_failed(parser, buf, reqs, err, pieces),
            }
        }
    }
    Outcome {
        reqs,
        err: None,
        left: buf.len(),
    }
}

/// After an error, the rest of the input still arrives: the parser must stay
/// failed and leave the buffer alone, so `left` is the same for any split.
fn finish_failed<'a>(
    mut parser: RequestParser,
    mut buf: BytesMut,
    reqs: Vec<Args>,
    err: ProtocolError,
    rest: impl Iterator<Item = &'a [u8]>,
) -> Outcome {
    for piece in rest {
        buf.extend_from_slice(piece);
        assert_eq!(parser.next(&mut buf), Err(err.clone()));
    }
    Outcome {
        reqs,
        err: Some(err),
        left: buf.len(),
    }
}

pub(super) fn run(input: &[u8]) -> Outcome {
    run_pieces(Limits::default(), [input])
}

/// `raw` must be the canonical multibulk encoding of the arguments.
pub(super) fn check_raw(req: &Request) {
    let mut want = BytesMut::new();
    let args: Vec<&[u8]> = req.args().collect();
    crate::encode::command(&mut want, &args);
    assert_eq!(req.raw().as_ref(), want.as_ref(), "raw is not canonical");
    assert_eq!(req.argc(), args.len());
}

fn reqs(list: &[&[&[u8]]]) -> Vec<Args> {
    list.iter()
        .map(|r| r.iter().map(|a| a.to_vec()).collect())
        .collect()
}

fn error_of(input: &[u8]) -> ProtocolError {
    run(input).err.expect("expected a protocol error")
}

fn reply_of(err: &ProtocolError) -> Vec<u8> {
    let mut out = BytesMut::new();
    err.write_reply(&mut out);
    out.to_vec()
}

#[test]
fn simple_multibulk() {
    let out = run(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n");
    assert_eq!(out.reqs, reqs(&[&[b"SET", b"k", b"value"]]));
    assert_eq!((out.err, out.left), (None, 0));
}

#[test]
fn pipelined_requests() {
    let mut input = Vec::new();
    for i in 0..50 {
        input.extend_from_slice(format!("*2\r\n$4\r\nINCR\r\n$2\r\nk{}\r\n", i % 10).as_bytes());
        input.extend_from_slice(b"PING\r\n");
    }
    let out = run(&input);
    assert_eq!(out.reqs.len(), 100);
    assert_eq!(out.reqs[98], reqs(&[&[b"INCR", b"k9"]])[0]);
    assert_eq!(out.reqs[99], reqs(&[&[b"PING"]])[0]);
    assert_eq!(out.left, 0);
}

#[test]
fn binary_and_empty_values() {
    let out = run(b"*4\r\n$3\r\nSET\r\n$0\r\n\r\n$6\r\n\r\n\0\xff*$\r\n$2\r\n\r\n\r\n");
    assert_eq!(out.reqs, reqs(&[&[b"SET", b"", b"\r\n\0\xff*$", b"\r\n"]]));
    assert_eq!(out.err, None);
}

#[test]
fn multibulk_is_zero_copy() {
    let mut parser = RequestParser::new(Limits::default());
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n*1\r\n$4\r\nPING\r\n"[..]);
    let start = buf.as_ptr();
    let req = parser.next(&mut buf).unwrap().unwrap();
    assert_eq!(req.raw().as_ptr(), start);
    assert_eq!(req.raw().len(), 22);
    let key = req.arg_bytes(1).unwrap();
    assert_eq!(&key[..], b"key");
    assert_eq!(key.as_ptr(), start.wrapping_add(17));
    assert_eq!(buf.as_ptr(), start.wrapping_add(22));
    let ping = parser.next(&mut buf).unwrap().unwrap();
    assert_eq!(ping.raw().as_ptr(), start.wrapping_add(22));
    assert_eq!(parser.next(&mut buf), Ok(None));
    assert!(buf.is_empty());
}

#[test]
fn request_accessors() {
    let req = Request::from_args(["SET", "k", ""]);
    assert_eq!(
        req.raw().as_ref(),
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"
    );
    assert_eq!(req.argc(), 3);
    assert_eq!(req.arg(0), Some(&b"SET"[..]));
    assert_eq!(req.arg(2), Some(&b""[..]));
    assert_eq!(req.arg(3), None);
    assert_eq!(req.arg_bytes(3), None);
    assert_eq!(req.arg_bytes(1).unwrap(), Bytes::from_static(b"k"));
    assert_eq!(req.args().collect::<Vec<_>>(), vec![&b"SET"[..], b"k", b""]);
    let empty = Request::from_args(Vec::<Vec<u8>>::new());
    assert_eq!(empty.raw().as_ref(), b"*0\r\n");
    assert_eq!(empty.argc(), 0);
    let raw = req.clone().into_raw();
    assert_eq!(raw.len(), req.raw().len());
    let parsed = run_pieces(Limits::default(), [&raw[..]]);
    assert_eq!(parsed.reqs, vec![args_of(&req)]);
    assert_eq!(
        req,
        Request::from_args([b"SET".to_vec(), b"k".to_vec(), Vec::new()])
    );
    assert_ne!(req, Request::from_args(["SET", "k"]));
}

#[test]
fn empty_requests_are_skipped() {
    let out = run(b"*0\r\n*-1\r\n*-5\r\n\r\n\n   \r\n\t\x0b\n*1\r\n$4\r\nPING\r\n*0\r\n");
    assert_eq!(out.reqs, reqs(&[&[b"PING"]]));
    assert_eq!((out.err, out.left), (None, 0));
}

#[test]
fn inline_requests_are_reencoded() {
    let mut parser = RequestParser::new(Limits::default());
    let mut buf = BytesMut::from(&b"SET k \"a b\"\r\nPING\nGET x\r\r\n"[..]);
    let req = parser.next(&mut buf).unwrap().unwrap();
    assert_eq!(
        req.raw().as_ref(),
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na b\r\n"
    );
    assert_eq!(args_of(&req), reqs(&[&[b"SET", b"k", b"a b"]])[0]);
    let ping = parser.next(&mut buf).unwrap().unwrap();
    assert_eq!(ping.raw().as_ref(), b"*1\r\n$4\r\nPING\r\n");
    // Only the `\r` right before `\n` is the terminator; another is a blank.
    let get = parser.next(&mut buf).unwrap().unwrap();
    assert_eq!(args_of(&get), reqs(&[&[b"GET", b"x"]])[0]);
    assert_eq!(parser.next(&mut buf), Ok(None));
    assert!(buf.is_empty());
}

#[test]
fn anything_but_star_is_inline() {
    let out = run(b"$3\r\n:1\r\n+OK\r\n");
    assert_eq!(out.reqs, reqs(&[&[b"$3"], &[b":1"], &[b"+OK"]]));
}

#[test]
fn inline_quoting_cases() {
    let out = run(b"SET k \"\\x00\\xff\\n\"\r\nSET 'it\\'s' \"\"\r\nECHO a\"b c\"\r\n");
    assert_eq!(
        out.reqs,
        reqs(&[
            &[b"SET", b"k", b"\x00\xff\n"],
            &[b"SET", b"it's", b""],
            &[b"ECHO", b"ab c"],
        ])
    );
    assert_eq!(out.err, None);
}

#[test]
fn crlf_bytes_are_not_checked_but_raw_is_canonical() {
    // Redis skips the byte after a header's `\r` and the two bytes after a
    // payload without looking at them; so does the parser, but what it
    // hands on is re-encoded.
    let out = run(b"*2\rX$3\rYGETab$1\r\nkZZ");
    assert_eq!(out.reqs, reqs(&[&[b"GET", b"k"]]));
    assert_eq!((out.err, out.left), (None, 0));
    let mut parser = RequestParser::new(Limits::default());
    let mut buf = BytesMut::from(&b"*1\r\n$4\r\nPINGxx"[..]);
    let req = parser.next(&mut buf).unwrap().unwrap();
    assert_eq!(req.raw().as_ref(), b"*1\r\n$4\r\nPING\r\n");
}

#[test]
fn error_texts_are_redis_exact() {
    use ProtocolError::*;
    let cases: &[(ProtocolError, &str)] = &[
        (InvalidMultibulkLength, "invalid multibulk length"),
        (
            UnauthenticatedMultibulkLength,
            "unauthenticated multibulk length",
        ),
        (InvalidBulkLength, "invalid bulk length"),
        (UnauthenticatedBulkLength, "unauthenticated bulk length"),
        (ExpectedDollar(b'x'), "expected '$', got 'x'"),
        (ExpectedDollar(b'\r'), "expected '$', got ' '"),
        (ExpectedDollar(b'\n'), "expected '$', got ' '"),
        (UnbalancedQuotes, "unbalanced quotes in request"),
        (InlineTooBig, "too big inline request"),
        (MultibulkCountTooBig, "too big mbulk count string"),
        (BulkCountTooBig, "too big bulk count string"),
    ];
    for (err, text) in cases {
        assert_eq!(err.to_string(), *text);
        assert_eq!(
            reply_of(err),
            format!("-ERR Protocol error: {text}\r\n").into_bytes()
        );
    }
    // A byte that is not ASCII goes out raw, as Redis's %c writes it.
    assert_eq!(
        reply_of(&ExpectedDollar(0xff)),
        b"-ERR Protocol error: expected '$', got '\xff'\r\n".to_vec()
    );
}

#[test]
fn invalid_multibulk_length() {
    for input in [
        &b"*abc\r\n"[..],
        b"*\r\n",
        b"*01\r\n",
        b"*+1\r\n",
        b"*1 \r\n",
        b"*-0\r\n",
        b"*2147483648\r\n",
        b"*99999999999999999999\r\n",
    ] {
        assert_eq!(
            error_of(input),
            ProtocolError::InvalidMultibulkLength,
            "{input:?}"
        );
    }
    // INT_MAX itself is accepted (and waits for its elements).
    let out = run(b"*2147483647\r\n");
    assert_eq!((out.reqs.len(), out.err), (0, None));
    let limits = Limits {
        max_multibulk_len: 2,
        ..Limits::default()
    };
    let ok = run_pieces(limits, [&b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"[..]]);
    assert_eq!(ok.reqs, reqs(&[&[b"a", b"b"]]));
    let out = run_pieces(limits, [&b"*3\r\n"[..]]);
    assert_eq!(out.err, Some(ProtocolError::InvalidMultibulkLength));
}

#[test]
fn invalid_bulk_length() {
    for input in [
        &b"*1\r\n$abc\r\n"[..],
        b"*1\r\n$\r\n",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$-5\r\n",
        b"*1\r\n$01\r\n",
        b"*1\r\n$536870913\r\n",
        b"*2\r\n$3\r\nGET\r\n$x\r\n",
    ] {
        assert_eq!(
            error_of(input),
            ProtocolError::InvalidBulkLength,
            "{input:?}"
        );
    }
    // proto-max-bulk-len itself is fine.
    let out = run(b"*1\r\n$536870912\r\n");
    assert_eq!(out.err, None);
    let limits = Limits {
        max_bulk_len: 3,
        ..Limits::default()
    };
    let out = run_pieces(limits, [&b"*2\r\n$3\r\nGET\r\n$4\r\n"[..]]);
    assert_eq!(out.err, Some(ProtocolError::InvalidBulkLength));
}

#[test]
fn expected_dollar() {
    assert_eq!(
        error_of(b"*1\r\nX\r\n"),
        ProtocolError::ExpectedDollar(b'X')
    );
    assert_eq!(
        error_of(b"*1\r\n:1\r\n"),
        ProtocolError::ExpectedDollar(b':')
    );
    assert_eq!(
        error_of(b"*1\r\n\r\n"),
        ProtocolError::ExpectedDollar(b'\r')
    );
    assert_eq!(
        error_of(b"*2\r\n$1\r\na\r\n*1\r\n"),
        ProtocolError::ExpectedDollar(b'*')
    );
    let err = error_of(b"*1\r\n\xfe\r\n");
    assert_eq!(err, ProtocolError::ExpectedDollar(0xfe));
    assert_eq!(
        reply_of(&err),
        b"-ERR Protocol error: expected '$', got '\xfe'\r\n"
    );
    // Redis looks at the prefix only once the whole line is in.
    let out = run(b"*1\r\nX");
    assert_eq!((out.err, out.left), (None, 5));
}

#[test]
fn unbalanced_quotes() {
    for input in [
        &b"SET k \"abc\r\n"[..],
        b"SET k 'abc\n",
        b"SET k \"a\"b\r\n",
        b"SET k 'a'b\r\n",
    ] {
        assert_eq!(
            error_of(input),
            ProtocolError::UnbalancedQuotes,
            "{input:?}"
        );
    }
}

#[test]
fn line_length_limits() {
    let max = Limits::default().max_inline_len;
    // Inline: up to `max` bytes before the `\n` are fine.
    let mut line = vec![b'A'; max];
    assert_eq!(run(&line).err, None);
    line.push(b'\n');
    let out = run(&line);
    assert_eq!((out.reqs.len(), out.err), (1, None));
    let mut line = vec![b'A'; max + 1];
    assert_eq!(run(&line).err, Some(ProtocolError::InlineTooBig));
    line.push(b'\n');
    assert_eq!(run(&line).err, Some(ProtocolError::InlineTooBig));

    // Count line.
    let mut line = vec![b'1'; max];
    line[0] = b'*';
    assert_eq!(run(&line).err, None);
    line.push(b'1');
    assert_eq!(run(&line).err, Some(ProtocolError::MultibulkCountTooBig));

    // Bulk header line, judged before its prefix.
    let mut input = b"*2\r\n$4\r\nECHO\r\n$".to_vec();
    input.extend(std::iter::repeat_n(b'1', max - 1));
    assert_eq!(run(&input).err, None);
    input.push(b'1');
    assert_eq!(run(&input).err, Some(ProtocolError::BulkCountTooBig));
    let mut input = b"*1\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'X', 70_000));
    assert_eq!(run(&input).err, Some(ProtocolError::BulkCountTooBig));

    // A header line that does end in time is judged on its value.
    let mut input = vec![b'1'; 30];
    input[0] = b'*';
    input.extend_from_slice(b"\r\n");
    assert_eq!(run(&input).err, Some(ProtocolError::InvalidMultibulkLength));

    // A smaller configured limit.
    let limits = Limits {
        max_inline_len: 16,
        ..Limits::default()
    };
    let out = run_pieces(limits, [&b"0123456789abcdef\n"[..]]);
    assert_eq!((out.reqs.len(), out.err), (1, None));
    let out = run_pieces(limits, [&b"0123456789abcdefg"[..]]);
    assert_eq!(out.err, Some(ProtocolError::InlineTooBig));
}

#[test]
fn nul_stops_line_search_like_strchr() {
    let max = Limits::default().max_inline_len;
    // Redis's strchr never finds a terminator after a NUL: the request waits,
    // then is refused as too big.
    for (prefix, err) in [
        (&b"GET a\0b\r\n"[..], ProtocolError::InlineTooBig),
        (b"*1\0\r\n", ProtocolError::MultibulkCountTooBig),
        (b"*1\r\n$3\0\r\nabc\r\n", ProtocolError::BulkCountTooBig),
    ] {
        let out = run(prefix);
        assert_eq!((out.reqs.len(), &out.err), (0, &None), "{prefix:?}");
        let mut input = prefix.to_vec();
        input.resize(max + 8, b'x');
        assert_eq!(run(&input).err, Some(err), "{prefix:?}");
    }
    // NUL inside payloads is just data.
    let out = run(b"*1\r\n$3\r\n\0\0\0\r\n");
    assert_eq!(out.reqs, reqs(&[&[b"\0\0\0"]]));
}

#[test]
fn unauthenticated_limits() {
    let mut parser = RequestParser::new(Limits::default());
    parser.set_auth_required(true);
    let mut buf = BytesMut::from(&b"*10\r\n"[..]);
    assert_eq!(parser.next(&mut buf), Ok(None));

    let mut parser = RequestParser::new(Limits::default());
    parser.set_auth_required(true);
    let mut buf = BytesMut::from(&b"*11\r\n"[..]);
    assert_eq!(
        parser.next(&mut buf),
        Err(ProtocolError::UnauthenticatedMultibulkLength)
    );

    let mut parser = RequestParser::new(Limits::default());
    parser.set_auth_required(true);
    let mut buf = BytesMut::from(&b"*abc\r\n"[..]);
    assert_eq!(
        parser.next(&mut buf),
        Err(ProtocolError::InvalidMultibulkLength)
    );

    let mut parser = RequestParser::new(Limits::default());
    parser.set_auth_required(true);
    let mut buf = BytesMut::from(&b"*1\r\n$16384\r\n"[..]);
    assert_eq!(parser.next(&mut buf), Ok(None));
    let mut buf = BytesMut::from(&b"*1\r\n$16385\r\n"[..]);
    let mut parser = RequestParser::new(Limits::default());
    parser.set_auth_required(true);
    assert_eq!(
        parser.next(&mut buf),
        Err(ProtocolError::UnauthenticatedBulkLength)
    );

    // Lifted after AUTH.
    let mut parser = RequestParser::new(Limits::default());
    parser.set_auth_required(true);
    let mut buf = BytesMut::from(&b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*11\r\n"[..]);
    assert!(parser.next(&mut buf).unwrap().is_some());
    parser.set_auth_required(false);
    assert_eq!(parser.next(&mut buf), Ok(None));
}

#[test]
fn errors_are_sticky_and_come_after_earlier_requests() {
    let mut parser = RequestParser::new(Limits::default());
    let mut buf = BytesMut::from(&b"PING\r\n*1\r\n$4\r\nECHO\r\n*x\r\nPING\r\n"[..]);
    assert!(parser.next(&mut buf).unwrap().is_some());
    assert!(parser.next(&mut buf).unwrap().is_some());
    let left = buf.len();
    assert_eq!(
        parser.next(&mut buf),
        Err(ProtocolError::InvalidMultibulkLength)
    );
    assert_eq!(buf.len(), left);
    assert_eq!(
        parser.next(&mut buf),
        Err(ProtocolError::InvalidMultibulkLength)
    );
    buf.clear();
    buf.extend_from_slice(b"PING\r\n");
    assert_eq!(
        parser.next(&mut buf),
        Err(ProtocolError::InvalidMultibulkLength)
    );
    assert!(!parser.in_progress());
}

#[test]
fn needed_reports_pending_payload() {
    let mut parser = RequestParser::new(Limits::default());
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nSET"[..]);
    assert_eq!(parser.next(&mut buf), Ok(None));
    assert_eq!(parser.needed(), 13);
    assert!(parser.in_progress());
    buf.extend_from_slice(b"\r\n$10\r\nab");
    assert_eq!(parser.next(&mut buf), Ok(None));
    assert_eq!(parser.needed(), 13 + 5 + 12);
    buf.extend_from_slice(b"cdefghij\r");
    assert_eq!(parser.next(&mut buf), Ok(None));
    buf.extend_from_slice(b"\n");
    let req = parser.next(&mut buf).unwrap().unwrap();
    assert_eq!(args_of(&req), reqs(&[&[b"SET", b"abcdefghij"]])[0]);
    assert_eq!(parser.needed(), 0);
    assert!(!parser.in_progress());
    assert_eq!(parser.limits(), Limits::default());
}

#[test]
fn default_limits_are_redis_7() {
    let l = Limits::default();
    assert_eq!(l.max_bulk_len, 512 * 1024 * 1024);
    assert_eq!(l.max_multibulk_len, i32::MAX as u64);
    assert_eq!(l.max_inline_len, 65536);
}

/// The straightforward reading of `quick_header`'s contract, to check the
/// hand-tuned one against.
fn quick_header_reference(buf: &[u8], at: usize, max: usize) -> Option<(i64, usize)> {
    let digits = buf.get(at + 1..)?;
    let mut value: i64 = 0;
    for (i, &b) in digits.iter().enumerate().take(19) {
        match b {
            b'0'..=b'9' if i < 18 && !(i == 0 && b == b'0') => {
                value = value * 10 + i64::from(b - b'0');
            }
            b'\r' if i > 0 => {
                let cr = at + 1 + i;
                return (cr - at <= max && buf.get(cr + 1) == Some(&b'\n')).then_some((value, cr));
            }
            _ => return None,
        }
    }
    None
}

#[test]
fn quick_header_matches_its_contract() {
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"0".to_vec(),
        b"1".to_vec(),
        b"01".to_vec(),
        b"-1".to_vec(),
        b"12a".to_vec(),
        b"999999999999999999".to_vec(),
        b"1000000000000000000".to_vec(),
        b"123456789012345678".to_vec(),
        b"42".to_vec(),
    ];
    let tails: [&[u8]; 5] = [b"\r\n", b"\r", b"\rx", b"", b"\n"];
    for body in &bodies {
        for tail in tails {
            for max in [0, 2, 3, 5, 64, 1024] {
                let mut line = b"*".to_vec();
                line.extend_from_slice(body);
                line.extend_from_slice(tail);
                assert_eq!(
                    quick_header(&line, 0, max),
                    quick_header_reference(&line, 0, max),
                    "{:?} max {max}",
                    String::from_utf8_lossy(&line)
                );
            }
        }
    }
}

#[test]
fn a_request_stays_small_enough_to_move_inline_and_spans_refuse_4_gib() {
    // Requests move through the session several times per command; above
    // 128 bytes each move became a `memcpy` call.
    assert!(std::mem::size_of::<Request>() <= 96);
    assert!(Span::new(0, u32::MAX as usize).is_some());
    assert!(Span::new(0, 1 << 32).is_none());
    assert!(Span::new(1 << 32, 1 << 32).is_none());
}
