//! Support for tests that run load through a changing cluster (failover,
//! resharding): a client that never panics (I/O problems are results, so a
//! load thread records them and reconnects), the lock that keeps one heavy
//! scenario at a time, and what acknowledged values a key may hold.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use slotway_resp::Value;

/// Longer than the default park budget (20 s): a parked request is not a
/// client timeout.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(25);

// A std Mutex: this crate does not depend on parking_lot, and a poisoned
// lock (a failed scenario) must not fail the next ones.
#[allow(clippy::disallowed_types)]
pub static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Held for a whole scenario: one cluster under load at a time.
#[allow(clippy::disallowed_types)]
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `SLOTWAY_TEST_LOG=slotway_core=debug` shows the proxy's log (diagnosis).
pub fn init_log() {
    if let Ok(filter) = std::env::var("SLOTWAY_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
}

/// Signed milliseconds from `base` to `t`.
pub fn ms_from(base: Instant, t: Instant) -> i64 {
    if t >= base {
        i64::try_from(t.duration_since(base).as_millis()).unwrap_or(i64::MAX)
    } else {
        -i64::try_from(base.duration_since(t).as_millis()).unwrap_or(i64::MAX)
    }
}

pub struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: BytesMut,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Conn {
        Conn {
            addr,
            stream: None,
            buf: BytesMut::new(),
        }
    }

    pub fn to(addr: &str) -> Conn {
        Conn::new(addr.parse().expect("ip:port"))
    }

    /// One request, one reply; `Err` is an I/O failure (the connection is
    /// dropped and re-opened by the next request).
    pub fn request<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Value, String> {
        let r = self.try_request(args);
        if r.is_err() {
            self.stream = None;
            self.buf.clear();
        }
        r
    }

    fn try_request<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Value, String> {
        if self.stream.is_none() {
            let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))
                .map_err(|e| format!("connect: {e}"))?;
            s.set_read_timeout(Some(REPLY_TIMEOUT))
                .map_err(|e| e.to_string())?;
            s.set_nodelay(true).map_err(|e| e.to_string())?;
            self.stream = Some(s);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err("no connection".to_owned());
        };
        let mut out = BytesMut::new();
        slotway_resp::encode::command(&mut out, args);
        stream.write_all(&out).map_err(|e| format!("write: {e}"))?;
        let mut chunk = [0u8; 16 * 1024];
        for _ in 0..100_000 {
            match Value::decode(&self.buf) {
                Ok(Some((v, n))) => {
                    let _ = self.buf.split_to(n);
                    return Ok(v);
                }
                Ok(None) => {}
                Err(e) => return Err(format!("malformed reply: {e}")),
            }
            let n = stream.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("connection closed by the proxy".to_owned());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Err("reply never completed".to_owned())
    }
}

pub fn reply_text(r: &Result<Value, String>) -> String {
    match r {
        Ok(Value::Error(e) | Value::Bulk(e) | Value::Simple(e)) => {
            String::from_utf8_lossy(e).into_owned()
        }
        Ok(Value::Integer(i)) => i.to_string(),
        Ok(other) => format!("{other:?}"),
        Err(io) => format!("I/O: {io}"),
    }
}

/// One value key: the last acknowledged SET, and a later SET whose outcome
/// is unknown (it may or may not have been applied).
#[derive(Default, Debug)]
pub struct ValueKey {
    pub acked: Option<String>,
    pub unknown: Option<String>,
}

impl ValueKey {
    pub fn allows(&self, got: Option<&str>) -> bool {
        got == self.acked.as_deref() || (self.unknown.is_some() && got == self.unknown.as_deref())
    }
}
