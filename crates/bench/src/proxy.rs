//! The Slotway proxy as a child process of the benchmark.
//!
//! Owns the `Child` and a temp dir for its log. Invariants: the process is
//! killed and reaped on `Drop` (also on error paths), it is started only with
//! the documented CLI (`--listen --cluster --log-level`), and waiting for it to
//! serve is bounded.

use std::fs::File;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use slotway_fixture::{free_port, log_tail, run_bounded};
use tempfile::TempDir;

/// How long the proxy may take to accept connections and route a command.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A running proxy; dropping it kills it.
pub struct Proxy {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: TempDir,
}

/// `slotway` next to this executable (`target/release/slotway` for a
/// release build of the bench).
pub fn default_bin() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locate the bench executable")?;
    let dir = exe.parent().context("bench executable has no parent dir")?;
    Ok(dir.join("slotway"))
}

impl Proxy {
    /// Starts `bin --listen 127.0.0.1:<free port> --cluster <seeds> --log-level
    /// warn` and waits until it accepts connections and answers a `SET`.
    pub fn start(bin: &Path, seeds: &[String]) -> Result<Proxy> {
        if !bin.is_file() {
            bail!(
                "proxy binary {} not found (build it with `cargo build --release -p slotway`, or pass --proxy-bin PATH, or --direct-only)",
                bin.display()
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("slotway-bench-")
            .tempdir()
            .context("create temp dir for the proxy log")?;
        let log = dir.path().join("slotway.log");
        let out = File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let err = out.try_clone().context("clone log handle")?;
        let port = free_port();
        let child = Command::new(bin)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--cluster")
            .arg(seeds.join(","))
            .arg("--log-level")
            .arg("warn")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("spawn {}", bin.display()))?;
        let mut proxy = Proxy {
            child,
            port,
            log,
            _dir: dir,
        };
        proxy.wait_ready()?;
        Ok(proxy)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let port = self.port.to_string();
        loop {
            if let Some(status) = self.child.try_wait().context("try_wait proxy")? {
                bail!(
                    "proxy exited with {status} before serving\n--- proxy log ---\n{}",
                    log_tail(&self.log, 30)
                );
            }
            let last = if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                let mut cli = Command::new("redis-cli");
                cli.args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port,
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
                            "SET through the proxy answered `{text}` {}",
                            String::from_utf8_lossy(&out.stderr).trim()
                        )
                    }
                    Err(e) => format!("SET through the proxy: {e}"),
                }
            } else {
                format!("{addr} not accepting connections")
            };
            if Instant::now() >= deadline {
                bail!(
                    "proxy not ready after {READY_TIMEOUT:?}: {last}\n--- proxy log ---\n{}",
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
                "proxy exited with {status}\n--- proxy log ---\n{}",
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
