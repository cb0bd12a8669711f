//! Redis Cluster slots: `CRC16/XMODEM(tag or key) mod 16384`, as the cluster
//! specification defines them (keyHashSlot in Redis's cluster.c).
//!
//! Hash tag rule: if the key contains `{`, and a `}` follows it with at least
//! one byte in between, only the bytes between the *first* `{` and the first
//! `}` after it are hashed. `{}` (empty tag) means the whole key is hashed.

use crc::{CRC_16_XMODEM, Crc};

/// Number of hash slots of a Redis Cluster.
pub const SLOT_COUNT: u16 = 16384;

/// The CRC16 flavour Redis Cluster uses (poly 0x1021, init 0, no reflection).
const XMODEM: Crc<u16> = Crc::<u16>::new(&CRC_16_XMODEM);

/// The part of `key` that decides its slot: the hash tag when there is a
/// non-empty one, otherwise the whole key.
#[must_use]
pub fn hash_tag(key: &[u8]) -> &[u8] {
    let Some(open) = memchr_byte(b'{', key) else {
        return key;
    };
    let after = key.get(open + 1..).unwrap_or_default();
    match memchr_byte(b'}', after) {
        // `{}`: an empty tag hashes the whole key, like Redis.
        Some(0) | None => key,
        Some(close) => after.get(..close).unwrap_or(key),
    }
}

/// The slot (0..16384) that `key` belongs to.
#[must_use]
pub fn key_slot(key: &[u8]) -> u16 {
    XMODEM.checksum(hash_tag(key)) & (SLOT_COUNT - 1)
}

fn memchr_byte(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_check_value() {
        // The catalogue check value of CRC-16/XMODEM, also quoted by the cluster spec.
        assert_eq!(XMODEM.checksum(b"123456789"), 0x31C3);
    }

    #[test]
    fn known_slots() {
        // Values from `CLUSTER KEYSLOT` of redis-server 7.0.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"hello"), 866);
        assert_eq!(key_slot(b""), 0);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"{user1000}.followers"), key_slot(b"user1000"));
    }

    #[test]
    fn hash_tag_rules() {
        assert_eq!(hash_tag(b"{user1000}.following"), b"user1000");
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
        assert_eq!(hash_tag(b"no tag"), b"no tag");
        assert_eq!(hash_tag(b"open{only"), b"open{only");
        assert_eq!(hash_tag(b"}{x}"), b"x");
        assert_eq!(hash_tag(b"\xff{\x00\x80}"), b"\x00\x80");
    }

    #[test]
    fn every_slot_in_range() {
        for i in 0u32..50_000 {
            assert!(key_slot(format!("key:{i}").as_bytes()) < SLOT_COUNT);
        }
    }
}
