//! Re-establishing a client's subscriptions after its subscriber connection
//! is lost (node killed, failover, network).
//!
//! When a subscriber connection fails it reports it once (a `Failed` with the
//! connection's tag). The confirmations it still owed are answered by the
//! proxy at once (they are known exactly), and the connection is re-made on
//! the retry clock as soon as there is somewhere to go:
//! - SUBSCRIBE/PSUBSCRIBE: any other master, immediately (every master hears
//!   every PUBLISH of the cluster);
//! - SSUBSCRIBE: the owner of the channels' slots in the current slot table,
//!   once it is another node than the lost one (after the failover and the
//!   refresh that shows it); channels whose slots went to different nodes
//!   move to a connection on each.
//!
//! The lost node itself is tried again only [`SAME_NODE_AFTER`] after the
//! loss (it may come back on the same address), so a dead node costs one
//! connection attempt per second, not one per retry tick. A connection lost
//! again soon after it was opened (every node unreachable) makes the next
//! attempt wait longer, doubling up to [`MAX_PACE`].
//!
//! Invariant: the client gets no confirmation for a re-subscription — it
//! already believes it is subscribed; those confirmations are owed as
//! [`Owed::Silent`] and dropped. Messages published while no connection was
//! subscribed are lost, as with Redis pub/sub across a reconnect.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use slotway_resp::encode;
use tokio::time::Instant;
use tracing::debug;

use super::pubsub::Owed;
use super::queue::Queue;
use crate::backend::Node;
use crate::cluster::SlotTable;

/// How long after losing a node a re-subscription may go back to it; also
/// how long a connection must live to count as having worked.
pub(super) const SAME_NODE_AFTER: Duration = Duration::from_secs(1);
/// Longest wait between attempts after repeated quick losses.
const MAX_PACE: Duration = Duration::from_secs(2);

/// The wait before the next attempt after `failures` quick losses in a row.
fn pace(failures: u32) -> Duration {
    match failures {
        0 => Duration::ZERO,
        n => Duration::from_millis(100)
            .saturating_mul(1 << n.min(5).saturating_sub(1))
            .min(MAX_PACE),
    }
}

/// Where a lost subscriber goes now.
enum Home {
    /// Not known yet: wait for the topology.
    Wait,
    /// Nothing to restore.
    Nothing,
    /// This node; for shard connections, channels owned by other nodes move.
    Node(Arc<Node>, Vec<(Arc<Node>, Vec<Bytes>)>),
}

impl Queue {
    /// A subscriber connection reported its failure.
    pub(super) fn on_stream_lost(&mut self, tag: u64) {
        let Some(sub) = self.subs.by_tag(tag) else {
            return;
        };
        if sub.conn.take().is_none() {
            return;
        }
        let now = Instant::now();
        let quick = sub
            .opened_at
            .is_some_and(|t| now.duration_since(t) < SAME_NODE_AFTER);
        sub.failures = if quick {
            sub.failures.saturating_add(1)
        } else {
            0
        };
        sub.lost_at = Some(now);
        let owed = std::mem::take(&mut sub.owed);
        debug!(client = self.client.id, node = %sub.addr, "subscriber connection lost; re-subscribing");
        self.answer_owed(owed);
        self.shared.topology.request_refresh();
        self.arm_retry();
        self.flush_ready();
    }

    /// On the retry clock: re-establishes every lost subscriber connection
    /// that has somewhere to go; the others wait for the next tick.
    pub(super) fn resubscribe(&mut self, table: &SlotTable) {
        let now = Instant::now();
        let mut waiting = false;
        let lost: Vec<usize> = (0..=self.subs.shards.len())
            .filter(|&i| self.subs.get_mut(i).is_some_and(|s| s.lost_at.is_some()))
            .collect();
        for index in lost {
            match self.home(index, table, now) {
                Home::Wait => waiting = true,
                Home::Nothing => {
                    if let Some(sub) = self.subs.get_mut(index) {
                        sub.lost_at = None;
                    }
                }
                Home::Node(node, moved) => {
                    for (other, channels) in moved {
                        self.adopt(&other, channels);
                    }
                    let (protocol, sink) = (self.client.protocol, self.sink.clone());
                    self.subs.connect(index, &node, protocol, &sink);
                    self.restore(index);
                    debug!(client = self.client.id, node = %node.addr(), "subscriptions re-established");
                }
            }
        }
        if waiting {
            self.shared.topology.request_refresh();
            self.arm_retry();
        }
    }

    /// Where lost subscriber `index` should go now.
    fn home(&mut self, index: usize, table: &SlotTable, now: Instant) -> Home {
        let pick = self.client.id;
        let Some(sub) = self.subs.get_mut(index) else {
            return Home::Nothing;
        };
        if sub.channels.is_empty() && sub.patterns.is_empty() {
            return Home::Nothing;
        }
        let lost = sub.addr.clone();
        let since = sub
            .lost_at
            .map_or(Duration::MAX, |at| now.duration_since(at));
        if since < pace(sub.failures) {
            return Home::Wait;
        }
        let may_return = since >= SAME_NODE_AFTER;
        let usable = |n: &Arc<Node>| may_return || n.addr() != &lost;
        if index == 0 {
            let masters = table.masters();
            let n = masters.len();
            let start = usize::try_from(pick).unwrap_or(0);
            return (0..n)
                .filter_map(|k| masters.get((start + k) % n))
                .find(|m| usable(m))
                .map_or(Home::Wait, |m| Home::Node(m.clone(), Vec::new()));
        }
        let mut by_owner: Vec<(Arc<Node>, Vec<Bytes>)> = Vec::new();
        for channel in &sub.channels {
            let slot = slotway_hashkit::key_slot(channel);
            let Some(owner) = table.master(slot).filter(|n| usable(n)) else {
                return Home::Wait;
            };
            match by_owner.iter_mut().find(|(n, _)| Arc::ptr_eq(n, owner)) {
                Some((_, list)) => list.push(channel.clone()),
                None => by_owner.push((owner.clone(), vec![channel.clone()])),
            }
        }
        // The largest group stays on this connection; the others move.
        by_owner.sort_by_key(|(_, list)| std::cmp::Reverse(list.len()));
        let mut groups = by_owner.into_iter();
        let Some((home, _)) = groups.next() else {
            return Home::Nothing;
        };
        let moved: Vec<(Arc<Node>, Vec<Bytes>)> = groups.collect();
        for (_, channels) in &moved {
            for c in channels {
                sub.channels.remove(c);
            }
        }
        Home::Node(home, moved)
    }

    /// Sends the whole of subscriber `index`'s subscriptions on its new
    /// connection, confirmations owed silently.
    fn restore(&mut self, index: usize) {
        let sink = self.sink.clone();
        let Some(sub) = self.subs.get_mut(index) else {
            return;
        };
        let mut commands: Vec<(Bytes, usize)> = Vec::new();
        if index == 0 {
            let channels: Vec<Bytes> = sub.channels.iter().cloned().collect();
            let patterns: Vec<Bytes> = sub.patterns.iter().cloned().collect();
            commands.extend(command(b"SUBSCRIBE", &channels));
            commands.extend(command(b"PSUBSCRIBE", &patterns));
        } else {
            let channels: Vec<Bytes> = sub.channels.iter().cloned().collect();
            commands.extend(ssubscribe_by_slot(&channels));
        }
        for (payload, confirmations) in commands {
            if sub.send(payload, &sink) {
                sub.owed.push_back(Owed::Silent(confirmations));
            }
        }
    }

    /// Shard channels that now live on `node`: onto a live connection there,
    /// else a new one.
    fn adopt(&mut self, node: &Arc<Node>, channels: Vec<Bytes>) {
        let sink = self.sink.clone();
        let protocol = self.client.protocol;
        let live = self
            .subs
            .shards
            .iter()
            .position(|s| s.conn.is_some() && s.addr == *node.addr());
        let index = match live {
            Some(i) => i + 1,
            None => {
                self.subs
                    .shards
                    .push(super::pubsub::Subscriber::detached(node.addr().clone()));
                let index = self.subs.shards.len();
                self.subs.connect(index, node, protocol, &sink);
                index
            }
        };
        if let Some(sub) = self.subs.get_mut(index) {
            sub.channels.extend(channels.iter().cloned());
            for (payload, confirmations) in ssubscribe_by_slot(&channels) {
                if sub.send(payload, &sink) {
                    sub.owed.push_back(Owed::Silent(confirmations));
                }
            }
        }
    }
}

/// `name args…` and the confirmations it brings; none without arguments
/// (an argument-less SUBSCRIBE is an error).
fn command(name: &[u8], args: &[Bytes]) -> Option<(Bytes, usize)> {
    if args.is_empty() {
        return None;
    }
    let mut parts: Vec<&[u8]> = Vec::with_capacity(args.len() + 1);
    parts.push(name);
    parts.extend(args.iter().map(|a| &a[..]));
    let mut out = BytesMut::new();
    encode::command(&mut out, &parts);
    Some((out.freeze(), args.len()))
}

/// One SSUBSCRIBE per slot: Redis refuses shard channels of several slots
/// in one command.
fn ssubscribe_by_slot(channels: &[Bytes]) -> Vec<(Bytes, usize)> {
    let mut by_slot: BTreeMap<u16, Vec<Bytes>> = BTreeMap::new();
    for c in channels {
        by_slot
            .entry(slotway_hashkit::key_slot(c))
            .or_default()
            .push(c.clone());
    }
    by_slot
        .values()
        .filter_map(|group| command(b"SSUBSCRIBE", group))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn quick_losses_slow_the_attempts_down() {
        assert_eq!(pace(0), Duration::ZERO);
        assert_eq!(pace(1), Duration::from_millis(100));
        assert_eq!(pace(2), Duration::from_millis(200));
        assert_eq!(pace(5), Duration::from_millis(1600));
        assert_eq!(pace(6), Duration::from_millis(1600));
        assert_eq!(pace(u32::MAX), Duration::from_millis(1600));
        assert!(pace(40) <= MAX_PACE);
    }

    #[test]
    fn one_ssubscribe_per_slot() {
        let ch = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        let cmds = ssubscribe_by_slot(&[ch("{a}1"), ch("{b}1"), ch("{a}2")]);
        assert_eq!(cmds.len(), 2);
        let total: usize = cmds.iter().map(|(_, n)| n).sum();
        assert_eq!(total, 3);
        let a = cmds
            .iter()
            .find(|(p, _)| p.windows(4).any(|w| w == b"{a}2"))
            .unwrap();
        assert_eq!(
            &a.0[..],
            b"*3\r\n$10\r\nSSUBSCRIBE\r\n$4\r\n{a}1\r\n$4\r\n{a}2\r\n"
        );
        assert_eq!(a.1, 2);
        assert!(command(b"SUBSCRIBE", &[]).is_none());
    }
}
