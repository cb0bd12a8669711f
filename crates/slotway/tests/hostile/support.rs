//! Support for the hostile-client tests: the `slotway` binary run from a
//! config file (its RSS read from /proc), a witness client that keeps
//! checking round trips in the background, and raw exchanges that report
//! whether the proxy closed the connection.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use slotway_fixture::Cluster;
use slotway_resp::Value;

use crate::common::{Raw, bulk, is_ok};

const BIN: &str = env!("CARGO_BIN_EXE_slotway");
pub const MB: u64 = 1024 * 1024;

/// The `slotway` binary with a config file, killed by PID on drop.
pub struct Binary {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Binary {
    /// Starts the binary in front of `cluster` with extra `[proxy]` and
    /// `[limits]` lines, and waits until it serves keys.
    pub fn start(cluster: &Cluster, proxy: &str, limits: &str) -> Binary {
        let port = slotway_fixture::free_port();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("slotway.toml");
        let seeds: Vec<String> = cluster.seeds().iter().map(|s| format!("{s:?}")).collect();
        std::fs::write(
            &path,
            format!(
                "[proxy]\nlisten = \"127.0.0.1:{port}\"\nthreads = 2\n{proxy}\n\
                 [cluster]\nseeds = [{}]\n\n[limits]\n{limits}\n\n[log]\nlevel = \"warn\"\n",
                seeds.join(", ")
            ),
        )
        .unwrap();
        let child = Command::new(BIN)
            .arg("--config")
            .arg(&path)
            // Freed pages go back to the system at once (jemalloc keeps them
            // for seconds by default), so RSS is what the proxy holds.
            .env("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut b = Binary {
            child,
            port,
            _dir: dir,
        };
        let keys: Vec<String> = (0..16).map(|i| format!("ready:{i}")).collect();
        let probe: Vec<[&str; 2]> = keys.iter().map(|k| ["GET", k.as_str()]).collect();
        let probe: Vec<&[&str]> = probe.iter().map(|p| p.as_slice()).collect();
        crate::common::wait_child_serving(&mut b.child, port, &probe, |v| matches!(v, Value::Null));
        b
    }

    pub fn client(&self) -> Raw {
        Raw::connect(("127.0.0.1", self.port))
    }

    /// Resident memory of the proxy process, from /proc.
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status");
        kb * 1024
    }

    pub fn assert_alive(&mut self) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "the proxy process exited"
        );
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that keeps checking SET/GET round trips on its own key until
/// stopped; counts its correct answers and panics on a wrong one.
pub struct Witness {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Witness {
    pub fn start(port: u16) -> Witness {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let (s, d) = (stop.clone(), done.clone());
        let thread = thread::spawn(move || {
            let mut c = Raw::connect(("127.0.0.1", port));
            let mut i = 0u64;
            while !s.load(Ordering::Relaxed) {
                let v = format!("v{i}");
                assert!(is_ok(&c.cmd(&["SET", "witness", &v])), "witness SET #{i}");
                assert_eq!(bulk(&c.cmd(&["GET", "witness"])), v.as_bytes());
                d.fetch_add(1, Ordering::Relaxed);
                i += 1;
                thread::sleep(Duration::from_millis(20));
            }
        });
        Witness {
            stop,
            done,
            thread: Some(thread),
        }
    }

    /// Stops it; returns how many round trips it checked.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().expect("witness failed");
        self.done.load(Ordering::Relaxed)
    }
}

/// Sends `input` on a fresh connection, then reads everything the proxy
/// sends until it closes the connection or `quiet` passes without a byte.
/// Returns the bytes and whether the proxy closed.
pub fn exchange(port: u16, input: &[u8], half_close: bool, quiet: Duration) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(input).unwrap();
    if half_close {
        s.shutdown(std::net::Shutdown::Write).unwrap();
    }
    s.set_read_timeout(Some(quiet)).unwrap();
    let mut got = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (got, true),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (got, false);
            }
            Err(e) => panic!("read: {e}"),
        }
    }
}

pub fn protocol_error(text: &str) -> Vec<u8> {
    format!("-ERR Protocol error: {text}\r\n").into_bytes()
}

/// Reads exactly `n` bytes (bounded by a read timeout).
pub fn read_n(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut out = vec![0u8; n];
    stream.read_exact(&mut out).unwrap();
    out
}
