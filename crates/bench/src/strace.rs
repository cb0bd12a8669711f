//! Syscalls per request of a proxy: `strace -c -f -p PID` around one
//! bounded redis-benchmark run.
//!
//! Owns the strace child. Invariants: strace is attached (its "attached"
//! line seen) before the run starts and detached (SIGINT by its own PID,
//! which makes it print the summary and release the tracee) right after,
//! so the window holds the run and little else; every wait is bounded and
//! a strace still running on any exit path is killed and reaped (`Drop`),
//! which detaches it. Only counts are used: tracing slows every syscall,
//! so the traced run's time and CPU mean nothing.

use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use slotway_fixture::run_bounded;

/// How long attaching or detaching may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Syscall counts of one traced window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syscalls {
    /// (name, calls), most frequent first.
    pub calls: Vec<(String, u64)>,
}

impl Syscalls {
    pub fn total(&self) -> u64 {
        self.calls.iter().map(|(_, n)| n).sum()
    }
}

/// A running strace; dropping it kills it.
struct Tracer(Child);

impl Drop for Tracer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_exit(child: &mut Child, timeout: Duration) -> Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait().context("try_wait strace")?.is_some() {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Counts the syscalls of `pid` (all threads) while `work` runs.
pub fn count(pid: u32, work: impl FnOnce() -> Result<()>) -> Result<Syscalls> {
    let dir = tempfile::Builder::new()
        .prefix("slotway-bench-strace-")
        .tempdir()
        .context("create temp dir for strace")?;
    let summary = dir.path().join("summary.txt");
    let errors = dir.path().join("stderr.txt");
    let err = File::create(&errors).context("create strace stderr file")?;
    let child = Command::new("strace")
        .args(["-c", "-f", "-o"])
        .arg(&summary)
        .args(["-p", &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .context("spawn strace")?;
    let mut tracer = Tracer(child);
    let read_errors = || std::fs::read_to_string(&errors).unwrap_or_default();

    let deadline = Instant::now() + STEP_TIMEOUT;
    while !read_errors().contains("attached") {
        if tracer.0.try_wait().context("try_wait strace")?.is_some() {
            bail!("strace -p {pid} exited: {}", read_errors().trim());
        }
        if Instant::now() >= deadline {
            bail!("strace -p {pid} not attached after {STEP_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }

    work()?;

    let tracer_pid = tracer.0.id().to_string();
    let out = run_bounded(
        Command::new("kill").args(["-INT", &tracer_pid]),
        STEP_TIMEOUT,
    )?;
    if !out.status.success() {
        bail!("kill -INT {tracer_pid} (strace) failed: {}", out.status);
    }
    if !wait_exit(&mut tracer.0, STEP_TIMEOUT)? {
        bail!("strace did not detach within {STEP_TIMEOUT:?}");
    }
    let text = std::fs::read_to_string(&summary)
        .with_context(|| format!("read strace summary {}", summary.display()))?;
    let calls = parse_summary(&text);
    if calls.is_empty() {
        bail!("empty strace summary:\n{text}\n{}", read_errors());
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
