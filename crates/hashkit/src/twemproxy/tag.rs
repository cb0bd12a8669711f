//! nutcracker's `hash_tag:` rule: which part of a key is hashed.
//!
//! Owns [`HashTag`]. Invariants:
//! - a tag is exactly two bytes, `open` and `close` (they may be equal, as
//!   in `"$$"`); nutcracker rejects any other length;
//! - [`HashTag::apply`] looks only at the *first* `open` byte of the key and
//!   the first `close` byte after it. When both exist and at least one byte
//!   lies between them, that inner part is hashed; otherwise (no `open`, no
//!   `close` after it, or an empty tag such as `{}`) the whole key is hashed.
//!   A later, non-empty tag is never looked for. The result is always a
//!   sub-slice of the key.

use std::fmt;
use std::str::FromStr;

/// A two-byte hash tag such as `{}` or `$$`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashTag {
    open: u8,
    close: u8,
}

/// A `hash_tag:` value that is not exactly two bytes long.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hash_tag must be exactly 2 bytes, got {len}")]
pub struct InvalidHashTag {
    /// The length that was given, in bytes.
    pub len: usize,
}

impl HashTag {
    /// The tag from its two bytes, e.g. `b"{}"`.
    pub fn new(tag: &[u8]) -> Result<HashTag, InvalidHashTag> {
        match *tag {
            [open, close] => Ok(HashTag { open, close }),
            _ => Err(InvalidHashTag { len: tag.len() }),
        }
    }

    /// The opening byte.
    #[must_use]
    pub const fn open(self) -> u8 {
        self.open
    }

    /// The closing byte.
    #[must_use]
    pub const fn close(self) -> u8 {
        self.close
    }

    /// The part of `key` nutcracker hashes under this tag.
    #[must_use]
    pub fn apply(self, key: &[u8]) -> &[u8] {
        let Some(start) = key.iter().position(|&b| b == self.open) else {
            return key;
        };
        let inner = key.get(start + 1..).unwrap_or_default();
        match inner.iter().position(|&b| b == self.close) {
            Some(end) if end > 0 => inner.get(..end).unwrap_or(key),
            _ => key,
        }
    }
}

impl FromStr for HashTag {
    type Err = InvalidHashTag;

    /// The tag from the YAML text; its length is counted in bytes, as
    /// nutcracker counts it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HashTag::new(s.as_bytes())
    }
}

impl fmt::Display for HashTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = [self.open, self.close];
        write!(f, "{}", String::from_utf8_lossy(&bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(s: &str) -> HashTag {
        s.parse().unwrap()
    }

    #[test]
    fn lengths() {
        assert!(HashTag::new(b"").is_err());
        assert!(HashTag::new(b"{").is_err());
        assert!(HashTag::new(b"{}}").is_err());
        // "é" is two bytes, so nutcracker accepts it as a tag.
        assert_eq!(tag("é"), HashTag::new(&[0xc3, 0xa9]).unwrap());
        assert_eq!(tag("{}").to_string(), "{}");
    }

    #[test]
    fn curly() {
        let t = tag("{}");
        assert_eq!(t.apply(b"{user1000}.following"), b"user1000");
        assert_eq!(t.apply(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(t.apply(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(t.apply(b"foo{bar}{zap}"), b"bar");
        assert_eq!(t.apply(b"no tag"), b"no tag");
        assert_eq!(t.apply(b"open{only"), b"open{only");
        assert_eq!(t.apply(b"}{x}"), b"x");
        assert_eq!(t.apply(b"{}"), b"{}");
        assert_eq!(t.apply(b"{x}"), b"x");
        assert_eq!(t.apply(b""), b"");
        assert_eq!(t.apply(b"{"), b"{");
        assert_eq!(t.apply(b"a{b{c}d"), b"b{c");
    }

    #[test]
    fn same_byte_both_ends() {
        let t = tag("$$");
        assert_eq!(t.apply(b"a$b$c"), b"b");
        assert_eq!(t.apply(b"a$$b$c$"), b"a$$b$c$");
        assert_eq!(t.apply(b"$x"), b"$x");
        assert_eq!(t.apply(b"$$$"), b"$$$");
    }
}
