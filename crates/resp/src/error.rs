//! Error types of the crate.
//!
//! [`ProtocolError`] is what a *client* did wrong. Its `Display` is exactly the
//! text Redis 7.0 puts after `Protocol error: ` in its `-ERR` reply, so the
//! proxy answers a broken client the way Redis would. [`ReplyError`] is what a
//! *backend* did wrong (malformed or unsupported reply framing); it is never
//! shown to clients verbatim, it only tells the engine to drop the connection.

use bytes::{BufMut, BytesMut};
use thiserror::Error;

/// A client request Redis would reject. The connection must be closed after the
/// replies to the requests before it have been written.
///
/// `Display` gives the text after `"Protocol error: "`, as Redis 7.0's
/// `networking.c` words it. Use [`ProtocolError::write_reply`] to produce the
/// full, byte-exact `-ERR` line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// The `*<n>` count is not a number or exceeds `Limits::max_multibulk_len`.
    #[error("invalid multibulk length")]
    InvalidMultibulkLength,
    /// The `*<n>` count exceeds 10 while authentication is still required.
    #[error("unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// A `$<len>` is not a number, negative, or exceeds `Limits::max_bulk_len`.
    #[error("invalid bulk length")]
    InvalidBulkLength,
    /// A `$<len>` exceeds 16384 while authentication is still required.
    #[error("unauthenticated bulk length")]
    UnauthenticatedBulkLength,
    /// A multibulk element did not start with `$`; holds the byte found.
    #[error("expected '$', got '{}'", display_byte(*.0))]
    ExpectedDollar(u8),
    /// An inline request has an unterminated quote, or a closing quote that
    /// is not followed by whitespace.
    #[error("unbalanced quotes in request")]
    UnbalancedQuotes,
    /// An inline request line is longer than `Limits::max_inline_len`.
    #[error("too big inline request")]
    InlineTooBig,
    /// The `*<n>` line is longer than `Limits::max_inline_len`.
    #[error("too big mbulk count string")]
    MultibulkCountTooBig,
    /// A `$<len>` line is longer than `Limits::max_inline_len`.
    #[error("too big bulk count string")]
    BulkCountTooBig,
}

/// Redis formats the offending byte with `%c` and then maps CR and LF to
/// spaces (so the error line stays one line). Bytes above 0x7f cannot be a
/// `char` byte-for-byte; `Display` shows them as the Latin-1 character, and
/// [`ProtocolError::write_reply`] writes the raw byte as Redis does.
fn display_byte(b: u8) -> char {
    char::from(reply_byte(b))
}

fn reply_byte(b: u8) -> u8 {
    if b == b'\r' || b == b'\n' { b' ' } else { b }
}

impl ProtocolError {
    /// Appends the complete error reply Redis 7.0 sends for this error,
    /// byte-exact: `-ERR Protocol error: <text>\r\n`.
    pub fn write_reply(&self, out: &mut BytesMut) {
        out.put_slice(b"-ERR Protocol error: ");
        match self {
            Self::ExpectedDollar(b) => {
                out.put_slice(b"expected '$', got '");
                out.put_u8(reply_byte(*b));
                out.put_u8(b'\'');
            }
            other => out.put_slice(other.to_string().as_bytes()),
        }
        out.put_slice(b"\r\n");
    }
}

/// Malformed or unsupported data from a backend. The connection is out of
/// sync with the byte stream and must be closed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReplyError {
    /// The first byte of a frame is not a RESP2/RESP3 type byte.
    #[error("unknown reply type byte 0x{0:02x}")]
    UnknownType(u8),
    /// A header or simple line's `\r` is not followed by `\n`.
    #[error("reply line not terminated by CRLF")]
    BadLineEnding,
    /// A length or element count is not a valid number.
    #[error("invalid length or element count in reply header")]
    InvalidLength,
    /// RESP3 streamed strings or aggregates (`$?`, `*?`, ...), which Redis
    /// never sends.
    #[error("streamed RESP3 replies are not supported")]
    Streamed,
    /// A bulk payload is not followed by `\r\n`.
    #[error("bulk reply payload not followed by CRLF")]
    BadBulkTerminator,
    /// Aggregates nested deeper than the cap.
    #[error("reply nesting deeper than {0} levels")]
    TooDeep(usize),
    /// A scalar whose text is invalid for its type (only [`crate::Value::decode`]
    /// checks these; the scanner only delimits frames).
    #[error("invalid {0} reply")]
    InvalidValue(&'static str),
}
