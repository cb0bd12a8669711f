//! Resident memory of a proxy holding many idle clients: open N TCP
//! connections, one PING/PONG on each (so the proxy has accepted and set
//! up every session), then `VmRSS` from `/proc/PID/status`.
//!
//! Owns the file-descriptor limit of the bench process (raised to its hard
//! limit before any proxy is spawned, so the children inherit it) and the
//! idle connections of one measurement. Invariants: every connect, write
//! and read has a timeout and the number of connections is fixed, so a
//! measurement is bounded; the connections are closed (dropped) before the
//! function returns, also on error; the baseline is read after the proxy
//! has served the earlier runs (its buffers and pools warmed), so "per
//! connection" is the cost of one more idle client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

use crate::targets::Target;

/// Bound of each connect / write / read.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// After the last PONG, time for the proxy's allocator to settle.
const SETTLE: Duration = Duration::from_millis(500);

/// Raises the soft `RLIMIT_NOFILE` of this process to its hard limit and
/// returns the new soft limit. Children spawned afterwards inherit it.
pub fn raise_nofile() -> Result<u64> {
    let now = getrlimit(Resource::Nofile);
    let target = now.maximum.or(now.current).unwrap_or(u64::MAX);
    if now.current.is_some_and(|c| c < target) {
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(target),
                maximum: now.maximum,
            },
        )
        .context("setrlimit(RLIMIT_NOFILE)")?;
    }
    Ok(getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX))
}

/// The `Max open files` soft limit in a `/proc/PID/limits` text.
pub fn parse_nofile_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    if soft == "unlimited" {
        return Some(u64::MAX);
    }
    soft.parse().ok()
}

/// The soft open-files limit of `pid` as the kernel applies it.
pub fn nofile_of(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/limits");
    let text = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    parse_nofile_limit(&text).with_context(|| format!("no `Max open files` in {path}"))
}

/// `VmRSS` in KiB from a `/proc/PID/status` text.
pub fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut it = line.trim_start_matches("VmRSS:").split_whitespace();
    let value: u64 = it.next()?.parse().ok()?;
    (it.next() == Some("kB")).then_some(value)
}

/// `VmRSS` of `pid`, KiB.
pub fn vm_rss_kib(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    parse_vm_rss_kib(&text).with_context(|| format!("no VmRSS in {path}"))
}

/// One proxy's memory with idle clients.
#[derive(Debug, Clone, PartialEq)]
pub struct RssRow {
    pub target: Target,
    pub clients: usize,
    /// The proxy's open-files soft limit.
    pub nofile: u64,
    pub baseline_kib: u64,
    pub loaded_kib: u64,
    /// Seconds to connect and PING every client.
    pub setup_secs: f64,
}

impl RssRow {
    pub fn loaded_mib(&self) -> f64 {
        self.loaded_kib as f64 / 1024.0
    }

    /// KiB per idle client above the baseline.
    pub fn per_client_kib(&self) -> f64 {
        self.loaded_kib.saturating_sub(self.baseline_kib) as f64 / self.clients.max(1) as f64
    }
}

/// Opens `clients` connections to `port`, PINGs each and reads its PONG,
/// then reads the proxy's RSS. The PINGs are written to all connections
/// first and read back afterwards, so the proxy holds every session at once.
pub fn measure(target: Target, pid: u32, port: u16, clients: usize) -> Result<RssRow> {
    let nofile = nofile_of(pid)?;
    if nofile < clients as u64 + 64 {
        bail!(
            "{}: open-files limit {nofile} is below {clients} clients (+64 spare)",
            target.name()
        );
    }
    let baseline_kib = vm_rss_kib(pid)?;
    let started = Instant::now();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut conns = Vec::with_capacity(clients);
    for i in 0..clients {
        let mut c = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .with_context(|| format!("{}: connect client {i}", target.name()))?;
        c.set_read_timeout(Some(IO_TIMEOUT))?;
        c.set_write_timeout(Some(IO_TIMEOUT))?;
        c.set_nodelay(true)?;
        // RESP, not inline: nutcracker only parses RESP arrays.
        c.write_all(b"*1\r\n$4\r\nPING\r\n")
            .with_context(|| format!("{}: PING on client {i}", target.name()))?;
        conns.push(c);
    }
    for (i, c) in conns.iter_mut().enumerate() {
        let mut reply = [0_u8; 7];
        c.read_exact(&mut reply)
            .with_context(|| format!("{}: PONG on client {i}", target.name()))?;
        if &reply != b"+PONG\r\n" {
            bail!(
                "{}: client {i} got `{}` instead of +PONG",
                target.name(),
                String::from_utf8_lossy(&reply).trim()
            );
        }
    }
    let setup_secs = started.elapsed().as_secs_f64();
    thread::sleep(SETTLE);
    let loaded_kib = vm_rss_kib(pid)?;
    drop(conns);
    Ok(RssRow {
        target,
        clients,
        nofile,
        baseline_kib,
        loaded_kib,
        setup_secs,
    })
}

/// The table of idle-client memory.
pub fn table(rows: &[RssRow], errors: &[(Target, String)]) -> Vec<String> {
    let mut out = vec![
        "| proxy | idle clients | RSS before MiB | RSS with clients MiB | KiB per client above \
         before | open-files limit | connect+PING s |"
            .to_string(),
        "|---|---:|---:|---:|---:|---:|---:|".to_string(),
    ];
    for r in rows {
        out.push(format!(
            "| {} | {} | {:.1} | {:.1} | {:.2} | {} | {:.1} |",
            r.target.name(),
            r.clients,
            r.baseline_kib as f64 / 1024.0,
            r.loaded_mib(),
            r.per_client_kib(),
            r.nofile,
            r.setup_secs
        ));
    }
    for (t, e) in errors {
        out.push(format!(
            "| {} | - | - | - | - | - | not measured: {} |",
            t.name(),
            e.replace('\n', " ").replace('|', "/")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let status = "Name:\tslotway\nVmHWM:\t  60000 kB\nVmRSS:\t   53248 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss_kib(status), Some(53_248));
        assert_eq!(parse_vm_rss_kib("Name:\tx\n"), None);
        assert_eq!(parse_vm_rss_kib("VmRSS:\t12 MB\n"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max cpu time              unlimited            unlimited            seconds   \n\
                      Max open files            20000                20000                files     \n";
        assert_eq!(parse_nofile_limit(limits), Some(20_000));
        assert_eq!(
            parse_nofile_limit("Max open files            unlimited  unlimited  files\n"),
            Some(u64::MAX)
        );
        assert_eq!(parse_nofile_limit("Max cpu time 1 1\n"), None);
        // This process's own files parse.
        assert!(vm_rss_kib(std::process::id()).unwrap() > 0);
        assert!(nofile_of(std::process::id()).unwrap() > 0);
    }

    #[test]
    fn renders_rows() {
        let r = RssRow {
            target: Target::SlotwayPool,
            clients: 10_000,
            nofile: 20_000,
            baseline_kib: 8 * 1024,
            loaded_kib: 8 * 1024 + 46_000,
            setup_secs: 1.25,
        };
        assert_eq!(r.per_client_kib(), 4.6);
        let t = table(&[r], &[(Target::Nutcracker, "x|y".into())]);
        assert_eq!(
            t[2],
            "| slotway pool | 10000 | 8.0 | 52.9 | 4.60 | 20000 | 1.2 |"
        );
        assert!(t[3].contains("not measured: x/y"), "{}", t[3]);
    }
}
