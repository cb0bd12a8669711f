//! The sharded pools in the admin API: `GET /api/v1/pools` (every pool of
//! the process with its settings and servers: current address, weight,
//! state and since when, last error, connections and counters), the
//! operator's eject / restore of a server, and the events journal merged
//! over every engine of the process.
//!
//! Invariants: reads only published snapshots (the pool manager's board,
//! the nodes' relaxed counters); an action is executed by the pool's
//! manager, never here, so it obeys the same rules as automatic ejection.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Admin;
use crate::engine::Engine;
use crate::pool::status::{Action, ActionError, ServerStatus};
use crate::stats::{gauge, read};

/// `GET /api/v1/pools`: every pool of the process (empty for a cluster).
#[must_use]
pub fn view(admin: &Admin) -> Value {
    let pools: Vec<Value> = admin
        .pool_engines()
        .iter()
        .filter_map(|e| pool_json(e))
        .collect();
    json!({ "pools": pools })
}

fn pool_json(engine: &Engine) -> Option<Value> {
    let pool = engine.pool()?;
    let board = engine.pool_status();
    let table = engine.topology().load();
    let stats = engine.stats();
    let servers: Vec<Value> = pool
        .servers
        .iter()
        .enumerate()
        .map(|(i, server)| {
            let status = board.get(i);
            let node = u16::try_from(i).ok().and_then(|slot| table.master(slot));
            let addr = status
                .map(|s| s.addr.clone())
                .or_else(|| node.map(|n| n.addr().to_string()))
                .unwrap_or_else(|| server.addr.clone());
            let mut out = json!({
                "name": server.name,
                "address": addr,
                "configured_address": server.addr,
                "sentinel_master": server.sentinel_name,
                "weight": server.server.weight,
            });
            if let Value::Object(m) = &mut out {
                m.extend(state_fields(status));
                if let Some(node) = node {
                    let n = node.stats();
                    m.insert("connections".into(), json!(gauge(&n.server_connections)));
                    m.insert("requests".into(), json!(read(&n.requests)));
                    m.insert("responses".into(), json!(read(&n.responses)));
                    m.insert("errors".into(), json!(read(&n.server_err)));
                    m.insert("timeouts".into(), json!(read(&n.server_timedout)));
                    m.insert("eofs".into(), json!(read(&n.server_eof)));
                    m.insert("request_bytes".into(), json!(read(&n.request_bytes)));
                    m.insert("response_bytes".into(), json!(read(&n.response_bytes)));
                    m.insert("in_queue".into(), json!(gauge(&n.in_queue)));
                    m.insert("out_queue".into(), json!(gauge(&n.out_queue)));
                }
            }
            out
        })
        .collect();
    let listen = engine
        .listening()
        .unwrap_or(engine.settings().listen)
        .to_string();
    Some(json!({
        "name": pool.name,
        "listen": listen,
        "hash": pool.hash.name(),
        "hash_tag": pool.tag.map(|t| t.to_string()),
        "distribution": pool.distribution.name(),
        "auto_eject_hosts": pool.ejection.is_some(),
        "server_failure_limit": pool.ejection.map(|e| e.failure_limit),
        "server_retry_timeout_ms": pool.ejection.map(|e| u64::try_from(e.retry_timeout.as_millis()).unwrap_or(u64::MAX)),
        "sentinels": pool.sentinels,
        "clients": engine.clients().len(),
        "server_ejects": read(&stats.server_ejects),
        "forward_errors": read(&stats.forward_error),
        "servers": servers,
    }))
}

/// The state fields of a server (`unknown` before the pool's first probe).
fn state_fields(status: Option<&ServerStatus>) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    match status {
        Some(s) => {
            m.insert("state".into(), json!(s.state.as_str()));
            m.insert("since_unix_ms".into(), json!(s.since_unix_ms));
            m.insert("last_error".into(), json!(s.last_error));
            m.insert("failed_probes".into(), json!(s.failures));
            m.insert("ejected_by_operator".into(), json!(s.by_operator));
        }
        None => {
            m.insert("state".into(), json!("unknown"));
            m.insert("since_unix_ms".into(), json!(0));
            m.insert("last_error".into(), Value::Null);
            m.insert("failed_probes".into(), json!(0));
            m.insert("ejected_by_operator".into(), json!(false));
        }
    }
    m
}

/// `GET /api/v1/events`: the journals of every engine and the process's
/// own, oldest first.
#[must_use]
pub fn events(admin: &Admin) -> Value {
    let engines = admin.pool_engines();
    let mut all = if engines.is_empty() {
        admin.engine().topology().events().recent()
    } else {
        engines
            .iter()
            .flat_map(|e| e.topology().events().recent())
            .collect()
    };
    all.extend(admin.journal().recent());
    all.sort_by_key(|ev| ev.unix_ms);
    let events: Vec<Value> = all
        .into_iter()
        .map(|ev| json!({"unix_ms": ev.unix_ms, "kind": ev.kind, "detail": ev.detail}))
        .collect();
    json!({ "events": events })
}

/// `POST /api/v1/pools/{pool}/servers/{server}/eject`.
pub async fn eject(
    State(admin): State<Arc<Admin>>,
    Path((pool, server)): Path<(String, String)>,
) -> Response {
    act(&admin, &pool, &server, Action::Eject).await
}

/// `POST /api/v1/pools/{pool}/servers/{server}/restore`.
pub async fn restore(
    State(admin): State<Arc<Admin>>,
    Path((pool, server)): Path<(String, String)>,
) -> Response {
    act(&admin, &pool, &server, Action::Restore).await
}

async fn act(admin: &Admin, pool: &str, server: &str, action: Action) -> Response {
    let engine = admin
        .pool_engines()
        .iter()
        .find(|e| e.pool().is_some_and(|p| p.name == pool))
        .cloned();
    let Some(engine) = engine else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no pool {pool}") })),
        )
            .into_response();
    };
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        engine.pool_action(server, action),
    )
    .await
    .unwrap_or(Err(ActionError::NotRunning));
    match answer {
        Ok(outcome) => {
            let state = engine
                .pool_status()
                .get(outcome.index)
                .map(|s| s.state.as_str());
            Json(json!({
                "pool": pool,
                "server": server,
                "changed": outcome.changed,
                "state": state,
            }))
            .into_response()
        }
        Err(e) => {
            let code = match e {
                ActionError::NoSuchServer(_) => StatusCode::NOT_FOUND,
                ActionError::NoEjection(_) | ActionError::LastServer(_) => StatusCode::CONFLICT,
                ActionError::NotRunning => StatusCode::SERVICE_UNAVAILABLE,
            };
            (code, Json(json!({ "error": e.to_string() }))).into_response()
        }
    }
}
