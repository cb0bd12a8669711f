//! The output back-pressure, and the client it must not hold: one that
//! writes its whole pipeline before reading any reply (redis-py's
//! `execute()`, Jedis's `sync()`).
//!
//! With [`OUT_HIGH_WATER`] bytes of replies unwritten a session stops
//! reading its client, so a client that pipelines without reading costs a
//! few MiB, not its whole pipeline. But once the sockets' buffers are full,
//! a client still writing its pipeline can neither finish nor start
//! reading, and the session no longer reads it: each would wait on the
//! other for ever, where Redis and nutcracker (which buffer replies without
//! a bound) finish the pipeline.
//!
//! So the mark holds only a client that reads: when a whole tick of the
//! session's one-second clock passed with the output held and not one byte
//! of it written, the client reads nothing at all, and the session reads on
//! until the output reaches the client's soft output limit (else its hard
//! limit; no bound when neither is set, as in Redis). A client that stays
//! over the soft limit is then closed by it, as Redis's
//! `client-output-buffer-limit` closes one. The first byte written (the
//! client reads again) restores the mark.
//!
//! Invariants: a client that reads, however slowly, is held at
//! [`OUT_HIGH_WATER`]; a client is read past it only after a whole tick in
//! which none of its output was written; no timer of its own.

use super::limits::ClientLimits;

/// Stop reading a client whose unwritten replies exceed this (while it
/// reads them).
pub(super) const OUT_HIGH_WATER: usize = 4 << 20;

/// One session's output mark.
#[derive(Debug)]
pub(super) struct Stall {
    /// The mark once the client proved it reads nothing.
    relief: usize,
    /// Some output was written since the clock last ticked.
    wrote: bool,
    /// Held at `relief` instead of [`OUT_HIGH_WATER`].
    relieved: bool,
    /// The first relief was logged.
    logged: bool,
}

impl Stall {
    pub fn new(limits: &ClientLimits) -> Self {
        let relief = limits
            .output_soft
            .map(|(bytes, _)| bytes)
            .or(limits.output_hard)
            .unwrap_or(usize::MAX)
            .max(OUT_HIGH_WATER);
        Self {
            relief,
            wrote: false,
            relieved: false,
            logged: false,
        }
    }

    /// Unwritten output past which the client is not read.
    pub fn out_limit(&self) -> usize {
        if self.relieved {
            self.relief
        } else {
            OUT_HIGH_WATER
        }
    }

    /// Some of the output was written: the client reads.
    pub fn wrote(&mut self) {
        self.wrote = true;
        self.relieved = false;
    }

    /// Whether the clock must tick for it: the output holds the client and
    /// no relief was given yet.
    pub fn watching(&self, output: usize) -> bool {
        !self.relieved && output >= OUT_HIGH_WATER
    }

    /// A tick of the session's clock: a held client that wrote none of its
    /// output for a whole tick is read up to the relief mark from now on.
    pub fn on_tick(&mut self, output: usize) -> Relief {
        let stalled = self.watching(output) && !self.wrote;
        self.wrote = false;
        if !stalled {
            return Relief::None;
        }
        self.relieved = true;
        if std::mem::replace(&mut self.logged, true) {
            Relief::Again
        } else {
            Relief::First
        }
    }
}

/// What a tick decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Relief {
    /// Nothing changed.
    None,
    /// Read on from now: the first time in the session (worth a log line).
    First,
    /// Read on from now, again.
    Again,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(soft: Option<usize>, hard: Option<usize>) -> ClientLimits {
        ClientLimits {
            output_soft: soft.map(|b| (b, std::time::Duration::from_secs(60))),
            output_hard: hard,
            ..ClientLimits::default()
        }
    }

    #[test]
    fn a_reading_client_stays_at_the_mark() {
        let mut s = Stall::new(&limits(Some(64 << 20), Some(1 << 30)));
        assert_eq!(s.out_limit(), OUT_HIGH_WATER);
        // Held, but it wrote during each tick: never relieved.
        for _ in 0..5 {
            s.wrote();
            assert_eq!(s.on_tick(OUT_HIGH_WATER + 1), Relief::None);
            assert_eq!(s.out_limit(), OUT_HIGH_WATER);
        }
        // Not held: nothing to relieve.
        assert!(!s.watching(10));
        assert_eq!(s.on_tick(10), Relief::None);
        assert_eq!(s.out_limit(), OUT_HIGH_WATER);
    }

    #[test]
    fn a_client_that_reads_nothing_for_a_tick_is_read_up_to_its_soft_limit() {
        let mut s = Stall::new(&limits(Some(64 << 20), Some(1 << 30)));
        s.wrote();
        // The tick in which it was held still saw a write.
        assert_eq!(s.on_tick(OUT_HIGH_WATER), Relief::None);
        assert_eq!(s.on_tick(OUT_HIGH_WATER), Relief::First);
        assert_eq!(s.out_limit(), 64 << 20);
        assert!(!s.watching(OUT_HIGH_WATER * 2));
        // It reads again: the mark is back.
        s.wrote();
        assert_eq!(s.out_limit(), OUT_HIGH_WATER);
        assert_eq!(s.on_tick(OUT_HIGH_WATER), Relief::None);
        // Relieved again: counted, not logged again.
        assert_eq!(s.on_tick(OUT_HIGH_WATER), Relief::Again);
        assert_eq!(s.out_limit(), 64 << 20);
    }

    #[test]
    fn the_relief_mark_follows_the_limits() {
        let hard_only = Stall::new(&limits(None, Some(100 << 20)));
        assert_eq!(hard_only.relief, 100 << 20);
        let none = Stall::new(&limits(None, None));
        assert_eq!(none.relief, usize::MAX);
        let tiny = Stall::new(&limits(Some(1000), None));
        assert_eq!(tiny.relief, OUT_HIGH_WATER);
    }
}
