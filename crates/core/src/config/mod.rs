//! Configuration as data: the TOML file format (`Config`, serde with
//! `deny_unknown_fields`) and its one-time validation into typed [`Settings`].
//!
//! Invariants: every key has a documented default (docs/configuration.md lists
//! them); `Settings` only ever holds validated values, so the engine never
//! re-checks them; command-line flags are applied on top of the file by the
//! binary before validation.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use slotway_resp::Limits;

use crate::error::ConfigError;
pub use crate::session::limits::ClientLimits;
pub use commands::CommandsConfig;
pub use tls::TlsConfig;

mod commands;
mod settings;
mod tls;

pub use settings::Settings;

/// The whole configuration file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The client-facing side.
    pub proxy: ProxyConfig,
    /// The Redis Cluster behind the proxy.
    pub cluster: ClusterConfig,
    /// Limits on client input (Redis's own defaults).
    pub limits: LimitsConfig,
    /// Logging.
    pub log: LogConfig,
    /// The admin HTTP API (off unless `listen` is set).
    pub admin: AdminConfig,
    /// Sharded standalone pools (twemproxy's model), `[pools.NAME]`, with
    /// nutcracker's keys (docs/pools.md). When any is given, the proxy
    /// serves these pools instead of a cluster; the other sections give the
    /// defaults every pool runs with.
    pub pools: std::collections::BTreeMap<String, slotway_nutconf::TomlPool>,
    /// `[[users]]`: ACL users clients authenticate as (docs/security.md).
    pub users: Vec<users::UserConfig>,
    /// TLS for clients (off unless `listen` is set).
    pub tls: TlsConfig,
    /// `[commands]`: commands denied, allowed or renamed (docs/security.md).
    pub commands: CommandsConfig,
}

/// `[admin]`: the admin HTTP API (JSON status, Prometheus metrics, probes).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// `ip:port` of the admin HTTP listener; empty: off.
    pub listen: String,
    /// Bearer token every route but `/health` and `/ready` requires; empty:
    /// none (then the API may only listen on loopback).
    pub token: String,
    /// Let the API listen beyond loopback without a token.
    pub allow_unauthenticated: bool,
}

/// `[proxy]`: where and how clients are served.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyConfig {
    /// Address to listen on for Redis clients.
    pub listen: String,
    /// Worker threads; 0 means one per CPU core.
    pub threads: usize,
    /// How clients are spread over the threads: `per-core` (each thread its
    /// own clients and backend connections) or `work-stealing`.
    pub scheduler: crate::workers::Scheduler,
    /// After SIGINT/SIGTERM, how long in-flight requests may take to finish.
    pub shutdown_grace_ms: u64,
    /// Requests of one client in flight at once; beyond it the proxy stops
    /// reading that client (back-pressure, no error).
    pub max_inflight_per_client: usize,
    /// `ip:port` that CLUSTER SLOTS/SHARDS/NODES name as the one node; empty:
    /// the address each client connected to.
    pub announce: String,
    /// Clients must `AUTH` with this password (the `default` user's, as in
    /// Redis). Empty: no authentication.
    pub requirepass: String,
    /// Requests whose end-to-end time through the proxy reaches this many
    /// microseconds go to the proxy's slow log; negative: off.
    pub slowlog_log_slower_than: i64,
    /// Entries the slow log keeps.
    pub slowlog_max_len: usize,
    /// Clients served at once (Redis `maxclients`); the next one gets
    /// `-ERR max number of clients reached` and is closed.
    pub maxclients: usize,
    /// Close a client idle for this many seconds (Redis `timeout`); 0: never.
    pub timeout: u64,
    /// TCP keepalive on client sockets, seconds (Redis `tcp-keepalive`); 0: off.
    pub tcp_keepalive: u64,
    /// `auto`: clients share the nodes' connections until one asks for its
    /// own (`PROXY MULTIPLEXING OFF`); `always`: every client gets private
    /// connections; `never`: `PROXY MULTIPLEXING OFF` is refused.
    pub disable_multiplexing: Multiplexing,
    /// Credential pass-through (redis-cluster-proxy's behaviour): with no
    /// users of the proxy's own (no `requirepass`, no `[[users]]`), a client
    /// `AUTH`/`HELLO … AUTH` with credentials other than `cluster.user`/
    /// `cluster.password` is checked by the cluster and, if accepted, the
    /// client runs as that user on its own node connections.
    pub auth_passthrough: bool,
}

/// `proxy.disable_multiplexing` (redis-cluster-proxy's `--disable-multiplexing`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Multiplexing {
    /// Shared connections; a client may ask for private ones.
    #[default]
    Auto,
    /// Every client gets private connections from the start.
    Always,
    /// Shared connections only.
    Never,
}

/// A secret from the configuration: compared in constant time, never shown
/// (its `Debug` is redacted, so settings can be printed and logged).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Whether `candidate` is the secret, without an early exit on the first
    /// differing byte.
    #[must_use]
    pub fn matches(&self, candidate: &[u8]) -> bool {
        let own = self.0.as_bytes();
        let mut diff = own.len() ^ candidate.len();
        for (i, &b) in candidate.iter().enumerate() {
            diff |= usize::from(b ^ own.get(i % own.len().max(1)).copied().unwrap_or(0));
        }
        diff == 0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:7777".to_owned(),
            threads: 0,
            scheduler: crate::workers::Scheduler::PerCore,
            shutdown_grace_ms: 10_000,
            max_inflight_per_client: 4096,
            announce: String::new(),
            requirepass: String::new(),
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            maxclients: 10_000,
            timeout: 0,
            tcp_keepalive: 300,
            disable_multiplexing: Multiplexing::Auto,
            auth_passthrough: false,
        }
    }
}

/// `[cluster]`: the Redis Cluster behind the proxy.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// `host:port` of cluster nodes to discover the topology from; any one
    /// reachable node is enough.
    pub seeds: Vec<String>,
    /// Shared pipelined connections per node and per protocol (RESP2/RESP3).
    pub connections_per_node: usize,
    /// Full topology refresh period.
    pub refresh_interval_ms: u64,
    /// Refreshes asked for (MOVED, connection failure) are coalesced over
    /// this window so a burst of redirects costs one refresh.
    pub refresh_debounce_ms: u64,
    /// Timeout for connecting to a node.
    pub connect_timeout_ms: u64,
    /// Timeout for one topology query (`CLUSTER SHARDS`/`SLOTS`).
    pub query_timeout_ms: u64,
    /// A shared connection with requests in flight and no reply for this long
    /// is taken as hung and closed; its requests follow the retry rules.
    pub reply_timeout_ms: u64,
    /// Per-request deadline: a request not answered within this long gets an
    /// error, and the connection it went on stays up. 0: off.
    pub request_timeout_ms: u64,
    /// Redirects (MOVED/ASK/TRYAGAIN) and retries one request may take
    /// before the client gets the last error.
    pub max_redirects: u8,
    /// Delay before retrying after TRYAGAIN or a failed connection.
    pub retry_delay_ms: u64,
    /// How long a request may wait ("park") for its slot to get a reachable
    /// owner — a failover takes `cluster-node-timeout` plus an election —
    /// before the client gets `-CLUSTERDOWN`/`-TRYAGAIN`.
    pub park_timeout_ms: u64,
    /// Bytes of requests that may wait (parked) at once, proxy-wide; a
    /// request that would go over it gets `-TRYAGAIN` at once instead.
    pub park_max_bytes: u64,
    /// Re-send a write whose connection broke after it was sent (its outcome
    /// is unknown; it may then be applied twice). Off: the client gets an
    /// error saying the outcome is unknown.
    pub retry_unknown_writes: bool,
    /// Split MGET/MSET/DEL/UNLINK/EXISTS/TOUCH whose keys span slots into one
    /// sub-request per slot (else `-CROSSSLOT`, as Redis Cluster answers).
    pub cross_slot_split: bool,
    /// Let CONFIG SET/RESETSTAT and SAVE/BGSAVE/BGREWRITEAOF reach every node
    /// (replies merged); refused otherwise.
    pub fanout_admin: bool,
    /// Confirm writes with replicas (`WAIT`, grouped per connection) before
    /// acknowledging them: `{ replicas = 1, timeout_ms = 100 }`. Absent: off.
    pub write_ack: Option<WriteAckConfig>,
    /// Where read-only commands go: `master`, `replica` (replicas only),
    /// or `replica-preferred` (a replica when the shard has one). A client
    /// that sends READONLY reads as `replica-preferred`.
    pub read_from: ReadFrom,
    /// Backend credentials: the ACL user the proxy authenticates as on
    /// every node connection (empty: `default`). Never shown anywhere.
    pub user: String,
    /// Backend password (`AUTH`); empty: the nodes need none.
    pub password: String,
    /// TLS on every node connection (data and control).
    pub tls: bool,
    /// CA bundle (PEM) node certificates are verified against.
    pub tls_ca_file: String,
    /// Client certificate (PEM) for nodes that require one; empty: none.
    pub tls_cert_file: String,
    /// Its private key (PEM).
    pub tls_key_file: String,
    /// Name verified in every node's certificate; empty: the node's host.
    pub tls_server_name: String,
}

/// `[cluster.write_ack]`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteAckConfig {
    /// Replicas that must have a write before it is acknowledged.
    pub replicas: u32,
    /// How long to wait for them; past it the client gets an error.
    pub timeout_ms: u64,
}

/// Where read-only commands go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadFrom {
    /// Masters only (what Redis Cluster does without READONLY).
    #[default]
    Master,
    /// Replicas only; a shard without a replica answers CLUSTERDOWN.
    Replica,
    /// A replica when the shard has one, else its master.
    ReplicaPreferred,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            seeds: Vec::new(),
            connections_per_node: 2,
            refresh_interval_ms: 10_000,
            refresh_debounce_ms: 100,
            connect_timeout_ms: 1_000,
            query_timeout_ms: 2_000,
            reply_timeout_ms: 10_000,
            request_timeout_ms: 0,
            max_redirects: 5,
            retry_delay_ms: 50,
            park_timeout_ms: 20_000,
            park_max_bytes: 256 << 20,
            retry_unknown_writes: false,
            cross_slot_split: true,
            fanout_admin: false,
            read_from: ReadFrom::Master,
            write_ack: None,
            user: String::new(),
            password: String::new(),
            tls: false,
            tls_ca_file: String::new(),
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            tls_server_name: String::new(),
        }
    }
}

/// `[limits]`: client input limits, defaults equal to Redis 7.0's.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest bulk string accepted (Redis `proto-max-bulk-len`).
    pub max_bulk_len: u64,
    /// Most elements in one request.
    pub max_multibulk_len: u64,
    /// Longest inline command line.
    pub max_inline_len: usize,
    /// Most unparsed input bytes one client may have buffered (Redis
    /// `client-query-buffer-limit`); past it the client is closed.
    pub client_query_buffer_limit: u64,
    /// Unwritten reply bytes that close a client at once; 0: no limit.
    pub client_output_buffer_hard_limit: u64,
    /// Unwritten reply bytes that close a client when they stay above this
    /// for `client_output_buffer_soft_seconds`; 0: no limit.
    pub client_output_buffer_soft_limit: u64,
    /// How long the output may stay over the soft limit.
    pub client_output_buffer_soft_seconds: u64,
    /// Bytes buffered by all clients together beyond which clients with
    /// requests outstanding stop being read; 0: no budget.
    pub max_buffered_bytes: u64,
}

/// Default element limit of one request. Redis 7.0 itself accepts up to
/// `INT_MAX`; 1M (Redis 6's limit) keeps one request from making the proxy
/// hold millions of argument offsets, and no real command needs more.
pub const DEFAULT_MAX_MULTIBULK_LEN: u64 = 1024 * 1024;

impl Default for LimitsConfig {
    fn default() -> Self {
        let l = Limits::default();
        Self {
            max_bulk_len: l.max_bulk_len,
            max_multibulk_len: DEFAULT_MAX_MULTIBULK_LEN,
            max_inline_len: l.max_inline_len,
            client_query_buffer_limit: 1 << 30,
            client_output_buffer_hard_limit: 1 << 30,
            client_output_buffer_soft_limit: 64 << 20,
            client_output_buffer_soft_seconds: 60,
            max_buffered_bytes: 0,
        }
    }
}

/// `[log]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `error`, `warn`, `info`, `debug` or `trace`, or a `RUST_LOG`-style filter.
    pub level: String,
    /// `text` (human-readable) or `json` (one object per line).
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, fields at the top level.
    Json,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

impl Config {
    /// Reads and parses a TOML file.
    ///
    /// # Errors
    /// The file cannot be read or is not valid configuration.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Parses TOML text.
    ///
    /// # Errors
    /// The text is not valid TOML or has unknown keys or wrong types.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))
    }

    /// Validates once into the typed settings the engine runs on.
    ///
    /// # Errors
    /// A value is out of range or an address does not parse.
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        if self.cluster.seeds.is_empty() {
            return Err(ConfigError::invalid(
                "cluster.seeds",
                "at least one host:port of a cluster node is needed",
            ));
        }
        self.validate_common()
    }

    /// Validates the settings that serve one sharded pool: `pool` replaces
    /// the cluster (no seeds needed); every other value applies as given.
    ///
    /// # Errors
    /// As [`Config::validate`].
    pub fn validate_for_pool(
        &self,
        mut pool: crate::pool::PoolSettings,
    ) -> Result<Settings, ConfigError> {
        let mut settings = self.validate_common()?;
        if pool.sentinel_tls {
            let Some(tls) = settings.prelude.tls() else {
                return Err(ConfigError::invalid(
                    "sentinel_tls",
                    "TLS to the Sentinels uses the backends' TLS settings: set cluster.tls (and its tls_* keys)",
                ));
            };
            pool.sentinel_prelude = pool.sentinel_prelude.clone().with_tls(Some(tls.clone()));
        }
        settings.pool = Some(std::sync::Arc::new(pool));
        Ok(settings)
    }

    fn validate_common(&self) -> Result<Settings, ConfigError> {
        let listen: SocketAddr = self
            .proxy
            .listen
            .parse()
            .map_err(|_| ConfigError::invalid("proxy.listen", "expected ip:port"))?;
        let mut seeds = Vec::with_capacity(self.cluster.seeds.len());
        for seed in &self.cluster.seeds {
            seeds.push(parse_host_port(seed).ok_or_else(|| {
                ConfigError::invalid("cluster.seeds", format!("{seed:?} is not host:port"))
            })?);
        }
        let c = &self.cluster;
        if c.connections_per_node == 0 || c.connections_per_node > 64 {
            return Err(ConfigError::invalid(
                "cluster.connections_per_node",
                "must be 1..=64",
            ));
        }
        if self.proxy.max_inflight_per_client == 0 {
            return Err(ConfigError::invalid(
                "proxy.max_inflight_per_client",
                "must be at least 1",
            ));
        }
        let l = &self.limits;
        if l.max_bulk_len == 0 || l.max_multibulk_len == 0 || l.max_inline_len < 16 {
            return Err(ConfigError::invalid(
                "limits",
                "max_bulk_len and max_multibulk_len must be positive, max_inline_len at least 16",
            ));
        }
        let announce = if self.proxy.announce.is_empty() {
            None
        } else {
            Some(
                self.proxy
                    .announce
                    .parse()
                    .map_err(|_| ConfigError::invalid("proxy.announce", "expected ip:port"))?,
            )
        };
        let admin_listen: Option<SocketAddr> = if self.admin.listen.is_empty() {
            None
        } else {
            Some(
                self.admin
                    .listen
                    .parse()
                    .map_err(|_| ConfigError::invalid("admin.listen", "expected ip:port"))?,
            )
        };
        let admin_token = (!self.admin.token.is_empty()).then(|| Secret(self.admin.token.clone()));
        if let Some(addr) = admin_listen
            && !addr.ip().is_loopback()
            && admin_token.is_none()
            && !self.admin.allow_unauthenticated
        {
            return Err(ConfigError::invalid(
                "admin.listen",
                "the admin API listens beyond loopback: set admin.token (or admin.allow_unauthenticated = true on a trusted network)",
            ));
        }
        let threads = if self.proxy.threads == 0 {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        } else {
            self.proxy.threads
        };
        Ok(Settings {
            listen,
            threads,
            scheduler: self.proxy.scheduler,
            shutdown_grace: Duration::from_millis(self.proxy.shutdown_grace_ms),
            max_inflight_per_client: self.proxy.max_inflight_per_client,
            seeds,
            connections_per_node: c.connections_per_node,
            refresh_interval: Duration::from_millis(c.refresh_interval_ms.max(100)),
            refresh_debounce: Duration::from_millis(c.refresh_debounce_ms),
            connect_timeout: Duration::from_millis(c.connect_timeout_ms.max(1)),
            query_timeout: Duration::from_millis(c.query_timeout_ms.max(1)),
            reply_timeout: Duration::from_millis(c.reply_timeout_ms.max(10)),
            request_timeout: (c.request_timeout_ms > 0)
                .then(|| Duration::from_millis(c.request_timeout_ms.max(4))),
            max_redirects: c.max_redirects,
            retry_delay: Duration::from_millis(c.retry_delay_ms),
            park_timeout: Duration::from_millis(c.park_timeout_ms),
            park_max_bytes: c.park_max_bytes,
            retry_unknown_writes: c.retry_unknown_writes,
            policy: crate::route::Policy {
                split_multi_key: c.cross_slot_split,
                fanout_admin: c.fanout_admin,
            },
            announce,
            requirepass: (!self.proxy.requirepass.is_empty())
                .then(|| Secret(self.proxy.requirepass.clone())),
            read_from: c.read_from,
            admin_listen,
            admin_token,
            users: std::sync::Arc::new(users::validate(&self.users, &self.proxy.requirepass)?),
            slowlog: crate::slowlog::SlowlogSettings {
                log_slower_than: self.proxy.slowlog_log_slower_than,
                max_len: self.proxy.slowlog_max_len,
            },
            write_ack: match c.write_ack {
                None => None,
                Some(w) if w.replicas == 0 || w.timeout_ms == 0 => {
                    return Err(ConfigError::invalid(
                        "cluster.write_ack",
                        "replicas and timeout_ms must be at least 1 (a WAIT timeout of 0 blocks forever)",
                    ));
                }
                Some(w) => Some(crate::backend::conn::WriteAck {
                    replicas: w.replicas,
                    timeout_ms: w.timeout_ms,
                }),
            },
            limits: Limits {
                max_bulk_len: l.max_bulk_len,
                max_multibulk_len: l.max_multibulk_len,
                max_inline_len: l.max_inline_len,
            },
            prelude: backend_prelude(&c.user, &c.password)?.with_tls(tls::backend(c)?),
            tls: self.tls.validate()?,
            commands: std::sync::Arc::new(self.commands.validate()?),
            pool: None,
            client_limits: ClientLimits::from_config(&self.proxy, &self.limits)?,
            multiplexing: self.proxy.disable_multiplexing,
            auth_passthrough: users::passthrough(&self.proxy, &self.users)?,
        })
    }
}

/// The AUTH that backend connections send, from `cluster.user` and
/// `cluster.password`.
fn backend_prelude(user: &str, password: &str) -> Result<crate::backend::Prelude, ConfigError> {
    if !user.is_empty() && password.is_empty() {
        return Err(ConfigError::invalid(
            "cluster.user",
            "a backend user needs cluster.password",
        ));
    }
    Ok(crate::backend::Prelude::new(
        (!user.is_empty()).then_some(user),
        (!password.is_empty()).then_some(password),
        0,
    ))
}

/// Accepts `host:port` with a non-empty host and a numeric port; IPv6 hosts in
/// brackets. Returns the normalised string.
fn parse_host_port(s: &str) -> Option<String> {
    let (host, port) = s.trim().rsplit_once(':')?;
    if host.is_empty() || port.parse::<u16>().ok()? == 0 {
        return None;
    }
    Some(format!("{host}:{port}"))
}

#[cfg(test)]
mod tests;
pub mod users;
