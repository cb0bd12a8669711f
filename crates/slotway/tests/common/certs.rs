//! Throwaway certificates for TLS tests (rcgen): a CA, a server
//! certificate for localhost and 127.0.0.1, a client certificate, and a
//! cluster node certificate (server and client usage: Redis nodes present
//! it to each other on a TLS cluster bus), as PEM files in a temporary
//! directory that lives as long as [`Certs`].

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// The PEM files; the directory goes when this is dropped.
pub struct Certs {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// For cluster nodes: server and client usage, 127.0.0.1.
    pub node_cert: PathBuf,
    pub node_key: PathBuf,
}

/// A path as the `String` configuration keys take.
pub fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// Makes a fresh CA and its certificates.
pub fn certs() -> Certs {
    let dir = tempfile::tempdir().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "slotway test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let write = |name: &str, pem: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path
    };
    let leaf = |names: &[&str], usage: &[ExtendedKeyUsagePurpose], stem: &str| {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("slotway test {stem}"));
        params.extended_key_usages = usage.to_vec();
        let cert = params.signed_by(&key, &*ca).unwrap();
        (
            write(&format!("{stem}.crt"), &cert.pem()),
            write(&format!("{stem}.key"), &key.serialize_pem()),
        )
    };
    let (server_cert, server_key) = leaf(
        &["localhost", "127.0.0.1"],
        &[ExtendedKeyUsagePurpose::ServerAuth],
        "server",
    );
    let (client_cert, client_key) = leaf(
        &["client"],
        &[ExtendedKeyUsagePurpose::ClientAuth],
        "client",
    );
    let (node_cert, node_key) = leaf(
        &["localhost", "127.0.0.1"],
        &[
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
        "node",
    );
    let ca = write("ca.crt", &ca.pem());
    Certs {
        dir,
        ca,
        server_cert,
        server_key,
        client_cert,
        client_key,
        node_cert,
        node_key,
    }
}
