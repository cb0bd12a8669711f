//! Running a set of sharded pools (from a nutcracker YAML file or from
//! `[pools.NAME]` in Slotway's TOML): one engine and one listener per pool,
//! and reloading them on SIGHUP.
//!
//! Reload rules: a pool whose servers, hash, distribution, hash tag,
//! ejection or Sentinel settings changed is updated in place (its clients
//! stay connected; keys move only as the new placement says); a pool whose
//! other settings changed (listen, timeout, auth, db, connections) is
//! restarted, which closes its clients' connections; new pools start,
//! pools no longer in the file stop. A file that fails validation changes
//! nothing. The same reload runs for `POST /api/v1/config/reload`, which
//! gets its summary ([`PoolSet::reload`]).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use slotway_core::backend::Prelude;
use slotway_core::events::Journal;
use slotway_core::pool::{Ejection, PoolServer, PoolSettings};
use slotway_core::workers::Workers;
use slotway_core::{ClientListener, Config, Engine};
use slotway_nutconf::{Listen, PoolConf};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// The running pools, as the stats port sees them.
pub(crate) type Running = Arc<Vec<(PoolConf, Arc<Engine>)>>;

/// One running pool.
struct Pool {
    conf: PoolConf,
    engine: Arc<Engine>,
    stop: CancellationToken,
}

/// Every running pool, plus what reloads need.
pub(crate) struct PoolSet {
    base: Config,
    pools: Vec<Pool>,
    tasks: tokio::task::JoinSet<Result<(), slotway_core::RunError>>,
    view: watch::Sender<Running>,
    /// The engines alone, for the admin API.
    engines: watch::Sender<Arc<Vec<Arc<Engine>>>>,
    /// What reloads did to the pools (an engine's own journal goes with
    /// it when its pool stops, so these live here), for the admin API.
    journal: Arc<Journal>,
    /// The runtimes every pool's clients are spread over.
    workers: Workers,
}

impl PoolSet {
    /// Binds and starts every pool.
    pub(crate) async fn start(
        base: &Config,
        confs: Vec<PoolConf>,
        workers: Workers,
    ) -> Result<Self> {
        let mut set = Self {
            workers,
            base: base.clone(),
            pools: Vec::new(),
            tasks: tokio::task::JoinSet::new(),
            view: watch::Sender::new(Arc::new(Vec::new())),
            engines: watch::Sender::new(Arc::new(Vec::new())),
            journal: Arc::default(),
        };
        for conf in confs {
            let pool = set.launch(conf).await?;
            set.pools.push(pool);
        }
        set.publish();
        Ok(set)
    }

    /// What the stats port reads (updated on every reload).
    pub(crate) fn watch(&self) -> watch::Receiver<Running> {
        self.view.subscribe()
    }

    /// What the admin API reads (updated on every reload).
    pub(crate) fn engines(&self) -> watch::Receiver<Arc<Vec<Arc<Engine>>>> {
        self.engines.subscribe()
    }

    /// The events of reloads (pools added, removed, restarted, failed).
    pub(crate) fn journal(&self) -> Arc<Journal> {
        self.journal.clone()
    }

    /// How many pools run.
    pub(crate) fn len(&self) -> usize {
        self.pools.len()
    }

    /// Applies a freshly loaded configuration (see the module rules);
    /// returns what happened to each pool, or why the file was refused.
    pub(crate) async fn reload(
        &mut self,
        confs: Vec<PoolConf>,
    ) -> Result<serde_json::Value, String> {
        // Validate everything first: a bad file changes nothing.
        for conf in &confs {
            if let Err(e) = settings_for(conf, &self.base) {
                let e = format!("{e:#}");
                error!(error = %e, "reload refused; the running pools are unchanged");
                return Err(e);
            }
        }
        let mut done = Summary::default();
        let mut old = std::mem::take(&mut self.pools);
        for conf in confs {
            let same = old.iter().position(|p| p.conf.name == conf.name);
            let previous = same.map(|i| old.remove(i));
            let name = conf.name.clone();
            match previous {
                Some(p) if p.conf == conf => {
                    done.unchanged.push(name);
                    self.pools.push(p);
                }
                Some(p) if in_place(&p.conf, &conf) => match settings_for(&conf, &self.base) {
                    Ok(settings) => {
                        if let Some(pool) = settings.pool.as_deref() {
                            let _ = p.engine.reload_pool(pool.clone());
                        }
                        info!(pool = %conf.name, servers = conf.servers.len(), "pool reloaded in place");
                        done.in_place.push(name);
                        self.pools.push(Pool { conf, ..p });
                    }
                    Err(e) => {
                        error!(pool = %conf.name, error = %format!("{e:#}"), "reload of a pool failed");
                        self.failed(&name, "could not be reloaded; it runs unchanged");
                        done.failed.push(name);
                        self.pools.push(p);
                    }
                },
                Some(p) => {
                    warn!(pool = %conf.name, "pool settings changed beyond its servers: restarting it (its clients reconnect)");
                    p.stop.cancel();
                    // The new engine starts a new journal: keep the old one's.
                    self.journal.import(p.engine.topology().events().recent());
                    if self.relaunch(conf, Some(p)).await {
                        self.journal.record(
                            "pool_restarted",
                            format!("pool {name} restarted by a reload (settings beyond its servers changed; its clients reconnect)"),
                        );
                        done.restarted.push(name);
                    } else {
                        self.failed(&name, "could not be restarted");
                        done.failed.push(name);
                    }
                }
                None => {
                    info!(pool = %conf.name, "pool added");
                    let listen = conf.listen.to_string();
                    if self.relaunch(conf, None).await {
                        self.journal.record(
                            "pool_added",
                            format!("pool {name} added by a reload (listening on {listen})"),
                        );
                        done.added.push(name);
                    } else {
                        self.failed(&name, "could not be started");
                        done.failed.push(name);
                    }
                }
            }
        }
        for gone in old {
            info!(event = "pool_removed", pool = %gone.conf.name, "pool removed");
            self.journal.record(
                "pool_removed",
                format!(
                    "pool {} removed by a reload (its clients were disconnected)",
                    gone.conf.name
                ),
            );
            done.removed.push(gone.conf.name.clone());
            gone.stop.cancel();
            // Its engine (and journal) goes: keep its history.
            self.journal
                .import(gone.engine.topology().events().recent());
        }
        self.publish();
        Ok(serde_json::json!({
            "unchanged": done.unchanged,
            "reloaded_in_place": done.in_place,
            "restarted": done.restarted,
            "added": done.added,
            "removed": done.removed,
            "failed": done.failed,
        }))
    }

    fn failed(&self, name: &str, what: &str) {
        self.journal
            .record("pool_failed", format!("pool {name} {what} (see the log)"));
    }

    /// Waits for a pool task to end (they only end on error or stop).
    pub(crate) async fn next_exit(&mut self) -> Option<Result<(), slotway_core::RunError>> {
        match self.tasks.join_next().await {
            Some(Ok(r)) => Some(r),
            Some(Err(e)) => Some(Err(slotway_core::RunError::Listener(
                std::io::Error::other(e),
            ))),
            None => None,
        }
    }

    /// Stops every pool and waits for their grace periods.
    pub(crate) async fn shutdown(mut self) {
        for p in &self.pools {
            p.stop.cancel();
        }
        while self.tasks.join_next().await.is_some() {}
    }

    /// Starts `conf` (retrying the bind a while); whether it runs.
    async fn relaunch(&mut self, conf: PoolConf, previous: Option<Pool>) -> bool {
        // The old listener may take a moment to close: retry the bind.
        let mut last = None;
        for _ in 0..30 {
            match self.launch(conf.clone()).await {
                Ok(pool) => {
                    self.pools.push(pool);
                    return true;
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        error!(pool = %conf.name, error = %format!("{:#}", last.map(|e| e.to_string()).unwrap_or_default()), "pool could not be started");
        drop(previous);
        false
    }

    async fn launch(&mut self, conf: PoolConf) -> Result<Pool> {
        let settings = settings_for(&conf, &self.base)?;
        let listener = bind(&conf, &settings).await?;
        let engine = Engine::with_workers(settings, self.workers.clone());
        let stop = CancellationToken::new();
        let token = stop.clone();
        self.tasks
            .spawn(slotway_core::serve(listener, engine.clone(), async move {
                token.cancelled().await;
            }));
        Ok(Pool { conf, engine, stop })
    }

    fn publish(&self) {
        let view: Vec<(PoolConf, Arc<Engine>)> = self
            .pools
            .iter()
            .map(|p| (p.conf.clone(), p.engine.clone()))
            .collect();
        let engines = view.iter().map(|(_, e)| e.clone()).collect();
        self.view.send_replace(Arc::new(view));
        self.engines.send_replace(Arc::new(engines));
    }
}

/// The pools' fates in one reload.
#[derive(Default)]
struct Summary {
    unchanged: Vec<String>,
    in_place: Vec<String>,
    restarted: Vec<String>,
    added: Vec<String>,
    removed: Vec<String>,
    failed: Vec<String>,
}

/// Whether `new` differs from `old` only in what a running pool can take
/// without a restart.
fn in_place(old: &PoolConf, new: &PoolConf) -> bool {
    let mut probe = new.clone();
    probe.servers.clone_from(&old.servers);
    probe.hash = old.hash;
    probe.hash_tag = old.hash_tag;
    probe.distribution = old.distribution;
    probe.auto_eject_hosts = old.auto_eject_hosts;
    probe.server_retry_timeout = old.server_retry_timeout;
    probe.server_failure_limit = old.server_failure_limit;
    probe.preconnect = old.preconnect;
    probe.sentinel.clone_from(&old.sentinel);
    probe == *old
}

/// nutcracker's pool as engine settings.
pub(crate) fn settings_for(pool: &PoolConf, base: &Config) -> Result<slotway_core::Settings> {
    let servers: Vec<PoolServer> = pool
        .servers
        .iter()
        .map(|s| {
            let mut server = PoolServer::from_entry(&s.entry);
            server.sentinel_name.clone_from(&s.sentinel_master);
            server
        })
        .collect();
    let mut settings = PoolSettings::new(
        pool.name.clone(),
        servers,
        pool.hash,
        pool.hash_tag,
        pool.distribution,
    )
    .with_context(|| format!("pool {:?}", pool.name))?;
    settings.preconnect = pool.preconnect;
    settings.ejection = pool.auto_eject_hosts.then_some(Ejection {
        failure_limit: pool.server_failure_limit,
        retry_timeout: pool.server_retry_timeout,
    });
    if let Some(sentinel) = &pool.sentinel {
        settings.sentinels = sentinel.addrs.iter().map(ToString::to_string).collect();
        settings.sentinel_prelude = Prelude::new(
            sentinel.user.as_deref(),
            sentinel
                .auth
                .as_ref()
                .map(slotway_nutconf::Password::expose),
            0,
        );
        settings.sentinel_tls = sentinel.tls;
    }
    let mut config = base.clone();
    config.pools.clear();
    // One TLS address cannot serve every pool; pools take TLS to their
    // servers (`cluster.tls*`) but not from their clients.
    if !config.tls.listen.is_empty() {
        anyhow::bail!(
            "pool {:?}: tls.listen is not supported with pools",
            pool.name
        );
    }
    // The address is resolved once, as nutcracker resolves it when it
    // reads the file; a unix-socket pool binds its path instead (`bind`).
    config.proxy.listen = match &pool.listen {
        Listen::Tcp { host, port } => {
            use std::net::ToSocketAddrs as _;
            let text = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            text.to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .with_context(|| format!("pool {:?}: cannot resolve listen {text}", pool.name))?
                .to_string()
        }
        Listen::Unix { .. } => "127.0.0.1:0".to_owned(),
    };
    // Clients AUTH with the pool's redis_auth, as nutcracker checks it.
    if let Some(auth) = &pool.redis_auth {
        config.proxy.requirepass = auth.expose().to_owned();
    }
    config.cluster.connections_per_node = usize::try_from(pool.server_connections)
        .unwrap_or(1)
        .clamp(1, 64);
    if let Some(t) = pool.timeout {
        let ms = u64::try_from(t.as_millis()).unwrap_or(u64::MAX);
        config.cluster.connect_timeout_ms = ms;
        config.cluster.request_timeout_ms = ms;
    }
    let following = !settings.sentinels.is_empty();
    // Without Sentinel no failover will come: a dead server's requests fail
    // at once (as in nutcracker) instead of waiting.
    if !following {
        config.cluster.park_timeout_ms = 0;
    }
    let mut engine = config
        .validate_for_pool(settings)
        .map_err(|e| anyhow::anyhow!("pool {:?}: {e}", pool.name))?;
    engine.prelude = Prelude::new(
        None,
        pool.redis_auth
            .as_ref()
            .map(slotway_nutconf::Password::expose),
        pool.redis_db,
    )
    .with_keepalive(pool.tcpkeepalive)
    .with_tls(engine.prelude.tls().cloned());
    Ok(engine)
}

/// The pool's listener: TCP, or a unix socket (a stale socket file from an
/// earlier run is replaced; `perm` is applied as nutcracker does).
async fn bind(pool: &PoolConf, settings: &slotway_core::Settings) -> Result<ClientListener> {
    match &pool.listen {
        Listen::Tcp { .. } => {
            let what = || format!("pool {:?}: cannot listen on {}", pool.name, settings.listen);
            // nutcracker's `backlog`: the listen queue length.
            let socket = match settings.listen {
                std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
                std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
            }
            .with_context(what)?;
            socket.set_reuseaddr(true).with_context(what)?;
            socket.bind(settings.listen).with_context(what)?;
            Ok(socket.listen(pool.backlog).with_context(what)?.into())
        }
        Listen::Unix { path, perm } => {
            use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
                let _ = std::fs::remove_file(path);
            }
            let listener = tokio::net::UnixListener::bind(path)
                .with_context(|| format!("pool {:?}: cannot listen on {path}", pool.name))?;
            if let Some(mode) = perm {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode))
                    .with_context(|| format!("pool {:?}: chmod {mode:o} {path}", pool.name))?;
            }
            Ok(listener.into())
        }
    }
}
