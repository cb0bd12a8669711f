//! [`Settings`]: the validated form of a [`Config`], built only by
//! [`Config::validate`]; the engine reads it and never re-checks a value.

use std::net::SocketAddr;
use std::time::Duration;

use slotway_resp::Limits;

use super::{ClientLimits, Config, Multiplexing, ReadFrom, Secret};
use crate::error::ConfigError;

/// Validated settings; see [`Config`] for the meaning of each field.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Client listen address (the binary binds it; `run` takes a bound listener).
    pub listen: SocketAddr,
    /// Worker threads of the runtime.
    pub threads: usize,
    /// How clients are spread over them.
    pub scheduler: crate::workers::Scheduler,
    /// Grace period for in-flight requests at shutdown.
    pub shutdown_grace: Duration,
    /// Client requests in flight at once before back-pressure.
    pub max_inflight_per_client: usize,
    /// Seed nodes, `host:port`.
    pub seeds: Vec<String>,
    /// Shared connections per node and protocol.
    pub connections_per_node: usize,
    /// Periodic full refresh.
    pub refresh_interval: Duration,
    /// Coalescing window of requested refreshes.
    pub refresh_debounce: Duration,
    /// Connect timeout to nodes.
    pub connect_timeout: Duration,
    /// Timeout of one topology query.
    pub query_timeout: Duration,
    /// Silence after which a shared connection with requests in flight is closed.
    pub reply_timeout: Duration,
    /// Per-request deadline (off when `None`).
    pub request_timeout: Option<Duration>,
    /// Redirects and retries per request.
    pub max_redirects: u8,
    /// Delay before a retry after TRYAGAIN or a failed connect.
    pub retry_delay: Duration,
    /// How long a request may wait for a reachable owner of its slot.
    pub park_timeout: Duration,
    /// Bytes of requests that may be parked at once, proxy-wide.
    pub park_max_bytes: u64,
    /// Re-send writes whose outcome is unknown.
    pub retry_unknown_writes: bool,
    /// Routing choices (cross-slot splitting, admin fan-out).
    pub policy: crate::route::Policy,
    /// Address announced to cluster-aware clients.
    pub announce: Option<SocketAddr>,
    /// Password clients must AUTH with.
    pub requirepass: Option<Secret>,
    /// Where read-only commands go.
    pub read_from: ReadFrom,
    /// Admin HTTP API address (off when `None`).
    pub admin_listen: Option<SocketAddr>,
    /// Bearer token of the admin API (none: no authentication).
    pub admin_token: Option<Secret>,
    /// The users clients authenticate as (always has `default`).
    pub users: std::sync::Arc<crate::acl::Users>,
    /// The proxy's slow log.
    pub slowlog: crate::slowlog::SlowlogSettings,
    /// Confirm writes with replicas before acknowledging them.
    pub write_ack: Option<crate::backend::conn::WriteAck>,
    /// Client input limits.
    pub limits: Limits,
    /// Sent first on every backend connection (backend credentials).
    pub prelude: crate::backend::Prelude,
    /// A sharded pool instead of a cluster: its servers and placement
    /// (`seeds` is then unused).
    pub pool: Option<std::sync::Arc<crate::pool::PoolSettings>>,
    /// Client connection and buffer limits.
    pub client_limits: ClientLimits,
    /// Shared or private node connections per client.
    pub multiplexing: Multiplexing,
    /// Client AUTH with other credentials is checked by the cluster and
    /// switches the client to its own connections (`proxy.auth_passthrough`).
    pub auth_passthrough: bool,
    /// The TLS listener for clients (off when `None`).
    pub tls: Option<std::sync::Arc<crate::tls::ClientTls>>,
    /// The command gate (`[commands]`).
    pub commands: std::sync::Arc<crate::route::CommandGate>,
}

impl Settings {
    /// Settings for a cluster reachable through `seeds`, every other value at
    /// its default. Handy for tests and embedding.
    ///
    /// # Errors
    /// A seed is not `host:port`.
    pub fn for_seeds<S: AsRef<str>>(seeds: &[S]) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        config.cluster.seeds = seeds.iter().map(|s| s.as_ref().to_owned()).collect();
        config.validate()
    }
}
