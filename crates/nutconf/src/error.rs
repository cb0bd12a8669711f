//! Why a nutcracker pool configuration is invalid.
//!
//! Owns [`ConfError`] and its detail enums. Invariants: every message starts
//! with `conf:` like nutcracker's log lines, says the same thing nutcracker
//! says for the same mistake, and also names what nutcracker leaves out (the
//! pool, the directive and the offending value), because `slotway nutcracker
//! -t` prints it and nutcracker's own `-t` never says why.

use slotway_hashkit::twemproxy::EntryError;

/// A configuration nutcracker (or Slotway) would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfError {
    /// The text is not YAML at all (bad indentation, tabs, unclosed quote).
    #[error("conf: YAML syntax error at line {line}, column {column}: {reason}")]
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The YAML parser's explanation.
        reason: String,
    },
    /// Valid YAML, but not the shape nutcracker accepts.
    #[error("conf: line {line}: {problem}")]
    Shape {
        /// 1-based line where the offending construct starts.
        line: usize,
        /// What is wrong.
        problem: ShapeProblem,
    },
    /// The document has no pool at all.
    #[error("conf: the configuration has no pools")]
    NoPools,
    /// One directive of one pool is wrong.
    #[error("conf: pool {pool:?}: directive {key:?} {problem}")]
    Directive {
        /// The pool's name.
        pool: String,
        /// The directive (`listen`, `servers`, ...).
        key: String,
        /// What is wrong with it.
        problem: DirectiveProblem,
    },
    /// A pool as a whole is wrong (a missing or conflicting directive).
    #[error("conf: pool {pool:?}: {problem}")]
    Pool {
        /// The pool's name.
        pool: String,
        /// What is wrong.
        problem: PoolProblem,
    },
    /// Two pools listen on the same address (compared as written).
    #[error("conf: pools {first:?} and {second:?} have the same listen address {listen:?}")]
    SameListen {
        /// The pool written first.
        first: String,
        /// The pool written later.
        second: String,
        /// The shared `listen:` text.
        listen: String,
    },
    /// Two pools have the same name.
    #[error("conf: two pools are named {0:?}")]
    SamePoolName(String),
    /// The TOML form could not be read (syntax, unknown key, wrong type).
    #[error("conf: {0}")]
    Toml(String),
}

/// The document is valid YAML of a shape nutcracker refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeProblem {
    /// Not exactly one YAML document (an empty file has none).
    #[error("the file must contain exactly 1 YAML document; found {0}")]
    DocumentCount(usize),
    /// A YAML feature nutcracker's parser refuses.
    #[error("{0} are not allowed in a nutcracker configuration")]
    Disallowed(&'static str),
    /// The top level is not a mapping of pool names to pools.
    #[error("the top level must be a mapping of pool names to pools")]
    TopNotMapping,
    /// A mapping key is itself a mapping or a sequence.
    #[error("mapping keys must be plain names")]
    ComplexKey,
    /// A pool's value is not a mapping of directives.
    #[error("pool {0:?} must be a mapping of directives (\"key: value\")")]
    PoolNotMapping(String),
}

/// What is wrong with one directive's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectiveProblem {
    /// Not a directive of nutcracker 0.5.0 (nor a Slotway extension).
    #[error("is unknown")]
    Unknown,
    /// Given twice in the same pool.
    #[error("is a duplicate")]
    Duplicate,
    /// Given with an empty value (nutcracker refuses those silently).
    #[error("has an empty value")]
    Empty,
    /// A boolean that is not exactly `true` or `false`.
    #[error("is not \"true\" or \"false\" (got {0:?})")]
    NotBool(String),
    /// A number that is not decimal digits from 0 to 2147483647.
    #[error("is not a number from 0 to 2147483647 (got {0:?})")]
    NotNumber(String),
    /// `server_connections: 0`.
    #[error("cannot be 0")]
    Zero,
    /// Not one of nutcracker's twelve hash names.
    #[error(
        "is not a valid hash (got {0:?}; expected one of one_at_a_time, md5, crc16, crc32, crc32a, fnv1_64, fnv1a_64, fnv1_32, fnv1a_32, hsieh, murmur, jenkins)"
    )]
    Hash(String),
    /// Not `ketama`, `modula` or `random`.
    #[error("is not a valid distribution (got {0:?}; expected ketama, modula or random)")]
    Distribution(String),
    /// A hash tag that is not exactly two bytes.
    #[error("is not a valid hash tag string with two characters (got {0:?})")]
    HashTag(String),
    /// A `listen:` value nutcracker cannot use.
    #[error("has an invalid value {value:?}: {why}")]
    Listen {
        /// The value as written.
        value: String,
        /// Which rule it breaks.
        why: &'static str,
    },
    /// A `servers:` entry nutcracker cannot parse.
    #[error("has an invalid entry: {0}")]
    Server(EntryError),
    /// A `sentinels:` entry that is not `host:port` (Slotway extension).
    #[error("has an invalid entry {0:?}: expected \"host:port\" of a Redis Sentinel")]
    Sentinel(String),
}

/// What is wrong with a pool as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolProblem {
    /// The pool's name is empty.
    #[error("a pool name must not be empty")]
    EmptyName,
    /// A directive's value is a nested mapping or a list of lists.
    #[error("directive {0:?} has a nested mapping or list (nutcracker allows 2 levels)")]
    Nested(String),
    /// No directive of the pool is a list (nutcracker needs `servers:` as one).
    #[error("has no sequence directive: \"servers:\" must be a list of entries")]
    MissingSequence,
    /// Two directives of the pool are lists.
    #[error(
        "has more than one sequence directive ({first:?} and {second:?}); only \"servers\" (and Slotway's \"sentinels\") may be a list"
    )]
    TwoSequences {
        /// The first list directive.
        first: String,
        /// The second one.
        second: String,
    },
    /// No `listen:` directive.
    #[error("directive \"listen\" is missing")]
    MissingListen,
    /// `redis_auth` on a memcached pool.
    #[error("directive \"redis_auth\" is only valid for a redis pool (\"redis: true\")")]
    AuthWithoutRedis,
    /// A memcached pool: `redis: false`, or no `redis:` (nutcracker's default
    /// is memcached).
    #[error(
        "is a memcached pool ({}); Slotway supports only Redis pools: add \"redis: true\"",
        if *.explicit { "\"redis: false\"" } else { "no \"redis:\" directive, and nutcracker's default is memcached" }
    )]
    NotRedis {
        /// Whether `redis: false` was written (else it was left out).
        explicit: bool,
    },
    /// No `servers:` entries.
    #[error("has no servers")]
    NoServers,
    /// Two servers with the same name (explicit name, or `host:port`).
    #[error("has servers with the same name {0:?}")]
    SameServerName(String),
    /// A server without a name in a pool with `sentinels` (Slotway extension).
    #[error(
        "server {0:?} needs a name: in a pool with \"sentinels\", each server's name is its Sentinel master name"
    )]
    SentinelServerUnnamed(String),
    /// `sentinel_auth`/`sentinel_user` without `sentinels` (Slotway extension).
    #[error("directive {0:?} needs a \"sentinels\" list in the same pool")]
    WithoutSentinels(&'static str),
    /// `sentinel_user` without `sentinel_auth` (Slotway extension).
    #[error("directive \"sentinel_user\" needs \"sentinel_auth\" (the user's password)")]
    SentinelUserWithoutAuth,
}
