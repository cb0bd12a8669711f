//! The TOML form of nutcracker pools: the same directives as the YAML file,
//! as `[pools.NAME]` tables, so Slotway's own TOML configuration can embed
//! them.
//!
//! Owns [`TomlPool`] (serde, `deny_unknown_fields`) and its conversion.
//! Invariants: a TOML pool is turned into the same `key: value` texts a
//! YAML pool gives (booleans `true`/`false`, numbers in decimal) and then
//! validated by the shared directive table, so both forms accept exactly
//! the same pools with the same messages; TOML's own types catch the rest
//! (a quoted boolean is a type error here). Unlike YAML, TOML cannot repeat
//! a key, so duplicates cannot occur.
//!
//! ```toml
//! [pools.alpha]
//! listen = "127.0.0.1:22121"
//! redis = true
//! hash = "fnv1a_64"
//! distribution = "ketama"
//! servers = ["127.0.0.1:6379:1 shard1", "127.0.0.1:6380:1 shard2"]
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::directive::{RawDirective, RawPool, build_pools};
use crate::error::{ConfError, DirectiveProblem};
use crate::pool::{Password, PoolConf};

/// One pool as a TOML table. Every field is the YAML directive of the same
/// name with the same meaning and default; see [`PoolConf`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TomlPool {
    /// `host:port` or `/path [octal perm]` (required).
    pub listen: Option<String>,
    /// Hash function name.
    pub hash: Option<String>,
    /// Two-character hash tag.
    pub hash_tag: Option<String>,
    /// `ketama`, `modula` or `random`.
    pub distribution: Option<String>,
    /// Milliseconds.
    pub timeout: Option<i64>,
    /// Listen backlog.
    pub backlog: Option<i64>,
    /// Parsed and ignored, as nutcracker does.
    pub client_connections: Option<i64>,
    /// Must be `true` (memcached pools are refused).
    pub redis: Option<bool>,
    /// Password sent to the servers and required from clients.
    pub redis_auth: Option<Password>,
    /// Database selected on each server connection.
    pub redis_db: Option<i64>,
    /// Connect to all servers at start.
    pub preconnect: Option<bool>,
    /// Eject failing servers from the ring.
    pub auto_eject_hosts: Option<bool>,
    /// Connections per server (> 0).
    pub server_connections: Option<i64>,
    /// Milliseconds an ejected server stays out.
    pub server_retry_timeout: Option<i64>,
    /// Consecutive failures before ejection.
    pub server_failure_limit: Option<i64>,
    /// TCP keepalive on server connections.
    pub tcpkeepalive: Option<bool>,
    /// `host:port:weight [name]` or `/path:weight [name]` entries.
    #[serde(default)]
    pub servers: Vec<String>,
    /// Slotway extension: `host:port` of Redis Sentinels.
    pub sentinels: Option<Vec<String>>,
    /// Slotway extension: the Sentinels' password.
    pub sentinel_auth: Option<Password>,
    /// Slotway extension: the Sentinels' ACL user.
    pub sentinel_user: Option<String>,
    /// Slotway extension: TLS to the Sentinels.
    pub sentinel_tls: Option<bool>,
}

/// A document whose only content is `[pools.NAME]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolsDocument {
    #[serde(default)]
    pools: BTreeMap<String, TomlPool>,
}

/// Parses a TOML document made of `[pools.NAME]` tables and validates the
/// pools exactly as [`parse_yaml`](crate::parse_yaml) does.
///
/// # Errors
/// [`ConfError::Toml`] for TOML syntax, unknown keys and wrong types; the
/// other variants as for YAML.
pub fn parse_toml_pools(text: &str) -> Result<Vec<PoolConf>, ConfError> {
    let doc: PoolsDocument =
        toml::from_str(text).map_err(|e| ConfError::Toml(e.message().to_string()))?;
    pools_from_toml(&doc.pools)
}

/// Validates pools already deserialized from TOML (e.g. the `pools` table
/// of the engine's own configuration).
///
/// # Errors
/// As [`parse_yaml`](crate::parse_yaml), for the same mistakes.
pub fn pools_from_toml(pools: &BTreeMap<String, TomlPool>) -> Result<Vec<PoolConf>, ConfError> {
    let mut raw = Vec::with_capacity(pools.len());
    for (name, pool) in pools {
        raw.push(raw_pool(name, pool)?);
    }
    build_pools(raw)
}

fn raw_pool(name: &str, p: &TomlPool) -> Result<RawPool, ConfError> {
    let mut directives = Vec::new();
    let mut one = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            directives.push(RawDirective {
                key: key.to_string(),
                values: vec![value],
            });
        }
    };
    let num = |n: Option<i64>| n.map(|n| n.to_string());
    let flag = |b: Option<bool>| b.map(|b| b.to_string());
    let secret = |s: &Option<Password>| s.as_ref().map(|s| s.expose().to_string());
    one("listen", p.listen.clone());
    one("hash", p.hash.clone());
    one("hash_tag", p.hash_tag.clone());
    one("distribution", p.distribution.clone());
    one("timeout", num(p.timeout));
    one("backlog", num(p.backlog));
    one("client_connections", num(p.client_connections));
    one("redis", flag(p.redis));
    one("redis_auth", secret(&p.redis_auth));
    one("redis_db", num(p.redis_db));
    one("preconnect", flag(p.preconnect));
    one("auto_eject_hosts", flag(p.auto_eject_hosts));
    one("server_connections", num(p.server_connections));
    one("server_retry_timeout", num(p.server_retry_timeout));
    one("server_failure_limit", num(p.server_failure_limit));
    one("tcpkeepalive", flag(p.tcpkeepalive));
    one("sentinel_auth", secret(&p.sentinel_auth));
    one("sentinel_user", p.sentinel_user.clone());
    one("sentinel_tls", flag(p.sentinel_tls));
    directives.push(RawDirective {
        key: "servers".to_string(),
        values: p.servers.clone(),
    });
    if let Some(sentinels) = &p.sentinels {
        // An empty list is a mistake, not "no Sentinels": say so.
        if sentinels.is_empty() {
            return Err(ConfError::Directive {
                pool: name.to_string(),
                key: "sentinels".to_string(),
                problem: DirectiveProblem::Empty,
            });
        }
        directives.push(RawDirective {
            key: "sentinels".to_string(),
            values: sentinels.clone(),
        });
    }
    Ok(RawPool {
        name: name.to_string(),
        directives,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Listen, PoolProblem};
    use std::time::Duration;

    #[test]
    fn minimal_pool_and_defaults() {
        let pools = parse_toml_pools(
            r#"
            [pools.alpha]
            listen = "127.0.0.1:22121"
            redis = true
            servers = ["127.0.0.1:6379:1 shard1"]
            "#,
        )
        .unwrap();
        let [pool] = &pools[..] else {
            panic!("{pools:?}")
        };
        assert_eq!(pool.name, "alpha");
        assert_eq!(
            pool.listen,
            Listen::Tcp {
                host: "127.0.0.1".into(),
                port: 22121
            }
        );
        assert_eq!(pool.backlog, 512);
        assert_eq!(pool.server_retry_timeout, Duration::from_secs(30));
        assert_eq!(pool.servers[0].entry.identity, "shard1");
    }

    #[test]
    fn same_rules_as_yaml() {
        let bad = |extra: &str| {
            parse_toml_pools(&format!(
                "[pools.alpha]\nlisten = \"127.0.0.1:22121\"\nredis = true\nservers = [\"127.0.0.1:6379:1\"]\n{extra}"
            ))
            .unwrap_err()
        };
        assert!(matches!(bad("reuseport = true"), ConfError::Toml(m) if m.contains("reuseport")));
        assert!(matches!(bad("redis_db = \"1\""), ConfError::Toml(_)));
        assert!(matches!(
            bad("timeout = -1"),
            ConfError::Directive { key, problem: DirectiveProblem::NotNumber(v), .. }
                if key == "timeout" && v == "-1"
        ));
        assert!(matches!(
            bad("server_connections = 0"),
            ConfError::Directive {
                problem: DirectiveProblem::Zero,
                ..
            }
        ));
        assert!(matches!(
            bad("hash_tag = \"{\""),
            ConfError::Directive {
                problem: DirectiveProblem::HashTag(_),
                ..
            }
        ));
        assert!(matches!(
            bad("sentinels = []"),
            ConfError::Directive {
                problem: DirectiveProblem::Empty,
                ..
            }
        ));
        assert!(matches!(
            bad("sentinel_tls = true"),
            ConfError::Pool {
                problem: PoolProblem::WithoutSentinels("sentinel_tls"),
                ..
            }
        ));
        assert!(matches!(
            bad("sentinel_auth = \"pw\""),
            ConfError::Pool {
                problem: PoolProblem::WithoutSentinels("sentinel_auth"),
                ..
            }
        ));
        assert!(matches!(
            bad(
                "[pools.beta]\nlisten = \"127.0.0.1:22121\"\nredis = true\nservers = [\"127.0.0.1:6379:1\"]"
            ),
            ConfError::SameListen { .. }
        ));
    }

    #[test]
    fn memcached_refused_and_empty_servers() {
        let err = parse_toml_pools(
            "[pools.m]\nlisten = \"127.0.0.1:1\"\nservers = [\"127.0.0.1:11211:1\"]",
        )
        .unwrap_err();
        assert!(matches!(
            err,
            ConfError::Pool {
                problem: PoolProblem::NotRedis { explicit: false },
                ..
            }
        ));
        let err =
            parse_toml_pools("[pools.m]\nlisten = \"127.0.0.1:1\"\nredis = true").unwrap_err();
        assert!(matches!(
            err,
            ConfError::Pool {
                problem: PoolProblem::NoServers,
                ..
            }
        ));
        assert_eq!(parse_toml_pools("").unwrap_err(), ConfError::NoPools);
    }

    #[test]
    fn embeddable_and_redacted() {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct EngineConfig {
            #[allow(dead_code)]
            proxy: toml::Table,
            pools: BTreeMap<String, TomlPool>,
        }
        let cfg: EngineConfig = toml::from_str(
            r#"
            [proxy]
            threads = 2
            [pools.b]
            listen = "/tmp/b.sock 0600"
            redis = true
            redis_auth = "hunter2"
            servers = ["10.0.0.1:6379:1 m1"]
            sentinels = ["10.0.0.9:26379"]
            sentinel_auth = "s3cret"
            sentinel_user = "watcher"
            sentinel_tls = true
            "#,
        )
        .unwrap();
        let pools = pools_from_toml(&cfg.pools).unwrap();
        let shown = format!("{pools:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cret"),
            "{shown}"
        );
        let sentinel = pools[0].sentinel.as_ref().unwrap();
        assert_eq!(sentinel.auth.as_ref().unwrap().expose(), "s3cret");
        assert!(sentinel.tls);
        assert_eq!(pools[0].servers[0].sentinel_master.as_deref(), Some("m1"));
    }
}
