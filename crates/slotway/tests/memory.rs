//! What the proxy keeps after a request is answered, against the real
//! `slotway` binary in front of a real 3-master cluster, measured by its RSS
//! (from /proc): only what it needs, copied out of the request, never the
//! read buffer the request arrived in (a slice of it keeps the whole buffer
//! alive for as long as the slice lives).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
#[allow(dead_code)]
#[path = "hostile/support.rs"]
mod support;

use std::thread;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::{Raw, bulk, is_ok};
use slotway_fixture::Cluster;
use slotway_resp::{Value, encode};
use support::{Binary, MB};

/// The slow log keeps what Redis keeps of a request (32 arguments, 128
/// bytes each), not the request: 24 logged SETs of 8 MiB values leave the
/// proxy's memory where it was once they are answered.
#[test]
fn slow_log_keeps_trimmed_arguments_not_requests() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let cluster = Cluster::start(3, 0).unwrap();
    let proxy = Binary::start(&cluster, "slowlog_log_slower_than = 0", "");
    let mut c = proxy.client();
    let value = vec![b'v'; 8 << 20];
    let set = |c: &mut Raw, i: usize| {
        let key = format!("big:{i}");
        assert!(is_ok(&c.cmd(&[b"SET".as_slice(), key.as_bytes(), &value])));
    };
    // The read buffer a large request needs, grown once before measuring.
    set(&mut c, 0);
    let before = proxy.rss();
    for i in 1..=24 {
        set(&mut c, i);
    }
    let after = proxy.rss();
    let logged = c.cmd(&["SLOWLOG", "LEN"]);
    assert!(matches!(logged, Value::Integer(n) if n >= 25), "{logged:?}");
    let Value::Array(newest) = c.cmd(&["SLOWLOG", "GET", "3"]) else {
        panic!("SLOWLOG GET");
    };
    let args = newest
        .iter()
        .find_map(|e| match e {
            Value::Array(entry) => match entry.get(3) {
                Some(Value::Array(args)) if args.first().map(bulk).as_deref() == Some(b"SET") => {
                    Some(args)
                }
                _ => None,
            },
            _ => None,
        })
        .expect("a SET among the newest entries");
    let third = args.get(2).map(bulk).unwrap_or_default();
    assert!(
        third.starts_with(&[b'v'; 128]) && third.ends_with(b"... (8388480 more bytes)"),
        "{}",
        String::from_utf8_lossy(&third)
    );
    eprintln!(
        "slow log of 24 SETs of 8 MiB: proxy RSS {} MiB before, {} MiB after",
        before / MB,
        after / MB
    );
    assert!(
        after < before + 96 * MB,
        "RSS grew from {before} to {after}"
    );
}

/// What a client keeps for its whole connection (its name, its library's
/// name and version, its channels) is copied out of the request that set
/// it: a slice would keep alive the read buffer the request arrived in
/// (64 KiB once a pipeline grew it) after the session gave it back.
///
/// Measured over a second round of clients: the allocator keeps freed
/// pages resident for a while, so the first round's buffers, given back,
/// still count in RSS; the second round reuses them unless they are held.
#[test]
fn long_lived_client_state_keeps_no_read_buffer() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let cluster = Cluster::start(3, 0).unwrap();
    let proxy = Binary::start(&cluster, "", "");
    let value = vec![b'v'; 2048];
    let per_round = 300;
    let mut held: Vec<Raw> = Vec::new();
    let mut rss = Vec::new();
    for i in 0..2 * per_round {
        let mut c = proxy.client();
        let mut batch = BytesMut::new();
        let set = |batch: &mut BytesMut, j: usize| {
            let key = format!("held:{i}:{j}");
            encode::command(batch, &[b"SET".as_slice(), key.as_bytes(), &value]);
        };
        // 60 SETs grow the read buffer to 64 KiB; then the long-lived state.
        (0..60).for_each(|j| set(&mut batch, j));
        let subscriber = i % 2 == 1;
        if subscriber {
            encode::command(&mut batch, &["SUBSCRIBE", &format!("news-{i}")]);
        } else {
            encode::command(&mut batch, &["CLIENT", "SETNAME", &format!("app-{i}")]);
            encode::command(&mut batch, &["CLIENT", "SETINFO", "LIB-NAME", "lib"]);
            encode::command(&mut batch, &["CLIENT", "SETINFO", "LIB-VER", "1.0"]);
            (60..100).for_each(|j| set(&mut batch, j));
        }
        c.send(&batch);
        for _ in 0..if subscriber { 60 } else { 103 } {
            assert!(is_ok(&c.read()));
        }
        if subscriber {
            let Value::Array(confirmed) = c.read() else {
                panic!("no SUBSCRIBE confirmation");
            };
            assert_eq!(
                confirmed.first().map(bulk).as_deref(),
                Some(&b"subscribe"[..])
            );
        }
        held.push(c);
        if (i + 1) % per_round == 0 {
            wait_until_idle_buffers_released(&proxy);
            rss.push(proxy.rss());
        }
    }
    let (first, second) = (rss[0], rss[1]);
    eprintln!(
        "{per_round} more clients named or subscribed amid a pipeline: proxy RSS {} MiB, then {} MiB",
        first / MB,
        second / MB
    );
    assert!(
        second < first + 10 * MB,
        "RSS grew from {first} to {second}"
    );
    assert_eq!(bulk(&held[0].cmd(&["CLIENT", "GETNAME"])), b"app-0");
}

/// Waits until every session gave back the read buffer it grew (`rbs` in
/// CLIENT LIST back to a new connection's 1 KiB; the queue's room is given
/// back in the same tick), which takes one to two ticks of the sessions'
/// one-second clock once they are idle.
fn wait_until_idle_buffers_released(proxy: &Binary) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut c = proxy.client();
    loop {
        let list = common::text(&c.cmd(&["CLIENT", "LIST"]));
        let grown = list
            .split_whitespace()
            .filter_map(|f| f.strip_prefix("rbs="))
            .filter(|n| n.parse::<u64>().is_ok_and(|n| n > 1024))
            .count();
        if grown == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{grown} sessions still hold a grown read buffer"
        );
        thread::sleep(Duration::from_millis(200));
    }
}
