//! Reading complete reply frames without decoding them: where the reply
//! proper starts (after RESP3 attributes), its top-level elements as
//! zero-copy slices, integers, and the payload of string replies.
//!
//! Every function takes untrusted bytes and answers `None` for anything
//! malformed: never a panic, and work bounded by the frame's length (each
//! element consumes at least 3 bytes, so no count can make a loop spin).

use bytes::Bytes;
use slotway_resp::ReplyScanner;
use slotway_resp::num::string2ll;

/// An aggregate reply split into its top-level elements.
pub(super) struct Aggregate {
    /// Type byte: `*`, `~`, `>` or `%`.
    pub kind: u8,
    /// Elements in order (for `%`, keys and values flattened).
    pub items: Vec<Bytes>,
}

/// Length of the one complete frame at the start of `buf`.
pub(super) fn frame_len(buf: &[u8]) -> Option<usize> {
    match ReplyScanner::new().scan(buf) {
        Ok(Some(info)) if info.len <= buf.len() => Some(info.len),
        _ => None,
    }
}

/// Parses the header line at `at` (`<t><number>\r\n`): the number and the
/// offset just after the line.
fn header(frame: &[u8], at: usize) -> Option<(i64, usize)> {
    let rest = frame.get(at.checked_add(1)?..)?;
    let cr = rest.iter().position(|&b| b == b'\r')?;
    if rest.get(cr + 1) != Some(&b'\n') {
        return None;
    }
    let n = string2ll(rest.get(..cr)?)?;
    Some((n, at + 1 + cr + 2))
}

/// Offset of the reply proper, after any leading attributes (`|n` followed
/// by `2n` frames).
pub(super) fn body_start(frame: &[u8]) -> Option<usize> {
    let mut at = 0usize;
    while frame.get(at) == Some(&b'|') {
        let (pairs, mut pos) = header(frame, at)?;
        let elements = u64::try_from(pairs).ok()?.checked_mul(2)?;
        for _ in 0..elements {
            pos = pos.checked_add(frame_len(frame.get(pos..)?)?)?;
        }
        at = pos;
    }
    Some(at)
}

/// Type byte of the reply proper (attributes skipped).
pub(super) fn kind(frame: &[u8]) -> Option<u8> {
    frame.get(body_start(frame)?).copied()
}

/// The top-level elements of an aggregate frame, `None` for a null or
/// non-aggregate frame, or one that is not exactly one well-formed frame.
pub(super) fn aggregate(frame: &Bytes) -> Option<Aggregate> {
    let start = body_start(frame)?;
    let kind = *frame.get(start)?;
    let per_entry = match kind {
        b'*' | b'~' | b'>' => 1,
        b'%' => 2,
        _ => return None,
    };
    let (count, mut pos) = header(frame, start)?;
    let count = u64::try_from(count).ok()?.checked_mul(per_entry)?;
    // Every element takes at least 3 bytes: a lying count cannot make the
    // reservation large.
    let room = frame.len().saturating_sub(pos) / 3;
    let mut items = Vec::with_capacity(usize::try_from(count).unwrap_or(room).min(room));
    for _ in 0..count {
        let len = frame_len(frame.get(pos..)?)?;
        let end = pos.checked_add(len)?;
        if end > frame.len() {
            return None;
        }
        items.push(frame.slice(pos..end));
        pos = end;
    }
    (pos == frame.len()).then_some(Aggregate { kind, items })
}

/// The value of an integer frame (`:N\r\n`, nothing after it).
pub(super) fn integer(frame: &[u8]) -> Option<i64> {
    let start = body_start(frame)?;
    if frame.get(start) != Some(&b':') {
        return None;
    }
    let (n, end) = header(frame, start)?;
    (end == frame.len()).then_some(n)
}

/// The payload of a bulk (`$`) or verbatim (`=`) string frame; for verbatim
/// strings, without the 4-byte `txt:` format prefix.
pub(super) fn text(frame: &[u8]) -> Option<&[u8]> {
    let start = body_start(frame)?;
    let kind = *frame.get(start)?;
    if kind != b'$' && kind != b'=' {
        return None;
    }
    let (len, pos) = header(frame, start)?;
    let end = pos.checked_add(usize::try_from(len).ok()?)?;
    if frame.get(end..)? != b"\r\n" {
        return None;
    }
    let payload = frame.get(pos..end)?;
    if kind == b'=' {
        // `=len\r\nfmt:text`: the format is exactly three bytes and a colon.
        return match payload.get(3) {
            Some(b':') => payload.get(4..),
            _ => None,
        };
    }
    Some(payload)
}

/// What a frame is, for error messages.
pub(super) fn describe(frame: &[u8]) -> &'static str {
    if frame_len(frame) != Some(frame.len()) {
        return "a malformed reply";
    }
    match kind(frame) {
        Some(b'+') => "a simple string",
        Some(b'-' | b'!') => "an error",
        Some(b':') => "an integer",
        Some(b'$') if super::is_null(frame) => "a null",
        Some(b'*') if super::is_null(frame) => "a null array",
        Some(b'_') => "a null",
        Some(b'$') => "a bulk string",
        Some(b'=') => "a verbatim string",
        Some(b'*') => "an array",
        Some(b'~') => "a set",
        Some(b'%') => "a map",
        Some(b'>') => "a push",
        Some(b',') => "a double",
        Some(b'#') => "a boolean",
        Some(b'(') => "a big number",
        _ => "a malformed reply",
    }
}
