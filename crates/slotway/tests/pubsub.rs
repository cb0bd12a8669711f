//! Pub/Sub through the proxy, against a real 3-master cluster: SUBSCRIBE and
//! PSUBSCRIBE on the client's own subscriber connection (messages published
//! through any other client reach it), RESP2 subscribed-mode restrictions,
//! RESP3 pushes, SSUBSCRIBE per node by channel slot with SPUBLISH, and the
//! PUBSUB introspection commands summed over masters.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::thread;
use std::time::{Duration, Instant};

use common::{Raw, cluster_and_proxy, is_ok, key_in_range, text};
use slotway_resp::Value;

const NOT_ALLOWED_GET: &str = "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context";

fn b(s: &str) -> Value {
    Value::Bulk(s.as_bytes().to_vec().into())
}

fn int(n: i64) -> Value {
    Value::Integer(n)
}

/// A RESP2 pub/sub frame: an array of the given parts.
fn frame(parts: Vec<Value>) -> Value {
    Value::Array(parts)
}

fn items(v: Value) -> Vec<Value> {
    match v {
        Value::Array(i) | Value::Push(i) | Value::Set(i) => i,
        other => panic!("expected an aggregate, got {other:?}"),
    }
}

/// Polls `check` (bounded) until it is true.
fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not after 5 s");
        thread::sleep(Duration::from_millis(10));
    }
}

/// PUBSUB NUMSUB for one channel, through `c`.
fn numsub(c: &mut Raw, channel: &str) -> i64 {
    let reply = items(c.cmd(&["PUBSUB", "NUMSUB", channel]));
    assert_eq!(reply.len(), 2, "{reply:?}");
    assert_eq!(reply[0], b(channel));
    match reply[1] {
        Value::Integer(n) => n,
        ref other => panic!("NUMSUB count {other:?}"),
    }
}

#[test]
fn subscribe_receives_publish_from_another_client_resp2() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut sub = proxy.client();
    let mut publisher = proxy.client();

    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "news"]),
        frame(vec![b("subscribe"), b("news"), int(1)])
    );
    let payloads: Vec<Vec<u8>> = vec![
        b"hello world".to_vec(),
        b"".to_vec(),
        b"bin\r\n\x00\xff$-1\r\n*2\r\n".to_vec(),
        vec![b'x'; 100_000],
    ];
    for p in &payloads {
        let n = publisher.cmd(&[b"PUBLISH".as_slice(), b"news", p]);
        assert!(matches!(n, Value::Integer(0 | 1)), "PUBLISH: {n:?}");
    }
    for p in &payloads {
        assert_eq!(
            sub.read(),
            frame(vec![b("message"), b("news"), Value::Bulk(p.clone().into())])
        );
    }
    // Publishes through many clients (reaching different masters) arrive too.
    for i in 0..10 {
        let mut p = proxy.client();
        let msg = format!("from client {i}");
        assert!(matches!(
            p.cmd(&["PUBLISH", "news", &msg]),
            Value::Integer(_)
        ));
        assert_eq!(sub.read(), frame(vec![b("message"), b("news"), b(&msg)]));
    }

    // RESP2 subscribed mode: only (un)subscribe, PING, QUIT, RESET.
    assert_eq!(text(&sub.cmd(&["GET", "k"])), NOT_ALLOWED_GET);
    assert_eq!(
        text(&sub.cmd(&["set", "k", "v"])),
        NOT_ALLOWED_GET.replace("'get'", "'set'")
    );
    assert_eq!(sub.cmd(&["PING"]), frame(vec![b("pong"), b("")]));
    assert_eq!(sub.cmd(&["PING", "hi"]), frame(vec![b("pong"), b("hi")]));
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "other"]),
        frame(vec![b("subscribe"), b("other"), int(2)])
    );
    assert_eq!(
        publisher.cmd(&["SET", "k", "v"]),
        Value::Simple("OK".into())
    );
    assert!(matches!(
        publisher.cmd(&["PUBLISH", "other", "o"]),
        Value::Integer(_)
    ));
    assert_eq!(sub.read(), frame(vec![b("message"), b("other"), b("o")]));

    // UNSUBSCRIBE of one channel keeps the mode; of all leaves it.
    assert_eq!(
        sub.cmd(&["UNSUBSCRIBE", "other"]),
        frame(vec![b("unsubscribe"), b("other"), int(1)])
    );
    assert_eq!(text(&sub.cmd(&["GET", "k"])), NOT_ALLOWED_GET);
    assert_eq!(
        sub.cmd(&["UNSUBSCRIBE"]),
        frame(vec![b("unsubscribe"), b("news"), int(0)])
    );
    assert_eq!(text(&sub.cmd(&["GET", "k"])), "v");
    assert_eq!(text(&sub.cmd(&["PING"])), "PONG");
    // No more messages for it.
    assert!(matches!(
        publisher.cmd(&["PUBLISH", "news", "late"]),
        Value::Integer(_)
    ));
    assert_eq!(text(&sub.cmd(&["ECHO", "next"])), "next");
}

#[test]
fn subscribe_with_a_resp3_client_gets_pushes_and_may_run_commands() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut sub = proxy.client();
    let mut publisher = proxy.client();
    assert!(matches!(sub.cmd(&["HELLO", "3"]), Value::Map(_)));
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "r3"]),
        Value::Push(vec![b("subscribe"), b("r3"), int(1)])
    );
    assert!(matches!(
        publisher.cmd(&["PUBLISH", "r3", "pushed"]),
        Value::Integer(_)
    ));
    assert_eq!(
        sub.read(),
        Value::Push(vec![b("message"), b("r3"), b("pushed")])
    );
    // RESP3: any command while subscribed.
    assert!(is_ok(&sub.cmd(&["SET", "k3", "v"])));
    assert_eq!(text(&sub.cmd(&["GET", "k3"])), "v");
    assert_eq!(text(&sub.cmd(&["PING"])), "PONG");
    assert_eq!(sub.cmd(&["GET", "missing"]), Value::Null);
    // A message published by the subscriber itself, between replies.
    assert!(matches!(
        sub.cmd(&["PUBLISH", "r3", "self"]),
        Value::Integer(_)
    ));
    assert_eq!(
        sub.read(),
        Value::Push(vec![b("message"), b("r3"), b("self")])
    );
    assert_eq!(
        sub.cmd(&["PSUBSCRIBE", "r*"]),
        Value::Push(vec![b("psubscribe"), b("r*"), int(2)])
    );
    assert!(matches!(
        publisher.cmd(&["PUBLISH", "r3", "both"]),
        Value::Integer(_)
    ));
    let mut got = vec![sub.read(), sub.read()];
    got.sort_by_key(|v| format!("{v:?}"));
    assert_eq!(
        got,
        vec![
            Value::Push(vec![b("message"), b("r3"), b("both")]),
            Value::Push(vec![b("pmessage"), b("r*"), b("r3"), b("both")]),
        ]
    );
    assert_eq!(
        sub.cmd(&["UNSUBSCRIBE", "r3"]),
        Value::Push(vec![b("unsubscribe"), b("r3"), int(1)])
    );
    assert_eq!(
        sub.cmd(&["PUNSUBSCRIBE"]),
        Value::Push(vec![b("punsubscribe"), b("r*"), int(0)])
    );
    assert_eq!(text(&sub.cmd(&["GET", "k3"])), "v");
}

#[test]
fn psubscribe_receives_matching_channels_only() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut sub = proxy.client();
    let mut publisher = proxy.client();
    assert_eq!(
        sub.cmd(&["PSUBSCRIBE", "news.*"]),
        frame(vec![b("psubscribe"), b("news.*"), int(1)])
    );
    assert!(matches!(
        publisher.cmd(&["PUBLISH", "weather.today", "rain"]),
        Value::Integer(0)
    ));
    for (ch, msg) in [("news.sport", "goal"), ("news.art", "paint")] {
        assert!(matches!(
            publisher.cmd(&["PUBLISH", ch, msg]),
            Value::Integer(_)
        ));
        // The next frame is this one: the non-matching publish was not delivered.
        assert_eq!(
            sub.read(),
            frame(vec![b("pmessage"), b("news.*"), b(ch), b(msg)])
        );
    }
    assert_eq!(text(&sub.cmd(&["GET", "k"])), NOT_ALLOWED_GET);
    assert_eq!(
        sub.cmd(&["PUNSUBSCRIBE", "news.*"]),
        frame(vec![b("punsubscribe"), b("news.*"), int(0)])
    );
    assert_eq!(sub.cmd(&["GET", "k"]), Value::Null);
}

#[test]
fn ssubscribe_on_every_master_receives_spublish() {
    let (cluster, proxy) = cluster_and_proxy();
    let map = cluster.slots().expect("slot map");
    assert_eq!(map.len(), 3);
    let channels: Vec<String> = map
        .iter()
        .map(|r| key_in_range("shard", r.start, r.end))
        .collect();
    let mut sub = proxy.client();
    let mut publisher = proxy.client();
    for ch in &channels {
        let reply = items(sub.cmd(&["SSUBSCRIBE", ch]));
        assert_eq!(reply.len(), 3, "{reply:?}");
        assert_eq!(reply[0], b("ssubscribe"));
        assert_eq!(reply[1], b(ch));
        assert!(matches!(reply[2], Value::Integer(n) if n >= 1), "{reply:?}");
    }
    for round in 0..3 {
        for ch in &channels {
            let msg = format!("{ch} #{round}");
            assert_eq!(
                publisher.cmd(&["SPUBLISH", ch, &msg]),
                int(1),
                "SPUBLISH {ch} reaches the one subscriber on the owner"
            );
            assert_eq!(sub.read(), frame(vec![b("smessage"), b(ch), b(&msg)]));
        }
    }
    // Channels of one slot in one command; of two slots: CROSSSLOT.
    let reply = items(sub.cmd(&["SSUBSCRIBE", "{t}a", "{t}b"]));
    assert_eq!(&reply[..2], &[b("ssubscribe"), b("{t}a")]);
    let reply = items(sub.read());
    assert_eq!(&reply[..2], &[b("ssubscribe"), b("{t}b")]);
    assert_eq!(
        text(&publisher.cmd(&["SSUBSCRIBE", &channels[0], &channels[1]])),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
    assert_eq!(publisher.cmd(&["GET", "k"]), Value::Null, "not subscribed");
    assert_eq!(publisher.cmd(&["SPUBLISH", "{t}b", "tb"]), int(1));
    assert_eq!(sub.read(), frame(vec![b("smessage"), b("{t}b"), b("tb")]));
    assert_eq!(text(&sub.cmd(&["GET", "k"])), NOT_ALLOWED_GET);
    // PUBSUB SHARDNUMSUB / SHARDCHANNELS over every master.
    let reply = items(publisher.cmd(&[
        "PUBSUB",
        "SHARDNUMSUB",
        &channels[0],
        &channels[1],
        &channels[2],
        "nobody",
    ]));
    assert_eq!(
        reply,
        vec![
            b(&channels[0]),
            int(1),
            b(&channels[1]),
            int(1),
            b(&channels[2]),
            int(1),
            b("nobody"),
            int(0)
        ]
    );
    let shard_channels: BTreeSet<String> = items(publisher.cmd(&["PUBSUB", "SHARDCHANNELS"]))
        .iter()
        .map(text)
        .collect();
    let mut want: BTreeSet<String> = channels.iter().cloned().collect();
    want.extend(["{t}a".to_string(), "{t}b".to_string()]);
    assert_eq!(shard_channels, want);

    // SUNSUBSCRIBE of everything leaves subscribed mode.
    sub.send_cmd(&["SUNSUBSCRIBE"]);
    let mut gone = BTreeSet::new();
    for _ in 0..want.len() {
        let reply = items(sub.read());
        assert_eq!(reply[0], b("sunsubscribe"), "{reply:?}");
        gone.insert(text(&reply[1]));
    }
    assert_eq!(gone, want);
    assert_eq!(sub.cmd(&["GET", "k"]), Value::Null);
    assert_eq!(publisher.cmd(&["SPUBLISH", &channels[0], "late"]), int(0));
}

#[test]
fn pubsub_numsub_channels_numpat_count_subscribers_over_masters() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut admin = proxy.client();
    assert_eq!(
        items(admin.cmd(&["PUBSUB", "NUMSUB", "c1", "c2"])),
        vec![b("c1"), int(0), b("c2"), int(0)]
    );
    // Several subscribers: their connections land on different masters.
    let mut subs: Vec<Raw> = (0..6).map(|_| proxy.client()).collect();
    for s in &mut subs {
        assert_eq!(
            s.cmd(&["SUBSCRIBE", "c1"]),
            frame(vec![b("subscribe"), b("c1"), int(1)])
        );
    }
    assert_eq!(
        subs[0].cmd(&["SUBSCRIBE", "c2"]),
        frame(vec![b("subscribe"), b("c2"), int(2)])
    );
    assert_eq!(
        items(admin.cmd(&["PUBSUB", "NUMSUB", "c1", "c2", "c3"])),
        vec![b("c1"), int(6), b("c2"), int(1), b("c3"), int(0)]
    );
    let channels: BTreeSet<String> = items(admin.cmd(&["PUBSUB", "CHANNELS"]))
        .iter()
        .map(text)
        .collect();
    assert_eq!(
        channels,
        ["c1", "c2"].iter().map(ToString::to_string).collect()
    );
    let channels = items(admin.cmd(&["PUBSUB", "CHANNELS", "c1*"]));
    assert_eq!(channels, vec![b("c1")], "no duplicates");
    assert_eq!(admin.cmd(&["PUBSUB", "NUMPAT"]), int(0));
    assert_eq!(
        subs[1].cmd(&["PSUBSCRIBE", "p*"]),
        frame(vec![b("psubscribe"), b("p*"), int(2)])
    );
    assert_eq!(
        subs[2].cmd(&["PSUBSCRIBE", "q*"]),
        frame(vec![b("psubscribe"), b("q*"), int(2)])
    );
    assert_eq!(admin.cmd(&["PUBSUB", "NUMPAT"]), int(2));
    // A message reaches every subscriber.
    assert!(matches!(
        admin.cmd(&["PUBLISH", "c1", "all"]),
        Value::Integer(_)
    ));
    for s in &mut subs {
        assert_eq!(s.read(), frame(vec![b("message"), b("c1"), b("all")]));
    }
    // Subscribers that disconnect are gone from the counts.
    subs.truncate(2);
    wait_until("NUMSUB c1 back to 2 after 4 subscribers left", || {
        numsub(&mut admin, "c1") == 2
    });
    wait_until("NUMPAT back to 1", || {
        admin.cmd(&["PUBSUB", "NUMPAT"]) == int(1)
    });
    subs.clear();
    wait_until("NUMSUB c1 back to 0", || numsub(&mut admin, "c1") == 0);
    assert_eq!(admin.cmd(&["PUBSUB", "CHANNELS"]), Value::Array(vec![]));
}

#[test]
fn reset_and_quit_while_subscribed() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut admin = proxy.client();
    let mut sub = proxy.client();
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "rq"]),
        frame(vec![b("subscribe"), b("rq"), int(1)])
    );
    assert_eq!(numsub(&mut admin, "rq"), 1);
    assert_eq!(text(&sub.cmd(&["RESET"])), "RESET");
    assert_eq!(
        sub.cmd(&["GET", "k"]),
        Value::Null,
        "RESET leaves subscribed mode"
    );
    wait_until("NUMSUB rq back to 0 after RESET", || {
        numsub(&mut admin, "rq") == 0
    });
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "rq"]),
        frame(vec![b("subscribe"), b("rq"), int(1)])
    );
    assert_eq!(text(&sub.cmd(&["QUIT"])), "OK");
    assert!(sub.closed());
    wait_until("NUMSUB rq back to 0 after QUIT", || {
        numsub(&mut admin, "rq") == 0
    });
}

// Pipelined subscription commands must keep Redis's order: a reply owed for
// a command sent after (P|S)SUBSCRIBE / UNSUBSCRIBE comes after its
// confirmation, and what the command may do depends on the commands before it.

#[test]
fn pipelined_subscribe_then_ping_keeps_order() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut sub = proxy.client();
    sub.send(b"*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n*1\r\n$4\r\nPING\r\n");
    assert_eq!(
        sub.read(),
        frame(vec![b("subscribe"), b("ch"), int(1)]),
        "SUBSCRIBE ch; PING pipelined: the confirmation comes first"
    );
    assert_eq!(sub.read(), frame(vec![b("pong"), b("")]));
}

#[test]
fn pipelined_subscribe_then_commands_keep_order_resp3() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut sub = proxy.client();
    assert!(matches!(sub.cmd(&["HELLO", "3"]), Value::Map(_)));
    sub.send(
        b"*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n",
    );
    let got = vec![sub.read(), sub.read(), sub.read()];
    assert_eq!(
        got,
        vec![
            Value::Push(vec![b("subscribe"), b("ch"), int(1)]),
            Value::Simple("PONG".into()),
            b("x"),
        ],
        "SUBSCRIBE ch; PING; ECHO x pipelined over RESP3"
    );
}

#[test]
fn pipelined_unsubscribe_then_get_runs_the_get() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut sub = proxy.client();
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "ch"]),
        frame(vec![b("subscribe"), b("ch"), int(1)])
    );
    sub.send(b"*1\r\n$11\r\nUNSUBSCRIBE\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    assert_eq!(sub.read(), frame(vec![b("unsubscribe"), b("ch"), int(0)]));
    assert_eq!(
        sub.read(),
        Value::Null,
        "UNSUBSCRIBE; GET pipelined: Redis runs the GET (subscribed mode is over)"
    );
}

#[test]
fn pipelined_get_then_subscribe_keeps_order() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut sub = proxy.client();
    assert!(is_ok(&sub.cmd(&["SET", "k", "v"])));
    sub.send(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n");
    assert_eq!(sub.read(), b("v"));
    assert_eq!(sub.read(), frame(vec![b("subscribe"), b("a"), int(1)]));
    assert_eq!(sub.read(), frame(vec![b("subscribe"), b("b"), int(2)]));
}

#[test]
fn subscribed_mode_checks_come_in_redis_order() {
    // Redis checks the command, its arity and (in a cluster) its slots before
    // the subscribed-mode restriction.
    let (_cluster, proxy) = cluster_and_proxy();
    let mut sub = proxy.client();
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "ch"]),
        frame(vec![b("subscribe"), b("ch"), int(1)])
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &["SSUBSCRIBE", "a", "b"],
            "CROSSSLOT Keys in request don't hash to the same slot",
        ),
        (
            &["NOSUCH", "x"],
            "ERR unknown command 'NOSUCH', with args beginning with: 'x' ",
        ),
        (&["GET"], "ERR wrong number of arguments for 'get' command"),
        (&["GET", "k"], NOT_ALLOWED_GET),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(cmd, want)| {
            let got = text(&sub.cmd(cmd));
            (got != *want).then(|| format!("{cmd:?}: got {got:?}, Redis says {want:?}"))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "in RESP2 subscribed mode:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn ssubscribe_counts_are_the_clients_total_as_in_one_redis() {
    // One Redis counts all of a client's shard channels in each
    // (s)subscribe confirmation: 1, 2, 3 …; the proxy looks like one Redis.
    let (cluster, proxy) = cluster_and_proxy();
    let map = cluster.slots().expect("slot map");
    let channels: Vec<String> = map
        .iter()
        .map(|r| key_in_range("count", r.start, r.end))
        .collect();
    let mut sub = proxy.client();
    let mut counts = Vec::new();
    for ch in &channels {
        let reply = items(sub.cmd(&["SSUBSCRIBE", ch]));
        counts.push(reply[2].clone());
    }
    let reply = items(sub.cmd(&["SUNSUBSCRIBE", &channels[0]]));
    counts.push(reply[2].clone());
    assert_eq!(
        counts,
        vec![int(1), int(2), int(3), int(2)],
        "SSUBSCRIBE on 3 masters then SUNSUBSCRIBE of the first"
    );
}

#[test]
fn unsubscribe_without_subscriptions_answers_like_redis() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut c = proxy.client();
    for (cmd, kind) in [
        ("UNSUBSCRIBE", "unsubscribe"),
        ("PUNSUBSCRIBE", "punsubscribe"),
        ("SUNSUBSCRIBE", "sunsubscribe"),
    ] {
        assert_eq!(
            c.cmd(&[cmd]),
            frame(vec![b(kind), Value::Null, int(0)]),
            "{cmd} with no subscription"
        );
        assert_eq!(
            c.cmd(&["GET", "k"]),
            Value::Null,
            "not subscribed after {cmd}"
        );
    }
    assert_eq!(
        c.cmd(&["UNSUBSCRIBE", "never"]),
        frame(vec![b("unsubscribe"), b("never"), int(0)])
    );
    assert_eq!(text(&c.cmd(&["PING"])), "PONG");
}
