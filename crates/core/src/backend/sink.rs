//! [`ReplySink`]: the mailbox through which backend connections hand replies
//! to a client session.
//!
//! Each request a session sends carries its sequence number; a connection
//! delivers `(seq, reply)` pairs in whatever order nodes answer, and the
//! session puts them back in its clients' request order. The sink is a short
//! critical section (push onto a `Vec`) plus a doorbell: bits saying why the
//! session was woken ([`ring`]) and an [`AtomicWaker`]. A bell rung while the
//! session is busy stays rung until it looks, so nothing is missed; ringing
//! and waiting are a few atomic operations, with no lock (a `Notify` takes a
//! mutex on every poll, which the session loop did several times per request).
//!
//! Invariant: every request handed to a connection gets exactly one delivery,
//! either a reply frame or a [`Failure`], unless the session has gone away.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;
use bytes::Bytes;
use parking_lot::Mutex;

/// Why a session's bell rang (bits, several may be set at once).
pub mod ring {
    /// Replies were delivered.
    pub const REPLIES: u8 = 1;
    /// CLIENT KILL: close the connection now.
    pub const KILL: u8 = 2;
    /// The proxy is shutting down: finish what is in flight, then close.
    pub const SHUTDOWN: u8 = 4;
    /// CLIENT UNPAUSE, or a new CLIENT PAUSE (which may hold less): a
    /// request held by the pause may go now.
    pub const RESUME: u8 = 8;
}

/// What a backend connection hands back for one request.
#[derive(Debug)]
pub enum Reply {
    /// One complete reply frame, exactly as the node sent it.
    Frame(Bytes),
    /// The request did not get a reply from the node.
    Failed(Failure),
}

/// Why a request got no reply.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The node, `host:port`.
    pub addr: Arc<str>,
    /// What happened.
    pub kind: FailureKind,
}

/// The ways a backend exchange fails. `written` tells whether any byte of the
/// request may have reached the node: only then could it have been executed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// Could not connect; nothing was sent.
    Connect(String),
    /// The connection broke.
    Lost {
        /// Whether the request may have been executed.
        written: bool,
    },
    /// The connection task is gone (node removed from the topology).
    Closed,
}

impl FailureKind {
    /// True when the node may have executed the request.
    #[must_use]
    pub fn maybe_executed(&self) -> bool {
        matches!(self, Self::Lost { written: true })
    }
}

/// Seq-tagged replies waiting for their session, and the session's bell.
#[derive(Debug, Default)]
pub struct ReplySink {
    arrivals: Mutex<Vec<(u64, Reply)>>,
    rung: AtomicU8,
    waker: AtomicWaker,
}

impl ReplySink {
    /// A new, empty sink.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Hands over the reply to request `seq` and wakes the session.
    pub fn deliver(&self, seq: u64, reply: Reply) {
        self.arrivals.lock().push((seq, reply));
        self.ring(ring::REPLIES);
    }

    /// Hands over several replies under one lock and one wake-up.
    pub fn deliver_many(&self, replies: impl IntoIterator<Item = (u64, Reply)>) {
        self.arrivals.lock().extend(replies);
        self.ring(ring::REPLIES);
    }

    /// Rings the session's bell for `why` (bits of [`ring`]).
    pub fn ring(&self, why: u8) {
        // Release: whatever was done before ringing (the push above) is
        // visible to the session once it sees the bit.
        self.rung.fetch_or(why, Ordering::Release);
        self.waker.wake();
    }

    /// Takes the bits rung since the last call; pending (and registered to
    /// be woken) while none are.
    pub fn poll_rung(&self, cx: &mut Context<'_>) -> Poll<u8> {
        if self.rung.load(Ordering::Relaxed) == 0 {
            self.waker.register(cx.waker());
            // A ring between the load and the registration woke no one:
            // look again after registering.
            if self.rung.load(Ordering::Relaxed) == 0 {
                return Poll::Pending;
            }
        }
        Poll::Ready(self.rung.swap(0, Ordering::Acquire))
    }

    /// Moves every delivered reply into `into` (which should be empty; its
    /// capacity is reused so steady state allocates nothing).
    pub fn take(&self, into: &mut Vec<(u64, Reply)>) {
        std::mem::swap(&mut *self.arrivals.lock(), into);
    }

    /// Frees the mailbox's buffer when it is empty (an idle session gives
    /// back what a burst of replies grew).
    pub fn release(&self) {
        let mut arrivals = self.arrivals.lock();
        if arrivals.is_empty() {
            *arrivals = Vec::new();
        }
    }

    /// Completes with the bits rung since the last completion.
    pub async fn rung(&self) -> u8 {
        std::future::poll_fn(|cx| self.poll_rung(cx)).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    use super::*;

    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_ring_before_the_poll_is_not_lost_and_bits_accumulate() {
        let sink = ReplySink::new();
        sink.deliver(1, Reply::Frame(Bytes::from_static(b"+OK\r\n")));
        sink.ring(ring::KILL);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert_eq!(
            sink.poll_rung(&mut cx),
            Poll::Ready(ring::REPLIES | ring::KILL)
        );
        assert_eq!(sink.poll_rung(&mut cx), Poll::Pending);
        let mut got = Vec::new();
        sink.take(&mut got);
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn a_ring_wakes_the_registered_task_once() {
        let sink = ReplySink::new();
        let count = Arc::new(Count::default());
        let waker = std::task::Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        assert_eq!(sink.poll_rung(&mut cx), Poll::Pending);
        sink.ring(ring::SHUTDOWN);
        sink.ring(ring::REPLIES);
        // The waker is consumed by the first ring; the second only sets a bit.
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(
            sink.poll_rung(&mut cx),
            Poll::Ready(ring::SHUTDOWN | ring::REPLIES)
        );
    }
}
