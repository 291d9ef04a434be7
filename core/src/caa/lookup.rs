//! Finding the Relevant RRset (RFC 8659 section 3, BR 3.2.2.8): the CAA RRset
//! at the name, else at its parent, and so on up to but excluding the root.
//!
//! The resolver follows CNAME and DNAME; the climb itself always walks the
//! ancestors of the *original* name, so an alias at `www.example.com` pointing
//! to `cdn.provider.net` is followed by a query at `example.com`, never at
//! `provider.net`. An empty answer (NOERROR without CAA records, i.e. NODATA,
//! or NXDOMAIN) moves the climb up one label. Anything else (another rcode, no
//! response at all, an undecodable CAA record) ends the climb as a lookup
//! failure after one retry: a failure is never read as "no records", because
//! records hidden behind it could forbid issuance.
//!
//! The retry after a failure rcode goes through [`Network::dns_retry`]: to
//! another of the perspective's resolvers, or to the same one with the CD
//! bit set, so that "retried" (BR 3.2.2.8) is not the first resolver's cached
//! failure read twice. A CD answer is never used as data: if the resolver
//! answers with checking disabled what it failed with checking enabled, the
//! failure was a validation failure (or did not last), and the lookup stays
//! a failure that is not the domain's lookup failure.
//!
//! Whose failure a SERVFAIL is: the domain's, unless the resolver attaches
//! an RFC 8914 extended error that puts it on the resolver
//! ([`crate::extended_dns_error::Blame`]). REFUSED from our own resolver is
//! always the resolver refusing us, never the domain's failure.
//!
//! The climb is bounded by the name: at most [`MAX_LABELS`] names, each asked
//! at most [`ATTEMPTS_PER_NAME`] times. The names are asked at once,
//! [`PARALLEL_NAMES`] at a time, and read in climb order (see [`lookup`]).

use futures_util::future::join_all;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde::{Deserialize, Serialize};

use super::property::{Property, PropertyDecodeError};
use super::target::CaaTarget;
#[cfg(doc)]
use super::target::MAX_LABELS;
use crate::extended_dns_error::{Blame, ExtendedDnsError};
use crate::network::{DnsAnswer, DnsError, Network};

/// Each name is asked once and, if that fails, once more (BR 3.2.2.8 lets a
/// failure count as permission only after a retry).
pub const ATTEMPTS_PER_NAME: usize = 2;

/// How many names of the climb are asked at once. Real names have fewer
/// labels, so their whole climb is one round trip; a very deep name is
/// asked in batches rather than with a hundred questions at once.
pub const PARALLEL_NAMES: usize = 8;

/// One question put to the resolver and what came back, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryAttempt {
    pub name: String,
    /// The record type asked for (`CAA`, `DS`, `NS`).
    pub rtype: String,
    pub result: AttemptResult,
}

impl QueryAttempt {
    /// The resolver that answered and whether the question had the CD bit
    /// set; `None` when no usable response arrived.
    pub fn answered_by(&self) -> Option<(&str, bool)> {
        match &self.result {
            AttemptResult::Answer {
                resolver,
                checking_disabled,
                ..
            } => Some((resolver.as_str(), *checking_disabled)),
            AttemptResult::NoResponse { .. } => None,
        }
    }
}

/// What one query produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AttemptResult {
    /// The resolver answered (any rcode).
    Answer {
        /// The rcode mnemonic (`NOERROR`, `SERVFAIL`, ...).
        rcode: String,
        /// The AD flag.
        authentic_data: bool,
        /// How many records of the asked type came back.
        records: usize,
        cname_chain: Vec<String>,
        resolver: String,
        /// Asked with the CD bit (a retry at the same resolver).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        checking_disabled: bool,
        /// RFC 8914 extended errors the resolver attached.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        extended_errors: Vec<ExtendedDnsError>,
    },
    /// No usable DNS response arrived.
    NoResponse { error: DnsError },
}

/// Why one CAA query did not give a usable RRset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QueryFailure {
    #[error("the resolver answered SERVFAIL")]
    ServFail,
    /// Our own resolver refused the question: its failure, not the domain's.
    #[error("our resolver answered REFUSED: it refused us, which is not the domain's failure")]
    Refused,
    /// A SERVFAIL whose extended errors put it on the resolver (it was not
    /// ready, filtered, blocked, or served a cached error).
    #[error(
        "the resolver answered {rcode} and says the failure is its own ({})",
        list(extended_errors)
    )]
    ResolverFailure {
        rcode: String,
        extended_errors: Vec<ExtendedDnsError>,
    },
    /// The retry with checking disabled got an answer where the validated
    /// question failed: the failure was a DNSSEC validation failure or did
    /// not last. The unvalidated answer is never used.
    #[error(
        "asked again with DNSSEC checking disabled, the resolver answered {rcode}: the failure \
         was a validation failure or did not persist, and unvalidated data is never used"
    )]
    AnsweredWithoutValidation { rcode: String },
    #[error("the resolver answered {rcode}")]
    OtherRcode { rcode: String },
    #[error("no usable DNS response: {error}")]
    NoResponse { error: DnsError },
    #[error("a CAA record cannot be decoded: {error}")]
    UndecodableRecord { error: PropertyDecodeError },
    #[error("NXDOMAIN came with CAA records")]
    RecordsWithNxDomain,
}

impl QueryFailure {
    /// Whether the failure is the domain's, not the CA's (BR 3.2.2.8): the
    /// resolver reached us and reported SERVFAIL or REFUSED for the question.
    /// A failure to get an answer from our own resolver (transport, HTTP
    /// status, our timeout waiting for it, a response we cannot parse) is our
    /// infrastructure. Our own timeout is counted as ours on purpose: the
    /// resolver turns a timeout at the domain's servers into SERVFAIL, so a
    /// timeout seen here cannot be told apart from our resolver being down.
    ///
    /// REFUSED is our resolver refusing us, and a SERVFAIL whose extended
    /// errors name the resolver is the resolver's: both are ours.
    pub fn is_outside_ca_infrastructure(&self) -> bool {
        matches!(self, Self::ServFail)
    }
}

fn list(errors: &[ExtendedDnsError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One name of the climb: the attempts made and what they showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupStep {
    pub name: String,
    /// One attempt, or two when the first failed.
    pub attempts: Vec<QueryAttempt>,
    pub result: StepResult,
}

/// What a step concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepResult {
    /// A non-empty CAA RRset: the climb stops here.
    Found { records: usize },
    /// NOERROR without CAA records: climb on.
    NoData,
    /// NXDOMAIN: climb on.
    NxDomain,
    /// Every attempt failed: the climb stops with a lookup failure.
    Failed { failure: QueryFailure },
}

/// The Relevant RRset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelevantRrset {
    /// The name queried (the original name or an ancestor), not an alias
    /// target.
    pub owner: String,
    pub properties: Vec<Property>,
    pub cname_chain: Vec<String>,
    pub authentic_data: bool,
    pub rcode: String,
    pub resolver: String,
}

/// A climb that ended on a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupFailure {
    /// The name whose lookup failed.
    pub name: String,
    /// The failure of each attempt, in order.
    pub failures: Vec<QueryFailure>,
    /// Alias targets the failing answers named (a failure may sit in the
    /// zone of an alias target rather than at `name`).
    pub cname_chain: Vec<String>,
}

/// How the climb ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupOutcome {
    Found(RelevantRrset),
    /// Every name up to the TLD was empty: no CAA restriction.
    NotFound,
    Failed(LookupFailure),
}

/// The climb: every step, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub steps: Vec<LookupStep>,
    pub outcome: LookupOutcome,
    /// Questions asked at once with the climb's names, for names above
    /// where it ended: their answers were not needed and decide nothing.
    pub unused: Vec<QueryAttempt>,
}

/// Find the Relevant RRset for `target`.
///
/// The names of the climb are asked at once, [`PARALLEL_NAMES`] at a time
/// (Boulder's `parallelCAALookup`), so a name with a few empty ancestors
/// costs one resolver round trip rather than one per label. The answers are
/// then read exactly as the sequential climb reads them, nearest name first:
/// an empty answer moves on, the first non-empty RRset is the Relevant
/// RRset, and a failure (after its own retry) ends the climb as a failure,
/// even when a name above it has records. Answers for names above where the
/// climb ended were not needed; they are kept in [`Lookup::unused`].
pub async fn lookup<N: Network>(network: &N, target: &CaaTarget) -> Lookup {
    let names: Vec<&str> = target.climb().collect();
    let mut steps = Vec::new();
    for batch in names.chunks(PARALLEL_NAMES) {
        let firsts = join_all(
            batch
                .iter()
                .map(|name| query(network, name, RecordType::CAA)),
        )
        .await;
        let mut firsts = batch.iter().zip(firsts);
        while let Some((name, first)) = firsts.next() {
            let (step, ended) = settle(network, name, first).await;
            steps.push(step);
            if let Some(outcome) = ended {
                return Lookup {
                    steps,
                    outcome,
                    unused: firsts.map(|(_, (attempt, _))| attempt).collect(),
                };
            }
        }
    }
    Lookup {
        steps,
        outcome: LookupOutcome::NotFound,
        unused: Vec::new(),
    }
}

/// One name of the climb, from its first answer: retried while it fails
/// (up to [`ATTEMPTS_PER_NAME`] attempts), then its step, and how the climb
/// ends here if it does (`None`: empty, climb on).
async fn settle<N: Network>(
    network: &N,
    name: &str,
    first: (QueryAttempt, Result<DnsAnswer, DnsError>),
) -> (LookupStep, Option<LookupOutcome>) {
    let mut attempts = Vec::with_capacity(ATTEMPTS_PER_NAME);
    let mut failures = Vec::new();
    let mut cname_chain: Vec<String> = Vec::new();
    let mut next = Some(first);
    let mut found = None;
    while let Some((attempt, response)) = next.take() {
        attempts.push(attempt);
        if let Ok(answer) = &response {
            for alias in &answer.cname_chain {
                if !cname_chain.contains(alias) {
                    cname_chain.push(alias.clone());
                }
            }
        }
        // Only a failure rcode is retried elsewhere (kept for the retry); a
        // response we could not use (an undecodable record) is asked again
        // as it was.
        let failed = response
            .as_ref()
            .ok()
            .filter(|a| !matches!(a.rcode, ResponseCode::NoError | ResponseCode::NXDomain))
            .cloned();
        match classify(response) {
            Ok(ok) => {
                found = Some(ok);
                break;
            }
            Err(failure) => failures.push(failure),
        }
        if attempts.len() >= ATTEMPTS_PER_NAME {
            break;
        }
        next = Some(match &failed {
            Some(failed) => retry(network, name, RecordType::CAA, failed).await,
            None => query(network, name, RecordType::CAA).await,
        });
    }
    let step = |attempts, result| LookupStep {
        name: name.to_owned(),
        attempts,
        result,
    };
    match found {
        Some(Classified::Empty { nxdomain }) => {
            let result = if nxdomain {
                StepResult::NxDomain
            } else {
                StepResult::NoData
            };
            (step(attempts, result), None)
        }
        Some(Classified::Found { answer, properties }) => {
            let result = StepResult::Found {
                records: properties.len(),
            };
            let rrset = RelevantRrset {
                owner: name.to_owned(),
                properties,
                cname_chain: answer.cname_chain,
                authentic_data: answer.authentic_data,
                rcode: rcode_name(answer.rcode),
                resolver: answer.resolver,
            };
            (step(attempts, result), Some(LookupOutcome::Found(rrset)))
        }
        None => {
            let last = failures
                .last()
                .cloned()
                .unwrap_or(QueryFailure::NoResponse {
                    error: DnsError::Transport("no attempt was made".into()),
                });
            let failure = LookupFailure {
                name: name.to_owned(),
                failures,
                cname_chain,
            };
            (
                step(attempts, StepResult::Failed { failure: last }),
                Some(LookupOutcome::Failed(failure)),
            )
        }
    }
}

enum Classified {
    Empty {
        nxdomain: bool,
    },
    Found {
        answer: DnsAnswer,
        properties: Vec<Property>,
    },
}

fn classify(response: Result<DnsAnswer, DnsError>) -> Result<Classified, QueryFailure> {
    let answer = response.map_err(|error| QueryFailure::NoResponse { error })?;
    if answer.checking_disabled
        && matches!(answer.rcode, ResponseCode::NoError | ResponseCode::NXDomain)
    {
        return Err(QueryFailure::AnsweredWithoutValidation {
            rcode: rcode_name(answer.rcode),
        });
    }
    let nxdomain = match answer.rcode {
        ResponseCode::NoError => false,
        ResponseCode::NXDomain => true,
        ResponseCode::ServFail
            if answer
                .extended_errors
                .iter()
                .any(|e| e.blame() == Blame::Resolver) =>
        {
            return Err(QueryFailure::ResolverFailure {
                rcode: rcode_name(answer.rcode),
                extended_errors: answer.extended_errors,
            });
        }
        ResponseCode::ServFail => return Err(QueryFailure::ServFail),
        ResponseCode::Refused => return Err(QueryFailure::Refused),
        other => {
            return Err(QueryFailure::OtherRcode {
                rcode: rcode_name(other),
            });
        }
    };
    // Records of other types (RRSIGs a layer kept, say) are not CAA
    // properties; a CAA record that cannot be decoded fails the lookup.
    let properties = answer
        .records
        .iter()
        .filter_map(Property::from_record)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| QueryFailure::UndecodableRecord { error })?;
    match (properties.is_empty(), nxdomain) {
        (true, _) => Ok(Classified::Empty { nxdomain }),
        (false, true) => Err(QueryFailure::RecordsWithNxDomain),
        (false, false) => Ok(Classified::Found { answer, properties }),
    }
}

/// Ask one question and describe it for the report.
pub(crate) async fn query<N: Network>(
    network: &N,
    name: &str,
    rtype: RecordType,
) -> (QueryAttempt, Result<DnsAnswer, DnsError>) {
    describe(name, rtype, network.dns(name, rtype).await)
}

/// Ask again after the failed answer `failed` ([`Network::dns_retry`]).
pub(crate) async fn retry<N: Network>(
    network: &N,
    name: &str,
    rtype: RecordType,
    failed: &DnsAnswer,
) -> (QueryAttempt, Result<DnsAnswer, DnsError>) {
    describe(name, rtype, network.dns_retry(name, rtype, failed).await)
}

fn describe(
    name: &str,
    rtype: RecordType,
    response: Result<DnsAnswer, DnsError>,
) -> (QueryAttempt, Result<DnsAnswer, DnsError>) {
    let result = match &response {
        Ok(answer) => AttemptResult::Answer {
            rcode: rcode_name(answer.rcode),
            authentic_data: answer.authentic_data,
            records: answer
                .records
                .iter()
                .filter(|r| r.record_type() == rtype)
                .count(),
            cname_chain: answer.cname_chain.clone(),
            resolver: answer.resolver.clone(),
            checking_disabled: answer.checking_disabled,
            extended_errors: answer.extended_errors.clone(),
        },
        Err(error) => AttemptResult::NoResponse {
            error: error.clone(),
        },
    };
    (
        QueryAttempt {
            name: name.to_owned(),
            rtype: rtype.to_string(),
            result,
        },
        response,
    )
}

/// The rcode's mnemonic as zone files and dig print it.
pub fn rcode_name(rcode: ResponseCode) -> String {
    match rcode {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        ResponseCode::YXDomain => "YXDOMAIN".into(),
        ResponseCode::YXRRSet => "YXRRSET".into(),
        ResponseCode::NXRRSet => "NXRRSET".into(),
        ResponseCode::NotAuth => "NOTAUTH".into(),
        ResponseCode::NotZone => "NOTZONE".into(),
        ResponseCode::BADVERS => "BADVERS".into(),
        other => format!("RCODE{}", u16::from(other)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use hickory_proto::op::ResponseCode::{NXDomain, NoError, Refused, ServFail};
    use hickory_proto::rr::RecordType::CAA;

    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::super::test_support::{
        self, FakeNetwork, answer, authentic, block_on, caa, unknown, via,
    };
    use super::*;
    use crate::network::MaybeSend;

    fn run(network: &FakeNetwork, name: &str) -> Lookup {
        block_on(lookup(network, &CaaTarget::parse(name).unwrap()))
    }

    fn asked(network: &FakeNetwork) -> Vec<String> {
        network
            .queries
            .borrow()
            .iter()
            .map(|(name, rtype)| format!("{name} {rtype}"))
            .collect()
    }

    /// The names whose answers the climb read, in order.
    fn read(lookup: &Lookup) -> Vec<&str> {
        lookup.steps.iter().map(|s| s.name.as_str()).collect()
    }

    /// The names asked at once but not needed.
    fn unused(lookup: &Lookup) -> Vec<&str> {
        lookup.unused.iter().map(|q| q.name.as_str()).collect()
    }

    fn found_owner(lookup: &Lookup) -> Option<&str> {
        match &lookup.outcome {
            LookupOutcome::Found(rrset) => Some(rrset.owner.as_str()),
            _ => None,
        }
    }

    #[test]
    fn climbs_over_nodata_and_nxdomain() {
        let network = FakeNetwork::new()
            .always("a.b.example.com", CAA, Ok(answer(NXDomain, vec![])))
            .always("b.example.com", CAA, Ok(answer(NoError, vec![])))
            .always(
                "example.com",
                CAA,
                Ok(authentic(answer(
                    NoError,
                    vec![caa("example.com.", 0, "issue", b"ca.example")],
                ))),
            );
        let lookup = run(&network, "a.b.example.com");
        assert_eq!(found_owner(&lookup), Some("example.com"));
        assert_eq!(
            read(&lookup),
            ["a.b.example.com", "b.example.com", "example.com"]
        );
        assert_eq!(unused(&lookup), ["com"]);
        let results: Vec<_> = lookup.steps.iter().map(|s| s.result.clone()).collect();
        assert_eq!(
            results,
            [
                StepResult::NxDomain,
                StepResult::NoData,
                StepResult::Found { records: 1 }
            ]
        );
        let LookupOutcome::Found(rrset) = &lookup.outcome else {
            panic!("not found")
        };
        assert!(rrset.authentic_data);
        assert_eq!(rrset.rcode, "NOERROR");
        assert_eq!(rrset.properties[0].value, b"ca.example");
    }

    #[test]
    fn empty_everywhere_is_not_found_and_stops_before_the_root() {
        let network = FakeNetwork::new();
        let lookup = run(&network, "www.example.com");
        assert_eq!(lookup.outcome, LookupOutcome::NotFound);
        assert_eq!(
            asked(&network),
            ["www.example.com CAA", "example.com CAA", "com CAA"]
        );
    }

    #[test]
    fn wildcard_is_looked_up_without_its_label() {
        let network = FakeNetwork::new();
        run(&network, "*.example.com");
        assert_eq!(asked(&network), ["example.com CAA", "com CAA"]);
    }

    #[test]
    fn after_a_cname_the_climb_continues_from_the_original_parent() {
        // www.example.com is an alias for cdn.provider.net, which has no CAA:
        // the next name asked is example.com, not provider.net.
        let network = FakeNetwork::new()
            .always(
                "www.example.com",
                CAA,
                Ok(via(answer(NoError, vec![]), &["cdn.provider.net"])),
            )
            .always(
                "example.com",
                CAA,
                Ok(answer(
                    NoError,
                    vec![caa("example.com.", 0, "issue", b"ca.example")],
                )),
            )
            .always(
                "provider.net",
                CAA,
                Ok(answer(
                    NoError,
                    vec![caa("provider.net.", 0, "issue", b";")],
                )),
            );
        let lookup = run(&network, "www.example.com");
        assert_eq!(found_owner(&lookup), Some("example.com"));
        assert_eq!(read(&lookup), ["www.example.com", "example.com"]);
        assert_eq!(unused(&lookup), ["com"]);
        assert!(!asked(&network).iter().any(|q| q.contains("provider.net")));
        let AttemptResult::Answer { cname_chain, .. } = &lookup.steps[0].attempts[0].result else {
            panic!("no answer recorded")
        };
        assert_eq!(cname_chain, &["cdn.provider.net"]);
    }

    #[test]
    fn records_found_through_a_cname_belong_to_the_queried_name() {
        let network = FakeNetwork::new().always(
            "www.example.com",
            CAA,
            Ok(via(
                answer(
                    NoError,
                    vec![caa("cdn.provider.net.", 0, "issue", b"ca.example")],
                ),
                &["cdn.provider.net"],
            )),
        );
        let lookup = run(&network, "www.example.com");
        let LookupOutcome::Found(rrset) = &lookup.outcome else {
            panic!("not found")
        };
        assert_eq!(rrset.owner, "www.example.com");
        assert_eq!(rrset.cname_chain, ["cdn.provider.net"]);
    }

    #[test]
    fn failures_stop_the_climb_after_one_retry() {
        let cases = [
            (Ok(answer(ServFail, vec![])), QueryFailure::ServFail),
            (Ok(answer(Refused, vec![])), QueryFailure::Refused),
            (
                Ok(answer(ResponseCode::FormErr, vec![])),
                QueryFailure::OtherRcode {
                    rcode: "FORMERR".into(),
                },
            ),
            (
                Ok(answer(ResponseCode::NotImp, vec![])),
                QueryFailure::OtherRcode {
                    rcode: "NOTIMP".into(),
                },
            ),
            (
                Err(DnsError::Transport("connection reset".into())),
                QueryFailure::NoResponse {
                    error: DnsError::Transport("connection reset".into()),
                },
            ),
            (
                Err(DnsError::Timeout),
                QueryFailure::NoResponse {
                    error: DnsError::Timeout,
                },
            ),
            (
                Ok(answer(
                    NXDomain,
                    vec![caa("www.example.com.", 0, "issue", b";")],
                )),
                QueryFailure::RecordsWithNxDomain,
            ),
            (
                Ok(answer(
                    NoError,
                    vec![unknown("www.example.com.", CAA, vec![0, 9, b'i'])],
                )),
                QueryFailure::UndecodableRecord {
                    error: PropertyDecodeError::TagOverrun {
                        tag_length: 9,
                        available: 1,
                    },
                },
            ),
        ];
        for (response, failure) in cases {
            let network = FakeNetwork::new().always("www.example.com", CAA, response);
            let lookup = run(&network, "www.example.com");
            assert_eq!(
                lookup.outcome,
                LookupOutcome::Failed(LookupFailure {
                    name: "www.example.com".into(),
                    failures: vec![failure.clone(), failure.clone()],
                    cname_chain: vec![],
                }),
                "{failure:?}"
            );
            // The parent's answer (asked at once) is never read: a failure
            // is not "no records".
            assert_eq!(read(&lookup), ["www.example.com"]);
            assert_eq!(unused(&lookup), ["example.com", "com"]);
            let www = asked(&network)
                .iter()
                .filter(|q| *q == "www.example.com CAA")
                .count();
            assert_eq!(www, 2);
            assert_eq!(lookup.steps.len(), 1);
            assert_eq!(lookup.steps[0].attempts.len(), 2);
        }
    }

    #[test]
    fn a_failure_at_a_parent_stops_the_climb_too() {
        let network = FakeNetwork::new()
            .always("example.com", CAA, Ok(answer(ServFail, vec![])))
            .always(
                "com",
                CAA,
                Ok(answer(
                    NoError,
                    vec![caa("com.", 0, "issue", b"ca.example")],
                )),
            );
        let lookup = run(&network, "www.example.com");
        let LookupOutcome::Failed(failure) = &lookup.outcome else {
            panic!("expected a failure")
        };
        assert_eq!(failure.name, "example.com");
        // `com`'s records were asked for at once, and are never read.
        assert_eq!(read(&lookup), ["www.example.com", "example.com"]);
        assert_eq!(unused(&lookup), ["com"]);
    }

    #[test]
    fn a_successful_retry_is_used_and_both_attempts_are_recorded() {
        let network = FakeNetwork::new().on(
            "www.example.com",
            CAA,
            vec![
                Ok(answer(ServFail, vec![])),
                Ok(answer(
                    NoError,
                    vec![caa("www.example.com.", 0, "issue", b"ca.example")],
                )),
            ],
        );
        let lookup = run(&network, "www.example.com");
        assert_eq!(found_owner(&lookup), Some("www.example.com"));
        let rcodes: Vec<_> = lookup.steps[0]
            .attempts
            .iter()
            .map(|a| match &a.result {
                AttemptResult::Answer { rcode, .. } => rcode.clone(),
                AttemptResult::NoResponse { .. } => "none".into(),
            })
            .collect();
        assert_eq!(rcodes, ["SERVFAIL", "NOERROR"]);
    }

    #[test]
    fn a_failing_answer_keeps_its_alias_targets() {
        let network = FakeNetwork::new().always(
            "www.example.com",
            CAA,
            Ok(via(answer(ServFail, vec![]), &["cdn.provider.net"])),
        );
        let LookupOutcome::Failed(failure) = run(&network, "www.example.com").outcome else {
            panic!("expected a failure")
        };
        assert_eq!(failure.cname_chain, ["cdn.provider.net"]);
    }

    #[test]
    fn non_caa_records_do_not_make_an_rrset() {
        let network = FakeNetwork::new().always(
            "www.example.com",
            CAA,
            Ok(answer(
                NoError,
                vec![unknown("www.example.com.", RecordType::RRSIG, vec![1, 2])],
            )),
        );
        let lookup = run(&network, "www.example.com");
        assert_eq!(lookup.outcome, LookupOutcome::NotFound);
    }

    #[test]
    fn a_thousand_record_rrset_is_kept_whole() {
        let records = (0..1000)
            .map(|i| {
                caa(
                    "example.com.",
                    0,
                    "issue",
                    format!("ca{i}.example").as_bytes(),
                )
            })
            .collect();
        let network = FakeNetwork::new().always("example.com", CAA, Ok(answer(NoError, records)));
        let lookup = run(&network, "example.com");
        let LookupOutcome::Found(rrset) = &lookup.outcome else {
            panic!("not found")
        };
        assert_eq!(rrset.properties.len(), 1000);
        assert_eq!(rrset.properties[999].value, b"ca999.example");
    }

    #[test]
    fn the_climb_is_bounded_by_the_labels() {
        let name = vec!["a"; 126].join(".");
        let network = FakeNetwork::new();
        let lookup = run(&network, &name);
        assert_eq!(lookup.steps.len(), 126);
        assert_eq!(network.queries.borrow().len(), 126);
    }

    #[test]
    fn rcode_names() {
        assert_eq!(rcode_name(NoError), "NOERROR");
        assert_eq!(rcode_name(ResponseCode::Unknown(4000)), "RCODE4000");
    }

    fn failed(lookup: &Lookup) -> &LookupFailure {
        match &lookup.outcome {
            LookupOutcome::Failed(failure) => failure,
            other => panic!("not a failure: {other:?}"),
        }
    }

    fn attempt_resolvers(lookup: &Lookup) -> Vec<(String, bool)> {
        lookup.steps[0]
            .attempts
            .iter()
            .filter_map(QueryAttempt::answered_by)
            .map(|(resolver, cd)| (resolver.to_owned(), cd))
            .collect()
    }

    /// Issue 15 item 7: the retry goes to another resolver when the
    /// perspective has one, and the report says which answered each attempt.
    #[test]
    fn the_retry_goes_to_another_resolver_and_the_attempts_name_them() {
        let network =
            FakeNetwork::new().always("www.example.com", CAA, Ok(answer(ServFail, vec![])));
        let lookup = run(&network, "www.example.com");
        assert_eq!(
            failed(&lookup).failures,
            [QueryFailure::ServFail, QueryFailure::ServFail]
        );
        assert_eq!(
            network.retries.borrow().as_slice(),
            [(
                "www.example.com".to_owned(),
                CAA,
                test_support::RESOLVER.to_owned()
            )]
        );
        assert_eq!(
            attempt_resolvers(&lookup),
            [
                (test_support::RESOLVER.to_owned(), false),
                (test_support::SECOND_RESOLVER.to_owned(), false)
            ]
        );
    }

    /// With one resolver the retry sets CD, and an answer to it is never
    /// used: the failure was a validation failure, or did not last.
    #[test]
    fn a_single_resolvers_retry_has_cd_set_and_its_answer_is_never_data() {
        let network = FakeNetwork::new().single_resolver().on(
            "www.example.com",
            CAA,
            vec![
                Ok(answer(ServFail, vec![])),
                Ok(answer(
                    NoError,
                    vec![caa("www.example.com.", 0, "issue", b"ca.example")],
                )),
            ],
        );
        let lookup = run(&network, "www.example.com");
        assert_eq!(
            failed(&lookup).failures,
            [
                QueryFailure::ServFail,
                QueryFailure::AnsweredWithoutValidation {
                    rcode: "NOERROR".into()
                }
            ]
        );
        assert_eq!(
            attempt_resolvers(&lookup),
            [
                (test_support::RESOLVER.to_owned(), false),
                (test_support::RESOLVER.to_owned(), true)
            ]
        );
        // SERVFAIL again with CD: a fresh failure, the domain's.
        let network = FakeNetwork::new().single_resolver().always(
            "www.example.com",
            CAA,
            Ok(answer(ServFail, vec![])),
        );
        assert_eq!(
            failed(&run(&network, "www.example.com")).failures,
            [QueryFailure::ServFail, QueryFailure::ServFail]
        );
    }

    /// Issue 15 item 7: RFC 8914 extended errors tell the domain's failure
    /// from the resolver's.
    #[test]
    fn extended_errors_tell_whose_failure_a_servfail_is() {
        let with_ede = |code: u16| {
            let mut failing = answer(ServFail, vec![]);
            failing.extended_errors = vec![
                ExtendedDnsError::from_option_data(&ExtendedDnsError::option_data(code, "why"))
                    .unwrap(),
            ];
            failing
        };
        for (code, domains) in [
            (22, true),
            (23, true),
            (6, true),
            (13, false),
            (18, false),
            (14, false),
            (0, false),
        ] {
            let network = FakeNetwork::new().always("example.com", CAA, Ok(with_ede(code)));
            let lookup = run(&network, "example.com");
            let failures = &failed(&lookup).failures;
            assert!(
                failures
                    .iter()
                    .all(|f| f.is_outside_ca_infrastructure() == domains),
                "EDE {code}: {failures:?}"
            );
            if !domains {
                assert!(
                    matches!(&failures[0], QueryFailure::ResolverFailure { extended_errors, .. } if extended_errors[0].info_code == code),
                    "{failures:?}"
                );
            }
            // The attempt carries the extended error for the report.
            let AttemptResult::Answer {
                extended_errors, ..
            } = &lookup.steps[0].attempts[0].result
            else {
                panic!("no answer")
            };
            assert_eq!(extended_errors[0].info_code, code);
        }
        // REFUSED is our resolver's, whatever it attaches.
        let network = FakeNetwork::new().always("example.com", CAA, Ok(answer(Refused, vec![])));
        assert!(
            failed(&run(&network, "example.com"))
                .failures
                .iter()
                .all(|f| !f.is_outside_ca_infrastructure())
        );
    }

    /// Counts the questions in flight: each answer waits one poll, so
    /// questions asked at once are all in flight together.
    struct InFlight {
        inner: FakeNetwork,
        /// (now, most)
        counts: std::sync::Arc<(AtomicUsize, AtomicUsize)>,
    }

    impl InFlight {
        fn most(&self) -> usize {
            self.counts.1.load(Ordering::SeqCst)
        }
    }

    /// Pending once, then ready.
    struct YieldOnce(bool);

    impl std::future::Future for YieldOnce {
        type Output = ();
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            context: &mut std::task::Context<'_>,
        ) -> std::task::Poll<()> {
            if self.0 {
                return std::task::Poll::Ready(());
            }
            self.0 = true;
            context.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }

    impl Network for InFlight {
        fn dns(
            &self,
            name: &str,
            rtype: RecordType,
        ) -> impl std::future::Future<Output = Result<DnsAnswer, DnsError>> + MaybeSend {
            let answer = self.inner.respond(name, rtype);
            let counts = std::sync::Arc::clone(&self.counts);
            async move {
                let now = counts.0.fetch_add(1, Ordering::SeqCst) + 1;
                counts.1.fetch_max(now, Ordering::SeqCst);
                YieldOnce(false).await;
                counts.0.fetch_sub(1, Ordering::SeqCst);
                answer
            }
        }
        fn dns_retry(
            &self,
            name: &str,
            rtype: RecordType,
            failed: &DnsAnswer,
        ) -> impl std::future::Future<Output = Result<DnsAnswer, DnsError>> + MaybeSend {
            self.inner.dns_retry(name, rtype, failed)
        }
        fn dnssec_self_test(
            &self,
        ) -> impl std::future::Future<Output = crate::dnssec_self_test::DnssecSelfTest> + MaybeSend
        {
            self.inner.dnssec_self_test()
        }
        fn http_get(
            &self,
            url: &url::Url,
            headers: &crate::network::RequestHeaders,
            limits: &crate::network::HttpLimits,
        ) -> impl std::future::Future<
            Output = Result<crate::network::HttpResponse, crate::network::HttpError>,
        > + MaybeSend {
            self.inner.http_get(url, headers, limits)
        }
    }

    fn in_flight(inner: FakeNetwork) -> InFlight {
        InFlight {
            inner,
            counts: std::sync::Arc::default(),
        }
    }

    /// Issue 16 item 1: a name with empty ancestors costs one resolver
    /// round trip: every name of the climb is in flight at once, and the
    /// result is the sequential climb's.
    #[test]
    fn the_names_of_the_climb_are_asked_at_once() {
        let network = in_flight(FakeNetwork::new().always(
            "example.com",
            CAA,
            Ok(answer(
                NoError,
                vec![caa("example.com.", 0, "issue", b"ca.example")],
            )),
        ));
        let climb = block_on(lookup(
            &network,
            &CaaTarget::parse("a.b.c.example.com").unwrap(),
        ));
        assert_eq!(network.most(), 5);
        assert_eq!(found_owner(&climb), Some("example.com"));
        assert_eq!(
            read(&climb),
            [
                "a.b.c.example.com",
                "b.c.example.com",
                "c.example.com",
                "example.com"
            ]
        );

        // A deep name is asked in batches of PARALLEL_NAMES.
        let deep = (0..11)
            .map(|i| format!("l{i}"))
            .collect::<Vec<_>>()
            .join(".");
        let network = in_flight(FakeNetwork::new());
        let climb = block_on(lookup(
            &network,
            &CaaTarget::parse(&format!("{deep}.example")).unwrap(),
        ));
        assert_eq!(network.most(), PARALLEL_NAMES);
        assert_eq!(climb.outcome, LookupOutcome::NotFound);
        assert_eq!(climb.steps.len(), 12);
        assert!(climb.unused.is_empty());
    }
}
