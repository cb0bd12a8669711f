//! Key hashing for Slotway, pure and allocation-free.
//!
//! Owns the Redis Cluster key → slot mapping: CRC16/XMODEM of the key (or of its
//! `{hash tag}`) modulo 16384. The twemproxy hash functions and distributions
//! (ketama, modula, random) join this crate with the sharded backend.
//!
//! Invariant: every function here is a pure function of its input bytes, so the
//! slot a key maps to never depends on process state.

#![forbid(unsafe_code)]

pub mod slot;

pub use slot::{SLOT_COUNT, hash_tag, key_slot};
