//! Key-spec flags (`KeySpec::flags`): how a command uses the keys a spec finds.
//!
//! Invariants: bit positions equal Redis 7.0's `CMD_KEY_*` bits (server.h);
//! [`NAMES`] spells each flag as `COMMAND` reports it (the four access kinds
//! upper-case, the rest lower-case, exactly like Redis).
//!
//! Semantics that key extraction relies on (see `crate::keys`):
//! * [`NOT_KEY`]: the positions are not keys (7.0: shard channels of
//!   SPUBLISH / SSUBSCRIBE / SUNSUBSCRIBE); skipped by `for_each_key`;
//! * [`INCOMPLETE`]: the spec may miss keys; when it matches Redis discards the
//!   spec results and uses the command's own parser (MIGRATE ... KEYS);
//! * [`VARIABLE_FLAGS`]: the flags depend on the arguments (SET ... GET,
//!   BITFIELD); positions are still exact.

pub const RO: u32 = 1 << 0;
pub const RW: u32 = 1 << 1;
pub const OW: u32 = 1 << 2;
pub const RM: u32 = 1 << 3;
pub const ACCESS: u32 = 1 << 4;
pub const UPDATE: u32 = 1 << 5;
pub const INSERT: u32 = 1 << 6;
pub const DELETE: u32 = 1 << 7;
pub const NOT_KEY: u32 = 1 << 8;
pub const INCOMPLETE: u32 = 1 << 9;
pub const VARIABLE_FLAGS: u32 = 1 << 10;

/// Every key-spec flag with its `COMMAND` spelling, in Redis's order.
pub const NAMES: &[(&str, u32)] = &[
    ("RO", RO),
    ("RW", RW),
    ("OW", OW),
    ("RM", RM),
    ("access", ACCESS),
    ("update", UPDATE),
    ("insert", INSERT),
    ("delete", DELETE),
    ("not_key", NOT_KEY),
    ("incomplete", INCOMPLETE),
    ("variable_flags", VARIABLE_FLAGS),
];

/// The `COMMAND` name of a single key-spec flag bit.
pub fn name(bit: u32) -> Option<&'static str> {
    crate::bits::name(NAMES, bit)
}

/// The bit for a key-spec flag name (ASCII case-insensitive).
pub fn from_name(name: &str) -> Option<u32> {
    crate::bits::from_name(NAMES, name)
}

/// Names of every flag set in `set`, in [`NAMES`] order.
pub fn names(set: u32) -> impl Iterator<Item = &'static str> {
    crate::bits::names(NAMES, set)
}
