//! Running `redis-benchmark` once and reading its requests/s.
//!
//! Invariant: every run is bounded by a timeout (the child is killed on
//! expiry, by `slotway_fixture::run_bounded`); throughput comes from the
//! `--csv` output only, never from the human-readable progress lines.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use slotway_fixture::run_bounded;

/// Where a run sends its traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `redis-benchmark --cluster` straight at the cluster (seeded by one master).
    Direct,
    /// Plain `redis-benchmark` at the proxy's port.
    Slotway,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Direct => "direct",
            Mode::Slotway => "slotway",
        }
    }
}

/// One `redis-benchmark` invocation.
#[derive(Debug, Clone)]
pub struct Spec {
    /// `set` or `get` (passed to `-t`; reported upper-case in the CSV).
    pub test: &'static str,
    /// `-P`.
    pub pipeline: u32,
    /// `-n`.
    pub requests: u64,
    /// `-c`.
    pub clients: u32,
    /// `-r` (random keys out of this many).
    pub keyspace: u64,
}

/// The argument list for `redis-benchmark`.
pub fn benchmark_args(mode: Mode, port: u16, spec: &Spec) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    if mode == Mode::Direct {
        args.push("--cluster".into());
    }
    for (flag, value) in [
        ("-h", "127.0.0.1".to_string()),
        ("-p", port.to_string()),
        ("-t", spec.test.to_string()),
        ("-c", spec.clients.to_string()),
        ("-r", spec.keyspace.to_string()),
        ("-n", spec.requests.to_string()),
        ("-P", spec.pipeline.to_string()),
    ] {
        args.push(flag.into());
        args.push(value);
    }
    args.push("--csv".into());
    args
}

/// Runs `redis-benchmark` and returns the requests/s it reports for `spec.test`.
pub fn run(mode: Mode, port: u16, spec: &Spec, timeout: Duration) -> Result<f64> {
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
            spec.test.to_uppercase(),
            args.join(" "),
            tail(&stdout),
            tail(&stderr)
        ),
    }
}

/// The `rps` column of the row for `test` in `redis-benchmark --csv` output:
/// `"test","rps","avg_latency_ms",...` then e.g. `"SET","80000.00",...`.
/// Other lines (cluster-mode banners, warnings) are ignored.
pub fn parse_csv_rps(output: &str, test: &str) -> Option<f64> {
    output.lines().find_map(|line| {
        let mut fields = line.split(',').map(|f| f.trim().trim_matches('"'));
        let name = fields.next()?;
        if !name.eq_ignore_ascii_case(test) {
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
            \"GET\",\"1111111.12\",\"0.603\",\"0.336\"\n";
        assert_eq!(parse_csv_rps(out, "set"), Some(434_782.59));
        assert_eq!(parse_csv_rps(out, "get"), Some(1_111_111.12));
        assert_eq!(parse_csv_rps(out, "incr"), None);
        assert_eq!(parse_csv_rps("\"SET\",\"nan\"", "set"), None);
    }

    #[test]
    fn builds_args() {
        let spec = Spec {
            test: "set",
            pipeline: 16,
            requests: 1000,
            clients: 50,
            keyspace: 100_000,
        };
        let direct = benchmark_args(Mode::Direct, 7000, &spec).join(" ");
        assert_eq!(
            direct,
            "--cluster -h 127.0.0.1 -p 7000 -t set -c 50 -r 100000 -n 1000 -P 16 --csv"
        );
        assert!(!benchmark_args(Mode::Slotway, 7000, &spec).contains(&"--cluster".to_string()));
    }
}
