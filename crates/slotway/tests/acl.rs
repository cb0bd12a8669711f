//! `[[users]]`: named users with Redis ACL rules, checked by the proxy
//! before anything reaches a node, against a real cluster; every NOPERM /
//! WRONGPASS reply compared with a real redis-server 7 given the same
//! users by `ACL SETUSER`. Also the admin-only PROXY subcommands.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::{Duration, Instant};

use common::{Proxy, Raw, is_ok, text};
use slotway_core::Config;
use slotway_fixture::{Cluster, RedisServer};

/// SHA-256 of "password".
const HASH: &str = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";

fn users_toml() -> String {
    format!(
        r##"
[[users]]
name = "ro"
passwords = ["pw"]
commands = "+@read -@dangerous"
keys = ["~app:*"]
channels = ["&news*"]

[[users]]
name = "ps"
nopass = true
commands = "+@all"
keys = "~app:*"
channels = "&news*"

[[users]]
name = "h"
passwords = ["#{HASH}"]
commands = "allcommands"
keys = "allkeys"

[[users]]
name = "off"
on = false
passwords = ["pw"]
commands = "+@all"

[[users]]
name = "boss"
passwords = ["adm"]
commands = "+@all"
keys = "allkeys"
channels = "allchannels"
admin = true
"##
    )
}

/// The same users on a real Redis.
fn setup_redis(redis: &RedisServer) {
    let setuser = |args: &[&str]| {
        let mut full = vec!["ACL", "SETUSER"];
        full.extend_from_slice(args);
        assert_eq!(redis.cmd(&full).unwrap(), "OK", "{args:?}");
    };
    setuser(&[
        "ro",
        "on",
        ">pw",
        "+@read",
        "-@dangerous",
        "~app:*",
        "&news*",
    ]);
    setuser(&["ps", "on", "nopass", "+@all", "~app:*", "&news*"]);
    let hashed = format!("#{HASH}");
    setuser(&["h", "on", &hashed, "allcommands", "allkeys"]);
    setuser(&["off", "off", ">pw", "+@all"]);
}

fn proxy_with_users(cluster: &Cluster) -> Proxy {
    let users = Config::from_toml(&users_toml()).unwrap().users;
    let proxy = Proxy::start_with(&cluster.seeds(), |c| c.users = users);
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

#[test]
fn permissions_and_errors_match_redis() {
    let cluster = Cluster::start(3, 0).unwrap();
    let redis = RedisServer::start().unwrap();
    setup_redis(&redis);
    let proxy = proxy_with_users(&cluster);
    let (mut p, mut r) = (proxy.client(), Raw::connect(redis.addr()));

    // A read-only user restricted to app:* keys and news* channels.
    same_replies(
        &mut p,
        &mut r,
        &[
            &["AUTH", "ro", "pw"],
            &["SET", "app:1", "x"],
            &["GET", "other"],
            &["GET", "app:1"],
            &["MGET", "app:1", "other"],
            &["MGET", "app:1", "app:2"],
            &["CONFIG", "SET", "maxmemory", "1"],
            &["CONFIG", "GET", "maxmemory"],
            &["KEYS", "*"],
            &["SUBSCRIBE", "news1"],
            &["PUBLISH", "news1", "x"],
            &["ACL", "WHOAMI"],
            // A failed AUTH leaves the client as it was.
            &["AUTH", "ro", "bad"],
            &["AUTH", "off", "pw"],
            &["AUTH", "nobody", "pw"],
            &["GET", "app:1"],
            &["SET", "app:1", "x"],
            // Unknown commands and arity come before permissions.
            &["NOSUCH"],
            &["GET"],
        ],
    );

    // All commands, but only app:* keys and news* channels.
    let (mut p, mut r) = (proxy.client(), Raw::connect(redis.addr()));
    same_replies(
        &mut p,
        &mut r,
        &[
            &["AUTH", "ps", "anything"],
            &["ACL", "WHOAMI"],
            &["SET", "app:1", "v"],
            &["GET", "app:1"],
            &["SET", "other", "v"],
            &["DEL", "app:1", "other"],
            &["PUBLISH", "foo", "x"],
            &["PUBLISH", "news1", "x"],
            &["SPUBLISH", "foo", "x"],
            &["PSUBSCRIBE", "new*"],
            &["SUBSCRIBE", "news", "foo"],
            // A refused command inside MULTI aborts it.
            &["MULTI"],
            &["SET", "app:2", "x"],
            &["GET", "other"],
            &["EXEC"],
            &["GET", "app:2"],
            // HELLO AUTH with a hashed password.
            &["HELLO", "2", "AUTH", "h", "wrong"],
            &["AUTH", "h", "password"],
            &["ACL", "WHOAMI"],
            &["SET", "other", "v"],
            &["GET", "other"],
        ],
    );
}

#[test]
fn default_user_and_admin_only_proxy_commands() {
    let cluster = Cluster::start(3, 0).unwrap();
    let mut proxy = proxy_with_users(&cluster);
    let mut c = proxy.client();
    // No requirepass: clients start as the open default user.
    assert_eq!(text(&c.cmd(&["ACL", "WHOAMI"])), "default");
    assert!(is_ok(&c.cmd(&["SET", "k", "v"])));
    assert!(
        text(&c.cmd(&["ACL", "LIST"])).contains("defined in its configuration"),
        "the nodes' users are not shown"
    );
    assert!(text(&c.cmd(&["ACL", "SETUSER", "x"])).starts_with("ERR slotway"));
    assert!(text(&c.cmd(&["PROXY", "SHUTDOWN"])).starts_with("NOPERM slotway"));
    assert!(text(&c.cmd(&["PROXY", "CONFIG", "SET", "x", "y"])).starts_with("NOPERM"));
    assert!(text(&c.cmd(&["PROXY", "MULTIPLEXING", "OFF"])).starts_with("NOPERM"));
    assert_eq!(text(&c.cmd(&["PROXY", "MULTIPLEXING", "STATUS"])), "on");
    assert_eq!(text(&c.cmd(&["PROXY", "PING"])), "PONG");
    // A failed AUTH does not drop the default user's rights.
    assert!(text(&c.cmd(&["AUTH", "boss", "bad"])).starts_with("WRONGPASS"));
    assert_eq!(text(&c.cmd(&["GET", "k"])), "v");
    assert!(is_ok(&c.cmd(&["AUTH", "boss", "adm"])));
    assert!(
        text(&c.cmd(&["PROXY", "CONFIG", "SET", "x", "y"]))
            .starts_with("ERR Unsupported CONFIG parameter 'x'")
    );
    assert!(is_ok(&c.cmd(&[
        "PROXY",
        "CONFIG",
        "SET",
        "maxclients",
        "500"
    ])));
    assert!(is_ok(&c.cmd(&["PROXY", "MULTIPLEXING", "OFF"])));
    assert_eq!(text(&c.cmd(&["PROXY", "MULTIPLEXING", "STATUS"])), "off");
    assert_eq!(text(&c.cmd(&["GET", "k"])), "v");
    assert_eq!(
        text(&c.cmd(&["PROXY", "SHUTDOWN", "NOW"])),
        "ERR syntax error"
    );
    // RESET goes back to the default user.
    assert_eq!(text(&c.cmd(&["RESET"])), "RESET");
    assert_eq!(text(&c.cmd(&["ACL", "WHOAMI"])), "default");
    assert!(is_ok(&c.cmd(&["AUTH", "boss", "adm"])));
    assert!(is_ok(&c.cmd(&["PROXY", "SHUTDOWN"])));
    // The proxy shuts down gracefully: it soon stops accepting clients.
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(proxy.addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "PROXY SHUTDOWN did not stop the proxy"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    proxy.stop();
}

#[test]
fn requirepass_with_a_redefined_default_is_refused() {
    let mut config = Config::from_toml(
        "[proxy]\nrequirepass = \"x\"\n[[users]]\nname = \"default\"\nnopass = true\n[cluster]\nseeds = [\"127.0.0.1:7001\"]\n",
    )
    .unwrap();
    assert!(
        config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("requirepass")
    );
    config.proxy.requirepass.clear();
    assert!(config.validate().is_ok());
    let bad = Config::from_toml(
        "[[users]]\nname = \"u\"\ncommands = \"+@nosuch\"\n[cluster]\nseeds = [\"127.0.0.1:7001\"]\n",
    )
    .unwrap();
    let err = bad.validate().unwrap_err().to_string();
    assert!(err.contains("+@nosuch"), "{err}");
    let printed = format!("{:?}", Config::from_toml(&users_toml()).unwrap());
    assert!(
        !printed.contains("\"pw\"") && !printed.contains(HASH),
        "{printed}"
    );
}

#[test]
fn read_and_write_key_permissions_match_redis() {
    let cluster = Cluster::start(3, 0).unwrap();
    let redis = RedisServer::start().unwrap();
    assert_eq!(
        redis
            .cmd(&[
                "ACL", "SETUSER", "split", "on", ">pw", "+@all", "%R~src:*", "%W~dst:*", "~both:*",
            ])
            .unwrap(),
        "OK"
    );
    let users = Config::from_toml(
        r#"
[[users]]
name = "split"
passwords = ["pw"]
commands = "+@all"
keys = ["%R~src:*", "%W~dst:*", "~both:*"]
"#,
    )
    .unwrap()
    .users;
    let proxy = Proxy::start_with(&cluster.seeds(), |c| c.users = users);
    proxy.wait_ready();
    // Seed values as the default user, in both. One hash tag: multi-key
    // commands stay in one slot.
    let (mut p, mut r) = (proxy.client(), Raw::connect(redis.addr()));
    for c in [&mut p, &mut r] {
        assert!(is_ok(&c.cmd(&["SET", "src:{t}1", "a"])));
        assert!(is_ok(&c.cmd(&["SET", "both:{t}1", "b"])));
    }
    same_replies(
        &mut p,
        &mut r,
        &[
            &["AUTH", "split", "pw"],
            &["GET", "src:{t}1"],
            &["SET", "src:{t}1", "x"],
            &["SET", "dst:{t}1", "x"],
            &["GET", "dst:{t}1"],
            &["SET", "dst:{t}1", "y", "GET"],
            &["EXISTS", "dst:{t}1"],
            &["EXISTS", "other{t}"],
            &["COPY", "src:{t}1", "dst:{t}2"],
            &["LMOVE", "src:{t}1", "dst:{t}1", "LEFT", "LEFT"],
            &["BITFIELD", "src:{t}1", "GET", "u8", "0"],
            &["BITFIELD", "src:{t}1", "INCRBY", "u8", "0", "1"],
            &["GET", "both:{t}1"],
            &["APPEND", "both:{t}1", "z"],
            &["MSET", "dst:{t}3", "a", "both:{t}3", "b"],
            &["MSET", "dst:{t}3", "a", "src:{t}3", "b"],
            &["DEL", "src:{t}1"],
            &["DEL", "dst:{t}3"],
        ],
    );
}
