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

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::loopback_server::{LoopbackServer, StopSignal, StopSwitch, stop_pair};

/// How long one byte waits in the dripping behaviours.
pub const DRIP_INTERVAL: Duration = Duration::from_millis(100);
/// No drip lasts longer than this, whatever the client does.
pub const MAX_DRIP: Duration = Duration::from_secs(60);
/// How much of a request the raw behaviours read before they act.
const MAX_REQUEST_READ: usize = 256 * 1024;
/// How long the raw behaviours wait for the request before acting anyway.
const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(5);

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

    /// Handled below HTTP, on the raw connection.
    fn is_raw(self) -> bool {
        matches!(
            self,
            Misbehaviour::Reset | Misbehaviour::NotHttp | Misbehaviour::DripHead
        )
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
    /// Dropping `switch` stops the connections' tasks too.
    Raw {
        task: JoinHandle<()>,
        switch: StopSwitch,
    },
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
        let (switch, signal) = stop_pair();
        let (addr, server) = if behaviour.is_raw() {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
            let addr = listener.local_addr()?;
            let task = tokio::spawn(serve_raw(listener, behaviour, calls.clone(), signal));
            (addr, Server::Raw { task, switch })
        } else {
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
        *self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        match self.server {
            Server::Raw { task, switch } => {
                switch.flip();
                let _ = task.await;
            }
            Server::Http(server) => server.stop().await,
        }
    }
}

fn count(calls: &Mutex<usize>) {
    *calls.lock().unwrap_or_else(PoisonError::into_inner) += 1;
}

async fn serve_raw(
    listener: TcpListener,
    behaviour: Misbehaviour,
    calls: Arc<Mutex<usize>>,
    stop: StopSignal,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.stopped() => return,
        };
        let Ok((stream, _)) = accepted else { return };
        count(&calls);
        // Connections end with the task when the server stops.
        tokio::spawn(misbehave_raw(stream, behaviour, stop.clone()));
    }
}

async fn misbehave_raw(mut stream: TcpStream, behaviour: Misbehaviour, stop: StopSignal) {
    read_request_head(&mut stream).await;
    match behaviour {
        Misbehaviour::Reset => {
            // Closing with linger 0 sends RST instead of FIN.
            let _ = stream.set_zero_linger();
            drop(stream);
        }
        Misbehaviour::NotHttp => {
            let _ = stream
                .write_all(b"\x00\x01\xffSSH-2.0-not-a-perspective\r\n\x7f\x7f garbage \xc3\x28")
                .await;
            let _ = stream.shutdown().await;
        }
        Misbehaviour::DripHead => {
            let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-drip: ";
            let filler = std::iter::repeat(&b'a');
            let started = tokio::time::Instant::now();
            for byte in head.iter().chain(filler) {
                if started.elapsed() > MAX_DRIP
                    || stream.write_all(&[*byte]).await.is_err()
                    || !stop.sleep(DRIP_INTERVAL).await
                {
                    return;
                }
            }
        }
        _ => {}
    }
}

/// Reads until the end of the request head (or a bound), so the behaviour
/// starts after the coordinator has sent its call.
async fn read_request_head(stream: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let reading = async {
        while seen.len() < MAX_REQUEST_READ {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
            if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(REQUEST_READ_TIMEOUT, reading).await;
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
