//! Which remote perspectives check a domain: a cohort chosen from a keyed hash
//! of the domain, so it is the same for every request about that domain (an
//! applicant cannot shop for a favourable cohort by asking again) yet
//! unpredictable to anyone without the cohort secret (Open MPIC
//! `perspective_count`).
//!
//! Every cohort returned satisfies:
//! * exactly the configured number of members, all different;
//! * members pairwise at least [`MIN_DISTANCE_KM`] apart (great-circle
//!   distance between configured coordinates), and at least that far from the
//!   primary perspective when its location is configured (BR 3.2.2.9: remote
//!   perspectives must be distinct from each other and from the primary);
//! * members in at least [`MIN_COHORT_RIRS`] RIR service regions.
//!
//! # How a cohort is chosen
//! Each eligible perspective gets the score HMAC-SHA256(secret, `mpic-cohort-v1`
//! ‖ domain ‖ attempt ‖ perspective id). A depth-first search over the
//! perspectives in score order returns the first set that meets the rules.
//! A retry (attempt 2, 3, ...) prefers a cohort disjoint from every earlier
//! attempt's, then one that is at least not identical to an earlier one, and
//! only then repeats one.

use hmac::{Hmac, Mac as _};
use mpic_core::location::Coordinates;
use mpic_core::rir::Rir;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::perspective_config::PerspectiveConfig;

/// Two perspectives closer than this are not distinct (BR 1.6.1, "Network
/// Perspective").
pub const MIN_DISTANCE_KM: f64 = mpic_core::location::DISTINCT_PERSPECTIVES_KM;
/// Every cohort spans at least this many RIR service regions, so that the
/// corroborating perspectives can (BR 3.2.2.9 from 2026-03-15).
pub const MIN_COHORT_RIRS: usize = 2;
/// Search steps allowed per tier; ample for hundreds of perspectives, and a
/// bound on the time a hostile or huge configuration can take.
const SEARCH_BUDGET: usize = 1_000_000;
/// Domain separation for the keyed hash.
const HASH_LABEL: &[u8] = b"mpic-cohort-v1\0";

/// Great-circle distance in kilometres ([`Coordinates::distance_km`]).
pub fn distance_km(a: Coordinates, b: Coordinates) -> f64 {
    a.distance_km(&b)
}

/// The perspectives one attempt uses: indices into the configured list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cohort {
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Indices into the configuration's perspectives, in score order.
    pub members: Vec<usize>,
}

impl Cohort {
    fn same_members(&self, other: &[usize]) -> bool {
        let mut a = self.members.clone();
        let mut b = other.to_vec();
        a.sort_unstable();
        b.sort_unstable();
        a == b
    }
}

/// Why no cohort can be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CohortError {
    /// A cohort of 0 perspectives was asked for.
    #[error("a cohort of 0 perspectives cannot corroborate anything")]
    Empty,
    /// Fewer perspectives are eligible than a cohort needs (too few are
    /// configured, or some are too near the primary perspective).
    #[error(
        "a cohort needs {size} perspectives but only {eligible} of the {configured} configured are \
         eligible{}",
        if excluded_near_primary.is_empty() { String::new() } else {
            format!(" ({} within {MIN_DISTANCE_KM} km of the primary perspective: {})",
                excluded_near_primary.len(), excluded_near_primary.join(", "))
        }
    )]
    TooFewEligible {
        /// Perspectives per cohort.
        size: usize,
        /// Perspectives not excluded for being near the primary.
        eligible: usize,
        /// Perspectives configured.
        configured: usize,
        /// The ids of those within 500 km of the primary perspective's
        /// configured location.
        excluded_near_primary: Vec<String>,
    },
    /// Enough perspectives are eligible, but no set of `size` of them is
    /// pairwise distinct and spans enough RIRs (BR 3.2.2.9).
    #[error(
        "no {size} perspectives are pairwise at least {MIN_DISTANCE_KM} km apart and span at least \
         {MIN_COHORT_RIRS} RIRs; {detail}"
    )]
    NoValidCohort {
        /// Perspectives per cohort.
        size: usize,
        /// What stands in the way: eligible perspectives per RIR, and the
        /// pairs too close to be distinct.
        detail: String,
    },
    /// The search for a cohort gave up after its step budget (one million
    /// steps) without deciding: the configuration is too large or too
    /// tangled to search.
    #[error("cohort search for {size} perspectives gave up after {SEARCH_BUDGET} steps")]
    SearchBudgetExhausted {
        /// Perspectives per cohort.
        size: usize,
    },
}

/// The perspectives cohorts of one size are drawn from, and which pairs of
/// them are distinct; made only when at least one cohort meets the rules.
#[derive(Debug)]
pub struct CohortPool {
    size: usize,
    ids: Vec<String>,
    rirs: Vec<Rir>,
    /// Indices of the perspectives that may be used at all.
    eligible: Vec<usize>,
    /// `distinct[i][j]`: perspectives i and j are at least 500 km apart.
    distinct: Vec<Vec<bool>>,
}

/// Whether cohorts of `size` can be formed from `perspectives` (leaving out
/// those within [`MIN_DISTANCE_KM`] of the `primary`); fails explaining what
/// stands in the way. Needs no cohort secret: the rules do not depend on it.
pub fn check_feasible(
    perspectives: &[PerspectiveConfig],
    size: usize,
    primary: Option<Coordinates>,
) -> Result<CohortPool, CohortError> {
    if size == 0 {
        return Err(CohortError::Empty);
    }
    let locations: Vec<Coordinates> = perspectives.iter().map(|p| p.location).collect();
    let mut excluded_near_primary = Vec::new();
    let eligible: Vec<usize> = (0..perspectives.len())
        .filter(|&i| match primary {
            Some(primary) if distance_km(primary, locations[i]) < MIN_DISTANCE_KM => {
                excluded_near_primary.push(perspectives[i].id.clone());
                false
            }
            _ => true,
        })
        .collect();
    if eligible.len() < size {
        return Err(CohortError::TooFewEligible {
            size,
            eligible: eligible.len(),
            configured: perspectives.len(),
            excluded_near_primary,
        });
    }
    let distinct = locations
        .iter()
        .map(|&a| {
            locations
                .iter()
                .map(|&b| distance_km(a, b) >= MIN_DISTANCE_KM)
                .collect()
        })
        .collect();
    let pool = CohortPool {
        size,
        ids: perspectives.iter().map(|p| p.id.clone()).collect(),
        rirs: perspectives.iter().map(|p| p.rir).collect(),
        eligible,
        distinct,
    };
    match pool.search(&pool.eligible, &|_| true) {
        Ok(Some(_)) => Ok(pool),
        Ok(None) => Err(CohortError::NoValidCohort {
            size,
            detail: pool.obstacles(perspectives),
        }),
        Err(SearchExhausted) => Err(CohortError::SearchBudgetExhausted { size }),
    }
}

/// Chooses cohorts; built once from the configuration.
pub struct CohortSelector {
    secret: Zeroizing<Vec<u8>>,
    pool: CohortPool,
}

impl std::fmt::Debug for CohortSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CohortSelector")
            .field("size", &self.pool.size)
            .field("ids", &self.pool.ids)
            .field("eligible", &self.pool.eligible)
            .finish_non_exhaustive()
    }
}

struct SearchExhausted;

/// Whether a complete candidate cohort may be returned.
type Acceptance<'a> = dyn Fn(&[usize]) -> bool + 'a;

impl CohortSelector {
    /// Prepares cohorts of `size` from `perspectives`; fails when no cohort
    /// can satisfy the rules ([`check_feasible`]), explaining what stands in
    /// the way.
    pub fn new(
        secret: &[u8],
        perspectives: &[PerspectiveConfig],
        size: usize,
        primary: Option<Coordinates>,
    ) -> Result<Self, CohortError> {
        let pool = check_feasible(perspectives, size, primary)?;
        Ok(Self {
            secret: Zeroizing::new(secret.to_vec()),
            pool,
        })
    }

    /// Members per cohort.
    pub fn size(&self) -> usize {
        self.pool.size
    }

    /// The cohort for `domain` on `attempt` (1-based), given the cohorts of
    /// the earlier attempts of the same check.
    pub fn select(
        &self,
        domain: &str,
        attempt: u32,
        previous: &[Cohort],
    ) -> Result<Cohort, CohortError> {
        let order = self.keyed_order(domain, attempt);
        let used: Vec<usize> = previous
            .iter()
            .flat_map(|c| c.members.iter().copied())
            .collect();
        let fresh: Vec<usize> = order
            .iter()
            .copied()
            .filter(|i| !used.contains(i))
            .collect();
        let not_repeated = |members: &[usize]| !previous.iter().any(|c| c.same_members(members));
        let tiers: [(&[usize], &Acceptance<'_>); 3] = [
            (&fresh, &|_| true),
            (&order, &not_repeated),
            (&order, &|_| true),
        ];
        let mut exhausted = false;
        for (candidates, accept) in tiers {
            match self.pool.search(candidates, accept) {
                Ok(Some(members)) => return Ok(Cohort { attempt, members }),
                Ok(None) => {}
                Err(SearchExhausted) => exhausted = true,
            }
        }
        Err(if exhausted {
            CohortError::SearchBudgetExhausted {
                size: self.pool.size,
            }
        } else {
            // `new` found a cohort, so the last tier cannot come back empty
            // unless the selector was built inconsistently; fail closed.
            CohortError::NoValidCohort {
                size: self.pool.size,
                detail: "no cohort found".into(),
            }
        })
    }

    /// Eligible perspectives sorted by their keyed score for this domain and
    /// attempt.
    fn keyed_order(&self, domain: &str, attempt: u32) -> Vec<usize> {
        let domain = normalise_domain(domain);
        let mut scored: Vec<([u8; 32], usize)> = self
            .pool
            .eligible
            .iter()
            .map(|&i| (self.score(&domain, attempt, &self.pool.ids[i]), i))
            .collect();
        scored.sort_unstable();
        scored.into_iter().map(|(_, i)| i).collect()
    }

    fn score(&self, domain: &str, attempt: u32, id: &str) -> [u8; 32] {
        // HMAC accepts keys of any length; the error type exists only for
        // fixed-size MACs, so this branch cannot be taken.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.secret) else {
            return [0; 32];
        };
        mac.update(HASH_LABEL);
        mac.update(&length_prefix(domain.len()));
        mac.update(domain.as_bytes());
        mac.update(&attempt.to_be_bytes());
        mac.update(&length_prefix(id.len()));
        mac.update(id.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl CohortPool {
    /// Depth-first search over `candidates` (in order) for the first set of
    /// `size` that meets the rules and that `accept` takes.
    fn search(
        &self,
        candidates: &[usize],
        accept: &Acceptance<'_>,
    ) -> Result<Option<Vec<usize>>, SearchExhausted> {
        // RIRs present at or after each position, for pruning.
        let mut rirs_from = vec![0u8; candidates.len() + 1];
        for pos in (0..candidates.len()).rev() {
            rirs_from[pos] = rirs_from[pos + 1] | rir_bit(self.rirs[candidates[pos]]);
        }
        let mut budget = SEARCH_BUDGET;
        let mut chosen = Vec::with_capacity(self.size);
        let found = self.extend(candidates, &rirs_from, 0, &mut chosen, accept, &mut budget)?;
        Ok(found.then_some(chosen))
    }

    fn extend(
        &self,
        candidates: &[usize],
        rirs_from: &[u8],
        pos: usize,
        chosen: &mut Vec<usize>,
        accept: &Acceptance<'_>,
        budget: &mut usize,
    ) -> Result<bool, SearchExhausted> {
        *budget = budget.checked_sub(1).ok_or(SearchExhausted)?;
        let chosen_rirs = chosen
            .iter()
            .fold(0u8, |mask, &i| mask | rir_bit(self.rirs[i]));
        if chosen.len() == self.size {
            return Ok(chosen_rirs.count_ones() as usize >= MIN_COHORT_RIRS && accept(chosen));
        }
        if chosen.len() + (candidates.len() - pos) < self.size {
            return Ok(false);
        }
        let reachable_rirs = (chosen_rirs | rirs_from[pos]).count_ones() as usize;
        if reachable_rirs < MIN_COHORT_RIRS {
            return Ok(false);
        }
        for next in pos..candidates.len() {
            if chosen.len() + (candidates.len() - next) < self.size {
                break;
            }
            let candidate = candidates[next];
            if chosen.iter().all(|&c| self.distinct[c][candidate]) {
                chosen.push(candidate);
                if self.extend(candidates, rirs_from, next + 1, chosen, accept, budget)? {
                    return Ok(true);
                }
                chosen.pop();
            }
        }
        Ok(false)
    }

    /// Explains an infeasible configuration: RIR spread and close pairs.
    fn obstacles(&self, perspectives: &[PerspectiveConfig]) -> String {
        let mut per_rir: Vec<(Rir, usize)> = Vec::new();
        for &i in &self.eligible {
            match per_rir.iter_mut().find(|(rir, _)| *rir == self.rirs[i]) {
                Some((_, n)) => *n += 1,
                None => per_rir.push((self.rirs[i], 1)),
            }
        }
        let rirs = per_rir
            .iter()
            .map(|(rir, n)| format!("{} {n}", rir.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let mut close = Vec::new();
        for (a_pos, &a) in self.eligible.iter().enumerate() {
            for &b in &self.eligible[a_pos + 1..] {
                if !self.distinct[a][b] {
                    close.push(format!(
                        "{}–{} ({:.0} km)",
                        self.ids[a],
                        self.ids[b],
                        distance_km(perspectives[a].location, perspectives[b].location)
                    ));
                }
            }
        }
        let close = if close.is_empty() {
            "none".to_owned()
        } else {
            close.join(", ")
        };
        format!(
            "eligible perspectives per RIR: {rirs}; pairs closer than {MIN_DISTANCE_KM} km: {close}"
        )
    }
}

fn rir_bit(rir: Rir) -> u8 {
    match rir {
        Rir::Arin => 1,
        Rir::RipeNcc => 2,
        Rir::Apnic => 4,
        Rir::Lacnic => 8,
        Rir::Afrinic => 16,
    }
}

fn length_prefix(len: usize) -> [u8; 4] {
    u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes()
}

/// The form of a domain that selects its cohort: `Example.COM.` and
/// `example.com` get the same one.
fn normalise_domain(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests;
