//! A loopback HTTP server for challenge files and website-change pages,
//! serving per-path rules a test sets at run time.
//!
//! Perspectives reach the "victim" by name, so which server a perspective
//! reaches is decided by its DNS view: start one server per host on the
//! same port but different loopback addresses ([`HttpServer::start_group`]:
//! all of 127.0.0.0/8 is loopback on Linux), serve the honest content on
//! 127.0.0.1 and the attacker's on 127.0.0.2, and give the hijacked view an
//! A record for the name pointing at 127.0.0.2. The URL
//! `http://victim.example:PORT/...` then leads each perspective to the
//! server its view names.

use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::loopback_server::{LoopbackServer, StopSignal, stop_pair};

/// Where ACME http-01 tokens live (RFC 8555 section 8.3).
pub const ACME_CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";
/// Where BR 3.2.2.4.18/19 request tokens and random values live.
pub const PKI_VALIDATION_PREFIX: &str = "/.well-known/pki-validation/";

/// Longest a [`HttpRule::Slow`] body may take.
pub const MAX_SLOW_TOTAL: Duration = Duration::from_secs(120);
/// Largest [`HttpRule::Huge`] body.
pub const MAX_HUGE_BYTES: u64 = 1 << 30;
/// How long a [`HttpRule::Hang`] request is held before HTTP 504.
pub const MAX_HOLD: Duration = Duration::from_secs(60);
/// Most requests remembered by [`HttpServer::requests`] (counts go on).
pub const MAX_LOGGED_REQUESTS: usize = 10_000;
/// Attempts to find a port free on every address of a group.
const GROUP_ATTEMPTS: usize = 16;
/// Chunk size of a huge body.
const HUGE_CHUNK: usize = 64 * 1024;
static FILLER: [u8; HUGE_CHUNK] = [b'x'; HUGE_CHUNK];

/// `/.well-known/acme-challenge/<token>`
pub fn acme_challenge_path(token: &str) -> String {
    format!("{ACME_CHALLENGE_PREFIX}{token}")
}

/// `/.well-known/pki-validation/<file>`
pub fn pki_validation_path(file: &str) -> String {
    format!("{PKI_VALIDATION_PREFIX}{file}")
}

/// What the server does for one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpRule {
    /// This status, content type and body.
    Respond {
        status: u16,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// This status with a `Location` header (the fixture serves any
    /// location it is given: other paths, bad ports, loops).
    Redirect { status: u16, location: String },
    /// 200 with `body` sent `chunk_bytes` at a time, `interval` apart.
    Slow {
        body: Vec<u8>,
        chunk_bytes: usize,
        interval: Duration,
    },
    /// 200 with a `Content-Length` of `len` and that many bytes, streamed.
    Huge { len: u64 },
    /// No response until [`MAX_HOLD`] passes (then 504) or the server stops.
    Hang,
}

impl HttpRule {
    /// 200, `text/plain`, `body`.
    pub fn body(body: impl Into<Vec<u8>>) -> Self {
        HttpRule::Respond {
            status: 200,
            content_type: Some("text/plain".into()),
            body: body.into(),
        }
    }

    /// `status` with an empty body.
    pub fn status(status: u16) -> Self {
        HttpRule::Respond {
            status,
            content_type: None,
            body: Vec::new(),
        }
    }

    /// `status` (301, 302, 307, 308, ...) to `location`.
    pub fn redirect(status: u16, location: impl Into<String>) -> Self {
        HttpRule::Redirect {
            status,
            location: location.into(),
        }
    }

    fn check(&self) -> Result<(), HttpFixtureError> {
        let status = |code: u16| {
            StatusCode::from_u16(code)
                .map(drop)
                .map_err(|_| HttpFixtureError::InvalidStatus(code))
        };
        match self {
            HttpRule::Respond {
                status: code,
                content_type,
                ..
            } => {
                status(*code)?;
                if let Some(value) = content_type {
                    HeaderValue::from_str(value)
                        .map_err(|_| HttpFixtureError::InvalidHeader(value.clone()))?;
                }
            }
            HttpRule::Redirect {
                status: code,
                location,
            } => {
                status(*code)?;
                HeaderValue::from_str(location)
                    .map_err(|_| HttpFixtureError::InvalidHeader(location.clone()))?;
            }
            HttpRule::Slow {
                body,
                chunk_bytes,
                interval,
            } => {
                if *chunk_bytes == 0 {
                    return Err(HttpFixtureError::EmptyChunks);
                }
                let pauses = u32::try_from(body.len().div_ceil(*chunk_bytes).saturating_sub(1))
                    .unwrap_or(u32::MAX);
                let total = interval.saturating_mul(pauses);
                if total > MAX_SLOW_TOTAL {
                    return Err(HttpFixtureError::TooSlow(total));
                }
            }
            HttpRule::Huge { len } => {
                if *len > MAX_HUGE_BYTES {
                    return Err(HttpFixtureError::TooBig(*len));
                }
            }
            HttpRule::Hang => {}
        }
        Ok(())
    }
}

/// A rule the fixture will not serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpFixtureError {
    #[error("{0} is not an HTTP status code")]
    InvalidStatus(u16),
    #[error("{0:?} cannot be a header value")]
    InvalidHeader(String),
    #[error("a slow body needs chunks of at least one byte")]
    EmptyChunks,
    #[error("a slow body would take {0:?}, more than {MAX_SLOW_TOTAL:?}")]
    TooSlow(Duration),
    #[error("a huge body of {0} bytes is more than {MAX_HUGE_BYTES}")]
    TooBig(u64),
    #[error("path {0:?} does not start with /")]
    BadPath(String),
}

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The `Host` header.
    pub host: Option<String>,
}

#[derive(Debug, Default)]
struct Seen {
    counts: BTreeMap<String, usize>,
    log: Vec<SeenRequest>,
}

struct HttpState {
    rules: Mutex<BTreeMap<String, HttpRule>>,
    seen: Mutex<Seen>,
    stop: StopSignal,
}

impl HttpState {
    // Every update below is one map or vector operation, so data behind a
    // lock poisoned by a panicking test is still consistent.
    fn rules(&self) -> MutexGuard<'_, BTreeMap<String, HttpRule>> {
        self.rules.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running HTTP server on one loopback address. Dropping it stops it.
pub struct HttpServer {
    server: LoopbackServer,
    state: Arc<HttpState>,
}

impl HttpServer {
    /// A server on a free port of 127.0.0.1.
    pub async fn start() -> io::Result<Self> {
        Self::start_on(Ipv4Addr::LOCALHOST, 0).await
    }

    /// A server on `ip:port` (`ip` loopback; port 0 for a free one).
    pub async fn start_on(ip: impl Into<std::net::IpAddr>, port: u16) -> io::Result<Self> {
        let (switch, signal) = stop_pair();
        let state = Arc::new(HttpState {
            rules: Mutex::default(),
            seen: Mutex::default(),
            stop: signal.clone(),
        });
        let router = Router::new()
            .fallback(respond)
            .with_state(Arc::clone(&state));
        let server = LoopbackServer::serve(ip.into(), port, router, switch, signal).await?;
        Ok(Self { server, state })
    }

    /// One server per address in `ips`, all on the same free port, so that
    /// one URL reaches whichever address DNS gives.
    pub async fn start_group(ips: &[Ipv4Addr]) -> io::Result<Vec<Self>> {
        let Some((first, rest)) = ips.split_first() else {
            return Ok(Vec::new());
        };
        let mut last_clash = None;
        for _ in 0..GROUP_ATTEMPTS {
            let lead = Self::start_on(*first, 0).await?;
            let port = lead.port();
            let mut servers = vec![lead];
            for ip in rest {
                match Self::start_on(*ip, port).await {
                    Ok(server) => servers.push(server),
                    Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
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
        Err(last_clash.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrInUse)))
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    /// `http://<ip>:<port><path>`
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// `http://<host>:<port><path>`: the URL a perspective fetches, its DNS
    /// view deciding which server `host` is.
    pub fn url_for_host(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.port())
    }

    /// Serves `rule` at `path` (exact match, query ignored).
    pub fn set_rule(&self, path: &str, rule: HttpRule) -> Result<(), HttpFixtureError> {
        if !path.starts_with('/') {
            return Err(HttpFixtureError::BadPath(path.to_owned()));
        }
        rule.check()?;
        self.state.rules().insert(path.to_owned(), rule);
        Ok(())
    }

    /// Serves `body` (200, text/plain) at `path`.
    pub fn serve_body(&self, path: &str, body: impl Into<Vec<u8>>) -> Result<(), HttpFixtureError> {
        self.set_rule(path, HttpRule::body(body))
    }

    /// Stops serving `path` (404).
    pub fn remove_rule(&self, path: &str) {
        self.state.rules().remove(path);
    }

    /// How many requests for `path` arrived.
    pub fn request_count(&self, path: &str) -> usize {
        self.state.seen().counts.get(path).copied().unwrap_or(0)
    }

    /// How many requests arrived.
    pub fn total_requests(&self) -> usize {
        self.state.seen().counts.values().sum()
    }

    /// The first [`MAX_LOGGED_REQUESTS`] requests, in order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.seen().log.clone()
    }

    /// Forgets counts and the log.
    pub fn reset_counts(&self) {
        let mut seen = self.state.seen();
        seen.counts.clear();
        seen.log.clear();
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

async fn respond(
    State(state): State<Arc<HttpState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path().to_owned();
    {
        let mut seen = state.seen();
        *seen.counts.entry(path.clone()).or_default() += 1;
        if seen.log.len() < MAX_LOGGED_REQUESTS {
            seen.log.push(SeenRequest {
                method: method.to_string(),
                path: path.clone(),
                query: uri.query().map(str::to_owned),
                host: headers
                    .get(header::HOST)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned),
            });
        }
    }
    let rule = state.rules().get(&path).cloned();
    let Some(rule) = rule else {
        return (StatusCode::NOT_FOUND, format!("no rule for {path}\n")).into_response();
    };
    // Rules were checked when set; the fallbacks cannot happen.
    let status =
        |code: u16| StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match rule {
        HttpRule::Respond {
            status: code,
            content_type,
            body,
        } => {
            let mut response = (status(code), body).into_response();
            if let Some(value) = content_type.and_then(|v| HeaderValue::from_str(&v).ok()) {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            response
        }
        HttpRule::Redirect {
            status: code,
            location,
        } => {
            let mut response = status(code).into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
        HttpRule::Slow {
            body,
            chunk_bytes,
            interval,
        } => slow_body(state.stop.clone(), Bytes::from(body), chunk_bytes, interval),
        HttpRule::Huge { len } => huge_body(state.stop.clone(), len),
        HttpRule::Hang => {
            state.stop.sleep(MAX_HOLD).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}

/// `body` in chunks with pauses; a stop mid-way breaks the connection
/// rather than end a body that looks complete.
fn slow_body(stop: StopSignal, body: Bytes, chunk_bytes: usize, interval: Duration) -> Response {
    let chunks = futures_util::stream::unfold((body, true), move |(rest, first)| {
        let stop = stop.clone();
        async move {
            if rest.is_empty() {
                return None;
            }
            if !first && !stop.sleep(interval).await {
                return Some((Err(stopping()), (Bytes::new(), false)));
            }
            let mut rest = rest;
            let chunk = rest.split_to(chunk_bytes.min(rest.len()));
            Some((Ok(chunk), (rest, false)))
        }
    });
    (
        [(header::CONTENT_TYPE, "text/plain")],
        Body::from_stream(chunks),
    )
        .into_response()
}

/// `len` filler bytes with a matching `Content-Length`.
fn huge_body(stop: StopSignal, len: u64) -> Response {
    let chunks = futures_util::stream::unfold(len, move |rest| {
        let stop = stop.clone();
        async move {
            if rest == 0 {
                return None;
            }
            if stop.is_stopped() {
                return Some((Err(stopping()), 0));
            }
            let size = usize::try_from(rest).map_or(HUGE_CHUNK, |rest| rest.min(HUGE_CHUNK));
            let chunk = Bytes::from_static(&FILLER).slice(..size);
            Some((Ok(chunk), rest - size as u64))
        }
    });
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (header::CONTENT_LENGTH, HeaderValue::from(len)),
        ],
        Body::from_stream(chunks),
    )
        .into_response()
}

fn stopping() -> io::Error {
    io::Error::other("fixture server stopping")
}
