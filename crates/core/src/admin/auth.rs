//! Bearer-token authentication of the admin API.
//!
//! Invariants: when `admin.token` is set, every route but the probes
//! (`/health`, `/ready`, which orchestrators call without credentials and
//! which reveal nothing) and the dashboard page `/` (static HTML and
//! script with no data in it: a browser cannot attach a bearer token to a
//! navigation, so the page itself must load to ask for the token, which
//! its script then sends on every data fetch) needs
//! `Authorization: Bearer <token>`, compared in
//! constant time; a missing or wrong token gets 401 with a
//! `WWW-Authenticate` header and no hint of which it was. Without a token,
//! validation has already made sure the API listens on loopback only (or
//! the operator said `allow_unauthenticated`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Admin;

/// Paths served without a token: the probes and the (data-free) dashboard
/// page. Everything else, including the OpenAPI description and
/// `/metrics`, needs the token when one is set.
pub const OPEN_PATHS: &[&str] = &["/", "/health", "/ready"];

/// The middleware: passes the request on, or answers 401.
pub async fn require_token(
    State(admin): State<Arc<Admin>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = admin.token() else {
        return next.run(request).await;
    };
    if OPEN_PATHS.contains(&request.uri().path())
        || bearer(request.headers()).is_some_and(|t| token.matches(t))
    {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "admin token required\n",
    )
        .into_response()
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let scheme = value.get(..7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| value.get(7..))
        .flatten()
}
