//! The configurations of the nutcracker differential test
//! (`nutcracker_conf.rs`): each with nutcracker 0.5.0's observed `-t`
//! verdict, Slotway's verdict and message fragment, and why they differ
//! where they do.

/// One configuration of the corpus.
pub struct Case {
    pub name: &'static str,
    pub yaml: &'static str,
    /// nutcracker 0.5.0's `-t` verdict, as observed.
    pub nutcracker_ok: bool,
    /// Slotway's verdict: `Ok`, or `Err` with a fragment of its message.
    pub ours: Result<(), &'static str>,
    /// Why Slotway's verdict differs from nutcracker's (empty: it does not).
    pub why: &'static str,
}

const OK: Result<(), &str> = Ok(());

/// `alpha` on 127.0.0.1:22121, `redis: true`, one server, plus the given
/// directive lines.
macro_rules! pool {
    ($extra:expr) => {
        concat!(
            "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n",
            $extra,
            "  servers:\n   - 127.0.0.1:6379:1\n"
        )
    };
}

/// `alpha` with `redis: true` and the given listen and server lines.
macro_rules! listen_server {
    ($listen:expr, $server:expr) => {
        concat!(
            "alpha:\n  listen: ",
            $listen,
            "\n  redis: true\n  servers:\n   - ",
            $server,
            "\n"
        )
    };
}

const fn same(name: &'static str, yaml: &'static str, ours: Result<(), &'static str>) -> Case {
    Case {
        name,
        yaml,
        nutcracker_ok: ours.is_ok(),
        ours,
        why: "",
    }
}

pub const CORPUS: &[Case] = &[
    // --- valid for both ---
    same("minimal", pool!(""), OK),
    same(
        "every_directive",
        pool!(
            "  hash: murmur\n  hash_tag: \"{}\"\n  distribution: modula\n  timeout: 400\n  backlog: 1024\n  preconnect: true\n  redis_auth: hunter2\n  redis_db: 3\n  server_connections: 4\n  auto_eject_hosts: true\n  server_retry_timeout: 2000\n  server_failure_limit: 5\n  tcpkeepalive: false\n  client_connections: 7\n"
        ),
        OK,
    ),
    same(
        "two_pools",
        concat!(
            pool!(""),
            "beta:\n  listen: 127.0.0.1:22122\n  redis: true\n  hash: md5\n  distribution: random\n  servers:\n   - 127.0.0.1:6380:1\n"
        ),
        OK,
    ),
    same(
        "unix_listen_with_perm",
        listen_server!("/tmp/slotway-nc-corpus.sock 0666", "127.0.0.1:6379:1"),
        OK,
    ),
    same(
        "unix_listen_no_perm",
        listen_server!("/tmp/slotway-nc-corpus.sock", "127.0.0.1:6379:1"),
        OK,
    ),
    same(
        "unix_server_named",
        listen_server!("127.0.0.1:22121", "/tmp/redis.sock:2 r1"),
        OK,
    ),
    same(
        "localhost_listen",
        listen_server!("localhost:22121", "127.0.0.1:6379:1"),
        OK,
    ),
    same(
        "named_weighted_servers",
        "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n   - 127.0.0.1:6379:5 s10\n   - 127.0.0.1:6380:1 s9\n   - redis.example:6381:2147483647 big\n",
        OK,
    ),
    same(
        "comments_quotes_sequence_first",
        "# pools\n\"alpha\":  # the pool\n  servers:\n   # first\n   - '127.0.0.1:6379:1 a'\n  'listen': \"127.0.0.1:22121\"\n  redis: \"true\"\n",
        OK,
    ),
    same("timeout_zero", pool!("  timeout: 0\n"), OK),
    same("numbers_at_max", pool!("  timeout: 2147483647\n"), OK),
    same(
        "hash_one_at_a_time_random",
        pool!("  hash: one_at_a_time\n  distribution: random\n"),
        OK,
    ),
    same("hash_tag_two_bytes_utf8", pool!("  hash_tag: \"é\"\n"), OK),
    same(
        "numeric_pool_name",
        "123:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1\n",
        OK,
    ),
    same(
        "server_empty_name",
        listen_server!("127.0.0.1:22121", "\"127.0.0.1:6379:1 \""),
        OK,
    ),
    same(
        "any_key_as_the_list",
        "alpha:\n  listen: 127.0.0.1:22121\n  redis:\n   - true\n  servers: 127.0.0.1:6379:1\n",
        OK,
    ),
    same(
        "folded_password",
        pool!("  redis_auth: >\n    secret\n"),
        OK,
    ),
    // --- invalid for both: directives ---
    same(
        "unknown_reuseport",
        pool!("  reuseport: true\n"),
        Err("\"reuseport\" is unknown"),
    ),
    same(
        "duplicate_key",
        pool!("  redis: true\n"),
        Err("\"redis\" is a duplicate"),
    ),
    same(
        "bool_yes",
        pool!("  preconnect: yes\n"),
        Err("\"preconnect\" is not \"true\" or \"false\""),
    ),
    same(
        "bool_capital",
        pool!("  auto_eject_hosts: True\n"),
        Err("not \"true\" or \"false\""),
    ),
    same(
        "bool_number",
        pool!("  tcpkeepalive: 1\n"),
        Err("\"tcpkeepalive\" is not \"true\""),
    ),
    same(
        "timeout_minus_one",
        pool!("  timeout: -1\n"),
        Err("\"timeout\" is not a number"),
    ),
    same(
        "timeout_plus",
        pool!("  timeout: +5\n"),
        Err("\"timeout\" is not a number"),
    ),
    same(
        "timeout_float",
        pool!("  timeout: 1.5\n"),
        Err("\"timeout\" is not a number"),
    ),
    same(
        "timeout_overflow",
        pool!("  timeout: 2147483648\n"),
        Err("\"timeout\" is not a number"),
    ),
    same(
        "redis_db_negative",
        pool!("  redis_db: -1\n"),
        Err("\"redis_db\" is not a number"),
    ),
    same(
        "hash_unknown",
        pool!("  hash: sha1\n"),
        Err("\"hash\" is not a valid hash"),
    ),
    same(
        "distribution_unknown",
        pool!("  distribution: maglev\n"),
        Err("not a valid distribution"),
    ),
    same(
        "hash_tag_three",
        pool!("  hash_tag: \"{}}\"\n"),
        Err("not a valid hash tag"),
    ),
    same(
        "hash_tag_empty",
        pool!("  hash_tag: \"\"\n"),
        Err("\"hash_tag\" has an empty value"),
    ),
    same(
        "empty_value",
        pool!("  timeout:\n"),
        Err("\"timeout\" has an empty value"),
    ),
    same(
        "password_empty",
        pool!("  redis_auth: \"\"\n"),
        Err("\"redis_auth\" has an empty value"),
    ),
    same(
        "server_connections_zero",
        pool!("  server_connections: 0\n"),
        Err("\"server_connections\" cannot be 0"),
    ),
    same(
        "redis_auth_on_memcached",
        "alpha:\n  listen: 127.0.0.1:22121\n  redis_auth: pw\n  servers:\n   - 127.0.0.1:6379:1\n",
        Err("\"redis_auth\" is only valid for a redis pool"),
    ),
    same(
        "listen_missing",
        "alpha:\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1\n",
        Err("\"listen\" is missing"),
    ),
    same(
        "listen_no_port",
        listen_server!("127.0.0.1", "127.0.0.1:6379:1"),
        Err("\"listen\" has an invalid value"),
    ),
    same(
        "listen_port_zero",
        listen_server!("127.0.0.1:0", "127.0.0.1:6379:1"),
        Err("port must be"),
    ),
    same(
        "listen_port_big",
        listen_server!("127.0.0.1:65536", "127.0.0.1:6379:1"),
        Err("port must be"),
    ),
    same(
        "listen_relative_path",
        listen_server!("tmp/sock", "127.0.0.1:6379:1"),
        Err("\"listen\" has an invalid value"),
    ),
    same(
        "listen_empty_host",
        listen_server!("\":22121\"", "127.0.0.1:6379:1"),
        Err("host before the port is empty"),
    ),
    same(
        "listen_perm_too_big",
        listen_server!("/tmp/slotway-nc-corpus.sock 1000", "127.0.0.1:6379:1"),
        Err("permissions"),
    ),
    same(
        "server_zero_weight",
        listen_server!("127.0.0.1:22121", "127.0.0.1:6379:0"),
        Err("zero weight"),
    ),
    same(
        "server_no_weight",
        listen_server!("127.0.0.1:22121", "127.0.0.1:6379"),
        Err("\"servers\" has an invalid entry"),
    ),
    same(
        "server_port_zero",
        listen_server!("127.0.0.1:22121", "127.0.0.1:0:1"),
        Err("invalid port"),
    ),
    same(
        "server_weight_overflow",
        listen_server!("127.0.0.1:22121", "127.0.0.1:6379:2147483648"),
        Err("invalid weight"),
    ),
    same(
        "server_two_word_name",
        listen_server!("127.0.0.1:22121", "127.0.0.1:6379:1 my server"),
        Err("invalid weight"),
    ),
    // --- invalid for both: pools ---
    same(
        "duplicate_server_address",
        "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1\n   - 127.0.0.1:6379:2\n",
        Err("servers with the same name \"127.0.0.1:6379\""),
    ),
    same(
        "duplicate_server_name",
        "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1 a\n   - 127.0.0.1:6380:1 a\n",
        Err("servers with the same name \"a\""),
    ),
    same(
        "duplicate_pool_name",
        concat!(
            pool!(""),
            "alpha:\n  listen: 127.0.0.1:22122\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1\n"
        ),
        Err("two pools are named \"alpha\""),
    ),
    same(
        "duplicate_listen",
        concat!(
            pool!(""),
            "beta:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1\n"
        ),
        Err("have the same listen address"),
    ),
    same(
        "no_servers",
        "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  timeout:\n   - 5\n",
        Err("has no servers"),
    ),
    same(
        "empty_pool_name",
        "\"\":\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1\n",
        Err("pool name must not be empty"),
    ),
    // --- invalid for both: document shape ---
    same("empty_file", "", Err("found 0")),
    same("only_comment", "# nothing\n", Err("found 0")),
    same("top_scalar", "hello\n", Err("top level must be a mapping")),
    same(
        "top_sequence",
        "- a\n- b\n",
        Err("top level must be a mapping"),
    ),
    same(
        "pool_scalar",
        "alpha: foo\n",
        Err("must be a mapping of directives"),
    ),
    same(
        "nested_mapping",
        pool!("  extra:\n    a: b\n"),
        Err("nested mapping"),
    ),
    same(
        "list_of_mappings",
        listen_server!("127.0.0.1:22121", "a: b"),
        Err("nested mapping"),
    ),
    same(
        "servers_not_a_list",
        "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers: 127.0.0.1:6379:1\n",
        Err("no sequence directive"),
    ),
    same(
        "two_lists",
        pool!("  hosts:\n   - x\n"),
        Err("more than one sequence directive"),
    ),
    same(
        "servers_twice",
        concat!(pool!(""), "  servers:\n   - 127.0.0.1:6380:1\n"),
        Err("more than one sequence directive"),
    ),
    same(
        "flow_sequence",
        "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers: [127.0.0.1:6379:1]\n",
        Err("flow sequences"),
    ),
    same(
        "flow_mapping",
        pool!("  hash_tag: {}\n"),
        Err("flow mappings"),
    ),
    same("anchor", pool!("  preconnect: &x true\n"), Err("anchors")),
    same("tag", pool!("  preconnect: !!str true\n"), Err("tags")),
    same(
        "document_start",
        concat!("---\n", pool!("")),
        Err("explicit document markers"),
    ),
    same(
        "document_end",
        concat!(pool!(""), "...\n"),
        Err("explicit document markers"),
    ),
    same(
        "two_documents",
        concat!(pool!(""), "---\nbeta: 1\n"),
        Err("found 2"),
    ),
    same(
        "tab_indent",
        "alpha:\n\tlisten: 127.0.0.1:22121\n",
        Err("YAML syntax error"),
    ),
    same(
        "bad_indent",
        "alpha:\n  listen: 127.0.0.1:22121\n   redis: true\n",
        Err("YAML syntax error"),
    ),
    same(
        "sentinel_key_without_sentinels",
        pool!("  sentinel_auth: pw\n"),
        Err("\"sentinel_auth\" needs a \"sentinels\" list"),
    ),
    // --- where Slotway differs, on purpose ---
    Case {
        name: "sentinels_extension",
        yaml: "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1 mymaster\n  sentinels:\n   - 127.0.0.1:26379\n  sentinel_auth: pw\n",
        nutcracker_ok: false,
        ours: OK,
        why: "extension: `sentinels` is Slotway's second list (nutcracker: more than one sequence directive)",
    },
    Case {
        name: "memcached_explicit",
        yaml: "alpha:\n  listen: 127.0.0.1:22121\n  redis: false\n  servers:\n   - 127.0.0.1:11211:1\n",
        nutcracker_ok: true,
        ours: Err("is a memcached pool (\"redis: false\")"),
        why: "Slotway serves Redis pools only",
    },
    Case {
        name: "memcached_by_default",
        yaml: "alpha:\n  listen: 127.0.0.1:22121\n  servers:\n   - 127.0.0.1:11211:1\n",
        nutcracker_ok: true,
        ours: Err("nutcracker's default is memcached"),
        why: "Slotway serves Redis pools only (nutcracker's default is memcached)",
    },
    Case {
        name: "listen_perm_garbage",
        yaml: listen_server!("/tmp/slotway-nc-corpus.sock abc", "127.0.0.1:6379:1"),
        nutcracker_ok: true,
        ours: Err("permissions after the socket path must be octal"),
        why: "stricter: nutcracker's strtol turns a non-octal permission into 0",
    },
    Case {
        name: "listen_perm_not_octal",
        yaml: listen_server!("/tmp/slotway-nc-corpus.sock 999", "127.0.0.1:6379:1"),
        nutcracker_ok: true,
        ours: Err("permissions after the socket path must be octal"),
        why: "stricter: nutcracker's strtol turns a non-octal permission into 0",
    },
];
