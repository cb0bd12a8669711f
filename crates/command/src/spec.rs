//! The shapes of the command table ([`CommandSpec`], [`KeySpec`]) and the
//! request view ([`Args`]) that lookup and key extraction read.
//!
//! Invariants (upheld by the generator, checked by tests over `table`):
//! * `name` is lowercase ASCII; a subcommand's name is the full Redis form
//!   `"container|sub"`, and it never has subcommands itself;
//! * `subcommands` is sorted by the part after `'|'` (byte order), which is
//!   what `CommandSpec::subcommand` binary-searches;
//! * `key_specs` keeps Redis's order: key extraction yields keys spec by spec,
//!   so reordering would change the order keys are reported in.

use crate::keyspec;

/// One Redis command or subcommand, as `COMMAND` / `COMMAND DOCS` describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    /// Lowercase name; `"object|encoding"` for subcommands.
    pub name: &'static str,
    /// Redis arity: `n >= 0` means exactly `n` arguments (name included),
    /// `-n` means at least `n`.
    pub arity: i32,
    /// Bitset of [`crate::flags`].
    pub flags: u64,
    /// Bitset of [`crate::acl`].
    pub acl_categories: u64,
    /// Key specs in Redis's order.
    pub key_specs: &'static [KeySpec],
    /// Subcommands sorted by the part after `'|'`; empty for plain commands.
    pub subcommands: &'static [CommandSpec],
    /// `COMMAND DOCS` group, e.g. `"string"`.
    pub group: &'static str,
    /// `COMMAND DOCS` since, e.g. `"1.0.0"`.
    pub since: &'static str,
    /// `COMMAND DOCS` summary.
    pub summary: &'static str,
    /// Command tips, e.g. `"request_policy:all_shards"`, `"nondeterministic_output"`.
    pub tips: &'static [&'static str],
}

/// Where a key spec starts looking for keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BeginSearch {
    /// Keys start at this argument index.
    Index(i32),
    /// Keys start right after `keyword` (compared ASCII case-insensitively),
    /// searched forward from `start_from`, or backwards from
    /// `argc + start_from` when `start_from` is negative.
    Keyword {
        keyword: &'static str,
        start_from: i32,
    },
    /// Redis cannot describe it (SORT's BY/GET/STORE); see `crate::keys`.
    Unknown,
}

/// How many keys follow the begin position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindKeys {
    /// `last_key >= 0`: last key at `begin + last_key`; negative: relative to
    /// the end (`-1` = last argument) or, with `limit > 0`, the first
    /// `1/limit` of the remaining arguments (XREAD's keys then IDs).
    Range {
        last_key: i32,
        step: i32,
        limit: i32,
    },
    /// The key count is argument `begin + keynum_idx`; keys start at
    /// `begin + first_key`.
    Keynum {
        keynum_idx: i32,
        first_key: i32,
        step: i32,
    },
    /// Redis cannot describe it; see `crate::keys`.
    Unknown,
}

/// One key spec: a begin-search step, a find-keys step and flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySpec {
    pub begin: BeginSearch,
    pub find: FindKeys,
    /// Bitset of [`crate::keyspec`].
    pub flags: u32,
}

impl KeySpec {
    /// All bits of `f` are set (and `f` is not empty).
    pub fn has_flag(&self, f: u32) -> bool {
        f != 0 && self.flags & f == f
    }

    /// The positions are not keys (7.0: shard channels).
    pub fn is_not_key(&self) -> bool {
        self.has_flag(keyspec::NOT_KEY)
    }
}

/// Arguments of one request; argument 0 is the command name.
pub trait Args {
    fn count(&self) -> usize;
    fn get(&self, i: usize) -> Option<&[u8]>;
}

impl<T: AsRef<[u8]>> Args for [T] {
    fn count(&self) -> usize {
        self.len()
    }

    fn get(&self, i: usize) -> Option<&[u8]> {
        // The inherent slice method, not this trait method.
        <[T]>::get(self, i).map(AsRef::as_ref)
    }
}

impl CommandSpec {
    /// Whether `argc` arguments (command name, and subcommand name, included)
    /// satisfy the arity, with Redis's rule from `processCommand`:
    /// `(arity > 0 && arity != argc) || argc < -arity` is an error.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = i64::try_from(argc).unwrap_or(i64::MAX);
        let arity = i64::from(self.arity);
        !((arity > 0 && arity != argc) || argc < -arity)
    }

    /// All bits of `f` (a [`crate::flags`] value or union) are set; `false`
    /// for an empty `f`.
    pub fn has_flag(&self, f: u64) -> bool {
        f != 0 && self.flags & f == f
    }

    /// All bits of `c` (a [`crate::acl`] value or union) are set; `false` for
    /// an empty `c`.
    pub fn has_acl_category(&self, c: u64) -> bool {
        c != 0 && self.acl_categories & c == c
    }

    /// Has subcommands (OBJECT, CONFIG, CLIENT, XINFO, ...).
    pub fn is_container(&self) -> bool {
        !self.subcommands.is_empty()
    }

    /// Full display name as Redis uses it in errors (`"get"`,
    /// `"object|encoding"`): the same as `name`.
    pub fn full_name(&self) -> &'static str {
        self.name
    }

    /// The part before `'|'` (the whole name for a top-level command).
    pub fn container_name(&self) -> &'static str {
        self.name.split_once('|').map_or(self.name, |(c, _)| c)
    }

    /// The part after `'|'` for a subcommand; `None` for a top-level command.
    pub fn subcommand_name(&self) -> Option<&'static str> {
        self.name.split_once('|').map(|(_, s)| s)
    }

    /// The subcommand called `name` (ASCII case-insensitive, without the
    /// container prefix), if this is a container that has it.
    pub fn subcommand(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        let subs: &'static [CommandSpec] = self.subcommands;
        crate::lookup::search(subs, name, |c| c.subcommand_name().unwrap_or(c.name))
    }

    /// Has at least one key spec that is not `NOT_KEY`, i.e. may have key
    /// arguments (Redis's `doesCommandHaveKeys` for built-in commands).
    pub fn has_keys(&self) -> bool {
        self.key_specs.iter().any(|k| !k.is_not_key())
    }
}
