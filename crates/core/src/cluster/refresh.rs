//! The topology refresher: one task per proxy that discovers the cluster and
//! keeps the slot table current.
//!
//! It refreshes on start, on a timer, and whenever asked (a MOVED reply, a
//! failed backend connection); asks are coalesced over a debounce window so a
//! burst costs one refresh. It asks the nodes of the last view first, then the
//! seeds, a few at once; once one knows a slot map it gathers the others'
//! answers for a short window and installs, slot by slot, the claim with the
//! highest config epoch (see [`super::epoch`]): during a failover a node that
//! has not heard of the promotion yet still names the dead master. The slot
//! migrations those answers report (see [`super::migration`]) replace the
//! topology's list with every successful refresh. While no
//! node answers it retries with capped exponential back-off: the proxy keeps
//! serving what it knows (or answers `-CLUSTERDOWN` if it knows nothing) and
//! never stops trying.
//!
//! Its connection to each node it asked is kept for the next refresh
//! ([`Kept`]), as long as the node answers and stays a candidate: a refresh
//! every 10 s would otherwise open (and authenticate, and with TLS
//! handshake) a connection to three nodes each time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use slotway_resp::Value;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::changes;
use super::control::{ControlConn, ask_kept};
use super::epoch;
use super::migration::{self, SlotMigration};
use super::table::Topology;
use super::view::{self, ClusterView};
use crate::error::BackendError;
use crate::metrics::Metrics;

/// Timing of the refresher.
#[derive(Clone, Copy, Debug)]
pub struct RefreshTiming {
    /// Periodic refresh.
    pub interval: Duration,
    /// Coalescing window of requested refreshes.
    pub debounce: Duration,
    /// Connect timeout to a node.
    pub connect_timeout: Duration,
    /// Timeout of one query.
    pub query_timeout: Duration,
}

/// Runs until `shutdown` is cancelled; counts every refresh in `metrics`.
pub async fn run(
    topology: Arc<Topology>,
    timing: RefreshTiming,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let mut failures: u32 = 0;
    let mut kept = Kept::default();
    loop {
        let before = Arc::clone(&*topology.load());
        metrics.refreshes_started.inc();
        let ok = refresh_keeping(&topology, timing, &mut kept).await;
        if ok {
            metrics.refreshes_ok.inc();
            let after = Arc::clone(&*topology.load());
            // The first discovery is logged as one topology change, not as
            // every master joining.
            if before.is_known() && after.version() != before.version() {
                let found = changes::diff(&before, &after);
                changes::log(&found);
                changes::record(&found, topology.events());
            }
        } else {
            metrics.refreshes_failed.inc();
        }
        let wait = if ok {
            failures = 0;
            None
        } else {
            failures = failures.saturating_add(1);
            let exp = failures.min(5);
            Some(
                Duration::from_millis(100)
                    .saturating_mul(1 << exp)
                    .min(Duration::from_secs(2)),
            )
        };
        match wait {
            // Nothing answered: retry after the back-off, whatever is asked.
            Some(delay) => {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(delay) => {}
                }
            }
            None => {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(timing.interval) => {}
                    () = topology.refresh_signal().notified() => {
                        tokio::select! {
                            () = shutdown.cancelled() => return,
                            () = tokio::time::sleep(timing.debounce) => {}
                        }
                    }
                }
            }
        }
    }
}

/// Candidates asked at once: a dead node that only times out must not hold
/// up the refresh that finds its replacement.
const PARALLEL: usize = 3;

/// Shortest time the other answers of a batch are awaited once one arrived.
const GATHER_MIN: Duration = Duration::from_millis(50);

/// How long to wait for the rest of a batch once its first answer took
/// `first`: peers on the same network answer in about as long, so waiting
/// as long again (at least [`GATHER_MIN`]) catches them, while a stopped
/// node costs this window, not the whole query timeout.
fn gather_window(first: Duration, query_timeout: Duration) -> Duration {
    first.max(GATHER_MIN).min(query_timeout)
}

/// The refresher's connections, by node address, kept between refreshes.
#[derive(Debug, Default)]
pub struct Kept {
    conns: HashMap<String, ControlConn>,
}

/// One refresh on new connections, closed after it (see [`refresh_keeping`]).
pub async fn refresh_once(topology: &Topology, timing: RefreshTiming) -> bool {
    refresh_keeping(topology, timing, &mut Kept::default()).await
}

/// One refresh: the candidates are asked a few at a time, each on the
/// connection `kept` holds for it (or a new one, kept in turn when it
/// answers); the answers of the first batch in which some node knows a slot
/// map are merged by config epoch and installed. Connections to nodes no
/// longer candidates are closed. Returns whether a view was installed.
pub async fn refresh_keeping(topology: &Topology, timing: RefreshTiming, kept: &mut Kept) -> bool {
    let candidates = topology.candidates();
    kept.conns.retain(|addr, _| candidates.contains(addr));
    let want_version = topology.backend_version().is_none();
    for batch in candidates.chunks(PARALLEL) {
        let started = Instant::now();
        let mut asks = tokio::task::JoinSet::new();
        for addr in batch {
            let addr = addr.clone();
            let conn = kept.conns.remove(&addr);
            let prelude = topology.prelude().clone();
            asks.spawn(async move {
                let result = fetch(&addr, conn, timing, want_version, &prelude).await;
                (addr, result)
            });
        }
        let mut answers: Vec<(String, ClusterView)> = Vec::new();
        let mut migrations: Vec<SlotMigration> = Vec::new();
        let mut until: Option<Instant> = None;
        loop {
            let next = match until {
                Some(t) => match tokio::time::timeout_at(t, asks.join_next()).await {
                    Ok(next) => next,
                    Err(_) => break,
                },
                None => asks.join_next().await,
            };
            let Some(done) = next else {
                break;
            };
            // A node that answered keeps its connection, whatever it knows.
            let done = done.map(|(addr, result)| {
                let answer = result.map(|(answer, conn)| {
                    kept.conns.insert(addr.clone(), conn);
                    answer
                });
                (addr, answer)
            });
            match done {
                Ok((addr, Ok(answer))) if answer.view.covered_slots() > 0 => {
                    if let Some(v) = answer.version {
                        topology.set_backend_version(v);
                    }
                    migrations.extend(answer.migrations);
                    until.get_or_insert_with(|| {
                        Instant::now() + gather_window(started.elapsed(), timing.query_timeout)
                    });
                    answers.push((addr, answer.view));
                }
                Ok((addr, Ok(_))) => debug!(node = %addr, "node knows no slots; asking another"),
                Ok((_, Err(e))) => debug!(error = %e, "topology query failed"),
                Err(e) => debug!(error = %e, "topology query task failed"),
            }
        }
        asks.abort_all();
        if answers.is_empty() {
            continue;
        }
        let views: Vec<ClusterView> = answers.iter().map(|(_, v)| v.clone()).collect();
        let (merged, _) = topology.install_answers(&views);
        topology.set_migrations(migration::merge(migrations));
        let nodes: Vec<&str> = answers.iter().map(|(a, _)| a.as_str()).collect();
        if merged.kept > 0 {
            info!(
                event = "stale_view_ignored",
                nodes = ?nodes,
                slots = merged.kept,
                "answers gave slots to owners with a lower config epoch than installed; kept the installed owners"
            );
        } else if merged.contested > 0 {
            info!(
                event = "views_disagree",
                nodes = ?nodes,
                slots = merged.contested,
                "nodes disagree on slot owners; took the highest config epoch"
            );
        }
        debug!(event = "topology_refreshed", nodes = ?nodes, "topology refreshed");
        return true;
    }
    if topology.load().is_known() {
        warn!(
            event = "topology_refresh_failed",
            "no cluster node answered the topology query; keeping the last slot table"
        );
    } else {
        warn!(
            event = "topology_refresh_failed",
            "no cluster node reachable yet; retrying"
        );
    }
    false
}

/// What one node said.
struct Answer {
    view: ClusterView,
    /// Its `redis_version`, when asked for.
    version: Option<String>,
    /// The slot migrations on its `myself` line of `CLUSTER NODES`.
    migrations: Vec<SlotMigration>,
}

/// Asks one node for its view (and, if wanted, its `redis_version`), on
/// `kept` or a new connection; returns the answer with the connection.
async fn fetch(
    addr: &str,
    kept: Option<ControlConn>,
    timing: RefreshTiming,
    want_version: bool,
    prelude: &crate::backend::Prelude,
) -> Result<(Answer, ControlConn), BackendError> {
    ask_kept(
        addr,
        kept,
        prelude,
        timing.connect_timeout,
        timing.query_timeout,
        |conn| {
            let addr = addr.to_owned();
            let tls = prelude.tls().is_some();
            Box::pin(async move { query_view(conn, &addr, want_version, tls).await })
        },
    )
    .await
}

/// The topology queries on one connection to `addr`.
async fn query_view(
    conn: &mut ControlConn,
    addr: &str,
    want_version: bool,
    tls: bool,
) -> Result<Answer, BackendError> {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let bad = |reason: String| BackendError::Reply {
        addr: addr.to_owned(),
        reason,
    };
    // One round trip: the slot map, and the config epochs it lacks.
    let mut replies = conn
        .query_pipelined(&[&[b"CLUSTER", b"SHARDS"], &[b"CLUSTER", b"NODES"]])
        .await?
        .into_iter();
    let (shards, nodes) = (replies.next(), replies.next());
    // Without CLUSTER NODES (an ACL may forbid it) every epoch is 0 and the
    // first answer wins, as before epochs were known.
    let nodes = nodes
        .as_ref()
        .filter(|v| !matches!(v, Value::Error(_)))
        .and_then(Value::as_str);
    let epochs = nodes.map(epoch::parse_epochs).unwrap_or_default();
    let migrations = nodes
        .map(|text| migration::parse(text, host))
        .unwrap_or_default();
    let view = match shards {
        // Older than 7.0 (unknown subcommand): CLUSTER SLOTS has the same facts.
        Some(Value::Error(_)) | None => {
            let reply = conn.query(&[b"CLUSTER", b"SLOTS"]).await?;
            if let Value::Error(e) = &reply {
                return Err(bad(String::from_utf8_lossy(e).into_owned()));
            }
            view::parse_slots(&reply, host, &epochs).map_err(bad)?
        }
        Some(reply) => view::parse_shards(&reply, host, &epochs, tls).map_err(bad)?,
    };
    let version = if want_version {
        let info = conn.query(&[b"INFO", b"server"]).await?;
        info.as_bytes().and_then(|b| {
            String::from_utf8_lossy(b)
                .lines()
                .find_map(|l| l.strip_prefix("redis_version:"))
                .map(|v| v.trim().to_owned())
        })
    } else {
        None
    };
    if let Some(v) = &version {
        info!(node = %addr, redis_version = %v, "connected to the cluster");
    }
    Ok(Answer {
        view,
        version,
        migrations,
    })
}
