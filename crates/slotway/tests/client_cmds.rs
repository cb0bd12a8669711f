//! CLIENT subcommands over the proxy's own clients: LIST, INFO, KILL, REPLY,
//! and clear errors for what cannot work through a proxy.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Proxy, bulk, is_ok, text};
use slotway_fixture::Cluster;
use slotway_resp::Value;

fn id_of(c: &mut common::Raw) -> i64 {
    match c.cmd(&["CLIENT", "ID"]) {
        Value::Integer(i) => i,
        other => panic!("CLIENT ID: {other:?}"),
    }
}

#[test]
fn client_list_info_kill_and_reply() {
    let cluster = Cluster::start(3, 0).unwrap();
    let proxy = Proxy::start(&cluster.seeds());
    proxy.wait_ready();
    let mut a = proxy.client();
    let mut b = proxy.client();
    assert!(is_ok(&a.cmd(&["CLIENT", "SETNAME", "alpha"])));
    assert!(is_ok(&b.cmd(&["CLIENT", "SETNAME", "beta"])));
    assert!(is_ok(&b.cmd(&["CLIENT", "SETINFO", "LIB-NAME", "tester"])));
    let (ida, idb) = (id_of(&mut a), id_of(&mut b));

    let list = text(&a.cmd(&["CLIENT", "LIST"]));
    let line_a = list
        .lines()
        .find(|l| l.starts_with(&format!("id={ida} ")))
        .unwrap();
    let line_b = list
        .lines()
        .find(|l| l.starts_with(&format!("id={idb} ")))
        .unwrap();
    assert!(
        line_a.contains(" name=alpha ") && line_a.contains(" cmd=client|list "),
        "{line_a}"
    );
    assert!(
        line_b.contains(" name=beta ") && line_b.contains("lib-name=tester"),
        "{line_b}"
    );
    let info = text(&b.cmd(&["CLIENT", "INFO"]));
    assert!(
        info.starts_with(&format!("id={idb} ")) && info.contains(" name=beta "),
        "{info}"
    );

    // MULTI shows in the flags.
    assert!(is_ok(&b.cmd(&["MULTI"])));
    assert_eq!(text(&b.cmd(&["SET", "{x}1", "1"])), "QUEUED");
    let list = text(&a.cmd(&["CLIENT", "LIST"]));
    let line_b = list
        .lines()
        .find(|l| l.starts_with(&format!("id={idb} ")))
        .unwrap();
    assert!(
        line_b.contains(" flags=x ") && line_b.contains(" multi=1 "),
        "{line_b}"
    );
    assert!(is_ok(&b.cmd(&["DISCARD"])));

    // REPLY OFF / ON / SKIP.
    a.send_cmd(&["CLIENT", "REPLY", "OFF"]);
    a.send_cmd(&["SET", "quiet", "1"]);
    a.send_cmd(&["GET", "quiet"]);
    assert!(
        is_ok(&a.cmd(&["CLIENT", "REPLY", "ON"])),
        "ON is the first reply after OFF"
    );
    a.send_cmd(&["CLIENT", "REPLY", "SKIP"]);
    a.send_cmd(&["INCR", "skipped"]);
    assert_eq!(
        a.cmd(&["INCR", "skipped"]),
        Value::Integer(2),
        "only the skipped reply is gone"
    );

    // Errors for what a proxy cannot do, the connection stays.
    assert!(text(&a.cmd(&["CLIENT", "TRACKING", "on"])).contains("not supported"));
    assert!(text(&a.cmd(&["CLIENT", "CACHING", "yes"])).contains("not supported"));
    assert_eq!(a.cmd(&["CLIENT", "GETREDIR"]), Value::Integer(-1));
    assert!(is_ok(&a.cmd(&["CLIENT", "NO-EVICT", "on"])));

    // KILL by id (filter form) and by address (old form).
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "ID", &idb.to_string()]),
        Value::Integer(1)
    );
    assert!(b.closed(), "killed client is disconnected");
    let mut c = proxy.client();
    assert_eq!(text(&c.cmd(&["PING"])), "PONG", "c is registered");
    let c_addr = c.stream.local_addr().unwrap().to_string();
    assert!(is_ok(&a.cmd(&["CLIENT", "KILL", &c_addr])));
    assert!(c.closed());
    assert_eq!(
        text(&a.cmd(&["CLIENT", "KILL", "127.0.0.1:1"])),
        "ERR No such client"
    );
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "ID", &ida.to_string()]),
        Value::Integer(0),
        "SKIPME yes"
    );
    assert_eq!(text(&a.cmd(&["PING"])), "PONG");
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "ID", &ida.to_string(), "SKIPME", "no"]),
        Value::Integer(1)
    );
    assert!(
        a.closed(),
        "a client that kills itself is closed after the reply"
    );
}

#[test]
fn proxy_command_reads_and_changes_settings() {
    let cluster = Cluster::start(3, 0).unwrap();
    let proxy = Proxy::start(&cluster.seeds());
    proxy.wait_ready();
    let mut c = proxy.client();
    assert_eq!(text(&c.cmd(&["PROXY", "PING"])), "PONG");
    let info = text(&c.cmd(&["PROXY", "INFO"]));
    assert!(
        info.contains("# Proxy") && info.contains("# Clients") && info.contains("masters:3"),
        "{info}"
    );
    assert!(text(&c.cmd(&["proxy", "info", "cluster"])).contains("slots_covered:16384"));
    assert_eq!(text(&c.cmd(&["PROXY", "CLUSTER", "STATUS"])), "updated");
    assert_eq!(text(&c.cmd(&["PROXY", "CLUSTER", "CONNECTION"])), "shared");
    assert!(matches!(c.cmd(&["PROXY", "CLUSTER", "NODES"]), Value::Array(n) if n.len() == 3));
    assert_eq!(
        c.cmd(&["PROXY", "CONFIG", "GET", "enable-cross-slot"]),
        Value::Array(vec![
            Value::Bulk("enable-cross-slot".into()),
            Value::Bulk("1".into())
        ])
    );
    assert_eq!(text(&c.cmd(&["PROXY", "MULTIPLEXING", "STATUS"])), "on");
    assert!(matches!(c.cmd(&["PROXY", "COMMAND"]), Value::Array(a) if a.len() > 200));
    assert!(is_ok(&c.cmd(&["PROXY", "LOG", "hello from a test"])));
    // Changing the proxy needs an admin user, even with no authentication
    // configured (only the redis-cluster-proxy drop-in is that open; its
    // tests are in proxy_runtime.rs): no anonymous client can tune it, and
    // none can shut it down. (MULTIPLEXING OFF, which concerns only the
    // caller, is open here: proxy_runtime.rs.)
    for change in [
        &["PROXY", "CONFIG", "SET", "enable-cross-slot", "0"][..],
        &["PROXY", "SHUTDOWN"],
    ] {
        let refused = text(&c.cmd(change));
        assert!(
            refused.starts_with("NOPERM slotway"),
            "{change:?}: {refused}"
        );
    }
    assert!(matches!(c.cmd(&["MGET", "a", "b"]), Value::Array(v) if v.len() == 2));
    assert!(text(&c.cmd(&["PROXY", "DEBUG", "SEGFAULT"])).contains("not provided"));
    assert!(text(&c.cmd(&["PROXY", "NOPE"])).starts_with("ERR unknown subcommand 'NOPE'"));
    assert_eq!(text(&c.cmd(&["PING"])), "PONG", "the proxy is still up");
}

#[test]
fn client_pause_holds_the_proxys_clients_in_order() {
    let cluster = Cluster::start(3, 0).unwrap();
    let proxy = Proxy::start(&cluster.seeds());
    proxy.wait_ready();
    let mut admin = proxy.client();
    let mut c = proxy.client();
    assert!(is_ok(&c.cmd(&["SET", "p", "1"])));
    // WRITE: reads go on, writes wait for the end of the pause, in order.
    assert!(is_ok(&admin.cmd(&["CLIENT", "PAUSE", "400", "WRITE"])));
    let t = std::time::Instant::now();
    assert_eq!(text(&c.cmd(&["GET", "p"])), "1");
    assert!(
        t.elapsed() < std::time::Duration::from_millis(300),
        "reads are not held"
    );
    c.send_cmd(&["INCR", "p"]);
    c.send_cmd(&["GET", "p"]);
    assert_eq!(c.read(), Value::Integer(2));
    assert_eq!(text(&c.read()), "2");
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(350),
        "the write waited"
    );
    // ALL, lifted early by UNPAUSE: the held request goes at once, not
    // when the pause would have ended.
    assert!(is_ok(&admin.cmd(&["CLIENT", "PAUSE", "10000"])));
    c.send_cmd(&["GET", "p"]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let lifted = std::time::Instant::now();
    assert!(is_ok(&admin.cmd(&["CLIENT", "UNPAUSE"])));
    assert_eq!(text(&c.read()), "2");
    assert!(
        lifted.elapsed() < std::time::Duration::from_secs(3),
        "held until the pause's end"
    );
    // ALL, then WRITE (the new mode replaces the old, as in Redis 7): a
    // held read goes at once, writes still wait.
    assert!(is_ok(&admin.cmd(&["CLIENT", "PAUSE", "10000", "ALL"])));
    c.send_cmd(&["GET", "p"]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let relaxed = std::time::Instant::now();
    assert!(is_ok(&admin.cmd(&["CLIENT", "PAUSE", "10000", "WRITE"])));
    assert_eq!(text(&c.read()), "2");
    assert!(
        relaxed.elapsed() < std::time::Duration::from_secs(3),
        "read held after the pause became WRITE"
    );
    assert!(is_ok(&admin.cmd(&["CLIENT", "UNPAUSE"])));
    assert!(is_ok(&c.cmd(&["CLIENT", "NO-TOUCH", "on"])));
    assert!(text(&c.cmd(&["CLIENT", "PAUSE", "x"])).contains("not an integer"));
}

/// `id`'s CLIENT LIST line, as seen by `by`.
fn line_of(by: &mut common::Raw, id: i64) -> String {
    let list = text(&by.cmd(&["CLIENT", "LIST"]));
    list.lines()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .unwrap()
        .to_owned()
}

/// A numeric field of a CLIENT LIST line.
fn field(line: &str, name: &str) -> u64 {
    let at = line.find(&format!(" {name}=")).unwrap() + name.len() + 2;
    line[at..].split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn a_pipelined_burst_grows_the_read_buffer_and_a_quiet_second_gives_it_back() {
    let cluster = Cluster::start(3, 0).unwrap();
    let proxy = Proxy::start(&cluster.seeds());
    proxy.wait_ready();
    let mut watcher = proxy.client();
    let mut c = proxy.client();
    let id = id_of(&mut c);
    let line = line_of(&mut watcher, id);
    assert!(
        field(&line, "rbs") == 1024 && field(&line, "qbuf") == 0,
        "a new client reads into 1 KiB: {line}"
    );
    // Before its first read is done, too (CLIENT INFO as the first command).
    let own = text(&proxy.client().cmd(&["CLIENT", "INFO"]));
    assert_eq!(field(&own, "rbs"), 1024, "{own}");

    // 48 SETs of 4 KiB in one write: the reads fill their offers and grow.
    let value = vec![b'v'; 4096];
    let mut burst = bytes::BytesMut::new();
    for i in 0..48 {
        let key = format!("burst:{i}").into_bytes();
        slotway_resp::encode::command(&mut burst, &[&b"SET"[..], &key, &value]);
    }
    c.send(&burst);
    for _ in 0..48 {
        let reply = c.read();
        assert!(is_ok(&reply), "{reply:?}");
    }
    let line = line_of(&mut watcher, id);
    let rbs = field(&line, "rbs");
    assert!(rbs >= 16 * 1024, "the burst grew the read buffer: {line}");
    assert!(
        field(&line, "rbp") >= rbs,
        "the peak is at least the size: {line}"
    );

    // Quiet for a tick or two of the session's coarse clock: given back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let line = loop {
        std::thread::sleep(std::time::Duration::from_millis(250));
        let line = line_of(&mut watcher, id);
        if field(&line, "rbs") == 1024 && field(&line, "qbuf") == 0 {
            break line;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never given back: {line}"
        );
    };
    assert!(
        line.contains(" qbuf-free=1024 ") && line.contains(" rbp=1024 "),
        "{line}"
    );
    // The client is served as before, and a large value still arrives whole.
    assert_eq!(bulk(&c.cmd(&["GET", "burst:47"])), value);
    assert!(is_ok(&c.cmd(&["SET", "after", &"w".repeat(100_000)])));
    assert_eq!(bulk(&c.cmd(&["GET", "after"])).len(), 100_000);
}
