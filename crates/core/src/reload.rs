//! A configuration reload applied to a running engine: the values a proxy
//! can change while it serves (those `PROXY CONFIG SET` changes, the slow
//! log's threshold and length, the log level, the users table) take the
//! new file's values; everything else waits for a restart (the binary
//! lists it).
//!
//! Invariants: the caller validated the whole new configuration first
//! ([`crate::Config::validate`]), so a refused file changes nothing; each
//! value is applied only when it differs from the running one (so an
//! earlier `PROXY CONFIG SET` of a value the file does not change is
//! undone only if the file's value differs from it); nothing here touches
//! a session — the hot path reads the same atomics as before, and the
//! users table is swapped under its own lock, which only AUTH, HELLO and
//! RESET take (see [`crate::session::users`]).

use serde_json::{Map, Value, json};

use crate::config::Settings;
use crate::engine::Engine;

/// Applies the run-time part of `new` to `engine`, and of the log level
/// `log_level` (the file's `log.level`; `None`: left alone); returns what
/// changed, by setting name, with the new value (for `users`, how many
/// clients were disconnected because their user was removed or changed).
///
/// A log level the logging hook refuses is reported as `log_level_error`
/// rather than failing the reload: the binary checks the level's syntax
/// before calling this, so a refusal means the process's logging cannot
/// change at run time.
#[must_use]
pub fn apply(engine: &Engine, new: &Settings, log_level: Option<&str>) -> Map<String, Value> {
    let mut applied = Map::new();
    let rt = engine.runtime();
    let maxclients = new.client_limits.maxclients;
    if rt.maxclients() != maxclients {
        set(rt, "maxclients", &maxclients.to_string());
        applied.insert("maxclients".into(), json!(maxclients));
    }
    let inflight = new.max_inflight_per_client;
    if rt.max_inflight() != inflight {
        set(rt, "max-inflight-per-client", &inflight.to_string());
        applied.insert("max_inflight_per_client".into(), json!(inflight));
    }
    let split = new.policy.split_multi_key;
    if rt.cross_slot() != split {
        set(rt, "enable-cross-slot", if split { "1" } else { "0" });
        applied.insert("cross_slot_split".into(), json!(split));
    }
    let slowlog = engine.slowlog();
    let before = slowlog.settings();
    if before != new.slowlog {
        slowlog.set_settings(new.slowlog);
        if before.log_slower_than != new.slowlog.log_slower_than {
            applied.insert(
                "slowlog_log_slower_than".into(),
                json!(new.slowlog.log_slower_than),
            );
        }
        if before.max_len != new.slowlog.max_len {
            applied.insert("slowlog_max_len".into(), json!(new.slowlog.max_len));
        }
    }
    if let Some(level) = log_level.filter(|l| *l != rt.log_level()) {
        match rt.set_log_filter(level) {
            Ok(()) => {
                applied.insert("log_level".into(), json!(level));
            }
            Err(e) => {
                applied.insert("log_level_error".into(), json!(e.0));
            }
        }
    }
    let live = &engine.shared.users;
    if *live.current() != *new.users {
        let users = crate::acl::Users::clone(&new.users);
        let disconnected = live.replace(users, engine.clients());
        applied.insert(
            "users".into(),
            json!({ "disconnected_clients": disconnected }),
        );
    }
    applied
}

/// Sets a runtime value the caller took from validated settings.
fn set(rt: &crate::runtime::Runtime, name: &str, value: &str) {
    // Validated settings are within PROXY CONFIG SET's ranges (counts at
    // least 1); a refusal would mean the two disagree: keep running and say.
    if let Err(e) = rt.set(name, value) {
        tracing::warn!(option = name, value, error = %e.0, "reload: value not applied");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::Config;

    fn settings(edit: impl FnOnce(&mut Config)) -> Settings {
        let mut c = Config::default();
        c.cluster.seeds = vec!["127.0.0.1:7001".into()];
        edit(&mut c);
        c.validate().unwrap()
    }

    #[test]
    fn applies_only_what_changed() {
        let engine = Engine::new(settings(|_| {}));
        assert!(apply(&engine, &settings(|_| {}), None).is_empty());
        let new = settings(|c| {
            c.proxy.maxclients = 7;
            c.proxy.slowlog_log_slower_than = 5;
            c.proxy.requirepass = "pw".into();
        });
        let applied = apply(&engine, &new, Some("debug"));
        assert_eq!(applied["maxclients"], 7);
        assert_eq!(applied["slowlog_log_slower_than"], 5);
        assert_eq!(applied["users"]["disconnected_clients"], 0);
        assert!(applied.contains_key("log_level_error"), "no hook installed");
        assert!(!applied.contains_key("slowlog_max_len"));
        assert_eq!(engine.runtime().maxclients(), 7);
        assert_eq!(engine.slowlog().settings().log_slower_than, 5);
        assert!(engine.shared.users.current().default_user().has_password());
    }
}
