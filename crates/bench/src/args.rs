//! The command line of `slotway-bench`.
//!
//! Invariant: parsing only (no I/O); every numeric option is checked to be
//! positive here, so the run never divides by zero or runs unbounded.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::pin::Layout;

pub const USAGE: &str = "\
usage: slotway-bench [--secs S] [--requests N] [--clients C] [--timeout-secs S]
                     [--slotway-bin PATH] [--nutcracker-bin PATH] [--quick] [--no-strace]
                     [--only LIST] [--svg PATH] [--idle-clients N] [--rate R]
                     [--latency-secs S] [--latency-conns C] [--pin | --pin-apart]

Starts a 3-master Redis Cluster, 3 standalone redis-servers, Slotway in cluster
mode over the cluster, and nutcracker (-v 4) and Slotway in pool mode
(`slotway nutcracker`, same YAML) over the standalone servers. Runs
redis-benchmark (-c 50 -r 100000; SET GET INCR LPUSH MSET at -d 64, SET GET at
-d 4096; -P 1 and -P 16) against each of them and against the servers
directly (the cluster proxy twice: with plain keys over all slots, and with
`--cluster`'s keys, one hash tag per master, the same load the direct run
puts on the servers), then counts the proxies' syscalls per request with
strace and with perf stat (undisturbed: strace slows the proxy). Then:
the proxies' RSS with 10,000 idle clients; latency (p50/p99/p99.9) at a fixed
open-loop rate, directly and through each proxy; CPU per key of a 100-key MGET;
and the floor: the single-key cases directly and through nutcracker, Slotway's
pool and slotway-floor (a minimal proxy, as one hand-written event loop, the
least a proxy hop costs on this host, and as tokio tasks shaped like
Slotway's data path), back to back.
Prints Markdown: CPU µs per request of the proxy and of Redis, and the ratios.

  --secs S            target length of each run (default 3); -n follows the
                      target's last throughput, within fixed bounds
  --requests N        fixed -n for every run instead
  --clients C         redis-benchmark -c (default 50)
  --timeout-secs S    bound for each redis-benchmark run (default 120)
  --slotway-bin PATH  default: `slotway` next to this executable
  --nutcracker-bin P  default: `nutcracker` on PATH or in /usr/sbin
  --quick             only SET and GET of 64 B
  --slotway-threads N pass --threads N to both Slotway proxies (default: one per core;
                      1 = tokio's current-thread scheduler)
  --slotway-scheduler S  pass --scheduler S (per-core or work-stealing) to both
                      Slotway proxies (default: theirs, per-core)
  --rounds N          run the CPU matrix (and the floor section) N times,
                      interleaved (round after round), and summarise each
                      case by its medians (default 1); the noise of a
                      shared machine shrinks
  --no-strace         skip the syscall counts
  --only LIST         comma-separated sections to run, of: cpu, strace, rss,
                      latency, mget, floor (default: all)
  --svg PATH          also write the CPU-per-request chart (SVG) to PATH
  --idle-clients N    idle connections of the rss section (default 10000)
  --rate R            requests/s of the latency section, all connections
                      together (default 20000)
  --latency-secs S    length of each latency run (default 5; 2 with --quick)
  --latency-conns C   connections of the latency section (default 20)
  --pin               fixed CPU placement (taskset): redis-benchmark and the
                      proxies on CPU 0, the redis-servers on the others, so a
                      -P 1 ratio does not depend on where the scheduler put
                      each process (use with --slotway-threads 1)
  --pin-apart         the proxies on a CPU of their own (the last), redis-
                      benchmark and the redis-servers on the others, in the
                      direct runs too: the requests/s ratios then say what
                      the hop costs, not the CPU it takes from the generator
                      (use with --slotway-threads 1)";

/// The measurements a run can select.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// redis-benchmark CPU per request (the case matrix).
    Cpu,
    /// strace syscalls per request.
    Strace,
    /// RSS with idle clients.
    Rss,
    /// Open-loop latency.
    Latency,
    /// CPU per key of MGET.
    Mget,
    /// The single-key cases directly and through nutcracker, Slotway's pool
    /// and the minimal floor proxy in both its shapes, back to back.
    Floor,
}

impl Section {
    pub const ALL: [Section; 6] = [
        Section::Cpu,
        Section::Strace,
        Section::Rss,
        Section::Latency,
        Section::Mget,
        Section::Floor,
    ];

    pub fn parse(s: &str) -> Result<Section> {
        Ok(match s {
            "cpu" => Section::Cpu,
            "strace" => Section::Strace,
            "rss" => Section::Rss,
            "latency" => Section::Latency,
            "mget" => Section::Mget,
            "floor" => Section::Floor,
            other => bail!("unknown section `{other}` (cpu, strace, rss, latency, mget, floor)"),
        })
    }
}

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
    /// Sections to run (`--no-strace` removes `Strace`).
    pub sections: Vec<Section>,
    pub svg: Option<PathBuf>,
    pub idle_clients: usize,
    pub rate: u64,
    /// `None`: 5 s, or 2 s with `--quick`.
    pub latency_secs: Option<f64>,
    pub latency_conns: usize,
    /// `--threads` given to both Slotway proxies (`None`: their default).
    pub slotway_threads: Option<usize>,
    /// `--scheduler` given to both Slotway proxies (`None`: their default).
    pub slotway_scheduler: Option<String>,
    /// Times the CPU matrix is run (summaries take medians).
    pub rounds: u32,
    /// Fixed CPU placement (`--pin`, `--pin-apart`).
    pub pin: Option<Layout>,
}

impl Args {
    pub fn has(&self, s: Section) -> bool {
        self.sections.contains(&s)
    }

    pub fn latency_secs(&self) -> f64 {
        self.latency_secs
            .unwrap_or(if self.quick { 2.0 } else { 5.0 })
    }
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
            sections: Section::ALL.to_vec(),
            svg: None,
            idle_clients: 10_000,
            rate: 20_000,
            latency_secs: None,
            latency_conns: 20,
            slotway_threads: None,
            slotway_scheduler: None,
            rounds: 1,
            pin: None,
        };
        let mut no_strace = false;
        while let Some(flag) = it.next() {
            let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--secs" => args.secs = value()?.parse().context("--secs")?,
                "--requests" => args.requests = Some(value()?.parse().context("--requests")?),
                "--clients" => args.clients = value()?.parse().context("--clients")?,
                "--rounds" => {
                    args.rounds = value()?.parse().context("--rounds")?;
                    if args.rounds == 0 {
                        bail!("--rounds must be positive");
                    }
                }
                "--timeout-secs" => {
                    args.timeout = Duration::from_secs(value()?.parse().context("--timeout-secs")?);
                }
                "--slotway-bin" => args.slotway_bin = Some(PathBuf::from(value()?)),
                "--slotway-threads" => {
                    let n: usize = value()?.parse().context("--slotway-threads")?;
                    if n == 0 {
                        bail!("--slotway-threads must be positive");
                    }
                    args.slotway_threads = Some(n);
                }
                "--slotway-scheduler" => {
                    let s = value()?;
                    if s != "per-core" && s != "work-stealing" {
                        bail!("--slotway-scheduler: per-core or work-stealing");
                    }
                    args.slotway_scheduler = Some(s);
                }
                "--nutcracker-bin" => args.nutcracker_bin = Some(PathBuf::from(value()?)),
                "--quick" => args.quick = true,
                "--pin" | "--pin-apart" => {
                    let layout = if flag == "--pin" {
                        Layout::Shared
                    } else {
                        Layout::Apart
                    };
                    if args.pin.is_some_and(|l| l != layout) {
                        bail!("--pin and --pin-apart are two placements: choose one");
                    }
                    args.pin = Some(layout);
                }
                "--no-strace" => no_strace = true,
                "--only" => {
                    args.sections = value()?
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(Section::parse)
                        .collect::<Result<_>>()?;
                }
                "--svg" => args.svg = Some(PathBuf::from(value()?)),
                "--idle-clients" => {
                    args.idle_clients = value()?.parse().context("--idle-clients")?;
                }
                "--rate" => args.rate = value()?.parse().context("--rate")?,
                "--latency-secs" => {
                    args.latency_secs = Some(value()?.parse().context("--latency-secs")?);
                }
                "--latency-conns" => {
                    args.latency_conns = value()?.parse().context("--latency-conns")?;
                }
                "-h" | "--help" => return Ok(None),
                other => bail!("unknown argument `{other}`\n{USAGE}"),
            }
        }
        if no_strace {
            args.sections.retain(|s| *s != Section::Strace);
        }
        if args.requests == Some(0) || args.clients == 0 || args.timeout.is_zero() {
            bail!("--requests, --clients and --timeout-secs must be positive");
        }
        if args.sections.is_empty() {
            bail!("--only needs at least one section");
        }
        if args.idle_clients == 0 || args.rate == 0 || args.latency_conns == 0 {
            bail!("--idle-clients, --rate and --latency-conns must be positive");
        }
        if args.latency_conns as u64 > args.rate {
            bail!("--latency-conns must not exceed --rate (each connection sends at least 1/s)");
        }
        if let Some(s) = args.latency_secs
            && !(s.is_finite() && s > 0.0 && s <= 600.0)
        {
            bail!("--latency-secs must be in (0, 600]");
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
            "--pin",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.requests, Some(10));
        assert_eq!(a.pin, Some(Layout::Shared));
        assert!(a.quick && !a.has(Section::Strace) && a.has(Section::Cpu));
        assert_eq!(a.latency_secs(), 2.0);
        assert_eq!(a.secs, 1.5);
        assert_eq!(a.slotway_bin, Some(PathBuf::from("/x/slotway")));
        let d = parse(&[]).unwrap().unwrap();
        assert_eq!((d.clients, d.requests), (50, None));
        assert_eq!(d.sections, Section::ALL.to_vec());
        assert_eq!(
            (d.idle_clients, d.rate, d.latency_conns, d.latency_secs()),
            (10_000, 20_000, 20, 5.0)
        );
        assert!(d.svg.is_none() && d.pin.is_none());
        assert_eq!(
            parse(&["--pin-apart"]).unwrap().unwrap().pin,
            Some(Layout::Apart)
        );
        assert!(parse(&["--pin", "--pin-apart"]).is_err());
        let o = parse(&[
            "--only",
            "rss,latency",
            "--svg",
            "/tmp/x.svg",
            "--rate",
            "1000",
            "--latency-secs",
            "3",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(o.sections, vec![Section::Rss, Section::Latency]);
        assert_eq!(o.svg, Some(PathBuf::from("/tmp/x.svg")));
        assert_eq!((o.rate, o.latency_secs()), (1000, 3.0));
        assert!(parse(&["--only", "rss,bogus"]).is_err());
        assert!(parse(&["--only", ""]).is_err());
        assert!(parse(&["--only", "strace", "--no-strace"]).is_err());
        assert!(parse(&["--rate", "0"]).is_err());
        assert!(parse(&["--rate", "5", "--latency-conns", "6"]).is_err());
        assert!(parse(&["--latency-secs", "0"]).is_err());
        assert!(parse(&["--idle-clients", "0"]).is_err());
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["--requests"]).is_err());
        assert!(parse(&["--requests", "0"]).is_err());
        assert!(parse(&["--secs", "-1"]).is_err());
        assert!(parse(&["--secs", "NaN"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--slotway-threads", "0"]).is_err());
        assert!(parse(&["--rounds", "0"]).is_err());
        assert_eq!(parse(&["--rounds", "3"]).unwrap().unwrap().rounds, 3);
        assert_eq!(parse(&[]).unwrap().unwrap().rounds, 1);
        assert_eq!(
            parse(&["--slotway-threads", "1"])
                .unwrap()
                .unwrap()
                .slotway_threads,
            Some(1)
        );
    }
}
