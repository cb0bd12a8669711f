//! Subscriptions survive the death of their node: SIGKILL the master that
//! holds a client's SUBSCRIBE/PSUBSCRIBE connection and SSUBSCRIBE channel
//! (3 masters + 3 replicas, `cluster-node-timeout` 1000 ms); messages
//! published through the proxy after the failover reach the subscriber,
//! which never sees an extra confirmation, and each subscription exists
//! once in the cluster.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::{Proxy, Raw, key_in_range, text};
use slotway_fixture::{Cluster, require_binaries};
use slotway_resp::Value;

/// Reads replies with a short timeout: `None` when nothing came.
struct Reader {
    stream: TcpStream,
    buf: BytesMut,
}

impl Reader {
    fn new(raw: &Raw) -> Reader {
        let stream = raw.stream.try_clone().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Reader {
            stream,
            buf: BytesMut::new(),
        }
    }

    fn next(&mut self) -> Option<Value> {
        loop {
            if let Some((v, n)) = Value::decode(&self.buf).unwrap() {
                let _ = self.buf.split_to(n);
                return Some(v);
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("the proxy closed the subscriber's connection"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None;
                }
                Err(e) => panic!("read: {e}"),
            }
        }
    }
}

fn parts(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) | Value::Push(items) => items.iter().map(text).collect(),
        other => panic!("expected a pub/sub frame, got {other:?}"),
    }
}

/// Subscribes `c` to `news`, `n*` and the shard channel `shard`; checks
/// each confirmation.
fn subscribe(c: &mut Raw, shard: &str) {
    assert_eq!(
        parts(&c.cmd(&["SUBSCRIBE", "news"])),
        ["subscribe", "news", "1"]
    );
    assert_eq!(
        parts(&c.cmd(&["PSUBSCRIBE", "n*"])),
        ["psubscribe", "n*", "2"]
    );
    assert_eq!(
        parts(&c.cmd(&["SSUBSCRIBE", shard])),
        ["ssubscribe", shard, "1"]
    );
}

/// The kinds of frames each subscriber got for payload `tag`.
fn kinds_for(frames: &[Vec<String>], tag: &str) -> Vec<String> {
    let mut kinds: Vec<String> = frames
        .iter()
        .filter(|f| f.last().map(String::as_str) == Some(tag))
        .map(|f| f[0].clone())
        .collect();
    kinds.sort();
    kinds
}

#[test]
fn subscriptions_follow_a_failover() {
    require_binaries(&["redis-server", "redis-cli"]);
    let mut cluster = Cluster::builder()
        .masters(3)
        .replicas(1)
        .node_timeout_ms(1000)
        .start()
        .unwrap();
    let proxy = Proxy::start(&cluster.seeds());
    proxy.wait_ready();
    let mut publisher = proxy.client();

    // Which master holds the first subscriber's SUBSCRIBE connection?
    let mut sub2 = proxy.client();
    assert!(matches!(sub2.cmd(&["HELLO", "3"]), Value::Map(_)));
    let mut sub1 = proxy.client();
    assert_eq!(parts(&sub1.cmd(&["SUBSCRIBE", "probe"]))[0], "subscribe");
    let masters = cluster.master_addrs();
    let holder = masters
        .iter()
        .find(|m| {
            let node = &cluster.nodes()[cluster.index_of(m).unwrap()];
            node.cmd(&["PUBSUB", "NUMSUB", "probe"])
                .unwrap()
                .ends_with("\n1")
        })
        .expect("some master holds the subscription")
        .clone();
    assert_eq!(
        parts(&sub1.cmd(&["UNSUBSCRIBE", "probe"]))[0],
        "unsubscribe"
    );
    let range = cluster
        .slots()
        .unwrap()
        .into_iter()
        .find(|r| r.master == holder)
        .unwrap();
    let shard = key_in_range("sch", range.start, range.end);
    subscribe(&mut sub1, &shard);
    subscribe(&mut sub2, &shard);
    let mut readers = [Reader::new(&sub1), Reader::new(&sub2)];

    let publish = |p: &mut Raw, tag: &str| {
        assert!(matches!(
            p.cmd(&["PUBLISH", "news", tag]),
            Value::Integer(_)
        ));
        assert!(matches!(
            p.cmd(&["SPUBLISH", &shard, tag]),
            Value::Integer(_)
        ));
    };
    publish(&mut publisher, "before");
    let mut seen: [Vec<Vec<String>>; 2] = [Vec::new(), Vec::new()];
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.iter().any(|s| kinds_for(s, "before").len() < 3) {
        assert!(
            Instant::now() < deadline,
            "no messages before the kill: {seen:?}"
        );
        for (r, s) in readers.iter_mut().zip(seen.iter_mut()) {
            s.extend(r.next().as_ref().map(parts));
        }
    }

    let killed_at = Instant::now();
    let idx = cluster.index_of(&holder).unwrap();
    cluster.node_mut(idx).kill();
    // Subscribing while the connection is lost (or about to be found
    // lost): confirmed as Redis would, and carried to the new node.
    sub1.send_cmd(&["SUBSCRIBE", "late"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while cluster.master_addrs().contains(&holder) || cluster.master_addrs().len() < 3 {
        assert!(Instant::now() < deadline, "no replica was promoted");
        std::thread::sleep(Duration::from_millis(20));
    }
    let promoted_at = Instant::now();

    // Publish until every kind of message reaches both subscribers.
    let mut round = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    let delivered_at = loop {
        let tag = format!("after-{round}");
        publish(&mut publisher, &tag);
        let until = Instant::now() + Duration::from_millis(200);
        while Instant::now() < until {
            for (r, s) in readers.iter_mut().zip(seen.iter_mut()) {
                s.extend(r.next().as_ref().map(parts));
            }
        }
        if seen.iter().all(|s| kinds_for(s, &tag).len() == 3) {
            break Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "messages after the failover never all arrived; last frames: {:?} / {:?}",
            seen[0].iter().rev().take(4).collect::<Vec<_>>(),
            seen[1].iter().rev().take(4).collect::<Vec<_>>(),
        );
        round += 1;
    };
    eprintln!(
        "subscriptions: master killed, replica promoted after {:?}, all messages delivered {:?} after the promotion ({round} publish rounds)",
        promoted_at - killed_at,
        delivered_at - promoted_at
    );

    // From now on every message arrives, once.
    for i in 0..5 {
        let tag = format!("final-{i}");
        publish(&mut publisher, &tag);
        let until = Instant::now() + Duration::from_secs(5);
        while seen.iter().any(|s| kinds_for(s, &tag).len() < 3) {
            assert!(Instant::now() < until, "{tag} not delivered: {seen:?}");
            for (r, s) in readers.iter_mut().zip(seen.iter_mut()) {
                s.extend(r.next().as_ref().map(parts));
            }
        }
        for s in &seen {
            assert_eq!(kinds_for(s, &tag), ["message", "pmessage", "smessage"]);
        }
    }
    // (PUBLISH counts the receivers on the node it ran on only.)
    assert!(matches!(
        publisher.cmd(&["PUBLISH", "late", "x"]),
        Value::Integer(_)
    ));
    let until = Instant::now() + Duration::from_secs(5);
    while !seen[0].contains(&vec!["message".into(), "late".into(), "x".into()]) {
        assert!(
            Instant::now() < until,
            "no message on `late`: {:?}",
            seen[0]
        );
        seen[0].extend(readers[0].next().as_ref().map(parts));
    }
    // No confirmation reached a client but those it asked for.
    let confirmations = |s: &[Vec<String>]| -> Vec<Vec<String>> {
        s.iter()
            .filter(|f| f[0].ends_with("subscribe"))
            .cloned()
            .collect()
    };
    assert_eq!(confirmations(&seen[0]), [["subscribe", "late", "3"]]);
    assert!(confirmations(&seen[1]).is_empty(), "{:?}", seen[1]);
    // Each subscription exists once in the cluster.
    let numsub = publisher.cmd(&["PUBSUB", "NUMSUB", "news"]);
    assert_eq!(text(&numsub_count(&numsub)), "2", "{numsub:?}");
    let shardnumsub = publisher.cmd(&["PUBSUB", "SHARDNUMSUB", &shard]);
    assert_eq!(text(&numsub_count(&shardnumsub)), "2", "{shardnumsub:?}");
    assert_eq!(publisher.cmd(&["PUBSUB", "NUMPAT"]), Value::Integer(2));
    // The connections still work as subscribers: counts as Redis keeps them.
    drop(readers);
    for c in [&sub1, &sub2] {
        // The readers shared the sockets' (short) read timeout.
        c.stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
    }
    assert_eq!(
        parts(&sub1.cmd(&["SUBSCRIBE", "more"])),
        ["subscribe", "more", "4"]
    );
    assert_eq!(
        parts(&sub2.cmd(&["SUNSUBSCRIBE", &shard])),
        ["sunsubscribe", &shard, "0"]
    );
}

fn numsub_count(v: &Value) -> Value {
    match v {
        Value::Array(items) => items[1].clone(),
        other => panic!("NUMSUB reply {other:?}"),
    }
}
