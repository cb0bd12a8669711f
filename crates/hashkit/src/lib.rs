//! Key hashing for Slotway: pure (no I/O); slot lookups are allocation-free.
//!
//! Owns the Redis Cluster key → slot mapping ([`slot`]: CRC16/XMODEM of the
//! key, or of its `{hash tag}`, modulo 16384) and twemproxy's key → server
//! placement ([`twemproxy`]: its 12 hash functions, `hash_tag`, and the
//! ketama, modula and random distributions, bit-compatible with nutcracker
//! 0.5.0).
//!
//! Invariant: every function here is a pure function of its inputs, so the
//! slot or server a key maps to never depends on process state.

#![forbid(unsafe_code)]

pub mod slot;
pub mod twemproxy;

pub use slot::{SLOT_COUNT, hash_tag, key_slot};
