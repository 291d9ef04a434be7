//! The Worker's routes: `GET /v1/identity` and `POST /v1/check`.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use futures_util::future::{Either, select};

use mpic_core::dcv::DcvContext;
use mpic_core::dnssec_self_test::{DnssecSelfTest, DnssecTestNames};
use mpic_core::network::Network as _;
use mpic_core::perspective::{self, CheckCall};
use mpic_core::redirect::RedirectPolicy;
use mpic_core::report;
use mpic_core::request_auth::{self, AuthError, ReplayGuard, RequestEnvelope};
use serde::Serialize;
use worker::{Context, Date, Delay, Env, Method, Request, Response, Result, console_log, event};

use crate::fetch_network::FetchNetwork;
use crate::settings::{Problems, Settings, Source};

const CODE_VERSION: &str = env!("CARGO_PKG_VERSION");
/// A check call is a few hundred bytes; anything much larger is not ours.
const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// Nonces remembered per isolate (see `ReplayGuard`): enough for ~30 checks a
/// second over a 60 s window; past that, requests are refused, not replayable.
const REPLAY_CAPACITY: usize = 2048;

/// Nonces seen by this isolate. Workers may run several isolates, so this
/// stops replays within one; the request's short validity window
/// (`REQUEST_MAX_SKEW_MS`) bounds the rest.
static REPLAY_GUARD: Mutex<Option<ReplayGuard>> = Mutex::new(None);

static SETTINGS: OnceLock<Result<Settings, Problems>> = OnceLock::new();

struct EnvSource<'a>(&'a Env);

impl Source for EnvSource<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.0.var(name).ok().map(|v| v.to_string())
    }
    fn secret(&self, name: &str) -> Option<String> {
        self.0.secret(name).ok().map(|v| v.to_string())
    }
}

#[derive(Serialize)]
struct Identity<'a> {
    perspective_id: &'a str,
    rir: mpic_core::report::Rir,
    region: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    coordinates: Option<mpic_core::report::Coordinates>,
    public_key: String,
    code_version: &'static str,
    resolvers: Vec<String>,
    /// `production`, or `local` for loopback test worlds.
    mode: &'static str,
    /// `CHECK_DEADLINE_MS`, so the coordinator can tell whether its call
    /// timeout leaves the check room to end with a signed answer.
    check_deadline_ms: u64,
    /// The names the DNSSEC self-test asks about.
    dnssec_test_names: &'a DnssecTestNames,
    /// Only with `?dnssec_self_test=run`: every resolver's result.
    #[serde(skip_serializing_if = "Option::is_none")]
    dnssec_self_test: Option<DnssecSelfTest>,
}

/// The query that makes `GET /v1/identity` run the DNSSEC self-test.
const SELF_TEST_QUERY: (&str, &str) = ("dnssec_self_test", "run");

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    detail: String,
}

/// How long past its deadline a check may run before it is abandoned: the
/// exchanges end at the deadline, so only local work could still be going.
const CHECK_DEADLINE_GRACE_MS: u64 = 500;

fn error(status: u16, error: &str, detail: impl Into<String>) -> Result<Response> {
    Ok(Response::from_json(&ErrorBody {
        error,
        detail: detail.into(),
    })?
    .with_status(status))
}

fn misconfigured(problems: &Problems) -> Result<Response> {
    console_log!("refusing request: {problems}");
    error(500, "misconfigured", problems.to_string())
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    // An isolate's environment never changes (a new deployment gets new
    // isolates), so the settings, with their key derivations, are read once.
    let settings = SETTINGS.get_or_init(|| Settings::load(&EnvSource(&env)));
    match (req.method(), req.path().as_str()) {
        (Method::Get, "/v1/identity") => match settings {
            Ok(settings) => identity(&req, settings).await,
            Err(problems) => misconfigured(problems),
        },
        (Method::Post, "/v1/check") => match settings {
            Ok(settings) => check(req, settings).await,
            Err(problems) => misconfigured(problems),
        },
        (_, "/v1/identity" | "/v1/check") => error(405, "method_not_allowed", "see /v1/identity"),
        (_, path) => error(404, "not_found", format!("no route {path}")),
    }
}

/// `GET /v1/identity`, with the DNSSEC self-test when the query asks for it
/// (a few DNS questions per resolver, each bounded by the check deadline).
async fn identity(req: &Request, settings: &Settings) -> Result<Response> {
    let url = req.url()?;
    let mut pairs = url.query_pairs();
    let dnssec_self_test = match pairs.next() {
        None => None,
        Some((key, value)) if (key.as_ref(), value.as_ref()) == SELF_TEST_QUERY => {
            let deadline_at_ms =
                (Date::now().as_millis()).saturating_add(settings.check_deadline_ms);
            match FetchNetwork::new(settings, deadline_at_ms) {
                Ok(network) => Some(network.dnssec_self_test().await),
                Err(detail) => return error(500, "misconfigured", detail),
            }
        }
        Some((key, value)) => {
            return error(
                400,
                "bad_query",
                format!(
                    "unknown query {key}={value}; the only one is {}={}",
                    SELF_TEST_QUERY.0, SELF_TEST_QUERY.1
                ),
            );
        }
    };
    let id = &settings.identity;
    Response::from_json(&Identity {
        perspective_id: &id.perspective_id,
        rir: id.rir,
        region: &id.location.region,
        coordinates: id.location.coordinates,
        public_key: mpic_core::keys::format_verifying_key(&settings.signing_key.verifying_key()),
        code_version: CODE_VERSION,
        resolvers: settings.resolvers.iter().map(ToString::to_string).collect(),
        mode: if settings.local.is_some() {
            "local"
        } else {
            "production"
        },
        check_deadline_ms: settings.check_deadline_ms,
        dnssec_test_names: &settings.dnssec_test_names,
        dnssec_self_test,
    })
}

async fn check(mut req: Request, settings: &Settings) -> Result<Response> {
    let declared = req
        .headers()
        .get("content-length")?
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_REQUEST_BYTES) {
        return error(
            413,
            "too_large",
            format!("limit is {MAX_REQUEST_BYTES} bytes"),
        );
    }
    let body = req.bytes().await?;
    if body.len() > MAX_REQUEST_BYTES {
        return error(
            413,
            "too_large",
            format!("limit is {MAX_REQUEST_BYTES} bytes"),
        );
    }
    let now_ms = Date::now().as_millis();

    // Authenticate before anything else: nothing unauthenticated is parsed
    // further, let alone fetched.
    let verified = match RequestEnvelope::from_json(&body).and_then(|envelope| {
        request_auth::verify_request(
            &envelope,
            &settings.coordinator_keys,
            now_ms,
            settings.max_skew_ms,
        )
    }) {
        Ok(verified) => verified,
        Err(e) => return unauthorized(&e),
    };
    let admitted = match REPLAY_GUARD.lock() {
        Ok(mut guard) => guard
            .get_or_insert_with(|| ReplayGuard::new(REPLAY_CAPACITY, settings.max_skew_ms))
            .admit(&verified, now_ms),
        Err(_) => Err(AuthError::ReplayGuardFull {
            capacity: REPLAY_CAPACITY,
        }),
    };
    if let Err(e) = admitted {
        return match e {
            AuthError::ReplayGuardFull { .. } => error(503, "busy", e.to_string()),
            _ => unauthorized(&e),
        };
    }

    let call = match CheckCall::from_json(&verified.body) {
        Ok(call) => call,
        Err(e) => return error(400, "bad_check", e.to_string()),
    };
    let identity = &settings.identity;
    if call.perspective_id != identity.perspective_id {
        return error(
            421,
            "wrong_perspective",
            format!(
                "call is for {:?}, this is {:?}",
                call.perspective_id, identity.perspective_id
            ),
        );
    }

    let deadline_at_ms = now_ms.saturating_add(settings.check_deadline_ms);
    let network = match FetchNetwork::new(settings, deadline_at_ms) {
        Ok(network) => network,
        Err(detail) => return error(500, "misconfigured", detail),
    };
    let mut dcv_context = DcvContext::new(now_ms / 1000);
    if settings.local.is_some() {
        // Local mode maps 80/443 to fixture ports inside the network, so the
        // production redirect policy still applies unchanged.
        dcv_context.redirect_policy = RedirectPolicy::default();
    }
    // Every exchange ends by the check's deadline (see FetchNetwork), so the
    // check fails with the typed timeout of what it was doing. The race below
    // is the backstop for anything else that would run on.
    let backstop = Delay::from(Duration::from_millis(
        settings.check_deadline_ms + CHECK_DEADLINE_GRACE_MS,
    ));
    let run = perspective::run(&network, &call, &dcv_context);
    let outcome = match select(Box::pin(run), backstop).await {
        Either::Left((outcome, _)) => outcome.map(|mut result| {
            // Its exchanges were cut short: say why they timed out.
            if Date::now().as_millis() >= deadline_at_ms {
                result.reason = format!(
                    "{} (the check ran into this perspective's deadline, {} ms)",
                    result.reason, settings.check_deadline_ms
                );
            }
            result
        }),
        Either::Right(((), _)) => perspective::deadline_passed(settings.check_deadline_ms),
    };
    let result = match outcome {
        Ok(result) => result,
        Err(e) => return error(500, "observation", e.to_string()),
    };
    let finished_ms = Date::now().as_millis();
    console_log!(
        "check attempt={} target={} verdict={:?} reason={}",
        call.attempt,
        call.check.target,
        result.verdict,
        result.reason
    );
    let body = perspective::report_body(
        identity,
        verified.request_digest(),
        verified.nonce.clone(),
        network.resolver_urls(),
        now_ms,
        finished_ms,
        result,
    );
    match report::sign(&settings.signing_key, &body) {
        Ok(signed) => Response::from_json(&signed),
        Err(e) => error(500, "signing", e.to_string()),
    }
}

fn unauthorized(e: &AuthError) -> Result<Response> {
    console_log!("refusing unauthenticated request: {e}");
    error(401, "unauthorized", e.to_string())
}
