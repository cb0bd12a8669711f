//! `[commands]`: the operator's command gate as configured (deny, allow,
//! rename), validated once into a [`CommandGate`] (see `route::gate`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::ConfigError;
use crate::route::CommandGate;

/// `[commands]`: commands denied, allowed or renamed for every client.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommandsConfig {
    /// Commands refused with `-ERR slotway: command '…' is disabled by the
    /// proxy configuration` (`"FLUSHALL"`, `"CONFIG|SET"`; a container
    /// stands for all its subcommands).
    pub deny: Vec<String>,
    /// Commands the proxy refuses by default that it may carry
    /// (CONFIG|SET, CONFIG|RESETSTAT, SAVE, BGSAVE, BGREWRITEAOF: sent to
    /// every node).
    pub allow: Vec<String>,
    /// Redis's `rename-command`: old name → new name; `""` disables.
    pub rename: BTreeMap<String, String>,
}

impl CommandsConfig {
    /// Resolves the section against the command table.
    ///
    /// # Errors
    /// An entry names no command or breaks a rule (see `GateError`).
    pub fn validate(&self) -> Result<CommandGate, ConfigError> {
        CommandGate::build(&self.deny, &self.allow, &self.rename)
            .map_err(|e| ConfigError::invalid("commands", e.to_string()))
    }
}
