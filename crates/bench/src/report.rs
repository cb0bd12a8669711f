//! The results, printed as Markdown tables: every run, a per-case summary
//! with the ratios, requests/s through each proxy against direct access,
//! and syscalls per request.
//!
//! Invariants: formatting only; a value that was not measured (the proxy's
//! CPU in a direct run, a ratio whose other side is missing) is shown as
//! `-`, never as 0; ratios only compare runs of the same case in the same
//! benchmark run; known measurement artefacts (redis-benchmark's 250 ms
//! timer rounding under `--cluster`) are stated, not hidden.

use crate::cases::Case;
use crate::counter::Syscalls;
use crate::cpu::Usage;
use crate::targets::Target;

/// One measured run.
#[derive(Debug, Clone)]
pub struct Row {
    pub case: Case,
    pub target: Target,
    /// Requests in the run (`-n`).
    pub requests: u64,
    /// Requests/s reported by redis-benchmark.
    pub rps: f64,
    pub usage: Usage,
}

impl Row {
    fn per_request(&self, secs: f64) -> f64 {
        secs * 1e6 / self.requests.max(1) as f64
    }

    /// Proxy CPU µs per request (`None` for a direct run).
    pub fn proxy_us(&self) -> Option<f64> {
        self.usage.proxy.map(|s| self.per_request(s))
    }

    /// CPU µs per request of all redis-servers of the target's backend.
    pub fn redis_us(&self) -> f64 {
        self.per_request(self.usage.redis)
    }

    /// Proxy CPU µs per request in user space (`None` for a direct run).
    pub fn proxy_user_us(&self) -> Option<f64> {
        match (self.usage.proxy, self.usage.proxy_sys) {
            (Some(all), Some(sys)) => Some(self.per_request((all - sys).max(0.0))),
            _ => None,
        }
    }

    /// Share of the proxy's CPU spent in the kernel, %.
    pub fn proxy_sys_pct(&self) -> Option<f64> {
        match (self.usage.proxy, self.usage.proxy_sys) {
            (Some(all), Some(sys)) if all > 0.0 => Some(sys * 100.0 / all),
            _ => None,
        }
    }

    /// The proxy's context switches per request.
    pub fn proxy_switches_per_request(&self) -> Option<f64> {
        self.usage
            .proxy_switches
            .map(|n| n as f64 / self.requests.max(1) as f64)
    }

    /// redis-benchmark's own CPU µs per request.
    pub fn bench_us(&self) -> f64 {
        self.per_request(self.usage.bench)
    }

    /// Elapsed time as redis-benchmark measured it (`requests / rps`).
    pub fn elapsed_secs(&self) -> f64 {
        if self.rps > 0.0 {
            self.requests as f64 / self.rps
        } else {
            0.0
        }
    }
}

/// What counted a window's syscalls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountedBy {
    /// `strace -c -f`: stops the proxy at every syscall (slows it).
    Strace,
    /// `perf stat` of the syscall tracepoints: counts only.
    PerfStat,
}

impl CountedBy {
    pub fn label(self) -> &'static str {
        match self {
            CountedBy::Strace => "strace",
            CountedBy::PerfStat => "perf stat",
        }
    }
}

/// One counted window.
#[derive(Debug, Clone)]
pub struct SyscallRow {
    pub target: Target,
    pub pipeline: u32,
    pub by: CountedBy,
    pub requests: u64,
    /// The counts, or why there are none.
    pub result: Result<Syscalls, String>,
}

/// The median of `value` over the runs of `case` at `target` (several with
/// `--rounds`): one noisy run does not move it. `None` when no run has it.
pub fn median(
    rows: &[Row],
    case: Case,
    target: Target,
    value: impl Fn(&Row) -> Option<f64>,
) -> Option<f64> {
    let values: Vec<f64> = rows
        .iter()
        .filter(|r| r.case == case && r.target == target)
        .filter_map(value)
        .collect();
    median_of(values)
}

fn median_of(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => values.get(n / 2).copied(),
        _ => Some((values.get(n / 2 - 1)? + values.get(n / 2)?) / 2.0),
    }
}

/// The median over rounds of `a`'s requests/s over `b`'s, for `case`: the
/// k-th run of one is paired with the k-th of the other (one round's runs
/// ran back to back, under the same load from the rest of the host).
pub fn throughput_ratio(rows: &[Row], case: Case, a: Target, b: Target) -> Option<f64> {
    let rps = |t: Target| {
        rows.iter()
            .filter(move |r| r.case == case && r.target == t)
            .map(|r| r.rps)
    };
    median_of(
        rps(a)
            .zip(rps(b))
            .filter(|&(_, direct)| direct > 0.0)
            .map(|(proxied, direct)| proxied / direct)
            .collect(),
    )
}

/// One line per case: requests/s through each Slotway mode and directly
/// (medians of rounds), and the ratios (medians of each round's ratio).
pub fn throughput_table(rows: &[Row]) -> Vec<String> {
    let mut out = vec![
        "| case | slotway cluster req/s | cluster direct req/s | cluster / direct | \
         slotway cluster, --cluster's keys req/s | same keys / direct | \
         slotway pool req/s | standalone direct req/s | pool / direct | pool / nutcracker |"
            .to_string(),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|".to_string(),
    ];
    for case in cases_of(rows) {
        let rps = |t: Target| median(rows, case, t, |r| Some(r.rps));
        let paired = |a: Target, b: Target| throughput_ratio(rows, case, a, b);
        out.push(format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            case.label(),
            opt(rps(Target::SlotwayCluster), 0),
            opt(rps(Target::ClusterDirect), 0),
            opt(paired(Target::SlotwayCluster, Target::ClusterDirect), 2),
            opt(rps(Target::SlotwayClusterTagged), 0),
            opt(
                paired(Target::SlotwayClusterTagged, Target::ClusterDirect),
                2
            ),
            opt(rps(Target::SlotwayPool), 0),
            opt(rps(Target::StandaloneDirect), 0),
            opt(paired(Target::SlotwayPool, Target::StandaloneDirect), 2),
            opt(paired(Target::SlotwayPool, Target::Nutcracker), 2),
        ));
    }
    out
}

/// The cases of `rows`, in run order.
pub fn cases_of(rows: &[Row]) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for r in rows {
        if !cases.contains(&r.case) {
            cases.push(r.case);
        }
    }
    cases
}

pub fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.prec$}"))
}

pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// Every run, in run order.
pub fn runs_table(rows: &[Row]) -> Vec<String> {
    let mut out = vec![
        "| case | target | requests | req/s | proxy µs CPU/req | proxy kernel % | \
         proxy ctx switches/req | redis µs CPU/req | redis-benchmark µs CPU/req | \
         other tenants' CPU s |"
            .to_string(),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|".to_string(),
    ];
    for r in rows {
        out.push(format!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {:.2} | {:.2} | {:.1} |",
            r.case.label(),
            r.target.name(),
            r.requests,
            r.rps,
            opt(r.proxy_us(), 2),
            opt(r.proxy_sys_pct(), 0),
            opt(r.proxy_switches_per_request(), 2),
            r.redis_us(),
            r.bench_us(),
            r.usage.other,
        ));
    }
    out
}

/// One line per case: proxy CPU per request of each proxy, the direct
/// redis-server CPU per request on the same servers, and the ratios.
pub fn summary_table(rows: &[Row]) -> Vec<String> {
    let mut out = vec![
        "| case | nutcracker | slotway pool | pool / nutcracker | redis (standalone, direct) \
         | pool / redis | slotway cluster | redis (cluster, direct) | cluster / redis \
         | slotway cluster, --cluster's keys | same keys / redis |"
            .to_string(),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|".to_string(),
    ];
    for case in cases_of(rows) {
        let proxy = |t: Target| median(rows, case, t, Row::proxy_us);
        let redis = |t: Target| median(rows, case, t, |r| Some(r.redis_us()));
        let nut = proxy(Target::Nutcracker);
        let pool = proxy(Target::SlotwayPool);
        let cluster = proxy(Target::SlotwayCluster);
        let standalone_redis = redis(Target::SlotwayPool.baseline());
        let cluster_redis = redis(Target::SlotwayCluster.baseline());
        let tagged = proxy(Target::SlotwayClusterTagged);
        out.push(format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            case.label(),
            opt(nut, 2),
            opt(pool, 2),
            opt(ratio(pool, nut), 2),
            opt(standalone_redis, 2),
            opt(ratio(pool, standalone_redis), 2),
            opt(cluster, 2),
            opt(cluster_redis, 2),
            opt(ratio(cluster, cluster_redis), 2),
            opt(tagged, 2),
            opt(ratio(tagged, cluster_redis), 2),
        ));
    }
    out
}

/// Syscalls per request of each counted proxy, with the most frequent calls.
pub fn syscall_table(rows: &[SyscallRow]) -> Vec<String> {
    let mut out = vec![
        "| proxy | -P | counted by | requests | syscalls/req | most frequent, per request |"
            .to_string(),
        "|---|---:|---|---:|---:|---|".to_string(),
    ];
    for r in rows {
        let n = r.requests.max(1) as f64;
        let (total, top) = match &r.result {
            Ok(s) => (
                format!("{:.2}", s.total() as f64 / n),
                s.calls
                    .iter()
                    .take(6)
                    .map(|(name, c)| format!("{name} {:.2}", *c as f64 / n))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            Err(e) => ("-".to_string(), format!("not measured: {e}")),
        };
        out.push(format!(
            "| {} | {} | {} | {} | {total} | {top} |",
            r.target.name(),
            r.pipeline,
            r.by.label(),
            r.requests
        ));
    }
    out
}

/// redis-benchmark's throughput timer period: with threads (always in
/// `--cluster` mode) a run only ends on this timer, so its elapsed time is
/// rounded up to a multiple of it.
pub const TIMER_SECS: f64 = 0.25;

/// A note on the cluster-direct rows' timer rounding, with the worst
/// under-reporting among them (`TIMER_SECS / elapsed`), if there are any.
pub fn quantization_note(rows: &[Row]) -> Option<String> {
    let worst = rows
        .iter()
        .filter(|r| r.target == Target::ClusterDirect)
        .map(|r| TIMER_SECS / r.elapsed_secs().max(TIMER_SECS))
        .fold(None, |acc: Option<f64>, x| {
            Some(acc.map_or(x, |a| a.max(x)))
        })?;
    Some(format!(
        "Cluster-direct rows use `redis-benchmark --cluster`, which runs threads and stops only on \
         its 250 ms throughput timer: their elapsed time is rounded up to a multiple of 250 ms \
         (worst here: {:.0}% of a row's elapsed time), so their req/s is a lower bound. CPU per \
         request is not affected.",
        worst * 100.0
    ))
}

/// A measured row for the tables' tests: SET `-P 1` of 64 B, 100,000
/// requests, half of the proxy's CPU in the kernel.
#[cfg(test)]
pub fn test_row(target: Target, rps: f64, proxy: Option<f64>, redis: f64) -> Row {
    use crate::cases::{SMALL, Test};
    Row {
        case: Case {
            test: Test::Set,
            pipeline: 1,
            data_size: SMALL,
        },
        target,
        requests: 100_000,
        rps,
        usage: Usage {
            proxy,
            proxy_sys: proxy.map(|p| p / 2.0),
            proxy_switches: proxy.map(|_| 50_000),
            redis,
            bench: 1.0,
            other: 0.25,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_row as row;

    #[test]
    fn the_summary_takes_the_median_of_rounds() {
        let rows = [
            row(Target::SlotwayPool, 1.0, Some(3.0), 1.0),
            row(Target::SlotwayPool, 1.0, Some(1.0), 1.0),
            row(Target::SlotwayPool, 1.0, Some(9.0), 1.0),
            row(Target::Nutcracker, 1.0, Some(2.0), 1.0),
            row(Target::Nutcracker, 1.0, Some(4.0), 1.0),
        ];
        let case = rows[0].case;
        // 100,000 requests: 3 s of CPU is 30 µs per request.
        assert_eq!(
            median(&rows, case, Target::SlotwayPool, Row::proxy_us),
            Some(30.0)
        );
        assert_eq!(
            median(&rows, case, Target::Nutcracker, Row::proxy_us),
            Some(30.0)
        );
        assert_eq!(
            median(&rows, case, Target::SlotwayCluster, Row::proxy_us),
            None
        );
        assert!(summary_table(&rows)[2].contains("| 30.00 | 30.00 | 1.00 |"));
    }

    #[test]
    fn renders_runs_and_summary() {
        let rows = [
            row(Target::StandaloneDirect, 100_000.4, None, 0.5),
            row(Target::Nutcracker, 50_000.0, Some(1.0), 0.4),
            row(Target::SlotwayPool, 50_000.0, Some(0.5), 0.4),
        ];
        let t = runs_table(&rows);
        assert_eq!(
            t[2],
            "| SET -P 1 -d 64 | standalone direct | 100000 | 100000 | - | - | - | 5.00 | 10.00 | 0.2 |"
        );
        assert_eq!(
            t[3],
            "| SET -P 1 -d 64 | nutcracker | 100000 | 50000 | 10.00 | 50 | 0.50 | 4.00 | 10.00 | 0.2 |"
        );
        let s = summary_table(&rows);
        assert_eq!(s.len(), 3);
        assert_eq!(
            s[2],
            "| SET -P 1 -d 64 | 10.00 | 5.00 | 0.50 | 5.00 | 1.00 | - | - | - | - | - |"
        );
        assert!(quantization_note(&rows).is_none());
        let with_cluster = [row(Target::ClusterDirect, 200_000.0, None, 0.5)];
        let note = quantization_note(&with_cluster).unwrap();
        assert!(note.contains("worst here: 50%"), "{note}");
    }

    #[test]
    fn throughput_pairs_each_round_with_its_own_direct_run() {
        let rows = [
            row(Target::ClusterDirect, 400.0, None, 1.0),
            row(Target::SlotwayCluster, 300.0, Some(1.0), 1.0),
            row(Target::SlotwayClusterTagged, 400.0, Some(1.0), 1.0),
            row(Target::StandaloneDirect, 500.0, None, 1.0),
            row(Target::Nutcracker, 200.0, Some(1.0), 1.0),
            row(Target::SlotwayPool, 250.0, Some(1.0), 1.0),
            // A slower second round: each ratio against its own round.
            row(Target::ClusterDirect, 200.0, None, 1.0),
            row(Target::SlotwayCluster, 100.0, Some(1.0), 1.0),
            row(Target::SlotwayClusterTagged, 300.0, Some(1.0), 1.0),
            row(Target::StandaloneDirect, 100.0, None, 1.0),
            row(Target::Nutcracker, 100.0, Some(1.0), 1.0),
            row(Target::SlotwayPool, 50.0, Some(1.0), 1.0),
        ];
        let t = throughput_table(&rows);
        assert_eq!(t.len(), 3);
        // cluster: 0.75 and 0.5 -> 0.625; same keys: 1.0 and 1.5 -> 1.25;
        // pool: 0.5 and 0.5; pool / nut: 1.25, 0.5.
        assert_eq!(
            t[2],
            "| SET -P 1 -d 64 | 200 | 300 | 0.62 | 350 | 1.25 | 150 | 300 | 0.50 | 0.88 |"
        );
        let direct_only = [row(Target::ClusterDirect, 400.0, None, 1.0)];
        assert_eq!(
            throughput_table(&direct_only)[2],
            "| SET -P 1 -d 64 | - | 400 | - | - | - | - | - | - | - |"
        );
    }

    #[test]
    fn renders_syscalls() {
        let rows = [
            SyscallRow {
                target: Target::Nutcracker,
                pipeline: 1,
                by: CountedBy::Strace,
                requests: 1000,
                result: Ok(Syscalls {
                    calls: vec![("epoll_ctl".into(), 2000), ("read".into(), 1000)],
                }),
            },
            SyscallRow {
                target: Target::SlotwayPool,
                pipeline: 16,
                by: CountedBy::PerfStat,
                requests: 1000,
                result: Err("perf not installed".into()),
            },
        ];
        let t = syscall_table(&rows);
        assert_eq!(
            t[2],
            "| nutcracker | 1 | strace | 1000 | 3.00 | epoll_ctl 2.00, read 1.00 |"
        );
        assert_eq!(
            t[3],
            "| slotway pool | 16 | perf stat | 1000 | - | not measured: perf not installed |"
        );
    }
}
