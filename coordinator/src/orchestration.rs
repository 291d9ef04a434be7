//! Per-request orchestration (Open MPIC `orchestration_parameters`): how far
//! a request may change the configured perspective count, quorum and
//! attempts.
//!
//! A request may ask for:
//! * `perspective_count`: from `defaults.min_perspective_count` (by default
//!   the configured `perspective_count`, so a request can add perspectives
//!   but never shrink the cohort) and today's BR 3.2.2.9 minimum, up to the
//!   number of configured perspectives (and only a count for which a cohort
//!   of distinct perspectives exists; [`crate::Coordinator::check`]
//!   checks that). A smaller cohort would need fewer corroborations and,
//!   being chosen by the same keyed order, would be roughly the head of the
//!   configured one: an easier target for an attacker on a few routes;
//! * `quorum_count`: from the BR minimum for that count (all but one for 2-5
//!   perspectives, all but two for 6 or more) and never below what the CA's
//!   configured policy requires, up to the count. Open MPIC's monitoring mode
//!   (`quorum_count: 0`) is refused: a pass must be corroborated;
//! * `max_attempts`: as Open MPIC 3.7 reads it, 0 or less is one attempt and
//!   more than `defaults.max_attempts_cap` is lowered to the cap. Each such
//!   change is an [`Adjustment`], said in the response's `x_mpic` and in the
//!   decision log, so a CA that asked for something sees what it got;
//! * `cohort_for_single_attempt` (Open MPIC 3.7): exactly one attempt, with
//!   the cohort that attempt number would use, counted from 1 up to
//!   `defaults.max_attempts_cap` (the cohorts a check may ever use);
//!   `max_attempts` is then not used.
//!
//! Anything else is refused with the field and the reason.

use mpic_core::check::{CheckRequest, RequestIssue};
use mpic_core::quorum::{Policy, PolicyError, Requirements, br_minimum_corroborations};
use serde::{Deserialize, Serialize};

use crate::config::Defaults;

/// Field paths, as request validation names them.
pub const PERSPECTIVE_COUNT_FIELD: &str = "orchestration_parameters.perspective_count";
pub const QUORUM_COUNT_FIELD: &str = "orchestration_parameters.quorum_count";
pub const MAX_ATTEMPTS_FIELD: &str = "orchestration_parameters.max_attempts";
pub const COHORT_FIELD: &str = "orchestration_parameters.cohort_for_single_attempt";

/// What a request asks to change; `None` keeps the configured value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Asked {
    pub perspective_count: Option<usize>,
    pub quorum_count: Option<usize>,
    /// As sent (see the module docs for values out of range).
    pub max_attempts: Option<i64>,
    /// As sent, counted from 1.
    pub cohort_for_single_attempt: Option<i64>,
}

impl Asked {
    /// The request's `orchestration_parameters`, if any.
    pub(crate) fn from_request(request: &CheckRequest) -> Self {
        let Some(p) = request.orchestration_parameters else {
            return Self::default();
        };
        let size = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        Self {
            perspective_count: p.perspective_count.map(size),
            quorum_count: p.quorum_count.map(size),
            max_attempts: p.max_attempts,
            cohort_for_single_attempt: p.cohort_for_single_attempt,
        }
    }
}

/// What one check runs with, overrides applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orchestration {
    pub perspective_count: usize,
    pub policy: Policy,
    pub max_attempts: u32,
    /// The cohort the first attempt uses, counted from 1: attempt `n` uses
    /// the cohort of number `first_cohort + n - 1`.
    pub first_cohort: u32,
    /// What was asked and not done as asked.
    pub adjustments: Vec<Adjustment>,
}

impl Orchestration {
    /// The configured defaults.
    #[cfg(test)]
    pub fn configured(defaults: &Defaults) -> Self {
        Self {
            perspective_count: defaults.perspective_count,
            policy: defaults.policy,
            max_attempts: defaults.max_attempts,
            first_cohort: 1,
            adjustments: Vec::new(),
        }
    }
}

/// A request's orchestration value that was used otherwise than sent, and
/// why (Open MPIC's semantics, which lower rather than refuse).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    /// Dotted path, e.g. `orchestration_parameters.max_attempts`.
    pub field: String,
    /// The value the request sent.
    pub requested: i64,
    /// The value used; `None` when the field was not used at all.
    pub used: Option<u32>,
    /// Why it was used otherwise, for the response's `x_mpic` and the log.
    pub reason: String,
}

/// Why a request's orchestration parameters were refused; every issue found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid orchestration_parameters: {}", join(.0))]
pub struct Refused(pub Vec<RequestIssue>);

impl Refused {
    /// A refusal of one field, `field` (its dotted path), for `message`.
    pub fn one(field: &str, message: impl Into<String>) -> Self {
        Self(vec![RequestIssue {
            field: field.to_owned(),
            message: message.into(),
        }])
    }
}

fn join(issues: &[RequestIssue]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The fewest corroborations the CA's configured policy accepts among
/// `count` perspectives: a request may ask for more, never fewer.
pub fn configured_floor(policy: Policy, count: usize) -> usize {
    let br = br_minimum_corroborations(count);
    match policy {
        Policy::Br => br,
        Policy::Strict => count.max(1),
        // "At least n", or all of them when fewer are used.
        Policy::Count(n) => n.min(count).max(br),
    }
}

/// The configured policy applied to `count` perspectives.
fn configured_policy(policy: Policy, count: usize) -> Policy {
    match policy {
        Policy::Br | Policy::Strict => policy,
        Policy::Count(_) => Policy::Count(configured_floor(policy, count)),
    }
}

/// Applies `overrides` to the configured `defaults`, given the number of
/// configured perspectives and today's BR requirements.
pub(crate) fn resolve(
    defaults: &Defaults,
    configured_perspectives: usize,
    requirements: Requirements,
    overrides: &Asked,
) -> Result<Orchestration, Refused> {
    let mut issues = Vec::new();
    let mut issue = |field: &str, message: String| {
        issues.push(RequestIssue {
            field: field.to_owned(),
            message,
        })
    };

    let count = overrides
        .perspective_count
        .unwrap_or(defaults.perspective_count);
    let mut count_ok = true;
    if let Some(p) = overrides.perspective_count {
        if p < requirements.min_perspectives {
            issue(
                PERSPECTIVE_COUNT_FIELD,
                format!(
                    "is {p}; BR 3.2.2.9 requires at least {} remote perspectives today",
                    requirements.min_perspectives
                ),
            );
            count_ok = false;
        } else if p < defaults.min_perspective_count {
            issue(
                PERSPECTIVE_COUNT_FIELD,
                format!(
                    "is {p}; this CA uses at least {} perspectives per attempt \
                     (defaults.min_perspective_count): a request may ask for more, never fewer",
                    defaults.min_perspective_count
                ),
            );
            count_ok = false;
        } else if p > configured_perspectives {
            issue(
                PERSPECTIVE_COUNT_FIELD,
                format!("is {p}, but only {configured_perspectives} perspectives are configured"),
            );
            count_ok = false;
        }
    }

    let policy = match overrides.quorum_count {
        None => configured_policy(defaults.policy, count),
        // Judged against a count that is itself refused, a quorum issue
        // would only confuse.
        Some(q) if !count_ok => Policy::Count(q),
        Some(q) => {
            let floor = configured_floor(defaults.policy, count);
            match Policy::Count(q).required_corroborations(count) {
                Err(PolicyError::CountBelowBrMinimum { minimum, .. }) => issue(
                    QUORUM_COUNT_FIELD,
                    format!(
                        "is {q}; BR 3.2.2.9 requires at least {minimum} corroborations among \
                         {count} perspectives{}",
                        if q == 0 {
                            " (monitoring mode is not offered: a pass must be corroborated)"
                        } else {
                            ""
                        }
                    ),
                ),
                Err(PolicyError::CountAboveUsed { .. }) => issue(
                    QUORUM_COUNT_FIELD,
                    format!("is {q}, more than the {count} perspectives used"),
                ),
                Ok(_) if q < floor => issue(
                    QUORUM_COUNT_FIELD,
                    format!(
                        "is {q}; this CA requires at least {floor} corroborations among {count} \
                         perspectives (a request may ask for more, not fewer)"
                    ),
                ),
                Ok(_) => {}
            }
            Policy::Count(q)
        }
    };

    let cap = defaults.max_attempts_cap;
    let mut adjustments = Vec::new();
    let mut max_attempts = defaults.max_attempts;
    let mut first_cohort = 1;
    if let Some(cohort) = overrides.cohort_for_single_attempt {
        match u32::try_from(cohort) {
            Ok(cohort) if (1..=cap).contains(&cohort) => {
                first_cohort = cohort;
                max_attempts = 1;
            }
            _ => issue(
                COHORT_FIELD,
                format!(
                    "is {cohort}; it must be from 1 to {cap}: cohorts are counted from 1, and a \
                     check may use at most defaults.max_attempts_cap ({cap}) cohorts"
                ),
            ),
        }
        if let Some(requested) = overrides.max_attempts {
            adjustments.push(Adjustment {
                field: MAX_ATTEMPTS_FIELD.into(),
                requested,
                used: None,
                reason: "cohort_for_single_attempt runs exactly one attempt".into(),
            });
        }
    } else if let Some(requested) = overrides.max_attempts {
        let (used, reason) = if requested < 1 {
            (1, Some("0 or less means one attempt".to_owned()))
        } else if requested > i64::from(cap) {
            (
                cap,
                Some(
                    "lowered to defaults.max_attempts_cap: each attempt is another cohort an \
                     attacker on some routes might fool"
                        .to_owned(),
                ),
            )
        } else {
            (u32::try_from(requested).unwrap_or(cap), None)
        };
        max_attempts = used;
        if let Some(reason) = reason {
            adjustments.push(Adjustment {
                field: MAX_ATTEMPTS_FIELD.into(),
                requested,
                used: Some(used),
                reason,
            });
        }
    }

    if issues.is_empty() {
        Ok(Orchestration {
            perspective_count: count,
            policy,
            max_attempts,
            first_cohort,
            adjustments,
        })
    } else {
        Err(Refused(issues))
    }
}

#[cfg(test)]
mod tests;
