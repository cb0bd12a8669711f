//! Pub/Sub: each subscribing client gets its own subscriber connections —
//! one for SUBSCRIBE/PSUBSCRIBE (cluster-wide channels: any master hears
//! every PUBLISH of the cluster), and one per node for SSUBSCRIBE (shard
//! channels live on the node owning their slot).
//!
//! Order: every (un)subscribe command takes a place in the client's queue
//! that expects as many confirmations as Redis sends for it (one per
//! channel; for an argument-less unsubscribe, one per channel then
//! subscribed, or one if none), so confirmations reach the client in command
//! order. Messages are queued as they come, behind everything owed.
//!
//! A RESP2 client in subscribed mode may only (un)subscribe, PING, QUIT and
//! RESET, as in Redis; a RESP3 client may run any command meanwhile. The
//! mode follows the subscriptions the client asked for, at once, exactly as
//! Redis changes it when it processes the command.

use std::collections::HashSet;

use bytes::{BufMut, Bytes, BytesMut};
use slotway_resp::{Protocol, Request, Value, encode};

use super::queue::{Entry, Queue};
use crate::backend::{BackendRequest, StreamConn};
use crate::cluster::SlotTable;
use crate::merge;
use crate::route::{Local, PubSub, Route};

/// Tags of frames from subscriber connections: this bit, plus the
/// connection's index (0 classic, 1 + i for shard connection i).
pub const STREAM_TAG: u64 = 1 << 63;

/// A subscriber connection and what the client has subscribed on it.
#[derive(Debug)]
struct Subscriber {
    conn: StreamConn,
    channels: HashSet<Bytes>,
    patterns: HashSet<Bytes>,
}

impl Subscriber {
    fn new(conn: StreamConn) -> Self {
        Self {
            conn,
            channels: HashSet::new(),
            patterns: HashSet::new(),
        }
    }

    fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }
}

/// A client's subscriber connections.
#[derive(Debug, Default)]
pub struct Subscriptions {
    classic: Option<Subscriber>,
    shards: Vec<Subscriber>,
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
    pub shard_counts: Option<std::collections::VecDeque<usize>>,
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
/// does; returns the set's size after each confirmation Redis sends.
fn apply(set: &mut HashSet<Bytes>, names: &[Bytes], subscribe: bool) -> Vec<usize> {
    if subscribe {
        names
            .iter()
            .map(|n| {
                set.insert(n.clone());
                set.len()
            })
            .collect()
    } else if names.is_empty() {
        let k = set.len();
        set.clear();
        if k == 0 {
            vec![0]
        } else {
            (0..k).rev().collect()
        }
    } else {
        names
            .iter()
            .map(|n| {
                set.remove(n);
                set.len()
            })
            .collect()
    }
}

impl Queue {
    pub(super) fn pubsub_command(&mut self, cmd: PubSub, req: &Request, table: &SlotTable) {
        let protocol = self.client.protocol;
        let sink = self.sink.clone();
        let name = req.arg(0).unwrap_or_default().to_ascii_lowercase();
        let subscribe = !name.ends_with(b"unsubscribe");
        let patterns = name.starts_with(b"p");
        let names: Vec<Bytes> = (1..req.argc()).filter_map(|i| req.arg_bytes(i)).collect();
        let client_id = self.client.id;
        let subs = &mut self.subs;
        // (connection index, the set size after each confirmation) for
        // every connection the command goes to.
        let mut sends: Vec<(usize, Vec<usize>)> = Vec::new();
        // Shard channels on the other shard connections (counts are totals).
        let shard_total = |subs: &Subscriptions, except: usize| -> usize {
            subs.shards
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != except)
                .map(|(_, s)| s.channels.len())
                .sum()
        };
        let mut shard_counts: Option<std::collections::VecDeque<usize>> = None;
        match cmd {
            PubSub::Subscribe | PubSub::Unsubscribe => {
                if subs.classic.is_none() {
                    let Some(node) = table.pubsub_master(client_id) else {
                        return self
                            .push_error(b"CLUSTERDOWN slotway: no cluster node reachable yet");
                    };
                    let conn = node.dedicated().stream(protocol, sink.clone(), STREAM_TAG);
                    subs.classic = Some(Subscriber::new(conn));
                }
                if let Some(sub) = subs.classic.as_mut() {
                    let set = if patterns {
                        &mut sub.patterns
                    } else {
                        &mut sub.channels
                    };
                    sends.push((0, apply(set, &names, subscribe)));
                }
            }
            PubSub::SSubscribe(slot) | PubSub::SUnsubscribe(Some(slot)) => {
                let Some(node) = table.master(slot) else {
                    return self.push_error(b"CLUSTERDOWN Hash slot not served");
                };
                let idx = match subs
                    .shards
                    .iter()
                    .position(|c| c.conn.addr() == node.addr())
                {
                    Some(i) => i,
                    None => {
                        let tag = STREAM_TAG | (subs.shards.len() as u64 + 1);
                        let conn = node.dedicated().stream(protocol, sink.clone(), tag);
                        subs.shards.push(Subscriber::new(conn));
                        subs.shards.len() - 1
                    }
                };
                let others = shard_total(subs, idx);
                if let Some(sub) = subs.shards.get_mut(idx) {
                    let sizes = apply(&mut sub.channels, &names, subscribe);
                    shard_counts = Some(sizes.iter().map(|n| others + n).collect());
                    sends.push((idx + 1, sizes));
                }
            }
            PubSub::SUnsubscribe(None) => {
                if subs.shards.is_empty() {
                    let Some(node) = table.pubsub_master(client_id) else {
                        return self
                            .push_error(b"CLUSTERDOWN slotway: no cluster node reachable yet");
                    };
                    let conn = node
                        .dedicated()
                        .stream(protocol, sink.clone(), STREAM_TAG | 1);
                    subs.shards.push(Subscriber::new(conn));
                }
                let total = shard_total(subs, usize::MAX);
                for (i, sub) in subs.shards.iter_mut().enumerate() {
                    if !sub.channels.is_empty() {
                        sends.push((i + 1, apply(&mut sub.channels, &[], false)));
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
            let mut out = BytesMut::new();
            let kind = if protocol == Protocol::Resp3 {
                b'>'
            } else {
                b'*'
            };
            out.put_u8(kind);
            out.put_slice(b"3\r\n");
            encode::bulk(&mut out, b"sunsubscribe");
            encode::null(&mut out, protocol);
            encode::integer(&mut out, 0);
            return self.push_ready(out.freeze());
        }
        let mut expected = 0;
        for (idx, sizes) in &sends {
            let (idx, confirmations) = (*idx, sizes.len());
            let sub = if idx == 0 {
                self.subs.classic.as_ref()
            } else {
                self.subs.shards.get(idx - 1)
            };
            if let Some(sub) = sub {
                let _ = sub.conn.conn().send(BackendRequest {
                    payload: req.raw().clone(),
                    asking: false,
                    sink: sink.clone(),
                    seq: STREAM_TAG,
                    frames: 1,
                    write: false,
                });
                expected += confirmations;
            }
        }
        self.entries.push_back(Entry::Sub(SubEntry {
            remaining: expected,
            frames: BytesMut::new(),
            shard_counts,
        }));
    }

    /// PING in RESP2 subscribed mode answers `["pong", message]`.
    pub(super) fn subscribed_ping(&mut self, req: &Request) {
        let mut out = BytesMut::new();
        encode::array_header(&mut out, 2);
        encode::bulk(&mut out, b"pong");
        encode::bulk(&mut out, req.arg(1).unwrap_or_default());
        self.push_ready(out.freeze());
    }

    /// A frame from a subscriber connection: a confirmation fills the oldest
    /// (un)subscribe command still waiting for one; a message is queued.
    pub(super) fn on_stream_frame(&mut self, _tag: u64, frame: Bytes) {
        if let Some(shard) = confirmation_family(&frame) {
            let waiting = self.entries.iter_mut().find_map(|e| match e {
                Entry::Sub(sub) if sub.remaining > 0 && sub.shard_counts.is_some() == shard => {
                    Some(sub)
                }
                _ => None,
            });
            if let Some(sub) = waiting {
                let count = sub
                    .shard_counts
                    .as_mut()
                    .and_then(std::collections::VecDeque::pop_front);
                match count.and_then(|n| with_count(&frame, n)) {
                    Some(rewritten) => sub.frames.put_slice(&rewritten),
                    None => sub.frames.put_slice(&frame),
                }
                sub.remaining -= 1;
                self.flush_ready();
                return;
            }
        }
        self.push_ready(frame);
        self.flush_ready();
    }
}

/// For a (un)subscribe confirmation: whether it is a shard-channel one.
/// `None` for messages.
fn confirmation_family(frame: &Bytes) -> Option<bool> {
    let first = merge::elements(frame)?.into_iter().next()?;
    let kind = Value::decode(&first).ok()??.0;
    let kind = kind.as_bytes()?.to_ascii_lowercase();
    kind.ends_with(b"subscribe")
        .then(|| kind.starts_with(b"ssubscribe") || kind.starts_with(b"sunsubscribe"))
}

/// The same confirmation with its subscription count replaced.
fn with_count(frame: &Bytes, count: usize) -> Option<Bytes> {
    let parts = merge::elements(frame)?;
    let (kind, channel) = (parts.first()?, parts.get(1)?);
    let mut out = BytesMut::with_capacity(frame.len() + 8);
    out.put_u8(*frame.first()?);
    out.put_slice(b"3\r\n");
    out.put_slice(kind);
    out.put_slice(channel);
    encode::integer(&mut out, i64::try_from(count).ok()?);
    Some(out.freeze())
}
