//! Running `redis-benchmark` and reading its requests/s.
//!
//! Invariants: every run is bounded by a timeout (the child is killed on
//! expiry, by `slotway_fixture::run_bounded`); throughput comes from the
//! `--csv` output only, never from the human-readable progress lines; a
//! split run hands out exactly the requested clients and requests.

use std::process::Command;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use slotway_fixture::run_bounded;

use crate::cases::Test;

/// Where a run connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `redis-benchmark --cluster`, seeded by this node.
    Cluster(u16),
    /// Plain `redis-benchmark` at one port (a proxy).
    Single(u16),
    /// One plain `redis-benchmark` per part, all at once, clients and
    /// requests split between them: the standalone servers directly (a
    /// part per server), or a proxy loaded the way `--cluster` loads the
    /// cluster (a part per master's hash tag).
    Split(Vec<Part>),
}

/// One `redis-benchmark` of a split run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub port: u16,
    /// The hash tag of every key (the test's `--cluster` command, see
    /// `Test::cluster_command`); `None`: the plain test (`-t`).
    pub tag: Option<String>,
}

/// One `redis-benchmark` invocation.
#[derive(Debug, Clone)]
pub struct Spec {
    pub test: Test,
    /// `-P`.
    pub pipeline: u32,
    /// `-n`.
    pub requests: u64,
    /// `-c`.
    pub clients: u32,
    /// `-r` (random keys out of this many).
    pub keyspace: u64,
    /// `-d`.
    pub data_size: u32,
}

/// How one `redis-benchmark` connects and what it sends.
#[derive(Debug, Clone, Copy)]
enum Mode<'a> {
    /// `--cluster`, the test's own command (`-t`).
    Cluster,
    /// One port, the test's own command (`-t`).
    Plain,
    /// One port, the test's `--cluster` command with this hash tag.
    Tagged(&'a str),
}

/// The argument list for one `redis-benchmark` at `port`.
fn benchmark_args(mode: Mode<'_>, port: u16, spec: &Spec) -> Vec<String> {
    // A tagged run sends its own command: no `-t`, and its values carry
    // the data size themselves (no `-d`).
    let tag = match mode {
        Mode::Tagged(tag) => Some(tag),
        Mode::Cluster | Mode::Plain => None,
    };
    let mut args: Vec<String> = Vec::new();
    if matches!(mode, Mode::Cluster) {
        args.push("--cluster".into());
    }
    for (flag, value) in [
        ("-h", Some("127.0.0.1".to_string())),
        ("-p", Some(port.to_string())),
        ("-t", tag.is_none().then(|| spec.test.arg().to_string())),
        ("-c", Some(spec.clients.to_string())),
        ("-r", Some(spec.keyspace.to_string())),
        ("-n", Some(spec.requests.to_string())),
        ("-P", Some(spec.pipeline.to_string())),
        ("-d", tag.is_none().then(|| spec.data_size.to_string())),
    ] {
        if let Some(value) = value {
            args.push(flag.into());
            args.push(value);
        }
    }
    args.push("--csv".into());
    if let Some(tag) = tag {
        args.extend(spec.test.cluster_command(tag, spec.data_size));
    }
    args
}

/// `total` split into `parts` shares differing by at most one, larger first.
pub fn split(total: u64, parts: usize) -> Vec<u64> {
    let n = parts as u64;
    if n == 0 {
        return Vec::new();
    }
    (0..n)
        .map(|i| total / n + u64::from(i < total % n))
        .collect()
}

/// Runs the benchmark at `endpoint` and returns requests/s.
///
/// For a split run that is all requests over the slowest part's elapsed
/// time (each part's `requests / rps`): the parts start together, so this
/// is the aggregate throughput, a lower bound if they end unevenly.
pub fn run(endpoint: &Endpoint, spec: &Spec, timeout: Duration) -> Result<f64> {
    match endpoint {
        Endpoint::Cluster(port) => run_one(Mode::Cluster, *port, spec, timeout),
        Endpoint::Single(port) => run_one(Mode::Plain, *port, spec, timeout),
        Endpoint::Split(parts) => {
            let requests = split(spec.requests, parts.len());
            let clients = split(u64::from(spec.clients), parts.len());
            let runs: Vec<(&Part, Spec)> = parts
                .iter()
                .zip(requests.iter().zip(&clients))
                .filter(|(_, (n, c))| **n > 0 && **c > 0)
                .map(|(part, (n, c))| {
                    let share = Spec {
                        requests: *n,
                        clients: u32::try_from(*c).unwrap_or(u32::MAX),
                        ..spec.clone()
                    };
                    (part, share)
                })
                .collect();
            let results: Vec<Result<(u64, f64)>> = thread::scope(|s| {
                let handles: Vec<_> = runs
                    .iter()
                    .map(|(part, share)| {
                        let mode = part.tag.as_deref().map_or(Mode::Plain, Mode::Tagged);
                        s.spawn(move || {
                            run_one(mode, part.port, share, timeout)
                                .map(|rps| (share.requests, rps))
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err(anyhow::anyhow!("benchmark thread panicked")))
                    })
                    .collect()
            });
            let mut slowest = 0.0_f64;
            let mut total = 0_u64;
            for r in results {
                let (n, rps) = r?;
                total += n;
                slowest = slowest.max(n as f64 / rps);
            }
            if slowest <= 0.0 {
                bail!("split run over {parts:?} measured nothing");
            }
            Ok(total as f64 / slowest)
        }
    }
}

fn run_one(mode: Mode<'_>, port: u16, spec: &Spec, timeout: Duration) -> Result<f64> {
    let args = benchmark_args(mode, port, spec);
    let out = run_bounded(Command::new("redis-benchmark").args(&args), timeout)
        .with_context(|| format!("redis-benchmark {}", args.join(" ")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail = |s: &str| {
        let lines: Vec<&str> = s.lines().collect();
        lines
            .get(lines.len().saturating_sub(15)..)
            .unwrap_or_default()
            .join("\n")
    };
    if !out.status.success() {
        bail!(
            "redis-benchmark {} exited with {}\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            out.status,
            tail(&stdout),
            tail(&stderr)
        );
    }
    match parse_csv_rps(&stdout, spec.test) {
        Some(rps) => Ok(rps),
        None => bail!(
            "no `{}` row in the CSV of redis-benchmark {}\nstdout:\n{}\nstderr:\n{}",
            spec.test.label(),
            args.join(" "),
            tail(&stdout),
            tail(&stderr)
        ),
    }
}

/// The `rps` column of the row for `test` in `redis-benchmark --csv` output:
/// `"test","rps","avg_latency_ms",...` then e.g. `"SET","80000.00",...` or
/// `"MSET (10 keys)","9000.00",...`. Other lines (cluster-mode banners,
/// warnings) are ignored.
pub fn parse_csv_rps(output: &str, test: Test) -> Option<f64> {
    parse_csv_rps_of(output, test.label())
}

/// The `rps` column of the first CSV row whose test name starts with the
/// word `label` (an arbitrary command's row is named by its command line,
/// e.g. `"MGET key:__rand_int__ ..."`).
pub fn parse_csv_rps_of(output: &str, label: &str) -> Option<f64> {
    output.lines().find_map(|line| {
        let mut fields = line.split(',').map(|f| f.trim().trim_matches('"'));
        let name = fields.next()?.split(' ').next()?;
        if !name.eq_ignore_ascii_case(label) {
            return None;
        }
        let rps: f64 = fields.next()?.parse().ok()?;
        (rps.is_finite() && rps > 0.0).then_some(rps)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_csv() {
        let out = "Cluster has 3 master nodes:\n\n\
            \"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\"\n\
            \"SET\",\"434782.59\",\"1.583\",\"0.392\"\n\
            \"GET\",\"1111111.12\",\"0.603\",\"0.336\"\n\
            \"MSET (10 keys)\",\"8040.85\",\"99.179\",\"5.784\"\n";
        assert_eq!(parse_csv_rps(out, Test::Set), Some(434_782.59));
        assert_eq!(parse_csv_rps(out, Test::Get), Some(1_111_111.12));
        assert_eq!(parse_csv_rps(out, Test::Mset), Some(8040.85));
        assert_eq!(parse_csv_rps(out, Test::Incr), None);
        assert_eq!(parse_csv_rps("\"SET\",\"nan\"", Test::Set), None);
        let mget = "\"test\",\"rps\"\n\"MGET key:__rand_int__ key:__rand_int__\",\"1234.50\"\n";
        assert_eq!(parse_csv_rps_of(mget, "MGET"), Some(1234.5));
    }

    #[test]
    fn builds_args() {
        let spec = Spec {
            test: Test::Lpush,
            pipeline: 16,
            requests: 1000,
            clients: 50,
            keyspace: 100_000,
            data_size: 64,
        };
        assert_eq!(
            benchmark_args(Mode::Cluster, 7000, &spec).join(" "),
            "--cluster -h 127.0.0.1 -p 7000 -t lpush -c 50 -r 100000 -n 1000 -P 16 -d 64 --csv"
        );
        assert!(!benchmark_args(Mode::Plain, 7000, &spec).contains(&"--cluster".to_string()));
        let spec = Spec {
            test: Test::Get,
            ..spec
        };
        // The test's `--cluster` command at one port: no `-t`, no `-d`.
        assert_eq!(
            benchmark_args(Mode::Tagged("8M"), 7777, &spec).join(" "),
            "-h 127.0.0.1 -p 7777 -c 50 -r 100000 -n 1000 -P 16 --csv GET key:{8M}:__rand_int__"
        );
    }

    #[test]
    fn splits_exactly() {
        assert_eq!(split(50, 3), vec![17, 17, 16]);
        assert_eq!(split(100_000, 3).iter().sum::<u64>(), 100_000);
        assert_eq!(split(2, 3), vec![1, 1, 0]);
        assert!(split(5, 0).is_empty());
    }
}
