//! `--pin`: a fixed CPU placement, so that a `-P 1` comparison does not
//! depend on where the scheduler happens to put each process.
//!
//! Why: at `-P 1` most of a proxy's CPU is the kernel waking the process at
//! the other end of each send; when that process sleeps on another vCPU the
//! wake-up is an inter-processor interrupt (on a VM, usually an exit to the
//! hypervisor), on the same vCPU a run-queue insertion. Left to the
//! scheduler, runs of the same binary fall into two groups about 1.6 ×
//! apart, and each proxy of a comparison draws its own (docs/benchmarks.md,
//! "late night"). Pinned: the load generator and every proxy share CPU 0,
//! every redis-server runs on the other CPUs; the same for every target.
//!
//! Invariants: this process is pinned before any child is spawned (children
//! inherit the mask: redis-benchmark and the proxies, all their threads);
//! the servers are moved, with all their threads, right after they start.
//! `taskset` (util-linux) does both; placement needs at least 2 CPUs.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use slotway_fixture::run_bounded;

const TASKSET_TIMEOUT: Duration = Duration::from_secs(10);

/// Where each kind of process runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The load generator and the proxies (a `taskset -c` list).
    pub front: String,
    /// The redis-servers.
    pub servers: String,
}

impl Placement {
    /// The placement on a machine of `cpus` CPUs.
    pub fn for_cpus(cpus: usize) -> Result<Placement> {
        if cpus < 2 {
            bail!("--pin needs at least 2 CPUs (this machine has {cpus})");
        }
        let servers = if cpus == 2 {
            "1".to_string()
        } else {
            format!("1-{}", cpus - 1)
        };
        Ok(Placement {
            front: "0".to_string(),
            servers,
        })
    }

    /// The header line of a pinned run.
    pub fn describe(&self) -> String {
        format!(
            "- CPU placement (--pin): redis-benchmark and the proxies on CPU {}, the \
             redis-servers on CPU {}",
            self.front, self.servers
        )
    }
}

/// Pins this process (and so every child it spawns from now on).
pub fn pin_self(cpus: &str) -> Result<()> {
    taskset(&["-p", "-c", cpus, &std::process::id().to_string()])
}

/// Moves running processes, all their threads, to `cpus`.
pub fn pin_pids(pids: &[u32], cpus: &str) -> Result<()> {
    for pid in pids {
        taskset(&["-a", "-p", "-c", cpus, &pid.to_string()])?;
    }
    Ok(())
}

fn taskset(args: &[&str]) -> Result<()> {
    let out = run_bounded(Command::new("taskset").args(args), TASKSET_TIMEOUT)
        .with_context(|| format!("taskset {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "taskset {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_splits_the_cpus() {
        assert!(Placement::for_cpus(1).is_err());
        let two = Placement::for_cpus(2).expect("2 CPUs");
        assert_eq!((two.front.as_str(), two.servers.as_str()), ("0", "1"));
        let eight = Placement::for_cpus(8).expect("8 CPUs");
        assert_eq!(eight.servers, "1-7");
        assert!(
            eight
                .describe()
                .contains("CPU 0, the redis-servers on CPU 1-7")
        );
    }
}
