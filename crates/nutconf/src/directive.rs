//! nutcracker's pool directives: the one place their values are parsed and
//! pools are validated, shared by the YAML and the TOML forms (both first
//! reduce their input to [`RawPool`]s of `key: value` texts).
//!
//! Invariants, in nutcracker 0.5.0's order:
//! 1. every directive is applied in the order written: unknown keys,
//!    duplicates (a directive other than `servers`/`sentinels` given twice),
//!    empty values and malformed values are errors;
//! 2. each pool is then checked: `listen` present, `server_connections` not
//!    0, `redis_auth` only with `redis: true`, Redis only (Slotway refuses
//!    memcached), at least one server, no two servers with the same name
//!    (after sorting them into nutcracker's server order), then Slotway's
//!    Sentinel rules;
//! 3. then across pools: no two `listen` texts equal, no two names equal;
//! 4. pools come out sorted by name in nutcracker's order (shorter first).
//!
//! Numbers follow nutcracker's `nc_atoi`: decimal digits only, 0 to
//! 2147483647 (so `-1` and `+5` are refused, as nutcracker refuses them).

use std::time::Duration;

use slotway_hashkit::twemproxy::{Distribution, Hash, HashTag, ServerEntry, compare_names};

use crate::error::{ConfError, DirectiveProblem, PoolProblem};
use crate::pool::{
    DEFAULT_BACKLOG, DEFAULT_SERVER_CONNECTIONS, DEFAULT_SERVER_FAILURE_LIMIT,
    DEFAULT_SERVER_RETRY_TIMEOUT, Listen, Password, PoolConf, PoolServer, SentinelAddr,
    SentinelConf,
};

/// A pool as written: its name and its directives in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawPool {
    pub name: String,
    pub directives: Vec<RawDirective>,
}

/// One directive: a scalar (one value) or a list (each item applied in turn,
/// as nutcracker applies every item of a sequence to its key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawDirective {
    pub key: String,
    pub values: Vec<String>,
}

/// The directives of one pool as they are being applied.
#[derive(Default)]
struct Draft {
    listen: Option<(String, Listen)>,
    hash: Option<Hash>,
    hash_tag: Option<HashTag>,
    distribution: Option<Distribution>,
    timeout: Option<u32>,
    backlog: Option<u32>,
    client_connections: Option<u32>,
    redis: Option<bool>,
    redis_auth: Option<String>,
    redis_db: Option<u32>,
    preconnect: Option<bool>,
    auto_eject_hosts: Option<bool>,
    server_connections: Option<u32>,
    server_retry_timeout: Option<u32>,
    server_failure_limit: Option<u32>,
    tcpkeepalive: Option<bool>,
    servers: Vec<ServerEntry>,
    sentinels: Option<Vec<SentinelAddr>>,
    sentinel_auth: Option<String>,
    sentinel_user: Option<String>,
    sentinel_tls: Option<bool>,
}

const LISTEN_FORMAT: &str = "expected \"host:port\" or \"/path/to/socket [octal permissions]\"";
const LISTEN_PORT: &str = "the port must be a number from 1 to 65535";
const LISTEN_HOST: &str = "the host before the port is empty";
const LISTEN_PERM: &str = "the permissions after the socket path must be octal, at most 0777";

/// Validates `raw` (pools in the order written) into nutcracker-ordered
/// pools, or the first error in nutcracker's order (see the module docs).
pub(crate) fn build_pools(raw: Vec<RawPool>) -> Result<Vec<PoolConf>, ConfError> {
    if raw.is_empty() {
        return Err(ConfError::NoPools);
    }
    let mut drafts = Vec::with_capacity(raw.len());
    for pool in raw {
        if pool.name.is_empty() {
            return Err(pool_error(&pool.name, PoolProblem::EmptyName));
        }
        let mut draft = Draft::default();
        for directive in &pool.directives {
            for value in &directive.values {
                apply(&mut draft, &directive.key, value).map_err(|problem| {
                    ConfError::Directive {
                        pool: pool.name.clone(),
                        key: directive.key.clone(),
                        problem,
                    }
                })?;
            }
        }
        drafts.push((pool.name, draft));
    }
    let mut pools = Vec::with_capacity(drafts.len());
    let mut listens = Vec::with_capacity(drafts.len());
    for (name, draft) in drafts {
        let (pool, listen_text) = finish(name, draft)?;
        pools.push(pool);
        listens.push(listen_text);
    }
    for (i, (pool, listen)) in pools.iter().zip(&listens).enumerate() {
        let earlier = pools.iter().zip(&listens).take(i);
        if let Some((first, _)) = earlier.clone().find(|(_, l)| *l == listen) {
            return Err(ConfError::SameListen {
                first: first.name.clone(),
                second: pool.name.clone(),
                listen: listen.clone(),
            });
        }
        if earlier.clone().any(|(p, _)| p.name == pool.name) {
            return Err(ConfError::SamePoolName(pool.name.clone()));
        }
    }
    pools.sort_by(|a, b| compare_names(a.name.as_bytes(), b.name.as_bytes()));
    Ok(pools)
}

fn pool_error(pool: &str, problem: PoolProblem) -> ConfError {
    ConfError::Pool {
        pool: pool.to_string(),
        problem,
    }
}

/// Sets a single-valued directive: a second one is a duplicate (checked
/// before the value, as nutcracker does).
fn set<T>(
    slot: &mut Option<T>,
    parse: impl FnOnce() -> Result<T, DirectiveProblem>,
) -> Result<(), DirectiveProblem> {
    if slot.is_some() {
        return Err(DirectiveProblem::Duplicate);
    }
    *slot = Some(parse()?);
    Ok(())
}

/// Applies one `key: value` to `draft`.
fn apply(draft: &mut Draft, key: &str, value: &str) -> Result<(), DirectiveProblem> {
    if !is_known(key) {
        return Err(DirectiveProblem::Unknown);
    }
    if value.is_empty() {
        return Err(DirectiveProblem::Empty);
    }
    let text = || Ok(value.to_string());
    match key {
        "listen" => set(&mut draft.listen, || {
            parse_listen(value).map(|l| (value.to_string(), l))
        }),
        "hash" => set(&mut draft.hash, || {
            value
                .parse()
                .map_err(|_| DirectiveProblem::Hash(value.to_string()))
        }),
        "hash_tag" => set(&mut draft.hash_tag, || {
            value
                .parse()
                .map_err(|_| DirectiveProblem::HashTag(value.to_string()))
        }),
        "distribution" => set(&mut draft.distribution, || {
            value
                .parse()
                .map_err(|_| DirectiveProblem::Distribution(value.to_string()))
        }),
        "timeout" => set(&mut draft.timeout, || number(value)),
        "backlog" => set(&mut draft.backlog, || number(value)),
        "client_connections" => set(&mut draft.client_connections, || number(value)),
        "redis_db" => set(&mut draft.redis_db, || number(value)),
        "server_connections" => set(&mut draft.server_connections, || number(value)),
        "server_retry_timeout" => set(&mut draft.server_retry_timeout, || number(value)),
        "server_failure_limit" => set(&mut draft.server_failure_limit, || number(value)),
        "redis" => set(&mut draft.redis, || boolean(value)),
        "preconnect" => set(&mut draft.preconnect, || boolean(value)),
        "auto_eject_hosts" => set(&mut draft.auto_eject_hosts, || boolean(value)),
        "tcpkeepalive" => set(&mut draft.tcpkeepalive, || boolean(value)),
        "redis_auth" => set(&mut draft.redis_auth, text),
        "sentinel_auth" => set(&mut draft.sentinel_auth, text),
        "sentinel_user" => set(&mut draft.sentinel_user, text),
        "sentinel_tls" => set(&mut draft.sentinel_tls, || boolean(value)),
        "servers" => {
            let entry = ServerEntry::parse(value).map_err(DirectiveProblem::Server)?;
            draft.servers.push(entry);
            Ok(())
        }
        // "sentinels" (Slotway extension), the only key left by `is_known`.
        _ => {
            let addr = parse_sentinel(value)?;
            draft.sentinels.get_or_insert_with(Vec::new).push(addr);
            Ok(())
        }
    }
}

/// The directives of nutcracker 0.5.0 plus Slotway's Sentinel extension.
const KNOWN: [&str; 21] = [
    "listen",
    "hash",
    "hash_tag",
    "distribution",
    "timeout",
    "backlog",
    "client_connections",
    "redis",
    "redis_auth",
    "redis_db",
    "preconnect",
    "auto_eject_hosts",
    "server_connections",
    "server_retry_timeout",
    "server_failure_limit",
    "tcpkeepalive",
    "servers",
    "sentinels",
    "sentinel_auth",
    "sentinel_user",
    "sentinel_tls",
];

fn is_known(key: &str) -> bool {
    KNOWN.contains(&key)
}

/// nutcracker's `nc_atoi`: decimal digits only, at most `i32::MAX`.
fn parse_num(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = text.trim_start_matches('0');
    if digits.is_empty() {
        return Some(0);
    }
    digits
        .parse::<u32>()
        .ok()
        .filter(|&n| i32::try_from(n).is_ok())
}

fn number(value: &str) -> Result<u32, DirectiveProblem> {
    parse_num(value).ok_or_else(|| DirectiveProblem::NotNumber(value.to_string()))
}

/// Exactly `true` or `false`, as nutcracker compares them.
fn boolean(value: &str) -> Result<bool, DirectiveProblem> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(DirectiveProblem::NotBool(value.to_string())),
    }
}

fn port(text: &str) -> Option<u16> {
    parse_num(text)
        .and_then(|n| u16::try_from(n).ok())
        .filter(|&p| p > 0)
}

/// `host:port` (split at the last `:`), or `/path` with an optional octal
/// permission after the last space. Stricter than nutcracker in one way:
/// nutcracker reads the permission with `strtol`, so garbage such as `abc`
/// silently becomes 0; Slotway refuses it.
fn parse_listen(value: &str) -> Result<Listen, DirectiveProblem> {
    let bad = |why| DirectiveProblem::Listen {
        value: value.to_string(),
        why,
    };
    if value.starts_with('/') {
        let Some((path, perm)) = value.rsplit_once(' ') else {
            return Ok(Listen::Unix {
                path: value.to_string(),
                perm: None,
            });
        };
        let octal = !perm.is_empty() && perm.bytes().all(|b| (b'0'..=b'7').contains(&b));
        let digits = perm.trim_start_matches('0');
        let bits = if digits.is_empty() {
            Some(0)
        } else {
            u32::from_str_radix(digits, 8).ok()
        };
        let perm = bits
            .filter(|&p| octal && p <= 0o777)
            .ok_or_else(|| bad(LISTEN_PERM))?;
        return Ok(Listen::Unix {
            path: path.to_string(),
            perm: Some(perm),
        });
    }
    let (host, port_text) = value.rsplit_once(':').ok_or_else(|| bad(LISTEN_FORMAT))?;
    let port = port(port_text).ok_or_else(|| bad(LISTEN_PORT))?;
    if host.is_empty() {
        return Err(bad(LISTEN_HOST));
    }
    Ok(Listen::Tcp {
        host: host.to_string(),
        port,
    })
}

/// A `sentinels:` entry: `host:port`, the host possibly in IPv6 brackets.
fn parse_sentinel(value: &str) -> Result<SentinelAddr, DirectiveProblem> {
    let bad = || DirectiveProblem::Sentinel(value.to_string());
    let (host, port_text) = value.rsplit_once(':').ok_or_else(bad)?;
    let port = port(port_text).ok_or_else(bad)?;
    let bracketed = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    let host = bracketed.unwrap_or(host);
    // A `:` in the host is only an IPv6 address (so `host:port:weight`,
    // the `servers:` form, is refused rather than read as host `host:port`).
    let v6 = host.parse::<std::net::Ipv6Addr>().is_ok();
    if host.is_empty()
        || host.contains(char::is_whitespace)
        || ((bracketed.is_some() || host.contains(':')) && !v6)
    {
        return Err(bad());
    }
    Ok(SentinelAddr {
        host: host.to_string(),
        port,
    })
}

/// Checks one pool as nutcracker's post-validation does (module docs, step
/// 2) and fills in the defaults. Returns the pool and its `listen` text.
fn finish(name: String, d: Draft) -> Result<(PoolConf, String), ConfError> {
    let err = |problem| pool_error(&name, problem);
    let (listen_text, listen) = d.listen.ok_or_else(|| err(PoolProblem::MissingListen))?;
    if d.server_connections == Some(0) {
        return Err(ConfError::Directive {
            pool: name.clone(),
            key: "server_connections".to_string(),
            problem: DirectiveProblem::Zero,
        });
    }
    let redis = d.redis.unwrap_or(false);
    if !redis && d.redis_auth.is_some() {
        return Err(err(PoolProblem::AuthWithoutRedis));
    }
    if !redis {
        return Err(err(PoolProblem::NotRedis {
            explicit: d.redis.is_some(),
        }));
    }
    if d.servers.is_empty() {
        return Err(err(PoolProblem::NoServers));
    }
    let mut servers: Vec<(usize, ServerEntry)> = d.servers.into_iter().enumerate().collect();
    servers.sort_by(|(_, a), (_, b)| compare_names(a.identity.as_bytes(), b.identity.as_bytes()));
    if let Some(pair) = servers
        .windows(2)
        .find(|w| matches!(w, [(_, a), (_, b)] if a.identity == b.identity))
        && let Some((_, dup)) = pair.first()
    {
        return Err(err(PoolProblem::SameServerName(dup.identity.clone())));
    }
    let sentinel = sentinel_conf(
        &name,
        d.sentinels,
        d.sentinel_auth,
        d.sentinel_user,
        d.sentinel_tls,
    )?;
    if sentinel.is_some()
        && let Some((_, unnamed)) = servers
            .iter()
            .find(|(_, s)| s.name.as_deref().is_none_or(str::is_empty))
    {
        return Err(err(PoolProblem::SentinelServerUnnamed(
            unnamed.pname.clone(),
        )));
    }
    let servers = servers
        .into_iter()
        .map(|(written_index, entry)| PoolServer {
            sentinel_master: sentinel.as_ref().and(entry.name.clone()),
            entry,
            written_index,
        })
        .collect();
    let pool = PoolConf {
        listen,
        hash: d.hash.unwrap_or(Hash::DEFAULT),
        hash_tag: d.hash_tag,
        distribution: d.distribution.unwrap_or_default(),
        timeout: d
            .timeout
            .filter(|&ms| ms > 0)
            .map(|ms| Duration::from_millis(u64::from(ms))),
        backlog: d.backlog.unwrap_or(DEFAULT_BACKLOG),
        preconnect: d.preconnect.unwrap_or(false),
        redis_auth: d.redis_auth.map(Password::new),
        redis_db: d.redis_db.unwrap_or(0),
        server_connections: d.server_connections.unwrap_or(DEFAULT_SERVER_CONNECTIONS),
        auto_eject_hosts: d.auto_eject_hosts.unwrap_or(false),
        server_retry_timeout: d
            .server_retry_timeout
            .map_or(DEFAULT_SERVER_RETRY_TIMEOUT, |ms| {
                Duration::from_millis(u64::from(ms))
            }),
        server_failure_limit: d
            .server_failure_limit
            .unwrap_or(DEFAULT_SERVER_FAILURE_LIMIT),
        tcpkeepalive: d.tcpkeepalive.unwrap_or(false),
        client_connections: d.client_connections.unwrap_or(0),
        servers,
        sentinel,
        name,
    };
    Ok((pool, listen_text))
}

/// Slotway's Sentinel directives: `sentinel_auth`/`sentinel_user`/
/// `sentinel_tls` need `sentinels`, and `sentinel_user` needs
/// `sentinel_auth`.
fn sentinel_conf(
    pool: &str,
    addrs: Option<Vec<SentinelAddr>>,
    auth: Option<String>,
    user: Option<String>,
    tls: Option<bool>,
) -> Result<Option<SentinelConf>, ConfError> {
    let Some(addrs) = addrs.filter(|a| !a.is_empty()) else {
        if tls.is_some() {
            return Err(pool_error(
                pool,
                PoolProblem::WithoutSentinels("sentinel_tls"),
            ));
        }
        if auth.is_some() {
            return Err(pool_error(
                pool,
                PoolProblem::WithoutSentinels("sentinel_auth"),
            ));
        }
        if user.is_some() {
            return Err(pool_error(
                pool,
                PoolProblem::WithoutSentinels("sentinel_user"),
            ));
        }
        return Ok(None);
    };
    if user.is_some() && auth.is_none() {
        return Err(pool_error(pool, PoolProblem::SentinelUserWithoutAuth));
    }
    Ok(Some(SentinelConf {
        addrs,
        auth: auth.map(Password::new),
        user,
        tls: tls.unwrap_or(false),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_like_nc_atoi() {
        assert_eq!(parse_num("0"), Some(0));
        assert_eq!(parse_num("000400"), Some(400));
        assert_eq!(parse_num("2147483647"), Some(2_147_483_647));
        for bad in [
            "",
            "-1",
            "+5",
            " 5",
            "5 ",
            "1.5",
            "0x10",
            "2147483648",
            "99999999999",
        ] {
            assert_eq!(parse_num(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn listen_forms() {
        assert_eq!(
            parse_listen("127.0.0.1:22121"),
            Ok(Listen::Tcp {
                host: "127.0.0.1".into(),
                port: 22121
            })
        );
        assert_eq!(
            parse_listen("::1:22121"),
            Ok(Listen::Tcp {
                host: "::1".into(),
                port: 22121
            })
        );
        assert_eq!(
            parse_listen("/tmp/a b.sock 0666"),
            Ok(Listen::Unix {
                path: "/tmp/a b.sock".into(),
                perm: Some(0o666)
            })
        );
        assert_eq!(
            parse_listen("/tmp/n.sock"),
            Ok(Listen::Unix {
                path: "/tmp/n.sock".into(),
                perm: None
            })
        );
        assert_eq!(
            parse_listen("/tmp/z.sock 0"),
            Ok(Listen::Unix {
                path: "/tmp/z.sock".into(),
                perm: Some(0)
            })
        );
        for (bad, why) in [
            ("127.0.0.1", LISTEN_FORMAT),
            ("tmp/sock", LISTEN_FORMAT),
            ("127.0.0.1:0", LISTEN_PORT),
            ("127.0.0.1:65536", LISTEN_PORT),
            ("127.0.0.1:", LISTEN_PORT),
            (":22121", LISTEN_HOST),
            ("/tmp/s 1000", LISTEN_PERM),
            ("/tmp/s 999", LISTEN_PERM),
            ("/tmp/s abc", LISTEN_PERM),
            ("/tmp/s ", LISTEN_PERM),
            ("/tmp/s +666", LISTEN_PERM),
        ] {
            assert_eq!(
                parse_listen(bad),
                Err(DirectiveProblem::Listen {
                    value: bad.into(),
                    why
                }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn sentinel_addrs() {
        let a = parse_sentinel("10.0.0.1:26379").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("10.0.0.1", 26379));
        let v6 = parse_sentinel("[::1]:26379").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 26379));
        assert_eq!(v6.to_string(), "[::1]:26379");
        assert_eq!(parse_sentinel("::1:26379").unwrap().host, "::1");
        for bad in [
            "10.0.0.1",
            ":26379",
            "h:0",
            "h:x",
            "h:26379:1",
            "a b:1",
            "[]:1",
            "[h]:1",
        ] {
            assert!(parse_sentinel(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn booleans_exact() {
        assert_eq!(boolean("true"), Ok(true));
        assert_eq!(boolean("false"), Ok(false));
        for bad in ["True", "yes", "1", "on", "TRUE"] {
            assert!(boolean(bad).is_err(), "{bad:?}");
        }
    }
}
