//! [`ReplySink`]: the mailbox through which backend connections hand replies
//! to a client session.
//!
//! Each request a session sends carries its sequence number; a connection
//! delivers `(seq, reply)` pairs in whatever order nodes answer, and the
//! session puts them back in its clients' request order. The sink is a short
//! critical section (push onto a `Vec`) plus a [`Notify`], whose stored permit
//! guarantees a delivery made while the session is busy is never missed.
//!
//! Invariant: every request handed to a connection gets exactly one delivery,
//! either a reply frame or a [`Failure`], unless the session has gone away.

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// What a backend connection hands back for one request.
#[derive(Debug)]
pub enum Reply {
    /// One complete reply frame, exactly as the node sent it.
    Frame(Bytes),
    /// The request did not get a reply from the node.
    Failed(Failure),
}

/// Why a request got no reply.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The node, `host:port`.
    pub addr: Arc<str>,
    /// What happened.
    pub kind: FailureKind,
}

/// The ways a backend exchange fails. `written` tells whether any byte of the
/// request may have reached the node: only then could it have been executed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// Could not connect; nothing was sent.
    Connect(String),
    /// The connection broke.
    Lost {
        /// Whether the request may have been executed.
        written: bool,
    },
    /// The connection task is gone (node removed from the topology).
    Closed,
}

impl FailureKind {
    /// True when the node may have executed the request.
    #[must_use]
    pub fn maybe_executed(&self) -> bool {
        matches!(self, Self::Lost { written: true })
    }
}

/// Seq-tagged replies waiting for their session.
#[derive(Debug, Default)]
pub struct ReplySink {
    arrivals: Mutex<Vec<(u64, Reply)>>,
    notify: Notify,
}

impl ReplySink {
    /// A new, empty sink.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Hands over the reply to request `seq` and wakes the session.
    pub fn deliver(&self, seq: u64, reply: Reply) {
        self.arrivals.lock().push((seq, reply));
        self.notify.notify_one();
    }

    /// Hands over several replies under one lock and one wake-up.
    pub fn deliver_many(&self, replies: impl IntoIterator<Item = (u64, Reply)>) {
        self.arrivals.lock().extend(replies);
        self.notify.notify_one();
    }

    /// Moves every delivered reply into `into` (which should be empty; its
    /// capacity is reused so steady state allocates nothing).
    pub fn take(&self, into: &mut Vec<(u64, Reply)>) {
        std::mem::swap(&mut *self.arrivals.lock(), into);
    }

    /// Completes when something was delivered since the last completion.
    pub async fn notified(&self) {
        self.notify.notified().await;
    }
}
