//! TLS to real backends: Slotway over TLS to a real TLS Redis Cluster (`tls-cluster yes`,
//! `tls-replication yes`, nodes found through their TLS ports only), with
//! TLS clients on Slotway's own TLS listener at the same time:
//! - the topology uses each node's TLS port (CLUSTER SHARDS lists both
//!   `port` and `tls-port`; the plaintext one would fail the handshake);
//! - keys reach every master;
//! - a slot moved behind the proxy's back is followed through MOVED (which
//!   names the TLS port on a TLS connection);
//! - `redis-cli --tls` against Slotway's TLS listener while a plaintext
//!   client works through the same proxy.
//!
//! And a sharded pool following a Sentinel over TLS (`sentinel_tls`): the
//! Sentinel is reached only on its TLS port, the master only on its TLS
//! port.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::thread;

use common::certs::{certs, s};
use common::{Proxy, is_ok, key_in_range, master_ranges, text};
use slotway_core::Config;
use slotway_core::pool::{PoolServer, PoolSettings};
use slotway_fixture::{
    Cluster, Monitor, RedisServer, Sentinel, SentinelTiming, TlsFiles, free_port, redis_cli,
};
use slotway_hashkit::twemproxy::{Distribution, Hash, ServerEntry};

fn cli(args: &[&str]) -> String {
    let out = redis_cli(args).unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn tls_proxy_in_front_of_a_tls_cluster() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let certs = certs();
    let cluster = Cluster::builder()
        .masters(3)
        .tls(TlsFiles {
            cert: certs.node_cert.clone(),
            key: certs.node_key.clone(),
            ca: certs.ca.clone(),
        })
        .start()
        .unwrap();
    let tls_seeds = cluster.tls_seeds();
    assert_eq!(tls_seeds.len(), 3);
    let mut config = Config::default();
    config.cluster.seeds = tls_seeds.clone();
    config.cluster.tls = true;
    config.cluster.tls_ca_file = s(&certs.ca);
    // Learn the moved slot from MOVED, not from a periodic refresh.
    config.cluster.refresh_interval_ms = 600_000;
    config.proxy.threads = 2;
    config.tls.listen = "127.0.0.1:0".to_owned();
    config.tls.cert_file = s(&certs.server_cert);
    config.tls.key_file = s(&certs.server_key);
    let proxy = Proxy::start_settings(config.validate().unwrap());
    proxy.wait_ready();

    // A key on every master, checked on the master itself (its plaintext
    // port is the fixture's, the proxy never uses it).
    let ranges = master_ranges(&cluster);
    let mut c = proxy.client();
    for (i, (lo, hi, master)) in ranges.iter().enumerate() {
        let key = key_in_range(&format!("tls{i}"), *lo, *hi);
        assert!(is_ok(&c.cmd(&["SET", &key, "v"])), "{key}");
        let node = cluster.index_of(master).unwrap();
        assert_eq!(cluster.nodes()[node].cmd(&["GET", &key]).unwrap(), "v");
    }

    // Move an empty slot from master 0 to master 1 behind the proxy.
    let (a, b) = (
        cluster.index_of(&ranges[0].2).unwrap(),
        cluster.index_of(&ranges[1].2).unwrap(),
    );
    let key = key_in_range("moved", ranges[0].0, ranges[0].1);
    let slot = slotway_hashkit::key_slot(key.as_bytes()).to_string();
    let id = |i: usize| cluster.nodes()[i].cmd(&["CLUSTER", "MYID"]).unwrap();
    let (a_id, b_id) = (id(a), id(b));
    let ok = |i: usize, args: &[&str]| {
        assert_eq!(cluster.nodes()[i].cmd(args).unwrap(), "OK", "{args:?}");
    };
    ok(b, &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &a_id]);
    ok(a, &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &b_id]);
    for i in [b, a, 3 - a - b] {
        ok(i, &["CLUSTER", "SETSLOT", &slot, "NODE", &b_id]);
    }
    // A TLS client of A is sent to B's TLS port.
    let a_tls_port = tls_seeds[a].rsplit_once(':').unwrap().1.to_owned();
    let b_tls_port = tls_seeds[b].rsplit_once(':').unwrap().1.to_owned();
    let ca = s(&certs.ca);
    let direct = cli(&[
        "--tls",
        "--cacert",
        &ca,
        "-h",
        "127.0.0.1",
        "-p",
        &a_tls_port,
        "GET",
        &key,
    ]);
    assert!(
        direct.contains(&format!("MOVED {slot} 127.0.0.1:{b_tls_port}")),
        "A over TLS: {direct}"
    );
    // The proxy follows it: the write lands on B.
    assert!(is_ok(&c.cmd(&["SET", &key, "moved"])));
    assert_eq!(cluster.nodes()[b].cmd(&["GET", &key]).unwrap(), "moved");
    assert_eq!(text(&c.cmd(&["GET", &key])), "moved");

    // redis-cli over TLS to Slotway's TLS listener while a plaintext client
    // keeps writing through the same proxy (bounded on both sides).
    let plain_addr = proxy.addr;
    let writer = thread::spawn(move || {
        let mut w = common::Raw::connect(plain_addr);
        for i in 0..300 {
            let r = w.cmd(&["SET", &format!("plain:{i}"), "p"]);
            assert!(is_ok(&r), "plain:{i}: {r:?}");
        }
    });
    let port = proxy.tls_addr.unwrap().port().to_string();
    let tls_cli = |args: &[&str]| {
        let mut all = vec!["--tls", "--cacert", &ca, "-h", "127.0.0.1", "-p", &port];
        all.extend_from_slice(args);
        cli(&all)
    };
    for i in 0..10 {
        let k = format!("cli:{i}");
        assert_eq!(tls_cli(&["SET", &k, "over-tls"]), "OK");
        assert_eq!(tls_cli(&["GET", &k]), "over-tls");
    }
    assert_eq!(tls_cli(&["GET", &key]), "moved");
    assert_eq!(tls_cli(&["MGET", "cli:0", "cli:9"]), "over-tls\nover-tls");
    writer.join().unwrap();
    assert_eq!(text(&c.cmd(&["GET", "plain:299"])), "p");
    assert_eq!(tls_cli(&["DBSIZE"]), (3 + 1 + 10 + 300).to_string());
}

#[test]
fn pool_follows_a_sentinel_over_tls() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let certs = certs();
    let files = TlsFiles {
        cert: certs.node_cert.clone(),
        key: certs.node_key.clone(),
        ca: certs.ca.clone(),
    };
    let tls_port = free_port().to_string();
    let (cert, key, ca) = (s(&files.cert), s(&files.key), s(&files.ca));
    let master = RedisServer::start_with(&[
        "--tls-port",
        &tls_port,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
        "--tls-auth-clients",
        "optional",
    ])
    .unwrap();
    let master_tls = format!("127.0.0.1:{tls_port}");
    let sentinel = Sentinel::start_tls(
        &[Monitor {
            name: "m1".to_owned(),
            addr: master_tls.clone(),
        }],
        SentinelTiming {
            quorum: 1,
            ..SentinelTiming::default()
        },
        &files,
    )
    .unwrap();
    assert_eq!(
        sentinel.master_addr("m1").as_deref(),
        Some(master_tls.as_str())
    );

    // The configured address is a placeholder: the Sentinel's answer wins.
    let entry = ServerEntry::parse("127.0.0.1:1:1 m1").unwrap();
    let mut server = PoolServer::from_entry(&entry);
    server.sentinel_name = Some("m1".to_owned());
    let mut pool = PoolSettings::new(
        "alpha",
        vec![server],
        Hash::Fnv1a64,
        None,
        Distribution::Ketama,
    )
    .unwrap();
    pool.sentinels = vec![sentinel.tls_addr().unwrap()];
    pool.sentinel_tls = true;
    let mut config = Config::default();
    config.proxy.threads = 2;
    config.cluster.tls = true;
    config.cluster.tls_ca_file = ca.clone();
    // Without backend TLS there are no TLS settings for the Sentinels.
    let mut plain = Config::default();
    plain.proxy.threads = 2;
    let err = plain
        .validate_for_pool(pool.clone())
        .unwrap_err()
        .to_string();
    assert!(err.contains("sentinel_tls"), "{err}");

    let proxy = Proxy::start_settings(config.validate_for_pool(pool).unwrap());
    let mut c = proxy.client();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let r = c.cmd(&["SET", "k", "via-sentinel-tls"]);
        if is_ok(&r) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never served: {r:?}\n{}",
            sentinel.log_tail(20)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(text(&c.cmd(&["GET", "k"])), "via-sentinel-tls");
    assert_eq!(master.cmd(&["GET", "k"]).unwrap(), "via-sentinel-tls");
}
