//! Slotway's proxy engine: any plain Redis client in front of a Redis Cluster.
//!
//! Request flow (see docs/architecture.md):
//!
//! ```text
//! client ─▶ session (parse, route) ─▶ backend conn (shared, pipelined) ─▶ node
//!   ▲            │ local answers                                          │
//!   └── ordered queue ◀── ReplySink (seq-tagged) ◀────────────────────────┘
//! ```
//!
//! - [`server`]: accept loop and graceful shutdown; [`run`] is the entry point.
//! - [`session`]: one task per client: parse, route, dispatch, ordered replies.
//! - [`route`]: pure per-request decisions (local, forward to a slot, refuse).
//! - [`backend`]: shared pipelined connections per node, reply delivery.
//! - `outbox`: a peer's unwritten bytes; large messages leave without a copy.
//! - `read_space`: how much a connection's read buffer offers each read.
//! - [`cluster`]: slot table, topology discovery and refresh.
//! - [`pool`]: sharded standalone pools (twemproxy's model), Sentinel, health.
//! - [`config`]: the TOML file and its validated [`Settings`].
//! - [`engine`]: one proxy instance's shared state ([`Engine`]).
//! - [`metrics`], [`slowlog`]: what the proxy measures about itself.
//! - [`runtime`]: what `PROXY CONFIG SET` changes while the proxy runs.
//! - [`admin`]: the admin HTTP API (JSON, Prometheus metrics, probes).
//! - [`tls`]: rustls for the client listener and the node connections.
//! - [`workers`]: thread-per-core (one current-thread runtime per worker).

#![forbid(unsafe_code)]

pub mod acl;
pub mod admin;
pub mod backend;
pub mod cluster;
pub mod config;
pub mod engine;
pub mod error;
pub mod events;
pub mod merge;
pub mod metrics;
mod outbox;
pub mod pool;
mod read_space;
pub mod reload;
pub mod route;
pub mod runtime;
pub mod server;
pub mod session;
pub mod slowlog;
pub mod stats;
pub mod tls;
pub mod workers;

pub use config::{Config, Settings};
pub use engine::Engine;
pub use error::{ConfigError, RunError};
pub use server::{ClientListener, run, serve, serve_listeners};
