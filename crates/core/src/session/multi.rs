//! Requests the proxy turns into several: multi-key commands split by slot,
//! fan-outs to every master, and SCAN's walk over the masters.
//!
//! Split: one sub-request per slot (never one per key), in the order slots
//! first appear; the parts for one node go out on the same connection, so
//! they leave in one write. Fan-out: the same request to every master, in
//! slot order. SCAN: the client's cursor encodes `(node cursor, master
//! index)` as `node_cursor * 1024 + index`; a node cursor of 0 moves on to
//! the next master, and 0 is returned only after the last one, so every key
//! is seen once while the topology is stable.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use slotway_resp::{Request, encode};

use super::Shared;
use super::queue::{Entry, Multi, Queue, ScanStep, Target, Unit};
use crate::cluster::SlotTable;
use crate::merge::{self, ProxySection};
use crate::route::{Merge, Scope};

/// SCAN cursors reserve this many low values per node cursor for the
/// master index (so at most this many masters).
const SCAN_STRIDE: u64 = 1024;

impl Queue {
    /// MGET/MSET/DEL/UNLINK/EXISTS/TOUCH whose keys span slots.
    pub(super) fn split(&mut self, req: Request, merge: Merge, readonly: bool, table: &SlotTable) {
        let name = req.arg(0).unwrap_or_default();
        // MSET takes key/value pairs; the others a list of keys.
        let step = if merge == Merge::AllOk { 2 } else { 1 };
        if step == 2 && req.argc().is_multiple_of(2) {
            return self.push_error(b"ERR wrong number of arguments for 'mset' command");
        }
        // Each key's shard is computed once (a pool's `random` distribution
        // would give another answer the second time).
        let mut by_slot: HashMap<u16, usize> = HashMap::new();
        let mut groups: Vec<(u16, Vec<usize>)> = Vec::new();
        let mut i = 1;
        while i < req.argc() {
            let slot = table.keys().shard(req.arg(i).unwrap_or_default());
            let g = *by_slot.entry(slot).or_insert_with(|| {
                groups.push((slot, Vec::new()));
                groups.len() - 1
            });
            if let Some((_, group)) = groups.get_mut(g) {
                group.push(i);
            }
            i += step;
        }
        crate::stats::bump(&self.shared.stats.fragments, groups.len() as u64);
        let mut units = Vec::with_capacity(groups.len());
        let mut positions = Vec::with_capacity(groups.len());
        for (slot, group) in &groups {
            let mut args: Vec<&[u8]> = Vec::with_capacity(1 + group.len() * step);
            args.push(name);
            for &k in group {
                for j in k..k + step {
                    args.push(req.arg(j).unwrap_or_default());
                }
            }
            units.push(Unit::new(
                Request::from_args(args),
                Target::Slot(*slot),
                readonly,
            ));
            positions.push(
                group
                    .iter()
                    .map(|&k| u32::try_from(k - 1).unwrap_or(u32::MAX))
                    .collect(),
            );
        }
        let multi = Multi {
            units,
            merge,
            positions,
            total: req.argc().saturating_sub(1),
            protocol: self.client.protocol,
            req,
        };
        self.push_unit(Entry::Multi(Box::new(multi)), table);
    }

    /// The same request to every master (or node), replies merged.
    pub(super) fn fanout(
        &mut self,
        req: Request,
        merge: Merge,
        scope: Scope,
        readonly: bool,
        table: &SlotTable,
    ) {
        let addrs: Vec<Arc<str>> = match scope {
            Scope::Masters => table
                .masters_in_slot_order()
                .into_iter()
                .map(|n| n.addr().clone())
                .collect(),
            Scope::AllNodes => self
                .shared
                .topology
                .all_addrs()
                .into_iter()
                .map(Arc::from)
                .collect(),
        };
        if addrs.is_empty() {
            self.push_error(b"CLUSTERDOWN slotway: no cluster node reachable yet");
            return;
        }
        let units = addrs
            .into_iter()
            .map(|a| Unit::new(req.clone(), Target::Node(a), readonly))
            .collect();
        let multi = Multi {
            units,
            merge,
            positions: Vec::new(),
            total: 0,
            protocol: self.client.protocol,
            req,
        };
        self.push_unit(Entry::Multi(Box::new(multi)), table);
    }

    /// One SCAN step on the master the cursor names.
    pub(super) fn scan(&mut self, req: Request, table: &SlotTable) {
        let masters = table.masters_in_slot_order();
        if masters.is_empty() {
            self.push_error(b"CLUSTERDOWN slotway: no cluster node reachable yet");
            return;
        }
        let cursor = std::str::from_utf8(req.arg(1).unwrap_or_default())
            .ok()
            .and_then(|s| s.parse::<u64>().ok());
        let Some(cursor) = cursor else {
            self.push_error(b"ERR invalid cursor");
            return;
        };
        let index = usize::try_from(cursor % SCAN_STRIDE).unwrap_or(usize::MAX);
        let Some(node) = masters.get(index) else {
            self.push_error(b"ERR invalid cursor");
            return;
        };
        let node_cursor = (cursor / SCAN_STRIDE).to_string();
        let mut args: Vec<&[u8]> = vec![b"SCAN", node_cursor.as_bytes()];
        args.extend(req.args().skip(2));
        let unit = Unit::new(
            Request::from_args(args),
            Target::Node(node.addr().clone()),
            true,
        );
        let step = ScanStep {
            index,
            masters: masters.len(),
        };
        self.push_unit(Entry::Scan(unit, step), table);
    }
}

/// Rewrites a node's SCAN reply with the proxy's cursor.
pub(super) fn finish_scan(reply: &Bytes, step: ScanStep) -> Bytes {
    if merge::is_error(reply) {
        return reply.clone();
    }
    let parts = merge::elements(reply).unwrap_or_default();
    let (2, Some(cursor), Some(keys)) = (parts.len(), parts.first(), parts.get(1)) else {
        return Bytes::from_static(b"-ERR slotway: unexpected SCAN reply from a node\r\n");
    };
    let node_cursor = slotway_resp::Value::decode(cursor)
        .ok()
        .flatten()
        .and_then(|(v, _)| v.as_bytes().map(<[u8]>::to_vec))
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse::<u64>().ok());
    let Some(node_cursor) = node_cursor else {
        return Bytes::from_static(b"-ERR slotway: unexpected SCAN cursor from a node\r\n");
    };
    let next = if node_cursor == 0 {
        if step.index + 1 < step.masters {
            step.index as u64 + 1
        } else {
            0
        }
    } else {
        match node_cursor
            .checked_mul(SCAN_STRIDE)
            .and_then(|c| c.checked_add(step.index as u64))
        {
            Some(c) => c,
            None => return Bytes::from_static(b"-ERR slotway: SCAN cursor out of range\r\n"),
        }
    };
    let mut out = BytesMut::with_capacity(keys.len() + 32);
    encode::array_header(&mut out, 2);
    encode::bulk(&mut out, next.to_string().as_bytes());
    out.put_slice(keys);
    out.freeze()
}

/// Merges a multi-part entry whose parts have all answered.
pub(super) fn finish(m: &Multi, shared: &Shared, seq: u64) -> Bytes {
    let replies: Vec<Bytes> = m.units.iter().filter_map(|u| u.reply.clone()).collect();
    match m.merge {
        Merge::Mget => {
            let parts: Vec<(&[u32], &Bytes)> = m
                .positions
                .iter()
                .map(Vec::as_slice)
                .zip(replies.iter())
                .collect();
            merge::mget(&parts, m.total)
        }
        Merge::Info => {
            let table = shared.topology.load();
            let sections: Vec<&[u8]> = m.req.args().skip(1).collect();
            let commands = shared.metrics.commands.snapshot();
            merge::info(
                &replies,
                &sections,
                m.protocol,
                &ProxySection {
                    version: env!("CARGO_PKG_VERSION"),
                    masters: table.masters().len(),
                    topology_version: table.version(),
                    covered_slots: table.covered_slots(),
                    commands: &commands,
                },
            )
        }
        kind => merge::merge(
            kind,
            &replies,
            m.protocol,
            usize::try_from(seq).unwrap_or_default(),
        ),
    }
}
