//! ACL categories (`CommandSpec::acl_categories`): one bit per Redis 7.0
//! category.
//!
//! Invariants: bit positions equal Redis 7.0's `ACL_CATEGORY_*` bits (server.h);
//! [`NAMES`] spells each category as `COMMAND` / `ACL CAT` do (without the `@`)
//! and covers all 21 categories of 7.0.

pub const KEYSPACE: u64 = 1 << 0;
pub const READ: u64 = 1 << 1;
pub const WRITE: u64 = 1 << 2;
pub const SET: u64 = 1 << 3;
pub const SORTEDSET: u64 = 1 << 4;
pub const LIST: u64 = 1 << 5;
pub const HASH: u64 = 1 << 6;
pub const STRING: u64 = 1 << 7;
pub const BITMAP: u64 = 1 << 8;
pub const HYPERLOGLOG: u64 = 1 << 9;
pub const GEO: u64 = 1 << 10;
pub const STREAM: u64 = 1 << 11;
pub const PUBSUB: u64 = 1 << 12;
pub const ADMIN: u64 = 1 << 13;
pub const FAST: u64 = 1 << 14;
pub const SLOW: u64 = 1 << 15;
pub const BLOCKING: u64 = 1 << 16;
pub const DANGEROUS: u64 = 1 << 17;
pub const CONNECTION: u64 = 1 << 18;
pub const TRANSACTION: u64 = 1 << 19;
pub const SCRIPTING: u64 = 1 << 20;

/// Every category with its name (no `@`), in Redis's order.
pub const NAMES: &[(&str, u64)] = &[
    ("keyspace", KEYSPACE),
    ("read", READ),
    ("write", WRITE),
    ("set", SET),
    ("sortedset", SORTEDSET),
    ("list", LIST),
    ("hash", HASH),
    ("string", STRING),
    ("bitmap", BITMAP),
    ("hyperloglog", HYPERLOGLOG),
    ("geo", GEO),
    ("stream", STREAM),
    ("pubsub", PUBSUB),
    ("admin", ADMIN),
    ("fast", FAST),
    ("slow", SLOW),
    ("blocking", BLOCKING),
    ("dangerous", DANGEROUS),
    ("connection", CONNECTION),
    ("transaction", TRANSACTION),
    ("scripting", SCRIPTING),
];

/// The name (no `@`) of a single category bit.
pub fn name(bit: u64) -> Option<&'static str> {
    crate::bits::name(NAMES, bit)
}

/// The bit for a category name; a leading `@` is accepted, case-insensitive.
pub fn from_name(name: &str) -> Option<u64> {
    crate::bits::from_name(NAMES, name.strip_prefix('@').unwrap_or(name))
}

/// Names of every category set in `set`, in [`NAMES`] order.
pub fn names(set: u64) -> impl Iterator<Item = &'static str> {
    crate::bits::names(NAMES, set)
}
