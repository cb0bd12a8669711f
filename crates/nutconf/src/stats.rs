//! nutcracker's stats: the JSON document its stats port writes to every
//! connection, and the field descriptions `-D` prints.
//!
//! Owns [`StatsSnapshot`] and its parts, [`to_json`] and
//! [`describe_stats`]. Invariants of [`to_json`], checked against the real
//! nutcracker 0.5.0 (`tests/nutcracker_stats.rs`):
//! - one line: `{"service":"nutcracker", "source":…, "version":…,
//!   "uptime":…, "timestamp":…, "total_connections":…,
//!   "curr_connections":…, ` then one object per pool, then `}` and `\n`;
//! - within an object the members are separated by `", "`; consecutive
//!   pool objects, and consecutive server objects, by a bare `","`;
//! - a pool object holds its six counters, then one object per server;
//! - fields appear in nutcracker's order (the order of the arrays below);
//!   pools and servers in the order given (the caller passes nutcracker's
//!   order: pools by name, each pool's servers in server order, shorter
//!   names first, as [`PoolConf`](crate::PoolConf) already holds them).
//!
//! Unlike nutcracker, names are JSON-escaped, so an odd pool or server name
//! cannot break the document; ordinary names come out byte for byte alike.

use std::fmt::Write as _;

/// Pool fields in nutcracker's order, with what they count.
pub const POOL_FIELDS: [(&str, &str); 6] = [
    ("client_eof", "client connections that ended with EOF"),
    (
        "client_err",
        "client connections closed on an error (bad or unsupported request)",
    ),
    ("client_connections", "client connections open now"),
    ("server_ejects", "times a server was taken out of the pool"),
    (
        "forward_error",
        "requests answered with an error because forwarding failed",
    ),
    (
        "fragments",
        "sub-requests made by splitting multi-key requests",
    ),
];

/// Server fields in nutcracker's order, with what they count.
pub const SERVER_FIELDS: [(&str, &str); 13] = [
    ("server_eof", "server connections that ended with EOF"),
    ("server_err", "server connections that failed with an error"),
    ("server_timedout", "server connections closed on a timeout"),
    ("server_connections", "server connections open now"),
    (
        "server_ejected_at",
        "when the server was last ejected, in microseconds since the epoch (0: never)",
    ),
    ("requests", "requests sent to the server"),
    ("request_bytes", "bytes of requests sent to the server"),
    ("responses", "responses received from the server"),
    (
        "response_bytes",
        "bytes of responses received from the server",
    ),
    ("in_queue", "requests waiting to be sent to the server"),
    ("in_queue_bytes", "bytes of requests waiting to be sent"),
    ("out_queue", "requests sent and waiting for a response"),
    (
        "out_queue_bytes",
        "bytes of requests waiting for a response",
    ),
];

/// One stats document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// The host name (nutcracker uses `gethostname()`).
    pub source: String,
    /// The version reported; `"0.5.0"` for nutcracker-compatible tooling.
    pub version: String,
    /// Seconds since the proxy started.
    pub uptime: u64,
    /// Unix time of the snapshot, in seconds.
    pub timestamp: u64,
    /// Connections ever opened (client, server and listening).
    pub total_connections: u64,
    /// Connections open now.
    pub curr_connections: u64,
    /// One entry per pool, in the order to print.
    pub pools: Vec<PoolStats>,
}

/// One pool's counters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// The pool's name.
    pub name: String,
    /// See [`POOL_FIELDS`].
    pub client_eof: u64,
    /// See [`POOL_FIELDS`].
    pub client_err: u64,
    /// See [`POOL_FIELDS`].
    pub client_connections: u64,
    /// See [`POOL_FIELDS`].
    pub server_ejects: u64,
    /// See [`POOL_FIELDS`].
    pub forward_error: u64,
    /// See [`POOL_FIELDS`]. nutcracker 0.5.0 never increments it.
    pub fragments: u64,
    /// One entry per server, in the order to print.
    pub servers: Vec<ServerStats>,
}

/// One server's counters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerStats {
    /// The server's name (its explicit name, or `host:port`).
    pub name: String,
    /// See [`SERVER_FIELDS`].
    pub server_eof: u64,
    /// See [`SERVER_FIELDS`].
    pub server_err: u64,
    /// See [`SERVER_FIELDS`].
    pub server_timedout: u64,
    /// See [`SERVER_FIELDS`].
    pub server_connections: u64,
    /// See [`SERVER_FIELDS`].
    pub server_ejected_at: u64,
    /// See [`SERVER_FIELDS`].
    pub requests: u64,
    /// See [`SERVER_FIELDS`].
    pub request_bytes: u64,
    /// See [`SERVER_FIELDS`].
    pub responses: u64,
    /// See [`SERVER_FIELDS`].
    pub response_bytes: u64,
    /// See [`SERVER_FIELDS`].
    pub in_queue: u64,
    /// See [`SERVER_FIELDS`].
    pub in_queue_bytes: u64,
    /// See [`SERVER_FIELDS`].
    pub out_queue: u64,
    /// See [`SERVER_FIELDS`].
    pub out_queue_bytes: u64,
}

impl PoolStats {
    /// The counters in [`POOL_FIELDS`] order.
    fn values(&self) -> [u64; 6] {
        [
            self.client_eof,
            self.client_err,
            self.client_connections,
            self.server_ejects,
            self.forward_error,
            self.fragments,
        ]
    }
}

impl ServerStats {
    /// The counters in [`SERVER_FIELDS`] order.
    fn values(&self) -> [u64; 13] {
        [
            self.server_eof,
            self.server_err,
            self.server_timedout,
            self.server_connections,
            self.server_ejected_at,
            self.requests,
            self.request_bytes,
            self.responses,
            self.response_bytes,
            self.in_queue,
            self.in_queue_bytes,
            self.out_queue,
            self.out_queue_bytes,
        ]
    }
}

/// `"text"`, JSON-escaped.
fn push_str(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `"name":value` pairs joined by `", "`.
fn push_fields<'a>(out: &mut String, fields: impl Iterator<Item = (&'a str, u64)>) {
    for (i, (name, value)) in fields.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_str(out, name);
        let _ = write!(out, ":{value}");
    }
}

/// The stats document exactly as nutcracker lays it out (module docs).
#[must_use]
pub fn to_json(snapshot: &StatsSnapshot) -> String {
    let mut out = String::with_capacity(256 + snapshot.pools.len() * 1024);
    out.push_str("{\"service\":\"nutcracker\", \"source\":");
    push_str(&mut out, &snapshot.source);
    out.push_str(", \"version\":");
    push_str(&mut out, &snapshot.version);
    out.push_str(", ");
    push_fields(
        &mut out,
        [
            ("uptime", snapshot.uptime),
            ("timestamp", snapshot.timestamp),
            ("total_connections", snapshot.total_connections),
            ("curr_connections", snapshot.curr_connections),
        ]
        .into_iter(),
    );
    for (i, pool) in snapshot.pools.iter().enumerate() {
        out.push_str(if i == 0 { ", " } else { "," });
        push_str(&mut out, &pool.name);
        out.push_str(": {");
        push_fields(
            &mut out,
            POOL_FIELDS.iter().map(|(n, _)| *n).zip(pool.values()),
        );
        for (j, server) in pool.servers.iter().enumerate() {
            out.push_str(if j == 0 { ", " } else { "," });
            push_str(&mut out, &server.name);
            out.push_str(": {");
            push_fields(
                &mut out,
                SERVER_FIELDS.iter().map(|(n, _)| *n).zip(server.values()),
            );
            out.push('}');
        }
        out.push('}');
    }
    out.push_str("}\n");
    out
}

/// What `-D` prints after the version line: each pool field, then each
/// server field, with what it counts.
#[must_use]
pub fn describe_stats() -> String {
    let mut out = String::from("pool stats:\n");
    for (name, what) in POOL_FIELDS {
        let _ = writeln!(out, "  {name:<20}\"{what}\"");
    }
    out.push_str("\nserver stats:\n");
    for (name, what) in SERVER_FIELDS {
        let _ = writeln!(out, "  {name:<20}\"{what}\"");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str, requests: u64) -> ServerStats {
        ServerStats {
            name: name.into(),
            requests,
            server_connections: 1,
            ..ServerStats::default()
        }
    }

    #[test]
    fn layout_matches_nutcracker() {
        let snap = StatsSnapshot {
            source: "vm".into(),
            version: "0.5.0".into(),
            uptime: 2,
            timestamp: 1_796_045_785,
            total_connections: 7,
            curr_connections: 5,
            pools: vec![
                PoolStats {
                    name: "zz".into(),
                    client_eof: 1,
                    servers: vec![server("s9", 1), server("s10", 0)],
                    ..PoolStats::default()
                },
                PoolStats {
                    name: "beta".into(),
                    servers: vec![server("127.0.0.1:6379", 3)],
                    ..PoolStats::default()
                },
            ],
        };
        let server_fields = |req: u64| {
            format!(
                "\"server_eof\":0, \"server_err\":0, \"server_timedout\":0, \"server_connections\":1, \"server_ejected_at\":0, \"requests\":{req}, \"request_bytes\":0, \"responses\":0, \"response_bytes\":0, \"in_queue\":0, \"in_queue_bytes\":0, \"out_queue\":0, \"out_queue_bytes\":0"
            )
        };
        let expected = format!(
            "{{\"service\":\"nutcracker\", \"source\":\"vm\", \"version\":\"0.5.0\", \"uptime\":2, \"timestamp\":1796045785, \"total_connections\":7, \"curr_connections\":5, \
             \"zz\": {{\"client_eof\":1, \"client_err\":0, \"client_connections\":0, \"server_ejects\":0, \"forward_error\":0, \"fragments\":0, \
             \"s9\": {{{}}},\"s10\": {{{}}}}},\
             \"beta\": {{\"client_eof\":0, \"client_err\":0, \"client_connections\":0, \"server_ejects\":0, \"forward_error\":0, \"fragments\":0, \
             \"127.0.0.1:6379\": {{{}}}}}}}\n",
            server_fields(1),
            server_fields(0),
            server_fields(3)
        );
        assert_eq!(to_json(&snap), expected);
    }

    #[test]
    fn empty_and_escaped() {
        let snap = StatsSnapshot {
            source: "h\"ost".into(),
            version: "0.5.0".into(),
            pools: vec![PoolStats {
                name: "a\\b\n".into(),
                ..PoolStats::default()
            }],
            ..StatsSnapshot::default()
        };
        assert_eq!(
            to_json(&snap),
            "{\"service\":\"nutcracker\", \"source\":\"h\\\"ost\", \"version\":\"0.5.0\", \"uptime\":0, \"timestamp\":0, \"total_connections\":0, \"curr_connections\":0, \
             \"a\\\\b\\n\": {\"client_eof\":0, \"client_err\":0, \"client_connections\":0, \"server_ejects\":0, \"forward_error\":0, \"fragments\":0}}\n"
        );
        let none = StatsSnapshot::default();
        assert!(to_json(&none).ends_with("\"curr_connections\":0}\n"));
    }

    #[test]
    fn describe_names_every_field() {
        let text = describe_stats();
        assert!(text.starts_with("pool stats:\n  client_eof          \""));
        assert!(text.contains("\nserver stats:\n  server_eof          \""));
        for (name, _) in POOL_FIELDS.iter().chain(&SERVER_FIELDS) {
            assert!(text.contains(&format!("  {name} ")), "{name}");
        }
        assert_eq!(text.lines().count(), 6 + 13 + 3);
    }
}
