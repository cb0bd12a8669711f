//! Tests of frame helpers and MGET reassembly, with the exact frames Redis
//! 7.0 sends over RESP2 and RESP3, and a garbage-input test of every entry
//! point. Shared helpers for the other test files.

use bytes::Bytes;
use slotway_resp::{Protocol, ReplyScanner};

use super::*;
use crate::route::Merge;

pub(super) const R2: Protocol = Protocol::Resp2;
pub(super) const R3: Protocol = Protocol::Resp3;

pub(super) const KINDS: [Merge; 11] = [
    Merge::Mget,
    Merge::SumInts,
    Merge::AllOk,
    Merge::First,
    Merge::Concat,
    Merge::Union,
    Merge::AndInts,
    Merge::AnyNonNil,
    Merge::SumPairs,
    Merge::AnyOk,
    Merge::Info,
];

pub(super) fn b(s: &[u8]) -> Bytes {
    Bytes::copy_from_slice(s)
}

pub(super) fn frames(parts: &[&[u8]]) -> Vec<Bytes> {
    parts.iter().map(|p| b(p)).collect()
}

/// Exactly one complete, well-formed frame.
pub(super) fn one_frame(out: &[u8]) -> bool {
    matches!(ReplyScanner::new().scan(out), Ok(Some(info)) if info.len == out.len())
}

pub(super) fn slotway_err(out: &Bytes) -> String {
    let text = String::from_utf8_lossy(out).into_owned();
    assert!(
        text.starts_with("-ERR slotway: "),
        "not a slotway error: {text:?}"
    );
    assert!(one_frame(out), "{text:?}");
    text
}

pub(super) fn m(kind: Merge, parts: &[&[u8]], proto: Protocol) -> Bytes {
    merge(kind, &frames(parts), proto, 0)
}

// ---- elements / is_error / is_null ----

#[test]
fn elements_of_a_keys_reply_are_zero_copy_slices() {
    let frame = b(b"*3\r\n$2\r\nk3\r\n$1\r\nl\r\n$0\r\n\r\n");
    let items = elements(&frame).unwrap();
    assert_eq!(
        items,
        frames(&[b"$2\r\nk3\r\n", b"$1\r\nl\r\n", b"$0\r\n\r\n"])
    );
    let range = frame.as_ptr_range();
    for item in &items {
        assert!(range.contains(&item.as_ptr()), "element copied");
    }
}

#[test]
fn elements_of_resp3_aggregates() {
    let set = b(b"~2\r\n+a\r\n:1\r\n");
    assert_eq!(elements(&set).unwrap(), frames(&[b"+a\r\n", b":1\r\n"]));
    let push = b(b">2\r\n$7\r\nmessage\r\n_\r\n");
    assert_eq!(
        elements(&push).unwrap(),
        frames(&[b"$7\r\nmessage\r\n", b"_\r\n"])
    );
    let map = b(b"%2\r\n+a\r\n:1\r\n+b\r\n*2\r\n#t\r\n,1.5\r\n");
    assert_eq!(
        elements(&map).unwrap(),
        frames(&[b"+a\r\n", b":1\r\n", b"+b\r\n", b"*2\r\n#t\r\n,1.5\r\n"])
    );
    // Nested aggregates are single elements.
    let nested = b(b"*2\r\n*2\r\n*1\r\n:1\r\n$1\r\nx\r\n%1\r\n+k\r\n~0\r\n");
    assert_eq!(
        elements(&nested).unwrap(),
        frames(&[b"*2\r\n*1\r\n:1\r\n$1\r\nx\r\n", b"%1\r\n+k\r\n~0\r\n"])
    );
    assert_eq!(elements(&b(b"*0\r\n")).unwrap(), Vec::<Bytes>::new());
    assert_eq!(elements(&b(b"%0\r\n")).unwrap(), Vec::<Bytes>::new());
}

#[test]
fn elements_skip_a_leading_attribute_and_keep_inner_ones() {
    let frame = b(b"|1\r\n+ttl\r\n:5\r\n*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n");
    assert_eq!(
        elements(&frame).unwrap(),
        frames(&[b"|1\r\n+a\r\n+b\r\n:1\r\n", b":2\r\n"])
    );
}

#[test]
fn elements_of_non_aggregates_and_nulls_are_none() {
    for frame in [
        &b"*-1\r\n"[..],
        b"_\r\n",
        b"%-1\r\n",
        b"$-1\r\n",
        b"$3\r\nfoo\r\n",
        b":1\r\n",
        b"+OK\r\n",
        b"-ERR x\r\n",
        b"!3\r\nERR\r\n",
        b"=7\r\ntxt:abc\r\n",
    ] {
        assert_eq!(elements(&b(frame)), None, "{frame:?}");
    }
}

#[test]
fn elements_of_malformed_frames_are_none() {
    let valid = b"*3\r\n$2\r\nk3\r\n*2\r\n:1\r\n%1\r\n+a\r\n_\r\n$-1\r\n";
    for end in 0..valid.len() {
        assert_eq!(elements(&b(&valid[..end])), None, "prefix {end}");
    }
    assert!(elements(&b(valid)).is_some());
    for frame in [
        &b""[..],
        b"*3\r\n:1\r\n:2\r\n:3\r\n:4\r\n", // trailing element
        b"*1\r\n:1\r\nxx",
        b"*-2\r\n",
        b"*x\r\n:1\r\n",
        b"*1\n:1\r\n",
        b"*9223372036854775807\r\n:1\r\n",
        b"%9223372036854775807\r\n:1\r\n",
        b"*1\r\n$5\r\nab\r\n",
        b"*1\r\n@1\r\n",
        b"*1\r\n*?\r\n",
        b"|1\r\n+a\r\n*0\r\n",
        b"|-1\r\n*0\r\n",
    ] {
        assert_eq!(elements(&b(frame)), None, "{frame:?}");
    }
}

#[test]
fn errors_and_nulls_are_recognised() {
    assert!(is_error(b"-ERR unknown command\r\n"));
    assert!(is_error(b"-MOVED 1 127.0.0.1:7000\r\n"));
    assert!(is_error(b"!21\r\nSYNTAX invalid syntax\r\n"));
    assert!(is_error(b"|1\r\n+a\r\n+b\r\n-ERR x\r\n"));
    for not in [&b"+OK\r\n"[..], b"$1\r\n-\r\n", b"*1\r\n-ERR\r\n", b""] {
        assert!(!is_error(not), "{not:?}");
    }
    for null in [
        &b"$-1\r\n"[..],
        b"*-1\r\n",
        b"_\r\n",
        b"|1\r\n+a\r\n+b\r\n_\r\n",
    ] {
        assert!(is_null(null), "{null:?}");
    }
    for not in [
        &b"$0\r\n\r\n"[..],
        b"*0\r\n",
        b":0\r\n",
        b"$-1\r\n\r\n",
        b"_",
        b"",
    ] {
        assert!(!is_null(not), "{not:?}");
    }
}

// ---- MGET ----

#[test]
fn mget_reassembles_three_parts_in_key_order() {
    // MGET a b c d e f: slots group {a, d, f}, {b, e}, {c}.
    let p0 = b(b"*3\r\n$2\r\nva\r\n$-1\r\n$2\r\nvf\r\n");
    let p1 = b(b"*2\r\n$2\r\nvb\r\n$0\r\n\r\n");
    let p2 = b(b"*1\r\n$-1\r\n");
    let parts: [(&[u32], &Bytes); 3] = [(&[0, 3, 5], &p0), (&[1, 4], &p1), (&[2], &p2)];
    let out = mget(&parts, 6);
    assert_eq!(
        out,
        b(b"*6\r\n$2\r\nva\r\n$2\r\nvb\r\n$-1\r\n$-1\r\n$0\r\n\r\n$2\r\nvf\r\n")
    );
}

#[test]
fn mget_over_resp3_keeps_resp3_nulls() {
    let p0 = b(b"*2\r\n_\r\n$1\r\n1\r\n");
    let p1 = b(b"*2\r\n$1\r\n2\r\n_\r\n");
    let parts: [(&[u32], &Bytes); 2] = [(&[3, 0], &p0), (&[2, 1], &p1)];
    assert_eq!(
        mget(&parts, 4),
        b(b"*4\r\n$1\r\n1\r\n_\r\n$1\r\n2\r\n_\r\n")
    );
}

#[test]
fn mget_single_part_is_the_part() {
    let p0 = b(b"*2\r\n$1\r\nx\r\n$-1\r\n");
    assert_eq!(mget(&[(&[0, 1], &p0)], 2), p0);
}

#[test]
fn mget_returns_the_first_error_before_anything_else() {
    let bad = b(b"*5\r\n:1\r\n");
    let moved = b(b"-MOVED 42 10.0.0.2:7001\r\n");
    let blob = b(b"!10\r\nERR broken\r\n");
    let parts: [(&[u32], &Bytes); 3] = [(&[0], &bad), (&[1], &moved), (&[2], &blob)];
    assert_eq!(mget(&parts, 3), moved);
    let parts: [(&[u32], &Bytes); 2] = [(&[0], &blob), (&[1], &moved)];
    assert_eq!(mget(&parts, 2), blob);
}

#[test]
fn mget_malformed_parts_are_explained() {
    let good = b(b"*1\r\n$1\r\nx\r\n");
    for (part, why) in [
        (
            &b"$1\r\nx\r\n"[..],
            "expected an array from the node, got a bulk string",
        ),
        (b"*-1\r\n", "got a null array"),
        (b"~1\r\n$1\r\ny\r\n", "got a set"),
        (b"*2\r\n$1\r\ny\r\n", "got a malformed reply"),
        (b"*2\r\n$1\r\ny\r\n$1\r\nz\r\n", "2 values for 1 keys"),
        (b"*0\r\n", "0 values for 1 keys"),
        (b"", "got a malformed reply"),
        (b"garbage", "got a malformed reply"),
    ] {
        let part = b(part);
        let parts: [(&[u32], &Bytes); 2] = [(&[0], &good), (&[1], &part)];
        let out = slotway_err(&mget(&parts, 2));
        assert!(out.contains("MGET part 1") && out.contains(why), "{out}");
    }
}

#[test]
fn mget_inconsistent_positions_are_internal_errors() {
    let one = b(b"*1\r\n$1\r\nx\r\n");
    let two = b(b"*2\r\n$1\r\nx\r\n$1\r\ny\r\n");
    type Parts<'a> = &'a [(&'a [u32], &'a Bytes)];
    let cases: [(Parts<'_>, usize, &str); 4] = [
        (&[(&[0], &one), (&[2], &one)], 2, "position 2 out of range"),
        (
            &[(&[0, 1], &two), (&[1], &one)],
            2,
            "position 1 given twice",
        ),
        (&[(&[0], &one), (&[2], &one)], 3, "position 1 has no part"),
        (&[(&[u32::MAX], &one)], 1, "out of range"),
    ];
    for (parts, total, why) in cases {
        let out = slotway_err(&mget(parts, total));
        assert!(
            out.contains("internal: MGET key") && out.contains(why),
            "{out}"
        );
    }
    assert_eq!(mget(&[], 1), b(b"-ERR slotway: no node answered\r\n"));
}

/// A small deterministic generator for the garbage test.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn malformed_and_truncated_parts_never_panic() {
    let valid: [&[u8]; 8] = [
        b"*4\r\n$1\r\nx\r\n:2\r\n$1\r\ny\r\n:0\r\n",
        b"%1\r\n$1\r\nx\r\n:2\r\n",
        b"*2\r\n*1\r\n:1\r\n~1\r\n#t\r\n",
        b":12\r\n",
        b"+OK\r\n",
        b"$3\r\nabc\r\n",
        b"|1\r\n+a\r\n+b\r\n*1\r\n:1\r\n",
        b"=9\r\ntxt:a:1\r\n\r\n",
    ];
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    for v in valid {
        for end in 0..=v.len() {
            pieces.push(v[..end].to_vec());
        }
    }
    let mut rng = Lcg(7);
    let alphabet = b"*%~>|$=!-+:_#,(\r\n0123-?abc";
    for _ in 0..400 {
        let len = rng.next() % 24;
        let piece = (0..len).map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize]);
        pieces.push(piece.collect());
    }
    let sections: [&[u8]; 1] = [b"all"];
    let proxy = ProxySection {
        version: "0",
        masters: 1,
        topology_version: 1,
        covered_slots: 0,
        commands: &[],
    };
    for (i, piece) in pieces.iter().enumerate() {
        let good = b(valid[i % valid.len()]);
        let piece = b(piece);
        for replies in [vec![good.clone(), piece.clone()], vec![piece.clone()]] {
            for kind in KINDS {
                for proto in [R2, R3] {
                    let out = merge(kind, &replies, proto, i);
                    assert!(one_frame(&out), "{kind:?} {replies:?} -> {out:?}");
                }
            }
            for proto in [R2, R3] {
                let out = info(&replies, &sections, proto, &proxy);
                assert!(one_frame(&out), "info {replies:?} -> {out:?}");
            }
        }
        let parts: [(&[u32], &Bytes); 2] = [(&[0], &piece), (&[1], &good)];
        assert!(one_frame(&mget(&parts, 2)));
        let _ = elements(&piece);
        let _ = (is_error(&piece), is_null(&piece));
    }
}
