//! Syscalls per request of a proxy: `strace -c -f -p PID` around one
//! bounded redis-benchmark run.
//!
//! Invariants: strace is attached (its "attached" line seen) before the run
//! starts and detached right after (`counter::Counter`), so the window holds
//! the run and little else. Only counts are used: tracing slows every
//! syscall, so the traced run's time and CPU mean nothing, and a slowed
//! proxy finds more requests waiting at each wake-up than an untraced one:
//! its batches grow, and the counts come out lower than without tracing
//! (`perfstat` counts the same without slowing the proxy).

use anyhow::{Result, bail};

use crate::counter::{Counter, Syscalls};

/// Counts the syscalls of `pid` (all threads) while `work` runs.
pub fn count(pid: u32, work: impl FnOnce() -> Result<()>) -> Result<Syscalls> {
    let pid = pid.to_string();
    let mut tracer = Counter::spawn("strace", "strace", &["-c", "-f", "-o", "{out}", "-p", &pid])?;
    tracer.wait_ready(|err| err.contains("attached"))?;
    work()?;
    let errors = tracer.errors();
    let text = tracer.finish()?;
    let calls = parse_summary(&text);
    if calls.is_empty() {
        bail!("empty strace summary:\n{text}\n{errors}");
    }
    Ok(Syscalls { calls })
}

/// The (syscall, calls) rows of `strace -c` output, most calls first.
///
/// Rows are `% time  seconds  usecs/call  calls  [errors]  syscall`; the
/// header, the rulers and the `total` row are skipped (the total is summed
/// from the rows, whose layout is the same in every strace version).
pub fn parse_summary(text: &str) -> Vec<(String, u64)> {
    let mut calls: Vec<(String, u64)> = text
        .lines()
        .filter_map(|line| {
            let tokens: Vec<&str> = line.split_whitespace().collect();
            let name = *tokens.last()?;
            if tokens.len() < 5 || name == "total" {
                return None;
            }
            tokens.first()?.parse::<f64>().ok()?;
            let n: u64 = tokens.get(3)?.parse().ok()?;
            Some((name.to_string(), n))
        })
        .collect();
    calls.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_strace_summary() {
        let text = "\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 36.56    0.485345          16     29933           epoll_ctl
 35.53    0.471695          31     15167           writev
 22.83    0.244376          16     15237        13 recvfrom
  0.11    0.001509          14       106         4 accept
------ ----------- ----------- --------- --------- ----------------
100.00    1.327554          21     60443        17 total
";
        let calls = parse_summary(text);
        assert_eq!(
            calls,
            vec![
                ("epoll_ctl".to_string(), 29933),
                ("recvfrom".to_string(), 15237),
                ("writev".to_string(), 15167),
                ("accept".to_string(), 106),
            ]
        );
        assert_eq!(Syscalls { calls }.total(), 60443);
        assert!(parse_summary("strace: Process 1 attached\n").is_empty());
    }
}
