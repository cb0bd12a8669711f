//! [`SlotTable`] and [`Topology`].
//!
//! The slot table maps each of the 16384 slots to the master that serves it.
//! It is immutable once published: readers take a snapshot through
//! `ArcSwap` without locking, writers build a new table and swap it in under
//! one mutex, bumping the version. `Node`s are kept in a registry by address
//! and reused from one table to the next, so a refresh never drops healthy
//! connections.
//!
//! Invariants: `slots[s]` is either [`NO_NODE`] or an index into `nodes`;
//! versions only grow; the registry holds exactly the nodes of the current
//! view plus ASK/MOVED targets learned since the last full refresh.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption, Guard};
use parking_lot::Mutex;
use slotway_hashkit::SLOT_COUNT;
use tokio::sync::Notify;
use tracing::info;

use super::epoch::{self, Merged, SlotEpochs};
use super::migration::SlotMigration;
use super::view::ClusterView;
use crate::backend::Node;
use crate::route::KeyMap;

/// Marks a slot no known master serves.
pub const NO_NODE: u16 = u16::MAX;

/// Immutable map from slot to master.
#[derive(Debug)]
pub struct SlotTable {
    version: u64,
    slots: Box<[u16]>,
    nodes: Vec<Arc<Node>>,
    /// Replicas serving reads, per master (same index as `nodes`).
    replicas: Vec<Vec<Arc<Node>>>,
    /// How keys map to the "slots" of this table (CRC16 slots, or a pool's
    /// server indexes).
    keys: KeyMap,
}

impl SlotTable {
    pub(crate) fn empty(keys: KeyMap) -> Self {
        Self {
            version: 0,
            slots: vec![NO_NODE; usize::from(SLOT_COUNT)].into_boxed_slice(),
            nodes: Vec::new(),
            replicas: Vec::new(),
            keys,
        }
    }

    /// How keys map to this table's slots.
    #[must_use]
    pub fn keys(&self) -> &KeyMap {
        &self.keys
    }

    /// Grows with every change.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// True once any slot has an owner: the cluster was reached at least once.
    #[must_use]
    pub fn is_known(&self) -> bool {
        !self.nodes.is_empty()
    }

    /// The master serving `slot`.
    #[must_use]
    pub fn master(&self, slot: u16) -> Option<&Arc<Node>> {
        let idx = *self.slots.get(usize::from(slot))?;
        self.nodes.get(usize::from(idx))
    }

    /// A replica of the master serving `slot`, chosen by `pick` (a client
    /// id, so a client keeps reading from the same replica).
    #[must_use]
    pub fn replica(&self, slot: u16, pick: u64) -> Option<&Arc<Node>> {
        let idx = *self.slots.get(usize::from(slot))?;
        let replicas = self.replicas.get(usize::from(idx))?;
        let n = replicas.len() as u64;
        if n == 0 {
            return None;
        }
        replicas.get(usize::try_from(pick % n).ok()?)
    }

    /// Masters of this table (each once).
    #[must_use]
    pub fn masters(&self) -> &[Arc<Node>] {
        &self.nodes
    }

    /// Some master, chosen by `pick` (e.g. a client id) so that keyless
    /// commands spread over the cluster yet stay on one node per client.
    #[must_use]
    pub fn any_master(&self, pick: u64) -> Option<&Arc<Node>> {
        let n = self.nodes.len() as u64;
        if n == 0 {
            return None;
        }
        self.nodes.get(usize::try_from(pick % n).ok()?)
    }

    /// Where classic pub/sub (SUBSCRIBE, PSUBSCRIBE, PUBLISH) goes. A
    /// cluster forwards PUBLISH to every node, so any master will do; the
    /// servers of a pool know nothing of each other, so all of a pool's
    /// classic pub/sub meets on its first server.
    #[must_use]
    pub fn pubsub_master(&self, pick: u64) -> Option<&Arc<Node>> {
        if self.keys.is_pool() {
            self.master(0)
        } else {
            self.any_master(pick)
        }
    }

    /// Masters ordered by the first slot each serves: a stable order for
    /// fan-outs and SCAN, whatever order the nodes described the cluster in.
    #[must_use]
    pub fn masters_in_slot_order(&self) -> Vec<&Arc<Node>> {
        let mut seen = vec![false; self.nodes.len()];
        let mut order = Vec::with_capacity(self.nodes.len());
        for &idx in self.slots.iter() {
            let i = usize::from(idx);
            if let Some(flag) = seen.get_mut(i)
                && !*flag
            {
                *flag = true;
                if let Some(n) = self.nodes.get(i) {
                    order.push(n);
                }
            }
        }
        order
    }

    /// Number of slots with an owner.
    #[must_use]
    pub fn covered_slots(&self) -> usize {
        self.slots.iter().filter(|&&i| i != NO_NODE).count()
    }
}

/// Parameters for the connections of nodes the topology creates.
#[derive(Clone, Debug)]
pub struct NodeParams {
    /// Shared connections per node and protocol.
    pub connections_per_node: usize,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// A shared connection silent this long with requests in flight is closed.
    pub reply_timeout: Duration,
    /// Confirm writes with replicas before replying.
    pub write_ack: Option<crate::backend::conn::WriteAck>,
    /// Sent first on every connection (backend AUTH, SELECT).
    pub prelude: crate::backend::Prelude,
    /// The runtimes shared connections are spread over (one set each).
    pub workers: crate::workers::Workers,
}

/// The live topology: the current slot table plus what is needed to change it.
#[derive(Debug)]
pub struct Topology {
    /// Recent noteworthy events.
    events: crate::events::Journal,
    table: ArcSwap<SlotTable>,
    registry: Mutex<Registry>,
    refresh: Arc<Notify>,
    params: NodeParams,
    seeds: Vec<String>,
    backend_version: ArcSwapOption<String>,
    /// Slots in migration as the last successful refresh saw them
    /// (informational: the admin API shows them; routing never reads them).
    migrations: ArcSwap<Vec<SlotMigration>>,
}

#[derive(Debug, Default)]
struct Registry {
    nodes: HashMap<Arc<str>, Arc<Node>>,
    /// Replicas, whose connections are in READONLY mode.
    replicas: HashMap<Arc<str>, Arc<Node>>,
    /// Every node address of the last full view (masters first): where the
    /// next refresh asks before falling back to the seeds.
    known: Vec<String>,
    /// Owner and config epoch of each slot as the refresher installed them.
    epochs: SlotEpochs,
}

impl Registry {
    fn node(&mut self, addr: &str, params: &NodeParams, refresh: &Arc<Notify>) -> Arc<Node> {
        get_or_create(&mut self.nodes, addr, params, refresh, false)
    }

    fn replica(&mut self, addr: &str, params: &NodeParams, refresh: &Arc<Notify>) -> Arc<Node> {
        get_or_create(&mut self.replicas, addr, params, refresh, true)
    }
}

/// The node at `addr` in `map`, creating its connections if it is new.
/// Replicas (`readonly`) serve reads and never confirm writes.
fn get_or_create(
    map: &mut HashMap<Arc<str>, Arc<Node>>,
    addr: &str,
    params: &NodeParams,
    refresh: &Arc<Notify>,
    readonly: bool,
) -> Arc<Node> {
    if let Some(node) = map.get(addr) {
        return node.clone();
    }
    let addr: Arc<str> = Arc::from(addr);
    let node = Arc::new(Node::new(addr.clone(), params, refresh, readonly));
    map.insert(addr, node.clone());
    node
}

impl Topology {
    /// An empty topology (no slot known yet) for the cluster behind `seeds`.
    #[must_use]
    pub fn new(seeds: Vec<String>, params: NodeParams) -> Self {
        Self::with_keys(seeds, params, KeyMap::Cluster)
    }

    /// An empty topology whose keys map to shards by `keys` (a sharded
    /// pool's placement; the pool manager installs its servers).
    #[must_use]
    pub fn with_keys(seeds: Vec<String>, params: NodeParams, keys: KeyMap) -> Self {
        Self {
            table: ArcSwap::from_pointee(SlotTable::empty(keys)),
            registry: Mutex::new(Registry::default()),
            refresh: Arc::new(Notify::new()),
            params,
            seeds,
            backend_version: ArcSwapOption::empty(),
            migrations: ArcSwap::from_pointee(Vec::new()),
            events: crate::events::Journal::default(),
        }
    }

    /// Recent noteworthy events (failovers, switches, ejections, reloads).
    #[must_use]
    pub fn events(&self) -> &crate::events::Journal {
        &self.events
    }

    /// The current table; cheap, lock-free.
    #[must_use]
    pub fn load(&self) -> Guard<Arc<SlotTable>> {
        self.table.load()
    }

    /// The node at `addr`, creating its connections if it is new (ASK and
    /// MOVED targets the proxy has not seen yet). Must run inside a runtime.
    #[must_use]
    pub fn node(&self, addr: &str) -> Arc<Node> {
        self.registry.lock().node(addr, &self.params, &self.refresh)
    }

    /// Applies a MOVED redirect at once: `slot` is now served by `addr`.
    /// A full refresh is requested too, since one MOVED usually means more
    /// slots moved.
    pub fn patch_slot(&self, slot: u16, addr: &str) {
        {
            let mut reg = self.registry.lock();
            let current = self.table.load_full();
            if current.master(slot).is_some_and(|n| &**n.addr() == addr) {
                return;
            }
            let node = reg.node(addr, &self.params, &self.refresh);
            let mut nodes = current.nodes.clone();
            let mut replicas = current.replicas.clone();
            let idx = match nodes.iter().position(|n| Arc::ptr_eq(n, &node)) {
                Some(i) => i,
                None => {
                    nodes.push(node);
                    replicas.push(Vec::new());
                    nodes.len() - 1
                }
            };
            let mut slots = current.slots.clone();
            if let (Some(entry), Ok(idx)) = (slots.get_mut(usize::from(slot)), u16::try_from(idx)) {
                *entry = idx;
            }
            self.table.store(Arc::new(SlotTable {
                version: current.version + 1,
                slots,
                nodes,
                replicas,
                keys: current.keys.clone(),
            }));
        }
        self.request_refresh();
    }

    /// Installs a full view as it is (a pool's servers; no epochs); returns
    /// whether anything changed.
    pub fn install(&self, view: &ClusterView) -> bool {
        self.install_with(view, None)
    }

    /// Installs a pool's new server list and placement together (a
    /// reload), so no request ever sees one without the other.
    pub fn install_with_keys(&self, view: &ClusterView, keys: KeyMap) -> bool {
        self.install_with(view, Some(keys))
    }

    fn install_with(&self, view: &ClusterView, new_keys: Option<KeyMap>) -> bool {
        let mut reg = self.registry.lock();
        reg.epochs = SlotEpochs::default();
        self.install_locked(&mut reg, view, new_keys)
    }

    /// Installs what the answers of one refresh say together: each slot's
    /// highest-epoch claim, never a lower epoch than what the last refresh
    /// installed for a slot the table has not moved since ([`epoch::merge`]).
    /// Returns the merge (for logging) and whether anything changed.
    pub fn install_answers(&self, answers: &[ClusterView]) -> (Merged, bool) {
        let mut reg = self.registry.lock();
        let current = self.table.load_full();
        reg.epochs
            .retain(|slot, addr| current.master(slot).is_some_and(|n| &**n.addr() == addr));
        let merged = epoch::merge(answers, &reg.epochs);
        let changed = self.install_locked(&mut reg, &merged.view, None);
        reg.epochs = merged.epochs.clone();
        (merged, changed)
    }

    fn install_locked(
        &self,
        reg: &mut Registry,
        view: &ClusterView,
        new_keys: Option<KeyMap>,
    ) -> bool {
        let current = self.table.load_full();
        let mut nodes: Vec<Arc<Node>> = Vec::new();
        let mut replicas: Vec<Vec<Arc<Node>>> = Vec::new();
        let mut slots = vec![NO_NODE; usize::from(SLOT_COUNT)].into_boxed_slice();
        for shard in &view.shards {
            if shard.ranges.is_empty() {
                continue;
            }
            let node = reg.node(&shard.master, &self.params, &self.refresh);
            let idx = match nodes.iter().position(|n| Arc::ptr_eq(n, &node)) {
                Some(i) => i,
                None => {
                    nodes.push(node);
                    replicas.push(
                        shard
                            .replicas
                            .iter()
                            .map(|r| reg.replica(r, &self.params, &self.refresh))
                            .collect(),
                    );
                    nodes.len() - 1
                }
            };
            let Ok(idx) = u16::try_from(idx) else {
                continue;
            };
            for &(lo, hi) in &shard.ranges {
                for s in lo..=hi.min(SLOT_COUNT - 1) {
                    if let Some(entry) = slots.get_mut(usize::from(s)) {
                        *entry = idx;
                    }
                }
            }
        }
        // Forget nodes that are no longer masters of this view; their
        // connections close once the last in-flight request is answered.
        reg.nodes
            .retain(|addr, _| view.shards.iter().any(|s| *s.master == **addr));
        reg.replicas.retain(|addr, _| {
            view.shards
                .iter()
                .any(|s| s.replicas.iter().any(|r| **r == **addr))
        });
        reg.known = view.all_addrs();
        let same_nodes = |a: &[Arc<Node>], b: &[Arc<Node>]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| Arc::ptr_eq(x, y))
        };
        let same = current.slots == slots
            && same_nodes(&current.nodes, &nodes)
            && current.replicas.len() == replicas.len()
            && current
                .replicas
                .iter()
                .zip(&replicas)
                .all(|(a, b)| same_nodes(a, b));
        if same && new_keys.is_none() {
            return false;
        }
        let version = current.version + 1;
        let covered = slots.iter().filter(|&&i| i != NO_NODE).count();
        self.table.store(Arc::new(SlotTable {
            version,
            slots,
            nodes,
            replicas,
            keys: new_keys.unwrap_or_else(|| current.keys.clone()),
        }));
        info!(
            event = "topology_changed",
            version,
            masters = view.shards.iter().filter(|s| !s.ranges.is_empty()).count(),
            covered_slots = covered,
            "cluster topology updated"
        );
        true
    }

    /// Replaces how keys map to shards (a pool's placement after an
    /// ejection or a restore); the shard → node map is unchanged.
    pub fn set_keys(&self, keys: KeyMap) {
        let _reg = self.registry.lock();
        let current = self.table.load_full();
        self.table.store(Arc::new(SlotTable {
            version: current.version + 1,
            slots: current.slots.clone(),
            nodes: current.nodes.clone(),
            replicas: current.replicas.clone(),
            keys,
        }));
    }

    /// Asks the refresher for a full refresh soon (coalesced).
    pub fn request_refresh(&self) {
        self.refresh.notify_one();
    }

    /// The signal the refresher waits on (also woken by failing connections).
    #[must_use]
    pub fn refresh_signal(&self) -> &Arc<Notify> {
        &self.refresh
    }

    /// Where a refresh should ask: the nodes of the last view, then the seeds.
    #[must_use]
    pub fn candidates(&self) -> Vec<String> {
        let reg = self.registry.lock();
        let mut out: Vec<String> = reg.known.clone();
        for seed in &self.seeds {
            if !out.contains(seed) {
                out.push(seed.clone());
            }
        }
        out
    }

    /// Every node of the last full view (masters first, then replicas).
    #[must_use]
    pub fn all_addrs(&self) -> Vec<String> {
        self.registry.lock().known.clone()
    }

    /// What every connection to a node sends first (backend credentials).
    #[must_use]
    pub fn prelude(&self) -> &crate::backend::Prelude {
        &self.params.prelude
    }

    /// `redis_version` of the backends, once a node has told it.
    #[must_use]
    pub fn backend_version(&self) -> Option<Arc<String>> {
        self.backend_version.load_full()
    }

    /// Slots in migration as the last successful refresh saw them.
    #[must_use]
    pub fn migrations(&self) -> Arc<Vec<SlotMigration>> {
        self.migrations.load_full()
    }

    /// Replaces the slots in migration (each successful refresh).
    pub fn set_migrations(&self, migrations: Vec<SlotMigration>) {
        self.migrations.store(Arc::new(migrations));
    }

    /// Records the backends' `redis_version`.
    pub fn set_backend_version(&self, version: String) {
        self.backend_version.store(Some(Arc::new(version)));
    }
}

/// Read access for the admin API and change logging.
impl SlotTable {
    /// Replicas of the `i`-th master of [`SlotTable::masters`].
    #[must_use]
    pub fn replicas_of(&self, i: usize) -> &[Arc<Node>] {
        self.replicas.get(i).map_or(&[], Vec::as_slice)
    }

    /// Contiguous slot ranges served by one master: `(first, last, i)` with
    /// `i` an index into [`SlotTable::masters`], in slot order; slots with
    /// no owner are left out.
    #[must_use]
    pub fn ranges(&self) -> Vec<(u16, u16, usize)> {
        let mut out: Vec<(u16, u16, usize)> = Vec::new();
        for (slot, &idx) in (0u16..).zip(self.slots.iter()) {
            if idx == NO_NODE {
                continue;
            }
            let idx = usize::from(idx);
            match out.last_mut() {
                Some((_, last, owner)) if *owner == idx && *last + 1 == slot => *last = slot,
                _ => out.push((slot, slot, idx)),
            }
        }
        out
    }
}
