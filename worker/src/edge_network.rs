//! [`Network`] at the edge: DNS over HTTPS to this perspective's resolvers
//! with the Workers `fetch` API, and TCP connections with Workers sockets
//! (`connect()` from `cloudflare:sockets`) to the addresses mpic-core
//! resolved through those same resolvers and checked. What goes over a
//! connection (TLS, HTTP/1.1, acme-tls-alpn-01) is mpic-core's
//! ([`mpic_core::web`]), the code the coordinator and the tests run too.
//! `fetch()` carries DoH only, never a challenge exchange.
//!
//! # Destinations the socket API refuses
//! Workers sockets refuse Cloudflare's own address ranges. A challenge
//! exchange to one fails with a typed refusal naming the range; it never
//! falls back to `fetch()`, which would stay inside Cloudflare's network and
//! not sample the Internet route a hijack would change (README, SECURITY.md).
//!
//! # Deadlines
//! Every wait ends by the check's deadline as well as by its own timeout:
//! DoH fetches race a `setTimeout` (and are then aborted), and mpic-core's
//! own deadlines run on [`Network::sleep`], which is clamped to it.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::StreamExt as _;
use futures_util::future::{Either, select};
use hickory_proto::rr::RecordType;
use mpic_core::address_policy::{AddressPolicy, in_prefix};
use mpic_core::dnssec_self_test::DnssecSelfTest;
use mpic_core::doh::{
    DohClient, DohConfig, DohHttpRequest, DohHttpResponse, DohMethod, DohTransport,
};
use mpic_core::network::{ConnectError, DnsAnswer, DnsError, Network, connection_target};
use mpic_core::resolver_set::ResolverSet;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use worker::{
    AbortController, Date, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
    Response, SecureTransport, Socket,
};

use crate::fetch_failure::FetchFailure;
use crate::settings::Settings;
use mpic_core::loopback::LocalPorts;

/// The perspective's view of the Internet for one check.
pub struct EdgeNetwork {
    resolvers: ResolverSet<FetchTransport>,
    local: Option<LocalPorts>,
    deadline_at_ms: u64,
}

impl EdgeNetwork {
    /// Every exchange of this check ends by `deadline_at_ms` (Unix ms, the
    /// check's deadline) as well as by its own timeout, so a check that runs
    /// out of time fails with the typed timeout of what it was doing.
    pub fn new(settings: &Settings, deadline_at_ms: u64) -> Result<Self, String> {
        let resolvers = settings
            .resolvers
            .iter()
            .map(|url| {
                let mut config = DohConfig::new(url.clone());
                config.method = settings.doh_method;
                config.allow_insecure_http = settings.local.is_some();
                DohClient::new(FetchTransport { deadline_at_ms }, config)
                    .map_err(|e| format!("DOH_RESOLVERS {url}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let resolvers = ResolverSet::new(resolvers, settings.dnssec_test_names.clone())
            .map_err(|e| format!("DOH_RESOLVERS: {e}"))?;
        Ok(Self {
            resolvers,
            local: settings.local,
            deadline_at_ms,
        })
    }

    /// The resolvers this perspective asks, in order.
    pub fn resolver_urls(&self) -> Vec<String> {
        self.resolvers.urls()
    }

    /// Where a connection to `address` really goes, or why none may be
    /// opened: the address policy again (core checked it; this is the
    /// second lock), Cloudflare's own ranges (which Workers sockets refuse:
    /// a typed refusal instead of the platform's opaque one), and in local
    /// mode the fixture port standing in for 80 or 443.
    fn connection_target(&self, address: SocketAddr) -> Result<SocketAddr, ConnectError> {
        let target = connection_target(self.address_policy(), self.local, address)?;
        if self.local.is_none()
            && let Some((network, length)) = cloudflare_range(address.ip())
        {
            return Err(ConnectError::NotPermitted(format!(
                "{} is in Cloudflare's range {network}/{length}, which Workers sockets cannot \
                 reach (and a fetch() there would stay inside Cloudflare's network)",
                address.ip()
            )));
        }
        Ok(target)
    }
}

impl Network for EdgeNetwork {
    async fn dns(&self, name: &str, rtype: RecordType) -> Result<DnsAnswer, DnsError> {
        self.resolvers.resolve(name, rtype).await
    }

    async fn dns_retry(
        &self,
        name: &str,
        rtype: RecordType,
        failed: &DnsAnswer,
    ) -> Result<DnsAnswer, DnsError> {
        self.resolvers.retry(name, rtype, failed).await
    }

    async fn dnssec_self_test(&self) -> DnssecSelfTest {
        self.resolvers.dnssec_self_test().await
    }

    type Connection = EdgeSocket;

    fn address_policy(&self) -> AddressPolicy {
        match self.local {
            Some(_) => AddressPolicy::LoopbackOnlyForTests,
            None => AddressPolicy::PublicOnly,
        }
    }

    async fn connect(&self, address: SocketAddr) -> Result<EdgeSocket, ConnectError> {
        let target = self.connection_target(address)?;
        // The object form of connect() takes a bare host; an IPv6 literal
        // needs its brackets there, as in a URL.
        let host = match target.ip() {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let socket = Socket::builder()
            .secure_transport(SecureTransport::Off)
            .connect(host, target.port())
            .map_err(|e| ConnectError::Failed(e.to_string()))?;
        let socket = EdgeSocket(Some(socket));
        // A connection that cannot be made fails here, not at connect().
        // workerd words every such failure "proxy request failed, cannot
        // connect to the specified address", a refused destination and an
        // unreachable host alike, so it is a failure (the next address is
        // tried); the destinations we know it refuses were refused above.
        match socket.opened().await {
            Ok(()) => Ok(socket),
            Err(e) => Err(ConnectError::Failed(e.to_string())),
        }
    }

    async fn sleep(&self, ms: u64) {
        // Every wait also ends by the check's deadline, so a check that runs
        // out of time fails with the typed timeout of what it was doing.
        let left = self.deadline_at_ms.saturating_sub(Date::now().as_millis());
        Delay::from(Duration::from_millis(ms.min(left))).await;
    }
}

/// A Workers socket that is closed when it is dropped: the runtime keeps an
/// unclosed socket open (and counting against the six connections a request
/// may have) until the request ends, and RFC 8737 wants the connection
/// closed as soon as the handshake is judged.
pub struct EdgeSocket(Option<Socket>);

impl EdgeSocket {
    async fn opened(&self) -> Result<(), worker::Error> {
        match &self.0 {
            Some(socket) => socket.opened().await.map(drop),
            None => Ok(()),
        }
    }

    fn socket(&mut self) -> std::io::Result<&mut Socket> {
        self.0
            .as_mut()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotConnected))
    }
}

impl Drop for EdgeSocket {
    fn drop(&mut self) {
        if let Some(mut socket) = self.0.take() {
            worker::wasm_bindgen_futures::spawn_local(async move {
                // Closing a socket the peer already closed fails; nothing
                // is left to do then.
                let _ = socket.close().await;
            });
        }
    }
}

impl AsyncRead for EdgeSocket {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut().socket() {
            Ok(socket) => Pin::new(socket).poll_read(context, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for EdgeSocket {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut().socket() {
            Ok(socket) => Pin::new(socket).poll_write(context, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut().socket() {
            Ok(socket) => Pin::new(socket).poll_flush(context),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut().socket() {
            Ok(socket) => Pin::new(socket).poll_shutdown(context),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

/// Cloudflare's published ranges (www.cloudflare.com/ips, as of 2026-12).
/// Workers sockets refuse these destinations ("Outbound TCP sockets to
/// Cloudflare IP ranges are blocked", developers.cloudflare.com/workers/
/// runtime-apis/tcp-sockets); naming the range makes the refusal typed and
/// explainable instead of the platform's "proxy request failed".
const CLOUDFLARE_RANGES: [(IpAddr, u8); 22] = [
    (v4(173, 245, 48, 0), 20),
    (v4(103, 21, 244, 0), 22),
    (v4(103, 22, 200, 0), 22),
    (v4(103, 31, 4, 0), 22),
    (v4(141, 101, 64, 0), 18),
    (v4(108, 162, 192, 0), 18),
    (v4(190, 93, 240, 0), 20),
    (v4(188, 114, 96, 0), 20),
    (v4(197, 234, 240, 0), 22),
    (v4(198, 41, 128, 0), 17),
    (v4(162, 158, 0, 0), 15),
    (v4(104, 16, 0, 0), 13),
    (v4(104, 24, 0, 0), 14),
    (v4(172, 64, 0, 0), 13),
    (v4(131, 0, 72, 0), 22),
    (v6(0x2400, 0xcb00), 32),
    (v6(0x2606, 0x4700), 32),
    (v6(0x2803, 0xf800), 32),
    (v6(0x2405, 0xb500), 32),
    (v6(0x2405, 0x8100), 32),
    (v6(0x2a06, 0x98c0), 29),
    (v6(0x2c0f, 0xf248), 32),
];

const fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d))
}

/// `first:second::`, the form of every Cloudflare IPv6 range.
const fn v6(first: u16, second: u16) -> IpAddr {
    IpAddr::V6(std::net::Ipv6Addr::new(first, second, 0, 0, 0, 0, 0, 0))
}

/// The Cloudflare range `ip` is in, if any.
fn cloudflare_range(ip: IpAddr) -> Option<(IpAddr, u8)> {
    CLOUDFLARE_RANGES
        .into_iter()
        .find(|(network, length)| in_prefix(ip, *network, *length))
}

/// Sends DoH requests with `fetch`, each ending by the check's deadline.
pub struct FetchTransport {
    deadline_at_ms: u64,
}

impl DohTransport for FetchTransport {
    async fn send(&self, request: DohHttpRequest) -> Result<DohHttpResponse, DnsError> {
        let headers = Headers::new();
        for (name, value) in &request.headers {
            headers
                .set(name, value)
                .map_err(|e| DnsError::Transport(format!("header {name}: {e}")))?;
        }
        let mut init = RequestInit::new();
        init.with_headers(headers)
            .with_redirect(RequestRedirect::Manual);
        match request.method {
            DohMethod::Get => {
                init.with_method(Method::Get);
            }
            DohMethod::Post => {
                let body = js_sys::Uint8Array::from(request.body.as_slice());
                init.with_method(Method::Post).with_body(Some(body.into()));
            }
        }
        let fetch_request = Request::new_with_init(request.url.as_str(), &init)
            .map_err(|e| DnsError::Transport(e.to_string()))?;
        let exchange = bounded_fetch(
            fetch_request,
            request.max_response_bytes,
            request.timeout_ms,
            self.deadline_at_ms,
        )
        .await
        .map_err(FetchFailure::into_dns_error)?;
        if exchange.truncated {
            return Err(DnsError::LimitExceeded(format!(
                "DoH response longer than {} bytes",
                request.max_response_bytes
            )));
        }
        Ok(DohHttpResponse {
            status: exchange.status,
            content_type: exchange.content_type,
            body: exchange.body,
        })
    }
}

struct Exchange {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
    truncated: bool,
}

/// One fetch with a deadline over the whole exchange (headers and body):
/// `timeout_ms`, or less if the check's deadline (`deadline_at_ms`, Unix ms)
/// comes first; at most `max_body_bytes` of the body read.
async fn bounded_fetch(
    request: Request,
    max_body_bytes: usize,
    timeout_ms: u64,
    deadline_at_ms: u64,
) -> Result<Exchange, FetchFailure> {
    let timeout_ms = timeout_ms.min(deadline_at_ms.saturating_sub(Date::now().as_millis()));
    if timeout_ms == 0 {
        return Err(FetchFailure::Timeout);
    }
    let controller = AbortController::default();
    let signal = controller.signal();
    let exchange = async move {
        let mut response = Fetch::Request(request)
            .send_with_signal(&signal)
            .await
            .map_err(|e| FetchFailure::no_response(&e.to_string()))?;
        read_bounded(&mut response, max_body_bytes).await
    };
    let deadline = Delay::from(Duration::from_millis(timeout_ms));
    match select(Box::pin(exchange), deadline).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => {
            // Stop the network work too, not only our wait for it.
            controller.abort();
            Err(FetchFailure::Timeout)
        }
    }
}

async fn read_bounded(response: &mut Response, max: usize) -> Result<Exchange, FetchFailure> {
    let header = |name: &str| response.headers().get(name).ok().flatten();
    let status = response.status_code();
    let content_type = header("content-type");
    let mut body = Vec::new();
    let mut truncated = false;
    // A response without a body (e.g. some redirects) has no stream.
    if let Ok(mut stream) = response.stream() {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| FetchFailure::body_cut(&e.to_string()))?;
            let room = max.saturating_sub(body.len());
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                // Dropping the stream cancels the rest of the body.
                break;
            }
            body.extend_from_slice(&chunk);
        }
    }
    Ok(Exchange {
        status,
        content_type,
        body,
        truncated,
    })
}
