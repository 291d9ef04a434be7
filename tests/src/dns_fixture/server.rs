//! The DoH endpoint (RFC 8484 over plain HTTP on loopback).
//!
//! `GET /dns-query[/<view>]?dns=<base64url>` and `POST /dns-query[/<view>]`
//! with `application/dns-message`. Every DNS outcome, whatever its rcode,
//! is HTTP 200 (RFC 8484 section 4.2.1); HTTP errors mean the request
//! itself was bad (400, 404 for an unknown view, 415) or a view fault.

use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hickory_proto::op::{Message, Query, ResponseCode};
use mpic_core::doh::{DNS_MESSAGE_MEDIA_TYPE, get_url_message};

use super::view::{Fault, ViewHandle};
use super::world::DnsWorld;
use crate::loopback_server::{LoopbackServer, StopSignal, stop_pair};

/// The view `/dns-query` serves.
pub const DEFAULT_VIEW: &str = "default";

/// Longest a view fault holds a request ([`Fault::Delay`], [`Fault::Timeout`],
/// [`Fault::Drip`]).
pub const MAX_DELAY: Duration = Duration::from_secs(60);

/// The body length of a [`Fault::Oversized`] answer: one byte more than the
/// largest DNS message.
pub const OVERSIZED_BYTES: usize = mpic_core::dns::MAX_MESSAGE_BYTES + 1;

struct DohState {
    world: DnsWorld,
    views: Mutex<BTreeMap<String, ViewHandle>>,
    stop: StopSignal,
}

impl DohState {
    fn views(&self) -> MutexGuard<'_, BTreeMap<String, ViewHandle>> {
        // Every update is one map insert: a panic cannot leave it half done.
        self.views.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn view(&self, name: &str) -> Option<ViewHandle> {
        self.views().get(name).cloned()
    }

    fn view_or_new(&self, name: &str) -> ViewHandle {
        self.views()
            .entry(name.to_owned())
            .or_insert_with(|| ViewHandle::new(name))
            .clone()
    }
}

/// A running DoH server on `127.0.0.1`. Dropping it stops it.
pub struct DohServer {
    server: LoopbackServer,
    state: Arc<DohState>,
    /// `http://127.0.0.1:PORT/dns-query`
    base_url: url::Url,
}

impl DohServer {
    /// Serves `world` on a free port of 127.0.0.1, with the
    /// [`DEFAULT_VIEW`] ready.
    pub async fn start(world: DnsWorld) -> io::Result<Self> {
        let (switch, signal) = stop_pair();
        let state = Arc::new(DohState {
            world,
            views: Mutex::default(),
            stop: signal.clone(),
        });
        state.view_or_new(DEFAULT_VIEW);
        let router = Router::new()
            .route("/dns-query", get(default_view).post(default_view))
            .route("/dns-query/{view}", get(named_view).post(named_view))
            .with_state(Arc::clone(&state));
        let server =
            LoopbackServer::serve(Ipv4Addr::LOCALHOST.into(), 0, router, switch, signal).await?;
        let base_url = url::Url::parse(&format!("http://{}/dns-query", server.addr()))
            .map_err(|e| io::Error::other(format!("DoH URL: {e}")))?;
        Ok(Self {
            server,
            state,
            base_url,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The DoH URL of `view`, creating the view if needed:
    /// `http://127.0.0.1:PORT/dns-query/<view>` (the name percent-encoded).
    pub fn url_for(&self, view: &str) -> String {
        self.state.view_or_new(view);
        let mut url = self.base_url.clone();
        // An http URL always has path segments.
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.push(view);
        }
        url.to_string()
    }

    /// The view called `name`, created (honest, no overrides) if needed.
    pub fn view(&self, name: &str) -> ViewHandle {
        self.state.view_or_new(name)
    }

    /// The view served at `/dns-query`.
    pub fn default_view(&self) -> ViewHandle {
        self.view(DEFAULT_VIEW)
    }

    /// The base world every view starts from.
    pub fn world(&self) -> &DnsWorld {
        &self.state.world
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

async fn default_view(
    State(state): State<Arc<DohState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(&state, DEFAULT_VIEW, &method, &uri, &headers, body).await
}

async fn named_view(
    State(state): State<Arc<DohState>>,
    Path(view): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(&state, &view, &method, &uri, &headers, body).await
}

async fn answer(
    state: &DohState,
    view: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let Some(view) = state.view(view) else {
        return (StatusCode::NOT_FOUND, format!("no view {view:?}\n")).into_response();
    };
    let query = match query_wire(method, uri, headers, body) {
        Ok(query) => query,
        Err(rejection) => return rejection.into_response(),
    };
    let message = match Message::from_vec(&query) {
        Ok(message) => message,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("not a DNS message: {e}\n")).into_response();
        }
    };
    let [question] = message.queries.as_slice() else {
        return dns_response(
            &query,
            ResponseCode::FormErr,
            Vec::new(),
            false,
            &Shape::default(),
            &state.stop,
        );
    };
    let (qname, qtype) = (question.name().to_lowercase(), question.query_type());

    let checking_disabled = message.metadata.checking_disabled;
    let fault = view.record_question(&qname, qtype);
    let mut shape = Shape::default();
    let mut asked = (query, qname);
    match fault {
        Some(Fault::Delay(delay)) => {
            if !state.stop.sleep(delay.min(MAX_DELAY)).await {
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        }
        Some(Fault::Timeout) => {
            state.stop.sleep(MAX_DELAY).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
        Some(Fault::Malformed) => return dns_body(garbage(&asked.0)),
        Some(Fault::HttpStatus(code)) => {
            return StatusCode::from_u16(code)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response();
        }
        Some(Fault::Truncated) => shape.truncated = true,
        Some(Fault::WrongId) => shape.id = Some(message.metadata.id.wrapping_add(1)),
        Some(Fault::OtherQuestion(other)) => {
            let mut other_query = message;
            other_query.queries = vec![Query::query(other.clone(), qtype)];
            match other_query.to_vec() {
                Ok(wire) => asked = (wire, other),
                Err(e) => {
                    return (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("fixture cannot ask another question: {e}\n"),
                    )
                        .into_response();
                }
            }
        }
        Some(Fault::Drip(interval)) => shape.drip = Some(interval),
        Some(Fault::Oversized) => shape.oversized = true,
        Some(Fault::Rcode(_) | Fault::ExtendedError { .. } | Fault::Bogus) | None => {}
    }
    let (query, qname) = asked;
    let (resolution, extended_error) = view.resolve(&state.world, &qname, qtype, checking_disabled);
    shape.extended_error = extended_error;
    dns_response(
        &query,
        resolution.rcode,
        resolution.answers,
        resolution.authentic_data,
        &shape,
        &state.stop,
    )
}

/// The DNS query of a DoH request, or the HTTP rejection.
fn query_wire(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Vec<u8>, (StatusCode, String)> {
    if method == Method::GET {
        let url = url::Url::parse(&format!("http://doh.invalid{uri}"))
            .map_err(|e| (StatusCode::BAD_REQUEST, format!("bad URL: {e}\n")))?;
        return get_url_message(&url).map_err(|e| (StatusCode::BAD_REQUEST, format!("{e}\n")));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or_default().trim());
    match content_type {
        Some(media) if media.eq_ignore_ascii_case(DNS_MESSAGE_MEDIA_TYPE) => Ok(body.to_vec()),
        _ => Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("POST needs content-type {DNS_MESSAGE_MEDIA_TYPE}\n"),
        )),
    }
}

/// How an answer is spoiled on its way out (all `false`/`None`: honest).
#[derive(Debug, Default)]
struct Shape {
    /// Set TC.
    truncated: bool,
    /// Use this message ID instead of the query's.
    id: Option<u16>,
    /// Send the body one byte per interval.
    drip: Option<Duration>,
    /// Pad the body to [`OVERSIZED_BYTES`].
    oversized: bool,
    /// Attach this RFC 8914 extended error.
    extended_error: Option<u16>,
}

fn dns_response(
    query: &[u8],
    rcode: ResponseCode,
    answers: Vec<hickory_proto::rr::Record>,
    authentic_data: bool,
    shape: &Shape,
    stop: &StopSignal,
) -> Response {
    let encoded = mpic_core::dns::fixture::response_message(query, rcode, answers, authentic_data)
        .and_then(|mut message| {
            message.metadata.truncation = shape.truncated;
            if let Some(info_code) = shape.extended_error {
                mpic_core::dns::fixture::add_extended_error(
                    &mut message,
                    info_code,
                    "loopback fixture",
                );
            }
            if let Some(id) = shape.id {
                message.metadata.id = id;
            }
            message
                .to_vec()
                .map_err(|e| mpic_core::network::DnsError::Malformed(format!("cannot encode: {e}")))
        });
    let mut wire = match encoded {
        Ok(wire) => wire,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("fixture cannot answer: {e}\n"),
            )
                .into_response();
        }
    };
    if shape.oversized && wire.len() < OVERSIZED_BYTES {
        wire.resize(OVERSIZED_BYTES, 0);
    }
    match shape.drip {
        Some(interval) => dripped_dns_body(stop.clone(), wire, interval),
        None => dns_body(wire),
    }
}

/// `wire` one byte per `interval`, with a `Content-Length` (so the client
/// waits for every byte); a stop, or [`MAX_DELAY`] passing, breaks the
/// connection rather than end a body that looks complete.
fn dripped_dns_body(stop: StopSignal, wire: Vec<u8>, interval: Duration) -> Response {
    let len = wire.len();
    let started = tokio::time::Instant::now();
    let bytes = futures_util::stream::unfold((Bytes::from(wire), true), move |(rest, first)| {
        let stop = stop.clone();
        async move {
            if rest.is_empty() {
                return None;
            }
            let cut_off = || io::Error::other("dripped DoH body cut off");
            if !first && (started.elapsed() >= MAX_DELAY || !stop.sleep(interval).await) {
                return Some((Err(cut_off()), (Bytes::new(), false)));
            }
            let mut rest = rest;
            let byte = rest.split_to(1);
            Some((Ok(byte), (rest, false)))
        }
    });
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(DNS_MESSAGE_MEDIA_TYPE),
            ),
            (header::CONTENT_LENGTH, HeaderValue::from(len)),
        ],
        Body::from_stream(bytes),
    )
        .into_response()
}

fn dns_body(wire: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, DNS_MESSAGE_MEDIA_TYPE)], wire).into_response()
}

/// Bytes that start like a response to `query` (its id) but cannot be
/// decoded: a header claiming records that are not there.
fn garbage(query: &[u8]) -> Vec<u8> {
    let mut bytes = query.get(..2).unwrap_or(&[0, 0]).to_vec();
    bytes.extend_from_slice(&[0x81, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff]);
    bytes
}
