//! The [`super::merge`] kinds, one function each. Callers have already
//! returned the first error reply, so every part here is a non-error frame;
//! anything that is not what the command answers is reported with
//! [`super::unexpected`].

use std::collections::HashSet;

use bytes::{BufMut, Bytes, BytesMut};
use slotway_resp::{Protocol, encode};

use super::frame::{self, Aggregate};
use super::{is_null, slotway_error, unexpected};

const OK: &[u8] = b"+OK\r\n";

/// `:sum` of integer replies.
pub(super) fn sum_ints(replies: &[Bytes]) -> Bytes {
    let mut sum = 0i64;
    for reply in replies {
        let Some(n) = frame::integer(reply) else {
            return unexpected("an integer", reply);
        };
        let Some(total) = sum.checked_add(n) else {
            return slotway_error("integer overflow adding the nodes' replies");
        };
        sum = total;
    }
    let mut out = BytesMut::with_capacity(24);
    encode::integer(&mut out, sum);
    out.freeze()
}

/// `+OK` when every reply is `+OK`, else the first one that is not.
pub(super) fn all_ok(replies: &[Bytes]) -> Bytes {
    replies
        .iter()
        .find(|reply| reply.as_ref() != OK)
        .cloned()
        .unwrap_or_else(|| Bytes::from_static(OK))
}

/// The first non-null reply from `pick % len` on, wrapping; else the first.
pub(super) fn any_non_nil(replies: &[Bytes], pick: usize) -> Bytes {
    let start = pick.checked_rem(replies.len()).unwrap_or(0);
    let (before, after) = replies.split_at(start.min(replies.len()));
    after
        .iter()
        .chain(before)
        .find(|reply| !is_null(reply))
        .or_else(|| replies.first())
        .cloned()
        .unwrap_or_default()
}

/// Arrays concatenated; with `dedupe`, byte-equal elements after the first
/// dropped. Null parts are empty.
pub(super) fn concat(replies: &[Bytes], proto: Protocol, dedupe: bool) -> Bytes {
    let mut items: Vec<Bytes> = Vec::new();
    let mut seen: HashSet<Bytes> = HashSet::new();
    let (mut arrays, mut sets) = (0usize, 0usize);
    for reply in replies {
        if is_null(reply) {
            continue;
        }
        let Some(agg) = frame::aggregate(reply).filter(|a| matches!(a.kind, b'*' | b'~')) else {
            return unexpected("an array", reply);
        };
        if agg.kind == b'~' {
            sets += 1;
        } else {
            arrays += 1;
        }
        for item in agg.items {
            if !dedupe || seen.insert(item.clone()) {
                items.push(item);
            }
        }
    }
    let as_set = proto == Protocol::Resp3 && sets > 0 && arrays == 0;
    let size = items.iter().map(Bytes::len).sum::<usize>();
    let mut out = BytesMut::with_capacity(size.saturating_add(24));
    if as_set {
        encode::set_header(&mut out, items.len(), Protocol::Resp3);
    } else {
        encode::array_header(&mut out, items.len());
    }
    for item in &items {
        out.put_slice(item);
    }
    out.freeze()
}

/// `:0`/`:1` (RESP3 also `#f`/`#t`) as a flag.
fn flag(element: &[u8]) -> Option<bool> {
    match element {
        b":0\r\n" | b"#f\r\n" => Some(false),
        b":1\r\n" | b"#t\r\n" => Some(true),
        _ => None,
    }
}

/// Arrays of 0/1 flags ANDed element-wise.
pub(super) fn and_ints(replies: &[Bytes], proto: Protocol) -> Bytes {
    const WHAT: &str = "an array of 0/1 integers";
    let mut acc: Option<Vec<bool>> = None;
    let mut booleans = false;
    for reply in replies {
        let Some(agg) = frame::aggregate(reply).filter(|a| a.kind == b'*') else {
            return unexpected(WHAT, reply);
        };
        let Some(flags) = agg
            .items
            .iter()
            .map(|e| flag(e))
            .collect::<Option<Vec<bool>>>()
        else {
            return unexpected(WHAT, reply);
        };
        match acc.as_mut() {
            None => {
                booleans = agg.items.first().is_some_and(|e| e.first() == Some(&b'#'));
                acc = Some(flags);
            }
            Some(acc) if acc.len() == flags.len() => {
                acc.iter_mut().zip(flags).for_each(|(a, f)| *a &= f);
            }
            Some(acc) => {
                return slotway_error(format_args!(
                    "nodes answered arrays of different lengths ({} and {})",
                    acc.len(),
                    flags.len()
                ));
            }
        }
    }
    let acc = acc.unwrap_or_default();
    let booleans = booleans && proto == Protocol::Resp3;
    let mut out = BytesMut::with_capacity(acc.len().saturating_mul(4).saturating_add(24));
    encode::array_header(&mut out, acc.len());
    for f in acc {
        if booleans {
            encode::boolean(&mut out, f, Protocol::Resp3);
        } else {
            encode::integer(&mut out, i64::from(f));
        }
    }
    out.freeze()
}

/// `name, count` pairs of one reply.
fn pairs(agg: &Aggregate) -> Option<Vec<(&Bytes, i64)>> {
    let chunks = agg.items.chunks_exact(2);
    if !chunks.remainder().is_empty() {
        return None;
    }
    chunks
        .map(|pair| match pair {
            [name, count] => Some((name, frame::integer(count)?)),
            _ => None,
        })
        .collect()
}

/// Flat `name, count` arrays (or maps) with the same names in the same
/// order: counts summed.
pub(super) fn sum_pairs(replies: &[Bytes], proto: Protocol) -> Bytes {
    const WHAT: &str = "an array of name, count pairs";
    let mut acc: Vec<(Bytes, i64)> = Vec::new();
    let mut map = false;
    for (i, reply) in replies.iter().enumerate() {
        let agg = frame::aggregate(reply).filter(|a| matches!(a.kind, b'*' | b'%'));
        let Some(agg) = agg else {
            return unexpected(WHAT, reply);
        };
        let Some(pairs) = pairs(&agg) else {
            return unexpected(WHAT, reply);
        };
        if i == 0 {
            map = agg.kind == b'%';
            acc = pairs.into_iter().map(|(n, c)| (n.clone(), c)).collect();
            continue;
        }
        let same_names = pairs.len() == acc.len()
            && pairs
                .iter()
                .zip(&acc)
                .all(|((name, _), (seen, _))| *name == seen);
        if !same_names {
            return slotway_error(
                "nodes answered different names (or orders) of name, count pairs",
            );
        }
        for ((_, count), (_, total)) in pairs.iter().zip(acc.iter_mut()) {
            let Some(sum) = total.checked_add(*count) else {
                return slotway_error("integer overflow adding the nodes' replies");
            };
            *total = sum;
        }
    }
    let size = acc.iter().map(|(name, _)| name.len() + 24).sum::<usize>();
    let mut out = BytesMut::with_capacity(size.saturating_add(24));
    if map && proto == Protocol::Resp3 {
        encode::map_header(&mut out, acc.len(), Protocol::Resp3);
    } else {
        encode::array_header(&mut out, acc.len().saturating_mul(2));
    }
    for (name, count) in &acc {
        out.put_slice(name);
        encode::integer(&mut out, *count);
    }
    out.freeze()
}
