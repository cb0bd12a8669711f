//! Client requests: [`Request`] (one parsed command) and [`RequestParser`]
//! (the incremental parser over a connection's read buffer).
//!
//! The parser reproduces Redis 7.0's `processInputBuffer`,
//! `processMultibulkBuffer` and `processInlineBuffer` decisions: what is
//! accepted, what is silently skipped, which error text is sent. Where Redis's
//! outcome depends on how bytes happened to be split across `read` calls (its
//! 64 KiB line cap is checked after each read), the parser applies the rule
//! as if bytes arrived one at a time, so that the result never depends on
//! chunking: a line is refused exactly when its first `max_inline_len + 1`
//! bytes hold no terminator.
//!
//! Invariants:
//! - A request always starts at `buf[0]`: every complete request (and every
//!   skipped empty one) is split off the front of the caller's buffer before
//!   the next is parsed, so all positions the parser keeps are offsets from
//!   the start of `buf` and stay valid while the caller only appends.
//! - Progress is kept across calls (lines are searched from where the last
//!   search stopped, bulk payloads are waited for by length), so a request
//!   that arrives in many pieces is scanned once: O(n) overall.
//! - `Request::raw` is always a canonical RESP2 multibulk encoding of the
//!   arguments (client bytes shared zero-copy when they are canonical).

mod canonical;
mod inline;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_stream;

use bytes::{Buf, BufMut, Bytes, BytesMut};
pub use canonical::{CanonicalArgs, canonical_args};
use memchr::memchr2;
use smallvec::SmallVec;

use crate::ProtocolError;
use crate::encode::put_header;
use crate::num::{decimal_len, header_number, string2ll};

/// Redis's `authRequired` caps: multibulk count and bulk length an
/// unauthenticated client may send (CVE-2021-32675).
const UNAUTH_MAX_MULTIBULK: i64 = 10;
const UNAUTH_MAX_BULK: i64 = 16384;
/// Like Redis's argv, the span vector is sized for at most this many
/// arguments up front and grows as they actually arrive, so a bogus huge
/// count costs nothing.
const ARGS_PREALLOC: usize = 1024;

/// Limits on client input, defaults equal to Redis 7.0's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted `$<len>` (Redis `proto-max-bulk-len`, 512 MiB).
    pub max_bulk_len: u64,
    /// Largest accepted `*<n>` (Redis 7.0: `INT_MAX`).
    pub max_multibulk_len: u64,
    /// Longest inline request line or multibulk header line
    /// (Redis `PROTO_INLINE_MAX_SIZE`, 64 KiB).
    pub max_inline_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bulk_len: 512 * 1024 * 1024,
            // Redis 7.0 (#9528) raised the old 1024*1024 cap to INT_MAX.
            max_multibulk_len: 0x7fff_ffff,
            max_inline_len: 64 * 1024,
        }
    }
}

/// Byte range of one argument inside `Request::raw`. Offsets are `u32`: a
/// request is moved several times on its way to a node, and six inline spans
/// of two `usize` made it too large to move without a `memcpy` call. A
/// request of 4 GiB or more is refused (far above Redis's own 1 GiB query
/// buffer limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// `None` when the request would reach 4 GiB.
    fn new(start: usize, end: usize) -> Option<Span> {
        Some(Span {
            start: u32::try_from(start).ok()?,
            end: u32::try_from(end).ok()?,
        })
    }

    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// One complete client request. `raw()` is always a valid RESP2 multibulk
/// encoding of the command: the client's original bytes, shared without
/// copying, when it sent canonical multibulk; a fresh encoding when it sent
/// an inline command (or multibulk whose CRLFs were other bytes, which Redis
/// tolerates but a backend must not be sent). Arguments are spans into `raw`.
///
/// Two requests are equal when they have the same arguments.
#[derive(Clone, Debug)]
pub struct Request {
    raw: Bytes,
    args: SmallVec<[Span; 6]>,
}

impl PartialEq for Request {
    fn eq(&self, other: &Self) -> bool {
        // `raw` is canonical, so equal encodings means equal arguments.
        self.raw == other.raw
    }
}

impl Eq for Request {}

impl Request {
    /// The multibulk encoding of the whole request.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// Consumes the request, returning its multibulk encoding.
    pub fn into_raw(self) -> Bytes {
        self.raw
    }

    /// Number of arguments, command name included.
    pub fn argc(&self) -> usize {
        self.args.len()
    }

    /// Argument `i` (0 is the command name).
    pub fn arg(&self, i: usize) -> Option<&[u8]> {
        let s = self.args.get(i)?;
        self.raw.get(s.range())
    }

    /// Argument `i` as a zero-copy slice of `raw`.
    pub fn arg_bytes(&self, i: usize) -> Option<Bytes> {
        let s = self.args.get(i)?;
        (s.start <= s.end && s.end as usize <= self.raw.len()).then(|| self.raw.slice(s.range()))
    }

    /// Argument `i` copied out, for a value kept long after the request (a
    /// client's name, a channel): a slice of `raw` would keep alive the
    /// whole read buffer the request arrived in.
    pub fn arg_owned(&self, i: usize) -> Option<Bytes> {
        self.arg(i).map(Bytes::copy_from_slice)
    }

    /// All arguments in order.
    pub fn args(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.args.iter().filter_map(|s| self.raw.get(s.range()))
    }

    /// Builds a request from arguments, encoding them as multibulk.
    ///
    /// With no arguments the result is `*0\r\n`, which Redis silently
    /// ignores: never send such a request to a backend (it gets no reply).
    pub fn from_args<I, A>(args: I) -> Request
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let args: SmallVec<[A; 8]> = args.into_iter().collect();
        Self::encode_args(args.iter().map(AsRef::as_ref))
    }

    /// Encodes arguments into a fresh canonical multibulk, in one allocation.
    fn encode_args<'a, I>(args: I) -> Request
    where
        I: Iterator<Item = &'a [u8]> + Clone,
    {
        let (count, payload) = args.clone().fold((0usize, 0usize), |(n, bytes), a| {
            (n + 1, bytes + decimal_len(a.len()) + a.len() + 5)
        });
        let mut out = BytesMut::with_capacity(decimal_len(count) + 3 + payload);
        let mut spans = SmallVec::with_capacity(count);
        put_header(&mut out, b'*', count);
        for a in args {
            put_header(&mut out, b'$', a.len());
            let start = out.len();
            out.put_slice(a);
            // Re-encoded arguments come from requests under 4 GiB: the
            // fallback (an argument that reads as absent) is unreachable.
            spans.push(Span::new(start, out.len()).unwrap_or(Span {
                start: u32::MAX,
                end: u32::MAX,
            }));
            out.put_slice(b"\r\n");
        }
        Request {
            raw: out.freeze(),
            args: spans,
        }
    }
}

/// Where the parser is inside the request at the front of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// No request started: `buf[0]`, when present, is its first byte.
    Idle,
    /// Inline request: `buf[..scanned]` holds no `\n` (nor NUL).
    Inline { scanned: usize },
    /// `*<n>` line: `buf[..scanned]` holds no `\r` (nor NUL).
    Count { scanned: usize },
    /// Element header expected at `line`; `buf[line..scanned]` holds no
    /// `\r` (nor NUL); `left` elements remain, this one included.
    BulkHeader {
        line: usize,
        scanned: usize,
        left: u64,
    },
    /// Element payload at `start..start + len`, then two terminator bytes.
    BulkData { start: usize, len: usize, left: u64 },
}

#[cfg(test)]
thread_local! {
    /// Bytes examined by line searches on this thread, so that tests can
    /// check that resumed parsing never searches the same bytes again.
    static SEARCHED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Result of looking for a header or inline line terminator.
enum Line {
    /// Terminator at this offset.
    Found(usize),
    /// Not yet: no terminator before this offset; search on from there.
    Pending(usize),
    /// The line exceeds the inline limit without a terminator.
    TooBig,
}

/// Looks for `term` in the line starting at `start`, resuming at `scanned`.
///
/// Emulates Redis's `strchr` on its NUL-terminated query buffer: a NUL byte
/// ends the search as if the buffer ended there, so a line with a NUL before
/// its terminator never completes and is refused once it is too long. Only
/// the first `max + 1` bytes are searched: Redis refuses a line once more
/// than `max` bytes are buffered without a terminator, so a terminator past
/// that point is never reached when bytes trickle in, and cutting the search
/// the same way for bytes that arrived together keeps the outcome independent
/// of chunking.
fn find_line(buf: &[u8], start: usize, scanned: usize, term: u8, max: usize) -> Line {
    let avail = buf.len().saturating_sub(start);
    let window_end = start.saturating_add(max.saturating_add(1)).min(buf.len());
    let from = scanned.max(start);
    let hit = buf
        .get(from..window_end)
        .and_then(|w| memchr2(term, 0, w))
        .map(|i| from + i);
    #[cfg(test)]
    SEARCHED.with(|n| n.set(n.get() + hit.map_or(window_end, |at| at + 1).saturating_sub(from)));
    match hit {
        Some(at) if buf.get(at) == Some(&term) => Line::Found(at),
        // A NUL: found again at once on the next call, so keep it as `scanned`.
        Some(at) if avail <= max => Line::Pending(at),
        None if avail <= max => Line::Pending(window_end),
        _ => Line::TooBig,
    }
}

/// The common header line, read without a search: `buf[at]` is the type byte,
/// then a canonical positive decimal (no sign, no leading zero, at most 18
/// digits), `\r\n`, all within `max` bytes of `at`. Anything else (`None`)
/// takes the general path, which gives the same answer for these lines.
/// Returns the value and the offset of the `\r`.
#[inline]
fn quick_header(buf: &[u8], at: usize, max: usize) -> Option<(i64, usize)> {
    let (value, digits) = header_number(buf.get(at + 1..)?)?;
    let value = i64::try_from(value).ok().filter(|&v| v > 0)?;
    let cr = at + 1 + digits;
    (cr - at <= max && buf.get(cr + 1) == Some(&b'\n')).then_some((value, cr))
}

/// Incremental, resumable parser of client requests (RESP2 multibulk and
/// inline, as Redis's `processMultibulkBuffer` / `processInlineBuffer`).
///
/// One parser per client connection. After an error it is *failed*: every
/// later call returns the same error without looking at the buffer.
#[derive(Debug)]
pub struct RequestParser {
    limits: Limits,
    auth_required: bool,
    state: State,
    /// Arguments of the multibulk request in progress.
    args: SmallVec<[Span; 6]>,
    /// Whether every CRLF of the request in progress really is `\r\n`.
    canonical: bool,
    failed: Option<ProtocolError>,
}

impl RequestParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            auth_required: false,
            state: State::Idle,
            args: SmallVec::new(),
            canonical: true,
            failed: None,
        }
    }

    /// The limits this parser enforces.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Turns on (or off) Redis's limits for clients that still have to
    /// authenticate: multibulk count at most 10, bulk length at most 16384,
    /// refused with "unauthenticated multibulk length" / "unauthenticated
    /// bulk length". Off by default. Takes effect for headers not yet parsed.
    pub fn set_auth_required(&mut self, required: bool) {
        self.auth_required = required;
    }

    /// True while part of a request has been parsed but not returned.
    pub fn in_progress(&self) -> bool {
        self.state != State::Idle
    }

    /// Bytes that must be in `buf` before another call can make progress
    /// (known while waiting for a bulk payload, for `BytesMut::reserve`);
    /// 0 if unknown.
    pub fn needed(&self) -> usize {
        match self.state {
            State::BulkData { start, len, .. } => start.saturating_add(len).saturating_add(2),
            _ => 0,
        }
    }

    /// Parses the next complete request at the front of `buf` and splits its
    /// bytes off `buf` (zero copy).
    ///
    /// `Ok(None)`: no complete request yet; progress is kept, and the next
    /// call (after the caller appended bytes, never removing any) resumes
    /// where this one stopped. Empty requests (`*0`, `*-1`, blank inline
    /// lines) are consumed silently. `Err`: the client sent something Redis
    /// rejects; reply `-ERR Protocol error: {err}` (see
    /// [`ProtocolError::write_reply`]) after the replies to earlier requests,
    /// then close. The parser stays failed; `buf` is left as it was.
    pub fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Request>, ProtocolError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.advance(buf);
        if let Err(err) = &result {
            self.failed = Some(err.clone());
            self.state = State::Idle;
            self.args.clear();
        }
        result
    }

    fn advance(&mut self, buf: &mut BytesMut) -> Result<Option<Request>, ProtocolError> {
        let max_line = self.limits.max_inline_len;
        loop {
            match self.state {
                State::Idle => match buf.first() {
                    None => return Ok(None),
                    Some(b'*') => {
                        if let Some(end) = self.whole_request(buf) {
                            let raw = buf.split_to(end).freeze();
                            let args = std::mem::take(&mut self.args);
                            return Ok(Some(Request { raw, args }));
                        }
                        self.state = State::Count { scanned: 0 };
                    }
                    Some(_) => self.state = State::Inline { scanned: 0 },
                },
                State::Inline { scanned } => match find_line(buf, 0, scanned, b'\n', max_line) {
                    Line::Pending(scanned) => {
                        self.state = State::Inline { scanned };
                        return Ok(None);
                    }
                    Line::TooBig => return Err(ProtocolError::InlineTooBig),
                    Line::Found(nl) => {
                        // Only the `\r` right before the `\n` belongs to the terminator.
                        let line_end = match nl.checked_sub(1) {
                            Some(cr) if buf.get(cr) == Some(&b'\r') => cr,
                            _ => nl,
                        };
                        let request = inline::parse(buf.get(..line_end).unwrap_or_default())?;
                        buf.advance(nl + 1);
                        self.state = State::Idle;
                        if request.is_some() {
                            return Ok(request);
                        }
                    }
                },
                State::Count { scanned: 0 }
                    if let Some((count, cr)) = quick_header(buf, 0, max_line) =>
                {
                    let count = self.check_count(count)?;
                    self.canonical = true;
                    self.start_elements(count, cr + 2, buf);
                }
                State::Count { scanned } => match find_line(buf, 0, scanned, b'\r', max_line) {
                    Line::Pending(scanned) => {
                        self.state = State::Count { scanned };
                        return Ok(None);
                    }
                    Line::TooBig => return Err(ProtocolError::MultibulkCountTooBig),
                    // Redis wants one more byte after `\r` (it never checks it is `\n`).
                    Line::Found(cr) if buf.len() < cr + 2 => {
                        self.state = State::Count { scanned: cr };
                        return Ok(None);
                    }
                    Line::Found(cr) => {
                        let count = self.parse_count(buf.get(1..cr))?;
                        self.canonical = buf.get(cr + 1) == Some(&b'\n');
                        self.start_elements(count, cr + 2, buf);
                    }
                },
                State::BulkHeader {
                    line,
                    scanned,
                    left,
                } if scanned == line
                    && buf.get(line) == Some(&b'$')
                    && let Some((len, cr)) = quick_header(buf, line, max_line) =>
                {
                    let len = self.check_bulk_len(len)?;
                    self.state = State::BulkData {
                        start: cr + 2,
                        len,
                        left,
                    };
                }
                State::BulkHeader {
                    line,
                    scanned,
                    left,
                } => match find_line(buf, line, scanned, b'\r', max_line) {
                    Line::Pending(scanned) => {
                        self.state = State::BulkHeader {
                            line,
                            scanned,
                            left,
                        };
                        return Ok(None);
                    }
                    Line::TooBig => return Err(ProtocolError::BulkCountTooBig),
                    Line::Found(cr) if buf.len() < cr + 2 => {
                        self.state = State::BulkHeader {
                            line,
                            scanned: cr,
                            left,
                        };
                        return Ok(None);
                    }
                    Line::Found(cr) => {
                        // Redis looks at the prefix only once the whole line is in.
                        match buf.get(line) {
                            Some(b'$') => {}
                            Some(&other) => return Err(ProtocolError::ExpectedDollar(other)),
                            None => return Err(ProtocolError::InvalidBulkLength),
                        }
                        let len = self.parse_bulk_len(buf.get(line + 1..cr))?;
                        if buf.get(cr + 1) != Some(&b'\n') {
                            self.canonical = false;
                        }
                        self.state = State::BulkData {
                            start: cr + 2,
                            len,
                            left,
                        };
                    }
                },
                State::BulkData { start, len, left } => {
                    let data_end = start
                        .checked_add(len)
                        .ok_or(ProtocolError::InvalidBulkLength)?;
                    let end = data_end
                        .checked_add(2)
                        .ok_or(ProtocolError::InvalidBulkLength)?;
                    if buf.len() < end {
                        return Ok(None);
                    }
                    // Redis skips the two bytes after the payload unchecked.
                    if buf.get(data_end..end) != Some(&b"\r\n"[..]) {
                        self.canonical = false;
                    }
                    self.args
                        .push(Span::new(start, data_end).ok_or(ProtocolError::InvalidBulkLength)?);
                    if left > 1 {
                        self.state = State::BulkHeader {
                            line: end,
                            scanned: end,
                            left: left - 1,
                        };
                        continue;
                    }
                    self.state = State::Idle;
                    let raw = buf.split_to(end).freeze();
                    let args = std::mem::take(&mut self.args);
                    if self.canonical {
                        return Ok(Some(Request { raw, args }));
                    }
                    // Accepted like Redis does, but re-encoded so that what is
                    // forwarded is well-formed.
                    return Ok(Some(Request::encode_args(
                        args.iter().filter_map(|s| raw.get(s.range())),
                    )));
                }
            }
        }
    }

    /// The common case in one pass: a complete, canonical multibulk request
    /// at the front of `buf` whose every header line is in the form
    /// [`quick_header`] reads and within the limits. Leaves its argument
    /// spans in `self.args` and returns its length. `None` for anything
    /// else (incomplete, unusual, or to be refused): the state machine then
    /// parses it from its first byte and reaches exactly the decision it
    /// always did, so this only saves the per-element state transitions. It
    /// runs only from the idle state, so a request arriving in pieces is
    /// tried this way once and then parsed incrementally.
    fn whole_request(&mut self, buf: &[u8]) -> Option<usize> {
        let max_line = self.limits.max_inline_len;
        let (count, cr) = quick_header(buf, 0, max_line)?;
        let count = usize::try_from(self.check_count(count).ok()?).ok()?;
        self.args.clear();
        if count > self.args.inline_size() {
            self.args.reserve(count.min(ARGS_PREALLOC));
        }
        let mut at = cr + 2;
        for _ in 0..count {
            if buf.get(at) != Some(&b'$') {
                return None;
            }
            let (len, cr) = quick_header(buf, at, max_line)?;
            let len = self.check_bulk_len(len).ok()?;
            let start = cr + 2;
            let end = start.checked_add(len)?;
            if buf.get(end..end.checked_add(2)?) != Some(&b"\r\n"[..]) {
                return None;
            }
            self.args.push(Span::new(start, end)?);
            at = end + 2;
        }
        Some(at)
    }

    /// After a `*<count>` line ending at `next`: expect its elements, or
    /// skip an empty request.
    fn start_elements(&mut self, count: i64, next: usize, buf: &mut BytesMut) {
        match usize::try_from(count) {
            Ok(n) if n > 0 => {
                self.args.clear();
                if n > self.args.inline_size() {
                    self.args.reserve(n.min(ARGS_PREALLOC));
                }
                self.state = State::BulkHeader {
                    line: next,
                    scanned: next,
                    left: count.unsigned_abs(),
                };
            }
            // `*0` and negative counts: an empty request, skipped.
            _ => {
                buf.advance(next);
                self.state = State::Idle;
            }
        }
    }

    /// Checks a `*<n>` count the way Redis 7.0 does, in Redis's order.
    fn parse_count(&self, digits: Option<&[u8]>) -> Result<i64, ProtocolError> {
        let count = digits
            .and_then(string2ll)
            .ok_or(ProtocolError::InvalidMultibulkLength)?;
        self.check_count(count)
    }

    /// The checks of [`Self::parse_count`] once the number is read.
    fn check_count(&self, count: i64) -> Result<i64, ProtocolError> {
        if count >= 0 && count.unsigned_abs() > self.limits.max_multibulk_len {
            return Err(ProtocolError::InvalidMultibulkLength);
        }
        if count > UNAUTH_MAX_MULTIBULK && self.auth_required {
            return Err(ProtocolError::UnauthenticatedMultibulkLength);
        }
        Ok(count)
    }

    /// Checks a `$<len>` length the way Redis 7.0 does, in Redis's order.
    fn parse_bulk_len(&self, digits: Option<&[u8]>) -> Result<usize, ProtocolError> {
        let len = digits
            .and_then(string2ll)
            .ok_or(ProtocolError::InvalidBulkLength)?;
        self.check_bulk_len(len)
    }

    /// The checks of [`Self::parse_bulk_len`] once the number is read.
    fn check_bulk_len(&self, len: i64) -> Result<usize, ProtocolError> {
        if len < 0 || len.unsigned_abs() > self.limits.max_bulk_len {
            return Err(ProtocolError::InvalidBulkLength);
        }
        if len > UNAUTH_MAX_BULK && self.auth_required {
            return Err(ProtocolError::UnauthenticatedBulkLength);
        }
        usize::try_from(len).map_err(|_| ProtocolError::InvalidBulkLength)
    }
}
