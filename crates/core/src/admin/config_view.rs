//! `GET /api/v1/config`: the settings the proxy runs with, laid out like the
//! configuration file (sections and `_ms` keys), secrets redacted.
//!
//! The engine's view ([`live`]) shows the values it runs with now: those a
//! configuration reload or `PROXY CONFIG SET` changed replace the ones it
//! started with.
//!
//! Invariant: every field of [`Settings`] appears (a test compares against
//! its `Debug` output, so a new setting cannot be forgotten here), and a
//! secret is only ever shown as `"<redacted>"` — or `null` when unset.

use serde_json::{Value, json};

use crate::config::{ReadFrom, Settings};

/// Shown instead of a secret's value.
pub const REDACTED: &str = "<redacted>";

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The commands with verdict `v` in `[commands]`.
fn gated(s: &Settings, v: crate::route::Verdict) -> Vec<String> {
    s.commands
        .describe()
        .into_iter()
        .filter_map(|(name, got)| (got == v).then_some(name))
        .collect()
}

/// `engine`'s settings as JSON, with the values changed while it runs.
#[must_use]
pub fn live(engine: &crate::engine::Engine) -> Value {
    let mut v = config(engine.settings());
    let rt = engine.runtime();
    let slowlog = engine.slowlog().settings();
    if let Some(proxy) = v.get_mut("proxy").and_then(Value::as_object_mut) {
        proxy.insert("maxclients".into(), json!(rt.maxclients()));
        proxy.insert("max_inflight_per_client".into(), json!(rt.max_inflight()));
        proxy.insert(
            "slowlog_log_slower_than".into(),
            json!(slowlog.log_slower_than),
        );
        proxy.insert("slowlog_max_len".into(), json!(slowlog.max_len));
    }
    if let Some(cluster) = v.get_mut("cluster").and_then(Value::as_object_mut) {
        cluster.insert("cross_slot_split".into(), json!(rt.cross_slot()));
    }
    if let Some(users) = v.get_mut("users") {
        *users = json!(!engine.shared.users.current().is_open());
    }
    v
}

/// The settings as JSON.
#[must_use]
pub fn config(s: &Settings) -> Value {
    json!({
        "proxy": {
            "listen": s.listen.to_string(),
            "threads": s.threads,
            "scheduler": s.scheduler.as_str(),
            "shutdown_grace_ms": ms(s.shutdown_grace),
            "max_inflight_per_client": s.max_inflight_per_client,
            "announce": s.announce.map(|a| a.to_string()),
            "requirepass": s.requirepass.as_ref().map(|_| REDACTED),
            "slowlog_log_slower_than": s.slowlog.log_slower_than,
            "slowlog_max_len": s.slowlog.max_len,
            "maxclients": s.client_limits.maxclients,
            "timeout": s.client_limits.idle_timeout.map_or(0, |d| d.as_secs()),
            "tcp_keepalive": s.client_limits.tcp_keepalive.map_or(0, |d| d.as_secs()),
            "disable_multiplexing": format!("{:?}", s.multiplexing).to_lowercase(),
            "auth_passthrough": s.auth_passthrough,
        },
        "cluster": {
            "seeds": s.seeds,
            "connections_per_node": s.connections_per_node,
            "refresh_interval_ms": ms(s.refresh_interval),
            "refresh_debounce_ms": ms(s.refresh_debounce),
            "connect_timeout_ms": ms(s.connect_timeout),
            "query_timeout_ms": ms(s.query_timeout),
            "reply_timeout_ms": ms(s.reply_timeout),
            "request_timeout_ms": s.request_timeout.map_or(0, ms),
            "max_redirects": s.max_redirects,
            "retry_delay_ms": ms(s.retry_delay),
            "park_timeout_ms": ms(s.park_timeout),
            "park_max_bytes": s.park_max_bytes,
            "retry_unknown_writes": s.retry_unknown_writes,
            "cross_slot_split": s.policy.split_multi_key,
            "fanout_admin": s.policy.fanout_admin,
            "read_from": match s.read_from {
                ReadFrom::Master => "master",
                ReadFrom::Replica => "replica",
                ReadFrom::ReplicaPreferred => "replica-preferred",
            },
            "write_ack": s.write_ack.map(|w| json!({
                "replicas": w.replicas,
                "timeout_ms": w.timeout_ms,
            })),
        },
        "limits": {
            "max_bulk_len": s.limits.max_bulk_len,
            "max_multibulk_len": s.limits.max_multibulk_len,
            "max_inline_len": s.limits.max_inline_len,
            "client_query_buffer_limit": s.client_limits.query_buffer,
            "client_output_buffer_hard_limit": s.client_limits.output_hard.unwrap_or(0),
            "client_output_buffer_soft_limit": s.client_limits.output_soft.map_or(0, |(b, _)| b),
            "client_output_buffer_soft_seconds": s.client_limits.output_soft.map_or(0, |(_, d)| d.as_secs()),
            "max_buffered_bytes": s.client_limits.max_buffered.unwrap_or(0),
        },
        "admin": {
            "listen": s.admin_listen.map(|a| a.to_string()),
            "token": s.admin_token.as_ref().map(|_| REDACTED),
        },
        // Users and their passwords are not shown; only whether any exist.
        "users": !s.users.is_open(),
        "tls": s.tls.as_ref().map(|t| json!({ "listen": t.listen.to_string() })),
        // New names of renamed commands act as secrets: not shown.
        "commands": {
            "deny": gated(s, crate::route::Verdict::Denied),
            "allow": gated(s, crate::route::Verdict::Allowed),
            "renamed_or_disabled": gated(s, crate::route::Verdict::Unknown),
            "new_names": (s.commands.new_names().next().is_some()).then_some(REDACTED),
        },
        "backend_auth": (!s.prelude.is_empty()).then_some(REDACTED),
        "pool": s.pool.as_ref().map(|p| json!({
            "name": p.name,
            "hash": p.hash.name(),
            "hash_tag": p.tag.map(|t| t.to_string()),
            "distribution": p.distribution.name(),
            "servers": p.servers.iter().map(|srv| json!({
                "name": srv.name,
                "addr": srv.addr,
                "weight": srv.server.weight,
                "sentinel_master": srv.sentinel_name,
            })).collect::<Vec<_>>(),
            "auto_eject_hosts": p.ejection.map(|e| json!({
                "server_failure_limit": e.failure_limit,
                "server_retry_timeout_ms": ms(e.retry_timeout),
            })),
            "sentinels": p.sentinels,
            "sentinel_auth": (!p.sentinel_prelude.is_empty()).then_some(REDACTED),
            "sentinel_tls": p.sentinel_tls,
            "probe_interval_ms": ms(p.probe_interval),
        })),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::Config;

    /// Where a `Settings` field shows up in the JSON, when not under its own
    /// name (or its name plus `_ms`).
    const RENAMED: &[(&str, &str)] = &[
        ("policy", "cross_slot_split"),
        ("admin_listen", "admin"),
        ("slowlog", "slowlog_log_slower_than"),
        ("max_inflight_per_client", "max_inflight_per_client"),
        ("prelude", "backend_auth"),
        ("client_limits", "maxclients"),
        ("admin_token", "token"),
        ("multiplexing", "disable_multiplexing"),
    ];

    fn keys(v: &Value, out: &mut Vec<String>) {
        if let Value::Object(map) = v {
            for (k, v) in map {
                out.push(k.clone());
                keys(v, out);
            }
        }
    }

    #[test]
    fn every_setting_is_shown_and_secrets_are_not() {
        let mut c = Config::default();
        c.cluster.seeds = vec!["127.0.0.1:7001".into()];
        c.proxy.requirepass = "hunter2-very-secret".into();
        c.cluster.password = "hunter3-backend".into();
        let s = c.validate().unwrap();
        let v = config(&s);
        let text = v.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("hunter3"), "{text}");
        assert_eq!(v["backend_auth"], REDACTED);
        assert_eq!(v["proxy"]["requirepass"], REDACTED);
        let mut all = Vec::new();
        keys(&v, &mut all);
        // Field names of Settings, from its Debug output (`name: value`).
        let debug = format!("{s:#?}");
        for line in debug.lines() {
            let Some((field, _)) = line.trim().split_once(": ") else {
                continue;
            };
            // Only top-level fields (4 spaces of indent in `{:#?}`).
            if !line.starts_with("    ") || line.starts_with("     ") {
                continue;
            }
            let shown = RENAMED
                .iter()
                .find(|(f, _)| *f == field)
                .map_or(field.to_owned(), |(_, k)| (*k).to_owned());
            let found = all
                .iter()
                .any(|k| *k == shown || *k == format!("{shown}_ms"));
            assert!(
                found,
                "setting {field} is missing from the admin config view"
            );
        }
    }
}
