//! Opening a node connection: TCP (no Nagle; SO_KEEPALIVE when asked),
//! TLS over TCP (`cluster.tls`), or a unix socket for an address that is a path, under the connect timeout;
//! and the capped, jittered back-off after failed connects.
//!
//! Invariant: a connection is only handed to its task once it is open; a
//! failure is a reason string for the task to report.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;

use super::conn::ConnParams;

/// Failed connects make later requests fail fast for a while, doubling up
/// to a cap, so a dead node costs clients one timeout, not one each.
pub(super) struct Backoff {
    failures: u32,
    until: Option<Instant>,
}

impl Backoff {
    /// No failure yet.
    pub(super) fn new() -> Self {
        Self {
            failures: 0,
            until: None,
        }
    }

    const BASE: Duration = Duration::from_millis(50);
    const CAP: Duration = Duration::from_millis(1_000);

    pub(super) fn failed(&mut self) {
        self.failures = self.failures.saturating_add(1);
        let exp = self.failures.min(6).saturating_sub(1);
        let delay = Self::BASE.saturating_mul(1 << exp).min(Self::CAP);
        // Jitter (50–100 % of the delay) so that many connections, or many
        // proxies, do not reconnect to a recovering node in lockstep.
        let jitter = 0.5 + f64::from(jitter_seed() % 1000) / 2000.0;
        self.until = Some(Instant::now() + delay.mul_f64(jitter));
    }

    pub(super) fn active(&self) -> bool {
        self.until.is_some_and(|t| Instant::now() < t)
    }

    pub(super) fn reset(&mut self) {
        self.failures = 0;
        self.until = None;
    }
}

/// A cheap varying number for jitter (no RNG dependency needed for this).
fn jitter_seed() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}

/// A node connection: TCP, or a unix socket for an address that is a path
/// (a pool server such as `/var/run/redis.sock`).
/// (TLS is boxed: its state is large and only that arm pays for it.)
pub(super) enum Stream {
    Tcp(TcpStream),
    Unix(tokio::net::UnixStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

pub(super) async fn connect(params: &ConnParams) -> Result<Stream, String> {
    let addr = &*params.addr;
    let attempt = async {
        if addr.starts_with('/') {
            return tokio::net::UnixStream::connect(addr)
                .await
                .map(Stream::Unix);
        }
        let stream = TcpStream::connect(addr).await?;
        // Requests are coalesced by the task itself; Nagle would only add latency.
        stream.set_nodelay(true)?;
        if params.prelude.keepalive() {
            socket2::SockRef::from(&stream).set_keepalive(true)?;
        }
        // The handshake is part of connecting, under the same timeout.
        if let Some(tls) = params.prelude.tls() {
            return tls
                .connect(stream, addr)
                .await
                .map(|s| Stream::Tls(Box::new(s)));
        }
        Ok(Stream::Tcp(stream))
    };
    match tokio::time::timeout(params.connect_timeout, attempt).await {
        Err(_) => Err(format!("timed out after {:?}", params.connect_timeout)),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(stream)) => Ok(stream),
    }
}
