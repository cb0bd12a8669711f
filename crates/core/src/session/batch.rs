//! One client write per read batch: the replies to the requests one read
//! brought leave together, as Redis itself answers a pipeline (it runs every
//! command the read brought, then writes once).
//!
//! Through a proxy the requests of one batch go to several nodes and their
//! replies come back at different moments; written as each node's part
//! arrives, a 16-request batch over three masters cost the proxy up to
//! three writes and woke the client up to three times. The session now
//! holds the output while the queue's head is inside the latest batch (some
//! of its replies are in, not all) and is a plain request on a shared
//! connection whose reply is on its way.
//!
//! Invariants: a hold only ever waits for a reply already in flight on a
//! shared connection (answered or failed within the reply timeout), never
//! for a blocking command, a WAIT, a parked retry, a subscription or a
//! transaction; it never holds more than [`HOLD_MAX`] bytes; requests of
//! earlier batches are never held back by a later batch (the head must be
//! inside the latest one).

use super::queue::{Entry, Queue, Via};

/// Output at or above this is written without waiting: a batch's replies
/// past it gain nothing from being joined.
const HOLD_MAX: usize = 64 * 1024;

impl Queue {
    /// A read brought new requests: they form the latest batch.
    pub(super) fn start_batch(&mut self) {
        self.batch_first = self.next_seq();
    }

    /// Whether there is output and it may be written now.
    pub fn may_write(&self) -> bool {
        self.has_output() && !self.holds_output()
    }

    /// The output waits for the rest of its batch (see the module's text).
    fn holds_output(&self) -> bool {
        if self.head_seq <= self.batch_first || self.out_len() >= HOLD_MAX {
            return false;
        }
        matches!(
            self.entries.front(),
            Some(Entry::One(u))
                if u.reply.is_none() && u.rare.is_none() && matches!(u.via, Via::Shared)
        )
    }
}
