//! INFO merged over masters: the first node's text, with totals summed over
//! every node, `cluster_enabled:0`, and the proxy's own `# Slotway` section.
//!
//! The text is parsed into sections (`# Name` then `key:value` lines) and
//! written back the way Redis lays it out: sections separated by an empty
//! line, every line ending in CRLF. Merging one reply gives back its text
//! byte for byte, apart from the lines the proxy rewrites (see [`info`]).

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use slotway_resp::num::string2ll;
use slotway_resp::{Protocol, encode};

use super::{frame, is_error, no_node_answered, pass, stats, unexpected};

/// What the proxy says about itself in INFO.
pub struct ProxySection<'a> {
    /// Proxy version.
    pub version: &'a str,
    /// Masters in the slot table.
    pub masters: usize,
    /// Slot table version.
    pub topology_version: u64,
    /// Slots with an owner.
    pub covered_slots: usize,
    /// The proxy's own per-command counters (`# Slotway_commandstats`).
    pub commands: &'a [crate::metrics::commands::CommandSnapshot],
}

/// Sections whose integer values are totals over the nodes.
const SUMMED: &[&str] = &["clients", "memory", "stats", "persistence"];

/// Integer fields of the summed sections that a sum would make meaningless:
/// 0/1 flags (a test waiting for `rdb_bgsave_in_progress:1` must see 1, not
/// the number of nodes), timestamps, durations whose "never" is -1, and
/// recent-maximum gauges. These take the maximum over the nodes.
pub(super) const MAXED: &[&str] = &[
    "client_recent_max_input_buffer",
    "client_recent_max_output_buffer",
    "active_defrag_running",
    "loading",
    "async_loading",
    "loading_start_time",
    "loading_eta_seconds",
    "current_cow_size_age",
    "rdb_bgsave_in_progress",
    "rdb_last_save_time",
    "rdb_last_bgsave_time_sec",
    "rdb_current_bgsave_time_sec",
    "aof_enabled",
    "aof_rewrite_in_progress",
    "aof_rewrite_scheduled",
    "aof_last_rewrite_time_sec",
    "aof_current_rewrite_time_sec",
    "aof_rewrites_consecutive_failures",
    "aof_pending_rewrite",
    "module_fork_in_progress",
    "latest_fork_usec",
    "current_eviction_exceeded_time",
    "current_active_defrag_time",
];

/// Section arguments that include the `# Slotway` section.
const WITH_SLOTWAY: &[&str] = &["default", "all", "everything", "slotway"];

/// Section arguments that include the `# Slotway_commandstats` section
/// (like Redis's commandstats, not part of the default sections).
const WITH_COMMANDSTATS: &[&str] = &[
    "all",
    "everything",
    "commandstats",
    "slotway",
    "slotway_commandstats",
];

/// INFO merged over masters. `replies` are the nodes' INFO replies (bulk `$`
/// or RESP3 verbatim `=…txt:`); `sections` are the client's INFO arguments
/// (empty = default). Output: one text (`# Section\r\nk:v\r\n…` blocks
/// separated by `\r\n`, like Redis), as a bulk string for RESP2 and a
/// verbatim string (`=len\r\ntxt:…`) for RESP3. Rules:
/// - Layout and non-numeric values come from the first reply.
/// - Clients, Memory, Stats, Persistence: integer values are summed over the
///   replies (a few flags, timestamps and maxima, listed in `MAXED`, take the
///   maximum instead); other values are kept from the first reply.
/// - Keyspace: `dbN:keys=K,expires=E,avg_ttl=T` per db over the replies, in
///   db order: keys and expires summed, `avg_ttl` the average weighted by
///   `expires` (the keys it is an average over). Dbs of any reply appear.
/// - Commandstats: calls, usec, rejected and failed calls summed, commands of
///   any reply appear, `usec_per_call` recomputed as Redis prints it.
///   Errorstats: counts summed, errors of any reply appear.
/// - `cluster_enabled:0` and `redis_mode:standalone`: the proxy looks like a
///   standalone Redis, and clients pick their behaviour from these.
/// - A `# Slotway` section is appended when `sections` is empty or includes
///   `default`, `all`, `everything` or `slotway` (case-insensitive), and a
///   `# Slotway_commandstats` section (the proxy's own per-command counters,
///   end to end, in Redis's `cmdstat_` format) for `all`, `everything`,
///   `commandstats`, `slotway` or `slotway_commandstats`.
/// - Any error reply → that error (the first one).
pub fn info(
    replies: &[Bytes],
    sections: &[&[u8]],
    proto: Protocol,
    proxy: &ProxySection<'_>,
) -> Bytes {
    if replies.is_empty() {
        return no_node_answered();
    }
    if let Some(error) = replies.iter().find(|r| is_error(r)) {
        return pass(error);
    }
    let mut texts = Vec::with_capacity(replies.len());
    for reply in replies {
        let Some(text) = frame::text(reply) else {
            return unexpected("an INFO text", reply);
        };
        texts.push(parse(text));
    }
    let mut text = Vec::with_capacity(replies.first().map_or(0, Bytes::len) + 256);
    render(&texts, &mut text);
    let asked = |names: &[&str]| {
        sections.iter().any(|arg| {
            names
                .iter()
                .any(|name| arg.eq_ignore_ascii_case(name.as_bytes()))
        })
    };
    if sections.is_empty() || asked(WITH_SLOTWAY) {
        slotway_section(proxy, &mut text);
    }
    if asked(WITH_COMMANDSTATS) {
        commandstats_section(proxy, &mut text);
    }
    let mut out = BytesMut::with_capacity(text.len() + 32);
    encode::verbatim(&mut out, &text, proto);
    out.freeze()
}

/// One `# Name` block of an INFO text.
struct Section<'a> {
    /// `None` for lines before any header (Redis never sends them).
    name: Option<&'a [u8]>,
    lines: Vec<&'a [u8]>,
}

impl Section<'_> {
    fn is(&self, name: &str) -> bool {
        self.name
            .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
    }
}

fn parse(text: &[u8]) -> Vec<Section<'_>> {
    let mut sections: Vec<Section<'_>> = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix(b"# ") {
            sections.push(Section {
                name: Some(name),
                lines: Vec::new(),
            });
            continue;
        }
        match sections.last_mut() {
            Some(section) => section.lines.push(line),
            None => sections.push(Section {
                name: None,
                lines: vec![line],
            }),
        }
    }
    sections
}

/// `key:value` split at the first colon.
pub(super) fn key_value(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    Some((line.get(..colon)?, line.get(colon + 1..)?))
}

/// The sections named `name` of every reply.
fn same_sections<'p, 'a>(texts: &'p [Vec<Section<'a>>], name: &str) -> Vec<&'p Section<'a>> {
    texts
        .iter()
        .filter_map(|sections| sections.iter().find(|s| s.is(name)))
        .collect()
}

/// The lines of the sections named `name` of every reply.
fn same_lines<'p, 'a>(texts: &'p [Vec<Section<'a>>], name: &str) -> Vec<&'p [&'a [u8]]> {
    same_sections(texts, name)
        .into_iter()
        .map(|s| s.lines.as_slice())
        .collect()
}

fn render(texts: &[Vec<Section<'_>>], out: &mut Vec<u8>) {
    let Some(first) = texts.first() else {
        return;
    };
    for (i, section) in first.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        if let Some(name) = section.name {
            out.extend_from_slice(b"# ");
            out.extend_from_slice(name);
            out.extend_from_slice(b"\r\n");
        }
        let name = section.name.unwrap_or_default();
        let summed = SUMMED
            .iter()
            .find(|s| name.eq_ignore_ascii_case(s.as_bytes()));
        if let Some(&summed) = summed {
            totals(section, &same_sections(texts, summed), out);
        } else if section.is("keyspace") {
            stats::merge(stats::Kind::Keyspace, &same_lines(texts, "keyspace"), out);
        } else if section.is("commandstats") {
            stats::merge(
                stats::Kind::Commands,
                &same_lines(texts, "commandstats"),
                out,
            );
        } else if section.is("errorstats") {
            stats::merge(stats::Kind::Errors, &same_lines(texts, "errorstats"), out);
        } else if section.is("cluster") {
            rewrite(section, b"cluster_enabled", b"0", out);
        } else if section.is("server") {
            rewrite(section, b"redis_mode", b"standalone", out);
        } else {
            for line in &section.lines {
                put_line(out, line);
            }
        }
    }
}

fn put_line(out: &mut Vec<u8>, line: &[u8]) {
    out.extend_from_slice(line);
    out.extend_from_slice(b"\r\n");
}

/// The section's lines, with `key`'s value replaced by `value`.
fn rewrite(section: &Section<'_>, key: &[u8], value: &[u8], out: &mut Vec<u8>) {
    for line in &section.lines {
        match key_value(line) {
            Some((k, _)) if k == key => {
                out.extend_from_slice(k);
                out.push(b':');
                put_line(out, value);
            }
            _ => put_line(out, line),
        }
    }
}

/// The first reply's section with its integer values summed (or maxed) over
/// the same section of every reply (`all`, the first one included).
fn totals(first: &Section<'_>, all: &[&Section<'_>], out: &mut Vec<u8>) {
    let maps: Vec<HashMap<&[u8], &[u8]>> = all
        .iter()
        .map(|s| s.lines.iter().filter_map(|line| key_value(line)).collect())
        .collect();
    for line in &first.lines {
        let Some((key, own)) = key_value(line) else {
            put_line(out, line);
            continue;
        };
        if string2ll(own).is_none() {
            put_line(out, line);
            continue;
        }
        let values = maps
            .iter()
            .filter_map(|map| map.get(key).and_then(|v| string2ll(v)));
        let maxed = MAXED.iter().any(|m| key == m.as_bytes());
        let total = if maxed {
            values.max().unwrap_or_default()
        } else {
            values.fold(0i64, i64::saturating_add)
        };
        out.extend_from_slice(key);
        out.push(b':');
        put_line(out, itoa::Buffer::new().format(total).as_bytes());
    }
}

/// The `# Slotway` section, after an empty line unless it is the only one.
fn slotway_section(proxy: &ProxySection<'_>, out: &mut Vec<u8>) {
    if !out.is_empty() {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"# Slotway\r\nslotway_version:");
    // The version is ours, but a CR or LF in it must not break the text.
    out.extend(proxy.version.bytes().map(|b| match b {
        b'\r' | b'\n' => b' ',
        b => b,
    }));
    let mut num = itoa::Buffer::new();
    out.extend_from_slice(b"\r\ncluster_masters:");
    out.extend_from_slice(num.format(proxy.masters).as_bytes());
    out.extend_from_slice(b"\r\ntopology_version:");
    out.extend_from_slice(num.format(proxy.topology_version).as_bytes());
    out.extend_from_slice(b"\r\ncluster_slots_covered:");
    out.extend_from_slice(num.format(proxy.covered_slots).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `# Slotway_commandstats`: one `cmdstat_` line per command the proxy has
/// answered, in Redis's format, after an empty line unless it is the only
/// section.
fn commandstats_section(proxy: &ProxySection<'_>, out: &mut Vec<u8>) {
    use std::io::Write as _;
    if !out.is_empty() {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"# Slotway_commandstats\r\n");
    for c in proxy.commands {
        let per_call = if c.calls == 0 {
            0.0
        } else {
            c.usec as f64 / c.calls as f64
        };
        // Writing into a Vec cannot fail.
        let _ = write!(
            out,
            "cmdstat_{}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls=0,failed_calls={}\r\n",
            c.name, c.calls, c.usec, c.failed
        );
    }
}
