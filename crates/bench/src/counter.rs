//! A counting tool attached to a running proxy (`strace -c`, `perf stat`)
//! around one bounded piece of work.
//!
//! Owns the tool's child process, its temporary output files, and the counts
//! either tool yields ([`Syscalls`]).
//! Invariants: the tool is stopped by SIGINT to its own PID (both tools then
//! write their summary and detach from the tracee); every wait is bounded;
//! a tool still running on any exit path is killed and reaped (`Drop`),
//! which detaches it, so a failed measurement never leaves the proxy traced.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use slotway_fixture::run_bounded;

/// How long attaching or detaching may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(20);

/// Syscall counts of one counted window (what either tool yields).
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

/// A running counting tool; dropping it kills it.
pub struct Counter {
    child: Child,
    name: &'static str,
    output: PathBuf,
    errors: PathBuf,
    _dir: tempfile::TempDir,
}

impl Counter {
    /// Starts `program` with `args`, where `{out}` in an argument stands for
    /// the path of the summary file the tool writes.
    pub fn spawn(name: &'static str, program: &str, args: &[&str]) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("slotway-bench-count-")
            .tempdir()
            .context("create temp dir for a counting tool")?;
        let output = dir.path().join("summary.txt");
        let errors = dir.path().join("stderr.txt");
        let err = File::create(&errors).context("create the tool's stderr file")?;
        let out = output.display().to_string();
        let child = Command::new(program)
            .args(args.iter().map(|a| a.replace("{out}", &out)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .with_context(|| format!("spawn {name}"))?;
        Ok(Self {
            child,
            name,
            output,
            errors,
            _dir: dir,
        })
    }

    /// What the tool printed on stderr so far.
    pub fn errors(&self) -> String {
        std::fs::read_to_string(&self.errors).unwrap_or_default()
    }

    /// Waits until the tool's stderr satisfies `ready` (its "attached" line,
    /// say); fails if it exits first or takes too long.
    pub fn wait_ready(&mut self, ready: impl Fn(&str) -> bool) -> Result<()> {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let text = self.errors();
            if ready(&text) {
                return Ok(());
            }
            if self.exited()? {
                bail!("{} exited: {}", self.name, self.errors().trim());
            }
            if Instant::now() >= deadline {
                bail!("{} not attached after {STEP_TIMEOUT:?}", self.name);
            }
            thread::sleep(POLL);
        }
    }

    /// Gives a tool that says nothing when it has attached (`perf stat`)
    /// `settle` to do so; fails if it has exited by then (no such process,
    /// no permission, unknown event).
    pub fn settle(&mut self, settle: Duration) -> Result<()> {
        thread::sleep(settle);
        if self.exited()? {
            bail!("{} exited: {}", self.name, self.errors().trim());
        }
        Ok(())
    }

    fn exited(&mut self) -> Result<bool> {
        Ok(self
            .child
            .try_wait()
            .with_context(|| format!("try_wait {}", self.name))?
            .is_some())
    }

    /// Stops the tool (SIGINT) and returns the summary it wrote.
    pub fn finish(mut self) -> Result<String> {
        let pid = self.child.id().to_string();
        let out = run_bounded(Command::new("kill").args(["-INT", &pid]), STEP_TIMEOUT)?;
        if !out.status.success() {
            bail!("kill -INT {pid} ({}) failed: {}", self.name, out.status);
        }
        let deadline = Instant::now() + STEP_TIMEOUT;
        while !self.exited()? {
            if Instant::now() >= deadline {
                bail!("{} did not detach within {STEP_TIMEOUT:?}", self.name);
            }
            thread::sleep(POLL);
        }
        std::fs::read_to_string(&self.output).with_context(|| {
            format!(
                "read the {} summary {}: {}",
                self.name,
                self.output.display(),
                self.errors().trim()
            )
        })
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
