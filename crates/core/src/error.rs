//! Error types of the engine, one enum per concern, each saying which side
//! failed: the configuration, a backend node, or the listener.

use std::io;

/// The configuration file or flags are unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// Path as given.
        path: String,
        /// Cause.
        source: io::Error,
    },
    /// The TOML did not parse or did not match the schema.
    #[error("invalid config: {0}")]
    Parse(String),
    /// A value is out of range.
    #[error("invalid config value for {key}: {reason}")]
    Invalid {
        /// Dotted key, e.g. `cluster.seeds`.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            key,
            reason: reason.into(),
        }
    }
}

/// A control-plane exchange with a backend node failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// TCP connect failed or timed out.
    #[error("backend {addr}: connect failed: {reason}")]
    Connect {
        /// Node address.
        addr: String,
        /// Cause.
        reason: String,
    },
    /// Reading or writing failed, or the node closed the connection.
    #[error("backend {addr}: {reason}")]
    Io {
        /// Node address.
        addr: String,
        /// Cause.
        reason: String,
    },
    /// The node answered with something the proxy cannot use.
    #[error("backend {addr}: unexpected reply: {reason}")]
    Reply {
        /// Node address.
        addr: String,
        /// What was wrong.
        reason: String,
    },
    /// The node did not answer in time.
    #[error("backend {addr}: timed out")]
    Timeout {
        /// Node address.
        addr: String,
    },
}

/// The proxy could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The listener failed in a way accepting cannot recover from.
    #[error("client listener: {0}")]
    Listener(io::Error),
}
