//! Command lookup: name -> [`CommandSpec`], and request -> the spec Redis
//! would execute ([`resolve`]).
//!
//! Invariants: no allocation; relies on the table being sorted by lowercase
//! name in byte order, which the generator guarantees and tests check.
//! Because table names are lowercase ASCII, comparing the lowercased input
//! against them gives the same order the table is sorted in, so binary search
//! is exact (subcommands). Top-level [`lookup`] runs once per request: a name
//! goes straight to the few commands sharing its first letter and length (an
//! index built on first use, usually one to five candidates), compared
//! case-insensitively in place — no copy, no `memcmp` call.

use core::cmp::Ordering;

use crate::spec::{Args, CommandSpec};
use crate::table::COMMANDS;

/// Case-insensitive lookup of a top-level command (`b"GET"`, `b"object"`).
/// A `"container|sub"` name is not found here: use [`resolve`] or
/// [`CommandSpec::subcommand`].
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    // Every command starts with a letter and is shorter than the index's
    // longest name (the table test looks up every command): a name outside
    // the index is no command.
    let index = letter_length_index();
    let &(lo, hi) = index.buckets.get(bucket(name)?)?;
    index
        .order
        .get(usize::from(lo)..usize::from(hi))?
        .iter()
        .filter_map(|&i| COMMANDS.get(usize::from(i)))
        .find(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
}

/// Letters `a`..=`z`: the first bytes of every command name.
const LETTERS: u8 = 26;
/// Name lengths the index covers (every command name is shorter).
const BUCKET_LEN: usize = 32;

/// The index bucket of a name: its first letter (either case) and length.
fn bucket(name: &[u8]) -> Option<usize> {
    let letter = name.first()?.to_ascii_lowercase().wrapping_sub(b'a');
    (letter < LETTERS && name.len() < BUCKET_LEN)
        .then(|| usize::from(letter) * BUCKET_LEN + name.len())
}

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
        let mut order: Vec<(usize, u16)> = COMMANDS
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((bucket(c.name.as_bytes())?, u16::try_from(i).ok()?)))
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
