//! The accept loop and graceful shutdown: [`run`] is the proxy's entry point.
//!
//! `run` takes an already-bound listener (tests bind port 0) and a shutdown
//! future. On shutdown it stops accepting, lets every session finish the
//! requests it has in flight (reading nothing new) for up to the grace
//! period, stops the topology refresher, and returns.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::cluster::Topology;
use crate::cluster::refresh::{self, RefreshTiming};
use crate::cluster::table::NodeParams;
use crate::config::Settings;
use crate::error::RunError;
use crate::pool::{self, PoolTiming};
use crate::route::KeyMap;
use crate::session::{self, SessionSettings, Shared};
use crate::stats::Observer;

/// Serves clients on `listener` in front of the cluster of `settings` until
/// `shutdown` completes.
///
/// # Errors
/// Only if the listener fails for good; a cluster that cannot be reached is
/// not an error (clients get `-CLUSTERDOWN` until it can).
pub async fn run(
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    run_observed(listener, settings, shutdown, Arc::default()).await
}

/// [`run`], with `observer` attached so the caller can read counters and
/// the topology while it runs (stats port, admin API).
///
/// # Errors
/// As [`run`].
pub async fn run_observed(
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()>,
    observer: Arc<Observer>,
) -> Result<(), RunError> {
    let keys = match &settings.pool {
        Some(pool) => pool
            .key_map(&vec![true; pool.servers.len()])
            .ok_or_else(|| RunError::Placement(pool.name.clone()))?,
        None => KeyMap::Cluster,
    };
    let topology = Arc::new(Topology::with_keys(
        settings.seeds.clone(),
        NodeParams {
            connections_per_node: settings.connections_per_node,
            connect_timeout: settings.connect_timeout,
            reply_timeout: settings.reply_timeout,
            write_ack: settings.write_ack,
            prelude: settings.prelude.clone(),
        },
        keys,
    ));
    if let Some(pool) = &settings.pool {
        // A pool's servers are known before the first client: install them
        // now (Sentinel may move some of them moments later).
        let addrs: Vec<String> = pool.servers.iter().map(|s| s.addr.clone()).collect();
        topology.install(&pool::view(&addrs));
    }
    let stop = CancellationToken::new();
    // What keeps the table current: the cluster refresher, or a pool's
    // manager (Sentinel, health, ejection).
    let refresher = match &settings.pool {
        Some(pool) => tokio::spawn(pool::run(
            topology.clone(),
            pool.clone(),
            observer.stats.clone(),
            PoolTiming {
                connect_timeout: settings.connect_timeout,
                query_timeout: settings.query_timeout,
            },
            stop.child_token(),
        )),
        None => tokio::spawn(refresh::run(
            topology.clone(),
            RefreshTiming {
                interval: settings.refresh_interval,
                debounce: settings.refresh_debounce,
                connect_timeout: settings.connect_timeout,
                query_timeout: settings.query_timeout,
            },
            stop.child_token(),
        )),
    };
    let clients: Arc<session::clients::Registry> = Arc::default();
    observer.attach(topology.clone(), clients.clone());
    let shared = Arc::new(Shared {
        topology,
        stats: observer.stats.clone(),
        clients,
        pause: session::Pause::default(),
        settings: SessionSettings {
            limits: settings.limits,
            max_inflight: settings.max_inflight_per_client,
            max_redirects: settings.max_redirects,
            retry_delay: settings.retry_delay,
            park_timeout: settings.park_timeout,
            retry_unknown_writes: settings.retry_unknown_writes,
            request_timeout: settings.request_timeout,
            policy: settings.policy,
            announce: settings.announce,
            read_from: settings.read_from,
            requirepass: settings.requirepass.clone(),
            pool: settings.pool.as_ref().map(|p| p.name.clone()),
        },
    });
    let sessions = TaskTracker::new();
    session::mark_started();
    if let Ok(addr) = listener.local_addr() {
        match &settings.pool {
            Some(pool) => {
                info!(%addr, pool = %pool.name, servers = pool.servers.len(), "slotway listening (sharded pool)")
            }
            None => info!(%addr, seeds = ?settings.seeds, "slotway listening"),
        }
        if !addr.ip().is_loopback() && settings.requirepass.is_none() {
            warn!(
                %addr,
                "listening beyond loopback with no authentication (proxy.requirepass): anyone who can reach this address can use the whole cluster"
            );
        }
    }
    tokio::pin!(shutdown);
    let result = loop {
        tokio::select! {
            () = &mut shutdown => break Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    crate::stats::bump(&observer.stats.total_connections, 1);
                    sessions.spawn(session::run(stream, shared.clone(), stop.clone()));
                }
                Err(e) if is_transient(&e) => {
                    // Out of descriptors or a connection reset before accept:
                    // keep serving the clients we have, try again shortly.
                    warn!(error = %e, "accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => break Err(RunError::Listener(e)),
            },
        }
    };
    drop(listener);
    info!(
        clients = sessions.len(),
        "shutting down: finishing in-flight requests"
    );
    stop.cancel();
    sessions.close();
    if tokio::time::timeout(settings.shutdown_grace, sessions.wait())
        .await
        .is_err()
    {
        warn!(
            clients = sessions.len(),
            "grace period over; closing the remaining connections"
        );
    }
    refresher.abort();
    result
}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionReset, Interrupted, WouldBlock};
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    ) || matches!(e.raw_os_error(), Some(23 | 24 | 12 | 105))
}
