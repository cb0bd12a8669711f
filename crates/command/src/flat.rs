//! The flat numbering of the command table: every top-level command of
//! [`COMMANDS`] followed by its subcommands, numbered from 0. Tables indexed
//! by it (ACL bitsets, per-command verdicts, counters) find a request's entry
//! with one array lookup.
//!
//! Invariants: the numbering is fixed by the generated table's order (built
//! once per process); [`resolve_flat`] finds the indexes by the position of
//! the resolved specs in their static slices (pointer arithmetic, no string
//! comparison beyond the lookup [`resolve`](crate::resolve) already does).

use std::sync::OnceLock;

use crate::lookup::Resolved;
use crate::spec::{Args, CommandSpec};
use crate::table::COMMANDS;

/// Flat index of each top-level command (same order as `COMMANDS`), and the
/// total number of entries.
fn bases() -> &'static (Vec<usize>, usize) {
    static BASES: OnceLock<(Vec<usize>, usize)> = OnceLock::new();
    BASES.get_or_init(|| {
        let mut next = 0;
        let starts = COMMANDS
            .iter()
            .map(|c| {
                let start = next;
                next += 1 + c.subcommands.len();
                start
            })
            .collect();
        (starts, next)
    })
}

/// How many entries the flat numbering has (commands and subcommands).
pub fn flat_len() -> usize {
    bases().1
}

/// Position of `item` in `table`, if it is an element of it.
fn position(table: &'static [CommandSpec], item: &CommandSpec) -> Option<usize> {
    let size = std::mem::size_of::<CommandSpec>().max(1);
    let offset = std::ptr::from_ref(item)
        .addr()
        .checked_sub(table.as_ptr().addr())?;
    let i = offset / size;
    table
        .get(i)
        .filter(|found| std::ptr::eq(*found, item))
        .map(|_| i)
}

/// A request resolved as [`resolve`](crate::resolve) does, with the flat
/// indexes of what it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlatResolved {
    /// What the request resolves to.
    pub resolved: Resolved,
    /// Flat index of its top-level command (`None`: unknown command).
    pub top: Option<usize>,
    /// Flat index of the resolved spec (`None` unless `resolved` is
    /// [`Resolved::Command`]).
    pub index: Option<usize>,
}

/// [`resolve`](crate::resolve), with the flat indexes of the top-level
/// command and of the spec to execute.
pub fn resolve_flat<A: Args + ?Sized>(args: &A) -> FlatResolved {
    let resolved = crate::resolve(args);
    let top_spec = match resolved {
        Resolved::UnknownCommand => None,
        Resolved::UnknownSubcommand(top) => Some(top),
        Resolved::Command(spec) if spec.subcommand_name().is_none() => Some(spec),
        // A subcommand: its container is the request's first argument.
        Resolved::Command(_) => args.get(0).and_then(crate::lookup),
    };
    let top = top_spec
        .and_then(|t| position(COMMANDS, t))
        .and_then(|i| bases().0.get(i).copied());
    let index = match (resolved, top_spec, top) {
        (Resolved::Command(spec), Some(t), Some(base)) if !std::ptr::eq(spec, t) => {
            position(t.subcommands, spec).map(|i| base + 1 + i)
        }
        (Resolved::Command(_), _, base) => base,
        _ => None,
    };
    FlatResolved {
        resolved,
        top,
        index,
    }
}

/// Flat index of the command or subcommand named `name` (`"get"`,
/// `"config|set"`, ASCII case-insensitive): for configuration, not the hot
/// path.
pub fn flat_index_of(name: &str) -> Option<usize> {
    let (top_name, sub) = match name.split_once('|') {
        Some((t, s)) => (t, Some(s)),
        None => (name, None),
    };
    let top = crate::lookup(top_name.as_bytes())?;
    let base = *bases().0.get(position(COMMANDS, top)?)?;
    match sub {
        None => Some(base),
        Some(s) => position(top.subcommands, top.subcommand(s.as_bytes())?).map(|i| base + 1 + i),
    }
}

/// Flat index of `top` (a top-level command of the table), or of its
/// subcommand `sub`: pointer arithmetic, no search (for the hot path).
pub fn flat_index_in(top: &CommandSpec, sub: Option<&CommandSpec>) -> Option<usize> {
    let base = *bases().0.get(position(COMMANDS, top)?)?;
    match sub {
        None => Some(base),
        Some(sub) => position(top.subcommands, sub).map(|i| base + 1 + i),
    }
}

/// Flat index of any spec of the table, a command or a subcommand.
pub fn flat_index(spec: &CommandSpec) -> Option<usize> {
    match spec.subcommand_name() {
        None => flat_index_in(spec, None),
        Some(_) => flat_index_in(crate::lookup(spec.container_name().as_bytes())?, Some(spec)),
    }
}

/// Every entry of the table with its flat index.
pub fn flat_entries() -> impl Iterator<Item = (usize, &'static CommandSpec)> {
    COMMANDS
        .iter()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
        .enumerate()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_flat_agrees_with_the_enumeration() {
        for (i, spec) in flat_entries() {
            let args: Vec<&str> = match spec.name.split_once('|') {
                Some((c, s)) => vec![c, s],
                None => vec![spec.name],
            };
            let r = resolve_flat(args.as_slice());
            if spec.is_container() {
                // A bare container resolves to itself.
                assert_eq!(r.index, Some(i), "{}", spec.name);
            } else {
                assert_eq!(r.resolved, Resolved::Command(spec));
                assert_eq!(r.index, Some(i), "{}", spec.name);
            }
            assert_eq!(flat_index_of(&spec.name.to_ascii_uppercase()), Some(i));
        }
        assert_eq!(flat_entries().count(), flat_len());
    }

    #[test]
    fn unknown_names() {
        let r = resolve_flat(["nosuch"].as_slice());
        assert_eq!((r.top, r.index), (None, None));
        let r = resolve_flat(["config", "nosuch"].as_slice());
        assert_eq!(r.top, flat_index_of("config"));
        assert_eq!(r.index, None);
        assert_eq!(flat_index_of("config|nosuch"), None);
        assert_eq!(flat_index_of("get|x"), None);
    }
}
