//! Slots in migration, as the nodes themselves report them. Pure.
//!
//! A node shows its own slot migrations only on the `myself` line of its
//! `CLUSTER NODES`: `[slot->-<target id>]` while it migrates `slot` away,
//! `[slot-<-<source id>]` while it imports it. [`parse`] reads them and
//! resolves the node ids to addresses from the same reply; [`merge`] joins
//! what every answer of one refresh says, so the source's "migrating" and
//! the target's "importing" of the same move become one [`SlotMigration`].
//!
//! Purely informational (the admin API and dashboard show them): routing
//! follows MOVED/ASK redirects, never this list.
//!
//! Invariants: the merged list is sorted by `(slot, from, to)` with no two
//! records for the same move; every record was seen at least one way.

/// One slot moving from one master to another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotMigration {
    /// The slot.
    pub slot: u16,
    /// `host:port` of the source (the node id when the reply did not list it).
    pub from: String,
    /// `host:port` of the target (the node id when the reply did not list it).
    pub to: String,
    /// The source said it is migrating the slot.
    pub migrating: bool,
    /// The target said it is importing the slot.
    pub importing: bool,
}

impl SlotMigration {
    /// How the move was seen: `"migrating"` (the source said so) and/or
    /// `"importing"` (the target said so).
    #[must_use]
    pub fn seen_as(&self) -> Vec<&'static str> {
        let mut out = Vec::with_capacity(2);
        if self.migrating {
            out.push("migrating");
        }
        if self.importing {
            out.push("importing");
        }
        out
    }
}

/// The address of a `CLUSTER NODES` address field (`ip:port@cport[,hostname]`):
/// `ip:port`, the queried host standing in for an empty ip (a node that
/// does not know its own address yet).
fn address(field: &str, queried_host: &str) -> Option<String> {
    let addr = field.split(['@', ',']).next()?;
    let (host, port) = addr.rsplit_once(':')?;
    super::view::join_addr(Some(host.to_owned()), port.parse().ok()?, queried_host)
}

/// The migrations the answering node reports in its `CLUSTER NODES` reply
/// (`nodes`), in the order listed. Malformed entries are skipped.
#[must_use]
pub fn parse(nodes: &str, queried_host: &str) -> Vec<SlotMigration> {
    let lines: Vec<Vec<&str>> = nodes
        .lines()
        .map(|l| l.split_ascii_whitespace().collect())
        .collect();
    let resolve = |id: &str| {
        lines
            .iter()
            .find(|f| f.first() == Some(&id))
            .and_then(|f| f.get(1))
            .and_then(|a| address(a, queried_host))
            .unwrap_or_else(|| id.to_owned())
    };
    let Some(me) = lines.iter().find(|f| {
        f.get(2)
            .is_some_and(|flags| flags.split(',').any(|x| x == "myself"))
    }) else {
        return Vec::new();
    };
    let Some(my_addr) = me.get(1).and_then(|a| address(a, queried_host)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // Fields 0..8: id addr flags master ping pong epoch link; then slots.
    for entry in me.iter().skip(8) {
        let Some(inner) = entry.strip_prefix('[').and_then(|e| e.strip_suffix(']')) else {
            continue;
        };
        let (slot, peer, migrating) = if let Some((s, id)) = inner.split_once("->-") {
            (s, id, true)
        } else if let Some((s, id)) = inner.split_once("-<-") {
            (s, id, false)
        } else {
            continue;
        };
        let Some(slot) = slot
            .parse::<u16>()
            .ok()
            .filter(|&s| s < slotway_hashkit::SLOT_COUNT)
        else {
            continue;
        };
        if peer.is_empty() {
            continue;
        }
        let peer = resolve(peer);
        let (from, to) = if migrating {
            (my_addr.clone(), peer)
        } else {
            (peer, my_addr.clone())
        };
        out.push(SlotMigration {
            slot,
            from,
            to,
            migrating,
            importing: !migrating,
        });
    }
    out
}

/// The union of what several nodes report: one record per move, seen one
/// way or both, sorted by slot.
#[must_use]
pub fn merge(all: impl IntoIterator<Item = SlotMigration>) -> Vec<SlotMigration> {
    let mut out: Vec<SlotMigration> = Vec::new();
    for m in all {
        match out
            .iter_mut()
            .find(|o| o.slot == m.slot && o.from == m.from && o.to == m.to)
        {
            Some(o) => {
                o.migrating |= m.migrating;
                o.importing |= m.importing;
            }
            None => out.push(m),
        }
    }
    out.sort_by(|a, b| (a.slot, &a.from, &a.to).cmp(&(b.slot, &b.from, &b.to)));
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    const A: &str = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca";
    const B: &str = "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1";
    const C: &str = "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f";

    /// What A (127.0.0.1:30001) answers while it migrates slot 42 to B and
    /// 43 to a node it does not list, and imports 6000 from C.
    fn from_a() -> String {
        format!(
            "{A} 127.0.0.1:30001@31001,host-a myself,master - 0 0 1 connected 0-5460 [42->-{B}] [43->-ffff] [6000-<-{C}]\n\
             {B} 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922\n\
             {C} :30003@31003 master - 0 1426238318243 3 connected 10923-16383\n\
             07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004 slave {A} 0 1426238317239 1 connected\n"
        )
    }

    fn mig(slot: u16, from: &str, to: &str, migrating: bool, importing: bool) -> SlotMigration {
        SlotMigration {
            slot,
            from: from.into(),
            to: to.into(),
            migrating,
            importing,
        }
    }

    #[test]
    fn parses_the_myself_line_and_resolves_ids() {
        let got = parse(&from_a(), "10.0.0.9");
        assert_eq!(
            got,
            vec![
                mig(42, "127.0.0.1:30001", "127.0.0.1:30002", true, false),
                mig(43, "127.0.0.1:30001", "ffff", true, false),
                // C has no ip in the reply: the queried host stands in.
                mig(6000, "10.0.0.9:30003", "127.0.0.1:30001", false, true),
            ]
        );
        assert_eq!(got[0].seen_as(), ["migrating"]);
        assert_eq!(got[2].seen_as(), ["importing"]);
    }

    #[test]
    fn other_lines_and_garbage_are_ignored() {
        // Another node's line with a migration (an old Redis printed them
        // for every node): only `myself` counts.
        let text = format!(
            "{B} 127.0.0.1:30002@31002 master - 0 0 2 connected 5461-10922 [7->-{A}]\n\
             {A} 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5 [x->-{B}] [99999->-{B}] [5->-] [5] 6\n"
        );
        assert!(parse(&text, "h").is_empty());
        assert!(parse("", "h").is_empty());
        assert!(parse("garbage", "h").is_empty());
        let ipv6 = format!("{A} ::1:30001@31001 myself,master - 0 0 1 connected [1-<-{B}]\n");
        assert_eq!(parse(&ipv6, "h")[0].to, "[::1]:30001");
    }

    #[test]
    fn both_sides_merge_into_one_record() {
        let text_b = format!(
            "{A} 127.0.0.1:30001@31001 master - 0 0 1 connected 0-5460\n\
             {B} 127.0.0.1:30002@31002 myself,master - 0 0 2 connected 5461-10922 [42-<-{A}]\n"
        );
        let all = parse(&text_b, "h").into_iter().chain(parse(&from_a(), "h"));
        let merged = merge(all);
        assert_eq!(merged.len(), 3);
        assert_eq!(
            merged[0],
            mig(42, "127.0.0.1:30001", "127.0.0.1:30002", true, true)
        );
        assert_eq!(merged[0].seen_as(), ["migrating", "importing"]);
        assert_eq!(merged[1].slot, 43);
        assert_eq!(merged[2].slot, 6000);
        // The same answer twice (a node asked twice) changes nothing.
        assert_eq!(
            merge(merged.clone().into_iter().chain(merged.clone())),
            merged
        );
        assert!(merge(Vec::new()).is_empty());
    }
}
