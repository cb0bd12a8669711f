//! Checks the crate against a live redis-server (skipped with a notice when
//! none is on PATH):
//! * `matches_live_redis_server`: the table equals what the server reports
//!   (`COMMAND`, `COMMAND DOCS`), and our key positions equal
//!   `COMMAND GETKEYS` for the shared vectors and for requests synthesized
//!   from the docs of every command and subcommand;
//! * `generator_is_deterministic`: two generator runs give identical output,
//!   equal to the committed `src/table.rs`.

// Test code: a panic, unwrap or out-of-range index is a failed test, not a crash.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../common/mod.rs"]
mod common;
mod redis;
mod synth;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::{VECTORS, show, split};
use redis::{Conn, Server, Value};
use slotway_command::table::COMMANDS;
use slotway_command::{
    BeginSearch, CommandSpec, FindKeys, KeyError, KeySpec, Resolved, acl, flags, for_each_key,
    keyspec, lookup, resolve,
};

#[test]
fn matches_live_redis_server() {
    let Some(server) = Server::start() else {
        eprintln!("NOTICE: redis-server not on PATH; skipping matches_live_redis_server");
        return;
    };
    let mut conn = server.connect();
    check_table_is_current(&mut conn);

    for (line, _) in VECTORS {
        compare(&mut conn, &split(line));
    }

    // Every command and subcommand, several shapes each.
    let docs = conn.call(&["COMMAND", "DOCS"]);
    let mut covered = BTreeSet::new();
    let mut tally = std::collections::BTreeMap::<&str, usize>::new();
    for (name, doc) in docs.map() {
        let doc = doc.map();
        let mut targets = vec![(vec![name], doc.get("arguments").copied())];
        if let Some(subs) = doc.get("subcommands") {
            for (full, sub_doc) in subs.map() {
                let sub = full.split_once('|').unwrap().1;
                targets.push((vec![name, sub], sub_doc.map().get("arguments").copied()));
            }
        }
        for (prefix, arguments) in targets {
            for v in synth::VARIANTS {
                let req = synth::request(&prefix, arguments, v);
                let outcome = compare(&mut conn, &req);
                if let Outcome::Keys(spec) = outcome {
                    covered.insert(spec.name);
                }
                *tally.entry(outcome.kind()).or_default() += 1;
            }
        }
    }
    let keyed: BTreeSet<&str> = all_specs()
        .filter(|c| c.has_keys())
        .map(|c| c.name)
        .collect();
    let missing: Vec<_> = keyed.difference(&covered).collect();
    assert!(missing.is_empty(), "no example with keys for {missing:?}");
    assert!(covered.len() >= 60);
    eprintln!(
        "compared {} vectors and synthesized requests {tally:?}; {} commands with keys covered",
        VECTORS.len(),
        covered.len()
    );
}

#[test]
fn generator_is_deterministic() {
    if Command::new("python3").arg("--version").output().is_err()
        || Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!(
            "NOTICE: python3 or redis-server not on PATH; skipping generator_is_deterministic"
        );
        return;
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = manifest.join("../../scripts/gen-command-table.py");
    let dir = std::env::temp_dir().join(format!("slotway-gen-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |out: &Path| {
        let status = Command::new("python3")
            .arg(&script)
            .arg("--output")
            .arg(out)
            .status()
            .unwrap();
        assert!(status.success(), "generator failed");
        std::fs::read_to_string(out).unwrap()
    };
    let a = run(&dir.join("a.rs"));
    let b = run(&dir.join("b.rs"));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(a, b, "generator output differs between runs");
    let committed = std::fs::read_to_string(manifest.join("src/table.rs")).unwrap();
    assert!(
        a == committed,
        "src/table.rs is stale: run python3 scripts/gen-command-table.py"
    );
}

fn all_specs() -> impl Iterator<Item = &'static CommandSpec> {
    COMMANDS
        .iter()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// Redis and we agree on a non-empty key list.
    Keys(&'static CommandSpec),
    /// Agreed: the command has no keys / none in this request.
    NoKeys,
    /// Agreed: the arity is wrong (or GETKEYS cannot be asked).
    Arity,
    /// Agreed: Redis finds no keys in a malformed request; we report no keys
    /// or an error.
    Malformed,
    /// Agreed: not a command / subcommand.
    Unknown,
}

impl Outcome {
    fn kind(self) -> &'static str {
        match self {
            Outcome::Keys(_) => "keys",
            Outcome::NoKeys => "no_keys",
            Outcome::Arity => "arity",
            Outcome::Malformed => "malformed",
            Outcome::Unknown => "unknown",
        }
    }
}

/// Compares our key positions for `args` with `COMMAND GETKEYS`.
fn compare(conn: &mut Conn, args: &[Vec<u8>]) -> Outcome {
    if args.len() < 2 {
        // GETKEYS needs an argument after the command name; a bare command
        // that passes its arity check must be keyless.
        if let Resolved::Command(spec) = resolve(args)
            && spec.arity_ok(args.len())
        {
            let mut n = 0;
            assert_eq!(
                for_each_key(spec, args, |_| n += 1),
                Ok(()),
                "{}",
                show(args)
            );
            assert_eq!(n, 0, "{}", show(args));
        }
        return Outcome::Arity;
    }
    let mut req: Vec<&[u8]> = vec![b"COMMAND", b"GETKEYS"];
    req.extend(args.iter().map(Vec::as_slice));
    let reply = conn.call(&req);
    let ctx = show(args);
    let spec = match resolve(args) {
        Resolved::Command(c) => c,
        other => {
            assert_eq!(
                reply,
                Value::Error("ERR Invalid command specified".into()),
                "{ctx}: {other:?}"
            );
            return Outcome::Unknown;
        }
    };
    let mut ours = Vec::new();
    let ours = for_each_key(spec, args, |i| ours.push(i)).map(|()| ours);
    match reply {
        Value::Error(e) if e.contains("The command has no key arguments") => {
            assert!(!spec.has_keys(), "{ctx}");
            assert_eq!(ours, Ok(vec![]), "{ctx}");
            Outcome::NoKeys
        }
        Value::Error(e) if e.contains("Invalid number of arguments") => {
            assert!(!spec.arity_ok(args.len()), "{ctx}: Redis rejects the arity");
            Outcome::Arity
        }
        Value::Error(e) if e.contains("Invalid arguments specified") => {
            assert!(spec.arity_ok(args.len()), "{ctx}");
            assert!(
                ours.is_err() || ours == Ok(vec![]),
                "{ctx}: ours {ours:?}, Redis none"
            );
            Outcome::Malformed
        }
        Value::Array(keys) if keys.is_empty() => {
            assert!(spec.arity_ok(args.len()), "{ctx}");
            assert!(
                ours.is_err() || ours == Ok(vec![]),
                "{ctx}: ours {ours:?}, Redis none"
            );
            if ours.is_ok() {
                Outcome::NoKeys
            } else {
                Outcome::Malformed
            }
        }
        // A numkeys that is not a strict integer ("01", "+1", "2x"): Redis's
        // GETKEYS falls back to atoi() and may report keys, but every numkeys
        // command parses it strictly when run and rejects the request.
        Value::Array(_) if ours == Err(KeyError::InvalidNumkeys) => Outcome::Malformed,
        Value::Array(keys) => {
            assert!(spec.arity_ok(args.len()), "{ctx}");
            let want: Vec<&str> = keys.iter().map(Value::str).collect();
            let got: Vec<String> = match &ours {
                Ok(pos) => pos
                    .iter()
                    .map(|&i| String::from_utf8_lossy(&args[i]).into_owned())
                    .collect(),
                Err(e) => panic!("{ctx}: ours {e:?}, Redis {want:?}"),
            };
            assert_eq!(got, want, "{ctx}: positions {ours:?}");
            Outcome::Keys(spec)
        }
        other => panic!("{ctx}: unexpected GETKEYS reply {other:?}"),
    }
}

/// Every command the server lists is in the table with the same arity,
/// flags, ACL categories, tips, key specs, subcommands and docs, and vice
/// versa: a table generated from another server version fails here.
fn check_table_is_current(conn: &mut Conn) {
    let cmds = conn.call(&["COMMAND"]);
    let docs = conn.call(&["COMMAND", "DOCS"]);
    let docs = docs.map();
    let mut checked = 0;
    for entry in cmds.array() {
        let name = entry.array()[0].str();
        checked += check_entry(entry, docs.get(name).copied());
    }
    assert_eq!(
        checked,
        all_specs().count(),
        "table has commands the server does not"
    );
}

fn check_entry(entry: &Value, doc: Option<&Value>) -> usize {
    let e = entry.array();
    let name = e[0].str();
    let spec = match name.split_once('|') {
        None => lookup(name.as_bytes()),
        Some((c, s)) => lookup(c.as_bytes()).and_then(|c| c.subcommand(s.as_bytes())),
    };
    let spec = spec.unwrap_or_else(|| panic!("{name} is missing from the table: regenerate it"));
    assert_eq!(spec.name, name);
    assert_eq!(i64::from(spec.arity), e[1].int(), "{name} arity");
    let bits = |names: Vec<&str>, from: fn(&str) -> Option<u64>| {
        names
            .into_iter()
            .map(|n| from(n).unwrap_or_else(|| panic!("{name}: unknown {n}")))
            .fold(0, |a, b| a | b)
    };
    assert_eq!(
        spec.flags,
        bits(e[2].strs(), flags::from_name),
        "{name} flags"
    );
    assert_eq!(
        spec.acl_categories,
        bits(e[6].strs(), acl::from_name),
        "{name} acl"
    );
    assert_eq!(spec.tips, e[7].strs().as_slice(), "{name} tips");
    let key_specs: Vec<KeySpec> = e[8].array().iter().map(parse_key_spec).collect();
    assert_eq!(spec.key_specs, key_specs.as_slice(), "{name} key specs");

    let doc = doc.unwrap_or_else(|| panic!("{name}: no docs")).map();
    assert_eq!(spec.group, doc["group"].str(), "{name}");
    assert_eq!(spec.since, doc["since"].str(), "{name}");
    assert_eq!(spec.summary, doc["summary"].str(), "{name}");

    let subs = e[9].array();
    assert_eq!(spec.subcommands.len(), subs.len(), "{name} subcommands");
    let sub_docs = doc.get("subcommands").map(|d| d.map()).unwrap_or_default();
    1 + subs
        .iter()
        .map(|s| check_entry(s, sub_docs.get(s.array()[0].str()).copied()))
        .sum::<usize>()
}

fn parse_key_spec(v: &Value) -> KeySpec {
    let m = v.map();
    let flags = m["flags"]
        .strs()
        .into_iter()
        .map(|f| keyspec::from_name(f).unwrap_or_else(|| panic!("unknown key-spec flag {f}")))
        .fold(0, |a, b| a | b);
    let bs = m["begin_search"].map();
    let bss = bs["spec"].map();
    let begin = match bs["type"].str() {
        "index" => BeginSearch::Index(bss["index"].int() as i32),
        "keyword" => BeginSearch::Keyword {
            keyword: bss["keyword"].str().to_owned().leak(),
            start_from: bss["startfrom"].int() as i32,
        },
        _ => BeginSearch::Unknown,
    };
    let fk = m["find_keys"].map();
    let fks = fk["spec"].map();
    let find = match fk["type"].str() {
        "range" => FindKeys::Range {
            last_key: fks["lastkey"].int() as i32,
            step: fks["keystep"].int() as i32,
            limit: fks["limit"].int() as i32,
        },
        "keynum" => FindKeys::Keynum {
            keynum_idx: fks["keynumidx"].int() as i32,
            first_key: fks["firstkey"].int() as i32,
            step: fks["keystep"].int() as i32,
        },
        _ => FindKeys::Unknown,
    };
    KeySpec { begin, find, flags }
}
