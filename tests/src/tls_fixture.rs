//! A loopback TLS server for `acme-tls-alpn-01` and https end-to-end tests,
//! doing at run time whatever a test sets with
//! [`TlsServer::set_behaviour`].
//!
//! The http fixture cannot speak TLS and the hostile TCP server cannot
//! complete a handshake, yet a tls-alpn-01 check is only as good as what it
//! does with the handshake: the certificate it is shown (RFC 8737 3), the
//! protocol the server picks, a server that speaks only TLS 1.0, answers
//! bytes that are not TLS, resets, drips or hangs. An http-01 redirect to
//! `https://` needs a real TLS server at the end of it, too. This server is
//! all of those, on loopback addresses only (127.0.0.0/8 and `::1`).
//!
//! Every connection first has its ClientHello read (by rustls, at most
//! [`CLIENT_HELLO_TIMEOUT`]) and recorded ([`TlsServer::seen`]: peer, SNI,
//! ALPN protocols offered), whatever the behaviour; then the behaviour
//! current at accept time runs. Bytes that are not a ClientHello get rustls'
//! alert and a close. As [`HttpServer::start_group`] does, one port can be
//! shared by servers on several loopback addresses
//! ([`TlsServer::start_group`]), so that each perspective's DNS view picks the
//! honest or the attacker's server.
//!
//! A client of the acme-tls-alpn behaviours cannot lean on webpki for
//! anything about the certificate, not even the handshake signature
//! (`rustls::crypto::verify_tls13_signature`): webpki refuses to parse a
//! certificate with a critical extension it does not know, which
//! RFC 8737's acmeIdentifier is. Take the key out of the certificate with
//! another parser and use `verify_tls13_signature_with_raw_key`, as this
//! fixture's own tests do. (The server side avoids webpki the same way.)
//!
//! Bounded: at most [`MAX_CONNECTIONS`] connections at once (more are closed
//! as soon as accepted), each lives at most [`MAX_CONNECTION_LIFE`], and
//! dropping the server closes its port and every connection.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mpic_tests::tls_fixture::TlsFixtureError> {
//! use std::net::Ipv4Addr;
//! use mpic_tests::tls_fixture::{TlsAlpnCertificate, TlsBehaviour, TlsServer};
//! let certificate = TlsAlpnCertificate::valid("victim.example", "token.thumbprint")?;
//! let server =
//!     TlsServer::start_on(Ipv4Addr::LOCALHOST, 0, TlsBehaviour::acme_tls_alpn(certificate)).await?;
//! // A handshake with 127.0.0.1:PORT offering acme-tls/1 now gets the certificate.
//! server.set_behaviour(TlsBehaviour::Tls10Only)?;
//! # Ok(()) }
//! ```
//!
//! [`HttpServer::start_group`]: crate::http_fixture::HttpServer::start_group

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use rcgen::{CertificateParams, CustomExtension, KeyPair, SanType};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{Acceptor, ClientHello};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Sleep;
use tokio_rustls::LazyConfigAcceptor;
use tower_service::Service;

use crate::http_fixture::SeenRequest;
use crate::loopback_server::{STOP_GRACE, StopSignal, StopSwitch, stop_pair};

/// The ALPN protocol of `acme-tls-alpn-01` (RFC 8737 6.2).
pub const ACME_TLS_1: &[u8] = b"acme-tls/1";
/// The ALPN protocol of HTTP/1.1 (RFC 7301 6).
pub const HTTP_1_1: &[u8] = b"http/1.1";
/// `id-pe-acmeIdentifier` (RFC 8737 6.1), as rcgen takes an OID.
pub const ACME_IDENTIFIER_OID: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 31];
/// What [`TlsBehaviour::Garbage`] answers a ClientHello with: a plain HTTP
/// server's answer, as when a TLS port is really an HTTP one.
pub const GARBAGE: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
/// The cipher suite [`TlsBehaviour::Tls10Only`] picks:
/// TLS_RSA_WITH_AES_128_CBC_SHA.
pub const TLS10_CIPHER_SUITE: u16 = 0x002f;

/// Longest wait for a connection's ClientHello; then it is closed.
pub const CLIENT_HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a connection lives (a drip, a hold or a kept-alive HTTPS
/// connection included).
pub const MAX_CONNECTION_LIFE: Duration = Duration::from_secs(120);
/// How long [`TlsBehaviour::Hang`] holds a connection, unless the server
/// stops first.
pub const MAX_HOLD: Duration = Duration::from_secs(60);
/// Most connections open at once; more are closed as soon as accepted.
pub const MAX_CONNECTIONS: usize = 256;
/// Most ClientHellos and most HTTP requests remembered (counts go on).
pub const MAX_LOGGED: usize = 10_000;
/// How long a [`TlsBehaviour::Tls10Only`] connection waits for the client's
/// answer (its alert and close) after the server's flight.
const TLS10_ANSWER_WAIT: Duration = Duration::from_secs(5);
/// Attempts to find a port free on every address of a group.
const GROUP_ATTEMPTS: usize = 16;
/// Most bytes in one TLS record's fragment (RFC 5246 6.2.1).
const MAX_FRAGMENT: usize = 1 << 14;

/// Something the fixture cannot build or serve.
#[derive(Debug, thiserror::Error)]
pub enum TlsFixtureError {
    #[error("{0} is not a loopback address")]
    NotLoopback(IpAddr),
    #[error("{0:?} is neither a DNS name nor an IP address")]
    InvalidName(String),
    #[error("building a certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("configuring rustls: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("{0} is not an HTTP status code")]
    InvalidStatus(u16),
    #[error("{0:?} cannot be a header value")]
    InvalidHeader(String),
    #[error("path {0:?} does not start with /")]
    BadPath(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// SHA-256 of the key authorization: what the acmeIdentifier extension
/// holds (RFC 8737 3).
pub fn key_authorization_digest(key_authorization: &str) -> [u8; 32] {
    Sha256::digest(key_authorization.as_bytes()).into()
}

/// `bytes` as a DER OCTET STRING.
pub fn der_octet_string(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    let len = bytes.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0x7f));
    } else {
        let be = len.to_be_bytes();
        let skip = be.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | u8::try_from(be.len() - skip).unwrap_or(0));
        out.extend_from_slice(&be[skip..]);
    }
    out.extend_from_slice(bytes);
    out
}

/// A subjectAltName entry for `identifier`: an iPAddress if it parses as
/// one, otherwise a dNSName.
pub fn subject_alt_name(identifier: &str) -> Result<SanType, TlsFixtureError> {
    if let Ok(ip) = identifier.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let name = identifier
        .try_into()
        .map_err(|_| TlsFixtureError::InvalidName(identifier.to_owned()))?;
    Ok(SanType::DnsName(name))
}

/// A self-signed certificate (ECDSA P-256, made by rcgen) and its key.
#[derive(Clone)]
pub struct ServerCertificate {
    der: CertificateDer<'static>,
    key_pkcs8: Arc<[u8]>,
}

impl ServerCertificate {
    /// A certificate whose subjectAltName is `identifier` (a DNS name or an
    /// IP address): what an https server for that host presents.
    pub fn self_signed(identifier: &str) -> Result<Self, TlsFixtureError> {
        let mut params = CertificateParams::default();
        params.subject_alt_names = vec![subject_alt_name(identifier)?];
        Self::from_params(&params)
    }

    /// A certificate made from `params` with a fresh key.
    pub fn from_params(params: &CertificateParams) -> Result<Self, TlsFixtureError> {
        let key = KeyPair::generate()?;
        let certificate = params.self_signed(&key)?;
        Ok(Self {
            der: certificate.der().clone(),
            key_pkcs8: key.serialize_der().into(),
        })
    }

    /// The certificate's DER bytes, as the server sends them.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8.to_vec()))
    }
}

impl fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerCertificate")
            .field("der_bytes", &self.der.len())
            .finish_non_exhaustive()
    }
}

/// The acmeIdentifier extension as a certificate carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeIdentifier {
    /// The extension value (extnValue's content): RFC 8737 wants the DER
    /// OCTET STRING of the 32-byte digest.
    pub value: Vec<u8>,
    pub critical: bool,
}

impl AcmeIdentifier {
    /// The extension RFC 8737 asks for: critical, the DER OCTET STRING of
    /// SHA-256(`key_authorization`).
    pub fn for_key_authorization(key_authorization: &str) -> Self {
        Self {
            value: der_octet_string(&key_authorization_digest(key_authorization)),
            critical: true,
        }
    }
}

/// A self-signed certificate for `acme-tls-alpn-01` (RFC 8737 3; RFC 8738 6
/// for IP addresses), right or wrong in one chosen way.
#[derive(Debug, Clone)]
pub struct TlsAlpnCertificate {
    certificate: ServerCertificate,
    acme_identifier: Option<AcmeIdentifier>,
}

impl TlsAlpnCertificate {
    /// Any subjectAltNames, with or without an acmeIdentifier extension:
    /// the constructors below are this with one thing wrong at most.
    pub fn build(
        subject_alt_names: Vec<SanType>,
        acme_identifier: Option<AcmeIdentifier>,
    ) -> Result<Self, TlsFixtureError> {
        let mut params = CertificateParams::default();
        params.subject_alt_names = subject_alt_names;
        if let Some(extension) = &acme_identifier {
            let mut custom =
                CustomExtension::from_oid_content(ACME_IDENTIFIER_OID, extension.value.clone());
            custom.set_criticality(extension.critical);
            params.custom_extensions.push(custom);
        }
        Ok(Self {
            certificate: ServerCertificate::from_params(&params)?,
            acme_identifier,
        })
    }

    /// The certificate that proves control of `identifier` (a DNS name, or
    /// an IP address as an iPAddress name): its one subjectAltName, and the
    /// critical extension with the digest of `key_authorization`.
    pub fn valid(identifier: &str, key_authorization: &str) -> Result<Self, TlsFixtureError> {
        Self::build(
            vec![subject_alt_name(identifier)?],
            Some(AcmeIdentifier::for_key_authorization(key_authorization)),
        )
    }

    /// [`TlsAlpnCertificate::valid`] for an IP address identifier: the one
    /// subjectAltName is the iPAddress `ip` (RFC 8738 6).
    pub fn for_ip(ip: IpAddr, key_authorization: &str) -> Result<Self, TlsFixtureError> {
        Self::build(
            vec![SanType::IpAddress(ip)],
            Some(AcmeIdentifier::for_key_authorization(key_authorization)),
        )
    }

    /// Valid but for the digest: SHA-256(`key_authorization`) with its last
    /// bit flipped (as close to right as a digest can be).
    pub fn digest_mismatch(
        identifier: &str,
        key_authorization: &str,
    ) -> Result<Self, TlsFixtureError> {
        let mut digest = key_authorization_digest(key_authorization);
        digest[31] ^= 1;
        Self::build(
            vec![subject_alt_name(identifier)?],
            Some(AcmeIdentifier {
                value: der_octet_string(&digest),
                critical: true,
            }),
        )
    }

    /// Valid but for the extension not being marked critical.
    pub fn non_critical_extension(
        identifier: &str,
        key_authorization: &str,
    ) -> Result<Self, TlsFixtureError> {
        let mut extension = AcmeIdentifier::for_key_authorization(key_authorization);
        extension.critical = false;
        Self::build(vec![subject_alt_name(identifier)?], Some(extension))
    }

    /// The right subjectAltName and no acmeIdentifier extension: an
    /// ordinary certificate for the name.
    pub fn missing_extension(identifier: &str) -> Result<Self, TlsFixtureError> {
        Self::build(vec![subject_alt_name(identifier)?], None)
    }

    /// Valid but for a second subjectAltName, `second`, after `identifier`
    /// (RFC 8737 wants exactly one).
    pub fn two_sans(
        identifier: &str,
        second: &str,
        key_authorization: &str,
    ) -> Result<Self, TlsFixtureError> {
        Self::build(
            vec![subject_alt_name(identifier)?, subject_alt_name(second)?],
            Some(AcmeIdentifier::for_key_authorization(key_authorization)),
        )
    }

    /// A certificate for `other`, not the identifier under validation, with
    /// the right digest: the same as `valid(other, ..)`, named for what a
    /// test means by it.
    pub fn other_name(other: &str, key_authorization: &str) -> Result<Self, TlsFixtureError> {
        Self::valid(other, key_authorization)
    }

    /// The certificate's DER bytes, as the server sends them.
    pub fn der(&self) -> &CertificateDer<'static> {
        self.certificate.der()
    }

    /// The acmeIdentifier extension built into it, if any.
    pub fn acme_identifier(&self) -> Option<&AcmeIdentifier> {
        self.acme_identifier.as_ref()
    }

    /// The certificate and its key.
    pub fn server_certificate(&self) -> &ServerCertificate {
        &self.certificate
    }
}

/// What an [`TlsBehaviour::AcmeTlsAlpn`] server does with ALPN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    /// Supports `acme-tls/1` only (RFC 8737 as written): selects it when
    /// offered; a client offering other protocols only gets a
    /// `no_application_protocol` alert; a client offering none gets no ALPN.
    AcmeTls1,
    /// Supports no ALPN protocol: whatever the client offers, the handshake
    /// completes with no protocol negotiated (an ordinary web server).
    None,
    /// Supports `http/1.1` only. rustls (as RFC 7301 3.2 says) never selects
    /// a protocol the client did not offer, so a client offering only
    /// `acme-tls/1` gets a fatal `no_application_protocol` alert (120) in
    /// place of the ServerHello; a client offering `http/1.1` as well gets
    /// `http/1.1` selected.
    Http11Only,
}

impl Alpn {
    fn protocols(self) -> Vec<Vec<u8>> {
        match self {
            Alpn::AcmeTls1 => vec![ACME_TLS_1.to_vec()],
            Alpn::None => Vec::new(),
            Alpn::Http11Only => vec![HTTP_1_1.to_vec()],
        }
    }
}

/// One fixed HTTP response for [`TlsBehaviour::HttpsPages`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub status: u16,
    pub content_type: Option<String>,
    /// A `Location` header, for redirects.
    pub location: Option<String>,
    pub body: Vec<u8>,
}

impl Page {
    /// 200, `text/plain`, `body`.
    pub fn body(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            content_type: Some("text/plain".into()),
            location: None,
            body: body.into(),
        }
    }

    /// `status` (301, 302, 307, 308, ...) to `location`, no body.
    pub fn redirect(status: u16, location: impl Into<String>) -> Self {
        Self {
            status,
            content_type: None,
            location: Some(location.into()),
            body: Vec::new(),
        }
    }

    fn check(&self) -> Result<(), TlsFixtureError> {
        StatusCode::from_u16(self.status)
            .map_err(|_| TlsFixtureError::InvalidStatus(self.status))?;
        for value in [&self.content_type, &self.location].into_iter().flatten() {
            HeaderValue::from_str(value)
                .map_err(|_| TlsFixtureError::InvalidHeader(value.clone()))?;
        }
        Ok(())
    }
}

/// What the server does with each new connection, once it has read and
/// recorded the ClientHello.
#[derive(Debug, Clone)]
pub enum TlsBehaviour {
    /// A TLS 1.2 and 1.3 handshake (rustls, ring) presenting `certificate`
    /// whatever the SNI, ALPN as `alpn` says; once it is complete the server
    /// sends close_notify and closes, as RFC 8737 3 has it.
    AcmeTlsAlpn {
        certificate: TlsAlpnCertificate,
        alpn: Alpn,
    },
    /// [`TlsBehaviour::AcmeTlsAlpn`] with [`Alpn::AcmeTls1`], every byte the
    /// server writes sent on its own, `interval` after the one before: a
    /// valid handshake that takes a few hundred intervals (a flight is about
    /// a kilobyte; cut off at [`MAX_CONNECTION_LIFE`]). A zero interval
    /// sends one byte per write, without pauses.
    Drip {
        certificate: TlsAlpnCertificate,
        interval: Duration,
    },
    /// A server that knows only TLS 1.0 and nothing newer, like a legacy
    /// stack that has never heard of the supported_versions extension: it
    /// ignores that extension and, as RFC 2246 E.1 and RFC 5246 E.1 say,
    /// answers a ClientHello whose version is higher than its own in its
    /// own version. It sends, as one flight in records of version 0x0301: a
    /// ServerHello of version 0x0301 (a fresh random, an empty session id,
    /// [`TLS10_CIPHER_SUITE`], null compression, no extensions), a
    /// Certificate (a self-signed ECDSA one; a client stops reading before
    /// it), and ServerHelloDone. Then it waits (at most a few seconds) for
    /// the client's `protocol_version` alert and close. The suite is picked
    /// whether or not offered: most clients offer it, and a client offering
    /// no TLS 1.0 suite (rustls) must still reject the version first. (A
    /// modern stack merely configured for TLS 1.0 sends a `protocol_version`
    /// alert instead; that case is just "the handshake fails".)
    Tls10Only,
    /// Answers the ClientHello with [`GARBAGE`] (not TLS), then closes
    /// (FIN).
    Garbage,
    /// Reads the ClientHello, then closes with a TCP reset (`SO_LINGER` 0)
    /// without a byte.
    Reset,
    /// Reads the ClientHello, then sends nothing until [`MAX_HOLD`] passes
    /// or the server stops; then closes (FIN).
    Hang,
    /// An https server: TLS 1.2 and 1.3 presenting `certificate`, ALPN
    /// `http/1.1` (a client offering only other protocols gets a
    /// `no_application_protocol` alert), serving HTTP/1.1 with `pages`
    /// (exact path, query ignored; 404 otherwise). Requests are recorded
    /// ([`TlsServer::requests`]).
    HttpsPages {
        certificate: ServerCertificate,
        pages: BTreeMap<String, Page>,
    },
    /// [`TlsBehaviour::HttpsPages`] serving any axum `router` (the state
    /// already given). Requests are recorded just the same.
    HttpsRouter {
        certificate: ServerCertificate,
        router: Router,
    },
}

impl TlsBehaviour {
    /// [`TlsBehaviour::AcmeTlsAlpn`] as RFC 8737 has it: ALPN
    /// `acme-tls/1` only.
    pub fn acme_tls_alpn(certificate: TlsAlpnCertificate) -> Self {
        TlsBehaviour::AcmeTlsAlpn {
            certificate,
            alpn: Alpn::AcmeTls1,
        }
    }

    /// [`TlsBehaviour::HttpsPages`] with a fresh self-signed certificate
    /// for `host` (a DNS name or an IP address).
    pub fn https_pages<P: Into<String>>(
        host: &str,
        pages: impl IntoIterator<Item = (P, Page)>,
    ) -> Result<Self, TlsFixtureError> {
        Ok(TlsBehaviour::HttpsPages {
            certificate: ServerCertificate::self_signed(host)?,
            pages: pages
                .into_iter()
                .map(|(path, page)| (path.into(), page))
                .collect(),
        })
    }

    /// The lower-case name of the variant.
    pub fn name(&self) -> &'static str {
        match self {
            TlsBehaviour::AcmeTlsAlpn { .. } => "acme_tls_alpn",
            TlsBehaviour::Drip { .. } => "drip",
            TlsBehaviour::Tls10Only => "tls10_only",
            TlsBehaviour::Garbage => "garbage",
            TlsBehaviour::Reset => "reset",
            TlsBehaviour::Hang => "hang",
            TlsBehaviour::HttpsPages { .. } => "https_pages",
            TlsBehaviour::HttpsRouter { .. } => "https_router",
        }
    }

    /// What a connection does, built (and checked) once, when the behaviour
    /// is set.
    fn plan(&self) -> Result<Plan, TlsFixtureError> {
        Ok(match self {
            TlsBehaviour::AcmeTlsAlpn { certificate, alpn } => Plan::Handshake {
                config: server_config(certificate.server_certificate(), alpn.protocols())?,
                pace: None,
                then: Then::Close,
            },
            TlsBehaviour::Drip {
                certificate,
                interval,
            } => Plan::Handshake {
                config: server_config(
                    certificate.server_certificate(),
                    Alpn::AcmeTls1.protocols(),
                )?,
                pace: Some(*interval),
                then: Then::Close,
            },
            TlsBehaviour::Tls10Only => Plan::Tls10Only,
            TlsBehaviour::Garbage => Plan::Garbage,
            TlsBehaviour::Reset => Plan::Reset,
            TlsBehaviour::Hang => Plan::Hang,
            TlsBehaviour::HttpsPages { certificate, pages } => {
                for (path, page) in pages {
                    if !path.starts_with('/') {
                        return Err(TlsFixtureError::BadPath(path.clone()));
                    }
                    page.check()?;
                }
                let router = Router::new()
                    .fallback(serve_page)
                    .with_state(Arc::new(pages.clone()));
                Plan::Handshake {
                    config: server_config(certificate, vec![HTTP_1_1.to_vec()])?,
                    pace: None,
                    then: Then::Serve(router),
                }
            }
            TlsBehaviour::HttpsRouter {
                certificate,
                router,
            } => Plan::Handshake {
                config: server_config(certificate, vec![HTTP_1_1.to_vec()])?,
                pace: None,
                then: Then::Serve(router.clone()),
            },
        })
    }
}

#[derive(Clone)]
enum Plan {
    Handshake {
        config: Arc<ServerConfig>,
        /// Pause after every byte written, for a drip.
        pace: Option<Duration>,
        then: Then,
    },
    Tls10Only,
    Garbage,
    Reset,
    Hang,
}

#[derive(Clone)]
enum Then {
    Close,
    Serve(Router),
}

/// rustls with ring, TLS 1.3 and 1.2, `certificate` for every SNI.
///
/// The certificate goes in as it is: `with_single_cert` would parse it with
/// webpki, which refuses the critical acmeIdentifier extension it does not
/// know (and a server must be able to present a bad certificate anyway).
fn server_config(
    certificate: &ServerCertificate,
    alpn_protocols: Vec<Vec<u8>>,
) -> Result<Arc<ServerConfig>, TlsFixtureError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = provider.key_provider.load_private_key(certificate.key())?;
    let certified = CertifiedKey::new(vec![certificate.der().clone()], key);
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    config.alpn_protocols = alpn_protocols;
    // Nothing resumes; tickets would only be bytes after the handshake.
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// One ClientHello the server read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenHello {
    /// The client's address.
    pub peer: SocketAddr,
    /// The server address it connected to.
    pub local: SocketAddr,
    /// The server_name extension's host name, if any.
    pub sni: Option<String>,
    /// The ALPN protocols offered, in order (empty without the extension).
    pub alpn_offered: Vec<Vec<u8>>,
    /// The behaviour that handled the connection ([`TlsBehaviour::name`]).
    pub behaviour: &'static str,
}

#[derive(Debug, Default)]
struct Seen {
    hellos: Vec<SeenHello>,
    requests: Vec<SeenRequest>,
}

struct Current {
    behaviour: TlsBehaviour,
    plan: Plan,
}

struct TlsState {
    current: Mutex<Current>,
    seen: Mutex<Seen>,
    accepted: AtomicUsize,
    stop: StopSignal,
}

impl TlsState {
    // Every update below is one assignment or push, so data behind a lock
    // poisoned by a panicking test is still consistent.
    fn current(&self) -> MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record_hello(
        &self,
        peer: SocketAddr,
        local: SocketAddr,
        hello: &ClientHello<'_>,
        behaviour: &'static str,
    ) {
        let seen = SeenHello {
            peer,
            local,
            sni: hello.server_name().map(str::to_owned),
            alpn_offered: hello
                .alpn()
                .map(|offered| offered.map(<[u8]>::to_vec).collect())
                .unwrap_or_default(),
            behaviour,
        };
        let mut log = self.seen();
        if log.hellos.len() < MAX_LOGGED {
            log.hellos.push(seen);
        }
    }

    fn record_request<B>(&self, request: &hyper::Request<B>) {
        let seen = SeenRequest {
            method: request.method().to_string(),
            path: request.uri().path().to_owned(),
            query: request.uri().query().map(str::to_owned),
            host: request
                .headers()
                .get(header::HOST)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
        };
        let mut log = self.seen();
        if log.requests.len() < MAX_LOGGED {
            log.requests.push(seen);
        }
    }
}

/// A running TLS server on one loopback address. Dropping it closes the
/// port and every connection.
pub struct TlsServer {
    addr: SocketAddr,
    state: Arc<TlsState>,
    /// Dropping it tells every connection to stop.
    switch: Option<StopSwitch>,
    task: Option<JoinHandle<()>>,
}

impl TlsServer {
    /// A server on a free port of 127.0.0.1.
    pub async fn start(behaviour: TlsBehaviour) -> Result<Self, TlsFixtureError> {
        Self::start_on(Ipv4Addr::LOCALHOST, 0, behaviour).await
    }

    /// A server on `ip:port` (`ip` loopback: 127.0.0.0/8 or `::1`; port 0
    /// for a free one).
    pub async fn start_on(
        ip: impl Into<IpAddr>,
        port: u16,
        behaviour: TlsBehaviour,
    ) -> Result<Self, TlsFixtureError> {
        let ip = ip.into();
        if !ip.is_loopback() {
            return Err(TlsFixtureError::NotLoopback(ip));
        }
        let plan = behaviour.plan()?;
        let listener = TcpListener::bind((ip, port)).await?;
        let addr = listener.local_addr()?;
        let (switch, signal) = stop_pair();
        let state = Arc::new(TlsState {
            current: Mutex::new(Current { behaviour, plan }),
            seen: Mutex::default(),
            accepted: AtomicUsize::new(0),
            stop: signal,
        });
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        Ok(Self {
            addr,
            state,
            switch: Some(switch),
            task: Some(task),
        })
    }

    /// One server per address in `ips`, all on the same free port and all
    /// starting with `behaviour`, so that one URL reaches whichever address
    /// DNS gives. Set the attacker's behaviour on its server afterwards.
    pub async fn start_group(
        ips: &[IpAddr],
        behaviour: TlsBehaviour,
    ) -> Result<Vec<Self>, TlsFixtureError> {
        let Some((first, rest)) = ips.split_first() else {
            return Ok(Vec::new());
        };
        let mut last_clash = None;
        for _ in 0..GROUP_ATTEMPTS {
            let lead = Self::start_on(*first, 0, behaviour.clone()).await?;
            let port = lead.port();
            let mut servers = vec![lead];
            for ip in rest {
                match Self::start_on(*ip, port, behaviour.clone()).await {
                    Ok(server) => servers.push(server),
                    Err(TlsFixtureError::Io(e)) if e.kind() == io::ErrorKind::AddrInUse => {
                        last_clash = Some(e);
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            if servers.len() == ips.len() {
                return Ok(servers);
            }
        }
        Err(last_clash
            .unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrInUse))
            .into())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `https://<ip>:<port><path>` (an IPv6 address in brackets).
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// `https://<host>:<port><path>`: the URL a perspective fetches, its DNS
    /// view deciding which server `host` is.
    pub fn url_for_host(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.port())
    }

    /// What new connections get from now on (connections already past
    /// their ClientHello keep theirs).
    pub fn set_behaviour(&self, behaviour: TlsBehaviour) -> Result<(), TlsFixtureError> {
        let plan = behaviour.plan()?;
        *self.state.current() = Current { behaviour, plan };
        Ok(())
    }

    /// The current behaviour.
    pub fn behaviour(&self) -> TlsBehaviour {
        self.state.current().behaviour.clone()
    }

    /// The first [`MAX_LOGGED`] ClientHellos read, in order. A connection is
    /// recorded before its behaviour runs, so by the time a client sees the
    /// behaviour its hello is here.
    pub fn seen(&self) -> Vec<SeenHello> {
        self.state.seen().hellos.clone()
    }

    /// The first [`MAX_LOGGED`] HTTP requests served over TLS, in order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.seen().requests.clone()
    }

    /// Connections accepted so far (a ClientHello or not).
    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    /// Forgets the ClientHellos and requests seen.
    pub fn reset_seen(&self) {
        let mut seen = self.state.seen();
        seen.hellos.clear();
        seen.requests.clear();
    }

    /// Stops the server and waits (at most [`STOP_GRACE`]) until its port
    /// and connections are closed.
    pub async fn stop(mut self) {
        drop(self.switch.take());
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(STOP_GRACE, &mut task).await.is_err()
        {
            task.abort();
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        // The switch drops too, which stops connections that watch it; the
        // accept task owns the connections' JoinSet, so aborting it closes
        // the port and every connection at once.
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<TlsState>) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = state.stop.stopped() => return,
        };
        // An accept error (out of descriptors, say) ends the server, as in
        // the other fixtures: clients then fail to connect.
        let Ok((stream, peer)) = accepted else {
            return;
        };
        state.accepted.fetch_add(1, Ordering::SeqCst);
        while connections.try_join_next().is_some() {}
        if connections.len() >= MAX_CONNECTIONS {
            drop(stream);
            continue;
        }
        let (plan, behaviour) = {
            let current = state.current();
            (current.plan.clone(), current.behaviour.name())
        };
        let state = Arc::clone(&state);
        connections.spawn(async move {
            let stop = state.stop.clone();
            let life = tokio::time::timeout(
                MAX_CONNECTION_LIFE,
                handle(stream, peer, plan, behaviour, &state),
            );
            tokio::select! {
                _ = life => {}
                () = stop.stopped() => {}
            }
        });
    }
}

async fn handle(
    stream: TcpStream,
    peer: SocketAddr,
    plan: Plan,
    behaviour: &'static str,
    state: &Arc<TlsState>,
) {
    let Ok(local) = stream.local_addr() else {
        return;
    };
    // Each write its own segment, so a drip really drips.
    let _ = stream.set_nodelay(true);
    let pace = match &plan {
        Plan::Handshake { pace, .. } => *pace,
        _ => None,
    };
    let mut acceptor = LazyConfigAcceptor::new(Acceptor::default(), Paced::new(stream, pace));
    let start = match tokio::time::timeout(CLIENT_HELLO_TIMEOUT, &mut acceptor).await {
        Ok(Ok(start)) => start,
        // Not a ClientHello (rustls has sent its alert), the client left, or
        // it was too slow.
        Ok(Err(_)) | Err(_) => return,
    };
    state.record_hello(peer, local, &start.client_hello(), behaviour);
    match plan {
        Plan::Handshake { config, then, .. } => {
            // A failed handshake (no common protocol, version or ALPN) has
            // had its alert sent by rustls.
            let Ok(mut tls) = start.into_stream(config).await else {
                return;
            };
            match then {
                Then::Close => {
                    let _ = tls.shutdown().await;
                }
                Then::Serve(router) => serve_http(tls, router, Arc::clone(state)).await,
            }
        }
        Plan::Tls10Only => {
            let mut stream = start.io.into_inner();
            if write_all(&mut stream, &tls10_server_flight(peer)).await {
                // A real server waits for the client's next flight; the
                // client's alert and close end it.
                let mut sink = [0u8; 1024];
                let _ = tokio::time::timeout(TLS10_ANSWER_WAIT, async {
                    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                })
                .await;
            }
        }
        Plan::Garbage => {
            let mut stream = start.io.into_inner();
            if write_all(&mut stream, GARBAGE).await {
                let _ = stream.shutdown().await;
            }
        }
        Plan::Reset => {
            // Closing with a zero linger sends RST instead of FIN.
            let _ = start.io.into_inner().set_zero_linger();
        }
        Plan::Hang => {
            let _stream = start.io;
            state.stop.sleep(MAX_HOLD).await;
        }
    }
}

async fn write_all(stream: &mut TcpStream, bytes: &[u8]) -> bool {
    stream.write_all(bytes).await.is_ok() && stream.flush().await.is_ok()
}

/// HTTP/1.1 over the TLS stream until the client closes (or the connection's
/// life ends), every request recorded.
async fn serve_http<S>(tls: S, router: Router, state: Arc<TlsState>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            state.record_request(&request);
            let mut router = router.clone();
            async move {
                std::future::poll_fn(|cx| {
                    <Router as Service<hyper::Request<Body>>>::poll_ready(&mut router, cx)
                })
                .await?;
                router.call(request.map(Body::new)).await
            }
        });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(tls), service)
        .await;
}

async fn serve_page(State(pages): State<Arc<BTreeMap<String, Page>>>, uri: Uri) -> Response {
    let path = uri.path();
    let Some(page) = pages.get(path) else {
        return (StatusCode::NOT_FOUND, format!("no page for {path}\n")).into_response();
    };
    // Pages were checked when set; the fallbacks cannot happen.
    let status = StatusCode::from_u16(page.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, page.body.clone()).into_response();
    let headers = response.headers_mut();
    if let Some(value) = page.content_type.as_deref() {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(header::CONTENT_TYPE, value);
        }
    } else {
        headers.remove(header::CONTENT_TYPE);
    }
    if let Some(value) = page
        .location
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        headers.insert(header::LOCATION, value);
    }
    response
}

/// A stream whose writes, when paced, go one byte at a time with a pause
/// after each; reads pass through.
struct Paced<S> {
    inner: S,
    interval: Option<Duration>,
    pause: Option<Pin<Box<Sleep>>>,
}

impl<S> Paced<S> {
    fn new(inner: S, interval: Option<Duration>) -> Self {
        Self {
            inner,
            interval,
            pause: None,
        }
    }

    fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Paced<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Paced<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(interval) = this.interval else {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        if let Some(pause) = this.pause.as_mut() {
            ready!(pause.as_mut().poll(cx));
            this.pause = None;
        }
        let Some(first) = buf.get(..1) else {
            return Poll::Ready(Ok(0));
        };
        let written = ready!(Pin::new(&mut this.inner).poll_write(cx, first))?;
        if written > 0 && !interval.is_zero() {
            this.pause = Some(Box::pin(tokio::time::sleep(interval)));
        }
        Poll::Ready(Ok(written))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The flight a TLS-1.0-only server answers a ClientHello with:
/// ServerHello, Certificate, ServerHelloDone, in handshake records of
/// version 0x0301 (see [`TlsBehaviour::Tls10Only`]).
pub fn tls10_server_flight(peer: SocketAddr) -> Vec<u8> {
    let mut handshake = Vec::new();

    let mut hello = vec![0x03, 0x01];
    hello.extend_from_slice(&tls10_random(peer));
    // An empty session id: the server caches no sessions.
    hello.push(0);
    hello.extend_from_slice(&TLS10_CIPHER_SUITE.to_be_bytes());
    // Null compression, and no extensions at all.
    hello.push(0);
    push_handshake(&mut handshake, 2, &hello);

    if let Some(der) = placeholder_certificate() {
        let mut entry = u24(der.len()).to_vec();
        entry.extend_from_slice(der);
        let mut certificate = u24(entry.len()).to_vec();
        certificate.extend_from_slice(&entry);
        push_handshake(&mut handshake, 11, &certificate);
    }

    push_handshake(&mut handshake, 14, &[]);

    let mut records = Vec::with_capacity(handshake.len() + 16);
    for fragment in handshake.chunks(MAX_FRAGMENT) {
        records.extend_from_slice(&[22, 0x03, 0x01]);
        records.extend_from_slice(&u16::try_from(fragment.len()).unwrap_or(0).to_be_bytes());
        records.extend_from_slice(fragment);
    }
    records
}

/// gmt_unix_time, then 28 bytes that differ per connection (a digest of the
/// peer and the clock: unpredictability does not matter here). No TLS 1.3
/// downgrade sentinel: the server has never heard of TLS 1.3.
fn tls10_random(peer: SocketAddr) -> [u8; 32] {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut random: [u8; 32] = Sha256::new()
        .chain_update(peer.to_string())
        .chain_update(now.as_nanos().to_be_bytes())
        .finalize()
        .into();
    let seconds = u32::try_from(now.as_secs()).unwrap_or(u32::MAX);
    random[..4].copy_from_slice(&seconds.to_be_bytes());
    random
}

fn push_handshake(out: &mut Vec<u8>, kind: u8, body: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&u24(body.len()));
    out.extend_from_slice(body);
}

fn u24(len: usize) -> [u8; 3] {
    let [_, a, b, c] = u32::try_from(len).unwrap_or(0).to_be_bytes();
    [a, b, c]
}

/// The certificate in a [`TlsBehaviour::Tls10Only`] flight, made once.
fn placeholder_certificate() -> Option<&'static [u8]> {
    static CERTIFICATE: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    CERTIFICATE
        .get_or_init(|| {
            ServerCertificate::self_signed("tls10.invalid")
                .ok()
                .map(|certificate| certificate.der().to_vec())
        })
        .as_deref()
}
