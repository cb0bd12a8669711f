//! Tests of `Value`: decoding of every type, incomplete and malformed input,
//! accessors, and seeded random round trips through `encode::value` that
//! also check the scanner agrees on frame boundaries.

use bytes::BytesMut;

use super::*;
use crate::reply::MAX_DEPTH;
use crate::{ReplyError, ReplyScanner, encode};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn decoded(input: &[u8]) -> Value {
    let (value, used) = Value::decode(input).unwrap().unwrap();
    assert_eq!(used, input.len(), "{input:?}");
    value
}

#[test]
fn decodes_every_type() {
    use Value::*;
    let cases: Vec<(&[u8], Value)> = vec![
        (b"+OK\r\n", Simple(b("OK"))),
        (b"-ERR bad\r\n", Error(b("ERR bad"))),
        (b"!3\r\nERR\r\n", Error(b("ERR"))),
        (b":-12\r\n", Integer(-12)),
        (b"$3\r\na\r\n\r\n", Bulk(b("a\r\n"))),
        (b"$0\r\n\r\n", Bulk(b(""))),
        (b"$-1\r\n", Null),
        (b"*-1\r\n", Null),
        (b"_\r\n", Null),
        (b"*0\r\n", Array(vec![])),
        (b"~0\r\n", Set(vec![])),
        (b"%0\r\n", Map(vec![])),
        (b">0\r\n", Push(vec![])),
        (b",1.5\r\n", Double(b("1.5"))),
        (b",inf\r\n", Double(b("inf"))),
        (b",-inf\r\n", Double(b("-inf"))),
        (b",nan\r\n", Double(b("nan"))),
        (b",1e10\r\n", Double(b("1e10"))),
        (b"#t\r\n", Boolean(true)),
        (b"#f\r\n", Boolean(false)),
        (
            b"(-123456789012345678901234567890\r\n",
            BigNumber(b("-123456789012345678901234567890")),
        ),
        (b"=8\r\ntxt:abcd\r\n", Verbatim(b("txt:abcd"))),
        (
            b"*3\r\n:1\r\n*1\r\n+x\r\n$-1\r\n",
            Array(vec![Integer(1), Array(vec![Simple(b("x"))]), Null]),
        ),
        (
            b"%2\r\n+a\r\n:1\r\n+b\r\n~1\r\n#t\r\n",
            Map(vec![
                (Simple(b("a")), Integer(1)),
                (Simple(b("b")), Set(vec![Boolean(true)])),
            ]),
        ),
        (
            b">2\r\n+invalidate\r\n*1\r\n$1\r\nk\r\n",
            Push(vec![Simple(b("invalidate")), Array(vec![Bulk(b("k"))])]),
        ),
        (b"|1\r\n+ttl\r\n:5\r\n+OK\r\n", Simple(b("OK"))),
        (b"|0\r\n:7\r\n", Integer(7)),
        (
            b"*2\r\n|1\r\n+a\r\n|1\r\n+b\r\n+c\r\n+d\r\n:1\r\n:2\r\n",
            Array(vec![Integer(1), Integer(2)]),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(decoded(input), want, "{input:?}");
        for k in 0..input.len() {
            assert_eq!(Value::decode(&input[..k]), Ok(None), "{input:?} cut at {k}");
        }
    }
}

#[test]
fn decode_reports_consumed_bytes() {
    let (v, used) = Value::decode(b"+OK\r\n:1\r\n").unwrap().unwrap();
    assert_eq!((v, used), (Value::Simple(b("OK")), 5));
    assert_eq!(Value::decode(b""), Ok(None));
}

#[test]
fn decode_rejects_malformed_values() {
    let cases: &[(&[u8], ReplyError)] = &[
        (b":abc\r\n", ReplyError::InvalidValue("integer")),
        (b":\r\n", ReplyError::InvalidValue("integer")),
        (b"#x\r\n", ReplyError::InvalidValue("boolean")),
        (b",abc\r\n", ReplyError::InvalidValue("double")),
        (b"(12a\r\n", ReplyError::InvalidValue("big number")),
        (b"(\r\n", ReplyError::InvalidValue("big number")),
        (b"_x\r\n", ReplyError::InvalidValue("null")),
        (b"=3\r\nabc\r\n", ReplyError::InvalidValue("verbatim")),
        (b"$3\r\nabcde", ReplyError::BadBulkTerminator),
        (b"+a\rb", ReplyError::BadLineEnding),
        (b"@\r\n", ReplyError::UnknownType(b'@')),
        (b"*x\r\n", ReplyError::InvalidLength),
        (b"|-1\r\n", ReplyError::InvalidLength),
        (b"*?\r\n", ReplyError::Streamed),
    ];
    for (input, err) in cases {
        assert_eq!(Value::decode(input), Err(err.clone()), "{input:?}");
    }
}

#[test]
fn decode_depth_is_capped() {
    let mut ok = b"*1\r\n".repeat(MAX_DEPTH);
    ok.extend_from_slice(b":1\r\n");
    assert!(Value::decode(&ok).unwrap().is_some());
    let mut deep = b"*1\r\n".repeat(500_000);
    deep.extend_from_slice(b":1\r\n");
    assert_eq!(Value::decode(&deep), Err(ReplyError::TooDeep(MAX_DEPTH)));
}

#[test]
fn accessors() {
    use Value::*;
    assert_eq!(Simple(b("OK")).as_bytes(), Some(&b"OK"[..]));
    assert_eq!(Bulk(b("x")).as_str(), Some("x"));
    assert_eq!(Error(b("ERR e")).as_bytes(), Some(&b"ERR e"[..]));
    assert_eq!(Double(b("1.5")).as_bytes(), Some(&b"1.5"[..]));
    assert_eq!(BigNumber(b("12")).as_bytes(), Some(&b"12"[..]));
    assert_eq!(Verbatim(b("txt:hello")).as_bytes(), Some(&b"hello"[..]));
    assert_eq!(Verbatim(b("mkd:")).as_bytes(), Some(&b""[..]));
    assert_eq!(Integer(1).as_bytes(), None);
    assert_eq!(Null.as_bytes(), None);

    assert_eq!(Integer(-3).as_int(), Some(-3));
    assert_eq!(Bulk(b("6379")).as_int(), Some(6379));
    assert_eq!(Simple(b("-1")).as_int(), Some(-1));
    assert_eq!(Bulk(b("01")).as_int(), None);
    assert_eq!(Bulk(b("x")).as_int(), None);
    assert_eq!(Double(b("1")).as_int(), None);

    let items = vec![Integer(1), Integer(2)];
    assert_eq!(Array(items.clone()).as_array(), Some(&items[..]));
    assert_eq!(Set(items.clone()).as_array(), Some(&items[..]));
    assert_eq!(Push(items.clone()).as_array(), Some(&items[..]));
    assert_eq!(Map(vec![]).as_array(), None);
    assert!(Null.is_null());
    assert!(!Integer(0).is_null());
}

#[test]
fn map_access_in_both_protocols() {
    use Value::*;
    let resp3 = decoded(b"%3\r\n+id\r\n$4\r\nabcd\r\n+port\r\n:7000\r\n$4\r\nrole\r\n+master\r\n");
    let resp2 = decoded(
        b"*6\r\n$2\r\nid\r\n$4\r\nabcd\r\n$4\r\nport\r\n:7000\r\n$4\r\nrole\r\n$6\r\nmaster\r\n",
    );
    for v in [&resp3, &resp2] {
        assert_eq!(v.map_get("id").and_then(Value::as_str), Some("abcd"));
        assert_eq!(v.map_get("port").and_then(Value::as_int), Some(7000));
        assert_eq!(v.map_get("role").and_then(Value::as_str), Some("master"));
        assert_eq!(v.map_get("missing"), None);
        let pairs = v.map_pairs().unwrap();
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[1].1, &Integer(7000));
    }
    assert_eq!(Array(vec![Integer(1)]).map_pairs(), None);
    assert_eq!(Array(vec![Integer(1)]).map_get("1"), None);
    assert_eq!(Integer(1).map_pairs(), None);
    assert_eq!(Array(vec![]).map_pairs(), Some(vec![]));
}

/// xorshift64*, fixed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, line_safe: bool) -> Bytes {
        let len = self.below(12);
        let alphabet: &[u8] = if line_safe {
            b"abc xyz:-+!"
        } else {
            b"a\r\n\0 $*"
        };
        (0..len)
            .map(|_| alphabet[self.below(alphabet.len())])
            .collect::<Vec<u8>>()
            .into()
    }
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    use Value::*;
    let kinds = if depth >= 4 { 9 } else { 14 };
    match rng.below(kinds) {
        0 => Simple(rng.bytes(true)),
        1 => Error(rng.bytes(true)),
        2 => Integer(rng.next() as i64),
        3 => Bulk(rng.bytes(false)),
        4 => Null,
        5 => Double(Bytes::from(format!(
            "{}",
            (rng.next() as i64) as f64 / 1000.0
        ))),
        6 => Boolean(rng.below(2) == 1),
        7 => BigNumber(Bytes::from(format!("-{}{}", rng.next(), rng.next()))),
        8 => {
            let mut text = b"txt:".to_vec();
            text.extend_from_slice(&rng.bytes(false));
            Verbatim(text.into())
        }
        9 => Array(random_items(rng, depth)),
        10 => Set(random_items(rng, depth)),
        11 => Push(random_items(rng, depth)),
        _ => Map((0..rng.below(4))
            .map(|_| (random_value(rng, depth + 1), random_value(rng, depth + 1)))
            .collect()),
    }
}

fn random_items(rng: &mut Rng, depth: usize) -> Vec<Value> {
    (0..rng.below(5))
        .map(|_| random_value(rng, depth + 1))
        .collect()
}

#[test]
fn random_round_trips_through_encode() {
    let mut rng = Rng(0x00c0_ffee_1234_5678);
    for round in 0..500 {
        let v = random_value(&mut rng, 0);
        let mut out = BytesMut::new();
        encode::value(&mut out, &v);
        assert_eq!(decoded(&out), v, "round {round}");
        // The scanner agrees on where the frame ends, and on its kind.
        let frame = ReplyScanner::new().scan(&out).unwrap().unwrap();
        assert_eq!(frame.len, out.len(), "round {round}");
        assert_eq!(Some(&frame.kind), out.first(), "round {round}");
        // Every strict prefix is incomplete, for both.
        for k in (0..out.len()).step_by(1 + out.len() / 64) {
            assert_eq!(Value::decode(&out[..k]), Ok(None), "round {round} cut {k}");
            assert_eq!(ReplyScanner::new().scan(&out[..k]), Ok(None));
        }
        // The RESP2 downgrade is still a single well-formed frame.
        let mut resp2 = BytesMut::new();
        encode::value_as(&mut resp2, &v, crate::Protocol::Resp2);
        assert!(
            Value::decode(&resp2)
                .unwrap()
                .is_some_and(|(_, n)| n == resp2.len())
        );
        for t in [b'_', b'%', b'~', b'>', b',', b'#', b'(', b'='] {
            assert_ne!(resp2.first(), Some(&t), "round {round}: {v:?}");
        }
    }
}
