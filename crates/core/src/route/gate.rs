//! The operator's command gate (`[commands]` in the configuration): commands
//! denied, default-refused commands allowed, and commands renamed or
//! disabled with Redis's `rename-command` semantics.
//!
//! Invariants: resolved once, at configuration validation, into one
//! [`Verdict`] per entry of the command table's flat numbering, so the router
//! pays one array lookup per request (none when nothing is configured: the
//! verdict table is then empty). New names are only searched for a request
//! whose command the table does not know, so known commands never compare
//! strings here. Pure.

use std::collections::BTreeMap;

use slotway_command::CommandSpec;
use slotway_resp::Request;

/// What the gate does with one command-table entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing configured: routed as usual.
    #[default]
    Pass,
    /// Renamed away or disabled: an unknown command, as in Redis.
    Unknown,
    /// Denied by the operator.
    Denied,
    /// A command refused by default that the operator allowed.
    Allowed,
}

/// A new name of a renamed command.
#[derive(Clone, Debug)]
struct Rename {
    /// The new name, lowercase.
    name: Box<[u8]>,
    /// The command it stands for (top level).
    original: &'static CommandSpec,
}

/// The resolved `[commands]` section. Its `Debug` does not show the new
/// names (operators use them as shared secrets).
#[derive(Clone, Default)]
pub struct CommandGate {
    /// One verdict per flat index; empty when nothing is configured.
    verdicts: Box<[Verdict]>,
    /// New names (a short list, searched only for unknown commands).
    renames: Box<[Rename]>,
}

/// How a request passes the operator's command gate.
#[derive(Clone, Copy, Debug)]
pub struct Gate<'a> {
    /// The resolved `[commands]` section.
    pub gate: &'a CommandGate,
    /// The request came under a new name and was rewritten to the original
    /// one: that original name is not refused as renamed away.
    pub renamed: bool,
}

/// A `[commands]` entry that cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// Not a command (or subcommand) of the table.
    #[error("{0:?} is not a Redis command (use CONTAINER|SUB for subcommands)")]
    UnknownCommand(String),
    /// `allow` names a command that is not one of the few the proxy refuses
    /// by default and can carry.
    #[error(
        "{0:?} cannot be allowed: only CONFIG|SET, CONFIG|RESETSTAT, SAVE, BGSAVE and BGREWRITEAOF (sent to every node) are refused by default and safe through the proxy"
    )]
    NotAllowable(String),
    /// Both denied and allowed.
    #[error("{0:?} is both denied and allowed")]
    Contradiction(String),
    /// `rename` of a subcommand (Redis renames commands only).
    #[error("{0:?}: only whole commands can be renamed, not subcommands")]
    RenameSubcommand(String),
    /// The same command renamed twice (names differing in case).
    #[error("{0:?} is renamed twice")]
    RenamedTwice(String),
    /// A whole command both denied and renamed.
    #[error("{0:?} is both denied and renamed (to disable it, rename it to \"\")")]
    DeniedAndRenamed(String),
    /// A new name that is not usable.
    #[error("{0:?} is not a usable command name (no spaces, control characters or '|')")]
    BadName(String),
    /// A new name that is taken.
    #[error(
        "new name {0:?} is already a command (rename or disable that command too) or another command's new name"
    )]
    NameTaken(String),
}

/// The commands `allow` may re-enable: refused by default only because they
/// act on every node, which the proxy then does (as `cluster.fanout_admin`).
const ALLOWABLE: &[&str] = &[
    "config|set",
    "config|resetstat",
    "save",
    "bgsave",
    "bgrewriteaof",
];

impl CommandGate {
    /// Resolves `deny`, `allow` and `rename` (old name → new name, `""`
    /// disables) against the command table. Names are ASCII
    /// case-insensitive; `CONTAINER|SUB` names a subcommand, and a container
    /// stands for all its subcommands in `deny`.
    ///
    /// # Errors
    /// The first entry that names no command or breaks a rule of
    /// [`GateError`].
    pub fn build(
        deny: &[String],
        allow: &[String],
        rename: &BTreeMap<String, String>,
    ) -> Result<Self, GateError> {
        if deny.is_empty() && allow.is_empty() && rename.is_empty() {
            return Ok(Self::default());
        }
        let mut verdicts = vec![Verdict::Pass; slotway_command::flat_len()];
        for name in deny {
            for i in entries(name)? {
                if let Some(v) = verdicts.get_mut(i) {
                    *v = Verdict::Denied;
                }
            }
        }
        for name in allow {
            let lower = name.to_ascii_lowercase();
            let i = slotway_command::flat_index_of(&lower)
                .ok_or_else(|| GateError::UnknownCommand(name.clone()))?;
            if !ALLOWABLE.contains(&lower.as_str()) {
                return Err(GateError::NotAllowable(name.clone()));
            }
            match verdicts.get_mut(i) {
                Some(v @ Verdict::Pass) => *v = Verdict::Allowed,
                _ => return Err(GateError::Contradiction(name.clone())),
            }
        }
        let mut renames: Vec<Rename> = Vec::new();
        for (old, new) in rename {
            if old.contains('|') {
                return Err(GateError::RenameSubcommand(old.clone()));
            }
            let original = slotway_command::lookup(old.as_bytes())
                .ok_or_else(|| GateError::UnknownCommand(old.clone()))?;
            let top = slotway_command::flat_index_of(original.name)
                .ok_or_else(|| GateError::UnknownCommand(old.clone()))?;
            match verdicts.get_mut(top) {
                // The old name is unknown from now on; reached through the
                // new name, the command's subcommands keep their verdicts.
                Some(v @ Verdict::Pass) => *v = Verdict::Unknown,
                Some(Verdict::Unknown) => return Err(GateError::RenamedTwice(old.clone())),
                _ => return Err(GateError::DeniedAndRenamed(old.clone())),
            }
            if new.is_empty() {
                continue;
            }
            if new
                .bytes()
                .any(|b| b <= b' ' || b == b'|' || b == 0x7f || !b.is_ascii())
            {
                return Err(GateError::BadName(new.clone()));
            }
            renames.push(Rename {
                name: new.to_ascii_lowercase().into_bytes().into_boxed_slice(),
                original,
            });
        }
        // A new name may take the name of a command only when that command
        // is itself renamed or disabled (its old name is then free).
        for (i, r) in renames.iter().enumerate() {
            let taken_by_command = slotway_command::lookup(&r.name)
                .is_some_and(|cmd| !rename.keys().any(|old| old.eq_ignore_ascii_case(cmd.name)));
            let taken_by_rename = renames.iter().skip(i + 1).any(|o| o.name == r.name);
            if taken_by_command || taken_by_rename {
                return Err(GateError::NameTaken(
                    String::from_utf8_lossy(&r.name).into_owned(),
                ));
            }
        }
        Ok(Self {
            verdicts: verdicts.into_boxed_slice(),
            renames: renames.into_boxed_slice(),
        })
    }

    /// Whether nothing is configured (every verdict is [`Verdict::Pass`]).
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.verdicts.is_empty()
    }

    /// The verdict for the entry at flat index `i`.
    #[must_use]
    pub fn verdict(&self, i: usize) -> Verdict {
        self.verdicts.get(i).copied().unwrap_or_default()
    }

    /// The request under its command's original name, if its command is a
    /// new name (the nodes only know the original). Only called for
    /// commands the table does not know: one allocation for a renamed
    /// command, nothing for others.
    #[must_use]
    pub fn renamed(&self, req: &Request) -> Option<Request> {
        let name = req.arg(0)?;
        let r = self
            .renames
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(name))?;
        let args = std::iter::once(r.original.name.as_bytes()).chain(req.args().skip(1));
        Some(Request::from_args(args))
    }

    /// Every command with a verdict other than [`Verdict::Pass`] (for the
    /// configuration view; new names are not shown).
    #[must_use]
    pub fn describe(&self) -> Vec<(String, Verdict)> {
        slotway_command::flat_entries()
            .filter_map(|(i, spec)| match self.verdict(i) {
                Verdict::Pass => None,
                v => Some((spec.name.to_owned(), v)),
            })
            .collect()
    }

    /// New names with the command each stands for.
    pub fn new_names(&self) -> impl Iterator<Item = (&[u8], &'static str)> {
        self.renames.iter().map(|r| (&*r.name, r.original.name))
    }
}

impl std::fmt::Debug for CommandGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandGate")
            .field("verdicts", &self.describe())
            .field("new_names", &self.renames.len())
            .finish()
    }
}

/// The request resolved, with its flat indexes only when a gate needs them
/// (they cost subcommands a second lookup).
pub(super) fn resolve(args: &super::ReqArgs<'_>, gated: bool) -> slotway_command::FlatResolved {
    if gated {
        return slotway_command::resolve_flat(args);
    }
    slotway_command::FlatResolved {
        resolved: slotway_command::resolve(args),
        top: None,
        index: None,
    }
}

/// The flat indexes `name` covers in `deny`: a command, a subcommand, or a
/// container with all its subcommands.
fn entries(name: &str) -> Result<Vec<usize>, GateError> {
    let lower = name.to_ascii_lowercase();
    let first = slotway_command::flat_index_of(&lower)
        .ok_or_else(|| GateError::UnknownCommand(name.to_owned()))?;
    let subs = if lower.contains('|') {
        0
    } else {
        slotway_command::lookup(lower.as_bytes()).map_or(0, |c| c.subcommands.len())
    };
    Ok((first..=first + subs).collect())
}

#[cfg(test)]
mod tests;
