//! A perspective that misbehaves towards the coordinator: a loopback server
//! put in front of a real (workerd) perspective, answering the coordinator's
//! calls the way a broken, overloaded or hostile perspective, or a network
//! path to it, would.
//!
//! The coordinator is pointed at [`HostilePerspective::url`] instead of the
//! perspective's own URL (`CoordinatorSetup::url_overrides`); it still
//! expects the real perspective's key, so whatever this server answers must
//! survive the coordinator's checks to count, and must not.
//!
//! Every server is bounded: dripping stops after [`MAX_DRIP`] or when the
//! server stops, and it stops when dropped.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::hostile_tcp::{Behaviour, HostileTcp};
use crate::loopback_server::{LoopbackServer, StopSignal, stop_pair};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// How long one byte waits in the dripping behaviours.
pub const DRIP_INTERVAL: Duration = Duration::from_millis(100);
/// No drip lasts longer than this, whatever the client does.
pub const MAX_DRIP: Duration = Duration::from_secs(60);
/// The head [`Misbehaviour::DripHead`] drips: it never reaches the blank
/// line that would end it.
const ENDLESS_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-drip: ";

/// What the server does with each call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Relays the call to the real perspective and its answer back.
    Honest,
    /// Reads the request, then resets the connection (TCP RST).
    Reset,
    /// Answers bytes that are not HTTP, then closes.
    NotHttp,
    /// Sends an HTTP status line and headers one byte per
    /// [`DRIP_INTERVAL`], never finishing the head.
    DripHead,
    /// Relays the real perspective's report, one byte per [`DRIP_INTERVAL`]
    /// (a valid answer that arrives too late).
    DripReport,
    /// HTTP 500 with an error page, like a crashed Worker.
    Http500,
    /// HTTP 200 `application/json` whose body is not a signed report.
    GarbageReport,
    /// Relays the first call and remembers the real perspective's report;
    /// answers every later call with that report: validly signed by the
    /// right key, but for another request.
    ReplayFirstReport,
}

impl Misbehaviour {
    /// Every behaviour that is not [`Misbehaviour::Honest`].
    pub const HOSTILE: [Misbehaviour; 7] = [
        Misbehaviour::Reset,
        Misbehaviour::NotHttp,
        Misbehaviour::DripHead,
        Misbehaviour::DripReport,
        Misbehaviour::Http500,
        Misbehaviour::GarbageReport,
        Misbehaviour::ReplayFirstReport,
    ];

    /// What the behaviours handled below HTTP do on the raw connection.
    fn raw(self) -> Option<Behaviour> {
        match self {
            Misbehaviour::Reset => Some(Behaviour::reset()),
            Misbehaviour::NotHttp => Some(Behaviour::garbage()),
            Misbehaviour::DripHead => {
                let filler = usize::try_from(MAX_DRIP.as_millis() / DRIP_INTERVAL.as_millis())
                    .unwrap_or(usize::MAX);
                let mut head = ENDLESS_HEAD.to_vec();
                head.resize(filler.max(head.len()), b'a');
                Some(Behaviour::drip(head, DRIP_INTERVAL))
            }
            _ => None,
        }
    }
}

/// A running hostile perspective; stops when dropped.
pub struct HostilePerspective {
    addr: SocketAddr,
    behaviour: Misbehaviour,
    calls: Arc<Mutex<usize>>,
    server: Server,
}

enum Server {
    Raw(HostileTcp),
    Http(LoopbackServer),
}

/// Shared by the HTTP behaviours' handlers.
struct RelayState {
    behaviour: Misbehaviour,
    upstream: String,
    client: reqwest::Client,
    first_report: Mutex<Option<Bytes>>,
    calls: Arc<Mutex<usize>>,
    stop: StopSignal,
}

impl HostilePerspective {
    /// Starts a server on 127.0.0.1 that behaves as `behaviour`, relaying
    /// (where it relays) to the perspective at `upstream_base_url`.
    pub async fn start(upstream_base_url: &str, behaviour: Misbehaviour) -> std::io::Result<Self> {
        let calls = Arc::new(Mutex::new(0));
        let (addr, server) = if let Some(raw) = behaviour.raw() {
            let server = HostileTcp::start(Ipv4Addr::LOCALHOST, 0, raw).await?;
            (server.addr(), Server::Raw(server))
        } else {
            let (switch, signal) = stop_pair();
            let client = reqwest::Client::builder()
                .timeout(MAX_DRIP)
                .build()
                .map_err(std::io::Error::other)?;
            let state = Arc::new(RelayState {
                behaviour,
                upstream: format!("{}/v1/check", upstream_base_url.trim_end_matches('/')),
                client,
                first_report: Mutex::new(None),
                calls: calls.clone(),
                stop: signal.clone(),
            });
            let router = Router::new()
                .route("/v1/check", post(relay))
                .with_state(state);
            let server =
                LoopbackServer::serve(Ipv4Addr::LOCALHOST.into(), 0, router, switch, signal)
                    .await?;
            (server.addr(), Server::Http(server))
        };
        Ok(Self {
            addr,
            behaviour,
            calls,
            server,
        })
    }

    /// The base URL to give the coordinator instead of the perspective's.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn behaviour(&self) -> Misbehaviour {
        self.behaviour
    }

    /// Calls (connections, for the raw behaviours) received so far.
    pub fn calls(&self) -> usize {
        match &self.server {
            Server::Raw(server) => server.accepted(),
            Server::Http(_) => *self.calls.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        match self.server {
            Server::Raw(server) => drop(server),
            Server::Http(server) => server.stop().await,
        }
    }
}

fn count(calls: &Mutex<usize>) {
    *calls.lock().unwrap_or_else(PoisonError::into_inner) += 1;
}

async fn relay(State(state): State<Arc<RelayState>>, body: Bytes) -> Response {
    count(&state.calls);
    match state.behaviour {
        Misbehaviour::Http500 => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error 1101: Worker threw exception",
            )
                .into_response();
        }
        Misbehaviour::GarbageReport => {
            return json_response(Bytes::from_static(
                br#"{"version":1,"body":"not base64!","signature":12}"#,
            ));
        }
        Misbehaviour::ReplayFirstReport => {
            let first = state
                .first_report
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            if let Some(report) = first {
                return json_response(report);
            }
        }
        _ => {}
    }
    let answer = match forward(&state, body).await {
        Ok(answer) => answer,
        Err(e) => {
            return (
                StatusCode::BAD_GATEWAY,
                format!("hostile perspective: upstream failed: {e}"),
            )
                .into_response();
        }
    };
    let (status, report) = answer;
    if status != StatusCode::OK {
        return (status, report).into_response();
    }
    match state.behaviour {
        Misbehaviour::ReplayFirstReport => {
            *state
                .first_report
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(report.clone());
            json_response(report)
        }
        Misbehaviour::DripReport => drip(report, state.stop.clone()),
        _ => json_response(report),
    }
}

async fn forward(state: &RelayState, body: Bytes) -> Result<(StatusCode, Bytes), reqwest::Error> {
    let response = state
        .client
        .post(&state.upstream)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await?;
    let status = StatusCode::from_u16(response.status().as_u16())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Ok((status, response.bytes().await?))
}

fn json_response(body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `report` one byte per [`DRIP_INTERVAL`], declared in full up front.
fn drip(report: Bytes, stop: StopSignal) -> Response {
    let length = report.len();
    let started = tokio::time::Instant::now();
    let bytes = futures_util::stream::unfold((report, 0usize), move |(report, at)| {
        let stop = stop.clone();
        async move {
            if started.elapsed() > MAX_DRIP {
                return None;
            }
            let byte = report.get(at..at + 1)?;
            let byte = Bytes::copy_from_slice(byte);
            // A stopped server ends the body short; the client sees an error.
            if !stop.sleep(DRIP_INTERVAL).await {
                return None;
            }
            Some((Ok::<_, std::io::Error>(byte), (report, at + 1)))
        }
    });
    let mut response = json_response(Bytes::new());
    *response.body_mut() = Body::from_stream(bytes);
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response
}
