//! One client connection: read → parse → route → dispatch → ordered write.
//!
//! A session is one task. Each read is parsed into as many requests as it
//! holds; each request is answered locally, refused, or sent to the shared
//! connection of the node owning its slot, tagged with a sequence number.
//! Replies come back through the session's [`ReplySink`] in any order and are
//! written to the client strictly in request order (see `queue.rs`).
//!
//! Invariants:
//! - Replies reach the client in exactly the order of its requests, whatever
//!   the nodes involved and however replies interleave.
//! - A client never sees MOVED or ASK: redirects are followed here (MOVED
//!   also patches the shared slot table), at most `max_redirects` times.
//! - Back-pressure, not errors: with `max_inflight` requests outstanding, 64
//!   MiB of requests outstanding, a large unwritten output, or the proxy-wide
//!   buffer budget spent, the session stops reading its client. The output
//!   mark holds only a client that reads: one that read none of its output
//!   for a clock tick is read on up to its output limit (`stall.rs`), so a
//!   whole-pipeline-then-read client never waits on itself.
//! - After a protocol error or QUIT the session reads nothing more, writes
//!   every reply owed (the error last) and closes, as Redis does.
//! - Client limits ([`limits`]) are checked once per event of the loop, not
//!   per request: a client over its query or output buffer limit, or idle
//!   past `proxy.timeout`, is closed without a reply, as Redis does.
//! - Memory follows use: the read buffer grows while reads fill it, and a
//!   session with nothing outstanding that read nothing for a whole tick of
//!   the coarse clock frees the read and output buffers and the queue room
//!   it grew (Redis resizes idle clients' buffers the same way), so a burst
//!   does not keep its memory for the life of the connection; state kept
//!   for the connection's life is copied out of requests
//!   (`Request::arg_owned`), never a slice pinning a read buffer.

mod acl_check;
mod admit;
mod batch;
pub mod clients;
mod cluster_view;
mod deadline;
mod dispatch;
mod kill;
pub mod limits;
pub mod local;
mod multi;
mod park;
mod passthru;
mod pause;
mod private;
mod proxy_cmd;
mod proxy_config;
mod pubsub;
mod queue;
mod read_arm;
mod resubscribe;
mod stall;
mod subframes;
mod track;
mod txn;
mod unit;
pub mod users;
mod wait;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use slotway_resp::{Limits, RequestParser};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::backend::{ReplySink, ring};
use crate::cluster::Topology;
use local::ClientState;
use queue::Queue;

/// Free space offered to each read of the client socket, at most; a session
/// starts with [`MIN_READ_CHUNK`] and doubles it each time a read fills all
/// the space offered, so an idle client costs about a kilobyte. A client
/// pipelining 4 KiB values fills 64 KiB in one read where 16 KiB took four;
/// a session quiet for a clock tick gives what it grew back.
const READ_CHUNK: usize = 64 * 1024;
/// Free space offered to a new session's first read.
const MIN_READ_CHUNK: usize = 1024;
/// Most a single read may pre-reserve for a large bulk whose length is known.
const MAX_RESERVE: usize = 64 << 20;

/// What every session needs from its proxy.
#[derive(Clone, Debug)]
pub struct SessionSettings {
    /// Client input limits.
    pub limits: Limits,
    /// Requests in flight per client before back-pressure.
    pub max_inflight: usize,
    /// Redirects/retries per request.
    pub max_redirects: u8,
    /// Delay before a retry.
    pub retry_delay: Duration,
    /// How long a request may wait for a reachable owner of its slot.
    pub park_timeout: Duration,
    /// Bytes of requests that may be parked at once, proxy-wide.
    pub park_max_bytes: u64,
    /// Re-send writes whose outcome is unknown.
    pub retry_unknown_writes: bool,
    /// Per-request deadline (off when `None`).
    pub request_timeout: Option<Duration>,
    /// Operator routing choices.
    pub policy: crate::route::Policy,
    /// Commands denied, allowed or renamed by the operator.
    pub commands: Arc<crate::route::CommandGate>,
    /// Address announced to cluster-aware clients (CLUSTER SLOTS …); `None`:
    /// the address each client connected to.
    pub announce: Option<std::net::SocketAddr>,
    /// Where read-only commands go.
    pub read_from: crate::config::ReadFrom,
    /// The name of the sharded pool served (`None`: a cluster).
    pub pool: Option<String>,
    /// Connection and buffer limits per client.
    pub client_limits: limits::ClientLimits,
    /// Worker threads (shown by PROXY CONFIG GET threads).
    pub threads: usize,
    /// Whether clients share the nodes' connections (`proxy.disable_multiplexing`).
    pub multiplexing: crate::config::Multiplexing,
    /// Credential pass-through (`proxy.auth_passthrough`).
    pub auth_passthrough: bool,
}

/// State shared by all sessions of a proxy.
#[derive(Debug)]
pub struct Shared {
    /// The cluster topology.
    pub topology: Arc<Topology>,
    /// Every connected client.
    pub clients: Arc<clients::Registry>,
    /// CLIENT PAUSE.
    pub pause: pause::Pause,
    /// Metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The proxy's slow log.
    pub slowlog: Arc<crate::slowlog::SlowLog>,
    /// Session settings.
    pub settings: SessionSettings,
    /// Counters.
    pub stats: Arc<crate::stats::ProxyStats>,
    /// Bytes buffered by all sessions (`limits.max_buffered_bytes`).
    pub budget: limits::Budget,
    /// Bytes of parked requests, proxy-wide (`cluster.park_max_bytes`).
    pub parked: ParkBudget,
    /// Cancelled by PROXY SHUTDOWN: the server shuts down gracefully.
    pub shutdown_requested: CancellationToken,
    /// What PROXY CONFIG SET changes while the proxy runs.
    pub runtime: crate::runtime::Runtime,
    /// The runtimes clients are spread over (thread-per-core).
    pub workers: crate::workers::Workers,
    /// The users clients authenticate as, and their rights (a reload
    /// replaces them).
    pub users: users::LiveUsers,
}

static NEXT_CLIENT_ID: AtomicU64 = AtomicU64::new(1);

pub use park::ParkBudget;
pub use pause::Pause;
pub use proxy_cmd::mark_started;

enum Event {
    Rung(u8),
    Wrote(std::io::Result<usize>),
    RetryDue,
    Read(std::io::Result<usize>),
    Tick,
    Resume,
    Clock,
}

/// Serves one client until it disconnects, or, after `shutdown`, until its
/// in-flight requests are answered.
pub async fn run(mut stream: TcpStream, shared: Arc<Shared>, shutdown: CancellationToken) {
    let _ = stream.set_nodelay(true);
    let local_addr = stream.local_addr().ok();
    let peer = stream.peer_addr().ok();
    let (rd, wr) = stream.split();
    serve_client(rd, wr, peer, local_addr, shared, shutdown).await;
}

/// [`run`] for a client of the TLS listener: the handshake first, in this
/// task and bounded by `tls.handshake_timeout_ms` (a client that stalls it
/// is dropped without costing the accept loop anything), then the same
/// session over the decrypted stream's halves.
pub async fn run_tls(
    stream: TcpStream,
    tls: Arc<crate::tls::ClientTls>,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let local_addr = stream.local_addr().ok();
    let peer = stream.peer_addr().ok();
    let handshake = tokio::time::timeout(tls.handshake_timeout, tls.acceptor.accept(stream));
    let stream = tokio::select! {
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                debug!(?peer, error = %e, "client TLS handshake failed");
                return;
            }
            Err(_) => {
                debug!(?peer, "client TLS handshake timed out");
                return;
            }
        },
        () = shutdown.cancelled() => return,
    };
    let (rd, wr) = tokio::io::split(stream);
    serve_client(rd, wr, peer, local_addr, shared, shutdown).await;
}

/// [`run`] for a client on a unix socket (a pool's `listen: /path`).
pub async fn run_unix(
    mut stream: tokio::net::UnixStream,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let (rd, wr) = stream.split();
    serve_client(rd, wr, None, None, shared, shutdown).await;
}

/// The session proper, over either transport's halves (monomorphised, so
/// TCP pays nothing for the generality).
async fn serve_client<R, W>(
    mut rd: R,
    mut wr: W,
    peer: Option<std::net::SocketAddr>,
    local_addr: Option<std::net::SocketAddr>,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let id = NEXT_CLIENT_ID.fetch_add(1, Ordering::Relaxed);
    let sink = Arc::new(ReplySink::new());
    let membership = shared.clients.join(id, peer, local_addr, sink.clone());
    // Shutdown rings every registered session's bell; one that registered
    // after that ring sees the token instead (see `Registry::ring_all`).
    if shutdown.is_cancelled() {
        sink.ring(ring::SHUTDOWN);
    }
    let me = membership.client.clone();
    let mut parser = RequestParser::new(shared.settings.limits);
    // The default user, recorded as this client's until it authenticates.
    let (authenticated, default_user) = shared.users.bind(&me, |u| {
        let d = u.default_user().clone();
        ((u.starts_authenticated(), d.clone()), Some(d))
    });
    // Until a client authenticates, Redis's small request limits apply.
    parser.set_auth_required(!authenticated);
    let mut space = crate::read_space::ReadSpace::new(MIN_READ_CHUNK, READ_CHUNK);
    let mut input = space.buffer();
    // What CLIENT LIST shows before the first read is done.
    me.note_query_buffer(0, space.offer(), space.offer());
    let mut queue = Queue::new(
        shared.clone(),
        sink.clone(),
        ClientState {
            id,
            local_addr,
            authenticated,
            user: default_user,
            private: shared.settings.multiplexing == crate::config::Multiplexing::Always,
            ..ClientState::default()
        },
        me.clone(),
    );
    // The deadline clock: one coarse ticker per session (a quarter of the
    // deadline), polled only while requests wait; never a timer per request.
    let deadline = shared.settings.request_timeout;
    let period = deadline.map_or(Duration::from_secs(3600), |d| d / queue::DEADLINE_TICKS);
    let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The limits' clock (idle timeout, soft output limit): polled only when
    // one of them is pending.
    let mut clock = tokio::time::interval_at(Instant::now() + limits::CLOCK, limits::CLOCK);
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut meter = limits::Meter::new(shared.settings.client_limits, &shared.budget);
    // The output back-pressure mark, lifted for a client that reads nothing.
    let mut stall = stall::Stall::new(&shared.settings.client_limits);
    // Bytes read since the queue was last empty: the requests they hold
    // (their bytes shared zero-copy) live until answered.
    let mut pending_input = 0usize;
    // Whether the client sent anything since the coarse clock last ticked,
    // and the largest read buffer since it was last given back.
    let mut read_since_tick = false;
    let mut read_peak = 0usize;
    // The client read, skipped on turns where it cannot make progress.
    let mut arm = read_arm::ReadArm::default();
    debug!(client = id, "client connected");
    loop {
        if queue.finished() {
            break;
        }
        let busy = queue.is_waiting() || queue.has_output();
        let out_limit = stall.out_limit();
        let can_read = queue.accepts_more(out_limit) && meter.may_read(busy);
        let offered = if can_read {
            let want = parser.needed().saturating_sub(input.len()).min(MAX_RESERVE);
            space.prepare(&mut input, want)
        } else {
            0 // (the read branch is off this turn)
        };
        // Buffers a burst grew, to give back once the client is quiet.
        let releasable =
            !busy && ((input.is_empty() && space.holds_more(&input)) || queue.holds_more());
        let retry_at = queue.retry_at();
        let resume_at = queue.resume_at();
        let writable = queue.may_write();
        let event = tokio::select! {
            biased;
            why = sink.rung() => Event::Rung(why),
            w = queue.out_mut().write_to(&mut wr), if writable => Event::Wrote(w),
            () = sleep_until(retry_at), if retry_at.is_some() => Event::RetryDue,
            () = sleep_until(resume_at), if resume_at.is_some() => Event::Resume,
            r = std::future::poll_fn(|cx| arm.poll_read(cx, &mut rd, &mut input)), if can_read => {
                Event::Read(r)
            }
            _ = ticker.tick(), if deadline.is_some() && queue.is_waiting() => Event::Tick,
            _ = clock.tick(), if meter.clock_needed(busy) || releasable
                || stall.watching(queue.out_len()) => Event::Clock,
        };
        let mut exceeded = None;
        match event {
            Event::Rung(why) => {
                if why & ring::KILL != 0 {
                    debug!(client = id, "client killed (CLIENT KILL)");
                    break;
                }
                if why & ring::SHUTDOWN != 0 && !queue.is_closing() {
                    queue.close();
                }
                if why & (ring::REPLIES | ring::RESUME) != 0 {
                    if why & ring::REPLIES != 0 {
                        queue.on_replies();
                    }
                    // The rest of a pipeline the replies' back-pressure held
                    // back, or a request CLIENT PAUSE held, goes before the
                    // write. (With neither — at `-P 1`, or with only part of
                    // a request read — parsing finds nothing and the flush
                    // was just done: skipping it saves a table load and a
                    // flush per reply.)
                    if queue.resume_at().is_some() || queue.parse_held_back(out_limit) {
                        queue.on_input(&mut parser, &mut input, out_limit);
                    }
                    // Write the replies now, not on the next turn of the
                    // loop: at `-P 1` that turn (every branch polled again)
                    // was a third of the session's work per request.
                    if queue.may_write()
                        && let Some(w) = queue.out_mut().try_write_to(&mut wr).await
                        && !wrote(w, &shared, &mut meter, &mut stall, id)
                    {
                        break;
                    }
                }
            }
            Event::Wrote(w) => {
                if !wrote(w, &shared, &mut meter, &mut stall, id) {
                    break;
                }
            }
            Event::RetryDue => queue.on_retry_due(),
            Event::Resume => queue.on_input(&mut parser, &mut input, out_limit),
            // End of the client's input: like Redis, answer what was read
            // before it (a half-closed client still reads), then close.
            Event::Read(Ok(0)) => {
                crate::stats::bump(&shared.stats.client_eof, 1);
                queue.client_gone();
            }
            Event::Read(Ok(n)) => {
                space.after_read(n, offered);
                shared.metrics.bytes_in.add(n as u64);
                // One clock read per read: activity, and the arrival time of
                // the requests it brought.
                let now = std::time::Instant::now();
                me.touch_at(now);
                meter.activity();
                pending_input = pending_input.saturating_add(n);
                queue.on_input_at(&mut parser, &mut input, out_limit, Some(now));
                read_since_tick = true;
                let size = space.offer().max(input.capacity());
                read_peak = read_peak.max(size);
                me.note_query_buffer(input.len(), size, read_peak);
            }
            Event::Read(Err(e)) => {
                debug!(client = id, error = %e, "client read failed");
                break;
            }
            Event::Tick => queue.on_tick(),
            Event::Clock => {
                let subscribed = queue.subs.counts() != (0, 0, 0);
                exceeded = meter.on_tick(usage(&queue, &input, pending_input, subscribed));
                let relief = stall.on_tick(queue.out_len());
                if relief != stall::Relief::None {
                    shared.metrics.pipeline_stalls.inc();
                }
                if relief == stall::Relief::First {
                    info!(
                        event = "pipeline_stall",
                        client = id,
                        peer = ?me.addr,
                        output = queue.out_len(),
                        "client writes its pipeline without reading the replies: reading on up to its output limit"
                    );
                }
                if !busy && !read_since_tick {
                    queue.release_idle();
                    if space.release(&mut input) {
                        read_peak = space.offer();
                        me.note_query_buffer(0, read_peak, read_peak);
                    }
                }
                read_since_tick = false;
            }
        }
        // Parsing stopped at back-pressure (the output high-water mark,
        // `max_inflight`) goes on once this event lifted it, whatever the
        // event: the rest of a pipeline may already be in `input`, with
        // nothing left on the socket to wake a read.
        let out_limit = stall.out_limit();
        if queue.parse_held_back(out_limit) {
            queue.on_input(&mut parser, &mut input, out_limit);
        }
        if !queue.is_waiting() {
            pending_input = input.len();
        }
        if let Some(why) =
            exceeded.or_else(|| meter.after_event(usage(&queue, &input, pending_input, false)))
        {
            if why == limits::Exceeded::Idle {
                debug!(client = id, "closing idle client");
            } else {
                warn!(client = id, peer = ?me.addr, reason = %why, "closing client");
            }
            break;
        }
    }
    let _ = wr.shutdown().await;
    drop(membership);
    debug!(client = id, "client disconnected");
}

/// What the limits look at, after an event.
fn usage(queue: &Queue, input: &BytesMut, pending_input: usize, subscribed: bool) -> limits::Usage {
    limits::Usage {
        input: input.len(),
        pending_input,
        output: queue.out_len(),
        busy: queue.is_waiting() || queue.has_output(),
        subscribed,
    }
}

/// Accounts for a write to the client; false when it failed (the session
/// ends).
fn wrote(
    result: std::io::Result<usize>,
    shared: &Shared,
    meter: &mut limits::Meter<'_>,
    stall: &mut stall::Stall,
    id: u64,
) -> bool {
    match result {
        Ok(n) => {
            shared.metrics.bytes_out.add(n as u64);
            meter.activity();
            if n > 0 {
                stall.wrote();
            }
            true
        }
        Err(e) => {
            debug!(client = id, error = %e, "client write failed");
            false
        }
    }
}

/// Lazily built, so a session without pending retries creates no timer.
/// The timer is boxed: the session's future holds two of these on every
/// turn of its loop (112 bytes each inline, in every idle client's memory),
/// and they are rarely armed.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => Box::pin(tokio::time::sleep_until(t)).await,
        None => std::future::pending().await,
    }
}
