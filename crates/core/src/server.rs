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
//!
//! With thread-per-core workers ([`crate::workers`]) each new client is
//! handed to the next worker (round robin) and its session runs there for
//! its whole life.
//!
//! Several listeners (plaintext and TLS) share one loop, one client limit
//! and one shutdown. A TLS client's handshake runs in its session task under
//! `tls.handshake_timeout_ms`, never here: a slow or silent client cannot
//! hold up accepting others.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::cluster::refresh::{self, RefreshTiming};
use crate::config::Settings;
use crate::engine::Engine;
use crate::error::RunError;
use crate::pool::{self, PoolTiming};
use crate::session;
use crate::tls::ClientTls;

/// Redis's reply to a client beyond `maxclients`.
const MAXCLIENTS_REPLY: &[u8] = b"-ERR max number of clients reached\r\n";

/// Where clients connect: TCP, or a unix socket (a pool's `listen: /path`).
#[derive(Debug)]
pub enum ClientListener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A unix-socket listener.
    Unix(tokio::net::UnixListener),
    /// A TCP listener whose clients speak TLS.
    Tls(TcpListener, Arc<ClientTls>),
}

impl From<TcpListener> for ClientListener {
    fn from(l: TcpListener) -> Self {
        Self::Tcp(l)
    }
}

impl From<tokio::net::UnixListener> for ClientListener {
    fn from(l: tokio::net::UnixListener) -> Self {
        Self::Unix(l)
    }
}

enum Accepted {
    Tcp(TcpStream, SocketAddr, Option<Arc<ClientTls>>),
    Unix(tokio::net::UnixStream),
}

impl ClientListener {
    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<Accepted>> {
        match self {
            Self::Tcp(l) => l
                .poll_accept(cx)
                .map_ok(|(s, peer)| Accepted::Tcp(s, peer, None)),
            Self::Tls(l, tls) => l
                .poll_accept(cx)
                .map_ok(|(s, peer)| Accepted::Tcp(s, peer, Some(tls.clone()))),
            Self::Unix(l) => l.poll_accept(cx).map_ok(|(s, _)| Accepted::Unix(s)),
        }
    }

    fn tcp(&self) -> Option<&TcpListener> {
        match self {
            Self::Tcp(l) | Self::Tls(l, _) => Some(l),
            Self::Unix(_) => None,
        }
    }
}

/// The next client of any listener. The first listener polled turns with
/// each call, so a busy one cannot starve the others.
async fn accept_any(listeners: &[ClientListener], turn: &mut usize) -> std::io::Result<Accepted> {
    *turn = turn.wrapping_add(1);
    let start = *turn;
    std::future::poll_fn(|cx| {
        let n = listeners.len();
        for i in 0..n {
            if let Some(l) = listeners.get((start + i) % n)
                && let Poll::Ready(r) = l.poll_accept(cx)
            {
                return Poll::Ready(r);
            }
        }
        Poll::Pending
    })
    .await
}

/// Serves clients on `listener` in front of the cluster of `settings` until
/// `shutdown` completes.
///
/// # Errors
/// Only if the listener fails for good; a cluster that cannot be reached is
/// not an error (clients get `-CLUSTERDOWN` until it can).
pub async fn run(
    listener: impl Into<ClientListener>,
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    serve(listener, Engine::new(settings), shutdown).await
}

/// [`run`] with an engine built beforehand, so that the admin listener
/// ([`crate::admin::run`]) can share it.
///
/// # Errors
/// Only if the listener fails for good.
pub async fn serve(
    listener: impl Into<ClientListener>,
    engine: Arc<Engine>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    serve_listeners(vec![listener.into()], engine, shutdown).await
}

/// [`serve`] on several listeners at once (the plaintext one and the TLS
/// one), with one client limit and one shutdown for all.
///
/// # Errors
/// Only if a listener fails for good.
pub async fn serve_listeners(
    listeners: Vec<ClientListener>,
    engine: Arc<Engine>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let settings = engine.settings();
    let shared = engine.shared.clone();
    if let Some(pool) = &settings.pool {
        // A pool's servers are known before the first client: install them
        // now (Sentinel may move some of them moments later).
        let addrs: Vec<String> = pool.servers.iter().map(|s| s.addr.clone()).collect();
        shared.topology.install(&pool::view(&addrs));
    }
    let stop = CancellationToken::new();
    // What keeps the table current: the cluster refresher, or a pool's
    // manager (Sentinel, health, ejection).
    let refresher = match engine.pool_updates() {
        Some(updates) => tokio::spawn(pool::run(
            shared.topology.clone(),
            updates,
            shared.stats.clone(),
            PoolTiming {
                connect_timeout: settings.connect_timeout,
                query_timeout: settings.query_timeout,
            },
            // Served once per engine; a second serve gets a detached control.
            engine
                .take_pool_control()
                .unwrap_or_else(pool::Control::detached),
            stop.child_token(),
        )),
        None => tokio::spawn(refresh::run(
            shared.topology.clone(),
            RefreshTiming {
                interval: settings.refresh_interval,
                debounce: settings.refresh_debounce,
                connect_timeout: settings.connect_timeout,
                query_timeout: settings.query_timeout,
            },
            shared.metrics.clone(),
            stop.child_token(),
        )),
    };
    let keepalive = settings.client_limits.tcp_keepalive;
    let sessions = TaskTracker::new();
    session::mark_started();
    announce(&listeners, &engine);
    let mut turn = 0usize;
    tokio::pin!(shutdown);
    let result = loop {
        tokio::select! {
            () = &mut shutdown => break Ok(()),
            // PROXY SHUTDOWN from an admin user: the same graceful path.
            () = shared.shutdown_requested.cancelled() => break Ok(()),
            accepted = accept_any(&listeners, &mut turn) => match accepted {
                Ok(Accepted::Unix(stream)) => {
                    if sessions.len() >= shared.runtime.maxclients() {
                        let _ = stream.try_write(MAXCLIENTS_REPLY);
                        continue;
                    }
                    shared.metrics.clients_accepted.inc();
                    crate::stats::bump(&shared.stats.total_connections, 1);
                    start_session(&sessions, &shared, &stop, Accepted::Unix(stream));
                }
                Ok(Accepted::Tcp(stream, peer, tls)) => {
                    if sessions.len() >= shared.runtime.maxclients() {
                        // A TLS client could not read the plaintext error:
                        // it is just closed.
                        if tls.is_none() {
                            refuse(&stream, peer);
                        }
                        continue;
                    }
                    if let Some(idle) = keepalive {
                        set_keepalive(&stream, idle);
                    }
                    shared.metrics.clients_accepted.inc();
                    crate::stats::bump(&shared.stats.total_connections, 1);
                    start_session(&sessions, &shared, &stop, Accepted::Tcp(stream, peer, tls));
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
    drop(listeners);
    info!(
        clients = sessions.len(),
        "shutting down: finishing in-flight requests"
    );
    stop.cancel();
    // Sessions wait on their bell only (no per-poll token check).
    shared.clients.ring_all(crate::backend::ring::SHUTDOWN);
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

/// Runs a new client's session on the next worker (thread-per-core) or,
/// with a single set, on this runtime. A socket that moves to another
/// worker leaves this runtime's reactor (`into_std`) and joins that one's
/// (`from_std`, on its thread): one pair of `epoll_ctl` per client, never
/// per request.
fn start_session(
    sessions: &TaskTracker,
    shared: &Arc<session::Shared>,
    stop: &CancellationToken,
    client: Accepted,
) {
    let (shared, stop) = (shared.clone(), stop.clone());
    let worker = shared.workers.next();
    if !shared.workers.is_per_core() || worker == crate::workers::current() {
        match client {
            Accepted::Tcp(stream, _, None) => sessions.spawn(session::run(stream, shared, stop)),
            Accepted::Tcp(stream, _, Some(tls)) => {
                sessions.spawn(session::run_tls(stream, tls, shared, stop))
            }
            Accepted::Unix(stream) => sessions.spawn(session::run_unix(stream, shared, stop)),
        };
        return;
    }
    let workers = shared.workers.clone();
    match client {
        Accepted::Tcp(stream, peer, tls) => {
            let std = match stream.into_std() {
                Ok(std) => std,
                Err(e) => return warn!(%peer, error = %e, "could not hand a client to a worker"),
            };
            workers.spawn_on(
                worker,
                sessions.track_future(async move {
                    match (TcpStream::from_std(std), tls) {
                        (Ok(stream), None) => session::run(stream, shared, stop).await,
                        (Ok(stream), Some(tls)) => {
                            session::run_tls(stream, tls, shared, stop).await;
                        }
                        (Err(e), _) => warn!(%peer, error = %e, "a worker could not take a client"),
                    }
                }),
            );
        }
        Accepted::Unix(stream) => {
            let std = match stream.into_std() {
                Ok(std) => std,
                Err(e) => return warn!(error = %e, "could not hand a client to a worker"),
            };
            workers.spawn_on(
                worker,
                sessions.track_future(async move {
                    match tokio::net::UnixStream::from_std(std) {
                        Ok(stream) => session::run_unix(stream, shared, stop).await,
                        Err(e) => warn!(error = %e, "a worker could not take a client"),
                    }
                }),
            );
        }
    }
}

/// Logs where clients can connect (and warns about an open door).
fn announce(listeners: &[ClientListener], engine: &Engine) {
    let settings = engine.settings();
    for listener in listeners {
        if let ClientListener::Unix(unix) = listener {
            let path = unix
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(|p| p.display().to_string()));
            info!(path = ?path, pool = ?settings.pool.as_ref().map(|p| &p.name), "slotway listening on a unix socket");
            continue;
        }
        let Some(tcp) = listener.tcp() else { continue };
        let Ok(addr) = tcp.local_addr() else { continue };
        let tls = matches!(listener, ClientListener::Tls(..));
        if !tls {
            engine.set_listening(addr);
        }
        match &settings.pool {
            Some(pool) => {
                info!(%addr, tls, pool = %pool.name, servers = pool.servers.len(), "slotway listening (sharded pool)");
            }
            None => info!(%addr, tls, seeds = ?settings.seeds, "slotway listening"),
        }
        if !addr.ip().is_loopback() && settings.users.starts_authenticated() {
            warn!(
                %addr,
                "listening beyond loopback with no authentication (proxy.requirepass or a restricted default user in [[users]]): anyone who can reach this address can use the whole cluster"
            );
        }
    }
}

/// Redis's answer to a client beyond `maxclients`: the error, if the socket
/// takes it at once, then the connection is dropped.
fn refuse(stream: &TcpStream, peer: SocketAddr) {
    let _ = stream.try_write(MAXCLIENTS_REPLY);
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
