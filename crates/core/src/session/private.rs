//! Multiplexing off: a client's own node connections.
//!
//! After `PROXY MULTIPLEXING OFF` (or from the start with
//! `proxy.disable_multiplexing = "always"`), every request a client would
//! send on a node's shared connections goes instead on a connection leased
//! for this client alone, one per node it talks to, opened lazily by the
//! node's dedicated pool ([`crate::backend::LeasePool::private`], under the
//! shared connections' reply timeout, never pooled). Blocking commands,
//! WATCH, transactions and subscriptions keep their own connections, as
//! before.
//!
//! Invariants:
//! - Per-node order holds across the switch: the first request sent
//!   privately waits until no earlier request of the client is still in
//!   flight on a shared connection (until then requests stay shared), so a
//!   read sent after a write can never overtake it on another socket.
//! - Once active, it stays active for the client's life (as in
//!   redis-cluster-proxy); the leases are dropped with the session, which
//!   aborts their sockets (the nodes see the client leave at once).
//! - MOVED/ASK are followed exactly as for shared connections: a redirected
//!   unit is dispatched again and takes (or opens) the private connection
//!   of its new node.
//! - With credential pass-through ([`super::passthru`]) the connections
//!   authenticate with the client's own credentials, and so does every
//!   connection the client leases for itself (blocking commands, WATCH,
//!   subscriptions): nothing it sends runs with the proxy's identity.

use std::sync::Arc;

use slotway_resp::Protocol;

use super::queue::{Entry, Queue, SEQ_MASK, Unit, Via};
use crate::backend::{ConnHandle, Credentials, Lease, Node};

/// The private connections of one client.
#[derive(Debug, Default)]
pub(super) struct Private {
    /// Requests now go on private connections.
    active: bool,
    /// One lease per node (and protocol) this client talked to.
    conns: Vec<(Protocol, Lease)>,
    /// The client's own backend credentials, once the cluster accepted them.
    pub(super) creds: Option<Arc<Credentials>>,
    /// A pass-through AUTH in the queue (its sequence number) and whether
    /// it was sent: until it is answered no later request is read.
    pub(super) verifying: Option<(u64, bool)>,
}

impl Private {
    /// Whether requests go on private connections.
    pub(super) fn is_active(&self) -> bool {
        self.active
    }

    /// This client's connection to `node`, leased on first use.
    pub(super) fn conn(&mut self, node: &Node, protocol: Protocol) -> Option<ConnHandle> {
        let found = self
            .conns
            .iter()
            .position(|(p, l)| *p == protocol && Arc::ptr_eq(l.addr(), node.addr()));
        let idx = match found {
            Some(i) => i,
            None => {
                let lease = node.dedicated().private(protocol, self.creds.as_deref());
                self.conns.push((protocol, lease));
                self.conns.len() - 1
            }
        };
        self.conns.get(idx).and_then(|(_, l)| l.conn()).cloned()
    }

    /// A connection of `node` for one use (blocking command, WATCH), with
    /// the client's identity.
    pub(super) fn lease(&self, node: &Node, protocol: Protocol) -> Lease {
        node.dedicated().lease(protocol, self.creds.as_deref())
    }

    /// Runs as `creds` from now on (`None`: the proxy's identity), on
    /// private connections. Call only with nothing in flight: the old
    /// connections are closed.
    pub(super) fn switch(&mut self, creds: Option<Arc<Credentials>>) {
        self.conns.clear();
        self.creds = creds;
        self.active = true;
    }

    /// Forgets the connection to `addr` (its node left the topology): the
    /// next request leases a new one.
    pub(super) fn forget(&mut self, addr: &Arc<str>) {
        self.conns.retain(|(_, l)| !Arc::ptr_eq(l.addr(), addr));
    }
}

impl Queue {
    /// Before dispatching `tag`: switches to private connections if the
    /// client asked for them and nothing older is in flight on a shared
    /// connection. Costs nothing once switched (or while not asked).
    pub(super) fn maybe_go_private(&mut self, tag: u64) {
        if !self.client.private || self.private.is_active() {
            return;
        }
        let seq = tag & SEQ_MASK;
        let older = usize::try_from(seq.saturating_sub(self.head_seq)).unwrap_or(usize::MAX);
        let busy = |u: &Unit| u.reply.is_none() && matches!(u.via, Via::Shared);
        let shared_in_flight = self.entries.iter().take(older).any(|e| match e {
            Entry::One(u) | Entry::Scan(u, _) => busy(u),
            Entry::Multi(m) => m.units.iter().any(busy),
            _ => false,
        });
        if !shared_in_flight {
            self.private.active = true;
        }
    }
}
