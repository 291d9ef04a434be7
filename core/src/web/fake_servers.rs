//! In-memory servers for [`crate::testing::FakeNetwork::listen`] in core's
//! own tests: plain HTTP, HTTPS and acme-tls/1 over rustls, and servers that
//! misbehave. Each records what its clients offered.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use rcgen::{CertificateParams, CustomExtension, KeyPair, SanType};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};

use crate::testing::{Server, ServerTask};

/// What one connection's client sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// SNI, for TLS servers.
    pub sni: Option<String>,
    /// ALPN protocols offered, for TLS servers.
    pub alpn: Vec<String>,
    /// The HTTP request head, for HTTP servers.
    pub request: String,
}

/// Where a server records its connections.
pub type Log = Arc<Mutex<Vec<Seen>>>;

/// A certificate and its key.
pub struct Identity {
    pub der: Vec<u8>,
    key: Vec<u8>,
}

/// A self-signed certificate with `sans`, and the acmeIdentifier extension
/// holding `digest` when given.
pub fn identity(sans: Vec<SanType>, digest: Option<&[u8; 32]>) -> Identity {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = sans;
    if let Some(digest) = digest {
        let mut content = vec![0x04, 32];
        content.extend_from_slice(digest);
        let mut extension =
            CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 31], content);
        extension.set_criticality(true);
        params.custom_extensions.push(extension);
    }
    let key = KeyPair::generate().unwrap();
    let der = params.self_signed(&key).unwrap().der().to_vec();
    Identity {
        der,
        key: key.serialize_der(),
    }
}

/// A dNSName SAN.
pub fn dns(name: &str) -> SanType {
    SanType::DnsName(name.try_into().unwrap())
}

fn head(request: &[u8]) -> Option<usize> {
    request.windows(4).position(|w| w == b"\r\n\r\n")
}

async fn read_head<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> String {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while head(&request).is_none() && request.len() < 64 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&request).into_owned()
}

/// `200 OK` with `body` and a Content-Length.
pub fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answers each request with `response`, over plain TCP.
pub fn http(response: Vec<u8>, log: Log) -> Server {
    Arc::new(move |mut stream: DuplexStream| -> ServerTask {
        let (response, log) = (response.clone(), Arc::clone(&log));
        Box::pin(async move {
            let request = read_head(&mut stream).await;
            log.lock().unwrap().push(Seen {
                request,
                ..Seen::default()
            });
            let _ = stream.write_all(&response).await;
            let _ = stream.shutdown().await;
        })
    })
}

/// A rustls server presenting `identity`, choosing from `alpn` (nothing
/// chosen when empty), speaking only `versions`, then answering one HTTP
/// request with `response` when it is given.
pub fn tls(
    identity: &Identity,
    alpn: &[&str],
    versions: &[&'static rustls::SupportedProtocolVersion],
    response: Option<Vec<u8>>,
    log: Log,
) -> Server {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = provider
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            identity.key.clone(),
        )))
        .unwrap();
    // Not `with_single_cert`: it parses the certificate with webpki, which
    // refuses the critical acmeIdentifier extension.
    let certified = CertifiedKey::new(vec![CertificateDer::from(identity.der.clone())], key);
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    let config = Arc::new(config);
    Arc::new(move |stream: DuplexStream| -> ServerTask {
        let (config, response, log) = (Arc::clone(&config), response.clone(), Arc::clone(&log));
        Box::pin(async move {
            let acceptor =
                tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
            let Ok(start) = acceptor.await else { return };
            let hello = start.client_hello();
            let seen = Seen {
                sni: hello.server_name().map(str::to_owned),
                alpn: hello
                    .alpn()
                    .map(|protocols| {
                        protocols
                            .map(|p| String::from_utf8_lossy(p).into_owned())
                            .collect()
                    })
                    .unwrap_or_default(),
                request: String::new(),
            };
            log.lock().unwrap().push(seen);
            let Ok(mut session) = start.into_stream(config).await else {
                return;
            };
            if let Some(response) = response {
                let request = read_head(&mut session).await;
                if let Some(last) = log.lock().unwrap().last_mut() {
                    last.request = request;
                }
                let _ = session.write_all(&response).await;
            }
            let _ = session.shutdown().await;
        })
    })
}

/// Reads what comes, answers `bytes`, closes.
pub fn garbage(bytes: &'static [u8]) -> Server {
    Arc::new(move |mut stream: DuplexStream| -> ServerTask {
        Box::pin(async move {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let _ = stream.write_all(bytes).await;
            let _ = stream.shutdown().await;
        })
    })
}

/// Accepts and never answers.
pub fn silent() -> Server {
    Arc::new(move |mut stream: DuplexStream| -> ServerTask {
        Box::pin(async move {
            let mut buf = [0u8; 4096];
            // Reads until the client goes away; never writes.
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        })
    })
}
