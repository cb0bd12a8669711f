//! Sharded standalone pools (twemproxy's model) against real redis-server
//! processes, with the real nutcracker 0.5.0 as the oracle of key placement.
//!
//! - Keys written through nutcracker (in `redis_db` 1) and through Slotway
//!   (in db 2) land on the same server, key by key, for several hash and
//!   distribution pairs, with ASCII, UTF-8 and binary keys.
//! - Multi-key commands are split per server and merged (EXISTS counts
//!   right, where nutcracker is wrong); keys on several servers for a
//!   command that cannot be split get an error, not a wrong answer; an
//!   unsupported command gets an error and the connection stays open.
//! - A dead server fails only its own keys, fast, and is served again
//!   once it is back; with `auto_eject_hosts` its keys move to the others.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
#[allow(dead_code)]
#[path = "../../hashkit/tests/support/mod.rs"]
mod nc;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Proxy, bulk, is_ok, text};
use slotway_core::Config;
use slotway_core::pool::{Ejection, PoolServer, PoolSettings};
use slotway_fixture::{RedisServer, free_port};
use slotway_hashkit::twemproxy::{Distribution, Hash, HashTag, ServerEntry};
use slotway_resp::Value;

fn servers(n: usize) -> Vec<RedisServer> {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    (0..n)
        .map(|_| RedisServer::start().expect("redis-server"))
        .collect()
}

/// Entries `127.0.0.1:port:1 [name]` for `servers`.
fn entries(servers: &[RedisServer], named: bool) -> Vec<String> {
    servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if named {
                format!("{}:1 shard{i}", s.addr())
            } else {
                format!("{}:1", s.addr())
            }
        })
        .collect()
}

/// A pool over `entries` served by an in-process proxy selecting `db`.
fn pool_proxy(
    entries: &[String],
    hash: Hash,
    tag: Option<&str>,
    dist: Distribution,
    db: u32,
    tweak: impl FnOnce(&mut PoolSettings),
) -> Proxy {
    let servers = entries
        .iter()
        .map(|e| PoolServer::from_entry(&ServerEntry::parse(e).unwrap()))
        .collect();
    let tag = tag.map(|t| t.parse::<HashTag>().unwrap());
    let mut pool = PoolSettings::new("alpha", servers, hash, tag, dist).unwrap();
    tweak(&mut pool);
    let mut config = Config::default();
    config.proxy.threads = 2;
    let mut settings = config.validate_for_pool(pool).unwrap();
    settings.prelude = slotway_core::backend::Prelude::new(None, None, db);
    // A dead server fails its keys at once (no failover will come).
    settings.park_timeout = Duration::ZERO;
    Proxy::start_settings(settings)
}

/// A murmur/ketama pool over `entries` with `auto_eject_hosts`: probed
/// every `probe`, ejecting after `failure_limit` failed probes.
fn ejecting_pool(
    entries: &[String],
    probe: Duration,
    failure_limit: u32,
    retry_timeout: Duration,
) -> Proxy {
    pool_proxy(entries, Hash::Murmur, None, Distribution::Ketama, 0, |p| {
        p.probe_interval = probe;
        p.ejection = Some(Ejection {
            failure_limit,
            retry_timeout,
        });
    })
}

fn nutcracker_yaml(
    entries: &[String],
    hash: Hash,
    tag: Option<&str>,
    dist: Distribution,
    port: u16,
) -> String {
    let mut y = String::new();
    writeln!(y, "alpha:").unwrap();
    writeln!(y, "  listen: 127.0.0.1:{port}").unwrap();
    writeln!(y, "  redis: true").unwrap();
    writeln!(y, "  redis_db: 1").unwrap();
    writeln!(y, "  hash: {}", hash.name()).unwrap();
    writeln!(y, "  distribution: {}", dist.name()).unwrap();
    if let Some(t) = tag {
        writeln!(y, "  hash_tag: \"{t}\"").unwrap();
    }
    writeln!(y, "  timeout: 10000").unwrap();
    writeln!(y, "  servers:").unwrap();
    for e in entries {
        writeln!(y, "    - {e}").unwrap();
    }
    y
}

fn start_nutcracker(bin: &Path, dir: &Path, yaml: impl Fn(u16) -> String) -> (nc::Owned, u16) {
    for attempt in 0..3 {
        let port = free_port();
        let conf = dir.join(format!("nc-{attempt}.yml"));
        std::fs::write(&conf, yaml(port)).unwrap();
        let log = dir.join(format!("nc-{attempt}.log"));
        let args: Vec<String> = [
            "-c",
            &conf.display().to_string(),
            "-s",
            &free_port().to_string(),
            "-a",
            "127.0.0.1",
            "-o",
            &log.display().to_string(),
        ]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
        let mut proc = nc::spawn(bin, &args, &log);
        match nc::wait_pong(&mut proc, port) {
            Ok(()) => return (proc, port),
            Err(e) if e.contains("Address already in use") => {}
            Err(e) => panic!("nutcracker did not start: {e}"),
        }
    }
    panic!("nutcracker lost the port race 3 times");
}

/// Where each key of `db` lives: key → server index (a key on two
/// servers is a failure).
fn holders(direct: &mut [common::Raw], db: &str) -> HashMap<Vec<u8>, usize> {
    let mut map = HashMap::new();
    for (i, c) in direct.iter_mut().enumerate() {
        c.cmd(&["SELECT", db]);
        let Value::Array(keys) = c.cmd(&["KEYS", "*"]) else {
            panic!("KEYS");
        };
        for k in keys {
            let prev = map.insert(bulk(&k), i);
            assert!(prev.is_none(), "a key on two servers in db {db}");
        }
    }
    map
}

/// Placement through Slotway equals placement through the real nutcracker,
/// key by key, for every hash with ketama and modula (`random` places each
/// request anywhere, by design), named and unnamed servers, with and
/// without a hash tag, and ASCII, UTF-8 and binary keys.
#[test]
fn keys_land_where_nutcracker_puts_them() {
    let Some(bin) = nc::nutcracker_binary() else {
        assert!(
            std::env::var_os("SLOTWAY_REQUIRE_NUTCRACKER").is_none(),
            "nutcracker is required (SLOTWAY_REQUIRE_NUTCRACKER) but not installed"
        );
        eprintln!("nutcracker not installed: pool differential test SKIPPED");
        return;
    };
    let backends = servers(3);
    let dir = tempfile::tempdir().unwrap();
    let mut keys: Vec<Vec<u8>> = (0..120).map(|i| format!("user:{i}").into_bytes()).collect();
    keys.extend((0..30).map(|i| format!("ключ:{i}").into_bytes()));
    keys.extend((0..30).map(|i| format!("{{tag{}}}:{i}", i % 5).into_bytes()));
    keys.extend((0..=255u8).step_by(7).map(|b| vec![b, 0x80 | b, b'x']));
    let mut cases = Vec::new();
    for (i, hash) in Hash::ALL.into_iter().enumerate() {
        for dist in [Distribution::Ketama, Distribution::Modula] {
            let tag = (i % 2 == 0).then_some("{}");
            cases.push((hash, tag, dist, i % 3 == 0));
        }
    }
    let mut via_nc_total = 0;
    for (hash, tag, dist, named) in cases {
        let entries = entries(&backends, named);
        for s in &backends {
            s.cmd(&["FLUSHALL"]).unwrap();
        }
        let (_nc, nc_port) = start_nutcracker(&bin, dir.path(), |port| {
            nutcracker_yaml(&entries, hash, tag, dist, port)
        });
        let proxy = pool_proxy(&entries, hash, tag, dist, 2, |_| {});
        let mut via_nc = common::Raw::connect(("127.0.0.1", nc_port));
        let mut via_sw = proxy.client();
        for key in &keys {
            via_nc.send_cmd(&[&b"SET"[..], key, b"v"]);
            via_sw.send_cmd(&[&b"SET"[..], key, b"v"]);
        }
        for _ in &keys {
            assert!(is_ok(&via_nc.read()));
            let r = via_sw.read();
            assert!(is_ok(&r), "SET through slotway: {r:?}");
        }
        let mut direct: Vec<common::Raw> = backends
            .iter()
            .map(|s| common::Raw::connect(s.addr()))
            .collect();
        let (by_nc, by_sw) = (holders(&mut direct, "1"), holders(&mut direct, "2"));
        assert_eq!(
            by_nc.len(),
            keys.len(),
            "every key written through nutcracker"
        );
        assert_eq!(by_sw.len(), keys.len(), "every key written through slotway");
        let wrong: Vec<_> = keys
            .iter()
            .filter(|k| by_nc.get(*k) != by_sw.get(*k))
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect();
        assert!(
            wrong.is_empty(),
            "{hash:?}/{dist:?} tag {tag:?} named {named}: {} of {} keys misplaced: {wrong:?}",
            wrong.len(),
            keys.len()
        );
        via_nc_total += by_nc.len();
        // And reads come back from there.
        for key in keys.iter().take(10) {
            assert_eq!(bulk(&via_sw.cmd(&[&b"GET"[..], key])), b"v");
        }
    }
    eprintln!("{via_nc_total} keys placed identically in 24 configurations");
}

/// Multi-key commands split per server, keys across servers refused where
/// splitting would change the meaning, errors that keep the connection.
#[test]
fn multi_key_commands_and_errors() {
    let backends = servers(3);
    let proxy = pool_proxy(
        &entries(&backends, false),
        // fnv1a_64 (nutcracker's default) is really 32-bit FNV and clusters
        // keys as short and alike as these on one server: murmur spreads them.
        Hash::Murmur,
        Some("{}"),
        Distribution::Ketama,
        0,
        |_| {},
    );
    let mut c = proxy.client();
    let keys: Vec<String> = (0..30).map(|i| format!("k{i}")).collect();
    let mut mset = vec!["MSET".to_string()];
    for k in &keys {
        mset.push(k.clone());
        mset.push(format!("v-{k}"));
    }
    assert!(is_ok(&c.cmd(&mset)));
    // Keys really are on every server.
    let used = backends
        .iter()
        .filter(|s| s.cmd(&["DBSIZE"]).unwrap().trim() != "0")
        .count();
    assert_eq!(used, 3, "30 keys should spread over 3 servers");
    let mut mget = vec!["MGET".to_string()];
    mget.extend(keys.iter().cloned());
    mget.push("missing".into());
    let Value::Array(values) = c.cmd(&mget) else {
        panic!("MGET");
    };
    assert_eq!(values.len(), 31);
    for (k, v) in keys.iter().zip(&values) {
        assert_eq!(bulk(v), format!("v-{k}").as_bytes());
    }
    assert_eq!(values.last(), Some(&Value::Null));
    let mut exists = vec!["EXISTS".to_string()];
    exists.extend(keys.iter().cloned());
    assert_eq!(
        c.cmd(&exists),
        Value::Integer(30),
        "EXISTS must count every server"
    );
    assert_eq!(
        c.cmd(&["DBSIZE"]),
        Value::Integer(30),
        "DBSIZE sums the servers"
    );
    // Same tag: one server, so a multi-key command that cannot be split works.
    assert!(is_ok(&c.cmd(&["MSET", "{u1}a", "1", "{u1}b", "2"])));
    assert_eq!(c.cmd(&["SUNIONSTORE", "{u1}c", "{u1}d"]), Value::Integer(0));
    // Keys on several servers: a clear error, never a wrong answer.
    let spread = (0..30).map(|i| format!("s{i}")).collect::<Vec<_>>();
    let mut sinter = vec!["SINTER".to_string()];
    sinter.extend(spread);
    let reply = text(&c.cmd(&sinter));
    assert!(reply.starts_with("CROSSSLOT"), "{reply}");
    // Refused and unknown commands: an error, and the connection stays.
    let reply = text(&c.cmd(&["CLUSTER", "INFO"]));
    assert!(reply.contains("sharded pool"), "{reply}");
    let reply = text(&c.cmd(&["NOSUCHCOMMAND", "x"]));
    assert!(reply.starts_with("ERR unknown command"), "{reply}");
    assert_eq!(text(&c.cmd(&["PING"])), "PONG");
    // Transactions on one server.
    assert!(is_ok(&c.cmd(&["MULTI"])));
    assert_eq!(text(&c.cmd(&["INCR", "{t}n"])), "QUEUED");
    assert_eq!(text(&c.cmd(&["INCR", "{t}n"])), "QUEUED");
    assert_eq!(
        c.cmd(&["EXEC"]),
        Value::Array(vec![Value::Integer(1), Value::Integer(2)])
    );
    // Classic pub/sub between clients (whatever servers they would use).
    let mut subscriber = proxy.client();
    subscriber.send_cmd(&["SUBSCRIBE", "news"]);
    let Value::Array(confirm) = subscriber.read() else {
        panic!("SUBSCRIBE");
    };
    assert_eq!(confirm.len(), 3);
    for _ in 0..5 {
        let mut publisher = proxy.client();
        assert_eq!(
            publisher.cmd(&["PUBLISH", "news", "hello"]),
            Value::Integer(1)
        );
    }
    for _ in 0..5 {
        let Value::Array(msg) = subscriber.read() else {
            panic!("message");
        };
        assert_eq!(bulk(&msg[2]), b"hello");
    }
    // A blocking command whose key lives on one server.
    let mut blocked = proxy.client();
    blocked.send_cmd(&["BLPOP", "{q}list", "5"]);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(c.cmd(&["RPUSH", "{q}list", "job"]), Value::Integer(1));
    let Value::Array(popped) = blocked.read() else {
        panic!("BLPOP");
    };
    assert_eq!(bulk(&popped[1]), b"job");
    // SCAN walks every server.
    let mut cursor = "0".to_string();
    let mut seen = 0;
    for _ in 0..1000 {
        let Value::Array(parts) = c.cmd(&["SCAN", &cursor, "COUNT", "100"]) else {
            panic!("SCAN");
        };
        cursor = text(&parts[0]);
        if let Value::Array(found) = &parts[1] {
            seen += found.len();
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen, 30 + 2 + 1, "SCAN sees each key once");
}

/// A dead server costs only its own keys, fast; it is served again once
/// back. With `auto_eject_hosts` its keys are placed on the others.
#[test]
fn dead_server_fails_fast_and_ejection_remaps() {
    let mut backends = servers(3);
    let entries = entries(&backends, false);
    let proxy = pool_proxy(&entries, Hash::Murmur, None, Distribution::Ketama, 0, |p| {
        p.probe_interval = Duration::from_millis(200);
    });
    let mut c = proxy.client();
    let keys: Vec<String> = (0..60).map(|i| format!("d{i}")).collect();
    for k in &keys {
        assert!(is_ok(&c.cmd(&["SET", k, "1"])));
    }
    let on_dead: Vec<&String> = keys
        .iter()
        .filter(|k| backends[2].cmd(&["EXISTS", k]).unwrap().trim() == "1")
        .collect();
    assert!(!on_dead.is_empty());
    backends[2].kill();
    let started = Instant::now();
    let mut errors = 0;
    for k in &keys {
        let reply = c.cmd(&["GET", k]);
        if on_dead.contains(&k) {
            let msg = text(&reply);
            assert!(msg.starts_with("ERR slotway: server"), "{msg}");
            errors += 1;
        } else {
            assert_eq!(bulk(&reply), b"1", "{k} on a live server");
        }
    }
    assert_eq!(errors, on_dead.len());
    assert!(started.elapsed() < Duration::from_secs(5), "failing fast");
    backends[2].restart().unwrap();
    // The restarted server is empty (no persistence): nil, not an error.
    eventually("restarted server never served again", || {
        matches!(c.cmd(&["GET", on_dead[0]]), Value::Null)
    });
    drop(c);
    drop(proxy);

    // auto_eject_hosts: after 2 failed probes the keys move.
    let proxy = ejecting_pool(
        &entries,
        Duration::from_millis(100),
        2,
        Duration::from_millis(500),
    );
    let mut c = proxy.client();
    backends[2].kill();
    eventually("ejection never remapped the key", || {
        is_ok(&c.cmd(&["SET", on_dead[0], "moved"]))
    });
    let holders = backends[..2]
        .iter()
        .filter(|s| s.cmd(&["GET", on_dead[0]]).unwrap().trim() == "moved")
        .count();
    assert_eq!(holders, 1, "the key now lives on a survivor");
    // Back after the retry timeout, once a probe succeeds: placed there again.
    backends[2].restart().unwrap();
    eventually("restored server never got its keys back", || {
        matches!(c.cmd(&["GET", on_dead[0]]), Value::Null)
    });
}

/// The health probe keeps one connection per server from tick to tick: a
/// new connection per PING cost every server a connection per second per
/// proxy (and left the proxy a socket in TIME_WAIT for each). A probe
/// connection the server closed (restart, `timeout`, `CLIENT KILL`) is
/// replaced within the same probe, so it counts as no failure: with a
/// failure limit of 1 the server is not ejected.
#[test]
fn probes_keep_one_connection_per_server() {
    let backends = servers(2);
    let entries = entries(&backends, false);
    let proxy = ejecting_pool(
        &entries,
        Duration::from_millis(50),
        1,
        Duration::from_secs(60),
    );
    let mut c = proxy.client();
    let key = (0..100)
        .map(|i| format!("p{i}"))
        .find(|k| {
            assert!(is_ok(&c.cmd(&["SET", k, "1"])));
            backends[0].cmd(&["EXISTS", k]).unwrap().trim() == "1"
        })
        .expect("a key on the first server");
    let mut direct = common::Raw::connect(backends[0].addr());
    let mut accepted = || -> u64 {
        let info = text(&direct.cmd(&["INFO", "stats"]));
        info.lines()
            .find_map(|l| l.strip_prefix("total_connections_received:"))
            .and_then(|n| n.trim().parse().ok())
            .expect("total_connections_received")
    };
    std::thread::sleep(Duration::from_millis(300));
    let before = accepted();
    std::thread::sleep(Duration::from_secs(1));
    let after = accepted();
    assert!(
        after - before <= 1,
        "{} connections accepted during 20 probe ticks",
        after - before
    );
    // The server closes every other connection, the probe's among them.
    let killed = direct.cmd(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]);
    assert!(matches!(killed, Value::Integer(n) if n >= 1), "{killed:?}");
    std::thread::sleep(Duration::from_millis(500));
    eventually("the proxy never reconnected", || {
        is_ok(&c.cmd(&["SET", &key, "again"]))
    });
    assert_eq!(
        backends[0].cmd(&["GET", &key]).unwrap().trim(),
        "again",
        "the server was ejected: its key was written elsewhere"
    );
}

/// Polls `done` until it holds (at most 10 s).
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A server reached over a unix socket, as nutcracker allows
/// (`/path/to/redis.sock:1`), beside a TCP one.
#[test]
fn unix_socket_servers() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("redis.sock").display().to_string();
    let on_unix = RedisServer::start_with(&["--unixsocket", &sock, "--unixsocketperm", "700"])
        .expect("redis-server on a unix socket");
    let on_tcp = RedisServer::start().unwrap();
    let entries = vec![format!("{sock}:1"), format!("{}:1", on_tcp.addr())];
    let proxy = pool_proxy(
        &entries,
        Hash::Murmur,
        None,
        Distribution::Ketama,
        0,
        |_| {},
    );
    let mut c = proxy.client();
    for i in 0..100 {
        assert!(is_ok(&c.cmd(&["SET", &format!("u{i}"), "1"])));
    }
    let unix_keys: usize = on_unix.cmd(&["DBSIZE"]).unwrap().trim().parse().unwrap();
    let tcp_keys: usize = on_tcp.cmd(&["DBSIZE"]).unwrap().trim().parse().unwrap();
    assert_eq!(unix_keys + tcp_keys, 100);
    assert!(unix_keys > 0, "the unix-socket server got its keys");
    assert_eq!(bulk(&c.cmd(&["GET", "u7"])), b"1");
}
