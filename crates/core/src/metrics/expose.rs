//! The Prometheus (OpenMetrics) text of `/metrics`, built at scrape time from
//! snapshots of the proxy's counters, its topology and client registry.
//!
//! Names follow Prometheus conventions (`slotway_` prefix, base units,
//! `_total` on counters, added by the encoder). Every label set is bounded:
//! `command` by the command table, `class` and `kind` by fixed lists, `node`
//! by the nodes of the current topology.

use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet, text};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::Count;
use super::RedirectKind;
use super::backend::{self, Health, NodeSnapshot};
use super::commands::{Class, CommandSnapshot};
use super::histogram::HistogramSnapshot;
use crate::engine::Engine;

/// The content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// One node of the topology as exposed.
#[derive(Debug)]
struct NodeRow {
    addr: String,
    role: &'static str,
    stats: NodeSnapshot,
}

/// Everything one scrape shows, copied out of the live state.
#[derive(Debug)]
struct Scrape {
    uptime_seconds: f64,
    commands: Vec<CommandSnapshot>,
    latency: Vec<(&'static str, HistogramSnapshot)>,
    clients: u64,
    counters: Vec<(&'static str, &'static str, u64)>,
    redirects: Vec<(&'static str, u64)>,
    nodes: Vec<NodeRow>,
    gauges: Vec<(&'static str, &'static str, i64)>,
}

/// The metrics text of `engine`.
#[must_use]
pub fn render(engine: &Engine) -> String {
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
    let scrape = Scrape {
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
    let mut registry = Registry::with_prefix("slotway");
    registry.register_collector(Box::new(scrape));
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = text::encode(&mut out, &registry);
    out
}

impl prometheus_client::collector::Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut info =
            enc.encode_descriptor("build", "Slotway version.", None, MetricType::Info)?;
        info.encode_info(&[("version", env!("CARGO_PKG_VERSION"))])?;
        gauge_f64(
            &mut enc,
            "uptime_seconds",
            "Seconds since the proxy started.",
            self.uptime_seconds,
        )?;
        let mut m = enc.encode_descriptor(
            "commands",
            "Requests answered, by command (end to end through the proxy).",
            None,
            MetricType::Counter,
        )?;
        for c in &self.commands {
            m.encode_family(&[("command", c.name)])?
                .encode_counter::<NoLabelSet, _, u64>(&c.calls, None)?;
        }
        let mut m = enc.encode_descriptor(
            "command_errors",
            "Requests answered with an error, by command.",
            None,
            MetricType::Counter,
        )?;
        for c in &self.commands {
            m.encode_family(&[("command", c.name)])?
                .encode_counter::<NoLabelSet, _, u64>(&c.failed, None)?;
        }
        let mut m = enc.encode_descriptor(
            "command_duration_seconds",
            "End-to-end time of requests through the proxy, by command class.",
            None,
            MetricType::Histogram,
        )?;
        for (class, h) in &self.latency {
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
            m.encode_family(&[("class", *class)])?
                .encode_histogram::<NoLabelSet>(h.sum_seconds, h.count, &own, None)?;
        }
        let mut m = enc.encode_descriptor(
            "connected_clients",
            "Client connections open now.",
            None,
            MetricType::Gauge,
        )?;
        m.encode_gauge(&self.clients)?;
        for (name, help, v) in &self.counters {
            enc.encode_descriptor(name, help, None, MetricType::Counter)?
                .encode_counter::<NoLabelSet, _, u64>(v, None)?;
        }
        let mut m = enc.encode_descriptor(
            "redirects",
            "Redirects followed for clients, by kind (moved, ask, tryagain).",
            None,
            MetricType::Counter,
        )?;
        for (kind, v) in &self.redirects {
            m.encode_family(&[("kind", *kind)])?
                .encode_counter::<NoLabelSet, _, u64>(v, None)?;
        }
        self.encode_nodes(&mut enc)?;
        for (name, help, v) in &self.gauges {
            enc.encode_descriptor(name, help, None, MetricType::Gauge)?
                .encode_gauge(v)?;
        }
        Ok(())
    }
}

impl Scrape {
    fn encode_nodes(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
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
            for n in &self.nodes {
                m.encode_family(&[("node", n.addr.as_str()), ("role", n.role)])?
                    .encode_gauge(&get(&n.stats))?;
            }
        }
        // Nodes never connected to yet (connections open on first use; with
        // `read_from = master` replicas never are) have no `up` sample
        // rather than a misleading 0.
        let mut m = enc.encode_descriptor(
            "backend_up",
            "1 when the last connect to the node succeeded, 0 when it failed.",
            None,
            MetricType::Gauge,
        )?;
        for n in self
            .nodes
            .iter()
            .filter(|n| n.stats.health != Health::Unknown)
        {
            m.encode_family(&[("node", n.addr.as_str()), ("role", n.role)])?
                .encode_gauge(&u64::from(n.stats.health == Health::Up))?;
        }
        let mut m = enc.encode_descriptor(
            "backend_connect_failures",
            "Failed connects to the node.",
            None,
            MetricType::Counter,
        )?;
        for n in &self.nodes {
            m.encode_family(&[("node", n.addr.as_str()), ("role", n.role)])?
                .encode_counter::<NoLabelSet, _, u64>(&n.stats.connect_failures, None)?;
        }
        Ok(())
    }
}

fn gauge_f64(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: f64,
) -> Result<(), std::fmt::Error> {
    enc.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&v)
}
