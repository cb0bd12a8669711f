//! The proxy's own observability against a real cluster: `/metrics` parsed
//! as Prometheus text with counters that move (and every metric the Grafana
//! dashboard queries exposed), per-command outcomes in pipelines, and
//! SLOWLOG in Redis's exact format (compared with a real node's).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::admin::{Admin, parse_metrics, start_cluster};
use common::{Raw, is_ok, master_ranges, text};
use slotway_resp::Value;

/// A client read past the output mark because it writes its whole pipeline
/// before reading (`session::stall`) is counted, in `/metrics` and in the
/// stats.
#[test]
fn pipeline_stalls_are_counted() {
    let cluster = start_cluster(3, 0);
    let admin = Admin::start(&cluster.seeds(), |_| {});
    admin.wait_ready();
    let stalls = "slotway_pipeline_stalls_total";
    assert_eq!(parse_metrics(&admin.get("/metrics").body)[stalls], 0.0);
    common::whole_pipeline_then_read(admin.proxy, 30_000);
    assert_eq!(parse_metrics(&admin.get("/metrics").body)[stalls], 1.0);
    assert_eq!(admin.json("/api/v1/stats/backends")["pipeline_stalls"], 1);
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
