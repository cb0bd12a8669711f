//! Dedicated connections: ones a single client uses alone, because what it
//! sends changes the connection's state or holds it (blocking commands,
//! WATCH … EXEC, pub/sub subscriptions).
//!
//! A [`Lease`] lends a pooled connection of a node to one client. Returned
//! with [`Lease::release`] once its reply has arrived (the connection is then
//! clean: a blocking command has answered, EXEC/UNWATCH cleared the watches),
//! it goes back to the node's idle pool for the next client. Dropped without
//! being released — the client disconnected while blocked — it aborts its
//! connection: closing the socket is how Redis learns the client is gone,
//! so a BLPOP that is no longer wanted cannot pop an element later.
//!
//! A [`StreamConn`] is a subscriber connection: never pooled, aborted on drop.
//!
//! [`LeasePool::private`] opens a client's own connection when multiplexing
//! is off: it carries what a shared connection carries (never a blocking
//! command, which still takes a lease), so it has the shared connections'
//! reply timeout — a node that stops answering does not hold the client for
//! ever — and, as it is the client's for its whole life, is never pooled.
//!
//! Credential pass-through: a client authenticated as its own backend user
//! gets connections opened with its [`Credentials`] (they re-authenticate
//! the same way when they reconnect). Those are never taken from nor
//! returned to the pool — a pooled connection must carry the proxy's
//! identity — so their release closes them.
//!
//! With `cluster.write_ack`, leased connections confirm writes like shared
//! ones: a blocking command that writes (BLPOP, BLMOVE …) or a WATCHed EXEC
//! has its reply held until the `WAIT` that follows it on the same
//! connection answers. Subscriber connections carry no writes.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use slotway_resp::Protocol;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::Credentials;
use super::conn::{self, ConnHandle, ConnParams};
use super::sink::ReplySink;

/// Idle dedicated connections kept per node and protocol.
const MAX_IDLE: usize = 16;

type Idle = Mutex<Vec<(ConnHandle, CancellationToken)>>;

/// A node's idle dedicated connections.
#[derive(Debug)]
pub struct LeasePool {
    addr: Arc<str>,
    connect_timeout: Duration,
    on_failure: Arc<Notify>,
    prelude: super::Prelude,
    stats: Arc<crate::stats::NodeStats>,
    write_ack: Option<super::conn::WriteAck>,
    /// The shared connections' reply timeout, for private connections.
    reply_timeout: Duration,
    resp2: Arc<Idle>,
    resp3: Arc<Idle>,
}

impl LeasePool {
    /// An empty pool for the node at `addr`.
    #[must_use]
    pub fn new(
        addr: Arc<str>,
        connect_timeout: Duration,
        on_failure: Arc<Notify>,
        prelude: super::Prelude,
        stats: Arc<crate::stats::NodeStats>,
        write_ack: Option<super::conn::WriteAck>,
        reply_timeout: Duration,
    ) -> Self {
        Self {
            addr,
            connect_timeout,
            on_failure,
            prelude,
            stats,
            write_ack,
            reply_timeout,
            resp2: Arc::default(),
            resp3: Arc::default(),
        }
    }

    fn idle(&self, protocol: Protocol) -> &Arc<Idle> {
        match protocol {
            Protocol::Resp2 => &self.resp2,
            Protocol::Resp3 => &self.resp3,
        }
    }

    /// A new abortable connection of this node; `reply_timeout: None` for
    /// those whose requests may wait on purpose.
    fn spawn(
        &self,
        protocol: Protocol,
        stream: Option<(Arc<ReplySink>, u64)>,
        creds: Option<&Credentials>,
        reply_timeout: Option<Duration>,
    ) -> (ConnHandle, CancellationToken) {
        let abort = CancellationToken::new();
        let write_ack = if stream.is_none() {
            self.write_ack
        } else {
            None
        };
        let handle = conn::spawn(ConnParams {
            addr: self.addr.clone(),
            protocol,
            connect_timeout: self.connect_timeout,
            on_failure: self.on_failure.clone(),
            abort: Some(abort.clone()),
            stream,
            readonly: false,
            reply_timeout,
            write_ack,
            prelude: creds.map_or_else(|| self.prelude.clone(), |c| c.prelude(&self.prelude)),
            stats: self.stats.clone(),
        });
        (handle, abort)
    }

    /// Lends a connection: an idle one, or a new one (connecting lazily);
    /// always a new, unpooled one authenticating with `creds` when given.
    #[must_use]
    pub fn lease(&self, protocol: Protocol, creds: Option<&Credentials>) -> Lease {
        if creds.is_some() {
            return self.unpooled(protocol, creds, None);
        }
        let idle = self.idle(protocol);
        let reused = idle.lock().pop();
        let (handle, abort) = reused.unwrap_or_else(|| self.spawn(protocol, None, None, None));
        Lease {
            conn: Some((handle, abort)),
            home: Some(idle.clone()),
            addr: self.addr.clone(),
        }
    }

    /// Opens a client's own connection (multiplexing off), authenticating
    /// with `creds` when given: under the reply timeout, never pooled.
    #[must_use]
    pub fn private(&self, protocol: Protocol, creds: Option<&Credentials>) -> Lease {
        self.unpooled(protocol, creds, Some(self.reply_timeout))
    }

    /// A new connection that is never pooled: its release closes it.
    fn unpooled(
        &self,
        protocol: Protocol,
        creds: Option<&Credentials>,
        reply_timeout: Option<Duration>,
    ) -> Lease {
        Lease {
            conn: Some(self.spawn(protocol, None, creds, reply_timeout)),
            home: None,
            addr: self.addr.clone(),
        }
    }

    /// Opens a subscriber connection whose every frame goes to `sink` with
    /// `tag` (authenticating with `creds` when given).
    #[must_use]
    pub fn stream(
        &self,
        protocol: Protocol,
        sink: Arc<ReplySink>,
        tag: u64,
        creds: Option<&Credentials>,
    ) -> StreamConn {
        let (handle, abort) = self.spawn(protocol, Some((sink, tag)), creds, None);
        StreamConn {
            handle,
            abort,
            addr: self.addr.clone(),
        }
    }
}

/// A dedicated connection lent to one client.
#[derive(Debug)]
pub struct Lease {
    conn: Option<(ConnHandle, CancellationToken)>,
    /// The pool it returns to; `None`: never pooled (a client's credentials).
    home: Option<Arc<Idle>>,
    addr: Arc<str>,
}

impl Lease {
    /// The connection.
    #[must_use]
    pub fn conn(&self) -> Option<&ConnHandle> {
        self.conn.as_ref().map(|(h, _)| h)
    }

    /// The node it connects to.
    #[must_use]
    pub fn addr(&self) -> &Arc<str> {
        &self.addr
    }

    /// Gives the connection back for reuse. Call only when nothing is in
    /// flight on it and it holds no client state.
    pub fn release(mut self) {
        if let Some(conn) = self.conn.take() {
            let Some(home) = &self.home else {
                return conn.1.cancel();
            };
            let mut idle = home.lock();
            if idle.len() < MAX_IDLE && !conn.1.is_cancelled() {
                idle.push(conn);
            } else {
                conn.1.cancel();
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some((_, abort)) = self.conn.take() {
            abort.cancel();
        }
    }
}

/// A subscriber connection; closed when dropped.
#[derive(Debug)]
pub struct StreamConn {
    handle: ConnHandle,
    abort: CancellationToken,
    addr: Arc<str>,
}

impl StreamConn {
    /// The connection.
    #[must_use]
    pub fn conn(&self) -> &ConnHandle {
        &self.handle
    }

    /// The node it connects to.
    #[must_use]
    pub fn addr(&self) -> &Arc<str> {
        &self.addr
    }
}

impl Drop for StreamConn {
    fn drop(&mut self) {
        self.abort.cancel();
    }
}
