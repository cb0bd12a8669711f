//! Shared helpers for the name <-> bit tables of `flags`, `acl` and `keyspec`.
//!
//! Invariant: each table maps distinct names to distinct single bits, so
//! `name(from_name(n)) == n` (modulo case); tests check this for all three.

use core::ops::BitAnd;

/// The name of exactly one bit (`None` for zero, several or unknown bits).
pub(crate) fn name<T: Copy + PartialEq>(
    table: &'static [(&'static str, T)],
    bit: T,
) -> Option<&'static str> {
    table.iter().find(|(_, b)| *b == bit).map(|(n, _)| *n)
}

pub(crate) fn from_name<T: Copy>(table: &'static [(&'static str, T)], name: &str) -> Option<T> {
    table
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, b)| *b)
}

pub(crate) fn names<T>(
    table: &'static [(&'static str, T)],
    set: T,
) -> impl Iterator<Item = &'static str>
where
    T: Copy + BitAnd<Output = T> + PartialEq + Default,
{
    table
        .iter()
        .filter(move |(_, b)| (set & *b) != T::default())
        .map(|(n, _)| *n)
}
