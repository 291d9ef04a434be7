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

use crate::network::{HttpError, HttpLimits, HttpResponse, Network, RequestHeaders};

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
    #[error("scheme `{0}` is not http or https")]
    Scheme(String),
    #[error("port {0} is not an authorized port")]
    Port(u16),
    #[error("the URL carries credentials")]
    Credentials,
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
}

/// Why a fetch did not end in an acceptable 2xx.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum FetchError {
    #[error("the URL to fetch is refused: {0}")]
    ForbiddenUrl(UrlRefusal),
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    #[error("redirect status {0} is not 301, 302, 307 or 308")]
    BadRedirectStatus(u16),
    #[error("redirect to a forbidden scheme `{0}`")]
    RedirectToForbiddenScheme(String),
    #[error("redirect to forbidden port {0}")]
    RedirectToForbiddenPort(u16),
    #[error("redirect to a forbidden URL: {0}")]
    RedirectToForbiddenUrl(UrlRefusal),
    #[error("redirect without a Location header")]
    MissingLocation,
    #[error("redirect Location `{0}` is not a URL")]
    BadLocation(String),
    #[error("final status {0} is not 2xx")]
    Non2xx(u16),
    #[error("{header} header is {length} bytes, more than {MAX_HEADER_VALUE_BYTES}")]
    HeaderTooLong { header: String, length: usize },
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
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::HashMap;
    use std::sync::Mutex;

    use hickory_proto::rr::RecordType;

    use super::*;
    use crate::network::{DnsAnswer, DnsError, HttpResponse};

    type Page = Result<(u16, Option<&'static str>, &'static str), HttpError>;

    /// Serves fixed responses by URL and records every URL fetched.
    #[derive(Default)]
    struct FakeWeb {
        pages: HashMap<String, Page>,
        fetched: Mutex<Vec<String>>,
    }

    impl FakeWeb {
        fn page(
            mut self,
            url: &str,
            status: u16,
            location: Option<&'static str>,
            body: &'static str,
        ) -> Self {
            self.pages
                .insert(url.to_owned(), Ok((status, location, body)));
            self
        }
        fn error(mut self, url: &str, error: HttpError) -> Self {
            self.pages.insert(url.to_owned(), Err(error));
            self
        }
    }

    impl Network for FakeWeb {
        async fn dns(&self, _: &str, _: RecordType) -> Result<DnsAnswer, DnsError> {
            Err(DnsError::Transport("no DNS here".into()))
        }
        async fn dns_retry(
            &self,
            _: &str,
            _: RecordType,
            _: &DnsAnswer,
        ) -> Result<DnsAnswer, DnsError> {
            Err(DnsError::Transport("no DNS here".into()))
        }
        async fn dnssec_self_test(&self) -> crate::dnssec_self_test::DnssecSelfTest {
            crate::dnssec_self_test::DnssecSelfTest::without_resolvers()
        }
        async fn http_get(
            &self,
            url: &Url,
            _: &RequestHeaders,
            limits: &HttpLimits,
        ) -> Result<HttpResponse, HttpError> {
            self.fetched.lock().unwrap().push(url.to_string());
            let (status, location, body) = self
                .pages
                .get(url.as_str())
                .cloned()
                .unwrap_or(Ok((404, None, "not found")))?;
            let bytes = body.as_bytes();
            let cut = bytes.len().min(limits.max_body_bytes);
            Ok(HttpResponse {
                url: url.to_string(),
                status,
                location: location.map(str::to_owned),
                content_type: Some("text/plain".into()),
                body: bytes[..cut].to_vec(),
                body_truncated: cut < bytes.len(),
            })
        }
    }

    fn run(web: &FakeWeb, url: &str, policy: &RedirectPolicy) -> HttpFetch {
        pollster::block_on(fetch(
            web,
            &Url::parse(url).unwrap(),
            &RequestHeaders::new(),
            policy,
            &HttpLimits::default(),
        ))
    }

    #[test]
    fn redirect_rules() {
        struct Case {
            name: &'static str,
            web: FakeWeb,
            start: &'static str,
            policy: RedirectPolicy,
            failure: Option<FetchError>,
            fetched: Vec<&'static str>,
        }
        let strict = RedirectPolicy::default();
        let cases = vec![
            Case {
                name: "direct 200",
                web: FakeWeb::default().page("http://a.example/x", 200, None, "ok"),
                start: "http://a.example/x",
                policy: strict.clone(),
                failure: None,
                fetched: vec!["http://a.example/x"],
            },
            Case {
                name: "each followed status",
                web: FakeWeb::default()
                    .page("http://a.example/1", 301, Some("/2"), "")
                    .page("http://a.example/2", 302, Some("https://b.example/3"), "")
                    .page(
                        "https://b.example/3",
                        307,
                        Some("http://c.example:80/4"),
                        "",
                    )
                    .page(
                        "http://c.example/4",
                        308,
                        Some("https://d.example:443/5#frag"),
                        "",
                    )
                    .page("https://d.example/5", 204, None, ""),
                start: "http://a.example/1",
                policy: strict.clone(),
                failure: None,
                fetched: vec![
                    "http://a.example/1",
                    "http://a.example/2",
                    "https://b.example/3",
                    "http://c.example/4",
                    "https://d.example/5",
                ],
            },
            Case {
                name: "relative location resolves against the current URL",
                web: FakeWeb::default()
                    .page("http://a.example/dir/x", 302, Some("y?q=1"), "")
                    .page("http://a.example/dir/y?q=1", 200, None, "ok"),
                start: "http://a.example/dir/x",
                policy: strict.clone(),
                failure: None,
                fetched: vec!["http://a.example/dir/x", "http://a.example/dir/y?q=1"],
            },
            Case {
                name: "303 is not followed",
                web: FakeWeb::default().page("http://a.example/x", 303, Some("/y"), ""),
                start: "http://a.example/x",
                policy: strict.clone(),
                failure: Some(FetchError::BadRedirectStatus(303)),
                fetched: vec!["http://a.example/x"],
            },
            Case {
                name: "300 is not followed",
                web: FakeWeb::default().page("http://a.example/x", 300, Some("/y"), ""),
                start: "http://a.example/x",
                policy: strict.clone(),
                failure: Some(FetchError::BadRedirectStatus(300)),
                fetched: vec!["http://a.example/x"],
            },
            Case {
                name: "redirect to ftp is refused before fetching",
                web: FakeWeb::default().page(
                    "http://a.example/x",
                    301,
                    Some("ftp://a.example/y"),
                    "",
                ),
                start: "http://a.example/x",
                policy: strict.clone(),
                failure: Some(FetchError::RedirectToForbiddenScheme("ftp".into())),
                fetched: vec!["http://a.example/x"],
            },
            Case {
                name: "redirect to port 8080 is refused before fetching",
                web: FakeWeb::default()
                    .page(
                        "http://a.example/x",
                        302,
                        Some("http://a.example:8080/y"),
                        "",
                    )
                    .page("http://a.example:8080/y", 200, None, "ok"),
                start: "http://a.example/x",
                policy: strict.clone(),
                failure: Some(FetchError::RedirectToForbiddenPort(8080)),
                fetched: vec!["http://a.example/x"],
            },
            Case {
                name: "https on port 80 is an authorized port",
                web: FakeWeb::default()
                    .page(
                        "http://a.example/x",
                        302,
                        Some("https://a.example:80/y"),
                        "",
                    )
                    .page("https://a.example:80/y", 200, None, "ok"),
                start: "http://a.example/x",
                policy: strict.clone(),
                failure: None,
                fetched: vec!["http://a.example/x", "https://a.example:80/y"],
            },
            Case {
                name: "redirect with credentials is refused",
                web: FakeWeb::default().page(
                    "http://a.example/x",
                    302,
                    Some("http://u:p@a.example/y"),
                    "",
                ),
                start: "http://a.example/x",
                policy: strict.clone(),
                failure: Some(FetchError::RedirectToForbiddenUrl(UrlRefusal::Credentials)),
                fetched: vec!["http://a.example/x"],
            },
            Case {
                name: "missing location",
                web: FakeWeb::default().page("http://a.example/x", 301, None, ""),
                start: "http://a.example/x",
                policy: strict.clone(),
                failure: Some(FetchError::MissingLocation),
                fetched: vec!["http://a.example/x"],
            },
            Case {
                name: "unparseable location",
                web: FakeWeb::default().page("http://a.example/x", 301, Some("http://[bad/"), ""),
                start: "http://a.example/x",
                policy: strict.clone(),
                failure: Some(FetchError::BadLocation("http://[bad/".into())),
                fetched: vec!["http://a.example/x"],
            },
            Case {
                name: "loop stops after the limit",
                web: FakeWeb::default()
                    .page("http://a.example/a", 302, Some("/b"), "")
                    .page("http://a.example/b", 302, Some("/a"), ""),
                start: "http://a.example/a",
                policy: strict.clone(),
                failure: Some(FetchError::TooManyRedirects(10)),
                fetched: ["http://a.example/a", "http://a.example/b"]
                    .into_iter()
                    .cycle()
                    .take(11)
                    .collect(),
            },
            Case {
                name: "final 404",
                web: FakeWeb::default().page("http://a.example/x", 302, Some("/y"), ""),
                start: "http://a.example/x",
                policy: strict.clone(),
                failure: Some(FetchError::Non2xx(404)),
                fetched: vec!["http://a.example/x", "http://a.example/y"],
            },
            Case {
                name: "final 500",
                web: FakeWeb::default().page("http://a.example/x", 500, None, "oops"),
                start: "http://a.example/x",
                policy: strict.clone(),
                failure: Some(FetchError::Non2xx(500)),
                fetched: vec!["http://a.example/x"],
            },
            Case {
                name: "transport error",
                web: FakeWeb::default().error("http://a.example/x", HttpError::Timeout),
                start: "http://a.example/x",
                policy: strict.clone(),
                failure: Some(FetchError::Http(HttpError::Timeout)),
                fetched: vec!["http://a.example/x"],
            },
            Case {
                name: "forbidden start URL is never fetched",
                web: FakeWeb::default().page("http://127.0.0.1:8080/x", 200, None, "ok"),
                start: "http://127.0.0.1:8080/x",
                policy: strict.clone(),
                failure: Some(FetchError::ForbiddenUrl(UrlRefusal::Port(8080))),
                fetched: vec![],
            },
            Case {
                name: "local policy allows the listed port only",
                web: FakeWeb::default()
                    .page(
                        "http://127.0.0.1:8080/x",
                        302,
                        Some("http://127.0.0.1:80/y"),
                        "",
                    )
                    .page("http://127.0.0.1/y", 200, None, "ok"),
                start: "http://127.0.0.1:8080/x",
                policy: RedirectPolicy::local(vec![8080]),
                failure: Some(FetchError::RedirectToForbiddenPort(80)),
                fetched: vec!["http://127.0.0.1:8080/x"],
            },
            Case {
                name: "local policy follows between listed ports",
                web: FakeWeb::default()
                    .page(
                        "http://127.0.0.1:8080/x",
                        302,
                        Some("http://127.0.0.1:8081/y"),
                        "",
                    )
                    .page("http://127.0.0.1:8081/y", 200, None, "ok"),
                start: "http://127.0.0.1:8080/x",
                policy: RedirectPolicy::local(vec![8080, 8081]),
                failure: None,
                fetched: vec!["http://127.0.0.1:8080/x", "http://127.0.0.1:8081/y"],
            },
        ];
        for case in cases {
            let report = run(&case.web, case.start, &case.policy);
            assert_eq!(report.failure, case.failure, "{}", case.name);
            assert_eq!(report.succeeded(), case.failure.is_none(), "{}", case.name);
            assert_eq!(
                *case.web.fetched.lock().unwrap(),
                case.fetched,
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn report_carries_history_and_bounded_body() {
        let web = FakeWeb::default()
            .page("http://a.example/x", 301, Some("/y"), "moved")
            .page("http://a.example/y", 200, None, "0123456789");
        let limits = HttpLimits {
            max_body_bytes: 4,
            timeout_ms: 1000,
        };
        let report = pollster::block_on(fetch(
            &web,
            &Url::parse("http://a.example/x").unwrap(),
            &RequestHeaders::new(),
            &RedirectPolicy::default(),
            &limits,
        ));
        assert_eq!(
            report.history,
            [RedirectHop {
                url: "http://a.example/x".into(),
                status: 301,
                location: Some("/y".into())
            }]
        );
        assert_eq!(report.final_url, "http://a.example/y");
        assert_eq!(report.final_status, Some(200));
        assert_eq!(report.body, b"0123");
        assert!(report.body_truncated);
        assert!(report.succeeded());
    }

    #[test]
    fn oversized_headers_fail_the_fetch() {
        let long_location: &'static str =
            Box::leak(format!("/{}", "a".repeat(MAX_HEADER_VALUE_BYTES)).into_boxed_str());
        let at_limit: &'static str =
            Box::leak(format!("/{}", "b".repeat(MAX_HEADER_VALUE_BYTES - 1)).into_boxed_str());
        let web = FakeWeb::default()
            .page("http://a.example/long", 302, Some(long_location), "")
            .page("http://a.example/limit", 302, Some(at_limit), "")
            .page(&format!("http://a.example{at_limit}"), 200, None, "ok");
        let report = run(&web, "http://a.example/long", &RedirectPolicy::default());
        assert_eq!(
            report.failure,
            Some(FetchError::HeaderTooLong {
                header: "Location".into(),
                length: MAX_HEADER_VALUE_BYTES + 1
            })
        );
        assert!(report.history.is_empty(), "the long value is not kept");
        assert!(run(&web, "http://a.example/limit", &RedirectPolicy::default()).succeeded());
    }

    #[test]
    fn exactly_max_redirects_is_allowed() {
        let mut web = FakeWeb::default();
        let urls: Vec<String> = (0..=3).map(|i| format!("http://a.example/{i}")).collect();
        let locations = ["/1", "/2", "/3"];
        for (i, location) in locations.iter().enumerate() {
            web = web.page(&urls[i], 302, Some(location), "");
        }
        web = web.page(&urls[3], 200, None, "ok");
        let policy = RedirectPolicy {
            allowed_ports: PortRule::Authorized,
            max_redirects: 3,
        };
        assert!(run(&web, "http://a.example/0", &policy).succeeded());
        let policy = RedirectPolicy {
            allowed_ports: PortRule::Authorized,
            max_redirects: 2,
        };
        assert_eq!(
            run(&web, "http://a.example/0", &policy).failure,
            Some(FetchError::TooManyRedirects(2))
        );
    }
}
