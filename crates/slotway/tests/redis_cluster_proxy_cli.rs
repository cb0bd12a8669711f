//! The redis-cluster-proxy drop-in as users run it: the real binary through
//! a link named `redis-cluster-proxy`, with its `proxy.conf` keys (the
//! sample's `max-clients` spelling included), in front of a real cluster,
//! on TCP and on a unix socket at once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{bulk, is_ok, text};
use slotway_fixture::{free_port, run_bounded};

const BIN: &str = env!("CARGO_BIN_EXE_slotway");

#[test]
fn proxy_conf_keys_tcp_and_unix_socket() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let cluster = slotway_fixture::Cluster::start(3, 0).expect("cluster");
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("redis-cluster-proxy");
    std::os::unix::fs::symlink(BIN, &link).unwrap();

    let mut bad = Command::new(&link);
    bad.args(["--bogus", "1"]);
    let out = run_bounded(&mut bad, Duration::from_secs(20)).unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Invalid option '--bogus'"));

    let port = free_port();
    let sock = dir.path().join("proxy.sock");
    let conf = dir.path().join("proxy.conf");
    std::fs::write(
        &conf,
        format!(
            "# redis-cluster-proxy sample keys\ncluster {}\nport {port}\nbind 127.0.0.1\nthreads 2\nmax-clients 100\nunixsocket {}\nunixsocketperm 700\nconnections-pool-size 10\nenable-cross-slot no\nlog-level error\n",
            cluster.seeds()[0],
            sock.display()
        ),
    )
    .unwrap();
    let child = Command::new(&link)
        .args(["-c", &conf.display().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = common::OwnedChild(child);
    let mut c = common::wait_child_serving(&mut guard.0, port, &[&["SET", "rcp:a", "1"]], is_ok);
    assert_eq!(bulk(&c.cmd(&["GET", "rcp:a"])), b"1");
    // Like redis-cluster-proxy without enable-cross-slot: its own refusal.
    let reply = text(&c.cmd(&["MGET", "rcp:a", "rcp:b", "rcp:c", "rcp:d"]));
    assert!(
        reply.starts_with("ERR Cross-slot queries are disabled"),
        "{reply}"
    );
    // The unix socket, with the permission asked.
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let mut u = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    u.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    u.write_all(b"*2\r\n$3\r\nGET\r\n$5\r\nrcp:a\r\n").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while got.len() < b"$1\r\n1\r\n".len() {
        let n = u.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"$1\r\n1\r\n");
}
