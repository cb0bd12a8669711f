//! `slotway-bench`: redis-benchmark through Slotway and directly against the
//! same Redis Cluster, with CPU per request of the proxy and of the servers.
//!
//! Owns every process it starts: a 3-master cluster (`slotway_fixture`), the
//! proxy (`proxy::Proxy`) and each redis-benchmark run. Invariants: all are
//! stopped by PID when `run` returns, on success and on error (Drop guards,
//! proxy before cluster); every wait and run is bounded in time; CPU is
//! utime+stime from `/proc/<pid>/stat` before and after each run, divided by
//! `getconf CLK_TCK` and by the run's request count.

mod proxy;
mod report;
mod runner;
mod sysinfo;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use slotway_fixture::{Cluster, check_binaries};

use crate::proxy::Proxy;
use crate::report::Row;
use crate::runner::{Mode, Spec};

const USAGE: &str = "\
usage: slotway-bench [--requests N] [--proxy-bin PATH] [--direct-only]
                     [--clients C] [--timeout-secs S]

Starts a 3-master Redis Cluster and the Slotway proxy, runs redis-benchmark
(SET and GET, -P 1 and -P 16) directly against the cluster and through the
proxy, and prints a Markdown table with req/s and CPU µs per request.

  --requests N      requests per run (default 50000 for -P 1, 200000 for -P 16)
  --proxy-bin PATH  proxy binary (default: `slotway` next to this executable)
  --direct-only     only benchmark the cluster directly (no proxy)
  --clients C       redis-benchmark -c (default 50)
  --timeout-secs S  bound for each redis-benchmark run (default 300)";

/// Command-line options.
#[derive(Debug)]
struct Args {
    requests: Option<u64>,
    proxy_bin: Option<PathBuf>,
    direct_only: bool,
    clients: u32,
    timeout: Duration,
}

impl Args {
    /// `Ok(None)` means `--help` was asked for.
    fn parse(mut it: impl Iterator<Item = String>) -> Result<Option<Args>> {
        let mut args = Args {
            requests: None,
            proxy_bin: None,
            direct_only: false,
            clients: 50,
            timeout: Duration::from_secs(300),
        };
        while let Some(flag) = it.next() {
            let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--requests" => args.requests = Some(value()?.parse().context("--requests")?),
                "--proxy-bin" => args.proxy_bin = Some(PathBuf::from(value()?)),
                "--direct-only" => args.direct_only = true,
                "--clients" => args.clients = value()?.parse().context("--clients")?,
                "--timeout-secs" => {
                    args.timeout = Duration::from_secs(value()?.parse().context("--timeout-secs")?);
                }
                "-h" | "--help" => return Ok(None),
                other => bail!("unknown argument `{other}`\n{USAGE}"),
            }
        }
        if args.requests == Some(0) || args.clients == 0 {
            bail!("--requests and --clients must be positive");
        }
        Ok(Some(args))
    }
}

/// utime+stime ticks of each PID.
fn ticks(pids: &[u32]) -> Result<Vec<u64>> {
    pids.iter().map(|&p| sysinfo::cpu_ticks(p)).collect()
}

/// CPU µs per request between two tick snapshots (summed over PIDs).
fn us_per_request(before: &[u64], after: &[u64], tck: u64, requests: u64) -> f64 {
    let delta: u64 = after
        .iter()
        .zip(before)
        .map(|(a, b)| a.saturating_sub(*b))
        .sum();
    delta as f64 * 1e6 / tck as f64 / requests as f64
}

fn run(args: &Args) -> Result<()> {
    check_binaries(&["redis-server", "redis-cli", "redis-benchmark", "getconf"])?;
    let tck = sysinfo::clk_tck()?;
    for line in sysinfo::machine_lines()? {
        println!("{line}");
    }

    let cluster = Cluster::builder()
        .masters(3)
        .start()
        .context("start the 3-master cluster")?;
    let redis_pids: Vec<u32> = cluster.nodes().iter().map(|n| n.pid()).collect();
    let seed_port = cluster
        .nodes()
        .first()
        .context("cluster without nodes")?
        .port();

    let mut proxy = if args.direct_only {
        None
    } else {
        let bin = match &args.proxy_bin {
            Some(p) => p.clone(),
            None => proxy::default_bin()?,
        };
        Some(Proxy::start(&bin, &cluster.seeds()).context("start the proxy")?)
    };
    println!(
        "- setup: 3 masters, redis-benchmark -c {} -r 100000, CLK_TCK {tck}{}",
        args.clients,
        if proxy.is_some() { "" } else { ", direct only" }
    );
    println!();

    let mut rows = Vec::new();
    for pipeline in [1u32, 16] {
        let requests = args
            .requests
            .unwrap_or(if pipeline == 1 { 50_000 } else { 200_000 });
        for test in ["set", "get"] {
            let spec = Spec {
                test,
                pipeline,
                requests,
                clients: args.clients,
                keyspace: 100_000,
            };
            let case = format!("{} -P {pipeline}", test.to_uppercase());
            let mut direct_rps = None;
            for mode in [Mode::Direct, Mode::Slotway] {
                let (port, proxy_pid) = match (mode, proxy.as_mut()) {
                    (Mode::Direct, _) => (seed_port, None),
                    (Mode::Slotway, Some(p)) => {
                        p.check_alive()?;
                        (p.port(), Some(p.pid()))
                    }
                    (Mode::Slotway, None) => continue,
                };
                let proxy_pids: Vec<u32> = proxy_pid.into_iter().collect();
                let (p0, r0) = (ticks(&proxy_pids)?, ticks(&redis_pids)?);
                let rps = runner::run(mode, port, &spec, args.timeout)
                    .with_context(|| format!("{case} {}", mode.name()))?;
                let (p1, r1) = (ticks(&proxy_pids)?, ticks(&redis_pids)?);
                let row = Row {
                    case: case.clone(),
                    requests,
                    mode,
                    rps,
                    proxy_us: proxy_pid.map(|_| us_per_request(&p0, &p1, tck, requests)),
                    redis_us: us_per_request(&r0, &r1, tck, requests),
                    direct_rps: if mode == Mode::Slotway {
                        direct_rps
                    } else {
                        None
                    },
                };
                eprintln!("done: {case} {} {rps:.0} req/s", mode.name());
                if mode == Mode::Direct {
                    direct_rps = Some(rps);
                }
                rows.push(row);
            }
        }
    }

    for line in report::table(&rows) {
        println!("{line}");
    }
    if let Some(note) = report::quantization_note(&rows) {
        println!();
        println!("{note}");
    }
    // Proxy first, then the cluster it talks to (both also on error, by Drop).
    drop(proxy);
    drop(cluster);
    Ok(())
}

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("slotway-bench: {e:#}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("slotway-bench: {e:#}");
            ExitCode::FAILURE
        }
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
            "--direct-only",
            "--proxy-bin",
            "/x/slotway",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.requests, Some(10));
        assert!(a.direct_only);
        assert_eq!(a.proxy_bin, Some(PathBuf::from("/x/slotway")));
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["--requests"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }

    #[test]
    fn cpu_per_request() {
        // 250 ticks at 100 Hz = 2.5 s over 1000 requests = 2500 µs each.
        assert_eq!(us_per_request(&[100, 0], &[300, 50], 100, 1000), 2500.0);
    }
}
