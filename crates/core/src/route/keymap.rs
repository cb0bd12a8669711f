//! [`KeyMap`]: which shard a key belongs to.
//!
//! Redis Cluster shards keys by CRC16 slot; a sharded pool (twemproxy's
//! model) by its placement (hash + ketama/modula/random over its servers).
//! Both give a small number, the *shard*: a cluster slot, or a pool
//! server's index. Everything downstream (cross-shard checks, splitting
//! multi-key commands, the table that maps shards to nodes) works on that
//! number and never needs to know which model produced it.
//!
//! Invariant: a pool shard is always `< servers.len()` (≤ 16384, so it fits
//! the slot table).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use slotway_hashkit::key_slot;
use slotway_hashkit::twemproxy::{Distribution, Placement};

/// How keys map to shards.
#[derive(Clone, Debug, Default)]
pub enum KeyMap {
    /// Redis Cluster: the CRC16 slot of the key's hash tag.
    #[default]
    Cluster,
    /// A sharded pool: the index of the server nutcracker would pick.
    Pool(Arc<Placement>),
}

impl KeyMap {
    /// The shard of `key`.
    #[must_use]
    pub fn shard(&self, key: &[u8]) -> u16 {
        match self {
            Self::Cluster => key_slot(key),
            Self::Pool(placement) => {
                // Only `random` uses the draw: the others must not pay a
                // shared atomic per key on the data path.
                let draw = if placement.continuum().distribution() == Distribution::Random {
                    random_draw()
                } else {
                    0
                };
                let server = placement.server_for_key(key, draw);
                u16::try_from(server).unwrap_or(0)
            }
        }
    }

    /// True for a sharded pool (no cluster behind the proxy).
    #[must_use]
    pub fn is_pool(&self) -> bool {
        matches!(self, Self::Pool(_))
    }
}

/// The `random` distribution's draw: any well-spread number will do (it
/// only spreads load, nothing depends on which server a draw picks), so a
/// counter mixed with SplitMix64 is enough and costs no syscall.
fn random_draw() -> u32 {
    static COUNTER: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    let mut z = COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    u32::try_from((z ^ (z >> 31)) >> 32).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use slotway_hashkit::twemproxy::{Hash, Server};

    #[test]
    fn cluster_shard_is_the_slot() {
        assert_eq!(KeyMap::Cluster.shard(b"foo"), 12182);
    }

    #[test]
    fn pool_shard_is_the_server_index() {
        let servers = [
            Server::new("127.0.0.1:6379", 1),
            Server::new("127.0.0.1:6380", 1),
            Server::new("127.0.0.1:6381", 1),
        ];
        let p = Placement::new(Hash::Fnv1a64, None, Distribution::Modula, &servers).unwrap();
        let map = KeyMap::Pool(Arc::new(p.clone()));
        for key in [&b"a"[..], b"foo", b"user:1000"] {
            assert_eq!(usize::from(map.shard(key)), p.server_for_key(key, 0));
        }
    }
}
