//! [`ReadArm`]: the client read of a session's loop, polled only when it can
//! make progress.
//!
//! A tokio socket remembers the waker of the last read that found nothing
//! and wakes it once data (or an error, or the end) arrives; the waker stays
//! registered until then. The session loop, though, polls every branch each
//! time it turns, and at `-P 1` it turns twice per request: once for the
//! request and once for its reply. The second turn's read poll found
//! nothing again and only re-registered the same waker (a lock, a waker
//! comparison and the cooperative budget: about 220 instructions, a thirtieth
//! of the proxy's work per request).
//!
//! So the read is given a waker of its own, which notes that it fired and
//! then wakes the session's task. Once a read has found nothing (`armed`),
//! later turns skip it until that waker fires. Net of that waker's own cost,
//! about 135 instructions per `-P 1` request fewer (callgrind,
//! docs/benchmarks.md).
//!
//! Invariants:
//! - Skipped only while a poll that returned `Pending` registered this arm's
//!   waker and the waker has not fired since: every wake-up that could let
//!   the read progress (data, end, error, the cooperative budget's yield, a
//!   TLS stream's own wake-ups on its socket) goes through that waker, so a
//!   skipped poll would have returned `Pending` too.
//! - The flag is cleared before the poll, so a wake-up racing the poll (the
//!   reactor of a work-stealing runtime runs on another thread) is seen
//!   either by this poll or by the next turn, never lost.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use bytes::BytesMut;
use tokio::io::AsyncRead;

/// The waker handed to the client read: notes the wake-up, then wakes the
/// session's task.
#[derive(Debug)]
struct ReadWake {
    fired: AtomicBool,
    task: Waker,
}

impl Wake for ReadWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::Release);
        self.task.wake_by_ref();
    }
}

/// The client read of one session (see the module doc).
#[derive(Debug, Default)]
pub(super) struct ReadArm {
    /// Built at the first read (a task's waker is only known once polled),
    /// rebuilt if the session ever finds itself polled by another waker.
    wake: Option<(Arc<ReadWake>, Waker)>,
    /// The last read found nothing and registered `wake`, which has not
    /// fired since it was last looked at.
    armed: bool,
}

impl ReadArm {
    /// Reads into `buf`'s spare capacity, or `Pending` without touching the
    /// socket when the last read found nothing and nothing arrived since.
    pub(super) fn poll_read<R>(
        &mut self,
        cx: &mut Context<'_>,
        rd: &mut R,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>>
    where
        R: AsyncRead + Unpin,
    {
        let (wake, waker) = match &mut self.wake {
            Some((wake, waker)) if wake.task.will_wake(cx.waker()) => (&*wake, &*waker),
            slot => {
                let wake = Arc::new(ReadWake {
                    fired: AtomicBool::new(false),
                    task: cx.waker().clone(),
                });
                self.armed = false;
                let (wake, waker) = slot.insert((wake.clone(), Waker::from(wake)));
                (&*wake, &*waker)
            }
        };
        // Cleared before the poll: a wake-up from here on is seen by this
        // poll or by the next turn.
        let fired = wake.fired.swap(false, Ordering::Acquire);
        if self.armed && !fired {
            return Poll::Pending;
        }
        let mut read_cx = Context::from_waker(waker);
        let polled = tokio_util::io::poll_read_buf(Pin::new(rd), &mut read_cx, buf);
        self.armed = polled.is_pending();
        polled
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::sync::atomic::AtomicUsize;

    use tokio::io::AsyncWriteExt;

    use super::*;

    /// Counts the polls that reach the socket.
    struct Counted<R> {
        inner: R,
        polls: Arc<AtomicUsize>,
    }

    impl<R: AsyncRead + Unpin> AsyncRead for Counted<R> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.polls.fetch_add(1, Ordering::Relaxed);
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    /// A broken arm would wait for ever: fail instead.
    async fn within<F: std::future::Future>(f: F) -> F::Output {
        tokio::time::timeout(std::time::Duration::from_secs(10), f)
            .await
            .expect("the read was never woken")
    }

    #[tokio::test]
    async fn skips_the_socket_until_its_waker_fires_and_loses_no_data() {
        let (client, server) = tokio::io::duplex(64);
        let polls = Arc::new(AtomicUsize::new(0));
        let mut rd = Counted {
            inner: server,
            polls: polls.clone(),
        };
        let mut client = client;
        let mut arm = ReadArm::default();
        let mut buf = BytesMut::with_capacity(64);

        // Nothing yet: the first poll reaches the socket, the next ones do not.
        for _ in 0..3 {
            let p = std::future::poll_fn(|cx| Poll::Ready(arm.poll_read(cx, &mut rd, &mut buf)));
            assert!(p.await.is_pending());
        }
        assert_eq!(polls.load(Ordering::Relaxed), 1);

        // Data arrives: the waker fired, the read is polled and gets it.
        client.write_all(b"PING\r\n").await.unwrap();
        let n = within(std::future::poll_fn(|cx| {
            arm.poll_read(cx, &mut rd, &mut buf)
        }))
        .await
        .unwrap();
        assert_eq!(n, 6);
        assert_eq!(&buf[..], b"PING\r\n");

        // The end of the input is seen the same way.
        drop(client);
        let n = within(std::future::poll_fn(|cx| {
            arm.poll_read(cx, &mut rd, &mut buf)
        }))
        .await
        .unwrap();
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn a_new_task_waker_is_registered_again() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut rd = server;
        let mut arm = ReadArm::default();
        let mut buf = BytesMut::with_capacity(64);
        // Armed under one waker (a no-op one, as if another task)...
        let mut cx = Context::from_waker(Waker::noop());
        assert!(arm.poll_read(&mut cx, &mut rd, &mut buf).is_pending());
        // ...then polled by this task: it must register its own waker, or
        // the data below would never wake it.
        let read = std::future::poll_fn(|cx| arm.poll_read(cx, &mut rd, &mut buf));
        let write = async {
            tokio::task::yield_now().await;
            client.write_all(b"x").await.unwrap();
        };
        let (n, ()) = within(async { tokio::join!(read, write) }).await;
        assert_eq!(n.unwrap(), 1);
    }
}
