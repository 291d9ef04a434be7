//! HTTP GET that follows redirects itself, under the BR's rules.
//!
//! [`Network::http_get`] never follows redirects, so every hop passes through
//! [`fetch`], which checks the next URL *before* it is fetched (BR 3.2.2.4.18,
//! 3.2.2.4.19): only 301/302/307/308 are followed, only to `http`/`https` URLs
//! on an authorized port (80 or 443, explicit or implicit), at most
//! [`RedirectPolicy::max_redirects`] times (which also bounds loops). Only a
//! final 2xx answer passes. The whole history is kept for the report.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::network::{Contacted, HttpError, HttpLimits, HttpResponse, Network, RequestHeaders};

/// Redirects followed at most by default.
pub const DEFAULT_MAX_REDIRECTS: usize = 10;

/// Longest `Location` or `Content-Type` value accepted, in bytes. Both go
/// into the report for every hop; real values are far shorter (URLs rarely
/// pass 2 KiB), and the bound keeps a hostile server from filling reports.
/// A longer value fails the fetch ([`FetchError::HeaderTooLong`]).
pub const MAX_HEADER_VALUE_BYTES: usize = 8 * 1024;

/// Which ports a fetched URL may use.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", content = "ports", rename_all = "snake_case")]
pub enum PortRule {
    /// The BR's Authorized Ports: 80 and 443 only.
    #[default]
    Authorized,
    /// Exactly these ports (loopback test fixtures run on random ports).
    /// Never for production perspectives.
    Listed(Vec<u16>),
}

impl PortRule {
    /// Whether `port` may be fetched.
    pub fn allows(&self, port: u16) -> bool {
        match self {
            PortRule::Authorized => port == 80 || port == 443,
            PortRule::Listed(ports) => ports.contains(&port),
        }
    }
}

/// The rules every fetched URL must meet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectPolicy {
    /// Ports the first URL and every redirect target may use.
    pub allowed_ports: PortRule,
    /// Redirects followed at most; one more is [`FetchError::TooManyRedirects`].
    pub max_redirects: usize,
}

impl Default for RedirectPolicy {
    /// The production policy: ports 80/443, 10 redirects.
    fn default() -> Self {
        Self {
            allowed_ports: PortRule::Authorized,
            max_redirects: DEFAULT_MAX_REDIRECTS,
        }
    }
}

impl RedirectPolicy {
    /// A policy for local fixtures: exactly `ports`, 10 redirects.
    pub fn local(ports: Vec<u16>) -> Self {
        Self {
            allowed_ports: PortRule::Listed(ports),
            max_redirects: DEFAULT_MAX_REDIRECTS,
        }
    }

    /// Check a URL before it is fetched.
    pub fn check_url(&self, url: &Url) -> Result<(), UrlRefusal> {
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(UrlRefusal::Scheme(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlRefusal::Credentials);
        }
        if url.host().is_none() {
            return Err(UrlRefusal::NoHost);
        }
        // http/https always have a known default port.
        let port = url.port_or_known_default().unwrap_or(0);
        if !self.allowed_ports.allows(port) {
            return Err(UrlRefusal::Port(port));
        }
        Ok(())
    }
}

/// Why a URL may not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum UrlRefusal {
    /// The scheme (given) is neither `http` nor `https`.
    #[error("scheme `{0}` is not http or https")]
    Scheme(String),
    /// The port (explicit or the scheme's default) is not allowed by the
    /// policy's [`PortRule`].
    #[error("port {0} is not an authorized port")]
    Port(u16),
    /// The URL has a user name or password (`http://user:pw@host/`).
    #[error("the URL carries credentials")]
    Credentials,
    /// The URL has no host.
    #[error("the URL has no host")]
    NoHost,
}

/// One response that redirected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectHop {
    /// The URL fetched.
    pub url: String,
    /// Its status.
    pub status: u16,
    /// Its `Location` header as sent, if any.
    pub location: Option<String>,
    /// Where the exchange went (resolver, address, port, TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacted: Option<Contacted>,
}

/// Why a fetch did not end in an acceptable 2xx.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum FetchError {
    /// The first URL itself breaks the policy; nothing was fetched.
    #[error("the URL to fetch is refused: {0}")]
    ForbiddenUrl(UrlRefusal),
    /// The chain had more redirects than the policy's `max_redirects` (the
    /// limit is given).
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    /// A 3xx status that is not followed (e.g. 300, 303, 304, 305).
    #[error("redirect status {0} is not 301, 302, 307 or 308")]
    BadRedirectStatus(u16),
    /// A redirect to a scheme other than `http`/`https` (the scheme given).
    #[error("redirect to a forbidden scheme `{0}`")]
    RedirectToForbiddenScheme(String),
    /// A redirect to a port the policy does not allow.
    #[error("redirect to forbidden port {0}")]
    RedirectToForbiddenPort(u16),
    /// A redirect to a URL with credentials or without a host.
    #[error("redirect to a forbidden URL: {0}")]
    RedirectToForbiddenUrl(UrlRefusal),
    /// A followed redirect status without a `Location` header.
    #[error("redirect without a Location header")]
    MissingLocation,
    /// The `Location` header (given as sent) does not resolve to a URL.
    #[error("redirect Location `{0}` is not a URL")]
    BadLocation(String),
    /// The final response's status (given) is neither 2xx nor 3xx.
    #[error("final status {0} is not 2xx")]
    Non2xx(u16),
    /// A response's `Location` or `Content-Type` is longer than
    /// [`MAX_HEADER_VALUE_BYTES`].
    #[error("{header} header is {length} bytes, more than {MAX_HEADER_VALUE_BYTES}")]
    HeaderTooLong {
        /// The header's name, `Location` or `Content-Type`.
        header: String,
        /// Its value's length in bytes.
        length: usize,
    },
    /// No HTTP response: the perspective could not look.
    #[error("HTTP failed: {0}")]
    Http(HttpError),
}

impl FetchError {
    /// The perspective could not look (no HTTP answer), as opposed to having
    /// looked and found something unacceptable.
    pub fn is_transport_failure(&self) -> bool {
        matches!(self, FetchError::Http(_))
    }
}

/// Everything one fetch saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpFetch {
    /// The first URL.
    pub url: String,
    /// Each redirecting response, in order, starting with the first URL.
    pub history: Vec<RedirectHop>,
    /// The URL of the last response (or of the last attempt).
    pub final_url: String,
    /// The last response's status, if one arrived.
    pub final_status: Option<u16>,
    /// Where the last exchange went, if a response arrived.
    pub contacted: Option<Contacted>,
    /// The last response's `Content-Type` header, if it had one; `None` too
    /// when the fetch ended on a redirect or without a response.
    pub content_type: Option<String>,
    /// The last response's body, at most `HttpLimits::max_body_bytes`.
    pub body: Vec<u8>,
    /// The body was longer and was cut.
    pub body_truncated: bool,
    /// `None` exactly when the final response is 2xx under the policy.
    pub failure: Option<FetchError>,
}

impl HttpFetch {
    /// Whether the fetch ended in a 2xx under the policy.
    pub fn succeeded(&self) -> bool {
        self.failure.is_none() && self.final_status.is_some_and(|s| (200..300).contains(&s))
    }
}

fn is_followed_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 307 | 308)
}

/// The first header the report would carry that is longer than
/// [`MAX_HEADER_VALUE_BYTES`], with its length.
fn oversized_header(response: &HttpResponse) -> Option<(&'static str, usize)> {
    [
        ("Location", &response.location),
        ("Content-Type", &response.content_type),
    ]
    .into_iter()
    .find_map(|(name, value)| {
        value
            .as_ref()
            .map(String::len)
            .filter(|&length| length > MAX_HEADER_VALUE_BYTES)
            .map(|length| (name, length))
    })
}

/// GET `url`, following redirects under `policy`; never fetches a URL the
/// policy refuses.
pub async fn fetch<N: Network>(
    network: &N,
    url: &Url,
    headers: &RequestHeaders,
    policy: &RedirectPolicy,
    limits: &HttpLimits,
) -> HttpFetch {
    let mut report = HttpFetch {
        url: url.to_string(),
        history: Vec::new(),
        final_url: url.to_string(),
        final_status: None,
        contacted: None,
        content_type: None,
        body: Vec::new(),
        body_truncated: false,
        failure: None,
    };
    if let Err(refusal) = policy.check_url(url) {
        report.failure = Some(FetchError::ForbiddenUrl(refusal));
        return report;
    }
    let mut current = url.clone();
    loop {
        report.final_url = current.to_string();
        let response = match network.http_get(&current, headers, limits).await {
            Ok(response) => response,
            Err(error) => {
                report.failure = Some(FetchError::Http(error));
                return report;
            }
        };
        report.final_status = Some(response.status);
        report.contacted = response.contacted.clone();
        if let Some((header, length)) = oversized_header(&response) {
            report.failure = Some(FetchError::HeaderTooLong {
                header: header.to_owned(),
                length,
            });
            return report;
        }
        if (200..300).contains(&response.status) {
            report.content_type = response.content_type;
            report.body = response.body;
            report.body_truncated = response.body_truncated;
            return report;
        }
        if !(300..400).contains(&response.status) {
            report.content_type = response.content_type;
            report.body = response.body;
            report.body_truncated = response.body_truncated;
            report.failure = Some(FetchError::Non2xx(response.status));
            return report;
        }
        report.history.push(RedirectHop {
            url: current.to_string(),
            status: response.status,
            location: response.location.clone(),
            contacted: response.contacted.clone(),
        });
        if !is_followed_redirect(response.status) {
            report.failure = Some(FetchError::BadRedirectStatus(response.status));
            return report;
        }
        if report.history.len() > policy.max_redirects {
            report.failure = Some(FetchError::TooManyRedirects(policy.max_redirects));
            return report;
        }
        let Some(location) = response.location else {
            report.failure = Some(FetchError::MissingLocation);
            return report;
        };
        let mut next = match current.join(location.trim()) {
            Ok(next) => next,
            Err(_) => {
                report.failure = Some(FetchError::BadLocation(location));
                return report;
            }
        };
        // Fragments are never sent; drop them so history shows what was fetched.
        next.set_fragment(None);
        if let Err(refusal) = policy.check_url(&next) {
            report.failure = Some(match refusal {
                UrlRefusal::Scheme(scheme) => FetchError::RedirectToForbiddenScheme(scheme),
                UrlRefusal::Port(port) => FetchError::RedirectToForbiddenPort(port),
                other => FetchError::RedirectToForbiddenUrl(other),
            });
            report.final_url = next.to_string();
            return report;
        }
        current = next;
    }
}

#[cfg(test)]
mod tests;
