//! The nutcracker YAML served both by nutcracker and by `slotway nutcracker`.
//!
//! Invariant: the two proxies get the same pool (servers, weights, ketama,
//! fnv1a_64, one connection per server) and differ only in the listen port
//! and `redis_db`, so their keys never collide on the shared servers and
//! the comparison is like for like.

use std::fmt::Write as _;

/// One pool over `servers` (`host:port`, weight 1 each).
#[derive(Debug, Clone)]
pub struct PoolYaml<'a> {
    pub listen_port: u16,
    pub redis_db: u32,
    pub servers: &'a [String],
}

impl PoolYaml<'_> {
    /// The file's text: nutcracker's defaults spelled out (`hash`,
    /// `distribution`, `server_connections`) so the file says what is compared.
    pub fn render(&self) -> String {
        let mut y = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(y, "bench:");
        let _ = writeln!(y, "  listen: 127.0.0.1:{}", self.listen_port);
        let _ = writeln!(y, "  redis: true");
        let _ = writeln!(y, "  redis_db: {}", self.redis_db);
        let _ = writeln!(y, "  hash: fnv1a_64");
        let _ = writeln!(y, "  distribution: ketama");
        let _ = writeln!(y, "  server_connections: 1");
        let _ = writeln!(y, "  servers:");
        for s in self.servers {
            let _ = writeln!(y, "    - {s}:1");
        }
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_pool() {
        let servers = ["127.0.0.1:7001".to_string(), "127.0.0.1:7002".to_string()];
        let y = PoolYaml {
            listen_port: 22121,
            redis_db: 2,
            servers: &servers,
        }
        .render();
        assert_eq!(
            y,
            "bench:\n  listen: 127.0.0.1:22121\n  redis: true\n  redis_db: 2\n  \
             hash: fnv1a_64\n  distribution: ketama\n  server_connections: 1\n  servers:\n    \
             - 127.0.0.1:7001:1\n    - 127.0.0.1:7002:1\n"
        );
        // Slotway's own reader of nutcracker files takes it as meant.
        let pools = slotway_nutconf::parse_yaml(&y).unwrap();
        assert_eq!(pools.len(), 1);
        assert_eq!(pools[0].redis_db, 2);
        assert_eq!(pools[0].server_connections, 1);
        assert_eq!(pools[0].servers.len(), 2);
    }
}
