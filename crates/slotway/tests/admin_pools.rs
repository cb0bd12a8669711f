//! The admin API of a pool-mode process, the binary as an operator runs
//! it, against real redis-server processes:
//!
//! - `slotway --config x.toml --admin ADDR` with two `[pools.NAME]`: one
//!   listener shows both pools and their servers (up), and writes through
//!   the proxy move the servers' counters;
//! - an operator ejects a server (pool with `auto_eject_hosts`): new keys
//!   go to the other servers only, the event is in `/api/v1/events`; a
//!   restore puts it back at once; a pool without ejection answers 409;
//! - `POST /api/v1/config/reload` applies a changed file (in place, or by
//!   restarting a pool) and refuses an invalid one with 400, changing
//!   nothing;
//! - `/metrics` shows both pools under a `pool` label, and traffic to each
//!   moves that pool's counters (commands, its servers' requests);
//! - the events journal shows the pools a reload restarted, added and
//!   removed;
//! - the bearer token guards the GET and POST endpoints;
//! - `slotway nutcracker ... --admin ADDR` serves the same view;
//! - the engine views take `?pool=NAME`: each pool's own command stats,
//!   clients and status; an unknown pool is a 404, and a cluster refuses
//!   the parameter with 400;
//! - cluster mode: the reload validates the file and lists the settings
//!   that need a restart; an invalid file is refused with 400 (what it
//!   applies is tests/admin_reload.rs).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::admin::{get_json, http, http_with, parse_metrics, post_json};
use common::is_ok;
use serde_json::Value as Json;
use slotway_fixture::{RedisServer, free_port};

const BIN: &str = env!("CARGO_BIN_EXE_slotway");
const TOKEN: &str = "pools-admin-token-77";
const AUTH: &str = "Authorization: Bearer pools-admin-token-77\r\n";

fn toml(
    alpha: u16,
    beta: u16,
    servers: &[RedisServer],
    failure_limit: u32,
    beta_timeout: u32,
) -> String {
    format!(
        "[admin]\ntoken = \"{TOKEN}\"\n\n\
         [pools.alpha]\nlisten = \"127.0.0.1:{alpha}\"\nredis = true\nhash = \"fnv1a_64\"\n\
         distribution = \"ketama\"\nauto_eject_hosts = true\nserver_retry_timeout = 30000\n\
         server_failure_limit = {failure_limit}\n\
         servers = [\"{}:1 s0\", \"{}:1 s1\", \"{}:1 s2\"]\n\n\
         [pools.beta]\nlisten = \"127.0.0.1:{beta}\"\nredis = true\ntimeout = {beta_timeout}\n\
         servers = [\"{}:1\"]\n",
        servers[0].addr(),
        servers[1].addr(),
        servers[2].addr(),
        servers[0].addr(),
    )
}

fn get(admin: SocketAddr, path: &str) -> Json {
    get_json(admin, path, AUTH)
}

fn post(admin: SocketAddr, path: &str) -> (u16, Json) {
    post_json(admin, path, AUTH)
}

fn metrics(admin: SocketAddr) -> std::collections::HashMap<String, f64> {
    let r = http_with(admin, "GET", "/metrics", AUTH);
    assert_eq!(r.status, 200, "{}", r.body);
    parse_metrics(&r.body)
}

/// A sample's value, 0 when absent.
fn sample(m: &std::collections::HashMap<String, f64>, series: &str) -> f64 {
    m.get(series).copied().unwrap_or(0.0)
}

fn has_event(admin: SocketAddr, kind: &str, text: &str) -> bool {
    get(admin, "/api/v1/events")["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == kind && e["detail"].as_str().unwrap().contains(text))
}

fn pool<'a>(view: &'a Json, name: &str) -> &'a Json {
    view["pools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no pool {name} in {view}"))
}

fn server<'a>(pool: &'a Json, name: &str) -> &'a Json {
    pool["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no server {name} in {pool}"))
}

fn dbsize(s: &RedisServer) -> usize {
    s.cmd(&["DBSIZE"]).unwrap().trim().parse().unwrap()
}

fn wait_admin(admin: SocketAddr) {
    common::wait_listening(admin.port(), "the admin API");
    let deadline = Instant::now() + Duration::from_secs(20);
    while http(admin, "GET", "/health").status != 200 {
        assert!(Instant::now() < deadline, "the admin API never answered");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn write(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
}

#[test]
fn pool_mode_admin_views_acts_and_reloads() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let servers: Vec<RedisServer> = (0..3).map(|_| RedisServer::start().unwrap()).collect();
    let dir = tempfile::tempdir().unwrap();
    let (alpha, beta, admin_port) = (free_port(), free_port(), free_port());
    let path = dir.path().join("slotway.toml");
    write(&path, &toml(alpha, beta, &servers, 3, 1000));
    let _guard = common::spawn_config_admin(&path, admin_port);
    common::wait_listening(alpha, "pool alpha");
    let admin: SocketAddr = format!("127.0.0.1:{admin_port}").parse().unwrap();
    wait_admin(admin);

    // The token guards reads and actions alike.
    assert_eq!(http(admin, "GET", "/api/v1/pools").status, 401);
    for path in [
        "/api/v1/pools/alpha/servers/s1/eject",
        "/api/v1/pools/alpha/servers/s1/restore",
        "/api/v1/config/reload",
    ] {
        assert_eq!(http(admin, "POST", path).status, 401, "{path}");
    }

    // One listener, both pools; alpha's three servers up.
    let view = get(admin, "/api/v1/pools");
    assert_eq!(view["pools"].as_array().unwrap().len(), 2, "{view}");
    let a = pool(&view, "alpha");
    assert_eq!(a["listen"], format!("127.0.0.1:{alpha}"));
    assert_eq!(a["hash"], "fnv1a_64");
    assert_eq!(a["distribution"], "ketama");
    assert_eq!(a["auto_eject_hosts"], true);
    assert_eq!(a["server_failure_limit"], 3);
    assert_eq!(a["server_retry_timeout_ms"], 30000);
    for (i, s) in servers.iter().enumerate() {
        let v = server(a, &format!("s{i}"));
        assert_eq!(v["state"], "up", "{v}");
        assert_eq!(v["address"], s.addr());
        assert_eq!(v["weight"], 1);
    }
    assert_eq!(pool(&view, "beta")["auto_eject_hosts"], false);

    // Writes move the servers' counters.
    let mut c = common::Raw::connect(("127.0.0.1", alpha));
    for i in 0..60 {
        assert!(is_ok(&c.cmd(&["SET", &format!("k:{i}"), "v"])));
    }
    let a = pool(&get(admin, "/api/v1/pools"), "alpha").clone();
    let requests: u64 = a["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["requests"].as_u64().unwrap())
        .sum();
    assert!(requests >= 60, "{a}");
    assert!(dbsize(&servers[1]) > 0, "s1 got none of 60 keys");

    // /metrics: both pools, each series under its pool's label; traffic
    // to each pool moves that pool's counters only.
    let before = metrics(admin);
    let mut b = common::Raw::connect(("127.0.0.1", beta));
    for i in 0..25 {
        assert!(is_ok(&b.cmd(&["SET", &format!("b:{i}"), "v"])));
    }
    for i in 0..10 {
        assert_eq!(common::bulk(&c.cmd(&["GET", &format!("k:{i}")])), b"v");
    }
    let after = metrics(admin);
    let delta = |series: &str| sample(&after, series) - sample(&before, series);
    assert!(
        sample(
            &after,
            r#"slotway_commands_total{pool="alpha",command="set"}"#
        ) >= 60.0,
        "{after:?}"
    );
    assert_eq!(
        delta(r#"slotway_commands_total{pool="beta",command="set"}"#),
        25.0
    );
    assert_eq!(
        delta(r#"slotway_commands_total{pool="alpha",command="get"}"#),
        10.0
    );
    assert_eq!(
        delta(r#"slotway_commands_total{pool="alpha",command="set"}"#),
        0.0
    );
    let beta_server = format!(
        r#"slotway_pool_server_requests_total{{pool="beta",server="{}"}}"#,
        servers[0].addr()
    );
    assert!(delta(&beta_server) >= 25.0, "{beta_server}: {after:?}");
    let alpha_requests: f64 = (0..3)
        .map(|i| {
            delta(&format!(
                r#"slotway_pool_server_requests_total{{pool="alpha",server="s{i}"}}"#
            ))
        })
        .sum();
    assert!(alpha_requests >= 10.0, "{after:?}");
    for p in ["alpha", "beta"] {
        assert!(
            sample(
                &after,
                &format!(r#"slotway_connected_clients{{pool="{p}"}}"#)
            ) >= 1.0,
            "{p}: {after:?}"
        );
    }
    assert!(
        after
            .keys()
            .all(|k| k.starts_with("slotway_build_info") || k.contains(r#"pool=""#)),
        "a series without its pool label: {after:?}"
    );

    // Per-pool views: beta's 25 SETs show in beta's stats only; no
    // parameter is the first pool; an unknown pool is a 404.
    let calls = |q: &str, cmd: &str| {
        let v = get(admin, &format!("/api/v1/stats/commands{q}"));
        let list = v["commands"].as_array().unwrap().clone();
        list.iter()
            .find(|c| c["command"] == cmd)
            .map_or(0, |c| c["calls"].as_u64().unwrap())
    };
    assert_eq!(calls("?pool=beta", "set"), 25);
    assert_eq!(calls("?pool=beta", "get"), 0);
    assert_eq!(calls("?pool=alpha", "get"), 10);
    assert!(calls("?pool=alpha", "set") >= 60);
    let first = get(admin, "/api/v1/pools")["pools"][0]["name"].clone();
    let first = format!("?pool={}", first.as_str().unwrap());
    assert_eq!(
        calls("", "get"),
        calls(&first, "get"),
        "no parameter: {first}"
    );
    let st = get(admin, "/api/v1/status?pool=beta");
    assert_eq!(st["requests"]["total"], 25, "{st}");
    assert_eq!(get(admin, "/api/v1/clients?pool=beta")["count"], 1);
    assert_eq!(
        get(admin, "/api/v1/config?pool=beta")["pool"]["name"],
        "beta"
    );
    let r = http_with(admin, "GET", "/api/v1/topology?pool=nope", AUTH);
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("nope"), "{}", r.body);

    // Eject s1: new keys go to s0 and s2 only.
    let (code, body) = post(admin, "/api/v1/pools/alpha/servers/s1/eject");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["changed"], true);
    assert_eq!(body["state"], "ejected");
    let v = get(admin, "/api/v1/pools");
    let s1 = server(pool(&v, "alpha"), "s1");
    assert_eq!(s1["state"], "ejected", "{s1}");
    assert_eq!(s1["ejected_by_operator"], true);
    assert!(s1["since_unix_ms"].as_u64().unwrap() > 0);
    let m = metrics(admin);
    assert_eq!(
        sample(
            &m,
            r#"slotway_pool_server_ejected{pool="alpha",server="s1"}"#
        ),
        1.0
    );
    assert!(sample(&m, r#"slotway_pool_server_ejections_total{pool="alpha"}"#) >= 1.0);
    let on_s1 = dbsize(&servers[1]);
    for i in 0..60 {
        assert!(is_ok(&c.cmd(&["SET", &format!("ejected:{i}"), "v"])));
    }
    assert_eq!(
        dbsize(&servers[1]),
        on_s1,
        "a key went to the ejected server"
    );
    // 120 through alpha, and beta's 25 (on servers[0]).
    let total: usize = servers.iter().map(dbsize).sum();
    assert_eq!(total, 145);
    // Twice is harmless; an unknown server is 404; a pool without
    // auto_eject_hosts refuses with 409.
    let (code, body) = post(admin, "/api/v1/pools/alpha/servers/s1/eject");
    assert_eq!(
        (code, &body["changed"]),
        (200, &Json::Bool(false)),
        "{body}"
    );
    assert_eq!(post(admin, "/api/v1/pools/alpha/servers/nope/eject").0, 404);
    assert_eq!(post(admin, "/api/v1/pools/nope/servers/s1/eject").0, 404);
    let beta_server = servers[0].addr();
    let (code, body) = post(
        admin,
        &format!("/api/v1/pools/beta/servers/{beta_server}/eject"),
    );
    assert_eq!(code, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("auto_eject_hosts"),
        "{body}"
    );

    let events = get(admin, "/api/v1/events");
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "server_ejected" && e["detail"].as_str().unwrap().contains("s1")),
        "{events}"
    );

    // Restore: back at once, and takes its keys again.
    let (code, body) = post(admin, "/api/v1/pools/alpha/servers/s1/restore");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["state"], "up");
    for i in 0..60 {
        assert!(is_ok(&c.cmd(&["SET", &format!("back:{i}"), "v"])));
    }
    assert!(
        dbsize(&servers[1]) > on_s1,
        "the restored server got no key"
    );
    // The first keys are where they were before the ejection.
    for i in 0..60 {
        assert_eq!(common::bulk(&c.cmd(&["GET", &format!("k:{i}")])), b"v");
    }
    let events = get(admin, "/api/v1/events");
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "server_restored"),
        "{events}"
    );

    // Reload a changed file: alpha in place, beta restarted. An operator's
    // ejection (s2) outlives the in-place reload.
    assert_eq!(post(admin, "/api/v1/pools/alpha/servers/s2/eject").0, 200);
    write(&path, &toml(alpha, beta, &servers, 5, 2000));
    let (code, body) = post(admin, "/api/v1/config/reload");
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["applied"]["pools"]["reloaded_in_place"],
        serde_json::json!(["alpha"]),
        "{body}"
    );
    assert_eq!(
        body["applied"]["pools"]["restarted"],
        serde_json::json!(["beta"]),
        "{body}"
    );
    let v = get(admin, "/api/v1/pools");
    assert_eq!(pool(&v, "alpha")["server_failure_limit"], 5, "{v}");
    // The manager notes the reload, then starts the new generation at once.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !has_event(admin, "pool_reloaded", "alpha") {
        assert!(Instant::now() < deadline, "alpha never reloaded");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let v = get(admin, "/api/v1/pools");
    let s2 = server(pool(&v, "alpha"), "s2");
    assert_eq!(
        s2["state"], "ejected",
        "the reload forgot the ejection: {s2}"
    );
    assert_eq!(s2["ejected_by_operator"], true, "{s2}");
    let on_s2 = dbsize(&servers[2]);
    for i in 0..40 {
        assert!(is_ok(&c.cmd(&["SET", &format!("kept:{i}"), "v"])));
    }
    assert_eq!(dbsize(&servers[2]), on_s2, "a key went to the ejected s2");
    assert_eq!(post(admin, "/api/v1/pools/alpha/servers/s2/restore").0, 200);
    assert!(
        is_ok(&c.cmd(&["SET", "after-reload", "v"])),
        "the client was dropped"
    );
    common::wait_listening(beta, "pool beta after its restart");
    assert!(
        has_event(admin, "pool_restarted", "beta"),
        "no restart event"
    );

    // An invalid file: 400 with the reason, nothing changes.
    write(
        &path,
        &format!(
            "[pools.alpha]\nlisten = \"127.0.0.1:{alpha}\"\nredis = true\nservers = [\"127.0.0.1:1:0\"]\n"
        ),
    );
    let (code, body) = post(admin, "/api/v1/config/reload");
    assert_eq!(code, 400, "{body}");
    assert!(!body["error"].as_str().unwrap().is_empty());
    let v = get(admin, "/api/v1/pools");
    assert_eq!(v["pools"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(pool(&v, "alpha")["servers"].as_array().unwrap().len(), 3);
    assert!(is_ok(&c.cmd(&["SET", "after-bad-reload", "v"])));

    // A new pool and one fewer: both in the events journal, which keeps
    // the removed pool's own events (alpha's ejections) after its engine
    // is gone.
    let gamma = free_port();
    let mut next = toml(alpha, beta, &servers, 5, 2000);
    let (from, to) = (
        next.find("[pools.alpha]").unwrap(),
        next.find("[pools.beta]").unwrap(),
    );
    next.replace_range(from..to, "");
    next.push_str(&format!(
        "\n[pools.gamma]\nlisten = \"127.0.0.1:{gamma}\"\nredis = true\nservers = [\"{}:1\"]\n",
        servers[2].addr()
    ));
    write(&path, &next);
    let (code, body) = post(admin, "/api/v1/config/reload");
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["applied"]["pools"]["added"],
        serde_json::json!(["gamma"]),
        "{body}"
    );
    assert_eq!(
        body["applied"]["pools"]["removed"],
        serde_json::json!(["alpha"]),
        "{body}"
    );
    assert_eq!(
        body["applied"]["pools"]["unchanged"],
        serde_json::json!(["beta"]),
        "{body}"
    );
    assert!(
        has_event(admin, "pool_added", "gamma"),
        "no pool_added event"
    );
    assert!(
        has_event(admin, "pool_removed", "alpha"),
        "no pool_removed event"
    );
    assert!(
        has_event(admin, "pool_restarted", "beta"),
        "the restart event was lost"
    );
    assert!(
        has_event(admin, "server_ejected", "s1"),
        "the removed pool's events were lost"
    );
    let m = metrics(admin);
    assert!(m.keys().any(|k| k.contains(r#"pool="gamma""#)), "{m:?}");
    assert!(!m.keys().any(|k| k.contains(r#"pool="alpha""#)), "{m:?}");
}

/// `slotway nutcracker -c FILE --admin ADDR`: the admin API for the YAML's
/// pools (no token: loopback only).
#[test]
fn nutcracker_mode_serves_the_admin_api() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let s = RedisServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (listen, admin_port) = (free_port(), free_port());
    let conf = dir.path().join("nutcracker.yml");
    write(
        &conf,
        &format!(
            "gamma:\n  listen: 127.0.0.1:{listen}\n  redis: true\n  servers:\n    - {}:1\n",
            s.addr()
        ),
    );
    let child = Command::new(BIN)
        .args(["nutcracker", "-c", &conf.display().to_string()])
        .args(["-s", &free_port().to_string(), "-a", "127.0.0.1"])
        .args(["--admin", &format!("127.0.0.1:{admin_port}")])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = common::OwnedChild(child);
    common::wait_listening(listen, "the pool");
    let admin: SocketAddr = format!("127.0.0.1:{admin_port}").parse().unwrap();
    wait_admin(admin);
    let r = http(admin, "GET", "/api/v1/pools");
    assert_eq!(r.status, 200, "{}", r.body);
    let v: Json = serde_json::from_str(&r.body).unwrap();
    let g = pool(&v, "gamma");
    assert_eq!(server(g, &s.addr())["state"], "up", "{g}");
    let ready = http(admin, "GET", "/ready");
    assert_eq!(ready.status, 200, "{}", ready.body);
    let status: Json = serde_json::from_str(&http(admin, "GET", "/api/v1/status").body).unwrap();
    assert_eq!(status["mode"], "pool");
    // The YAML changed: the reload applies it.
    write(
        &conf,
        &format!(
            "gamma:\n  listen: 127.0.0.1:{listen}\n  redis: true\n  hash: md5\n  servers:\n    - {}:1\n",
            s.addr()
        ),
    );
    let r = http(admin, "POST", "/api/v1/config/reload");
    assert_eq!(r.status, 200, "{}", r.body);
    let v: Json = serde_json::from_str(&http(admin, "GET", "/api/v1/pools").body).unwrap();
    assert_eq!(pool(&v, "gamma")["hash"], "md5", "{v}");
}

/// Cluster mode (`slotway --config c.toml --admin`): the reload says which
/// settings need a restart; a broken file is refused. No cluster is needed (the proxy just is not ready).
#[test]
fn cluster_mode_reload_reports_what_needs_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (listen, admin_port) = (free_port(), free_port());
    let path = dir.path().join("c.toml");
    let conf = |inline: u32| {
        format!(
            "[proxy]\nlisten = \"127.0.0.1:{listen}\"\n[cluster]\nseeds = [\"127.0.0.1:1\"]\n[limits]\nmax_inline_len = {inline}\n[admin]\ntoken = \"{TOKEN}\"\n"
        )
    };
    write(&path, &conf(65536));
    let _guard = common::spawn_config_admin(&path, admin_port);
    let admin: SocketAddr = format!("127.0.0.1:{admin_port}").parse().unwrap();
    wait_admin(admin);
    assert_eq!(http(admin, "POST", "/api/v1/config/reload").status, 401);
    let r = http_with(admin, "GET", "/api/v1/status?pool=alpha", AUTH);
    assert_eq!(r.status, 400, "a cluster has no pools: {}", r.body);
    let (code, body) = post(admin, "/api/v1/config/reload");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["restart_required"], serde_json::json!([]), "{body}");
    write(&path, &conf(1024));
    let (code, body) = post(admin, "/api/v1/config/reload");
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["restart_required"],
        serde_json::json!(["limits.max_inline_len"]),
        "{body}"
    );
    write(&path, "[proxy]\nbogus = 1\n");
    let (code, body) = post(admin, "/api/v1/config/reload");
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("bogus"), "{body}");
    assert_eq!(get(admin, "/api/v1/pools")["pools"], serde_json::json!([]));
}
