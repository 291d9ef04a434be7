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
    /// Not recorded yet: the Workers `fetch()` a perspective uses does not
    /// say which address it reached.
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
        resolved_ip: None,
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
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use mpic_core::caa::{CaaObservation, CaaOutcome, PermitReason};
    use mpic_core::caa::{CertificateType, RrsetReport};
    use mpic_core::check::CheckRequest;
    use mpic_core::dcv::{CertificateEvidence, DcvObservation};
    use mpic_core::nonce::Nonce;
    use mpic_core::redirect::RedirectHop;
    use mpic_core::report::{Location, Observation, Verdict};
    use mpic_core::rir::Rir;
    use serde_json::{Value, json};

    use super::*;

    fn body(observation: &CheckObservation) -> ReportBody {
        ReportBody {
            request_digest: [0; 32],
            nonce: Nonce::new(vec![1; 16]).unwrap(),
            perspective_id: "fra".into(),
            rir: Rir::RipeNcc,
            location: Location {
                region: "FRA".into(),
                coordinates: None,
            },
            resolvers: Vec::new(),
            started_at_ms: 1,
            finished_at_ms: 2,
            verdict: Verdict::Pass,
            reason: String::new(),
            observation: Observation::from_value(observation).unwrap(),
        }
    }

    fn caa_observation(records: Option<&[&str]>) -> CheckObservation {
        CheckObservation::Caa(CaaObservation {
            domain: "www.example.com".into(),
            lookup_name: "www.example.com".into(),
            wildcard: false,
            certificate_type: CertificateType::TlsServer,
            outcome: CaaOutcome::Permitted {
                reason: PermitReason::NoCaaRecords,
            },
            relevant_rrset: records.map(|records| RrsetReport {
                owner: "example.com".into(),
                records: records.iter().map(|r| (*r).to_owned()).collect(),
                cname_chain: Vec::new(),
                authentic_data: false,
                rcode: "NOERROR".into(),
                resolver: "https://doh.example/dns-query".into(),
            }),
            steps: Vec::new(),
            unused: Vec::new(),
        })
    }

    fn dcv_params(json: Value) -> DcvCheckParameters {
        let request = CheckRequest::from_value(&json!({
            "check_type": "dcv",
            "domain_or_ip_target": "example.com",
            "dcv_check_parameters": json,
        }))
        .unwrap();
        match request.parameters {
            mpic_core::check::CheckParameters::Dcv(p) => p,
            mpic_core::check::CheckParameters::Caa(_) => panic!("not dcv"),
        }
    }

    fn to_json(details: &Details) -> Value {
        serde_json::to_value(details).unwrap()
    }

    #[test]
    fn caa_details_come_from_the_relevant_rrset() {
        let records = ["0 issue \"ca.example\"", "0 iodef \"mailto:x@example.com\""];
        let found = body(&caa_observation(Some(&records)));
        assert_eq!(
            to_json(&details(CheckType::Caa, None, Some(&found))),
            json!({
                "caa_record_present": true,
                "found_at": "example.com",
                "records_seen": records,
                "response": records.join("\n"),
            })
        );
        let none = body(&caa_observation(None));
        let empty = json!({
            "caa_record_present": false,
            "found_at": null,
            "records_seen": null,
            "response": null,
        });
        assert_eq!(to_json(&details(CheckType::Caa, None, Some(&none))), empty);
        // No verified report, or an observation of another kind: nothing known.
        assert_eq!(to_json(&details(CheckType::Caa, None, None)), empty);
        let not_run = body(&CheckObservation::NotRun {
            reason: "no issuers".into(),
        });
        assert_eq!(
            to_json(&details(CheckType::Caa, None, Some(&not_run))),
            empty
        );
    }

    #[test]
    fn http_details_come_from_the_exchange() {
        let params = dcv_params(json!({
            "validation_method": "acme-http-01",
            "token": "tok",
            "key_authorization": "tok.thumb",
        }));
        let observation = CheckObservation::Dcv(DcvObservation {
            validation_method: ValidationMethod::AcmeHttp01,
            passed: true,
            failure: None,
            evidence: DcvEvidence::Http(HttpEvidence {
                url: "http://example.com/.well-known/acme-challenge/tok".into(),
                history: vec![RedirectHop {
                    url: "http://example.com/.well-known/acme-challenge/tok".into(),
                    status: 301,
                    location: Some("https://example.com/.well-known/acme-challenge/tok".into()),
                }],
                final_url: "https://example.com/.well-known/acme-challenge/tok".into(),
                final_status: Some(200),
                content_type: Some("text/plain".into()),
                body_excerpt: "tok.thumb".into(),
                body_excerpt_base64: "dG9rLnRodW1i".into(),
                body_length: 9,
                body_truncated: false,
            }),
        });
        assert_eq!(
            to_json(&details(
                CheckType::Dcv,
                Some(&params),
                Some(&body(&observation))
            )),
            json!({
                "validation_method": "acme-http-01",
                "response_history": [{
                    "response_status_code": 301,
                    "response_url": "http://example.com/.well-known/acme-challenge/tok",
                    "status_code": 301,
                    "url": "https://example.com/.well-known/acme-challenge/tok",
                }],
                "response_url": "https://example.com/.well-known/acme-challenge/tok",
                "response_status_code": 200,
                "response_page": "dG9rLnRodW1i",
                "resolved_ip": null,
            })
        );
        // Unverified: the same shape, empty.
        assert_eq!(
            to_json(&details(CheckType::Dcv, Some(&params), None)),
            json!({
                "validation_method": "acme-http-01",
                "response_history": null,
                "response_url": null,
                "response_status_code": null,
                "response_page": null,
                "resolved_ip": null,
            })
        );
    }

    #[test]
    fn dns_details_come_from_the_judged_lookup() {
        let params = dcv_params(json!({
            "validation_method": "dns-change",
            "challenge_value": "abc",
            "dns_record_type": "TXT",
        }));
        let lookup = |name: &str, records: &[&str]| DnsLookup {
            name: name.into(),
            record_type: "TXT".into(),
            rcode: Some(0),
            records_seen: records.iter().map(|r| (*r).to_owned()).collect(),
            cname_chain: vec!["alias.example.net".into()],
            ad_flag: true,
            resolver: "https://doh.example/dns-query".into(),
            error: None,
        };
        let observation = CheckObservation::Dcv(DcvObservation {
            validation_method: ValidationMethod::DnsChange,
            passed: true,
            failure: None,
            evidence: DcvEvidence::Dns(DnsEvidence {
                lookups: vec![
                    lookup("example.com", &["abc"]),
                    lookup("other.example", &[]),
                ],
                found_at: Some("example.com".into()),
            }),
        });
        assert_eq!(
            to_json(&details(
                CheckType::Dcv,
                Some(&params),
                Some(&body(&observation))
            )),
            json!({
                "validation_method": "dns-change",
                "records_seen": ["abc"],
                "response_code": 0,
                "ad_flag": true,
                "found_at": "example.com",
                "cname_chain": ["alias.example.net."],
            })
        );
    }

    #[test]
    fn tls_alpn_details_name_the_certificate() {
        let params = dcv_params(json!({
            "validation_method": "acme-tls-alpn-01",
            "key_authorization_hash": "00".repeat(32),
        }));
        let observation = CheckObservation::Dcv(DcvObservation {
            validation_method: ValidationMethod::AcmeTlsAlpn01,
            passed: true,
            failure: None,
            evidence: DcvEvidence::Certificate(CertificateEvidence {
                common_name: Some("example.com".into()),
                subject_alt_names: vec!["dns:example.com".into()],
                acme_identifier_critical: Some(true),
            }),
        });
        assert_eq!(
            to_json(&details(
                CheckType::Dcv,
                Some(&params),
                Some(&body(&observation))
            )),
            json!({"validation_method": "acme-tls-alpn-01", "common_name": "example.com"})
        );
    }

    #[test]
    fn an_observation_for_another_method_is_not_believed() {
        let params = dcv_params(json!({
            "validation_method": "acme-dns-01",
            "key_authorization": "tok.thumb",
        }));
        let other = CheckObservation::Dcv(DcvObservation {
            validation_method: ValidationMethod::DnsChange,
            passed: true,
            failure: None,
            evidence: DcvEvidence::Dns(DnsEvidence {
                lookups: Vec::new(),
                found_at: Some("example.com".into()),
            }),
        });
        let shown = to_json(&details(CheckType::Dcv, Some(&params), Some(&body(&other))));
        assert_eq!(shown["validation_method"], "acme-dns-01");
        assert_eq!(shown["found_at"], Value::Null);
    }
}
