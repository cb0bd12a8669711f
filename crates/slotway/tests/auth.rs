//! `proxy.requirepass`: clients authenticate with the proxy as with Redis
//! (AUTH, AUTH default, HELLO … AUTH), get Redis's NOAUTH/WRONGPASS errors,
//! and the password never shows in printed settings.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Proxy, is_ok, text};
use slotway_fixture::Cluster;
use slotway_resp::Value;

#[test]
fn clients_must_authenticate_like_with_redis() {
    let cluster = Cluster::start(3, 0).unwrap();
    let proxy = Proxy::start_with(&cluster.seeds(), |c| c.proxy.requirepass = "s3cret".into());
    let mut c = proxy.client();
    assert_eq!(
        text(&c.cmd(&["GET", "k"])),
        "NOAUTH Authentication required."
    );
    // Redis checks the command itself before authentication.
    assert!(text(&c.cmd(&["NOSUCH"])).starts_with("ERR unknown command"));
    assert_eq!(text(&c.cmd(&["PING"])), "NOAUTH Authentication required.");
    assert_eq!(
        text(&c.cmd(&["AUTH", "wrong"])),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    assert_eq!(
        text(&c.cmd(&["GET", "k"])),
        "NOAUTH Authentication required."
    );
    assert!(text(&c.cmd(&["HELLO", "3"])).starts_with("NOAUTH HELLO must be called"));
    assert!(is_ok(&c.cmd(&["AUTH", "s3cret"])));
    assert!(is_ok(&c.cmd(&["SET", "k", "v"])));
    // A failed AUTH does not take the rights away.
    assert!(text(&c.cmd(&["AUTH", "nope"])).starts_with("WRONGPASS"));
    assert_eq!(text(&c.cmd(&["GET", "k"])), "v");
    // RESET de-authenticates.
    assert_eq!(text(&c.cmd(&["RESET"])), "RESET");
    assert_eq!(
        text(&c.cmd(&["GET", "k"])),
        "NOAUTH Authentication required."
    );
    assert!(is_ok(&c.cmd(&["AUTH", "default", "s3cret"])));
    assert_eq!(text(&c.cmd(&["GET", "k"])), "v");

    let mut h = proxy.client();
    assert!(text(&h.cmd(&["HELLO", "3", "AUTH", "default", "bad"])).starts_with("WRONGPASS"));
    assert!(matches!(
        h.cmd(&["HELLO", "3", "AUTH", "default", "s3cret"]),
        Value::Map(_)
    ));
    assert_eq!(h.cmd(&["GET", "k"]), Value::Bulk("v".into()));

    // Before authentication, Redis's small request limits apply.
    let mut u = proxy.client();
    let big: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    let mut args = vec!["MGET".to_owned()];
    args.extend(big);
    u.send_cmd(&args);
    assert_eq!(
        text(&u.read()),
        "ERR Protocol error: unauthenticated multibulk length"
    );
    assert!(u.closed());
}

#[test]
fn password_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(
        &path,
        "[proxy]\nrequirepass = \"hunter2-very-secret\"\n[cluster]\nseeds = [\"127.0.0.1:7001\"]\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slotway"))
        .arg("--config")
        .arg(&path)
        .arg("check-config")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        printed.contains("requirepass: Some(\n        <redacted>"),
        "{printed}"
    );
    assert!(!printed.contains("hunter2"), "{printed}");
}
