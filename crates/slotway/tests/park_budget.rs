//! `cluster.park_max_bytes`: the bytes of requests parked (waiting for a
//! slot owner) are bounded proxy-wide. With a tiny limit and a dead master,
//! a request that fits parks (and gets the park timeout's `-CLUSTERDOWN`),
//! one that would go over gets `-TRYAGAIN` at once, and the budget is given
//! back once parked requests are answered.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::{Duration, Instant};

use common::{Proxy, key_in_range, text};
use slotway_fixture::Cluster;

const FULL: &str = "TRYAGAIN slotway: too many requests waiting for the cluster";

#[test]
fn parked_bytes_are_bounded_proxy_wide() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let mut cluster = Cluster::start(3, 0).unwrap();
    let proxy = Proxy::start_with(&cluster.seeds(), |c| {
        c.cluster.park_timeout_ms = 1_500;
        c.cluster.park_max_bytes = 100;
    });
    proxy.wait_ready();
    let slots = cluster.slots().unwrap();
    let dead = &slots[0];
    let k = |i: usize| key_in_range(&format!("p{i}"), dead.start, dead.end);
    let idx = cluster.index_of(&dead.master).unwrap();
    cluster.node_mut(idx).kill();

    // `GET p0:N` is about 25 bytes on the wire: it fits and parks.
    let mut parked = proxy.client();
    parked.send_cmd(&["GET", &k(0)]);
    std::thread::sleep(Duration::from_millis(300));
    // A second client's ~90-byte SET would take the total over 100.
    let mut big = proxy.client();
    let value = "v".repeat(60);
    let t = Instant::now();
    let reply = text(&big.cmd(&["SET", &k(1), &value]));
    let waited = t.elapsed();
    eprintln!("over the budget: {reply:?} after {waited:?}");
    assert_eq!(reply, FULL);
    assert!(waited < Duration::from_millis(1_000), "at once: {waited:?}");
    // A small one from a third client still fits beside the first.
    let mut small = proxy.client();
    small.send_cmd(&["GET", &k(2)]);
    for c in [&mut parked, &mut small] {
        let reply = text(&c.read());
        assert!(reply.starts_with("CLUSTERDOWN slotway: node"), "{reply}");
    }

    // Answered: the budget is back. The same SET alone fits, and parks.
    let reply = text(&big.cmd(&["SET", &k(1), &value]));
    assert!(reply.starts_with("CLUSTERDOWN slotway: node"), "{reply}");
    // Three small requests park together (about 75 bytes).
    let mut three = proxy.client();
    for i in 3..6 {
        three.send_cmd(&["GET", &k(i)]);
    }
    for _ in 3..6 {
        let reply = text(&three.read());
        assert!(reply.starts_with("CLUSTERDOWN slotway: node"), "{reply}");
    }
}
