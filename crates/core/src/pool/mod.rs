//! Sharded standalone pools (twemproxy's model): a fixed list of Redis
//! servers, keys placed on them by nutcracker's rules, bit for bit.
//!
//! The engine is the same as for a cluster: a pool is a [`Topology`] whose
//! "slots" are server indexes (`slot i` ↦ server `i`, in nutcracker's
//! server order) and whose [`KeyMap`] is the pool's placement. This module
//! owns what differs: the settings of a pool, and the manager task that
//! keeps the table current —
//! - [`sentinel`]: servers named after a Sentinel master follow
//!   `+switch-master` live (and are re-resolved after any reconnect, so a
//!   missed event is caught up);
//! - [`health`]: a background PING probe per server; with
//!   `auto_eject_hosts`, a server failing `server_failure_limit` probes in
//!   a row leaves the placement for at least `server_retry_timeout`, and
//!   comes back only once a probe succeeds again (nutcracker re-adds it
//!   blindly and lets live traffic find out).
//!
//! - [`status`]: the per-server states the admin API shows, and the
//!   operator's eject / restore commands, which the manager executes.
//!
//! Invariants: the shard of a key is always an index into `servers`; the
//! table always maps every shard to its server's current address; the
//! placement only ever drops servers when ejection is enabled.

pub mod health;
pub mod sentinel;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use slotway_hashkit::SLOT_COUNT;
use slotway_hashkit::twemproxy::{Distribution, Hash, HashTag, Placement, Server, ServerEntry};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::backend::Prelude;
use crate::cluster::Topology;
use crate::cluster::view::{ClusterView, ShardView};
use crate::error::ConfigError;
use crate::route::KeyMap;

/// One server of a pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolServer {
    /// Its name in stats (`host:port` or the entry's name).
    pub name: String,
    /// `host:port` to connect to (the configured one; a Sentinel-managed
    /// server's current master replaces it at run time).
    pub addr: String,
    /// Placement identity and weight.
    pub server: Server,
    /// The Sentinel master name this server follows, if any.
    pub sentinel_name: Option<String>,
}

impl PoolServer {
    /// The server of a nutcracker `servers:` entry. A named entry may follow
    /// the Sentinel master of that name (when the pool has Sentinels).
    #[must_use]
    pub fn from_entry(entry: &ServerEntry) -> Self {
        let addr = match entry.port {
            Some(port) => format!("{}:{port}", entry.addr),
            None => entry.addr.clone(),
        };
        let named = entry.name.clone().filter(|n| !n.is_empty());
        Self {
            name: named.clone().unwrap_or_else(|| addr.clone()),
            addr,
            server: entry.server(),
            sentinel_name: named,
        }
    }
}

/// Automatic ejection (`auto_eject_hosts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ejection {
    /// Consecutive failed probes before a server is ejected.
    pub failure_limit: u32,
    /// Least time an ejected server stays out.
    pub retry_timeout: Duration,
}

/// A validated pool.
#[derive(Clone, Debug)]
pub struct PoolSettings {
    /// The pool's name (stats, logs).
    pub name: String,
    /// Servers as configured: the index is the shard (the placement maps
    /// keys to these indexes; nutcracker's sorted order only matters inside
    /// it and in stats).
    pub servers: Vec<PoolServer>,
    /// Key hash.
    pub hash: Hash,
    /// Hash tag.
    pub tag: Option<HashTag>,
    /// ketama / modula / random.
    pub distribution: Distribution,
    /// `auto_eject_hosts` and its limits; `None`: never remap keys.
    pub ejection: Option<Ejection>,
    /// Sentinel addresses (`host:port`).
    pub sentinels: Vec<String>,
    /// Sent first on every Sentinel connection (Sentinel credentials); its
    /// TLS is set from the backends' when `sentinel_tls` (at validation).
    pub sentinel_prelude: Prelude,
    /// Speak TLS to the Sentinels, with the backends' TLS settings
    /// (`cluster.tls*`, which must be on).
    pub sentinel_tls: bool,
    /// Period of the health probe.
    pub probe_interval: Duration,
    /// Connect to every server at start (the first health probe does).
    pub preconnect: bool,
    /// The placement with every server live (validated at construction).
    pub keys: KeyMap,
}

impl PoolSettings {
    /// A pool of `servers` with every option
    /// at its default: no ejection, no Sentinel, a probe every second.
    ///
    /// # Errors
    /// No server, too many, or a
    /// placement nutcracker would refuse (zero weight, duplicate names).
    pub fn new(
        name: impl Into<String>,
        servers: Vec<PoolServer>,
        hash: Hash,
        tag: Option<HashTag>,
        distribution: Distribution,
    ) -> Result<Self, ConfigError> {
        if servers.len() > usize::from(SLOT_COUNT) {
            return Err(ConfigError::invalid(
                "pool.servers",
                "at most 16384 servers",
            ));
        }
        let mut pool = Self {
            name: name.into(),
            servers,
            hash,
            tag,
            distribution,
            ejection: None,
            sentinels: Vec::new(),
            sentinel_prelude: Prelude::default(),
            sentinel_tls: false,
            probe_interval: Duration::from_secs(1),
            preconnect: false,
            keys: KeyMap::Cluster,
        };
        let placement = pool
            .placement(&vec![true; pool.servers.len()])
            .map_err(|e| ConfigError::invalid("pool.servers", e))?;
        pool.keys = KeyMap::Pool(Arc::new(placement));
        Ok(pool)
    }

    /// The placement over the servers whose `live` flag is set.
    ///
    /// # Errors
    /// No live server, or an invalid server list.
    pub fn placement(&self, live: &[bool]) -> Result<Placement, String> {
        let servers: Vec<Server> = self.servers.iter().map(|s| s.server.clone()).collect();
        Placement::with_live(self.hash, self.tag, self.distribution, &servers, live)
            .map_err(|e| e.to_string())
    }

    /// The key map for the live servers; `None` when none is live.
    #[must_use]
    pub fn key_map(&self, live: &[bool]) -> Option<KeyMap> {
        self.placement(live).ok().map(|p| KeyMap::Pool(Arc::new(p)))
    }
}

/// The table view of a pool: shard `i` is served by `addrs[i]`.
#[must_use]
pub fn view(addrs: &[String]) -> ClusterView {
    ClusterView {
        shards: addrs
            .iter()
            .enumerate()
            .filter_map(|(i, addr)| {
                let i = u16::try_from(i).ok()?;
                Some(ShardView {
                    master: addr.clone(),
                    replicas: Vec::new(),
                    ranges: vec![(i, i)],
                    epoch: 0,
                })
            })
            .collect(),
    }
}

/// Timeouts of the manager's own connections (probes, Sentinel queries).
#[derive(Clone, Copy, Debug)]
pub struct PoolTiming {
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of one query.
    pub query_timeout: Duration,
}

/// What the manager publishes to and hears from the admin API.
#[derive(Debug)]
pub struct Control {
    /// Per-server states, published after every change and probe round.
    pub board: Arc<status::Board>,
    /// Operator commands (eject, restore).
    pub commands: mpsc::Receiver<status::Command>,
}

impl Control {
    /// A control nobody acts through (its commands channel is closed).
    #[must_use]
    pub fn detached() -> Self {
        let (_, commands) = mpsc::channel(1);
        Self {
            board: Arc::default(),
            commands,
        }
    }
}

/// Keeps the pool's table current until `stop` is cancelled: installs the
/// servers, follows Sentinel, probes health, ejects and restores (on its
/// own, or when an operator says so through `control`). A new value on
/// `updates` (a configuration reload) replaces the servers and the
/// placement at once; clients stay connected. Automatic ejections are
/// forgotten (the new settings' probes decide afresh), but an operator's
/// ejection of a server the new settings still have (same name and
/// address) is kept: the operator said "out until I restore it".
pub async fn run(
    topology: Arc<Topology>,
    mut updates: watch::Receiver<Arc<PoolSettings>>,
    stats: Arc<crate::stats::ProxyStats>,
    timing: PoolTiming,
    mut control: Control,
    stop: CancellationToken,
) {
    let mut first = true;
    let mut kept: Vec<(String, String)> = Vec::new();
    loop {
        let pool = updates.borrow_and_update().clone();
        let generation = stop.child_token();
        let board = control.board.clone();
        let serving = serve_generation(
            &topology,
            &pool,
            &stats,
            timing,
            &mut control,
            &generation,
            (!first).then_some(kept.as_slice()),
        );
        tokio::select! {
            () = stop.cancelled() => return,
            () = serving => return,
            changed = updates.changed() => {
                kept = operator_ejected(&pool, &board.snapshot());
                generation.cancel();
                if changed.is_err() {
                    // The engine is gone.
                    return;
                }
                info!(event = "pool_reloaded", pool = %pool.name, "pool reloaded");
                topology.events().record("pool_reloaded", format!("pool {} reloaded", pool.name));
            }
        }
        first = false;
    }
}

/// The (name, configured address) of every server an operator ejected.
fn operator_ejected(pool: &PoolSettings, board: &[status::ServerStatus]) -> Vec<(String, String)> {
    pool.servers
        .iter()
        .zip(board)
        .filter(|(_, b)| b.by_operator && b.state == status::ServerState::Ejected)
        .map(|(s, _)| (s.name.clone(), s.addr.clone()))
        .collect()
}

/// Serves one generation of the pool's settings. `reload`: `None` for the
/// first; after a reload, the operator ejections of the previous
/// generation, re-applied to the servers that still have that name and
/// address.
async fn serve_generation(
    topology: &Topology,
    pool: &Arc<PoolSettings>,
    stats: &crate::stats::ProxyStats,
    timing: PoolTiming,
    control: &mut Control,
    stop: &CancellationToken,
    reload: Option<&[(String, String)]>,
) {
    let first = reload.is_none();
    let mut addrs: Vec<String> = pool.servers.iter().map(|s| s.addr.clone()).collect();
    let follows =
        !pool.sentinels.is_empty() && pool.servers.iter().any(|s| s.sentinel_name.is_some());
    if follows {
        sentinel::resolve_all(pool, &mut addrs, timing).await;
    }
    if first {
        topology.install(&view(&addrs));
    } else {
        topology.install_with_keys(&view(&addrs), pool.keys.clone());
        stats.server_ejected_at.lock().clear();
    }
    info!(pool = %pool.name, servers = addrs.len(), "pool ready");
    // `preconnect`: the first probe (right away) connects to every server.
    let (tx, mut switches) = mpsc::unbounded_channel();
    if follows {
        for addr in &pool.sentinels {
            tokio::spawn(sentinel::watch(
                addr.clone(),
                pool.clone(),
                timing,
                tx.clone(),
                stop.child_token(),
            ));
        }
    }
    drop(tx);
    let mut health = health::Health::new(pool.servers.len());
    if let Some(kept) = reload {
        keep_ejections(&mut health, kept, pool, &addrs, topology, stats);
    }
    health.publish(&addrs, &control.board);
    let mut probes = health::ProbeConns::default();
    let mut ticker = tokio::time::interval(pool.probe_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            Some(event) = switches.recv() => match event {
                sentinel::Event::Switched { name, addr } => {
                    let mut changed = false;
                    for (i, s) in pool.servers.iter().enumerate() {
                        if s.sentinel_name.as_deref() == Some(name.as_str())
                            && let Some(slot) = addrs.get_mut(i)
                            && *slot != addr
                        {
                            info!(event = "master_switched", pool = %pool.name, server = %s.name, from = %slot, to = %addr, "master switched (Sentinel)");
                            topology.events().record(
                                "master_switched",
                                format!("pool {}: {} moved from {slot} to {addr} (Sentinel)", pool.name, s.name),
                            );
                            *slot = addr.clone();
                            changed = true;
                        }
                    }
                    if changed {
                        topology.install(&view(&addrs));
                        health.publish(&addrs, &control.board);
                    }
                }
                sentinel::Event::Resync => {
                    if sentinel::resolve_all(pool, &mut addrs, timing).await {
                        topology.install(&view(&addrs));
                        health.publish(&addrs, &control.board);
                    }
                }
            },
            Some(command) = control.commands.recv() => {
                let answer = operate(&mut health, &command, pool, &addrs, topology, stats);
                health.publish(&addrs, &control.board);
                let _ = command.reply.send(answer);
            }
            _ = ticker.tick() => {
                let due = health.due();
                let results = health::probe_all(&addrs, &due, topology.prelude(), timing, &mut probes).await;
                health.note_errors(&results);
                let verdicts: Vec<Option<bool>> =
                    results.iter().map(|r| r.as_ref().map(Result::is_ok)).collect();
                let ejects = health.ejects;
                let changed = health.update(&verdicts, pool.ejection, pool, &addrs, topology.events());
                if health.ejects != ejects {
                    crate::stats::bump(&stats.server_ejects, health.ejects - ejects);
                    stats.server_ejected_at.lock().clone_from(&health.ejected_at_us);
                }
                if let Some(live) = changed {
                    match pool.key_map(&live) {
                        Some(keys) => topology.set_keys(keys),
                        None => warn!(pool = %pool.name, "every server is down; keeping the last placement"),
                    }
                }
                // A failed server of a Sentinel-managed pool: maybe a
                // failover under way whose event this proxy missed.
                if follows && verdicts.contains(&Some(false))
                    && sentinel::resolve_all(pool, &mut addrs, timing).await
                {
                    topology.install(&view(&addrs));
                }
                health.publish(&addrs, &control.board);
            }
        }
    }
}

/// Re-applies the operator ejections `kept` across a reload, to the
/// servers still configured with that name and address; one the new
/// settings refuse (no `auto_eject_hosts` any more, or the last server) is
/// back in the placement, with a warning.
fn keep_ejections(
    health: &mut health::Health,
    kept: &[(String, String)],
    pool: &PoolSettings,
    addrs: &[String],
    topology: &Topology,
    stats: &crate::stats::ProxyStats,
) {
    for (name, addr) in kept {
        let Some(index) = pool
            .servers
            .iter()
            .position(|s| s.name == *name && s.addr == *addr)
        else {
            continue;
        };
        let ejects = health.ejects;
        match health.operator(index, status::Action::Eject, pool, addrs, topology.events()) {
            Ok(live) => {
                info!(pool = %pool.name, server = %name, "operator ejection kept across the reload");
                if health.ejects != ejects {
                    crate::stats::bump(&stats.server_ejects, health.ejects - ejects);
                }
                stats
                    .server_ejected_at
                    .lock()
                    .clone_from(&health.ejected_at_us);
                if let Some(keys) = live.and_then(|live| pool.key_map(&live)) {
                    topology.set_keys(keys);
                }
            }
            Err(e) => {
                warn!(pool = %pool.name, server = %name, error = %e, "operator ejection not kept across the reload: the server is back in the placement");
            }
        }
    }
}

/// Executes an operator's command (see [`health::Health::operator`]).
fn operate(
    health: &mut health::Health,
    command: &status::Command,
    pool: &PoolSettings,
    addrs: &[String],
    topology: &Topology,
    stats: &crate::stats::ProxyStats,
) -> Result<status::Outcome, status::ActionError> {
    let index = pool
        .servers
        .iter()
        .zip(addrs)
        .position(|(s, addr)| s.name == command.server || *addr == command.server)
        .ok_or_else(|| status::ActionError::NoSuchServer(command.server.clone()))?;
    let ejects = health.ejects;
    let live = health.operator(index, command.action, pool, addrs, topology.events())?;
    if health.ejects != ejects {
        crate::stats::bump(&stats.server_ejects, health.ejects - ejects);
    }
    stats
        .server_ejected_at
        .lock()
        .clone_from(&health.ejected_at_us);
    let changed = live.is_some();
    if let Some(live) = live {
        match pool.key_map(&live) {
            Some(keys) => topology.set_keys(keys),
            None => warn!(pool = %pool.name, "no live server left; keeping the last placement"),
        }
    }
    Ok(status::Outcome { index, changed })
}
