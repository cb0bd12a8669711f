//! Differential test: slotway-resp's request parser, reply scanner and value
//! decoder against the independent `redis-protocol` crate, on generated
//! frames (proptest) and on tables of malformed input.
//!
//! What must agree: on well-formed pipelines, where every frame ends, the
//! decoded values, and that every strict prefix is incomplete for both. On
//! arbitrary RESP-ish bytes, whenever both decoders accept a frame they agree
//! on its length and value. Malformed input that breaks a rule both follow is
//! refused by both.
//!
//! Deliberate differences (Slotway follows Redis 7.0's server, the crate
//! follows the RESP spec as a client library), each pinned by a test below:
//! - Requests: Slotway accepts inline commands (`PING\r\n`) and, like
//!   Redis, any byte after a header's CR (`*1\rX`); refuses a
//!   multibulk element that is not `$` (Redis: "expected '$'"), a `$-1`
//!   element (Redis: "invalid bulk length"), counts over the configured
//!   `max_multibulk_len` and lengths over `proto-max-bulk-len` (512 MiB) at
//!   once; skips `*0` and `*-1` silently, as Redis does.
//! - Replies: Slotway requires CRLF after a bulk payload and after every
//!   line (a lone CR inside a simple string is refused: the proxy must never
//!   re-frame a backend stream that is out of sync); the crate takes any two
//!   bytes after a payload and reads lines up to the first CRLF.
//! - Numbers: Slotway reads integers like Redis's `string2ll` (no `+`, no
//!   leading zeros, no `-0`); the crate uses Rust's parser. Only inputs both
//!   accept are compared.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use bytes::BytesMut;
use proptest::prelude::*;
use redis_protocol::resp2::decode as r2;
use redis_protocol::resp2::types::OwnedFrame as F2;
use redis_protocol::resp3::decode::complete as r3;
use redis_protocol::resp3::types::{OwnedFrame as F3, VerbatimStringFormat};
use slotway_resp::{Limits, ReplyScanner, RequestParser, Value};

/// A reply value in a form both decoders' outputs convert to.
#[derive(Clone, Debug, PartialEq)]
enum V {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Vec<u8>),
    Null,
    Array(Vec<V>),
    Map(Vec<(V, V)>),
    Set(Vec<V>),
    Push(Vec<V>),
    /// Kept as Rust's `Debug` of the parsed number.
    Double(String),
    Bool(bool),
    Big(Vec<u8>),
    /// Format prefix included (`txt:...`).
    Verbatim(Vec<u8>),
}

/// Maps and sets are compared without their order: the crate keeps them in
/// hash or reversed order.
fn sorted(mut v: V) -> V {
    match &mut v {
        V::Map(pairs) => pairs.sort_by_key(|p| format!("{p:?}")),
        V::Set(items) => items.sort_by_key(|i| format!("{i:?}")),
        _ => {}
    }
    v
}

fn from_ours(v: &Value) -> V {
    sorted(match v {
        Value::Simple(b) => V::Simple(b.to_vec()),
        Value::Error(b) => V::Error(b.to_vec()),
        Value::Integer(n) => V::Int(*n),
        Value::Bulk(b) => V::Bulk(b.to_vec()),
        Value::Null => V::Null,
        Value::Array(items) => V::Array(items.iter().map(from_ours).collect()),
        Value::Map(pairs) => V::Map(
            pairs
                .iter()
                .map(|(k, v)| (from_ours(k), from_ours(v)))
                .collect(),
        ),
        Value::Set(items) => V::Set(items.iter().map(from_ours).collect()),
        Value::Push(items) => V::Push(items.iter().map(from_ours).collect()),
        Value::Double(t) => {
            let parsed: f64 = std::str::from_utf8(t).unwrap().parse().unwrap();
            V::Double(format!("{parsed:?}"))
        }
        Value::Boolean(b) => V::Bool(*b),
        Value::BigNumber(b) => V::Big(b.to_vec()),
        Value::Verbatim(b) => V::Verbatim(b.to_vec()),
    })
}

fn from_resp2(f: &F2) -> V {
    match f {
        F2::SimpleString(b) => V::Simple(b.clone()),
        F2::Error(s) => V::Error(s.as_bytes().to_vec()),
        F2::Integer(n) => V::Int(*n),
        F2::BulkString(b) => V::Bulk(b.clone()),
        F2::Array(items) => V::Array(items.iter().map(from_resp2).collect()),
        F2::Null => V::Null,
    }
}

fn from_resp3(f: &F3) -> V {
    sorted(match f {
        F3::BlobString { data, .. } => V::Bulk(data.clone()),
        F3::BlobError { data, .. } => V::Error(data.clone()),
        F3::SimpleString { data, .. } => V::Simple(data.clone()),
        F3::SimpleError { data, .. } => V::Error(data.as_bytes().to_vec()),
        F3::Boolean { data, .. } => V::Bool(*data),
        F3::Null => V::Null,
        F3::Number { data, .. } => V::Int(*data),
        F3::Double { data, .. } => V::Double(format!("{data:?}")),
        F3::BigNumber { data, .. } => V::Big(data.clone()),
        F3::VerbatimString { data, format, .. } => {
            let mut out = match format {
                VerbatimStringFormat::Text => b"txt:".to_vec(),
                VerbatimStringFormat::Markdown => b"mkd:".to_vec(),
            };
            out.extend_from_slice(data);
            V::Verbatim(out)
        }
        F3::Array { data, .. } => V::Array(data.iter().map(from_resp3).collect()),
        F3::Map { data, .. } => V::Map(
            data.iter()
                .map(|(k, v)| (from_resp3(k), from_resp3(v)))
                .collect(),
        ),
        F3::Set { data, .. } => V::Set(data.iter().map(from_resp3).collect()),
        F3::Push { data, .. } => V::Push(data.iter().map(from_resp3).collect()),
        other => panic!("not generated: {other:?}"),
    })
}

// ---------------------------------------------------------------- generators

/// Text for line types: no CR or LF (ASCII for errors, which the crate
/// keeps as `String`).
fn line_text() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![Just(b'a'), Just(b' '), Just(b'Z'), 0x21u8..0x7f],
        0..12,
    )
}

fn binary() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..24)
}

/// A RESP2 reply and its encoding (nulls in both `$-1` and `*-1` forms).
fn resp2_reply() -> impl Strategy<Value = (V, Vec<u8>)> {
    let leaf = prop_oneof![
        line_text().prop_map(|t| (V::Simple(t.clone()), line(b'+', &t))),
        line_text().prop_map(|t| (V::Error(t.clone()), line(b'-', &t))),
        any::<i64>().prop_map(|n| (V::Int(n), line(b':', n.to_string().as_bytes()))),
        binary().prop_map(|b| (V::Bulk(b.clone()), blob(b'$', &b))),
        Just((V::Null, b"$-1\r\n".to_vec())),
        Just((V::Null, b"*-1\r\n".to_vec())),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop::collection::vec(inner, 0..5).prop_map(|items| {
            let mut out = line(b'*', items.len().to_string().as_bytes());
            let mut values = Vec::new();
            for (v, bytes) in items {
                values.push(v);
                out.extend_from_slice(&bytes);
            }
            (V::Array(values), out)
        })
    })
}

/// RESP3-only scalars, as Redis sends them.
fn resp3_scalar() -> impl Strategy<Value = (V, Vec<u8>)> {
    prop_oneof![
        line_text().prop_map(|t| (V::Simple(t.clone()), line(b'+', &t))),
        line_text().prop_map(|t| (V::Error(t.clone()), line(b'-', &t))),
        binary().prop_map(|b| (V::Error(b.clone()), blob(b'!', &b))),
        any::<i64>().prop_map(|n| (V::Int(n), line(b':', n.to_string().as_bytes()))),
        binary().prop_map(|b| (V::Bulk(b.clone()), blob(b'$', &b))),
        Just((V::Null, b"_\r\n".to_vec())),
        any::<bool>().prop_map(|b| (V::Bool(b), line(b'#', if b { b"t" } else { b"f" }))),
        prop_oneof![
            Just(1.5f64),
            Just(-0.25),
            Just(0.0),
            Just(1e300),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            any::<i32>().prop_map(f64::from),
        ]
        .prop_map(|d| {
            // Redis writes "inf"/"-inf"; finite values in %.17g style.
            let text = if d.is_infinite() {
                if d > 0.0 {
                    "inf".to_owned()
                } else {
                    "-inf".to_owned()
                }
            } else {
                format!("{d:e}")
            };
            (V::Double(format!("{d:?}")), line(b',', text.as_bytes()))
        }),
        prop::collection::vec(b'0'..=b'9', 1..40).prop_map(|mut digits| {
            digits.insert(0, b'1');
            (V::Big(digits.clone()), line(b'(', &digits))
        }),
        (any::<bool>(), binary()).prop_map(|(md, text)| {
            let mut data = if md {
                b"mkd:".to_vec()
            } else {
                b"txt:".to_vec()
            };
            data.extend_from_slice(&text);
            (V::Verbatim(data.clone()), blob(b'=', &data))
        }),
    ]
}

/// A RESP3 reply: scalars, arrays, pushes, and maps/sets with distinct
/// keys (the crate collapses duplicates into its hash map/set).
fn resp3_reply() -> impl Strategy<Value = (V, Vec<u8>)> {
    resp3_scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| aggregate(b'*', items)),
            prop::collection::vec(inner.clone(), 1..4).prop_map(|items| aggregate(b'>', items)),
            prop::collection::vec(inner, 0..4).prop_map(|values| {
                let mut out = line(b'%', values.len().to_string().as_bytes());
                let mut pairs = Vec::new();
                for (i, (v, bytes)) in values.into_iter().enumerate() {
                    let key = format!("k{i}").into_bytes();
                    out.extend_from_slice(&blob(b'$', &key));
                    out.extend_from_slice(&bytes);
                    pairs.push((V::Bulk(key), v));
                }
                (sorted(V::Map(pairs)), out)
            }),
            (0usize..5).prop_map(|n| {
                let mut out = line(b'~', n.to_string().as_bytes());
                let items = (0..n)
                    .map(|i| {
                        out.extend_from_slice(&line(b':', i.to_string().as_bytes()));
                        V::Int(i as i64)
                    })
                    .collect();
                (sorted(V::Set(items)), out)
            }),
        ]
    })
}

fn aggregate(kind: u8, items: Vec<(V, Vec<u8>)>) -> (V, Vec<u8>) {
    let mut out = line(kind, items.len().to_string().as_bytes());
    let mut values = Vec::new();
    for (v, bytes) in items {
        values.push(v);
        out.extend_from_slice(&bytes);
    }
    let v = if kind == b'>' {
        V::Push(values)
    } else {
        V::Array(values)
    };
    (v, out)
}

fn line(kind: u8, text: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
    out
}

fn blob(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut out = line(kind, data.len().to_string().as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// A pipeline of client requests (arguments of arbitrary bytes).
fn pipeline() -> impl Strategy<Value = Vec<Vec<Vec<u8>>>> {
    prop::collection::vec(
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 1..6),
        1..6,
    )
}

fn encode_request(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = line(b'*', args.len().to_string().as_bytes());
    for a in args {
        out.extend_from_slice(&blob(b'$', a));
    }
    out
}

// ------------------------------------------------------------------ runners

/// Requests (their arguments) read from a stream, and whether it ends inside
/// one.
type Pipeline = (Vec<Vec<Vec<u8>>>, bool);

/// Every request our parser finds in `input`, with its length on the wire,
/// and whether the input ends inside a request; `Err` on a protocol error.
fn ours_requests(limits: Limits, input: &[u8]) -> Result<Pipeline, String> {
    let mut parser = RequestParser::new(limits);
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    loop {
        match parser.next(&mut buf) {
            Ok(Some(req)) => out.push(req.args().map(<[u8]>::to_vec).collect()),
            Ok(None) => return Ok((out, parser.in_progress())),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// The crate's reading of `input` as a pipeline of requests: arrays of
/// bulk strings; `Err` when it refuses the bytes.
fn theirs_requests(input: &[u8]) -> Result<Pipeline, String> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < input.len() {
        match r2::decode(&input[at..]).map_err(|e| format!("{e:?}"))? {
            None => return Ok((out, true)),
            Some((F2::Array(items), n)) => {
                let args = items
                    .iter()
                    .map(|f| match f {
                        F2::BulkString(b) => Ok(b.clone()),
                        other => Err(format!("element {other:?}")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                out.push(args);
                at += n;
            }
            Some((other, _)) => return Err(format!("not an array: {other:?}")),
        }
    }
    Ok((out, false))
}

/// Frames (their lengths) the scanner finds, and whether bytes are left.
fn scanner_frames(input: &[u8]) -> Result<(Vec<usize>, usize), String> {
    let mut scanner = ReplyScanner::new();
    let mut at = 0;
    let mut out = Vec::new();
    while let Some(info) = scanner.scan(&input[at..]).map_err(|e| e.to_string())? {
        out.push(info.len);
        at += info.len;
    }
    Ok((out, input.len() - at))
}

/// The pieces RESP-ish noise is made of.
const TOKENS: [&[u8]; 14] = [
    b"*", b"$", b":", b"+", b"-", b"\r\n", b"\r", b"1", b"2", b"0", b"-1", b"a", b"OK", b" ",
];

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn requests_agree_on_boundaries_and_arguments(reqs in pipeline(), cut in any::<prop::sample::Index>()) {
        let wire: Vec<u8> = reqs.iter().flat_map(|r| encode_request(r)).collect();
        prop_assert_eq!(ours_requests(Limits::default(), &wire), Ok((reqs.clone(), false)));
        prop_assert_eq!(theirs_requests(&wire), Ok((reqs.clone(), false)));
        // Any cut: the same complete requests, and both wait for the rest.
        let k = cut.index(wire.len());
        let ours = ours_requests(Limits::default(), &wire[..k]).unwrap();
        let theirs = theirs_requests(&wire[..k]).unwrap();
        prop_assert_eq!(&ours.0, &theirs.0);
        prop_assert_eq!(ours.1 || ours.0.len() < reqs.len(), theirs.1 || theirs.0.len() < reqs.len());
    }

    #[test]
    fn resp2_replies_agree_on_boundaries_and_values(frames in prop::collection::vec(resp2_reply(), 1..5), cut in any::<prop::sample::Index>()) {
        let wire: Vec<u8> = frames.iter().flat_map(|(_, b)| b.clone()).collect();
        let lens: Vec<usize> = frames.iter().map(|(_, b)| b.len()).collect();
        prop_assert_eq!(scanner_frames(&wire), Ok((lens.clone(), 0)));
        let mut at = 0;
        for (want, bytes) in &frames {
            let (ours, n) = Value::decode(&wire[at..]).unwrap().unwrap();
            let (theirs, m) = r2::decode(&wire[at..]).unwrap().unwrap();
            prop_assert_eq!((n, m), (bytes.len(), bytes.len()));
            prop_assert_eq!(&from_ours(&ours), want);
            prop_assert_eq!(&from_resp2(&theirs), want);
            at += n;
        }
        // A strict prefix of one frame is incomplete for every reader.
        let first = &frames[0].1;
        let k = cut.index(first.len());
        prop_assert_eq!(ReplyScanner::new().scan(&first[..k]), Ok(None));
        prop_assert_eq!(Value::decode(&first[..k]), Ok(None));
        prop_assert!(matches!(r2::decode(&first[..k]), Ok(None)));
    }

    #[test]
    fn resp3_replies_agree_on_boundaries_and_values(frames in prop::collection::vec(resp3_reply(), 1..4), cut in any::<prop::sample::Index>()) {
        let wire: Vec<u8> = frames.iter().flat_map(|(_, b)| b.clone()).collect();
        let lens: Vec<usize> = frames.iter().map(|(_, b)| b.len()).collect();
        prop_assert_eq!(scanner_frames(&wire), Ok((lens, 0)));
        let mut at = 0;
        for (want, bytes) in &frames {
            let (ours, n) = Value::decode(&wire[at..]).unwrap().unwrap();
            let (theirs, m) = r3::decode(&wire[at..]).unwrap().unwrap();
            prop_assert_eq!((n, m), (bytes.len(), bytes.len()));
            prop_assert_eq!(&from_ours(&ours), want);
            prop_assert_eq!(&from_resp3(&theirs), want);
            at += n;
        }
        let first = &frames[0].1;
        let k = cut.index(first.len());
        prop_assert_eq!(ReplyScanner::new().scan(&first[..k]), Ok(None));
        prop_assert_eq!(Value::decode(&first[..k]), Ok(None));
        prop_assert!(matches!(r3::decode(&first[..k]), Ok(None)));
    }

}

proptest! {
    // Noise rarely forms a frame: many more cases.
    #![proptest_config(ProptestConfig { cases: 3000, ..config() })]

    /// RESP-ish noise: whenever both decoders accept a frame, they agree on
    /// where it ends and what it holds, and the scanner agrees on the end.
    #[test]
    fn both_accept_means_both_agree(picks in prop::collection::vec(0..TOKENS.len(), 1..40)) {
        let input: Vec<u8> = picks.iter().flat_map(|&i| TOKENS[i].iter().copied()).collect();
        if let (Ok(Some((ours, n))), Ok(Some((theirs, m)))) =
            (Value::decode(&input), r2::decode(&input))
        {
            prop_assert_eq!(n, m, "frame end differs");
            prop_assert_eq!(from_ours(&ours), from_resp2(&theirs));
            let scanned = ReplyScanner::new().scan(&input).unwrap().unwrap();
            prop_assert_eq!(scanned.len, n);
        }
        // Read as a request: when both take a first request, it is the same
        // (Redis's leniencies, such as any byte after a header's CR, only
        // let Slotway accept more).
        let mut theirs_first = theirs_requests(&input).ok().and_then(|(r, _)| r.into_iter().next());
        if input.first() != Some(&b'*') {
            theirs_first = None;
        }
        let ours_first = ours_requests(Limits::default(), &input).ok().and_then(|(r, _)| r.into_iter().next());
        if let (Some(ours), Some(theirs)) = (ours_first, theirs_first) {
            prop_assert_eq!(ours, theirs);
        }
    }
}

// ------------------------------------------------------------ fixed tables

#[test]
fn malformed_requests_both_refuse() {
    for input in [
        &b"*abc\r\n"[..],
        b"*1\r\n$abc\r\n",
        b"*1\r\n$-5\r\n",
        b"*1\r\n$99999999999999999999\r\n",
        b"*99999999999999999999\r\n",
        b"*1\r\n$\r\n",
        b"*\r\n",
    ] {
        let show = String::from_utf8_lossy(input);
        assert!(
            ours_requests(Limits::default(), input).is_err(),
            "ours accepts {show:?}"
        );
        assert!(theirs_requests(input).is_err(), "theirs accepts {show:?}");
    }
}

#[test]
fn request_differences_are_redis_rules() {
    let limits = Limits {
        max_multibulk_len: 1 << 20,
        ..Limits::default()
    };
    // Element that is not a bulk string: Redis refuses, the crate reads it.
    assert_eq!(
        ours_requests(limits, b"*1\r\n:1\r\n"),
        Err("expected '$', got ':'".to_owned())
    );
    assert!(theirs_requests(b"*1\r\n:1\r\n").is_err_and(|e| e.contains("element")));
    // `$-1` in a request: Redis refuses it.
    assert_eq!(
        ours_requests(limits, b"*1\r\n$-1\r\n"),
        Err("invalid bulk length".to_owned())
    );
    assert!(matches!(
        r2::decode(b"*1\r\n$-1\r\n"),
        Ok(Some((F2::Array(_), 9)))
    ));
    // Empty and null multibulk: skipped by Redis, frames for the crate.
    assert_eq!(ours_requests(limits, b"*0\r\n*-1\r\n"), Ok((vec![], false)));
    assert!(matches!(r2::decode(b"*-1\r\n"), Ok(Some((F2::Null, 5)))));
    // Limits: refused at the header, before any payload arrives.
    assert_eq!(
        ours_requests(limits, b"*2000000\r\n"),
        Err("invalid multibulk length".to_owned())
    );
    assert!(matches!(r2::decode(b"*2000000\r\n"), Ok(None)));
    assert_eq!(
        ours_requests(limits, b"*1\r\n$536870913\r\n"),
        Err("invalid bulk length".to_owned())
    );
    assert!(matches!(r2::decode(b"*1\r\n$536870913\r\n"), Ok(None)));
    // Inline commands exist for Redis only.
    assert_eq!(
        ours_requests(limits, b"PING\r\n"),
        Ok((vec![vec![b"PING".to_vec()]], false))
    );
    assert!(r2::decode(b"PING\r\n").is_err());
    // Both skip the two bytes after a payload unchecked (Redis does too).
    assert_eq!(
        ours_requests(limits, b"*1\r\n$3\r\nabcXY"),
        Ok((vec![vec![b"abc".to_vec()]], false))
    );
    assert_eq!(
        theirs_requests(b"*1\r\n$3\r\nabcXY"),
        Ok((vec![vec![b"abc".to_vec()]], false))
    );
}

#[test]
fn malformed_replies_both_refuse() {
    for input in [
        &b"?x\r\n"[..],
        b"$abc\r\n",
        b"*x\r\n",
        b"$-2\r\n",
        b":abc\r\n",
        b":1.5\r\n",
    ] {
        let show = String::from_utf8_lossy(input);
        assert!(Value::decode(input).is_err(), "ours accepts {show:?}");
        assert!(
            r2::decode(input).is_err(),
            "theirs (RESP2) accepts {show:?}"
        );
    }
    for input in [
        &b"#x\r\n"[..],
        b",abc\r\n",
        b"=2\r\nab\r\n",
        b"%1\r\n+a\r\n",
    ] {
        let show = String::from_utf8_lossy(input);
        let ours = Value::decode(input);
        let theirs = r3::decode(input);
        // `%1` with one element is incomplete, not wrong, for both.
        if input.starts_with(b"%") {
            assert_eq!(ours, Ok(None));
            assert!(matches!(theirs, Ok(None)), "{show:?}");
        } else {
            assert!(ours.is_err(), "ours accepts {show:?}");
            assert!(theirs.is_err(), "theirs (RESP3) accepts {show:?}");
        }
    }
}

#[test]
fn reply_differences_are_strict_framing() {
    // Two bytes after a payload that are not CRLF: an out-of-sync backend.
    let bad_terminator = b"$3\r\nabcXY";
    assert!(ReplyScanner::new().scan(bad_terminator).is_err());
    assert!(Value::decode(bad_terminator).is_err());
    assert!(matches!(
        r2::decode(bad_terminator),
        Ok(Some((F2::BulkString(_), 9)))
    ));
    // A lone CR inside a line.
    let lone_cr = b"+a\rb\r\n";
    assert!(ReplyScanner::new().scan(lone_cr).is_err());
    assert!(matches!(
        r2::decode(lone_cr),
        Ok(Some((F2::SimpleString(_), 6)))
    ));
    // Integers read like Redis's string2ll.
    for lenient in [&b":+5\r\n"[..], b":007\r\n", b":-0\r\n"] {
        assert!(Value::decode(lenient).is_err());
        assert!(matches!(r2::decode(lenient), Ok(Some((F2::Integer(_), _)))));
    }
}
