//! CPU per key of a 100-key MGET spread over all servers, and the proxies'
//! write syscalls per request (to check "at most one backend write per
//! node per client batch").
//!
//! Owns the redis-benchmark command line of an arbitrary MGET (each
//! `__rand_int__` is replaced by its own random number, so the 100 keys
//! land on every server) and the per-key table. Invariants: the run is
//! bounded (`run_bounded`); CPU per key = the proxy's CPU seconds / (requests
//! × keys per request); write syscalls come from a separate, shorter
//! strace window and only their counts are used.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use slotway_fixture::run_bounded;

use crate::counter::Syscalls;
use crate::cpu::Usage;
use crate::runner::parse_csv_rps_of;
use crate::targets::Target;

/// Keys per MGET.
pub const KEYS: usize = 100;
/// Syscalls that send data on a socket.
const WRITES: [&str; 4] = ["write", "writev", "sendto", "sendmsg"];

/// redis-benchmark arguments for `requests` MGETs of `KEYS` random keys.
pub fn args(port: u16, requests: u64, clients: u32, keyspace: u64) -> Vec<String> {
    let mut a: Vec<String> = [
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-c",
        &clients.to_string(),
        "-n",
        &requests.to_string(),
        "-r",
        &keyspace.to_string(),
        "--csv",
        "MGET",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    a.extend(std::iter::repeat_n("key:__rand_int__".to_string(), KEYS));
    a
}

/// Runs the MGETs and returns requests/s.
pub fn run(
    port: u16,
    requests: u64,
    clients: u32,
    keyspace: u64,
    timeout: Duration,
) -> Result<f64> {
    let a = args(port, requests, clients, keyspace);
    let out = run_bounded(Command::new("redis-benchmark").args(&a), timeout)
        .context("redis-benchmark MGET")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "redis-benchmark MGET exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    parse_csv_rps_of(&stdout, "MGET")
        .with_context(|| format!("no MGET row in redis-benchmark's CSV:\n{stdout}"))
}

/// Write-family syscalls in a traced window.
pub fn writes(s: &Syscalls) -> u64 {
    s.calls
        .iter()
        .filter(|(name, _)| WRITES.contains(&name.as_str()))
        .map(|(_, n)| n)
        .sum()
}

/// One proxy's MGET run.
#[derive(Debug, Clone)]
pub struct MgetRow {
    pub target: Target,
    pub requests: u64,
    pub rps: f64,
    pub usage: Usage,
    /// Servers behind the proxy.
    pub nodes: usize,
    /// (write syscalls, requests) of the traced window, or why not.
    pub traced: Result<(u64, u64), String>,
}

impl MgetRow {
    fn per_key(&self, secs: f64) -> f64 {
        secs * 1e6 / (self.requests.max(1) as f64 * KEYS as f64)
    }

    pub fn proxy_us_per_key(&self) -> Option<f64> {
        self.usage.proxy.map(|s| self.per_key(s))
    }

    pub fn redis_us_per_key(&self) -> f64 {
        self.per_key(self.usage.redis)
    }
}

/// The MGET table. "Backend writes per node" assumes one write per reply
/// to the client (`-P 1`): (writes per request − 1) / servers.
pub fn table(rows: &[MgetRow]) -> Vec<String> {
    let mut out = vec![
        "| proxy | requests | req/s | proxy µs CPU/key | proxy µs CPU/request | redis µs CPU/key | \
         write syscalls/request | est. backend writes per node per request |"
            .to_string(),
        "|---|---:|---:|---:|---:|---:|---:|---:|".to_string(),
    ];
    for r in rows {
        let (w, per_node) = match &r.traced {
            Ok((w, n)) => {
                let per_req = *w as f64 / (*n).max(1) as f64;
                (
                    format!("{per_req:.2}"),
                    format!("{:.2}", (per_req - 1.0).max(0.0) / r.nodes.max(1) as f64),
                )
            }
            Err(e) => ("-".to_string(), format!("not measured: {e}")),
        };
        out.push(format!(
            "| {} | {} | {:.0} | {} | {} | {:.3} | {w} | {per_node} |",
            r.target.name(),
            r.requests,
            r.rps,
            r.proxy_us_per_key()
                .map_or("-".to_string(), |v| format!("{v:.3}")),
            r.usage.proxy.map_or("-".to_string(), |s| format!(
                "{:.1}",
                s * 1e6 / r.requests.max(1) as f64
            )),
            r.redis_us_per_key(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_mget_command_line() {
        let a = args(7000, 1000, 50, 100_000);
        assert_eq!(
            a[..12].join(" "),
            "-h 127.0.0.1 -p 7000 -c 50 -n 1000 -r 100000 --csv MGET"
        );
        assert_eq!(a.len(), 12 + KEYS);
        assert!(a[12..].iter().all(|k| k == "key:__rand_int__"));
    }

    #[test]
    fn counts_writes_and_renders() {
        let s = Syscalls {
            calls: vec![
                ("epoll_wait".into(), 50),
                ("writev".into(), 300),
                ("write".into(), 100),
                ("read".into(), 400),
            ],
        };
        assert_eq!(writes(&s), 400);
        let row = MgetRow {
            target: Target::SlotwayPool,
            requests: 10_000,
            rps: 5000.0,
            usage: Usage {
                proxy: Some(2.0),
                proxy_sys: Some(1.0),
                proxy_switches: Some(0),
                redis: 1.0,
                bench: 0.5,
                other: 0.0,
            },
            nodes: 3,
            traced: Ok((400, 100)),
        };
        let t = table(&[row]);
        assert_eq!(
            t[2],
            "| slotway pool | 10000 | 5000 | 2.000 | 200.0 | 1.000 | 4.00 | 1.00 |"
        );
    }
}
