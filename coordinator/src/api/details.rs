//! A perspective's `details` in an Open MPIC response, read from the
//! observation in its verified report.
//!
//! | check | shape | from |
//! |---|---|---|
//! | CAA | `caa_record_present`, `found_at`, `records_seen`, `response` | the Relevant RRset |
//! | `acme-http-01`, `website-change` | `HTTPMethodCheckResponseDetails` | the HTTP exchange |
//! | `acme-tls-alpn-01` | `TLSALPNMethodCheckResponseDetails` | the certificate |
//! | every DNS method | `DNSMethodCheckResponseDetails` | the lookup whose records were judged |
//!
//! Each DCV shape also carries `validation_method`, as Open MPIC's do.
//! `response_page` is the base64 of the first 100 bytes of the final body.
//! `cname_chain` names are absolute (with the root dot), as Open MPIC's are.
//! Each `response_history` entry has the spec's `response_status_code` and
//! `response_url` (the URL that answered with the redirect) and the reference
//! server's `status_code` and `url` (where the redirect pointed), so that
//! clients written against either read it. CAA
//! `records_seen` is the list of records in presentation form (`0 issue
//! "ca.example"`); `response` is the same records as one newline-separated
//! string, for clients written against Open MPIC versions that named the
//! field so (it is not the base64 wire RRset those versions sent).
//!
//! Only a verified report is read. Without one (no answer, a report that did
//! not verify, a call cancelled) the shape comes back empty: `false`/`null`
//! fields, with `check_completed: false` beside them saying why nothing is
//! known.

use mpic_core::check::{CheckType, DcvCheckParameters, ValidationMethod};
use mpic_core::dcv::{DcvEvidence, DnsEvidence, DnsLookup, HttpEvidence};
use mpic_core::perspective::CheckObservation;
use mpic_core::report::ReportBody;
use serde::Serialize;

/// `details` of one perspective's check response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Details {
    Caa(CaaDetails),
    Http(HttpDetails),
    Dns(DnsDetails),
    TlsAlpn(TlsAlpnDetails),
}

/// CAA details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CaaDetails {
    pub caa_record_present: bool,
    /// Where the Relevant RRset was found.
    pub found_at: Option<String>,
    pub records_seen: Option<Vec<String>>,
    pub response: Option<String>,
}

/// One redirecting response (`response_history` entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedirectResponse {
    /// The spec's names: the status and the URL that answered with it.
    pub response_status_code: u16,
    pub response_url: String,
    /// The reference server's names: the status and where it pointed
    /// (its `Location`).
    pub status_code: u16,
    pub url: Option<String>,
}

/// `HTTPMethodCheckResponseDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpDetails {
    pub validation_method: ValidationMethod,
    pub response_history: Option<Vec<RedirectResponse>>,
    pub response_url: Option<String>,
    pub response_status_code: Option<u16>,
    /// The first 100 bytes of the final body, base64.
    pub response_page: Option<String>,
    /// The address the perspective connected to for the final response,
    /// as its signed report records it.
    pub resolved_ip: Option<String>,
}

/// `DNSMethodCheckResponseDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsDetails {
    pub validation_method: ValidationMethod,
    pub records_seen: Option<Vec<String>>,
    pub response_code: Option<u16>,
    pub ad_flag: Option<bool>,
    pub found_at: Option<String>,
    pub cname_chain: Option<Vec<String>>,
}

/// `TLSALPNMethodCheckResponseDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsAlpnDetails {
    pub validation_method: ValidationMethod,
    pub common_name: Option<String>,
}

/// Which `details` shape a DCV method reports.
fn empty_dcv(method: ValidationMethod) -> Details {
    match method {
        ValidationMethod::AcmeHttp01 | ValidationMethod::WebsiteChange => {
            Details::Http(HttpDetails {
                validation_method: method,
                response_history: None,
                response_url: None,
                response_status_code: None,
                response_page: None,
                resolved_ip: None,
            })
        }
        ValidationMethod::AcmeTlsAlpn01 => Details::TlsAlpn(TlsAlpnDetails {
            validation_method: method,
            common_name: None,
        }),
        _ => Details::Dns(DnsDetails {
            validation_method: method,
            records_seen: None,
            response_code: None,
            ad_flag: None,
            found_at: None,
            cname_chain: None,
        }),
    }
}

/// The details for a check of `check_type` (and `dcv`'s method), from the
/// verified report if there is one.
pub fn details(
    check_type: CheckType,
    dcv: Option<&DcvCheckParameters>,
    verified: Option<&ReportBody>,
) -> Details {
    let observed = verified.and_then(|body| body.observation.parse::<CheckObservation>().ok());
    match (check_type, dcv) {
        (CheckType::Dcv, Some(params)) => {
            let method = params.method();
            match observed {
                Some(CheckObservation::Dcv(observation))
                    if observation.validation_method == method =>
                {
                    dcv_details(method, &observation.evidence)
                }
                _ => empty_dcv(method),
            }
        }
        // A DCV check always has parameters; fall back to the CAA shape
        // rather than invent a method.
        _ => match observed {
            Some(CheckObservation::Caa(observation)) => {
                let rrset = observation.relevant_rrset;
                CaaDetails {
                    caa_record_present: rrset.is_some(),
                    found_at: rrset.as_ref().map(|r| r.owner.clone()),
                    response: rrset.as_ref().map(|r| r.records.join("\n")),
                    records_seen: rrset.map(|r| r.records),
                }
            }
            _ => CaaDetails::default(),
        }
        .into(),
    }
}

impl From<CaaDetails> for Details {
    fn from(details: CaaDetails) -> Self {
        Details::Caa(details)
    }
}

fn dcv_details(method: ValidationMethod, evidence: &DcvEvidence) -> Details {
    match (empty_dcv(method), evidence) {
        (Details::Http(_), DcvEvidence::Http(http)) => Details::Http(http_details(method, http)),
        (Details::Dns(_), DcvEvidence::Dns(dns)) => Details::Dns(dns_details(method, dns)),
        (Details::TlsAlpn(_), DcvEvidence::Certificate(certificate)) => {
            Details::TlsAlpn(TlsAlpnDetails {
                validation_method: method,
                common_name: certificate.common_name.clone(),
            })
        }
        (empty, _) => empty,
    }
}

fn http_details(method: ValidationMethod, http: &HttpEvidence) -> HttpDetails {
    HttpDetails {
        validation_method: method,
        response_history: Some(
            http.history
                .iter()
                .map(|hop| RedirectResponse {
                    response_status_code: hop.status,
                    response_url: hop.url.clone(),
                    status_code: hop.status,
                    url: hop.location.clone(),
                })
                .collect(),
        ),
        response_url: Some(http.final_url.clone()),
        response_status_code: http.final_status,
        response_page: http
            .final_status
            .is_some()
            .then(|| http.body_excerpt_base64.clone()),
        resolved_ip: http
            .contacted
            .as_ref()
            .map(|contacted| contacted.address.to_string()),
    }
}

/// The lookup whose records were judged: the one at `found_at`, else the
/// last one made.
fn judged_lookup(dns: &DnsEvidence) -> Option<&DnsLookup> {
    dns.found_at
        .as_deref()
        .and_then(|name| dns.lookups.iter().rev().find(|l| l.name == name))
        .or_else(|| dns.lookups.last())
}

fn dns_details(method: ValidationMethod, dns: &DnsEvidence) -> DnsDetails {
    let lookup = judged_lookup(dns);
    DnsDetails {
        validation_method: method,
        records_seen: lookup.map(|l| l.records_seen.clone()),
        response_code: lookup.and_then(|l| l.rcode),
        ad_flag: lookup.filter(|l| l.rcode.is_some()).map(|l| l.ad_flag),
        found_at: dns
            .found_at
            .clone()
            .or_else(|| lookup.map(|l| l.name.clone())),
        cname_chain: lookup.map(|l| l.cname_chain.iter().map(|name| absolute(name)).collect()),
    }
}

/// `name` with the root dot.
fn absolute(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

#[cfg(test)]
mod tests;
