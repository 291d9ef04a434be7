//! [`Network`] for the coordinator's own host, on reqwest with rustls: what
//! the primary perspective and the in-process perspectives of `mpic check`
//! look through.
//!
//! - DNS: DNS over HTTPS (RFC 8484) to one configured resolver, through
//!   mpic-core's [`DohClient`] over [`ReqwestDohTransport`] (one shared
//!   reqwest client, no proxy: a proxy would move the network perspective).
//! - HTTP: one GET, never following a redirect (mpic-core follows them
//!   itself, checking each target), at most `max_body_bytes` read, the whole
//!   exchange (lookup included) within `timeout_ms`.
//!
//! # No DNS rebinding
//! The host of a fetch is resolved once, through the same DoH resolver (A and
//! AAAA), every address is checked against the [`AddressPolicy`] (no
//! loopback, private, link-local, CGNAT, documentation, ... see
//! [`address_policy`]), and the fetch connects only to the addresses that
//! passed. reqwest offers no per-request address override, so each fetch
//! builds its own client with `resolve_to_addrs(host, checked)` and a
//! resolver that refuses every other name (the system resolver is never
//! asked). TLS still verifies the certificate for, and sends SNI of, the
//! host name, because the URL keeps it.
//!
//! Trade-off: a client per fetch costs building its TLS configuration (about
//! 40 µs, measured in a debug build) and forgoes connection reuse between
//! fetches. A check makes one fetch plus at
//! most a few redirects, and reusing a pooled connection across checks would
//! itself reuse an earlier resolution, so the cost is accepted. The DoH
//! resolver, which the operator chose, is reached through the shared client.
//!
//! # Loopback test worlds
//! [`LocalPorts`] (test-only) mirrors the worker's local mode: the address
//! policy becomes [`AddressPolicy::LoopbackOnlyForTests`] (loopback and
//! nothing else), the DoH resolver must be on loopback too (plain http
//! allowed), `http:80` goes to the fixture's HTTP port and `https:443`
//! to its "HTTPS" port, which speaks plain HTTP. mpic-core's redirect
//! policy keeps seeing ports 80 and 443; the response carries the original
//! URL.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use mpic_core::dnssec_self_test::{DnssecSelfTest, DnssecTestNames};
use mpic_core::doh::{
    DohClient, DohConfig, DohConfigError, DohHttpRequest, DohHttpResponse, DohMethod, DohTransport,
};
use mpic_core::loopback::is_loopback_url;
use mpic_core::network::{
    DnsAnswer, DnsError, HttpError, HttpLimits, HttpResponse, MaybeSend, Network, RequestHeaders,
};
use mpic_core::resolver_set::ResolverSet;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use url::{Host, Url};

use crate::http_read::{error_chain, header_text, http_error, read_bounded};

pub use mpic_core::address_policy::AddressPolicy;

/// The resolver `mpic check` and the primary perspective use unless told
/// otherwise.
pub const DEFAULT_DOH_URL: &str = "https://cloudflare-dns.com/dns-query";

/// Most addresses of one host a fetch will try.
const MAX_ADDRESSES: usize = 16;

const USER_AGENT: &str = concat!("mpic-coordinator/", env!("CARGO_PKG_VERSION"));

/// Sends DoH requests with reqwest: no redirects followed, no proxy, the
/// request's deadline enforced, at most `max_response_bytes + 1` body bytes
/// read. Clones share one connection pool.
#[derive(Debug, Clone)]
pub struct ReqwestDohTransport {
    client: reqwest::Client,
}

impl ReqwestDohTransport {
    /// A transport with its own connection pool (rustls, no redirects, no
    /// proxy); fails only when the TLS setup does.
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(USER_AGENT)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self { client })
    }
}

impl DohTransport for ReqwestDohTransport {
    fn send(
        &self,
        request: DohHttpRequest,
    ) -> impl Future<Output = Result<DohHttpResponse, DnsError>> + MaybeSend {
        let client = self.client.clone();
        async move {
            let deadline = Duration::from_millis(request.timeout_ms);
            match tokio::time::timeout(deadline, doh_exchange(&client, request)).await {
                Ok(result) => result,
                Err(_) => Err(DnsError::Timeout),
            }
        }
    }
}

async fn doh_exchange(
    client: &reqwest::Client,
    request: DohHttpRequest,
) -> Result<DohHttpResponse, DnsError> {
    let transport = |e: reqwest::Error| {
        if e.is_timeout() {
            DnsError::Timeout
        } else {
            DnsError::Transport(error_chain(&e))
        }
    };
    let mut builder = match request.method {
        DohMethod::Get => client.get(request.url),
        DohMethod::Post => client.post(request.url).body(request.body),
    };
    for (name, value) in request.headers {
        builder = builder.header(name, value);
    }
    let mut response = builder.send().await.map_err(transport)?;
    let status = response.status().as_u16();
    let content_type = header_text(&response, CONTENT_TYPE);
    // One byte over is enough for the DoH client to refuse it.
    let body = read_bounded(&mut response, request.max_response_bytes.saturating_add(1))
        .await
        .map_err(transport)?;
    Ok(DohHttpResponse {
        status,
        content_type,
        body: body.bytes,
    })
}

pub use mpic_core::loopback::LocalPorts;

/// How a `NativeNetwork` reaches the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeNetworkConfig {
    /// The DoH resolver; https, or http on loopback when `local` is set.
    pub doh_url: Url,
    /// GET or POST (RFC 8484); POST in production.
    pub doh_method: DohMethod,
    /// Test-only; `None` in production.
    pub local: Option<LocalPorts>,
    /// The names of the resolver's DNSSEC self-test.
    pub dnssec_test_names: DnssecTestNames,
}

impl NativeNetworkConfig {
    /// Production settings: `doh_url`, POST, public addresses only.
    pub fn new(doh_url: Url) -> Self {
        Self {
            doh_url,
            doh_method: DohMethod::Post,
            local: None,
            dnssec_test_names: DnssecTestNames::default(),
        }
    }
}

/// Why a `NativeNetwork` could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NativeNetworkError {
    /// The DoH client refuses the resolver's URL (not https, no host,
    /// credentials, a fragment, ...).
    #[error("DoH resolver {url}: {source}")]
    DohUrl {
        /// The resolver's URL.
        url: String,
        /// What is wrong with it.
        source: DohConfigError,
    },
    /// Loopback test ports are set, but the resolver (this URL) is not on
    /// loopback: a test world must not reach a real resolver.
    #[error("DoH resolver {0}: the loopback test setting reaches loopback only")]
    DohNotLoopback(String),
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// The network has no resolver.
    #[error(transparent)]
    NoResolver(#[from] mpic_core::resolver_set::NoResolver),
}

/// One vantage point on this host: its resolver and its address policy.
///
/// `T` is [`ReqwestDohTransport`] outside tests.
#[derive(Debug, Clone)]
pub struct NativeNetwork<T = ReqwestDohTransport> {
    resolvers: ResolverSet<T>,
    policy: AddressPolicy,
    local: Option<LocalPorts>,
}

impl<T: DohTransport + Sync> NativeNetwork<T> {
    /// A network over `transport` (clones of one [`ReqwestDohTransport`]
    /// share its connection pool to the resolver, nothing else).
    pub fn new(transport: T, config: NativeNetworkConfig) -> Result<Self, NativeNetworkError> {
        if config.local.is_some() && !is_loopback_url(&config.doh_url) {
            return Err(NativeNetworkError::DohNotLoopback(
                config.doh_url.to_string(),
            ));
        }
        let mut doh_config = DohConfig::new(config.doh_url.clone());
        doh_config.method = config.doh_method;
        doh_config.allow_insecure_http = config.local.is_some();
        let doh =
            DohClient::new(transport, doh_config).map_err(|source| NativeNetworkError::DohUrl {
                url: config.doh_url.to_string(),
                source,
            })?;
        let resolvers = ResolverSet::new(vec![doh], config.dnssec_test_names)?;
        let policy = match config.local {
            Some(_) => AddressPolicy::LoopbackOnlyForTests,
            None => AddressPolicy::PublicOnly,
        };
        Ok(Self {
            resolvers,
            policy,
            local: config.local,
        })
    }

    /// The resolvers this network asks (for reports).
    pub fn resolver_urls(&self) -> Vec<String> {
        self.resolvers.urls()
    }

    pub fn address_policy(&self) -> AddressPolicy {
        self.policy
    }

    /// Where a GET of `url` may connect: resolved once, every address
    /// checked, ports mapped in a loopback test world.
    pub async fn plan_fetch(&self, url: &Url) -> Result<FetchPlan, HttpError> {
        match url.scheme() {
            "http" | "https" => {}
            other => {
                return Err(HttpError::Refused(format!(
                    "scheme {other:?} is not http or https"
                )));
            }
        }
        let host = url
            .host()
            .ok_or_else(|| HttpError::Refused("URL has no host".into()))?;
        let literal = match host {
            Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            Host::Domain(_) => None,
        };
        let mut request_url = url.clone();
        let mapped_port = match self.local {
            None => None,
            Some(ports) => Some(
                ports
                    .port_for(url)
                    .map_err(|e| HttpError::Refused(e.to_string()))?,
            ),
        };
        if mapped_port.is_some() {
            // Fixtures speak plain HTTP on loopback; the report keeps the
            // original URL.
            set_scheme(&mut request_url, "http")?;
        }
        if let Some(ip) = literal {
            self.policy
                .check(ip)
                .map_err(|e| HttpError::Refused(e.to_string()))?;
            if let Some(port) = mapped_port {
                request_url
                    .set_port(Some(port))
                    .map_err(|()| HttpError::Refused(format!("cannot map {url} to loopback")))?;
            }
            return Ok(FetchPlan {
                request_url,
                pinned: None,
            });
        }
        let name = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let addresses = self.resolve_host(&name).await?;
        let (allowed, refused): (Vec<IpAddr>, Vec<IpAddr>) = addresses
            .into_iter()
            .partition(|ip| self.policy.check(*ip).is_ok());
        if allowed.is_empty() {
            let why: Vec<String> = refused
                .iter()
                .filter_map(|ip| self.policy.check(*ip).err())
                .map(|e| e.to_string())
                .collect();
            return Err(HttpError::Refused(format!(
                "no address of {name} may be reached: {}",
                why.join("; ")
            )));
        }
        // Port 0 lets the URL's port (or the scheme's default) apply; a
        // mapped port replaces the default, which the URL then leaves unset.
        let port = mapped_port.unwrap_or(0);
        let pinned = allowed
            .into_iter()
            .take(MAX_ADDRESSES)
            .map(|ip| SocketAddr::new(ip, port))
            .collect();
        Ok(FetchPlan {
            request_url,
            pinned: Some((name, pinned)),
        })
    }

    /// A and AAAA of `name` through this network's resolver, IPv6 first
    /// (the connector falls back to IPv4 quickly when IPv6 fails).
    async fn resolve_host(&self, name: &str) -> Result<Vec<IpAddr>, HttpError> {
        let (a, aaaa) = futures_util::future::join(
            self.resolvers.resolve(name, RecordType::A),
            self.resolvers.resolve(name, RecordType::AAAA),
        )
        .await;
        let mut addresses = Vec::new();
        let mut problems = Vec::new();
        for (rtype, answer) in [("AAAA", aaaa), ("A", a)] {
            match answer {
                Ok(answer) if answer.rcode == ResponseCode::NoError => {
                    addresses.extend(answer.records.iter().filter_map(mpic_core::dns::ip_addr));
                }
                Ok(answer) => problems.push(format!("{rtype}: {}", answer.rcode)),
                Err(e) => problems.push(format!("{rtype}: {e}")),
            }
        }
        let mut seen = std::collections::HashSet::new();
        addresses.retain(|ip| seen.insert(*ip));
        if addresses.is_empty() {
            let detail = if problems.is_empty() {
                "no A or AAAA records".to_owned()
            } else {
                problems.join("; ")
            };
            return Err(HttpError::Connect(format!("resolving {name}: {detail}")));
        }
        Ok(addresses)
    }
}

/// What one GET connects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPlan {
    /// The URL requested (differs from the original only in a loopback test
    /// world: scheme http, and the port for an IP literal).
    pub request_url: Url,
    /// The host name and the only addresses the fetch may connect to;
    /// `None` for an IP literal.
    pub pinned: Option<(String, Vec<SocketAddr>)>,
}

fn set_scheme(url: &mut Url, scheme: &str) -> Result<(), HttpError> {
    url.set_scheme(scheme)
        .map_err(|()| HttpError::Refused(format!("cannot use {scheme} for {url}")))
}

impl<T: DohTransport + Sync> Network for NativeNetwork<T> {
    fn dns(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> impl Future<Output = Result<DnsAnswer, DnsError>> + MaybeSend {
        self.resolvers.resolve(name, rtype)
    }

    fn dns_retry(
        &self,
        name: &str,
        rtype: RecordType,
        failed: &DnsAnswer,
    ) -> impl Future<Output = Result<DnsAnswer, DnsError>> + MaybeSend {
        self.resolvers.retry(name, rtype, failed)
    }

    fn dnssec_self_test(&self) -> impl Future<Output = DnssecSelfTest> + MaybeSend {
        self.resolvers.dnssec_self_test()
    }

    fn http_get(
        &self,
        url: &Url,
        headers: &RequestHeaders,
        limits: &HttpLimits,
    ) -> impl Future<Output = Result<HttpResponse, HttpError>> + MaybeSend {
        let url = url.clone();
        let headers = headers.clone();
        let limits = *limits;
        async move {
            let deadline = Duration::from_millis(limits.timeout_ms);
            match tokio::time::timeout(deadline, self.fetch(&url, &headers, limits)).await {
                Ok(result) => result,
                Err(_) => Err(HttpError::Timeout),
            }
        }
    }
}

impl<T: DohTransport + Sync> NativeNetwork<T> {
    async fn fetch(
        &self,
        url: &Url,
        headers: &RequestHeaders,
        limits: HttpLimits,
    ) -> Result<HttpResponse, HttpError> {
        let plan = self.plan_fetch(url).await?;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            // A challenge fetch speaks HTTP/1.1, as ACME servers' do; the
            // coordinator's reqwest also has HTTP/2 (for perspectives, DoH).
            .http1_only()
            .no_proxy()
            .user_agent(USER_AGENT)
            .pool_max_idle_per_host(0)
            // Any name not pinned below fails instead of reaching the system
            // resolver: nothing is fetched from an unchecked address.
            .dns_resolver(Arc::new(NoOtherNames));
        if let Some((name, addresses)) = &plan.pinned {
            builder = builder.resolve_to_addrs(name, addresses);
        }
        let client = builder
            .build()
            .map_err(|e| HttpError::Protocol(format!("cannot build the HTTP client: {e}")))?;
        let mut request = client.get(plan.request_url).header("accept", "*/*");
        // The request's own, last, so that its User-Agent wins; framing
        // headers were refused when the request was read.
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut response = request.send().await.map_err(http_error)?;
        let status = response.status().as_u16();
        let location = header_text(&response, LOCATION);
        let content_type = header_text(&response, CONTENT_TYPE);
        let body = read_bounded(&mut response, limits.max_body_bytes)
            .await
            .map_err(http_error)?;
        Ok(HttpResponse {
            url: url.to_string(),
            status,
            location,
            content_type,
            body: body.bytes,
            body_truncated: body.truncated,
        })
    }
}

/// The resolver of a per-fetch client: every name it is asked about was not
/// pinned, so it is refused.
struct NoOtherNames;

impl reqwest::dns::Resolve for NoOtherNames {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_owned();
        Box::pin(async move {
            Err(format!("{name} was not resolved and checked before the fetch").into())
        })
    }
}

#[cfg(test)]
mod tests;
