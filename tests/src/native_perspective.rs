//! A remote perspective as a native loopback HTTP server, answering
//! `POST /v1/check` through the worker's own [`Responder`] (authenticate,
//! admit the nonce once, parse, refuse a call meant for another perspective,
//! really run the check over a [`LoopbackNetwork`], DNS through one DoH
//! fixture view, and sign the report).
//!
//! It is much cheaper than a workerd perspective, so a test can run many of
//! them under load. A perspective can also be made to misbehave
//! ([`Behaviour`]): answer HTTP 500, never answer, or reset the connection.
//!
//! HTTP fetches (DCV `http-01`, `file`) go to the port the URL names (80 or
//! 443) of the address the view gives; loopback tests that need them use the
//! workerd perspectives, whose local mode maps those ports.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ed25519_dalek::{SigningKey, VerifyingKey};
use mpic_coordinator::now_ms;
use mpic_core::dcv::DcvContext;
use mpic_core::location::Location;
use mpic_core::perspective::{Identity, Vantage};
use mpic_core::responder::{
    DEFAULT_CHECK_DEADLINE_MS, MAX_REQUEST_BYTES, Refusal, Responder, ResponderSettings,
};
use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};

use crate::doh_client::DohClientError;
use crate::loopback_network::LoopbackNetwork;
use crate::loopback_server::{LoopbackServer, STOP_GRACE, StopSignal, StopSwitch, stop_pair};
use crate::world::Site;

/// Request timestamps accepted this far either side of now (the worker's
/// default `REQUEST_MAX_SKEW_MS`).
pub const MAX_SKEW_MS: u64 = 30_000;
/// Nonces remembered: a nonce stays for [`MAX_SKEW_MS`] after its request's
/// timestamp, so this admits a sustained ~4,000 calls a second per
/// perspective, more than a loopback test on a small machine sends.
pub const REPLAY_CAPACITY: usize = 262_144;
/// Checks one perspective runs at once; the others wait their turn, as on a
/// server with a bounded pool. Each running check holds a DoH connection or
/// two: unbounded, 1,000 concurrent checks open thousands of them.
pub const MAX_CONCURRENT_CHECKS: usize = 64;
/// Longest a [`Behaviour::Reset`] perspective waits for the first bytes of a
/// request before resetting anyway.
const RESET_READ_WAIT: Duration = Duration::from_secs(5);

/// How a perspective treats `POST /v1/check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Does the check and answers with a signed report.
    Honest,
    /// Answers every check with HTTP 500 (a crashed or misconfigured worker).
    ServerError,
    /// Reads the request and never answers; the connection stays open until
    /// the client gives up or the server stops.
    Hang,
    /// Reads the first bytes of the request, then resets the connection
    /// (TCP RST).
    Reset,
}

/// Everything a perspective needs.
#[derive(Debug, Clone)]
pub struct PerspectiveSetup {
    pub identity: Identity,
    /// Signs its reports.
    pub key: SigningKey,
    /// The coordinator keys whose requests it accepts.
    pub coordinator_keys: Vec<VerifyingKey>,
    /// The DoH fixture view it resolves through.
    pub doh_url: String,
    pub behaviour: Behaviour,
}

impl PerspectiveSetup {
    /// The perspective at `site` of a test world: its id, RIR, region and
    /// coordinates from the site; signing with `key`; accepting calls signed
    /// by the tests' coordinator key; resolving through `doh_url`.
    pub fn at_site(site: &Site, key: SigningKey, doh_url: String, behaviour: Behaviour) -> Self {
        Self {
            identity: Identity {
                perspective_id: site.id.to_owned(),
                rir: site.rir,
                location: Location {
                    region: site.region.to_owned(),
                    coordinates: site.coordinates(),
                },
            },
            key,
            coordinator_keys: vec![crate::keys::coordinator().verifying_key()],
            doh_url,
            behaviour,
        }
    }
}

/// Why a perspective could not start.
#[derive(Debug, thiserror::Error)]
pub enum NativePerspectiveError {
    #[error("cannot listen: {0}")]
    Io(#[from] io::Error),
    #[error("cannot make the perspective's network: {0}")]
    Network(#[from] DohClientError),
}

/// What a perspective has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// `POST /v1/check` requests (or, for [`Behaviour::Hang`] and
    /// [`Behaviour::Reset`], connections) received.
    pub received: usize,
    /// Signed reports sent.
    pub reports: usize,
    /// Requests refused with a 4xx or 503: unauthenticated, replayed,
    /// malformed, or meant for another perspective.
    pub refused: usize,
}

#[derive(Debug, Default)]
struct Counters {
    received: AtomicUsize,
    reports: AtomicUsize,
    refused: AtomicUsize,
}

impl Counters {
    fn snapshot(&self) -> CallCounts {
        CallCounts {
            received: self.received.load(Ordering::Relaxed),
            reports: self.reports.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
}

/// A running perspective on `127.0.0.1:<free port>`. Dropping it stops it.
pub struct NativePerspective {
    addr: SocketAddr,
    behaviour: Behaviour,
    counters: Arc<Counters>,
    server: Server,
}

enum Server {
    Http(LoopbackServer),
    /// A raw TCP server for what an HTTP server will not do (never answer,
    /// reset); dropping the switch stops it.
    Raw {
        switch: StopSwitch,
        task: JoinHandle<()>,
    },
}

impl NativePerspective {
    /// Starts serving `setup` on a free port of 127.0.0.1.
    pub async fn start(setup: PerspectiveSetup) -> Result<Self, NativePerspectiveError> {
        let counters = Arc::new(Counters::default());
        let behaviour = setup.behaviour;
        let (switch, signal) = stop_pair();
        let (addr, server) = match behaviour {
            Behaviour::Honest | Behaviour::ServerError => {
                let state = Arc::new(HandlerState {
                    network: LoopbackNetwork::new(&setup.doh_url)?,
                    responder: Responder::new(ResponderSettings {
                        identity: setup.identity.clone(),
                        signing_key: setup.key.clone(),
                        coordinator_keys: setup.coordinator_keys.clone(),
                        max_skew_ms: MAX_SKEW_MS,
                        replay_capacity: REPLAY_CAPACITY,
                        check_deadline_ms: DEFAULT_CHECK_DEADLINE_MS,
                    }),
                    setup,
                    running: Semaphore::new(MAX_CONCURRENT_CHECKS),
                    counters: Arc::clone(&counters),
                });
                let router = Router::new()
                    .route("/v1/check", post(check))
                    .route("/v1/identity", get(identity))
                    .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
                    .with_state(state);
                let http =
                    LoopbackServer::serve(Ipv4Addr::LOCALHOST.into(), 0, router, switch, signal)
                        .await?;
                (http.addr(), Server::Http(http))
            }
            Behaviour::Hang | Behaviour::Reset => {
                let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
                let addr = listener.local_addr()?;
                let task = tokio::spawn(serve_raw(
                    listener,
                    behaviour,
                    signal,
                    Arc::clone(&counters),
                ));
                (addr, Server::Raw { switch, task })
            }
        };
        Ok(Self {
            addr,
            behaviour,
            counters,
            server,
        })
    }

    /// `http://127.0.0.1:<port>`: the perspective's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn behaviour(&self) -> Behaviour {
        self.behaviour
    }

    /// What it has done so far.
    pub fn counts(&self) -> CallCounts {
        self.counters.snapshot()
    }

    /// Stops serving and waits until it has: at most [`STOP_GRACE`] for
    /// checks in flight; hung connections close at once.
    pub async fn stop(self) {
        match self.server {
            Server::Http(http) => http.stop().await,
            Server::Raw { switch, task } => {
                drop(switch);
                // The task ends itself within STOP_GRACE of the stop.
                let _ = task.await;
            }
        }
    }
}

struct HandlerState {
    setup: PerspectiveSetup,
    network: LoopbackNetwork,
    responder: Responder,
    /// One permit per running check ([`MAX_CONCURRENT_CHECKS`]).
    running: Semaphore,
    counters: Arc<Counters>,
}

impl HandlerState {
    fn refuse(&self, refusal: &Refusal) -> Response {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
        error_response(status(refusal), refusal.kind(), refusal.to_string())
    }
}

/// The worker's error body: `{"error": <kind>, "detail": <text>}`.
fn error_response(status: StatusCode, error: &str, detail: String) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": error, "detail": detail })),
    )
        .into_response()
}

async fn check(State(state): State<Arc<HandlerState>>, body: Bytes) -> Response {
    state.counters.received.fetch_add(1, Ordering::Relaxed);
    let setup = &state.setup;
    if setup.behaviour == Behaviour::ServerError {
        return error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "this perspective is broken on purpose".into(),
        );
    }
    // Authentication, replay guard, parsing and routing come first, as in
    // the worker (mpic_core::responder).
    let admitted = match state.responder.admit(&body, now_ms()) {
        Ok(admitted) => admitted,
        Err(refusal) => return state.refuse(&refusal),
    };
    // A client that gives up while this waits closes the connection, and the
    // server drops this handler: waiting needs no bound of its own.
    let Ok(_permit) = state.running.acquire().await else {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the perspective is stopping".into(),
        );
    };
    let context = DcvContext::new(now_ms() / 1000);
    let backstop = tokio::time::sleep(state.responder.backstop_after());
    let answer = state
        .responder
        .run(
            admitted,
            &state.network,
            &context,
            Vantage {
                resolvers: vec![setup.doh_url.clone()],
                data_center: None,
            },
            backstop,
            now_ms,
        )
        .await;
    match answer {
        Ok(answer) => {
            state.counters.reports.fetch_add(1, Ordering::Relaxed);
            axum::Json(answer.report).into_response()
        }
        Err(refusal) => error_response(status(&refusal), refusal.kind(), refusal.to_string()),
    }
}

fn status(refusal: &Refusal) -> StatusCode {
    StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// `GET /v1/identity`, as the worker answers it in local mode.
async fn identity(State(state): State<Arc<HandlerState>>) -> Response {
    let setup = &state.setup;
    let body = serde_json::json!({
        "perspective_ids": [setup.identity.perspective_id],
        "rir": setup.identity.rir,
        "region": setup.identity.location.region,
        "coordinates": setup.identity.location.coordinates,
        "public_key": mpic_core::keys::format_verifying_key(&setup.key.verifying_key()),
        "code_version": env!("CARGO_PKG_VERSION"),
        "resolvers": [setup.doh_url],
        "mode": "local",
    });
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

/// Accepts until stopped; each connection misbehaves in its own task.
async fn serve_raw(
    listener: TcpListener,
    behaviour: Behaviour,
    signal: StopSignal,
    counters: Arc<Counters>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    counters.received.fetch_add(1, Ordering::Relaxed);
                    connections.spawn(misbehave(stream, behaviour, signal.clone()));
                }
                // Out of file descriptors, or the peer gave up before the
                // accept: back off a little, unless stopping.
                Err(_) => {
                    if !signal.sleep(Duration::from_millis(10)).await {
                        break;
                    }
                }
            },
            () = signal.stopped() => break,
        }
        // Reap finished connections, so the set holds only open ones.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    // Every connection watches the signal and ends at once; the bound is for
    // safety. Dropping the set aborts whatever is left.
    let _ = tokio::time::timeout(STOP_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}

async fn misbehave(mut stream: TcpStream, behaviour: Behaviour, signal: StopSignal) {
    let mut buffer = [0u8; 4096];
    match behaviour {
        Behaviour::Reset => {
            tokio::select! {
                _ = tokio::time::timeout(RESET_READ_WAIT, stream.read(&mut buffer)) => {}
                () = signal.stopped() => {}
            }
            // Closing with a zero linger sends RST instead of FIN.
            let _ = stream.set_zero_linger();
        }
        // Read and discard until the client closes or the server stops.
        Behaviour::Hang | Behaviour::Honest | Behaviour::ServerError => loop {
            tokio::select! {
                read = stream.read(&mut buffer) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                },
                () = signal.stopped() => break,
            }
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Instant;

    use mpic_core::location::Location;
    use mpic_core::perspective::{CheckCall, CheckObservation};
    use mpic_core::report::Verdict;
    use mpic_core::request_auth::{RequestEnvelope, sign_request};
    use mpic_core::rir::Rir;

    use super::*;
    use crate::dns_fixture::{DnsWorld, DohServer};
    use crate::keys;
    use crate::perspective_client::{self, fresh_nonce, now_ms};

    const ZONE: &str = "$ORIGIN example.\n$TTL 60\n@ SOA ns hm 1 1 1 1 1\n\
                        permitted CAA 0 issue \"ca.example\"\n\
                        forbidden CAA 0 issue \"other.example\"\n";

    fn setup(dns: &DohServer, behaviour: Behaviour) -> PerspectiveSetup {
        PerspectiveSetup {
            identity: Identity {
                perspective_id: "p1".into(),
                rir: Rir::RipeNcc,
                location: Location {
                    region: "Dublin".into(),
                    coordinates: None,
                },
            },
            key: keys::perspective(1),
            coordinator_keys: vec![keys::coordinator().verifying_key()],
            doh_url: dns.url_for("p1"),
            behaviour,
        }
    }

    fn caa_call(perspective_id: &str, domain: &str) -> CheckCall {
        CheckCall::from_json(
            format!(
                r#"{{"perspective_ids":["{perspective_id}"],"attempt":1,"check":{{"check_type":"caa","domain_or_ip_target":"{domain}","caa_check_parameters":{{"caa_domains":["ca.example"]}}}}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    /// Posts `envelope` as JSON; the status, or the transport error.
    async fn post(perspective: &NativePerspective, body: Vec<u8>) -> Result<u16, reqwest::Error> {
        let response = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()?
            .post(format!("{}/v1/check", perspective.base_url()))
            .header(header::CONTENT_TYPE.as_str(), "application/json")
            .body(body)
            .send()
            .await?;
        Ok(response.status().as_u16())
    }

    fn signed(call: &CheckCall) -> (Vec<u8>, RequestEnvelope) {
        let body = serde_json::to_vec(call).unwrap();
        let envelope = sign_request(&keys::coordinator(), &body, &fresh_nonce(), now_ms()).unwrap();
        (serde_json::to_vec(&envelope).unwrap(), envelope)
    }

    #[tokio::test]
    async fn an_honest_perspective_runs_the_check_and_signs_what_it_saw() {
        let dns = DohServer::start(DnsWorld::from_zone_text(ZONE).unwrap())
            .await
            .unwrap();
        let perspective = NativePerspective::start(setup(&dns, Behaviour::Honest))
            .await
            .unwrap();
        let key = keys::perspective(1).verifying_key();
        let table = [
            ("www.permitted.example", Verdict::Pass),
            ("forbidden.example", Verdict::Fail),
        ];
        for (domain, verdict) in table {
            let verified =
                perspective_client::call(&perspective.base_url(), &key, &caa_call("p1", domain))
                    .await
                    .unwrap();
            assert_eq!(verified.body.verdict, verdict, "{domain}");
            assert_eq!(verified.body.resolvers, vec![dns.url_for("p1")]);
            let CheckObservation::Caa(observed) = verified.observed else {
                panic!("not a CAA observation");
            };
            assert_eq!(observed.domain, domain);
        }
        // It looked, through its own view.
        assert!(dns.view("p1").total_queries() >= 3);
        assert_eq!(
            perspective.counts(),
            CallCounts {
                received: 2,
                reports: 2,
                refused: 0
            }
        );
        perspective.stop().await;
        dns.stop().await;
    }

    #[tokio::test]
    async fn unauthenticated_replayed_and_misdirected_calls_are_refused() {
        let dns = DohServer::start(DnsWorld::from_zone_text(ZONE).unwrap())
            .await
            .unwrap();
        let perspective = NativePerspective::start(setup(&dns, Behaviour::Honest))
            .await
            .unwrap();
        let (body, mut forged) = signed(&caa_call("p1", "permitted.example"));
        assert_eq!(post(&perspective, body.clone()).await.unwrap(), 200);
        // (request, status)
        let mut table = vec![(body, 401)];
        forged.signature[0] ^= 1;
        table.push((serde_json::to_vec(&forged).unwrap(), 401));
        table.push((b"{}".to_vec(), 401));
        table.push((signed(&caa_call("p2", "permitted.example")).0, 421));
        for (request, status) in table {
            assert_eq!(
                post(&perspective, request.clone()).await.unwrap(),
                status,
                "{}",
                String::from_utf8_lossy(&request)
            );
        }
        assert_eq!(perspective.counts().refused, 4);
        assert_eq!(perspective.counts().reports, 1);
        perspective.stop().await;
        dns.stop().await;
    }

    #[tokio::test]
    async fn misbehaving_perspectives_fail_as_told_and_stop_at_once() {
        let dns = DohServer::start(DnsWorld::from_zone_text(ZONE).unwrap())
            .await
            .unwrap();
        let body = || signed(&caa_call("p1", "permitted.example")).0;

        let broken = NativePerspective::start(setup(&dns, Behaviour::ServerError))
            .await
            .unwrap();
        assert_eq!(post(&broken, body()).await.unwrap(), 500);
        broken.stop().await;

        let reset = NativePerspective::start(setup(&dns, Behaviour::Reset))
            .await
            .unwrap();
        let error = post(&reset, body()).await.unwrap_err();
        assert!(!error.is_timeout(), "{error:?}");
        assert_eq!(reset.counts().received, 1);
        reset.stop().await;

        let hung = NativePerspective::start(setup(&dns, Behaviour::Hang))
            .await
            .unwrap();
        assert!(post(&hung, body()).await.unwrap_err().is_timeout());
        // A call still waiting when the server stops is closed at once.
        let addr = hung.addr();
        let waiting = tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            tokio::io::AsyncWriteExt::write_all(&mut stream, b"POST /v1/check HTTP/1.1\r\n")
                .await
                .unwrap();
            let mut buffer = [0u8; 16];
            stream.read(&mut buffer).await
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        hung.stop().await;
        assert!(started.elapsed() < STOP_GRACE);
        assert!(matches!(waiting.await.unwrap(), Ok(0) | Err(_)));
        assert!(TcpStream::connect(addr).await.is_err());
        dns.stop().await;
    }
}
