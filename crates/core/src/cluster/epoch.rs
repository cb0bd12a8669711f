//! Choosing among disagreeing views by config epoch — Redis Cluster's own
//! rule. Pure.
//!
//! During a failover the nodes disagree for a while: one that has not yet
//! heard of the promotion still names the dead master as a slot's owner.
//! Each answer's shards carry the config epoch the answering node knows for
//! their master (from `CLUSTER NODES`, see [`parse_epochs`]). [`merge`] takes,
//! for every slot, the claim with the highest epoch, as the nodes themselves
//! settle conflicting claims (equal epochs: the earliest answer, so answers
//! without epochs behave as "first node that answers").
//!
//! [`SlotEpochs`] remembers the owner and epoch the last refresh installed
//! for each slot, so a later refresh in which only stale nodes answer cannot
//! take a slot back from a higher-epoch owner to a lower-epoch one.
//!
//! Invariants: the merged view covers exactly the slots some answer covers;
//! a slot's owner is the highest-epoch claim for it, unless the installed
//! owner has a higher epoch still, in which case the installed owner stays.

use std::collections::HashMap;

use slotway_hashkit::SLOT_COUNT;

use super::view::{ClusterView, ShardView};

/// Marks a slot without a remembered owner.
const NONE: u16 = u16::MAX;

/// `node id → config epoch` from a `CLUSTER NODES` reply. Lines that do not
/// have the documented shape (`id addr flags master ping pong epoch link
/// slots…`) are skipped.
#[must_use]
pub fn parse_epochs(nodes: &str) -> HashMap<String, u64> {
    nodes
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_ascii_whitespace();
            let id = fields.next()?;
            let epoch = fields.nth(5)?.parse::<u64>().ok()?;
            Some((id.to_owned(), epoch))
        })
        .collect()
}

/// The owner and config epoch of every slot, as last installed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotEpochs {
    /// Per slot: an index into `owners`, or [`NONE`]. Empty: nothing known.
    slots: Vec<u16>,
    /// `(master address, config epoch)`.
    owners: Vec<(String, u64)>,
}

impl SlotEpochs {
    /// The remembered owner of `slot` and its epoch.
    #[must_use]
    pub fn owner(&self, slot: u16) -> Option<(&str, u64)> {
        let idx = *self.slots.get(usize::from(slot))?;
        self.owners
            .get(usize::from(idx))
            .map(|(addr, epoch)| (addr.as_str(), *epoch))
    }

    /// Forgets every slot whose remembered owner `still_owns` denies (the
    /// slot table moved it since, after a MOVED reply): only what the
    /// refresher itself installed, and nothing changed since, is protected.
    pub fn retain(&mut self, mut still_owns: impl FnMut(u16, &str) -> bool) {
        for (slot, idx) in (0u16..).zip(self.slots.iter_mut()) {
            let keep = self
                .owners
                .get(usize::from(*idx))
                .is_some_and(|(addr, _)| still_owns(slot, addr));
            if !keep {
                *idx = NONE;
            }
        }
    }
}

/// The outcome of [`merge`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Merged {
    /// The view to install: one shard per owner (slot order), then the
    /// masters that own nothing, so every node stays a refresh candidate.
    pub view: ClusterView,
    /// Owner and epoch of every covered slot.
    pub epochs: SlotEpochs,
    /// Slots the answers disagreed on.
    pub contested: usize,
    /// Slots whose installed owner was kept because every claim for them
    /// had a lower epoch (stale answers).
    pub kept: usize,
}

/// A claim for a slot: `(epoch, answer, shard)`.
type Claim = (u64, usize, usize);

/// Merges the answers of one refresh (in arrival order) into one view,
/// slot by slot, never going below the epochs in `installed`.
#[must_use]
pub fn merge(answers: &[ClusterView], installed: &SlotEpochs) -> Merged {
    let shard = |(_, a, s): Claim| answers.get(a).and_then(|v| v.shards.get(s));
    let mut best: Vec<Option<Claim>> = vec![None; usize::from(SLOT_COUNT)];
    let mut contested = vec![false; usize::from(SLOT_COUNT)];
    for (a, view) in answers.iter().enumerate() {
        for (s, claim) in view.shards.iter().enumerate() {
            for &(lo, hi) in &claim.ranges {
                for slot in lo..=hi.min(SLOT_COUNT - 1) {
                    let i = usize::from(slot);
                    let (Some(entry), Some(flag)) = (best.get_mut(i), contested.get_mut(i)) else {
                        continue;
                    };
                    match *entry {
                        None => *entry = Some((claim.epoch, a, s)),
                        Some(old) => {
                            if shard(old).is_some_and(|o| o.master != claim.master) {
                                *flag = true;
                            }
                            // Strictly greater: equal epochs keep the earlier answer.
                            if claim.epoch > old.0 {
                                *entry = Some((claim.epoch, a, s));
                            }
                        }
                    }
                }
            }
        }
    }

    // Owners in slot order: (address, epoch, the claim their replicas come from).
    let mut owners: Vec<(String, u64, Option<Claim>)> = Vec::new();
    let mut index: HashMap<String, u16> = HashMap::new();
    let mut slots = vec![NONE; usize::from(SLOT_COUNT)];
    let mut kept = 0;
    for (slot, (claim, out)) in (0u16..).zip(best.iter().zip(slots.iter_mut())) {
        let Some(claim) = *claim else {
            continue;
        };
        let Some(claimed) = shard(claim) else {
            continue;
        };
        let (addr, epoch, source) = match installed.owner(slot) {
            Some((owner, epoch)) if owner == claimed.master => {
                (owner, epoch.max(claim.0), Some(claim))
            }
            Some((owner, epoch)) if epoch > claim.0 => {
                kept += 1;
                (owner, epoch, None)
            }
            _ => (claimed.master.as_str(), claim.0, Some(claim)),
        };
        let idx = match index.get(addr) {
            Some(&i) => i,
            None => {
                let Ok(i) = u16::try_from(owners.len()) else {
                    continue;
                };
                owners.push((addr.to_owned(), epoch, source));
                index.insert(addr.to_owned(), i);
                i
            }
        };
        // The same master may be claimed at several epochs (stale and fresh
        // answers): its replicas come from its highest claim.
        if let Some(entry) = owners.get_mut(usize::from(idx))
            && source.is_some_and(|c| entry.2.is_none_or(|e| c.0 > e.0))
        {
            entry.1 = entry.1.max(epoch);
            entry.2 = source;
        }
        *out = idx;
    }

    let mut ranges = ranges_by_owner(&slots, owners.len());
    let mut view = ClusterView::default();
    for (i, (master, epoch, source)) in owners.iter().enumerate() {
        let replicas = source
            .and_then(shard)
            .or_else(|| {
                // A kept owner: its replicas as any answer lists them.
                answers
                    .iter()
                    .flat_map(|v| &v.shards)
                    .find(|s| s.master == *master)
            })
            .map(|s| s.replicas.clone())
            .unwrap_or_default();
        view.shards.push(ShardView {
            master: master.clone(),
            replicas,
            ranges: ranges.get_mut(i).map(std::mem::take).unwrap_or_default(),
            epoch: *epoch,
        });
    }
    // Masters that own nothing now (a dead master a stale answer still
    // names, a new empty master): kept as refresh candidates.
    for s in answers.iter().flat_map(|v| &v.shards) {
        if !index.contains_key(&s.master) && !view.shards.iter().any(|v| v.master == s.master) {
            view.shards.push(ShardView {
                ranges: Vec::new(),
                ..s.clone()
            });
        }
    }
    Merged {
        view,
        epochs: SlotEpochs {
            slots,
            owners: owners.into_iter().map(|(a, e, _)| (a, e)).collect(),
        },
        contested: contested.iter().filter(|&&c| c).count(),
        kept,
    }
}

/// Contiguous slot ranges of each of `owners` owners, in one pass.
fn ranges_by_owner(slots: &[u16], owners: usize) -> Vec<Vec<(u16, u16)>> {
    let mut out: Vec<Vec<(u16, u16)>> = vec![Vec::new(); owners];
    for (slot, &idx) in (0u16..).zip(slots) {
        let Some(ranges) = out.get_mut(usize::from(idx)) else {
            continue;
        };
        match ranges.last_mut() {
            Some((_, hi)) if *hi + 1 == slot => *hi = slot,
            _ => ranges.push((slot, slot)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn shard(master: &str, replicas: &[&str], ranges: &[(u16, u16)], epoch: u64) -> ShardView {
        ShardView {
            master: master.into(),
            replicas: replicas.iter().map(|r| (*r).to_owned()).collect(),
            ranges: ranges.to_vec(),
            epoch,
        }
    }

    fn owner(m: &Merged, slot: u16) -> Option<(&str, u64)> {
        m.epochs.owner(slot)
    }

    /// Before the failover: a:1 (epoch 1, replica a:2) owns 0..8000, b:1
    /// (epoch 2) the rest.
    fn stale() -> ClusterView {
        ClusterView {
            shards: vec![
                shard("a:1", &["a:2"], &[(0, 8000)], 1),
                shard("b:1", &["b:2"], &[(8001, 16383)], 2),
            ],
        }
    }

    /// After it: a:2 was promoted with epoch 7; a:1 is a failed master.
    fn fresh() -> ClusterView {
        ClusterView {
            shards: vec![
                shard("a:2", &[], &[(0, 8000)], 7),
                shard("b:1", &["b:2"], &[(8001, 16383)], 2),
                shard("a:1", &[], &[], 1),
            ],
        }
    }

    #[test]
    fn parses_epochs_of_cluster_nodes() {
        let text = "\
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460\n\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host4 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 1 connected\n\
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002 master,fail - 1426238316232 1426238315000 12 disconnected 5461-10922 [5461->-e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca]\n\
garbage line\n";
        let epochs = parse_epochs(text);
        assert_eq!(epochs.len(), 3);
        assert_eq!(epochs["e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca"], 1);
        assert_eq!(epochs["67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1"], 12);
        assert!(parse_epochs("").is_empty());
    }

    #[test]
    fn highest_epoch_wins_whatever_the_order_of_answers() {
        for answers in [vec![stale(), fresh()], vec![fresh(), stale()]] {
            let m = merge(&answers, &SlotEpochs::default());
            assert_eq!(owner(&m, 0), Some(("a:2", 7)));
            assert_eq!(owner(&m, 8000), Some(("a:2", 7)));
            assert_eq!(owner(&m, 8001), Some(("b:1", 2)));
            assert_eq!(m.contested, 8001);
            assert_eq!(m.kept, 0);
            let masters: Vec<_> = m.view.shards.iter().map(|s| s.master.as_str()).collect();
            assert_eq!(
                masters,
                ["a:2", "b:1", "a:1"],
                "owners in slot order, then the rest"
            );
            assert_eq!(m.view.shards[0].ranges, vec![(0, 8000)]);
            // Replicas come from the winning claim: a:2 has none, and the
            // stale "a:1 with replica a:2" does not make a:2 its own replica.
            assert!(m.view.shards[0].replicas.is_empty());
            assert_eq!(m.view.shards[1].replicas, vec!["b:2"]);
            assert!(m.view.shards[2].ranges.is_empty());
            assert_eq!(m.view.covered_slots(), 16384);
        }
    }

    #[test]
    fn equal_epochs_keep_the_first_answer() {
        let one = ClusterView {
            shards: vec![shard("x:1", &[], &[(0, 16383)], 0)],
        };
        let two = ClusterView {
            shards: vec![shard("y:1", &[], &[(0, 16383)], 0)],
        };
        let m = merge(&[one, two], &SlotEpochs::default());
        assert_eq!(owner(&m, 5), Some(("x:1", 0)));
        assert_eq!(m.view.shards.len(), 2);
        assert_eq!(m.view.shards[0].ranges, vec![(0, 16383)]);
    }

    #[test]
    fn a_stale_refresh_never_takes_a_slot_back() {
        let installed = merge(&[fresh()], &SlotEpochs::default()).epochs;
        // Only a node that has not heard of the promotion answers.
        let m = merge(&[stale()], &installed);
        assert_eq!(owner(&m, 0), Some(("a:2", 7)));
        assert_eq!(owner(&m, 9000), Some(("b:1", 2)));
        assert_eq!(m.kept, 8001);
        assert_eq!(m.view.shards[0].master, "a:2");
        assert_eq!(m.view.shards[0].ranges, vec![(0, 8000)]);
        // a:1 is still a refresh candidate, owning nothing.
        assert!(
            m.view
                .shards
                .iter()
                .any(|s| s.master == "a:1" && s.ranges.is_empty())
        );
        // A higher epoch moves it on (a later failover back to a:1).
        let back = ClusterView {
            shards: vec![shard("a:1", &["a:2"], &[(0, 8000)], 9)],
        };
        let m2 = merge(&[back], &m.epochs);
        assert_eq!(owner(&m2, 0), Some(("a:1", 9)));
        assert_eq!(m2.kept, 0);
    }

    #[test]
    fn slots_moved_since_are_not_protected() {
        let mut installed = merge(&[fresh()], &SlotEpochs::default()).epochs;
        // A MOVED reply put slot 5 on c:1 in the table meanwhile.
        installed.retain(|slot, addr| !(slot == 5 && addr == "a:2"));
        let m = merge(&[stale()], &installed);
        assert_eq!(owner(&m, 5), Some(("a:1", 1)));
        assert_eq!(owner(&m, 4), Some(("a:2", 7)));
        assert_eq!(
            m.view.shards[0].ranges,
            vec![(0, 4), (6, 8000)],
            "{:?}",
            m.view
        );
    }

    #[test]
    fn uncovered_slots_stay_uncovered_and_nothing_merges_to_nothing() {
        let part = ClusterView {
            shards: vec![shard("a:1", &[], &[(10, 20)], 3)],
        };
        let m = merge(&[part], &SlotEpochs::default());
        assert_eq!(m.view.covered_slots(), 11);
        assert_eq!(owner(&m, 9), None);
        let empty = merge(&[], &SlotEpochs::default());
        assert_eq!(empty.view.covered_slots(), 0);
        assert_eq!(empty.epochs.owner(0), None);
    }

    #[test]
    fn same_master_claimed_at_two_epochs_takes_the_higher() {
        let old = ClusterView {
            shards: vec![shard("a:1", &["old:1"], &[(0, 100)], 1)],
        };
        let new = ClusterView {
            shards: vec![shard("a:1", &["new:1"], &[(0, 200)], 4)],
        };
        let m = merge(&[old, new], &SlotEpochs::default());
        assert_eq!(owner(&m, 50), Some(("a:1", 4)));
        assert_eq!(m.view.shards.len(), 1);
        assert_eq!(m.view.shards[0].replicas, vec!["new:1"]);
        assert_eq!(m.view.shards[0].ranges, vec![(0, 200)]);
        assert_eq!(m.contested, 0);
    }
}
