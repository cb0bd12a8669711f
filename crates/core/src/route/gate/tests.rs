use std::collections::BTreeMap;

use slotway_resp::Request;

use super::*;
use crate::route::{Gate, KeyMap, Policy, Reject, Route, Scope, route_gated};

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

fn renames(v: &[(&str, &str)]) -> BTreeMap<String, String> {
    v.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn idx(name: &str) -> usize {
    slotway_command::flat_index_of(name).expect(name)
}

fn route(gate: &CommandGate, args: &[&str]) -> (Request, Route) {
    let req = Request::from_args(args);
    let g = Gate {
        gate,
        renamed: false,
    };
    let r = route_gated(&req, Policy::default(), &KeyMap::Cluster, Some(g));
    if r == Route::Reject(Reject::UnknownCommand)
        && let Some(orig) = gate.renamed(&req)
    {
        let g = Gate {
            gate,
            renamed: true,
        };
        let r = route_gated(&orig, Policy::default(), &KeyMap::Cluster, Some(g));
        return (orig, r);
    }
    (req, r)
}

fn message(args: &[&str], r: &Route) -> String {
    let Route::Reject(rej) = r else {
        panic!("{args:?}: not refused: {r:?}");
    };
    String::from_utf8(rej.message(&Request::from_args(args))).unwrap()
}

#[test]
fn nothing_configured_is_open() {
    let g = CommandGate::build(&[], &[], &BTreeMap::new()).unwrap();
    assert!(g.is_open());
    assert_eq!(g.verdict(idx("flushall")), Verdict::Pass);
}

#[test]
fn deny_resolves_to_flat_indexes() {
    let g = CommandGate::build(
        &s(&["FlushAll", "config|set", "XINFO"]),
        &[],
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(g.verdict(idx("flushall")), Verdict::Denied);
    assert_eq!(g.verdict(idx("config|set")), Verdict::Denied);
    assert_eq!(g.verdict(idx("config|get")), Verdict::Pass);
    // A container stands for all its subcommands.
    for sub in [
        "xinfo|stream",
        "xinfo|groups",
        "xinfo|consumers",
        "xinfo|help",
    ] {
        assert_eq!(g.verdict(idx(sub)), Verdict::Denied, "{sub}");
    }
    assert_eq!(g.verdict(idx("get")), Verdict::Pass);
}

#[test]
fn denied_is_refused_after_arity() {
    let g = CommandGate::build(
        &s(&["flushall", "config|set", "keys"]),
        &[],
        &BTreeMap::new(),
    )
    .unwrap();
    let (_, r) = route(&g, &["FLUSHALL"]);
    assert_eq!(
        message(&["FLUSHALL"], &r),
        "ERR slotway: command 'flushall' is disabled by the proxy configuration"
    );
    let (_, r) = route(&g, &["config", "SET", "maxmemory", "1"]);
    assert_eq!(
        message(&["config"], &r),
        "ERR slotway: command 'config|set' is disabled by the proxy configuration"
    );
    // Arity is checked first, as Redis does before its protected commands.
    let (_, r) = route(&g, &["KEYS"]);
    assert_eq!(
        message(&["KEYS"], &r),
        "ERR wrong number of arguments for 'keys' command"
    );
    let (_, r) = route(&g, &["config", "get", "maxmemory"]);
    assert!(matches!(r, Route::Forward(_)), "{r:?}");
}

#[test]
fn rename_like_redis() {
    let g = CommandGate::build(
        &[],
        &[],
        &renames(&[("FLUSHALL", "my-flushall"), ("keys", ""), ("CONFIG", "cfg")]),
    )
    .unwrap();
    // The old names are unknown, with Redis's text.
    let (_, r) = route(&g, &["flushall", "async"]);
    assert_eq!(
        message(&["flushall", "async"], &r),
        "ERR unknown command 'flushall', with args beginning with: 'async' "
    );
    let (_, r) = route(&g, &["KEYS", "*"]);
    assert_eq!(r, Route::Reject(Reject::UnknownCommand));
    let (_, r) = route(&g, &["config", "get", "x"]);
    assert_eq!(r, Route::Reject(Reject::UnknownCommand));
    // The new names work, rewritten to what the nodes know.
    let (req, r) = route(&g, &["MY-FLUSHALL"]);
    assert_eq!(req.arg(0), Some(&b"flushall"[..]));
    assert!(matches!(r, Route::Fanout { .. }), "{r:?}");
    let (req, r) = route(&g, &["CFG", "get", "maxmemory"]);
    assert_eq!(
        req.args().collect::<Vec<_>>(),
        [&b"config"[..], b"get", b"maxmemory"]
    );
    assert!(matches!(r, Route::Forward(_)), "{r:?}");
    let (_, r) = route(&g, &["cfg", "nosuch"]);
    assert_eq!(r, Route::Reject(Reject::UnknownSubcommand));
    // Disabled: no new name.
    assert!(g.renamed(&Request::from_args(["keys", "*"])).is_none());
    assert_eq!(
        g.new_names()
            .map(|(n, o)| (n.to_vec(), o))
            .collect::<Vec<_>>(),
        [
            (b"cfg".to_vec(), "config"),
            (b"my-flushall".to_vec(), "flushall")
        ]
    );
}

#[test]
fn rename_swaps_and_chains() {
    // A new name may be a command that is itself renamed away.
    let g = CommandGate::build(&[], &[], &renames(&[("get", "set"), ("set", "get")])).unwrap();
    let (req, r) = route(&g, &["SET", "k"]);
    assert_eq!(req.arg(0), Some(&b"get"[..]));
    assert!(matches!(r, Route::Forward(f) if f.readonly), "{r:?}");
    let (req, _) = route(&g, &["get", "k", "v"]);
    assert_eq!(req.arg(0), Some(&b"set"[..]));
}

#[test]
fn renamed_container_keeps_subcommand_denials() {
    let g = CommandGate::build(&s(&["config|set"]), &[], &renames(&[("config", "cfg")])).unwrap();
    let (_, r) = route(&g, &["cfg", "set", "a", "b"]);
    assert!(matches!(r, Route::Reject(Reject::Denied(_))), "{r:?}");
    let (_, r) = route(&g, &["cfg", "get", "a"]);
    assert!(matches!(r, Route::Forward(_)), "{r:?}");
}

#[test]
fn allow_enables_admin_fanout_per_command() {
    let g = CommandGate::build(&[], &s(&["CONFIG|SET", "bgsave"]), &BTreeMap::new()).unwrap();
    let (_, r) = route(&g, &["config", "set", "maxmemory", "1"]);
    assert!(
        matches!(
            r,
            Route::Fanout {
                scope: Scope::AllNodes,
                ..
            }
        ),
        "{r:?}"
    );
    let (_, r) = route(&g, &["bgsave"]);
    assert!(matches!(r, Route::Fanout { .. }), "{r:?}");
    // Not allowed: still refused by default.
    let (_, r) = route(&g, &["config", "resetstat"]);
    assert!(matches!(r, Route::Reject(Reject::Refused(_))), "{r:?}");
}

#[test]
fn bad_entries() {
    let none = BTreeMap::new();
    let err = |d: &[&str], a: &[&str], r: &[(&str, &str)]| {
        CommandGate::build(&s(d), &s(a), &renames(r)).unwrap_err()
    };
    assert_eq!(
        err(&["nosuch"], &[], &[]),
        GateError::UnknownCommand("nosuch".into())
    );
    assert_eq!(
        err(&["config|nosuch"], &[], &[]),
        GateError::UnknownCommand("config|nosuch".into())
    );
    assert_eq!(
        err(&[], &["monitor"], &[]),
        GateError::NotAllowable("monitor".into())
    );
    assert_eq!(
        err(&[], &["get"], &[]),
        GateError::NotAllowable("get".into())
    );
    assert_eq!(
        err(&["save"], &["SAVE"], &[]),
        GateError::Contradiction("SAVE".into())
    );
    assert_eq!(
        err(&[], &[], &[("config|set", "x")]),
        GateError::RenameSubcommand("config|set".into())
    );
    assert_eq!(
        err(&[], &[], &[("nosuch", "x")]),
        GateError::UnknownCommand("nosuch".into())
    );
    assert_eq!(
        err(&[], &[], &[("flushall", "get")]),
        GateError::NameTaken("get".into())
    );
    assert_eq!(
        err(&[], &[], &[("flushall", "x"), ("flushdb", "X")]),
        GateError::NameTaken("x".into())
    );
    assert_eq!(
        err(&[], &[], &[("flushall", "a b")]),
        GateError::BadName("a b".into())
    );
    assert_eq!(
        err(&[], &[], &[("flushall", "a|b")]),
        GateError::BadName("a|b".into())
    );
    assert_eq!(
        err(&["flushall"], &[], &[("flushall", "x")]),
        GateError::DeniedAndRenamed("flushall".into())
    );
    assert_eq!(
        err(&[], &[], &[("flushall", "x"), ("FLUSHALL", "y")]),
        GateError::RenamedTwice("flushall".into())
    );
    assert!(CommandGate::build(&[], &[], &none).unwrap().is_open());
}
