//! twemproxy (nutcracker 0.5.0) key placement, bit for bit: which server of
//! a sharded pool a key lives on.
//!
//! Owns the pool-level rule, [`Placement`], built from the pieces in the
//! submodules: [`Hash`](enum@Hash) (the 12 `hash:` functions), [`HashTag`]
//! (`hash_tag:`), [`Distribution`]/[`Continuum`] (`distribution:`) and
//! [`Server`]/[`ServerEntry`] (identities from `servers:`).
//!
//! Invariants, in nutcracker's order of evaluation:
//! 1. a pool with exactly one server always uses it (nothing is hashed);
//! 2. `random` picks a live server from a caller-supplied draw (the key is
//!    ignored);
//! 3. otherwise the key is narrowed by the hash tag, if any; an empty
//!    (narrowed) key hashes to 0 without calling the hash function; the
//!    hash then goes to ketama or modula.
//!
//! Everything here is pure: no I/O, no clock, no global state. Results are
//! those of nutcracker on x86-64 (signed `char`); on platforms where `char`
//! is unsigned nutcracker itself places non-ASCII keys differently.

mod continuum;
mod hash;
mod server;
mod tag;

pub use continuum::{
    Continuum, ContinuumError, Distribution, KETAMA_MAX_POINT_NAME, UnknownDistribution,
    ketama_point_count,
};
pub use hash::{Hash, UnknownHash};
pub use server::{EntryError, KETAMA_DEFAULT_PORT, Server, ServerEntry, compare_names};
pub use tag::{HashTag, InvalidHashTag};

/// The hash nutcracker feeds to ketama/modula for `key`: the tagged part
/// (if `tag` is set and matches), 0 if that part is empty, else
/// `hash.hash(part)`.
#[must_use]
pub fn key_hash(hash: Hash, tag: Option<HashTag>, key: &[u8]) -> u32 {
    let part = match tag {
        Some(t) => t.apply(key),
        None => key,
    };
    if part.is_empty() { 0 } else { hash.hash(part) }
}

/// A pool's complete placement rule: hash, optional hash tag, and the
/// continuum of its live servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    hash: Hash,
    tag: Option<HashTag>,
    continuum: Continuum,
    servers: usize,
}

impl Placement {
    /// The rule for a pool whose servers are all live.
    pub fn new(
        hash: Hash,
        tag: Option<HashTag>,
        distribution: Distribution,
        servers: &[Server],
    ) -> Result<Placement, ContinuumError> {
        Self::with_live(hash, tag, distribution, servers, &vec![true; servers.len()])
    }

    /// The rule after ejections: only servers whose `live` flag is set are
    /// placed on (see [`Continuum::with_live`]).
    pub fn with_live(
        hash: Hash,
        tag: Option<HashTag>,
        distribution: Distribution,
        servers: &[Server],
        live: &[bool],
    ) -> Result<Placement, ContinuumError> {
        Ok(Placement {
            hash,
            tag,
            continuum: Continuum::with_live(distribution, servers, live)?,
            servers: servers.len(),
        })
    }

    /// The hash function.
    #[must_use]
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// The hash tag, if any.
    #[must_use]
    pub fn tag(&self) -> Option<HashTag> {
        self.tag
    }

    /// The continuum.
    #[must_use]
    pub fn continuum(&self) -> &Continuum {
        &self.continuum
    }

    /// [`key_hash`] with this pool's hash and tag.
    #[must_use]
    pub fn key_hash(&self, key: &[u8]) -> u32 {
        key_hash(self.hash, self.tag, key)
    }

    /// The server (index into the slice given at construction) that
    /// nutcracker sends `key` to. `random_draw` is used only by the
    /// `random` distribution (nutcracker uses libc `random()` there); pass
    /// anything, e.g. 0, for the others.
    #[must_use]
    pub fn server_for_key(&self, key: &[u8], random_draw: u32) -> usize {
        if self.servers == 1 {
            return 0;
        }
        match self.continuum.distribution() {
            Distribution::Random => self.continuum.server_for_random(random_draw),
            Distribution::Ketama | Distribution::Modula => {
                self.continuum.server_for(self.key_hash(key))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_tagged_keys() {
        let tag = HashTag::new(b"{}").ok();
        assert_eq!(key_hash(Hash::Fnv1a64, None, b""), 0);
        assert_eq!(key_hash(Hash::Fnv1a64, tag, b""), 0);
        assert_eq!(
            key_hash(Hash::Fnv1a64, tag, b"{a}b"),
            Hash::Fnv1a64.hash(b"a")
        );
        assert_eq!(
            key_hash(Hash::Fnv1a64, tag, b"{}b"),
            Hash::Fnv1a64.hash(b"{}b")
        );
    }

    #[test]
    fn single_server_is_never_hashed() {
        let p = Placement::new(
            Hash::Crc32,
            None,
            Distribution::Ketama,
            &[Server::new("only", 3)],
        )
        .unwrap();
        assert_eq!(p.server_for_key(b"anything", 7), 0);
        assert_eq!(p.server_for_key(b"", 0), 0);
    }

    #[test]
    fn random_uses_the_draw() {
        let servers = [Server::new("b", 1), Server::new("a", 1)];
        let p = Placement::new(Hash::Md5, None, Distribution::Random, &servers).unwrap();
        assert_eq!(p.server_for_key(b"k", 0), 1);
        assert_eq!(p.server_for_key(b"k", 1), 0);
    }
}
