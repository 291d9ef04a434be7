//! mpic-coordinator: the part a CA runs.
//!
//! A [`Coordinator`] takes a check ([`CheckSpec`]), picks a cohort of remote
//! perspectives for its domain ([`cohort`]), sends each a signed request and
//! verifies every signed report that comes back ([`fanout`]), applies BR
//! 3.2.2.9 quorum, and retries with another cohort when quorum fails. The
//! result is a [`Decision`] that carries its evidence: every perspective's
//! result and signed report, for every attempt.
//!
//! I/O toward perspectives goes through [`PerspectiveTransport`]; the real
//! one is [`HttpTransport`].
#![forbid(unsafe_code)]

pub mod api;
pub mod ca_identity;
pub mod check_call;
pub mod clock;
pub mod cohort;
pub mod config;
pub mod decision;
pub mod embedded;
pub mod evidence;
pub mod fanout;
pub mod http_read;
pub mod identity_probe;
pub mod native_network;
pub mod orchestration;
pub mod perspective_config;
pub mod primary;
pub mod transport;

#[cfg(test)]
mod test_fixtures;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use mpic_core::quorum::{self, Requirements};
use tokio::time::Instant;

use crate::orchestration::{Orchestration, OverrideError, Overrides};

pub use crate::check_call::{CheckCall, CheckSpec, CheckType};
pub use crate::cohort::{Cohort, CohortError, CohortSelector};
pub use crate::config::{Config, PerspectiveConfig};
pub use crate::decision::{
    AttemptRecord, Decision, LateResult, PerspectiveResult, PrimaryResult, ResultStatus, Stragglers,
};
pub use crate::orchestration::OverrideIssue;
pub use crate::primary::PrimaryPerspective;
pub use crate::transport::{CallError, HttpTransport, PerspectiveTransport};

/// Runs checks for a CA. Cheap to share behind an `Arc`; `check` takes `&self`.
pub struct Coordinator<T> {
    config: Config,
    selector: Arc<CohortSelector>,
    /// Selectors for perspective counts other than the configured one, made
    /// when a request first asks for that count (at most one per count).
    other_selectors: Mutex<HashMap<usize, Result<Arc<CohortSelector>, CohortError>>>,
    transport: Arc<T>,
    /// The CA's own look at every check, when configured: a decision is
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

impl<T: PerspectiveTransport + 'static> Coordinator<T> {
    /// Fails only when no cohort can be formed, which a validated
    /// configuration already excludes.
    pub fn new(config: Config, transport: T) -> Result<Self, CohortError> {
        let selector = CohortSelector::new(
            &config.cohort_secret,
            &config.perspectives,
            config.defaults.perspective_count,
            config.primary_location,
        )?;
        Ok(Self {
            config,
            selector: Arc::new(selector),
            other_selectors: Mutex::new(HashMap::new()),
            transport: Arc::new(transport),
            primary: None,
            keep_late_results: true,
        })
    }

    /// Runs `primary` alongside every check from now on, through
    /// [`Coordinator::check`] and [`Coordinator::check_with`] alike: a
    /// decision is valid only if the primary passes and the remote quorum
    /// corroborates it (see [`primary`]).
    pub fn with_primary(mut self, primary: PrimaryPerspective) -> Self {
        self.primary = Some(primary);
        self
    }

    /// With `false`, calls still running when an attempt is decided are
    /// dropped instead of running on, and no decision has late results:
    /// what the coordinator did before the evidence store, kept to measure
    /// the difference (BENCHMARKS.md). Default `true`.
    pub fn with_late_results(mut self, keep: bool) -> Self {
        self.keep_late_results = keep;
        self
    }

    /// The primary perspective every check runs, if any.
    pub fn primary(&self) -> Option<&PrimaryPerspective> {
        self.primary.as_ref()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Corroborates `spec` with the configured perspective count, quorum and
    /// attempts (its `orchestration_parameters` are not consulted; see
    /// [`Coordinator::check_with`]): up to `max_attempts` attempts, each with
    /// a new cohort and new nonces, never combining results across attempts,
    /// all within the configured deadline, with the primary perspective (if
    /// any) run alongside. Logs one line per decision.
    pub async fn check(&self, spec: &CheckSpec) -> Decision {
        let requirements = Requirements::for_unix_ms(clock::now_ms());
        let plan = Orchestration::configured(&self.config.defaults);
        self.decide(spec, &self.selector, plan, requirements).await
    }

    /// As [`Coordinator::check`], with per-request `overrides` (Open MPIC
    /// `orchestration_parameters`) applied within the limits described in
    /// [`orchestration`]. Refused overrides are an error naming each field;
    /// nothing is sent to any perspective then.
    pub async fn check_with(
        &self,
        spec: &CheckSpec,
        overrides: &Overrides,
    ) -> Result<Decision, OverrideError> {
        let requirements = Requirements::for_unix_ms(clock::now_ms());
        let plan = orchestration::resolve(
            &self.config.defaults,
            self.config.perspectives.len(),
            requirements,
            overrides,
        )?;
        let selector = self.selector_for(plan.perspective_count).map_err(|e| {
            OverrideError::one(orchestration::PERSPECTIVE_COUNT_FIELD, e.to_string())
        })?;
        Ok(self.decide(spec, &selector, plan, requirements).await)
    }

    /// The remote perspectives' decision, and the primary's result folded
    /// in when there is a primary.
    async fn decide(
        &self,
        spec: &CheckSpec,
        selector: &CohortSelector,
        plan: Orchestration,
        requirements: Requirements,
    ) -> Decision {
        let Some(primary) = &self.primary else {
            return self.run(spec, selector, plan, requirements).await;
        };
        let defaults = &self.config.defaults;
        let (decision, primary_result) = futures_util::future::join(
            self.run(spec, selector, plan, requirements),
            primary.run(spec, &defaults.caa_issuer_domains, defaults.deadline),
        )
        .await;
        primary::combine(decision, primary_result)
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
        spec: &CheckSpec,
        selector: &CohortSelector,
        plan: Orchestration,
        requirements: Requirements,
    ) -> Decision {
        let defaults = &self.config.defaults;
        let deadline = Instant::now() + defaults.deadline;
        let mut cohorts: Vec<Cohort> = Vec::new();
        let mut attempts: Vec<AttemptRecord> = Vec::new();
        let mut reasons: Vec<String> = Vec::new();
        let mut completed = true;
        let (late_sink, late_results) = tokio::sync::mpsc::unbounded_channel();

        // With cohort_for_single_attempt, the cohorts before it are chosen
        // (never run) so that its cohort is the one that attempt would use.
        for number in 1..plan.first_cohort {
            match selector.select(&spec.target, number, &cohorts) {
                Ok(cohort) => cohorts.push(cohort),
                Err(e) => {
                    reasons.push(format!("cohort {number}: no cohort: {e}"));
                    completed = false;
                    break;
                }
            }
        }
        let attempts_to_run = if completed { plan.max_attempts } else { 0 };

        for attempt in 1..=attempts_to_run {
            if attempt > 1 && Instant::now() >= deadline {
                reasons.push(format!(
                    "deadline of {} ms reached after {} attempt(s)",
                    defaults.deadline.as_millis(),
                    attempts.len()
                ));
                break;
            }
            let number = plan.first_cohort.saturating_add(attempt - 1);
            let cohort = match selector.select(&spec.target, number, &cohorts) {
                Ok(cohort) => cohort,
                Err(e) => {
                    reasons.push(format!("attempt {attempt}: no cohort: {e}"));
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
                spec,
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
            let settled = match &record.decision {
                quorum::Status::Valid => true,
                quorum::Status::Invalid(reason) => {
                    reasons.push(format!("attempt {attempt} ({}): {reason}", record.tally));
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

        let last = attempts.last();
        let is_valid = last.is_some_and(AttemptRecord::is_valid);
        if is_valid {
            reasons.clear();
        }
        let decision = Decision {
            is_valid,
            mpic_completed: completed,
            target: spec.target.clone(),
            check_type: spec.check_type,
            quorum: last.map(AttemptRecord::quorum_result).unwrap_or_default(),
            reasons,
            perspective_count: selector.size(),
            quorum_count: last.and_then(|a| a.required_corroborations),
            attempts,
            primary: None,
            orchestration_adjustments: plan.adjustments,
            stragglers: Stragglers::new(late_results),
        };
        log_decision(&decision);
        decision
    }
}

/// For each attempt, its quorum result and each perspective's id and result:
/// `attempt 1 5/6 [cf-fra=corroborated cf-sin=not_corroborated:timeout ...]`.
fn attempts_summary(decision: &Decision) -> String {
    decision
        .attempts
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
    if decision.orchestration_adjustments.is_empty() {
        return "-".into();
    }
    decision
        .orchestration_adjustments
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

/// One line per decision with the BR 5.4.1 items: the identifier checked,
/// and for each attempt each perspective's id and result and the quorum
/// result.
fn log_decision(decision: &Decision) {
    tracing::info!(
        target: "mpic::decision",
        identifier = %decision.target,
        check_type = decision.check_type.as_str(),
        is_valid = decision.is_valid,
        quorum = %decision.quorum,
        attempt_count = decision.attempts.len(),
        attempts = %attempts_summary(decision),
        reasons = %decision.reasons.join("; "),
        adjustments = %adjustments_summary(decision),
        "MPIC decision"
    );
}

#[cfg(test)]
mod tests;
