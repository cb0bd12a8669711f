//! `[commands]`: commands denied, allowed and renamed by the operator,
//! against a real cluster and a real sharded pool. The replies for renamed
//! and disabled commands are compared with a real redis-server given the
//! same `rename-command` lines; denied commands get the proxy's own error,
//! after the arity check and before NOAUTH and NOPERM (where Redis refuses
//! its configuration-protected commands such as DEBUG).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Proxy, Raw, is_ok, key_in_range, master_ranges, text};
use slotway_core::Config;
use slotway_core::pool::{PoolServer, PoolSettings};
use slotway_fixture::{Cluster, RedisServer};
use slotway_hashkit::twemproxy::{Distribution, Hash, ServerEntry};
use slotway_resp::Value;

const GATE: &str = r#"
[commands]
deny = ["KEYS", "config|set"]
allow = ["CONFIG|RESETSTAT"]
rename = { FLUSHALL = "my-flushall", DEBUG = "", flushdb = "" }

[[users]]
name = "ro"
passwords = ["pw"]
commands = "+@read"
keys = "allkeys"
"#;

fn gated(seeds: &[String]) -> Proxy {
    let parsed = Config::from_toml(GATE).unwrap();
    let proxy = Proxy::start_with(seeds, |c| {
        c.commands = parsed.commands;
        c.users = parsed.users;
    });
    proxy.wait_ready();
    proxy
}

/// Sends each command to both and checks the replies are the same.
fn same_replies(proxy: &mut Raw, redis: &mut Raw, script: &[&[&str]]) {
    for args in script {
        let (p, r) = (proxy.cmd(args), redis.cmd(args));
        assert_eq!(p, r, "{args:?}: proxy {p:?}, redis {r:?}");
    }
}

fn denied(name: &str) -> String {
    format!("ERR slotway: command '{name}' is disabled by the proxy configuration")
}

#[test]
fn renamed_and_disabled_commands_answer_as_redis() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let cluster = Cluster::start(3, 0).unwrap();
    let redis = RedisServer::start_with(&[
        "--rename-command",
        "FLUSHALL",
        "my-flushall",
        "--rename-command",
        "DEBUG",
        "",
        "--rename-command",
        "FLUSHDB",
        "",
    ])
    .unwrap();
    assert_eq!(
        redis
            .cmd(&["ACL", "SETUSER", "ro", "on", ">pw", "+@read", "allkeys"])
            .unwrap(),
        "OK"
    );
    let proxy = gated(&cluster.seeds());
    let (mut p, mut r) = (proxy.client(), Raw::connect(redis.addr()));
    same_replies(
        &mut p,
        &mut r,
        &[
            &["FLUSHALL"],
            &["flushall", "async"],
            &["DEBUG", "SLEEP", "0"],
            &["flushdb"],
            &["SET", "k", "v"],
            &["MY-FLUSHALL"],
            &["GET", "k"],
            // A renamed-away command inside MULTI aborts the transaction.
            &["MULTI"],
            &["SET", "k", "v"],
            &["FLUSHALL"],
            &["EXEC"],
            &["GET", "k"],
            // Under the new name, ACLs see the original command; under the
            // old name it is unknown before any permission check.
            &["AUTH", "ro", "pw"],
            &["my-flushall"],
            &["FLUSHALL"],
            &["GET", "k"],
        ],
    );

    // The new name reaches every master (FLUSHALL is a fan-out).
    let mut c = proxy.client();
    for (i, (lo, hi, _)) in master_ranges(&cluster).into_iter().enumerate() {
        assert!(is_ok(&c.cmd(&[
            "SET",
            &key_in_range(&format!("m{i}"), lo, hi),
            "v"
        ])));
    }
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Integer(3));
    assert!(is_ok(&c.cmd(&["my-FLUSHALL", "SYNC"])));
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Integer(0));
}

#[test]
fn denied_and_allowed_commands() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let cluster = Cluster::start(3, 0).unwrap();
    let proxy = gated(&cluster.seeds());
    let mut c = proxy.client();
    assert_eq!(text(&c.cmd(&["KEYS", "*"])), denied("keys"));
    assert_eq!(
        text(&c.cmd(&["keys", "a", "b"])),
        "ERR wrong number of arguments for 'keys' command"
    );
    assert_eq!(
        text(&c.cmd(&["CONFIG", "SET", "maxmemory-policy", "noeviction"])),
        denied("config|set")
    );
    assert!(matches!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]),
        Value::Array(_)
    ));
    // Refused by default (node administration), allowed here: every node.
    assert!(is_ok(&c.cmd(&["CONFIG", "RESETSTAT"])));
    assert!(text(&c.cmd(&["SAVE"])).contains("node administration"));
    // Denied inside MULTI: EXECABORT, nothing runs.
    assert!(is_ok(&c.cmd(&["MULTI"])));
    assert_eq!(text(&c.cmd(&["SET", "t", "1"])), "QUEUED");
    assert_eq!(text(&c.cmd(&["KEYS", "*"])), denied("keys"));
    assert!(text(&c.cmd(&["EXEC"])).starts_with("EXECABORT"));
    assert_eq!(c.cmd(&["GET", "t"]), Value::Null);
    // A denied command is refused before NOPERM (the user may not run KEYS
    // either) ...
    let mut ro = proxy.client();
    assert!(is_ok(&ro.cmd(&["AUTH", "ro", "pw"])));
    assert_eq!(text(&ro.cmd(&["KEYS", "*"])), denied("keys"));
    assert!(text(&ro.cmd(&["SET", "t", "1"])).starts_with("NOPERM"));
    // ... and before NOAUTH, like Redis's protected commands.
    let parsed = Config::from_toml(GATE).unwrap();
    let proxy = Proxy::start_with(&cluster.seeds(), |c| {
        c.commands = parsed.commands;
        c.proxy.requirepass = "secret".to_owned();
    });
    let mut anon = proxy.client();
    assert_eq!(text(&anon.cmd(&["KEYS", "*"])), denied("keys"));
    assert!(text(&anon.cmd(&["GET", "k"])).starts_with("NOAUTH"));
    assert!(text(&anon.cmd(&["FLUSHALL"])).starts_with("ERR unknown command 'FLUSHALL'"));
}

#[test]
fn the_gate_applies_to_pools() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let a = RedisServer::start().unwrap();
    let b = RedisServer::start().unwrap();
    let servers = [&a, &b]
        .iter()
        .map(|s| PoolServer::from_entry(&ServerEntry::parse(&format!("{}:1", s.addr())).unwrap()))
        .collect();
    let pool =
        PoolSettings::new("alpha", servers, Hash::Fnv1a64, None, Distribution::Ketama).unwrap();
    let mut config = Config::from_toml(
        r#"
[commands]
deny = ["flushall"]
rename = { GET = "fetch", SET = "put" }
"#,
    )
    .unwrap();
    config.proxy.threads = 2;
    let proxy = Proxy::start_settings(config.validate_for_pool(pool).unwrap());
    let mut c = proxy.client();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !is_ok(&c.cmd(&["put", "key:1", "v1"])) {
        assert!(std::time::Instant::now() < deadline, "pool never served");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    for i in 0..20 {
        assert!(is_ok(&c.cmd(&["PUT", &format!("key:{i}"), "v"])));
    }
    assert_eq!(text(&c.cmd(&["fetch", "key:1"])), "v");
    assert!(text(&c.cmd(&["GET", "key:1"])).starts_with("ERR unknown command 'GET'"));
    assert_eq!(text(&c.cmd(&["FLUSHALL"])), denied("flushall"));
    // The servers got every key under the original name (how the keys
    // spread is the placement's business, not the gate's).
    let n = |s: &RedisServer| s.cmd(&["DBSIZE"]).unwrap().parse::<usize>().unwrap();
    assert_eq!(n(&a) + n(&b), 20, "{} / {}", n(&a), n(&b));
}
