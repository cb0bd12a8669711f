//! Tests of every [`merge`] kind over RESP2 and RESP3 frames as Redis 7.0
//! sends them: sums, OK checks, concatenation and union (with nested
//! elements), element-wise AND, any-non-nil picking, name/count pairs;
//! errors first, nulls, malformed parts.

use super::merge;
use super::tests::{KINDS, R2, R3, b, frames, m, slotway_err};
use crate::route::Merge;

#[test]
fn empty_replies_and_kinds_needing_more_are_errors() {
    for kind in KINDS {
        for proto in [R2, R3] {
            let out = merge(kind, &[], proto, 0);
            if matches!(kind, Merge::Mget | Merge::Info) {
                assert!(slotway_err(&out).contains("internal:"));
            } else {
                assert_eq!(out, b(b"-ERR slotway: no node answered\r\n"));
            }
        }
    }
    for kind in [Merge::Mget, Merge::Info] {
        let out = m(kind, &[b"-ERR x\r\n", b"*0\r\n"], R2);
        assert!(slotway_err(&out).contains("internal:"), "{kind:?}");
    }
}

#[test]
fn sum_ints_adds_integers() {
    for proto in [R2, R3] {
        assert_eq!(
            m(Merge::SumInts, &[b":5\r\n", b":6\r\n", b":0\r\n"], proto),
            b(b":11\r\n")
        );
        assert_eq!(
            m(Merge::SumInts, &[b":-3\r\n", b":1\r\n"], proto),
            b(b":-2\r\n")
        );
        assert_eq!(m(Merge::SumInts, &[b":7\r\n"], proto), b(b":7\r\n"));
    }
}

#[test]
fn sum_ints_first_error_wins_and_non_integers_are_refused() {
    let replies: [&[u8]; 4] = [
        b":1\r\n",
        b"$1\r\n5\r\n",
        b"-CLUSTERDOWN down\r\n",
        b"-ERR b\r\n",
    ];
    assert_eq!(m(Merge::SumInts, &replies, R2), b(b"-CLUSTERDOWN down\r\n"));
    for (bad, got) in [
        (&b"$1\r\n5\r\n"[..], "got a bulk string"),
        (b"_\r\n", "got a null"),
        (b"$-1\r\n", "got a null"),
        (b",1.5\r\n", "got a double"),
        (b":5\r\n:6\r\n", "got a malformed reply"),
        (b":5", "got a malformed reply"),
        (b":05\r\n", "got an integer"),
        (b"*1\r\n:1\r\n", "got an array"),
    ] {
        let out = slotway_err(&m(Merge::SumInts, &[b":1\r\n", bad], R2));
        assert!(
            out.contains("expected an integer from every node") && out.contains(got),
            "{out}"
        );
    }
    let max = format!(":{}\r\n", i64::MAX);
    let out = m(Merge::SumInts, &[max.as_bytes(), b":1\r\n"], R2);
    assert!(slotway_err(&out).contains("overflow"));
}

#[test]
fn all_ok_needs_every_ok() {
    for proto in [R2, R3] {
        assert_eq!(
            m(Merge::AllOk, &[b"+OK\r\n", b"+OK\r\n"], proto),
            b(b"+OK\r\n")
        );
    }
    let replies: [&[u8]; 3] = [b"+OK\r\n", b"+QUEUED\r\n", b"-READONLY no\r\n"];
    assert_eq!(m(Merge::AllOk, &replies, R2), b(b"-READONLY no\r\n"));
    assert_eq!(m(Merge::AllOk, &replies[..2], R2), b(b"+QUEUED\r\n"));
    assert_eq!(m(Merge::AllOk, &[b"+OK\r\n", b":1\r\n"], R3), b(b":1\r\n"));
}

#[test]
fn first_is_the_first_reply_unless_an_error() {
    let sha = b"$40\r\n6b1bf486c81ceb7edf3c093f4c48582e38c0e791\r\n";
    assert_eq!(m(Merge::First, &[sha, sha], R2), b(sha));
    assert_eq!(
        m(Merge::First, &[sha, b"-NOSCRIPT x\r\n"], R3),
        b(b"-NOSCRIPT x\r\n")
    );
    assert_eq!(m(Merge::First, &[b"$-1\r\n", sha], R2), b(b"$-1\r\n"));
}

#[test]
fn concat_joins_keys_replies() {
    let a = b"*3\r\n$2\r\nk3\r\n$2\r\nk2\r\n$1\r\nl\r\n";
    let c = b"*2\r\n$1\r\nc\r\n$2\r\nk2\r\n";
    for proto in [R2, R3] {
        assert_eq!(
            m(Merge::Concat, &[a, b"*0\r\n", c], proto),
            b(b"*5\r\n$2\r\nk3\r\n$2\r\nk2\r\n$1\r\nl\r\n$1\r\nc\r\n$2\r\nk2\r\n")
        );
    }
    assert_eq!(m(Merge::Concat, &[b"*0\r\n", b"*0\r\n"], R2), b(b"*0\r\n"));
}

#[test]
fn concat_keeps_nested_elements_whole() {
    let a = b"*2\r\n*2\r\n:1\r\n$1\r\na\r\n%1\r\n+k\r\n_\r\n";
    let c = b"*1\r\n*0\r\n";
    assert_eq!(
        m(Merge::Concat, &[a, c], R3),
        b(b"*3\r\n*2\r\n:1\r\n$1\r\na\r\n%1\r\n+k\r\n_\r\n*0\r\n")
    );
}

#[test]
fn concat_of_sets_and_nulls() {
    let s1 = b"~1\r\n$1\r\na\r\n";
    let s2 = b"~1\r\n$1\r\nb\r\n";
    assert_eq!(
        m(Merge::Concat, &[s1, s2], R3),
        b(b"~2\r\n$1\r\na\r\n$1\r\nb\r\n")
    );
    // RESP2 clients get arrays; so does a mix.
    assert_eq!(
        m(Merge::Concat, &[s1, s2], R2),
        b(b"*2\r\n$1\r\na\r\n$1\r\nb\r\n")
    );
    assert_eq!(
        m(Merge::Concat, &[s1, b"*1\r\n$1\r\nb\r\n"], R3),
        b(b"*2\r\n$1\r\na\r\n$1\r\nb\r\n")
    );
    assert_eq!(m(Merge::Concat, &[b"*-1\r\n", s1, b"_\r\n"], R3), b(s1));
    assert_eq!(m(Merge::Concat, &[b"*-1\r\n", b"_\r\n"], R3), b(b"*0\r\n"));
}

#[test]
fn concat_and_union_refuse_non_arrays_after_errors() {
    for kind in [Merge::Concat, Merge::Union] {
        let out = m(
            kind,
            &[b"*1\r\n:1\r\n", b"-ERR a\r\n", b":3\r\n", b"-ERR b\r\n"],
            R2,
        );
        assert_eq!(out, b(b"-ERR a\r\n"));
        for bad in [
            &b":3\r\n"[..],
            b"%1\r\n+a\r\n+b\r\n",
            b"*2\r\n:1\r\n",
            b">1\r\n:1\r\n",
        ] {
            let out = slotway_err(&m(kind, &[b"*1\r\n:1\r\n", bad], R3));
            assert!(out.contains("expected an array from every node"), "{out}");
        }
    }
}

#[test]
fn union_drops_duplicates_in_first_seen_order() {
    let a = b"*3\r\n$2\r\nch\r\n$4\r\nnews\r\n$2\r\nch\r\n";
    let c = b"*3\r\n$5\r\nsport\r\n$4\r\nnews\r\n$2\r\nCH\r\n";
    for proto in [R2, R3] {
        assert_eq!(
            m(Merge::Union, &[a, b"*0\r\n", c], proto),
            b(b"*4\r\n$2\r\nch\r\n$4\r\nnews\r\n$5\r\nsport\r\n$2\r\nCH\r\n")
        );
    }
    // Byte-equal frames only: the integer 1 and the string "1" differ.
    let nested = b"*3\r\n*1\r\n:1\r\n*1\r\n$1\r\n1\r\n*1\r\n:1\r\n";
    assert_eq!(
        m(Merge::Union, &[nested, b"~1\r\n*1\r\n$1\r\n1\r\n"], R3),
        b(b"*2\r\n*1\r\n:1\r\n*1\r\n$1\r\n1\r\n")
    );
    let s = b"~2\r\n+a\r\n+b\r\n";
    assert_eq!(m(Merge::Union, &[s, b"~1\r\n+b\r\n"], R3), b(s));
}

#[test]
fn and_ints_combines_script_exists_replies() {
    let a = b"*3\r\n:1\r\n:1\r\n:0\r\n";
    let c = b"*3\r\n:1\r\n:0\r\n:0\r\n";
    for proto in [R2, R3] {
        assert_eq!(
            m(Merge::AndInts, &[a, c], proto),
            b(b"*3\r\n:1\r\n:0\r\n:0\r\n")
        );
        assert_eq!(m(Merge::AndInts, &[a], proto), b(a));
        assert_eq!(
            m(Merge::AndInts, &[b"*0\r\n", b"*0\r\n"], proto),
            b(b"*0\r\n")
        );
    }
    let t = b"*2\r\n#t\r\n#t\r\n";
    let f = b"*2\r\n#t\r\n#f\r\n";
    assert_eq!(m(Merge::AndInts, &[t, f], R3), b(b"*2\r\n#t\r\n#f\r\n"));
    assert_eq!(m(Merge::AndInts, &[t, f], R2), b(b"*2\r\n:1\r\n:0\r\n"));
}

#[test]
fn and_ints_refuses_mismatches() {
    let a = b"*2\r\n:1\r\n:1\r\n";
    assert_eq!(
        m(Merge::AndInts, &[a, b"*1\r\n:1\r\n", b"-NOSCRIPT\r\n"], R2),
        b(b"-NOSCRIPT\r\n")
    );
    let out = slotway_err(&m(Merge::AndInts, &[a, b"*1\r\n:1\r\n"], R2));
    assert!(out.contains("different lengths (2 and 1)"), "{out}");
    for bad in [
        &b"*2\r\n:1\r\n:2\r\n"[..],
        b"*2\r\n:1\r\n$1\r\n1\r\n",
        b"~2\r\n:1\r\n:1\r\n",
        b":1\r\n",
    ] {
        let out = slotway_err(&m(Merge::AndInts, &[a, bad], R2));
        assert!(out.contains("expected an array of 0/1 integers"), "{out}");
    }
}

#[test]
fn any_non_nil_starts_at_pick_and_wraps() {
    let replies = frames(&[b"$1\r\na\r\n", b"$-1\r\n", b"$1\r\nc\r\n"]);
    let pick = |p| merge(Merge::AnyNonNil, &replies, R2, p);
    assert_eq!(pick(0), b(b"$1\r\na\r\n"));
    assert_eq!(pick(1), b(b"$1\r\nc\r\n"));
    assert_eq!(pick(2), b(b"$1\r\nc\r\n"));
    assert_eq!(pick(3), b(b"$1\r\na\r\n"));
    assert_eq!(pick(usize::MAX), pick(usize::MAX % 3));
    let wrap = frames(&[b"$1\r\na\r\n", b"_\r\n", b"_\r\n"]);
    assert_eq!(merge(Merge::AnyNonNil, &wrap, R3, 1), b(b"$1\r\na\r\n"));
    let nulls = frames(&[b"_\r\n", b"_\r\n"]);
    assert_eq!(merge(Merge::AnyNonNil, &nulls, R3, 1), b(b"_\r\n"));
    let nulls = frames(&[b"$-1\r\n", b"$-1\r\n"]);
    assert_eq!(merge(Merge::AnyNonNil, &nulls, R2, 7), b(b"$-1\r\n"));
    let err = frames(&[b"$1\r\na\r\n", b"-ERR x\r\n"]);
    assert_eq!(merge(Merge::AnyNonNil, &err, R2, 0), b(b"-ERR x\r\n"));
}

#[test]
fn sum_pairs_adds_numsub_counts() {
    let a = b"*4\r\n$1\r\nx\r\n:2\r\n$1\r\ny\r\n:0\r\n";
    let c = b"*4\r\n$1\r\nx\r\n:1\r\n$1\r\ny\r\n:5\r\n";
    for proto in [R2, R3] {
        assert_eq!(
            m(Merge::SumPairs, &[a, c, a], proto),
            b(b"*4\r\n$1\r\nx\r\n:5\r\n$1\r\ny\r\n:5\r\n")
        );
        assert_eq!(
            m(Merge::SumPairs, &[b"*0\r\n", b"*0\r\n"], proto),
            b(b"*0\r\n")
        );
    }
    // Repeated names stay positional.
    let dup = b"*4\r\n$1\r\nx\r\n:1\r\n$1\r\nx\r\n:1\r\n";
    assert_eq!(
        m(Merge::SumPairs, &[dup, dup], R2),
        b(b"*4\r\n$1\r\nx\r\n:2\r\n$1\r\nx\r\n:2\r\n")
    );
    let map = b"%1\r\n$1\r\nx\r\n:2\r\n";
    assert_eq!(
        m(Merge::SumPairs, &[map, map], R3),
        b(b"%1\r\n$1\r\nx\r\n:4\r\n")
    );
    assert_eq!(
        m(Merge::SumPairs, &[map, map], R2),
        b(b"*2\r\n$1\r\nx\r\n:4\r\n")
    );
}

#[test]
fn sum_pairs_refuses_mismatches() {
    let a = b"*2\r\n$1\r\nx\r\n:2\r\n";
    assert_eq!(
        m(Merge::SumPairs, &[a, b"!3\r\nERR\r\n"], R3),
        b(b"!3\r\nERR\r\n")
    );
    for other in [
        &b"*2\r\n$1\r\ny\r\n:2\r\n"[..],
        b"*4\r\n$1\r\nx\r\n:2\r\n$1\r\ny\r\n:2\r\n",
        b"*0\r\n",
    ] {
        let out = slotway_err(&m(Merge::SumPairs, &[a, other], R2));
        assert!(out.contains("different names"), "{out}");
    }
    for bad in [
        &b"*1\r\n$1\r\nx\r\n"[..],
        b"*2\r\n$1\r\nx\r\n$1\r\n2\r\n",
        b":1\r\n",
        b"*2\r\n$1\r\nx\r\n",
    ] {
        let out = slotway_err(&m(Merge::SumPairs, &[a, bad], R2));
        assert!(
            out.contains("expected an array of name, count pairs"),
            "{out}"
        );
    }
}
