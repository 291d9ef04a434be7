//! [`Network`] on the Workers `fetch` API: DNS over HTTPS to this
//! perspective's resolvers, and single HTTP GETs with `redirect: manual`
//! (mpic-core follows redirects itself, checking each target first).
//!
//! Every exchange has a deadline (a `setTimeout` raced against the fetch,
//! which is then aborted) and a cap on the bytes read from the body.

use std::net::IpAddr;
use std::time::Duration;

use futures_util::StreamExt as _;
use futures_util::future::{Either, select};
use hickory_proto::rr::RecordType;
use mpic_core::dns;
use mpic_core::dnssec_self_test::DnssecSelfTest;
use mpic_core::doh::{
    DohClient, DohConfig, DohHttpRequest, DohHttpResponse, DohMethod, DohTransport,
};
use mpic_core::network::{
    DnsAnswer, DnsError, HttpError, HttpLimits, HttpResponse, Network, RequestHeaders,
};
use mpic_core::resolver_set::ResolverSet;
use url::Url;
use worker::{
    AbortController, Date, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
    Response,
};

use crate::fetch_failure::FetchFailure;
use crate::settings::Settings;
use mpic_core::loopback::LocalPorts;

/// The perspective's view of the Internet for one check.
pub struct FetchNetwork {
    resolvers: ResolverSet<FetchTransport>,
    local: Option<LocalPorts>,
    deadline_at_ms: u64,
}

impl FetchNetwork {
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

    /// Local mode: where `url` really goes. The host is resolved through this
    /// perspective's own resolver (its view decides which fixture server it
    /// reaches) and must be loopback; ports 80/443 map to the fixture ports.
    async fn local_target(&self, url: &Url, local: &LocalPorts) -> Result<Url, HttpError> {
        let ip: IpAddr = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.into(),
            Some(url::Host::Ipv6(ip)) => ip.into(),
            Some(url::Host::Domain(name)) => {
                let answer = self
                    .dns(name, RecordType::A)
                    .await
                    .map_err(|e| HttpError::Connect(format!("resolving {name}: {e}")))?;
                answer
                    .records
                    .iter()
                    .find_map(dns::ip_addr)
                    .ok_or_else(|| {
                        HttpError::Connect(format!("{name} has no A record ({})", answer.rcode))
                    })?
            }
            None => return Err(HttpError::Refused("URL has no host".into())),
        };
        if !ip.is_loopback() {
            return Err(HttpError::Refused(format!(
                "local mode reaches loopback only, not {ip}"
            )));
        }
        let port = local
            .port_for(url)
            .map_err(|e| HttpError::Refused(e.to_string()))?;
        let mut mapped = url.clone();
        // Fixtures speak plain HTTP on loopback; the scheme the core checked
        // stays in the report (HttpResponse.url is the original URL).
        mapped
            .set_scheme("http")
            .and_then(|()| mapped.set_ip_host(ip).map_err(|_| ()))
            .and_then(|()| mapped.set_port(Some(port)))
            .map_err(|()| HttpError::Refused(format!("cannot map {url} to loopback")))?;
        Ok(mapped)
    }
}

impl Network for FetchNetwork {
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

    async fn http_get(
        &self,
        url: &Url,
        request_headers: &RequestHeaders,
        limits: &HttpLimits,
    ) -> Result<HttpResponse, HttpError> {
        let target = match &self.local {
            Some(local) => self.local_target(url, local).await?,
            None => url.clone(),
        };
        let headers = Headers::new();
        let host = url.host_str().unwrap_or_default();
        let set = |name: &str, value: &str| {
            headers
                .set(name, value)
                .map_err(|e| HttpError::Protocol(format!("header {name}: {e}")))
        };
        if self.local.is_some() {
            set("host", host)?;
        }
        set(
            "user-agent",
            concat!("mpic-perspective/", env!("CARGO_PKG_VERSION")),
        )?;
        set("accept", "*/*")?;
        // The request's own, last, so that its User-Agent wins; framing
        // headers were refused when the request was read.
        for (name, value) in request_headers {
            set(name, value)?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Get)
            .with_headers(headers)
            .with_redirect(RequestRedirect::Manual);
        let request = Request::new_with_init(target.as_str(), &init)
            .map_err(|e| HttpError::Protocol(e.to_string()))?;
        let exchange = bounded_fetch(
            request,
            limits.max_body_bytes,
            limits.timeout_ms,
            self.deadline_at_ms,
        )
        .await
        .map_err(FetchFailure::into_http_error)?;
        Ok(HttpResponse {
            url: url.to_string(),
            status: exchange.status,
            location: exchange.location,
            content_type: exchange.content_type,
            body: exchange.body,
            body_truncated: exchange.truncated,
        })
    }
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
    location: Option<String>,
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
    let location = header("location");
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
        location,
        content_type,
        body,
        truncated,
    })
}
