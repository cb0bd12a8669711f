//! CLUSTER INFO / SLOTS / SHARDS / NODES / MYID as a one-node cluster: the
//! proxy (at its announced address) owns all 16384 slots, so a cluster-aware
//! client pointed at Slotway sends everything back through it.
//!
//! The node id is derived from the announced address, so it is stable across
//! restarts and the same on every worker.

use std::net::SocketAddr;

use bytes::BytesMut;
use slotway_hashkit::SLOT_COUNT;
use slotway_resp::{Protocol, encode};

use crate::cluster::SlotTable;
use crate::route::ClusterView;

/// Answers one of the cluster-view subcommands into `out`.
pub fn answer(
    view: ClusterView,
    announce: Option<SocketAddr>,
    table: &SlotTable,
    protocol: Protocol,
    out: &mut BytesMut,
) {
    let addr = announce.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 7777)));
    let ip = addr.ip().to_string();
    let port = i64::from(addr.port());
    let id = node_id(&addr);
    let last = i64::from(SLOT_COUNT - 1);
    match view {
        ClusterView::MyId => encode::bulk(out, id.as_bytes()),
        ClusterView::Slots => {
            encode::array_header(out, 1);
            encode::array_header(out, 3);
            encode::integer(out, 0);
            encode::integer(out, last);
            encode::array_header(out, 4);
            encode::bulk(out, ip.as_bytes());
            encode::integer(out, port);
            encode::bulk(out, id.as_bytes());
            encode::map_header(out, 0, protocol);
        }
        ClusterView::Shards => {
            encode::array_header(out, 1);
            encode::map_header(out, 2, protocol);
            encode::bulk(out, b"slots");
            encode::array_header(out, 2);
            encode::integer(out, 0);
            encode::integer(out, last);
            encode::bulk(out, b"nodes");
            encode::array_header(out, 1);
            encode::map_header(out, 7, protocol);
            encode::bulk(out, b"id");
            encode::bulk(out, id.as_bytes());
            encode::bulk(out, b"port");
            encode::integer(out, port);
            encode::bulk(out, b"ip");
            encode::bulk(out, ip.as_bytes());
            encode::bulk(out, b"endpoint");
            encode::bulk(out, ip.as_bytes());
            encode::bulk(out, b"role");
            encode::bulk(out, b"master");
            encode::bulk(out, b"replication-offset");
            encode::integer(out, 0);
            encode::bulk(out, b"health");
            encode::bulk(out, b"online");
        }
        ClusterView::Nodes => {
            let bus = addr.port().checked_add(10_000).unwrap_or(0);
            let text = format!("{id} {ip}:{port}@{bus} myself,master - 0 0 1 connected 0-{last}\n");
            encode::verbatim(out, text.as_bytes(), protocol);
        }
        ClusterView::Info => {
            let covered = table.covered_slots();
            let state = if covered == usize::from(SLOT_COUNT) {
                "ok"
            } else {
                "fail"
            };
            let text = format!(
                "cluster_state:{state}\r\n\
                 cluster_slots_assigned:{SLOT_COUNT}\r\n\
                 cluster_slots_ok:{covered}\r\n\
                 cluster_slots_pfail:0\r\n\
                 cluster_slots_fail:{}\r\n\
                 cluster_known_nodes:1\r\n\
                 cluster_size:1\r\n\
                 cluster_current_epoch:1\r\n\
                 cluster_my_epoch:1\r\n\
                 cluster_stats_messages_sent:0\r\n\
                 cluster_stats_messages_received:0\r\n\
                 total_cluster_links_buffer_limit_exceeded:0\r\n",
                usize::from(SLOT_COUNT) - covered
            );
            encode::verbatim(out, text.as_bytes(), protocol);
        }
    }
}

/// 40 hex digits derived from the address (FNV-1a, three rounds).
fn node_id(addr: &SocketAddr) -> String {
    let text = addr.to_string();
    let mut id = String::with_capacity(48);
    for seed in [
        0xcbf2_9ce4_8422_2325_u64,
        0x9e37_79b9_7f4a_7c15,
        0x1234_5678_9abc_def1,
    ] {
        let mut h = seed;
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        id.push_str(&format!("{h:016x}"));
    }
    id.truncate(40);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_is_stable_hex() {
        let a: SocketAddr = "127.0.0.1:7777".parse().unwrap();
        let id = node_id(&a);
        assert_eq!(id.len(), 40);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(id, node_id(&a));
        assert_ne!(id, node_id(&"127.0.0.1:7778".parse().unwrap()));
    }
}
