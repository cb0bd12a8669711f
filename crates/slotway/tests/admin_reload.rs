//! Cluster mode's configuration reload, the binary as an operator runs it
//! (`slotway --config c.toml --admin ADDR`) in front of a real cluster:
//!
//! - `POST /api/v1/config/reload` applies what can change at run time:
//!   `maxclients` (a client beyond the new limit is refused), the slow log
//!   threshold, `requirepass` and `[[users]]` (the old password is refused,
//!   the new user can AUTH, a client of the changed `default` user is
//!   disconnected while one of an unchanged user stays);
//! - the other changed settings are listed as `restart_required`;
//! - an invalid file answers 400 and changes nothing;
//! - SIGHUP reloads the same way.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::admin::{get_json, post_json};
use common::{Raw, is_ok, text};
use slotway_fixture::{Cluster, free_port};

const AUTH: &str = "Authorization: Bearer reload-admin-token-31\r\n";

/// The file: `maxclients`, the default user's password, the slow log
/// threshold, an optional extra `[[users]]` entry, and `max_inline_len`
/// (which needs a restart).
fn conf(seeds: &str, listen: u16, maxclients: u32, pass: &str, slow: i64, extra: &str) -> String {
    format!(
        "[proxy]\nlisten = \"127.0.0.1:{listen}\"\nmaxclients = {maxclients}\n\
         requirepass = \"{pass}\"\nslowlog_log_slower_than = {slow}\n\
         [cluster]\nseeds = [{seeds}]\n[admin]\ntoken = \"reload-admin-token-31\"\n\
         {extra}"
    )
}

const OPS_USER: &str = "[[users]]\nname = \"ops\"\npasswords = [\"ops-pass\"]\n\
                        commands = \"+@all\"\nkeys = [\"allkeys\"]\n";

/// A client that authenticated with `args` (AUTH's arguments).
fn authed(port: u16, args: &[&str]) -> Raw {
    let mut c = Raw::connect(("127.0.0.1", port));
    let mut cmd = vec!["AUTH"];
    cmd.extend_from_slice(args);
    let r = c.cmd(&cmd);
    assert!(is_ok(&r), "AUTH {args:?}: {r:?}");
    c
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn cluster_reload_applies_runtime_settings() {
    let cluster = Cluster::start(3, 0).unwrap();
    let seeds: Vec<String> = cluster.seeds().iter().map(|s| format!("{s:?}")).collect();
    let seeds = seeds.join(", ");
    let (port, admin_port) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    let write = |body: String| std::fs::write(&path, body).unwrap();
    write(conf(&seeds, port, 100, "old-pass", 1_000_000, ""));
    let guard = common::spawn_config_admin(&path, admin_port);
    let pid = guard.0.id().to_string();
    let admin: SocketAddr = format!("127.0.0.1:{admin_port}").parse().unwrap();
    common::wait_listening(port, "the proxy");
    common::wait_listening(admin_port, "the admin API");
    wait_until("the proxy serves", || {
        let mut c = Raw::connect(("127.0.0.1", port));
        is_ok(&c.cmd(&["AUTH", "old-pass"])) && is_ok(&c.cmd(&["SET", "k", "v"]))
    });
    let mut old_default = authed(port, &["old-pass"]);

    // Unchanged file: nothing applied, nothing to restart.
    let (code, body) = post_json(admin, "/api/v1/config/reload", AUTH);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["applied"], serde_json::json!({}), "{body}");
    assert_eq!(body["restart_required"], serde_json::json!([]), "{body}");

    // Threshold 0 and a new listen port in the file: the slow log takes
    // the former, the latter waits for a restart.
    write(conf(&seeds, port, 100, "old-pass", 0, "").replace(
        &format!("listen = \"127.0.0.1:{port}\""),
        &format!("listen = \"127.0.0.1:{}\"", free_port()),
    ));
    let (code, body) = post_json(admin, "/api/v1/config/reload", AUTH);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["applied"]["slowlog_log_slower_than"], 0, "{body}");
    assert_eq!(
        body["restart_required"],
        serde_json::json!(["proxy.listen"]),
        "{body}"
    );
    assert_eq!(text(&old_default.cmd(&["GET", "k"])), "v");
    let slow = get_json(admin, "/api/v1/slowlog", AUTH);
    assert_eq!(slow["log_slower_than_us"], 0, "{slow}");
    assert!(!slow["entries"].as_array().unwrap().is_empty(), "{slow}");

    // A new password, a new user, maxclients 2.
    write(conf(&seeds, port, 2, "new-pass", 0, OPS_USER));
    let (code, body) = post_json(admin, "/api/v1/config/reload", AUTH);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["applied"]["maxclients"], 2, "{body}");
    assert!(
        body["applied"]["users"]["disconnected_clients"]
            .as_u64()
            .unwrap()
            >= 1,
        "{body}"
    );
    assert_eq!(
        get_json(admin, "/api/v1/config", AUTH)["proxy"]["maxclients"],
        2
    );
    // The client of the changed default user was disconnected.
    assert!(old_default.closed(), "a client of a changed user stays");
    wait_until("the old client leaves", || {
        get_json(admin, "/api/v1/clients", AUTH)["count"] == 0
    });
    let mut c = Raw::connect(("127.0.0.1", port));
    let r = c.cmd(&["AUTH", "old-pass"]);
    assert!(text(&r).contains("WRONGPASS"), "{r:?}");
    assert!(is_ok(&c.cmd(&["AUTH", "new-pass"])));
    let mut ops = authed(port, &["ops", "ops-pass"]);
    assert_eq!(text(&ops.cmd(&["GET", "k"])), "v");
    // Two clients connected: a third is refused (maxclients 2).
    let mut third = Raw::connect(("127.0.0.1", port));
    let r = third.read();
    assert!(text(&r).contains("max number of clients"), "{r:?}");

    // An invalid file: 400, nothing changes (maxclients stays 2, the ops
    // user stays connected and can still work).
    write("[proxy]\nmaxclients = \"many\"\n".to_owned());
    let (code, body) = post_json(admin, "/api/v1/config/reload", AUTH);
    assert_eq!(code, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("maxclients"),
        "{body}"
    );
    assert_eq!(
        get_json(admin, "/api/v1/config", AUTH)["proxy"]["maxclients"],
        2
    );
    assert_eq!(text(&ops.cmd(&["GET", "k"])), "v");

    // SIGHUP: the file again, the ops user removed (its client is
    // disconnected), maxclients back to 100; the unchanged default user's
    // client stays.
    drop(third);
    write(conf(&seeds, port, 100, "new-pass", 0, ""));
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    wait_until("SIGHUP applies maxclients", || {
        get_json(admin, "/api/v1/config", AUTH)["proxy"]["maxclients"] == 100
    });
    assert!(ops.closed(), "a client of a removed user stays");
    assert_eq!(
        text(&c.cmd(&["GET", "k"])),
        "v",
        "an unchanged user's client"
    );
    let mut ops_again = Raw::connect(("127.0.0.1", port));
    let r = ops_again.cmd(&["AUTH", "ops", "ops-pass"]);
    assert!(text(&r).contains("WRONGPASS"), "{r:?}");
}
