//! The stats JSON layout of `slotway_nutconf::to_json` against the real
//! nutcracker 0.5.0: nutcracker runs three pools over a real redis-server
//! (free loopback ports, stopped by their own handles), its stats port is
//! read, and our document for the same pools (in the order `parse_yaml`
//! gives them) must be byte-identical once every number is set to 0 — so
//! field order, separators, pool order, server order and the trailing
//! newline are all compared, but not the values.
//!
//! Skips (passes with a notice) when nutcracker is not installed, unless
//! `SLOTWAY_REQUIRE_NUTCRACKER=1`. Every wait is bounded in time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::time::{Duration, Instant};

use slotway_fixture::{RedisServer, free_port};
use slotway_nutconf::{PoolStats, ServerStats, StatsSnapshot, parse_yaml, to_json};
use support::{Nutcracker, nutcracker_or_skip};

const WAIT: Duration = Duration::from_secs(10);
const IO_TIMEOUT: Duration = Duration::from_secs(5);

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

/// The whole document the stats port writes to a new connection.
fn read_stats(port: u16) -> std::io::Result<String> {
    let mut conn = TcpStream::connect_timeout(&loopback(port), IO_TIMEOUT)?;
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut text = String::new();
    conn.read_to_string(&mut text)?;
    Ok(text)
}

/// One `SET` through a pool, so nutcracker opens a server connection.
fn set_through(port: u16) -> std::io::Result<String> {
    let mut conn = TcpStream::connect_timeout(&loopback(port), IO_TIMEOUT)?;
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")?;
    let mut reply = [0u8; 64];
    let n = conn.read(&mut reply)?;
    Ok(String::from_utf8_lossy(reply.get(..n).unwrap_or_default()).into_owned())
}

/// `text` with every number that follows `":` replaced by `0`.
fn zero_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == ':' && out.ends_with("\":") && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('0');
        }
    }
    out
}

/// The string value of `"key":"…"` in `json`.
fn string_field(json: &str, key: &str) -> String {
    let start = json.find(&format!("\"{key}\":\"")).unwrap() + key.len() + 4;
    let len = json[start..].find('"').unwrap();
    json[start..start + len].to_string()
}

#[test]
fn stats_layout_matches_nutcracker() {
    let Some(bin) = nutcracker_or_skip("nutcracker_stats layout") else {
        return;
    };
    let redis = RedisServer::start().unwrap();
    let r = redis.port();
    let (p1, p2, p3, stats_port) = (free_port(), free_port(), free_port(), free_port());
    // Pool and server names chosen so nutcracker's order (shorter first)
    // differs from both the written order and plain sorting.
    let yaml = format!(
        "beta:\n  listen: 127.0.0.1:{p1}\n  redis: true\n  servers:\n   - 127.0.0.1:{r}:1 s10\n   - 127.0.0.1:{r}:1 s9\nalpha:\n  listen: 127.0.0.1:{p2}\n  redis: true\n  redis_db: 1\n  servers:\n   - 127.0.0.1:{r}:1\nzz:\n  listen: 127.0.0.1:{p3}\n  redis: true\n  redis_db: 2\n  servers:\n   - 127.0.0.1:{r}:1 only\n"
    );
    let dir = tempfile::Builder::new()
        .prefix("slotway-nc-stats-")
        .tempdir()
        .unwrap();
    let conf = dir.path().join("nutcracker.yml");
    std::fs::write(&conf, &yaml).unwrap();
    let args: Vec<String> = [
        "-c",
        conf.to_str().unwrap(),
        "-s",
        &stats_port.to_string(),
        "-a",
        "127.0.0.1",
        "-i",
        "100",
        "-o",
        dir.path().join("nutcracker.log").to_str().unwrap(),
        "-p",
        dir.path().join("nutcracker.pid").to_str().unwrap(),
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    let mut nc = Nutcracker::spawn(&bin, &args, &dir.path().join("stdio.log"));

    let deadline = Instant::now() + WAIT;
    let theirs = loop {
        assert!(!nc.exited(), "nutcracker exited:\n{}", nc.log_tail());
        if let Ok(doc) = read_stats(stats_port) {
            break doc;
        }
        assert!(
            Instant::now() < deadline,
            "no stats after {WAIT:?}:\n{}",
            nc.log_tail()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // A request makes some counters non-zero; the layout must not change.
    // (nutcracker may serve stats an instant before its pools listen.)
    let set = loop {
        match set_through(p1) {
            Ok(reply) => break reply,
            Err(e) => assert!(Instant::now() < deadline, "pool port {p1}: {e}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(set, "+OK\r\n");
    std::thread::sleep(Duration::from_millis(300));
    let after = read_stats(stats_port).unwrap();
    assert_eq!(zero_numbers(&after), zero_numbers(&theirs));

    let pools = parse_yaml(&yaml).unwrap();
    let snapshot = StatsSnapshot {
        source: string_field(&theirs, "source"),
        version: "0.5.0".into(),
        uptime: 1,
        timestamp: 1_700_000_000,
        total_connections: 9,
        curr_connections: 4,
        pools: pools
            .iter()
            .map(|p| PoolStats {
                name: p.name.clone(),
                client_eof: 3,
                servers: p
                    .servers
                    .iter()
                    .map(|s| ServerStats {
                        name: s.entry.identity.clone(),
                        requests: 12,
                        ..ServerStats::default()
                    })
                    .collect(),
                ..PoolStats::default()
            })
            .collect(),
    };
    let ours = to_json(&snapshot);
    eprintln!("nutcracker: {after}slotway:    {ours}");
    assert_eq!(zero_numbers(&ours), zero_numbers(&after));
    assert!(after.ends_with("}\n"));
    drop(nc);
}

#[test]
fn zero_numbers_only_touches_values() {
    assert_eq!(
        zero_numbers("{\"a\":12, \"127.0.0.1:6379\": {\"b\":7}}\n"),
        "{\"a\":0, \"127.0.0.1:6379\": {\"b\":0}}\n"
    );
}
