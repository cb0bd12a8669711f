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
//!
//! Invariants: the router is built from [`routes::ROUTES`] alone, and a test
//! checks that table against docs/admin-openapi.json both ways; the API
//! reads the engine's state and never blocks a client session (snapshots
//! of atomics, short locks); it is off unless `admin.listen` is set; with
//! `admin.token` set every route but `/health` and `/ready` needs it.

pub mod auth;
pub mod config_view;
pub mod openapi;
pub mod routes;
pub mod views;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::engine::Engine;
use crate::error::RunError;

/// Serves the admin API of `engine` on `listener` until `shutdown`
/// completes.
///
/// # Errors
/// The listener fails for good.
pub async fn run(
    listener: TcpListener,
    engine: Arc<Engine>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    if let Ok(addr) = listener.local_addr() {
        info!(event = "admin_listening", %addr, "admin API listening");
        if !addr.ip().is_loopback() && engine.settings().admin_token.is_none() {
            warn!(
                %addr,
                "the admin API listens beyond loopback with no token (admin.allow_unauthenticated): keep it on a trusted network"
            );
        }
    }
    axum::serve(listener, routes::router(engine))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(RunError::Listener)
}
