//! `--pin` and `--pin-apart`: a fixed CPU placement, so that a comparison
//! does not depend on where the scheduler happens to put each process.
//!
//! `--pin` (for the `-P 1` CPU ratios): at `-P 1` most of a proxy's CPU is
//! the kernel waking the process at the other end of each send; when that
//! process sleeps on another vCPU the wake-up is an inter-processor
//! interrupt (on a VM, usually an exit to the hypervisor), on the same vCPU
//! a run-queue insertion. Left to the scheduler, runs of the same binary fall
//! into two groups about 1.6 × apart, and each proxy of a comparison draws
//! its own (docs/benchmarks.md, "late night"). Pinned: the load generator and
//! every proxy share CPU 0, every redis-server runs on the other CPUs; the
//! same for every target.
//!
//! `--pin-apart` (for the requests/s ratios): the proxies get the last CPU
//! to themselves, redis-benchmark and the servers share the others, in the
//! direct runs as in the proxied ones. With every process on shared cores a
//! proxy's requests/s only repeats its CPU cost (each µs it spends is taken
//! from the generator or the servers); apart, as a proxy is deployed, the
//! ratio to direct access says what inserting the hop costs the clients.
//!
//! Invariants: this process is pinned before any child is spawned (children
//! inherit the mask: redis-benchmark and the proxies, all their threads);
//! the servers, and under `--pin-apart` the proxies, are moved with all
//! their threads right after they start (no proxy is restarted later).
//! `taskset` (util-linux) does both; placement needs at least 2 CPUs.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use slotway_fixture::run_bounded;

const TASKSET_TIMEOUT: Duration = Duration::from_secs(10);

/// Which placement was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `--pin`: redis-benchmark and the proxies on CPU 0, the servers on
    /// the others.
    Shared,
    /// `--pin-apart`: the proxies on the last CPU, alone; redis-benchmark
    /// and the servers on the others.
    Apart,
}

/// Where each kind of process runs (`taskset -c` lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The load generator (this process and every child, at first).
    pub generator: String,
    /// The proxies.
    pub proxies: String,
    /// The redis-servers.
    pub servers: String,
}

/// CPUs `first..=last` as a `taskset -c` list (`"1"` or `"1-7"`).
fn cpu_list(first: usize, last: usize) -> String {
    if first == last {
        first.to_string()
    } else {
        format!("{first}-{last}")
    }
}

impl Placement {
    /// The placement `layout` on a machine of `cpus` CPUs.
    pub fn for_cpus(cpus: usize, layout: Layout) -> Result<Placement> {
        if cpus < 2 {
            bail!("CPU placement needs at least 2 CPUs (this machine has {cpus})");
        }
        let last = cpus - 1;
        let but_last = cpu_list(0, last - 1);
        Ok(match layout {
            Layout::Shared => Placement {
                generator: "0".to_string(),
                proxies: "0".to_string(),
                servers: cpu_list(1, last),
            },
            Layout::Apart => Placement {
                generator: but_last.clone(),
                proxies: last.to_string(),
                servers: but_last,
            },
        })
    }

    /// Whether the proxies have CPUs of their own.
    pub fn proxies_apart(&self) -> bool {
        self.proxies != self.generator
    }

    /// The header line of a pinned run.
    pub fn describe(&self) -> String {
        if self.proxies_apart() {
            format!(
                "- CPU placement (--pin-apart): the proxies on CPU {}, alone; redis-benchmark \
                 and the redis-servers on CPU {}",
                self.proxies, self.generator
            )
        } else {
            format!(
                "- CPU placement (--pin): redis-benchmark and the proxies on CPU {}, the \
                 redis-servers on CPU {}",
                self.generator, self.servers
            )
        }
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

    /// (generator, proxies, servers).
    fn lists(p: &Placement) -> (&str, &str, &str) {
        (p.generator.as_str(), p.proxies.as_str(), p.servers.as_str())
    }

    #[test]
    fn placement_splits_the_cpus() {
        assert!(Placement::for_cpus(1, Layout::Shared).is_err());
        assert!(Placement::for_cpus(1, Layout::Apart).is_err());
        let two = Placement::for_cpus(2, Layout::Shared).expect("2 CPUs");
        assert_eq!(lists(&two), ("0", "0", "1"));
        assert!(!two.proxies_apart());
        let eight = Placement::for_cpus(8, Layout::Shared).expect("8 CPUs");
        assert_eq!(eight.servers, "1-7");
        assert!(
            eight
                .describe()
                .contains("CPU 0, the redis-servers on CPU 1-7")
        );
    }

    #[test]
    fn apart_gives_the_proxies_the_last_cpu() {
        let two = Placement::for_cpus(2, Layout::Apart).expect("2 CPUs");
        assert_eq!(lists(&two), ("0", "1", "0"));
        assert!(two.proxies_apart());
        let eight = Placement::for_cpus(8, Layout::Apart).expect("8 CPUs");
        assert_eq!(lists(&eight), ("0-6", "7", "0-6"));
        assert!(
            eight
                .describe()
                .contains("--pin-apart): the proxies on CPU 7")
        );
    }
}
