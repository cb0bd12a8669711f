//! The per-request deadline (`cluster.request_timeout_ms`): a coarse clock
//! per session — a tick every quarter deadline, running only while requests
//! wait — instead of a timer per request. A request queued between ticks
//! `t` and `t + 1` has waited a whole deadline once the clock passes
//! `t + DEADLINE_TICKS`; it then gets an error, and its late reply, if any,
//! is dropped. Blocking commands (which wait on purpose) are exempt; a
//! pass-through AUTH, which travels on a leased connection too, is not: it
//! holds every later request of its client until answered.

use super::queue::{DEADLINE_TICKS, Entry, Queue, Unit, Via, error_bytes};

impl Queue {
    /// Whether any request waits for a node (the deadline clock runs).
    pub fn is_waiting(&self) -> bool {
        !self.entries.is_empty()
    }

    /// One tick of the deadline clock: requests older than the deadline get
    /// an error now; a late reply is ignored. Blocking commands are exempt
    /// (they wait on purpose), and so are subscriptions.
    pub fn on_tick(&mut self) {
        self.tick = self.tick.wrapping_add(1);
        let now = self.tick;
        let deadline = self.shared.settings.request_timeout.unwrap_or_default();
        let expired = |u: &Unit| {
            u.reply.is_none()
                && (!matches!(u.via, Via::Lease(_)) || is_pass_through_auth(u))
                // Queued between ticks `born` and `born + 1`: more than
                // DEADLINE_TICKS ticks later, a whole deadline has passed.
                && now.wrapping_sub(u.born) > DEADLINE_TICKS
        };
        let timeout_reply = |u: &Unit| {
            let node = u.node.as_deref().unwrap_or("the cluster");
            error_bytes(
                format!(
                    "ERR slotway: timeout: no reply from {node} within {} ms",
                    deadline.as_millis()
                )
                .as_bytes(),
            )
        };
        for entry in &mut self.entries {
            let units: &mut [Unit] = match entry {
                Entry::One(u) | Entry::Scan(u, _) => std::slice::from_mut(u),
                Entry::Multi(m) => &mut m.units,
                Entry::Ready(_) | Entry::Sub(_) | Entry::Wait(_) => continue,
            };
            for u in units.iter_mut().filter(|u| expired(u)) {
                u.reply = Some(timeout_reply(u));
            }
        }
        self.flush_ready();
    }
}

/// A leased unit that is a pass-through AUTH (the others block on purpose).
fn is_pass_through_auth(u: &Unit) -> bool {
    u.rare.as_ref().is_some_and(|r| r.then.auth.is_some())
}
