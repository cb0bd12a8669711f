//! The JSON documents of the admin API, built from the engine's live state:
//! status, topology, clients, per-command and per-backend statistics, the
//! slow log, readiness.
//!
//! Pure functions of an [`Engine`] snapshot; field names are part of the API
//! (docs/admin-openapi.json describes them) and only ever grow.

use serde_json::{Value, json};

use crate::engine::Engine;
use crate::metrics::backend;
use crate::metrics::commands::Class;
use crate::metrics::{Count, RedirectKind};

/// Whether the proxy can serve every slot: topology known, all covered.
#[must_use]
pub fn is_ready(engine: &Engine) -> bool {
    let table = engine.topology().load();
    // A pool's "slots" are its server indexes: one per server.
    let needed = engine
        .pool()
        .map_or(usize::from(slotway_hashkit::SLOT_COUNT), |p| {
            p.servers.len()
        });
    table.is_known() && table.covered_slots() == needed
}

/// `GET /ready`.
#[must_use]
pub fn ready(engine: &Engine) -> Value {
    let table = engine.topology().load();
    json!({
        "ready": is_ready(engine),
        "topology_known": table.is_known(),
        "covered_slots": table.covered_slots(),
    })
}

/// `GET /api/v1/status`.
#[must_use]
pub fn status(engine: &Engine) -> Value {
    let m = engine.metrics();
    let (calls, failed) = m.commands.totals();
    let table = engine.topology().load();
    let started = engine
        .started_at()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "mode": if engine.pool().is_some() { "pool" } else { "cluster" },
        "uptime_seconds": engine.uptime().as_secs(),
        "started_at": started,
        "pid": std::process::id(),
        "listen": engine.listening().map(|a| a.to_string()),
        "backend_redis_version": engine.topology().backend_version().map(|v| v.to_string()),
        "ready": is_ready(engine),
        "clients": {
            "connected": engine.clients().len(),
            "accepted_total": m.clients_accepted.get(),
        },
        "requests": {
            "total": calls,
            "errors": failed,
        },
        "network": {
            "received_bytes": m.bytes_in.get(),
            "sent_bytes": m.bytes_out.get(),
        },
        "topology": {
            "version": table.version(),
            "masters": table.masters().len(),
            "covered_slots": table.covered_slots(),
        },
    })
}

fn node_json(addr: &str, role: &str) -> serde_json::Map<String, Value> {
    let s = backend::snapshot(addr);
    let mut m = serde_json::Map::new();
    m.insert("address".into(), json!(addr));
    m.insert("role".into(), json!(role));
    m.insert("health".into(), json!(s.health.as_str()));
    m.insert("connections".into(), json!(s.connections));
    m.insert("queue_depth".into(), json!(s.queue_depth));
    m.insert("connects".into(), json!(s.connects));
    m.insert("connect_failures".into(), json!(s.connect_failures));
    m
}

/// `GET /api/v1/topology`: masters with their slot ranges and replicas,
/// then replicas, each with its health as the proxy sees it; the slots in
/// migration as the last refresh saw them.
#[must_use]
pub fn topology(engine: &Engine) -> Value {
    let table = engine.topology().load();
    let ranges = table.ranges();
    // Masters in slot order (by the first slot each serves).
    let mut order: Vec<usize> = (0..table.masters().len()).collect();
    order.sort_by_key(|&i| ranges.iter().position(|r| r.2 == i));
    let mut nodes = Vec::new();
    for &i in &order {
        let Some(master) = table.masters().get(i) else {
            continue;
        };
        let mine: Vec<[u16; 2]> = ranges
            .iter()
            .filter(|r| r.2 == i)
            .map(|&(lo, hi, _)| [lo, hi])
            .collect();
        let count: usize = mine
            .iter()
            .map(|[lo, hi]| usize::from(*hi) - usize::from(*lo) + 1)
            .sum();
        let replicas: Vec<String> = table
            .replicas_of(i)
            .iter()
            .map(|r| r.addr().to_string())
            .collect();
        let mut n = node_json(master.addr(), "master");
        n.insert("slots".into(), json!(mine));
        n.insert("slot_count".into(), json!(count));
        n.insert("replicas".into(), json!(replicas));
        nodes.push(Value::Object(n));
    }
    for &i in &order {
        let Some(master) = table.masters().get(i) else {
            continue;
        };
        for r in table.replicas_of(i) {
            let mut n = node_json(r.addr(), "replica");
            n.insert("master".into(), json!(master.addr().to_string()));
            nodes.push(Value::Object(n));
        }
    }
    let migrations: Vec<Value> = engine
        .topology()
        .migrations()
        .iter()
        .map(|m| json!({ "slot": m.slot, "from": m.from, "to": m.to, "seen_as": m.seen_as() }))
        .collect();
    json!({
        "version": table.version(),
        "ready": is_ready(engine),
        "covered_slots": table.covered_slots(),
        "masters": table.masters().len(),
        "nodes": nodes,
        "migrations": migrations,
        "seeds": engine.settings().seeds,
        "refreshes": {
            "ok": engine.metrics().refreshes_ok.get(),
            "failed": engine.metrics().refreshes_failed.get(),
        },
    })
}

/// `GET /api/v1/clients`: the facts of CLIENT LIST, one object per client.
#[must_use]
pub fn clients(engine: &Engine) -> Value {
    let show = |a: Option<std::net::SocketAddr>| a.map(|a| a.to_string());
    let list: Vec<Value> = engine
        .clients()
        .all()
        .iter()
        .map(|c| {
            let s = c.snapshot();
            let f = &s.facts;
            json!({
                "id": s.id,
                "addr": show(s.addr),
                "laddr": show(s.laddr),
                "name": f.name,
                "age_seconds": s.age_secs,
                "idle_seconds": s.idle_secs,
                "resp": if f.resp == 3 { 3 } else { 2 },
                "readonly": f.readonly,
                "multi": f.multi,
                "sub": f.sub,
                "psub": f.psub,
                "ssub": f.ssub,
                "lib_name": f.lib_name,
                "lib_ver": f.lib_ver,
            })
        })
        .collect();
    json!({ "count": list.len(), "clients": list })
}

/// `GET /api/v1/stats/commands`: Redis's commandstats fields per command
/// called at least once, and the latency histograms by class.
#[must_use]
pub fn commands(engine: &Engine) -> Value {
    let m = engine.metrics();
    let list: Vec<Value> = m
        .commands
        .snapshot()
        .iter()
        .map(|c| {
            json!({
                "command": c.name,
                "calls": c.calls,
                "usec": c.usec,
                "usec_per_call": per_call(c.usec, c.calls),
                "failed_calls": c.failed,
            })
        })
        .collect();
    let mut latency = serde_json::Map::new();
    for class in Class::ALL {
        let h = m.latency(class).snapshot();
        let buckets: Vec<Value> = h
            .buckets
            .iter()
            .map(|&(le, n)| {
                json!({ "le": if le.is_finite() { json!(le) } else { json!("+Inf") }, "count": n })
            })
            .collect();
        latency.insert(
            class.label().into(),
            json!({ "count": h.count, "sum_seconds": h.sum_seconds, "buckets": buckets }),
        );
    }
    json!({ "commands": list, "latency": latency })
}

/// `usec / calls` rounded to two decimals, as Redis prints `usec_per_call`.
fn per_call(usec: u64, calls: u64) -> f64 {
    if calls == 0 {
        return 0.0;
    }
    (usec as f64 / calls as f64 * 100.0).round() / 100.0
}

/// `GET /api/v1/stats/backends`: per node of the topology, and the
/// redirect, retry, refresh and pipeline-stall counters.
#[must_use]
pub fn backends(engine: &Engine) -> Value {
    let table = engine.topology().load();
    let mut nodes = Vec::new();
    for (i, master) in table.masters().iter().enumerate() {
        nodes.push(Value::Object(node_json(master.addr(), "master")));
        for r in table.replicas_of(i) {
            nodes.push(Value::Object(node_json(r.addr(), "replica")));
        }
    }
    let m = engine.metrics();
    let c = |c: &Count| c.get();
    json!({
        "nodes": nodes,
        "redirects": {
            "moved": m.redirect_count(RedirectKind::Moved).get(),
            "ask": m.redirect_count(RedirectKind::Ask).get(),
            "tryagain": m.redirect_count(RedirectKind::TryAgain).get(),
        },
        "retries": c(&m.retries),
        "parked_retries": c(&m.parked),
        "pipeline_stalls": c(&m.pipeline_stalls),
        "topology_refreshes": c(&m.refreshes_ok),
        "topology_refresh_failures": c(&m.refreshes_failed),
    })
}

/// `GET /api/v1/slowlog`: the proxy's slow log, newest first.
#[must_use]
pub fn slowlog(engine: &Engine) -> Value {
    let log = engine.slowlog();
    let entries: Vec<Value> = log
        .get(usize::MAX)
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "timestamp": e.time,
                "duration_us": e.duration_us,
                "args": e.args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>(),
                "client_addr": &*e.peer,
                "client_name": String::from_utf8_lossy(&e.name),
            })
        })
        .collect();
    json!({
        "log_slower_than_us": log.settings().log_slower_than,
        "max_len": log.settings().max_len,
        "entries": entries,
    })
}
