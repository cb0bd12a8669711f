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
    /// A master that is no longer one (other than by a failover).
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
    // A master replaced by its promoted replica is told by the failover.
    let failed_over: HashSet<String> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Failover { old_master, .. } => Some(old_master.clone()),
            _ => None,
        })
        .collect();
    for addr in before {
        if !after.contains(&addr) && !failed_over.contains(&addr) {
            changes.push(Change::MasterRemoved(addr));
        }
    }
    changes
}

/// Logs each change as one line.
/// Puts `changes` in the event journal (the dashboard's timeline).
pub fn record(changes: &[Change], journal: &crate::events::Journal) {
    for change in changes {
        match change {
            Change::Failover { node, old_master } => journal.record(
                "failover",
                format!("{node} promoted to master in place of {old_master}"),
            ),
            Change::MasterAdded(node) => {
                journal.record("master_added", format!("{node} is a master"))
            }
            Change::MasterRemoved(node) => {
                journal.record("master_removed", format!("{node} is no longer a master"));
            }
        }
    }
}

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::cluster::table::NodeParams;
    use crate::cluster::{ClusterView, ShardView, Topology};

    fn shard(master: &str, replicas: &[&str], lo: u16, hi: u16) -> ShardView {
        ShardView {
            master: master.into(),
            replicas: replicas.iter().map(|r| (*r).to_owned()).collect(),
            ranges: vec![(lo, hi)],
            epoch: 0,
        }
    }

    #[tokio::test]
    async fn failover_and_masters_in_and_out() {
        let topology = Topology::new(
            vec![],
            NodeParams {
                connections_per_node: 1,
                connect_timeout: Duration::from_millis(10),
                reply_timeout: Duration::from_secs(1),
                write_ack: None,
                prelude: crate::backend::Prelude::default(),
                workers: crate::workers::Workers::single(),
            },
        );
        let snapshot = |t: &Topology| Arc::clone(&*t.load());
        topology.install(&ClusterView {
            shards: vec![
                shard("a:1", &["a:2"], 0, 8000),
                shard("b:1", &[], 8001, 16383),
            ],
        });
        let before = snapshot(&topology);
        assert_eq!(before.ranges(), vec![(0, 8000, 0), (8001, 16383, 1)]);
        // a:1 failed over to its replica a:2; b:1 left, c:1 took its slots.
        topology.install(&ClusterView {
            shards: vec![shard("a:2", &[], 0, 8000), shard("c:1", &[], 8001, 16383)],
        });
        let after = snapshot(&topology);
        let mut changes = diff(&before, &after);
        changes.sort_by_key(|c| format!("{c:?}"));
        assert_eq!(
            changes,
            vec![
                Change::Failover {
                    node: "a:2".into(),
                    old_master: "a:1".into()
                },
                Change::MasterAdded("c:1".into()),
                Change::MasterRemoved("b:1".into()),
            ]
        );
        assert!(diff(&after, &after).is_empty());
    }
}
