//! [`ReadSpace`]: how much free space a connection's read buffer offers to
//! each read.
//!
//! A connection starts with a small offer and doubles it, up to a cap, each
//! time a read fills all the space offered (the peer had more to say), so
//! an idle connection holds little memory and a busy one needs few reads.
//! Client sessions and node connections share this policy, with their own
//! bounds. A connection gone quiet can [`ReadSpace::release`] what it grew
//! (Redis, too, gives idle clients' query buffers back).
//!
//! Invariant: `min <= chunk <= max`.

use bytes::BytesMut;

/// A connection's read offer.
#[derive(Debug)]
pub(crate) struct ReadSpace {
    chunk: usize,
    min: usize,
    max: usize,
}

impl ReadSpace {
    /// Starts at `min` bytes, grows up to `max` (at least `min`).
    pub fn new(min: usize, max: usize) -> Self {
        Self {
            chunk: min,
            min,
            max: max.max(min),
        }
    }

    /// Free space the next read is offered (before any reservation for a
    /// large request).
    pub fn offer(&self) -> usize {
        self.chunk
    }

    /// A buffer for the first read.
    pub fn buffer(&self) -> BytesMut {
        BytesMut::with_capacity(self.chunk)
    }

    /// Before a read: when less than half the current offer is free,
    /// reserves at least `want` more bytes (and at least the offer).
    /// Returns the free space the read gets.
    pub fn prepare(&self, input: &mut BytesMut, want: usize) -> usize {
        if input.capacity() - input.len() < self.chunk / 2 {
            input.reserve(want.max(self.chunk));
        }
        input.capacity() - input.len()
    }

    /// After a read of `n` bytes into `offered`: one that filled the space
    /// doubles the next offer.
    pub fn after_read(&mut self, n: usize, offered: usize) {
        if n == offered {
            self.chunk = (self.chunk * 2).min(self.max);
        }
    }

    /// Whether `input` (this connection's buffer) holds more memory than a
    /// new connection's, or the offer grew: what [`ReadSpace::release`]
    /// would give back.
    pub fn holds_more(&self, input: &BytesMut) -> bool {
        self.chunk > self.min || input.capacity() > self.min
    }

    /// When `input` is empty: back to a new connection's offer and buffer,
    /// the grown one freed (a buffer that once held a large request keeps
    /// its size otherwise). True when something was given back.
    pub fn release(&mut self, input: &mut BytesMut) -> bool {
        if !input.is_empty() || !self.holds_more(input) {
            return false;
        }
        self.chunk = self.min;
        *input = self.buffer();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_only_when_reads_fill_the_offer_and_stops_at_the_cap() {
        let mut space = ReadSpace::new(1024, 4096);
        let mut buf = space.buffer();
        let offered = space.prepare(&mut buf, 0);
        assert!(offered >= 1024);
        space.after_read(offered - 1, offered);
        assert_eq!(space.chunk, 1024);
        for _ in 0..5 {
            space.after_read(offered, offered);
        }
        assert_eq!(space.chunk, 4096);
    }

    #[test]
    fn reserves_what_is_wanted_when_little_is_free() {
        let space = ReadSpace::new(1024, 1024);
        let mut buf = space.buffer();
        buf.resize(900, 0);
        assert!(space.prepare(&mut buf, 10_000) >= 10_000);
        // Plenty free: no reservation.
        let mut roomy = BytesMut::with_capacity(4096);
        assert_eq!(space.prepare(&mut roomy, 1 << 20), 4096);
    }

    #[test]
    fn release_gives_back_a_grown_buffer_only_when_it_is_empty() {
        let mut space = ReadSpace::new(1024, 64 * 1024);
        let mut buf = space.buffer();
        assert!(!space.holds_more(&buf));
        assert!(!space.release(&mut buf), "nothing to give back");
        for _ in 0..8 {
            let offered = space.prepare(&mut buf, 0);
            buf.resize(buf.len() + offered, b'x');
            space.after_read(offered, offered);
        }
        assert!(space.holds_more(&buf) && buf.capacity() > 16 * 1024);
        assert!(!space.release(&mut buf), "unparsed input is kept");
        buf.clear();
        assert!(space.release(&mut buf));
        assert_eq!((space.chunk, buf.capacity()), (1024, 1024));
        assert!(!space.holds_more(&buf));
    }

    #[test]
    fn a_large_reservation_alone_is_given_back_too() {
        let mut space = ReadSpace::new(1024, 1024);
        let mut buf = space.buffer();
        buf.resize(900, 0);
        space.prepare(&mut buf, 1 << 20);
        let _ = buf.split();
        assert!(space.holds_more(&buf));
        assert!(space.release(&mut buf));
        assert_eq!(buf.capacity(), 1024);
    }
}
