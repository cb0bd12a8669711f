//! [`Value`]: an owned, fully decoded reply, for the control plane (CLUSTER
//! SHARDS / SLOTS, HELLO, INFO replies) and for tests. Not used on the hot
//! path, where replies are only delimited ([`crate::ReplyScanner`]) and
//! forwarded as bytes.
//!
//! Invariants: decoding is iterative with the same depth cap as the scanner
//! (no recursion over untrusted nesting); attributes are validated and
//! dropped; every RESP type decodes to the variant that re-encodes to the
//! same type with [`crate::encode::value`], except the three RESP2/RESP3
//! nulls, which all become [`Value::Null`].

mod decode;
#[cfg(test)]
mod tests;

use bytes::Bytes;

use crate::num::string2ll;

/// An owned decoded RESP2/RESP3 value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `+text`
    Simple(Bytes),
    /// `-CODE message` or `!` blob error.
    Error(Bytes),
    /// `:n`
    Integer(i64),
    /// `$len` payload.
    Bulk(Bytes),
    /// `$-1`, `*-1` (and other `-1` lengths) or RESP3 `_`.
    Null,
    /// `*n`
    Array(Vec<Value>),
    /// `%n`, in wire order.
    Map(Vec<(Value, Value)>),
    /// `~n`
    Set(Vec<Value>),
    /// `>n` (out-of-band push).
    Push(Vec<Value>),
    /// `,text`, kept as text (`1.5`, `inf`, `nan`, ...).
    Double(Bytes),
    /// `#t` / `#f`
    Boolean(bool),
    /// `(digits`, kept as text.
    BigNumber(Bytes),
    /// `=len` payload, format prefix included (`txt:...`).
    Verbatim(Bytes),
}

impl Value {
    /// Decodes one complete frame from the front of `buf`:
    /// `Ok(Some((value, consumed)))`, or `Ok(None)` if `buf` holds only part
    /// of it. Attributes are skipped.
    pub fn decode(buf: &[u8]) -> Result<Option<(Value, usize)>, crate::ReplyError> {
        decode::decode(buf)
    }

    /// The bytes of a string-like value: Simple, Bulk, Error, BigNumber,
    /// Double, and Verbatim without its `txt:` prefix.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Simple(b)
            | Value::Bulk(b)
            | Value::Error(b)
            | Value::BigNumber(b)
            | Value::Double(b) => Some(b),
            Value::Verbatim(b) => match b.get(3) {
                Some(b':') => b.get(4..),
                _ => Some(b),
            },
            _ => None,
        }
    }

    /// [`Value::as_bytes`] as UTF-8 text.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()?).ok()
    }

    /// An Integer, or a Bulk/Simple holding a decimal integer (strictly, as
    /// Redis's `string2ll` reads it).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Integer(n) => Some(*n),
            Value::Bulk(b) | Value::Simple(b) => string2ll(b),
            _ => None,
        }
    }

    /// Elements of an Array, Set or Push.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) | Value::Set(items) | Value::Push(items) => Some(items),
            _ => None,
        }
    }

    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Key/value pairs of a Map, or of an even-length Array read as the
    /// RESP2 form of a map (consecutive pairs).
    pub fn map_pairs(&self) -> Option<Vec<(&Value, &Value)>> {
        match self {
            Value::Map(pairs) => Some(pairs.iter().map(|(k, v)| (k, v)).collect()),
            Value::Array(items) if items.len() % 2 == 0 => Some(flat_pairs(items).collect()),
            _ => None,
        }
    }

    /// The value of the first entry whose key's bytes equal `key`, in a Map
    /// or a flat (RESP2) Array.
    pub fn map_get(&self, key: &str) -> Option<&Value> {
        let key = key.as_bytes();
        match self {
            Value::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| k.as_bytes() == Some(key))
                .map(|(_, v)| v),
            Value::Array(items) if items.len() % 2 == 0 => flat_pairs(items)
                .find(|(k, _)| k.as_bytes() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

fn flat_pairs(items: &[Value]) -> impl Iterator<Item = (&Value, &Value)> {
    items.chunks_exact(2).filter_map(|pair| match pair {
        [k, v] => Some((k, v)),
        _ => None,
    })
}
