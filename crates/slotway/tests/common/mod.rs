//! Shared support for the integration tests: a proxy running in-process on
//! its own runtime thread (bound to port 0), and a raw RESP client that sees
//! replies byte for byte. Clusters come from `slotway-fixture` (real
//! redis-server processes, stopped by PID on drop).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod admin;
pub mod certs;
pub mod load;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use slotway_core::{Config, Settings};
use slotway_resp::Value;

/// A proxy serving on 127.0.0.1:<random port> until dropped.
pub struct Proxy {
    pub addr: SocketAddr,
    /// The TLS listener's address, when the settings have `[tls]`.
    pub tls_addr: Option<SocketAddr>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy in front of `seeds` with default settings.
    pub fn start(seeds: &[String]) -> Proxy {
        Self::start_with(seeds, |_| {})
    }

    /// Starts a proxy after letting `tweak` change the configuration.
    pub fn start_with(seeds: &[String], tweak: impl FnOnce(&mut Config)) -> Proxy {
        let mut config = Config::default();
        config.cluster.seeds = seeds.to_vec();
        config.proxy.threads = 2;
        tweak(&mut config);
        let settings: Settings = config.validate().expect("valid test config");
        Self::start_settings(settings)
    }

    /// Starts a proxy on already-validated settings (a sharded pool, say).
    pub fn start_settings(settings: Settings) -> Proxy {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(settings.threads)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let mut listeners = vec![slotway_core::ClientListener::from(listener)];
                let mut tls_addr = None;
                if let Some(tls) = &settings.tls {
                    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                    tls_addr = Some(l.local_addr().unwrap());
                    listeners.push(slotway_core::ClientListener::Tls(l, tls.clone()));
                }
                addr_tx.send((addr, tls_addr)).unwrap();
                let engine = slotway_core::Engine::new(settings);
                slotway_core::serve_listeners(listeners, engine, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            });
        });
        let (addr, tls_addr) = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Proxy {
            addr,
            tls_addr,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn client(&self) -> Raw {
        Raw::connect(self.addr)
    }

    /// Waits until the proxy serves keys on every master (topology known).
    pub fn wait_ready(&self) {
        let mut c = self.client();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ok = (0..16).all(|i| {
                matches!(
                    c.cmd(&["GET", &format!("ready:{i}")]),
                    Value::Null | Value::Bulk(_)
                )
            });
            if ok {
                return;
            }
            assert!(Instant::now() < deadline, "proxy never became ready");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the proxy (graceful shutdown) and waits for it.
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A 3-master cluster (no replicas) and a proxy in front of it, ready.
pub fn cluster_and_proxy() -> (slotway_fixture::Cluster, Proxy) {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let cluster = slotway_fixture::Cluster::start(3, 0).expect("cluster");
    let proxy = Proxy::start(&cluster.seeds());
    proxy.wait_ready();
    (cluster, proxy)
}

/// `(first slot, last slot, master address)` of each master, in slot order.
pub fn master_ranges(cluster: &slotway_fixture::Cluster) -> Vec<(u16, u16, String)> {
    let map = cluster.slots().expect("slot map");
    assert_eq!(map.len(), 3, "one range per master: {map:?}");
    map.into_iter()
        .map(|r| (r.start, r.end, r.master))
        .collect()
}

/// Runs `tests/py/<script> <args…>` with python3, bounded by `timeout`, and
/// requires it to exit 0 with `ok` as its last line. A script exits 3 when
/// redis-py is not installed: that fails with the install hint.
pub fn run_redis_py_script(script: &str, args: &[String], timeout: Duration, what: &str) {
    let python = slotway_fixture::find_binary("python3")
        .unwrap_or_else(|| panic!("python3 not found on PATH (apt-get install python3)"));
    let path: std::path::PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "py", script]
        .iter()
        .collect();
    let out = slotway_fixture::run_bounded(
        std::process::Command::new(python).arg(&path).args(args),
        timeout,
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        panic!("redis-py is not installed for python3: pip install redis (redis-py 8.x)\n{stderr}");
    }
    assert!(
        out.status.success() && stdout.lines().last() == Some("ok"),
        "{what} against the proxy failed: {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );
}

/// A blocking RESP client that returns decoded replies and raw bytes.
pub struct Raw {
    pub stream: TcpStream,
    buf: BytesMut,
}

impl Raw {
    pub fn connect(addr: impl std::net::ToSocketAddrs) -> Raw {
        Self::try_connect(addr).unwrap()
    }

    /// [`Raw::connect`], the failure returned.
    pub fn try_connect(addr: impl std::net::ToSocketAddrs) -> std::io::Result<Raw> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        stream.set_nodelay(true)?;
        Ok(Raw {
            stream,
            buf: BytesMut::new(),
        })
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    pub fn send_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        let mut out = BytesMut::new();
        slotway_resp::encode::command(&mut out, args);
        self.send(&out);
    }

    /// Reads one reply; panics on timeout or EOF.
    pub fn read(&mut self) -> Value {
        self.try_read().expect("connection closed before a reply")
    }

    /// Reads one reply, `None` on EOF.
    pub fn try_read(&mut self) -> Option<Value> {
        self.read_io().expect("read reply")
    }

    /// Reads one reply: `Ok(None)` on EOF, the error on a reset or timeout.
    pub fn read_io(&mut self) -> std::io::Result<Option<Value>> {
        loop {
            if let Some((v, n)) = Value::decode(&self.buf).unwrap() {
                let _ = self.buf.split_to(n);
                return Ok(Some(v));
            }
            let mut chunk = vec![0u8; 256 * 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads exactly `n` raw bytes of reply.
    pub fn read_raw(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            let mut chunk = vec![0u8; 64 * 1024];
            let k = self.stream.read(&mut chunk).expect("read raw");
            assert!(k > 0, "EOF after {} of {n} bytes", self.buf.len());
            self.buf.extend_from_slice(&chunk[..k]);
        }
        self.buf.split_to(n).to_vec()
    }

    /// True once the server closed the connection (waits up to 5 s).
    pub fn closed(&mut self) -> bool {
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut b = [0u8; 1];
        matches!(self.stream.read(&mut b), Ok(0))
    }

    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Value {
        self.send_cmd(args);
        self.read()
    }

    /// [`Raw::cmd`], a failure or EOF returned instead of panicking.
    pub fn try_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> std::io::Result<Option<Value>> {
        let mut out = BytesMut::new();
        slotway_resp::encode::command(&mut out, args);
        self.stream.write_all(&out)?;
        self.read_io()
    }
}

pub fn bulk(v: &Value) -> Vec<u8> {
    match v {
        Value::Bulk(b) => b.to_vec(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

pub fn text(v: &Value) -> String {
    match v {
        Value::Bulk(b) | Value::Simple(b) | Value::Error(b) | Value::Verbatim(b) => {
            String::from_utf8_lossy(b).into_owned()
        }
        Value::Integer(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}

pub fn is_ok(v: &Value) -> bool {
    matches!(v, Value::Simple(s) if &s[..] == b"OK")
}

/// A key that lands on the master serving `slot_range`, with a readable prefix.
pub fn key_in_range(prefix: &str, lo: u16, hi: u16) -> String {
    (0u32..)
        .map(|i| format!("{prefix}:{i}"))
        .find(|k| (lo..=hi).contains(&slotway_hashkit::key_slot(k.as_bytes())))
        .unwrap()
}

/// A child process killed and reaped on drop, by its own handle (by PID).
pub struct OwnedChild(pub std::process::Child);

impl Drop for OwnedChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `slotway --config PATH --admin 127.0.0.1:ADMIN_PORT` (the binary under
/// test), its standard error discarded.
pub fn spawn_config_admin(path: &std::path::Path, admin_port: u16) -> OwnedChild {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_slotway"))
        .args(["--config", &path.display().to_string()])
        .args(["--admin", &format!("127.0.0.1:{admin_port}")])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the slotway binary starts");
    OwnedChild(child)
}

/// Waits until the proxy process `child` serves on 127.0.0.1:`port`: a new
/// connection's replies to `probe` satisfy `ready`. Returns that connection.
/// A refused, reset or closed connection means "not yet" (the process may be
/// between binding and serving); the process exiting fails at once with its
/// status, so a crash is never mistaken for slowness. Bounded by 20 s.
pub fn wait_child_serving<A: AsRef<[u8]>>(
    child: &mut std::process::Child,
    port: u16,
    probe: &[&[A]],
    ready: impl Fn(&Value) -> bool,
) -> Raw {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the proxy on port {port} exited before serving: {status}");
        }
        if let Some(c) = try_probe(port, probe, &ready) {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "the proxy on port {port} never served"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One readiness attempt: connect, send every `probe`, `Some` if each reply
/// satisfies `ready`; any I/O failure is `None`.
fn try_probe<A: AsRef<[u8]>>(
    port: u16,
    probe: &[&[A]],
    ready: &impl Fn(&Value) -> bool,
) -> Option<Raw> {
    let mut c = Raw::try_connect(("127.0.0.1", port)).ok()?;
    c.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .ok()?;
    for args in probe {
        if !ready(&c.try_cmd(args).ok()??) {
            return None;
        }
    }
    c.stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .ok()?;
    Some(c)
}

/// Waits until 127.0.0.1:`port` accepts connections (bounded).
pub fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} never listened on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A client that writes its whole pipeline before reading any reply
/// (redis-py's `execute()`, Jedis's `sync()`) through the proxy at `addr`:
/// `n` GETs of a 1000-byte key holding a 1000-byte value (about 1 KB each
/// way per request), written whole, then every reply read and checked.
/// Panics if the proxy stops reading it (the write times out). Returns how
/// long the whole exchange took.
pub fn whole_pipeline_then_read(addr: impl std::net::ToSocketAddrs + Copy, n: usize) -> Duration {
    let key = "k".repeat(1000);
    let value = vec![b'p'; 1000];
    let mut c = Raw::connect(addr);
    assert!(is_ok(&c.cmd(&[b"SET".as_slice(), key.as_bytes(), &value])));
    let mut one = BytesMut::new();
    slotway_resp::encode::command(&mut one, &["GET", &key]);
    let batch = one.repeat(n);
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let started = Instant::now();
    s.write_all(&batch)
        .expect("the proxy stopped reading: the pipeline waits on itself");
    let mut reply = BytesMut::new();
    slotway_resp::encode::bulk(&mut reply, &value);
    let mut got = vec![0u8; reply.len() * n];
    s.read_exact(&mut got).unwrap();
    assert!(got == reply.repeat(n), "every reply, in order");
    started.elapsed()
}
