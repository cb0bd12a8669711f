//! Backend replies: [`ReplyScanner`] finds where each complete reply frame
//! ends in a backend connection's read buffer, without decoding it, so the
//! proxy can forward replies as raw bytes.
//!
//! Handles every RESP2 and RESP3 type: `+ - : _ , # (` lines, `$ ! =`
//! length-prefixed payloads (`$-1` and other `-1` lengths are nulls),
//! `* ~ >` aggregates, `%` maps and `|` attributes (`*-1` etc. are nulls).
//! An attribute is part of the frame of the reply it precedes, wherever it
//! appears, and does not count as an element of an enclosing aggregate.
//! Streamed RESP3 forms (`$?`, `*?`), which Redis never sends, are refused.
//!
//! Invariants:
//! - No recursion: nesting is tracked by an explicit stack of remaining
//!   element counts, capped at [`MAX_DEPTH`] levels.
//! - Resumable and linear: the scanner remembers the offset up to which the
//!   frame is parsed, how far the current line was searched, and the end of
//!   a pending bulk payload, so a frame arriving in many pieces is scanned
//!   once, and a large payload is waited for by length, never searched.
//! - The stack's storage is kept across frames: no allocation per reply
//!   (beyond the inline capacity, only on the first deeply nested reply).
//! - Framing is checked strictly (CRLF after lines and payloads): a backend
//!   stream that is out of sync is an error, never silently re-framed.

#[cfg(test)]
mod tests;

use memchr::memchr;
use smallvec::SmallVec;

use crate::ReplyError;
use crate::num::{header_number, string2ll};

/// Deepest aggregate nesting accepted in a reply (attributes included).
pub const MAX_DEPTH: usize = 1024;

#[cfg(test)]
thread_local! {
    /// Bytes examined by line searches on this thread, so that tests can
    /// check that resumed scanning never searches the same bytes again.
    static SEARCHED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A complete reply frame at the front of the scanned buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    /// Length in bytes of the frame, attributes before it included.
    pub len: usize,
    /// Type byte of the reply proper (after any attribute).
    pub kind: u8,
}

impl FrameInfo {
    /// An error reply: `-` simple error or `!` blob error.
    pub fn is_error(&self) -> bool {
        self.kind == b'-' || self.kind == b'!'
    }

    /// A RESP3 out-of-band push (`>`), not a reply to a request.
    pub fn is_push(&self) -> bool {
        self.kind == b'>'
    }
}

/// One open aggregate: how many elements it still needs.
#[derive(Clone, Copy, Debug)]
struct Level {
    left: u64,
    /// Attributes are not elements of their parent when they complete.
    attribute: bool,
}

/// What a header line says comes next.
enum Header {
    /// A complete scalar element.
    Scalar,
    /// A payload of this many bytes, then CRLF.
    Payload(usize),
    /// An aggregate with this many elements (2 per map or attribute entry).
    Aggregate(u64, bool),
    /// An attribute with no entries: nothing at all.
    Nothing,
}

/// Resumable scanner that finds where each complete reply frame ends in a
/// backend's read buffer. One per backend connection.
#[derive(Debug, Default)]
pub struct ReplyScanner {
    /// Everything before `pos` is parsed.
    pos: usize,
    /// The line starting at `pos` has no `\r` before `line_scanned`.
    line_scanned: usize,
    /// End (CRLF included) of the bulk payload being waited for.
    payload_end: Option<usize>,
    stack: SmallVec<[Level; 8]>,
    /// Type byte of the reply proper, once seen.
    kind: Option<u8>,
}

impl ReplyScanner {
    /// A scanner at the start of a frame.
    pub fn new() -> Self {
        Self::default()
    }

    /// `Ok(Some(info))` when `buf[..info.len]` is one complete frame: the
    /// caller then splits it off, and the scanner, already reset, starts on
    /// the next frame at the new `buf[0]`. `Ok(None)` when the frame is
    /// incomplete: progress is kept, and the next call, with more bytes
    /// appended to the same buffer, resumes. `Err`: the backend's byte stream
    /// is malformed; the scanner is reset, the connection must be dropped.
    pub fn scan(&mut self, buf: &[u8]) -> Result<Option<FrameInfo>, ReplyError> {
        // Nothing of this frame scanned yet: most replies are one short line
        // or one bulk string, read in one step.
        if self.pos == 0
            && self.line_scanned == 0
            && self.payload_end.is_none()
            && let Some(frame) = quick_frame(buf)
        {
            return Ok(Some(frame));
        }
        let result = self.advance(buf);
        if result.is_err() {
            self.reset();
        }
        result
    }

    fn reset(&mut self) {
        self.pos = 0;
        self.line_scanned = 0;
        self.payload_end = None;
        self.stack.clear();
        self.kind = None;
    }

    fn advance(&mut self, buf: &[u8]) -> Result<Option<FrameInfo>, ReplyError> {
        loop {
            if let Some(end) = self.payload_end {
                if buf.len() < end {
                    return Ok(None);
                }
                if buf.get(end.saturating_sub(2)..end) != Some(&b"\r\n"[..]) {
                    return Err(ReplyError::BadBulkTerminator);
                }
                self.payload_end = None;
                self.pos = end;
                if let Some(frame) = self.element_done() {
                    return Ok(Some(frame));
                }
                continue;
            }

            let Some(&t) = buf.get(self.pos) else {
                return Ok(None);
            };
            // Refuse garbage at once rather than waiting for a line end.
            if !is_type_byte(t) {
                return Err(ReplyError::UnknownType(t));
            }
            let from = self.line_scanned.max(self.pos + 1);
            let hit = buf
                .get(from..)
                .and_then(|rest| memchr(b'\r', rest))
                .map(|i| from + i);
            #[cfg(test)]
            SEARCHED
                .with(|n| n.set(n.get() + hit.map_or(buf.len(), |at| at + 1).saturating_sub(from)));
            let Some(cr) = hit else {
                self.line_scanned = buf.len().max(from);
                return Ok(None);
            };
            match buf.get(cr + 1) {
                None => {
                    self.line_scanned = cr;
                    return Ok(None);
                }
                Some(b'\n') => {}
                Some(_) => return Err(ReplyError::BadLineEnding),
            }
            let payload = buf.get(self.pos + 1..cr).unwrap_or_default();
            let header = parse_header(t, payload)?;
            if self.stack.is_empty() && t != b'|' {
                self.kind = Some(t);
            }
            self.pos = cr + 2;
            self.line_scanned = 0;
            match header {
                Header::Scalar => {
                    if let Some(frame) = self.element_done() {
                        return Ok(Some(frame));
                    }
                }
                Header::Payload(len) => {
                    let end = self
                        .pos
                        .checked_add(len)
                        .and_then(|e| e.checked_add(2))
                        .ok_or(ReplyError::InvalidLength)?;
                    self.payload_end = Some(end);
                }
                Header::Aggregate(left, attribute) => {
                    if self.stack.len() >= MAX_DEPTH {
                        return Err(ReplyError::TooDeep(MAX_DEPTH));
                    }
                    self.stack.push(Level { left, attribute });
                }
                Header::Nothing => {}
            }
        }
    }

    /// Records that an element ended at `self.pos`; closes every aggregate
    /// this completes. Returns the frame when the outermost reply is done.
    fn element_done(&mut self) -> Option<FrameInfo> {
        loop {
            let Some(top) = self.stack.last_mut() else {
                let frame = FrameInfo {
                    len: self.pos,
                    kind: self.kind.unwrap_or(0),
                };
                self.reset();
                return Some(frame);
            };
            top.left = top.left.saturating_sub(1);
            if top.left > 0 {
                return None;
            }
            let closed = self.stack.pop();
            if closed.is_some_and(|level| level.attribute) {
                // The attribute is done; the element it decorates follows.
                return None;
            }
        }
    }
}

/// Longest simple line [`quick_frame`] looks at.
const QUICK_LINE: usize = 64;

/// The most common replies, complete and well framed at the front of `buf`:
/// a `+`, `-` or `:` line of at most [`QUICK_LINE`] bytes, or a `$` bulk
/// string whose length is a canonical decimal. `None` for anything else
/// (other types, nulls, incomplete or malformed frames): the general scan
/// then decides, so this never changes an outcome, only its cost.
fn quick_frame(buf: &[u8]) -> Option<FrameInfo> {
    let &kind = buf.first()?;
    match kind {
        b'+' | b'-' | b':' => {
            let line = buf.get(1..buf.len().min(QUICK_LINE))?;
            let cr = 1 + line.iter().position(|&b| b == b'\r')?;
            (buf.get(cr + 1) == Some(&b'\n')).then_some(FrameInfo { len: cr + 2, kind })
        }
        b'$' => {
            let (len, digits) = header_number(buf.get(1..)?)?;
            let cr = 1 + digits;
            if buf.get(cr + 1) != Some(&b'\n') {
                return None;
            }
            let end = (cr + 2).checked_add(usize::try_from(len).ok()?)?;
            (buf.get(end..end.checked_add(2)?) == Some(&b"\r\n"[..]))
                .then_some(FrameInfo { len: end + 2, kind })
        }
        _ => None,
    }
}

pub(crate) fn is_type_byte(t: u8) -> bool {
    matches!(
        t,
        b'+' | b'-'
            | b':'
            | b'_'
            | b','
            | b'#'
            | b'('
            | b'$'
            | b'!'
            | b'='
            | b'*'
            | b'~'
            | b'>'
            | b'%'
            | b'|'
    )
}

/// A length or count: `-1` is null (`None`), `?` is streamed (refused).
pub(crate) fn parse_len(payload: &[u8]) -> Result<Option<u64>, ReplyError> {
    if payload.first() == Some(&b'?') {
        return Err(ReplyError::Streamed);
    }
    match string2ll(payload) {
        Some(-1) => Ok(None),
        Some(n) if n >= 0 => Ok(Some(n.unsigned_abs())),
        _ => Err(ReplyError::InvalidLength),
    }
}

fn parse_header(t: u8, payload: &[u8]) -> Result<Header, ReplyError> {
    Ok(match t {
        b'$' | b'!' | b'=' => match parse_len(payload)? {
            None => Header::Scalar,
            Some(n) => Header::Payload(usize::try_from(n).map_err(|_| ReplyError::InvalidLength)?),
        },
        b'|' => match parse_len(payload)? {
            None => return Err(ReplyError::InvalidLength),
            Some(0) => Header::Nothing,
            Some(n) => Header::Aggregate(n.checked_mul(2).ok_or(ReplyError::InvalidLength)?, true),
        },
        b'*' | b'~' | b'>' | b'%' => match parse_len(payload)? {
            // Null and empty aggregates are complete elements in themselves.
            None | Some(0) => Header::Scalar,
            Some(n) => {
                let per_entry = if t == b'%' { 2 } else { 1 };
                Header::Aggregate(
                    n.checked_mul(per_entry).ok_or(ReplyError::InvalidLength)?,
                    false,
                )
            }
        },
        _ => Header::Scalar,
    })
}
