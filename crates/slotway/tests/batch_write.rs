//! A pipeline's replies leave together: the replies to the requests one read
//! brought are written to the client at once, as Redis itself answers a
//! pipeline, even when its keys live on several masters that answer at
//! different moments; a request that may wait (a blocking command) never
//! holds back the replies before it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{cluster_and_proxy, is_ok, key_in_range, master_ranges};
use slotway_fixture::Cluster;

/// A key whose slot the master at `index` (in slot order) serves.
fn key_on(cluster: &Cluster, index: usize, prefix: &str) -> (String, String) {
    let ranges = master_ranges(cluster);
    let (start, end, addr) = ranges[index].clone();
    (key_in_range(prefix, start, end), addr)
}

/// Stops `addr` from serving its clients (the proxy's connections) for
/// `ms` milliseconds.
fn pause(cluster: &Cluster, addr: &str, ms: u64) {
    let node = cluster.nodes().iter().find(|n| n.addr() == addr).unwrap();
    assert_eq!(
        node.cmd(&["CLIENT", "PAUSE", &ms.to_string(), "ALL"])
            .unwrap(),
        "OK"
    );
}

/// Everything the proxy has written by the time the first bytes arrive
/// (plus a short grace for a second segment of the same write).
fn first_write(stream: &mut std::net::TcpStream) -> Vec<u8> {
    let mut buf = vec![0u8; 64 * 1024];
    let n = stream.read(&mut buf).unwrap();
    let mut got = buf[..n].to_vec();
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    got
}

/// Sends `commands` in one write; returns how long the first write of
/// replies took to arrive, and what it held.
fn pipeline(c: &mut common::Raw, commands: &[&[&str]]) -> (Duration, String) {
    let mut out = bytes::BytesMut::new();
    for args in commands {
        slotway_resp::encode::command(&mut out, args);
    }
    let sent = Instant::now();
    c.send(&out);
    let got = first_write(&mut c.stream);
    (sent.elapsed(), String::from_utf8_lossy(&got).into_owned())
}

/// A cluster, a proxy, a client, and a key on the first master set to `a`
/// (the cluster and proxy live as long as the test holds them).
fn setup() -> (Cluster, common::Proxy, common::Raw, String) {
    let (cluster, proxy) = cluster_and_proxy();
    let (fast, _) = key_on(&cluster, 0, "fast");
    let mut c = proxy.client();
    assert!(is_ok(&c.cmd(&["SET", &fast, "a"])));
    (cluster, proxy, c, fast)
}

#[test]
fn a_pipeline_over_two_masters_is_answered_in_one_write() {
    let (cluster, _proxy, mut c, fast) = setup();
    let (slow, slow_addr) = key_on(&cluster, 1, "slow");
    assert!(is_ok(&c.cmd(&["SET", &slow, "b"])));

    // The second master answers 400 ms late; the first at once.
    pause(&cluster, &slow_addr, 400);
    let (took, got) = pipeline(&mut c, &[&["GET", &fast], &["GET", &slow]]);
    assert_eq!(
        got, "$1\r\na\r\n$1\r\nb\r\n",
        "both replies in the first write"
    );
    assert!(took >= Duration::from_millis(300), "the pause held");
}

#[test]
fn a_blocking_command_does_not_hold_the_replies_before_it() {
    let (cluster, _proxy, mut c, fast) = setup();
    let (list, _) = key_on(&cluster, 1, "list");

    let (took, got) = pipeline(&mut c, &[&["GET", &fast], &["BLPOP", &list, "2"]]);
    assert_eq!(got, "$1\r\na\r\n");
    assert!(
        took < Duration::from_millis(1500),
        "not held until BLPOP's timeout"
    );
    // BLPOP times out with a null array.
    assert_eq!(c.read(), slotway_resp::Value::Null);
}
