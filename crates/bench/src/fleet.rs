//! Every process a benchmark run measures: a 3-master cluster, 3 standalone
//! redis-servers, and the proxies in front of them (Slotway in cluster mode
//! over the cluster; nutcracker and Slotway in pool mode over the
//! standalone servers, from the same YAML but different ports and
//! `redis_db`; with the `floor` section, the floor proxy too, in db 0: it
//! sends no `SELECT`).
//!
//! Invariants: all are started here and stopped by PID on `Drop`, proxies
//! before the servers they talk to (field order); a target is only handed
//! out with the PIDs whose CPU it costs; a proxy that died makes the next
//! run fail with its log rather than be measured as idle.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use slotway_fixture::{Cluster, RedisServer, free_port};

use crate::hashtag;
use crate::poolconf::PoolYaml;
use crate::proxy::{self, Proxy};
use crate::runner::{Endpoint, Part};
use crate::targets::{Backend, Target};

/// `redis_db` of each proxy over the shared standalone servers (the direct
/// runs use db 0).
const NUTCRACKER_DB: u32 = 1;
const SLOTWAY_POOL_DB: u32 = 2;

/// Which binaries to use.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub slotway: PathBuf,
    pub nutcracker: PathBuf,
    /// `--threads` for both Slotway proxies (`None`: their default).
    pub slotway_threads: Option<usize>,
    /// `--scheduler` for both Slotway proxies (`None`: their default).
    pub slotway_scheduler: Option<String>,
    /// `slotway-floor`, started only when the `floor` section runs.
    pub floor: Option<PathBuf>,
}

/// The running processes. Fields drop in order: proxies, then servers.
pub struct Fleet {
    slotway_cluster: Proxy,
    nutcracker: Proxy,
    slotway_pool: Proxy,
    floor: Option<Proxy>,
    floor_tasks: Option<Proxy>,
    cluster: Cluster,
    /// The hash tag of each master's first slot, masters in slot order:
    /// the keys `redis-benchmark --cluster` uses (see `hashtag`).
    cluster_tags: Vec<String>,
    standalone: Vec<RedisServer>,
}

impl Fleet {
    /// Starts the servers, then the proxies, each waited for until it serves.
    pub fn start(bins: &Binaries) -> Result<Fleet> {
        let cluster = Cluster::builder()
            .masters(3)
            .start()
            .context("start the 3-master cluster")?;
        let cluster_tags = first_slot_tags(&cluster)?;
        let standalone = (0..3)
            .map(|i| RedisServer::start().with_context(|| format!("start standalone server {i}")))
            .collect::<Result<Vec<_>>>()?;
        let addrs: Vec<String> = standalone.iter().map(RedisServer::addr).collect();

        let seeds = cluster.seeds();
        let mut threads: Vec<OsString> = bins
            .slotway_threads
            .map(|n| vec![OsString::from("--threads"), OsString::from(n.to_string())])
            .unwrap_or_default();
        if let Some(s) = &bins.slotway_scheduler {
            threads.extend([OsString::from("--scheduler"), OsString::from(s)]);
        }
        let slotway_cluster = Proxy::start("slotway (cluster mode)", &bins.slotway, |port, _| {
            let mut args = proxy::cluster_args(port, &seeds);
            args.extend(threads.iter().cloned());
            Ok(args)
        })?;
        let pool_args = |db: u32, prefix: Option<&str>| {
            let addrs = addrs.clone();
            let threads = threads.clone();
            let prefix = prefix.map(OsString::from);
            move |port: u16, dir: &Path| -> Result<Vec<OsString>> {
                let conf = dir.join("pool.yml");
                let yaml = PoolYaml {
                    listen_port: port,
                    redis_db: db,
                    servers: &addrs,
                }
                .render();
                std::fs::write(&conf, yaml).with_context(|| format!("write {}", conf.display()))?;
                let mut args: Vec<OsString> = prefix.iter().cloned().collect();
                args.extend(proxy::nutcracker_args(&conf, free_port()));
                if prefix.is_some() {
                    // Slotway's own flag; nutcracker has none.
                    args.extend(threads.iter().cloned());
                }
                Ok(args)
            }
        };
        let nutcracker = Proxy::start(
            "nutcracker",
            &bins.nutcracker,
            pool_args(NUTCRACKER_DB, None),
        )?;
        let slotway_pool = Proxy::start(
            "slotway (pool mode)",
            &bins.slotway,
            pool_args(SLOTWAY_POOL_DB, Some("nutcracker")),
        )?;
        let floor_proxy = |name: &'static str, tasks: bool| {
            bins.floor
                .as_ref()
                .map(|bin| {
                    Proxy::start(name, bin, |port, _| {
                        Ok(proxy::floor_args(port, &addrs, tasks))
                    })
                })
                .transpose()
        };
        let floor = floor_proxy("slotway-floor", false)?;
        let floor_tasks = floor_proxy("slotway-floor --tasks", true)?;
        Ok(Fleet {
            slotway_cluster,
            nutcracker,
            slotway_pool,
            floor,
            floor_tasks,
            cluster,
            cluster_tags,
            standalone,
        })
    }

    fn proxy_mut(&mut self, target: Target) -> Option<&mut Proxy> {
        match target {
            Target::SlotwayCluster | Target::SlotwayClusterTagged => {
                Some(&mut self.slotway_cluster)
            }
            Target::Nutcracker => Some(&mut self.nutcracker),
            Target::SlotwayPool => Some(&mut self.slotway_pool),
            Target::Floor => self.floor.as_mut(),
            Target::FloorTasks => self.floor_tasks.as_mut(),
            Target::ClusterDirect | Target::StandaloneDirect => None,
        }
    }

    /// A proxy target's port; an error for a direct target or a proxy not
    /// started (the floors run only with the `floor` section).
    fn proxy_port(&self, target: Target) -> Result<u16> {
        let proxy = match target {
            Target::SlotwayCluster | Target::SlotwayClusterTagged => Some(&self.slotway_cluster),
            Target::Nutcracker => Some(&self.nutcracker),
            Target::SlotwayPool => Some(&self.slotway_pool),
            Target::Floor => self.floor.as_ref(),
            Target::FloorTasks => self.floor_tasks.as_ref(),
            Target::ClusterDirect | Target::StandaloneDirect => None,
        };
        proxy
            .map(Proxy::port)
            .with_context(|| format!("{} was not started", target.name()))
    }

    /// The proxy's PID (`None` for a direct target), after checking that
    /// it is still running.
    pub fn proxy_pid(&mut self, target: Target) -> Result<Option<u32>> {
        match self.proxy_mut(target) {
            Some(p) => {
                p.check_alive()?;
                Ok(Some(p.pid()))
            }
            // Not started: measuring it as a direct run would be a lie.
            None if target.is_proxy() => {
                anyhow::bail!("{} was not started", target.name())
            }
            None => Ok(None),
        }
    }

    /// Every proxy of the run.
    pub fn proxy_pids(&self) -> Vec<u32> {
        [&self.slotway_cluster, &self.nutcracker, &self.slotway_pool]
            .into_iter()
            .chain(self.floor.as_ref())
            .chain(self.floor_tasks.as_ref())
            .map(Proxy::pid)
            .collect()
    }

    /// The redis-servers a target's requests land on.
    pub fn redis_pids(&self, target: Target) -> Vec<u32> {
        match target.backend() {
            Backend::Cluster => self.cluster.nodes().iter().map(RedisServer::pid).collect(),
            Backend::Standalone => self.standalone.iter().map(RedisServer::pid).collect(),
        }
    }

    /// Every redis-server of the run: the cluster's and the standalone ones.
    pub fn all_redis_pids(&self) -> Vec<u32> {
        let mut pids = self.redis_pids(Target::ClusterDirect);
        pids.extend(self.redis_pids(Target::StandaloneDirect));
        pids
    }

    /// Where redis-benchmark connects for `target`.
    pub fn endpoint(&self, target: Target) -> Result<Endpoint> {
        Ok(match target {
            Target::ClusterDirect => Endpoint::Cluster(
                self.cluster
                    .nodes()
                    .first()
                    .context("cluster without nodes")?
                    .port(),
            ),
            Target::StandaloneDirect => Endpoint::Split(
                self.standalone
                    .iter()
                    .map(|s| Part {
                        port: s.port(),
                        tag: None,
                    })
                    .collect(),
            ),
            Target::SlotwayClusterTagged => {
                let port = self.proxy_port(target)?;
                Endpoint::Split(
                    self.cluster_tags
                        .iter()
                        .map(|tag| Part {
                            port,
                            tag: Some(tag.clone()),
                        })
                        .collect(),
                )
            }
            proxy => Endpoint::Single(self.proxy_port(proxy)?),
        })
    }

    /// The one port a latency or idle-client run connects to: the proxy's,
    /// or for a direct target the first server (a cluster run then only
    /// uses keys of that master's slots, see `first_master_keys`).
    pub fn single_port(&self, target: Target) -> Result<u16> {
        Ok(match target {
            Target::ClusterDirect => self
                .cluster
                .nodes()
                .first()
                .context("cluster without nodes")?
                .port(),
            Target::StandaloneDirect => self
                .standalone
                .first()
                .context("no standalone server")?
                .port(),
            proxy => self.proxy_port(proxy)?,
        })
    }

    /// `n` keys (`prefix` + number) whose slots the first cluster node
    /// serves, so a run straight at that node never gets `MOVED`.
    pub fn first_master_keys(&self, prefix: &str, n: usize) -> Result<Vec<String>> {
        let first = self
            .cluster
            .nodes()
            .first()
            .context("cluster without nodes")?;
        let addr = first.addr();
        let map = self.cluster.slots().context("CLUSTER SLOTS")?;
        let ranges: Vec<(u16, u16)> = map
            .iter()
            .filter(|r| r.master == addr)
            .map(|r| (r.start, r.end))
            .collect();
        let owned = |k: &str| {
            let slot = slotway_hashkit::key_slot(k.as_bytes());
            ranges.iter().any(|(a, b)| (*a..=*b).contains(&slot))
        };
        // About a third of all keys qualify; the bound only stops a map
        // without this node.
        let keys: Vec<String> = (0..n * 100)
            .map(|i| format!("{prefix}{i}"))
            .filter(|k| owned(k))
            .take(n)
            .collect();
        if keys.len() < n {
            anyhow::bail!("{addr} serves too few slots ({ranges:?}) for {n} keys");
        }
        Ok(keys)
    }

    /// `FLUSHALL` on every server (all dbs), straight at each one. Keeps
    /// memory bounded (LPUSH's list, 4 KB values) between cases; done
    /// outside any measured window.
    pub fn flush_all(&self) -> Result<()> {
        for s in self.cluster.nodes().iter().chain(&self.standalone) {
            let reply = s.cmd(&["FLUSHALL"])?;
            if reply != "OK" {
                anyhow::bail!("FLUSHALL on {} answered `{reply}`", s.addr());
            }
        }
        Ok(())
    }
}

/// The hash tag of each master's first slot, masters in the order of those
/// slots: where `redis-benchmark --cluster` puts each node's keys.
fn first_slot_tags(cluster: &Cluster) -> Result<Vec<String>> {
    let map = cluster.slots().context("CLUSTER SLOTS")?;
    let mut firsts: Vec<(u16, &str)> = Vec::new();
    for range in &map {
        match firsts.iter_mut().find(|(_, m)| *m == range.master) {
            Some(first) => first.0 = first.0.min(range.start),
            None => firsts.push((range.start, &range.master)),
        }
    }
    firsts.sort_unstable();
    firsts
        .iter()
        .map(|&(slot, master)| {
            hashtag::for_slot(slot)
                .with_context(|| format!("no hash tag for slot {slot} ({master})"))
        })
        .collect()
}
