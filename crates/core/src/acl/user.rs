//! One ACL user: its password hashes, command set, key and channel
//! patterns and flags, and the permission check Redis 7.0 runs before a
//! command executes (`ACLCheckAllUserCommandPerm`). Pure.
//!
//! Invariants: passwords are only ever held as SHA-256 digests (as Redis
//! stores them) and compared in constant time; `Debug` never shows them.
//! The check order is Redis's: the command, then every key, then every
//! channel; commands flagged `no_auth` (AUTH, HELLO, QUIT, RESET) are always
//! allowed.

use sha2::{Digest, Sha256};
use slotway_command::{Args, CommandSpec, flags};

use super::commands::{CommandSet, RuleError};
use super::glob;

/// Patterns of keys or channels a user may touch.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Patterns {
    /// `allkeys` / `allchannels` (or the pattern `*`).
    All,
    /// Only names matching one of these globs (none: nothing).
    Some(Vec<Vec<u8>>),
}

impl Patterns {
    fn add(&mut self, pattern: &str) {
        if pattern == "*" {
            *self = Patterns::All;
        } else if let Patterns::Some(list) = self {
            list.push(pattern.as_bytes().to_vec());
        }
    }
}

/// What a key pattern permits (Redis 7.0's `ACL_READ_PERMISSION` /
/// `ACL_WRITE_PERMISSION`): `~p` both, `%R~p` read, `%W~p` write.
const READ: u8 = 1;
/// See [`READ`].
const WRITE: u8 = 2;

/// Patterns of keys a user may touch, each with what it permits.
#[derive(Clone, Debug, PartialEq, Eq)]
enum KeyPatterns {
    /// `allkeys` (or `~*` / `%RW~*`): every key, any access.
    All,
    /// Only keys matching one of these globs with the access needed.
    Some(Vec<(u8, Vec<u8>)>),
}

impl KeyPatterns {
    fn add(&mut self, perms: u8, pattern: &str) {
        if pattern == "*" && perms == READ | WRITE {
            *self = KeyPatterns::All;
        } else if let KeyPatterns::Some(list) = self {
            list.push((perms, pattern.as_bytes().to_vec()));
        }
    }

    /// Redis 7.0's `ACLSelectorCheckKey`: the access a key spec's flags
    /// ask for (ACCESS reads; INSERT, DELETE, UPDATE write) must all be
    /// granted by one pattern that matches the key.
    fn allows(list: &[(u8, Vec<u8>)], key: &[u8], spec_flags: u32) -> bool {
        use slotway_command::keyspec;
        let mut need = 0u8;
        if spec_flags & keyspec::ACCESS != 0 {
            need |= READ;
        }
        if spec_flags & (keyspec::INSERT | keyspec::DELETE | keyspec::UPDATE) != 0 {
            need |= WRITE;
        }
        list.iter()
            .any(|(perms, p)| perms & need == need && glob::matches(p, key))
    }
}

/// `%R~`, `%W~`, `%RW~` (any order or case of R and W): the permissions
/// and the pattern; `None` when `rule` is not such a rule.
fn selector_rule(rule: &str) -> Option<(u8, &str)> {
    let rest = rule.strip_prefix('%')?;
    let (letters, pattern) = rest.split_once('~')?;
    let mut perms = 0u8;
    for c in letters.chars() {
        let bit = match c.to_ascii_uppercase() {
            'R' => READ,
            'W' => WRITE,
            _ => return None,
        };
        if perms & bit != 0 {
            return None;
        }
        perms |= bit;
    }
    (perms != 0).then_some((perms, pattern))
}

/// Why a command was refused; [`Denied::message`] gives Redis 7.0's reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// The command itself is not allowed.
    Command,
    /// One of its keys matches none of the user's key patterns.
    Key,
    /// One of its channels matches none of the user's channel patterns.
    Channel,
}

impl Denied {
    /// Redis 7.0's exact error (without the leading `-`).
    #[must_use]
    pub fn message(self, spec: &CommandSpec) -> Vec<u8> {
        match self {
            Denied::Command => format!(
                "NOPERM this user has no permissions to run the '{}' command",
                spec.full_name()
            )
            .into_bytes(),
            Denied::Key => {
                b"NOPERM this user has no permissions to access one of the keys used as arguments"
                    .to_vec()
            }
            Denied::Channel => {
                b"NOPERM this user has no permissions to access one of the channels used as arguments"
                    .to_vec()
            }
        }
    }
}

/// A rule of a user that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// A command rule.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// A key rule.
    #[error(
        "{0:?} is not a key rule (~pattern, %R~pattern, %W~pattern, %RW~pattern, allkeys, resetkeys)"
    )]
    Key(String),
    /// A channel rule.
    #[error("{0:?} is not a channel rule (&pattern, allchannels, resetchannels)")]
    Channel(String),
    /// A `#` password that is not 64 hex digits.
    #[error("a password starting with '#' must be a SHA-256 digest: 64 hex digits")]
    Hash,
}

/// One user: who it is and what it may do.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    name: String,
    on: bool,
    nopass: bool,
    admin: bool,
    passwords: Vec<[u8; 32]>,
    commands: CommandSet,
    keys: KeyPatterns,
    channels: Patterns,
}

impl Default for User {
    /// The `default` user of a Redis without ACL configuration: on, no
    /// password, every command, key and channel (not a proxy admin).
    fn default() -> Self {
        Self {
            name: "default".to_owned(),
            on: true,
            nopass: true,
            admin: false,
            passwords: Vec::new(),
            commands: CommandSet::all(),
            keys: KeyPatterns::All,
            channels: Patterns::All,
        }
    }
}

impl User {
    /// A user with no rights and no password (Redis's new user, here `on`
    /// as given).
    #[must_use]
    pub fn new(name: &str, on: bool) -> Self {
        Self {
            name: name.to_owned(),
            on,
            nopass: false,
            admin: false,
            passwords: Vec::new(),
            commands: CommandSet::none(),
            keys: KeyPatterns::Some(Vec::new()),
            channels: Patterns::Some(Vec::new()),
        }
    }

    /// The user's name (ACL WHOAMI).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the user may change the proxy (PROXY CONFIG SET, SHUTDOWN).
    #[must_use]
    pub fn is_admin(&self) -> bool {
        self.admin
    }

    /// Marks the user as a proxy admin or not.
    pub fn set_admin(&mut self, admin: bool) {
        self.admin = admin;
    }

    /// Any password is accepted (Redis `nopass`).
    pub fn set_nopass(&mut self) {
        self.nopass = true;
        self.passwords.clear();
    }

    /// Whether a client is this user from the start, without AUTH (Redis:
    /// the `default` user when it is on and `nopass`).
    #[must_use]
    pub fn needs_no_auth(&self) -> bool {
        self.on && self.nopass
    }

    /// Whether the user has a password (it is not `nopass`).
    #[must_use]
    pub fn has_password(&self) -> bool {
        !self.nopass && !self.passwords.is_empty()
    }

    /// Adds a password: plain text, or `#` and its SHA-256 in hex.
    ///
    /// # Errors
    /// A `#` entry that is not 64 hex digits.
    pub fn add_password(&mut self, password: &str) -> Result<(), UserError> {
        let digest = match password.strip_prefix('#') {
            Some(hex) => parse_hex_digest(hex).ok_or(UserError::Hash)?,
            None => sha256(password.as_bytes()),
        };
        self.nopass = false;
        self.passwords.push(digest);
        Ok(())
    }

    /// Adds a password taken literally, even if it starts with `#`
    /// (`proxy.requirepass`, Redis's `>password`).
    pub fn add_plain_password(&mut self, password: &str) {
        self.nopass = false;
        self.passwords.push(sha256(password.as_bytes()));
    }

    /// Applies command rules (`+@read -@dangerous …`) left to right.
    ///
    /// # Errors
    /// The first rule that does not parse.
    pub fn apply_command_rules(&mut self, rules: &str) -> Result<(), UserError> {
        Ok(self.commands.apply_all(rules)?)
    }

    /// Applies one key rule: `~pattern` (read and write), `%R~pattern`
    /// (read only), `%W~pattern` (write only), `%RW~pattern`, `allkeys`,
    /// `resetkeys`.
    ///
    /// # Errors
    /// Anything else.
    pub fn apply_key_rule(&mut self, rule: &str) -> Result<(), UserError> {
        match rule {
            "allkeys" => self.keys = KeyPatterns::All,
            "resetkeys" => self.keys = KeyPatterns::Some(Vec::new()),
            _ => match rule.strip_prefix('~') {
                Some(p) => self.keys.add(READ | WRITE, p),
                None => match selector_rule(rule) {
                    Some((perms, p)) => self.keys.add(perms, p),
                    None => return Err(UserError::Key(rule.to_owned())),
                },
            },
        }
        Ok(())
    }

    /// Applies one channel rule: `&pattern`, `allchannels`, `resetchannels`.
    ///
    /// # Errors
    /// Anything else.
    pub fn apply_channel_rule(&mut self, rule: &str) -> Result<(), UserError> {
        match rule {
            "allchannels" => self.channels = Patterns::All,
            "resetchannels" => self.channels = Patterns::Some(Vec::new()),
            _ => match rule.strip_prefix('&') {
                Some(p) => self.channels.add(p),
                None => return Err(UserError::Channel(rule.to_owned())),
            },
        }
        Ok(())
    }

    /// Whether `password` opens this user (it must also be on).
    #[must_use]
    pub fn accepts(&self, password: &[u8]) -> bool {
        if !self.on {
            return false;
        }
        if self.nopass {
            return true;
        }
        let candidate = sha256(password);
        // Every stored digest is compared in full: no early exit.
        self.passwords.iter().fold(false, |found, stored| {
            let diff = stored
                .iter()
                .zip(candidate.iter())
                .fold(0u8, |d, (a, b)| d | (a ^ b));
            found | (diff == 0)
        })
    }

    /// Whether every command, key and channel is allowed (no check needed).
    #[must_use]
    pub fn unrestricted(&self) -> bool {
        self.commands.allows_all()
            && self.keys == KeyPatterns::All
            && self.channels == Patterns::All
    }

    /// Redis's permission check of one request, `spec` being its resolved
    /// command (the subcommand's for containers).
    ///
    /// # Errors
    /// What is not allowed, first failure in Redis's order.
    pub fn check<A: Args + ?Sized>(&self, spec: &CommandSpec, args: &A) -> Result<(), Denied> {
        if spec.has_flag(flags::NO_AUTH) {
            return Ok(());
        }
        if !self.commands.allows(spec) {
            return Err(Denied::Command);
        }
        if let KeyPatterns::Some(allowed) = &self.keys
            && spec.has_keys()
        {
            let mut ok = true;
            // A request whose keys cannot be found fails on its own later.
            let _ = slotway_command::for_each_key_with_flags(spec, args, |i, flags| {
                ok &= args
                    .get(i)
                    .is_some_and(|k| KeyPatterns::allows(allowed, k, flags));
            });
            if !ok {
                return Err(Denied::Key);
            }
        }
        if let Patterns::Some(allowed) = &self.channels {
            let (channels, pattern) = match spec.name {
                "publish" | "spublish" => (1..2.min(args.count()), false),
                "subscribe" | "ssubscribe" => (1..args.count(), false),
                "psubscribe" => (1..args.count(), true),
                _ => (0..0, false),
            };
            for i in channels {
                let channel = args.get(i).unwrap_or_default();
                // A pattern subscription needs that very pattern (Redis 7.0).
                let ok = allowed.iter().any(|p| {
                    if pattern {
                        p.as_slice() == channel
                    } else {
                        glob::matches(p, channel)
                    }
                });
                if !ok {
                    return Err(Denied::Channel);
                }
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("on", &self.on)
            .field("nopass", &self.nopass)
            .field("admin", &self.admin)
            .field("passwords", &"<redacted>")
            .field("commands", &self.commands)
            .field("keys", &self.keys)
            .field("channels", &self.channels)
            .finish()
    }
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn parse_hex_digest(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let s = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
#[path = "user_tests.rs"]
mod tests;
