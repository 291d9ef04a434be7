//! One perspective's answer to a check call, whatever carries it: the
//! worker's `POST /v1/check`, the coordinator's in-process perspectives and
//! the tests' native perspectives all answer through a [`Responder`], so the
//! order that keeps a perspective from working for anyone but its
//! coordinators is written once and tested natively:
//!
//! 1. the body's size, before it is read as anything;
//! 2. the signed envelope is authenticated, before the call is parsed;
//! 3. the replay guard admits its nonce once;
//! 4. the call is parsed, and must name this perspective;
//! 5. the check runs over the transport's [`Network`], ended by the check's
//!    deadline;
//! 6. the report is signed.
//!
//! Steps 1-4 are [`Responder::admit`]. Only what it returns, an
//! [`Admitted`] call, can be run ([`Responder::run`]), so no transport can
//! look anything up for a request that is unauthenticated, replayed,
//! misrouted or oversized. [`Responder::answer`] does all six.

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ed25519_dalek::{SigningKey, VerifyingKey};
use futures_util::future::{Either, select};

use crate::dcv::DcvContext;
use crate::network::Network;
use crate::nonce::Nonce;
use crate::perspective::{self, CheckCall, Identity, Vantage};
use crate::report::{self, SignedReport, Verdict};
use crate::request_auth::{self, AuthError, ReplayGuard, RequestEnvelope};

/// A check call is a few hundred bytes; anything much larger is not ours.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Default of how long one check may run: under the coordinator's default
/// call timeout (10 s), with room to sign, answer and cross the Internet, so
/// a slow check comes back as a signed error rather than a call the
/// coordinator times out.
pub const DEFAULT_CHECK_DEADLINE_MS: u64 = 8_000;

/// How long past its deadline a check may run before it is abandoned: the
/// exchanges end at the deadline, so only local work could still be going.
pub const CHECK_DEADLINE_GRACE_MS: u64 = 500;

/// What a [`Responder`] is.
#[derive(Debug, Clone)]
pub struct ResponderSettings {
    /// Who this perspective is: its id (calls must name it), RIR and
    /// location, as its reports state them.
    pub identity: Identity,
    /// Signs the reports.
    pub signing_key: SigningKey,
    /// The coordinators allowed to call.
    pub coordinator_keys: Vec<VerifyingKey>,
    /// How old or early a signed request may be.
    pub max_skew_ms: u64,
    /// Nonces remembered (see [`ReplayGuard`]).
    pub replay_capacity: usize,
    /// How long one check may run.
    pub check_deadline_ms: u64,
}

/// A perspective's side of the protocol (see the module documentation).
#[derive(Debug)]
pub struct Responder {
    identity: Identity,
    signing_key: SigningKey,
    coordinator_keys: Vec<VerifyingKey>,
    max_skew_ms: u64,
    check_deadline_ms: u64,
    replay: Mutex<ReplayGuard>,
}

/// Why a call got no report: each with the HTTP status a transport answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The body is larger than [`MAX_REQUEST_BYTES`] (HTTP 413); it was not
    /// read.
    #[error("the request is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The envelope is malformed, unsigned, signed by an unknown key, out of
    /// its time window or replayed (HTTP 401).
    #[error("unauthorized: {0}")]
    Unauthenticated(AuthError),
    /// The replay guard is full: refusing is safer than forgetting a nonce.
    #[error("busy: {0}")]
    Busy(AuthError),
    /// The authenticated body is not a [`CheckCall`] (HTTP 400); the JSON
    /// parser's message.
    #[error("bad check call: {0}")]
    BadCheck(String),
    /// The call does not name this perspective: misrouted (HTTP 421).
    #[error("call is for {call:?}, this is {this:?}")]
    WrongPerspective {
        /// The perspective ids the call names, comma-separated.
        call: String,
        /// This perspective's id.
        this: String,
    },
    /// The check ran but its observation could not be serialised as JSON
    /// (HTTP 500).
    #[error("the observation could not be recorded: {0}")]
    Observation(String),
    /// The report body could not be signed, e.g. a field too long for its
    /// length prefix (HTTP 500).
    #[error("the report could not be signed: {0}")]
    Signing(String),
}

impl Refusal {
    /// The HTTP status a transport answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::TooLarge { .. } => 413,
            Self::Unauthenticated(_) => 401,
            Self::Busy(_) => 503,
            Self::BadCheck(_) => 400,
            Self::WrongPerspective { .. } => 421,
            Self::Observation(_) | Self::Signing(_) => 500,
        }
    }

    /// The `error` of the worker's error body.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::Unauthenticated(_) => "unauthorized",
            Self::Busy(_) => "busy",
            Self::BadCheck(_) => "bad_check",
            Self::WrongPerspective { .. } => "wrong_perspective",
            Self::Observation(_) => "observation",
            Self::Signing(_) => "signing",
        }
    }
}

/// A signed report, with what it says for the transport's log.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The signed report, the `200` body.
    pub report: SignedReport,
    /// The verdict the report states.
    pub verdict: Verdict,
    /// The report's one-line reason.
    pub reason: String,
}

/// A call that passed steps 1-4: authenticated, admitted once, for this
/// perspective. Made only by [`Responder::admit`].
#[derive(Debug)]
pub struct Admitted {
    call: CheckCall,
    request_digest: [u8; 32],
    nonce: Nonce,
    received_at_ms: u64,
}

impl Admitted {
    /// The admitted call: cohort, attempt number and check.
    pub fn call(&self) -> &CheckCall {
        &self.call
    }

    /// When the request arrived (Unix ms): the check's deadline counts from
    /// here.
    pub fn received_at_ms(&self) -> u64 {
        self.received_at_ms
    }
}

impl Responder {
    /// A responder with an empty replay guard of `replay_capacity` nonces.
    pub fn new(settings: ResponderSettings) -> Self {
        Self {
            replay: Mutex::new(ReplayGuard::new(
                settings.replay_capacity,
                settings.max_skew_ms,
            )),
            identity: settings.identity,
            signing_key: settings.signing_key,
            coordinator_keys: settings.coordinator_keys,
            max_skew_ms: settings.max_skew_ms,
            check_deadline_ms: settings.check_deadline_ms,
        }
    }

    /// Who this perspective is, as its reports state it.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// How long one check may run.
    pub fn check_deadline_ms(&self) -> u64 {
        self.check_deadline_ms
    }

    /// How long after a check starts its backstop must fire: the check's
    /// deadline plus [`CHECK_DEADLINE_GRACE_MS`] (see [`Responder::run`]).
    pub fn backstop_after(&self) -> Duration {
        Duration::from_millis(
            self.check_deadline_ms
                .saturating_add(CHECK_DEADLINE_GRACE_MS),
        )
    }

    /// When a check admitted at `received_at_ms` must end (Unix ms).
    pub fn deadline_at_ms(&self, received_at_ms: u64) -> u64 {
        received_at_ms.saturating_add(self.check_deadline_ms)
    }

    /// Steps 1-4 for the raw body of `POST /v1/check`, received at `now_ms`.
    pub fn admit(&self, body: &[u8], now_ms: u64) -> Result<Admitted, Refusal> {
        if body.len() > MAX_REQUEST_BYTES {
            return Err(Refusal::TooLarge {
                limit: MAX_REQUEST_BYTES,
            });
        }
        let envelope = RequestEnvelope::from_json(body).map_err(Refusal::Unauthenticated)?;
        self.admit_envelope(&envelope, now_ms)
    }

    /// Steps 2-4 for an envelope a transport already holds parsed.
    pub fn admit_envelope(
        &self,
        envelope: &RequestEnvelope,
        now_ms: u64,
    ) -> Result<Admitted, Refusal> {
        let verified = request_auth::verify_request(
            envelope,
            &self.coordinator_keys,
            now_ms,
            self.max_skew_ms,
        )
        .map_err(Refusal::Unauthenticated)?;
        self.replay
            .lock()
            // Every admit leaves the guard consistent.
            .unwrap_or_else(PoisonError::into_inner)
            .admit(&verified, now_ms)
            .map_err(|e| match e {
                AuthError::ReplayGuardFull { .. } => Refusal::Busy(e),
                other => Refusal::Unauthenticated(other),
            })?;
        let call =
            CheckCall::from_json(&verified.body).map_err(|e| Refusal::BadCheck(e.to_string()))?;
        if !call.is_for(&self.identity.perspective_id) {
            return Err(Refusal::WrongPerspective {
                call: call.perspective_ids.join(","),
                this: self.identity.perspective_id.clone(),
            });
        }
        Ok(Admitted {
            call,
            request_digest: verified.request_digest(),
            nonce: verified.nonce,
            received_at_ms: now_ms,
        })
    }

    /// Steps 5-6: runs `admitted` over `network` and signs what it saw.
    ///
    /// `backstop` is the transport's timer for [`Responder::backstop_after`]
    /// (the check's deadline plus [`CHECK_DEADLINE_GRACE_MS`]): a check still running then is abandoned with a signed
    /// `error` report saying so. The network's exchanges should end by the
    /// deadline themselves, so a check that ran into it fails with the
    /// typed timeout of what it was doing; its reason then says so.
    /// `resolvers` name the network's resolvers in the report, and `now_ms`
    /// is the transport's clock.
    pub async fn run<N: Network>(
        &self,
        admitted: Admitted,
        network: &N,
        context: &DcvContext,
        vantage: Vantage,
        backstop: impl Future<Output = ()>,
        now_ms: impl Fn() -> u64,
    ) -> Result<Answer, Refusal> {
        let deadline_at_ms = self.deadline_at_ms(admitted.received_at_ms);
        let run = perspective::run(network, &admitted.call, context);
        let outcome = match select(Box::pin(run), Box::pin(backstop)).await {
            Either::Left((outcome, _)) => outcome.map(|mut result| {
                if now_ms() >= deadline_at_ms {
                    result.reason = format!(
                        "{} (the check ran into this perspective's deadline, {} ms)",
                        result.reason, self.check_deadline_ms
                    );
                }
                result
            }),
            Either::Right(((), _)) => perspective::deadline_passed(self.check_deadline_ms),
        };
        let result = outcome.map_err(|e| Refusal::Observation(e.to_string()))?;
        let (verdict, reason) = (result.verdict, result.reason.clone());
        let body = perspective::report_body(
            &self.identity,
            admitted.request_digest,
            admitted.nonce,
            vantage,
            admitted.received_at_ms,
            now_ms().max(admitted.received_at_ms),
            result,
        );
        let report =
            report::sign(&self.signing_key, &body).map_err(|e| Refusal::Signing(e.to_string()))?;
        Ok(Answer {
            report,
            verdict,
            reason,
        })
    }

    /// All six steps for the raw body of `POST /v1/check`.
    pub async fn answer<N: Network>(
        &self,
        body: &[u8],
        network: &N,
        context: &DcvContext,
        vantage: Vantage,
        backstop: impl Future<Output = ()>,
        now_ms: impl Fn() -> u64,
    ) -> Result<Answer, Refusal> {
        let admitted = self.admit(body, now_ms())?;
        self.run(admitted, network, context, vantage, backstop, now_ms)
            .await
    }
}

#[cfg(test)]
mod tests;
