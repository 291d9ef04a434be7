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
//! passes with fewer than two remote perspectives. The code's copy of this
//! table is [`BR_PHASES`].
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
use crate::rir::Rir;

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
    /// `Count(quorum_count)` asks fewer corroborations than BR 3.2.2.9
    /// allows among `used` perspectives.
    #[error(
        "quorum count {quorum_count} is below the BR minimum of {minimum} for {used} perspectives"
    )]
    CountBelowBrMinimum {
        /// The corroborations the policy asks for.
        quorum_count: usize,
        /// The perspectives in the cohort.
        used: usize,
        /// The fewest corroborations BR 3.2.2.9 accepts among `used`.
        minimum: usize,
    },
    /// `Count(quorum_count)` asks more corroborations than there are
    /// perspectives.
    #[error("quorum count {quorum_count} is more than the {used} perspectives used")]
    CountAboveUsed {
        /// The corroborations the policy asks for.
        quorum_count: usize,
        /// The perspectives in the cohort.
        used: usize,
    },
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

/// What BR 3.2.2.9 asks of a cohort at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirements {
    /// Fewest remote perspectives that may be used.
    pub min_perspectives: usize,
    /// Fewest distinct RIRs among the corroborating perspectives.
    pub min_rirs: usize,
}

impl Requirements {
    /// The rules in force at a unix time (UTC); see [`BrPhase::in_force_at`].
    pub fn for_unix_ms(unix_ms: u64) -> Self {
        BrPhase::in_force_at(unix_ms).requirements
    }
}

/// A period of BR 3.2.2.9 rules, in force from its start until the next
/// phase's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrPhase {
    /// When the phase begins, in unix milliseconds: 00:00 UTC of `starts_on`.
    pub starts_ms: u64,
    /// The day the phase begins, as the BR and our messages write it
    /// (`YYYY-MM-DD`).
    pub starts_on: &'static str,
    /// What BR 3.2.2.9 requires from that day on.
    pub requirements: Requirements,
}

/// The BR 3.2.2.9 phases, oldest first (the table in the module docs).
///
/// Each start is midnight UTC of its day: the day's number counted from
/// 1970-01-01 times 86 400 000 ms (as `date -u -d 2026-03-15 +%s` gives
/// 1 773 532 800 s). The test `phase_starts_are_midnight_of_their_days`
/// checks each against the day numbers.
pub const BR_PHASES: [BrPhase; 4] = [
    // Day 20 346.
    BrPhase {
        starts_ms: 1_757_894_400_000,
        starts_on: "2025-09-15",
        requirements: Requirements {
            min_perspectives: 2,
            min_rirs: 1,
        },
    },
    // Day 20 527.
    BrPhase {
        starts_ms: 1_773_532_800_000,
        starts_on: "2026-03-15",
        requirements: Requirements {
            min_perspectives: 3,
            min_rirs: 2,
        },
    },
    // Day 20 619.
    BrPhase {
        starts_ms: 1_781_481_600_000,
        starts_on: "2026-06-15",
        requirements: Requirements {
            min_perspectives: 4,
            min_rirs: 2,
        },
    },
    // Day 20 802.
    BrPhase {
        starts_ms: 1_797_292_800_000,
        starts_on: "2026-12-15",
        requirements: Requirements {
            min_perspectives: 5,
            min_rirs: 2,
        },
    },
];

impl BrPhase {
    /// The phase in force at `unix_ms`. Before the first phase its rules
    /// apply anyway, so nothing ever passes with fewer than two remote
    /// perspectives (see the module docs).
    pub fn in_force_at(unix_ms: u64) -> &'static BrPhase {
        BR_PHASES
            .iter()
            .rev()
            .find(|phase| phase.starts_ms <= unix_ms)
            .unwrap_or(&BR_PHASES[0])
    }
}

/// The first phase that begins after `unix_ms`, if one is scheduled.
pub fn next_phase_after(unix_ms: u64) -> Option<&'static BrPhase> {
    BR_PHASES.iter().find(|phase| phase.starts_ms > unix_ms)
}

/// Why a remote perspective did not corroborate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NonCorroboration {
    /// No answer in time.
    Timeout,
    /// The perspective could not be reached or answered with an error.
    Unreachable {
        /// The transport's error, for people.
        detail: String,
    },
    /// The report's signature did not verify.
    BadSignature,
    /// The report was too old (or from too far in the future).
    Stale,
    /// The report answered another attempt.
    WrongNonce,
    /// The answer came from a perspective not in the configuration.
    UnknownPerspective,
    /// The report was refused for another reason (see [`ReportError`]).
    InvalidReport {
        /// Why the report was refused.
        detail: String,
    },
    /// The perspective could not look (its verdict was `error`).
    PerspectiveError {
        /// The report's reason.
        detail: String,
    },
    /// The perspective looked and saw something else (its verdict was `fail`,
    /// or its observation differs from the primary's).
    Mismatch {
        /// The report's reason, or what differs.
        detail: String,
    },
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
pub enum Standing {
    /// It corroborated the primary.
    Corroborated {
        /// The perspective's RIR, from configuration (never from its report).
        rir: Rir,
    },
    /// It did not.
    NotCorroborated {
        /// Why not.
        reason: NonCorroboration,
    },
    /// Not yet answered.
    Pending {
        /// The perspective's RIR, from configuration.
        rir: Rir,
    },
}

/// Counts of standings; displays as the BR 5.4.1 quorum result, e.g. `5/6`
/// (corroborated / used).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tally {
    /// Perspectives that corroborated.
    pub corroborated: usize,
    /// Perspectives that answered and did not corroborate, or failed.
    pub not_corroborated: usize,
    /// Perspectives not yet answered (cancelled, once the quorum is certain).
    pub pending: usize,
}

impl Tally {
    /// The counts of `standings`.
    pub fn of(standings: &[Standing]) -> Self {
        let mut tally = Tally::default();
        for standing in standings {
            match standing {
                Standing::Corroborated { .. } => tally.corroborated += 1,
                Standing::NotCorroborated { .. } => tally.not_corroborated += 1,
                Standing::Pending { .. } => tally.pending += 1,
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
    /// The cohort is smaller than the BR minimum in force.
    #[error("{used} remote perspectives used; at least {required} required")]
    TooFewPerspectives {
        /// Perspectives in the cohort.
        used: usize,
        /// The BR minimum in force.
        required: usize,
    },
    /// The quorum policy cannot apply to this cohort.
    #[error("quorum policy cannot apply: {error}")]
    Policy {
        /// Why not.
        error: PolicyError,
    },
    /// Even if every pending perspective corroborated, too few would.
    #[error("at most {possible} corroborations possible; {required} required")]
    TooFewCorroborations {
        /// Corroborations so far plus pending perspectives.
        possible: usize,
        /// Corroborations the policy requires.
        required: usize,
    },
    /// The perspectives that did or could corroborate span too few RIRs.
    #[error("corroborating perspectives can span at most {possible} RIRs; {required} required")]
    TooFewRirs {
        /// Distinct RIRs among corroborating and pending perspectives.
        possible: usize,
        /// Distinct RIRs required.
        required: usize,
    },
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

/// Applies `policy` and `requirements` to the standings so far; see the module
/// documentation for when it decides early.
pub fn decide(policy: Policy, requirements: Requirements, standings: &[Standing]) -> Status {
    let tally = Tally::of(standings);
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
    for standing in standings {
        match standing {
            Standing::Corroborated { rir } => {
                corroborating_rirs.insert(*rir);
                possible_rirs.insert(*rir);
            }
            Standing::Pending { rir } => {
                possible_rirs.insert(*rir);
            }
            Standing::NotCorroborated { .. } => {}
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
mod tests;
