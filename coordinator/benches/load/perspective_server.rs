//! An in-process stand-in for a remote perspective: [`answer`] does a real
//! perspective's protocol work for one call (verify the coordinator's
//! envelope, parse the `CheckCall`, sign a report binding the request digest
//! and nonce) but reports a canned CAA observation instead of looking, after
//! a chosen delay. [`start`] serves it as `POST /v1/check` on 127.0.0.1
//! (HTTP/1); the in-process transport calls it directly.

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
use mpic_coordinator::clock;
use mpic_core::perspective::{self, CheckCall, Identity, RunResult};
use mpic_core::report::{self, Observation, SignedReport, Verdict};
use mpic_core::request_auth::{self, RequestEnvelope};

/// What a typical permitted CAA check of `www.example.com` observes
/// (two lookups, three records), as a perspective would sign it.
pub const CANNED_OBSERVATION: &str = r#"{"check_type":"caa","domain":"www.example.com","lookup_name":"www.example.com","wildcard":false,"certificate_type":"tls-server","outcome":{"result":"permitted","reason":{"kind":"authorised","tag":"issue","record":"0 issue \"ca.example; accounturi=https://ca.example/acct/12345; validationmethods=dns-01,http-01\"","issuer":"ca.example"}},"relevant_rrset":{"owner":"example.com","records":["0 issue \"letsencrypt.org\"","0 issue \"ca.example; accounturi=https://ca.example/acct/12345; validationmethods=dns-01,http-01\"","0 iodef \"mailto:security@example.com\""],"cname_chain":[],"authentic_data":false,"rcode":"NOERROR","resolver":"https://resolver.example/dns-query"},"steps":[{"name":"www.example.com","attempts":[{"result":{"kind":"answer","rcode":"NOERROR","records":0,"authentic_data":false},"resolver":"https://resolver.example/dns-query"}],"result":{"kind":"no_data"}},{"name":"example.com","attempts":[{"result":{"kind":"answer","rcode":"NOERROR","records":3,"authentic_data":false},"resolver":"https://resolver.example/dns-query"}],"result":{"kind":"found","records":3}}]}"#;

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

/// One perspective's keys, identity and answer delay.
pub struct PerspectiveState {
    identity: Identity,
    key: SigningKey,
    coordinator_keys: [VerifyingKey; 1],
    observation: Observation,
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
    let observation = Observation::from_json(CANNED_OBSERVATION.to_owned())
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(Arc::new(PerspectiveState {
        identity,
        key,
        coordinator_keys: [coordinator_key],
        observation,
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
    let started_at_ms = clock::now_ms();
    let verified = RequestEnvelope::from_json(body)
        .and_then(|envelope| {
            request_auth::verify_request(&envelope, &state.coordinator_keys, started_at_ms, 60_000)
        })
        .map_err(|e| (StatusCode::UNAUTHORIZED, e.to_string()))?;
    let call = CheckCall::from_json(&verified.body)
        .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    if !call.is_for(&state.identity.perspective_id) {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("call for {}", call.perspective_ids.join(",")),
        ));
    }
    let delay = state.delay.draw(state.next_random());
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let body = perspective::report_body(
        &state.identity,
        verified.request_digest(),
        verified.nonce,
        vec!["https://resolver.example/dns-query".to_owned()],
        started_at_ms,
        clock::now_ms(),
        RunResult {
            verdict: Verdict::Pass,
            reason: "CAA permits issuance".to_owned(),
            observation: state.observation.clone(),
        },
    );
    let signed = report::sign(&state.key, &body)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
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
