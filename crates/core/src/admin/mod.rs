//! The admin HTTP API (axum): JSON status, topology, clients, statistics,
//! configuration and slow log; a topology refresh action; `/health` and
//! `/ready` probes; `/metrics` in Prometheus text; the OpenAPI description;
//! a web dashboard at `/` (embedded, polling the JSON endpoints).
//!
//! - [`routes`]: the route table the router is built from.
//! - [`auth`]: the bearer token every route but the probes needs.
//! - [`views`]: the JSON documents.
//! - [`config_view`]: the settings as JSON, secrets redacted.
//! - [`openapi`]: the OpenAPI description and its check against the routes.
//! - [`pools`]: the sharded pools' view and the eject / restore actions.
//!
//! One admin listener serves the whole process: a cluster's engine, or
//! every pool of a pool-mode process ([`Admin`] holds the live list, which
//! reloads update). The cluster-shaped endpoints (status, topology,
//! clients, …) describe the cluster, or in pool mode the pool their
//! `pool=NAME` query parameter names (the first pool without one; an
//! unknown pool is a 404; in cluster mode the parameter is refused with a
//! 400, so a script aimed at the wrong process fails loudly); `/metrics`, `/api/v1/pools` and `/api/v1/events` cover every pool (the
//! events also the process's own journal: pools added, removed or
//! restarted by a reload).
//!
//! Invariants: the router is built from [`routes::ROUTES`] alone, and a test
//! checks that table against docs/admin-openapi.json both ways; the API
//! reads the engine's state and never blocks a client session (snapshots
//! of atomics, short locks); it is off unless `admin.listen` is set; with
//! `admin.token` set every route but `/health` and `/ready` needs it.

pub mod auth;
pub mod config_view;
pub mod openapi;
pub mod pools;
pub mod routes;
pub mod views;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{info, warn};

use crate::config::Secret;
use crate::engine::Engine;
use crate::error::RunError;
use crate::events::Journal;

/// The engines of a pool-mode process, as its pool set publishes them.
pub type PoolEngines = watch::Receiver<Arc<Vec<Arc<Engine>>>>;

/// A `POST /api/v1/config/reload`, sent to whoever owns the process's
/// configuration (the binary): it answers with a JSON summary of what was
/// applied and what needs a restart, or the reason the file was refused
/// (then nothing changed).
#[derive(Debug)]
pub struct ReloadRequest {
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<serde_json::Value, String>>,
}

/// Why a `pool=NAME` query parameter selects no engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolChoiceError {
    /// The process serves a cluster: there are no pools to choose from.
    #[error("this process serves a cluster, not pools: drop the pool parameter (got {0:?})")]
    ClusterMode(String),
    /// No running pool has this name.
    #[error("no pool {0:?}; see /api/v1/pools for the pools of this process")]
    NoSuchPool(String),
}

/// What one admin listener serves.
#[derive(Debug)]
pub struct Admin {
    cluster: Option<Arc<Engine>>,
    pools: Option<PoolEngines>,
    /// The first pool at start: described when no pool is left.
    fallback: Arc<Engine>,
    token: Option<Secret>,
    reload: Option<mpsc::Sender<ReloadRequest>>,
    /// The process's own events (pools added, removed, restarted by a
    /// reload), which outlive any one pool's engine and its journal.
    journal: Arc<Journal>,
}

impl Admin {
    /// The admin of a cluster-mode process.
    #[must_use]
    pub fn cluster(engine: Arc<Engine>) -> Self {
        Self {
            token: engine.settings().admin_token.clone(),
            cluster: Some(engine.clone()),
            pools: None,
            fallback: engine,
            reload: None,
            journal: Arc::default(),
        }
    }

    /// The admin of a pool-mode process; `None` when no pool runs. The
    /// token is the first pool's (every pool has the process's `[admin]`).
    #[must_use]
    pub fn pools(pools: PoolEngines) -> Option<Self> {
        let first = pools.borrow().first().cloned()?;
        Some(Self {
            token: first.settings().admin_token.clone(),
            cluster: None,
            pools: Some(pools),
            fallback: first,
            reload: None,
            journal: Arc::default(),
        })
    }

    /// Serves `POST /api/v1/config/reload` by asking `reload`.
    #[must_use]
    pub fn with_reload(mut self, reload: mpsc::Sender<ReloadRequest>) -> Self {
        self.reload = Some(reload);
        self
    }

    /// Shows `journal`'s events in `/api/v1/events` with the engines'.
    #[must_use]
    pub fn with_journal(mut self, journal: Arc<Journal>) -> Self {
        self.journal = journal;
        self
    }

    /// The process's own events journal.
    #[must_use]
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The engine the cluster-shaped endpoints describe.
    #[must_use]
    pub fn engine(&self) -> Arc<Engine> {
        if let Some(e) = &self.cluster {
            return e.clone();
        }
        self.pool_engines()
            .first()
            .cloned()
            .unwrap_or_else(|| self.fallback.clone())
    }

    /// The engine `pool` names (`None` or empty: [`Admin::engine`]).
    ///
    /// # Errors
    /// A pool is named in cluster mode, or no running pool has that name.
    pub fn engine_for(&self, pool: Option<&str>) -> Result<Arc<Engine>, PoolChoiceError> {
        let Some(name) = pool.filter(|n| !n.is_empty()) else {
            return Ok(self.engine());
        };
        if self.cluster.is_some() {
            return Err(PoolChoiceError::ClusterMode(name.to_owned()));
        }
        self.pool_engines()
            .iter()
            .find(|e| e.pool().is_some_and(|p| p.name == name))
            .cloned()
            .ok_or_else(|| PoolChoiceError::NoSuchPool(name.to_owned()))
    }

    /// Every pool's engine (empty in cluster mode).
    #[must_use]
    pub fn pool_engines(&self) -> Arc<Vec<Arc<Engine>>> {
        self.pools
            .as_ref()
            .map_or_else(Arc::default, |p| p.borrow().clone())
    }

    /// The token the API requires, if any.
    #[must_use]
    pub fn token(&self) -> Option<&Secret> {
        self.token.as_ref()
    }

    /// Where reload requests go, if reloading is wired.
    #[must_use]
    pub fn reloader(&self) -> Option<&mpsc::Sender<ReloadRequest>> {
        self.reload.as_ref()
    }
}

/// Serves the admin API of `engine` (a cluster) on `listener` until
/// `shutdown` completes.
///
/// # Errors
/// The listener fails for good.
pub async fn run(
    listener: TcpListener,
    engine: Arc<Engine>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    serve(listener, Arc::new(Admin::cluster(engine)), shutdown).await
}

/// Serves the admin API of `admin` on `listener` until `shutdown`
/// completes.
///
/// # Errors
/// The listener fails for good.
pub async fn serve(
    listener: TcpListener,
    admin: Arc<Admin>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    if let Ok(addr) = listener.local_addr() {
        info!(event = "admin_listening", %addr, "admin API listening");
        if !addr.ip().is_loopback() && admin.token().is_none() {
            warn!(
                %addr,
                "the admin API listens beyond loopback with no token (admin.allow_unauthenticated): keep it on a trusted network"
            );
        }
    }
    axum::serve(listener, routes::router(admin))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(RunError::Listener)
}
