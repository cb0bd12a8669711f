//! Iterative decoder behind [`Value::decode`].
//!
//! Open aggregates live on an explicit stack (depth capped at
//! [`MAX_DEPTH`]); element vectors are preallocated for at most 1024 items
//! so a huge declared count costs nothing until its elements really arrive.
//! Scalars are validated here (integers, booleans, doubles, big numbers,
//! verbatim format prefix), unlike in the scanner, which only delimits.

use bytes::Bytes;
use memchr::memchr;

use super::Value;
use crate::ReplyError;
use crate::num::string2ll;
use crate::reply::{MAX_DEPTH, is_type_byte, parse_len};

/// An aggregate whose elements are still being decoded.
struct Open {
    kind: u8,
    left: u64,
    items: Vec<Value>,
}

impl Open {
    /// The finished value; `None` for an attribute, which is dropped.
    fn finish(self) -> Option<Value> {
        Some(match self.kind {
            b'~' => Value::Set(self.items),
            b'>' => Value::Push(self.items),
            b'%' => Value::Map(pairs(self.items)),
            b'|' => return None,
            _ => Value::Array(self.items),
        })
    }
}

fn pairs(items: Vec<Value>) -> Vec<(Value, Value)> {
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

fn empty_aggregate(kind: u8) -> Value {
    Open {
        kind,
        left: 0,
        items: Vec::new(),
    }
    .finish()
    .unwrap_or(Value::Null)
}

/// Outcome of reading one header at the current position.
enum Step {
    /// A complete element.
    Element(Value),
    /// An aggregate was opened, or an empty attribute skipped.
    Continue,
    /// More bytes needed.
    Incomplete,
}

pub(super) fn decode(buf: &[u8]) -> Result<Option<(Value, usize)>, ReplyError> {
    let mut pos = 0usize;
    let mut stack: Vec<Open> = Vec::new();
    loop {
        let mut value = match step(buf, &mut pos, &mut stack)? {
            Step::Element(value) => value,
            Step::Continue => continue,
            Step::Incomplete => return Ok(None),
        };
        // Attach the element to its parent, closing every aggregate it completes.
        loop {
            let Some(top) = stack.last_mut() else {
                return Ok(Some((value, pos)));
            };
            top.items.push(value);
            top.left = top.left.saturating_sub(1);
            if top.left > 0 {
                break;
            }
            match stack.pop().and_then(Open::finish) {
                Some(done) => value = done,
                // A finished attribute is not an element of its parent.
                None => break,
            }
        }
    }
}

/// Reads the header (and payload) at `*pos`, advancing `*pos` past it.
fn step(buf: &[u8], pos: &mut usize, stack: &mut Vec<Open>) -> Result<Step, ReplyError> {
    let start = *pos;
    let Some(&t) = buf.get(start) else {
        return Ok(Step::Incomplete);
    };
    if !is_type_byte(t) {
        return Err(ReplyError::UnknownType(t));
    }
    let Some(cr) = buf
        .get(start + 1..)
        .and_then(|rest| memchr(b'\r', rest))
        .map(|i| start + 1 + i)
    else {
        return Ok(Step::Incomplete);
    };
    match buf.get(cr + 1) {
        None => return Ok(Step::Incomplete),
        Some(b'\n') => {}
        Some(_) => return Err(ReplyError::BadLineEnding),
    }
    let line = buf.get(start + 1..cr).unwrap_or_default();
    let next = cr + 2;
    let copy = || Bytes::copy_from_slice(line);
    let value = match t {
        b'+' => Value::Simple(copy()),
        b'-' => Value::Error(copy()),
        b':' => Value::Integer(string2ll(line).ok_or(ReplyError::InvalidValue("integer"))?),
        b'_' if line.is_empty() => Value::Null,
        b'_' => return Err(ReplyError::InvalidValue("null")),
        b'#' => match line {
            b"t" => Value::Boolean(true),
            b"f" => Value::Boolean(false),
            _ => return Err(ReplyError::InvalidValue("boolean")),
        },
        b',' if is_double(line) => Value::Double(copy()),
        b',' => return Err(ReplyError::InvalidValue("double")),
        b'(' if is_big_number(line) => Value::BigNumber(copy()),
        b'(' => return Err(ReplyError::InvalidValue("big number")),
        b'$' | b'!' | b'=' => {
            let Some(len) = parse_len(line)? else {
                *pos = next;
                return Ok(Step::Element(Value::Null));
            };
            let len = usize::try_from(len).map_err(|_| ReplyError::InvalidLength)?;
            let data_end = next.checked_add(len).ok_or(ReplyError::InvalidLength)?;
            let end = data_end.checked_add(2).ok_or(ReplyError::InvalidLength)?;
            if buf.len() < end {
                return Ok(Step::Incomplete);
            }
            if buf.get(data_end..end) != Some(&b"\r\n"[..]) {
                return Err(ReplyError::BadBulkTerminator);
            }
            let data = Bytes::copy_from_slice(buf.get(next..data_end).unwrap_or_default());
            *pos = end;
            return Ok(Step::Element(match t {
                b'$' => Value::Bulk(data),
                b'!' => Value::Error(data),
                _ if data.get(3) == Some(&b':') => Value::Verbatim(data),
                _ => return Err(ReplyError::InvalidValue("verbatim")),
            }));
        }
        // Aggregates and attributes.
        _ => match parse_len(line)? {
            None if t == b'|' => return Err(ReplyError::InvalidLength),
            None => Value::Null,
            Some(0) if t == b'|' => {
                *pos = next;
                return Ok(Step::Continue);
            }
            Some(0) => empty_aggregate(t),
            Some(n) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(ReplyError::TooDeep(MAX_DEPTH));
                }
                let per_entry = if t == b'%' || t == b'|' { 2 } else { 1 };
                let left = n.checked_mul(per_entry).ok_or(ReplyError::InvalidLength)?;
                let prealloc = usize::try_from(left.min(1024)).unwrap_or(0);
                stack.push(Open {
                    kind: t,
                    left,
                    items: Vec::with_capacity(prealloc),
                });
                *pos = next;
                return Ok(Step::Continue);
            }
        },
    };
    *pos = next;
    Ok(Step::Element(value))
}

/// RESP3 doubles: a decimal or exponent number, `inf`, `-inf` or `nan`.
fn is_double(line: &[u8]) -> bool {
    std::str::from_utf8(line).is_ok_and(|s| s.parse::<f64>().is_ok())
}

/// An optional `-` then one or more digits.
fn is_big_number(line: &[u8]) -> bool {
    let digits = line.strip_prefix(b"-").unwrap_or(line);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}
