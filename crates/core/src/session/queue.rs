//! [`Queue`]: a client's requests in order, from dispatch until their replies
//! are written.
//!
//! Entries are indexed by sequence number (`head_seq` is the front). An entry
//! is either a ready reply (local answers, errors) or a forwarded request
//! waiting for its node. Replies are matched by sequence number as they
//! arrive, redirects and retries are handled at once (not only at the front,
//! so a slow head does not delay them), and the ready prefix of the queue is
//! moved to the output buffer.
//!
//! Invariant: exactly one dispatch of an entry is outstanding at a time, so
//! every delivery found for a waiting entry belongs to its latest dispatch.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use slotway_resp::{Request, RequestParser, encode};
use tokio::time::Instant;

use super::Shared;
use super::local::{self, After, ClientState};
use crate::backend::{BackendRequest, Failure, FailureKind, Node, Reply, ReplySink};
use crate::cluster::SlotTable;
use crate::route::{self, Redirect, Route};

/// Where a forwarded request goes next.
#[derive(Debug)]
enum Target {
    /// The master of a slot.
    Slot(u16),
    /// Any master (keyless command).
    Any,
    /// This node, after ASKING (one attempt).
    Ask { slot: u16, addr: Arc<str> },
}

#[derive(Debug)]
struct InFlight {
    req: Request,
    target: Target,
    readonly: bool,
    attempts: u8,
    /// Node of the latest dispatch (resolves `MOVED slot :port`).
    node: Option<Arc<str>>,
    /// The final reply, once known.
    reply: Option<Bytes>,
}

#[derive(Debug)]
enum Entry {
    Ready(Bytes),
    Waiting(InFlight),
}

/// What a delivery asks the queue to do for its entry.
enum Next {
    Done,
    Dispatch,
    Retry,
}

/// A client's in-order requests and its output buffer.
#[derive(Debug)]
pub struct Queue {
    shared: Arc<Shared>,
    sink: Arc<ReplySink>,
    client: ClientState,
    entries: VecDeque<Entry>,
    head_seq: u64,
    out: BytesMut,
    arrivals: Vec<(u64, Reply)>,
    retries: Vec<u64>,
    retry_at: Option<Instant>,
    closing: bool,
}

impl Queue {
    pub fn new(shared: Arc<Shared>, sink: Arc<ReplySink>, client: ClientState) -> Self {
        Self {
            shared,
            sink,
            client,
            entries: VecDeque::new(),
            head_seq: 0,
            out: BytesMut::with_capacity(16 * 1024),
            arrivals: Vec::new(),
            retries: Vec::new(),
            retry_at: None,
            closing: false,
        }
    }

    /// Nothing owed to the client and nothing more will be read.
    pub fn finished(&self) -> bool {
        self.closing && self.entries.is_empty() && self.out.is_empty()
    }

    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// Read no more; finish what is in flight.
    pub fn close(&mut self) {
        self.closing = true;
    }

    /// Whether reading the client may go on (back-pressure otherwise).
    pub fn accepts_more(&self, out_high_water: usize) -> bool {
        !self.closing
            && self.entries.len() < self.shared.settings.max_inflight
            && self.out.len() < out_high_water
    }

    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    pub fn out_mut(&mut self) -> &mut BytesMut {
        &mut self.out
    }

    pub fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// Parses and handles every complete request in `input`, as far as
    /// back-pressure allows.
    pub fn on_input(&mut self, parser: &mut RequestParser, input: &mut BytesMut, high: usize) {
        let topology = self.shared.topology.clone();
        let table = topology.load();
        while self.accepts_more(high) {
            match parser.next(input) {
                Ok(Some(req)) => self.on_request(req, &table),
                Ok(None) => break,
                Err(e) => {
                    // Redis's exact reply (the offending byte as `%c`), queued
                    // behind the replies still owed; then the connection closes.
                    let mut reply = BytesMut::with_capacity(64);
                    e.write_reply(&mut reply);
                    self.push_ready(reply.freeze());
                    self.closing = true;
                    break;
                }
            }
        }
        self.flush_ready();
    }

    fn on_request(&mut self, req: Request, table: &SlotTable) {
        match route::route(&req) {
            Route::Local(cmd) => {
                let version = self.shared.topology.backend_version();
                let version = version.as_deref().map(String::as_str);
                let after = if self.entries.is_empty() {
                    local::answer(cmd, &req, &mut self.client, version, &mut self.out)
                } else {
                    let mut buf = BytesMut::new();
                    let after = local::answer(cmd, &req, &mut self.client, version, &mut buf);
                    self.entries.push_back(Entry::Ready(buf.freeze()));
                    after
                };
                if after == After::Close {
                    self.closing = true;
                }
            }
            Route::Reject(reject) => self.push_error(&reject.message(&req)),
            Route::Forward(fwd) => {
                let seq = self.head_seq + self.entries.len() as u64;
                self.entries.push_back(Entry::Waiting(InFlight {
                    req,
                    target: fwd.slot.map_or(Target::Any, Target::Slot),
                    readonly: fwd.readonly,
                    attempts: 0,
                    node: None,
                    reply: None,
                }));
                self.dispatch(seq, table);
            }
        }
    }

    /// Queues a complete reply behind whatever is pending.
    fn push_ready(&mut self, reply: Bytes) {
        if self.entries.is_empty() {
            self.out.extend_from_slice(&reply);
        } else {
            self.entries.push_back(Entry::Ready(reply));
        }
    }

    /// Queues an error reply behind whatever is pending.
    fn push_error(&mut self, msg: &[u8]) {
        if self.entries.is_empty() {
            encode::error(&mut self.out, msg);
        } else {
            let mut buf = BytesMut::with_capacity(msg.len() + 3);
            encode::error(&mut buf, msg);
            self.entries.push_back(Entry::Ready(buf.freeze()));
        }
    }

    fn waiting(&mut self, seq: u64) -> Option<&mut InFlight> {
        let idx = usize::try_from(seq.checked_sub(self.head_seq)?).ok()?;
        match self.entries.get_mut(idx)? {
            Entry::Waiting(f) => Some(f),
            Entry::Ready(_) => None,
        }
    }

    /// Sends entry `seq` to the node its target names.
    fn dispatch(&mut self, seq: u64, table: &SlotTable) {
        let topology = self.shared.topology.clone();
        let max = self.shared.settings.max_redirects;
        let (client_id, protocol) = (self.client.id, self.client.protocol);
        let sink = self.sink.clone();
        let Some(f) = self.waiting(seq) else {
            return;
        };
        let (node, asking): (Option<Arc<Node>>, bool) = match &f.target {
            Target::Slot(s) => (table.master(*s).cloned(), false),
            Target::Any => (table.any_master(client_id).cloned(), false),
            Target::Ask { addr, .. } => (Some(topology.node(addr)), true),
        };
        let Some(node) = node else {
            // No owner known (cluster not reached yet, or slot uncovered):
            // worth a short wait for the refresher.
            topology.request_refresh();
            if f.attempts < max {
                f.attempts += 1;
                self.schedule_retry(seq);
            } else {
                let msg: &[u8] = if table.is_known() {
                    b"CLUSTERDOWN Hash slot not served"
                } else {
                    b"CLUSTERDOWN slotway: no cluster node reachable yet"
                };
                f.reply = Some(error_bytes(msg));
            }
            return;
        };
        if f.node.as_ref().is_none_or(|n| !Arc::ptr_eq(n, node.addr())) {
            f.node = Some(node.addr().clone());
        }
        let req = BackendRequest {
            payload: f.req.raw().clone(),
            asking,
            sink,
            seq,
        };
        let sent = node
            .conn(protocol, client_id)
            .is_some_and(|c| c.send(req).is_ok());
        if !sent {
            // The node's connections are gone (it left the topology): the
            // request was not sent, so it is safe to route it again.
            self.on_reply(
                seq,
                Reply::Failed(Failure {
                    addr: node.addr().clone(),
                    kind: FailureKind::Closed,
                }),
            );
        }
    }

    /// Takes every delivered reply, follows redirects, writes what is ready.
    pub fn on_replies(&mut self) {
        self.sink.take(&mut self.arrivals);
        let mut arrivals = std::mem::take(&mut self.arrivals);
        for (seq, reply) in arrivals.drain(..) {
            self.on_reply(seq, reply);
        }
        self.arrivals = arrivals;
        self.flush_ready();
    }

    fn on_reply(&mut self, seq: u64, reply: Reply) {
        let max = self.shared.settings.max_redirects;
        let topology = self.shared.topology.clone();
        let Some(f) = self.waiting(seq) else {
            return;
        };
        let next = match reply {
            Reply::Frame(frame) => match route::redirect(&frame) {
                Some(redirect) if f.attempts < max => {
                    f.attempts += 1;
                    match redirect {
                        Redirect::Moved { slot, addr } => {
                            let addr = full_addr(addr, f.node.as_deref());
                            topology.patch_slot(slot, &addr);
                            f.target = Target::Slot(slot);
                            Next::Dispatch
                        }
                        Redirect::Ask { slot, addr } => {
                            f.target = Target::Ask {
                                slot,
                                addr: Arc::from(full_addr(addr, f.node.as_deref())),
                            };
                            Next::Dispatch
                        }
                        Redirect::Retry => {
                            // Start over at the slot's owner: it redirects
                            // again if the migration is still under way.
                            if let Target::Ask { slot, .. } = f.target {
                                f.target = Target::Slot(slot);
                            }
                            topology.request_refresh();
                            Next::Retry
                        }
                    }
                }
                Some(Redirect::Moved { slot, .. } | Redirect::Ask { slot, .. }) => {
                    let msg = format!("TRYAGAIN slotway: too many redirections for slot {slot}");
                    f.reply = Some(error_bytes(msg.as_bytes()));
                    Next::Done
                }
                _ => {
                    f.reply = Some(frame);
                    Next::Done
                }
            },
            Reply::Failed(failure) => {
                if let Target::Ask { slot, .. } = f.target {
                    f.target = Target::Slot(slot);
                }
                let safe = !failure.kind.maybe_executed() || f.readonly;
                if safe && f.attempts < max {
                    f.attempts += 1;
                    topology.request_refresh();
                    if failure.kind == FailureKind::Closed {
                        Next::Dispatch
                    } else {
                        Next::Retry
                    }
                } else {
                    f.reply = Some(error_bytes(failure_message(&failure).as_bytes()));
                    Next::Done
                }
            }
        };
        match next {
            Next::Done => {}
            Next::Dispatch => {
                let table = topology.load();
                self.dispatch(seq, &table);
            }
            Next::Retry => self.schedule_retry(seq),
        }
    }

    fn schedule_retry(&mut self, seq: u64) {
        self.retries.push(seq);
        if self.retry_at.is_none() {
            self.retry_at = Some(Instant::now() + self.shared.settings.retry_delay);
        }
    }

    /// The retry delay is over: route the waiting entries again, in order.
    pub fn on_retry_due(&mut self) {
        self.retry_at = None;
        let mut due = std::mem::take(&mut self.retries);
        due.sort_unstable();
        let topology = self.shared.topology.clone();
        let table = topology.load();
        for seq in due {
            self.dispatch(seq, &table);
        }
        self.flush_ready();
    }

    /// Moves the ready prefix of the queue to the output buffer.
    fn flush_ready(&mut self) {
        while let Some(front) = self.entries.front() {
            match front {
                Entry::Ready(b) => self.out.extend_from_slice(b),
                Entry::Waiting(InFlight { reply: Some(b), .. }) => self.out.extend_from_slice(b),
                Entry::Waiting(_) => break,
            }
            self.entries.pop_front();
            self.head_seq += 1;
        }
    }
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

fn failure_message(f: &Failure) -> String {
    match &f.kind {
        FailureKind::Connect(reason) => {
            format!(
                "CLUSTERDOWN slotway: node {} is unreachable ({reason})",
                f.addr
            )
        }
        FailureKind::Lost { written: true } => format!(
            "ERR slotway: connection to {} lost, write outcome unknown",
            f.addr
        ),
        FailureKind::Lost { written: false } | FailureKind::Closed => {
            format!("ERR slotway: connection to {} lost", f.addr)
        }
    }
}

fn error_bytes(msg: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(msg.len() + 3);
    encode::error(&mut buf, msg);
    buf.freeze()
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
