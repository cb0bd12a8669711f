//! Thread-per-core: several single-threaded runtimes, each serving its own
//! clients over its own backend connections.
//!
//! With a work-stealing runtime, a client's session and the shared backend
//! connection it writes to run on whichever worker is free, so handing a
//! request over (and its reply back) often wakes another thread: an
//! `eventfd` write and a futex per hop, measured at ~0.8 extra syscalls per
//! request at `-P 1` (docs/benchmarks.md). Here each worker is a tokio
//! current-thread runtime on its own OS thread; the accept loop gives every
//! new client to one worker (round robin) for its whole life, and every node
//! keeps a set of shared connections per worker (`backend::Node`), so a
//! request and its reply never leave the thread that read it.
//!
//! Invariants:
//! - Worker 0 is the runtime that calls [`WorkerThreads::start`] (the
//!   process's main one: it also runs the accept loop, the topology
//!   refresher and the admin API); workers 1.. are threads started here.
//! - [`current`] is the index of the worker the calling thread runs, 0 on
//!   any thread that is not a worker (a work-stealing runtime, tests): a
//!   [`Workers::single`] set has one group of connections, used by all.
//! - A task spawned on a worker stays on that thread (current-thread
//!   runtimes never move tasks), so a session's connections are its
//!   worker's for its whole life.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

/// `proxy.scheduler`: how clients are spread over `proxy.threads` threads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheduler {
    /// One current-thread runtime per thread, each with its own clients and
    /// its own backend connections ([`WorkerThreads`]).
    #[default]
    PerCore,
    /// One tokio multi-threaded runtime: tasks move between threads, all
    /// clients share each node's connections.
    WorkStealing,
}

impl Scheduler {
    /// Its name in the configuration.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PerCore => "per-core",
            Self::WorkStealing => "work-stealing",
        }
    }
}

impl std::str::FromStr for Scheduler {
    type Err = String;

    /// `per-core` or `work-stealing` (the command line's `--scheduler`).
    fn from_str(value: &str) -> Result<Self, String> {
        [Self::PerCore, Self::WorkStealing]
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| format!("{value:?}: per-core or work-stealing"))
    }
}

thread_local! {
    /// The worker this thread runs (0 when it is none).
    static INDEX: Cell<usize> = const { Cell::new(0) };
}

/// The worker the calling thread runs; 0 outside thread-per-core workers.
#[must_use]
pub fn current() -> usize {
    INDEX.with(Cell::get)
}

/// The runtimes clients and backend connections are spread over.
#[derive(Clone, Debug, Default)]
pub struct Workers {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// One per worker; empty for [`Workers::single`] (the caller's runtime).
    handles: Vec<Handle>,
    /// Round-robin cursor of the accept loop.
    next: AtomicUsize,
}

impl Workers {
    /// Everything on the caller's runtime (work-stealing or single thread).
    #[must_use]
    pub fn single() -> Self {
        Self::default()
    }

    /// How many workers (groups of backend connections) there are; at least 1.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.handles.len().max(1)
    }

    /// Always false: there is at least one worker.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether clients are spread over several threads.
    #[must_use]
    pub fn is_per_core(&self) -> bool {
        self.inner.handles.len() > 1
    }

    /// The worker the next client goes to.
    #[must_use]
    pub fn next(&self) -> usize {
        self.inner.next.fetch_add(1, Ordering::Relaxed) % self.len()
    }

    /// Runs `task` on worker `worker` (the caller's runtime for a single set).
    pub fn spawn_on<F>(&self, worker: usize, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match self.inner.handles.get(worker) {
            Some(handle) => {
                handle.spawn(task);
            }
            None => {
                tokio::spawn(task);
            }
        }
    }
}

/// Workers 1..n as threads, and how to stop them.
#[derive(Debug)]
pub struct WorkerThreads {
    workers: Workers,
    stop: CancellationToken,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl WorkerThreads {
    /// `n` workers: `main` (the caller's current-thread runtime) is worker
    /// 0, and `n - 1` threads each run a current-thread runtime until
    /// [`WorkerThreads::stop`]. With `n <= 1` no thread starts and
    /// [`WorkerThreads::workers`] is a single set.
    ///
    /// # Errors
    /// When a thread or its runtime cannot be created (the ones already
    /// started are stopped).
    pub fn start(n: usize, main: Handle) -> std::io::Result<Self> {
        let stop = CancellationToken::new();
        let mut this = Self {
            workers: Workers::single(),
            stop: stop.clone(),
            threads: Vec::new(),
        };
        if n <= 1 {
            return Ok(this);
        }
        let mut handles = vec![main];
        for index in 1..n {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            let stop = stop.clone();
            let thread = std::thread::Builder::new()
                .name(format!("slotway-worker-{index}"))
                .spawn(move || {
                    INDEX.with(|i| i.set(index));
                    runtime.block_on(stop.cancelled());
                    // Dropping the runtime drops its remaining tasks
                    // (sessions past the grace period, idle connections).
                    drop(runtime);
                })?;
            this.threads.push(thread);
        }
        this.workers = Workers {
            inner: Arc::new(Inner {
                handles,
                next: AtomicUsize::new(0),
            }),
        };
        Ok(this)
    }

    /// The set to build the engine with.
    #[must_use]
    pub fn workers(&self) -> &Workers {
        &self.workers
    }

    /// Stops the worker threads and waits for them: their runtimes drop
    /// whatever tasks they still hold.
    pub fn stop(mut self) {
        self.stop.cancel();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for WorkerThreads {
    fn drop(&mut self) {
        // An early return of the caller still ends the threads.
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn tasks_run_on_their_worker_thread_and_round_robin_covers_all() {
        let main = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let threads = WorkerThreads::start(3, main.handle().clone()).unwrap();
        let workers = threads.workers().clone();
        assert_eq!(workers.len(), 3);
        assert!(workers.is_per_core());
        let seen: Vec<usize> = (0..6).map(|_| workers.next()).collect();
        assert_eq!(seen, vec![0, 1, 2, 0, 1, 2]);
        let got = main.block_on(async {
            let mut got = Vec::new();
            for w in 0..3 {
                let (tx, rx) = tokio::sync::oneshot::channel();
                workers.spawn_on(w, async move {
                    let _ = tx.send(current());
                });
                got.push(rx.await.unwrap());
            }
            got
        });
        assert_eq!(got, vec![0, 1, 2]);
        threads.stop();
    }

    #[test]
    fn a_single_set_runs_on_the_callers_runtime() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let threads = WorkerThreads::start(1, rt.handle().clone()).unwrap();
        let workers = threads.workers();
        assert_eq!(workers.len(), 1);
        assert!(!workers.is_per_core());
        assert_eq!(workers.next(), 0);
        threads.stop();
    }
}
