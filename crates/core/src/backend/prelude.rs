//! [`Prelude`]: what every new backend connection does before anything
//! else — its socket options (TCP keepalive), TLS, and the commands it sends
//! first (`AUTH` with the backend credentials, `SELECT` of a pool's
//! database), encoded once when the settings are validated.
//!
//! Invariant: the credentials never leave this type in readable form: its
//! `Debug` shows only how many commands it holds, so settings, nodes and
//! connections can be printed and logged safely.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

/// Encoded commands sent first on every backend connection.
#[derive(Clone, Default)]
pub struct Prelude(Arc<[Bytes]>, bool, Option<Arc<crate::tls::BackendTls>>);

impl Prelude {
    /// `AUTH [user] password` when a password is set, then `SELECT db` when
    /// `db` is not 0.
    #[must_use]
    pub fn new(user: Option<&str>, password: Option<&str>, db: u32) -> Self {
        let mut cmds = Vec::new();
        if let Some(pass) = password {
            let mut buf = BytesMut::new();
            let mut args: Vec<Vec<u8>> = vec![b"AUTH".to_vec()];
            if let Some(user) = user {
                args.push(user.as_bytes().to_vec());
            }
            args.push(pass.as_bytes().to_vec());
            slotway_resp::encode::command(&mut buf, &args);
            cmds.push(buf.freeze());
        }
        if db != 0 {
            let mut buf = BytesMut::new();
            slotway_resp::encode::command(
                &mut buf,
                &[b"SELECT".to_vec(), db.to_string().into_bytes()],
            );
            cmds.push(buf.freeze());
        }
        Self(cmds.into(), false, None)
    }

    /// With SO_KEEPALIVE on TCP connections (nutcracker's `tcpkeepalive`).
    #[must_use]
    pub fn with_keepalive(mut self, on: bool) -> Self {
        self.1 = on;
        self
    }

    /// Whether TCP connections get SO_KEEPALIVE.
    #[must_use]
    pub fn keepalive(&self) -> bool {
        self.1
    }

    /// With TLS on every TCP connection (`cluster.tls`).
    #[must_use]
    pub fn with_tls(mut self, tls: Option<Arc<crate::tls::BackendTls>>) -> Self {
        self.2 = tls;
        self
    }

    /// TLS for TCP connections, when on.
    #[must_use]
    pub fn tls(&self) -> Option<&Arc<crate::tls::BackendTls>> {
        self.2.as_ref()
    }

    /// The encoded commands, in order.
    #[must_use]
    pub fn commands(&self) -> &[Bytes] {
        &self.0
    }

    /// The connection must authenticate first.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Prelude {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Prelude(<{} commands, redacted>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_then_select_and_redacted() {
        let p = Prelude::new(Some("app"), Some("s3cret"), 2);
        let all: Vec<u8> = p.commands().iter().flat_map(|c| c.to_vec()).collect();
        assert_eq!(
            all,
            b"*3\r\n$4\r\nAUTH\r\n$3\r\napp\r\n$6\r\ns3cret\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n"
        );
        assert!(!format!("{p:?}").contains("s3cret"));
        assert!(Prelude::new(None, None, 0).is_empty());
    }
}
