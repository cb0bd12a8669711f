//! [`Journal`]: the proxy's recent noteworthy events (failovers, masters
//! joining or leaving, Sentinel switches, ejections and restores, pool
//! reloads), for the admin API's `/api/v1/events` and the dashboard's
//! timeline. The same events are logged with the same `event` names.
//!
//! Invariants: bounded (the oldest entry goes first); never touched on the
//! data path (events are rare; one short lock per event).

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

/// Entries kept.
const CAPACITY: usize = 256;

/// One event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// Stable name (`failover`, `master_added`, `master_removed`,
    /// `master_switched`, `server_ejected`, `server_restored`,
    /// `pool_reloaded`, and from a pool-mode process's reloads
    /// `pool_added`, `pool_removed`, `pool_restarted`, `pool_failed`).
    pub kind: &'static str,
    /// What happened, for people.
    pub detail: String,
}

/// The recent events, oldest first.
#[derive(Debug, Default)]
pub struct Journal {
    events: Mutex<VecDeque<Event>>,
}

impl Journal {
    /// Records an event now.
    pub fn record(&self, kind: &'static str, detail: impl Into<String>) {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let mut events = self.events.lock();
        if events.len() >= CAPACITY {
            events.pop_front();
        }
        events.push_back(Event {
            unix_ms,
            kind,
            detail: detail.into(),
        });
    }

    /// Takes in `events` recorded elsewhere (a stopped pool's journal),
    /// keeping the whole in time order and within the bound (the oldest
    /// go first).
    pub fn import(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let mut all = self.events.lock();
        all.extend(events);
        all.make_contiguous().sort_by_key(|e| e.unix_ms);
        while all.len() > CAPACITY {
            all.pop_front();
        }
    }

    /// The recent events, oldest first.
    #[must_use]
    pub fn recent(&self) -> Vec<Event> {
        self.events.lock().iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_in_order() {
        let j = Journal::default();
        for i in 0..CAPACITY + 10 {
            j.record("failover", format!("{i}"));
        }
        let all = j.recent();
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(all.first().map(|e| e.detail.as_str()), Some("10"));
    }

    #[test]
    fn import_keeps_time_order_and_bound() {
        let j = Journal::default();
        j.record("failover", "now");
        let old: Vec<Event> = (0..CAPACITY)
            .zip(1u64..)
            .map(|(i, ms)| Event {
                unix_ms: ms,
                kind: "server_ejected",
                detail: format!("old {i}"),
            })
            .collect();
        j.import(old);
        let all = j.recent();
        assert_eq!(all.len(), CAPACITY);
        assert!(
            all.windows(2)
                .all(|w| matches!(w, [a, b] if a.unix_ms <= b.unix_ms))
        );
        assert_eq!(all.last().map(|e| e.detail.as_str()), Some("now"));
    }
}
