//! Routing and merging: requests parsed from fuzz bytes are routed without
//! panicking; a refusal encodes as one error frame whatever bytes it
//! quotes; a split request's keys are grouped by slot as the session
//! does and the merged reply of well-behaved parts gives back every key in
//! the client's order; arbitrary node replies merged by every merge kind
//! always give exactly one well-formed frame.

#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use slotway_core::merge;
use slotway_core::route::{self, Merge, Policy, Route};
use slotway_hashkit::{SLOT_COUNT, key_slot};
use slotway_resp::{Limits, Protocol, ReplyScanner, Request, RequestParser, Value, encode};

const KINDS: [Merge; 9] = [
    Merge::SumInts,
    Merge::AllOk,
    Merge::First,
    Merge::Concat,
    Merge::Union,
    Merge::AndInts,
    Merge::AnyNonNil,
    Merge::SumPairs,
    Merge::AnyOk,
];

fuzz_target!(|data: &[u8]| {
    let Some((&[mode, hi, lo], rest)) = data.split_first_chunk::<3>() else {
        return;
    };
    let policy = Policy {
        split_multi_key: mode & 1 == 0,
        fanout_admin: mode & 2 != 0,
    };
    let proto = if mode & 4 == 0 {
        Protocol::Resp2
    } else {
        Protocol::Resp3
    };
    let cut = usize::from(u16::from_be_bytes([hi, lo])).min(rest.len());
    let (requests, replies) = rest.split_at(cut);

    let mut parser = RequestParser::new(Limits::default());
    let mut buf = BytesMut::from(requests);
    while let Ok(Some(req)) = parser.next(&mut buf) {
        check_route(&req, policy, proto);
    }
    check_merges(replies, proto, usize::from(mode));
});

fn check_route(req: &Request, policy: Policy, proto: Protocol) {
    match route::route(req, policy) {
        Route::Reject(reject) => {
            // The message may quote client bytes (CR/LF included); the error
            // encoder must still make exactly one frame of it, as Redis does.
            let mut out = BytesMut::new();
            encode::error(&mut out, &reject.message(req));
            assert_one_frame(&out.freeze(), Merge::First);
        }
        Route::Forward(fwd) | Route::Blocking(fwd) => {
            assert!(fwd.slot.is_none_or(|s| s < SLOT_COUNT));
        }
        Route::Split { merge, .. } => check_split(req, merge, proto),
        _ => {}
    }
}

/// Groups keys by slot in first-seen order, as the session's split does,
/// answers each part the way a node would, and checks the merged reply.
fn check_split(req: &Request, kind: Merge, proto: Protocol) {
    let step = if kind == Merge::AllOk { 2 } else { 1 };
    assert!(
        req.argc() >= 2 && (req.argc() - 1).is_multiple_of(step),
        "split with dangling arguments"
    );
    let mut groups: Vec<(u16, Vec<u32>)> = Vec::new();
    let mut i = 1;
    while i < req.argc() {
        let slot = key_slot(req.arg(i).unwrap());
        let pos = u32::try_from((i - 1) / step).unwrap();
        match groups.iter_mut().find(|(s, _)| *s == slot) {
            Some((_, g)) => g.push(pos),
            None => groups.push((slot, vec![pos])),
        }
        i += step;
    }
    assert!(groups.len() >= 2, "split although every key is in one slot");
    let total = (req.argc() - 1) / step;
    let key = |pos: u32| req.arg(1 + pos as usize * step).unwrap();
    match kind {
        Merge::Mget => {
            let frames: Vec<Bytes> = groups
                .iter()
                .map(|(_, g)| {
                    let mut out = BytesMut::new();
                    encode::array_header(&mut out, g.len());
                    g.iter().for_each(|&p| encode::bulk(&mut out, key(p)));
                    out.freeze()
                })
                .collect();
            let parts: Vec<(&[u32], &Bytes)> = groups
                .iter()
                .zip(&frames)
                .map(|((_, g), f)| (g.as_slice(), f))
                .collect();
            let merged = merge::mget(&parts, total);
            let (value, n) = Value::decode(&merged).unwrap().unwrap();
            assert_eq!(n, merged.len());
            let want: Vec<Value> = (0..total)
                .map(|p| Value::Bulk(Bytes::copy_from_slice(key(p as u32))))
                .collect();
            assert_eq!(value, Value::Array(want), "MGET values out of key order");
        }
        Merge::SumInts => {
            let frames: Vec<Bytes> = groups
                .iter()
                .map(|(_, g)| Bytes::from(format!(":{}\r\n", g.len())))
                .collect();
            let merged = merge::merge(kind, &frames, proto, 0);
            assert_eq!(&merged[..], format!(":{total}\r\n").as_bytes());
        }
        Merge::AllOk => {
            let frames = vec![Bytes::from_static(b"+OK\r\n"); groups.len()];
            let merged = merge::merge(kind, &frames, proto, 0);
            assert_eq!(&merged[..], b"+OK\r\n");
        }
        other => panic!("split with merge kind {other:?}"),
    }
}

/// Node replies cut from the fuzz bytes (whole frames, then whatever
/// garbage follows) merged by every kind: one well-formed frame out.
fn check_merges(bytes: &[u8], proto: Protocol, pick: usize) {
    let mut parts: Vec<Bytes> = Vec::new();
    let mut scanner = ReplyScanner::new();
    let mut at = 0;
    while parts.len() < 8 {
        let rest = &bytes[at..];
        match scanner.scan(rest) {
            Ok(Some(info)) => {
                parts.push(Bytes::copy_from_slice(&rest[..info.len]));
                at += info.len;
            }
            _ => {
                if !rest.is_empty() {
                    parts.push(Bytes::copy_from_slice(rest));
                }
                break;
            }
        }
    }
    for part in &parts {
        let _ = route::redirect(part);
        let _ = merge::elements(part);
        let _ = merge::is_error(part);
        let _ = merge::is_null(part);
    }
    for kind in KINDS {
        assert_one_frame(&merge::merge(kind, &parts, proto, pick), kind);
    }
    // MGET with the parts' elements at positions 0.. in part order.
    let mut positions: Vec<Vec<u32>> = Vec::new();
    let mut next = 0u32;
    for part in &parts {
        let n = merge::elements(part).map_or(1, |e| e.len().max(1));
        positions.push((next..next + n as u32).collect());
        next += n as u32;
    }
    let pairs: Vec<(&[u32], &Bytes)> = positions.iter().map(Vec::as_slice).zip(&parts).collect();
    assert_one_frame(&merge::mget(&pairs, next as usize), Merge::Mget);
}

fn assert_one_frame(out: &Bytes, kind: Merge) {
    let info = ReplyScanner::new().scan(out);
    assert!(
        matches!(info, Ok(Some(f)) if f.len == out.len()),
        "{kind:?} merged into something that is not one frame: {out:?}"
    );
}
