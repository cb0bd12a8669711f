//! What the admin API sees of a running pool and how it acts on it: the
//! per-server state board the pool manager publishes after every probe
//! round and every change, and the operator's eject / restore commands.
//!
//! Invariants: the board is written only by the pool's manager task and
//! read by the admin API (one short lock each, never on the data path);
//! its entries are in server order (index = shard); a command is answered
//! by the manager, which alone owns the health state, so an operator's
//! action and an automatic one never race.

use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::sync::oneshot;

/// A server's state as the pool manager sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerState {
    /// Answers its probes (or has not failed one yet).
    Up,
    /// Its last probe failed; still in the placement (without ejection, its
    /// keys fail fast).
    Down,
    /// Out of the placement: its keys go to the other servers.
    Ejected,
}

impl ServerState {
    /// Lowercase name, as the admin API shows it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ServerState::Up => "up",
            ServerState::Down => "down",
            ServerState::Ejected => "ejected",
        }
    }
}

/// One server's published state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerStatus {
    /// Current address (a Sentinel-managed server's current master).
    pub addr: String,
    /// Up, down or ejected.
    pub state: ServerState,
    /// Milliseconds since the Unix epoch the state began (0: since start).
    pub since_unix_ms: u64,
    /// The last probe failure's reason, if any probe ever failed.
    pub last_error: Option<String>,
    /// Failed probes in a row.
    pub failures: u32,
    /// Ejected by an operator (stays out until restored by one).
    pub by_operator: bool,
}

/// The board a pool's manager publishes on.
#[derive(Debug, Default)]
pub struct Board {
    servers: Mutex<Vec<ServerStatus>>,
}

impl Board {
    /// The servers' states, in server order (empty until the pool runs).
    #[must_use]
    pub fn snapshot(&self) -> Vec<ServerStatus> {
        self.servers.lock().clone()
    }

    /// Replaces the states (the manager only).
    pub(crate) fn publish(&self, servers: Vec<ServerStatus>) {
        *self.servers.lock() = servers;
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What an operator asks of one server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Take it out of the placement now, as `auto_eject_hosts` would.
    Eject,
    /// Put it back now, without waiting for a probe.
    Restore,
}

/// Why an action was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The pool has no `auto_eject_hosts`: its placement never changes.
    #[error(
        "pool {0} has no auto_eject_hosts: its key placement never changes, so ejecting a server would not move its keys (set auto_eject_hosts: true)"
    )]
    NoEjection(String),
    /// Ejecting it would leave no server in the placement.
    #[error(
        "{0} is the last server in the placement: ejecting it would leave no server for any key"
    )]
    LastServer(String),
    /// No server of that name or address.
    #[error("no server {0} in this pool")]
    NoSuchServer(String),
    /// The pool's manager is not running (stopping, or not started yet).
    #[error("the pool is not running")]
    NotRunning,
}

/// What the action did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The server's index.
    pub index: usize,
    /// Whether anything changed (false: it already was in that state).
    pub changed: bool,
}

/// A command to a pool's manager.
#[derive(Debug)]
pub struct Command {
    /// The server's name or current address.
    pub server: String,
    /// Eject or restore.
    pub action: Action,
    /// Where the manager answers.
    pub reply: oneshot::Sender<Result<Outcome, ActionError>>,
}
