//! Per-command statistics: one slot of atomic counters per entry of the
//! command table (commands and subcommands, flattened), plus one slot for
//! requests that name no command.
//!
//! Invariants: the slots are created once, when the proxy starts; a request
//! finds its slot by the position of its [`CommandSpec`] in the static table
//! (pointer arithmetic on the table, no hashing, no lock), so counting is a
//! couple of relaxed atomic adds. The label set is bounded by the table.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use slotway_command::{CommandSpec, flags};
use slotway_resp::Request;

/// Name shown for requests whose command the table does not know.
pub const UNKNOWN: &str = "unknown";

/// Where a command sits in the flattened table: `base` of its top-level
/// command, plus 1 + the subcommand's position for subcommands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandId(u16);

impl CommandId {
    /// The slot of commands the table does not know.
    #[must_use]
    pub fn unknown() -> Self {
        Self(u16::try_from(names().len()).unwrap_or(u16::MAX))
    }

    fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// Latency class of a command: bounded label of the latency histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Commands flagged `readonly`.
    Read,
    /// Commands flagged `write`.
    Write,
    /// Everything else (connection, admin, pub/sub, unknown …).
    Other,
}

impl Class {
    /// Every class, in label order.
    pub const ALL: [Class; 3] = [Class::Read, Class::Write, Class::Other];

    /// The label value.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Class::Read => "read",
            Class::Write => "write",
            Class::Other => "other",
        }
    }

    fn of(spec: &CommandSpec) -> Self {
        if spec.has_flag(flags::WRITE) {
            Class::Write
        } else if spec.has_flag(flags::READONLY) {
            Class::Read
        } else {
            Class::Other
        }
    }
}

/// Name of each flat slot (`"client|list"` for subcommands), in the flat
/// numbering of `slotway_command` (built once per process).
fn names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        slotway_command::flat_entries()
            .map(|(_, c)| c.name)
            .collect()
    })
}

/// What a request is, for the statistics: its slot, latency class, and
/// whether the slow log may record it.
#[derive(Clone, Copy, Debug)]
pub struct Identified {
    /// Its slot.
    pub id: CommandId,
    /// Its latency class.
    pub class: Class,
    /// Redis never logs these in its slow log (`skip_slowlog`: EXEC …).
    pub skip_slowlog: bool,
    /// A blocking command (BLPOP, XREAD …): the time it waits for data is
    /// not latency, so it is left out of the times and the slow log, as
    /// Redis leaves blocked time out of its own.
    pub blocking: bool,
}

/// Finds the table entry `req` runs, as Redis resolves it: the subcommand's
/// for containers, else the command's; unknown names get the unknown slot.
#[must_use]
pub fn identify(req: &Request) -> Identified {
    identify_with_kind(req).0
}

/// [`identify`], and whether the answer depends on the name alone (not a
/// container, whose subcommand decides).
fn identify_with_kind(req: &Request) -> (Identified, bool) {
    let unknown = Identified {
        id: CommandId::unknown(),
        class: Class::Other,
        skip_slowlog: false,
        blocking: false,
    };
    let Some(top) = req.arg(0).and_then(slotway_command::lookup) else {
        return (unknown, true);
    };
    let Some(base) = slotway_command::flat_index_in(top, None) else {
        return (unknown, true);
    };
    let (spec, flat) = match req.arg(1).filter(|_| top.is_container()) {
        Some(sub_name) => match top.subcommand(sub_name) {
            Some(sub) => match slotway_command::flat_index_in(top, Some(sub)) {
                Some(i) => (sub, i),
                None => (top, base),
            },
            None => (top, base),
        },
        None => (top, base),
    };
    let what = Identified {
        id: CommandId(u16::try_from(flat).unwrap_or(u16::MAX)),
        class: Class::of(spec),
        skip_slowlog: spec.has_flag(flags::SKIP_SLOWLOG),
        blocking: spec.has_flag(flags::BLOCKING),
    };
    (what, !top.is_container())
}

/// Longest command name the [`LastCommand`] cache remembers.
const CACHED_NAME: usize = 24;

/// A one-entry cache of the last command name a client sent: clients send
/// runs of the same command, and a byte comparison is far cheaper than the
/// table search (containers are not cached: their subcommand decides).
#[derive(Debug, Default)]
pub struct LastCommand {
    name: [u8; CACHED_NAME],
    len: usize,
    what: Option<Identified>,
}

impl LastCommand {
    /// [`identify`], remembering the answer for the next request.
    pub fn identify(&mut self, req: &Request) -> Identified {
        let name = req.arg(0).unwrap_or_default();
        if let Some(what) = self.what
            && self.name.get(..self.len) == Some(name)
        {
            return what;
        }
        let (what, by_name) = identify_with_kind(req);
        match self.name.get_mut(..name.len()) {
            Some(slot) if by_name => {
                slot.copy_from_slice(name);
                self.len = name.len();
                self.what = Some(what);
            }
            _ => self.what = None,
        }
        what
    }
}

/// Counters of one command.
#[derive(Debug, Default)]
pub struct CommandStats {
    /// Requests answered.
    pub calls: AtomicU64,
    /// Of which answered with an error.
    pub failed: AtomicU64,
    /// Microseconds spent, end to end through the proxy.
    pub usec: AtomicU64,
}

/// A snapshot of one command's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandSnapshot {
    /// Command name (`"get"`, `"client|list"`, [`UNKNOWN`]).
    pub name: &'static str,
    /// Requests answered.
    pub calls: u64,
    /// Answered with an error.
    pub failed: u64,
    /// Total microseconds.
    pub usec: u64,
}

/// Every command's counters, indexed by [`CommandId`].
#[derive(Debug)]
pub struct CommandTable {
    stats: Box<[CommandStats]>,
}

impl Default for CommandTable {
    fn default() -> Self {
        let n = names().len() + 1;
        Self {
            stats: (0..n).map(|_| CommandStats::default()).collect(),
        }
    }
}

impl CommandTable {
    /// Counts `calls` answered requests that took `usec` microseconds in
    /// all, `failed` of them with an error.
    pub fn record(&self, id: CommandId, calls: u64, usec: u64, failed: u64) {
        if let Some(s) = self.stats.get(id.index()) {
            s.calls.fetch_add(calls, Ordering::Relaxed);
            s.usec.fetch_add(usec, Ordering::Relaxed);
            if failed > 0 {
                s.failed.fetch_add(failed, Ordering::Relaxed);
            }
        }
    }

    /// Commands called at least once, in table order.
    #[must_use]
    pub fn snapshot(&self) -> Vec<CommandSnapshot> {
        let names = &names();
        self.stats
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let calls = s.calls.load(Ordering::Relaxed);
                (calls > 0).then(|| CommandSnapshot {
                    name: names.get(i).copied().unwrap_or(UNKNOWN),
                    calls,
                    failed: s.failed.load(Ordering::Relaxed),
                    usec: s.usec.load(Ordering::Relaxed),
                })
            })
            .collect()
    }

    /// Totals over every command: (calls, failed).
    #[must_use]
    pub fn totals(&self) -> (u64, u64) {
        self.stats.iter().fold((0, 0), |(c, f), s| {
            (
                c + s.calls.load(Ordering::Relaxed),
                f + s.failed.load(Ordering::Relaxed),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn id(args: &[&str]) -> Identified {
        identify(&Request::from_args(args.iter().map(|a| a.as_bytes())))
    }

    #[test]
    fn commands_and_subcommands_get_their_own_slot() {
        let names = &names();
        let get = id(&["GET", "k"]);
        assert_eq!(names[get.id.index()], "get");
        assert_eq!(get.class, Class::Read);
        let set = id(&["set", "k", "v"]);
        assert_eq!(names[set.id.index()], "set");
        assert_eq!(set.class, Class::Write);
        let list = id(&["CLIENT", "list"]);
        assert_eq!(names[list.id.index()], "client|list");
        assert_eq!(list.class, Class::Other);
        // A container without (or with an unknown) subcommand counts as itself.
        assert_eq!(names[id(&["client"]).id.index()], "client");
        assert_eq!(names[id(&["client", "nope"]).id.index()], "client");
        assert_eq!(id(&["nosuch"]).id, CommandId::unknown());
        assert!(id(&["EXEC"]).skip_slowlog);
        assert!(!get.skip_slowlog);
        assert!(id(&["BLPOP", "k", "0"]).blocking && !get.blocking);
        // Every slot's name is the name of the spec that lands on it.
        for cmd in slotway_command::table::COMMANDS {
            let base = slotway_command::flat_index_in(cmd, None).unwrap();
            assert_eq!(names[base], cmd.name);
            for (i, sub) in cmd.subcommands.iter().enumerate() {
                assert_eq!(names[base + 1 + i], sub.name);
            }
        }
    }

    #[test]
    fn the_cache_answers_like_the_table() {
        let mut cache = LastCommand::default();
        for args in [
            &["GET", "k"][..],
            &["GET", "j"],
            &["get", "k"],
            &["CLIENT", "LIST"],
            &["CLIENT", "ID"],
            &["CLIENT", "ID"],
            &["SET", "k", "v"],
            &["nosuch"],
            &["nosuch"],
            &["BLPOP", "k", "0"],
            &["averyveryverylongcommandnamethatisnotcached"],
            &["averyveryverylongcommandnamethatisnotcached"],
            &["GET", "k"],
        ] {
            let req = Request::from_args(args.iter().map(|a| a.as_bytes()));
            let (a, b) = (cache.identify(&req), identify(&req));
            assert_eq!(
                (a.id, a.class, a.blocking),
                (b.id, b.class, b.blocking),
                "{args:?}"
            );
        }
    }

    #[test]
    fn record_and_snapshot() {
        let t = CommandTable::default();
        let get = id(&["GET", "k"]).id;
        t.record(get, 1, 10, 0);
        t.record(get, 1, 5, 1);
        t.record(CommandId::unknown(), 1, 1, 1);
        let snap = t.snapshot();
        assert_eq!(
            snap,
            vec![
                CommandSnapshot {
                    name: "get",
                    calls: 2,
                    failed: 1,
                    usec: 15
                },
                CommandSnapshot {
                    name: UNKNOWN,
                    calls: 1,
                    failed: 1,
                    usec: 1
                },
            ]
        );
        assert_eq!(t.totals(), (3, 2));
    }
}
