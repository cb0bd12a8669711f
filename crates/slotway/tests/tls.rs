//! TLS against real processes: a throwaway CA and certificates are made at
//! test time (rcgen), redis-server runs with its TLS port, clients are
//! redis-cli (`--tls`) and a rustls client.
//!
//! - Client side: TLS clients are served on the TLS listener while the
//!   plaintext one keeps working; a plaintext client on the TLS port is
//!   closed without a reply; a client that never handshakes is dropped after
//!   `tls.handshake_timeout_ms` and never holds up others; with
//!   `client_auth = "required"` a client without a certificate is refused.
//! - Backend side: a sharded pool over TLS-only redis-servers that require
//!   client certificates, verified by IP SAN; a wrong verification name
//!   fails requests with an error reply, never a hang or a crash.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::certs::{Certs, certs, s};
use common::{Proxy, bulk, is_ok, text};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use slotway_core::Config;
use slotway_core::pool::{PoolServer, PoolSettings};
use slotway_core::tls::ClientAuth;
use slotway_fixture::{RedisServer, free_port, redis_cli};
use slotway_hashkit::twemproxy::{Distribution, Hash, ServerEntry};

/// A proxy (pool of one plaintext server) with a TLS listener for clients.
fn tls_proxy(backend: &RedisServer, certs: &Certs, auth: ClientAuth) -> Proxy {
    let entry = ServerEntry::parse(&format!("{}:1", backend.addr())).unwrap();
    let pool = PoolSettings::new(
        "alpha",
        vec![PoolServer::from_entry(&entry)],
        Hash::Fnv1a64,
        None,
        Distribution::Ketama,
    )
    .unwrap();
    let mut config = Config::default();
    config.proxy.threads = 2;
    config.tls.listen = "127.0.0.1:0".to_owned();
    config.tls.cert_file = s(&certs.server_cert);
    config.tls.key_file = s(&certs.server_key);
    config.tls.handshake_timeout_ms = 300;
    if auth != ClientAuth::None {
        config.tls.ca_file = s(&certs.ca);
        config.tls.client_auth = auth;
    }
    let mut settings = config.validate_for_pool(pool).unwrap();
    settings.park_timeout = Duration::ZERO;
    Proxy::start_settings(settings)
}

/// A rustls client trusting the test CA, with the client certificate when
/// `with_cert`. Handshake errors surface on first use, as with any client.
fn tls_client(
    addr: SocketAddr,
    certs: &Certs,
    with_cert: bool,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&certs.ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = if with_cert {
        let chain = CertificateDer::pem_file_iter(&certs.client_cert)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_file(&certs.client_key).unwrap();
        builder.with_client_auth_cert(chain, key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// Sends one request and reads up to the end of its first line (or EOF).
fn exchange(stream: &mut impl ReadWrite, request: &[u8]) -> std::io::Result<Vec<u8>> {
    stream.write_all(request)?;
    stream.flush()?;
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    while !out.ends_with(b"\r\n") {
        if stream.read(&mut byte)? == 0 {
            break;
        }
        out.push(byte[0]);
    }
    Ok(out)
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

fn cli(args: &[&str]) -> String {
    let out = redis_cli(args).unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn tls_clients_are_served_and_plaintext_on_the_tls_port_is_refused() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let certs = certs();
    let backend = RedisServer::start().unwrap();
    let proxy = tls_proxy(&backend, &certs, ClientAuth::None);
    let tls_addr = proxy.tls_addr.unwrap();
    let port = tls_addr.port().to_string();
    let ca = s(&certs.ca);
    let tls_cli = |args: &[&str]| {
        let mut all = vec!["--tls", "--cacert", &ca, "-h", "127.0.0.1", "-p", &port];
        all.extend_from_slice(args);
        cli(&all)
    };
    assert_eq!(tls_cli(&["PING"]), "PONG");
    assert_eq!(tls_cli(&["SET", "tls:k", "over-tls"]), "OK");

    // A rustls client reads what redis-cli wrote; the plaintext port is
    // the same proxy.
    let mut client = tls_client(tls_addr, &certs, false);
    assert_eq!(
        exchange(&mut client, b"*2\r\n$3\r\nGET\r\n$5\r\ntls:k\r\n").unwrap(),
        b"$8\r\n"
    );
    let mut plain = proxy.client();
    assert_eq!(text(&plain.cmd(&["GET", "tls:k"])), "over-tls");
    // A large value (answered without a copy in the proxy: its own slice
    // in a vectored write) crosses the client's TLS intact.
    let big: String = (0..60_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    assert_eq!(tls_cli(&["SET", "tls:big", &big]), "OK");
    // (Under the 128 KiB limit of one program argument.)
    assert!(
        tls_cli(&["GET", "tls:big"]) == big,
        "60 kB value changed over TLS"
    );

    // A client that never handshakes is dropped after the handshake
    // timeout, and others are served meanwhile.
    let mut silent = TcpStream::connect(tls_addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut other = tls_client(tls_addr, &certs, false);
    assert_eq!(exchange(&mut other, PING).unwrap(), b"+PONG\r\n");
    let started = Instant::now();
    let mut buf = [0u8; 16];
    assert_eq!(silent.read(&mut buf).unwrap(), 0, "silent client closed");
    assert!(started.elapsed() < Duration::from_secs(10));

    // Plaintext on the TLS port: never a Redis reply, the connection ends.
    let mut wrong = TcpStream::connect(tls_addr).unwrap();
    wrong
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    wrong.write_all(PING).unwrap();
    let mut got = Vec::new();
    let _ = wrong.read_to_end(&mut got);
    assert!(!got.starts_with(b"+"), "plaintext got a reply: {got:?}");

    // The proxy is unharmed.
    assert_eq!(tls_cli(&["PING"]), "PONG");
    assert!(is_ok(&plain.cmd(&["SET", "plain:k", "v"])));
}

#[test]
fn required_client_certificates_refuse_clients_without_one() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let certs = certs();
    let backend = RedisServer::start().unwrap();
    let proxy = tls_proxy(&backend, &certs, ClientAuth::Required);
    let tls_addr = proxy.tls_addr.unwrap();

    let mut anonymous = tls_client(tls_addr, &certs, false);
    let refused = exchange(&mut anonymous, PING);
    assert!(
        !matches!(&refused, Ok(r) if r.starts_with(b"+PONG")),
        "a client without a certificate was served: {refused:?}"
    );

    let mut known = tls_client(tls_addr, &certs, true);
    assert_eq!(exchange(&mut known, PING).unwrap(), b"+PONG\r\n");
    let (ca, cert, key) = (s(&certs.ca), s(&certs.client_cert), s(&certs.client_key));
    let port = tls_addr.port().to_string();
    let with_cert = cli(&[
        "--tls",
        "--cacert",
        &ca,
        "--cert",
        &cert,
        "--key",
        &key,
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "PING",
    ]);
    assert_eq!(with_cert, "PONG");
}

/// A redis-server whose TLS port requires client certificates (its
/// plaintext port stays, only for the fixture's readiness check and for
/// looking at the data).
fn tls_server(certs: &Certs) -> (RedisServer, u16) {
    let tls_port = free_port();
    let port = tls_port.to_string();
    let (cert, key, ca) = (s(&certs.server_cert), s(&certs.server_key), s(&certs.ca));
    let server = RedisServer::start_with(&[
        "--tls-port",
        &port,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
        "--tls-auth-clients",
        "yes",
    ])
    .unwrap();
    (server, tls_port)
}

fn tls_pool_proxy(certs: &Certs, ports: &[u16], server_name: &str) -> Proxy {
    let servers = ports
        .iter()
        .map(|p| PoolServer::from_entry(&ServerEntry::parse(&format!("127.0.0.1:{p}:1")).unwrap()))
        .collect();
    let pool =
        PoolSettings::new("alpha", servers, Hash::Murmur, None, Distribution::Modula).unwrap();
    let mut config = Config::default();
    config.proxy.threads = 2;
    config.cluster.tls = true;
    config.cluster.tls_ca_file = s(&certs.ca);
    config.cluster.tls_cert_file = s(&certs.client_cert);
    config.cluster.tls_key_file = s(&certs.client_key);
    config.cluster.tls_server_name = server_name.to_owned();
    config.cluster.connect_timeout_ms = 2_000;
    let mut settings = config.validate_for_pool(pool).unwrap();
    settings.park_timeout = Duration::ZERO;
    Proxy::start_settings(settings)
}

#[test]
fn pool_servers_over_tls_with_client_certificates() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let certs = certs();
    let (a, a_tls) = tls_server(&certs);
    let (b, b_tls) = tls_server(&certs);
    let proxy = tls_pool_proxy(&certs, &[a_tls, b_tls], "");
    let mut client = proxy.client();
    for i in 0..40 {
        let reply = client.cmd(&["SET", &format!("key:{i}"), "v"]);
        assert!(is_ok(&reply), "SET key:{i}: {reply:?}");
    }
    assert_eq!(text(&client.cmd(&["GET", "key:7"])), "v");
    // Every key reached one of the servers, over TLS (their plaintext ports
    // are only used here, to count).
    let count = |server: &RedisServer| -> usize {
        cli(&["-p", &server.port().to_string(), "DBSIZE"])
            .parse()
            .unwrap()
    };
    let (in_a, in_b) = (count(&a), count(&b));
    assert_eq!(in_a + in_b, 40);
    assert!(in_a > 0 && in_b > 0, "keys spread: {in_a} / {in_b}");
    // Large values, pipelined: requests and replies of 1 KiB and more go
    // through the proxy as their own slices of vectored writes, here into
    // and out of TLS.
    let big: Vec<Vec<u8>> = (0..6usize)
        .map(|i| {
            (0..3000 + i * 40_000)
                .map(|j| ((i + j) % 251) as u8)
                .collect()
        })
        .collect();
    for (i, v) in big.iter().enumerate() {
        client.send_cmd(&[b"SET".as_slice(), format!("big:{i}").as_bytes(), v]);
    }
    for i in 0..big.len() {
        assert!(is_ok(&client.read()), "SET big:{i}");
    }
    for i in 0..big.len() {
        client.send_cmd(&["GET", &format!("big:{i}")]);
    }
    for (i, v) in big.iter().enumerate() {
        assert_eq!(&bulk(&client.read()), v, "GET big:{i}");
    }
}

#[test]
fn a_wrong_backend_name_fails_requests_cleanly() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let certs = certs();
    let (_a, a_tls) = tls_server(&certs);
    let proxy = tls_pool_proxy(&certs, &[a_tls], "not-the-server.example");
    let mut client = proxy.client();
    let reply = client.cmd(&["SET", "k", "v"]);
    assert!(
        matches!(reply, slotway_resp::Value::Error(_)),
        "expected an error reply, got {reply:?}"
    );
    // The session stays up: the next request gets its own answer.
    let again = client.cmd(&["GET", "k"]);
    assert!(
        matches!(again, slotway_resp::Value::Error(_)),
        "expected an error reply, got {again:?}"
    );
}
