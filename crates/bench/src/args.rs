//! The command line of `slotway-bench`.
//!
//! Invariant: parsing only (no I/O); every numeric option is checked to be
//! positive here, so the run never divides by zero or runs unbounded.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

pub const USAGE: &str = "\
usage: slotway-bench [--secs S] [--requests N] [--clients C] [--timeout-secs S]
                     [--slotway-bin PATH] [--nutcracker-bin PATH] [--quick] [--no-strace]

Starts a 3-master Redis Cluster, 3 standalone redis-servers, Slotway in cluster
mode over the cluster, and nutcracker (-v 4) and Slotway in pool mode
(`slotway nutcracker`, same YAML) over the standalone servers. Runs
redis-benchmark (-c 50 -r 100000; SET GET INCR LPUSH MSET at -d 64, SET GET at
-d 4096; -P 1 and -P 16) against each of them and against the servers
directly, then counts the proxies' syscalls per request with strace. Prints
Markdown: CPU µs per request of the proxy and of Redis, and the ratios.

  --secs S            target length of each run (default 3); -n follows the
                      target's last throughput, within fixed bounds
  --requests N        fixed -n for every run instead
  --clients C         redis-benchmark -c (default 50)
  --timeout-secs S    bound for each redis-benchmark run (default 120)
  --slotway-bin PATH  default: `slotway` next to this executable
  --nutcracker-bin P  default: `nutcracker` on PATH or in /usr/sbin
  --quick             only SET and GET of 64 B
  --no-strace         skip the syscall counts";

/// Command-line options.
#[derive(Debug, Clone)]
pub struct Args {
    pub secs: f64,
    pub requests: Option<u64>,
    pub clients: u32,
    pub timeout: Duration,
    pub slotway_bin: Option<PathBuf>,
    pub nutcracker_bin: Option<PathBuf>,
    pub quick: bool,
    pub strace: bool,
}

impl Args {
    /// `Ok(None)` means `--help` was asked for.
    pub fn parse(mut it: impl Iterator<Item = String>) -> Result<Option<Args>> {
        let mut args = Args {
            secs: 3.0,
            requests: None,
            clients: 50,
            timeout: Duration::from_secs(120),
            slotway_bin: None,
            nutcracker_bin: None,
            quick: false,
            strace: true,
        };
        while let Some(flag) = it.next() {
            let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--secs" => args.secs = value()?.parse().context("--secs")?,
                "--requests" => args.requests = Some(value()?.parse().context("--requests")?),
                "--clients" => args.clients = value()?.parse().context("--clients")?,
                "--timeout-secs" => {
                    args.timeout = Duration::from_secs(value()?.parse().context("--timeout-secs")?);
                }
                "--slotway-bin" => args.slotway_bin = Some(PathBuf::from(value()?)),
                "--nutcracker-bin" => args.nutcracker_bin = Some(PathBuf::from(value()?)),
                "--quick" => args.quick = true,
                "--no-strace" => args.strace = false,
                "-h" | "--help" => return Ok(None),
                other => bail!("unknown argument `{other}`\n{USAGE}"),
            }
        }
        if args.requests == Some(0) || args.clients == 0 || args.timeout.is_zero() {
            bail!("--requests, --clients and --timeout-secs must be positive");
        }
        if !(args.secs.is_finite() && args.secs > 0.0) {
            bail!("--secs must be a positive number");
        }
        Ok(Some(args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[&str]) -> Result<Option<Args>> {
        Args::parse(v.iter().map(|s| (*s).to_string()))
    }

    #[test]
    fn parses_args() {
        let a = parse(&[
            "--requests",
            "10",
            "--quick",
            "--no-strace",
            "--slotway-bin",
            "/x/slotway",
            "--secs",
            "1.5",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.requests, Some(10));
        assert!(a.quick && !a.strace);
        assert_eq!(a.secs, 1.5);
        assert_eq!(a.slotway_bin, Some(PathBuf::from("/x/slotway")));
        let d = parse(&[]).unwrap().unwrap();
        assert_eq!((d.clients, d.requests, d.strace), (50, None, true));
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["--requests"]).is_err());
        assert!(parse(&["--requests", "0"]).is_err());
        assert!(parse(&["--secs", "-1"]).is_err());
        assert!(parse(&["--secs", "NaN"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }
}
