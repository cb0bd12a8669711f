//! Differential test of `slotway_hashkit::twemproxy` against the real
//! nutcracker 0.5.0 binary: keys are SET through nutcracker, then every
//! backend redis-server is asked directly which keys it holds, and each key
//! must be exactly where `Placement::server_for_key` says.
//!
//! Owns its processes: redis-servers through `slotway_fixture::RedisServer`
//! (plus one on port 11211 when that port is free), and nutcracker as an
//! owned child killed by its own handle on drop (also on panic). Pools are
//! kept apart with `redis_db`, so one nutcracker serves all pools of a test.
//! Loopback only; every wait is bounded.
//!
//! If nutcracker is not installed the tests print a notice and pass, unless
//! `SLOTWAY_REQUIRE_NUTCRACKER=1` (then they fail).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use slotway_fixture::{RedisServer, free_port};
use slotway_hashkit::twemproxy::{Distribution, Hash, HashTag, Placement, ServerEntry};
use support::{Owned, Reply, Resp, key_set, nutcracker_binary, spawn, wait_pong};

/// A backend redis: the TCP port the test checks it through.
#[derive(Clone, Copy)]
struct Backend {
    port: u16,
}

/// A `servers:` line and the backend it points at.
struct ServerSpec {
    entry: String,
    backend: usize,
}

/// One nutcracker pool. `None` hash/distribution: the directive is left out
/// (nutcracker's default applies).
struct PoolSpec {
    name: String,
    hash: Option<Hash>,
    dist: Option<Distribution>,
    tag: Option<&'static str>,
    servers: Vec<ServerSpec>,
}

impl PoolSpec {
    fn new(name: &str, hash: Option<Hash>, dist: Option<Distribution>) -> PoolSpec {
        PoolSpec {
            name: name.to_string(),
            hash,
            dist,
            tag: None,
            servers: Vec::new(),
        }
    }

    fn tag(mut self, tag: Option<&'static str>) -> PoolSpec {
        self.tag = tag;
        self
    }

    fn server(mut self, entry: String, backend: usize) -> PoolSpec {
        self.servers.push(ServerSpec { entry, backend });
        self
    }

    fn label(&self) -> String {
        format!(
            "{:<22} {:>13}/{:<6} tag={:<4} servers={}",
            self.name,
            self.hash.unwrap_or_default().name(),
            self.dist.unwrap_or_default().name(),
            self.tag.unwrap_or("-"),
            self.servers.len()
        )
    }

    fn placement(&self) -> Placement {
        let servers: Vec<_> = self
            .servers
            .iter()
            .map(|s| ServerEntry::parse(&s.entry).unwrap().server())
            .collect();
        let tag = self.tag.map(|t| t.parse::<HashTag>().unwrap());
        Placement::new(
            self.hash.unwrap_or_default(),
            tag,
            self.dist.unwrap_or_default(),
            &servers,
        )
        .unwrap()
    }
}

fn yaml(pools: &[PoolSpec], listens: &[u16]) -> String {
    let mut y = String::new();
    for (i, (p, port)) in pools.iter().zip(listens).enumerate() {
        writeln!(y, "{}:", p.name).unwrap();
        writeln!(y, "  listen: 127.0.0.1:{port}").unwrap();
        writeln!(y, "  redis: true").unwrap();
        writeln!(y, "  redis_db: {}", i + 1).unwrap();
        writeln!(y, "  timeout: 10000").unwrap();
        if let Some(h) = p.hash {
            writeln!(y, "  hash: {h}").unwrap();
        }
        if let Some(d) = p.dist {
            writeln!(y, "  distribution: {d}").unwrap();
        }
        if let Some(t) = p.tag {
            writeln!(y, "  hash_tag: \"{t}\"").unwrap();
        }
        writeln!(y, "  servers:").unwrap();
        for s in &p.servers {
            writeln!(y, "   - {}", s.entry).unwrap();
        }
    }
    y
}

/// nutcracker running `pools`, with the listen port of each pool.
fn start_nutcracker(bin: &Path, dir: &Path, pools: &[PoolSpec]) -> (Owned, Vec<u16>) {
    let mut last = String::new();
    for attempt in 0..3 {
        let listens: Vec<u16> = pools.iter().map(|_| free_port()).collect();
        let conf = dir.join(format!("nutcracker-{attempt}.yml"));
        std::fs::write(&conf, yaml(pools, &listens)).unwrap();
        let log = dir.join(format!("nutcracker-{attempt}.log"));
        let args = [
            "-c".to_string(),
            conf.display().to_string(),
            "-s".to_string(),
            free_port().to_string(),
            "-a".to_string(),
            "127.0.0.1".to_string(),
            "-o".to_string(),
            log.display().to_string(),
        ];
        let mut nc = spawn(bin, &args, &log);
        match listens.iter().try_for_each(|&p| wait_pong(&mut nc, p)) {
            Ok(()) => return (nc, listens),
            Err(e) if e.contains("Address already in use") => last = e,
            Err(e) => panic!("nutcracker did not start: {e}"),
        }
    }
    panic!("nutcracker lost port races 3 times: {last}");
}

/// The value written for key number `i` of `pool`.
fn value(pool: &str, i: usize) -> Vec<u8> {
    format!("{pool}:{i}").into_bytes()
}

/// SETs every key through nutcracker on `listen`.
fn write_through(listen: u16, pool: &str, keys: &[Vec<u8>]) {
    let mut conn = Resp::connect(listen).unwrap();
    let values: Vec<Vec<u8>> = (0..keys.len()).map(|i| value(pool, i)).collect();
    let all: Vec<(&Vec<u8>, &Vec<u8>)> = keys.iter().zip(&values).collect();
    for batch in all.chunks(250) {
        let cmds: Vec<Vec<&[u8]>> = batch.iter().map(|(k, v)| vec![&b"SET"[..], k, v]).collect();
        let replies = conn
            .pipeline(&cmds)
            .unwrap_or_else(|e| panic!("{pool}: SET through nutcracker: {e}"));
        for ((k, _), r) in batch.iter().zip(replies) {
            assert_eq!(r, Reply::Status("OK".into()), "{pool}: SET {k:?}");
        }
    }
}

/// For each key of `pool` (number `pool_no`), the backends holding it, with
/// its value checked. A server reached over TCP is read in the pool's
/// `redis_db`; one reached over a unix socket in db 0, because nutcracker
/// 0.5.0 does not send `SELECT` on unix-socket connections.
fn holders(
    backends: &[Backend],
    pool: &PoolSpec,
    pool_no: usize,
    keys: &[Vec<u8>],
) -> Vec<Vec<usize>> {
    let index: HashMap<&[u8], usize> = keys.iter().enumerate().map(|(i, k)| (&k[..], i)).collect();
    let places: BTreeSet<(usize, usize)> = pool
        .servers
        .iter()
        .map(|s| {
            (
                s.backend,
                if s.entry.starts_with('/') { 0 } else { pool_no },
            )
        })
        .collect();
    let mut held = vec![Vec::new(); keys.len()];
    for &(b, db) in &places {
        let mut conn = Resp::connect(backends[b].port).unwrap();
        let db = db.to_string();
        let r = conn
            .pipeline(&[
                vec![&b"SELECT"[..], db.as_bytes()],
                vec![&b"KEYS"[..], b"*"],
            ])
            .unwrap();
        assert_eq!(r[0], Reply::Status("OK".into()));
        let Reply::Array(Some(found)) = &r[1] else {
            panic!("KEYS on backend {b}: {:?}", r[1]);
        };
        let mut which = Vec::new();
        for f in found {
            let Reply::Bulk(Some(k)) = f else {
                panic!("KEYS item {f:?}")
            };
            let i = *index.get(&k[..]).unwrap_or_else(|| {
                panic!("{}: unexpected key {k:?} on backend {b} db {db}", pool.name)
            });
            held[i].push(b);
            which.push(i);
        }
        let gets: Vec<Vec<&[u8]>> = which.iter().map(|&i| vec![&b"GET"[..], &keys[i]]).collect();
        for (&i, r) in which.iter().zip(conn.pipeline(&gets).unwrap()) {
            assert_eq!(
                r,
                Reply::Bulk(Some(value(&pool.name, i))),
                "{}: value of {:?}",
                pool.name,
                keys[i]
            );
        }
    }
    held
}

/// Runs `pools` through one nutcracker and checks every key's placement.
/// Returns one report line per pool; panics listing every failing pool.
fn run(backends: &[Backend], pools: &[PoolSpec]) -> Vec<String> {
    let Some(bin) = nutcracker_binary() else {
        let msg =
            "nutcracker not installed (apt-get install nutcracker): differential test SKIPPED";
        assert!(
            std::env::var("SLOTWAY_REQUIRE_NUTCRACKER").as_deref() != Ok("1"),
            "{msg}"
        );
        eprintln!("{msg}");
        return Vec::new();
    };
    let dir = tempfile::Builder::new()
        .prefix("slotway-nc-")
        .tempdir()
        .unwrap();
    let (nc, listens) = start_nutcracker(&bin, dir.path(), pools);
    let keys = key_set();
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for (i, (pool, listen)) in pools.iter().zip(&listens).enumerate() {
        write_through(*listen, &pool.name, &keys);
        let used: BTreeSet<usize> = pool.servers.iter().map(|s| s.backend).collect();
        let held = holders(backends, pool, i + 1, &keys);
        let model = pool.placement();
        let random = pool.dist == Some(Distribution::Random);
        let mut wrong = Vec::new();
        let mut per_backend: HashMap<usize, usize> = HashMap::new();
        for (k, h) in keys.iter().zip(&held) {
            if let [b] = h[..] {
                *per_backend.entry(b).or_default() += 1;
            }
            let expected = pool.servers[model.server_for_key(k, 0)].backend;
            let ok = if random {
                h.len() == 1
            } else {
                h[..] == [expected]
            };
            if !ok {
                wrong.push(format!("{k:?}: on {h:?}, model says {expected}"));
            }
        }
        let counts: Vec<usize> = used
            .iter()
            .map(|b| per_backend.get(b).copied().unwrap_or(0))
            .collect();
        let line = format!(
            "{} keys={} wrong={} per-backend={counts:?}",
            pool.label(),
            keys.len(),
            wrong.len()
        );
        if !wrong.is_empty() {
            failures.push(format!(
                "{line}\n    {}",
                wrong
                    .iter()
                    .take(8)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n    ")
            ));
        }
        report.push(line);
    }
    drop(nc);
    println!("{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "placement differs from nutcracker:\n{}",
        failures.join("\n")
    );
    report
}

fn start_backends(n: usize, extra: &[&str]) -> (Vec<RedisServer>, Vec<Backend>) {
    let servers: Vec<RedisServer> = (0..n)
        .map(|_| RedisServer::start_with(extra).unwrap())
        .collect();
    let backends = servers.iter().map(|s| Backend { port: s.port() }).collect();
    (servers, backends)
}

/// Every hash × distribution pair, each with a different server layout and
/// hash tag: plain `host:port` identities, weights 10/1/12/1/1 (float32
/// point counts 28 instead of 32), named servers whose sorted order differs
/// from the config order, and host texts spelled differently (`127.1`).
#[test]
fn every_hash_and_distribution_matches_nutcracker() {
    let (_servers, backends) = start_backends(5, &["--databases", "64"]);
    let p = |b: usize| backends[b].port;
    let tags = [Some("{}"), None, Some("$$")];
    let mut pools = Vec::new();
    for (hi, hash) in Hash::ALL.into_iter().enumerate() {
        for (di, dist) in Distribution::ALL.into_iter().enumerate() {
            let name = format!("{}_{}", hash.name(), dist.name());
            let pool = PoolSpec::new(&name, Some(hash), Some(dist)).tag(tags[(hi + di) % 3]);
            let pool = match (hi + 2 * di) % 4 {
                0 => (0..4).fold(pool, |pl, b| pl.server(format!("127.0.0.1:{}:1", p(b)), b)),
                1 => [(10, 3), (1, 0), (12, 4), (1, 1), (1, 2)]
                    .into_iter()
                    .fold(pool, |pl, (w, b)| {
                        pl.server(format!("127.0.0.1:{}:{w}", p(b)), b)
                    }),
                2 => [("s9", 2, 0), ("s10", 1, 1), ("a", 3, 2), ("bb", 1, 4)]
                    .into_iter()
                    .fold(pool, |pl, (n, w, b)| {
                        pl.server(format!("127.0.0.1:{}:{w} {n}", p(b)), b)
                    }),
                _ => pool
                    .server(format!("127.1:{}:1", p(0)), 0)
                    .server(format!("127.0.0.1:{}:2", p(1)), 1)
                    .server(format!("127.0.1:{}:1", p(3)), 3)
                    .server(format!("127.0.0.1:{}:3 named-four", p(4)), 4),
            };
            pools.push(pool);
        }
    }
    let report = run(&backends, &pools);
    assert!(report.is_empty() || report.len() == 36);
}

/// Identity and point-count rules: 25 and 47 equal servers (156 points
/// each), weights under names, unix sockets (identity `path:`), skewed
/// weights, nutcracker's defaults, a one-server pool, names of up to 269
/// bytes, and the port-11211 rule when that port is free here.
#[test]
fn identities_weights_and_point_counts_match_nutcracker() {
    let sockdir = tempfile::Builder::new()
        .prefix("slotway-sock-")
        .tempdir()
        .unwrap();
    let sock = |i: usize| {
        sockdir
            .path()
            .join(format!("r{i}.sock"))
            .display()
            .to_string()
    };
    let mut servers = Vec::new();
    for i in 0..5 {
        let s = sock(i);
        let extra = [
            "--databases",
            "32",
            "--unixsocket",
            &s,
            "--unixsocketperm",
            "700",
        ];
        servers.push(RedisServer::start_with(&extra).unwrap());
    }
    let mut backends: Vec<Backend> = servers.iter().map(|s| Backend { port: s.port() }).collect();
    let ports: Vec<u16> = backends.iter().map(|b| b.port).collect();
    let p = |b: usize| ports[b];
    let mut pools = vec![
        (1..=25).fold(PoolSpec::new("n25_defaults", None, None), |pl, i| {
            pl.server(format!("127.0.0.1:{}:1 node-{i:02}", p(i % 5)), i % 5)
        }),
        (1..=25).fold(
            PoolSpec::new("n25_modula", Some(Hash::Crc32a), Some(Distribution::Modula)),
            |pl, i| {
                pl.server(
                    format!("127.0.0.1:{}:{} n{i}", p(i * 3 % 5), i % 3 + 1),
                    i * 3 % 5,
                )
            },
        ),
        (0..47).fold(
            PoolSpec::new(
                "n47_jenkins",
                Some(Hash::Jenkins),
                Some(Distribution::Ketama),
            ),
            |pl, i| pl.server(format!("127.0.0.1:{}:1 srv{i}", p(i % 5)), i % 5),
        ),
        PoolSpec::new("unix_ketama", Some(Hash::Md5), Some(Distribution::Ketama))
            .server(format!("{}:1", sock(0)), 0)
            .server(format!("127.0.0.1:{}:1", p(1)), 1)
            .server(format!("{}:2", sock(2)), 2)
            .server(format!("127.0.0.1:{}:1", p(3)), 3),
        PoolSpec::new(
            "unix_modula",
            Some(Hash::OneAtATime),
            Some(Distribution::Modula),
        )
        .tag(Some("{}"))
        .server(format!("{}:3", sock(1)), 1)
        .server(format!("127.0.0.1:{}:1", p(0)), 0)
        .server(format!("{}:2", sock(3)), 3),
        PoolSpec::new(
            "unix_named",
            Some(Hash::Fnv1_32),
            Some(Distribution::Ketama),
        )
        .server(format!("{}:1 zed", sock(4)), 4)
        .server(format!("127.0.0.1:{}:1 alpha", p(2)), 2)
        .server(format!("127.0.0.1:{}:1", p(3)), 3),
        [(5, 0), (100, 1), (1, 2), (7, 3)].into_iter().fold(
            PoolSpec::new("skewed", Some(Hash::Hsieh), Some(Distribution::Ketama)),
            |pl, (w, b)| pl.server(format!("127.0.0.1:{}:{w}", p(b)), b),
        ),
        [(5, 0, "w5"), (100, 1, "w100"), (1, 2, "w1"), (7, 3, "w7")]
            .into_iter()
            .fold(
                PoolSpec::new(
                    "skewed_named",
                    Some(Hash::Crc16),
                    Some(Distribution::Ketama),
                ),
                |pl, (w, b, n)| pl.server(format!("127.0.0.1:{}:{w} {n}", p(b)), b),
            ),
        PoolSpec::new("single", Some(Hash::Crc32), Some(Distribution::Modula))
            .server(format!("127.0.0.1:{}:4", p(3)), 3),
    ];
    // Long names: ketama point names of up to 272 bytes ("{name}-39") are
    // what nutcracker 0.5.0 hashes faithfully (KETAMA_MAX_POINT_NAME).
    for len in [120usize, 269] {
        pools.push((0..4).fold(
            PoolSpec::new(
                &format!("long_names_{len}"),
                Some(Hash::Murmur),
                Some(Distribution::Ketama),
            ),
            |pl, b| {
                pl.server(
                    format!("127.0.0.1:{}:1 {}{b}", p(b), "n".repeat(len - 1)),
                    b,
                )
            },
        ));
    }
    // The port-11211 rule needs a backend on 11211: only if it is free.
    let dir11211 = tempfile::tempdir().unwrap();
    let redis11211 = start_on_11211(dir11211.path());
    if redis11211.is_some() {
        backends.push(Backend { port: 11211 });
        let b = backends.len() - 1;
        for (name, hash) in [
            ("port11211_fnv1a", Hash::Fnv1a64),
            ("port11211_oaat", Hash::OneAtATime),
        ] {
            pools.push(
                PoolSpec::new(name, Some(hash), Some(Distribution::Ketama))
                    .server("127.0.0.1:11211:1".into(), b)
                    .server(format!("127.0.0.1:{}:1", p(1)), 1)
                    .server(format!("127.0.0.1:{}:1", p(2)), 2),
            );
        }
    } else {
        eprintln!("port 11211 is busy here: the port-11211 identity rule is not checked");
    }
    run(&backends, &pools);
    drop(redis11211);
}

/// A redis-server of ours on 127.0.0.1:11211, if that port is free and the
/// server that answers there is our child.
fn start_on_11211(dir: &Path) -> Option<Owned> {
    std::net::TcpListener::bind(("127.0.0.1", 11211)).ok()?;
    let bin = slotway_fixture::find_binary("redis-server")?;
    let log = dir.join("redis.log");
    let args: Vec<String> = [
        "--port",
        "11211",
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--databases",
        "32",
        "--dir",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([dir.display().to_string()])
    .collect();
    let mut r = spawn(&bin, &args, &log);
    wait_pong(&mut r, 11211).ok()?;
    let pid = format!("process_id:{}", r.child.id());
    let info = Resp::connect(11211).ok()?.cmd(&[b"INFO", b"server"]).ok()?;
    match info {
        Reply::Bulk(Some(text))
            if String::from_utf8_lossy(&text)
                .lines()
                .any(|l| l.trim_end() == pid) =>
        {
            Some(r)
        }
        _ => None,
    }
}
