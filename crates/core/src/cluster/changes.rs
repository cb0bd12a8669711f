//! What changed between two slot tables, as log events with stable field
//! names: a replica promoted to master (`failover`), masters that joined or
//! left (`master_added`, `master_removed`).
//!
//! Pure: compares two immutable tables by node address; the refresher logs
//! what [`diff`] returns after each refresh that changed the table.

use std::collections::HashSet;

use super::SlotTable;

/// One noteworthy difference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// `node`, a replica of `old_master` before, is a master now.
    Failover {
        /// The promoted node.
        node: String,
        /// The master it replicated.
        old_master: String,
    },
    /// A master that was not one before (and was not a replica either).
    MasterAdded(String),
    /// A master that is no longer one.
    MasterRemoved(String),
}

/// The differences from `old` to `new`.
#[must_use]
pub fn diff(old: &SlotTable, new: &SlotTable) -> Vec<Change> {
    let masters = |t: &SlotTable| -> HashSet<String> {
        t.masters().iter().map(|n| n.addr().to_string()).collect()
    };
    let (before, after) = (masters(old), masters(new));
    let mut changes = Vec::new();
    for node in new.masters() {
        let addr = node.addr().to_string();
        if before.contains(&addr) {
            continue;
        }
        let promoted_from = old.masters().iter().enumerate().find_map(|(j, m)| {
            old.replicas_of(j)
                .iter()
                .any(|r| **r.addr() == *addr)
                .then(|| m.addr().to_string())
        });
        changes.push(match promoted_from {
            Some(old_master) => Change::Failover {
                node: addr,
                old_master,
            },
            None => Change::MasterAdded(addr),
        });
    }
    for addr in before {
        if !after.contains(&addr) {
            changes.push(Change::MasterRemoved(addr));
        }
    }
    changes
}

/// Logs each change as one line.
pub fn log(changes: &[Change]) {
    for change in changes {
        match change {
            Change::Failover { node, old_master } => tracing::warn!(
                event = "failover",
                node = %node,
                old_master = %old_master,
                "a replica was promoted to master"
            ),
            Change::MasterAdded(node) => {
                tracing::info!(event = "master_added", node = %node, "a master joined the cluster");
            }
            Change::MasterRemoved(node) => tracing::info!(
                event = "master_removed",
                node = %node,
                "a node is no longer a master"
            ),
        }
    }
}
