//! One shared, pipelined connection to a Redis node, run as one task.
//!
//! Many clients' requests arrive in its unbounded mailbox (`conn/mailbox.rs`);
//! the task copies as many as are queued into one write buffer (one `write` for many requests),
//! remembers the order in a FIFO, and matches each reply frame from the node
//! to the oldest request still waiting — Redis answers a connection strictly
//! in order. Out-of-band RESP3 push frames do not consume a request.
//!
//! Two more shapes serve dedicated connections: a request may expect several
//! consecutive reply frames delivered as one (a whole `MULTI … EXEC` block),
//! and a *stream* connection (pub/sub) delivers every frame it receives to
//! one sink as it comes, since subscriptions answer with any number of
//! messages; it is never re-opened: when it breaks it reports one `Failed`
//! with its tag and ends (the session re-subscribes elsewhere). A dedicated
//! connection can be aborted: the socket is closed at once, which is how
//! Redis learns a blocked client went away.
//!
//! Invariants:
//! - Every request taken out of the mailbox gets exactly one delivery on its
//!   sink: the node's reply, or a [`Failure`] saying whether any of its bytes
//!   were written (only then may the node have executed it).
//! - The connection is opened lazily, on the first request, and re-opened the
//!   same way after it breaks; after a failed connect, requests fail fast for
//!   a short back-off instead of each waiting for a connect timeout.
//! - No per-request timer and no per-request allocation beyond the FIFO slot.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use slotway_resp::Protocol;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

mod mailbox;
mod replies;

use super::dial::{Backoff, Stream, connect};
use super::sink::{Failure, FailureKind, Reply, ReplySink};
use crate::stats;
use mailbox::{Receiver, Sender};
use replies::{Reader, dispatch_replies};

/// Stop taking requests out of the mailbox while this much is waiting to be
/// written: the node is slower than the clients, let the mailbox hold them.
const WRITE_HIGH_WATER: usize = 1 << 20;
/// How a connection's end is reported, so the right counter is bumped.
const CLOSED_BY_NODE: &str = "closed by the node";
const HUNG: &str = "the node is taken as hung";
/// Smallest free space offered to each read; replies larger than this grow
/// the buffer geometrically.
const READ_CHUNK: usize = 16 * 1024;
/// Most free space offered to one read of a shared connection: one whose
/// reads fill all the space offered (large or many replies) doubles its
/// offer up to this, so 4 KiB replies do not take a `recvfrom` for every
/// four. Shared connections are few (workers × nodes); dedicated ones can be
/// one per client and keep [`READ_CHUNK`].
const MAX_READ_CHUNK: usize = 128 * 1024;
/// `ASKING` as it goes on the wire before a request redirected by `-ASK`.
const ASKING: &[u8] = b"*1\r\n$6\r\nASKING\r\n";
/// RESP3 handshake of connections that carry RESP3 clients' requests.
const HELLO3: &[u8] = b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n";
/// Sent first on connections to replicas that serve reads.
const READONLY: &[u8] = b"*1\r\n$8\r\nREADONLY\r\n";
/// Ends every handshake: no client request is written before its `+PONG`.
const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

/// One request for a node.
#[derive(Debug)]
pub struct BackendRequest {
    /// The request exactly as it goes on the wire (RESP2 multibulk).
    pub payload: Bytes,
    /// Send `ASKING` right before it, on the same connection (ASK redirect).
    pub asking: bool,
    /// Where the reply goes.
    pub sink: Arc<ReplySink>,
    /// The session's sequence number of this request.
    pub seq: u64,
    /// Reply frames this request produces, delivered together as one
    /// (1 for a command; `n + 2` for `MULTI`, n commands, `EXEC`).
    pub frames: u32,
    /// A write: with write-ack on, its reply waits for replicas to confirm.
    pub write: bool,
}

pub use super::write_ack::WriteAck;
use super::write_ack::is_null_reply;

/// The sending side of a connection task; cheap to clone.
#[derive(Clone, Debug)]
pub struct ConnHandle {
    tx: Sender<BackendRequest>,
}

impl ConnHandle {
    /// Queues a request. Gives it back when the task has ended.
    ///
    /// # Errors
    /// The connection task is gone; the request was not sent.
    #[allow(clippy::result_large_err)]
    pub fn send(&self, req: BackendRequest) -> Result<(), BackendRequest> {
        self.tx.send(req)
    }
}

/// What a connection task needs to know.
#[derive(Clone, Debug)]
pub struct ConnParams {
    /// `host:port` of the node.
    pub addr: Arc<str>,
    /// Protocol of the clients this connection serves (RESP3 connections
    /// send `HELLO 3` first so replies reach RESP3 clients in RESP3).
    pub protocol: Protocol,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Woken when this connection fails, so the topology gets refreshed.
    pub on_failure: Arc<Notify>,
    /// Dedicated connections: cancelling closes the socket at once.
    pub abort: Option<CancellationToken>,
    /// Stream connections (pub/sub): every frame goes to this sink, tagged.
    pub stream: Option<(Arc<ReplySink>, u64)>,
    /// A replica serving reads: `READONLY` is sent on connect.
    pub readonly: bool,
    /// Shared connections: with requests in flight and no reply for this
    /// long, the node is taken as hung and the connection closed.
    pub reply_timeout: Option<Duration>,
    /// Confirm writes with replicas before replying (group commit).
    pub write_ack: Option<WriteAck>,
    /// Sent first on every new connection (AUTH, SELECT).
    pub prelude: super::Prelude,
    /// The node's counters.
    pub stats: Arc<crate::stats::NodeStats>,
}

/// Starts a connection task on the current runtime.
#[must_use]
pub fn spawn(params: ConnParams) -> ConnHandle {
    spawn_on(params, &crate::workers::Workers::single(), 0)
}

/// Starts a connection task on worker `worker` of `workers`: the sessions
/// of that worker use it, so their requests never cross threads.
#[must_use]
pub fn spawn_on(
    params: ConnParams,
    workers: &crate::workers::Workers,
    worker: usize,
) -> ConnHandle {
    let (tx, rx) = mailbox::mailbox();
    workers.spawn_on(worker, run(params, rx));
    ConnHandle { tx }
}

async fn run(params: ConnParams, mut rx: Receiver<BackendRequest>) {
    let stats = crate::metrics::backend::conn_stats(&params.addr);
    let mut backoff = Backoff::new();
    loop {
        let first = match &params.abort {
            Some(abort) => tokio::select! {
                () = abort.cancelled() => return,
                req = rx.recv() => req,
            },
            None => rx.recv().await,
        };
        let Some(first) = first else {
            return;
        };
        if backoff.active() {
            fail_queued(&params, first, &mut rx, "recently failed to connect");
            continue;
        }
        match connect(&params).await {
            Ok(stream) => {
                backoff.reset();
                let _up = stats.connected();
                // Monomorphised per transport: the hot loop stays static.
                let served = match stream {
                    Stream::Tcp(mut s) => {
                        let (rd, wr) = s.split();
                        serve(&params, rd, wr, first, &mut rx, &stats.depth).await
                    }
                    Stream::Unix(mut s) => {
                        let (rd, wr) = s.split();
                        serve(&params, rd, wr, first, &mut rx, &stats.depth).await
                    }
                    Stream::Tls(s) => {
                        let (rd, wr) = tokio::io::split(*s);
                        serve(&params, rd, wr, first, &mut rx, &stats.depth).await
                    }
                };
                match served {
                    Ok(()) => return,
                    Err(_)
                        if params
                            .abort
                            .as_ref()
                            .is_some_and(CancellationToken::is_cancelled) =>
                    {
                        return;
                    }
                    Err(reason) => {
                        warn!(node = %params.addr, %reason, "backend connection lost");
                        let counter = if reason.starts_with(CLOSED_BY_NODE) {
                            &params.stats.server_eof
                        } else if reason.starts_with(HUNG) {
                            &params.stats.server_timedout
                        } else {
                            &params.stats.server_err
                        };
                        stats::bump(counter, 1);
                        params.on_failure.notify_one();
                        if stream_lost(&params, FailureKind::Lost { written: true }) {
                            return;
                        }
                    }
                }
            }
            Err(reason) => {
                stats.connect_failed();
                warn!(node = %params.addr, %reason, "backend connect failed");
                stats::bump(&params.stats.server_err, 1);
                backoff.failed();
                params.on_failure.notify_one();
                if stream_lost(&params, FailureKind::Connect(reason.clone())) {
                    return;
                }
                fail_queued(&params, first, &mut rx, &reason);
            }
        }
    }
}

/// A subscriber connection is never re-opened by its task: the node forgot
/// its subscriptions with it. It says so once, with its tag, and ends; the
/// session re-subscribes. Returns whether this was a subscriber connection.
fn stream_lost(params: &ConnParams, kind: FailureKind) -> bool {
    let Some((sink, tag)) = &params.stream else {
        return false;
    };
    sink.deliver(
        *tag,
        Reply::Failed(Failure {
            addr: params.addr.clone(),
            kind,
        }),
    );
    true
}

/// Fails `first` and everything already queued behind it without sending.
fn fail_queued(
    params: &ConnParams,
    first: BackendRequest,
    rx: &mut Receiver<BackendRequest>,
    reason: &str,
) {
    let kind = FailureKind::Connect(reason.to_owned());
    let mut next = Some(first);
    while let Some(req) = next {
        req.sink.deliver(
            req.seq,
            Reply::Failed(Failure {
                addr: params.addr.clone(),
                kind: kind.clone(),
            }),
        );
        next = rx.try_recv();
    }
}

/// A request written (or being written) and not yet answered.
struct Pending {
    /// `None` for the connection's own handshake.
    to: Option<(Arc<ReplySink>, u64)>,
    /// Replies to drop before the one that is delivered (`ASKING`'s `+OK`).
    skip: u8,
    /// Frames delivered together as this request's reply.
    frames: u32,
    /// Offset of its first byte in the connection's output stream.
    start: u64,
    /// A write whose reply is held until the group's WAIT answers.
    hold: bool,
    /// The group's WAIT (its reply releases or refuses the held ones).
    wait: bool,
    /// The handshake's closing PING: its reply proves the node is serving.
    probe: bool,
    /// The handshake's AUTH with a client's credentials: refused, the
    /// connection closes (it must not run as the node's `default` user).
    strict_auth: bool,
}

/// The connection's buffers and bookkeeping while it is up.
struct Wire {
    pending: VecDeque<Pending>,
    out: crate::outbox::Outbox,
    /// Bytes ever queued into `out`, and ever written to the socket.
    queued: u64,
    written: u64,
    /// Write-ack: the `WAIT` command that closes each group of writes.
    wait_cmd: Option<(Bytes, WriteAck)>,
    /// A write was pushed since the last WAIT.
    needs_wait: bool,
    /// Replies of writes waiting for their group's WAIT.
    held: Vec<(Arc<ReplySink>, u64, Bytes)>,
    /// The handshake's PING was answered: client requests may be written.
    /// (A node being killed still accepts connections for an instant;
    /// requests written there would wrongly look possibly executed.)
    ready: bool,
}

impl Wire {
    /// `(in_queue, in_queue_bytes, out_queue, out_queue_bytes)`: requests
    /// not yet fully written, and written ones waiting for their reply.
    fn queue_gauges(&self) -> [i64; 4] {
        // Pending requests are in write order: the first `sent` of them
        // have (at least partly) left.
        let sent = self.pending.partition_point(|p| p.start < self.written);
        let total = self.pending.len();
        let waiting_bytes = self
            .pending
            .front()
            .map_or(0, |p| self.written.saturating_sub(p.start));
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        [
            as_i64((total - sent) as u64),
            as_i64(self.out.len() as u64),
            as_i64(sent as u64),
            as_i64(waiting_bytes),
        ]
    }

    /// Closes a batch: one WAIT after all the writes it carries (group commit).
    fn close_batch(&mut self) {
        if !std::mem::take(&mut self.needs_wait) {
            return;
        }
        if let Some((cmd, _)) = &self.wait_cmd {
            self.pending.push_back(Pending {
                to: None,
                skip: 0,
                frames: 1,
                start: self.queued,
                hold: false,
                wait: true,
                probe: false,
                strict_auth: false,
            });
            self.out.tail.extend_from_slice(cmd);
            self.queued += cmd.len() as u64;
        }
    }

    fn push(&mut self, req: BackendRequest, stream: bool) {
        let hold = req.write && self.wait_cmd.is_some() && !stream;
        self.needs_wait |= hold;
        let start = self.queued;
        let mut skip = 0;
        if req.asking {
            self.out.tail.extend_from_slice(ASKING);
            self.queued += ASKING.len() as u64;
            skip = 1;
        }
        self.queued += req.payload.len() as u64;
        self.out.push(req.payload);
        // A stream connection's replies all go to its stream sink.
        if !stream {
            self.pending.push_back(Pending {
                to: Some((req.sink, req.seq)),
                skip,
                frames: req.frames.max(1),
                start,
                hold,
                wait: false,
                probe: false,
                strict_auth: false,
            });
        }
    }
}

async fn serve<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    params: &ConnParams,
    mut rd: R,
    mut wr: W,
    first: BackendRequest,
    rx: &mut Receiver<BackendRequest>,
    depth: &crate::metrics::backend::ConnDepth,
) -> Result<(), String> {
    let mut wire = Wire {
        pending: VecDeque::new(),
        out: crate::outbox::Outbox::default(),
        queued: 0,
        written: 0,
        wait_cmd: params.write_ack.map(|ack| (ack.wait_command(), ack)),
        needs_wait: false,
        held: Vec::new(),
        ready: false,
    };
    // The handshake: its replies are matched and dropped like any other;
    // client requests wait for the closing PING's reply.
    let handshake: &[&[u8]] = match (params.protocol, params.readonly) {
        (Protocol::Resp3, true) => &[HELLO3, READONLY, PING],
        (Protocol::Resp3, false) => &[HELLO3, PING],
        (Protocol::Resp2, true) => &[READONLY, PING],
        (Protocol::Resp2, false) => &[PING],
    };
    // Credentials and database first: HELLO 3 needs an authenticated
    // connection on a node with a password.
    let prelude = params.prelude.commands().iter().map(|c| &c[..]);
    for (i, cmd) in prelude.chain(handshake.iter().copied()).enumerate() {
        wire.pending.push_back(Pending {
            to: None,
            skip: 0,
            frames: 1,
            start: wire.queued,
            hold: false,
            wait: false,
            probe: cmd == PING,
            // Only the AUTH: a user without +hello/+readonly may still serve.
            strict_auth: i == 0 && params.prelude.is_strict(),
        });
        wire.out.tail.extend_from_slice(cmd);
        wire.queued += cmd.len() as u64;
    }
    let stream = params.stream.is_some();
    let mut first = Some(first);
    // Dedicated connections (the only abortable ones) can be one per
    // client: their offer stays small.
    let max_chunk = if params.abort.is_some() {
        READ_CHUNK
    } else {
        MAX_READ_CHUNK
    };
    let mut space = crate::read_space::ReadSpace::new(READ_CHUNK, max_chunk);
    let mut input = space.buffer();
    let mut reader = Reader::new();
    let mut accepting = true;
    let never = CancellationToken::new();
    let abort = params.abort.as_ref().unwrap_or(&never);
    // One ticker per connection, polled only while requests are in flight.
    let reply_timeout = params.reply_timeout.unwrap_or(Duration::MAX);
    let mut ticker =
        tokio::time::interval(params.reply_timeout.map_or(Duration::from_secs(3600), |t| {
            (t / 4).max(Duration::from_millis(10))
        }));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_progress = Instant::now();

    params
        .stats
        .server_connections
        .fetch_add(1, Ordering::Relaxed);
    let mut share = stats::QueueShare::default();
    let result = loop {
        share.publish(&params.stats, wire.queue_gauges());
        if !accepting && (wire.pending.is_empty() || stream) {
            break Ok(());
        }
        depth.set(wire.pending.len() + rx.len());
        // Room for at least as much again as a partial reply holds.
        let held = input.len();
        let offered = space.prepare(&mut input, held);
        tokio::select! {
            biased;
            // Only dedicated connections can be aborted (polling a token
            // takes a lock: shared connections do not pay it per event).
            () = abort.cancelled(), if params.abort.is_some() => break Err("aborted".to_owned()),
            _ = ticker.tick(), if params.reply_timeout.is_some() && !wire.pending.is_empty() => {
                if last_progress.elapsed() > reply_timeout {
                    break Err(format!("{HUNG}: no reply for {reply_timeout:?}"));
                }
            }
            read = rd.read_buf(&mut input) => match read {
                Ok(0) => break Err(CLOSED_BY_NODE.to_owned()),
                Ok(n) => {
                    space.after_read(n, offered);
                    last_progress = Instant::now();
                    let before = reader.delivered;
                    if let Err(e) = dispatch_replies(params, &mut input, &mut reader, &mut wire) {
                        break Err(e);
                    }
                    stats::bump(&params.stats.responses, reader.delivered - before);
                    stats::bump(&params.stats.response_bytes, n as u64);
                    if wire.ready && let Some(req) = first.take() {
                        let queued = wire.queued;
                        wire.push(req, stream);
                        wire.close_batch();
                        stats::bump(&params.stats.requests, 1);
                        stats::bump(&params.stats.request_bytes, wire.queued - queued);
                    }
                }
                Err(e) => break Err(format!("read: {e}")),
            },
            wrote = wire.out.write_to(&mut wr), if !wire.out.is_empty() => match wrote {
                Ok(n) => wire.written += n as u64,
                Err(e) => break Err(format!("write: {e}")),
            },
            req = rx.recv(), if wire.ready && accepting && wire.out.len() < WRITE_HIGH_WATER => match req {
                Some(req) => {
                    if wire.pending.is_empty() {
                        last_progress = Instant::now();
                    }
                    let queued = wire.queued;
                    wire.push(req, stream);
                    let mut batch = 1 + drain(rx, &mut wire, stream);
                    // Coalescing: let every task already runnable on this
                    // worker (the other clients woken by the same readiness
                    // event) queue its requests before writing, so one write
                    // carries all of them. `yield_now` defers this task until
                    // the worker's run queue is empty, not for a fixed time.
                    if wire.out.len() < WRITE_HIGH_WATER {
                        tokio::task::yield_now().await;
                        batch += drain(rx, &mut wire, stream);
                    }
                    wire.close_batch();
                    stats::bump(&params.stats.requests, batch);
                    stats::bump(&params.stats.request_bytes, wire.queued - queued);
                }
                // Every handle dropped: the node left the topology. Finish
                // what is in flight, then end.
                None => accepting = false,
            },
        }
    };
    share.publish(&params.stats, [0; 4]);
    params
        .stats
        .server_connections
        .fetch_sub(1, Ordering::Relaxed);
    if let Err(reason) = &result {
        debug!(node = %params.addr, %reason, in_flight = wire.pending.len(), "failing in-flight requests");
        // The connection died before proving itself: the held request was
        // never written. (A subscriber connection reports its loss once,
        // for all its requests.)
        if let Some(req) = first.take().filter(|_| !stream) {
            req.sink.deliver(
                req.seq,
                Reply::Failed(Failure {
                    addr: params.addr.clone(),
                    kind: FailureKind::Lost { written: false },
                }),
            );
        }
        // Held writes ran on the master, but whether replicas have them is
        // unknown: their outcome is unknown.
        for (sink, seq, _) in wire.held.drain(..) {
            sink.deliver(
                seq,
                Reply::Failed(Failure {
                    addr: params.addr.clone(),
                    kind: FailureKind::Lost { written: true },
                }),
            );
        }
        for p in wire.pending.drain(..) {
            if let Some((sink, seq)) = p.to {
                let written = p.start < wire.written;
                sink.deliver(
                    seq,
                    Reply::Failed(Failure {
                        addr: params.addr.clone(),
                        kind: FailureKind::Lost { written },
                    }),
                );
            }
        }
    }
    result
}

/// Moves every request already queued in the mailbox into the write buffer
/// (up to the high-water mark); returns how many.
fn drain(rx: &mut Receiver<BackendRequest>, wire: &mut Wire, stream: bool) -> u64 {
    let mut n = 0;
    while wire.out.len() < WRITE_HIGH_WATER {
        match rx.try_recv() {
            Some(req) => {
                wire.push(req, stream);
                n += 1;
            }
            None => break,
        }
    }
    n
}
