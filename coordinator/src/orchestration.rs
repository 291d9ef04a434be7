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

use std::fmt;

use mpic_core::check::CheckRequest;
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

/// One refused override: which field and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedField {
    /// Dotted path, e.g. `orchestration_parameters.quorum_count`.
    pub field: String,
    /// Why the value cannot be used.
    pub message: String,
}

impl fmt::Display for RefusedField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a request's orchestration parameters were refused; every issue found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid orchestration_parameters: {}", join(.0))]
pub struct Refused(pub Vec<RefusedField>);

impl Refused {
    /// A refusal of one field, `field` (its dotted path), for `message`.
    pub fn one(field: &str, message: impl Into<String>) -> Self {
        Self(vec![RefusedField {
            field: field.to_owned(),
            message: message.into(),
        }])
    }
}

fn join(issues: &[RefusedField]) -> String {
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
        issues.push(RefusedField {
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
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::test_fixtures::{config, places};

    const SIX: &[&str] = &["iad", "lax", "fra", "lhr", "sin", "syd"];

    /// A CAA request for example.com whose `orchestration_parameters` ask
    /// what `asked` says.
    fn asking(asked: &Asked) -> CheckRequest {
        let mut parameters = serde_json::Map::new();
        let mut put = |name: &str, value: Option<i64>| {
            if let Some(value) = value {
                parameters.insert(name.to_owned(), value.into());
            }
        };
        let count = |n: Option<usize>| n.map(|n| i64::try_from(n).unwrap());
        put("perspective_count", count(asked.perspective_count));
        put("quorum_count", count(asked.quorum_count));
        put("max_attempts", asked.max_attempts);
        put("cohort_for_single_attempt", asked.cohort_for_single_attempt);
        let request = CheckRequest::from_value(&serde_json::json!({
            "check_type": "caa",
            "domain_or_ip_target": "example.com",
            "orchestration_parameters": parameters,
        }))
        .unwrap();
        assert_eq!(&Asked::from_request(&request), asked);
        request
    }

    /// (perspective_count, quorum_count, max_attempts) as a request asks.
    type Counts = (Option<usize>, Option<usize>, Option<u32>);

    /// The rules of 2026-12-15 and later: at least 5 perspectives.
    const LATE: Requirements = Requirements {
        min_perspectives: 5,
        min_rirs: 2,
    };

    fn overrides(p: Option<usize>, q: Option<usize>, m: Option<u32>) -> Asked {
        Asked {
            perspective_count: p,
            quorum_count: q,
            max_attempts: m.map(i64::from),
            cohort_for_single_attempt: None,
        }
    }

    fn fields(result: Result<Orchestration, Refused>) -> Vec<String> {
        match result {
            Ok(o) => panic!("accepted: {o:?}"),
            Err(e) => e.0.into_iter().map(|i| i.field).collect(),
        }
    }

    #[test]
    fn no_overrides_is_the_configuration() {
        for policy in [Policy::Br, Policy::Strict, Policy::Count(5)] {
            let c = config(places(SIX), 6, policy);
            let o = resolve(&c.defaults, 6, LATE, &Asked::default()).unwrap();
            assert_eq!(o, Orchestration::configured(&c.defaults), "{policy:?}");
        }
    }

    /// A CA that lets requests go down to 5 of its 6 perspectives.
    fn shrinkable_to_five(policy: Policy) -> crate::config::Config {
        let mut c = config(places(SIX), 6, policy);
        c.defaults.min_perspective_count = 5;
        c
    }

    /// Issue 15 item 5: with 6 configured, 4 must corroborate; a request for
    /// 4 (or 5) would need only 3 (or 4), from roughly the head of the same
    /// keyed order.
    #[test]
    fn by_default_a_request_cannot_shrink_the_cohort() {
        let c = config(places(SIX), 6, Policy::Br);
        let err = resolve(&c.defaults, 8, LATE, &overrides(Some(5), None, None)).unwrap_err();
        assert_eq!(err.0.len(), 1, "{err}");
        assert_eq!(err.0[0].field, PERSPECTIVE_COUNT_FIELD);
        assert!(err.0[0].message.contains("min_perspective_count"), "{err}");
        // More is always allowed.
        let more = resolve(&c.defaults, 8, LATE, &overrides(Some(7), None, None)).unwrap();
        assert_eq!(more.perspective_count, 7);
    }

    #[test]
    fn accepted_overrides() {
        let c = shrinkable_to_five(Policy::Br);
        // (perspective_count, quorum_count, max_attempts) -> (count, policy, attempts)
        let table: &[(Counts, (usize, Policy, u32))] = &[
            ((Some(5), None, None), (5, Policy::Br, 3)),
            ((Some(6), Some(4), None), (6, Policy::Count(4), 3)),
            ((None, Some(6), None), (6, Policy::Count(6), 3)),
            ((Some(5), Some(4), Some(1)), (5, Policy::Count(4), 1)),
            ((None, None, Some(3)), (6, Policy::Br, 3)),
        ];
        for &((p, q, m), (count, policy, attempts)) in table {
            let o = resolve(&c.defaults, 6, LATE, &overrides(p, q, m)).unwrap();
            assert_eq!(
                (o.perspective_count, o.policy, o.max_attempts),
                (count, policy, attempts),
                "{p:?} {q:?} {m:?}"
            );
        }
    }

    #[test]
    fn refused_overrides_name_their_field() {
        let c = shrinkable_to_five(Policy::Br);
        let table: &[(Counts, &[&str])] = &[
            // Below today's BR minimum of 5.
            ((Some(4), None, None), &[PERSPECTIVE_COUNT_FIELD]),
            // More than configured.
            ((Some(7), None, None), &[PERSPECTIVE_COUNT_FIELD]),
            // Below the BR minimum of 4 among 6.
            ((None, Some(3), None), &[QUORUM_COUNT_FIELD]),
            ((None, Some(0), None), &[QUORUM_COUNT_FIELD]),
            // Below the BR minimum of 4 among 5.
            ((Some(5), Some(3), None), &[QUORUM_COUNT_FIELD]),
            ((None, Some(7), None), &[QUORUM_COUNT_FIELD]),
            // Every problem, not only the first; no quorum issue against a
            // refused count.
            ((Some(9), Some(1), Some(11)), &[PERSPECTIVE_COUNT_FIELD]),
        ];
        for &((p, q, m), expected) in table {
            assert_eq!(
                fields(resolve(&c.defaults, 6, LATE, &overrides(p, q, m))),
                expected,
                "{p:?} {q:?} {m:?}"
            );
        }
    }

    #[test]
    fn a_request_cannot_lower_the_configured_quorum() {
        let strict = config(places(SIX), 6, Policy::Strict);
        let err = resolve(&strict.defaults, 6, LATE, &overrides(None, Some(5), None)).unwrap_err();
        assert!(err.to_string().contains("at least 6"), "{err}");
        assert_eq!(
            resolve(&strict.defaults, 6, LATE, &overrides(None, Some(6), None))
                .unwrap()
                .policy,
            Policy::Count(6)
        );

        let count5 = shrinkable_to_five(Policy::Count(5));
        assert_eq!(
            fields(resolve(
                &count5.defaults,
                6,
                LATE,
                &overrides(None, Some(4), None)
            )),
            [QUORUM_COUNT_FIELD]
        );
        // With 5 perspectives "at least 5" means all of them.
        assert_eq!(
            resolve(&count5.defaults, 6, LATE, &overrides(Some(5), None, None))
                .unwrap()
                .policy,
            Policy::Count(5)
        );
    }

    #[test]
    fn configured_floor_follows_the_policy() {
        let table: &[(Policy, usize, usize)] = &[
            (Policy::Br, 6, 4),
            (Policy::Br, 5, 4),
            (Policy::Br, 2, 1),
            (Policy::Strict, 6, 6),
            (Policy::Count(5), 6, 5),
            (Policy::Count(5), 8, 6),
            (Policy::Count(5), 4, 4),
        ];
        for &(policy, count, floor) in table {
            assert_eq!(configured_floor(policy, count), floor, "{policy:?} {count}");
        }
    }

    #[tokio::test]
    async fn check_applies_the_requests_orchestration_parameters_and_refuses_before_calling_anyone()
    {
        use crate::Coordinator;
        use crate::fanout::tests::FakePerspectives;

        // Seven perspectives, but Amsterdam is within 500 km of Frankfurt
        // and London: no cohort of seven distinct perspectives exists.
        let seven = ["iad", "lax", "fra", "lhr", "sin", "syd", "ams"];
        let mut shrinkable = config(places(&seven), 6, Policy::Br);
        shrinkable.defaults.min_perspective_count = 5;
        let c = Coordinator::new(shrinkable, FakePerspectives::new()).unwrap();

        let five = overrides(Some(5), Some(5), Some(1));
        let decision = c.check(&asking(&five)).await.unwrap();
        assert!(decision.is_valid(), "{:?}", decision.reasons());
        assert_eq!(decision.perspective_count(), 5);
        assert_eq!(decision.quorum_count(), Some(5));
        assert_eq!(decision.attempts().len(), 1);
        assert_eq!(decision.attempts()[0].cohort.len(), 5);
        let calls = c.transport.calls().len();
        assert_eq!(calls, 5);

        let impossible = c
            .check(&asking(&overrides(Some(7), None, None)))
            .await
            .unwrap_err();
        assert_eq!(impossible.0[0].field, PERSPECTIVE_COUNT_FIELD);
        assert!(impossible.to_string().contains("500"), "{impossible}");
        // Asked twice, refused the same way (the refusal is remembered).
        assert_eq!(
            c.check(&asking(&overrides(Some(7), None, None)))
                .await
                .unwrap_err(),
            impossible
        );
        let low_quorum = c
            .check(&asking(&overrides(None, Some(1), None)))
            .await
            .unwrap_err();
        assert_eq!(low_quorum.0[0].field, QUORUM_COUNT_FIELD);
        assert_eq!(
            c.transport.calls().len(),
            calls,
            "a refused check called someone"
        );
    }

    #[test]
    fn overrides_come_from_the_request() {
        let request = CheckRequest::from_json(
            br#"{"check_type":"caa","domain_or_ip_target":"example.com",
                "orchestration_parameters":{"perspective_count":5,"quorum_count":4}}"#,
        )
        .unwrap();
        assert_eq!(
            Asked::from_request(&request),
            overrides(Some(5), Some(4), None)
        );
        let plain =
            CheckRequest::from_json(br#"{"check_type":"caa","domain_or_ip_target":"example.com"}"#)
                .unwrap();
        assert_eq!(Asked::from_request(&plain), Asked::default());
    }

    /// Open MPIC 3.7: `max_attempts` is lowered or raised, never refused,
    /// and each change is said.
    #[test]
    fn max_attempts_out_of_range_is_brought_into_range_and_said() {
        let c = config(places(SIX), 6, Policy::Br);
        let cap = c.defaults.max_attempts_cap;
        let asked = |m: i64| Asked {
            max_attempts: Some(m),
            ..Asked::default()
        };
        for (requested, used, adjusted) in [
            (-5, 1, true),
            (0, 1, true),
            (1, 1, false),
            (i64::from(cap), cap, false),
            (i64::from(cap) + 1, cap, true),
            (i64::MAX, cap, true),
        ] {
            let o = resolve(&c.defaults, 6, LATE, &asked(requested)).unwrap();
            assert_eq!(o.max_attempts, used, "{requested}");
            assert_eq!(o.first_cohort, 1);
            if adjusted {
                assert_eq!(o.adjustments.len(), 1, "{requested}");
                let a = &o.adjustments[0];
                assert_eq!(
                    (a.field.as_str(), a.requested, a.used),
                    (MAX_ATTEMPTS_FIELD, requested, Some(used))
                );
            } else {
                assert!(o.adjustments.is_empty(), "{requested}: {:?}", o.adjustments);
            }
        }
    }

    #[test]
    fn cohort_for_single_attempt_runs_one_attempt_with_that_cohort_within_the_cap() {
        let c = config(places(SIX), 6, Policy::Br);
        let cap = c.defaults.max_attempts_cap;
        let asked = |cohort: i64, max_attempts: Option<i64>| Asked {
            cohort_for_single_attempt: Some(cohort),
            max_attempts,
            ..Asked::default()
        };
        let o = resolve(&c.defaults, 6, LATE, &asked(2, None)).unwrap();
        assert_eq!((o.max_attempts, o.first_cohort), (1, 2));
        assert!(o.adjustments.is_empty());
        let o = resolve(&c.defaults, 6, LATE, &asked(1, Some(3))).unwrap();
        assert_eq!((o.max_attempts, o.first_cohort), (1, 1));
        assert_eq!(o.adjustments[0].used, None, "max_attempts is not used");
        for out_of_range in [0, -1, i64::from(cap) + 1] {
            let err = resolve(&c.defaults, 6, LATE, &asked(out_of_range, None)).unwrap_err();
            assert_eq!(err.0[0].field, COHORT_FIELD);
            assert!(
                err.0[0].message.contains(&format!("from 1 to {cap}")),
                "{err}"
            );
        }
    }

    /// The single attempt runs with the cohort that attempt number would
    /// have used in a full run: the same members, chosen the same way.
    #[tokio::test]
    async fn cohort_for_single_attempt_uses_the_cohort_of_that_attempt_number() {
        use crate::Coordinator;
        use crate::fanout::tests::{Behaviour, FakePerspectives};

        let twelve = [
            "iad", "lax", "fra", "lhr", "sin", "syd", "gru", "jnb", "nrt", "bom", "sea", "mad",
        ];
        let mut perspectives = FakePerspectives::new();
        for id in twelve {
            perspectives = perspectives.with(id, Behaviour::Fail);
        }
        let c = Coordinator::new(config(places(&twelve), 6, Policy::Br), perspectives).unwrap();
        let full = c
            .check(&asking(&overrides(None, None, Some(3))))
            .await
            .unwrap();
        let cohorts: Vec<&Vec<String>> = full.attempts().iter().map(|a| &a.cohort).collect();
        assert_eq!(cohorts.len(), 3);
        assert_ne!(cohorts[0], cohorts[1], "attempts use new cohorts");

        for (number, expected) in cohorts.iter().enumerate() {
            let single = Asked {
                cohort_for_single_attempt: Some(i64::try_from(number).unwrap() + 1),
                ..Asked::default()
            };
            let decision = c.check(&asking(&single)).await.unwrap();
            assert_eq!(decision.attempts().len(), 1, "cohort {}", number + 1);
            assert_eq!(
                &&decision.attempts()[0].cohort,
                expected,
                "cohort {}",
                number + 1
            );
            assert_eq!(decision.attempts()[0].attempt, 1);
        }
    }
}
