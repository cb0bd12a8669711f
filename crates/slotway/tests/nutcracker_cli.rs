//! The nutcracker drop-in as users run it: the real `slotway` binary with
//! nutcracker's flags and YAML, over real redis-server processes.
//!
//! - `-V`, `-h`, `-D`; `-t` on a good and a bad file (and *why* it is bad);
//! - serving a pool (with `redis_db`, `redis_auth`-free) and the stats port
//!   answering nutcracker's JSON with live counters, refreshed every `-i` ms;
//! - invoked through a link named `nutcracker`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bulk, is_ok};
use slotway_fixture::{RedisServer, free_port, run_bounded};

const BIN: &str = env!("CARGO_BIN_EXE_slotway");

fn nutcracker(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("nutcracker").args(args);
    run_bounded(&mut cmd, Duration::from_secs(20)).unwrap()
}

fn write_conf(dir: &Path, body: &str) -> String {
    let path = dir.join("nutcracker.yml");
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

#[test]
fn flags_and_config_test() {
    let out = nutcracker(&["-V"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.starts_with("This is nutcracker-0.5.0"), "{text}");
    let out = nutcracker(&["-D"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("out_queue_bytes"));
    let out = nutcracker(&["--bogus"]);
    assert!(!out.status.success());
    // Slotway's own --threads is checked before anything runs.
    for bad in [&["--threads", "0"][..], &["--threads=x"], &["--threads"]] {
        let out = nutcracker(bad);
        assert!(!out.status.success(), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--threads"),
            "{bad:?}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let good = write_conf(
        dir.path(),
        "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n    - 127.0.0.1:6379:1\n",
    );
    let out = nutcracker(&["-t", "-c", &good]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("syntax is ok"));
    let bad = write_conf(
        dir.path(),
        "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  reuseport: true\n  servers:\n    - 127.0.0.1:6379:1\n",
    );
    let out = nutcracker(&["-t", "-c", &bad]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("syntax is invalid"));
    let why = String::from_utf8_lossy(&out.stderr);
    assert!(why.contains("reuseport"), "-t must say why: {why}");
}

#[test]
fn serves_a_pool_and_its_stats() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let a = RedisServer::start().unwrap();
    let b = RedisServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (listen, stats) = (free_port(), free_port());
    let sock = dir.path().join("beta.sock");
    let conf = write_conf(
        dir.path(),
        &format!(
            "alpha:\n  listen: 127.0.0.1:{listen}\n  redis: true\n  redis_db: 3\n  hash: murmur\n  servers:\n    - {}:1 one\n    - {}:1 two\nbeta:\n  listen: {} 0600\n  redis: true\n  redis_db: 4\n  servers:\n    - {}:1\n",
            a.addr(),
            b.addr(),
            sock.display(),
            a.addr()
        ),
    );
    // Through a link named `nutcracker`, as a drop-in is installed.
    let link = dir.path().join("nutcracker");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let log = dir.path().join("nc.log");
    let child = Command::new(&link)
        .args([
            "-c",
            &conf,
            "-s",
            &stats.to_string(),
            "-a",
            "127.0.0.1",
            "-i",
            "100",
        ])
        .args(["-o", &log.display().to_string(), "-v", "6"])
        // Single-threaded, like nutcracker: the current-thread runtime.
        .args(["--threads", "1"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = common::OwnedChild(child);
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut c = loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", listen)) {
            drop(s);
            break common::Raw::connect(("127.0.0.1", listen));
        }
        assert!(
            Instant::now() < deadline,
            "pool never listened: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    for i in 0..50 {
        assert!(is_ok(&c.cmd(&["SET", &format!("key:{i}"), "v"])));
    }
    assert_eq!(bulk(&c.cmd(&["GET", "key:7"])), b"v");
    let mut mget = vec!["MGET".to_string()];
    mget.extend((0..50).map(|i| format!("key:{i}")));
    c.cmd(&mget);
    // redis_db: the keys are in db 3 of the servers, not db 0.
    let in_db3: usize = [&a, &b]
        .iter()
        .map(|s| {
            s.cmd(&["-n", "3", "DBSIZE"])
                .unwrap_or_default()
                .trim()
                .parse::<usize>()
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(in_db3, 50);
    // The second pool listens on a unix socket with the permission asked.
    {
        use std::io::Write as _;
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mut u = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        u.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        u.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nu\r\n$1\r\n1\r\n*1\r\n$4\r\nPING\r\n")
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while got.len() < b"+OK\r\n+PONG\r\n".len() {
            let n = u.read(&mut buf).unwrap();
            assert!(n > 0, "unix pool closed the connection");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"+OK\r\n+PONG\r\n");
        assert_eq!(a.cmd(&["-n", "4", "GET", "u"]).unwrap().trim(), "1");
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut json = String::new();
    TcpStream::connect(("127.0.0.1", stats))
        .unwrap()
        .read_to_string(&mut json)
        .unwrap();
    assert!(json.starts_with("{\"service\":\"nutcracker\""), "{json}");
    assert!(json.ends_with("}\n"), "{json}");
    for want in [
        "\"alpha\": {",
        "\"one\": {",
        "\"two\": {",
        "\"client_connections\":1",
    ] {
        assert!(json.contains(want), "{want} missing in {json}");
    }
    let requests = sum_field(&json, "requests");
    assert!(requests >= 53, "requests counted: {requests} in {json}");
    let responses = sum_field(&json, "responses");
    assert_eq!(responses, requests, "one response per request: {json}");
    // alpha is printed after beta (nutcracker's order): its fields end the text.
    let alpha = json.split("\"alpha\": {").nth(1).unwrap();
    let fragments = sum_field(alpha.split("\"one\": {").next().unwrap(), "fragments");
    assert!(fragments >= 2, "MGET over 2 servers is 2 fragments: {json}");
}

/// The sum of every `"field":N` in a stats document.
fn sum_field(json: &str, field: &str) -> u64 {
    json.split(&format!("\"{field}\":"))
        .skip(1)
        .map(|s| {
            s.split([',', '}'])
                .next()
                .unwrap()
                .trim()
                .parse::<u64>()
                .unwrap()
        })
        .sum()
}

/// The same pools in Slotway's own TOML (`[pools.NAME]`), beside its other
/// sections, served by `slotway --config`.
#[test]
fn toml_pools_in_slotways_config() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let a = RedisServer::start().unwrap();
    let b = RedisServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let listen = free_port();
    let path = dir.path().join("slotway.toml");
    std::fs::write(
        &path,
        format!(
            "[proxy]\nmax_inflight_per_client = 64\n\n[pools.gamma]\nlisten = \"127.0.0.1:{listen}\"\nredis = true\nhash = \"md5\"\ndistribution = \"modula\"\nservers = [\"{}:1\", \"{}:1\"]\n",
            a.addr(),
            b.addr()
        ),
    )
    .unwrap();
    let path = path.display().to_string();
    let mut check = Command::new(BIN);
    check.args(["--config", &path, "check-config"]);
    let out = run_bounded(&mut check, Duration::from_secs(20)).unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut bad = Command::new(BIN);
    let bad_path = dir.path().join("bad.toml");
    std::fs::write(
        &bad_path,
        "[pools.g]\nlisten = \"127.0.0.1:1\"\nredis = true\nservers = [\"127.0.0.1:6379:0\"]\n",
    )
    .unwrap();
    bad.args(["--config", &bad_path.display().to_string(), "check-config"]);
    let out = run_bounded(&mut bad, Duration::from_secs(20)).unwrap();
    assert!(!out.status.success(), "a zero weight must be refused");
    let child = Command::new(BIN)
        .args(["--config", &path])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = common::OwnedChild(child);
    common::wait_listening(listen, "the pool");
    let mut c = common::Raw::connect(("127.0.0.1", listen));
    for i in 0..40 {
        assert!(is_ok(&c.cmd(&["SET", &format!("t{i}"), "x"])));
    }
    let total: usize = [&a, &b]
        .iter()
        .map(|s| s.cmd(&["DBSIZE"]).unwrap().trim().parse::<usize>().unwrap())
        .sum();
    assert_eq!(total, 40);
    assert_eq!(bulk(&c.cmd(&["GET", "t3"])), b"x");
}

/// SIGHUP reloads the YAML: a server added to a pool takes its share of new
/// keys while clients stay connected, a new pool starts, a broken file
/// changes nothing.
#[test]
fn sighup_reloads_pools_without_dropping_clients() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let a = RedisServer::start().unwrap();
    let b = RedisServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (listen, other, stats) = (free_port(), free_port(), free_port());
    let one = format!(
        "alpha:\n  listen: 127.0.0.1:{listen}\n  redis: true\n  hash: murmur\n  servers:\n    - {}:1\n",
        a.addr()
    );
    let conf = write_conf(dir.path(), &one);
    let child = Command::new(BIN)
        .args([
            "nutcracker",
            "-c",
            &conf,
            "-s",
            &stats.to_string(),
            "-a",
            "127.0.0.1",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let _guard = common::OwnedChild(child);
    common::wait_listening(listen, "the pool");
    let mut c = common::Raw::connect(("127.0.0.1", listen));
    assert!(is_ok(&c.cmd(&["SET", "before", "1"])));
    let two = format!(
        "alpha:\n  listen: 127.0.0.1:{listen}\n  redis: true\n  hash: murmur\n  servers:\n    - {}:1\n    - {}:1\ndelta:\n  listen: 127.0.0.1:{other}\n  redis: true\n  servers:\n    - {}:1\n",
        a.addr(),
        b.addr(),
        b.addr()
    );
    write_conf(dir.path(), &two);
    let hup = |pid: &str| {
        let mut kill = Command::new("kill");
        kill.args(["-HUP", pid]);
        assert!(
            run_bounded(&mut kill, Duration::from_secs(5))
                .unwrap()
                .status
                .success()
        );
    };
    hup(&pid);
    common::wait_listening(other, "the pool added by the reload");
    // Same connection, new placement: keys now also land on b.
    for i in 0..60 {
        assert!(is_ok(&c.cmd(&["SET", &format!("after:{i}"), "1"])));
    }
    let on_b: usize = b.cmd(&["DBSIZE"]).unwrap().trim().parse().unwrap();
    assert!(on_b > 0, "the added server got no key");
    // A broken file: refused, everything keeps running as it was.
    write_conf(dir.path(), "alpha:\n  listen: 127.0.0.1:1\n  bogus: 1\n");
    hup(&pid);
    std::thread::sleep(Duration::from_millis(300));
    assert!(is_ok(&c.cmd(&["SET", "still", "1"])));
    let mut d = common::Raw::connect(("127.0.0.1", other));
    assert_eq!(common::text(&d.cmd(&["PING"])), "PONG");
}
