//! When a CAA lookup failure may count as permission (BR 3.2.2.8, as amended
//! by ballot SC-085).
//!
//! All of these must hold, checked in this order; the first that does not
//! is reported and the failure stays a failure (fail closed):
//!
//! 1. The request allows it (`allow_lookup_failure`).
//! 2. The retry was not answered with DNSSEC checking disabled (then the
//!    failure was a validation failure, or did not last).
//! 3. The failure is outside the CA's infrastructure: *every* attempt ended in
//!    SERVFAIL from our resolver, without an extended error that puts it on
//!    the resolver (see [`QueryFailure::is_outside_ca_infrastructure`]). No
//!    response from our resolver (transport, HTTP status, our own timeout, a
//!    response we could not parse) is ours; so is REFUSED (our resolver
//!    refusing us), an undecodable record or another rcode.
//! 4. The lookup was retried: at least two attempts were made.
//! 5. Every resolver of the perspective passes the DNSSEC self-test.
//! 6. The domain is proven DNSSEC-Insecure (RFC 4035 section 4.3): the failing
//!    name and every alias target (see below) each lie at or
//!    below an *insecure delegation*, shown by authenticated answers from our
//!    validating resolver. For a name X, we walk the candidates Z from the TLD
//!    down to X (never the root); at each Z:
//!    - `DS Z`: must be NOERROR with no alias. With AD=1 and DS records, Z is
//!      a signed delegation (the chain of trust goes on): next Z. With AD=1
//!      and no records, the signed zone above denies a DS at Z: ask `NS Z`.
//!      Anything else (AD=0, SERVFAIL, NXDOMAIN, no response, an alias) ends
//!      the walk: not proven.
//!    - `NS Z`: NOERROR, no alias, AD=0, and at least one record, all of type
//!      NS and owned by Z: Z is a zone cut whose NS set the validator found
//!      Insecure; with the authenticated DS denial, Z is an insecure
//!      delegation and X is proven Insecure. NOERROR with AD=1 and no records
//!      means Z is not a zone cut (just a name inside a signed zone): next Z.
//!      Anything else ends the walk: not proven.
//!
//! Why the NS step: an authenticated "no DS at Z" alone does not prove
//! insecurity, because a name inside a signed zone that is not a zone cut
//! (say `www.example.com` in a signed `example.com`) also has no DS, with
//! AD=1. Taking that as proof would let a DNSSEC validation failure (a bogus
//! answer, which a validating resolver reports as SERVFAIL) count as
//! permission. A validating resolver returns an NS RRset at Z with AD=0 only
//! if Z is a delegation it judged Insecure: inside a signed zone a forged NS
//! set would be Bogus (SERVFAIL), and the apex of a signed zone has AD=1.
//! The cost: when the domain's own servers are unreachable, `NS Z` usually
//! fails too and the failure is not permission. That is the conservative
//! reading. The check trusts our resolver to validate from the root trust
//! anchor and to set AD only on validated data (it is our infrastructure,
//! reached over an authenticated channel).
//!
//! The walk asks at most two questions per label.
//!
//! Which names must be proven Insecure: the failing name and every name its
//! lookup is an alias to. A validating resolver that answers SERVFAIL does
//! not say whether the name was an alias (the answer section is empty), so
//! the aliases are asked for (`alias_targets`): `CNAME` at the name (a
//! resolver also answers this with the CNAME it synthesises from a DNAME
//! above the name), and where there is none, `DNAME` at each ancestor, TLD
//! first, as the DNAME owner's substitution would apply. Each target found
//! is asked in turn. If an alias question gets no clean answer, nobody knows
//! where the name leads, and there is no permission.
//!
//! Before any of this, the perspective's resolvers must pass the DNSSEC
//! self-test ([`crate::dnssec_self_test`]): an AD bit from a resolver that
//! does not validate proves nothing.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde::{Deserialize, Serialize};

use super::lookup::{LookupFailure, QueryAttempt, QueryFailure, query, rcode_name};
use crate::dns;
use crate::dnssec_self_test::DnssecSelfTest;
use crate::network::{DnsAnswer, DnsError, Network};

/// The failing name plus at most this many alias targets are checked; a
/// longer chain is not proven.
pub const MAX_ALIASES_CHECKED: usize = 8;

/// Why a lookup failure is not permission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotPermission {
    /// The request did not allow a failure to count as permission.
    NotAllowedByRequest,
    /// An attempt failed in a way we cannot put on the domain.
    InsideCaInfrastructure {
        /// The first attempt's failure that is not the domain's.
        failure: QueryFailure,
    },
    /// Fewer than two attempts were made.
    NotRetried {
        /// How many attempts were made.
        attempts: usize,
    },
    /// The retry with DNSSEC checking disabled was answered: the failure was
    /// a validation failure or did not persist.
    RetryAnsweredWithoutValidation {
        /// The [`QueryFailure::AnsweredWithoutValidation`] attempt.
        failure: QueryFailure,
    },
    /// A resolver of this perspective failed the DNSSEC self-test, so its
    /// AD bits prove nothing.
    ResolverNotValidating {
        /// The self-test's result for every resolver of the perspective.
        self_test: DnssecSelfTest,
    },
    /// Whether a name is an alias could not be learnt: an alias question
    /// got no clean answer.
    AliasUnknown {
        /// The name the CNAME or DNAME question was about.
        name: String,
        /// That question and its answer (not NOERROR/NXDOMAIN, no response,
        /// or several targets).
        attempt: Box<QueryAttempt>,
    },
    /// The failing answers named more alias targets than we check.
    TooManyAliases {
        /// How many targets had been found when the count passed
        /// [`MAX_ALIASES_CHECKED`].
        count: usize,
    },
    /// A name could not be proven DNSSEC-Insecure.
    NotProvenInsecure {
        /// The failing name or alias target that was not proven.
        name: String,
        /// The candidates examined, TLD first; the last one is
        /// inconclusive (or the walk reached the name without a proof).
        walk: Vec<ZoneCutCheck>,
    },
}

impl NotPermission {
    /// One line for a report's reason.
    pub fn summary(&self) -> String {
        match self {
            Self::NotAllowedByRequest => {
                "the request did not allow a lookup failure to count as permission".into()
            }
            Self::InsideCaInfrastructure { failure } => {
                format!("the failure is the CA's own infrastructure's ({failure})")
            }
            Self::NotRetried { attempts } => {
                format!("only {attempts} attempt(s): a failure counts only once retried")
            }
            Self::RetryAnsweredWithoutValidation { failure } => failure.to_string(),
            Self::ResolverNotValidating { self_test } => format!(
                "a resolver failed the DNSSEC self-test, so its AD bits prove nothing ({})",
                self_test.summary()
            ),
            Self::AliasUnknown { name, .. } => {
                format!("whether {name} is an alias could not be learnt")
            }
            Self::TooManyAliases { count } => {
                format!("{count} alias targets, more than the {MAX_ALIASES_CHECKED} checked")
            }
            Self::NotProvenInsecure { name, .. } => {
                format!("{name} is not proven DNSSEC-insecure")
            }
        }
    }
}

/// The evidence that a lookup failure counts as permission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsecurityProof {
    /// One entry per name checked: the failing name, then alias targets.
    pub names: Vec<InsecureName>,
    /// The alias questions asked to find those targets.
    #[serde(default)]
    pub alias_questions: Vec<QueryAttempt>,
}

/// One name shown to lie below an insecure delegation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsecureName {
    /// The name proven Insecure: the failing name or an alias target.
    pub name: String,
    /// The zone cut whose DS the signed parent denies.
    pub insecure_delegation: String,
    /// Every candidate examined, TLD first.
    pub walk: Vec<ZoneCutCheck>,
}

/// One candidate zone cut examined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneCutCheck {
    /// The candidate zone cut Z.
    pub name: String,
    /// The `DS Z` question and its answer.
    pub ds: QueryAttempt,
    /// The `NS Z` question and its answer; `None` when the DS answer already
    /// decided (DS records present, or inconclusive).
    pub ns: Option<QueryAttempt>,
    /// What the two answers show about Z.
    pub verdict: ZoneCutVerdict,
}

/// What one candidate showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ZoneCutVerdict {
    /// Authenticated DS records: the chain of trust continues below.
    SignedDelegation,
    /// Authenticated "no DS" and authenticated "no NS": not a zone cut.
    NotAZoneCut,
    /// Authenticated "no DS" and an unsigned NS set: the proof.
    InsecureDelegation,
    /// The walk stops here without proof.
    Inconclusive {
        /// Which answer proved nothing, and how.
        reason: Inconclusive,
    },
}

/// Why a candidate proves nothing (and the walk stops).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Inconclusive {
    /// No usable response to `DS Z`.
    DsNoResponse {
        /// Why (transport, HTTP status, timeout, unparsable response).
        error: DnsError,
    },
    /// `DS Z` was answered with an rcode other than NOERROR.
    DsRcode {
        /// The rcode mnemonic (`SERVFAIL`, `NXDOMAIN`, ...).
        rcode: String,
    },
    /// The `DS Z` answer went through a CNAME/DNAME.
    DsThroughAlias,
    /// The `DS Z` answer had AD clear: not validated, so it proves nothing.
    DsNotAuthenticated,
    /// No usable response to `NS Z`.
    NsNoResponse {
        /// Why (transport, HTTP status, timeout, unparsable response).
        error: DnsError,
    },
    /// `NS Z` was answered with an rcode other than NOERROR.
    NsRcode {
        /// The rcode mnemonic (`SERVFAIL`, `NXDOMAIN`, ...).
        rcode: String,
    },
    /// The `NS Z` answer went through a CNAME/DNAME.
    NsThroughAlias,
    /// NOERROR without NS records but AD clear.
    NsEmptyNotAuthenticated,
    /// An NS set with AD set: a signed zone apex whose DS was denied, which
    /// a consistent chain of trust does not produce.
    NsAuthenticated,
    /// Records that are not NS records owned by the candidate.
    NsRecordsElsewhere,
}

/// Decide whether `failure` counts as permission.
pub async fn assess<N: Network>(
    network: &N,
    failure: &LookupFailure,
    allowed_by_request: bool,
) -> Result<InsecurityProof, NotPermission> {
    if !allowed_by_request {
        return Err(NotPermission::NotAllowedByRequest);
    }
    if let Some(answered) = failure
        .failures
        .iter()
        .find(|f| matches!(f, QueryFailure::AnsweredWithoutValidation { .. }))
    {
        return Err(NotPermission::RetryAnsweredWithoutValidation {
            failure: answered.clone(),
        });
    }
    if let Some(ours) = failure
        .failures
        .iter()
        .find(|f| !f.is_outside_ca_infrastructure())
    {
        return Err(NotPermission::InsideCaInfrastructure {
            failure: ours.clone(),
        });
    }
    if failure.failures.len() < 2 {
        return Err(NotPermission::NotRetried {
            attempts: failure.failures.len(),
        });
    }
    let self_test = network.dnssec_self_test().await;
    if !self_test.passed() {
        return Err(NotPermission::ResolverNotValidating { self_test });
    }
    let (aliases, alias_questions) = alias_targets(network, failure).await?;
    let mut names = Vec::new();
    for name in std::iter::once(&failure.name).chain(&aliases) {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if names.iter().any(|n: &InsecureName| n.name == name) {
            continue;
        }
        names.push(prove_insecure(network, &name).await?);
    }
    Ok(InsecurityProof {
        names,
        alias_questions,
    })
}

/// Every name the failing lookup may be an alias to: the chain the failing
/// answers named (if any) and what the alias questions find, in order,
/// without duplicates; with the questions asked.
async fn alias_targets<N: Network>(
    network: &N,
    failure: &LookupFailure,
) -> Result<(Vec<String>, Vec<QueryAttempt>), NotPermission> {
    let normal = |name: &str| name.trim_end_matches('.').to_ascii_lowercase();
    let mut targets: Vec<String> = Vec::new();
    let mut asked = Vec::new();
    let mut to_ask: Vec<String> = vec![normal(&failure.name)];
    for alias in &failure.cname_chain {
        let alias = normal(alias);
        if !targets.contains(&alias) {
            targets.push(alias.clone());
            to_ask.push(alias);
        }
    }
    if targets.len() > MAX_ALIASES_CHECKED {
        return Err(NotPermission::TooManyAliases {
            count: targets.len(),
        });
    }
    let mut seen: Vec<String> = Vec::new();
    while let Some(name) = to_ask.pop() {
        if seen.contains(&name) {
            continue;
        }
        seen.push(name.clone());
        if let Some(target) = alias_of(network, &name, &mut asked).await? {
            let target = normal(&target);
            if !targets.contains(&target) && target != normal(&failure.name) {
                targets.push(target.clone());
                if targets.len() > MAX_ALIASES_CHECKED {
                    return Err(NotPermission::TooManyAliases {
                        count: targets.len(),
                    });
                }
            }
            to_ask.push(target);
        }
    }
    Ok((targets, asked))
}

/// Where `name` is an alias to, if anywhere: its CNAME (real, or
/// synthesised by the resolver from a DNAME above it), else the
/// substitution of a DNAME at an ancestor, TLD first.
async fn alias_of<N: Network>(
    network: &N,
    name: &str,
    asked: &mut Vec<QueryAttempt>,
) -> Result<Option<String>, NotPermission> {
    if let Some(target) = alias_answer(network, name, name, RecordType::CNAME, asked).await? {
        return Ok(Some(target));
    }
    let ancestors: Vec<&str> = name
        .match_indices('.')
        .filter_map(|(dot, _)| name.get(dot + 1..))
        .collect();
    for owner in ancestors.into_iter().rev() {
        if let Some(target) = alias_answer(network, owner, owner, RecordType::DNAME, asked).await? {
            let kept = name
                .strip_suffix(owner)
                .unwrap_or_default()
                .trim_end_matches('.');
            return Ok(Some(format!("{kept}.{}", target.trim_end_matches('.'))));
        }
    }
    Ok(None)
}

/// Asks `rtype` (CNAME or DNAME) at `name` without following it; the
/// target of the record `owner` owns, if any. Anything but NOERROR or
/// NXDOMAIN, or several targets, is [`NotPermission::AliasUnknown`].
async fn alias_answer<N: Network>(
    network: &N,
    name: &str,
    owner: &str,
    rtype: RecordType,
    asked: &mut Vec<QueryAttempt>,
) -> Result<Option<String>, NotPermission> {
    let (attempt, response) = query(network, name, rtype).await;
    asked.push(attempt.clone());
    let unknown = || NotPermission::AliasUnknown {
        name: name.to_owned(),
        attempt: Box::new(attempt.clone()),
    };
    let answer = response.map_err(|_| unknown())?;
    if !matches!(answer.rcode, ResponseCode::NoError | ResponseCode::NXDomain) {
        return Err(unknown());
    }
    let targets: Vec<String> = answer
        .records
        .iter()
        .filter(|r| {
            r.record_type() == rtype
                && r.name
                    .to_ascii()
                    .trim_end_matches('.')
                    .eq_ignore_ascii_case(owner)
        })
        .map(dns::target_name)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(unknown)?;
    match targets.as_slice() {
        [] => Ok(None),
        [target] => Ok(Some(target.clone())),
        _ => Err(unknown()),
    }
}

/// Walk the candidate zone cuts of `name`, TLD first.
async fn prove_insecure<N: Network>(
    network: &N,
    name: &str,
) -> Result<InsecureName, NotPermission> {
    let mut candidates: Vec<&str> = std::iter::once(name)
        .chain(
            name.match_indices('.')
                .map(|(dot, _)| name.get(dot + 1..).unwrap_or_default()),
        )
        .filter(|candidate| !candidate.is_empty())
        .collect();
    candidates.reverse();

    let mut walk = Vec::new();
    for candidate in candidates {
        let check = examine(network, candidate).await;
        let verdict = check.verdict.clone();
        walk.push(check);
        match verdict {
            ZoneCutVerdict::SignedDelegation | ZoneCutVerdict::NotAZoneCut => {}
            ZoneCutVerdict::InsecureDelegation => {
                return Ok(InsecureName {
                    name: name.to_owned(),
                    insecure_delegation: candidate.to_owned(),
                    walk,
                });
            }
            ZoneCutVerdict::Inconclusive { .. } => break,
        }
    }
    Err(NotPermission::NotProvenInsecure {
        name: name.to_owned(),
        walk,
    })
}

async fn examine<N: Network>(network: &N, candidate: &str) -> ZoneCutCheck {
    let (ds, response) = query(network, candidate, RecordType::DS).await;
    let inconclusive = |reason| ZoneCutVerdict::Inconclusive { reason };
    let ds_verdict = match response {
        Err(error) => Some(inconclusive(Inconclusive::DsNoResponse { error })),
        Ok(answer) => match ds_verdict(&answer) {
            Ok(DsAnswer::Present) => Some(ZoneCutVerdict::SignedDelegation),
            Ok(DsAnswer::Denied) => None,
            Err(reason) => Some(inconclusive(reason)),
        },
    };
    if let Some(verdict) = ds_verdict {
        return ZoneCutCheck {
            name: candidate.to_owned(),
            ds,
            ns: None,
            verdict,
        };
    }
    let (ns, response) = query(network, candidate, RecordType::NS).await;
    let verdict = match response {
        Err(error) => inconclusive(Inconclusive::NsNoResponse { error }),
        Ok(answer) => ns_verdict(&answer, candidate),
    };
    ZoneCutCheck {
        name: candidate.to_owned(),
        ds,
        ns: Some(ns),
        verdict,
    }
}

enum DsAnswer {
    Present,
    Denied,
}

fn ds_verdict(answer: &DnsAnswer) -> Result<DsAnswer, Inconclusive> {
    if answer.rcode != ResponseCode::NoError {
        return Err(Inconclusive::DsRcode {
            rcode: rcode_name(answer.rcode),
        });
    }
    if !answer.cname_chain.is_empty() {
        return Err(Inconclusive::DsThroughAlias);
    }
    if !answer.authentic_data {
        return Err(Inconclusive::DsNotAuthenticated);
    }
    // Any record at all counts as "present": only an empty, authenticated
    // answer is a denial.
    if answer.records.is_empty() {
        Ok(DsAnswer::Denied)
    } else {
        Ok(DsAnswer::Present)
    }
}

fn ns_verdict(answer: &DnsAnswer, candidate: &str) -> ZoneCutVerdict {
    let inconclusive = |reason| ZoneCutVerdict::Inconclusive { reason };
    if answer.rcode != ResponseCode::NoError {
        return inconclusive(Inconclusive::NsRcode {
            rcode: rcode_name(answer.rcode),
        });
    }
    if !answer.cname_chain.is_empty() {
        return inconclusive(Inconclusive::NsThroughAlias);
    }
    match (answer.records.is_empty(), answer.authentic_data) {
        (true, true) => ZoneCutVerdict::NotAZoneCut,
        (true, false) => inconclusive(Inconclusive::NsEmptyNotAuthenticated),
        (false, true) => inconclusive(Inconclusive::NsAuthenticated),
        (false, false) => {
            let at_candidate = answer.records.iter().all(|record| {
                record.record_type() == RecordType::NS
                    && record
                        .name
                        .to_ascii()
                        .trim_end_matches('.')
                        .eq_ignore_ascii_case(candidate)
            });
            if at_candidate {
                ZoneCutVerdict::InsecureDelegation
            } else {
                inconclusive(Inconclusive::NsRecordsElsewhere)
            }
        }
    }
}

#[cfg(test)]
mod tests;
