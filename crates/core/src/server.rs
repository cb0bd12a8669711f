//! The accept loop and graceful shutdown: [`run`] is the proxy's entry point.
//!
//! `run` takes an already-bound listener (tests bind port 0) and a shutdown
//! future. On shutdown it stops accepting, lets every session finish the
//! requests it has in flight (reading nothing new) for up to the grace
//! period, stops the topology refresher, and returns.
//!
//! Admission: at most `proxy.maxclients` sessions run at once; a client
//! beyond that gets Redis's `-ERR max number of clients reached` (one
//! non-blocking write, never waited on) and is closed. Accepted sockets get
//! TCP keepalive (`proxy.tcp_keepalive`) so dead peers are eventually noticed.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::cluster::Topology;
use crate::cluster::refresh::{self, RefreshTiming};
use crate::cluster::table::NodeParams;
use crate::config::Settings;
use crate::error::RunError;
use crate::session::{self, SessionSettings, Shared};

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
    let topology = Arc::new(Topology::new(
        settings.seeds.clone(),
        NodeParams {
            connections_per_node: settings.connections_per_node,
            connect_timeout: settings.connect_timeout,
            reply_timeout: settings.reply_timeout,
            write_ack: settings.write_ack,
        },
    ));
    let stop = CancellationToken::new();
    let refresher = tokio::spawn(refresh::run(
        topology.clone(),
        RefreshTiming {
            interval: settings.refresh_interval,
            debounce: settings.refresh_debounce,
            connect_timeout: settings.connect_timeout,
            query_timeout: settings.query_timeout,
        },
        stop.child_token(),
    ));
    let shared = Arc::new(Shared {
        topology,
        clients: Arc::default(),
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
            client_limits: settings.client_limits,
        },
        budget: session::limits::Budget::default(),
    });
    let maxclients = settings.client_limits.maxclients;
    let keepalive = settings.client_limits.tcp_keepalive;
    let sessions = TaskTracker::new();
    session::mark_started();
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, seeds = ?settings.seeds, "slotway listening");
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
                Ok((stream, peer)) => {
                    if sessions.len() >= maxclients {
                        refuse(&stream, peer);
                        continue;
                    }
                    if let Some(idle) = keepalive {
                        set_keepalive(&stream, idle);
                    }
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

/// Redis's answer to a client beyond `maxclients`: the error, if the socket
/// takes it at once, then the connection is dropped.
fn refuse(stream: &TcpStream, peer: SocketAddr) {
    let _ = stream.try_write(b"-ERR max number of clients reached\r\n");
    // Debug only: a connection flood must not flood the log too.
    debug!(%peer, "refused a client: proxy.maxclients reached");
}

/// Keepalive probes after `idle` of silence, then every third of it, three
/// probes (Redis's `anetKeepAlive`): a vanished peer is dropped after about
/// twice `idle`.
fn set_keepalive(stream: &TcpStream, idle: Duration) {
    let interval = (idle / 3).max(Duration::from_secs(1));
    let params = socket2::TcpKeepalive::new()
        .with_time(idle)
        .with_interval(interval)
        .with_retries(3);
    if let Err(e) = socket2::SockRef::from(stream).set_tcp_keepalive(&params) {
        debug!(error = %e, "could not set TCP keepalive on a client socket");
    }
}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionReset, Interrupted, WouldBlock};
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    ) || matches!(e.raw_os_error(), Some(23 | 24 | 12 | 105))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn client_sockets_get_redis_style_keepalive() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        set_keepalive(&server, Duration::from_secs(300));
        let sock = socket2::SockRef::from(&server);
        assert!(sock.keepalive().unwrap());
        assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(300));
        assert_eq!(
            sock.tcp_keepalive_interval().unwrap(),
            Duration::from_secs(100)
        );
        assert_eq!(sock.tcp_keepalive_retries().unwrap(), 3);
    }
}
