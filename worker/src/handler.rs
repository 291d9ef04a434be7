//! The Worker's routes: `GET /v1/identity` and `POST /v1/check`.

use std::sync::OnceLock;

use mpic_core::dcv::DcvContext;
use mpic_core::identity_document::{
    IdentityDocument, MODE_LOCAL, MODE_PRODUCTION, SELF_TEST_QUERY,
};
use mpic_core::network::Network as _;
use mpic_core::perspective::Vantage;
use mpic_core::report::DataCenter;
use mpic_core::responder::{MAX_REQUEST_BYTES, Refusal, Responder, ResponderSettings};
use serde::Serialize;
use worker::{Context, Date, Delay, Env, Method, Request, Response, Result, console_log, event};

use crate::edge_network::EdgeNetwork;
use crate::settings::{Problems, Settings, Source};

const CODE_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Nonces remembered per isolate (see `ReplayGuard`): enough for ~30 checks a
/// second over a 60 s window; past that, requests are refused, not replayable.
const REPLAY_CAPACITY: usize = 2048;

/// This isolate's responder, with the nonces it has seen. Workers may run
/// several isolates, so its replay guard stops replays within one; the
/// request's short validity window (`REQUEST_MAX_SKEW_MS`) bounds the rest.
static RESPONDER: OnceLock<Responder> = OnceLock::new();

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
struct ErrorBody<'a> {
    error: &'a str,
    detail: String,
}

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
    let pairs: Vec<_> = url.query_pairs().collect();
    let dnssec_self_test = match pairs.as_slice() {
        [] => None,
        [(key, value)] if (key.as_ref(), value.as_ref()) == SELF_TEST_QUERY => {
            let deadline_at_ms =
                (Date::now().as_millis()).saturating_add(settings.check_deadline_ms);
            match EdgeNetwork::new(settings, deadline_at_ms) {
                Ok(network) => Some(network.dnssec_self_test().await),
                Err(detail) => return error(500, "misconfigured", detail),
            }
        }
        _ => {
            return error(
                400,
                "bad_query",
                format!(
                    "unknown query {:?}; the only one is {}={}",
                    url.query().unwrap_or_default(),
                    SELF_TEST_QUERY.0,
                    SELF_TEST_QUERY.1
                ),
            );
        }
    };
    let id = &settings.identity;
    Response::from_json(&IdentityDocument {
        perspective_id: id.perspective_id.clone(),
        rir: id.rir.as_str().to_owned(),
        region: id.location.region.clone(),
        coordinates: id.location.coordinates,
        public_key: mpic_core::keys::format_verifying_key(&settings.signing_key.verifying_key()),
        code_version: Some(CODE_VERSION.to_owned()),
        resolvers: settings.resolvers.iter().map(ToString::to_string).collect(),
        mode: Some(
            if settings.local.is_some() {
                MODE_LOCAL
            } else {
                MODE_PRODUCTION
            }
            .to_owned(),
        ),
        // So the coordinator can tell whether its call timeout leaves the
        // check room to end with a signed answer.
        check_deadline_ms: Some(settings.check_deadline_ms),
        dnssec_test_names: Some(settings.dnssec_test_names.clone()),
        dnssec_self_test,
        data_center: data_center(req),
    })
}

async fn check(mut req: Request, settings: &Settings) -> Result<Response> {
    let responder = RESPONDER.get_or_init(|| Responder::new(responder_settings(settings)));
    let declared = req
        .headers()
        .get("content-length")?
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_REQUEST_BYTES) {
        return refuse(&Refusal::TooLarge {
            limit: MAX_REQUEST_BYTES,
        });
    }
    let data_center = data_center(&req);
    let body = req.bytes().await?;
    let now_ms = || Date::now().as_millis();
    // Authentication, replay guard, parsing and routing come first: nothing
    // else happens for a request they refuse (mpic_core::responder).
    let admitted = match responder.admit(&body, now_ms()) {
        Ok(admitted) => admitted,
        Err(refusal) => return refuse(&refusal),
    };
    let network = match EdgeNetwork::new(
        settings,
        responder.deadline_at_ms(admitted.received_at_ms()),
    ) {
        Ok(network) => network,
        Err(detail) => return error(500, "misconfigured", detail),
    };
    // Local mode maps 80/443 to fixture ports inside the network, so the
    // production redirect policy applies unchanged.
    let dcv_context = DcvContext::new(admitted.received_at_ms() / 1000);
    let (attempt, target) = (
        admitted.call().attempt,
        admitted.call().check.target.clone(),
    );
    // Every exchange ends by the check's deadline (see EdgeNetwork); the
    // backstop ends anything else that would run on.
    let backstop = Delay::from(responder.backstop_after());
    let resolvers = network.resolver_urls();
    match responder
        .run(
            admitted,
            &network,
            &dcv_context,
            Vantage {
                resolvers,
                data_center,
            },
            backstop,
            now_ms,
        )
        .await
    {
        Ok(answer) => {
            console_log!(
                "check attempt={attempt} target={target} verdict={:?} reason={}",
                answer.verdict,
                answer.reason
            );
            Response::from_json(&answer.report)
        }
        Err(refusal) => refuse(&refusal),
    }
}

/// The Cloudflare data center that received this request (`request.cf.colo`)
/// and its country, for the report: whether a placement hint was honoured
/// is then on record. `None` when the runtime gives no `cf` object or no
/// colo (a request workerd did not receive from the edge); read without
/// the `worker` crate's `Cf::colo`, which panics when the field is absent.
fn data_center(req: &Request) -> Option<DataCenter> {
    use worker::worker_sys::ext::RequestExt as _;
    let cf = req.inner().cf()?;
    let code = cf.colo().ok().filter(|code| !code.is_empty())?;
    Some(DataCenter {
        code,
        country: cf.country().ok().flatten().filter(|c| !c.is_empty()),
    })
}

/// What the responder needs, from the perspective's settings.
fn responder_settings(settings: &Settings) -> ResponderSettings {
    ResponderSettings {
        identity: settings.identity.clone(),
        signing_key: settings.signing_key.clone(),
        coordinator_keys: settings.coordinator_keys.clone(),
        max_skew_ms: settings.max_skew_ms,
        replay_capacity: REPLAY_CAPACITY,
        check_deadline_ms: settings.check_deadline_ms,
    }
}

/// A refused call, with its status and kind; unauthenticated ones are
/// logged.
fn refuse(refusal: &Refusal) -> Result<Response> {
    if let Refusal::Unauthenticated(_) = refusal {
        console_log!("refusing unauthenticated request: {refusal}");
    }
    error(refusal.status(), refusal.kind(), refusal.to_string())
}
