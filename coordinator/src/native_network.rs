//! [`Network`] for the coordinator's own host: DoH with reqwest, connections
//! with tokio. What the primary perspective and the in-process perspectives
//! of `mpic check` look through.
//!
//! - DNS: DNS over HTTPS (RFC 8484) to one configured resolver, through
//!   mpic-core's [`DohClient`] over [`ReqwestDohTransport`] (one shared
//!   reqwest client, no proxy: a proxy would move the network perspective).
//! - Connections: tokio TCP to the address mpic-core chose. The GET itself
//!   (resolution through the same DoH resolver, the address policy, IPv6
//!   first, TLS and HTTP/1.1) is mpic-core's [`mpic_core::web`], the same
//!   code the worker runs; only the byte pipe is this module's.
//!
//! # No DNS rebinding
//! A connection goes only to an address mpic-core resolved through this
//! network's DoH resolver and checked against its [`AddressPolicy`] (no
//! loopback, private, link-local, CGNAT, documentation, ... see
//! [`address_policy`](mpic_core::address_policy)); the system resolver is
//! never asked.
//!
//! # Loopback test worlds
//! [`LocalPorts`] (test-only) mirrors the worker's local mode, and is just
//! two facts: the address policy becomes
//! [`AddressPolicy::LoopbackOnlyForTests`] (loopback and nothing else; the
//! DoH resolver must be on loopback too, plain http allowed), and a
//! connection to port 80 or 443 goes to the fixture's port standing in for
//! it. Resolution, the address check, TLS and ALPN run as in production.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use mpic_core::dnssec_self_test::{DnssecSelfTest, DnssecTestNames};
use mpic_core::doh::{
    DohClient, DohConfig, DohConfigError, DohHttpRequest, DohHttpResponse, DohMethod, DohTransport,
};
use mpic_core::loopback::is_loopback_url;
use mpic_core::network::{ConnectError, DnsAnswer, DnsError, MaybeSend, Network};
use mpic_core::resolver_set::ResolverSet;
use reqwest::header::CONTENT_TYPE;
use url::Url;

use crate::http_read::{error_chain, header_text, read_bounded};

pub use mpic_core::address_policy::AddressPolicy;

/// The resolver `mpic check` and the primary perspective use unless told
/// otherwise.
pub const DEFAULT_DOH_URL: &str = "https://cloudflare-dns.com/dns-query";

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

    type Connection = tokio::net::TcpStream;

    fn address_policy(&self) -> AddressPolicy {
        self.policy
    }

    fn connect(
        &self,
        address: SocketAddr,
    ) -> impl Future<Output = Result<tokio::net::TcpStream, ConnectError>> + MaybeSend {
        let target = self.connection_target(address);
        async move {
            tokio::net::TcpStream::connect(target?)
                .await
                .map_err(|e| ConnectError::Failed(e.to_string()))
        }
    }

    fn sleep(&self, ms: u64) -> impl Future<Output = ()> + MaybeSend {
        tokio::time::sleep(Duration::from_millis(ms))
    }
}

impl<T> NativeNetwork<T> {
    /// Where a connection to `address` really goes: there, or in a loopback
    /// test world, to the fixture port standing in for its port, and only
    /// if it is loopback (mpic-core checked that already; this is the
    /// second lock on the door).
    fn connection_target(&self, address: SocketAddr) -> Result<SocketAddr, ConnectError> {
        mpic_core::network::connection_target(self.policy, self.local, address)
    }
}

#[cfg(test)]
mod tests;
