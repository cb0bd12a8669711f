//! Users and their rights, as Redis ACLs define them, checked by the proxy
//! before anything reaches a node. Pure: no I/O, no tokio.
//!
//! - [`glob`]: Redis's `stringmatchlen` glob matcher (key/channel patterns).
//! - [`commands`]: the command bitset built from ACL command rules.
//! - [`user`]: one user and the permission check.
//!
//! Invariants: a [`Users`] table is built from the validated configuration
//! and never changes (a configuration reload installs a new table whole:
//! `session::users`); it always has a `default` user (Redis's: all rights, no
//! password, unless configured otherwise); lookups by name are exact and
//! case-sensitive, as in Redis.

pub mod commands;
pub mod glob;
pub mod user;

use std::sync::Arc;

pub use user::{Denied, User, UserError};

/// Every user clients may authenticate as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Users {
    default: Arc<User>,
    /// Sorted by name; includes `default`.
    all: Vec<Arc<User>>,
}

impl Default for Users {
    /// Only Redis's open `default` user.
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

impl Users {
    /// The users given, plus an open `default` user unless one is among
    /// them. A later user of the same name replaces an earlier one.
    #[must_use]
    pub fn new(users: Vec<User>) -> Self {
        let mut all: Vec<Arc<User>> = Vec::with_capacity(users.len() + 1);
        for u in users {
            all.retain(|x| x.name() != u.name());
            all.push(Arc::new(u));
        }
        let default = match all.iter().find(|u| u.name() == "default") {
            Some(d) => d.clone(),
            None => {
                let d = Arc::new(User::default());
                all.push(d.clone());
                d
            }
        };
        all.sort_by(|a, b| a.name().cmp(b.name()));
        Self { default, all }
    }

    /// The `default` user: every client's user until it authenticates.
    #[must_use]
    pub fn default_user(&self) -> &Arc<User> {
        &self.default
    }

    /// Whether new clients are authenticated from the start.
    #[must_use]
    pub fn starts_authenticated(&self) -> bool {
        self.default.needs_no_auth()
    }

    /// Whether any user at all is restricted or needs a password (else
    /// clients need no checks).
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.all.len() == 1 && self.default.needs_no_auth() && self.default.unrestricted()
    }

    /// The user named `name` (exact, case-sensitive).
    #[must_use]
    pub fn find(&self, name: &str) -> Option<&Arc<User>> {
        self.all.iter().find(|u| u.name() == name)
    }

    /// The user `name` if `password` opens it (it exists, is on, and the
    /// password is one of its own or it is `nopass`).
    #[must_use]
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> Option<Arc<User>> {
        self.all
            .iter()
            .find(|u| u.name().as_bytes() == name)
            .filter(|u| u.accepts(password))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn default_user_is_open_unless_redefined() {
        let users = Users::default();
        assert!(users.starts_authenticated());
        assert!(users.is_open());
        assert!(users.authenticate(b"default", b"anything").is_some());
        assert!(users.authenticate(b"bob", b"x").is_none());
        let mut d = User::new("default", true);
        d.add_password("pw").unwrap();
        d.apply_command_rules("+@all").unwrap();
        let mut bob = User::new("bob", true);
        bob.add_password("b").unwrap();
        let users = Users::new(vec![d, bob]);
        assert!(!users.starts_authenticated());
        assert!(!users.is_open());
        assert!(users.authenticate(b"default", b"x").is_none());
        assert!(users.authenticate(b"default", b"pw").is_some());
        assert_eq!(users.authenticate(b"bob", b"b").unwrap().name(), "bob");
        assert!(users.authenticate(b"Bob", b"b").is_none());
    }
}
