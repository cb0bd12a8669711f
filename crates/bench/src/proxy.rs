//! A proxy (Slotway in either mode, nutcracker, or the floor proxy) as a
//! child process of the benchmark.
//!
//! Owns the `Child` and a temp dir for its log and configuration file.
//! Invariants: the process is killed and reaped on `Drop` (also on error
//! paths), by its own `Child` handle; waiting for it to serve is bounded; a
//! lost race for the listen port is retried on a new port a bounded number
//! of times.

use std::ffi::OsString;
use std::fs::File;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use slotway_fixture::{free_port, log_tail, run_bounded};
use tempfile::TempDir;

/// How long a proxy may take to accept connections and route a command.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Starts on a new port after a lost port race, at most this many in all.
const PORT_ATTEMPTS: usize = 3;

/// A running proxy; dropping it kills it.
pub struct Proxy {
    name: &'static str,
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: TempDir,
}

/// `name` next to this executable (`target/release/slotway` for a release
/// build of the bench).
pub fn sibling_bin(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locate the bench executable")?;
    let dir = exe.parent().context("bench executable has no parent dir")?;
    Ok(dir.join(name))
}

/// The arguments of Slotway in cluster mode.
pub fn cluster_args(port: u16, seeds: &[String]) -> Vec<OsString> {
    [
        "--listen".to_string(),
        format!("127.0.0.1:{port}"),
        "--cluster".to_string(),
        seeds.join(","),
        "--log-level".to_string(),
        "warn".to_string(),
    ]
    .into_iter()
    .map(OsString::from)
    .collect()
}

/// The floor proxy's command line: its port and the servers, and
/// `--tasks` for its tokio variant.
pub fn floor_args(port: u16, servers: &[String], tasks: bool) -> Vec<OsString> {
    let mut args: Vec<OsString> = tasks.then(|| "--tasks".into()).into_iter().collect();
    args.extend(["--listen".into(), format!("127.0.0.1:{port}").into()]);
    for server in servers {
        args.push("--server".into());
        args.push(server.into());
    }
    args
}

/// The nutcracker command line (also `slotway nutcracker`'s): `-v 4`, the
/// cheapest level (no per-request `getpeername`), stats on a free port.
pub fn nutcracker_args(conf: &Path, stats_port: u16) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["-c".into(), conf.into()];
    for a in ["-s", &stats_port.to_string(), "-a", "127.0.0.1", "-v", "4"] {
        args.push(a.into());
    }
    args
}

impl Proxy {
    /// Starts `bin` with the arguments `args(port, dir)` gives for a free
    /// listen port and the proxy's own temp dir (for a configuration file),
    /// and waits until a `SET` through it succeeds.
    pub fn start(
        name: &'static str,
        bin: &Path,
        args: impl Fn(u16, &Path) -> Result<Vec<OsString>>,
    ) -> Result<Proxy> {
        if !bin.is_file() {
            bail!(
                "{name}: binary {} not found (build it with `cargo build --release -p slotway`, or pass its path)",
                bin.display()
            );
        }
        let mut last = String::new();
        for attempt in 1..=PORT_ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix("slotway-bench-")
                .tempdir()
                .with_context(|| format!("{name}: create temp dir"))?;
            let port = free_port();
            let argv = args(port, dir.path())?;
            let log = dir.path().join("proxy.log");
            let out = File::create(&log).with_context(|| format!("create {}", log.display()))?;
            let err = out.try_clone().context("clone log handle")?;
            let child = Command::new(bin)
                .args(&argv)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .with_context(|| format!("{name}: spawn {}", bin.display()))?;
            let mut proxy = Proxy {
                name,
                child,
                port,
                log,
                _dir: dir,
            };
            match proxy.wait_ready() {
                Ok(()) => return Ok(proxy),
                Err(e) => {
                    let text = format!("{e:#}");
                    if !text.contains("in use") || attempt == PORT_ATTEMPTS {
                        return Err(e);
                    }
                    last = text;
                }
            }
        }
        bail!("{name}: lost the port race {PORT_ATTEMPTS} times: {last}")
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let port = self.port.to_string();
        loop {
            if let Some(status) = self.child.try_wait().context("try_wait proxy")? {
                bail!(
                    "{} exited with {status} before serving\n--- log ---\n{}",
                    self.name,
                    log_tail(&self.log, 30)
                );
            }
            let last = if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                let mut cli = Command::new("redis-cli");
                cli.args(["-h", "127.0.0.1", "-p", &port]).args([
                    "SET",
                    "slotway-bench:probe",
                    "1",
                ]);
                match run_bounded(&mut cli, Duration::from_secs(2)) {
                    Ok(out) => {
                        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
                        if out.status.success() && text == "OK" {
                            return Ok(());
                        }
                        format!(
                            "SET through it answered `{text}` {}",
                            String::from_utf8_lossy(&out.stderr).trim()
                        )
                    }
                    Err(e) => format!("SET through it: {e}"),
                }
            } else {
                format!("{addr} not accepting connections")
            };
            if Instant::now() >= deadline {
                bail!(
                    "{} not ready after {READY_TIMEOUT:?}: {last}\n--- log ---\n{}",
                    self.name,
                    log_tail(&self.log, 30)
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails if the proxy has exited (e.g. crashed during a run).
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait().context("try_wait proxy")? {
            bail!(
                "{} exited with {status}\n--- log ---\n{}",
                self.name,
                log_tail(&self.log, 30)
            );
        }
        Ok(())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Our own unreaped child: SIGKILL by PID via Child, then reap.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_command_lines() {
        let c: Vec<String> = cluster_args(7000, &["127.0.0.1:1".into(), "127.0.0.1:2".into()])
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            c.join(" "),
            "--listen 127.0.0.1:7000 --cluster 127.0.0.1:1,127.0.0.1:2 --log-level warn"
        );
        let n: Vec<String> = nutcracker_args(Path::new("/x/p.yml"), 22222)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(n.join(" "), "-c /x/p.yml -s 22222 -a 127.0.0.1 -v 4");
        let f: Vec<String> = floor_args(7001, &["127.0.0.1:1".into(), "127.0.0.1:2".into()], false)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            f.join(" "),
            "--listen 127.0.0.1:7001 --server 127.0.0.1:1 --server 127.0.0.1:2"
        );
        let t = floor_args(7001, &["127.0.0.1:1".into()], true);
        assert_eq!(t.first().and_then(|a| a.to_str()), Some("--tasks"));
    }
}
