//! Sending units to nodes and handling what comes back: replies, redirects
//! (MOVED patches the shared slot table, ASK goes once to the importing node
//! after `ASKING`), retries after TRYAGAIN/CLUSTERDOWN or an unsent request,
//! and the errors a client gets when those run out.
//!
//! Retry rule: a unit is re-sent only when the node cannot have executed it
//! (it was never written, or the node refused it with a redirect), or when it
//! is read-only. A write whose connection broke after it was written gets a
//! clear "outcome unknown" error instead: the proxy never applies a client's
//! write twice on its own (unless the operator enables it).
//!
//! Parking: while a slot has no reachable owner (node down, failover under
//! way, cluster not reached yet, TRYAGAIN/CLUSTERDOWN), its requests are
//! retried every `retry_delay` — each retry asks for a topology refresh —
//! for up to `park_timeout`, so they go out as soon as a new owner is
//! known; requests for healthy slots are not delayed. MOVED/ASK chains are
//! capped by count (`max_redirects`) instead.

use std::borrow::Cow;
use std::sync::Arc;

use tokio::time::Instant;

use super::park::{ParkBudget, TOO_MANY_PARKED};
use super::pubsub::STREAM_TAG;
use super::queue::{PART_SHIFT, Queue, SEQ_MASK, Target, Via, error_bytes};
use crate::backend::{BackendRequest, Failure, FailureKind, Lease, Node, Reply};
use crate::cluster::SlotTable;
use crate::config::ReadFrom;
use crate::metrics::RedirectKind;
use crate::route::{self, Redirect};

/// What a delivery asks the queue to do for its unit.
enum Next {
    Done,
    Dispatch,
    Retry,
}

impl Queue {
    /// Sends the unit `tag` names to the node its target names.
    pub(super) fn dispatch(&mut self, tag: u64, table: &SlotTable) {
        self.maybe_go_private(tag);
        // Taken out for the send (moving an empty or short Vec: no
        // allocation), so the unit and the private connections can be
        // borrowed at once.
        let mut private = std::mem::take(&mut self.private);
        let unsent = self.send_unit(tag, table, &mut private);
        self.private = private;
        if let Some(failure) = unsent {
            // The node's connections are gone (it left the topology): the
            // request was not sent, so it is safe to route it again.
            self.private.forget(&failure.addr);
            self.on_reply(tag, Reply::Failed(failure));
        }
    }

    /// [`Self::dispatch`] proper; the failure when the request could not be
    /// handed to a connection.
    fn send_unit(
        &mut self,
        tag: u64,
        table: &SlotTable,
        private: &mut super::private::Private,
    ) -> Option<Failure> {
        let park = self.shared.settings.park_timeout;
        let (client_id, protocol) = (self.client.id, self.client.protocol);
        let read_from = match (self.shared.settings.read_from, self.client.readonly) {
            (ReadFrom::Master, true) => ReadFrom::ReplicaPreferred,
            (mode, _) => mode,
        };
        let sink = self.sink.clone();
        let watch_conn = self.watch.as_ref().and_then(Lease::conn).cloned();
        // Borrowed beside the unit, not cloned: the proxy-wide `Arc` is one
        // cache line every worker's sessions would bounce per request.
        let shared = &*self.shared;
        let topology = &shared.topology;
        let u = super::queue::unit_in(&mut self.entries, self.head_seq, tag)?;
        // Answered meanwhile (its deadline passed while it waited to retry).
        if u.reply.is_some() {
            return None;
        }
        // Borrowed from the slot table where it is there: no reference
        // count touched per request.
        let (node, asking): (Option<Cow<'_, Arc<Node>>>, bool) = match &u.target {
            Target::Slot(s) if u.readonly && !u.master_only && read_from != ReadFrom::Master => {
                match (table.replica(*s, client_id), read_from) {
                    (Some(replica), _) => (Some(Cow::Borrowed(replica)), false),
                    (None, ReadFrom::Replica) => {
                        u.reply = Some(error_bytes(
                            b"CLUSTERDOWN slotway: no replica serves this slot",
                        ));
                        return None;
                    }
                    (None, _) => (table.master(*s).map(Cow::Borrowed), false),
                }
            }
            Target::Slot(s) => (table.master(*s).map(Cow::Borrowed), false),
            Target::Any => (table.any_master(client_id).map(Cow::Borrowed), false),
            Target::Ask { addr, .. } => (Some(Cow::Owned(topology.node(addr))), true),
            Target::Node(addr) => (Some(Cow::Owned(topology.node(addr))), false),
        };
        let Some(node) = node else {
            // No owner known (cluster not reached yet, or slot uncovered):
            // park until the refresher finds one.
            topology.request_refresh();
            match may_park(u, park, &shared.parked) {
                Parking::Wait => {
                    shared.metrics.parked.inc();
                    self.schedule_retry(tag);
                }
                Parking::Full => u.reply = Some(error_bytes(TOO_MANY_PARKED)),
                Parking::Expired => {
                    let msg: &[u8] = if table.is_known() {
                        b"CLUSTERDOWN Hash slot not served"
                    } else {
                        b"CLUSTERDOWN slotway: no cluster node reachable yet"
                    };
                    u.reply = Some(error_bytes(msg));
                }
            }
            return None;
        };
        if u.node.as_ref().is_none_or(|n| !Arc::ptr_eq(n, node.addr())) {
            u.node = Some(node.addr().clone());
        }
        let req = BackendRequest {
            payload: u.payload().clone(),
            asking,
            sink,
            seq: tag,
            frames: u.frames,
            write: !u.readonly,
        };
        let wrote = !u.readonly && matches!(u.via, Via::Shared);
        // The shared connection's handle is borrowed, not cloned (a sender
        // clone and drop are four atomic operations per request).
        let send =
            |conn: Option<&crate::backend::ConnHandle>| conn.is_some_and(|c| c.send(req).is_ok());
        let sent = match &mut u.via {
            Via::Shared if private.is_active() => send(private.conn(&node, protocol).as_ref()),
            Via::Shared => send(node.conn(protocol, client_id)),
            Via::Lease(lease) => {
                if lease
                    .as_ref()
                    .is_none_or(|l| !Arc::ptr_eq(l.addr(), node.addr()))
                {
                    // A lease of another node (the slot moved) is clean: its
                    // request was answered with the redirect.
                    if let Some(old) = lease.take() {
                        old.release();
                    }
                    *lease = Some(private.lease(&node, protocol));
                }
                send(lease.as_ref().and_then(Lease::conn))
            }
            Via::Watch => send(watch_conn.as_ref()),
        };
        if sent && wrote && !self.written.iter().any(|a| Arc::ptr_eq(a, node.addr())) {
            self.written.push(node.addr().clone());
        }
        (!sent).then(|| Failure {
            addr: node.addr().clone(),
            kind: FailureKind::Closed,
        })
    }

    /// Takes every delivered reply, follows redirects, writes what is ready.
    pub fn on_replies(&mut self) {
        self.sink.take(&mut self.arrivals);
        let mut arrivals = std::mem::take(&mut self.arrivals);
        for (tag, reply) in arrivals.drain(..) {
            self.on_reply(tag, reply);
        }
        self.arrivals = arrivals;
        self.flush_ready();
    }

    fn on_reply(&mut self, tag: u64, reply: Reply) {
        // Most replies: no error (so no redirect) for a plain unit — one
        // frame, on the shared connections, nothing rare to give back. The
        // frame is the answer; the general path below would decide the same.
        if tag & STREAM_TAG == 0
            && let Reply::Frame(frame) = &reply
            && frame.first() != Some(&b'-')
            && let Some(u) = self.unit(tag)
            && u.frames == 1
            && u.reply.is_none()
            && u.rare.is_none()
            && matches!(u.via, Via::Shared)
        {
            if let Reply::Frame(frame) = reply {
                u.reply = Some(frame);
            }
            return;
        }
        let park = self.shared.settings.park_timeout;
        let shared = Arc::clone(&self.shared);
        let retry_writes = self.shared.settings.retry_unknown_writes;
        if tag & STREAM_TAG != 0 {
            match reply {
                Reply::Frame(frame) => self.on_stream_frame(tag, frame),
                Reply::Failed(_) => self.on_stream_lost(tag),
            }
            return;
        }
        let max = self.shared.settings.max_redirects;
        let pool = self.shared.settings.pool.is_some();
        let stats = &shared.stats;
        let topology = &shared.topology;
        if let Some(super::queue::Entry::Wait(w)) = self.entry_mut(tag) {
            if let Reply::Frame(frame) = reply {
                w.reply = Some(frame);
            }
            return;
        }
        let Some(u) = self.unit(tag) else {
            return;
        };
        // Already answered (a blocking command abandoned at EOF): late
        // deliveries change nothing.
        if u.reply.is_some() {
            return;
        }
        // A MULTI … EXEC block answers with all its frames: the client gets
        // EXEC's, but a MOVED for a queued command means the whole block
        // went to the wrong node and nothing ran.
        let reply = match reply {
            Reply::Frame(frame) if u.frames > 1 => {
                let (redirect_frame, last) = super::txn::block_outcome(&frame);
                Reply::Frame(redirect_frame.unwrap_or(last))
            }
            other => other,
        };
        // Redirects make no sense on the WATCH connection: the watch is
        // bound to the node it was made on.
        let follows = !matches!(u.via, Via::Watch);
        let mut redirected = None;
        let next = match reply {
            Reply::Frame(frame) if !follows => {
                u.reply = Some(frame);
                Next::Done
            }
            Reply::Frame(frame) => match route::redirect(&frame) {
                // TRYAGAIN / CLUSTERDOWN: nothing ran; park and retry.
                Some(Redirect::Retry) => match may_park(u, park, &shared.parked) {
                    Parking::Wait => {
                        redirected = Some(RedirectKind::TryAgain);
                        // Start over at the slot's owner: it redirects again
                        // if the migration is still under way.
                        if let Target::Ask { slot, .. } = u.target {
                            u.target = Target::Slot(slot);
                        }
                        topology.request_refresh();
                        Next::Retry
                    }
                    Parking::Full => {
                        u.reply = Some(error_bytes(TOO_MANY_PARKED));
                        Next::Done
                    }
                    // The node's own TRYAGAIN/CLUSTERDOWN.
                    Parking::Expired => {
                        u.reply = Some(frame);
                        Next::Done
                    }
                },
                Some(redirect @ (Redirect::Moved { .. } | Redirect::Ask { .. }))
                    if u.attempts < max =>
                {
                    u.attempts += 1;
                    match redirect {
                        Redirect::Moved { slot, addr } => {
                            redirected = Some(RedirectKind::Moved);
                            let addr = full_addr(addr, u.node.as_deref());
                            topology.patch_slot(slot, &addr);
                            if !matches!(u.target, Target::Node(_)) {
                                u.target = Target::Slot(slot);
                            }
                            Next::Dispatch
                        }
                        Redirect::Ask { slot, addr } => {
                            redirected = Some(RedirectKind::Ask);
                            u.target = Target::Ask {
                                slot,
                                addr: Arc::from(full_addr(addr, u.node.as_deref())),
                            };
                            Next::Dispatch
                        }
                        Redirect::Retry => Next::Retry,
                    }
                }
                Some(Redirect::Moved { slot, .. } | Redirect::Ask { slot, .. }) => {
                    let msg = format!("TRYAGAIN slotway: too many redirections for slot {slot}");
                    u.reply = Some(error_bytes(msg.as_bytes()));
                    Next::Done
                }
                _ => {
                    u.reply = Some(frame);
                    Next::Done
                }
            },
            Reply::Failed(failure) => {
                if let Target::Ask { slot, .. } = u.target {
                    u.target = Target::Slot(slot);
                }
                // The leased connection broke: drop it (never back to the pool).
                if let Via::Lease(lease) = &mut u.via {
                    *lease = None;
                }
                // A replica that fails a read: ask the master next time.
                u.master_only = true;
                let safe = !failure.kind.maybe_executed() || u.readonly || retry_writes;
                let parking = if safe {
                    may_park(u, park, &shared.parked)
                } else {
                    Parking::Expired
                };
                match parking {
                    Parking::Wait => {
                        topology.request_refresh();
                        if failure.kind == FailureKind::Closed {
                            Next::Dispatch
                        } else {
                            Next::Retry
                        }
                    }
                    Parking::Full => {
                        u.reply = Some(error_bytes(TOO_MANY_PARKED));
                        crate::stats::bump(&stats.forward_error, 1);
                        Next::Done
                    }
                    Parking::Expired => {
                        u.reply = Some(error_bytes(
                            failure_message(&failure, u.readonly, pool).as_bytes(),
                        ));
                        crate::stats::bump(&stats.forward_error, 1);
                        Next::Done
                    }
                }
            }
        };
        if let Some(kind) = redirected {
            self.shared.metrics.redirect(kind);
        }
        match next {
            Next::Done => self.after_done(tag),
            Next::Dispatch => {
                let table = topology.load();
                self.dispatch(tag, &table);
            }
            Next::Retry => self.schedule_retry(tag),
        }
    }

    /// A unit is answered for good: give back what it borrowed.
    fn after_done(&mut self, tag: u64) {
        let Some(u) = self.unit(tag) else {
            return;
        };
        let auth = u.rare.as_mut().and_then(|r| r.then.auth.take());
        if let Via::Lease(lease) = &mut u.via
            && let Some(lease) = lease.take()
            // After a pass-through AUTH the connection may be authenticated
            // as the client's user: closed, never pooled.
            && auth.is_none()
        {
            lease.release();
        }
        let mut release_watch = false;
        if let Some(rare) = u.rare.as_mut() {
            // Answered: its parked bytes no longer count.
            rare.park = None;
            if let Some(replace) = rare.then.replace.take() {
                u.reply = Some(replace);
            }
            release_watch = std::mem::take(&mut rare.then.release_watch);
        }
        if release_watch && let Some(watch) = self.watch.take() {
            watch.release();
        }
        if let Some(auth) = auth {
            self.auth_done(tag, auth);
        }
    }

    fn schedule_retry(&mut self, tag: u64) {
        self.shared.metrics.retries.inc();
        self.retries.push(tag);
        self.arm_retry();
    }

    /// Makes the retry clock tick once more (parked units, lost subscriber
    /// connections).
    pub(super) fn arm_retry(&mut self) {
        if self.retry_at.is_none() {
            self.retry_at = Some(Instant::now() + self.shared.settings.retry_delay);
        }
    }

    /// The retry delay is over: route the waiting units again, in order.
    pub fn on_retry_due(&mut self) {
        self.retry_at = None;
        let mut due = std::mem::take(&mut self.retries);
        due.sort_unstable_by_key(|&tag| (tag & SEQ_MASK, tag >> PART_SHIFT));
        let topology = self.shared.topology.clone();
        let table = topology.load();
        for tag in due {
            self.dispatch(tag, &table);
        }
        if self.subs.any_lost() {
            self.resubscribe(&table);
        }
        self.flush_ready();
    }
}

/// Whether a unit that cannot be served now may wait for its slot.
enum Parking {
    Wait,
    /// Its park budget (`park_timeout`) is spent.
    Expired,
    /// Parking it would exceed the proxy-wide `park_max_bytes`.
    Full,
}

/// A unit that cannot be served now may keep waiting if it started waiting
/// less than `budget` ago (the clock is read only on this path) and, the
/// first time, if its bytes fit in the proxy-wide parking budget.
fn may_park(u: &mut super::queue::Unit, budget: std::time::Duration, room: &ParkBudget) -> Parking {
    let now = Instant::now();
    let len = u.payload().len() as u64;
    let rare = u.rare();
    let since = *rare.parked_at.get_or_insert(now);
    if now.duration_since(since) >= budget {
        return Parking::Expired;
    }
    if rare.park.is_none() {
        match room.take(len) {
            Some(ticket) => rare.park = Some(ticket),
            None => return Parking::Full,
        }
    }
    Parking::Wait
}

/// `MOVED 12 :7002` names a port on the host the request went to.
fn full_addr(addr: &str, last: Option<&str>) -> String {
    match (addr.strip_prefix(':'), last) {
        (Some(port), Some(last)) => {
            let host = last.rsplit_once(':').map_or(last, |(h, _)| h);
            format!("{host}:{port}")
        }
        _ => addr.to_owned(),
    }
}

fn failure_message(f: &Failure, readonly: bool, pool: bool) -> String {
    // A pool has no cluster to be "down": its clients get plain errors.
    if pool {
        return match &f.kind {
            FailureKind::Connect(reason) => {
                format!("ERR slotway: server {} is unreachable ({reason})", f.addr)
            }
            FailureKind::Lost { written: true } if !readonly => format!(
                "ERR slotway: connection to {} lost, write outcome unknown",
                f.addr
            ),
            FailureKind::Lost { .. } | FailureKind::Closed => format!(
                "ERR slotway: server {} is not answering (connection lost)",
                f.addr
            ),
        };
    }
    match &f.kind {
        // The wording keeps redis-cluster-proxy's phrases ("could not
        // connect to node", "cluster node disconnected"), which its
        // clients and test suite look for.
        FailureKind::Connect(reason) => {
            format!(
                "CLUSTERDOWN slotway: node {} is unreachable: could not connect to node ({reason})",
                f.addr
            )
        }
        // Only a write can have an unknown outcome; a read that ran out of
        // retries met a node that is not answering.
        FailureKind::Lost { written: true } if !readonly => format!(
            "ERR slotway: connection to {} lost, write outcome unknown",
            f.addr
        ),
        FailureKind::Lost { .. } | FailureKind::Closed => {
            format!(
                "CLUSTERDOWN slotway: node {} is not answering (cluster node disconnected)",
                f.addr
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moved_with_empty_host_uses_last_node() {
        assert_eq!(full_addr(":7002", Some("10.0.0.1:7001")), "10.0.0.1:7002");
        assert_eq!(full_addr("h:1", Some("x:2")), "h:1");
        assert_eq!(full_addr(":7002", None), ":7002");
    }
}
