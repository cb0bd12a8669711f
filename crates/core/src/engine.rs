//! [`Engine`]: everything one proxy instance shares between its client
//! listener ([`crate::server::serve`]) and its admin listener
//! ([`crate::admin::run`]): validated settings, the topology, the client
//! registry, metrics, the slow log, and when it started.
//!
//! Invariants: built once from [`Settings`] before either listener runs (so
//! tests can bind both on port 0 and hand them the same engine); nothing in
//! it needs a runtime until the client listener starts the refresher.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use crate::cluster::Topology;
use crate::cluster::table::NodeParams;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::pool::status::{Action, ActionError, Board, Command, Outcome, ServerStatus};
use crate::route::KeyMap;
use crate::session::{self, SessionSettings, Shared};
use crate::slowlog::SlowLog;
use crate::workers::Workers;
use tokio::sync::mpsc;

/// One proxy instance's shared state.
#[derive(Debug)]
pub struct Engine {
    pub(crate) shared: Arc<Shared>,
    /// A pool's current servers and placement (reloadable).
    pool: Option<tokio::sync::watch::Sender<Arc<crate::pool::PoolSettings>>>,
    /// A pool's per-server states, as its manager publishes them.
    pool_board: Arc<Board>,
    /// Operator commands to a pool's manager.
    pool_commands: Option<mpsc::Sender<Command>>,
    /// The manager's end of `pool_commands`, until the pool runs.
    pool_control: parking_lot::Mutex<Option<mpsc::Receiver<Command>>>,
    settings: Settings,
    started: Instant,
    started_at: SystemTime,
    listening: OnceLock<SocketAddr>,
}

impl Engine {
    /// The engine for `settings`; no connection is made yet. Everything
    /// runs on the caller's runtime.
    #[must_use]
    pub fn new(settings: Settings) -> Arc<Self> {
        Self::with_workers(settings, Workers::single())
    }

    /// [`Engine::new`] spreading clients and backend connections over
    /// `workers` (thread-per-core).
    #[must_use]
    pub fn with_workers(settings: Settings, workers: Workers) -> Arc<Self> {
        let keys = settings
            .pool
            .as_ref()
            .map_or(KeyMap::Cluster, |pool| pool.keys.clone());
        let topology = Arc::new(Topology::with_keys(
            settings.seeds.clone(),
            NodeParams {
                connections_per_node: settings.connections_per_node,
                connect_timeout: settings.connect_timeout,
                reply_timeout: settings.reply_timeout,
                write_ack: settings.write_ack,
                prelude: settings.prelude.clone(),
                workers: workers.clone(),
            },
            keys,
        ));
        let shared = Arc::new(Shared {
            topology,
            clients: Arc::default(),
            pause: session::Pause::default(),
            metrics: Arc::new(Metrics::default()),
            slowlog: Arc::new(SlowLog::new(settings.slowlog)),
            stats: Arc::default(),
            parked: session::ParkBudget::new(settings.park_max_bytes),
            settings: SessionSettings {
                limits: settings.limits,
                max_inflight: settings.max_inflight_per_client,
                max_redirects: settings.max_redirects,
                retry_delay: settings.retry_delay,
                park_timeout: settings.park_timeout,
                park_max_bytes: settings.park_max_bytes,
                retry_unknown_writes: settings.retry_unknown_writes,
                request_timeout: settings.request_timeout,
                policy: settings.policy,
                commands: settings.commands.clone(),
                announce: settings.announce,
                read_from: settings.read_from,
                pool: settings.pool.as_ref().map(|p| p.name.clone()),
                client_limits: settings.client_limits,
                threads: settings.threads,
                multiplexing: settings.multiplexing,
                auth_passthrough: settings.auth_passthrough,
            },
            runtime: crate::runtime::Runtime::new(
                settings.policy.split_multi_key,
                settings.client_limits.maxclients,
                settings.max_inflight_per_client,
                "",
            ),
            users: session::users::LiveUsers::new(settings.users.clone()),
            budget: session::limits::Budget::default(),
            workers,
            shutdown_requested: tokio_util::sync::CancellationToken::new(),
        });
        let pool = settings
            .pool
            .as_ref()
            .map(|p| tokio::sync::watch::Sender::new(p.clone()));
        let (commands, control) = match &pool {
            Some(_) => {
                let (tx, rx) = mpsc::channel(16);
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        Arc::new(Self {
            shared,
            pool,
            pool_board: Arc::default(),
            pool_commands: commands,
            pool_control: parking_lot::Mutex::new(control),
            settings,
            started: Instant::now(),
            started_at: SystemTime::now(),
            listening: OnceLock::new(),
        })
    }

    /// Replaces a pool's servers and placement while it runs (SIGHUP):
    /// the new table is installed at once, clients stay connected. Only
    /// the pool part of `pool` is used (its connections keep their other
    /// settings).
    ///
    /// # Errors
    /// This engine serves a cluster, not a pool.
    pub fn reload_pool(&self, pool: crate::pool::PoolSettings) -> Result<(), &'static str> {
        match &self.pool {
            Some(tx) => {
                tx.send_replace(Arc::new(pool));
                Ok(())
            }
            None => Err("not a pool"),
        }
    }

    /// The pool's current settings (as last loaded), if it serves a pool.
    #[must_use]
    pub fn pool(&self) -> Option<Arc<crate::pool::PoolSettings>> {
        self.pool.as_ref().map(|tx| tx.borrow().clone())
    }

    /// A pool's servers as its manager last published them (server order;
    /// empty for a cluster or before the pool runs).
    #[must_use]
    pub fn pool_status(&self) -> Vec<ServerStatus> {
        self.pool_board.snapshot()
    }

    /// Asks the pool's manager to eject or restore `server` (its name or
    /// current address) and waits for the answer.
    ///
    /// # Errors
    /// Not a pool, not running, no such server, or the action is refused.
    pub async fn pool_action(&self, server: &str, action: Action) -> Result<Outcome, ActionError> {
        let tx = self.pool_commands.as_ref().ok_or(ActionError::NotRunning)?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        tx.send(Command {
            server: server.to_owned(),
            action,
            reply,
        })
        .await
        .map_err(|_| ActionError::NotRunning)?;
        answer.await.map_err(|_| ActionError::NotRunning)?
    }

    /// The manager's side of the pool's control (once: the pool's run
    /// takes it).
    pub(crate) fn take_pool_control(&self) -> Option<crate::pool::Control> {
        let commands = self.pool_control.lock().take()?;
        Some(crate::pool::Control {
            board: self.pool_board.clone(),
            commands,
        })
    }

    pub(crate) fn pool_updates(
        &self,
    ) -> Option<tokio::sync::watch::Receiver<Arc<crate::pool::PoolSettings>>> {
        self.pool
            .as_ref()
            .map(tokio::sync::watch::Sender::subscribe)
    }

    /// The settings PROXY CONFIG SET changes while it runs (the binary
    /// installs the log-level hook here).
    #[must_use]
    pub fn runtime(&self) -> &crate::runtime::Runtime {
        &self.shared.runtime
    }

    /// The validated settings it runs with.
    #[must_use]
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The cluster topology.
    #[must_use]
    pub fn topology(&self) -> &Arc<Topology> {
        &self.shared.topology
    }

    /// Every connected client.
    #[must_use]
    pub fn clients(&self) -> &Arc<session::clients::Registry> {
        &self.shared.clients
    }

    /// Metrics.
    #[must_use]
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    /// twemproxy-style counters (the nutcracker stats port).
    #[must_use]
    pub fn stats(&self) -> &Arc<crate::stats::ProxyStats> {
        &self.shared.stats
    }

    /// The slow log.
    #[must_use]
    pub fn slowlog(&self) -> &Arc<SlowLog> {
        &self.shared.slowlog
    }

    /// Time since the engine was built.
    #[must_use]
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// When the engine was built (wall clock).
    #[must_use]
    pub fn started_at(&self) -> SystemTime {
        self.started_at
    }

    /// The address clients are served on, once the listener runs.
    #[must_use]
    pub fn listening(&self) -> Option<SocketAddr> {
        self.listening.get().copied()
    }

    pub(crate) fn set_listening(&self, addr: SocketAddr) {
        let _ = self.listening.set(addr);
    }
}
