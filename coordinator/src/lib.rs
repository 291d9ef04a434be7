//! mpic-coordinator: the part a CA runs for Multi-Perspective Issuance
//! Corroboration (CA/B Forum TLS BR 3.2.2.9).
//!
//! A [`Coordinator`] takes an Open MPIC request ([`CheckRequest`]), picks a
//! cohort of remote perspectives for its domain, sends each a signed request
//! and verifies every signed report that comes back, applies the BR quorum,
//! and retries with another cohort when the quorum fails, all alongside the
//! CA's own primary perspective when `[primary]` is configured. The result
//! is a [`Decision`] that carries its evidence: every perspective's result
//! and signed report, for every attempt.
//!
//! ```no_run
//! use mpic_coordinator::{CheckRequest, Config, Coordinator, HttpTransport, Outcome};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::load("mpic.toml".as_ref())?;
//! let coordinator = Coordinator::new(config, HttpTransport::new()?)?;
//! coordinator.primary_self_test().await;
//!
//! let request = CheckRequest::from_json(
//!     br#"{"check_type": "caa", "domain_or_ip_target": "example.com"}"#,
//! )?;
//! let decision = coordinator.check(&request).await?;
//! match decision.outcome() {
//!     Outcome::Corroborated => println!("corroborated: {}", decision.tally().unwrap_or_default()),
//!     _ => {
//!         for reason in decision.reasons() {
//!             println!("not corroborated: {reason}");
//!         }
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! I/O toward perspectives goes through [`PerspectiveTransport`]; the real
//! one is [`HttpTransport`]. [`serve`] runs the Open MPIC HTTP API over a
//! coordinator, and [`evidence`] keeps and re-verifies every decision.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod ca_identity;
mod check_call;
mod clock;
mod cohort;
mod config;
mod decision;
pub mod embedded;
pub mod evidence;
mod fanout;
mod http_read;
mod identity_probe;
mod native_network;
mod orchestration;
mod perspective_config;
mod primary;
mod transport;

#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod testing;

#[cfg(test)]
mod test_fixtures;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use mpic_core::dnssec_self_test::DnssecSelfTest;
use mpic_core::quorum::{self, Requirements};
use tokio::time::Instant;

use crate::cohort::{Cohort, CohortSelector};
use crate::orchestration::{Asked, Orchestration};

pub use mpic_core::check::{CheckRequest, CheckType};

pub use crate::api::{ServeError, serve};
pub use crate::ca_identity::CaIdentities;
pub use crate::clock::now_ms;
pub use crate::cohort::CohortError;
pub use crate::config::{
    ApiClient, ApiConfig, Config, ConfigError, Defaults, Environment, EvidenceConfig,
    PrimaryConfig, Problem, Problems, ServeConfig, Severity, TextError,
};
pub use crate::decision::{
    AttemptRecord, Decision, LateResult, Outcome, PerspectiveResult, PrimaryResult, Reason,
    RecordedDecision, ResultStatus, Stragglers,
};
pub use crate::identity_probe::{ProbeClientError, ProbeProblem, ProbeResult, probe_all};
pub use crate::native_network::{
    DEFAULT_DOH_URL, LocalPorts, NativeNetworkConfig, NativeNetworkError,
};
pub use crate::orchestration::{Adjustment, Refused};
pub use crate::perspective_config::PerspectiveConfig;
pub use crate::primary::PrimaryPerspective;
pub use crate::transport::{CallError, HttpClientError, HttpTransport, PerspectiveTransport};
pub use mpic_core::check::RequestIssue;

/// Runs checks for a CA. Cheap to share behind an `Arc`; `check` takes `&self`.
pub struct Coordinator<T> {
    config: Config,
    selector: Arc<CohortSelector>,
    /// Selectors for perspective counts other than the configured one, made
    /// when a request first asks for that count (at most one per count).
    other_selectors: Mutex<HashMap<usize, Result<Arc<CohortSelector>, CohortError>>>,
    transport: Arc<T>,
    /// The CA's own look at every check, from `[primary]`: a decision is
    /// valid only if it passes too ([`primary`]).
    primary: Option<PrimaryPerspective>,
    /// Whether calls still running at a decision run on and report
    /// ([`Decision::stragglers`]).
    keep_late_results: bool,
}

impl<T: std::fmt::Debug> std::fmt::Debug for Coordinator<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator")
            .field("config", &self.config)
            .field("selector", &self.selector)
            .field("transport", &self.transport)
            .field("primary", &self.primary)
            .finish()
    }
}

/// Why a [`Coordinator`] could not be made from its configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoordinatorError {
    /// No cohort can be formed, which a validated configuration excludes.
    #[error(transparent)]
    Cohort(#[from] CohortError),
    /// `[primary]` names a resolver the primary's network cannot use.
    #[error("[primary]: {0}")]
    Primary(#[from] native_network::NativeNetworkError),
}

impl<T: PerspectiveTransport + 'static> Coordinator<T> {
    /// The coordinator for `config`, asking perspectives over `transport`.
    /// With `[primary]` configured, it builds the primary perspective (a
    /// network on this host), which then runs alongside every check.
    pub fn new(config: Config, transport: T) -> Result<Self, CoordinatorError> {
        let selector = CohortSelector::new(
            &config.cohort_secret,
            &config.perspectives,
            config.defaults.perspective_count,
            config.primary_location,
        )?;
        let primary = config
            .primary
            .as_ref()
            .map(PrimaryPerspective::from_config)
            .transpose()?;
        Ok(Self {
            config,
            selector: Arc::new(selector),
            other_selectors: Mutex::new(HashMap::new()),
            transport: Arc::new(transport),
            primary,
            keep_late_results: true,
        })
    }

    /// With `false`, calls still running when an attempt is decided are
    /// dropped instead of running on, and no decision has late results:
    /// what the coordinator did before the evidence store, kept to measure
    /// the difference (BENCHMARKS.md). Default `true`.
    pub fn with_late_results(mut self, keep: bool) -> Self {
        self.keep_late_results = keep;
        self
    }

    /// The primary perspective every check runs, if `[primary]` is
    /// configured.
    pub fn primary(&self) -> Option<&PrimaryPerspective> {
        self.primary.as_ref()
    }

    /// Runs the primary's DNSSEC self-test and logs its result (a resolver
    /// that fails it is a warning an operator sees at once; its lookup
    /// failures never count as permission either way). `None` without a
    /// primary. Front ends call it once at start-up.
    pub async fn primary_self_test(&self) -> Option<DnssecSelfTest> {
        match &self.primary {
            Some(primary) => Some(primary.logged_self_test().await),
            None => None,
        }
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Corroborates `request`: with the configured perspective count, quorum
    /// and attempts as its `orchestration_parameters` change them (within
    /// the configured limits and the BR minimums: a value lowered is an
    /// [`Adjustment`], one refused a [`Refused`]), up to that many attempts,
    /// each with a new cohort and new nonces, never combining results across
    /// attempts, all within the configured deadline, with the primary
    /// perspective (if configured) run alongside. Logs one line per
    /// decision (BR 5.4.1).
    ///
    /// Refused orchestration parameters are an error naming each field;
    /// nothing is sent to any perspective then.
    pub async fn check(&self, request: &CheckRequest) -> Result<Decision, Refused> {
        let requirements = Requirements::for_unix_ms(clock::now_ms());
        let plan = orchestration::resolve(
            &self.config.defaults,
            self.config.perspectives.len(),
            requirements,
            &Asked::from_request(request),
        )?;
        let selector = self
            .selector_for(plan.perspective_count)
            .map_err(|e| Refused::one(orchestration::PERSPECTIVE_COUNT_FIELD, e.to_string()))?;
        Ok(self.decide(request, &selector, plan, requirements).await)
    }

    /// The remote perspectives' decision, and the primary's result folded
    /// in when there is a primary.
    async fn decide(
        &self,
        request: &CheckRequest,
        selector: &CohortSelector,
        plan: Orchestration,
        requirements: Requirements,
    ) -> Decision {
        let Some(primary) = &self.primary else {
            let decision = self.run(request, selector, plan, requirements).await;
            log_decision(&decision);
            return decision;
        };
        let defaults = &self.config.defaults;
        let (decision, primary_result) = futures_util::future::join(
            self.run(request, selector, plan, requirements),
            primary.run(request, &defaults.caa_issuer_domains, defaults.deadline),
        )
        .await;
        let decision = primary::combine(decision, primary_result);
        log_decision(&decision);
        decision
    }

    /// The cohort selector for `size` perspectives per attempt.
    fn selector_for(&self, size: usize) -> Result<Arc<CohortSelector>, CohortError> {
        if size == self.selector.size() {
            return Ok(Arc::clone(&self.selector));
        }
        // A poisoned map still holds only finished entries.
        let mut selectors = self
            .other_selectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        selectors
            .entry(size)
            .or_insert_with(|| {
                CohortSelector::new(
                    &self.config.cohort_secret,
                    &self.config.perspectives,
                    size,
                    self.config.primary_location,
                )
                .map(Arc::new)
            })
            .clone()
    }

    async fn run(
        &self,
        request: &CheckRequest,
        selector: &CohortSelector,
        plan: Orchestration,
        requirements: Requirements,
    ) -> Decision {
        let defaults = &self.config.defaults;
        let deadline = Instant::now() + defaults.deadline;
        let mut cohorts: Vec<Cohort> = Vec::new();
        let mut attempts: Vec<AttemptRecord> = Vec::new();
        let mut reasons: Vec<Reason> = Vec::new();
        let target = request.target.to_string();
        let mut completed = true;
        let (late_sink, late_results) = tokio::sync::mpsc::unbounded_channel();

        // With cohort_for_single_attempt, the cohorts before it are chosen
        // (never run) so that its cohort is the one that attempt would use.
        for number in 1..plan.first_cohort {
            match selector.select(&target, number, &cohorts) {
                Ok(cohort) => cohorts.push(cohort),
                Err(e) => {
                    reasons.push(Reason::NoEarlierCohort {
                        cohort: number,
                        error: e.to_string(),
                    });
                    completed = false;
                    break;
                }
            }
        }
        let attempts_to_run = if completed { plan.max_attempts } else { 0 };

        for attempt in 1..=attempts_to_run {
            if attempt > 1 && Instant::now() >= deadline {
                reasons.push(Reason::DeadlineReached {
                    deadline_ms: u64::try_from(defaults.deadline.as_millis()).unwrap_or(u64::MAX),
                    attempts: attempts.len(),
                });
                break;
            }
            let number = plan.first_cohort.saturating_add(attempt - 1);
            let cohort = match selector.select(&target, number, &cohorts) {
                Ok(cohort) => cohort,
                Err(e) => {
                    reasons.push(Reason::NoCohort {
                        attempt,
                        error: e.to_string(),
                    });
                    completed = false;
                    break;
                }
            };
            let plan = fanout::AttemptPlan {
                attempt,
                members: cohort
                    .members
                    .iter()
                    .filter_map(|&i| self.config.perspectives.get(i))
                    .collect(),
                request,
                signing_key: &self.config.signing_key,
                caa_issuer_domains: &defaults.caa_issuer_domains,
                policy: plan.policy,
                requirements,
                call_timeout: defaults.call_timeout,
                deadline,
                max_report_age: defaults.max_report_age,
                max_future_skew: defaults.max_future_skew,
            };
            let late = self.keep_late_results.then_some(&late_sink);
            let record = fanout::run_attempt(&self.transport, &plan, late).await;
            cohorts.push(cohort);
            let settled = match &record.status {
                quorum::Status::Valid => true,
                quorum::Status::Invalid(reason) => {
                    reasons.push(Reason::QuorumNotMet {
                        attempt,
                        tally: record.tally,
                        reason: reason.clone(),
                    });
                    // A cohort or policy that cannot work will not work with
                    // another cohort either.
                    matches!(
                        reason,
                        quorum::InvalidReason::TooFewPerspectives { .. }
                            | quorum::InvalidReason::Policy { .. }
                    )
                }
                quorum::Status::Undecided => false,
            };
            attempts.push(record);
            if settled {
                break;
            }
        }

        let is_valid = attempts.last().is_some_and(AttemptRecord::is_valid);
        let outcome = if is_valid {
            reasons.clear();
            Outcome::Corroborated
        } else if completed {
            Outcome::NotCorroborated
        } else {
            Outcome::Incomplete
        };
        Decision {
            facts: decision::Facts {
                outcome,
                target,
                check_type: request.check_type(),
                reasons,
                perspective_count: selector.size(),
                attempts,
                primary: None,
                orchestration_adjustments: plan.adjustments,
                stragglers: Stragglers::new(late_results),
            },
        }
    }
}

/// For each attempt, its quorum result and each perspective's id and result:
/// `attempt 1 5/6 [cf-fra=corroborated cf-sin=not_corroborated:timeout ...]`.
fn attempts_summary(decision: &Decision) -> String {
    decision
        .attempts()
        .iter()
        .map(|a| {
            let results = a
                .results
                .iter()
                .map(|r| format!("{}={}", r.perspective_id, r.status.summary()))
                .collect::<Vec<_>>()
                .join(" ");
            format!("attempt {} {} [{results}]", a.attempt, a.quorum_result())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The orchestration values used otherwise than asked, or `-`.
fn adjustments_summary(decision: &Decision) -> String {
    if decision.orchestration_adjustments().is_empty() {
        return "-".into();
    }
    decision
        .orchestration_adjustments()
        .iter()
        .map(|a| {
            let used = a
                .used
                .map_or_else(|| "unused".to_owned(), |u| u.to_string());
            format!("{} {} -> {used} ({})", a.field, a.requested, a.reason)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The reasons, one after another, or `-`.
fn reasons_summary(decision: &Decision) -> String {
    if decision.reasons().is_empty() {
        return "-".into();
    }
    decision
        .reasons()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The primary's verdict and whether the remote perspectives corroborated
/// it, or `-` without a primary.
fn primary_summary(decision: &Decision) -> String {
    decision.primary().map_or_else(
        || "-".to_owned(),
        |p| {
            format!(
                "{} (corroborated by remote: {}): {}",
                p.verdict, p.corroborated_by_remote, p.reason
            )
        },
    )
}

/// One line per decision with the BR 5.4.1 items: the identifier checked,
/// for each attempt each perspective's id and result and the quorum result,
/// and the primary perspective's result.
fn log_decision(decision: &Decision) {
    tracing::info!(
        target: "mpic::decision",
        identifier = %decision.target(),
        check_type = decision.check_type().as_str(),
        outcome = ?decision.outcome(),
        is_valid = decision.is_valid(),
        quorum = %decision.tally().map(|t| t.to_string()).unwrap_or_default(),
        attempt_count = decision.attempt_count(),
        attempts = %attempts_summary(decision),
        primary = %primary_summary(decision),
        reasons = %reasons_summary(decision),
        adjustments = %adjustments_summary(decision),
        "MPIC decision"
    );
}

#[cfg(test)]
mod tests;
