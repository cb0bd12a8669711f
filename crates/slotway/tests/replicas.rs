//! Reads from replicas: READONLY/READWRITE per client and `read_from` for
//! every client, checked by counting the GETs each node actually served.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::{Duration, Instant};

use common::{Proxy, Raw, is_ok, text};
use slotway_core::config::ReadFrom;
use slotway_fixture::Cluster;

/// `cmdstat_get` calls served by the masters and by the replicas.
fn get_calls(cluster: &Cluster) -> (u64, u64) {
    let masters = cluster.master_addrs();
    let (mut on_masters, mut on_replicas) = (0, 0);
    for node in cluster.nodes() {
        let mut c = Raw::connect(node.addr().as_str());
        let info = text(&c.cmd(&["INFO", "commandstats"]));
        let calls = info
            .lines()
            .find_map(|l| l.strip_prefix("cmdstat_get:calls="))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.parse::<u64>().unwrap());
        if masters.contains(&node.addr()) {
            on_masters += calls;
        } else {
            on_replicas += calls;
        }
    }
    (on_masters, on_replicas)
}

/// Waits until the replicas have the value (replication is asynchronous).
fn wait_replicated(c: &mut Raw, key: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while text(&c.cmd(&["GET", key])) != want {
        assert!(Instant::now() < deadline, "{key} never reached the replica");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn readonly_client_reads_from_replicas_and_readwrite_goes_back() {
    let cluster = Cluster::start(3, 1).unwrap();
    let proxy = Proxy::start(&cluster.seeds());
    proxy.wait_ready();
    let mut c = proxy.client();
    for i in 0..30 {
        assert!(is_ok(&c.cmd(&["SET", &format!("r:{i}"), "v"])));
    }
    assert!(is_ok(&c.cmd(&["READONLY"])));
    for i in 0..30 {
        wait_replicated(&mut c, &format!("r:{i}"), "v");
    }
    let (m0, r0) = get_calls(&cluster);
    for i in 0..30 {
        assert_eq!(text(&c.cmd(&["GET", &format!("r:{i}")])), "v");
    }
    let (m1, r1) = get_calls(&cluster);
    assert_eq!(r1 - r0, 30, "READONLY reads go to replicas");
    assert_eq!(m1, m0, "no READONLY read reached a master");
    // Writes still go to masters.
    assert!(is_ok(&c.cmd(&["SET", "r:w", "x"])));
    assert!(is_ok(&c.cmd(&["READWRITE"])));
    for i in 0..30 {
        assert_eq!(text(&c.cmd(&["GET", &format!("r:{i}")])), "v");
    }
    let (m2, r2) = get_calls(&cluster);
    assert_eq!((m2 - m1, r2 - r1), (30, 0), "READWRITE reads go to masters");
}

#[test]
fn read_from_replica_preferred_for_every_client() {
    let cluster = Cluster::start(3, 1).unwrap();
    let proxy = Proxy::start_with(&cluster.seeds(), |c| {
        c.cluster.read_from = ReadFrom::ReplicaPreferred;
    });
    proxy.wait_ready();
    let mut c = proxy.client();
    assert!(is_ok(&c.cmd(&["SET", "pref", "1"])));
    wait_replicated(&mut c, "pref", "1");
    let (m0, r0) = get_calls(&cluster);
    for _ in 0..20 {
        assert_eq!(text(&c.cmd(&["GET", "pref"])), "1");
    }
    let (m1, r1) = get_calls(&cluster);
    assert_eq!((m1 - m0, r1 - r0), (0, 20));
}

#[test]
fn wait_counts_the_replicas_of_written_masters_without_stalling_others() {
    let mut cluster = Cluster::start(3, 1).unwrap();
    let proxy = Proxy::start(&cluster.seeds());
    proxy.wait_ready();
    let mut a = proxy.client();
    assert!(is_ok(&a.cmd(&["SET", "w:1", "v"])));
    assert_eq!(
        a.cmd(&["WAIT", "1", "2000"]),
        slotway_resp::Value::Integer(1)
    );
    // Only one replica per shard: asking for two waits the timeout, answers 1.
    let t = Instant::now();
    assert_eq!(
        a.cmd(&["WAIT", "2", "300"]),
        slotway_resp::Value::Integer(1)
    );
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        text(&a.cmd(&["WAIT", "x", "1"])),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        text(&a.cmd(&["WAIT", "1", "-1"])),
        "ERR timeout is negative"
    );

    // A WAIT that can never be met blocks only its own client.
    let mut blocked = proxy.client();
    assert!(is_ok(&blocked.cmd(&["SET", "w:2", "v"])));
    blocked.send_cmd(&["WAIT", "2", "0"]);
    let mut b = proxy.client();
    for i in 0..50 {
        let t = Instant::now();
        assert!(is_ok(&b.cmd(&["SET", &format!("w:b:{i}"), "v"])));
        assert!(
            t.elapsed() < Duration::from_millis(1000),
            "others are not stalled"
        );
    }
    drop(blocked);

    // With the replica of the written master stopped, a fresh write is not acknowledged.
    let range = cluster.slots().unwrap()[0].clone();
    let key = common::key_in_range("w:paused", range.start, range.end);
    let replica = cluster.index_of(&range.replicas[0]).unwrap();
    let mut c = proxy.client();
    cluster.node_mut(replica).pause();
    assert!(is_ok(&c.cmd(&["SET", &key, "v"])));
    assert_eq!(
        c.cmd(&["WAIT", "1", "300"]),
        slotway_resp::Value::Integer(0)
    );
    cluster.node_mut(replica).resume();
}
