//! What the topology refresher costs the nodes: it keeps its connection to
//! each node it asks from one refresh to the next (as the pools' health
//! probes do), instead of connecting, authenticating and closing every
//! time; a connection a node closed is replaced within the same refresh.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{Proxy, Raw, is_ok, text};
use slotway_fixture::Cluster;
use slotway_resp::Value;

/// `total_connections_received` of the node `c` is connected to.
fn accepted(c: &mut Raw) -> u64 {
    let info = text(&c.cmd(&["INFO", "stats"]));
    info.lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("total_connections_received")
}

/// Connections each node accepted during `span`.
fn accepted_during(direct: &mut [Raw], span: Duration) -> Vec<u64> {
    let before: Vec<u64> = direct.iter_mut().map(accepted).collect();
    thread::sleep(span);
    direct
        .iter_mut()
        .zip(before)
        .map(|(c, b)| accepted(c) - b)
        .collect()
}

#[test]
fn refreshes_keep_their_connections_to_the_nodes() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let cluster = Cluster::start(3, 0).expect("cluster");
    // A refresh every 100 ms: 20 during the 2 s measured.
    let proxy = Proxy::start_with(&cluster.seeds(), |c| c.cluster.refresh_interval_ms = 100);
    proxy.wait_ready();
    let mut direct: Vec<Raw> = cluster
        .nodes()
        .iter()
        .map(|n| Raw::connect(n.addr()))
        .collect();
    thread::sleep(Duration::from_millis(300));
    let during = accepted_during(&mut direct, Duration::from_secs(2));
    assert!(
        during.iter().all(|&n| n <= 1),
        "connections accepted per node during 20 refreshes: {during:?}"
    );

    // Every node closes every other connection, the refresher's among
    // them: the proxy serves again, and the refresher's new connections are
    // kept in turn.
    for c in &mut direct {
        let killed = c.cmd(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]);
        assert!(matches!(killed, Value::Integer(n) if n >= 1), "{killed:?}");
    }
    let mut client = proxy.client();
    let deadline = Instant::now() + Duration::from_secs(10);
    for i in 0..30 {
        while !is_ok(&client.cmd(&["SET", &format!("again:{i}"), "1"])) {
            assert!(Instant::now() < deadline, "the proxy never served again");
            thread::sleep(Duration::from_millis(50));
        }
    }
    thread::sleep(Duration::from_millis(500));
    let during = accepted_during(&mut direct, Duration::from_secs(2));
    assert!(
        during.iter().all(|&n| n <= 1),
        "connections accepted per node during 20 refreshes after CLIENT KILL: {during:?}"
    );
}
