//! Disagreeing views after a failover: the refresher installs, slot by slot,
//! the owner claimed with the highest config epoch, and never takes a slot
//! back to a lower-epoch owner when only a stale node answers.
//!
//! A genuinely stale node, deterministically: after the cluster forms, the
//! `nodes.conf` of a replica is copied (the view before the failover); a
//! master is then killed and its replica promoted; finally a new
//! redis-server is started from the copy with every peer's cluster-bus port
//! replaced by a closed one (nobody knows its own address), so it never
//! hears of the promotion and keeps naming the dead master (at the
//! old, lower epoch) — as a node cut off by a partition would.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use slotway_core::backend::Prelude;
use slotway_core::cluster::Topology;
use slotway_core::cluster::refresh::{RefreshTiming, refresh_once};
use slotway_core::cluster::table::NodeParams;
use slotway_fixture::{Cluster, RedisServer, require_binaries};

const NODE_TIMEOUT_MS: u64 = 1000;

fn timing() -> RefreshTiming {
    RefreshTiming {
        interval: Duration::from_secs(60),
        debounce: Duration::from_millis(10),
        connect_timeout: Duration::from_millis(300),
        query_timeout: Duration::from_millis(500),
    }
}

fn topology(seeds: &[String]) -> Arc<Topology> {
    Arc::new(Topology::new(
        seeds.to_vec(),
        NodeParams {
            connections_per_node: 1,
            connect_timeout: Duration::from_millis(300),
            reply_timeout: Duration::from_secs(5),
            write_ack: None,
            prelude: Prelude::default(),
            workers: slotway_core::workers::Workers::single(),
        },
    ))
}

fn owner(t: &Topology, slot: u16) -> String {
    t.load()
        .master(slot)
        .map_or_else(|| "-".to_owned(), |n| n.addr().to_string())
}

/// `nodes.conf` text with every other node's cluster-bus port closed, so a
/// server started from it can reach nobody.
fn isolated(conf: &str) -> String {
    conf.lines()
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            // id ip:port@cport[,hostname] flags ... (and a `vars` line)
            if f.len() < 3 || f[2].contains("myself") || !f[1].contains('@') {
                return line.to_owned();
            }
            let (addr, rest) = f[1].split_once('@').unwrap();
            let hostname = rest.split_once(',').map(|(_, h)| format!(",{h}"));
            let mut f: Vec<String> = f.iter().map(|s| (*s).to_owned()).collect();
            f[1] = format!("{addr}@1{}", hostname.unwrap_or_default());
            f.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn highest_epoch_wins_and_a_stale_node_cannot_take_slots_back() {
    require_binaries(&["redis-server", "redis-cli"]);
    let mut cluster = Cluster::builder()
        .masters(3)
        .replicas(1)
        .node_timeout_ms(NODE_TIMEOUT_MS)
        .start()
        .unwrap();
    // Node 3 replicates master 0 (slots 0..=5460); node 5 replicates master 2.
    let (dead, heir, live) = (
        cluster.nodes()[0].addr(),
        cluster.nodes()[3].addr(),
        cluster.nodes()[1].addr(),
    );
    let before = std::fs::read_to_string(cluster.nodes()[5].dir().join("nodes.conf")).unwrap();

    cluster.node_mut(0).kill();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let masters = cluster.master_addrs();
        if masters.contains(&heir) && !masters.contains(&dead) {
            break;
        }
        assert!(Instant::now() < deadline, "no promotion: {masters:?}");
        thread::sleep(Duration::from_millis(20));
    }
    cluster.wait_ok(Duration::from_secs(10)).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("stale-nodes.conf");
    std::fs::write(&conf, isolated(&before)).unwrap();
    let node_timeout = NODE_TIMEOUT_MS.to_string();
    let stale = RedisServer::start_with(&[
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        conf.to_str().unwrap(),
        "--cluster-node-timeout",
        &node_timeout,
    ])
    .unwrap();
    // Precondition: it names the dead master as the owner of slot 0.
    let stale_topology = topology(&[stale.addr()]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(rt.block_on(refresh_once(&stale_topology, timing())));
    assert_eq!(owner(&stale_topology, 0), dead, "the stale node is stale");

    // The stale node and an up-to-date one answer together, the stale one
    // asked first: the promoted replica (higher epoch) wins, every time.
    for round in 0..5 {
        let t = topology(&[stale.addr(), live.clone()]);
        assert!(rt.block_on(refresh_once(&t, timing())));
        assert_eq!(owner(&t, 0), heir, "round {round}");
        assert_eq!(owner(&t, 5460), heir, "round {round}");
        assert_eq!(owner(&t, 5461), live, "round {round}");
        assert_eq!(t.load().covered_slots(), 16384);
    }

    // Later only the stale node answers (every cluster node gone): the
    // promoted replica keeps its slots; a lower epoch never takes them back.
    let t = topology(&[live.clone(), stale.addr()]);
    assert!(rt.block_on(refresh_once(&t, timing())));
    assert_eq!(owner(&t, 0), heir);
    for i in 1..cluster.nodes().len() {
        cluster.node_mut(i).kill();
    }
    let started = Instant::now();
    assert!(rt.block_on(refresh_once(&t, timing())));
    eprintln!(
        "refresh with only the stale node answering took {:?}",
        started.elapsed()
    );
    assert_eq!(owner(&t, 0), heir, "taken back by a stale view");
    assert_eq!(owner(&t, 5461), live);
    assert_eq!(t.load().covered_slots(), 16384);
}
