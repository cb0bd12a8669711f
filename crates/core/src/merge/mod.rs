//! Merging the replies of a split or fanned-out request into the one reply
//! the client gets.
//!
//! When the proxy splits a request across slots (MGET, MSET, DEL …) or fans
//! it out to every master (DBSIZE, KEYS, INFO …), each part comes back as a
//! complete reply *frame*: the exact RESP bytes a node sent, in the client's
//! protocol (a RESP3 client's parts travel over RESP3 connections). This
//! module owns turning those frames into one reply, per [`Merge`] kind:
//! [`mget`] reassembles values in key order, [`merge`] handles the other
//! kinds, [`info`] builds the proxy's INFO text.
//!
//! Invariants:
//! - Pure: no I/O, no locks, no async; inputs are never trusted.
//! - Never panics, whatever the bytes: a part that is not what its command
//!   answers gives a `-ERR slotway: ...` reply explaining it, and every
//!   output is exactly one well-formed frame.
//! - Errors first: when any part is an error reply, the client gets the first
//!   one (in part order) unchanged, before any other check.
//! - A node's reply forwarded whole (an error, `First`, `AnyNonNil` …) is
//!   checked to be exactly one frame first: garbage never reaches a client.
//! - Element frames are taken as zero-copy [`Bytes::slice`]s of the parts and
//!   copied once, into the merged reply; nested elements are never decoded.

mod combine;
mod frame;
mod info;
mod stats;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_info;
#[cfg(test)]
mod tests_kinds;

use std::fmt::Display;

use bytes::{BufMut, Bytes, BytesMut};
use slotway_resp::{Protocol, encode};

use crate::route::Merge;

pub use info::{ProxySection, info};

/// Top-level elements of an aggregate reply (`*`, `~`, `>`; for `%` maps:
/// keys and values flattened in order), zero-copy. RESP3 attributes before
/// the reply are skipped; an attribute inside an element stays part of that
/// element's frame.
///
/// `None` for anything else, for a null aggregate (`*-1`), or for input that
/// is not exactly one well-formed frame.
pub fn elements(frame: &Bytes) -> Option<Vec<Bytes>> {
    frame::aggregate(frame).map(|agg| agg.items)
}

/// `-…` or `!…` (RESP3 blob error), after any RESP3 attributes.
pub fn is_error(frame: &[u8]) -> bool {
    matches!(frame::kind(frame), Some(b'-' | b'!'))
}

/// `$-1\r\n`, `*-1\r\n`, `_\r\n` (after any RESP3 attributes).
pub fn is_null(frame: &[u8]) -> bool {
    let body = frame::body_start(frame).and_then(|at| frame.get(at..));
    matches!(body, Some(b"$-1\r\n" | b"*-1\r\n" | b"_\r\n"))
}

/// MGET: part i answered an array whose elements belong at key positions
/// `parts[i].0` (0-based, in the client's key order). Returns the array of
/// `total` elements in key order.
///
/// Any part that is an error gives that error frame (the first one, in part
/// order). A part that is not an array with one element per position gives
/// `-ERR slotway: ...` saying so; positions that do not cover `0..total`
/// exactly once are the caller's bug: `-ERR slotway: internal: ...`.
pub fn mget(parts: &[(&[u32], &Bytes)], total: usize) -> Bytes {
    if parts.is_empty() {
        return no_node_answered();
    }
    if let Some((_, error)) = parts.iter().find(|(_, frame)| is_error(frame)) {
        return pass(error);
    }
    let mut values: Vec<Option<Bytes>> = vec![None; total];
    for (part, (positions, frame)) in parts.iter().enumerate() {
        let Some(agg) = frame::aggregate(frame).filter(|agg| agg.kind == b'*') else {
            return slotway_error(format_args!(
                "MGET part {part}: expected an array from the node, got {}",
                frame::describe(frame)
            ));
        };
        if agg.items.len() != positions.len() {
            return slotway_error(format_args!(
                "MGET part {part}: the node answered {} values for {} keys",
                agg.items.len(),
                positions.len()
            ));
        }
        for (&pos, item) in positions.iter().zip(agg.items) {
            let slot = usize::try_from(pos).ok().and_then(|p| values.get_mut(p));
            let Some(slot) = slot else {
                return slotway_error(format_args!(
                    "internal: MGET key position {pos} out of range ({total} keys)"
                ));
            };
            if slot.is_some() {
                return slotway_error(format_args!(
                    "internal: MGET key position {pos} given twice"
                ));
            }
            *slot = Some(item);
        }
    }
    let size = values.iter().flatten().map(Bytes::len).sum::<usize>();
    let mut out = BytesMut::with_capacity(size.saturating_add(24));
    encode::array_header(&mut out, total);
    for (pos, value) in values.iter().enumerate() {
        let Some(value) = value else {
            return slotway_error(format_args!(
                "internal: MGET key position {pos} has no part"
            ));
        };
        out.put_slice(value);
    }
    out.freeze()
}

/// Every other [`Merge`] kind (for [`Merge::Mget`] and [`Merge::Info`],
/// which need more than the replies, an `-ERR slotway: internal: ...` error):
/// - `SumInts`: all `:N` → `:sum`; a non-integer part → `-ERR slotway: ...`.
/// - `AllOk`: all `+OK` → `+OK`; otherwise the first reply that is not `+OK`.
/// - `First`: `replies[0]`.
/// - `Concat`: arrays concatenated (`*n`; `~n` for RESP3 when every part is
///   a set); null parts count as empty.
/// - `Union`: like `Concat`, byte-equal element frames dropped after the
///   first, in first-seen order.
/// - `AndInts`: arrays of `:0`/`:1` (or RESP3 `#f`/`#t`) of equal length
///   combined element-wise with AND, in the first part's form.
/// - `AnyNonNil`: the first non-null reply starting at index
///   `pick % len` and wrapping around; if all are null, `replies[0]`.
/// - `SumPairs`: flat `name, count, …` arrays (or RESP3 maps) with the same
///   names in the same order → counts summed.
///
/// For every kind the first error reply wins over everything else; an empty
/// `replies` gives `-ERR slotway: no node answered`. `proto` is the client's
/// protocol: RESP3-only forms in the parts are only kept for RESP3 clients.
pub fn merge(kind: Merge, replies: &[Bytes], proto: Protocol, pick: usize) -> Bytes {
    match kind {
        Merge::Mget => return slotway_error("internal: MGET replies are merged by merge::mget"),
        Merge::Info => return slotway_error("internal: INFO replies are merged by merge::info"),
        _ => {}
    }
    let Some(first) = replies.first() else {
        return no_node_answered();
    };
    // SCRIPT KILL / FUNCTION KILL: the node running the script kills it,
    // the others answer NOTBUSY; any success is the answer.
    if kind == Merge::AnyOk {
        return match replies.iter().find(|r| r.as_ref() == b"+OK\r\n") {
            Some(ok) => ok.clone(),
            None => pass(first),
        };
    }
    if let Some(error) = replies.iter().find(|r| is_error(r)) {
        return pass(error);
    }
    match kind {
        Merge::SumInts => combine::sum_ints(replies),
        Merge::AllOk => pass(&combine::all_ok(replies)),
        // (Mget and Info returned above.)
        Merge::First | Merge::Mget | Merge::Info | Merge::AnyOk => pass(first),
        Merge::Concat => combine::concat(replies, proto, false),
        Merge::Union => combine::concat(replies, proto, true),
        Merge::AndInts => combine::and_ints(replies, proto),
        Merge::AnyNonNil => pass(&combine::any_non_nil(replies, pick)),
        Merge::SumPairs => combine::sum_pairs(replies, proto),
    }
}

/// A node's reply, forwarded whole: it must be exactly one frame, or the
/// client's stream would break.
fn pass(reply: &Bytes) -> Bytes {
    if frame::frame_len(reply) == Some(reply.len()) {
        reply.clone()
    } else {
        slotway_error(format_args!(
            "malformed reply from a node ({} bytes)",
            reply.len()
        ))
    }
}

/// `-ERR slotway: <msg>\r\n`.
fn slotway_error(msg: impl Display) -> Bytes {
    let text = format!("ERR slotway: {msg}");
    let mut out = BytesMut::with_capacity(text.len() + 3);
    encode::error(&mut out, text.as_bytes());
    out.freeze()
}

fn no_node_answered() -> Bytes {
    Bytes::from_static(b"-ERR slotway: no node answered\r\n")
}

/// `-ERR slotway: expected <what> from every node, got <description>`.
fn unexpected(what: &str, frame: &[u8]) -> Bytes {
    slotway_error(format_args!(
        "expected {what} from every node, got {}",
        frame::describe(frame)
    ))
}
