//! [`Unit`]: one request to one node — what a session dispatches, follows
//! through redirects and retries — with where it goes ([`Target`]), which
//! connection it travels on ([`Via`]) and what the few special ones carry
//! ([`Rare`]: transactions, parking, WATCH, pass-through AUTH).
//!
//! Invariant: a unit stays small (the rare state is boxed): entries are
//! moved into and out of the queue once per request, and a test bounds the
//! size of a queue entry.

use std::sync::Arc;

use bytes::Bytes;
use slotway_resp::Request;
use tokio::time::Instant;

use crate::backend::Lease;

/// Where a unit goes next.
#[derive(Debug)]
pub(super) enum Target {
    /// The master of a slot.
    Slot(u16),
    /// Any master (keyless command).
    Any,
    /// This node, after ASKING (one attempt).
    Ask { slot: u16, addr: Arc<str> },
    /// A given node (fan-out parts, SCAN steps).
    Node(Arc<str>),
}

/// Which connection a unit travels on.
#[derive(Debug)]
pub(super) enum Via {
    /// The node's shared, pipelined connections.
    Shared,
    /// A dedicated connection leased for this unit alone (blocking
    /// commands), returned to the pool when the unit is answered.
    Lease(Option<Lease>),
    /// The session's WATCH connection.
    Watch,
}

/// What to do once a unit is answered.
#[derive(Debug, Default)]
pub(super) struct Then {
    /// Reply this instead of the node's reply (EXECABORT/OK after the
    /// UNWATCH that cleans a WATCH connection).
    pub replace: Option<Bytes>,
    /// Give the WATCH connection back to the pool.
    pub release_watch: bool,
    /// A pass-through AUTH: what its acceptance changes.
    pub auth: Option<super::passthru::AuthThen>,
}

/// What few units need (transactions, parking, WATCH, pass-through AUTH),
/// boxed so that the common unit stays small: entries are moved into and
/// out of the queue once per request, and a smaller entry is fewer bytes
/// copied and fewer cache lines touched at `-P 16`.
#[derive(Debug, Default)]
pub(super) struct Rare {
    /// The bytes sent instead of `req` (a whole MULTI … EXEC block).
    pub blob: Option<Bytes>,
    /// When it first had to wait for a reachable owner (parking).
    pub parked_at: Option<Instant>,
    /// Its share of the proxy-wide parking budget, from its first park
    /// until it is answered.
    pub park: Option<super::park::ParkTicket>,
    pub then: Then,
}

/// One request to one node: what is dispatched, redirected and retried.
#[derive(Debug)]
pub(super) struct Unit {
    pub req: Request,
    /// Reply frames expected (`queued + 2` for a MULTI … EXEC block).
    pub frames: u32,
    pub via: Via,
    pub target: Target,
    pub readonly: bool,
    pub attempts: u8,
    /// A read from a replica failed: the master answers this one.
    pub master_only: bool,
    /// The session's deadline tick when it was queued.
    pub born: u32,
    /// Node of the latest dispatch (resolves `MOVED slot :port`).
    pub node: Option<Arc<str>>,
    /// The final reply, once known.
    pub reply: Option<Bytes>,
    /// Transactions, parking, WATCH and AUTH state (`None` for most).
    pub rare: Option<Box<Rare>>,
}

impl Unit {
    pub fn new(req: Request, target: Target, readonly: bool) -> Self {
        Self {
            req,
            frames: 1,
            via: Via::Shared,
            target,
            readonly,
            attempts: 0,
            master_only: false,
            born: 0,
            node: None,
            reply: None,
            rare: None,
        }
    }

    /// The rare state, created on first use.
    pub fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// The bytes that go on the wire.
    pub fn payload(&self) -> &Bytes {
        self.rare
            .as_ref()
            .and_then(|r| r.blob.as_ref())
            .unwrap_or_else(|| self.req.raw())
    }
}

#[cfg(test)]
mod tests {
    use super::super::queue::Entry;

    #[test]
    fn a_queue_entry_stays_small() {
        // Moved into and out of the queue once per request: keep it within
        // a few cache lines (rare state boxed).
        let size = std::mem::size_of::<Entry>();
        assert!(size <= 300, "a queue entry grew to {size} bytes");
    }
}
