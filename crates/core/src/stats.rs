//! Counters an operator reads: per proxy (twemproxy's pool stats) and per
//! backend node (its server stats). Plain relaxed atomics, bumped once per
//! batch or per event, never behind a lock or a label lookup.
//!
//! Invariants: counters only grow; gauges are maintained by deltas from
//! the one task that owns what they measure, so they return to 0 when that
//! task ends.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// One backend node's counters (nutcracker's per-server stats).
#[derive(Debug, Default)]
pub struct NodeStats {
    /// The node closed a connection.
    pub server_eof: AtomicU64,
    /// Connect or I/O errors.
    pub server_err: AtomicU64,
    /// Connections closed because the node stopped answering.
    pub server_timedout: AtomicU64,
    /// Open connections (gauge).
    pub server_connections: AtomicI64,
    /// Requests written (or queued to be) to the node.
    pub requests: AtomicU64,
    /// Their bytes.
    pub request_bytes: AtomicU64,
    /// Replies received.
    pub responses: AtomicU64,
    /// Their bytes.
    pub response_bytes: AtomicU64,
    /// Requests waiting to be written (gauge).
    pub in_queue: AtomicI64,
    /// Their bytes (gauge).
    pub in_queue_bytes: AtomicI64,
    /// Requests written and waiting for their reply (gauge).
    pub out_queue: AtomicI64,
    /// Their bytes (gauge).
    pub out_queue_bytes: AtomicI64,
}

/// Adds `n` to a counter.
pub(crate) fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// Reads a counter.
#[must_use]
pub fn read(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// Reads a gauge (never below 0).
#[must_use]
pub fn gauge(g: &AtomicI64) -> u64 {
    u64::try_from(g.load(Ordering::Relaxed)).unwrap_or(0)
}

/// A connection task's share of its node's queue gauges: it publishes
/// changes as deltas and withdraws its share when it ends.
#[derive(Debug, Default)]
pub(crate) struct QueueShare {
    last: [i64; 4],
}

impl QueueShare {
    /// Publishes `(in_queue, in_queue_bytes, out_queue, out_queue_bytes)`.
    pub(crate) fn publish(&mut self, stats: &NodeStats, now: [i64; 4]) {
        if now == self.last {
            return;
        }
        let gauges = [
            &stats.in_queue,
            &stats.in_queue_bytes,
            &stats.out_queue,
            &stats.out_queue_bytes,
        ];
        for ((g, new), old) in gauges.iter().zip(now).zip(self.last) {
            if new != old {
                g.fetch_add(new - old, Ordering::Relaxed);
            }
        }
        self.last = now;
    }
}

/// The proxy's own counters (nutcracker's pool stats).
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Client connections ever accepted.
    pub total_connections: AtomicU64,
    /// Clients that closed their connection.
    pub client_eof: AtomicU64,
    /// Client errors: protocol errors and refused commands.
    pub client_err: AtomicU64,
    /// Error replies the proxy made for backend failures.
    pub forward_error: AtomicU64,
    /// Sub-requests of split multi-key commands.
    pub fragments: AtomicU64,
    /// Pool servers ejected (`auto_eject_hosts`).
    pub server_ejects: AtomicU64,
    /// Per pool server, µs since the epoch of its last ejection (0: never).
    pub server_ejected_at: parking_lot::Mutex<Vec<u64>>,
}
