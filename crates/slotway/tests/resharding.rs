//! Slot migrations under the proxy: a live `redis-cli --cluster reshard`
//! while clients keep reading and writing (MOVED and ASK must stay
//! invisible), a half-done manual migration (ASK, ASKING, TRYAGAIN), and a
//! proxy whose first seeds are down.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{Proxy, Raw, bulk, is_ok, text};
use slotway_fixture::{Cluster, SlotMap, free_port, require_binaries, run_bounded};
use slotway_hashkit::key_slot;
use slotway_resp::Value;

/// Longest a client loop may run, whatever happens to the test.
const LOOP_LIMIT: Duration = Duration::from_secs(60);

fn cluster() -> Cluster {
    require_binaries(&["redis-server", "redis-cli"]);
    Cluster::start(3, 0).expect("cluster")
}

fn node_id(cluster: &Cluster, i: usize) -> String {
    let id = cluster.nodes()[i].cmd(&["CLUSTER", "MYID"]).unwrap();
    assert_eq!(id.len(), 40, "CLUSTER MYID of node {i}: {id:?}");
    id
}

/// Runs a command on node `i` and expects `OK`.
fn node_ok(cluster: &Cluster, i: usize, args: &[&str]) {
    let out = cluster.nodes()[i].cmd(args).unwrap();
    assert_eq!(out, "OK", "{args:?} on {}", cluster.nodes()[i].addr());
}

/// Slots `addr` serves according to `map`.
fn slots_of(map: &SlotMap, addr: &str) -> BTreeSet<u16> {
    map.iter()
        .filter(|r| r.master == addr)
        .flat_map(|r| r.start..=r.end)
        .collect()
}

fn owner(map: &SlotMap, slot: u16) -> String {
    map.iter()
        .find(|r| (r.start..=r.end).contains(&slot))
        .map(|r| r.master.clone())
        .unwrap_or_else(|| panic!("slot {slot} unserved in {map:?}"))
}

/// A redirect leaking to the client.
fn is_redirect(v: &Value) -> bool {
    match v {
        Value::Error(e) => e.starts_with(b"MOVED ") || e.starts_with(b"ASK "),
        Value::Array(items) | Value::Set(items) | Value::Push(items) => {
            items.iter().any(is_redirect)
        }
        _ => false,
    }
}

/// Every reply a client got, with the command that got it.
#[derive(Default)]
struct Log(Vec<(String, Value)>);

impl Log {
    fn cmd(&mut self, c: &mut Raw, args: &[&str]) -> Value {
        let v = c.cmd(args);
        self.0.push((args.join(" "), v.clone()));
        v
    }

    fn read(&mut self, c: &mut Raw, what: String) -> Value {
        let v = c.read();
        self.0.push((what, v.clone()));
        v
    }
}

/// What one client loop saw.
#[derive(Default)]
struct LoopReport {
    ops: u64,
    errors: Vec<String>,
    /// Last value written to each of its keys.
    last: HashMap<usize, String>,
}

impl LoopReport {
    fn fail(&mut self, what: String) {
        if self.errors.len() < 20 {
            self.errors.push(what);
        } else if self.errors.len() == 20 {
            self.errors.push("(more errors left out)".into());
        }
    }
}

/// One client doing GET (checks the last value it wrote) then SET (a new
/// version) on its own keys, one command at a time, until `stop` or
/// `LOOP_LIMIT`.
fn sequential_loop(
    addr: std::net::SocketAddr,
    keys: Vec<usize>,
    initial: Vec<String>,
    stop: &AtomicBool,
    ops: &AtomicU64,
) -> LoopReport {
    let mut c = Raw::connect(addr);
    let mut r = LoopReport {
        last: keys.iter().copied().zip(initial).collect(),
        ..LoopReport::default()
    };
    let started = Instant::now();
    let mut round = 0u64;
    while !stop.load(Ordering::Acquire) && started.elapsed() < LOOP_LIMIT {
        round += 1;
        for &i in &keys {
            let key = format!("key:{i}");
            let got = c.cmd(&["GET", &key]);
            let want = &r.last[&i];
            if !matches!(&got, Value::Bulk(b) if b == want.as_bytes()) {
                r.fail(format!("GET {key}: got {got:?}, want {want:?}"));
            }
            let value = format!("seq:{i}:{round}");
            let got = c.cmd(&["SET", &key, &value]);
            if is_ok(&got) {
                r.last.insert(i, value);
            } else {
                r.fail(format!("SET {key}: got {got:?}"));
            }
            r.ops += 2;
            ops.fetch_add(2, Ordering::Relaxed);
            if stop.load(Ordering::Acquire) {
                break;
            }
        }
    }
    r
}

/// One client sending pipelined batches (a SET and a GET per key) and
/// checking every reply at its place, until `stop` or `LOOP_LIMIT`.
fn pipelined_loop(
    addr: std::net::SocketAddr,
    keys: Vec<usize>,
    initial: Vec<String>,
    stop: &AtomicBool,
    ops: &AtomicU64,
) -> LoopReport {
    let mut c = Raw::connect(addr);
    let mut r = LoopReport {
        last: keys.iter().copied().zip(initial).collect(),
        ..LoopReport::default()
    };
    let started = Instant::now();
    let mut round = 0u64;
    while !stop.load(Ordering::Acquire) && started.elapsed() < LOOP_LIMIT {
        round += 1;
        for batch in keys.chunks(10) {
            let mut wire = bytes::BytesMut::new();
            for &i in batch {
                let key = format!("key:{i}");
                slotway_resp::encode::command(&mut wire, &["GET", key.as_str()]);
                let value = format!("pipe:{i}:{round}");
                slotway_resp::encode::command(&mut wire, &["SET", key.as_str(), value.as_str()]);
                slotway_resp::encode::command(&mut wire, &["GET", key.as_str()]);
            }
            c.send(&wire);
            for &i in batch {
                let key = format!("key:{i}");
                let before = c.read();
                let want = &r.last[&i];
                if !matches!(&before, Value::Bulk(b) if b == want.as_bytes()) {
                    r.fail(format!(
                        "pipelined GET {key}: got {before:?}, want {want:?}"
                    ));
                }
                let set = c.read();
                let value = format!("pipe:{i}:{round}");
                if !is_ok(&set) {
                    r.fail(format!("pipelined SET {key}: got {set:?}"));
                }
                let after = c.read();
                if !matches!(&after, Value::Bulk(b) if b == value.as_bytes()) {
                    r.fail(format!(
                        "pipelined GET {key} after SET: got {after:?}, want {value:?}"
                    ));
                }
                r.last.insert(i, value);
                r.ops += 3;
                ops.fetch_add(3, Ordering::Relaxed);
            }
            if stop.load(Ordering::Acquire) {
                break;
            }
        }
    }
    r
}

/// ASK and MOVED replies the masters have sent so far (`INFO errorstats`).
fn redirect_count(cluster: &Cluster) -> (u64, u64) {
    let mut total = (0, 0);
    for node in cluster.nodes() {
        let info = node.cmd(&["INFO", "errorstats"]).unwrap();
        for line in info.lines() {
            let count = |prefix: &str| {
                line.trim_end()
                    .strip_prefix(prefix)
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            total.0 += count("errorstat_ASK:count=");
            total.1 += count("errorstat_MOVED:count=");
        }
    }
    total
}

/// Waits (bounded) until `ops` grows by `n` from now.
fn wait_for_ops(ops: &AtomicU64, n: u64, what: &str) {
    let start = ops.load(Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(10);
    while ops.load(Ordering::Relaxed) < start + n {
        assert!(
            Instant::now() < deadline,
            "client loops made no progress ({what})"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn moved_after_reshard_is_invisible() {
    let cluster = cluster();
    // No periodic refresh during the test: the proxy learns the new owners
    // from the nodes' redirects only.
    let proxy = Proxy::start_with(&cluster.seeds(), |c| {
        c.cluster.refresh_interval_ms = 600_000;
    });
    proxy.wait_ready();
    let before = cluster.slots().unwrap();
    let (a, b) = (0usize, 1usize);
    let (a_addr, b_addr) = (cluster.nodes()[a].addr(), cluster.nodes()[b].addr());
    let (a_id, b_id) = (node_id(&cluster, a), node_id(&cluster, b));
    let a_before = slots_of(&before, &a_addr);
    let b_before = slots_of(&before, &b_addr);

    // 2000 keys, written through the proxy in one pipeline.
    let n = 2000usize;
    let mut c = proxy.client();
    let mut wire = bytes::BytesMut::new();
    for i in 0..n {
        let (k, v) = (format!("key:{i}"), format!("init:{i}"));
        slotway_resp::encode::command(&mut wire, &["SET", k.as_str(), v.as_str()]);
    }
    c.send(&wire);
    for i in 0..n {
        let r = c.read();
        assert!(is_ok(&r), "SET key:{i}: {r:?}");
    }

    // Two clients on disjoint keys: one sequential, one pipelined.
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let spawn = |keys: Vec<usize>, pipelined: bool| {
        let (stop, ops, addr) = (stop.clone(), ops.clone(), proxy.addr);
        let initial = keys.iter().map(|i| format!("init:{i}")).collect();
        thread::spawn(move || {
            if pipelined {
                pipelined_loop(addr, keys, initial, &stop, &ops)
            } else {
                sequential_loop(addr, keys, initial, &stop, &ops)
            }
        })
    };
    // The clients work on A's keys (the ones that may move), split three
    // ways: two one-command-at-a-time clients and one pipelining client.
    let on_a: Vec<usize> = (0..n)
        .filter(|i| a_before.contains(&key_slot(format!("key:{i}").as_bytes())))
        .collect();
    let share = |r: usize| on_a.iter().copied().skip(r).step_by(3).collect::<Vec<_>>();
    let loops = [
        spawn(share(0), false),
        spawn(share(1), false),
        spawn(share(2), true),
    ];
    wait_for_ops(&ops, 500, "before the reshard");
    let redirects_before = redirect_count(&cluster);

    let port = cluster.nodes()[a].port().to_string();
    let t = Instant::now();
    let ops_before = ops.load(Ordering::Relaxed);
    let out = run_bounded(
        Command::new("redis-cli").args([
            "--cluster",
            "reshard",
            &format!("127.0.0.1:{port}"),
            "--cluster-from",
            &a_id,
            "--cluster-to",
            &b_id,
            "--cluster-slots",
            "300",
            "--cluster-yes",
        ]),
        Duration::from_secs(45),
    )
    .unwrap();
    let reshard_time = t.elapsed();
    let ops_during = ops.load(Ordering::Relaxed) - ops_before;
    // Let the clients run on past the end of the migration, until the proxy
    // has met a MOVED (its slot table is stale until then).
    wait_for_ops(&ops, 500, "after the reshard");
    let deadline = Instant::now() + Duration::from_secs(10);
    while redirect_count(&cluster).1 == redirects_before.1 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Release);
    let reports: Vec<LoopReport> = loops
        .into_iter()
        .map(|h| h.join().expect("a client loop panicked"))
        .collect();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !stdout.contains("[ERR]"),
        "reshard failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let (asks, moveds) = redirect_count(&cluster);
    let (asks, moveds) = (asks - redirects_before.0, moveds - redirects_before.1);
    eprintln!(
        "reshard took {reshard_time:?}; client ops: {:?} in all, {ops_during} during the reshard; \
         the nodes answered {asks} ASK and {moveds} MOVED",
        reports.iter().map(|r| r.ops).collect::<Vec<_>>()
    );
    let errors: Vec<&String> = reports.iter().flat_map(|r| &r.errors).collect();
    assert!(
        errors.is_empty(),
        "clients saw {} errors:\n{}",
        errors.len(),
        errors
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(ops_during > 0, "no client request during the reshard");
    assert!(
        moveds > 0,
        "the clients ran on for 10 s after the reshard and no node answered MOVED"
    );

    // The cluster agrees that A's 300 slots are B's now.
    cluster.wait_ok(Duration::from_secs(10)).unwrap();
    let after = cluster.slots().unwrap();
    let a_after = slots_of(&after, &a_addr);
    let b_after = slots_of(&after, &b_addr);
    let moved: BTreeSet<u16> = a_before.difference(&a_after).copied().collect();
    assert_eq!(moved.len(), 300, "slots moved off A");
    assert!(a_after.is_subset(&a_before), "A gained slots");
    assert!(moved.is_subset(&b_after), "moved slots not on B: {after:?}");
    assert_eq!(b_after.len(), b_before.len() + 300);
    let moved_keys = (0..n)
        .filter(|i| moved.contains(&key_slot(format!("key:{i}").as_bytes())))
        .count();
    assert!(moved_keys > 0, "no key lived in the moved slots");

    // Every key readable with its last value, by an old and a new client.
    let mut last: HashMap<usize, String> = (0..n).map(|i| (i, format!("init:{i}"))).collect();
    for r in reports {
        last.extend(r.last);
    }
    let mut fresh = proxy.client();
    for i in 0..n {
        let key = format!("key:{i}");
        let want = last[&i].as_bytes();
        assert_eq!(bulk(&c.cmd(&["GET", &key])), want, "{key} (old client)");
        assert_eq!(bulk(&fresh.cmd(&["GET", &key])), want, "{key} (new client)");
    }
    // And really stored on B for the moved slots.
    let mut on_b = Raw::connect(b_addr.as_str());
    for i in (0..n).filter(|i| moved.contains(&key_slot(format!("key:{i}").as_bytes()))) {
        let key = format!("key:{i}");
        assert_eq!(
            bulk(&on_b.cmd(&["GET", &key])),
            last[&i].as_bytes(),
            "{key} on B"
        );
    }
}

#[test]
fn ask_during_migration_is_invisible() {
    let cluster = cluster();
    // No periodic refresh: the proxy must follow the nodes' redirects.
    let proxy = Proxy::start_with(&cluster.seeds(), |c| {
        // A split MGET during the migration is parked (TRYAGAIN) until this runs out.
        c.cluster.park_timeout_ms = 500;
        c.cluster.refresh_interval_ms = 600_000;
    });
    proxy.wait_ready();
    let redirects_start = redirect_count(&cluster);
    // Keys {s}0..{s}19 share one slot S.
    let slot = key_slot(b"s");
    let key = |i: usize| format!("{{s}}{i}");
    let map = cluster.slots().unwrap();
    let a = cluster.index_of(&owner(&map, slot)).unwrap();
    let b = (a + 1) % 3;
    let (a_id, b_id) = (node_id(&cluster, a), node_id(&cluster, b));
    let b_port = cluster.nodes()[b].port().to_string();

    let mut log = Log::default();
    let mut c = proxy.client();
    for i in 0..20 {
        assert!(is_ok(
            &log.cmd(&mut c, &["SET", &key(i), &format!("val{i}")])
        ));
    }

    // Half-done migration of S from A to B: keys 0..10 moved, 10..20 not.
    let s = slot.to_string();
    node_ok(&cluster, b, &["CLUSTER", "SETSLOT", &s, "IMPORTING", &a_id]);
    node_ok(&cluster, a, &["CLUSTER", "SETSLOT", &s, "MIGRATING", &b_id]);
    let moved: Vec<String> = (0..10).map(key).collect();
    let mut migrate = vec![
        "MIGRATE",
        "127.0.0.1",
        b_port.as_str(),
        "",
        "0",
        "5000",
        "KEYS",
    ];
    migrate.extend(moved.iter().map(String::as_str));
    node_ok(&cluster, a, &migrate);
    // The nodes themselves now redirect: A answers ASK for a moved key.
    let direct = cluster.nodes()[a].cmd(&["GET", &key(0)]).unwrap();
    assert!(direct.starts_with("ASK "), "A on a migrated key: {direct}");

    // Through the proxy nothing shows.
    for i in 0..20 {
        assert_eq!(
            text(&log.cmd(&mut c, &["GET", &key(i)])),
            format!("val{i}"),
            "GET {}",
            key(i)
        );
    }
    // A new key goes to the importing node.
    assert!(is_ok(&log.cmd(&mut c, &["SET", &key(100), "fresh"])));
    assert_eq!(text(&log.cmd(&mut c, &["GET", &key(100)])), "fresh");
    let mut on_b = Raw::connect(cluster.nodes()[b].addr().as_str());
    assert!(is_ok(&on_b.cmd(&["ASKING"])));
    assert_eq!(
        text(&on_b.cmd(&["GET", &key(100)])),
        "fresh",
        "new key on B"
    );
    // Writes to moved and unmoved keys.
    assert!(is_ok(&log.cmd(&mut c, &["SET", &key(0), "val0b"])));
    assert!(is_ok(&log.cmd(&mut c, &["SET", &key(19), "val19b"])));
    assert_eq!(text(&log.cmd(&mut c, &["GET", &key(0)])), "val0b");
    assert_eq!(text(&log.cmd(&mut c, &["GET", &key(19)])), "val19b");
    // Multi-key commands: all keys on one side work, split ones get TRYAGAIN.
    let v = log.cmd(&mut c, &["MGET", &key(1), &key(2)]);
    assert_eq!(
        v,
        Value::Array(vec![Value::Bulk("val1".into()), Value::Bulk("val2".into())])
    );
    let v = log.cmd(&mut c, &["MGET", &key(11), &key(12)]);
    assert_eq!(
        v,
        Value::Array(vec![
            Value::Bulk("val11".into()),
            Value::Bulk("val12".into())
        ])
    );
    let t = Instant::now();
    let v = log.cmd(&mut c, &["MGET", &key(1), &key(15)]);
    assert!(
        matches!(&v, Value::Error(e) if e.starts_with(b"TRYAGAIN")),
        "split MGET during migration: {v:?}"
    );
    eprintln!("split MGET answered TRYAGAIN after {:?}", t.elapsed());
    // The connection is still in order after it: a pipeline across the slot.
    let mut wire = bytes::BytesMut::new();
    for i in 0..20 {
        slotway_resp::encode::command(&mut wire, &["GET", key(i).as_str()]);
        slotway_resp::encode::command(&mut wire, &["EXISTS", key(i).as_str()]);
    }
    c.send(&wire);
    for i in 0..20 {
        let want = match i {
            0 => "val0b".to_owned(),
            19 => "val19b".to_owned(),
            _ => format!("val{i}"),
        };
        let v = log.read(&mut c, format!("pipelined GET {}", key(i)));
        assert_eq!(text(&v), want, "pipelined GET {}", key(i));
        let v = log.read(&mut c, format!("pipelined EXISTS {}", key(i)));
        assert_eq!(v, Value::Integer(1), "pipelined EXISTS {}", key(i));
    }

    let redirects_half = redirect_count(&cluster);
    assert!(
        redirects_half.0 > redirects_start.0,
        "the nodes never answered ASK: the migration was not exercised"
    );

    // Finish: move the rest, then give S to B on every master.
    let rest = cluster.nodes()[a]
        .cmd(&["CLUSTER", "GETKEYSINSLOT", &s, "1000"])
        .unwrap();
    let rest: Vec<&str> = rest.lines().collect();
    assert_eq!(rest.len(), 10, "keys left on A: {rest:?}");
    let mut migrate = vec![
        "MIGRATE",
        "127.0.0.1",
        b_port.as_str(),
        "",
        "0",
        "5000",
        "KEYS",
    ];
    migrate.extend(rest.iter().copied());
    node_ok(&cluster, a, &migrate);
    for i in [b, a, (a + 2) % 3] {
        node_ok(&cluster, i, &["CLUSTER", "SETSLOT", &s, "NODE", &b_id]);
    }
    let direct = cluster.nodes()[a].cmd(&["GET", &key(0)]).unwrap();
    assert!(
        direct.starts_with("MOVED "),
        "A after the migration: {direct}"
    );

    // The proxy follows the MOVED: same client, then a fresh one.
    let mut fresh = proxy.client();
    for round in 0..2 {
        for i in (0..20).chain([100]) {
            let want = match i {
                0 => "val0b".to_owned(),
                19 => "val19b".to_owned(),
                100 => "fresh".to_owned(),
                _ => format!("val{i}"),
            };
            let client = if round == 0 { &mut c } else { &mut fresh };
            assert_eq!(
                text(&log.cmd(client, &["GET", &key(i)])),
                want,
                "GET {} after the migration",
                key(i)
            );
        }
    }
    let v = log.cmd(&mut c, &["MGET", &key(1), &key(15)]);
    assert_eq!(
        v,
        Value::Array(vec![
            Value::Bulk("val1".into()),
            Value::Bulk("val15".into())
        ])
    );
    assert!(is_ok(&log.cmd(&mut fresh, &["SET", &key(200), "after"])));
    assert_eq!(
        text(&on_b.cmd(&["GET", &key(200)])),
        "after",
        "written on B"
    );

    assert!(
        redirect_count(&cluster).1 > redirects_half.1,
        "the nodes never answered MOVED after the migration"
    );
    let leaked: Vec<_> = log.0.iter().filter(|(_, v)| is_redirect(v)).collect();
    assert!(
        leaked.is_empty(),
        "redirects reached the client: {leaked:?}"
    );
    cluster.wait_ok(Duration::from_secs(10)).unwrap();
    assert_eq!(
        owner(&cluster.slots().unwrap(), slot),
        cluster.nodes()[b].addr()
    );
}

#[test]
fn start_with_first_seeds_down() {
    let cluster = cluster();
    // Two loopback ports nobody listens on (handed out by the fixture, so no
    // test server of this process will take them).
    let dead: Vec<String> = (0..2)
        .map(|_| format!("127.0.0.1:{}", free_port()))
        .collect();
    for d in &dead {
        assert!(
            std::net::TcpStream::connect(d.as_str()).is_err(),
            "{d} is not dead"
        );
    }
    let mut seeds = dead.clone();
    seeds.extend(cluster.seeds());
    let t = Instant::now();
    let proxy = Proxy::start(&seeds);
    wait_ready_within(&proxy, Duration::from_secs(10));
    eprintln!(
        "ready {:?} after start with dead seeds {dead:?}",
        t.elapsed()
    );
    check_data(&proxy);
}

#[test]
fn start_with_first_seed_silent() {
    let cluster = cluster();
    // A seed that accepts connections but never answers: the proxy must give
    // up on it (query timeout) and go on to the next seed.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut seeds = vec![silent.local_addr().unwrap().to_string()];
    seeds.extend(cluster.seeds());
    let t = Instant::now();
    let proxy = Proxy::start(&seeds);
    wait_ready_within(&proxy, Duration::from_secs(10));
    eprintln!(
        "ready {:?} after start with a silent first seed",
        t.elapsed()
    );
    check_data(&proxy);
    drop(silent);
}

/// Polls until the proxy serves a key on every master, failing after `limit`.
fn wait_ready_within(proxy: &Proxy, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut c = proxy.client();
    loop {
        let replies: Vec<Value> = (0..16)
            .map(|i| c.cmd(&["GET", &format!("ready:{i}")]))
            .collect();
        if replies
            .iter()
            .all(|v| matches!(v, Value::Null | Value::Bulk(_)))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "proxy not serving after {limit:?}: {replies:?}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

fn check_data(proxy: &Proxy) {
    let mut c = proxy.client();
    let slots: BTreeSet<u16> = (0..300)
        .map(|i| key_slot(format!("d:{i}").as_bytes()))
        .collect();
    assert!(slots.len() > 250);
    for i in 0..300 {
        assert!(is_ok(&c.cmd(&["SET", &format!("d:{i}"), &format!("v{i}")])));
    }
    let mut fresh = proxy.client();
    for i in 0..300 {
        assert_eq!(
            bulk(&fresh.cmd(&["GET", &format!("d:{i}")])),
            format!("v{i}").as_bytes()
        );
    }
    assert_eq!(fresh.cmd(&["INCR", "d:counter"]), Value::Integer(1));
}
