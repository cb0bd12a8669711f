//! Transactions and blocking commands through the proxy, against a real
//! 3-master cluster: MULTI/EXEC queued by the proxy and run on one node,
//! EXECABORT for a key on another node, DISCARD, WATCH on a dedicated
//! connection; BLPOP & co. on dedicated connections that never stall other
//! clients, time out like Redis, and are released when their client leaves.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{Raw, cluster_and_proxy, is_ok, key_in_range, master_ranges, text};
use slotway_resp::Value;

const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

/// A hash tag `{prefix:i}` whose slot is on master `m`.
fn tag_on(ranges: &[(u16, u16, String)], m: usize, prefix: &str) -> String {
    let (lo, hi, _) = &ranges[m];
    format!("{{{}}}", key_in_range(prefix, *lo, *hi))
}

fn b(s: &str) -> Value {
    Value::Bulk(s.as_bytes().to_vec().into())
}

fn simple(s: &str) -> Value {
    Value::Simple(s.as_bytes().to_vec().into())
}

fn queued(c: &mut Raw, args: &[&str]) {
    let v = c.cmd(args);
    assert_eq!(v, simple("QUEUED"), "{args:?}");
}

/// `blocked_clients` of a node's INFO clients.
fn blocked_clients(node: &mut Raw) -> i64 {
    let info = text(&node.cmd(&["INFO", "clients"]));
    info.lines()
        .find_map(|l| l.trim_end().strip_prefix("blocked_clients:"))
        .expect("blocked_clients in INFO")
        .parse()
        .unwrap()
}

/// Polls `node` (bounded) until it reports `n` blocked clients.
fn wait_blocked(node: &mut Raw, n: i64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = blocked_clients(node);
        if now == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the node still reports blocked_clients:{now} after 5 s, expected {n}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

// -------------------------------------------------------- transactions ---

#[test]
fn multi_exec_with_hash_tagged_keys() {
    let (cluster, proxy) = cluster_and_proxy();
    let ranges = master_ranges(&cluster);
    let mut c = proxy.client();
    for m in 0..3 {
        let t = tag_on(&ranges, m, "tx");
        let (a, l, h) = (format!("{t}a"), format!("{t}l"), format!("{t}h"));
        assert!(is_ok(&c.cmd(&["MULTI"])));
        queued(&mut c, &["SET", &a, "1"]);
        queued(&mut c, &["INCR", &a]);
        queued(&mut c, &["GET", &a]);
        queued(&mut c, &["RPUSH", &l, "x", "y"]);
        queued(&mut c, &["HSET", &h, "f", "v"]);
        queued(&mut c, &["LRANGE", &l, "0", "-1"]);
        queued(&mut c, &["PING"]);
        queued(&mut c, &["INCR", &h]);
        queued(&mut c, &["MGET", &a, &h]);
        let reply = c.cmd(&["EXEC"]);
        let Value::Array(items) = reply else {
            panic!("EXEC on master {m}: {reply:?}")
        };
        assert_eq!(items.len(), 9, "{items:?}");
        assert_eq!(items[0], simple("OK"));
        assert_eq!(items[1], Value::Integer(2));
        assert_eq!(items[2], b("2"));
        assert_eq!(items[3], Value::Integer(2));
        assert_eq!(items[4], Value::Integer(1));
        assert_eq!(items[5], Value::Array(vec![b("x"), b("y")]));
        assert_eq!(items[6], simple("PONG"));
        assert!(text(&items[7]).starts_with("WRONGTYPE"), "{:?}", items[7]);
        assert_eq!(items[8], Value::Array(vec![b("2"), Value::Null]));
        // The connection works normally after EXEC, on every node.
        assert_eq!(text(&c.cmd(&["GET", &a])), "2");
        for k in ["x0", "x1", "x2", "x3", "x4", "x5"] {
            assert_eq!(c.cmd(&["GET", k]), Value::Null);
        }
        assert_eq!(c.cmd(&["EXISTS", "x0", &a, "x1"]), Value::Integer(1));
    }
    // An empty transaction, and a keyless one.
    assert!(is_ok(&c.cmd(&["MULTI"])));
    assert_eq!(c.cmd(&["EXEC"]), Value::Array(vec![]));
    assert!(is_ok(&c.cmd(&["MULTI"])));
    queued(&mut c, &["PING", "hi"]);
    queued(&mut c, &["ECHO", "there"]);
    assert_eq!(c.cmd(&["EXEC"]), Value::Array(vec![b("hi"), b("there")]));
    // Pipelined: MULTI … EXEC in one write, then a command after it.
    let t = tag_on(&ranges, 1, "pipe");
    let k = format!("{t}k");
    for a in [
        &["MULTI"][..],
        &["SET", &k, "10"],
        &["INCRBY", &k, "5"],
        &["EXEC"],
        &["GET", &k],
    ] {
        c.send_cmd(a);
    }
    assert!(is_ok(&c.read()));
    assert_eq!(c.read(), simple("QUEUED"));
    assert_eq!(c.read(), simple("QUEUED"));
    assert_eq!(
        c.read(),
        Value::Array(vec![simple("OK"), Value::Integer(15)])
    );
    assert_eq!(c.read(), b("15"));
}

#[test]
fn execabort_when_a_queued_key_lives_on_another_node() {
    let (cluster, proxy) = cluster_and_proxy();
    let ranges = master_ranges(&cluster);
    let mut direct: Vec<Raw> = ranges
        .iter()
        .map(|(_, _, a)| Raw::connect(a.as_str()))
        .collect();
    let mut c = proxy.client();
    let ka = key_in_range("abort-a", ranges[0].0, ranges[0].1);
    let kb = key_in_range("abort-b", ranges[1].0, ranges[1].1);
    let ka2 = format!("{{{ka}}}:2");

    assert!(is_ok(&c.cmd(&["MULTI"])));
    queued(&mut c, &["SET", &ka, "1"]);
    queued(&mut c, &["SET", &ka2, "1"]);
    let err = text(&c.cmd(&["SET", &kb, "2"]));
    assert!(err.starts_with("ERR "), "{err}");
    assert!(err.contains("another node"), "{err}");
    // Still in the transaction: more commands are queued.
    queued(&mut c, &["INCR", &ka]);
    assert_eq!(text(&c.cmd(&["EXEC"])), EXECABORT);
    // Nothing of it ran.
    assert_eq!(c.cmd(&["EXISTS", &ka, &ka2, &kb]), Value::Integer(0));
    for (i, m) in direct.iter_mut().enumerate() {
        assert_eq!(m.cmd(&["DBSIZE"]), Value::Integer(0), "master {i}");
    }
    // Not in a transaction any more.
    assert!(is_ok(&c.cmd(&["SET", &kb, "ok"])));
    assert_eq!(text(&c.cmd(&["EXEC"])), "ERR EXEC without MULTI");

    // Keys in two slots in one queued command: CROSSSLOT, then EXECABORT.
    assert!(is_ok(&c.cmd(&["MULTI"])));
    queued(&mut c, &["SET", &ka, "1"]);
    assert_eq!(
        text(&c.cmd(&["MGET", &ka, &kb])),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
    assert_eq!(text(&c.cmd(&["EXEC"])), EXECABORT);
    assert_eq!(c.cmd(&["GET", &ka]), Value::Null);

    // An unknown command or a wrong arity aborts as in Redis.
    assert!(is_ok(&c.cmd(&["MULTI"])));
    queued(&mut c, &["SET", &ka, "1"]);
    assert!(text(&c.cmd(&["NOSUCH", "x"])).starts_with("ERR unknown command 'NOSUCH'"));
    assert_eq!(
        text(&c.cmd(&["GET"])),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(text(&c.cmd(&["EXEC"])), EXECABORT);
    assert_eq!(c.cmd(&["GET", &ka]), Value::Null);

    // A runtime error of one queued command does not abort the others.
    assert!(is_ok(&c.cmd(&["MULTI"])));
    queued(&mut c, &["SET", &ka, "x"]);
    queued(&mut c, &["INCR", &ka]);
    queued(&mut c, &["SET", &ka2, "y"]);
    let reply = c.cmd(&["EXEC"]);
    let Value::Array(items) = reply else {
        panic!("EXEC: {reply:?}")
    };
    assert_eq!(items[0], simple("OK"));
    assert!(text(&items[1]).contains("not an integer"), "{items:?}");
    assert_eq!(items[2], simple("OK"));
    assert_eq!(text(&direct[0].cmd(&["GET", &ka2])), "y");
}

#[test]
fn discard_and_errors_outside_multi() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut c = proxy.client();
    assert_eq!(text(&c.cmd(&["EXEC"])), "ERR EXEC without MULTI");
    assert_eq!(text(&c.cmd(&["DISCARD"])), "ERR DISCARD without MULTI");
    assert!(is_ok(&c.cmd(&["MULTI"])));
    assert_eq!(
        text(&c.cmd(&["MULTI"])),
        "ERR MULTI calls can not be nested"
    );
    queued(&mut c, &["SET", "{d}k", "1"]);
    queued(&mut c, &["SET", "{d}j", "1"]);
    assert!(is_ok(&c.cmd(&["DISCARD"])));
    assert_eq!(
        c.cmd(&["MGET", "{d}k", "{d}j"]),
        Value::Array(vec![Value::Null, Value::Null])
    );
    assert_eq!(text(&c.cmd(&["DISCARD"])), "ERR DISCARD without MULTI");
    assert_eq!(text(&c.cmd(&["EXEC"])), "ERR EXEC without MULTI");
    // The connection is back to normal: cross-slot split and fan-out work.
    assert!(is_ok(&c.cmd(&["MSET", "a", "1", "b", "2", "c", "3"])));
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Integer(3));
    // DISCARD after an error discards without EXECABORT.
    assert!(is_ok(&c.cmd(&["MULTI"])));
    assert!(text(&c.cmd(&["NOSUCH"])).starts_with("ERR unknown command"));
    assert!(is_ok(&c.cmd(&["DISCARD"])));
    assert!(is_ok(&c.cmd(&["MULTI"])));
    queued(&mut c, &["GET", "a"]);
    assert_eq!(c.cmd(&["EXEC"]), Value::Array(vec![b("1")]));
}

#[test]
fn watch_guards_exec_on_a_dedicated_connection() {
    let (cluster, proxy) = cluster_and_proxy();
    let ranges = master_ranges(&cluster);
    let mut c = proxy.client();
    let mut other = proxy.client();
    for m in 0..3 {
        let t = tag_on(&ranges, m, "w");
        let (k, j) = (format!("{t}k"), format!("{t}j"));
        assert!(is_ok(&c.cmd(&["SET", &k, "1"])));

        // Another client modifies a watched key: EXEC answers nil, nothing ran.
        assert!(is_ok(&c.cmd(&["WATCH", &k, &j])));
        assert!(is_ok(&other.cmd(&["SET", &k, "2"])));
        assert!(is_ok(&c.cmd(&["MULTI"])));
        queued(&mut c, &["SET", &k, "3"]);
        queued(&mut c, &["SET", &j, "3"]);
        assert_eq!(c.cmd(&["EXEC"]), Value::Null, "EXEC after a touched WATCH");
        assert_eq!(text(&c.cmd(&["GET", &k])), "2");
        assert_eq!(c.cmd(&["GET", &j]), Value::Null);

        // Untouched: EXEC runs.
        assert!(is_ok(&c.cmd(&["WATCH", &k])));
        assert_eq!(text(&other.cmd(&["GET", &k])), "2", "a read is no change");
        assert!(is_ok(&c.cmd(&["MULTI"])));
        queued(&mut c, &["INCR", &k]);
        queued(&mut c, &["GET", &k]);
        assert_eq!(
            c.cmd(&["EXEC"]),
            Value::Array(vec![Value::Integer(3), b("3")])
        );

        // UNWATCH forgets the watch: a later change does not abort.
        assert!(is_ok(&c.cmd(&["WATCH", &k])));
        assert!(is_ok(&c.cmd(&["UNWATCH"])));
        assert!(is_ok(&other.cmd(&["SET", &k, "10"])));
        assert!(is_ok(&c.cmd(&["MULTI"])));
        queued(&mut c, &["INCR", &k]);
        assert_eq!(c.cmd(&["EXEC"]), Value::Array(vec![Value::Integer(11)]));

        // DISCARD ends the watch too.
        assert!(is_ok(&c.cmd(&["WATCH", &k])));
        assert!(is_ok(&c.cmd(&["MULTI"])));
        queued(&mut c, &["INCR", &k]);
        assert!(is_ok(&c.cmd(&["DISCARD"])));
        assert!(is_ok(&other.cmd(&["SET", &k, "20"])));
        assert!(is_ok(&c.cmd(&["MULTI"])));
        queued(&mut c, &["INCR", &k]);
        assert_eq!(c.cmd(&["EXEC"]), Value::Array(vec![Value::Integer(21)]));

        // The connection is on the shared path again: every node, split, fan-out.
        let keys: Vec<String> = (0..30).map(|i| format!("after:{m}:{i}")).collect();
        let mut mset = vec!["MSET".to_string()];
        for key in &keys {
            mset.push(key.clone());
            mset.push(key.clone());
        }
        assert!(is_ok(&c.cmd(&mset)));
        for key in &keys {
            assert_eq!(text(&c.cmd(&["GET", key])), *key);
        }
        let mut del = vec!["DEL".to_string()];
        del.extend(keys.iter().cloned());
        assert_eq!(c.cmd(&del), Value::Integer(30));
    }

    // Many WATCH … EXEC rounds: the dedicated connections are returned.
    let t = tag_on(&ranges, 2, "rounds");
    let k = format!("{t}n");
    for i in 1..=40 {
        assert!(is_ok(&c.cmd(&["WATCH", &k])));
        assert!(is_ok(&c.cmd(&["MULTI"])));
        queued(&mut c, &["INCR", &k]);
        assert_eq!(c.cmd(&["EXEC"]), Value::Array(vec![Value::Integer(i)]));
    }

    // A transaction after WATCH runs on the watched node: a key elsewhere aborts it.
    let elsewhere = format!("{}x", tag_on(&ranges, 0, "else"));
    assert!(is_ok(&c.cmd(&["WATCH", &k])));
    assert!(is_ok(&c.cmd(&["MULTI"])));
    queued(&mut c, &["INCR", &k]);
    assert!(text(&c.cmd(&["SET", &elsewhere, "1"])).starts_with("ERR "));
    assert_eq!(text(&c.cmd(&["EXEC"])), EXECABORT);
    assert_eq!(text(&c.cmd(&["GET", &k])), "40");
    assert_eq!(c.cmd(&["GET", &elsewhere]), Value::Null);
    // WATCH of keys on two nodes is refused (the second one).
    assert!(is_ok(&c.cmd(&["WATCH", &k])));
    assert!(text(&c.cmd(&["WATCH", &elsewhere])).starts_with("ERR "));
    assert!(is_ok(&c.cmd(&["UNWATCH"])));

    // WATCH inside MULTI is refused; WATCH of keys in two slots too.
    assert!(is_ok(&c.cmd(&["MULTI"])));
    assert_eq!(
        text(&c.cmd(&["WATCH", &k])),
        "ERR WATCH inside MULTI is not allowed"
    );
    assert!(is_ok(&c.cmd(&["DISCARD"])));
    assert_eq!(
        text(&c.cmd(&["WATCH", "a", "b"])),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
}

#[test]
fn watch_then_client_disconnects_leaves_nothing_behind() {
    let (cluster, proxy) = cluster_and_proxy();
    let ranges = master_ranges(&cluster);
    let t = tag_on(&ranges, 0, "gone");
    let k = format!("{t}k");
    {
        let mut c = proxy.client();
        assert!(is_ok(&c.cmd(&["WATCH", &k])));
        assert!(is_ok(&c.cmd(&["MULTI"])));
        queued(&mut c, &["SET", &k, "never"]);
        // Disconnects without EXEC.
    }
    let mut c = proxy.client();
    assert!(is_ok(&c.cmd(&["SET", &k, "1"])));
    assert!(is_ok(&c.cmd(&["WATCH", &k])));
    assert!(is_ok(&c.cmd(&["MULTI"])));
    queued(&mut c, &["INCR", &k]);
    assert_eq!(c.cmd(&["EXEC"]), Value::Array(vec![Value::Integer(2)]));
}

// ------------------------------------------------------------ blocking ---

#[test]
fn blpop_blocked_for_2s_does_not_slow_20_other_clients() {
    let (cluster, proxy) = cluster_and_proxy();
    let ranges = master_ranges(&cluster);
    let list = format!("{}list", tag_on(&ranges, 0, "blk"));
    let mut node = Raw::connect(ranges[0].2.as_str());

    let mut blocked = proxy.client();
    blocked.send_cmd(&["BLPOP", &list, "30"]);
    let started = Instant::now();
    wait_blocked(&mut node, 1, "BLPOP");

    let addr = proxy.addr;
    let workers: Vec<_> = (0..20)
        .map(|w| {
            thread::spawn(move || {
                let mut c = Raw::connect(addr);
                let mut max = Duration::ZERO;
                for i in 0..200 {
                    // Keys on every master, the BLPOP's included.
                    let k = format!("lat:{w}:{}", i % 17);
                    let t = Instant::now();
                    assert!(is_ok(&c.cmd(&["SET", &k, &i.to_string()])));
                    max = max.max(t.elapsed());
                    let t = Instant::now();
                    assert_eq!(text(&c.cmd(&["GET", &k])), i.to_string());
                    max = max.max(t.elapsed());
                }
                max
            })
        })
        .collect();
    let maxes: Vec<Duration> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let worst = maxes.iter().max().copied().unwrap();
    assert!(
        // A client stalled behind the BLPOP would wait its full 2 s.
        worst < Duration::from_millis(1000),
        "worst round trip while a BLPOP was blocked: {worst:?} (all: {maxes:?})"
    );

    // Keep it blocked for 2 s, then push from another client.
    let rest = Duration::from_secs(2).saturating_sub(started.elapsed());
    thread::sleep(rest);
    assert_eq!(
        blocked_clients(&mut node),
        1,
        "BLPOP still blocked after 2 s"
    );
    let mut pusher = proxy.client();
    assert_eq!(
        pusher.cmd(&["LPUSH", &list, "the-value"]),
        Value::Integer(1)
    );
    assert_eq!(blocked.read(), Value::Array(vec![b(&list), b("the-value")]));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    assert_eq!(pusher.cmd(&["LLEN", &list]), Value::Integer(0));
    // The blocked client works normally afterwards.
    assert!(is_ok(&blocked.cmd(&["SET", &list, "x"])));
    assert_eq!(text(&blocked.cmd(&["GET", &list])), "x");
}

#[test]
fn blocking_commands_time_out_with_nil() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut c = proxy.client();
    let t = Instant::now();
    assert_eq!(c.cmd(&["BLPOP", "none:l", "0.5"]), Value::Null);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(c.cmd(&["BRPOP", "none:a", "0.2"]), Value::Null);
    assert_eq!(c.cmd(&["BZPOPMIN", "none:z", "0.2"]), Value::Null);
    assert_eq!(
        c.cmd(&["BLMOVE", "{n}s", "{n}d", "LEFT", "RIGHT", "0.2"]),
        Value::Null
    );
    assert_eq!(
        text(&c.cmd(&["BLMOVE", "none:s", "none:d", "LEFT", "RIGHT", "0.2"])),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
    assert_eq!(
        text(&c.cmd(&["BLPOP", "none:a", "none:b", "0.2"])),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
    assert_eq!(
        c.cmd(&["XREAD", "BLOCK", "200", "STREAMS", "none:x", "$"]),
        Value::Null
    );
    // Several clients time out at once, each on its own connection.
    let mut clients: Vec<Raw> = (0..10).map(|_| proxy.client()).collect();
    let t = Instant::now();
    for (i, c) in clients.iter_mut().enumerate() {
        c.send_cmd(&["BLPOP", &format!("none:{i}"), "1"]);
    }
    for c in &mut clients {
        assert_eq!(c.read(), Value::Null);
    }
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // Blocking commands that find data answer at once.
    assert_eq!(c.cmd(&["RPUSH", "some:l", "a", "b"]), Value::Integer(2));
    assert_eq!(
        c.cmd(&["BRPOP", "some:l", "0"]),
        Value::Array(vec![b("some:l"), b("b")])
    );
    // RESP3: a timeout is a RESP3 null.
    assert!(matches!(c.cmd(&["HELLO", "3"]), Value::Map(_)));
    c.send_cmd(&["BLPOP", "none:l", "0.2"]);
    assert_eq!(c.read_raw(3), b"_\r\n");
    assert_eq!(text(&c.cmd(&["PING"])), "PONG");
}

#[test]
fn a_client_that_disconnects_while_blocked_releases_its_blpop() {
    let (cluster, proxy) = cluster_and_proxy();
    let ranges = master_ranges(&cluster);
    let list = format!("{}list", tag_on(&ranges, 1, "gone"));
    let mut node = Raw::connect(ranges[1].2.as_str());

    let mut dead = proxy.client();
    dead.send_cmd(&["BLPOP", &list, "0"]);
    wait_blocked(&mut node, 1, "BLPOP of the client about to disconnect");
    drop(dead);
    // The proxy must close the node connection the BLPOP blocks on.
    let released = {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if blocked_clients(&mut node) == 0 {
                break true;
            }
            if Instant::now() >= deadline {
                break false;
            }
            thread::sleep(Duration::from_millis(10));
        }
    };

    let mut c = proxy.client();
    assert_eq!(c.cmd(&["LPUSH", &list, "kept"]), Value::Integer(1));
    let popped = c.cmd(&["LPOP", &list]);
    assert!(
        released,
        "after its client disconnected, the BLPOP is still blocked on the node \
         (blocked_clients stays 1); LPUSH + LPOP then gave {popped:?}"
    );
    assert_eq!(popped, b("kept"), "the value went to the dead client");

    // A new BLPOP gets a value pushed while it waits.
    let mut waiter = proxy.client();
    waiter.send_cmd(&["BLPOP", &list, "10"]);
    wait_blocked(&mut node, 1, "new BLPOP");
    assert_eq!(c.cmd(&["RPUSH", &list, "next"]), Value::Integer(1));
    assert_eq!(waiter.read(), Value::Array(vec![b(&list), b("next")]));
}

#[test]
fn xread_block_and_other_blocking_commands_wake_up() {
    let (cluster, proxy) = cluster_and_proxy();
    let ranges = master_ranges(&cluster);
    let mut c = proxy.client();
    for m in 0..3 {
        let t = tag_on(&ranges, m, "wake");
        let mut node = Raw::connect(ranges[m].2.as_str());
        let stream = format!("{t}stream");

        // XREAD BLOCK receives an XADD from another client.
        let mut reader = proxy.client();
        reader.send_cmd(&["XREAD", "BLOCK", "10000", "STREAMS", &stream, "$"]);
        wait_blocked(&mut node, 1, "XREAD BLOCK");
        let id = c.cmd(&["XADD", &stream, "*", "field", "value"]);
        assert!(matches!(id, Value::Bulk(_)), "{id:?}");
        assert_eq!(
            reader.read(),
            Value::Array(vec![Value::Array(vec![
                b(&stream),
                Value::Array(vec![Value::Array(vec![
                    id.clone(),
                    Value::Array(vec![b("field"), b("value")])
                ])])
            ])])
        );

        // BLMOVE.
        let (src, dst) = (format!("{t}src"), format!("{t}dst"));
        reader.send_cmd(&["BLMOVE", &src, &dst, "LEFT", "RIGHT", "10"]);
        wait_blocked(&mut node, 1, "BLMOVE");
        assert_eq!(c.cmd(&["RPUSH", &src, "moved"]), Value::Integer(1));
        assert_eq!(reader.read(), b("moved"));
        assert_eq!(
            c.cmd(&["LRANGE", &dst, "0", "-1"]),
            Value::Array(vec![b("moved")])
        );

        // BZPOPMIN.
        let z = format!("{t}z");
        reader.send_cmd(&["BZPOPMIN", &z, "10"]);
        wait_blocked(&mut node, 1, "BZPOPMIN");
        assert_eq!(c.cmd(&["ZADD", &z, "1.5", "m"]), Value::Integer(1));
        assert_eq!(reader.read(), Value::Array(vec![b(&z), b("m"), b("1.5")]));

        // The reader's connection serves normal commands afterwards.
        assert_eq!(reader.cmd(&["XLEN", &stream]), Value::Integer(1));
    }
    // A blocking command inside MULTI does not block (as in Redis).
    assert!(is_ok(&c.cmd(&["MULTI"])));
    queued(&mut c, &["BLPOP", "empty:l", "0"]);
    assert_eq!(c.cmd(&["EXEC"]), Value::Array(vec![Value::Null]));
}

#[test]
fn thirty_blocked_clients_each_get_one_value() {
    let (cluster, proxy) = cluster_and_proxy();
    let ranges = master_ranges(&cluster);
    let list = format!("{}many", tag_on(&ranges, 2, "many"));
    let mut node = Raw::connect(ranges[2].2.as_str());
    let mut waiters: Vec<Raw> = (0..30).map(|_| proxy.client()).collect();
    for w in &mut waiters {
        w.send_cmd(&["BLPOP", &list, "20"]);
    }
    wait_blocked(&mut node, 30, "30 BLPOPs");
    let mut c = proxy.client();
    let values: Vec<String> = (0..30).map(|i| format!("item{i}")).collect();
    let mut rpush = vec!["RPUSH".to_string(), list.clone()];
    rpush.extend(values.iter().cloned());
    assert_eq!(c.cmd(&rpush), Value::Integer(30));
    let mut got: Vec<String> = waiters
        .iter_mut()
        .map(|w| match w.read() {
            Value::Array(kv) if kv.len() == 2 => text(&kv[1]),
            other => panic!("BLPOP: {other:?}"),
        })
        .collect();
    got.sort();
    let mut want = values.clone();
    want.sort();
    assert_eq!(got, want, "each blocked client got exactly one value");
    assert_eq!(c.cmd(&["LLEN", &list]), Value::Integer(0));
    // Their connections are pooled again: a second round works as well.
    for w in &mut waiters {
        w.send_cmd(&["BLPOP", &list, "20"]);
    }
    wait_blocked(&mut node, 30, "30 BLPOPs, second round");
    assert_eq!(c.cmd(&rpush), Value::Integer(30));
    for w in &mut waiters {
        assert!(matches!(w.read(), Value::Array(_)));
    }
}

#[test]
fn concurrent_transactions_on_shared_connections_stay_atomic() {
    let (cluster, proxy) = cluster_and_proxy();
    let ranges = master_ranges(&cluster);
    let k = format!("{}ctr", tag_on(&ranges, 1, "atomic"));
    let addr = proxy.addr;
    let txn_workers: Vec<_> = (0..8)
        .map(|_| {
            let k = k.clone();
            thread::spawn(move || {
                let mut c = Raw::connect(addr);
                for _ in 0..100 {
                    assert!(is_ok(&c.cmd(&["MULTI"])));
                    queued(&mut c, &["INCR", &k]);
                    queued(&mut c, &["INCR", &k]);
                    queued(&mut c, &["INCR", &k]);
                    let reply = c.cmd(&["EXEC"]);
                    let Value::Array(v) = reply else {
                        panic!("EXEC: {reply:?}")
                    };
                    let n: Vec<i64> = v
                        .iter()
                        .map(|x| match x {
                            Value::Integer(n) => *n,
                            other => panic!("INCR in EXEC: {other:?}"),
                        })
                        .collect();
                    assert_eq!(n.len(), 3);
                    assert!(
                        n[1] == n[0] + 1 && n[2] == n[1] + 1,
                        "another client's INCR ran inside a transaction: {n:?}"
                    );
                }
            })
        })
        .collect();
    let plain_workers: Vec<_> = (0..4)
        .map(|_| {
            let k = k.clone();
            thread::spawn(move || {
                let mut c = Raw::connect(addr);
                for _ in 0..300 {
                    assert!(matches!(c.cmd(&["INCR", &k]), Value::Integer(_)));
                }
            })
        })
        .collect();
    for w in txn_workers.into_iter().chain(plain_workers) {
        w.join().unwrap();
    }
    let mut c = proxy.client();
    assert_eq!(
        text(&c.cmd(&["GET", &k])),
        (8 * 100 * 3 + 4 * 300).to_string()
    );
}
