//! Shared helpers of the nutcracker differential tests: finding the real
//! binary (skip or fail when it is missing), running it bounded in time,
//! and owning a long-running nutcracker process.
//!
//! Invariants: a process is only ever signalled through its own `Child`
//! handle (by PID, never by name) and `Drop` kills and reaps it, also when
//! a test panics; every run and wait is bounded; loopback only.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// How long one `nutcracker -t` (or an invalid-config run) may take.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(10);

/// The nutcracker binary, or `None` after printing why the test is skipped.
/// With `SLOTWAY_REQUIRE_NUTCRACKER=1` a missing binary fails the test.
pub fn nutcracker_or_skip(test: &str) -> Option<PathBuf> {
    let found = slotway_fixture::find_binary("nutcracker")
        .or_else(|| slotway_fixture::find_binary("/usr/sbin/nutcracker"));
    if found.is_none() {
        let msg = format!("nutcracker not installed (apt-get install nutcracker): {test} SKIPPED");
        assert!(
            std::env::var("SLOTWAY_REQUIRE_NUTCRACKER").as_deref() != Ok("1"),
            "{msg}"
        );
        eprintln!("{msg}");
    }
    found
}

/// Runs `bin args` in `dir`, bounded by [`RUN_TIMEOUT`].
pub fn run(bin: &Path, dir: &Path, args: &[&str]) -> Output {
    slotway_fixture::run_bounded(Command::new(bin).args(args).current_dir(dir), RUN_TIMEOUT)
        .unwrap_or_else(|e| panic!("nutcracker {args:?}: {e}"))
}

/// A nutcracker process owned by the test: killed (SIGKILL, through its
/// own handle) and reaped on drop.
pub struct Nutcracker {
    pub child: Child,
    pub log: PathBuf,
}

impl Nutcracker {
    /// Starts `bin args` with stdout/stderr appended to `log`.
    pub fn spawn(bin: &Path, args: &[String], log: &Path) -> Nutcracker {
        let open = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap()
        };
        let child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(open())
            .stderr(open())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        Nutcracker {
            child,
            log: log.to_path_buf(),
        }
    }

    /// Whether it has exited (and so will not answer).
    pub fn exited(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }

    pub fn log_tail(&self) -> String {
        slotway_fixture::log_tail(&self.log, 30)
    }
}

impl Drop for Nutcracker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
