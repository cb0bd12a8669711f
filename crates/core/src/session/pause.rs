//! CLIENT PAUSE / UNPAUSE over the proxy's own clients.
//!
//! A pause holds every client's requests (ALL) or only its writes (WRITE)
//! until it ends: a held request is parsed but not routed, and its client is
//! read no further, so its order is kept; the pause itself is one shared
//! deadline, checked once per request only while a pause is on (one atomic
//! load otherwise). CLIENT PAUSE/UNPAUSE themselves are never held, so an
//! operator can always lift a pause.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use slotway_command::{CommandSpec, flags};
use slotway_resp::Request;

/// The proxy-wide pause.
#[derive(Debug)]
pub struct Pause {
    epoch: Instant,
    /// Milliseconds after `epoch` when the pause ends; 0: no pause.
    until_ms: AtomicU64,
    /// Only writes are held.
    writes_only: AtomicBool,
}

impl Default for Pause {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            until_ms: AtomicU64::new(0),
            writes_only: AtomicBool::new(false),
        }
    }
}

impl Pause {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Pauses for `timeout` (a later end never shortens a longer pause).
    pub fn start(&self, timeout: Duration, writes_only: bool) {
        let until = self
            .now_ms()
            .saturating_add(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX))
            .max(1);
        self.writes_only.store(writes_only, Ordering::Relaxed);
        self.until_ms.fetch_max(until, Ordering::Relaxed);
    }

    /// Ends the pause.
    pub fn stop(&self) {
        self.until_ms.store(0, Ordering::Relaxed);
    }

    /// When `req` may run, if it must wait.
    #[must_use]
    pub fn holds(&self, req: &Request) -> Option<tokio::time::Instant> {
        let until = self.until_ms.load(Ordering::Relaxed);
        if until == 0 {
            return None;
        }
        let now = self.now_ms();
        if now >= until {
            return None;
        }
        let name = req.arg(0).unwrap_or_default();
        let sub = req.arg(1).unwrap_or_default();
        if name.eq_ignore_ascii_case(b"client")
            && (sub.eq_ignore_ascii_case(b"pause") || sub.eq_ignore_ascii_case(b"unpause"))
        {
            return None;
        }
        if self.writes_only.load(Ordering::Relaxed) && !is_write(req) {
            return None;
        }
        Some(tokio::time::Instant::now() + Duration::from_millis(until - now))
    }
}

/// What CLIENT PAUSE WRITE holds: writes, and what may write (scripts,
/// functions, publishing), as Redis does.
fn is_write(req: &Request) -> bool {
    let spec: Option<&CommandSpec> = req.arg(0).and_then(slotway_command::lookup);
    spec.is_some_and(|s| {
        s.has_flag(flags::WRITE)
            || matches!(
                s.name,
                "eval" | "evalsha" | "fcall" | "publish" | "spublish" | "pfcount"
            )
    })
}
