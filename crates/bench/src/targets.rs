//! The things a case is run against (the matrix's six, and the `floor`
//! section's minimal proxy in its two shapes), and which backend each one
//! loads.
//!
//! Invariant: every target is on exactly one backend (the 3-master cluster
//! or the 3 standalone servers), and each backend has exactly one direct
//! target, whose redis-server CPU per request is the baseline of the
//! proxies in front of the same servers.

/// Where a run sends its traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// `redis-benchmark --cluster` straight at the cluster.
    ClusterDirect,
    /// Slotway in cluster mode in front of the cluster, keys spread over
    /// all slots (redis-benchmark's plain keys).
    SlotwayCluster,
    /// The same proxy loaded with `--cluster`'s keys: one redis-benchmark
    /// per master at the proxy, each sending the test's `--cluster`
    /// command with the hash tag of that master's first slot, clients and
    /// requests split between them. Its requests/s against
    /// `ClusterDirect` compare the hop alone: the servers get the same keys
    /// in one slot each (spread keys cost them more per request).
    SlotwayClusterTagged,
    /// One redis-benchmark per standalone server, run at the same time,
    /// clients and requests split between them.
    StandaloneDirect,
    /// nutcracker 0.5.0 (`-v 4`) over the standalone servers.
    Nutcracker,
    /// `slotway nutcracker` (pool mode) over the standalone servers.
    SlotwayPool,
    /// `slotway-floor` over the standalone servers: a minimal one-thread
    /// proxy on a hand-written event loop, the least a hop costs on this
    /// host (the `floor` section only).
    Floor,
    /// `slotway-floor --tasks`: the same minimal proxy in the shape of
    /// Slotway's data path (tokio, a task per client and per server,
    /// channels between them; the `floor` section only).
    FloorTasks,
}

/// The servers behind a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Cluster,
    Standalone,
}

impl Target {
    /// The matrix's targets, in run order within a case: each backend's
    /// direct run first.
    pub const ALL: [Target; 6] = [
        Target::ClusterDirect,
        Target::SlotwayCluster,
        Target::SlotwayClusterTagged,
        Target::StandaloneDirect,
        Target::Nutcracker,
        Target::SlotwayPool,
    ];

    /// The `floor` section's targets, in run order within a case: the
    /// direct run first, for the requests/s each proxy keeps of it.
    pub const FLOOR_COMPARED: [Target; 5] = [
        Target::StandaloneDirect,
        Target::Nutcracker,
        Target::SlotwayPool,
        Target::FloorTasks,
        Target::Floor,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::ClusterDirect => "cluster direct",
            Target::SlotwayCluster => "slotway cluster",
            Target::SlotwayClusterTagged => "slotway cluster, --cluster's keys",
            Target::StandaloneDirect => "standalone direct",
            Target::Nutcracker => "nutcracker",
            Target::SlotwayPool => "slotway pool",
            Target::Floor => "floor (event loop)",
            Target::FloorTasks => "floor (tasks)",
        }
    }

    pub fn backend(self) -> Backend {
        match self {
            Target::ClusterDirect | Target::SlotwayCluster | Target::SlotwayClusterTagged => {
                Backend::Cluster
            }
            Target::StandaloneDirect
            | Target::Nutcracker
            | Target::SlotwayPool
            | Target::Floor
            | Target::FloorTasks => Backend::Standalone,
        }
    }

    /// Whether a proxy process serves this target.
    pub fn is_proxy(self) -> bool {
        !matches!(self, Target::ClusterDirect | Target::StandaloneDirect)
    }

    /// Whether this target has a proxy process of its own (another target
    /// can load the same process differently).
    pub fn own_process(self) -> bool {
        self.is_proxy() && self != Target::SlotwayClusterTagged
    }

    /// The direct target on the same servers.
    pub fn baseline(self) -> Target {
        match self.backend() {
            Backend::Cluster => Target::ClusterDirect,
            Backend::Standalone => Target::StandaloneDirect,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_direct_target_per_backend() {
        for t in Target::ALL {
            assert!(!t.baseline().is_proxy());
            assert_eq!(t.baseline().backend(), t.backend());
            // The baseline runs before the proxies on its servers.
            let pos = |x| Target::ALL.iter().position(|&y| y == x).unwrap();
            assert!(pos(t.baseline()) <= pos(t));
        }
    }
}
