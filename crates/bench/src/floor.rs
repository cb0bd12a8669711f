//! The `floor` section: the matrix's single-key cases directly and through
//! nutcracker, Slotway's pool and `slotway-floor` (a minimal one-thread proxy,
//! `src/bin/slotway-floor`) in both its shapes: on a hand-written `mio`
//! event loop, and as tokio tasks shaped like Slotway's data path.
//!
//! Why: the `-P 1` target (Slotway ≤ 0.8 × nutcracker) is mostly kernel
//! time that any proxy pays (a read and a reply per request, and waking the
//! client); the floor shows how low a proxy hop can go on this host, so a
//! missed ratio reads as "the design costs this much more than the least a
//! proxy can do here", not as noise; and the tasks shape splits that gap
//! into what the runtime and task shape cost and what Slotway's own work
//! costs.
//!
//! Invariants: MSET is left out (the floor sends a command whole to the
//! server of its first key, so it would not do the same work); the five
//! targets of a case (the servers directly, then the four proxies) run back
//! to back within a round, and rounds interleave, as the matrix's do (both
//! run by the bench's `Rounds`).

use crate::cases::{self, Case, Test};
use crate::report::{Row, cases_of, median, opt, ratio, throughput_ratio};
use crate::targets::Target;

/// The cases the floor section runs.
pub fn cases(quick: bool) -> Vec<Case> {
    cases::matrix(quick)
        .into_iter()
        .filter(|c| c.test != Test::Mset)
        .collect()
}

/// One line per case: each proxy's CPU per request (medians of rounds),
/// the ratios to nutcracker, and the user-space part of each.
pub fn table(rows: &[Row]) -> Vec<String> {
    let mut out = vec![
        "| case | nutcracker | slotway pool | floor (tasks) | floor (event loop) | \
         pool / nutcracker | tasks / nutcracker | event loop / nutcracker | \
         user: nutcracker / pool / tasks / event loop |"
            .to_string(),
        "|---|---:|---:|---:|---:|---:|---:|---:|---|".to_string(),
    ];
    let proxies = || Target::FLOOR_COMPARED.into_iter().filter(|t| t.is_proxy());
    for case in cases_of(rows) {
        let proxy = |t: Target| median(rows, case, t, Row::proxy_us);
        let nut = proxy(Target::Nutcracker);
        let cpu: Vec<String> = proxies().map(|t| opt(proxy(t), 2)).collect();
        let vs_nut: Vec<String> = proxies()
            .filter(|&t| t != Target::Nutcracker)
            .map(|t| opt(ratio(proxy(t), nut), 2))
            .collect();
        let users: Vec<String> = proxies()
            .map(|t| opt(median(rows, case, t, Row::proxy_user_us), 2))
            .collect();
        out.push(format!(
            "| {} | {} | {} | {} |",
            case.label(),
            cpu.join(" | "),
            vs_nut.join(" | "),
            users.join(" / "),
        ));
    }
    out
}

/// One line per case: requests/s directly and through each proxy (medians
/// of rounds), and what each proxy keeps of the direct run's (medians of
/// each round's ratio).
pub fn throughput_table(rows: &[Row]) -> Vec<String> {
    let mut out = vec![
        "| case | standalone direct | nutcracker | slotway pool | floor (tasks) | \
         floor (event loop) | nutcracker / direct | pool / direct | tasks / direct | \
         event loop / direct |"
            .to_string(),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|".to_string(),
    ];
    for case in cases_of(rows) {
        let rps: Vec<String> = Target::FLOOR_COMPARED
            .iter()
            .map(|&t| opt(median(rows, case, t, |r| Some(r.rps)), 0))
            .collect();
        let kept: Vec<String> = Target::FLOOR_COMPARED
            .iter()
            .filter(|t| t.is_proxy())
            .map(|&t| opt(throughput_ratio(rows, case, t, Target::StandaloneDirect), 2))
            .collect();
        out.push(format!(
            "| {} | {} | {} |",
            case.label(),
            rps.join(" | "),
            kept.join(" | ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_out_multi_key_cases() {
        let full = cases(false);
        assert_eq!(full.len(), 12);
        assert!(full.iter().all(|c| c.test != Test::Mset));
        assert_eq!(cases(true).len(), 4);
    }

    #[test]
    fn tables_give_each_shape_against_nutcracker_and_direct() {
        use crate::report::test_row as row;
        let rows = [
            row(Target::StandaloneDirect, 200.0, None, 1.0),
            row(Target::Nutcracker, 100.0, Some(0.8), 1.0),
            row(Target::SlotwayPool, 120.0, Some(0.6), 1.0),
            row(Target::FloorTasks, 150.0, Some(0.5), 1.0),
            row(Target::Floor, 160.0, Some(0.4), 1.0),
        ];
        let table = table(&rows);
        // 100,000 requests: 0.8 s of CPU is 8 µs per request, half of it user.
        assert_eq!(
            table.get(2).map(String::as_str),
            Some(
                "| SET -P 1 -d 64 | 8.00 | 6.00 | 5.00 | 4.00 | 0.75 | 0.62 | 0.50 | \
                 4.00 / 3.00 / 2.50 / 2.00 |"
            )
        );
        assert_eq!(
            throughput_table(&rows).get(2).map(String::as_str),
            Some("| SET -P 1 -d 64 | 200 | 100 | 120 | 150 | 160 | 0.50 | 0.60 | 0.75 | 0.80 |")
        );
    }
}
