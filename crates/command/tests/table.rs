//! Tests over the generated table: ordering invariants, case-insensitive
//! lookup of every command, subcommand resolution and arity checks.

// Test code: a panic, unwrap or out-of-range index is a failed test, not a crash.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use slotway_command::table::{COMMANDS, REDIS_VERSION};
use slotway_command::{CommandSpec, Resolved, acl, flags, keyspec, lookup, resolve};

fn all_specs() -> impl Iterator<Item = &'static CommandSpec> {
    COMMANDS
        .iter()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
}

fn res(args: &[&str]) -> Resolved {
    resolve(args)
}

fn cmd(args: &[&str]) -> &'static CommandSpec {
    match resolve(args) {
        Resolved::Command(c) => c,
        other => panic!("{args:?} resolved to {other:?}"),
    }
}

#[test]
fn table_is_sorted_and_well_formed() {
    assert!(REDIS_VERSION.starts_with("7.0."), "{REDIS_VERSION}");
    assert!(COMMANDS.len() >= 230, "only {} commands", COMMANDS.len());
    for w in COMMANDS.windows(2) {
        assert!(w[0].name < w[1].name, "{} !< {}", w[0].name, w[1].name);
    }
    for c in COMMANDS {
        assert!(!c.name.contains('|'), "{}", c.name);
        assert_eq!(c.subcommand_name(), None);
        for w in c.subcommands.windows(2) {
            assert!(
                w[0].subcommand_name() < w[1].subcommand_name(),
                "{} !< {}",
                w[0].name,
                w[1].name
            );
        }
        for s in c.subcommands {
            assert_eq!(s.container_name(), c.name, "{}", s.name);
            assert!(s.subcommands.is_empty(), "{}", s.name);
        }
    }
    for c in all_specs() {
        assert_eq!(c.name, c.name.to_ascii_lowercase());
        assert!(
            !c.group.is_empty() && !c.since.is_empty() && !c.summary.is_empty(),
            "{}",
            c.name
        );
        assert_ne!(c.arity, 0, "{}", c.name);
    }
}

#[test]
fn every_command_is_found_case_insensitively() {
    for c in COMMANDS {
        let upper = c.name.to_ascii_uppercase();
        let mixed: String = c
            .name
            .chars()
            .enumerate()
            .map(|(i, ch)| {
                if i % 2 == 0 {
                    ch.to_ascii_uppercase()
                } else {
                    ch
                }
            })
            .collect();
        for n in [c.name, upper.as_str(), mixed.as_str()] {
            assert!(std::ptr::eq(lookup(n.as_bytes()).unwrap(), c), "{n}");
        }
        for s in c.subcommands {
            let sub = s.subcommand_name().unwrap();
            let args = [upper.as_str(), &sub.to_ascii_uppercase()];
            assert!(std::ptr::eq(cmd(&args), s), "{args:?}");
            assert!(std::ptr::eq(c.subcommand(sub.as_bytes()).unwrap(), s));
        }
    }
}

#[test]
fn unknown_names() {
    for n in [
        "",
        "gett",
        "ge",
        "object|encoding",
        "zzzz",
        "\u{e9}",
        "get\0",
        "@get",
        "1get",
        "getx\u{e9}",
        "Zinterstorexxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ] {
        assert!(lookup(n.as_bytes()).is_none(), "{n:?}");
    }
    assert_eq!(res(&[]), Resolved::UnknownCommand);
    assert_eq!(res(&["nosuchcmd", "x"]), Resolved::UnknownCommand);
    let object = lookup(b"object").unwrap();
    assert_eq!(
        res(&["object", "nope", "k"]),
        Resolved::UnknownSubcommand(object)
    );
    assert_eq!(
        res(&["OBJECT", "encodin", "k"]),
        Resolved::UnknownSubcommand(object)
    );
    // Non-UTF-8 and binary arguments are fine.
    assert_eq!(resolve(&[&b"\xff\xfe"[..]][..]), Resolved::UnknownCommand);
}

#[test]
fn subcommand_resolution() {
    let cases: &[(&[&str], &str)] = &[
        (&["OBJECT", "ENCODING", "k"], "object|encoding"),
        (&["object", "Freq", "k"], "object|freq"),
        (&["XINFO", "STREAM", "k"], "xinfo|stream"),
        (&["xinfo", "groups", "k"], "xinfo|groups"),
        (&["CLIENT", "SETNAME", "x"], "client|setname"),
        (&["client", "no-evict", "on"], "client|no-evict"),
        (&["CONFIG", "GET", "x"], "config|get"),
        (&["config", "set", "a", "b"], "config|set"),
        (&["MEMORY", "USAGE", "k"], "memory|usage"),
        (
            &["cluster", "COUNT-FAILURE-REPORTS", "id"],
            "cluster|count-failure-reports",
        ),
        (&["GET", "k"], "get"),
        // Plain commands ignore args[1].
        (&["SET", "ENCODING", "v"], "set"),
    ];
    for (args, name) in cases {
        let c = cmd(args);
        assert_eq!(c.full_name(), *name, "{args:?}");
        assert!(c.arity_ok(args.len()), "{args:?}");
    }
    // A container without its subcommand resolves to itself and fails arity.
    let object = cmd(&["object"]);
    assert_eq!(object.name, "object");
    assert!(object.is_container());
    assert!(!object.arity_ok(1));
    assert!(object.arity_ok(2));
}

#[test]
fn arity_checks() {
    let get = lookup(b"get").unwrap();
    assert_eq!(get.arity, 2);
    assert!(!get.arity_ok(1) && get.arity_ok(2) && !get.arity_ok(3));
    let set = lookup(b"set").unwrap();
    assert_eq!(set.arity, -3);
    assert!(!set.arity_ok(2) && set.arity_ok(3) && set.arity_ok(9));
    let mset = lookup(b"mset").unwrap();
    assert!(!mset.arity_ok(2) && mset.arity_ok(3) && mset.arity_ok(4));
    assert!(cmd(&["object", "encoding", "k"]).arity_ok(3));
    assert!(!cmd(&["object", "encoding"]).arity_ok(2));
    assert!(!cmd(&["object", "encoding", "k", "x"]).arity_ok(4));
    assert!(lookup(b"ping").unwrap().arity_ok(1));
    assert!(lookup(b"ping").unwrap().arity_ok(2));
    assert!(lookup(b"eval").unwrap().arity_ok(usize::MAX));
}

#[test]
fn flags_categories_and_tips() {
    let get = lookup(b"get").unwrap();
    assert!(get.has_flag(flags::READONLY | flags::FAST));
    assert!(!get.has_flag(flags::WRITE));
    assert!(!get.has_flag(0));
    assert!(get.has_acl_category(acl::READ | acl::STRING | acl::FAST));
    assert_eq!(get.group, "string");
    assert_eq!(get.since, "1.0.0");
    assert!(get.has_keys() && !get.is_container());

    let set = lookup(b"set").unwrap();
    assert!(set.has_flag(flags::WRITE | flags::DENYOOM));
    assert!(set.key_specs[0].has_flag(keyspec::VARIABLE_FLAGS));

    let eval = lookup(b"eval").unwrap();
    assert!(eval.has_flag(flags::NOSCRIPT | flags::NO_MANDATORY_KEYS | flags::MOVABLEKEYS));
    assert!(eval.has_acl_category(acl::SCRIPTING));
    assert!(lookup(b"blpop").unwrap().has_flag(flags::BLOCKING));
    assert!(lookup(b"auth").unwrap().has_flag(flags::NO_AUTH));
    assert!(lookup(b"multi").unwrap().has_acl_category(acl::TRANSACTION));
    assert!(lookup(b"publish").unwrap().has_flag(flags::PUBSUB));
    assert!(
        lookup(b"keys")
            .unwrap()
            .tips
            .contains(&"request_policy:all_shards")
    );
    assert!(
        lookup(b"dbsize")
            .unwrap()
            .tips
            .contains(&"response_policy:agg_sum")
    );
    assert!(
        lookup(b"randomkey")
            .unwrap()
            .tips
            .contains(&"nondeterministic_output")
    );
    assert!(!lookup(b"ping").unwrap().has_keys());
    assert!(
        !lookup(b"spublish").unwrap().has_keys(),
        "shard channels are NOT_KEY"
    );
    // Hidden on purpose by COMMAND in 7.0, so never set.
    let hidden = flags::MAY_REPLICATE | flags::SENTINEL | flags::ONLY_SENTINEL | flags::PROTECTED;
    assert!(all_specs().all(|c| c.flags & hidden == 0));
}

#[test]
fn every_acl_category_is_used() {
    let used = all_specs().fold(0, |acc, c| acc | c.acl_categories);
    for (name, bit) in acl::NAMES {
        assert!(used & bit != 0, "@{name} unused");
    }
    assert_eq!(acl::NAMES.len(), 21);
}

#[test]
fn name_tables_round_trip() {
    for (n, b) in flags::NAMES {
        assert_eq!(flags::from_name(n), Some(*b));
        assert_eq!(flags::from_name(&n.to_ascii_uppercase()), Some(*b));
        assert_eq!(flags::name(*b), Some(*n));
        assert_eq!(b.count_ones(), 1);
    }
    for (n, b) in acl::NAMES {
        assert_eq!(acl::from_name(n), Some(*b));
        assert_eq!(acl::from_name(&format!("@{n}")), Some(*b));
        assert_eq!(acl::name(*b), Some(*n));
    }
    for (n, b) in keyspec::NAMES {
        assert_eq!(keyspec::from_name(n), Some(*b));
        assert_eq!(keyspec::name(*b), Some(*n));
    }
    let distinct =
        |bits: Vec<u64>| bits.iter().fold(0u64, |a, b| a | b).count_ones() as usize == bits.len();
    assert!(distinct(flags::NAMES.iter().map(|(_, b)| *b).collect()));
    assert!(distinct(acl::NAMES.iter().map(|(_, b)| *b).collect()));
    assert!(distinct(
        keyspec::NAMES.iter().map(|(_, b)| u64::from(*b)).collect()
    ));
    assert_eq!(flags::from_name("nope"), None);
    assert_eq!(flags::name(0), None);
    assert_eq!(flags::name(flags::WRITE | flags::FAST), None);
    let get = lookup(b"get").unwrap();
    assert_eq!(
        flags::names(get.flags).collect::<Vec<_>>(),
        ["readonly", "fast"]
    );
    assert_eq!(
        acl::names(get.acl_categories).collect::<Vec<_>>(),
        ["read", "string", "fast"]
    );
    assert_eq!(
        keyspec::names(get.key_specs[0].flags).collect::<Vec<_>>(),
        ["RO", "access"]
    );
}
