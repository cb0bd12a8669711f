//! Routing decisions for representative requests.

use super::*;
use slotway_hashkit::key_slot;

fn r(args: &[&str]) -> Route {
    route(
        &Request::from_args(args.iter().map(|a| a.as_bytes())),
        Policy::default(),
    )
}

/// A read-only command for slot `s`.
#[allow(non_snake_case)]
fn Slot(s: u16) -> Route {
    Route::Forward(Forward {
        slot: Some(s),
        readonly: true,
    })
}

#[test]
fn keyed_commands_route_by_slot() {
    let w = |slot| {
        Route::Forward(Forward {
            slot,
            readonly: false,
        })
    };
    assert_eq!(r(&["GET", "foo"]), Slot(12182));
    assert_eq!(r(&["set", "foo", "1"]), w(Some(12182)));
    assert_eq!(r(&["MGET", "{a}1", "{a}2"]), Slot(key_slot(b"a")));
    assert_eq!(r(&["EVAL", "return 1", "0"]), w(None));
    assert_eq!(r(&["EVAL", "return 1", "5", "k"]), w(None));
    assert_eq!(r(&["XREAD", "STREAMS", "s", "0"]), Slot(key_slot(b"s")));
    assert_eq!(r(&["CLUSTER", "COUNTKEYSINSLOT", "12182"]), Slot(12182));
    assert_eq!(
        r(&["TIME"]),
        Route::Forward(Forward {
            slot: None,
            readonly: false
        })
    );
}

#[test]
fn cross_slot_splits_only_what_keeps_its_meaning() {
    let split = |merge, readonly| Route::Split { merge, readonly };
    assert_eq!(r(&["MGET", "a", "b"]), split(Merge::Mget, true));
    assert_eq!(r(&["MSET", "a", "1", "b", "2"]), split(Merge::AllOk, false));
    assert_eq!(r(&["DEL", "a", "b"]), split(Merge::SumInts, false));
    assert_eq!(r(&["EXISTS", "a", "b"]), split(Merge::SumInts, true));
    assert_eq!(
        r(&["MSETNX", "a", "1", "b", "2"]),
        Route::Reject(Reject::CrossSlot)
    );
    assert_eq!(r(&["RENAME", "a", "b"]), Route::Reject(Reject::CrossSlot));
    let off = Policy {
        split_multi_key: false,
        ..Policy::default()
    };
    let req = Request::from_args([&b"MGET"[..], b"a", b"b"]);
    assert_eq!(route(&req, off), Route::Reject(Reject::CrossSlot));
}

#[test]
fn fanouts_and_admin_policy() {
    let fan = |merge, readonly| Route::Fanout {
        merge,
        scope: Scope::Masters,
        readonly,
    };
    assert_eq!(r(&["DBSIZE"]), fan(Merge::SumInts, true));
    assert_eq!(r(&["KEYS", "*"]), fan(Merge::Concat, true));
    assert_eq!(r(&["FLUSHALL"]), fan(Merge::AllOk, false));
    assert_eq!(r(&["SCRIPT", "LOAD", "return 1"]), fan(Merge::First, false));
    assert_eq!(r(&["SCAN", "0"]), Route::Scan);
    assert_eq!(
        r(&["CLUSTER", "SLOTS"]),
        Route::Local(Local::ClusterView(ClusterView::Slots))
    );
    assert!(matches!(
        r(&["CONFIG", "SET", "a", "b"]),
        Route::Reject(Reject::Refused(_))
    ));
    let admin = Policy {
        fanout_admin: true,
        ..Policy::default()
    };
    let req = Request::from_args([&b"CONFIG"[..], b"SET", b"a", b"b"]);
    assert_eq!(
        route(&req, admin),
        Route::Fanout {
            merge: Merge::AllOk,
            scope: Scope::AllNodes,
            readonly: false
        }
    );
}

#[test]
fn checks_come_in_redis_order() {
    assert_eq!(r(&["NOPE"]), Route::Reject(Reject::UnknownCommand));
    assert_eq!(
        r(&["OBJECT", "NOPE", "x"]),
        Route::Reject(Reject::UnknownSubcommand)
    );
    assert!(matches!(r(&["GET"]), Route::Reject(Reject::Arity(_))));
    assert_eq!(r(&["ping"]), Route::Local(Local::Ping));
    assert_eq!(
        r(&["client", "SETINFO", "lib-name", "x"]),
        Route::Local(Local::ClientSetInfo)
    );
    assert_eq!(
        r(&["client", "SETINFO", "lib-name"]),
        Route::Reject(Reject::ArityOf("client|setinfo"))
    );
    let blocking = |slot| {
        Route::Blocking(Forward {
            slot: Some(slot),
            readonly: false,
        })
    };
    assert_eq!(r(&["BLPOP", "l", "0"]), blocking(key_slot(b"l")));
    assert_eq!(
        r(&["BLPOP", "a", "b", "0"]),
        Route::Reject(Reject::CrossSlot)
    );
    assert!(matches!(
        r(&["XREAD", "BLOCK", "0", "STREAMS", "s", "0"]),
        Route::Blocking(Forward {
            slot: Some(_),
            readonly: true
        })
    ));
    assert_eq!(r(&["MULTI"]), Route::Txn(Txn::Multi));
    assert_eq!(
        r(&["WATCH", "{a}1", "{a}2"]),
        Route::Txn(Txn::Watch(key_slot(b"a")))
    );
    assert_eq!(r(&["WATCH", "a", "b"]), Route::Reject(Reject::CrossSlot));
    assert_eq!(
        r(&["SUBSCRIBE", "a", "b"]),
        Route::PubSub(PubSub::Subscribe)
    );
    assert_eq!(
        r(&["SSUBSCRIBE", "{c}1", "{c}2"]),
        Route::PubSub(PubSub::SSubscribe(key_slot(b"c")))
    );
    assert_eq!(
        r(&["SSUBSCRIBE", "a", "b"]),
        Route::Reject(Reject::CrossSlot)
    );
    assert_eq!(
        r(&["SUNSUBSCRIBE"]),
        Route::PubSub(PubSub::SUnsubscribe(None))
    );
    assert_eq!(
        r(&["SPUBLISH", "ch", "m"]),
        Route::Forward(Forward {
            slot: Some(key_slot(b"ch")),
            readonly: false
        })
    );
    assert!(matches!(
        r(&["SHUTDOWN"]),
        Route::Reject(Reject::Refused(_))
    ));
}

#[test]
fn reject_messages_match_redis() {
    let msg = |args: &[&str]| {
        let req = Request::from_args(args.iter().map(|a| a.as_bytes()));
        let Route::Reject(rej) = route(&req, Policy::default()) else {
            panic!("not rejected: {args:?}")
        };
        String::from_utf8(rej.message(&req)).unwrap()
    };
    assert_eq!(
        msg(&["FOO"]),
        "ERR unknown command 'FOO', with args beginning with: "
    );
    assert_eq!(
        msg(&["foo", "a", "b"]),
        "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
    );
    assert_eq!(
        msg(&["object", "nope", "k"]),
        "ERR unknown subcommand 'nope'. Try OBJECT HELP."
    );
    assert_eq!(
        msg(&["get"]),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        msg(&["client", "setname"]),
        "ERR wrong number of arguments for 'client|setname' command"
    );
    assert_eq!(
        msg(&["msetnx", "a", "1", "b", "2"]),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
}
