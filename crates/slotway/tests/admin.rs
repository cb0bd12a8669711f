//! The admin HTTP API and the proxy's own metrics and slow log, against a
//! real cluster: every endpoint's JSON checked against the cluster it
//! describes, `/metrics` parsed as Prometheus text with counters that move,
//! the OpenAPI description served route for route, SLOWLOG in Redis's exact
//! format (compared with a real node's), and no secret in any body.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{Raw, is_ok, master_ranges, text};
use serde_json::Value as Json;
use slotway_core::{Config, Engine};
use slotway_resp::Value;

/// A proxy and its admin API, both on port 0, sharing one engine.
struct Admin {
    proxy: SocketAddr,
    admin: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Admin {
    fn start(seeds: &[String], tweak: impl FnOnce(&mut Config)) -> Admin {
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

    fn client(&self) -> Raw {
        Raw::connect(self.proxy)
    }

    fn get(&self, path: &str) -> Response {
        http(self.admin, "GET", path)
    }

    fn json(&self, path: &str) -> Json {
        let r = self.get(path);
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("GET {path}: {e}: {}", r.body))
    }

    /// Waits until /ready says yes (topology known, every slot covered).
    fn wait_ready(&self) {
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

struct Response {
    status: u16,
    headers: String,
    body: String,
}

/// One HTTP/1.0 exchange (the server closes after the body).
fn http(addr: SocketAddr, method: &str, path: &str) -> Response {
    http_with(addr, method, path, "")
}

/// [`http`] with extra header lines (each ending in `\r\n`).
fn http_with(addr: SocketAddr, method: &str, path: &str, headers: &str) -> Response {
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
fn parse_metrics(text: &str) -> HashMap<String, f64> {
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

fn start_cluster(masters: usize, replicas: usize) -> slotway_fixture::Cluster {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    slotway_fixture::Cluster::start(masters, replicas).expect("cluster")
}

#[test]
fn endpoints_describe_the_real_cluster() {
    let cluster = start_cluster(3, 1);
    let admin = Admin::start(&cluster.seeds(), |_| {});
    // Liveness does not depend on the cluster.
    let health = admin.get("/health");
    assert_eq!(
        (health.status, health.body.as_str()),
        (200, r#"{"status":"ok"}"#)
    );
    admin.wait_ready();
    let ready = admin.json("/ready");
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["covered_slots"], 16384);

    let mut c = admin.client();
    assert!(is_ok(&c.cmd(&["CLIENT", "SETNAME", "admin-test"])));
    for i in 0..20 {
        assert!(is_ok(&c.cmd(&["SET", &format!("k{i}"), "v"])));
    }

    // Topology: the real masters, their slot ranges, their replicas.
    let topo = admin.json("/api/v1/topology");
    assert_eq!(topo["ready"], true);
    assert!(topo["version"].as_u64().unwrap() >= 1);
    let map = cluster.slots().unwrap();
    let nodes = topo["nodes"].as_array().unwrap();
    let masters: Vec<&Json> = nodes.iter().filter(|n| n["role"] == "master").collect();
    assert_eq!(masters.len(), 3, "{topo}");
    let expected: HashMap<String, Vec<(u16, u16)>> =
        map.iter().fold(HashMap::new(), |mut acc, r| {
            acc.entry(r.master.clone())
                .or_default()
                .push((r.start, r.end));
            acc
        });
    for m in &masters {
        let addr = m["address"].as_str().unwrap();
        let slots: Vec<(u16, u16)> = m["slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r[0].as_u64().unwrap() as u16, r[1].as_u64().unwrap() as u16))
            .collect();
        assert_eq!(Some(&slots), expected.get(addr), "{m}");
        let replicas: Vec<String> = serde_json::from_value(m["replicas"].clone()).unwrap();
        let want = map.iter().find(|r| r.master == addr).unwrap();
        let mut got = replicas.clone();
        got.sort();
        assert_eq!(got, want.replicas, "{m}");
        // Every master served the SETs above.
        assert_eq!(m["health"], "up", "{m}");
        assert!(m["connections"].as_u64().unwrap() >= 1, "{m}");
    }
    let replicas: Vec<&Json> = nodes.iter().filter(|n| n["role"] == "replica").collect();
    assert_eq!(replicas.len(), 3, "{topo}");
    for r in replicas {
        let master = r["master"].as_str().unwrap();
        assert!(expected.contains_key(master), "{r}");
    }

    // Status and clients: this client, by name and address.
    let status = admin.json("/api/v1/status");
    assert_eq!(status["mode"], "cluster");
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(status["listen"], admin.proxy.to_string());
    assert!(status["clients"]["connected"].as_u64().unwrap() >= 1);
    assert!(status["requests"]["total"].as_u64().unwrap() >= 21);
    let clients = admin.json("/api/v1/clients");
    let me = clients["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "admin-test")
        .unwrap_or_else(|| panic!("{clients}"));
    assert_eq!(
        me["addr"],
        c.stream.local_addr().unwrap().to_string(),
        "{me}"
    );

    // Per-command statistics move with traffic.
    let calls = |stats: &Json, name: &str| {
        stats["commands"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["command"] == name)
            .map_or(0, |x| x["calls"].as_u64().unwrap())
    };
    let before = calls(&admin.json("/api/v1/stats/commands"), "get");
    for i in 0..100 {
        c.cmd(&["GET", &format!("k{i}")]);
    }
    let stats = admin.json("/api/v1/stats/commands");
    assert_eq!(calls(&stats, "get") - before, 100, "{stats}");
    assert!(calls(&stats, "client|setname") >= 1, "{stats}");
    assert!(stats["latency"]["read"]["count"].as_u64().unwrap() >= 100);

    let backends = admin.json("/api/v1/stats/backends");
    assert_eq!(backends["nodes"].as_array().unwrap().len(), 6, "{backends}");

    let config = admin.json("/api/v1/config");
    assert_eq!(
        config["cluster"]["seeds"],
        serde_json::json!(cluster.seeds())
    );
    assert_eq!(config["proxy"]["requirepass"], Json::Null);

    // Actions.
    let refreshed = http(admin.admin, "POST", "/api/v1/topology/refresh");
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let body: Json = serde_json::from_str(&refreshed.body).unwrap();
    assert_eq!(body["refreshed"], true);
    assert_eq!(body["covered_slots"], 16384);
    assert!(
        admin.json("/api/v1/topology")["refreshes"]["ok"]
            .as_u64()
            .unwrap()
            >= 2
    );
    let reload = http(admin.admin, "POST", "/api/v1/config/reload");
    assert_eq!(reload.status, 501, "{}", reload.body);
    assert!(reload.body.contains("not implemented"), "{}", reload.body);
    assert_eq!(admin.get("/nope").status, 404);
    let page = admin.get("/");
    assert_eq!(page.status, 200);
    assert!(
        page.headers.contains("content-type: text/html"),
        "{}",
        page.headers
    );
    assert!(page.body.contains("<title>Slotway</title>"));
}

#[test]
fn openapi_description_is_served_route_for_route() {
    // No cluster needed: every documented operation answers (not 404/405).
    let admin = Admin::start(&["127.0.0.1:1".to_owned()], |_| {});
    let served: Json = admin.json("/api/v1/openapi.json");
    assert_eq!(served["openapi"], "3.0.3");
    let documented = slotway_core::admin::openapi::documented().unwrap();
    assert_eq!(documented.len(), slotway_core::admin::routes::ROUTES.len());
    for (method, path) in documented {
        let r = http(admin.admin, &method.to_ascii_uppercase(), &path);
        assert!(
            ![404, 405].contains(&r.status),
            "{method} {path}: {} {}",
            r.status,
            r.body
        );
    }
    // Not ready without a cluster, and it says why.
    let r = admin.get("/ready");
    assert_eq!(r.status, 503);
    let body: Json = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["ready"], false);
    assert_eq!(body["topology_known"], false);
}

#[test]
fn metrics_are_prometheus_text_and_counters_move() {
    let cluster = start_cluster(3, 0);
    let admin = Admin::start(&cluster.seeds(), |_| {});
    admin.wait_ready();
    let r = admin.get("/metrics");
    assert_eq!(r.status, 200);
    assert!(
        r.headers
            .contains("content-type: application/openmetrics-text"),
        "{}",
        r.headers
    );
    let before = parse_metrics(&r.body);
    let get = r#"slotway_commands_total{command="get"}"#;
    let mut c = admin.client();
    for i in 0..100 {
        c.cmd(&["GET", &format!("m{i}")]);
    }
    assert!(text(&c.cmd(&["NOSUCHCOMMAND"])).starts_with("ERR unknown command"));
    let after = parse_metrics(&admin.get("/metrics").body);
    assert_eq!(after[get] - before.get(get).copied().unwrap_or(0.0), 100.0);
    assert_eq!(
        after[r#"slotway_command_errors_total{command="unknown"}"#],
        1.0
    );
    let reads = r#"slotway_command_duration_seconds_count{class="read"}"#;
    assert!(after[reads] - before.get(reads).copied().unwrap_or(0.0) >= 100.0);
    assert_eq!(
        after[r#"slotway_command_duration_seconds_bucket{le="+Inf",class="read"}"#],
        after[reads]
    );
    assert!(after["slotway_connected_clients"] >= 1.0);
    assert!(after["slotway_client_connections_total"] >= 1.0);
    assert!(
        after["slotway_client_received_bytes_total"]
            > before["slotway_client_received_bytes_total"]
    );
    assert_eq!(after["slotway_topology_slots_covered"], 16384.0);
    assert_eq!(after["slotway_topology_masters"], 3.0);
    assert!(after["slotway_topology_refreshes_total"] >= 1.0);
    for (_, _, master) in master_ranges(&cluster) {
        let key = format!(r#"slotway_backend_connections{{node="{master}",role="master"}}"#);
        assert!(after[&key] >= 1.0, "{key}");
        let up = format!(r#"slotway_backend_up{{node="{master}",role="master"}}"#);
        assert_eq!(after[&up], 1.0, "{up}");
    }
    assert!(after.contains_key(r#"slotway_redirects_total{kind="moved"}"#));
    // Every metric the Grafana dashboard queries is exposed.
    let dashboard = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana-slotway.json"),
    )
    .unwrap();
    let exposed: Vec<&str> = after.keys().map(|k| k.split('{').next().unwrap()).collect();
    let mut checked = 0;
    for (i, _) in dashboard.match_indices("slotway_") {
        let name: String = dashboard[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name == "slotway_" || name.starts_with("slotway_proxy") {
            continue;
        }
        assert!(
            exposed.contains(&name.as_str()),
            "the dashboard queries {name}, which is not exposed"
        );
        checked += 1;
    }
    assert!(checked > 10, "{checked}");
}

/// The proxy's SLOWLOG entry for a command next to a real node's entry for
/// the same command: same shape, same trimmed arguments.
#[test]
fn slowlog_matches_redis_format() {
    let cluster = start_cluster(3, 0);
    let admin = Admin::start(&cluster.seeds(), |c| {
        c.proxy.slowlog_log_slower_than = 0;
        c.proxy.slowlog_max_len = 5;
    });
    admin.wait_ready();
    let (lo, hi, master) = master_ranges(&cluster).remove(0);
    let key = common::key_in_range("slow", lo, hi);
    let long = "x".repeat(200);
    let mut cmd: Vec<String> = vec!["RPUSH".into(), key.clone(), long];
    cmd.extend((0..40).map(|i| format!("v{i}")));

    let mut node = Raw::connect(master.as_str());
    assert!(is_ok(&node.cmd(&[
        "CONFIG",
        "SET",
        "slowlog-log-slower-than",
        "0"
    ])));
    assert!(is_ok(&node.cmd(&["CLIENT", "SETNAME", "slow-client"])));
    node.cmd(&["SLOWLOG", "RESET"]);
    node.cmd(&cmd);
    let from_node = node.cmd(&["SLOWLOG", "GET", "1"]);
    node.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "10000"]);

    let mut c = admin.client();
    assert!(is_ok(&c.cmd(&["CLIENT", "SETNAME", "slow-client"])));
    assert!(is_ok(&c.cmd(&["SLOWLOG", "RESET"])));
    c.cmd(&cmd);
    let from_proxy = c.cmd(&["SLOWLOG", "GET", "1"]);
    let (Value::Array(n), Value::Array(p)) = (&from_node, &from_proxy) else {
        panic!("{from_node:?} {from_proxy:?}");
    };
    let (Value::Array(n), Value::Array(p)) = (&n[0], &p[0]) else {
        panic!("{from_node:?} {from_proxy:?}");
    };
    assert_eq!(p.len(), 6);
    assert!(matches!(p[0], Value::Integer(_)));
    let Value::Integer(ts) = p[1] else { panic!() };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - ts).abs() < 60, "{ts}");
    assert!(matches!(p[2], Value::Integer(d) if d >= 0));
    // The arguments, trimmed exactly as the node trims them.
    assert_eq!(p[3], n[3]);
    let Value::Array(args) = &p[3] else { panic!() };
    assert_eq!(args.len(), 32);
    assert_eq!(text(&args[31]), "... (12 more arguments)");
    assert!(text(&args[2]).ends_with("... (72 more bytes)"));
    assert_eq!(text(&p[4]), c.stream.local_addr().unwrap().to_string());
    assert_eq!(p[5], n[5]);

    // LEN, GET -1, RESET and errors as Redis answers them.
    let mut node = Raw::connect(master.as_str());
    for args in [
        &["SLOWLOG", "GET", "-2"][..],
        &["SLOWLOG", "GET", "x"],
        &["SLOWLOG", "GET", "1", "2"],
        &["SLOWLOG", "LEN", "1"],
        &["SLOWLOG", "RESET", "1"],
    ] {
        assert_eq!(c.cmd(args), node.cmd(args), "{args:?}");
    }
    assert_eq!(c.cmd(&["SLOWLOG", "LEN"]), Value::Integer(5));
    let Value::Array(all) = c.cmd(&["SLOWLOG", "GET", "-1"]) else {
        panic!()
    };
    assert_eq!(all.len(), 5);
    assert!(is_ok(&c.cmd(&["SLOWLOG", "RESET"])));
    // RESET itself is logged once it is answered, as in Redis.
    assert_eq!(c.cmd(&["SLOWLOG", "LEN"]), Value::Integer(1));
    // The JSON view shows the same log.
    let log = admin.json("/api/v1/slowlog");
    assert_eq!(log["log_slower_than_us"], 0);
    assert!(!log["entries"].as_array().unwrap().is_empty());
}

#[test]
fn secrets_never_appear_in_any_endpoint() {
    const SECRET: &str = "s3cr3t-admin-pass-4417";
    let cluster = start_cluster(3, 0);
    let admin = Admin::start(&cluster.seeds(), |c| {
        c.proxy.requirepass = SECRET.to_owned();
        c.proxy.slowlog_log_slower_than = 0;
    });
    admin.wait_ready();
    let mut c = admin.client();
    assert!(is_ok(&c.cmd(&["AUTH", SECRET])));
    assert!(matches!(
        c.cmd(&["HELLO", "2", "AUTH", "default", SECRET]),
        Value::Array(_) | Value::Map(_)
    ));
    assert!(text(&c.cmd(&["AUTH", "wrong"])).starts_with("WRONGPASS"));
    c.cmd(&["GET", "k"]);
    let Value::Array(log) = c.cmd(&["SLOWLOG", "GET", "-1"]) else {
        panic!()
    };
    assert!(!format!("{log:?}").contains(SECRET));
    assert!(format!("{log:?}").contains("(redacted)"));
    let config = admin.json("/api/v1/config");
    assert_eq!(config["proxy"]["requirepass"], "<redacted>");
    for (method, path) in slotway_core::admin::openapi::documented().unwrap() {
        let r = http(admin.admin, &method.to_ascii_uppercase(), &path);
        assert!(!r.body.contains(SECRET), "{method} {path} shows the secret");
        assert!(
            !r.headers.contains(SECRET),
            "{method} {path} shows the secret"
        );
    }
}

/// Outcomes are counted per request even when a pipeline mixes forwarded
/// requests with errors the proxy answers itself (queued behind them).
#[test]
fn pipelined_errors_are_counted_per_command() {
    let cluster = start_cluster(3, 0);
    let admin = Admin::start(&cluster.seeds(), |_| {});
    admin.wait_ready();
    let mut c = admin.client();
    let mut pipeline = Vec::new();
    for i in 0..50 {
        for args in [
            vec!["GET".to_owned(), format!("p{i}")],
            vec!["NOSUCH".to_owned()],
            vec!["SET".to_owned(), format!("p{i}"), "v".to_owned()],
            vec!["GET".to_owned()],
            vec!["LPUSH".to_owned(), format!("p{i}"), "x".to_owned()],
        ] {
            let mut out = bytes::BytesMut::new();
            slotway_resp::encode::command(&mut out, &args);
            pipeline.extend_from_slice(&out);
        }
    }
    c.send(&pipeline);
    for i in 0..50 {
        assert!(matches!(c.read(), Value::Null | Value::Bulk(_)), "{i}");
        assert!(text(&c.read()).starts_with("ERR unknown command"));
        assert!(is_ok(&c.read()));
        assert!(text(&c.read()).starts_with("ERR wrong number of arguments"));
        assert!(text(&c.read()).starts_with("WRONGTYPE"));
    }
    let stats = admin.json("/api/v1/stats/commands");
    let row = |name: &str| {
        let r = stats["commands"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["command"] == name)
            .unwrap_or_else(|| panic!("{name}: {stats}"))
            .clone();
        (
            r["calls"].as_u64().unwrap(),
            r["failed_calls"].as_u64().unwrap(),
        )
    };
    assert_eq!(row("set"), (50, 0));
    assert_eq!(row("lpush"), (50, 50));
    assert_eq!(row("unknown"), (50, 50));
    assert_eq!(row("get"), (100, 50));
    // A blocking command is counted without its wait, and never slow-logged.
    let blocked = admin.get("/api/v1/stats/commands");
    assert!(!blocked.body.contains("blpop"));
    assert_eq!(c.cmd(&["BLPOP", "nothing-here", "0.2"]), Value::Null);
    let stats = admin.json("/api/v1/stats/commands");
    let blpop = stats["commands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["command"] == "blpop")
        .unwrap()
        .clone();
    assert_eq!(
        (blpop["calls"].as_u64(), blpop["usec"].as_u64()),
        (Some(1), Some(0))
    );
    // It waited 200 ms, over the default 10 ms threshold, yet is not logged.
    let log = c.cmd(&["SLOWLOG", "GET", "-1"]);
    assert!(
        !format!("{log:?}").to_lowercase().contains("blpop"),
        "{log:?}"
    );
}

#[test]
fn admin_token_guards_everything_but_the_probes() {
    let cluster = start_cluster(3, 0);
    let token = "t0ken-very-secret";
    let admin = Admin::start(&cluster.seeds(), |c| c.admin.token = token.to_owned());
    let bearer = format!("Authorization: Bearer {token}\r\n");
    for path in ["/api/v1/status", "/metrics", "/api/v1/config", "/"] {
        let r = http(admin.admin, "GET", path);
        assert_eq!(r.status, 401, "{path}: {}", r.body);
        assert!(
            r.headers.contains("www-authenticate: bearer"),
            "{}",
            r.headers
        );
        assert!(!r.body.contains(token));
        let wrong = http_with(admin.admin, "GET", path, "Authorization: Bearer t0ken\r\n");
        assert_eq!(wrong.status, 401, "{path}");
        let ok = http_with(admin.admin, "GET", path, &bearer);
        assert_eq!(ok.status, 200, "{path}: {}", ok.body);
        assert!(!ok.body.contains(token), "{path} shows the token");
    }
    assert_eq!(
        http(admin.admin, "POST", "/api/v1/topology/refresh").status,
        401
    );
    assert_eq!(http(admin.admin, "GET", "/health").status, 200);
    assert!(matches!(
        http(admin.admin, "GET", "/ready").status,
        200 | 503
    ));

    // Without a token the API may only listen on loopback.
    let mut config = Config::default();
    config.cluster.seeds = cluster.seeds();
    config.admin.listen = "0.0.0.0:0".to_owned();
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("admin.token"), "{err}");
    config.admin.allow_unauthenticated = true;
    assert!(config.validate().is_ok());
    config.admin.allow_unauthenticated = false;
    config.admin.token = token.to_owned();
    assert!(config.validate().is_ok());
}
