//! Unit tests of the YAML form. The nutcracker verdict of each kind of
//! mistake is checked against the real binary in
//! `tests/nutcracker_conf.rs`; here the typed result and the message are.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::time::Duration;

use slotway_hashkit::twemproxy::{Distribution, Hash, HashTag};

use super::parse_yaml;
use crate::error::{ConfError, DirectiveProblem, PoolProblem, ShapeProblem};
use crate::pool::{Listen, PoolConf};

/// A one-pool config: `alpha` on 127.0.0.1:22121, `redis: true`, one
/// server, plus `extra` directive lines (indented by the caller's text).
fn pool(extra: &str) -> String {
    format!(
        "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n{extra}  servers:\n   - 127.0.0.1:6379:1\n"
    )
}

fn one(text: &str) -> PoolConf {
    let mut pools = parse_yaml(text).unwrap();
    assert_eq!(pools.len(), 1);
    pools.remove(0)
}

fn err(text: &str) -> ConfError {
    parse_yaml(text).unwrap_err()
}

fn directive_err(text: &str) -> (String, DirectiveProblem) {
    match err(text) {
        ConfError::Directive { key, problem, .. } => (key, problem),
        other => panic!("{other:?}"),
    }
}

fn pool_err(text: &str) -> PoolProblem {
    match err(text) {
        ConfError::Pool { problem, .. } => problem,
        other => panic!("{other:?}"),
    }
}

fn shape_err(text: &str) -> ShapeProblem {
    match err(text) {
        ConfError::Shape { problem, .. } => problem,
        other => panic!("{other:?}"),
    }
}

#[test]
fn defaults_are_nutcrackers() {
    let p = one(&pool(""));
    assert_eq!(p.name, "alpha");
    assert_eq!(
        p.listen,
        Listen::Tcp {
            host: "127.0.0.1".into(),
            port: 22121
        }
    );
    assert_eq!(p.hash, Hash::Fnv1a64);
    assert_eq!(p.hash_tag, None);
    assert_eq!(p.distribution, Distribution::Ketama);
    assert_eq!(p.timeout, None);
    assert_eq!(p.backlog, 512);
    assert!(!p.preconnect && !p.auto_eject_hosts && !p.tcpkeepalive);
    assert_eq!(p.redis_auth, None);
    assert_eq!(p.redis_db, 0);
    assert_eq!(p.server_connections, 1);
    assert_eq!(p.server_retry_timeout, Duration::from_millis(30_000));
    assert_eq!(p.server_failure_limit, 2);
    assert_eq!(p.client_connections, 0);
    assert_eq!(p.sentinel, None);
    assert_eq!(p.servers.len(), 1);
    assert_eq!(p.servers[0].entry.identity, "127.0.0.1:6379");
    assert_eq!(p.servers[0].sentinel_master, None);
}

#[test]
fn every_key() {
    let p = one(&pool(
        "  hash: murmur\n  hash_tag: \"{}\"\n  distribution: modula\n  timeout: 400\n  backlog: 1024\n  preconnect: true\n  redis_auth: hunter2\n  redis_db: 3\n  server_connections: 4\n  auto_eject_hosts: true\n  server_retry_timeout: 2000\n  server_failure_limit: 5\n  tcpkeepalive: true\n  client_connections: 7\n",
    ));
    assert_eq!(p.hash, Hash::Murmur);
    assert_eq!(p.hash_tag, Some("{}".parse::<HashTag>().unwrap()));
    assert_eq!(p.distribution, Distribution::Modula);
    assert_eq!(p.timeout, Some(Duration::from_millis(400)));
    assert_eq!(p.backlog, 1024);
    assert!(p.preconnect && p.auto_eject_hosts && p.tcpkeepalive);
    assert_eq!(p.redis_auth.as_ref().unwrap().expose(), "hunter2");
    assert!(!format!("{p:?}").contains("hunter2"));
    assert_eq!(p.redis_db, 3);
    assert_eq!(p.server_connections, 4);
    assert_eq!(p.server_retry_timeout, Duration::from_secs(2));
    assert_eq!(p.server_failure_limit, 5);
    assert_eq!(p.client_connections, 7);
}

#[test]
fn timeout_zero_means_none() {
    assert_eq!(one(&pool("  timeout: 0\n")).timeout, None);
    assert_eq!(
        directive_err(&pool("  timeout: -1\n")),
        ("timeout".into(), DirectiveProblem::NotNumber("-1".into()))
    );
}

#[test]
fn servers_sorted_and_as_written() {
    let p = one(
        "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n   - 127.0.0.1:6390:1 s10\n   - 127.0.0.1:6391:2 s9\n   - 127.0.0.1:6392:1 a\n",
    );
    let order: Vec<&str> = p
        .servers
        .iter()
        .map(|s| s.entry.identity.as_str())
        .collect();
    assert_eq!(order, ["a", "s9", "s10"]);
    let written: Vec<&str> = p
        .servers_as_written()
        .iter()
        .map(|s| s.entry.identity.as_str())
        .collect();
    assert_eq!(written, ["s10", "s9", "a"]);
    assert_eq!(p.placement_servers()[1].weight, 2);
}

#[test]
fn pools_in_nutcracker_order() {
    let text = "beta:\n  listen: 127.0.0.1:1\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1\nalpha:\n  listen: 127.0.0.1:2\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1\nzz:\n  listen: /tmp/zz.sock 0666\n  redis: true\n  servers:\n   - /tmp/redis.sock:1\n";
    let names: Vec<String> = parse_yaml(text)
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["zz", "beta", "alpha"]);
}

#[test]
fn yaml_spellings_are_plain_text() {
    // Quoting, comments, sequence first, block scalars: all as nutcracker.
    let p = one(
        "# c\n\"alpha\":  # pool\n  servers:\n   # s\n   - '127.0.0.1:6379:1 a'\n  'listen': \"127.0.0.1:22121\"\n  redis: \"true\"\n  redis_auth: >\n    pw\n",
    );
    assert_eq!(p.servers[0].entry.identity, "a");
    // A folded scalar keeps its final newline, as libyaml does.
    assert_eq!(p.redis_auth.unwrap().expose(), "pw\n");
    // Numeric pool names are names.
    assert_eq!(one(&pool("").replace("alpha", "123")).name, "123");
}

#[test]
fn directive_errors() {
    let cases: [(&str, &str, DirectiveProblem); 16] = [
        (
            "  reuseport: true\n",
            "reuseport",
            DirectiveProblem::Unknown,
        ),
        ("  redis: true\n", "redis", DirectiveProblem::Duplicate),
        (
            "  hash: md5\n  hash: md5\n",
            "hash",
            DirectiveProblem::Duplicate,
        ),
        (
            "  preconnect: yes\n",
            "preconnect",
            DirectiveProblem::NotBool("yes".into()),
        ),
        (
            "  tcpkeepalive: 1\n",
            "tcpkeepalive",
            DirectiveProblem::NotBool("1".into()),
        ),
        (
            "  auto_eject_hosts: True\n",
            "auto_eject_hosts",
            DirectiveProblem::NotBool("True".into()),
        ),
        (
            "  backlog: +5\n",
            "backlog",
            DirectiveProblem::NotNumber("+5".into()),
        ),
        (
            "  redis_db: 2147483648\n",
            "redis_db",
            DirectiveProblem::NotNumber("2147483648".into()),
        ),
        (
            "  server_retry_timeout: 1.5\n",
            "server_retry_timeout",
            DirectiveProblem::NotNumber("1.5".into()),
        ),
        (
            "  server_connections: 0\n",
            "server_connections",
            DirectiveProblem::Zero,
        ),
        (
            "  hash: sha1\n",
            "hash",
            DirectiveProblem::Hash("sha1".into()),
        ),
        (
            "  distribution: maglev\n",
            "distribution",
            DirectiveProblem::Distribution("maglev".into()),
        ),
        (
            "  hash_tag: \"{}}\"\n",
            "hash_tag",
            DirectiveProblem::HashTag("{}}".into()),
        ),
        ("  hash_tag: \"\"\n", "hash_tag", DirectiveProblem::Empty),
        ("  timeout:\n", "timeout", DirectiveProblem::Empty),
        (
            "  sentinels:\n   - 127.0.0.1:26379:1\n",
            "sentinels",
            DirectiveProblem::Sentinel("127.0.0.1:26379:1".into()),
        ),
    ];
    for (extra, key, problem) in cases {
        assert_eq!(
            directive_err(&pool(extra)),
            (key.to_string(), problem),
            "{extra:?}"
        );
    }
    assert_eq!(
        err(&pool("  reuseport: true\n")).to_string(),
        "conf: pool \"alpha\": directive \"reuseport\" is unknown"
    );
    assert_eq!(
        err(&pool("  redis: yes\n").replace("  redis: true\n", "")).to_string(),
        "conf: pool \"alpha\": directive \"redis\" is not \"true\" or \"false\" (got \"yes\")"
    );
}

#[test]
fn listen_and_server_values() {
    let with = |listen: &str, server: &str| {
        format!("alpha:\n  listen: {listen}\n  redis: true\n  servers:\n   - {server}\n")
    };
    assert_eq!(
        one(&with("/tmp/a.sock 0600", "/tmp/r.sock:1")).listen,
        Listen::Unix {
            path: "/tmp/a.sock".into(),
            perm: Some(0o600)
        }
    );
    assert_eq!(
        one(&with("127.0.0.1:1", "/tmp/r.sock:1")).servers[0]
            .entry
            .identity,
        "/tmp/r.sock:"
    );
    for (listen, server, key) in [
        ("127.0.0.1", "127.0.0.1:6379:1", "listen"),
        ("127.0.0.1:0", "127.0.0.1:6379:1", "listen"),
        ("/tmp/a.sock 1000", "127.0.0.1:6379:1", "listen"),
        ("127.0.0.1:1", "127.0.0.1:6379", "servers"),
        ("127.0.0.1:1", "127.0.0.1:6379:0", "servers"),
        ("127.0.0.1:1", "127.0.0.1:0:1", "servers"),
        ("127.0.0.1:1", "127.0.0.1:6379:1 my server", "servers"),
        ("127.0.0.1:1", "127.0.0.1:6379:2147483648", "servers"),
    ] {
        assert_eq!(
            directive_err(&with(listen, server)).0,
            key,
            "{listen:?} {server:?}"
        );
    }
    let msg = err(&with("127.0.0.1:1", "127.0.0.1:6379:0")).to_string();
    assert!(
        msg.contains("\"servers\"") && msg.contains("zero weight"),
        "{msg}"
    );
}

#[test]
fn pool_errors() {
    assert_eq!(
        pool_err("alpha:\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1\n"),
        PoolProblem::MissingListen
    );
    assert_eq!(
        pool_err(
            "alpha:\n  listen: 127.0.0.1:1\n  redis_auth: pw\n  servers:\n   - 127.0.0.1:6379:1\n"
        ),
        PoolProblem::AuthWithoutRedis
    );
    assert_eq!(
        pool_err("alpha:\n  listen: 127.0.0.1:1\n  servers:\n   - 127.0.0.1:6379:1\n"),
        PoolProblem::NotRedis { explicit: false }
    );
    let text = pool("").replace("redis: true", "redis: false");
    assert_eq!(pool_err(&text), PoolProblem::NotRedis { explicit: true });
    assert!(err(&text).to_string().contains("only Redis pools"));
    assert_eq!(
        pool_err("alpha:\n  listen: 127.0.0.1:1\n  redis: true\n  timeout:\n   - 5\n"),
        PoolProblem::NoServers
    );
    assert_eq!(
        pool_err(
            "alpha:\n  listen: 127.0.0.1:1\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1\n   - 127.0.0.1:6379:2\n"
        ),
        PoolProblem::SameServerName("127.0.0.1:6379".into())
    );
    assert_eq!(
        pool_err(
            "alpha:\n  listen: 127.0.0.1:1\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1 a\n   - 127.0.0.1:6380:1 a\n"
        ),
        PoolProblem::SameServerName("a".into())
    );
    assert_eq!(
        pool_err("alpha:\n  listen: 127.0.0.1:1\n  redis: true\n  servers: 127.0.0.1:6379:1\n"),
        PoolProblem::MissingSequence
    );
    assert_eq!(
        pool_err(
            "alpha:\n  listen: 127.0.0.1:1\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1\n  hosts:\n   - x\n"
        ),
        PoolProblem::TwoSequences {
            first: "servers".into(),
            second: "hosts".into()
        }
    );
    assert_eq!(
        pool_err(&pool("  extra:\n    a: b\n")),
        PoolProblem::Nested("extra".into())
    );
    assert_eq!(
        pool_err("alpha:\n  listen: 127.0.0.1:1\n  redis: true\n  servers:\n   - a: b\n"),
        PoolProblem::Nested("servers".into())
    );
    assert_eq!(
        pool_err(&pool("").replace("alpha", "\"\"")),
        PoolProblem::EmptyName
    );
}

#[test]
fn any_key_may_be_the_list() {
    // nutcracker applies each item of the one list to its key.
    let p =
        one("alpha:\n  listen: 127.0.0.1:1\n  redis:\n   - true\n  servers: 127.0.0.1:6379:1\n");
    assert_eq!(p.servers.len(), 1);
    assert_eq!(
        directive_err(
            "alpha:\n  listen:\n   - 127.0.0.1:1\n   - 127.0.0.1:2\n  redis: true\n  servers: 127.0.0.1:6379:1\n"
        ),
        ("listen".into(), DirectiveProblem::Duplicate)
    );
}

#[test]
fn cross_pool_errors() {
    let two = |l1: &str, n2: &str, l2: &str| {
        format!(
            "alpha:\n  listen: {l1}\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1\n{n2}:\n  listen: {l2}\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1\n"
        )
    };
    assert_eq!(
        err(&two("127.0.0.1:1", "beta", "127.0.0.1:1")),
        ConfError::SameListen {
            first: "alpha".into(),
            second: "beta".into(),
            listen: "127.0.0.1:1".into()
        }
    );
    assert_eq!(
        err(&two("127.0.0.1:1", "alpha", "127.0.0.1:2")),
        ConfError::SamePoolName("alpha".into())
    );
    // Compared as written, like nutcracker.
    assert_eq!(
        parse_yaml(&two("127.0.0.1:1", "beta", "localhost:1"))
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn document_shape() {
    assert_eq!(shape_err(""), ShapeProblem::DocumentCount(0));
    assert_eq!(
        shape_err("# only a comment\n"),
        ShapeProblem::DocumentCount(0)
    );
    assert_eq!(
        shape_err(&format!("{}---\nb: 1\n", pool(""))),
        ShapeProblem::DocumentCount(2)
    );
    assert_eq!(shape_err("hello\n"), ShapeProblem::TopNotMapping);
    assert_eq!(shape_err("- a\n- b\n"), ShapeProblem::TopNotMapping);
    assert_eq!(
        shape_err("alpha: foo\n"),
        ShapeProblem::PoolNotMapping("alpha".into())
    );
    assert_eq!(
        shape_err("alpha:\n - x\n"),
        ShapeProblem::PoolNotMapping("alpha".into())
    );
    let refused = [
        (
            format!("---\n{}", pool("")),
            "explicit document markers (--- and ...)",
        ),
        (
            format!("{}...\n", pool("")),
            "explicit document markers (--- and ...)",
        ),
        (pool("  hash_tag: {}\n"), "flow mappings ({a: b})"),
        (
            "alpha:\n  listen: 127.0.0.1:1\n  redis: true\n  servers: [127.0.0.1:6379:1]\n"
                .to_string(),
            "flow sequences ([a, b])",
        ),
        (pool("  preconnect: &x true\n"), "anchors (&name)"),
        (
            pool("  preconnect: &x true\n  tcpkeepalive: *x\n"),
            "anchors (&name)",
        ),
        (pool("  preconnect: !!str true\n"), "tags (!name)"),
        (
            format!("%YAML 1.1\n---\n{}", pool("")),
            "explicit document markers (--- and ...)",
        ),
    ];
    for (text, what) in refused {
        assert_eq!(shape_err(&text), ShapeProblem::Disallowed(what), "{text:?}");
    }
    match err(&pool("  preconnect: !!str true\n")) {
        ConfError::Shape { line, .. } => assert_eq!(line, 4),
        other => panic!("{other:?}"),
    }
}

#[test]
fn syntax_errors_have_a_position() {
    match err("alpha:\n  listen: 127.0.0.1:1\n   redis: true\n") {
        ConfError::Syntax { line, .. } => assert_eq!(line, 3),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        err("alpha:\n\tlisten: x\n"),
        ConfError::Syntax { .. }
    ));
    assert!(matches!(
        err("alpha: \"unclosed\n"),
        ConfError::Syntax { .. }
    ));
}

#[test]
fn sentinel_extension() {
    let text = "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n   - 10.0.0.1:6379:1 mymaster\n   - 10.0.0.2:6379:1 other\n  sentinels:\n   - 127.0.0.1:26379\n   - \"[::1]:26380\"\n  sentinel_auth: pw\n  sentinel_user: watcher\n";
    let p = one(text);
    let s = p.sentinel.as_ref().unwrap();
    assert_eq!(s.addrs.len(), 2);
    assert_eq!(s.addrs[1].host, "::1");
    assert_eq!(s.auth.as_ref().unwrap().expose(), "pw");
    assert_eq!(s.user.as_deref(), Some("watcher"));
    let masters: Vec<_> = p
        .servers
        .iter()
        .map(|s| s.sentinel_master.as_deref())
        .collect();
    assert_eq!(masters, [Some("other"), Some("mymaster")]);
    assert!(!format!("{p:?}").contains("pw\""));
    // Sentinel pools need named servers; the other keys need `sentinels`.
    assert_eq!(
        pool_err(&pool("  sentinels:\n   - 127.0.0.1:26379\n")),
        PoolProblem::SentinelServerUnnamed("127.0.0.1:6379:1".into())
    );
    assert_eq!(
        pool_err(&pool("  sentinel_auth: pw\n")),
        PoolProblem::WithoutSentinels("sentinel_auth")
    );
    assert_eq!(
        pool_err(&pool("  sentinel_user: u\n")),
        PoolProblem::WithoutSentinels("sentinel_user")
    );
    assert_eq!(
        pool_err(&text.replace("  sentinel_auth: pw\n", "")),
        PoolProblem::SentinelUserWithoutAuth
    );
}
