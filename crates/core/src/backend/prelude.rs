//! [`Prelude`]: what every new backend connection does before anything
//! else — its socket options (TCP keepalive), TLS, and the commands it sends
//! first (`AUTH` with the backend credentials, `SELECT` of a pool's
//! database), encoded once when the settings are validated.
//!
//! A prelude may carry a *client's* credentials instead of the proxy's
//! ([`Prelude::as_client`], credential pass-through): such a prelude is
//! strict — a node that refuses its AUTH (its first command) gets its
//! connection closed rather than used, because the connection would otherwise run as the node's
//! `default` user, which may have more rights than the client.
//!
//! Invariant: the credentials never leave this type in readable form: its
//! `Debug` shows only how many commands it holds, so settings, nodes and
//! connections can be printed and logged safely.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

/// Encoded commands sent first on every backend connection.
#[derive(Clone, Default)]
pub struct Prelude {
    cmds: Arc<[Bytes]>,
    keepalive: bool,
    tls: Option<Arc<crate::tls::BackendTls>>,
    /// The first command is `AUTH`.
    auth: bool,
    /// A refused handshake command closes the connection.
    strict: bool,
}

/// `AUTH [user] password`, encoded.
fn auth_command(user: Option<&[u8]>, pass: &[u8]) -> Bytes {
    let mut buf = BytesMut::new();
    let mut args: Vec<&[u8]> = vec![b"AUTH".as_slice()];
    args.extend(user);
    args.push(pass);
    slotway_resp::encode::command(&mut buf, &args);
    buf.freeze()
}

impl Prelude {
    /// `AUTH [user] password` when a password is set, then `SELECT db` when
    /// `db` is not 0.
    #[must_use]
    pub fn new(user: Option<&str>, password: Option<&str>, db: u32) -> Self {
        let mut cmds = Vec::new();
        if let Some(pass) = password {
            cmds.push(auth_command(user.map(str::as_bytes), pass.as_bytes()));
        }
        if db != 0 {
            let mut buf = BytesMut::new();
            slotway_resp::encode::command(
                &mut buf,
                &[b"SELECT".to_vec(), db.to_string().into_bytes()],
            );
            cmds.push(buf.freeze());
        }
        Self {
            cmds: cmds.into(),
            keepalive: false,
            tls: None,
            auth: password.is_some(),
            strict: false,
        }
    }

    /// This prelude with a client's `AUTH [user] pass` in place of the
    /// proxy's own (the rest — SELECT, TLS, keepalive — kept), strict.
    #[must_use]
    pub fn as_client(&self, user: Option<&[u8]>, pass: &[u8]) -> Self {
        let own = usize::from(self.auth);
        let mut cmds = vec![auth_command(user, pass)];
        cmds.extend(self.cmds.iter().skip(own).cloned());
        Self {
            cmds: cmds.into(),
            keepalive: self.keepalive,
            tls: self.tls.clone(),
            auth: true,
            strict: true,
        }
    }

    /// Whether `AUTH [user] pass` names the identity this prelude
    /// authenticates as (`default` when it sends no AUTH: then only the
    /// user name counts, as the node's `default` user needs no password).
    #[must_use]
    pub fn is_identity(&self, user: Option<&[u8]>, pass: &[u8]) -> bool {
        let user = user.filter(|u| *u != b"default");
        let Some(own) = self.cmds.first().filter(|_| self.auth) else {
            return user.is_none();
        };
        // The proxy's `default` user may be spelled either way.
        *own == auth_command(user, pass)
            || (user.is_none() && *own == auth_command(Some(b"default".as_slice()), pass))
    }

    /// Whether it authenticates (sends AUTH).
    #[must_use]
    pub fn authenticates(&self) -> bool {
        self.auth
    }

    /// Whether a refused handshake command must close the connection.
    #[must_use]
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// With SO_KEEPALIVE on TCP connections (nutcracker's `tcpkeepalive`).
    #[must_use]
    pub fn with_keepalive(mut self, on: bool) -> Self {
        self.keepalive = on;
        self
    }

    /// Whether TCP connections get SO_KEEPALIVE.
    #[must_use]
    pub fn keepalive(&self) -> bool {
        self.keepalive
    }

    /// With TLS on every TCP connection (`cluster.tls`).
    #[must_use]
    pub fn with_tls(mut self, tls: Option<Arc<crate::tls::BackendTls>>) -> Self {
        self.tls = tls;
        self
    }

    /// TLS for TCP connections, when on.
    #[must_use]
    pub fn tls(&self) -> Option<&Arc<crate::tls::BackendTls>> {
        self.tls.as_ref()
    }

    /// The encoded commands, in order.
    #[must_use]
    pub fn commands(&self) -> &[Bytes] {
        &self.cmds
    }

    /// The connection must authenticate first.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }
}

/// A client's own backend credentials (credential pass-through): what its
/// connections authenticate with instead of the proxy's. Redacted `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    user: Option<Bytes>,
    pass: Bytes,
}

impl Credentials {
    /// `AUTH [user] pass` as the client sent it.
    #[must_use]
    pub fn new(user: Option<Bytes>, pass: Bytes) -> Self {
        Self { user, pass }
    }

    /// The user name, when given.
    #[must_use]
    pub fn user(&self) -> Option<&[u8]> {
        self.user.as_deref()
    }

    /// The password.
    #[must_use]
    pub fn pass(&self) -> &[u8] {
        &self.pass
    }

    /// `prelude` authenticating with these credentials instead.
    #[must_use]
    pub fn prelude(&self, prelude: &Prelude) -> Prelude {
        prelude.as_client(self.user(), self.pass())
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

impl std::fmt::Debug for Prelude {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Prelude(<{} commands, redacted>)", self.cmds.len())
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

    #[test]
    fn client_credentials_replace_the_proxys() {
        let p = Prelude::new(None, Some("adminpw"), 2);
        assert!(p.is_identity(None, b"adminpw"));
        assert!(p.is_identity(Some(b"default".as_slice()), b"adminpw"));
        assert!(!p.is_identity(Some(b"ro".as_slice()), b"adminpw"));
        assert!(!p.is_identity(None, b"other"));
        let c = p.as_client(Some(b"ro".as_slice()), b"ropw");
        assert!(c.is_strict() && !p.is_strict());
        let all: Vec<u8> = c.commands().iter().flat_map(|c| c.to_vec()).collect();
        assert_eq!(
            all,
            b"*3\r\n$4\r\nAUTH\r\n$2\r\nro\r\n$4\r\nropw\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n"
        );
        assert!(c.is_identity(Some(b"ro".as_slice()), b"ropw"));
        let open = Prelude::new(None, None, 0);
        assert!(
            open.is_identity(Some(b"default".as_slice()), b"x")
                && !open.is_identity(Some(b"ro".as_slice()), b"x")
        );
        assert_eq!(open.as_client(None, b"x").commands().len(), 1);
    }
}
