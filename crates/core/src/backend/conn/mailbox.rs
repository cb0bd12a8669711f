//! A connection task's mailbox: the requests sessions hand it, in order.
//!
//! Owns the queue between any number of [`Sender`]s (the sessions, through
//! their `ConnHandle`s) and the one connection task ([`Receiver`]). It is on
//! the path of every request: a send is one uncontended lock, a push and a
//! wake; the task moves everything queued to its own side in one lock and
//! takes from there, instead of paying a channel's atomic operations per
//! request on both sides (tokio's unbounded channel cost about 190
//! instructions per request at `-P 16`).
//!
//! Invariants: items leave in the order they were sent; [`Receiver::recv`]
//! is `None` only once every sender is gone and nothing is queued; a send
//! after the receiver is gone gives the item back; a receiver that found
//! nothing registers its waker and looks again before sleeping, and a
//! sender wakes it after every push, so no send is missed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;
use parking_lot::Mutex;

/// What the sides share.
struct Shared<T> {
    state: Mutex<State<T>>,
    waker: AtomicWaker,
}

struct State<T> {
    queue: VecDeque<T>,
    /// Live [`Sender`]s.
    senders: usize,
    /// False once the receiver is gone.
    open: bool,
}

/// A sending side; clones share the mailbox.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// The receiving side: the connection task's.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// Taken from the shared queue, not yet handed out (order kept: these
    /// were sent before anything still in the shared queue).
    local: VecDeque<T>,
}

/// A new mailbox.
pub fn mailbox<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            senders: 1,
            open: true,
        }),
        waker: AtomicWaker::new(),
    });
    (
        Sender {
            shared: Arc::clone(&shared),
        },
        Receiver {
            shared,
            local: VecDeque::new(),
        },
    )
}

impl<T> Sender<T> {
    /// Queues `item`; gives it back if the receiver is gone.
    ///
    /// # Errors
    /// The receiver was dropped: `item` was not queued.
    pub fn send(&self, item: T) -> Result<(), T> {
        {
            let mut state = self.shared.state.lock();
            if !state.open {
                return Err(item);
            }
            state.queue.push_back(item);
        }
        // Cheap when the task is not waiting (no waker registered).
        self.shared.waker.wake();
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.state.lock().senders += 1;
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let last = {
            let mut state = self.shared.state.lock();
            state.senders = state.senders.saturating_sub(1);
            state.senders == 0
        };
        if last {
            self.shared.waker.wake();
        }
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// What one look at the mailbox found.
enum Looked<T> {
    Item(T),
    Empty,
    Closed,
}

impl<T> Receiver<T> {
    /// The next item if one is queued (no waiting).
    pub fn try_recv(&mut self) -> Option<T> {
        match self.look() {
            Looked::Item(item) => Some(item),
            Looked::Empty | Looked::Closed => None,
        }
    }

    /// The next item; `None` once every sender is gone and nothing is left.
    pub async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if let Looked::Item(item) = self.look() {
            return Poll::Ready(Some(item));
        }
        // A send between that look and this registration woke nobody: look
        // again now that a send will wake this task.
        self.shared.waker.register(cx.waker());
        match self.look() {
            Looked::Item(item) => Poll::Ready(Some(item)),
            Looked::Closed => Poll::Ready(None),
            Looked::Empty => Poll::Pending,
        }
    }

    /// Items queued and not yet taken.
    pub fn len(&self) -> usize {
        self.local.len() + self.shared.state.lock().queue.len()
    }

    /// The next item: from the local side, else after moving the whole
    /// shared queue there (one lock for everything sent meanwhile).
    fn look(&mut self) -> Looked<T> {
        if let Some(item) = self.local.pop_front() {
            return Looked::Item(item);
        }
        let closed = {
            let mut state = self.shared.state.lock();
            std::mem::swap(&mut state.queue, &mut self.local);
            state.senders == 0
        };
        match self.local.pop_front() {
            Some(item) => Looked::Item(item),
            None if closed => Looked::Closed,
            None => Looked::Empty,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // Later sends get their item back; what was queued is dropped now,
        // not when the last sender goes.
        let queued = {
            let mut state = self.shared.state.lock();
            state.open = false;
            std::mem::take(&mut state.queue)
        };
        drop(queued);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn items_arrive_in_order_across_takes() {
        let (tx, mut rx) = mailbox();
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert_eq!(rx.try_recv(), Some(1));
        // Sent after the shared queue was moved to the local side.
        tx.send(3).unwrap();
        assert_eq!(rx.len(), 2);
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, Some(3));
        assert_eq!(rx.try_recv(), None);
    }

    #[tokio::test]
    async fn recv_ends_once_every_sender_is_gone_and_nothing_is_left() {
        let (tx, mut rx) = mailbox();
        let other = tx.clone();
        drop(tx);
        other.send(7).unwrap();
        drop(other);
        assert_eq!(rx.recv().await, Some(7));
        assert_eq!(rx.recv().await, None);
    }

    #[test]
    fn a_send_after_the_receiver_is_gone_gives_the_item_back() {
        let (tx, rx) = mailbox();
        tx.send(1).unwrap();
        drop(rx);
        assert_eq!(tx.send(2), Err(2));
    }

    #[tokio::test]
    async fn a_waiting_receiver_is_woken_by_a_send_from_another_thread() {
        let (tx, mut rx) = mailbox();
        let sender = std::thread::spawn(move || {
            for i in 0..1000 {
                tx.send(i).unwrap();
                if i % 100 == 0 {
                    std::thread::yield_now();
                }
            }
        });
        for i in 0..1000 {
            assert_eq!(rx.recv().await, Some(i));
        }
        sender.join().unwrap();
        assert_eq!(rx.recv().await, None);
    }
}
