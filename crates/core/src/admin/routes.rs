//! The admin API's routes: one table ([`ROUTES`]) that the router is built
//! from and that the OpenAPI check compares with the description.
//!
//! Invariant: a route is served if and only if it is in [`ROUTES`];
//! [`router`] fails loudly (a test) if an entry has no handler.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde_json::json;

use super::{Admin, PoolChoiceError, ReloadRequest, config_view, openapi, pools, views};
use crate::engine::Engine;

/// HTTP method of a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
}

impl Method {
    /// Lowercase, as OpenAPI names operations.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
        }
    }
}

/// Every route of the admin API.
pub const ROUTES: &[(Method, &str)] = &[
    (Method::Get, "/"),
    (Method::Get, "/health"),
    (Method::Get, "/ready"),
    (Method::Get, "/metrics"),
    (Method::Get, "/api/v1/status"),
    (Method::Get, "/api/v1/topology"),
    (Method::Post, "/api/v1/topology/refresh"),
    (Method::Get, "/api/v1/clients"),
    (Method::Get, "/api/v1/stats/commands"),
    (Method::Get, "/api/v1/stats/backends"),
    (Method::Get, "/api/v1/slowlog"),
    (Method::Get, "/api/v1/events"),
    (Method::Get, "/api/v1/config"),
    (Method::Post, "/api/v1/config/reload"),
    (Method::Get, "/api/v1/pools"),
    (Method::Post, "/api/v1/pools/{pool}/servers/{server}/eject"),
    (
        Method::Post,
        "/api/v1/pools/{pool}/servers/{server}/restore",
    ),
    (Method::Get, "/api/v1/openapi.json"),
];

type Engines = Arc<Admin>;

/// The web dashboard: one self-contained page (vanilla JS polling the JSON
/// endpoints; every value is inserted as text, never as HTML).
const DASHBOARD: &str = include_str!("dashboard.html");

/// The handler of one route of [`ROUTES`].
fn handler(method: Method, path: &str) -> Option<MethodRouter<Engines>> {
    Some(match (method, path) {
        (Method::Get, "/") => get(dashboard),
        (Method::Get, "/health") => get(health),
        (Method::Get, "/ready") => get(ready),
        (Method::Get, "/metrics") => get(metrics),
        (Method::Get, "/api/v1/status") => engine_view(views::status),
        (Method::Get, "/api/v1/topology") => engine_view(views::topology),
        (Method::Post, "/api/v1/topology/refresh") => post(refresh),
        (Method::Get, "/api/v1/clients") => engine_view(views::clients),
        (Method::Get, "/api/v1/stats/commands") => engine_view(views::commands),
        (Method::Get, "/api/v1/stats/backends") => engine_view(views::backends),
        (Method::Get, "/api/v1/events") => {
            get(|State(a): State<Engines>| async move { Json(pools::events(&a)) })
        }
        (Method::Get, "/api/v1/slowlog") => engine_view(views::slowlog),
        (Method::Get, "/api/v1/config") => engine_view(config_view::live),
        (Method::Post, "/api/v1/config/reload") => post(reload),
        (Method::Get, "/api/v1/pools") => {
            get(|State(a): State<Engines>| async move { Json(pools::view(&a)) })
        }
        (Method::Post, "/api/v1/pools/{pool}/servers/{server}/eject") => post(pools::eject),
        (Method::Post, "/api/v1/pools/{pool}/servers/{server}/restore") => post(pools::restore),
        (Method::Get, "/api/v1/openapi.json") => {
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], openapi::TEXT) })
        }
        _ => return None,
    })
}

/// The `pool=NAME` query parameter of the endpoints that describe one
/// engine (other parameters are ignored).
#[derive(Debug, Default, serde::Deserialize)]
struct PoolQuery {
    pool: Option<String>,
}

/// The answer when `pool=` names no engine: 404 for an unknown pool, 400
/// for a pool named in cluster mode.
fn refused(e: &PoolChoiceError) -> Response {
    let (code, pool) = match e {
        PoolChoiceError::ClusterMode(p) => (StatusCode::BAD_REQUEST, p),
        PoolChoiceError::NoSuchPool(p) => (StatusCode::NOT_FOUND, p),
    };
    (code, Json(json!({ "error": e.to_string(), "pool": pool }))).into_response()
}

/// A GET answering `view` of the engine its `pool` parameter names.
fn engine_view(view: fn(&Engine) -> serde_json::Value) -> MethodRouter<Engines> {
    get(
        move |State(a): State<Engines>, Query(q): Query<PoolQuery>| async move {
            match a.engine_for(q.pool.as_deref()) {
                Ok(e) => Json(view(&e)).into_response(),
                Err(e) => refused(&e),
            }
        },
    )
}

/// The router of every route in [`ROUTES`]; unknown paths answer 404 JSON.
pub fn router(admin: Arc<Admin>) -> Router {
    let mut router = Router::new();
    for &(method, path) in ROUTES {
        if let Some(h) = handler(method, path) {
            router = router.route(path, h);
        }
    }
    router
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                Json(json!({ "error": "no such endpoint; see /api/v1/openapi.json" })),
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            admin.clone(),
            super::auth::require_token,
        ))
        .with_state(admin)
}

/// What the page may do: its own inline script and style, fetches to this
/// origin only, no framing (the token form must not be overlaid by another
/// site), no form posts anywhere (the token form is handled by the script).
const DASHBOARD_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `GET /`: the dashboard page, served without a token (it holds no data;
/// see [`super::auth`]) and never cached or framed.
async fn dashboard() -> Response {
    (
        [
            (header::CONTENT_SECURITY_POLICY, DASHBOARD_CSP),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Html(DASHBOARD),
    )
        .into_response()
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn ready(State(a): State<Engines>, Query(q): Query<PoolQuery>) -> Response {
    let e = match a.engine_for(q.pool.as_deref()) {
        Ok(e) => e,
        Err(e) => return refused(&e),
    };
    let code = if views::is_ready(&e) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(views::ready(&e))).into_response()
}

/// `/metrics`: the cluster's, or every pool's under a `pool` label.
async fn metrics(State(a): State<Engines>) -> Response {
    let pools = a.pool_engines();
    let text = if pools.is_empty() {
        crate::metrics::expose::render(&a.engine())
    } else {
        crate::metrics::expose::render_pools(&pools)
    };
    (
        [(header::CONTENT_TYPE, crate::metrics::expose::CONTENT_TYPE)],
        text,
    )
        .into_response()
}

/// Asks the refresher for a full refresh and waits (bounded) for one that
/// started after the request to finish.
async fn refresh(State(a): State<Engines>, Query(q): Query<PoolQuery>) -> Response {
    let e = match a.engine_for(q.pool.as_deref()) {
        Ok(e) => e,
        Err(e) => return refused(&e),
    };
    let m = e.metrics().clone();
    // A refresh already under way may predate the request: wait for the next.
    let target = m.refreshes_started.get() + 1;
    e.topology().request_refresh();
    let s = e.settings();
    let budget = (s.connect_timeout + s.query_timeout) * 2 + s.refresh_debounce;
    let deadline = Instant::now() + budget.max(Duration::from_secs(1));
    while m.refreshes() < target && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let done = m.refreshes() >= target;
    let table = e.topology().load();
    let body = Json(json!({
        "refreshed": done,
        "topology_version": table.version(),
        "covered_slots": table.covered_slots(),
    }));
    if done {
        (StatusCode::OK, body).into_response()
    } else {
        (StatusCode::ACCEPTED, body).into_response()
    }
}

/// Asks the binary to reload the configuration file and waits (bounded)
/// for its answer: 200 with what was applied, 400 when the file was
/// refused (nothing changed), 501 when this process cannot reload.
async fn reload(State(a): State<Engines>) -> Response {
    let Some(tx) = a.reloader() else {
        return (
            StatusCode::NOT_IMPLEMENTED,
            Json(json!({
                "error": "this process cannot reload its configuration (it was not started from a configuration file); restart it to apply a new one"
            })),
        )
            .into_response();
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    if tx.send(ReloadRequest { reply }).await.is_err() {
        return unavailable("the process is shutting down");
    }
    // A pool restarted by the reload may wait for its old listener to
    // close (a few seconds at most).
    match tokio::time::timeout(Duration::from_secs(30), answer).await {
        Ok(Ok(Ok(summary))) => (StatusCode::OK, Json(summary)).into_response(),
        Ok(Ok(Err(error))) => {
            (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response()
        }
        Ok(Err(_)) => unavailable("the process is shutting down"),
        Err(_) => unavailable("the reload did not finish in 30 s; see the log"),
    }
}

fn unavailable(why: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "error": why })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_a_handler() {
        for &(method, path) in ROUTES {
            assert!(
                handler(method, path).is_some(),
                "{method:?} {path} has no handler"
            );
        }
    }
}
