//! The Redis Cluster behind the proxy: who owns which slot, and keeping that
//! knowledge current.
//!
//! - [`table`]: the versioned slot table every session reads lock-free, and
//!   the [`Topology`] that swaps it atomically (full refreshes, MOVED patches).
//! - [`view`]: parsing `CLUSTER SHARDS` / `CLUSTER SLOTS` replies (pure).
//! - [`epoch`]: choosing among disagreeing views by config epoch (pure).
//! - [`migration`]: slots in migration as the nodes report them (pure).
//! - [`control`]: a small request/response client for control-plane queries.
//! - [`refresh`]: the task that discovers and refreshes the topology.
//! - [`changes`]: what a refresh changed (failovers, masters in and out).

pub mod changes;
pub mod control;
pub mod epoch;
pub mod migration;
pub mod refresh;
pub mod table;
pub mod view;

pub use table::{SlotTable, Topology};
pub use view::{ClusterView, ShardView};
