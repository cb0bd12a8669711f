//! The users table sessions authenticate against, replaceable while the
//! proxy runs (a configuration reload), with Redis's `ACL LOAD` rule for
//! the clients already connected: a client whose user was deleted or
//! changed is disconnected; a client whose user is unchanged stays.
//!
//! Invariants: the table is read only when a session starts and by AUTH,
//! HELLO, RESET and PROXY's permission checks — never per request (a
//! session checks each request against the [`User`] it holds). Each of
//! those reads records the client's user in its registry entry while the
//! read lock is held, and [`LiveUsers::replace`] swaps the table and scans
//! the registry under the write lock: so no client can authenticate
//! against the old table and escape the scan.

use std::sync::Arc;

use parking_lot::RwLock;

use super::clients::{Client, Registry};
use crate::acl::{User, Users};

/// The current users table.
#[derive(Debug, Default)]
pub struct LiveUsers {
    table: RwLock<Arc<Users>>,
}

impl LiveUsers {
    /// Starts with `users`.
    #[must_use]
    pub fn new(users: Arc<Users>) -> Self {
        Self {
            table: RwLock::new(users),
        }
    }

    /// The table as it is now.
    #[must_use]
    pub fn current(&self) -> Arc<Users> {
        self.table.read().clone()
    }

    /// `f` of the current table, with the client `me` recorded as the user
    /// `f` returns (if any) before the table can change.
    pub fn bind<R>(&self, me: &Client, f: impl FnOnce(&Users) -> (R, Option<Arc<User>>)) -> R {
        let table = self.table.read();
        let (out, user) = f(&table);
        if let Some(user) = user {
            me.facts.lock().user = Some(user);
        }
        out
    }

    /// Installs `users` and disconnects every client of `clients` whose
    /// user is gone or defined differently now; returns how many.
    pub fn replace(&self, users: Users, clients: &Registry) -> usize {
        let mut table = self.table.write();
        *table = Arc::new(users);
        let mut killed = 0;
        for client in clients.all() {
            let stale = client.facts.lock().user.as_ref().is_some_and(|user| {
                table
                    .find(user.name())
                    .is_none_or(|now| now.as_ref() != user.as_ref())
            });
            if stale {
                client.kill();
                killed += 1;
            }
        }
        killed
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::Config;

    fn users(requirepass: &str) -> Users {
        let mut c = Config::default();
        c.cluster.seeds = vec!["127.0.0.1:7001".into()];
        c.proxy.requirepass = requirepass.into();
        Arc::unwrap_or_clone(c.validate().unwrap().users)
    }

    #[test]
    fn changed_users_are_disconnected_unchanged_stay() {
        let live = LiveUsers::new(Arc::new(users("")));
        let registry = Arc::new(Registry::default());
        let a = registry.join(1, None, None, Arc::default());
        let b = registry.join(2, None, None, Arc::default());
        // `a` is bound to the open default user; `b` never was.
        live.bind(&a.client, |u| ((), Some(u.default_user().clone())));
        assert_eq!(live.replace(users(""), &registry), 0, "same definition");
        assert_eq!(live.replace(users("pw"), &registry), 1, "default changed");
        assert!(live.current().default_user().has_password());
        drop(b);
    }
}
