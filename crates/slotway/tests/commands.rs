//! Commands the proxy turns into more than one request, or answers about the
//! cluster itself, against a real 3-master cluster: multi-key commands split
//! by slot (and CROSSSLOT for the ones that cannot be), fan-outs to every
//! master (DBSIZE, KEYS, FLUSHALL, RANDOMKEY, SCRIPT, FUNCTION, INFO), SCAN
//! walking every master, the one-node cluster view, and redis-py's
//! `RedisCluster` pointed at the proxy.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use common::{Proxy, Raw, bulk, cluster_and_proxy, is_ok, key_in_range, master_ranges, text};
use slotway_fixture::{Cluster, require_binaries};
use slotway_hashkit::key_slot;
use slotway_resp::Value;

const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";

/// Direct connections to every master, in slot order.
fn masters(cluster: &Cluster) -> Vec<Raw> {
    master_ranges(cluster)
        .iter()
        .map(|(_, _, addr)| Raw::connect(addr.as_str()))
        .collect()
}

/// Index (in slot order) of the master owning `key`.
fn owner(ranges: &[(u16, u16, String)], key: &str) -> usize {
    let slot = key_slot(key.as_bytes());
    ranges
        .iter()
        .position(|(lo, hi, _)| (*lo..=*hi).contains(&slot))
        .unwrap()
}

/// `n` keys `prefix:i`, each in a slot of its own.
fn keys_in_distinct_slots(prefix: &str, n: usize) -> Vec<String> {
    let mut seen = HashSet::new();
    let keys: Vec<String> = (0u32..)
        .map(|i| format!("{prefix}:{i}"))
        .filter(|k| seen.insert(key_slot(k.as_bytes())))
        .take(n)
        .collect();
    assert_eq!(keys.len(), n);
    keys
}

fn arr(v: Value) -> Vec<Value> {
    match v {
        Value::Array(items) | Value::Set(items) | Value::Push(items) => items,
        other => panic!("expected an array, got {other:?}"),
    }
}

fn b(s: &str) -> Value {
    Value::Bulk(s.as_bytes().to_vec().into())
}

fn args<'a>(head: &[&'a str], rest: &'a [String]) -> Vec<&'a str> {
    head.iter()
        .copied()
        .chain(rest.iter().map(String::as_str))
        .collect()
}

fn dbsize(c: &mut Raw) -> i64 {
    match c.cmd(&["DBSIZE"]) {
        Value::Integer(n) => n,
        other => panic!("DBSIZE: {other:?}"),
    }
}

/// SETs `keys` to `value_of(key)` through MSETs of 500 pairs (split by slot).
fn mset_all(c: &mut Raw, keys: &[String], value_of: impl Fn(&str) -> String) {
    for chunk in keys.chunks(500) {
        let mut a: Vec<String> = vec!["MSET".into()];
        for k in chunk {
            a.push(k.clone());
            a.push(value_of(k));
        }
        let reply = c.cmd(&a);
        assert!(is_ok(&reply), "MSET of {} keys: {reply:?}", chunk.len());
    }
}

/// Walks SCAN from cursor 0 to 0 with `extra` options; returns the keys in
/// order and the number of steps.
fn full_scan(c: &mut Raw, extra: &[&str]) -> (Vec<String>, usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    let mut steps = 0;
    loop {
        let mut a = vec!["SCAN", cursor.as_str()];
        a.extend_from_slice(extra);
        let reply = arr(c.cmd(&a));
        assert_eq!(reply.len(), 2, "SCAN reply {reply:?}");
        let next = text(&reply[0]);
        let batch = arr(reply[1].clone());
        keys.extend(batch.iter().map(text));
        steps += 1;
        if next == "0" {
            return (keys, steps);
        }
        let n: u64 = next.parse().expect("numeric cursor");
        assert!(n % 1024 < 3, "cursor {n} names master {} of 3", n % 1024);
        assert!(
            steps < 20_000 && Instant::now() < deadline,
            "SCAN never ended"
        );
        cursor = next;
    }
}

fn assert_once(keys: &[String], expected: &BTreeSet<String>, what: &str) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for k in keys {
        *counts.entry(k.as_str()).or_default() += 1;
    }
    let dups: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dups.is_empty(), "{what}: keys returned twice: {dups:?}");
    let got: BTreeSet<String> = keys.iter().cloned().collect();
    let missing: Vec<_> = expected.difference(&got).take(5).collect();
    let extra: Vec<_> = got.difference(expected).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: {} keys instead of {}; missing {missing:?}, unexpected {extra:?}",
        got.len(),
        expected.len()
    );
}

// ---------------------------------------------------------------- split ---

#[test]
fn multi_key_commands_split_over_100_slots() {
    let (cluster, proxy) = cluster_and_proxy();
    let ranges = master_ranges(&cluster);
    let mut c = proxy.client();
    let keys = keys_in_distinct_slots("split", 100);
    let per_master = (0..3)
        .map(|m| keys.iter().filter(|k| owner(&ranges, k) == m).count())
        .collect::<Vec<_>>();
    assert!(per_master.iter().all(|&n| n > 10), "spread: {per_master:?}");
    let value = |k: &str| format!("value-of-{k}");

    // MSET across 100 slots, then each key is on its owner.
    let mut a = vec!["MSET".to_string()];
    for k in &keys {
        a.push(k.clone());
        a.push(value(k));
    }
    assert!(is_ok(&c.cmd(&a)));
    let mut direct = masters(&cluster);
    for k in &keys {
        let m = owner(&ranges, k);
        assert_eq!(
            text(&direct[m].cmd(&["GET", k])),
            value(k),
            "{k} on master {m}"
        );
    }

    // MGET: values in the client's key order, missing keys nil, duplicates kept.
    let got = arr(c.cmd(&args(&["MGET"], &keys)));
    let want: Vec<Value> = keys.iter().map(|k| b(&value(k))).collect();
    assert_eq!(got, want);
    let mut mixed = Vec::new();
    let mut want = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        mixed.push(k.clone());
        want.push(b(&value(k)));
        if i % 7 == 0 {
            mixed.push(format!("split-missing:{i}"));
            want.push(Value::Null);
        }
        if i % 11 == 0 {
            mixed.push(keys[0].clone());
            want.push(b(&value(&keys[0])));
        }
    }
    assert_eq!(arr(c.cmd(&args(&["MGET"], &mixed))), want);

    // EXISTS and TOUCH count every key, duplicates included (as Redis does).
    assert_eq!(c.cmd(&args(&["EXISTS"], &keys)), Value::Integer(100));
    assert_eq!(
        c.cmd(&["EXISTS", &keys[0], &keys[0]]),
        Value::Integer(2),
        "EXISTS k k"
    );
    assert_eq!(
        c.cmd(&[
            "EXISTS",
            &keys[0],
            &keys[1],
            &keys[0],
            "split-missing",
            &keys[2]
        ]),
        Value::Integer(4)
    );
    assert_eq!(c.cmd(&args(&["EXISTS"], &mixed)), Value::Integer(100 + 10));
    assert_eq!(c.cmd(&args(&["TOUCH"], &keys)), Value::Integer(100));
    assert_eq!(
        c.cmd(&["TOUCH", &keys[3], "split-missing", &keys[4]]),
        Value::Integer(2)
    );

    // DEL the first 30 (with a duplicate and a missing key), UNLINK the rest.
    let mut del: Vec<String> = keys[..30].to_vec();
    del.push(keys[5].clone());
    del.push("split-missing".into());
    assert_eq!(c.cmd(&args(&["DEL"], &del)), Value::Integer(30));
    assert_eq!(c.cmd(&args(&["DEL"], &keys[..30])), Value::Integer(0));
    assert_eq!(c.cmd(&args(&["EXISTS"], &keys)), Value::Integer(70));
    let mut unlink: Vec<String> = keys.to_vec();
    unlink.push("split-missing-2".into());
    assert_eq!(c.cmd(&args(&["UNLINK"], &unlink)), Value::Integer(70));
    assert_eq!(c.cmd(&args(&["EXISTS"], &keys)), Value::Integer(0));
    assert_eq!(
        arr(c.cmd(&args(&["MGET"], &keys))),
        vec![Value::Null; keys.len()]
    );
    for (i, m) in direct.iter_mut().enumerate() {
        assert_eq!(dbsize(m), 0, "master {i} still holds keys");
    }

    // Same-slot multi-key commands are still sent as they are.
    assert!(is_ok(&c.cmd(&["MSET", "{t}a", "1", "{t}b", "2"])));
    assert_eq!(
        c.cmd(&["MGET", "{t}a", "{t}b", "{t}c"]),
        Value::Array(vec![b("1"), b("2"), Value::Null])
    );
    assert_eq!(c.cmd(&["DEL", "{t}a", "{t}b", "{t}c"]), Value::Integer(2));
}

#[test]
fn commands_that_cannot_be_split_answer_crossslot_and_work_with_hash_tags() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut c = proxy.client();
    assert_ne!(key_slot(b"a"), key_slot(b"b"));
    assert_ne!(key_slot(b"a"), key_slot(b"d"));
    let cases: &[&[&str]] = &[
        &["MSETNX", "a", "1", "b", "2"],
        &["RENAME", "a", "b"],
        &["RENAMENX", "a", "b"],
        &["SMOVE", "a", "b", "m"],
        &["SINTERSTORE", "d", "a", "b"],
        &["SUNIONSTORE", "d", "a", "b"],
        &["LMOVE", "a", "b", "LEFT", "RIGHT"],
        &["RPOPLPUSH", "a", "b"],
        &["ZUNIONSTORE", "d", "2", "a", "b"],
        &["PFMERGE", "d", "a", "b"],
        &["COPY", "a", "b"],
    ];
    assert!(is_ok(&c.cmd(&["SET", "a", "x"])));
    for case in cases {
        assert_eq!(text(&c.cmd(case)), CROSSSLOT, "{case:?}");
    }
    // Nothing of them ran.
    assert_eq!(c.cmd(&["EXISTS", "b", "d"]), Value::Integer(0));
    assert_eq!(text(&c.cmd(&["GET", "a"])), "x");

    // The same commands with hash tags run on the slot's master.
    assert_eq!(
        c.cmd(&["MSETNX", "{t}a", "1", "{t}b", "2"]),
        Value::Integer(1)
    );
    assert_eq!(
        c.cmd(&["MSETNX", "{t}a", "9", "{t}z", "9"]),
        Value::Integer(0)
    );
    assert!(is_ok(&c.cmd(&["RENAME", "{t}a", "{t}c"])));
    assert_eq!(
        c.cmd(&["MGET", "{t}a", "{t}b", "{t}c"]),
        Value::Array(vec![Value::Null, b("2"), b("1")])
    );
    assert_eq!(c.cmd(&["SADD", "{t}s1", "m", "n"]), Value::Integer(2));
    assert_eq!(c.cmd(&["SMOVE", "{t}s1", "{t}s2", "m"]), Value::Integer(1));
    assert_eq!(c.cmd(&["SISMEMBER", "{t}s2", "m"]), Value::Integer(1));
    assert_eq!(c.cmd(&["SADD", "{t}x", "1", "2", "3"]), Value::Integer(3));
    assert_eq!(c.cmd(&["SADD", "{t}y", "2", "3", "4"]), Value::Integer(3));
    assert_eq!(
        c.cmd(&["SINTERSTORE", "{t}d", "{t}x", "{t}y"]),
        Value::Integer(2)
    );
    assert_eq!(c.cmd(&["SCARD", "{t}d"]), Value::Integer(2));
    assert_eq!(c.cmd(&["RPUSH", "{t}l1", "p", "q"]), Value::Integer(2));
    assert_eq!(c.cmd(&["LMOVE", "{t}l1", "{t}l2", "LEFT", "RIGHT"]), b("p"));
    assert_eq!(
        c.cmd(&["LRANGE", "{t}l2", "0", "-1"]),
        Value::Array(vec![b("p")])
    );
}

#[test]
fn cross_slot_split_disabled_gives_crossslot() {
    require_binaries(&["redis-server", "redis-cli"]);
    let cluster = Cluster::start(3, 0).expect("cluster");
    let proxy = Proxy::start_with(&cluster.seeds(), |config| {
        config.cluster.cross_slot_split = false;
    });
    proxy.wait_ready();
    let mut c = proxy.client();
    assert!(is_ok(&c.cmd(&["SET", "a", "1"])));
    for case in [
        &["MGET", "a", "b"][..],
        &["MSET", "a", "1", "b", "2"],
        &["DEL", "a", "b"],
        &["UNLINK", "a", "b"],
        &["EXISTS", "a", "b"],
        &["TOUCH", "a", "b"],
    ] {
        assert_eq!(text(&c.cmd(case)), CROSSSLOT, "{case:?}");
    }
    assert_eq!(
        text(&c.cmd(&["GET", "a"])),
        "1",
        "DEL a b must not have run"
    );
    assert!(is_ok(&c.cmd(&["MSET", "{t}a", "1", "{t}b", "2"])));
    assert_eq!(
        c.cmd(&["MGET", "{t}a", "{t}b"]),
        Value::Array(vec![b("1"), b("2")])
    );
    // Fan-outs are not affected by the option.
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Integer(3));
}

// ------------------------------------------------- SCAN and fan-outs ---

#[test]
fn scan_dbsize_keys_randomkey_flushall_over_10000_keys() {
    let (cluster, proxy) = cluster_and_proxy();
    let mut c = proxy.client();
    let strings: Vec<String> = (0..9_900).map(|i| format!("s:{i}")).collect();
    let hashes: Vec<String> = (0..100).map(|i| format!("h:{i}")).collect();
    mset_all(&mut c, &strings, |k| format!("v-{k}"));
    for h in &hashes {
        assert_eq!(c.cmd(&["HSET", h, "f", "v"]), Value::Integer(1));
    }
    let all: BTreeSet<String> = strings.iter().chain(&hashes).cloned().collect();
    let hash_set: BTreeSet<String> = hashes.iter().cloned().collect();

    // DBSIZE sums the masters, each of which holds a share.
    assert_eq!(dbsize(&mut c), 10_000);
    let mut direct = masters(&cluster);
    let shares: Vec<i64> = direct.iter_mut().map(dbsize).collect();
    assert_eq!(shares.iter().sum::<i64>(), 10_000, "{shares:?}");
    assert!(shares.iter().all(|&n| n > 2_000), "{shares:?}");

    // A full SCAN returns each key exactly once and ends with cursor 0.
    let (keys, steps_1000) = full_scan(&mut c, &["COUNT", "1000"]);
    assert_once(&keys, &all, "SCAN COUNT 1000");
    let (keys, steps_100) = full_scan(&mut c, &["COUNT", "100"]);
    assert_once(&keys, &all, "SCAN COUNT 100");
    let (keys, _) = full_scan(&mut c, &[]);
    assert_once(&keys, &all, "SCAN");
    // COUNT is honoured (a hint per node: about COUNT keys per step).
    assert!(
        steps_100 >= 10_000 / 300 && steps_100 > 3 * steps_1000,
        "SCAN took {steps_100} steps with COUNT 100 and {steps_1000} with COUNT 1000"
    );
    let first = arr(c.cmd(&["SCAN", "0", "COUNT", "100"]));
    let batch = arr(first[1].clone());
    assert!(
        !batch.is_empty() && batch.len() <= 300,
        "one SCAN COUNT 100 step returned {} keys",
        batch.len()
    );

    // MATCH and TYPE are honoured.
    let (keys, _) = full_scan(&mut c, &["MATCH", "h:*", "COUNT", "1000"]);
    assert_once(&keys, &hash_set, "SCAN MATCH h:*");
    let (keys, _) = full_scan(&mut c, &["TYPE", "hash", "COUNT", "1000"]);
    assert_once(&keys, &hash_set, "SCAN TYPE hash");
    let (keys, _) = full_scan(&mut c, &["MATCH", "s:1*", "TYPE", "string", "COUNT", "500"]);
    let s1: BTreeSet<String> = strings
        .iter()
        .filter(|k| k.starts_with("s:1"))
        .cloned()
        .collect();
    assert_once(&keys, &s1, "SCAN MATCH s:1* TYPE string");
    // A cursor naming no master is refused.
    assert!(
        text(&c.cmd(&["SCAN", "1023"])).starts_with("ERR"),
        "SCAN with a cursor for master 1023 of 3"
    );

    // KEYS concatenates every master's keys.
    let keys: Vec<String> = arr(c.cmd(&["KEYS", "*"])).iter().map(text).collect();
    assert_eq!(keys.len(), 10_000);
    assert_once(&keys, &all, "KEYS *");
    let keys: Vec<String> = arr(c.cmd(&["KEYS", "h:*"])).iter().map(text).collect();
    assert_once(&keys, &hash_set, "KEYS h:*");

    // RANDOMKEY names an existing key.
    for _ in 0..20 {
        let k = text(&c.cmd(&["RANDOMKEY"]));
        assert!(all.contains(&k), "RANDOMKEY gave {k:?}");
    }

    // FLUSHALL empties every master.
    assert!(is_ok(&c.cmd(&["FLUSHALL"])));
    for (i, m) in direct.iter_mut().enumerate() {
        assert_eq!(dbsize(m), 0, "master {i} after FLUSHALL");
    }
    assert_eq!(dbsize(&mut c), 0);
    assert_eq!(c.cmd(&["RANDOMKEY"]), Value::Null);
    assert_eq!(c.cmd(&["KEYS", "*"]), Value::Array(vec![]));
    let (keys, steps) = full_scan(&mut c, &[]);
    assert!(keys.is_empty(), "{keys:?}");
    assert_eq!(steps, 3, "an empty SCAN visits each master once");

    // FLUSHDB (and FLUSHALL ASYNC) too.
    mset_all(&mut c, &strings[..300], |k| k.to_string());
    assert_eq!(dbsize(&mut c), 300);
    assert!(is_ok(&c.cmd(&["FLUSHDB"])));
    assert_eq!(dbsize(&mut c), 0);
    mset_all(&mut c, &strings[..300], |k| k.to_string());
    assert!(is_ok(&c.cmd(&["FLUSHALL", "ASYNC"])));
    for (i, m) in direct.iter_mut().enumerate() {
        assert_eq!(dbsize(m), 0, "master {i} after FLUSHALL ASYNC");
    }
}

#[test]
fn scan_and_fanouts_in_resp3() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut c = proxy.client();
    assert!(matches!(c.cmd(&["HELLO", "3"]), Value::Map(_)));
    let keys: Vec<String> = (0..500).map(|i| format!("r3:{i}")).collect();
    mset_all(&mut c, &keys, |k| k.to_string());
    let all: BTreeSet<String> = keys.iter().cloned().collect();
    let (got, _) = full_scan(&mut c, &["COUNT", "50"]);
    assert_once(&got, &all, "SCAN over RESP3");
    let got: Vec<String> = arr(c.cmd(&["KEYS", "r3:*"])).iter().map(text).collect();
    assert_once(&got, &all, "KEYS over RESP3");
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Integer(500));
    assert_eq!(
        c.cmd(&["EXISTS", "r3:1", "r3:2", "r3:1", "nope"]),
        Value::Integer(3)
    );
    assert_eq!(
        c.cmd(&["MGET", "r3:1", "nope", "r3:2"]),
        Value::Array(vec![b("r3:1"), Value::Null, b("r3:2")])
    );
    assert!(is_ok(&c.cmd(&["FLUSHALL"])));
    assert_eq!(c.cmd(&["RANDOMKEY"]), Value::Null);
}

#[test]
fn randomkey_info_and_scan_with_keys_on_one_master_only() {
    let (cluster, proxy) = cluster_and_proxy();
    let ranges = master_ranges(&cluster);
    let mut c = proxy.client();
    for (m, (lo, hi, _)) in ranges.iter().enumerate() {
        assert!(is_ok(&c.cmd(&["FLUSHALL"])));
        let k = key_in_range(&format!("lonely{m}"), *lo, *hi);
        assert!(is_ok(&c.cmd(&["SET", &k, "v"])));
        for _ in 0..10 {
            assert_eq!(
                text(&c.cmd(&["RANDOMKEY"])),
                k,
                "RANDOMKEY with one key, on master {m}"
            );
        }
        assert_eq!(dbsize(&mut c), 1);
        let info = text(&c.cmd(&["INFO", "keyspace"]));
        assert_eq!(db0_keys(&info), 1, "master {m}: {info}");
        let (keys, steps) = full_scan(&mut c, &[]);
        assert_eq!(keys, vec![k.clone()]);
        assert_eq!(steps, 3);
        assert_eq!(c.cmd(&["KEYS", "*"]), Value::Array(vec![b(&k)]));
    }
}

#[test]
fn pipelined_mix_of_split_fanout_scan_and_single_commands_keeps_order() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut c = proxy.client();
    let keys = keys_in_distinct_slots("mix", 40);
    mset_all(&mut c, &keys, |k| format!("v-{k}"));
    let mut out = bytes::BytesMut::new();
    let rounds = 300;
    for i in 0..rounds {
        let k = &keys[i % keys.len()];
        let j = &keys[(i * 7 + 3) % keys.len()];
        slotway_resp::encode::command(&mut out, &["MGET", k, "mix-none", j]);
        slotway_resp::encode::command(&mut out, &["GET", k]);
        slotway_resp::encode::command(&mut out, &["EXISTS", k, j, k, "mix-none"]);
        slotway_resp::encode::command(&mut out, &["DBSIZE"]);
        slotway_resp::encode::command(&mut out, &["SCAN", "0", "COUNT", "5"]);
        slotway_resp::encode::command(&mut out, &["ECHO", &i.to_string()]);
        slotway_resp::encode::command(
            &mut out,
            &["MSET", k, &format!("v-{k}"), j, &format!("v-{j}")],
        );
    }
    let mut writer = c.stream.try_clone().unwrap();
    let payload = out.freeze();
    let t = std::thread::spawn(move || std::io::Write::write_all(&mut writer, &payload).unwrap());
    for i in 0..rounds {
        let k = &keys[i % keys.len()];
        let j = &keys[(i * 7 + 3) % keys.len()];
        assert_eq!(
            c.read(),
            Value::Array(vec![
                b(&format!("v-{k}")),
                Value::Null,
                b(&format!("v-{j}"))
            ]),
            "MGET #{i}"
        );
        assert_eq!(text(&c.read()), format!("v-{k}"), "GET #{i}");
        assert_eq!(c.read(), Value::Integer(3), "EXISTS #{i}");
        assert_eq!(c.read(), Value::Integer(40), "DBSIZE #{i}");
        let scan = arr(c.read());
        assert_eq!(scan.len(), 2, "SCAN #{i}");
        assert_eq!(text(&c.read()), i.to_string(), "ECHO #{i}");
        assert!(is_ok(&c.read()), "MSET #{i}");
    }
    t.join().unwrap();
}

#[test]
fn split_commands_keep_redis_argument_errors() {
    let (_cluster, proxy) = cluster_and_proxy();
    let mut c = proxy.client();
    assert_ne!(key_slot(b"a"), key_slot(b"b"));
    let reply = text(&c.cmd(&["MSET", "a", "1", "b"]));
    let after = c.cmd(&["MGET", "a", "b"]);
    assert_eq!(
        (reply.as_str(), after),
        (
            "ERR wrong number of arguments for 'mset' command",
            Value::Array(vec![Value::Null, Value::Null])
        ),
        "MSET a 1 b (keys in two slots): reply and MGET a b afterwards"
    );
    assert_eq!(
        text(&c.cmd(&["MSET", "{t}a", "1", "{t}b"])),
        "ERR wrong number of arguments for 'mset' command"
    );
    assert_eq!(
        text(&c.cmd(&["MGET"])),
        "ERR wrong number of arguments for 'mget' command"
    );
    assert_eq!(
        text(&c.cmd(&["DEL"])),
        "ERR wrong number of arguments for 'del' command"
    );
}

// ------------------------------------------------ scripts, functions ---

#[test]
fn scripts_and_functions_on_every_master() {
    let (cluster, proxy) = cluster_and_proxy();
    let ranges = master_ranges(&cluster);
    let mut direct = masters(&cluster);
    let mut c = proxy.client();
    let keys: Vec<String> = ranges
        .iter()
        .map(|(lo, hi, _)| key_in_range("script", *lo, *hi))
        .collect();

    // SCRIPT LOAD reaches every master; EVALSHA runs wherever the key lives.
    let script = "return redis.call('SET', KEYS[1], ARGV[1])";
    let sha = text(&c.cmd(&["SCRIPT", "LOAD", script]));
    assert_eq!(sha.len(), 40, "SCRIPT LOAD: {sha:?}");
    for (i, m) in direct.iter_mut().enumerate() {
        assert_eq!(
            m.cmd(&["SCRIPT", "EXISTS", &sha]),
            Value::Array(vec![Value::Integer(1)]),
            "script on master {i}"
        );
    }
    for (i, k) in keys.iter().enumerate() {
        let v = format!("by-evalsha-{i}");
        assert!(is_ok(&c.cmd(&["EVALSHA", &sha, "1", k, &v])), "EVALSHA {k}");
        assert_eq!(text(&c.cmd(&["GET", k])), v);
        assert_eq!(text(&direct[i].cmd(&["GET", k])), v, "{k} on master {i}");
    }
    let unknown = "0000000000000000000000000000000000000000";
    assert_eq!(
        c.cmd(&["SCRIPT", "EXISTS", &sha, unknown, &sha]),
        Value::Array(vec![
            Value::Integer(1),
            Value::Integer(0),
            Value::Integer(1)
        ])
    );
    // Loaded on one master only: not there for the cluster.
    let only = text(&direct[1].cmd(&["SCRIPT", "LOAD", "return 42"]));
    assert_eq!(
        c.cmd(&["SCRIPT", "EXISTS", &only]),
        Value::Array(vec![Value::Integer(0)]),
        "SCRIPT EXISTS of a script only one master has"
    );
    assert!(is_ok(&c.cmd(&["SCRIPT", "FLUSH"])));
    assert_eq!(
        c.cmd(&["SCRIPT", "EXISTS", &sha]),
        Value::Array(vec![Value::Integer(0)])
    );
    for (i, m) in direct.iter_mut().enumerate() {
        assert_eq!(
            m.cmd(&["SCRIPT", "EXISTS", &sha, &only]),
            Value::Array(vec![Value::Integer(0), Value::Integer(0)]),
            "master {i} after SCRIPT FLUSH"
        );
    }
    assert_eq!(
        text(&c.cmd(&["EVALSHA", &sha, "1", &keys[0], "x"])),
        "NOSCRIPT No matching script. Please use EVAL."
    );

    // EVAL: by key, keyless, and CROSSSLOT for keys in two slots.
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(
            text(&c.cmd(&["EVAL", "return redis.call('GET', KEYS[1])", "1", k])),
            format!("by-evalsha-{i}")
        );
    }
    assert_eq!(c.cmd(&["EVAL", "return 7", "0"]), Value::Integer(7));
    assert_eq!(
        text(&c.cmd(&[
            "EVAL",
            "return redis.call('MGET', KEYS[1], KEYS[2])",
            "2",
            &keys[0],
            &keys[1]
        ])),
        CROSSSLOT
    );
    assert_eq!(
        text(&c.cmd(&["EVAL", "return 1", "2", "{s}a", "{x}b"])),
        CROSSSLOT
    );
    assert_eq!(
        c.cmd(&[
            "EVAL",
            "return redis.call('SET', KEYS[1], ARGV[1]) and redis.call('GET', KEYS[2])",
            "2",
            "{s}a",
            "{s}b",
            "v"
        ]),
        Value::Null
    );

    // FUNCTION LOAD reaches every master; FCALL runs wherever the key lives.
    let lib = "#!lua name=swlib\n\
        redis.register_function('swset', function(keys, args) return redis.call('SET', keys[1], args[1]) end)\n\
        redis.register_function{function_name='swget', callback=function(keys, args) return redis.call('GET', keys[1]) end, flags={'no-writes'}}";
    assert_eq!(text(&c.cmd(&["FUNCTION", "LOAD", lib])), "swlib");
    for (i, m) in direct.iter_mut().enumerate() {
        let list = format!("{:?}", m.cmd(&["FUNCTION", "LIST"]));
        assert!(list.contains("swlib"), "master {i}: {list}");
    }
    for (i, k) in keys.iter().enumerate() {
        let v = format!("by-fcall-{i}");
        assert!(is_ok(&c.cmd(&["FCALL", "swset", "1", k, &v])), "FCALL {k}");
        assert_eq!(text(&c.cmd(&["FCALL", "swget", "1", k])), v);
        assert_eq!(text(&c.cmd(&["FCALL_RO", "swget", "1", k])), v);
        assert_eq!(text(&direct[i].cmd(&["GET", k])), v, "{k} on master {i}");
    }
    assert_eq!(
        text(&c.cmd(&["FCALL", "swget", "2", &keys[0], &keys[1]])),
        CROSSSLOT
    );
    // Loading it again fails on the first master as Redis says.
    assert_eq!(
        text(&c.cmd(&["FUNCTION", "LOAD", lib])),
        "ERR Library 'swlib' already exists"
    );

    // FUNCTION DUMP (from any master) → FLUSH → RESTORE on every master.
    let dump = bulk(&c.cmd(&["FUNCTION", "DUMP"]));
    assert!(is_ok(&c.cmd(&["FUNCTION", "FLUSH"])));
    for (i, m) in direct.iter_mut().enumerate() {
        assert_eq!(
            m.cmd(&["FUNCTION", "LIST"]),
            Value::Array(vec![]),
            "master {i} after FUNCTION FLUSH"
        );
    }
    assert_eq!(
        text(&c.cmd(&["FCALL", "swget", "1", &keys[0]])),
        "ERR Function not found"
    );
    assert!(is_ok(&c.cmd(&[b"FUNCTION".as_slice(), b"RESTORE", &dump])));
    for k in &keys {
        assert!(matches!(c.cmd(&["FCALL", "swget", "1", k]), Value::Bulk(_)));
    }
    assert!(is_ok(&c.cmd(&["FUNCTION", "DELETE", "swlib"])));
    for (i, m) in direct.iter_mut().enumerate() {
        assert_eq!(
            m.cmd(&["FUNCTION", "LIST"]),
            Value::Array(vec![]),
            "master {i} after FUNCTION DELETE"
        );
    }
    assert_eq!(
        text(&c.cmd(&["FCALL", "swset", "1", &keys[2], "x"])),
        "ERR Function not found"
    );
}

// ---------------------------------------------------------------- INFO ---

/// `db0:keys=N,...` → N, from an INFO text.
fn db0_keys(info: &str) -> i64 {
    info.lines()
        .find_map(|l| l.trim_end().strip_prefix("db0:keys="))
        .map_or(0, |rest| rest.split(',').next().unwrap().parse().unwrap())
}

fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.trim_end().strip_prefix(name)?.strip_prefix(':'))
}

#[test]
fn info_is_merged_over_masters() {
    let (cluster, proxy) = cluster_and_proxy();
    let mut c = proxy.client();
    let keys: Vec<String> = (0..999).map(|i| format!("info:{i}")).collect();
    mset_all(&mut c, &keys, |_| "v".into());
    assert_eq!(c.cmd(&["EXPIRE", "info:1", "1000"]), Value::Integer(1));
    assert_eq!(c.cmd(&["EXPIRE", "info:2", "1000"]), Value::Integer(1));
    let mut direct = masters(&cluster);
    let per_master: Vec<i64> = direct
        .iter_mut()
        .map(|m| db0_keys(&text(&m.cmd(&["INFO", "keyspace"]))))
        .collect();
    assert_eq!(per_master.iter().sum::<i64>(), 999, "{per_master:?}");
    assert!(per_master.iter().all(|&n| n > 0), "{per_master:?}");

    let info = text(&c.cmd(&["INFO"]));
    assert!(info.contains("\r\n"), "INFO lines end in CRLF");
    assert_eq!(field(&info, "cluster_enabled"), Some("0"), "{info}");
    assert_eq!(field(&info, "redis_mode"), Some("standalone"), "{info}");
    assert_eq!(field(&info, "redis_version"), Some("7.0.15"));
    assert!(info.contains("# Slotway\r\n"), "{info}");
    assert!(info.contains("# Keyspace\r\n"), "{info}");
    assert_eq!(db0_keys(&info), 999, "{info}");
    let expires = info
        .lines()
        .find_map(|l| l.strip_prefix("db0:"))
        .and_then(|l| l.split(',').find_map(|p| p.strip_prefix("expires=")));
    assert_eq!(expires, Some("2"), "{info}");
    for section in ["# Server", "# Clients", "# Memory", "# Stats", "# Cluster"] {
        assert!(info.contains(section), "INFO lacks {section}: {info}");
    }

    let server = text(&c.cmd(&["INFO", "server"]));
    assert_eq!(field(&server, "redis_version"), Some("7.0.15"), "{server}");
    assert!(server.starts_with("# Server"), "{server}");
    assert!(!server.contains("# Keyspace"), "{server}");
    let keyspace = text(&c.cmd(&["INFO", "keyspace"]));
    assert_eq!(db0_keys(&keyspace), 999, "{keyspace}");
    let slotway = text(&c.cmd(&["INFO", "slotway"]));
    assert!(slotway.contains("# Slotway"), "{slotway}");

    // RESP3: a verbatim string with the same content.
    assert!(matches!(c.cmd(&["HELLO", "3"]), Value::Map(_)));
    let v = c.cmd(&["INFO"]);
    assert!(matches!(v, Value::Verbatim(_)), "INFO over RESP3: {v:?}");
    let info3 = text(&v);
    assert_eq!(db0_keys(&info3), 999);
    assert_eq!(field(&info3, "cluster_enabled"), Some("0"));
}

// -------------------------------------------------------- cluster view ---

#[test]
fn cluster_view_is_one_node_owning_every_slot() {
    let (cluster, proxy) = cluster_and_proxy();
    let port = i64::from(proxy.port());
    let mut c = proxy.client();

    let id = text(&c.cmd(&["CLUSTER", "MYID"]));
    assert_eq!(id.len(), 40, "{id}");
    assert!(id.bytes().all(|x| x.is_ascii_hexdigit()), "{id}");
    assert_eq!(
        text(&proxy.client().cmd(&["CLUSTER", "MYID"])),
        id,
        "stable id"
    );

    let slots = c.cmd(&["CLUSTER", "SLOTS"]);
    let ranges = arr(slots.clone());
    assert_eq!(ranges.len(), 1, "{slots:?}");
    let range = arr(ranges[0].clone());
    assert_eq!(range[0], Value::Integer(0));
    assert_eq!(range[1], Value::Integer(16383));
    assert_eq!(range.len(), 3, "no replicas: {slots:?}");
    let node = arr(range[2].clone());
    assert_eq!(node[0], b("127.0.0.1"));
    assert_eq!(node[1], Value::Integer(port));
    assert_eq!(node[2], b(&id));

    let nodes = text(&c.cmd(&["CLUSTER", "NODES"]));
    let lines: Vec<&str> = nodes.lines().collect();
    assert_eq!(lines.len(), 1, "{nodes}");
    let f: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(f[0], id);
    assert_eq!(f[1], format!("127.0.0.1:{port}@{}", port + 10_000));
    assert_eq!(f[2], "myself,master");
    assert_eq!(f[3], "-");
    assert_eq!(f[7], "connected");
    assert_eq!(f[8..], ["0-16383"]);

    let shards = arr(c.cmd(&["CLUSTER", "SHARDS"]));
    assert_eq!(shards.len(), 1);
    let shard = arr(shards[0].clone());
    assert_eq!(shard[0], b("slots"));
    assert_eq!(
        shard[1],
        Value::Array(vec![Value::Integer(0), Value::Integer(16383)])
    );
    assert_eq!(shard[2], b("nodes"));
    let shard_nodes = arr(shard[3].clone());
    assert_eq!(shard_nodes.len(), 1);
    let n = arr(shard_nodes[0].clone());
    let get = |k: &str| {
        n.chunks(2)
            .find(|p| text(&p[0]) == k)
            .map(|p| p[1].clone())
            .unwrap_or_else(|| panic!("no {k} in {n:?}"))
    };
    assert_eq!(get("id"), b(&id));
    assert_eq!(get("port"), Value::Integer(port));
    assert_eq!(get("ip"), b("127.0.0.1"));
    assert_eq!(get("role"), b("master"));
    assert_eq!(get("health"), b("online"));

    let info = text(&c.cmd(&["CLUSTER", "INFO"]));
    for line in [
        "cluster_state:ok",
        "cluster_slots_assigned:16384",
        "cluster_slots_ok:16384",
        "cluster_known_nodes:1",
        "cluster_size:1",
    ] {
        assert!(info.lines().any(|l| l.trim_end() == line), "{line}: {info}");
    }

    assert_eq!(c.cmd(&["CLUSTER", "KEYSLOT", "foo"]), Value::Integer(12182));
    assert_eq!(
        c.cmd(&["CLUSTER", "KEYSLOT", "somekey"]),
        Value::Integer(11058)
    );
    assert_eq!(
        c.cmd(&["CLUSTER", "KEYSLOT", "foo{hash_tag}"]),
        Value::Integer(2515)
    );

    // COUNTKEYSINSLOT / GETKEYSINSLOT reach the slot's owner, on each master.
    for (m, (lo, hi, _)) in self::master_ranges(&cluster).iter().enumerate() {
        let tag = key_in_range(&format!("tag{m}"), *lo, *hi);
        let slot = key_slot(tag.as_bytes());
        let keys: Vec<String> = (0..5).map(|i| format!("{{{tag}}}:{i}")).collect();
        mset_all(&mut c, &keys, |k| k.to_string());
        assert_eq!(
            c.cmd(&["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()]),
            Value::Integer(5),
            "slot {slot} on master {m}"
        );
        let got: BTreeSet<String> =
            arr(c.cmd(&["CLUSTER", "GETKEYSINSLOT", &slot.to_string(), "10"]))
                .iter()
                .map(text)
                .collect();
        assert_eq!(got, keys.iter().cloned().collect::<BTreeSet<_>>());
    }
    let empty_slot = (0..16384u16)
        .find(|s| {
            matches!(
                c.cmd(&["CLUSTER", "COUNTKEYSINSLOT", &s.to_string()]),
                Value::Integer(0)
            )
        })
        .unwrap();
    assert_eq!(
        c.cmd(&["CLUSTER", "GETKEYSINSLOT", &empty_slot.to_string(), "10"]),
        Value::Array(vec![])
    );
    assert_eq!(
        text(&c.cmd(&["CLUSTER", "COUNTKEYSINSLOT", "99999"])),
        "ERR Invalid slot"
    );

    // RESP3: the same view, maps where Redis uses maps.
    assert!(matches!(c.cmd(&["HELLO", "3"]), Value::Map(_)));
    let shards = arr(c.cmd(&["CLUSTER", "SHARDS"]));
    assert!(matches!(shards[0], Value::Map(_)), "{shards:?}");
    let nodes3 = c.cmd(&["CLUSTER", "NODES"]);
    assert!(
        text(&nodes3).contains(&format!("127.0.0.1:{port}@")),
        "{nodes3:?}"
    );
}

// ----------------------------------------------------- redis-py cluster ---

#[test]
fn redis_py_cluster_client_through_the_proxy() {
    let (_cluster, proxy) = cluster_and_proxy();
    common::run_redis_py_script(
        "redis_py_cluster.py",
        &[proxy.port().to_string()],
        Duration::from_secs(60),
        "redis-py RedisCluster",
    );
    // The proxy still serves plain clients afterwards.
    let mut c = proxy.client();
    assert_eq!(text(&c.cmd(&["GET", "pyc:7"])), "v7");
}
