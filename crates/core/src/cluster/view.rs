//! [`ClusterView`]: what one node says the cluster looks like, parsed from
//! `CLUSTER SHARDS` (Redis ≥ 7.0) or `CLUSTER SLOTS` (older nodes). Pure.
//!
//! Node addresses: the `endpoint` a node announces when it has one, else its
//! `ip`; an empty or `?` address means "the node you asked" (what Redis
//! answers when it does not know its own address), so the queried host is
//! used.
//!
//! Config epochs: neither reply carries them, so the parsers take the
//! `node id → epoch` map of the same node's `CLUSTER NODES`
//! ([`super::epoch::parse_epochs`]) and give each shard its master's epoch
//! (0 when unknown).

use std::collections::HashMap;

use slotway_resp::Value;

/// One shard: a master, its replicas, the slot ranges it serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardView {
    /// `host:port` of the master.
    pub master: String,
    /// `host:port` of each replica.
    pub replicas: Vec<String>,
    /// Inclusive slot ranges.
    pub ranges: Vec<(u16, u16)>,
    /// The master's config epoch as the answering node knows it (0: unknown).
    pub epoch: u64,
}

/// The cluster as one node sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// Shards, including ones that serve no slot.
    pub shards: Vec<ShardView>,
}

impl ClusterView {
    /// Slots served by some master in this view.
    #[must_use]
    pub fn covered_slots(&self) -> usize {
        self.shards
            .iter()
            .flat_map(|s| &s.ranges)
            .map(|&(lo, hi)| usize::from(hi.saturating_sub(lo)) + 1)
            .sum()
    }

    /// Every node address, masters first.
    #[must_use]
    pub fn all_addrs(&self) -> Vec<String> {
        let mut out: Vec<String> = self.shards.iter().map(|s| s.master.clone()).collect();
        for s in &self.shards {
            for r in &s.replicas {
                if !out.contains(r) {
                    out.push(r.clone());
                }
            }
        }
        out
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

/// `host:port` (`[host]:port` for IPv6), the queried host standing in for
/// an empty or `?` host; `None` for a port that is not one.
pub(super) fn join_addr(host: Option<String>, port: i64, queried_host: &str) -> Option<String> {
    let port = u16::try_from(port).ok().filter(|&p| p != 0)?;
    let host = match host {
        Some(h) if !h.is_empty() && h != "?" => h,
        _ => queried_host.to_owned(),
    };
    if host.contains(':') && !host.starts_with('[') {
        Some(format!("[{host}]:{port}"))
    } else {
        Some(format!("{host}:{port}"))
    }
}

fn slot(v: i64) -> Option<u16> {
    u16::try_from(v)
        .ok()
        .filter(|&s| s < slotway_hashkit::SLOT_COUNT)
}

/// Parses a `CLUSTER SHARDS` reply. With `tls` (the proxy reaches the
/// nodes over TLS) each node's `tls-port` is its address, else its `port`;
/// a node listing only the other one is reached there.
///
/// # Errors
/// The reply does not have the documented shape.
pub fn parse_shards(
    reply: &Value,
    queried_host: &str,
    epochs: &HashMap<String, u64>,
    tls: bool,
) -> Result<ClusterView, String> {
    let (first, second) = if tls {
        ("tls-port", "port")
    } else {
        ("port", "tls-port")
    };
    let shards = reply.as_array().ok_or("CLUSTER SHARDS: not an array")?;
    let mut view = ClusterView::default();
    for shard in shards {
        let slots = shard
            .map_get("slots")
            .and_then(Value::as_array)
            .ok_or("CLUSTER SHARDS: shard without slots")?;
        let mut ranges = Vec::new();
        for pair in slots.chunks(2) {
            if let [lo, hi] = pair {
                let lo = lo
                    .as_int()
                    .and_then(slot)
                    .ok_or("CLUSTER SHARDS: bad slot")?;
                let hi = hi
                    .as_int()
                    .and_then(slot)
                    .ok_or("CLUSTER SHARDS: bad slot")?;
                if lo <= hi {
                    ranges.push((lo, hi));
                }
            }
        }
        let nodes = shard
            .map_get("nodes")
            .and_then(Value::as_array)
            .ok_or("CLUSTER SHARDS: shard without nodes")?;
        let mut master = None;
        let mut epoch = 0;
        let mut replicas = Vec::new();
        for node in nodes {
            let port = node
                .map_get(first)
                .or_else(|| node.map_get(second))
                .and_then(Value::as_int)
                .unwrap_or(0);
            let host = node
                .map_get("endpoint")
                .and_then(text)
                .filter(|h| !h.is_empty() && h != "?")
                .or_else(|| node.map_get("ip").and_then(text));
            let Some(addr) = join_addr(host, port, queried_host) else {
                continue;
            };
            let role = node.map_get("role").and_then(text).unwrap_or_default();
            let healthy = node
                .map_get("health")
                .and_then(text)
                .is_none_or(|h| h == "online");
            if role == "master" {
                // A failed master keeps its slots in the view until a replica
                // takes over; it is still the best guess until then.
                if master.is_none() || healthy {
                    master = Some(addr);
                    epoch = node
                        .map_get("id")
                        .and_then(Value::as_str)
                        .and_then(|id| epochs.get(id))
                        .copied()
                        .unwrap_or(0);
                }
            } else if healthy {
                // Only replicas that can answer serve reads.
                replicas.push(addr);
            }
        }
        if let Some(master) = master {
            view.shards.push(ShardView {
                master,
                replicas,
                ranges,
                epoch,
            });
        }
    }
    Ok(view)
}

/// Parses a `CLUSTER SLOTS` reply.
///
/// # Errors
/// The reply does not have the documented shape.
pub fn parse_slots(
    reply: &Value,
    queried_host: &str,
    epochs: &HashMap<String, u64>,
) -> Result<ClusterView, String> {
    let entries = reply.as_array().ok_or("CLUSTER SLOTS: not an array")?;
    let mut view = ClusterView::default();
    for entry in entries {
        let fields = entry
            .as_array()
            .ok_or("CLUSTER SLOTS: entry not an array")?;
        let (Some(lo), Some(hi)) = (
            fields.first().and_then(Value::as_int).and_then(slot),
            fields.get(1).and_then(Value::as_int).and_then(slot),
        ) else {
            return Err("CLUSTER SLOTS: bad slot range".to_owned());
        };
        // Each node: [host, port, id (Redis >= 4), ...].
        let mut addrs = fields.iter().skip(2).filter_map(|n| {
            let n = n.as_array()?;
            let host = n.first().and_then(text);
            let port = n.get(1).and_then(Value::as_int)?;
            let epoch = n
                .get(2)
                .and_then(Value::as_str)
                .and_then(|id| epochs.get(id))
                .copied()
                .unwrap_or(0);
            Some((join_addr(host, port, queried_host)?, epoch))
        });
        let Some((master, epoch)) = addrs.next() else {
            continue;
        };
        let replicas: Vec<String> = addrs.map(|(a, _)| a).collect();
        match view.shards.iter_mut().find(|s| s.master == master) {
            Some(s) => s.ranges.push((lo, hi)),
            None => view.shards.push(ShardView {
                master,
                replicas,
                ranges: vec![(lo, hi)],
                epoch,
            }),
        }
    }
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn bulk(s: &str) -> Value {
        Value::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn node(ip: &str, port: i64, role: &str, endpoint: &str) -> Value {
        Value::Array(vec![
            bulk("id"),
            bulk(&format!("id{port}")),
            bulk("port"),
            Value::Integer(port),
            bulk("ip"),
            bulk(ip),
            bulk("endpoint"),
            bulk(endpoint),
            bulk("role"),
            bulk(role),
            bulk("replication-offset"),
            Value::Integer(1),
            bulk("health"),
            bulk("online"),
        ])
    }

    #[test]
    fn shards_tls_port_when_the_proxy_speaks_tls() {
        // `tls-cluster yes` with a plaintext port too: Redis lists both.
        let both = Value::Array(vec![
            bulk("id"),
            bulk("a"),
            bulk("port"),
            Value::Integer(7001),
            bulk("tls-port"),
            Value::Integer(8001),
            bulk("ip"),
            bulk("127.0.0.1"),
            bulk("role"),
            bulk("master"),
        ]);
        let only_tls = Value::Array(vec![
            bulk("id"),
            bulk("b"),
            bulk("tls-port"),
            Value::Integer(8002),
            bulk("ip"),
            bulk("127.0.0.1"),
            bulk("role"),
            bulk("master"),
        ]);
        let shard = |lo, hi, n: &Value| {
            Value::Array(vec![
                bulk("slots"),
                Value::Array(vec![Value::Integer(lo), Value::Integer(hi)]),
                bulk("nodes"),
                Value::Array(vec![n.clone()]),
            ])
        };
        let reply = Value::Array(vec![shard(0, 100, &both), shard(101, 16383, &only_tls)]);
        let none = HashMap::new();
        let tls = parse_shards(&reply, "h", &none, true).unwrap();
        assert_eq!(tls.shards[0].master, "127.0.0.1:8001");
        assert_eq!(tls.shards[1].master, "127.0.0.1:8002");
        let plain = parse_shards(&reply, "h", &none, false).unwrap();
        assert_eq!(plain.shards[0].master, "127.0.0.1:7001");
        assert_eq!(plain.shards[1].master, "127.0.0.1:8002");
    }

    #[test]
    fn shards_resp2() {
        let reply = Value::Array(vec![
            Value::Array(vec![
                bulk("slots"),
                Value::Array(vec![Value::Integer(0), Value::Integer(5460)]),
                bulk("nodes"),
                Value::Array(vec![
                    node("127.0.0.1", 7001, "master", "127.0.0.1"),
                    node("127.0.0.1", 7004, "replica", "127.0.0.1"),
                ]),
            ]),
            Value::Array(vec![
                bulk("slots"),
                Value::Array(vec![
                    Value::Integer(5461),
                    Value::Integer(10922),
                    Value::Integer(10923),
                    Value::Integer(16383),
                ]),
                bulk("nodes"),
                Value::Array(vec![node("", 7002, "master", "?")]),
            ]),
        ]);
        let epochs = HashMap::from([("id7001".to_owned(), 3), ("id7004".to_owned(), 9)]);
        let view = parse_shards(&reply, "10.1.1.1", &epochs, false).unwrap();
        assert_eq!(
            view.shards[0].epoch, 3,
            "the master's epoch, not a replica's"
        );
        assert_eq!(view.shards[1].epoch, 0, "unknown");
        assert_eq!(view.shards.len(), 2);
        assert_eq!(view.shards[0].master, "127.0.0.1:7001");
        assert_eq!(view.shards[0].replicas, vec!["127.0.0.1:7004"]);
        assert_eq!(view.shards[1].master, "10.1.1.1:7002");
        assert_eq!(view.shards[1].ranges, vec![(5461, 10922), (10923, 16383)]);
        assert_eq!(view.covered_slots(), 16384);
        assert_eq!(
            view.all_addrs(),
            vec!["127.0.0.1:7001", "10.1.1.1:7002", "127.0.0.1:7004"]
        );
    }

    #[test]
    fn slots_reply() {
        let n = |ip: &str, port| {
            Value::Array(vec![
                bulk(ip),
                Value::Integer(port),
                bulk(&format!("id{port}")),
            ])
        };
        let reply = Value::Array(vec![
            Value::Array(vec![
                Value::Integer(0),
                Value::Integer(100),
                n("127.0.0.1", 7001),
                n("127.0.0.1", 7004),
            ]),
            Value::Array(vec![
                Value::Integer(101),
                Value::Integer(16383),
                n("", 7002),
            ]),
            Value::Array(vec![
                Value::Integer(200),
                Value::Integer(300),
                n("127.0.0.1", 7001),
            ]),
        ]);
        let epochs = HashMap::from([("id7002".to_owned(), 5)]);
        let view = parse_slots(&reply, "h", &epochs).unwrap();
        assert_eq!(view.shards.len(), 2);
        assert_eq!((view.shards[0].epoch, view.shards[1].epoch), (0, 5));
        assert_eq!(view.shards[0].ranges, vec![(0, 100), (200, 300)]);
        assert_eq!(view.shards[1].master, "h:7002");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let none = HashMap::new();
        assert!(parse_shards(&Value::Integer(1), "h", &none, false).is_err());
        assert!(parse_slots(&Value::Array(vec![Value::Integer(1)]), "h", &none).is_err());
        let bad = Value::Array(vec![Value::Array(vec![
            Value::Integer(0),
            Value::Integer(99_999),
        ])]);
        assert!(parse_slots(&bad, "h", &none).is_err());
    }
}
