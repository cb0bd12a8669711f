//! [`Node`]: the shared connections of one Redis node address.
//!
//! A replica that serves reads is a separate `Node` whose connections send
//! `READONLY` first.
//!
//! A node has `connections_per_node` connections for RESP2 clients and as
//! many for RESP3 clients (their replies differ in form, so they cannot share
//! a connection), and that for each thread-per-core worker
//! ([`crate::workers`]): a session uses its own worker's, so a request and
//! its reply stay on one thread. A client always uses the same connection of
//! a node (its worker's group, `client id mod n` in it), so its pipeline to
//! that node is never reordered.
//! Dropping the last `Arc<Node>` closes its connections once their in-flight
//! requests are answered.

use std::sync::Arc;

use slotway_resp::Protocol;
use tokio::sync::Notify;

use super::conn::{self, ConnHandle, ConnParams};
use super::dedicated::LeasePool;
use crate::cluster::table::NodeParams;

/// Connections to one node.
#[derive(Debug)]
pub struct Node {
    addr: Arc<str>,
    resp2: Box<[ConnHandle]>,
    resp3: Box<[ConnHandle]>,
    /// Connections per worker and protocol (`resp2`/`resp3` hold one group
    /// of this many per worker, worker 0's first).
    per_worker: usize,
    dedicated: LeasePool,
    stats: Arc<crate::stats::NodeStats>,
}

impl Node {
    /// Starts (lazily connecting) connection tasks for `addr`. Must run inside
    /// a tokio runtime.
    #[must_use]
    pub fn new(
        addr: Arc<str>,
        params: &NodeParams,
        on_failure: &Arc<Notify>,
        readonly: bool,
    ) -> Self {
        let connect_timeout = params.connect_timeout;
        let stats = Arc::new(crate::stats::NodeStats::default());
        // Replicas serve reads and never confirm writes.
        let write_ack = if readonly { None } else { params.write_ack };
        let per_worker = params.connections_per_node.max(1);
        let workers = &params.workers;
        let make = |protocol| {
            (0..workers.len() * per_worker)
                .map(|i| {
                    let conn_params = ConnParams {
                        addr: addr.clone(),
                        protocol,
                        connect_timeout,
                        on_failure: on_failure.clone(),
                        abort: None,
                        stream: None,
                        readonly,
                        reply_timeout: Some(params.reply_timeout),
                        write_ack,
                        prelude: params.prelude.clone(),
                        stats: stats.clone(),
                    };
                    conn::spawn_on(conn_params, workers, i / per_worker)
                })
                .collect::<Box<[_]>>()
        };
        let resp2 = make(Protocol::Resp2);
        let resp3 = make(Protocol::Resp3);
        let dedicated = LeasePool::new(
            addr.clone(),
            connect_timeout,
            on_failure.clone(),
            params.prelude.clone(),
            stats.clone(),
            write_ack,
            params.reply_timeout,
        );
        Self {
            addr,
            resp2,
            resp3,
            per_worker,
            dedicated,
            stats,
        }
    }

    /// This node's counters.
    #[must_use]
    pub fn stats(&self) -> &Arc<crate::stats::NodeStats> {
        &self.stats
    }

    /// `host:port`.
    #[must_use]
    pub fn addr(&self) -> &Arc<str> {
        &self.addr
    }

    /// Dedicated connections of this node (blocking commands, WATCH,
    /// subscribers).
    #[must_use]
    pub fn dedicated(&self) -> &LeasePool {
        &self.dedicated
    }

    /// The connection client `client_id` uses for this node.
    #[must_use]
    pub fn conn(&self, protocol: Protocol, client_id: u64) -> Option<&ConnHandle> {
        let set = match protocol {
            Protocol::Resp2 => &self.resp2,
            Protocol::Resp3 => &self.resp3,
        };
        let per = self.per_worker.max(1);
        let groups = set.len() / per;
        if groups == 0 {
            return None;
        }
        // Outside thread-per-core workers `current()` is 0: the one group.
        let group = crate::workers::current() % groups;
        let within = usize::try_from(client_id % per as u64).ok()?;
        set.get(group * per + within)
    }
}
