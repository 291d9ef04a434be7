#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use mpic_core::keys;
use mpic_core::name::DomainName;
use mpic_core::quorum::InvalidReason;
use mpic_core::report::Observation;
use mpic_core::rir::Rir;

use super::*;
use crate::test_fixtures::{coordinator_key, key, places, receive, report_body, signing_key_for};

/// How a fake perspective answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    Pass,
    Fail,
    Error,
    /// Never answers (until its call is dropped).
    Hang,
    /// Passes, after 300 ms: later than the others decide.
    Late,
    Http500,
    /// 200 with a body that is not a report.
    Garbage,
    /// Signs with another key and says so.
    WrongKey,
    /// Signs with another key but claims the configured one.
    Forged,
    /// Changes a signed byte after signing.
    Tampered,
    /// Started looking two minutes ago.
    Stale,
    /// Finished a minute from now.
    FromTheFuture,
    /// Claims to be another perspective.
    WrongPerspective,
    /// Echoes a nonce other than the one it was sent.
    WrongNonce,
    /// Answers a different request.
    WrongRequest,
    /// Passes but claims AFRINIC (quorum must use the configured RIR).
    ClaimsAfrinic,
}

/// Counts hanging calls started and dropped.
#[derive(Debug, Default)]
pub(crate) struct HangProbe {
    pub started: AtomicUsize,
    pub dropped: AtomicUsize,
}

struct DropCounter<'a>(&'a AtomicUsize);

impl Drop for DropCounter<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// In-process perspectives: they check the coordinator's signature on each
/// request exactly as a worker does and sign reports with their test keys.
#[derive(Debug, Default)]
pub(crate) struct FakePerspectives {
    behaviours: HashMap<String, Behaviour>,
    /// Per perspective, the behaviour for each attempt (overrides `behaviours`).
    per_attempt: HashMap<String, Vec<Behaviour>>,
    pub hang: HangProbe,
    /// Every request received: (perspective id, call, nonce).
    pub calls: Mutex<Vec<(String, CheckCall, Nonce)>>,
}

impl FakePerspectives {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, id: &str, behaviour: Behaviour) -> Self {
        self.behaviours.insert(id.into(), behaviour);
        self
    }

    pub fn per_attempt(mut self, id: &str, behaviours: &[Behaviour]) -> Self {
        self.per_attempt.insert(id.into(), behaviours.to_vec());
        self
    }

    pub fn calls(&self) -> Vec<(String, CheckCall, Nonce)> {
        self.calls.lock().unwrap().clone()
    }

    fn behaviour(&self, id: &str, attempt: u32) -> Behaviour {
        if let Some(list) = self.per_attempt.get(id) {
            let at = usize::try_from(attempt).unwrap() - 1;
            return list
                .get(at)
                .or(list.last())
                .copied()
                .unwrap_or(Behaviour::Pass);
        }
        self.behaviours.get(id).copied().unwrap_or(Behaviour::Pass)
    }
}

impl PerspectiveTransport for FakePerspectives {
    async fn call(
        &self,
        perspective: &PerspectiveConfig,
        envelope: RequestEnvelope,
        _deadline: Instant,
    ) -> Result<SignedReport, CallError> {
        // Like a network call: pending at first, so every call is in flight
        // before any answers.
        tokio::task::yield_now().await;
        let received = receive(perspective, &envelope)?;
        let (verified, call, now) = (&received.verified, &received.call, received.now_ms);
        self.calls.lock().unwrap().push((
            perspective.id.clone(),
            call.clone(),
            verified.nonce.clone(),
        ));

        let behaviour = self.behaviour(&perspective.id, call.attempt);
        let mut body = report_body(
            perspective,
            &received,
            Verdict::Pass,
            "CAA permits issuance".into(),
            Observation::from_value(&call.check.target.to_string()).unwrap(),
        );
        let mut signer = signing_key_for(&perspective.public_key);
        match behaviour {
            Behaviour::Pass => {}
            Behaviour::Fail => {
                body.verdict = Verdict::Fail;
                body.reason = "CAA forbids ca.example".into();
            }
            Behaviour::Error => {
                body.verdict = Verdict::Error;
                body.reason = "resolver SERVFAIL".into();
            }
            Behaviour::Late => {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Behaviour::Hang => {
                self.hang.started.fetch_add(1, Ordering::SeqCst);
                let _counter = DropCounter(&self.hang.dropped);
                std::future::pending::<()>().await;
            }
            Behaviour::Http500 => {
                return Err(CallError::HttpStatus {
                    status: 500,
                    body: "internal error".into(),
                });
            }
            Behaviour::Garbage => {
                return Err(CallError::BadResponse(
                    "expected value at line 1 column 1".into(),
                ));
            }
            Behaviour::WrongKey | Behaviour::Forged => signer = key(250),
            Behaviour::Tampered => {}
            Behaviour::Stale => body.started_at_ms = now - 120_000,
            Behaviour::FromTheFuture => body.finished_at_ms = now + 60_000,
            Behaviour::WrongPerspective => body.perspective_id = "someone-else".into(),
            Behaviour::WrongNonce => body.nonce = Nonce::new(vec![7; 32]).unwrap(),
            Behaviour::WrongRequest => body.request_digest = report::request_digest(b"{}"),
            Behaviour::ClaimsAfrinic => body.rir = Rir::Afrinic,
        }
        let mut signed = report::sign(&signer, &body).unwrap();
        match behaviour {
            Behaviour::Forged => {
                signed.signer = keys::format_verifying_key(&perspective.public_key);
            }
            Behaviour::Tampered => {
                let last = signed.report.len() - 2;
                signed.report[last] ^= 1;
            }
            _ => {}
        }
        Ok(signed)
    }
}

fn request() -> CheckRequest {
    CheckRequest::from_json(br#"{"check_type":"caa","domain_or_ip_target":"example.com"}"#).unwrap()
}

const BR_TODAY: Requirements = Requirements {
    min_perspectives: 4,
    min_rirs: 2,
};

struct Setup {
    perspectives: Vec<PerspectiveConfig>,
    request: CheckRequest,
    key: SigningKey,
    caa: Vec<DomainName>,
}

impl Setup {
    fn new(ids: &[&str]) -> Self {
        Self {
            perspectives: places(ids),
            request: request(),
            key: coordinator_key(),
            caa: vec![DomainName::parse("ca.example").unwrap()],
        }
    }

    fn plan(&self, policy: Policy) -> AttemptPlan<'_> {
        AttemptPlan {
            attempt: 1,
            members: self.perspectives.iter().collect(),
            request: &self.request,
            signing_key: &self.key,
            caa_issuer_domains: &self.caa,
            policy,
            requirements: BR_TODAY,
            call_timeout: Duration::from_secs(10),
            deadline: Instant::now() + Duration::from_secs(30),
            max_report_age: Duration::from_secs(60),
            max_future_skew: Duration::from_secs(5),
        }
    }
}

const SIX: &[&str] = &["iad", "lax", "fra", "lhr", "sin", "syd"];
const FIVE: &[&str] = &["iad", "lax", "fra", "lhr", "sin"];

fn status_of<'a>(record: &'a AttemptRecord, id: &str) -> &'a ResultStatus {
    &record
        .results
        .iter()
        .find(|r| r.perspective_id == id)
        .unwrap()
        .status
}

#[tokio::test]
async fn all_agree_is_valid_with_verified_evidence() {
    let setup = Setup::new(SIX);
    let fakes = Arc::new(FakePerspectives::new());
    let record = run_attempt(&fakes, &setup.plan(Policy::Strict), None).await;
    assert_eq!(record.status, quorum::Status::Valid);
    assert_eq!(record.quorum_result(), "6/6");
    assert_eq!(record.required_corroborations, Some(6));
    assert_eq!(record.cohort, SIX);
    for result in &record.results {
        assert_eq!(result.status, ResultStatus::Corroborated);
        let body = result.verified.as_ref().expect("verified body");
        assert_eq!(body.perspective_id, result.perspective_id);
        assert!(result.report.is_some());
    }
    // Each perspective got the attempt's one signed request: naming every
    // member (so each one's own id), the CA's CAA domains, the attempt, and
    // one nonce for the attempt.
    let calls = fakes.calls();
    assert_eq!(calls.len(), 6);
    let mut nonces: Vec<&Nonce> = calls.iter().map(|(_, _, n)| n).collect();
    nonces.dedup();
    assert_eq!(nonces.len(), 1, "one signed request per attempt");
    let members: Vec<String> = calls.iter().map(|(id, _, _)| id.clone()).collect();
    for (id, call, _) in &calls {
        assert!(call.is_for(id), "{id} not named");
        let mut named = call.perspective_ids.clone();
        named.sort();
        let mut expected = members.clone();
        expected.sort();
        assert_eq!(named, expected, "the call names exactly the cohort");
        assert_eq!(call.attempt, 1);
        assert_eq!(
            call.check,
            crate::check_call::for_perspectives(&setup.request, &setup.caa)
        );
        match &call.check.parameters {
            mpic_core::check::CheckParameters::Caa(p) => {
                assert_eq!(
                    p.caa_domains.as_deref(),
                    Some(&setup.caa[..]),
                    "configured issuers sent"
                )
            }
            mpic_core::check::CheckParameters::Dcv(_) => panic!("a CAA check was sent as DCV"),
        }
    }
}

#[tokio::test]
async fn one_dissent_of_five_is_valid_under_br_and_invalid_under_strict() {
    let setup = Setup::new(FIVE);
    let fakes = || FakePerspectives::new().with("fra", Behaviour::Fail);

    let br = run_attempt(&Arc::new(fakes()), &setup.plan(Policy::Br), None).await;
    assert_eq!(br.status, quorum::Status::Valid);
    assert_eq!(br.required_corroborations, Some(4));

    let strict = run_attempt(&Arc::new(fakes()), &setup.plan(Policy::Strict), None).await;
    assert!(matches!(
        strict.status,
        quorum::Status::Invalid(InvalidReason::TooFewCorroborations { required: 5, .. })
    ));
    assert_eq!(
        status_of(&strict, "fra"),
        &ResultStatus::NotCorroborated {
            reason: NonCorroboration::Mismatch {
                detail: "CAA forbids ca.example".into()
            }
        }
    );
}

#[tokio::test]
async fn three_of_six_dissenting_is_invalid() {
    let setup = Setup::new(SIX);
    let fakes = Arc::new(
        FakePerspectives::new()
            .with("iad", Behaviour::Fail)
            .with("fra", Behaviour::Error)
            .with("sin", Behaviour::Http500),
    );
    let record = run_attempt(&fakes, &setup.plan(Policy::Br), None).await;
    assert_eq!(
        record.status,
        quorum::Status::Invalid(InvalidReason::TooFewCorroborations {
            possible: 3,
            required: 4
        })
    );
    // Decided as soon as the third dissent arrived; nothing was left pending
    // that could have changed it.
    assert_eq!(record.tally.not_corroborated, 3);
}

#[tokio::test]
async fn corroborators_in_one_rir_are_invalid_whatever_the_reports_claim() {
    // Four in ARIN by configuration; the two others fail. The reports claim
    // AFRINIC, which must not count.
    let setup = Setup::new(&["iad", "dfw", "lax", "yyz", "fra", "sin"]);
    let fakes = Arc::new(
        FakePerspectives::new()
            .with("iad", Behaviour::ClaimsAfrinic)
            .with("dfw", Behaviour::ClaimsAfrinic)
            .with("fra", Behaviour::Fail)
            .with("sin", Behaviour::Fail),
    );
    let record = run_attempt(&fakes, &setup.plan(Policy::Br), None).await;
    assert_eq!(
        record.status,
        quorum::Status::Invalid(InvalidReason::TooFewRirs {
            possible: 1,
            required: 2
        })
    );
    let iad = record
        .results
        .iter()
        .find(|r| r.perspective_id == "iad")
        .unwrap();
    assert_eq!(iad.rir, Rir::Arin);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_perspective_does_not_delay_a_decision_already_certain() {
    let setup = Setup::new(SIX);
    let fakes = Arc::new(FakePerspectives::new().with("syd", Behaviour::Hang));
    let started = Instant::now();
    let record = run_attempt(&fakes, &setup.plan(Policy::Br), None).await;
    assert_eq!(record.status, quorum::Status::Valid);
    // The hanging call was started, never finished, and was dropped when the
    // decision became certain; had the engine waited for it, the paused clock
    // would have advanced to its deadline and it would read as a timeout.
    assert_eq!(fakes.hang.started.load(Ordering::SeqCst), 1);
    assert_eq!(fakes.hang.dropped.load(Ordering::SeqCst), 1);
    assert_eq!(status_of(&record, "syd"), &ResultStatus::Cancelled);
    let syd = record
        .results
        .iter()
        .find(|r| r.perspective_id == "syd")
        .unwrap();
    assert_eq!(syd.detail.as_deref(), Some(CANCELLED_DETAIL));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(record.tally.pending >= 1);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_perspective_that_matters_times_out_at_its_deadline() {
    let setup = Setup::new(SIX);
    let fakes = Arc::new(FakePerspectives::new().with("syd", Behaviour::Hang));
    let started = Instant::now();
    let record = run_attempt(&fakes, &setup.plan(Policy::Strict), None).await;
    assert_eq!(
        status_of(&record, "syd"),
        &ResultStatus::NotCorroborated {
            reason: NonCorroboration::Timeout
        }
    );
    assert!(matches!(record.status, quorum::Status::Invalid(_)));
    assert_eq!(started.elapsed(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn no_call_outlives_the_overall_deadline() {
    let setup = Setup::new(SIX);
    let fakes = Arc::new(FakePerspectives::new().with("syd", Behaviour::Hang));
    let mut plan = setup.plan(Policy::Strict);
    plan.deadline = Instant::now() + Duration::from_secs(3);
    let started = Instant::now();
    let record = run_attempt(&fakes, &plan, None).await;
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert!(!record.is_valid());
}

#[tokio::test]
async fn bad_reports_are_refused_each_with_its_reason() {
    let invalid = |fragment: &'static str| move |reason: &NonCorroboration| matches!(reason, NonCorroboration::InvalidReport { detail } if detail.contains(fragment));
    type Check = Box<dyn Fn(&NonCorroboration) -> bool>;
    let cases: Vec<(Behaviour, Check)> = vec![
        (
            Behaviour::Fail,
            Box::new(|r| matches!(r, NonCorroboration::Mismatch { .. })),
        ),
        (
            Behaviour::Error,
            Box::new(
                |r| matches!(r, NonCorroboration::PerspectiveError { detail } if detail == "resolver SERVFAIL"),
            ),
        ),
        (
            Behaviour::Http500,
            Box::new(
                |r| matches!(r, NonCorroboration::Unreachable { detail } if detail.contains("HTTP 500")),
            ),
        ),
        (Behaviour::Garbage, Box::new(invalid("expected value"))),
        (
            Behaviour::WrongKey,
            Box::new(invalid("not the perspective's key")),
        ),
        (
            Behaviour::Forged,
            Box::new(|r| *r == NonCorroboration::BadSignature),
        ),
        (
            Behaviour::Tampered,
            Box::new(|r| *r == NonCorroboration::BadSignature),
        ),
        (
            Behaviour::Stale,
            Box::new(|r| *r == NonCorroboration::Stale),
        ),
        (
            Behaviour::FromTheFuture,
            Box::new(|r| *r == NonCorroboration::Stale),
        ),
        (
            Behaviour::WrongPerspective,
            Box::new(invalid("`someone-else`, expected `iad`")),
        ),
        (
            Behaviour::WrongNonce,
            Box::new(|r| *r == NonCorroboration::WrongNonce),
        ),
        (
            Behaviour::WrongRequest,
            Box::new(invalid("another request")),
        ),
    ];
    let setup = Setup::new(SIX);
    for (behaviour, check) in cases {
        let fakes = Arc::new(FakePerspectives::new().with("iad", behaviour));
        let record = run_attempt(&fakes, &setup.plan(Policy::Strict), None).await;
        assert!(!record.is_valid(), "{behaviour:?}");
        let iad = &record.results[0];
        match &iad.status {
            ResultStatus::NotCorroborated { reason } => {
                assert!(check(reason), "{behaviour:?}: {reason:?}")
            }
            other => panic!("{behaviour:?}: {other:?}"),
        }
        assert!(iad.detail.is_some(), "{behaviour:?} has no detail");
        // A report that did not verify is kept as evidence but never decoded.
        assert!(iad.verified.is_none() || matches!(behaviour, Behaviour::Fail | Behaviour::Error));
    }
}

#[tokio::test]
async fn a_cohort_below_the_br_minimum_is_invalid_without_calling_anyone() {
    let setup = Setup::new(&["iad", "fra", "sin"]);
    let fakes = Arc::new(FakePerspectives::new());
    let record = run_attempt(&fakes, &setup.plan(Policy::Br), None).await;
    assert_eq!(
        record.status,
        quorum::Status::Invalid(InvalidReason::TooFewPerspectives {
            used: 3,
            required: 4
        })
    );
    assert!(fakes.calls().is_empty());
    assert!(
        record
            .results
            .iter()
            .all(|r| r.status == ResultStatus::Cancelled)
    );
}
