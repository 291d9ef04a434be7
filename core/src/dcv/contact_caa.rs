//! `contact-email-caa` / `contact-phone-caa` (BR 3.2.2.4.13, 3.2.2.4.17):
//! the contact is a `contactemail` / `contactphone` property of the Relevant
//! RRset, found by the RFC 8659 section 3 climb.
//!
//! The climb here is deliberately separate from the CAA checker's: the
//! perspective reports which contacts it saw, and the only judgement is
//! whether the expected one is among them. Like the CAA checker's, it asks
//! the names at once ([`PARALLEL_NAMES`] at a time) and reads the answers
//! nearest first; the evidence lists every answer, needed or not, and
//! `found_at` says which name decided.

use futures_util::future::join_all;
use hickory_proto::rr::RecordType;

use super::dns_value::Contact;
use super::records::{self, caa_property};
use super::{DcvEvidence, DcvFailure, DcvObservation, DnsEvidence};
use crate::caa::lookup::PARALLEL_NAMES;
use crate::check::ContactParameters;
use crate::name::DomainName;
use crate::network::Network;

pub(super) async fn contact_caa<N: Network>(
    network: &N,
    domain: &DomainName,
    contact: Contact,
    parameters: &ContactParameters,
) -> DcvObservation {
    let method = contact.method(true);
    if let Some(unusable) = contact.unusable(&parameters.challenge_value) {
        return DcvObservation::unusable(method, unusable);
    }
    let tag = contact.caa_tag();
    let names: Vec<DomainName> =
        std::iter::successors(Some(domain.clone()), DomainName::parent).collect();
    let mut lookups = Vec::new();
    for batch in names.chunks(PARALLEL_NAMES) {
        let answers = join_all(
            batch
                .iter()
                .map(|name| records::lookup(network, name.as_str(), RecordType::CAA)),
        )
        .await;
        // Every answer goes into the evidence; they are read nearest first,
        // and the first that is not empty (or fails) decides.
        let mut decided = None;
        for (name, answer) in batch.iter().zip(answers) {
            lookups.push(answer.evidence);
            if decided.is_some() {
                continue;
            }
            let found = match answer.records {
                // Any other failure stops the climb: a parent's records are
                // not relevant when this name's could not be read.
                Err(failure) => {
                    decided = Some((None, Some(failure)));
                    continue;
                }
                Ok(found) => found,
            };
            let properties: Vec<_> = found.iter().filter_map(|r| caa_property(&r.data)).collect();
            if properties.is_empty() {
                // NXDOMAIN or NODATA: climb (up to the TLD, never the root).
                continue;
            }
            let found_at = name.as_str().to_owned();
            let contacts: Vec<&[u8]> = properties
                .iter()
                .filter(|p| p.tag.eq_ignore_ascii_case(tag.as_bytes()))
                .map(|p| p.value.as_slice())
                .collect();
            let failure = if contacts.is_empty() {
                Some(DcvFailure::NoContactInCaa {
                    found_at: found_at.clone(),
                    tag: tag.to_owned(),
                })
            } else if contacts
                .iter()
                .any(|value| contact.matches(&parameters.challenge_value, value))
            {
                None
            } else {
                Some(DcvFailure::ValueNotFound {
                    name: found_at.clone(),
                })
            };
            decided = Some((Some(found_at), failure));
        }
        if let Some((found_at, failure)) = decided {
            return finish(method, lookups, found_at, failure);
        }
    }
    finish(
        method,
        lookups,
        None,
        Some(DcvFailure::NoRelevantCaaRecords {
            name: domain.as_str().to_owned(),
        }),
    )
}

fn finish(
    method: crate::check::ValidationMethod,
    lookups: Vec<super::DnsLookup>,
    found_at: Option<String>,
    failure: Option<DcvFailure>,
) -> DcvObservation {
    DcvObservation::new(
        method,
        DcvEvidence::Dns(DnsEvidence { lookups, found_at }),
        failure,
    )
}
