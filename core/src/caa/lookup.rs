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
    /// The name the question was about, as asked (e.g. `example.com`).
    pub name: String,
    /// The record type asked for (`CAA`, `DS`, `NS`).
    pub rtype: String,
    /// The resolver's answer, or why none was usable.
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
        /// Aliases (CNAME/DNAME targets) the resolver followed, in order.
        cname_chain: Vec<String>,
        /// The resolver that answered (its DoH URL).
        resolver: String,
        /// Asked with the CD bit (a retry at the same resolver).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        checking_disabled: bool,
        /// RFC 8914 extended errors the resolver attached.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        extended_errors: Vec<ExtendedDnsError>,
    },
    /// No usable DNS response arrived.
    NoResponse {
        /// Why (transport, HTTP status, timeout, unparsable response).
        error: DnsError,
    },
}

/// Why one CAA query did not give a usable RRset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QueryFailure {
    /// SERVFAIL without an extended error that blames the resolver: the
    /// domain's failure (the only failure outside the CA's infrastructure).
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
        /// The rcode mnemonic (`SERVFAIL`).
        rcode: String,
        /// The RFC 8914 extended errors the resolver attached.
        extended_errors: Vec<ExtendedDnsError>,
    },
    /// The retry with checking disabled got an answer where the validated
    /// question failed: the failure was a DNSSEC validation failure or did
    /// not last. The unvalidated answer is never used.
    #[error(
        "asked again with DNSSEC checking disabled, the resolver answered {rcode}: the failure \
         was a validation failure or did not persist, and unvalidated data is never used"
    )]
    AnsweredWithoutValidation {
        /// The rcode of the CD answer (`NOERROR` or `NXDOMAIN`).
        rcode: String,
    },
    /// An rcode other than NOERROR, NXDOMAIN, SERVFAIL or REFUSED (e.g.
    /// `FORMERR`, `NOTIMP`).
    #[error("the resolver answered {rcode}")]
    OtherRcode {
        /// The rcode mnemonic.
        rcode: String,
    },
    /// No usable response from our resolver: the CA's infrastructure.
    #[error("no usable DNS response: {error}")]
    NoResponse {
        /// Why (transport, HTTP status, timeout, unparsable response).
        error: DnsError,
    },
    /// The answer held a CAA record whose RDATA cannot be read as (flags,
    /// tag, value).
    #[error("a CAA record cannot be decoded: {error}")]
    UndecodableRecord {
        /// What is wrong with the record.
        error: PropertyDecodeError,
    },
    /// An NXDOMAIN answer that nevertheless carried CAA records: an
    /// inconsistent answer, never read as "no records".
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
    /// The name asked at this step: the original name or an ancestor.
    pub name: String,
    /// One attempt, or two when the first failed.
    pub attempts: Vec<QueryAttempt>,
    /// Found, empty (NODATA / NXDOMAIN), or failed.
    pub result: StepResult,
}

/// What a step concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepResult {
    /// A non-empty CAA RRset: the climb stops here.
    Found {
        /// How many CAA records the RRset holds.
        records: usize,
    },
    /// NOERROR without CAA records: climb on.
    NoData,
    /// NXDOMAIN: climb on.
    NxDomain,
    /// Every attempt failed: the climb stops with a lookup failure.
    Failed {
        /// The last attempt's failure (every attempt's is in
        /// [`LookupFailure::failures`]).
        failure: QueryFailure,
    },
}

/// The Relevant RRset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelevantRrset {
    /// The name queried (the original name or an ancestor), not an alias
    /// target.
    pub owner: String,
    /// The CAA properties, in the order the resolver returned them.
    pub properties: Vec<Property>,
    /// Aliases (CNAME/DNAME targets) the resolver followed from `owner`, in
    /// order.
    pub cname_chain: Vec<String>,
    /// The AD flag: the resolver validated the answer with DNSSEC.
    pub authentic_data: bool,
    /// The answer's rcode mnemonic (`NOERROR`).
    pub rcode: String,
    /// The resolver that answered (its DoH URL).
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
    /// A name of the climb held a non-empty CAA RRset: the Relevant RRset.
    Found(RelevantRrset),
    /// Every name up to the TLD was empty: no CAA restriction.
    NotFound,
    /// A name's lookup failed on every attempt before any RRset was found.
    Failed(LookupFailure),
}

/// The climb: every step, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// Every name the climb read, nearest first, up to where it ended.
    pub steps: Vec<LookupStep>,
    /// How the climb ended.
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
mod tests;
