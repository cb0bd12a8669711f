//! A proxy and its admin API in-process (both on port 0, one engine), a
//! bare HTTP/1.0 client, and a Prometheus text parser that checks every
//! line: support for the admin and observability tests.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use slotway_core::{Config, Engine};

use super::Raw;

/// A proxy and its admin API, both on port 0, sharing one engine.
pub struct Admin {
    pub proxy: SocketAddr,
    pub admin: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Admin {
    pub fn start(seeds: &[String], tweak: impl FnOnce(&mut Config)) -> Admin {
        let mut config = Config::default();
        config.cluster.seeds = seeds.to_vec();
        config.proxy.threads = 2;
        tweak(&mut config);
        let settings = config.validate().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx
                    .send((proxy.local_addr().unwrap(), admin.local_addr().unwrap()))
                    .unwrap();
                let engine = Engine::new(settings);
                let stop = tokio_util::sync::CancellationToken::new();
                let admin_task = tokio::spawn(slotway_core::admin::run(
                    admin,
                    engine.clone(),
                    stop.clone().cancelled_owned(),
                ));
                slotway_core::serve(proxy, engine, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
                stop.cancel();
                admin_task.await.unwrap().unwrap();
            });
        });
        let (proxy, admin) = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Admin {
            proxy,
            admin,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn client(&self) -> Raw {
        Raw::connect(self.proxy)
    }

    pub fn get(&self, path: &str) -> Response {
        http(self.admin, "GET", path)
    }

    pub fn json(&self, path: &str) -> Json {
        let r = self.get(path);
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("GET {path}: {e}: {}", r.body))
    }

    /// Waits until /ready says yes (topology known, every slot covered).
    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = self.get("/ready");
            if r.status == 200 {
                return;
            }
            assert_eq!(r.status, 503, "{}", r.body);
            assert!(Instant::now() < deadline, "never ready: {}", r.body);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Admin {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

/// One HTTP/1.0 exchange (the server closes after the body).
pub fn http(addr: SocketAddr, method: &str, path: &str) -> Response {
    http_with(addr, method, path, "")
}

/// `GET path` with extra `headers`: must answer 200 with JSON.
pub fn get_json(addr: SocketAddr, path: &str, headers: &str) -> Json {
    let r = http_with(addr, "GET", path, headers);
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("GET {path}: {e}: {}", r.body))
}

/// `POST path` with extra `headers`: the status and the JSON body.
pub fn post_json(addr: SocketAddr, path: &str, headers: &str) -> (u16, Json) {
    let r = http_with(addr, "POST", path, headers);
    let body =
        serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("POST {path}: {e}: {}", r.body));
    (r.status, body)
}

/// [`http`] with extra header lines (each ending in `\r\n`).
pub fn http_with(addr: SocketAddr, method: &str, path: &str, headers: &str) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\n{headers}Content-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a complete response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    Response {
        status,
        headers: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

/// Parses Prometheus/OpenMetrics text: every sample line must be
/// `name{labels} value`; returns the samples by `name{labels}`.
pub fn parse_metrics(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    let mut eof = false;
    for line in text.lines() {
        assert!(!eof, "text after # EOF: {line}");
        if line == "# EOF" {
            eof = true;
            continue;
        }
        if let Some(meta) = line.strip_prefix("# ") {
            let kind = meta.split_whitespace().next().unwrap();
            assert!(
                ["HELP", "TYPE", "UNIT"].contains(&kind),
                "bad comment: {line}"
            );
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line: {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
        };
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            name.starts_with("slotway_")
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad metric name: {line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "bad labels: {line}");
        }
        samples.insert(series.to_owned(), value);
    }
    assert!(eof, "no # EOF at the end");
    samples
}

pub fn start_cluster(masters: usize, replicas: usize) -> slotway_fixture::Cluster {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    slotway_fixture::Cluster::start(masters, replicas).expect("cluster")
}

/// `CLUSTER SETSLOT slot ARGS…` on the node of `cluster` at `addr`, which
/// must answer OK.
pub fn setslot(cluster: &slotway_fixture::Cluster, addr: &str, slot: u16, args: &[&str]) {
    let node = cluster
        .nodes()
        .get(cluster.index_of(addr).unwrap())
        .unwrap();
    let slot = slot.to_string();
    let mut all = vec!["CLUSTER", "SETSLOT", slot.as_str()];
    all.extend_from_slice(args);
    assert_eq!(node.cmd(&all).unwrap(), "OK", "{all:?} on {addr}");
}

/// Starts moving `slot` from master `src` to master `dst` as a resharding
/// does: IMPORTING on the target, then MIGRATING on the source.
pub fn start_migration(cluster: &slotway_fixture::Cluster, slot: u16, src: &str, dst: &str) {
    let id = |addr: &str| {
        let i = cluster.index_of(addr).unwrap();
        cluster
            .nodes()
            .get(i)
            .unwrap()
            .cmd(&["CLUSTER", "MYID"])
            .unwrap()
    };
    setslot(cluster, dst, slot, &["IMPORTING", &id(src)]);
    setslot(cluster, src, slot, &["MIGRATING", &id(dst)]);
}

/// Calls the move of `slot` off: STABLE on both masters.
pub fn end_migration(cluster: &slotway_fixture::Cluster, slot: u16, src: &str, dst: &str) {
    setslot(cluster, src, slot, &["STABLE"]);
    setslot(cluster, dst, slot, &["STABLE"]);
}

/// Refreshes (bounded) until `GET /api/v1/topology` lists `want` slot
/// migrations, each seen both ways (a slow node may miss the gather window
/// of one refresh); returns them.
pub fn wait_migrations(admin: &Admin, want: usize) -> Vec<Json> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = http(admin.admin, "POST", "/api/v1/topology/refresh");
        assert!(r.status == 200 || r.status == 202, "{}", r.body);
        let topo = admin.json("/api/v1/topology");
        let list = topo
            .get("migrations")
            .and_then(Json::as_array)
            .unwrap()
            .clone();
        let both = list.iter().all(|m| {
            m.get("seen_as")
                .and_then(Json::as_array)
                .is_some_and(|s| s.len() == 2)
        });
        if list.len() == want && both {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "{want} migrations never shown: {topo}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
