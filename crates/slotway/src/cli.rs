//! Command-line interface: flags that override the TOML file, and subcommands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Slotway: one address in front of a Redis Cluster for any plain Redis client.
///
/// Run the proxy from flags:
///     slotway --listen 127.0.0.1:7777 --cluster 127.0.0.1:7001,127.0.0.1:7002
/// or from a TOML file (every key is listed in docs/configuration.md):
///     slotway --config slotway.toml
/// Flags given on the command line override the file. The admin API
/// (JSON, Prometheus metrics, probes) is off unless --admin is given:
///     slotway --config slotway.toml --admin 127.0.0.1:9121
/// In place of twemproxy or redis-cluster-proxy, with their own flags:
///     slotway nutcracker -c nutcracker.yml
///     slotway redis-cluster-proxy 127.0.0.1:7001
#[derive(Clone, Debug, Parser)]
#[command(name = "slotway", version, verbatim_doc_comment)]
pub struct Cli {
    /// TOML configuration file.
    #[arg(short, long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Address to serve Redis clients on [default: 127.0.0.1:7777].
    #[arg(long, value_name = "IP:PORT", global = true)]
    pub listen: Option<String>,

    /// Seed nodes of the Redis Cluster, comma-separated host:port.
    #[arg(long, value_name = "HOST:PORT,...", value_delimiter = ',')]
    pub cluster: Vec<String>,

    /// Worker threads [default: one per CPU core].
    #[arg(long, value_name = "N", global = true)]
    pub threads: Option<usize>,

    /// How clients are spread over the threads: per-core (each thread its
    /// own clients and node connections) or work-stealing [default: per-core].
    #[arg(long, value_name = "per-core|work-stealing", global = true, value_parser = str::parse::<slotway_core::workers::Scheduler>)]
    pub scheduler: Option<slotway_core::workers::Scheduler>,

    /// Log level (error, warn, info, debug, trace) or a RUST_LOG-style filter.
    /// RUST_LOG, when set, wins.
    #[arg(long, value_name = "LEVEL", global = true)]
    pub log_level: Option<String>,

    /// Log format: text (human-readable) or json (one object per line).
    #[arg(long, value_name = "FORMAT", global = true)]
    pub log_format: Option<LogFormatArg>,

    /// Serve the admin HTTP API (status, topology, /metrics, /health,
    /// /ready) on this address [default: off].
    #[arg(long, value_name = "IP:PORT", global = true)]
    pub admin: Option<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `--log-format` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormatArg {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Clone, Debug, Subcommand)]
pub enum Command {
    /// Start a local Redis Cluster (3 masters, 3 replicas, from the installed
    /// redis-server, in a temporary directory) and the proxy in front of it on
    /// 127.0.0.1:7777; Ctrl-C stops and removes everything it started.
    Demo {
        /// Masters of the demo cluster.
        #[arg(long, default_value_t = 3)]
        masters: usize,
        /// Replicas per master.
        #[arg(long, default_value_t = 1)]
        replicas: usize,
    },
    /// Validate the configuration (file and flags) and print the result.
    CheckConfig,
}
