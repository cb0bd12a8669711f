//! The core data path through a real 3-master cluster: routing of every data
//! type, ordering of long mixed pipelines, inline commands, binary/empty/large
//! values, errors that keep or close the connection as Redis does, RESP3.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Proxy, Raw, bulk, cluster_and_proxy, is_ok, text};
use slotway_resp::Value;

#[test]
fn every_type_routed_to_its_master_and_spread_over_all() {
    let (cluster, proxy) = cluster_and_proxy();
    let mut c = proxy.client();
    let mut keys = Vec::new();
    for i in 0..60 {
        let k = format!("str:{i}");
        assert!(is_ok(&c.cmd(&["SET", &k, &format!("v{i}")])));
        assert_eq!(bulk(&c.cmd(&["GET", &k])), format!("v{i}").as_bytes());
        keys.push(k);

        let k = format!("list:{i}");
        assert_eq!(c.cmd(&["RPUSH", &k, "a", "b"]), Value::Integer(2));
        assert_eq!(text(&c.cmd(&["LINDEX", &k, "1"])), "b");
        keys.push(k);

        let k = format!("hash:{i}");
        assert_eq!(c.cmd(&["HSET", &k, "f", "x", "g", "y"]), Value::Integer(2));
        assert_eq!(text(&c.cmd(&["HGET", &k, "g"])), "y");
        keys.push(k);

        let k = format!("set:{i}");
        assert_eq!(c.cmd(&["SADD", &k, "m1", "m2", "m1"]), Value::Integer(2));
        assert_eq!(c.cmd(&["SCARD", &k]), Value::Integer(2));
        keys.push(k);

        let k = format!("zset:{i}");
        assert_eq!(
            c.cmd(&["ZADD", &k, "1.5", "a", "2", "b"]),
            Value::Integer(2)
        );
        assert_eq!(text(&c.cmd(&["ZSCORE", &k, "a"])), "1.5");
        keys.push(k);

        let k = format!("stream:{i}");
        assert!(matches!(
            c.cmd(&["XADD", &k, "*", "f", "v"]),
            Value::Bulk(_)
        ));
        assert_eq!(c.cmd(&["XLEN", &k]), Value::Integer(1));
        keys.push(k);

        let k = format!("hll:{i}");
        assert_eq!(c.cmd(&["PFADD", &k, "a", "b", "c"]), Value::Integer(1));
        assert_eq!(c.cmd(&["PFCOUNT", &k]), Value::Integer(3));
        keys.push(k);

        let k = format!("geo:{i}");
        assert_eq!(
            c.cmd(&["GEOADD", &k, "13.361389", "38.115556", "Palermo"]),
            Value::Integer(1)
        );
        assert!(matches!(c.cmd(&["GEOPOS", &k, "Palermo"]), Value::Array(_)));
        keys.push(k);

        let k = format!("bits:{i}");
        assert_eq!(c.cmd(&["SETBIT", &k, "7", "1"]), Value::Integer(0));
        assert_eq!(c.cmd(&["GETBIT", &k, "7"]), Value::Integer(1));
        keys.push(k);
    }
    // Every key is on the master that owns its slot (others answer MOVED),
    // and every master got some.
    let masters: Vec<Raw> = cluster
        .master_addrs()
        .iter()
        .map(|a| Raw::connect(a.as_str()))
        .collect();
    assert_eq!(masters.len(), 3);
    let mut per_master = [0usize; 3];
    let mut masters = masters;
    for k in &keys {
        let mut owners = 0;
        for (i, m) in masters.iter_mut().enumerate() {
            match m.cmd(&["EXISTS", k]) {
                Value::Integer(1) => {
                    owners += 1;
                    per_master[i] += 1;
                }
                Value::Error(e) => assert!(e.starts_with(b"MOVED"), "{e:?}"),
                other => panic!("{k} on master {i}: {other:?}"),
            }
        }
        assert_eq!(owners, 1, "{k} must live on exactly one master");
    }
    assert!(per_master.iter().all(|&n| n > 50), "spread: {per_master:?}");
}

#[test]
fn mixed_pipeline_of_15000_commands_comes_back_in_order() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut c = proxy.client();
    let mut out = bytes::BytesMut::new();
    let n = 15_000;
    for i in 0..n {
        let k = format!("pipe:{i}");
        match i % 5 {
            0 => slotway_resp::encode::command(&mut out, &["SET", &k, &i.to_string()]),
            1 => slotway_resp::encode::command(&mut out, &["GET", &format!("pipe:{}", i - 1)]),
            2 => slotway_resp::encode::command(&mut out, &["INCR", &format!("ctr:{}", i % 97)]),
            3 => slotway_resp::encode::command(&mut out, &["PING", &i.to_string()]),
            _ => slotway_resp::encode::command(&mut out, &["ECHO", &k]),
        }
    }
    // Write from another thread so a full socket buffer cannot deadlock us.
    let mut writer = c.stream.try_clone().unwrap();
    let payload = out.freeze();
    let t = std::thread::spawn(move || std::io::Write::write_all(&mut writer, &payload).unwrap());
    let mut counters = std::collections::HashMap::new();
    for i in 0..n {
        let v = c.read();
        match i % 5 {
            0 => assert!(is_ok(&v), "#{i}: {v:?}"),
            1 => assert_eq!(text(&v), (i - 1).to_string(), "#{i}"),
            2 => {
                let ctr = counters.entry(i % 97).or_insert(0i64);
                *ctr += 1;
                assert_eq!(v, Value::Integer(*ctr), "#{i}");
            }
            3 => assert_eq!(text(&v), i.to_string(), "#{i}"),
            _ => assert_eq!(text(&v), format!("pipe:{i}"), "#{i}"),
        }
    }
    t.join().unwrap();
}

#[test]
fn pipelined_inline_commands() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut c = proxy.client();
    c.send(b"SET inline:a \"hello world\"\r\nGET inline:a\nPING\r\n\r\nSET 'inline:b' x\\ny\r\nGET inline:b\r\nECHO \"\\x41\\x00B\"\r\n");
    assert!(is_ok(&c.read()));
    assert_eq!(text(&c.read()), "hello world");
    assert_eq!(text(&c.read()), "PONG");
    assert!(is_ok(&c.read()));
    assert_eq!(text(&c.read()), "x\\ny");
    assert_eq!(bulk(&c.read()), b"A\0B");
    // Unbalanced quotes: a protocol error, then the connection is closed.
    c.send(b"GET \"oops\r\n");
    assert_eq!(
        text(&c.read()),
        "ERR Protocol error: unbalanced quotes in request"
    );
    assert!(c.closed());
}

#[test]
fn binary_empty_and_large_values() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut c = proxy.client();
    let binary: Vec<u8> = (0..=255u8)
        .chain(b"\r\n\0\r\n$3\r\n*1\r\n".iter().copied())
        .collect();
    assert!(is_ok(&c.cmd(&[
        b"SET".as_slice(),
        b"bin\r\n\0key",
        &binary
    ])));
    assert_eq!(bulk(&c.cmd(&[b"GET".as_slice(), b"bin\r\n\0key"])), binary);
    assert!(is_ok(&c.cmd(&["SET", "empty", ""])));
    assert_eq!(bulk(&c.cmd(&["GET", "empty"])), b"");
    assert!(is_ok(&c.cmd(&["SET", "", "empty key"])));
    assert_eq!(text(&c.cmd(&["GET", ""])), "empty key");
    let big: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    assert!(is_ok(&c.cmd(&[b"SET".as_slice(), b"big", &big])));
    assert_eq!(bulk(&c.cmd(&["GET", "big"])), big);
    assert_eq!(c.cmd(&["STRLEN", "big"]), Value::Integer(big.len() as i64));
    // Several large values pipelined on one connection.
    for i in 0..4 {
        c.send_cmd(&[b"SET".as_slice(), format!("big:{i}").as_bytes(), &big]);
    }
    for _ in 0..4 {
        assert!(is_ok(&c.read()));
    }
    assert_eq!(bulk(&c.cmd(&["GET", "big:3"])), big);
}

#[test]
fn errors_keep_the_connection_like_redis() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut c = proxy.client();
    assert_eq!(
        text(&c.cmd(&["NOSUCHCMD", "a", "b"])),
        "ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' 'b' "
    );
    assert_eq!(
        text(&c.cmd(&["GET"])),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        text(&c.cmd(&["MSETNX", "a", "1", "b", "2"])),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
    assert!(is_ok(&c.cmd(&["MSET", "{t}a", "1", "{t}b", "2"])));
    assert_eq!(
        c.cmd(&["MGET", "{t}a", "{t}b"]),
        Value::Array(vec![Value::Bulk("1".into()), Value::Bulk("2".into())])
    );
    assert_eq!(
        text(&c.cmd(&["SELECT", "1"])),
        "ERR SELECT is not allowed in cluster mode"
    );
    assert!(is_ok(&c.cmd(&["SELECT", "0"])));
    // A Redis error from the node passes through untouched.
    assert!(is_ok(&c.cmd(&["SET", "str", "x"])));
    assert!(text(&c.cmd(&["LPUSH", "str", "x"])).starts_with("WRONGTYPE"));
    assert_eq!(text(&c.cmd(&["PING"])), "PONG");
}

#[test]
fn protocol_error_answers_earlier_requests_then_closes_without_disturbing_others() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut other = proxy.client();
    assert!(is_ok(&other.cmd(&["SET", "k", "v"])));
    let cases: &[(&[u8], &str)] = &[
        (b"*1\r\n$x\r\n", "ERR Protocol error: invalid bulk length"),
        (b"*abc\r\n", "ERR Protocol error: invalid multibulk length"),
        (
            b"*2\r\n$3\r\nGET\r\n:1\r\n",
            "ERR Protocol error: expected '$', got ':'",
        ),
        (
            b"*1\r\n$999999999999\r\n",
            "ERR Protocol error: invalid bulk length",
        ),
        (
            b"*99999999\r\n",
            "ERR Protocol error: invalid multibulk length",
        ),
    ];
    for (bad, expected) in cases {
        let mut c = proxy.client();
        let mut req = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n".to_vec();
        req.extend_from_slice(bad);
        c.send(&req);
        assert_eq!(text(&c.read()), "v");
        assert_eq!(text(&c.read()), *expected);
        assert!(c.closed(), "connection must close after {expected}");
        assert_eq!(text(&other.cmd(&["GET", "k"])), "v");
    }
    // An inline line longer than 64 KiB without a newline.
    let mut c = proxy.client();
    c.send(&vec![b'a'; 70 * 1024]);
    assert_eq!(
        text(&c.read()),
        "ERR Protocol error: too big inline request"
    );
    assert!(c.closed());
    assert_eq!(text(&other.cmd(&["GET", "k"])), "v");
}

#[test]
fn hello_resp3_and_client_commands() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut c = proxy.client();
    assert!(is_ok(&c.cmd(&[
        "CLIENT",
        "SETINFO",
        "LIB-NAME",
        "slotway-test"
    ])));
    assert!(is_ok(&c.cmd(&["CLIENT", "SETINFO", "LIB-VER", "1.0"])));
    let hello = c.cmd(&["HELLO", "3", "SETNAME", "tester"]);
    let Value::Map(pairs) = &hello else {
        panic!("HELLO 3 must answer a map: {hello:?}")
    };
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| text(key) == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("proto"), Some(Value::Integer(3)));
    assert_eq!(text(&get("version").unwrap()), "7.0.15");
    assert_eq!(text(&get("mode").unwrap()), "standalone");
    assert_eq!(text(&c.cmd(&["CLIENT", "GETNAME"])), "tester");
    assert!(matches!(c.cmd(&["CLIENT", "ID"]), Value::Integer(n) if n > 0));
    // RESP3 replies from the nodes reach a RESP3 client in RESP3.
    assert_eq!(c.cmd(&["HSET", "h3", "f", "v"]), Value::Integer(1));
    assert!(matches!(c.cmd(&["HGETALL", "h3"]), Value::Map(_)));
    assert_eq!(c.cmd(&["ZADD", "z3", "2.5", "m"]), Value::Integer(1));
    assert_eq!(c.cmd(&["ZSCORE", "z3", "m"]), Value::Double("2.5".into()));
    assert_eq!(c.cmd(&["GET", "missing"]), Value::Null);
    assert_eq!(c.cmd(&["CLIENT", "GETNAME"]), Value::Bulk("tester".into()));
    // Back to RESP2 on the same connection.
    assert!(matches!(c.cmd(&["HELLO", "2"]), Value::Array(_)));
    assert!(matches!(c.cmd(&["HGETALL", "h3"]), Value::Array(_)));
    assert_eq!(text(&c.cmd(&["ZSCORE", "z3", "m"])), "2.5");
    assert_eq!(
        text(&c.cmd(&["HELLO", "4"])),
        "NOPROTO unsupported protocol version"
    );
    assert_eq!(text(&c.cmd(&["RESET"])), "RESET");
    assert_eq!(c.cmd(&["CLIENT", "GETNAME"]), Value::Null);
    assert_eq!(c.cmd(&["CLUSTER", "KEYSLOT", "foo"]), Value::Integer(12182));
    assert_eq!(text(&c.cmd(&["QUIT"])), "OK");
    assert!(c.closed());
}

#[test]
fn unreachable_cluster_answers_clusterdown_after_the_park_budget() {
    let dead = [
        format!("127.0.0.1:{}", slotway_fixture::free_port()),
        format!("127.0.0.1:{}", slotway_fixture::free_port()),
    ];
    let proxy = Proxy::start_with(&dead, |c| c.cluster.park_timeout_ms = 300);
    let mut c = proxy.client();
    let started = std::time::Instant::now();
    let reply = c.cmd(&["GET", "k"]);
    assert!(text(&reply).starts_with("CLUSTERDOWN"), "{reply:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(text(&c.cmd(&["PING"])), "PONG");
}

/// A proxy whose only seed is a closed port (configured by `tweak`), and a
/// client of it that gives up reading after 10 s instead of hanging.
fn unreachable_cluster_client(
    tweak: impl FnOnce(&mut slotway_core::config::Config),
) -> (Proxy, Raw) {
    let dead = [format!("127.0.0.1:{}", slotway_fixture::free_port())];
    let proxy = Proxy::start_with(&dead, tweak);
    let c = proxy.client();
    c.stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    (proxy, c)
}

/// Twelve GETs and a PING, small enough for the proxy's first read of a
/// client; with `replies_off`, between `CLIENT REPLY OFF` and `ON`.
fn twelve_gets_then_ping(replies_off: bool) -> bytes::BytesMut {
    let mut out = bytes::BytesMut::new();
    if replies_off {
        slotway_resp::encode::command(&mut out, &["CLIENT", "REPLY", "OFF"]);
    }
    for i in 0..12 {
        slotway_resp::encode::command(&mut out, &["GET", &format!("k{i}")]);
    }
    if replies_off {
        slotway_resp::encode::command(&mut out, &["CLIENT", "REPLY", "ON"]);
    }
    slotway_resp::encode::command(&mut out, &["PING"]);
    assert!(out.len() < 1024, "one read takes the whole pipeline");
    out
}

/// More requests than `max_inflight_per_client` in one read, to a cluster
/// that cannot be reached: the first ones are answered when their park
/// budget runs out (no node ever replies), and that must let the rest of
/// the pipeline, already read, be parsed and answered too.
#[test]
fn a_pipeline_beyond_max_inflight_to_an_unreachable_cluster_is_answered_whole() {
    let (_proxy, mut c) = unreachable_cluster_client(|c| {
        c.cluster.park_timeout_ms = 200;
        c.proxy.max_inflight_per_client = 4;
    });
    c.send(&twelve_gets_then_ping(false));
    for i in 0..12 {
        let reply = c.read();
        assert!(
            text(&reply).starts_with("CLUSTERDOWN"),
            "GET #{i}: {reply:?}"
        );
    }
    assert_eq!(text(&c.read()), "PONG");
    // The same with replies off: no write follows the expiries.
    c.send(&twelve_gets_then_ping(true));
    assert!(is_ok(&c.read()), "CLIENT REPLY ON");
    assert_eq!(text(&c.read()), "PONG");
}

/// The same, with requests refused on the spot (no room to park them):
/// the flush that answers them is what frees `max_inflight`, and with
/// replies off nothing is written after it.
#[test]
fn refused_on_the_spot_with_replies_off_the_pipeline_goes_on() {
    let (_proxy, mut c) = unreachable_cluster_client(|c| {
        c.cluster.park_max_bytes = 1;
        c.proxy.max_inflight_per_client = 4;
    });
    c.send(&twelve_gets_then_ping(true));
    assert!(is_ok(&c.read()), "CLIENT REPLY ON");
    assert_eq!(text(&c.read()), "PONG");
    let reply = c.cmd(&["GET", "k"]);
    assert!(text(&reply).starts_with("TRYAGAIN"), "{reply:?}");
}

/// A pass-through AUTH behind an earlier request waits for it, then is sent
/// by the flush that answers it; refused on the spot there (no room to
/// park it), with replies off, nothing else would flush it: its client must
/// still go on.
#[test]
fn a_pass_through_auth_refused_on_the_spot_does_not_hold_its_client() {
    let (_proxy, mut c) = unreachable_cluster_client(|c| {
        c.cluster.park_max_bytes = 1;
        c.proxy.auth_passthrough = true;
    });
    let mut out = bytes::BytesMut::new();
    for cmd in [
        &["CLIENT", "REPLY", "OFF"][..],
        &["GET", "k"],
        &["AUTH", "ro", "ropw"],
        &["CLIENT", "REPLY", "ON"],
        &["PING"],
    ] {
        slotway_resp::encode::command(&mut out, cmd);
    }
    c.send(&out);
    assert!(is_ok(&c.read()), "CLIENT REPLY ON");
    assert_eq!(text(&c.read()), "PONG");
}

#[test]
fn half_closed_client_still_gets_every_reply() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut c = proxy.client();
    let mut out = bytes::BytesMut::new();
    for i in 0..500 {
        slotway_resp::encode::command(&mut out, &["SET", &format!("hc:{i}"), "v"]);
        slotway_resp::encode::command(&mut out, &["GET", &format!("hc:{i}")]);
    }
    c.send(&out);
    c.stream.shutdown(std::net::Shutdown::Write).unwrap();
    for i in 0..500 {
        assert!(is_ok(&c.read()), "SET #{i}");
        assert_eq!(text(&c.read()), "v", "GET #{i}");
    }
    assert!(c.try_read().is_none(), "closed after the last reply");
}

/// A client that pipelines more than `max_inflight_per_client` requests in
/// one read and reads its (large) replies late: parsing stops at the limit,
/// then at the output high-water mark; the requests already read must be
/// parsed as the output drains, though the socket has nothing more to read.
#[test]
fn a_pipeline_held_back_by_unread_replies_resumes_when_the_client_reads() {
    let cluster = slotway_fixture::Cluster::start(3, 0).unwrap();
    let proxy = Proxy::start_with(&cluster.seeds(), |c| {
        c.proxy.max_inflight_per_client = 10;
    });
    proxy.wait_ready();
    let mut c = proxy.client();
    let value = vec![b'm'; 1 << 20];
    assert!(is_ok(&c.cmd(&[b"SET".as_slice(), b"held", &value])));
    let mut out = bytes::BytesMut::new();
    for _ in 0..40 {
        slotway_resp::encode::command(&mut out, &["GET", "held"]);
    }
    slotway_resp::encode::command(&mut out, &["PING"]);
    assert!(out.len() < 1024, "one read takes the whole pipeline");
    c.send(&out);
    std::thread::sleep(std::time::Duration::from_millis(500));
    c.stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    for i in 0..40 {
        assert!(bulk(&c.read()) == value, "GET #{i}");
    }
    assert_eq!(text(&c.read()), "PONG");
}

#[test]
fn value_of_hundreds_of_megabytes() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut c = proxy.client();
    let size = 200 * 1024 * 1024;
    let mut big = vec![b'x'; size];
    big[0] = b'\r';
    big[size / 2] = 0;
    big[size - 1] = b'\n';
    assert!(is_ok(&c.cmd(&[b"SET".as_slice(), b"huge", &big])));
    assert_eq!(c.cmd(&["STRLEN", "huge"]), Value::Integer(size as i64));
    let got = bulk(&c.cmd(&["GET", "huge"]));
    assert!(got == big, "200 MB value changed on the way");
    assert_eq!(c.cmd(&["DEL", "huge"]), Value::Integer(1));
}

/// Large replies go out as the node's own buffers (no copy) unless the client
/// stops reading; then they are copied so the node's buffer is not held. Both
/// must give every byte in order, to the slow client and to a fast one
/// reading the same keys meanwhile.
#[test]
fn large_replies_reach_a_slow_reader_intact_while_others_are_served() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut setup = proxy.client();
    // Small values between large ones of 1-65 KiB, each key's bytes its own.
    let values: Vec<Vec<u8>> = (0..60usize)
        .map(|i| {
            let len = if i % 3 == 0 { 5 } else { 1000 + i * 1100 };
            (0..len).map(|j| ((i * 7 + j) % 251) as u8).collect()
        })
        .collect();
    for (i, v) in values.iter().enumerate() {
        assert!(is_ok(&setup.cmd(&[
            b"SET".as_slice(),
            format!("lr:{i}").as_bytes(),
            v
        ])));
    }
    // About 6.5 MB of replies: more than the sockets hold while unread.
    let rounds = 5;
    let mut slow = proxy.client();
    let mut out = bytes::BytesMut::new();
    for _ in 0..rounds {
        for i in 0..values.len() {
            slotway_resp::encode::command(&mut out, &["GET", &format!("lr:{i}")]);
        }
    }
    slow.send(&out);
    let mut fast = proxy.client();
    for _ in 0..3 {
        for (i, v) in values.iter().enumerate() {
            assert_eq!(
                &bulk(&fast.cmd(&["GET", &format!("lr:{i}")])),
                v,
                "fast, key {i}"
            );
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    for round in 0..rounds {
        for (i, v) in values.iter().enumerate() {
            assert_eq!(&bulk(&slow.read()), v, "slow, round {round}, key {i}");
        }
    }
    assert_eq!(text(&slow.cmd(&["PING"])), "PONG");
}
