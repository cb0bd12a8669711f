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

/// Applies (un)subscribing `names` to `set`; returns the confirmations Redis
/// sends for it.
fn apply(set: &mut HashSet<Bytes>, names: &[Bytes], subscribe: bool) -> usize {
    if subscribe {
        set.extend(names.iter().cloned());
        names.len()
    } else if names.is_empty() {
        let n = set.len().max(1);
        set.clear();
        n
    } else {
        for n in names {
            set.remove(n);
        }
        names.len()
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
        // (connection index, confirmations) for every connection the command goes to.
        let mut sends: Vec<(usize, usize)> = Vec::new();
        match cmd {
            PubSub::Subscribe | PubSub::Unsubscribe => {
                if subs.classic.is_none() {
                    let Some(node) = table.any_master(client_id) else {
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
                if let Some(sub) = subs.shards.get_mut(idx) {
                    sends.push((idx + 1, apply(&mut sub.channels, &names, subscribe)));
                }
            }
            PubSub::SUnsubscribe(None) => {
                if subs.shards.is_empty() {
                    let Some(node) = table.any_master(client_id) else {
                        return self
                            .push_error(b"CLUSTERDOWN slotway: no cluster node reachable yet");
                    };
                    let conn = node
                        .dedicated()
                        .stream(protocol, sink.clone(), STREAM_TAG | 1);
                    subs.shards.push(Subscriber::new(conn));
                }
                for (i, sub) in subs.shards.iter_mut().enumerate() {
                    sends.push((i + 1, apply(&mut sub.channels, &[], false)));
                }
            }
        }
        let mut expected = 0;
        for &(idx, confirmations) in &sends {
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
                });
                expected += confirmations;
            }
        }
        self.entries.push_back(Entry::Sub(SubEntry {
            remaining: expected,
            frames: BytesMut::new(),
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
        if is_confirmation(&frame) {
            let waiting = self.entries.iter_mut().find_map(|e| match e {
                Entry::Sub(sub) if sub.remaining > 0 => Some(sub),
                _ => None,
            });
            if let Some(sub) = waiting {
                sub.frames.put_slice(&frame);
                sub.remaining -= 1;
                self.flush_ready();
                return;
            }
        }
        self.push_ready(frame);
        self.flush_ready();
    }
}

/// Whether a frame confirms a (un)subscription (rather than carrying a message).
fn is_confirmation(frame: &Bytes) -> bool {
    let Some(first) = merge::elements(frame).and_then(|p| p.into_iter().next()) else {
        return false;
    };
    let Ok(Some((kind, _))) = Value::decode(&first) else {
        return false;
    };
    kind.as_bytes()
        .is_some_and(|k| k.to_ascii_lowercase().ends_with(b"subscribe"))
}
