//! Backend connection statistics, per node address: connections up, requests
//! queued or in flight, connect failures, and whether the last connect
//! attempt failed (the node's health as the proxy sees it).
//!
//! Kept in a process-wide registry keyed by address, so a connection task
//! finds its node's entry once, when it starts, without any handle threaded
//! through the node constructors. A proxy process serves one cluster; tests
//! that run several proxies use clusters on distinct ports, so entries never
//! mix. Each connection owns its own depth cell (written by it alone, summed
//! when read), so the hot path never contends on a shared counter.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;

/// Statistics of one node address.
#[derive(Debug, Default)]
pub struct NodeStats {
    /// Connections currently up (shared and dedicated).
    connected: AtomicI64,
    /// Connects that failed, ever.
    connect_failures: AtomicU64,
    /// Connects that succeeded, ever.
    connects: AtomicU64,
    /// The last connect attempt failed.
    last_failed: AtomicBool,
    /// Each live connection task's depth cell.
    conns: Mutex<Vec<Weak<ConnDepth>>>,
}

/// Requests one connection task holds: queued for writing plus in flight.
#[derive(Debug, Default)]
pub struct ConnDepth(AtomicUsize);

impl ConnDepth {
    /// Records the current depth (a plain store by the owning task).
    pub fn set(&self, depth: usize) {
        self.0.store(depth, Ordering::Relaxed);
    }
}

/// Marks a connection up until dropped.
#[derive(Debug)]
pub struct Up(Arc<NodeStats>);

impl Drop for Up {
    fn drop(&mut self) {
        self.0.connected.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What a connection task holds: its node's statistics and its depth cell.
#[derive(Debug)]
pub struct ConnStats {
    node: Arc<NodeStats>,
    /// This connection's depth.
    pub depth: Arc<ConnDepth>,
}

impl ConnStats {
    /// A connect succeeded: the connection counts as up until the guard drops.
    #[must_use]
    pub fn connected(&self) -> Up {
        self.node.connected.fetch_add(1, Ordering::Relaxed);
        self.node.connects.fetch_add(1, Ordering::Relaxed);
        self.node.last_failed.store(false, Ordering::Relaxed);
        Up(self.node.clone())
    }

    /// A connect failed.
    pub fn connect_failed(&self) {
        self.node.connect_failures.fetch_add(1, Ordering::Relaxed);
        self.node.last_failed.store(true, Ordering::Relaxed);
    }
}

type Nodes = Mutex<HashMap<Arc<str>, Arc<NodeStats>>>;

fn nodes() -> &'static Nodes {
    static NODES: OnceLock<Nodes> = OnceLock::new();
    NODES.get_or_init(Nodes::default)
}

/// Called once by each connection task when it starts.
#[must_use]
pub fn conn_stats(addr: &Arc<str>) -> ConnStats {
    let node = nodes().lock().entry(addr.clone()).or_default().clone();
    let depth = Arc::new(ConnDepth::default());
    let mut conns = node.conns.lock();
    conns.retain(|w| w.strong_count() > 0);
    conns.push(Arc::downgrade(&depth));
    drop(conns);
    ConnStats { node, depth }
}

/// A node's health as the proxy sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// At least one connection is up and the last connect succeeded.
    Up,
    /// The last connect attempt failed.
    Down,
    /// No connection has been tried yet (they open on first use).
    Unknown,
}

impl Health {
    /// Lowercase name for JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Up => "up",
            Health::Down => "down",
            Health::Unknown => "unknown",
        }
    }
}

/// A snapshot of one node's statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeSnapshot {
    /// Connections up now.
    pub connections: u64,
    /// Requests queued or in flight over all its connections.
    pub queue_depth: u64,
    /// Successful connects, ever.
    pub connects: u64,
    /// Failed connects, ever.
    pub connect_failures: u64,
    /// Health.
    pub health: Health,
}

/// The statistics of `addr` (zeros if nothing ever connected there).
#[must_use]
pub fn snapshot(addr: &str) -> NodeSnapshot {
    let node = nodes().lock().get(addr).cloned();
    let Some(node) = node else {
        return NodeSnapshot {
            connections: 0,
            queue_depth: 0,
            connects: 0,
            connect_failures: 0,
            health: Health::Unknown,
        };
    };
    let queue_depth = node
        .conns
        .lock()
        .iter()
        .filter_map(Weak::upgrade)
        .map(|d| d.0.load(Ordering::Relaxed) as u64)
        .sum();
    let connections = u64::try_from(node.connected.load(Ordering::Relaxed)).unwrap_or(0);
    let connects = node.connects.load(Ordering::Relaxed);
    let health = if node.last_failed.load(Ordering::Relaxed) {
        Health::Down
    } else if connects > 0 {
        Health::Up
    } else {
        Health::Unknown
    };
    NodeSnapshot {
        connections,
        queue_depth,
        connects,
        connect_failures: node.connect_failures.load(Ordering::Relaxed),
        health,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn connections_depth_and_health() {
        let addr: Arc<str> = Arc::from("test-node:1");
        assert_eq!(snapshot(&addr).health, Health::Unknown);
        let a = conn_stats(&addr);
        let b = conn_stats(&addr);
        a.connect_failed();
        assert_eq!(snapshot(&addr).health, Health::Down);
        let up = a.connected();
        a.depth.set(3);
        b.depth.set(4);
        let s = snapshot(&addr);
        assert_eq!((s.connections, s.queue_depth, s.health), (1, 7, Health::Up));
        assert_eq!((s.connects, s.connect_failures), (1, 1));
        drop(up);
        drop(b);
        let s = snapshot(&addr);
        assert_eq!((s.connections, s.queue_depth), (0, 3));
    }
}
