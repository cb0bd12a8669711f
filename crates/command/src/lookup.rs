//! Command lookup: name -> [`CommandSpec`], and request -> the spec Redis
//! would execute ([`resolve`]).
//!
//! Invariants: no allocation; relies on the table being sorted by lowercase
//! name in byte order, which the generator guarantees and tests check.
//! Because table names are lowercase ASCII, comparing the lowercased input
//! against them gives the same order the table is sorted in, so binary search
//! is exact. Top-level [`lookup`] runs once per request: names starting with
//! a letter go straight to the few commands sharing their first letter and
//! length (an index built on first use, usually one to five candidates),
//! compared case-insensitively in place — no copy, no `memcmp` call; any
//! other name lowercases once into a stack buffer and binary-searches the
//! commands sharing its first byte.

use core::cmp::Ordering;

use crate::spec::{Args, CommandSpec};
use crate::table::COMMANDS;

/// Case-insensitive lookup of a top-level command (`b"GET"`, `b"object"`).
/// A `"container|sub"` name is not found here: use [`resolve`] or
/// [`CommandSpec::subcommand`].
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let letter = name.first()?.to_ascii_lowercase().wrapping_sub(b'a');
    if letter < LETTERS && name.len() < BUCKET_LEN {
        let index = letter_length_index();
        let &(lo, hi) = index
            .buckets
            .get(usize::from(letter) * BUCKET_LEN + name.len())?;
        return index
            .order
            .get(usize::from(lo)..usize::from(hi))?
            .iter()
            .filter_map(|&i| COMMANDS.get(usize::from(i)))
            .find(|c| c.name.as_bytes().eq_ignore_ascii_case(name));
    }
    lookup_sorted(name)
}

/// [`lookup`] by binary search among the commands sharing the name's first
/// byte (names not starting with a letter, or very long ones).
fn lookup_sorted(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; MAX_NAME];
    let lower = buf.get_mut(..name.len())?;
    for (l, b) in lower.iter_mut().zip(name) {
        *l = b.to_ascii_lowercase();
    }
    let group = first_byte_index().get(usize::from(*lower.first()?))?;
    let table = COMMANDS.get(group.0..group.1)?;
    table
        .binary_search_by(|c| c.name.as_bytes().cmp(lower))
        .ok()
        .and_then(|i| table.get(i))
}

/// Longer than any command name: longer input is no command.
const MAX_NAME: usize = 64;

/// Letters `a`..=`z`: the first bytes the fast index covers.
const LETTERS: u8 = 26;
/// Name lengths the fast index covers (every command name is shorter).
const BUCKET_LEN: usize = 32;

/// Commands grouped by (first letter, name length): `order` lists indexes
/// of [`COMMANDS`], and bucket `letter * BUCKET_LEN + len` is the range of
/// `order` holding the commands with that first letter and length.
struct LetterLengthIndex {
    buckets: Vec<(u16, u16)>,
    order: Vec<u16>,
}

fn letter_length_index() -> &'static LetterLengthIndex {
    static INDEX: std::sync::OnceLock<LetterLengthIndex> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        let bucket_of = |name: &str| {
            let letter = name.as_bytes().first()?.wrapping_sub(b'a');
            (letter < LETTERS && name.len() < BUCKET_LEN)
                .then(|| usize::from(letter) * BUCKET_LEN + name.len())
        };
        let mut order: Vec<(usize, u16)> = COMMANDS
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((bucket_of(c.name)?, u16::try_from(i).ok()?)))
            .collect();
        order.sort_unstable();
        let mut buckets = vec![(0u16, 0u16); usize::from(LETTERS) * BUCKET_LEN];
        for (pos, &(bucket, _)) in order.iter().enumerate() {
            let pos = u16::try_from(pos).unwrap_or(u16::MAX);
            if let Some(b) = buckets.get_mut(bucket) {
                *b = if b.1 == 0 {
                    (pos, pos.saturating_add(1))
                } else {
                    (b.0, pos.saturating_add(1))
                };
            }
        }
        LetterLengthIndex {
            buckets,
            order: order.into_iter().map(|(_, i)| i).collect(),
        }
    })
}

/// For each first byte, the range of [`COMMANDS`] whose names start with it.
fn first_byte_index() -> &'static [(usize, usize); 256] {
    static INDEX: std::sync::OnceLock<[(usize, usize); 256]> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index = [(0, 0); 256];
        for (i, c) in COMMANDS.iter().enumerate() {
            if let Some(&b) = c.name.as_bytes().first()
                && let Some(slot) = index.get_mut(usize::from(b))
            {
                *slot = if slot.1 == 0 {
                    (i, i + 1)
                } else {
                    (slot.0, i + 1)
                };
            }
        }
        index
    })
}

/// What a request resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// The spec to execute: the subcommand's for containers, else the command's.
    Command(&'static CommandSpec),
    /// `args[0]` is not a command (or the request is empty).
    UnknownCommand,
    /// The command is a container and `args[1]` is none of its subcommands.
    UnknownSubcommand(&'static CommandSpec),
}

/// Picks the spec for a request: the subcommand's spec when the command has
/// subcommands (`args[1]`, case-insensitive), else the command's. A container
/// called with no subcommand resolves to the container itself, whose arity
/// (`-2`) then fails, exactly as in Redis.
pub fn resolve<A: Args + ?Sized>(args: &A) -> Resolved {
    let Some(cmd) = args.get(0).and_then(lookup) else {
        return Resolved::UnknownCommand;
    };
    if !cmd.is_container() {
        return Resolved::Command(cmd);
    }
    match args.get(1) {
        None => Resolved::Command(cmd),
        Some(sub) => match cmd.subcommand(sub) {
            Some(s) => Resolved::Command(s),
            None => Resolved::UnknownSubcommand(cmd),
        },
    }
}

/// Binary search of a table sorted by `key(entry)` (lowercase, byte order)
/// for `input`, comparing ASCII case-insensitively.
pub(crate) fn search(
    table: &'static [CommandSpec],
    input: &[u8],
    key: impl Fn(&'static CommandSpec) -> &'static str,
) -> Option<&'static CommandSpec> {
    table
        .binary_search_by(|c| cmp_lower(key(c).as_bytes(), input))
        .ok()
        .and_then(|i| table.get(i))
}

/// Orders the (already lowercase) `name` against `input` lowercased.
fn cmp_lower(name: &[u8], input: &[u8]) -> Ordering {
    name.iter()
        .copied()
        .cmp(input.iter().map(u8::to_ascii_lowercase))
}
