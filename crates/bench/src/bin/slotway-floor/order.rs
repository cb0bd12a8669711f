//! What both shapes of the floor share: where a key goes, and putting a
//! client's replies back in its request order.
//!
//! Invariant: a request takes the next sequence number when it is parsed;
//! replies fill their slots in whatever order servers answer, and only the
//! filled prefix is handed out, so a client sees its replies in its request
//! order.

use std::collections::VecDeque;

use bytes::Bytes;
use slotway_hashkit::slot::key_slot;

/// The server (of `count`) that a key's CRC16 slot lands on.
pub fn server_for(key: &[u8], count: usize) -> usize {
    usize::from(key_slot(key)) % count.max(1)
}

/// A client's replies, by sequence number, until they can go out in order.
#[derive(Debug, Default)]
pub struct ReplyOrder {
    /// Slots of the requests sent and not yet handed out; the front one is
    /// `head_seq`.
    slots: VecDeque<Option<Bytes>>,
    head_seq: u64,
}

impl ReplyOrder {
    /// Takes a slot for a new request and returns its sequence number.
    pub fn reserve(&mut self) -> u64 {
        let seq = self.head_seq.wrapping_add(self.slots.len() as u64);
        self.slots.push_back(None);
        seq
    }

    /// Fills request `seq`'s slot (a number not reserved is ignored).
    pub fn fill(&mut self, seq: u64, reply: Bytes) {
        let offset = seq.wrapping_sub(self.head_seq);
        if let Some(slot) = usize::try_from(offset)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
        {
            *slot = Some(reply);
        }
    }

    /// Appends the answered prefix to `out` and frees its slots.
    pub fn drain_into(&mut self, out: &mut Vec<u8>) {
        while let Some(Some(_)) = self.slots.front() {
            if let Some(Some(reply)) = self.slots.pop_front() {
                out.extend_from_slice(&reply);
                self.head_seq = self.head_seq.wrapping_add(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_go_out_in_request_order() {
        let mut order = ReplyOrder::default();
        let (a, b, c) = (order.reserve(), order.reserve(), order.reserve());
        let mut out = Vec::new();
        order.fill(c, Bytes::from_static(b"c"));
        order.fill(b, Bytes::from_static(b"b"));
        order.drain_into(&mut out);
        assert!(out.is_empty(), "nothing before the first reply");
        order.fill(a, Bytes::from_static(b"a"));
        order.fill(99, Bytes::from_static(b"never reserved"));
        order.drain_into(&mut out);
        assert_eq!(out, b"abc");
        let d = order.reserve();
        assert_eq!(d, 3);
    }

    #[test]
    fn keys_spread_over_the_servers() {
        assert_eq!(server_for(b"foo", 1), 0);
        assert_eq!(server_for(b"anything", 0), 0);
        let used: std::collections::HashSet<usize> = (0..100)
            .map(|i| server_for(format!("k{i}").as_bytes(), 3))
            .collect();
        assert_eq!(used.len(), 3);
    }
}
