//! The command half of an ACL user: which commands and subcommands it may
//! run, as a bitset over the command table, built from Redis ACL rules
//! (`+@read -@dangerous +get -flushall allcommands nocommands +config|get`)
//! applied left to right as `ACL SETUSER` does. Pure.
//!
//! Invariant: bit `i` is the command at flat index `i` of the table, where
//! each top-level command is followed by its subcommands (see
//! [`slotway_command::flat_index`]); a container's own bit is irrelevant once it has
//! subcommands, since a request resolves to the subcommand's spec.

use slotway_command::CommandSpec;

/// Which commands a user may run.
#[derive(Clone, PartialEq, Eq)]
pub struct CommandSet {
    bits: Vec<u64>,
    /// `allcommands` / `+@all` and nothing removed since: every command,
    /// checked without a lookup.
    all: bool,
}

/// A command rule that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// `+@x` / `-@x` with an unknown category.
    #[error("unknown ACL category in {0:?}")]
    Category(String),
    /// `+x` / `-x` with an unknown command or subcommand.
    #[error("unknown command in {0:?}")]
    Command(String),
    /// Not a command rule at all.
    #[error(
        "{0:?} is not a command rule (+cmd, -cmd, +@category, -@category, allcommands, nocommands)"
    )]
    Syntax(String),
}

impl CommandSet {
    /// No command at all (a new user's rights, as in Redis).
    #[must_use]
    pub fn none() -> Self {
        Self {
            bits: vec![0; slotway_command::flat_len().div_ceil(64)],
            all: false,
        }
    }

    /// Every command.
    #[must_use]
    pub fn all() -> Self {
        let mut set = Self::none();
        set.apply("allcommands").ok();
        set
    }

    /// Whether every command is allowed (no lookup needed).
    #[must_use]
    pub fn allows_all(&self) -> bool {
        self.all
    }

    /// Whether the resolved command `spec` (the subcommand's for containers)
    /// is allowed.
    #[must_use]
    pub fn allows(&self, spec: &CommandSpec) -> bool {
        self.all || slotway_command::flat_index(spec).is_some_and(|i| self.bit(i))
    }

    fn bit(&self, i: usize) -> bool {
        self.bits
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    fn set(&mut self, i: usize, on: bool) {
        if let Some(w) = self.bits.get_mut(i / 64) {
            if on {
                *w |= 1u64 << (i % 64);
            } else {
                *w &= !(1u64 << (i % 64));
            }
        }
    }

    /// Applies whitespace-separated rules left to right.
    ///
    /// # Errors
    /// The first rule that does not parse.
    pub fn apply_all(&mut self, rules: &str) -> Result<(), RuleError> {
        rules.split_whitespace().try_for_each(|r| self.apply(r))
    }

    /// Applies one rule.
    ///
    /// # Errors
    /// An unknown category or command, or not a command rule.
    pub fn apply(&mut self, rule: &str) -> Result<(), RuleError> {
        let lower = rule.to_ascii_lowercase();
        match lower.as_str() {
            "allcommands" | "+@all" => {
                for (i, _) in slotway_command::flat_entries() {
                    self.set(i, true);
                }
                self.all = true;
                return Ok(());
            }
            "nocommands" | "-@all" => {
                self.bits.iter_mut().for_each(|w| *w = 0);
                self.all = false;
                return Ok(());
            }
            _ => {}
        }
        let (on, what) = match lower.split_at_checked(1) {
            Some(("+", rest)) => (true, rest),
            Some(("-", rest)) => (false, rest),
            _ => return Err(RuleError::Syntax(rule.to_owned())),
        };
        if !on {
            self.all = false;
        }
        if let Some(cat) = what.strip_prefix('@') {
            let bit = slotway_command::acl::from_name(cat)
                .ok_or_else(|| RuleError::Category(rule.to_owned()))?;
            for (i, spec) in slotway_command::flat_entries() {
                if spec.acl_categories & bit != 0 {
                    self.set(i, on);
                }
            }
            return Ok(());
        }
        let spec = match what.split_once('|') {
            None => slotway_command::lookup(what.as_bytes()),
            Some((top, sub)) => {
                slotway_command::lookup(top.as_bytes()).and_then(|c| c.subcommand(sub.as_bytes()))
            }
        }
        .ok_or_else(|| RuleError::Command(rule.to_owned()))?;
        let start =
            slotway_command::flat_index(spec).ok_or_else(|| RuleError::Command(rule.to_owned()))?;
        // A whole command takes its subcommands along.
        for i in start..=start + spec.subcommands.len() {
            self.set(i, on);
        }
        Ok(())
    }
}

impl std::fmt::Debug for CommandSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let allowed = self.bits.iter().map(|w| w.count_ones()).sum::<u32>();
        f.debug_struct("CommandSet")
            .field("all", &self.all)
            .field("allowed", &allowed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn spec(name: &str) -> &'static CommandSpec {
        match name.split_once(' ') {
            None => slotway_command::lookup(name.as_bytes()).unwrap(),
            Some((c, s)) => slotway_command::lookup(c.as_bytes())
                .unwrap()
                .subcommand(s.as_bytes())
                .unwrap(),
        }
    }

    fn set(rules: &str) -> CommandSet {
        let mut s = CommandSet::none();
        s.apply_all(rules).unwrap();
        s
    }

    #[test]
    fn every_command_has_its_own_index() {
        let mut seen = std::collections::HashSet::new();
        for (i, spec) in slotway_command::flat_entries() {
            assert_eq!(slotway_command::flat_index(spec), Some(i), "{}", spec.name);
            assert!(seen.insert(i));
        }
    }

    #[test]
    fn categories_and_commands_left_to_right() {
        let s = set("+@read -@dangerous");
        assert!(s.allows(spec("get")));
        assert!(s.allows(spec("mget")));
        assert!(!s.allows(spec("set")));
        // KEYS is @read and @dangerous: removed, as in Redis.
        assert!(!s.allows(spec("keys")));
        assert!(!s.allows(spec("config get")));
        let s = set("+@read -@dangerous +keys -get");
        assert!(s.allows(spec("keys")));
        assert!(!s.allows(spec("get")));
        let s = set("allcommands -flushall");
        assert!(!s.allows_all());
        assert!(s.allows(spec("set")));
        assert!(!s.allows(spec("flushall")));
        let s = set("+@all");
        assert!(s.allows_all());
        let s = set("+@all nocommands +ping");
        assert!(s.allows(spec("ping")));
        assert!(!s.allows(spec("get")));
    }

    #[test]
    fn subcommands() {
        let s = set("+config|get");
        assert!(s.allows(spec("config get")));
        assert!(!s.allows(spec("config set")));
        let s = set("+config -config|set");
        assert!(s.allows(spec("config get")));
        assert!(!s.allows(spec("config set")));
        let s = set("+CONFIG");
        assert!(s.allows(spec("config resetstat")));
    }

    #[test]
    fn bad_rules() {
        let mut s = CommandSet::none();
        assert_eq!(
            s.apply("+@nosuch"),
            Err(RuleError::Category("+@nosuch".into()))
        );
        assert_eq!(
            s.apply("+nosuch"),
            Err(RuleError::Command("+nosuch".into()))
        );
        assert_eq!(
            s.apply("+config|nosuch"),
            Err(RuleError::Command("+config|nosuch".into()))
        );
        assert_eq!(s.apply("get"), Err(RuleError::Syntax("get".into())));
        assert_eq!(s.apply("~key"), Err(RuleError::Syntax("~key".into())));
    }
}
