//! The twelve key hash functions of twemproxy (nutcracker 0.5.0), selected
//! by a pool's `hash:` directive, bit-compatible with nutcracker on x86-64.
//!
//! Owns [`Hash`] and the arithmetic of each function. Invariants:
//! - every function is pure, total (any byte string, including empty and
//!   multi-megabyte keys) and uses wrapping `u32`/`u64` arithmetic;
//! - where nutcracker reads key bytes through C `char` (signed on x86-64),
//!   bytes >= 0x80 are sign-extended before mixing: `one_at_a_time`, the four
//!   `fnv*`, and the 3-byte tail of `hsieh`. `md5`, `crc*`, `murmur` and
//!   `jenkins` see unsigned bytes (or mask the sign away);
//! - [`Hash::hash`] is the raw function. nutcracker maps an empty key to 0
//!   *before* calling it; that rule lives in
//!   [`Placement`](super::Placement), not here.
//!
//! Quirks kept on purpose (they are what nutcracker computes):
//! - `crc16`: the CRC-16/XMODEM table, but the running state is a `u32` that
//!   is shifted left and never masked, and all 32 bits are returned;
//! - `crc32`: only 15 bits, `(CRC-32(key) >> 16) & 0x7fff` (libmemcached's);
//! - `fnv1a_64`: a 32-bit computation with the low halves of the 64-bit
//!   offset basis and prime; `fnv1_64` is a real 64-bit FNV-1, truncated;
//! - `hsieh`: starts from 0, not from the length;
//! - `murmur`: MurmurHash2 with seed `0xdeadbeef * len`;
//! - `jenkins`: lookup3 `hashlittle` with initval 13; an empty key skips
//!   the final mix.

use std::fmt;
use std::str::FromStr;

use crc::{CRC_32_ISO_HDLC, Crc};
use md5::{Digest, Md5};

/// Standard (IEEE, reflected) CRC-32, as zlib computes it.
const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// CRC-16/XMODEM table: polynomial 0x1021, MSB first.
const XMODEM_TABLE: [u16; 256] = xmodem_table();

// Evaluated at compile time only: an out-of-range index would be a build
// error, never a runtime panic.
#[allow(clippy::indexing_slicing)]
const fn xmodem_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 0x8000 != 0 {
                (c << 1) ^ 0x1021
            } else {
                c << 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// A key hash function of nutcracker, named as the YAML `hash:` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hash {
    /// `one_at_a_time`: Jenkins' one-at-a-time hash (signed bytes).
    OneAtATime,
    /// `md5`: the first 4 bytes of MD5(key), little-endian.
    Md5,
    /// `crc16`: XMODEM table with an unmasked 32-bit state.
    Crc16,
    /// `crc32`: `(CRC-32 >> 16) & 0x7fff`, 15 bits only.
    Crc32,
    /// `crc32a`: standard CRC-32 (zlib's).
    Crc32a,
    /// `fnv1_64`: 64-bit FNV-1 truncated to 32 bits (signed bytes).
    Fnv1_64,
    /// `fnv1a_64`: nutcracker's default, a *32-bit* FNV-1a with the low
    /// halves of the 64-bit constants (signed bytes).
    Fnv1a64,
    /// `fnv1_32`: 32-bit FNV-1 (signed bytes).
    Fnv1_32,
    /// `fnv1a_32`: 32-bit FNV-1a (signed bytes).
    Fnv1a32,
    /// `hsieh`: Paul Hsieh's SuperFastHash starting from 0 (the 3-byte tail
    /// reads its last byte signed).
    Hsieh,
    /// `murmur`: MurmurHash2, seed `0xdeadbeef * len`.
    Murmur,
    /// `jenkins`: Bob Jenkins' lookup3 `hashlittle`, initval 13.
    Jenkins,
}

impl Hash {
    /// All twelve, in nutcracker's declaration order.
    pub const ALL: [Hash; 12] = [
        Hash::OneAtATime,
        Hash::Md5,
        Hash::Crc16,
        Hash::Crc32,
        Hash::Crc32a,
        Hash::Fnv1_64,
        Hash::Fnv1a64,
        Hash::Fnv1_32,
        Hash::Fnv1a32,
        Hash::Hsieh,
        Hash::Murmur,
        Hash::Jenkins,
    ];

    /// nutcracker's default (`hash:` absent).
    pub const DEFAULT: Hash = Hash::Fnv1a64;

    /// The name as written in nutcracker's YAML (`"fnv1a_64"`, ...).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Hash::OneAtATime => "one_at_a_time",
            Hash::Md5 => "md5",
            Hash::Crc16 => "crc16",
            Hash::Crc32 => "crc32",
            Hash::Crc32a => "crc32a",
            Hash::Fnv1_64 => "fnv1_64",
            Hash::Fnv1a64 => "fnv1a_64",
            Hash::Fnv1_32 => "fnv1_32",
            Hash::Fnv1a32 => "fnv1a_32",
            Hash::Hsieh => "hsieh",
            Hash::Murmur => "murmur",
            Hash::Jenkins => "jenkins",
        }
    }

    /// The raw hash of `key`, exactly as nutcracker's function computes it
    /// (no hash-tag extraction, no empty-key rule).
    #[must_use]
    pub fn hash(self, key: &[u8]) -> u32 {
        match self {
            Hash::OneAtATime => one_at_a_time(key),
            Hash::Md5 => md5(key),
            Hash::Crc16 => crc16(key),
            Hash::Crc32 => (CRC32.checksum(key) >> 16) & 0x7fff,
            Hash::Crc32a => CRC32.checksum(key),
            Hash::Fnv1_64 => fnv1_64(key),
            Hash::Fnv1a64 => fnv1a_64(key),
            Hash::Fnv1_32 => fnv1_32(key),
            Hash::Fnv1a32 => fnv1a_32(key),
            Hash::Hsieh => hsieh(key),
            Hash::Murmur => murmur(key),
            Hash::Jenkins => jenkins(key),
        }
    }
}

impl Default for Hash {
    fn default() -> Self {
        Hash::DEFAULT
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown `hash:` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown hash `{0}` (expected one of: one_at_a_time, md5, crc16, crc32, crc32a, fnv1_64, fnv1a_64, fnv1_32, fnv1a_32, hsieh, murmur, jenkins)"
)]
pub struct UnknownHash(pub String);

impl FromStr for Hash {
    type Err = UnknownHash;

    /// Exact, case-sensitive match, as nutcracker compares the YAML value.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Hash::ALL
            .into_iter()
            .find(|h| h.name() == s)
            .ok_or_else(|| UnknownHash(s.to_string()))
    }
}

/// A key byte read through x86-64's signed `char`, widened to 32 bits.
#[inline]
fn signed32(b: u8) -> u32 {
    i32::from(b as i8) as u32
}

/// A key byte read through x86-64's signed `char`, widened to 64 bits.
#[inline]
fn signed64(b: u8) -> u64 {
    i64::from(b as i8) as u64
}

/// The little-endian u32 at `bytes[at..at + 4]` (0-filled past the end).
#[inline]
fn le32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    if let Some(src) = bytes.get(at..at + 4) {
        word.copy_from_slice(src);
    }
    u32::from_le_bytes(word)
}

/// The little-endian u16 at `bytes[at..at + 2]`, widened (0 past the end).
#[inline]
fn le16(bytes: &[u8], at: usize) -> u32 {
    let lo = bytes.get(at).copied().unwrap_or(0);
    let hi = bytes.get(at + 1).copied().unwrap_or(0);
    u32::from(u16::from_le_bytes([lo, hi]))
}

/// The byte at `i` (0 past the end), for tails whose length is known.
#[inline]
fn byte(bytes: &[u8], i: usize) -> u32 {
    bytes.get(i).copied().map_or(0, u32::from)
}

fn one_at_a_time(key: &[u8]) -> u32 {
    let mut v: u32 = 0;
    for &b in key {
        v = v.wrapping_add(signed32(b));
        v = v.wrapping_add(v << 10);
        v ^= v >> 6;
    }
    v = v.wrapping_add(v << 3);
    v ^= v >> 11;
    v.wrapping_add(v << 15)
}

fn md5(key: &[u8]) -> u32 {
    let digest: [u8; 16] = Md5::digest(key).into();
    le32(&digest, 0)
}

fn crc16(key: &[u8]) -> u32 {
    let mut crc: u32 = 0;
    for &b in key {
        let idx = usize::from(((crc >> 8) as u8) ^ b);
        let t = XMODEM_TABLE.get(idx).copied().unwrap_or(0);
        crc = (crc << 8) ^ u32::from(t);
    }
    crc
}

const FNV64_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV64_PRIME: u64 = 0x0000_0100_0000_01b3;
const FNV32_OFFSET: u32 = 2_166_136_261;
const FNV32_PRIME: u32 = 16_777_619;

fn fnv1_64(key: &[u8]) -> u32 {
    let mut h = FNV64_OFFSET;
    for &b in key {
        h = h.wrapping_mul(FNV64_PRIME);
        h ^= signed64(b);
    }
    h as u32
}

fn fnv1a_64(key: &[u8]) -> u32 {
    // The low 32 bits of the 64-bit constants, in 32-bit arithmetic.
    let mut h = FNV64_OFFSET as u32;
    for &b in key {
        h ^= signed32(b);
        h = h.wrapping_mul(FNV64_PRIME as u32);
    }
    h
}

fn fnv1_32(key: &[u8]) -> u32 {
    let mut h = FNV32_OFFSET;
    for &b in key {
        h = h.wrapping_mul(FNV32_PRIME);
        h ^= signed32(b);
    }
    h
}

fn fnv1a_32(key: &[u8]) -> u32 {
    let mut h = FNV32_OFFSET;
    for &b in key {
        h ^= signed32(b);
        h = h.wrapping_mul(FNV32_PRIME);
    }
    h
}

fn hsieh(key: &[u8]) -> u32 {
    if key.is_empty() {
        return 0;
    }
    let mut h: u32 = 0;
    let mut chunks = key.chunks_exact(4);
    for c in chunks.by_ref() {
        h = h.wrapping_add(le16(c, 0));
        let tmp = (le16(c, 2) << 11) ^ h;
        h = (h << 16) ^ tmp;
        h = h.wrapping_add(h >> 11);
    }
    let tail = chunks.remainder();
    match tail.len() {
        3 => {
            h = h.wrapping_add(le16(tail, 0));
            h ^= h << 16;
            h ^= tail.get(2).copied().map_or(0, signed32) << 18;
            h = h.wrapping_add(h >> 11);
        }
        2 => {
            h = h.wrapping_add(le16(tail, 0));
            h ^= h << 11;
            h = h.wrapping_add(h >> 17);
        }
        1 => {
            h = h.wrapping_add(byte(tail, 0));
            h ^= h << 10;
            h = h.wrapping_add(h >> 1);
        }
        _ => {}
    }
    h ^= h << 3;
    h = h.wrapping_add(h >> 5);
    h ^= h << 4;
    h = h.wrapping_add(h >> 17);
    h ^= h << 25;
    h.wrapping_add(h >> 6)
}

fn murmur(key: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    // C truncates the length to 32 bits; so do we.
    let len = key.len() as u32;
    let seed = 0xdead_beef_u32.wrapping_mul(len);
    let mut h = seed ^ len;
    let mut chunks = key.chunks_exact(4);
    for c in chunks.by_ref() {
        let mut k = le32(c, 0);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        // The C switch falls through from 3 to 2 to 1.
        h ^= byte(tail, 2) << 16;
        h ^= byte(tail, 1) << 8;
        h ^= byte(tail, 0);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

fn jenkins(key: &[u8]) -> u32 {
    const INITVAL: u32 = 13;
    // C truncates the length to 32 bits; so do we.
    let init = 0xdead_beef_u32
        .wrapping_add(key.len() as u32)
        .wrapping_add(INITVAL);
    let (mut a, mut b, mut c) = (init, init, init);
    if key.is_empty() {
        return c;
    }
    let mut rest = key;
    while rest.len() > 12 {
        a = a.wrapping_add(le32(rest, 0));
        b = b.wrapping_add(le32(rest, 4));
        c = c.wrapping_add(le32(rest, 8));
        mix(&mut a, &mut b, &mut c);
        rest = rest.get(12..).unwrap_or_default();
    }
    // Last block, 1..=12 bytes, zero-padded (lookup3's byte-wise path).
    let mut block = [0u8; 12];
    if let Some(dst) = block.get_mut(..rest.len()) {
        dst.copy_from_slice(rest);
    }
    a = a.wrapping_add(le32(&block, 0));
    b = b.wrapping_add(le32(&block, 4));
    c = c.wrapping_add(le32(&block, 8));
    final_mix(&mut a, &mut b, &mut c);
    c
}

#[inline]
fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

#[inline]
fn final_mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(14));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(11));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(25));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(16));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(4));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(14));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(24));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apple_vectors() {
        // twemproxy's src/test_all.c values (libmemcached's), see the
        // reference doc §1.4.
        let expect = [
            (Hash::OneAtATime, 2_297_466_611),
            (Hash::Md5, 3_195_025_439),
            (Hash::Crc16, 3_662_830_516),
            (Hash::Crc32, 10_542),
            (Hash::Crc32a, 2_838_417_488),
            (Hash::Fnv1_64, 473_199_127),
            (Hash::Fnv1a64, 1_488_911_807),
            (Hash::Fnv1_32, 67_176_023),
            (Hash::Fnv1a32, 280_767_167),
            (Hash::Hsieh, 3_738_850_110),
            (Hash::Murmur, 4_142_305_122),
            (Hash::Jenkins, 1_442_444_624),
        ];
        for (h, v) in expect {
            assert_eq!(h.hash(b"apple"), v, "{h}");
        }
    }

    #[test]
    fn names_round_trip() {
        for h in Hash::ALL {
            assert_eq!(h.name().parse::<Hash>(), Ok(h));
            assert_eq!(h.to_string(), h.name());
        }
        assert!("FNV1A_64".parse::<Hash>().is_err());
        assert!("fnv1a_64 ".parse::<Hash>().is_err());
        assert_eq!(Hash::default(), Hash::Fnv1a64);
    }

    #[test]
    fn xmodem_table_matches_crc_crate() {
        // The low 16 bits of the unmasked state are the real CRC-16/XMODEM.
        let xmodem = Crc::<u16>::new(&crc::CRC_16_XMODEM);
        for key in [&b"123456789"[..], b"apple", b"\xff\x80\x00", b""] {
            assert_eq!(crc16(key) as u16, xmodem.checksum(key));
        }
    }

    #[test]
    fn sign_extension_matters() {
        // 0xC3 is mixed in as 0xFFFFFFC3, unlike an unsigned reading.
        let mut h = FNV32_OFFSET;
        h ^= 0xc3;
        h = h.wrapping_mul(FNV32_PRIME);
        assert_ne!(fnv1a_32(b"\xc3"), h);
        let mut s = FNV32_OFFSET;
        s ^= 0xffff_ffc3;
        s = s.wrapping_mul(FNV32_PRIME);
        assert_eq!(fnv1a_32(b"\xc3"), s);
    }

    #[test]
    fn empty_keys() {
        assert_eq!(Hash::Hsieh.hash(b""), 0);
        assert_eq!(Hash::Jenkins.hash(b""), 0xdead_beef_u32.wrapping_add(13));
        assert_eq!(Hash::Fnv1a64.hash(b""), 0x8422_2325);
        assert_eq!(Hash::Crc16.hash(b""), 0);
        assert_eq!(Hash::OneAtATime.hash(b""), 0);
    }
}
