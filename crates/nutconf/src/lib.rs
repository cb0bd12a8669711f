//! The pure parts of Slotway's twemproxy (nutcracker 0.5.0) compatibility
//! layer: no I/O, no tokio, no clock. The engine reads files and sockets and
//! hands the text here.
//!
//! Owns:
//! - [`parse_yaml`]: nutcracker's YAML pool configuration → typed, validated
//!   [`PoolConf`]s, with nutcracker's rules and defaults and errors that name
//!   the pool, the directive and the bad value;
//! - [`parse_toml_pools`] / [`pools_from_toml`]: the same pools written as
//!   TOML `[pools.NAME]` tables, validated by the same code;
//! - [`cli`]: nutcracker's command line ([`NutcrackerArgs::parse`]);
//! - [`stats`]: nutcracker's stats JSON ([`to_json`]) and `-D` text
//!   ([`describe_stats`]).
//!
//! Invariants: a [`PoolConf`] only ever holds validated values (the engine
//! never re-checks them); pools come out in nutcracker's order (by name,
//! shorter first) and each pool's servers in nutcracker's server order, the
//! order placement and stats use. Slotway's extensions to nutcracker's format
//! (`sentinels`, `sentinel_auth`, `sentinel_user`) are documented where they
//! are parsed; memcached pools are refused.

#![forbid(unsafe_code)]

pub mod cli;
mod directive;
mod error;
mod pool;
pub mod stats;
mod toml_pools;
mod yaml;

pub use cli::{CliError, Command, NutcrackerArgs, Show};
pub use error::{ConfError, DirectiveProblem, PoolProblem, ShapeProblem};
pub use pool::{
    DEFAULT_BACKLOG, DEFAULT_SERVER_CONNECTIONS, DEFAULT_SERVER_FAILURE_LIMIT,
    DEFAULT_SERVER_RETRY_TIMEOUT, Listen, Password, PoolConf, PoolServer, SentinelAddr,
    SentinelConf,
};
pub use stats::{PoolStats, ServerStats, StatsSnapshot, describe_stats, to_json};
pub use toml_pools::{TomlPool, parse_toml_pools, pools_from_toml};
pub use yaml::parse_yaml;
