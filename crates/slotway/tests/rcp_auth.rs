//! Credential pass-through in the redis-cluster-proxy drop-in: a client's
//! `AUTH user pass` that differs from the proxy's own backend credentials
//! is checked by the cluster and, once accepted, the client's requests run
//! with that user's rights on every node (its own connections, which
//! authenticate as that user); a refused AUTH leaves it as it was.
//!
//! The cluster is a real one with `requirepass` and an ACL user `ro` that
//! may only GET (as in redis-cluster-proxy's own `auth` test).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Raw, bulk, is_ok, key_in_range, text};
use slotway_fixture::free_port;
use slotway_resp::Value;

const BIN: &str = env!("CARGO_BIN_EXE_slotway");
const ADMIN_PW: &str = "adminpw";

fn is_error_starting(v: &Value, prefix: &str) -> bool {
    matches!(v, Value::Error(e) if e.starts_with(prefix.as_bytes()))
}

/// A 3-master cluster with the ACL user `ro` (`+get`, password `ropw`) and,
/// when `password` is given, `requirepass` on every node; the drop-in in
/// front of it (`--auth password`); one key per master; a client with the
/// proxy's rights once the proxy serves.
struct Setup {
    cluster: slotway_fixture::Cluster,
    keys: Vec<String>,
    port: u16,
    admin: Raw,
    _proxy: common::OwnedChild,
    _dir: tempfile::TempDir,
}

fn setup(prefix: &str, password: Option<&str>) -> Setup {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let cluster = slotway_fixture::Cluster::start(3, 0).expect("cluster");
    // One key per master, so the `ro` user's rights are checked on every node.
    let keys: Vec<String> = common::master_ranges(&cluster)
        .iter()
        .map(|(lo, hi, _)| key_in_range(prefix, *lo, *hi))
        .collect();
    for node in cluster.nodes() {
        node.cmd(&["ACL", "SETUSER", "ro", "on", ">ropw", "~*", "+get"])
            .unwrap();
        if let Some(pw) = password {
            node.cmd(&["CONFIG", "SET", "requirepass", pw]).unwrap();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("redis-cluster-proxy");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let port = free_port();
    let mut args = vec!["-p".to_owned(), port.to_string()];
    if let Some(pw) = password {
        args.extend(["--auth".to_owned(), pw.to_owned()]);
    }
    args.extend(["--log-level".to_owned(), "error".to_owned()]);
    args.push(cluster.seeds()[0].clone());
    let child = Command::new(&link)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut proxy = common::OwnedChild(child);
    let admin = common::wait_child_serving(&mut proxy.0, port, &[&["SET", &keys[0], "v"]], is_ok);
    Setup {
        cluster,
        keys,
        port,
        admin,
        _proxy: proxy,
        _dir: dir,
    }
}

#[test]
fn auth_as_another_user_runs_with_its_rights() {
    let mut s = setup("pt", Some(ADMIN_PW));
    let (keys, port) = (s.keys.clone(), s.port);
    for k in &keys {
        assert!(is_ok(&s.admin.cmd(&["SET", k, "v"])));
    }

    // `ro`: reads on every node, writes refused by Redis itself.
    let mut ro = Raw::connect(("127.0.0.1", port));
    assert!(is_ok(&ro.cmd(&["AUTH", "ro", "ropw"])));
    for k in &keys {
        assert_eq!(bulk(&ro.cmd(&["GET", k])), b"v");
        let reply = ro.cmd(&["SET", k, "x"]);
        assert!(is_error_starting(&reply, "NOPERM"), "{reply:?}");
    }
    // Its dedicated connections too (a blocking command leases one).
    let reply = ro.cmd(&["BLPOP", &keys[0], "0.1"]);
    assert!(is_error_starting(&reply, "NOPERM"), "{reply:?}");
    // Its connections lost: they reconnect as `ro`, not as the proxy.
    let mut killed = 0;
    for node in s.cluster.nodes() {
        let n = node
            .cmd(&[
                "-a",
                ADMIN_PW,
                "--no-auth-warning",
                "CLIENT",
                "KILL",
                "USER",
                "ro",
            ])
            .unwrap();
        killed += n.trim().parse::<u32>().unwrap();
    }
    // One connection per master (the blocking command's was closed).
    assert_eq!(killed, 3);
    let deadline = Instant::now() + Duration::from_secs(10);
    for k in &keys {
        loop {
            match ro.cmd(&["GET", k]) {
                Value::Bulk(v) => {
                    assert_eq!(&v[..], b"v");
                    break;
                }
                other => assert!(Instant::now() < deadline, "{other:?}"),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let reply = ro.cmd(&["SET", k, "x"]);
        assert!(is_error_starting(&reply, "NOPERM"), "{reply:?}");
    }
    // A wrong password: Redis's error, and the client keeps its identity.
    let reply = ro.cmd(&["AUTH", "ro", "bad"]);
    assert!(is_error_starting(&reply, "WRONGPASS"), "{reply:?}");
    assert_eq!(bulk(&ro.cmd(&["GET", &keys[1]])), b"v");
    let reply = ro.cmd(&["SET", &keys[1], "x"]);
    assert!(is_error_starting(&reply, "NOPERM"), "{reply:?}");
    // Back to the proxy's own identity: full rights again.
    assert!(is_ok(&ro.cmd(&["AUTH", ADMIN_PW])));
    assert!(is_ok(&ro.cmd(&["SET", &keys[2], "v"])));

    // A refused AUTH on a client with the proxy's rights changes nothing.
    let mut other = Raw::connect(("127.0.0.1", port));
    let reply = other.cmd(&["AUTH", "ro", "nope"]);
    assert!(is_error_starting(&reply, "WRONGPASS"), "{reply:?}");
    assert!(is_ok(&other.cmd(&["SET", &keys[1], "v"])));
    // Other clients are never affected.
    for k in &keys {
        assert!(is_ok(&s.admin.cmd(&["SET", k, "v"])));
    }

    // Pipelined behind AUTH: the write already runs as `ro`.
    let mut piped = Raw::connect(("127.0.0.1", port));
    let mut wire = bytes::BytesMut::new();
    slotway_resp::encode::command(&mut wire, &["AUTH", "ro", "ropw"]);
    slotway_resp::encode::command(&mut wire, &["SET", keys[0].as_str(), "x"]);
    slotway_resp::encode::command(&mut wire, &["GET", keys[0].as_str()]);
    piped.send(&wire);
    assert!(is_ok(&piped.read()));
    let reply = piped.read();
    assert!(is_error_starting(&reply, "NOPERM"), "{reply:?}");
    assert_eq!(bulk(&piped.read()), b"v");

    // HELLO … AUTH does the same.
    let mut hello = Raw::connect(("127.0.0.1", port));
    let reply = hello.cmd(&["HELLO", "2", "AUTH", "ro", "ropw", "SETNAME", "app"]);
    assert!(matches!(reply, Value::Array(_)), "{reply:?}");
    let reply = hello.cmd(&["SET", &keys[2], "x"]);
    assert!(is_error_starting(&reply, "NOPERM"), "{reply:?}");
    assert_eq!(text(&hello.cmd(&["CLIENT", "GETNAME"])), "app");
    // RESP3: `ro` may not run HELLO itself; its connections serve anyway.
    let mut resp3 = Raw::connect(("127.0.0.1", port));
    let reply = resp3.cmd(&["HELLO", "3", "AUTH", "ro", "ropw"]);
    assert!(matches!(reply, Value::Map(_)), "{reply:?}");
    assert_eq!(bulk(&resp3.cmd(&["GET", &keys[0]])), b"v");
    let reply = resp3.cmd(&["SET", &keys[0], "x"]);
    assert!(is_error_starting(&reply, "NOPERM"), "{reply:?}");
    let reply = hello.cmd(&["HELLO", "2", "AUTH", "ro", "bad"]);
    assert!(is_error_starting(&reply, "WRONGPASS"), "{reply:?}");
    assert_eq!(bulk(&hello.cmd(&["GET", &keys[2]])), b"v");
}

/// Nodes without a password (the proxy has no `--auth`): the client's own
/// connections must never fall back to the nodes' open `default` user,
/// not even when its credentials stop working after it authenticated.
#[test]
fn refused_credentials_on_reconnect_never_fall_back_to_default() {
    let mut s = setup("pt2", None);
    let (keys, port) = (s.keys.clone(), s.port);
    // The open default user is the proxy's identity: AUTH default … keeps it.
    let mut ro = Raw::connect(("127.0.0.1", port));
    assert!(is_ok(&ro.cmd(&["AUTH", "default", "anything"])));
    assert!(is_ok(&ro.cmd(&["SET", &keys[1], "v"])));
    assert!(is_ok(&ro.cmd(&["AUTH", "ro", "ropw"])));
    let reply = ro.cmd(&["SET", &keys[0], "x"]);
    assert!(is_error_starting(&reply, "NOPERM"), "{reply:?}");
    // An (empty) slot of the first master moves to the second, which `ro`
    // never talked to: the MOVED leads to a new connection, opened as `ro`
    // too (as the nodes' open `default` user the SET would succeed).
    let ranges = common::master_ranges(&s.cluster);
    let busy = slotway_hashkit::key_slot(keys[0].as_bytes());
    let moved = (0u32..)
        .map(|i| key_in_range(&format!("pt2moved{i}"), ranges[0].0, ranges[0].1))
        .find(|k| slotway_hashkit::key_slot(k.as_bytes()) != busy)
        .unwrap();
    let slot = slotway_hashkit::key_slot(moved.as_bytes()).to_string();
    let to = s.cluster.index_of(&ranges[1].2).unwrap();
    let to_id = s.cluster.nodes()[to].cmd(&["CLUSTER", "MYID"]).unwrap();
    let mut order: Vec<usize> = vec![to];
    order.extend((0..s.cluster.nodes().len()).filter(|&i| i != to));
    for i in order {
        let r = s.cluster.nodes()[i]
            .cmd(&["CLUSTER", "SETSLOT", &slot, "NODE", &to_id])
            .unwrap();
        assert_eq!(r, "OK");
    }
    assert_eq!(ro.cmd(&["GET", &moved]), Value::Null);
    let reply = ro.cmd(&["SET", &moved, "x"]);
    assert!(is_error_starting(&reply, "NOPERM"), "{reply:?}");
    // The password changes and the connections drop.
    for node in s.cluster.nodes() {
        node.cmd(&["ACL", "SETUSER", "ro", "resetpass", ">newpw"])
            .unwrap();
        node.cmd(&["CLIENT", "KILL", "USER", "ro"]).unwrap();
    }
    let reply = ro.cmd(&["SET", &keys[0], "x"]);
    assert!(matches!(reply, Value::Error(_)), "{reply:?}");
    assert_eq!(bulk(&s.admin.cmd(&["GET", &keys[0]])), b"v");
}
