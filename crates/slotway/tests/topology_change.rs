//! Topology changes done with `redis-cli --cluster` under load: a large
//! reshard followed by a rebalance, and a node added, given slots, emptied
//! and deleted again. Clients of the proxy must see none of it: no error
//! reply at all, and no acknowledged write lost.
//!
//! Every scenario runs its own cluster of 3 masters (no replicas). They are
//! serialised by one lock (two clusters under load on a small machine skew
//! each other). Each prints one summary line
//! (`cargo test --test topology_change -- --nocapture` shows them).
//!
//! Load: `CLIENTS` threads, each on its own connection, one request at a
//! time, SET/GET/INCR on its own keys spread over all slots. Each remembers
//! what the proxy acknowledged; afterwards every acknowledged key (and every
//! preloaded key) is read back through the proxy.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::Proxy;
use common::load::{Conn, ValueKey, init_log, ms_from, reply_text, serial};
use slotway_fixture::{Cluster, RedisServer, SlotMap, require_binaries, run_bounded};
use slotway_hashkit::key_slot;
use slotway_resp::Value;

const NODE_TIMEOUT_MS: u64 = 1000;
const CLIENTS: usize = 20;
/// Value keys and counter keys per client.
const KEYS_PER_CLIENT: usize = 10;
/// Bound of any `redis-cli --cluster` run.
const CLI_LIMIT: Duration = Duration::from_secs(45);
/// Hard bound of any load thread.
const THREAD_LIMIT: Duration = Duration::from_secs(120);
const UNKNOWN: &str = "write outcome unknown";

fn cluster() -> Cluster {
    init_log();
    require_binaries(&["redis-server", "redis-cli"]);
    Cluster::builder()
        .masters(3)
        .node_timeout_ms(NODE_TIMEOUT_MS)
        .start()
        .expect("start a 3-master cluster")
}

fn my_id(node: &RedisServer) -> String {
    let id = node.cmd(&["CLUSTER", "MYID"]).unwrap();
    assert_eq!(id.len(), 40, "CLUSTER MYID of {}: {id:?}", node.addr());
    id
}

fn slots_of(map: &SlotMap, addr: &str) -> BTreeSet<u16> {
    map.iter()
        .filter(|r| r.master == addr)
        .flat_map(|r| r.start..=r.end)
        .collect()
}

/// The timeline of topology steps of one scenario, for error reports.
struct Steps {
    base: Instant,
    marks: Vec<(String, Instant)>,
}

impl Steps {
    fn new() -> Steps {
        Steps {
            base: Instant::now(),
            marks: Vec::new(),
        }
    }

    fn mark(&mut self, what: impl Into<String>) {
        self.marks.push((what.into(), Instant::now()));
    }

    fn text(&self) -> String {
        self.marks
            .iter()
            .map(|(w, t)| format!("{w}@{}ms", ms_from(self.base, *t)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The last step begun at or before `t`.
    fn during(&self, t: Instant) -> &str {
        self.marks
            .iter()
            .rev()
            .find(|(_, at)| *at <= t)
            .map_or("before the first step", |(w, _)| w.as_str())
    }
}

/// Runs `redis-cli --cluster ARGS...` bounded by `CLI_LIMIT`; panics with
/// its output if it fails or reports `[ERR]`.
fn cluster_cli(args: &[&str]) -> String {
    let out = run_bounded(
        Command::new("redis-cli").arg("--cluster").args(args),
        CLI_LIMIT,
    )
    .unwrap_or_else(|e| panic!("redis-cli --cluster {args:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && !stdout.contains("[ERR]"),
        "redis-cli --cluster {args:?} failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Waits until every node in `nodes` is `cluster_state:ok`, knows
/// `known` nodes (none in handshake) and returns the same `CLUSTER SLOTS`.
fn wait_agreed(nodes: &[&RedisServer], known: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    for _ in 0..10_000 {
        match agreement(nodes, known) {
            Ok(()) => return,
            Err(why) => last = why,
        }
        if Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    panic!("nodes never agreed within {timeout:?}: {last}");
}

fn agreement(nodes: &[&RedisServer], known: usize) -> Result<(), String> {
    let mut first: Option<(String, String)> = None;
    for n in nodes {
        let info = n.cmd(&["CLUSTER", "INFO"]).map_err(|e| e.to_string())?;
        if !info.contains("cluster_state:ok") {
            return Err(format!("{} not ok", n.addr()));
        }
        if !info.contains(&format!("cluster_known_nodes:{known}\r"))
            && !info.contains(&format!("cluster_known_nodes:{known}\n"))
        {
            return Err(format!("{} does not know {known} nodes", n.addr()));
        }
        let nodes_text = n.cmd(&["CLUSTER", "NODES"]).map_err(|e| e.to_string())?;
        if nodes_text.contains("handshake") || nodes_text.contains("noaddr") {
            return Err(format!("{} still in handshake: {nodes_text}", n.addr()));
        }
        // Slot ownership per node id, sorted: the same on every node.
        let mut owned: Vec<String> = nodes_text
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let slots: Vec<&str> = f
                    .iter()
                    .skip(8)
                    .copied()
                    .filter(|s| !s.starts_with('['))
                    .collect();
                format!("{} {}", f.first().unwrap_or(&""), slots.join(" "))
            })
            .collect();
        owned.sort();
        let owned = owned.join("\n");
        if nodes_text.contains("[") {
            return Err(format!("{} has a slot still migrating/importing", n.addr()));
        }
        match &first {
            None => first = Some((n.addr(), owned)),
            Some((who, o)) if *o != owned => {
                return Err(format!(
                    "slot owners differ: {who}:\n{o}\n{}:\n{owned}",
                    n.addr()
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// How many slots node `id` owns according to `view`'s `CLUSTER NODES`.
fn owned_slots(view: &RedisServer, id: &str) -> usize {
    let text = view.cmd(&["CLUSTER", "NODES"]).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(id))
        .unwrap_or_else(|| panic!("{id} unknown to {}: {text}", view.addr()));
    line.split_whitespace()
        .skip(8)
        .filter(|s| !s.starts_with('['))
        .map(|r| match r.split_once('-') {
            Some((lo, hi)) => hi.parse::<usize>().unwrap() - lo.parse::<usize>().unwrap() + 1,
            None => 1,
        })
        .sum()
}

// ---------------------------------------------------------------------------
// A client that never panics: I/O problems are results.

// ---------------------------------------------------------------------------
// Load generator.

#[derive(Clone, Debug)]
struct ErrEvent {
    at: Instant,
    client: usize,
    /// First word of the error (`ERR`, `MOVED`, ...), `IO` for a broken
    /// client connection, `UNEXPECTED` for a reply of the wrong type.
    kind: String,
    op: String,
    msg: String,
    latency: Duration,
}

#[derive(Debug, Default)]
struct ClientStats {
    requests: u64,
    errors: Vec<ErrEvent>,
    values: BTreeMap<String, ValueKey>,
    counters: BTreeMap<String, i64>,
    stale_reads: u64,
    counter_regressions: u64,
    max_latency: Duration,
}

struct Load {
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<ClientStats>>,
}

impl Load {
    fn start(addr: SocketAddr, name: &'static str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + THREAD_LIMIT;
        let handles = (0..CLIENTS)
            .map(|c| {
                let stop = stop.clone();
                thread::spawn(move || run_client(addr, name, c, &stop, deadline))
            })
            .collect();
        Load { stop, handles }
    }

    fn stop(self) -> Vec<ClientStats> {
        self.stop.store(true, Ordering::Relaxed);
        self.handles
            .into_iter()
            .map(|h| h.join().expect("load thread panicked"))
            .collect()
    }
}

/// Client `c`'s keys of `kind`; spread over all slots (hashed names).
fn client_keys(name: &str, c: usize, kind: &str) -> Vec<String> {
    (0..KEYS_PER_CLIENT)
        .map(|i| format!("{name}:{c}:{kind}{i}"))
        .collect()
}

fn run_client(
    addr: SocketAddr,
    name: &str,
    c: usize,
    stop: &AtomicBool,
    deadline: Instant,
) -> ClientStats {
    let vkeys = client_keys(name, c, "v");
    let ckeys = client_keys(name, c, "n");
    let mut conn = Conn::new(addr);
    let mut st = ClientStats::default();
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        let j = usize::try_from(n / 3).unwrap_or(0) % KEYS_PER_CLIENT;
        let op = n % 3;
        n += 1;
        let (cmd, key, val) = match op {
            0 => ("SET", vkeys[j].clone(), Some(format!("{c}-{n}"))),
            1 => ("GET", vkeys[j].clone(), None),
            _ => ("INCR", ckeys[j].clone(), None),
        };
        let mut args = vec![cmd, key.as_str()];
        if let Some(v) = &val {
            args.push(v);
        }
        let sent = Instant::now();
        let reply = conn.request(&args);
        let done = Instant::now();
        let latency = done - sent;
        st.requests += 1;
        st.max_latency = st.max_latency.max(latency);
        let error = |kind: &str, msg: String| ErrEvent {
            at: done,
            client: c,
            kind: kind.to_owned(),
            op: format!("{cmd} {key}"),
            msg,
            latency,
        };
        match reply {
            Err(io) => {
                st.errors.push(error("IO", io));
                if cmd == "SET" {
                    st.values.entry(key.clone()).or_default().unknown = val;
                }
                thread::sleep(Duration::from_millis(10));
            }
            Ok(Value::Error(e)) => {
                let msg = String::from_utf8_lossy(&e).into_owned();
                let kind = msg.split_whitespace().next().unwrap_or("?").to_owned();
                if cmd == "SET" && msg.contains(UNKNOWN) {
                    st.values.entry(key.clone()).or_default().unknown = val;
                }
                st.errors.push(error(&kind, msg));
            }
            Ok(v) => match (cmd, v) {
                ("SET", Value::Simple(s)) if &s[..] == b"OK" => {
                    let e = st.values.entry(key.clone()).or_default();
                    e.acked = val;
                    e.unknown = None;
                }
                ("GET", Value::Bulk(b)) => {
                    let got = String::from_utf8_lossy(&b).into_owned();
                    if !st.values.get(&key).is_some_and(|e| e.allows(Some(&got))) {
                        st.stale_reads += 1;
                    }
                }
                ("GET", Value::Null) => {
                    if !st.values.get(&key).is_none_or(|e| e.allows(None)) {
                        st.stale_reads += 1;
                    }
                }
                ("INCR", Value::Integer(x)) => {
                    let prev = st.counters.insert(key.clone(), x);
                    if prev.is_some_and(|p| x <= p) {
                        st.counter_regressions += 1;
                    }
                }
                (_, other) => st.errors.push(error("UNEXPECTED", format!("{other:?}"))),
            },
        }
    }
    st
}

/// `n` keys `prefix:i` with value `v-i`, written through the proxy.
fn preload(addr: SocketAddr, prefix: &str, n: usize) -> Vec<(String, String)> {
    let mut conn = Conn::new(addr);
    let keys: Vec<(String, String)> = (0..n)
        .map(|i| (format!("{prefix}:{i}"), format!("v-{i}")))
        .collect();
    for (k, v) in &keys {
        let r = conn.request(&["SET", k.as_str(), v.as_str()]);
        assert!(
            matches!(&r, Ok(Value::Simple(s)) if &s[..] == b"OK"),
            "preload SET {k}: {}",
            reply_text(&r)
        );
    }
    keys
}

#[derive(Debug, Default)]
struct Verdict {
    checked: usize,
    lost: usize,
    unreadable: usize,
    examples: Vec<String>,
}

impl Verdict {
    fn note(&mut self, s: String) {
        if self.examples.len() < 5 {
            self.examples.push(s);
        }
    }
}

/// Reads back every acknowledged write and every preloaded key through
/// the proxy.
fn verify(addr: SocketAddr, stats: &[ClientStats], pre: &[(String, String)]) -> Verdict {
    let mut conn = Conn::new(addr);
    let mut v = Verdict::default();
    let deadline = Instant::now() + Duration::from_secs(30);
    for (key, want) in pre {
        v.checked += 1;
        if Instant::now() > deadline {
            v.unreadable += 1;
            continue;
        }
        match conn.request(&["GET", key.as_str()]) {
            Ok(Value::Bulk(b)) if b[..] == *want.as_bytes() => {}
            Ok(Value::Null) => {
                v.lost += 1;
                v.note(format!("{key}: preloaded, now missing"));
            }
            other => {
                v.lost += 1;
                v.note(format!(
                    "{key}: preloaded {want}, now {}",
                    reply_text(&other)
                ));
            }
        }
    }
    for st in stats {
        for (key, vk) in &st.values {
            let Some(acked) = &vk.acked else {
                continue;
            };
            v.checked += 1;
            if Instant::now() > deadline {
                v.unreadable += 1;
                continue;
            }
            match conn.request(&["GET", key.as_str()]) {
                Ok(Value::Bulk(b)) => {
                    let got = String::from_utf8_lossy(&b).into_owned();
                    if !vk.allows(Some(&got)) {
                        v.lost += 1;
                        v.note(format!("{key}: acked {acked}, now {got}"));
                    }
                }
                Ok(Value::Null) => {
                    v.lost += 1;
                    v.note(format!("{key}: acked {acked}, now missing"));
                }
                other => {
                    v.unreadable += 1;
                    v.note(format!("{key}: unreadable {}", reply_text(&other)));
                }
            }
        }
        for (key, &acked) in &st.counters {
            v.checked += 1;
            if Instant::now() > deadline {
                v.unreadable += 1;
                continue;
            }
            let now = match conn.request(&["GET", key.as_str()]) {
                Ok(Value::Bulk(b)) => String::from_utf8_lossy(&b).parse::<i64>().ok(),
                Ok(Value::Null) => Some(0),
                _ => None,
            };
            match now {
                Some(n) if n < acked => {
                    v.lost += 1;
                    v.note(format!("{key}: INCR acked {acked}, now {n}"));
                }
                Some(_) => {}
                None => v.unreadable += 1,
            }
        }
    }
    v
}

fn all_errors(stats: &[ClientStats]) -> Vec<&ErrEvent> {
    let mut all: Vec<&ErrEvent> = stats.iter().flat_map(|s| &s.errors).collect();
    all.sort_by_key(|e| e.at);
    all
}

/// The first errors, each with its time from the scenario's start and the
/// topology step it fell in.
fn describe(errors: &[&ErrEvent], steps: &Steps) -> String {
    let mut s: String = errors
        .iter()
        .take(15)
        .map(|e| {
            format!(
                "\n  t={}ms during [{}] (took {}ms) client {} {} (slot {}): {}",
                ms_from(steps.base, e.at),
                steps.during(e.at),
                e.latency.as_millis(),
                e.client,
                e.op,
                e.op.split_whitespace()
                    .nth(1)
                    .map_or(0, |k| key_slot(k.as_bytes())),
                e.msg
            )
        })
        .collect();
    s.push_str(&format!("\n  steps: {}", steps.text()));
    s
}

fn summary(
    name: &str,
    stats: &[ClientStats],
    verdict: &Verdict,
    took: Duration,
    extra: &str,
) -> String {
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for e in stats.iter().flat_map(|s| &s.errors) {
        *kinds.entry(e.kind.clone()).or_default() += 1;
    }
    let requests: u64 = stats.iter().map(|s| s.requests).sum();
    let stale: u64 = stats.iter().map(|s| s.stale_reads).sum();
    let regress: u64 = stats.iter().map(|s| s.counter_regressions).sum();
    let max_lat = stats
        .iter()
        .map(|s| s.max_latency)
        .max()
        .unwrap_or_default();
    let mut line = format!(
        "[{name}] clients={} requests={requests} errors={kinds:?} acked_lost={}/{} \
         unreadable={} stale_reads={stale} counter_regressions={regress} \
         max_latency_ms={} duration_ms={} {extra}",
        stats.len(),
        verdict.lost,
        verdict.checked,
        verdict.unreadable,
        max_lat.as_millis(),
        took.as_millis(),
    );
    if !verdict.examples.is_empty() {
        line.push_str(&format!(" lost_examples={:?}", verdict.examples));
    }
    println!("{line}");
    line
}

/// The assertions every scenario shares.
fn assert_clean(stats: &[ClientStats], verdict: &Verdict, steps: &Steps) {
    let errors = all_errors(stats);
    assert!(
        errors.is_empty(),
        "{} error replies under load:{}",
        errors.len(),
        describe(&errors, steps)
    );
    assert!(
        verdict.lost == 0 && verdict.unreadable == 0,
        "acknowledged writes lost: {verdict:?}; steps: {}",
        steps.text()
    );
    let stale: u64 = stats.iter().map(|s| s.stale_reads).sum();
    let regress: u64 = stats.iter().map(|s| s.counter_regressions).sum();
    assert_eq!(stale, 0, "stale reads; steps: {}", steps.text());
    assert_eq!(regress, 0, "counter regressions; steps: {}", steps.text());
    let requests: u64 = stats.iter().map(|s| s.requests).sum();
    assert!(requests > 0, "the load made no request");
}

// ---------------------------------------------------------------------------

/// 2000 slots moved from node 0 to node 1 with `reshard`, then spread back
/// with `rebalance`, with ~2000 keys present and the load running.
#[test]
fn reshard_2000_slots_then_rebalance() {
    let _serial = serial();
    let started = Instant::now();
    let cluster = cluster();
    let proxy = Proxy::start(&cluster.seeds());
    proxy.wait_ready();
    let (a, b) = (&cluster.nodes()[0], &cluster.nodes()[1]);
    let (a_id, b_id) = (my_id(a), my_id(b));
    let pre = preload(proxy.addr, "t4:pre", 2000);

    let mut steps = Steps::new();
    let load = Load::start(proxy.addr, "t4");
    thread::sleep(Duration::from_millis(800));

    let before = cluster.slots().unwrap();
    let (a_before, b_before) = (slots_of(&before, &a.addr()), slots_of(&before, &b.addr()));
    let entry = a.addr();
    steps.mark("reshard 2000 A->B");
    cluster_cli(&[
        "reshard",
        &entry,
        "--cluster-from",
        &a_id,
        "--cluster-to",
        &b_id,
        "--cluster-slots",
        "2000",
        "--cluster-yes",
    ]);
    steps.mark("wait agreement after reshard");
    let all: Vec<&RedisServer> = cluster.nodes().iter().collect();
    wait_agreed(&all, 3, Duration::from_secs(15));
    let mid = cluster.slots().unwrap();
    let (a_mid, b_mid) = (slots_of(&mid, &a.addr()), slots_of(&mid, &b.addr()));
    steps.mark("load after reshard");
    thread::sleep(Duration::from_millis(800));

    steps.mark("rebalance");
    let rebalance_out = cluster_cli(&["rebalance", &entry, "--cluster-yes"]);
    steps.mark("wait agreement after rebalance");
    wait_agreed(&all, 3, Duration::from_secs(15));
    let after = cluster.slots().unwrap();
    steps.mark("load after rebalance");
    thread::sleep(Duration::from_millis(1000));
    steps.mark("stop");
    let stats = load.stop();
    let verdict = verify(proxy.addr, &stats, &pre);

    let sizes = |m: &SlotMap| -> Vec<usize> {
        cluster
            .nodes()
            .iter()
            .map(|n| slots_of(m, &n.addr()).len())
            .collect()
    };
    summary(
        "reshard_2000_slots_then_rebalance",
        &stats,
        &verdict,
        started.elapsed(),
        &format!(
            "slots_per_master before={:?} after_reshard={:?} after_rebalance={:?} \
             rebalance_moves={} steps=[{}]",
            sizes(&before),
            sizes(&mid),
            sizes(&after),
            rebalance_out.matches("Moving ").count(),
            steps.text()
        ),
    );

    assert_eq!(
        a_mid.len(),
        a_before.len() - 2000,
        "A did not give 2000 slots"
    );
    assert_eq!(
        b_mid.len(),
        b_before.len() + 2000,
        "B did not get 2000 slots"
    );
    assert!(a_mid.is_subset(&a_before) && b_before.is_subset(&b_mid));
    let after_sizes = sizes(&after);
    assert_ne!(sizes(&mid), after_sizes, "rebalance moved nothing");
    assert!(
        after_sizes.iter().all(|&s| s.abs_diff(5461) <= 200),
        "not balanced after rebalance: {after_sizes:?}"
    );
    assert_clean(&stats, &verdict, &steps);
}

/// A fresh node joins (`add-node`), gets 500 slots, serves the load's keys,
/// gives them back and is removed (`del-node`), all under load.
#[test]
fn add_node_then_del_node() {
    let _serial = serial();
    let started = Instant::now();
    let cluster = cluster();
    let proxy = Proxy::start(&cluster.seeds());
    proxy.wait_ready();
    let timeout = NODE_TIMEOUT_MS.to_string();
    let new = RedisServer::start_with(&[
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-node-timeout",
        &timeout,
        // Once emptied it stays an empty master (Redis 7 would otherwise
        // make it a replica of the node that took its last slot), so
        // del-node removes a master, as in a real scale-in.
        "--cluster-allow-replica-migration",
        "no",
    ])
    .expect("start the new node");
    let existing = cluster.nodes()[0].addr();
    let a_id = my_id(&cluster.nodes()[0]);
    let new_id = my_id(&new);
    let pre = preload(proxy.addr, "t5:pre", 1000);

    let mut steps = Steps::new();
    let load = Load::start(proxy.addr, "t5");
    thread::sleep(Duration::from_millis(800));

    steps.mark("add-node");
    cluster_cli(&["add-node", &new.addr(), &existing]);
    steps.mark("wait new node known");
    let mut all: Vec<&RedisServer> = cluster.nodes().iter().collect();
    all.push(&new);
    wait_agreed(&all, 4, Duration::from_secs(20));

    steps.mark("reshard 500 all->new");
    cluster_cli(&[
        "reshard",
        &existing,
        "--cluster-from",
        "all",
        "--cluster-to",
        &new_id,
        "--cluster-slots",
        "500",
        "--cluster-yes",
    ]);
    steps.mark("wait agreement after reshard to new");
    wait_agreed(&all, 4, Duration::from_secs(15));
    let map = cluster.slots().unwrap();
    let on_new = slots_of(&map, &new.addr());
    steps.mark("load on new node");
    thread::sleep(Duration::from_millis(1500));

    // The load's keys now living on the new node, read there directly.
    let load_keys: Vec<String> = (0..CLIENTS)
        .flat_map(|c| {
            client_keys("t5", c, "v")
                .into_iter()
                .chain(client_keys("t5", c, "n"))
        })
        .filter(|k| on_new.contains(&key_slot(k.as_bytes())))
        .collect();
    let present = load_keys
        .iter()
        .filter(|k| new.cmd(&["EXISTS", k.as_str()]).unwrap() == "1")
        .count();
    let new_dbsize = new.cmd(&["DBSIZE"]).unwrap();
    // A write through the proxy lands on the new node.
    let probe_key = (0u32..100_000)
        .map(|i| format!("t5:probe:{i}"))
        .find(|k| on_new.contains(&key_slot(k.as_bytes())))
        .expect("a key in the new node's slots");
    let mut conn = Conn::new(proxy.addr);
    let probe_set = conn.request(&["SET", probe_key.as_str(), "on-new"]);
    let probe_direct = new.cmd(&["GET", &probe_key]).unwrap();

    let back_count = on_new.len().to_string();
    steps.mark("reshard all new->A");
    cluster_cli(&[
        "reshard",
        &existing,
        "--cluster-from",
        &new_id,
        "--cluster-to",
        &a_id,
        "--cluster-slots",
        &back_count,
        "--cluster-yes",
    ]);
    steps.mark("wait agreement after reshard back");
    wait_agreed(&all, 4, Duration::from_secs(15));
    // Read from one node's CLUSTER NODES (the fixture's `slots()` only
    // knows the original three nodes).
    let new_after = owned_slots(&cluster.nodes()[1], &new_id);
    let new_role = new
        .cmd(&["ROLE"])
        .unwrap()
        .lines()
        .next()
        .unwrap_or("")
        .to_owned();
    steps.mark("del-node");
    cluster_cli(&["del-node", &existing, &new_id]);
    steps.mark("wait agreement after del-node");
    let old: Vec<&RedisServer> = cluster.nodes().iter().collect();
    wait_agreed(&old, 3, Duration::from_secs(15));
    steps.mark("load after del-node");
    thread::sleep(Duration::from_millis(1500));
    steps.mark("stop");
    let stats = load.stop();
    let mut pre = pre;
    pre.push((probe_key.clone(), "on-new".to_owned()));
    let verdict = verify(proxy.addr, &stats, &pre);

    summary(
        "add_node_then_del_node",
        &stats,
        &verdict,
        started.elapsed(),
        &format!(
            "new_node_slots={} load_keys_in_them={} present_on_new={present} \
             new_dbsize={new_dbsize} probe_set={} probe_read_on_new={probe_direct:?} \
             new_slots_after_move_back={new_after} new_role_after_move_back={new_role} steps=[{}]",
            on_new.len(),
            load_keys.len(),
            reply_text(&probe_set),
            steps.text()
        ),
    );

    // redis-cli splits the 500 slots between the 3 sources rounding down.
    assert!(
        (495..=500).contains(&on_new.len()),
        "the new node did not get ~500 slots: {}",
        on_new.len()
    );
    assert!(!load_keys.is_empty(), "no load key in the new node's slots");
    assert_eq!(
        present,
        load_keys.len(),
        "load keys in the new node's slots missing there"
    );
    assert_eq!(reply_text(&probe_set), "OK", "SET through the proxy");
    assert_eq!(
        probe_direct, "on-new",
        "the proxy's write is not on the new node"
    );
    assert_eq!(new_after, 0, "the new node kept slots");
    assert_eq!(new_role, "master", "the emptied node is no longer a master");
    assert_clean(&stats, &verdict, &steps);
}
