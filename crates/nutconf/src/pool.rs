//! The typed form of one nutcracker pool, as the engine uses it.
//!
//! Owns [`PoolConf`] and its parts. Invariants (established by the parsers,
//! never re-checked): the listen address is well-formed; `servers` is
//! non-empty, in nutcracker's server order (by name, shorter first; see
//! [`compare_names`](slotway_hashkit::twemproxy::compare_names)) with unique
//! names; `server_connections > 0`; the pool speaks Redis (memcached pools
//! are refused, so there is no `redis` field); a pool with Sentinel
//! settings has at least one Sentinel and names all its servers.

use std::fmt;
use std::time::Duration;

use slotway_hashkit::twemproxy::{Distribution, Hash, HashTag, Server, ServerEntry};

/// nutcracker's `backlog:` default.
pub const DEFAULT_BACKLOG: u32 = 512;
/// nutcracker's `server_connections:` default.
pub const DEFAULT_SERVER_CONNECTIONS: u32 = 1;
/// nutcracker's `server_retry_timeout:` default (30000 ms).
pub const DEFAULT_SERVER_RETRY_TIMEOUT: Duration = Duration::from_millis(30_000);
/// nutcracker's `server_failure_limit:` default.
pub const DEFAULT_SERVER_FAILURE_LIMIT: u32 = 2;

/// One validated nutcracker pool. Field names are the YAML directives; the
/// doc of each field gives nutcracker's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConf {
    /// The pool's name (the top-level YAML key).
    pub name: String,
    /// `listen:` (required).
    pub listen: Listen,
    /// `hash:`, default `fnv1a_64`.
    pub hash: Hash,
    /// `hash_tag:`, default none (the whole key is hashed).
    pub hash_tag: Option<HashTag>,
    /// `distribution:`, default `ketama`.
    pub distribution: Distribution,
    /// `timeout:` in ms. `None` when absent or 0: nutcracker then waits
    /// forever (it arms no timer for a timeout ≤ 0; it refuses `-1`).
    pub timeout: Option<Duration>,
    /// `backlog:`, default 512.
    pub backlog: u32,
    /// `preconnect:`, default false.
    pub preconnect: bool,
    /// `redis_auth:`, default none.
    pub redis_auth: Option<Password>,
    /// `redis_db:`, default 0.
    pub redis_db: u32,
    /// `server_connections:`, default 1, never 0.
    pub server_connections: u32,
    /// `auto_eject_hosts:`, default false.
    pub auto_eject_hosts: bool,
    /// `server_retry_timeout:` (ms), default 30000 ms.
    pub server_retry_timeout: Duration,
    /// `server_failure_limit:`, default 2.
    pub server_failure_limit: u32,
    /// `tcpkeepalive:`, default false.
    pub tcpkeepalive: bool,
    /// `client_connections:` as written, default 0 (unlimited). nutcracker
    /// 0.5.0 parses it and then ignores it (it resets it to 0 while
    /// validating), so a compatible engine ignores it too.
    pub client_connections: u32,
    /// `servers:` in nutcracker's server order (see the module docs); each
    /// remembers its position as written.
    pub servers: Vec<PoolServer>,
    /// Slotway extension: where the pool's masters are found at runtime.
    pub sentinel: Option<SentinelConf>,
}

impl PoolConf {
    /// The servers in the order they were written.
    #[must_use]
    pub fn servers_as_written(&self) -> Vec<&PoolServer> {
        let mut written: Vec<&PoolServer> = self.servers.iter().collect();
        written.sort_by_key(|s| s.written_index);
        written
    }

    /// The placement view of `servers`, index for index (for
    /// `slotway_hashkit::twemproxy::Placement::new`).
    #[must_use]
    pub fn placement_servers(&self) -> Vec<Server> {
        self.servers.iter().map(|s| s.entry.server()).collect()
    }
}

/// A pool's `listen:` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// `host:port`. The host is kept as written (name or address, possibly
    /// IPv6 without brackets, e.g. `::1:22121`); the engine resolves it.
    Tcp {
        /// Host text before the last `:` (never empty).
        host: String,
        /// Port, 1..=65535.
        port: u16,
    },
    /// `/path [perm]`: a unix socket, optionally chmod-ed to the octal
    /// permission given after the last space.
    Unix {
        /// Absolute socket path.
        path: String,
        /// Permission bits (at most 0o777), if given.
        perm: Option<u32>,
    },
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Tcp { host, port } => write!(f, "{host}:{port}"),
            Listen::Unix { path, perm: None } => f.write_str(path),
            Listen::Unix {
                path,
                perm: Some(perm),
            } => write!(f, "{path} {perm:04o}"),
        }
    }
}

/// One `servers:` entry of a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolServer {
    /// The parsed entry (address, weight, name, placement identity).
    pub entry: ServerEntry,
    /// Its 0-based position in the `servers:` list as written.
    pub written_index: usize,
    /// Slotway extension: in a pool with `sentinels`, the Sentinel master
    /// name whose current address the engine asks Sentinel for (the entry's
    /// name). `None` in pools without Sentinels: the address is static.
    pub sentinel_master: Option<String>,
}

/// Slotway extension: the Redis Sentinels that know a pool's masters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelConf {
    /// `sentinels:` (at least one), in the order written.
    pub addrs: Vec<SentinelAddr>,
    /// `sentinel_auth:`, the password for the Sentinels, if any.
    pub auth: Option<Password>,
    /// `sentinel_user:`, the ACL user for `sentinel_auth`, if any.
    pub user: Option<String>,
    /// `sentinel_tls:`, TLS to the Sentinels (with the backends' TLS
    /// settings).
    pub tls: bool,
}

/// One `sentinels:` entry: `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelAddr {
    /// Host name or address (IPv6 brackets removed).
    pub host: String,
    /// Port, 1..=65535.
    pub port: u16,
}

impl fmt::Display for SentinelAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A password from the configuration. Its `Debug` is redacted, so pools
/// can be printed and logged.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Password {
        Password(password.into())
    }

    /// The password itself, to send in `AUTH`.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
