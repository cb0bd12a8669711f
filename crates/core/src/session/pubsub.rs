//! Pub/Sub: each subscribing client gets its own subscriber connections —
//! one for SUBSCRIBE/PSUBSCRIBE (cluster-wide channels: any master hears
//! every PUBLISH of the cluster), and one per node for SSUBSCRIBE (shard
//! channels live on the node owning their slot).
//!
//! Order: every (un)subscribe command takes a place in the client's queue
//! that expects as many confirmations as Redis sends for it (one per
//! channel; for an argument-less unsubscribe, one per channel then
//! subscribed, or one if none), so confirmations reach the client in command
//! order. Each connection remembers, in order, the confirmations it still
//! owes and the command each belongs to ([`Owed`]), so confirmations from
//! several nodes are credited to the right command whatever order the nodes
//! answer in. Messages are queued as they come, behind everything owed.
//!
//! A lost subscriber connection (node killed, failover) is re-established by
//! `resubscribe`: the confirmations it still owed are answered by the proxy
//! (they are known exactly in advance), and the client's subscriptions are
//! re-made on the slots' new owner without any confirmation reaching the
//! client, which already believes it is subscribed.
//!
//! A RESP2 client in subscribed mode may only (un)subscribe, PING, QUIT and
//! RESET, as in Redis; a RESP3 client may run any command meanwhile. The
//! mode follows the subscriptions the client asked for, at once, exactly as
//! Redis changes it when it processes the command.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use slotway_resp::{Protocol, Request, encode};
use tokio::time::Instant;

use super::queue::{Entry, Queue};
use super::subframes::{confirmation, confirmation_family, unsubscribed_channel, with_count};
use crate::backend::{BackendRequest, Node, ReplySink, StreamConn};
use crate::cluster::SlotTable;
use crate::route::{Local, PubSub, Route};

/// Tags of frames from subscriber connections: this bit, a generation (a
/// replaced connection's late frames are told apart), and the connection's
/// index (0 classic, 1 + i for shard connection i).
pub const STREAM_TAG: u64 = 1 << 63;
const INDEX_MASK: u64 = 0xFFFF_FFFF;
const GENERATION_SHIFT: u32 = 32;
const GENERATION_MASK: u64 = 0x7FFF_FFFF;

/// Confirmations a subscriber connection still owes, in the order the node
/// will send them.
#[derive(Debug)]
pub(super) enum Owed {
    /// Of a re-subscription: dropped, the client already has them.
    Silent(usize),
    /// Of the client's command queued at `seq`: the confirmations exactly as
    /// Redis will send them, answered by the proxy if the connection is lost.
    Client { seq: u64, frames: VecDeque<Bytes> },
}

/// A subscriber connection and what the client has subscribed on it.
#[derive(Debug)]
pub(super) struct Subscriber {
    /// `None` while lost (until re-established), or not opened yet.
    pub conn: Option<StreamConn>,
    /// The tag of `conn`'s frames.
    pub tag: u64,
    /// The node it is (or, while lost, was) connected to.
    pub addr: Arc<str>,
    /// What the client asked for, confirmed or not: what a re-subscription
    /// restores.
    pub channels: HashSet<Bytes>,
    pub patterns: HashSet<Bytes>,
    pub owed: VecDeque<Owed>,
    /// Lost at this time and waiting to be re-established.
    pub lost_at: Option<Instant>,
    /// When the current connection was opened.
    pub opened_at: Option<Instant>,
    /// Connections lost in a row soon after being opened (paces retries).
    pub failures: u32,
}

impl Subscriber {
    /// A subscriber for `addr` with no connection yet.
    pub fn detached(addr: Arc<str>) -> Self {
        Self {
            conn: None,
            tag: 0,
            addr,
            channels: HashSet::new(),
            patterns: HashSet::new(),
            owed: VecDeque::new(),
            lost_at: None,
            opened_at: None,
            failures: 0,
        }
    }

    fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Sends a command on the connection; false when there is none (lost)
    /// or it has ended.
    pub fn send(&self, payload: Bytes, sink: &Arc<ReplySink>) -> bool {
        self.conn.as_ref().is_some_and(|c| {
            c.conn()
                .send(BackendRequest {
                    payload,
                    asking: false,
                    sink: sink.clone(),
                    seq: self.tag,
                    frames: 1,
                    write: false,
                })
                .is_ok()
        })
    }
}

/// A client's subscriber connections.
#[derive(Debug, Default)]
pub struct Subscriptions {
    /// Boxed: most clients never subscribe, and every session carries this.
    pub(super) classic: Option<Box<Subscriber>>,
    pub(super) shards: Vec<Subscriber>,
    generation: u64,
    /// The client's own credentials (pass-through): new subscriber
    /// connections authenticate with them.
    pub(super) creds: Option<Arc<crate::backend::Credentials>>,
}

impl Subscriptions {
    /// Channels, patterns and shard channels subscribed.
    pub fn counts(&self) -> (usize, usize, usize) {
        let (sub, psub) = self
            .classic
            .as_ref()
            .map_or((0, 0), |s| (s.channels.len(), s.patterns.len()));
        let ssub = self.shards.iter().map(|s| s.channels.len()).sum();
        (sub, psub, ssub)
    }

    /// Whether the client is limited to subscription commands (RESP2 only).
    pub fn restricts(&self, protocol: Protocol) -> bool {
        protocol == Protocol::Resp2
            && (self.classic.as_ref().is_some_and(|s| s.count() > 0)
                || self.shards.iter().any(|s| s.count() > 0))
    }

    /// Subscriber `index` (0 classic, 1 + i shard connection i).
    pub(super) fn get_mut(&mut self, index: usize) -> Option<&mut Subscriber> {
        match index.checked_sub(1) {
            None => self.classic.as_deref_mut(),
            Some(i) => self.shards.get_mut(i),
        }
    }

    /// The subscriber whose current connection `tag` names.
    pub(super) fn by_tag(&mut self, tag: u64) -> Option<&mut Subscriber> {
        let index = usize::try_from(tag & INDEX_MASK).ok()?;
        self.get_mut(index).filter(|s| s.tag == tag)
    }

    /// Whether some connection waits to be re-established.
    pub(super) fn any_lost(&self) -> bool {
        self.classic
            .as_deref()
            .into_iter()
            .chain(&self.shards)
            .any(|s| s.lost_at.is_some())
    }

    /// Opens a new connection to `node` for subscriber `index`.
    pub(super) fn connect(
        &mut self,
        index: usize,
        node: &Node,
        protocol: Protocol,
        sink: &Arc<ReplySink>,
    ) {
        self.generation = (self.generation + 1) & GENERATION_MASK;
        let tag = STREAM_TAG | (self.generation << GENERATION_SHIFT) | (index as u64 & INDEX_MASK);
        let creds = self.creds.clone();
        if let Some(sub) = self.get_mut(index) {
            sub.conn = Some(
                node.dedicated()
                    .stream(protocol, sink.clone(), tag, creds.as_deref()),
            );
            sub.tag = tag;
            sub.addr = node.addr().clone();
            sub.lost_at = None;
            sub.opened_at = Some(Instant::now());
            sub.owed.clear();
        }
    }

    /// The shard subscriber for `names` of a slot served by `addr`: the one
    /// holding one of them, else a live one on that node, else one waiting
    /// to be re-established there.
    fn shard_for(&self, names: &[Bytes], addr: &str) -> Option<usize> {
        let on = |s: &Subscriber| &*s.addr == addr;
        self.shards
            .iter()
            .position(|s| names.iter().any(|n| s.channels.contains(n)))
            .or_else(|| self.shards.iter().position(|s| s.conn.is_some() && on(s)))
            .or_else(|| {
                self.shards
                    .iter()
                    .position(|s| s.lost_at.is_some() && on(s))
            })
    }
}

/// Confirmations still expected for one (un)subscribe command, and those
/// received so far.
#[derive(Debug)]
pub(super) struct SubEntry {
    pub remaining: usize,
    pub frames: BytesMut,
    /// A shard-channel command: its confirmations come from several nodes,
    /// each counting only its own channels, so the counts Redis would
    /// report (the client's total) are written into them, in order.
    pub shard_counts: Option<VecDeque<usize>>,
}

/// What a RESP2 client in subscribed mode may send.
pub fn allowed_when_subscribed(route: &Route) -> bool {
    matches!(
        route,
        Route::PubSub(_) | Route::Local(Local::Ping | Local::Quit | Local::Reset)
    )
}

/// Redis's refusal of other commands in subscribed mode.
pub fn not_allowed_message(req: &Request) -> Vec<u8> {
    let mut m = b"ERR Can't execute '".to_vec();
    m.extend(
        req.arg(0)
            .unwrap_or_default()
            .iter()
            .map(u8::to_ascii_lowercase),
    );
    m.extend_from_slice(
        b"': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
    );
    m
}

/// Applies (un)subscribing `names` to `set` one name at a time, as Redis
/// does; returns, for each confirmation Redis sends, its channel (none for
/// an argument-less unsubscribe of nothing) and the set's size after it.
fn apply(
    set: &mut HashSet<Bytes>,
    names: &[Bytes],
    subscribe: bool,
) -> Vec<(Option<Bytes>, usize)> {
    if subscribe {
        names
            .iter()
            .map(|n| {
                set.insert(n.clone());
                (Some(n.clone()), set.len())
            })
            .collect()
    } else if names.is_empty() {
        if set.is_empty() {
            return vec![(None, 0)];
        }
        let all: Vec<Bytes> = set.drain().collect();
        let k = all.len();
        all.into_iter()
            .enumerate()
            .map(|(i, n)| (Some(n), k - 1 - i))
            .collect()
    } else {
        names
            .iter()
            .map(|n| {
                set.remove(n);
                (Some(n.clone()), set.len())
            })
            .collect()
    }
}

impl Queue {
    pub(super) fn pubsub_command(&mut self, cmd: PubSub, req: &Request, table: &SlotTable) {
        let protocol = self.client.protocol;
        let sink = self.sink.clone();
        let kind = req.arg(0).unwrap_or_default().to_ascii_lowercase();
        let subscribe = !kind.ends_with(b"unsubscribe");
        let patterns = kind.starts_with(b"p");
        let names: Vec<Bytes> = (1..req.argc()).filter_map(|i| req.arg_owned(i)).collect();
        let client_id = self.client.id;
        let subs = &mut self.subs;
        // (subscriber index, the confirmations Redis will send) for every
        // connection the command goes to.
        let mut sends: Vec<(usize, Vec<Bytes>)> = Vec::new();
        let frames = |confirmations: Vec<(Option<Bytes>, usize)>, others: usize| -> Vec<Bytes> {
            confirmations
                .into_iter()
                .map(|(name, n)| confirmation(protocol, &kind, name.as_deref(), n + others))
                .collect()
        };
        // Shard channels on the other shard connections (counts are totals).
        let shard_total = |subs: &Subscriptions, except: usize| -> usize {
            subs.shards
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != except)
                .map(|(_, s)| s.channels.len())
                .sum()
        };
        let mut shard_counts: Option<VecDeque<usize>> = None;
        match cmd {
            PubSub::Subscribe | PubSub::Unsubscribe => {
                let Some(node) = table.pubsub_master(client_id) else {
                    return self.push_error(b"CLUSTERDOWN slotway: no cluster node reachable yet");
                };
                let sub = subs
                    .classic
                    .get_or_insert_with(|| Box::new(Subscriber::detached(node.addr().clone())));
                if sub.conn.is_none() && sub.lost_at.is_none() {
                    subs.connect(0, node, protocol, &sink);
                }
                if let Some(sub) = subs.classic.as_mut() {
                    // Redis counts channels and patterns together.
                    let (set, others) = if patterns {
                        (&mut sub.patterns, sub.channels.len())
                    } else {
                        (&mut sub.channels, sub.patterns.len())
                    };
                    sends.push((0, frames(apply(set, &names, subscribe), others)));
                }
            }
            PubSub::SSubscribe(slot) | PubSub::SUnsubscribe(Some(slot)) => {
                let Some(node) = table.master(slot) else {
                    return self.push_error(b"CLUSTERDOWN Hash slot not served");
                };
                let idx = subs.shard_for(&names, node.addr()).unwrap_or_else(|| {
                    subs.shards.push(Subscriber::detached(node.addr().clone()));
                    subs.shards.len() - 1
                });
                if subs
                    .shards
                    .get(idx)
                    .is_some_and(|s| s.conn.is_none() && s.lost_at.is_none())
                {
                    subs.connect(idx + 1, node, protocol, &sink);
                }
                let others = shard_total(subs, idx);
                if let Some(sub) = subs.shards.get_mut(idx) {
                    let confirmations = apply(&mut sub.channels, &names, subscribe);
                    shard_counts = Some(confirmations.iter().map(|(_, n)| others + n).collect());
                    sends.push((idx + 1, frames(confirmations, 0)));
                }
            }
            PubSub::SUnsubscribe(None) => {
                let total = shard_total(subs, usize::MAX);
                for (i, sub) in subs.shards.iter_mut().enumerate() {
                    if !sub.channels.is_empty() {
                        sends.push((i + 1, frames(apply(&mut sub.channels, &[], false), 0)));
                    }
                }
                // Confirmations arrive from several nodes in any order; the
                // counts go down by one each, as from one Redis.
                shard_counts = Some((0..total).rev().collect());
            }
        }
        // Unsubscribing from every shard channel while having none: one
        // confirmation, as Redis sends, not one per node.
        if cmd == PubSub::SUnsubscribe(None) && sends.is_empty() {
            return self.push_ready(confirmation(protocol, b"sunsubscribe", None, 0));
        }
        let seq = self.next_seq();
        self.entries.push_back(Entry::Sub(SubEntry {
            remaining: sends.iter().map(|(_, f)| f.len()).sum(),
            frames: BytesMut::new(),
            shard_counts,
        }));
        let mut answered_here = Vec::new();
        for (idx, frames) in sends {
            let Some(sub) = self.subs.get_mut(idx) else {
                continue;
            };
            if sub.send(req.raw().clone(), &sink) {
                sub.owed.push_back(Owed::Client {
                    seq,
                    frames: frames.into(),
                });
            } else {
                // The connection is lost: the proxy confirms, and the
                // re-subscription carries the change to the node.
                answered_here.extend(frames);
            }
        }
        for frame in answered_here {
            self.credit(seq, &frame);
        }
    }

    /// PING in RESP2 subscribed mode answers `["pong", message]`.
    pub(super) fn subscribed_ping(&mut self, req: &Request) {
        let mut out = BytesMut::new();
        encode::array_header(&mut out, 2);
        encode::bulk(&mut out, b"pong");
        encode::bulk(&mut out, req.arg(1).unwrap_or_default());
        self.push_ready(out.freeze());
    }

    /// Gives one confirmation to the (un)subscribe command queued at `seq`.
    pub(super) fn credit(&mut self, seq: u64, frame: &Bytes) {
        if let Some(Entry::Sub(sub)) = self.entry_mut(seq) {
            let count = sub.shard_counts.as_mut().and_then(VecDeque::pop_front);
            match count.and_then(|n| with_count(frame, n)) {
                Some(rewritten) => sub.frames.put_slice(&rewritten),
                None => sub.frames.put_slice(frame),
            }
            sub.remaining = sub.remaining.saturating_sub(1);
        }
    }

    /// A frame from a subscriber connection: a confirmation (or an error)
    /// answers what the connection owes first; a message is queued.
    pub(super) fn on_stream_frame(&mut self, tag: u64, frame: Bytes) {
        let answers = frame.first() == Some(&b'-') || confirmation_family(&frame).is_some();
        let Some(sub) = self.subs.by_tag(tag) else {
            // A replaced connection's late frame: what it owed was answered
            // when it was replaced; messages still go to the client.
            if !answers {
                self.push_ready(frame);
                self.flush_ready();
            }
            return;
        };
        if answers {
            match sub.owed.front_mut() {
                Some(Owed::Silent(n)) => {
                    if frame.first() == Some(&b'-') {
                        // The new owner refused the re-subscription (the
                        // slot moved again): start over from a fresh view.
                        tracing::debug!(reply = %String::from_utf8_lossy(&frame).trim_end(),
                            "re-subscription refused; trying again");
                        return self.on_stream_lost(tag);
                    }
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        sub.owed.pop_front();
                    }
                    return;
                }
                Some(Owed::Client { seq, frames }) => {
                    let seq = *seq;
                    // An error answers the whole command.
                    let answered = if frame.first() == Some(&b'-') {
                        frames.len()
                    } else {
                        1
                    };
                    frames.drain(..answered.min(frames.len()));
                    if frames.is_empty() {
                        sub.owed.pop_front();
                    }
                    if answered > 1 {
                        self.credit_error(seq, &frame, answered);
                    } else {
                        self.credit(seq, &frame);
                    }
                    self.flush_ready();
                    return;
                }
                // Unasked: the node unsubscribed the client itself (a shard
                // channel whose slot it lost); the client learns it as from
                // Redis, and it is not restored.
                None => {
                    if let Some(channel) = unsubscribed_channel(&frame) {
                        sub.channels.remove(&channel);
                    }
                }
            }
        }
        self.push_ready(frame);
        self.flush_ready();
    }

    /// An error reply answers a whole (un)subscribe command: it stands for
    /// the `n` confirmations that will not come.
    fn credit_error(&mut self, seq: u64, frame: &Bytes, n: usize) {
        if let Some(Entry::Sub(sub)) = self.entry_mut(seq) {
            sub.frames.put_slice(frame);
            sub.remaining = sub.remaining.saturating_sub(n);
            if let Some(counts) = sub.shard_counts.as_mut() {
                counts.drain(..n.min(counts.len()));
            }
        }
    }

    /// RESET: the subscriber connections close; what they still owed is
    /// answered first, so no earlier command waits forever.
    pub(super) fn reset_subscriptions(&mut self) {
        let subs = std::mem::take(&mut self.subs);
        for sub in subs.classic.map(|b| *b).into_iter().chain(subs.shards) {
            self.answer_owed(sub.owed);
        }
    }

    /// Answers a lost connection's owed client confirmations in its stead.
    pub(super) fn answer_owed(&mut self, owed: VecDeque<Owed>) {
        for o in owed {
            if let Owed::Client { seq, frames } = o {
                for f in frames {
                    self.credit(seq, &f);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn set(names: &[&str]) -> HashSet<Bytes> {
        names
            .iter()
            .map(|n| Bytes::copy_from_slice(n.as_bytes()))
            .collect()
    }

    #[test]
    fn confirmations_are_known_in_advance() {
        let mut s = set(&["a"]);
        let b = |n: &str| Bytes::copy_from_slice(n.as_bytes());
        assert_eq!(
            apply(&mut s, &[b("b"), b("a")], true),
            vec![(Some(b("b")), 2), (Some(b("a")), 2)]
        );
        let all = apply(&mut s, &[], false);
        assert_eq!(all.iter().map(|(_, n)| *n).collect::<Vec<_>>(), [1, 0]);
        assert!(s.is_empty());
        assert_eq!(apply(&mut s, &[], false), vec![(None, 0)]);
        assert_eq!(apply(&mut s, &[b("x")], false), vec![(Some(b("x")), 0)]);
    }
}
