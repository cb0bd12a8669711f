//! TLS with rustls (ring provider): the client-facing acceptor
//! ([`ClientTls`]) and the backend connector ([`BackendTls`]), both built
//! once from PEM files when the settings are validated.
//!
//! Invariants:
//! - Certificates and keys are read once, at validation; an unreadable or
//!   empty file is a configuration error naming the key and the file, so a
//!   running proxy never touches the files again.
//! - The process-wide rustls default provider is never installed: every
//!   config is built with an explicit provider, so embedding Slotway next to
//!   other rustls users cannot conflict.
//! - Backend verification name: `cluster.tls_server_name` when set, else the
//!   host part of each node address (an IP address is checked against the
//!   certificate's IP SANs, a name against its DNS SANs).

use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::error::ConfigError;

/// Whether TLS clients must present a certificate signed by `tls.ca_file`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// No client certificate asked for.
    #[default]
    None,
    /// Asked for; a client without one is served, one with a bad one is not.
    Optional,
    /// A client without a valid certificate is refused at the handshake.
    Required,
}

/// The client side, ready to accept: where, with what, how long.
#[derive(Clone)]
pub struct ClientTls {
    /// Address of the TLS listener.
    pub listen: std::net::SocketAddr,
    /// The handshake; run in each session's task, never the accept loop.
    pub acceptor: TlsAcceptor,
    /// A client that has not finished its handshake by then is dropped.
    pub handshake_timeout: Duration,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("listen", &self.listen)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// The files of the client side, as configured.
#[derive(Clone, Copy, Debug)]
pub struct ServerFiles<'a> {
    /// Certificate chain (PEM), leaf first.
    pub cert_file: &'a str,
    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: &'a str,
    /// CA bundle client certificates are verified against ("" : none).
    pub ca_file: &'a str,
    /// Whether clients must present a certificate.
    pub client_auth: ClientAuth,
}

/// The rustls server config for the client listener.
///
/// # Errors
/// A file is missing, unreadable or holds no usable PEM item; the key does
/// not match the certificate; client auth without a CA file.
pub fn server_config(files: ServerFiles<'_>) -> Result<Arc<ServerConfig>, ConfigError> {
    let provider = provider();
    let certs = load_certs("tls.cert_file", files.cert_file)?;
    let key = load_key("tls.key_file", files.key_file)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::invalid("tls", e.to_string()))?;
    let builder = match files.client_auth {
        ClientAuth::None if !files.ca_file.is_empty() => {
            return Err(ConfigError::invalid(
                "tls.ca_file",
                "set tls.client_auth to \"optional\" or \"required\" to verify client certificates",
            ));
        }
        ClientAuth::None => builder.with_no_client_auth(),
        auth => {
            if files.ca_file.is_empty() {
                return Err(ConfigError::invalid(
                    "tls.ca_file",
                    "client_auth needs the CA that signs client certificates",
                ));
            }
            let roots = Arc::new(load_roots("tls.ca_file", files.ca_file)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
            let verifier = if auth == ClientAuth::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(
                verifier
                    .build()
                    .map_err(|e| ConfigError::invalid("tls.ca_file", e.to_string()))?,
            )
        }
    };
    let config = builder.with_single_cert(certs, key).map_err(|e| {
        ConfigError::invalid(
            "tls.key_file",
            format!("{}: {e} (with {})", files.key_file, files.cert_file),
        )
    })?;
    Ok(Arc::new(config))
}

/// TLS to the nodes: one connector for every data and control connection.
#[derive(Clone)]
pub struct BackendTls {
    connector: TlsConnector,
    server_name: Option<ServerName<'static>>,
}

impl std::fmt::Debug for BackendTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// The files and names of the backend side, as configured.
#[derive(Clone, Copy, Debug)]
pub struct ClientFiles<'a> {
    /// CA bundle node certificates are verified against.
    pub ca_file: &'a str,
    /// Client certificate for nodes that ask for one ("" : none).
    pub cert_file: &'a str,
    /// Its key.
    pub key_file: &'a str,
    /// Name checked against every node's certificate ("" : each node's host).
    pub server_name: &'a str,
}

impl BackendTls {
    /// Builds the connector.
    ///
    /// # Errors
    /// A file is missing or unusable, a certificate without its key (or the
    /// reverse), or a server name that is neither a DNS name nor an IP.
    pub fn new(files: ClientFiles<'_>) -> Result<Self, ConfigError> {
        if files.ca_file.is_empty() {
            return Err(ConfigError::invalid(
                "cluster.tls_ca_file",
                "TLS to the nodes needs the CA that signs their certificates",
            ));
        }
        let roots = load_roots("cluster.tls_ca_file", files.ca_file)?;
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| ConfigError::invalid("cluster.tls", e.to_string()))?
            .with_root_certificates(roots);
        let config = match (files.cert_file.is_empty(), files.key_file.is_empty()) {
            (true, true) => builder.with_no_client_auth(),
            (false, false) => builder
                .with_client_auth_cert(
                    load_certs("cluster.tls_cert_file", files.cert_file)?,
                    load_key("cluster.tls_key_file", files.key_file)?,
                )
                .map_err(|e| {
                    ConfigError::invalid(
                        "cluster.tls_key_file",
                        format!("{}: {e} (with {})", files.key_file, files.cert_file),
                    )
                })?,
            _ => {
                return Err(ConfigError::invalid(
                    "cluster.tls_cert_file",
                    "tls_cert_file and tls_key_file go together",
                ));
            }
        };
        let server_name = if files.server_name.is_empty() {
            None
        } else {
            Some(
                ServerName::try_from(files.server_name.to_owned()).map_err(|e| {
                    ConfigError::invalid(
                        "cluster.tls_server_name",
                        format!("{:?}: {e}", files.server_name),
                    )
                })?,
            )
        };
        Ok(Self {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    /// The TLS handshake on a connected socket to `addr` (`host:port`).
    ///
    /// # Errors
    /// The handshake failed (bad certificate, wrong name, not TLS), or the
    /// host part of `addr` is not a valid name.
    pub async fn connect(
        &self,
        tcp: TcpStream,
        addr: &str,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let name = match &self.server_name {
            Some(name) => name.clone(),
            None => host_name(addr)?,
        };
        self.connector.connect(name, tcp).await
    }
}

/// The verification name of a `host:port` (brackets of IPv6 removed).
fn host_name(addr: &str) -> std::io::Result<ServerName<'static>> {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("TLS server name {host:?}: {e}"),
        )
    })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load_certs(key: &'static str, path: &str) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let bad = |reason: String| ConfigError::invalid(key, format!("{path}: {reason}"));
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate in the file".to_owned()));
    }
    Ok(certs)
}

fn load_key(key: &'static str, path: &str) -> Result<PrivateKeyDer<'static>, ConfigError> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| ConfigError::invalid(key, format!("{path}: {e}")))
}

fn load_roots(key: &'static str, path: &str) -> Result<RootCertStore, ConfigError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(key, path)? {
        roots
            .add(cert)
            .map_err(|e| ConfigError::invalid(key, format!("{path}: {e}")))?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn host_names_and_ips() {
        assert!(matches!(
            host_name("127.0.0.1:6379").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            host_name("[::1]:6379").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            host_name("redis-1.example:6379").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(host_name("bad name:1").is_err());
    }

    #[test]
    fn missing_files_are_named() {
        let err = server_config(ServerFiles {
            cert_file: "/nonexistent/cert.pem",
            key_file: "/nonexistent/key.pem",
            ca_file: "",
            client_auth: ClientAuth::None,
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("tls.cert_file") && err.contains("/nonexistent/cert.pem"));
        let err = BackendTls::new(ClientFiles {
            ca_file: "/nonexistent/ca.pem",
            cert_file: "",
            key_file: "",
            server_name: "",
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("cluster.tls_ca_file") && err.contains("/nonexistent/ca.pem"));
    }
}
