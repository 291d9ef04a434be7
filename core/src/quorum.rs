//! BR 3.2.2.9 quorum: how many remote perspectives must corroborate, from how
//! many RIR regions, and deciding as early as the answers allow.
//!
//! # Rules applied
//! | remote perspectives used | non-corroborations allowed ([`Policy::Br`]) |
//! |---|---|
//! | 2-5 | 1 |
//! | 6 or more | 2 |
//!
//! | from | minimum remote perspectives | minimum RIRs among the corroborating ones |
//! |---|---|---|
//! | (earlier) | 2 | 1 |
//! | 2025-09-15 | 2 | 1 |
//! | 2026-03-15 | 3 | 2 |
//! | 2026-06-15 | 4 | 2 |
//! | 2026-12-15 | 5 | 2 |
//!
//! Before 2025-09-15 the BR does not yet make a failed corroboration block
//! issuance; we require the 2025-09-15 rules anyway, so nothing here ever
//! passes with fewer than two remote perspectives.
//!
//! # Decisions fail closed
//! * A cohort smaller than the date's minimum is [`Status::Invalid`] at once
//!   ([`InvalidReason::TooFewPerspectives`]): more answers cannot fix it.
//! * A policy that asks for fewer corroborations than the BR allows, or more
//!   than there are perspectives, is Invalid ([`InvalidReason::Policy`]).
//! * With 0 or 1 perspectives no non-corroboration is allowed (the BR table
//!   starts at 2; reading "1 allowed" into a cohort of 1 would let zero
//!   corroborations pass).
//!
//! # Deciding early
//! [`decide`] may be called after each answer. It says Valid only when the
//! answers so far already satisfy every rule, and Invalid only when no answer
//! from the pending perspectives could satisfy them (their RIRs, known from
//! configuration, count toward what diversity is still possible). Both are
//! monotone, so an early decision never differs from the one made after all
//! answers; the property tests check this.
//!
//! The RIR of each perspective must come from the coordinator's configuration,
//! not from what a report claims.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::report::ReportError;
pub use crate::rir::Rir;

/// How many corroborations the coordinator requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// The BR minimum: all but 1 (2-5 perspectives) or all but 2 (6+).
    #[default]
    Br,
    /// Every perspective used must corroborate.
    Strict,
    /// Exactly this many corroborations (Open MPIC `quorum_count`); refused
    /// when below the BR minimum for the cohort or above its size.
    Count(usize),
}

/// A policy that cannot be applied to a cohort.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PolicyError {
    #[error(
        "quorum count {quorum_count} is below the BR minimum of {minimum} for {used} perspectives"
    )]
    CountBelowBrMinimum {
        quorum_count: usize,
        used: usize,
        minimum: usize,
    },
    #[error("quorum count {quorum_count} is more than the {used} perspectives used")]
    CountAboveUsed { quorum_count: usize, used: usize },
}

/// Non-corroborations BR 3.2.2.9 allows among `used` remote perspectives.
pub fn allowed_non_corroborations(used: usize) -> usize {
    match used {
        0 | 1 => 0,
        2..=5 => 1,
        _ => 2,
    }
}

/// The fewest corroborations BR 3.2.2.9 accepts among `used` perspectives;
/// never less than one.
pub fn br_minimum_corroborations(used: usize) -> usize {
    (used - allowed_non_corroborations(used)).max(1)
}

impl Policy {
    /// Corroborations needed among `used` perspectives under this policy.
    pub fn required_corroborations(self, used: usize) -> Result<usize, PolicyError> {
        let minimum = br_minimum_corroborations(used);
        match self {
            Policy::Br => Ok(minimum),
            Policy::Strict => Ok(used.max(1)),
            Policy::Count(quorum_count) if quorum_count < minimum => {
                Err(PolicyError::CountBelowBrMinimum {
                    quorum_count,
                    used,
                    minimum,
                })
            }
            Policy::Count(quorum_count) if quorum_count > used => {
                Err(PolicyError::CountAboveUsed { quorum_count, used })
            }
            Policy::Count(quorum_count) => Ok(quorum_count),
        }
    }
}

/// A day of the proleptic Gregorian calendar (UTC). Written `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CivilDate {
    // Field order makes the derived ordering chronological.
    year: i32,
    month: u8,
    day: u8,
}

/// Not a calendar date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a date (YYYY-MM-DD)")]
pub struct DateError(pub String);

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl CivilDate {
    /// Checks that the month and day exist in that year.
    pub fn new(year: i32, month: u8, day: u8) -> Result<Self, DateError> {
        if (1..=12).contains(&month) && day >= 1 && day <= days_in_month(i64::from(year), month) {
            Ok(Self { year, month, day })
        } else {
            Err(DateError(format!("{year:04}-{month:02}-{day:02}")))
        }
    }

    pub fn year(self) -> i32 {
        self.year
    }

    /// 1 to 12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// 1 to 31.
    pub fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before). H. Hinnant's
    /// `days_from_civil`: years counted from March, in 400-year eras.
    pub fn days_since_epoch(self) -> i64 {
        let month = i64::from(self.month);
        let year = i64::from(self.year) - i64::from(month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year.rem_euclid(400);
        let month_from_march = (month + 9) % 12;
        let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The inverse of [`CivilDate::days_since_epoch`] (`civil_from_days`).
    pub fn from_days_since_epoch(days: i32) -> Self {
        let z = i64::from(days) + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        // An i32 day count spans under six million years either way, so every
        // component fits; the fallbacks are unreachable.
        Self {
            year: i32::try_from(year).unwrap_or(i32::MAX),
            month: u8::try_from(month).unwrap_or(12),
            day: u8::try_from(day).unwrap_or(31),
        }
    }

    /// The UTC date of a unix timestamp in milliseconds. Times past the year
    /// 5.8 million saturate, which only ever makes the requirements stricter.
    pub fn from_unix_ms(unix_ms: u64) -> Self {
        let days = i32::try_from(unix_ms / 86_400_000).unwrap_or(i32::MAX);
        Self::from_days_since_epoch(days)
    }
}

impl std::fmt::Display for CivilDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl std::str::FromStr for CivilDate {
    type Err = DateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || DateError(text.to_owned());
        let mut parts = text.splitn(3, '-');
        let mut next = || {
            parts
                .next()
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        };
        let (year, month, day) = (
            next().ok_or_else(bad)?,
            next().ok_or_else(bad)?,
            next().ok_or_else(bad)?,
        );
        if year.len() != 4 || month.len() != 2 || day.len() != 2 {
            return Err(bad());
        }
        let year = year.parse().map_err(|_| bad())?;
        let month = month.parse().map_err(|_| bad())?;
        let day = day.parse().map_err(|_| bad())?;
        Self::new(year, month, day).map_err(|_| bad())
    }
}

impl TryFrom<String> for CivilDate {
    type Error = DateError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<CivilDate> for String {
    fn from(date: CivilDate) -> Self {
        date.to_string()
    }
}

/// What BR 3.2.2.9 asks of a cohort on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirements {
    /// Fewest remote perspectives that may be used.
    pub min_perspectives: usize,
    /// Fewest distinct RIRs among the corroborating perspectives.
    pub min_rirs: usize,
}

impl Requirements {
    /// The rules in force on `date` (see the table in the module docs).
    pub fn for_date(date: CivilDate) -> Self {
        let on_or_after = |y, m, d| (date.year, date.month, date.day) >= (y, m, d);
        let (min_perspectives, min_rirs) = if on_or_after(2026, 12, 15) {
            (5, 2)
        } else if on_or_after(2026, 6, 15) {
            (4, 2)
        } else if on_or_after(2026, 3, 15) {
            (3, 2)
        } else {
            (2, 1)
        };
        Self {
            min_perspectives,
            min_rirs,
        }
    }

    /// The rules in force at a unix time (UTC).
    pub fn for_unix_ms(unix_ms: u64) -> Self {
        Self::for_date(CivilDate::from_unix_ms(unix_ms))
    }
}

/// Why a remote perspective did not corroborate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NonCorroboration {
    /// No answer in time.
    Timeout,
    /// The perspective could not be reached or answered with an error.
    Unreachable { detail: String },
    /// The report's signature did not verify.
    BadSignature,
    /// The report was too old (or from too far in the future).
    Stale,
    /// The report answered another attempt.
    WrongNonce,
    /// The answer came from a perspective not in the configuration.
    UnknownPerspective,
    /// The report was refused for another reason (see [`ReportError`]).
    InvalidReport { detail: String },
    /// The perspective could not look (its verdict was `error`).
    PerspectiveError { detail: String },
    /// The perspective looked and saw something else (its verdict was `fail`,
    /// or its observation differs from the primary's).
    Mismatch { detail: String },
}

impl From<&ReportError> for NonCorroboration {
    fn from(e: &ReportError) -> Self {
        match e {
            ReportError::BadSignature => NonCorroboration::BadSignature,
            ReportError::Stale { .. } | ReportError::FromTheFuture { .. } => {
                NonCorroboration::Stale
            }
            ReportError::WrongNonce => NonCorroboration::WrongNonce,
            other => NonCorroboration::InvalidReport {
                detail: other.to_string(),
            },
        }
    }
}

/// Where one remote perspective stands in an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// It corroborated the primary; `rir` from configuration.
    Corroborated { rir: Rir },
    /// It did not, for this reason.
    NotCorroborated { reason: NonCorroboration },
    /// Not yet answered; `rir` from configuration.
    Pending { rir: Rir },
}

/// Counts of outcomes; displays as the BR 5.4.1 quorum result, e.g. `5/6`
/// (corroborated / used).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tally {
    pub corroborated: usize,
    pub not_corroborated: usize,
    pub pending: usize,
}

impl Tally {
    pub fn of(outcomes: &[Outcome]) -> Self {
        let mut tally = Tally::default();
        for outcome in outcomes {
            match outcome {
                Outcome::Corroborated { .. } => tally.corroborated += 1,
                Outcome::NotCorroborated { .. } => tally.not_corroborated += 1,
                Outcome::Pending { .. } => tally.pending += 1,
            }
        }
        tally
    }

    /// Perspectives used, answered or not.
    pub fn used(&self) -> usize {
        self.corroborated + self.not_corroborated + self.pending
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.corroborated, self.used())
    }
}

/// Why quorum is not, and can no longer be, met.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InvalidReason {
    #[error("{used} remote perspectives used; at least {required} required")]
    TooFewPerspectives { used: usize, required: usize },
    #[error("quorum policy cannot apply: {error}")]
    Policy { error: PolicyError },
    #[error("at most {possible} corroborations possible; {required} required")]
    TooFewCorroborations { possible: usize, required: usize },
    #[error("corroborating perspectives can span at most {possible} RIRs; {required} required")]
    TooFewRirs { possible: usize, required: usize },
}

/// Where the quorum stands so far: met, lost, or still open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Quorum met; pending answers cannot change that.
    Valid,
    /// Quorum cannot be met whatever the pending perspectives answer.
    Invalid(InvalidReason),
    /// Depends on the pending answers.
    Undecided,
}

/// Applies `policy` and `requirements` to the outcomes so far; see the module
/// documentation for when it decides early.
pub fn decide(policy: Policy, requirements: Requirements, outcomes: &[Outcome]) -> Status {
    let tally = Tally::of(outcomes);
    let used = tally.used();
    let min_perspectives = requirements.min_perspectives.max(2);
    if used < min_perspectives {
        return Status::Invalid(InvalidReason::TooFewPerspectives {
            used,
            required: min_perspectives,
        });
    }
    let required = match policy.required_corroborations(used) {
        Ok(required) => required,
        Err(error) => return Status::Invalid(InvalidReason::Policy { error }),
    };
    let possible = tally.corroborated + tally.pending;
    if possible < required {
        return Status::Invalid(InvalidReason::TooFewCorroborations { possible, required });
    }
    let mut corroborating_rirs = BTreeSet::new();
    let mut possible_rirs = BTreeSet::new();
    for outcome in outcomes {
        match outcome {
            Outcome::Corroborated { rir } => {
                corroborating_rirs.insert(*rir);
                possible_rirs.insert(*rir);
            }
            Outcome::Pending { rir } => {
                possible_rirs.insert(*rir);
            }
            Outcome::NotCorroborated { .. } => {}
        }
    }
    let min_rirs = requirements.min_rirs.max(1);
    if possible_rirs.len() < min_rirs {
        return Status::Invalid(InvalidReason::TooFewRirs {
            possible: possible_rirs.len(),
            required: min_rirs,
        });
    }
    if tally.corroborated >= required && corroborating_rirs.len() >= min_rirs {
        Status::Valid
    } else {
        Status::Undecided
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    const DIVERSE: Requirements = Requirements {
        min_perspectives: 2,
        min_rirs: 2,
    };
    const LAX: Requirements = Requirements {
        min_perspectives: 2,
        min_rirs: 1,
    };

    fn yes(rir: Rir) -> Outcome {
        Outcome::Corroborated { rir }
    }

    fn no() -> Outcome {
        Outcome::NotCorroborated {
            reason: NonCorroboration::Timeout,
        }
    }

    fn wait(rir: Rir) -> Outcome {
        Outcome::Pending { rir }
    }

    /// `c` corroborations alternating ARIN/RIPE, then `n` failures, then `p` pending.
    fn cohort(c: usize, n: usize, p: usize) -> Vec<Outcome> {
        let rir = |i: usize| {
            if i.is_multiple_of(2) {
                Rir::Arin
            } else {
                Rir::RipeNcc
            }
        };
        (0..c)
            .map(|i| yes(rir(i)))
            .chain((0..n).map(|_| no()))
            .chain((0..p).map(|i| wait(rir(i))))
            .collect()
    }

    #[test]
    fn br_table_for_2_to_10_perspectives() {
        // (used, non-corroborations allowed) from BR 3.2.2.9.
        let table = [
            (2, 1),
            (3, 1),
            (4, 1),
            (5, 1),
            (6, 2),
            (7, 2),
            (8, 2),
            (9, 2),
            (10, 2),
        ];
        for (used, allowed) in table {
            assert_eq!(allowed_non_corroborations(used), allowed, "{used}");
            assert_eq!(
                Policy::Br.required_corroborations(used),
                Ok(used - allowed),
                "{used}"
            );
            // RIR diversity is tested on its own below.
            let at_limit = cohort(used - allowed, allowed, 0);
            assert_eq!(
                decide(Policy::Br, LAX, &at_limit),
                Status::Valid,
                "{used} at limit"
            );
            let over = cohort(used - allowed - 1, allowed + 1, 0);
            assert_eq!(
                decide(Policy::Br, LAX, &over),
                Status::Invalid(InvalidReason::TooFewCorroborations {
                    possible: used - allowed - 1,
                    required: used - allowed
                }),
                "{used} over limit"
            );
        }
    }

    #[test]
    fn tiny_cohorts_allow_no_failure_and_fail_closed() {
        assert_eq!(allowed_non_corroborations(0), 0);
        assert_eq!(allowed_non_corroborations(1), 0);
        assert_eq!(br_minimum_corroborations(0), 1);
        assert_eq!(br_minimum_corroborations(1), 1);
        let lenient = Requirements {
            min_perspectives: 0,
            min_rirs: 0,
        };
        // Requirements below the BR floor are raised to it.
        assert_eq!(
            decide(Policy::Br, lenient, &[yes(Rir::Arin)]),
            Status::Invalid(InvalidReason::TooFewPerspectives {
                used: 1,
                required: 2
            })
        );
        assert_eq!(
            decide(Policy::Br, lenient, &[]),
            Status::Invalid(InvalidReason::TooFewPerspectives {
                used: 0,
                required: 2
            })
        );
    }

    #[test]
    fn strict_requires_every_perspective() {
        assert_eq!(
            decide(Policy::Strict, DIVERSE, &cohort(4, 0, 0)),
            Status::Valid
        );
        assert_eq!(
            decide(Policy::Strict, DIVERSE, &cohort(3, 1, 0)),
            Status::Invalid(InvalidReason::TooFewCorroborations {
                possible: 3,
                required: 4
            })
        );
        assert_eq!(
            decide(Policy::Strict, DIVERSE, &cohort(3, 0, 1)),
            Status::Undecided
        );
    }

    #[test]
    fn explicit_count_is_checked_against_the_br_minimum() {
        let cases = [
            (6, 4, Ok(4)),
            (6, 6, Ok(6)),
            (
                6,
                3,
                Err(PolicyError::CountBelowBrMinimum {
                    quorum_count: 3,
                    used: 6,
                    minimum: 4,
                }),
            ),
            (
                3,
                1,
                Err(PolicyError::CountBelowBrMinimum {
                    quorum_count: 1,
                    used: 3,
                    minimum: 2,
                }),
            ),
            (
                5,
                6,
                Err(PolicyError::CountAboveUsed {
                    quorum_count: 6,
                    used: 5,
                }),
            ),
            (
                2,
                0,
                Err(PolicyError::CountBelowBrMinimum {
                    quorum_count: 0,
                    used: 2,
                    minimum: 1,
                }),
            ),
        ];
        for (used, count, expected) in cases {
            assert_eq!(
                Policy::Count(count).required_corroborations(used),
                expected,
                "{count} of {used}"
            );
        }
        assert_eq!(
            decide(Policy::Count(5), DIVERSE, &cohort(5, 1, 0)),
            Status::Valid
        );
        assert_eq!(
            decide(Policy::Count(6), DIVERSE, &cohort(5, 1, 0)),
            Status::Invalid(InvalidReason::TooFewCorroborations {
                possible: 5,
                required: 6
            })
        );
        assert_eq!(
            decide(Policy::Count(3), DIVERSE, &cohort(6, 0, 0)),
            Status::Invalid(InvalidReason::Policy {
                error: PolicyError::CountBelowBrMinimum {
                    quorum_count: 3,
                    used: 6,
                    minimum: 4
                }
            })
        );
    }

    #[test]
    fn corroborators_must_span_two_rirs_when_required() {
        let one_rir = vec![yes(Rir::Arin); 6];
        assert_eq!(
            decide(Policy::Br, DIVERSE, &one_rir),
            Status::Invalid(InvalidReason::TooFewRirs {
                possible: 1,
                required: 2
            })
        );
        assert_eq!(decide(Policy::Br, LAX, &one_rir), Status::Valid);

        // With two perspectives and two RIRs required, the allowed failure
        // cannot be used: the lone corroborator is one RIR.
        assert_eq!(
            decide(Policy::Br, DIVERSE, &cohort(1, 1, 0)),
            Status::Invalid(InvalidReason::TooFewRirs {
                possible: 1,
                required: 2
            })
        );
        assert_eq!(decide(Policy::Br, DIVERSE, &cohort(2, 0, 0)), Status::Valid);

        // A failed perspective's RIR does not count toward diversity.
        let mut failed_elsewhere = vec![yes(Rir::Arin); 5];
        failed_elsewhere.push(no());
        assert_eq!(
            decide(Policy::Br, DIVERSE, &failed_elsewhere),
            Status::Invalid(InvalidReason::TooFewRirs {
                possible: 1,
                required: 2
            })
        );

        // A pending perspective in another RIR keeps it open...
        let mut pending_elsewhere = vec![yes(Rir::Arin); 5];
        pending_elsewhere.push(wait(Rir::Apnic));
        assert_eq!(
            decide(Policy::Br, DIVERSE, &pending_elsewhere),
            Status::Undecided
        );
        // ...and its corroboration settles it.
        pending_elsewhere[5] = yes(Rir::Apnic);
        assert_eq!(
            decide(Policy::Br, DIVERSE, &pending_elsewhere),
            Status::Valid
        );
        // A pending perspective in the same RIR does not.
        let mut pending_same = vec![yes(Rir::Arin); 5];
        pending_same.push(wait(Rir::Arin));
        assert_eq!(
            decide(Policy::Br, DIVERSE, &pending_same),
            Status::Invalid(InvalidReason::TooFewRirs {
                possible: 1,
                required: 2
            })
        );
    }

    #[test]
    fn pending_answers_decide_early_only_when_they_cannot_matter() {
        let cases = [
            // (corroborated, failed, pending, expected) for Br, two RIRs.
            (3, 0, 1, Status::Valid),
            (2, 0, 2, Status::Undecided),
            (2, 1, 1, Status::Undecided),
            (
                2,
                2,
                0,
                Status::Invalid(InvalidReason::TooFewCorroborations {
                    possible: 2,
                    required: 3,
                }),
            ),
            (
                0,
                2,
                2,
                Status::Invalid(InvalidReason::TooFewCorroborations {
                    possible: 2,
                    required: 3,
                }),
            ),
            (4, 0, 2, Status::Valid),
            (3, 1, 2, Status::Undecided),
            (
                1,
                3,
                2,
                Status::Invalid(InvalidReason::TooFewCorroborations {
                    possible: 3,
                    required: 4,
                }),
            ),
        ];
        for (c, n, p, expected) in cases {
            assert_eq!(
                decide(Policy::Br, DIVERSE, &cohort(c, n, p)),
                expected,
                "{c}/{n}/{p}"
            );
        }
    }

    #[test]
    fn a_cohort_below_the_dates_minimum_is_invalid_at_once() {
        let late_2026 = Requirements::for_date(CivilDate::new(2026, 12, 15).unwrap());
        assert_eq!(
            decide(Policy::Br, late_2026, &cohort(0, 0, 4)),
            Status::Invalid(InvalidReason::TooFewPerspectives {
                used: 4,
                required: 5
            })
        );
        assert_eq!(
            decide(Policy::Br, late_2026, &cohort(4, 0, 1)),
            Status::Valid
        );
    }

    #[test]
    fn requirements_change_on_each_boundary_day() {
        let cases = [
            ((2024, 1, 1), 2, 1),
            ((2025, 9, 14), 2, 1),
            ((2025, 9, 15), 2, 1),
            ((2026, 3, 14), 2, 1),
            ((2026, 3, 15), 3, 2),
            ((2026, 6, 14), 3, 2),
            ((2026, 6, 15), 4, 2),
            ((2026, 12, 14), 4, 2),
            ((2026, 12, 15), 5, 2),
            ((2030, 1, 1), 5, 2),
        ];
        for ((y, m, d), min_perspectives, min_rirs) in cases {
            let date = CivilDate::new(y, m, d).unwrap();
            let expected = Requirements {
                min_perspectives,
                min_rirs,
            };
            assert_eq!(Requirements::for_date(date), expected, "{date}");
            let unix_ms = u64::try_from(date.days_since_epoch()).unwrap() * 86_400_000;
            assert_eq!(
                Requirements::for_unix_ms(unix_ms),
                expected,
                "{date} at 00:00"
            );
            assert_eq!(
                Requirements::for_unix_ms(unix_ms + 86_399_999),
                expected,
                "{date} at 23:59"
            );
        }
    }

    #[test]
    fn civil_dates_match_known_day_numbers() {
        let cases = [
            ((1970, 1, 1), 0),
            ((1969, 12, 31), -1),
            ((2000, 2, 29), 11_016),
            ((2000, 3, 1), 11_017),
            ((2025, 9, 15), 20_346),
            ((2026, 3, 15), 20_527),
            ((2026, 6, 15), 20_619),
            ((2026, 12, 15), 20_802),
            ((1600, 3, 1), -135_080),
            ((2100, 3, 1), 47_541),
        ];
        for ((y, m, d), days) in cases {
            let date = CivilDate::new(y, m, d).unwrap();
            assert_eq!(date.days_since_epoch(), days, "{date}");
            assert_eq!(
                CivilDate::from_days_since_epoch(i32::try_from(days).unwrap()),
                date,
                "{days}"
            );
        }
        assert_eq!(
            CivilDate::from_unix_ms(1_757_894_400_000),
            CivilDate::new(2025, 9, 15).unwrap()
        );
        assert_eq!(CivilDate::from_unix_ms(u64::MAX).year(), 5_881_580);
    }

    #[test]
    fn civil_dates_are_validated_and_written_iso() {
        for (y, m, d) in [
            (2023, 2, 29),
            (2100, 2, 29),
            (2024, 4, 31),
            (2024, 0, 1),
            (2024, 13, 1),
            (2024, 1, 0),
        ] {
            assert!(CivilDate::new(y, m, d).is_err(), "{y}-{m}-{d}");
        }
        assert!(CivilDate::new(2024, 2, 29).is_ok());
        assert!(CivilDate::new(2000, 2, 29).is_ok());
        let date: CivilDate = "2026-03-15".parse().unwrap();
        assert_eq!(date, CivilDate::new(2026, 3, 15).unwrap());
        assert_eq!(serde_json::to_string(&date).unwrap(), "\"2026-03-15\"");
        for text in [
            "2026-3-15",
            "2026-03-15x",
            "2026-02-30",
            "26-03-15",
            "",
            "2026-03",
            "+202-03-15",
        ] {
            assert!(text.parse::<CivilDate>().is_err(), "{text}");
        }
    }

    #[test]
    fn summary_reads_corroborated_over_used() {
        let tally = Tally::of(&cohort(5, 1, 0));
        assert_eq!(tally.to_string(), "5/6");
        assert_eq!(Tally::of(&cohort(2, 1, 3)).to_string(), "2/6");
        assert_eq!(Tally::of(&[]).to_string(), "0/0");
    }

    #[test]
    fn report_errors_map_to_reasons() {
        let cases = [
            (ReportError::BadSignature, NonCorroboration::BadSignature),
            (ReportError::WrongNonce, NonCorroboration::WrongNonce),
            (
                ReportError::Stale {
                    started_at_ms: 0,
                    now_ms: 2,
                    max_age_ms: 1,
                },
                NonCorroboration::Stale,
            ),
            (
                ReportError::WrongRequest,
                NonCorroboration::InvalidReport {
                    detail: "report answers another request (request digest differs)".into(),
                },
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(NonCorroboration::from(&error), expected);
        }
    }

    #[test]
    fn serde_shapes() {
        assert_eq!(
            serde_json::to_string(&Policy::Count(4)).unwrap(),
            r#"{"count":4}"#
        );
        assert_eq!(serde_json::to_string(&Policy::Br).unwrap(), r#""br""#);
        assert_eq!(
            serde_json::to_string(&Outcome::Pending { rir: Rir::Apnic }).unwrap(),
            r#"{"status":"pending","rir":"apnic"}"#
        );
        assert_eq!(
            serde_json::to_string(&no()).unwrap(),
            r#"{"status":"not_corroborated","reason":{"kind":"timeout"}}"#
        );
        let invalid = Status::Invalid(InvalidReason::TooFewRirs {
            possible: 1,
            required: 2,
        });
        let json = serde_json::to_string(&invalid).unwrap();
        assert_eq!(
            json,
            r#"{"invalid":{"kind":"too_few_rirs","possible":1,"required":2}}"#
        );
        assert_eq!(serde_json::from_str::<Status>(&json).unwrap(), invalid);
    }

    /// One perspective's final answer: corroborated or not, and its RIR.
    fn arb_final() -> impl Strategy<Value = (bool, Rir)> {
        (
            any::<bool>(),
            proptest::sample::select(Rir::ALL[..3].to_vec()),
        )
    }

    fn arb_policy() -> impl Strategy<Value = Policy> {
        prop_oneof![
            Just(Policy::Br),
            Just(Policy::Strict),
            (0usize..=10).prop_map(Policy::Count)
        ]
    }

    fn arb_requirements() -> impl Strategy<Value = Requirements> {
        (2usize..=5, 1usize..=2).prop_map(|(min_perspectives, min_rirs)| Requirements {
            min_perspectives,
            min_rirs,
        })
    }

    fn revealed(finals: &[(bool, Rir)], known: &[bool]) -> Vec<Outcome> {
        finals
            .iter()
            .zip(known)
            .map(|(&(ok, rir), &known)| match (known, ok) {
                (false, _) => wait(rir),
                (true, true) => yes(rir),
                (true, false) => no(),
            })
            .collect()
    }

    fn same_kind(a: &Status, b: &Status) -> bool {
        std::mem::discriminant(a) == std::mem::discriminant(b)
    }

    proptest! {
        #[test]
        fn early_decisions_agree_with_every_completion(
            finals in proptest::collection::vec(arb_final(), 0..=8),
            order_seed in proptest::collection::vec(any::<proptest::sample::Index>(), 8),
            policy in arb_policy(),
            requirements in arb_requirements(),
        ) {
            // Reveal answers in an arbitrary order.
            let mut remaining: Vec<usize> = (0..finals.len()).collect();
            let mut order = Vec::new();
            for index in order_seed.iter().take(finals.len()) {
                order.push(remaining.remove(index.index(remaining.len())));
            }
            let mut known = vec![false; finals.len()];
            for step in 0..=order.len() {
                if step > 0 {
                    known[order[step - 1]] = true;
                }
                let now = decide(policy, requirements, &revealed(&finals, &known));
                if now == Status::Undecided {
                    continue;
                }
                // Every way the still-pending perspectives could answer.
                let pending: Vec<usize> = (0..finals.len()).filter(|&i| !known[i]).collect();
                for mask in 0u32..(1 << pending.len()) {
                    let mut completion = finals.clone();
                    for (bit, &i) in pending.iter().enumerate() {
                        completion[i].0 = mask & (1 << bit) != 0;
                    }
                    let end = decide(policy, requirements, &revealed(&completion, &vec![true; finals.len()]));
                    prop_assert!(same_kind(&now, &end), "early {:?} but finally {:?}", now, end);
                }
            }
            // With every answer in, there is always a decision.
            let end = decide(policy, requirements, &revealed(&finals, &vec![true; finals.len()]));
            prop_assert_ne!(end, Status::Undecided);
        }

        #[test]
        fn days_round_trip(days in -3_000_000i32..3_000_000) {
            let date = CivilDate::from_days_since_epoch(days);
            prop_assert!(CivilDate::new(date.year(), date.month(), date.day()).is_ok());
            prop_assert_eq!(date.days_since_epoch(), i64::from(days));
            let next = CivilDate::from_days_since_epoch(days + 1);
            prop_assert!(next > date);
        }
    }
}
