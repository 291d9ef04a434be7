//! Does a resolver validate DNSSEC? Ask it about a name whose signatures are
//! known to be broken and about one known to be signed.
//!
//! The lookup-failure rule of BR 3.2.2.8 and every AD bit we read are only
//! as good as the resolver: a resolver that does not validate answers
//! "AD=0" for everything, and a lookup failure would then always look like
//! one in an unsigned zone. So before a failure may count as permission, the
//! perspective's resolvers must each pass this test:
//!
//! - `bogus A` is SERVFAIL (a validating resolver refuses the bogus data);
//! - `signed A` is NOERROR with AD=1 (it validated the signed data).
//!
//! The names are configuration ([`DnssecTestNames`]); the defaults exist on
//! the real Internet. A resolver that fails, or does not answer, fails the
//! test: that is shown wherever the test runs (`GET /v1/identity`,
//! `mpic perspectives`, the primary's start-up), and while it fails the
//! perspective's lookup failures are never permission.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde::{Deserialize, Serialize};

use crate::caa::lookup::rcode_name;
use crate::network::{DnsAnswer, DnsError};

/// Default known-bogus name: its zone's DNSSEC signatures are deliberately
/// broken, so every validating resolver answers SERVFAIL.
pub const DEFAULT_BOGUS_NAME: &str = "dnssec-failed.org";

/// Default known-signed name: a zone signed since DNSSEC's early days.
pub const DEFAULT_SIGNED_NAME: &str = "isc.org";

/// The record type both names are asked for.
pub const PROBE_TYPE: RecordType = RecordType::A;

/// The two names of the test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnssecTestNames {
    /// A validating resolver must answer SERVFAIL for it.
    pub bogus: String,
    /// A validating resolver must answer it with AD=1.
    pub signed: String,
}

impl Default for DnssecTestNames {
    fn default() -> Self {
        Self {
            bogus: DEFAULT_BOGUS_NAME.into(),
            signed: DEFAULT_SIGNED_NAME.into(),
        }
    }
}

/// The test's result for every resolver of one perspective.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnssecSelfTest {
    /// The bogus and signed names that were asked.
    pub names: DnssecTestNames,
    /// One result per resolver, in the perspective's order; empty when the
    /// network has no resolver to test (which fails the test).
    pub resolvers: Vec<ResolverSelfTest>,
}

impl DnssecSelfTest {
    /// The result for a network that has no resolver to test (a fake that
    /// answers from a table): it fails, so such a network's lookup failures
    /// are never permission.
    pub fn without_resolvers() -> Self {
        Self {
            names: DnssecTestNames::default(),
            resolvers: Vec::new(),
        }
    }

    /// Whether every resolver passed (and there is at least one).
    pub fn passed(&self) -> bool {
        !self.resolvers.is_empty() && self.resolvers.iter().all(|r| r.failure.is_none())
    }

    /// One line for logs and tables: `passed` or what failed, per resolver.
    pub fn summary(&self) -> String {
        if self.resolvers.is_empty() {
            return "failed: no resolver to test".into();
        }
        if self.passed() {
            return "passed".into();
        }
        let failed: Vec<String> = self
            .resolvers
            .iter()
            .filter_map(|r| r.failure.as_ref().map(|f| format!("{}: {f}", r.resolver)))
            .collect();
        format!("failed: {}", failed.join("; "))
    }
}

/// One resolver's answers and whether they show it validates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolverSelfTest {
    /// The resolver tested (its DoH URL).
    pub resolver: String,
    /// What it answered for the known-bogus name (must be SERVFAIL).
    pub bogus: ProbeAnswer,
    /// What it answered for the known-signed name (must be NOERROR, AD=1).
    pub signed: ProbeAnswer,
    /// `None` when the resolver passed.
    pub failure: Option<SelfTestFailure>,
}

/// What one probe question got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProbeAnswer {
    /// The resolver answered (any rcode).
    Answer {
        /// The rcode mnemonic (`NOERROR`, `SERVFAIL`, ...).
        rcode: String,
        /// The AD flag: the resolver says it validated the answer.
        authentic_data: bool,
    },
    /// No usable DNS response arrived.
    NoResponse {
        /// Why (transport, HTTP status, timeout, unparsable response).
        error: DnsError,
    },
}

/// Why a resolver failed the test.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SelfTestFailure {
    /// The known-bogus name was answered with an rcode other than SERVFAIL:
    /// the resolver passed on data whose signatures are broken.
    #[error(
        "answered the known-bogus name {name} with {rcode}, not SERVFAIL: it does not validate"
    )]
    BogusAccepted {
        /// The known-bogus name asked.
        name: String,
        /// The rcode it got instead of SERVFAIL (e.g. `NOERROR`).
        rcode: String,
    },
    /// The known-signed name was not answered NOERROR with AD=1: the
    /// resolver did not validate data that is correctly signed.
    #[error(
        "answered the known-signed name {name} with {rcode} and AD={ad}, not NOERROR with AD=1: \
         it does not validate"
    )]
    SignedNotAuthenticated {
        /// The known-signed name asked.
        name: String,
        /// The rcode it got.
        rcode: String,
        /// The AD flag it got, 0 or 1.
        ad: u8,
    },
    /// No usable response to one of the probes (the bogus one is judged
    /// first).
    #[error("did not answer {name}: {error}")]
    NoResponse {
        /// The probe name that got no answer.
        name: String,
        /// Why (transport, HTTP status, timeout, unparsable response).
        error: DnsError,
    },
}

/// Judges one resolver's answers to the two probes.
pub fn judge(
    resolver: &str,
    names: &DnssecTestNames,
    bogus: Result<DnsAnswer, DnsError>,
    signed: Result<DnsAnswer, DnsError>,
) -> ResolverSelfTest {
    let failure = match (&bogus, &signed) {
        (Err(error), _) => Some(SelfTestFailure::NoResponse {
            name: names.bogus.clone(),
            error: error.clone(),
        }),
        (_, Err(error)) => Some(SelfTestFailure::NoResponse {
            name: names.signed.clone(),
            error: error.clone(),
        }),
        (Ok(bogus), _) if bogus.rcode != ResponseCode::ServFail => {
            Some(SelfTestFailure::BogusAccepted {
                name: names.bogus.clone(),
                rcode: rcode_name(bogus.rcode),
            })
        }
        (_, Ok(signed)) if signed.rcode != ResponseCode::NoError || !signed.authentic_data => {
            Some(SelfTestFailure::SignedNotAuthenticated {
                name: names.signed.clone(),
                rcode: rcode_name(signed.rcode),
                ad: u8::from(signed.authentic_data),
            })
        }
        _ => None,
    };
    ResolverSelfTest {
        resolver: resolver.to_owned(),
        bogus: probe_answer(&bogus),
        signed: probe_answer(&signed),
        failure,
    }
}

fn probe_answer(answer: &Result<DnsAnswer, DnsError>) -> ProbeAnswer {
    match answer {
        Ok(answer) => ProbeAnswer::Answer {
            rcode: rcode_name(answer.rcode),
            authentic_data: answer.authentic_data,
        },
        Err(error) => ProbeAnswer::NoResponse {
            error: error.clone(),
        },
    }
}

#[cfg(test)]
mod tests;
