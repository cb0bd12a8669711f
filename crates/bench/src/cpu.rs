//! CPU accounting of a run, from `/proc`: the proxy (with its kernel share
//! and context switches), the redis-servers, redis-benchmark itself, and
//! everything else on the machine.
//!
//! Invariants: all figures are clock ticks (`CLK_TCK`, 100 per second on
//! Linux) read before and after a run and subtracted; redis-benchmark's CPU
//! is this process's reaped-children time (`cutime`+`cstime`), so only
//! children reaped inside the window count, and nothing else is reaped
//! then; "other" is machine-wide busy time minus all of the above, i.e.
//! what other tenants took (the noise of a shared host).

use anyhow::{Context, Result};

/// Ticks at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub proxy: u64,
    /// The proxy's stime alone.
    pub proxy_sys: u64,
    /// The proxy's voluntary + involuntary context switches, all threads.
    pub proxy_switches: u64,
    pub redis: u64,
    /// redis-benchmark runs reaped so far (children of this process).
    pub bench: u64,
    /// This process itself.
    pub own: u64,
    /// Busy time of all CPUs together.
    pub busy: u64,
}

/// CPU seconds used during a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// `None` for a direct run (no proxy).
    pub proxy: Option<f64>,
    /// The part of `proxy` spent in the kernel.
    pub proxy_sys: Option<f64>,
    /// Context switches of the proxy's threads.
    pub proxy_switches: Option<u64>,
    pub redis: f64,
    pub bench: f64,
    /// Busy time not accounted for by the above (other tenants); never
    /// below 0 (tick rounding can make the difference slightly negative).
    pub other: f64,
}

/// Fields (1-based, as in proc(5)) of `/proc/<pid>/stat`, counted from the
/// last `)` because the command name (field 2) may contain spaces and
/// parentheses: field 3 is the first after it.
fn stat_fields(stat: &str, fields: &[usize]) -> Result<Vec<u64>> {
    let (_, rest) = stat.rsplit_once(')').context("no `)` in stat")?;
    let all: Vec<&str> = rest.split_whitespace().collect();
    fields
        .iter()
        .map(|&n| {
            let text = all
                .get(n.saturating_sub(3))
                .with_context(|| format!("no field {n}"))?;
            text.parse::<u64>()
                .with_context(|| format!("field {n} is `{text}`"))
        })
        .collect()
}

fn read_stat(pid: &str) -> Result<String> {
    let path = format!("/proc/{pid}/stat");
    std::fs::read_to_string(&path).with_context(|| format!("read {path}"))
}

/// (utime, stime) (fields 14 and 15) from the text of a stat file.
pub fn parse_cpu_ticks(stat: &str) -> Result<(u64, u64)> {
    match stat_fields(stat, &[14, 15])?.as_slice() {
        [u, s] => Ok((*u, *s)),
        _ => anyhow::bail!("short stat"),
    }
}

/// (utime, stime) of `pid`, all its threads.
pub fn cpu_ticks(pid: u32) -> Result<(u64, u64)> {
    let stat = read_stat(&pid.to_string())?;
    parse_cpu_ticks(&stat).with_context(|| format!("parse /proc/{pid}/stat: {stat}"))
}

/// `voluntary_ctxt_switches` + `nonvoluntary_ctxt_switches` of a
/// `/proc/<pid>/task/<tid>/status` text.
pub fn parse_switches(status: &str) -> u64 {
    status
        .lines()
        .filter(|l| {
            l.starts_with("voluntary_ctxt_switches") || l.starts_with("nonvoluntary_ctxt_switches")
        })
        .filter_map(|l| l.split_once(':'))
        .filter_map(|(_, v)| v.trim().parse::<u64>().ok())
        .sum()
}

/// Context switches of every current thread of `pid` (a thread that has
/// exited takes its count with it; a proxy's worker threads live as long
/// as it does).
pub fn switches(pid: u32) -> Result<u64> {
    let dir = format!("/proc/{pid}/task");
    let mut total = 0;
    for entry in std::fs::read_dir(&dir).with_context(|| format!("read {dir}"))? {
        let path = entry
            .with_context(|| format!("read {dir}"))?
            .path()
            .join("status");
        // A thread may exit between listing and reading.
        if let Ok(text) = std::fs::read_to_string(&path) {
            total += parse_switches(&text);
        }
    }
    Ok(total)
}

/// (own utime+stime, reaped children's cutime+cstime) of this process.
fn own_ticks() -> Result<(u64, u64)> {
    let stat = read_stat("self")?;
    match stat_fields(&stat, &[14, 15, 16, 17])?.as_slice() {
        [u, s, cu, cs] => Ok((u + s, cu + cs)),
        _ => anyhow::bail!("short /proc/self/stat"),
    }
}

/// Busy ticks of all CPUs from the `cpu ` line of `/proc/stat`: user, nice,
/// system, irq, softirq, steal (guest time is already inside user).
pub fn parse_busy(proc_stat: &str) -> Result<u64> {
    let line = proc_stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .context("no `cpu ` line in /proc/stat")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse::<u64>().context("/proc/stat field"))
        .collect::<Result<_>>()?;
    // user nice system idle iowait irq softirq steal
    let pick = |i: usize| v.get(i).copied().unwrap_or(0);
    Ok(pick(0) + pick(1) + pick(2) + pick(5) + pick(6) + pick(7))
}

/// Reads every counter now.
pub fn snapshot(proxy: Option<u32>, redis: &[u32]) -> Result<Snapshot> {
    let (proxy_user, proxy_sys) = proxy.map(cpu_ticks).transpose()?.unwrap_or((0, 0));
    let proxy_switches = proxy.map(switches).transpose()?.unwrap_or(0);
    let redis = redis
        .iter()
        .map(|&p| cpu_ticks(p).map(|(u, s)| u + s))
        .sum::<Result<u64>>()?;
    let (own, bench) = own_ticks()?;
    let busy = parse_busy(&std::fs::read_to_string("/proc/stat").context("read /proc/stat")?)?;
    Ok(Snapshot {
        proxy: proxy_user + proxy_sys,
        proxy_sys,
        proxy_switches,
        redis,
        bench,
        own,
        busy,
    })
}

/// The CPU seconds between two snapshots.
pub fn usage(before: &Snapshot, after: &Snapshot, tck: u64, has_proxy: bool) -> Usage {
    let d = |a: u64, b: u64| a.saturating_sub(b);
    let proxy = d(after.proxy, before.proxy);
    let redis = d(after.redis, before.redis);
    let bench = d(after.bench, before.bench);
    let own = d(after.own, before.own);
    let busy = d(after.busy, before.busy);
    let other = busy.saturating_sub(proxy + redis + bench + own);
    let secs = |t: u64| t as f64 / tck as f64;
    Usage {
        proxy: has_proxy.then(|| secs(proxy)),
        proxy_sys: has_proxy.then(|| secs(d(after.proxy_sys, before.proxy_sys))),
        proxy_switches: has_proxy.then(|| d(after.proxy_switches, before.proxy_switches)),
        redis: secs(redis),
        bench: secs(bench),
        other: secs(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_name() {
        let stat = "1234 (redis-server *:1) S 1 2 3 4 5 6 7 8 9 10 111 222 13 14 20 0 4 0 100";
        assert_eq!(parse_cpu_ticks(stat).unwrap(), (111, 222));
        assert_eq!(stat_fields(stat, &[16, 17]).unwrap(), vec![13, 14]);
        assert!(parse_cpu_ticks("garbage").is_err());
        assert!(parse_cpu_ticks("1 (x) S 1").is_err());
    }

    #[test]
    fn parses_proc_stat() {
        let text = "cpu  100 5 50 9000 7 3 2 1 0 0\ncpu0 50 2 25 4500 3 1 1 0 0 0\n";
        assert_eq!(parse_busy(text).unwrap(), 161);
        assert!(parse_busy("intr 1 2 3\n").is_err());
    }

    #[test]
    fn reads_own_counters() {
        let s = snapshot(Some(std::process::id()), &[std::process::id()]).unwrap();
        assert!(s.busy > 0);
        assert!(s.proxy >= s.proxy_sys);
        let status = "Name:\tx\nvoluntary_ctxt_switches:\t7\nnonvoluntary_ctxt_switches:\t3\n";
        assert_eq!(parse_switches(status), 10);
        assert_eq!(parse_switches("Name:\tx\n"), 0);
    }

    #[test]
    fn usage_subtracts_everything_known() {
        let before = Snapshot::default();
        let after = Snapshot {
            proxy: 100,
            proxy_sys: 60,
            proxy_switches: 42,
            redis: 50,
            bench: 200,
            own: 1,
            busy: 400,
        };
        let u = usage(&before, &after, 100, true);
        assert_eq!(u.proxy, Some(1.0));
        assert_eq!(u.proxy_sys, Some(0.6));
        assert_eq!(u.proxy_switches, Some(42));
        assert_eq!(u.redis, 0.5);
        assert_eq!(u.bench, 2.0);
        assert_eq!(u.other, 0.49);
        let direct = usage(&before, &after, 100, false);
        assert_eq!(direct.proxy, None);
        assert_eq!(direct.proxy_switches, None);
        // Tick rounding never makes "other" negative.
        let quiet = Snapshot { busy: 300, ..after };
        assert_eq!(usage(&before, &quiet, 100, true).other, 0.0);
    }
}
