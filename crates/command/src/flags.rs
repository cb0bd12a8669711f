//! Command flags (`CommandSpec::flags`): one bit per flag Redis 7.0 knows.
//!
//! Invariants:
//! * bit positions equal Redis 7.0's `CMD_*` bits (server.h), so a value can be
//!   compared with Redis sources at a glance; bits Redis uses only internally
//!   (module getkeys/no-cluster/getchannels) are left out and never set;
//! * [`NAMES`] spells each flag as `COMMAND` reports it and is the single
//!   source the generator's mapping mirrors.
//!
//! `COMMAND` in 7.0 hides `may_replicate`, `sentinel`, `only_sentinel` and
//! `protected` on purpose, so the generated table never has those bits set;
//! they exist here so code can name them and so a future server that does
//! report them maps cleanly.

pub const WRITE: u64 = 1 << 0;
pub const READONLY: u64 = 1 << 1;
pub const DENYOOM: u64 = 1 << 2;
pub const MODULE: u64 = 1 << 3;
pub const ADMIN: u64 = 1 << 4;
pub const PUBSUB: u64 = 1 << 5;
pub const NOSCRIPT: u64 = 1 << 6;
pub const BLOCKING: u64 = 1 << 8;
pub const LOADING: u64 = 1 << 9;
pub const STALE: u64 = 1 << 10;
pub const SKIP_MONITOR: u64 = 1 << 11;
pub const SKIP_SLOWLOG: u64 = 1 << 12;
pub const ASKING: u64 = 1 << 13;
pub const FAST: u64 = 1 << 14;
pub const NO_AUTH: u64 = 1 << 15;
/// Hidden by `COMMAND` in 7.0: never set in the generated table.
pub const MAY_REPLICATE: u64 = 1 << 16;
/// Hidden by `COMMAND` in 7.0: never set in the generated table.
pub const SENTINEL: u64 = 1 << 17;
/// Hidden by `COMMAND` in 7.0: never set in the generated table.
pub const ONLY_SENTINEL: u64 = 1 << 18;
pub const NO_MANDATORY_KEYS: u64 = 1 << 19;
/// Hidden by `COMMAND` in 7.0: never set in the generated table.
pub const PROTECTED: u64 = 1 << 20;
pub const NO_ASYNC_LOADING: u64 = 1 << 23;
pub const NO_MULTI: u64 = 1 << 24;
/// Key positions cannot be found from (first, last, step) alone: the request
/// must be parsed (numkeys, keywords, ...). Computed by Redis, reported as
/// `movablekeys`.
pub const MOVABLEKEYS: u64 = 1 << 25;
pub const ALLOW_BUSY: u64 = 1 << 26;

/// Every flag with its `COMMAND` spelling, in Redis's reply order.
pub const NAMES: &[(&str, u64)] = &[
    ("write", WRITE),
    ("readonly", READONLY),
    ("denyoom", DENYOOM),
    ("module", MODULE),
    ("admin", ADMIN),
    ("pubsub", PUBSUB),
    ("noscript", NOSCRIPT),
    ("blocking", BLOCKING),
    ("loading", LOADING),
    ("stale", STALE),
    ("skip_monitor", SKIP_MONITOR),
    ("skip_slowlog", SKIP_SLOWLOG),
    ("asking", ASKING),
    ("fast", FAST),
    ("no_auth", NO_AUTH),
    ("may_replicate", MAY_REPLICATE),
    ("sentinel", SENTINEL),
    ("only_sentinel", ONLY_SENTINEL),
    ("no_mandatory_keys", NO_MANDATORY_KEYS),
    ("protected", PROTECTED),
    ("no_async_loading", NO_ASYNC_LOADING),
    ("no_multi", NO_MULTI),
    ("movablekeys", MOVABLEKEYS),
    ("allow_busy", ALLOW_BUSY),
];

/// The `COMMAND` name of a single flag bit.
pub fn name(bit: u64) -> Option<&'static str> {
    crate::bits::name(NAMES, bit)
}

/// The bit for a `COMMAND` flag name (ASCII case-insensitive).
pub fn from_name(name: &str) -> Option<u64> {
    crate::bits::from_name(NAMES, name)
}

/// Names of every flag set in `set`, in [`NAMES`] order.
pub fn names(set: u64) -> impl Iterator<Item = &'static str> {
    crate::bits::names(NAMES, set)
}
