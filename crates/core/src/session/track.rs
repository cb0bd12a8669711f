//! Per-request accounting: each client request's command, end-to-end time
//! through the proxy and outcome go to the metrics and, when slow enough, to
//! the slow log.
//!
//! A request is *done* once every queue entry it created has left the queue
//! (its reply is in the output buffer); a request answered at once creates
//! none. Requests are tracked in order, so the done ones are always at the
//! front.
//!
//! Invariants — cost: no clock read and no timer per request. The arrival
//! time is read once per batch of requests parsed together, and the finish
//! time once per flush that completes any; the command's counter slot is
//! found by its position in the command table, and the counts are relaxed
//! atomic adds.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use slotway_resp::Request;

use super::queue::Queue;
use crate::cluster::SlotTable;
use crate::metrics::{Identified, LastCommand};

/// One request not yet done.
#[derive(Debug)]
struct Tracked {
    /// Done once the queue's head has passed this sequence number.
    end_seq: u64,
    what: Identified,
    started: Instant,
    failed: bool,
    /// The request's encoding, kept only while the slow log may want it (a
    /// reference-counted handle; parsed again only if it is logged).
    raw: Option<Bytes>,
}

/// The requests of one client, in order, until done.
#[derive(Debug, Default)]
pub(super) struct Tracker {
    pending: VecDeque<Tracked>,
    /// Arrival time of the batch being parsed (read once per batch).
    batch: Option<Instant>,
    /// Finish time of the flush under way (read once per flush).
    now: Option<Instant>,
    /// The last command name seen, and what it is.
    last: LastCommand,
    /// During a flush: how many front requests are known to be done.
    cursor: usize,
    /// The client's `ip:port` for the slow log, formatted at its first
    /// entry (formatting an address costs more than the rest of an entry).
    peer: Option<Arc<str>>,
}

impl Tracker {
    /// Whether a pipeline grew the tracking room past `idle` entries (a
    /// pipeline of requests answered by the proxy itself grows it without
    /// growing the queue).
    pub fn holds_more(&self, idle: usize) -> bool {
        self.pending.capacity() > idle
    }

    /// Frees what a pipeline grew, once nothing is tracked.
    pub fn release(&mut self) {
        if self.pending.is_empty() {
            self.pending = VecDeque::new();
        }
    }

    /// A new batch of input is about to be parsed; `at`, when the caller
    /// already read the clock for it (else it is read at the first request).
    pub fn new_batch(&mut self, at: Option<Instant>) {
        self.batch = at;
    }

    fn arrival(&mut self) -> Instant {
        *self.batch.get_or_insert_with(Instant::now)
    }
}

/// Whether a reply frame is an error (RESP2 `-`, RESP3 blob error `!`).
fn is_error(reply: &[u8]) -> bool {
    matches!(reply.first(), Some(b'-' | b'!'))
}

impl Queue {
    /// Handles one request and starts accounting for it.
    pub(super) fn on_request(&mut self, req: Request, table: &SlotTable) {
        let what = self.track.last.identify(&req);
        let started = self.track.arrival();
        let keep = self.shared.slowlog.settings().log_slower_than >= 0
            && !what.skip_slowlog
            && !what.blocking;
        let kept = keep.then(|| req.raw().clone());
        let (first, out_len) = (self.next_seq(), self.out.tail.len());
        self.handle_request(req, table);
        let end_seq = self.next_seq();
        // Answered at once: its reply is what was just added to the output.
        let failed = end_seq == first && self.out.tail.get(out_len..).is_some_and(is_error);
        self.track.pending.push_back(Tracked {
            end_seq,
            what,
            started,
            failed,
            raw: kept,
        });
    }

    /// An entry's reply left the queue: if it was its request's last entry,
    /// that request's outcome is this reply. (The requests before it are
    /// done; they are accounted for together at the end of the flush.)
    pub(super) fn track_reply(&mut self, seq: u64, reply: &Bytes) {
        let pending = &mut self.track.pending;
        let mut i = self.track.cursor;
        while pending.get(i).is_some_and(|t| t.end_seq <= seq) {
            i += 1;
        }
        self.track.cursor = i;
        if let Some(t) = pending.get_mut(i)
            && t.end_seq == seq + 1
        {
            t.failed = is_error(reply);
        }
    }

    /// Accounts for every request whose replies have all left the queue
    /// (called at the end of each flush).
    pub(super) fn track_done(&mut self) {
        self.finish_through(self.head_seq);
        self.track.now = None;
        self.track.cursor = 0;
    }

    /// Accounts for the requests done once the head passed `seq`.
    fn finish_through(&mut self, seq: u64) {
        // Requests parsed together and finished together took the same time:
        // a run of the same command is counted with one set of adds.
        let mut run: Option<Run> = None;
        let mut last: Option<(Instant, u64)> = None;
        while self.track.pending.front().is_some_and(|t| t.end_seq <= seq) {
            let Some(t) = self.track.pending.pop_front() else {
                break;
            };
            // One clock read per flush, whatever it completes.
            let now = *self.track.now.get_or_insert_with(Instant::now);
            let usec = match last {
                Some((started, usec)) if started == t.started => usec,
                _ => {
                    let usec = u64::try_from(now.saturating_duration_since(t.started).as_micros())
                        .unwrap_or(u64::MAX);
                    last = Some((t.started, usec));
                    usec
                }
            };
            match &mut run {
                Some(r) if r.what.id == t.what.id && r.usec == usec => {
                    r.count += 1;
                    r.failed += u64::from(t.failed);
                }
                _ => {
                    if let Some(r) = run.take() {
                        r.record(&self.shared.metrics);
                    }
                    run = Some(Run {
                        what: t.what,
                        usec,
                        count: 1,
                        failed: u64::from(t.failed),
                    });
                }
            }
            if let Some(raw) = t.raw
                && self.shared.slowlog.wants(usec)
            {
                let addr = self.me.addr;
                let peer = self.track.peer.get_or_insert_with(|| {
                    addr.map_or_else(|| Arc::from(""), |a| Arc::from(a.to_string()))
                });
                self.shared
                    .slowlog
                    .record(&raw, usec, peer.clone(), self.client.name.as_ref());
            }
        }
        if let Some(r) = run {
            r.record(&self.shared.metrics);
        }
    }
}

/// Consecutive done requests of one command that took the same time.
struct Run {
    what: Identified,
    usec: u64,
    count: u64,
    failed: u64,
}

impl Run {
    fn record(&self, metrics: &crate::metrics::Metrics) {
        metrics.record_many(self.what, self.usec, self.count, self.failed);
    }
}
