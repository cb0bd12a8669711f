//! The proxy's metrics: what the admin API shows and `/metrics` exposes in
//! Prometheus (OpenMetrics) text.
//!
//! - [`commands`]: per-command calls, errors and time, indexed by the
//!   command table (bounded labels, no lookup on the hot path).
//! - [`histogram`]: lock-free latency histograms by command class.
//! - [`backend`]: per-node connection counts, queue depth, health.
//! - [`expose`]: the Prometheus text, built from snapshots at scrape time.
//!
//! Invariants: every handle the data path touches is resolved when the proxy
//! starts (a field of [`Metrics`], or a slot found by table position); the
//! hot path does relaxed atomic adds only — no lock, no allocation, no label
//! lookup, no clock read of its own. Label sets are bounded: command names
//! come from the command table, classes and redirect kinds are fixed, nodes
//! are those of the current topology.

pub mod backend;
pub mod commands;
pub mod expose;
pub mod histogram;

use std::sync::atomic::{AtomicU64, Ordering};

pub use commands::{Class, CommandId, CommandTable, Identified, LastCommand, identify};
pub use histogram::Histogram;

/// A monotonically growing count.
#[derive(Debug, Default)]
pub struct Count(AtomicU64);

impl Count {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current value.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Redirect kinds (bounded label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectKind {
    /// `-MOVED`
    Moved,
    /// `-ASK`
    Ask,
    /// `-TRYAGAIN` / `-CLUSTERDOWN` (retried after a delay)
    TryAgain,
}

/// One proxy's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Per-command counters.
    pub commands: CommandTable,
    /// End-to-end latency by class (read, write, other).
    latency: [Histogram; 3],
    /// Client connections accepted, ever.
    pub clients_accepted: Count,
    /// Bytes read from clients.
    pub bytes_in: Count,
    /// Bytes written to clients.
    pub bytes_out: Count,
    /// Redirects followed, by kind.
    redirects: [Count; 3],
    /// Requests scheduled for a retry (parked or after a lost connection).
    pub retries: Count,
    /// Requests that had to wait for a reachable owner of their slot.
    pub parked: Count,
    /// Topology refreshes started.
    pub refreshes_started: Count,
    /// Topology refreshes that installed a view.
    pub refreshes_ok: Count,
    /// Topology refreshes where no node answered.
    pub refreshes_failed: Count,
    /// Clients read past the output back-pressure mark after reading none
    /// of their output for a clock tick (`session::stall`).
    pub pipeline_stalls: Count,
}

impl Metrics {
    /// Counts one answered request of `usec` microseconds (a blocking
    /// command's wait is not latency: it is counted without its time).
    pub fn record(&self, what: Identified, usec: u64, failed: bool) {
        self.record_many(what, usec, 1, u64::from(failed));
    }

    /// Counts `count` answered requests of the same command that took
    /// `usec` microseconds each, `failed` of them with an error.
    pub fn record_many(&self, what: Identified, usec: u64, count: u64, failed: u64) {
        if what.blocking {
            self.commands.record(what.id, count, 0, failed);
            return;
        }
        self.commands
            .record(what.id, count, usec.saturating_mul(count), failed);
        self.latency(what.class).observe_many(usec, count);
    }

    /// The latency histogram of `class`.
    #[must_use]
    pub fn latency(&self, class: Class) -> &Histogram {
        let [read, write, other] = &self.latency;
        match class {
            Class::Read => read,
            Class::Write => write,
            Class::Other => other,
        }
    }

    /// Counts one redirect.
    pub fn redirect(&self, kind: RedirectKind) {
        self.redirect_count(kind).inc();
    }

    /// Redirects of `kind` so far.
    #[must_use]
    pub fn redirect_count(&self, kind: RedirectKind) -> &Count {
        let [moved, ask, tryagain] = &self.redirects;
        match kind {
            RedirectKind::Moved => moved,
            RedirectKind::Ask => ask,
            RedirectKind::TryAgain => tryagain,
        }
    }

    /// Refreshes attempted so far (installed or failed).
    #[must_use]
    pub fn refreshes(&self) -> u64 {
        self.refreshes_ok.get() + self.refreshes_failed.get()
    }
}
