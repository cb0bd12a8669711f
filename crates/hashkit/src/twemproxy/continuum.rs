//! nutcracker's three distributions (`ketama`, `modula`, `random`) and the
//! continuum each builds from a pool's live servers.
//!
//! Owns [`Distribution`], [`Continuum`] and [`ketama_point_count`].
//! Invariants:
//! - a continuum always has at least one live server, so a lookup always
//!   returns an index; indices returned are positions in the caller's
//!   `servers` slice, whatever order nutcracker uses internally;
//! - nutcracker's internal order is the servers sorted by identity
//!   ([`compare_names`]); modula and random walk the live servers in that
//!   order, and ketama inserts points in that order;
//! - only live servers count: in the number of servers, in the total
//!   weight and in the points, exactly as nutcracker rebuilds after an
//!   ejection.
//!
//! ketama: each live server gets `ketama_point_count(weight, total, n)`
//! points, computed in IEEE `f32` as nutcracker's C does (so 25 equal servers
//! get 156 points each, not 160). For `i` in `0..points / 4`, the MD5 of
//! `"{identity}-{i}"` gives four points, its little-endian `u32` words. A
//! key hash maps to the first point `>=` it, wrapping to the first point.
//! Ties between equal point values keep insertion order (glibc's `qsort` is
//! a stable merge sort for such arrays); in practice they do not occur.
//!
//! Not reproducible: nutcracker 0.5.0 formats each point name into a
//! 273-byte buffer but hashes the untruncated length, so for a point name
//! longer than 272 bytes ([`KETAMA_MAX_POINT_NAME`], i.e. identities longer
//! than about 269 bytes) it hashes bytes past the end of its buffer (checked
//! against the binary: 269-byte names place like this model, 270-byte ones
//! do not). Here the whole name is hashed; identities that long should be
//! rejected or warned about by the configuration layer.
//!
//! A ketama lookup starts from a bucket index over the ring (the first point
//! of each of 1,024 equal ranges of hash values) instead of a binary search
//! of the whole ring, which cost a third of a pool request's routing: the
//! point it finds is the same, so placement is unchanged.
//!
//! modula: the live servers' weights laid end to end in sorted order;
//! `hash % total_weight` picks the server. random: one slot per live server
//! (weights ignored), `draw % n_live`.

use std::fmt;
use std::str::FromStr;

use md5::{Digest, Md5};

use super::server::{Server, compare_names};

/// nutcracker's ketama points per server at equal weights.
const KETAMA_POINTS_PER_SERVER: f32 = 160.0;

/// Longest ketama point name (`"{identity}-{i}"`) nutcracker 0.5.0 hashes
/// correctly; longer ones make it read past its 273-byte buffer.
pub const KETAMA_MAX_POINT_NAME: usize = 272;

/// A pool's `distribution:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Distribution {
    /// Consistent hashing on an MD5 continuum (nutcracker's default).
    #[default]
    Ketama,
    /// `hash % total_weight` over the weighted server list.
    Modula,
    /// A random live server per request; the key is ignored.
    Random,
}

impl Distribution {
    /// All three, in nutcracker's declaration order.
    pub const ALL: [Distribution; 3] = [
        Distribution::Ketama,
        Distribution::Modula,
        Distribution::Random,
    ];

    /// The name as written in nutcracker's YAML.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Distribution::Ketama => "ketama",
            Distribution::Modula => "modula",
            Distribution::Random => "random",
        }
    }
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown `distribution:` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown distribution `{0}` (expected ketama, modula or random)")]
pub struct UnknownDistribution(pub String);

impl FromStr for Distribution {
    type Err = UnknownDistribution;

    /// Exact, case-sensitive match, as nutcracker compares the YAML value.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Distribution::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| UnknownDistribution(s.to_string()))
    }
}

/// Why a continuum cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContinuumError {
    /// The server list is empty.
    #[error("a pool needs at least one server")]
    NoServers,
    /// Every server is marked dead.
    #[error("no live servers")]
    NoLiveServers,
    /// A server has weight 0 (nutcracker rejects it).
    #[error("server `{0}` has a zero weight")]
    ZeroWeight(String),
    /// Two servers share an identity (nutcracker rejects it).
    #[error("two servers are named `{0}`")]
    DuplicateIdentity(String),
    /// The live servers' weights add up to more than `u32::MAX`.
    #[error("the total weight overflows 32 bits")]
    WeightOverflow,
    /// `live` does not have one flag per server.
    #[error("{live} liveness flags for {servers} servers")]
    LiveMismatch {
        /// Number of servers.
        servers: usize,
        /// Number of flags.
        live: usize,
    },
}

/// One entry of a continuum: a ring point (ketama) or the end of a weight
/// range (modula), and the caller's server index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Point {
    value: u32,
    server: usize,
}

/// The lookup structure of one pool: a sorted ketama ring, a modula weight
/// table or a random slot list, always with at least one live server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuum {
    distribution: Distribution,
    /// ketama: ring points sorted by value. modula: cumulative weight
    /// boundaries (exclusive ends), ascending. random: empty.
    points: Vec<Point>,
    /// modula: total live weight; random: live servers; ketama: unused.
    modulus: u32,
    /// ketama: `buckets[b]` is the position of the first point whose value
    /// is at least `b << BUCKET_SHIFT`, plus `points.len()` at the end
    /// ([`ring_buckets`]); empty otherwise.
    buckets: Vec<u32>,
    /// Live servers (caller indices) in nutcracker's order; never empty.
    live: Vec<usize>,
}

/// Points nutcracker gives a live server of `weight` when the live servers
/// weigh `total_weight` and number `live_servers`, in its `f32` arithmetic:
/// `floor(f32(f32(f32(pct * 160) / 4) * n) + 1e-10) * 4` with
/// `pct = f32(weight) / f32(total_weight)`. A multiple of 4.
#[must_use]
pub fn ketama_point_count(weight: u32, total_weight: u32, live_servers: u32) -> u32 {
    if total_weight == 0 {
        return 0;
    }
    let pct = weight as f32 / total_weight as f32;
    let per_hash = pct * KETAMA_POINTS_PER_SERVER / 4.0;
    let scaled = per_hash * live_servers as f32;
    // C adds a double constant, then the cast back rounds to f32.
    let nudged = (f64::from(scaled) + 0.000_000_000_1) as f32;
    (nudged.floor() * 4.0) as u32
}

/// The four ketama points of MD5(`name`): its little-endian `u32` words.
fn ketama_words(name: &[u8]) -> [u32; 4] {
    let d: [u8; 16] = Md5::digest(name).into();
    let word = |i: usize| {
        let mut w = [0u8; 4];
        if let Some(src) = d.get(i * 4..i * 4 + 4) {
            w.copy_from_slice(src);
        }
        u32::from_le_bytes(w)
    };
    [word(0), word(1), word(2), word(3)]
}

impl Continuum {
    /// The continuum of `servers`, all live.
    pub fn new(
        distribution: Distribution,
        servers: &[Server],
    ) -> Result<Continuum, ContinuumError> {
        Self::with_live(distribution, servers, &vec![true; servers.len()])
    }

    /// The continuum of the servers whose `live` flag is set (one flag per
    /// server); dead servers are left out as nutcracker leaves out ejected
    /// ones, but still must be valid and uniquely named.
    pub fn with_live(
        distribution: Distribution,
        servers: &[Server],
        live: &[bool],
    ) -> Result<Continuum, ContinuumError> {
        if servers.is_empty() {
            return Err(ContinuumError::NoServers);
        }
        if live.len() != servers.len() {
            return Err(ContinuumError::LiveMismatch {
                servers: servers.len(),
                live: live.len(),
            });
        }
        if let Some(s) = servers.iter().find(|s| s.weight == 0) {
            return Err(ContinuumError::ZeroWeight(s.identity.clone()));
        }
        // nutcracker's server order: sorted by identity.
        let mut order: Vec<usize> = (0..servers.len()).collect();
        order.sort_by(|&a, &b| {
            let name = |i: usize| servers.get(i).map_or(&b""[..], |s| s.identity.as_bytes());
            compare_names(name(a), name(b))
        });
        for pair in order.windows(2) {
            if let [a, b] = *pair {
                let (sa, sb) = (servers.get(a), servers.get(b));
                if let (Some(sa), Some(sb)) = (sa, sb)
                    && sa.identity == sb.identity
                {
                    return Err(ContinuumError::DuplicateIdentity(sa.identity.clone()));
                }
            }
        }
        // (caller index, server) of live servers, in nutcracker's order.
        let alive: Vec<(usize, &Server)> = order
            .iter()
            .filter(|&&i| live.get(i).copied().unwrap_or(false))
            .filter_map(|&i| servers.get(i).map(|s| (i, s)))
            .collect();
        if alive.is_empty() {
            return Err(ContinuumError::NoLiveServers);
        }
        let total = alive
            .iter()
            .try_fold(0u32, |acc, (_, s)| acc.checked_add(s.weight))
            .ok_or(ContinuumError::WeightOverflow)?;
        let n_live = u32::try_from(alive.len()).map_err(|_| ContinuumError::WeightOverflow)?;
        let (points, modulus) = match distribution {
            Distribution::Ketama => (ketama_points(&alive, total, n_live), 0),
            Distribution::Modula => {
                let mut end = 0u32;
                let points = alive
                    .iter()
                    .map(|&(server, s)| {
                        end += s.weight; // cannot overflow: `total` fits
                        Point { value: end, server }
                    })
                    .collect();
                (points, total)
            }
            Distribution::Random => (Vec::new(), n_live),
        };
        let buckets = match distribution {
            Distribution::Ketama => ring_buckets(&points),
            Distribution::Modula | Distribution::Random => Vec::new(),
        };
        Ok(Continuum {
            distribution,
            points,
            modulus,
            buckets,
            live: alive.iter().map(|&(i, _)| i).collect(),
        })
    }

    /// The distribution this continuum implements.
    #[must_use]
    pub fn distribution(&self) -> Distribution {
        self.distribution
    }

    /// The server (index into the slice given at construction) for a key
    /// hash. For [`Distribution::Random`], nutcracker ignores the key: the
    /// argument is then used as the random draw, as in
    /// [`server_for_random`](Self::server_for_random).
    #[must_use]
    pub fn server_for(&self, key_hash: u32) -> usize {
        let at = match self.distribution {
            Distribution::Ketama => {
                let i = self.first_point_at_least(key_hash);
                if i == self.points.len() { 0 } else { i }
            }
            Distribution::Modula => {
                let r = key_hash % self.modulus.max(1);
                self.points.partition_point(|p| p.value <= r)
            }
            Distribution::Random => return self.server_for_random(key_hash),
        };
        self.points.get(at).map_or(0, |p| p.server)
    }

    /// ketama: the position of the first point `>= key_hash` (`len` when
    /// there is none). Every point before the hash's bucket is below the
    /// hash and every point after it above, so only the bucket is searched.
    fn first_point_at_least(&self, key_hash: u32) -> usize {
        let b = (key_hash >> BUCKET_SHIFT) as usize;
        let range = match (self.buckets.get(b), self.buckets.get(b + 1)) {
            (Some(&lo), Some(&hi)) => lo as usize..hi as usize,
            // (No index: the ring was too large for `u32` positions.)
            _ => 0..self.points.len(),
        };
        let lo = range.start;
        let bucket = self.points.get(range).unwrap_or_default();
        lo + bucket.partition_point(|p| p.value < key_hash)
    }

    /// A live server picked by `draw % live_servers` in nutcracker's
    /// order, whatever the distribution: what `random` does with libc's
    /// `random()`. The caller supplies the draw so this stays pure.
    #[must_use]
    pub fn server_for_random(&self, draw: u32) -> usize {
        let n = self.live.len().max(1) as u64;
        let at = usize::try_from(u64::from(draw) % n).unwrap_or(0);
        self.live.get(at).copied().unwrap_or(0)
    }

    /// The live servers (caller indices) in nutcracker's internal order.
    #[must_use]
    pub fn live_servers(&self) -> &[usize] {
        &self.live
    }

    /// Ketama ring points as `(value, server)`, ascending; empty for the
    /// other distributions. For diagnostics and tests.
    #[must_use]
    pub fn ring(&self) -> Vec<(u32, usize)> {
        match self.distribution {
            Distribution::Ketama => self.points.iter().map(|p| (p.value, p.server)).collect(),
            _ => Vec::new(),
        }
    }
}

/// Hash values per bucket of the ring index: 2^22, so 1,024 buckets (4 KiB),
/// about half a point each for 3 servers and 16 for 100.
const BUCKET_SHIFT: u32 = 22;

/// The bucket index of a sorted ring (see [`Continuum::buckets`]); empty when
/// a position does not fit `u32`, and lookups then search the whole ring.
fn ring_buckets(points: &[Point]) -> Vec<u32> {
    let buckets = 1usize << (32 - BUCKET_SHIFT);
    let Ok(len) = u32::try_from(points.len()) else {
        return Vec::new();
    };
    let mut index = Vec::with_capacity(buckets + 1);
    let mut at = 0u32;
    for b in 0..buckets {
        let start = u32::try_from(b).unwrap_or(u32::MAX) << BUCKET_SHIFT;
        while points.get(at as usize).is_some_and(|p| p.value < start) {
            at += 1;
        }
        index.push(at);
    }
    index.push(len);
    index
}

/// The sorted ketama ring of the live servers (given in nutcracker's order).
fn ketama_points(alive: &[(usize, &Server)], total: u32, n_live: u32) -> Vec<Point> {
    let mut points = Vec::with_capacity(alive.len() * 160);
    let mut name = Vec::new();
    for &(server, s) in alive {
        let count = ketama_point_count(s.weight, total, n_live);
        for i in 0..count / 4 {
            name.clear();
            name.extend_from_slice(s.identity.as_bytes());
            name.push(b'-');
            name.extend_from_slice(i.to_string().as_bytes());
            for value in ketama_words(&name) {
                points.push(Point { value, server });
            }
        }
    }
    // Stable, like glibc's merge-sort qsort: ties keep insertion order.
    points.sort_by_key(|p| p.value);
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for d in Distribution::ALL {
            assert_eq!(d.name().parse::<Distribution>(), Ok(d));
        }
        assert!("Ketama".parse::<Distribution>().is_err());
        assert_eq!(Distribution::default(), Distribution::Ketama);
    }

    #[test]
    fn point_hash_vector() {
        // Reference doc §1.4: words 0 and 3 of MD5("server1-8").
        let w = ketama_words(b"server1-8");
        assert_eq!(w[0], 3_853_726_576);
        assert_eq!(w[3], 2_667_054_752);
    }

    #[test]
    fn point_counts() {
        assert_eq!(ketama_point_count(1, 4, 4), 160);
        assert_eq!(ketama_point_count(1, 25, 25), 156);
        assert_eq!(ketama_point_count(1, 24, 24), 160);
        // Skewed weights 5,100,1,7 (reference doc: 28/564/4/36).
        let got: Vec<u32> = [5, 100, 1, 7]
            .iter()
            .map(|&w| ketama_point_count(w, 113, 4))
            .collect();
        assert_eq!(got, [28, 564, 4, 36]);
        // The reference doc's list of n below 400 with 156 points.
        let n156: Vec<u32> = (1..400)
            .filter(|&n| ketama_point_count(1, n, n) == 156)
            .collect();
        assert_eq!(n156.len(), 41);
        assert_eq!(&n156[..9], &[25, 47, 50, 55, 61, 71, 94, 100, 107]);
        assert!((1..400).all(|n| matches!(ketama_point_count(1, n, n), 156 | 160)));
    }

    #[test]
    fn errors() {
        let s = |n: &str, w| Server::new(n, w);
        assert_eq!(
            Continuum::new(Distribution::Ketama, &[]),
            Err(ContinuumError::NoServers)
        );
        assert_eq!(
            Continuum::new(Distribution::Modula, &[s("a", 0)]),
            Err(ContinuumError::ZeroWeight("a".into()))
        );
        assert_eq!(
            Continuum::new(Distribution::Modula, &[s("a", 1), s("b", 1), s("a", 2)]),
            Err(ContinuumError::DuplicateIdentity("a".into()))
        );
        assert_eq!(
            Continuum::new(Distribution::Modula, &[s("a", u32::MAX), s("b", 1)]),
            Err(ContinuumError::WeightOverflow)
        );
        assert_eq!(
            Continuum::with_live(Distribution::Ketama, &[s("a", 1)], &[false]),
            Err(ContinuumError::NoLiveServers)
        );
    }

    #[test]
    fn modula_uses_sorted_names_and_weights() {
        // Caller order differs from nutcracker's: s10 sorts after s9.
        let servers = [
            Server::new("s10", 2),
            Server::new("s9", 1),
            Server::new("a", 3),
        ];
        let c = Continuum::new(Distribution::Modula, &servers).unwrap();
        // Sorted: a(3) s9(1) s10(2): slots 0..3 -> a, 3 -> s9, 4..6 -> s10.
        let got: Vec<usize> = (0..12).map(|h| c.server_for(h)).collect();
        assert_eq!(got, [2, 2, 2, 1, 0, 0, 2, 2, 2, 1, 0, 0]);
        assert_eq!(c.live_servers(), [2, 1, 0]);
    }

    #[test]
    fn random_ignores_weights() {
        let servers = [Server::new("b", 9), Server::new("a", 1)];
        let c = Continuum::new(Distribution::Random, &servers).unwrap();
        let got: Vec<usize> = (0..4).map(|d| c.server_for_random(d)).collect();
        assert_eq!(got, [1, 0, 1, 0]);
    }

    #[test]
    fn ketama_lookup_wraps() {
        let servers = [Server::new("a:1", 1), Server::new("b:2", 1)];
        let c = Continuum::new(Distribution::Ketama, &servers).unwrap();
        let ring = c.ring();
        assert_eq!(ring.len(), 320);
        assert!(ring.windows(2).all(|w| w[0].0 <= w[1].0));
        let (first, last) = (ring[0], ring[ring.len() - 1]);
        assert_eq!(c.server_for(0), first.1);
        assert_eq!(c.server_for(first.0), first.1);
        assert_eq!(c.server_for(last.0), last.1);
        if last.0 < u32::MAX {
            assert_eq!(c.server_for(last.0 + 1), first.1);
        }
        assert_eq!(c.server_for(ring[5].0 + 1), ring[6].1);
    }

    /// The bucket index finds exactly the point a search of the whole ring
    /// finds: at every point, beside it, at the ends, and at spread hashes.
    #[test]
    fn bucket_index_lookup_matches_a_full_search() {
        let reference = |ring: &[(u32, usize)], h: u32| {
            let i = ring.partition_point(|&(v, _)| v < h);
            ring.get(i).or(ring.first()).unwrap().1
        };
        for (n, weights) in [(2, 1), (3, 1), (25, 3), (100, 1)] {
            let servers: Vec<Server> = (0..n)
                .map(|i| Server::new(format!("10.0.0.{i}:6379"), 1 + (i % weights)))
                .collect();
            let c = Continuum::new(Distribution::Ketama, &servers).unwrap();
            assert_eq!(c.buckets.len(), 1025);
            let ring = c.ring();
            let mut hashes = vec![0, 1, u32::MAX, u32::MAX - 1, 1 << BUCKET_SHIFT];
            for &(v, _) in &ring {
                hashes.extend([v, v.wrapping_add(1), v.wrapping_sub(1)]);
            }
            let mut x = 0x2545_f491_u32;
            for _ in 0..20_000 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                hashes.push(x);
            }
            for h in hashes {
                assert_eq!(c.server_for(h), reference(&ring, h), "n={n} hash={h}");
            }
        }
    }

    #[test]
    fn dead_servers_change_counts() {
        let servers: Vec<Server> = (0..26).map(|i| Server::new(format!("n{i}"), 1)).collect();
        let mut live = vec![true; 26];
        live[3] = false;
        let c = Continuum::with_live(Distribution::Ketama, &servers, &live).unwrap();
        // 25 live equal servers: 156 points each.
        assert_eq!(c.ring().len(), 25 * 156);
        assert!(c.ring().iter().all(|&(_, s)| s != 3));
    }
}
