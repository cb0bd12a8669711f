//! Encoders for replies and commands the proxy builds itself, appending to a
//! `BytesMut`.
//!
//! Each encoder emits exactly what Redis 7.0 emits for the same reply in the
//! client's protocol: RESP3 forms where the client negotiated `HELLO 3`, the
//! RESP2 fallbacks Redis uses otherwise. Status and error texts have CR/LF
//! replaced by spaces, as Redis does, so a reply can never break framing.
//! Nothing here recurses: [`value`] walks nested values with an explicit
//! stack.

mod double;
#[cfg(test)]
mod tests;

use bytes::{BufMut, BytesMut};
use memchr::memchr2;

use crate::Value;

/// The protocol a client speaks (`HELLO 2` / `HELLO 3`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// RESP2, the default of every new connection.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

/// Appends `<t><n>\r\n` (a length or count header).
pub(crate) fn put_header(out: &mut BytesMut, t: u8, n: usize) {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(n);
    out.reserve(digits.len() + 3);
    out.put_u8(t);
    out.put_slice(digits.as_bytes());
    out.put_slice(b"\r\n");
}

/// Appends `s` with CR and LF replaced by spaces.
fn put_line_text(out: &mut BytesMut, s: &[u8]) {
    if memchr2(b'\r', b'\n', s).is_none() {
        out.put_slice(s);
    } else {
        out.extend(
            s.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    }
}

fn put_line(out: &mut BytesMut, t: u8, s: &[u8]) {
    out.reserve(s.len() + 3);
    out.put_u8(t);
    put_line_text(out, s);
    out.put_slice(b"\r\n");
}

/// `+s\r\n`; CR/LF in `s` become spaces.
pub fn simple(out: &mut BytesMut, s: &[u8]) {
    put_line(out, b'+', s);
}

/// `-msg\r\n`; `msg` includes the code (`b"ERR unknown command ..."`); CR/LF
/// become spaces.
pub fn error(out: &mut BytesMut, msg: &[u8]) {
    put_line(out, b'-', msg);
}

/// `:n\r\n`.
pub fn integer(out: &mut BytesMut, n: i64) {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(n);
    out.reserve(digits.len() + 3);
    out.put_u8(b':');
    out.put_slice(digits.as_bytes());
    out.put_slice(b"\r\n");
}

/// `$len\r\ndata\r\n`.
pub fn bulk(out: &mut BytesMut, data: &[u8]) {
    put_header(out, b'$', data.len());
    out.reserve(data.len() + 2);
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

/// Null bulk: `$-1\r\n` (RESP2) / `_\r\n` (RESP3).
pub fn null(out: &mut BytesMut, proto: Protocol) {
    out.put_slice(match proto {
        Protocol::Resp2 => b"$-1\r\n",
        Protocol::Resp3 => b"_\r\n",
    });
}

/// Null array: `*-1\r\n` (RESP2) / `_\r\n` (RESP3).
pub fn null_array(out: &mut BytesMut, proto: Protocol) {
    out.put_slice(match proto {
        Protocol::Resp2 => b"*-1\r\n",
        Protocol::Resp3 => b"_\r\n",
    });
}

/// `*len\r\n`.
pub fn array_header(out: &mut BytesMut, len: usize) {
    put_header(out, b'*', len);
}

/// RESP2: `*{2n}\r\n` (flat key/value array); RESP3: `%{n}\r\n`.
pub fn map_header(out: &mut BytesMut, pairs: usize, proto: Protocol) {
    match proto {
        Protocol::Resp2 => put_header(out, b'*', pairs.saturating_mul(2)),
        Protocol::Resp3 => put_header(out, b'%', pairs),
    }
}

/// RESP2: `*n\r\n`; RESP3: `~n\r\n`.
pub fn set_header(out: &mut BytesMut, len: usize, proto: Protocol) {
    match proto {
        Protocol::Resp2 => put_header(out, b'*', len),
        Protocol::Resp3 => put_header(out, b'~', len),
    }
}

/// RESP2: `:1`/`:0`; RESP3: `#t`/`#f`.
pub fn boolean(out: &mut BytesMut, b: bool, proto: Protocol) {
    out.put_slice(match (proto, b) {
        (Protocol::Resp2, true) => b":1\r\n",
        (Protocol::Resp2, false) => b":0\r\n",
        (Protocol::Resp3, true) => b"#t\r\n",
        (Protocol::Resp3, false) => b"#f\r\n",
    });
}

/// A double as Redis 7.0's `addReplyDouble` writes it (`%.17g`, `inf`,
/// `-inf`): RESP2 as a bulk string, RESP3 as `,text\r\n`.
pub fn double(out: &mut BytesMut, v: f64, proto: Protocol) {
    let text = double::format_g17(v);
    match proto {
        Protocol::Resp2 => bulk(out, &text),
        Protocol::Resp3 => {
            out.reserve(text.len() + 3);
            out.put_u8(b',');
            out.put_slice(&text);
            out.put_slice(b"\r\n");
        }
    }
}

/// Verbatim text (as in `INFO`): RESP2 as a bulk string, RESP3 as
/// `=len\r\ntxt:text\r\n`.
pub fn verbatim(out: &mut BytesMut, text: &[u8], proto: Protocol) {
    match proto {
        Protocol::Resp2 => bulk(out, text),
        Protocol::Resp3 => {
            put_header(out, b'=', text.len().saturating_add(4));
            out.reserve(text.len() + 6);
            out.put_slice(b"txt:");
            out.put_slice(text);
            out.put_slice(b"\r\n");
        }
    }
}

/// A request in multibulk form: `*n\r\n` then each argument as a bulk.
pub fn command<A: AsRef<[u8]>>(out: &mut BytesMut, args: &[A]) {
    put_header(out, b'*', args.len());
    for arg in args {
        bulk(out, arg.as_ref());
    }
}

/// Re-encodes a value in its own RESP type (RESP3 types as RESP3; `Null` as
/// `_\r\n`). [`Value::decode`] of the output gives back an equal value.
pub fn value(out: &mut BytesMut, v: &Value) {
    write_value(out, v, None);
}

/// Encodes a value for a client speaking `proto`. For RESP3 this is
/// [`value`]; for RESP2 the RESP3-only types take the forms Redis falls back
/// to: map as a flat array, set and push as arrays, double, big number and
/// verbatim as bulk strings, boolean as `:1`/`:0`, null as `$-1`.
pub fn value_as(out: &mut BytesMut, v: &Value, proto: Protocol) {
    match proto {
        Protocol::Resp2 => write_value(out, v, Some(Protocol::Resp2)),
        Protocol::Resp3 => write_value(out, v, None),
    }
}

/// Walks `v` depth-first with an explicit stack (values can be deeply nested
/// and encoding must not overflow the call stack). `downgrade` selects the
/// RESP2 fallbacks.
fn write_value(out: &mut BytesMut, v: &Value, downgrade: Option<Protocol>) {
    let resp2 = downgrade == Some(Protocol::Resp2);
    let proto = if resp2 {
        Protocol::Resp2
    } else {
        Protocol::Resp3
    };
    let mut stack: Vec<&Value> = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Simple(s) => simple(out, s),
            Value::Error(e) => error(out, e),
            Value::Integer(n) => integer(out, *n),
            Value::Bulk(b) => bulk(out, b),
            Value::Null => null(out, proto),
            Value::Boolean(b) => boolean(out, *b, proto),
            Value::Double(d) | Value::BigNumber(d) if resp2 => bulk(out, d),
            Value::Verbatim(_) if resp2 => bulk(out, v.as_bytes().unwrap_or_default()),
            Value::Double(d) => put_line(out, b',', d),
            Value::BigNumber(d) => put_line(out, b'(', d),
            Value::Verbatim(d) => {
                put_header(out, b'=', d.len());
                out.reserve(d.len() + 2);
                out.put_slice(d);
                out.put_slice(b"\r\n");
            }
            Value::Array(items) => {
                put_header(out, b'*', items.len());
                stack.extend(items.iter().rev());
            }
            Value::Set(items) => {
                set_header(out, items.len(), proto);
                stack.extend(items.iter().rev());
            }
            Value::Push(items) => {
                put_header(out, if resp2 { b'*' } else { b'>' }, items.len());
                stack.extend(items.iter().rev());
            }
            Value::Map(pairs) => {
                map_header(out, pairs.len(), proto);
                for (k, val) in pairs.iter().rev() {
                    stack.push(val);
                    stack.push(k);
                }
            }
        }
    }
}
