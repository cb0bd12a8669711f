//! The Prometheus (OpenMetrics) text of `/metrics`, built at scrape time from
//! snapshots of the proxy's counters, its topology and client registry.
//!
//! Names follow Prometheus conventions (`slotway_` prefix, base units,
//! `_total` on counters, added by the encoder). Every label set is bounded:
//! `command` by the command table, `class` and `kind` by fixed lists, `node`
//! by the nodes of the current topology.
//!
//! A pool-mode process ([`render_pools`]) shows every pool: each series but
//! `slotway_build_info` carries a `pool` label (the pool names of the
//! configuration, so bounded too), and the `slotway_pool_*` series give each
//! pool's servers by their configured names. Each pool's engine keeps its
//! own counters (resolved when it starts); the labels are only attached
//! here, at scrape time. The `backend_*` series come from the process-wide
//! per-address registry ([`super::backend`]): two pools sharing a server
//! address show the same numbers for it.

use std::sync::Arc;

use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet, text};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::Count;
use super::RedirectKind;
use super::backend::{self, Health, NodeSnapshot};
use super::commands::{Class, CommandSnapshot};
use super::histogram::HistogramSnapshot;
use crate::engine::Engine;
use crate::stats::{gauge, read};

/// The content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// One node of the topology as exposed.
#[derive(Debug)]
struct NodeRow {
    addr: String,
    role: &'static str,
    stats: NodeSnapshot,
}

/// One server of a pool as exposed.
#[derive(Debug)]
struct ServerRow {
    name: String,
    requests: u64,
    errors: u64,
    timeouts: u64,
    connections: u64,
    ejected: bool,
}

/// Everything one engine's scrape shows, copied out of the live state.
#[derive(Debug)]
struct Scrape {
    /// The pool's name (pool mode), the value of every series' `pool` label.
    pool: Option<String>,
    /// The pool's servers (pool mode).
    servers: Vec<ServerRow>,
    uptime_seconds: f64,
    commands: Vec<CommandSnapshot>,
    latency: Vec<(&'static str, HistogramSnapshot)>,
    clients: u64,
    counters: Vec<(&'static str, &'static str, u64)>,
    redirects: Vec<(&'static str, u64)>,
    nodes: Vec<NodeRow>,
    gauges: Vec<(&'static str, &'static str, i64)>,
}

/// The metrics text of `engine` (a cluster, or one pool without a `pool`
/// label).
#[must_use]
pub fn render(engine: &Engine) -> String {
    encode(Scrapes(vec![scrape(engine, false)]))
}

/// The metrics text of every pool of a pool-mode process, each series
/// labelled with its pool.
#[must_use]
pub fn render_pools(engines: &[Arc<Engine>]) -> String {
    encode(Scrapes(engines.iter().map(|e| scrape(e, true)).collect()))
}

fn encode(scrapes: Scrapes) -> String {
    let mut registry = Registry::with_prefix("slotway");
    registry.register_collector(Box::new(scrapes));
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = text::encode(&mut out, &registry);
    out
}

/// A pool's servers, by configured name (index = shard = the table's
/// master of that index).
fn servers(engine: &Engine, table: &crate::cluster::table::SlotTable) -> Vec<ServerRow> {
    let Some(pool) = engine.pool() else {
        return Vec::new();
    };
    let board = engine.pool_status();
    pool.servers
        .iter()
        .enumerate()
        .map(|(i, server)| {
            let node = u16::try_from(i).ok().and_then(|slot| table.master(slot));
            let stats = node.map(|n| n.stats());
            ServerRow {
                name: server.name.clone(),
                requests: stats.map_or(0, |n| read(&n.requests)),
                errors: stats.map_or(0, |n| read(&n.server_err)),
                timeouts: stats.map_or(0, |n| read(&n.server_timedout)),
                connections: stats.map_or(0, |n| gauge(&n.server_connections)),
                ejected: board
                    .get(i)
                    .is_some_and(|s| s.state == crate::pool::status::ServerState::Ejected),
            }
        })
        .collect()
}

/// Copies out what `engine` shows; `labelled`: under its pool's name.
fn scrape(engine: &Engine, labelled: bool) -> Scrape {
    let m = engine.metrics();
    let table = engine.topology().load();
    let mut nodes = Vec::new();
    for (i, master) in table.masters().iter().enumerate() {
        nodes.push(NodeRow {
            addr: master.addr().to_string(),
            role: "master",
            stats: backend::snapshot(master.addr()),
        });
        for r in table.replicas_of(i) {
            nodes.push(NodeRow {
                addr: r.addr().to_string(),
                role: "replica",
                stats: backend::snapshot(r.addr()),
            });
        }
    }
    let count = |c: &Count| c.get();
    let pool = if labelled {
        engine.pool().map(|p| p.name.clone())
    } else {
        None
    };
    let mut scrape = Scrape {
        servers: servers(engine, &table),
        pool,
        uptime_seconds: engine.uptime().as_secs_f64(),
        commands: m.commands.snapshot(),
        latency: Class::ALL
            .iter()
            .map(|&c| (c.label(), m.latency(c).snapshot()))
            .collect(),
        clients: engine.clients().len() as u64,
        counters: vec![
            (
                "client_connections",
                "Client connections accepted.",
                count(&m.clients_accepted),
            ),
            (
                "client_received_bytes",
                "Bytes read from clients.",
                count(&m.bytes_in),
            ),
            (
                "client_sent_bytes",
                "Bytes written to clients.",
                count(&m.bytes_out),
            ),
            (
                "retries",
                "Requests scheduled for a retry (no reachable owner, TRYAGAIN/CLUSTERDOWN, lost connection).",
                count(&m.retries),
            ),
            (
                "parked_retries",
                "Retries of requests waiting for their slot to have a reachable owner.",
                count(&m.parked),
            ),
            (
                "pipeline_stalls",
                "Clients read past the 4 MiB output mark after reading none of their replies for a second (whole-pipeline-then-read clients, or clients that never read).",
                count(&m.pipeline_stalls),
            ),
            (
                "topology_refreshes",
                "Topology refreshes that installed a view.",
                count(&m.refreshes_ok),
            ),
            (
                "topology_refresh_failures",
                "Topology refreshes where no node answered.",
                count(&m.refreshes_failed),
            ),
        ],
        redirects: [
            ("moved", RedirectKind::Moved),
            ("ask", RedirectKind::Ask),
            ("tryagain", RedirectKind::TryAgain),
        ]
        .iter()
        .map(|&(label, kind)| (label, m.redirect_count(kind).get()))
        .collect(),
        nodes,
        gauges: vec![
            (
                "topology_version",
                "Version of the slot table (grows with every change).",
                i64::try_from(table.version()).unwrap_or(i64::MAX),
            ),
            (
                "topology_masters",
                "Masters in the slot table.",
                i64::try_from(table.masters().len()).unwrap_or(i64::MAX),
            ),
            (
                "topology_slots_covered",
                "Slots with a known owner (16384 when the cluster is fully covered).",
                i64::try_from(table.covered_slots()).unwrap_or(i64::MAX),
            ),
            (
                "slowlog_length",
                "Entries in the proxy's slow log.",
                i64::try_from(engine.slowlog().len()).unwrap_or(i64::MAX),
            ),
        ],
    };
    if engine.pool().is_some() {
        let stats = engine.stats();
        scrape.counters.extend([
            (
                "pool_server_ejections",
                "Pool servers ejected (auto_eject_hosts or an operator).",
                read(&stats.server_ejects),
            ),
            (
                "pool_forward_errors",
                "Error replies the proxy made for backend failures.",
                read(&stats.forward_error),
            ),
            (
                "pool_client_errors",
                "Client protocol errors and refused commands.",
                read(&stats.client_err),
            ),
        ]);
    }
    scrape
}

/// Every engine's scrape: one descriptor per metric, one sample per engine.
#[derive(Debug)]
struct Scrapes(Vec<Scrape>);

impl Scrape {
    /// `rest` after this engine's `pool` label, if it has one.
    fn labels<'a>(&'a self, rest: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut v = Vec::with_capacity(rest.len() + 1);
        if let Some(pool) = &self.pool {
            v.push(("pool", pool.as_str()));
        }
        v.extend_from_slice(rest);
        v
    }
}

/// A counter sample (no `{}` when there is no label).
fn counter(m: &mut MetricEncoder, labels: &[(&str, &str)], v: u64) -> Result<(), std::fmt::Error> {
    if labels.is_empty() {
        m.encode_counter::<NoLabelSet, _, u64>(&v, None)
    } else {
        m.encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&v, None)
    }
}

/// A gauge sample (no `{}` when there is no label).
fn gauge_sample<V: prometheus_client::encoding::EncodeGaugeValue>(
    m: &mut MetricEncoder,
    labels: &[(&str, &str)],
    v: &V,
) -> Result<(), std::fmt::Error> {
    if labels.is_empty() {
        m.encode_gauge(v)
    } else {
        m.encode_family(&labels)?.encode_gauge(v)
    }
}

impl prometheus_client::collector::Collector for Scrapes {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let all = &self.0;
        let mut info =
            enc.encode_descriptor("build", "Slotway version.", None, MetricType::Info)?;
        info.encode_info(&[("version", env!("CARGO_PKG_VERSION"))])?;
        let mut m = enc.encode_descriptor(
            "uptime_seconds",
            "Seconds since the proxy (in pool mode: the pool) started.",
            None,
            MetricType::Gauge,
        )?;
        for s in all {
            gauge_sample(&mut m, &s.labels(&[]), &s.uptime_seconds)?;
        }
        let mut m = enc.encode_descriptor(
            "commands",
            "Requests answered, by command (end to end through the proxy).",
            None,
            MetricType::Counter,
        )?;
        for s in all {
            for c in &s.commands {
                counter(&mut m, &s.labels(&[("command", c.name)]), c.calls)?;
            }
        }
        let mut m = enc.encode_descriptor(
            "command_errors",
            "Requests answered with an error, by command.",
            None,
            MetricType::Counter,
        )?;
        for s in all {
            for c in &s.commands {
                counter(&mut m, &s.labels(&[("command", c.name)]), c.failed)?;
            }
        }
        let mut m = enc.encode_descriptor(
            "command_duration_seconds",
            "End-to-end time of requests through the proxy, by command class.",
            None,
            MetricType::Histogram,
        )?;
        for s in all {
            for (class, h) in &s.latency {
                // The encoder sums the buckets itself and writes `+Inf` for
                // `f64::MAX`: give it each bucket's own count.
                let mut below = 0;
                let own: Vec<(f64, u64)> = h
                    .buckets
                    .iter()
                    .map(|&(le, cumulative)| {
                        let n = cumulative - below;
                        below = cumulative;
                        (if le.is_finite() { le } else { f64::MAX }, n)
                    })
                    .collect();
                m.encode_family(&s.labels(&[("class", *class)]))?
                    .encode_histogram::<NoLabelSet>(h.sum_seconds, h.count, &own, None)?;
            }
        }
        let mut m = enc.encode_descriptor(
            "connected_clients",
            "Client connections open now.",
            None,
            MetricType::Gauge,
        )?;
        for s in all {
            gauge_sample(&mut m, &s.labels(&[]), &s.clients)?;
        }
        // Every scrape has the same counters in the same order (the pool
        // ones only in pool mode, where every scrape is a pool).
        let first = all.first().map_or(&[][..], |s| s.counters.as_slice());
        for (k, (name, help, _)) in first.iter().enumerate() {
            let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
            for s in all {
                if let Some((_, _, v)) = s.counters.get(k) {
                    counter(&mut m, &s.labels(&[]), *v)?;
                }
            }
        }
        let mut m = enc.encode_descriptor(
            "redirects",
            "Redirects followed for clients, by kind (moved, ask, tryagain).",
            None,
            MetricType::Counter,
        )?;
        for s in all {
            for (kind, v) in &s.redirects {
                counter(&mut m, &s.labels(&[("kind", *kind)]), *v)?;
            }
        }
        encode_nodes(all, &mut enc)?;
        let first = all.first().map_or(&[][..], |s| s.gauges.as_slice());
        for (k, (name, help, _)) in first.iter().enumerate() {
            let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for s in all {
                if let Some((_, _, v)) = s.gauges.get(k) {
                    gauge_sample(&mut m, &s.labels(&[]), v)?;
                }
            }
        }
        encode_servers(all, &mut enc)
    }
}

fn encode_nodes(all: &[Scrape], enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    type Get = fn(&NodeSnapshot) -> u64;
    let gauges: [(&str, &str, Get); 2] = [
        (
            "backend_connections",
            "Connections to the node open now (shared and dedicated).",
            |s| s.connections,
        ),
        (
            "backend_queue_depth",
            "Requests queued for or in flight on the node's connections.",
            |s| s.queue_depth,
        ),
    ];
    for (name, help, get) in gauges {
        let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
        for s in all {
            for n in &s.nodes {
                m.encode_family(&s.labels(&[("node", n.addr.as_str()), ("role", n.role)]))?
                    .encode_gauge(&get(&n.stats))?;
            }
        }
    }
    // Nodes never connected to yet (connections open on first use; with
    // `read_from = master` replicas never are) have no `up` sample rather
    // than a misleading 0.
    let mut m = enc.encode_descriptor(
        "backend_up",
        "1 when the last connect to the node succeeded, 0 when it failed.",
        None,
        MetricType::Gauge,
    )?;
    for s in all {
        for n in s.nodes.iter().filter(|n| n.stats.health != Health::Unknown) {
            m.encode_family(&s.labels(&[("node", n.addr.as_str()), ("role", n.role)]))?
                .encode_gauge(&u64::from(n.stats.health == Health::Up))?;
        }
    }
    let mut m = enc.encode_descriptor(
        "backend_connect_failures",
        "Failed connects to the node.",
        None,
        MetricType::Counter,
    )?;
    for s in all {
        for n in &s.nodes {
            counter(
                &mut m,
                &s.labels(&[("node", n.addr.as_str()), ("role", n.role)]),
                n.stats.connect_failures,
            )?;
        }
    }
    Ok(())
}

/// The `pool_server_*` series (pool mode only).
fn encode_servers(all: &[Scrape], enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    if all.iter().all(|s| s.servers.is_empty()) {
        return Ok(());
    }
    type Get = fn(&ServerRow) -> u64;
    let counters: [(&str, &str, Get); 3] = [
        (
            "pool_server_requests",
            "Requests sent to the pool's server.",
            |r| r.requests,
        ),
        (
            "pool_server_errors",
            "Connect or I/O errors with the pool's server.",
            |r| r.errors,
        ),
        (
            "pool_server_timeouts",
            "Connections to the pool's server closed because it stopped answering.",
            |r| r.timeouts,
        ),
    ];
    for (name, help, get) in counters {
        let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
        for s in all {
            for r in &s.servers {
                counter(&mut m, &s.labels(&[("server", r.name.as_str())]), get(r))?;
            }
        }
    }
    let gauges: [(&str, &str, Get); 2] = [
        (
            "pool_server_connections",
            "Connections to the pool's server open now.",
            |r| r.connections,
        ),
        (
            "pool_server_ejected",
            "1 while the server is out of the pool's key placement.",
            |r| u64::from(r.ejected),
        ),
    ];
    for (name, help, get) in gauges {
        let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
        for s in all {
            for r in &s.servers {
                gauge_sample(&mut m, &s.labels(&[("server", r.name.as_str())]), &get(r))?;
            }
        }
    }
    Ok(())
}
