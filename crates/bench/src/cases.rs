//! What is measured (the case matrix) and how many requests each run gets
//! (the sizer).
//!
//! Owns the list of cases (redis-benchmark test × `-P` × `-d`) and the
//! per-run request count. Invariants: the matrix is fixed and ordered so
//! that a GET case always follows the SET case of the same pipeline and
//! value size (it reads what that SET wrote); a run's request count is
//! always within `[min, max]` of its pipeline depth, so a run is bounded
//! however fast or slow the machine is, and long enough for `/proc`'s 10 ms
//! CPU ticks to be a small error.

use std::collections::HashMap;

use crate::targets::Target;

/// A redis-benchmark test (`-t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Test {
    Set,
    Get,
    Incr,
    /// redis-benchmark's LPUSH always pushes to one key (`mylist`; with a
    /// hash tag per node under `--cluster`): through a proxy it loads one
    /// server only.
    Lpush,
    /// `MSET` of 10 random keys per request.
    Mset,
}

impl Test {
    /// The `-t` argument.
    pub fn arg(self) -> &'static str {
        match self {
            Test::Set => "set",
            Test::Get => "get",
            Test::Incr => "incr",
            Test::Lpush => "lpush",
            Test::Mset => "mset",
        }
    }

    /// The command `redis-benchmark --cluster` sends for this test, with
    /// `tag` as the hash tag it puts in every key and values of
    /// `data_size` bytes of `x` (redis-benchmark 7.0's own test commands):
    /// run at a proxy with one tag per master, it loads the servers with
    /// the very keys `--cluster` places, one slot per master.
    pub fn cluster_command(self, tag: &str, data_size: u32) -> Vec<String> {
        let key = format!("key:{{{tag}}}:__rand_int__");
        let data = "x".repeat(data_size as usize);
        match self {
            Test::Set => vec!["SET".into(), key, data],
            Test::Get => vec!["GET".into(), key],
            Test::Incr => vec!["INCR".into(), format!("counter:{{{tag}}}:__rand_int__")],
            Test::Lpush => vec!["LPUSH".into(), format!("mylist:{{{tag}}}"), data],
            Test::Mset => std::iter::once("MSET".to_string())
                .chain((0..10).flat_map(|_| [key.clone(), data.clone()]))
                .collect(),
        }
    }

    /// Upper-case name as in the CSV (`MSET (10 keys)` starts with `MSET`).
    pub fn label(self) -> &'static str {
        match self {
            Test::Set => "SET",
            Test::Get => "GET",
            Test::Incr => "INCR",
            Test::Lpush => "LPUSH",
            Test::Mset => "MSET",
        }
    }
}

/// One benchmark case: the same for every target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Case {
    pub test: Test,
    /// `-P`.
    pub pipeline: u32,
    /// `-d`, bytes per value.
    pub data_size: u32,
}

impl Case {
    /// e.g. `SET -P 16 -d 64`.
    pub fn label(&self) -> String {
        format!(
            "{} -P {} -d {}",
            self.test.label(),
            self.pipeline,
            self.data_size
        )
    }

    /// First guess of the throughput of this case relative to SET of 64 B
    /// at the same `-P` (measured on a 2-core machine), until a run of the
    /// case has been measured.
    fn guessed_weight(&self) -> f64 {
        let pipelined = self.pipeline > 1;
        match (self.test, self.data_size > 1024, pipelined) {
            // 10 keys per request, split over the servers by a proxy.
            (Test::Mset, _, false) => 0.5,
            (Test::Mset, _, true) => 0.1,
            // Unpipelined, syscalls dominate; pipelined, copying 4 KB does.
            (_, true, false) => 0.8,
            (Test::Get, true, true) => 0.5,
            (_, true, true) => 0.2,
            (_, false, _) => 1.0,
        }
    }

    /// The case every other case of the same `-P` is sized against.
    fn is_reference(&self) -> bool {
        self.test == Test::Set && self.data_size == SMALL
    }
}

/// Value size of most cases.
pub const SMALL: u32 = 64;
/// Value size of the large-value case.
pub const LARGE: u32 = 4096;

/// The cases of a full run, in run order: 64 B at `-P 1` then `-P 16`, then
/// SET/GET of 4 KB at both depths. `quick` keeps SET and GET of 64 B.
pub fn matrix(quick: bool) -> Vec<Case> {
    let mut cases = Vec::new();
    for pipeline in [1, 16] {
        let tests: &[Test] = if quick {
            &[Test::Set, Test::Get]
        } else {
            &[Test::Set, Test::Get, Test::Incr, Test::Lpush, Test::Mset]
        };
        for &test in tests {
            cases.push(Case {
                test,
                pipeline,
                data_size: SMALL,
            });
        }
    }
    if !quick {
        for pipeline in [1, 16] {
            for test in [Test::Set, Test::Get] {
                cases.push(Case {
                    test,
                    pipeline,
                    data_size: LARGE,
                });
            }
        }
    }
    cases
}

/// Chooses each run's `-n` so that it lasts about `secs` seconds.
///
/// Each target's throughput on SET of 64 B is its base at that `-P`; a
/// case's weight (its throughput relative to that base) is learned from
/// the last target of the same kind (proxy or direct) measured in the case,
/// and guessed before that: proxies and direct runs scale differently
/// (a proxy splits an MSET, Redis does not). A run
/// gets `secs × base × weight` requests, or a default before the target
/// has a base, so a loaded machine shortens the runs instead of stretching
/// the whole benchmark.
#[derive(Debug)]
pub struct Sizer {
    secs: f64,
    fixed: Option<u64>,
    /// Requests/s of SET -d 64, per (target, -P).
    base: HashMap<(Target, u32), f64>,
    /// Throughput of a case relative to the base of the same target, per
    /// (case, target is a proxy).
    weight: HashMap<(Case, bool), f64>,
}

/// Bounds and first guesses per pipeline depth: (min, default, max).
fn bounds(pipeline: u32) -> (f64, f64, f64) {
    if pipeline > 1 {
        (40_000.0, 200_000.0, 3_000_000.0)
    } else {
        (10_000.0, 40_000.0, 400_000.0)
    }
}

impl Sizer {
    /// `fixed` gives every run exactly that many requests.
    pub fn new(secs: f64, fixed: Option<u64>) -> Sizer {
        Sizer {
            secs,
            fixed,
            base: HashMap::new(),
            weight: HashMap::new(),
        }
    }

    /// Requests for the next run of `case` against `target`.
    pub fn requests(&self, target: Target, case: &Case) -> u64 {
        if let Some(n) = self.fixed {
            return n;
        }
        let (min, default, max) = bounds(case.pipeline);
        let weight = self
            .weight
            .get(&(*case, target.is_proxy()))
            .copied()
            .unwrap_or_else(|| case.guessed_weight());
        let wanted = match self.base.get(&(target, case.pipeline)) {
            Some(base) => base * weight * self.secs,
            None => default * weight,
        };
        // Round to thousands: easier to read, no effect on the measurement.
        let n = (wanted.clamp(min, max) / 1000.0).round() * 1000.0;
        n as u64
    }

    /// Records the throughput of a run.
    pub fn record(&mut self, target: Target, case: &Case, rps: f64) {
        if !(rps.is_finite() && rps > 0.0) {
            return;
        }
        let key = (target, case.pipeline);
        if case.is_reference() {
            self.base.insert(key, rps);
        } else if let Some(base) = self.base.get(&key) {
            self.weight.insert((*case, target.is_proxy()), rps / base);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_commands_are_redis_benchmarks_own() {
        assert_eq!(
            Test::Set.cluster_command("06S", 3),
            ["SET", "key:{06S}:__rand_int__", "xxx"]
        );
        assert_eq!(
            Test::Get.cluster_command("8M", 3),
            ["GET", "key:{8M}:__rand_int__"]
        );
        assert_eq!(
            Test::Incr.cluster_command("8M", 3),
            ["INCR", "counter:{8M}:__rand_int__"]
        );
        assert_eq!(
            Test::Lpush.cluster_command("8M", 2),
            ["LPUSH", "mylist:{8M}", "xx"]
        );
        let mset = Test::Mset.cluster_command("63n", 1);
        assert_eq!(mset.len(), 21);
        assert_eq!(mset.first().map(String::as_str), Some("MSET"));
        assert!(
            mset.iter()
                .skip(1)
                .step_by(2)
                .all(|k| k == "key:{63n}:__rand_int__")
        );
        assert!(mset.iter().skip(2).step_by(2).all(|v| v == "x"));
    }

    #[test]
    fn matrix_orders_get_after_set() {
        let full = matrix(false);
        assert_eq!(full.len(), 14);
        for (i, c) in full.iter().enumerate() {
            if c.test == Test::Get {
                assert!(
                    full[..i].iter().any(|s| s.test == Test::Set
                        && s.pipeline == c.pipeline
                        && s.data_size == c.data_size),
                    "{}",
                    c.label()
                );
            }
        }
        assert_eq!(matrix(true).len(), 4);
        assert_eq!(full[13].label(), "GET -P 16 -d 4096");
    }

    #[test]
    fn sizes_runs_from_the_base_and_learned_weights() {
        let set1 = Case {
            test: Test::Set,
            pipeline: 1,
            data_size: SMALL,
        };
        let mset1 = Case {
            test: Test::Mset,
            ..set1
        };
        let mut s = Sizer::new(3.0, None);
        assert_eq!(s.requests(Target::Nutcracker, &set1), 40_000);
        assert_eq!(s.requests(Target::Nutcracker, &mset1), 20_000);
        s.record(Target::Nutcracker, &set1, 20_000.0);
        s.record(Target::SlotwayPool, &set1, 40_000.0);
        assert_eq!(s.requests(Target::Nutcracker, &set1), 60_000);
        // Guessed weight 0.5 until a run of the case is measured...
        assert_eq!(s.requests(Target::Nutcracker, &mset1), 30_000);
        s.record(Target::Nutcracker, &mset1, 2_000.0);
        // ...then the learned one (0.1) for every proxy...
        assert_eq!(s.requests(Target::Nutcracker, &mset1), 10_000);
        assert_eq!(s.requests(Target::SlotwayPool, &mset1), 12_000);
        // ...but not for direct runs, which learn their own.
        s.record(Target::StandaloneDirect, &set1, 100_000.0);
        assert_eq!(s.requests(Target::StandaloneDirect, &mset1), 150_000);
        // The latest measurement of a kind counts.
        s.record(Target::SlotwayPool, &mset1, 8_000.0);
        assert_eq!(s.requests(Target::Nutcracker, &mset1), 12_000);
        // Another target without a base gets the default.
        assert_eq!(s.requests(Target::ClusterDirect, &set1), 40_000);
        // Clamped both ways; nonsense is ignored.
        s.record(Target::Nutcracker, &set1, 100.0);
        assert_eq!(s.requests(Target::Nutcracker, &set1), 10_000);
        s.record(Target::Nutcracker, &set1, 1e9);
        assert_eq!(s.requests(Target::Nutcracker, &set1), 400_000);
        s.record(Target::Nutcracker, &set1, f64::NAN);
        assert_eq!(s.requests(Target::Nutcracker, &set1), 400_000);
        assert_eq!(
            Sizer::new(3.0, Some(7)).requests(Target::Nutcracker, &set1),
            7
        );
    }
}
