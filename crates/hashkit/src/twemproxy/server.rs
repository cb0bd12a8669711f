//! A server of a nutcracker pool as placement sees it: its *identity*
//! string and its weight, and how nutcracker derives both from a
//! `servers:` entry.
//!
//! Owns [`Server`], [`ServerEntry`] (the parsed `host:port:weight [name]` /
//! `/path:weight [name]` line) and nutcracker's server order
//! ([`compare_names`]). Invariants:
//! - the identity is what ketama hashes and what orders servers: the entry's
//!   name when one is given (weights still count); otherwise the host text
//!   exactly as written plus `:` plus the port text as written; otherwise,
//!   for port 11211, the host text alone; for a unix socket without a name,
//!   the path followed by a trailing `:`. The weight is never part of it;
//! - parsing works from the right like nutcracker: the name after the last
//!   space, then the weight after the last `:`, then (TCP only) the port
//!   after the `:` before it; so a host may itself contain `:` characters
//!   but a unix path may not;
//! - numbers are decimal digits only; weight > 0, port in 1..=65535.

use std::cmp::Ordering;

/// The port libmemcached's ketama leaves out of the identity.
pub const KETAMA_DEFAULT_PORT: u16 = 11211;

/// One server for placement: identity string and weight (> 0).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Server {
    /// The ketama/ordering identity (see the module docs).
    pub identity: String,
    /// The weight from the entry.
    pub weight: u32,
}

impl Server {
    /// A server with this identity and weight.
    pub fn new(identity: impl Into<String>, weight: u32) -> Server {
        Server {
            identity: identity.into(),
            weight,
        }
    }
}

/// nutcracker's order of server names: shorter first, then bytewise. This
/// is the pool's internal server order (modula uses it; stats list it).
#[must_use]
pub fn compare_names(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// A `servers:` entry parsed as nutcracker parses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEntry {
    /// Everything before the name (`host:port:weight` or `/path:weight`).
    pub pname: String,
    /// The host text, or the unix socket path.
    pub addr: String,
    /// The port; `None` for a unix socket.
    pub port: Option<u16>,
    /// The weight (> 0).
    pub weight: u32,
    /// The node name after the last space, if any (may be empty).
    pub name: Option<String>,
    /// The placement identity derived from the fields above.
    pub identity: String,
}

/// Why a `servers:` entry is invalid (nutcracker's reasons).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Not `host:port:weight [name]` nor `/path:weight [name]`.
    #[error("`{0}` is not \"hostname:port:weight [name]\" or \"/path/unix_socket:weight [name]\"")]
    Format(String),
    /// The weight is not a decimal number.
    #[error("`{0}` has an invalid weight")]
    Weight(String),
    /// The weight is 0.
    #[error("`{0}` has a zero weight")]
    ZeroWeight(String),
    /// The port is not a decimal number in 1..=65535.
    #[error("`{0}` has an invalid port")]
    Port(String),
}

/// nutcracker's number parsing: decimal digits only, non-empty, fits `i32`.
fn parse_num(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok().filter(|&n| i32::try_from(n).is_ok())
}

/// Splits `s` at its last `c`: `(before, after)`.
fn split_last(s: &str, c: char) -> Option<(&str, &str)> {
    s.rsplit_once(c)
}

impl ServerEntry {
    /// Parses one `servers:` entry, e.g. `"127.0.0.1:6379:1 redis-a"` or
    /// `"/tmp/redis.sock:2"`.
    pub fn parse(entry: &str) -> Result<ServerEntry, EntryError> {
        let format = || EntryError::Format(entry.to_string());
        let unix = entry.starts_with('/');
        if entry.contains('\0') {
            return Err(format());
        }
        let (rest, name) = match split_last(entry, ' ') {
            Some((before, name)) => (before, Some(name)),
            None => (entry, None),
        };
        let (rest, weight_text) = split_last(rest, ':').ok_or_else(format)?;
        let (addr, port_text) = match (unix, split_last(rest, ':')) {
            (false, Some((addr, port))) => (addr, Some(port)),
            (true, None) => (rest, None),
            _ => return Err(format()),
        };
        let weight = parse_num(weight_text).ok_or_else(|| EntryError::Weight(entry.to_string()))?;
        if weight == 0 {
            return Err(EntryError::ZeroWeight(entry.to_string()));
        }
        let port = match port_text {
            None => None,
            Some(text) => Some(
                parse_num(text)
                    .and_then(|n| u16::try_from(n).ok())
                    .filter(|&n| n > 0)
                    .ok_or_else(|| EntryError::Port(entry.to_string()))?,
            ),
        };
        let identity = match (name, port, port_text) {
            (Some(name), _, _) => name.to_string(),
            (None, Some(KETAMA_DEFAULT_PORT), _) => addr.to_string(),
            (None, _, Some(port_text)) => format!("{addr}:{port_text}"),
            // A unix socket: the path and the `:` that precedes the weight.
            (None, _, None) => format!("{addr}:"),
        };
        let pname = match name {
            Some(name) if !name.is_empty() => entry
                .get(..entry.len() - name.len() - 1)
                .unwrap_or(entry)
                .to_string(),
            _ => entry.to_string(),
        };
        Ok(ServerEntry {
            pname,
            addr: addr.to_string(),
            port,
            weight,
            name: name.map(str::to_string),
            identity,
        })
    }

    /// Whether this is a unix-socket server.
    #[must_use]
    pub fn is_unix(&self) -> bool {
        self.port.is_none()
    }

    /// The placement view of this entry.
    #[must_use]
    pub fn server(&self) -> Server {
        Server::new(self.identity.clone(), self.weight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(entry: &str) -> String {
        ServerEntry::parse(entry).unwrap().identity
    }

    #[test]
    fn identities() {
        assert_eq!(id("127.0.0.1:6379:1"), "127.0.0.1:6379");
        assert_eq!(id("127.0.0.1:6379:5 redis-a"), "redis-a");
        assert_eq!(id("127.0.0.1:11211:1"), "127.0.0.1");
        assert_eq!(id("127.0.0.1:011211:1"), "127.0.0.1");
        assert_eq!(id("127.0.0.1:06379:1"), "127.0.0.1:06379");
        assert_eq!(id("127.0.0.1:11211:1 mc"), "mc");
        assert_eq!(id("/tmp/redis.sock:1"), "/tmp/redis.sock:");
        assert_eq!(id("/tmp/redis.sock:3 sock"), "sock");
        assert_eq!(id("db.example:6380:2"), "db.example:6380");
        assert_eq!(id("::1:6379:1"), "::1:6379");
    }

    #[test]
    fn fields() {
        let e = ServerEntry::parse("127.0.0.1:6379:7 alpha").unwrap();
        assert_eq!(e.pname, "127.0.0.1:6379:7");
        assert_eq!(e.addr, "127.0.0.1");
        assert_eq!(e.port, Some(6379));
        assert_eq!(e.weight, 7);
        assert_eq!(e.name.as_deref(), Some("alpha"));
        assert_eq!(e.server(), Server::new("alpha", 7));
        let u = ServerEntry::parse("/run/r.sock:2").unwrap();
        assert!(u.is_unix());
        assert_eq!(u.addr, "/run/r.sock");
        assert_eq!(u.pname, "/run/r.sock:2");
    }

    #[test]
    fn rejects() {
        for bad in [
            "127.0.0.1:6379",
            "127.0.0.1",
            "127.0.0.1:6379:0",
            "127.0.0.1:6379:-1",
            "127.0.0.1:6379:+1",
            "127.0.0.1:0:1",
            "127.0.0.1:65536:1",
            "127.0.0.1:abc:1",
            "/tmp/a:b.sock:1",
            "127.0.0.1:6379:1 two names",
            "",
        ] {
            assert!(ServerEntry::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn order() {
        let mut names = vec!["s10", "s9", "bb", "a", "s1"];
        names.sort_by(|a, b| compare_names(a.as_bytes(), b.as_bytes()));
        assert_eq!(names, ["a", "bb", "s1", "s9", "s10"]);
    }
}
