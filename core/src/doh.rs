//! DNS over HTTPS (RFC 8484), without the HTTP: a [`DohClient`] builds the
//! request, hands it to a [`DohTransport`] (Workers `fetch` in the worker,
//! reqwest in the coordinator, a table in tests) and checks what comes back.
//!
//! POST is the default method: intermediaries do not cache POST responses,
//! so a perspective sees the resolver's own answer and never a cached HTTP
//! response shared with another perspective (BR 3.2.2.9). GET is offered
//! for resolvers that want it; it uses message id 0 as RFC 8484 section 4.1
//! recommends, so equal questions are equal URLs.

use std::future::Future;

use data_encoding::BASE64URL_NOPAD;
use hickory_proto::rr::RecordType;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::dns::{DnsQuery, ResponseLimits};
use crate::network::{DnsAnswer, DnsError, MaybeSend};

/// The media type of DoH requests and responses (RFC 8484 section 6).
pub const DNS_MESSAGE_MEDIA_TYPE: &str = "application/dns-message";

/// Default deadline for one DoH exchange, in milliseconds.
pub const DEFAULT_DOH_TIMEOUT_MS: u64 = 5_000;

/// How the DNS message travels (RFC 8484 section 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DohMethod {
    /// `?dns=` carries the message, base64url without padding.
    Get,
    /// The body carries the message.
    #[default]
    Post,
}

/// One HTTP request for a transport to send, exactly as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DohHttpRequest {
    /// GET (message in the `dns` parameter) or POST (message in the body).
    pub method: DohMethod,
    /// The full URL; for GET it includes the `dns` parameter.
    pub url: Url,
    /// Headers to send: `accept` always, `content-type` for POST.
    pub headers: Vec<(&'static str, &'static str)>,
    /// The DNS message for POST; empty for GET.
    pub body: Vec<u8>,
    /// The client rejects a longer body, so a transport may stop reading
    /// after `max_response_bytes + 1` bytes.
    pub max_response_bytes: usize,
    /// Deadline for the whole exchange; on expiry return [`DnsError::Timeout`].
    pub timeout_ms: u64,
}

/// What the transport received. Redirects must not be followed: a 3xx is
/// returned as is (and then refused as [`DnsError::HttpStatus`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DohHttpResponse {
    /// The HTTP status code; only 200 is accepted.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The response body: the DNS message, as received (the client refuses
    /// one longer than `max_response_bytes`).
    pub body: Vec<u8>,
}

/// Sends one HTTP request to a DoH resolver.
///
/// Errors are [`DnsError::Timeout`] or [`DnsError::Transport`]: no HTTP
/// response arrived. Any HTTP response, whatever its status, is `Ok`.
pub trait DohTransport {
    /// Sends `request` as given (no redirects followed) and returns the
    /// response, or why none arrived within `request.timeout_ms`.
    fn send(
        &self,
        request: DohHttpRequest,
    ) -> impl Future<Output = Result<DohHttpResponse, DnsError>> + MaybeSend;
}

/// The DNS half of [`crate::network::Network`]: answers one question.
///
/// An implementor of `Network` can delegate `dns()` to a `DnsResolver`.
pub trait DnsResolver {
    /// Same contract as [`crate::network::Network::dns`].
    fn resolve(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> impl Future<Output = Result<DnsAnswer, DnsError>> + MaybeSend;
}

/// Where and how a [`DohClient`] asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DohConfig {
    /// The resolver's URL, e.g. `https://dns.example/dns-query` (a plain URL,
    /// not an RFC 6570 template).
    pub url: Url,
    /// GET or POST (the default, never cached by intermediaries).
    pub method: DohMethod,
    /// Accept an `http:` URL to a loopback host: loopback test fixtures
    /// only. DNS answers decide issuance and must not travel in clear.
    pub allow_insecure_http: bool,
    /// Passed to the transport as [`DohHttpRequest::timeout_ms`].
    pub timeout_ms: u64,
    /// Bounds on the response: message size in bytes, records, alias steps.
    pub limits: ResponseLimits,
}

impl DohConfig {
    /// POST to `url`, https only, default timeout and limits.
    pub fn new(url: Url) -> Self {
        Self {
            url,
            method: DohMethod::default(),
            allow_insecure_http: false,
            timeout_ms: DEFAULT_DOH_TIMEOUT_MS,
            limits: ResponseLimits::default(),
        }
    }
}

/// A resolver URL a [`DohClient`] will not use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DohConfigError {
    /// The URL's scheme (given) is neither `https` nor `http`.
    #[error("DoH URL scheme {0:?} is not https")]
    UnsupportedScheme(String),
    /// An `http:` URL outside a test world, or to a host that is not
    /// loopback.
    #[error(
        "DoH URL scheme \"http\" is not https: plain http is allowed only to loopback \
         (127.0.0.0/8, ::1, localhost) in a test world, as DNS answers decide issuance and \
         must not travel in clear"
    )]
    InsecureHttp,
    /// The URL has no host.
    #[error("DoH URL has no host")]
    MissingHost,
    /// The URL has a user name or password.
    #[error("DoH URL has credentials")]
    Credentials,
    /// The URL has a `#fragment`.
    #[error("DoH URL has a fragment")]
    Fragment,
    /// The URL's query already has a `dns` parameter, which RFC 8484 GET
    /// adds itself.
    #[error("DoH URL already has a dns parameter")]
    DnsParameter,
}

/// The rules every DoH resolver URL follows, wherever it is configured:
/// https, or plain http only when `allow_loopback_http` (a test world) and
/// only to a loopback host ([`crate::loopback`]); a host; no credentials, no
/// fragment, and no `dns` parameter of its own (RFC 8484 adds it).
pub fn check_resolver_url(url: &Url, allow_loopback_http: bool) -> Result<(), DohConfigError> {
    match url.scheme() {
        "https" => {}
        "http" if allow_loopback_http && crate::loopback::is_loopback_url(url) => {}
        "http" => return Err(DohConfigError::InsecureHttp),
        other => return Err(DohConfigError::UnsupportedScheme(other.to_owned())),
    }
    if url.host().is_none() {
        return Err(DohConfigError::MissingHost);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(DohConfigError::Credentials);
    }
    if url.fragment().is_some() {
        return Err(DohConfigError::Fragment);
    }
    if url.query_pairs().any(|(key, _)| key == "dns") {
        return Err(DohConfigError::DnsParameter);
    }
    Ok(())
}

/// An RFC 8484 client for one resolver over transport `T`.
#[derive(Debug, Clone)]
pub struct DohClient<T> {
    transport: T,
    config: DohConfig,
    resolver: String,
}

impl<T: DohTransport> DohClient<T> {
    /// Checks the URL with [`check_resolver_url`].
    pub fn new(transport: T, config: DohConfig) -> Result<Self, DohConfigError> {
        check_resolver_url(&config.url, config.allow_insecure_http)?;
        let resolver = config.url.to_string();
        Ok(Self {
            transport,
            config,
            resolver,
        })
    }

    /// The resolver URL, method, timeout and limits this client uses.
    pub fn config(&self) -> &DohConfig {
        &self.config
    }

    /// The transport that sends this client's HTTP requests.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The resolver as reports name it ([`DnsAnswer::resolver`]): its URL.
    pub fn resolver(&self) -> &str {
        &self.resolver
    }

    /// Asks the resolver about `name` and `rtype` once; see
    /// [`crate::network::Network::dns`] for what `Ok` and `Err` mean.
    ///
    /// The future holds no borrow of the client across the exchange beyond
    /// the transport's own future, so it is `Send` whenever that is, even if
    /// `T` is not `Sync`.
    pub fn query(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> impl Future<Output = Result<DnsAnswer, DnsError>> + MaybeSend {
        self.query_with(name, rtype, false)
    }

    /// [`DohClient::query`] with the CD bit set: the resolver answers
    /// without validating, so not with a validation failure it cached. The
    /// answer says so ([`DnsAnswer::checking_disabled`]); its records are
    /// never the domain's data.
    pub fn query_checking_disabled(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> impl Future<Output = Result<DnsAnswer, DnsError>> + MaybeSend {
        self.query_with(name, rtype, true)
    }

    fn query_with(
        &self,
        name: &str,
        rtype: RecordType,
        checking_disabled: bool,
    ) -> impl Future<Output = Result<DnsAnswer, DnsError>> + MaybeSend {
        let prepared = self
            .prepare(name, rtype, checking_disabled)
            .map(|(query, request)| (query, self.transport.send(request)));
        let resolver = self.resolver.clone();
        let limits = self.config.limits;
        async move {
            let (query, exchange) = prepared?;
            let response = exchange.await?;
            let body = checked_body(response, &limits)?;
            query.parse_response_with_limits(&body, &resolver, &limits)
        }
    }

    fn prepare(
        &self,
        name: &str,
        rtype: RecordType,
        checking_disabled: bool,
    ) -> Result<(DnsQuery, DohHttpRequest), DnsError> {
        let accept = ("accept", DNS_MESSAGE_MEDIA_TYPE);
        let (query, url, headers, body) = match self.config.method {
            DohMethod::Get => {
                let query = DnsQuery::with_flags(name, rtype, 0, checking_disabled)?;
                let url = get_url(&self.config.url, query.wire());
                (query, url, vec![accept], Vec::new())
            }
            DohMethod::Post => {
                let query =
                    DnsQuery::with_flags(name, rtype, crate::dns::random_id(), checking_disabled)?;
                let body = query.wire().to_vec();
                let headers = vec![accept, ("content-type", DNS_MESSAGE_MEDIA_TYPE)];
                (query, self.config.url.clone(), headers, body)
            }
        };
        let request = DohHttpRequest {
            method: self.config.method,
            url,
            headers,
            body,
            max_response_bytes: self.config.limits.max_message_bytes,
            timeout_ms: self.config.timeout_ms,
        };
        Ok((query, request))
    }
}

impl<T: DohTransport> DnsResolver for DohClient<T> {
    fn resolve(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> impl Future<Output = Result<DnsAnswer, DnsError>> + MaybeSend {
        self.query(name, rtype)
    }
}

/// The HTTP-level checks of RFC 8484: status 200, the DNS media type, size.
fn checked_body(response: DohHttpResponse, limits: &ResponseLimits) -> Result<Vec<u8>, DnsError> {
    if response.status != 200 {
        return Err(DnsError::HttpStatus(response.status));
    }
    let essence = response
        .content_type
        .as_deref()
        .map(|value| value.split(';').next().unwrap_or_default().trim());
    match essence {
        Some(media) if media.eq_ignore_ascii_case(DNS_MESSAGE_MEDIA_TYPE) => {}
        Some(media) => {
            return Err(DnsError::Malformed(format!(
                "DoH response content type is {media:?}, not {DNS_MESSAGE_MEDIA_TYPE}"
            )));
        }
        None => {
            return Err(DnsError::Malformed(
                "DoH response has no content type".into(),
            ));
        }
    }
    if response.body.len() > limits.max_message_bytes {
        return Err(DnsError::LimitExceeded(format!(
            "DoH response body is {} bytes, more than {}",
            response.body.len(),
            limits.max_message_bytes
        )));
    }
    Ok(response.body)
}

/// `resolver` with the RFC 8484 `dns` parameter: `message` in base64url
/// without padding. The encoding needs no percent-escapes.
pub fn get_url(resolver: &Url, message: &[u8]) -> Url {
    let mut url = resolver.clone();
    url.query_pairs_mut()
        .append_pair("dns", &BASE64URL_NOPAD.encode(message));
    url
}

/// The DNS message in a GET request's `dns` parameter. For test fixtures
/// (the loopback DoH server).
pub fn get_url_message(url: &Url) -> Result<Vec<u8>, DnsError> {
    let mut values = url
        .query_pairs()
        .filter(|(key, _)| key == "dns")
        .map(|(_, value)| value);
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(DnsError::Malformed(
            "GET URL needs exactly one dns parameter".into(),
        ));
    };
    BASE64URL_NOPAD
        .decode(value.as_bytes())
        .map_err(|e| DnsError::Malformed(format!("dns parameter is not base64url: {e}")))
}

#[cfg(test)]
mod tests;
