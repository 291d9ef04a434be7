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
//! the aliases are asked for ([`alias_targets`]): `CNAME` at the name (a
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
    InsideCaInfrastructure { failure: QueryFailure },
    /// Fewer than two attempts were made.
    NotRetried { attempts: usize },
    /// The retry with DNSSEC checking disabled was answered: the failure was
    /// a validation failure or did not persist.
    RetryAnsweredWithoutValidation { failure: QueryFailure },
    /// A resolver of this perspective failed the DNSSEC self-test, so its
    /// AD bits prove nothing.
    ResolverNotValidating { self_test: DnssecSelfTest },
    /// Whether a name is an alias could not be learnt: an alias question
    /// got no clean answer.
    AliasUnknown {
        name: String,
        attempt: Box<QueryAttempt>,
    },
    /// The failing answers named more alias targets than we check.
    TooManyAliases { count: usize },
    /// A name could not be proven DNSSEC-Insecure.
    NotProvenInsecure {
        name: String,
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
    pub name: String,
    /// The zone cut whose DS the signed parent denies.
    pub insecure_delegation: String,
    /// Every candidate examined, TLD first.
    pub walk: Vec<ZoneCutCheck>,
}

/// One candidate zone cut examined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneCutCheck {
    pub name: String,
    pub ds: QueryAttempt,
    pub ns: Option<QueryAttempt>,
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
    Inconclusive { reason: Inconclusive },
}

/// Why a candidate proves nothing (and the walk stops).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Inconclusive {
    DsNoResponse {
        error: DnsError,
    },
    DsRcode {
        rcode: String,
    },
    DsThroughAlias,
    DsNotAuthenticated,
    NsNoResponse {
        error: DnsError,
    },
    NsRcode {
        rcode: String,
    },
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
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use hickory_proto::op::ResponseCode::{NXDomain, NoError, Refused, ServFail};
    use hickory_proto::rr::RecordType::{DS, NS};

    use hickory_proto::rr::RecordType::{CNAME, DNAME};

    use super::super::test_support::{
        FakeNetwork, answer, authentic, block_on, cname, dname, ds, failing_self_test, ns, via,
    };
    use super::*;

    fn failure(name: &str, failures: Vec<QueryFailure>) -> LookupFailure {
        LookupFailure {
            name: name.into(),
            failures,
            cname_chain: vec![],
        }
    }

    fn servfail_twice(name: &str) -> LookupFailure {
        failure(name, vec![QueryFailure::ServFail, QueryFailure::ServFail])
    }

    /// `com` is signed (DS in the root), `example.com` is delegated without
    /// DS, and `www.example.com` is a name inside the unsigned zone.
    fn insecure_example_com() -> FakeNetwork {
        FakeNetwork::new()
            .always("com", DS, Ok(authentic(answer(NoError, vec![ds("com.")]))))
            .always("example.com", DS, Ok(authentic(answer(NoError, vec![]))))
            .always(
                "example.com",
                NS,
                Ok(answer(
                    NoError,
                    vec![
                        ns("example.com.", "ns1.host.test."),
                        ns("example.com.", "ns2.host.test."),
                    ],
                )),
            )
    }

    /// `network` where `name` lies inside the signed `provider.net` (an
    /// authenticated "no DS" and "no NS" at `name`: not a zone cut).
    fn in_signed_provider_net(network: FakeNetwork, name: &str) -> FakeNetwork {
        network
            .always("net", DS, Ok(authentic(answer(NoError, vec![ds("net.")]))))
            .always(
                "provider.net",
                DS,
                Ok(authentic(answer(NoError, vec![ds("provider.net.")]))),
            )
            .always(name, DS, Ok(authentic(answer(NoError, vec![]))))
            .always(name, NS, Ok(authentic(answer(NoError, vec![]))))
    }

    fn verdicts(walk: &[ZoneCutCheck]) -> Vec<(String, ZoneCutVerdict)> {
        walk.iter()
            .map(|c| (c.name.clone(), c.verdict.clone()))
            .collect()
    }

    #[test]
    fn proven_insecure_when_every_condition_holds() {
        for failures in [
            vec![QueryFailure::ServFail, QueryFailure::ServFail],
            vec![
                QueryFailure::ServFail,
                QueryFailure::ServFail,
                QueryFailure::ServFail,
            ],
        ] {
            let network = insecure_example_com();
            let proof = block_on(assess(
                &network,
                &failure("www.example.com", failures),
                true,
            ))
            .unwrap();
            assert_eq!(proof.names.len(), 1);
            assert_eq!(proof.names[0].name, "www.example.com");
            assert_eq!(proof.names[0].insecure_delegation, "example.com");
            assert_eq!(
                verdicts(&proof.names[0].walk),
                [
                    ("com".into(), ZoneCutVerdict::SignedDelegation),
                    ("example.com".into(), ZoneCutVerdict::InsecureDelegation),
                ]
            );
        }
    }

    #[test]
    fn an_unsigned_tld_is_an_insecure_delegation() {
        let network = FakeNetwork::new()
            .always("tld", DS, Ok(authentic(answer(NoError, vec![]))))
            .always(
                "tld",
                NS,
                Ok(answer(NoError, vec![ns("tld.", "ns.nic.tld.")])),
            );
        let proof = block_on(assess(&network, &servfail_twice("a.b.tld"), true)).unwrap();
        assert_eq!(proof.names[0].insecure_delegation, "tld");
    }

    #[test]
    fn names_inside_a_signed_zone_are_walked_past() {
        // sub.example.com is not a cut (authenticated no DS, no NS) inside the
        // signed example.com; deep.sub.example.com is an insecure cut.
        let network = FakeNetwork::new()
            .always("com", DS, Ok(authentic(answer(NoError, vec![ds("com.")]))))
            .always(
                "example.com",
                DS,
                Ok(authentic(answer(NoError, vec![ds("example.com.")]))),
            )
            .always(
                "sub.example.com",
                DS,
                Ok(authentic(answer(NoError, vec![]))),
            )
            .always(
                "sub.example.com",
                NS,
                Ok(authentic(answer(NoError, vec![]))),
            )
            .always(
                "deep.sub.example.com",
                DS,
                Ok(authentic(answer(NoError, vec![]))),
            )
            .always(
                "deep.sub.example.com",
                NS,
                Ok(answer(
                    NoError,
                    vec![ns("deep.sub.example.com.", "ns.host.test.")],
                )),
            );
        let proof = block_on(assess(
            &network,
            &servfail_twice("deep.sub.example.com"),
            true,
        ))
        .unwrap();
        assert_eq!(
            verdicts(&proof.names[0].walk),
            [
                ("com".into(), ZoneCutVerdict::SignedDelegation),
                ("example.com".into(), ZoneCutVerdict::SignedDelegation),
                ("sub.example.com".into(), ZoneCutVerdict::NotAZoneCut),
                (
                    "deep.sub.example.com".into(),
                    ZoneCutVerdict::InsecureDelegation
                ),
            ]
        );
    }

    #[test]
    fn request_infrastructure_and_retry_conditions() {
        let network = insecure_example_com();
        let transport = QueryFailure::NoResponse {
            error: DnsError::Transport("reset".into()),
        };
        let cases = [
            (
                servfail_twice("www.example.com"),
                false,
                NotPermission::NotAllowedByRequest,
            ),
            (
                failure(
                    "www.example.com",
                    vec![transport.clone(), transport.clone()],
                ),
                true,
                NotPermission::InsideCaInfrastructure {
                    failure: transport.clone(),
                },
            ),
            (
                failure(
                    "www.example.com",
                    vec![QueryFailure::ServFail, transport.clone()],
                ),
                true,
                NotPermission::InsideCaInfrastructure {
                    failure: transport.clone(),
                },
            ),
            (
                failure(
                    "www.example.com",
                    vec![
                        QueryFailure::NoResponse {
                            error: DnsError::Timeout,
                        },
                        QueryFailure::ServFail,
                    ],
                ),
                true,
                NotPermission::InsideCaInfrastructure {
                    failure: QueryFailure::NoResponse {
                        error: DnsError::Timeout,
                    },
                },
            ),
            (
                failure(
                    "www.example.com",
                    vec![
                        QueryFailure::ServFail,
                        QueryFailure::NoResponse {
                            error: DnsError::HttpStatus(502),
                        },
                    ],
                ),
                true,
                NotPermission::InsideCaInfrastructure {
                    failure: QueryFailure::NoResponse {
                        error: DnsError::HttpStatus(502),
                    },
                },
            ),
            (
                failure(
                    "www.example.com",
                    vec![
                        QueryFailure::OtherRcode {
                            rcode: "NOTIMP".into(),
                        },
                        QueryFailure::ServFail,
                    ],
                ),
                true,
                NotPermission::InsideCaInfrastructure {
                    failure: QueryFailure::OtherRcode {
                        rcode: "NOTIMP".into(),
                    },
                },
            ),
            (
                failure("www.example.com", vec![QueryFailure::ServFail]),
                true,
                NotPermission::NotRetried { attempts: 1 },
            ),
            (
                failure("www.example.com", vec![]),
                true,
                NotPermission::NotRetried { attempts: 0 },
            ),
        ];
        for (failure, allowed, expected) in cases {
            let result = block_on(assess(&network, &failure, allowed));
            assert_eq!(result, Err(expected));
        }
        // None of those conditions needed a DNSSEC query.
        assert!(network.queries.borrow().is_empty());
    }

    #[test]
    fn unproven_insecurity_is_not_permission() {
        let signed_com = || Ok(authentic(answer(NoError, vec![ds("com.")])));
        let ns_set = || Ok(answer(NoError, vec![ns("example.com.", "ns1.host.test.")]));
        // (name, network, expected stopping verdict at example.com or com)
        let cases: Vec<(&str, FakeNetwork, (String, ZoneCutVerdict))> = vec![
            (
                "signed zone: DS present everywhere, then a bogus-looking SERVFAIL",
                FakeNetwork::new()
                    .always("com", DS, signed_com())
                    .always(
                        "example.com",
                        DS,
                        Ok(authentic(answer(NoError, vec![ds("example.com.")]))),
                    )
                    .always(
                        "www.example.com",
                        DS,
                        Ok(authentic(answer(NoError, vec![]))),
                    )
                    .always(
                        "www.example.com",
                        NS,
                        Ok(authentic(answer(NoError, vec![]))),
                    ),
                ("www.example.com".into(), ZoneCutVerdict::NotAZoneCut),
            ),
            (
                "DS denial without AD",
                FakeNetwork::new()
                    .always("com", DS, signed_com())
                    .always("example.com", DS, Ok(answer(NoError, vec![])))
                    .always("example.com", NS, ns_set()),
                (
                    "example.com".into(),
                    ZoneCutVerdict::Inconclusive {
                        reason: Inconclusive::DsNotAuthenticated,
                    },
                ),
            ),
            (
                "TLD DS answer without AD",
                FakeNetwork::new()
                    .always("com", DS, Ok(answer(NoError, vec![ds("com.")])))
                    .always("example.com", DS, Ok(authentic(answer(NoError, vec![]))))
                    .always("example.com", NS, ns_set()),
                (
                    "com".into(),
                    ZoneCutVerdict::Inconclusive {
                        reason: Inconclusive::DsNotAuthenticated,
                    },
                ),
            ),
            (
                "DS query SERVFAIL (validation failure or unreachable)",
                FakeNetwork::new().always("com", DS, signed_com()).always(
                    "example.com",
                    DS,
                    Ok(answer(ServFail, vec![])),
                ),
                (
                    "example.com".into(),
                    ZoneCutVerdict::Inconclusive {
                        reason: Inconclusive::DsRcode {
                            rcode: "SERVFAIL".into(),
                        },
                    },
                ),
            ),
            (
                "DS NXDOMAIN, even authenticated",
                FakeNetwork::new().always("com", DS, signed_com()).always(
                    "example.com",
                    DS,
                    Ok(authentic(answer(NXDomain, vec![]))),
                ),
                (
                    "example.com".into(),
                    ZoneCutVerdict::Inconclusive {
                        reason: Inconclusive::DsRcode {
                            rcode: "NXDOMAIN".into(),
                        },
                    },
                ),
            ),
            (
                "DS through an alias",
                FakeNetwork::new().always("com", DS, signed_com()).always(
                    "example.com",
                    DS,
                    Ok(via(authentic(answer(NoError, vec![])), &["other.test"])),
                ),
                (
                    "example.com".into(),
                    ZoneCutVerdict::Inconclusive {
                        reason: Inconclusive::DsThroughAlias,
                    },
                ),
            ),
            (
                "DS query without a response",
                FakeNetwork::new().always("com", DS, signed_com()).always(
                    "example.com",
                    DS,
                    Err(DnsError::Timeout),
                ),
                (
                    "example.com".into(),
                    ZoneCutVerdict::Inconclusive {
                        reason: Inconclusive::DsNoResponse {
                            error: DnsError::Timeout,
                        },
                    },
                ),
            ),
            (
                "NS query fails (the domain's servers are down)",
                FakeNetwork::new()
                    .always("com", DS, signed_com())
                    .always("example.com", DS, Ok(authentic(answer(NoError, vec![]))))
                    .always("example.com", NS, Ok(answer(ServFail, vec![]))),
                (
                    "example.com".into(),
                    ZoneCutVerdict::Inconclusive {
                        reason: Inconclusive::NsRcode {
                            rcode: "SERVFAIL".into(),
                        },
                    },
                ),
            ),
            (
                "NS REFUSED",
                FakeNetwork::new()
                    .always("com", DS, signed_com())
                    .always("example.com", DS, Ok(authentic(answer(NoError, vec![]))))
                    .always("example.com", NS, Ok(answer(Refused, vec![]))),
                (
                    "example.com".into(),
                    ZoneCutVerdict::Inconclusive {
                        reason: Inconclusive::NsRcode {
                            rcode: "REFUSED".into(),
                        },
                    },
                ),
            ),
            (
                "NS set authenticated",
                FakeNetwork::new()
                    .always("com", DS, signed_com())
                    .always("example.com", DS, Ok(authentic(answer(NoError, vec![]))))
                    .always(
                        "example.com",
                        NS,
                        Ok(authentic(answer(
                            NoError,
                            vec![ns("example.com.", "ns1.host.test.")],
                        ))),
                    ),
                (
                    "example.com".into(),
                    ZoneCutVerdict::Inconclusive {
                        reason: Inconclusive::NsAuthenticated,
                    },
                ),
            ),
            (
                "NS empty without AD",
                FakeNetwork::new()
                    .always("com", DS, signed_com())
                    .always("example.com", DS, Ok(authentic(answer(NoError, vec![]))))
                    .always("example.com", NS, Ok(answer(NoError, vec![]))),
                (
                    "example.com".into(),
                    ZoneCutVerdict::Inconclusive {
                        reason: Inconclusive::NsEmptyNotAuthenticated,
                    },
                ),
            ),
            (
                "NS records owned by another name",
                FakeNetwork::new()
                    .always("com", DS, signed_com())
                    .always("example.com", DS, Ok(authentic(answer(NoError, vec![]))))
                    .always(
                        "example.com",
                        NS,
                        Ok(answer(NoError, vec![ns("other.com.", "ns1.host.test.")])),
                    ),
                (
                    "example.com".into(),
                    ZoneCutVerdict::Inconclusive {
                        reason: Inconclusive::NsRecordsElsewhere,
                    },
                ),
            ),
            (
                "NS through an alias",
                FakeNetwork::new()
                    .always("com", DS, signed_com())
                    .always("example.com", DS, Ok(authentic(answer(NoError, vec![]))))
                    .always("example.com", NS, Ok(via(ns_set().unwrap(), &["x.test"]))),
                (
                    "example.com".into(),
                    ZoneCutVerdict::Inconclusive {
                        reason: Inconclusive::NsThroughAlias,
                    },
                ),
            ),
        ];
        for (label, network, last) in cases {
            let result = block_on(assess(&network, &servfail_twice("www.example.com"), true));
            let Err(NotPermission::NotProvenInsecure { name, walk }) = result else {
                panic!("{label}: {result:?}")
            };
            assert_eq!(name, "www.example.com", "{label}");
            assert_eq!(verdicts(&walk).last(), Some(&last), "{label}");
        }
    }

    #[test]
    fn alias_targets_must_be_insecure_too() {
        let mut failing = servfail_twice("www.example.com");
        failing.cname_chain = vec!["cdn.provider.net".into()];
        // example.com is insecure, provider.net is signed and its name has no
        // DS: the failure may be a validation failure at the target.
        let network = in_signed_provider_net(insecure_example_com(), "cdn.provider.net");
        let result = block_on(assess(&network, &failing, true));
        assert!(
            matches!(&result, Err(NotPermission::NotProvenInsecure { name, .. }) if name == "cdn.provider.net"),
            "{result:?}"
        );

        // With provider.net insecure too, both names are proven.
        let network = insecure_example_com()
            .always("net", DS, Ok(authentic(answer(NoError, vec![ds("net.")]))))
            .always("provider.net", DS, Ok(authentic(answer(NoError, vec![]))))
            .always(
                "provider.net",
                NS,
                Ok(answer(NoError, vec![ns("provider.net.", "ns.host.test.")])),
            );
        let proof = block_on(assess(&network, &failing, true)).unwrap();
        let proven: Vec<_> = proof
            .names
            .iter()
            .map(|n| (n.name.as_str(), n.insecure_delegation.as_str()))
            .collect();
        assert_eq!(
            proven,
            [
                ("www.example.com", "example.com"),
                ("cdn.provider.net", "provider.net")
            ]
        );

        failing.cname_chain = (0..9).map(|i| format!("a{i}.test")).collect();
        assert_eq!(
            block_on(assess(&network, &failing, true)),
            Err(NotPermission::TooManyAliases { count: 9 })
        );
    }

    /// Issue 15 item 7: REFUSED comes from our own resolver refusing us; it
    /// was counted as the domain's failure.
    #[test]
    fn refused_from_our_resolver_is_never_permission() {
        for failures in [
            vec![QueryFailure::Refused, QueryFailure::ServFail],
            vec![QueryFailure::Refused, QueryFailure::Refused],
        ] {
            let result = block_on(assess(
                &insecure_example_com(),
                &failure("www.example.com", failures),
                true,
            ));
            assert_eq!(
                result,
                Err(NotPermission::InsideCaInfrastructure {
                    failure: QueryFailure::Refused
                })
            );
        }
    }

    /// Issue 15 item 8: a resolver that does not validate sets AD=0 on
    /// everything, so its "insecure" proves nothing.
    #[test]
    fn a_resolver_failing_the_dnssec_self_test_gives_no_permission() {
        let network = insecure_example_com().self_test(failing_self_test());
        let result = block_on(assess(&network, &servfail_twice("www.example.com"), true));
        match result {
            Err(NotPermission::ResolverNotValidating { self_test }) => {
                assert!(!self_test.passed());
                assert!(
                    self_test.summary().contains("does not validate"),
                    "{self_test:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        // No insecurity walk was even started.
        assert!(
            !network.queries.borrow().iter().any(|(_, t)| *t == DS),
            "{:?}",
            network.queries.borrow()
        );
        // The same failure with a validating resolver is permission.
        let passing = insecure_example_com();
        assert!(block_on(assess(&passing, &servfail_twice("www.example.com"), true)).is_ok());
        assert_eq!(*passing.self_tests.borrow(), 1);
    }

    /// Issue 15 item 2: a validating resolver's SERVFAIL has an empty answer
    /// section, so the failing name's alias is learnt by asking for it. Here
    /// the unsigned `www.example.com` is a CNAME into the signed
    /// `provider.net`, whose zone the attacker makes fail.
    #[test]
    fn a_failing_name_that_is_an_alias_into_a_signed_zone_is_not_permission() {
        // The failure carries no chain, as the DNS layer really delivers it.
        let failing = servfail_twice("www.example.com");
        assert!(failing.cname_chain.is_empty());
        let network = in_signed_provider_net(insecure_example_com(), "cdn.provider.net").always(
            "www.example.com",
            CNAME,
            Ok(answer(
                NoError,
                vec![cname("www.example.com.", "cdn.provider.net.")],
            )),
        );
        let result = block_on(assess(&network, &failing, true));
        assert!(
            matches!(&result, Err(NotPermission::NotProvenInsecure { name, .. }) if name == "cdn.provider.net"),
            "{result:?}"
        );

        // The same through a DNAME above the name (no CNAME synthesised).
        let network = in_signed_provider_net(insecure_example_com(), "www.provider.net").always(
            "example.com",
            DNAME,
            Ok(answer(
                NoError,
                vec![dname("example.com.", "provider.net.")],
            )),
        );
        let result = block_on(assess(&network, &failing, true));
        assert!(
            matches!(&result, Err(NotPermission::NotProvenInsecure { name, .. }) if name == "www.provider.net"),
            "{result:?}"
        );

        // An alias question that fails leaves the alias unknown.
        let network =
            insecure_example_com().always("www.example.com", CNAME, Ok(answer(ServFail, vec![])));
        let result = block_on(assess(&network, &failing, true));
        assert!(
            matches!(&result, Err(NotPermission::AliasUnknown { name, .. }) if name == "www.example.com"),
            "{result:?}"
        );

        // No alias anywhere: the proof lists the questions that showed it.
        let proof = block_on(assess(&insecure_example_com(), &failing, true)).unwrap();
        let asked: Vec<(&str, &str)> = proof
            .alias_questions
            .iter()
            .map(|q| (q.name.as_str(), q.rtype.as_str()))
            .collect();
        assert_eq!(
            asked,
            [
                ("www.example.com", "CNAME"),
                ("com", "DNAME"),
                ("example.com", "DNAME")
            ]
        );
    }

    /// A retry answered with checking disabled shows the failure was a
    /// validation failure (or passed): never permission.
    #[test]
    fn a_retry_answered_without_validation_is_not_permission() {
        let answered = QueryFailure::AnsweredWithoutValidation {
            rcode: "NOERROR".into(),
        };
        let result = block_on(assess(
            &insecure_example_com(),
            &failure(
                "www.example.com",
                vec![QueryFailure::ServFail, answered.clone()],
            ),
            true,
        ));
        assert_eq!(
            result,
            Err(NotPermission::RetryAnsweredWithoutValidation { failure: answered })
        );
    }
}
