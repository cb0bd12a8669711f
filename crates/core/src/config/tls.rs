//! `[tls]` (TLS for clients) and the `cluster.tls*` keys (TLS to the nodes):
//! the data, and its one-time validation into [`crate::tls`] types — the
//! PEM files are read here, once, at start.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::ClusterConfig;
use crate::error::ConfigError;
use crate::tls::{BackendTls, ClientAuth, ClientFiles, ClientTls, ServerFiles};

/// `[tls]`: a TLS listener for clients, beside the plaintext `proxy.listen`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// `ip:port` of the TLS listener; empty: no TLS for clients.
    pub listen: String,
    /// Server certificate chain (PEM), leaf first.
    pub cert_file: String,
    /// Its private key (PEM).
    pub key_file: String,
    /// CA bundle (PEM) client certificates are verified against.
    pub ca_file: String,
    /// `none`, `optional` or `required`: client certificates.
    pub client_auth: ClientAuth,
    /// A client that has not completed its handshake by then is dropped.
    pub handshake_timeout_ms: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            listen: String::new(),
            cert_file: String::new(),
            key_file: String::new(),
            ca_file: String::new(),
            client_auth: ClientAuth::None,
            handshake_timeout_ms: 10_000,
        }
    }
}

impl TlsConfig {
    /// The client-side TLS, or `None` when `listen` is empty.
    ///
    /// # Errors
    /// A bad address, a missing or unusable file.
    pub(super) fn validate(&self) -> Result<Option<Arc<ClientTls>>, ConfigError> {
        if self.listen.is_empty() {
            return Ok(None);
        }
        let listen = self
            .listen
            .parse()
            .map_err(|_| ConfigError::invalid("tls.listen", "expected ip:port"))?;
        if self.cert_file.is_empty() || self.key_file.is_empty() {
            return Err(ConfigError::invalid(
                "tls.cert_file",
                "a TLS listener needs tls.cert_file and tls.key_file",
            ));
        }
        if self.handshake_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "tls.handshake_timeout_ms",
                "must be at least 1",
            ));
        }
        let config = crate::tls::server_config(ServerFiles {
            cert_file: &self.cert_file,
            key_file: &self.key_file,
            ca_file: &self.ca_file,
            client_auth: self.client_auth,
        })?;
        Ok(Some(Arc::new(ClientTls {
            listen,
            acceptor: config.into(),
            handshake_timeout: Duration::from_millis(self.handshake_timeout_ms),
        })))
    }
}

/// TLS to the nodes from the `cluster.tls*` keys; `None` when `tls` is off.
///
/// # Errors
/// As [`BackendTls::new`]; TLS files given while `cluster.tls` is off.
pub(super) fn backend(c: &ClusterConfig) -> Result<Option<Arc<BackendTls>>, ConfigError> {
    if !c.tls {
        let set = [
            &c.tls_ca_file,
            &c.tls_cert_file,
            &c.tls_key_file,
            &c.tls_server_name,
        ];
        if set.iter().any(|s| !s.is_empty()) {
            return Err(ConfigError::invalid(
                "cluster.tls",
                "tls_* keys are set but cluster.tls is false",
            ));
        }
        return Ok(None);
    }
    BackendTls::new(ClientFiles {
        ca_file: &c.tls_ca_file,
        cert_file: &c.tls_cert_file,
        key_file: &c.tls_key_file,
        server_name: &c.tls_server_name,
    })
    .map(|t| Some(Arc::new(t)))
}
