//! [`Queue`]: a client's requests in order, from dispatch until their replies
//! are written.
//!
//! Entries are indexed by sequence number (`head_seq` is the front). An entry
//! is a ready reply (local answers, errors), one forwarded request, a SCAN
//! step, or a multi-part request (split by slot or fanned out to every
//! master) whose parts are merged once all have answered. Each part is a
//! [`Unit`]: the thing that is dispatched, redirected and retried. Units are
//! addressed by a *tag*: the entry's sequence number, plus the part number
//! in the high bits for multi-part entries.
//!
//! Invariants: exactly one dispatch of a unit is outstanding at a time, so a
//! delivery for a unit always belongs to its latest dispatch; the ready
//! prefix of the queue is moved to the output buffer at once, so replies
//! leave in request order.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use slotway_resp::{Protocol, Request, RequestParser, encode};
use tokio::time::Instant;

use super::Shared;
use super::local::{self, After, ClientState};
use crate::backend::{Lease, Reply, ReplySink};
use crate::cluster::SlotTable;
use crate::route::{self, Merge, Route};

/// Ticks of the session's deadline clock per request deadline: a request
/// times out between 1 and 1.25 deadlines after it was sent.
pub(super) const DEADLINE_TICKS: u32 = 4;

/// Part numbers live above this bit of a tag; the sequence number below it.
pub(super) const PART_SHIFT: u32 = 40;
/// The sequence-number bits of a tag.
pub(super) const SEQ_MASK: u64 = (1 << PART_SHIFT) - 1;
/// Room for queue entries an idle session keeps; a pipeline that grew the
/// queue beyond it gives the rest back once idle ([`Queue::release_idle`]).
const IDLE_ENTRIES: usize = 16;

pub(super) use super::unit::{Target, Unit, Via};

/// SCAN: which master (in slot order) this step asked, of how many.
#[derive(Clone, Copy, Debug)]
pub(super) struct ScanStep {
    pub index: usize,
    pub masters: usize,
}

/// A request split by slot or fanned out, and how to merge it.
#[derive(Debug)]
pub(super) struct Multi {
    pub units: Vec<Unit>,
    pub merge: Merge,
    /// MGET: the key positions each unit answers for.
    pub positions: Vec<Vec<u32>>,
    /// MGET: number of keys.
    pub total: usize,
    /// The client's request (INFO needs its sections).
    pub req: Request,
    pub protocol: Protocol,
}

#[derive(Debug)]
pub(super) enum Entry {
    Ready(Bytes),
    One(Unit),
    Scan(Unit, ScanStep),
    Multi(Box<Multi>),
    Sub(super::pubsub::SubEntry),
    Wait(WaitEntry),
}

/// A WAIT: started once every earlier request is answered.
#[derive(Debug)]
pub(super) struct WaitEntry {
    pub numreplicas: i64,
    pub timeout: Option<std::time::Duration>,
    pub started: bool,
    pub reply: Option<Bytes>,
}

/// A client's in-order requests and its output buffer.
#[derive(Debug)]
pub struct Queue {
    pub(super) shared: Arc<Shared>,
    pub(super) sink: Arc<ReplySink>,
    pub(super) client: ClientState,
    pub(super) entries: VecDeque<Entry>,
    pub(super) head_seq: u64,
    /// The first sequence number of the latest read's requests (see
    /// `batch`).
    pub(super) batch_first: u64,
    pub(super) out: crate::outbox::Outbox,
    pub(super) arrivals: Vec<(u64, Reply)>,
    pub(super) retries: Vec<u64>,
    pub(super) retry_at: Option<Instant>,
    pub(super) closing: bool,
    /// The last parse stopped at back-pressure with requests left in the
    /// input: whatever lifts it must parse again (see `parse_held_back`).
    pub(super) parse_held: bool,
    /// MULTI … (commands queued here until EXEC).
    pub(super) txn: Option<super::txn::Txn>,
    /// The dedicated connection WATCH ran on, until EXEC/DISCARD/UNWATCH.
    pub(super) watch: Option<Lease>,
    /// Subscriber connections.
    pub(super) subs: super::pubsub::Subscriptions,
    /// This client's entry in the proxy's client list.
    pub(super) me: Arc<super::clients::Client>,
    /// CLIENT REPLY state.
    pub(super) reply_mode: ReplyMode,
    /// Sequence numbers whose replies are not written (CLIENT REPLY), ascending.
    pub(super) silenced: VecDeque<u64>,
    /// The deadline clock (see `DEADLINE_TICKS`).
    pub(super) tick: u32,
    /// Masters this client sent writes to (what its WAIT covers).
    pub(super) written: Vec<Arc<str>>,
    /// A request held by CLIENT PAUSE, and when to look again.
    /// (Boxed: rare, and every session carries the field.)
    pub(super) held: Option<Box<(Request, Instant)>>,
    /// Per-request metrics and slow log accounting.
    pub(super) track: super::track::Tracker,
    /// This client's own node connections, once multiplexing is off.
    pub(super) private: super::private::Private,
}

/// CLIENT REPLY ON / OFF / SKIP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReplyMode {
    On,
    Off,
    SkipNext,
}

impl Queue {
    pub fn new(
        shared: Arc<Shared>,
        sink: Arc<ReplySink>,
        client: ClientState,
        me: Arc<super::clients::Client>,
    ) -> Self {
        Self {
            shared,
            sink,
            client,
            entries: VecDeque::new(),
            head_seq: 0,
            batch_first: 0,
            // Grows with the replies: an idle client holds no buffer.
            out: crate::outbox::Outbox::default(),
            arrivals: Vec::new(),
            retries: Vec::new(),
            retry_at: None,
            closing: false,
            parse_held: false,
            txn: None,
            watch: None,
            subs: super::pubsub::Subscriptions::default(),
            me,
            reply_mode: ReplyMode::On,
            silenced: VecDeque::new(),
            tick: 0,
            written: Vec::new(),
            held: None,
            track: super::track::Tracker::default(),
            private: super::private::Private::default(),
        }
    }

    /// When a request held by CLIENT PAUSE should be looked at again.
    pub fn resume_at(&self) -> Option<Instant> {
        self.held.as_ref().map(|held| held.1)
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

    /// The client sent EOF: answer what was read, except blocking commands,
    /// which Redis drops with the client that left — their dedicated
    /// connections are aborted so they cannot take data later.
    pub fn client_gone(&mut self) {
        self.closing = true;
        for entry in &mut self.entries {
            if let Entry::One(u) = entry
                && let Via::Lease(lease) = &mut u.via
                && lease.take().is_some()
            {
                u.reply = Some(Bytes::new());
            }
        }
        self.flush_ready();
    }

    /// Whether reading the client may go on (back-pressure otherwise).
    pub fn accepts_more(&self, out_high_water: usize) -> bool {
        !self.closing
            && self.held.is_none()
            && self.private.verifying.is_none()
            && self.entries.len() < self.shared.runtime.max_inflight()
            && self.out.len() < out_high_water
    }

    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// Reply bytes not yet written to the client.
    pub fn out_len(&self) -> usize {
        self.out.len()
    }

    /// Whether the queue holds memory a burst grew (the output buffer, or
    /// room for more entries or tracked requests than a few): what [`Queue::release_idle`]
    /// would give back.
    pub fn holds_more(&self) -> bool {
        self.out.holds_more()
            || self.entries.capacity() > IDLE_ENTRIES
            || self.track.holds_more(IDLE_ENTRIES)
    }

    /// With nothing outstanding: gives back what a burst grew (the output
    /// buffer, the queue of entries and its bookkeeping, the reply
    /// mailbox), so a client that once pipelined thousands of requests
    /// holds, idle, what one that never did holds.
    pub fn release_idle(&mut self) {
        if !self.entries.is_empty() || !self.holds_more() {
            return;
        }
        self.out.release();
        self.entries = VecDeque::new();
        self.arrivals = Vec::new();
        self.silenced.shrink_to_fit();
        self.track.release();
        self.sink.release();
    }

    pub fn out_mut(&mut self) -> &mut crate::outbox::Outbox {
        &mut self.out
    }

    pub fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// The sequence number the next entry gets.
    pub(super) fn next_seq(&self) -> u64 {
        self.head_seq + self.entries.len() as u64
    }

    /// Parses and handles every complete request in `input`, as far as
    /// back-pressure allows.
    pub fn on_input(&mut self, parser: &mut RequestParser, input: &mut BytesMut, high: usize) {
        self.on_input_at(parser, input, high, None);
    }

    /// [`Self::on_input`] for input read at `read_at` (the requests' arrival
    /// time; `None`: read the clock if a request is found).
    pub fn on_input_at(
        &mut self,
        parser: &mut RequestParser,
        input: &mut BytesMut,
        high: usize,
        read_at: Option<std::time::Instant>,
    ) {
        // (A guard, not a borrow of `self`: no reference count touched.)
        let table = self.shared.topology.load();
        self.track.new_batch(read_at);
        if read_at.is_some() {
            self.start_batch();
        }
        // A request held by CLIENT PAUSE goes first, once the pause is over.
        // (Still held: its box is kept, with the new time to look again.)
        if let Some(mut held) = self.held.take() {
            match self.shared.pause.holds(&held.0) {
                Some(until) => {
                    held.1 = until;
                    self.held = Some(held);
                }
                None => self.on_request(held.0, &table),
            }
        }
        // Parsing stops where back-pressure starts; the flush after it may
        // lift it without any output or event to follow (replies answered on
        // the spot, then silenced by CLIENT REPLY OFF): parse again then.
        loop {
            let mut held_back = true;
            while self.accepts_more(high) {
                match parser.next(input) {
                    Ok(Some(req)) => match self.shared.pause.holds(&req) {
                        Some(until) => self.held = Some(Box::new((req, until))),
                        None => {
                            self.on_request(req, &table);
                            if self.client.authenticated {
                                parser.set_auth_required(false);
                            }
                        }
                    },
                    Ok(None) => {
                        held_back = false;
                        break;
                    }
                    Err(e) => {
                        // Redis's exact reply (the offending byte as `%c`),
                        // queued behind the replies still owed; then the
                        // connection closes.
                        let mut reply = BytesMut::with_capacity(64);
                        e.write_reply(&mut reply);
                        self.push_ready(reply.freeze());
                        crate::stats::bump(&self.shared.stats.client_err, 1);
                        self.closing = true;
                        held_back = false;
                        break;
                    }
                }
            }
            self.flush_ready();
            if !held_back || input.is_empty() || !self.accepts_more(high) {
                self.parse_held = held_back && !input.is_empty();
                break;
            }
        }
    }

    /// Whether parsing stopped at back-pressure with input left, and that
    /// back-pressure is gone now (a write, an expiry, a deadline or a reply
    /// lifted it): the session must parse again, as nothing on the socket
    /// may be left to wake a read.
    pub fn parse_held_back(&self, high: usize) -> bool {
        self.parse_held && self.accepts_more(high)
    }

    pub(super) fn handle(&mut self, req: Request, route: Route, table: &SlotTable) {
        let changes_facts = matches!(route, Route::Local(_) | Route::Txn(_) | Route::PubSub(_));
        self.route_request(req, route, table);
        if changes_facts {
            self.sync_facts();
        } else if let Some(txn) = &self.txn {
            // Inside MULTI only the queued count changes.
            self.me.facts.lock().multi = Some(txn.len());
        }
    }

    fn route_request(&mut self, req: Request, route: Route, table: &SlotTable) {
        if self.txn.is_some() {
            return self.in_multi(req, route, table);
        }
        // Redis checks the command itself (unknown, arity, CROSSSLOT) before
        // the subscribed context.
        if self.subs.restricts(self.client.protocol) && !matches!(route, Route::Reject(_)) {
            if route == Route::Local(route::Local::Ping) {
                return self.subscribed_ping(&req);
            }
            if !super::pubsub::allowed_when_subscribed(&route) {
                let msg = super::pubsub::not_allowed_message(&req);
                return self.push_error(&msg);
            }
        }
        match route {
            Route::Local(cmd) => {
                if !self.passthru_auth(cmd, &req, table) {
                    self.answer_locally(cmd, &req, table);
                }
            }
            Route::Reject(route::Reject::CrossSlot) if self.shared.runtime.rcp_compat() => {
                crate::stats::bump(&self.shared.stats.client_err, 1);
                self.push_error(super::proxy_config::rcp_cross_slot(
                    self.shared.runtime.cross_slot(),
                ));
            }
            Route::Reject(reject) => {
                crate::stats::bump(&self.shared.stats.client_err, 1);
                self.push_error(&reject.message(&req));
            }
            Route::Forward(fwd) => {
                let target = fwd.slot.map_or(Target::Any, Target::Slot);
                self.push_unit(Entry::One(Unit::new(req, target, fwd.readonly)), table);
            }
            Route::Split { merge, readonly } => self.split(req, merge, readonly, table),
            Route::Fanout {
                merge,
                scope,
                readonly,
            } => self.fanout(req, merge, scope, readonly, table),
            Route::Scan => self.scan(req, table),
            Route::Blocking(fwd) => {
                let target = fwd.slot.map_or(Target::Any, Target::Slot);
                let mut unit = Unit::new(req, target, fwd.readonly);
                unit.via = Via::Lease(None);
                self.push_unit(Entry::One(unit), table);
            }
            Route::Txn(cmd) => self.txn_command(cmd, req, table),
            Route::PubSub(cmd) => self.pubsub_command(cmd, &req, table),
            Route::Wait => self.wait(&req),
        }
    }

    fn answer_locally(&mut self, cmd: route::Local, req: &Request, table: &SlotTable) {
        let version = self.shared.topology.backend_version();
        let ctx = local::Context {
            backend_version: version.as_deref().map(String::as_str),
            announce: self.announce(),
            table,
            clients: &self.shared.clients,
            users: &self.shared.users,
            shared: Some(&self.shared),
            me: &self.me,
        };
        let after = if self.entries.is_empty() {
            local::answer(cmd, req, &mut self.client, &ctx, &mut self.out.tail)
        } else {
            let mut buf = BytesMut::new();
            let after = local::answer(cmd, req, &mut self.client, &ctx, &mut buf);
            self.entries.push_back(Entry::Ready(buf.freeze()));
            after
        };
        if after == After::Close {
            self.closing = true;
        }
        if cmd == route::Local::Reset {
            self.txn = None;
            self.watch = None;
            self.reset_subscriptions();
        }
    }

    /// The address cluster-aware clients are told to use: the configured
    /// one, else the address this client reached the proxy on.
    fn announce(&self) -> Option<std::net::SocketAddr> {
        self.shared.settings.announce.or(self.client.local_addr)
    }

    /// Queues a forwarded entry and dispatches all its units.
    pub(super) fn push_unit(&mut self, entry: Entry, table: &SlotTable) {
        let seq = self.next_seq();
        let tick = self.tick;
        // Pushed first and stamped in place: the entry is moved once.
        self.entries.push_back(entry);
        let parts = match self.entries.back_mut() {
            Some(Entry::One(u) | Entry::Scan(u, _)) => {
                u.born = tick;
                0
            }
            Some(Entry::Multi(m)) => {
                m.units.iter_mut().for_each(|u| u.born = tick);
                m.units.len()
            }
            _ => 0,
        };
        if parts == 0 {
            self.dispatch(seq, table);
        } else {
            for part in 0..parts {
                self.dispatch(seq | ((part as u64 + 1) << PART_SHIFT), table);
            }
        }
    }

    /// Queues a complete reply behind whatever is pending.
    pub(super) fn push_ready(&mut self, reply: Bytes) {
        if self.entries.is_empty() {
            self.out.tail.extend_from_slice(&reply);
        } else {
            self.entries.push_back(Entry::Ready(reply));
        }
    }

    /// Queues an error reply behind whatever is pending.
    pub(super) fn push_error(&mut self, msg: &[u8]) {
        if self.entries.is_empty() {
            encode::error(&mut self.out.tail, msg);
        } else {
            self.entries.push_back(Entry::Ready(error_bytes(msg)));
        }
    }

    /// The entry a tag's sequence number names.
    pub(super) fn entry_mut(&mut self, tag: u64) -> Option<&mut Entry> {
        let seq = tag & SEQ_MASK;
        let idx = usize::try_from(seq.checked_sub(self.head_seq)?).ok()?;
        self.entries.get_mut(idx)
    }

    /// The unit a tag names, if it is still waiting.
    pub(super) fn unit(&mut self, tag: u64) -> Option<&mut Unit> {
        unit_in(&mut self.entries, self.head_seq, tag)
    }

    /// Moves the ready prefix of the queue to the output buffer.
    pub(super) fn flush_ready(&mut self) {
        // The finished entries are dropped together, in place, at the end
        // (popping each would move it out of the queue only to drop it).
        let mut finished = 0;
        loop {
            let seq = self.head_seq + finished as u64;
            let done = match self.entries.get_mut(finished) {
                None => break,
                Some(Entry::Ready(b)) => Some(std::mem::take(b)),
                Some(Entry::One(u)) => u.reply.take(),
                Some(Entry::Scan(u, step)) => {
                    let step = *step;
                    u.reply.take().map(|r| super::multi::finish_scan(&r, step))
                }
                Some(Entry::Sub(sub)) if sub.remaining == 0 => {
                    Some(std::mem::take(&mut sub.frames).freeze())
                }
                Some(Entry::Sub(_)) => None,
                Some(Entry::Wait(w)) => {
                    if !w.started {
                        // Every earlier request is answered: its writes are
                        // in the masters' offsets now.
                        w.started = true;
                        let masters = if self.written.is_empty() {
                            self.shared
                                .topology
                                .load()
                                .masters()
                                .iter()
                                .map(|n| n.addr().clone())
                                .collect()
                        } else {
                            self.written.clone()
                        };
                        super::wait::spawn(
                            masters,
                            w.numreplicas,
                            w.timeout,
                            &self.sink,
                            seq,
                            self.shared.topology.prelude().clone(),
                        );
                    }
                    w.reply.take()
                }
                Some(Entry::Multi(m)) => {
                    if m.units.iter().all(|u| u.reply.is_some()) {
                        Some(super::multi::finish(m, &self.shared, seq))
                    } else {
                        None
                    }
                }
            };
            let Some(reply) = done else {
                break;
            };
            self.track_reply(seq, &reply);
            if self.silenced.front() == Some(&seq) {
                self.silenced.pop_front();
            } else {
                self.out.push(reply);
            }
            finished += 1;
        }
        self.entries.drain(..finished);
        self.head_seq += finished as u64;
        self.track_done();
        self.start_verifying();
    }
}

/// [`Queue::unit`] on the queue's entries alone, so the caller can borrow
/// the queue's other fields (its `shared`) beside the unit.
pub(super) fn unit_in(entries: &mut VecDeque<Entry>, head_seq: u64, tag: u64) -> Option<&mut Unit> {
    let seq = tag & SEQ_MASK;
    let part = tag >> PART_SHIFT;
    let idx = usize::try_from(seq.checked_sub(head_seq)?).ok()?;
    match entries.get_mut(idx)? {
        Entry::One(u) | Entry::Scan(u, _) if part == 0 => Some(u),
        Entry::Multi(m) if part > 0 => m.units.get_mut(usize::try_from(part - 1).ok()?),
        _ => None,
    }
}

/// A complete error reply frame.
pub(super) fn error_bytes(msg: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(msg.len() + 3);
    encode::error(&mut buf, msg);
    buf.freeze()
}
