//! A minimal request/response client for the control plane (topology
//! queries). One command at a time, every step bounded by a timeout. Not
//! used on the data path. With `cluster.tls` it speaks TLS like the data
//! connections ([`ControlConn::connect_tls`]).
//!
//! Periodic askers (the topology refresher, the pools' health probes) keep
//! one connection per node from round to round ([`ask_kept`]): connecting,
//! authenticating (a TLS handshake with TLS) and closing every round cost
//! the nodes a connection per second or so per proxy, for nothing.

use std::time::Duration;

use bytes::BytesMut;
use slotway_resp::{Value, encode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::BackendError;

/// Replies larger than this are refused (a topology reply of a 1000-node
/// cluster is well under 1 MiB).
const MAX_REPLY: usize = 64 << 20;

/// Either transport (control connections are not on the hot path: one
/// boxed stream is simpler than a type parameter everywhere).
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A control connection to one node (TCP, or a unix socket when `addr` is a
/// path).
pub struct ControlConn {
    addr: String,
    stream: Box<dyn Io>,
    input: BytesMut,
    timeout: Duration,
}

impl std::fmt::Debug for ControlConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlConn")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// What [`ask_kept`]'s question returns: boxed, because an async closure's
/// future cannot be shown to be `Send` for every borrow of the connection
/// (the refresher runs its questions on spawned tasks).
pub type Asked<'c, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, BackendError>> + Send + 'c>>;

/// Runs `ask` on `kept` (if it is to `addr`), else — none was kept, or the
/// node closed it (a restart, its `timeout`, `CLIENT KILL`), which says
/// nothing about the node yet — on a new connection, authenticated with
/// `prelude`. Returns `ask`'s result with the connection it ran on, to keep
/// for the next round. A failure drops the connection, so a failing node is
/// asked on a fresh one next time; a kept connection that timed out is not
/// retried now (a new one would only wait as long again).
///
/// # Errors
/// Connecting, authenticating or `ask` failed.
pub async fn ask_kept<T>(
    addr: &str,
    kept: Option<ControlConn>,
    prelude: &crate::backend::Prelude,
    connect_timeout: Duration,
    query_timeout: Duration,
    mut ask: impl FnMut(&mut ControlConn) -> Asked<'_, T>,
) -> Result<(T, ControlConn), BackendError> {
    if let Some(mut conn) = kept.filter(|c| c.addr == addr) {
        match ask(&mut conn).await {
            Ok(t) => return Ok((t, conn)),
            Err(BackendError::Io { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let mut conn =
        ControlConn::connect_tls(addr, prelude.tls(), connect_timeout, query_timeout).await?;
    conn.authenticate(prelude).await?;
    let t = ask(&mut conn).await?;
    Ok((t, conn))
}

impl ControlConn {
    /// Connects to `addr` in plaintext.
    ///
    /// # Errors
    /// The connection could not be made in time.
    pub async fn connect(
        addr: &str,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<Self, BackendError> {
        Self::connect_tls(addr, None, connect_timeout, timeout).await
    }

    /// Connects to `addr`, with TLS over TCP when `tls` is given (the
    /// handshake within `connect_timeout`); a unix socket is never TLS.
    ///
    /// # Errors
    /// The connection or its handshake could not be made in time.
    pub async fn connect_tls(
        addr: &str,
        tls: Option<&std::sync::Arc<crate::tls::BackendTls>>,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<Self, BackendError> {
        let open = async {
            if addr.starts_with('/') {
                return tokio::net::UnixStream::connect(addr)
                    .await
                    .map(|s| Box::new(s) as Box<dyn Io>);
            }
            let tcp = TcpStream::connect(addr).await?;
            match tls {
                Some(tls) => tls
                    .connect(tcp, addr)
                    .await
                    .map(|s| Box::new(s) as Box<dyn Io>),
                None => Ok(Box::new(tcp) as Box<dyn Io>),
            }
        };
        let stream = match tokio::time::timeout(connect_timeout, open).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(BackendError::Connect {
                    addr: addr.to_owned(),
                    reason: e.to_string(),
                });
            }
            Err(_) => {
                return Err(BackendError::Connect {
                    addr: addr.to_owned(),
                    reason: "timed out".to_owned(),
                });
            }
        };
        Ok(Self {
            addr: addr.to_owned(),
            stream,
            input: BytesMut::with_capacity(16 * 1024),
            timeout,
        })
    }

    /// The address connected to.
    #[must_use]
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends one command and waits for its reply (an error reply is `Ok`).
    ///
    /// # Errors
    /// I/O failure, timeout, or a malformed reply.
    pub async fn query(&mut self, args: &[&[u8]]) -> Result<Value, BackendError> {
        match tokio::time::timeout(self.timeout, self.exchange(args)).await {
            Ok(r) => r,
            Err(_) => Err(BackendError::Timeout {
                addr: self.addr.clone(),
            }),
        }
    }

    /// Sends several commands in one write and waits for their replies, in
    /// order, under one timeout: one round trip instead of one each.
    ///
    /// # Errors
    /// I/O failure, timeout, or a malformed reply.
    pub async fn query_pipelined(&mut self, cmds: &[&[&[u8]]]) -> Result<Vec<Value>, BackendError> {
        let mut out = BytesMut::new();
        for args in cmds {
            encode::command(&mut out, args);
        }
        let timeout = self.timeout;
        let exchange = async {
            let mut replies = Vec::with_capacity(cmds.len());
            let first = self.send_raw(&out).await?;
            replies.push(first);
            for _ in 1..cmds.len() {
                replies.push(self.read_value().await?);
            }
            Ok(replies)
        };
        let result = tokio::time::timeout(timeout, exchange).await;
        match result {
            Ok(r) => r,
            Err(_) => Err(BackendError::Timeout {
                addr: self.addr.clone(),
            }),
        }
    }

    /// Sends the prelude (backend AUTH / SELECT) and checks each reply.
    ///
    /// # Errors
    /// I/O failure, timeout, or the node refused a command (the error
    /// names the command, never its arguments: they hold the password).
    pub async fn authenticate(
        &mut self,
        prelude: &crate::backend::Prelude,
    ) -> Result<(), BackendError> {
        for cmd in prelude.commands() {
            let reply = match tokio::time::timeout(self.timeout, self.send_raw(cmd)).await {
                Ok(r) => r?,
                Err(_) => {
                    return Err(BackendError::Timeout {
                        addr: self.addr.clone(),
                    });
                }
            };
            if let Value::Error(e) = reply {
                let what = if cmd.windows(4).any(|w| w == b"AUTH") {
                    "AUTH"
                } else {
                    "SELECT"
                };
                return Err(BackendError::Reply {
                    addr: self.addr.clone(),
                    reason: format!("{what} refused: {}", String::from_utf8_lossy(&e)),
                });
            }
        }
        Ok(())
    }

    async fn exchange(&mut self, args: &[&[u8]]) -> Result<Value, BackendError> {
        let mut out = BytesMut::new();
        encode::command(&mut out, args);
        self.send_raw(&out).await
    }

    async fn send_raw(&mut self, out: &[u8]) -> Result<Value, BackendError> {
        let io = |e: std::io::Error, addr: &str| BackendError::Io {
            addr: addr.to_owned(),
            reason: e.to_string(),
        };
        self.stream
            .write_all(out)
            .await
            .map_err(|e| io(e, &self.addr))?;
        self.read_value().await
    }

    /// The next value the node sends unasked (a subscription's messages),
    /// waiting at most `wait`.
    ///
    /// # Errors
    /// I/O failure, a malformed reply, or nothing arrived in time.
    pub async fn next_pushed(&mut self, wait: Duration) -> Result<Value, BackendError> {
        match tokio::time::timeout(wait, self.read_value()).await {
            Ok(r) => r,
            Err(_) => Err(BackendError::Timeout {
                addr: self.addr.clone(),
            }),
        }
    }

    async fn read_value(&mut self) -> Result<Value, BackendError> {
        let io = |e: std::io::Error, addr: &str| BackendError::Io {
            addr: addr.to_owned(),
            reason: e.to_string(),
        };
        loop {
            match Value::decode(&self.input) {
                Ok(Some((value, used))) => {
                    let _ = self.input.split_to(used);
                    return Ok(value);
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(BackendError::Reply {
                        addr: self.addr.clone(),
                        reason: e.to_string(),
                    });
                }
            }
            if self.input.len() > MAX_REPLY {
                return Err(BackendError::Reply {
                    addr: self.addr.clone(),
                    reason: "reply too large".to_owned(),
                });
            }
            self.input.reserve(16 * 1024);
            let n = self
                .stream
                .read_buf(&mut self.input)
                .await
                .map_err(|e| io(e, &self.addr))?;
            if n == 0 {
                return Err(BackendError::Io {
                    addr: self.addr.clone(),
                    reason: "connection closed by the node".to_owned(),
                });
            }
        }
    }
}
