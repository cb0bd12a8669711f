//! The proxy-wide memory bound on parked requests (`cluster.park_max_bytes`).
//!
//! Parking (a request waiting for its slot to get a reachable owner) is
//! bounded per client by `max_inflight_per_client`, but a failover with many
//! clients could still hold a lot of request bytes. Every session shares one
//! [`ParkBudget`]: a unit that has to wait takes a [`ParkTicket`] for its
//! payload's bytes the first time it parks and holds it until it is answered
//! (the ticket is released when the unit is done, or dropped with its
//! session). A unit that would take the total over the limit is answered
//! `-TRYAGAIN` at once instead of parking.
//!
//! Invariant: the shared count is exactly the sum of the live tickets (one
//! atomic add when a ticket is taken, one subtract when it is dropped).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a request that may not park gets.
pub(super) const TOO_MANY_PARKED: &[u8] =
    b"TRYAGAIN slotway: too many requests waiting for the cluster";

/// Bytes of requests currently parked, across all sessions, and the limit.
#[derive(Debug)]
pub struct ParkBudget {
    parked: Arc<AtomicU64>,
    limit: u64,
}

impl ParkBudget {
    /// A budget of `limit` bytes.
    #[must_use]
    pub fn new(limit: u64) -> Self {
        Self {
            parked: Arc::default(),
            limit,
        }
    }

    /// Bytes of requests parked now.
    #[must_use]
    pub fn parked_bytes(&self) -> u64 {
        self.parked.load(Ordering::Relaxed)
    }

    /// Takes `bytes` from the budget, or `None` if that would exceed it.
    pub(super) fn take(&self, bytes: u64) -> Option<ParkTicket> {
        self.parked
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
                now.checked_add(bytes).filter(|&n| n <= self.limit)
            })
            .ok()?;
        Some(ParkTicket {
            parked: self.parked.clone(),
            bytes,
        })
    }
}

/// A parked unit's share of the budget; given back on drop.
#[derive(Debug)]
pub(super) struct ParkTicket {
    parked: Arc<AtomicU64>,
    bytes: u64,
}

impl Drop for ParkTicket {
    fn drop(&mut self) {
        self.parked.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tickets_are_bounded_and_given_back() {
        let budget = ParkBudget::new(100);
        let a = budget.take(60).unwrap();
        assert!(budget.take(41).is_none(), "over the limit");
        assert_eq!(budget.parked_bytes(), 60, "a refusal takes nothing");
        let b = budget.take(40).unwrap();
        assert_eq!(budget.parked_bytes(), 100);
        drop(a);
        assert_eq!(budget.parked_bytes(), 40);
        assert!(
            budget.take(60).is_some(),
            "given back, then dropped at once"
        );
        drop(b);
        assert_eq!(budget.parked_bytes(), 0);
        assert!(ParkBudget::new(0).take(1).is_none());
        assert!(ParkBudget::new(u64::MAX).take(u64::MAX).is_some());
    }
}
