//! `[[users]]`: the proxy's own ACL users, as data, and their one-time
//! validation into [`crate::acl::Users`].
//!
//! Invariants: passwords are hashed at validation and never kept in plain
//! text past it; `proxy.requirepass` is the `default` user's password unless
//! `default` is defined here (giving both is an error, not a guess).

use serde::Deserialize;

use crate::acl::{User, Users};
use crate::error::ConfigError;

/// One `[[users]]` entry.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// The user name clients give to AUTH / HELLO AUTH.
    pub name: String,
    /// Off: nobody can authenticate as this user.
    #[serde(default = "yes")]
    pub on: bool,
    /// Plain passwords, or `#` and a SHA-256 digest in hex.
    #[serde(default)]
    pub passwords: Vec<String>,
    /// Any password opens the user (Redis `nopass`).
    #[serde(default)]
    pub nopass: bool,
    /// Command rules in Redis ACL syntax, applied left to right:
    /// `"+@read -@dangerous +get"`; default: no command.
    #[serde(default)]
    pub commands: Rules,
    /// Key rules: `~pattern`, `%R~pattern`, `%W~pattern`, `%RW~pattern`,
    /// `allkeys`, `resetkeys`; default: no key.
    #[serde(default)]
    pub keys: Rules,
    /// Channel rules: `&pattern`, `allchannels`, `resetchannels`; default: none.
    #[serde(default)]
    pub channels: Rules,
    /// May change the proxy itself (PROXY CONFIG SET, SHUTDOWN).
    #[serde(default)]
    pub admin: bool,
}

fn yes() -> bool {
    true
}

impl std::fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig")
            .field("name", &self.name)
            .field("on", &self.on)
            .field("passwords", &"<redacted>")
            .field("nopass", &self.nopass)
            .field("commands", &self.commands)
            .field("keys", &self.keys)
            .field("channels", &self.channels)
            .field("admin", &self.admin)
            .finish()
    }
}

/// Rules as one whitespace-separated string or a list of rules.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Rules {
    /// `"+@read -@dangerous"`.
    Line(String),
    /// `["~app:*", "~cache:*"]` (a pattern may then hold spaces).
    List(Vec<String>),
}

impl Default for Rules {
    fn default() -> Self {
        Rules::List(Vec::new())
    }
}

impl Rules {
    fn each(&self) -> Vec<&str> {
        match self {
            Rules::Line(s) => s.split_whitespace().collect(),
            Rules::List(l) => l.iter().map(String::as_str).collect(),
        }
    }
}

/// Builds the users from `[[users]]` and `proxy.requirepass`.
///
/// # Errors
/// A rule does not parse, a name is empty or repeated, or the `default`
/// user's password is given twice.
pub fn validate(users: &[UserConfig], requirepass: &str) -> Result<Users, ConfigError> {
    let mut built = Vec::with_capacity(users.len() + 1);
    let mut names = std::collections::BTreeSet::new();
    for u in users {
        let why = |e: &dyn std::fmt::Display| format!("user {:?}: {e}", u.name);
        if u.name.is_empty() || u.name.bytes().any(|b| !(b'!'..=b'~').contains(&b)) {
            return Err(ConfigError::invalid(
                "users.name",
                "a user name is printable ASCII without spaces",
            ));
        }
        if !names.insert(u.name.as_str()) {
            return Err(ConfigError::invalid(
                "users.name",
                format!("user {:?} is defined twice", u.name),
            ));
        }
        if u.name == "default" && !requirepass.is_empty() {
            return Err(ConfigError::invalid(
                "proxy.requirepass",
                "the default user is defined in [[users]]: give its passwords there, not in proxy.requirepass",
            ));
        }
        if u.nopass && !u.passwords.is_empty() {
            return Err(ConfigError::invalid(
                "users.nopass",
                why(&"nopass and passwords exclude each other"),
            ));
        }
        let mut user = User::new(&u.name, u.on);
        user.set_admin(u.admin);
        if u.nopass {
            user.set_nopass();
        }
        for p in &u.passwords {
            user.add_password(p)
                .map_err(|e| ConfigError::invalid("users.passwords", why(&e)))?;
        }
        for r in u.commands.each() {
            user.apply_command_rules(r)
                .map_err(|e| ConfigError::invalid("users.commands", why(&e)))?;
        }
        for r in u.keys.each() {
            user.apply_key_rule(r)
                .map_err(|e| ConfigError::invalid("users.keys", why(&e)))?;
        }
        for r in u.channels.each() {
            user.apply_channel_rule(r)
                .map_err(|e| ConfigError::invalid("users.channels", why(&e)))?;
        }
        built.push(user);
    }
    if !names.contains("default") && !requirepass.is_empty() {
        // `requirepass` is the open default user's password, as in Redis.
        let mut d = User::default();
        d.add_plain_password(requirepass);
        built.push(d);
    }
    Ok(Users::new(built))
}

/// `proxy.auth_passthrough`, refused when the proxy has users of its own
/// (`requirepass`, `[[users]]`): a client would then hold two identities,
/// the proxy's and the cluster's, which could disagree.
pub fn passthrough(proxy: &super::ProxyConfig, users: &[UserConfig]) -> Result<bool, ConfigError> {
    if proxy.auth_passthrough && (!proxy.requirepass.is_empty() || !users.is_empty()) {
        return Err(ConfigError::invalid(
            "proxy.auth_passthrough",
            "cannot be on with proxy.requirepass or [[users]]: the cluster checks credentials",
        ));
    }
    Ok(proxy.auth_passthrough)
}
