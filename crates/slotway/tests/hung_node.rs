//! A node that stops answering altogether (SIGSTOP: its socket still accepts
//! but nothing replies): the proxy closes the silent connection after
//! `reply_timeout_ms`, other slots are not affected, reads for the stopped
//! node fail with a clear error after the park budget instead of hanging, and
//! everything works again once the node resumes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::{Duration, Instant};

use common::{Proxy, is_ok, key_in_range, text};
use slotway_fixture::Cluster;

#[test]
fn stopped_node_times_out_then_recovers() {
    stopped_node_times_out_then_recovers_on(slotway_core::config::Multiplexing::Auto);
}

/// The same for a client on its own node connections (multiplexing off):
/// they carry what shared ones carry, so the same reply timeout applies.
#[test]
fn stopped_node_times_out_on_private_connections_too() {
    stopped_node_times_out_then_recovers_on(slotway_core::config::Multiplexing::Always);
}

fn stopped_node_times_out_then_recovers_on(multiplexing: slotway_core::config::Multiplexing) {
    let mut cluster = Cluster::start(3, 0).unwrap();
    let proxy = Proxy::start_with(&cluster.seeds(), |c| {
        c.cluster.reply_timeout_ms = 300;
        c.cluster.park_timeout_ms = 1_000;
        c.proxy.disable_multiplexing = multiplexing;
    });
    proxy.wait_ready();
    let slots = cluster.slots().unwrap();
    let stopped = &slots[0];
    let healthy = &slots[1];
    let k_stopped = key_in_range("hung", stopped.start, stopped.end);
    let k_healthy = key_in_range("fine", healthy.start, healthy.end);
    let mut c = proxy.client();
    assert!(is_ok(&c.cmd(&["SET", &k_stopped, "1"])));
    assert!(is_ok(&c.cmd(&["SET", &k_healthy, "2"])));

    let idx = cluster.index_of(&stopped.master).unwrap();
    cluster.node_mut(idx).pause();
    let started = Instant::now();
    let mut other = proxy.client();
    let reply = text(&c.cmd(&["GET", &k_stopped]));
    let waited = started.elapsed();
    eprintln!("GET on the stopped node answered {reply:?} after {waited:?}");
    assert!(reply.starts_with("CLUSTERDOWN slotway: node"), "{reply}");
    assert!(
        waited < Duration::from_secs(5),
        "bounded by the park budget: {waited:?}"
    );
    // Other slots were never affected.
    let t = Instant::now();
    assert_eq!(text(&other.cmd(&["GET", &k_healthy])), "2");
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "not held behind the stopped node"
    );

    cluster.node_mut(idx).resume();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if text(&c.cmd(&["GET", &k_stopped])) == "1" {
            break;
        }
        assert!(Instant::now() < deadline, "never recovered after SIGCONT");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn request_deadline_answers_without_dropping_the_connection() {
    let cluster = Cluster::start(3, 0).unwrap();
    let proxy = Proxy::start_with(&cluster.seeds(), |c| {
        c.cluster.request_timeout_ms = 300;
    });
    proxy.wait_ready();
    let mut c = proxy.client();
    assert!(is_ok(&c.cmd(&["SET", "{d}k", "v"])));
    // A script that keeps its node busy for longer than the deadline.
    let t = Instant::now();
    let reply = text(&c.cmd(&[
        "EVAL",
        "local i=0 while i<40000000 do i=i+1 end return i",
        "1",
        "{d}busy",
    ]));
    let waited = t.elapsed();
    eprintln!("slow script answered {reply:?} after {waited:?}");
    assert!(
        reply.starts_with("ERR slotway: timeout: no reply from"),
        "{reply}"
    );
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_millis(2_000),
        "{waited:?}"
    );
    // The connection stayed up: once the node is free, the same client
    // works, and the script's late reply went nowhere.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = text(&c.cmd(&["GET", "{d}k"]));
        if got == "v" {
            break;
        }
        assert!(got.contains("timeout"), "{got}");
        assert!(Instant::now() < deadline);
    }
}

/// A pass-through AUTH travels on a dedicated connection (its own, since it
/// may switch the client's user) and holds the client's later requests until
/// it is answered. Nodes that stopped answering must not hold it past
/// `request_timeout_ms`: only blocking commands wait on purpose.
#[test]
fn pass_through_auth_to_stopped_nodes_times_out() {
    let mut cluster = Cluster::start(3, 0).unwrap();
    for node in cluster.nodes() {
        node.cmd(&["ACL", "SETUSER", "ro", "on", ">ropw", "~*", "+get"])
            .unwrap();
    }
    let proxy = Proxy::start_with(&cluster.seeds(), |c| {
        c.proxy.auth_passthrough = true;
        c.cluster.request_timeout_ms = 500;
    });
    proxy.wait_ready();
    let mut c = proxy.client();
    assert!(is_ok(&c.cmd(&["SET", "pt", "v"])));
    for i in 0..cluster.nodes().len() {
        cluster.node_mut(i).pause();
    }
    let started = Instant::now();
    c.send_cmd(&["AUTH", "ro", "ropw"]);
    c.send_cmd(&["PING"]);
    let auth = text(&c.read());
    let pong = text(&c.read());
    let waited = started.elapsed();
    for i in 0..cluster.nodes().len() {
        cluster.node_mut(i).resume();
    }
    assert!(auth.contains("timeout"), "{auth}");
    assert_eq!(pong, "PONG");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    // Still served, as the user it was.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = text(&c.cmd(&["SET", "pt", "w"]));
        if reply == "OK" {
            break;
        }
        assert!(Instant::now() < deadline, "{reply}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
