//! The admin HTTP API against a real cluster: every endpoint's JSON checked
//! against the cluster it describes (and through a failover), the OpenAPI
//! description served route for route, no secret in any body, slot
//! migrations in the topology, and the binary's `--admin` and
//! `--log-format json`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::admin::{
    Admin, end_migration, http, http_with, parse_metrics, start_cluster, start_migration,
    wait_migrations,
};
use common::{is_ok, text};
use serde_json::Value as Json;
use slotway_core::Config;
use slotway_resp::Value;

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
    // In-process, without a configuration file: nothing to read again.
    assert_eq!(reload.status, 501, "{}", reload.body);
    assert!(reload.body.contains("cannot reload"), "{}", reload.body);
    // No pool in cluster mode.
    assert_eq!(admin.json("/api/v1/pools")["pools"], serde_json::json!([]));
    let eject = http(admin.admin, "POST", "/api/v1/pools/p/servers/s/eject");
    assert_eq!(eject.status, 404, "{}", eject.body);
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
    // No cluster needed: every documented operation is routed (not 405,
    // not the fallback's 404; a pool action on a cluster is a routed 404).
    let admin = Admin::start(&["127.0.0.1:1".to_owned()], |_| {});
    let served: Json = admin.json("/api/v1/openapi.json");
    assert_eq!(served["openapi"], "3.0.3");
    let documented = slotway_core::admin::openapi::documented().unwrap();
    assert_eq!(documented.len(), slotway_core::admin::routes::ROUTES.len());
    for (method, path) in documented {
        let r = http(admin.admin, &method.to_ascii_uppercase(), &path);
        assert!(
            r.status != 405 && !r.body.contains("no such endpoint"),
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

/// The binary as an operator runs it: `--admin` serves the API (probes
/// answer before any cluster is reachable) and `--log-format json` writes
/// one JSON object per line with stable fields.
#[test]
fn binary_serves_admin_and_logs_json() {
    use std::process::{Command, Stdio};
    let (port, admin_port) = (slotway_fixture::free_port(), slotway_fixture::free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_slotway"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--admin", &format!("127.0.0.1:{admin_port}")])
        .args(["--cluster", "127.0.0.1:1", "--log-format", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let admin: SocketAddr = format!("127.0.0.1:{admin_port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(admin).is_err() {
        assert!(Instant::now() < deadline, "the admin API never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(http(admin, "GET", "/health").status, 200);
    assert_eq!(http(admin, "GET", "/ready").status, 503);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("slotway did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let events: Vec<Json> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for e in &events {
        for field in ["timestamp", "level", "target", "message"] {
            assert!(e.get(field).is_some(), "{field} missing: {e}");
        }
    }
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "admin_listening"
                && e["addr"] == format!("127.0.0.1:{admin_port}")),
        "{log}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "topology_refresh_failed"),
        "{log}"
    );
}

/// A master killed: the admin API shows it down, then its replica promoted
/// (a new table version), and the metrics say the same.
#[test]
fn failover_shows_in_topology_and_metrics() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let mut cluster = slotway_fixture::Cluster::builder()
        .masters(3)
        .replicas(1)
        .node_timeout_ms(1000)
        .start()
        .expect("cluster");
    let admin = Admin::start(&cluster.seeds(), |c| c.cluster.park_timeout_ms = 500);
    admin.wait_ready();
    let map = cluster.slots().unwrap();
    let victim = map[0].clone();
    let replica = victim.replicas[0].clone();
    let mut c = admin.client();
    let key = common::key_in_range("fo", victim.start, victim.end);
    assert!(is_ok(&c.cmd(&["SET", &key, "v"])));
    let version = admin.json("/api/v1/topology")["version"].as_u64().unwrap();

    let i = cluster.index_of(&victim.master).unwrap();
    cluster.node_mut(i).kill();
    let node = |topo: &Json, addr: &str| {
        topo["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["address"] == addr)
            .cloned()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut saw_down = false;
    loop {
        // Requests for the dead master's slots make the proxy try it.
        let _ = c.cmd(&["GET", &key]);
        let topo = admin.json("/api/v1/topology");
        if node(&topo, &victim.master).is_some_and(|n| n["health"] == "down") {
            saw_down = true;
        }
        if node(&topo, &replica).is_some_and(|n| n["role"] == "master") {
            assert!(topo["version"].as_u64().unwrap() > version, "{topo}");
            assert_eq!(topo["covered_slots"], 16384, "{topo}");
            let promoted = node(&topo, &replica).unwrap();
            assert_eq!(promoted["slots"][0][0], victim.start, "{promoted}");
            break;
        }
        assert!(Instant::now() < deadline, "no promotion seen: {topo}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(saw_down, "the dead master was never shown down");
    let metrics = parse_metrics(&admin.get("/metrics").body);
    let failures = format!(
        r#"slotway_backend_connect_failures_total{{node="{}",role="master"}}"#,
        replica
    );
    // The promoted replica is a master now; the dead node left the table.
    assert!(metrics.contains_key(&failures), "{failures}");
    assert!(!metrics.keys().any(|k| k.contains(&victim.master)));
    assert!(metrics[r#"slotway_retries_total"#] >= 1.0);
}

/// A slot set MIGRATING on its master and IMPORTING on another shows in
/// `GET /api/v1/topology` as one move seen both ways after a refresh, and
/// is gone after `SETSLOT STABLE` and the next refresh.
#[test]
fn slot_migrations_show_in_topology() {
    let cluster = start_cluster(3, 0);
    let admin = Admin::start(&cluster.seeds(), |_| {});
    admin.wait_ready();
    assert_eq!(
        admin.json("/api/v1/topology")["migrations"],
        serde_json::json!([])
    );
    let map = cluster.slots().unwrap();
    let (src, dst) = (map[0].master.clone(), map[1].master.clone());
    let slot = map[0].start + 7;
    start_migration(&cluster, slot, &src, &dst);
    let list = wait_migrations(&admin, 1);
    assert_eq!(
        list[0],
        serde_json::json!({
            "slot": slot,
            "from": src,
            "to": dst,
            "seen_as": ["migrating", "importing"],
        })
    );
    // The slot is still served by its owner meanwhile.
    assert_eq!(admin.json("/api/v1/topology")["covered_slots"], 16384);

    end_migration(&cluster, slot, &src, &dst);
    assert!(wait_migrations(&admin, 0).is_empty());
}

#[test]
fn admin_token_guards_everything_but_the_probes() {
    let cluster = start_cluster(3, 0);
    let token = "t0ken-very-secret";
    let admin = Admin::start(&cluster.seeds(), |c| c.admin.token = token.to_owned());
    let bearer = format!("Authorization: Bearer {token}\r\n");
    for path in [
        "/api/v1/status",
        "/metrics",
        "/api/v1/config",
        "/api/v1/events",
        "/api/v1/openapi.json",
    ] {
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
    // The dashboard page loads without the token (it holds no data; its
    // script asks for the token) and may not be framed or cached.
    let page = http(admin.admin, "GET", "/");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("token-input"), "no token form");
    assert!(!page.body.contains(token));
    for header in [
        "x-frame-options: deny",
        "cache-control: no-store",
        "content-security-policy: default-src 'none'",
    ] {
        assert!(page.headers.contains(header), "{header}: {}", page.headers);
    }
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
