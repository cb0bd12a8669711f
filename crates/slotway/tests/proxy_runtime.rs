//! `PROXY CONFIG SET` changing a running proxy, and `PROXY MULTIPLEXING
//! OFF` giving a client its own node connections, against a real cluster:
//! the drop-in binary (`slotway redis-cluster-proxy`) for what the binary
//! owns (log level, logs on standard output, redis-cluster-proxy's error
//! wording), the in-process proxy for connection accounting on the nodes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Proxy, Raw, bulk, is_ok, text};
use slotway_core::config::Multiplexing;
use slotway_fixture::{Cluster, free_port};
use slotway_resp::Value;

const BIN: &str = env!("CARGO_BIN_EXE_slotway");

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The drop-in on `port`, its standard output in `log`.
fn start_rcp(
    cluster: &Cluster,
    port: u16,
    log: &std::path::Path,
    extra: &[&str],
) -> common::OwnedChild {
    let out = std::fs::File::create(log).unwrap();
    let child = Command::new(BIN)
        .arg("redis-cluster-proxy")
        .args(["-p", &port.to_string(), "--bind", "127.0.0.1"])
        .args(extra)
        .arg(&cluster.seeds()[0])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = common::OwnedChild(child);
    common::wait_child_serving(&mut guard.0, port, &[&["SET", "warm", "1"]], is_ok);
    guard
}

#[test]
fn rcp_config_set_changes_the_running_proxy() {
    let cluster = Cluster::start(3, 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("proxy.log");
    let port = free_port();
    let _proxy = start_rcp(
        &cluster,
        port,
        &log,
        &[
            "--log-level",
            "info",
            "--dump-queries",
            "--dump-queues",
            "--threads",
            "2",
        ],
    );
    let mut c = Raw::connect(("127.0.0.1", port));

    // Cross-slot off: redis-cluster-proxy's own refusal, then on at runtime.
    let refused = text(&c.cmd(&["MSET", "a", "1", "b", "2", "c", "3"]));
    assert!(
        refused.starts_with("ERR Cross-slot queries are disabled"),
        "{refused}"
    );
    let pair = |v: Value| match v {
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>(),
        other => panic!("expected [name, value], got {other:?}"),
    };
    assert_eq!(
        pair(c.cmd(&["PROXY", "CONFIG", "GET", "enable-cross-slot"])),
        ["enable-cross-slot", "0"]
    );
    assert!(is_ok(&c.cmd(&[
        "PROXY",
        "CONFIG",
        "SET",
        "enable-cross-slot",
        "1"
    ])));
    assert_eq!(
        pair(c.cmd(&["PROXY", "CONFIG", "GET", "enable-cross-slot"])),
        ["enable-cross-slot", "1"]
    );
    assert!(is_ok(&c.cmd(&["MSET", "a", "1", "b", "2", "c", "3"])));
    assert_eq!(
        c.cmd(&["MGET", "a", "b", "c"]),
        Value::Array(vec![
            Value::Bulk("1".into()),
            Value::Bulk("2".into()),
            Value::Bulk("3".into())
        ])
    );
    // DBSIZE is the sum over the masters.
    let total: i64 = cluster
        .master_addrs()
        .iter()
        .map(|a| Raw::connect(a.as_str()).cmd(&["DBSIZE"]))
        .map(|v| text(&v).parse::<i64>().unwrap())
        .sum();
    assert_eq!(text(&c.cmd(&["DBSIZE"])), total.to_string());

    // What the harness reads, and a refusal naming the option.
    assert_eq!(
        pair(c.cmd(&["PROXY", "CONFIG", "GET", "threads"])),
        ["threads", "2"]
    );
    assert_eq!(
        pair(c.cmd(&["PROXY", "CONFIG", "GET", "max-clients"])),
        ["max-clients", "10000"]
    );
    // Open as redis-cluster-proxy for tuning, but nobody anonymous may
    // stop the proxy.
    assert!(text(&c.cmd(&["PROXY", "SHUTDOWN"])).starts_with("NOPERM slotway"));
    let err = text(&c.cmd(&["PROXY", "CONFIG", "SET", "threads", "4"]));
    assert!(
        err.starts_with("ERR ") && err.contains("'threads'"),
        "{err}"
    );

    // The log level, changed at runtime; logs go to standard output.
    assert!(is_ok(&c.cmd(&["PROXY", "LOG", "debug", "hidden-at-info"])));
    assert!(is_ok(&c.cmd(&["PROXY", "LOG", "shown-at-info"])));
    assert!(is_ok(&c.cmd(&[
        "PROXY",
        "CONFIG",
        "SET",
        "log-level",
        "debug"
    ])));
    assert_eq!(
        pair(c.cmd(&["PROXY", "CONFIG", "GET", "log-level"])),
        ["log-level", "debug"]
    );
    assert!(is_ok(&c.cmd(&["PROXY", "LOG", "debug", "shown-at-debug"])));
    // dump-queries (given on the command line) shows requests at debug.
    c.cmd(&["GET", "dumped-key-name"]);
    wait_until("the log lines", || {
        let s = std::fs::read_to_string(&log).unwrap();
        s.contains("shown-at-info") && s.contains("shown-at-debug") && s.contains("dumped-key-name")
    });
    assert!(
        !std::fs::read_to_string(&log)
            .unwrap()
            .contains("hidden-at-info")
    );
    assert!(text(&c.cmd(&["PROXY", "CONFIG", "SET", "log-level", "loud"])).starts_with("ERR"));

    // maxclients, lowered at runtime, turns the next client away.
    assert!(is_ok(&c.cmd(&[
        "PROXY",
        "CONFIG",
        "SET",
        "maxclients",
        "1"
    ])));
    let mut extra = Raw::connect(("127.0.0.1", port));
    let reply = extra.try_read();
    assert!(
        reply
            .as_ref()
            .is_some_and(|r| text(r).contains("max number of clients")),
        "{reply:?}"
    );
    assert!(is_ok(&c.cmd(&[
        "PROXY",
        "CONFIG",
        "SET",
        "maxclients",
        "100"
    ])));
    assert_eq!(
        bulk(&Raw::connect(("127.0.0.1", port)).cmd(&["GET", "a"])),
        b"1"
    );

    // As in redis-cluster-proxy, MULTI moves a client to private
    // connections for good.
    let mut t = Raw::connect(("127.0.0.1", port));
    assert_eq!(text(&t.cmd(&["PROXY", "MULTIPLEXING", "STATUS"])), "on");
    assert!(is_ok(&t.cmd(&["MULTI"])));
    assert_eq!(text(&t.cmd(&["SET", "a", "9"])), "QUEUED");
    assert_eq!(
        t.cmd(&["EXEC"]),
        Value::Array(vec![Value::Simple("OK".into())])
    );
    assert_eq!(text(&t.cmd(&["PROXY", "MULTIPLEXING", "STATUS"])), "off");
    assert_eq!(bulk(&t.cmd(&["GET", "a"])), b"9");

    // A protocol error: Redis's message, then the connection closes.
    let mut bad = Raw::connect(("127.0.0.1", port));
    bad.send(b"*1\r\n$x\r\n");
    let err = text(&bad.read());
    assert!(err.contains("Protocol error"), "{err}");
    assert!(bad.closed());
}

/// Ids of `node`'s clients whose last command was `cmd`.
fn clients_running(node: &str, cmd: &str) -> HashSet<String> {
    let mut admin = Raw::connect(node);
    let list = text(&admin.cmd(&["CLIENT", "LIST"]));
    list.lines()
        .filter(|l| l.split(' ').any(|f| f == format!("cmd={cmd}")))
        .filter_map(|l| {
            l.split(' ')
                .find_map(|f| f.strip_prefix("id="))
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn multiplexing_off_gives_the_client_its_own_node_connections() {
    let cluster = Cluster::start(3, 0).unwrap();
    let proxy = Proxy::start(&cluster.seeds());
    proxy.wait_ready();
    let node = cluster.master_addrs()[0].clone();
    // A key of that node's first slot range.
    let mut probe = proxy.client();
    let map = cluster.slots().unwrap();
    let key = (0..10_000)
        .map(|i| format!("k{i}"))
        .find(|k| {
            let slot = slotway_hashkit::key_slot(k.as_bytes());
            map.iter()
                .any(|r| r.master == node && (r.start..=r.end).contains(&slot))
        })
        .unwrap();
    assert!(is_ok(&probe.cmd(&["SET", &key, "v"])));

    let mut c = proxy.client();
    assert_eq!(text(&c.cmd(&["PROXY", "MULTIPLEXING", "STATUS"])), "on");
    assert_eq!(text(&c.cmd(&["PROXY", "CLUSTER", "CONNECTION"])), "shared");
    // OFF, pipelined with reads: ordered replies, each on the new connection.
    c.send_cmd(&["PROXY", "MULTIPLEXING", "OFF"]);
    for _ in 0..20 {
        c.send_cmd(&["GETRANGE", key.as_str(), "0", "-1"]);
    }
    assert!(is_ok(&c.read()));
    for _ in 0..20 {
        assert_eq!(bulk(&c.read()), b"v");
    }
    assert_eq!(text(&c.cmd(&["PROXY", "MULTIPLEXING", "STATUS"])), "off");
    assert_eq!(text(&c.cmd(&["PROXY", "CLUSTER", "CONNECTION"])), "private");
    // Exactly one connection on the node ran this client's GETRANGEs.
    let private = clients_running(&node, "getrange");
    assert_eq!(private.len(), 1, "{private:?}");
    // Another (multiplexed) client's GETRANGE does not use it.
    assert_eq!(bulk(&probe.cmd(&["GETRANGE", &key, "0", "-1"])), b"v");
    assert!(is_ok(&c.cmd(&["SET", &key, "w"])));
    assert_eq!(bulk(&c.cmd(&["GET", &key])), b"w");
    let id = private.iter().next().unwrap().clone();
    let list = text(&Raw::connect(node.as_str()).cmd(&["CLIENT", "LIST", "ID", &id]));
    assert!(
        list.contains("cmd=get"),
        "the private connection ran the GET: {list}"
    );
    // Writes and reads of every node still work, keys on all masters.
    for i in 0..50 {
        let k = format!("spread:{i}");
        assert!(is_ok(&c.cmd(&["SET", &k, &i.to_string()])));
        assert_eq!(bulk(&c.cmd(&["GET", &k])), i.to_string().as_bytes());
    }
    // The client leaves: its connection to the node goes.
    drop(c);
    wait_until("the private connection to close", || {
        !text(&Raw::connect(node.as_str()).cmd(&["CLIENT", "LIST", "ID", &id])).contains("id=")
    });

    // Switching while writes are in flight on the shared connection: a read
    // sent after them on the private one never overtakes them.
    let mut e = proxy.client();
    for _ in 0..300 {
        e.send_cmd(&["INCR", "switch:counter"]);
    }
    e.send_cmd(&["PROXY", "MULTIPLEXING", "OFF"]);
    e.send_cmd(&["GET", "switch:counter"]);
    for i in 1..=300 {
        assert_eq!(e.read(), Value::Integer(i));
    }
    assert!(is_ok(&e.read()));
    assert_eq!(bulk(&e.read()), b"300");

    // CLIENT KILL of a private client frees its connections too.
    let mut d = proxy.client();
    assert!(is_ok(&d.cmd(&["PROXY", "MULTIPLEXING", "OFF"])));
    assert_eq!(d.cmd(&["STRLEN", &key]), Value::Integer(1));
    let mine = clients_running(&node, "strlen");
    assert_eq!(mine.len(), 1, "{mine:?}");
    let did = text(&d.cmd(&["CLIENT", "ID"]));
    assert_eq!(text(&probe.cmd(&["CLIENT", "KILL", "ID", &did])), "1");
    assert!(d.closed());
    let kid = mine.iter().next().unwrap().clone();
    wait_until("the killed client's connection to close", || {
        !text(&Raw::connect(node.as_str()).cmd(&["CLIENT", "LIST", "ID", &kid])).contains("id=")
    });
}

#[test]
fn disable_multiplexing_always_and_never() {
    let cluster = Cluster::start(3, 0).unwrap();
    let always = Proxy::start_with(&cluster.seeds(), |c| {
        c.proxy.disable_multiplexing = Multiplexing::Always;
    });
    always.wait_ready();
    let mut a = always.client();
    assert_eq!(text(&a.cmd(&["PROXY", "MULTIPLEXING", "STATUS"])), "off");
    assert!(is_ok(&a.cmd(&["PROXY", "MULTIPLEXING", "OFF"])));
    assert!(is_ok(&a.cmd(&["SET", "x", "1"])));
    assert_eq!(bulk(&a.cmd(&["GET", "x"])), b"1");
    // RESET keeps the client private (it never goes back).
    assert_eq!(text(&a.cmd(&["RESET"])), "RESET");
    assert_eq!(text(&a.cmd(&["PROXY", "MULTIPLEXING", "STATUS"])), "off");

    let never = Proxy::start_with(&cluster.seeds(), |c| {
        c.proxy.disable_multiplexing = Multiplexing::Never;
    });
    never.wait_ready();
    let mut n = never.client();
    let err = text(&n.cmd(&["PROXY", "MULTIPLEXING", "OFF"]));
    assert!(
        err.starts_with("ERR slotway") && err.contains("never"),
        "{err}"
    );
    assert_eq!(text(&n.cmd(&["PROXY", "MULTIPLEXING", "STATUS"])), "on");
    // No authentication configured, outside the redis-cluster-proxy
    // drop-in: CONFIG SET still needs an admin user.
    assert!(
        text(&n.cmd(&["PROXY", "CONFIG", "SET", "max-inflight-per-client", "8"]))
            .starts_with("NOPERM slotway")
    );
}

#[test]
fn rcp_node_down_errors_use_its_phrases() {
    let mut cluster = Cluster::start(3, 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _proxy = start_rcp(&cluster, port, &dir.path().join("p.log"), &[]);
    let mut c = Raw::connect(("127.0.0.1", port));
    let map = cluster.slots().unwrap();
    let down = map[0].master.clone();
    let key = (0..10_000)
        .map(|i| format!("k{i}"))
        .find(|k| {
            let slot = slotway_hashkit::key_slot(k.as_bytes());
            (map[0].start..=map[0].end).contains(&slot)
        })
        .unwrap();
    assert!(is_ok(&c.cmd(&["SET", &key, "v"])));
    let i = cluster.index_of(&down).unwrap();
    cluster.node_mut(i).kill();
    // No failover comes (no replicas): the client gets an error naming the
    // node in redis-cluster-proxy's words, before its own timeout.
    let err = text(&c.cmd(&["GET", &key]));
    let lower = err.to_lowercase();
    assert!(
        lower.contains("could not connect to node") || lower.contains("cluster node disconnected"),
        "{err}"
    );
    assert!(err.contains(&down), "{err}");
}

#[test]
fn a_private_client_follows_ask_and_moved() {
    let cluster = Cluster::start(3, 0).unwrap();
    let proxy = Proxy::start(&cluster.seeds());
    proxy.wait_ready();
    let map = cluster.slots().unwrap();
    let (from, to) = (map[0].master.clone(), map[1].master.clone());
    let key = (0..10_000)
        .map(|i| format!("m{i}"))
        .find(|k| (map[0].start..=map[0].end).contains(&slotway_hashkit::key_slot(k.as_bytes())))
        .unwrap();
    let slot = slotway_hashkit::key_slot(key.as_bytes()).to_string();
    let (a, b) = (
        cluster.index_of(&from).unwrap(),
        cluster.index_of(&to).unwrap(),
    );
    let id = |i: usize| {
        cluster.nodes()[i]
            .cmd(&["CLUSTER", "MYID"])
            .unwrap()
            .trim()
            .to_owned()
    };
    let (a_id, b_id) = (id(a), id(b));
    let run = |i: usize, args: &[&str]| {
        let out = cluster.nodes()[i].cmd(args).unwrap();
        assert!(out.trim() == "OK", "{args:?}: {out}");
    };

    let mut c = proxy.client();
    assert!(is_ok(&c.cmd(&["PROXY", "MULTIPLEXING", "OFF"])));
    assert!(is_ok(&c.cmd(&["SET", &key, "v"])));
    // Migration under way, the key already moved: the old owner answers ASK.
    run(b, &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &a_id]);
    run(a, &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &b_id]);
    let (host, port) = to.rsplit_once(':').unwrap();
    run(a, &["MIGRATE", host, port, "", "0", "5000", "KEYS", &key]);
    assert_eq!(bulk(&c.cmd(&["GET", &key])), b"v", "ASK followed");
    // Migration done: MOVED, and the client's connection to the new owner.
    for i in [a, b] {
        run(i, &["CLUSTER", "SETSLOT", &slot, "NODE", &b_id]);
    }
    assert!(is_ok(&c.cmd(&["SET", &key, "w"])), "MOVED followed");
    assert_eq!(c.cmd(&["STRLEN", &key]), Value::Integer(1));
    assert_eq!(
        clients_running(&to, "strlen").len(),
        1,
        "one private connection on the new owner"
    );
    assert_eq!(text(&c.cmd(&["PROXY", "MULTIPLEXING", "STATUS"])), "off");
}
