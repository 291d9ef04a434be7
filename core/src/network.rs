//! The only door to the outside world: a DNS query (and its retry), the
//! resolvers' DNSSEC self-test, a TCP connection to an address, and a timer.
//!
//! The perspective logic (CAA, DCV) is generic over [`Network`], so the
//! Cloudflare Worker implements it on DoH over `fetch` and Workers TCP
//! sockets, the coordinator on tokio, and tests on loopback fixtures. Only the
//! byte pipe differs: what goes over a connection (the choice of address,
//! TLS, HTTP/1.1) is core's, in [`crate::web`], so every perspective does the
//! same thing on the wire. Implementations do transport only: no redirect
//! following, no CNAME interpretation beyond what the resolver returns, no
//! caching shared between perspectives (BR 3.2.2.9).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Record, RecordType};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::address_policy::AddressPolicy;
use crate::dnssec_self_test::DnssecSelfTest;
use crate::extended_dns_error::ExtendedDnsError;
use crate::loopback::LocalPorts;

/// `Send` on native targets, nothing on wasm32 (where futures are `!Send`).
///
/// Lets one trait serve the single-threaded Workers runtime and the
/// multi-threaded tokio coordinator without boxing.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}
/// `Send` on native targets, nothing on wasm32 (where futures are `!Send`).
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

/// `Sync` on native targets, nothing on wasm32: a [`Network`] is shared by
/// the futures of one check, which are `Send` on native targets.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSync: Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Sync + ?Sized> MaybeSync for T {}
/// `Sync` on native targets, nothing on wasm32.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSync for T {}

/// What one perspective can do to the outside world.
pub trait Network: MaybeSync {
    /// One open TCP connection: a byte stream both ways.
    type Connection: AsyncRead + AsyncWrite + Unpin + MaybeSend;

    /// Resolve `name` (an A-label FQDN, with or without the trailing dot) for
    /// `rtype` through this perspective's resolver, with the DO bit set.
    ///
    /// A DNS-level failure (SERVFAIL, NXDOMAIN, REFUSED) is an `Ok` answer
    /// carrying its rcode; `Err` means no usable DNS response arrived.
    fn dns(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> impl Future<Output = Result<DnsAnswer, DnsError>> + MaybeSend;

    /// Ask `name` and `rtype` again after `failed`, an answer with a failure
    /// rcode (BR 3.2.2.8: a lookup failure counts only once retried). The
    /// retry must not just return the first resolver's cached failure: it
    /// goes to another of this perspective's resolvers when there is one
    /// (the next after `failed.resolver`), else to the same resolver with the
    /// CD bit set ([`DnsAnswer::checking_disabled`]), which a resolver
    /// answers apart from its validated (and cached) failure.
    fn dns_retry(
        &self,
        name: &str,
        rtype: RecordType,
        failed: &DnsAnswer,
    ) -> impl Future<Output = Result<DnsAnswer, DnsError>> + MaybeSend;

    /// Whether each of this perspective's resolvers validates DNSSEC, by
    /// the test of [`crate::dnssec_self_test`] with the names this
    /// perspective is configured with. A lookup failure counts as permission
    /// only while every resolver passes.
    fn dnssec_self_test(&self) -> impl Future<Output = DnssecSelfTest> + MaybeSend;

    /// Which addresses this perspective may connect to. Core checks every
    /// address it resolved against it before [`Network::connect`]; an
    /// implementation may refuse more, never less.
    fn address_policy(&self) -> AddressPolicy;

    /// Opens a TCP connection to `address`, which core resolved through
    /// this perspective's own resolvers and checked against
    /// [`Network::address_policy`]. The port is the URL's (80 or 443 in
    /// production); a loopback test world maps it to its fixture's port
    /// here, and nowhere else. Core bounds the wait with [`Network::sleep`].
    fn connect(
        &self,
        address: SocketAddr,
    ) -> impl Future<Output = Result<Self::Connection, ConnectError>> + MaybeSend;

    /// Resolves after `ms` milliseconds: the clock behind core's deadlines
    /// (core has none of its own; the Workers runtime and tokio each have
    /// theirs).
    fn sleep(&self, ms: u64) -> impl Future<Output = ()> + MaybeSend;

    /// One HTTP GET of exactly `url`, never following redirects, reading at
    /// most `limits.max_body_bytes` of the body. `headers` are the request's
    /// own (Open MPIC `http_headers`, already stripped of framing headers by
    /// request validation), sent besides the ones core sets; the Host header
    /// always comes from `url`.
    ///
    /// Every perspective uses this default, [`crate::web::get`]: the host
    /// resolved through [`Network::dns`], the address checked, the
    /// connection opened with [`Network::connect`], TLS and HTTP/1.1 by core.
    /// Only test doubles that serve canned pages override it.
    fn http_get(
        &self,
        url: &url::Url,
        headers: &RequestHeaders,
        limits: &HttpLimits,
    ) -> impl Future<Output = Result<HttpResponse, HttpError>> + MaybeSend {
        crate::web::get(self, url, headers, limits)
    }
}

/// Where a [`Network::connect`] to `address` really goes, or why it may not:
/// the network's address policy checked again at its own door (core checked
/// it before asking), and in a loopback test world the fixture port standing
/// in for 80 or 443. Every network's `connect` starts here; a platform may
/// refuse more after it.
pub fn connection_target(
    policy: AddressPolicy,
    local: Option<LocalPorts>,
    address: SocketAddr,
) -> Result<SocketAddr, ConnectError> {
    policy
        .check(address.ip())
        .map_err(|e| ConnectError::NotPermitted(e.to_string()))?;
    match local {
        None => Ok(address),
        Some(ports) => ports
            .map_port(address.port())
            .map(|port| SocketAddr::new(address.ip(), port))
            .map_err(|e| ConnectError::NotPermitted(e.to_string())),
    }
}

/// Why [`Network::connect`] opened no connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum ConnectError {
    /// The network will not open a connection to this address (a test
    /// world's loopback rule, or a destination the platform's socket API
    /// refuses); nothing was sent.
    #[error("not permitted: {0}")]
    NotPermitted(String),
    /// The connection was tried and failed (refused, reset, unreachable);
    /// the transport's message.
    #[error("{0}")]
    Failed(String),
}

/// Header name to value, as a request's `http_headers` give them.
pub type RequestHeaders = std::collections::BTreeMap<String, String>;

/// A resolver's answer to one question, as the perspective saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsAnswer {
    /// The name asked for, lower-case A-labels, no trailing dot.
    pub name: String,
    /// The record type asked for.
    pub rtype: RecordType,
    /// The response code: NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ...
    pub rcode: ResponseCode,
    /// Records of `rtype` owned by the last name of the alias chain.
    pub records: Vec<Record>,
    /// Aliases the resolver followed, in order: each entry is a CNAME target
    /// (no trailing dot). Empty when the name had no alias.
    pub cname_chain: Vec<String>,
    /// The AD flag: the resolver validated the answer with DNSSEC.
    pub authentic_data: bool,
    /// Which resolver answered (its URL), for the report.
    pub resolver: String,
    /// The question was asked with the CD bit set (a retry that bypasses
    /// the resolver's validation): records in such an answer are not
    /// validated and must never be used as the domain's data.
    pub checking_disabled: bool,
    /// RFC 8914 extended errors the resolver attached.
    pub extended_errors: Vec<ExtendedDnsError>,
}

/// No usable DNS response arrived: the perspective could not look.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum DnsError {
    /// No response within the deadline (our timeout, so the CA's side).
    #[error("DNS query timed out")]
    Timeout,
    /// The request to the resolver failed before any HTTP response
    /// (connection, TLS, ...); the transport's message.
    #[error("DNS transport failed: {0}")]
    Transport(String),
    /// The DoH resolver answered with an HTTP status other than 200 (the
    /// status is given); a 3xx is not followed.
    #[error("DoH resolver answered HTTP {0}")]
    HttpStatus(u16),
    /// The response cannot be used as a DNS message: wrong media type,
    /// undecodable, truncated (TC), or a record that cannot be read.
    #[error("DNS response is malformed: {0}")]
    Malformed(String),
    /// A DNS message that is not the response to our question: a query,
    /// another id or opcode, or another question.
    #[error("DNS response does not answer the question: {0}")]
    Mismatch(String),
    /// The response is larger than a [`crate::dns::ResponseLimits`] bound
    /// (bytes, records or alias steps).
    #[error("DNS response exceeds a limit: {0}")]
    LimitExceeded(String),
    /// The question itself cannot be asked (not an A-label name, a meta type):
    /// a caller bug or hostile input, caught before anything is sent.
    #[error("DNS query is invalid: {0}")]
    InvalidQuery(String),
}

/// Default for [`HttpLimits::max_body_bytes`]. A challenge file is a few
/// hundred bytes; 64 KiB leaves room for a website-change page without
/// letting a hostile server stream to us.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Default for [`HttpLimits::timeout_ms`]: one GET, headers and body.
pub const DEFAULT_HTTP_TIMEOUT_MS: u64 = 10_000;

/// Bounds on one HTTP GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpLimits {
    /// Body bytes read at most; the rest is not read.
    pub max_body_bytes: usize,
    /// Deadline for the whole exchange, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            timeout_ms: DEFAULT_HTTP_TIMEOUT_MS,
        }
    }
}

/// Where one exchange went, as the perspective saw it: the record that lets
/// an auditor tell which address answered, through which resolver, and over
/// what TLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contacted {
    /// The resolver (its URL) whose answer gave the address; `None` when the
    /// URL's host was an IP address.
    pub resolver: Option<String>,
    /// The address connected to.
    pub address: IpAddr,
    /// The port connected to, as the URL gives it (80, 443).
    pub port: u16,
    /// The TLS session, for https and acme-tls-alpn-01; `None` for http.
    pub tls: Option<TlsSession>,
}

/// What a TLS handshake settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsSession {
    /// The protocol version, `TLSv1.2` or `TLSv1.3`.
    pub version: String,
    /// The server name sent (SNI); `None` for an https URL at an IP
    /// address, where RFC 6066 allows none.
    pub server_name: Option<String>,
    /// The application protocol the server chose (ALPN), if any.
    pub alpn: Option<String>,
    /// Always `false`: the server's certificate is not verified, as in
    /// Boulder and Open MPIC. For https the challenge content proves control;
    /// for acme-tls-alpn-01 the certificate is judged by RFC 8737's rules,
    /// not by a chain.
    pub certificate_verified: bool,
}

/// The answer to one HTTP GET (no redirect followed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// The URL that was fetched.
    pub url: String,
    /// Where the exchange went; `None` only from a test double.
    pub contacted: Option<Contacted>,
    /// The HTTP status code.
    pub status: u16,
    /// The `Location` header, if any (needed to follow redirects ourselves).
    pub location: Option<String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// At most `HttpLimits::max_body_bytes` of the body.
    pub body: Vec<u8>,
    /// The body was longer than the limit and was cut.
    pub body_truncated: bool,
}

/// No HTTP response arrived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum HttpError {
    /// No complete response within [`HttpLimits::timeout_ms`].
    #[error("HTTP request timed out")]
    Timeout,
    /// No connection: the host's addresses could not be resolved, or no
    /// connection to them could be made (each attempt's message).
    #[error("could not connect: {0}")]
    Connect(String),
    /// The TLS handshake failed ([`crate::web::tls::TlsFailure`], as
    /// text).
    #[error("TLS failed: {0}")]
    Tls(String),
    /// The server's answer is not HTTP/1.x as RFC 9112 writes it, or was
    /// cut short.
    #[error("HTTP protocol error: {0}")]
    Protocol(String),
    /// Refused before anything was sent: a scheme that is not http or https,
    /// addresses the address policy refuses, or destinations the network
    /// will not connect to.
    #[error("refused by policy: {0}")]
    Refused(String),
}
