//! An in-process stand-in for a remote perspective: [`answer`] is a real
//! perspective's [`Responder`] (authenticate the coordinator's envelope,
//! replay guard, parse the `CheckCall`, run the check, sign a report binding
//! the request digest and nonce) over an in-memory network whose DNS answers
//! every CAA question at once, after a chosen delay. [`start`] serves it as
//! `POST /v1/check` on 127.0.0.1 (HTTP/1); the in-process transport calls it
//! directly.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use hickory_proto::rr::rdata::CAA;
use hickory_proto::rr::{RData, RecordType};
use mpic_coordinator::now_ms;
use mpic_core::dcv::DcvContext;
use mpic_core::perspective::{Identity, Vantage};
use mpic_core::report::SignedReport;
use mpic_core::responder::{Responder, ResponderSettings};
use mpic_core::testing::{FakeNetwork, RESOLVER};

/// How long a perspective takes to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delay {
    Fixed(Duration),
    /// Uniformly distributed between the two bounds.
    Uniform(Duration, Duration),
}

impl Delay {
    fn draw(self, random: u64) -> Duration {
        match self {
            Delay::Fixed(d) => d,
            Delay::Uniform(low, high) => {
                let span = high.saturating_sub(low).as_micros() as u64;
                low + Duration::from_micros(if span == 0 { 0 } else { random % (span + 1) })
            }
        }
    }
}

/// Size of [`SentTimes`] at which entries older than [`SENT_TIMES_KEEP`] go.
const SENT_TIMES_PRUNE_AT: usize = 20_000;
const SENT_TIMES_KEEP: Duration = Duration::from_secs(5);

/// When each report left its perspective, keyed by the report's signature.
pub type SentTimes = Arc<Mutex<HashMap<Vec<u8>, Instant>>>;

/// Nonces each perspective remembers: more than one perspective is asked
/// within the replay window in any run of this bench.
const REPLAY_CAPACITY: usize = 200_000;

/// The zone every check looks at: `example.com` authorises the bench's CA,
/// and every other name has no CAA records, so `www<n>.example.com` climbs
/// one step and is permitted.
fn network() -> FakeNetwork {
    FakeNetwork::new()
        .records(
            "example.com",
            RecordType::CAA,
            vec![RData::CAA(CAA::new_issue(
                false,
                Some("ca.example".parse().expect("a valid name")),
                Vec::new(),
            ))],
        )
        .forget_questions()
}

/// One perspective's responder, network and answer delay.
pub struct PerspectiveState {
    responder: Responder,
    network: FakeNetwork,
    delay: Delay,
    /// xorshift64 state for uniform delays: cheap and good enough to spread
    /// answers; nothing here needs unpredictability.
    random: AtomicU64,
    sent: SentTimes,
}

impl PerspectiveState {
    fn next_random(&self) -> u64 {
        let mut x = self.random.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.random.store(x, Ordering::Relaxed);
        x
    }
}

/// One served perspective.
pub struct Served {
    pub addr: SocketAddr,
}

/// A perspective's state, for [`start`] or [`answer`].
pub fn state(
    identity: Identity,
    key: SigningKey,
    coordinator_key: VerifyingKey,
    delay: Delay,
    seed: u64,
    sent: SentTimes,
) -> std::io::Result<Arc<PerspectiveState>> {
    let responder = Responder::new(ResponderSettings {
        identity,
        signing_key: key,
        coordinator_keys: vec![coordinator_key],
        max_skew_ms: 60_000,
        replay_capacity: REPLAY_CAPACITY,
        check_deadline_ms: mpic_core::responder::DEFAULT_CHECK_DEADLINE_MS,
    });
    Ok(Arc::new(PerspectiveState {
        responder,
        network: network(),
        delay,
        random: AtomicU64::new(seed | 1),
        sent,
    }))
}

/// Starts serving `state` on `127.0.0.1:0` on the current tokio runtime;
/// it serves until that runtime shuts down.
pub async fn start(state: Arc<PerspectiveState>) -> std::io::Result<Served> {
    let app = Router::new()
        .route("/v1/check", post(check))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    // Without TCP_NODELAY, Nagle plus the client's delayed ACK holds back
    // answers for up to 40 ms (Workers' front end does not do that).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            eprintln!("cannot set TCP_NODELAY: {e}");
        }
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("perspective server on {addr} stopped: {e}");
        }
    });
    Ok(Served { addr })
}

fn refuse(status: StatusCode, detail: String) -> Response {
    (status, detail).into_response()
}

async fn check(State(state): State<Arc<PerspectiveState>>, body: Bytes) -> Response {
    match answer(&state, &body).await {
        Ok(signed) => match serde_json::to_vec(&signed) {
            Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
            Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        },
        Err((status, detail)) => refuse(status, detail),
    }
}

/// One call's answer: the signed report, or the status and reason of a
/// refusal.
pub async fn answer(
    state: &PerspectiveState,
    body: &[u8],
) -> Result<SignedReport, (StatusCode, String)> {
    let refused = |refusal: mpic_core::responder::Refusal| {
        (
            StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            refusal.to_string(),
        )
    };
    let admitted = state.responder.admit(body, now_ms()).map_err(refused)?;
    let delay = state.delay.draw(state.next_random());
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let context = DcvContext::new(admitted.received_at_ms() / 1000);
    let backstop = tokio::time::sleep(state.responder.backstop_after());
    let signed = state
        .responder
        .run(
            admitted,
            &state.network,
            &context,
            Vantage {
                resolvers: vec![RESOLVER.to_owned()],
                data_center: None,
            },
            backstop,
            now_ms,
        )
        .await
        .map_err(refused)?
        .report;
    if let Ok(mut sent) = state.sent.lock() {
        // Reports of cancelled calls are never looked up: forget old ones so
        // the map (and the peak memory measured) stays small.
        if sent.len() >= SENT_TIMES_PRUNE_AT {
            sent.retain(|_, at| at.elapsed() < SENT_TIMES_KEEP);
        }
        sent.insert(signed.signature.clone(), Instant::now());
    }
    Ok(signed)
}
