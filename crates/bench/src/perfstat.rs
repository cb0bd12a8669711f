//! Syscalls per request of a proxy without slowing it: `perf stat` of the
//! kernel's syscall tracepoints (`-p PID`) around one bounded run.
//!
//! Why beside strace: strace stops the proxy at every syscall, so the
//! proxy, many times slower, finds more requests waiting at each wake-up;
//! its backend batches grow and its `epoll_wait`s get rarer, and strace's
//! counts come out lower than the proxy's own at full speed. Tracepoint
//! counters only count. Invariants: the total is the `raw_syscalls`
//! tracepoint (every syscall); the named rows are the syscalls a proxy's
//! data path makes, and what is left of the total is one `other` row, so
//! the rows sum to the total. The tool is stopped as strace is
//! (`counter::Counter`).

use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::counter::{Counter, Syscalls};

/// The data-path syscalls counted by name (Slotway's and nutcracker's).
const NAMED: [&str; 8] = [
    "recvfrom",
    "sendto",
    "read",
    "writev",
    "write",
    "epoll_wait",
    "epoll_ctl",
    "accept4",
];
/// Every syscall.
const TOTAL_EVENT: &str = "raw_syscalls:sys_enter";
/// `perf stat -p` says nothing once its counters are on: this long is
/// given to it before the work starts (an idle proxy makes next to no
/// syscalls meanwhile).
const SETTLE: Duration = Duration::from_millis(300);

/// Counts the syscalls of `pid` (all threads) while `work` runs.
pub fn count(pid: u32, work: impl FnOnce() -> Result<()>) -> Result<Syscalls> {
    let events = std::iter::once(TOTAL_EVENT.to_string())
        .chain(NAMED.iter().map(|n| format!("syscalls:sys_enter_{n}")))
        .collect::<Vec<_>>()
        .join(",");
    let pid = pid.to_string();
    let mut perf = Counter::spawn(
        "perf stat",
        "perf",
        &["stat", "-x", ",", "-o", "{out}", "-e", &events, "-p", &pid],
    )?;
    perf.settle(SETTLE)?;
    work()?;
    let text = perf.finish()?;
    parse(&text)
}

/// The counts of `perf stat -x ,` output: `count,unit,event,...` lines.
pub fn parse(text: &str) -> Result<Syscalls> {
    let mut total = None;
    let mut calls = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut fields = line.split(',');
        let (Some(count), Some(_unit), Some(event)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Some(name) = event
            .strip_prefix("syscalls:sys_enter_")
            .or((event == TOTAL_EVENT).then_some(""))
        else {
            continue;
        };
        let n: u64 = count
            .trim()
            .parse()
            .with_context(|| format!("perf stat could not count {event}: {}", count.trim()))?;
        if name.is_empty() {
            total = Some(n);
        } else if n > 0 {
            calls.push((name.to_string(), n));
        }
    }
    let Some(total) = total else {
        bail!("no {TOTAL_EVENT} count in the perf stat output:\n{text}");
    };
    let named: u64 = calls.iter().map(|(_, n)| n).sum();
    if total > named {
        calls.push(("other".to_string(), total - named));
    }
    calls.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(Syscalls { calls })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_perf_stat_csv() {
        let text = "\
# started on Tue Dec  1 21:40:00 2026

283601,,raw_syscalls:sys_enter,2345678901,100.00,,
29133,,syscalls:sys_enter_epoll_wait,2345678901,100.00,,
125432,,syscalls:sys_enter_sendto,2345678901,100.00,,
122708,,syscalls:sys_enter_recvfrom,2345678901,100.00,,
0,,syscalls:sys_enter_writev,2345678901,100.00,,
";
        let s = parse(text).expect("parses");
        assert_eq!(
            s.calls,
            vec![
                ("sendto".to_string(), 125_432),
                ("recvfrom".to_string(), 122_708),
                ("epoll_wait".to_string(), 29_133),
                ("other".to_string(), 6_328),
            ]
        );
        assert_eq!(s.total(), 283_601);
    }

    #[test]
    fn an_uncounted_event_is_an_error() {
        let text = "<not supported>,,raw_syscalls:sys_enter,0,100.00,,\n";
        let e = parse(text).expect_err("not supported");
        assert!(
            format!("{e:#}").contains("could not count raw_syscalls"),
            "{e:#}"
        );
        assert!(parse("# nothing\n").is_err());
    }
}
