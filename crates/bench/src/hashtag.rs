//! Hash tags for chosen slots: what `redis-benchmark --cluster` puts in its
//! keys so that each client's keys all sit in one slot of the node it talks
//! to (`key:{06S}:000000001234`).
//!
//! The bench gives a proxy the same shape of load (one tag per master, see
//! `Target::SlotwayClusterTagged`): keys in one slot per master cost the
//! servers less than keys over all their slots, so the requests/s of a
//! proxy and of `--cluster` only compare the hop when the keys are alike.
//!
//! Invariant: a returned tag hashes (CRC16, as Redis Cluster) to the slot
//! asked for; it is the first such string in a fixed order (shortest
//! first), so every run uses the same tags.

use slotway_hashkit::{SLOT_COUNT, key_slot};

/// Characters a tag is made of.
const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Longest tag tried: 62^4 strings cover every one of the 16,384 slots
/// (3 characters already cover almost all of them).
const MAX_LEN: usize = 4;

/// The first tag (shortest first, then in `ALPHABET` order) whose slot is
/// `slot`; `None` for a slot out of range (or, never seen, one no tag of up
/// to `MAX_LEN` characters reaches).
pub fn for_slot(slot: u16) -> Option<String> {
    if slot >= SLOT_COUNT {
        return None;
    }
    let mut tag = Vec::with_capacity(MAX_LEN);
    (1..=MAX_LEN).find_map(|len| search(&mut tag, len, slot))
}

/// Depth-first over the tags of exactly `len` characters that extend
/// `prefix`.
fn search(prefix: &mut Vec<u8>, len: usize, slot: u16) -> Option<String> {
    if prefix.len() == len {
        return (key_slot(prefix) == slot).then(|| String::from_utf8_lossy(prefix).into_owned());
    }
    for &c in ALPHABET {
        prefix.push(c);
        let found = search(prefix, len, slot);
        prefix.pop();
        if found.is_some() {
            return found;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_land_in_their_slot() {
        // The three masters' first slots, both ends, and a few between.
        for slot in [0_u16, 1, 5461, 5462, 10923, 12182, 16383] {
            let tag = for_slot(slot).unwrap();
            assert!(tag.len() <= 3, "{slot}: {tag}");
            let key = format!("key:{{{tag}}}:000000012345");
            assert_eq!(key_slot(key.as_bytes()), slot, "{tag}");
        }
        // Deterministic: the same tag every time.
        assert_eq!(for_slot(5461), for_slot(5461));
        assert_eq!(for_slot(16384), None);
    }
}
