//! `mpic serve`: the HTTP API a CA's issuance pipeline calls, speaking the
//! Open MPIC API (`POST /mpic`), so a CA already on Open MPIC switches by
//! changing a URL and a key.
//!
//! # Endpoints
//! | route | key | what |
//! |---|---|---|
//! | `POST /mpic` | yes | an Open MPIC request (`DCVParams` or `CAAParams`); `200` with a `CAAResponse`/`DCVResponse` ([`response`]) |
//! | `GET /healthz` | no | `200 ok` while the server runs (liveness; it does not probe perspectives) |
//! | `GET /metrics` | yes, unless `[api] metrics_public = true` | Prometheus text format 0.0.4 ([`metrics`]) |
//!
//! `/metrics` needs a key by default because it names every perspective and
//! shows which are failing and how, which helps someone timing an attack on
//! some of them; a scraper inside the CA's network can be let in with
//! `metrics_public = true`.
//!
//! # Authentication
//! `Authorization: Bearer <key>` or `x-api-key: <key>` ([`auth`]). The
//! configuration holds only the SHA-256 of each key (`[[api.client]]
//! key_sha256`); a missing or wrong key gets `401` with `WWW-Authenticate:
//! Bearer`. Keys are never logged; the log names the client.
//!
//! # Errors
//! Every non-200 answer has a JSON body `{"error": "<kind>", "message":
//! "…"}`; `400` adds `validation_issues: [{issue_type, field, message}]`
//! listing every problem found, as Open MPIC does ([`error`]).
//!
//! | status | when |
//! |---|---|
//! | 400 | not JSON, not a valid Open MPIC request, or `orchestration_parameters` this CA does not allow ([`crate::orchestration`]) |
//! | 401 | no API key, or not a configured one |
//! | 404 | no such route |
//! | 413 | body larger than `[api] max_body_bytes` (default 64 KiB) |
//! | 503 | `[api] max_concurrent_checks` checks already running (default 64); `Retry-After: 1`. Nothing is queued. |
//! | 504 | the request took longer than `[api] request_timeout_ms` (default: the check deadline plus 5 s) |
//!
//! Fields the Open MPIC request format does not define are ignored, as Open
//! MPIC ignores them, and named in the response's `x_mpic.ignored_fields` and
//! in a warning in the log, so that a typo shows; `[api]
//! reject_unknown_fields = true` refuses them with a 400 instead. A value
//! that is well-typed but can never be met (a key authorization for another
//! token, an IPv4 address to find in AAAA records) is not refused: each
//! perspective fails it with its reason, in a 200 with `is_valid: false`, as
//! in Open MPIC.
//!
//! # Logs
//! One line per HTTP request (target `mpic::http`): method, route, status,
//! latency, client name and `trace_identifier`; plus the coordinator's one
//! line per decision (target `mpic::decision`, BR 5.4.1).
//!
//! # Shutdown
//! On SIGTERM or Ctrl-C the server stops accepting connections and lets the
//! requests in flight finish (each is bounded by the request timeout).

pub mod auth;
pub mod details;
pub mod echo;
pub mod error;
pub mod metrics;
#[cfg(any(test, feature = "openapi-schema"))]
pub mod open_mpic_schema;
pub mod response;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::header::{CONTENT_TYPE, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use mpic_core::check::{CheckRequest, ReadRequest, UnknownFields, parse_unique_keys};

use crate::config::{ApiConfig, ServeConfig};
use crate::evidence::{Bundle, RecordContext, Recorder, StoreError};
use crate::native_network::LocalPorts;
use crate::transport::{HttpClientError, HttpTransport, PerspectiveTransport};
use crate::{Coordinator, CoordinatorError, clock};

use self::auth::{ApiKeys, ClientIdentities, ClientName};
use self::echo::Echo;
use self::error::ApiError;
use self::metrics::Metrics;

/// Route label for requests that matched no route (keeps metric labels
/// bounded whatever paths clients try).
const UNMATCHED_ROUTE: &str = "other";

/// Everything the handlers share.
pub struct ApiState<T> {
    coordinator: Arc<Coordinator<T>>,
    keys: ApiKeys,
    metrics: Metrics,
    /// One permit per running check.
    checks: Arc<Semaphore>,
    settings: ApiConfig,
    /// Where each decision is stored before it is answered; `None` only
    /// with `[evidence] enabled = false`.
    recorder: Option<Recorder>,
}

impl<T> ApiState<T> {
    /// The API for `coordinator`, with the `[api]` settings.
    pub fn new(
        coordinator: Arc<Coordinator<T>>,
        settings: ApiConfig,
        recorder: Option<Recorder>,
    ) -> Self
    where
        T: PerspectiveTransport + 'static,
    {
        Self {
            keys: ApiKeys::new(&settings.clients),
            metrics: Metrics::default(),
            checks: Arc::new(Semaphore::new(settings.max_concurrent_checks)),
            coordinator,
            settings,
            recorder,
        }
    }

    /// Checks running now.
    fn checks_in_flight(&self) -> usize {
        self.settings
            .max_concurrent_checks
            .saturating_sub(self.checks.available_permits())
    }
}

/// The API's routes and middleware for `coordinator`.
/// With a `recorder`, every decision is stored before it is answered, and
/// `GET /evidence/{id}` serves the records.
pub fn router<T: PerspectiveTransport + 'static>(
    coordinator: Arc<Coordinator<T>>,
    settings: ApiConfig,
    recorder: Option<Recorder>,
) -> Router {
    let state = Arc::new(ApiState::new(coordinator, settings, recorder));
    let limit = state.settings.max_body_bytes;

    let mut keyed = Router::new()
        .route("/mpic", post(post_mpic::<T>))
        .route("/evidence/{id}", get(get_evidence::<T>));
    let mut open = Router::new().route("/healthz", get(healthz));
    if state.settings.metrics_public {
        open = open.route("/metrics", get(get_metrics::<T>));
    } else {
        keyed = keyed.route("/metrics", get(get_metrics::<T>));
    }
    let keyed = keyed.route_layer(middleware::from_fn_with_state(
        Arc::clone(&state),
        require_api_key::<T>,
    ));
    keyed
        .merge(open)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            observe::<T>,
        ))
        .with_state(state)
}

/// Why `mpic serve` could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The HTTPS client to the perspectives could not be built.
    #[error(transparent)]
    HttpClient(#[from] HttpClientError),
    /// The configuration gives no coordinator (no cohort can be formed, or
    /// the primary's resolver is unusable).
    #[error("cannot start the coordinator: {0}")]
    Coordinator(#[from] CoordinatorError),
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why it could not be bound (in use, no permission, ...).
        source: io::Error,
    },
    /// The HTTP server stopped with an I/O error after it started.
    #[error("server failed: {0}")]
    Serve(#[source] io::Error),
    /// The evidence store could not be opened or migrated; without it no
    /// check is answered, so the API does not start.
    #[error("[evidence]: {0}")]
    Evidence(#[from] StoreError),
}

/// Runs the API for `config` over HTTPS transport to its perspectives, on
/// `listen` (or `[api] listen`), until SIGTERM or Ctrl-C. With `[primary]`
/// every check also runs from this host, whose resolver takes the DNSSEC
/// self-test at start-up. `local` is the loopback test mapping for the
/// primary's fetches (`None` in production).
pub async fn serve(
    ServeConfig { mut config, api }: ServeConfig,
    listen: Option<SocketAddr>,
    local: Option<LocalPorts>,
) -> Result<(), ServeError> {
    let addr = listen.unwrap_or(api.listen);
    if let Some(primary) = &mut config.primary {
        primary.local = local;
    }
    let recorder = crate::evidence::start_recorder(&config).await?;
    // Calls still running at a decision run on only when their results are
    // kept.
    let keep_late = recorder.is_some();
    let coordinator = Coordinator::new(config, HttpTransport::new()?)?.with_late_results(keep_late);
    coordinator.primary_self_test().await;
    let coordinator = Arc::new(coordinator);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    serve_on(coordinator, api, recorder, listener, shutdown_signal()).await
}

/// Runs the API on `listener` until `shutdown` completes, then lets the
/// requests in flight finish.
pub async fn serve_on<T: PerspectiveTransport + 'static>(
    coordinator: Arc<Coordinator<T>>,
    api: ApiConfig,
    recorder: Option<Recorder>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    if api.clients.is_empty() {
        tracing::warn!("no [[api.client]] is configured: every request to /mpic will get 401");
    }
    let local = listener.local_addr().map_err(ServeError::Serve)?;
    tracing::info!(
        target: "mpic::http",
        addr = %local,
        clients = api.clients.len(),
        metrics_public = api.metrics_public,
        max_concurrent_checks = api.max_concurrent_checks,
        "listening"
    );
    match &recorder {
        Some(recorder) => {
            tracing::info!(target: "mpic::evidence", store = %recorder.store().describe(), "every decision is stored before it is answered")
        }
        None => {
            tracing::warn!(target: "mpic::evidence", "[evidence] enabled = false: decisions are NOT stored (BR 5.4.1 requires them to be recorded)")
        }
    }
    axum::serve(listener, router(coordinator, api, recorder))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServeError::Serve)?;
    tracing::info!(target: "mpic::http", "stopped");
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!(target: "mpic::http", "shutting down: finishing requests in flight");
}

/// What a handler tells the request log about a request.
#[derive(Debug, Clone)]
struct TraceIdentifier(String);

/// Bounds each request in time, then logs it and counts it.
async fn observe<T: Send + Sync + 'static>(
    State(state): State<Arc<ApiState<T>>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
        .to_owned();
    let response =
        match tokio::time::timeout(state.settings.request_timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => ApiError::Timeout {
                after: state.settings.request_timeout,
            }
            .into_response(),
        };
    let status = response.status();
    state.metrics.count_request(&route, status.as_u16());
    log_request(&method, &route, status, started.elapsed(), &response);
    response
}

/// The one log line per request. User-supplied text (the trace identifier)
/// is logged in its debug form, so it cannot forge log lines.
fn log_request(
    method: &Method,
    route: &str,
    status: StatusCode,
    latency: Duration,
    response: &Response,
) {
    let client = response
        .extensions()
        .get::<ClientName>()
        .map(|c| c.0.as_str());
    let trace_identifier = response
        .extensions()
        .get::<TraceIdentifier>()
        .map_or_else(|| "-".to_owned(), |t| format!("{:?}", t.0));
    tracing::info!(
        target: "mpic::http",
        method = %method,
        route,
        status = status.as_u16(),
        latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        client = client.unwrap_or("-"),
        trace_identifier = %trace_identifier,
        "request"
    );
}

/// Refuses requests without a configured API key; names the client in the
/// response's extensions for the log.
async fn require_api_key<T: Send + Sync + 'static>(
    State(state): State<Arc<ApiState<T>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(client) = state.keys.authenticate(request.headers()) else {
        return ApiError::Unauthorized.into_response();
    };
    let name = ClientName(client.name.clone());
    request
        .extensions_mut()
        .insert(ClientIdentities(client.identities.clone()));
    request.extensions_mut().insert(name.clone());
    let mut response = next.run(request).await;
    response.extensions_mut().insert(name);
    response
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn not_found() -> Response {
    ApiError::NotFound.into_response()
}

async fn get_metrics<T: Send + Sync + 'static>(State(state): State<Arc<ApiState<T>>>) -> Response {
    let text = state.metrics.render(state.checks_in_flight());
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static(metrics::CONTENT_TYPE),
        )],
        text,
    )
        .into_response()
}

/// `POST /mpic`.
async fn post_mpic<T: PerspectiveTransport + 'static>(
    State(state): State<Arc<ApiState<T>>>,
    identities: Option<Extension<ClientIdentities>>,
    client: Option<Extension<ClientName>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return ApiError::TooLarge {
                limit: state.settings.max_body_bytes,
            }
            .into_response();
        }
        Err(rejection) => return ApiError::UnreadableBody(rejection.body_text()).into_response(),
    };
    let unknown = if state.settings.reject_unknown_fields {
        UnknownFields::Refuse
    } else {
        UnknownFields::Ignore
    };
    let read = match parse_unique_keys(&body)
        .and_then(|value| CheckRequest::read_value(&value, unknown).map(|read| (value, read)))
    {
        Ok(read) => read,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let (
        value,
        ReadRequest {
            request,
            ignored_fields,
        },
    ) = read;
    if !ignored_fields.is_empty() {
        // Debug form: field names come from the client and must not forge
        // log lines.
        tracing::warn!(
            target: "mpic::http",
            ignored_fields = ?ignored_fields,
            "request fields ignored: not defined by the Open MPIC request format \
             ([api] reject_unknown_fields = true refuses them)"
        );
    }
    let echo = Echo::new(&value, &request, &ignored_fields);
    // Set by require_api_key; a route without it would be a wiring bug,
    // which must refuse rather than let any identity through.
    let Some(Extension(ClientIdentities(identities))) = identities else {
        return ApiError::Internal("the client's CA identities are unknown".into()).into_response();
    };
    if let Err(e) = identities.admit(&request) {
        return ApiError::from(e).into_response();
    }
    let trace = request.trace_identifier.clone().map(TraceIdentifier);
    let received = Received {
        body: String::from_utf8_lossy(&body).into_owned(),
        client: client.map(|Extension(ClientName(name))| name),
    };
    let mut response = run_check(&state, &request, &echo, &ignored_fields, received).await;
    if let Some(trace) = trace {
        response.extensions_mut().insert(trace);
    }
    response
}

/// The request as it came, for its evidence record.
struct Received {
    body: String,
    client: Option<String>,
}

async fn run_check<T: PerspectiveTransport + 'static>(
    state: &ApiState<T>,
    request: &CheckRequest,
    echo: &Echo,
    ignored_fields: &[String],
    received: Received,
) -> Response {
    let Ok(_permit) = Arc::clone(&state.checks).try_acquire_owned() else {
        return ApiError::Busy {
            limit: state.settings.max_concurrent_checks,
        }
        .into_response();
    };
    let decision = match state.coordinator.check(request).await {
        Ok(decision) => decision,
        Err(e) => return ApiError::from(e).into_response(),
    };
    state.metrics.record_decision(&decision);
    let decided_at_ms = clock::now_ms();
    let evidence_id = match &state.recorder {
        Some(recorder) => {
            let context = RecordContext {
                decided_at_ms,
                client: received.client,
                request: received.body,
            };
            match recorder.record(&decision, context).await {
                Ok(id) => Some(id),
                Err(e) => {
                    tracing::error!(target: "mpic::evidence", error = %e, identifier = %decision.target(), "decision not stored, so not answered (503)");
                    return ApiError::EvidenceStore(e).into_response();
                }
            }
        }
        None => None,
    };
    let mut body =
        response::MpicResponse::new(request, &decision, echo, ignored_fields, decided_at_ms);
    body.x_mpic.evidence_id = evidence_id.as_deref();
    match serde_json::to_vec(&body) {
        Ok(json) => (
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            json,
        )
            .into_response(),
        Err(e) => ApiError::Internal(format!("cannot serialise the response: {e}")).into_response(),
    }
}

/// `GET /evidence/{id}`: the record as a self-contained bundle
/// ([`Bundle`]), for the client whose request made it; any other id is
/// 404, so a client cannot tell whether another's record exists.
async fn get_evidence<T: Send + Sync + 'static>(
    State(state): State<Arc<ApiState<T>>>,
    client: Option<Extension<ClientName>>,
    Path(id): Path<String>,
) -> Response {
    let Some(recorder) = &state.recorder else {
        return ApiError::NotFound.into_response();
    };
    // Reads share the store with the writer: they take a check's slot, so
    // they are bounded as checks are.
    let Ok(_permit) = Arc::clone(&state.checks).try_acquire_owned() else {
        return ApiError::Busy {
            limit: state.settings.max_concurrent_checks,
        }
        .into_response();
    };
    let client = client.map(|Extension(ClientName(name))| name);
    match recorder.store().get(&id).await {
        Ok(Some(stored)) if client.is_some() && stored.sealed.columns.client == client => {
            Json(Bundle::of(&stored)).into_response()
        }
        Ok(_) => ApiError::NotFound.into_response(),
        Err(e) => {
            tracing::error!(target: "mpic::evidence", error = %e, "GET /evidence: the store failed (503)");
            ApiError::EvidenceStore(e).into_response()
        }
    }
}

#[cfg(test)]
mod tests;
